//! librdkafka clients: their settings, and the transcript consumer's context: its rebalance
//! callback (hands the rebalance to the consumer loop) and statistics (consumer lag). The
//! producer's context is with the produce step (`steps/produce.rs`).

use super::client_log::ClientLog;
use crate::config::{Config, DeliveryMode};
use crate::emit::SourceRef;
use crate::metrics::Metrics;
use rdkafka::client::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, RebalanceProtocol};
use rdkafka::error::{KafkaError, KafkaResult};
use rdkafka::message::Message;
use rdkafka::statistics::Statistics;
use rdkafka::topic_partition_list::TopicPartitionList;
use rdkafka::types::RDKafkaRespErr;
use std::collections::HashSet;
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

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
    /// Where librdkafka's logs and errors go (deduplicated).
    pub client_log: Arc<ClientLog>,
    pub transcript_topics: HashSet<String>,
    pub rebalances: Sender<RebalanceEvent>,
}

impl ClientContext for ConsumerCtx {
    super::client_log::log_to_client_log!("consumer");

    fn stats(&self, stats: Statistics) {
        for (name, topic) in &stats.topics {
            if !self.transcript_topics.contains(name) {
                continue;
            }
            for (partition, p) in &topic.partitions {
                if *partition < 0 || !p.desired {
                    continue;
                }
                if let Some(lag) = partition_lag(p) {
                    self.metrics
                        .consumer_lag
                        .with_label_values(&[name.as_str(), &partition.to_string()])
                        .set(lag);
                }
            }
        }
    }
}

/// Records between the consumer's position and the end of the partition (the last stable
/// offset under `read_committed`, else the high watermark), from librdkafka's statistics.
/// The position is the next offset the application reads, else the committed offset, else
/// the start of the partition (a group that has not read or committed anything yet and
/// starts from the earliest offset). `None` while the end is unknown. librdkafka's own
/// `consumer_lag` counts from the committed offset only, so a consumer that never committed
/// (the stuck case an alert is for) would have none.
pub(crate) fn partition_lag(p: &rdkafka::statistics::Partition) -> Option<i64> {
    let end = if p.ls_offset >= 0 {
        p.ls_offset
    } else {
        p.hi_offset
    };
    if end < 0 {
        return None;
    }
    let position = [p.app_offset, p.committed_offset, p.lo_offset]
        .into_iter()
        .find(|&o| o >= 0)?;
    Some((end - position).max(0))
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

/// The partitions of `topic`; empty when the broker does not know the topic (yet).
pub(crate) fn topic_partitions<C: rdkafka::consumer::ConsumerContext>(
    consumer: &BaseConsumer<C>,
    topic: &str,
) -> KafkaResult<Vec<i32>> {
    let md = consumer.fetch_metadata(Some(topic), std::time::Duration::from_secs(10))?;
    Ok(md
        .topics()
        .iter()
        .filter(|t| t.name() == topic && t.error().is_none())
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect())
}

/// Settings shared by every client: brokers, then the pass-through options.
pub(crate) fn base_config(config: &Config) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", config.kafka.brokers.to_string());
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

/// An idempotent producer for a side task (erasure executor, retention sweep, interactions
/// reader): the connection settings without the pipeline's batching defaults or
/// transactions; `context` names it in an error.
pub(crate) fn side_producer(
    config: &Config,
    context: &str,
) -> Result<rdkafka::producer::FutureProducer, super::PipelineError> {
    let mut c = base_config(config);
    c.set("enable.idempotence", "true");
    c.create()
        .map_err(|e| super::PipelineError::kafka(context, e))
}

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
