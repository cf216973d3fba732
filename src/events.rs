//! The event contract as Rust types: what meeting platforms publish (transcript events), what
//! Debrief writes (insights are in [`crate::insight`], telemetry and dead letters here) and the
//! control events (erasure requests; tenant configuration is [`crate::tenant::TenantConfig`]).
//!
//! The Avro schemas in `schemas/` describe exactly these types; `crate::schema` converts
//! between them and Avro. Topic names and keys are in [`topics`].

use serde::{Deserialize, Serialize};

/// Default topic names and their keys. Every topic is keyed by the id named here, so that all
/// events of one conversation (or tenant) land on one partition in order.
pub mod topics {
    /// Transcript events (`TranscriptEvent`), key: conversation id.
    pub const TRANSCRIPTS: &str = "debrief.transcripts.v1";
    /// Meeting insights for Dynamics 365-like connectors, key: conversation id (compacted).
    pub const INSIGHTS_DYNAMICS: &str = "debrief.insights.dynamics.v1";
    /// Meeting insights for Salesforce-like connectors, key: conversation id (compacted).
    pub const INSIGHTS_SALESFORCE: &str = "debrief.insights.salesforce.v1";
    /// Interaction telemetry, key: tenant id.
    pub const TELEMETRY: &str = "debrief.telemetry.v1";
    /// Dead letters, key: the original key.
    pub const DEAD_LETTER: &str = "debrief.deadletter.v1";
    /// Tenant configuration (`TenantConfig`), key: tenant id (compacted).
    pub const TENANT_CONFIG: &str = "debrief.tenant-config.v1";
    /// Erasure requests, key: tenant id.
    pub const ERASURE: &str = "debrief.erasure.v1";
    /// The conversation index (`ConversationIndexEntry`), key: conversation id (compacted).
    pub const CONVERSATION_INDEX: &str = "debrief.conversation-index.v1";
    /// The erasure ledger (`ErasureLedgerEntry`), key: request id (delete policy, long
    /// retention).
    pub const ERASURE_LEDGER: &str = "debrief.erasure-ledger.v1";
    /// The audit trail (`AuditRecord`), key: action id (compacted).
    pub const AUDIT: &str = "debrief.audit.v1";
    /// Alerts (`crate::rules::Alert`), key: conversation id (delete policy, retention at
    /// most 7 days).
    pub const ALERTS: &str = "debrief.alerts.v1";
    /// Live records of open conversations (`LiveInsight`), key: conversation id (delete
    /// policy, retention at most one day).
    pub const LIVE: &str = "debrief.live.v1";
    /// What representatives did with suggestions (`InteractionEvent`), key: conversation id
    /// (delete policy).
    pub const INTERACTIONS: &str = "debrief.interactions.v1";
}

/// Fields every input event carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct EventHeader {
    /// Tenant id.
    pub tenant_id: String,
    /// Publishing platform (`teams`, `zoom`, `contact-centre`, `file`...).
    pub source_platform: String,
    /// Version of the publishing client, `major.minor.patch`.
    pub client_version: String,
    /// Milliseconds since the Unix epoch when the publisher emitted the event.
    pub emitted_at_ms: Option<i64>,
}

/// A speaker role as published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SpeakerRole {
    /// Seller, agent, host.
    Internal,
    /// Customer.
    External,
    /// Not known.
    #[default]
    Unknown,
}

/// The body of one transcript segment (used alone in a stream, or in a list in a complete
/// transcript).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct SegmentBody {
    /// Segment id, unique within the conversation.
    pub segment_id: String,
    /// Revision of this segment; a higher revision replaces a lower one.
    pub revision: i32,
    /// `true` for the final version of the segment; a final version replaces any partial one.
    pub is_final: bool,
    /// Speaker id.
    pub speaker_id: String,
    /// Speaker display name.
    pub speaker_name: Option<String>,
    /// Speaker role.
    pub speaker_role: SpeakerRole,
    /// Start offset from the conversation start, ms (may be negative or after `end_ms`: the
    /// KPIs document the treatment).
    pub start_ms: Option<i64>,
    /// End offset from the conversation start, ms.
    pub end_ms: Option<i64>,
    /// Transcribed text.
    pub text: String,
    /// ISO 639-1 language, when known.
    pub language: Option<String>,
    /// Recogniser confidence in 0..=1, when known.
    pub confidence: Option<f32>,
}

