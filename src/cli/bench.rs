//! `debrief bench`: end-to-end throughput, latency and memory of the pipeline through a
//! broker.
//!
//! Replays real transcripts (by default `../shared/eval/icsi_action_items_dev.jsonl` and
//! `../shared/eval/meetings_en_ami_actions_heuristic.jsonl` when present, else the embedded
//! samples) as live segment streams: `--conversations N` replays, each under a fresh
//! conversation id, `--concurrency` of them interleaved event by event (as concurrent
//! meetings), optionally limited to `--rate` events/s, and never more than `--max-pending`
//! conversations unanswered (a closed loop: the producer waits for insights). The pipeline
//! runs in this process against `--brokers` (default: an in-process mock cluster); a reader
//! on the CRM topics notes when each insight arrives.
//!
//! Reported:
//! - throughput: segment events and conversations per second, from the first event sent to
//!   the last insight received (the producer's own rate too);
//! - latency: from sending a conversation's end event (its `emitted_at_ms`) to its insight
//!   arriving on the CRM topic, p50/p90/p99/max;
//! - per-segment outputs ([`STREAM_OUTPUTS`]): from sending a segment to a record it caused
//!   arriving on an output topic (segment -> live record; segment -> alert, the bench
//!   tenant having one repeating mention rule per tracker and competitor), p50/p99/max.
//!   Such records carry the stream time of the segment record that caused them (its
//!   CreateTime, set by the bench's publisher when it sends: in the live record's `at_ms`,
//!   as an alert's Kafka timestamp), so the latency is the arrival time minus that. `--live-interval-ms` (default 0 here: every segment sends a live
//!   record, so that every segment is measured; the service's default is 5,000) sets
//!   `live.interval_ms`. The figure is taken at half the maximum rate: run once
//!   without `--rate`, then with `--rate` at half the segment rate it reported;
//! - memory: `VmHWM` and `VmRSS` of this process at every tenth of the run. The bench's own
//!   fixed costs are in it (the source transcripts, the pre-built events). With the mock
//!   cluster the broker's log is in this process too: use a real broker to see the
//!   pipeline's memory alone. The mock cluster also keeps only the last 5 MiB (100,000
//!   records) of a partition, so a producer far ahead of the pipeline loses records there.
//!
//! Broker tuning the bench applies to the pipeline (`-X` overrides): `session.timeout.ms=6000`
//! (tansu completes a group join after half the session timeout) and
//! `fetch.wait.max.ms=10` (tansu holds a fetch up to that long even when records are there;
//! the default 500 ms would dominate the latency).
//!
//! `--preload` publishes everything before the pipeline starts, to measure the pipeline's
//! consumption rate without the producer competing for the CPU (no latency then).

use crate::cli::produce::{
    now_ms, parse_option, to_events, ConvertOptions, Mode, ProduceError, Publisher,
};
use clap::Args;
use debrief::config::Config;
use debrief::events::{TranscriptEvent, TranscriptPayload};
use debrief::http::Health;
use debrief::ingest::files::{self, FileError};
use debrief::metrics::Metrics;
use debrief::model::Conversation;
use debrief::pipeline::{run_pipeline_with, PipelineError, PipelineSummary};
use debrief::schema::{Codec, Encoding, SchemaError};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::mocking::MockCluster;
use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use thiserror::Error;
use tokio_util::sync::CancellationToken;

/// Default sources, relative to the working directory (the evaluation data, never copied into
/// the repository).
pub const DEFAULT_SOURCES: &[&str] = &[
    "../shared/eval/icsi_action_items_dev.jsonl",
    "../shared/eval/meetings_en_ami_actions_heuristic.jsonl",
];

/// Tenant id of every replay (its configuration is the sample tenant's trackers).
pub const BENCH_TENANT: &str = "bench-tenant";

/// Client version of every replay (recent enough for full extraction).
pub const BENCH_CLIENT_VERSION: &str = "1.2.0";

/// `fetch.wait.max.ms` of the pipeline's consumers in the bench (override with `-X`).
pub const PIPELINE_FETCH_WAIT_MS: u32 = 10;

/// `linger.ms` of the bench's publisher (override with `-P linger.ms=...`). On two shared
/// cores CPU is what latency is made of: batching the segment stream for 20 ms costs at most
/// 20 ms on the end event but saves the broker and the pipeline many small requests (with
/// librdkafka's 5 ms default, p99 at 27,500 events/s was 156-161 ms on tansu; with 20 ms,
/// 89 ms).
pub const PUBLISHER_LINGER_MS: u32 = 20;

/// How long the bench waits for the pipeline to be assigned its partitions before sending.
const JOIN_WAIT: Duration = Duration::from_secs(30);

