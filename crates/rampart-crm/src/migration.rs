//! The CRM's schema migrations, run by [`crate::migrate`] at start.
//!
//! The history lives in `crm_migrations`, not sea-orm's default table, so the
//! CRM can share a database with other services, each keeping its own
//! history. Every statement is built with sea-query and runs on both SQLite
//! and PostgreSQL.

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
            Box::new(CreateTenantsAndCustomers),
            Box::new(CreateConversations),
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
