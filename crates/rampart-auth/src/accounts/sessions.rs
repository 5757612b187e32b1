//! Sessions after sign-in: checking one on every cache miss of the
//! gateway, listing them, and everything that ends them (sign-out,
//! revoke-one, revoke-all, suspicion).

use chrono::Utc;
use rampart_kit::ids::{SessionId, TenantId, UserId};
use rampart_kit::principal::Principal;
use rampart_kit::revocation::Revocation;
use rampart_kit::secret::SessionToken;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::domain::sessions::RevokeReason;
use crate::domain::users::Scope;
use crate::entity::session;
use crate::error::Error;
use crate::tokens::{SESSION_PREFIX, is_well_formed};

use super::model::{SessionVerdict, SessionView, Subject, UserView};
use super::service::{Accounts, role_of, to_std, view};
use super::settings::NewClientPolicy;
use super::store::UserStore;

/// `last_seen_at` is written at most this often, not on every check.
const LAST_SEEN_GRANULARITY: chrono::TimeDelta = chrono::TimeDelta::seconds(30);

impl Accounts {
    /// Marks every live session of `user_id` revoked (but `except`), in
    /// `tx`; returns their ids.
    pub(super) async fn revoke_all_in(
        tx: &impl ConnectionTrait,
        user_id: &UserId,
        reason: RevokeReason,
        except: Option<&SessionId>,
    ) -> Result<Vec<SessionId>, Error> {
        let mut live = session::Entity::find()
            .filter(session::Column::UserId.eq(user_id.as_str()))
            .filter(session::Column::RevokedAt.is_null());
        if let Some(except) = except {
            live = live.filter(session::Column::Id.ne(except.as_str()));
        }
        let rows = live.all(tx).await?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        session::Entity::update_many()
            .col_expr(session::Column::RevokedAt, Expr::value(Utc::now()))
            .col_expr(session::Column::RevokeReason, Expr::value(reason.as_str()))
            .filter(session::Column::Id.is_in(rows.iter().map(|row| row.id.clone())))
            .filter(session::Column::RevokedAt.is_null())
            .exec(tx)
            .await?;
        rows.iter().map(session_id_of).collect()
    }

    /// Ends all of a user's sessions because something looked wrong, and
    /// audits why.
    pub(super) async fn revoke_for_suspicion(
        &self,
        row: &session::Model,
        why: &str,
        request_id: &str,
        client_address: &str,
    ) -> Result<(), Error> {
        let mut change = self.outbox.begin(&self.db).await?;
        let user_id = UserId::parse(&row.user_id)
            .map_err(|e| anyhow::anyhow!("session {} has a bad user id: {e}", row.id))?;
        let revoked =
            Self::revoke_all_in(change.tx(), &user_id, RevokeReason::Suspicious, None).await?;
        let mut record = Self::anonymous_record(
            row.tenant_id.as_deref(),
            "session.suspicious_activity",
            format!("user:{}:{why}", row.user_id),
            request_id,
            client_address,
        );
        record.credential_id = row.id.clone();
        change.audit(record);
        change.announce(Revocation::Subject(String::from(&row.user_id)));
        change.commit().await?;
        tracing::warn!(
            user_id = %row.user_id,
            session_id = %row.id,
            reason = why,
            revoked = revoked.len(),
            "suspicious session use: all sessions revoked"
        );
        Ok(())
    }

    /// Who holds `token`, presented from `client_address`.
    pub async fn verify_session(
        &self,
        token: &SessionToken,
        client_address: &str,
        request_id: &str,
    ) -> Result<SessionVerdict, Error> {
        if !is_well_formed(token.expose(), SESSION_PREFIX) {
            return Err(Error::InvalidSession);
        }
        let row = session::Entity::find()
            .filter(session::Column::TokenHash.eq(self.session_hasher.hash(token.expose())))
            .one(&self.db)
            .await?
            .ok_or(Error::InvalidSession)?;
        if row.revoked_at.is_some() {
            let reused = row
                .revoke_reason
                .as_deref()
                .and_then(RevokeReason::from_stored)
                .is_some_and(RevokeReason::suspicious_when_reused);
            if reused {
                self.revoke_for_suspicion(&row, "revoked_session_used", request_id, client_address)
                    .await?;
            }
            return Err(Error::InvalidSession);
        }
        let now = Utc::now();
        let idle_end = row.last_seen_at + to_std(self.settings.session_idle_timeout);
        if now >= row.expires_at || now >= idle_end {
            return Err(Error::InvalidSession);
        }
        let user_id = UserId::parse(&row.user_id).map_err(|_| Error::InvalidSession)?;
        // The session row (written by this service) names the account and
        // its scope.
        let scope = match &row.tenant_id {
            Some(tenant) => {
                Scope::Tenant(TenantId::parse(tenant).map_err(|_| Error::InvalidSession)?)
            }
            None => Scope::Platform,
        };
        let user = UserStore::for_scope(&self.db, scope)
            .find(&user_id)
            .await?
            .filter(|user| user.disabled_at.is_none())
            .ok_or(Error::InvalidSession)?;
        if client_address != row.client_address
            && self.settings.new_client_policy == NewClientPolicy::RevokeAll
        {
            self.revoke_for_suspicion(&row, "new_client_address", request_id, client_address)
                .await?;
            return Err(Error::InvalidSession);
        }
        if now - row.last_seen_at > LAST_SEEN_GRANULARITY {
            session::Entity::update_many()
                .col_expr(session::Column::LastSeenAt, Expr::value(now))
                .filter(session::Column::Id.eq(&row.id))
                .exec(&self.db)
                .await?;
        }
        Ok(SessionVerdict {
            session_id: session_id_of(&row)?,
            user_id,
            tenant_id: user.tenant_id.clone(),
            role: role_of(&user)?,
            expires_at_ms: Ord::min(
                row.expires_at,
                now + to_std(self.settings.session_idle_timeout),
            )
            .timestamp_millis(),
        })
    }

