//! Exports: a range of one log as JSON lines with the checkpoint it
//! verifies against, and [`verify`], the offline check behind
//! `rampart audit verify`.
//!
//! ```text
//! line 1:  {"format":"rampart-audit-export/1","log_id":..,"from":a,"to":b,
//!           "checkpoint":{..signed, size n ≥ b..},
//!           "left":[hex..],    hashes of decompose(0, a)   (the tree left of the range)
//!           "right":[hex..],   hashes of decompose(b, n)   (the tree right of it)
//!           "consistency":{"from_size":m,"proof":[hex..]}  (optional)}
//! then:    {"index":i,"leaf_hash":hex,"event":{..every stored field..}}   for i in a..b
//! ```
//!
//! The verifier trusts nothing in the file but what the signature covers:
//! it recomputes every leaf from its event, rebuilds the root from those
//! leaves and the boundary hashes, and compares it with the signed root.
//! The stored leaf hash on each line is used only to say *where* things
//! went wrong: an event whose content no longer hashes to the leaf the tree
//! recorded for its position is named by its index. It keeps O(log n)
//! state, so a million-event export verifies in one pass.

use std::collections::HashMap;
use std::io::BufRead;

use serde::{Deserialize, Serialize};

use crate::checkpoint::{Checkpoint, PublicKey};
use crate::leaf::{Event, is_escaped};
use crate::merkle::{Frontier, Hash, decompose, node_hash, verify_consistency};

/// The format tag on an export's first line.
pub const FORMAT: &str = "rampart-audit-export/1";

/// An export's first line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    pub format: String,
    pub log_id: String,
    pub from: u64,
    pub to: u64,
    pub checkpoint: Checkpoint,
    /// Hex of the signing public key, for convenience: a signature checked
    /// only against it proves integrity, not who signed.
    pub public_key: String,
    pub left: Vec<String>,
    pub right: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consistency: Option<ConsistencyBundle>,
}

/// A consistency proof from an older size to the checkpoint's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyBundle {
    pub from_size: u64,
    pub proof: Vec<String>,
}

/// One event line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Line {
    pub index: u64,
    /// The leaf hash the tree recorded for this position; `None` when the
    /// tree has none.
    pub leaf_hash: Option<String>,
    pub event: Event,
}

/// One thing found wrong, with where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The file cannot be read as an export at all.
    Unreadable(String),
    /// The checkpoint's signature does not hold.
    BadSignature(String),
    /// The event at `index` no longer hashes to the leaf the tree recorded
    /// for that position: it was changed (or moved) after it was appended.
    EventMismatch { index: u64 },
    /// The event at `index` is in another log, or its text is not in the
    /// escaped form the service stores.
    EventMalformed { index: u64, problem: &'static str },
    /// Positions `from..=to` are absent.
    Missing { from: u64, to: u64 },
    /// A line for a position already seen, or before it.
    OutOfOrder { index: u64, expected: u64 },
    /// A line past the end of the range.
    Unexpected { index: u64 },
    /// Line `line` (1-based) is not an event line.
    BadLine { line: u64 },
    /// The events do not rebuild the signed root.
    RootMismatch { size: u64 },
    /// The log does not extend the older checkpoint.
    Inconsistent {
        old_size: u64,
        new_size: u64,
        detail: String,
    },
    /// An older checkpoint could not be compared.
    CannotCompare(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unreadable(why) => {
                write!(f, "the export cannot be read: {}", why.escape_debug())
            }
            Self::BadSignature(why) => write!(f, "bad signature: the checkpoint {why}"),
            Self::EventMismatch { index } => write!(
                f,
                "index {index}: the event does not match the leaf hash recorded for its position (changed, or moved from elsewhere, after it was appended)"
            ),
            Self::EventMalformed { index, problem } => write!(f, "index {index}: {problem}"),
            Self::Missing { from, to } if from == to => {
                write!(f, "missing range: the event at index {from} is absent")
            }
            Self::Missing { from, to } => {
                write!(
                    f,
                    "missing range: events at indexes {from} to {to} are absent"
                )
            }
            Self::OutOfOrder { index, expected } => write!(
                f,
                "index {index}: out of order or repeated (expected index {expected})"
            ),
            Self::Unexpected { index } => {
                write!(f, "index {index}: an event beyond the exported range")
            }
            Self::BadLine { line } => write!(f, "line {line}: not an event of this format"),
            Self::RootMismatch { size } => write!(
                f,
                "root mismatch: the events do not rebuild the signed root of size {size}"
            ),
            Self::Inconsistent {
                old_size,
                new_size,
                detail,
            } => write!(
                f,
                "inconsistent: the log at size {new_size} does not extend the previous checkpoint at size {old_size}: {detail}"
            ),
            Self::CannotCompare(why) => {
                write!(f, "cannot compare with the previous checkpoint: {why}")
            }
        }
    }
}

