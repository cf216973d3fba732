//! The linear model: logistic regression over hashed features, its training (AdaGrad SGD,
//! deterministic), decision thresholds chosen for F1, and Platt calibration of confidences.
//!
//! One model ships in `models/action_items.json`. It reads only language-independent cue and
//! context features, so the same decision function runs in every language: English, French,
//! German and Spanish items come from the same weights (English word n-grams were tried and
//! dropped: +0.03 F1 on e-mail, nothing on meetings, and they broke the agreement between
//! languages).

use super::features::HASH_BITS;
use serde::{Deserialize, Serialize};
use std::sync::OnceLock;

/// Version of the model file layout.
pub const MODEL_FORMAT: u32 = 1;

/// Kind of text: thresholds and calibration differ between conversations (meetings, calls,
/// chats: a low share of action items) and single-author documents (an e-mail, a message:
/// trained on e-mail sentences, about half of which carry an actionable intent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Style {
    /// Two or more speakers.
    Conversation,
    /// Punctuated or capitalised text (chat, e-mail, clean transcripts).
    Document,
}

/// Decision threshold and calibration for one style.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Operating {
    /// Margin (log-odds) at or above which a unit is an action item.
    pub threshold: f32,
    /// Platt slope: confidence = sigmoid(a * margin + b).
    pub a: f32,
    /// Platt intercept.
    pub b: f32,
}

impl Default for Operating {
    fn default() -> Self {
        Operating {
            threshold: 0.0,
            a: 1.0,
            b: 0.0,
        }
    }
}

impl Operating {
    /// Calibrated probability of a margin.
    pub fn confidence(&self, margin: f32) -> f64 {
        sigmoid(self.a as f64 * margin as f64 + self.b as f64)
    }
}

/// A trained linear model with its operating points.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinearModel {
    /// Operating point for conversations.
    pub conversation: Operating,
    /// Operating point for documents.
    pub document: Operating,
    /// Non-zero weights: feature indices, ascending.
    pub index: Vec<u32>,
    /// Weights matching `index`, rounded to 1e-4.
    pub weight: Vec<f32>,
    /// Dense weights, rebuilt after loading.
    #[serde(skip)]
    pub dense: Vec<f32>,
}

impl LinearModel {
    /// Builds a model from dense weights, keeping weights with |w| >= 1e-4.
    pub fn from_dense(
        dense: Vec<f32>,
        conversation: Operating,
        document: Operating,
    ) -> LinearModel {
        let mut index = Vec::new();
        let mut weight = Vec::new();
        for (i, &w) in dense.iter().enumerate() {
            let r = (w * 10_000.0).round() / 10_000.0;
            if r != 0.0 {
                index.push(i as u32);
                weight.push(r);
            }
        }
        let mut m = LinearModel {
            conversation,
            document,
            index,
            weight,
            dense: Vec::new(),
        };
        m.rebuild();
        m
    }

    /// Rebuilds the dense weight vector from the sparse one.
    pub fn rebuild(&mut self) {
        let mut dense = vec![0f32; 1 << HASH_BITS];
        for (&i, &w) in self.index.iter().zip(&self.weight) {
            if let Some(d) = dense.get_mut(i as usize) {
                *d = w;
            }
        }
        self.dense = dense;
    }

    /// The margin (log-odds) of a feature set.
    pub fn margin(&self, feats: &[u32]) -> f32 {
        feats
            .iter()
            .map(|&f| self.dense.get(f as usize).copied().unwrap_or(0.0))
            .sum()
    }

    /// The operating point of a style.
    pub fn operating(&self, style: Style) -> &Operating {
        match style {
            Style::Conversation => &self.conversation,
            Style::Document => &self.document,
        }
    }
}

/// The shipped model file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelFile {
    /// [`MODEL_FORMAT`].
    pub format: u32,
    /// Hash bits of the feature space (must equal [`HASH_BITS`]).
    pub hash_bits: u32,
    /// What it was trained on: file names and example counts, and the parameters.
    pub trained_on: Vec<String>,
    /// The model.
    pub model: LinearModel,
}

