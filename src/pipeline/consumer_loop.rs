//! The consumer loop: one OS thread that polls the transcript consumer, decodes, assembles,
//! hands finalised conversations to the analysis workers ([`super::analysis_pool`]) and stores offsets
//! as acknowledgements come back. Blocking calls (flush, commit, transactions) are natural
//! here, and the rebalance callbacks run inside `poll` on this same thread.

use super::analysis_pool::{Job, Pool};
use super::kafka::{
    commit_at_least_once, commit_transaction, lock, now_ms, store_progress, Delivery, Produced,
    Producer, TranscriptConsumer,
};
use super::offsets::{Hold, Lane, OffsetBook};
use super::tenants::{Applied, TenantEvent, TenantRegistry};
use super::{PipelineError, PipelineSummary};
use crate::config::{Config, DeliveryMode};
use crate::emit::{self, SourceRef};
use crate::events::{DeadLetterKind, TranscriptEvent};
use crate::http::Health;
use crate::ingest::assemble::{apply_tenant_sides, Absorbed, Assembler, Finalised, Position};
use crate::insight::FinalisedBy;
use crate::metrics::{outcome, Metrics};
use crate::schema::Codec;
use rdkafka::consumer::Consumer;
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Message, OwnedHeaders};
use rdkafka::producer::{BaseRecord, Producer as _};
use rdkafka::topic_partition_list::Offset;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::util::Timeout;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// `reason` label of `debrief_conversations_finalised_total` for a replayed tail
/// ([`Finalised::replayed_tail`]): counted, no insight.
pub(crate) const REPLAYED_TAIL: &str = "replayed_tail";

/// How long one poll waits for a record, at most.
const POLL: Duration = Duration::from_millis(50);
/// Longest pause between retries of a retryable decoding error (schema registry down).
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Everything the loop owns.
pub(crate) struct Worker {
    pub config: Arc<Config>,
    pub codec: Arc<Codec>,
    pub metrics: Arc<Metrics>,
    pub health: Arc<Health>,
    pub book: Arc<Mutex<OffsetBook>>,
    pub producer: Producer,
    pub tenant_events: Receiver<TenantEvent>,
    pub shutdown: CancellationToken,
    pub runtime: tokio::runtime::Handle,
    pub in_transaction: Arc<AtomicBool>,
    pub registry: TenantRegistry,
    pub assembler: Assembler,
    pub summary: PipelineSummary,
    pub finalised: Vec<Finalised>,
    pub pool: Pool,
}

/// How a record was taken in.
enum Step {
    /// Processed (whatever the outcome).
    Done,
    /// Shutdown while retrying: the record was not processed.
    Interrupted,
}

impl Worker {
    /// Runs until shutdown or a fatal error, then hands back open work and commits.
    pub fn run(mut self, consumer: TranscriptConsumer) -> Result<PipelineSummary, PipelineError> {
        let started = Instant::now();
        if self.config.delivery.mode == DeliveryMode::Transactional {
            self.producer
                .init_transactions(Timeout::After(self.deadline()))
                .map_err(|e| PipelineError::kafka("initialising transactions", e))?;
            self.producer
                .begin_transaction()
                .map_err(|e| PipelineError::kafka("beginning a transaction", e))?;
            self.in_transaction.store(true, Ordering::SeqCst);
        }
        let topics: Vec<&str> = self
            .config
            .kafka
            .topics
            .transcripts
            .iter()
            .map(String::as_str)
            .collect();
        consumer
            .subscribe(&topics)
            .map_err(|e| PipelineError::kafka("subscribing", e))?;
        tracing::info!(topics = ?topics, group = %self.config.kafka.group_id, "consuming");
        self.health.set_consuming(true);
        let result = self.consume(&consumer);
        self.health.set_consuming(false);
        let close = self.close(&consumer);
        drop(consumer);
        self.summary.insights_produced =
            self.pool.shared().insights_produced.load(Ordering::Relaxed);
        self.summary.elapsed = started.elapsed();
        let summary = self.summary.clone();
        // Normally idle already (close waited for it); after a fatal error, queued jobs
        // finish or are left to the next run (their offsets were not committed).
        let deadline = self.deadline();
        self.pool.shutdown(deadline);
        result.and(close).map(|()| summary)
    }

