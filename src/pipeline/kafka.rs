//! librdkafka clients: their settings, the producer's delivery callback (releases offset
//! holds, counts outputs) and the consumer's rebalance callbacks (commit and drop revoked
//! partitions) and statistics (consumer lag).

use super::offsets::{Hold, OffsetBook};
use super::pool::JobQueue;
use crate::config::{Config, DeliveryMode};
use crate::http::Health;
use crate::metrics::Metrics;
use rdkafka::client::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::KafkaResult;
use rdkafka::message::Message;
use rdkafka::producer::{DeliveryResult, Producer as _, ProducerContext, ThreadedProducer};
use rdkafka::statistics::Statistics;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::util::Timeout;
use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Locks the book even if another thread panicked while holding it (the data stays usable).
pub(crate) fn lock(book: &Mutex<OffsetBook>) -> MutexGuard<'_, OffsetBook> {
    book.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What a produced record was, for the delivery callback.
#[derive(Debug)]
pub(crate) enum Produced {
    /// An insight, with when its conversation was finalised (ms since the epoch).
    Insight {
        topic: Arc<str>,
        finalised_at_ms: i64,
    },
    /// A telemetry record.
    Telemetry,
    /// A dead letter, with its kind name.
    DeadLetter { reason: &'static str },
}

/// Opaque of every produced record.
#[derive(Debug)]
pub(crate) struct Delivery {
    pub hold: Option<Hold>,
    pub what: Produced,
}

/// The producer's context: releases holds and counts outputs on acknowledgement.
pub(crate) struct ProducerCtx {
    pub book: Arc<Mutex<OffsetBook>>,
    pub metrics: Arc<Metrics>,
}

impl ClientContext for ProducerCtx {}

impl ProducerContext for ProducerCtx {
    type DeliveryOpaque = Box<Delivery>;

    fn delivery(&self, result: &DeliveryResult<'_>, delivery: Box<Delivery>) {
        match result {
            Ok(_) => {
                match &delivery.what {
                    Produced::Insight {
                        topic,
                        finalised_at_ms,
                    } => {
                        self.metrics
                            .insights_produced
                            .with_label_values(&[topic])
                            .inc();
                        let latency = (now_ms() - finalised_at_ms).max(0) as f64 / 1000.0;
                        self.metrics.insight_latency.observe(latency);
                    }
                    Produced::DeadLetter { reason } => {
                        self.metrics.dead_letters.with_label_values(&[reason]).inc();
                    }
                    Produced::Telemetry => {}
                }
                if let Some(hold) = delivery.hold {
                    lock(&self.book).release(hold);
                }
            }
            Err((e, msg)) => {
                // The hold stays: the source offset is never committed past this record.
                let reason = format!("a record for {} could not be delivered: {e}", msg.topic());
                tracing::error!(topic = msg.topic(), error = %e, "delivery failed");
                lock(&self.book).set_fatal(reason);
            }
        }
    }
}

/// The producer type of the pipeline.
pub(crate) type Producer = ThreadedProducer<ProducerCtx>;

/// The transcript consumer's context.
pub(crate) struct ConsumerCtx {
    pub book: Arc<Mutex<OffsetBook>>,
    pub producer: Producer,
    pub metrics: Arc<Metrics>,
    pub health: Arc<Health>,
    pub mode: DeliveryMode,
    pub deadline: Duration,
    pub transcript_topics: HashSet<String>,
    /// Transactional mode: a transaction is open (set by the loop).
    pub in_transaction: Arc<std::sync::atomic::AtomicBool>,
    /// Jobs of the analysis workers not finished yet (waited for before committing).
    pub jobs: Arc<JobQueue>,
}

impl ClientContext for ConsumerCtx {
    fn stats(&self, stats: Statistics) {
        for (name, topic) in &stats.topics {
            if !self.transcript_topics.contains(name) {
                continue;
            }
            for (partition, p) in &topic.partitions {
                if *partition >= 0 && p.consumer_lag >= 0 {
                    self.metrics
                        .consumer_lag
                        .with_label_values(&[name.as_str(), &partition.to_string()])
                        .set(p.consumer_lag);
                }
            }
        }
    }
}

impl ConsumerContext for ConsumerCtx {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Revoke(tpl) => {
                let started = Instant::now();
                let committed = match self.mode {
                    DeliveryMode::AtLeastOnce => commit_at_least_once(
                        consumer,
                        &self.producer,
                        &self.book,
                        &self.jobs,
                        self.deadline,
                    ),
                    DeliveryMode::Transactional => commit_transaction(
                        consumer,
                        &self.producer,
                        &self.book,
                        &self.jobs,
                        self.deadline,
                        &self.in_transaction,
                    ),
                };
                if let Err(e) = &committed {
                    tracing::warn!(error = %e, "commit on revocation failed; the next owner replays from the last commit");
                }
                let mut book = lock(&self.book);
                let mut n = 0;
                for e in tpl.elements() {
                    let lane = book.lane(e.topic(), e.partition());
                    book.revoke(lane);
                    n += 1;
                    let _ = self
                        .metrics
                        .consumer_lag
                        .remove_label_values(&[e.topic(), &e.partition().to_string()]);
                }
                self.health.set_assigned(book.assigned().len());
                tracing::info!(
                    partitions = n,
                    took_ms = started.elapsed().as_millis() as u64,
                    "partitions revoked"
                );
            }
            Rebalance::Assign(_) | Rebalance::Error(_) => {}
        }
    }

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(tpl) => {
                let mut book = lock(&self.book);
                for e in tpl.elements() {
                    let lane = book.lane(e.topic(), e.partition());
                    book.assign(lane);
                }
                self.health.set_assigned(book.assigned().len());
                tracing::info!(partitions = tpl.count(), "partitions assigned");
            }
            Rebalance::Error(e) => tracing::warn!(error = %e, "rebalance error"),
            Rebalance::Revoke(_) => {}
        }
    }

    fn commit_callback(&self, result: KafkaResult<()>, _offsets: &TopicPartitionList) {
        if let Err(e) = result {
            tracing::debug!(error = %e, "offset commit");
        }
    }
}

