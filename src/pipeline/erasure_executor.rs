//! The erasure executor: performs each erasure request's cascade once, and records every
//! step on the erasure ledger (see [`crate::governance::erasure`] for the steps and their
//! order).
//!
//! - **Who runs a request.** Every `debrief run` instance starts an executor; they share the
//!   erasure topic through a consumer group of their own (`<group_id>.erasure`), so each
//!   request is executed by the one instance that owns its partition. Its offset is
//!   committed only after the request's `completed` record is acknowledged.
//! - **What it knows.** The executor follows the whole conversation-index topic (no group)
//!   into an [`IndexView`], catching up to the topic's end before it plans each request, and
//!   reads the ledger once at start.
//! - **Crash and resume.** After a crash (kill -9) the request is read again (its offset was
//!   not committed); the ledger tells which steps are done, and the executor runs the rest.
//!   Every step is idempotent (a tombstone twice is one tombstone), and CRM tombstones come
//!   before index tombstones, so a restart that finds the index entries gone knows the CRM
//!   keys were tombstoned.
//! - **Retention sweeps.** The executor that owns partition 0 of the erasure topic also runs
//!   the retention sweep ([`super::retention_sweep`]) at start and every hour (five minutes
//!   after a failed one), between two requests, so that a sweep's rewrite never runs beside
//!   this instance's erasures; a request waits while a sweep runs (seconds: the sweep reads
//!   the index and the CRM topics it rewrites whole).

use super::follow::Follower;
use super::kafka::{base_config, now_ms, side_producer};
use super::retention_sweep::{Sweep, SWEEP_INTERVAL, SWEEP_RETRY};
use super::PipelineError;
use crate::config::Config;
use crate::events::ErasureRequest;
use crate::governance::audit::{self, AuditRecord};
use crate::governance::erasure::{self, ledger_entry, next_step, steps_done};
use crate::governance::{
    ConversationIndexEntry, ErasureLedgerEntry, IndexView, LedgerOffset, LedgerStep, Scope,
};
use crate::metrics::Metrics;
use crate::schema::{Codec, ContractRecord, Encoding};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::producer::{FutureProducer, FutureRecord};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Test hook: after recording the ledger step named by this variable, the process aborts
/// (as a kill -9 would stop it), so that a test can check the resumption.
pub const CRASH_AFTER_STEP_ENV: &str = "DEBRIEF_TEST_ERASURE_CRASH_AFTER";

/// Longest wait for the index or the ledger to be read to its end.
const CATCH_UP: Duration = Duration::from_secs(60);

/// Longest wait for one produced record's acknowledgement.
const SEND_WAIT: Duration = Duration::from_secs(30);

/// Tombstones sent before their acknowledgements are awaited.
const BATCH: usize = 1000;

/// The executor's settings and handles.
pub(crate) struct ErasureExecutor {
    pub config: Arc<Config>,
    pub codec: Arc<Codec>,
    pub metrics: Arc<Metrics>,
    pub shutdown: CancellationToken,
    pub runtime: tokio::runtime::Handle,
}

/// `true` when this instance's executor owns partition 0 of the erasure topic: the one
/// instance that runs the retention sweep.
fn sweeps_here(requests: &BaseConsumer, erasure_topic: &str) -> bool {
    requests.assignment().is_ok_and(|a| {
        a.elements_for_topic(erasure_topic)
            .iter()
            .any(|e| e.partition() == 0)
    })
}

/// What the executor keeps while it runs.
struct State {
    view: IndexView,
    /// Ledger records per request id.
    ledger: BTreeMap<String, Vec<ErasureLedgerEntry>>,
    /// Requests received and not completed: request id → requested at (ms).
    incomplete: BTreeMap<String, i64>,
}

impl State {
    fn take_ledger(&mut self, entry: ErasureLedgerEntry) {
        if entry.step == LedgerStep::Completed.name() {
            self.incomplete.remove(&entry.request_id);
        } else if !self
            .ledger
            .get(&entry.request_id)
            .is_some_and(|r| r.iter().any(|e| e.step == LedgerStep::Completed.name()))
        {
            self.incomplete
                .insert(entry.request_id.clone(), entry.requested_at_ms);
        }
        self.ledger
            .entry(entry.request_id.clone())
            .or_default()
            .push(entry);
    }
}

