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
//! - **Offsets**: the consumer loop takes a [pending hold](super::offsets::OffsetBook::hold_pending)
//!   on the conversation's first offset before submitting; the worker takes a produced hold
//!   per record it sends and only then releases the pending one, so the offset book never
//!   lets a commit pass a conversation whose outputs are not acknowledged.
//! - **Shutdown and revocation**: [`JobQueue::wait_idle`] waits, up to a deadline, until
//!   every submitted job has been handed to the producer; the caller then flushes and
//!   commits. Jobs still running at the deadline keep their holds: their offsets are not
//!   committed, and the next owner replays them.

use super::analysis::analyse_timed;
use super::kafka::{lock, now_ms, Delivery, Produced, Producer};
use super::offsets::{Hold, Lane, OffsetBook};
use super::worker::send;
use super::PipelineError;
use crate::config::Config;
use crate::emit;
use crate::extract::{ExtractContext, TenantRuntime};
use crate::insight::FinalisedBy;
use crate::metrics::Metrics;
use crate::model::Conversation;
use crate::schema::Codec;
use chrono::{DateTime, FixedOffset};
use std::collections::{HashSet, VecDeque};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// One finalised conversation to analyse and produce.
#[derive(Debug)]
pub(crate) struct Job {
    /// The conversation, tenant sides already applied.
    pub conversation: Conversation,
    /// The tenant configuration in force when it was finalised.
    pub tenant: Option<Arc<TenantRuntime>>,
    /// What finalised it.
    pub finalised_by: FinalisedBy,
    /// When it ended (reference time for relative due dates).
    pub ended_at: Option<DateTime<FixedOffset>>,
    /// Segments dropped at the per-conversation limit.
    pub dropped_segments: u64,
    /// Source lane and first offset (what the produced holds protect).
    pub lane: Lane,
    /// First offset of the conversation on its lane.
    pub first_offset: i64,
    /// CRM topic of the insight; `None`: telemetry only (tenant without a CRM).
    pub insight_topic: Option<Arc<str>>,
    /// Start of the end-of-conversation-to-insight latency, ms since the epoch.
    pub from_ms: i64,
    /// The pending hold taken by the consumer loop, released once the records are sent.
    pub pending: Option<Hold>,
    /// When the consumer loop handed the job over (ms since the epoch), for the logs.
    pub submitted_ms: i64,
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
    pub codec: Arc<Codec>,
    pub metrics: Arc<Metrics>,
    pub book: Arc<Mutex<OffsetBook>>,
    pub producer: Producer,
    pub jobs: Arc<JobQueue>,
    /// Insights handed to the producer.
    pub insights_produced: AtomicU64,
    /// First failure of a worker (the pipeline stops on it).
    pub fatal: Mutex<Option<String>>,
}

impl Shared {
    fn set_fatal(&self, reason: String) {
        let mut f = self.fatal.lock().unwrap_or_else(|p| p.into_inner());
        f.get_or_insert(reason);
    }

