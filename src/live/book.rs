//! The live states of every open conversation and when each sends its next live record.
//! Pure: the caller passes stream times and collects the records.
//!
//! A conversation sends a record when it changed (an accepted segment) and
//! `live.interval_ms` of its lane's stream time have passed since its previous record: at
//! once for its first change, else at the end of the interval ([`LiveBook::advance`] sends
//! the records falling due). [`LiveBook::flush`] sends one at once (a rule fired), and
//! [`LiveBook::close`] sends the last one when the conversation is finalised.

use super::record::{LiveInsight, LiveReason};
use super::state::{LiveState, SegmentFacts};
use crate::insight::{Question, TrackerHit};
use crate::model::Segment;
use crate::tenant::TenantRuntime;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Language used when the publisher gives none (see [`super::state`], "Language").
pub const DEFAULT_LANGUAGE: &str = "en";

/// One open conversation.
#[derive(Debug, Clone)]
struct Entry {
    lane: u32,
    tenant_id: String,
    state: LiveState,
    /// Records sent so far.
    sequence: i64,
    /// Stream time of the previous record.
    last_record_ms: Option<i64>,
    /// Its key in [`LiveBook::due`] while a change waits for its record.
    due: Option<(u32, i64, u64)>,
    last_segment_id: Option<String>,
    hits: Vec<TrackerHit>,
    questions: Vec<Question>,
    dropped: i64,
}

/// Live states and record schedule. See the module documentation.
#[derive(Debug, Clone)]
pub struct LiveBook {
    interval_ms: i64,
    max_items: usize,
    open: HashMap<Arc<str>, Entry>,
    /// Conversations with a change waiting, by (lane, due stream time, sequence).
    due: BTreeMap<(u32, i64, u64), Arc<str>>,
    seq: u64,
}

impl LiveBook {
    /// An empty book: at most one interval record per `interval_ms` of stream time per
    /// conversation, at most `max_items` hits and questions per record.
    pub fn new(interval_ms: i64, max_items: usize) -> LiveBook {
        LiveBook {
            interval_ms: interval_ms.max(0),
            max_items,
            open: HashMap::new(),
            due: BTreeMap::new(),
            seq: 0,
        }
    }

    /// Number of conversations with a live state.
    pub fn open_count(&self) -> usize {
        self.open.len()
    }

    /// The live state of a conversation, for a rules evaluator.
    pub fn state(&self, conversation_id: &str) -> Option<&LiveState> {
        self.open.get(conversation_id).map(|e| &e.state)
    }

    fn entry(&mut self, lane: u32, id: &str, tenant_id: &str, lang: Option<&str>) -> &mut Entry {
        self.open.entry(Arc::from(id)).or_insert_with(|| {
            let lang = lang
                .and_then(crate::extract::language::normalise_tag)
                .unwrap_or_else(|| DEFAULT_LANGUAGE.to_string());
            Entry {
                lane,
                tenant_id: tenant_id.to_string(),
                state: LiveState::new(&lang),
                sequence: 0,
                last_record_ms: None,
                due: None,
                last_segment_id: None,
                hits: Vec::new(),
                questions: Vec::new(),
                dropped: 0,
            }
        })
    }

    /// A `ConversationStarted` with the publisher's language (ISO 639-1), if any: it sets the
    /// language while no segment has been taken.
    pub fn started(&mut self, lane: u32, id: &str, tenant_id: &str, lang: Option<&str>) {
        let entry = self.entry(lane, id, tenant_id, lang);
        if let Some(tag) = lang.and_then(crate::extract::language::normalise_tag) {
            entry.state.set_language(&tag);
        }
    }

