//! Erasure requests: one row per request to erase a customer's data, open
//! until executed, then kept (with the counts and the signed deletion
//! certificate) as the tenant's record that the erasure happened. The row
//! names the customer by id only; the customer's data itself is gone.

use sea_orm_migration::prelude::*;

pub(super) struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0009_erasure"
    }
}

fn count(name: &'static str) -> ColumnDef {
    ColumnDef::new(name)
        .big_integer()
        .not_null()
        .default(0)
        .to_owned()
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("crm_erasure_request")
                    .col(ColumnDef::new("id").string_len(64).not_null().primary_key())
                    .col(ColumnDef::new("tenant_id").string_len(64).not_null())
                    .col(ColumnDef::new("mode").string_len(8).not_null())
                    .col(ColumnDef::new("customer_id").string_len(64).not_null())
                    // "open" or "executed".
                    .col(ColumnDef::new("status").string_len(16).not_null())
                    // "owner", or "handoff:<id>".
                    .col(ColumnDef::new("source").string_len(80).not_null())
                    .col(ColumnDef::new("reason").text().not_null())
                    .col(ColumnDef::new("requested_by").text().not_null())
                    .col(
                        ColumnDef::new("created_at")
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    // What the execution deleted; 0 while open (the preview
                    // is counted afresh on every read).
                    .col(count("customers"))
                    .col(count("conversations"))
                    .col(count("messages"))
                    .col(count("appointments"))
                    .col(count("job_notes"))
                    .col(count("data_keys"))
                    .col(
                        ColumnDef::new("executed_at")
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(ColumnDef::new("executed_by").text().null())
                    // The certificate exactly as the audit service signed it.
                    .col(ColumnDef::new("certificate_json").text().null())
                    .to_owned(),
            )
            .await?;
        // The open request of a customer, and a tenant's list by status.
        manager
            .create_index(
                Index::create()
                    .name("crm_erasure_request_customer")
                    .table("crm_erasure_request")
                    .col("tenant_id")
                    .col("mode")
                    .col("customer_id")
                    .col("status")
                    .to_owned(),
            )
            .await
    }
}