/// Arguments of `debrief bench`.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Conversations to replay.
    #[arg(long, default_value_t = 1_000)]
    pub conversations: usize,
    /// Conversations streamed at once (interleaved event by event).
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Conversations started and not yet answered by an insight, at most: beyond, the
    /// producer waits before starting another (a closed loop, so that an unlimited producer
    /// cannot pile up an unbounded backlog in the broker). Default: twice --concurrency;
    /// 0: no limit. Not applied with --preload.
    #[arg(long)]
    pub max_pending: Option<usize>,
    /// Transcript events per second to send at most (default: as fast as possible).
    #[arg(long)]
    pub rate: Option<f64>,
    /// Partitions of the transcript and CRM topics.
    #[arg(long, default_value_t = 4)]
    pub partitions: i32,
    /// Bootstrap servers of a real broker (topics with a fresh prefix are created there);
    /// default: an in-process mock cluster.
    #[arg(long)]
    pub brokers: Option<String>,
    /// Transcript files to replay (repeatable; default: the ICSI and AMI evaluation files
    /// under ../shared/eval when present, else the embedded samples).
    #[arg(long = "source", value_name = "FILE")]
    pub sources: Vec<PathBuf>,
    /// Publish every event before starting the pipeline (measures consumption alone; no
    /// latency).
    #[arg(long)]
    pub preload: bool,
    /// Extra librdkafka setting for every client, the pipeline's included (repeatable).
    #[arg(short = 'X', long = "option", value_name = "KEY=VALUE", value_parser = parse_option)]
    pub options: Vec<(String, String)>,
    /// Extra librdkafka setting for the bench's publisher only, after the -X ones
    /// (repeatable). Default: `linger.ms=20`, as a platform streaming many meetings batches
    /// its sends.
    #[arg(short = 'P', long = "publisher-option", value_name = "KEY=VALUE", value_parser = parse_option)]
    pub publisher_options: Vec<(String, String)>,
    /// Give up when the insights have not all arrived this many seconds after the last send.
    #[arg(long, default_value_t = 120)]
    pub timeout_secs: u64,
    /// The pipeline's `live.interval_ms` (0: a live record for every segment, each one
    /// measured).
    #[arg(long, default_value_t = 0)]
    pub live_interval_ms: u64,
}

/// A per-segment output whose latency the bench measures: records on `topic` (of the
/// bench's topics) carrying the stream time of the segment that caused them. To measure
/// another one, add a row: its label, its topic and how to read that time.
pub struct StreamOutput {
    /// Label in the report (`segment -> live record`).
    pub label: &'static str,
    /// The output topic among the bench's topics.
    pub topic: fn(&Topics) -> &str,
    /// The stream time (ms since the epoch) of the segment record that caused this record,
    /// from its value and its Kafka timestamp; `None` for records that were not caused by
    /// one (the live record of a finalisation, an alert decided at the end of a call).
    pub caused_at_ms: fn(&Codec, &[u8], Option<i64>) -> Option<i64>,
}

/// The per-segment outputs measured (see the module docs).
pub const STREAM_OUTPUTS: &[StreamOutput] = &[
    StreamOutput {
        label: "segment sent -> live record received",
        topic: |t| &t.live,
        caused_at_ms: |codec, bytes, _| {
            let live: debrief::live::LiveInsight = codec.decode(bytes).ok()?;
            (live.reason != debrief::live::LiveReason::End).then_some(live.at_ms)
        },
    },
    StreamOutput {
        // An alert's Kafka timestamp is the stream time of the record that fired it.
        label: "segment sent -> alert received",
        topic: |t| &t.alerts,
        caused_at_ms: |codec, bytes, timestamp| {
            let alert: debrief::rules::Alert = codec.decode(bytes).ok()?;
            (alert.trigger == debrief::rules::AlertTrigger::Segment)
                .then_some(timestamp)
                .flatten()
        },
    },
];

/// The bench tenant's alert rules: one repeating rule per tracker and competitor of the
/// sample tenant, so that every segment with a mention fires an alert (and is measured).
fn bench_rules(tenant: &debrief::tenant::TenantConfig) -> Vec<debrief::tenant::RuleConfig> {
    use debrief::tenant::{ConditionKind, RuleCondition, RuleConfig};
    let names = tenant
        .trackers
        .iter()
        .map(|t| &t.name)
        .chain(tenant.competitors.iter().map(|c| &c.name));
    names
        .enumerate()
        .map(|(i, name)| RuleConfig {
            name: format!("bench mention {i}"),
            conditions: vec![RuleCondition {
                kind: ConditionKind::Mention,
                tracker: Some(name.clone()),
                ..RuleCondition::default()
            }],
            repeat: true,
            ..RuleConfig::default()
        })
        .collect()
}

/// The latencies of one [`StreamOutput`], ms, sorted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OutputLatency {
    /// [`StreamOutput::label`].
    pub label: String,
    /// Arrival minus the causing segment's stream time, ms, sorted.
    pub latencies_ms: Vec<u64>,
}

