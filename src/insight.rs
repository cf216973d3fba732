//! The meeting insight: what Debrief writes for each conversation (JSON from `process`, Avro
//! on the CRM topics). Field order is the serialisation order; every list is sorted by the
//! extractor that fills it, so the same conversation always gives byte-identical output.

use crate::model::Side;
use serde::{Deserialize, Serialize};

/// Version of the insight layout and of the extraction code, written into every insight.
pub const EXTRACTOR_VERSION: &str = concat!("debrief-", env!("CARGO_PKG_VERSION"));

/// Version of the insight schema (`schemas/meeting_insight.avsc`).
pub const INSIGHT_SCHEMA_VERSION: i32 = 1;

/// What happened to the conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Every enabled insight was produced.
    Complete,
    /// KPIs were produced but some insights were withheld; `skip_reasons` says why.
    Partial,
    /// Nothing but the skip reasons (for example an outdated publishing client).
    Skipped,
}

/// Why an insight (or part of it) was not produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// The publishing client is older than the configured minimum version (1.0.9 by default).
    ClientVersion,
    /// Less transcript text than the configured minimum (1,000 characters by default): no
    /// highlights (the summary); KPIs, action items and questions are still produced.
    ShortContent,
    /// No transcribed segment at all.
    NoTranscript,
    /// The conversation hit the per-conversation segment limit; later segments were dropped.
    SegmentLimit,
    /// The tenant disabled a feature (action items, trackers, KPIs, questions) in its
    /// configuration, or the retention sweep removed its data after a switch-off.
    FeatureDisabled,
    /// Parts of the source file could not be read (a WebVTT cue, a time zone that is not an
    /// IANA name) and were left out or replaced by the default; `debrief process` reports each
    /// with its line. The insight is built from what could be read.
    DamagedSource,
}

/// What closed the conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinalisedBy {
    /// Read from a file by `debrief process`.
    File,
    /// A `ConversationEnded` event.
    EndEvent,
    /// A `CompleteTranscript` event.
    CompleteTranscript,
    /// No event for longer than the idle timeout.
    IdleTimeout,
    /// Evicted because the open-conversation limit was reached.
    Evicted,
}

/// The insight for one conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Insight {
    /// Conversation id (also the Kafka key).
    pub conversation_id: String,
    /// Tenant id.
    pub tenant_id: String,
    /// Insight schema version ([`INSIGHT_SCHEMA_VERSION`]).
    pub schema_version: i32,
    /// Extraction code version ([`EXTRACTOR_VERSION`]).
    pub extractor_version: String,
    /// Version of the tenant configuration applied (0 when none).
    pub config_version: i64,
    /// Publishing platform, when known.
    pub source_platform: Option<String>,
    /// Publishing client version, when known.
    pub client_version: Option<String>,
    /// What closed the conversation.
    pub finalised_by: FinalisedBy,
    /// Complete, partial or skipped.
    pub outcome: Outcome,
    /// Why insights were withheld, sorted, no duplicates.
    pub skip_reasons: Vec<SkipReason>,
    /// Language of the conversation.
    pub language: LanguageReport,
    /// Number of segments analysed.
    pub segment_count: i64,
    /// Characters of transcript text analysed.
    pub text_chars: i64,
    /// Conversation KPIs (present even when summary-type insights are withheld).
    pub kpis: Option<Kpis>,
    /// Questions asked, in segment order.
    pub questions: Vec<Question>,
    /// Action items, in evidence order.
    pub action_items: Vec<ActionItem>,
    /// Tracked keyword and competitor hits, in text order.
    pub tracker_hits: Vec<TrackerHit>,
    /// Hit counts per tracker and side, sorted by tracker, kind, side.
    pub tracker_counts: Vec<TrackerCount>,
    /// Key moments of the conversation, in conversation order (only over the summary floor
    /// of 1,000 characters; `short_content` in `skip_reasons` otherwise).
    #[serde(default)]
    pub highlights: Vec<Highlight>,
    /// Personal data replaced by placeholders, counted per type over the whole conversation,
    /// sorted by type; empty when nothing was found or the tenant turned redaction off.
    #[serde(default)]
    pub redactions: Vec<RedactionCount>,
}

/// What a highlight is about (the strongest cue of the sentence).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HighlightKind {
    /// A decision or agreement ("we'll go with", "c'est d'accord").
    Decision,
    /// Someone took an action on (an action item's sentence).
    Commitment,
    /// A concern or objection ("too expensive", "trop cher", "zu teuer").
    Objection,
    /// Prices, discounts, budgets, amounts.
    Pricing,
    /// Dates, deadlines, schedules.
    Timeline,
    /// Anything else that scored high.
    Other,
}

