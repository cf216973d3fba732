//! Training of the action-item models from labelled files, with thresholds and calibration
//! chosen on out-of-fold scores (so the operating point is not fitted on the data it was
//! trained on). Folds are by group (meeting, or sentence), assigned round-robin over the
//! sorted group names: deterministic.

use super::data::Labelled;
use debrief::extract::action_items::effective_language;
use debrief::extract::action_items::features::HASH_BITS;
use debrief::extract::action_items::features::{featurize, ConvFeatures, Scratch};
use debrief::extract::action_items::model::{
    best_threshold, platt, train, Example, LinearModel, ModelFile, Operating, Style, TrainParams,
    MODEL_FORMAT,
};
use std::collections::BTreeMap;

/// A labelled conversation with its features computed for both models.
#[derive(Debug)]
pub struct Doc {
    /// Cross-validation group.
    pub group: String,
    /// Source dataset index.
    pub dataset: usize,
    /// Units and features.
    pub feats: ConvFeatures,
    /// Per segment labels.
    pub labels: Vec<bool>,
    /// Style.
    pub style: Style,
    /// Per unit, when only some units are labelled (representatives' feedback on
    /// suggestions, `feedback.rs`): `Some(label)` for a unit a verdict covers, `None` for the
    /// others, which are then left out of training and calibration. `None` for a fully
    /// labelled conversation (`labels` apply).
    pub unit_labels: Option<Vec<Option<bool>>>,
}

impl Doc {
    /// The label of unit `i`: the partial label when the document has them, else its
    /// segment's label; `None` when the unit is not labelled.
    fn unit_label(&self, i: usize) -> Option<bool> {
        match &self.unit_labels {
            Some(l) => l.get(i).copied().flatten(),
            None => {
                let u = self.feats.units.get(i)?;
                Some(self.labels.get(u.segment).copied().unwrap_or(false))
            }
        }
    }
}

/// Computes the features of labelled conversations.
pub fn prepare(sets: &[(usize, &Labelled)]) -> Vec<Doc> {
    let mut scratch = Scratch::default();
    sets.iter()
        .map(|&(dataset, l)| {
            let lang = effective_language(&l.lang);
            let feats = featurize(&l.conv, lang, &mut scratch);
            let style = if feats.document {
                Style::Document
            } else {
                Style::Conversation
            };
            Doc {
                group: l.group.clone(),
                dataset,
                feats,
                labels: l.labels.clone(),
                style,
                unit_labels: None,
            }
        })
        .collect()
}

/// Fold of each document for `k` folds: groups sorted by name, dealt round-robin.
pub fn folds(docs: &[Doc], k: usize) -> Vec<usize> {
    let mut groups: BTreeMap<&str, usize> = BTreeMap::new();
    for d in docs {
        groups.entry(d.group.as_str()).or_insert(0);
    }
    for (i, v) in groups.values_mut().enumerate() {
        *v = i % k.max(1);
    }
    docs.iter().map(|d| groups[d.group.as_str()]).collect()
}

fn examples<'a>(docs: &[&'a Doc]) -> Vec<Example<'a>> {
    let mut out = Vec::new();
    for d in docs {
        let f = &d.feats;
        for i in 0..f.units.len() {
            if let Some(label) = d.unit_label(i) {
                out.push(Example {
                    feats: f.unit_feats(i),
                    label,
                });
            }
        }
    }
    out
}

/// Segment-level scores (max over the segment's units; segments without units are skipped)
/// and labels, per style; for a partially labelled document, its labelled units' scores.
fn segment_scores(doc: &Doc, w: &[f32], out: &mut [(Vec<f32>, Vec<bool>); 2]) {
    let f = &doc.feats;
    let slot = match doc.style {
        Style::Conversation => 0,
        Style::Document => 1,
    };
    if doc.unit_labels.is_some() {
        for i in 0..f.units.len() {
            if let Some(label) = doc.unit_label(i) {
                out[slot]
                    .0
                    .push(f.unit_feats(i).iter().map(|&x| w[x as usize]).sum());
                out[slot].1.push(label);
            }
        }
        return;
    }
    let mut best: BTreeMap<usize, f32> = BTreeMap::new();
    for (i, u) in f.units.iter().enumerate() {
        let m: f32 = f.unit_feats(i).iter().map(|&x| w[x as usize]).sum();
        let e = best.entry(u.segment).or_insert(f32::NEG_INFINITY);
        *e = e.max(m);
    }
    for (s, m) in best {
        out[slot].0.push(m);
        out[slot]
            .1
            .push(doc.labels.get(s).copied().unwrap_or(false));
    }
}

