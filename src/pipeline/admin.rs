//! Kafka access for the admin commands (`debrief admin ...`): read a whole topic as it is
//! now, publish one erasure request.

use super::follow::Follower;
use super::kafka::base_config;
use super::PipelineError;
use crate::config::Config;
use crate::events::ErasureRequest;
use crate::governance::audit::AuditRecord;
use crate::schema::{Codec, ContractRecord};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use std::time::Duration;

/// One record read: key and value bytes (a tombstone has no value).
pub type RawRecord = (Option<Vec<u8>>, Option<Vec<u8>>);

/// Every record of `topic` from the beginning to its end now, in partition then offset order
/// (empty when the topic does not exist).
pub fn read_topic(config: &Config, topic: &str) -> Result<Vec<RawRecord>, PipelineError> {
    let mut c = base_config(config);
    c.set("group.id", format!("{}-admin", config.kafka.group_id));
    c.set("enable.auto.commit", "false");
    c.set("auto.offset.reset", "earliest");
    c.set("isolation.level", "read_committed");
    let consumer = c
        .create()
        .map_err(|e| PipelineError::kafka("creating the admin reader", e))?;
    let mut follower = Follower::new(consumer, topic);
    let mut out: Vec<(i32, i64, RawRecord)> = Vec::new();
    let whole = follower.catch_up(Duration::from_secs(60), |m| {
        out.push((
            m.partition(),
            m.offset(),
            (m.key().map(<[u8]>::to_vec), m.payload().map(<[u8]>::to_vec)),
        ));
    })?;
    if !whole {
        return Err(PipelineError::Stopped(
            "the topic could not be read to its end in time",
        ));
    }
    out.sort_by_key(|(p, o, _)| (*p, *o));
    Ok(out.into_iter().map(|(_, _, r)| r).collect())
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
