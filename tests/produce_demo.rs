//! The `produce`, `demo` and `bench` commands, run as the real binary.
//!
//! - `demo` prints an insight for every sample conversation and the poison record's dead
//!   letter, and exits 0; while it runs (held open with `--hold-ms`), `/metrics`, `/healthz`
//!   and `/readyz` answer on its port; `--json` prints exactly one insight per sample.
//! - `produce` publishes what the contract says, read back from the broker: a librdkafka mock
//!   cluster started in this test process (the binary connects to it over TCP).
//! - `bench` completes against the real broker of `scripts/test.sh` (skipped without one).

mod common;

use common::child::{hold_demo, wait_limited, Announces, LIMIT};
use common::http_get;

use debrief::events::{TranscriptEvent, TranscriptPayload};
use debrief::ingest::files;
use debrief::insight::{Insight, Outcome};
use debrief::schema::{Codec, Encoding};
use debrief::tenant::TenantConfig;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::mocking::MockCluster;
use rdkafka::{Message, Offset, TopicPartitionList};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_debrief");

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name)
}

fn sample_ids() -> BTreeSet<String> {
    files::open(&example("conversations.jsonl"))
        .unwrap()
        .map(|c| c.unwrap().id)
        .collect()
}

fn run(args: &[&str]) -> Output {
    let child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_limited(child)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn demo_prints_an_insight_for_every_sample_conversation_and_exits_0() {
    let out = run(&["demo", "--metrics-addr", "127.0.0.1:0"]);
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "exit {:?}\n{stdout}\n{}",
        out.status,
        text(&out.stderr)
    );
    let ids = sample_ids();
    assert_eq!(ids.len(), 5);
    for id in &ids {
        let header = format!("■ {id}  [");
        assert_eq!(
            stdout.matches(&header).count(),
            1,
            "one insight for {id}:\n{stdout}"
        );
    }
    // The four languages are detected, the outdated client is skipped with its reason.
    for (id, lang) in [
        ("demo-en-acme-renewal", "en"),
        ("demo-fr-dupont-devis", "fr"),
        ("demo-de-mueller-angebot", "de"),
        ("demo-es-garcia-propuesta", "es"),
    ] {
        assert!(
            stdout.contains(&format!("■ {id}  [{lang}, complete,")),
            "{id}:\n{stdout}"
        );
    }
    assert!(
        stdout.contains("■ demo-en-old-client  [?, skipped,"),
        "{stdout}"
    );
    assert!(
        stdout.contains("skipped    client_version (client 1.0.7)"),
        "{stdout}"
    );
    // The poison record went to the dead-letter topic, with its position.
    assert!(
        stdout.contains("✗ dead letter [undecodable] from debrief.transcripts.v1["),
        "{stdout}"
    );
    assert!(
        stdout.contains("all 5 sample conversations have an insight"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "  insights     5 for 5 of 5 sample conversations (debrief.insights.salesforce.v1: 5)"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("  dead letters 1 (undecodable: 1)"),
        "{stdout}"
    );
    // The metrics it read from its own endpoint during the run.
    assert!(
        stdout.contains(
            "debrief_insights_produced_total{topic=\"debrief.insights.salesforce.v1\"} 5"
        ),
        "{stdout}"
    );
    assert!(!stdout.contains("MISSING"), "{stdout}");
}

#[test]
fn demo_serves_metrics_while_it_runs_and_prints_raw_insights_with_json() {
    // --json: insights on stdout, commentary on stderr. --hold-ms keeps the endpoint up after
    // the last insight; the requests below are made as soon as the demo says so.
    let demo = hold_demo(
        BIN,
        &[
            "--json",
            "--metrics-addr",
            "127.0.0.1:0",
            "--hold-ms",
            "15000",
        ],
        Announces::Stderr,
        |line| line.starts_with("all 5 sample conversations have an insight"),
    );
    let (child, addr, seen, lines) = (demo.child, demo.addr, demo.seen, demo.rest);
    assert!(
        seen.iter().any(|l| l.starts_with("all 5 sample")),
        "the demo did not finish:\n{}",
        seen.join("\n")
    );

    let metrics = http_get(&addr, "/metrics");
    assert!(metrics.starts_with("HTTP/1.1 200"), "{metrics}");
    for name in [
        "debrief_records_consumed_total{outcome=\"assembled\",topic=\"debrief.transcripts.v1\"}",
        "debrief_records_consumed_total{outcome=\"dead_letter\",topic=\"debrief.transcripts.v1\"} 1",
        "debrief_conversations_open",
        "debrief_conversations_finalised_total{reason=\"end_event\"} 5",
        "debrief_insights_produced_total{topic=\"debrief.insights.salesforce.v1\"} 5",
        "debrief_dead_letters_total{reason=\"undecodable\"} 1",
        "debrief_insight_latency_seconds_count 5",
        "debrief_extractor_seconds_count{extractor=\"analyse\"} 5",
        "debrief_producer_queue_depth",
    ] {
        assert!(metrics.contains(name), "{name} missing from:\n{metrics}");
    }
    assert!(http_get(&addr, "/healthz").starts_with("HTTP/1.1 200"));
    let ready = http_get(&addr, "/readyz");
    assert!(ready.starts_with("HTTP/1.1 200"), "{ready}");

    // Drain stderr so the child never blocks on a full pipe, then collect stdout.
    let drain = std::thread::spawn(move || lines.collect::<Vec<_>>());
    let out = wait_limited(child);
    let rest = drain.join().unwrap();
    assert!(
        out.status.success(),
        "exit {:?}\n{}",
        out.status,
        rest.join("\n")
    );
    let insights: Vec<Insight> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not an insight ({e}): {l}")))
        .collect();
    let ids: BTreeSet<String> = insights.iter().map(|i| i.conversation_id.clone()).collect();
    assert_eq!(insights.len(), 5);
    assert_eq!(ids, sample_ids());
    let old = insights
        .iter()
        .find(|i| i.conversation_id == "demo-en-old-client")
        .unwrap();
    assert_eq!(old.outcome, Outcome::Skipped);
}

/// Every record of `topic` (all partitions, from the beginning) until `n` are read.
fn read_all(brokers: &str, topic: &str, n: usize) -> Vec<(String, i32, Vec<u8>)> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "produce-test-reader")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let meta = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in meta.topics()[0].partitions() {
        tpl.add_partition_offset(topic, p.id(), Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&tpl).unwrap();
    let deadline = Instant::now() + LIMIT;
    let mut out = Vec::new();
    while out.len() < n && Instant::now() < deadline {
        if let Some(m) = consumer.poll(Duration::from_millis(100)) {
            let m = m.unwrap();
            let key = String::from_utf8(m.key().unwrap().to_vec()).unwrap();
            out.push((key, m.partition(), m.payload().unwrap().to_vec()));
        }
    }
    out
}

