//! People who sign in: users and roles, signing in with a password and a
//! second factor, sessions, and everything that ends them.
//!
//! [`Accounts`] holds what each step needs and keeps the rules in one place:
//!
//! - signing in ([`Accounts::sign_in`]) reserves an attempt in the account's
//!   and the address's throttle buckets *before* checking the password, runs
//!   Argon2id against the user's hash or a dummy one, and answers one
//!   "invalid email or password" for every kind of refusal;
//! - a user with a second factor (every platform admin, and owners and
//!   managers of a tenant that requires it) gets a challenge instead of a
//!   session, and completes it with a TOTP code that is accepted once (the
//!   step is remembered) or a one-time recovery code;
//! - sessions are checked on every cache miss of the gateway
//!   ([`Accounts::verify_session`]): idle and absolute timeouts, the user
//!   still enabled, the role read fresh, and the suspicious cases (a revoked
//!   token used again, a token from a new client address when the policy
//!   says so) end all of the user's sessions;
//! - every change writes its audit event in the same transaction, and every
//!   sign-in attempt is audited, success or failure, without the password
//!   or code.
//!
//! Revocations are durable here; the revocation bus also announces them
//! (after the commit) so every gateway drops its cached verdicts at once:
//! `Credential(session_id)` for one session, `Subject(user_id)` for
//! everything of a user (revoke-all, disable, role or password change,
//! suspicious activity).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use rampart_kit::ids::{SessionId, TenantId, UserId};
use rampart_kit::outbox::{AuditRecord, Outbox};
use rampart_kit::principal::{Principal, PrincipalKind, Role};
use rampart_kit::revocation::{Revocation, RevocationBus};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    EntityTrait, QueryFilter, QueryOrder,
};

use crate::domain::users::{Email, Scope, parse_tenant_role};
use crate::entity::{challenge, recovery_code, session, tenant_security, user};
use crate::error::Error;
use crate::passwords::{PasswordHasher, PasswordPolicy};
use crate::sessions::{CHALLENGE_PREFIX, SESSION_PREFIX, Token, TokenHasher, is_well_formed};
use crate::throttle::{Reservation, Throttle, ThrottlePolicy};
use crate::totp::{self, SecretSealer, TotpSecret};

/// The issuer shown in authenticator apps.
const TOTP_ISSUER: &str = "Rampart";
/// How long a password step stays good for its second factor.
const CHALLENGE_TTL: Duration = Duration::from_secs(5 * 60);
/// Consecutive failed second-factor codes that count as an attack on the
/// account: every session of the user ends.
pub const SUSPICIOUS_SECOND_FACTOR_FAILURES: u32 = 5;
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
/// Hashes that may wait for a hashing thread by default: at the reference
/// machine's 45 to 120 sign-ins a second, about a second's worth.
const DEFAULT_WAITING_HASHES: usize = 64;
/// Why a session was revoked. Using a session again after its own user
/// signed it out or ended it on purpose means someone else holds the token;
/// the other reasons leave stale tokens on honest devices.
const SUSPICIOUS_WHEN_REUSED: [&str; 2] = ["sign_out", "revoked"];

/// `last_seen_at` is written at most this often, not on every check.
const LAST_SEEN_GRANULARITY: chrono::TimeDelta = chrono::TimeDelta::seconds(30);

/// What a session presented from another client address than the one it
/// was created from means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NewClientPolicy {
    /// Allowed (people move between networks).
    Allow,
    /// Suspicious: all of the user's sessions end.
    RevokeAll,
}

impl NewClientPolicy {
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        match text {
            "allow" => Ok(Self::Allow),
            "revoke" => Ok(Self::RevokeAll),
            other => anyhow::bail!(
                "the new-client session policy must be \"allow\" or \"revoke\", not {other:?}"
            ),
        }
    }
}

/// The operator's settings for people's accounts.
#[derive(Debug, Clone)]
pub struct AccountSettings {
    /// Platform admins' emails must be in one of these domains.
    pub admin_email_domains: Vec<String>,
    /// A session unused this long ends (default 1 h).
    pub session_idle_timeout: Duration,
    /// A session ends this long after sign-in whatever happens (default 24 h).
    pub session_absolute_timeout: Duration,
    pub new_client_policy: NewClientPolicy,
    /// How many Argon2id hashes may run at once.
    pub max_concurrent_hashes: usize,
    /// How many more may wait for one of those; past that, sign-ins and
    /// password changes are answered busy (429) without being evaluated.
    pub max_waiting_hashes: usize,
    /// Delays and the hard cap on consecutive failed sign-ins per account.
    pub account_throttle: ThrottlePolicy,
}

