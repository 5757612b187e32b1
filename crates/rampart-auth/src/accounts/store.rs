//! The accounts' users, always seen through a scope.
//!
//! A [`UserStore`] is built for the platform or for one tenant, and every
//! query it makes starts from that scope, so a handler cannot forget it: a
//! tenant's store has no way to name another tenant's user, and such an id
//! is simply not found (as in the CRM's `CustomerStore::for_tenant`).
//!
//! A store's *own* accounts are those of its scope: a tenant's users, or
//! the platform's admins. Emails are unique within a scope, so finding by
//! email, listing and creating use the own accounts. The platform's store
//! also *reaches* every tenant's users by id, because platform admins
//! manage every tenant; a tenant's store reaches only its own.

use chrono::{DateTime, Utc};
use rampart_kit::ids::{TenantId, UserId};
use rampart_kit::principal::Role;
use sea_orm::sea_query::{Expr, IntoCondition};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait,
    DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, Select,
};

use crate::domain::users::{Email, Scope};
use crate::entity::user;
use crate::error::Error;

/// A user about to be stored, its password already hashed and its TOTP
/// secret (if the operator enrols one at once) already sealed.
#[derive(Debug)]
pub(super) struct NewUserRow {
    pub id: UserId,
    pub email: Email,
    pub role: Role,
    pub password_hash: String,
    pub sealed_totp_secret: Option<String>,
}

/// A change to a user's row, written in the caller's transaction.
#[derive(Debug)]
pub(super) enum UserUpdate {
    Role(Role),
    /// `Some` disables the account from then on; `None` enables it.
    DisabledAt(Option<DateTime<Utc>>),
    PasswordHash(String),
}

#[derive(Debug, Clone)]
pub(super) struct UserStore<'a> {
    db: &'a DatabaseConnection,
    scope: Scope,
}

impl<'a> UserStore<'a> {
    /// The platform's admins, reaching every tenant's users by id.
    pub(super) fn for_platform(db: &'a DatabaseConnection) -> Self {
        Self {
            db,
            scope: Scope::Platform,
        }
    }

    /// One tenant's users, and only those. The tenant must come from the
    /// caller's principal or a row the server wrote, never from a request
    /// body unchecked.
    pub(super) fn for_tenant(db: &'a DatabaseConnection, tenant: TenantId) -> Self {
        Self {
            db,
            scope: Scope::Tenant(tenant),
        }
    }

    /// The store of an account's scope.
    pub(super) fn for_scope(db: &'a DatabaseConnection, scope: Scope) -> Self {
        Self { db, scope }
    }

    pub(super) fn scope(&self) -> &Scope {
        &self.scope
    }

    /// Which users this store reaches by id.
    fn reach(&self) -> Condition {
        match &self.scope {
            Scope::Platform => Condition::all(),
            Scope::Tenant(tenant) => user::Column::TenantId.eq(tenant.as_str()).into_condition(),
        }
    }

    /// Every by-id query starts here, already scoped.
    fn reachable(&self) -> Select<user::Entity> {
        user::Entity::find().filter(self.reach())
    }

    /// Every query of the store's own accounts starts here.
    fn own(&self) -> Select<user::Entity> {
        user::Entity::find().filter(user::Column::Scope.eq(self.scope.key()))
    }

    /// The user `id`, if this store reaches it.
    pub(super) async fn find(&self, id: &UserId) -> Result<Option<user::Model>, Error> {
        Ok(self
            .reachable()
            .filter(user::Column::Id.eq(id.as_str()))
            .one(self.db)
            .await?)
    }

    /// The account of this scope with `email`.
    pub(super) async fn find_by_email(&self, email: &Email) -> Result<Option<user::Model>, Error> {
        Ok(self
            .own()
            .filter(user::Column::Email.eq(email.as_str()))
            .one(self.db)
            .await?)
    }

    /// The accounts of this scope, oldest first.
    pub(super) async fn list(&self) -> Result<Vec<user::Model>, Error> {
        Ok(self
            .own()
            .order_by_asc(user::Column::Id)
            .all(self.db)
            .await?)
    }

    /// Stores a new account of this scope; an email taken in the scope is
    /// refused.
    pub(super) async fn insert(&self, new: NewUserRow) -> Result<user::Model, Error> {
        if self.find_by_email(&new.email).await?.is_some() {
            return Err(Error::AlreadyExists(
                "a user with this email already exists".to_owned(),
            ));
        }
        Ok(user::ActiveModel {
            id: Set(new.id.into_string()),
            tenant_id: Set(self.scope.tenant().map(ToString::to_string)),
            scope: Set(self.scope.key().to_owned()),
            email: Set(new.email.as_str().to_owned()),
            role: Set(new.role.as_str().to_owned()),
            password_hash: Set(new.password_hash),
            totp_secret: Set(new.sealed_totp_secret),
            totp_confirmed: Set(false),
            totp_last_step: Set(None),
            disabled_at: Set(None),
            created_at: Set(Utc::now()),
        }
        .insert(self.db)
        .await?)
    }

    /// Writes `update` to the user `id`, if this store reaches it, in the
    /// caller's transaction.
    pub(super) async fn update(
        &self,
        tx: &impl ConnectionTrait,
        id: &UserId,
        update: UserUpdate,
    ) -> Result<(), Error> {
        let (column, value) = match update {
            UserUpdate::Role(role) => (user::Column::Role, Expr::value(role.as_str())),
            UserUpdate::DisabledAt(at) => (user::Column::DisabledAt, Expr::value(at)),
            UserUpdate::PasswordHash(hash) => (user::Column::PasswordHash, Expr::value(hash)),
        };
        user::Entity::update_many()
            .col_expr(column, value)
            .filter(user::Column::Id.eq(id.as_str()))
            .filter(self.reach())
            .exec(tx)
            .await?;
        Ok(())
    }
}

/// The id of a stored user. The rows were written by this service from
/// parsed ids; a failure means the table was edited by hand.
pub(super) fn user_id_of(row: &user::Model) -> Result<UserId, Error> {
    UserId::parse(&row.id)
        .map_err(|e| anyhow::anyhow!("stored user {:?} has a bad id: {e}", row.id).into())
}

/// The scope a stored user lives in.
pub(super) fn scope_of(row: &user::Model) -> Result<Scope, Error> {
    match &row.tenant_id {
        None => Ok(Scope::Platform),
        Some(tenant) => TenantId::parse(tenant)
            .map(Scope::Tenant)
            .map_err(|e| anyhow::anyhow!("stored user {} has a bad tenant id: {e}", row.id).into()),
    }
}