/// What a verification checked and found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Report {
    pub log_id: String,
    pub from: u64,
    pub to: u64,
    pub checkpoint_size: u64,
    /// Events present whose content matches their position's leaf.
    pub valid_events: u64,
    pub signature_checked: bool,
    /// The key the signature was checked with came from the export itself
    /// (no trusted key was given).
    pub key_from_export: bool,
    pub root_checked: bool,
    pub consistency_checked: Option<u64>,
    pub failures: Vec<Failure>,
}

impl Report {
    #[must_use]
    pub fn ok(&self) -> bool {
        self.failures.is_empty()
    }

    /// How many events the range should hold.
    #[must_use]
    pub fn expected_events(&self) -> u64 {
        self.to.saturating_sub(self.from)
    }
}

impl Report {
    /// The report as `rampart audit verify` prints it: what was checked,
    /// then each failure on its own line. Everything taken from the file is
    /// escaped, so a forged export cannot forge the report.
    #[must_use]
    pub fn render(&self) -> String {
        let mut out = format!(
            "log {}: events {}..{} against a checkpoint of size {}\n",
            self.log_id, self.from, self.to, self.checkpoint_size
        );
        let signature = match (self.signature_checked, self.key_from_export) {
            (true, false) => "valid (trusted public key)",
            (true, true) => {
                "valid, but checked with the key the export carries; pass --public-key to check who signed it"
            }
            (false, _) => "NOT valid",
        };
        out.push_str(&format!("  signature:  {signature}\n"));
        out.push_str(&format!(
            "  events:     {}/{} events valid\n",
            self.valid_events,
            self.expected_events()
        ));
        let root = if !self.root_checked {
            "not checked: events are missing or unreadable"
        } else if self
            .failures
            .iter()
            .any(|f| matches!(f, Failure::RootMismatch { .. }))
        {
            "does NOT match the signed root"
        } else {
            "matches the signed root"
        };
        out.push_str(&format!("  root:       {root}\n"));
        if let Some(size) = self.consistency_checked {
            out.push_str(&format!(
                "  previous:   the log extends the previous checkpoint (size {size})\n"
            ));
        }
        for failure in &self.failures {
            out.push_str(&format!("FAIL {failure}\n"));
        }
        if self.ok() {
            out.push_str("result: OK\n");
        } else {
            out.push_str(&format!(
                "result: FAILED ({} problems)\n",
                self.failures.len()
            ));
        }
        out
    }
}

