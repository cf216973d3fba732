//! `debrief demo`: the whole service on one machine with nothing installed.
//!
//! Starts librdkafka's in-process mock cluster, creates the contract's topics, publishes the
//! sample tenant configuration (`examples/tenant.yaml`) and the sample conversations
//! (`examples/conversations.jsonl`, English, French, German, Spanish and one from an outdated
//! client; both embedded in the binary) as live segment streams with partial revisions, plus
//! one poison record; runs the real pipeline against the cluster while serving `/metrics`,
//! `/healthz` and `/readyz`; prints each insight as it lands on a CRM topic and the dead
//! letter; keeps the pipeline and the endpoint up (on a terminal, until Ctrl-C; see
//! [`DemoArgs::hold_ms`]); then stops the pipeline gracefully and prints a summary, with the
//! metrics as the endpoint serves them once the pipeline has stopped. Fails (non-zero exit in
//! `main`) when a sample conversation gets no insight within the timeout.

use crate::cli::produce::{
    parse_pace, schedule, to_events, ConvertOptions, Mode, Pace, ProduceError, Publisher,
};
use clap::Args;
use debrief::config::Config;
use debrief::events::{topics, DeadLetter};
use debrief::http::{self, Health, HttpState};
use debrief::ingest::files::parse_conversation_json;
use debrief::insight::{Insight, Outcome};
use debrief::metrics::Metrics;
use debrief::model::Conversation;
use debrief::pipeline::{run_pipeline_with, PipelineError, PipelineSummary};
use debrief::schema::{Codec, Encoding, SchemaError};
use debrief::tenant::{FileFormat, TenantConfig, TenantFileError};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::mocking::MockCluster;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use thiserror::Error;
use tokio_util::sync::CancellationToken;

/// The sample conversations, one JSON object per line (embedded `examples/conversations.jsonl`).
pub const SAMPLE_CONVERSATIONS: &str = include_str!("../../examples/conversations.jsonl");

/// The sample tenant configuration (embedded `examples/tenant.yaml`).
pub const SAMPLE_TENANT: &str = include_str!("../../examples/tenant.yaml");

/// Partitions of the demo's transcript topic.
pub const TRANSCRIPT_PARTITIONS: i32 = 4;

/// Key of the poison record the demo publishes.
pub const POISON_KEY: &str = "demo-poison";

/// Idle timeout of the demo's pipeline, ms (the samples all end with an end event).
pub const DEMO_IDLE_TIMEOUT_MS: u64 = 5_000;

/// How long the demo waits for the telemetry records once every insight has landed.
const TELEMETRY_GRACE: Duration = Duration::from_secs(2);

/// Arguments of `debrief demo`.
#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Address of /metrics, /healthz and /readyz while the demo runs (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:9464")]
    pub metrics_addr: SocketAddr,
    /// Print each insight as raw JSON on stdout (one per line; the commentary goes to stderr).
    #[arg(long)]
    pub json: bool,
    /// Replay speed of the sample calls: `realtime` or a speed factor.
    #[arg(long, value_parser = parse_pace, default_value = "30")]
    pub pace: Pace,
    /// Keep the pipeline and the metrics endpoint up this long after the last insight, ms
    /// (Ctrl-C ends it early). Default: until Ctrl-C when stdout is a terminal, else 0.
    #[arg(long, value_name = "MS")]
    pub hold_ms: Option<u64>,
    /// Give up waiting for insights after this many seconds.
    #[arg(long, default_value_t = 40)]
    pub timeout_secs: u64,
}

