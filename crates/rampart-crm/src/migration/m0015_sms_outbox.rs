//! `crm_sms_outbox`: the text messages waiting to leave, and what became
//! of each (see [`crate::sms`]).
//!
//! A reply in an SMS conversation is enqueued in the transaction that
//! stores it, so a stored reply is always sent or accounted for, and a
//! reply that was rolled back never leaves. `message_id` is unique:
//! enqueueing the same message twice adds nothing. The number and the text
//! are personal data: sealed under the conversation's data key, so erasing
//! the conversation leaves nothing readable here even before its rows go;
//! the number's blind index is what the opt-out ledger is read by.
//! `last_error` holds the provider's error code and status, never a number
//! or a text.

use sea_orm_migration::prelude::*;

pub(super) struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0015_sms_outbox"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("crm_sms_outbox")
                    .if_not_exists()
                    .col(ColumnDef::new("id").string_len(64).not_null().primary_key())
                    .col(ColumnDef::new("tenant_id").string_len(64).not_null())
                    .col(ColumnDef::new("mode").string_len(8).not_null())
                    .col(ColumnDef::new("channel_id").string_len(64).not_null())
                    .col(ColumnDef::new("conversation_id").string_len(64).not_null())
                    .col(ColumnDef::new("message_id").string_len(64).not_null())
                    .col(ColumnDef::new("to_phone").binary().not_null())
                    .col(ColumnDef::new("phone_index").string_len(128).not_null())
                    .col(ColumnDef::new("body").binary().not_null())
                    .col(ColumnDef::new("state").string_len(16).not_null())
                    .col(ColumnDef::new("attempts").integer().not_null())
                    .col(
                        ColumnDef::new("next_attempt_at")
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new("lease_until")
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(ColumnDef::new("lease_token").string_len(64).null())
                    .col(ColumnDef::new("provider_id").string_len(64).null())
                    .col(ColumnDef::new("last_error").string_len(200).null())
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
                    .to_owned(),
            )
            .await?;
        let indexes = [
            // Enqueueing a message twice is a no-op.
            Index::create()
                .name("crm_sms_outbox_message")
                .table("crm_sms_outbox")
                .col("message_id")
                .unique()
                .to_owned(),
            // The sender's scan, across tenants: due rows by time, and
            // claimed rows whose lease ran out.
            Index::create()
                .name("crm_sms_outbox_due")
                .table("crm_sms_outbox")
                .col("state")
                .col("next_attempt_at")
                .to_owned(),
            // Purging a conversation deletes its rows.
            Index::create()
                .name("crm_sms_outbox_conversation")
                .table("crm_sms_outbox")
                .col("tenant_id")
                .col("mode")
                .col("conversation_id")
                .to_owned(),
        ];
        for index in indexes {
            manager.create_index(index).await?;
        }
        Ok(())
    }
}
