//! The second factor: sign-in challenges, TOTP enrolment and confirmation,
//! codes accepted once, recovery codes, and the suspicion that repeated
//! failures raise.

use chrono::Utc;
use rampart_kit::ids::UserId;
use rampart_kit::principal::{Principal, Role};
use rampart_kit::revocation::Revocation;
use rampart_kit::secret::{OneTimeCode, RecoveryCode, SecretString, SessionToken, TotpSecret};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
};

use crate::domain::sessions::RevokeReason;
use crate::entity::{challenge, recovery_code, user};
use crate::error::Error;
use crate::throttle::{Reservation, ThrottlePolicy};
use crate::tokens::{CHALLENGE_PREFIX, is_well_formed};
use crate::totp::{self, TotpKey};

use super::model::{SecondFactorOutcome, SecondFactorProof, TotpEnrolment};
use super::service::{Accounts, role_of};
use super::store::{UserStore, user_id_of};

/// The issuer shown in authenticator apps.
const TOTP_ISSUER: &str = "Rampart";
/// Consecutive failed second-factor codes that count as an attack on the
/// account: every session of the user ends.
pub const SUSPICIOUS_SECOND_FACTOR_FAILURES: u32 = 5;
/// A signed-in user's wrong or reused enrolment code: their input is wrong,
/// not their session.
const WRONG_ENROLMENT_CODE: &str =
    "code is wrong or was already used: enter the current code from the authenticator app";

impl Accounts {
    /// The challenge's user, when the challenge is unused and unexpired.
    pub(super) async fn challenged_user(
        &self,
        challenge_token: &SessionToken,
    ) -> Result<(String, user::Model), Error> {
        let challenge_token = challenge_token.expose();
        if !is_well_formed(challenge_token, CHALLENGE_PREFIX) {
            return Err(Error::InvalidChallenge);
        }
        let found = challenge::Entity::find()
            .filter(challenge::Column::TokenHash.eq(self.session_hasher.hash(challenge_token)))
            .filter(challenge::Column::UsedAt.is_null())
            .filter(challenge::Column::ExpiresAt.gt(Utc::now()))
            .one(&self.db)
            .await?
            .ok_or(Error::InvalidChallenge)?;
        let user_id = UserId::parse(&found.user_id).map_err(|_| Error::InvalidChallenge)?;
        // The challenge row (written by this service when the password was
        // right) names the account, whichever scope it lives in.
        let row = UserStore::for_platform(&self.db)
            .find(&user_id)
            .await?
            .filter(|row| row.disabled_at.is_none())
            .ok_or(Error::InvalidChallenge)?;
        Ok((found.id, row))
    }

    /// For a user who must have a second factor and has none confirmed:
    /// a new secret, shown once, to confirm with the challenge.
    pub async fn enrol_for_challenge(
        &self,
        challenge_token: &SessionToken,
    ) -> Result<TotpEnrolment, Error> {
        let (_, row) = self.challenged_user(challenge_token).await?;
        if row.totp_confirmed || role_of(&row)? == Role::Admin {
            return Err(Error::AlreadyExists(
                "this account already has a second factor".to_owned(),
            ));
        }
        self.store_new_secret(&row).await
    }

    pub(super) async fn store_new_secret(&self, row: &user::Model) -> Result<TotpEnrolment, Error> {
        let secret = TotpKey::generate();
        let sealed = self.sealer.seal(&secret, &row.id)?;
        user::Entity::update_many()
            .col_expr(user::Column::TotpSecret, Expr::value(sealed))
            .col_expr(user::Column::TotpConfirmed, Expr::value(false))
            .filter(user::Column::Id.eq(&row.id))
            .exec(&self.db)
            .await?;
        Ok(TotpEnrolment {
            secret: TotpSecret::new(secret.base32()),
            provisioning_uri: SecretString::from(secret.provisioning_uri(TOTP_ISSUER, &row.email)),
        })
    }