impl ErasureExecutor {
    /// Runs until shutdown.
    pub fn run(self) -> Result<(), PipelineError> {
        let topics = &self.config.kafka.topics;
        let producer = side_producer(&self.config, "creating the erasure producer")?;
        let mut index = Follower::open(
            &self.config,
            "index",
            &topics.conversation_index,
            "creating the index follower",
        )?;
        let mut ledger = Follower::open(
            &self.config,
            "ledger",
            &topics.erasure_ledger,
            "creating the ledger reader",
        )?;
        let mut state = State {
            view: IndexView::default(),
            ledger: BTreeMap::new(),
            incomplete: BTreeMap::new(),
        };
        let mut read_ledger = Vec::new();
        while !ledger.catch_up(CATCH_UP, |m| {
            if let Some(e) = self.decode::<ErasureLedgerEntry>(m) {
                read_ledger.push(e);
            }
        })? {
            if self.shutdown.is_cancelled() {
                return Ok(());
            }
            tracing::warn!("erasure ledger not read to its end; trying again");
            std::thread::sleep(Duration::from_secs(1));
        }
        for e in read_ledger {
            state.take_ledger(e);
        }
        drop(ledger);
        let requests: BaseConsumer = {
            let mut c = base_config(&self.config);
            c.set(
                "group.id",
                format!("{}.erasure", self.config.kafka.group_id),
            );
            c.set("enable.auto.commit", "false");
            c.set("auto.offset.reset", "earliest");
            c.set("isolation.level", "read_committed");
            c.create()
                .map_err(|e| PipelineError::kafka("creating the erasure consumer", e))?
        };
        requests
            .subscribe(&[topics.erasure.as_str()])
            .map_err(|e| PipelineError::kafka("subscribing to the erasure topic", e))?;
        tracing::info!(topic = %topics.erasure, known = state.ledger.len(), "erasure executor started");
        let mut next_sweep = std::time::Instant::now();
        while !self.shutdown.is_cancelled() {
            self.update_age(&state);
            if std::time::Instant::now() >= next_sweep && sweeps_here(&requests, &topics.erasure) {
                let wait = if self.sweep() {
                    SWEEP_INTERVAL
                } else {
                    SWEEP_RETRY
                };
                next_sweep = std::time::Instant::now() + wait;
            }
            let msg = match requests.poll(Duration::from_millis(200)) {
                Some(Ok(m)) => m,
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "erasure consumer");
                    continue;
                }
                None => continue,
            };
            match self.decode::<ErasureRequest>(&msg) {
                Some(request) => {
                    let mut index_catch_up = |view: &mut IndexView| {
                        index.catch_up(CATCH_UP, |m| {
                            let key = m.key().map(String::from_utf8_lossy).unwrap_or_default();
                            let entry = match m.payload() {
                                None => None,
                                // Erasure does not need the suggestions (about 2 KB per
                                // conversation of ten in memory).
                                Some(_) => self.decode::<ConversationIndexEntry>(m).map(|mut e| {
                                    e.suggestions = Vec::new();
                                    e
                                }),
                            };
                            view.apply(&key, entry);
                        })
                    };
                    // The request waits (uncommitted) until the index is read to its end.
                    while !index_catch_up(&mut state.view)? {
                        if self.shutdown.is_cancelled() {
                            return Ok(());
                        }
                        tracing::warn!("conversation index not read to its end; trying again");
                        std::thread::sleep(Duration::from_secs(1));
                    }
                    self.execute(&producer, &mut state, &request)?;
                }
                None => tracing::warn!(
                    partition = msg.partition(),
                    offset = msg.offset(),
                    "erasure request not readable; skipped"
                ),
            }
            // A failed commit only means the request is read again: the ledger then shows it
            // completed and it is skipped.
            if let Err(e) = requests.commit_message(&msg, CommitMode::Sync) {
                tracing::warn!(error = %e, "committing an erasure request; it will be read again");
            }
        }
        Ok(())
    }

    /// Runs one retention sweep at the wall clock's time; `false` when it failed (logged and
    /// counted; tried again after [`SWEEP_RETRY`]).
    fn sweep(&self) -> bool {
        let sweep = Sweep {
            config: &self.config,
            codec: &self.codec,
            metrics: Some(&self.metrics),
            actor: "retention-sweep",
            runtime: &self.runtime,
        };
        match sweep.run(now_ms()) {
            Ok(_) => true,
            Err(e) => {
                tracing::warn!(error = %e, "retention sweep failed; trying again in a few minutes");
                false
            }
        }
    }

    /// Decodes a record of ours; `None` (logged, without its content) when it does not
    /// decode or has no value.
    fn decode<T: ContractRecord>(&self, m: &BorrowedMessage<'_>) -> Option<T> {
        let value = m.payload()?;
        if self.codec.encoding() == Encoding::Confluent {
            let _ = self.runtime.block_on(self.codec.decode_async::<T>(value));
        }
        match self.codec.decode::<T>(value) {
            Ok(v) => Some(v),
            Err(e) => {
                tracing::warn!(topic = m.topic(), partition = m.partition(), offset = m.offset(), error = %e, "record not decodable");
                None
            }
        }
    }

    fn update_age(&self, state: &State) {
        let age = state
            .incomplete
            .values()
            .min()
            .map(|&t| ((now_ms() - t) / 1000).max(0))
            .unwrap_or(0);
        self.metrics.erasure_oldest_incomplete_age.set(age);
    }

    /// Runs the steps of `request` the ledger does not show done.
    fn execute(
        &self,
        producer: &FutureProducer,
        state: &mut State,
        request: &ErasureRequest,
    ) -> Result<(), PipelineError> {
        let records = state
            .ledger
            .get(&request.request_id)
            .cloned()
            .unwrap_or_default();
        let done = steps_done(&records);
        if next_step(&done).is_none() {
            tracing::info!(request = %request.request_id, "erasure request already completed");
            return Ok(());
        }
        let entries = state.view.matching(
            &request.tenant_id,
            request.conversation_id.as_deref(),
            request.participant_id.as_deref(),
        );
        let plan = erasure::plan(&entries);
        // Conversations in scope: as received (a resumed request may find fewer in the index).
        let in_scope = records
            .iter()
            .find(|r| r.step == LedgerStep::Received.name())
            .map(|r| r.count)
            .unwrap_or(plan.index.len() as i64);
        tracing::info!(
            request = %request.request_id,
            tenant = %request.tenant_id,
            scope = Scope::of(request).name(),
            conversations = in_scope,
            resumed = !done.is_empty(),
            "erasure request"
        );
        for step in LedgerStep::ALL {
            if done.contains(&step) {
                continue;
            }
            let (count, offsets) = match step {
                LedgerStep::Received | LedgerStep::TelemetryUnlinked | LedgerStep::Completed => {
                    (in_scope, Vec::new())
                }
                LedgerStep::CrmTombstoned => {
                    let keys: Vec<(&str, &str)> = plan
                        .crm
                        .iter()
                        .map(|o| (o.topic.as_str(), o.key.as_str()))
                        .collect();
                    self.tombstones(producer, &keys)?
                }
                LedgerStep::IndexRemoved => {
                    let topic = self.config.kafka.topics.conversation_index.as_str();
                    let keys: Vec<(&str, &str)> =
                        plan.index.iter().map(|k| (topic, k.as_str())).collect();
                    let written = self.tombstones(producer, &keys)?;
                    for k in &plan.index {
                        state.view.apply(k, None);
                    }
                    written
                }
            };
            let entry = ledger_entry(request, step, count, offsets, now_ms());
            self.record(producer, &entry)?;
            match step {
                LedgerStep::Received => {
                    self.audit(producer, &audit::erasure(request, false, count, now_ms()))?
                }
                LedgerStep::Completed => {
                    self.audit(producer, &audit::erasure(request, true, count, now_ms()))?
                }
                _ => {}
            }
            state.take_ledger(entry);
            self.metrics
                .erasure_steps
                .with_label_values(&[step.name()])
                .inc();
            if std::env::var(CRASH_AFTER_STEP_ENV).is_ok_and(|s| s == step.name()) {
                tracing::error!(step = step.name(), "test hook: aborting mid-erasure");
                std::process::abort();
            }
        }
        Ok(())
    }

    /// Sends a tombstone to every (topic, key) and waits for all acknowledgements: how many,
    /// and the highest offset per partition.
    fn tombstones(
        &self,
        producer: &FutureProducer,
        keys: &[(&str, &str)],
    ) -> Result<(i64, Vec<LedgerOffset>), PipelineError> {
        let mut highest: BTreeMap<(String, i32), i64> = BTreeMap::new();
        for batch in keys.chunks(BATCH) {
            let sends = batch.iter().map(|(topic, key)| {
                producer.send(
                    FutureRecord::<str, [u8]>::to(topic).key(key),
                    rdkafka::util::Timeout::After(SEND_WAIT),
                )
            });
            let results = self.runtime.block_on(futures::future::join_all(sends));
            for (r, (topic, _)) in results.into_iter().zip(batch) {
                let d = r.map_err(|(e, _)| PipelineError::Delivery {
                    topic: topic.to_string(),
                    source: e,
                })?;
                let o = highest
                    .entry((topic.to_string(), d.partition))
                    .or_insert(d.offset);
                *o = (*o).max(d.offset);
            }
        }
        let offsets = highest
            .into_iter()
            .map(|((topic, partition), offset)| LedgerOffset {
                topic,
                partition,
                offset,
            })
            .collect();
        Ok((keys.len() as i64, offsets))
    }

    /// Writes one ledger record and waits for its acknowledgement.
    fn record(
        &self,
        producer: &FutureProducer,
        entry: &ErasureLedgerEntry,
    ) -> Result<(), PipelineError> {
        let topic = &self.config.kafka.topics.erasure_ledger;
        self.send(producer, topic, &entry.request_id, entry)
    }

    /// Writes one audit record and waits for its acknowledgement.
    fn audit(&self, producer: &FutureProducer, record: &AuditRecord) -> Result<(), PipelineError> {
        let topic = &self.config.kafka.topics.audit;
        self.send(producer, topic, &record.action_id, record)
    }

    fn send<T: ContractRecord>(
        &self,
        producer: &FutureProducer,
        topic: &str,
        key: &str,
        value: &T,
    ) -> Result<(), PipelineError> {
        let payload = self.codec.encode(topic, value)?;
        let send = producer.send(
            FutureRecord::to(topic)
                .key(key.as_bytes())
                .payload(&payload),
            rdkafka::util::Timeout::After(SEND_WAIT),
        );
        self.runtime
            .block_on(send)
            .map_err(|(e, _)| PipelineError::Delivery {
                topic: topic.to_string(),
                source: e,
            })?;
        Ok(())
    }
}
