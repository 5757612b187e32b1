//! The walking skeleton's hash chain, kept only to check events stored
//! before the Merkle log replaced it: the migration to the Merkle log
//! re-hashes a chain-era log only after its chain verifies, so a log altered
//! before the migration is not laundered into a freshly signed tree.
//!
//! Every log (one per tenant, one for the platform) is a sequence of events
//! numbered from 0. Each event's chain hash commits to the previous one:
//!
//! ```text
//! chain_hash[n] = SHA-256(prev_hash || field(log_id) || field(sequence) || field(event_id)
//!                         || field(tenant_id) || field(actor) || field(credential_id)
//!                         || field(action) || field(target) || field(occurred_at)
//!                         || field(service) || field(request_id) || field(outcome))
//! field(x)      = len(x) as 8 bytes big-endian || x      (UTF-8 text; sequence as 8 bytes big-endian)
//! prev_hash     = chain_hash[n - 1], or 32 zero bytes for n = 0
//! ```
//!
//! The length prefixes make the encoding unambiguous (no two different events
//! encode the same), and the log id and sequence in the hash mean an event
//! cannot be moved to another log or position unnoticed. Changing, deleting,
//! reordering or inserting an event breaks every hash after it; that is what
//! [`verify_chain`] reports. A chain cannot show that events were cut off its
//! end: signed checkpoints, which come with the Merkle log that replaces this
//! chain, cover that.
//!
//! This module is pure (no storage, no I/O) so the same code checks a live
//! database and an exported file.

use ring::digest::{Context, SHA256};

/// The hash before a log's first event.
pub const GENESIS: [u8; 32] = [0; 32];

/// The fields of an event that its chain hash covers, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventFields {
    pub event_id: String,
    /// Empty for platform events.
    pub tenant_id: String,
    pub actor: String,
    pub credential_id: String,
    pub action: String,
    pub target: String,
    /// RFC 3339 in UTC, exactly as stored.
    pub occurred_at: String,
    /// The producing service, from its certificate.
    pub service: String,
    pub request_id: String,
    pub outcome: String,
}

/// One stored event with its place in the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainEntry {
    pub log_id: String,
    pub sequence: u64,
    pub event: EventFields,
    /// Hex of the previous entry's chain hash (or of [`GENESIS`]).
    pub prev_hash: String,
    /// Hex of this entry's chain hash.
    pub chain_hash: String,
}

/// The chain hash of an event at `sequence` in `log_id`, following `prev`.
#[must_use]
pub fn chain_hash(prev: &[u8; 32], log_id: &str, sequence: u64, event: &EventFields) -> [u8; 32] {
    let mut context = Context::new(&SHA256);
    context.update(prev);
    let mut field = |bytes: &[u8]| {
        let len = u64::try_from(bytes.len()).expect("a field's length fits in 64 bits");
        context.update(&len.to_be_bytes());
        context.update(bytes);
    };
    field(log_id.as_bytes());
    field(&sequence.to_be_bytes());
    for text in [
        &event.event_id,
        &event.tenant_id,
        &event.actor,
        &event.credential_id,
        &event.action,
        &event.target,
        &event.occurred_at,
        &event.service,
        &event.request_id,
        &event.outcome,
    ] {
        field(text.as_bytes());
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(context.finish().as_ref());
    out
}

/// What is wrong at the first bad entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// The entry belongs to another log.
    #[error("the entry belongs to log {found}")]
    WrongLog { found: String },
    /// The entry is not at the position it should be: an event before it
    /// was deleted, or entries were reordered.
    #[error("expected sequence {expected}, found {found}")]
    WrongSequence { expected: u64, found: u64 },
    /// The entry does not link to the chain hash before it.
    #[error("the entry does not link to the one before it")]
    BrokenLink,
    /// The entry's content does not hash to its stored chain hash: it was
    /// changed after it was appended.
    #[error("the entry does not match its chain hash")]
    HashMismatch,
}

/// The first entry at which a chain does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("audit chain broken at index {index}: {problem}")]
pub struct ChainBreak {
    /// The entry's index in the slice given to [`verify_chain`], which is
    /// its sequence when the log is complete.
    pub index: usize,
    pub problem: Problem,
}

/// Checks a whole log, in stored order from its first event, and names the
/// first entry that does not verify.
pub fn verify_chain(log_id: &str, entries: &[ChainEntry]) -> Result<(), ChainBreak> {
    let mut prev = GENESIS;
    for (index, entry) in entries.iter().enumerate() {
        let expected = u64::try_from(index).expect("an index fits in 64 bits");
        prev = check_entry(log_id, &prev, expected, entry)
            .map_err(|problem| ChainBreak { index, problem })?;
    }
    Ok(())
}

/// Checks one entry that should be at `expected` after `prev`; returns its
/// chain hash, the next entry's `prev`.
pub fn check_entry(
    log_id: &str,
    prev: &[u8; 32],
    expected: u64,
    entry: &ChainEntry,
) -> Result<[u8; 32], Problem> {
    if entry.log_id != log_id {
        return Err(Problem::WrongLog {
            found: entry.log_id.clone(),
        });
    }
    if entry.sequence != expected {
        return Err(Problem::WrongSequence {
            expected,
            found: entry.sequence,
        });
    }
    if entry.prev_hash != hex(prev) {
        return Err(Problem::BrokenLink);
    }
    let hash = chain_hash(prev, log_id, entry.sequence, &entry.event);
    if entry.chain_hash != hex(&hash) {
        return Err(Problem::HashMismatch);
    }
    Ok(hash)
}

