//! Tests of the contract and the codecs. Sample values, the mirror check (Avro field names are
//! the serde names), round trips through every encoding, bad input, schema evolution and the
//! Confluent path against an in-process registry.

use super::registry::fake;
use super::*;
use crate::events::{
    CompleteTranscript, ConversationEnded, ConversationStarted, DeadLetterKind, EventHeader,
    InteractionAction, InteractionEvent, InteractionSource, RepresentativeAction, SegmentBody,
    SpeakerRole, TranscriptPayload,
};
use crate::governance::audit::AuditRecord;
use crate::insight::{
    ActionItem, ActionState, ActionStatus, ActionType, Due, Evidence, FinalisedBy, Highlight,
    HighlightKind, Kpis, LanguageReport, LanguageSource, Outcome, ParticipantKpis, Question,
    QuestionCounts, RedactionCount, SkipReason, SpeakerLanguage, TrackerCount, TrackerHit,
    TrackerKind, EXTRACTOR_VERSION,
};
use crate::model::Side;
use crate::tenant::{CompetitorConfig, Crm, Features, TrackerConfig};
use apache_avro::types::Value;
use proptest::prelude::*;
use std::collections::BTreeMap;

// ---- samples: every optional field set, every list non-empty --------------------------------

fn header() -> EventHeader {
    EventHeader {
        tenant_id: "acme".into(),
        source_platform: "teams".into(),
        client_version: "1.2.0".into(),
        emitted_at_ms: Some(1_717_171_717_000),
    }
}

fn segment() -> SegmentBody {
    SegmentBody {
        segment_id: "s-0007".into(),
        revision: 2,
        is_final: true,
        speaker_id: "ana@acme.example".into(),
        speaker_name: Some("Ana Núñez".into()),
        speaker_role: SpeakerRole::Internal,
        start_ms: Some(61_250),
        end_ms: Some(64_900),
        text: "Je vous envoie le devis d'ici vendredi.".into(),
        language: Some("fr".into()),
        confidence: Some(0.875),
    }
}

fn segment_event() -> TranscriptEvent {
    TranscriptEvent {
        header: header(),
        conversation_id: "conv-42".into(),
        payload: TranscriptPayload::Segment(segment()),
    }
}

fn transcript_events() -> Vec<TranscriptEvent> {
    let with = |payload| TranscriptEvent {
        header: header(),
        conversation_id: "conv-42".into(),
        payload,
    };
    vec![
        with(TranscriptPayload::Started(ConversationStarted {
            started_at_ms: Some(1_717_171_000_000),
            time_zone: Some("Europe/Paris".into()),
            language: Some("fr".into()),
            title: Some("Renouvellement".into()),
            owner_id: Some("ann@acme.example".into()),
        })),
        segment_event(),
        with(TranscriptPayload::Ended(ConversationEnded {
            ended_at_ms: Some(1_717_174_600_000),
            segment_count: Some(212),
        })),
        with(TranscriptPayload::Complete(CompleteTranscript {
            started_at_ms: Some(1_717_171_000_000),
            time_zone: Some("America/New_York".into()),
            language: None,
            title: Some("QBR".into()),
            segments: vec![
                segment(),
                SegmentBody {
                    segment_id: "s-0008".into(),
                    ..segment()
                },
            ],
            owner_id: Some("spk_2".into()),
        })),
    ]
}

fn insight() -> Insight {
    Insight {
        conversation_id: "conv-42".into(),
        tenant_id: "acme".into(),
        schema_version: 1,
        extractor_version: EXTRACTOR_VERSION.into(),
        config_version: 7,
        source_platform: Some("teams".into()),
        client_version: Some("1.2.0".into()),
        finalised_by: FinalisedBy::EndEvent,
        outcome: Outcome::Partial,
        skip_reasons: vec![SkipReason::ShortContent, SkipReason::FeatureDisabled],
        language: LanguageReport {
            code: Some("fr".into()),
            confidence: 0.96875,
            source: LanguageSource::Detected,
            speakers: vec![SpeakerLanguage {
                speaker: "bob".into(),
                code: "en".into(),
                confidence: 0.5,
            }],
        },
        segment_count: 212,
        text_chars: 18_034,
        kpis: Some(Kpis {
            duration_ms: Some(3_600_000),
            participants: vec![ParticipantKpis {
                speaker: "ana@acme.example".into(),
                side: Side::Internal,
                talk_time_ms: Some(1_800_000),
                talk_share: Some(0.5),
                words: 4_500,
                words_per_minute: Some(150.0),
                longest_monologue_ms: Some(95_000),
                questions: 12,
                interruptions: Some(3),
            }],
            internal_talk_time_ms: Some(1_800_000),
            external_talk_time_ms: Some(1_200_000),
            talk_to_listen_ratio: Some(1.5),
            switches: 240,
            switches_per_hour: Some(240.0),
            longest_monologue_ms: Some(95_000),
            longest_customer_monologue_ms: Some(61_000),
            average_pause_before_speaking_ms: Some(412.25),
            non_talk_time_ms: Some(24_000),
            interruptions: Some(5),
            questions: QuestionCounts {
                internal: 12,
                external: 4,
                unknown: 0,
            },
        }),
        questions: vec![Question {
            segment_id: "s-0003".into(),
            speaker: "bob".into(),
            side: Side::External,
            text: "Can you send the quote?".into(),
            start_char: 0,
            end_char: 23,
            id: "6d2c5a80f1a4be33".into(),
        }],
        action_items: vec![ActionItem {
            text: "Send the quote".into(),
            evidence: vec![Evidence {
                segment_id: "s-0007".into(),
                start_char: 0,
                end_char: 38,
            }],
            owner: Some("ana@acme.example".into()),
            due: Some(Due {
                date: "2024-06-07".into(),
                datetime: Some("2024-06-07T17:00:00+02:00".into()),
                phrase: "d'ici vendredi".into(),
            }),
            action_type: ActionType::Email,
            state: ActionState::Committed,
            confidence: 0.8125,
            language: "fr".into(),
            status: ActionStatus::Committed,
            id: "0f5e8b8a9c3d2e71".into(),
        }],
        tracker_hits: vec![TrackerHit {
            tracker: "Salesforce".into(),
            kind: TrackerKind::Competitor,
            term: "Salesforce".into(),
            heard: "salesforce".into(),
            speaker: "bob".into(),
            side: Side::External,
            segment_id: "s-0010".into(),
            offset_ms: Some(70_000),
            start_char: 4,
            end_char: 14,
            id: "a4b3c2d1e0f98877".into(),
        }],
        tracker_counts: vec![TrackerCount {
            tracker: "Salesforce".into(),
            kind: TrackerKind::Competitor,
            side: Side::External,
            count: 1,
        }],
        highlights: vec![Highlight {
            text: "We'll go with the annual plan.".into(),
            kind: HighlightKind::Decision,
            speaker: "bob".into(),
            segment_id: "s-0005".into(),
            start_char: 0,
            end_char: 30,
            offset_ms: Some(95_000),
        }],
        redactions: vec![RedactionCount {
            kind: "PHONE".into(),
            count: 2,
        }],
        profile: Some("support".into()),
    }
}

fn telemetry() -> InteractionTelemetry {
    InteractionTelemetry {
        tenant_id: "acme".into(),
        conversation_id: "conv-42".into(),
        feature: "action_items".into(),
        action: InteractionAction::EditedAndSent,
        outcome: "complete".into(),
        duration_us: 1_250,
        latency_ms: Some(18),
        items: 3,
        recorded_at_ms: 1_717_174_600_123,
        extractor_version: EXTRACTOR_VERSION.into(),
        reason: Some("residency".into()),
        item_id: Some("5bdcc146bf60754e6a042426089575c7".into()),
        item_kind: Some("action_item".into()),
        item_type: Some("email".into()),
        language: Some("fr".into()),
        confidence: Some(0.8125),
        profile: Some("sales".into()),
        edit_size: Some(42),
        reason_code: None,
        representative_action: Some("edited_and_sent".into()),
    }
}

