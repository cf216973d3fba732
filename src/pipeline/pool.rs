//! The analysis workers: a few OS threads that analyse finalised conversations, encode their
//! insight and telemetry and hand them to the producer, off the consumer loop.
//!
//! - **Bounded**: each worker has a queue of `analysis.queue_per_worker` jobs; when it is
//!   full, [`Pool::submit`] blocks the consumer loop, which stops polling (back-pressure
//!   instead of unbounded memory).
//! - **Deterministic**: a conversation's insight depends only on the conversation, the tenant
//!   configuration in force when it was finalised (captured in the [`Job`]) and the settings,
//!   never on which worker ran it or when. Jobs are routed to a worker by a hash of the
//!   conversation id, so two finalisations of one conversation are produced in order.
//! - **Offsets**: the consumer loop takes a [pending hold](super::offsets::OffsetBook::hold_pending)
//!   on the conversation's first offset before submitting; the worker takes a produced hold
//!   per record it sends and only then releases the pending one, so the offset book never
//!   lets a commit pass a conversation whose outputs are not acknowledged.
//! - **Shutdown and revocation**: [`Outstanding::wait_idle`] waits, up to a deadline, until
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
use std::hash::{Hash, Hasher};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender};
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
}

/// Jobs submitted and not finished, with a condition variable to wait for zero.
#[derive(Debug, Default)]
pub(crate) struct Outstanding {
    count: Mutex<usize>,
    idle: Condvar,
}

impl Outstanding {
    fn lock(&self) -> MutexGuard<'_, usize> {
        self.count.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn add(&self) {
        *self.lock() += 1;
    }

    fn done(&self) {
        let mut n = self.lock();
        *n = n.saturating_sub(1);
        if *n == 0 {
            self.idle.notify_all();
        }
    }

    /// Jobs submitted and not finished.
    pub fn count(&self) -> usize {
        *self.lock()
    }

    /// Waits until every submitted job is finished or `timeout` passes; `true` when idle.
    /// Only the consumer loop submits, so once it waits here (itself, or in a rebalance
    /// callback it runs) no new job can arrive.
    pub fn wait_idle(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut n = self.lock();
        while *n > 0 {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            n = match self.idle.wait_timeout(n, deadline - now) {
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
    pub outstanding: Arc<Outstanding>,
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
    senders: Vec<SyncSender<Job>>,
    threads: Vec<JoinHandle<()>>,
    shared: Arc<Shared>,
}

/// The worker a conversation id goes to (stable within a process).
fn route(id: &str, workers: usize) -> usize {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    id.hash(&mut h);
    (h.finish() % workers.max(1) as u64) as usize
}

impl Pool {
    /// Starts `workers` threads (at least 1), each with a queue of `queue` jobs (at least 1).
    pub fn start(shared: Arc<Shared>, workers: usize, queue: usize) -> Result<Pool, PipelineError> {
        let mut senders = Vec::new();
        let mut threads = Vec::new();
        for i in 0..workers.max(1) {
            let (tx, rx) = sync_channel::<Job>(queue.max(1));
            let shared = shared.clone();
            let thread = std::thread::Builder::new()
                .name(format!("debrief-analysis-{i}"))
                .spawn(move || {
                    for job in rx {
                        let id = job.conversation.id.clone();
                        let pending = job.pending;
                        let result = catch_unwind(AssertUnwindSafe(|| process(&shared, job)));
                        let failure = match result {
                            Ok(Ok(())) => None,
                            Ok(Err(e)) => Some(e),
                            Err(_) => Some(format!("the analysis of conversation {id} panicked")),
                        };
                        if let Some(reason) = failure {
                            // The pending hold stays: the conversation is never committed past.
                            tracing::error!(conversation = %id, reason = %reason, "analysis worker");
                            shared.set_fatal(reason);
                        } else if let Some(hold) = pending {
                            lock(&shared.book).release(hold);
                        }
                        shared.outstanding.done();
                    }
                })
                .map_err(|e| {
                    PipelineError::Internal(format!("cannot start an analysis worker: {e}"))
                })?;
            senders.push(tx);
            threads.push(thread);
        }
        Ok(Pool {
            senders,
            threads,
            shared,
        })
    }

    /// Number of workers.
    pub fn workers(&self) -> usize {
        self.senders.len()
    }

    /// Hands a job to its worker; blocks while that worker's queue is full.
    pub fn submit(&self, job: Job) -> Result<(), PipelineError> {
        let i = route(&job.conversation.id, self.senders.len());
        self.shared.outstanding.add();
        self.senders[i].send(job).map_err(|_| {
            self.shared.outstanding.done();
            PipelineError::Internal("an analysis worker stopped".into())
        })
    }

    /// What the workers share (counters, the first failure).
    pub fn shared(&self) -> &Shared {
        &self.shared
    }

    /// Stops taking jobs, waits up to `timeout` for the queued ones, and joins the workers
    /// if they finished (otherwise leaves them to finish on their own: their holds keep the
    /// offsets back). `true` when every job finished.
    pub fn shutdown(self, timeout: Duration) -> bool {
        let Pool {
            senders,
            threads,
            shared,
        } = self;
        drop(senders);
        let idle = shared.outstanding.wait_idle(timeout);
        if idle {
            for t in threads {
                let _ = t.join();
            }
        } else {
            tracing::warn!(
                unfinished = shared.outstanding.count(),
                "analysis workers did not finish within the deadline; their conversations are replayed by the next run"
            );
        }
        idle
    }
}

/// Analyses one conversation and produces its insight (when it has a CRM topic) and its
/// telemetry, each under a produced hold on the conversation's first offset.
fn process(shared: &Shared, job: Job) -> Result<(), String> {
    let ctx = ExtractContext {
        settings: &shared.config.settings,
        tenant: job.tenant.as_deref(),
        finalised_by: job.finalised_by,
        reference_time: job.ended_at,
    };
    let (mut insight, timings) = analyse_timed(&job.conversation, &ctx);
    timings.observe(&shared.metrics);
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
    tracing::debug!(
        conversation = %conv.id,
        tenant = %conv.tenant_id,
        segments = conv.segments.len(),
        analyse_us = timings.total.as_micros() as u64,
        "insight produced"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routing_is_stable_and_within_range() {
        for workers in 1..5 {
            for id in ["a", "conv-1", "conv-2", ""] {
                let w = route(id, workers);
                assert!(w < workers);
                assert_eq!(w, route(id, workers), "same id, same worker");
            }
        }
        assert_eq!(route("x", 0), 0, "zero workers is treated as one");
    }

    #[test]
    fn outstanding_waits_for_zero() {
        let o = Arc::new(Outstanding::default());
        assert!(o.wait_idle(Duration::ZERO), "idle at start");
        o.add();
        o.add();
        assert!(!o.wait_idle(Duration::from_millis(1)), "two jobs running");
        let o2 = o.clone();
        let t = std::thread::spawn(move || {
            o2.done();
            o2.done();
        });
        // Not a timing assertion: the wait ends when the other thread finishes both jobs,
        // and the hour only turns a bug into a failure instead of a hang.
        assert!(o.wait_idle(Duration::from_secs(3600)));
        t.join().unwrap();
        assert_eq!(o.count(), 0);
        o.done();
        assert_eq!(o.count(), 0, "never below zero");
    }
}
