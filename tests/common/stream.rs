//! Whole-service helpers for broker tests that run the real binary (`debrief run`) as a child
//! process: synthetic conversations, publishing them, spawning and signalling the service,
//! and reading an output topic back with either isolation level.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use debrief::events::{
    ConversationEnded, ConversationStarted, EventHeader, SegmentBody, SpeakerRole, TranscriptEvent,
    TranscriptPayload,
};
use debrief::insight::Insight;
use debrief::schema::{Codec, Encoding};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::OwnedMessage;
use rdkafka::producer::FutureProducer;
use rdkafka::{Message, Offset, TopicPartitionList};

use super::{client_config, consumer_config, create_topic, now_ms, produce_at, unique_name};

/// Upper bound for waiting on the service's outputs; only turns a hang into a failure.
pub const WAIT: Duration = Duration::from_secs(120);

/// The topics and group of one test's service.
#[derive(Clone, Debug)]
pub struct Service {
    pub brokers: String,
    pub group: String,
    pub transcripts: String,
    pub tenant_config: String,
    pub telemetry: String,
    pub dead_letter: String,
    pub dynamics: String,
    pub salesforce: String,
    /// The conversation index (compacted by the tests that need it).
    pub conversation_index: String,
    /// Erasure requests.
    pub erasure: String,
    /// The erasure ledger.
    pub erasure_ledger: String,
    /// The audit trail.
    pub audit: String,
    /// Extra `DEBRIEF__*` variables (name, value) for every start.
    pub env: Vec<(String, String)>,
}

