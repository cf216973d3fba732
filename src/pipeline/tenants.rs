//! Tenant configuration as events: every instance reads the whole compacted tenant-config
//! topic (no consumer group: it is not shared out), compiles each valid version once
//! ([`TenantRuntime::compile`], off the transcript loop) and hands it to the loop, which puts
//! it in force for conversations finalised from then on. An invalid version is dead-lettered
//! and the previous one stays in force; a tombstone (null value) removes the tenant's
//! configuration.

use super::kafka::{now_ms, tenant_reader_config, Delivery, Produced, Producer};
use super::worker::send;
use super::PipelineError;
use crate::config::Config;
use crate::emit::{self, SourceRef};
use crate::events::DeadLetterKind;
use crate::extract::TenantRuntime;
use crate::metrics::{outcome, Metrics};
use crate::schema::{Codec, Encoding};
use crate::tenant::TenantConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use std::collections::HashMap;
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// What one record of the tenant-config topic means.
#[derive(Debug)]
pub enum TenantEvent {
    /// A valid, compiled version.
    Apply(Arc<TenantRuntime>),
    /// A tombstone: forget the tenant's configuration.
    Remove(String),
    /// Not usable: dead-letter it with this kind and reason.
    Reject(DeadLetterKind, String),
}

/// Reads one record of the tenant-config topic (key: tenant id).
pub fn interpret(codec: &Codec, source: SourceRef<'_>) -> TenantEvent {
    let key = match source.key.map(std::str::from_utf8) {
        Some(Ok(k)) if !k.trim().is_empty() => k,
        Some(Ok(_)) | None => {
            return TenantEvent::Reject(
                DeadLetterKind::Invalid,
                "missing key (the tenant id)".into(),
            )
        }
        Some(Err(_)) => {
            return TenantEvent::Reject(
                DeadLetterKind::Invalid,
                "the key (tenant id) is not UTF-8".into(),
            )
        }
    };
    let Some(value) = source.value else {
        return TenantEvent::Remove(key.to_string());
    };
    let config: TenantConfig = match codec.decode(value) {
        Ok(c) => c,
        Err(e) => {
            return TenantEvent::Reject(DeadLetterKind::Undecodable, format!("tenant config: {e}"))
        }
    };
    if config.tenant_id != key {
        return TenantEvent::Reject(
            DeadLetterKind::InvalidConfig,
            format!(
                "tenant_id `{}` differs from the record key `{key}`",
                config.tenant_id
            ),
        );
    }
    match TenantRuntime::compile(config) {
        Ok(rt) => TenantEvent::Apply(Arc::new(rt)),
        Err(e) => TenantEvent::Reject(
            DeadLetterKind::InvalidConfig,
            format!("tenant `{key}`: {e}"),
        ),
    }
}

/// The configurations in force, by tenant id.
#[derive(Debug, Default, Clone)]
pub struct TenantRegistry {
    tenants: HashMap<String, Arc<TenantRuntime>>,
}

/// What [`TenantRegistry::apply`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The version is now in force.
    InForce,
    /// Not newer than the version in force: ignored.
    Stale,
    /// The tenant's configuration was removed.
    Removed,
}

impl TenantRegistry {
    /// The configuration in force for a tenant.
    pub fn get(&self, tenant_id: &str) -> Option<&Arc<TenantRuntime>> {
        self.tenants.get(tenant_id)
    }

    /// Number of tenants with a configuration.
    pub fn len(&self) -> usize {
        self.tenants.len()
    }

    /// `true` when no tenant has a configuration.
    pub fn is_empty(&self) -> bool {
        self.tenants.is_empty()
    }

    /// Puts a version in force unless the one in force has the same or a higher version.
    pub fn apply(&mut self, runtime: Arc<TenantRuntime>) -> Applied {
        let id = runtime.config.tenant_id.clone();
        match self.tenants.get(&id) {
            Some(cur) if cur.config.version >= runtime.config.version => Applied::Stale,
            _ => {
                self.tenants.insert(id, runtime);
                Applied::InForce
            }
        }
    }

    /// Removes a tenant's configuration (tombstone).
    pub fn remove(&mut self, tenant_id: &str) -> Applied {
        self.tenants.remove(tenant_id);
        Applied::Removed
    }
}

