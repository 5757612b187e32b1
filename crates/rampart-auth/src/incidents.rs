//! Incidents: containing a compromised tenant, user or key in one step, and
//! restoring its access path afterwards (`rampart incident`).
//!
//! Containing writes, in one transaction: the target's API keys revoked,
//! its sessions revoked, its access path refused until restored (a tenant
//! through its isolation, `auth_tenant_access.isolated_by`, a flag of its
//! own that billing never writes; a user by disabling the account; a key
//! is revoked for good), the incident row remembering what
//! was changed, and one `incident.contained` audit event. The revocations
//! are announced after the commit, so every gateway drops what it cached.
//! Everything lands in the database first: when the bus (Redis) is away,
//! gateways already refuse what they cannot check, and the verdicts they
//! ask for come from here.
//!
//! Restoring puts back exactly what containing changed (it clears the
//! isolation; billing's suspension, before or during the incident, is
//! billing's) and records `incident.restored`; revoked credentials stay
//! revoked.

use chrono::Utc;
use rampart_kit::ids::{ApiKeyId, TenantId, UserId};
use rampart_kit::outbox::{AuditRecord, Change, Outbox};
use rampart_kit::principal::Principal;
use rampart_kit::revocation::Revocation;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait,
    IntoActiveModel, QueryFilter,
};
use sea_orm_migration::prelude::*;

use crate::entity::{api_key, incident, session, tenant_access, user};
use crate::error::Error;

/// The billing state incidents contained before `m0007_tenant_isolation`
/// suspended their tenant under; restoring one of those puts the billing
/// state back as well.
const LEGACY_INCIDENT_STATE: &str = "incident";
/// The longest reason kept.
const MAX_REASON_LEN: usize = 500;

/// What an incident is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    Tenant(TenantId),
    User(UserId),
    /// A tenant's API key.
    Key(ApiKeyId),
    /// A platform admin key.
    AdminKey(ApiKeyId),
}

impl Target {
    /// Parses `kind` and `id`; the error names the bad field.
    pub(crate) fn parse(kind: &str, id: &str) -> Result<Self, Error> {
        let bad =
            |what: &str| Error::InvalidArgument(format!("target_id is not a valid {what} id"));
        match kind {
            "tenant" => TenantId::parse(id)
                .map(Self::Tenant)
                .map_err(|_| bad("tenant")),
            "user" => UserId::parse(id).map(Self::User).map_err(|_| bad("user")),
            "key" => ApiKeyId::parse(id).map(Self::Key).map_err(|_| bad("key")),
            "admin_key" => ApiKeyId::parse(id)
                .map(Self::AdminKey)
                .map_err(|_| bad("key")),
            _ => Err(Error::InvalidArgument(
                "target_kind must be tenant, user, key or admin_key".to_owned(),
            )),
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Self::Tenant(_) => "tenant",
            Self::User(_) => "user",
            Self::Key(_) => "key",
            Self::AdminKey(_) => "admin_key",
        }
    }

    fn id(&self) -> &str {
        match self {
            Self::Tenant(id) => id.as_str(),
            Self::User(id) => id.as_str(),
            Self::Key(id) | Self::AdminKey(id) => id.as_str(),
        }
    }
}

/// Parses an incident id: `inc_` and 32 lowercase hex digits.
pub(crate) fn parse_incident_id(text: &str) -> Result<&str, Error> {
    let body = text.strip_prefix("inc_").unwrap_or_default();
    if body.len() == 32
        && body
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        Ok(text)
    } else {
        Err(Error::InvalidArgument(
            "incident_id is not a valid incident id".to_owned(),
        ))
    }
}

/// Contains and restores incidents.
#[derive(Debug, Clone)]
pub(crate) struct Incidents {
    db: DatabaseConnection,
    outbox: Outbox,
}

impl Incidents {
    pub(crate) fn new(db: DatabaseConnection, outbox: Outbox) -> Self {
        Self { db, outbox }
    }

