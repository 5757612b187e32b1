//! RFC 6962 / RFC 9162 Merkle tree hashing, proofs and their verification.
//!
//! Pure arithmetic: no storage, no I/O, so the service, the offline verifier
//! and the tests share it.
//!
//! ```text
//! leaf hash  = SHA-256(0x00 || leaf data)
//! node hash  = SHA-256(0x01 || left || right)
//! empty tree = SHA-256("")
//! ```
//!
//! A tree of `n` leaves splits at `k`, the largest power of two below `n`:
//! the left part is always a *perfect* subtree, aligned to its own size. Every
//! such aligned perfect subtree ("node" (level, index), covering leaves
//! `index·2^level .. (index+1)·2^level`) is stored once it is complete, so an
//! append adds one leaf and the few parents it completes, and any proof is a
//! handful of stored node hashes. The ranges that are not perfect (the right
//! edge of a tree) are hashed by folding their perfect pieces from the right
//! ([`decompose`], [`fold_right`]).
//!
//! Verification follows RFC 9162 section 2.1.3.2 (inclusion) and 2.1.4.2
//! (consistency), in the iterative form of transparency-dev/merkle, and is
//! checked against that project's test vectors.

use ring::digest::{Context, SHA256};

/// A SHA-256 hash.
pub type Hash = [u8; 32];

/// The hash of a leaf's data.
#[must_use]
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut context = Context::new(&SHA256);
    context.update(&[0]);
    context.update(data);
    finish(context)
}

/// The hash of an interior node.
#[must_use]
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut context = Context::new(&SHA256);
    context.update(&[1]);
    context.update(left);
    context.update(right);
    finish(context)
}

/// The root of the empty tree.
#[must_use]
pub fn empty_root() -> Hash {
    finish(Context::new(&SHA256))
}

fn finish(context: Context) -> Hash {
    let mut out = [0u8; 32];
    out.copy_from_slice(context.finish().as_ref());
    out
}

/// An aligned perfect subtree: leaves `index << level .. (index + 1) << level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId {
    pub level: u8,
    pub index: u64,
}

impl NodeId {
    #[must_use]
    pub fn new(level: u8, index: u64) -> Self {
        Self { level, index }
    }

    /// The first leaf it covers.
    #[must_use]
    pub fn begin(self) -> u64 {
        self.index << self.level
    }

    /// One past the last leaf it covers.
    #[must_use]
    pub fn end(self) -> u64 {
        (self.index + 1) << self.level
    }
}

/// The aligned perfect subtrees that make up `begin..end`, left to right,
/// each as large as possible. For `0..n` this is the "frontier" of a tree of
/// size `n` (one node per set bit of `n`).
#[must_use]
pub fn decompose(begin: u64, end: u64) -> Vec<NodeId> {
    let mut nodes = Vec::new();
    let mut at = begin;
    while at < end {
        // The largest aligned block starting at `at` that fits before `end`.
        let aligned = if at == 0 { 63 } else { at.trailing_zeros() };
        let fits = 63 - (end - at).leading_zeros();
        let level = aligned.min(fits);
        let level = u8::try_from(level).expect("a level fits in u8");
        nodes.push(NodeId::new(level, at >> level));
        at += 1u64 << level;
    }
    nodes
}

/// The root of a range from the hashes of its [`decompose`]d pieces, left
/// to right: the right edge of an RFC 6962 tree hashes this way.
#[must_use]
pub fn fold_right(hashes: &[Hash]) -> Option<Hash> {
    let (last, rest) = hashes.split_last()?;
    Some(
        rest.iter()
            .rev()
            .fold(*last, |right, left| node_hash(left, &right)),
    )
}

/// The ranges `begin..end` whose Merkle tree hashes, in order, make up the
/// inclusion proof of leaf `index` in a tree of `size` leaves (RFC 9162
/// 2.1.3.1, `PATH`). Each range is hashed with [`decompose`] and
/// [`fold_right`].
#[must_use]
pub fn inclusion_ranges(index: u64, size: u64) -> Vec<(u64, u64)> {
    let mut ranges = Vec::new();
    path(index, 0, size, &mut ranges);
    ranges
}

fn path(m: u64, begin: u64, end: u64, out: &mut Vec<(u64, u64)>) {
    let n = end - begin;
    if n <= 1 {
        return;
    }
    let k = split(n);
    if m < k {
        path(m, begin, begin + k, out);
        out.push((begin + k, end));
    } else {
        path(m - k, begin + k, end, out);
        out.push((begin, begin + k));
    }
}

/// The ranges whose hashes make up the consistency proof from `old` to
/// `new` leaves (RFC 9162 2.1.4.1, `PROOF` and `SUBPROOF`); empty when
/// there is nothing to prove (`old` is 0 or equal to `new`).
#[must_use]
pub fn consistency_ranges(old: u64, new: u64) -> Vec<(u64, u64)> {
    let mut ranges = Vec::new();
    if old > 0 && old < new {
        subproof(old, 0, new, true, &mut ranges);
    }
    ranges
}