/// Verifies an export read from `input`. `key` is the trusted public key
/// (without one, the signature is checked against the key the export
/// carries, which proves only integrity, not origin, and the report says
/// so); `previous` is an older checkpoint of the same log that the
/// exported log must extend.
pub fn verify(
    input: impl BufRead,
    key: Option<&PublicKey>,
    previous: Option<&Checkpoint>,
) -> Report {
    let mut report = Report::default();
    let mut lines = input.lines();
    let header = match lines.next() {
        Some(Ok(text)) => match serde_json::from_str::<Header>(&text) {
            Ok(header) if header.format == FORMAT => header,
            Ok(header) => {
                report.failures.push(Failure::Unreadable(format!(
                    "unknown format {:?}",
                    header.format.escape_debug().to_string()
                )));
                return report;
            }
            Err(error) => {
                report.failures.push(Failure::Unreadable(format!(
                    "the first line is not an export header ({error})"
                )));
                return report;
            }
        },
        Some(Err(error)) => {
            report.failures.push(Failure::Unreadable(error.to_string()));
            return report;
        }
        None => {
            report
                .failures
                .push(Failure::Unreadable("the file is empty".to_owned()));
            return report;
        }
    };
    report.log_id = header.log_id.escape_debug().to_string();
    report.from = header.from;
    report.to = header.to;
    let checkpoint = &header.checkpoint;
    report.checkpoint_size = checkpoint.size;

    // The signature, and what the header claims against it.
    let embedded_key = PublicKey::parse(&header.public_key).ok();
    let signing_key = key.or(embedded_key.as_ref());
    report.key_from_export = key.is_none();
    match signing_key {
        Some(signing_key) => match checkpoint.verify(signing_key) {
            Ok(()) => report.signature_checked = true,
            Err(error) => report
                .failures
                .push(Failure::BadSignature(error.to_string())),
        },
        None => report.failures.push(Failure::BadSignature(
            "cannot be checked: no public key given (--public-key)".to_owned(),
        )),
    }
    if checkpoint.log_id != header.log_id {
        report.failures.push(Failure::Unreadable(
            "the checkpoint is for another log".to_owned(),
        ));
        return report;
    }
    if header.from > header.to || header.to > checkpoint.size {
        report.failures.push(Failure::Unreadable(format!(
            "the range {}..{} does not fit the checkpoint's size {}",
            header.from, header.to, checkpoint.size
        )));
        return report;
    }
    let Some(root) = checkpoint.root() else {
        report.failures.push(Failure::Unreadable(
            "the checkpoint's root hash is malformed".to_owned(),
        ));
        return report;
    };
    let (Some(left), Some(right)) = (parse_hashes(&header.left), parse_hashes(&header.right))
    else {
        report.failures.push(Failure::Unreadable(
            "the boundary hashes are malformed".to_owned(),
        ));
        return report;
    };
    let Some(mut frontier) = Frontier::from_parts(header.from, left) else {
        report.failures.push(Failure::Unreadable(
            "the hashes left of the range do not fit its start".to_owned(),
        ));
        return report;
    };
    if right.len() != decompose(header.to, checkpoint.size).len() {
        report.failures.push(Failure::Unreadable(
            "the hashes right of the range do not fit its end".to_owned(),
        ));
        return report;
    }

    // The older checkpoint: its signature, then either a proof in the
    // header or the root at its size rebuilt while the events stream past.
    let mut previous_root_at = None;
    if let Some(previous) = previous {
        if previous.log_id != header.log_id {
            report.failures.push(Failure::CannotCompare(
                "it is a checkpoint of another log".to_owned(),
            ));
        } else if let Some(error) = signing_key.and_then(|k| previous.verify(k).err()) {
            report
                .failures
                .push(Failure::BadSignature(format!("given as previous {error}")));
        } else if previous.size > checkpoint.size {
            report.failures.push(Failure::Inconsistent {
                old_size: previous.size,
                new_size: checkpoint.size,
                detail: format!(
                    "the log is shorter than before: events at indexes {} to {} were removed",
                    checkpoint.size,
                    previous.size - 1
                ),
            });
        } else if let Some(bundle) = header
            .consistency
            .as_ref()
            .filter(|bundle| bundle.from_size == previous.size)
        {
            match (parse_hashes(&bundle.proof), previous.root()) {
                (Some(proof), Some(old_root)) => {
                    match verify_consistency(
                        previous.size,
                        checkpoint.size,
                        &old_root,
                        &root,
                        &proof,
                    ) {
                        Ok(()) => report.consistency_checked = Some(previous.size),
                        Err(error) => report.failures.push(Failure::Inconsistent {
                            old_size: previous.size,
                            new_size: checkpoint.size,
                            detail: error.to_string(),
                        }),
                    }
                }
                _ => report.failures.push(Failure::Unreadable(
                    "the consistency proof is malformed".to_owned(),
                )),
            }
        } else if (header.from..=header.to).contains(&previous.size) {
            previous_root_at = Some(previous.clone());
        } else {
            report.failures.push(Failure::CannotCompare(format!(
                "it covers {} events, outside this export's range {}..{}; export from 0, or with a proof from that size",
                previous.size, header.from, header.to
            )));
        }
    }
    let mut check_previous = |frontier: &Frontier, report: &mut Report, complete: bool| {
        if let Some(previous) = &previous_root_at
            && frontier.size() == previous.size
        {
            if !complete {
                report.failures.push(Failure::CannotCompare(
                    "events before its size are missing".to_owned(),
                ));
            } else if Some(frontier.root()) == previous.root() {
                report.consistency_checked = Some(previous.size);
            } else {
                report.failures.push(Failure::Inconsistent {
                    old_size: previous.size,
                    new_size: checkpoint.size,
                    detail: "the first events no longer hash to its root".to_owned(),
                });
            }
            previous_root_at = None;
        }
    };

    // The events, one pass.
    let mut expected = header.from;
    let mut complete = true;
    check_previous(&frontier, &mut report, complete);
    for (number, text) in lines.enumerate() {
        let line_number = number as u64 + 2;
        let Ok(text) = text else {
            report.failures.push(Failure::BadLine { line: line_number });
            complete = false;
            continue;
        };
        if text.is_empty() {
            continue;
        }
        let Ok(line) = serde_json::from_str::<Line>(&text) else {
            report.failures.push(Failure::BadLine { line: line_number });
            complete = false;
            continue;
        };
        if line.index >= header.to {
            report
                .failures
                .push(Failure::Unexpected { index: line.index });
            continue;
        }
        if line.index < expected {
            report.failures.push(Failure::OutOfOrder {
                index: line.index,
                expected,
            });
            continue;
        }
        if line.index > expected {
            report.failures.push(Failure::Missing {
                from: expected,
                to: line.index - 1,
            });
            complete = false;
            expected = line.index;
        }
        let computed = line.event.leaf_hash(&header.log_id);
        let recorded = line.leaf_hash.as_deref().and_then(parse_hash);
        let mut valid = true;
        if recorded != Some(computed) {
            report
                .failures
                .push(Failure::EventMismatch { index: line.index });
            valid = false;
        }
        if let Some(problem) = malformed(&line.event, &header.log_id) {
            report.failures.push(Failure::EventMalformed {
                index: line.index,
                problem,
            });
            valid = false;
        }
        if valid {
            report.valid_events += 1;
        }
        if complete {
            frontier.push(computed, |_, _| {});
            check_previous(&frontier, &mut report, complete);
        }
        expected += 1;
    }
    if expected < header.to {
        report.failures.push(Failure::Missing {
            from: expected,
            to: header.to - 1,
        });
        complete = false;
    }
    if previous_root_at.is_some() {
        report.failures.push(Failure::CannotCompare(
            "events before its size are missing".to_owned(),
        ));
    }

    // The root, from the rebuilt range and the boundary hashes.
    if complete {
        report.root_checked = true;
        if root_from_parts(frontier.hashes(), header.to, &right, checkpoint.size) != Some(root) {
            report.failures.push(Failure::RootMismatch {
                size: checkpoint.size,
            });
        }
    }
    report
}

