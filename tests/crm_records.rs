//! The CRM records of every example conversation, in both CRM shapes, as `insta` snapshots
//! (`tests/snapshots/`): a change in what a CRM would receive shows as a diff. The insights
//! are built the way `debrief process --config examples/tenant.yaml` builds them (the README's
//! worked example: WebVTT gets `--started-at 2026-11-16T15:00:00+00:00` and
//! `--time-zone Europe/London`), through the library. Also checks the Kafka Connect example
//! in `deploy/connect/` against the built-in mappings.

use debrief::crm::{self, connect, CrmKind, RecordType};
use debrief::extract::{analyse, ExtractContext, Settings};
use debrief::ingest::files;
use debrief::insight::{FinalisedBy, Insight};
use debrief::tenant::{apply_tenant_sides, TenantConfig, TenantRuntime};
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The insights of one example file, as `process --config examples/tenant.yaml` gives them.
fn insights(file: &str, started_at: Option<&str>, time_zone: &str) -> Vec<Insight> {
    let config = TenantConfig::from_path(&root().join("examples/tenant.yaml")).unwrap();
    let tenant = TenantRuntime::compile(config).unwrap();
    let settings = Settings {
        default_time_zone: time_zone.to_string(),
        ..Settings::default()
    };
    let ctx = ExtractContext {
        settings: &settings,
        tenant: Some(&tenant),
        finalised_by: FinalisedBy::File,
        reference_time: started_at
            .map(|s| chrono::DateTime::parse_from_rfc3339(s).expect("test time")),
    };
    let reader = files::open(&root().join("examples").join(file)).unwrap();
    let mut out = Vec::new();
    for conv in reader {
        let mut conv = conv.unwrap();
        apply_tenant_sides(&mut conv, &tenant.config);
        conv.tenant_id = tenant.config.tenant_id.clone();
        out.push(analyse(&conv, &ctx));
    }
    out
}

fn all_examples() -> Vec<Insight> {
    let mut all = insights(
        "renewal-call.vtt",
        Some("2026-11-16T15:00:00+00:00"),
        "Europe/London",
    );
    all.extend(insights("conversations.jsonl", None, "UTC"));
    all
}

/// What a Kafka Connect sink receives for one conversation: `key` and the JsonConverter
/// envelope of each record (insight first, then the tasks), and the write errors.
fn sink_view(insight: &Insight, crm: CrmKind) -> serde_json::Value {
    let mapping = crm::defaults::mapping(crm, &insight.tenant_id).unwrap();
    let out = crm::build(insight, &mapping);
    let record = |r: &crm::CrmRecord| {
        serde_json::json!({
            "key": String::from_utf8(connect::key(r).to_vec()).unwrap(),
            "value": connect::envelope(r),
        })
    };
    serde_json::json!({
        "insight": out.insight.as_ref().map(record),
        "tasks": out.tasks.iter().map(record).collect::<Vec<_>>(),
        "errors": out.errors,
    })
}

#[test]
fn crm_records_of_every_example_in_both_shapes() {
    let all = all_examples();
    assert_eq!(
        all.len(),
        6,
        "renewal-call.vtt and the five lines of conversations.jsonl"
    );
    for insight in &all {
        for crm in CrmKind::ALL {
            let view = sink_view(insight, crm);
            // Hand-checked invariants, beside the snapshot: one task per action item, each
            // pointing at the insight record, keys equal to the upsert key values.
            let tasks = view["tasks"].as_array().unwrap();
            assert_eq!(tasks.len(), insight.action_items.len());
            let insight_key = view["insight"]["key"].as_str().unwrap();
            for (i, t) in tasks.iter().enumerate() {
                assert_eq!(t["key"].as_str().unwrap(), format!("{insight_key}-t{i:03}"));
                let text = &insight.action_items[i].text;
                let payload = &t["value"]["payload"];
                let (subject, description) = match crm {
                    CrmKind::Dynamics => (&payload["subject"], &payload["description"]),
                    CrmKind::Salesforce => (&payload["Subject"], &payload["Description"]),
                };
                let subject = subject.as_str().unwrap();
                assert!(
                    subject.ends_with(text.as_str()) || subject.ends_with('…'),
                    "{subject}"
                );
                assert!(description.as_str().unwrap().starts_with(text.as_str()));
            }
            assert!(view["errors"].as_array().unwrap().is_empty());
            let name = format!("{}__{}", crm.name(), insight.conversation_id);
            insta::assert_snapshot!(name, serde_json::to_string_pretty(&view).unwrap());
        }
    }
}

