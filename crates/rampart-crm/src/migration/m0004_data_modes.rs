//! Live and test data: every customer, conversation and message carries the
//! data mode of the credential that wrote it (`live` for everything written
//! before), and idempotency keys are unique per tenant *and* mode, so a test
//! integration replaying its keys never meets a live row.

use sea_orm_migration::prelude::*;

pub(super) struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0004_data_modes"
    }
}

/// The tables whose rows belong to a tenant's live or test data.
const TABLES: [&str; 3] = ["crm_customer", "crm_conversation", "crm_message"];

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in TABLES {
            manager
                .alter_table(
                    Table::alter()
                        .table(table)
                        .add_column(
                            ColumnDef::new("mode")
                                .string_len(8)
                                .not_null()
                                .default("live"),
                        )
                        .to_owned(),
                )
                .await?;
        }
        for table in ["crm_conversation", "crm_message"] {
            manager
                .drop_index(
                    Index::drop()
                        .name(format!("{table}_idempotency"))
                        .table(table)
                        .to_owned(),
                )
                .await?;
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
        }
        // Customer lists and lookups, within one tenant's mode.
        manager
            .create_index(
                Index::create()
                    .name("crm_customer_mode")
                    .table("crm_customer")
                    .col("tenant_id")
                    .col("mode")
                    .col("id")
                    .to_owned(),
            )
            .await
    }
}
