//! Entry points for `benches/audit_log.rs` into what is otherwise
//! private: not an API.

use rampart_kit::pki::ServiceName;
use rampart_proto::audit::v1::AuditEvent;
use sea_orm::sea_query::Query;
use sea_orm::{ConnectionTrait, DatabaseConnection, TransactionTrait};

use crate::events::parse_batch;
use crate::merkle::{Frontier, Hash};
use crate::store::EventStore;

/// The audit service's event store, as the service holds it: one for its
/// whole life, so what it remembers between appends counts.
pub struct Appender(EventStore);

impl Appender {
    #[must_use]
    pub fn new(db: &DatabaseConnection) -> Self {
        Self(EventStore::new(db.clone()))
    }

    /// Appends one batch as the crm service would; returns how many were
    /// new.
    pub async fn append(&self, events: Vec<AuditEvent>) -> anyhow::Result<u32> {
        let events = parse_batch(events).map_err(|e| anyhow::anyhow!("{e}"))?;
        let appended = self
            .0
            .append(events, ServiceName::Crm)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(appended.stored)
    }
}

/// Writes the tree of `leaves` for `log_id` directly (nodes and head, no
/// events): a large log to measure proofs on, without appending it.
pub async fn write_tree(
    db: &DatabaseConnection,
    log_id: &str,
    leaves: impl Iterator<Item = Hash>,
) -> anyhow::Result<Hash> {
    let tx = db.begin().await?;
    let mut frontier = Frontier::new();
    let mut rows: Vec<(u8, u64, Hash)> = Vec::with_capacity(10_000);
    for leaf in leaves {
        frontier.push(leaf, |id, hash| {
            if crate::store::is_stored(id.level) {
                rows.push((id.level, id.index, *hash));
            }
        });
        if rows.len() >= 5000 {
            insert_nodes(&tx, log_id, &rows).await?;
            rows.clear();
        }
    }
    insert_nodes(&tx, log_id, &rows).await?;
    let head = Query::insert()
        .into_table("audit_log")
        .columns(["log_id", "size", "root_hash", "updated_at"])
        .values_panic([
            log_id.into(),
            i64::try_from(frontier.size())?.into(),
            frontier.root().to_vec().into(),
            chrono::Utc::now().into(),
        ])
        .to_owned();
    tx.execute(&head).await?;
    tx.commit().await?;
    // A live database has statistics for its tables; one just bulk-loaded
    // has none until autovacuum comes round, and plans scans meanwhile.
    db.execute_unprepared("ANALYZE audit_node").await?;
    Ok(frontier.root())
}

async fn insert_nodes(
    db: &impl ConnectionTrait,
    log_id: &str,
    rows: &[(u8, u64, Hash)],
) -> anyhow::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut insert = Query::insert()
        .into_table("audit_node")
        .columns(["log_id", "level", "idx", "hash"])
        .to_owned();
    for (level, index, hash) in rows {
        insert.values_panic([
            log_id.into(),
            i16::from(*level).into(),
            i64::try_from(*index)?.into(),
            hash.to_vec().into(),
        ]);
    }
    db.execute(&insert).await?;
    Ok(())
}

/// An inclusion proof from the stored tree.
pub async fn inclusion_proof(
    db: &DatabaseConnection,
    log_id: &str,
    index: u64,
    size: u64,
) -> anyhow::Result<Vec<Hash>> {
    EventStore::new(db.clone())
        .inclusion_proof(log_id, index, size)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))
}

/// A consistency proof from the stored tree.
pub async fn consistency_proof(
    db: &DatabaseConnection,
    log_id: &str,
    old: u64,
    new: u64,
) -> anyhow::Result<Vec<Hash>> {
    EventStore::new(db.clone())
        .consistency_proof(log_id, old, new)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))
}
