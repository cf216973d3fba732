//! The analysis workers: a few OS threads that analyse finalised conversations, encode their
//! insight and telemetry and hand them to the producer, off the consumer loop.
//!
//! - **Bounded**: the workers share one queue of `workers × analysis.queue_per_worker` jobs;
//!   when it is full, [`Pool::submit`] blocks the consumer loop, which stops polling
//!   (back-pressure instead of unbounded memory). The first idle worker takes the oldest job,
//!   so a long conversation delays only itself.
//! - **Deterministic**: a conversation's insight depends only on the conversation, the tenant
//!   configuration in force when it was finalised (captured in the [`Job`]) and the settings,
//!   never on which worker ran it or when. Two finalisations of one conversation id are never
//!   in the pool together ([`Pool::submit`] waits for the first to be produced), so they are
//!   produced in order.
//! - **Offsets**: the consumer loop, which owns the offset book, takes the holds before it
//!   submits: a pending hold on the conversation's first offset (released when the worker
//!   reports [`LoopMessage::Produced`]) and one produced hold per record the worker will
//!   send (released by the delivery callback's acknowledgement). Workers never touch the
//!   book: the holds travel in the [`Job`] and in the records' delivery opaques, and a
//!   failure travels back as [`LoopMessage::Fatal`], so a commit never passes a conversation
//!   whose outputs are not acknowledged.
//! - **Shutdown and revocation**: [`JobQueue::wait_idle`] waits, up to a deadline, until
//!   every submitted job has been handed to the producer; the caller then flushes and
//!   commits. Jobs still running at the deadline keep their holds: their offsets are not
//!   committed, and the next owner replays them.

use super::inbox::{spawn_task, Inbox, LoopMessage};
use super::kafka::now_ms;
use super::offsets::Hold;
use super::steps::analyse::{Analyse, Job};
use super::steps::crm::{CrmStep, CrmStepError};
use super::steps::encode::{Encode, Record};
use super::steps::produce::{produce, Delivery, Produced, Producer};
use super::PipelineError;
use crate::config::Config;
use crate::emit;
use crate::governance::{index, pseudonym, OutputRef};
use crate::metrics::Metrics;
use crate::schema::SchemaError;
use rdkafka::error::KafkaError;
use std::collections::{HashSet, VecDeque};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use thiserror::Error;
use tokio_util::sync::CancellationToken;

/// Why a conversation's records could not be handed to the producer (the service stops:
/// its offsets are never committed).
#[derive(Debug, Error)]
pub enum AnalysisError {
    /// A record could not be encoded.
    #[error("encoding its {record}: {source}")]
    Encode {
        /// `insight`, `conversation index entry` or `telemetry`.
        record: &'static str,
        /// The codec's error.
        source: SchemaError,
    },
    /// The producer refused a record.
    #[error("producing to {topic}: {source}")]
    Produce {
        /// The topic.
        topic: String,
        /// The client's error.
        source: KafkaError,
    },
    /// The operating system gave no randomness for the telemetry key.
    #[error("no randomness for its telemetry key")]
    Randomness,
    /// Its CRM records could not be handed to the producer.
    #[error("its CRM records: {0}")]
    Crm(#[from] CrmStepError),
    /// The analysis panicked (a bug).
    #[error("its analysis panicked")]
    Panicked,
}

/// The jobs waiting and running, shared by the consumer loop (which submits and waits for
/// idleness), the workers (which take and finish jobs) and the rebalance callback (which waits
/// for idleness before committing).
#[derive(Debug, Default)]
pub(crate) struct JobQueue {
    state: Mutex<QueueState>,
    changed: Condvar,
}

#[derive(Debug, Default)]
struct QueueState {
    waiting: VecDeque<Job>,
    /// Ids of the conversations waiting or running.
    active: HashSet<String>,
    running: usize,
    capacity: usize,
    closed: bool,
}

impl QueueState {
    /// `true` when a job of conversation `id` must wait before it is queued: the queue is
    /// full, or a job of the same conversation is waiting or running.
    fn must_wait(&self, id: &str) -> bool {
        !self.closed && (self.waiting.len() >= self.capacity || self.active.contains(id))
    }
}

impl JobQueue {
    /// An empty queue holding at most `capacity` waiting jobs (at least 1).
    pub fn new(capacity: usize) -> JobQueue {
        JobQueue {
            state: Mutex::new(QueueState {
                capacity: capacity.max(1),
                ..QueueState::default()
            }),
            changed: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, QueueState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn wait<'a>(&self, guard: MutexGuard<'a, QueueState>) -> MutexGuard<'a, QueueState> {
        self.changed.wait(guard).unwrap_or_else(|p| p.into_inner())
    }

