//! Tests across the CRM module: mapping validation, field access at write time, the two
//! encodings. Expected values are written by hand from the FAQ's rules and the built-in
//! mappings (`src/crm/defaults/*.yaml`), never produced by the code under test.

use super::*;
use crate::insight::{
    ActionItem, ActionState, ActionType, Due, Evidence, FinalisedBy, Insight, Kpis, LanguageReport,
    LanguageSource, Outcome, QuestionCounts, TrackerCount, TrackerKind,
};
use crate::model::Side;

fn item(text: &str, owner: Option<&str>, due: Option<&str>) -> ActionItem {
    ActionItem {
        text: text.into(),
        evidence: vec![Evidence {
            segment_id: "s2".into(),
            start_char: 4,
            end_char: 4 + text.chars().count() as i64,
        }],
        owner: owner.map(Into::into),
        due: due.map(|d| Due {
            date: d.into(),
            datetime: None,
            phrase: "by Friday".into(),
        }),
        action_type: ActionType::Email,
        state: ActionState::Committed,
        status: crate::insight::ActionStatus::Committed,
        id: String::new(),
        confidence: 0.8125,
        language: "en".into(),
    }
}

fn insight() -> Insight {
    Insight {
        conversation_id: "c1".into(),
        tenant_id: "acme".into(),
        schema_version: 1,
        extractor_version: "debrief-test".into(),
        config_version: 3,
        source_platform: Some("teams".into()),
        client_version: Some("1.2.0".into()),
        finalised_by: FinalisedBy::EndEvent,
        outcome: Outcome::Complete,
        skip_reasons: vec![],
        language: LanguageReport {
            code: Some("en".into()),
            confidence: 1.0,
            source: LanguageSource::Given,
            speakers: vec![],
        },
        segment_count: 4,
        text_chars: 1200,
        kpis: Some(Kpis {
            duration_ms: Some(92_660),
            participants: vec![],
            internal_talk_time_ms: Some(40_660),
            external_talk_time_ms: Some(38_600),
            talk_to_listen_ratio: Some(1.0534),
            switches: 13,
            switches_per_hour: Some(505.0723),
            longest_monologue_ms: Some(18_160),
            longest_customer_monologue_ms: Some(8_360),
            average_pause_before_speaking_ms: Some(1233.3333),
            non_talk_time_ms: Some(0),
            interruptions: Some(1),
            questions: QuestionCounts {
                internal: 4,
                external: 1,
                unknown: 0,
            },
        }),
        questions: vec![],
        action_items: vec![
            item(
                "I will send the proposal",
                Some("Maria Lopez"),
                Some("2026-11-20"),
            ),
            item("Call procurement", None, None),
        ],
        tracker_hits: vec![],
        tracker_counts: vec![
            TrackerCount {
                tracker: "SAP".into(),
                kind: TrackerKind::Competitor,
                side: Side::External,
                count: 1,
            },
            TrackerCount {
                tracker: "pricing".into(),
                kind: TrackerKind::Keyword,
                side: Side::External,
                count: 2,
            },
            TrackerCount {
                tracker: "pricing".into(),
                kind: TrackerKind::Keyword,
                side: Side::Internal,
                count: 1,
            },
        ],
        highlights: vec![],
        redactions: vec![],
    }
}

/// A one-object mapping document: `fields` are catalogue lines (YAML flow maps), `mapped`
/// are `(source, target)` pairs; the key field `k` (text) is added first to both.
fn one_object(crm: &str, fields: &[&str], mapped: &[(&str, &str)]) -> String {
    let key_type = if crm == "dynamics" { "string" } else { "text" };
    let mut s = format!(
        "tenant_id: acme\ncrm: {crm}\nversion: 1\ncatalogue:\n  version: 1\n  objects:\n    - name: O\n      fields:\n        - {{name: k, type: {key_type}}}\n"
    );
    for f in fields {
        s.push_str(&format!("        - {f}\n"));
    }
    s.push_str("records:\n  - record: insight\n    object: O\n    fields:\n      - {source: external_id, target: k}\n");
    for (source, target) in mapped {
        s.push_str(&format!("      - {{source: {source}, target: {target}}}\n"));
    }
    s
}

