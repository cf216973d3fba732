//! The consumer loop: one OS thread that polls the transcript consumer, decodes, assembles,
//! hands finalised conversations to the analysis pool ([`super::analysis_pool`]) and stores
//! offsets as acknowledgements come back. It alone owns the offset book: acknowledgements,
//! analysis reports, tenant configurations and failures arrive in its inbox
//! ([`super::inbox`]), drained in every poll cycle and before every commit. Blocking calls
//! (flush, commit, transactions) are natural here. A rebalance is handed over by the
//! consumer's callback (which runs inside `poll`, on this thread) and completed here as soon
//! as `poll` returns, before any other record is read.

use super::analysis_pool::AnalysisPool;
use super::inbox::{InboxReceiver, LoopMessage};
use super::kafka::{complete_rebalance, now_ms, source_of, RebalanceEvent, TranscriptConsumer};
use super::offsets::{Lane, OffsetBook};
use super::replay::ReplayRun;
use super::steps::analyse::Job;
use super::steps::commit::{commit_sync, commit_transaction, safe_offsets, settle, store_progress};
use super::steps::crm::CrmJob;
use super::steps::dead_letter::DeadLetters;
use super::steps::decode::Decode;
use super::steps::erase::{self, Erase};
use super::steps::live::Live;
use super::steps::produce::Producer;
use super::steps::validate::validate;
use super::steps::Rejection;
use super::{PipelineError, PipelineSummary};
use crate::config::{Config, DeliveryMode};
use crate::crm::CrmKind;
use crate::emit::{self, SourceRef};
use crate::events::DeadLetterKind;
use crate::governance::audit;
use crate::http::Health;
use crate::ingest::assemble::{Absorbed, Assembler, Finalised, Position};
use crate::ingest::replay::{self, DEFAULT_MAX_METADATA_BYTES};
use crate::insight::FinalisedBy;
use crate::metrics::{outcome, Metrics};
use crate::tenant::{apply_tenant_sides, Applied, TenantEvent, TenantRegistry};
use rdkafka::consumer::Consumer;
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::producer::Producer as _;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::util::Timeout;
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// `reason` label of `debrief_conversations_finalised_total` for a replayed tail
/// ([`Finalised::replayed_tail`]): counted, no insight.
pub(crate) const REPLAYED_TAIL: &str = "replayed_tail";

/// Longest wait for the committed offsets and watermarks of newly assigned partitions.
const FETCH_WAIT: Duration = Duration::from_secs(5);

/// How long a lane read to its end must stay without records before its stream time follows
/// the wall clock.
const QUIET_BEFORE_WALL_CLOCK: Duration = Duration::from_millis(500);

/// How long one poll waits for a record, at most.
const POLL: Duration = Duration::from_millis(50);

/// Everything the loop owns.
pub(crate) struct ConsumerLoop {
    pub config: Arc<Config>,
    /// Step 1.
    pub decode: Decode,
    /// Where rejected records go.
    pub dead_letters: DeadLetters,
    pub metrics: Arc<Metrics>,
    pub health: Arc<Health>,
    /// The offset book: owned here alone.
    pub book: OffsetBook,
    pub producer: Producer,
    /// Acknowledgements, analysis reports, tenant configurations, failures.
    pub inbox: InboxReceiver,
    pub shutdown: CancellationToken,
    /// A bounded replay (`debrief replay`) instead of the service: assigned partitions, a
    /// stop at the range's end, a conversation filter, no commits ([`super::replay`]).
    pub replay: Option<ReplayRun>,
    /// Transactional mode: a transaction is open.
    pub in_transaction: bool,
    pub registry: TenantRegistry,
    /// Tenants' own CRM mappings in force (from the CRM mapping reader).
    pub crm_mappings: super::crm_mapping_reader::InForce,
    pub assembler: Assembler,
    pub summary: PipelineSummary,
    pub finalised: Vec<Finalised>,
    pub pool: AnalysisPool,
    /// The first failure reported to the inbox (the loop stops on it).
    pub fatal: Option<PipelineError>,
    /// When a record of each lane was last processed (see [`ConsumerLoop::caught_up`]).
    pub last_record: std::collections::HashMap<Lane, Instant>,
    /// Erasure requests read so far (what to refuse).
    pub erase: Erase,
    /// Live records of open conversations (`None` when `live.enabled` is off).
    pub live: Option<Live>,
}

/// How a record was taken in.
enum Step {
    /// Processed (whatever the outcome).
    Done,
    /// Shutdown while retrying: the record was not processed.
    Interrupted,
}

