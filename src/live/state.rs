//! The live state of one open conversation: KPIs so far, updated per accepted segment in
//! O(the segment) (no re-analysis of the transcript). Pure: no IO, no clock (the caller
//! passes stream times), no metrics.
//!
//! # What a rules evaluator reads
//!
//! - Per accepted segment, [`LiveState::observe`] returns its [`SegmentFacts`]: segment id,
//!   speaker, the side used, clamped start and end (ms of call time), words, whether it is a
//!   backchannel, whether it is an interruption, the silence (call time) before it, its
//!   questions and the tracker hits found in this segment (tracker names and kinds).
//! - The state so far, [`LiveState::kpis`] at a stream time: talk time per side,
//!   talk-to-listen, longest monologue and longest customer monologue (the open run
//!   included), interruptions, non-talk time, current silence, question counts; and
//!   [`LiveState::interruptions`], every interruption with its time in the call (in arrival
//!   order, which is start order for a live stream), for windowed conditions.
//!
//! # Definitions (`docs/kpis.md`), and where they differ from the final insight
//!
//! The formulas are those of [`crate::extract::kpis`], computed incrementally. The last live
//! KPIs equal the final insight's when the segments arrive in start order (ties by segment
//! id), each with one final version, in a conversation whose language is given by the
//! publisher, and where the first segment already shows whether the transcript is
//! punctuated (`tests` check it by property). The differences, all by design:
//!
//! - **Order.** Segments are taken in arrival order. The final insight sorts them by start;
//!   a segment that arrives after one starting later is taken where it arrives (its talk time
//!   counts only beyond what its speaker already covered; monologues and interruptions are
//!   walked in arrival order).
//! - **Revisions.** Only the first *final* version of each segment id counts; partial
//!   versions are not counted, and a later revision of a final segment does not replace it.
//!   The final insight keeps the best version of each (partial ones included).
//! - **Language.** The publisher's language (conversation, else the first segment's), else
//!   `en`; the final insight detects it from the whole text when none is given. It decides
//!   backchannels and, on unpunctuated transcripts, questions.
//! - **Punctuation.** Questions are found as punctuated text once any segment so far has
//!   punctuation; the final insight decides once for the whole conversation.
//! - **Sides.** A segment's side is its role, else the tenant's rule; for a tenant with a
//!   configuration, while an internal speaker has been seen and no external one, unknown
//!   speakers count as external (the final insight applies that rule to the whole
//!   conversation). A speaker keeps the first
//!   known side, as in the final insight, but its questions count for the side known when
//!   they were asked.
//! - **Current silence** exists only live: the stream time (record timestamps, ms) since the
//!   record of the segment that last extended the speech.

use crate::extract::kpis::{round4, NON_TALK_MIN_GAP_MS};
use crate::extract::text;
use crate::insight::{Question, QuestionCounts, TrackerHit};
use crate::model::{Conversation, Segment, Side};
use crate::tenant::TenantRuntime;
use std::collections::{HashMap, HashSet};

/// What one accepted segment brought, as the live state took it.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentFacts {
    /// Segment id.
    pub segment_id: String,
    /// Speaker id.
    pub speaker: String,
    /// The side this segment counted for (see the module docs, "Sides").
    pub side: Side,
    /// Start in call time, ms, clamped at 0; `None` when the segment has no start or end.
    pub start_ms: Option<i64>,
    /// End in call time, ms, clamped at the start; `None` when untimed.
    pub end_ms: Option<i64>,
    /// Words in the text (0: the segment counts for nothing but its tracker hits).
    pub words: usize,
    /// A backchannel (`ok`, `mhm`...): never an interruption, never breaks a monologue.
    pub backchannel: bool,
    /// This segment interrupts another speaker (starts before the end of another speaker's
    /// earlier segment and is not a backchannel).
    pub interruption: bool,
    /// Silence in call time between the end of all speech before this segment and its
    /// start, ms (0 when it overlaps or touches); `None` for the first timed segment and
    /// untimed ones.
    pub gap_before_ms: Option<i64>,
    /// Questions asked in this segment, with their character spans.
    pub questions: Vec<Question>,
    /// Tracker and competitor hits found in this segment, in the matcher's order.
    pub hits: Vec<TrackerHit>,
}