/// Why the demo could not run.
#[derive(Debug, Error)]
pub enum DemoError {
    /// The mock cluster's address does not parse (a librdkafka change).
    #[error("mock cluster brokers: {0}")]
    Brokers(debrief::config::BrokersError),
    /// An embedded sample does not parse (a build problem).
    #[error("sample {what}: {reason}")]
    Sample {
        /// Which sample.
        what: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The sample tenant configuration is invalid.
    #[error(transparent)]
    Tenant(Box<TenantFileError>),
    /// The mock cluster or a client failed.
    #[error("kafka: {context}: {source}")]
    Kafka {
        /// What was being done.
        context: String,
        /// The client's error.
        source: KafkaError,
    },
    /// The metrics endpoint could not listen.
    #[error("cannot listen on {addr} for /metrics: {source} (choose another with --metrics-addr, port 0 for any)")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// The error.
        source: std::io::Error,
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

fn kafka(context: &str) -> impl FnOnce(KafkaError) -> DemoError + '_ {
    move |source| DemoError::Kafka {
        context: context.to_string(),
        source,
    }
}

/// The embedded sample conversations.
pub fn sample_conversations() -> Result<Vec<Conversation>, DemoError> {
    SAMPLE_CONVERSATIONS
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            parse_conversation_json(l).map_err(|reason| DemoError::Sample {
                what: "conversations",
                reason: format!("line {}: {reason}", i + 1),
            })
        })
        .collect()
}

/// The embedded sample tenant configuration, validated.
pub fn sample_tenant() -> Result<TenantConfig, DemoError> {
    let config = TenantConfig::parse(SAMPLE_TENANT, FileFormat::Yaml)
        .map_err(|e| DemoError::Tenant(Box::new(e)))?;
    config.validate().map_err(|e| DemoError::Sample {
        what: "tenant",
        reason: e.to_string(),
    })?;
    Ok(config)
}

/// What the demo saw.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DemoSummary {
    /// Insights received, by CRM topic.
    pub insights_by_topic: BTreeMap<String, u64>,
    /// Sample conversations that got an insight.
    pub with_insight: BTreeSet<String>,
    /// Sample conversations that got none within the timeout (the demo failed).
    pub missing: Vec<String>,
    /// Dead letters received, by kind.
    pub dead_letters: BTreeMap<String, u64>,
    /// Telemetry records received.
    pub telemetry: u64,
    /// The metrics URL that was served.
    pub metrics_url: String,
    /// Lines of `/metrics` fetched before stopping (the `debrief_` samples with a value).
    pub metrics_sample: Vec<String>,
    /// The pipeline's own summary.
    pub pipeline: PipelineSummary,
    /// Whole run.
    pub elapsed: Duration,
}

/// Serde name of a unit enum value (`end_event`, `committed`...).
fn name<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// `1m33s`, `42s`, `850ms`.
pub fn human_ms(ms: i64) -> String {
    if ms < 1_000 {
        return format!("{ms}ms");
    }
    let s = ms / 1_000;
    if s < 60 {
        format!("{:.1}s", ms as f64 / 1_000.0)
    } else {
        format!("{}m{:02}s", s / 60, s % 60)
    }
}

/// A readable summary of one insight (several lines, no trailing newline): language, outcome,
/// what finalised it, the KPI headline, action items and tracker counts. Transcript text only
/// appears in action items (the extracted task).
pub fn format_insight(insight: &Insight, topic: &str) -> String {
    let mut s = String::new();
    let lang = insight.language.code.as_deref().unwrap_or("?");
    let _ = write!(
        s,
        "■ {}  [{lang}, {}, finalised by {}] → {topic}",
        insight.conversation_id,
        name(&insight.outcome),
        name(&insight.finalised_by),
    );
    if !insight.skip_reasons.is_empty() {
        let reasons: Vec<String> = insight.skip_reasons.iter().map(name).collect();
        let _ = write!(s, "\n  skipped    {}", reasons.join(", "));
        if insight.outcome == Outcome::Skipped {
            if let Some(v) = &insight.client_version {
                let _ = write!(s, " (client {v})");
            }
        }
    }
    if let Some(k) = &insight.kpis {
        let mut parts = Vec::new();
        if let Some(d) = k.duration_ms {
            parts.push(human_ms(d));
        }
        if let Some(r) = k.talk_to_listen_ratio {
            parts.push(format!("talk/listen {r:.2}"));
        }
        parts.push(format!("{} switches", k.switches));
        if let Some(m) = k.longest_monologue_ms {
            parts.push(format!("longest monologue {}", human_ms(m)));
        }
        if let Some(i) = k.interruptions {
            parts.push(format!("{i} interruption(s)"));
        }
        let q = &k.questions;
        parts.push(format!(
            "questions {} internal / {} external",
            q.internal, q.external
        ));
        let _ = write!(s, "\n  KPIs       {}", parts.join(" · "));
    }
    let _ = write!(s, "\n  actions    {}", insight.action_items.len());
    for a in &insight.action_items {
        let _ = write!(
            s,
            "\n    - {}, {}: \"{}\"",
            name(&a.action_type),
            name(&a.state),
            a.text
        );
        let mut extra = Vec::new();
        if let Some(o) = &a.owner {
            extra.push(format!("owner {o}"));
        }
        if let Some(d) = &a.due {
            extra.push(format!("due {} ({})", d.date, d.phrase));
        }
        if !extra.is_empty() {
            let _ = write!(s, " [{}]", extra.join(", "));
        }
    }
    let mut counts: BTreeMap<(String, String), i64> = BTreeMap::new();
    for c in &insight.tracker_counts {
        *counts
            .entry((name(&c.kind), c.tracker.clone()))
            .or_default() += c.count;
    }
    if counts.is_empty() {
        s.push_str("\n  trackers   none");
    } else {
        let list: Vec<String> = counts
            .iter()
            .map(|((kind, tracker), n)| {
                if kind == "competitor" {
                    format!("{tracker} (competitor) ×{n}")
                } else {
                    format!("{tracker} ×{n}")
                }
            })
            .collect();
        let _ = write!(s, "\n  trackers   {}", list.join(", "));
    }
    s
}