/// Trains the model, with operating points (threshold and calibration per style) chosen on
/// `inner_k`-fold out-of-fold scores.
pub fn fit_model(docs: &[&Doc], p: &TrainParams, inner_k: usize) -> LinearModel {
    let mut oof: [(Vec<f32>, Vec<bool>); 2] = [(Vec::new(), Vec::new()), (Vec::new(), Vec::new())];
    if inner_k >= 2 {
        let owned: Vec<&Doc> = docs.to_vec();
        let mut groups: BTreeMap<&str, usize> = BTreeMap::new();
        for d in &owned {
            groups.entry(d.group.as_str()).or_insert(0);
        }
        for (i, v) in groups.values_mut().enumerate() {
            *v = i % inner_k;
        }
        for k in 0..inner_k {
            let train_docs: Vec<&Doc> = owned
                .iter()
                .copied()
                .filter(|d| groups[d.group.as_str()] != k)
                .collect();
            let w = train(&examples(&train_docs), p);
            for d in owned.iter().filter(|d| groups[d.group.as_str()] == k) {
                segment_scores(d, &w, &mut oof);
            }
        }
    }
    let w = train(&examples(docs), p);
    let op = |s: &(Vec<f32>, Vec<bool>)| {
        if s.0.is_empty() {
            return Operating {
                threshold: 0.0,
                a: 1.0,
                b: 0.0,
            };
        }
        let (t, _) = best_threshold(&s.0, &s.1);
        let t = if t.is_finite() { t } else { 1e9 };
        let (a, b) = platt(&s.0, &s.1);
        Operating { threshold: t, a, b }
    };
    let conversation = op(&oof[0]);
    let mut document = op(&oof[1]);
    if oof[1].0.is_empty() {
        // No document in the training data: use the conversation operating point.
        document = conversation;
    }
    let conversation = if oof[0].0.is_empty() {
        document
    } else {
        conversation
    };
    LinearModel::from_dense(w, conversation, document)
}

/// Trains the model file.
pub fn fit(docs: &[&Doc], p: &TrainParams, inner_k: usize, trained_on: Vec<String>) -> ModelFile {
    ModelFile {
        format: MODEL_FORMAT,
        hash_bits: HASH_BITS,
        trained_on,
        model: fit_model(docs, p, inner_k),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use debrief::model::{Conversation, Segment};

    fn doc(unit_labels: Option<Vec<Option<bool>>>) -> Doc {
        let text = [
            "I will send you the proposal by Friday.",
            "Great, thanks.",
            "I'll call the legal team tomorrow.",
        ];
        let conv = Conversation {
            id: "c".to_string(),
            segments: text
                .iter()
                .enumerate()
                .map(|(i, t)| Segment {
                    id: i.to_string(),
                    speaker: ["a", "b"][i % 2].to_string(),
                    text: t.to_string(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        let feats = featurize(&conv, "en", &mut Scratch::default());
        Doc {
            group: "g".to_string(),
            dataset: 0,
            feats,
            labels: vec![true, false, false],
            style: Style::Conversation,
            unit_labels,
        }
    }

    #[test]
    fn a_partially_labelled_document_trains_and_calibrates_on_its_labelled_units_only() {
        let full = doc(None);
        let units = full.feats.units.len();
        assert!(units >= 3, "one unit per segment at least");
        assert_eq!(examples(&[&full]).len(), units);

        let mut partial = vec![None; units];
        partial[units - 1] = Some(false);
        let partial = doc(Some(partial));
        let ex = examples(&[&partial]);
        assert_eq!(ex.len(), 1);
        assert!(!ex[0].label);
        let w = vec![0.0; 1 << HASH_BITS];
        let mut out: [(Vec<f32>, Vec<bool>); 2] = Default::default();
        segment_scores(&partial, &w, &mut out);
        assert_eq!(out[0].1, vec![false]);
        segment_scores(&full, &w, &mut out);
        assert_eq!(out[0].1.len(), 1 + 3, "then one score per segment");
    }
}
