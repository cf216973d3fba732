//! What `debrief admin export` writes for a data subject: the index entries in scope, the
//! latest insight of each CRM key they list, and the telemetry records carrying their
//! pseudonyms, as JSON Lines. Pure: the records are read by the caller.

use super::index::{ConversationIndexEntry, IndexView};
use crate::events::InteractionTelemetry;
use crate::insight::Insight;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// One line of an export.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ExportLine {
    /// A conversation-index entry (its telemetry key left out).
    IndexEntry {
        /// Topic.
        topic: String,
        /// The entry.
        entry: ConversationIndexEntry,
    },
    /// The latest insight of one CRM key.
    Insight {
        /// Topic.
        topic: String,
        /// The insight.
        insight: Box<Insight>,
    },
    /// A telemetry record carrying one of the conversations' pseudonyms.
    Telemetry {
        /// Topic.
        topic: String,
        /// The record.
        record: InteractionTelemetry,
    },
}

/// The lines for `tenant` (and `conversation` or `participant`), from the index `view`, the
/// latest insights by (topic, key) and every telemetry record (with its topic).
pub fn export(
    view: &IndexView,
    index_topic: &str,
    tenant: &str,
    conversation: Option<&str>,
    participant: Option<&str>,
    insights: &BTreeMap<(String, String), Insight>,
    telemetry: &[(String, InteractionTelemetry)],
) -> Vec<ExportLine> {
    let entries = view.matching(tenant, conversation, participant);
    let mut out = Vec::new();
    let mut pseudonyms = BTreeSet::new();
    for e in &entries {
        pseudonyms.insert(e.telemetry_pseudonym.as_str());
        let mut entry = (*e).clone();
        entry.telemetry_key = Vec::new();
        out.push(ExportLine::IndexEntry {
            topic: index_topic.to_string(),
            entry,
        });
        for o in &e.outputs {
            if let Some(i) = insights.get(&(o.topic.clone(), o.key.clone())) {
                out.push(ExportLine::Insight {
                    topic: o.topic.clone(),
                    insight: Box::new(i.clone()),
                });
            }
        }
    }
    for (topic, t) in telemetry {
        if t.tenant_id == tenant && pseudonyms.contains(t.conversation_id.as_str()) {
            out.push(ExportLine::Telemetry {
                topic: topic.clone(),
                record: t.clone(),
            });
        }
    }
    out
}