    /// Accepts `code` for `row` once: the matched step must be later than
    /// the last accepted one, and recording it is atomic, so a replayed
    /// code (or the same code sent twice in parallel) loses.
    pub(super) async fn accept_code(
        &self,
        row: &user::Model,
        code: &OneTimeCode,
    ) -> Result<bool, Error> {
        let Some(sealed) = &row.totp_secret else {
            return Ok(false);
        };
        let secret = self.sealer.open(sealed, &row.id)?;
        let Some(step) = totp::matching_step(&secret, code.expose().trim(), Utc::now().timestamp())
        else {
            return Ok(false);
        };
        let updated = user::Entity::update_many()
            .col_expr(user::Column::TotpLastStep, Expr::value(step))
            .filter(user::Column::Id.eq(&row.id))
            .filter(
                user::Column::TotpLastStep
                    .is_null()
                    .or(user::Column::TotpLastStep.lt(step)),
            )
            .exec(&self.db)
            .await?;
        Ok(updated.rows_affected == 1)
    }

    /// Spends one of the user's recovery codes, if `code` is one.
    pub(super) async fn spend_recovery_code(
        &self,
        user_id: &str,
        code: &RecoveryCode,
    ) -> Result<bool, Error> {
        let hash = self
            .code_hasher
            .hash(&totp::fold_recovery_code(code.expose()));
        let spent = recovery_code::Entity::update_many()
            .col_expr(recovery_code::Column::UsedAt, Expr::value(Utc::now()))
            .filter(recovery_code::Column::UserId.eq(user_id))
            .filter(recovery_code::Column::CodeHash.eq(hash))
            .filter(recovery_code::Column::UsedAt.is_null())
            .exec(&self.db)
            .await?;
        Ok(spent.rows_affected == 1)
    }

    /// Replaces the user's recovery codes; the new ones are returned once.
    pub(super) async fn new_recovery_codes(
        &self,
        tx: &impl ConnectionTrait,
        user_id: &str,
    ) -> Result<Vec<RecoveryCode>, Error> {
        recovery_code::Entity::delete_many()
            .filter(recovery_code::Column::UserId.eq(user_id))
            .exec(tx)
            .await?;
        let codes = totp::generate_recovery_codes();
        for code in &codes {
            recovery_code::ActiveModel {
                id: Set(uuid::Uuid::now_v7().simple().to_string()),
                user_id: Set(user_id.to_owned()),
                code_hash: Set(self.code_hasher.hash(code)),
                used_at: Set(None),
            }
            .insert(tx)
            .await?;
        }
        Ok(codes.into_iter().map(RecoveryCode::new).collect())
    }

