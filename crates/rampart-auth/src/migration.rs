//! The auth service's schema, applied by [`crate::migrate`]. Runs on SQLite
//! and PostgreSQL alike; the history lives in `auth_migrations` so auth can
//! share a database with the other services.

use rampart_kit::outbox::Outbox;
use sea_orm_migration::prelude::*;

/// The outbox table this service's audit events wait in.
pub(crate) const OUTBOX_TABLE: &str = "auth_audit_outbox";

pub(crate) struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(CreateApiKeys),
            Box::new(CreateAccounts),
            Box::new(KeyLifecycle),
            Box::new(WidgetOrigins),
            Box::new(crate::access::CreateTenantAccess),
            Box::new(crate::incidents::CreateIncidents),
            Box::new(crate::access::AddTenantIsolation),
            Box::new(crate::checklist_reports::CreateChecklistReports),
        ]
    }

    fn migration_table_name() -> DynIden {
        "auth_migrations".into_iden()
    }
}

struct CreateApiKeys;

// The name is recorded in the history table and must never change: derived
// from the file name it would read "migration" for every migration here.
impl MigrationName for CreateApiKeys {
    fn name(&self) -> &str {
        "m0001_create_api_keys"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for CreateApiKeys {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("auth_api_key")
                    .col(ColumnDef::new("id").string_len(64).not_null().primary_key())
                    .col(ColumnDef::new("tenant_id").string_len(64).not_null())
                    .col(ColumnDef::new("name").string_len(100).not_null())
                    .col(ColumnDef::new("display_prefix").string_len(32).not_null())
                    .col(ColumnDef::new("key_hash").string_len(64).not_null())
                    .col(ColumnDef::new("environment").string_len(8).not_null())
                    .col(ColumnDef::new("scopes").text().not_null())
                    .col(
                        ColumnDef::new("created_at")
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new("revoked_at")
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        // Every verification looks a key up by its hash; uniqueness also
        // means two rows can never answer for the same key.
        manager
            .create_index(
                Index::create()
                    .name("auth_api_key_key_hash")
                    .table("auth_api_key")
                    .col("key_hash")
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("auth_api_key_tenant_id")
                    .table("auth_api_key")
                    .col("tenant_id")
                    .to_owned(),
            )
            .await?;
        let (outbox, outbox_index) = Outbox::create_table(OUTBOX_TABLE);
        manager.create_table(outbox).await?;
        manager.create_index(outbox_index).await?;
        Ok(())
    }
}

/// Expiry, network allow-lists, last use and rotation for keys; the
/// per-tenant request rate.
struct KeyLifecycle;

impl MigrationName for KeyLifecycle {
    fn name(&self) -> &str {
        "m0003_key_lifecycle"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for KeyLifecycle {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite takes one column per ALTER TABLE.
        let columns = [
            ColumnDef::new("expires_at")
                .timestamp_with_time_zone()
                .null()
                .to_owned(),
            ColumnDef::new("allowed_networks")
                .text()
                .not_null()
                .default("")
                .to_owned(),
            ColumnDef::new("last_used_at")
                .timestamp_with_time_zone()
                .null()
                .to_owned(),
            ColumnDef::new("replaced_by")
                .string_len(64)
                .null()
                .to_owned(),
        ];
        for mut column in columns {
            manager
                .alter_table(
                    Table::alter()
                        .table("auth_api_key")
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table("auth_tenant_rate_limit")
                    .col(
                        ColumnDef::new("tenant_id")
                            .string_len(64)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new("requests_per_minute").integer().not_null())
                    .to_owned(),
            )
            .await
    }
}

/// The web origins of widget keys.
struct WidgetOrigins;

impl MigrationName for WidgetOrigins {
    fn name(&self) -> &str {
        "m0004_widget_origins"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for WidgetOrigins {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("auth_api_key")
                    .add_column(
                        ColumnDef::new("allowed_origins")
                            .text()
                            .not_null()
                            .default(""),
                    )
                    .to_owned(),
            )
            .await
    }
}

struct CreateAccounts;

impl MigrationName for CreateAccounts {
    fn name(&self) -> &str {
        "m0002_create_accounts"
    }
}

fn text_id(name: &'static str) -> ColumnDef {
    ColumnDef::new(name).string_len(64).not_null().to_owned()
}

fn timestamp(name: &'static str) -> ColumnDef {
    ColumnDef::new(name)
        .timestamp_with_time_zone()
        .not_null()
        .to_owned()
}

fn optional_timestamp(name: &'static str) -> ColumnDef {
    ColumnDef::new(name)
        .timestamp_with_time_zone()
        .null()
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for CreateAccounts {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("auth_user")
                    .col(text_id("id").primary_key())
                    .col(ColumnDef::new("tenant_id").string_len(64).null())
                    .col(text_id("scope"))
                    .col(ColumnDef::new("email").string_len(254).not_null())
                    .col(ColumnDef::new("role").string_len(16).not_null())
                    .col(ColumnDef::new("password_hash").text().not_null())
                    .col(ColumnDef::new("totp_secret").text().null())
                    .col(
                        ColumnDef::new("totp_confirmed")
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .col(ColumnDef::new("totp_last_step").big_integer().null())
                    .col(optional_timestamp("disabled_at"))
                    .col(timestamp("created_at"))
                    .to_owned(),
            )
            .await?;
        // Sign-in finds a user by scope and email; one account per email in
        // each tenant, and one among the platform admins.
        manager
            .create_index(
                Index::create()
                    .name("auth_user_scope_email")
                    .table("auth_user")
                    .col("scope")
                    .col("email")
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("auth_session")
                    .col(text_id("id").primary_key())
                    .col(text_id("token_hash"))
                    .col(text_id("user_id"))
                    .col(ColumnDef::new("tenant_id").string_len(64).null())
                    .col(ColumnDef::new("client_address").string_len(64).not_null())
                    .col(timestamp("created_at"))
                    .col(timestamp("last_seen_at"))
                    .col(timestamp("expires_at"))
                    .col(optional_timestamp("revoked_at"))
                    .col(ColumnDef::new("revoke_reason").string_len(32).null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("auth_session_token_hash")
                    .table("auth_session")
                    .col("token_hash")
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("auth_session_user_id")
                    .table("auth_session")
                    .col("user_id")
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("auth_sign_in_challenge")
                    .col(text_id("id").primary_key())
                    .col(text_id("token_hash"))
                    .col(text_id("user_id"))
                    .col(timestamp("expires_at"))
                    .col(optional_timestamp("used_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("auth_sign_in_challenge_token_hash")
                    .table("auth_sign_in_challenge")
                    .col("token_hash")
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("auth_recovery_code")
                    .col(text_id("id").primary_key())
                    .col(text_id("user_id"))
                    .col(text_id("code_hash"))
                    .col(optional_timestamp("used_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("auth_recovery_code_user_id")
                    .table("auth_recovery_code")
                    .col("user_id")
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("auth_tenant_security")
                    .col(text_id("tenant_id").primary_key())
                    .col(
                        ColumnDef::new("require_second_factor_for_managers")
                            .boolean()
                            .not_null(),
                    )
                    .col(timestamp("updated_at"))
                    .to_owned(),
            )
            .await?;

        // Failure counters (see `throttle`): times are Unix milliseconds so
        // the one atomic statement can do its arithmetic the same way on
        // SQLite and PostgreSQL.
        manager
            .create_table(
                Table::create()
                    .table("auth_throttle")
                    .col(
                        ColumnDef::new("bucket")
                            .string_len(320)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new("failures").big_integer().not_null())
                    .col(ColumnDef::new("next_allowed_ms").big_integer().not_null())
                    .col(ColumnDef::new("updated_ms").big_integer().not_null())
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