#[test]
fn produce_streams_segments_with_partial_revisions_and_the_tenant_config() {
    let cluster = MockCluster::new(1).unwrap();
    let brokers = cluster.bootstrap_servers();
    cluster.create_topic("t.transcripts", 3, 1).unwrap();
    cluster.create_topic("t.tenants", 1, 1).unwrap();
    let input = example("conversations.jsonl");
    let tenant_file = example("tenant.yaml");
    let out = run(&[
        "produce",
        input.to_str().unwrap(),
        "--brokers",
        &brokers,
        "--topic",
        "t.transcripts",
        "--partials",
        "--tenant-config",
        tenant_file.to_str().unwrap(),
        "--tenant-config-topic",
        "t.tenants",
    ]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");

    let convs: Vec<_> = files::open(&input).unwrap().map(Result::unwrap).collect();
    let segments: usize = convs.iter().map(|c| c.segments.len()).sum();
    // Per conversation: Started, a partial and a final per segment, Ended.
    let expected = convs.len() * 2 + segments * 2;
    assert!(
        stderr.contains(&format!(
            "published {expected} event(s) ({} segment(s)) of 5 conversation(s) and 1 tenant configuration to t.transcripts",
            segments * 2
        )),
        "{stderr}"
    );
    // The sample from the outdated client is flagged.
    assert!(
        stderr.contains("warning: 1 conversation(s) carry a client version older than 1.0.9"),
        "{stderr}"
    );

    let codec = Codec::new(Encoding::AvroSingleObject, None).unwrap();
    let records = read_all(&brokers, "t.transcripts", expected);
    assert_eq!(records.len(), expected);
    let mut by_conv: BTreeMap<String, Vec<TranscriptEvent>> = BTreeMap::new();
    let mut partitions: BTreeMap<String, BTreeSet<i32>> = BTreeMap::new();
    for (key, partition, value) in &records {
        let event: TranscriptEvent = codec.decode(value).unwrap();
        assert_eq!(
            &event.conversation_id, key,
            "the key is the conversation id"
        );
        assert!(event.header.emitted_at_ms.is_some());
        partitions
            .entry(key.clone())
            .or_default()
            .insert(*partition);
        by_conv.entry(key.clone()).or_default().push(event);
    }
    for conv in &convs {
        let events = &by_conv[&conv.id];
        assert_eq!(
            partitions[&conv.id].len(),
            1,
            "one partition per conversation"
        );
        assert_eq!(events.len(), 2 + 2 * conv.segments.len());
        assert!(matches!(events[0].payload, TranscriptPayload::Started(_)));
        let TranscriptPayload::Ended(end) = &events.last().unwrap().payload else {
            panic!("{} does not end with Ended", conv.id)
        };
        assert_eq!(end.segment_count, Some(conv.segments.len() as i32));
        for (i, seg) in conv.segments.iter().enumerate() {
            let (TranscriptPayload::Segment(p), TranscriptPayload::Segment(f)) =
                (&events[1 + 2 * i].payload, &events[2 + 2 * i].payload)
            else {
                panic!("segment {i} of {} is not a partial then a final", conv.id)
            };
            assert_eq!(
                (p.segment_id.as_str(), p.revision, p.is_final),
                (seg.id.as_str(), 0, false)
            );
            assert_eq!(
                (f.segment_id.as_str(), f.revision, f.is_final),
                (seg.id.as_str(), 1, true)
            );
            assert_eq!(f.text, seg.text);
            assert!(
                seg.text.starts_with(&p.text),
                "a partial is a prefix of the final text"
            );
        }
        assert_eq!(events[0].header.tenant_id, "acme-sales");
        assert_eq!(
            Some(events[0].header.client_version.clone()),
            conv.client_version
        );
        assert_eq!(
            Some(events[0].header.source_platform.clone()),
            conv.source_platform
        );
    }

    let tenants = read_all(&brokers, "t.tenants", 1);
    assert_eq!(tenants.len(), 1);
    assert_eq!(tenants[0].0, "acme-sales");
    let config: TenantConfig = codec.decode(&tenants[0].2).unwrap();
    assert_eq!(config, TenantConfig::from_path(&tenant_file).unwrap());
}

#[test]
fn produce_complete_mode_sends_one_event_per_conversation_with_overrides() {
    let cluster = MockCluster::new(1).unwrap();
    let brokers = cluster.bootstrap_servers();
    cluster.create_topic("t.complete", 2, 1).unwrap();
    let input = example("renewal-call.vtt");
    let out = run(&[
        "produce",
        input.to_str().unwrap(),
        "--brokers",
        &brokers,
        "--topic",
        "t.complete",
        "--mode",
        "complete",
        "--encoding",
        "json",
        "--tenant",
        "globex",
        "--client-version",
        "2.0.0",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let conv = files::open(&input).unwrap().next().unwrap().unwrap();
    let records = read_all(&brokers, "t.complete", 1);
    assert_eq!(records.len(), 1);
    let event: TranscriptEvent = serde_json::from_slice(&records[0].2).unwrap();
    assert_eq!(records[0].0, conv.id);
    assert_eq!(event.header.tenant_id, "globex");
    assert_eq!(event.header.client_version, "2.0.0");
    // A .vtt names no platform: the default.
    assert_eq!(event.header.source_platform, "file");
    let TranscriptPayload::Complete(c) = event.payload else {
        panic!("not a complete transcript")
    };
    assert_eq!(c.segments.len(), conv.segments.len());
    assert!(c.segments.iter().all(|s| s.is_final));
}

#[test]
fn produce_names_a_bad_input_and_fails() {
    let out = run(&[
        "produce",
        "/nonexistent/calls.jsonl",
        "--brokers",
        "127.0.0.1:1",
    ]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("/nonexistent/calls.jsonl"),
        "{}",
        text(&out.stderr)
    );
    let out = run(&["produce", "x.jsonl", "--pace", "fast"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("`fast` is not a pace"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
#[ignore = "needs a broker: scripts/test.sh"]
fn bench_completes_against_the_real_broker() {
    let brokers = common::brokers();
    let input = example("conversations.jsonl");
    let out = run(&[
        "bench",
        "--brokers",
        &brokers,
        "--conversations",
        "20",
        "--partitions",
        "2",
        "--source",
        input.to_str().unwrap(),
    ]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert!(
        stdout.contains("processed    20 of 20 conversations"),
        "{stdout}"
    );
    assert!(
        stdout.contains("latency      end event sent -> insight received (n=20)"),
        "{stdout}"
    );
    assert!(stdout.contains("VmHWM"), "{stdout}");
}

#[test]
fn demo_finishes_when_its_reader_goes_away() {
    // `debrief demo | head -1`: stdout closes early; the demo must still stop its pipeline
    // and exit instead of hanging on the runtime's shutdown.
    let mut child = Command::new(BIN)
        .args(["demo", "--metrics-addr", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let first = BufReader::new(stdout).lines().next().unwrap().unwrap();
    assert!(first.starts_with("mock Kafka cluster at "), "{first}");
    // The reader (and the pipe) is dropped here.
    let out = wait_limited(child);
    assert!(out.status.code().is_some(), "killed: {:?}", out.status);
}
