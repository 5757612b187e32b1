//! The schedule: `crm_appointment` and `crm_job_note`, each row in one
//! tenant's live or test data, with idempotency keys unique per tenant and
//! mode. A job note's text and equipment are bytes: they are stored sealed.

use sea_orm_migration::prelude::*;

pub(super) struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0006_schedule"
    }
}

/// The columns every scoped, idempotently created row starts with.
fn scoped_table(name: &'static str) -> TableCreateStatement {
    Table::create()
        .table(name)
        .col(ColumnDef::new("id").string_len(64).not_null().primary_key())
        .col(ColumnDef::new("tenant_id").string_len(64).not_null())
        .col(
            ColumnDef::new("mode")
                .string_len(8)
                .not_null()
                .default("live"),
        )
        .col(ColumnDef::new("customer_id").string_len(64).not_null())
        .to_owned()
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                scoped_table("crm_appointment")
                    .col(
                        ColumnDef::new("starts_at")
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new("ends_at")
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new("service_type").text().not_null())
                    .col(ColumnDef::new("assignee").string_len(64).null())
                    .col(ColumnDef::new("status").string_len(16).not_null())
                    .col(
                        ColumnDef::new("created_at")
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new("updated_at")
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new("idempotency_key").string_len(200).null())
                    .col(
                        ColumnDef::new("idempotency_fingerprint")
                            .string_len(64)
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                scoped_table("crm_job_note")
                    .col(ColumnDef::new("appointment_id").string_len(64).null())
                    .col(ColumnDef::new("text").blob().not_null())
                    .col(ColumnDef::new("equipment").blob().null())
                    .col(ColumnDef::new("author").string_len(200).not_null())
                    .col(
                        ColumnDef::new("created_at")
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new("idempotency_key").string_len(200).null())
                    .col(
                        ColumnDef::new("idempotency_fingerprint")
                            .string_len(64)
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        for table in ["crm_appointment", "crm_job_note"] {
            manager
                .create_index(
                    Index::create()
                        .name(format!("{table}_mode_idempotency"))
                        .table(table)
                        .col("tenant_id")
                        .col("mode")
                        .col("idempotency_key")
                        .unique()
                        .to_owned(),
                )
                .await?;
            // A customer's appointments and notes, within one tenant's mode.
            manager
                .create_index(
                    Index::create()
                        .name(format!("{table}_customer"))
                        .table(table)
                        .col("tenant_id")
                        .col("mode")
                        .col("customer_id")
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("crm_job_note_appointment")
                    .table("crm_job_note")
                    .col("tenant_id")
                    .col("mode")
                    .col("appointment_id")
                    .to_owned(),
            )
            .await
    }
}