impl ConsumerLoop {
    /// Runs until shutdown or a fatal error, then hands back open work and commits.
    /// `rebalances` receives what the consumer's rebalance callback hands over.
    pub fn run(
        mut self,
        consumer: TranscriptConsumer,
        rebalances: Receiver<RebalanceEvent>,
    ) -> Result<PipelineSummary, PipelineError> {
        let started = Instant::now();
        if self.config.delivery.mode == DeliveryMode::Transactional {
            self.producer
                .init_transactions(Timeout::After(self.deadline()))
                .map_err(|e| PipelineError::kafka("initialising transactions", e))?;
            self.producer
                .begin_transaction()
                .map_err(|e| PipelineError::kafka("beginning a transaction", e))?;
            self.in_transaction = true;
        }
        let topics: Vec<&str> = self
            .config
            .kafka
            .topics
            .transcripts
            .iter()
            .map(String::as_str)
            .collect();
        if let Some(replay) = self.replay.as_mut() {
            let assignment = replay.prepare(
                &consumer,
                &self.config.kafka.topics.transcripts,
                &mut self.book,
            )?;
            consumer
                .assign(&assignment)
                .map_err(|e| PipelineError::kafka("assigning the replay's partitions", e))?;
        } else {
            consumer
                .subscribe(&topics)
                .map_err(|e| PipelineError::kafka("subscribing", e))?;
        }
        tracing::info!(topics = ?topics, group = %self.config.kafka.group_id, "consuming");
        self.health.set_consuming(true);
        let result = self.consume(&consumer, &rebalances);
        self.health.set_consuming(false);
        let close = self.close(&consumer, result.is_err());
        // From here on the consumer's callback completes rebalances itself (leaving the
        // group on drop revokes everything).
        drop(rebalances);
        drop(consumer);
        // Normally idle already (close waited for it); after a fatal error, queued jobs
        // finish or are left to the next run (their offsets were not committed).
        let deadline = self.deadline();
        self.pool.shutdown(deadline);
        self.drain_inbox();
        self.summary.elapsed = started.elapsed();
        result.and(close).map(|()| self.summary)
    }

    fn deadline(&self) -> Duration {
        self.config.shutdown_deadline
    }