fn check(text: &str) -> Result<ValidMapping, MappingError> {
    validate(&CrmMapping::from_yaml(text).expect("test document parses"))
}

#[test]
fn forty_fields_pass_and_forty_one_are_rejected_naming_the_41st() {
    for crm in ["dynamics", "salesforce"] {
        let ty = if crm == "dynamics" { "string" } else { "text" };
        let catalogue: Vec<String> = (1..=40)
            .map(|i| format!("{{name: f{i}, type: {ty}}}"))
            .collect();
        let catalogue: Vec<&str> = catalogue.iter().map(String::as_str).collect();
        let targets: Vec<String> = (1..=40).map(|i| format!("f{i}")).collect();
        // The key field plus f1..f39: 40 fields.
        let forty: Vec<(&str, &str)> = targets[..39]
            .iter()
            .map(|t| ("conversation_id", t.as_str()))
            .collect();
        let ok = check(&one_object(crm, &catalogue, &forty)).unwrap();
        assert_eq!(ok.records[0].fields.len(), 40);
        // The key field plus f1..f40: 41 fields.
        let forty_one: Vec<(&str, &str)> = targets
            .iter()
            .map(|t| ("conversation_id", t.as_str()))
            .collect();
        let err = check(&one_object(crm, &catalogue, &forty_one)).unwrap_err();
        assert_eq!(
            err,
            MappingError::TooManyFields {
                object: "O".into(),
                count: 41,
                field: "f40".into()
            }
        );
        assert!(err.to_string().contains("f40"), "{err}");
    }
}

#[test]
fn every_unmappable_type_of_the_faq_is_rejected_naming_the_field() {
    // The FAQ's lists ("Quels champs ne peuvent pas être personnalisés ?"), by catalogue name.
    let lists = [
        (
            "dynamics",
            &[
                "file",
                "image",
                "rich_text",
                "multi_select_option_set",
                "uniqueidentifier",
            ][..],
        ),
        (
            "salesforce",
            &[
                "geolocation",
                "rich_text_area",
                "encrypted_text_area",
                "external_lookup",
                "multi_select_picklist",
                "id",
            ][..],
        ),
    ];
    for (crm, types) in lists {
        for ty in types {
            let field = format!("{{name: bad_{ty}, type: {ty}}}");
            let target = format!("bad_{ty}");
            let err =
                check(&one_object(crm, &[&field], &[("conversation_id", &target)])).unwrap_err();
            assert!(
                matches!(&err, MappingError::UnmappableType { field, .. } if *field == target),
                "{crm} {ty}: {err:?}"
            );
            assert!(err.to_string().contains(&target), "{err}");
        }
    }
    // Dynamics fields whose IsValidODataAttribute is false.
    let err = check(&one_object(
        "dynamics",
        &["{name: legacy, type: string, valid_odata: false}"],
        &[("conversation_id", "legacy")],
    ))
    .unwrap_err();
    assert_eq!(
        err,
        MappingError::NotODataAttribute {
            object: "O".into(),
            field: "legacy".into()
        }
    );
}

#[test]
fn a_calculated_target_is_rejected() {
    let err = check(&one_object(
        "salesforce",
        &["{name: Score__c, type: number, calculated: true}"],
        &[("switches", "Score__c")],
    ))
    .unwrap_err();
    assert_eq!(
        err,
        MappingError::CalculatedTarget {
            object: "O".into(),
            field: "Score__c".into()
        }
    );
}

/// The built-in Salesforce document with its two record types in the given order.
fn salesforce_records(order: [RecordType; 2]) -> CrmMapping {
    let mut doc = defaults::document(CrmKind::Salesforce, "acme").unwrap();
    doc.records
        .sort_by_key(|r| order.iter().position(|o| *o == r.record));
    doc
}

