//! Stable ids of the suggestions in an insight (action items, tracker hits, questions), so
//! that a front end can say what a representative did with one of them
//! (`schemas/interaction_event.avsc`) and Debrief can join that back to the suggestion.
//!
//! An id is the first 16 hex characters (64 bits) of SHA-256 over, each followed by a NUL
//! byte: the version tag `debrief-item-v1`, the conversation id, the kind (`action_item`,
//! `tracker_hit`, `question`), the evidence span (segment id, start and end character, in
//! decimal) and, for a tracker hit, the tracker name and kind (two trackers can match the same
//! span). For an action item the span is its first evidence span. When two items of one kind
//! still share all of that, the later one (in the insight's order, which is deterministic)
//! also hashes its ordinal `#n` (n = 1, 2, ...), so ids are unique within an insight.
//!
//! The inputs are the insight's own final values (spans after redaction), so the id is stable
//! across replays and reprocessing of the same conversation with the same configuration, and
//! anyone holding the insight can recompute it. It carries no text; but since it is derived
//! from the conversation id, telemetry never carries it as such (see
//! `crate::interactions`, which writes a keyed pseudonym instead).

use crate::insight::Insight;
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// Characters of an item id (hex of the first 8 bytes of the digest).
pub const ITEM_ID_CHARS: usize = 16;

/// Version tag hashed first: a change of the recipe changes the tag.
const TAG: &str = "debrief-item-v1";

/// What kind of suggestion an id names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ItemKind {
    /// An action item.
    ActionItem,
    /// A tracker or competitor hit.
    TrackerHit,
    /// A question.
    Question,
}

impl ItemKind {
    /// The name used in ids and telemetry (`item_kind`): `action_item`, `tracker_hit`,
    /// `question`.
    pub fn name(self) -> &'static str {
        match self {
            ItemKind::ActionItem => "action_item",
            ItemKind::TrackerHit => "tracker_hit",
            ItemKind::Question => "question",
        }
    }

    /// The feature that produces this kind (telemetry `feature`): `action_items`, `trackers`,
    /// `questions`.
    pub fn feature(self) -> &'static str {
        match self {
            ItemKind::ActionItem => "action_items",
            ItemKind::TrackerHit => "trackers",
            ItemKind::Question => "questions",
        }
    }

    /// The kind named `name` ([`ItemKind::name`]).
    pub fn parse(name: &str) -> Option<ItemKind> {
        [
            ItemKind::ActionItem,
            ItemKind::TrackerHit,
            ItemKind::Question,
        ]
        .into_iter()
        .find(|k| k.name() == name)
    }
}