    fn deadline(&self) -> Duration {
        Duration::from_millis(self.config.shutdown_deadline_ms)
    }

    fn consume(&mut self, consumer: &TranscriptConsumer) -> Result<(), PipelineError> {
        let tick_every =
            Duration::from_millis((self.config.assembly.idle_timeout_ms / 4).clamp(10, 100));
        let txn_every = Duration::from_millis(self.config.delivery.transaction_interval_ms);
        let mut next_tick = Instant::now();
        let mut next_txn = Instant::now() + txn_every;
        while !self.shutdown.is_cancelled() {
            if let Some(reason) = lock(&self.book).fatal() {
                return Err(PipelineError::Delivery(reason.to_string()));
            }
            if let Some(reason) = self.pool.shared().fatal() {
                return Err(PipelineError::Analysis(reason));
            }
            self.health.polled();
            self.apply_tenant_events();
            let polled = consumer.poll(POLL);
            self.drop_revoked();
            match polled {
                Some(Ok(msg)) => {
                    if let Step::Interrupted = self.handle(&msg)? {
                        break;
                    }
                }
                Some(Err(e)) => tracing::warn!(error = %e, "consumer error"),
                None => {}
            }
            let now = Instant::now();
            if now >= next_tick {
                next_tick = now + tick_every;
                self.tick(consumer)?;
            }
            if self.config.delivery.mode == DeliveryMode::Transactional && now >= next_txn {
                next_txn = now + txn_every;
                self.commit_transaction(consumer)?;
            }
        }
        Ok(())
    }

    /// Stop: flush, commit what is safe, leave the group. Open conversations are handed back
    /// (not finalised): their first offsets were never committed, so the next owner replays them.
    fn close(&mut self, consumer: &TranscriptConsumer) -> Result<(), PipelineError> {
        let started = Instant::now();
        let committed = match self.config.delivery.mode {
            DeliveryMode::AtLeastOnce => commit_at_least_once(
                consumer,
                &self.producer,
                &self.book,
                &self.pool.shared().jobs,
                self.deadline(),
            )
            .map_err(|e| PipelineError::kafka("committing offsets at shutdown", e)),
            DeliveryMode::Transactional => self.commit_transaction(consumer),
        };
        self.summary.open_conversations_handed_back = self.assembler.open_count();
        consumer.unsubscribe();
        tracing::info!(
            handed_back = self.summary.open_conversations_handed_back,
            took_ms = started.elapsed().as_millis() as u64,
            "stopped consuming"
        );
        committed
    }

    fn drop_revoked(&mut self) {
        let revoked = lock(&self.book).take_revoked();
        for lane in revoked {
            let n = self.assembler.drop_lane(lane);
            if n > 0 {
                tracing::info!(
                    lane,
                    handed_back = n,
                    "open conversations of a revoked partition dropped"
                );
            }
        }
        self.metrics
            .conversations_open
            .set(self.assembler.open_count() as i64);
    }

    fn apply_tenant_events(&mut self) {
        while let Ok(event) = self.tenant_events.try_recv() {
            let topic = &self.config.kafka.topics.tenant_config;
            let (tenant, applied) = match event {
                TenantEvent::Apply(rt) => {
                    let tenant = rt.config.tenant_id.clone();
                    let version = rt.config.version;
                    let applied = self.registry.apply(rt);
                    tracing::info!(tenant = %tenant, version, ?applied, "tenant configuration");
                    (tenant, applied)
                }
                TenantEvent::Remove(tenant) => (tenant.clone(), self.registry.remove(&tenant)),
                TenantEvent::Reject(..) => continue,
            };
            let label = match applied {
                Applied::InForce => outcome::CONFIG_APPLIED,
                Applied::Stale => outcome::DUPLICATE,
                Applied::Removed => outcome::CONFIG_REMOVED,
            };
            let _ = tenant;
            self.metrics
                .records_consumed
                .with_label_values(&[topic.as_str(), label])
                .inc();
        }
    }

