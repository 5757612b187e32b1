//! The audit service's schema, applied by [`crate::migrate`]. Runs on SQLite
//! and PostgreSQL alike; the history lives in `audit_migrations`.

use sea_orm_migration::prelude::*;

pub(crate) struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(CreateEvents)]
    }

    fn migration_table_name() -> DynIden {
        "audit_migrations".into_iden()
    }
}

struct CreateEvents;

// The name is recorded in the history table and must never change: derived
// from the file name it would read "migration" for every migration here.
impl MigrationName for CreateEvents {
    fn name(&self) -> &str {
        "m0001_create_events"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for CreateEvents {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("audit_event")
                    .col(ColumnDef::new("log_id").string_len(64).not_null())
                    .col(ColumnDef::new("sequence").big_integer().not_null())
                    .col(ColumnDef::new("event_id").string_len(64).not_null())
                    .col(ColumnDef::new("tenant_id").string_len(64).not_null())
                    .col(ColumnDef::new("actor").text().not_null())
                    .col(ColumnDef::new("credential_id").text().not_null())
                    .col(ColumnDef::new("action").string_len(64).not_null())
                    .col(ColumnDef::new("target").text().not_null())
                    .col(ColumnDef::new("occurred_at").string_len(64).not_null())
                    .col(ColumnDef::new("service").string_len(32).not_null())
                    .col(ColumnDef::new("request_id").text().not_null())
                    .col(ColumnDef::new("outcome").string_len(16).not_null())
                    .col(
                        ColumnDef::new("recorded_at")
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new("prev_hash").string_len(64).not_null())
                    .col(ColumnDef::new("chain_hash").string_len(64).not_null())
                    // One event per position in each log: if two writers ever
                    // race past the in-process lock, one of them fails
                    // instead of forking the chain.
                    .primary_key(Index::create().col("log_id").col("sequence"))
                    .to_owned(),
            )
            .await?;
        // Producers retry; the same event id is stored once.
        manager
            .create_index(
                Index::create()
                    .name("audit_event_event_id")
                    .table("audit_event")
                    .col("event_id")
                    .unique()
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
