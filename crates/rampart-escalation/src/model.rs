//! The trained model: one logistic regression per built-in intent over
//! hashed features of the normalised message (character 3- and 4-grams of
//! each word with its boundaries, the words, and pairs of adjacent words).
//!
//! Character n-grams reach what the rule tables do not spell out:
//! inflections ("inundando", "überfluteten"), compounds and typos. The
//! model may only add an intent the rules missed (see
//! [`crate::detector`]); its thresholds are set high, so it speaks only
//! when it is confident.
//!
//! Trained by `cargo run -p rampart-escalation --example train` on the
//! corpus's `train` split, deterministically: the examples in file order,
//! full-batch gradient descent, a fixed number of rounds, no randomness.
//! The weights are quantised to 16 bits and shipped in `model/weights.bin`,
//! read once at start. The same input always gives the same scores.

use std::sync::LazyLock;

use crate::intents::Intent;
use crate::normalise::normalise;

/// Feature buckets: 2^13. Collisions cost a little accuracy; the file stays
/// near 115 KB.
pub const BUCKETS: usize = 1 << 13;
const INTENTS: usize = Intent::ALL.len();
const MAGIC: &[u8; 8] = b"RMPMDL01";

/// The file shipped in the repository (empty before the first training).
static WEIGHTS: &[u8] = include_bytes!("../model/weights.bin");

static BUILT_IN: LazyLock<Option<Model>> = LazyLock::new(|| {
    if WEIGHTS.is_empty() {
        return None;
    }
    Some(Model::from_bytes(WEIGHTS).expect("the shipped weights file is well formed"))
});

/// The shipped model, if one has been trained.
#[must_use]
pub fn built_in() -> Option<&'static Model> {
    BUILT_IN.as_ref()
}

/// Weights per intent, a bias and a decision threshold.
#[derive(Debug, Clone)]
pub struct Model {
    weights: Vec<[f32; BUCKETS]>,
    biases: [f32; INTENTS],
    thresholds: [f32; INTENTS],
}

/// A message's feature buckets and the scale applied to each.
pub type Features = (Vec<usize>, f32);

/// The hashed features of a normalised text, each once, with the weight
/// that keeps long messages from scoring high on volume alone.
#[must_use]
pub fn features(joined: &str) -> Features {
    let mut buckets: Vec<usize> = Vec::new();
    let words: Vec<&str> = joined.split(' ').filter(|w| !w.is_empty()).collect();
    // Hashing straight from the bytes: no string is built per feature.
    let mut bounded: Vec<u8> = Vec::with_capacity(64);
    let mut starts: Vec<usize> = Vec::with_capacity(64);
    for (i, word) in words.iter().enumerate() {
        buckets.push(hash(1, &[word.as_bytes()]));
        if let Some(next) = words.get(i + 1) {
            buckets.push(hash(2, &[word.as_bytes(), b" ", next.as_bytes()]));
        }
        bounded.clear();
        starts.clear();
        bounded.push(b'<');
        starts.push(0);
        for (offset, _) in word.char_indices() {
            starts.push(1 + offset);
        }
        bounded.extend_from_slice(word.as_bytes());
        starts.push(bounded.len());
        bounded.push(b'>');
        starts.push(bounded.len());
        // `starts` holds where each character of "<word>" begins, and the end.
        let chars = starts.len() - 1;
        for n in [3usize, 4] {
            for first in 0..chars.saturating_sub(n - 1) {
                let gram = &bounded[starts[first]..starts[first + n]];
                buckets.push(hash(n as u32, &[gram]));
            }
        }
    }
    buckets.sort_unstable();
    buckets.dedup();
    let scale = if buckets.is_empty() {
        0.0
    } else {
        1.0 / (buckets.len() as f32).sqrt()
    };
    (buckets, scale)
}

