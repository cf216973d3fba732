//! Experience profiles and data residency, end to end.
//!
//! - `debrief process --config`: a conversation whose owner is in a profile without action
//!   items gets none (and `feature_disabled`), and the insight names the profile; the owner
//!   comes from `owner_id`, else the first internal speaker; everyone else gets `default`.
//! - The service against Apache Kafka (`scripts/test.sh`), in region `eu`: a tenant of the
//!   `us` geography without cross-region movement gets nothing processed (no insight, no
//!   index entry), its events are counted as `residency`, one telemetry and one audit record
//!   per conversation say `residency`, and the offsets move past them; a `us` tenant that
//!   allows movement, and an `eu` one, are processed, the latter with its owners' profiles; a
//!   new configuration version that stops movement drops the open conversations at once and
//!   refuses later ones.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use debrief::config::Config;
use debrief::events::{InteractionTelemetry, TranscriptEvent, TranscriptPayload};
use debrief::governance::audit::AuditRecord;
use debrief::http::Health;
use debrief::insight::{Insight, SkipReason};
use debrief::metrics::Metrics;
use debrief::pipeline::run_pipeline_with;
use debrief::tenant::{ProfileAssignment, ProfileConfig, ProfileFeatures, TenantConfig};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::OwnedMessage;
use rdkafka::{Message, Offset, TopicPartitionList};
use tokio_util::sync::CancellationToken;

use common::stream::{codec, conversation, publish, read_all, read_until, Isolation, Service};
use common::{brokers, produce, producer};

/// A tenant whose `ann@acme.com` and `seller@acme.com` are in a profile without action items.
const TENANT_YAML: &str = "\
tenant_id: acme
version: 3
internal_domains: [acme.com]
profiles:
  - name: no-actions
    features: {action_items: false}
profile_assignments:
  - {representative: Ann@Acme.com, profile: no-actions}
";

/// Three conversations with the same commitment ("I'll send you the updated quote by
/// Friday"): owned by Ann (given), by Ann (first internal speaker, no owner given), and by
/// Bob (given; assigned to no profile).
const CONVERSATIONS: &str = r#"{"id": "ann-given", "owner_id": "ann@acme.com", "started_at": "2026-11-16T10:00:00+00:00", "segments": [{"speaker": "cust@client.org", "start_ms": 0, "end_ms": 3000, "text": "Can you send us the pricing details?"}, {"speaker": "ann@acme.com", "start_ms": 3500, "end_ms": 7000, "text": "Sure, I'll send you the updated quote by Friday."}]}
{"id": "ann-first-internal", "started_at": "2026-11-16T10:00:00+00:00", "segments": [{"speaker": "cust@client.org", "start_ms": 0, "end_ms": 3000, "text": "Can you send us the pricing details?"}, {"speaker": "ANN@acme.com", "start_ms": 3500, "end_ms": 7000, "text": "Sure, I'll send you the updated quote by Friday."}, {"speaker": "bob@acme.com", "start_ms": 7500, "end_ms": 9000, "text": "And I will call you on Monday."}]}
{"id": "bob-given", "owner_id": "bob@acme.com", "started_at": "2026-11-16T10:00:00+00:00", "segments": [{"speaker": "cust@client.org", "start_ms": 0, "end_ms": 3000, "text": "Can you send us the pricing details?"}, {"speaker": "ann@acme.com", "start_ms": 3500, "end_ms": 7000, "text": "Sure, I'll send you the updated quote by Friday."}]}
"#;

#[test]
fn process_applies_the_owners_profile_and_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let tenant = dir.path().join("tenant.yaml");
    std::fs::write(&tenant, TENANT_YAML).unwrap();
    let input = dir.path().join("calls.jsonl");
    std::fs::write(&input, CONVERSATIONS).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_debrief"))
        .args(["process", "--no-progress", "--config"])
        .arg(&tenant)
        .arg(&input)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let insights: Vec<Insight> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let got: Vec<(&str, Option<&str>, usize, bool)> = insights
        .iter()
        .map(|i| {
            (
                i.conversation_id.as_str(),
                i.profile.as_deref(),
                i.action_items.len(),
                i.skip_reasons.contains(&SkipReason::FeatureDisabled),
            )
        })
        .collect();
    assert_eq!(got[0], ("ann-given", Some("no-actions"), 0, true));
    assert_eq!(got[1], ("ann-first-internal", Some("no-actions"), 0, true));
    assert_eq!(got[2].0, "bob-given");
    assert_eq!(got[2].1, Some("default"));
    assert!(got[2].2 >= 1, "the default profile extracts action items");
    assert!(!got[2].3);
    // The other features of the profile still run.
    assert!(insights.iter().all(|i| i.kpis.is_some()));
}

