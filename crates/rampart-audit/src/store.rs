//! Storage of the audit logs: appending events and growing each log's
//! Merkle tree, reading events, proofs and checkpoints.
//!
//! Per log: events in `audit_event` (position = leaf index), the hash of
//! every complete aligned subtree at levels 0, 4, 8, ... in `audit_node`
//! (the levels between are computed from at most 8 stored nodes), the size
//! and root in `audit_log`, signed checkpoints in `audit_checkpoint`. An
//! append reads the log's right edge (at most one node per bit of its
//! size), checks that it still hashes to the stored root, pushes the new
//! leaves and writes the leaf and the stored parents each completes: O(log
//! n) reads and, amortised, 1.07 node rows per event, whatever the log's
//! size. A proof reads O(log n) stored nodes in one query.
//!
//! Appends are serialised by an in-process lock; across instances, the head
//! moves only from the size it was read at (`UPDATE ... WHERE size = old`)
//! and the primary keys on positions and nodes back that up, so a racing
//! writer fails its transaction (and its producer retries) instead of
//! forking a log.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use chrono::{SecondsFormat, Utc};
use rampart_kit::pki::ServiceName;
use sea_orm::sea_query::{Condition, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Statement,
};
use tokio::sync::Mutex;

use crate::checkpoint::{Checkpoint, SigningKey};
use crate::entity::{checkpoint, event, log, node};
use crate::error::Error;
use crate::events::{LogId, ValidEvent};
use crate::leaf::Event;
use crate::merkle::{
    Frontier, Hash, NodeId, consistency_ranges, decompose, empty_root, inclusion_ranges,
    range_hash, verify_consistency,
};

/// Which levels of each tree are stored: the leaves, and every fourth level
/// above them. A node in between is computed from at most 8 stored nodes
/// below it, so a proof still reads O(log n) rows in one query, while an
/// append writes about 1.07 node rows per event instead of 2.
const STORED_EVERY: u8 = 4;

/// Whether nodes of `level` are stored.
#[must_use]
pub(crate) fn is_stored(level: u8) -> bool {
    level.is_multiple_of(STORED_EVERY)
}

/// The most rows in one INSERT: events (17 columns) and nodes (4), well
/// under both databases' limits on bound parameters.
const EVENT_CHUNK: usize = 500;
const NODE_CHUNK: usize = 256;

/// How many of `remaining` node rows the next INSERT takes: the largest
/// power of two up to `max`. An append completes a varying number of nodes
/// (212, 213, 214, ... for 200 events), and each distinct row count is a
/// new statement text, which the driver prepares afresh (its cache is keyed
/// by text) and PostgreSQL parses and plans again. With power-of-two chunks
/// there are at most nine shapes, each prepared once per connection.
/// Measured in the release audit bench: the node insert of a 200-event
/// batch took 50 ms as one ever-new statement (psql sends the same rows in
/// 8 ms), and the append went from 0.45x to 1.56x of plain batched inserts.
/// Splitting the events the same way (128 + 64 + 8 for a batch of 200) made
/// the append slower, 0.25x, so events go in one statement per batch.
fn fixed_shape_chunk(remaining: usize, max: usize) -> usize {
    let bound = remaining.min(max);
    1 << bound.ilog2()
}

/// What one append did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Appended {
    pub stored: u32,
    pub duplicates: u32,
}

/// An event with its position and the leaf hash the tree holds for that
/// position (`None` when the tree has none: a tampered database).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoredEvent {
    pub index: u64,
    pub event: Event,
    pub leaf_hash: Option<Hash>,
}

/// Optional filters of a query, combined with AND.
#[derive(Debug, Clone, Default)]
pub(crate) struct Filter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub target: Option<String>,
    /// RFC 3339 UTC with microseconds, as stored: inclusive.
    pub since: Option<String>,
    /// Exclusive.
    pub until: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct EventStore {
    db: DatabaseConnection,
    /// Serialises appends, and holds each log's right edge as of its last
    /// append by this store, so an append need not read it back: the head's
    /// conditional update still refuses a log that another writer moved, and
    /// any failed append forgets every edge.
    append_lock: Arc<Mutex<HashMap<String, Frontier>>>,
}

