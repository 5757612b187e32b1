//! The CRM's schema migrations, run by [`crate::migrate`] at start.
//!
//! The history lives in `crm_migrations`, not sea-orm's default table, so the
//! CRM can share a database with other services, each keeping its own
//! history. Every statement is built with sea-query and runs on both SQLite
//! and PostgreSQL.

use rampart_kit::ids::MessageId;
use rampart_kit::outbox::Outbox;
use sea_orm::ConnectionTrait;
use sea_orm::DynIden;
use sea_orm_migration::async_trait::async_trait;
use sea_orm_migration::prelude::*;

use crate::OUTBOX_TABLE;

mod m0004_data_modes;
mod m0005_vault;
mod m0006_schedule;
mod m0007_owner;
mod m0008_billing;
mod m0009_erasure;
mod m0010_lookup_indexes;
mod m0011_data_key_primary_key;
mod m0012_job_runs;
mod m0013_telephony;
mod m0014_telephony_inbound;
mod m0015_sms_outbox;
mod m0016_calendar;

pub struct Migrator;

#[async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(CreateTenantsAndCustomers),
            Box::new(CreateConversations),
            Box::new(CreateMessages),
            Box::new(m0004_data_modes::Migration),
            Box::new(m0005_vault::Migration),
            Box::new(m0006_schedule::Migration),
            Box::new(m0007_owner::Migration),
            Box::new(m0008_billing::Migration),
            Box::new(m0009_erasure::Migration),
            Box::new(m0010_lookup_indexes::Migration),
            Box::new(m0011_data_key_primary_key::Migration),
            Box::new(m0012_job_runs::Migration),
            Box::new(m0013_telephony::Migration),
            Box::new(m0014_telephony_inbound::Migration),
            Box::new(m0015_sms_outbox::Migration),
            Box::new(m0016_calendar::Migration),
        ]
    }

    fn migration_table_name() -> DynIden {
        "crm_migrations".into_iden()
    }
}

/// Tenants, customers and the audit outbox.
struct CreateTenantsAndCustomers;

impl MigrationName for CreateTenantsAndCustomers {
    fn name(&self) -> &str {
        "m0001_create_tenants_and_customers"
    }
}

#[async_trait]
impl MigrationTrait for CreateTenantsAndCustomers {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("crm_tenant")
                    .col(ColumnDef::new("id").string_len(64).not_null().primary_key())
                    .col(ColumnDef::new("name").text().not_null())
                    .col(ColumnDef::new("office_domains").text().not_null())
                    .col(
                        ColumnDef::new("created_at")
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("crm_customer")
                    .col(ColumnDef::new("id").string_len(64).not_null().primary_key())
                    .col(ColumnDef::new("tenant_id").string_len(64).not_null())
                    .col(ColumnDef::new("name").text().not_null())
                    .col(ColumnDef::new("phone").text().null())
                    .col(ColumnDef::new("email").text().null())
                    .col(ColumnDef::new("address").text().null())
                    .col(
                        ColumnDef::new("created_at")
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        // Every customer query filters by tenant and orders or seeks by id,
        // so one composite index serves gets and list pages alike.
        manager
            .create_index(
                Index::create()
                    .name("crm_customer_tenant_id")
                    .table("crm_customer")
                    .col("tenant_id")
                    .col("id")
                    .to_owned(),
            )
            .await?;

        let (outbox, outbox_event_id) = Outbox::create_table(OUTBOX_TABLE);
        manager.create_table(outbox).await?;
        manager.create_index(outbox_event_id).await?;
        Ok(())
    }
}

/// Conversations, as the widget starts them.
struct CreateConversations;

impl MigrationName for CreateConversations {
    fn name(&self) -> &str {
        "m0002_create_conversations"
    }
}

#[async_trait]
impl MigrationTrait for CreateConversations {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("crm_conversation")
                    .col(ColumnDef::new("id").string_len(64).not_null().primary_key())
                    .col(ColumnDef::new("tenant_id").string_len(64).not_null())
                    .col(ColumnDef::new("channel").string_len(16).not_null())
                    .col(ColumnDef::new("origin").string_len(300).not_null())
                    .col(ColumnDef::new("first_message").text().not_null())
                    .col(
                        ColumnDef::new("started_at")
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("crm_conversation_tenant_id")
                    .table("crm_conversation")
                    .col("tenant_id")
                    .col("id")
                    .to_owned(),
            )
            .await
    }
}

/// The support flow: a conversation's status, customer, assignee, summary,
/// consent, handoff and widget token; its messages, each with the gate's
/// receipt or the guardrails' findings; and the tenant's transcript switch.
///
/// The widget's old `first_message` becomes the conversation's first
/// `crm_message`. It was never decided by the gate, so it is stored
/// `pending` and its conversation goes to a person: the gate retry opens a
/// handoff for each, as for a message that arrived while escalation was
/// down (a message nobody decided ends with a person).
struct CreateMessages;

impl MigrationName for CreateMessages {
    fn name(&self) -> &str {
        "m0003_create_messages"
    }
}

