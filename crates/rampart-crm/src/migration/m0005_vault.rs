//! The key tables of the vault (see [`crate::vault`]): each tenant's key,
//! wrapped by a master key version, and each owner's data key, wrapped by
//! its tenant's key. No key is ever stored unwrapped.
//!
//! The personal data columns get sealed twins (`*_sealed`, binary) and the
//! customers' phone and e-mail get blind indexes. Migrations have no master
//! key, so existing plaintext is sealed at start-up
//! ([`crate::store::seal_legacy_rows`]), which then empties the old columns.

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
            .await?;
        add_sealed_columns(manager).await
    }
}

/// The sealed twins of the personal data columns, and the blind indexes.
async fn add_sealed_columns(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let sealed = [
        ("crm_customer", "name_sealed"),
        ("crm_customer", "phone_sealed"),
        ("crm_customer", "email_sealed"),
        ("crm_customer", "address_sealed"),
        ("crm_conversation", "summary_sealed"),
        ("crm_message", "text_sealed"),
    ];
    // One column per statement: SQLite alters one thing at a time.
    for (table, column) in sealed {
        manager
            .alter_table(
                Table::alter()
                    .table(table)
                    .add_column(ColumnDef::new(column).blob().null())
                    .to_owned(),
            )
            .await?;
    }
    for column in ["phone_index", "email_index"] {
        manager
            .alter_table(
                Table::alter()
                    .table("crm_customer")
                    .add_column(ColumnDef::new(column).string_len(64).null())
                    .to_owned(),
            )
            .await?;
        // Exact lookups within one tenant's mode.
        manager
            .create_index(
                Index::create()
                    .name(format!("crm_customer_{column}"))
                    .table("crm_customer")
                    .col("tenant_id")
                    .col("mode")
                    .col(column)
                    .to_owned(),
            )
            .await?;
    }
    Ok(())
}
