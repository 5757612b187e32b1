//! Calendar sync's tables (issue 24, part 5):
//! - `crm_calendar_connection`: at most one connected calendar per tenant
//!   and mode, its tokens sealed under the tenant's data key;
//! - `crm_calendar_pending`: an authorisation in flight, keyed by the
//!   SHA-256 of its `state` (the state itself is never stored), holding the
//!   PKCE verifier sealed; deleted when used, so it works once;
//! - `crm_calendar_event`: which provider event an appointment became;
//! - `crm_calendar_sync`: the sync outbox, one row per appointment change,
//!   written in the change's transaction and claimed by the sync worker
//!   under a lease.

use sea_orm_migration::prelude::*;

pub(super) struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0016_calendar"
    }
}

fn at(name: &'static str) -> ColumnDef {
    ColumnDef::new(name)
        .timestamp_with_time_zone()
        .not_null()
        .to_owned()
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("crm_calendar_connection")
                    .if_not_exists()
                    .col(ColumnDef::new("tenant_id").string_len(64).not_null())
                    .col(ColumnDef::new("mode").string_len(8).not_null())
                    .col(ColumnDef::new("provider").string_len(16).not_null())
                    .col(ColumnDef::new("calendar_id").string_len(255).not_null())
                    .col(ColumnDef::new("access_token").binary().not_null())
                    .col(ColumnDef::new("refresh_token").binary().not_null())
                    .col(at("expires_at"))
                    .col(ColumnDef::new("scope").string_len(512).not_null())
                    .col(ColumnDef::new("connected_by").string_len(128).not_null())
                    .col(at("connected_at"))
                    .primary_key(Index::create().col("tenant_id").col("mode"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("crm_calendar_pending")
                    .if_not_exists()
                    .col(
                        ColumnDef::new("state_hash")
                            .string_len(64)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new("tenant_id").string_len(64).not_null())
                    .col(ColumnDef::new("mode").string_len(8).not_null())
                    .col(ColumnDef::new("calendar_id").string_len(255).not_null())
                    .col(ColumnDef::new("verifier").binary().not_null())
                    .col(ColumnDef::new("redirect_uri").string_len(512).not_null())
                    .col(ColumnDef::new("requested_by").string_len(128).not_null())
                    .col(ColumnDef::new("credential_id").string_len(128).not_null())
                    .col(at("expires_at"))
                    .col(at("created_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("crm_calendar_event")
                    .if_not_exists()
                    .col(
                        ColumnDef::new("appointment_id")
                            .string_len(64)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new("tenant_id").string_len(64).not_null())
                    .col(ColumnDef::new("mode").string_len(8).not_null())
                    .col(ColumnDef::new("calendar_id").string_len(255).not_null())
                    .col(ColumnDef::new("event_id").string_len(1024).not_null())
                    .col(at("synced_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("crm_calendar_sync")
                    .if_not_exists()
                    .col(ColumnDef::new("id").string_len(64).not_null().primary_key())
                    .col(ColumnDef::new("tenant_id").string_len(64).not_null())
                    .col(ColumnDef::new("mode").string_len(8).not_null())
                    .col(ColumnDef::new("appointment_id").string_len(64).not_null())
                    .col(ColumnDef::new("attempts").integer().not_null().default(0))
                    .col(at("next_attempt_at"))
                    .col(
                        ColumnDef::new("lease_until")
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(ColumnDef::new("last_error").text().null())
                    .col(at("created_at"))
                    .to_owned(),
            )
            .await?;
        // The worker's scan, across tenants: due rows by time.
        manager
            .create_index(
                Index::create()
                    .name("crm_calendar_sync_due")
                    .table("crm_calendar_sync")
                    .col("next_attempt_at")
                    .to_owned(),
            )
            .await
    }
}