#[test]
fn process_rejects_a_profile_configuration_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let tenant = dir.path().join("tenant.yaml");
    std::fs::write(
        &tenant,
        "tenant_id: acme\nprofile_assignments:\n  - {representative: ann@acme.com, profile: gold}\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_debrief"))
        .args(["process", "--no-progress", "--config"])
        .arg(&tenant)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/renewal-call.vtt"
        ))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("profile_assignments[0] names the profile `gold`, which is not defined"),
        "{err}"
    );
}

/// The service's configuration over `s`'s topics, in `region`.
fn config(s: &Service, region: &str) -> Config {
    let mut c = Config {
        region: Some(region.into()),
        ..Config::default()
    };
    c.kafka.brokers = s.brokers.parse().unwrap();
    c.kafka.group_id = s.group.clone();
    c.kafka.topics.transcripts = vec![s.transcripts.clone()];
    c.kafka.topics.tenant_config = s.tenant_config.clone();
    c.kafka.topics.telemetry = s.telemetry.clone();
    c.kafka.topics.dead_letter = s.dead_letter.clone();
    c.kafka.topics.conversation_index = s.conversation_index.clone();
    c.kafka.topics.erasure = s.erasure.clone();
    c.kafka.topics.erasure_ledger = s.erasure_ledger.clone();
    c.kafka.topics.audit = s.audit.clone();
    c.crm.dynamics = s.dynamics.clone();
    c.crm.salesforce = s.salesforce.clone();
    c.http.listen = ([127, 0, 0, 1], 0).into();
    c.shutdown_deadline = Duration::from_secs(5);
    c.assembly.idle_timeout = Duration::from_secs(60);
    c.kafka
        .options
        .insert("session.timeout.ms".into(), "10000".into());
    c.kafka
        .options
        .insert("heartbeat.interval.ms".into(), "500".into());
    c
}

fn tenant(id: &str, geography: &str, allow: Option<bool>) -> TenantConfig {
    TenantConfig {
        tenant_id: id.into(),
        version: 1,
        geography: Some(geography.into()),
        allow_cross_region: allow,
        ..TenantConfig::default()
    }
}

/// `conversation(id, tenant, 6)` with `owner` as its `owner_id`.
fn owned(id: &str, tenant: &str, owner: Option<&str>) -> Vec<TranscriptEvent> {
    let mut events = conversation(id, tenant, 6);
    if let TranscriptPayload::Started(s) = &mut events[0].payload {
        s.owner_id = owner.map(str::to_owned);
    }
    events
}

fn keys(msgs: &[OwnedMessage]) -> BTreeSet<String> {
    msgs.iter()
        .filter(|m| m.payload().is_some())
        .map(common::stream::key)
        .collect()
}

fn decoded<T: debrief::schema::ContractRecord>(msgs: &[OwnedMessage]) -> Vec<T> {
    let c = codec();
    msgs.iter()
        .filter_map(|m| m.payload())
        .map(|p| c.decode::<T>(p).expect("a contract record"))
        .collect()
}

fn residency_telemetry(msgs: &[OwnedMessage]) -> Vec<InteractionTelemetry> {
    decoded::<InteractionTelemetry>(msgs)
        .into_iter()
        .filter(|t| t.reason.as_deref() == Some("residency"))
        .collect()
}

