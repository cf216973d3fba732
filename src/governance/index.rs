//! The conversation index: one entry per conversation on a compacted topic (key: the
//! conversation id), enough to find everything Debrief derived from a conversation, a tenant
//! or a participant, and [`IndexView`], the in-memory view the erasure executor builds by
//! reading that topic.
//!
//! Size (estimated from the field sizes): an entry's value is about 100 bytes plus its ids
//! (conversation id, tenant id, each participant's speaker id, each output's topic and key):
//! about 330 bytes, 400 with Kafka's record overhead, for a conversation with four
//! participants and one CRM record. A million conversations are about 400 MB on the
//! compacted topic, and about 1 GB in an [`IndexView`] (a dozen heap strings per entry plus
//! map overhead). At ten million the topic (4 GB) is fine for Kafka, but the view (about
//! 10 GB) is too much for one executor's memory: the view is then to be kept on disk
//! (an embedded key-value store keyed by tenant) or the executor sharded by tenant; see the
//! README's "Data protection" limits.

use crate::insight::Insight;
use crate::model::Conversation;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// One keyed record written for a conversation.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct OutputRef {
    /// Topic.
    pub topic: String,
    /// Kafka key (UTF-8).
    pub key: String,
}

/// What Debrief holds for one conversation (`schemas/conversation_index.avsc`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationIndexEntry {
    /// Conversation id (the Kafka key).
    pub conversation_id: String,
    /// Tenant id.
    pub tenant_id: String,
    /// Speaker ids of everyone who spoke, sorted, without duplicates.
    pub participants: Vec<String>,
    /// Keyed records written on compacted topics, sorted.
    pub outputs: Vec<OutputRef>,
    /// When the conversation was finalised, ms since the epoch.
    pub finalised_at_ms: i64,
    /// Features that produced data, sorted (`action_items`, `kpis`, `questions`, `trackers`).
    pub features: Vec<String>,
    /// Pseudonymous conversation id of its telemetry.
    pub telemetry_pseudonym: String,
    /// Random key of the pseudonym (destroyed with the entry).
    pub telemetry_key: Vec<u8>,
    /// The insight's suggestions (ids, kinds, types, languages, confidences; no text), which
    /// interaction events are joined with (`crate::interactions`). Empty in entries written
    /// before.
    #[serde(default)]
    pub suggestions: Vec<crate::interactions::Suggestion>,
    /// Experience profile applied to the conversation, when known.
    #[serde(default)]
    pub profile: Option<String>,
}

/// The index entry of a conversation whose insight went to `insight_topic` (`None`: no CRM
/// record), finalised at `finalised_at_ms`, whose telemetry carries the pseudonym made with
/// `telemetry_key`.
pub fn entry(
    conversation: &Conversation,
    insight: &Insight,
    insight_topic: Option<&str>,
    finalised_at_ms: i64,
    telemetry_key: &[u8],
) -> ConversationIndexEntry {
    let participants: BTreeSet<&str> = conversation
        .segments
        .iter()
        .map(|s| s.speaker.as_str())
        .filter(|s| !s.is_empty())
        .collect();
    let outputs = insight_topic
        .map(|topic| OutputRef {
            topic: topic.to_string(),
            key: insight.conversation_id.clone(),
        })
        .into_iter()
        .collect();
    let mut features = Vec::new();
    if !insight.action_items.is_empty() {
        features.push("action_items".to_string());
    }
    if insight.kpis.is_some() {
        features.push("kpis".to_string());
    }
    if !insight.questions.is_empty() {
        features.push("questions".to_string());
    }
    if !insight.tracker_hits.is_empty() || !insight.tracker_counts.is_empty() {
        features.push("trackers".to_string());
    }
    ConversationIndexEntry {
        conversation_id: insight.conversation_id.clone(),
        tenant_id: insight.tenant_id.clone(),
        participants: participants.into_iter().map(str::to_string).collect(),
        outputs,
        finalised_at_ms,
        features,
        telemetry_pseudonym: super::pseudonym::pseudonym(telemetry_key, &insight.conversation_id),
        telemetry_key: telemetry_key.to_vec(),
        suggestions: crate::interactions::suggestions_of(insight),
        // Filled from the insight's profile once experience profiles are merged.
        profile: None,
    }
}

/// Adds more keyed records written for the entry's conversation (the CRM records step's),
/// keeping `outputs` sorted and without duplicates.
pub fn add_outputs(entry: &mut ConversationIndexEntry, more: Vec<OutputRef>) {
    let all: BTreeSet<OutputRef> = entry.outputs.drain(..).chain(more).collect();
    entry.outputs = all.into_iter().collect();
}

/// The index as the erasure executor sees it: the latest entry per conversation id, read
/// from the compacted topic (tombstones remove).
#[derive(Debug, Default)]
pub struct IndexView {
    entries: BTreeMap<String, ConversationIndexEntry>,
}

