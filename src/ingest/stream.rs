//! A conversation as the contract events a meeting platform publishes: a live stream
//! (`ConversationStarted`, segments, `ConversationEnded` with the segment count) or one
//! `CompleteTranscript`. Used by `debrief produce`, the benchmark and the tests.

use crate::events::{
    CompleteTranscript, ConversationEnded, ConversationStarted, EventHeader, SegmentBody,
    SpeakerRole, TranscriptEvent, TranscriptPayload,
};
use crate::ingest::files;
use crate::model::{Conversation, Segment, Side};
use clap::ValueEnum;
use std::collections::HashSet;

/// Source platform written in the header when neither the file nor `--source-platform`
/// names one.
pub const DEFAULT_SOURCE_PLATFORM: &str = "file";

/// Client version written in the header when neither the file nor `--client-version` gives
/// one: this crate's version.
pub const DEFAULT_CLIENT_VERSION: &str = env!("CARGO_PKG_VERSION");

/// How conversations are published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum Mode {
    /// Started, segments one by one, Ended (a live meeting).
    #[default]
    Stream,
    /// One CompleteTranscript event per conversation (a post-meeting export).
    Complete,
}

/// What the conversion writes besides the conversation itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConvertOptions {
    /// Stream or complete transcripts.
    pub mode: Mode,
    /// Stream mode: send a partial revision (revision 0, not final, first half of the words)
    /// before each final segment (then revision 1).
    pub partials: bool,
    /// Tenant id for every event; `None`: the conversation's.
    pub tenant: Option<String>,
    /// Client version for every event; `None`: the conversation's, else
    /// [`DEFAULT_CLIENT_VERSION`].
    pub client_version: Option<String>,
    /// Source platform for every event; `None`: the conversation's, else
    /// [`DEFAULT_SOURCE_PLATFORM`].
    pub source_platform: Option<String>,
}

/// The header every event of `conv` carries (`emitted_at_ms` is left empty: the publisher
/// stamps it at send time). An empty tenant id becomes
/// [`files::DEFAULT_TENANT`].
pub fn header_for(conv: &Conversation, opts: &ConvertOptions) -> EventHeader {
    let pick = |over: &Option<String>, own: &Option<String>, default: &str| {
        over.clone()
            .or_else(|| own.clone())
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| default.to_string())
    };
    EventHeader {
        tenant_id: pick(
            &opts.tenant,
            &Some(conv.tenant_id.clone()),
            files::DEFAULT_TENANT,
        ),
        source_platform: pick(
            &opts.source_platform,
            &conv.source_platform,
            DEFAULT_SOURCE_PLATFORM,
        ),
        client_version: pick(
            &opts.client_version,
            &conv.client_version,
            DEFAULT_CLIENT_VERSION,
        ),
        emitted_at_ms: None,
    }
}

fn role_of(side: Side) -> SpeakerRole {
    match side {
        Side::Internal => SpeakerRole::Internal,
        Side::External => SpeakerRole::External,
        Side::Unknown => SpeakerRole::Unknown,
    }
}

/// A segment as a final segment body of `revision`.
pub fn final_body(seg: &Segment, revision: i32) -> SegmentBody {
    SegmentBody {
        segment_id: seg.id.clone(),
        revision,
        is_final: true,
        speaker_id: seg.speaker.clone(),
        speaker_name: seg.speaker_name.clone(),
        speaker_role: role_of(seg.side),
        start_ms: seg.start_ms,
        end_ms: seg.end_ms,
        text: seg.text.clone(),
        language: seg.language.clone(),
        confidence: seg.confidence,
    }
}

/// What a live recogniser would have sent half-way through `seg`: revision 0, not final, the
/// first half of the words (rounded up, so a one-word segment keeps its word), ending at the
/// midpoint of the segment's offsets when both are known.
pub fn partial_body(seg: &Segment) -> SegmentBody {
    let words: Vec<&str> = seg.text.split_whitespace().collect();
    let keep = words.len().div_ceil(2);
    let end_ms = match (seg.start_ms, seg.end_ms) {
        (Some(s), Some(e)) => Some(s + (e - s) / 2),
        (_, e) => e,
    };
    SegmentBody {
        revision: 0,
        is_final: false,
        end_ms,
        text: words[..keep].join(" "),
        ..final_body(seg, 0)
    }
}

/// Number of distinct segment ids of `conv` (what `ConversationEnded.segment_count` says),
/// saturated at `i32::MAX`.
pub fn distinct_segments(conv: &Conversation) -> i32 {
    let ids: HashSet<&str> = conv.segments.iter().map(|s| s.id.as_str()).collect();
    i32::try_from(ids.len()).unwrap_or(i32::MAX)
}

/// The events that publish `conv` (key: `conv.id`), in publishing order.
///
/// Stream mode: `Started`, then per segment in file order (a partial at revision 0 then the
/// final at revision 1 with `partials`, else the final at revision 0), then `Ended` with
/// `segment_count` = distinct segment ids and `ended_at_ms` = start time + the largest segment
/// end offset (when the start time is known). Complete mode: one `Complete` event with every
/// segment final at revision 0. An empty conversation gives `Started` and `Ended` (stream) or
/// an empty `Complete`.
pub fn to_events(conv: &Conversation, opts: &ConvertOptions) -> Vec<TranscriptEvent> {
    let header = header_for(conv, opts);
    let event = |payload| TranscriptEvent {
        header: header.clone(),
        conversation_id: conv.id.clone(),
        payload,
    };
    let started_at_ms = conv.started_at.map(|t| t.timestamp_millis());
    match opts.mode {
        Mode::Complete => vec![event(TranscriptPayload::Complete(CompleteTranscript {
            started_at_ms,
            time_zone: conv.time_zone.clone(),
            language: conv.language.clone(),
            title: None,
            segments: conv.segments.iter().map(|s| final_body(s, 0)).collect(),
            owner_id: conv.owner_id.clone(),
        }))],
        Mode::Stream => {
            let per_segment = if opts.partials { 2 } else { 1 };
            let mut out = Vec::with_capacity(conv.segments.len() * per_segment + 2);
            out.push(event(TranscriptPayload::Started(ConversationStarted {
                started_at_ms,
                time_zone: conv.time_zone.clone(),
                language: conv.language.clone(),
                title: None,
                owner_id: conv.owner_id.clone(),
            })));
            for seg in &conv.segments {
                if opts.partials {
                    out.push(event(TranscriptPayload::Segment(partial_body(seg))));
                    out.push(event(TranscriptPayload::Segment(final_body(seg, 1))));
                } else {
                    out.push(event(TranscriptPayload::Segment(final_body(seg, 0))));
                }
            }
            let last_end = conv
                .segments
                .iter()
                .filter_map(|s| s.end_ms.or(s.start_ms))
                .max();
            let ended_at_ms = match (started_at_ms, last_end) {
                (Some(start), Some(end)) => Some(start.saturating_add(end.max(0))),
                (start, None) => start,
                (None, Some(_)) => None,
            };
            out.push(event(TranscriptPayload::Ended(ConversationEnded {
                ended_at_ms,
                segment_count: Some(distinct_segments(conv)),
            })));
            out
        }
    }
}