/// Why the bench could not run.
#[derive(Debug, Error)]
pub enum BenchError {
    /// `--brokers` is not `host:port[,host:port...]`.
    #[error("--brokers: {0}")]
    Brokers(debrief::config::BrokersError),
    /// A source file could not be read.
    #[error(transparent)]
    File(#[from] FileError),
    /// No conversation to replay.
    #[error("no conversation with segments in the sources")]
    NoSource,
    /// An argument is out of range.
    #[error("{0}")]
    Usage(String),
    /// The broker, the mock cluster or a client failed.
    #[error("kafka: {context}: {source}")]
    Kafka {
        /// What was being done.
        context: String,
        /// The client's error.
        source: KafkaError,
    },
    /// Publishing failed.
    #[error(transparent)]
    Produce(#[from] ProduceError),
    /// The pipeline stopped with an error.
    #[error("pipeline: {0}")]
    Pipeline(#[from] PipelineError),
    /// The codec could not be built.
    #[error("schema: {0}")]
    Schema(#[from] SchemaError),
    /// The metrics registry could not be built.
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    /// A task ended abnormally.
    #[error("internal: {0}")]
    Internal(String),
    /// The async runtime could not start.
    #[error("cannot start the runtime: {0}")]
    Runtime(std::io::Error),
}

fn kafka(context: &str) -> impl FnOnce(KafkaError) -> BenchError + '_ {
    move |source| BenchError::Kafka {
        context: context.to_string(),
        source,
    }
}

/// Memory of this process from `/proc/self/status`, KiB (`None` off Linux).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Memory {
    /// Peak resident set size (`VmHWM`).
    pub peak_kib: Option<u64>,
    /// Current resident set size (`VmRSS`).
    pub rss_kib: Option<u64>,
}

/// Reads `VmHWM` and `VmRSS` from a `/proc/<pid>/status` text.
pub fn parse_status(status: &str) -> Memory {
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
    };
    Memory {
        peak_kib: field("VmHWM:"),
        rss_kib: field("VmRSS:"),
    }
}

/// This process's memory now.
pub fn memory() -> Memory {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| parse_status(&s))
        .unwrap_or_default()
}

/// The `q`-quantile (0..=1) of sorted values, nearest rank; `None` when empty.
pub fn quantile(sorted: &[u64], q: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q.clamp(0.0, 1.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// One row of the memory table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkpoint {
    /// Insights received so far.
    pub insights: usize,
    /// Since the first send.
    pub elapsed: Duration,
    /// Memory then.
    pub memory: Memory,
}

/// What a bench run measured.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BenchReport {
    /// Conversations replayed.
    pub conversations: usize,
    /// Transcript events sent (all kinds).
    pub events: u64,
    /// Segment events sent.
    pub segments: u64,
    /// Bytes of transcript event values sent.
    pub bytes: u64,
    /// From the first send to the last acknowledgement of the producer.
    pub produce_elapsed: Duration,
    /// From the first send (live) or the pipeline's start (preload) to the last insight.
    pub elapsed: Duration,
    /// Insights received.
    pub insights: usize,
    /// End event sent → insight received, µs, sorted.
    pub latencies_us: Vec<u64>,
    /// Of the latency: end event sent → insight produced by the pipeline (the insight
    /// record's CreateTime), ms, sorted.
    pub to_produced_ms: Vec<u64>,
    /// Of the latency: insight produced → received by the bench's reader, ms, sorted.
    pub to_received_ms: Vec<u64>,
    /// Memory when the clock starts (0 insights), then at every tenth of the insights.
    pub checkpoints: Vec<Checkpoint>,
    /// The pipeline's summary.
    pub pipeline: PipelineSummary,
    /// Mean time in `analyse` per conversation, from the pipeline's metrics, µs.
    pub mean_analyse_us: Option<f64>,
    /// Per-segment outputs ([`STREAM_OUTPUTS`]).
    pub outputs: Vec<OutputLatency>,
}

impl BenchReport {
    /// Segment events per second over [`elapsed`](BenchReport::elapsed).
    pub fn segments_per_second(&self) -> f64 {
        per_second(self.segments, self.elapsed)
    }

    /// Insights per second over [`elapsed`](BenchReport::elapsed).
    pub fn conversations_per_second(&self) -> f64 {
        per_second(self.insights as u64, self.elapsed)
    }
}

fn per_second(n: u64, d: Duration) -> f64 {
    let s = d.as_secs_f64();
    if s > 0.0 {
        n as f64 / s
    } else {
        0.0
    }
}