#[test]
fn a_related_record_type_must_come_after_its_source() {
    let ok = salesforce_records([RecordType::Insight, RecordType::Task]);
    assert!(validate(&ok).is_ok());
    let swapped = salesforce_records([RecordType::Task, RecordType::Insight]);
    assert_eq!(
        validate(&swapped).unwrap_err(),
        MappingError::RelatedBeforeSource {
            object: "Task".into(),
            field: "WhatId".into(),
            record: RecordType::Task,
            related: "Debrief_Conversation_Insight__c".into(),
        }
    );
    let mut alone = ok.clone();
    alone.records.retain(|r| r.record == RecordType::Task);
    assert!(matches!(
        validate(&alone).unwrap_err(),
        MappingError::UnresolvedReference { field, .. } if field == "WhatId"
    ));
}

#[test]
fn other_mistakes_are_rejected_with_the_field_named() {
    let cases: Vec<(String, &str)> = vec![
        (
            one_object("salesforce", &[], &[("title", "Nope__c")]),
            "O.Nope__c: no such field",
        ),
        (
            one_object(
                "salesforce",
                &["{name: N, type: number}"],
                &[("title", "N")],
            ),
            "O.N: a text value (title) cannot be written to a number field",
        ),
        (
            one_object(
                "salesforce",
                &["{name: S, type: text}"],
                &[("subject", "S")],
            ),
            "O.S: subject is not available on insight records",
        ),
        (
            one_object(
                "salesforce",
                &["{name: R, type: text, required: true}"],
                &[],
            ),
            "O.R: required in the CRM but not mapped",
        ),
        (
            one_object("dynamics", &["{name: N, type: number}"], &[]),
            "O.N: type number is not a dynamics type",
        ),
        (
            one_object(
                "salesforce",
                &["{name: A, type: text}"],
                &[("title", "A"), ("outcome", "A")],
            ),
            "O.A: mapped twice",
        ),
        (
            one_object(
                "salesforce",
                &["{name: B, type: text}"],
                &[("external_id", "B")],
            ),
            "O: exactly one field must take external_id",
        ),
    ];
    for (doc, want) in cases {
        let err = check(&doc).unwrap_err().to_string();
        assert!(err.starts_with(want), "{err} (want {want})");
    }
}

#[test]
fn an_unreadable_field_is_left_out_and_reported_as_4100_with_its_name_only() {
    let mut doc = defaults::document(CrmKind::Salesforce, "acme").unwrap();
    for object in &mut doc.catalogue.objects {
        if object.name == "Task" {
            for f in &mut object.fields {
                if f.name == "Description" || f.name == "Debrief_Owner__c" {
                    f.readable = false;
                }
            }
        }
    }
    let mapping = validate(&doc).unwrap();
    let out = build(&insight(), &mapping);
    assert_eq!(out.tasks.len(), 2, "the tasks are still written");
    for task in &out.tasks {
        let names: Vec<&str> = task.fields.iter().map(|f| f.name.as_str()).collect();
        assert!(!names.contains(&"Description"), "{names:?}");
        assert!(!names.contains(&"Debrief_Owner__c"), "{names:?}");
        assert!(names.contains(&"Subject"), "{names:?}");
        assert_eq!(names.len(), 10);
    }
    assert!(out.insight.is_some());
    assert_eq!(out.errors.len(), 2, "one error per task record");
    let e = &out.errors[0];
    assert_eq!(e.kind, WriteErrorKind::FieldAccess);
    assert_eq!(e.code, Some(4100));
    assert_eq!(e.fields, vec!["Description", "Debrief_Owner__c"]);
    assert!(e.written);
    assert_eq!(e.external_id, "dbf1-230ead588d9d4f0b5ca320c26c7061e0-t000");
    let reason = e.reason();
    assert!(reason.starts_with("error 4100"), "{reason}");
    assert!(reason.contains("Description") && reason.contains("Debrief_Owner__c"));
    // Field names only: no values in the error record.
    let json = serde_json::to_string(e).unwrap();
    for value in ["Maria", "proposal", "Call procurement"] {
        assert!(
            !json.contains(value) && !reason.contains(value),
            "{value} leaked"
        );
    }
    // Tenant-wide: the same catalogue with everything readable gives no error.
    let out = build(
        &insight(),
        &defaults::mapping(CrmKind::Salesforce, "acme").unwrap(),
    );
    assert!(out.errors.is_empty());
    assert_eq!(out.tasks[0].fields.len(), 12);
}