/// A conversation started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ConversationStarted {
    /// Milliseconds since the Unix epoch when the conversation started.
    pub started_at_ms: Option<i64>,
    /// IANA time zone of the conversation (`Europe/Paris`).
    pub time_zone: Option<String>,
    /// ISO 639-1 language, when known.
    pub language: Option<String>,
    /// Conversation title, when known.
    pub title: Option<String>,
    /// The representative the conversation belongs to (speaker id or e-mail address); its
    /// experience profile applies. `None`: the first internal speaker, else the default.
    #[serde(default)]
    pub owner_id: Option<String>,
}

/// A conversation ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ConversationEnded {
    /// Milliseconds since the Unix epoch when the conversation ended.
    pub ended_at_ms: Option<i64>,
    /// Number of final segments the publisher sent, when it knows (for completeness checks).
    pub segment_count: Option<i32>,
}

/// A complete transcript in one event (post-meeting exports).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct CompleteTranscript {
    /// Milliseconds since the Unix epoch when the conversation started.
    pub started_at_ms: Option<i64>,
    /// IANA time zone.
    pub time_zone: Option<String>,
    /// ISO 639-1 language, when known.
    pub language: Option<String>,
    /// Conversation title, when known.
    pub title: Option<String>,
    /// All segments.
    pub segments: Vec<SegmentBody>,
    /// The representative the conversation belongs to, as in [`ConversationStarted`].
    #[serde(default)]
    pub owner_id: Option<String>,
}

/// What a transcript event says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TranscriptPayload {
    /// Conversation started.
    Started(ConversationStarted),
    /// One segment (partial or final).
    Segment(SegmentBody),
    /// Conversation ended.
    Ended(ConversationEnded),
    /// Complete transcript.
    Complete(CompleteTranscript),
}

/// One event on the transcript topic (key: conversation id).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TranscriptEvent {
    /// Common fields.
    pub header: EventHeader,
    /// Conversation id (equal to the Kafka key).
    pub conversation_id: String,
    /// The event itself.
    pub payload: TranscriptPayload,
}

/// What a user did with a suggestion, or what the pipeline did (`ran`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InteractionAction {
    /// The pipeline ran the feature.
    Ran,
    /// The pipeline skipped the feature.
    Skipped,
    /// The representative accepted the suggestion.
    Accepted,
    /// The representative copied it.
    Copied,
    /// The representative edited and sent it.
    EditedAndSent,
    /// The representative discarded it.
    Discarded,
    /// Thumbs up.
    ThumbsUp,
    /// Thumbs down.
    ThumbsDown,
}

