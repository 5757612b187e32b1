//! Property tests: for random sequences of appends, every inclusion proof
//! and every consistency proof between two sizes verifies, and a proof for
//! the wrong leaf, size or root does not.

use std::collections::HashMap;

use proptest::prelude::*;
use rampart_audit::merkle::{
    Frontier, Hash, NodeId, consistency_ranges, inclusion_ranges, leaf_hash, range_hash, root_of,
    verify_consistency, verify_inclusion,
};

/// A log grown one append at a time, keeping what the store keeps: every
/// completed node, and the root after each append.
struct Grown {
    leaves: Vec<Hash>,
    nodes: HashMap<NodeId, Hash>,
    roots: Vec<Hash>,
}

fn grow(appends: &[Vec<u8>]) -> Grown {
    let mut frontier = Frontier::new();
    let mut nodes = HashMap::new();
    let mut roots = vec![frontier.root()];
    let mut leaves = Vec::new();
    for data in appends {
        let leaf = leaf_hash(data);
        leaves.push(leaf);
        frontier.push(leaf, |id, hash| {
            nodes.insert(id, *hash);
        });
        roots.push(frontier.root());
    }
    Grown {
        leaves,
        nodes,
        roots,
    }
}

impl Grown {
    fn proof(&self, ranges: Vec<(u64, u64)>) -> Vec<Hash> {
        ranges
            .into_iter()
            .map(|(begin, end)| {
                range_hash(begin, end, |id| self.nodes.get(&id).copied().ok_or(id)).unwrap()
            })
            .collect()
    }
}

fn appends() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::vec(prop::collection::vec(any::<u8>(), 0..24), 1..200)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn every_inclusion_proof_verifies(appends in appends(), picks in prop::collection::vec(any::<prop::sample::Index>(), 8)) {
        let grown = grow(&appends);
        let n = grown.leaves.len();
        // Each root matches the definition computed from scratch.
        prop_assert_eq!(grown.roots[n], root_of(&grown.leaves));
        for pick in picks.chunks(2) {
            let size = pick[0].index(n) + 1;
            let index = pick[1].index(size);
            let (index64, size64) = (index as u64, size as u64);
            let proof = grown.proof(inclusion_ranges(index64, size64));
            let root = grown.roots[size];
            prop_assert!(verify_inclusion(index64, size64, &grown.leaves[index], &proof, &root).is_ok());
            // The wrong leaf, position or root fails.
            let other = leaf_hash(b"not in the log");
            prop_assert!(verify_inclusion(index64, size64, &other, &proof, &root).is_err());
            if size > 1 {
                let wrong = (index + 1) % size;
                if grown.leaves[wrong] != grown.leaves[index] {
                    prop_assert!(verify_inclusion(wrong as u64, size64, &grown.leaves[index], &proof, &root).is_err());
                }
            }
            prop_assert!(verify_inclusion(index64, size64, &grown.leaves[index], &proof, &leaf_hash(b"root")).is_err());
        }
    }

    #[test]
    fn every_consistency_proof_verifies(appends in appends(), picks in prop::collection::vec(any::<prop::sample::Index>(), 8)) {
        let grown = grow(&appends);
        let n = grown.leaves.len();
        for pick in picks.chunks(2) {
            let new = pick[0].index(n) + 1;
            let old = pick[1].index(new) + 1;
            let proof = grown.proof(consistency_ranges(old as u64, new as u64));
            let (old_root, new_root) = (grown.roots[old], grown.roots[new]);
            prop_assert!(verify_consistency(old as u64, new as u64, &old_root, &new_root, &proof).is_ok());
            if old < new {
                // A different old root (a rewritten prefix) fails.
                prop_assert!(verify_consistency(old as u64, new as u64, &leaf_hash(b"x"), &new_root, &proof).is_err());
                prop_assert!(verify_consistency(old as u64, new as u64, &old_root, &leaf_hash(b"x"), &proof).is_err());
                // So does a proof with a hash flipped.
                let mut bent = proof.clone();
                bent[0][0] ^= 1;
                prop_assert!(verify_consistency(old as u64, new as u64, &old_root, &new_root, &bent).is_err());
            }
        }
    }
}