impl Default for AccountSettings {
    fn default() -> Self {
        Self {
            admin_email_domains: Vec::new(),
            session_idle_timeout: Duration::from_secs(3600),
            session_absolute_timeout: Duration::from_secs(24 * 3600),
            new_client_policy: NewClientPolicy::Allow,
            max_concurrent_hashes: std::thread::available_parallelism()
                .map_or(2, std::num::NonZero::get),
            max_waiting_hashes: DEFAULT_WAITING_HASHES,
            account_throttle: ThrottlePolicy::ACCOUNT,
        }
    }
}

/// Which door a sign-in came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Public,
    Admin,
}

/// A sign-in attempt as the gateway relays it.
#[derive(Debug)]
pub struct SignInAttempt<'a> {
    pub route: Route,
    pub tenant_id: &'a str,
    pub email: &'a str,
    pub password: &'a str,
    pub client_address: &'a str,
    pub request_id: &'a str,
}

/// A new session's token and facts.
#[derive(Debug)]
pub struct SessionGrant {
    pub token: Token,
    pub session_id: SessionId,
    pub user_id: String,
    pub expires_at: DateTime<Utc>,
}

/// What a successful first step leads to.
#[derive(Debug)]
pub enum SignInOutcome {
    Session(SessionGrant),
    SecondFactor {
        challenge: Token,
        enrolment_required: bool,
        expires_at: DateTime<Utc>,
    },
}

/// A completed second step; `recovery_codes` when it also confirmed a new
/// enrolment.
#[derive(Debug)]
pub struct SecondFactorOutcome {
    pub session: SessionGrant,
    pub recovery_codes: Vec<String>,
}

/// A second-factor answer.
#[derive(Debug)]
pub enum SecondFactorProof<'a> {
    Code(&'a str),
    RecoveryCode(&'a str),
}

/// A verified session, as the gateway turns it into a principal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionVerdict {
    pub session_id: String,
    pub user_id: String,
    pub tenant_id: Option<String>,
    pub role: Role,
    /// The absolute end, Unix milliseconds.
    pub expires_at_ms: i64,
}

/// A user as shown to owners and admins.
#[derive(Debug, Clone)]
pub struct UserView {
    pub id: String,
    pub tenant_id: Option<String>,
    pub email: String,
    pub role: Role,
    pub disabled: bool,
    pub second_factor: bool,
    pub created_at: DateTime<Utc>,
}

/// A session as its owner sees it.
#[derive(Debug, Clone)]
pub struct SessionView {
    pub id: String,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub client_address: String,
}

/// A new user, as an owner or admin asked for it.
#[derive(Debug)]
pub struct NewUser<'a> {
    pub tenant_id: &'a str,
    pub email: &'a str,
    pub password: &'a str,
    pub role: &'a str,
    pub context_words: &'a [String],
}

/// A change to a user.
#[derive(Debug, Default)]
pub struct UserChange<'a> {
    pub role: &'a str,
    pub disabled: Option<bool>,
}

/// Who may manage users: the platform, or one tenant's owner.
enum Authority {
    Platform,
    Owner(TenantId),
}