    /// Contains `target` on behalf of `principal` (a platform admin).
    pub(crate) async fn contain(
        &self,
        principal: &Principal,
        target: Target,
        reason: &str,
    ) -> Result<incident::Model, Error> {
        principal.require_platform_admin()?;
        if reason.len() > MAX_REASON_LEN || reason.chars().any(char::is_control) {
            return Err(Error::InvalidArgument(format!(
                "reason must be at most {MAX_REASON_LEN} bytes of text without control characters"
            )));
        }
        let now = Utc::now();
        let mut change = self.outbox.begin(&self.db).await?;
        let id = format!("inc_{}", uuid::Uuid::now_v7().simple());
        let (tenant, keys, sessions, prior_state) = match &target {
            Target::Tenant(tenant) => {
                if !tenant_is_known(&change, tenant).await? {
                    return Err(Error::NotFound("tenant"));
                }
                let keys = revoke_keys(
                    &mut change,
                    api_key::Column::TenantId.eq(tenant.as_str()),
                    now,
                )
                .await?;
                let sessions = revoke_sessions(
                    &mut change,
                    session::Column::TenantId.eq(tenant.as_str()),
                    now,
                )
                .await?;
                isolate_tenant(&change, tenant.as_str(), &id, now).await?;
                change.announce(Revocation::Tenant(tenant.to_string()));
                (Some(tenant.to_string()), keys, sessions, None)
            }
            Target::User(user_id) => {
                let row = user::Entity::find_by_id(user_id.as_str())
                    .one(change.tx())
                    .await?
                    .ok_or(Error::NotFound("user"))?;
                let sessions = revoke_sessions(
                    &mut change,
                    session::Column::UserId.eq(user_id.as_str()),
                    now,
                )
                .await?;
                let disabled_here = row.disabled_at.is_none();
                let tenant = row.tenant_id.clone();
                if disabled_here {
                    let mut active = row.into_active_model();
                    active.disabled_at = Set(Some(now));
                    active.update(change.tx()).await?;
                }
                change.announce(Revocation::Subject(user_id.to_string()));
                (
                    tenant,
                    0,
                    sessions,
                    disabled_here.then(|| "disabled".to_owned()),
                )
            }
            Target::Key(key_id) | Target::AdminKey(key_id) => {
                let row = api_key::Entity::find_by_id(key_id.as_str())
                    .one(change.tx())
                    .await?;
                let admin = matches!(target, Target::AdminKey(_));
                // A tenant key named as an admin key (or the reverse) is
                // not the key the operator meant: not found, like no key.
                let Some(row) = row.filter(|row| row.tenant_id.is_empty() == admin) else {
                    return Err(Error::NotFound(if admin { "admin key" } else { "key" }));
                };
                let tenant = (!row.tenant_id.is_empty()).then(|| row.tenant_id.clone());
                let keys =
                    revoke_keys(&mut change, api_key::Column::Id.eq(key_id.as_str()), now).await?;
                (tenant, keys, 0, None)
            }
        };
        let model = incident::Model {
            id,
            target_kind: target.kind().to_owned(),
            target_id: target.id().to_owned(),
            tenant_id: tenant,
            reason: reason.to_owned(),
            contained_at: now,
            restored_at: None,
            credentials_revoked: keys,
            sessions_revoked: sessions,
            prior_state,
        };
        incident::Entity::insert(model.clone().into_active_model())
            .exec(change.tx())
            .await?;
        let mut record = AuditRecord::success(
            principal,
            None,
            "incident.contained",
            format!("incident:{}", model.id),
        )
        .with_detail("target_kind", target.kind())
        .with_detail("target_id", target.id())
        .with_detail("credentials_revoked", keys.to_string())
        .with_detail("sessions_revoked", sessions.to_string());
        if !reason.is_empty() {
            record = record.with_detail("reason", reason);
        }
        change.audit(record);
        change.commit().await?;
        tracing::warn!(
            incident_id = %model.id,
            target_kind = target.kind(),
            target_id = target.id(),
            credentials_revoked = keys,
            sessions_revoked = sessions,
            request_id = %principal.request_id,
            "incident contained"
        );
        Ok(model)
    }

