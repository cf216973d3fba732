//! The interactions reader: turns what front ends say representatives did with suggestions
//! (`debrief.interactions.v1`) into enriched telemetry records or dead letters
//! ([`crate::interactions`] does the checking and the join).
//!
//! - **Who reads what.** Every `debrief run` instance starts a reader; they share the
//!   interactions topic through a consumer group of their own (`<group_id>.interactions`).
//!   Each reader follows the whole conversation index (no group) into a
//!   [`SuggestionStore`], and the whole tenant-config topic into a [`RecordingSwitch`].
//! - **The index as it is now.** Before each batch is joined, the index is read to the end it
//!   has at that moment: an event sent after its insight was produced finds the conversation,
//!   and an event read after the conversation's erasure (its index tombstone) does not (it is
//!   a dead letter, `unknown conversation`). A batch waits (uncommitted) while the index cannot
//!   be read to its end.
//! - **Delivery.** Records are produced by an idempotent producer; the batch's offsets are
//!   committed once every record it gave is acknowledged. A crash replays the uncommitted
//!   batch: its telemetry records may be written twice (at least once, like the rest of the
//!   telemetry topic). A record that cannot be delivered stops the service, as everywhere.

use super::follow::Follower;
use super::kafka::{base_config, now_ms, side_producer, source_of};
use super::steps::encode::{Encode, Record};
use super::PipelineError;
use crate::config::Config;
use crate::emit;
use crate::events::{DeadLetterKind, InteractionEvent};
use crate::governance::ConversationIndexEntry;
use crate::insight::EXTRACTOR_VERSION;
use crate::interactions::{enrich, validate, RecordingSwitch, Refusal, SuggestionStore};
use crate::metrics::Metrics;
use crate::schema::{Codec, ContractRecord, Encoding};
use crate::tenant::TenantConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Longest wait for the index or the tenant configurations to be read to their end.
const CATCH_UP: Duration = Duration::from_secs(30);

/// The tenant configurations are read again at most this often.
const TENANT_REFRESH: Duration = Duration::from_secs(1);

/// Most events handled before their records are awaited and their offsets committed.
const BATCH: usize = 500;

/// How long a batch waits for more events once it has one.
const BATCH_WAIT: Duration = Duration::from_millis(100);

/// The reader's settings and handles.
pub(crate) struct InteractionsReader {
    pub config: Arc<Config>,
    pub codec: Arc<Codec>,
    pub metrics: Arc<Metrics>,
    pub shutdown: CancellationToken,
    pub runtime: tokio::runtime::Handle,
}

/// What one event came to.
enum Handled {
    /// An enriched record for the telemetry topic.
    Record(Box<crate::events::InteractionTelemetry>),
    /// Valid, but the tenant does not record interactions.
    NotRecorded,
    /// Refused: a dead letter.
    Refused(Refused),
}

/// A refused event: the dead letter's kind, the refusal and the reason written.
struct Refused {
    kind: DeadLetterKind,
    refusal: Refusal,
    reason: String,
}

impl Refused {
    fn invalid(refusal: Refusal) -> Refused {
        Refused {
            kind: DeadLetterKind::Invalid,
            refusal,
            reason: refusal.reason().to_string(),
        }
    }

    fn undecodable(reason: String) -> Refused {
        Refused {
            kind: DeadLetterKind::Undecodable,
            refusal: Refusal::Undecodable,
            reason,
        }
    }
}

