//! Representatives' feedback on action items as extra training data.
//!
//! Front ends say what a representative did with a suggestion by its stable id
//! (`InteractionEvent`, `docs/contract.md`), never with its text. To learn from it, the
//! transcripts are extracted again and the same ids computed (`debrief::extract::ids`): an id
//! names an item, the item's evidence names the units of the model that produced it. Each
//! suggestion's verdict (its last decisive action: accepted, copied, edited_and_sent,
//! thumbs_up are positive; discarded, thumbs_down negative; `debrief::analytics::verdict`)
//! labels the units its evidence overlaps; the conversation's other units stay unlabelled
//! and out of training. An id that the extraction no longer produces (another model, another
//! configuration) is counted as unresolved and ignored.

use super::data::DataError;
use super::train::Doc;
use super::EvalError;
use debrief::analytics::verdict;
use debrief::events::{InteractionEvent, RepresentativeAction};
use debrief::extract::action_items::effective_language;
use debrief::extract::action_items::features::{featurize, Scratch};
use debrief::extract::action_items::model::Style;
use debrief::insight::ActionItem;
use debrief::model::Conversation;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The verdict on each suggestion, per conversation id and item id.
#[derive(Debug, Default, Clone)]
pub struct Verdicts {
    /// (conversation id, item id) → (time, arrival order, positive).
    by_item: BTreeMap<(String, String), (i64, u64, bool)>,
    seq: u64,
    /// Events read, and those that give no verdict (`viewed`, unknown actions).
    pub events: u64,
    /// Events without a verdict.
    pub without_verdict: u64,
}

impl Verdicts {
    /// Records one action; the latest decisive one (by time, then arrival) is the verdict.
    pub fn add(&mut self, conversation: &str, item: &str, action: RepresentativeAction, at: i64) {
        self.events += 1;
        self.seq += 1;
        let Some(positive) = verdict(action) else {
            self.without_verdict += 1;
            return;
        };
        let key = (conversation.to_string(), item.to_string());
        let seq = self.seq;
        let e = self.by_item.entry(key).or_insert((at, seq, positive));
        if (at, seq) >= (e.0, e.1) {
            *e = (at, seq, positive);
        }
    }

    /// The verdict on `item` of `conversation`: `Some(true)` accepted, `Some(false)`
    /// discarded.
    pub fn get(&self, conversation: &str, item: &str) -> Option<bool> {
        self.by_item
            .get(&(conversation.to_string(), item.to_string()))
            .map(|v| v.2)
    }

    /// Conversations with at least one verdict.
    pub fn conversations(&self) -> BTreeSet<&str> {
        self.by_item.keys().map(|(c, _)| c.as_str()).collect()
    }

    /// Suggestions with a verdict: (accepted, discarded).
    pub fn counts(&self) -> (u64, u64) {
        let accepted = self.by_item.values().filter(|v| v.2).count() as u64;
        (accepted, self.by_item.len() as u64 - accepted)
    }
}

/// Reads interaction events (JSON Lines, one `InteractionEvent` per line, as front ends send
/// them to the interactions topic) into `v`. A line that is not one is an error naming it.
pub fn read_events(path: &Path, v: &mut Verdicts) -> Result<(), DataError> {
    let p = path.display().to_string();
    let body = std::fs::read_to_string(path).map_err(|source| DataError::Io {
        path: p.clone(),
        source,
    })?;
    for (i, line) in body.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let e: InteractionEvent = serde_json::from_str(line).map_err(|e| DataError::Parse {
            path: p.clone(),
            line: i + 1,
            message: format!("not an interaction event: {e}"),
        })?;
        v.add(&e.conversation_id, &e.item_id, e.action, e.occurred_at_ms);
    }
    Ok(())
}

/// What `train --feedback` used.
#[derive(Debug, Default, Clone)]
pub struct FeedbackSummary {
    /// Suggestions with a verdict: (accepted, discarded).
    pub verdicts: (u64, u64),
    /// Conversations with a verdict that the transcripts hold.
    pub conversations_found: u64,
    /// Conversations with a verdict missing from the transcripts.
    pub conversations_missing: u64,
    /// What was resolved.
    pub resolved: Resolved,
}

