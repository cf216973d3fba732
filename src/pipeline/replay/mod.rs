//! `debrief replay`: reprocesses a time range of the transcript topics through the service's
//! own pipeline (the same steps, consumer loop, analysis pool and keyed outputs), with a
//! bounded set of partitions and offsets and a stop condition.
//!
//! - **Its own group, no commits.** The replay's consumer uses the group
//!   `<kafka.group_id>.replay.<start time in ms>` ([`replay_group_id`]), is *assigned* the
//!   partitions (no group membership, so the live group never rebalances) and never
//!   commits: the live group's committed offsets are untouched. Its readers (tenant
//!   configurations, erasure requests, CRM mappings) derive their names from that group too.
//!   The erasure executor and the source-retention check do not run (the service does
//!   that), and a tenant configuration read here issues no audit record or opt-out request.
//! - **What it reads and rewrites** ([`plan`]): per partition, from the first offset at or
//!   after `--from` minus a look-back (default twice `assembly.idle_timeout_ms`) to the
//!   first offset at or after `--to` (or the partition's end when the replay starts).
//!   Only conversations whose first event lies at or after `--from`'s offset are rewritten;
//!   those that began in the look-back are assembled and skipped, so a conversation
//!   straddling `--from` never gives a truncated insight. Conversations still open when the
//!   range ends are dropped (not finalised): their insight comes, or came, from the service.
//!   Records before `--from`'s offset that cannot be read are not dead-lettered again.
//! - **The same decisions.** Idle timeouts run in stream time only (the wall clock never
//!   closes a conversation in a replay), the tenant configuration and CRM mapping in force
//!   are the latest on their topics (a tenant's new trackers apply), erasure requests on the
//!   erasure topic are all in force before the first record (erased conversations stay
//!   erased), opted-out tenants stay dropped. Delivery is at-least-once whatever
//!   `delivery.mode` says: the outputs are keyed and deterministic, so a conversation
//!   inside the range gets a record byte-identical to the service's, unless its tenant
//!   configuration changed meanwhile. No live records are sent (`live.enabled` is off for a
//!   replay): they belong to calls as they run.
//! - **Progress** ([`ReplayProgress`]): offsets read out of offsets to read, summed over the
//!   partitions, and the counts of the summary, updated by the consumer loop; the command
//!   line draws them.

pub mod plan;
pub mod time;

use super::kafka::{now_ms, topic_partitions, TranscriptConsumer};
use super::offsets::{Lane, OffsetBook};
use super::PipelineError;
use crate::config::{Config, DeliveryMode};
use crate::http::Health;
use crate::metrics::Metrics;
use plan::{Lookup, PartitionPlan, Verdict};
use rdkafka::consumer::Consumer;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::util::Timeout;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Longest wait for one of the broker look-ups that plan a replay.
const LOOKUP_WAIT: Duration = Duration::from_secs(15);

/// Why a replay could not be planned (broker errors are [`PipelineError::Kafka`]).
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// A transcript topic the configuration names has no partitions on the brokers.
    #[error("the transcript topic {0} does not exist on the brokers")]
    UnknownTopic(String),
}

/// What to replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayRequest {
    /// Start of the range, ms since the Unix epoch (inclusive, record timestamps).
    pub from_ms: i64,
    /// End of the range, ms since the Unix epoch (exclusive); `None`: the end of each
    /// partition when the replay starts.
    pub to_ms: Option<i64>,
    /// Only this tenant's conversations (the others are counted as skipped).
    pub tenant: Option<String>,
    /// How far before `from_ms` to start reading; `None`: twice `assembly.idle_timeout_ms`
    /// (see [`plan`]).
    pub lookback: Option<Duration>,
}

/// The replay's consumer group: `<group_id>.replay.<started_ms>`. Never the live group.
pub fn replay_group_id(group_id: &str, started_ms: i64) -> String {
    format!("{group_id}.replay.{started_ms}")
}

/// Counters the consumer loop updates as it replays and the caller reads (a progress bar).
#[derive(Debug, Default)]
pub struct ReplayProgress {
    planned: AtomicBool,
    partitions: AtomicU64,
    total: AtomicU64,
    read: AtomicU64,
    rewritten: AtomicU64,
    other_tenant: AtomicU64,
    started_before: AtomicU64,
}

