//! `debrief run` with CRM records on and a tenant's own CRM mapping: the mapping topic's
//! valid version is used, a later invalid one is dead-lettered naming the field (and the
//! valid one stays in force), the task records (Avro) leave out the field the integration
//! user may not read, and one `field_access` dead letter per task names it, with code 4100
//! in the headers and no values.

mod common;

use common::stream::{self, Isolation};
use debrief::crm::{self, CrmKind, FieldMapping, RecordType, Source};
use debrief::events::{DeadLetter, DeadLetterKind};
use debrief::extract::{analyse, ExtractContext, Settings};
use debrief::ingest::files;
use debrief::ingest::stream::{to_events, ConvertOptions, Mode};
use debrief::insight::FinalisedBy;
use debrief::tenant::{apply_tenant_sides, TenantConfig, TenantRuntime};
use rdkafka::Message;
use std::path::PathBuf;
use std::process::Child;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The service, killed (and reaped) when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        stream::kill(&mut self.0);
    }
}

/// Action items per conversation as `debrief process --config examples/tenant.yaml` gives
/// them, and the tenant.
fn expected_items() -> (usize, TenantConfig) {
    let config = TenantConfig::from_path(&root().join("examples/tenant.yaml")).unwrap();
    let tenant = TenantRuntime::compile(config.clone()).unwrap();
    let settings = Settings::default();
    let ctx = ExtractContext {
        settings: &settings,
        tenant: Some(&tenant),
        finalised_by: FinalisedBy::File,
        reference_time: None,
    };
    let mut items = 0;
    for conv in files::open(&root().join("examples/conversations.jsonl")).unwrap() {
        let mut conv = conv.unwrap();
        apply_tenant_sides(&mut conv, &tenant.config);
        conv.tenant_id = tenant.config.tenant_id.clone();
        items += analyse(&conv, &ctx).action_items.len();
    }
    (items, config)
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a broker: scripts/test.sh"]
async fn a_tenant_mapping_is_applied_and_an_unreadable_field_gives_4100_dead_letters() {
    let brokers = common::brokers();
    let service = stream::Service::create(&brokers, "crm-pipeline", 1).await;
    let mapping_topic = common::unique_name("crm-mapping");
    let tasks = common::unique_name(&crm::default_topic(CrmKind::Salesforce, RecordType::Task));
    let insights = common::unique_name("crm-insights");
    for t in [&mapping_topic, &tasks, &insights] {
        common::create_topic(&brokers, t, 1).await;
    }
    let service = service
        .with("DEBRIEF__CRM_RECORDS__ENABLED", "true")
        .with("DEBRIEF__CRM_RECORDS__MAPPING_TOPIC", &mapping_topic)
        .with("DEBRIEF__CRM_RECORDS__SALESFORCE__TASKS", &tasks)
        .with("DEBRIEF__CRM_RECORDS__SALESFORCE__INSIGHTS", &insights);
    let (items, tenant) = expected_items();
    assert!(items >= 10);
    let producer = common::producer(&brokers);

    // Version 1: the built-in Salesforce mapping with Task.Description hidden from the
    // integration user. Version 2: also maps a calculated field (refused).
    let mut v1 = crm::defaults::document(CrmKind::Salesforce, &tenant.tenant_id).unwrap();
    v1.version = 1;
    for object in &mut v1.catalogue.objects {
        for f in &mut object.fields {
            if object.name == "Task" && f.name == "Description" {
                f.readable = false;
            }
        }
    }
    let mut v2 = v1.clone();
    v2.version = 2;
    v2.catalogue.objects[0].fields.push(crm::CatalogueField {
        name: "Score__c".into(),
        field_type: crm::FieldType::Number,
        required: false,
        calculated: true,
        readable: true,
        valid_odata: true,
        max_length: None,
        references: None,
        relationship: None,
    });
    v2.records[0].fields.push(FieldMapping {
        source: Source::Switches,
        target: "Score__c".into(),
    });
    for doc in [&v1, &v2] {
        let bytes = serde_json::to_vec(doc).unwrap();
        common::produce(
            &producer,
            &mapping_topic,
            tenant.tenant_id.as_bytes(),
            &bytes,
            None,
        )
        .await;
    }
    let config_bytes = stream::codec()
        .encode(&service.tenant_config, &tenant)
        .unwrap();
    common::produce(
        &producer,
        &service.tenant_config,
        tenant.tenant_id.as_bytes(),
        &config_bytes,
        None,
    )
    .await;
    let _running = Running(service.spawn());

    // The refused version 2 is dead-lettered, naming the field; the reader read version 1
    // before it, so from now on version 1 is in force.
    let dlq = stream::read_until(&brokers, &service.dead_letter, Isolation::Committed, |m| {
        !m.is_empty()
    });
    let codec = stream::codec();
    let refused: DeadLetter = codec.decode(dlq[0].payload().unwrap()).unwrap();
    assert_eq!(refused.kind, DeadLetterKind::InvalidConfig);
    assert_eq!(refused.source_topic, mapping_topic);
    assert!(refused.reason.contains("Score__c") && refused.reason.contains("calculated"));

    let opts = ConvertOptions {
        mode: Mode::Complete,
        ..ConvertOptions::default()
    };
    for conv in files::open(&root().join("examples/conversations.jsonl")).unwrap() {
        stream::publish(
            &producer,
            &service.transcripts,
            &to_events(&conv.unwrap(), &opts),
        )
        .await;
    }

    let records = stream::read_until(&brokers, &tasks, Isolation::Committed, |m| m.len() >= items);
    for m in &records {
        let task = crm::avro::decode_record_single_object(m.payload().unwrap()).unwrap();
        assert_eq!(stream::key(m), task.external_id);
        assert_eq!((task.mapping_version, task.record), (1, RecordType::Task));
        let names: Vec<&str> = task.fields.iter().map(|f| f.name.as_str()).collect();
        assert!(!names.contains(&"Description"), "{names:?}");
        assert!(names.contains(&"Subject"), "{names:?}");
    }

    let dlq = stream::read_until(&brokers, &service.dead_letter, Isolation::Committed, |m| {
        m.len() > items
    });
    let mut access = 0;
    for m in &dlq[1..] {
        let letter: DeadLetter = codec.decode(m.payload().unwrap()).unwrap();
        let headers = common::header_pairs(m);
        let header = |k: &str| {
            headers
                .iter()
                .find(|(name, _)| name == k)
                .and_then(|(_, v)| v.clone())
                .map(|v| String::from_utf8(v).unwrap())
        };
        assert_eq!(
            header("debrief.crm.error.kind").as_deref(),
            Some("field_access")
        );
        assert_eq!(header("debrief.crm.error.code").as_deref(), Some("4100"));
        assert!(letter.reason.starts_with("error 4100"), "{}", letter.reason);
        assert!(letter.reason.contains("Description"), "{}", letter.reason);
        assert_eq!(letter.source_topic, service.transcripts);
        let key = String::from_utf8(letter.key.clone().unwrap()).unwrap();
        assert!(records.iter().any(|r| stream::key(r) == key), "{key}");
        access += 1;
    }
    assert_eq!(access, items, "one field_access dead letter per task");
}
