//! `debrief eval action-items --cv K --feedback-sim`: does representatives' feedback improve
//! the action-item model on held-out meetings?
//!
//! In each of the K folds, the training groups (meetings, sentences) are split in two halves
//! (alternately over the sorted group names). The first half keeps its labels and trains the
//! model "in production". The second half plays the conversations representatives worked
//! on: the production model's items are extracted from them with their stable ids, and a
//! simulated representative accepts an item whose evidence touches a labelled action-item
//! segment and discards the others. Those events are then resolved like real feedback
//! (`feedback.rs`: extract again, recompute the ids, label the units under the evidence) and
//! added to the first half's labels. Three models are scored on the held-out fold: the first
//! half alone, with the feedback, and with the second half's full labels (the bound).

use super::data::Labelled;
use super::feedback::{feedback_doc, Resolved, Verdicts};
use super::train::{self, Doc};
use super::{score_labelled, Counts, Tally};
use debrief::events::RepresentativeAction;
use debrief::extract::action_items::model::{ModelFile, TrainParams};
use debrief::extract::action_items::{effective_language, extract_with};
use debrief::extract::{analyse, ids, ExtractContext, Settings};
use debrief::insight::{ActionItem, FinalisedBy, Insight};
use serde::Serialize;
use std::collections::BTreeMap;

/// One model's scores on the held-out folds, over all files or one.
#[derive(Debug, Clone, Serialize)]
pub struct Arm {
    /// Which model.
    pub name: &'static str,
    /// `all`, or the file name.
    pub data: String,
    /// Segment (or sentence) counts.
    pub counts: Counts,
    /// Precision.
    pub precision: f64,
    /// Recall.
    pub recall: f64,
    /// F1.
    pub f1: f64,
    /// Expected calibration error of the item confidences (against "touches a labelled
    /// segment").
    pub ece: Option<f64>,
    /// Items extracted from the held-out folds.
    pub items: u64,
}

impl Arm {
    fn new(name: &'static str, data: String, c: &Counts, t: &Tally) -> Arm {
        Arm {
            name,
            data,
            counts: *c,
            precision: c.precision(),
            recall: c.recall(),
            f1: c.f1(),
            ece: t.ece(),
            items: t.items.iter().sum(),
        }
    }
}

/// The simulation's result.
#[derive(Debug, Clone, Serialize)]
pub struct FeedbackReport {
    /// Folds.
    pub folds: usize,
    /// Without feedback, with feedback, with full labels: over all files, then per file.
    pub arms: Vec<Arm>,
    /// Simulated suggestions accepted and discarded, over all folds.
    pub accepted: u64,
    /// Discarded.
    pub discarded: u64,
    /// Suggestions resolved back to units, and the units they labelled.
    pub resolved: (u64, u64, u64),
}

/// The three models compared.
const ARMS: [&str; 3] = [
    "labelled half only",
    "+ feedback on the other half",
    "+ full labels of the other half (bound)",
];

/// Items of `conv` under `model`, with the ids the insight would give them.
fn with_ids(skeleton: &Insight, items: Vec<ActionItem>) -> Vec<ActionItem> {
    let mut insight = skeleton.clone();
    insight.action_items = items;
    insight.tracker_hits.clear();
    insight.questions.clear();
    ids::assign(&mut insight);
    insight.action_items
}

