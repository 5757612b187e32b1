//! Sessions after sign-in: checking one on every cache miss of the
//! gateway, listing them, and everything that ends them (sign-out,
//! revoke-one, revoke-all, suspicion).

use chrono::Utc;
use rampart_kit::ids::TenantId;
use rampart_kit::principal::Principal;
use rampart_kit::revocation::Revocation;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::entity::session;
use crate::error::Error;
use crate::sessions::{SESSION_PREFIX, is_well_formed};

use super::model::{SessionVerdict, SessionView, UserView};
use super::service::{Accounts, role_of, to_std, view};
use super::settings::NewClientPolicy;

/// Why a session was revoked. Using a session again after its own user
/// signed it out or ended it on purpose means someone else holds the token;
/// the other reasons leave stale tokens on honest devices.
const SUSPICIOUS_WHEN_REUSED: [&str; 2] = ["sign_out", "revoked"];

/// `last_seen_at` is written at most this often, not on every check.
const LAST_SEEN_GRANULARITY: chrono::TimeDelta = chrono::TimeDelta::seconds(30);

impl Accounts {
    /// Marks every live session of `user_id` revoked (but `except`), in
    /// `tx`; returns their ids.
    pub(super) async fn revoke_all_in(
        tx: &impl ConnectionTrait,
        user_id: &str,
        reason: &str,
        except: Option<&str>,
    ) -> Result<Vec<String>, Error> {
        let mut live = session::Entity::find()
            .filter(session::Column::UserId.eq(user_id))
            .filter(session::Column::RevokedAt.is_null());
        if let Some(except) = except {
            live = live.filter(session::Column::Id.ne(except));
        }
        let ids: Vec<String> = live.all(tx).await?.into_iter().map(|s| s.id).collect();
        if ids.is_empty() {
            return Ok(ids);
        }
        session::Entity::update_many()
            .col_expr(session::Column::RevokedAt, Expr::value(Utc::now()))
            .col_expr(session::Column::RevokeReason, Expr::value(reason))
            .filter(session::Column::Id.is_in(ids.clone()))
            .filter(session::Column::RevokedAt.is_null())
            .exec(tx)
            .await?;
        Ok(ids)
    }

    /// Ends all of a user's sessions because something looked wrong, and
    /// audits why.
    pub(super) async fn revoke_for_suspicion(
        &self,
        row: &session::Model,
        why: &str,
        request_id: &str,
    ) -> Result<(), Error> {
        let mut change = self.outbox.begin(&self.db).await?;
        let revoked = Self::revoke_all_in(change.tx(), &row.user_id, "suspicious", None).await?;
        let mut record = Self::record(
            None,
            row.tenant_id.as_deref(),
            "session.suspicious_activity",
            format!("user:{}:{why}", row.user_id),
            request_id,
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
        token: &str,
        client_address: &str,
        request_id: &str,
    ) -> Result<SessionVerdict, Error> {
        if !is_well_formed(token, SESSION_PREFIX) {
            return Err(Error::InvalidSession);
        }
        let row = session::Entity::find()
            .filter(session::Column::TokenHash.eq(self.session_hasher.hash(token)))
            .one(&self.db)
            .await?
            .ok_or(Error::InvalidSession)?;
        if row.revoked_at.is_some() {
            let reused = row
                .revoke_reason
                .as_deref()
                .is_some_and(|reason| SUSPICIOUS_WHEN_REUSED.contains(&reason));
            if reused {
                self.revoke_for_suspicion(&row, "revoked_session_used", request_id)
                    .await?;
            }
            return Err(Error::InvalidSession);
        }
        let now = Utc::now();
        let idle_end = row.last_seen_at + to_std(self.settings.session_idle_timeout);
        if now >= row.expires_at || now >= idle_end {
            return Err(Error::InvalidSession);
        }
        let user = self
            .find_user(&row.user_id)
            .await?
            .filter(|user| user.disabled_at.is_none())
            .ok_or(Error::InvalidSession)?;
        if client_address != row.client_address
            && self.settings.new_client_policy == NewClientPolicy::RevokeAll
        {
            self.revoke_for_suspicion(&row, "new_client_address", request_id)
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
            session_id: row.id,
            user_id: user.id.clone(),
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
        let user_id = Self::session_user(principal)?;
        view(
            &self
                .find_user(user_id)
                .await?
                .ok_or(Error::InvalidSession)?,
        )
    }

    pub async fn list_sessions(&self, principal: &Principal) -> Result<Vec<SessionView>, Error> {
        let user_id = Self::session_user(principal)?;
        let now = Utc::now();
        Ok(session::Entity::find()
            .filter(session::Column::UserId.eq(user_id))
            .filter(session::Column::RevokedAt.is_null())
            .filter(session::Column::ExpiresAt.gt(now))
            .order_by_asc(session::Column::Id)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|row| SessionView {
                id: row.id,
                created_at: row.created_at,
                last_seen_at: row.last_seen_at,
                expires_at: row.expires_at,
                client_address: row.client_address,
            })
            .collect())
    }

    /// Ends one of the caller's own sessions (the current one: sign out).
    pub async fn revoke_session(
        &self,
        principal: &Principal,
        session_id: &str,
        action: &str,
    ) -> Result<String, Error> {
        let user_id = Self::session_user(principal)?;
        let mut change = self.outbox.begin(&self.db).await?;
        let updated = session::Entity::update_many()
            .col_expr(session::Column::RevokedAt, Expr::value(Utc::now()))
            .col_expr(
                session::Column::RevokeReason,
                Expr::value(if action == "user.sign_out" {
                    "sign_out"
                } else {
                    "revoked"
                }),
            )
            .filter(session::Column::Id.eq(session_id))
            .filter(session::Column::UserId.eq(user_id))
            .filter(session::Column::RevokedAt.is_null())
            .exec(change.tx())
            .await?;
        if updated.rows_affected != 1 {
            return Err(Error::NotFound("session"));
        }
        let record = Self::record(
            Some(principal),
            principal.tenant_id().map(TenantId::as_str),
            action,
            format!("session:{session_id}"),
            &principal.request_id,
        );
        change.audit(record);
        change.announce(Revocation::Credential(session_id.to_owned()));
        change.commit().await?;
        Ok(user_id.to_owned())
    }

    /// Ends every session of a user: the caller's own (`user_id` empty), or
    /// another's for an owner of their tenant or a platform admin.
    pub async fn revoke_user_sessions(
        &self,
        principal: &Principal,
        user_id: &str,
    ) -> Result<(String, Vec<String>), Error> {
        let (user_id, tenant) = if user_id.is_empty() {
            (
                Self::session_user(principal)?.to_owned(),
                principal.tenant_id().map(ToString::to_string),
            )
        } else {
            let row = self.managed_user(principal, user_id).await?;
            (row.id, row.tenant_id)
        };
        let mut change = self.outbox.begin(&self.db).await?;
        let revoked = Self::revoke_all_in(change.tx(), &user_id, "revoked_all", None).await?;
        let record = Self::record(
            Some(principal),
            tenant.as_deref(),
            "session.revoked_all",
            format!("user:{user_id}"),
            &principal.request_id,
        );
        change.audit(record);
        change.announce(Revocation::Subject(String::from(&user_id)));
        change.commit().await?;
        Ok((user_id, revoked))
    }
}