    fn tick(&mut self, consumer: &TranscriptConsumer) -> Result<(), PipelineError> {
        self.assembler.tick(now_ms(), &mut self.finalised);
        self.emit_finalised(None)?;
        self.metrics
            .conversations_open
            .set(self.assembler.open_count() as i64);
        self.metrics
            .producer_queue_depth
            .set(i64::from(self.producer.in_flight_count()));
        if self.config.delivery.mode == DeliveryMode::AtLeastOnce {
            if let Err(e) = store_progress(consumer, &self.book) {
                tracing::warn!(error = %e, "storing offsets");
            }
        }
        Ok(())
    }

    /// Tells the book where the oldest open conversation of `lane` starts now.
    fn update_floor(&self, lane: Lane) {
        lock(&self.book).set_open_floor(lane, self.assembler.min_open_offset(lane));
    }

    fn handle(&mut self, msg: &BorrowedMessage<'_>) -> Result<Step, PipelineError> {
        let source = SourceRef {
            topic: msg.topic(),
            partition: msg.partition(),
            offset: msg.offset(),
            key: msg.key(),
            value: msg.payload(),
        };
        let lane = lock(&self.book).lane(source.topic, source.partition);
        let now = now_ms();
        let decoded = match self.decode(source) {
            Some(d) => d,
            None => return Ok(Step::Interrupted),
        };
        self.summary.records_consumed += 1;
        let label = match decoded {
            Err((kind, reason)) => {
                self.dead_letter(Some(lane), source, kind, &reason)?;
                outcome::DEAD_LETTER
            }
            Ok(event) => {
                let pos = Position {
                    lane,
                    offset: source.offset,
                };
                let absorbed = self.assembler.push(event, pos, now, &mut self.finalised);
                let event_ms = msg.timestamp().to_millis().unwrap_or(now);
                self.emit_finalised(Some((source.offset, event_ms)))?;
                match absorbed {
                    Absorbed::Assembled => outcome::ASSEMBLED,
                    Absorbed::Duplicate => outcome::DUPLICATE,
                    Absorbed::SegmentLimit => outcome::SEGMENT_LIMIT,
                    Absorbed::Late => outcome::LATE,
                }
            }
        };
        self.metrics
            .records_consumed
            .with_label_values(&[source.topic, label])
            .inc();
        lock(&self.book).processed(lane, source.offset);
        self.update_floor(lane);
        Ok(Step::Done)
    }

    /// Decodes and validates a transcript record. `None`: shutdown while the schema registry
    /// was unreachable (the record is left for the next run).
    #[allow(clippy::type_complexity)]
    fn decode(
        &self,
        source: SourceRef<'_>,
    ) -> Option<Result<TranscriptEvent, (DeadLetterKind, String)>> {
        let Some(value) = source.value else {
            return Some(Err((
                DeadLetterKind::Invalid,
                "empty value (tombstone) on a transcript topic".into(),
            )));
        };
        let mut backoff = Duration::from_millis(100);
        let event = loop {
            let attempt = match self.codec.decode::<TranscriptEvent>(value) {
                Err(e) if e.is_retryable() => self
                    .runtime
                    .block_on(self.codec.decode_async::<TranscriptEvent>(value)),
                other => other,
            };
            match attempt {
                Ok(event) => break event,
                Err(e) if e.is_retryable() => {
                    tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "cannot decode yet");
                    if self.shutdown.is_cancelled() {
                        return None;
                    }
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
                Err(e) => return Some(Err((DeadLetterKind::Undecodable, e.to_string()))),
            }
        };
        Some(validate(event, source.key))
    }

    /// Hands every conversation the assembler just finalised to the workers, then moves its
    /// lane's open floor (the pending hold taken by [`emit`](Worker::emit) keeps the offset
    /// back meanwhile).
    fn emit_finalised(&mut self, trigger: Option<(i64, i64)>) -> Result<(), PipelineError> {
        if self.finalised.is_empty() {
            return Ok(());
        }
        let finalised = std::mem::take(&mut self.finalised);
        for f in finalised {
            let lane = f.lane;
            // Latency is measured from the finalising record's Kafka timestamp, or from the
            // decision for idle timeouts and evictions.
            let from_ms = match (trigger, f.finalising_offset) {
                (Some((offset, ms)), Some(o)) if o == offset => ms,
                _ => f.finalised_at_ms,
            };
            self.emit(f, from_ms)?;
            self.update_floor(lane);
        }
        Ok(())
    }

