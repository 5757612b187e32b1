//! Telephony's shared tables (issue 24):
//! - `crm_channel.phone_number`: the E.164 number a `twilio` channel
//!   answers, unique across every tenant and mode, since the called number
//!   is what an inbound webhook's tenant is resolved from;
//! - `crm_sms_opt_out`: one row per (tenant, mode, number) that ever sent
//!   an opt-out or opt-in keyword, keyed by the number's blind index, read
//!   before every outbound message;
//! - `crm_sms_thread`: which number and channel an SMS conversation talks
//!   to, so a reply goes back to the number that wrote in.

use sea_orm_migration::prelude::*;

pub(super) struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0013_telephony"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("crm_channel")
                    .add_column(ColumnDef::new("phone_number").string_len(16).null())
                    .to_owned(),
            )
            .await?;
        // NULLs are distinct in both databases: only numbered channels
        // compete for a number.
        manager
            .create_index(
                Index::create()
                    .name("crm_channel_phone_number")
                    .table("crm_channel")
                    .col("phone_number")
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("crm_sms_opt_out")
                    .if_not_exists()
                    .col(ColumnDef::new("tenant_id").string_len(64).not_null())
                    .col(ColumnDef::new("mode").string_len(8).not_null())
                    .col(ColumnDef::new("phone_index").string_len(128).not_null())
                    .col(ColumnDef::new("opted_out").boolean().not_null())
                    .col(
                        ColumnDef::new("changed_at")
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new("changed_by").string_len(128).not_null())
                    .primary_key(
                        Index::create()
                            .col("tenant_id")
                            .col("mode")
                            .col("phone_index"),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("crm_sms_thread")
                    .if_not_exists()
                    .col(
                        ColumnDef::new("conversation_id")
                            .string_len(64)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new("tenant_id").string_len(64).not_null())
                    .col(ColumnDef::new("mode").string_len(8).not_null())
                    .col(ColumnDef::new("channel_id").string_len(64).not_null())
                    .col(ColumnDef::new("phone_index").string_len(128).not_null())
                    .col(ColumnDef::new("phone").binary().not_null())
                    .col(
                        ColumnDef::new("created_at")
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("crm_sms_thread_by_number")
                    .table("crm_sms_thread")
                    .col("tenant_id")
                    .col("mode")
                    .col("phone_index")
                    .to_owned(),
            )
            .await
    }
}
