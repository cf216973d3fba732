//! The retention sweep against Apache Kafka (`scripts/test.sh`): conversations of two tenants
//! go through the real service (`debrief run`); one tenant then switches action items off,
//! the other keeps insights 40 days. `debrief admin sweep --now TIME` runs the sweep on a
//! test clock: 29 days after the switch-off the action items are still there, byte for byte;
//! 31 days after, the insight holds none (rewritten, same key) and its index entry no longer
//! lists the feature. The conversation finalised 30 days before is tombstoned once 40 days
//! old (insight and index entry), the one finalised now is intact byte for byte. (The
//! service's own hourly sweep runs at the wall clock's time, when nothing is due yet.) The audit trail records the
//! switch-off and each sweep's counts.

mod common;

use std::collections::BTreeMap;

use debrief::events::TranscriptEvent;
use debrief::governance::ConversationIndexEntry;
use debrief::insight::{Insight, SkipReason};
use debrief::tenant::TenantConfig;
use rdkafka::message::OwnedMessage;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::Message;

use common::stream::{
    codec, conversation, create_topic_with, key, read_all, read_until, Isolation, Service,
};
use common::{brokers, create_topic, producer, unique_name};

const DAY_MS: i64 = 86_400_000;

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap()
}

/// Publishes events with an explicit Kafka timestamp (the finalisation time the index
/// records is the end event's timestamp).
async fn publish_at(p: &FutureProducer, topic: &str, events: &[TranscriptEvent], at_ms: i64) {
    let c = codec();
    for e in events {
        let bytes = c.encode(topic, e).unwrap();
        p.send(
            FutureRecord::to(topic)
                .key(e.conversation_id.as_bytes())
                .payload(&bytes)
                .timestamp(at_ms),
            std::time::Duration::from_secs(30),
        )
        .await
        .expect("publishing an event");
    }
}

async fn publish_config(p: &FutureProducer, s: &Service, config: &TenantConfig) {
    let bytes = codec().encode(&s.tenant_config, config).unwrap();
    common::produce(
        p,
        &s.tenant_config,
        config.tenant_id.as_bytes(),
        &bytes,
        None,
    )
    .await;
}

/// The latest record of each key (`None`: a tombstone).
fn latest(msgs: &[OwnedMessage]) -> BTreeMap<String, Option<Vec<u8>>> {
    msgs.iter()
        .map(|m| (key(m), m.payload().map(<[u8]>::to_vec)))
        .collect()
}

/// Runs `debrief admin ARGS` against the service's topics; (exit success, stdout lines).
fn admin(s: &Service, args: &[&str]) -> (bool, Vec<serde_json::Value>) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_debrief"))
        .arg("admin")
        .args(args)
        .env("DEBRIEF__KAFKA__BROKERS", &s.brokers)
        .env("DEBRIEF__KAFKA__GROUP_ID", &s.group)
        .env("DEBRIEF__KAFKA__TOPICS__TRANSCRIPTS", &s.transcripts)
        .env("DEBRIEF__KAFKA__TOPICS__TENANT_CONFIG", &s.tenant_config)
        .env("DEBRIEF__KAFKA__TOPICS__TELEMETRY", &s.telemetry)
        .env("DEBRIEF__CRM__DYNAMICS", &s.dynamics)
        .env("DEBRIEF__CRM__SALESFORCE", &s.salesforce)
        .env(
            "DEBRIEF__KAFKA__TOPICS__CONVERSATION_INDEX",
            &s.conversation_index,
        )
        .env("DEBRIEF__KAFKA__TOPICS__ERASURE", &s.erasure)
        .env("DEBRIEF__KAFKA__TOPICS__AUDIT", &s.audit)
        .env("DEBRIEF__KAFKA__TOPICS__ERASURE_LEDGER", &s.erasure_ledger)
        .envs(s.env.iter().map(|(k, v)| (k, v)))
        .output()
        .expect("running debrief admin");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let json = text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    (out.status.success(), json)
}

async fn admin_async(s: &Service, args: &[&str]) -> (bool, Vec<serde_json::Value>) {
    let (s, args): (Service, Vec<String>) =
        (s.clone(), args.iter().map(|a| a.to_string()).collect());
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        admin(&s, &args)
    })
    .await
    .unwrap()
}

fn insight(value: &[u8]) -> Insight {
    codec().decode::<Insight>(value).expect("an insight")
}