#[test]
fn a_required_field_without_a_value_withholds_the_record_with_a_clear_error() {
    let mut doc = defaults::document(CrmKind::Salesforce, "acme").unwrap();
    for object in &mut doc.catalogue.objects {
        for f in &mut object.fields {
            if object.name == "Task" && f.name == "ActivityDate" {
                f.required = true;
            }
        }
    }
    let out = build(&insight(), &validate(&doc).unwrap());
    // Item 0 has a due date, item 1 has none.
    let ids: Vec<&str> = out.tasks.iter().map(|t| t.external_id.as_str()).collect();
    assert_eq!(ids, vec!["dbf1-230ead588d9d4f0b5ca320c26c7061e0-t000"]);
    assert_eq!(out.errors.len(), 1);
    let e = &out.errors[0];
    assert_eq!(
        (e.kind, e.code, e.written, e.fields.clone()),
        (
            WriteErrorKind::RequiredMissing,
            None,
            false,
            vec!["ActivityDate".to_string()]
        )
    );
    assert_eq!(
        e.reason(),
        "required field ActivityDate of Task dbf1-230ead588d9d4f0b5ca320c26c7061e0-t001 has no value; the record was not written"
    );
}

#[test]
fn task_values_are_shaped_for_the_crm() {
    let out = build(
        &insight(),
        &defaults::mapping(CrmKind::Dynamics, "acme").unwrap(),
    );
    let task = &out.tasks[0];
    let get = |name: &str| {
        task.fields
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.value.clone())
    };
    assert_eq!(
        get("subject"),
        Some(CrmValue::Text("Email: I will send the proposal".into()))
    );
    assert_eq!(
        get("debrief_duedate"),
        Some(CrmValue::Text("2026-11-20".into()))
    );
    assert_eq!(get("scheduledend"), Some(CrmValue::Null));
    assert_eq!(get("debrief_confidence"), Some(CrmValue::Decimal(0.8125)));
    assert_eq!(
        get("description"),
        Some(CrmValue::Text(
            "I will send the proposal\n\nOwner: Maria Lopez\nDue: 2026-11-20 (\"by Friday\")\nType: email, committed, confidence 0.81\nEvidence: conversation c1, segment s2 characters 4-28".into()
        ))
    );
    assert_eq!(
        get("regardingobjectid"),
        Some(CrmValue::Text(
            "dbf1-230ead588d9d4f0b5ca320c26c7061e0".into()
        ))
    );
    let rec = out.insight.as_ref().unwrap();
    let get = |name: &str| {
        rec.fields
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.value.clone())
    };
    // 92,660 ms is 93 s; 18,160 ms is 18 s; 1,233.3333 ms rounds to 1,233.
    assert_eq!(get("debrief_durationseconds"), Some(CrmValue::Integer(93)));
    assert_eq!(
        get("debrief_longestmonologueseconds"),
        Some(CrmValue::Integer(18))
    );
    assert_eq!(get("debrief_averagepausems"), Some(CrmValue::Integer(1233)));
    assert_eq!(get("debrief_keywordhits"), Some(CrmValue::Integer(3)));
    assert_eq!(
        get("debrief_competitorsmentioned"),
        Some(CrmValue::Text("SAP".into()))
    );
    assert_eq!(
        get("debrief_trackersummary"),
        Some(CrmValue::Text(
            "SAP (competitor): 1\npricing (keyword): 3".into()
        ))
    );
    assert_eq!(
        get("debrief_name"),
        Some(CrmValue::Text("Conversation c1".into()))
    );
    assert_eq!(
        record_keys("acme", "c1", 2),
        vec![
            rec.external_id.clone(),
            out.tasks[0].external_id.clone(),
            out.tasks[1].external_id.clone()
        ]
    );
}

