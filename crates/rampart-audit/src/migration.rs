//! The audit service's schema, applied by [`crate::migrate`]. Runs on SQLite
//! and PostgreSQL alike; the history lives in `audit_migrations`.
//!
//! - `m0001_create_events`: the walking skeleton's hash-chained events.
//! - `m0002_merkle_log`: the Merkle log. Adds the new event fields, the
//!   tree's node table, each log's head and the signed checkpoints; then
//!   re-hashes every chain-era log as leaves in its stored order (after
//!   checking its chain, so that a log altered before the migration is not
//!   laundered into a clean tree) and drops the chain columns.

use sea_orm::sea_query::{Expr, ExprTrait, Order, Query};
use sea_orm::{ConnectionTrait, Statement};
use sea_orm_migration::prelude::*;

use crate::leaf::Event;
use crate::legacy_chain::{ChainEntry, EventFields, GENESIS, check_entry};
use crate::merkle::Frontier;

pub(crate) struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(CreateEvents), Box::new(MerkleLog)]
    }

    fn migration_table_name() -> DynIden {
        "audit_migrations".into_iden()
    }
}

struct CreateEvents;

// The name is recorded in the history table and must never change: derived
// from the file name it would read "migration" for every migration here.
impl MigrationName for CreateEvents {
    fn name(&self) -> &str {
        "m0001_create_events"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for CreateEvents {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("audit_event")
                    .col(ColumnDef::new("log_id").string_len(64).not_null())
                    .col(ColumnDef::new("sequence").big_integer().not_null())
                    .col(ColumnDef::new("event_id").string_len(64).not_null())
                    .col(ColumnDef::new("tenant_id").string_len(64).not_null())
                    .col(ColumnDef::new("actor").text().not_null())
                    .col(ColumnDef::new("credential_id").text().not_null())
                    .col(ColumnDef::new("action").string_len(64).not_null())
                    .col(ColumnDef::new("target").text().not_null())
                    .col(ColumnDef::new("occurred_at").string_len(64).not_null())
                    .col(ColumnDef::new("service").string_len(32).not_null())
                    .col(ColumnDef::new("request_id").text().not_null())
                    .col(ColumnDef::new("outcome").string_len(16).not_null())
                    .col(
                        ColumnDef::new("recorded_at")
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new("prev_hash").string_len(64).not_null())
                    .col(ColumnDef::new("chain_hash").string_len(64).not_null())
                    // One event per position in each log: if two writers ever
                    // race past the in-process lock, one of them fails
                    // instead of forking the chain.
                    .primary_key(Index::create().col("log_id").col("sequence"))
                    .to_owned(),
            )
            .await?;
        // Producers retry; the same event id is stored once.
        manager
            .create_index(
                Index::create()
                    .name("audit_event_event_id")
                    .table("audit_event")
                    .col("event_id")
                    .unique()
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}

struct MerkleLog;

impl MigrationName for MerkleLog {
    fn name(&self) -> &str {
        "m0002_merkle_log"
    }
}

/// Rows read per query while re-hashing, and node rows per insert.
const MIGRATION_PAGE: u64 = 1000;
const NODE_CHUNK: usize = 1000;

#[async_trait::async_trait]
impl MigrationTrait for MerkleLog {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            ColumnDef::new("client_addr")
                .text()
                .not_null()
                .default("")
                .to_owned(),
            ColumnDef::new("details")
                .text()
                .not_null()
                .default("{}")
                .to_owned(),
            // Chain-era events followed the first version of their kind.
            ColumnDef::new("schema_version")
                .integer()
                .not_null()
                .default(1)
                .to_owned(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table("audit_event")
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table("audit_node")
                    .col(ColumnDef::new("log_id").string_len(64).not_null())
                    .col(ColumnDef::new("level").small_integer().not_null())
                    .col(ColumnDef::new("idx").big_integer().not_null())
                    .col(ColumnDef::new("hash").binary().not_null())
                    .primary_key(Index::create().col("log_id").col("level").col("idx"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("audit_log")
                    .col(
                        ColumnDef::new("log_id")
                            .string_len(64)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new("size").big_integer().not_null())
                    .col(ColumnDef::new("root_hash").binary().not_null())
                    .col(
                        ColumnDef::new("updated_at")
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("audit_checkpoint")
                    .col(ColumnDef::new("log_id").string_len(64).not_null())
                    .col(ColumnDef::new("size").big_integer().not_null())
                    .col(ColumnDef::new("root_hash").string_len(64).not_null())
                    .col(ColumnDef::new("timestamp").string_len(64).not_null())
                    .col(ColumnDef::new("key_id").string_len(32).not_null())
                    .col(ColumnDef::new("signature").string_len(128).not_null())
                    .primary_key(Index::create().col("log_id").col("size"))
                    .to_owned(),
            )
            .await?;
        // Queries by action are the common case for a reviewer ("every
        // sign-in failure"); other filters scan one log.
        manager
            .create_index(
                Index::create()
                    .name("audit_event_action")
                    .table("audit_event")
                    .col("log_id")
                    .col("action")
                    .col("sequence")
                    .to_owned(),
            )
            .await?;

        rehash_chain_era_logs(manager.get_connection()).await?;

        for column in ["prev_hash", "chain_hash"] {
            manager
                .alter_table(
                    Table::alter()
                        .table("audit_event")
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

/// Re-hashes every log stored under the hash chain as Merkle leaves, in
/// stored order, after checking the chain entry by entry.
async fn rehash_chain_era_logs(db: &impl ConnectionTrait) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    let logs: Vec<String> = db
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT DISTINCT log_id FROM audit_event ORDER BY log_id",
        ))
        .await?
        .iter()
        .map(|row| row.try_get("", "log_id"))
        .collect::<Result<_, _>>()?;
    for log_id in logs {
        let mut frontier = Frontier::new();
        let mut prev = GENESIS;
        loop {
            let from = <i64 as TryFrom<u64>>::try_from(frontier.size())
                .map_err(|_| DbErr::Migration("a log is too long".to_owned()))?;
            let page = Query::select()
                .columns([
                    "log_id",
                    "sequence",
                    "event_id",
                    "tenant_id",
                    "actor",
                    "credential_id",
                    "action",
                    "target",
                    "occurred_at",
                    "service",
                    "request_id",
                    "outcome",
                    "prev_hash",
                    "chain_hash",
                ])
                .from("audit_event")
                .and_where(Expr::col("log_id").eq(log_id.as_str()))
                .and_where(Expr::col("sequence").gte(from))
                .order_by("sequence", Order::Asc)
                .limit(MIGRATION_PAGE)
                .to_owned();
            let rows = db.query_all(&page).await?;
            if rows.is_empty() {
                break;
            }
            let mut nodes = Vec::new();
            for row in &rows {
                let text = |name: &str| row.try_get::<String>("", name);
                let sequence: i64 = row.try_get("", "sequence")?;
                let entry = ChainEntry {
                    log_id: text("log_id")?,
                    sequence: <u64 as TryFrom<i64>>::try_from(sequence).unwrap_or(u64::MAX),
                    event: EventFields {
                        event_id: text("event_id")?,
                        tenant_id: text("tenant_id")?,
                        actor: text("actor")?,
                        credential_id: text("credential_id")?,
                        action: text("action")?,
                        target: text("target")?,
                        occurred_at: text("occurred_at")?,
                        service: text("service")?,
                        request_id: text("request_id")?,
                        outcome: text("outcome")?,
                    },
                    prev_hash: text("prev_hash")?,
                    chain_hash: text("chain_hash")?,
                };
                let index = frontier.size();
                prev = check_entry(&log_id, &prev, index, &entry).map_err(|problem| {
                    DbErr::Migration(format!(
                        "audit log {log_id}: the hash chain is broken at index {index} ({problem}); \
                         refusing to re-hash it into the Merkle log. Restore the log from a backup \
                         or remove the broken entries knowingly, then migrate again"
                    ))
                })?;
                let fields = entry.event;
                let event = Event {
                    event_id: fields.event_id,
                    tenant_id: fields.tenant_id,
                    actor: fields.actor,
                    credential_id: fields.credential_id,
                    action: fields.action,
                    target: fields.target,
                    occurred_at: fields.occurred_at,
                    service: fields.service,
                    request_id: fields.request_id,
                    outcome: fields.outcome,
                    client_addr: String::new(),
                    details: std::collections::BTreeMap::new(),
                    schema_version: 1,
                };
                frontier.push(event.leaf_hash(&log_id), |node, hash| {
                    if crate::store::is_stored(node.level) {
                        nodes.push((node, *hash));
                    }
                });
            }
            for chunk in nodes.chunks(NODE_CHUNK) {
                let mut insert = Query::insert()
                    .into_table("audit_node")
                    .columns(["log_id", "level", "idx", "hash"])
                    .to_owned();
                for (node, hash) in chunk {
                    let idx = <i64 as TryFrom<u64>>::try_from(node.index)
                        .map_err(|_| DbErr::Migration("a log is too long".to_owned()))?;
                    insert.values_panic([
                        log_id.as_str().into(),
                        i16::from(node.level).into(),
                        idx.into(),
                        hash.to_vec().into(),
                    ]);
                }
                db.execute(&insert).await?;
            }
        }
        let size = <i64 as TryFrom<u64>>::try_from(frontier.size())
            .map_err(|_| DbErr::Migration("a log is too long".to_owned()))?;
        let head = Query::insert()
            .into_table("audit_log")
            .columns(["log_id", "size", "root_hash", "updated_at"])
            .values_panic([
                log_id.as_str().into(),
                size.into(),
                frontier.root().to_vec().into(),
                chrono::Utc::now().into(),
            ])
            .to_owned();
        db.execute(&head).await?;
        tracing::info!(
            log_id,
            size,
            "chain-era audit log re-hashed into the merkle log"
        );
    }
    Ok(())
}
