//! An incident's freeze of the AI: while a tenant is frozen, every
//! conversation goes to a person.
//!
//! `rampart incident contain` (through the gateway, right after auth
//! contained the target, as billing does with access) writes one row per
//! incident in `esc_ai_freeze`; `rampart incident restore` deletes it. The
//! freeze lives here because escalation is the one place both AI paths pass:
//! every customer message, on every channel, is decided by
//! [`crate::grpc`]'s `gate`, which opens a handoff for a frozen tenant
//! whatever the detector says; every AI reply is reviewed by its
//! `review_reply`, which refuses it for a frozen tenant with
//! [`AI_FROZEN`]. The row is read on each call (one primary-key look-up),
//! so every instance sees a freeze the moment it commits, and it survives
//! restarts. Setting and lifting are audited in the platform log as
//! `incident.ai_frozen` and `incident.ai_unfrozen`.

use chrono::Utc;
use rampart_kit::ids::TenantId;
use rampart_kit::outbox::{AuditRecord, Outbox};
use rampart_kit::principal::Principal;
use rampart_proto::escalation::v1::incident_freeze_service_server::IncidentFreezeService;
use rampart_proto::escalation::v1::{SetAiFreezeRequest, SetAiFreezeResponse};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    PaginatorTrait, QueryFilter,
};
use sea_orm_migration::prelude::*;
use tonic::{Request, Response, Status};

use crate::Error;

/// The message of the refusal of an AI reply for a frozen tenant; the
/// gateway answers it as a 409 of type `ai-frozen`, recognising this
/// prefix.
pub const AI_FROZEN: &str = "ai replies are frozen for this tenant by a security incident; a person answers until it is restored";

/// `esc_ai_freeze`: one row per incident freezing a tenant.
pub mod ai_freeze {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "esc_ai_freeze")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: String,
        /// The incident holding the freeze (`inc_...`).
        #[sea_orm(primary_key, auto_increment = false)]
        pub incident_id: String,
        pub frozen_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Whether `tenant`'s AI replies are frozen by an incident.
pub async fn is_frozen(db: &impl ConnectionTrait, tenant: &str) -> Result<bool, DbErr> {
    let rows = ai_freeze::Entity::find()
        .filter(ai_freeze::Column::TenantId.eq(tenant))
        .count(db)
        .await?;
    Ok(rows > 0)
}

/// Refuses an AI reply for a frozen tenant.
pub(crate) async fn refuse_if_frozen(db: &DatabaseConnection, tenant: &str) -> Result<(), Status> {
    if is_frozen(db, tenant).await.map_err(Error::from)? {
        tracing::info!(%tenant, "ai reply refused: frozen by an incident");
        return Err(Status::failed_precondition(AI_FROZEN));
    }
    Ok(())
}

/// Parses an incident id: `inc_` and 32 lowercase hex digits.
fn incident_id(text: &str) -> Result<&str, Status> {
    let body = text.strip_prefix("inc_").unwrap_or_default();
    if body.len() == 32
        && body
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        Ok(text)
    } else {
        Err(Status::invalid_argument(
            "incident_id is not a valid incident id",
        ))
    }
}

/// The `IncidentFreezeService` handler.
#[derive(Debug, Clone)]
pub struct FreezeApi {
    db: DatabaseConnection,
    outbox: Outbox,
}

impl FreezeApi {
    #[must_use]
    pub fn new(db: DatabaseConnection, outbox: Outbox) -> Self {
        Self { db, outbox }
    }
}

#[tonic::async_trait]
impl IncidentFreezeService for FreezeApi {
    async fn set_ai_freeze(
        &self,
        request: Request<SetAiFreezeRequest>,
    ) -> Result<Response<SetAiFreezeResponse>, Status> {
        let principal = Principal::from_request(&request)?;
        principal.require_platform_admin()?;
        let request = request.into_inner();
        let tenant = TenantId::parse(&request.tenant_id)
            .map_err(|_| Status::invalid_argument("tenant_id is not a valid tenant id"))?;
        let incident = incident_id(&request.incident_id)?;
        let mut change = self.outbox.begin(&self.db).await.map_err(Error::from)?;
        let existing = ai_freeze::Entity::find_by_id((tenant.to_string(), incident.to_owned()))
            .one(change.tx())
            .await
            .map_err(Error::from)?;
        let changed = existing.is_some() != request.frozen;
        if changed {
            if request.frozen {
                ai_freeze::Entity::insert(ai_freeze::ActiveModel {
                    tenant_id: Set(tenant.to_string()),
                    incident_id: Set(incident.to_owned()),
                    frozen_at: Set(Utc::now()),
                })
                .on_conflict(
                    OnConflict::columns([
                        ai_freeze::Column::TenantId,
                        ai_freeze::Column::IncidentId,
                    ])
                    .do_nothing()
                    .to_owned(),
                )
                .exec_without_returning(change.tx())
                .await
                .map_err(Error::from)?;
            } else {
                ai_freeze::Entity::delete_by_id((tenant.to_string(), incident.to_owned()))
                    .exec(change.tx())
                    .await
                    .map_err(Error::from)?;
            }
            let action = if request.frozen {
                "incident.ai_frozen"
            } else {
                "incident.ai_unfrozen"
            };
            change.audit(
                AuditRecord::success(&principal, None, action, format!("incident:{incident}"))
                    .with_detail("tenant_id", tenant.as_str()),
            );
        }
        let frozen = is_frozen(change.tx(), tenant.as_str())
            .await
            .map_err(Error::from)?;
        change.commit().await.map_err(Error::from)?;
        tracing::warn!(
            tenant_id = %tenant,
            incident_id = %incident,
            frozen,
            changed,
            request_id = %principal.request_id,
            "ai freeze set"
        );
        Ok(Response::new(SetAiFreezeResponse { frozen, changed }))
    }
}

/// The `esc_ai_freeze` table.
pub(crate) struct CreateAiFreeze;

impl MigrationName for CreateAiFreeze {
    fn name(&self) -> &str {
        "m0004_ai_freeze"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for CreateAiFreeze {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("esc_ai_freeze")
                    .col(ColumnDef::new("tenant_id").string_len(64).not_null())
                    .col(ColumnDef::new("incident_id").string_len(64).not_null())
                    .col(
                        ColumnDef::new("frozen_at")
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .primary_key(Index::create().col("tenant_id").col("incident_id"))
                    .to_owned(),
            )
            .await
    }
}