    fn consume(
        &mut self,
        consumer: &TranscriptConsumer,
        rebalances: &Receiver<RebalanceEvent>,
    ) -> Result<(), PipelineError> {
        let tick_every = (self.config.assembly.idle_timeout / 4)
            .clamp(Duration::from_millis(10), Duration::from_millis(100));
        let txn_every = self.config.delivery.transaction_interval;
        let mut next_tick = Instant::now();
        let mut next_txn = Instant::now() + txn_every;
        while !self.shutdown.is_cancelled() {
            self.drain_inbox();
            if let Some(fatal) = self.fatal.take() {
                return Err(fatal);
            }
            if self.replay.as_ref().is_some_and(ReplayRun::finished) {
                break;
            }
            self.health.polled();
            let polled = consumer.poll(POLL);
            while let Ok(event) = rebalances.try_recv() {
                self.rebalance(consumer, event);
            }
            match polled {
                Some(Ok(msg)) if self.past_replay_range(consumer, &msg) => {}
                Some(Ok(msg)) => {
                    consumer.context().client_log.reachable();
                    if let Step::Interrupted = self.handle(&msg)? {
                        break;
                    }
                }
                Some(Err(e)) => consumer.context().client_log.error("consumer", &e),
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

    /// Takes in everything the inbox holds: releases holds, counts insights, applies tenant
    /// configurations, keeps the first failure in `fatal`.
    fn drain_inbox(&mut self) {
        while let Ok(message) = self.inbox.try_recv() {
            match message {
                LoopMessage::Acknowledged(hold) => self.book.release(hold),
                LoopMessage::Produced { pending, insight } => {
                    if let Some(hold) = pending {
                        self.book.release(hold);
                    }
                    if insight {
                        self.summary.insights_produced += 1;
                    }
                }
                LoopMessage::Tenant(event) => self.apply_tenant_event(event),
                LoopMessage::Erasure(request) => self.apply_erasure(&request),
                LoopMessage::CrmMapping { tenant, mapping } => match mapping {
                    Some(m) => {
                        self.crm_mappings.insert(tenant, m);
                    }
                    None => {
                        self.crm_mappings.remove(&tenant);
                    }
                },
                LoopMessage::Fatal(e) => {
                    if self.fatal.is_none() {
                        self.fatal = Some(e);
                    } else {
                        tracing::error!(error = %e, "further failure while stopping");
                    }
                }
            }
        }
    }

    /// Stop: flush, commit what is safe, leave the group. Open conversations are handed back
    /// (not finalised): their first offsets were never committed, so the next owner replays them.
    /// `failed`: the loop stopped on an error (a replay then waits no longer than the deadline).
    fn close(&mut self, consumer: &TranscriptConsumer, failed: bool) -> Result<(), PipelineError> {
        let started = Instant::now();
        let committed = match self.config.delivery.mode {
            _ if self.replay.is_some() => self.finish_replay(failed),
            DeliveryMode::AtLeastOnce => self
                .commit_at_least_once(consumer)
                .map_err(|e| PipelineError::kafka("committing offsets at shutdown", e)),
            DeliveryMode::Transactional => self.commit_transaction(consumer),
        };
        self.summary.open_conversations_handed_back = self.assembler.open_count();
        self.metrics
            .conversations_open
            .set(self.assembler.open_count() as i64);
        consumer.unsubscribe();
        tracing::info!(
            handed_back = self.summary.open_conversations_handed_back,
            took_ms = started.elapsed().as_millis() as u64,
            "stopped consuming"
        );
        committed
    }

    /// At-least-once: waits for the analysis pool and flushes the producer (together at most
    /// the shutdown deadline), takes in their reports, and commits the safe offsets
    /// synchronously.
    fn commit_at_least_once(&mut self, consumer: &TranscriptConsumer) -> Result<(), KafkaError> {
        settle(self.pool.jobs(), &self.producer, self.deadline());
        self.drain_inbox();
        let _ = self.book.to_store(true);
        let tpl = safe_offsets(&self.book, true, &|l, o| self.metadata(l, o))?;
        commit_sync(consumer, &tpl)
    }

    /// Transactional mode: waits for the analysis pool (so that none produces between this
    /// transaction's commit and the next one's start), takes in its reports, sends the safe
    /// offsets of every assigned partition to the open transaction, commits it and opens the
    /// next one.
    fn try_commit_transaction(&mut self, consumer: &TranscriptConsumer) -> Result<(), KafkaError> {
        if !self.in_transaction {
            return Ok(());
        }
        let jobs = self.pool.jobs();
        if !jobs.wait_idle(self.deadline()) {
            tracing::warn!(
                unfinished = jobs.count(),
                "analysis not finished in time; committing the transaction without those conversations"
            );
        }
        self.drain_inbox();
        let tpl = safe_offsets(&self.book, false, &|l, o| self.metadata(l, o))?;
        let deadline = self.deadline();
        commit_transaction(
            consumer,
            &self.producer,
            &tpl,
            deadline,
            &mut self.in_transaction,
        )?;
        for e in tpl.elements() {
            if let Offset::Offset(offset) = e.offset() {
                let lane = self.book.lane(e.topic(), e.partition());
                self.assembler.committed(lane, offset);
            }
        }
        Ok(())
    }

    /// Completes a rebalance the consumer's callback handed over. Revocation: commit what is
    /// safe (after waiting for the analysis pool and the producer), give the partitions up,
    /// and drop their open conversations (the next owner replays them). Assignment: take the
    /// partitions and start their books.
    fn rebalance(&mut self, consumer: &TranscriptConsumer, event: RebalanceEvent) {
        match &event {
            RebalanceEvent::Revoke(tpl) => {
                let started = Instant::now();
                let committed = match self.config.delivery.mode {
                    DeliveryMode::AtLeastOnce => self.commit_at_least_once(consumer),
                    DeliveryMode::Transactional => self.try_commit_transaction(consumer),
                };
                if let Err(e) = &committed {
                    tracing::warn!(error = %e, "commit on revocation failed; the next owner replays from the last commit");
                }
                complete_rebalance(consumer, &event);
                let n = self.revoke(tpl);
                tracing::info!(
                    partitions = n,
                    took_ms = started.elapsed().as_millis() as u64,
                    "partitions revoked"
                );
            }
            RebalanceEvent::Assign(tpl) => {
                consumer.context().client_log.reachable();
                complete_rebalance(consumer, &event);
                for e in tpl.elements() {
                    let lane = self.book.lane(e.topic(), e.partition());
                    self.book.assign(lane);
                }
                self.resume(consumer, tpl);
                self.health.set_assigned(self.book.assigned().len());
                tracing::info!(partitions = tpl.count(), "partitions assigned");
            }
            RebalanceEvent::Error(e, _) => {
                tracing::warn!(error = %e, "rebalance error");
                complete_rebalance(consumer, &event);
            }
        }
    }

    /// Forgets revoked partitions: their books, their open conversations and their lag.
    fn revoke(&mut self, tpl: &TopicPartitionList) -> usize {
        let mut n = 0;
        for e in tpl.elements() {
            let lane = self.book.lane(e.topic(), e.partition());
            self.book.revoke(lane);
            n += 1;
            let _ = self
                .metrics
                .consumer_lag
                .remove_label_values(&[e.topic(), &e.partition().to_string()]);
        }
        self.health.set_assigned(self.book.assigned().len());
        for lane in self.book.take_revoked() {
            if let Some(live) = self.live.as_mut() {
                live.forget_lane(lane);
            }
            let dropped = self.assembler.drop_lane(lane);
            if dropped > 0 {
                tracing::info!(
                    lane,
                    handed_back = dropped,
                    "open conversations of a revoked partition dropped"
                );
            }
        }
        self.metrics
            .conversations_open
            .set(self.assembler.open_count() as i64);
        n
    }

    fn apply_tenant_event(&mut self, event: TenantEvent) {
        let config = self.config.clone();
        let topic = &config.kafka.topics.tenant_config;
        let applied = match event {
            TenantEvent::Apply(rt) => {
                let tenant = rt.config.tenant_id.clone();
                let version = rt.config.version;
                let opted_out = rt.config.opted_out;
                let was_opted_out = self
                    .registry
                    .get(&tenant)
                    .is_some_and(|t| t.config.opted_out);
                let applied = self.registry.apply(rt);
                tracing::info!(tenant = %tenant, version, ?applied, "tenant configuration");
                if applied == Applied::InForce && self.replay.is_none() {
                    let records =
                        audit::config_applied(&tenant, version, opted_out, was_opted_out, now_ms());
                    self.audit(&records);
                    if opted_out {
                        self.opt_out(&tenant, version);
                    }
                }
                applied
            }
            TenantEvent::Remove(tenant) => self.registry.remove(&tenant),
            TenantEvent::Reject(..) => return,
        };
        let label = match applied {
            Applied::InForce => outcome::CONFIG_APPLIED,
            Applied::Stale => outcome::DUPLICATE,
            Applied::Removed => outcome::CONFIG_REMOVED,
        };
        self.metrics
            .records_consumed
            .with_label_values(&[topic.as_str(), label])
            .inc();
    }

    /// An erasure request: drops the open conversations it names (their offsets move on:
    /// nothing is produced for them) and refuses their later events.
    fn apply_erasure(&mut self, request: &crate::events::ErasureRequest) {
        let dropped = self.erase.apply(request, &mut self.assembler);
        for (lane, id) in &dropped {
            self.update_floor(*lane);
            if let Some(live) = self.live.as_mut() {
                live.forget(id);
            }
        }
        if !dropped.is_empty() {
            tracing::info!(
                request = %request.request_id,
                dropped = dropped.len(),
                "open conversations dropped by an erasure request"
            );
        }
        self.metrics
            .conversations_open
            .set(self.assembler.open_count() as i64);
    }

    /// Records governance actions on the audit topic.
    fn audit(&mut self, records: &[crate::governance::audit::AuditRecord]) {
        let topic = &self.config.kafka.topics.audit;
        if let Err(e) = erase::audit(&self.decode.codec, &self.producer, topic, records) {
            if self.fatal.is_none() {
                self.fatal = Some(e);
            }
        }
    }

    /// A tenant opted out: its open conversations are dropped now, and a tenant-wide
    /// erasure request (reason `opt_out`) goes to the erasure topic for the executor.
    fn opt_out(&mut self, tenant: &str, version: i64) {
        let request = erase::opt_out_request(tenant, version, now_ms());
        self.apply_erasure(&request);
        let topic = &self.config.kafka.topics.erasure;
        if let Err(e) = erase::publish(&self.decode.codec, &self.producer, topic, &request) {
            if self.fatal.is_none() {
                self.fatal = Some(e);
            }
        }
        tracing::info!(tenant = %tenant, version, request = %request.request_id, "tenant opted out: erasure requested");
    }

    fn tick(&mut self, consumer: &TranscriptConsumer) -> Result<(), PipelineError> {
        if let Some(replay) = self.replay.as_mut() {
            // Positions also move past transaction markers, which are never records.
            replay.observe(consumer, &mut self.book);
        }
        // A lane read to its end gets no record older than now: its stream time follows the
        // wall clock, so a quiet partition still finalises idle conversations. A lane behind
        // (catching up after a restart or a rebalance) moves only with its records' times.
        let now = now_ms();
        let mut advanced = Vec::new();
        for lane in self.book.assigned() {
            // A replay: stream time only, the wall clock never closes a conversation.
            if self.replay.is_none() && self.caught_up(consumer, lane) {
                self.assembler.advance(lane, now, &mut self.finalised);
                advanced.push(lane);
            }
        }
        self.submit_finalised(None)?;
        for lane in advanced {
            self.send_live(lane);
        }
        self.metrics
            .conversations_open
            .set(self.assembler.open_count() as i64);
        self.metrics
            .producer_queue_depth
            .set(i64::from(self.producer.in_flight_count()));
        if self.config.delivery.mode == DeliveryMode::AtLeastOnce {
            self.drain_inbox();
            let assembler = &self.assembler;
            let metrics = &self.metrics;
            let metadata = |l: Lane, o: i64| commit_metadata(assembler, metrics, l, o);
            if let Err(e) = store_progress(consumer, &mut self.book, &metadata) {
                tracing::warn!(error = %e, "storing offsets");
            }
            for lane in self.book.assigned() {
                if let Some(offset) = self.book.stored(lane) {
                    self.assembler.committed(lane, offset);
                }
            }
        }
        Ok(())
    }

    /// Before reading newly assigned partitions: reads their committed offsets and takes
    /// what the previous owner left in the metadata (the conversations it closed: their
    /// later events stay late here, see [`crate::ingest::replay`]); starts their lag gauges
    /// from the committed offset (or the start) and the high watermark.
    fn resume(&mut self, consumer: &TranscriptConsumer, tpl: &TopicPartitionList) {
        let committed = match consumer.committed_offsets(tpl.clone(), Timeout::After(FETCH_WAIT)) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "reading the committed offsets of new partitions failed; replaying without their metadata");
                return;
            }
        };
        for e in committed.elements() {
            let lane = self.book.lane(e.topic(), e.partition());
            match replay::decode(e.metadata()) {
                Ok(facts) => {
                    if !facts.closed.is_empty() {
                        tracing::info!(
                            topic = e.topic(),
                            partition = e.partition(),
                            closed = facts.closed.len(),
                            "resuming with the previous owner's closed conversations"
                        );
                    }
                    self.assembler.restore(lane, &facts);
                }
                Err(err) => tracing::warn!(
                    topic = e.topic(),
                    partition = e.partition(),
                    error = %err,
                    "commit metadata not usable; replaying with the replayed-tail rule only"
                ),
            }
            if let Ok((low, high)) =
                consumer.fetch_watermarks(e.topic(), e.partition(), Timeout::After(FETCH_WAIT))
            {
                let from = match e.offset() {
                    Offset::Offset(o) => o,
                    _ => low,
                };
                self.metrics
                    .consumer_lag
                    .with_label_values(&[e.topic(), &e.partition().to_string()])
                    .set((high - from).max(0));
            }
        }
    }