/// One interruption: when, and who interrupted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interruption {
    /// Start of the interrupting segment, ms of call time.
    pub at_ms: i64,
    /// The interrupting speaker.
    pub speaker: String,
    /// Their side when they interrupted.
    pub side: Side,
}

/// KPIs so far (see `docs/kpis.md`); `None` where the final insight would have `null`.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct KpisSoFar {
    /// Accepted segments so far (first final version of each id).
    pub segments: i64,
    /// Latest end minus earliest start of timed segments, ms.
    pub duration_ms: Option<i64>,
    /// Talk time of internal speakers, ms (union of each speaker's intervals, summed).
    pub internal_talk_time_ms: Option<i64>,
    /// Talk time of external speakers, ms.
    pub external_talk_time_ms: Option<i64>,
    /// Internal over external talk time, 4 decimals.
    pub talk_to_listen_ratio: Option<f64>,
    /// Longest monologue of anyone so far (the run still open included), ms.
    pub longest_monologue_ms: Option<i64>,
    /// Longest monologue of an external speaker so far (the open run included), ms.
    pub longest_customer_monologue_ms: Option<i64>,
    /// Interruptions so far.
    pub interruptions: Option<i64>,
    /// Silences over 3 s between speech so far, summed, ms.
    pub non_talk_time_ms: Option<i64>,
    /// Stream time (ms) since the record of the segment that last extended the speech;
    /// `None` before the first timed segment.
    pub current_silence_ms: Option<i64>,
    /// Questions so far, by side.
    pub questions: QuestionCounts,
}

#[derive(Debug, Clone)]
struct Speaker {
    side: Side,
    talk_ms: i64,
    /// Latest end of the speaker's timed segments.
    covered_to: Option<i64>,
    best_monologue: Option<i64>,
}

/// The live state of one conversation. See the module documentation.
#[derive(Debug, Clone)]
pub struct LiveState {
    lang: String,
    punctuated: bool,
    seen: HashSet<String>,
    index: HashMap<String, usize>,
    speakers: Vec<Speaker>,
    internal_seen: bool,
    external_seen: bool,
    segments: i64,
    first_start: Option<i64>,
    /// Latest end of all timed speech.
    last_end: Option<i64>,
    non_talk_ms: i64,
    /// Open monologue run: (speaker, first start, last end).
    run: Option<(usize, i64, i64)>,
    /// Latest end so far and its speaker; best end among the other speakers.
    top: Option<(i64, usize)>,
    second: Option<i64>,
    interruptions: Vec<Interruption>,
    questions: QuestionCounts,
    /// Stream time of the record that last extended the speech.
    last_speech_record_ms: Option<i64>,
}

impl LiveState {
    /// An empty state for a conversation in language `lang` (ISO 639-1, see the module docs).
    pub fn new(lang: &str) -> LiveState {
        LiveState {
            lang: lang.to_string(),
            punctuated: false,
            seen: HashSet::new(),
            index: HashMap::new(),
            speakers: Vec::new(),
            internal_seen: false,
            external_seen: false,
            segments: 0,
            first_start: None,
            last_end: None,
            non_talk_ms: 0,
            run: None,
            top: None,
            second: None,
            interruptions: Vec::new(),
            questions: QuestionCounts::default(),
            last_speech_record_ms: None,
        }
    }

    /// The language the state uses.
    pub fn language(&self) -> &str {
        &self.lang
    }

    /// Sets the language before the first segment (a `ConversationStarted` that arrives
    /// after segments does not change it).
    pub fn set_language(&mut self, lang: &str) {
        if self.segments == 0 {
            self.lang = lang.to_string();
        }
    }

    /// `true` when segment `id` was already taken.
    pub fn has(&self, id: &str) -> bool {
        self.seen.contains(id)
    }

    /// Every interruption so far, in arrival order.
    pub fn interruptions(&self) -> &[Interruption] {
        &self.interruptions
    }