impl EventStore {
    pub(crate) fn new(db: DatabaseConnection) -> Self {
        Self {
            db,
            append_lock: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Appends `events` from `service` in one transaction. Events already
    /// stored, or repeated within the batch, are skipped and counted as
    /// duplicates.
    pub(crate) async fn append(
        &self,
        events: Vec<ValidEvent>,
        service: ServiceName,
    ) -> Result<Appended, Error> {
        if events.is_empty() {
            return Ok(Appended::default());
        }
        let mut edges = self.append_lock.lock().await;
        // Resent events are rare (a relay that crashed between send and
        // delete), so first try without looking them up: the insert skips
        // any id already stored, and if it skipped one, the positions given
        // out are wrong, so the attempt is rolled back and made again with
        // the lookup.
        let mut outcome = self
            .append_serialised(&events, service, false, &mut edges)
            .await;
        if matches!(outcome, Ok(None)) {
            outcome = self
                .append_serialised(&events, service, true, &mut edges)
                .await;
        }
        match outcome {
            Ok(appended) => Ok(appended.expect("with the lookup no stored event is met")),
            Err(error) => {
                // Nothing of the attempt is committed, and another writer
                // may have moved a log: read every edge afresh next time.
                edges.clear();
                Err(error)
            }
        }
    }

    /// One attempt at an append, under the append lock; `None` when
    /// `look_up` is false and an event turned out to be stored already.
    async fn append_serialised(
        &self,
        events: &[ValidEvent],
        service: ServiceName,
        look_up: bool,
        edges: &mut HashMap<String, Frontier>,
    ) -> Result<Option<Appended>, Error> {
        let tx = rampart_kit::db::begin_write(&self.db).await?;
        let mut seen: HashSet<String> = if look_up {
            let ids: Vec<&str> = events.iter().map(|e| e.event.event_id.as_str()).collect();
            event::Entity::find()
                .select_only()
                .column(event::Column::EventId)
                .filter(event::Column::EventId.is_in(ids))
                .into_tuple::<String>()
                .all(&tx)
                .await?
                .into_iter()
                .collect()
        } else {
            HashSet::new()
        };

        // New events per log, each log in the order of its first event.
        let mut outcome = Appended::default();
        let mut order: Vec<LogId> = Vec::new();
        let mut by_log: HashMap<LogId, Vec<Event>> = HashMap::new();
        for valid in events {
            if !seen.insert(valid.event.event_id.clone()) {
                outcome.duplicates += 1;
                continue;
            }
            if !by_log.contains_key(&valid.log) {
                order.push(valid.log.clone());
            }
            let mut event = valid.event.clone();
            event.service = service.as_str().to_owned();
            by_log.entry(valid.log.clone()).or_default().push(event);
            outcome.stored += 1;
        }

        let recorded_at = Utc::now();
        let mut event_rows = Vec::new();
        let mut node_rows = Vec::new();
        let mut new_edges = Vec::new();
        for log in order {
            let log_id = log.as_str();
            let mut frontier = match edges.get(log_id) {
                Some(known) => known.clone(),
                None => {
                    let (old_size, old_root) = read_head(&tx, log_id).await?;
                    read_frontier(&tx, log_id, old_size, &old_root).await?
                }
            };
            let old_size = frontier.size();
            for event in by_log.remove(&log).unwrap_or_default() {
                let index = frontier.size();
                frontier.push(event.leaf_hash(log_id), |id, hash| {
                    if is_stored(id.level) {
                        node_rows.push((log_id.to_owned(), id, *hash));
                    }
                });
                event_rows.push(event_row(log_id, index, event, recorded_at)?);
            }
            write_head(&tx, log_id, old_size, &frontier, recorded_at).await?;
            new_edges.push((log_id.to_owned(), frontier));
        }

        let expected = event_rows.len() as u64;
        let mut inserted = 0;
        let mut event_rows = event_rows.into_iter().peekable();
        while event_rows.peek().is_some() {
            let chunk: Vec<_> = event_rows.by_ref().take(EVENT_CHUNK).collect();
            inserted += event::Entity::insert_many(chunk)
                .on_conflict(
                    OnConflict::column(event::Column::EventId)
                        .do_nothing()
                        .to_owned(),
                )
                .exec_without_returning(&tx)
                .await?;
        }
        if inserted != expected {
            tx.rollback().await?;
            if look_up {
                // Stored by another writer since the lookup.
                return Err(Error::Internal(anyhow::anyhow!(
                    "events were stored concurrently; the producer will retry"
                )));
            }
            return Ok(None);
        }
        let mut rest = node_rows.as_slice();
        while !rest.is_empty() {
            let (chunk, after) = rest.split_at(fixed_shape_chunk(rest.len(), NODE_CHUNK));
            rest = after;
            let rows = chunk
                .iter()
                .map(|(log_id, id, hash)| {
                    Ok(node::ActiveModel {
                        log_id: Set(log_id.clone()),
                        level: Set(i16::from(id.level)),
                        idx: Set(to_db(id.index)?),
                        hash: Set(hash.to_vec()),
                    })
                })
                .collect::<Result<Vec<_>, Error>>()?;
            node::Entity::insert_many(rows)
                .exec_without_returning(&tx)
                .await?;
        }
        tx.commit().await?;
        edges.extend(new_edges);
        Ok(Some(outcome))
    }

    /// The log's size and root hash.
    pub(crate) async fn head(&self, log_id: &str) -> Result<(u64, Hash), Error> {
        read_head(&self.db, log_id).await
    }

    /// Up to `limit` events of the log from position `from` on that pass
    /// `filter`, in order.
    pub(crate) async fn list(
        &self,
        log_id: &str,
        filter: &Filter,
        from: u64,
        limit: u64,
    ) -> Result<Vec<StoredEvent>, Error> {
        let mut query = event::Entity::find()
            .filter(event::Column::LogId.eq(log_id))
            .filter(event::Column::Sequence.gte(to_db(from)?));
        if let Some(actor) = &filter.actor {
            query = query.filter(event::Column::Actor.eq(actor.as_str()));
        }
        if let Some(action) = &filter.action {
            query = query.filter(event::Column::Action.eq(action.as_str()));
        }
        if let Some(target) = &filter.target {
            query = query.filter(event::Column::Target.eq(target.as_str()));
        }
        if let Some(since) = &filter.since {
            query = query.filter(event::Column::OccurredAt.gte(since.as_str()));
        }
        if let Some(until) = &filter.until {
            query = query.filter(event::Column::OccurredAt.lt(until.as_str()));
        }
        let rows = query
            .order_by_asc(event::Column::Sequence)
            .limit(limit)
            .all(&self.db)
            .await?;
        let leaves = self
            .nodes(
                log_id,
                &rows
                    .iter()
                    .map(|row| Ok(NodeId::new(0, from_db(row.sequence)?)))
                    .collect::<Result<Vec<_>, Error>>()?,
            )
            .await?;
        with_leaves(rows, |index| leaves.get(&NodeId::new(0, index)).copied())
    }

    /// The events at positions `from..to` that are stored, in order, with
    /// the leaf hashes the tree holds for them.
    pub(crate) async fn range(
        &self,
        log_id: &str,
        from: u64,
        to: u64,
    ) -> Result<Vec<StoredEvent>, Error> {
        let rows = event::Entity::find()
            .filter(event::Column::LogId.eq(log_id))
            .filter(event::Column::Sequence.gte(to_db(from)?))
            .filter(event::Column::Sequence.lt(to_db(to)?))
            .order_by_asc(event::Column::Sequence)
            .all(&self.db)
            .await?;
        let leaves: HashMap<u64, Hash> = node::Entity::find()
            .filter(node::Column::LogId.eq(log_id))
            .filter(node::Column::Level.eq(0))
            .filter(node::Column::Idx.gte(to_db(from)?))
            .filter(node::Column::Idx.lt(to_db(to)?))
            .all(&self.db)
            .await?
            .into_iter()
            .filter_map(|row| Some((u64::try_from(row.idx).ok()?, to_hash(&row.hash)?)))
            .collect();
        with_leaves(rows, |index| leaves.get(&index).copied())
    }

    /// The position of the event `event_id` in the log, if it is there.
    pub(crate) async fn position(
        &self,
        log_id: &str,
        event_id: &str,
    ) -> Result<Option<u64>, Error> {
        let sequence: Option<i64> = event::Entity::find()
            .select_only()
            .column(event::Column::Sequence)
            .filter(event::Column::LogId.eq(log_id))
            .filter(event::Column::EventId.eq(event_id))
            .into_tuple()
            .one(&self.db)
            .await?;
        sequence.map(from_db).transpose()
    }

    /// The stored hashes of `ids`; absent ones are left out.
    async fn nodes(&self, log_id: &str, ids: &[NodeId]) -> Result<HashMap<NodeId, Hash>, Error> {
        read_nodes(&self.db, log_id, ids).await
    }

    /// The hashes of `ranges`, from stored nodes.
    async fn range_hashes(&self, log_id: &str, ranges: &[(u64, u64)]) -> Result<Vec<Hash>, Error> {
        let ids: Vec<NodeId> = ranges
            .iter()
            .flat_map(|&(begin, end)| decompose(begin, end))
            .collect();
        let found = self.nodes(log_id, &ids).await?;
        ranges
            .iter()
            .map(|&(begin, end)| {
                range_hash(begin, end, |id| {
                    found
                        .get(&id)
                        .copied()
                        .ok_or_else(|| missing_node(log_id, id))
                })
            })
            .collect()
    }

    /// The inclusion proof of position `index` in the log at `size`.
    pub(crate) async fn inclusion_proof(
        &self,
        log_id: &str,
        index: u64,
        size: u64,
    ) -> Result<Vec<Hash>, Error> {
        self.range_hashes(log_id, &inclusion_ranges(index, size))
            .await
    }

    /// The consistency proof from size `old` to size `new`.
    pub(crate) async fn consistency_proof(
        &self,
        log_id: &str,
        old: u64,
        new: u64,
    ) -> Result<Vec<Hash>, Error> {
        self.range_hashes(log_id, &consistency_ranges(old, new))
            .await
    }

    /// The hashes of the perfect subtrees making up `begin..end`.
    pub(crate) async fn subtree_hashes(
        &self,
        log_id: &str,
        begin: u64,
        end: u64,
    ) -> Result<Vec<Hash>, Error> {
        let ids = decompose(begin, end);
        let found = self.nodes(log_id, &ids).await?;
        ids.into_iter()
            .map(|id| {
                found
                    .get(&id)
                    .copied()
                    .ok_or_else(|| missing_node(log_id, id))
            })
            .collect()
    }

    pub(crate) async fn latest_checkpoint(
        &self,
        log_id: &str,
    ) -> Result<Option<Checkpoint>, Error> {
        let row = checkpoint::Entity::find()
            .filter(checkpoint::Column::LogId.eq(log_id))
            .order_by_desc(checkpoint::Column::Size)
            .one(&self.db)
            .await?;
        row.map(into_checkpoint).transpose()
    }

    pub(crate) async fn checkpoint_at(
        &self,
        log_id: &str,
        size: u64,
    ) -> Result<Option<Checkpoint>, Error> {
        let row = checkpoint::Entity::find_by_id((log_id.to_owned(), to_db(size)?))
            .one(&self.db)
            .await?;
        row.map(into_checkpoint).transpose()
    }

    /// A checkpoint of the log as it is now: the latest one when the log has
    /// not grown since, else a new one, signed after checking that the
    /// stored tree still extends the latest checkpoint. A log whose stored
    /// tree does not (altered behind the service's back) gets no new
    /// signature: the failure is logged and answered as an internal error.
    pub(crate) async fn sign_checkpoint(
        &self,
        log_id: &str,
        key: &SigningKey,
    ) -> Result<Checkpoint, Error> {
        // The latest checkpoint first, then the head: the log only grows, so
        // a head read after the checkpoint is at least its size. Read the
        // other way round, another instance appending and signing between
        // the two reads looked like a shrunken log (a false "tampered").
        let latest = self.latest_checkpoint(log_id).await?;
        let (size, root) = self.head(log_id).await?;
        if let Some(latest) = &latest {
            if latest.size == size {
                return Ok(latest.clone());
            }
            if latest.size > size {
                return Err(tampered(
                    log_id,
                    format!(
                        "the log holds {size} events but was signed at {}",
                        latest.size
                    ),
                ));
            }
        }
        let timestamp = Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true);
        if size == 0 {
            // The empty log's checkpoint is not stored: it proves nothing
            // that a later one does not.
            return Ok(key.sign(log_id, 0, &root, timestamp));
        }
        let edge = self.subtree_hashes(log_id, 0, size).await?;
        let frontier = Frontier::from_parts(size, edge)
            .ok_or_else(|| tampered(log_id, "the right edge of the tree is incomplete".into()))?;
        if frontier.root() != root {
            return Err(tampered(
                log_id,
                "the stored tree does not hash to its root".into(),
            ));
        }
        if let Some(latest) = &latest {
            let old_root = latest
                .root()
                .ok_or_else(|| tampered(log_id, "a stored checkpoint is malformed".into()))?;
            let proof = self.consistency_proof(log_id, latest.size, size).await?;
            verify_consistency(latest.size, size, &old_root, &root, &proof).map_err(|error| {
                tampered(
                    log_id,
                    format!(
                        "the tree at {size} does not extend the checkpoint at {}: {error}",
                        latest.size
                    ),
                )
            })?;
        }
        let signed = key.sign(log_id, size, &root, timestamp);
        checkpoint::Entity::insert(checkpoint::ActiveModel {
            log_id: Set(signed.log_id.clone()),
            size: Set(to_db(size)?),
            root_hash: Set(signed.root_hash.clone()),
            timestamp: Set(signed.timestamp.clone()),
            key_id: Set(signed.key_id.clone()),
            signature: Set(signed.signature.clone()),
        })
        .on_conflict(
            OnConflict::columns([checkpoint::Column::LogId, checkpoint::Column::Size])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(&self.db)
        .await?;
        // Another signer may have got there first; its checkpoint stands.
        Ok(self.checkpoint_at(log_id, size).await?.unwrap_or(signed))
    }

    /// The logs that grew since their latest checkpoint.
    pub(crate) async fn logs_to_checkpoint(&self) -> Result<Vec<String>, Error> {
        let backend = self.db.get_database_backend();
        let rows = self
            .db
            .query_all_raw(Statement::from_string(
                backend,
                "SELECT l.log_id AS log_id FROM audit_log l WHERE l.size > COALESCE(\
                 (SELECT MAX(c.size) FROM audit_checkpoint c WHERE c.log_id = l.log_id), 0) \
                 ORDER BY l.log_id",
            ))
            .await?;
        rows.iter()
            .map(|row| row.try_get("", "log_id").map_err(Error::from))
            .collect()
    }
}

async fn read_head(db: &impl ConnectionTrait, log_id: &str) -> Result<(u64, Hash), Error> {
    let Some(head) = log::Entity::find_by_id(log_id.to_owned()).one(db).await? else {
        return Ok((0, empty_root()));
    };
    let root = to_hash(&head.root_hash)
        .ok_or_else(|| tampered(log_id, "the stored root is malformed".into()))?;
    Ok((from_db(head.size)?, root))
}

/// The log's right edge at `size`, checked against its stored root.
async fn read_frontier(
    db: &impl ConnectionTrait,
    log_id: &str,
    size: u64,
    root: &Hash,
) -> Result<Frontier, Error> {
    let ids = decompose(0, size);
    let found = read_nodes(db, log_id, &ids).await?;
    let hashes = ids
        .into_iter()
        .map(|id| {
            found
                .get(&id)
                .copied()
                .ok_or_else(|| missing_node(log_id, id))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let frontier = Frontier::from_parts(size, hashes).expect("one hash per set bit of the size");
    if &frontier.root() != root {
        return Err(tampered(
            log_id,
            "the right edge of the tree does not hash to the stored root; refusing to append"
                .into(),
        ));
    }
    Ok(frontier)
}

async fn write_head(
    db: &impl ConnectionTrait,
    log_id: &str,
    old_size: u64,
    frontier: &Frontier,
    now: chrono::DateTime<Utc>,
) -> Result<(), Error> {
    let new_size = to_db(frontier.size())?;
    let root = frontier.root().to_vec();
    if old_size == 0 {
        log::Entity::insert(log::ActiveModel {
            log_id: Set(log_id.to_owned()),
            size: Set(new_size),
            root_hash: Set(root),
            updated_at: Set(now),
        })
        .exec_without_returning(db)
        .await?;
        return Ok(());
    }
    let moved = log::Entity::update_many()
        .col_expr(log::Column::Size, new_size.into())
        .col_expr(log::Column::RootHash, root.into())
        .col_expr(log::Column::UpdatedAt, now.into())
        .filter(log::Column::LogId.eq(log_id))
        .filter(log::Column::Size.eq(to_db(old_size)?))
        .exec(db)
        .await?;
    if moved.rows_affected != 1 {
        return Err(Error::Internal(anyhow::anyhow!(
            "audit log {log_id} moved during the append (another writer); the producer will retry"
        )));
    }
    Ok(())
}

async fn read_nodes(
    db: &impl ConnectionTrait,
    log_id: &str,
    ids: &[NodeId],
) -> Result<HashMap<NodeId, Hash>, Error> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    // Each wanted node, as the stored nodes below it that make it up.
    let mut by_level: BTreeMap<u8, Vec<i64>> = BTreeMap::new();
    for id in ids {
        let (base, span) = stored_base(*id);
        for j in 0..(1u64 << span) {
            by_level
                .entry(base)
                .or_default()
                .push(to_db((id.index << span) + j)?);
        }
    }
    let mut any = Condition::any();
    for (level, mut indices) in by_level {
        indices.sort_unstable();
        indices.dedup();
        any = any.add(
            Condition::all()
                .add(node::Column::Level.eq(i16::from(level)))
                .add(node::Column::Idx.is_in(indices)),
        );
    }
    let rows = node::Entity::find()
        .filter(node::Column::LogId.eq(log_id))
        .filter(any)
        .all(db)
        .await?;
    let stored: HashMap<NodeId, Hash> = rows
        .into_iter()
        .filter_map(|row| {
            let id = NodeId::new(u8::try_from(row.level).ok()?, u64::try_from(row.idx).ok()?);
            Some((id, to_hash(&row.hash)?))
        })
        .collect();
    let mut found = HashMap::with_capacity(ids.len());
    for id in ids {
        let (base, span) = stored_base(*id);
        let below: Option<Vec<Hash>> = (0..(1u64 << span))
            .map(|j| {
                stored
                    .get(&NodeId::new(base, (id.index << span) + j))
                    .copied()
            })
            .collect();
        let Some(mut hashes) = below else {
            continue;
        };
        while hashes.len() > 1 {
            hashes = hashes
                .chunks(2)
                .map(|pair| crate::merkle::node_hash(&pair[0], &pair[1]))
                .collect();
        }
        found.insert(*id, hashes[0]);
    }
    Ok(found)
}

/// The stored level a node is made of, and how many levels above it the
/// node sits.
fn stored_base(id: NodeId) -> (u8, u8) {
    let span = id.level % STORED_EVERY;
    (id.level - span, span)
}

fn event_row(
    log_id: &str,
    index: u64,
    event: Event,
    recorded_at: chrono::DateTime<Utc>,
) -> Result<event::ActiveModel, Error> {
    let details = serde_json::to_string(&event.details)
        .map_err(|e| Error::Internal(anyhow::Error::new(e)))?;
    Ok(event::ActiveModel {
        log_id: Set(log_id.to_owned()),
        sequence: Set(to_db(index)?),
        event_id: Set(event.event_id),
        tenant_id: Set(event.tenant_id),
        actor: Set(event.actor),
        credential_id: Set(event.credential_id),
        action: Set(event.action),
        target: Set(event.target),
        occurred_at: Set(event.occurred_at),
        service: Set(event.service),
        request_id: Set(event.request_id),
        outcome: Set(event.outcome),
        client_addr: Set(event.client_addr),
        details: Set(details),
        schema_version: Set(i32::try_from(event.schema_version).unwrap_or(i32::MAX)),
        recorded_at: Set(recorded_at),
    })
}

/// Event rows as stored events, each with the leaf hash `leaf_of` gives for
/// its position.
fn with_leaves(
    rows: Vec<event::Model>,
    leaf_of: impl Fn(u64) -> Option<Hash>,
) -> Result<Vec<StoredEvent>, Error> {
    rows.into_iter()
        .map(|row| {
            let index = from_db(row.sequence)?;
            Ok(StoredEvent {
                index,
                leaf_hash: leaf_of(index),
                event: into_event(row),
            })
        })
        .collect()
}

/// A stored row as an event. A row whose details or version no longer
/// read (changed behind the service's back) is still returned, marked, so
/// that its leaf hash fails where it stands rather than hiding the row.
fn into_event(row: event::Model) -> Event {
    let details = serde_json::from_str(&row.details).unwrap_or_else(|_| {
        BTreeMap::from([(
            "unreadable_details".to_owned(),
            crate::leaf::escape_text(&row.details),
        )])
    });
    Event {
        event_id: row.event_id,
        tenant_id: row.tenant_id,
        actor: row.actor,
        credential_id: row.credential_id,
        action: row.action,
        target: row.target,
        occurred_at: row.occurred_at,
        service: row.service,
        request_id: row.request_id,
        outcome: row.outcome,
        client_addr: row.client_addr,
        details,
        schema_version: u32::try_from(row.schema_version).unwrap_or(u32::MAX),
    }
}

fn into_checkpoint(row: checkpoint::Model) -> Result<Checkpoint, Error> {
    Ok(Checkpoint {
        size: from_db(row.size)?,
        log_id: row.log_id,
        root_hash: row.root_hash,
        timestamp: row.timestamp,
        key_id: row.key_id,
        signature: row.signature,
    })
}

fn to_hash(bytes: &[u8]) -> Option<Hash> {
    bytes.try_into().ok()
}

fn missing_node(log_id: &str, id: NodeId) -> Error {
    tampered(
        log_id,
        format!(
            "the tree node at level {} index {} is missing",
            id.level, id.index
        ),
    )
}

/// The stored log does not hold together: logged loudly, answered as an
/// internal error.
fn tampered(log_id: &str, what: String) -> Error {
    tracing::error!(log_id, problem = %what, "audit log integrity check failed");
    Error::Internal(anyhow::anyhow!("audit log {log_id}: {what}"))
}

/// Positions are checked at the edge or grow by one from 0, so one beyond
/// `i64::MAX` means something is badly wrong.
fn to_db(position: u64) -> Result<i64, Error> {
    i64::try_from(position)
        .map_err(|_| Error::Internal(anyhow::anyhow!("position {position} is out of range")))
}

fn from_db(position: i64) -> Result<u64, Error> {
    u64::try_from(position)
        .map_err(|_| Error::Internal(anyhow::anyhow!("stored position {position} is negative")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::parse_batch;
    use crate::merkle::{root_of, verify_inclusion};
    use rampart_kit::ids::TenantId;
    use rampart_proto::audit::v1::AuditEvent;

    async fn store() -> (EventStore, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let url = rampart_kit::db::sqlite_url(&dir.path().join("audit.db"));
        let db = rampart_kit::db::connect(&url).await.unwrap();
        crate::migrate(&db).await.unwrap();
        (EventStore::new(db), dir)
    }

    fn event(tenant: Option<&TenantId>) -> AuditEvent {
        AuditEvent {
            event_id: uuid::Uuid::now_v7().to_string(),
            tenant_id: tenant.map(|t| t.to_string()).unwrap_or_default(),
            actor: "admin_key:bootstrap".to_owned(),
            credential_id: "bootstrap".to_owned(),
            action: "tenant.created".to_owned(),
            target: "tenant:x".to_owned(),
            occurred_at: "2025-01-02T03:04:05Z".to_owned(),
            request_id: "req".to_owned(),
            outcome: "success".to_owned(),
            ..AuditEvent::default()
        }
    }

    /// The root recomputed from the stored events, and the stored head.
    async fn roots(store: &EventStore, log: &LogId) -> (Hash, Hash, u64) {
        let (size, root) = store.head(log.as_str()).await.unwrap();
        let events = store.range(log.as_str(), 0, size).await.unwrap();
        let leaves: Vec<Hash> = events
            .iter()
            .map(|e| e.event.leaf_hash(log.as_str()))
            .collect();
        (root_of(&leaves), root, size)
    }

    /// Two stores on one database (two audit instances): each remembers the
    /// right edge of its last append, so the one that is behind must notice
    /// that the other moved the log, refuse, and succeed on the retry with
    /// the edge read afresh; the tree stays whole.
    #[tokio::test]
    async fn a_store_whose_remembered_edge_is_stale_refuses_then_recovers() {
        let (first, _dir) = store().await;
        let second = EventStore::new(first.db.clone());
        let tenant = TenantId::generate();
        let log = LogId::Tenant(tenant.clone());
        let batch = || parse_batch(vec![event(Some(&tenant)), event(Some(&tenant))]).unwrap();
        first.append(batch(), ServiceName::Crm).await.unwrap();
        second.append(batch(), ServiceName::Crm).await.unwrap();
        let stale = batch();
        let error = first.append(stale.clone(), ServiceName::Crm).await;
        assert!(
            matches!(&error, Err(Error::Internal(e)) if e.to_string().contains("moved during the append")),
            "{error:?}"
        );
        assert_eq!(
            first.head(log.as_str()).await.unwrap().0,
            4,
            "nothing stored"
        );
        let appended = first.append(stale, ServiceName::Crm).await.unwrap();
        assert_eq!(appended.stored, 2);
        second.append(batch(), ServiceName::Crm).await.unwrap_err();
        second.append(batch(), ServiceName::Crm).await.unwrap();
        let (computed, stored, size) = roots(&first, &log).await;
        assert_eq!(size, 8);
        assert_eq!(computed, stored);
    }

    #[test]
    fn node_rows_go_in_power_of_two_chunks() {
        let split = |mut n: usize| {
            let mut sizes = Vec::new();
            while n > 0 {
                let next = fixed_shape_chunk(n, NODE_CHUNK);
                sizes.push(next);
                n -= next;
            }
            sizes
        };
        assert_eq!(split(213), [128, 64, 16, 4, 1]);
        assert_eq!(split(1), [1]);
        assert_eq!(split(600), [256, 256, 64, 16, 8]);
    }

    #[tokio::test]
    async fn interleaved_logs_each_grow_their_own_tree() {
        let (store, _dir) = store().await;
        let a = TenantId::generate();
        let b = TenantId::generate();
        for _ in 0..3 {
            let batch = vec![
                event(Some(&a)),
                event(None),
                event(Some(&b)),
                event(Some(&a)),
            ];
            let appended = store
                .append(parse_batch(batch).unwrap(), ServiceName::Crm)
                .await
                .unwrap();
            assert_eq!(appended.stored, 4);
        }
        for (log, len) in [
            (LogId::Tenant(a), 6),
            (LogId::Tenant(b), 3),
            (LogId::Platform, 3),
        ] {
            let (computed, stored, size) = roots(&store, &log).await;
            assert_eq!(size, len);
            assert_eq!(computed, stored);
            let events = store.range(log.as_str(), 0, size).await.unwrap();
            for stored in &events {
                let proof = store
                    .inclusion_proof(log.as_str(), stored.index, size)
                    .await
                    .unwrap();
                verify_inclusion(
                    stored.index,
                    size,
                    &stored.leaf_hash.unwrap(),
                    &proof,
                    &computed,
                )
                .unwrap();
            }
        }
    }

    #[tokio::test]
    async fn proofs_from_every_fourth_level_verify_on_a_larger_tree() {
        let (store, _dir) = store().await;
        let tenant = TenantId::generate();
        let log = LogId::Tenant(tenant.clone());
        let mut heads = vec![empty_root()];
        for _ in 0..7 {
            let batch = (0..50).map(|_| event(Some(&tenant))).collect();
            store
                .append(parse_batch(batch).unwrap(), ServiceName::Crm)
                .await
                .unwrap();
            heads.push(store.head(log.as_str()).await.unwrap().1);
        }
        let (computed, stored, size) = roots(&store, &log).await;
        assert_eq!((size, computed), (350, stored));
        let events = store.range(log.as_str(), 0, size).await.unwrap();
        for index in [0u64, 1, 15, 16, 17, 255, 256, 300, 349] {
            for tree in [index + 1, 257, 350] {
                if tree <= index {
                    continue;
                }
                let proof = store
                    .inclusion_proof(log.as_str(), index, tree)
                    .await
                    .unwrap();
                let leaves: Vec<Hash> = events[..tree as usize]
                    .iter()
                    .map(|e| e.leaf_hash.unwrap())
                    .collect();
                verify_inclusion(
                    index,
                    tree,
                    &events[index as usize].leaf_hash.unwrap(),
                    &proof,
                    &root_of(&leaves),
                )
                .unwrap();
            }
        }
        for old in 1..7u64 {
            let proof = store
                .consistency_proof(log.as_str(), old * 50, 350)
                .await
                .unwrap();
            verify_consistency(old * 50, 350, &heads[old as usize], &stored, &proof).unwrap();
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_appends_keep_one_tree() {
        let (store, _dir) = store().await;
        let tenant = TenantId::generate();
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let store = store.clone();
                let batch = parse_batch(vec![event(Some(&tenant)); 3])
                    .unwrap()
                    .into_iter()
                    .map(|mut e| {
                        e.event.event_id = uuid::Uuid::new_v4().to_string();
                        e
                    })
                    .collect();
                tokio::spawn(async move { store.append(batch, ServiceName::Crm).await })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.unwrap().unwrap().stored, 3);
        }
        let log = LogId::Tenant(tenant);
        let (computed, stored, size) = roots(&store, &log).await;
        assert_eq!(size, 24);
        assert_eq!(computed, stored);
    }

    #[tokio::test]
    async fn checkpoints_are_signed_once_per_size_and_refused_for_a_bent_tree() {
        let (store, _dir) = store().await;
        let key = SigningKey::from_pem(&SigningKey::generate_pem().unwrap()).unwrap();
        let tenant = TenantId::generate();
        let log = LogId::Tenant(tenant.clone());
        let empty = store.sign_checkpoint(log.as_str(), &key).await.unwrap();
        assert_eq!((empty.size, empty.root()), (0, Some(empty_root())));
        assert_eq!(
            store.logs_to_checkpoint().await.unwrap(),
            Vec::<String>::new()
        );

        let batch = (0..5).map(|_| event(Some(&tenant))).collect();
        store
            .append(parse_batch(batch).unwrap(), ServiceName::Crm)
            .await
            .unwrap();
        assert_eq!(store.logs_to_checkpoint().await.unwrap(), [log.as_str()]);
        let first = store.sign_checkpoint(log.as_str(), &key).await.unwrap();
        first.verify(&key.public_key()).unwrap();
        assert_eq!(first.size, 5);
        assert!(store.logs_to_checkpoint().await.unwrap().is_empty());
        // Nothing new: the same checkpoint.
        assert_eq!(
            store.sign_checkpoint(log.as_str(), &key).await.unwrap(),
            first
        );

        // An old node rewritten behind the service's back: the next
        // checkpoint is refused, because the tree no longer extends the
        // signed one.
        let batch = (0..3).map(|_| event(Some(&tenant))).collect();
        store
            .append(parse_batch(batch).unwrap(), ServiceName::Crm)
            .await
            .unwrap();
        node::Entity::update_many()
            .col_expr(node::Column::Hash, vec![7u8; 32].into())
            .filter(node::Column::LogId.eq(log.as_str()))
            .filter(node::Column::Level.eq(0))
            .filter(node::Column::Idx.eq(4))
            .exec(&store.db)
            .await
            .unwrap();
        assert!(store.sign_checkpoint(log.as_str(), &key).await.is_err());
    }
}
