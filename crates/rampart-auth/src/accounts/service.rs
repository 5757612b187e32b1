//! [`Accounts`]: what every accounts operation needs (the database, the
//! password hasher, the TOTP sealer, token hashers, throttle, outbox and
//! settings), and the helpers they share: audit records, finding users,
//! who may manage whom, whether a second factor is needed.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use rampart_kit::ids::UserId;
use rampart_kit::outbox::{AuditRecord, Outbox};
use rampart_kit::principal::{Principal, PrincipalKind, Role};

use sea_orm::{DatabaseConnection, EntityTrait};

use crate::entity::{tenant_security, user};
use crate::error::Error;
use crate::passwords::PasswordHasher;
use crate::throttle::Throttle;
use crate::tokens::TokenHasher;
use crate::totp::SecretSealer;

use super::model::UserView;
use super::settings::AccountSettings;
use super::store::{UserStore, user_id_of};

pub(super) fn role_of(row: &user::Model) -> Result<Role, Error> {
    Role::parse(&row.role)
        .ok_or_else(|| anyhow::anyhow!("user {} has an unknown role {:?}", row.id, row.role).into())
}

pub(super) fn view(row: &user::Model) -> Result<UserView, Error> {
    Ok(UserView {
        id: user_id_of(row)?,
        tenant_id: row.tenant_id.clone(),
        email: row.email.clone(),
        role: role_of(row)?,
        disabled: row.disabled_at.is_some(),
        second_factor: row.totp_confirmed,
        created_at: row.created_at,
    })
}

pub(super) fn to_std(delta: Duration) -> chrono::TimeDelta {
    chrono::TimeDelta::from_std(delta).unwrap_or(chrono::TimeDelta::MAX)
}

#[derive(Clone)]
pub struct Accounts {
    pub(super) db: DatabaseConnection,
    pub(super) passwords: PasswordHasher,
    pub(super) sealer: SecretSealer,
    pub(super) session_hasher: TokenHasher,
    pub(super) code_hasher: TokenHasher,
    pub(super) throttle: Throttle,
    pub(super) outbox: Outbox,
    pub(super) settings: Arc<AccountSettings>,
}

impl std::fmt::Debug for Accounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Accounts")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Accounts {
    pub fn new(
        db: DatabaseConnection,
        token_secret: &[u8],
        sealer: SecretSealer,
        // Announces revocations too: see `Outbox::announcing_on`.
        outbox: Outbox,
        settings: AccountSettings,
    ) -> Self {
        Self {
            throttle: Throttle::new(db.clone()),
            db,
            passwords: PasswordHasher::new(
                settings.max_concurrent_hashes,
                settings.max_waiting_hashes,
            ),
            sealer,
            session_hasher: TokenHasher::derive(token_secret, "session"),
            code_hasher: TokenHasher::derive(token_secret, "recovery code"),
            outbox,
            settings: Arc::new(settings),
        }
    }

    /// An audit record for `action` by `actor` when there may be no
    /// principal (signing in); the fields are assigned, not built, as the
    /// record grows.
    pub(super) fn record(
        principal: Option<&Principal>,
        tenant: Option<&str>,
        action: &str,
        target: String,
        request_id: &str,
    ) -> AuditRecord {
        let anonymous;
        let principal = match principal {
            Some(principal) => principal,
            None => {
                anonymous = Principal {
                    mode: rampart_kit::principal::DataMode::Live,
                    client_addr: String::new(),
                    kind: PrincipalKind::PlatformAdmin,
                    credential_id: String::new(),
                    scopes: Vec::new(),
                    request_id: request_id.to_owned(),
                    user: None,
                };
                &anonymous
            }
        };
        let mut record = AuditRecord::success(principal, tenant, action, target);
        if principal.credential_id.is_empty() {
            record.actor = "anonymous".to_owned();
        }
        record
    }

    /// An audit record of an authentication event that has no principal
    /// yet (signing in, a second factor, a session used suspiciously), with
    /// the client's address the gateway relayed; only an IP address is kept.
    pub(super) fn anonymous_record(
        tenant: Option<&str>,
        action: &str,
        target: String,
        request_id: &str,
        client_address: &str,
    ) -> AuditRecord {
        let address = client_address
            .parse::<std::net::IpAddr>()
            .map(|ip| ip.to_string())
            .unwrap_or_default();
        Self::record(None, tenant, action, target, request_id).with_client_addr(address)
    }

    pub(super) fn now_ms() -> i64 {
        Utc::now().timestamp_millis()
    }

    pub(super) async fn tenant_requires_second_factor(
        &self,
        tenant: Option<&str>,
    ) -> Result<bool, Error> {
        let Some(tenant) = tenant else {
            return Ok(false);
        };
        Ok(tenant_security::Entity::find_by_id(tenant.to_owned())
            .one(&self.db)
            .await?
            .is_some_and(|row| row.require_second_factor_for_managers))
    }

    /// Whether this user must present a second factor to sign in.
    pub(super) async fn needs_second_factor(
        &self,
        row: &user::Model,
        role: Role,
    ) -> Result<bool, Error> {
        if row.totp_confirmed || role == Role::Admin {
            return Ok(true);
        }
        let managing = matches!(role, Role::Owner | Role::Manager);
        Ok(managing
            && self
                .tenant_requires_second_factor(row.tenant_id.as_deref())
                .await?)
    }

    /// The users `principal` may manage: a platform admin's reach every
    /// tenant; an owner's only their tenant's. Anyone else is refused here,
    /// before any id is looked at.
    pub(super) fn users_for(&self, principal: &Principal) -> Result<UserStore<'_>, Error> {
        if principal.require_platform_admin().is_ok() {
            return Ok(UserStore::for_platform(&self.db));
        }
        principal.require_role(Role::Owner)?;
        Ok(UserStore::for_tenant(
            &self.db,
            principal.require_tenant()?.clone(),
        ))
    }

    /// The signed-in user's own account, through the store of their scope.
    pub(super) async fn own_account(&self, principal: &Principal) -> Result<user::Model, Error> {
        let user_id = Self::session_user(principal)?;
        let users = match principal.tenant_id() {
            Some(tenant) => UserStore::for_tenant(&self.db, tenant.clone()),
            None => UserStore::for_platform(&self.db),
        };
        users.find(&user_id).await?.ok_or(Error::InvalidSession)
    }

    /// The signed-in user of a session principal.
    pub(super) fn session_user(principal: &Principal) -> Result<UserId, Error> {
        let user = principal
            .user
            .as_ref()
            .ok_or_else(|| Error::Forbidden("this action needs a signed-in user".to_owned()))?;
        UserId::parse(&user.id).map_err(|_| Error::InvalidSession)
    }
}

/// The throttle bucket of an account, whether or not it exists.
pub(super) fn account_bucket(scope: &str, email: &str) -> String {
    format!("acct:{scope}:{email}")
}
