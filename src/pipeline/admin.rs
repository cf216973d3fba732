//! Kafka access for the admin commands (`debrief admin ...`, `debrief report`): read a whole
//! topic as it is now, publish one erasure request.

use super::follow::Follower;
use super::kafka::base_config;
use super::PipelineError;
use crate::config::Config;
use crate::events::ErasureRequest;
use crate::governance::audit::AuditRecord;
use crate::schema::{Codec, ContractRecord};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use std::time::Duration;

/// One record read: key and value bytes (a tombstone has no value).
pub type RawRecord = (Option<Vec<u8>>, Option<Vec<u8>>);

/// Every record of `topic` from the beginning to its end now, in partition then offset order
/// (empty when the topic does not exist).
pub fn read_topic(config: &Config, topic: &str) -> Result<Vec<RawRecord>, PipelineError> {
    let mut out: Vec<(i32, i64, RawRecord)> = Vec::new();
    scan_topic(
        config,
        topic,
        Duration::from_secs(60),
        |_| {},
        |partition, offset, key, value| {
            out.push((
                partition,
                offset,
                (key.map(<[u8]>::to_vec), value.map(<[u8]>::to_vec)),
            ))
        },
    )?;
    out.sort_by_key(|(p, o, _)| (*p, *o));
    Ok(out.into_iter().map(|(_, _, r)| r).collect())
}

/// Reads `topic` from the beginning to the end offsets it has when called, handing each
/// record (partition, offset, key, value) to `take` in arrival order; `size` first gets the
/// number of records the topic holds now (end minus start offsets, summed over partitions;
/// transaction markers included, so an upper bound). Nothing is committed. Fails when the
/// end is not reached within `timeout`.
pub fn scan_topic(
    config: &Config,
    topic: &str,
    timeout: Duration,
    size: impl FnOnce(u64),
    mut take: impl FnMut(i32, i64, Option<&[u8]>, Option<&[u8]>),
) -> Result<(), PipelineError> {
    let mut c = base_config(config);
    c.set("group.id", format!("{}-admin", config.kafka.group_id));
    c.set("enable.auto.commit", "false");
    c.set("auto.offset.reset", "earliest");
    c.set("isolation.level", "read_committed");
    let consumer: BaseConsumer = c
        .create()
        .map_err(|e| PipelineError::kafka("creating the admin reader", e))?;
    let wait = Duration::from_secs(10);
    let mut total = 0u64;
    if let Ok(md) = consumer.fetch_metadata(Some(topic), wait) {
        for p in md
            .topics()
            .iter()
            .filter(|t| t.name() == topic && t.error().is_none())
            .flat_map(|t| t.partitions())
        {
            if let Ok((lo, hi)) = consumer.fetch_watermarks(topic, p.id(), wait) {
                total += u64::try_from(hi - lo).unwrap_or(0);
            }
        }
    }
    size(total);
    let mut follower = Follower::new(consumer, topic);
    let whole = follower.catch_up(timeout, |m| {
        take(m.partition(), m.offset(), m.key(), m.payload());
    })?;
    if !whole {
        return Err(PipelineError::Stopped(
            "the topic could not be read to its end in time",
        ));
    }
    Ok(())
}

/// Publishes `request` on the erasure topic (key: the tenant id) and waits for the
/// acknowledgement.
pub async fn publish_erasure(
    config: &Config,
    codec: &Codec,
    request: &ErasureRequest,
) -> Result<(), PipelineError> {
    let topic = &config.kafka.topics.erasure;
    publish(config, codec, topic, &request.tenant_id, request).await
}

/// Publishes an audit record (key: its action id) and waits for the acknowledgement.
pub async fn publish_audit(
    config: &Config,
    codec: &Codec,
    record: &AuditRecord,
) -> Result<(), PipelineError> {
    let topic = &config.kafka.topics.audit;
    publish(config, codec, topic, &record.action_id, record).await
}

async fn publish<T: ContractRecord>(
    config: &Config,
    codec: &Codec,
    topic: &str,
    key: &str,
    value: &T,
) -> Result<(), PipelineError> {
    let payload = codec.encode(topic, value)?;
    let producer: FutureProducer = base_config(config)
        .create()
        .map_err(|e| PipelineError::kafka("creating the admin producer", e))?;
    producer
        .send(
            FutureRecord::to(topic)
                .key(key.as_bytes())
                .payload(&payload),
            Duration::from_secs(30),
        )
        .await
        .map_err(|(e, _)| PipelineError::Delivery {
            topic: topic.to_string(),
            source: e,
        })?;
    Ok(())
}