    /// Lifts incident `id`'s isolation; restoring a restored incident
    /// changes nothing and answers it as it is.
    pub(crate) async fn restore(
        &self,
        principal: &Principal,
        id: &str,
    ) -> Result<incident::Model, Error> {
        principal.require_platform_admin()?;
        let mut change = self.outbox.begin(&self.db).await?;
        let row = incident::Entity::find_by_id(id)
            .one(change.tx())
            .await?
            .ok_or(Error::NotFound("incident"))?;
        if row.restored_at.is_some() {
            return Ok(row);
        }
        match row.target_kind.as_str() {
            "tenant" => {
                restore_tenant(&change, &row).await?;
                restore_legacy_suspension(&change, &row).await?;
                change.announce(Revocation::Tenant(row.target_id.clone()));
            }
            "user" if row.prior_state.as_deref() == Some("disabled") => {
                user::Entity::update_many()
                    .col_expr(
                        user::Column::DisabledAt,
                        Expr::value(Option::<chrono::DateTime<Utc>>::None),
                    )
                    .filter(user::Column::Id.eq(row.target_id.as_str()))
                    .exec(change.tx())
                    .await?;
                change.announce(Revocation::Subject(row.target_id.clone()));
            }
            _ => {}
        }
        let mut active = row.clone().into_active_model();
        let now = Utc::now();
        active.restored_at = Set(Some(now));
        let restored = active.update(change.tx()).await?;
        change.audit(
            AuditRecord::success(
                principal,
                None,
                "incident.restored",
                format!("incident:{}", row.id),
            )
            .with_detail("target_kind", row.target_kind.as_str())
            .with_detail("target_id", row.target_id.as_str()),
        );
        change.commit().await?;
        tracing::warn!(incident_id = %row.id, request_id = %principal.request_id, "incident restored");
        Ok(restored)
    }

    /// Incident `id`.
    pub(crate) async fn get(
        &self,
        principal: &Principal,
        id: &str,
    ) -> Result<incident::Model, Error> {
        principal.require_platform_admin()?;
        incident::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .ok_or(Error::NotFound("incident"))
    }
}

/// Whether auth has ever seen `tenant`: every tenant is created with a key,
/// and its users and access state live here.
async fn tenant_is_known(change: &Change<'_>, tenant: &TenantId) -> Result<bool, DbErr> {
    let key = api_key::Entity::find()
        .filter(api_key::Column::TenantId.eq(tenant.as_str()))
        .one(change.tx())
        .await?;
    if key.is_some() {
        return Ok(true);
    }
    let member = user::Entity::find()
        .filter(user::Column::TenantId.eq(tenant.as_str()))
        .one(change.tx())
        .await?;
    Ok(member.is_some())
}

/// Revokes the live keys matching `filter`, announcing each; how many.
async fn revoke_keys(
    change: &mut Change<'_>,
    filter: sea_orm::sea_query::SimpleExpr,
    now: chrono::DateTime<Utc>,
) -> Result<i32, DbErr> {
    let live = api_key::Entity::find()
        .filter(filter)
        .filter(api_key::Column::RevokedAt.is_null())
        .all(change.tx())
        .await?;
    for row in &live {
        api_key::Entity::update_many()
            .col_expr(api_key::Column::RevokedAt, Expr::value(Some(now)))
            .filter(api_key::Column::Id.eq(row.id.as_str()))
            .exec(change.tx())
            .await?;
        change.announce(Revocation::Credential(row.id.clone()));
    }
    Ok(<i32 as TryFrom<usize>>::try_from(live.len()).unwrap_or(i32::MAX))
}