    /// Takes one segment version, `record_ms` being its record's stream time. Returns what
    /// it brought, or `None` when it does not count (a partial version, or a segment id
    /// already taken). Cost: the segment's text (words, questions, the tenant's trackers on
    /// this segment alone), plus O(speakers).
    pub fn observe(
        &mut self,
        seg: &Segment,
        is_final: bool,
        tenant: Option<&TenantRuntime>,
        record_ms: i64,
    ) -> Option<SegmentFacts> {
        if !is_final || self.seen.contains(&seg.id) {
            return None;
        }
        self.seen.insert(seg.id.clone());
        self.segments += 1;
        let side = self.side_of(seg, tenant);
        let hits = match tenant.filter(|t| t.config.features.trackers) {
            Some(t) => {
                let one = Conversation {
                    segments: vec![Segment {
                        side,
                        ..seg.clone()
                    }],
                    ..Conversation::default()
                };
                t.trackers.find(&one, &self.lang).0
            }
            None => Vec::new(),
        };
        self.punctuated |= text::has_punctuation(&seg.text);
        let words = text::word_count(&seg.text);
        let mut facts = SegmentFacts {
            segment_id: seg.id.clone(),
            speaker: seg.speaker.clone(),
            side,
            start_ms: None,
            end_ms: None,
            words,
            backchannel: false,
            interruption: false,
            gap_before_ms: None,
            questions: Vec::new(),
            hits,
        };
        if words == 0 {
            return Some(facts);
        }
        let sp = self.speaker(&seg.speaker, side);
        let asked = self.speakers[sp].side;
        facts.questions = text::questions(&seg.text, &self.lang, self.punctuated)
            .into_iter()
            .map(|q| {
                // `q` is a slice of the segment text: its byte offset gives the span.
                let byte = q.as_ptr() as usize - seg.text.as_ptr() as usize;
                let start = seg.text[..byte].chars().count() as i64;
                Question {
                    segment_id: seg.id.clone(),
                    speaker: seg.speaker.clone(),
                    side: asked,
                    text: q.to_string(),
                    start_char: start,
                    end_char: start + q.chars().count() as i64,
                }
            })
            .collect();
        let n = facts.questions.len() as i64;
        match asked {
            Side::Internal => self.questions.internal += n,
            Side::External => self.questions.external += n,
            Side::Unknown => self.questions.unknown += n,
        }
        let Some((start, end)) = seg.start_ms.zip(seg.end_ms).map(|(s, e)| {
            let s = s.max(0);
            (s, e.max(s))
        }) else {
            return Some(facts);
        };
        facts.start_ms = Some(start);
        facts.end_ms = Some(end);
        let backchannel = text::is_backchannel(&seg.text, &self.lang);
        facts.backchannel = backchannel;
        // Talk time: the union of the speaker's intervals, grown by what lies past its end.
        let speaker = &mut self.speakers[sp];
        let from = speaker.covered_to.map_or(start, |c| c.max(start));
        speaker.talk_ms += (end - from).max(0);
        speaker.covered_to = Some(speaker.covered_to.map_or(end, |c| c.max(end)));
        // Gaps of all speech: non-talk time.
        if let Some(last) = self.last_end {
            let gap = (start - last).max(0);
            facts.gap_before_ms = Some(gap);
            if gap > NON_TALK_MIN_GAP_MS {
                self.non_talk_ms += gap;
            }
        }
        self.first_start = Some(self.first_start.map_or(start, |f| f.min(start)));
        if self.last_end.is_none_or(|l| end > l) || self.last_speech_record_ms.is_none() {
            self.last_speech_record_ms = Some(record_ms);
        }
        self.last_end = Some(self.last_end.map_or(end, |l| l.max(end)));
        // Interruptions (as `kpis::interruptions`, one step).
        let other_end = match self.top {
            Some((e, s)) if s != sp => Some(e),
            _ => self.second,
        };
        if !backchannel && other_end.is_some_and(|e| start < e) {
            facts.interruption = true;
            self.interruptions.push(Interruption {
                at_ms: start,
                speaker: seg.speaker.clone(),
                side: self.speakers[sp].side,
            });
        }
        match self.top {
            None => self.top = Some((end, sp)),
            Some((e, s)) if s == sp => self.top = Some((e.max(end), s)),
            Some((e, _)) if end > e => {
                self.second = Some(e);
                self.top = Some((end, sp));
            }
            Some(_) => self.second = Some(self.second.map_or(end, |s| s.max(end))),
        }
        // Monologues (as `kpis::monologues`, one step).
        match self.run {
            Some((s, first, last)) if s == sp => self.run = Some((s, first, last.max(end))),
            Some(_) if backchannel => self.close_run((sp, start, end)),
            Some(r) => {
                self.close_run(r);
                self.run = Some((sp, start, end));
            }
            None => self.run = Some((sp, start, end)),
        }
        Some(facts)
    }