impl Service {
    /// Unique topics (the transcript topic with `partitions` partitions, the others with one)
    /// and a unique group.
    pub async fn create(brokers: &str, name: &str, partitions: i32) -> Service {
        let s = Service::named(brokers, name);
        create_topic(brokers, &s.transcripts, partitions).await;
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
        ] {
            create_topic(brokers, topic, 1).await;
        }
        s
    }

    /// The names only; the caller creates the topics (e.g. with special configurations).
    pub fn named(brokers: &str, name: &str) -> Service {
        Service {
            brokers: brokers.to_owned(),
            group: unique_name(&format!("{name}-group")),
            transcripts: unique_name(&format!("{name}-transcripts")),
            tenant_config: unique_name(&format!("{name}-tenants")),
            telemetry: unique_name(&format!("{name}-telemetry")),
            dead_letter: unique_name(&format!("{name}-dlq")),
            dynamics: unique_name(&format!("{name}-dynamics")),
            salesforce: unique_name(&format!("{name}-salesforce")),
            conversation_index: unique_name(&format!("{name}-index")),
            erasure: unique_name(&format!("{name}-erasure")),
            erasure_ledger: unique_name(&format!("{name}-ledger")),
            audit: unique_name(&format!("{name}-audit")),
            env: Vec::new(),
        }
    }

    /// Adds a `DEBRIEF__*` variable to every later start.
    pub fn with(mut self, name: &str, value: &str) -> Service {
        self.env.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Starts `debrief run` as a child process (stdout discarded, stderr inherited so that a
    /// failing test shows the service's log).
    pub fn spawn(&self) -> Child {
        self.spawn_with(&[])
    }

    /// [`Service::spawn`] with extra variables for this start only (later ones win).
    pub fn spawn_with(&self, extra: &[(&str, &str)]) -> Child {
        self.command(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("cannot start the debrief binary")
    }

    /// [`Service::spawn_with`], with standard output and error appended to `log`.
    pub fn spawn_logged(&self, extra: &[(&str, &str)], log: &std::path::Path) -> Child {
        let open = || {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)
                .expect("opening the log file")
        };
        self.command(extra)
            .stdout(open())
            .stderr(open())
            .spawn()
            .expect("cannot start the debrief binary")
    }

    /// Runs `debrief replay ARGS` with this service's configuration to its end (panics
    /// after [`WAIT`]); returns its exit code and standard output (the summary).
    pub fn replay(&self, args: &[&str]) -> (Option<i32>, String) {
        let mut child = self
            .command_for(&["replay"], &[])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("cannot start the debrief binary");
        let deadline = Instant::now() + WAIT;
        let status = loop {
            if let Some(status) = child.try_wait().expect("waiting for the replay") {
                break status;
            }
            if Instant::now() > deadline {
                kill(&mut child);
                panic!("debrief replay {args:?} still running after {WAIT:?}");
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        let mut out = String::new();
        if let Some(mut stdout) = child.stdout.take() {
            std::io::Read::read_to_string(&mut stdout, &mut out).expect("reading the summary");
        }
        (status.code(), out)
    }

    fn command(&self, extra: &[(&str, &str)]) -> Command {
        self.command_for(&["run"], extra)
    }

    fn command_for(&self, subcommand: &[&str], extra: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_debrief"));
        cmd.args(subcommand)
            .env("DEBRIEF__KAFKA__BROKERS", &self.brokers)
            .env("DEBRIEF__KAFKA__GROUP_ID", &self.group)
            .env("DEBRIEF__KAFKA__TOPICS__TRANSCRIPTS", &self.transcripts)
            .env("DEBRIEF__KAFKA__TOPICS__TENANT_CONFIG", &self.tenant_config)
            .env("DEBRIEF__KAFKA__TOPICS__TELEMETRY", &self.telemetry)
            .env("DEBRIEF__KAFKA__TOPICS__DEAD_LETTER", &self.dead_letter)
            .env("DEBRIEF__CRM__DYNAMICS", &self.dynamics)
            .env("DEBRIEF__CRM__SALESFORCE", &self.salesforce)
            .env(
                "DEBRIEF__KAFKA__TOPICS__CONVERSATION_INDEX",
                &self.conversation_index,
            )
            .env("DEBRIEF__KAFKA__TOPICS__ERASURE", &self.erasure)
            .env("DEBRIEF__KAFKA__TOPICS__AUDIT", &self.audit)
            .env(
                "DEBRIEF__KAFKA__TOPICS__ERASURE_LEDGER",
                &self.erasure_ledger,
            )
            .env("DEBRIEF__HTTP__LISTEN", "127.0.0.1:0")
            .env("DEBRIEF__ASSEMBLY__IDLE_TIMEOUT_MS", "60000")
            .env("DEBRIEF__SHUTDOWN_DEADLINE_MS", "5000")
            .env("DEBRIEF__KAFKA__OPTIONS__SESSION_TIMEOUT_MS", "6000")
            .env("DEBRIEF__KAFKA__OPTIONS__HEARTBEAT_INTERVAL_MS", "500")
            .env("RUST_LOG", "debrief=info")
            .stdin(Stdio::null());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        for (k, v) in extra {
            cmd.env(k, v);
        }
        cmd
    }
}

/// Kills (SIGKILL) a child and reaps it.
pub fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Sends SIGTERM and waits for the child to exit (panics after [`WAIT`]); returns its exit code.
pub fn terminate(child: &mut Child) -> Option<i32> {
    // SAFETY: plain kill(2) on the child's pid.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
    }
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(status) = child.try_wait().expect("waiting for the service") {
            return status.code();
        }
        assert!(
            Instant::now() < deadline,
            "the service did not stop within {WAIT:?} of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The codec every test publishes with (Avro single-object, the default encoding).
pub fn codec() -> Codec {
    Codec::new(Encoding::AvroSingleObject, None).expect("the built-in codec")
}

const LINES: &[&str] = &[
    "Thanks for joining, let's look at the proposal and the price for next quarter.",
    "We have some budget concerns, can you walk us through the discount options?",
    "Sure, I'll send you the updated quote by Friday with the volume discount.",
    "That works. We also compared you with another vendor last week.",
    "Understood. I will set up a follow-up call with our solutions engineer.",
    "Great, please include the implementation timeline in the email.",
];

/// The events of one conversation of `tenant`: a start, `segments` final segments
/// (alternating seller and buyer), an end event giving the count.
pub fn conversation(id: &str, tenant: &str, segments: usize) -> Vec<TranscriptEvent> {
    conversation_events(id, tenant, segments, true)
}

/// [`conversation`], with the end event only when `with_end`.
pub fn conversation_events(
    id: &str,
    tenant: &str,
    segments: usize,
    with_end: bool,
) -> Vec<TranscriptEvent> {
    let ev = |payload| TranscriptEvent {
        header: EventHeader {
            tenant_id: tenant.into(),
            source_platform: "teams".into(),
            client_version: "1.2.0".into(),
            emitted_at_ms: None,
        },
        conversation_id: id.into(),
        payload,
    };
    let mut out = vec![ev(TranscriptPayload::Started(ConversationStarted {
        started_at_ms: Some(1_760_000_000_000),
        time_zone: Some("Europe/Paris".into()),
        language: Some("en".into()),
        title: None,
    }))];
    for i in 0..segments {
        let seller = i % 2 == 0;
        out.push(ev(TranscriptPayload::Segment(SegmentBody {
            segment_id: i.to_string(),
            revision: 0,
            is_final: true,
            speaker_id: if seller {
                "seller@acme.com".into()
            } else {
                "buyer@client.org".into()
            },
            speaker_name: None,
            speaker_role: if seller {
                SpeakerRole::Internal
            } else {
                SpeakerRole::External
            },
            start_ms: Some(i as i64 * 4_000),
            end_ms: Some(i as i64 * 4_000 + 3_500),
            text: LINES[i % LINES.len()].into(),
            language: None,
            confidence: Some(0.9),
        })));
    }
    if with_end {
        out.push(ev(TranscriptPayload::Ended(ConversationEnded {
            ended_at_ms: Some(1_760_000_100_000),
            segment_count: Some(segments as i32),
        })));
    }
    out
}

/// Interleaves the conversations' events round-robin (a live stream of many meetings).
pub fn interleave(convs: Vec<Vec<TranscriptEvent>>) -> Vec<TranscriptEvent> {
    let mut iters: Vec<_> = convs.into_iter().map(|c| c.into_iter()).collect();
    let mut out = Vec::new();
    loop {
        let before = out.len();
        for it in iters.iter_mut() {
            out.extend(it.next());
        }
        if out.len() == before {
            return out;
        }
    }
}

/// `n` conversations `conv-0`… of `tenant`, of 2 to 10 segments, interleaved round-robin as
/// in a live stream of many meetings; with the segment count of each.
pub fn stream(n: usize, tenant: &str) -> (Vec<TranscriptEvent>, BTreeMap<String, usize>) {
    let lengths: BTreeMap<String, usize> =
        (0..n).map(|i| (format!("conv-{i}"), 2 + i % 9)).collect();
    let events = interleave(
        lengths
            .iter()
            .map(|(id, &len)| conversation(id, tenant, len))
            .collect(),
    );
    (events, lengths)
}

/// Publishes events keyed by conversation id, in order.
pub async fn publish(p: &FutureProducer, topic: &str, events: &[TranscriptEvent]) {
    let codec = codec();
    // The service decides idle timeouts on record timestamps (stream time). Stamped by the
    // producer, one call's records would be as far apart as each delivery took, which on a
    // loaded machine can exceed a test's idle timeout; 1 ms apart, they read as one burst.
    let base = now_ms();
    for (i, e) in (0i64..).zip(events) {
        let bytes = codec.encode(topic, e).expect("encoding a test event");
        produce_at(p, topic, e.conversation_id.as_bytes(), &bytes, base + i).await;
    }
}

/// Publishes events keyed by conversation id, in order, the `i`-th with the record
/// timestamp `first_ms + i * step_ms` (a call streamed over time, published at once: the
/// pipeline's decisions follow record timestamps, its stream time).
pub async fn publish_spaced(
    p: &FutureProducer,
    topic: &str,
    events: &[TranscriptEvent],
    first_ms: i64,
    step_ms: i64,
) {
    let codec = codec();
    for (i, e) in events.iter().enumerate() {
        let bytes = codec.encode(topic, e).expect("encoding a test event");
        let record = rdkafka::producer::FutureRecord::to(topic)
            .key(e.conversation_id.as_bytes())
            .payload(&bytes)
            .timestamp(first_ms + i as i64 * step_ms);
        if let Err((err, _)) = p.send(record, Duration::from_secs(30)).await {
            panic!("delivery to {topic} failed: {err}");
        }
    }
}

/// How a reader sees transactional records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isolation {
    /// Only committed transactions (what a CRM sink should use).
    Committed,
    /// Everything written, aborted transactions included.
    Uncommitted,
}

/// A consumer without a group position, assigned every partition of `topic` from the
/// beginning; with `eof`, it reports the end of each partition.
fn reader(brokers: &str, topic: &str, isolation: Isolation, eof: bool) -> (BaseConsumer, usize) {
    let mut config = consumer_config(brokers, &unique_name("reader"));
    config.set("enable.partition.eof", if eof { "true" } else { "false" });
    config.set(
        "isolation.level",
        match isolation {
            Isolation::Committed => "read_committed",
            Isolation::Uncommitted => "read_uncommitted",
        },
    );
    let consumer: BaseConsumer = config.create().expect("creating a reader");
    let md = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .expect("topic metadata");
    let mut tpl = TopicPartitionList::new();
    for p in md.topics()[0].partitions() {
        tpl.add_partition_offset(topic, p.id(), Offset::Beginning)
            .expect("assignment");
    }
    consumer.assign(&tpl).expect("assigning partitions");
    (consumer, tpl.count())
}

/// Reads a topic from the beginning until `done` accepts the records read so far; panics
/// after [`WAIT`] with how many were read.
pub fn read_until(
    brokers: &str,
    topic: &str,
    isolation: Isolation,
    done: impl Fn(&[OwnedMessage]) -> bool,
) -> Vec<OwnedMessage> {
    let (consumer, _) = reader(brokers, topic, isolation, false);
    let deadline = Instant::now() + WAIT;
    let mut got = Vec::new();
    while !done(&got) {
        assert!(
            Instant::now() < deadline,
            "{topic}: only {} record(s) after {WAIT:?}",
            got.len()
        );
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
            got.push(m.detach());
        }
    }
    got
}

/// Every record of a topic readable at `isolation`, after the writers stopped: up to the
/// end of every partition (librdkafka's partition EOF, which for `read_committed` is the last
/// stable offset), then nothing more for one second.
pub fn read_all(brokers: &str, topic: &str, isolation: Isolation) -> Vec<OwnedMessage> {
    let (consumer, partitions) = reader(brokers, topic, isolation, true);
    let deadline = Instant::now() + WAIT;
    let mut at_end: BTreeSet<i32> = BTreeSet::new();
    let mut got = Vec::new();
    let mut quiet_since = Instant::now();
    while at_end.len() < partitions || quiet_since.elapsed() < Duration::from_secs(1) {
        assert!(
            Instant::now() < deadline,
            "{topic}: read {} record(s), {} of {} partition(s) at their end after {WAIT:?}",
            got.len(),
            at_end.len(),
            partitions
        );
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                at_end.remove(&m.partition());
                got.push(m.detach());
                quiet_since = Instant::now();
            }
            Some(Err(rdkafka::error::KafkaError::PartitionEOF(p))) => {
                at_end.insert(p);
            }
            _ => {}
        }
    }
    got
}

