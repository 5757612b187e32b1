//! Escalation's schema migrations, run by [`crate::migrate`] at start.
//!
//! The history lives in `escalation_migrations`, so escalation can share a
//! database with the other services. Every statement is built with
//! sea-query and runs on both SQLite and PostgreSQL.
//!
//! - `esc_policy`: every version of every tenant's policy, never updated.
//! - `esc_decision`: one decision receipt per customer message, keyed by the
//!   message id, so a message is never decided twice.
//! - `esc_handoff`: the queue. `open_key` holds the conversation id while the
//!   handoff is open or claimed and is NULL once it is closed; a unique
//!   index on (tenant, open_key) keeps one open handoff per conversation
//!   (NULLs are distinct on both databases). `next_escalation_at` is the
//!   deadline, data rather than a timer, so it fires after a restart.
//! - `esc_notification`: notifications to contacts waiting to be delivered
//!   (an outbox of its own, written in the same transaction as the step).
//! - `mode` (m0003) on `esc_decision` and `esc_handoff`: the data mode of
//!   the credential whose conversation it belongs to (`live` for rows
//!   written before). The one-open-handoff index and the queue's index
//!   become per tenant *and* mode.
//! - `esc_ai_freeze` (m0004): incidents' freezes of the AI, see
//!   [`crate::freeze`].

use rampart_kit::outbox::Outbox;
use sea_orm::DynIden;
use sea_orm_migration::async_trait::async_trait;
use sea_orm_migration::prelude::*;

use crate::OUTBOX_TABLE;

pub struct Migrator;

#[async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(CreatePoliciesAndDecisions),
            Box::new(CreateHandoffs),
            Box::new(AddDataModes),
            Box::new(crate::freeze::CreateAiFreeze),
        ]
    }

    fn migration_table_name() -> DynIden {
        "escalation_migrations".into_iden()
    }
}

fn timestamp(name: &'static str) -> ColumnDef {
    ColumnDef::new(name)
        .timestamp_with_time_zone()
        .not_null()
        .to_owned()
}

fn id(name: &'static str) -> ColumnDef {
    ColumnDef::new(name).string_len(64).not_null().to_owned()
}

/// Policies, decisions and the audit outbox.
struct CreatePoliciesAndDecisions;

impl MigrationName for CreatePoliciesAndDecisions {
    fn name(&self) -> &str {
        "m0001_create_policies_and_decisions"
    }
}

#[async_trait]
impl MigrationTrait for CreatePoliciesAndDecisions {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("esc_policy")
                    .col(id("tenant_id"))
                    .col(ColumnDef::new("version").integer().not_null())
                    // The document as JSON, write-only secrets left out.
                    .col(ColumnDef::new("document").text().not_null())
                    // The webhook signing secret, when one is set.
                    .col(ColumnDef::new("webhook_secret").text().null())
                    .col(timestamp("created_at"))
                    .col(ColumnDef::new("created_by").string_len(100).not_null())
                    .primary_key(Index::create().col("tenant_id").col("version"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("esc_decision")
                    .col(id("message_id").primary_key())
                    .col(id("tenant_id"))
                    .col(id("conversation_id"))
                    // The receipt as JSON.
                    .col(ColumnDef::new("receipt").text().not_null())
                    .col(timestamp("decided_at"))
                    .to_owned(),
            )
            .await?;
        let (outbox, outbox_event_id) = Outbox::create_table(OUTBOX_TABLE);
        manager.create_table(outbox).await?;
        manager.create_index(outbox_event_id).await?;
        Ok(())
    }
}

/// The handoff queue and its notifications.
struct CreateHandoffs;

impl MigrationName for CreateHandoffs {
    fn name(&self) -> &str {
        "m0002_create_handoffs"
    }
}

#[async_trait]
impl MigrationTrait for CreateHandoffs {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("esc_handoff")
                    .col(id("id").primary_key())
                    .col(id("tenant_id"))
                    .col(id("conversation_id"))
                    .col(id("message_id"))
                    .col(ColumnDef::new("open_key").string_len(64).null())
                    // open, claimed, resolved, handed_back
                    .col(ColumnDef::new("status").string_len(16).not_null())
                    // 1 (low) to 4 (critical)
                    .col(ColumnDef::new("severity").small_integer().not_null())
                    // JSON arrays of strings
                    .col(ColumnDef::new("intents").text().not_null())
                    .col(ColumnDef::new("reasons").text().not_null())
                    .col(ColumnDef::new("policy_version").integer().not_null())
                    .col(ColumnDef::new("level").integer().not_null())
                    // How many times the whole chain has been repeated.
                    .col(ColumnDef::new("round").integer().not_null())
                    .col(ColumnDef::new("assignee").string_len(64).null())
                    .col(timestamp("opened_at"))
                    .col(timestamp("due_at"))
                    .col(
                        ColumnDef::new("next_escalation_at")
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(
                        ColumnDef::new("closed_at")
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(timestamp("updated_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("esc_handoff_one_open")
                    .table("esc_handoff")
                    .col("tenant_id")
                    .col("open_key")
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("esc_handoff_queue")
                    .table("esc_handoff")
                    .col("tenant_id")
                    .col("status")
                    .col("severity")
                    .col("due_at")
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("esc_handoff_deadline")
                    .table("esc_handoff")
                    .col("next_escalation_at")
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("esc_notification")
                    .col(id("id").primary_key())
                    .col(id("tenant_id"))
                    .col(id("handoff_id"))
                    // webhook or email
                    .col(ColumnDef::new("channel").string_len(16).not_null())
                    // The URL or the e-mail address.
                    .col(ColumnDef::new("target").text().not_null())
                    // The JSON body that is sent (or the e-mail's text).
                    .col(ColumnDef::new("payload").text().not_null())
                    .col(ColumnDef::new("attempts").integer().not_null())
                    .col(timestamp("next_attempt_at"))
                    .col(
                        ColumnDef::new("delivered_at")
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(
                        ColumnDef::new("failed_at")
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(ColumnDef::new("last_error").text().null())
                    .col(timestamp("created_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("esc_notification_due")
                    .table("esc_notification")
                    .col("delivered_at")
                    .col("next_attempt_at")
                    .to_owned(),
            )
            .await
    }
}

/// Live and test data: decisions and handoffs carry the data mode of the
/// principal the gate was called for.
struct AddDataModes;

impl MigrationName for AddDataModes {
    fn name(&self) -> &str {
        "m0003_data_modes"
    }
}

#[async_trait]
impl MigrationTrait for AddDataModes {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["esc_decision", "esc_handoff"] {
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
        // One open handoff per conversation, and the queue's order, within
        // one tenant's mode.
        for old in ["esc_handoff_one_open", "esc_handoff_queue"] {
            manager
                .drop_index(Index::drop().name(old).table("esc_handoff").to_owned())
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("esc_handoff_mode_one_open")
                    .table("esc_handoff")
                    .col("tenant_id")
                    .col("mode")
                    .col("open_key")
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("esc_handoff_mode_queue")
                    .table("esc_handoff")
                    .col("tenant_id")
                    .col("mode")
                    .col("status")
                    .col("severity")
                    .col("due_at")
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
