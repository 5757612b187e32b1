//! Signing in, the first step: reserving an attempt in the account's and
//! the address's throttle buckets before the password is checked, one
//! Argon2id run with or without a user, one answer for every refusal, and
//! then a session or a second-factor challenge.

use std::time::Duration;

use chrono::Utc;
use rampart_kit::ids::{SessionId, TenantId};
use rampart_kit::outbox::AuditRecord;
use rampart_kit::principal::Role;
use sea_orm::{ActiveModelTrait, ActiveValue::Set};

use crate::domain::users::{Email, Scope};
use crate::entity::{challenge, session, user};
use crate::error::Error;
use crate::throttle::{Reservation, ThrottlePolicy};
use crate::tokens::{CHALLENGE_PREFIX, SESSION_PREFIX, generate_token};

use super::model::{Route, SessionGrant, SignInAttempt, SignInOutcome};
use super::service::{Accounts, account_bucket, role_of, to_std};
use super::store::{UserStore, user_id_of};

/// How long a password step stays good for its second factor.
const CHALLENGE_TTL: Duration = Duration::from_secs(5 * 60);
/// Audit outcomes of `user.sign_in` that are neither success nor a wrong
/// password (the schema in `rampart_kit::audit_schema` names both): the
/// attempt was not evaluated because the account or address is throttled,
/// or the credentials were right but the account may not sign in here
/// (disabled, an admin on the public route or outside the office domains,
/// an admin without a second factor). The client is answered as for a
/// wrong password either way; only the log tells them apart.
const OUTCOME_LOCKED: &str = "locked";
const OUTCOME_REFUSED: &str = "refused";
/// Why a sign-in was not evaluated: every place for a hash was taken. Its
/// outcome is `locked`, throttled, like one held back by the delays.
const REASON_BUSY: &str = "busy";
/// An admin with the right password but no second factor to ask for.
const REASON_NO_SECOND_FACTOR: &str = "no_second_factor";