/// Reads the sources: `explicit` files, else the defaults that exist, else the embedded
/// samples. Conversations without segments are left out. Returns the conversations and a
/// description of where they came from.
pub fn load_sources(explicit: &[PathBuf]) -> Result<(Vec<Conversation>, String), BenchError> {
    let paths: Vec<PathBuf> = if explicit.is_empty() {
        DEFAULT_SOURCES
            .iter()
            .map(PathBuf::from)
            .filter(|p| p.is_file())
            .collect()
    } else {
        explicit.to_vec()
    };
    let mut convs = Vec::new();
    let from = if paths.is_empty() {
        convs = crate::cli::demo::sample_conversations()
            .map_err(|e| BenchError::Internal(e.to_string()))?;
        "the embedded sample conversations".to_string()
    } else {
        for path in &paths {
            for item in files::open(path)? {
                convs.push(item?);
            }
        }
        paths
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(" + ")
    };
    convs.retain(|c| !c.segments.is_empty());
    if convs.is_empty() {
        return Err(BenchError::NoSource);
    }
    Ok((convs, from))
}

/// The event templates of each source conversation, as the bench streams them.
pub fn templates(convs: &[Conversation]) -> Vec<Vec<TranscriptEvent>> {
    let opts = ConvertOptions {
        mode: Mode::Stream,
        partials: false,
        tenant: Some(BENCH_TENANT.into()),
        client_version: Some(BENCH_CLIENT_VERSION.into()),
        source_platform: Some("bench".into()),
    };
    convs.iter().map(|c| to_events(c, &opts)).collect()
}

/// Id of replay `i` of run `run`.
pub fn replay_id(run: &str, i: usize) -> String {
    format!("bench-{run}-{i}")
}

/// Order in which the producer sends: `(replay, event index)` pairs, `concurrency` replays
/// interleaved round-robin, a new one starting when one finishes. `lens[r]` is the number of
/// events of replay `r`. Each replay keeps its own order.
pub fn interleave(lens: &[usize], concurrency: usize) -> impl Iterator<Item = (usize, usize)> + '_ {
    let mut active: VecDeque<(usize, usize)> = VecDeque::new();
    let mut next = 0usize;
    std::iter::from_fn(move || {
        while active.len() < concurrency.max(1) && next < lens.len() {
            if lens[next] > 0 {
                active.push_back((next, 0));
            }
            next += 1;
        }
        let (r, e) = active.pop_front()?;
        if e + 1 < lens[r] {
            active.push_back((r, e + 1));
        }
        Some((r, e))
    })
}

/// The topics of one bench run.
pub struct Topics {
    live: String,
    alerts: String,
    transcripts: String,
    dynamics: String,
    salesforce: String,
    telemetry: String,
    dead_letter: String,
    tenant_config: String,
}

impl Topics {
    fn prefixed(prefix: &str) -> Topics {
        Topics {
            live: format!("{prefix}live"),
            alerts: format!("{prefix}alerts"),
            transcripts: format!("{prefix}transcripts"),
            dynamics: format!("{prefix}insights.dynamics"),
            salesforce: format!("{prefix}insights.salesforce"),
            telemetry: format!("{prefix}telemetry"),
            dead_letter: format!("{prefix}deadletter"),
            tenant_config: format!("{prefix}tenant-config"),
        }
    }

    /// (name, partitions) of every topic.
    fn all(&self, partitions: i32) -> Vec<(&str, i32)> {
        vec![
            (&self.transcripts, partitions),
            (&self.dynamics, partitions),
            (&self.salesforce, partitions),
            (&self.telemetry, partitions),
            (&self.dead_letter, 1),
            (&self.tenant_config, 1),
            (&self.live, partitions),
            (&self.alerts, partitions),
        ]
    }
}

async fn create_topics(brokers: &str, wanted: &[(&str, i32)]) -> Result<(), BenchError> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .map_err(kafka("creating the admin client"))?;
    let new: Vec<NewTopic<'_>> = wanted
        .iter()
        .map(|&(name, p)| NewTopic::new(name, p, TopicReplication::Fixed(1)))
        .collect();
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let results = admin
        .create_topics(&new, &opts)
        .await
        .map_err(kafka("creating topics"))?;
    for r in results {
        if let Err((topic, code)) = r {
            return Err(BenchError::Kafka {
                context: format!("creating topic {topic}"),
                source: KafkaError::AdminOp(code),
            });
        }
    }
    Ok(())
}