/// RFC 3339 with microseconds, as the other services write times.
pub fn rfc3339(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn role_of(row: &user::Model) -> Result<Role, Error> {
    Role::parse(&row.role)
        .ok_or_else(|| anyhow::anyhow!("user {} has an unknown role {:?}", row.id, row.role).into())
}

fn view(row: &user::Model) -> Result<UserView, Error> {
    Ok(UserView {
        id: row.id.clone(),
        tenant_id: row.tenant_id.clone(),
        email: row.email.clone(),
        role: role_of(row)?,
        disabled: row.disabled_at.is_some(),
        second_factor: row.totp_confirmed,
        created_at: row.created_at,
    })
}

fn to_std(delta: Duration) -> chrono::TimeDelta {
    chrono::TimeDelta::from_std(delta).unwrap_or(chrono::TimeDelta::MAX)
}

#[derive(Clone)]
pub struct Accounts {
    db: DatabaseConnection,
    passwords: PasswordHasher,
    sealer: SecretSealer,
    session_hasher: TokenHasher,
    code_hasher: TokenHasher,
    throttle: Throttle,
    outbox: Outbox,
    settings: Arc<AccountSettings>,
    revocations: RevocationBus,
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
        outbox: Outbox,
        settings: AccountSettings,
        revocations: RevocationBus,
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
            revocations,
        }
    }

    /// An audit record for `action` by `actor` when there may be no
    /// principal (signing in); the fields are assigned, not built, as the
    /// record grows.
    fn record(
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

    /// Writes audit records on their own, for events with no other change.
    async fn audit(&self, records: &[AuditRecord]) -> Result<(), Error> {
        let tx = rampart_kit::db::begin_write(&self.db).await?;
        for record in records {
            self.outbox.enqueue(&tx, record).await?;
        }
        tx.commit().await?;
        self.outbox.wake();
        Ok(())
    }

    /// Tells every gateway, after the commit. A failure is logged, not
    /// returned: the revocation is already durable, and cached verdicts
    /// expire within seconds anyway.
    async fn announce(&self, revocation: Revocation) {
        if let Err(error) = self.revocations.publish(&revocation).await {
            tracing::error!(error = %format!("{error:#}"), ?revocation, "revocation not announced");
        }
    }

    fn now_ms() -> i64 {
        Utc::now().timestamp_millis()
    }

    async fn find_user(&self, id: &str) -> Result<Option<user::Model>, Error> {
        Ok(user::Entity::find_by_id(id.to_owned())
            .one(&self.db)
            .await?)
    }

    async fn tenant_requires_second_factor(&self, tenant: Option<&str>) -> Result<bool, Error> {
        let Some(tenant) = tenant else {
            return Ok(false);
        };
        Ok(tenant_security::Entity::find_by_id(tenant.to_owned())
            .one(&self.db)
            .await?
            .is_some_and(|row| row.require_second_factor_for_managers))
    }

    /// Whether this user must present a second factor to sign in.
    async fn needs_second_factor(&self, row: &user::Model, role: Role) -> Result<bool, Error> {
        if row.totp_confirmed || role == Role::Admin {
            return Ok(true);
        }
        let managing = matches!(role, Role::Owner | Role::Manager);
        Ok(managing
            && self
                .tenant_requires_second_factor(row.tenant_id.as_deref())
                .await?)
    }

    // --- Users -----------------------------------------------------------

    fn authority(principal: &Principal) -> Result<Authority, Error> {
        if principal.require_platform_admin().is_ok() {
            return Ok(Authority::Platform);
        }
        principal.require_role(Role::Owner)?;
        Ok(Authority::Owner(principal.require_tenant()?.clone()))
    }

    /// A user the caller may manage; another tenant's user is not found.
    async fn managed_user(
        &self,
        principal: &Principal,
        user_id: &str,
    ) -> Result<user::Model, Error> {
        let authority = Self::authority(principal)?;
        let row = self
            .find_user(user_id)
            .await?
            .ok_or(Error::NotFound("user"))?;
        match authority {
            Authority::Platform => Ok(row),
            Authority::Owner(tenant) if row.tenant_id.as_deref() == Some(tenant.as_str()) => {
                Ok(row)
            }
            Authority::Owner(_) => Err(Error::NotFound("user")),
        }
    }

    /// Creates a user. Owners create users of their tenant; platform admins
    /// create users of any tenant, and other admins (empty tenant), whose
    /// email must be in the office domains.
    pub async fn create_user(
        &self,
        principal: &Principal,
        new: NewUser<'_>,
    ) -> Result<UserView, Error> {
        let authority = Self::authority(principal)?;
        let email = Email::parse(new.email)?;
        let (scope, role) = if new.tenant_id.is_empty() {
            let Authority::Platform = authority else {
                return Err(Error::InvalidArgument("tenant_id is required".to_owned()));
            };
            if !new.role.is_empty() && new.role != "admin" {
                return Err(Error::InvalidArgument(
                    "a user without a tenant is a platform admin; role must be \"admin\""
                        .to_owned(),
                ));
            }
            (Scope::Platform, Role::Admin)
        } else {
            let tenant = TenantId::parse(new.tenant_id).map_err(|_| {
                Error::InvalidArgument("tenant_id is not a valid tenant id".to_owned())
            })?;
            if let Authority::Owner(own) = &authority
                && *own != tenant
            {
                return Err(Error::NotFound("tenant"));
            }
            (Scope::Tenant(tenant), parse_tenant_role(new.role)?)
        };
        let user_id = UserId::generate();
        let created = self
            .insert_user(
                &email,
                scope,
                role,
                new.password,
                new.context_words,
                &user_id,
                None,
            )
            .await?;
        let record = Self::record(
            Some(principal),
            created.tenant_id.as_deref(),
            "user.created",
            format!("user:{user_id}"),
            &principal.request_id,
        );
        self.audit(&[record]).await?;
        tracing::info!(user_id = %user_id, role = %role, "user created");
        view(&created)
    }

    /// Stores a new user after checking the password and, for admins, the
    /// office domains. `totp` enrols a second factor at once (operators
    /// creating an admin).
    #[allow(clippy::too_many_arguments)]
    async fn insert_user(
        &self,
        email: &Email,
        scope: Scope,
        role: Role,
        password: &str,
        context_words: &[String],
        user_id: &UserId,
        totp: Option<&TotpSecret>,
    ) -> Result<user::Model, Error> {
        if role == Role::Admin && !email.in_domains(&self.settings.admin_email_domains) {
            return Err(Error::InvalidArgument(
                "a platform admin's email must be in one of the platform's office domains"
                    .to_owned(),
            ));
        }
        let context = context_words
            .iter()
            .map(String::as_str)
            .chain([email.as_str()]);
        let password = PasswordPolicy::with_context(context).check(password, false)?;
        let digest = self.passwords.hash(&password).await?;
        let existing = user::Entity::find()
            .filter(user::Column::Scope.eq(scope.key()))
            .filter(user::Column::Email.eq(email.as_str()))
            .one(&self.db)
            .await?;
        if existing.is_some() {
            return Err(Error::AlreadyExists(
                "a user with this email already exists".to_owned(),
            ));
        }
        let sealed = totp
            .map(|secret| self.sealer.seal(secret, user_id.as_str()))
            .transpose()?;
        let row = user::ActiveModel {
            id: Set(user_id.to_string()),
            tenant_id: Set(scope.tenant().map(ToString::to_string)),
            scope: Set(scope.key().to_owned()),
            email: Set(email.as_str().to_owned()),
            role: Set(role.as_str().to_owned()),
            password_hash: Set(digest.0),
            totp_secret: Set(sealed),
            totp_confirmed: Set(false),
            totp_last_step: Set(None),
            disabled_at: Set(None),
            created_at: Set(Utc::now()),
        }
        .insert(&self.db)
        .await?;
        Ok(row)
    }

    /// For the operator's `rampart admin create-user`: a platform admin with
    /// a TOTP secret already enrolled, confirmed by the first code at the
    /// first sign-in. Returns the user and the secret to show once.
    pub async fn create_platform_admin(
        &self,
        email: &str,
        password: &str,
    ) -> Result<(UserView, TotpSecret), Error> {
        let email = Email::parse(email)?;
        let user_id = UserId::generate();
        let secret = TotpSecret::generate();
        let row = self
            .insert_user(
                &email,
                Scope::Platform,
                Role::Admin,
                password,
                &[],
                &user_id,
                Some(&secret),
            )
            .await?;
        let principal = Principal {
            client_addr: String::new(),
            kind: PrincipalKind::PlatformAdmin,
            credential_id: "operator".to_owned(),
            scopes: Vec::new(),
            request_id: String::new(),
            user: None,
        };
        let mut record =
            AuditRecord::success(&principal, None, "user.created", format!("user:{user_id}"));
        record.actor = "operator:cli".to_owned();
        self.audit(&[record]).await?;
        Ok((view(&row)?, secret))
    }

    pub async fn list_users(
        &self,
        principal: &Principal,
        tenant_id: &str,
    ) -> Result<Vec<UserView>, Error> {
        let scope = if principal.require_platform_admin().is_ok() {
            if tenant_id.is_empty() {
                Scope::Platform.key().to_owned()
            } else {
                TenantId::parse(tenant_id)
                    .map_err(|_| Error::InvalidArgument("tenant_id is not valid".to_owned()))?
                    .into_string()
            }
        } else {
            principal.require_role(Role::Manager)?;
            principal.require_tenant()?.to_string()
        };
        user::Entity::find()
            .filter(user::Column::Scope.eq(scope))
            .order_by_asc(user::Column::Id)
            .all(&self.db)
            .await?
            .iter()
            .map(view)
            .collect()
    }

    /// Changes a user's role or enabled state. A role change is audited and
    /// announced so the next request sees it; disabling ends every session.
    pub async fn update_user(
        &self,
        principal: &Principal,
        user_id: &str,
        change: UserChange<'_>,
    ) -> Result<(UserView, Vec<String>), Error> {
        let row = self.managed_user(principal, user_id).await?;
        let current = role_of(&row)?;
        let new_role = if change.role.is_empty() {
            None
        } else if current == Role::Admin {
            return Err(Error::InvalidArgument(
                "a platform admin's role cannot be changed".to_owned(),
            ));
        } else {
            Some(parse_tenant_role(change.role)?).filter(|role| *role != current)
        };
        let tenant = row.tenant_id.clone();
        let target = format!("user:{}", row.id);
        let now = Utc::now();
        let mut records = Vec::new();
        let tx = rampart_kit::db::begin_write(&self.db).await?;
        if let Some(role) = new_role {
            user::Entity::update_many()
                .col_expr(user::Column::Role, Expr::value(role.as_str()))
                .filter(user::Column::Id.eq(&row.id))
                .exec(&tx)
                .await?;
            records.push(Self::record(
                Some(principal),
                tenant.as_deref(),
                "user.role_changed",
                target.clone(),
                &principal.request_id,
            ));
            tracing::info!(user_id = %row.id, from = %current, to = %role, "role changed");
        }
        let mut revoked = Vec::new();
        match change.disabled {
            Some(true) if row.disabled_at.is_none() => {
                user::Entity::update_many()
                    .col_expr(user::Column::DisabledAt, Expr::value(now))
                    .filter(user::Column::Id.eq(&row.id))
                    .exec(&tx)
                    .await?;
                revoked = Self::revoke_all_in(&tx, &row.id, "user_disabled", None).await?;
                records.push(Self::record(
                    Some(principal),
                    tenant.as_deref(),
                    "user.disabled",
                    target.clone(),
                    &principal.request_id,
                ));
            }
            Some(false) if row.disabled_at.is_some() => {
                user::Entity::update_many()
                    .col_expr(
                        user::Column::DisabledAt,
                        Expr::value(Option::<DateTime<Utc>>::None),
                    )
                    .filter(user::Column::Id.eq(&row.id))
                    .exec(&tx)
                    .await?;
                records.push(Self::record(
                    Some(principal),
                    tenant.as_deref(),
                    "user.enabled",
                    target.clone(),
                    &principal.request_id,
                ));
            }
            _ => {}
        }
        for record in &records {
            self.outbox.enqueue(&tx, record).await?;
        }
        tx.commit().await?;
        self.outbox.wake();
        if change.disabled == Some(false) {
            // Re-enabling also lifts a lockout.
            self.throttle
                .clear(&account_bucket(
                    row.tenant_id
                        .as_deref()
                        .unwrap_or(crate::domain::users::PLATFORM_SCOPE),
                    &row.email,
                ))
                .await?;
        }
        if !records.is_empty() {
            self.announce(Revocation::Subject(String::from(&row.id)))
                .await;
        }
        let updated = self
            .find_user(&row.id)
            .await?
            .ok_or(Error::NotFound("user"))?;
        Ok((view(&updated)?, revoked))
    }

    pub async fn get_tenant_security(&self, principal: &Principal) -> Result<bool, Error> {
        principal.require_role(Role::Manager)?;
        let tenant = principal.require_tenant()?;
        self.tenant_requires_second_factor(Some(tenant.as_str()))
            .await
    }

    /// Turns "require 2FA for managers" on or off; owners only.
    pub async fn set_tenant_security(
        &self,
        principal: &Principal,
        require_second_factor_for_managers: bool,
    ) -> Result<(), Error> {
        principal.require_role(Role::Owner)?;
        let tenant = principal.require_tenant()?.to_string();
        let tx = rampart_kit::db::begin_write(&self.db).await?;
        tenant_security::Entity::delete_by_id(tenant.clone())
            .exec(&tx)
            .await?;
        tenant_security::ActiveModel {
            tenant_id: Set(tenant.clone()),
            require_second_factor_for_managers: Set(require_second_factor_for_managers),
            updated_at: Set(Utc::now()),
        }
        .insert(&tx)
        .await?;
        let record = Self::record(
            Some(principal),
            Some(&tenant),
            "tenant.settings_changed",
            format!("tenant:{tenant}:require_second_factor_for_managers"),
            &principal.request_id,
        );
        self.outbox.enqueue(&tx, &record).await?;
        tx.commit().await?;
        self.outbox.wake();
        Ok(())
    }

    // --- Signing in ------------------------------------------------------

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
            let mut record = Self::record(
                None,
                tenant_log.as_deref(),
                "user.sign_in",
                target,
                attempt.request_id,
            );
            record.outcome = outcome.to_owned();
            record
        };

        // Taken before the attempt is counted: a sign-in refused as busy
        // was not evaluated, so it neither counts towards a lockout nor
        // tells anything about the password.
        let Ok(place) = self.passwords.place() else {
            let record = refuse(OUTCOME_LOCKED, "user:unknown".to_owned())
                .with_detail("reason", REASON_BUSY);
            self.audit(&[record]).await?;
            return Err(Error::Busy);
        };
        if self
            .throttle
            .reserve(&account, self.settings.account_throttle, now)
            .await?
            == Reservation::Locked
        {
            self.audit(&[refuse(OUTCOME_LOCKED, "user:unknown".to_owned())])
                .await?;
            return Err(Error::Throttled);
        }
        if self
            .throttle
            .reserve(&address, ThrottlePolicy::ADDRESS, now)
            .await?
            == Reservation::Locked
        {
            self.audit(&[refuse(OUTCOME_LOCKED, "user:unknown".to_owned())])
                .await?;
            return Err(Error::Throttled);
        }

        let row = match &email {
            Some(email) => {
                user::Entity::find()
                    .filter(user::Column::Scope.eq(scope.key()))
                    .filter(user::Column::Email.eq(email.as_str()))
                    .one(&self.db)
                    .await?
            }
            None => None,
        };
        // Always one Argon2id run, with or without a user.
        let password_ok = self
            .passwords
            .verify(
                place,
                attempt.password,
                row.as_ref().map(|r| r.password_hash.as_str()),
            )
            .await?;
        let Some(row) = row.filter(|_| password_ok) else {
            self.audit(&[refuse("failure", "user:unknown".to_owned())])
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
        if row.disabled_at.is_some() || admin_on_public || admin_outside_domains {
            self.audit(&[refuse(OUTCOME_REFUSED, target)]).await?;
            return Err(Error::InvalidCredentials);
        }

        self.throttle.clear(&account).await?;
        self.throttle.refund(&address).await?;

        if self.needs_second_factor(&row, role).await? {
            let has_secret = row.totp_secret.is_some();
            if role == Role::Admin && !has_secret {
                // An admin without a second factor gets no session at all.
                self.audit(&[refuse(OUTCOME_REFUSED, target)]).await?;
                return Err(Error::Forbidden(
                    "this account has no second factor; an operator must enrol one \
                     (rampart admin create-user) before it can sign in"
                        .to_owned(),
                ));
            }
            let challenge = Token::generate(CHALLENGE_PREFIX);
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
            .start_session(&row, attempt.client_address, &[record])
            .await?;
        Ok(SignInOutcome::Session(grant))
    }

    /// Creates a session and writes `records` in the same transaction.
    async fn start_session(
        &self,
        row: &user::Model,
        client_address: &str,
        records: &[AuditRecord],
    ) -> Result<SessionGrant, Error> {
        let token = Token::generate(SESSION_PREFIX);
        let session_id = SessionId::generate();
        let now = Utc::now();
        let expires_at = now + to_std(self.settings.session_absolute_timeout);
        let tx = rampart_kit::db::begin_write(&self.db).await?;
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
        .insert(&tx)
        .await?;
        for record in records {
            self.outbox.enqueue(&tx, record).await?;
        }
        tx.commit().await?;
        self.outbox.wake();
        tracing::info!(user_id = %row.id, session_id = %session_id, "signed in");
        Ok(SessionGrant {
            token,
            session_id,
            user_id: row.id.clone(),
            expires_at,
        })
    }

    /// The challenge's user, when the challenge is unused and unexpired.
    async fn challenged_user(&self, challenge_token: &str) -> Result<(String, user::Model), Error> {
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
        let row = self
            .find_user(&found.user_id)
            .await?
            .filter(|row| row.disabled_at.is_none())
            .ok_or(Error::InvalidChallenge)?;
        Ok((found.id, row))
    }

    /// For a user who must have a second factor and has none confirmed:
    /// a new secret, shown once, to confirm with the challenge.
    pub async fn enrol_for_challenge(
        &self,
        challenge_token: &str,
    ) -> Result<(String, String), Error> {
        let (_, row) = self.challenged_user(challenge_token).await?;
        if row.totp_confirmed || role_of(&row)? == Role::Admin {
            return Err(Error::AlreadyExists(
                "this account already has a second factor".to_owned(),
            ));
        }
        self.store_new_secret(&row).await
    }

    async fn store_new_secret(&self, row: &user::Model) -> Result<(String, String), Error> {
        let secret = TotpSecret::generate();
        let sealed = self.sealer.seal(&secret, &row.id)?;
        user::Entity::update_many()
            .col_expr(user::Column::TotpSecret, Expr::value(sealed))
            .col_expr(user::Column::TotpConfirmed, Expr::value(false))
            .filter(user::Column::Id.eq(&row.id))
            .exec(&self.db)
            .await?;
        Ok((
            secret.base32(),
            secret.provisioning_uri(TOTP_ISSUER, &row.email),
        ))
    }

    /// Accepts `code` for `row` once: the matched step must be later than
    /// the last accepted one, and recording it is atomic, so a replayed
    /// code (or the same code sent twice in parallel) loses.
    async fn accept_code(&self, row: &user::Model, code: &str) -> Result<bool, Error> {
        let Some(sealed) = &row.totp_secret else {
            return Ok(false);
        };
        let secret = self.sealer.open(sealed, &row.id)?;
        let Some(step) = totp::matching_step(&secret, code.trim(), Utc::now().timestamp()) else {
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
    async fn spend_recovery_code(&self, user_id: &str, code: &str) -> Result<bool, Error> {
        let hash = self.code_hasher.hash(&totp::fold_recovery_code(code));
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
    async fn new_recovery_codes(
        &self,
        tx: &impl ConnectionTrait,
        user_id: &str,
    ) -> Result<Vec<String>, Error> {
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
        Ok(codes)
    }

    /// The second step: a code or a recovery code for a challenge.
    pub async fn complete_second_factor(
        &self,
        challenge_token: &str,
        proof: SecondFactorProof<'_>,
        client_address: &str,
        request_id: &str,
    ) -> Result<SecondFactorOutcome, Error> {
        let (challenge_id, row) = self.challenged_user(challenge_token).await?;
        let tenant = row.tenant_id.clone();
        let target = format!("user:{}", row.id);
        let event = |action: &str, outcome: &str| {
            let mut record =
                Self::record(None, tenant.as_deref(), action, target.clone(), request_id);
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
                self.audit(&[event("user.second_factor", "failure")])
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
                let tx = rampart_kit::db::begin_write(&self.db).await?;
                challenge::Entity::update_many()
                    .col_expr(challenge::Column::UsedAt, Expr::value(Utc::now()))
                    .filter(challenge::Column::UserId.eq(&row.id))
                    .exec(&tx)
                    .await?;
                let revoked = Self::revoke_all_in(&tx, &row.id, "suspicious", None).await?;
                let mut suspicious = event("session.suspicious_activity", "success");
                suspicious.target = format!("{target}:second_factor_failures");
                records.push(suspicious);
                for record in &records {
                    self.outbox.enqueue(&tx, record).await?;
                }
                tx.commit().await?;
                self.outbox.wake();
                self.announce(Revocation::Subject(String::from(&row.id)))
                    .await;
                tracing::warn!(
                    user_id = %row.id,
                    failures = attempt,
                    revoked = revoked.len(),
                    "repeated second-factor failures: all sessions revoked"
                );
            } else {
                self.audit(&records).await?;
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
            let tx = rampart_kit::db::begin_write(&self.db).await?;
            user::Entity::update_many()
                .col_expr(user::Column::TotpConfirmed, Expr::value(true))
                .filter(user::Column::Id.eq(&row.id))
                .exec(&tx)
                .await?;
            recovery_codes = self.new_recovery_codes(&tx, &row.id).await?;
            let enrolled = event("user.totp_enrolled", "success");
            self.outbox.enqueue(&tx, &enrolled).await?;
            tx.commit().await?;
        }
        records.push(event("user.sign_in", "success"));
        let session = self.start_session(&row, client_address, &records).await?;
        Ok(SecondFactorOutcome {
            session,
            recovery_codes,
        })
    }

    // --- Sessions ----------------------------------------------------------

    /// Marks every live session of `user_id` revoked (but `except`), in
    /// `tx`; returns their ids.
    async fn revoke_all_in(
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
    async fn revoke_for_suspicion(
        &self,
        row: &session::Model,
        why: &str,
        request_id: &str,
    ) -> Result<(), Error> {
        let tx = rampart_kit::db::begin_write(&self.db).await?;
        let revoked = Self::revoke_all_in(&tx, &row.user_id, "suspicious", None).await?;
        let mut record = Self::record(
            None,
            row.tenant_id.as_deref(),
            "session.suspicious_activity",
            format!("user:{}:{why}", row.user_id),
            request_id,
        );
        record.credential_id = row.id.clone();
        self.outbox.enqueue(&tx, &record).await?;
        tx.commit().await?;
        self.outbox.wake();
        self.announce(Revocation::Subject(String::from(&row.user_id)))
            .await;
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

    /// The signed-in user of a session principal.
    fn session_user(principal: &Principal) -> Result<&str, Error> {
        principal
            .user
            .as_ref()
            .map(|user| user.id.as_str())
            .ok_or_else(|| Error::Forbidden("this action needs a signed-in user".to_owned()))
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
        let tx = rampart_kit::db::begin_write(&self.db).await?;
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
            .exec(&tx)
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
        self.outbox.enqueue(&tx, &record).await?;
        tx.commit().await?;
        self.outbox.wake();
        self.announce(Revocation::Credential(session_id.to_owned()))
            .await;
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
        let tx = rampart_kit::db::begin_write(&self.db).await?;
        let revoked = Self::revoke_all_in(&tx, &user_id, "revoked_all", None).await?;
        let record = Self::record(
            Some(principal),
            tenant.as_deref(),
            "session.revoked_all",
            format!("user:{user_id}"),
            &principal.request_id,
        );
        self.outbox.enqueue(&tx, &record).await?;
        tx.commit().await?;
        self.outbox.wake();
        self.announce(Revocation::Subject(String::from(&user_id)))
            .await;
        Ok((user_id, revoked))
    }

    /// Changes the caller's password, given the current one; the user's
    /// other sessions end.
    pub async fn change_password(
        &self,
        principal: &Principal,
        current: &str,
        new: &str,
        context_words: &[String],
    ) -> Result<Vec<String>, Error> {
        let user_id = Self::session_user(principal)?;
        let row = self
            .find_user(user_id)
            .await?
            .ok_or(Error::InvalidSession)?;
        let account = account_bucket(&row.scope, &row.email);
        let place = self.passwords.place()?;
        if self
            .throttle
            .reserve(&account, self.settings.account_throttle, Self::now_ms())
            .await?
            == Reservation::Locked
        {
            return Err(Error::Throttled);
        }
        if !self
            .passwords
            .verify(place, current, Some(&row.password_hash))
            .await?
        {
            let mut record = Self::record(
                Some(principal),
                row.tenant_id.as_deref(),
                "user.password_changed",
                format!("user:{}", row.id),
                &principal.request_id,
            );
            record.outcome = "failure".to_owned();
            self.audit(&[record]).await?;
            return Err(Error::Forbidden("the current password is wrong".to_owned()));
        }
        self.throttle.clear(&account).await?;
        let context = context_words
            .iter()
            .map(String::as_str)
            .chain([row.email.as_str()]);
        let password = PasswordPolicy::with_context(context).check(new, row.totp_confirmed)?;
        let digest = self.passwords.hash(&password).await?;
        let tx = rampart_kit::db::begin_write(&self.db).await?;
        user::Entity::update_many()
            .col_expr(user::Column::PasswordHash, Expr::value(digest.0))
            .filter(user::Column::Id.eq(&row.id))
            .exec(&tx)
            .await?;
        let revoked = Self::revoke_all_in(
            &tx,
            &row.id,
            "password_changed",
            Some(principal.credential_id.as_str()),
        )
        .await?;
        let record = Self::record(
            Some(principal),
            row.tenant_id.as_deref(),
            "user.password_changed",
            format!("user:{}", row.id),
            &principal.request_id,
        );
        self.outbox.enqueue(&tx, &record).await?;
        tx.commit().await?;
        self.outbox.wake();
        self.announce(Revocation::Subject(row.id.clone())).await;
        Ok(revoked)
    }

    /// Starts TOTP enrolment for the signed-in user.
    pub async fn begin_totp(&self, principal: &Principal) -> Result<(String, String), Error> {
        let user_id = Self::session_user(principal)?;
        let row = self
            .find_user(user_id)
            .await?
            .ok_or(Error::InvalidSession)?;
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
        code: &str,
    ) -> Result<Vec<String>, Error> {
        let user_id = Self::session_user(principal)?;
        let row = self
            .find_user(user_id)
            .await?
            .ok_or(Error::InvalidSession)?;
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
            return Err(Error::InvalidCode);
        }
        self.throttle.clear(&bucket).await?;
        let tx = rampart_kit::db::begin_write(&self.db).await?;
        user::Entity::update_many()
            .col_expr(user::Column::TotpConfirmed, Expr::value(true))
            .filter(user::Column::Id.eq(&row.id))
            .exec(&tx)
            .await?;
        let codes = self.new_recovery_codes(&tx, &row.id).await?;
        let record = Self::record(
            Some(principal),
            row.tenant_id.as_deref(),
            "user.totp_enrolled",
            format!("user:{}", row.id),
            &principal.request_id,
        );
        self.outbox.enqueue(&tx, &record).await?;
        tx.commit().await?;
        self.outbox.wake();
        Ok(codes)
    }
}

/// The throttle bucket of an account, whether or not it exists.
fn account_bucket(scope: &str, email: &str) -> String {
    format!("acct:{scope}:{email}")
}