/// The record's key as text.
pub fn key(m: &OwnedMessage) -> String {
    String::from_utf8(m.key().expect("a keyed record").to_vec()).expect("a UTF-8 key")
}

/// The distinct keys of records with a value (tombstones excluded).
pub fn keys_with_value(msgs: &[OwnedMessage]) -> BTreeSet<String> {
    msgs.iter()
        .filter(|m| m.payload().is_some())
        .map(key)
        .collect()
}

/// Decodes insight records (tombstones skipped).
pub fn insights(msgs: &[OwnedMessage]) -> Vec<Insight> {
    let codec = codec();
    msgs.iter()
        .filter_map(|m| m.payload())
        .map(|p| codec.decode::<Insight>(p).expect("an insight record"))
        .collect()
}

/// Values by key; panics if one key has two different values (byte-identical duplicates,
/// as a replay writes them, are allowed).
pub fn one_value_per_key(msgs: &[OwnedMessage]) -> BTreeMap<String, Vec<u8>> {
    let mut by_key: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for m in msgs {
        let Some(value) = m.payload() else { continue };
        let k = key(m);
        if let Some(prev) = by_key.get(&k) {
            assert_eq!(
                prev.as_slice(),
                value,
                "conversation {k} has two different values"
            );
        }
        by_key.insert(k, value.to_vec());
    }
    by_key
}

