//! Conversation assembly: transcript events in (any order, duplicates included), whole
//! [`Conversation`]s out. Pure: no IO, no clock (the caller passes `now`), no metrics.
//!
//! # Rules
//!
//! - Events are grouped by conversation id. Within a conversation, segments are keyed by
//!   segment id and the best version of each is kept: a final version beats any partial one;
//!   between two finals or two partials the higher revision wins; an exact tie is broken by
//!   comparing the content (text, speaker, timings...), so the result never depends on the
//!   arrival order. A version that is not better is a [`Absorbed::Duplicate`].
//! - Conversation fields that several events carry (tenant, platform, client version, start
//!   time, time zone, language) should agree; when they do not, the smallest non-empty value
//!   wins (the earliest start time), again so that order does not matter.
//! - A conversation is finalised by ([`FinalisedBy`]):
//!   - `EndEvent`: its `ConversationEnded` event. When the event gives `segment_count`, the
//!     conversation waits until that many distinct segments have a final version (late
//!     segments of an out-of-order stream are still taken), or until the idle timeout
//!     (then `IdleTimeout`). Without `segment_count`, segments arriving after the end event
//!     are late. A `ConversationStarted` arriving after the end is late too: publishers that
//!     cannot keep order within a conversation should send `segment_count`, and their
//!     start event first.
//!   - `CompleteTranscript`: a `CompleteTranscript` event (its segments are merged with any
//!     streamed before).
//!   - `IdleTimeout`: no event for `idle_timeout_ms` of the lane's **stream time**, checked
//!     on every event of the lane and by [`Assembler::advance`]. A lane's stream time is the
//!     latest record timestamp pushed on it, so a consumer catching up on a backlog finalises
//!     exactly what the original run did, never early; the pipeline also advances a lane it
//!     has read to the end with the wall clock, so a quiet partition still finalises.
//!   - `Evicted`: a new conversation arrives while `max_open_conversations` are open: the
//!     least recently active one is finalised to make room.
//! - A conversation finalised (by idle timeout or eviction) while still waiting for the
//!   `segment_count` of its end event, whose `ConversationStarted` was never seen, is a
//!   **replayed tail** ([`Finalised::replayed_tail`]): after a crash or a rebalance the
//!   pipeline resumes at the first offset of the oldest conversation that was open, which
//!   can lie inside a conversation already finalised and produced; only its last events are
//!   read again, and their insight would overwrite the complete one with a shorter one. The
//!   caller produces nothing for it. Without `segment_count`, or with the start event seen,
//!   an incomplete conversation is analysed as it is (a publisher that lost segments still
//!   gets a partial insight); publishers should therefore send both.
//! - Memory is bounded: at most `max_open_conversations` open, at most
//!   `max_segments_per_conversation` distinct segments each (more are dropped and counted,
//!   [`Absorbed::SegmentLimit`], and the finalised conversation says so). Ids of recently
//!   finalised conversations are remembered for `idle_timeout_ms` of stream time (at most
//!   [`CLOSED_PER_OPEN`] × `max_open_conversations` of them: an id costs tens of bytes, an
//!   open conversation its whole text) so that a late duplicate is [`Absorbed::Late`] instead
//!   of opening a one-segment conversation whose insight would overwrite the real one.
//! - Segments of the finalised conversation are ordered by start offset, then segment id
//!   (numerically when both ids are numbers); segments without a start offset come last.
//!   A segment's side comes from its speaker role; [`apply_tenant_sides`](crate::tenant::apply_tenant_sides) then fills the
//!   unknown ones from the tenant's rules.
//!
//! # Offsets and replay
//!
//! Every event carries a [`Position`] (the caller's lane id for the source partition, and the
//! offset). [`Assembler::min_open_offset`] gives, per lane, the first offset of the oldest
//! conversation still open: the pipeline never commits past it, so a crash replays every open
//! conversation from its first event. The conversations finalised meanwhile may have events
//! after that offset too: [`Assembler::replay_facts`] lists them for the commit's metadata,
//! and the next owner's [`Assembler::restore`] keeps them closed, so a replay never
//! assembles their tail ([`crate::ingest::replay`]). The replayed-tail rule above is the
//! fallback when the metadata is missing (a broker that drops it, or too many to fit).
//!
//! ```
//! use debrief::config::AssemblyConfig;
//! use debrief::events::*;
//! use debrief::ingest::assemble::{Assembler, Position};
//! use debrief::insight::FinalisedBy;
//!
//! let mut asm = Assembler::new(AssemblyConfig::default());
//! let header = EventHeader { tenant_id: "acme".into(), ..Default::default() };
//! let event = |payload| TranscriptEvent { header: header.clone(), conversation_id: "c1".into(), payload };
//! let mut done = Vec::new();
//! let seg = SegmentBody { segment_id: "s1".into(), is_final: true, text: "hello".into(), ..Default::default() };
//! asm.push(event(TranscriptPayload::Segment(seg)), Position { lane: 0, offset: 10 }, 1_000, &mut done);
//! assert_eq!(asm.min_open_offset(0), Some(10));
//! asm.push(event(TranscriptPayload::Ended(ConversationEnded::default())), Position { lane: 0, offset: 11 }, 1_500, &mut done);
//! assert_eq!(done.len(), 1);
//! assert_eq!(done[0].finalised_by, FinalisedBy::EndEvent);
//! assert_eq!(done[0].conversation.segments[0].text, "hello");
//! assert_eq!(asm.min_open_offset(0), None);
//! ```

use crate::config::AssemblyConfig;
use crate::events::{EventHeader, SegmentBody, SpeakerRole, TranscriptEvent, TranscriptPayload};
use crate::ingest::replay::{self, ClosedConversation, ReplayFacts};
use crate::insight::FinalisedBy;
use crate::model::{Conversation, Segment, Side};
use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

/// How many closed ids are remembered per allowed open conversation (see the module docs):
/// a flood that evicts conversations still recognises their later events for a while.
pub const CLOSED_PER_OPEN: usize = 4;

/// Where an event came from: the caller's id for the source partition ("lane") and the
/// record's offset in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Position {
    /// Caller-chosen id of the source topic-partition.
    pub lane: u32,
    /// Offset of the record in that partition.
    pub offset: i64,
}

/// What [`Assembler::push`] did with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Absorbed {
    /// The event changed the conversation (new segment, better revision, start, end...).
    Assembled,
    /// The event changed nothing (same or older version of a known segment).
    Duplicate,
    /// A new segment beyond `max_segments_per_conversation`: dropped.
    SegmentLimit,
    /// The conversation was finalised recently: the event is ignored.
    Late,
    /// The conversation was evicted at `max_open_conversations` recently: the event is not
    /// assembled (the caller dead-letters it, so that nothing vanishes silently).
    Evicted,
}

/// A conversation ready for extraction.
#[derive(Debug, Clone, PartialEq)]
pub struct Finalised {
    /// The conversation, segments ordered (see the module docs), sides from roles only.
    pub conversation: Conversation,
    /// What closed it.
    pub finalised_by: FinalisedBy,
    /// Lane of its events.
    pub lane: u32,
    /// Offset of its first event (the offset floor it held while open).
    pub first_offset: i64,
    /// Offset of its latest event.
    pub last_offset: i64,
    /// Offset of the event that finalised it (`None` for idle timeout and eviction).
    pub finalising_offset: Option<i64>,
    /// The lane's stream time (ms) when it was finalised.
    pub finalised_at_ms: i64,
    /// Segments dropped because of the segment limit (0 normally).
    pub dropped_segments: u64,
    /// When the conversation ended (from `ConversationEnded.ended_at_ms`), for resolving
    /// relative due dates when there is no start time.
    pub ended_at: Option<DateTime<FixedOffset>>,
    /// The end of a conversation whose beginning was read by an earlier run (see the module
    /// docs): no `ConversationStarted` seen, and fewer final segments (plus segments dropped
    /// at the limit) than the end event's `segment_count`. No insight should be produced.
    pub replayed_tail: bool,
}

/// Assembles conversations from transcript events. See the module documentation.
#[derive(Debug)]
pub struct Assembler {
    limits: AssemblyConfig,
    open: HashMap<Arc<str>, Open>,
    /// Per lane: its stream clock, open conversations by activity, recently closed ids.
    lanes: HashMap<u32, LaneState>,
    /// Ids of recently finalised conversations (of every lane), for [`Absorbed::Late`].
    closed: HashSet<Arc<str>>,
    /// Number of entries in every lane's `closed_order` (capped at `max_open_conversations`).
    closed_count: usize,
    seq: u64,
}