#[test]
fn the_same_examples_give_the_same_bytes_twice() {
    let (a, b) = (all_examples(), all_examples());
    for (x, y) in a.iter().zip(&b) {
        for crm in CrmKind::ALL {
            let m = crm::defaults::mapping(crm, &x.tenant_id).unwrap();
            let (ox, oy) = (crm::build(x, &m), crm::build(y, &m));
            let bytes = |o: &crm::CrmOutput| -> Vec<Vec<u8>> {
                o.insight
                    .iter()
                    .chain(&o.tasks)
                    .flat_map(|r| {
                        [
                            connect::encode(r),
                            crm::avro::record_single_object(r).unwrap(),
                        ]
                    })
                    .collect()
            };
            assert_eq!(bytes(&ox), bytes(&oy));
        }
    }
}

fn connect_config(file: &str) -> serde_json::Value {
    let path = root().join("deploy/connect").join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn the_connect_sink_examples_match_the_built_in_mappings() {
    let cases = [
        ("dynamics-tasks-sink.json", CrmKind::Dynamics),
        ("salesforce-tasks-sink.json", CrmKind::Salesforce),
    ];
    for (file, crm) in cases {
        let c = &connect_config(file)["config"];
        let get = |k: &str| c[k].as_str().unwrap_or_else(|| panic!("{file}: no {k}"));
        assert_eq!(
            get("topics"),
            crm::default_topic(crm, RecordType::Task),
            "{file}"
        );
        assert_eq!(
            get("key.converter"),
            "org.apache.kafka.connect.storage.StringConverter"
        );
        assert_eq!(
            get("value.converter"),
            "org.apache.kafka.connect.json.JsonConverter"
        );
        assert_eq!(get("value.converter.schemas.enable"), "true");
        assert_eq!(
            get("behavior.on.null.values"),
            "delete",
            "{file}: tombstones delete"
        );
        assert_eq!(get("request.method"), "PATCH", "{file}: upsert");
        let mapping = crm::defaults::mapping(crm, "t").unwrap();
        let task = mapping.record(RecordType::Task).unwrap();
        let url = get("http.api.url");
        assert!(url.contains("${key}"), "{file}: the URL carries the key");
        assert!(
            url.contains(&task.key_field),
            "{file}: upsert by {}",
            task.key_field
        );
        if let Some(set) = &task.entity_set {
            assert!(
                url.contains(&format!("/{set}(")),
                "{file}: entity set {set}"
            );
        } else {
            assert!(
                url.contains(&format!("/sobjects/{}/", task.object)),
                "{file}"
            );
        }
    }
}

/// The YAML block after the `<!-- example mapping` marker in `docs/crm.md`.
fn documented_mapping() -> String {
    let doc = std::fs::read_to_string(root().join("docs/crm.md")).unwrap();
    let after = &doc[doc
        .find("<!-- example mapping")
        .expect("marker in docs/crm.md")..];
    let start = after.find("```yaml\n").expect("yaml block") + "```yaml\n".len();
    let end = after[start..].find("```").expect("end of block");
    after[start..start + end].to_string()
}

#[test]
fn the_documented_mapping_validates_and_hides_the_unreadable_field() {
    let doc = crm::CrmMapping::from_yaml(&documented_mapping()).unwrap();
    let mapping = crm::validate(&doc).unwrap();
    assert_eq!(
        (mapping.crm, mapping.version, mapping.catalogue_version),
        (CrmKind::Salesforce, 4, 12)
    );
    let insight = &insights(
        "renewal-call.vtt",
        Some("2026-11-16T15:00:00+00:00"),
        "Europe/London",
    )[0];
    assert!(!insight.action_items.is_empty());
    let out = crm::build(insight, &mapping);
    assert_eq!(out.tasks.len(), insight.action_items.len());
    for task in &out.tasks {
        assert!(task.fields.iter().all(|f| f.name != "Private_Notes__c"));
        assert_eq!(task.fields.len(), 5);
    }
    assert_eq!(out.errors.len(), insight.action_items.len());
    for e in &out.errors {
        assert_eq!(
            (e.code, e.fields.clone()),
            (Some(4100), vec!["Private_Notes__c".to_string()])
        );
    }
    // The same document with the calculated or the unmappable field mapped is refused.
    for (target, want) in [
        ("Score__c", "calculated"),
        ("Location__c", "cannot be mapped"),
    ] {
        let text = documented_mapping().replace(
            "{source: competitors_mentioned, target: Competitors__c}",
            &format!("{{source: switches, target: {target}}}"),
        );
        let err = crm::validate(&crm::CrmMapping::from_yaml(&text).unwrap()).unwrap_err();
        assert!(
            err.to_string().contains(target) && err.to_string().contains(want),
            "{err}"
        );
    }
}
