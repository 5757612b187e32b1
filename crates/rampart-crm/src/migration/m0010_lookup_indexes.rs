//! Exact lookups by phone or e-mail answer in id order (a cursor page), and
//! m0005's indexes on (tenant, mode, blind index) left SQLite's planner
//! preferring the (tenant, mode, id) index for the ORDER BY, reading every
//! customer of the tenant to find one. These indexes end with the id, so
//! one index both finds the matches and orders them.

use sea_orm_migration::prelude::*;

pub(super) struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0010_lookup_indexes"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in ["phone_index", "email_index"] {
            manager
                .drop_index(
                    Index::drop()
                        .name(format!("crm_customer_{column}"))
                        .table("crm_customer")
                        .to_owned(),
                )
                .await?;
            manager
                .create_index(
                    Index::create()
                        .name(format!("crm_customer_{column}_lookup"))
                        .table("crm_customer")
                        .col("tenant_id")
                        .col("mode")
                        .col(column)
                        .col("id")
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
