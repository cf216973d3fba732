//! Reading a whole topic without a consumer group, up to where it ends now: the side tasks'
//! views of the conversation index, the erasure ledger and the tenant configurations
//! (erasure executor, retention sweep, interactions reader, admin commands).

use super::kafka::base_config;
use super::PipelineError;
use crate::config::Config;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Longest wait for metadata and watermarks (short: a caller that is asked to stop checks
/// between two calls).
const WAIT: Duration = Duration::from_secs(2);

/// Follows every partition of one topic from the beginning (no group, nothing committed).
pub(crate) struct Follower {
    consumer: BaseConsumer,
    topic: String,
    /// Next offset to read, per partition assigned.
    next: BTreeMap<i32, i64>,
}

impl Follower {
    /// A follower of `topic` on a consumer made with `consumer` (no group membership is
    /// used: partitions are assigned by hand).
    pub fn new(consumer: BaseConsumer, topic: &str) -> Follower {
        Follower::with(consumer, topic)
    }

    /// A follower of `topic` on a consumer with [`follower_config`] (`what` names its
    /// group, `<group_id>-<what>-follower`); `context` names it in an error.
    pub fn open(
        config: &Config,
        what: &str,
        topic: &str,
        context: &str,
    ) -> Result<Follower, PipelineError> {
        let consumer = follower_config(config, what)
            .create()
            .map_err(|e| PipelineError::kafka(context, e))?;
        Ok(Follower::with(consumer, topic))
    }

    fn with(consumer: BaseConsumer, topic: &str) -> Follower {
        Follower {
            consumer,
            topic: topic.to_string(),
            next: BTreeMap::new(),
        }
    }

    /// Assigns partitions that appeared since the last call (the topic may not exist yet).
    fn assign_new(&mut self) -> Result<(), PipelineError> {
        let md = match self.consumer.fetch_metadata(Some(&self.topic), WAIT) {
            Ok(md) => md,
            Err(e) => {
                tracing::warn!(topic = %self.topic, error = %e, "metadata");
                return Ok(());
            }
        };
        let parts: Vec<i32> = md
            .topics()
            .iter()
            .filter(|t| t.name() == self.topic && t.error().is_none())
            .flat_map(|t| t.partitions().iter().map(|p| p.id()))
            .collect();
        if parts.iter().all(|p| self.next.contains_key(p)) {
            return Ok(());
        }
        let mut tpl = TopicPartitionList::new();
        for &p in &parts {
            let offset = match self.next.get(&p) {
                Some(&o) => Offset::Offset(o),
                None => Offset::Beginning,
            };
            tpl.add_partition_offset(&self.topic, p, offset)
                .map_err(|e| PipelineError::kafka("assigning a followed topic", e))?;
            self.next.entry(p).or_insert(0);
        }
        self.consumer
            .assign(&tpl)
            .map_err(|e| PipelineError::kafka("assigning a followed topic", e))
    }

    /// Reads every record written before this call, handing each to `take`; gives up
    /// (returning `Ok(false)`) after `timeout`, or at once when the broker cannot tell where
    /// the topic ends (it is restarting, a leader moves): the caller tries again later, a
    /// broker outage never stops the service.
    pub fn catch_up(
        &mut self,
        timeout: Duration,
        mut take: impl FnMut(&BorrowedMessage<'_>),
    ) -> Result<bool, PipelineError> {
        self.assign_new()?;
        let mut high = BTreeMap::new();
        for &p in self.next.keys() {
            match self.consumer.fetch_watermarks(&self.topic, p, WAIT) {
                Ok((_, h)) => {
                    high.insert(p, h);
                }
                Err(e) => {
                    tracing::warn!(topic = %self.topic, partition = p, error = %e, "watermarks; trying again later");
                    return Ok(false);
                }
            }
        }
        let deadline = Instant::now() + timeout;
        loop {
            let behind = high
                .iter()
                .any(|(p, h)| self.next.get(p).is_some_and(|n| n < h));
            if !behind {
                return Ok(true);
            }
            if Instant::now() >= deadline {
                return Ok(false);
            }
            match self.consumer.poll(Duration::from_millis(100)) {
                Some(Ok(m)) => {
                    self.next.insert(m.partition(), m.offset() + 1);
                    take(&m);
                }
                Some(Err(e)) => tracing::warn!(topic = %self.topic, error = %e, "follower"),
                // Nothing to read: the position may still have moved past records the
                // consumer does not hand out (transaction markers, aborted records).
                None => self.take_positions(),
            }
        }
    }

    fn take_positions(&mut self) {
        let Ok(tpl) = self.consumer.position() else {
            return;
        };
        for e in tpl.elements_for_topic(&self.topic) {
            if let (Offset::Offset(o), Some(n)) = (e.offset(), self.next.get_mut(&e.partition())) {
                if o > *n {
                    *n = o;
                }
            }
        }
    }
}

/// The consumer settings of a follower (no group is joined: partitions are assigned; the
/// group id only names the client): `<group_id>-<what>-follower`, nothing committed, from
/// the earliest offset, committed transactions only.
pub(crate) fn follower_config(config: &Config, what: &str) -> ClientConfig {
    let mut c = base_config(config);
    c.set(
        "group.id",
        format!("{}-{what}-follower", config.kafka.group_id),
    );
    c.set("enable.auto.commit", "false");
    c.set("enable.auto.offset.store", "false");
    c.set("auto.offset.reset", "earliest");
    c.set("isolation.level", "read_committed");
    c
}