#[async_trait]
impl MigrationTrait for CreateMessages {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one thing at a time.
        let columns = [
            ColumnDef::new("status")
                .string_len(16)
                .not_null()
                .default("ai_active")
                .to_owned(),
            ColumnDef::new("customer_id")
                .string_len(64)
                .null()
                .to_owned(),
            ColumnDef::new("assignee").string_len(64).null().to_owned(),
            ColumnDef::new("summary")
                .text()
                .not_null()
                .default("")
                .to_owned(),
            ColumnDef::new("transcript_consent")
                .boolean()
                .not_null()
                .default(false)
                .to_owned(),
            ColumnDef::new("handoff_id")
                .string_len(64)
                .null()
                .to_owned(),
            // Nullable: SQLite adds a NOT NULL column only with a constant
            // default, and there is none for a time. Filled just below.
            ColumnDef::new("updated_at")
                .timestamp_with_time_zone()
                .null()
                .to_owned(),
            ColumnDef::new("visitor_token_hash")
                .string_len(64)
                .null()
                .to_owned(),
            ColumnDef::new("idempotency_key")
                .string_len(200)
                .null()
                .to_owned(),
            ColumnDef::new("idempotency_fingerprint")
                .string_len(64)
                .null()
                .to_owned(),
        ];
        for mut column in columns {
            manager
                .alter_table(
                    Table::alter()
                        .table("crm_conversation")
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        let db = manager.get_connection();
        db.execute(
            &Query::update()
                .table("crm_conversation")
                .value("updated_at", Expr::col("started_at"))
                .to_owned(),
        )
        .await?;

        manager
            .alter_table(
                Table::alter()
                    .table("crm_tenant")
                    .add_column(
                        ColumnDef::new("transcripts_enabled")
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("crm_message")
                    .col(ColumnDef::new("id").string_len(64).not_null().primary_key())
                    .col(ColumnDef::new("tenant_id").string_len(64).not_null())
                    .col(ColumnDef::new("conversation_id").string_len(64).not_null())
                    .col(ColumnDef::new("author").string_len(16).not_null())
                    .col(ColumnDef::new("author_id").string_len(64).null())
                    .col(ColumnDef::new("text").text().not_null())
                    .col(ColumnDef::new("delivery").string_len(16).not_null())
                    .col(ColumnDef::new("gate").string_len(16).null())
                    .col(ColumnDef::new("receipt").text().null())
                    .col(ColumnDef::new("findings").text().not_null())
                    .col(ColumnDef::new("idempotency_key").string_len(200).null())
                    .col(
                        ColumnDef::new("idempotency_fingerprint")
                            .string_len(64)
                            .null(),
                    )
                    .col(
                        ColumnDef::new("created_at")
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;

        let indexes = [
            // A conversation's messages, read in id (creation) order.
            Index::create()
                .name("crm_message_conversation")
                .table("crm_message")
                .col("tenant_id")
                .col("conversation_id")
                .col("id")
                .to_owned(),
            // The gate retry's scan, across tenants: pending rows by age.
            Index::create()
                .name("crm_message_gate")
                .table("crm_message")
                .col("gate")
                .col("created_at")
                .to_owned(),
            // Lists filtered by status, newest first.
            Index::create()
                .name("crm_conversation_status")
                .table("crm_conversation")
                .col("tenant_id")
                .col("status")
                .col("id")
                .to_owned(),
            // One row per key and tenant. NULLs are distinct in a unique
            // index on both SQLite and PostgreSQL, so rows without a key
            // never collide and no partial index is needed.
            Index::create()
                .name("crm_conversation_idempotency")
                .table("crm_conversation")
                .col("tenant_id")
                .col("idempotency_key")
                .unique()
                .to_owned(),
            Index::create()
                .name("crm_message_idempotency")
                .table("crm_message")
                .col("tenant_id")
                .col("idempotency_key")
                .unique()
                .to_owned(),
        ];
        for index in indexes {
            manager.create_index(index).await?;
        }

        move_first_messages(db).await
    }
}

/// Turns each non-empty `first_message` into a pending customer message and
/// hands its conversation to a person (see [`CreateMessages`]).
async fn move_first_messages(db: &SchemaManagerConnection<'_>) -> Result<(), DbErr> {
    let select = Query::select()
        .columns(["id", "tenant_id", "first_message", "started_at"])
        .from("crm_conversation")
        .and_where(Expr::col("first_message").ne(""))
        .to_owned();
    for row in db.query_all(&select).await? {
        let id: String = row.try_get("", "id")?;
        let tenant_id: String = row.try_get("", "tenant_id")?;
        let text: String = row.try_get("", "first_message")?;
        let started_at: chrono::DateTime<chrono::Utc> = row.try_get("", "started_at")?;
        db.execute(
            &Query::insert()
                .into_table("crm_message")
                .columns([
                    "id",
                    "tenant_id",
                    "conversation_id",
                    "author",
                    "text",
                    "delivery",
                    "gate",
                    "findings",
                    "created_at",
                ])
                .values_panic([
                    MessageId::generate().into_string().into(),
                    tenant_id.into(),
                    id.clone().into(),
                    "customer".into(),
                    text.into(),
                    "received".into(),
                    "pending".into(),
                    "[]".into(),
                    started_at.into(),
                ])
                .to_owned(),
        )
        .await?;
        db.execute(
            &Query::update()
                .table("crm_conversation")
                .value("first_message", "")
                .value("status", "handed_off")
                .and_where(Expr::col("id").eq(id))
                .to_owned(),
        )
        .await?;
    }
    Ok(())
}