/// Runs the simulation over the labelled conversations of `all` (with the index of their
/// file in `names`) with `k` folds.
pub fn run(all: &[(usize, &Labelled)], names: &[String], k: usize) -> FeedbackReport {
    let docs = train::prepare(all);
    let fold = train::folds(&docs, k);
    let mut order: BTreeMap<&str, usize> = BTreeMap::new();
    for d in &docs {
        order.entry(d.group.as_str()).or_insert(0);
    }
    for (i, v) in order.values_mut().enumerate() {
        // Alternate within each fold (fold = i mod k).
        *v = (i / k.max(1)) % 2;
    }
    let half: Vec<usize> = docs.iter().map(|d| order[d.group.as_str()]).collect();
    let settings = Settings::default();
    let ctx = ExtractContext {
        settings: &settings,
        tenant: None,
        finalised_by: FinalisedBy::File,
        reference_time: None,
    };
    let p = TrainParams::default();
    // Per arm: over all files, and per file.
    let mut counts = [Counts::default(); 3];
    let mut tallies: [Tally; 3] = Default::default();
    let mut per_file: BTreeMap<usize, ([Counts; 3], [Tally; 3])> = BTreeMap::new();
    let mut resolved = Resolved::default();
    let (mut accepted, mut discarded) = (0, 0);
    for f in 0..k {
        let training = |h: usize| -> Vec<usize> {
            (0..docs.len())
                .filter(|&i| fold[i] != f && half[i] == h)
                .collect()
        };
        let (labelled, worked) = (training(0), training(1));
        let base: Vec<&Doc> = labelled.iter().map(|&i| &docs[i]).collect();
        let production = train::fit(&base, &p, 3, Vec::new());
        let mut extra: Vec<Doc> = Vec::new();
        for &i in &worked {
            let l = all[i].1;
            let lang = effective_language(&l.lang);
            let skeleton = analyse(&l.conv, &ctx);
            let extract =
                |m: &ModelFile| with_ids(&skeleton, extract_with(&l.conv, lang, None, "UTC", m));
            // What the representative saw, and what they did with it.
            let mut verdicts = Verdicts::default();
            for item in extract(&production) {
                let gold = item.evidence.iter().any(|e| {
                    e.segment_id
                        .parse::<usize>()
                        .ok()
                        .and_then(|s| l.labels.get(s).copied())
                        .unwrap_or(false)
                });
                let action = if gold {
                    accepted += 1;
                    RepresentativeAction::Accepted
                } else {
                    discarded += 1;
                    RepresentativeAction::Discarded
                };
                verdicts.add(&l.conv.id, &item.id, action, 0);
            }
            // Training: the ids resolved against a fresh extraction.
            let again = extract(&production);
            let id = l.conv.id.clone();
            if let Some(d) = feedback_doc(
                docs[i].group.clone(),
                docs[i].dataset,
                &l.conv,
                lang,
                &again,
                |item| verdicts.get(&id, item),
                &mut resolved,
            ) {
                extra.push(d);
            }
        }
        let mut with_feedback = base.clone();
        with_feedback.extend(extra.iter());
        let mut full = base.clone();
        full.extend(worked.iter().map(|&i| &docs[i]));
        let models = [
            production,
            train::fit(&with_feedback, &p, 3, Vec::new()),
            train::fit(&full, &p, 3, Vec::new()),
        ];
        for (arm, m) in models.iter().enumerate() {
            for (i, (file, l)) in all.iter().enumerate() {
                if fold[i] == f {
                    let (c, t) = per_file.entry(*file).or_default();
                    score_labelled(l, m, &mut c[arm], &mut t[arm]);
                }
            }
        }
    }
    for (c, t) in per_file.values() {
        for arm in 0..3 {
            counts[arm].merge(&c[arm]);
            tallies[arm].merge(&t[arm]);
        }
    }
    let mut arms = Vec::new();
    for arm in 0..3 {
        arms.push(Arm::new(
            ARMS[arm],
            "all".to_string(),
            &counts[arm],
            &tallies[arm],
        ));
    }
    for (file, (c, t)) in &per_file {
        let name = names.get(*file).cloned().unwrap_or_default();
        for arm in 0..3 {
            arms.push(Arm::new(ARMS[arm], name.clone(), &c[arm], &t[arm]));
        }
    }
    FeedbackReport {
        folds: k,
        arms,
        accepted,
        discarded,
        resolved: (resolved.items, resolved.units.0, resolved.units.1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::eval::data;

    /// Invented labelled sentences (not evaluation data).
    fn sentences() -> String {
        let yes = [
            "I will send you the proposal by Friday.",
            "I'll call the legal team tomorrow morning.",
            "Please send me the signed contract next week.",
            "We will schedule a follow-up meeting on Monday.",
            "Can you email the invoice to our finance team?",
            "I'll prepare the updated quote for you.",
        ];
        let no = [
            "Thanks for joining today.",
            "The weather was lovely last weekend.",
            "Our team grew a lot this year.",
            "That sounds interesting.",
            "I think the price is a bit high.",
            "We used the old system for years.",
        ];
        let mut s = String::new();
        for round in 0..6 {
            for (i, t) in yes.iter().enumerate() {
                s += &format!("{{\"id\":\"y{round}-{i}\",\"text\":\"{t}\",\"label\":\"Yes\"}}\n");
            }
            for (i, t) in no.iter().enumerate() {
                s += &format!("{{\"id\":\"n{round}-{i}\",\"text\":\"{t}\",\"label\":\"No\"}}\n");
            }
        }
        s
    }

    #[test]
    fn every_simulated_verdict_resolves_and_three_models_are_scored() {
        let d = data::parse("s.jsonl", &sentences()).expect("parse");
        let all: Vec<(usize, &Labelled)> = d.labelled.iter().map(|l| (0, l)).collect();
        let r = run(&all, &["s.jsonl".to_string()], 3);
        assert!(r.accepted > 0 && r.discarded + r.accepted > 10, "{r:?}");
        assert_eq!(r.resolved.0, r.accepted + r.discarded, "every id resolves");
        assert!(
            r.resolved.1 >= r.accepted,
            "each accepted item labels a unit"
        );
        assert_eq!(r.arms.len(), 6, "all files, then the one file");
        let held_out = all.len() as u64;
        for a in &r.arms {
            // Every sentence is scored once, in its held-out fold.
            let positives = a.counts.tp + a.counts.fn_;
            assert_eq!(positives, held_out / 2, "{}", a.name);
        }
    }
}