/// The transcript consumer type.
pub(crate) type TranscriptConsumer = BaseConsumer<ConsumerCtx>;

/// Offsets of `lanes` as a partition list.
fn offsets_tpl(book: &OffsetBook, offsets: &[(u32, i64)]) -> KafkaResult<TopicPartitionList> {
    let mut tpl = TopicPartitionList::with_capacity(offsets.len());
    for &(lane, offset) in offsets {
        if let Some((topic, partition)) = book.name(lane) {
            tpl.add_partition_offset(topic, partition, Offset::Offset(offset))?;
        }
    }
    Ok(tpl)
}

/// Stores the offsets that moved (at-least-once mode); the consumer commits them in the
/// background. Returns how many partitions moved.
pub(crate) fn store_progress(
    consumer: &TranscriptConsumer,
    book: &Mutex<OffsetBook>,
) -> KafkaResult<usize> {
    let tpl = {
        let mut b = lock(book);
        let moved = b.to_store(true);
        if moved.is_empty() {
            return Ok(0);
        }
        offsets_tpl(&b, &moved)?
    };
    consumer.store_offsets(&tpl)?;
    Ok(tpl.count())
}

/// Waits for the analysis workers and flushes the producer (together at most `deadline`),
/// stores what is safe and commits synchronously. Whatever is not finished by then keeps its
/// holds: its offsets are not committed.
pub(crate) fn commit_at_least_once<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    producer: &Producer,
    book: &Mutex<OffsetBook>,
    workers: &JobQueue,
    deadline: Duration,
) -> KafkaResult<()> {
    let until = Instant::now() + deadline;
    if !workers.wait_idle(deadline) {
        tracing::warn!(
            unfinished = workers.count(),
            "analysis not finished in time; those conversations are not committed"
        );
    }
    let left = until.saturating_duration_since(Instant::now());
    if let Err(e) = producer.flush(Timeout::After(left)) {
        tracing::warn!(error = %e, "producer flush did not finish in time; unacknowledged records are not committed");
    }
    let tpl = {
        let mut b = lock(book);
        let _ = b.to_store(true);
        let all: Vec<(u32, i64)> = b
            .assigned()
            .into_iter()
            .filter_map(|l| b.safe(l, true).map(|o| (l, o)))
            .collect();
        offsets_tpl(&b, &all)?
    };
    if tpl.count() == 0 {
        return Ok(());
    }
    consumer.store_offsets(&tpl)?;
    consumer.commit(&tpl, rdkafka::consumer::CommitMode::Sync)
}