/// What the assembler knows of one lane (source partition).
#[derive(Debug, Default)]
struct LaneState {
    /// The lane's stream time, ms: the largest time pushed or advanced to.
    clock: Option<i64>,
    /// Open conversations by (last activity in stream time, sequence): idle order.
    by_activity: BTreeMap<(i64, u64), Arc<str>>,
    /// Open conversations by (first offset, sequence): the offset floor.
    by_offset: BTreeMap<(i64, u64), Arc<str>>,
    /// Recently finalised conversations, oldest first.
    closed_order: VecDeque<Closed>,
    /// Closed conversations known by [`replay::id_hash`] only: restored from the commit of
    /// the run before ([`Assembler::restore`]), or forgotten for lateness here but still
    /// needed by a replay from the last committed offset ([`Assembler::committed`]).
    restored: HashMap<u64, Remembered>,
    /// Offset after the last commit of this lane (entries ending before it are not needed).
    committed: Option<i64>,
}

/// A closed conversation known by its id's hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Remembered {
    /// Stream time when it was closed.
    closed_at_ms: i64,
    /// Offset of its last event.
    last_offset: i64,
}

#[derive(Debug)]
struct Closed {
    id: Arc<str>,
    /// Stream time of the lane when it was finalised.
    at_ms: i64,
    /// Offset of its first event.
    first_offset: i64,
    /// Offset of its latest event.
    last_offset: i64,
    /// It was evicted at the open-conversation limit (its later events are
    /// [`Absorbed::Evicted`]).
    evicted: bool,
}

#[derive(Debug)]
struct Open {
    lane: u32,
    first_offset: i64,
    first_seq: u64,
    last_offset: i64,
    activity: (i64, u64),
    meta: Meta,
    segments: HashMap<String, SegmentBody>,
    finals: usize,
    dropped: u64,
    /// `Some(expected)` once the end event arrived; `expected` is `segment_count` if given.
    ended: Option<Option<usize>>,
    /// A `ConversationStarted` event was seen.
    started: bool,
    ended_at_ms: Option<i64>,
}

/// Conversation-level fields, merged order-independently.
#[derive(Debug, Default)]
struct Meta {
    tenant_id: Option<String>,
    source_platform: Option<String>,
    client_version: Option<String>,
    language: Option<String>,
    time_zone: Option<String>,
    started_at_ms: Option<i64>,
}

/// Keeps the smallest non-empty value.
fn merge_min(slot: &mut Option<String>, value: &str) {
    let value = value.trim();
    if value.is_empty() {
        return;
    }
    match slot {
        Some(cur) if cur.as_str() <= value => {}
        _ => *slot = Some(value.to_string()),
    }
}

fn merge_min_opt(slot: &mut Option<String>, value: Option<&String>) {
    if let Some(v) = value {
        merge_min(slot, v);
    }
}

impl Meta {
    fn header(&mut self, h: &EventHeader) {
        merge_min(&mut self.tenant_id, &h.tenant_id);
        merge_min(&mut self.source_platform, &h.source_platform);
        merge_min(&mut self.client_version, &h.client_version);
    }

    fn start(&mut self, started_at_ms: Option<i64>, tz: Option<&String>, lang: Option<&String>) {
        if let Some(ms) = started_at_ms {
            self.started_at_ms = Some(self.started_at_ms.map_or(ms, |cur| cur.min(ms)));
        }
        merge_min_opt(&mut self.time_zone, tz);
        merge_min_opt(&mut self.language, lang);
    }
}

/// Total order on versions of one segment: finality, revision, then content.
fn compare_versions(a: &SegmentBody, b: &SegmentBody) -> Ordering {
    (a.is_final, a.revision)
        .cmp(&(b.is_final, b.revision))
        .then_with(|| a.text.cmp(&b.text))
        .then_with(|| a.speaker_id.cmp(&b.speaker_id))
        .then_with(|| a.start_ms.cmp(&b.start_ms))
        .then_with(|| a.end_ms.cmp(&b.end_ms))
        .then_with(|| a.speaker_name.cmp(&b.speaker_name))
        .then_with(|| role_rank(a.speaker_role).cmp(&role_rank(b.speaker_role)))
        .then_with(|| a.language.cmp(&b.language))
        .then_with(|| {
            a.confidence
                .map(f32::to_bits)
                .cmp(&b.confidence.map(f32::to_bits))
        })
}

fn role_rank(r: SpeakerRole) -> u8 {
    match r {
        SpeakerRole::Internal => 0,
        SpeakerRole::External => 1,
        SpeakerRole::Unknown => 2,
    }
}

fn side_of(r: SpeakerRole) -> Side {
    match r {
        SpeakerRole::Internal => Side::Internal,
        SpeakerRole::External => Side::External,
        SpeakerRole::Unknown => Side::Unknown,
    }
}

/// The model segment of a segment event: its side from its role only (the tenant's rules
/// are applied later, see the module docs).
pub fn segment_of(s: SegmentBody) -> Segment {
    Segment {
        id: s.segment_id,
        speaker: s.speaker_id,
        speaker_name: s.speaker_name,
        side: side_of(s.speaker_role),
        start_ms: s.start_ms,
        end_ms: s.end_ms,
        text: s.text,
        language: s.language,
        confidence: s.confidence,
    }
}

/// Segment order: start offset (missing last), then id, numerically when both are numbers.
fn segment_order(a: &Segment, b: &Segment) -> Ordering {
    let start = |s: &Segment| (s.start_ms.is_none(), s.start_ms);
    start(a)
        .cmp(&start(b))
        .then_with(|| match (a.id.parse::<u64>(), b.id.parse::<u64>()) {
            (Ok(x), Ok(y)) => x.cmp(&y).then_with(|| a.id.cmp(&b.id)),
            _ => a.id.cmp(&b.id),
        })
}

fn to_datetime(ms: i64, tz: Option<&str>) -> Option<DateTime<FixedOffset>> {
    let utc = Utc.timestamp_millis_opt(ms).single()?;
    match tz.and_then(|t| t.parse::<chrono_tz::Tz>().ok()) {
        Some(zone) => Some(utc.with_timezone(&zone).fixed_offset()),
        None => Some(utc.fixed_offset()),
    }
}

impl Open {
    /// Upserts one segment version.
    fn upsert(&mut self, seg: SegmentBody, max_segments: usize) -> Absorbed {
        let full = self.segments.len() >= max_segments;
        match self.segments.get_mut(&seg.segment_id) {
            Some(cur) => {
                if compare_versions(&seg, cur) == Ordering::Greater {
                    if seg.is_final && !cur.is_final {
                        self.finals += 1;
                    }
                    *cur = seg;
                    Absorbed::Assembled
                } else {
                    Absorbed::Duplicate
                }
            }
            None if full => {
                self.dropped += 1;
                Absorbed::SegmentLimit
            }
            None => {
                if seg.is_final {
                    self.finals += 1;
                }
                self.segments.insert(seg.segment_id.clone(), seg);
                Absorbed::Assembled
            }
        }
    }

    /// `true` when the end event arrived and every expected segment is final.
    fn end_complete(&self) -> bool {
        match self.ended {
            Some(None) => true,
            Some(Some(expected)) => self.finals >= expected,
            None => false,
        }
    }
}

impl Assembler {
    /// An empty assembler with these limits (zero limits are treated as 1).
    pub fn new(limits: AssemblyConfig) -> Assembler {
        let limits = AssemblyConfig {
            idle_timeout: limits.idle_timeout.max(Duration::from_millis(1)),
            max_open_conversations: limits.max_open_conversations.max(1),
            max_segments_per_conversation: limits.max_segments_per_conversation.max(1),
        };
        Assembler {
            limits,
            open: HashMap::new(),
            lanes: HashMap::new(),
            closed: HashSet::new(),
            closed_count: 0,
            seq: 0,
        }
    }

    /// Number of conversations open.
    pub fn open_count(&self) -> usize {
        self.open.len()
    }

    /// First offset of the oldest conversation still open on `lane`, `None` when none is.
    pub fn min_open_offset(&self, lane: u32) -> Option<i64> {
        self.lanes
            .get(&lane)?
            .by_offset
            .keys()
            .next()
            .map(|(offset, _)| *offset)
    }

