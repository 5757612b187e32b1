//! The key tables of the vault (see [`crate::vault`]): each tenant's key,
//! wrapped by a master key version, and each owner's data key, wrapped by
//! its tenant's key. No key is ever stored unwrapped.

use sea_orm_migration::prelude::*;

pub(super) struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0005_vault"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("crm_tenant_key")
                    .col(
                        ColumnDef::new("tenant_id")
                            .string_len(64)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new("master_version").big_integer().not_null())
                    .col(ColumnDef::new("wrapped_key").blob().not_null())
                    .col(
                        ColumnDef::new("created_at")
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new("rotated_at")
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        // A rotation looks for the keys not under the current version.
        manager
            .create_index(
                Index::create()
                    .name("crm_tenant_key_master_version")
                    .table("crm_tenant_key")
                    .col("master_version")
                    .col("tenant_id")
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("crm_data_key")
                    .col(ColumnDef::new("id").string_len(32).not_null().primary_key())
                    .col(ColumnDef::new("tenant_id").string_len(64).not_null())
                    .col(ColumnDef::new("owner").string_len(200).not_null())
                    .col(ColumnDef::new("wrapped_key").blob().not_null())
                    .col(
                        ColumnDef::new("created_at")
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        // One key per owner and tenant; also the lookup every read makes.
        manager
            .create_index(
                Index::create()
                    .name("crm_data_key_owner")
                    .table("crm_data_key")
                    .col("tenant_id")
                    .col("owner")
                    .unique()
                    .to_owned(),
            )
            .await
    }
}
