//! The Merkle code against the transparency-dev/merkle conformance vectors
//! (tests/data/merkle, Apache 2.0, see the LICENSE there): every inclusion
//! and consistency case verifies exactly when it should.

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rampart_audit::merkle::{Hash, verify_consistency, verify_inclusion};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InclusionCase {
    leaf_idx: u64,
    tree_size: u64,
    root: String,
    leaf_hash: String,
    proof: Option<Vec<String>>,
    desc: String,
    want_err: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConsistencyCase {
    size1: u64,
    size2: u64,
    root1: String,
    root2: String,
    proof: Option<Vec<String>>,
    desc: String,
    want_err: bool,
}

fn data(kind: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/merkle")
        .join(kind)
}

/// Every JSON file under `dir`, recursively, sorted.
fn cases(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(cases(&path));
        } else if path.extension().is_some_and(|e| e == "json") {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// A hash from base64; `None` when it is not 32 bytes (which a verifier
/// must treat as a failure).
fn hash(text: &str) -> Option<Hash> {
    STANDARD.decode(text).ok()?.try_into().ok()
}

/// A root: roots are only ever compared (or, being hashes, fed into the
/// chain), so a test value that is not 32 bytes stands for "some root other
/// than any real one": mapped to a hash no real tree has, equal values to
/// equal hashes.
fn root(text: &str) -> Option<Hash> {
    let bytes = STANDARD.decode(text).ok()?;
    if let Ok(hash) = <[u8; 32]>::try_from(bytes.as_slice()) {
        return Some(hash);
    }
    let mut marked = b"not a 32-byte root:".to_vec();
    marked.extend_from_slice(&bytes);
    Some(rampart_audit::merkle::leaf_hash(&marked))
}

fn hashes(texts: &Option<Vec<String>>) -> Option<Vec<Hash>> {
    texts.iter().flatten().map(|t| hash(t)).collect()
}

#[test]
fn every_inclusion_vector() {
    let files = cases(&data("inclusion"));
    assert!(files.len() > 60, "only {} inclusion cases", files.len());
    let mut passing = 0;
    for file in &files {
        let case: InclusionCase = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
        let verified = match (hash(&case.leaf_hash), hash(&case.root), hashes(&case.proof)) {
            (Some(leaf), Some(root), Some(proof)) => {
                verify_inclusion(case.leaf_idx, case.tree_size, &leaf, &proof, &root).is_ok()
            }
            _ => false,
        };
        assert_eq!(
            verified,
            !case.want_err,
            "{}: {}",
            file.display(),
            case.desc
        );
        passing += usize::from(verified);
    }
    assert!(passing >= 5, "only {passing} happy paths");
}

#[test]
fn every_consistency_vector() {
    let files = cases(&data("consistency"));
    assert!(files.len() > 60, "only {} consistency cases", files.len());
    let mut passing = 0;
    for file in &files {
        let case: ConsistencyCase = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
        let verified = match (root(&case.root1), root(&case.root2), hashes(&case.proof)) {
            (Some(root1), Some(root2), Some(proof)) => {
                verify_consistency(case.size1, case.size2, &root1, &root2, &proof).is_ok()
            }
            _ => false,
        };
        assert_eq!(
            verified,
            !case.want_err,
            "{}: {}",
            file.display(),
            case.desc
        );
        passing += usize::from(verified);
    }
    assert!(passing >= 5, "only {passing} happy paths");
}