/// Training documents from feedback files and the transcripts they are about: each
/// transcript with a verdict is analysed as `process` would (shipped model, the tenant
/// configuration when given), which gives the items and their ids; the verdicts label the
/// units under their evidence. Evidence spans are those of the final insight (after
/// redaction), units those of the original text: a redaction before a span in the same
/// segment can shift it by a few characters, which only matters at unit boundaries.
pub fn from_files(
    events: &[std::path::PathBuf],
    transcripts: &[std::path::PathBuf],
    config: Option<&Path>,
    dataset: usize,
) -> Result<(Vec<Doc>, FeedbackSummary), EvalError> {
    use debrief::extract::{analyse, ExtractContext, Settings};
    use debrief::insight::FinalisedBy;
    use debrief::tenant::{apply_tenant_sides, TenantConfig, TenantRuntime};
    let mut verdicts = Verdicts::default();
    for path in events {
        read_events(path, &mut verdicts)?;
    }
    let tenant = match config {
        None => None,
        Some(path) => {
            let c = TenantConfig::from_path(path)
                .map_err(|e| EvalError::Usage(format!("{}: {e}", path.display())))?;
            Some(
                TenantRuntime::compile(c)
                    .map_err(|e| EvalError::Usage(format!("{}: {e}", path.display())))?,
            )
        }
    };
    let settings = Settings::default();
    let ctx = ExtractContext {
        settings: &settings,
        tenant: tenant.as_ref(),
        finalised_by: FinalisedBy::File,
        reference_time: None,
    };
    let wanted = verdicts.conversations();
    let mut summary = FeedbackSummary {
        verdicts: verdicts.counts(),
        ..FeedbackSummary::default()
    };
    let mut found: BTreeSet<String> = BTreeSet::new();
    let mut docs = Vec::new();
    for path in transcripts {
        let reader =
            debrief::ingest::files::open(path).map_err(|e| EvalError::Usage(e.to_string()))?;
        for conv in reader {
            let mut conv = conv.map_err(|e| EvalError::Usage(e.to_string()))?;
            if !wanted.contains(conv.id.as_str()) || found.contains(&conv.id) {
                continue;
            }
            if let Some(t) = &tenant {
                apply_tenant_sides(&mut conv, &t.config);
                conv.tenant_id = t.config.tenant_id.clone();
            }
            let insight = analyse(&conv, &ctx);
            // The language the items were extracted in.
            let lang = effective_language(
                insight
                    .action_items
                    .first()
                    .map(|i| i.language.as_str())
                    .or(insight.language.code.as_deref())
                    .unwrap_or("en"),
            );
            let id = conv.id.clone();
            if let Some(d) = feedback_doc(
                id.clone(),
                dataset,
                &conv,
                lang,
                &insight.action_items,
                |item| verdicts.get(&id, item),
                &mut summary.resolved,
            ) {
                docs.push(d);
            }
            found.insert(id);
        }
    }
    summary.conversations_found = found.len() as u64;
    summary.conversations_missing = (wanted.len() - found.len()) as u64;
    Ok((docs, summary))
}

/// What resolving feedback found.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Resolved {
    /// Suggestions whose id the extraction produced again.
    pub items: u64,
    /// Units labelled by them (positive, negative).
    pub units: (u64, u64),
}