fn index_entry(value: &[u8]) -> ConversationIndexEntry {
    codec()
        .decode::<ConversationIndexEntry>(value)
        .expect("an index entry")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a broker: scripts/test.sh"]
async fn switched_off_features_go_after_30_days_and_old_insights_after_the_retention() {
    let brokers = brokers();
    let s = Service::named(&brokers, "retention");
    // Records 30 days old would be deleted at once under the default 7-day retention.
    create_topic_with(&brokers, &s.transcripts, 1, &[("retention.ms", "-1")]).await;
    let (crm_insights, crm_tasks, mapping) = (
        unique_name("retention-crm-insights"),
        unique_name("retention-crm-tasks"),
        unique_name("retention-crm-mapping"),
    );
    for topic in [
        &s.tenant_config,
        &s.telemetry,
        &s.dead_letter,
        &s.dynamics,
        &s.salesforce,
        &s.conversation_index,
        &s.erasure,
        &s.erasure_ledger,
        &s.audit,
        &crm_insights,
        &crm_tasks,
        &mapping,
    ] {
        create_topic(&brokers, topic, 1).await;
    }
    let s = s
        .with("DEBRIEF__CRM_RECORDS__ENABLED", "true")
        .with("DEBRIEF__CRM_RECORDS__MAPPING_TOPIC", &mapping)
        .with("DEBRIEF__CRM_RECORDS__DYNAMICS__INSIGHTS", &crm_insights)
        .with("DEBRIEF__CRM_RECORDS__DYNAMICS__TASKS", &crm_tasks);
    let p = producer(&brokers);
    publish_config(
        &p,
        &s,
        &TenantConfig {
            tenant_id: "acme".into(),
            version: 1,
            ..TenantConfig::default()
        },
    )
    .await;
    publish_config(
        &p,
        &s,
        &TenantConfig {
            tenant_id: "globex".into(),
            version: 1,
            insight_retention_days: Some(40),
            ..TenantConfig::default()
        },
    )
    .await;
    let now = now_ms();
    publish_at(
        &p,
        &s.transcripts,
        &conversation("globex-old", "globex", 6),
        now - 30 * DAY_MS,
    )
    .await;
    publish_at(&p, &s.transcripts, &conversation("acme-1", "acme", 6), now).await;
    publish_at(
        &p,
        &s.transcripts,
        &conversation("globex-new", "globex", 6),
        now,
    )
    .await;
    let mut child = s.spawn();
    let (b, t) = (brokers.clone(), s.conversation_index.clone());
    let index = tokio::task::spawn_blocking(move || {
        read_until(&b, &t, Isolation::Committed, |m| latest(m).len() == 3)
    })
    .await
    .unwrap();
    assert_eq!(common::stream::terminate(&mut child), Some(0));
    let before = latest(&read_all(&brokers, &s.dynamics, Isolation::Committed));
    let index_before = latest(&index);
    let acme_before = before["acme-1"].clone().expect("acme-1's insight");
    assert!(
        !insight(&acme_before).action_items.is_empty(),
        "the test needs action items to remove"
    );
    let acme_entry = index_entry(index_before["acme-1"].as_ref().unwrap());
    assert!(acme_entry.features.iter().any(|f| f == "action_items"));
    let tasks_before = latest(&read_all(&brokers, &crm_tasks, Isolation::Committed));
    let records_before = latest(&read_all(&brokers, &crm_insights, Isolation::Committed));
    let keys_on = |topic: &str, e: &ConversationIndexEntry| -> Vec<String> {
        e.outputs
            .iter()
            .filter(|o| o.topic == topic)
            .map(|o| o.key.clone())
            .collect()
    };
    let acme_tasks = keys_on(&crm_tasks, &acme_entry);
    let acme_record = keys_on(&crm_insights, &acme_entry);
    assert!(
        !acme_tasks.is_empty() && acme_record.len() == 1,
        "{acme_entry:?}"
    );
    assert!(acme_tasks.iter().all(|k| tasks_before[k].is_some()));
    let globex_new = index_entry(index_before["globex-new"].as_ref().unwrap());
    let globex_old = index_entry(index_before["globex-old"].as_ref().unwrap());

    // acme switches action items off now (the record's timestamp dates the switch).
    publish_config(
        &p,
        &s,
        &TenantConfig {
            tenant_id: "acme".into(),
            version: 2,
            features: debrief::tenant::Features {
                action_items: false,
                ..Default::default()
            },
            ..TenantConfig::default()
        },
    )
    .await;
    let switched_at = now_ms();

    // 29 days on: globex-old is 59 days old, past its 40, and goes; acme is untouched.
    let at = (switched_at + 29 * DAY_MS).to_string();
    let (ok, counts) = admin_async(&s, &["sweep", "--now", &at]).await;
    assert!(ok);
    let old_outputs = globex_old.outputs.len() as i64;
    assert!(
        old_outputs >= 2,
        "the CRM topic and the CRM insight record at least"
    );
    assert_eq!(
        counts,
        [
            serde_json::json!({"tenant_id": "globex", "rewritten": 0, "tombstoned": 1, "records": old_outputs + 1})
        ]
    );
    let crm = latest(&read_all(&brokers, &s.dynamics, Isolation::Committed));
    assert_eq!(
        crm["acme-1"].as_ref(),
        Some(&acme_before),
        "29 days: untouched"
    );
    assert_eq!(crm["globex-old"], None, "tombstoned");
    assert_eq!(crm["globex-new"], before["globex-new"], "byte for byte");
    let idx = latest(&read_all(
        &brokers,
        &s.conversation_index,
        Isolation::Committed,
    ));
    assert_eq!(idx["globex-old"], None);
    assert_eq!(idx["globex-new"], index_before["globex-new"]);
    assert_eq!(idx["acme-1"], index_before["acme-1"]);
    let tasks = latest(&read_all(&brokers, &crm_tasks, Isolation::Committed));
    let records = latest(&read_all(&brokers, &crm_insights, Isolation::Committed));
    for o in &globex_old.outputs {
        let now = latest(&read_all(&brokers, &o.topic, Isolation::Committed));
        assert_eq!(now[&o.key], None, "{} {} tombstoned", o.topic, o.key);
    }
    for k in keys_on(&crm_insights, &globex_new)
        .iter()
        .chain(&acme_record)
    {
        assert_eq!(records[k], records_before[k], "byte for byte");
    }
    for k in keys_on(&crm_tasks, &globex_new).iter().chain(&acme_tasks) {
        assert_eq!(tasks[k], tasks_before[k], "byte for byte");
    }

    // 31 days on: acme-1 is rewritten without its action items, under the same key.
    let at = (switched_at + 31 * DAY_MS).to_string();
    let (ok, counts) = admin_async(&s, &["sweep", "--now", &at]).await;
    assert!(ok);
    // The insight, its CRM insight record, each task record, the index entry.
    let written = 3 + acme_tasks.len() as i64;
    assert_eq!(
        counts,
        [
            serde_json::json!({"tenant_id": "acme", "rewritten": 1, "tombstoned": 0, "records": written})
        ]
    );
    let crm = latest(&read_all(&brokers, &s.dynamics, Isolation::Committed));
    let old = insight(&acme_before);
    let new = insight(
        crm["acme-1"]
            .as_ref()
            .expect("acme-1 rewritten, not removed"),
    );
    assert!(new.action_items.is_empty());
    assert!(new.skip_reasons.contains(&SkipReason::FeatureDisabled));
    assert_eq!(
        (&new.kpis, &new.questions, &new.language, new.text_chars),
        (&old.kpis, &old.questions, &old.language, old.text_chars),
        "everything else is kept"
    );
    assert_eq!(crm["globex-new"], before["globex-new"], "byte for byte");
    let idx = latest(&read_all(
        &brokers,
        &s.conversation_index,
        Isolation::Committed,
    ));
    let entry = index_entry(idx["acme-1"].as_ref().unwrap());
    assert!(!entry.features.iter().any(|f| f == "action_items"));
    assert_eq!(entry.telemetry_key, acme_entry.telemetry_key);
    assert_eq!(keys_on(&crm_tasks, &entry), Vec::<String>::new());
    let tasks = latest(&read_all(&brokers, &crm_tasks, Isolation::Committed));
    for k in &acme_tasks {
        assert_eq!(tasks[k], None, "task {k} tombstoned");
    }
    let records = latest(&read_all(&brokers, &crm_insights, Isolation::Committed));
    let rebuilt = records[&acme_record[0]]
        .as_ref()
        .expect("rebuilt, not removed");
    assert_ne!(Some(rebuilt), records_before[&acme_record[0]].as_ref());
    for k in keys_on(&crm_insights, &globex_new) {
        assert_eq!(records[&k], records_before[&k], "byte for byte");
    }
    // A third sweep finds nothing left to do.
    let (ok, counts) = admin_async(&s, &["sweep", "--now", &at]).await;
    assert!(ok && counts.is_empty(), "{counts:?}");

    // The audit trail: the switch-off (dated by the configuration record) and the sweep.
    let (_, trail) = admin_async(&s, &["audit", "--tenant", "acme"]).await;
    let actions: Vec<(&str, &str)> = trail
        .iter()
        .map(|r| {
            (
                r["action"].as_str().unwrap_or_default(),
                r["actor"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert!(
        actions.contains(&("feature_switched_off", "tenant-config")),
        "{trail:?}"
    );
    assert!(
        actions.contains(&("retention_sweep", "admin-sweep")),
        "{trail:?}"
    );
    let off = trail
        .iter()
        .find(|r| r["action"] == "feature_switched_off")
        .unwrap();
    assert_eq!(off["scope"], "action_items");
    assert_eq!(off["config_version"], 2);
    let off_at = off["at_ms"].as_i64().unwrap();
    assert!(
        (switched_at - 60_000..=switched_at).contains(&off_at),
        "{off_at}"
    );
    let (_, trail) = admin_async(&s, &["audit", "--tenant", "globex"]).await;
    let sweep = trail
        .iter()
        .find(|r| r["action"] == "retention_sweep")
        .expect("globex's sweep");
    assert_eq!(sweep["count"], 1);
}