#[test]
fn connect_json_is_a_flat_envelope_with_crm_native_lookups() {
    let sf = build(
        &insight(),
        &defaults::mapping(CrmKind::Salesforce, "acme").unwrap(),
    );
    let env: serde_json::Value = serde_json::from_slice(&connect::encode(&sf.tasks[1])).unwrap();
    assert_eq!(env["schema"]["type"], "struct");
    assert_eq!(env["schema"]["name"], "io.debrief.crm.salesforce.task");
    assert_eq!(env["schema"]["optional"], false);
    let fields = env["schema"]["fields"].as_array().unwrap();
    assert_eq!(fields.len(), 12);
    assert_eq!(
        fields[0],
        serde_json::json!({"field": "Debrief_External_Id__c", "type": "string", "optional": false})
    );
    assert_eq!(
        fields[8],
        serde_json::json!({"field": "Debrief_Confidence__c", "type": "double", "optional": true})
    );
    let p = &env["payload"];
    assert_eq!(
        p["Debrief_External_Id__c"],
        "dbf1-230ead588d9d4f0b5ca320c26c7061e0-t001"
    );
    assert_eq!(p["Subject"], "Email: Call procurement");
    assert!(p["ActivityDate"].is_null() && p["Debrief_Owner__c"].is_null());
    assert_eq!(
        p["What"],
        serde_json::json!({
            "attributes": {"type": "Debrief_Conversation_Insight__c"},
            "Debrief_External_Id__c": "dbf1-230ead588d9d4f0b5ca320c26c7061e0"
        })
    );
    assert_eq!(
        connect::key(&sf.tasks[1]),
        b"dbf1-230ead588d9d4f0b5ca320c26c7061e0-t001"
    );

    let dy = build(
        &insight(),
        &defaults::mapping(CrmKind::Dynamics, "acme").unwrap(),
    );
    let env = connect::envelope(&dy.tasks[0]);
    assert_eq!(
        env["payload"]["regardingobjectid_debrief_conversationinsight_task@odata.bind"],
        "/debrief_conversationinsights(debrief_externalid='dbf1-230ead588d9d4f0b5ca320c26c7061e0')"
    );
    let env = connect::envelope(dy.insight.as_ref().unwrap());
    assert_eq!(env["payload"]["debrief_switches"], 13);
    assert_eq!(env["payload"]["debrief_talktolistenratio"], 1.0534);
}

#[test]
fn avro_round_trips_and_is_deterministic() {
    for crm in CrmKind::ALL {
        let m = defaults::mapping(crm, "acme").unwrap();
        let out = build(&insight(), &m);
        let again = build(&insight(), &m);
        let records: Vec<&CrmRecord> = out.insight.iter().chain(out.tasks.iter()).collect();
        assert_eq!(records.len(), 3);
        for (a, b) in records
            .iter()
            .zip(again.insight.iter().chain(again.tasks.iter()))
        {
            let bytes = avro::record_single_object(a).unwrap();
            assert_eq!(bytes, avro::record_single_object(b).unwrap());
            assert_eq!(&bytes[..2], &[0xC3, 0x01]);
            assert_eq!(
                bytes[2..10],
                avro::record_fingerprint().unwrap().to_le_bytes()
            );
            assert_eq!(&avro::decode_record_single_object(&bytes).unwrap(), *a);
            assert_eq!(connect::encode(a), connect::encode(b));
            let confluent = avro::record_confluent(a, 7).unwrap();
            assert_eq!(&confluent[..5], &[0, 0, 0, 0, 7]);
            assert_eq!(&confluent[5..], &bytes[10..]);
        }
        assert!(avro::decode_record_single_object(b"\xC3\x01short").is_err());
    }
}