/// Labels `conv`'s units from the verdicts on its extracted `items` (which carry their
/// ids): a unit is labelled by every item whose evidence overlaps it (positive if any of
/// them was accepted). `None` when no unit gets a label.
pub fn feedback_doc(
    group: String,
    dataset: usize,
    conv: &Conversation,
    lang: &str,
    items: &[ActionItem],
    verdict_of: impl Fn(&str) -> Option<bool>,
    resolved: &mut Resolved,
) -> Option<Doc> {
    let feats = featurize(conv, lang, &mut Scratch::default());
    let mut labels: Vec<Option<bool>> = vec![None; feats.units.len()];
    for item in items {
        let Some(positive) = verdict_of(&item.id) else {
            continue;
        };
        resolved.items += 1;
        for e in &item.evidence {
            let Some(seg) = conv.segments.iter().position(|s| s.id == e.segment_id) else {
                continue;
            };
            for (i, u) in feats.units.iter().enumerate() {
                let overlaps = u.segment == seg
                    && i64::from(u.start_char) < e.end_char
                    && e.start_char < i64::from(u.end_char);
                if overlaps {
                    labels[i] = Some(labels[i].unwrap_or(false) || positive);
                }
            }
        }
    }
    for l in labels.iter().flatten() {
        if *l {
            resolved.units.0 += 1;
        } else {
            resolved.units.1 += 1;
        }
    }
    if labels.iter().all(Option::is_none) {
        return None;
    }
    let style = if feats.document {
        Style::Document
    } else {
        Style::Conversation
    };
    Some(Doc {
        group,
        dataset,
        labels: Vec::new(),
        style,
        feats,
        unit_labels: Some(labels),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use debrief::insight::{ActionState, ActionStatus, ActionType, Evidence};
    use debrief::model::Segment;

    fn seg(id: &str, text: &str, speaker: &str) -> Segment {
        Segment {
            id: id.to_string(),
            speaker: speaker.to_string(),
            text: text.to_string(),
            ..Default::default()
        }
    }

    #[test]
    fn the_last_decisive_action_labels_the_units_under_the_evidence() {
        let mut v = Verdicts::default();
        v.add("c1", "a", RepresentativeAction::Viewed, 1);
        v.add("c1", "a", RepresentativeAction::Discarded, 5);
        v.add("c1", "a", RepresentativeAction::Copied, 3);
        v.add("c1", "b", RepresentativeAction::Accepted, 2);
        assert_eq!(v.get("c1", "a"), Some(false));
        assert_eq!(v.get("c1", "b"), Some(true));
        assert_eq!(v.get("c2", "a"), None);
        assert_eq!((v.events, v.without_verdict), (4, 1));
        assert_eq!(v.counts(), (1, 1));

        let conv = Conversation {
            id: "c1".to_string(),
            segments: vec![
                seg("s0", "I will send you the proposal by Friday.", "anna"),
                seg("s1", "Great, thanks a lot.", "ben"),
                seg("s2", "And I'll call the legal team tomorrow.", "anna"),
            ],
            ..Default::default()
        };
        let item = |id: &str, segment: &str| ActionItem {
            id: id.to_string(),
            text: String::new(),
            evidence: vec![Evidence {
                segment_id: segment.to_string(),
                start_char: 0,
                end_char: 10,
            }],
            owner: None,
            due: None,
            action_type: ActionType::Task,
            state: ActionState::Committed,
            confidence: 0.5,
            language: "en".to_string(),
            status: ActionStatus::default(),
        };
        let items = [item("b", "s0"), item("a", "s2"), item("zz", "s1")];
        let mut r = Resolved::default();
        let doc = feedback_doc(
            "g".into(),
            0,
            &conv,
            "en",
            &items,
            |id| v.get("c1", id),
            &mut r,
        )
        .expect("labelled");
        assert_eq!(r.items, 2, "the id without a verdict is not counted");
        let labels = doc.unit_labels.expect("partial labels");
        let seg_of = |want: usize| -> Vec<Option<bool>> {
            doc.feats
                .units
                .iter()
                .zip(&labels)
                .filter(|(u, _)| u.segment == want)
                .map(|(_, l)| *l)
                .collect()
        };
        assert_eq!(seg_of(0), vec![Some(true)]);
        assert_eq!(seg_of(1), vec![None]);
        assert_eq!(seg_of(2), vec![Some(false)]);
        assert_eq!(r.units, (1, 1));
    }
}