/// Waits until the pipeline has its partitions (a group join takes seconds on some brokers),
/// at most [`JOIN_WAIT`], or until it stopped; the clock starts after.
async fn wait_for_assignment<T>(pipeline: &tokio::task::JoinHandle<T>, health: &Health) {
    let deadline = tokio::time::Instant::now() + JOIN_WAIT;
    while !pipeline.is_finished() && !health.is_ready() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Mean of a histogram (sum / count), `None` when empty.
fn mean_of(h: &prometheus::Histogram) -> Option<f64> {
    let n = h.get_sample_count();
    (n > 0).then(|| h.get_sample_sum() / n as f64)
}

/// `debrief bench`. Call inside a multi-threaded tokio runtime with `block_on` (the mock
/// cluster lives in this future). Progress goes to stderr.
pub async fn run(args: &BenchArgs) -> Result<BenchReport, BenchError> {
    if args.conversations == 0 {
        return Err(BenchError::Usage(
            "--conversations must be at least 1".into(),
        ));
    }
    if args.partitions < 1 {
        return Err(BenchError::Usage("--partitions must be at least 1".into()));
    }
    if args.rate.is_some_and(|r| !(r.is_finite() && r > 0.0)) {
        return Err(BenchError::Usage(
            "--rate must be a number of events per second above 0".into(),
        ));
    }
    let (sources, from) = load_sources(&args.sources)?;
    let mut templates = templates(&sources);
    drop(sources);
    let run_id = format!("{:x}", now_ms());
    let lens: Vec<usize> = (0..args.conversations)
        .map(|i| templates[i % templates.len()].len())
        .collect();
    let total_events: usize = lens.iter().sum();
    let total_segments: u64 = (0..args.conversations)
        .map(|i| templates[i % templates.len()].len().saturating_sub(2) as u64)
        .sum();

    let cluster = match &args.brokers {
        Some(_) => None,
        None => Some(MockCluster::new(1).map_err(kafka("starting the mock cluster"))?),
    };
    let brokers = match (&args.brokers, &cluster) {
        (Some(b), _) => b.clone(),
        (None, Some(c)) => c.bootstrap_servers(),
        (None, None) => return Err(BenchError::Internal("no broker".into())),
    };
    let topics = Topics::prefixed(&format!("debrief-bench-{run_id}."));
    match &cluster {
        Some(c) => {
            for (name, p) in topics.all(args.partitions) {
                c.create_topic(name, p, 1)
                    .map_err(kafka("creating a topic"))?;
            }
        }
        None => create_topics(&brokers, &topics.all(args.partitions)).await?,
    }
    if cluster.is_some() && (args.preload || args.max_pending == Some(0)) {
        eprintln!(
            "note: the mock cluster keeps only the last 5 MiB (100,000 records) of each partition: a producer far ahead of the pipeline loses records there; keep --max-pending, or use a real broker with --brokers"
        );
    }
    eprintln!(
        "bench {run_id}: {} conversation(s) replayed from {} source conversation(s) ({from}), {} events ({} segments), broker {}{}, {} partition(s), concurrency {}, max pending {}, rate {}",
        args.conversations,
        templates.len(),
        total_events,
        total_segments,
        brokers,
        if cluster.is_some() { " (in-process mock cluster)" } else { "" },
        args.partitions,
        args.concurrency,
        match (args.preload, args.max_pending) {
            (true, _) | (false, Some(0)) => "none".to_string(),
            (false, Some(n)) => n.to_string(),
            (false, None) => (args.concurrency.max(1) * 2).to_string(),
        },
        args.rate.map(|r| format!("{r:.0} events/s")).unwrap_or_else(|| "unlimited".into()),
    );

    let mut config = Config::default();
    config.kafka.brokers = brokers.parse().map_err(BenchError::Brokers)?;
    config.kafka.group_id = format!("debrief-bench-{run_id}");
    config.kafka.topics.transcripts = vec![topics.transcripts.clone()];
    config.kafka.topics.telemetry = topics.telemetry.clone();
    config.kafka.topics.dead_letter = topics.dead_letter.clone();
    config.kafka.topics.tenant_config = topics.tenant_config.clone();
    config.crm.dynamics = topics.dynamics.clone();
    config.crm.salesforce = topics.salesforce.clone();
    config.kafka.topics.live = topics.live.clone();
    config.kafka.topics.alerts = topics.alerts.clone();
    config.live.enabled = true;
    config.live.interval = Duration::from_millis(args.live_interval_ms);
    config.encoding = Encoding::AvroSingleObject;
    // Every replay ends with an end event; a short idle timeout only bounds how long the
    // ids of finalised conversations are remembered (memory reaches its plateau sooner).
    config.assembly.idle_timeout = Duration::from_secs(10);
    config.http.listen = ([127, 0, 0, 1], 0).into();
    // Some brokers (tansu) complete a group join only after half the session timeout: a
    // short one keeps the start quick. An explicit -X setting wins.
    config
        .kafka
        .options
        .insert("session.timeout.ms".into(), "6000".into());
    // tansu answers a fetch after up to fetch.wait.max.ms even when records are waiting: the
    // default 500 ms would be most of the measured latency.
    config.kafka.options.insert(
        "fetch.wait.max.ms".into(),
        PIPELINE_FETCH_WAIT_MS.to_string(),
    );
    for (k, v) in &args.options {
        config.kafka.options.insert(k.clone(), v.clone());
    }

    let codec = Arc::new(Codec::new(config.encoding, None)?);
    let mut publisher_options = args.options.clone();
    publisher_options.push(("linger.ms".into(), PUBLISHER_LINGER_MS.to_string()));
    publisher_options.extend(args.publisher_options.iter().cloned());
    let mut publisher = Publisher::new(&brokers, codec.clone(), &publisher_options)?;
    let mut tenant =
        crate::cli::demo::sample_tenant().map_err(|e| BenchError::Internal(e.to_string()))?;
    tenant.tenant_id = BENCH_TENANT.into();
    tenant.rules = bench_rules(&tenant);
    publisher
        .send_tenant_config(&topics.tenant_config, &tenant)
        .await?;
    publisher.flush(Duration::from_secs(30)).await?;

    let watcher = crate::cli::demo::reader(&brokers, &format!("debrief-bench-{run_id}-watch"), 5)
        .map_err(kafka("creating the insight reader"))?;
    crate::cli::demo::assign_all(&watcher, &[&topics.dynamics, &topics.salesforce])
        .map_err(kafka("assigning the insight reader"))?;

    // One reader per per-segment output, collecting until the run ends.
    let outputs_stop = CancellationToken::new();
    let mut output_tasks = Vec::new();
    for output in STREAM_OUTPUTS {
        let reader = crate::cli::demo::reader(
            &brokers,
            &format!("debrief-bench-{run_id}-output"),
            PIPELINE_FETCH_WAIT_MS,
        )
        .map_err(kafka("creating an output reader"))?;
        crate::cli::demo::assign_all(&reader, &[(output.topic)(&topics)])
            .map_err(kafka("assigning an output reader"))?;
        let (stop, codec) = (outputs_stop.clone(), codec.clone());
        output_tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let msg = tokio::select! {
                    _ = stop.cancelled() => break,
                    m = reader.recv() => m,
                };
                let Ok(msg) = msg else { continue };
                let timestamp = msg.timestamp().to_millis();
                let at = msg
                    .payload()
                    .and_then(|bytes| (output.caused_at_ms)(&codec, bytes, timestamp));
                if let Some(at) = at {
                    latencies.push((now_ms() - at).max(0) as u64);
                }
            }
            latencies.sort_unstable();
            OutputLatency {
                label: output.label.to_string(),
                latencies_ms: latencies,
            }
        }));
    }

    let sent_at: Arc<Mutex<HashMap<String, (Instant, i64)>>> = Arc::default();
    let metrics = Arc::new(Metrics::new()?);
    let shutdown = CancellationToken::new();
    // Whatever ends this function (an error, a panic), the pipeline stops: the runtime would
    // otherwise wait for its consumer loop forever.
    let _stop_pipeline = shutdown.clone().drop_guard();
    let health = Arc::new(Health::default());
    let start_pipeline = |config: Config| {
        tokio::spawn(run_pipeline_with(
            config,
            shutdown.clone(),
            metrics.clone(),
            health.clone(),
        ))
    };

    let topic = topics.transcripts.clone();
    let rate = args.rate;
    let concurrency = args.concurrency;
    let max_pending = match (args.preload, args.max_pending) {
        (true, _) | (false, Some(0)) => usize::MAX,
        (false, Some(n)) => n,
        (false, None) => concurrency.max(1).saturating_mul(2),
    };
    let received = Arc::new(AtomicUsize::new(0));
    let answered = received.clone();
    let sent_map = sent_at.clone();
    let produce = async move {
        let started = Instant::now();
        let n = templates.len();
        for (sent, (r, e)) in interleave(&lens, concurrency).enumerate() {
            if let Some(rate) = rate {
                while sent as f64 >= started.elapsed().as_secs_f64() * rate {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
            if e == 0 {
                // A new conversation: wait while too many are unanswered.
                while r >= answered.load(Ordering::Relaxed).saturating_add(max_pending) {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
            let event = &mut templates[r % n][e];
            event.conversation_id.clear();
            event.conversation_id.push_str(&replay_id(&run_id, r));
            if let TranscriptPayload::Ended(_) = event.payload {
                let mut map = sent_map.lock().unwrap_or_else(|p| p.into_inner());
                map.insert(event.conversation_id.clone(), (Instant::now(), now_ms()));
            }
            publisher.send_event(&topic, event, true).await?;
        }
        publisher.flush(Duration::from_secs(120)).await?;
        Ok::<_, ProduceError>((publisher.stats, started.elapsed()))
    };

    let (pipeline, producing) = if args.preload {
        let (stats, took) = produce.await?;
        eprintln!(
            "preloaded {} events in {:.1}s ({:.0} events/s); starting the pipeline",
            stats.records,
            took.as_secs_f64(),
            per_second(stats.records, took)
        );
        sent_at.lock().unwrap_or_else(|p| p.into_inner()).clear();
        let pipeline = start_pipeline(config);
        wait_for_assignment(&pipeline, &health).await;
        (pipeline, tokio::spawn(async move { Ok((stats, took)) }))
    } else {
        let pipeline = start_pipeline(config);
        wait_for_assignment(&pipeline, &health).await;
        (pipeline, tokio::spawn(produce))
    };
    let t0 = Instant::now();

    let mut report = BenchReport {
        conversations: args.conversations,
        events: total_events as u64,
        segments: total_segments,
        ..Default::default()
    };
    let mut latencies = Vec::with_capacity(args.conversations);
    let mut seen = std::collections::HashSet::with_capacity(args.conversations);
    // Baseline: sources loaded, clients and pipeline started, nothing processed yet.
    report.checkpoints.push(Checkpoint {
        insights: 0,
        elapsed: Duration::ZERO,
        memory: memory(),
    });
    let step = args.conversations.div_ceil(10).max(1);
    let mut last_progress = tokio::time::Instant::now();
    let mut producer_done: Option<tokio::time::Instant> = None;
    let mut last_insight = t0;
    while seen.len() < args.conversations {
        if producer_done.is_none() && producing.is_finished() {
            producer_done = Some(tokio::time::Instant::now());
        }
        if let Some(done) = producer_done {
            if done.elapsed() > Duration::from_secs(args.timeout_secs) {
                eprintln!(
                    "timeout: {} of {} insights after {} s",
                    seen.len(),
                    args.conversations,
                    args.timeout_secs
                );
                break;
            }
        }
        let msg = match tokio::time::timeout(Duration::from_millis(200), watcher.recv()).await {
            Err(_) => continue,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "insight reader");
                continue;
            }
            Ok(Ok(m)) => m,
        };
        let now = Instant::now();
        let Some(key) = msg.key().and_then(|k| std::str::from_utf8(k).ok()) else {
            continue;
        };
        if !seen.insert(key.to_string()) {
            continue;
        }
        received.store(seen.len(), Ordering::Relaxed);
        last_insight = now;
        if let Some((at, at_ms)) = sent_at
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key)
        {
            latencies.push(now.saturating_duration_since(at).as_micros() as u64);
            // The insight's timestamp is when the pipeline produced it (CreateTime).
            if let Some(created) = msg.timestamp().to_millis() {
                report.to_produced_ms.push((created - at_ms).max(0) as u64);
                report
                    .to_received_ms
                    .push((now_ms() - created).max(0) as u64);
            }
        }
        if seen.len() % step == 0 || seen.len() == args.conversations {
            let cp = Checkpoint {
                insights: seen.len(),
                elapsed: now - t0,
                memory: memory(),
            };
            report.checkpoints.push(cp);
        }
        if last_progress.elapsed() > Duration::from_secs(5) {
            last_progress = tokio::time::Instant::now();
            eprintln!(
                "  {} / {} insights, {:.1}s",
                seen.len(),
                args.conversations,
                (now - t0).as_secs_f64()
            );
        }
    }
    report.insights = seen.len();
    report.elapsed = last_insight - t0;
    // Records of the last segments are produced before their conversation's insight; a
    // short grace for the readers.
    tokio::time::sleep(Duration::from_millis(500)).await;
    outputs_stop.cancel();
    for task in output_tasks {
        report.outputs.push(
            task.await
                .map_err(|e| BenchError::Internal(format!("an output reader: {e}")))?,
        );
    }
    shutdown.cancel();
    let (stats, produce_elapsed) = producing
        .await
        .map_err(|e| BenchError::Internal(format!("the producer task: {e}")))??;
    report.bytes = stats.bytes;
    report.produce_elapsed = produce_elapsed;
    report.pipeline = pipeline
        .await
        .map_err(|e| BenchError::Internal(format!("the pipeline task: {e}")))??;
    report.mean_analyse_us =
        mean_of(&metrics.extractor_seconds.with_label_values(&["analyse"])).map(|s| s * 1e6);
    latencies.sort_unstable();
    report.latencies_us = latencies;
    report.to_produced_ms.sort_unstable();
    report.to_received_ms.sort_unstable();
    drop(watcher);
    drop(cluster);
    Ok(report)
}