impl ReplayProgress {
    /// `Some((offsets read, offsets to read))` once the range has been planned.
    pub fn position(&self) -> Option<(u64, u64)> {
        self.planned.load(Ordering::Acquire).then(|| {
            (
                self.read.load(Ordering::Relaxed),
                self.total.load(Ordering::Relaxed),
            )
        })
    }

    /// Conversations handed to the analysis pool so far.
    pub fn rewritten(&self) -> u64 {
        self.rewritten.load(Ordering::Relaxed)
    }
}

/// What a replay did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplaySummary {
    /// The replay's consumer group.
    pub group_id: String,
    /// Partitions planned.
    pub partitions: usize,
    /// Offsets to read (look-back included), summed over the partitions.
    pub records_in_range: u64,
    /// Transcript records read.
    pub records_read: u64,
    /// Conversations analysed and written again.
    pub conversations_rewritten: u64,
    /// Insights handed to the producer (conversations of tenants without a CRM have none).
    pub insights_produced: u64,
    /// Conversations of other tenants than `--tenant`.
    pub skipped_other_tenant: u64,
    /// Conversations that began before `--from` (read in the look-back).
    pub skipped_started_before: u64,
    /// Conversations still open at the end of the range (not rewritten).
    pub open_at_end: usize,
    /// Records of the range dead-lettered (again).
    pub dead_letters: u64,
    /// Wall time of the whole replay.
    pub elapsed: Duration,
    /// `false` when the replay was stopped (SIGINT, SIGTERM) before the end of the range.
    pub complete: bool,
}

/// Replays `request` with `config` (the service's configuration) until the range is read
/// and everything it wrote is acknowledged, or `shutdown` is cancelled. `progress` is
/// updated meanwhile. See the module documentation.
pub async fn replay(
    mut config: Config,
    request: ReplayRequest,
    shutdown: CancellationToken,
    metrics: Arc<Metrics>,
    progress: Arc<ReplayProgress>,
) -> Result<ReplaySummary, PipelineError> {
    config.validate()?;
    let started = std::time::Instant::now();
    let group_id = replay_group_id(&config.kafka.group_id, now_ms());
    config.kafka.group_id = group_id.clone();
    config.delivery.mode = DeliveryMode::AtLeastOnce;
    // Live records (and the alerts their rules raise) belong to calls as they run: a replay
    // of past calls sends none.
    config.live.enabled = false;
    // Static membership names a live member: the replay is no member of any group.
    config.kafka.options.remove("group.instance.id");
    tracing::info!(group = %group_id, "replay");
    let run = ReplayRun::new(request, progress.clone(), config.assembly.idle_timeout);
    let summary = super::run_service(
        config,
        shutdown.clone(),
        metrics,
        Arc::new(Health::default()),
        Some(run),
    )
    .await?;
    Ok(ReplaySummary {
        group_id,
        partitions: progress.partitions.load(Ordering::Relaxed) as usize,
        records_in_range: progress.total.load(Ordering::Relaxed),
        records_read: summary.records_consumed,
        conversations_rewritten: progress.rewritten(),
        insights_produced: summary.insights_produced,
        skipped_other_tenant: progress.other_tenant.load(Ordering::Relaxed),
        skipped_started_before: progress.started_before.load(Ordering::Relaxed),
        open_at_end: summary.open_conversations_handed_back,
        dead_letters: summary.dead_letters,
        elapsed: started.elapsed(),
        complete: !shutdown.is_cancelled(),
    })
}

/// The consumer loop's part of a replay: the plan by lane, the stop condition, the
/// conversation filter and the progress counters.
#[derive(Debug)]
pub(crate) struct ReplayRun {
    request: ReplayRequest,
    progress: Arc<ReplayProgress>,
    lookback: Duration,
    lanes: HashMap<Lane, PartitionPlan>,
    /// The furthest next offset seen per lane (records processed or the consumer's position,
    /// which also moves past transaction markers).
    next: HashMap<Lane, i64>,
}

impl ReplayRun {
    /// A replay of `request`; `idle_timeout` gives the default look-back.
    pub fn new(
        request: ReplayRequest,
        progress: Arc<ReplayProgress>,
        idle_timeout: Duration,
    ) -> ReplayRun {
        let lookback = request
            .lookback
            .unwrap_or_else(|| plan::default_lookback(idle_timeout));
        ReplayRun {
            request,
            progress,
            lookback,
            lanes: HashMap::new(),
            next: HashMap::new(),
        }
    }