    /// The stream time of `lane` (ms), `None` before its first event.
    pub fn clock(&self, lane: u32) -> Option<i64> {
        self.lanes.get(&lane).and_then(|l| l.clock)
    }

    fn timeout(&self) -> i64 {
        i64::try_from(self.limits.idle_timeout.as_millis()).unwrap_or(i64::MAX)
    }

    /// Takes one event. `time_ms` is the event's time in the stream (the record's
    /// timestamp): the lane's stream clock moves to it if it is later, conversations of the
    /// lane idle for `idle_timeout_ms` at that clock are finalised first, then the event is
    /// absorbed. Conversations finalised (idle ones, itself, or one evicted to make room) are
    /// appended to `out`.
    pub fn push(
        &mut self,
        event: TranscriptEvent,
        pos: Position,
        time_ms: i64,
        out: &mut Vec<Finalised>,
    ) -> Absorbed {
        let now_ms = self.advance(pos.lane, time_ms, out);
        let id: &str = &event.conversation_id;
        if self.closed.contains(id) {
            let evicted = self
                .lanes
                .get(&pos.lane)
                .is_some_and(|l| l.closed_order.iter().any(|c| c.evicted && &*c.id == id));
            return if evicted {
                Absorbed::Evicted
            } else {
                Absorbed::Late
            };
        }
        if let Some(lane) = self.lanes.get(&pos.lane) {
            let timeout = self.timeout();
            if !lane.restored.is_empty() {
                if let Some(r) = lane.restored.get(&replay::id_hash(id)) {
                    // Its own events (up to its last offset) were part of it; later ones are
                    // late while the run that closed it would have remembered it.
                    if pos.offset <= r.last_offset
                        || r.closed_at_ms.saturating_add(timeout) > now_ms
                    {
                        return Absorbed::Late;
                    }
                }
            }
        }
        let key: Arc<str> = match self.open.get_key_value(id) {
            Some((k, _)) => k.clone(),
            None => {
                if self.open.len() >= self.limits.max_open_conversations {
                    if let Some(victim) = self.least_recently_active() {
                        self.finalise(&victim, FinalisedBy::Evicted, None, out);
                    }
                }
                self.open_new(Arc::from(id), pos)
            }
        };
        self.seq += 1;
        let seq = self.seq;
        let max_segments = self.limits.max_segments_per_conversation;
        let Some(conv) = self.open.get_mut(&key) else {
            return Absorbed::Duplicate;
        };
        let lane = self.lanes.entry(conv.lane).or_default();
        lane.by_activity.remove(&conv.activity);
        conv.activity = (now_ms, seq);
        lane.by_activity.insert(conv.activity, key.clone());
        conv.last_offset = conv.last_offset.max(pos.offset);
        conv.meta.header(&event.header);
        let (absorbed, finalise) = match event.payload {
            TranscriptPayload::Started(s) => {
                conv.started = true;
                conv.meta
                    .start(s.started_at_ms, s.time_zone.as_ref(), s.language.as_ref());
                (Absorbed::Assembled, None)
            }
            TranscriptPayload::Segment(seg) => {
                let a = conv.upsert(seg, max_segments);
                (a, conv.end_complete().then_some(FinalisedBy::EndEvent))
            }
            TranscriptPayload::Ended(e) => {
                let expected = e.segment_count.map(|n| n.max(0) as usize);
                let absorbed = if conv.ended.is_some() {
                    Absorbed::Duplicate
                } else {
                    Absorbed::Assembled
                };
                // Two end events: keep the larger expectation, so order does not matter.
                conv.ended = Some(match (conv.ended.flatten(), expected) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    (a, b) => a.or(b),
                });
                if let Some(ms) = e.ended_at_ms {
                    conv.ended_at_ms = Some(conv.ended_at_ms.map_or(ms, |cur| cur.max(ms)));
                }
                (
                    absorbed,
                    conv.end_complete().then_some(FinalisedBy::EndEvent),
                )
            }
            TranscriptPayload::Complete(c) => {
                conv.meta
                    .start(c.started_at_ms, c.time_zone.as_ref(), c.language.as_ref());
                let mut absorbed = Absorbed::Assembled;
                for seg in c.segments {
                    if conv.upsert(seg, max_segments) == Absorbed::SegmentLimit {
                        absorbed = Absorbed::SegmentLimit;
                    }
                }
                (absorbed, Some(FinalisedBy::CompleteTranscript))
            }
        };
        if let Some(by) = finalise {
            self.finalise(&key, by, Some(pos.offset), out);
        }
        absorbed
    }

    /// Moves `lane`'s stream clock to `now_ms` if that is later, then finalises its
    /// conversations idle for at least `idle_timeout_ms` (oldest first) and forgets its
    /// closed ids older than that. Returns the lane's clock. The pipeline calls it with the
    /// wall clock for a lane it has read to the end (nothing newer can arrive with an older
    /// time); [`push`](Assembler::push) calls it with each record's time.
    pub fn advance(&mut self, lane: u32, now_ms: i64, out: &mut Vec<Finalised>) -> i64 {
        let timeout = self.timeout();
        let state = self.lanes.entry(lane).or_default();
        let now = state.clock.map_or(now_ms, |c| c.max(now_ms));
        state.clock = Some(now);
        let mut idle = Vec::new();
        for (&(last, _), id) in &state.by_activity {
            if last.saturating_add(timeout) > now {
                break;
            }
            idle.push(id.clone());
        }
        while let Some(front) = state.closed_order.front() {
            if front.at_ms.saturating_add(timeout) > now {
                break;
            }
            if let Some(old) = state.closed_order.pop_front() {
                self.closed.remove(&old.id);
                self.closed_count -= 1;
                // No longer late here, but a replay from the last commit may still read
                // its events: keep it (by hash) until a commit passes its last event.
                if state.committed.is_none_or(|c| old.last_offset >= c) {
                    state.restored.insert(
                        replay::id_hash(&old.id),
                        Remembered {
                            closed_at_ms: old.at_ms,
                            last_offset: old.last_offset,
                        },
                    );
                }
            }
        }
        let committed = state.committed;
        state.restored.retain(|_, r| {
            r.closed_at_ms.saturating_add(timeout) > now
                || committed.is_none_or(|c| r.last_offset >= c)
        });
        for id in idle {
            self.finalise(&id, FinalisedBy::IdleTimeout, None, out);
        }
        now
    }

    /// [`advance`](Assembler::advance) on every lane.
    pub fn tick(&mut self, now_ms: i64, out: &mut Vec<Finalised>) {
        let mut lanes: Vec<u32> = self.lanes.keys().copied().collect();
        lanes.sort_unstable();
        for lane in lanes {
            self.advance(lane, now_ms, out);
        }
    }

    /// Forgets, without finalising them, the open conversations `drop` selects (given the
    /// id, the tenant if known, and the speaker ids of its segments): an erasure. Returns
    /// the lane and id of each one dropped; their later events are the caller's to refuse.
    pub fn drop_open(
        &mut self,
        drop: impl Fn(&str, Option<&str>, &mut dyn Iterator<Item = &str>) -> bool,
    ) -> Vec<(u32, String)> {
        let chosen: Vec<Arc<str>> = self
            .open
            .iter()
            .filter(|(id, o)| {
                let mut speakers = o.segments.values().map(|s| s.speaker_id.as_str());
                drop(id, o.meta.tenant_id.as_deref(), &mut speakers)
            })
            .map(|(id, _)| id.clone())
            .collect();
        let mut dropped = Vec::new();
        for id in chosen {
            if let Some(o) = self.open.remove(&id) {
                if let Some(lane) = self.lanes.get_mut(&o.lane) {
                    lane.by_activity.remove(&o.activity);
                    lane.by_offset.remove(&(o.first_offset, o.first_seq));
                }
                dropped.push((o.lane, id.to_string()));
            }
        }
        dropped.sort();
        dropped
    }

    /// Forgets every conversation of `lane` without finalising it (partition revoked: the
    /// next owner replays them from the committed offset). Returns how many were open.
    pub fn drop_lane(&mut self, lane: u32) -> usize {
        let Some(state) = self.lanes.remove(&lane) else {
            return 0;
        };
        for id in state.by_offset.values() {
            self.open.remove(id);
        }
        for closed in &state.closed_order {
            self.closed.remove(&closed.id);
        }
        self.closed_count -= state.closed_order.len();
        state.by_offset.len()
    }

    /// Takes what the run that committed `lane`'s offset knew ([`Assembler::replay_facts`],
    /// carried in the commit's metadata): its closed conversations stay closed here, so
    /// their events after the committed offset are late, as they were in that run, until the
    /// lane's stream clock passes their closing time plus the idle timeout.
    pub fn restore(&mut self, lane: u32, facts: &ReplayFacts) {
        let state = self.lanes.entry(lane).or_default();
        for c in &facts.closed {
            state.restored.insert(
                c.id_hash,
                Remembered {
                    closed_at_ms: c.closed_at_ms,
                    last_offset: c.last_offset,
                },
            );
        }
    }

    /// The pipeline committed (or stored) `offset` for `lane`: conversations known by hash
    /// whose last event lies before it and whose late window has passed are not needed any
    /// more.
    pub fn committed(&mut self, lane: u32, offset: i64) {
        let timeout = self.timeout();
        let Some(state) = self.lanes.get_mut(&lane) else {
            return;
        };
        state.committed = Some(state.committed.map_or(offset, |c| c.max(offset)));
        let now = state.clock.unwrap_or(i64::MIN);
        state
            .restored
            .retain(|_, r| r.closed_at_ms.saturating_add(timeout) > now || r.last_offset >= offset);
    }

    /// What the next owner of `lane` needs if it resumes at `committed` (the next offset to
    /// read): the closed conversations of the lane that began before `committed` (their
    /// records are produced and acknowledged, or the offset could not have moved past their
    /// first event), those with events at or after `committed` first (a replay would
    /// otherwise assemble their tail), then the others, whose late events the replay must
    /// still treat as late, most recently closed first. Ids restored from an earlier commit
    /// and still remembered are carried on. A closed conversation that began at or after
    /// `committed` is not listed: the replay reads all of it again and gives the same result.
    pub fn replay_facts(&self, lane: u32, committed: i64) -> ReplayFacts {
        let Some(state) = self.lanes.get(&lane) else {
            return ReplayFacts::default();
        };
        let fact = |c: &Closed| ClosedConversation {
            id_hash: replay::id_hash(&c.id),
            closed_at_ms: c.at_ms,
            last_offset: c.last_offset,
        };
        let before = || {
            state
                .closed_order
                .iter()
                .rev()
                .filter(|c| c.first_offset < committed)
        };
        let mut closed: Vec<ClosedConversation> = before()
            .filter(|c| c.last_offset >= committed)
            .map(fact)
            .collect();
        let timeout = self.timeout();
        let now = state.clock.unwrap_or(i64::MIN);
        let mut restored: Vec<ClosedConversation> = state
            .restored
            .iter()
            .filter(|(_, r)| {
                r.last_offset >= committed || r.closed_at_ms.saturating_add(timeout) > now
            })
            .map(|(&id_hash, r)| ClosedConversation {
                id_hash,
                closed_at_ms: r.closed_at_ms,
                last_offset: r.last_offset,
            })
            .collect();
        restored.sort_by(|a, b| {
            b.last_offset
                .cmp(&a.last_offset)
                .then(a.id_hash.cmp(&b.id_hash))
        });
        // Straddling ones first (a replay would assemble their tail), then the ones whose late
        // events a replay must still drop.
        let (straddling, rest): (Vec<_>, Vec<_>) = restored
            .into_iter()
            .partition(|c| c.last_offset >= committed);
        closed.extend(straddling);
        closed.extend(before().filter(|c| c.last_offset < committed).map(fact));
        closed.extend(rest);
        ReplayFacts { closed }
    }

    /// The open conversation with the oldest activity (across lanes), for eviction.
    fn least_recently_active(&self) -> Option<Arc<str>> {
        self.lanes
            .values()
            .filter_map(|l| l.by_activity.iter().next())
            .min_by_key(|(activity, _)| **activity)
            .map(|(_, id)| id.clone())
    }

    fn open_new(&mut self, id: Arc<str>, pos: Position) -> Arc<str> {
        self.seq += 1;
        let conv = Open {
            lane: pos.lane,
            first_offset: pos.offset,
            first_seq: self.seq,
            last_offset: pos.offset,
            activity: (i64::MIN, 0),
            meta: Meta::default(),
            segments: HashMap::new(),
            finals: 0,
            dropped: 0,
            ended: None,
            started: false,
            ended_at_ms: None,
        };
        let lane = self.lanes.entry(pos.lane).or_default();
        lane.by_offset.insert((pos.offset, self.seq), id.clone());
        lane.by_activity.insert(conv.activity, id.clone());
        self.open.insert(id.clone(), conv);
        id
    }

    fn finalise(
        &mut self,
        id: &Arc<str>,
        by: FinalisedBy,
        offset: Option<i64>,
        out: &mut Vec<Finalised>,
    ) {
        let Some(conv) = self.open.remove(id) else {
            return;
        };
        // Remember at most `max_open_conversations` closed ids: forget the oldest (across
        // lanes) first.
        let cap = self
            .limits
            .max_open_conversations
            .saturating_mul(CLOSED_PER_OPEN);
        while self.closed_count >= cap {
            let oldest = self
                .lanes
                .iter()
                .filter_map(|(&lane, l)| l.closed_order.front().map(|c| (c.at_ms, lane)))
                .min();
            let Some((_, lane)) = oldest else { break };
            if let Some(old) = self
                .lanes
                .get_mut(&lane)
                .and_then(|l| l.closed_order.pop_front())
            {
                self.closed.remove(&old.id);
                self.closed_count -= 1;
            }
        }
        let lane = self.lanes.entry(conv.lane).or_default();
        lane.by_activity.remove(&conv.activity);
        lane.by_offset.remove(&(conv.first_offset, conv.first_seq));
        let now_ms = lane.clock.unwrap_or(0);
        lane.closed_order.push_back(Closed {
            id: id.clone(),
            at_ms: now_ms,
            first_offset: conv.first_offset,
            last_offset: conv.last_offset,
            evicted: by == FinalisedBy::Evicted,
        });
        self.closed_count += 1;
        self.closed.insert(id.clone());
        out.push(build(id, conv, by, offset, now_ms));
    }
}