fn mib(kib: Option<u64>) -> String {
    kib.map(|k| format!("{:.1} MiB", k as f64 / 1024.0))
        .unwrap_or_else(|| "?".into())
}

fn ms(us: Option<u64>) -> String {
    us.map(|u| format!("{:.1} ms", u as f64 / 1000.0))
        .unwrap_or_else(|| "-".into())
}

/// The report as text (one block, newline-terminated lines).
pub fn render(r: &BenchReport, preload: bool) -> String {
    let mut s = String::new();
    let l = &r.latencies_us;
    s.push_str(&format!(
        "produced     {} events ({} segments, {:.1} MiB) in {:.2} s: {:.0} events/s\n",
        r.events,
        r.segments,
        r.bytes as f64 / 1_048_576.0,
        r.produce_elapsed.as_secs_f64(),
        per_second(r.events, r.produce_elapsed)
    ));
    s.push_str(&format!(
        "processed    {} of {} conversations in {:.2} s ({}): {:.0} segments/s, {:.1} conversations/s\n",
        r.insights,
        r.conversations,
        r.elapsed.as_secs_f64(),
        if preload { "pipeline assigned to last insight" } else { "first event sent to last insight" },
        r.segments_per_second(),
        r.conversations_per_second()
    ));
    if !preload {
        s.push_str(&format!(
            "latency      end event sent -> insight received (n={}): p50 {}, p90 {}, p99 {}, max {}\n",
            l.len(),
            ms(quantile(l, 0.50)),
            ms(quantile(l, 0.90)),
            ms(quantile(l, 0.99)),
            ms(l.last().copied())
        ));
        let (p, q) = (&r.to_produced_ms, &r.to_received_ms);
        let at = |v: &[u64], x: f64| {
            quantile(v, x)
                .map(|m| format!("{m} ms"))
                .unwrap_or("-".into())
        };
        s.push_str(&format!(
            "  of which   sent -> insight produced by the pipeline: p50 {}, p99 {}; produced -> received: p50 {}, p99 {}\n",
            at(p, 0.5),
            at(p, 0.99),
            at(q, 0.5),
            at(q, 0.99)
        ));
        for o in &r.outputs {
            let v = &o.latencies_ms;
            s.push_str(&format!(
                "latency      {} (n={}): p50 {}, p99 {}, max {}\n",
                o.label,
                v.len(),
                at(v, 0.5),
                at(v, 0.99),
                at(v, 1.0)
            ));
        }
    }
    if let Some(a) = r.mean_analyse_us {
        s.push_str(&format!(
            "analyse      {:.2} ms per conversation on average (pipeline metric)\n",
            a / 1000.0
        ));
    }
    s.push_str(&format!(
        "pipeline     {} records consumed, {} conversations finalised, {} dead letters\n",
        r.pipeline.records_consumed, r.pipeline.conversations_finalised, r.pipeline.dead_letters
    ));
    s.push_str("memory       insights   elapsed   VmHWM (peak)   VmRSS\n");
    for c in &r.checkpoints {
        s.push_str(&format!(
            "             {:>8}   {:>6.1}s   {:>12}   {:>10}\n",
            c.insights,
            c.elapsed.as_secs_f64(),
            mib(c.memory.peak_kib),
            mib(c.memory.rss_kib)
        ));
    }
    s
}

