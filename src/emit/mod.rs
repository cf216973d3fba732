//! What the pipeline writes besides the insight itself: routing of insights to CRM topics,
//! interaction telemetry, and dead letters with their headers. Pure functions: the pipeline
//! passes the clock in.

use crate::config::CrmTopics;
use crate::events::{DeadLetter, DeadLetterKind, InteractionAction, InteractionTelemetry};
use crate::insight::{Insight, Outcome, SkipReason};
use crate::tenant::Crm;
use rdkafka::message::{Header, OwnedHeaders};

/// Header with the source topic of a dead letter.
pub const HEADER_SOURCE_TOPIC: &str = "debrief.source.topic";
/// Header with the source partition of a dead letter (decimal).
pub const HEADER_SOURCE_PARTITION: &str = "debrief.source.partition";
/// Header with the source offset of a dead letter (decimal).
pub const HEADER_SOURCE_OFFSET: &str = "debrief.source.offset";
/// Header with the dead letter's kind (`undecodable`, `invalid`, `invalid_config`, `over_limit`).
pub const HEADER_ERROR_KIND: &str = "debrief.error.kind";
/// Header with the readable reason.
pub const HEADER_ERROR_REASON: &str = "debrief.error.reason";

/// The topic a tenant's insights go to; `None` for [`Crm::None`] (no CRM write-back).
pub fn insight_topic(crm: Crm, topics: &CrmTopics) -> Option<&str> {
    match crm {
        Crm::Dynamics => Some(&topics.dynamics),
        Crm::Salesforce => Some(&topics.salesforce),
        Crm::None => None,
    }
}

/// Records in the insight that segments were dropped at the per-conversation limit: adds
/// [`SkipReason::SegmentLimit`] (kept sorted and unique) and turns `complete` into `partial`.
/// Does nothing when `dropped_segments` is 0.
pub fn mark_segment_limit(insight: &mut Insight, dropped_segments: u64) {
    if dropped_segments == 0 {
        return;
    }
    insight.skip_reasons.push(SkipReason::SegmentLimit);
    insight.skip_reasons.sort();
    insight.skip_reasons.dedup();
    if insight.outcome == Outcome::Complete {
        insight.outcome = Outcome::Partial;
    }
}

/// The lower-case name of an outcome, as in the insight's JSON.
pub fn outcome_name(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Complete => "complete",
        Outcome::Partial => "partial",
        Outcome::Skipped => "skipped",
    }
}

/// The lower-case name of a dead-letter kind (metrics label and `debrief.error.kind` header).
pub fn kind_name(kind: DeadLetterKind) -> &'static str {
    match kind {
        DeadLetterKind::Undecodable => "undecodable",
        DeadLetterKind::Invalid => "invalid",
        DeadLetterKind::InvalidConfig => "invalid_config",
        DeadLetterKind::OverLimit => "over_limit",
    }
}

/// The telemetry record of one insight (feature `insight`): `ran` unless the insight was
/// skipped, items = action items + tracker hits + questions, durations as measured by the
/// caller.
pub fn insight_telemetry(
    insight: &Insight,
    duration_us: i64,
    latency_ms: Option<i64>,
    now_ms: i64,
) -> InteractionTelemetry {
    let items = insight.action_items.len() + insight.tracker_hits.len() + insight.questions.len();
    InteractionTelemetry {
        tenant_id: insight.tenant_id.clone(),
        conversation_id: insight.conversation_id.clone(),
        feature: "insight".to_string(),
        action: if insight.outcome == Outcome::Skipped {
            InteractionAction::Skipped
        } else {
            InteractionAction::Ran
        },
        outcome: outcome_name(insight.outcome).to_string(),
        duration_us,
        latency_ms,
        items: items as i64,
        recorded_at_ms: now_ms,
        extractor_version: insight.extractor_version.clone(),
        item_id: None,
        item_kind: None,
        item_type: None,
        language: None,
        confidence: None,
        profile: None,
        edit_size: None,
        reason_code: None,
        representative_action: None,
    }
}

/// Where a record that cannot be processed came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceRef<'a> {
    /// Topic.
    pub topic: &'a str,
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// Key bytes, if any.
    pub key: Option<&'a [u8]>,
    /// Value bytes, if any.
    pub value: Option<&'a [u8]>,
}

/// Most bytes of an original value a dead letter carries (256 KiB). Kafka refuses records
/// over a topic's `max.message.bytes` (1 MiB by default); a record too large for the
/// dead-letter topic would block its partition, so a larger value is cut to its first bytes,
/// with its size and SHA-256 (the original stays on the source topic, at the position the
/// headers give).
pub const MAX_DEAD_LETTER_VALUE_BYTES: usize = 256 * 1024;