/// Transactional mode: waits for the analysis workers (so that none produces between this
/// transaction's commit and the next one's start), sends the safe offsets of every assigned
/// partition to the open transaction, commits it and opens the next one.
pub(crate) fn commit_transaction<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    producer: &Producer,
    book: &Mutex<OffsetBook>,
    workers: &JobQueue,
    deadline: Duration,
    in_transaction: &std::sync::atomic::AtomicBool,
) -> KafkaResult<()> {
    use std::sync::atomic::Ordering;
    if !in_transaction.load(Ordering::SeqCst) {
        return Ok(());
    }
    if !workers.wait_idle(deadline) {
        tracing::warn!(
            unfinished = workers.count(),
            "analysis not finished in time; committing the transaction without those conversations"
        );
    }
    let tpl = {
        let b = lock(book);
        let all: Vec<(u32, i64)> = b
            .assigned()
            .into_iter()
            .filter_map(|l| b.safe(l, false).map(|o| (l, o)))
            .collect();
        offsets_tpl(&b, &all)?
    };
    if tpl.count() > 0 {
        if let Some(meta) = consumer.group_metadata() {
            producer.send_offsets_to_transaction(&tpl, &meta, Timeout::After(deadline))?;
        }
    }
    producer.commit_transaction(Timeout::After(deadline))?;
    in_transaction.store(false, Ordering::SeqCst);
    producer.begin_transaction()?;
    in_transaction.store(true, Ordering::SeqCst);
    Ok(())
}

/// Settings shared by every client: brokers, then the pass-through options.
pub(crate) fn base_config(config: &Config) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &config.kafka.brokers);
    c.set("client.id", "debrief");
    for (k, v) in &config.kafka.options {
        c.set(k, v);
    }
    c
}

/// The transcript consumer's settings.
pub(crate) fn consumer_config(config: &Config) -> ClientConfig {
    let mut c = base_config(config);
    c.set("group.id", &config.kafka.group_id);
    c.set("enable.auto.offset.store", "false");
    match config.delivery.mode {
        DeliveryMode::AtLeastOnce => c.set("enable.auto.commit", "true"),
        DeliveryMode::Transactional => c.set("enable.auto.commit", "false"),
    };
    c.set("isolation.level", "read_committed");
    if !config.kafka.options.contains_key("auto.offset.reset") {
        c.set("auto.offset.reset", "earliest");
    }
    if !config.kafka.options.contains_key("statistics.interval.ms") {
        c.set("statistics.interval.ms", "5000");
    }
    c
}

/// Default `linger.ms` of the producer.
pub(crate) const PRODUCER_LINGER_MS: &str = "5";

/// Default `compression.type` of the producer.
pub(crate) const PRODUCER_COMPRESSION: &str = "lz4";

/// The producer's settings (idempotent; transactional in that mode).
pub(crate) fn producer_config(config: &Config) -> ClientConfig {
    let mut c = base_config(config);
    c.set("enable.idempotence", "true");
    // Defaults for a production cluster (each can be overridden in `[kafka.options]`):
    // - linger.ms 5: batches the records of conversations finalised together (an insight,
    //   its telemetry) into fewer produce requests, for at most 5 ms more latency;
    // - compression.type lz4: insight and telemetry records are repetitive text and numbers;
    //   lz4 costs little CPU and Kafka stores and serves the batches compressed.
    // The consumer keeps librdkafka's fetch.wait.max.ms (500 ms): Kafka answers a fetch as
    // soon as one record is there (fetch.min.bytes 1), so the wait only bounds an idle
    // consumer's fetch rate (2 per second per broker instead of 100 with 10 ms).
    for (key, value) in [
        ("linger.ms", PRODUCER_LINGER_MS),
        ("compression.type", PRODUCER_COMPRESSION),
    ] {
        if !config.kafka.options.contains_key(key) {
            c.set(key, value);
        }
    }
    if config.delivery.mode == DeliveryMode::Transactional {
        let id = config.delivery.transactional_id.clone().unwrap_or_else(|| {
            let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "host".to_string());
            format!("{}-{}-{}", config.kafka.group_id, host, std::process::id())
        });
        c.set("transactional.id", id);
    }
    c
}

/// The tenant-config reader's settings: no group, nothing committed, read from the start.
pub(crate) fn tenant_reader_config(config: &Config) -> ClientConfig {
    let mut c = base_config(config);
    c.set(
        "group.id",
        format!("{}-tenant-config-reader", config.kafka.group_id),
    );
    c.set("enable.auto.commit", "false");
    c.set("enable.auto.offset.store", "false");
    c.set("auto.offset.reset", "earliest");
    c.set("isolation.level", "read_committed");
    c
}