    /// Counts a finalised conversation and hands it to the analysis workers (blocks while
    /// its worker's queue is full). The conversation's first offset stays held until its
    /// records are produced.
    fn emit(&mut self, f: Finalised, from_ms: i64) -> Result<(), PipelineError> {
        let reason = if f.replayed_tail {
            REPLAYED_TAIL
        } else {
            match f.finalised_by {
                FinalisedBy::EndEvent => "end_event",
                FinalisedBy::CompleteTranscript => "complete_transcript",
                FinalisedBy::IdleTimeout => "idle_timeout",
                FinalisedBy::Evicted => "evicted",
                FinalisedBy::File => "file",
            }
        };
        self.metrics
            .conversations_finalised
            .with_label_values(&[reason])
            .inc();
        self.summary.conversations_finalised += 1;
        if f.replayed_tail {
            // Its beginning lies before the committed offset: an earlier run produced its
            // insight from every segment; this shorter one must not replace it.
            tracing::warn!(
                conversation = %f.conversation.id,
                tenant = %f.conversation.tenant_id,
                lane = f.lane,
                first_offset = f.first_offset,
                segments = f.conversation.segments.len(),
                "replayed tail of a conversation already finalised: no insight"
            );
            return Ok(());
        }
        let tenant = self.registry.get(&f.conversation.tenant_id).cloned();
        if tenant.as_ref().is_some_and(|t| t.config.opted_out) {
            tracing::info!(tenant = %f.conversation.tenant_id, "tenant opted out: no insight");
            return Ok(());
        }
        let mut conv = f.conversation;
        if let Some(t) = &tenant {
            apply_tenant_sides(&mut conv, &t.config);
        }
        let crm = tenant.as_ref().map(|t| t.config.crm).unwrap_or_default();
        let insight_topic = emit::insight_topic(crm, &self.config.crm).map(Arc::from);
        let pending = lock(&self.book).hold_pending(f.lane, f.first_offset);
        self.pool.submit(Job {
            conversation: conv,
            tenant,
            finalised_by: f.finalised_by,
            ended_at: f.ended_at,
            dropped_segments: f.dropped_segments,
            lane: f.lane,
            first_offset: f.first_offset,
            insight_topic,
            from_ms,
            pending,
            submitted_ms: now_ms(),
        })
    }

    fn dead_letter(
        &mut self,
        lane: Option<Lane>,
        source: SourceRef<'_>,
        kind: DeadLetterKind,
        reason: &str,
    ) -> Result<(), PipelineError> {
        let dl = emit::dead_letter(source, kind, reason, now_ms());
        let topic = &self.config.kafka.topics.dead_letter;
        let bytes = self.codec.encode(topic, &dl)?;
        let hold = lane.and_then(|l| lock(&self.book).hold(l, source.offset));
        tracing::warn!(
            topic = source.topic,
            partition = source.partition,
            offset = source.offset,
            kind = emit::kind_name(kind),
            reason,
            "dead letter"
        );
        let headers = emit::dead_letter_headers(&dl);
        self.send(
            topic,
            source.key,
            &bytes,
            Some(headers),
            hold,
            Produced::DeadLetter {
                reason: emit::kind_name(kind),
            },
        )?;
        self.summary.dead_letters += 1;
        Ok(())
    }

    fn send(
        &self,
        topic: &str,
        key: Option<&[u8]>,
        payload: &[u8],
        headers: Option<OwnedHeaders>,
        hold: Option<Hold>,
        what: Produced,
    ) -> Result<(), PipelineError> {
        send(
            &self.producer,
            topic,
            key,
            payload,
            headers,
            Box::new(Delivery { hold, what }),
        )
    }

    fn commit_transaction(&mut self, consumer: &TranscriptConsumer) -> Result<(), PipelineError> {
        match commit_transaction(
            consumer,
            &self.producer,
            &self.book,
            &self.pool.shared().jobs,
            self.deadline(),
            &self.in_transaction,
        ) {
            Ok(()) => Ok(()),
            Err(KafkaError::Transaction(e)) if e.txn_requires_abort() => {
                tracing::warn!(error = %e, "transaction aborted; rewinding to the last committed offsets");
                self.producer
                    .abort_transaction(Timeout::After(self.deadline()))
                    .map_err(|e| PipelineError::kafka("aborting a transaction", e))?;
                self.rewind(consumer)?;
                self.producer
                    .begin_transaction()
                    .map_err(|e| PipelineError::kafka("beginning a transaction", e))?;
                self.in_transaction.store(true, Ordering::SeqCst);
                Ok(())
            }
            Err(KafkaError::Transaction(e)) if e.is_retriable() => {
                tracing::warn!(error = %e, "transaction commit will be retried");
                Ok(())
            }
            Err(e) => Err(PipelineError::kafka("committing a transaction", e)),
        }
    }

