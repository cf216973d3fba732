//! Live insights: while a conversation is open, a compact live record (KPIs so far, tracker
//! hits and questions since the previous record) goes to the live topic, at most once per
//! `live.interval_ms` per conversation, at once when a rule fires, and once more when the
//! conversation is finalised. The final insight remains the one authoritative record.
//!
//! - [`state`]: the pure incremental state of one conversation, updated per accepted segment
//!   in O(the segment): what a rules evaluator reads ([`state::SegmentFacts`] per segment,
//!   [`state::LiveState::kpis`] so far), and how its definitions differ from the final
//!   insight's.
//! - [`book`]: every open conversation's state and when its next record is due.
//! - [`record`]: the live record (`schemas/live_insight.avsc`).
//!
//! The pipeline step is `pipeline/steps/live.rs`: the consumer loop hands it every segment
//! the assembler accepts, every finalised, erased or revoked conversation, and its stream
//! clock.
//!
//! # Stream time, not wall time
//!
//! The interval is measured in the lane's stream time (record timestamps), the clock the
//! assembler already uses for idle timeouts: a replay of the same records sends the same
//! live records (same sequence numbers, times and contents), and a consumer catching up on
//! a backlog sends the records the call would have had, spaced as the call was, instead of
//! one summary per wall-clock interval. A partition read to its end follows the wall clock
//! (as for idle timeouts), so a change waiting for its interval is sent even when no further
//! record arrives.

pub mod book;
pub mod record;
pub mod state;
#[cfg(test)]
mod tests;

pub use book::LiveBook;
pub use record::{LiveInsight, LiveReason};
pub use state::{KpisSoFar, LiveState, SegmentFacts};

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// `[live]`: live records while conversations run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LiveConfig {
    /// Send live records. Default `false`: create the live topic first, with
    /// `cleanup.policy=delete` and `retention.ms` of at most one day (live records are
    /// personal data that expire instead of being tombstoned), then turn them on; a topic
    /// created by the broker's defaults would keep them too long.
    pub enabled: bool,
    /// At most one interval record per conversation per this much stream time. Key
    /// `interval_ms`, in milliseconds; default 5,000 (5 s).
    #[serde(rename = "interval_ms", with = "crate::config::millis")]
    pub interval: Duration,
    /// At most this many tracker hits, and as many questions, per record; more are counted
    /// in `dropped_items`. Default 100.
    pub max_items_per_record: usize,
}

impl Default for LiveConfig {
    fn default() -> Self {
        LiveConfig {
            enabled: false,
            interval: Duration::from_secs(5),
            max_items_per_record: 100,
        }
    }
}

impl LiveConfig {
    /// The interval in ms.
    pub fn interval_ms(&self) -> i64 {
        i64::try_from(self.interval.as_millis()).unwrap_or(i64::MAX)
    }
}