impl IndexView {
    /// Takes in one record of the index topic: an entry, or a tombstone for `key`.
    pub fn apply(&mut self, key: &str, entry: Option<ConversationIndexEntry>) {
        match entry {
            Some(e) => {
                self.entries.insert(key.to_string(), e);
            }
            None => {
                self.entries.remove(key);
            }
        }
    }

    /// Number of conversations known.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// `true` when no conversation is known.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entry of one conversation.
    pub fn get(&self, conversation_id: &str) -> Option<&ConversationIndexEntry> {
        self.entries.get(conversation_id)
    }

    /// Entries of `tenant` in conversation-id order; with `conversation`, only that one;
    /// with `participant`, only those in which that speaker id spoke.
    pub fn matching(
        &self,
        tenant: &str,
        conversation: Option<&str>,
        participant: Option<&str>,
    ) -> Vec<&ConversationIndexEntry> {
        if let Some(c) = conversation {
            return self
                .entries
                .get(c)
                .filter(|e| e.tenant_id == tenant)
                .into_iter()
                .collect();
        }
        self.entries
            .values()
            .filter(|e| e.tenant_id == tenant)
            .filter(|e| participant.is_none_or(|p| e.participants.iter().any(|x| x == p)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::{analyse, ExtractContext, Settings};
    use crate::insight::FinalisedBy;
    use crate::model::Segment;

    fn conv(id: &str, tenant: &str, speakers: &[&str]) -> Conversation {
        Conversation {
            id: id.into(),
            tenant_id: tenant.into(),
            segments: speakers
                .iter()
                .enumerate()
                .map(|(i, s)| Segment {
                    id: i.to_string(),
                    speaker: (*s).into(),
                    text: "Can you send the proposal by Friday?".into(),
                    ..Segment::default()
                })
                .collect(),
            ..Conversation::default()
        }
    }

    fn entry_of(c: &Conversation, topic: Option<&str>) -> ConversationIndexEntry {
        let settings = Settings::default();
        let ctx = ExtractContext {
            settings: &settings,
            tenant: None,
            finalised_by: FinalisedBy::EndEvent,
            reference_time: None,
        };
        entry(c, &analyse(c, &ctx), topic, 42, &[7; 32])
    }

    #[test]
    fn an_entry_lists_sorted_participants_and_its_crm_record() {
        let e = entry_of(&conv("c1", "t1", &["bob", "alice", "bob"]), Some("crm"));
        assert_eq!(e.participants, ["alice", "bob"]);
        assert_eq!(
            e.outputs,
            [OutputRef {
                topic: "crm".into(),
                key: "c1".into()
            }]
        );
        assert_eq!((e.tenant_id.as_str(), e.finalised_at_ms), ("t1", 42));
        // "Can you send the proposal by Friday?": a question and a suggested task; no tracker.
        assert_eq!(e.features, ["action_items", "kpis", "questions"]);
        assert_eq!(e.telemetry_pseudonym.len(), 32);
        assert!(entry_of(&conv("c1", "t1", &["a"]), None).outputs.is_empty());
        let mut e = e;
        let out = |t: &str, k: &str| OutputRef {
            topic: t.into(),
            key: k.into(),
        };
        add_outputs(
            &mut e,
            vec![out("tasks", "c1-2"), out("crm", "c1"), out("tasks", "c1-1")],
        );
        assert_eq!(
            e.outputs,
            [out("crm", "c1"), out("tasks", "c1-1"), out("tasks", "c1-2")]
        );
    }

    #[test]
    fn the_view_finds_by_conversation_participant_and_tenant_and_forgets_tombstones() {
        let mut v = IndexView::default();
        for (id, tenant, who) in [
            ("c1", "t1", &["alice", "bob"][..]),
            ("c2", "t1", &["bob"][..]),
            ("c3", "t1", &["carol"][..]),
            ("c4", "t2", &["bob"][..]),
        ] {
            v.apply(id, Some(entry_of(&conv(id, tenant, who), Some("crm"))));
        }
        let ids = |es: Vec<&ConversationIndexEntry>| -> Vec<String> {
            es.iter().map(|e| e.conversation_id.clone()).collect()
        };
        assert_eq!(ids(v.matching("t1", Some("c1"), None)), ["c1"]);
        assert!(
            v.matching("t2", Some("c1"), None).is_empty(),
            "other tenant"
        );
        assert_eq!(ids(v.matching("t1", None, Some("bob"))), ["c1", "c2"]);
        assert_eq!(ids(v.matching("t1", None, None)), ["c1", "c2", "c3"]);
        v.apply("c1", None);
        assert_eq!(ids(v.matching("t1", None, Some("bob"))), ["c2"]);
        assert_eq!(v.len(), 3);
    }
}
