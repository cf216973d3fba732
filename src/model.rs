//! The conversation model every extractor reads: a conversation and its ordered segments.
//!
//! Inputs (files, Kafka events) are turned into a [`Conversation`] by `ingest`; extractors in
//! `extract` read it and never mutate it.

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};

/// Which side of the conversation a speaker is on.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// Seller, agent, host: the tenant's own people.
    Internal,
    /// Customer, caller, prospect.
    External,
    /// Not known (no role given and no tenant rule matched).
    #[default]
    Unknown,
}

impl Side {
    /// Parses a role as publishers send it. Accepts `internal`/`external` and the usual
    /// aliases (`seller`, `agent`, `host`, `rep`, `employee`; `customer`, `client`, `caller`,
    /// `prospect`, `guest`, `buyer`), case-insensitively. Anything else is `None`.
    pub fn from_role(role: &str) -> Option<Side> {
        let r = role.trim().to_ascii_lowercase();
        match r.as_str() {
            "internal" | "seller" | "agent" | "host" | "rep" | "representative" | "employee"
            | "sales" | "salesperson" | "organizer" | "organiser" => Some(Side::Internal),
            "external" | "customer" | "client" | "caller" | "prospect" | "guest" | "buyer"
            | "lead" | "contact" => Some(Side::External),
            "unknown" | "" => Some(Side::Unknown),
            _ => None,
        }
    }

    /// The lower-case name used in JSON and Avro (`internal`, `external`, `unknown`).
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Internal => "internal",
            Side::External => "external",
            Side::Unknown => "unknown",
        }
    }
}

/// One transcribed utterance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Segment {
    /// Segment id, unique within the conversation. Files without ids get their 0-based
    /// position as id (`"0"`, `"1"`, ...).
    pub id: String,
    /// Stable speaker id (diarisation label, user id or e-mail).
    pub speaker: String,
    /// Display name, when the publisher knows it.
    pub speaker_name: Option<String>,
    /// The speaker's side.
    pub side: Side,
    /// Start offset from the conversation start, in milliseconds. `None` when unknown.
    pub start_ms: Option<i64>,
    /// End offset from the conversation start, in milliseconds. `None` when unknown.
    pub end_ms: Option<i64>,
    /// The transcribed text (may be empty, unpunctuated, lower-case).
    pub text: String,
    /// ISO 639-1 language of this segment, when the publisher knows it.
    pub language: Option<String>,
    /// Recogniser confidence in 0..=1, when known.
    pub confidence: Option<f32>,
}

/// A whole conversation, segments ordered as the publisher ordered them (by start offset for
/// assembled streams).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Conversation {
    /// Conversation id: the Kafka key of every event and of the insight.
    pub id: String,
    /// Tenant the conversation belongs to (`"default"` for files without one).
    pub tenant_id: String,
    /// Publishing platform (`teams`, `zoom`, `file`...), when known.
    pub source_platform: Option<String>,
    /// Version of the publishing client (`major.minor.patch`), when known.
    pub client_version: Option<String>,
    /// ISO 639-1 language given by the publisher; wins over detection.
    pub language: Option<String>,
    /// Wall-clock start of the conversation, with the publisher's UTC offset.
    pub started_at: Option<DateTime<FixedOffset>>,
    /// IANA time zone of the conversation (`Europe/Paris`), used to resolve due dates.
    pub time_zone: Option<String>,
    /// The segments.
    pub segments: Vec<Segment>,
    /// The representative the conversation belongs to (speaker id or e-mail address), when
    /// the publisher says; decides the experience profile (`tenant::profiles::owner_of`).
    #[serde(default)]
    pub owner_id: Option<String>,
}

impl Conversation {
    /// Total number of characters (Unicode scalar values) of transcript text.
    pub fn text_chars(&self) -> usize {
        self.segments.iter().map(|s| s.text.chars().count()).sum()
    }
}