/// Revokes the live sessions matching `filter`, announcing each; how many.
async fn revoke_sessions(
    change: &mut Change<'_>,
    filter: sea_orm::sea_query::SimpleExpr,
    now: chrono::DateTime<Utc>,
) -> Result<i32, DbErr> {
    let live = session::Entity::find()
        .filter(filter)
        .filter(session::Column::RevokedAt.is_null())
        .all(change.tx())
        .await?;
    for row in &live {
        session::Entity::update_many()
            .col_expr(session::Column::RevokedAt, Expr::value(Some(now)))
            // A reason the session list already knows how to show.
            .col_expr(
                session::Column::RevokeReason,
                Expr::value(Some("revoked_all".to_owned())),
            )
            .filter(session::Column::Id.eq(row.id.as_str()))
            .exec(change.tx())
            .await?;
        change.announce(Revocation::Credential(row.id.clone()));
    }
    Ok(<i32 as TryFrom<usize>>::try_from(live.len()).unwrap_or(i32::MAX))
}

/// Isolates `tenant` for incident `id`. A tenant already isolated by
/// another open incident keeps that one's id: restoring it hands the
/// isolation on (see [`restore_tenant`]).
async fn isolate_tenant(
    change: &Change<'_>,
    tenant: &str,
    id: &str,
    now: chrono::DateTime<Utc>,
) -> Result<(), DbErr> {
    let current = tenant_access::Entity::find_by_id(tenant)
        .one(change.tx())
        .await?
        .and_then(|row| row.isolated_by);
    if current.is_none() {
        crate::access::write_isolation(change.tx(), tenant, Some(id), now).await?;
    }
    Ok(())
}

/// Lifts `incident`'s isolation of its tenant: cleared, or handed to
/// another of the tenant's incidents still open (the tenant stays
/// isolated until the last is restored). Billing's state is not touched.
async fn restore_tenant(change: &Change<'_>, incident: &incident::Model) -> Result<(), DbErr> {
    let tenant = incident.target_id.as_str();
    let still_open = incident::Entity::find()
        .filter(incident::Column::TargetKind.eq("tenant"))
        .filter(incident::Column::TargetId.eq(tenant))
        .filter(incident::Column::RestoredAt.is_null())
        .filter(incident::Column::Id.ne(incident.id.as_str()))
        .one(change.tx())
        .await?
        .map(|other| other.id);
    crate::access::write_isolation(change.tx(), tenant, still_open.as_deref(), Utc::now()).await
}

/// Puts the tenant of an incident contained before
/// `m0007_tenant_isolation` back in the billing state it had before, if
/// billing has not moved it since (it still reads `incident`); a no-op for
/// every later incident, which never writes that state.
async fn restore_legacy_suspension(
    change: &Change<'_>,
    incident: &incident::Model,
) -> Result<(), DbErr> {
    let tenant = incident.target_id.as_str();
    let (suspended, state) = incident
        .prior_state
        .as_deref()
        .and_then(|prior| prior.split_once(' '))
        .unwrap_or(("false", "trial"));
    tenant_access::Entity::update_many()
        .col_expr(
            tenant_access::Column::Suspended,
            Expr::value(suspended == "true"),
        )
        .col_expr(tenant_access::Column::BillingState, Expr::value(state))
        .col_expr(tenant_access::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(tenant_access::Column::TenantId.eq(tenant))
        .filter(tenant_access::Column::BillingState.eq(LEGACY_INCIDENT_STATE))
        .exec(change.tx())
        .await?;
    Ok(())
}

/// The `auth_incident` table.
pub(crate) struct CreateIncidents;

impl MigrationName for CreateIncidents {
    fn name(&self) -> &str {
        "m0006_incidents"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for CreateIncidents {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("auth_incident")
                    .col(ColumnDef::new("id").string_len(64).not_null().primary_key())
                    .col(ColumnDef::new("target_kind").string_len(16).not_null())
                    .col(ColumnDef::new("target_id").string_len(64).not_null())
                    .col(ColumnDef::new("tenant_id").string_len(64).null())
                    .col(ColumnDef::new("reason").text().not_null())
                    .col(
                        ColumnDef::new("contained_at")
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new("restored_at")
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(ColumnDef::new("credentials_revoked").integer().not_null())
                    .col(ColumnDef::new("sessions_revoked").integer().not_null())
                    .col(ColumnDef::new("prior_state").string_len(64).null())
                    .to_owned(),
            )
            .await
    }
}