    /// The first failure of a worker, if any.
    pub fn fatal(&self) -> Option<String> {
        self.fatal.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// The running workers.
pub(crate) struct Pool {
    threads: Vec<JoinHandle<()>>,
    shared: Arc<Shared>,
}

impl Pool {
    /// Starts `workers` threads (at least 1) taking jobs from `shared.jobs`.
    pub fn start(shared: Arc<Shared>, workers: usize) -> Result<Pool, PipelineError> {
        let mut threads = Vec::new();
        for i in 0..workers.max(1) {
            let mine = shared.clone();
            let thread = std::thread::Builder::new()
                .name(format!("debrief-analysis-{i}"))
                .spawn(move || {
                    while let Some(job) = mine.jobs.take() {
                        let id = job.conversation.id.clone();
                        let pending = job.pending;
                        let result = catch_unwind(AssertUnwindSafe(|| process(&mine, job)));
                        let failure = match result {
                            Ok(Ok(())) => None,
                            Ok(Err(e)) => Some(e),
                            Err(_) => Some(format!("the analysis of conversation {id} panicked")),
                        };
                        if let Some(reason) = failure {
                            // The pending hold stays: the conversation is never committed past.
                            tracing::error!(conversation = %id, reason = %reason, "analysis worker");
                            mine.set_fatal(reason);
                        } else if let Some(hold) = pending {
                            lock(&mine.book).release(hold);
                        }
                        mine.jobs.finish(&id);
                    }
                });
            match thread {
                Ok(t) => threads.push(t),
                Err(e) => {
                    shared.jobs.close();
                    return Err(PipelineError::Internal(format!(
                        "cannot start an analysis worker: {e}"
                    )));
                }
            }
        }
        Ok(Pool { threads, shared })
    }

    /// Number of workers.
    pub fn workers(&self) -> usize {
        self.threads.len()
    }

    /// Hands a job to the workers; blocks while the queue is full or the same conversation
    /// id is still being analysed.
    pub fn submit(&self, job: Job) -> Result<(), PipelineError> {
        if self.shared.jobs.push(job) {
            Ok(())
        } else {
            Err(PipelineError::Internal(
                "the analysis workers are stopped".into(),
            ))
        }
    }

    /// What the workers share (counters, the first failure).
    pub fn shared(&self) -> &Shared {
        &self.shared
    }

    /// Stops taking jobs, waits up to `timeout` for the queued ones, and joins the workers
    /// if they finished (otherwise leaves them to finish on their own: their holds keep the
    /// offsets back). `true` when every job finished.
    pub fn shutdown(self, timeout: Duration) -> bool {
        let Pool { threads, shared } = self;
        shared.jobs.close();
        let idle = shared.jobs.wait_idle(timeout);
        if idle {
            for t in threads {
                let _ = t.join();
            }
        } else {
            tracing::warn!(
                unfinished = shared.jobs.count(),
                "analysis workers did not finish within the deadline; their conversations are replayed by the next run"
            );
        }
        idle
    }
}

/// Analyses one conversation and produces its insight (when it has a CRM topic) and its
/// telemetry, each under a produced hold on the conversation's first offset.
fn process(shared: &Shared, job: Job) -> Result<(), String> {
    let started_ms = now_ms();
    let ctx = ExtractContext {
        settings: &shared.config.settings,
        tenant: job.tenant.as_deref(),
        finalised_by: job.finalised_by,
        reference_time: job.ended_at,
    };
    let (mut insight, timings) = analyse_timed(&job.conversation, &ctx);
    timings.observe(&shared.metrics);
    shared.metrics.count_redactions(&insight.redactions);
    emit::mark_segment_limit(&mut insight, job.dropped_segments);
    let conv = &job.conversation;
    if let Some(topic) = &job.insight_topic {
        let bytes = shared
            .codec
            .encode(topic, &insight)
            .map_err(|e| format!("encoding the insight of conversation {}: {e}", conv.id))?;
        let hold = lock(&shared.book).hold(job.lane, job.first_offset);
        let what = Produced::Insight {
            topic: topic.clone(),
            finalised_at_ms: job.from_ms,
        };
        send(
            &shared.producer,
            topic,
            Some(conv.id.as_bytes()),
            &bytes,
            None,
            Box::new(Delivery { hold, what }),
        )
        .map_err(|e| e.to_string())?;
        shared.insights_produced.fetch_add(1, Ordering::Relaxed);
    }
    let now = now_ms();
    let telemetry = emit::insight_telemetry(
        &insight,
        timings.total.as_micros() as i64,
        Some((now - job.from_ms).max(0)),
        now,
    );
    let topic = &shared.config.kafka.topics.telemetry;
    let bytes = shared
        .codec
        .encode(topic, &telemetry)
        .map_err(|e| format!("encoding the telemetry of conversation {}: {e}", conv.id))?;
    let hold = lock(&shared.book).hold(job.lane, job.first_offset);
    send(
        &shared.producer,
        topic,
        Some(conv.tenant_id.as_bytes()),
        &bytes,
        None,
        Box::new(Delivery {
            hold,
            what: Produced::Telemetry,
        }),
    )
    .map_err(|e| e.to_string())?;
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

    fn job(id: &str) -> Job {
        Job {
            conversation: Conversation {
                id: id.into(),
                ..Conversation::default()
            },
            tenant: None,
            finalised_by: FinalisedBy::EndEvent,
            ended_at: None,
            dropped_segments: 0,
            lane: 0,
            first_offset: 0,
            insight_topic: None,
            from_ms: 0,
            pending: None,
            submitted_ms: 0,
        }
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
        let q2 = q.clone();
        let submitter = std::thread::spawn(move || q2.push(job("b")));
        // The submitter can only finish once "a" leaves the queue.
        let a = q.take().unwrap();
        assert_eq!(a.conversation.id, "a");
        assert!(submitter.join().unwrap());
        assert_eq!(q.take().unwrap().conversation.id, "b");
        q.finish("a");
        q.finish("b");
        assert!(q.wait_idle(HOUR));
    }

    #[test]
    fn a_second_job_of_one_conversation_waits_for_the_first_to_finish() {
        let q = Arc::new(JobQueue::new(8));
        assert!(q.push(job("same")));
        let first = q.take().unwrap();
        assert!(q.lock().must_wait("same"), "the first one is running");
        assert!(!q.lock().must_wait("other"));
        let q2 = q.clone();
        let submitter = std::thread::spawn(move || q2.push(job("same")));
        q.finish(&first.conversation.id);
        assert!(submitter.join().unwrap());
        assert_eq!(q.take().unwrap().conversation.id, "same");
        q.finish("same");
        assert!(q.wait_idle(HOUR));
    }

    #[test]
    fn closing_wakes_a_blocked_submitter() {
        let q = Arc::new(JobQueue::new(1));
        assert!(q.push(job("a")));
        let q2 = q.clone();
        let submitter = std::thread::spawn(move || q2.push(job("b")));
        q.close();
        assert!(!submitter.join().unwrap(), "the job is refused, not queued");
        assert_eq!(
            q.take().unwrap().conversation.id,
            "a",
            "waiting jobs still run"
        );
    }
}
