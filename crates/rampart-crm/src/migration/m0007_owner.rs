//! The owner's configuration: business settings, channels (with their
//! sealed credentials), retention periods and legal holds. Each row belongs
//! to one tenant in one data mode, so test configuration never meets live.

use sea_orm_migration::prelude::*;

pub(super) struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0007_owner"
    }
}

/// The columns every table here starts with: whose row it is.
fn tenant_and_mode(table: &mut TableCreateStatement) -> &mut TableCreateStatement {
    table
        .col(ColumnDef::new("tenant_id").string_len(64).not_null())
        .col(ColumnDef::new("mode").string_len(8).not_null())
}

fn timestamp(name: &'static str) -> ColumnDef {
    ColumnDef::new(name)
        .timestamp_with_time_zone()
        .not_null()
        .to_owned()
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One settings document per tenant and mode; `version` is the
        // optimistic-concurrency token a PUT names.
        manager
            .create_table(
                tenant_and_mode(Table::create().table("crm_business_settings"))
                    .col(ColumnDef::new("version").integer().not_null())
                    .col(ColumnDef::new("document").text().not_null())
                    .col(timestamp("updated_at"))
                    .col(ColumnDef::new("updated_by").text().not_null())
                    .primary_key(Index::create().col("tenant_id").col("mode"))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                tenant_and_mode(
                    Table::create()
                        .table("crm_channel")
                        .col(ColumnDef::new("id").string_len(64).not_null().primary_key()),
                )
                .col(ColumnDef::new("kind").string_len(16).not_null())
                .col(ColumnDef::new("display_name").text().not_null())
                // A JSON array of the credentials' names (never values).
                .col(ColumnDef::new("credential_names").text().not_null())
                // The credentials, sealed under the tenant's data key; NULL
                // for a channel without any.
                .col(ColumnDef::new("credentials").blob().null())
                .col(timestamp("created_at"))
                .col(ColumnDef::new("created_by").text().not_null())
                .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("crm_channel_mode")
                    .table("crm_channel")
                    .col("tenant_id")
                    .col("mode")
                    .col("id")
                    .to_owned(),
            )
            .await?;

        // NULL days: keep that class of data indefinitely.
        manager
            .create_table(
                tenant_and_mode(Table::create().table("crm_retention"))
                    .col(ColumnDef::new("conversations_days").integer().null())
                    .col(ColumnDef::new("job_notes_days").integer().null())
                    .col(ColumnDef::new("inactive_customers_days").integer().null())
                    .col(timestamp("updated_at"))
                    .col(ColumnDef::new("updated_by").text().not_null())
                    .primary_key(Index::create().col("tenant_id").col("mode"))
                    .to_owned(),
            )
            .await?;

        // A customer's current hold, beside (not in) crm_customer. Released
        // holds keep their row with `held` false and the release's reason;
        // the audit log holds the history.
        manager
            .create_table(
                Table::create()
                    .table("crm_legal_hold")
                    .col(
                        ColumnDef::new("customer_id")
                            .string_len(64)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new("tenant_id").string_len(64).not_null())
                    .col(ColumnDef::new("mode").string_len(8).not_null())
                    .col(ColumnDef::new("held").boolean().not_null())
                    .col(ColumnDef::new("reason").text().not_null())
                    .col(ColumnDef::new("changed_by").text().not_null())
                    .col(timestamp("changed_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("crm_legal_hold_mode")
                    .table("crm_legal_hold")
                    .col("tenant_id")
                    .col("mode")
                    .col("customer_id")
                    .to_owned(),
            )
            .await
    }
}