/// Checks that every conversation of `lengths` has an insight over all its segments, and
/// that no insight record on the topic covers fewer (no shorter replayed value).
pub fn assert_complete(msgs: &[OwnedMessage], lengths: &BTreeMap<String, usize>) {
    let got = insights(msgs);
    let ids: BTreeSet<String> = got.iter().map(|i| i.conversation_id.clone()).collect();
    let want: BTreeSet<String> = lengths.keys().cloned().collect();
    assert_eq!(ids, want, "conversations with an insight");
    for insight in &got {
        assert_eq!(
            insight.segment_count as usize, lengths[&insight.conversation_id],
            "{} has an insight over {} of its {} segments",
            insight.conversation_id, insight.segment_count, lengths[&insight.conversation_id]
        );
    }
}

/// Topic-level configuration, through the admin API (`name` = `value` pairs), for a topic
/// created with `partitions` partitions.
pub async fn create_topic_with(
    brokers: &str,
    topic: &str,
    partitions: i32,
    config: &[(&str, &str)],
) {
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    use rdkafka::client::DefaultClientContext;
    let admin: AdminClient<DefaultClientContext> =
        client_config(brokers).create().expect("admin client");
    let mut new = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
    for (k, v) in config {
        new = new.set(k, v);
    }
    let results = admin
        .create_topics(&[new], &AdminOptions::new())
        .await
        .expect("CreateTopics");
    for r in results {
        r.unwrap_or_else(|(t, e)| panic!("creating {t}: {e}"));
    }
}