fn residency_audit(msgs: &[OwnedMessage]) -> Vec<AuditRecord> {
    decoded::<AuditRecord>(msgs)
        .into_iter()
        .filter(|a| a.action == "residency_refused")
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a broker: scripts/test.sh"]
async fn the_service_refuses_other_geographies_and_applies_profiles() {
    let brokers = brokers();
    let s = Service::create(&brokers, "residency", 1).await;
    let p = producer(&brokers);
    let mut eu = tenant("eu-co", "eu", None);
    eu.profiles = vec![ProfileConfig {
        name: "no-actions".into(),
        features: ProfileFeatures {
            action_items: false,
            ..ProfileFeatures::default()
        },
    }];
    eu.profile_assignments = vec![ProfileAssignment {
        representative: "seller@acme.com".into(),
        profile: "no-actions".into(),
    }];
    for t in [
        tenant("us-closed", "us", None),
        tenant("us-open", "us", Some(true)),
        eu,
    ] {
        let bytes = codec().encode(&s.tenant_config, &t).unwrap();
        produce(&p, &s.tenant_config, t.tenant_id.as_bytes(), &bytes, None).await;
    }
    // One partition: the refused conversations come first, so once the last insight is
    // there every earlier event was handled.
    let mut events = owned("closed-1", "us-closed", None);
    events.extend(owned("closed-2", "us-closed", Some("seller@acme.com")));
    let refused_events = events.len();
    events.extend(owned("open-1", "us-open", None));
    events.extend(owned("eu-seller", "eu-co", None));
    events.extend(owned("eu-boss", "eu-co", Some("boss@acme.com")));
    let total_events = events.len() as i64;
    publish(&p, &s.transcripts, &events).await;

    let stop = CancellationToken::new();
    // A failed wait below stops the service too, so the test fails instead of hanging.
    let _stop_on_panic = stop.clone().drop_guard();
    let metrics = std::sync::Arc::new(Metrics::new().unwrap());
    let task = tokio::spawn(run_pipeline_with(
        config(&s, "eu"),
        stop.clone(),
        metrics.clone(),
        std::sync::Arc::new(Health::default()),
    ));
    let (b, t) = (brokers.clone(), s.dynamics.clone());
    let crm = tokio::task::spawn_blocking(move || {
        read_until(&b, &t, Isolation::Committed, |m| keys(m).len() >= 3)
    })
    .await
    .unwrap();
    let (b, t) = (brokers.clone(), s.audit.clone());
    let audit = tokio::task::spawn_blocking(move || {
        read_until(&b, &t, Isolation::Committed, |m| {
            residency_audit(m).len() >= 2
        })
    })
    .await
    .unwrap();
    stop.cancel();
    task.await.unwrap().unwrap();

    // Processed: the tenant that allows movement and the European one; not the other.
    assert_eq!(
        keys(&crm),
        BTreeSet::from(["open-1", "eu-seller", "eu-boss"].map(String::from))
    );
    let index = read_all(&brokers, &s.conversation_index, Isolation::Committed);
    assert!(keys(&index).iter().all(|k| !k.starts_with("closed")));
    assert_eq!(keys(&index).len(), 3);

    // Profiles through the contract: owner_id, else the first internal speaker.
    let insights: Vec<Insight> = decoded(&crm);
    let by_id = |id: &str| insights.iter().find(|i| i.conversation_id == id).unwrap();
    let seller = by_id("eu-seller");
    assert_eq!(seller.profile.as_deref(), Some("no-actions"));
    assert!(seller.action_items.is_empty());
    assert!(seller.skip_reasons.contains(&SkipReason::FeatureDisabled));
    let boss = by_id("eu-boss");
    assert_eq!(boss.profile.as_deref(), Some("default"));
    assert!(!boss.action_items.is_empty());
    assert_eq!(by_id("open-1").profile.as_deref(), Some("default"));

    // One telemetry and one audit record per refused conversation, saying residency and
    // naming neither conversation.
    let telemetry = read_all(&brokers, &s.telemetry, Isolation::Committed);
    let refused = residency_telemetry(&telemetry);
    assert_eq!(refused.len(), 2, "{refused:?}");
    assert!(refused.iter().all(|t| t.tenant_id == "us-closed"
        && !t.conversation_id.contains("closed")
        && t.outcome == "skipped"));
    assert_eq!(decoded::<InteractionTelemetry>(&telemetry).len(), 5);
    let audit = residency_audit(&audit);
    assert_eq!(audit.len(), 2);
    assert!(audit
        .iter()
        .all(|a| a.tenant_id == "us-closed" && a.config_version == Some(1)));

    // The counts.
    let text = metrics.render();
    let consumed = format!(
        "debrief_records_consumed_total{{outcome=\"residency\",topic=\"{}\"}} {refused_events}",
        s.transcripts
    );
    assert!(text.contains(&consumed), "missing {consumed} in\n{text}");
    assert!(
        text.contains("debrief_conversations_refused_total{reason=\"residency\"} 2"),
        "{text}"
    );

    // The offsets moved on past every event, the refused ones included.
    let consumer: BaseConsumer = common::consumer_config(&brokers, &s.group)
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition(&s.transcripts, 0);
    let committed = consumer
        .committed_offsets(tpl, Duration::from_secs(10))
        .unwrap();
    assert_eq!(
        committed.elements()[0].offset(),
        Offset::Offset(total_events)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a broker: scripts/test.sh"]
async fn a_configuration_that_stops_movement_drops_open_conversations_and_refuses_later_ones() {
    let brokers = brokers();
    let s = Service::create(&brokers, "residency-change", 1).await;
    let p = producer(&brokers);
    let send = |t: TenantConfig| {
        let (p, topic) = (p.clone(), s.tenant_config.clone());
        async move {
            let bytes = codec().encode(&topic, &t).unwrap();
            produce(&p, &topic, t.tenant_id.as_bytes(), &bytes, None).await;
        }
    };
    send(tenant("mover", "us", Some(true))).await;
    // mover-1 is complete; mover-2 is open (no end event) when movement is switched off.
    let mut events = owned("mover-1", "mover", None);
    let mover2 = owned("mover-2", "mover", None);
    let (open_part, end) = mover2.split_at(mover2.len() - 1);
    events.extend(open_part.iter().cloned());
    events.extend(owned("other-1", "other", None));
    publish(&p, &s.transcripts, &events).await;

    let stop = CancellationToken::new();
    let _stop_on_panic = stop.clone().drop_guard();
    let metrics = std::sync::Arc::new(Metrics::new().unwrap());
    // No idle timeout within the test's waits: only the new version can close mover-2.
    let mut c = config(&s, "eu");
    c.assembly.idle_timeout = Duration::from_secs(3_600);
    let task = tokio::spawn(run_pipeline_with(
        c,
        stop.clone(),
        metrics.clone(),
        std::sync::Arc::new(Health::default()),
    ));
    let wait = |topic: String, done: fn(&[OwnedMessage]) -> bool| {
        let b = brokers.clone();
        tokio::task::spawn_blocking(move || read_until(&b, &topic, Isolation::Committed, done))
    };
    // other-1 comes after mover-2's open part: once its insight is there, mover-2 is open.
    wait(s.dynamics.clone(), |m| keys(m).contains("other-1"))
        .await
        .unwrap();
    let mut v2 = tenant("mover", "us", Some(false));
    v2.version = 2;
    send(v2).await;
    // The audit record of version 2 says it is in force.
    wait(s.audit.clone(), |m| {
        decoded::<AuditRecord>(m)
            .iter()
            .any(|a| a.action_id == "config:mover:v2")
    })
    .await
    .unwrap();
    // Putting it in force dropped and reported the open mover-2, before any later event.
    wait(s.audit.clone(), |m| residency_audit(m).len() == 1)
        .await
        .unwrap();
    let mut later = end.to_vec();
    later.extend(owned("mover-3", "mover", None));
    later.extend(owned("other-2", "other", None));
    publish(&p, &s.transcripts, &later).await;
    let crm = wait(s.dynamics.clone(), |m| keys(m).contains("other-2"))
        .await
        .unwrap();
    let audit = wait(s.audit.clone(), |m| residency_audit(m).len() >= 2)
        .await
        .unwrap();
    stop.cancel();
    task.await.unwrap().unwrap();

    assert_eq!(
        keys(&crm),
        BTreeSet::from(["mover-1", "other-1", "other-2"].map(String::from))
    );
    // mover-2 (dropped when version 2 came into force) and mover-3 (refused at decode).
    let audit = residency_audit(&audit);
    assert_eq!(audit.len(), 2);
    assert!(audit.iter().all(|a| a.config_version == Some(2)));
    let telemetry = read_all(&brokers, &s.telemetry, Isolation::Committed);
    assert_eq!(residency_telemetry(&telemetry).len(), 2);
    let text = metrics.render();
    assert!(
        text.contains("debrief_conversations_refused_total{reason=\"residency\"} 2"),
        "{text}"
    );
}