/// `true` for the replayed tail of a conversation already finalised (see the module docs).
fn is_replayed_tail(conv: &Open, by: FinalisedBy) -> bool {
    let waiting = match conv.ended {
        Some(Some(expected)) => {
            let seen = conv
                .finals
                .saturating_add(usize::try_from(conv.dropped).unwrap_or(usize::MAX));
            seen < expected
        }
        _ => false,
    };
    waiting && !conv.started && by != FinalisedBy::CompleteTranscript
}

fn build(id: &str, conv: Open, by: FinalisedBy, offset: Option<i64>, now_ms: i64) -> Finalised {
    let replayed_tail = is_replayed_tail(&conv, by);
    let meta = conv.meta;
    let mut segments: Vec<Segment> = conv.segments.into_values().map(segment_of).collect();
    segments.sort_by(segment_order);
    let tz = meta.time_zone.as_deref();
    Finalised {
        conversation: Conversation {
            id: id.to_string(),
            tenant_id: meta.tenant_id.clone().unwrap_or_default(),
            source_platform: meta.source_platform,
            client_version: meta.client_version,
            language: meta.language,
            started_at: meta.started_at_ms.and_then(|ms| to_datetime(ms, tz)),
            time_zone: meta.time_zone.clone(),
            segments,
        },
        finalised_by: by,
        lane: conv.lane,
        first_offset: conv.first_offset,
        last_offset: conv.last_offset,
        finalising_offset: offset,
        finalised_at_ms: now_ms,
        dropped_segments: conv.dropped,
        ended_at: conv.ended_at_ms.and_then(|ms| to_datetime(ms, tz)),
        replayed_tail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{CompleteTranscript, ConversationEnded, ConversationStarted};
    use proptest::prelude::*;

    fn limits(idle: u64, open: usize, segs: usize) -> AssemblyConfig {
        AssemblyConfig {
            idle_timeout: Duration::from_millis(idle),
            max_open_conversations: open,
            max_segments_per_conversation: segs,
        }
    }

    fn ev(conv: &str, payload: TranscriptPayload) -> TranscriptEvent {
        TranscriptEvent {
            header: EventHeader {
                tenant_id: "acme".into(),
                source_platform: "teams".into(),
                client_version: "1.2.0".into(),
                emitted_at_ms: None,
            },
            conversation_id: conv.into(),
            payload,
        }
    }

    fn seg(id: &str, rev: i32, fin: bool, start: Option<i64>, text: &str) -> TranscriptPayload {
        TranscriptPayload::Segment(SegmentBody {
            segment_id: id.into(),
            revision: rev,
            is_final: fin,
            speaker_id: "alice".into(),
            start_ms: start,
            end_ms: start.map(|s| s + 1000),
            text: text.into(),
            ..Default::default()
        })
    }

    fn end(count: Option<i32>) -> TranscriptPayload {
        TranscriptPayload::Ended(ConversationEnded {
            ended_at_ms: Some(5_000),
            segment_count: count,
        })
    }

    fn at(offset: i64) -> Position {
        Position { lane: 0, offset }
    }

    fn texts(f: &Finalised) -> Vec<&str> {
        f.conversation
            .segments
            .iter()
            .map(|s| s.text.as_str())
            .collect()
    }

    fn spoke(speakers: &mut dyn Iterator<Item = &str>, who: &str) -> bool {
        for s in speakers {
            if s == who {
                return true;
            }
        }
        false
    }

    #[test]
    fn drop_open_forgets_the_chosen_conversations_and_frees_their_offsets() {
        let mut a = Assembler::new(limits(60_000, 10, 100));
        let mut out = Vec::new();
        a.push(
            ev("keep", seg("0", 0, true, Some(0), "a")),
            at(0),
            1,
            &mut out,
        );
        a.push(
            ev("drop", seg("0", 0, true, Some(0), "b")),
            at(1),
            1,
            &mut out,
        );
        assert_eq!(a.min_open_offset(0), Some(0));
        let dropped = a.drop_open(|id, tenant, speakers| {
            id == "drop" && tenant == Some("acme") && spoke(speakers, "alice")
        });
        assert_eq!(dropped, [(0, "drop".to_string())]);
        assert_eq!(a.open_count(), 1);
        let dropped = a.drop_open(|id, _, _| id == "keep");
        assert_eq!(dropped, [(0, "keep".to_string())]);
        assert_eq!(a.min_open_offset(0), None, "nothing holds the offset back");
        a.tick(i64::MAX / 2, &mut out);
        assert!(out.is_empty(), "a dropped conversation is never finalised");
    }

    #[test]
    fn final_replaces_partial_and_higher_revision_replaces_lower() {
        let mut a = Assembler::new(limits(1000, 10, 10));
        let mut out = Vec::new();
        assert_eq!(
            a.push(
                ev("c", seg("1", 0, false, Some(0), "hel")),
                at(0),
                0,
                &mut out
            ),
            Absorbed::Assembled
        );
        assert_eq!(
            a.push(
                ev("c", seg("1", 2, false, Some(0), "hello wor")),
                at(1),
                0,
                &mut out
            ),
            Absorbed::Assembled
        );
        // An older partial revision arriving late changes nothing.
        assert_eq!(
            a.push(
                ev("c", seg("1", 1, false, Some(0), "hello")),
                at(2),
                0,
                &mut out
            ),
            Absorbed::Duplicate
        );
        // The final version wins even with a lower revision number.
        assert_eq!(
            a.push(
                ev("c", seg("1", 0, true, Some(0), "hello world")),
                at(3),
                0,
                &mut out
            ),
            Absorbed::Assembled
        );
        assert_eq!(
            a.push(
                ev("c", seg("1", 5, false, Some(0), "hello w")),
                at(4),
                0,
                &mut out
            ),
            Absorbed::Duplicate
        );
        assert_eq!(
            a.push(ev("c", end(None)), at(5), 0, &mut out),
            Absorbed::Assembled
        );
        assert_eq!(out.len(), 1);
        assert_eq!(texts(&out[0]), vec!["hello world"]);
        assert_eq!(out[0].finalised_by, FinalisedBy::EndEvent);
        assert_eq!(
            (
                out[0].first_offset,
                out[0].last_offset,
                out[0].finalising_offset
            ),
            (0, 5, Some(5))
        );
    }

    #[test]
    fn segments_are_ordered_by_start_then_numeric_id_missing_start_last() {
        let mut a = Assembler::new(limits(1000, 10, 10));
        let mut out = Vec::new();
        for (i, (id, start)) in [
            ("10", None),
            ("2", None),
            ("b", Some(500)),
            ("a", Some(500)),
            ("z", Some(-20)),
        ]
        .into_iter()
        .enumerate()
        {
            a.push(
                ev("c", seg(id, 0, true, start, id)),
                at(i as i64),
                0,
                &mut out,
            );
        }
        a.push(ev("c", end(None)), at(9), 0, &mut out);
        assert_eq!(texts(&out[0]), vec!["z", "a", "b", "2", "10"]);
    }

    #[test]
    fn end_event_with_a_count_waits_for_missing_segments() {
        let mut a = Assembler::new(limits(1000, 10, 10));
        let mut out = Vec::new();
        a.push(
            ev("c", seg("1", 0, true, Some(0), "one")),
            at(0),
            0,
            &mut out,
        );
        a.push(ev("c", end(Some(3))), at(1), 0, &mut out);
        assert!(out.is_empty());
        a.push(
            ev("c", seg("3", 0, true, Some(20), "three")),
            at(2),
            0,
            &mut out,
        );
        // A partial does not count towards the expected final segments.
        a.push(
            ev("c", seg("2", 0, false, Some(10), "tw")),
            at(3),
            0,
            &mut out,
        );
        assert!(out.is_empty());
        a.push(
            ev("c", seg("2", 1, true, Some(10), "two")),
            at(4),
            0,
            &mut out,
        );
        assert_eq!(out.len(), 1);
        assert_eq!(texts(&out[0]), vec!["one", "two", "three"]);
        assert_eq!(out[0].finalised_by, FinalisedBy::EndEvent);
        assert_eq!(out[0].finalising_offset, Some(4));
    }

    #[test]
    fn end_event_waiting_for_segments_that_never_come_is_an_idle_timeout() {
        let mut a = Assembler::new(limits(1000, 10, 10));
        let mut out = Vec::new();
        a.push(
            ev("c", seg("1", 0, true, Some(0), "one")),
            at(0),
            0,
            &mut out,
        );
        a.push(ev("c", end(Some(2))), at(1), 100, &mut out);
        a.tick(1099, &mut out);
        assert!(out.is_empty());
        a.tick(1100, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].finalised_by, FinalisedBy::IdleTimeout);
        assert_eq!(out[0].finalising_offset, None);
        assert!(
            out[0].replayed_tail,
            "no start event and 1 of 2 segments: a replayed tail"
        );
    }

    fn started() -> TranscriptPayload {
        TranscriptPayload::Started(ConversationStarted {
            started_at_ms: Some(1_700_000_000_000),
            time_zone: None,
            language: None,
            title: None,
        })
    }

    /// Offsets 0..=6 of one partition: conversation `c` (start, three segments, end with
    /// `segment_count` 3) interleaved with `d`, which is still open after offset 6.
    fn crash_stream() -> Vec<(i64, TranscriptEvent)> {
        vec![
            (0, ev("c", started())),
            (1, ev("c", seg("1", 0, true, Some(0), "one"))),
            (2, ev("d", started())),
            (3, ev("c", seg("2", 0, true, Some(10), "two"))),
            (4, ev("c", seg("3", 0, true, Some(20), "three"))),
            (5, ev("c", end(Some(3)))),
            (6, ev("d", seg("1", 0, true, Some(0), "dee"))),
        ]
    }

    /// A start event just before the committed offset: the conversation `e` starts at 1,
    /// `f` (open, holding the commit) at 2, and every segment and the end of `e` come after.
    fn start_before_commit_stream() -> Vec<(i64, TranscriptEvent)> {
        let lang_start = || {
            TranscriptPayload::Started(ConversationStarted {
                started_at_ms: Some(0),
                time_zone: None,
                language: Some("fr".into()),
                title: None,
            })
        };
        vec![
            (1, ev("e", lang_start())),
            (2, ev("f", started())),
            (3, ev("e", seg("1", 0, true, Some(0), "un"))),
            (4, ev("e", seg("2", 0, true, Some(10), "deux"))),
            (5, ev("e", end(Some(2)))),
            (6, ev("f", seg("1", 0, true, Some(0), "eff"))),
            (7, ev("e", seg("2", 0, true, Some(10), "deux"))), // a late duplicate
            (8, ev("f", end(Some(1)))),
        ]
    }

    #[test]
    fn the_commit_metadata_keeps_a_finalised_conversation_closed_on_replay() {
        // The run that commits: e is complete at offset 5; f, open since 2, holds the commit.
        let mut first = Assembler::new(limits(1000, 10, 10));
        let mut out = Vec::new();
        let stream = start_before_commit_stream();
        for (offset, e) in stream.iter().take(5).cloned() {
            first.push(e, at(offset), offset * 10, &mut out);
        }
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].conversation.language.as_deref(), Some("fr"));
        let committed = first.min_open_offset(0).unwrap();
        assert_eq!(committed, 2);
        let facts = first.replay_facts(0, committed);
        assert_eq!(
            facts.closed.len(),
            1,
            "e has events after the committed offset"
        );
        // Through the metadata text, as Kafka keeps it.
        let text = replay::encode(&facts, replay::DEFAULT_MAX_METADATA_BYTES).text;
        let facts = replay::decode(&text).unwrap();
        // The same run goes on to the end: f's insight.
        for (offset, e) in stream.iter().skip(5).cloned() {
            first.push(e, at(offset), offset * 10, &mut out);
        }
        let original: Vec<Finalised> = std::mem::take(&mut out);
        assert_eq!(original.len(), 2);

        // A replay from the committed offset with the metadata: e's events are late, f's
        // insight is the same, nothing else is produced.
        let mut second = Assembler::new(limits(1000, 10, 10));
        second.restore(0, &facts);
        let mut replayed = Vec::new();
        for (offset, e) in stream.iter().filter(|(o, _)| *o >= committed).cloned() {
            let absorbed = second.push(e.clone(), at(offset), offset * 10, &mut replayed);
            if e.conversation_id == "e" {
                assert_eq!(absorbed, Absorbed::Late, "offset {offset}");
            }
        }
        // What a commit now would carry on: e is still remembered, f is closed too.
        let carried = second.replay_facts(0, 8).closed;
        assert_eq!(carried.len(), 2);
        assert!(carried.contains(&facts.closed[0]));
        second.tick(100_000, &mut replayed);
        assert_eq!(replayed, vec![original[1].clone()]);
        // After the idle timeout of stream time, a conversation stays listed while its last
        // event is at or after the offset (a replay from there would read it): f (ends at 8),
        // not e (ends at 5).
        let listed = second.replay_facts(0, 8).closed;
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].id_hash, replay::id_hash("f"));
        second.committed(0, 9);
        assert!(second.replay_facts(0, 9).closed.is_empty());

        // Without the metadata the replay assembles e's tail, without its start event: the
        // language the publisher gave is lost. This is what the metadata prevents.
        let mut blind = Assembler::new(limits(1000, 10, 10));
        let mut tail = Vec::new();
        for (offset, e) in stream.iter().filter(|(o, _)| *o >= committed).cloned() {
            blind.push(e, at(offset), offset * 10, &mut tail);
        }
        let e = tail.iter().find(|f| f.conversation.id == "e").unwrap();
        assert_eq!(e.conversation.language, None);
    }

    #[test]
    fn a_restored_conversation_drops_its_own_events_then_late_ones_within_the_timeout() {
        let mut a = Assembler::new(limits(1000, 10, 10));
        a.restore(
            0,
            &ReplayFacts {
                closed: vec![ClosedConversation {
                    id_hash: replay::id_hash("x"),
                    closed_at_ms: 5_000,
                    last_offset: 3,
                }],
            },
        );
        let mut out = Vec::new();
        let mut push = |a: &mut Assembler, offset: i64, time: i64| {
            a.push(
                ev("x", seg("1", 0, true, None, "t")),
                at(offset),
                time,
                &mut out,
            )
        };
        // Its own events (up to offset 3) were part of it, whatever their time.
        assert_eq!(push(&mut a, 2, 9_000), Absorbed::Late);
        assert_eq!(push(&mut a, 3, 9_000), Absorbed::Late);
        // After its last event: late within the idle timeout of its closing (here past it).
        assert_eq!(push(&mut a, 4, 9_000), Absorbed::Assembled);
        let mut b = Assembler::new(limits(1000, 10, 10));
        b.restore(
            0,
            &ReplayFacts {
                closed: vec![ClosedConversation {
                    id_hash: replay::id_hash("x"),
                    closed_at_ms: 5_000,
                    last_offset: 3,
                }],
            },
        );
        assert_eq!(push(&mut b, 4, 5_500), Absorbed::Late);
    }

    #[test]
    fn a_conversation_closed_long_before_the_commit_is_still_listed_while_it_straddles_it() {
        // o: open since offset 0 (holds the commit); x: closed at offset 3, forgotten for
        // lateness after the idle timeout, but a replay from offset 0 reads its events.
        let mut a = Assembler::new(limits(1000, 10, 10));
        let mut out = Vec::new();
        a.push(ev("o", started()), at(0), 0, &mut out);
        a.push(ev("x", started()), at(1), 0, &mut out);
        a.push(ev("x", seg("1", 0, true, None, "t")), at(2), 0, &mut out);
        a.push(ev("x", end(Some(1))), at(3), 0, &mut out);
        assert_eq!(out.len(), 1);
        a.push(ev("o", seg("1", 0, true, None, "t")), at(4), 900, &mut out);
        a.committed(0, 0);
        a.push(
            ev("o", seg("2", 0, true, None, "u")),
            at(5),
            5_000,
            &mut out,
        );
        assert!(!a.closed.contains("x"), "x is no longer late here");
        let facts = a.replay_facts(0, 0);
        let hashes: Vec<u64> = facts.closed.iter().map(|c| c.id_hash).collect();
        assert!(
            hashes.contains(&replay::id_hash("x")),
            "a replay from 0 must drop x's events"
        );
        // Once a commit passes x's last event, it is not needed any more.
        a.committed(0, 4);
        let hashes: Vec<u64> = a
            .replay_facts(0, 4)
            .closed
            .iter()
            .map(|c| c.id_hash)
            .collect();
        assert!(!hashes.contains(&replay::id_hash("x")));
    }

    #[test]
    fn idleness_is_measured_in_each_lane_s_own_stream_time() {
        let mut a = Assembler::new(limits(1000, 10, 10));
        let mut out = Vec::new();
        let lane = |l: u32, offset: i64| Position { lane: l, offset };
        a.push(
            ev("a", seg("1", 0, true, None, "t")),
            lane(0, 0),
            0,
            &mut out,
        );
        a.push(
            ev("b", seg("1", 0, true, None, "t")),
            lane(1, 0),
            0,
            &mut out,
        );
        // Lane 1 races ahead (a backlog read fast, or a busier partition): only its own
        // conversations can go idle.
        a.push(
            ev("c", seg("1", 0, true, None, "t")),
            lane(1, 1),
            5_000,
            &mut out,
        );
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].conversation.id, "b");
        assert_eq!(out[0].finalised_by, FinalisedBy::IdleTimeout);
        assert_eq!(a.clock(0), Some(0));
        // A record time earlier than the lane's clock does not move it back.
        a.push(
            ev("a", seg("2", 0, true, None, "u")),
            lane(0, 1),
            -50,
            &mut out,
        );
        assert_eq!(a.clock(0), Some(0));
        // Advancing lane 0 (read to its end) finalises a.
        a.advance(0, 1_000, &mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(out[1].conversation.id, "a");
        assert_eq!(texts(&out[1]), vec!["t", "u"]);
    }

    #[test]
    fn a_conversation_replayed_from_inside_is_a_replayed_tail() {
        // First run: c is complete at offset 5; d, open since offset 2, holds the commit
        // there.
        let mut first = Assembler::new(limits(1000, 10, 10));
        let mut out = Vec::new();
        for (offset, e) in crash_stream() {
            first.push(e, at(offset), 0, &mut out);
        }
        assert_eq!(out.len(), 1);
        assert_eq!(texts(&out[0]), vec!["one", "two", "three"]);
        assert!(!out[0].replayed_tail);
        assert_eq!(first.min_open_offset(0), Some(2), "the committed offset");

        // After a crash the next run reads from offset 2: c's start and first segment are
        // gone, its end asks for 3 segments and only 2 come.
        let mut second = Assembler::new(limits(1000, 10, 10));
        let mut out = Vec::new();
        for (offset, e) in crash_stream().into_iter().filter(|(o, _)| *o >= 2) {
            second.push(e, at(offset), 0, &mut out);
        }
        assert!(out.is_empty(), "c waits for its third segment");
        second.tick(1000, &mut out);
        let by_id: BTreeMap<&str, &Finalised> = out
            .iter()
            .map(|f| (f.conversation.id.as_str(), f))
            .collect();
        assert_eq!(by_id.len(), 2);
        assert!(by_id["c"].replayed_tail);
        assert_eq!(texts(by_id["c"]), vec!["two", "three"]);
        assert!(
            !by_id["d"].replayed_tail,
            "d was open: replayed whole, its start seen"
        );
    }

    #[test]
    fn without_segment_count_or_with_a_start_event_nothing_is_a_replayed_tail() {
        let run = |events: Vec<TranscriptPayload>| {
            let mut a = Assembler::new(limits(1000, 10, 10));
            let mut out = Vec::new();
            for (i, p) in events.into_iter().enumerate() {
                a.push(ev("c", p), at(i as i64), 0, &mut out);
            }
            a.tick(1000, &mut out);
            assert_eq!(out.len(), 1);
            out.pop().unwrap()
        };
        // No segment count: finalised at the end event, analysed as it is.
        let f = run(vec![seg("2", 0, true, Some(10), "two"), end(None)]);
        assert_eq!(
            (f.finalised_by, f.replayed_tail),
            (FinalisedBy::EndEvent, false)
        );
        // Start seen, a segment lost: a partial conversation, not a tail.
        let f = run(vec![
            started(),
            seg("2", 0, true, Some(10), "two"),
            end(Some(2)),
        ]);
        assert_eq!(
            (f.finalised_by, f.replayed_tail),
            (FinalisedBy::IdleTimeout, false)
        );
        // No start, but every counted segment arrived: complete.
        let f = run(vec![
            seg("1", 0, true, Some(0), "one"),
            seg("2", 0, true, Some(10), "two"),
            end(Some(2)),
        ]);
        assert_eq!(
            (f.finalised_by, f.replayed_tail),
            (FinalisedBy::EndEvent, false)
        );
        // A complete transcript is never a tail.
        let complete = TranscriptPayload::Complete(CompleteTranscript {
            started_at_ms: None,
            time_zone: None,
            language: None,
            title: None,
            segments: vec![],
        });
        let f = run(vec![end(Some(5)), complete]);
        assert_eq!(
            (f.finalised_by, f.replayed_tail),
            (FinalisedBy::CompleteTranscript, false)
        );
    }

    #[test]
    fn idle_timeout_counts_from_the_last_event() {
        let mut a = Assembler::new(limits(1000, 10, 10));
        let mut out = Vec::new();
        a.push(
            ev("c", seg("1", 0, true, Some(0), "one")),
            at(0),
            0,
            &mut out,
        );
        a.push(
            ev("c", seg("2", 0, true, Some(10), "two")),
            at(1),
            800,
            &mut out,
        );
        a.tick(1500, &mut out);
        assert!(
            out.is_empty(),
            "last event at 800, timeout 1000: still open at 1500"
        );
        a.tick(1800, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].finalised_by, FinalisedBy::IdleTimeout);
        assert_eq!(out[0].finalised_at_ms, 1800);
        assert_eq!(a.open_count(), 0);
    }

    #[test]
    fn complete_transcript_merges_with_streamed_segments_and_finalises() {
        let mut a = Assembler::new(limits(1000, 10, 10));
        let mut out = Vec::new();
        a.push(
            ev("c", seg("1", 0, false, Some(0), "partial")),
            at(0),
            0,
            &mut out,
        );
        let body = |id: &str, text: &str, start| SegmentBody {
            segment_id: id.into(),
            is_final: true,
            start_ms: Some(start),
            text: text.into(),
            ..Default::default()
        };
        let complete = TranscriptPayload::Complete(CompleteTranscript {
            started_at_ms: Some(1_700_000_000_000),
            time_zone: Some("Europe/Paris".into()),
            language: Some("fr".into()),
            title: None,
            segments: vec![body("2", "deux", 10), body("1", "un", 0)],
        });
        a.push(ev("c", complete), at(1), 0, &mut out);
        assert_eq!(out.len(), 1);
        let f = &out[0];
        assert_eq!(f.finalised_by, FinalisedBy::CompleteTranscript);
        assert_eq!(texts(f), vec!["un", "deux"]);
        assert_eq!(f.conversation.language.as_deref(), Some("fr"));
        // 2023-11-14T22:13:20Z is 23:13:20 in Paris (UTC+1 in November).
        assert_eq!(
            f.conversation.started_at.unwrap().to_rfc3339(),
            "2023-11-14T23:13:20+01:00"
        );
        assert_eq!(f.conversation.tenant_id, "acme");
        assert_eq!(f.conversation.client_version.as_deref(), Some("1.2.0"));
    }

    #[test]
    fn events_after_finalisation_are_late_until_the_timeout_passes() {
        let mut a = Assembler::new(limits(1000, 10, 10));
        let mut out = Vec::new();
        a.push(
            ev("c", seg("1", 0, true, Some(0), "one")),
            at(0),
            0,
            &mut out,
        );
        a.push(ev("c", end(None)), at(1), 0, &mut out);
        assert_eq!(
            a.push(
                ev("c", seg("1", 0, true, Some(0), "one")),
                at(2),
                10,
                &mut out
            ),
            Absorbed::Late
        );
        assert_eq!(a.open_count(), 0);
        a.tick(1000, &mut out);
        assert_eq!(
            a.push(
                ev("c", seg("9", 0, true, Some(0), "new")),
                at(3),
                1000,
                &mut out
            ),
            Absorbed::Assembled
        );
        assert_eq!(a.open_count(), 1);
        assert_eq!(out.len(), 1);
    }

    #[test]
    fn open_conversation_limit_evicts_the_least_recently_active() {
        let mut a = Assembler::new(limits(100_000, 2, 10));
        let mut out = Vec::new();
        a.push(
            ev("a", seg("1", 0, true, Some(0), "a1")),
            at(0),
            0,
            &mut out,
        );
        a.push(
            ev("b", seg("1", 0, true, Some(0), "b1")),
            at(1),
            10,
            &mut out,
        );
        a.push(
            ev("a", seg("2", 0, true, Some(5), "a2")),
            at(2),
            20,
            &mut out,
        );
        // b is now the least recently active.
        a.push(
            ev("c", seg("1", 0, true, Some(0), "c1")),
            at(3),
            30,
            &mut out,
        );
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].conversation.id, "b");
        assert_eq!(out[0].finalised_by, FinalisedBy::Evicted);
        assert_eq!(a.open_count(), 2);
        assert_eq!(a.min_open_offset(0), Some(0));
    }

    #[test]
    fn segment_limit_drops_new_segments_but_accepts_revisions() {
        let mut a = Assembler::new(limits(1000, 10, 2));
        let mut out = Vec::new();
        assert_eq!(
            a.push(
                ev("c", seg("1", 0, false, Some(0), "x")),
                at(0),
                0,
                &mut out
            ),
            Absorbed::Assembled
        );
        assert_eq!(
            a.push(ev("c", seg("2", 0, true, Some(1), "y")), at(1), 0, &mut out),
            Absorbed::Assembled
        );
        assert_eq!(
            a.push(ev("c", seg("3", 0, true, Some(2), "z")), at(2), 0, &mut out),
            Absorbed::SegmentLimit
        );
        assert_eq!(
            a.push(
                ev("c", seg("1", 1, true, Some(0), "x!")),
                at(3),
                0,
                &mut out
            ),
            Absorbed::Assembled
        );
        assert_eq!(
            a.push(ev("c", seg("4", 0, true, Some(3), "w")), at(4), 0, &mut out),
            Absorbed::SegmentLimit
        );
        a.push(ev("c", end(None)), at(5), 0, &mut out);
        assert_eq!(texts(&out[0]), vec!["x!", "y"]);
        assert_eq!(out[0].dropped_segments, 2);
    }

    #[test]
    fn min_open_offset_tracks_the_oldest_open_conversation_per_lane() {
        let mut a = Assembler::new(limits(1000, 10, 10));
        let mut out = Vec::new();
        let p = |lane, offset| Position { lane, offset };
        a.push(ev("a", seg("1", 0, true, None, "a")), p(0, 5), 0, &mut out);
        a.push(ev("b", seg("1", 0, true, None, "b")), p(0, 7), 0, &mut out);
        a.push(ev("x", seg("1", 0, true, None, "x")), p(1, 3), 0, &mut out);
        assert_eq!(
            (
                a.min_open_offset(0),
                a.min_open_offset(1),
                a.min_open_offset(2)
            ),
            (Some(5), Some(3), None)
        );
        a.push(ev("a", end(None)), p(0, 8), 0, &mut out);
        assert_eq!(a.min_open_offset(0), Some(7));
        assert_eq!(a.drop_lane(0), 1);
        assert_eq!(a.min_open_offset(0), None);
        assert_eq!(a.open_count(), 1);
        // After the revocation, b's events are no longer known: b opens anew.
        assert_eq!(
            a.push(ev("b", seg("2", 0, true, None, "b2")), p(0, 9), 0, &mut out),
            Absorbed::Assembled
        );
        assert_eq!(a.min_open_offset(0), Some(9));
    }

    #[test]
    fn conflicting_headers_resolve_to_the_smallest_value_whatever_the_order() {
        let started = |ms, tz: &str| {
            TranscriptPayload::Started(ConversationStarted {
                started_at_ms: Some(ms),
                time_zone: Some(tz.into()),
                language: None,
                title: None,
            })
        };
        let run = |order: &[usize]| {
            let events = [
                ev("c", started(2_000, "UTC")),
                ev("c", started(1_000, "Europe/Berlin")),
                TranscriptEvent {
                    header: EventHeader {
                        client_version: "1.0.8".into(),
                        ..Default::default()
                    },
                    ..ev("c", end(None))
                },
            ];
            let mut a = Assembler::new(limits(1000, 10, 10));
            let mut out = Vec::new();
            for &i in order {
                a.push(events[i].clone(), at(i as i64), 0, &mut out);
            }
            a.tick(10_000, &mut out);
            out.pop().unwrap()
        };
        let x = run(&[0, 1, 2]);
        let y = run(&[1, 0, 2]);
        assert_eq!(x.conversation, y.conversation);
        assert_eq!(x.conversation.client_version.as_deref(), Some("1.0.8"));
        assert_eq!(x.conversation.time_zone.as_deref(), Some("Europe/Berlin"));
        assert_eq!(x.conversation.started_at.unwrap().timestamp_millis(), 1_000);
    }

    /// A stream of one conversation: per segment id some partial revisions and exactly one
    /// final version, plus a start event and an end event that gives the segment count.
    fn stream() -> impl Strategy<Value = Vec<TranscriptEvent>> {
        let segment = (
            0u8..20,
            prop::collection::vec((0i32..5, "[a-c ]{0,6}"), 0..3),
            0i32..5,
            "[a-z ]{1,8}",
            prop::option::of(-50i64..5_000),
        );
        prop::collection::btree_map(0u16..500, segment, 1..12).prop_map(|segs| {
            let mut events = vec![ev(
                "conv",
                TranscriptPayload::Started(ConversationStarted {
                    started_at_ms: Some(1_700_000_000_000),
                    time_zone: Some("America/New_York".into()),
                    language: Some("en".into()),
                    title: None,
                }),
            )];
            let count = segs.len() as i32;
            for (id, (speaker, partials, final_rev, text, start)) in segs {
                let id = id.to_string();
                for (rev, partial_text) in partials {
                    let mut s = seg(&id, rev, false, start, &partial_text);
                    if let TranscriptPayload::Segment(b) = &mut s {
                        b.speaker_id = format!("s{speaker}");
                    }
                    events.push(ev("conv", s));
                }
                let mut s = seg(&id, final_rev, true, start, &text);
                if let TranscriptPayload::Segment(b) = &mut s {
                    b.speaker_id = format!("s{speaker}");
                }
                events.push(ev("conv", s));
            }
            events.push(ev("conv", end(Some(count))));
            events
        })
    }

    fn assemble(events: &[TranscriptEvent]) -> Vec<Finalised> {
        let mut a = Assembler::new(limits(60_000, 100, 1000));
        let mut out = Vec::new();
        for (i, e) in events.iter().enumerate() {
            a.push(e.clone(), at(i as i64), i as i64, &mut out);
        }
        out
    }

    proptest! {
        #[test]
        fn any_permutation_with_duplicates_gives_the_same_conversation(
            events in stream(),
            seed in any::<u64>(),
            dups in prop::collection::vec(any::<prop::sample::Index>(), 0..10),
        ) {
            let reference = assemble(&events);
            prop_assert_eq!(reference.len(), 1);
            prop_assert_eq!(reference[0].finalised_by, FinalisedBy::EndEvent);
            let mut shuffled = events.clone();
            for d in &dups {
                shuffled.push(d.get(&events).clone());
            }
            // Fisher-Yates with a small deterministic generator seeded by proptest. The start
            // event stays first: one arriving after the conversation is complete is late
            // (documented), every other event may come in any order.
            let mut state = seed | 1;
            for i in (2..shuffled.len()).rev() {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                shuffled.swap(i, 1 + (state % i as u64) as usize);
            }
            let got = assemble(&shuffled);
            // Duplicates arriving after the last needed event are late, never a second
            // conversation.
            prop_assert_eq!(got.len(), 1);
            prop_assert_eq!(&got[0].conversation, &reference[0].conversation);
            prop_assert_eq!(got[0].finalised_by, FinalisedBy::EndEvent);
            // Exactly one final text per segment id survived.
            let finals: usize = reference[0].conversation.segments.len();
            let expected = events.iter().filter(|e| matches!(&e.payload, TranscriptPayload::Segment(s) if s.is_final)).count();
            prop_assert_eq!(finals, expected);
        }

        #[test]
        fn without_an_end_event_idle_timeout_gives_the_same_conversation(
            events in stream(),
            seed in any::<u64>(),
        ) {
            let no_end: Vec<_> = events.into_iter().filter(|e| !matches!(e.payload, TranscriptPayload::Ended(_))).collect();
            let mut shuffled = no_end.clone();
            shuffled.reverse();
            let k = (seed % shuffled.len() as u64) as usize;
            shuffled.rotate_left(k);
            let run = |evs: &[TranscriptEvent]| {
                let mut a = Assembler::new(limits(1_000, 100, 1000));
                let mut out = Vec::new();
                for (i, e) in evs.iter().enumerate() {
                    a.push(e.clone(), at(i as i64), 0, &mut out);
                }
                prop_assert!(out.is_empty());
                a.tick(1_000, &mut out);
                prop_assert_eq!(out.len(), 1);
                prop_assert_eq!(out[0].finalised_by, FinalisedBy::IdleTimeout);
                Ok(out.pop().unwrap().conversation)
            };
            prop_assert_eq!(run(&no_end)?, run(&shuffled)?);
        }

        #[test]
        fn memory_stays_within_the_limits(
            ops in prop::collection::vec((0u8..30, 0u16..40, 0i64..50), 1..300),
        ) {
            let mut a = Assembler::new(limits(100, 5, 8));
            let mut out = Vec::new();
            let mut now = 0;
            for (i, (conv, segid, dt)) in ops.into_iter().enumerate() {
                now += dt;
                a.push(ev(&conv.to_string(), seg(&segid.to_string(), 0, true, None, "t")), at(i as i64), now, &mut out);
                a.tick(now, &mut out);
                prop_assert!(a.open_count() <= 5);
                let closed_order: usize = a.lanes.values().map(|l| l.closed_order.len()).sum();
                prop_assert!(a.closed.len() <= 5 * CLOSED_PER_OPEN && closed_order == a.closed.len());
                prop_assert_eq!(a.closed_count, closed_order);
                prop_assert_eq!(a.lanes.values().map(|l| l.by_activity.len()).sum::<usize>(), a.open_count());
                prop_assert_eq!(a.lanes.values().map(|l| l.by_offset.len()).sum::<usize>(), a.open_count());
            }
            for f in &out {
                prop_assert!(f.conversation.segments.len() <= 8);
            }
        }
    }
}