    /// The second step: a code or a recovery code for a challenge.
    pub async fn complete_second_factor(
        &self,
        challenge_token: &SessionToken,
        proof: SecondFactorProof<'_>,
        client_address: &str,
        request_id: &str,
    ) -> Result<SecondFactorOutcome, Error> {
        let (challenge_id, row) = self.challenged_user(challenge_token).await?;
        let tenant = row.tenant_id.clone();
        let target = format!("user:{}", row.id);
        let event = |action: &str, outcome: &str| {
            let mut record = Self::anonymous_record(
                tenant.as_deref(),
                action,
                target.clone(),
                request_id,
                client_address,
            );
            record.actor = target.clone();
            record.outcome = outcome.to_owned();
            record
        };
        let bucket = format!("totp:{}", row.id);
        let attempt = match self
            .throttle
            .reserve(&bucket, ThrottlePolicy::SECOND_FACTOR, Self::now_ms())
            .await?
        {
            Reservation::Granted(n) => n,
            Reservation::Locked => {
                self.outbox
                    .record(&self.db, [event("user.second_factor", "failure")])
                    .await?;
                return Err(Error::Throttled);
            }
        };
        let (accepted, used_recovery) = match proof {
            SecondFactorProof::Code(code) => (self.accept_code(&row, code).await?, false),
            SecondFactorProof::RecoveryCode(code) => {
                let confirmed = row.totp_confirmed;
                (
                    confirmed && self.spend_recovery_code(&row.id, code).await?,
                    true,
                )
            }
        };
        if !accepted {
            let mut records = vec![event("user.second_factor", "failure")];
            if attempt >= SUSPICIOUS_SECOND_FACTOR_FAILURES {
                // Someone holds the password and is guessing codes.
                let mut change = self.outbox.begin(&self.db).await?;
                challenge::Entity::update_many()
                    .col_expr(challenge::Column::UsedAt, Expr::value(Utc::now()))
                    .filter(challenge::Column::UserId.eq(&row.id))
                    .exec(change.tx())
                    .await?;
                let revoked = Self::revoke_all_in(
                    change.tx(),
                    &user_id_of(&row)?,
                    RevokeReason::Suspicious,
                    None,
                )
                .await?;
                let mut suspicious = event("session.suspicious_activity", "success");
                suspicious.target = format!("{target}:second_factor_failures");
                records.push(suspicious);
                for record in records {
                    change.audit(record);
                }
                change.announce(Revocation::Subject(String::from(&row.id)));
                change.commit().await?;
                tracing::warn!(
                    user_id = %row.id,
                    failures = attempt,
                    revoked = revoked.len(),
                    "repeated second-factor failures: all sessions revoked"
                );
            } else {
                self.outbox.record(&self.db, records).await?;
            }
            return Err(Error::InvalidCode);
        }
        self.throttle.clear(&bucket).await?;

        // The challenge is spent exactly once, even under parallel use.
        let spent = challenge::Entity::update_many()
            .col_expr(challenge::Column::UsedAt, Expr::value(Utc::now()))
            .filter(challenge::Column::Id.eq(&challenge_id))
            .filter(challenge::Column::UsedAt.is_null())
            .exec(&self.db)
            .await?;
        if spent.rows_affected != 1 {
            return Err(Error::InvalidChallenge);
        }
        let mut records = vec![event("user.second_factor", "success")];
        if used_recovery {
            records.push(event("user.recovery_code_used", "success"));
        }
        let mut recovery_codes = Vec::new();
        if !row.totp_confirmed {
            let mut change = self.outbox.begin(&self.db).await?;
            user::Entity::update_many()
                .col_expr(user::Column::TotpConfirmed, Expr::value(true))
                .filter(user::Column::Id.eq(&row.id))
                .exec(change.tx())
                .await?;
            recovery_codes = self.new_recovery_codes(change.tx(), &row.id).await?;
            let enrolled = event("user.totp_enrolled", "success");
            change.audit(enrolled);
            change.commit().await?;
        }
        records.push(event("user.sign_in", "success"));
        let session = self.start_session(&row, client_address, records).await?;
        Ok(SecondFactorOutcome {
            session,
            recovery_codes,
        })
    }

    /// Starts TOTP enrolment for the signed-in user.
    pub async fn begin_totp(&self, principal: &Principal) -> Result<TotpEnrolment, Error> {
        let row = self.own_account(principal).await?;
        if row.totp_confirmed {
            return Err(Error::AlreadyExists(
                "a second factor is already set up".to_owned(),
            ));
        }
        self.store_new_secret(&row).await
    }

    /// Confirms enrolment with a first code; returns the recovery codes.
    pub async fn confirm_totp(
        &self,
        principal: &Principal,
        code: &OneTimeCode,
    ) -> Result<Vec<RecoveryCode>, Error> {
        let row = self.own_account(principal).await?;
        if row.totp_confirmed {
            return Err(Error::AlreadyExists(
                "a second factor is already set up".to_owned(),
            ));
        }
        if row.totp_secret.is_none() {
            return Err(Error::InvalidArgument(
                "start enrolment first (POST /v1/auth/totp/enrol)".to_owned(),
            ));
        }
        let bucket = format!("totp:{}", row.id);
        if self
            .throttle
            .reserve(&bucket, ThrottlePolicy::SECOND_FACTOR, Self::now_ms())
            .await?
            == Reservation::Locked
        {
            return Err(Error::Throttled);
        }
        if !self.accept_code(&row, code).await? {
            // The session is fine: a 401 would read as "signed out".
            return Err(Error::InvalidArgument(WRONG_ENROLMENT_CODE.to_owned()));
        }
        self.throttle.clear(&bucket).await?;
        let mut change = self.outbox.begin(&self.db).await?;
        user::Entity::update_many()
            .col_expr(user::Column::TotpConfirmed, Expr::value(true))
            .filter(user::Column::Id.eq(&row.id))
            .exec(change.tx())
            .await?;
        let codes = self.new_recovery_codes(change.tx(), &row.id).await?;
        let record = Self::record(
            Some(principal),
            row.tenant_id.as_deref(),
            "user.totp_enrolled",
            format!("user:{}", row.id),
            &principal.request_id,
        );
        change.audit(record);
        change.commit().await?;
        Ok(codes)
    }
}
