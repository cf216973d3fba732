//! The live record (`schemas/live_insight.avsc`, topic `kafka.topics.live`, key: the
//! conversation id): what an open conversation looks like so far.

use super::state::KpisSoFar;
use crate::insight::{Question, TrackerHit};
use serde::{Deserialize, Serialize};

/// Why a live record was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum LiveReason {
    /// The conversation changed and the interval since its last record has passed.
    #[default]
    Interval,
    /// A rule fired (sent at once, whatever the interval).
    Rule,
    /// The conversation was finalised: its last live record (the insight follows).
    End,
}

impl LiveReason {
    /// The lower-case name used in JSON, Avro and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            LiveReason::Interval => "interval",
            LiveReason::Rule => "rule",
            LiveReason::End => "end",
        }
    }
}

/// One live record. Deterministic: a replay of the same records gives the same live records
/// (times are stream times, see [`crate::live`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct LiveInsight {
    /// Conversation id (the key).
    pub conversation_id: String,
    /// Tenant id.
    pub tenant_id: String,
    /// 1 for the conversation's first live record, then 2, 3... (a record with a lower
    /// sequence than one already seen is a replayed duplicate).
    pub sequence: i64,
    /// Stream time of the record, ms since the epoch: the timestamp of the transcript record
    /// that caused it (or the wall clock of a partition read to its end).
    pub at_ms: i64,
    /// Why it was sent.
    pub reason: LiveReason,
    /// The last segment taken before this record, `None` if none.
    pub last_segment_id: Option<String>,
    /// KPIs so far.
    pub kpis: KpisSoFar,
    /// Tracker and competitor hits found since the previous record, in arrival order (at
    /// most `live.max_items_per_record`).
    pub tracker_hits: Vec<TrackerHit>,
    /// Questions asked since the previous record, in arrival order (same limit).
    pub questions: Vec<Question>,
    /// Hits and questions left out of this record by the limit.
    pub dropped_items: i64,
}