    pub async fn me(&self, principal: &Principal) -> Result<UserView, Error> {
        view(&self.own_account(principal).await?)
    }

    pub async fn list_sessions(&self, principal: &Principal) -> Result<Vec<SessionView>, Error> {
        let user_id = Self::session_user(principal)?;
        let now = Utc::now();
        session::Entity::find()
            .filter(session::Column::UserId.eq(user_id.as_str()))
            .filter(session::Column::RevokedAt.is_null())
            .filter(session::Column::ExpiresAt.gt(now))
            .order_by_asc(session::Column::Id)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|row| {
                Ok(SessionView {
                    id: session_id_of(&row)?,
                    created_at: row.created_at,
                    last_seen_at: row.last_seen_at,
                    expires_at: row.expires_at,
                    client_address: row.client_address,
                })
            })
            .collect()
    }

    /// Ends one of the caller's own sessions (the current one: sign out).
    pub async fn revoke_session(
        &self,
        principal: &Principal,
        session_id: &SessionId,
        reason: RevokeReason,
    ) -> Result<UserId, Error> {
        let user_id = Self::session_user(principal)?;
        let mut change = self.outbox.begin(&self.db).await?;
        let updated = session::Entity::update_many()
            .col_expr(session::Column::RevokedAt, Expr::value(Utc::now()))
            .col_expr(session::Column::RevokeReason, Expr::value(reason.as_str()))
            .filter(session::Column::Id.eq(session_id.as_str()))
            .filter(session::Column::UserId.eq(user_id.as_str()))
            .filter(session::Column::RevokedAt.is_null())
            .exec(change.tx())
            .await?;
        if updated.rows_affected != 1 {
            return Err(Error::NotFound("session"));
        }
        let record = Self::record(
            Some(principal),
            principal.tenant_id().map(TenantId::as_str),
            reason.single_session_action(),
            format!("session:{session_id}"),
            &principal.request_id,
        );
        change.audit(record);
        change.announce(Revocation::Credential(session_id.to_string()));
        change.commit().await?;
        Ok(user_id)
    }

    /// Ends every session of a user: the caller's own, or another's for an
    /// owner of their tenant or a platform admin.
    pub async fn revoke_user_sessions(
        &self,
        principal: &Principal,
        subject: Subject,
    ) -> Result<(UserId, Vec<SessionId>), Error> {
        let (user_id, tenant) = match subject {
            Subject::Myself => (
                Self::session_user(principal)?,
                principal.tenant_id().map(ToString::to_string),
            ),
            Subject::User(user_id) => {
                let row = self
                    .users_for(principal)?
                    .find(&user_id)
                    .await?
                    .ok_or(Error::NotFound("user"))?;
                (user_id, row.tenant_id)
            }
        };
        let mut change = self.outbox.begin(&self.db).await?;
        let revoked =
            Self::revoke_all_in(change.tx(), &user_id, RevokeReason::RevokedAll, None).await?;
        let record = Self::record(
            Some(principal),
            tenant.as_deref(),
            "session.revoked_all",
            format!("user:{user_id}"),
            &principal.request_id,
        );
        change.audit(record);
        change.announce(Revocation::Subject(user_id.to_string()));
        change.commit().await?;
        Ok((user_id, revoked))
    }
}

/// The id of a stored session. The rows were written by this service from
/// parsed ids; a failure means the table was edited by hand.
fn session_id_of(row: &session::Model) -> Result<SessionId, Error> {
    SessionId::parse(&row.id)
        .map_err(|e| anyhow::anyhow!("stored session {:?} has a bad id: {e}", row.id).into())
}