/// What is wrong with an event beyond its hash: text that the service
/// would have escaped, or an event of another log.
fn malformed(event: &Event, log_id: &str) -> Option<&'static str> {
    let belongs = if log_id == crate::PLATFORM_LOG_ID {
        event.tenant_id.is_empty()
    } else {
        event.tenant_id == log_id
    };
    if !belongs {
        return Some("the event belongs to another log");
    }
    let texts = [
        &event.event_id,
        &event.actor,
        &event.credential_id,
        &event.action,
        &event.target,
        &event.occurred_at,
        &event.service,
        &event.request_id,
        &event.outcome,
        &event.client_addr,
    ];
    let escaped = texts.iter().all(|text| is_escaped(text))
        && event
            .details
            .iter()
            .all(|(key, value)| is_escaped(key) && is_escaped(value));
    (!escaped).then_some("the event holds unescaped control characters")
}

/// The root of a tree of `size` leaves from the perfect subtrees of
/// `0..to` (`edge`) and of `to..size` (`right`): an RFC 6962 tree contains
/// every aligned perfect subtree within it as a node, so the recursion
/// meets each given subtree exactly.
fn root_from_parts(edge: &[Hash], to: u64, right: &[Hash], size: u64) -> Option<Hash> {
    if size == 0 {
        return Some(crate::merkle::empty_root());
    }
    let mut known: HashMap<(u64, u64), Hash> = HashMap::new();
    for (id, hash) in decompose(0, to).into_iter().zip(edge) {
        known.insert((id.begin(), id.end()), *hash);
    }
    for (id, hash) in decompose(to, size).into_iter().zip(right) {
        known.insert((id.begin(), id.end()), *hash);
    }
    subtree(&known, 0, size)
}

fn subtree(known: &HashMap<(u64, u64), Hash>, begin: u64, end: u64) -> Option<Hash> {
    if let Some(hash) = known.get(&(begin, end)) {
        return Some(*hash);
    }
    let n = end - begin;
    if n < 2 {
        return None;
    }
    let k = 1u64 << (63 - (n - 1).leading_zeros());
    Some(node_hash(
        &subtree(known, begin, begin + k)?,
        &subtree(known, begin + k, end)?,
    ))
}

fn parse_hash(text: &str) -> Option<Hash> {
    rampart_kit::secret::unhex(text).and_then(|bytes| bytes.try_into().ok())
}