/// Interaction telemetry (topic key: tenant id): what ran, for which tenant, how long it took;
/// or, enriched from an [`InteractionEvent`], what a representative did with one suggestion
/// (then `representative_action` and the `item_*` fields are set, `outcome` is
/// `interaction`, `recorded_at_ms` is when the representative acted).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InteractionTelemetry {
    /// Tenant id.
    pub tenant_id: String,
    /// Conversation id.
    pub conversation_id: String,
    /// Feature (`kpis`, `action_items`, `trackers`, `insight`).
    pub feature: String,
    /// What happened.
    pub action: InteractionAction,
    /// Outcome of the insight (`complete`, `partial`, `skipped`).
    pub outcome: String,
    /// Time spent in the feature, microseconds.
    pub duration_us: i64,
    /// From the conversation's finalising event to the insight being produced, ms.
    pub latency_ms: Option<i64>,
    /// Number of items produced (action items, hits...).
    pub items: i64,
    /// Milliseconds since the Unix epoch when this record was made (for a representative's
    /// action: when they acted, the event's `occurred_at_ms`).
    pub recorded_at_ms: i64,
    /// Extractor version.
    pub extractor_version: String,
    /// Why the pipeline skipped the conversation, for records it writes instead of an
    /// insight (`residency`); `None` otherwise.
    #[serde(default)]
    pub reason: Option<String>,
    /// The suggestion acted on: a keyed pseudonym of its id (32 hex characters, unlinkable
    /// once the conversation is erased), `None` for pipeline records.
    #[serde(default)]
    pub item_id: Option<String>,
    /// `action_item`, `tracker_hit` or `question`.
    #[serde(default)]
    pub item_kind: Option<String>,
    /// The suggestion's type: the action item's type (`call`, `email`, `meeting`, `task`), the
    /// tracker hit's kind (`keyword`, `competitor`), the question's asking side (`internal`,
    /// `external`, `unknown`).
    #[serde(default)]
    pub item_type: Option<String>,
    /// ISO 639-1 language of the suggestion (the action item's; the conversation's for the
    /// others), when known.
    #[serde(default)]
    pub language: Option<String>,
    /// The action item's confidence in 0..=1; `None` for the other kinds.
    #[serde(default)]
    pub confidence: Option<f64>,
    /// Experience profile applied to the conversation, when known.
    #[serde(default)]
    pub profile: Option<String>,
    /// Characters changed, for `edited_and_sent` only.
    #[serde(default)]
    pub edit_size: Option<i64>,
    /// The representative's reason code, as sent (a code, never free text).
    #[serde(default)]
    pub reason_code: Option<String>,
    /// What the representative did ([`RepresentativeAction::name`]: `viewed`, `accepted`,
    /// `copied`, `edited_and_sent`, `discarded`, `thumbs_up`, `thumbs_down`); `None` for
    /// pipeline records. A string, not a symbol of `action`'s closed enum: see
    /// `docs/contract.md` ("Representative interactions").
    #[serde(default)]
    pub representative_action: Option<String>,
}

/// What a representative did with a suggestion (`InteractionEvent.action`). The Avro enum
/// declares `unknown` as its default: a symbol added later reads as `unknown` in older
/// readers, which dead-letter it (`unknown action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RepresentativeAction {
    /// The suggestion was shown to the representative.
    Viewed,
    /// Accepted as it was.
    Accepted,
    /// Copied.
    Copied,
    /// Edited, then sent (`edit_size` says how much was changed).
    EditedAndSent,
    /// Discarded.
    Discarded,
    /// Thumbs up.
    ThumbsUp,
    /// Thumbs down.
    ThumbsDown,
    /// A symbol this reader does not know (never valid).
    Unknown,
}

impl RepresentativeAction {
    /// Every valid action, in schema order (`Unknown` left out).
    pub const VALID: [RepresentativeAction; 7] = [
        RepresentativeAction::Viewed,
        RepresentativeAction::Accepted,
        RepresentativeAction::Copied,
        RepresentativeAction::EditedAndSent,
        RepresentativeAction::Discarded,
        RepresentativeAction::ThumbsUp,
        RepresentativeAction::ThumbsDown,
    ];

    /// The symbol (`viewed`, `edited_and_sent`, ...).
    pub fn name(self) -> &'static str {
        match self {
            RepresentativeAction::Viewed => "viewed",
            RepresentativeAction::Accepted => "accepted",
            RepresentativeAction::Copied => "copied",
            RepresentativeAction::EditedAndSent => "edited_and_sent",
            RepresentativeAction::Discarded => "discarded",
            RepresentativeAction::ThumbsUp => "thumbs_up",
            RepresentativeAction::ThumbsDown => "thumbs_down",
            RepresentativeAction::Unknown => "unknown",
        }
    }

    /// The symbol of telemetry's closed `action` enum that old readers get: the same action
    /// where that enum has it; `ran` for `viewed` (the suggestion was put before the
    /// representative), which old readers tell from pipeline runs by `outcome` =
    /// `interaction`.
    pub fn legacy(self) -> InteractionAction {
        match self {
            RepresentativeAction::Accepted => InteractionAction::Accepted,
            RepresentativeAction::Copied => InteractionAction::Copied,
            RepresentativeAction::EditedAndSent => InteractionAction::EditedAndSent,
            RepresentativeAction::Discarded => InteractionAction::Discarded,
            RepresentativeAction::ThumbsUp => InteractionAction::ThumbsUp,
            RepresentativeAction::ThumbsDown => InteractionAction::ThumbsDown,
            RepresentativeAction::Viewed | RepresentativeAction::Unknown => InteractionAction::Ran,
        }
    }
}

