//! librdkafka clients: their settings, the producer's delivery callback (reports
//! acknowledgements and failures to the consumer loop's inbox, counts outputs), the
//! consumer's rebalance callback (hands the rebalance to the consumer loop) and statistics
//! (consumer lag), and the commit procedures the loop runs.

use super::analysis_pool::JobQueue;
use super::inbox::{Inbox, LoopMessage};
use super::offsets::{Hold, OffsetBook};
use super::PipelineError;
use crate::config::{Config, DeliveryMode};
use crate::emit::SourceRef;
use crate::metrics::Metrics;
use rdkafka::client::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, RebalanceProtocol};
use rdkafka::error::{KafkaError, KafkaResult};
use rdkafka::message::{Message, OwnedHeaders};
use rdkafka::producer::{
    BaseRecord, DeliveryResult, Producer as _, ProducerContext, ThreadedProducer,
};
use rdkafka::statistics::Statistics;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::types::{RDKafkaErrorCode, RDKafkaRespErr};
use rdkafka::util::Timeout;
use std::collections::HashSet;
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Where a consumed record came from, with its key and value.
pub(crate) fn source_of<M: Message>(msg: &M) -> SourceRef<'_> {
    SourceRef {
        topic: msg.topic(),
        partition: msg.partition(),
        offset: msg.offset(),
        key: msg.key(),
        value: msg.payload(),
    }
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

/// Opaque of every produced record: the offset hold its acknowledgement releases (taken by
/// the consumer loop) and what it was.
#[derive(Debug)]
pub(crate) struct Delivery {
    pub hold: Option<Hold>,
    pub what: Produced,
}

/// The producer's context: counts outputs and reports every acknowledgement (and every
/// failure) to the consumer loop's inbox. It runs on librdkafka's producer thread.
pub(crate) struct ProducerCtx {
    pub inbox: Inbox,
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
                    // The loop may be gone at shutdown: the hold no longer matters then.
                    let _ = self.inbox.send(LoopMessage::Acknowledged(hold));
                }
            }
            Err((e, msg)) => {
                // The hold stays: the source offset is never committed past this record.
                tracing::error!(topic = msg.topic(), error = %e, "delivery failed");
                let _ = self.inbox.send(LoopMessage::Fatal(PipelineError::Delivery {
                    topic: msg.topic().to_string(),
                    source: e.clone(),
                }));
            }
        }
    }
}

/// The producer type of the pipeline.
pub(crate) type Producer = ThreadedProducer<ProducerCtx>;

/// Produces one record, waiting while the producer's queue is full.
pub(crate) fn send(
    producer: &Producer,
    topic: &str,
    key: Option<&[u8]>,
    payload: &[u8],
    headers: Option<OwnedHeaders>,
    delivery: Box<Delivery>,
) -> Result<(), KafkaError> {
    let mut record: BaseRecord<'_, [u8], [u8], Box<Delivery>> =
        BaseRecord::with_opaque_to(topic, delivery).payload(payload);
    if let Some(k) = key {
        record = record.key(k);
    }
    if let Some(h) = headers {
        record = record.headers(h);
    }
    loop {
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                record = r;
                std::thread::sleep(Duration::from_millis(1));
            }
            Err((e, _)) => return Err(e),
        }
    }
}

/// A rebalance, as the consumer's callback hands it to the consumer loop.
#[derive(Debug)]
pub(crate) enum RebalanceEvent {
    /// Partitions assigned to this instance.
    Assign(TopicPartitionList),
    /// Partitions taken away from this instance.
    Revoke(TopicPartitionList),
    /// The group coordinator reported an error: the assignment is dropped.
    Error(KafkaError, TopicPartitionList),
}

/// The transcript consumer's context. Its rebalance callback runs inside `poll`, on the
/// consumer loop's thread; it only hands the rebalance to the loop, which completes it as
/// soon as `poll` returns (rust-rdkafka's `poll` returns right after a rebalance event):
/// commit what is safe, then [`complete_rebalance`]. librdkafka waits for that call. Once
/// the loop has stopped listening (its receiver dropped, at shutdown), the callback
/// completes rebalances itself.
pub(crate) struct ConsumerCtx {
    pub metrics: Arc<Metrics>,
    pub transcript_topics: HashSet<String>,
    pub rebalances: Sender<RebalanceEvent>,
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
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        let event = match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                RebalanceEvent::Assign(tpl.clone())
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                RebalanceEvent::Revoke(tpl.clone())
            }
            other => RebalanceEvent::Error(KafkaError::Rebalance(other.into()), tpl.clone()),
        };
        if let Err(unheard) = self.rebalances.send(event) {
            complete_rebalance(consumer, &unheard.0);
        }
    }

    fn commit_callback(&self, result: KafkaResult<()>, _offsets: &TopicPartitionList) {
        if let Err(e) = result {
            tracing::debug!(error = %e, "offset commit");
        }
    }
}