/// Most bytes of an original key a dead letter carries (the Kafka key of the dead letter too).
pub const MAX_DEAD_LETTER_KEY_BYTES: usize = 1024;

/// Most characters of a dead letter's reason (it is a header too).
pub const MAX_REASON_CHARS: usize = 1024;

/// The dead letter for a source record: the original key and value, each cut to its limit
/// ([`MAX_DEAD_LETTER_KEY_BYTES`], [`MAX_DEAD_LETTER_VALUE_BYTES`]), and the reason cut to
/// [`MAX_REASON_CHARS`].
pub fn dead_letter(
    source: SourceRef<'_>,
    kind: DeadLetterKind,
    reason: &str,
    now_ms: i64,
) -> DeadLetter {
    let (value, original_size, original_sha256) = match source.value {
        Some(v) if v.len() > MAX_DEAD_LETTER_VALUE_BYTES => (
            Some(v[..MAX_DEAD_LETTER_VALUE_BYTES].to_vec()),
            Some(v.len() as i64),
            Some(hex_sha256(v)),
        ),
        other => (other.map(<[u8]>::to_vec), None, None),
    };
    let reason: String = reason.chars().take(MAX_REASON_CHARS).collect();
    DeadLetter {
        kind,
        reason,
        source_topic: source.topic.to_string(),
        source_partition: source.partition,
        source_offset: source.offset,
        key: source
            .key
            .map(|k| k[..k.len().min(MAX_DEAD_LETTER_KEY_BYTES)].to_vec()),
        value,
        failed_at_ms: now_ms,
        original_size,
        original_sha256,
    }
}