/// One key moment: a sentence of the conversation, exactly as said.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Highlight {
    /// The sentence, exactly as in the segment text (placeholders for personal data).
    pub text: String,
    /// What it is about.
    pub kind: HighlightKind,
    /// Speaker id.
    pub speaker: String,
    /// Segment id.
    pub segment_id: String,
    /// Start of the sentence in the segment text, in Unicode scalar values (inclusive).
    pub start_char: i64,
    /// End of the sentence, in Unicode scalar values (exclusive).
    pub end_char: i64,
    /// Start offset of the segment, ms (`None` without timestamps).
    pub offset_ms: Option<i64>,
}

/// How many values of one type of personal data were redacted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedactionCount {
    /// `EMAIL`, `PHONE`, `IBAN`, `CARD`, `NATIONAL_ID`, `IP` or `URL` (the placeholder's name).
    #[serde(rename = "type")]
    pub kind: String,
    /// Values replaced.
    pub count: i64,
}

impl Insight {
    /// Records a reason for withholding part of the insight: `skip_reasons` stays sorted and
    /// unique, and a `complete` outcome becomes `partial` (`skipped` stays `skipped`).
    pub fn add_skip_reason(&mut self, reason: SkipReason) {
        self.skip_reasons.push(reason);
        self.skip_reasons.sort();
        self.skip_reasons.dedup();
        if self.outcome == Outcome::Complete {
            self.outcome = Outcome::Partial;
        }
    }
}

/// How the conversation language was established.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LanguageSource {
    /// Given by the publisher in the event or file; wins over detection.
    Given,
    /// Detected from the text with `whatlang`.
    Detected,
    /// Not enough text to tell.
    Unknown,
}

/// The language of the conversation and, where they differ, of each speaker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LanguageReport {
    /// ISO 639-1 code (`en`, `fr`, `de`, `es`...), `None` when unknown.
    pub code: Option<String>,
    /// Detection confidence in 0..=1 (1.0 when given by the publisher).
    pub confidence: f64,
    /// Given, detected or unknown.
    pub source: LanguageSource,
    /// Per-speaker languages, only listed when some speaker's language differs from the
    /// conversation's; sorted by speaker.
    pub speakers: Vec<SpeakerLanguage>,
}

/// One speaker's detected language.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpeakerLanguage {
    /// Speaker id.
    pub speaker: String,
    /// ISO 639-1 code.
    pub code: String,
    /// Detection confidence in 0..=1.
    pub confidence: f64,
}

/// Conversation KPIs; definitions in `docs/kpis.md`. Time KPIs are `None` when the
/// conversation has no usable timestamps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Kpis {
    /// Last segment end minus first segment start, ms.
    pub duration_ms: Option<i64>,
    /// Per-participant KPIs, sorted by first appearance.
    pub participants: Vec<ParticipantKpis>,
    /// Sum of internal speakers' talk time, ms.
    pub internal_talk_time_ms: Option<i64>,
    /// Sum of external speakers' talk time, ms.
    pub external_talk_time_ms: Option<i64>,
    /// Internal talk time over external talk time; `None` when either side is absent.
    pub talk_to_listen_ratio: Option<f64>,
    /// Neighbouring segments (ordered by start) with different speakers.
    pub switches: i64,
    /// Switches per hour of `duration_ms`.
    pub switches_per_hour: Option<f64>,
    /// Longest monologue of anyone, ms.
    pub longest_monologue_ms: Option<i64>,
    /// Longest monologue of an external speaker, ms.
    pub longest_customer_monologue_ms: Option<i64>,
    /// Mean gap before an internal segment that follows an external one, ms.
    pub average_pause_before_speaking_ms: Option<f64>,
    /// Sum of silences longer than 3,000 ms in the union of all segments, ms.
    pub non_talk_time_ms: Option<i64>,
    /// Interruptions (overlapping starts that are not backchannels); `None` without
    /// timestamps.
    pub interruptions: Option<i64>,
    /// Questions asked per side.
    pub questions: QuestionCounts,
}

/// Questions counted per side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct QuestionCounts {
    /// Asked by internal speakers.
    pub internal: i64,
    /// Asked by external speakers.
    pub external: i64,
    /// Asked by speakers of unknown side.
    pub unknown: i64,
}

