//! Managing people: creating users (and the operator's first admin),
//! listing them, changing roles and enabled state, the tenant's
//! second-factor rule, and changing one's own password.

use chrono::{DateTime, Utc};
use rampart_kit::ids::{TenantId, UserId};
use rampart_kit::outbox::AuditRecord;
use rampart_kit::principal::{Principal, PrincipalKind, Role};
use rampart_kit::revocation::Revocation;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
};

use crate::domain::users::{Email, Scope, parse_tenant_role};
use crate::entity::{tenant_security, user};
use crate::error::Error;
use crate::passwords::PasswordPolicy;
use crate::throttle::Reservation;
use crate::totp::TotpSecret;

use super::model::{NewUser, UserChange, UserView};
use super::service::{Accounts, Authority, account_bucket, role_of, view};

impl Accounts {
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
        self.outbox.record(&self.db, [record]).await?;
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
        requested: UserChange<'_>,
    ) -> Result<(UserView, Vec<String>), Error> {
        let row = self.managed_user(principal, user_id).await?;
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
        let target = format!("user:{}", row.id);
        let now = Utc::now();
        let mut records = Vec::new();
        let mut change = self.outbox.begin(&self.db).await?;
        if let Some(role) = new_role {
            user::Entity::update_many()
                .col_expr(user::Column::Role, Expr::value(role.as_str()))
                .filter(user::Column::Id.eq(&row.id))
                .exec(change.tx())
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
                user::Entity::update_many()
                    .col_expr(user::Column::DisabledAt, Expr::value(now))
                    .filter(user::Column::Id.eq(&row.id))
                    .exec(change.tx())
                    .await?;
                revoked = Self::revoke_all_in(change.tx(), &row.id, "user_disabled", None).await?;
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
                    .exec(change.tx())
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
            change.announce(Revocation::Subject(row.id.clone()));
        }
        for record in records {
            change.audit(record);
        }
        change.commit().await?;
        if requested.disabled == Some(false) {
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
            self.outbox.record(&self.db, [record]).await?;
            return Err(Error::Forbidden("the current password is wrong".to_owned()));
        }
        self.throttle.clear(&account).await?;
        let context = context_words
            .iter()
            .map(String::as_str)
            .chain([row.email.as_str()]);
        let password = PasswordPolicy::with_context(context).check(new, row.totp_confirmed)?;
        let digest = self.passwords.hash(&password).await?;
        let mut change = self.outbox.begin(&self.db).await?;
        user::Entity::update_many()
            .col_expr(user::Column::PasswordHash, Expr::value(digest.0))
            .filter(user::Column::Id.eq(&row.id))
            .exec(change.tx())
            .await?;
        let revoked = Self::revoke_all_in(
            change.tx(),
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
        change.audit(record);
        change.announce(Revocation::Subject(row.id.clone()));
        change.commit().await?;
        Ok(revoked)
    }
}
