//! Billing: each tenant's billing state (every tenant, old and new, starts
//! in `trial`, the column's default) and when it last changed; and the
//! billing webhook's events already applied, so a redelivered event changes
//! nothing and a different body under a seen id is recognised.

use sea_orm_migration::prelude::*;

pub(super) struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0008_billing"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one thing at a time.
        let columns = [
            ColumnDef::new("billing_state")
                .string_len(16)
                .not_null()
                .default("trial")
                .to_owned(),
            // Null until the first transition: the state dates from the
            // tenant's creation.
            ColumnDef::new("billing_changed_at")
                .timestamp_with_time_zone()
                .null()
                .to_owned(),
        ];
        for mut column in columns {
            manager
                .alter_table(
                    Table::alter()
                        .table("crm_tenant")
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table("crm_billing_event")
                    .col(
                        ColumnDef::new("event_id")
                            .string_len(100)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new("tenant_id").string_len(64).not_null())
                    .col(ColumnDef::new("fingerprint").string_len(64).not_null())
                    .col(ColumnDef::new("from_state").string_len(16).not_null())
                    .col(ColumnDef::new("to_state").string_len(16).not_null())
                    .col(
                        ColumnDef::new("received_at")
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await
    }
}