impl ModelFile {
    /// Parses a model file and rebuilds its dense weights.
    pub fn parse(json: &str) -> Result<ModelFile, String> {
        let mut m: ModelFile =
            serde_json::from_str(json).map_err(|e| format!("model file: {e}"))?;
        if m.format != MODEL_FORMAT || m.hash_bits != HASH_BITS {
            return Err(format!(
                "model file: format {} with {} hash bits, expected format {MODEL_FORMAT} with {HASH_BITS}",
                m.format, m.hash_bits
            ));
        }
        if m.model.index.len() != m.model.weight.len() {
            return Err("model file: index and weight lengths differ".to_string());
        }
        m.model.rebuild();
        Ok(m)
    }
}

static SHIPPED_JSON: &str = include_str!("../../../models/action_items.json");

/// The shipped model, parsed once. `None` when the embedded file is unusable (then only the
/// cue rules run).
pub fn shipped() -> Option<&'static ModelFile> {
    static M: OnceLock<Option<ModelFile>> = OnceLock::new();
    M.get_or_init(|| ModelFile::parse(SHIPPED_JSON).ok())
        .as_ref()
}

/// Logistic function.
pub fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// One training example: a unit's features, its label and its weight.
#[derive(Debug, Clone, Copy)]
pub struct Example<'a> {
    /// Sorted, unique feature indices.
    pub feats: &'a [u32],
    /// Positive class.
    pub label: bool,
}

/// Training parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TrainParams {
    /// Passes over the data.
    pub epochs: usize,
    /// AdaGrad base learning rate.
    pub learning_rate: f32,
    /// L2 penalty per update.
    pub l2: f32,
    /// Weight of positive examples in the loss.
    pub positive_weight: f32,
    /// Features seen in fewer training examples are ignored.
    pub min_count: u32,
    /// Seed of the example order.
    pub seed: u64,
}

impl Default for TrainParams {
    fn default() -> Self {
        TrainParams {
            epochs: 6,
            learning_rate: 0.1,
            l2: 1e-5,
            positive_weight: 3.0,
            min_count: 3,
            seed: 17,
        }
    }
}

/// A small deterministic PRNG (xorshift64*).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// Seeds the generator (0 is replaced by a constant).
    pub fn new(seed: u64) -> Rng {
        Rng(if seed == 0 {
            0x9e37_79b9_7f4a_7c15
        } else {
            seed
        })
    }

    /// Next value.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Fisher-Yates shuffle.
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = (self.next_u64() % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
    }
}