/// Reads the tenant-config topic from the beginning until `shutdown`: valid versions and
/// tombstones go to `events`, invalid records to the dead-letter topic. `caught_up` is
/// sent once everything that was in the topic at start has been read (at once when the
/// topic does not exist yet; it is looked for again every few seconds).
pub(crate) struct TenantReader {
    pub config: Arc<Config>,
    pub codec: Arc<Codec>,
    pub producer: Producer,
    pub metrics: Arc<Metrics>,
    pub events: Sender<TenantEvent>,
    pub caught_up: Option<tokio::sync::oneshot::Sender<()>>,
    pub shutdown: CancellationToken,
    pub runtime: tokio::runtime::Handle,
}

impl TenantReader {
    /// Runs the reader on this thread until shutdown.
    pub fn run(mut self) -> Result<(), PipelineError> {
        let topic = self.config.kafka.topics.tenant_config.clone();
        let consumer: BaseConsumer = tenant_reader_config(&self.config)
            .create()
            .map_err(|e| PipelineError::kafka("creating the tenant-config reader", e))?;
        // Find the topic's partitions (it may not exist yet).
        let partitions = loop {
            if self.shutdown.is_cancelled() {
                return Ok(());
            }
            match consumer.fetch_metadata(Some(&topic), Duration::from_secs(10)) {
                Ok(md) => {
                    let parts: Vec<i32> = md
                        .topics()
                        .iter()
                        .filter(|t| t.name() == topic && t.error().is_none())
                        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
                        .collect();
                    if !parts.is_empty() {
                        break parts;
                    }
                    tracing::info!(topic = %topic, "tenant-config topic not found yet; running without tenant configurations");
                }
                Err(e) => {
                    tracing::warn!(topic = %topic, error = %e, "tenant-config topic metadata")
                }
            }
            self.signal_caught_up();
            sleep_unless_cancelled(&self.shutdown, Duration::from_secs(5));
        };
        let mut tpl = TopicPartitionList::new();
        let mut pending = HashMap::new();
        for &p in &partitions {
            tpl.add_partition_offset(&topic, p, Offset::Beginning)
                .map_err(|e| PipelineError::kafka("assigning the tenant-config topic", e))?;
            match consumer.fetch_watermarks(&topic, p, Duration::from_secs(10)) {
                Ok((low, high)) if high > low => {
                    pending.insert(p, high);
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(partition = p, error = %e, "tenant-config watermarks"),
            }
        }
        consumer
            .assign(&tpl)
            .map_err(|e| PipelineError::kafka("assigning the tenant-config topic", e))?;
        if pending.is_empty() {
            self.signal_caught_up();
        }
        tracing::info!(topic = %topic, partitions = partitions.len(), "reading tenant configurations");
        while !self.shutdown.is_cancelled() {
            match consumer.poll(Duration::from_millis(100)) {
                Some(Ok(msg)) => {
                    let source = SourceRef {
                        topic: msg.topic(),
                        partition: msg.partition(),
                        offset: msg.offset(),
                        key: msg.key(),
                        value: msg.payload(),
                    };
                    self.take(source)?;
                    if let Some(&high) = pending.get(&source.partition) {
                        if source.offset + 1 >= high {
                            pending.remove(&source.partition);
                            if pending.is_empty() {
                                self.signal_caught_up();
                            }
                        }
                    }
                }
                Some(Err(e)) => tracing::warn!(error = %e, "tenant-config reader"),
                None => {}
            }
        }
        Ok(())
    }

    fn signal_caught_up(&mut self) {
        if let Some(tx) = self.caught_up.take() {
            let _ = tx.send(());
        }
    }

    fn take(&mut self, source: SourceRef<'_>) -> Result<(), PipelineError> {
        if let (Encoding::Confluent, Some(value)) = (self.codec.encoding(), source.value) {
            // Fetch the writer schema once so that the synchronous decode finds it.
            let _ = self
                .runtime
                .block_on(self.codec.decode_async::<TenantConfig>(value));
        }
        match interpret(&self.codec, source) {
            TenantEvent::Reject(kind, reason) => {
                tracing::warn!(offset = source.offset, kind = emit::kind_name(kind), reason = %reason, "tenant configuration rejected");
                self.metrics
                    .records_consumed
                    .with_label_values(&[source.topic, outcome::DEAD_LETTER])
                    .inc();
                let dl = emit::dead_letter(source, kind, &reason, now_ms());
                let topic = &self.config.kafka.topics.dead_letter;
                let bytes = self.codec.encode(topic, &dl)?;
                let delivery = Box::new(Delivery {
                    hold: None,
                    what: Produced::DeadLetter {
                        reason: emit::kind_name(kind),
                    },
                });
                send(
                    &self.producer,
                    topic,
                    source.key,
                    &bytes,
                    Some(emit::dead_letter_headers(&dl)),
                    delivery,
                )?;
            }
            event => {
                // The loop may be gone at shutdown: nothing to do then.
                let _ = self.events.send(event);
            }
        }
        Ok(())
    }
}

fn sleep_unless_cancelled(token: &CancellationToken, total: Duration) {
    let step = Duration::from_millis(100);
    let mut slept = Duration::ZERO;
    while slept < total && !token.is_cancelled() {
        std::thread::sleep(step);
        slept += step;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Encoding;
    use crate::tenant::TrackerConfig;

    fn cfg(tenant: &str, version: i64, terms: &[&str]) -> TenantConfig {
        TenantConfig {
            tenant_id: tenant.into(),
            version,
            trackers: vec![TrackerConfig {
                name: "pricing".into(),
                terms: terms.iter().map(|t| t.to_string()).collect(),
                stemming: true,
                accent_insensitive: true,
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    fn src<'a>(key: Option<&'a [u8]>, value: Option<&'a [u8]>) -> SourceRef<'a> {
        SourceRef {
            topic: "cfg",
            partition: 0,
            offset: 0,
            key,
            value,
        }
    }

    #[test]
    fn valid_versions_apply_in_order_and_stale_ones_are_ignored() {
        let codec = Codec::new(Encoding::Json, None).unwrap();
        let mut reg = TenantRegistry::default();
        let v2 = serde_json::to_vec(&cfg("acme", 2, &["price"])).unwrap();
        let TenantEvent::Apply(rt) = interpret(&codec, src(Some(b"acme"), Some(&v2))) else {
            panic!()
        };
        assert_eq!(reg.apply(rt), Applied::InForce);
        let v1 = serde_json::to_vec(&cfg("acme", 1, &["budget"])).unwrap();
        let TenantEvent::Apply(rt) = interpret(&codec, src(Some(b"acme"), Some(&v1))) else {
            panic!()
        };
        assert_eq!(reg.apply(rt), Applied::Stale);
        assert_eq!(reg.get("acme").unwrap().config.version, 2);
        assert!(
            matches!(interpret(&codec, src(Some(b"acme"), None)), TenantEvent::Remove(t) if t == "acme")
        );
        assert_eq!(reg.remove("acme"), Applied::Removed);
        assert!(reg.is_empty());
    }

    #[test]
    fn unusable_records_are_rejected_with_a_reason() {
        let codec = Codec::new(Encoding::Json, None).unwrap();
        let ok = serde_json::to_vec(&cfg("acme", 1, &["price"])).unwrap();
        let empty_term = serde_json::to_vec(&cfg("acme", 3, &[""])).unwrap();
        let cases: Vec<(SourceRef<'_>, DeadLetterKind, &str)> = vec![
            (src(None, Some(&ok)), DeadLetterKind::Invalid, "missing key"),
            (
                src(Some(b"other"), Some(&ok)),
                DeadLetterKind::InvalidConfig,
                "differs from the record key",
            ),
            (
                src(Some(b"acme"), Some(b"{not json")),
                DeadLetterKind::Undecodable,
                "tenant config",
            ),
            (
                src(Some(b"acme"), Some(&empty_term)),
                DeadLetterKind::InvalidConfig,
                "tenant `acme`",
            ),
        ];
        for (source, kind, needle) in cases {
            match interpret(&codec, source) {
                TenantEvent::Reject(k, reason) => {
                    assert_eq!(k, kind, "{reason}");
                    assert!(reason.contains(needle), "{reason}");
                }
                other => panic!("expected a rejection, got {other:?}"),
            }
        }
    }
}