/// The id of an item of `kind` in `conversation_id` whose evidence is `parts` (segment id,
/// span and discriminators, as listed in the module docs), before the ordinal is added.
fn digest(conversation_id: &str, kind: ItemKind, parts: &[&str], ordinal: usize) -> String {
    let mut h = Sha256::new();
    for part in [TAG, conversation_id, kind.name()].iter().chain(parts) {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    if ordinal > 0 {
        h.update(format!("#{ordinal}").as_bytes());
        h.update([0u8]);
    }
    h.finalize()[..ITEM_ID_CHARS / 2]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Gives every action item, tracker hit and question of `insight` its id (see the module
/// docs). Pure: the same insight gets the same ids.
pub fn assign(insight: &mut Insight) {
    let conv = insight.conversation_id.clone();
    let mut seen: HashMap<(ItemKind, Vec<String>), usize> = HashMap::new();
    let mut id_of = |kind: ItemKind, parts: Vec<String>| {
        let n = seen.entry((kind, parts.clone())).or_insert(0);
        let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
        let id = digest(&conv, kind, &refs, *n);
        *n += 1;
        id
    };
    for item in &mut insight.action_items {
        let parts = match item.evidence.first() {
            Some(e) => vec![
                e.segment_id.clone(),
                e.start_char.to_string(),
                e.end_char.to_string(),
            ],
            None => Vec::new(),
        };
        item.id = id_of(ItemKind::ActionItem, parts);
    }
    for hit in &mut insight.tracker_hits {
        let kind = match hit.kind {
            crate::insight::TrackerKind::Keyword => "keyword",
            crate::insight::TrackerKind::Competitor => "competitor",
        };
        let parts = vec![
            hit.segment_id.clone(),
            hit.start_char.to_string(),
            hit.end_char.to_string(),
            hit.tracker.clone(),
            kind.to_string(),
        ];
        hit.id = id_of(ItemKind::TrackerHit, parts);
    }
    for q in &mut insight.questions {
        let parts = vec![
            q.segment_id.clone(),
            q.start_char.to_string(),
            q.end_char.to_string(),
        ];
        q.id = id_of(ItemKind::Question, parts);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_recipe_by_hand() {
        // printf 'debrief-item-v1\0c1\0question\0s1\0000\0005\0' | sha256sum
        // = 6e689db310e0aef9 6278c378...: the id is its first 16 hex characters.
        assert_eq!(
            digest("c1", ItemKind::Question, &["s1", "0", "5"], 0),
            "6e689db310e0aef9"
        );
    }

    #[test]
    fn ids_differ_by_conversation_kind_span_and_ordinal() {
        let base = digest("c1", ItemKind::Question, &["s1", "0", "5"], 0);
        assert_ne!(base, digest("c2", ItemKind::Question, &["s1", "0", "5"], 0));
        assert_ne!(
            base,
            digest("c1", ItemKind::ActionItem, &["s1", "0", "5"], 0)
        );
        assert_ne!(base, digest("c1", ItemKind::Question, &["s1", "0", "6"], 0));
        assert_ne!(base, digest("c1", ItemKind::Question, &["s1", "0", "5"], 1));
        // The separators keep ("s1", "05") apart from ("s10", "5").
        assert_ne!(
            digest("c1", ItemKind::Question, &["s1", "05"], 0),
            digest("c1", ItemKind::Question, &["s10", "5"], 0)
        );
    }

    fn insight() -> Insight {
        let span = |seg: &str, a: i64, z: i64| serde_json::json!({"segment_id": seg, "start_char": a, "end_char": z});
        let hit = |tracker: &str, a: i64| {
            serde_json::json!({"tracker": tracker, "kind": "keyword", "term": "t", "heard": "t",
                "speaker": "a", "side": "internal", "segment_id": "s1", "offset_ms": null,
                "start_char": a, "end_char": a + 5})
        };
        let question = |a: i64| {
            serde_json::json!({"segment_id": "s2", "speaker": "b", "side": "external",
                "text": "Why?", "start_char": a, "end_char": a + 4})
        };
        let item = |ev: serde_json::Value| {
            serde_json::json!({"text": "Send it", "evidence": [ev], "owner": null, "due": null,
                "type": "email", "state": "committed", "confidence": 0.5, "language": "en"})
        };
        serde_json::from_value(serde_json::json!({
            "conversation_id": "c1", "tenant_id": "t", "schema_version": 1,
            "extractor_version": "x", "config_version": 0, "source_platform": null,
            "client_version": null, "finalised_by": "file", "outcome": "complete",
            "skip_reasons": [],
            "language": {"code": "en", "confidence": 1.0, "source": "given", "speakers": []},
            "segment_count": 2, "text_chars": 10, "kpis": null,
            "questions": [question(0), question(0), question(9)],
            "action_items": [item(span("s1", 0, 7)), item(span("s1", 8, 20))],
            "tracker_hits": [hit("Pricing", 0), hit("Budget", 0)],
            "tracker_counts": []
        }))
        .unwrap()
    }

    #[test]
    fn every_suggestion_gets_a_unique_stable_id() {
        let mut a = insight();
        assign(&mut a);
        let mut ids: Vec<&str> = a.action_items.iter().map(|i| i.id.as_str()).collect();
        ids.extend(a.tracker_hits.iter().map(|h| h.id.as_str()));
        ids.extend(a.questions.iter().map(|q| q.id.as_str()));
        assert_eq!(ids.len(), 7);
        assert!(ids.iter().all(|id| id.len() == ITEM_ID_CHARS));
        let unique: std::collections::HashSet<&str> = ids.iter().copied().collect();
        assert_eq!(unique.len(), 7, "{ids:?}");
        // The same span twice: the second one hashes its ordinal.
        assert_eq!(
            a.questions[1].id,
            digest("c1", ItemKind::Question, &["s2", "0", "4"], 1)
        );
        assert_eq!(
            a.action_items[0].id,
            digest("c1", ItemKind::ActionItem, &["s1", "0", "7"], 0)
        );
        // Assigning again (a replay) gives the same ids.
        let mut b = insight();
        assign(&mut b);
        assign(&mut b);
        assert_eq!(a, b);
    }

    #[test]
    fn kinds_round_trip_their_names() {
        for k in [
            ItemKind::ActionItem,
            ItemKind::TrackerHit,
            ItemKind::Question,
        ] {
            assert_eq!(ItemKind::parse(k.name()), Some(k));
        }
        assert_eq!(ItemKind::parse("highlight"), None);
    }
}