/// `debrief bench` from `main`: runs, prints the report on stdout; failure when some
/// insights did not arrive.
pub fn command(args: BenchArgs) -> Result<std::process::ExitCode, BenchError> {
    crate::cli::produce::init_logging("warn");
    let rt = crate::cli::produce::runtime().map_err(BenchError::Runtime)?;
    let report = rt.block_on(run(&args))?;
    {
        use std::io::Write;
        let _ = write!(
            std::io::stdout().lock(),
            "{}",
            render(&report, args.preload)
        );
    }
    Ok(if report.insights == report.conversations {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_fields_are_read_in_kib() {
        let status =
            "Name:\tdebrief\nVmPeak:\t  900000 kB\nVmHWM:\t   123456 kB\nVmRSS:\t    65432 kB\n";
        assert_eq!(
            parse_status(status),
            Memory {
                peak_kib: Some(123_456),
                rss_kib: Some(65_432)
            }
        );
        assert_eq!(parse_status("Name: x\n"), Memory::default());
    }

    #[test]
    fn quantiles_use_the_nearest_rank() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(quantile(&v, 0.5), Some(50));
        assert_eq!(quantile(&v, 0.99), Some(99));
        assert_eq!(quantile(&v, 1.0), Some(100));
        assert_eq!(quantile(&v, 0.0), Some(1));
        assert_eq!(quantile(&[7], 0.99), Some(7));
        assert_eq!(quantile(&[], 0.5), None);
    }

    #[test]
    fn interleaving_is_round_robin_and_keeps_each_replay_in_order() {
        let order: Vec<(usize, usize)> = interleave(&[2, 3, 1], 2).collect();
        // Replays 0 and 1 start together; 2 starts when 0 finishes.
        assert_eq!(order, [(0, 0), (1, 0), (0, 1), (1, 1), (2, 0), (1, 2)]);
        let one_at_a_time: Vec<(usize, usize)> = interleave(&[2, 0, 1], 1).collect();
        assert_eq!(one_at_a_time, [(0, 0), (0, 1), (2, 0)]);
    }

    #[test]
    fn templates_are_recent_bench_tenant_streams() {
        let (convs, from) = load_sources(&[PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/conversations.jsonl"
        ))])
        .unwrap();
        assert!(from.ends_with("examples/conversations.jsonl"));
        let t = templates(&convs);
        assert_eq!(t.len(), convs.len());
        for (events, conv) in t.iter().zip(&convs) {
            assert_eq!(events.len(), conv.segments.len() + 2);
            assert!(events.iter().all(|e| e.header.tenant_id == BENCH_TENANT
                && e.header.client_version == BENCH_CLIENT_VERSION));
        }
        assert_eq!(replay_id("r1", 7), "bench-r1-7");
    }
}
