//! Inbound telephony's tables (issue 24, parts 1 and 4):
//! - `crm_telephony_receipt`: one row per webhook handled, keyed by tenant
//!   and the request's own key (its MessageSid, or its CallSid and step),
//!   so a redelivery inside the replay window is refused; old rows are
//!   purged as new ones arrive;
//! - `crm_call`: one row per call: whether it was announced, whether the
//!   caller consented under the tenant's rule at the time, and what may be
//!   kept of it (a summary always; the recording's URL and the transcript,
//!   sealed, only with consent).

use sea_orm_migration::prelude::*;

pub(super) struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0014_telephony_inbound"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("crm_telephony_receipt")
                    .if_not_exists()
                    .col(ColumnDef::new("tenant_id").string_len(64).not_null())
                    .col(ColumnDef::new("request_key").string_len(160).not_null())
                    .col(
                        ColumnDef::new("received_at")
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .primary_key(Index::create().col("tenant_id").col("request_key"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("crm_telephony_receipt_by_age")
                    .table("crm_telephony_receipt")
                    .col("received_at")
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("crm_call")
                    .if_not_exists()
                    .col(ColumnDef::new("tenant_id").string_len(64).not_null())
                    .col(ColumnDef::new("call_sid").string_len(64).not_null())
                    .col(ColumnDef::new("mode").string_len(8).not_null())
                    .col(ColumnDef::new("channel_id").string_len(64).not_null())
                    .col(ColumnDef::new("phone_index").string_len(128).not_null())
                    .col(ColumnDef::new("consent_rule").string_len(16).not_null())
                    .col(ColumnDef::new("recording_enabled").boolean().not_null())
                    .col(ColumnDef::new("announced").boolean().not_null())
                    .col(ColumnDef::new("caller_consented").boolean().not_null())
                    .col(ColumnDef::new("status").string_len(32).not_null())
                    .col(ColumnDef::new("summary_sealed").binary().null())
                    .col(ColumnDef::new("recording_url_sealed").binary().null())
                    .col(ColumnDef::new("transcript_sealed").binary().null())
                    .col(
                        ColumnDef::new("started_at")
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new("updated_at")
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .primary_key(Index::create().col("tenant_id").col("call_sid"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("crm_call_by_number")
                    .table("crm_call")
                    .col("tenant_id")
                    .col("mode")
                    .col("phone_index")
                    .to_owned(),
            )
            .await
    }
}