/// FNV-1a with the feature kind mixed in, reduced to a bucket.
fn hash(kind: u32, parts: &[&[u8]]) -> usize {
    let mut h: u32 = 0x811c_9dc5 ^ kind.wrapping_mul(0x9e37_79b9);
    for &b in parts.iter().flat_map(|part| part.iter()) {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    (h as usize) % BUCKETS
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

impl Model {
    /// The probability of each intent, in [`Intent::ALL`] order, for a
    /// normalised message's joined words.
    #[must_use]
    pub fn scores(&self, joined: &str) -> [f32; INTENTS] {
        let (buckets, scale) = features(joined);
        let mut scores = [0.0; INTENTS];
        for (k, score) in scores.iter_mut().enumerate() {
            let sum: f32 = buckets.iter().map(|&b| self.weights[k][b]).sum();
            *score = sigmoid(self.biases[k] + scale * sum);
        }
        scores
    }

    /// The probability above which the model adds `intent`.
    #[must_use]
    pub fn threshold(&self, intent: Intent) -> f32 {
        self.thresholds[index(intent)]
    }

    /// Trains on `(text, intents)` pairs, deterministically.
    #[must_use]
    pub fn train(examples: &[(String, Vec<Intent>)], rounds: usize, threshold: f32) -> Self {
        let data: Vec<(Features, [bool; INTENTS])> = examples
            .iter()
            .map(|(text, intents)| {
                let mut labels = [false; INTENTS];
                for intent in intents {
                    labels[index(*intent)] = true;
                }
                (features(&normalise(text).joined()), labels)
            })
            .collect();
        let mut model = Self {
            weights: vec![[0.0; BUCKETS]; INTENTS],
            biases: [0.0; INTENTS],
            thresholds: [threshold; INTENTS],
        };
        let rate = 2.0;
        let l2 = 1e-4;
        let n = data.len().max(1) as f32;
        for k in 0..INTENTS {
            for _ in 0..rounds {
                let mut gradient = vec![0.0f32; BUCKETS];
                let mut bias_gradient = 0.0f32;
                for ((buckets, scale), labels) in &data {
                    let sum: f32 = buckets.iter().map(|&b| model.weights[k][b]).sum();
                    let p = sigmoid(model.biases[k] + scale * sum);
                    let error = p - f32::from(u8::from(labels[k]));
                    for &b in buckets {
                        gradient[b] += error * scale;
                    }
                    bias_gradient += error;
                }
                for (w, g) in model.weights[k].iter_mut().zip(&gradient) {
                    *w -= rate * (g / n + l2 * *w);
                }
                model.biases[k] -= rate * bias_gradient / n;
            }
        }
        model
    }

    /// The shipped file format: magic, bucket count, then per intent the
    /// bias, threshold and scale as `f32` and the weights as `i16`, all
    /// little-endian.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + INTENTS * (12 + BUCKETS * 2));
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&u32::try_from(BUCKETS).expect("fits").to_le_bytes());
        out.extend_from_slice(&u32::try_from(INTENTS).expect("fits").to_le_bytes());
        for k in 0..INTENTS {
            let largest = self.weights[k]
                .iter()
                .fold(0.0f32, |m, w| m.max(w.abs()))
                .max(1e-9);
            let scale = largest / f32::from(i16::MAX);
            out.extend_from_slice(&self.biases[k].to_le_bytes());
            out.extend_from_slice(&self.thresholds[k].to_le_bytes());
            out.extend_from_slice(&scale.to_le_bytes());
            for w in &self.weights[k] {
                // In range by construction of `scale`.
                #[allow(clippy::cast_possible_truncation)]
                let q = (w / scale).round() as i16;
                out.extend_from_slice(&q.to_le_bytes());
            }
        }
        out
    }

    /// Reads the format [`Model::to_bytes`] writes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        let mut at = 0;
        let mut take = |n: usize| -> Result<&[u8], String> {
            let slice = bytes
                .get(at..at + n)
                .ok_or_else(|| "weights file is truncated".to_owned())?;
            at += n;
            Ok(slice)
        };
        if take(8)? != MAGIC {
            return Err("not a weights file".to_owned());
        }
        let u32_at = |b: &[u8]| u32::from_le_bytes(b.try_into().expect("4 bytes")) as usize;
        let f32_at = |b: &[u8]| f32::from_le_bytes(b.try_into().expect("4 bytes"));
        if u32_at(take(4)?) != BUCKETS || u32_at(take(4)?) != INTENTS {
            return Err("weights file was trained for another shape".to_owned());
        }
        let mut model = Self {
            weights: vec![[0.0; BUCKETS]; INTENTS],
            biases: [0.0; INTENTS],
            thresholds: [1.0; INTENTS],
        };
        for k in 0..INTENTS {
            model.biases[k] = f32_at(take(4)?);
            model.thresholds[k] = f32_at(take(4)?);
            let scale = f32_at(take(4)?);
            let raw = take(BUCKETS * 2)?;
            for (w, pair) in model.weights[k].iter_mut().zip(raw.chunks_exact(2)) {
                *w = f32::from(i16::from_le_bytes([pair[0], pair[1]])) * scale;
            }
        }
        if take(1).is_ok() {
            return Err("weights file has trailing bytes".to_owned());
        }
        Ok(model)
    }
}

fn index(intent: Intent) -> usize {
    Intent::ALL
        .iter()
        .position(|&i| i == intent)
        .expect("every intent is in ALL")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> Model {
        let examples = vec![
            ("the house is flooded".to_owned(), vec![Intent::Emergency]),
            (
                "flooding in the kitchen".to_owned(),
                vec![Intent::Emergency],
            ),
            ("what time do you open".to_owned(), vec![]),
            ("opening hours please".to_owned(), vec![]),
        ];
        Model::train(&examples, 200, 0.5)
    }

    #[test]
    fn training_is_deterministic_and_learns() {
        let a = tiny();
        let b = tiny();
        assert_eq!(a.to_bytes(), b.to_bytes());
        let flooded = a.scores(&normalise("basement flooded").joined());
        let hours = a.scores(&normalise("your opening hours").joined());
        let e = index(Intent::Emergency);
        assert!(flooded[e] > 0.5 && hours[e] < 0.5, "{flooded:?} {hours:?}");
    }

    #[test]
    fn features_are_the_words_pairs_and_character_grams() {
        let (buckets, scale) = features("gas");
        // "gas", "<ga", "gas", "as>", "<gas", "gas>": six features, fewer
        // only if two collide.
        assert!((5..=6).contains(&buckets.len()), "{buckets:?}");
        assert!((scale - 1.0 / (buckets.len() as f32).sqrt()).abs() < 1e-6);
        assert_eq!(features("गैस").0.len(), features("गैस").0.len());
        assert!(features("").0.is_empty());
    }

    #[test]
    fn the_file_format_round_trips() {
        let model = tiny();
        let bytes = model.to_bytes();
        let read = Model::from_bytes(&bytes).unwrap();
        assert_eq!(read.to_bytes(), bytes);
        assert!(Model::from_bytes(&bytes[..bytes.len() - 1]).is_err());
        assert!(Model::from_bytes(b"RMPMDL00").is_err());
    }

    #[test]
    fn the_shipped_weights_load_and_are_small() {
        assert!(WEIGHTS.len() < 300 * 1024, "{} bytes", WEIGHTS.len());
        if !WEIGHTS.is_empty() {
            assert!(built_in().is_some());
        }
    }
}