/// Trains dense weights by AdaGrad SGD on the weighted logistic loss. Deterministic for a
/// given example order and parameters.
pub fn train(examples: &[Example<'_>], p: &TrainParams) -> Vec<f32> {
    let dim = 1usize << HASH_BITS;
    let mut count = vec![0u32; dim];
    for e in examples {
        for &f in e.feats {
            if let Some(c) = count.get_mut(f as usize) {
                *c = c.saturating_add(1);
            }
        }
    }
    let mut w = vec![0f32; dim];
    let mut g2 = vec![1e-6f32; dim];
    let mut order: Vec<usize> = (0..examples.len()).collect();
    let mut rng = Rng::new(p.seed);
    for _ in 0..p.epochs {
        rng.shuffle(&mut order);
        for &i in &order {
            let e = &examples[i];
            let mut z = 0f32;
            for &f in e.feats {
                let f = f as usize;
                if f < dim && count[f] >= p.min_count {
                    z += w[f];
                }
            }
            let prob = sigmoid(z as f64) as f32;
            let y = if e.label { 1.0 } else { 0.0 };
            let weight = if e.label { p.positive_weight } else { 1.0 };
            let g = (prob - y) * weight;
            for &f in e.feats {
                let f = f as usize;
                if f < dim && count[f] >= p.min_count {
                    let grad = g + p.l2 * w[f];
                    g2[f] += grad * grad;
                    w[f] -= p.learning_rate * grad / g2[f].sqrt();
                }
            }
        }
    }
    w
}

/// The threshold on `scores` maximising F1 against `labels`, and that F1. Ties go to the
/// higher threshold. With no positive label, returns `(f32::INFINITY, 0.0)`.
pub fn best_threshold(scores: &[f32], labels: &[bool]) -> (f32, f64) {
    let total_pos = labels.iter().filter(|&&l| l).count();
    if total_pos == 0 || scores.is_empty() {
        return (f32::INFINITY, 0.0);
    }
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let (mut tp, mut fp) = (0usize, 0usize);
    let mut best = (f32::INFINITY, 0.0f64);
    let mut k = 0;
    while k < idx.len() {
        let s = scores[idx[k]];
        while k < idx.len() && scores[idx[k]] == s {
            if labels[idx[k]] {
                tp += 1;
            } else {
                fp += 1;
            }
            k += 1;
        }
        let f1 = 2.0 * tp as f64 / (2 * tp + fp + (total_pos - tp)) as f64;
        if f1 > best.1 {
            // Midway to the next lower score, so the threshold generalises.
            let next = idx.get(k).map(|&j| scores[j]).unwrap_or(s - 1.0);
            best = ((s + next) / 2.0, f1);
        }
    }
    best
}

/// Fits Platt scaling `sigmoid(a * score + b)` to labels by Newton's method (with the usual
/// target smoothing). Returns `(1, 0)` when there is nothing to fit.
pub fn platt(scores: &[f32], labels: &[bool]) -> (f32, f32) {
    let np = labels.iter().filter(|&&l| l).count() as f64;
    let nn = labels.len() as f64 - np;
    if np == 0.0 || nn == 0.0 {
        return (1.0, 0.0);
    }
    let hi = (np + 1.0) / (np + 2.0);
    let lo = 1.0 / (nn + 2.0);
    let (mut a, mut b) = (1.0f64, 0.0f64);
    for _ in 0..50 {
        let (mut gaa, mut gab, mut gbb, mut ga, mut gb) = (1e-9, 0.0, 1e-9, 0.0, 0.0);
        for (&s, &l) in scores.iter().zip(labels) {
            let s = s as f64;
            let t = if l { hi } else { lo };
            let p = sigmoid(a * s + b);
            let d = p - t;
            let w = p * (1.0 - p);
            ga += d * s;
            gb += d;
            gaa += w * s * s;
            gab += w * s;
            gbb += w;
        }
        let det = gaa * gbb - gab * gab;
        if det.abs() < 1e-12 {
            break;
        }
        let da = (gbb * ga - gab * gb) / det;
        let db = (gaa * gb - gab * ga) / det;
        a -= da;
        b -= db;
        if da.abs() < 1e-7 && db.abs() < 1e-7 {
            break;
        }
    }
    (a as f32, b as f32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_model_parses() {
        let m = shipped().expect("shipped model");
        assert_eq!(m.hash_bits, HASH_BITS);
        assert_eq!(m.model.dense.len(), 1 << HASH_BITS);
        assert!(m.model.index.len() > 50, "trained weights expected");
    }

    #[test]
    fn best_threshold_separates_a_clean_split() {
        let scores = [3.0, 2.0, 1.0, -1.0];
        let labels = [true, true, false, false];
        let (t, f1) = best_threshold(&scores, &labels);
        assert_eq!(t, 1.5);
        assert!((f1 - 1.0).abs() < 1e-12);
        assert_eq!(best_threshold(&scores, &[false; 4]).0, f32::INFINITY);
    }

    #[test]
    fn training_learns_a_separable_feature() {
        let pos = [1u32, 7];
        let neg = [1u32, 9];
        let ex: Vec<Example> = (0..40)
            .map(|i| {
                if i % 2 == 0 {
                    Example {
                        feats: &pos,
                        label: true,
                    }
                } else {
                    Example {
                        feats: &neg,
                        label: false,
                    }
                }
            })
            .collect();
        let p = TrainParams {
            min_count: 1,
            ..TrainParams::default()
        };
        let w = train(&ex, &p);
        assert!(w[7] > 0.5 && w[9] < -0.5, "w7={} w9={}", w[7], w[9]);
        assert_eq!(train(&ex, &p), w, "deterministic");
    }

    #[test]
    fn platt_is_monotone_and_calibrates_balanced_scores() {
        let scores = [-2.0, -1.0, -0.5, 0.5, 1.0, 2.0];
        let labels = [false, false, true, false, true, true];
        let (a, b) = platt(&scores, &labels);
        assert!(a > 0.0);
        let p0 = sigmoid(b as f64);
        assert!((p0 - 0.5).abs() < 0.1, "p0={p0}");
    }
}