impl Accounts {
    /// The first step: email and password.
    pub async fn sign_in(&self, attempt: SignInAttempt<'_>) -> Result<SignInOutcome, Error> {
        let scope = match attempt.route {
            Route::Admin => Scope::Platform,
            Route::Public => Scope::Tenant(TenantId::parse(attempt.tenant_id).map_err(|_| {
                Error::InvalidArgument("tenant_id is not a valid tenant id".to_owned())
            })?),
        };
        let tenant_log = scope.tenant().map(ToString::to_string);
        // A malformed email is just another unknown account.
        let email = Email::parse(attempt.email).ok();
        let email_key = email.as_ref().map_or_else(
            || attempt.email.trim().to_lowercase(),
            |e| e.as_str().to_owned(),
        );
        let account = account_bucket(scope.key(), &email_key);
        let address = format!("addr:{}", attempt.client_address);
        let now = Self::now_ms();

        let refuse = |outcome: &str, target: String| {
            let mut record = Self::anonymous_record(
                tenant_log.as_deref(),
                "user.sign_in",
                target,
                attempt.request_id,
                attempt.client_address,
            );
            record.outcome = outcome.to_owned();
            record
        };
        // The account is looked up for every attempt, before the throttle,
        // so that each record names the account attacked when it exists;
        // the answer and the work done do not depend on whether it does.
        let row = match &email {
            Some(email) => {
                UserStore::for_scope(&self.db, scope.clone())
                    .find_by_email(email)
                    .await?
            }
            None => None,
        };
        let attacked = row.as_ref().map_or_else(
            || "user:unknown".to_owned(),
            |row| format!("user:{}", row.id),
        );

        // Taken before the attempt is counted: a sign-in refused as busy
        // was not evaluated, so it neither counts towards a lockout nor
        // tells anything about the password.
        let Ok(place) = self.passwords.place() else {
            let record =
                refuse(OUTCOME_LOCKED, attacked.clone()).with_detail("reason", REASON_BUSY);
            self.outbox.record(&self.db, [record]).await?;
            return Err(Error::Busy);
        };
        if self
            .throttle
            .reserve(&account, self.settings.account_throttle, now)
            .await?
            == Reservation::Locked
        {
            self.outbox
                .record(&self.db, [refuse(OUTCOME_LOCKED, attacked.clone())])
                .await?;
            return Err(Error::Throttled);
        }
        if self
            .throttle
            .reserve(&address, ThrottlePolicy::ADDRESS, now)
            .await?
            == Reservation::Locked
        {
            self.outbox
                .record(&self.db, [refuse(OUTCOME_LOCKED, attacked.clone())])
                .await?;
            return Err(Error::Throttled);
        }

        // Always one Argon2id run, with or without a user.
        let password_ok = self
            .passwords
            .verify(
                place,
                attempt.password.expose(),
                row.as_ref().map(|r| r.password_hash.as_str()),
            )
            .await?;
        let Some(row) = row.filter(|_| password_ok) else {
            self.outbox
                .record(&self.db, [refuse("failure", attacked)])
                .await?;
            return Err(Error::InvalidCredentials);
        };
        let target = format!("user:{}", row.id);
        let role = role_of(&row)?;
        // Each of these answers exactly like a wrong password.
        let admin_on_public = attempt.route == Route::Public && role == Role::Admin;
        let admin_outside_domains = role == Role::Admin
            && !email
                .as_ref()
                .is_some_and(|e| e.in_domains(&self.settings.admin_email_domains));
        // An admin gets no session without a second factor. Telling them so
        // only when the password is right would make the route a password
        // oracle; the audit record says why instead.
        let admin_without_factor = role == Role::Admin && row.totp_secret.is_none();
        if row.disabled_at.is_some() || admin_on_public || admin_outside_domains {
            self.outbox
                .record(&self.db, [refuse(OUTCOME_REFUSED, target)])
                .await?;
            return Err(Error::InvalidCredentials);
        }
        if admin_without_factor {
            let record =
                refuse(OUTCOME_REFUSED, target).with_detail("reason", REASON_NO_SECOND_FACTOR);
            self.outbox.record(&self.db, [record]).await?;
            return Err(Error::InvalidCredentials);
        }

        self.throttle.clear(&account).await?;
        self.throttle.refund(&address).await?;

        if self.needs_second_factor(&row, role).await? {
            let has_secret = row.totp_secret.is_some();
            let challenge = generate_token(CHALLENGE_PREFIX);
            let expires_at = Utc::now() + to_std(CHALLENGE_TTL);
            challenge::ActiveModel {
                id: Set(uuid::Uuid::now_v7().simple().to_string()),
                token_hash: Set(self.session_hasher.hash(challenge.expose())),
                user_id: Set(row.id.clone()),
                expires_at: Set(expires_at),
                used_at: Set(None),
            }
            .insert(&self.db)
            .await?;
            // Admins enrolled by the operator confirm with their first code;
            // others without a confirmed factor enrol now.
            let operator_enrolled = role == Role::Admin && has_secret;
            return Ok(SignInOutcome::SecondFactor {
                challenge,
                enrolment_required: !(row.totp_confirmed || operator_enrolled),
                expires_at,
            });
        }
        let mut record = refuse("success", target);
        record.outcome = "success".to_owned();
        let grant = self
            .start_session(&row, attempt.client_address, vec![record])
            .await?;
        Ok(SignInOutcome::Session(grant))
    }

    /// Creates a session and writes `records` in the same transaction.
    pub(super) async fn start_session(
        &self,
        row: &user::Model,
        client_address: &str,
        records: Vec<AuditRecord>,
    ) -> Result<SessionGrant, Error> {
        let token = generate_token(SESSION_PREFIX);
        let session_id = SessionId::generate();
        let now = Utc::now();
        let expires_at = now + to_std(self.settings.session_absolute_timeout);
        let mut change = self.outbox.begin(&self.db).await?;
        session::ActiveModel {
            id: Set(session_id.to_string()),
            token_hash: Set(self.session_hasher.hash(token.expose())),
            user_id: Set(row.id.clone()),
            tenant_id: Set(row.tenant_id.clone()),
            client_address: Set(client_address.chars().take(64).collect()),
            created_at: Set(now),
            last_seen_at: Set(now),
            expires_at: Set(expires_at),
            revoked_at: Set(None),
            revoke_reason: Set(None),
        }
        .insert(change.tx())
        .await?;
        for record in records {
            change.audit(record);
        }
        change.commit().await?;
        tracing::info!(user_id = %row.id, session_id = %session_id, "signed in");
        Ok(SessionGrant {
            token,
            session_id,
            user_id: user_id_of(row)?,
            expires_at,
        })
    }
}