    /// Plans the range on every partition of `topics` (broker look-ups by time), starts a
    /// book lane for each, and returns the assignment (each partition at its start offset).
    pub fn prepare(
        &mut self,
        consumer: &TranscriptConsumer,
        topics: &[String],
        book: &mut OffsetBook,
    ) -> Result<TopicPartitionList, PipelineError> {
        let start_ms = self
            .request
            .from_ms
            .saturating_sub(i64::try_from(self.lookback.as_millis()).unwrap_or(i64::MAX))
            .max(0);
        let mut assignment = TopicPartitionList::new();
        for topic in topics {
            let partitions = topic_partitions(consumer, topic).map_err(|e| {
                PipelineError::kafka("reading the transcript topic's partitions", e)
            })?;
            if partitions.is_empty() {
                return Err(ReplayError::UnknownTopic(topic.clone()).into());
            }
            let at = |ms: Option<i64>| lookup_times(consumer, topic, &partitions, ms);
            let starts = at(Some(start_ms))?;
            let froms = at(Some(self.request.from_ms))?;
            let tos = at(self.request.to_ms)?;
            for (i, &partition) in partitions.iter().enumerate() {
                let (low, high) = consumer
                    .fetch_watermarks(topic, partition, Timeout::After(LOOKUP_WAIT))
                    .map_err(|e| PipelineError::kafka("reading the partition ends", e))?;
                let p = PartitionPlan::from_lookup(&Lookup {
                    topic: topic.clone(),
                    partition,
                    low,
                    high,
                    start: starts[i],
                    from: froms[i],
                    to: tos[i],
                });
                tracing::info!(
                    topic = %p.topic,
                    partition,
                    start = p.start,
                    from = p.from,
                    end = p.end,
                    "replay plan"
                );
                assignment
                    .add_partition_offset(topic, partition, Offset::Offset(p.start))
                    .map_err(|e| PipelineError::kafka("building the assignment", e))?;
                let lane = book.lane(topic, partition);
                book.assign(lane);
                self.next.insert(lane, p.start);
                self.lanes.insert(lane, p);
            }
        }
        let total = self.lanes.values().map(PartitionPlan::records).sum();
        self.progress.total.store(total, Ordering::Relaxed);
        self.progress
            .partitions
            .store(self.lanes.len() as u64, Ordering::Relaxed);
        self.progress.planned.store(true, Ordering::Release);
        Ok(assignment)
    }

    /// `true` when `offset` of `lane` lies past the range (the record is not processed and
    /// the partition is paused).
    pub fn beyond(&self, lane: Lane, offset: i64) -> bool {
        self.lanes.get(&lane).is_none_or(|p| offset >= p.end)
    }

    /// `true` when `offset` of `lane` lies in the range (not in the look-back).
    pub fn in_range(&self, lane: Lane, offset: i64) -> bool {
        self.lanes.get(&lane).is_some_and(|p| p.in_range(offset))
    }

    /// Notes that `lane` will next read `next`, and updates the progress (by the offsets
    /// newly read, so the cost does not grow with the number of partitions).
    pub fn reached(&mut self, lane: Lane, next: i64) {
        let (Some(p), Some(n)) = (self.lanes.get(&lane), self.next.get_mut(&lane)) else {
            return;
        };
        if next > *n {
            let more = p.read(next) - p.read(*n);
            *n = next;
            self.progress.read.fetch_add(more, Ordering::Relaxed);
        }
    }

    /// Takes the consumer's positions (which move past transaction markers too).
    pub fn observe(&mut self, consumer: &TranscriptConsumer, book: &mut OffsetBook) {
        if let Ok(positions) = consumer.position() {
            for e in positions.elements() {
                if let Offset::Offset(o) = e.offset() {
                    let lane = book.lane(e.topic(), e.partition());
                    self.reached(lane, o);
                }
            }
        }
    }

    /// `true` once every partition has been read to its end offset.
    pub fn finished(&self) -> bool {
        self.lanes
            .iter()
            .all(|(lane, p)| p.done(self.next.get(lane).copied().unwrap_or(p.start)))
    }