/// Which front end sent an interaction event. The Avro enum's default is `other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InteractionSource {
    /// A CRM front end (Dynamics 365-like, Salesforce-like).
    Crm,
    /// A meeting or call front end.
    Meeting,
    /// Anything else, or a source this reader does not know.
    Other,
}

/// What a representative did with one suggestion of an insight, sent by a CRM or meeting
/// front end (topic [`topics::INTERACTIONS`], key: conversation id).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InteractionEvent {
    /// Tenant id.
    pub tenant_id: String,
    /// Conversation id (equal to the Kafka key).
    pub conversation_id: String,
    /// The suggestion's id in the insight (`id` of an action item, tracker hit or question).
    pub item_id: String,
    /// What the representative did.
    pub action: RepresentativeAction,
    /// Characters changed (inserted plus deleted), never the text; only with
    /// `edited_and_sent`, and then at least 0.
    #[serde(default)]
    pub edit_size: Option<i64>,
    /// Why (with `thumbs_down`, `discarded`...): a code of at most 64 characters of
    /// `a-z0-9_.-` (suggested: `wrong_owner`, `wrong_due_date`, `not_an_action`,
    /// `duplicate`, `irrelevant`, `wrong_language`, `other`), never free text.
    #[serde(default)]
    pub reason_code: Option<String>,
    /// The representative (their id in the front end). Personal data: not copied into
    /// telemetry.
    pub actor: String,
    /// Milliseconds since the Unix epoch when the representative acted.
    pub occurred_at_ms: i64,
    /// Which front end sent it.
    pub source: InteractionSource,
}

/// Classification of a dead letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeadLetterKind {
    /// Not decodable (bad magic byte, unknown fingerprint or schema id, truncated Avro, bad JSON).
    Undecodable,
    /// Decoded but invalid (missing key, key differs from the conversation id, bad value).
    Invalid,
    /// A tenant configuration that fails validation.
    InvalidConfig,
    /// Over a limit (segment too large...).
    OverLimit,
}

/// Dead-letter envelope: the original record and why it could not be processed. The source
/// position is also in the headers `debrief.source.topic`, `.partition`, `.offset`,
/// `debrief.error.kind` and `debrief.error.reason`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// Error kind.
    pub kind: DeadLetterKind,
    /// Readable reason.
    pub reason: String,
    /// Source topic.
    pub source_topic: String,
    /// Source partition.
    pub source_partition: i32,
    /// Source offset.
    pub source_offset: i64,
    /// Original key bytes.
    pub key: Option<Vec<u8>>,
    /// Original value bytes, or their first bytes when the value was too large for the
    /// dead-letter topic (then `original_size` and `original_sha256` are set).
    pub value: Option<Vec<u8>>,
    /// Milliseconds since the Unix epoch when the record was dead-lettered.
    pub failed_at_ms: i64,
    /// Size in bytes of the original value when `value` holds only its first bytes; `None`
    /// when `value` is the whole original.
    #[serde(default)]
    pub original_size: Option<i64>,
    /// SHA-256 (lower-case hex) of the original value when it was truncated.
    #[serde(default)]
    pub original_sha256: Option<String>,
}

/// Erasure request (topic key: tenant id): delete everything derived from one conversation,
/// from one participant's conversations, or from every conversation of a tenant
/// ([`crate::governance::Scope::of`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErasureRequest {
    /// Request id, echoed in the erasure proof.
    pub request_id: String,
    /// Tenant id.
    pub tenant_id: String,
    /// One conversation; `None` means every conversation of the tenant.
    pub conversation_id: Option<String>,
    /// Milliseconds since the Unix epoch when the request was made.
    pub requested_at_ms: i64,
    /// Why (`opt_out`, `user_request`, `retention`).
    pub reason: String,
    /// One data subject (a speaker id): every conversation of the tenant they spoke in.
    /// Ignored when `conversation_id` is set.
    #[serde(default)]
    pub participant_id: Option<String>,
    /// Who asked (an admin id or a service name), for the audit trail.
    #[serde(default)]
    pub requested_by: Option<String>,
}