    /// After an aborted transaction: forget everything since the last commit and read again
    /// from the committed offsets.
    fn rewind(&mut self, consumer: &TranscriptConsumer) -> Result<(), PipelineError> {
        let committed = consumer
            .committed(Timeout::After(self.deadline()))
            .map_err(|e| PipelineError::kafka("reading committed offsets", e))?;
        let mut book = lock(&self.book);
        for e in committed.elements() {
            let lane = book.lane(e.topic(), e.partition());
            self.assembler.drop_lane(lane);
            book.assign(lane);
            let offset = match e.offset() {
                Offset::Offset(o) => Offset::Offset(o),
                _ => Offset::Beginning,
            };
            if let Err(err) = consumer.seek(
                e.topic(),
                e.partition(),
                offset,
                Timeout::After(self.deadline()),
            ) {
                return Err(PipelineError::kafka(
                    "seeking back after an aborted transaction",
                    err,
                ));
            }
        }
        Ok(())
    }
}

/// Produces one record, waiting while the producer's queue is full.
pub(crate) fn send(
    producer: &Producer,
    topic: &str,
    key: Option<&[u8]>,
    payload: &[u8],
    headers: Option<OwnedHeaders>,
    delivery: Box<Delivery>,
) -> Result<(), PipelineError> {
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
            Err((e, _)) => return Err(PipelineError::kafka(&format!("producing to {topic}"), e)),
        }
    }
}

/// Checks what the codec cannot: the key is the conversation id, and ids are present.
fn validate(
    event: TranscriptEvent,
    key: Option<&[u8]>,
) -> Result<TranscriptEvent, (DeadLetterKind, String)> {
    let invalid = |reason: String| Err((DeadLetterKind::Invalid, reason));
    let key = match key.map(std::str::from_utf8) {
        None => return invalid("missing key (the conversation id)".into()),
        Some(Err(_)) => return invalid("the key is not UTF-8".into()),
        Some(Ok(k)) => k,
    };
    if event.conversation_id.trim().is_empty() {
        return invalid("conversation_id is empty".into());
    }
    if key != event.conversation_id {
        return invalid(format!(
            "the key `{key}` differs from conversation_id `{}`",
            event.conversation_id
        ));
    }
    if event.header.tenant_id.trim().is_empty() {
        return invalid("header.tenant_id is empty".into());
    }
    Ok(event)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{EventHeader, SegmentBody, TranscriptPayload};

    fn event(conv: &str, tenant: &str) -> TranscriptEvent {
        TranscriptEvent {
            header: EventHeader {
                tenant_id: tenant.into(),
                ..Default::default()
            },
            conversation_id: conv.into(),
            payload: TranscriptPayload::Segment(SegmentBody::default()),
        }
    }

    #[test]
    fn validation_names_what_is_wrong() {
        assert!(validate(event("c1", "t"), Some(b"c1")).is_ok());
        let reason = |r: Result<TranscriptEvent, (DeadLetterKind, String)>| r.unwrap_err().1;
        assert_eq!(
            reason(validate(event("c1", "t"), None)),
            "missing key (the conversation id)"
        );
        assert_eq!(
            reason(validate(event("c1", "t"), Some(b"\xff"))),
            "the key is not UTF-8"
        );
        assert_eq!(
            reason(validate(event("c1", "t"), Some(b"c2"))),
            "the key `c2` differs from conversation_id `c1`"
        );
        assert_eq!(
            reason(validate(event("", "t"), Some(b""))),
            "conversation_id is empty"
        );
        assert_eq!(
            reason(validate(event("c1", " "), Some(b"c1"))),
            "header.tenant_id is empty"
        );
    }
}