impl InteractionsReader {
    /// Runs until shutdown.
    pub fn run(self) -> Result<(), PipelineError> {
        let topics = &self.config.kafka.topics;
        let producer = side_producer(&self.config, "creating the interactions producer")?;
        let mut index = Follower::open(
            &self.config,
            "interactions-index",
            &topics.conversation_index,
            "creating the index follower",
        )?;
        let mut tenants = Follower::open(
            &self.config,
            "interactions-tenants",
            &topics.tenant_config,
            "creating the tenant-config follower",
        )?;
        let consumer: BaseConsumer = {
            let mut c = base_config(&self.config);
            c.set(
                "group.id",
                format!("{}.interactions", self.config.kafka.group_id),
            );
            c.set("enable.auto.commit", "false");
            c.set("auto.offset.reset", "earliest");
            c.set("isolation.level", "read_committed");
            c.create()
                .map_err(|e| PipelineError::kafka("creating the interactions consumer", e))?
        };
        consumer
            .subscribe(&[topics.interactions.as_str()])
            .map_err(|e| PipelineError::kafka("subscribing to the interactions topic", e))?;
        tracing::info!(topic = %topics.interactions, "interactions reader started");
        let mut store = SuggestionStore::default();
        let mut switch = RecordingSwitch::default();
        let mut tenants_read: Option<Instant> = None;
        while !self.shutdown.is_cancelled() {
            let batch = self.poll_batch(&consumer);
            if batch.is_empty() {
                continue;
            }
            if tenants_read.is_none_or(|t| t.elapsed() >= TENANT_REFRESH) {
                if !self.catch_up(&mut tenants, |m| self.take_tenant(&mut switch, m))? {
                    return Ok(());
                }
                tenants_read = Some(Instant::now());
            }
            let checked: Vec<Result<InteractionEvent, Refused>> =
                batch.iter().map(|m| self.check(m)).collect();
            // The index as it is now: new conversations are known, erased ones forgotten.
            if !self.catch_up(&mut index, |m| self.take_index(&mut store, m))? {
                return Ok(());
            }
            let mut pending = Vec::with_capacity(batch.len());
            for (msg, c) in batch.iter().zip(checked) {
                let handled = match c {
                    Ok(e) => self.join(&store, &switch, &e),
                    Err(refused) => Handled::Refused(refused),
                };
                if let Some(f) = self.output(&producer, msg, handled)? {
                    pending.push(f);
                }
            }
            self.await_all(pending)?;
            if let Err(e) = consumer.commit_consumer_state(CommitMode::Sync) {
                tracing::warn!(error = %e, "committing interactions; the batch will be read again");
            }
        }
        Ok(())
    }