/// A private Apache Kafka broker of this test (`scripts/kafka.sh`), stopped on drop; its
/// storage lives in a temporary folder, so it can be stopped and started again with its data.
pub struct PrivateKafka {
    dir: tempfile::TempDir,
    pub brokers: String,
}

fn kafka_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/kafka.sh")
}

impl PrivateKafka {
    /// Formats a fresh storage folder and starts a broker on free ports (the script's
    /// watchdog stops it if this test process dies).
    pub fn start() -> PrivateKafka {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let mut k = PrivateKafka {
            dir,
            brokers: String::new(),
        };
        k.restart();
        k
    }

    /// Starts the broker again on the same storage and ports.
    pub fn restart(&mut self) {
        let out = Command::new(kafka_script())
            .arg("start")
            .arg(self.dir.path())
            .arg(std::process::id().to_string())
            .stderr(Stdio::inherit())
            .output()
            .expect("running scripts/kafka.sh (needs bash, java and mvn)");
        assert!(out.status.success(), "scripts/kafka.sh start failed");
        let text = String::from_utf8_lossy(&out.stdout);
        self.brokers = text
            .lines()
            .find_map(|l| l.strip_prefix("BROKERS="))
            .expect("scripts/kafka.sh printed no BROKERS=")
            .to_owned();
    }

    /// Stops the broker (SIGTERM, a clean shutdown that keeps its data).
    pub fn stop(&self) {
        let status = Command::new(kafka_script())
            .arg("stop")
            .arg(self.dir.path())
            .status()
            .expect("running scripts/kafka.sh stop");
        assert!(status.success(), "scripts/kafka.sh stop failed");
    }
}

impl Drop for PrivateKafka {
    fn drop(&mut self) {
        let _ = Command::new(kafka_script())
            .arg("stop")
            .arg(self.dir.path())
            .status();
    }
}

/// [`publish`] with explicit record timestamps: the `i`-th event at `times_ms[i]`.
pub async fn publish_at(
    p: &FutureProducer,
    topic: &str,
    events: &[TranscriptEvent],
    times_ms: &[i64],
) {
    assert_eq!(events.len(), times_ms.len(), "one timestamp per event");
    let codec = codec();
    for (e, &at) in events.iter().zip(times_ms) {
        let bytes = codec.encode(topic, e).expect("encoding a test event");
        let record = rdkafka::producer::FutureRecord::to(topic)
            .key(e.conversation_id.as_bytes())
            .payload(&bytes)
            .timestamp(at);
        if let Err((err, _)) = p.send(record, super::BROKER_TIMEOUT).await {
            panic!("delivery to {topic} failed: {err}");
        }
    }
}