/// Tells librdkafka the rebalance is done on our side: takes the assigned partitions, or
/// gives up the revoked ones (incrementally with the cooperative protocol), as rust-rdkafka's
/// default rebalance callback does.
pub(crate) fn complete_rebalance<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    event: &RebalanceEvent,
) {
    let cooperative = matches!(
        consumer.rebalance_protocol(),
        RebalanceProtocol::Cooperative
    );
    let done = match event {
        RebalanceEvent::Assign(tpl) if cooperative => consumer.incremental_assign(tpl),
        RebalanceEvent::Assign(tpl) => consumer.assign(tpl),
        RebalanceEvent::Revoke(tpl) | RebalanceEvent::Error(_, tpl) if cooperative => {
            consumer.incremental_unassign(tpl)
        }
        RebalanceEvent::Revoke(_) | RebalanceEvent::Error(..) => consumer.unassign(),
    };
    if let Err(e) = done {
        tracing::warn!(error = %e, "completing a rebalance");
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
    book: &mut OffsetBook,
) -> KafkaResult<usize> {
    let moved = book.to_store(true);
    if moved.is_empty() {
        return Ok(0);
    }
    let tpl = offsets_tpl(book, &moved)?;
    consumer.store_offsets(&tpl)?;
    Ok(tpl.count())
}

/// The safe offset of every assigned partition (see [`OffsetBook::safe`]).
pub(crate) fn safe_offsets(
    book: &OffsetBook,
    count_in_flight: bool,
) -> KafkaResult<TopicPartitionList> {
    let all: Vec<(u32, i64)> = book
        .assigned()
        .into_iter()
        .filter_map(|l| book.safe(l, count_in_flight).map(|o| (l, o)))
        .collect();
    offsets_tpl(book, &all)
}

/// Waits until the analysis pool is idle, then flushes the producer, together within
/// `deadline`, so that every acknowledgement and report is in the loop's inbox. Whatever is
/// not finished by then keeps its holds: its offsets are not committed.
pub(crate) fn settle(jobs: &JobQueue, producer: &Producer, deadline: Duration) {
    let until = Instant::now() + deadline;
    if !jobs.wait_idle(deadline) {
        tracing::warn!(
            unfinished = jobs.count(),
            "analysis not finished in time; those conversations are not committed"
        );
    }
    let left = until.saturating_duration_since(Instant::now());
    if let Err(e) = producer.flush(Timeout::After(left)) {
        tracing::warn!(error = %e, "producer flush did not finish in time; unacknowledged records are not committed");
    }
}

/// At-least-once mode: stores `tpl` and commits it synchronously.
pub(crate) fn commit_sync(
    consumer: &TranscriptConsumer,
    tpl: &TopicPartitionList,
) -> KafkaResult<()> {
    if tpl.count() == 0 {
        return Ok(());
    }
    consumer.store_offsets(tpl)?;
    consumer.commit(tpl, rdkafka::consumer::CommitMode::Sync)
}

/// Transactional mode: sends `tpl` to the open transaction, commits it and opens the next
/// one. `in_transaction` follows whether a transaction is open.
pub(crate) fn commit_transaction(
    consumer: &TranscriptConsumer,
    producer: &Producer,
    tpl: &TopicPartitionList,
    deadline: Duration,
    in_transaction: &mut bool,
) -> KafkaResult<()> {
    if tpl.count() > 0 {
        if let Some(meta) = consumer.group_metadata() {
            producer.send_offsets_to_transaction(tpl, &meta, Timeout::After(deadline))?;
        }
    }
    producer.commit_transaction(Timeout::After(deadline))?;
    *in_transaction = false;
    producer.begin_transaction()?;
    *in_transaction = true;
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
    // librdkafka's default (500 ms) is how long a fetch may wait for data. tansu 0.6 holds
    // every fetch about that long (half of it from 500 ms), even when records are there,
    // which adds it to the end-of-conversation-to-insight latency; Kafka answers at once when
    // records are there. An idle consumer then fetches up to 100 times a second.
    if !config.kafka.options.contains_key("fetch.wait.max.ms") {
        c.set("fetch.wait.max.ms", FETCH_WAIT_MAX_MS);
    }
    c
}

/// Default `fetch.wait.max.ms` of the transcript consumer.
pub(crate) const FETCH_WAIT_MAX_MS: &str = "10";

/// Default `linger.ms` of the producer.
pub(crate) const PRODUCER_LINGER_MS: &str = "1";

/// The producer's settings (idempotent; transactional in that mode).
pub(crate) fn producer_config(config: &Config) -> ClientConfig {
    let mut c = base_config(config);
    c.set("enable.idempotence", "true");
    // Two records per conversation: waiting librdkafka's default 5 ms to batch them with
    // others only adds to the insight latency.
    if !config.kafka.options.contains_key("linger.ms") {
        c.set("linger.ms", PRODUCER_LINGER_MS);
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