    /// Up to [`BATCH`] events: waits for the first (200 ms at most), then takes what comes
    /// within [`BATCH_WAIT`].
    fn poll_batch<'c>(&self, consumer: &'c BaseConsumer) -> Vec<BorrowedMessage<'c>> {
        let mut batch = Vec::new();
        let mut deadline: Option<Instant> = None;
        while batch.len() < BATCH {
            let wait = match deadline {
                None => Duration::from_millis(200),
                Some(d) => d.saturating_duration_since(Instant::now()),
            };
            match consumer.poll(wait) {
                Some(Ok(m)) => {
                    batch.push(m);
                    deadline.get_or_insert_with(|| Instant::now() + BATCH_WAIT);
                }
                // Broker trouble is reported once by the clients' log; the caller checks for
                // shutdown between two batches, so an unreachable broker never holds it here.
                Some(Err(e)) => {
                    tracing::debug!(error = %e, "interactions consumer");
                    break;
                }
                None => break,
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                break;
            }
        }
        batch
    }

    /// Reads a followed topic to its end, trying again until it works or shutdown (`false`).
    fn catch_up(
        &self,
        follower: &mut Follower,
        mut take: impl FnMut(&BorrowedMessage<'_>),
    ) -> Result<bool, PipelineError> {
        while !follower.catch_up(CATCH_UP, &mut take)? {
            if self.shutdown.is_cancelled() {
                return Ok(false);
            }
            tracing::warn!(
                "interactions reader: a followed topic not read to its end; trying again"
            );
            std::thread::sleep(Duration::from_secs(1));
        }
        Ok(true)
    }

    fn take_index(&self, store: &mut SuggestionStore, m: &BorrowedMessage<'_>) {
        let key = m.key().map(String::from_utf8_lossy).unwrap_or_default();
        match m.payload() {
            None => store.apply(&key, None),
            Some(_) => {
                if let Some(e) = self.decode::<ConversationIndexEntry>(m) {
                    store.apply(&key, Some(&e));
                }
            }
        }
    }

    fn take_tenant(&self, switch: &mut RecordingSwitch, m: &BorrowedMessage<'_>) {
        let key = m.key().map(String::from_utf8_lossy).unwrap_or_default();
        match m.payload() {
            None => switch.apply(&key, None),
            // An invalid configuration is the tenant reader's to dead-letter; the version in
            // force stays here too.
            Some(_) => {
                if let Some(c) = self
                    .decode::<TenantConfig>(m)
                    .filter(|c| c.tenant_id == key && c.validate().is_ok())
                {
                    switch.apply(&key, Some(&c));
                }
            }
        }
    }

    /// Decodes a record of a followed topic; `None` (logged without content) when it does
    /// not decode.
    fn decode<T: ContractRecord>(&self, m: &BorrowedMessage<'_>) -> Option<T> {
        let value = m.payload()?;
        if self.codec.encoding() == Encoding::Confluent {
            let _ = self.runtime.block_on(self.codec.decode_async::<T>(value));
        }
        self.codec
            .decode::<T>(value)
            .map_err(|e| tracing::warn!(topic = m.topic(), partition = m.partition(), offset = m.offset(), error = %e, "record not decodable"))
            .ok()
    }

    /// Decodes and validates one event.
    fn check(&self, m: &BorrowedMessage<'_>) -> Result<InteractionEvent, Refused> {
        let Some(value) = m.payload() else {
            return Err(Refused::undecodable(
                "empty value (tombstone) on the interactions topic".into(),
            ));
        };
        if self.codec.encoding() == Encoding::Confluent {
            let _ = self
                .runtime
                .block_on(self.codec.decode_async::<InteractionEvent>(value));
        }
        let e = self
            .codec
            .decode::<InteractionEvent>(value)
            .map_err(|e| Refused::undecodable(e.to_string()))?;
        validate(m.key(), &e).map_err(Refused::invalid)?;
        Ok(e)
    }

    fn join(
        &self,
        store: &SuggestionStore,
        switch: &RecordingSwitch,
        e: &InteractionEvent,
    ) -> Handled {
        match store.join(e) {
            Err(r) => Handled::Refused(Refused::invalid(r)),
            Ok(j) => {
                self.metrics
                    .interactions
                    .with_label_values(&[j.kind.feature(), e.action.name()])
                    .inc();
                if switch.records(&e.tenant_id, j.profile.as_deref()) {
                    Handled::Record(Box::new(enrich(e, &j, EXTRACTOR_VERSION)))
                } else {
                    self.metrics.interactions_not_recorded.inc();
                    Handled::NotRecorded
                }
            }
        }
    }

    /// Sends what one event came to; the delivery to await, if any.
    fn output(
        &self,
        producer: &FutureProducer,
        msg: &BorrowedMessage<'_>,
        handled: Handled,
    ) -> Result<Option<DeliveryFuture>, PipelineError> {
        let encode = Encode {
            codec: self.codec.clone(),
        };
        let topics = &self.config.kafka.topics;
        match handled {
            Handled::NotRecorded => Ok(None),
            Handled::Record(t) => {
                let record = encode.telemetry(&topics.telemetry, &t)?;
                self.send(producer, record).map(Some)
            }
            Handled::Refused(r) => {
                self.metrics
                    .interactions_dead_lettered
                    .with_label_values(&[r.refusal.label()])
                    .inc();
                let dl = emit::dead_letter(source_of(msg), r.kind, &r.reason, now_ms());
                let record = encode.dead_letter(&topics.dead_letter, &dl)?;
                self.send(producer, record).map(Some)
            }
        }
    }

    fn send(
        &self,
        producer: &FutureProducer,
        record: Record<'_>,
    ) -> Result<DeliveryFuture, PipelineError> {
        let mut r = FutureRecord::<[u8], [u8]>::to(record.topic).payload(&record.payload);
        if let Some(k) = record.key {
            r = r.key(k);
        }
        if let Some(h) = record.headers {
            r = r.headers(h);
        }
        producer
            .send_result(r)
            .map_err(|(e, _)| PipelineError::Delivery {
                topic: record.topic.to_string(),
                source: e,
            })
    }

    /// Waits for every delivery of a batch; the first failure stops the reader.
    fn await_all(&self, pending: Vec<DeliveryFuture>) -> Result<(), PipelineError> {
        let topic = self.config.kafka.topics.telemetry.clone();
        for result in self.runtime.block_on(futures::future::join_all(pending)) {
            match result {
                Ok(Ok(_)) => {}
                Ok(Err((e, _))) => return Err(PipelineError::Delivery { topic, source: e }),
                Err(_) => {
                    return Err(PipelineError::Delivery {
                        topic,
                        source: rdkafka::error::KafkaError::Canceled,
                    })
                }
            }
        }
        Ok(())
    }
}