    /// One segment version the assembler accepted, its record at stream time `time_ms`.
    /// Returns its facts when the live state took it (first final version of its id), and
    /// schedules the conversation's next record. Records falling due are sent by the
    /// caller's [`advance`](LiveBook::advance) after it (so that a rule evaluated on these
    /// facts can [`flush`](LiveBook::flush) first).
    #[allow(clippy::too_many_arguments)]
    pub fn observe(
        &mut self,
        lane: u32,
        id: &str,
        tenant_id: &str,
        seg: &Segment,
        is_final: bool,
        tenant: Option<&TenantRuntime>,
        time_ms: i64,
    ) -> Option<SegmentFacts> {
        let interval = self.interval_ms;
        let max_items = self.max_items;
        let lang = seg.language.as_deref();
        let next_seq = self.seq + 1;
        let entry = self.entry(lane, id, tenant_id, lang);
        let facts = entry.state.observe(seg, is_final, tenant, time_ms)?;
        entry.last_segment_id = Some(facts.segment_id.clone());
        for hit in &facts.hits {
            push_capped(&mut entry.hits, hit, max_items, &mut entry.dropped);
        }
        for q in &facts.questions {
            push_capped(&mut entry.questions, q, max_items, &mut entry.dropped);
        }
        if entry.due.is_none() {
            let at = entry
                .last_record_ms
                .map_or(time_ms, |last| time_ms.max(last.saturating_add(interval)));
            let key = (lane, at, next_seq);
            entry.due = Some(key);
            self.seq = next_seq;
            self.due.insert(key, Arc::from(id));
        }
        Some(facts)
    }

    /// Sends (appends to `out`) the interval records of `lane` due at stream time `now_ms`,
    /// oldest first.
    pub fn advance(&mut self, lane: u32, now_ms: i64, out: &mut Vec<LiveInsight>) {
        loop {
            let Some((&key, _)) = self.due.range((lane, i64::MIN, 0)..).next() else {
                return;
            };
            if key.0 != lane || key.1 > now_ms {
                return;
            }
            if let Some(id) = self.due.remove(&key) {
                self.send(&id, key.1, LiveReason::Interval, out);
            }
        }
    }

    /// Sends a record of `id` now (stream time `now_ms`), whatever the interval: a rule fired.
    /// The interval restarts from it.
    pub fn flush(&mut self, id: &str, now_ms: i64, out: &mut Vec<LiveInsight>) {
        self.send(id, now_ms, LiveReason::Rule, out);
    }

    /// The conversation was finalised: sends its last record (reason `end`) if it had a live
    /// state with at least one segment, and forgets it.
    pub fn close(&mut self, id: &str, now_ms: i64, out: &mut Vec<LiveInsight>) {
        let taken = self
            .open
            .get(id)
            .is_some_and(|e| e.last_segment_id.is_some());
        if taken {
            self.send(id, now_ms, LiveReason::End, out);
        }
        self.forget(id);
    }

    /// Forgets a conversation without a record (erased, or a replayed tail).
    pub fn forget(&mut self, id: &str) {
        if let Some(e) = self.open.remove(id) {
            if let Some(key) = e.due {
                self.due.remove(&key);
            }
        }
    }

    /// Forgets every conversation of `lane` (partition revoked: the next owner replays them
    /// and sends their records again).
    pub fn forget_lane(&mut self, lane: u32) {
        self.open.retain(|_, e| e.lane != lane);
        self.due.retain(|k, _| k.0 != lane);
    }

    fn send(&mut self, id: &str, now_ms: i64, reason: LiveReason, out: &mut Vec<LiveInsight>) {
        let Some(entry) = self.open.get_mut(id) else {
            return;
        };
        if let Some(key) = entry.due.take() {
            self.due.remove(&key);
        }
        entry.sequence += 1;
        entry.last_record_ms = Some(now_ms);
        out.push(LiveInsight {
            conversation_id: id.to_string(),
            tenant_id: entry.tenant_id.clone(),
            sequence: entry.sequence,
            at_ms: now_ms,
            reason,
            last_segment_id: entry.last_segment_id.clone(),
            kpis: entry.state.kpis(now_ms),
            tracker_hits: std::mem::take(&mut entry.hits),
            questions: std::mem::take(&mut entry.questions),
            dropped_items: std::mem::take(&mut entry.dropped),
        });
    }
}

fn push_capped<T: Clone>(list: &mut Vec<T>, item: &T, max: usize, dropped: &mut i64) {
    if list.len() < max {
        list.push(item.clone());
    } else {
        *dropped += 1;
    }
}
