//! The pipeline against a real broker (`scripts/test.sh` starts Apache Kafka and exports
//! `DEBRIEF_TEST_BROKERS`). Every test makes its own topics and consumer group.
//!
//! In-process runs use `debrief::pipeline::run_pipeline_with`; the crash and graceful-shutdown
//! tests run the real binary (`debrief run`) as a child process and signal it.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use debrief::config::Config;
use debrief::events::{DeadLetter, TranscriptEvent};
use debrief::http::Health;
use debrief::insight::{FinalisedBy, Insight};
use debrief::metrics::Metrics;
use debrief::pipeline::{run_pipeline_with, PipelineError, PipelineSummary};
use debrief::tenant::{TenantConfig, TrackerConfig};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::OwnedMessage;
use rdkafka::producer::FutureProducer;
use rdkafka::{Message, Offset, TopicPartitionList};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use common::stream::{codec, conversation_events as conversation, interleave, publish, Isolation};
use common::{brokers, create_topic, header_pairs, produce, producer, unique_name};

/// Upper bound for waiting on outputs; only turns a hang into a failure.
const WAIT: Duration = Duration::from_secs(90);

/// Topic names of one test.
#[derive(Clone)]
struct Topics {
    transcripts: String,
    tenant_config: String,
    telemetry: String,
    dead_letter: String,
    dynamics: String,
    salesforce: String,
}

async fn setup(brokers: &str, name: &str, partitions: i32) -> (Topics, Config) {
    let t = Topics {
        transcripts: unique_name(&format!("{name}-transcripts")),
        tenant_config: unique_name(&format!("{name}-tenants")),
        telemetry: unique_name(&format!("{name}-telemetry")),
        dead_letter: unique_name(&format!("{name}-dlq")),
        dynamics: unique_name(&format!("{name}-dynamics")),
        salesforce: unique_name(&format!("{name}-salesforce")),
    };
    create_topic(brokers, &t.transcripts, partitions).await;
    for topic in [
        &t.tenant_config,
        &t.telemetry,
        &t.dead_letter,
        &t.dynamics,
        &t.salesforce,
    ] {
        create_topic(brokers, topic, 1).await;
    }
    let mut c = Config::default();
    c.kafka.brokers = brokers.parse().unwrap();
    c.kafka.group_id = unique_name(&format!("{name}-group"));
    c.kafka.topics.transcripts = vec![t.transcripts.clone()];
    c.kafka.topics.tenant_config = t.tenant_config.clone();
    c.kafka.topics.telemetry = t.telemetry.clone();
    c.kafka.topics.dead_letter = t.dead_letter.clone();
    c.crm.dynamics = t.dynamics.clone();
    c.crm.salesforce = t.salesforce.clone();
    c.http.listen = ([127, 0, 0, 1], 0).into();
    c.shutdown_deadline = Duration::from_secs(5);
    c.assembly.idle_timeout = Duration::from_secs(60);
    for (k, v) in [
        ("session.timeout.ms", "10000"),
        ("heartbeat.interval.ms", "500"),
        ("statistics.interval.ms", "1000"),
    ] {
        c.kafka.options.insert(k.into(), v.into());
    }
    (t, c)
}

async fn publish_tenant(p: &FutureProducer, topic: &str, config: &TenantConfig) {
    let bytes = codec().encode(topic, config).unwrap();
    produce(p, topic, config.tenant_id.as_bytes(), &bytes, None).await;
}

/// A running in-process pipeline.
struct Running {
    stop: CancellationToken,
    health: Arc<Health>,
    metrics: Arc<Metrics>,
    task: JoinHandle<Result<PipelineSummary, PipelineError>>,
}

fn start(config: Config) -> Running {
    let stop = CancellationToken::new();
    let health = Arc::new(Health::default());
    let metrics = Arc::new(Metrics::new().unwrap());
    let task = tokio::spawn(run_pipeline_with(
        config,
        stop.clone(),
        metrics.clone(),
        health.clone(),
    ));
    Running {
        stop,
        health,
        metrics,
        task,
    }
}