fn subproof(m: u64, begin: u64, end: u64, whole: bool, out: &mut Vec<(u64, u64)>) {
    let n = end - begin;
    if m == n {
        if !whole {
            out.push((begin, end));
        }
        return;
    }
    let k = split(n);
    if m <= k {
        subproof(m, begin, begin + k, whole, out);
        out.push((begin + k, end));
    } else {
        subproof(m - k, begin + k, end, false, out);
        out.push((begin, begin + k));
    }
}

/// The largest power of two strictly below `n` (`n` ≥ 2).
fn split(n: u64) -> u64 {
    1u64 << (63 - (n - 1).leading_zeros())
}

/// Why a proof did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("index {index} is beyond the tree size {size}")]
    IndexBeyondSize { index: u64, size: u64 },
    #[error("the proof has {got} hashes, {want} expected")]
    WrongLength { got: usize, want: usize },
    #[error("the old size {old} is larger than the new size {new}")]
    SizesReversed { old: u64, new: u64 },
    #[error("there is no consistency proof from the empty tree")]
    EmptyOld,
    #[error("the proof does not lead to the expected root")]
    RootMismatch,
    #[error("the first root does not match the proof")]
    OldRootMismatch,
}

/// Checks that `leaf` is at `index` in the tree of `size` leaves whose root
/// is `root` (RFC 9162 2.1.3.2).
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    let computed = root_from_inclusion(index, size, leaf, proof)?;
    if &computed == root {
        Ok(())
    } else {
        Err(ProofError::RootMismatch)
    }
}

/// The root an inclusion proof leads to.
pub fn root_from_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
) -> Result<Hash, ProofError> {
    if index >= size {
        return Err(ProofError::IndexBeyondSize { index, size });
    }
    let (inner, border) = decompose_inclusion(index, size);
    if proof.len() != inner + border {
        return Err(ProofError::WrongLength {
            got: proof.len(),
            want: inner + border,
        });
    }
    let hash = chain_inner(*leaf, &proof[..inner], index);
    Ok(chain_border_right(hash, &proof[inner..]))
}

/// Checks that the tree of `new` leaves with root `new_root` extends the
/// tree of `old` leaves with root `old_root` (RFC 9162 2.1.4.2).
pub fn verify_consistency(
    old: u64,
    new: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if new < old {
        return Err(ProofError::SizesReversed { old, new });
    }
    if old == 0 {
        // Every tree extends the empty one: a proof from it proves nothing,
        // and accepting one would let any pair of roots pass.
        return Err(ProofError::EmptyOld);
    }
    if old == new {
        if !proof.is_empty() {
            return Err(ProofError::WrongLength {
                got: proof.len(),
                want: 0,
            });
        }
        return if old_root == new_root {
            Ok(())
        } else {
            Err(ProofError::RootMismatch)
        };
    }
    if proof.is_empty() {
        return Err(ProofError::WrongLength { got: 0, want: 1 });
    }
    let (inner, border) = decompose_inclusion(old - 1, new);
    let shift = old.trailing_zeros() as usize;
    let inner = inner - shift;
    // The proof starts with the hash of the old tree's last perfect subtree,
    // unless the old tree is that perfect subtree itself.
    let (seed, rest) = if old == 1u64 << shift {
        (*old_root, proof)
    } else {
        (proof[0], &proof[1..])
    };
    if rest.len() != inner + border {
        let start = proof.len() - rest.len();
        return Err(ProofError::WrongLength {
            got: proof.len(),
            want: start + inner + border,
        });
    }
    let mask = (old - 1) >> shift;
    let first = chain_border_right(
        chain_inner_right(seed, &rest[..inner], mask),
        &rest[inner..],
    );
    if &first != old_root {
        return Err(ProofError::OldRootMismatch);
    }
    let second = chain_border_right(chain_inner(seed, &rest[..inner], mask), &rest[inner..]);
    if &second != new_root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// How many proof hashes lie below the point where the leaf's path joins
/// the tree's right edge, and how many along that edge.
fn decompose_inclusion(index: u64, size: u64) -> (usize, usize) {
    let inner = (64 - (index ^ (size - 1)).leading_zeros()) as usize;
    let border = (index >> inner).count_ones() as usize;
    (inner, border)
}

fn chain_inner(seed: Hash, proof: &[Hash], index: u64) -> Hash {
    proof.iter().enumerate().fold(seed, |hash, (i, sibling)| {
        if (index >> i) & 1 == 0 {
            node_hash(&hash, sibling)
        } else {
            node_hash(sibling, &hash)
        }
    })
}

fn chain_inner_right(seed: Hash, proof: &[Hash], index: u64) -> Hash {
    proof.iter().enumerate().fold(seed, |hash, (i, sibling)| {
        if (index >> i) & 1 == 1 {
            node_hash(sibling, &hash)
        } else {
            hash
        }
    })
}

fn chain_border_right(seed: Hash, proof: &[Hash]) -> Hash {
    proof
        .iter()
        .fold(seed, |hash, sibling| node_hash(sibling, &hash))
}

/// A growing tree's right edge: the hashes of [`decompose`]`(0, size)`. It
/// takes leaves one at a time, reports each perfect subtree it completes, and
/// gives the root at any size: O(log n) memory for any number of leaves.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Frontier {
    size: u64,
    /// One hash per set bit of `size`, largest subtree first.
    hashes: Vec<Hash>,
}