/// Commentary goes to stdout, or to stderr in `--json` mode (stdout then only has insights).
struct Out {
    json: bool,
}

impl Out {
    /// Writes one line; a closed stdout or stderr (`debrief demo | head`) is not an error.
    fn say(&self, line: &str) {
        use std::io::Write;
        let _ = if self.json {
            writeln!(std::io::stderr().lock(), "{line}")
        } else {
            writeln!(std::io::stdout().lock(), "{line}")
        };
    }

    /// Writes one insight as JSON on stdout.
    fn json_line(&self, line: &str) {
        use std::io::Write;
        let _ = writeln!(std::io::stdout().lock(), "{line}");
    }
}

/// Assigns every partition of `topics` from the beginning to `consumer`.
pub(crate) fn assign_all(consumer: &StreamConsumer, topics: &[&str]) -> Result<(), KafkaError> {
    let mut tpl = TopicPartitionList::new();
    for topic in topics {
        let meta = consumer.fetch_metadata(Some(topic), Duration::from_secs(10))?;
        for t in meta.topics() {
            for p in t.partitions() {
                tpl.add_partition_offset(t.name(), p.id(), Offset::Beginning)?;
            }
        }
    }
    consumer.assign(&tpl)
}

/// A consumer without group membership (it only reads), from `brokers`; `fetch_wait_ms` is
/// its `fetch.wait.max.ms` (brokers that hold a fetch that long even when records are there
/// add it to every measured latency).
pub(crate) fn reader(
    brokers: &str,
    name: &str,
    fetch_wait_ms: u32,
) -> Result<StreamConsumer, KafkaError> {
    ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", name)
        .set("client.id", name)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("fetch.wait.max.ms", fetch_wait_ms.to_string())
        .create()
}

async fn fetch_metrics(url: &str) -> Result<String, reqwest::Error> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()?
        .get(url)
        .send()
        .await?
        .text()
        .await
}

/// The `debrief_*` sample lines worth showing: counters and gauges with their values, the
/// latency histogram's count and sum.
pub fn interesting_metrics(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| {
            !l.starts_with('#')
                && (l.starts_with("debrief_records_consumed_total")
                    || l.starts_with("debrief_conversations_finalised_total")
                    || l.starts_with("debrief_insights_produced_total")
                    || l.starts_with("debrief_dead_letters_total")
                    || l.starts_with("debrief_insight_latency_seconds_count")
                    || l.starts_with("debrief_conversations_open"))
        })
        .map(str::to_string)
        .collect()
}

/// How long the demo stays up after the last insight: `None` until Ctrl-C, else the time
/// (zero: not at all). An explicit `--hold-ms` wins; without it a person at a terminal gets
/// until Ctrl-C (time to open the metrics address), scripts and pipes get no wait.
pub fn hold_time(hold_ms: Option<u64>, stdout_is_terminal: bool) -> Option<Duration> {
    match hold_ms {
        Some(ms) => Some(Duration::from_millis(ms)),
        None if stdout_is_terminal => None,
        None => Some(Duration::ZERO),
    }
}