fn hex_sha256(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The headers of a dead letter: source topic, partition, offset, error kind and reason.
pub fn dead_letter_headers(dl: &DeadLetter) -> OwnedHeaders {
    let partition = dl.source_partition.to_string();
    let offset = dl.source_offset.to_string();
    OwnedHeaders::new_with_capacity(5)
        .insert(Header {
            key: HEADER_SOURCE_TOPIC,
            value: Some(dl.source_topic.as_bytes()),
        })
        .insert(Header {
            key: HEADER_SOURCE_PARTITION,
            value: Some(partition.as_bytes()),
        })
        .insert(Header {
            key: HEADER_SOURCE_OFFSET,
            value: Some(offset.as_bytes()),
        })
        .insert(Header {
            key: HEADER_ERROR_KIND,
            value: Some(kind_name(dl.kind).as_bytes()),
        })
        .insert(Header {
            key: HEADER_ERROR_REASON,
            value: Some(dl.reason.as_bytes()),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source<'a>(key: &'a [u8], value: &'a [u8]) -> SourceRef<'a> {
        SourceRef {
            topic: "t",
            partition: 1,
            offset: 7,
            key: Some(key),
            value: Some(value),
        }
    }

    #[test]
    fn a_dead_letter_keeps_a_small_record_whole() {
        let dl = dead_letter(source(b"k", b"abc"), DeadLetterKind::Undecodable, "r", 5);
        assert_eq!(dl.value.as_deref(), Some(&b"abc"[..]));
        assert_eq!(dl.key.as_deref(), Some(&b"k"[..]));
        assert_eq!((dl.original_size, dl.original_sha256), (None, None));
    }

    #[test]
    fn a_dead_letter_cuts_a_large_record_and_says_what_it_was() {
        let big = vec![b'x'; 10 * 1024 * 1024];
        let key = vec![b'k'; 5000];
        let reason = "é".repeat(5000);
        let dl = dead_letter(source(&key, &big), DeadLetterKind::Undecodable, &reason, 5);
        assert_eq!(
            dl.value.as_ref().map(Vec::len),
            Some(MAX_DEAD_LETTER_VALUE_BYTES)
        );
        assert_eq!(dl.original_size, Some(10 * 1024 * 1024));
        // sha256 of 10 MiB of 'x', computed independently (`head -c 10485760 /dev/zero | tr
        // '\\0' x | sha256sum`).
        assert_eq!(
            dl.original_sha256.as_deref(),
            Some("462a12a876c0364e4f1f3d12ed33dcae125f1198010ff78d8f4c3f4de0412d49")
        );
        assert_eq!(
            dl.key.as_ref().map(Vec::len),
            Some(MAX_DEAD_LETTER_KEY_BYTES)
        );
        assert_eq!(dl.reason.chars().count(), MAX_REASON_CHARS);
    }
    use crate::insight::{FinalisedBy, LanguageReport, LanguageSource};
    use rdkafka::message::Headers;

    fn insight(outcome: Outcome, reasons: Vec<SkipReason>) -> Insight {
        Insight {
            conversation_id: "c1".into(),
            tenant_id: "acme".into(),
            schema_version: 1,
            extractor_version: "debrief-test".into(),
            config_version: 0,
            source_platform: None,
            client_version: None,
            finalised_by: FinalisedBy::EndEvent,
            outcome,
            skip_reasons: reasons,
            language: LanguageReport {
                code: None,
                confidence: 0.0,
                source: LanguageSource::Unknown,
                speakers: vec![],
            },
            segment_count: 0,
            text_chars: 0,
            kpis: None,
            questions: vec![],
            action_items: vec![],
            tracker_hits: vec![],
            tracker_counts: vec![],
            highlights: vec![],
            redactions: vec![],
        }
    }

    #[test]
    fn routes_by_crm() {
        let t = CrmTopics {
            dynamics: "d".into(),
            salesforce: "s".into(),
        };
        assert_eq!(insight_topic(Crm::Dynamics, &t), Some("d"));
        assert_eq!(insight_topic(Crm::Salesforce, &t), Some("s"));
        assert_eq!(insight_topic(Crm::None, &t), None);
    }

    #[test]
    fn segment_limit_makes_a_complete_insight_partial_and_keeps_reasons_sorted() {
        let mut i = insight(Outcome::Complete, vec![]);
        mark_segment_limit(&mut i, 0);
        assert_eq!((i.outcome, i.skip_reasons.len()), (Outcome::Complete, 0));
        mark_segment_limit(&mut i, 3);
        assert_eq!(i.outcome, Outcome::Partial);
        assert_eq!(i.skip_reasons, vec![SkipReason::SegmentLimit]);
        let mut i = insight(
            Outcome::Partial,
            vec![SkipReason::ShortContent, SkipReason::FeatureDisabled],
        );
        mark_segment_limit(&mut i, 1);
        mark_segment_limit(&mut i, 1);
        assert_eq!(
            i.skip_reasons,
            vec![
                SkipReason::ShortContent,
                SkipReason::SegmentLimit,
                SkipReason::FeatureDisabled
            ]
        );
        let mut i = insight(Outcome::Skipped, vec![SkipReason::ClientVersion]);
        mark_segment_limit(&mut i, 1);
        assert_eq!(i.outcome, Outcome::Skipped);
    }

    #[test]
    fn telemetry_says_skipped_for_skipped_insights() {
        let t = insight_telemetry(
            &insight(Outcome::Skipped, vec![SkipReason::ClientVersion]),
            12,
            Some(3),
            99,
        );
        assert_eq!(t.action, InteractionAction::Skipped);
        assert_eq!(
            (
                t.outcome.as_str(),
                t.duration_us,
                t.latency_ms,
                t.recorded_at_ms,
                t.items
            ),
            ("skipped", 12, Some(3), 99, 0)
        );
        assert_eq!(
            (
                t.tenant_id.as_str(),
                t.conversation_id.as_str(),
                t.feature.as_str()
            ),
            ("acme", "c1", "insight")
        );
        let t = insight_telemetry(&insight(Outcome::Partial, vec![]), 0, None, 0);
        assert_eq!(t.action, InteractionAction::Ran);
    }

    #[test]
    fn dead_letter_headers_carry_the_source_position_and_reason() {
        let src = SourceRef {
            topic: "in",
            partition: 3,
            offset: 42,
            key: Some(b"k"),
            value: Some(b"\x01\x02"),
        };
        let dl = dead_letter(src, DeadLetterKind::Undecodable, "bad magic: 0x01", 7);
        assert_eq!(dl.key.as_deref(), Some(&b"k"[..]));
        assert_eq!(dl.value.as_deref(), Some(&b"\x01\x02"[..]));
        let h = dead_letter_headers(&dl);
        let got: Vec<(String, String)> = h
            .iter()
            .map(|h| {
                (
                    h.key.to_string(),
                    String::from_utf8(h.value.unwrap().to_vec()).unwrap(),
                )
            })
            .collect();
        let want = [
            ("debrief.source.topic", "in"),
            ("debrief.source.partition", "3"),
            ("debrief.source.offset", "42"),
            ("debrief.error.kind", "undecodable"),
            ("debrief.error.reason", "bad magic: 0x01"),
        ];
        assert_eq!(
            got,
            want.map(|(k, v)| (k.to_string(), v.to_string())).to_vec()
        );
    }
}
