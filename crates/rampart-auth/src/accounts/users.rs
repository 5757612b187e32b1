//! Managing people: creating users (and the operator's first admin),
//! listing them, changing roles and enabled state, the tenant's
//! second-factor rule, and changing one's own password.

use chrono::Utc;
use rampart_kit::ids::{SessionId, TenantId, UserId};
use rampart_kit::outbox::AuditRecord;
use rampart_kit::principal::{Principal, PrincipalKind, Role};
use rampart_kit::revocation::Revocation;
use rampart_kit::secret::Password;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};

use crate::domain::sessions::RevokeReason;
use crate::domain::users::{Email, Scope, parse_tenant_role};
use crate::entity::{tenant_security, user};
use crate::error::Error;
use crate::passwords::PasswordPolicy;
use crate::throttle::Reservation;
use crate::totp::TotpKey;

use super::model::{NewUser, PasswordChange, UserChange, UserView};
use super::service::{Accounts, account_bucket, role_of, view};
use super::store::{NewUserRow, UserStore, UserUpdate, scope_of, user_id_of};

impl Accounts {
    /// Creates a user. Owners create users of their tenant; platform admins
    /// create users of any tenant, and other admins (empty tenant), whose
    /// email must be in the office domains.
    pub async fn create_user(
        &self,
        principal: &Principal,
        new: NewUser<'_>,
    ) -> Result<UserView, Error> {
        let manager = self.users_for(principal)?;
        let email = Email::parse(new.email)?;
        let (users, role) = if new.tenant_id.is_empty() {
            if *manager.scope() != Scope::Platform {
                return Err(Error::InvalidArgument("tenant_id is required".to_owned()));
            }
            if !new.role.is_empty() && new.role != "admin" {
                return Err(Error::InvalidArgument(
                    "a user without a tenant is a platform admin; role must be \"admin\""
                        .to_owned(),
                ));
            }
            (manager, Role::Admin)
        } else {
            let tenant = TenantId::parse(new.tenant_id).map_err(|_| {
                Error::InvalidArgument("tenant_id is not a valid tenant id".to_owned())
            })?;
            if let Scope::Tenant(own) = manager.scope()
                && *own != tenant
            {
                return Err(Error::NotFound("tenant"));
            }
            (
                UserStore::for_tenant(&self.db, tenant),
                parse_tenant_role(new.role)?,
            )
        };
        let user_id = UserId::generate();
        let created = self
            .insert_user(
                &users,
                &email,
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
        self.outbox.record(&self.db, [record]).await?;
        tracing::info!(user_id = %user_id, role = %role, "user created");
        view(&created)
    }

    /// Stores a new user after checking the password and, for admins, the
    /// office domains. `totp` enrols a second factor at once (operators
    /// creating an admin).
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn insert_user(
        &self,
        users: &UserStore<'_>,
        email: &Email,
        role: Role,
        password: &Password,
        context_words: &[String],
        user_id: &UserId,
        totp: Option<&TotpKey>,
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
        let password = PasswordPolicy::with_context(context).check(password.expose(), false)?;
        let digest = self.passwords.hash(&password).await?;
        let sealed = totp
            .map(|secret| self.sealer.seal(secret, user_id.as_str()))
            .transpose()?;
        users
            .insert(NewUserRow {
                id: user_id.clone(),
                email: email.clone(),
                role,
                password_hash: digest.0,
                sealed_totp_secret: sealed,
            })
            .await
    }

    /// For the operator's `rampart admin create-user`: a platform admin with
    /// a TOTP secret already enrolled, confirmed by the first code at the
    /// first sign-in. Returns the user and the secret to show once.
    pub async fn create_platform_admin(
        &self,
        email: &str,
        password: &Password,
    ) -> Result<(UserView, TotpKey), Error> {
        let email = Email::parse(email)?;
        let user_id = UserId::generate();
        let secret = TotpKey::generate();
        let row = self
            .insert_user(
                &UserStore::for_platform(&self.db),
                &email,
                Role::Admin,
                password,
                &[],
                &user_id,
                Some(&secret),
            )
            .await?;
        let principal = Principal {
            mode: rampart_kit::principal::DataMode::Live,
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
        self.outbox.record(&self.db, [record]).await?;
        Ok((view(&row)?, secret))
    }

    pub async fn list_users(
        &self,
        principal: &Principal,
        tenant_id: &str,
    ) -> Result<Vec<UserView>, Error> {
        let users = if principal.require_platform_admin().is_ok() {
            if tenant_id.is_empty() {
                UserStore::for_platform(&self.db)
            } else {
                let tenant = TenantId::parse(tenant_id)
                    .map_err(|_| Error::InvalidArgument("tenant_id is not valid".to_owned()))?;
                UserStore::for_tenant(&self.db, tenant)
            }
        } else {
            principal.require_role(Role::Manager)?;
            UserStore::for_tenant(&self.db, principal.require_tenant()?.clone())
        };
        users.list().await?.iter().map(view).collect()
    }

    /// Changes a user's role or enabled state. A role change is audited and
    /// announced so the next request sees it; disabling ends every session.
    pub async fn update_user(
        &self,
        principal: &Principal,
        user_id: &UserId,
        requested: UserChange<'_>,
    ) -> Result<(UserView, Vec<SessionId>), Error> {
        let users = self.users_for(principal)?;
        let row = users.find(user_id).await?.ok_or(Error::NotFound("user"))?;
        let current = role_of(&row)?;
        let new_role = if requested.role.is_empty() {
            None
        } else if current == Role::Admin {
            return Err(Error::InvalidArgument(
                "a platform admin's role cannot be changed".to_owned(),
            ));
        } else {
            Some(parse_tenant_role(requested.role)?).filter(|role| *role != current)
        };
        let tenant = row.tenant_id.clone();
        let target = format!("user:{user_id}");
        let now = Utc::now();
        let mut records = Vec::new();
        let mut change = self.outbox.begin(&self.db).await?;
        if let Some(role) = new_role {
            users
                .update(change.tx(), user_id, UserUpdate::Role(role))
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
        match requested.disabled {
            Some(true) if row.disabled_at.is_none() => {
                users
                    .update(change.tx(), user_id, UserUpdate::DisabledAt(Some(now)))
                    .await?;
                revoked =
                    Self::revoke_all_in(change.tx(), user_id, RevokeReason::UserDisabled, None)
                        .await?;
                records.push(Self::record(
                    Some(principal),
                    tenant.as_deref(),
                    "user.disabled",
                    target.clone(),
                    &principal.request_id,
                ));
            }
            Some(false) if row.disabled_at.is_some() => {
                users
                    .update(change.tx(), user_id, UserUpdate::DisabledAt(None))
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
        if !records.is_empty() {
            // The next request sees the new role or state at once.
            change.announce(Revocation::Subject(user_id.to_string()));
        }
        for record in records {
            change.audit(record);
        }
        change.commit().await?;
        if requested.disabled == Some(false) {
            // Re-enabling also lifts a lockout.
            self.throttle
                .clear(&account_bucket(&row.scope, &row.email))
                .await?;
        }
        let updated = users.find(user_id).await?.ok_or(Error::NotFound("user"))?;
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
        let mut change = self.outbox.begin(&self.db).await?;
        tenant_security::Entity::delete_by_id(tenant.clone())
            .exec(change.tx())
            .await?;
        tenant_security::ActiveModel {
            tenant_id: Set(tenant.clone()),
            require_second_factor_for_managers: Set(require_second_factor_for_managers),
            updated_at: Set(Utc::now()),
        }
        .insert(change.tx())
        .await?;
        let record = Self::record(
            Some(principal),
            Some(&tenant),
            "tenant.settings_changed",
            format!("tenant:{tenant}:require_second_factor_for_managers"),
            &principal.request_id,
        );
        change.audit(record);
        change.commit().await?;
        Ok(())
    }

    /// Changes the caller's password, given the current one; the user's
    /// other sessions end.
    pub async fn change_password(
        &self,
        principal: &Principal,
        requested: PasswordChange<'_>,
    ) -> Result<Vec<SessionId>, Error> {
        let row = self.own_account(principal).await?;
        let user_id = user_id_of(&row)?;
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
            .verify(place, requested.current.expose(), Some(&row.password_hash))
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
            self.outbox.record(&self.db, [record]).await?;
            return Err(Error::Forbidden("the current password is wrong".to_owned()));
        }
        self.throttle.clear(&account).await?;
        let context = requested
            .context_words
            .iter()
            .map(String::as_str)
            .chain([row.email.as_str()]);
        let password = PasswordPolicy::with_context(context)
            .check(requested.new.expose(), row.totp_confirmed)?;
        let digest = self.passwords.hash(&password).await?;
        let mut change = self.outbox.begin(&self.db).await?;
        UserStore::for_scope(&self.db, scope_of(&row)?)
            .update(change.tx(), &user_id, UserUpdate::PasswordHash(digest.0))
            .await?;
        let current_session = SessionId::parse(&principal.credential_id).ok();
        let revoked = Self::revoke_all_in(
            change.tx(),
            &user_id,
            RevokeReason::PasswordChanged,
            current_session.as_ref(),
        )
        .await?;
        let record = Self::record(
            Some(principal),
            row.tenant_id.as_deref(),
            "user.password_changed",
            format!("user:{}", row.id),
            &principal.request_id,
        );
        change.audit(record);
        change.announce(Revocation::Subject(user_id.into_string()));
        change.commit().await?;
        Ok(revoked)
    }
}