impl Running {
    async fn wait_assigned(&self) {
        let deadline = Instant::now() + WAIT;
        while self.health.assigned() == 0 {
            assert!(
                Instant::now() < deadline,
                "no partition assigned within {WAIT:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn stop(self) -> PipelineSummary {
        self.stop.cancel();
        self.task.await.unwrap().unwrap()
    }
}

/// Reads a topic from the beginning until `done` accepts what was read (`read_committed`).
fn read_until(
    brokers: &str,
    topic: &str,
    done: impl Fn(&[OwnedMessage]) -> bool,
) -> Vec<OwnedMessage> {
    common::stream::read_until(brokers, topic, Isolation::Committed, done)
}

/// Every record of a topic, read after the writers stopped (`read_committed`).
fn read_all(brokers: &str, topic: &str) -> Vec<OwnedMessage> {
    common::stream::read_all(brokers, topic, Isolation::Committed)
}

fn insights(msgs: &[OwnedMessage]) -> Vec<Insight> {
    let codec = codec();
    msgs.iter()
        .map(|m| codec.decode::<Insight>(m.payload().unwrap()).unwrap())
        .collect()
}

fn distinct_ids(msgs: &[OwnedMessage]) -> BTreeSet<String> {
    msgs.iter()
        .map(|m| String::from_utf8(m.key().unwrap().to_vec()).unwrap())
        .collect()
}

/// Values by key; panics if one key has two different values.
fn one_value_per_key(msgs: &[OwnedMessage]) -> BTreeMap<String, Vec<u8>> {
    let mut by_key: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for m in msgs {
        let key = String::from_utf8(m.key().unwrap().to_vec()).unwrap();
        let value = m.payload().unwrap().to_vec();
        if let Some(prev) = by_key.get(&key) {
            assert_eq!(
                prev, &value,
                "conversation {key} has two different insight values"
            );
        }
        by_key.insert(key, value);
    }
    by_key
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a broker: scripts/test.sh"]
async fn every_conversation_gets_exactly_one_insight_value() {
    let brokers = brokers();
    let (t, config) = setup(&brokers, "exactly-one", 3).await;
    let p = producer(&brokers);
    let ids: Vec<String> = (0..24).map(|i| format!("conv-{i}")).collect();
    let mut events = interleave(
        ids.iter()
            .enumerate()
            .map(|(i, id)| conversation(id, "acme", 4 + i % 5, true))
            .collect(),
    );
    // Duplicates of a few events (publisher retries), before the ends.
    let dups: Vec<TranscriptEvent> = events.iter().take(10).cloned().collect();
    events.splice(10..10, dups);
    publish(&p, &t.transcripts, &events).await;

    let run = start(config);
    let got = tokio::task::spawn_blocking({
        let (brokers, topic) = (brokers.clone(), t.dynamics.clone());
        move || read_until(&brokers, &topic, |m| distinct_ids(m).len() >= 24)
    })
    .await
    .unwrap();
    let metrics = run.metrics.clone();
    let summary = run.stop().await;
    assert_eq!(summary.conversations_finalised, 24);
    let text = metrics.render();
    assert!(
        text.contains("debrief_conversations_finalised_total{reason=\"end_event\"} 24"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "debrief_insights_produced_total{{topic=\"{}\"}} 24",
            t.dynamics
        )),
        "{text}"
    );
    assert_eq!(summary.dead_letters, 0);
    drop(got);

    // After the pipeline stopped: the whole topic, one value per conversation.
    let all = read_all(&brokers, &t.dynamics);
    let by_key = one_value_per_key(&all);
    assert_eq!(
        by_key.keys().cloned().collect::<BTreeSet<_>>(),
        ids.iter().cloned().collect()
    );
    for (i, insight) in insights(&all).into_iter().enumerate() {
        let n: usize = insight
            .conversation_id
            .trim_start_matches("conv-")
            .parse()
            .unwrap();
        assert_eq!(insight.segment_count as usize, 4 + n % 5, "record {i}");
        assert_eq!(insight.finalised_by, FinalisedBy::EndEvent);
        assert_eq!(insight.tenant_id, "acme");
    }
    let telemetry = read_all(&brokers, &t.telemetry);
    assert_eq!(
        telemetry.len(),
        all.len(),
        "one telemetry record per insight"
    );
    assert!(
        read_all(&brokers, &t.salesforce).is_empty(),
        "no tenant routes to Salesforce"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a broker: scripts/test.sh"]
async fn poison_messages_are_dead_lettered_and_the_next_one_is_processed() {
    let brokers = brokers();
    let (t, config) = setup(&brokers, "poison", 1).await;
    let p = producer(&brokers);
    let (_, poison_offset) = produce(&p, &t.transcripts, b"c-poison", b"\x01garbage", None).await;
    // Decodable, but the key is not the conversation id.
    let wrong_key = codec()
        .encode(&t.transcripts, &conversation("c-real", "acme", 1, false)[0])
        .unwrap();
    let (_, wrong_key_offset) = produce(&p, &t.transcripts, b"c-other", &wrong_key, None).await;
    publish(&p, &t.transcripts, &conversation("c-next", "acme", 3, true)).await;

    let run = start(config);
    let dlq = tokio::task::spawn_blocking({
        let (b, topic) = (brokers.clone(), t.dead_letter.clone());
        move || read_until(&b, &topic, |m| m.len() >= 2)
    });
    let ins = tokio::task::spawn_blocking({
        let (b, topic) = (brokers.clone(), t.dynamics.clone());
        move || read_until(&b, &topic, |m| !m.is_empty())
    });
    let (dlq, ins) = (dlq.await.unwrap(), ins.await.unwrap());
    let summary = run.stop().await;
    assert_eq!(summary.dead_letters, 2);

    let headers = header_pairs(&dlq[0]);
    let h = |k: &str| {
        headers
            .iter()
            .find(|(key, _)| key == k)
            .and_then(|(_, v)| v.clone())
            .map(|v| String::from_utf8(v).unwrap())
    };
    assert_eq!(
        h("debrief.source.topic").as_deref(),
        Some(t.transcripts.as_str())
    );
    assert_eq!(h("debrief.source.partition").as_deref(), Some("0"));
    assert_eq!(h("debrief.source.offset"), Some(poison_offset.to_string()));
    assert_eq!(h("debrief.error.kind").as_deref(), Some("undecodable"));
    assert!(
        h("debrief.error.reason").unwrap().contains("bad magic"),
        "{:?}",
        h("debrief.error.reason")
    );
    assert_eq!(dlq[0].key(), Some(&b"c-poison"[..]));
    let letter: DeadLetter = codec().decode(dlq[0].payload().unwrap()).unwrap();
    assert_eq!(letter.value.as_deref(), Some(&b"\x01garbage"[..]));
    assert_eq!(letter.source_offset, poison_offset);

    let letter: DeadLetter = codec().decode(dlq[1].payload().unwrap()).unwrap();
    assert_eq!(letter.source_offset, wrong_key_offset);
    assert_eq!(
        letter.reason,
        "the key `c-other` differs from conversation_id `c-real`"
    );

    let insight = &insights(&ins)[0];
    assert_eq!(insight.conversation_id, "c-next");
    assert_eq!(insight.segment_count, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a broker: scripts/test.sh"]
async fn idle_timeout_finalises_a_conversation_without_an_end_event() {
    let brokers = brokers();
    let (t, mut config) = setup(&brokers, "idle", 1).await;
    config.assembly.idle_timeout = Duration::from_secs(1);
    let p = producer(&brokers);
    publish(
        &p,
        &t.transcripts,
        &conversation("c-idle", "acme", 5, false),
    )
    .await;
    let run = start(config);
    let ins = tokio::task::spawn_blocking({
        let (b, topic) = (brokers.clone(), t.dynamics.clone());
        move || read_until(&b, &topic, |m| !m.is_empty())
    })
    .await
    .unwrap();
    run.stop().await;
    let insight = &insights(&ins)[0];
    assert_eq!(insight.conversation_id, "c-idle");
    assert_eq!(insight.finalised_by, FinalisedBy::IdleTimeout);
    assert_eq!(insight.segment_count, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a broker: scripts/test.sh"]
async fn two_instances_in_one_group_share_the_partitions() {
    let brokers = brokers();
    let (t, config) = setup(&brokers, "two", 4).await;
    let a = start(config.clone());
    let b = start(config);
    a.wait_assigned().await;
    b.wait_assigned().await;
    // Both members hold partitions at the same time only once the group has settled.
    let deadline = Instant::now() + WAIT;
    while a.health.assigned() + b.health.assigned() != 4
        || a.health.assigned() == 0
        || b.health.assigned() == 0
    {
        assert!(
            Instant::now() < deadline,
            "assignments {} + {}",
            a.health.assigned(),
            b.health.assigned()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let p = producer(&brokers);
    let ids: Vec<String> = (0..40).map(|i| format!("conv-{i}")).collect();
    publish(
        &p,
        &t.transcripts,
        &interleave(
            ids.iter()
                .map(|id| conversation(id, "acme", 3, true))
                .collect(),
        ),
    )
    .await;
    let got = tokio::task::spawn_blocking({
        let (b, topic) = (brokers.clone(), t.dynamics.clone());
        move || read_until(&b, &topic, |m| distinct_ids(m).len() >= 40)
    })
    .await
    .unwrap();
    assert_eq!(distinct_ids(&got), ids.iter().cloned().collect());
    let (sa, sb) = (a.stop().await, b.stop().await);
    assert!(
        sa.conversations_finalised > 0 && sb.conversations_finalised > 0,
        "{sa:?} {sb:?}"
    );
    assert_eq!(
        sa.conversations_finalised + sb.conversations_finalised,
        40,
        "{sa:?} {sb:?}"
    );
}

fn insight_with_version(msgs: &[OwnedMessage], id: &str) -> Option<Insight> {
    insights(msgs).into_iter().find(|i| i.conversation_id == id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a broker: scripts/test.sh"]
async fn a_new_tenant_configuration_changes_what_the_running_pipeline_finds() {
    let brokers = brokers();
    let (t, config) = setup(&brokers, "tenant", 1).await;
    let p = producer(&brokers);
    let tracker = |name: &str, term: &str| TrackerConfig {
        name: name.into(),
        terms: vec![term.into()],
        stemming: true,
        accent_insensitive: true,
        ..Default::default()
    };
    let v1 = TenantConfig {
        tenant_id: "acme".into(),
        version: 1,
        trackers: vec![tracker("pricing", "price")],
        ..Default::default()
    };
    publish_tenant(&p, &t.tenant_config, &v1).await;
    let run = start(config);
    run.wait_assigned().await;

    publish(&p, &t.transcripts, &conversation("c-1", "acme", 2, true)).await;
    let got = tokio::task::spawn_blocking({
        let (b, topic) = (brokers.clone(), t.dynamics.clone());
        move || read_until(&b, &topic, |m| insight_with_version(m, "c-1").is_some())
    })
    .await
    .unwrap();
    let first = insight_with_version(&got, "c-1").unwrap();
    assert_eq!(first.config_version, 1);
    let trackers: BTreeSet<String> = first
        .tracker_hits
        .iter()
        .map(|h| h.tracker.clone())
        .collect();
    assert_eq!(
        trackers,
        BTreeSet::from(["pricing".to_string()]),
        "{:?}",
        first.tracker_hits
    );

    // Version 2 tracks budgets instead; an invalid version 3 must not replace it.
    let v2 = TenantConfig {
        version: 2,
        trackers: vec![tracker("budget", "budget")],
        ..v1.clone()
    };
    publish_tenant(&p, &t.tenant_config, &v2).await;
    let v3 = TenantConfig {
        version: 3,
        trackers: vec![tracker("broken", "")],
        ..v1.clone()
    };
    publish_tenant(&p, &t.tenant_config, &v3).await;
    let dlq = tokio::task::spawn_blocking({
        let (b, topic) = (brokers.clone(), t.dead_letter.clone());
        move || read_until(&b, &topic, |m| !m.is_empty())
    })
    .await
    .unwrap();
    let letter: DeadLetter = codec().decode(dlq[0].payload().unwrap()).unwrap();
    assert_eq!(letter.source_topic, t.tenant_config);
    assert!(letter.reason.contains("acme"), "{}", letter.reason);
    // The rejection is read after version 2 (same partition, in order), so version 2 is in
    // force for every conversation finalised from now on.
    publish(&p, &t.transcripts, &conversation("c-2", "acme", 2, true)).await;
    let got = tokio::task::spawn_blocking({
        let (b, topic) = (brokers.clone(), t.dynamics.clone());
        move || read_until(&b, &topic, |m| insight_with_version(m, "c-2").is_some())
    })
    .await
    .unwrap();
    run.stop().await;
    let second = insight_with_version(&got, "c-2").unwrap();
    assert_eq!(second.config_version, 2);
    let trackers: BTreeSet<String> = second
        .tracker_hits
        .iter()
        .map(|h| h.tracker.clone())
        .collect();
    assert_eq!(
        trackers,
        BTreeSet::from(["budget".to_string()]),
        "{:?}",
        second.tracker_hits
    );
}

/// The real binary as a child process, configured through `DEBRIEF__*` variables.
fn spawn_binary(config: &Config) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_debrief"));
    cmd.arg("run")
        .env("DEBRIEF__KAFKA__BROKERS", config.kafka.brokers.to_string())
        .env("DEBRIEF__KAFKA__GROUP_ID", &config.kafka.group_id)
        .env(
            "DEBRIEF__KAFKA__TOPICS__TRANSCRIPTS",
            config.kafka.topics.transcripts.join(","),
        )
        .env(
            "DEBRIEF__KAFKA__TOPICS__TENANT_CONFIG",
            &config.kafka.topics.tenant_config,
        )
        .env(
            "DEBRIEF__KAFKA__TOPICS__TELEMETRY",
            &config.kafka.topics.telemetry,
        )
        .env(
            "DEBRIEF__KAFKA__TOPICS__DEAD_LETTER",
            &config.kafka.topics.dead_letter,
        )
        .env("DEBRIEF__CRM__DYNAMICS", &config.crm.dynamics)
        .env("DEBRIEF__CRM__SALESFORCE", &config.crm.salesforce)
        .env("DEBRIEF__HTTP__LISTEN", "127.0.0.1:0")
        .env(
            "DEBRIEF__ASSEMBLY__IDLE_TIMEOUT_MS",
            config.assembly.idle_timeout.as_millis().to_string(),
        )
        .env("DEBRIEF__SHUTDOWN_DEADLINE_MS", "5000")
        .env("DEBRIEF__KAFKA__OPTIONS__SESSION_TIMEOUT_MS", "6000")
        .env("DEBRIEF__KAFKA__OPTIONS__HEARTBEAT_INTERVAL_MS", "500")
        .env("RUST_LOG", "debrief=info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    cmd.spawn().expect("cannot start the debrief binary")
}

fn committed(brokers: &str, group: &str, topic: &str) -> Offset {
    committed_with_metadata(brokers, group, topic).0
}

/// The committed offset of partition 0 and its metadata.
fn committed_with_metadata(brokers: &str, group: &str, topic: &str) -> (Offset, String) {
    let consumer: BaseConsumer = common::consumer_config(brokers, group).create().unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition(topic, 0);
    let c = consumer
        .committed_offsets(tpl, Duration::from_secs(10))
        .unwrap();
    let e = &c.elements()[0];
    (e.offset(), e.metadata().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a broker: scripts/test.sh"]
async fn killed_mid_stream_and_restarted_loses_no_conversation() {
    let brokers = brokers();
    let (t, config) = setup(&brokers, "kill", 2).await;
    let p = producer(&brokers);
    let ids: Vec<String> = (0..30).map(|i| format!("conv-{i}")).collect();
    // Lengths from 2 to 10 segments: the short conversations end in the first half of the
    // stream, the long ones are open when the service is killed.
    let len = |i: usize| 2 + i % 9;
    let events = interleave(
        ids.iter()
            .enumerate()
            .map(|(i, id)| conversation(id, "acme", len(i), true))
            .collect(),
    );
    let half = events.len() / 2;
    publish(&p, &t.transcripts, &events[..half]).await;
    let mut child = spawn_binary(&config);
    // Some conversations completed in the first half: wait for their insights, then kill
    // the service abruptly in the middle of the stream.
    let before = tokio::task::spawn_blocking({
        let (b, topic) = (brokers.clone(), t.dynamics.clone());
        move || read_until(&b, &topic, |m| !m.is_empty())
    })
    .await
    .unwrap();
    assert!(!before.is_empty());
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    publish(&p, &t.transcripts, &events[half..]).await;
    let mut child = spawn_binary(&config);
    let got = tokio::task::spawn_blocking({
        let (b, topic) = (brokers.clone(), t.dynamics.clone());
        move || read_until(&b, &topic, |m| distinct_ids(m).len() >= 30)
    })
    .await
    .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(distinct_ids(&got), ids.iter().cloned().collect());
    // None lost: every conversation has an insight over all its segments.
    let complete: BTreeSet<String> = insights(&got)
        .into_iter()
        .filter(|i| i.segment_count as usize == len(i.conversation_id[5..].parse().unwrap()))
        .map(|i| i.conversation_id)
        .collect();
    assert_eq!(complete, ids.iter().cloned().collect());
    // A conversation that ended before the crash but started before the committed offset is
    // replayed in part; the replayed-tail guard keeps its shorter insight out: every insight
    // record of the topic covers all the segments published.
    let all = read_all(&brokers, &t.dynamics);
    for insight in insights(&all) {
        let published = len(insight.conversation_id[5..].parse().unwrap());
        assert_eq!(
            insight.segment_count as usize, published,
            "{} has an insight over {} of its {published} segments",
            insight.conversation_id, insight.segment_count
        );
    }
    one_value_per_key(&all);
}

/// The crash-replay case made deterministic: a graceful stop commits the same offset a crash
/// would have left (the first event of the oldest open conversation), here inside a
/// conversation already produced. The commit's metadata names that conversation, so the next
/// run treats its tail as late (the replayed-tail rule, the fallback for brokers that drop
/// metadata, is covered by `ingest::assemble`'s unit tests).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a broker: scripts/test.sh"]
async fn a_replayed_tail_does_not_replace_the_complete_insight() {
    let brokers = brokers();
    let (t, config) = setup(&brokers, "tail", 1).await;
    let p = producer(&brokers);
    // c: start, 3 segments, end (count 3); d starts between c's first and second segment
    // and never ends. Offsets: c.start 0, c.s0 1, d.start 2, c.s1 3, c.s2 4, c.end 5, d.s0 6.
    let c = conversation("c-long", "acme", 3, true);
    let d = conversation("d-open", "acme", 1, false);
    let events = [
        c[0].clone(),
        c[1].clone(),
        d[0].clone(),
        c[2].clone(),
        c[3].clone(),
        c[4].clone(),
        d[1].clone(),
    ];
    publish(&p, &t.transcripts, &events).await;

    let first = start(config.clone());
    tokio::task::spawn_blocking({
        let (b, topic) = (brokers.clone(), t.dynamics.clone());
        move || read_until(&b, &topic, |m| insight_with_version(m, "c-long").is_some())
    })
    .await
    .unwrap();
    first.stop().await;
    let (c_committed, metadata) = tokio::task::spawn_blocking({
        let (b, g, topic) = (
            brokers.clone(),
            config.kafka.group_id.clone(),
            t.transcripts.clone(),
        );
        move || committed_with_metadata(&b, &g, &topic)
    })
    .await
    .unwrap();
    assert_eq!(
        c_committed,
        Offset::Offset(2),
        "committed at d's start, inside c"
    );
    // Kafka keeps the commit's metadata: c is closed, by the hash of its id.
    let facts = debrief::ingest::replay::decode(&metadata).expect("Debrief's commit metadata");
    assert_eq!(
        facts.closed.iter().map(|c| c.id_hash).collect::<Vec<_>>(),
        vec![debrief::ingest::replay::id_hash("c-long")]
    );

    // The next run reads c's last two segments and its end, which the metadata keeps late;
    // d is finalised by the (short) idle timeout.
    let mut config = config;
    config.assembly.idle_timeout = Duration::from_secs(1);
    let second = start(config);
    tokio::task::spawn_blocking({
        let (b, topic) = (brokers.clone(), t.dynamics.clone());
        move || read_until(&b, &topic, |m| insight_with_version(m, "d-open").is_some())
    })
    .await
    .unwrap();
    let metrics = second.metrics.clone();
    let summary = second.stop().await;
    let text = metrics.render();
    let late = format!(
        "debrief_records_consumed_total{{outcome=\"late\",topic=\"{}\"}} 3",
        t.transcripts
    );
    assert!(text.contains(&late), "c's tail is late: {text}");
    assert!(!text.contains("replayed_tail"), "{text}");
    assert_eq!(summary.conversations_finalised, 1, "d only: {summary:?}");
    assert_eq!(summary.insights_produced, 1, "d only: {summary:?}");

    let all = read_all(&brokers, &t.dynamics);
    let by_key = one_value_per_key(&all);
    assert_eq!(
        by_key.keys().map(String::as_str).collect::<Vec<_>>(),
        ["c-long", "d-open"]
    );
    let c = insight_with_version(&all, "c-long").unwrap();
    assert_eq!(
        (c.segment_count, c.finalised_by),
        (3, FinalisedBy::EndEvent)
    );
    let d = insight_with_version(&all, "d-open").unwrap();
    assert_eq!(
        (d.segment_count, d.finalised_by),
        (1, FinalisedBy::IdleTimeout)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a broker: scripts/test.sh"]
async fn graceful_shutdown_commits_and_exits_zero() {
    let brokers = brokers();
    let (t, config) = setup(&brokers, "graceful", 1).await;
    let p = producer(&brokers);
    // Two complete conversations, then one still open: its first offset is where the next
    // run must start.
    publish(&p, &t.transcripts, &conversation("c-a", "acme", 2, true)).await;
    publish(&p, &t.transcripts, &conversation("c-b", "acme", 2, true)).await;
    let open = conversation("c-open", "acme", 2, false);
    let open_first = {
        let bytes = codec().encode(&t.transcripts, &open[0]).unwrap();
        produce(&p, &t.transcripts, b"c-open", &bytes, None).await.1
    };
    publish(&p, &t.transcripts, &open[1..]).await;
    let mut child = spawn_binary(&config);
    tokio::task::spawn_blocking({
        let (b, topic) = (brokers.clone(), t.dynamics.clone());
        move || read_until(&b, &topic, |m| distinct_ids(m).len() >= 2)
    })
    .await
    .unwrap();
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + WAIT;
    let exit = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "still running {WAIT:?} after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(exit.code(), Some(0));
    let c = tokio::task::spawn_blocking({
        let (b, g, topic) = (
            brokers.clone(),
            config.kafka.group_id.clone(),
            t.transcripts.clone(),
        );
        move || committed(&b, &g, &topic)
    })
    .await
    .unwrap();
    assert_eq!(
        c,
        Offset::Offset(open_first),
        "committed up to the open conversation's first event"
    );
}

/// Source offsets of the dead letters of the tenant-config topic.
fn tenant_dead_letter_offsets(msgs: &[OwnedMessage], tenant_topic: &str) -> Vec<i64> {
    msgs.iter()
        .map(|m| codec().decode::<DeadLetter>(m.payload().unwrap()).unwrap())
        .filter(|d| d.source_topic == tenant_topic)
        .map(|d| d.source_offset)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a broker: scripts/test.sh"]
async fn a_rejected_tenant_configuration_is_reported_once_per_run() {
    let brokers = brokers();
    let (t, config) = setup(&brokers, "rejections", 1).await;
    let p = producer(&brokers);
    let tracker = |term: &str| TrackerConfig {
        name: "pricing".into(),
        terms: vec![term.into()],
        ..Default::default()
    };
    let cfg = |tenant: &str, version: i64, term: &str| TenantConfig {
        tenant_id: tenant.into(),
        version,
        trackers: vec![tracker(term)],
        ..Default::default()
    };
    // Offsets 0..=4: acme's invalid v2 is superseded by v3; globex's invalid v5 is the
    // tenant's latest record (published twice).
    for c in [
        cfg("acme", 1, "price"),
        cfg("acme", 2, ""),
        cfg("acme", 3, "budget"),
        cfg("globex", 5, ""),
        cfg("globex", 5, ""),
    ] {
        publish_tenant(&p, &t.tenant_config, &c).await;
    }

    // Each run catches up on the tenant topic before it consumes transcripts, so once a
    // conversation's insight is out, the start-up rejections are reported.
    let run_once = |id: &'static str, config: Config| {
        let (brokers, t, p) = (brokers.clone(), t.clone(), p.clone());
        async move {
            let run = start(config);
            run.wait_assigned().await;
            publish(&p, &t.transcripts, &conversation(id, "acme", 2, true)).await;
            tokio::task::spawn_blocking({
                let (b, topic) = (brokers.clone(), t.dynamics.clone());
                move || read_until(&b, &topic, |m| insight_with_version(m, id).is_some())
            })
            .await
            .unwrap();
            run
        }
    };
    let first = run_once("c-1", config.clone()).await;
    let text = first.metrics.render();
    first.stop().await;
    assert!(
        text.contains(&format!(
            "debrief_records_consumed_total{{outcome=\"superseded\",topic=\"{}\"}} 2",
            t.tenant_config
        )),
        "{text}"
    );
    let dlq = read_all(&brokers, &t.dead_letter);
    assert_eq!(
        tenant_dead_letter_offsets(&dlq, &t.tenant_config),
        vec![4],
        "only globex's latest record, once"
    );

    // A restart reports the standing rejection once more; while it runs, the same version
    // again is not reported, a new invalid version is.
    let second = run_once("c-2", config).await;
    publish_tenant(&p, &t.tenant_config, &cfg("globex", 5, "")).await;
    publish_tenant(&p, &t.tenant_config, &cfg("globex", 6, "")).await;
    tokio::task::spawn_blocking({
        let (b, topic, tenants) = (
            brokers.clone(),
            t.dead_letter.clone(),
            t.tenant_config.clone(),
        );
        move || {
            read_until(&b, &topic, |m| {
                tenant_dead_letter_offsets(m, &tenants).contains(&6)
            })
        }
    })
    .await
    .unwrap();
    let text = second.metrics.render();
    second.stop().await;
    assert!(
        text.contains(&format!(
            "debrief_records_consumed_total{{outcome=\"duplicate\",topic=\"{}\"}} 1",
            t.tenant_config
        )),
        "{text}"
    );
    let dlq = read_all(&brokers, &t.dead_letter);
    assert_eq!(
        tenant_dead_letter_offsets(&dlq, &t.tenant_config),
        vec![4, 4, 6]
    );
}