    /// The commit metadata of `lane` at offset `committed`.
    fn metadata(&self, lane: Lane, committed: i64) -> String {
        commit_metadata(&self.assembler, &self.metrics, lane, committed)
    }

    /// `true` when every record of `lane` the consumer knows of has been processed: the next
    /// offset to read is the partition's high watermark (as last fetched), and no record of
    /// it came for [`QUIET_BEFORE_WALL_CLOCK`] (a watermark read before the last fetch
    /// response must not make a lane that is still receiving its backlog look read to the
    /// end).
    fn caught_up(&self, consumer: &TranscriptConsumer, lane: Lane) -> bool {
        if self
            .last_record
            .get(&lane)
            .is_some_and(|at| at.elapsed() < QUIET_BEFORE_WALL_CLOCK)
        {
            return false;
        }
        let Some((topic, partition)) = self.book.name(lane) else {
            return false;
        };
        let Some((low, high)) = cached_watermarks(consumer, topic, partition) else {
            return false;
        };
        if high < 0 {
            return false;
        }
        match self.book.next(lane) {
            Some(next) => next >= high,
            None => high <= low.max(0),
        }
    }

    /// Tells the book where the oldest open conversation of `lane` starts now.
    fn update_floor(&mut self, lane: Lane) {
        self.book
            .set_open_floor(lane, self.assembler.min_open_offset(lane));
    }