fn parse_hashes(texts: &[String]) -> Option<Vec<Hash>> {
    texts.iter().map(|text| parse_hash(text)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::SigningKey;
    use crate::merkle::{Frontier, consistency_ranges, range_hash};
    use std::collections::BTreeMap;

    const LOG: &str = "ten_0192f0c17e4a7b1d9c3e1a2b3c4d5e6f";

    fn event(n: u64) -> Event {
        Event {
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
            client_addr: String::new(),
            details: BTreeMap::new(),
            schema_version: 1,
        }
    }

    /// A log of `size` events, exported over `from..to`, as the service
    /// writes it; and the key.
    struct Fixture {
        pem: String,
        key: SigningKey,
        events: Vec<Event>,
        nodes: HashMap<crate::merkle::NodeId, Hash>,
    }

    impl Fixture {
        fn new(size: u64) -> Self {
            Self::from_events(
                (0..size).map(event).collect(),
                SigningKey::generate_pem().unwrap(),
            )
        }

        fn from_events(events: Vec<Event>, pem: String) -> Self {
            let key = SigningKey::from_pem(&pem).unwrap();
            let mut nodes = HashMap::new();
            let mut frontier = Frontier::new();
            for e in &events {
                frontier.push(e.leaf_hash(LOG), |id, hash| {
                    nodes.insert(id, *hash);
                });
            }
            Self {
                pem,
                key,
                events,
                nodes,
            }
        }

        fn checkpoint(&self, size: u64) -> Checkpoint {
            let root = range_hash(0, size, |id| self.nodes.get(&id).copied().ok_or(())).unwrap();
            self.key
                .sign(LOG, size, &root, "2025-01-02T03:04:05Z".to_owned())
        }

        fn hashes(&self, begin: u64, end: u64) -> Vec<String> {
            decompose(begin, end)
                .into_iter()
                .map(|id| crate::hex(&self.nodes[&id]))
                .collect()
        }

        fn export(&self, from: u64, to: u64, since: Option<u64>) -> Vec<String> {
            let size = self.events.len() as u64;
            let consistency = since.map(|old| ConsistencyBundle {
                from_size: old,
                proof: consistency_ranges(old, size)
                    .into_iter()
                    .map(|(b, e)| {
                        crate::hex(
                            &range_hash(b, e, |id| self.nodes.get(&id).copied().ok_or(())).unwrap(),
                        )
                    })
                    .collect(),
            });
            let header = Header {
                format: FORMAT.to_owned(),
                log_id: LOG.to_owned(),
                from,
                to,
                checkpoint: self.checkpoint(size),
                public_key: self.key.public_key().hex(),
                left: self.hashes(0, from),
                right: self.hashes(to, size),
                consistency,
            };
            let mut lines = vec![serde_json::to_string(&header).unwrap()];
            for index in from..to {
                let line = Line {
                    index,
                    leaf_hash: Some(crate::hex(&self.events[index as usize].leaf_hash(LOG))),
                    event: self.events[index as usize].clone(),
                };
                lines.push(serde_json::to_string(&line).unwrap());
            }
            lines
        }

        fn verify(&self, lines: &[String], previous: Option<&Checkpoint>) -> Report {
            let text = lines.join("\n");
            verify(text.as_bytes(), Some(&self.key.public_key()), previous)
        }
    }

    #[test]
    fn intact_exports_verify_whole_and_in_ranges() {
        let fixture = Fixture::new(13);
        for (from, to) in [(0, 13), (0, 0), (3, 9), (5, 13), (0, 1), (12, 13)] {
            let report = fixture.verify(&fixture.export(from, to, None), None);
            assert!(report.ok(), "{from}..{to}: {:?}", report.failures);
            assert_eq!(report.valid_events, to - from);
            assert!(report.root_checked && report.signature_checked);
        }
    }

    #[test]
    fn a_changed_event_is_named() {
        let fixture = Fixture::new(10);
        let mut lines = fixture.export(0, 10, None);
        lines[7] = lines[7].replace("customer:6", "customer:X");
        let report = fixture.verify(&lines, None);
        assert_eq!(
            report.failures,
            [
                Failure::EventMismatch { index: 6 },
                Failure::RootMismatch { size: 10 }
            ]
        );
        assert_eq!(report.valid_events, 9);
    }

    #[test]
    fn gaps_reorders_and_truncation_are_named() {
        let fixture = Fixture::new(10);
        let mut lines = fixture.export(0, 10, None);
        lines.remove(4);
        let report = fixture.verify(&lines, None);
        assert_eq!(report.failures, [Failure::Missing { from: 3, to: 3 }]);

        let mut lines = fixture.export(0, 10, None);
        lines.truncate(8);
        let report = fixture.verify(&lines, None);
        assert_eq!(report.failures, [Failure::Missing { from: 7, to: 9 }]);
        assert_eq!(
            report.failures[0].to_string(),
            "missing range: events at indexes 7 to 9 are absent"
        );

        let mut lines = fixture.export(0, 10, None);
        lines.swap(3, 4);
        let report = fixture.verify(&lines, None);
        assert_eq!(
            report.failures,
            [
                Failure::Missing { from: 2, to: 2 },
                Failure::OutOfOrder {
                    index: 2,
                    expected: 4
                },
            ]
        );
    }

    #[test]
    fn a_forged_signature_or_header_is_refused() {
        let fixture = Fixture::new(6);
        let mut lines = fixture.export(0, 6, None);
        let mut header: Header = serde_json::from_str(&lines[0]).unwrap();
        header.checkpoint.size = 5;
        header.to = 5;
        header.right.clear();
        lines[0] = serde_json::to_string(&header).unwrap();
        lines.pop();
        let report = fixture.verify(&lines, None);
        assert!(matches!(report.failures[0], Failure::BadSignature(_)));

        let other = Fixture::new(6);
        let report = verify(
            fixture.export(0, 6, None).join("\n").as_bytes(),
            Some(&other.key.public_key()),
            None,
        );
        assert!(matches!(report.failures[..], [Failure::BadSignature(_)]));
        // Without a trusted key, the carried one is used, and said so.
        let report = verify(fixture.export(0, 6, None).join("\n").as_bytes(), None, None);
        assert!(report.ok() && report.key_from_export);
        assert!(!verify(&b"{}"[..], None, None).ok());
        assert!(!verify(&b""[..], None, None).ok());
    }

    #[test]
    fn an_older_checkpoint_is_checked_inline_or_by_proof() {
        let fixture = Fixture::new(20);
        let old = fixture.checkpoint(11);
        let report = fixture.verify(&fixture.export(0, 20, None), Some(&old));
        assert!(report.ok(), "{:?}", report.failures);
        assert_eq!(report.consistency_checked, Some(11));

        let report = fixture.verify(&fixture.export(15, 20, Some(11)), Some(&old));
        assert!(report.ok(), "{:?}", report.failures);
        assert_eq!(report.consistency_checked, Some(11));

        // Without a proof, an older size before the range cannot be checked.
        let report = fixture.verify(&fixture.export(15, 20, None), Some(&old));
        assert!(matches!(report.failures[..], [Failure::CannotCompare(_)]));

        // A log that was rewritten below the old checkpoint's size, and
        // re-signed with the same key.
        let mut events = fixture.events.clone();
        events[3].target = "customer:rewritten".to_owned();
        let rewritten = Fixture::from_events(events, fixture.pem.clone());
        let report = rewritten.verify(&rewritten.export(0, 20, None), Some(&old));
        assert!(
            matches!(report.failures[..], [Failure::Inconsistent { .. }]),
            "{:?}",
            report.failures
        );
        let report = rewritten.verify(&rewritten.export(15, 20, Some(11)), Some(&old));
        assert!(
            matches!(report.failures[..], [Failure::Inconsistent { .. }]),
            "{:?}",
            report.failures
        );

        // A previous checkpoint larger than the log: a truncated tail.
        let longer = Fixture::from_events((0..25).map(event).collect(), fixture.pem.clone());
        let report = fixture.verify(&fixture.export(0, 20, None), Some(&longer.checkpoint(25)));
        assert!(
            report.failures[0]
                .to_string()
                .contains("events at indexes 20 to 24 were removed"),
            "{:?}",
            report.failures
        );
    }

    #[test]
    fn unescaped_text_in_a_forged_export_is_flagged_and_never_printed() {
        let fixture = Fixture::new(3);
        let mut lines = fixture.export(0, 3, None);
        lines[2] = lines[2].replace("customer:1", "customer:1\\n\\u001b[2J");
        let report = fixture.verify(&lines, None);
        assert!(report.failures.contains(&Failure::EventMalformed {
            index: 1,
            problem: "the event holds unescaped control characters"
        }));
        for failure in &report.failures {
            assert!(!failure.to_string().chars().any(char::is_control));
        }
    }
}
