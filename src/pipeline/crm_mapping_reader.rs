//! Per-tenant CRM mappings as events: every instance reads the whole compacted mapping topic
//! (`crm_records.mapping_topic`, key tenant id, value the mapping document as JSON; no
//! consumer group), applies each record to its [`MappingBook`] (parse, key check, newer
//! version, validation: off the transcript loop) and hands every change to the consumer loop,
//! which uses the tenant's mapping for the conversations it submits from then on. A refused
//! record is dead-lettered (kind `invalid_config`, the reason naming the field) and the
//! version in force stays; a tombstone puts the tenant back on the built-in mapping.
//!
//! Unlike the tenant reader, a refused mapping still in the topic is reported again at every
//! start (there is no catch-up bookkeeping here yet).

use super::inbox::{Inbox, LoopMessage};
use super::kafka::{source_of, tenant_reader_config, topic_partitions};
use super::steps::dead_letter::DeadLetters;
use super::steps::Rejection;
use super::PipelineError;
use crate::config::Config;
use crate::crm::{Applied, MappingBook, ValidMapping};
use crate::events::DeadLetterKind;
use crate::metrics::{outcome, Metrics};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Reads the mapping topic until `shutdown`.
pub(crate) struct CrmMappingReader {
    pub config: Arc<Config>,
    /// Where refused mappings go.
    pub dead_letters: DeadLetters,
    pub metrics: Arc<Metrics>,
    pub inbox: Inbox,
    pub shutdown: CancellationToken,
}

impl CrmMappingReader {
    /// Runs the reader on this thread until shutdown.
    pub fn run(self) -> Result<(), PipelineError> {
        let topic = self.config.crm_records.mapping_topic.clone();
        let mut client = tenant_reader_config(&self.config);
        client.set(
            "group.id",
            format!("{}-crm-mapping-reader", self.config.kafka.group_id),
        );
        let consumer: BaseConsumer = client
            .create()
            .map_err(|e| PipelineError::kafka("creating the CRM mapping reader", e))?;
        let partitions = loop {
            if self.shutdown.is_cancelled() {
                return Ok(());
            }
            if let Ok(parts) = topic_partitions(&consumer, &topic) {
                if !parts.is_empty() {
                    break parts;
                }
            }
            tracing::info!(topic = %topic, "CRM mapping topic not found yet; built-in mappings in force");
            let deadline = std::time::Instant::now() + Duration::from_secs(5);
            while !self.shutdown.is_cancelled() && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(100));
            }
        };
        let mut tpl = TopicPartitionList::new();
        for &p in &partitions {
            tpl.add_partition_offset(&topic, p, Offset::Beginning)
                .map_err(|e| PipelineError::kafka("assigning the CRM mapping topic", e))?;
        }
        consumer
            .assign(&tpl)
            .map_err(|e| PipelineError::kafka("assigning the CRM mapping topic", e))?;
        let mut book = MappingBook::new();
        while !self.shutdown.is_cancelled() {
            match consumer.poll(Duration::from_millis(100)) {
                Some(Ok(msg)) => {
                    let source = source_of(&msg);
                    match book.apply(source.key, source.value) {
                        Ok(applied) => {
                            let tenant = String::from_utf8_lossy(source.key.unwrap_or_default())
                                .into_owned();
                            let mapping = match applied {
                                Applied::InForce { version } => {
                                    tracing::info!(tenant = %tenant, version, "CRM mapping in force");
                                    self.count(source.topic, outcome::CONFIG_APPLIED);
                                    book.get(&tenant)
                                }
                                Applied::Removed => {
                                    self.count(source.topic, outcome::CONFIG_REMOVED);
                                    None
                                }
                            };
                            let _ = self.inbox.send(LoopMessage::CrmMapping { tenant, mapping });
                        }
                        Err(rejected) => {
                            self.count(source.topic, outcome::DEAD_LETTER);
                            let rejection = Rejection {
                                kind: DeadLetterKind::InvalidConfig,
                                reason: rejected.to_string(),
                            };
                            self.dead_letters.send(source, &rejection, None)?;
                        }
                    }
                }
                Some(Err(e)) => tracing::warn!(error = %e, "CRM mapping reader"),
                None => {}
            }
        }
        Ok(())
    }

    fn count(&self, topic: &str, label: &str) {
        self.metrics.record_consumed(topic, label);
    }
}

/// The mappings in force as the consumer loop keeps them (tenant id → mapping).
pub(crate) type InForce = std::collections::HashMap<String, Arc<ValidMapping>>;