    fn handle(&mut self, msg: &BorrowedMessage<'_>) -> Result<Step, PipelineError> {
        let source = source_of(msg);
        let lane = self.book.lane(source.topic, source.partition);
        let now = now_ms();
        // The record's time in the stream: what idle timeouts are measured in (see
        // `ingest::assemble`), so that a replay decides exactly as the original run did.
        let time_ms = msg.timestamp().to_millis().unwrap_or(now);
        self.last_record.insert(lane, Instant::now());
        let decoded = match self.decode.decode(source.value, &self.shutdown) {
            Some(d) => d.and_then(|event| validate(event, source.key)),
            None => return Ok(Step::Interrupted),
        };
        self.summary.records_consumed += 1;
        let label = match decoded {
            Err(rejection) => {
                self.assembler.advance(lane, time_ms, &mut self.finalised);
                self.submit_finalised(None)?;
                self.send_live(lane);
                self.dead_letter(lane, source, &rejection)?;
                outcome::DEAD_LETTER
            }
            Ok(event)
                if self
                    .registry
                    .get(&event.header.tenant_id)
                    .is_some_and(|t| t.config.opted_out) =>
            {
                outcome::OPTED_OUT
            }
            Ok(event)
                if self
                    .erase
                    .refuses(&event.header.tenant_id, &event.conversation_id, time_ms) =>
            {
                outcome::ERASED
            }
            Ok(event) => {
                let pos = Position {
                    lane,
                    offset: source.offset,
                };
                // What the live step needs of the event, kept before the assembler takes it.
                let live_view = self.live.as_ref().and_then(|_| LiveView::of(&event));
                let absorbed = self
                    .assembler
                    .push(event, pos, time_ms, &mut self.finalised);
                if absorbed == Absorbed::Assembled {
                    if let Some(view) = live_view {
                        self.live_event(lane, view, time_ms);
                    }
                }
                self.submit_finalised(Some((source.offset, time_ms)))?;
                self.send_live(lane);
                match absorbed {
                    Absorbed::Assembled => outcome::ASSEMBLED,
                    Absorbed::Duplicate => outcome::DUPLICATE,
                    Absorbed::SegmentLimit => outcome::SEGMENT_LIMIT,
                    Absorbed::Late => outcome::LATE,
                    Absorbed::Evicted => {
                        // Its conversation was finalised at the open-conversation limit: the
                        // event goes to the dead-letter topic instead of vanishing. The key
                        // is the conversation id (validated above).
                        let conversation = String::from_utf8_lossy(source.key.unwrap_or_default());
                        let rejection = Rejection {
                            kind: DeadLetterKind::OverLimit,
                            reason: format!(
                                "conversation {conversation} was evicted at the open-conversation \
                                 limit (assembly.max_open_conversations) before this event"
                            ),
                        };
                        self.dead_letter(lane, source, &rejection)?;
                        outcome::DEAD_LETTER
                    }
                }
            }
        };
        self.metrics
            .records_consumed
            .with_label_values(&[source.topic, label])
            .inc();
        self.book.processed(lane, source.offset);
        if let Some(replay) = self.replay.as_mut() {
            replay.reached(lane, source.offset + 1);
        }
        self.update_floor(lane);
        self.metrics
            .conversations_open
            .set(self.assembler.open_count() as i64);
        Ok(Step::Done)
    }

