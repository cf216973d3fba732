//! Every instance reads the whole erasure topic (no group, like the tenant reader) and hands
//! each request to the consumer loop, which drops the matching open conversations and
//! refuses their later events ([`crate::governance::erased`]). The erasure executor
//! (`erasure_executor.rs`, one instance per request) does the rest of the cascade.

use super::follow::Follower;
use super::inbox::{Inbox, LoopMessage};
use super::kafka::base_config;
use super::PipelineError;
use crate::config::Config;
use crate::events::ErasureRequest;
use crate::schema::{Codec, Encoding};
use rdkafka::message::Message;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The reader of the erasure topic.
pub(crate) struct ErasureWatch {
    pub config: Arc<Config>,
    pub codec: Arc<Codec>,
    pub inbox: Inbox,
    /// Sent once every request already in the topic at start has been handed over.
    pub caught_up: Option<tokio::sync::oneshot::Sender<()>>,
    pub shutdown: CancellationToken,
    pub runtime: tokio::runtime::Handle,
}

impl ErasureWatch {
    /// Runs until shutdown.
    pub fn run(mut self) -> Result<(), PipelineError> {
        let mut c = base_config(&self.config);
        c.set(
            "group.id",
            format!("{}-erasure-watch", self.config.kafka.group_id),
        );
        c.set("enable.auto.commit", "false");
        c.set("enable.auto.offset.store", "false");
        c.set("auto.offset.reset", "earliest");
        c.set("isolation.level", "read_committed");
        let consumer = c
            .create()
            .map_err(|e| PipelineError::kafka("creating the erasure watch", e))?;
        let mut follower = Follower::new(consumer, &self.config.kafka.topics.erasure);
        while !self.shutdown.is_cancelled() {
            let mut requests = Vec::new();
            let whole = follower.catch_up(Duration::from_secs(1), |m| {
                let Some(value) = m.payload() else { return };
                if self.codec.encoding() == Encoding::Confluent {
                    let _ = self
                        .runtime
                        .block_on(self.codec.decode_async::<ErasureRequest>(value));
                }
                match self.codec.decode::<ErasureRequest>(value) {
                    Ok(r) => requests.push(r),
                    Err(e) => tracing::warn!(partition = m.partition(), offset = m.offset(), error = %e, "erasure request not readable"),
                }
            })?;
            for r in requests {
                if self.inbox.send(LoopMessage::Erasure(r)).is_err() {
                    return Ok(());
                }
            }
            if whole {
                if let Some(tx) = self.caught_up.take() {
                    let _ = tx.send(());
                }
                std::thread::sleep(Duration::from_millis(500));
            }
        }
        Ok(())
    }
}