/// KPIs of one participant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParticipantKpis {
    /// Speaker id.
    pub speaker: String,
    /// Side.
    pub side: Side,
    /// Union of the speaker's segment intervals, ms.
    pub talk_time_ms: Option<i64>,
    /// Talk time over the sum of all participants' talk times, 0..=1.
    pub talk_share: Option<f64>,
    /// Tokens containing a letter or digit.
    pub words: i64,
    /// Words per minute of talk time.
    pub words_per_minute: Option<f64>,
    /// Longest monologue, ms.
    pub longest_monologue_ms: Option<i64>,
    /// Questions asked.
    pub questions: i64,
    /// Interruptions made (counted for the speaker who starts); `None` without timestamps.
    pub interruptions: Option<i64>,
}

/// A question asked in the conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Question {
    /// Segment id.
    pub segment_id: String,
    /// Speaker id.
    pub speaker: String,
    /// Side of the speaker.
    pub side: Side,
    /// The question sentence, exactly as in the segment text.
    pub text: String,
    /// Start of the sentence in the segment text, in Unicode scalar values (0 in records
    /// written before spans were added).
    #[serde(default)]
    pub start_char: i64,
    /// End of the sentence (exclusive), in Unicode scalar values.
    #[serde(default)]
    pub end_char: i64,
}

/// Kind of action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionType {
    /// Phone or video call.
    Call,
    /// E-mail or written message.
    Email,
    /// Meeting to set up.
    Meeting,
    /// Anything else.
    Task,
}

/// Whether someone took the action on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionState {
    /// A speaker committed ("I'll send it").
    Committed,
    /// Proposed or requested, nobody committed.
    Suggested,
}

/// Where the task stands, finer than [`ActionState`] (which old readers know): a request
/// nobody has accepted yet is `requested`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionStatus {
    /// Someone committed, or accepted a request.
    Committed,
    /// Asked of someone who has not accepted (yet).
    Requested,
    /// Proposed, nobody committed.
    #[default]
    Suggested,
}

/// Where an action item was said: a character span of one segment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// Segment id.
    pub segment_id: String,
    /// Start of the span, in Unicode scalar values from the start of the segment text.
    pub start_char: i64,
    /// End of the span (exclusive), in Unicode scalar values.
    pub end_char: i64,
}

/// A due date resolved against the conversation's start time and time zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Due {
    /// Resolved date, `YYYY-MM-DD`.
    pub date: String,
    /// Resolved date-time (RFC 3339 with offset) when a time of day was stated.
    pub datetime: Option<String>,
    /// The phrase as said ("by Friday", "d'ici vendredi").
    pub phrase: String,
}

/// An action item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionItem {
    /// The task as said: the segment text at the first evidence span, unchanged.
    pub text: String,
    /// Where it was said.
    pub evidence: Vec<Evidence>,
    /// Speaker id of who commits or is addressed; `None` when uncertain.
    pub owner: Option<String>,
    /// Due date when one was stated.
    pub due: Option<Due>,
    /// Call, email, meeting or task.
    #[serde(rename = "type")]
    pub action_type: ActionType,
    /// Committed or suggested (a pending request is `suggested` here, `requested` in
    /// `status`).
    pub state: ActionState,
    /// Calibrated confidence in 0..=1.
    pub confidence: f64,
    /// ISO 639-1 language the item was extracted in.
    pub language: String,
    /// Committed, requested or suggested.
    #[serde(default)]
    pub status: ActionStatus,
}

/// What a tracker entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrackerKind {
    /// A keyword tracker.
    Keyword,
    /// A competitor.
    Competitor,
}

/// One match of a tracked term.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackerHit {
    /// Tracker or competitor name.
    pub tracker: String,
    /// Keyword or competitor.
    pub kind: TrackerKind,
    /// The term as configured.
    pub term: String,
    /// The surface form in the text.
    pub heard: String,
    /// Speaker id.
    pub speaker: String,
    /// Speaker side.
    pub side: Side,
    /// Segment id.
    pub segment_id: String,
    /// Start offset of the segment, ms (`None` without timestamps).
    pub offset_ms: Option<i64>,
    /// Start of the match, in Unicode scalar values from the start of the segment text.
    pub start_char: i64,
    /// End of the match (exclusive), in Unicode scalar values.
    pub end_char: i64,
}

/// Number of hits per tracker and side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackerCount {
    /// Tracker or competitor name.
    pub tracker: String,
    /// Keyword or competitor.
    pub kind: TrackerKind,
    /// Side of the speakers.
    pub side: Side,
    /// Hits.
    pub count: i64,
}