    /// An event the assembler accepted, for the live step: a segment reaches its
    /// conversation's live state (with the tenant's sides and trackers in force), a start
    /// event sets its language.
    fn live_event(&mut self, lane: Lane, view: LiveView, time_ms: i64) {
        let Some(live) = self.live.as_mut() else {
            return;
        };
        match view {
            LiveView::Started { id, tenant, lang } => {
                live.started(lane, &id, &tenant, lang.as_deref());
            }
            LiveView::Segment {
                id,
                tenant,
                segment,
                is_final,
            } => {
                let runtime = self.registry.get(&tenant);
                live.segment(
                    lane,
                    &id,
                    &tenant,
                    &segment,
                    is_final,
                    runtime.map(|t| &**t),
                    time_ms,
                );
            }
        }
    }

    /// Sends the live records due on `lane` at its stream time (and any flushed or closed
    /// meanwhile).
    fn send_live(&mut self, lane: Lane) {
        let Some(live) = self.live.as_mut() else {
            return;
        };
        if let Some(clock) = self.assembler.clock(lane) {
            live.advance(lane, clock);
        }
        live.send(&self.producer, &self.metrics);
    }

    /// Sends a record to the dead-letter topic (the offset is held until it is acknowledged).
    /// A replay reads its look-back for context only: no dead letter for a record before its
    /// range.
    fn dead_letter(
        &mut self,
        lane: Lane,
        source: SourceRef<'_>,
        rejection: &Rejection,
    ) -> Result<(), PipelineError> {
        if self
            .replay
            .as_ref()
            .is_some_and(|r| !r.in_range(lane, source.offset))
        {
            return Ok(());
        }
        tracing::warn!(
            topic = source.topic,
            partition = source.partition,
            offset = source.offset,
            kind = emit::kind_name(rejection.kind),
            reason = rejection.reason,
            "dead letter"
        );
        let hold = self.book.hold(lane, source.offset);
        self.dead_letters.send(source, rejection, hold)?;
        self.summary.dead_letters += 1;
        Ok(())
    }