    /// The KPIs so far, at stream time `now_ms` (for the current silence). O(speakers).
    pub fn kpis(&self, now_ms: i64) -> KpisSoFar {
        let has_time = self.first_start.is_some();
        let side_talk = |side: Side| -> Option<i64> {
            let mut present = false;
            let mut sum = 0;
            for s in self.speakers.iter().filter(|s| s.side == side) {
                present = true;
                sum += s.talk_ms;
            }
            (has_time && present).then_some(sum)
        };
        let internal = side_talk(Side::Internal);
        let external = side_talk(Side::External);
        let open = self.run.map(|(sp, first, last)| (sp, last - first));
        let best = |side: Option<Side>| -> Option<i64> {
            let closed = self
                .speakers
                .iter()
                .filter(|s| side.is_none_or(|side| s.side == side))
                .filter_map(|s| s.best_monologue);
            let running = open
                .filter(|(sp, _)| side.is_none_or(|side| self.speakers[*sp].side == side))
                .map(|(_, len)| len);
            closed.chain(running).max()
        };
        KpisSoFar {
            segments: self.segments,
            duration_ms: self.first_start.zip(self.last_end).map(|(f, l)| l - f),
            internal_talk_time_ms: internal,
            external_talk_time_ms: external,
            talk_to_listen_ratio: match (internal, external) {
                (Some(i), Some(e)) if e > 0 => Some(round4(i as f64 / e as f64)),
                _ => None,
            },
            longest_monologue_ms: best(None),
            longest_customer_monologue_ms: best(Some(Side::External)),
            interruptions: has_time.then_some(self.interruptions.len() as i64),
            non_talk_time_ms: has_time.then_some(self.non_talk_ms),
            current_silence_ms: self.last_speech_record_ms.map(|t| (now_ms - t).max(0)),
            questions: self.questions,
        }
    }

    /// The side a segment counts for (module docs, "Sides"), noting which sides were seen.
    fn side_of(&mut self, seg: &Segment, tenant: Option<&TenantRuntime>) -> Side {
        let mut side = seg.side;
        if side == Side::Unknown {
            if let Some(s) = tenant.and_then(|t| t.config.side_for(&seg.speaker)) {
                side = s;
            }
        }
        match side {
            Side::Internal => self.internal_seen = true,
            Side::External => self.external_seen = true,
            // As `apply_tenant_sides`, which runs only for tenants with a configuration.
            Side::Unknown if tenant.is_some() && self.internal_seen && !self.external_seen => {
                side = Side::External;
            }
            Side::Unknown => {}
        }
        side
    }

    /// The index of a speaker, added on first sight; a speaker keeps its first known side.
    fn speaker(&mut self, id: &str, side: Side) -> usize {
        let i = match self.index.get(id) {
            Some(&i) => i,
            None => {
                self.speakers.push(Speaker {
                    side: Side::Unknown,
                    talk_ms: 0,
                    covered_to: None,
                    best_monologue: None,
                });
                self.index.insert(id.to_string(), self.speakers.len() - 1);
                self.speakers.len() - 1
            }
        };
        if self.speakers[i].side == Side::Unknown {
            self.speakers[i].side = side;
        }
        i
    }

    fn close_run(&mut self, (sp, first, last): (usize, i64, i64)) {
        let len = last - first;
        let b = &mut self.speakers[sp].best_monologue;
        *b = Some(b.map_or(len, |x| x.max(len)));
    }
}