/// Waits for the hold time, or for Ctrl-C (which always ends the hold early).
async fn hold(out: &Out, hold: Option<Duration>, metrics_url: &str) {
    if hold == Some(Duration::ZERO) {
        return;
    }
    // Install the Ctrl-C handler (on the first poll) before saying that Ctrl-C stops the demo.
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);
    if futures::poll!(&mut interrupted).is_ready() {
        return;
    }
    let up = format!("the pipeline and {metrics_url} (also /healthz, /readyz) stay up");
    match hold {
        Some(d) => out.say(&format!(
            "{up} for {} ms (Ctrl-C to stop now)",
            d.as_millis()
        )),
        None => out.say(&format!("{up}: press Ctrl-C to stop")),
    }
    let until = async move {
        match hold {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = until => {}
        _ = &mut interrupted => out.say(""),
    }
}

/// `debrief demo`. Call inside a multi-threaded tokio runtime; the mock cluster lives in this
/// future (it is not `Send`), so run it with `block_on`.
pub async fn run(args: &DemoArgs) -> Result<DemoSummary, DemoError> {
    let started = Instant::now();
    let out = Out { json: args.json };
    let conversations = sample_conversations()?;
    let tenant = sample_tenant()?;

    let cluster = MockCluster::new(1).map_err(kafka("starting the mock cluster"))?;
    let brokers = cluster.bootstrap_servers();
    let mut config = Config::default();
    config.kafka.brokers = brokers.parse().map_err(DemoError::Brokers)?;
    config.kafka.group_id = "debrief-demo".into();
    config.assembly.idle_timeout = Duration::from_millis(DEMO_IDLE_TIMEOUT_MS);
    config.shutdown_deadline = Duration::from_secs(5);
    config.encoding = Encoding::AvroSingleObject;
    let transcripts = config.kafka.topics.transcripts[0].clone();
    let crm_topics = [config.crm.dynamics.clone(), config.crm.salesforce.clone()];
    let dead_letter_topic = config.kafka.topics.dead_letter.clone();
    let telemetry_topic = config.kafka.topics.telemetry.clone();
    let tenant_topic = config.kafka.topics.tenant_config.clone();
    cluster
        .create_topic(&transcripts, TRANSCRIPT_PARTITIONS, 1)
        .map_err(kafka("creating the transcript topic"))?;
    for topic in crm_topics
        .iter()
        .chain([&dead_letter_topic, &telemetry_topic, &tenant_topic])
    {
        cluster
            .create_topic(topic, 1, 1)
            .map_err(kafka("creating a topic"))?;
    }
    cluster
        .create_topic(topics::ERASURE, 1, 1)
        .map_err(kafka("creating the erasure topic"))?;
    out.say(&format!(
        "mock Kafka cluster at {brokers}: topics {transcripts} ({TRANSCRIPT_PARTITIONS} partitions), {}, {}, {telemetry_topic}, {dead_letter_topic}, {tenant_topic}, {}",
        crm_topics[0],
        crm_topics[1],
        topics::ERASURE
    ));

    let listener = http::bind(args.metrics_addr)
        .await
        .map_err(|source| DemoError::Listen {
            addr: args.metrics_addr,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| DemoError::Listen {
        addr: args.metrics_addr,
        source,
    })?;
    config.http.listen = addr;
    let host = if addr.ip().is_unspecified() {
        "127.0.0.1".to_string()
    } else {
        addr.ip().to_string()
    };
    let metrics_url = format!("http://{host}:{}/metrics", addr.port());
    let metrics = Arc::new(Metrics::new()?);
    let health = Arc::new(Health::default());
    let http_stop = CancellationToken::new();
    let server = tokio::spawn(http::serve(
        listener,
        HttpState {
            metrics: metrics.clone(),
            health: health.clone(),
        },
        http_stop.clone(),
    ));
    out.say(&format!("metrics: {metrics_url} (also /healthz, /readyz)"));

    let codec = Arc::new(Codec::new(config.encoding, None)?);
    let mut publisher =
        Publisher::new(&brokers, codec.clone(), &[("linger.ms".into(), "2".into())])?;
    publisher.send_tenant_config(&tenant_topic, &tenant).await?;
    publisher.flush(Duration::from_secs(10)).await?;
    out.say(&format!(
        "published tenant configuration {} v{} ({} tracker(s), {} competitor(s), CRM {})",
        tenant.tenant_id,
        tenant.version,
        tenant.trackers.len(),
        tenant.competitors.len(),
        name(&tenant.crm)
    ));

    let shutdown = CancellationToken::new();
    // Whatever ends this function (an error, a panic), the pipeline and the endpoint stop:
    // the runtime would otherwise wait for the consumer loop forever.
    let _stop_pipeline = shutdown.clone().drop_guard();
    let _stop_http = http_stop.clone().drop_guard();
    let pipeline = tokio::spawn(run_pipeline_with(
        config,
        shutdown.clone(),
        metrics.clone(),
        health.clone(),
    ));

    let watcher =
        reader(&brokers, "debrief-demo-watch", 20).map_err(kafka("creating the insight reader"))?;
    let mut watched: Vec<&str> = crm_topics.iter().map(String::as_str).collect();
    watched.push(&dead_letter_topic);
    watched.push(&telemetry_topic);
    assign_all(&watcher, &watched).map_err(kafka("assigning the insight reader"))?;

    // Publish the calls as live streams (partial then final segments), all at once, paced.
    let opts = ConvertOptions {
        mode: Mode::Stream,
        partials: true,
        ..Default::default()
    };
    let mut plans: Vec<_> = conversations.iter().map(|c| to_events(c, &opts)).collect();
    let events: usize = plans.iter().map(Vec::len).sum();
    let expected: BTreeSet<String> = conversations.iter().map(|c| c.id.clone()).collect();
    out.say(&format!(
        "streaming {} sample conversations ({} events, partial and final segments) at {}× real time, plus one poison record",
        conversations.len(),
        events,
        args.pace.speed
    ));
    let pace = args.pace;
    let topic = transcripts.clone();
    let producing = tokio::spawn(async move {
        let steps = schedule(&plans, true);
        let t0 = tokio::time::Instant::now();
        let poison_at = steps.len() / 2;
        for (i, (c, e, at)) in steps.into_iter().enumerate() {
            tokio::time::sleep_until(t0 + pace.delay(at)).await;
            publisher.send_event(&topic, &mut plans[c][e], true).await?;
            if i == poison_at {
                publisher
                    .send_bytes(
                        &topic,
                        POISON_KEY.as_bytes(),
                        b"this is not a transcript event",
                    )
                    .await?;
            }
        }
        publisher.flush(Duration::from_secs(30)).await?;
        Ok::<_, ProduceError>(publisher.stats)
    });

    let mut summary = DemoSummary {
        metrics_url: metrics_url.clone(),
        ..Default::default()
    };
    let mut deadline = tokio::time::Instant::now() + Duration::from_secs(args.timeout_secs);
    let mut settling = false;
    loop {
        let landed =
            summary.with_insight.len() >= expected.len() && !summary.dead_letters.is_empty();
        if landed && summary.telemetry >= expected.len() as u64 {
            break;
        }
        if landed && !settling {
            // Everything that matters is in; give the telemetry records a moment to follow.
            settling = true;
            deadline = deadline.min(tokio::time::Instant::now() + TELEMETRY_GRACE);
        }
        let msg = match tokio::time::timeout_at(deadline, watcher.recv()).await {
            Err(_) => break,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "insight reader");
                continue;
            }
            Ok(Ok(m)) => m,
        };
        let topic = msg.topic();
        let Some(value) = msg.payload() else { continue };
        if topic == telemetry_topic {
            summary.telemetry += 1;
        } else if topic == dead_letter_topic {
            match codec.decode::<DeadLetter>(value) {
                Ok(dl) => {
                    *summary.dead_letters.entry(name(&dl.kind)).or_default() += 1;
                    out.say(&format!(
                        "✗ dead letter [{}] from {}[{}]@{}: {}",
                        name(&dl.kind),
                        dl.source_topic,
                        dl.source_partition,
                        dl.source_offset,
                        dl.reason
                    ));
                }
                Err(e) => out.say(&format!("✗ unreadable dead letter: {e}")),
            }
        } else {
            match codec.decode::<Insight>(value) {
                Ok(insight) => {
                    *summary
                        .insights_by_topic
                        .entry(topic.to_string())
                        .or_default() += 1;
                    summary.with_insight.insert(insight.conversation_id.clone());
                    if args.json {
                        match serde_json::to_string(&insight) {
                            Ok(line) => out.json_line(&line),
                            Err(e) => out.say(&format!("cannot print insight as JSON: {e}")),
                        }
                    } else {
                        out.say(&format_insight(&insight, topic));
                    }
                }
                Err(e) => out.say(&format!("✗ unreadable insight on {topic}: {e}")),
            }
        }
    }
    summary.missing = expected
        .difference(&summary.with_insight)
        .cloned()
        .collect();
    if summary.missing.is_empty() {
        out.say(&format!(
            "all {} sample conversations have an insight",
            expected.len()
        ));
    }
    hold(
        &out,
        hold_time(args.hold_ms, std::io::stdout().is_terminal()),
        &metrics_url,
    )
    .await;

    shutdown.cancel();
    let produced = producing
        .await
        .map_err(|e| DemoError::Internal(format!("the publisher task: {e}")))?;
    let pipeline = pipeline
        .await
        .map_err(|e| DemoError::Internal(format!("the pipeline task: {e}")))?;
    // Read once the pipeline has stopped, so the gauges agree with its own summary below.
    match fetch_metrics(&metrics_url).await {
        Ok(text) => summary.metrics_sample = interesting_metrics(&text),
        Err(e) => out.say(&format!("could not read {metrics_url}: {e}")),
    }
    http_stop.cancel();
    let _ = server.await;
    drop(watcher);
    drop(cluster);
    let stats = produced?;
    summary.pipeline = pipeline?;
    summary.elapsed = started.elapsed();

    out.say("");
    out.say("summary");
    out.say(&format!(
        "  published    {} records, {} bytes",
        stats.records, stats.bytes
    ));
    let per_topic: Vec<String> = summary
        .insights_by_topic
        .iter()
        .map(|(t, n)| format!("{t}: {n}"))
        .collect();
    out.say(&format!(
        "  insights     {} for {} of {} sample conversations ({})",
        summary.insights_by_topic.values().sum::<u64>(),
        summary.with_insight.len(),
        expected.len(),
        per_topic.join(", ")
    ));
    let dl: Vec<String> = summary
        .dead_letters
        .iter()
        .map(|(k, n)| format!("{k}: {n}"))
        .collect();
    out.say(&format!(
        "  dead letters {} ({})",
        summary.dead_letters.values().sum::<u64>(),
        if dl.is_empty() {
            "none".to_string()
        } else {
            dl.join(", ")
        }
    ));
    out.say(&format!("  telemetry    {} records", summary.telemetry));
    out.say(&format!(
        "  pipeline     {} records consumed, {} conversations finalised, {} insights, {} dead letter(s), {} open conversation(s) handed back",
        summary.pipeline.records_consumed,
        summary.pipeline.conversations_finalised,
        summary.pipeline.insights_produced,
        summary.pipeline.dead_letters,
        summary.pipeline.open_conversations_handed_back
    ));
    out.say(&format!(
        "  metrics      from {metrics_url} once the pipeline stopped:"
    ));
    for line in &summary.metrics_sample {
        out.say(&format!("                 {line}"));
    }
    if !summary.missing.is_empty() {
        out.say(&format!(
            "  MISSING      no insight within {} s for: {}",
            args.timeout_secs,
            summary.missing.join(", ")
        ));
    }
    out.say(&format!(
        "  took         {:.1} s",
        summary.elapsed.as_secs_f64()
    ));
    Ok(summary)
}