#[test]
fn write_errors_encode_against_their_schema() {
    let mut doc = defaults::document(CrmKind::Dynamics, "acme").unwrap();
    doc.catalogue.objects[1].fields[3].readable = false; // task.description
    let out = build(&insight(), &validate(&doc).unwrap());
    assert_eq!(out.errors[0].fields, vec!["description"]);
    let bytes = avro::error_single_object(&out.errors[0]).unwrap();
    assert_eq!(&bytes[..2], &[0xC3, 0x01]);
}

#[test]
fn default_topics_are_per_crm_and_record_type() {
    assert_eq!(
        default_topic(CrmKind::Dynamics, RecordType::Task),
        "debrief.crm.dynamics.tasks.v1"
    );
    assert_eq!(
        default_topic(CrmKind::Salesforce, RecordType::Insight),
        "debrief.crm.salesforce.insights.v1"
    );
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn arbitrary_insight() -> impl Strategy<Value = Insight> {
        (
            ".{0,40}",
            ".{0,40}",
            proptest::collection::vec((".{0,300}", proptest::option::of(".{0,30}")), 0..4),
            proptest::option::of(any::<i64>()),
        )
            .prop_map(|(tenant, conversation, items, duration)| {
                let mut i = insight();
                i.tenant_id = tenant;
                i.conversation_id = conversation;
                if let Some(k) = i.kpis.as_mut() {
                    k.duration_ms = duration;
                }
                i.action_items = items
                    .iter()
                    .map(|(text, owner)| item(text, owner.as_deref(), None))
                    .collect();
                i
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Any text, ids and numbers: building never panics, keys follow the scheme, the
        /// Avro form round-trips, the Connect form is JSON, and text respects max_length.
        #[test]
        fn any_insight_gives_well_formed_records(i in arbitrary_insight()) {
            for crm in CrmKind::ALL {
                let m = defaults::mapping(crm, "t").unwrap();
                let out = build(&i, &m);
                prop_assert!(out.errors.is_empty());
                prop_assert_eq!(out.tasks.len(), i.action_items.len());
                let keys = record_keys(&i.tenant_id, &i.conversation_id, i.action_items.len());
                let ids: Vec<String> = out.insight.iter().chain(&out.tasks).map(|r| r.external_id.clone()).collect();
                prop_assert_eq!(&ids, &keys);
                for r in out.insight.iter().chain(&out.tasks) {
                    let bytes = avro::record_single_object(r).unwrap();
                    prop_assert_eq!(&avro::decode_record_single_object(&bytes).unwrap(), r);
                    let json: serde_json::Value = serde_json::from_slice(&connect::encode(r)).unwrap();
                    prop_assert!(json["payload"].is_object());
                    let rec = m.record(r.record).unwrap();
                    for f in &r.fields {
                        let spec = rec.fields.iter().find(|v| v.target.name == f.name).unwrap();
                        if let (CrmValue::Text(t), Some(max)) = (&f.value, spec.target.max_length) {
                            prop_assert!(t.chars().count() <= max, "{} is {} chars", f.name, t.chars().count());
                        }
                    }
                }
            }
        }

        /// Arbitrary bytes never panic the decoder.
        #[test]
        fn any_bytes_decode_without_panicking(mut bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = avro::decode_record_single_object(&bytes);
            if bytes.len() >= 10 {
                bytes[..2].copy_from_slice(&[0xC3, 0x01]);
                bytes[2..10].copy_from_slice(&avro::record_fingerprint().unwrap().to_le_bytes());
                let _ = avro::decode_record_single_object(&bytes);
            }
        }
    }
}