    /// Whether a finalised conversation is rewritten; counts it either way.
    pub fn admits(&self, lane: Lane, first_offset: i64, tenant: &str) -> bool {
        let verdict = self.lanes.get(&lane).map_or(Verdict::StartedBefore, |p| {
            p.admits(first_offset, tenant, self.request.tenant.as_deref())
        });
        let counter = match verdict {
            Verdict::Rewrite => &self.progress.rewritten,
            Verdict::StartedBefore => &self.progress.started_before,
            Verdict::OtherTenant => &self.progress.other_tenant,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        verdict == Verdict::Rewrite
    }
}

/// The first offset at or after `ms` on each of `partitions` (in their order); all `None`
/// when `ms` is `None` or for partitions without such a record.
fn lookup_times(
    consumer: &TranscriptConsumer,
    topic: &str,
    partitions: &[i32],
    ms: Option<i64>,
) -> Result<Vec<Option<i64>>, PipelineError> {
    let Some(ms) = ms else {
        return Ok(vec![None; partitions.len()]);
    };
    let mut tpl = TopicPartitionList::new();
    for &p in partitions {
        tpl.add_partition_offset(topic, p, Offset::Offset(ms))
            .map_err(|e| PipelineError::kafka("building a time look-up", e))?;
    }
    let found = consumer
        .offsets_for_times(tpl, Timeout::After(LOOKUP_WAIT))
        .map_err(|e| PipelineError::kafka("looking up offsets by time", e))?;
    Ok(partitions
        .iter()
        .map(|&p| {
            found
                .find_partition(topic, p)
                .and_then(|e| match e.offset() {
                    Offset::Offset(o) if o >= 0 => Some(o),
                    _ => None,
                })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(tenant: Option<&str>) -> (ReplayRun, Arc<ReplayProgress>) {
        let progress = Arc::new(ReplayProgress::default());
        let mut r = ReplayRun::new(
            ReplayRequest {
                from_ms: 1_000,
                to_ms: None,
                tenant: tenant.map(str::to_string),
                lookback: None,
            },
            progress.clone(),
            Duration::from_secs(60),
        );
        for (lane, (start, from, end)) in [(0, (0, 10, 20)), (1, (5, 5, 5))] {
            r.lanes.insert(
                lane,
                PartitionPlan {
                    topic: "t".into(),
                    partition: lane as i32,
                    start,
                    from,
                    end,
                },
            );
            r.next.insert(lane, start);
        }
        (r, progress)
    }

    #[test]
    fn the_group_is_never_the_live_one() {
        let g = replay_group_id("debrief", 1_764_424_800_000);
        assert_eq!(g, "debrief.replay.1764424800000");
        assert_ne!(g, "debrief");
    }

    #[test]
    fn the_default_look_back_follows_the_idle_timeout() {
        let (r, _) = run(None);
        assert_eq!(r.lookback, Duration::from_secs(120));
    }

    #[test]
    fn it_stops_once_every_partition_reached_its_end_and_reports_progress() {
        let (mut r, progress) = run(None);
        assert_eq!(r.lanes.len(), 2);
        assert!(!r.finished(), "lane 0 has 20 offsets to read");
        r.reached(0, 12);
        assert_eq!(progress.read.load(Ordering::Relaxed), 12);
        r.reached(0, 8);
        assert_eq!(progress.read.load(Ordering::Relaxed), 12, "never backwards");
        assert!(!r.finished());
        r.reached(0, 25);
        assert_eq!(
            progress.read.load(Ordering::Relaxed),
            20,
            "not past the end"
        );
        assert!(r.finished(), "lane 1 is empty, lane 0 read to 20");
        assert!(r.beyond(0, 20) && !r.beyond(0, 19) && r.beyond(7, 0));
        assert!(r.in_range(0, 10) && !r.in_range(0, 9));
    }

    #[test]
    fn it_counts_what_it_skips() {
        let (r, progress) = run(Some("acme"));
        assert!(r.admits(0, 10, "acme"));
        assert!(!r.admits(0, 9, "acme"));
        assert!(!r.admits(0, 12, "globex"));
        assert!(
            !r.admits(3, 12, "acme"),
            "a lane outside the plan is not rewritten"
        );
        assert_eq!(progress.rewritten(), 1);
        assert_eq!(progress.started_before.load(Ordering::Relaxed), 2);
        assert_eq!(progress.other_tenant.load(Ordering::Relaxed), 1);
    }
}