/// The lowercase hex form in which hashes are stored.
#[must_use]
pub fn hex(hash: &[u8; 32]) -> String {
    rampart_kit::secret::hex(hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "ten_0192f0c17e4a7b1d9c3e1a2b3c4d5e6f";

    fn event(n: usize) -> EventFields {
        EventFields {
            event_id: format!("0192f0c1-7e4a-7b1d-9c3e-{n:012}"),
            tenant_id: LOG.to_owned(),
            actor: "api_key:key_1".to_owned(),
            credential_id: "key_1".to_owned(),
            action: "customer.created".to_owned(),
            target: format!("customer:{n}"),
            occurred_at: "2025-01-02T03:04:05.000006Z".to_owned(),
            service: "crm".to_owned(),
            request_id: format!("req-{n}"),
            outcome: "success".to_owned(),
        }
    }

    /// A correctly chained log of `len` events, built as the store builds it.
    fn log(len: usize) -> Vec<ChainEntry> {
        let mut prev = GENESIS;
        (0..len)
            .map(|n| {
                let sequence = u64::try_from(n).unwrap();
                let event = event(n);
                let hash = chain_hash(&prev, LOG, sequence, &event);
                let entry = ChainEntry {
                    log_id: LOG.to_owned(),
                    sequence,
                    event,
                    prev_hash: hex(&prev),
                    chain_hash: hex(&hash),
                };
                prev = hash;
                entry
            })
            .collect()
    }

    fn break_index(entries: &[ChainEntry]) -> usize {
        verify_chain(LOG, entries).unwrap_err().index
    }

    #[test]
    fn an_intact_chain_verifies() {
        assert_eq!(verify_chain(LOG, &log(10)), Ok(()));
        assert_eq!(verify_chain(LOG, &[]), Ok(()));
    }

    #[test]
    fn a_break_reads_as_a_sentence() {
        let mut entries = log(3);
        entries.remove(1);
        let failure = verify_chain(LOG, &entries).unwrap_err();
        assert_eq!(
            failure.to_string(),
            "audit chain broken at index 1: expected sequence 1, found 2"
        );
    }

    #[test]
    fn a_changed_field_is_found() {
        let mut entries = log(10);
        entries[6].event.target = "customer:someone-else".to_owned();
        let failure = verify_chain(LOG, &entries).unwrap_err();
        assert_eq!(failure.index, 6);
        assert_eq!(failure.problem, Problem::HashMismatch);

        // Every field counts, including the ones that look like metadata.
        for change in [
            |e: &mut EventFields| e.service = "gateway".to_owned(),
            |e: &mut EventFields| e.outcome = "failure".to_owned(),
            |e: &mut EventFields| e.occurred_at = "2025-01-02T03:04:06.000006Z".to_owned(),
            |e: &mut EventFields| e.credential_id.clear(),
        ] {
            let mut entries = log(5);
            change(&mut entries[3].event);
            assert_eq!(break_index(&entries), 3);
        }
    }

    #[test]
    fn a_deleted_event_is_found() {
        let mut entries = log(10);
        entries.remove(4);
        assert_eq!(break_index(&entries), 4);
    }

    #[test]
    fn a_reordered_pair_is_found() {
        let mut entries = log(10);
        entries.swap(2, 3);
        assert_eq!(break_index(&entries), 2);

        // Renumbering the swapped pair to hide the move does not help.
        entries[2].sequence = 2;
        entries[3].sequence = 3;
        assert_eq!(break_index(&entries), 2);
    }

    #[test]
    fn a_truncated_middle_is_found() {
        let mut entries = log(10);
        entries.drain(4..7);
        assert_eq!(break_index(&entries), 4);

        // Renumbering what follows to close the gap does not help either:
        // the sequence is part of every hash.
        for (n, entry) in entries.iter_mut().enumerate() {
            entry.sequence = u64::try_from(n).unwrap();
        }
        let failure = verify_chain(LOG, &entries).unwrap_err();
        assert_eq!(failure.index, 4);
        assert_eq!(failure.problem, Problem::BrokenLink);
    }

    #[test]
    fn a_rewritten_hash_breaks_the_next_link() {
        let mut entries = log(6);
        entries[2].event.actor = "admin_key:bootstrap".to_owned();
        // Recomputing the tampered entry's own hash moves the break to the
        // next entry, whose link no longer matches.
        let prev: [u8; 32] = rampart_kit::secret::unhex(&entries[2].prev_hash)
            .unwrap()
            .try_into()
            .unwrap();
        entries[2].chain_hash = hex(&chain_hash(&prev, LOG, 2, &entries[2].event));
        assert_eq!(break_index(&entries), 3);
    }

    #[test]
    fn an_entry_from_another_log_is_found() {
        let entries = log(3);
        let failure = verify_chain("platform", &entries).unwrap_err();
        assert_eq!(failure.index, 0);
        assert!(matches!(failure.problem, Problem::WrongLog { .. }));
    }

    #[test]
    fn the_encoding_is_unambiguous() {
        let mut a = event(0);
        let mut b = event(0);
        a.actor = "ab".to_owned();
        a.credential_id = "c".to_owned();
        b.actor = "a".to_owned();
        b.credential_id = "bc".to_owned();
        assert_ne!(
            chain_hash(&GENESIS, LOG, 0, &a),
            chain_hash(&GENESIS, LOG, 0, &b)
        );
    }
}