fn interaction_event() -> InteractionEvent {
    InteractionEvent {
        tenant_id: "acme".into(),
        conversation_id: "conv-42".into(),
        item_id: "0f5e8b8a9c3d2e71".into(),
        action: RepresentativeAction::ThumbsDown,
        edit_size: None,
        reason_code: Some("wrong_owner".into()),
        actor: "rep-17".into(),
        occurred_at_ms: 1_717_175_000_000,
        source: InteractionSource::Crm,
    }
}

fn dead_letter() -> DeadLetter {
    DeadLetter {
        kind: DeadLetterKind::Undecodable,
        reason: "bad magic: expected single-object magic c3 01, found 7b 22".into(),
        source_topic: "debrief.transcripts.v1".into(),
        source_partition: 3,
        source_offset: 1_234_567,
        key: Some(b"conv-42".to_vec()),
        value: Some(vec![0x7b, 0x22, 0x00, 0xff]),
        failed_at_ms: 1_717_174_600_999,
        original_size: Some(10_485_760),
        original_sha256: Some("ab".repeat(32)),
    }
}

fn tenant_config() -> TenantConfig {
    TenantConfig {
        tenant_id: "acme".into(),
        version: 7,
        trackers: vec![TrackerConfig {
            name: "Pricing".into(),
            terms: vec!["price".into(), "discount".into()],
            languages: BTreeMap::from([
                ("de".to_string(), vec!["Preis".to_string()]),
                (
                    "fr".to_string(),
                    vec!["prix".to_string(), "remise".to_string()],
                ),
            ]),
            teams: vec!["emea".into()],
            stemming: false,
            accent_insensitive: true,
        }],
        competitors: vec![CompetitorConfig {
            name: "Salesforce".into(),
            aliases: vec!["SFDC".into()],
            languages: BTreeMap::from([("es".to_string(), vec!["Fuerza".to_string()])]),
            teams: vec![],
        }],
        internal_domains: vec!["acme.example".into()],
        internal_speakers: vec!["host-1".into()],
        crm: Crm::Salesforce,
        features: Features {
            action_items: true,
            trackers: false,
            kpis: true,
            questions: false,
            redaction: false,
            interactions: false,
        },
        opted_out: false,
        insight_retention_days: Some(90),
        profiles: vec![crate::tenant::ProfileConfig {
            name: "support".into(),
            features: crate::tenant::ProfileFeatures {
                action_items: false,
                interactions: false,
                ..Default::default()
            },
        }],
        default_profile: Some("support".into()),
        profile_assignments: vec![crate::tenant::ProfileAssignment {
            representative: "Ann@acme.example".into(),
            profile: "default".into(),
        }],
        geography: Some("us".into()),
        allow_cross_region: Some(false),
        rules: vec![crate::tenant::RuleConfig {
            name: "competitor early".into(),
            combine: crate::tenant::Combine::AnyOf,
            conditions: vec![
                crate::tenant::RuleCondition {
                    kind: crate::tenant::ConditionKind::NoMention,
                    tracker: Some("Pricing".into()),
                    side: crate::tenant::RuleSide::External,
                    window: Some(crate::tenant::RuleWindow {
                        last_percent: Some(10),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                crate::tenant::RuleCondition {
                    kind: crate::tenant::ConditionKind::Interruptions,
                    count: Some(3),
                    minutes: Some(2),
                    ..Default::default()
                },
            ],
            repeat: true,
        }],
    }
}

fn erasure() -> ErasureRequest {
    ErasureRequest {
        request_id: "er-1".into(),
        tenant_id: "acme".into(),
        conversation_id: Some("conv-42".into()),
        requested_at_ms: 1_717_200_000_000,
        reason: "user_request".into(),
        participant_id: Some("alice@example.com".into()),
        requested_by: Some("admin-1".into()),
    }
}

fn index_entry() -> ConversationIndexEntry {
    ConversationIndexEntry {
        conversation_id: "conv-42".into(),
        tenant_id: "acme".into(),
        participants: vec!["alice@example.com".into(), "bob".into()],
        outputs: vec![crate::governance::OutputRef {
            topic: "debrief.insights.dynamics.v1".into(),
            key: "conv-42".into(),
        }],
        finalised_at_ms: 1_717_171_800_000,
        features: vec!["action_items".into(), "kpis".into()],
        telemetry_pseudonym: "00112233445566778899aabbccddeeff".into(),
        telemetry_key: vec![7; 32],
        suggestions: vec![crate::interactions::Suggestion {
            id: "0f5e8b8a9c3d2e71".into(),
            kind: "action_item".into(),
            item_type: "email".into(),
            language: Some("fr".into()),
            confidence: Some(0.8125),
        }],
        profile: Some("sales".into()),
    }
}

fn ledger_entry() -> ErasureLedgerEntry {
    ErasureLedgerEntry {
        request_id: "er-1".into(),
        tenant_id: "acme".into(),
        scope: "conversation".into(),
        reason: "user_request".into(),
        step: "crm_tombstoned".into(),
        count: 1,
        offsets: vec![crate::governance::LedgerOffset {
            topic: "debrief.insights.dynamics.v1".into(),
            partition: 0,
            offset: 12,
        }],
        requested_at_ms: 1_717_200_000_000,
        recorded_at_ms: 1_717_200_001_000,
    }
}

fn audit_record() -> AuditRecord {
    AuditRecord {
        action_id: "erasure-requested:er-1".into(),
        tenant_id: "acme".into(),
        action: "erasure_requested".into(),
        actor: "admin-1".into(),
        at_ms: 1_717_200_000_000,
        request_id: Some("er-1".into()),
        config_version: Some(3),
        scope: Some("tenant".into()),
        count: 4,
    }
}

fn alert() -> crate::rules::Alert {
    crate::rules::Alert {
        conversation_id: "conv-42".into(),
        tenant_id: "acme".into(),
        rule: "competitor early".into(),
        config_version: 3,
        occurrence: 2,
        segment_id: "seg-7".into(),
        segment_index: 6,
        at_ms: 61_000,
        trigger: crate::rules::AlertTrigger::ConversationEnd,
    }
}

fn single() -> Codec {
    Codec::new(Encoding::AvroSingleObject, None).unwrap()
}

// ---- the schemas ----------------------------------------------------------------------------

/// Every field and named type has a doc; every optional is `["null", T]` with default null.
fn check_docs(node: &serde_json::Value, path: &str, problems: &mut Vec<String>) {
    match node {
        serde_json::Value::Object(o) => {
            let ty = o.get("type").and_then(|t| t.as_str());
            if matches!(ty, Some("record" | "enum"))
                && o.get("doc")
                    .and_then(|d| d.as_str())
                    .is_none_or(str::is_empty)
            {
                problems.push(format!("{path}: named type without doc"));
            }
            if let Some(fields) = o.get("fields").and_then(|f| f.as_array()) {
                for f in fields {
                    let name = f.get("name").and_then(|n| n.as_str()).unwrap_or("?");
                    let p = format!("{path}.{name}");
                    if f.get("doc")
                        .and_then(|d| d.as_str())
                        .is_none_or(str::is_empty)
                    {
                        problems.push(format!("{p}: field without doc"));
                    }
                    if let Some(branches) = f.get("type").and_then(|t| t.as_array()) {
                        if branches.iter().any(|b| b == "null") {
                            if branches[0] != "null" || branches.len() != 2 {
                                problems.push(format!("{p}: optional must be [\"null\", T]"));
                            }
                            if f.get("default") != Some(&serde_json::Value::Null) {
                                problems.push(format!("{p}: optional without default null"));
                            }
                        }
                    }
                    check_docs(
                        f.get("type").unwrap_or(&serde_json::Value::Null),
                        &p,
                        problems,
                    );
                }
            }
            for key in ["items", "values"] {
                if let Some(inner) = o.get(key) {
                    check_docs(inner, path, problems);
                }
            }
        }
        serde_json::Value::Array(branches) => {
            for b in branches {
                check_docs(b, path, problems);
            }
        }
        _ => {}
    }
}

#[test]
fn every_schema_parses_and_is_documented() {
    let schemas = Schemas::get().unwrap();
    let mut fingerprints = std::collections::HashSet::new();
    for kind in RecordKind::ALL {
        let parsed = Schema::parse_str(kind.schema_json()).unwrap();
        assert_eq!(&parsed, schemas.schema(kind));
        let json: serde_json::Value = serde_json::from_str(kind.schema_json()).unwrap();
        assert_eq!(json["namespace"], "io.debrief.v1", "{kind}");
        assert!(
            json["doc"].as_str().unwrap().contains("FULL_TRANSITIVE"),
            "{kind}: compatibility rule"
        );
        let mut problems = Vec::new();
        check_docs(&json, kind.name(), &mut problems);
        assert!(problems.is_empty(), "{problems:#?}");
        assert!(
            fingerprints.insert(schemas.fingerprint(kind)),
            "{kind}: fingerprint collides"
        );
        assert_eq!(
            schemas.kind_of_fingerprint(schemas.fingerprint(kind)),
            Some(kind)
        );
    }
}

/// CRC-64-AVRO exactly as the Avro specification writes it.
fn crc64_as_specified(data: &[u8]) -> u64 {
    const EMPTY: u64 = 0xc15d_213a_a4d7_a795;
    let mut table = [0u64; 256];
    for (i, slot) in table.iter_mut().enumerate() {
        let mut fp = i as u64;
        for _ in 0..8 {
            fp = (fp >> 1) ^ (EMPTY & (fp & 1).wrapping_neg());
        }
        *slot = fp;
    }
    let mut fp = EMPTY;
    for b in data {
        fp = (fp >> 8) ^ table[((fp ^ u64::from(*b)) & 0xff) as usize];
    }
    fp
}

#[test]
fn fingerprint_is_the_specified_crc64_avro_little_endian() {
    // Test vectors from the Avro project's schema fingerprint tests.
    assert_eq!(
        crc64_as_specified(br#""null""#) as i64,
        7_195_948_357_588_979_594
    );
    assert_eq!(
        crc64_as_specified(br#""int""#) as i64,
        8_247_732_601_305_521_295
    );
    let schemas = Schemas::get().unwrap();
    for kind in RecordKind::ALL {
        // The specification's canonical form (checked against Java and fastavro in
        // canonical.rs), and the legacy one: apache-avro's.
        let canonical = parsing_canonical_form(kind.schema_json()).unwrap();
        assert_eq!(
            schemas.fingerprint(kind),
            crc64_as_specified(canonical.as_bytes()),
            "{kind}"
        );
        let legacy = schemas.schema(kind).canonical_form();
        assert_eq!(
            schemas.legacy_fingerprint(kind),
            crc64_as_specified(legacy.as_bytes()),
            "{kind}"
        );
    }
    let bytes = single()
        .encode(topics_for(RecordKind::MeetingInsight), &insight())
        .unwrap();
    let fp = schemas.fingerprint(RecordKind::MeetingInsight);
    assert_eq!(&bytes[..2], &[0xC3, 0x01]);
    assert_eq!(&bytes[2..10], &fp.to_le_bytes());
}

fn topics_for(kind: RecordKind) -> &'static str {
    use crate::events::topics;
    match kind {
        RecordKind::TranscriptEvent => topics::TRANSCRIPTS,
        RecordKind::MeetingInsight => topics::INSIGHTS_DYNAMICS,
        RecordKind::InteractionTelemetry => topics::TELEMETRY,
        RecordKind::DeadLetter => topics::DEAD_LETTER,
        RecordKind::TenantConfig => topics::TENANT_CONFIG,
        RecordKind::ErasureRequest => topics::ERASURE,
        RecordKind::ConversationIndex => topics::CONVERSATION_INDEX,
        RecordKind::ErasureLedger => topics::ERASURE_LEDGER,
        RecordKind::Audit => topics::AUDIT,
        RecordKind::Alert => topics::ALERTS,
        RecordKind::LiveInsight => topics::LIVE,
        RecordKind::InteractionEvent => topics::INTERACTIONS,
    }
}

/// The Avro record, read back as JSON, equals the serde JSON of the Rust value: same field
/// names, same enum symbols, same nesting (the transcript payload's serde tag aside).
fn assert_mirrors_serde<T: ContractRecord>(value: &T) {
    let avro = value.to_avro();
    assert!(
        avro.validate(Schemas::get().unwrap().schema(T::KIND)),
        "{}: value does not validate",
        T::KIND
    );
    let from_avro = serde_json::Value::try_from(avro).unwrap();
    let mut from_serde = serde_json::to_value(value).unwrap();
    if let Some(payload) = from_serde
        .get_mut("payload")
        .and_then(|p| p.as_object_mut())
    {
        payload.remove("type");
    }
    assert_eq!(from_avro, from_serde, "{}", T::KIND);
}

#[test]
fn avro_field_names_and_symbols_mirror_the_serde_names() {
    for e in transcript_events() {
        assert_mirrors_serde(&e);
    }
    assert_mirrors_serde(&insight());
    assert_mirrors_serde(&telemetry());
    assert_mirrors_serde(&dead_letter());
    assert_mirrors_serde(&tenant_config());
    assert_mirrors_serde(&erasure());
    assert_mirrors_serde(&index_entry());
    assert_mirrors_serde(&ledger_entry());
    assert_mirrors_serde(&audit_record());
    assert_mirrors_serde(&interaction_event());
}

// ---- round trips ----------------------------------------------------------------------------

fn round_trip<T: ContractRecord + PartialEq + std::fmt::Debug>(codec: &Codec, value: &T) {
    let bytes = codec.encode(topics_for(T::KIND), value).unwrap();
    assert_eq!(
        &codec.decode::<T>(&bytes).unwrap(),
        value,
        "{:?} {}",
        codec.encoding(),
        T::KIND
    );
}

fn round_trip_all(codec: &Codec) {
    for e in transcript_events() {
        round_trip(codec, &e);
    }
    round_trip(codec, &insight());
    round_trip(codec, &telemetry());
    round_trip(codec, &dead_letter());
    round_trip(codec, &tenant_config());
    round_trip(codec, &erasure());
    round_trip(codec, &index_entry());
    round_trip(codec, &ledger_entry());
    round_trip(codec, &audit_record());
    round_trip(codec, &interaction_event());
    round_trip(codec, &alert());
    round_trip(codec, &TenantConfig::default());
    round_trip(
        codec,
        &DeadLetter {
            key: None,
            value: None,
            ..dead_letter()
        },
    );
}

#[test]
fn every_record_round_trips_single_object_and_json() {
    round_trip_all(&single());
    round_trip_all(&Codec::new(Encoding::Json, None).unwrap());
}

#[test]
fn apache_avro_and_the_direct_reader_and_writer_agree() {
    fn check<T: ContractRecord + PartialEq + std::fmt::Debug>(v: &T) {
        let schema = Schemas::get().unwrap().schema(T::KIND);
        // apache-avro validates the value against the schema, then encodes it.
        let body = apache_avro::to_avro_datum(schema, v.to_avro()).unwrap();
        let mut direct = Vec::new();
        v.write_avro(&mut direct);
        // Same bytes, except that apache-avro writes map entries in HashMap order and the
        // direct writer in key order (deterministic): with maps, compare what they read as.
        if T::KIND != RecordKind::TenantConfig {
            assert_eq!(direct, body, "{}", T::KIND);
        }
        for bytes in [&body, &direct] {
            let value = apache_avro::from_avro_datum(schema, &mut &bytes[..], None).unwrap();
            assert_eq!(&T::from_avro(value).unwrap(), v);
            assert_eq!(&read_body::<T>(bytes).unwrap(), v);
        }
    }
    for e in transcript_events() {
        check(&e);
    }
    check(&insight());
    check(&telemetry());
    check(&dead_letter());
    check(&tenant_config());
    check(&erasure());
    check(&index_entry());
    check(&ledger_entry());
    check(&audit_record());
    check(&interaction_event());
    check(&alert());
}

#[test]
fn a_segment_event_has_the_bytes_worked_out_by_hand() {
    let e = TranscriptEvent {
        header: EventHeader {
            tenant_id: "t".into(),
            source_platform: "z".into(),
            client_version: "1".into(),
            emitted_at_ms: None,
        },
        conversation_id: "c".into(),
        payload: TranscriptPayload::Segment(SegmentBody {
            segment_id: "s".into(),
            revision: 1,
            is_final: false,
            speaker_id: "a".into(),
            speaker_name: None,
            speaker_role: SpeakerRole::External,
            start_ms: Some(-1),
            end_ms: None,
            text: "hi".into(),
            language: None,
            confidence: None,
        }),
    };
    let bytes = single().encode("t", &e).unwrap();
    let body = [
        0x02, b't', 0x02, b'z', 0x02, b'1', 0x00, // header: 3 strings, emitted_at_ms null
        0x02, b'c', // conversation_id
        0x02, // payload branch 1 (SegmentBody)
        0x02, b's', 0x02, 0x00, // segment_id, revision 1, is_final false
        0x02, b'a', 0x00, 0x02, // speaker_id, speaker_name null, role 1 (external)
        0x02, 0x01, 0x00, // start_ms Some(-1), end_ms null
        0x04, b'h', b'i', 0x00, 0x00, // text, language null, confidence null
    ];
    assert_eq!(&bytes[10..], &body);
}

#[test]
fn insight_re_encodes_byte_identically() {
    let codec = single();
    let first = codec
        .encode(topics_for(RecordKind::MeetingInsight), &insight())
        .unwrap();
    let decoded: Insight = codec.decode(&first).unwrap();
    let second = codec
        .encode(topics_for(RecordKind::MeetingInsight), &decoded)
        .unwrap();
    assert_eq!(first, second);
    let json = Codec::new(Encoding::Json, None).unwrap();
    let j1 = json.encode("t", &insight()).unwrap();
    assert_eq!(
        json.encode("t", &json.decode::<Insight>(&j1).unwrap())
            .unwrap(),
        j1
    );
}

#[test]
fn encoding_config_names_are_snake_case_with_single_object_default() {
    assert_eq!(Encoding::default(), Encoding::AvroSingleObject);
    for (e, name) in [
        (Encoding::AvroSingleObject, "\"avro_single_object\""),
        (Encoding::Confluent, "\"confluent\""),
        (Encoding::Json, "\"json\""),
    ] {
        assert_eq!(serde_json::to_string(&e).unwrap(), name);
        assert_eq!(serde_json::from_str::<Encoding>(name).unwrap(), e);
    }
    assert_eq!(
        Codec::new(Encoding::Confluent, None).unwrap_err().kind(),
        "config"
    );
}

// ---- bad input ------------------------------------------------------------------------------

#[test]
fn short_and_foreign_headers_are_classified() {
    let codec = single();
    let kind = |b: &[u8]| codec.decode::<TranscriptEvent>(b).unwrap_err().kind();
    assert_eq!(kind(&[]), "truncated");
    assert_eq!(kind(&[0xC3]), "truncated");
    assert_eq!(kind(&[0x00]), "bad_magic");
    assert_eq!(kind(&[0xC3, 0x01, 1, 2, 3]), "truncated");
    assert_eq!(kind(&[0xC3, 0x02, 1, 2, 3, 4, 5, 6, 7, 8, 9]), "bad_magic");
    assert_eq!(kind(b"{\"header\": {}}"), "bad_magic");
    let e = codec
        .decode::<TranscriptEvent>(b"{\"header\": {}}")
        .unwrap_err();
    assert!(e.to_string().contains("looks like JSON"), "{e}");
    let e = codec
        .decode::<TranscriptEvent>(&[0xC3, 0x01, 8, 7, 6, 5, 4, 3, 2, 1, 0])
        .unwrap_err();
    assert_eq!(
        e,
        SchemaError::UnknownSchema(
            "fingerprint 0x0102030405060708 is not a known transcript_event schema".into()
        )
    );
}

#[test]
fn a_record_of_another_type_is_an_unknown_schema() {
    let codec = single();
    let bytes = codec.encode("t", &insight()).unwrap();
    let e = codec.decode::<TranscriptEvent>(&bytes).unwrap_err();
    assert_eq!(e.kind(), "unknown_schema");
    assert!(
        e.to_string()
            .contains("is the meeting_insight schema, expected transcript_event"),
        "{e}"
    );
}

#[test]
fn every_strict_prefix_is_truncated_and_trailing_bytes_malformed() {
    let codec = single();
    for e in transcript_events() {
        let bytes = codec.encode("t", &e).unwrap();
        for cut in 0..bytes.len() {
            let err = codec.decode::<TranscriptEvent>(&bytes[..cut]).unwrap_err();
            assert_eq!(err.kind(), "truncated", "cut at {cut}: {err}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        let err = codec.decode::<TranscriptEvent>(&longer).unwrap_err();
        assert_eq!(
            err,
            SchemaError::Malformed("1 bytes after the end of the transcript_event record".into())
        );
    }
    let bytes = codec.encode("t", &insight()).unwrap();
    for cut in 0..bytes.len() {
        assert_eq!(
            codec.decode::<Insight>(&bytes[..cut]).unwrap_err().kind(),
            "truncated",
            "cut {cut}"
        );
    }
}

#[test]
fn json_errors_are_classified() {
    let codec = Codec::new(Encoding::Json, None).unwrap();
    let kind = |b: &[u8]| codec.decode::<TranscriptEvent>(b).unwrap_err().kind();
    assert_eq!(kind(b""), "truncated");
    assert_eq!(kind(b"  \n"), "truncated");
    assert_eq!(kind(b"{\"header\":"), "truncated");
    assert_eq!(kind(&[0xC3, 0x01, 0, 0]), "bad_magic");
    assert_eq!(kind(b"[1]"), "bad_magic");
    assert_eq!(kind(b"{\"header\": 5}"), "malformed");
    let good = codec.encode("t", &segment_event()).unwrap();
    let mut trailing = good.clone();
    trailing.extend_from_slice(b" x");
    assert_eq!(kind(&trailing), "malformed");
}

// ---- schema evolution -----------------------------------------------------------------------

/// The transcript schema with the header's fields changed by `edit`.
fn edited_transcript_schema(edit: impl FnOnce(&mut Vec<serde_json::Value>)) -> String {
    let mut json: serde_json::Value =
        serde_json::from_str(RecordKind::TranscriptEvent.schema_json()).unwrap();
    let fields = json["fields"][0]["type"]["fields"].as_array_mut().unwrap();
    edit(fields);
    json.to_string()
}

/// Single-object bytes of `value` written with another schema.
fn written_with(schema_json: &str, value: Value) -> Vec<u8> {
    let schema = Schema::parse_str(schema_json).unwrap();
    let mut out = SINGLE_OBJECT_MAGIC.to_vec();
    out.extend_from_slice(&spec_fingerprint(schema_json).unwrap().to_le_bytes());
    out.extend_from_slice(&apache_avro::to_avro_datum(&schema, value).unwrap());
    out
}

/// The sample segment event as an Avro value, with the header's fields changed by `edit`.
fn edited_event_value(edit: impl FnOnce(&mut Vec<(String, Value)>)) -> Value {
    let Value::Record(mut fields) = segment_event().to_avro() else {
        panic!("not a record")
    };
    let Value::Record(header) = &mut fields[0].1 else {
        panic!("header not a record")
    };
    edit(header);
    Value::Record(fields)
}

#[test]
fn an_older_writer_schema_reads_with_defaults() {
    // v1-without-emitted_at_ms: the reader fills the default (null).
    let old = edited_transcript_schema(|f| f.retain(|x| x["name"] != "emitted_at_ms"));
    let bytes = written_with(
        &old,
        edited_event_value(|h| h.retain(|(n, _)| n != "emitted_at_ms")),
    );
    let mut codec = single();
    let e = codec.decode::<TranscriptEvent>(&bytes).unwrap_err();
    assert_eq!(e.kind(), "unknown_schema", "not accepted yet: {e}");
    codec
        .accept_writer_schema(RecordKind::TranscriptEvent, &old)
        .unwrap();
    let decoded: TranscriptEvent = codec.decode(&bytes).unwrap();
    let mut want = segment_event();
    want.header.emitted_at_ms = None;
    assert_eq!(decoded, want);
    // Prefixes of a record in a foreign schema are truncated too (apache-avro path).
    for cut in 0..bytes.len() {
        assert_eq!(
            codec
                .decode::<TranscriptEvent>(&bytes[..cut])
                .unwrap_err()
                .kind(),
            "truncated",
            "{cut}"
        );
    }
}

/// A counter like `Metrics::legacy_fingerprints`, and a codec counting into it.
fn legacy_counted() -> (Codec, prometheus::IntCounterVec) {
    let counter = prometheus::IntCounterVec::new(
        prometheus::Opts::new("debrief_legacy_fingerprint_total", "test"),
        &["schema"],
    )
    .unwrap();
    (single().count_legacy_fingerprints(counter.clone()), counter)
}

#[test]
fn legacy_fingerprints_are_read_and_counted_but_never_written() {
    let (codec, counter) = legacy_counted();
    let schemas = Schemas::get().unwrap();
    // The schemas with a logical type (timestamp-millis) changed fingerprint; the others not.
    let changed: Vec<RecordKind> = RecordKind::ALL
        .into_iter()
        .filter(|k| schemas.legacy_fingerprint(*k) != schemas.fingerprint(*k))
        .collect();
    assert_eq!(
        changed,
        [
            RecordKind::TranscriptEvent,
            RecordKind::InteractionTelemetry,
            RecordKind::DeadLetter,
            RecordKind::ErasureRequest,
            RecordKind::ConversationIndex,
            RecordKind::ErasureLedger,
            RecordKind::Audit,
            RecordKind::LiveInsight,
            RecordKind::InteractionEvent,
        ]
    );
    let event = segment_event();
    let mut bytes = codec
        .encode(crate::events::topics::TRANSCRIPTS, &event)
        .unwrap();
    let spec = schemas.fingerprint(RecordKind::TranscriptEvent);
    assert_eq!(&bytes[2..10], &spec.to_le_bytes(), "writes the spec's");
    assert_eq!(codec.decode::<TranscriptEvent>(&bytes).unwrap(), event);
    assert_eq!(counter.with_label_values(&["transcript_event"]).get(), 0);
    // What Debrief 0.1 wrote: same body, legacy fingerprint.
    let legacy = schemas.legacy_fingerprint(RecordKind::TranscriptEvent);
    bytes[2..10].copy_from_slice(&legacy.to_le_bytes());
    assert_eq!(codec.decode::<TranscriptEvent>(&bytes).unwrap(), event);
    assert_eq!(codec.decode::<TranscriptEvent>(&bytes).unwrap(), event);
    assert_eq!(counter.with_label_values(&["transcript_event"]).get(), 2);
    // A legacy fingerprint of another record type is still the wrong type.
    let e = codec.decode::<InteractionTelemetry>(&bytes).unwrap_err();
    assert!(
        e.to_string()
            .contains("is the transcript_event schema, expected interaction_telemetry"),
        "{e}"
    );
    // Without a counter (embedded uses) they are read all the same.
    assert_eq!(single().decode::<TranscriptEvent>(&bytes).unwrap(), event);
}

#[test]
fn an_accepted_writer_schema_is_known_by_both_fingerprints() {
    let old = edited_transcript_schema(|f| f.retain(|x| x["name"] != "emitted_at_ms"));
    let mut bytes = written_with(
        &old,
        edited_event_value(|h| h.retain(|(n, _)| n != "emitted_at_ms")),
    );
    let (mut codec, counter) = legacy_counted();
    let fp = codec
        .accept_writer_schema(RecordKind::TranscriptEvent, &old)
        .unwrap();
    assert_eq!(&bytes[2..10], &fp.to_le_bytes());
    let mut want = segment_event();
    want.header.emitted_at_ms = None;
    assert_eq!(codec.decode::<TranscriptEvent>(&bytes).unwrap(), want);
    let legacy = legacy_fingerprint(&Schema::parse_str(&old).unwrap());
    assert_ne!(legacy, fp);
    bytes[2..10].copy_from_slice(&legacy.to_le_bytes());
    assert_eq!(codec.decode::<TranscriptEvent>(&bytes).unwrap(), want);
    assert_eq!(counter.with_label_values(&["transcript_event"]).get(), 1);
}

#[test]
fn a_newer_writer_schema_with_an_extra_field_reads_without_it() {
    let newer = edited_transcript_schema(|f| {
        f.push(serde_json::json!({"name": "priority", "type": "int", "default": 0, "doc": "x"}))
    });
    let bytes = written_with(
        &newer,
        edited_event_value(|h| h.push(("priority".into(), Value::Int(7)))),
    );
    let mut codec = single();
    codec
        .accept_writer_schema(RecordKind::TranscriptEvent, &newer)
        .unwrap();
    assert_eq!(
        codec.decode::<TranscriptEvent>(&bytes).unwrap(),
        segment_event()
    );
}

#[test]
fn an_incompatible_writer_schema_is_refused() {
    // Without tenant_id (no default in the reader) the current schema cannot read it.
    let bad = edited_transcript_schema(|f| f.retain(|x| x["name"] != "tenant_id"));
    let e = single()
        .accept_writer_schema(RecordKind::TranscriptEvent, &bad)
        .unwrap_err();
    assert_eq!(e.kind(), "config", "{e}");
    let e = single()
        .accept_writer_schema(RecordKind::TranscriptEvent, "{not json")
        .unwrap_err();
    assert_eq!(e.kind(), "config");
}

// ---- Confluent ------------------------------------------------------------------------------

#[tokio::test]
async fn confluent_round_trips_through_a_registry() {
    let (url, state) = fake::start().await;
    let codec = Codec::new(Encoding::Confluent, Some(&url)).unwrap();
    let topic = "debrief.insights.dynamics.v1";
    // Sync encode before the id is known: not cached (retryable), no network.
    let e = codec.encode(topic, &insight()).unwrap_err();
    assert_eq!(e.kind(), "not_cached");
    assert!(e.is_retryable());
    let bytes = codec.encode_insight(topic, &insight()).await.unwrap();
    assert_eq!(bytes[0], 0x00);
    assert_eq!(&bytes[1..5], &1u32.to_be_bytes());
    assert_eq!(codec.decode::<Insight>(&bytes).unwrap(), insight());
    // Now cached: sync works for every record on its topic, registered once per subject.
    for kind in RecordKind::ALL {
        codec.register(topics_for(kind), kind).await.unwrap();
    }
    round_trip_all(&codec);
    {
        let reg = state.lock().unwrap();
        assert_eq!(
            reg.calls["register"],
            RecordKind::ALL.len(),
            "one registration per subject"
        );
        assert!(reg
            .subjects
            .contains_key("debrief.insights.dynamics.v1-value"));
        assert!(!reg.calls.contains_key("get"), "own schemas need no lookup");
    }
    // A second codec (another instance) learns the id by lookup, once.
    let other = Codec::new(Encoding::Confluent, Some(&url)).unwrap();
    assert_eq!(
        other.decode::<Insight>(&bytes).unwrap_err().kind(),
        "not_cached"
    );
    assert_eq!(
        other.decode_async::<Insight>(&bytes).await.unwrap(),
        insight()
    );
    assert_eq!(
        other.decode_async::<Insight>(&bytes).await.unwrap(),
        insight()
    );
    assert_eq!(other.decode::<Insight>(&bytes).unwrap(), insight());
    assert_eq!(state.lock().unwrap().calls["get"], 1);
    // A record of another type under a known id.
    let e = other.decode::<TranscriptEvent>(&bytes).unwrap_err();
    assert_eq!(e.kind(), "unknown_schema");
}

#[tokio::test]
async fn confluent_bad_input_and_unknown_ids() {
    let (url, state) = fake::start().await;
    let codec = Codec::new(Encoding::Confluent, Some(&url)).unwrap();
    let kind = |r: Result<TranscriptEvent, SchemaError>| r.unwrap_err().kind();
    assert_eq!(kind(codec.decode_async(&[]).await), "truncated");
    assert_eq!(kind(codec.decode_async(&[0x00, 0, 0]).await), "truncated");
    assert_eq!(
        kind(
            codec
                .decode_async(&[0xC3, 0x01, 0, 0, 0, 0, 0, 0, 0, 0])
                .await
        ),
        "bad_magic"
    );
    assert_eq!(
        kind(codec.decode_async(&[0x00, 0, 0, 0, 99, 0]).await),
        "unknown_schema"
    );
    // A registry entry that is not one of ours and does not resolve.
    state
        .lock()
        .unwrap()
        .schemas
        .push(r#"{"type":"record","name":"Other","fields":[{"name":"x","type":"int"}]}"#.into());
    assert_eq!(
        kind(codec.decode_async(&[0x00, 0, 0, 0, 1, 0x02]).await),
        "unknown_schema"
    );
    // A truncated body under a known id.
    let topic = "debrief.transcripts.v1";
    let bytes = codec.encode_async(topic, &segment_event()).await.unwrap();
    for cut in 0..bytes.len() {
        assert_eq!(kind(codec.decode(&bytes[..cut])), "truncated", "{cut}");
    }
}

#[tokio::test]
async fn confluent_reads_an_older_schema_version_from_the_registry() {
    let (url, state) = fake::start().await;
    let old = edited_transcript_schema(|f| f.retain(|x| x["name"] != "emitted_at_ms"));
    state.lock().unwrap().schemas.push(old.clone());
    let body = apache_avro::to_avro_datum(
        &Schema::parse_str(&old).unwrap(),
        edited_event_value(|h| h.retain(|(n, _)| n != "emitted_at_ms")),
    )
    .unwrap();
    let mut bytes = vec![0x00, 0, 0, 0, 1];
    bytes.extend_from_slice(&body);
    let codec = Codec::new(Encoding::Confluent, Some(&url)).unwrap();
    let mut want = segment_event();
    want.header.emitted_at_ms = None;
    assert_eq!(
        codec.decode_async::<TranscriptEvent>(&bytes).await.unwrap(),
        want
    );
}

#[tokio::test]
async fn registry_down_is_retryable() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let codec = Codec::new(Encoding::Confluent, Some(&format!("http://{addr}"))).unwrap();
    let e = codec.encode_async("t", &erasure()).await.unwrap_err();
    assert_eq!(e.kind(), "registry");
    assert!(e.is_retryable());
    let e = codec
        .decode_async::<ErasureRequest>(&[0, 0, 0, 0, 1, 0])
        .await
        .unwrap_err();
    assert_eq!(e.kind(), "registry");
}

// ---- properties -----------------------------------------------------------------------------

/// Doubles: any finite value for Avro; for JSON, decimals with few digits (serde_json parses
/// long decimals best-effort, without its `float_roundtrip` feature).
fn dbl(json_safe: bool) -> BoxedStrategy<f64> {
    if json_safe {
        (-1_000_000i64..1_000_000)
            .prop_map(|n| n as f64 / 1000.0)
            .boxed()
    } else {
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .boxed()
    }
}

fn flt(json_safe: bool) -> BoxedStrategy<f32> {
    if json_safe {
        (0i32..1000).prop_map(|n| n as f32 / 8.0).boxed()
    } else {
        any::<f32>()
            .prop_filter("finite", |f| f.is_finite())
            .boxed()
    }
}

fn txt() -> impl Strategy<Value = String> {
    ".{0,8}"
}

fn opt_txt() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(txt())
}

fn role() -> impl Strategy<Value = SpeakerRole> {
    prop_oneof![
        Just(SpeakerRole::Internal),
        Just(SpeakerRole::External),
        Just(SpeakerRole::Unknown)
    ]
}

fn side() -> impl Strategy<Value = Side> {
    prop_oneof![
        Just(Side::Internal),
        Just(Side::External),
        Just(Side::Unknown)
    ]
}

fn arb_segment(j: bool) -> impl Strategy<Value = SegmentBody> {
    (
        (txt(), any::<i32>(), any::<bool>(), txt(), opt_txt(), role()),
        (
            any::<Option<i64>>(),
            any::<Option<i64>>(),
            txt(),
            opt_txt(),
            proptest::option::of(flt(j)),
        ),
    )
        .prop_map(
            |(
                (segment_id, revision, is_final, speaker_id, speaker_name, speaker_role),
                (start_ms, end_ms, text, language, confidence),
            )| {
                SegmentBody {
                    segment_id,
                    revision,
                    is_final,
                    speaker_id,
                    speaker_name,
                    speaker_role,
                    start_ms,
                    end_ms,
                    text,
                    language,
                    confidence,
                }
            },
        )
}

fn arb_event(j: bool) -> impl Strategy<Value = TranscriptEvent> {
    let payload = prop_oneof![
        (any::<Option<i64>>(), opt_txt(), opt_txt(), opt_txt()).prop_map(|(a, b, c, d)| {
            TranscriptPayload::Started(ConversationStarted {
                started_at_ms: a,
                time_zone: b,
                language: c,
                title: d,
                owner_id: None,
            })
        }),
        arb_segment(j).prop_map(TranscriptPayload::Segment),
        (any::<Option<i64>>(), any::<Option<i32>>()).prop_map(|(a, b)| {
            TranscriptPayload::Ended(ConversationEnded {
                ended_at_ms: a,
                segment_count: b,
            })
        }),
        (
            any::<Option<i64>>(),
            opt_txt(),
            opt_txt(),
            opt_txt(),
            proptest::collection::vec(arb_segment(j), 0..4)
        )
            .prop_map(|(a, b, c, d, segments)| {
                TranscriptPayload::Complete(CompleteTranscript {
                    started_at_ms: a,
                    time_zone: b,
                    language: c,
                    title: d,
                    segments,
                    owner_id: None,
                })
            }),
    ];
    ((txt(), txt(), txt(), any::<Option<i64>>()), txt(), payload).prop_map(
        |(
            (tenant_id, source_platform, client_version, emitted_at_ms),
            conversation_id,
            payload,
        )| TranscriptEvent {
            header: EventHeader {
                tenant_id,
                source_platform,
                client_version,
                emitted_at_ms,
            },
            conversation_id,
            payload,
        },
    )
}

fn arb_kpis(j: bool) -> impl Strategy<Value = Kpis> {
    let o = move || proptest::option::of(dbl(j));
    let participant = (
        (txt(), side(), any::<Option<i64>>(), o(), any::<i64>()),
        (
            o(),
            any::<Option<i64>>(),
            any::<i64>(),
            any::<Option<i64>>(),
        ),
    )
        .prop_map(
            |(
                (speaker, side, talk_time_ms, talk_share, words),
                (words_per_minute, longest_monologue_ms, questions, interruptions),
            )| {
                ParticipantKpis {
                    speaker,
                    side,
                    talk_time_ms,
                    talk_share,
                    words,
                    words_per_minute,
                    longest_monologue_ms,
                    questions,
                    interruptions,
                }
            },
        );
    (
        (
            any::<Option<i64>>(),
            proptest::collection::vec(participant, 0..3),
            any::<Option<i64>>(),
            any::<Option<i64>>(),
            o(),
        ),
        (
            any::<i64>(),
            o(),
            any::<Option<i64>>(),
            any::<Option<i64>>(),
            o(),
            any::<Option<i64>>(),
        ),
        (any::<Option<i64>>(), any::<(i64, i64, i64)>()),
    )
        .prop_map(
            |(
                (
                    duration_ms,
                    participants,
                    internal_talk_time_ms,
                    external_talk_time_ms,
                    talk_to_listen_ratio,
                ),
                (
                    switches,
                    switches_per_hour,
                    longest_monologue_ms,
                    longest_customer_monologue_ms,
                    average_pause_before_speaking_ms,
                    non_talk_time_ms,
                ),
                (interruptions, (qi, qe, qu)),
            )| Kpis {
                duration_ms,
                participants,
                internal_talk_time_ms,
                external_talk_time_ms,
                talk_to_listen_ratio,
                switches,
                switches_per_hour,
                longest_monologue_ms,
                longest_customer_monologue_ms,
                average_pause_before_speaking_ms,
                non_talk_time_ms,
                interruptions,
                questions: QuestionCounts {
                    internal: qi,
                    external: qe,
                    unknown: qu,
                },
            },
        )
}

fn arb_insight(j: bool) -> impl Strategy<Value = Insight> {
    let reason = prop_oneof![
        Just(SkipReason::ClientVersion),
        Just(SkipReason::ShortContent),
        Just(SkipReason::NoTranscript),
        Just(SkipReason::SegmentLimit),
        Just(SkipReason::FeatureDisabled),
        Just(SkipReason::DamagedSource),
    ];
    let finalised = prop_oneof![
        Just(FinalisedBy::File),
        Just(FinalisedBy::EndEvent),
        Just(FinalisedBy::CompleteTranscript),
        Just(FinalisedBy::IdleTimeout),
        Just(FinalisedBy::Evicted),
    ];
    let outcome = prop_oneof![
        Just(Outcome::Complete),
        Just(Outcome::Partial),
        Just(Outcome::Skipped)
    ];
    let source = prop_oneof![
        Just(LanguageSource::Given),
        Just(LanguageSource::Detected),
        Just(LanguageSource::Unknown)
    ];
    let language = (
        opt_txt(),
        dbl(j),
        source,
        proptest::collection::vec((txt(), txt(), dbl(j)), 0..3),
    )
        .prop_map(|(code, confidence, source, sp)| LanguageReport {
            code,
            confidence,
            source,
            speakers: sp
                .into_iter()
                .map(|(speaker, code, confidence)| SpeakerLanguage {
                    speaker,
                    code,
                    confidence,
                })
                .collect(),
        });
    let question = (txt(), txt(), side(), txt(), 0i64..500).prop_map(
        |(segment_id, speaker, side, text, start_char)| Question {
            segment_id,
            speaker,
            side,
            text,
            start_char,
            end_char: start_char + 7,
            id: format!("{start_char:016x}"),
        },
    );
    let action_type = prop_oneof![
        Just(ActionType::Call),
        Just(ActionType::Email),
        Just(ActionType::Meeting),
        Just(ActionType::Task)
    ];
    let state = prop_oneof![Just(ActionState::Committed), Just(ActionState::Suggested)];
    let evidence =
        (txt(), any::<i64>(), any::<i64>()).prop_map(|(segment_id, start_char, end_char)| {
            Evidence {
                segment_id,
                start_char,
                end_char,
            }
        });
    let due = proptest::option::of((txt(), opt_txt(), txt()).prop_map(
        |(date, datetime, phrase)| Due {
            date,
            datetime,
            phrase,
        },
    ));
    let action = (
        txt(),
        proptest::collection::vec(evidence, 0..3),
        opt_txt(),
        due,
        action_type,
        state,
        dbl(j),
        txt(),
    )
        .prop_map(
            |(text, evidence, owner, due, action_type, state, confidence, language)| ActionItem {
                evidence,
                owner,
                due,
                action_type,
                status: match state {
                    ActionState::Committed => ActionStatus::Committed,
                    ActionState::Suggested => ActionStatus::Requested,
                },
                state,
                confidence,
                id: text.chars().rev().collect(),
                text,
                language,
            },
        );
    let kind = prop_oneof![Just(TrackerKind::Keyword), Just(TrackerKind::Competitor)];
    let hit = (
        (txt(), kind.clone(), txt(), txt(), txt()),
        (
            side(),
            txt(),
            any::<Option<i64>>(),
            any::<i64>(),
            any::<i64>(),
        ),
    )
        .prop_map(
            |(
                (tracker, kind, term, heard, speaker),
                (side, segment_id, offset_ms, start_char, end_char),
            )| TrackerHit {
                tracker,
                kind,
                term,
                heard,
                speaker,
                side,
                segment_id,
                offset_ms,
                start_char,
                end_char,
                id: format!("{end_char:x}"),
            },
        );
    let count =
        (txt(), kind, side(), any::<i64>()).prop_map(|(tracker, kind, side, count)| TrackerCount {
            tracker,
            kind,
            side,
            count,
        });
    (
        (
            txt(),
            txt(),
            any::<i32>(),
            txt(),
            any::<i64>(),
            opt_txt(),
            opt_txt(),
        ),
        (
            finalised,
            outcome,
            proptest::collection::vec(reason, 0..3),
            language,
            any::<i64>(),
            any::<i64>(),
        ),
        (
            proptest::option::of(arb_kpis(j)),
            proptest::collection::vec(question, 0..3),
            proptest::collection::vec(action, 0..3),
        ),
        (
            proptest::collection::vec(hit, 0..3),
            proptest::collection::vec(count, 0..3),
        ),
    )
        .prop_map(
            |(
                (
                    conversation_id,
                    tenant_id,
                    schema_version,
                    extractor_version,
                    config_version,
                    source_platform,
                    client_version,
                ),
                (finalised_by, outcome, skip_reasons, language, segment_count, text_chars),
                (kpis, questions, action_items),
                (tracker_hits, tracker_counts),
            )| Insight {
                conversation_id,
                tenant_id,
                schema_version,
                extractor_version,
                config_version,
                source_platform,
                client_version,
                finalised_by,
                outcome,
                skip_reasons,
                language,
                segment_count,
                text_chars,
                kpis,
                questions,
                action_items,
                tracker_hits,
                tracker_counts,
                highlights: vec![],
                redactions: vec![],
                profile: None,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn any_transcript_event_round_trips(e in arb_event(false), ej in arb_event(true)) {
        let codec = single();
        let bytes = codec.encode("t", &e).unwrap();
        prop_assert_eq!(&codec.decode::<TranscriptEvent>(&bytes).unwrap(), &e);
        // The apache-avro reader agrees with the direct reader.
        let schema = Schemas::get().unwrap().schema(RecordKind::TranscriptEvent);
        let value = apache_avro::from_avro_datum(schema, &mut &bytes[10..], None).unwrap();
        prop_assert_eq!(&TranscriptEvent::from_avro(value).unwrap(), &e);
        // The direct writer gives apache-avro's bytes (which validates against the schema).
        let apache = apache_avro::to_avro_datum(schema, e.to_avro()).unwrap();
        prop_assert_eq!(&bytes[10..], &apache[..]);
        let json = Codec::new(Encoding::Json, None).unwrap();
        prop_assert_eq!(json.decode::<TranscriptEvent>(&json.encode("t", &ej).unwrap()).unwrap(), ej);
    }

    #[test]
    fn any_insight_round_trips_and_re_encodes_identically(i in arb_insight(false), ij in arb_insight(true)) {
        let codec = single();
        let bytes = codec.encode("t", &i).unwrap();
        let back: Insight = codec.decode(&bytes).unwrap();
        prop_assert_eq!(&back, &i);
        prop_assert_eq!(&codec.encode("t", &back).unwrap(), &bytes);
        let schema = Schemas::get().unwrap().schema(RecordKind::MeetingInsight);
        let apache = apache_avro::to_avro_datum(schema, i.to_avro()).unwrap();
        prop_assert_eq!(&bytes[10..], &apache[..]);
        let json = Codec::new(Encoding::Json, None).unwrap();
        prop_assert_eq!(json.decode::<Insight>(&json.encode("t", &ij).unwrap()).unwrap(), ij);
    }

    #[test]
    fn random_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..256)) {
        let codec = single();
        let json = Codec::new(Encoding::Json, None).unwrap();
        let _ = codec.decode::<TranscriptEvent>(&body);
        let _ = json.decode::<TranscriptEvent>(&body);
        // Valid headers with a random body: every type, both readers.
        let schemas = Schemas::get().unwrap();
        for kind in RecordKind::ALL {
            let mut b = SINGLE_OBJECT_MAGIC.to_vec();
            b.extend_from_slice(&schemas.fingerprint(kind).to_le_bytes());
            b.extend_from_slice(&body);
            let r = match kind {
                RecordKind::TranscriptEvent => codec.decode::<TranscriptEvent>(&b).map(|_| ()),
                RecordKind::MeetingInsight => codec.decode::<Insight>(&b).map(|_| ()),
                RecordKind::InteractionTelemetry => codec.decode::<InteractionTelemetry>(&b).map(|_| ()),
                RecordKind::DeadLetter => codec.decode::<DeadLetter>(&b).map(|_| ()),
                RecordKind::TenantConfig => codec.decode::<TenantConfig>(&b).map(|_| ()),
                RecordKind::ErasureRequest => codec.decode::<ErasureRequest>(&b).map(|_| ()),
                RecordKind::ConversationIndex => codec.decode::<ConversationIndexEntry>(&b).map(|_| ()),
                RecordKind::ErasureLedger => codec.decode::<ErasureLedgerEntry>(&b).map(|_| ()),
                RecordKind::Audit => codec.decode::<AuditRecord>(&b).map(|_| ()),
                RecordKind::Alert => codec.decode::<crate::rules::Alert>(&b).map(|_| ()),
                RecordKind::LiveInsight => codec.decode::<crate::live::LiveInsight>(&b).map(|_| ()),
                RecordKind::InteractionEvent => codec.decode::<InteractionEvent>(&b).map(|_| ()),
            };
            if let Err(e) = r {
                prop_assert!(e.is_undecodable(), "{}", e);
            }
            let _ = apache_avro::from_avro_datum(schemas.schema(kind), &mut &body[..], None);
        }
    }

    #[test]
    fn corrupting_one_byte_never_panics(e in arb_event(false), at in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let codec = single();
        let mut bytes = codec.encode("t", &e).unwrap();
        let i = at.index(bytes.len());
        bytes[i] = byte;
        if let Err(err) = codec.decode::<TranscriptEvent>(&bytes) {
            prop_assert!(err.is_undecodable(), "{}", err);
        }
    }
}

// ---- the examples in docs/contract.md -------------------------------------------------------

/// Every `<!-- example: KIND -->` JSON block in the contract document decodes as that record,
/// round-trips through Avro unchanged, and every record kind has an example.
#[test]
fn contract_document_examples_are_valid() {
    fn check<T: ContractRecord + PartialEq + std::fmt::Debug>(json: &str) -> Result<(), String> {
        let codec = Codec::new(Encoding::Json, None).map_err(|e| e.to_string())?;
        let value: T = codec.decode(json.as_bytes()).map_err(|e| e.to_string())?;
        let avro = single();
        let back: T = avro
            .decode(&avro.encode("t", &value).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
        if back != value {
            return Err("changed in an Avro round trip".into());
        }
        Ok(())
    }
    let doc = include_str!("../../docs/contract.md");
    let mut seen = std::collections::BTreeSet::new();
    for (i, part) in doc.split("<!-- example: ").enumerate().skip(1) {
        let (name, rest) = part.split_once(" -->").unwrap();
        let body = rest
            .split("```json")
            .nth(1)
            .and_then(|b| b.split("```").next())
            .unwrap();
        let kind = RecordKind::ALL
            .into_iter()
            .find(|k| k.name() == name)
            .unwrap_or_else(|| panic!("example {i}: unknown kind {name}"));
        let r = match kind {
            RecordKind::TranscriptEvent => check::<TranscriptEvent>(body),
            RecordKind::MeetingInsight => check::<Insight>(body),
            RecordKind::InteractionTelemetry => check::<InteractionTelemetry>(body),
            RecordKind::DeadLetter => check::<DeadLetter>(body),
            RecordKind::TenantConfig => check::<TenantConfig>(body),
            RecordKind::ErasureRequest => check::<ErasureRequest>(body),
            RecordKind::ConversationIndex => check::<ConversationIndexEntry>(body),
            RecordKind::ErasureLedger => check::<ErasureLedgerEntry>(body),
            RecordKind::Audit => check::<AuditRecord>(body),
            RecordKind::Alert => check::<crate::rules::Alert>(body),
            RecordKind::LiveInsight => check::<crate::live::LiveInsight>(body),
            RecordKind::InteractionEvent => check::<InteractionEvent>(body),
        };
        assert_eq!(r, Ok(()), "example {i} ({name})");
        seen.insert(kind);
    }
    assert_eq!(
        seen.len(),
        RecordKind::ALL.len(),
        "every record kind has an example: {seen:?}"
    );
}

/// `docs/contract.md` lists the fingerprint of every current schema (`| kind | 0x... |`), so
/// that a schema change shows up in the document too.
#[test]
fn contract_document_lists_the_current_fingerprints() {
    let doc = include_str!("../../docs/contract.md");
    let schemas = Schemas::get().unwrap();
    let actual: Vec<String> = RecordKind::ALL
        .iter()
        .map(|k| {
            format!(
                "| `{}` | `{:#018x}` | `{:#018x}` |",
                k.name(),
                schemas.fingerprint(*k),
                schemas.legacy_fingerprint(*k)
            )
        })
        .collect();
    for line in &actual {
        assert!(
            doc.contains(line.as_str()),
            "docs/contract.md should list:\n{}",
            actual.join("\n")
        );
    }
}

#[test]
fn serde_messages_lose_the_values_they_quote() {
    assert_eq!(
        without_values(
            r#"invalid type: string "my secret \"pin\" 1234", expected i32 at line 1 column 9"#
        ),
        r#"invalid type: string "…", expected i32 at line 1 column 9"#
    );
    assert_eq!(
        without_values("unknown variant `hello Bob`, expected one of `started`, `segment`"),
        "unknown variant `…`, expected one of `started`, `segment`"
    );
    assert_eq!(
        without_values("unknown field `bob@example.com`, expected `text`"),
        "unknown field `…`, expected `text`"
    );
    assert_eq!(
        without_values("missing field `segment_id` at line 1 column 40"),
        "missing field `segment_id` at line 1 column 40"
    );
    assert_eq!(
        without_values("expected value at line 1 column 1"),
        "expected value at line 1 column 1"
    );
}

#[test]
fn json_decode_errors_name_the_field_path_and_never_the_value() {
    let codec = Codec::new(Encoding::Json, None).unwrap();
    let bad = br#"{"header":{"tenant_id":"t","source_platform":"p","client_version":"1.2.0","emitted_at_ms":null},"conversation_id":"c","payload":{"type":"segment","segment_id":"1","revision":"Bob's card 4111 1111 1111 1111","is_final":true,"speaker_id":"s","speaker_name":null,"speaker_role":"internal","start_ms":null,"end_ms":null,"text":"x","language":null,"confidence":null}}"#;
    let err = codec
        .decode::<TranscriptEvent>(bad)
        .unwrap_err()
        .to_string();
    // The path goes as deep as serde can see (an internally tagged enum hides its fields).
    assert!(err.contains("JSON at payload"), "{err}");
    assert!(err.contains("expected i32"), "{err}");
    assert!(!err.contains("4111") && !err.contains("Bob"), "{err}");
}

proptest! {
    #[test]
    fn no_quoted_value_survives(value in "Zq[a-zA-Z0-9 @.]{0,30}") {
        for message in [
            format!("invalid type: string {value:?}, expected u64"),
            format!("unknown variant `{value}`, expected one of `a`"),
            format!("invalid value: string {value:?}, expected a date"),
        ] {
            let out = without_values(&message);
            // What comes before ", expected" is about the value; the rest is the schema's.
            let about_the_value = out.split(", expected").next().unwrap_or_default();
            prop_assert!(!about_the_value.contains(value.as_str()), "{}", out);
        }
    }
}

mod history;