/// `debrief demo` from `main`: runs the demo; failure (exit 1) when a sample conversation got
/// no insight.
pub fn command(args: DemoArgs) -> Result<std::process::ExitCode, DemoError> {
    crate::cli::produce::init_logging("warn");
    let rt = crate::cli::produce::runtime().map_err(DemoError::Runtime)?;
    let summary = rt.block_on(run(&args))?;
    Ok(if summary.missing.is_empty() {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use debrief::extract::{analyse, ExtractContext, Settings};
    use debrief::insight::FinalisedBy;
    use debrief::tenant::apply_tenant_sides;

    #[test]
    fn holds_until_ctrl_c_only_for_a_person_at_a_terminal() {
        assert_eq!(hold_time(None, true), None);
        assert_eq!(hold_time(None, false), Some(Duration::ZERO));
        assert_eq!(hold_time(Some(250), true), Some(Duration::from_millis(250)));
        assert_eq!(hold_time(Some(0), true), Some(Duration::ZERO));
    }

    #[test]
    fn samples_cover_four_languages_and_an_outdated_client() {
        let convs = sample_conversations().unwrap();
        assert_eq!(convs.len(), 5);
        let ids: Vec<&str> = convs.iter().map(|c| c.id.as_str()).collect();
        for prefix in ["demo-en-", "demo-fr-", "demo-de-", "demo-es-"] {
            assert!(
                ids.iter().any(|id| id.starts_with(prefix)),
                "{prefix} in {ids:?}"
            );
        }
        assert!(convs
            .iter()
            .any(|c| c.client_version.as_deref() == Some("1.0.7")));
        let tenant = sample_tenant().unwrap();
        assert_eq!(tenant.tenant_id, "acme-sales");
        assert!(convs.iter().all(|c| c.tenant_id == tenant.tenant_id));
    }

    #[test]
    fn human_durations() {
        assert_eq!(human_ms(850), "850ms");
        assert_eq!(human_ms(1_250), "1.2s");
        assert_eq!(human_ms(93_860), "1m33s");
    }

    fn insight_of(id: &str) -> Insight {
        let tenant = sample_tenant().unwrap();
        let rt = debrief::tenant::TenantRuntime::compile(tenant.clone()).unwrap();
        let mut conv = sample_conversations()
            .unwrap()
            .into_iter()
            .find(|c| c.id == id)
            .unwrap();
        apply_tenant_sides(&mut conv, &tenant);
        let settings = Settings::default();
        let ctx = ExtractContext {
            settings: &settings,
            tenant: Some(&rt),
            finalised_by: FinalisedBy::EndEvent,
            reference_time: None,
        };
        analyse(&conv, &ctx)
    }

    #[test]
    fn an_outdated_client_shows_why_it_was_skipped() {
        let text = format_insight(&insight_of("demo-en-old-client"), "t");
        let first = text.lines().next().unwrap();
        // A skipped conversation is not analysed: no language, no KPIs.
        assert_eq!(
            first,
            "■ demo-en-old-client  [?, skipped, finalised by end_event] → t"
        );
        assert!(!text.contains("KPIs"), "{text}");
        assert!(
            text.contains("\n  skipped    client_version (client 1.0.7)"),
            "{text}"
        );
    }

    #[test]
    fn a_full_insight_shows_kpis_actions_and_trackers() {
        let insight = insight_of("demo-en-acme-renewal");
        let text = format_insight(&insight, "debrief.insights.salesforce.v1");
        assert!(text.starts_with("■ demo-en-acme-renewal  [en, "), "{text}");
        // The sample mentions Salesforce as a competitor and "price"/"budget"/"discount".
        assert!(text.contains("Salesforce (competitor) ×"), "{text}");
        assert!(text.contains("pricing ×"), "{text}");
        assert!(
            text.contains(&format!("\n  actions    {}", insight.action_items.len())),
            "{text}"
        );
        assert_eq!(text.matches("\n    - ").count(), insight.action_items.len());
        assert!(text.contains("switches"), "{text}");
    }

    #[test]
    fn only_debrief_samples_are_kept_from_metrics() {
        let text = "# HELP debrief_insights_produced_total x\n# TYPE debrief_insights_produced_total counter\n\
                    debrief_insights_produced_total{topic=\"a\"} 5\nprocess_cpu 1\n\
                    debrief_insight_latency_seconds_bucket{le=\"0.1\"} 5\ndebrief_insight_latency_seconds_count 5\n";
        assert_eq!(
            interesting_metrics(text),
            [
                "debrief_insights_produced_total{topic=\"a\"} 5",
                "debrief_insight_latency_seconds_count 5"
            ]
        );
    }
}