    /// Hands every conversation the assembler just finalised to the workers, then moves its
    /// lane's open floor (the pending hold taken by [`submit`](ConsumerLoop::submit) keeps the offset
    /// back meanwhile).
    fn submit_finalised(&mut self, trigger: Option<(i64, i64)>) -> Result<(), PipelineError> {
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
            self.submit(f, from_ms)?;
            self.update_floor(lane);
        }
        Ok(())
    }

    /// Counts a finalised conversation and hands it to the analysis workers (blocks while
    /// its worker's queue is full). The conversation's first offset stays held until its
    /// records are produced.
    fn submit(&mut self, f: Finalised, from_ms: i64) -> Result<(), PipelineError> {
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
        if f.finalised_by == FinalisedBy::Evicted {
            // Overload: more conversations open than `assembly.max_open_conversations`. Its
            // later events are dead-lettered (reason names it), not assembled.
            tracing::warn!(
                conversation = %f.conversation.id,
                tenant = %f.conversation.tenant_id,
                lane = f.lane,
                segments = f.conversation.segments.len(),
                limit = self.config.assembly.max_open_conversations,
                "open-conversation limit reached: the least recently active conversation is finalised now (evicted)"
            );
        }
        if let Some(live) = self.live.as_mut() {
            let id = f.conversation.id.as_str();
            if f.replayed_tail {
                live.forget(id);
            } else {
                live.close(id, f.finalised_at_ms);
            }
        }
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
        if self
            .replay
            .as_ref()
            .is_some_and(|r| !r.admits(f.lane, f.first_offset, &f.conversation.tenant_id))
        {
            return Ok(());
        }
        let mut conv = f.conversation;
        if let Some(t) = &tenant {
            apply_tenant_sides(&mut conv, &t.config);
        }
        let crm = tenant.as_ref().map(|t| t.config.crm).unwrap_or_default();
        let insight_topic = emit::insight_topic(crm, &self.config.crm).map(Arc::from);
        // Every record the worker will send is held from now on; the pending hold keeps the
        // offset back in transactional mode too, until the records are with the producer.
        let pending = self.book.hold_pending(f.lane, f.first_offset);
        let insight_hold = insight_topic
            .as_ref()
            .and_then(|_| self.book.hold(f.lane, f.first_offset));
        let telemetry_hold = self.book.hold(f.lane, f.first_offset);
        let index_hold = self.book.hold(f.lane, f.first_offset);
        let crm = self.crm_job(&conv.tenant_id, crm, f.lane, f.first_offset);
        self.pool.submit(Job {
            conversation: conv,
            tenant,
            finalised_by: f.finalised_by,
            ended_at: f.ended_at,
            dropped_segments: f.dropped_segments,
            insight_topic,
            from_ms,
            pending,
            insight_hold,
            telemetry_hold,
            index_hold,
            crm,
            submitted_ms: now_ms(),
        })
    }

    /// The CRM records part of a job: the tenant's CRM with its mapping in force (its own
    /// when it has one for that CRM, else the built-in one) and one hold for the whole group,
    /// on the conversation's first offset. `None` when CRM records are off or the tenant has
    /// no CRM.
    fn crm_job(
        &mut self,
        tenant: &str,
        crm: crate::tenant::Crm,
        lane: Lane,
        first_offset: i64,
    ) -> Option<CrmJob> {
        if !self.config.crm_records.enabled {
            return None;
        }
        let kind = CrmKind::of_tenant(crm)?;
        let mapping = match self.crm_mappings.get(tenant) {
            Some(m) if m.crm == kind => m.clone(),
            _ => crate::crm::defaults::shared(kind).ok()?,
        };
        let (topic, partition) = self.book.name(lane)?;
        let source_topic: Arc<str> = Arc::from(topic);
        let hold = self.book.hold(lane, first_offset);
        Some(CrmJob {
            crm: kind,
            mapping,
            hold,
            source_topic,
            source_partition: partition,
            source_offset: first_offset,
        })
    }

    /// A replay: `true` for a record past its partition's end of range, which is not
    /// processed; the partition is paused (its later records are not fetched).
    fn past_replay_range(
        &mut self,
        consumer: &TranscriptConsumer,
        msg: &BorrowedMessage<'_>,
    ) -> bool {
        let Some(replay) = self.replay.as_mut() else {
            return false;
        };
        let lane = self.book.lane(msg.topic(), msg.partition());
        if !replay.beyond(lane, msg.offset()) {
            return false;
        }
        replay.reached(lane, msg.offset());
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition(msg.topic(), msg.partition());
        if let Err(e) = consumer.pause(&tpl) {
            tracing::debug!(error = %e, "pausing a partition read to the end of the range");
        }
        true
    }

    /// The end of a replay: waits (without a deadline, unless shut down or `failed`) until
    /// every conversation handed to the analysis pool has been produced and acknowledged.
    /// Commits nothing. Conversations still open are dropped (counted as handed back).
    fn finish_replay(&mut self, failed: bool) -> Result<(), PipelineError> {
        if failed {
            // The error is returned by the caller; what is done is delivered, within the deadline.
            settle(self.pool.jobs(), &self.producer, self.deadline());
            return Ok(());
        }
        while !self.pool.jobs().wait_idle(self.deadline()) {
            self.drain_inbox();
            if self.fatal.is_some() || self.shutdown.is_cancelled() {
                break;
            }
        }
        while self.producer.in_flight_count() > 0 && !self.shutdown.is_cancelled() {
            if let Err(e) = self.producer.flush(Timeout::After(self.deadline())) {
                tracing::info!(error = %e, in_flight = self.producer.in_flight_count(), "still delivering");
            }
        }
        settle(self.pool.jobs(), &self.producer, self.deadline());
        self.drain_inbox();
        match self.fatal.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Transactional mode, every `delivery.transaction_interval_ms` and at shutdown: commits
    /// the open transaction; on an abortable error aborts it and reads again from the last
    /// committed offsets.
    fn commit_transaction(&mut self, consumer: &TranscriptConsumer) -> Result<(), PipelineError> {
        match self.try_commit_transaction(consumer) {
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
                self.in_transaction = true;
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
        for e in committed.elements() {
            let lane = self.book.lane(e.topic(), e.partition());
            self.assembler.drop_lane(lane);
            if let Some(live) = self.live.as_mut() {
                live.forget_lane(lane);
            }
            self.book.assign(lane);
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

/// What the live step needs of a transcript event, taken before the assembler consumes it.
enum LiveView {
    Started {
        id: String,
        tenant: String,
        lang: Option<String>,
    },
    Segment {
        id: String,
        tenant: String,
        segment: crate::model::Segment,
        is_final: bool,
    },
}

impl LiveView {
    /// The view of a start or segment event; `None` for the others (an end or a complete
    /// transcript adds nothing live: its conversation is finalised).
    fn of(event: &crate::events::TranscriptEvent) -> Option<LiveView> {
        use crate::events::TranscriptPayload;
        let id = event.conversation_id.clone();
        let tenant = event.header.tenant_id.clone();
        match &event.payload {
            TranscriptPayload::Started(s) => Some(LiveView::Started {
                id,
                tenant,
                lang: s.language.clone(),
            }),
            TranscriptPayload::Segment(body) => Some(LiveView::Segment {
                id,
                tenant,
                is_final: body.is_final,
                segment: crate::ingest::assemble::segment_of(body.clone()),
            }),
            _ => None,
        }
    }
}

/// What the next owner of `lane` needs if it resumes at `committed`, as commit metadata
/// (see [`crate::ingest::replay`]). Conversations that do not fit Kafka's default metadata
/// limit are counted in `debrief_commit_metadata_dropped_total`: for those the replay falls
/// back to the replayed-tail rule.
fn commit_metadata(assembler: &Assembler, metrics: &Metrics, lane: Lane, committed: i64) -> String {
    let facts = assembler.replay_facts(lane, committed);
    let encoded = replay::encode(&facts, DEFAULT_MAX_METADATA_BYTES);
    if encoded.dropped > 0 {
        metrics
            .commit_metadata_dropped
            .inc_by(encoded.dropped as u64);
    }
    encoded.text
}

/// The partition's low and high watermarks as librdkafka last saw them in a fetch response
/// (no request; `rd_kafka_get_watermark_offsets`, which rust-rdkafka does not wrap). With
/// `isolation.level=read_committed` the high one is the last stable offset. `None` before the
/// first fetch.
fn cached_watermarks(
    consumer: &TranscriptConsumer,
    topic: &str,
    partition: i32,
) -> Option<(i64, i64)> {
    let topic = std::ffi::CString::new(topic).ok()?;
    let (mut low, mut high) = (-1i64, -1i64);
    // SAFETY: the client pointer is valid while `consumer` is; the call reads librdkafka's
    // cached offsets into the two locals and keeps no pointer.
    let err = unsafe {
        rdkafka::bindings::rd_kafka_get_watermark_offsets(
            consumer.client().native_ptr(),
            topic.as_ptr(),
            partition,
            &mut low,
            &mut high,
        )
    };
    (err == rdkafka::bindings::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR && high >= 0)
        .then_some((low, high))
}