    /// Adds a job; blocks while the queue is full or a job of the same conversation id is
    /// waiting or running. `false` when the queue is closed (the job is dropped).
    fn push(&self, job: Job) -> bool {
        let mut st = self.lock();
        while st.must_wait(&job.conversation.id) {
            st = self.wait(st);
        }
        if st.closed {
            return false;
        }
        st.active.insert(job.conversation.id.clone());
        st.waiting.push_back(job);
        self.changed.notify_all();
        true
    }

    /// The oldest waiting job (blocks while there is none); `None` once the queue is closed
    /// and empty.
    fn take(&self) -> Option<Job> {
        let mut st = self.lock();
        loop {
            if let Some(job) = st.waiting.pop_front() {
                st.running += 1;
                self.changed.notify_all();
                return Some(job);
            }
            if st.closed {
                return None;
            }
            st = self.wait(st);
        }
    }

    /// A job taken by [`take`](JobQueue::take) is finished.
    fn finish(&self, id: &str) {
        let mut st = self.lock();
        st.running = st.running.saturating_sub(1);
        st.active.remove(id);
        self.changed.notify_all();
    }

    /// No more jobs: workers stop once the waiting ones are done.
    fn close(&self) {
        self.lock().closed = true;
        self.changed.notify_all();
    }

    /// Jobs waiting or running.
    pub fn count(&self) -> usize {
        let st = self.lock();
        st.waiting.len() + st.running
    }

    /// Waits until no job is waiting or running, or `timeout` passes; `true` when idle. Only
    /// the consumer loop submits, so once it waits here (itself, or in a rebalance callback
    /// it runs) no new job can arrive.
    pub fn wait_idle(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut st = self.lock();
        while !st.waiting.is_empty() || st.running > 0 {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            st = match self.changed.wait_timeout(st, deadline - now) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
        true
    }
}

/// What the workers share.
pub(crate) struct Shared {
    pub config: Arc<Config>,
    /// The analyse step.
    pub analyse: Analyse,
    /// The encode step.
    pub encode: Encode,
    /// The CRM records step.
    pub crm: CrmStep,
    pub metrics: Arc<Metrics>,
    pub producer: Producer,
    pub jobs: Arc<JobQueue>,
    /// Where the workers report to the consumer loop.
    pub inbox: Inbox,
}

/// The analysis pool: a few threads that analyse finalised conversations and hand their
/// records to the producer.
pub(crate) struct AnalysisPool {
    threads: Vec<JoinHandle<()>>,
    jobs: Arc<JobQueue>,
}

impl AnalysisPool {
    /// Starts `workers` threads (at least 1) taking jobs from `shared.jobs`. Each runs under
    /// the [`spawn_task`] guard: a worker thread that ends before `shutdown` stops the
    /// service.
    pub fn start(
        shared: Arc<Shared>,
        workers: usize,
        shutdown: CancellationToken,
    ) -> Result<AnalysisPool, PipelineError> {
        let mut threads = Vec::new();
        let jobs = shared.jobs.clone();
        for i in 0..workers.max(1) {
            let mine = shared.clone();
            // A worker leaves its loop when the queue is closed, once the consumer loop has
            // stopped; a panic outside a job stops the service.
            let thread = spawn_task(
                "analysis pool",
                &format!("debrief-analysis-{i}"),
                shared.inbox.clone(),
                shutdown.clone(),
                move || {
                    while let Some(job) = mine.jobs.take() {
                        work(&mine, job);
                    }
                    Ok(())
                },
            );
            match thread {
                Ok(t) => threads.push(t),
                Err(e) => {
                    shared.jobs.close();
                    return Err(e);
                }
            }
        }
        Ok(AnalysisPool { threads, jobs })
    }

    /// Number of workers.
    pub fn workers(&self) -> usize {
        self.threads.len()
    }

    /// Hands a job to the workers; blocks while the queue is full or the same conversation
    /// id is still being analysed.
    pub fn submit(&self, job: Job) -> Result<(), PipelineError> {
        if self.jobs.push(job) {
            Ok(())
        } else {
            Err(PipelineError::PoolStopped)
        }
    }

    /// The queue of jobs waiting and running.
    pub fn jobs(&self) -> &JobQueue {
        &self.jobs
    }