impl Frontier {
    /// The empty tree.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// A tree of `size` leaves whose [`decompose`]`(0, size)` nodes hash to
    /// `hashes`; `None` when the count does not match.
    #[must_use]
    pub fn from_parts(size: u64, hashes: Vec<Hash>) -> Option<Self> {
        (hashes.len() == size.count_ones() as usize).then_some(Self { size, hashes })
    }

    #[must_use]
    pub fn size(&self) -> u64 {
        self.size
    }

    #[must_use]
    pub fn hashes(&self) -> &[Hash] {
        &self.hashes
    }

    /// Appends a leaf hash; calls `completed` for the new leaf node and for
    /// every parent it completes, lowest first.
    pub fn push(&mut self, leaf: Hash, mut completed: impl FnMut(NodeId, &Hash)) {
        let mut node = NodeId::new(0, self.size);
        let mut hash = leaf;
        completed(node, &hash);
        while node.index & 1 == 1 {
            let left = self.hashes.pop().expect("an odd index has a left sibling");
            hash = node_hash(&left, &hash);
            node = NodeId::new(node.level + 1, node.index >> 1);
            completed(node, &hash);
        }
        self.hashes.push(hash);
        self.size += 1;
    }

    /// The root of the tree so far.
    #[must_use]
    pub fn root(&self) -> Hash {
        fold_right(&self.hashes).unwrap_or_else(empty_root)
    }
}

/// The root of a whole tree, from its leaf hashes.
#[must_use]
pub fn root_of(leaves: &[Hash]) -> Hash {
    let mut frontier = Frontier::new();
    for leaf in leaves {
        frontier.push(*leaf, |_, _| {});
    }
    frontier.root()
}

/// Hashes a range from a lookup of stored perfect subtrees.
pub fn range_hash<E>(
    begin: u64,
    end: u64,
    mut node: impl FnMut(NodeId) -> Result<Hash, E>,
) -> Result<Hash, E> {
    let hashes = decompose(begin, end)
        .into_iter()
        .map(&mut node)
        .collect::<Result<Vec<_>, E>>()?;
    Ok(fold_right(&hashes).unwrap_or_else(empty_root))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6962's recursive definition, for comparison.
    fn mth(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => empty_root(),
            1 => leaves[0],
            n => {
                let k = split(n as u64) as usize;
                node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
            }
        }
    }

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    #[test]
    fn the_frontier_matches_the_recursive_definition() {
        for n in 0..70 {
            let leaves = leaves(n);
            assert_eq!(root_of(&leaves), mth(&leaves), "size {n}");
        }
    }

    #[test]
    fn decompositions_are_maximal_aligned_blocks() {
        assert_eq!(
            decompose(0, 7),
            [NodeId::new(2, 0), NodeId::new(1, 2), NodeId::new(0, 6)]
        );
        assert_eq!(
            decompose(3, 9),
            [NodeId::new(0, 3), NodeId::new(2, 1), NodeId::new(0, 8)]
        );
        assert!(decompose(5, 5).is_empty());
        for begin in 0..40u64 {
            for end in begin..40 {
                let nodes = decompose(begin, end);
                let mut at = begin;
                for node in nodes {
                    assert_eq!(node.begin(), at);
                    at = node.end();
                }
                assert_eq!(at, end);
            }
        }
    }

    #[test]
    fn the_frontier_reports_every_completed_node() {
        let mut frontier = Frontier::new();
        let mut stored = std::collections::HashMap::new();
        let leaves = leaves(13);
        for leaf in &leaves {
            frontier.push(*leaf, |id, hash| {
                stored.insert(id, *hash);
            });
        }
        // Every range a proof of a tree up to 13 leaves asks for hashes,
        // from stored nodes, to its RFC 6962 definition.
        let mut ranges = Vec::new();
        for size in 1..=13u64 {
            ranges.push((0, size));
            for m in 0..size {
                ranges.extend(inclusion_ranges(m, size));
                ranges.extend(consistency_ranges(m, size));
            }
        }
        for (begin, end) in ranges {
            let hash = range_hash(begin, end, |id| stored.get(&id).copied().ok_or(id)).unwrap();
            assert_eq!(
                hash,
                mth(&leaves[begin as usize..end as usize]),
                "{begin}..{end}"
            );
        }
    }
}
