//! The auth service's schema, applied by [`crate::migrate`]. Runs on SQLite
//! and PostgreSQL alike; the history lives in `auth_migrations` so auth can
//! share a database with the other services.

use rampart_kit::outbox::Outbox;
use sea_orm_migration::prelude::*;

/// The outbox table this service's audit events wait in.
pub(crate) const OUTBOX_TABLE: &str = "auth_audit_outbox";

pub(crate) struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(CreateApiKeys),
            Box::new(KeyLifecycle),
            Box::new(WidgetOrigins),
        ]
    }

    fn migration_table_name() -> DynIden {
        "auth_migrations".into_iden()
    }
}

struct CreateApiKeys;

// The name is recorded in the history table and must never change: derived
// from the file name it would read "migration" for every migration here.
impl MigrationName for CreateApiKeys {
    fn name(&self) -> &str {
        "m0001_create_api_keys"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for CreateApiKeys {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("auth_api_key")
                    .col(ColumnDef::new("id").string_len(64).not_null().primary_key())
                    .col(ColumnDef::new("tenant_id").string_len(64).not_null())
                    .col(ColumnDef::new("name").string_len(100).not_null())
                    .col(ColumnDef::new("display_prefix").string_len(32).not_null())
                    .col(ColumnDef::new("key_hash").string_len(64).not_null())
                    .col(ColumnDef::new("environment").string_len(8).not_null())
                    .col(ColumnDef::new("scopes").text().not_null())
                    .col(
                        ColumnDef::new("created_at")
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new("revoked_at")
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        // Every verification looks a key up by its hash; uniqueness also
        // means two rows can never answer for the same key.
        manager
            .create_index(
                Index::create()
                    .name("auth_api_key_key_hash")
                    .table("auth_api_key")
                    .col("key_hash")
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("auth_api_key_tenant_id")
                    .table("auth_api_key")
                    .col("tenant_id")
                    .to_owned(),
            )
            .await?;
        let (outbox, outbox_index) = Outbox::create_table(OUTBOX_TABLE);
        manager.create_table(outbox).await?;
        manager.create_index(outbox_index).await?;
        Ok(())
    }
}

/// Expiry, network allow-lists, last use and rotation for keys; the
/// per-tenant request rate.
struct KeyLifecycle;

impl MigrationName for KeyLifecycle {
    fn name(&self) -> &str {
        "m0002_key_lifecycle"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for KeyLifecycle {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite takes one column per ALTER TABLE.
        let columns = [
            ColumnDef::new("expires_at")
                .timestamp_with_time_zone()
                .null()
                .to_owned(),
            ColumnDef::new("allowed_networks")
                .text()
                .not_null()
                .default("")
                .to_owned(),
            ColumnDef::new("last_used_at")
                .timestamp_with_time_zone()
                .null()
                .to_owned(),
            ColumnDef::new("replaced_by")
                .string_len(64)
                .null()
                .to_owned(),
        ];
        for mut column in columns {
            manager
                .alter_table(
                    Table::alter()
                        .table("auth_api_key")
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table("auth_tenant_rate_limit")
                    .col(
                        ColumnDef::new("tenant_id")
                            .string_len(64)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new("requests_per_minute").integer().not_null())
                    .to_owned(),
            )
            .await
    }
}

/// The web origins of widget keys.
struct WidgetOrigins;

impl MigrationName for WidgetOrigins {
    fn name(&self) -> &str {
        "m0003_widget_origins"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for WidgetOrigins {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("auth_api_key")
                    .add_column(
                        ColumnDef::new("allowed_origins")
                            .text()
                            .not_null()
                            .default(""),
                    )
                    .to_owned(),
            )
            .await
    }
}