    /// Stops taking jobs, waits up to `timeout` for the queued ones, and joins the workers
    /// if they finished (otherwise leaves them to finish on their own: their holds keep the
    /// offsets back). `true` when every job finished.
    pub fn shutdown(&mut self, timeout: Duration) -> bool {
        self.jobs.close();
        let idle = self.jobs.wait_idle(timeout);
        if idle {
            for t in self.threads.drain(..) {
                let _ = t.join();
            }
        } else {
            tracing::warn!(
                unfinished = self.jobs.count(),
                "analysis workers did not finish within the deadline; their conversations are replayed by the next run"
            );
        }
        idle
    }
}

/// Runs one job and reports to the consumer loop: [`LoopMessage::Produced`] when its records
/// are with the producer, [`LoopMessage::Fatal`] otherwise (its pending hold then stays).
fn work(shared: &Shared, job: Job) {
    let id = job.conversation.id.clone();
    let pending = job.pending;
    let insight = job.insight_topic.is_some();
    let result = catch_unwind(AssertUnwindSafe(|| analyse_and_produce(shared, job)))
        .unwrap_or(Err(AnalysisError::Panicked));
    let message = match result {
        Ok(()) => LoopMessage::Produced { pending, insight },
        Err(source) => {
            tracing::error!(conversation = %id, reason = %source, "analysis worker");
            LoopMessage::Fatal(PipelineError::Analysis {
                conversation: id.clone(),
                source: Box::new(source),
            })
        }
    };
    // Reported before the job is finished, so that once the queue is idle every report is
    // in the inbox. The loop may be gone after a fatal error: nothing to tell then.
    let _ = shared.inbox.send(message);
    shared.jobs.finish(&id);
}

/// Hands one encoded record (`name`: `insight` or `telemetry`) to the producer with its
/// hold.
fn send(
    shared: &Shared,
    record: Result<Record<'_>, SchemaError>,
    name: &'static str,
    hold: Option<Hold>,
    what: Produced,
) -> Result<(), AnalysisError> {
    let record = record.map_err(|source| AnalysisError::Encode {
        record: name,
        source,
    })?;
    let topic = record.topic;
    produce(&shared.producer, record, Box::new(Delivery { hold, what })).map_err(|source| {
        AnalysisError::Produce {
            topic: topic.to_string(),
            source,
        }
    })
}

/// Analyses one conversation and produces its insight (when it has a CRM topic), its CRM
/// records (when the job has them), its conversation-index entry and its telemetry (with the
/// pseudonymous conversation id), each with the produced hold the consumer loop took for it
/// (one hold for all the CRM records).
fn analyse_and_produce(shared: &Shared, mut job: Job) -> Result<(), AnalysisError> {
    let started_ms = now_ms();
    let crm = job.crm.take();
    let (insight, timings) = shared.analyse.run(&job);
    timings.observe(&shared.metrics);
    shared.metrics.count_redactions(&insight.redactions);
    let conv = &job.conversation;
    if let Some(topic) = &job.insight_topic {
        let what = Produced::Insight {
            topic: topic.clone(),
            finalised_at_ms: job.from_ms,
        };
        let record = shared.encode.insight(topic, &insight);
        send(shared, record, "insight", job.insight_hold, what)?;
    }
    let mut crm_written = Vec::new();
    if let Some(crm) = crm {
        let (hold, written) = shared.crm.run(&shared.producer, &insight, crm, now_ms())?;
        if let Some(hold) = hold {
            // Nothing produced: nothing to acknowledge.
            let _ = shared.inbox.send(LoopMessage::Acknowledged(hold));
        }
        crm_written = written;
    }
    // The conversation index entry, after the insight: it lists the CRM key written and holds
    // the random key of the pseudonym its telemetry carries (see `governance::pseudonym`).
    let key = pseudonym::new_key().ok_or(AnalysisError::Randomness)?;
    let mut entry = index::entry(
        conv,
        &insight,
        job.insight_topic.as_deref(),
        job.from_ms,
        &key,
    );
    index::add_outputs(&mut entry, crm_written);
    // A tenant with alert rules may have written alerts for this conversation while it ran
    // (rules run in the live step): the entry lists their key, so that an erasure tombstones
    // it too. Without the live step no alert exists and the topic may not either.
    if shared.config.live.enabled && job.tenant.as_ref().is_some_and(|t| !t.rules.is_empty()) {
        let alerts = OutputRef {
            topic: shared.config.kafka.topics.alerts.clone(),
            key: conv.id.clone(),
        };
        index::add_outputs(&mut entry, vec![alerts]);
    }
    let index_topic = &shared.config.kafka.topics.conversation_index;
    let record = shared.encode.index_entry(index_topic, &entry);
    send(
        shared,
        record,
        "conversation index entry",
        job.index_hold,
        Produced::Index,
    )?;
    let now = now_ms();
    let mut telemetry = emit::insight_telemetry(
        &insight,
        timings.total.as_micros() as i64,
        Some((now - job.from_ms).max(0)),
        now,
    );
    telemetry.conversation_id = entry.telemetry_pseudonym.clone();
    let record = shared
        .encode
        .telemetry(&shared.config.kafka.topics.telemetry, &telemetry);
    send(
        shared,
        record,
        "telemetry",
        job.telemetry_hold,
        Produced::Telemetry,
    )?;
    // Where the end-of-conversation-to-insight time went: the consumer reaching the
    // finalising record, the wait for a worker, the analysis.
    tracing::debug!(
        conversation = %conv.id,
        tenant = %conv.tenant_id,
        segments = conv.segments.len(),
        consumer_ms = job.submitted_ms - job.from_ms,
        queued_ms = started_ms - job.submitted_ms,
        analyse_us = timings.total.as_micros() as u64,
        total_ms = now_ms() - job.from_ms,
        "insight produced"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::steps::analyse::tests::job;

    /// Finishes the jobs taken of these conversations; the queue must then be idle.
    fn finish_all(q: &JobQueue, ids: &[&str]) {
        for id in ids {
            q.finish(id);
        }
        assert!(q.wait_idle(HOUR));
    }

    /// Pushes a job of conversation `id` from another thread (it may block).
    fn push_from_another_thread(q: &Arc<JobQueue>, id: &'static str) -> JoinHandle<bool> {
        let q = q.clone();
        std::thread::spawn(move || q.push(job(id)))
    }

    // The hour-long timeouts below only turn a bug into a failure instead of a hang; no
    // assertion depends on how fast another thread runs.
    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn jobs_are_taken_oldest_first_and_idleness_waits_for_running_ones() {
        let q = JobQueue::new(4);
        assert!(q.wait_idle(Duration::ZERO), "idle at start");
        assert!(q.push(job("a")));
        assert!(q.push(job("b")));
        assert_eq!(q.count(), 2);
        let a = q.take().unwrap();
        assert_eq!(a.conversation.id, "a");
        assert_eq!(q.count(), 2, "one waiting, one running");
        let b = q.take().unwrap();
        assert_eq!(b.conversation.id, "b");
        assert!(!q.wait_idle(Duration::from_millis(1)), "two jobs running");
        q.finish("a");
        q.finish("b");
        assert!(q.wait_idle(Duration::ZERO));
        q.close();
        assert!(q.take().is_none(), "closed and empty");
        assert!(!q.push(job("c")), "closed");
    }

    #[test]
    fn a_full_queue_blocks_the_submitter_until_a_worker_takes_a_job() {
        let q = Arc::new(JobQueue::new(1));
        assert!(q.push(job("a")));
        let submitter = push_from_another_thread(&q, "b");
        // The submitter can only finish once "a" leaves the queue.
        let a = q.take().unwrap();
        assert_eq!(a.conversation.id, "a");
        assert!(submitter.join().unwrap());
        assert_eq!(q.take().unwrap().conversation.id, "b");
        finish_all(&q, &["a", "b"]);
    }

    #[test]
    fn a_second_job_of_one_conversation_waits_for_the_first_to_finish() {
        let q = Arc::new(JobQueue::new(8));
        assert!(q.push(job("same")));
        let first = q.take().unwrap();
        assert!(q.lock().must_wait("same"), "the first one is running");
        assert!(!q.lock().must_wait("other"));
        let submitter = push_from_another_thread(&q, "same");
        q.finish(&first.conversation.id);
        assert!(submitter.join().unwrap());
        assert_eq!(q.take().unwrap().conversation.id, "same");
        finish_all(&q, &["same"]);
    }

    #[test]
    fn closing_wakes_a_blocked_submitter() {
        let q = Arc::new(JobQueue::new(1));
        assert!(q.push(job("a")));
        let submitter = push_from_another_thread(&q, "b");
        q.close();
        assert!(!submitter.join().unwrap(), "the job is refused, not queued");
        assert_eq!(
            q.take().unwrap().conversation.id,
            "a",
            "waiting jobs still run"
        );
    }
}
