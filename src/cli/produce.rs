//! `debrief produce`: publishes transcript files as contract events, the way a meeting
//! platform would, to test an integration end to end.
//!
//! Two modes ([`Mode`]):
//! - `stream`: per conversation, `ConversationStarted`, then every segment in file order
//!   (with `--partials`, each segment is preceded by a partial revision carrying the first
//!   half of its words, to exercise revision handling), then `ConversationEnded` with the
//!   number of distinct segments;
//! - `complete`: one `CompleteTranscript` per conversation.
//!
//! The conversion ([`to_events`], in the library: `debrief::ingest::stream`) is pure; [`Publisher`] puts events on the wire with an
//! idempotent rdkafka `FutureProducer`, keyed by conversation id, stamping `emitted_at_ms`
//! at send time. Optional pacing ([`Pace`]) replays the segment offsets in real time (or
//! faster), all conversations of the input at once, as concurrent meetings would.

use clap::Args;
use debrief::events::{topics, TranscriptEvent, TranscriptPayload};
use debrief::extract::{parse_version, Settings};
use debrief::ingest::files::{self, FileError};
use debrief::schema::{Codec, Encoding, SchemaError};
use debrief::tenant::{TenantConfig, TenantFileError};
use futures::stream::{FuturesUnordered, StreamExt};
use futures::FutureExt;
use rdkafka::config::ClientConfig;
use rdkafka::error::KafkaError;
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::util::Timeout;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use thiserror::Error;

/// Records handed to the producer and not yet acknowledged, at most; beyond, sending waits.
pub const MAX_IN_FLIGHT: usize = 200_000;

pub use debrief::ingest::stream::{to_events, ConvertOptions, Mode};

/// When each event happens in the conversation, ms from its start, for pacing: `Started` at
/// 0; a final segment when it ends (its end offset, else its start); a partial at its own
/// end offset; `Ended` and `Complete` after everything before them. Never decreasing (an
/// event never waits less than the one before it) and never negative; events without offsets
/// take the previous time.
pub fn pace_offsets(events: &[TranscriptEvent]) -> Vec<i64> {
    let mut at = 0i64;
    events
        .iter()
        .map(|e| {
            if let TranscriptPayload::Segment(s) = &e.payload {
                if let Some(t) = s.end_ms.or(s.start_ms) {
                    at = at.max(t);
                }
            }
            at
        })
        .collect()
}

/// Publishing order of several conversations' events, as `(conversation, event)` indexes.
/// Without pacing, conversation after conversation. With pacing, all conversations start
/// together and events are merged by their [`pace_offsets`] (ties: earlier conversation
/// first), each conversation keeping its own order. Returns the offset of each step too.
pub fn schedule(plans: &[Vec<TranscriptEvent>], paced: bool) -> Vec<(usize, usize, i64)> {
    let mut steps: Vec<(usize, usize, i64)> = Vec::new();
    for (c, events) in plans.iter().enumerate() {
        let offsets = pace_offsets(events);
        steps.extend(offsets.into_iter().enumerate().map(|(e, at)| (c, e, at)));
    }
    if paced {
        // Stable: equal times keep conversation order, then event order.
        steps.sort_by_key(|&(_, _, at)| at);
    }
    steps
}

/// Replay speed of `--pace`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pace {
    /// How many times faster than real time (1 = real time).
    pub speed: f64,
}

impl Pace {
    /// Wall-clock delay of an event `offset_ms` into the conversation.
    pub fn delay(self, offset_ms: i64) -> Duration {
        Duration::from_secs_f64(offset_ms.max(0) as f64 / 1000.0 / self.speed)
    }
}

/// `true` when `version` parses and is older than `min` (an unparsable version is the
/// pipeline's business, not a warning here).
pub fn is_outdated(version: &str, min: &str) -> bool {
    match (parse_version(version), parse_version(min)) {
        (Some(v), Some(m)) => v < m,
        _ => false,
    }
}

/// Parses `--pace`: `realtime` (speed 1) or a positive speed factor (`10`, `0.5`).
pub fn parse_pace(s: &str) -> Result<Pace, String> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("realtime") || s.eq_ignore_ascii_case("real-time") {
        return Ok(Pace { speed: 1.0 });
    }
    match s.parse::<f64>() {
        Ok(speed) if speed.is_finite() && speed > 0.0 => Ok(Pace { speed }),
        _ => Err(format!(
            "`{s}` is not a pace: use `realtime` or a speed factor above 0 (`10` = ten times faster)"
        )),
    }
}

/// Parses an encoding name: `avro_single_object` (also `avro-single-object`, `avro`),
/// `confluent`, `json`.
pub fn parse_encoding(s: &str) -> Result<Encoding, String> {
    match s.trim().to_ascii_lowercase().replace('-', "_").as_str() {
        "avro_single_object" | "avro" => Ok(Encoding::AvroSingleObject),
        "confluent" => Ok(Encoding::Confluent),
        "json" => Ok(Encoding::Json),
        other => Err(format!(
            "`{other}` is not an encoding: use avro_single_object, confluent or json"
        )),
    }
}

/// Parses a `KEY=VALUE` librdkafka option.
pub fn parse_option(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!("`{s}` is not KEY=VALUE (a librdkafka setting)")),
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Why publishing failed.
#[derive(Debug, Error)]
pub enum ProduceError {
    /// A transcript file could not be opened.
    #[error(transparent)]
    File(#[from] FileError),
    /// The tenant configuration file is unreadable or invalid.
    #[error(transparent)]
    TenantFile(Box<TenantFileError>),
    /// The codec could not be built or a record not encoded.
    #[error("schema: {0}")]
    Schema(#[from] SchemaError),
    /// The producer could not be created or a record not handed to it.
    #[error("kafka: {context}: {source}")]
    Kafka {
        /// What was being done.
        context: String,
        /// The client's error.
        source: KafkaError,
    },
    /// The broker did not acknowledge a record.
    #[error("delivery to {topic} failed: {source}")]
    Delivery {
        /// Topic of the record.
        topic: String,
        /// The client's error.
        source: KafkaError,
    },
    /// Records were still unacknowledged when the flush timeout expired.
    #[error("{0} record(s) not acknowledged within the flush timeout")]
    FlushTimeout(usize),
    /// The async runtime could not start.
    #[error("cannot start the runtime: {0}")]
    Runtime(std::io::Error),
}

/// Counts of what a [`Publisher`] handed to the broker.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PublishStats {
    /// Records sent (all kinds).
    pub records: u64,
    /// Bytes of record values sent.
    pub bytes: u64,
    /// Records acknowledged by the broker.
    pub acknowledged: u64,
}

/// An idempotent `FutureProducer` plus a codec: encodes contract records, keys them, and keeps
/// at most [`MAX_IN_FLIGHT`] unacknowledged (sending waits beyond). The first delivery error
/// is returned by the next call.
pub struct Publisher {
    producer: FutureProducer,
    codec: Arc<Codec>,
    pending: FuturesUnordered<DeliveryFuture>,
    failed: Option<ProduceError>,
    /// What was sent so far.
    pub stats: PublishStats,
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher")
            .field("in_flight", &self.pending.len())
            .field("stats", &self.stats)
            .finish()
    }
}

impl Publisher {
    /// A publisher to `brokers` with extra librdkafka `options` (applied last, so they may
    /// tune `linger.ms`, security...). `enable.idempotence` is always on.
    pub fn new(
        brokers: &str,
        codec: Arc<Codec>,
        options: &[(String, String)],
    ) -> Result<Publisher, ProduceError> {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", brokers);
        config.set("client.id", "debrief-produce");
        config.set("queue.buffering.max.messages", "1000000");
        for (k, v) in options {
            config.set(k, v);
        }
        config.set("enable.idempotence", "true");
        let producer: FutureProducer = config.create().map_err(|source| ProduceError::Kafka {
            context: "creating the producer".into(),
            source,
        })?;
        Ok(Publisher {
            producer,
            codec,
            pending: FuturesUnordered::new(),
            failed: None,
            stats: PublishStats::default(),
        })
    }

    /// Encodes `event` (stamping `emitted_at_ms` with the current time when `stamp`) and
    /// sends it to `topic` keyed by its conversation id. Returns the value's size in bytes.
    pub async fn send_event(
        &mut self,
        topic: &str,
        event: &mut TranscriptEvent,
        stamp: bool,
    ) -> Result<usize, ProduceError> {
        if stamp {
            event.header.emitted_at_ms = Some(now_ms());
        }
        let bytes = self.codec.encode_async(topic, &*event).await?;
        self.send_bytes(topic, event.conversation_id.as_bytes(), &bytes)
            .await?;
        Ok(bytes.len())
    }

    /// Encodes a tenant configuration and sends it to `topic` keyed by tenant id.
    pub async fn send_tenant_config(
        &mut self,
        topic: &str,
        config: &TenantConfig,
    ) -> Result<usize, ProduceError> {
        let bytes = self.codec.encode_async(topic, config).await?;
        self.send_bytes(topic, config.tenant_id.as_bytes(), &bytes)
            .await?;
        Ok(bytes.len())
    }

    /// Sends raw bytes (already encoded, or deliberately not: a poison message).
    pub async fn send_bytes(
        &mut self,
        topic: &str,
        key: &[u8],
        payload: &[u8],
    ) -> Result<(), ProduceError> {
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        let mut record = FutureRecord::to(topic).key(key).payload(payload);
        loop {
            match self.producer.send_result(record) {
                Ok(future) => {
                    self.pending.push(future);
                    break;
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    record = r;
                    if !self.wait_one().await {
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                }
                Err((source, _)) => {
                    return Err(ProduceError::Kafka {
                        context: format!("producing to {topic}"),
                        source,
                    })
                }
            }
        }
        self.stats.records += 1;
        self.stats.bytes += payload.len() as u64;
        self.reap();
        while self.pending.len() > MAX_IN_FLIGHT {
            self.wait_one().await;
        }
        match self.failed.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Collects the acknowledgements already in, without waiting.
    fn reap(&mut self) {
        while let Some(Some(result)) = self.pending.next().now_or_never() {
            self.record(result);
        }
    }

    /// Waits for one acknowledgement; `false` when nothing is in flight.
    async fn wait_one(&mut self) -> bool {
        match self.pending.next().await {
            Some(result) => {
                self.record(result);
                true
            }
            None => false,
        }
    }

    fn record(&mut self, result: <DeliveryFuture as std::future::Future>::Output) {
        match result {
            Ok(Ok(_)) => self.stats.acknowledged += 1,
            Ok(Err((source, msg))) => {
                if self.failed.is_none() {
                    use rdkafka::Message;
                    self.failed = Some(ProduceError::Delivery {
                        topic: msg.topic().to_string(),
                        source,
                    });
                }
            }
            Err(_) => {
                if self.failed.is_none() {
                    self.failed = Some(ProduceError::Delivery {
                        topic: "?".into(),
                        source: KafkaError::Canceled,
                    });
                }
            }
        }
    }

    /// Waits until every record sent is acknowledged (at most `timeout`); returns the first
    /// delivery error.
    pub async fn flush(&mut self, timeout: Duration) -> Result<(), ProduceError> {
        let deadline = tokio::time::Instant::now() + timeout;
        while !self.pending.is_empty() {
            match tokio::time::timeout_at(deadline, self.pending.next()).await {
                Ok(Some(result)) => self.record(result),
                Ok(None) => break,
                Err(_) => return Err(ProduceError::FlushTimeout(self.pending.len())),
            }
        }
        let _ = self
            .producer
            .flush(Timeout::After(Duration::from_millis(100)));
        match self.failed.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// Arguments of `debrief produce`.
#[derive(Debug, Clone, Args)]
pub struct ProduceArgs {
    /// Transcript files (.jsonl, .vtt, .json).
    #[arg(required = true, value_name = "FILE")]
    pub inputs: Vec<PathBuf>,
    /// Bootstrap servers.
    #[arg(long, default_value = "localhost:9092", env = "DEBRIEF_BROKERS")]
    pub brokers: String,
    /// Transcript topic.
    #[arg(long, default_value = topics::TRANSCRIPTS)]
    pub topic: String,
    /// `stream` (Started, segments, Ended) or `complete` (one CompleteTranscript).
    #[arg(long, value_enum, default_value_t = Mode::Stream)]
    pub mode: Mode,
    /// Stream mode: send a partial revision before each final segment.
    #[arg(long)]
    pub partials: bool,
    /// Tenant id of every event (default: the file's, else `default`).
    #[arg(long)]
    pub tenant: Option<String>,
    /// Client version of every event (default: the file's, else this crate's version).
    #[arg(long)]
    pub client_version: Option<String>,
    /// Source platform of every event (default: the file's, else `file`).
    #[arg(long)]
    pub source_platform: Option<String>,
    /// Wire encoding: avro_single_object, confluent (needs --schema-registry) or json.
    #[arg(long, value_parser = parse_encoding, default_value = "avro_single_object")]
    pub encoding: Encoding,
    /// Schema registry URL for the confluent encoding (`http://registry:8081`).
    #[arg(long, value_name = "URL")]
    pub schema_registry: Option<String>,
    /// Replay the segment offsets in time: `realtime` or a speed factor (`10` = ten times
    /// faster). All conversations of the input run at once. Default: as fast as possible.
    #[arg(long, value_parser = parse_pace)]
    pub pace: Option<Pace>,
    /// Also publish this tenant configuration (.yaml/.json) first.
    #[arg(long, value_name = "FILE")]
    pub tenant_config: Option<PathBuf>,
    /// Tenant configuration topic.
    #[arg(long, default_value = topics::TENANT_CONFIG)]
    pub tenant_config_topic: String,
    /// Extra librdkafka producer setting (security, tuning), repeatable.
    #[arg(short = 'X', long = "option", value_name = "KEY=VALUE", value_parser = parse_option)]
    pub options: Vec<(String, String)>,
}

/// What `debrief produce` did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProduceSummary {
    /// Conversations published.
    pub conversations: u64,
    /// Transcript events published (all kinds).
    pub events: u64,
    /// Of which segment events (partials included).
    pub segments: u64,
    /// Bytes of record values (transcript events and tenant configurations).
    pub bytes: u64,
    /// Tenant configurations published.
    pub tenant_configs: u64,
    /// Conversations that could not be read (reported through the callback).
    pub failures: u64,
    /// Conversations published with a client version older than the pipeline's default
    /// minimum (`settings.min_client_version`, 1.0.9): their insights will say
    /// `skipped: client_version` unless the pipeline is configured otherwise.
    pub outdated_client: u64,
    /// From the first send to the last acknowledgement.
    pub elapsed: Duration,
}

impl ProduceSummary {
    /// Events per second over [`elapsed`](ProduceSummary::elapsed) (0 when nothing was sent).
    pub fn events_per_second(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.events as f64 / secs
        } else {
            0.0
        }
    }
}

/// `debrief produce`: reads every input (a malformed conversation is reported through
/// `report` and skipped), publishes the tenant configuration first when given, then the
/// events, and waits for every acknowledgement. Call inside a tokio runtime.
pub async fn run(
    args: &ProduceArgs,
    report: &mut dyn FnMut(&FileError),
) -> Result<ProduceSummary, ProduceError> {
    let tenant = args
        .tenant_config
        .as_deref()
        .map(TenantConfig::from_path)
        .transpose()
        .map_err(|e| ProduceError::TenantFile(Box::new(e)))?;
    let opts = ConvertOptions {
        mode: args.mode,
        partials: args.partials,
        tenant: args.tenant.clone(),
        client_version: args.client_version.clone(),
        source_platform: args.source_platform.clone(),
    };
    let mut summary = ProduceSummary::default();
    let min_version = Settings::default().min_client_version;
    let mut plans = Vec::new();
    for path in &args.inputs {
        for item in files::open(path)? {
            match item {
                Ok(conv) => {
                    let events = to_events(&conv, &opts);
                    if events
                        .first()
                        .is_some_and(|e| is_outdated(&e.header.client_version, &min_version))
                    {
                        summary.outdated_client += 1;
                    }
                    plans.push(events);
                }
                Err(e) => {
                    summary.failures += 1;
                    report(&e);
                }
            }
        }
    }
    let codec = Arc::new(Codec::new(args.encoding, args.schema_registry.as_deref())?);
    let mut publisher = Publisher::new(&args.brokers, codec, &args.options)?;
    let started = Instant::now();
    if let Some(config) = &tenant {
        publisher
            .send_tenant_config(&args.tenant_config_topic, config)
            .await?;
        summary.tenant_configs += 1;
    }
    let steps = schedule(&plans, args.pace.is_some());
    let t0 = tokio::time::Instant::now();
    for (c, e, at) in steps {
        if let Some(pace) = args.pace {
            tokio::time::sleep_until(t0 + pace.delay(at)).await;
        }
        let event = &mut plans[c][e];
        if matches!(event.payload, TranscriptPayload::Segment(_)) {
            summary.segments += 1;
        }
        publisher.send_event(&args.topic, event, true).await?;
        summary.events += 1;
    }
    publisher.flush(Duration::from_secs(60)).await?;
    summary.conversations = plans.len() as u64;
    summary.bytes = publisher.stats.bytes;
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// Installs a `tracing` subscriber on stderr: level from `RUST_LOG`, else `default`
/// (`warn` keeps the tools' own output readable). Does nothing when one is installed.
pub(crate) fn init_logging(default: &str) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// A multi-threaded tokio runtime for the tools' commands.
pub(crate) fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
}

/// `debrief produce` from `main`: publishes, prints the summary on stderr, and fails when a
/// conversation could not be read.
pub fn command(args: ProduceArgs) -> Result<std::process::ExitCode, ProduceError> {
    init_logging("warn");
    let rt = runtime().map_err(ProduceError::Runtime)?;
    let mut report = |e: &FileError| eprintln!("error: {e}");
    let s = rt.block_on(run(&args, &mut report))?;
    eprintln!(
        "published {} event(s) ({} segment(s)) of {} conversation(s){} to {}, {} bytes in {:.2}s ({:.0} events/s){}",
        s.events,
        s.segments,
        s.conversations,
        if s.tenant_configs > 0 { " and 1 tenant configuration" } else { "" },
        args.topic,
        s.bytes,
        s.elapsed.as_secs_f64(),
        s.events_per_second(),
        if s.failures > 0 { format!(", {} unreadable conversation(s)", s.failures) } else { String::new() },
    );
    if s.outdated_client > 0 {
        eprintln!(
            "warning: {} conversation(s) carry a client version older than {}: the pipeline skips their insights (`skipped: client_version`); set --client-version to publish as a newer client",
            s.outdated_client,
            Settings::default().min_client_version
        );
    }
    if s.outdated_client > 0 {
        eprintln!(
            "warning: {} conversation(s) carry a client version older than {}: the pipeline skips their insights (`skipped: client_version`); set --client-version to publish as a newer client",
            s.outdated_client,
            Settings::default().min_client_version
        );
    }
    Ok(if s.failures > 0 {
        std::process::ExitCode::FAILURE
    } else {
        std::process::ExitCode::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;
    use debrief::events::SpeakerRole;
    use debrief::ingest::stream::{distinct_segments, header_for};
    use debrief::model::{Conversation, Segment, Side};

    fn seg(id: &str, side: Side, start: Option<i64>, end: Option<i64>, text: &str) -> Segment {
        Segment {
            id: id.into(),
            speaker: format!("spk-{id}"),
            side,
            start_ms: start,
            end_ms: end,
            text: text.into(),
            ..Default::default()
        }
    }

    fn conv() -> Conversation {
        Conversation {
            id: "c1".into(),
            tenant_id: "acme".into(),
            source_platform: Some("teams".into()),
            client_version: Some("1.2.0".into()),
            language: Some("en".into()),
            started_at: Some(DateTime::parse_from_rfc3339("2026-01-01T10:00:00+00:00").unwrap()),
            time_zone: Some("Europe/Paris".into()),
            owner_id: Some("a".into()),
            segments: vec![
                seg(
                    "a",
                    Side::Internal,
                    Some(0),
                    Some(4_000),
                    "one two three four five",
                ),
                seg("b", Side::External, Some(5_000), Some(6_000), "ok"),
                seg("c", Side::Unknown, None, None, "no timing here"),
            ],
        }
    }

    fn kinds(events: &[TranscriptEvent]) -> Vec<String> {
        events
            .iter()
            .map(|e| match &e.payload {
                TranscriptPayload::Started(_) => "started".to_string(),
                TranscriptPayload::Segment(s) => {
                    format!(
                        "{}:{}:{}",
                        s.segment_id,
                        s.revision,
                        if s.is_final { "final" } else { "partial" }
                    )
                }
                TranscriptPayload::Ended(_) => "ended".to_string(),
                TranscriptPayload::Complete(_) => "complete".to_string(),
            })
            .collect()
    }

    #[test]
    fn stream_mode_is_started_segments_in_order_then_ended() {
        let events = to_events(&conv(), &ConvertOptions::default());
        assert_eq!(
            kinds(&events),
            ["started", "a:0:final", "b:0:final", "c:0:final", "ended"]
        );
        assert!(events.iter().all(|e| e.conversation_id == "c1"));
        let TranscriptPayload::Started(s) = &events[0].payload else {
            panic!()
        };
        // 2026-01-01T10:00:00Z = 1767261600 s since the epoch.
        assert_eq!(s.started_at_ms, Some(1_767_261_600_000));
        assert_eq!(s.time_zone.as_deref(), Some("Europe/Paris"));
        assert_eq!(s.language.as_deref(), Some("en"));
        let TranscriptPayload::Segment(b) = &events[2].payload else {
            panic!()
        };
        assert_eq!(b.speaker_id, "spk-b");
        assert_eq!(b.speaker_role, SpeakerRole::External);
        assert_eq!((b.start_ms, b.end_ms), (Some(5_000), Some(6_000)));
        assert_eq!(b.text, "ok");
        let TranscriptPayload::Ended(end) = &events[4].payload else {
            panic!()
        };
        // Three distinct segments; ends at start + 6 s (the largest end offset).
        assert_eq!(end.segment_count, Some(3));
        assert_eq!(end.ended_at_ms, Some(1_767_261_606_000));
    }

    #[test]
    fn partials_precede_each_final_with_half_the_words() {
        let opts = ConvertOptions {
            partials: true,
            ..Default::default()
        };
        let events = to_events(&conv(), &opts);
        assert_eq!(
            kinds(&events),
            [
                "started",
                "a:0:partial",
                "a:1:final",
                "b:0:partial",
                "b:1:final",
                "c:0:partial",
                "c:1:final",
                "ended"
            ]
        );
        let body = |i: usize| match &events[i].payload {
            TranscriptPayload::Segment(s) => s.clone(),
            _ => panic!("not a segment"),
        };
        // Five words: the partial keeps three (rounded up), and ends half-way (0 + 4000 / 2).
        assert_eq!(body(1).text, "one two three");
        assert_eq!(body(1).end_ms, Some(2_000));
        assert_eq!(body(2).text, "one two three four five");
        assert_eq!(body(2).end_ms, Some(4_000));
        // One word: kept whole. No offsets: none invented.
        assert_eq!(body(3).text, "ok");
        assert_eq!((body(5).start_ms, body(5).end_ms), (None, None));
        assert_eq!(body(5).text, "no timing");
        // The end event still counts distinct segments, not events.
        let TranscriptPayload::Ended(end) = &events[7].payload else {
            panic!()
        };
        assert_eq!(end.segment_count, Some(3));
    }

    #[test]
    fn complete_mode_is_one_event_with_every_segment() {
        let opts = ConvertOptions {
            mode: Mode::Complete,
            partials: true,
            ..Default::default()
        };
        let events = to_events(&conv(), &opts);
        assert_eq!(events.len(), 1);
        let TranscriptPayload::Complete(c) = &events[0].payload else {
            panic!()
        };
        assert_eq!(c.segments.len(), 3);
        assert!(c.segments.iter().all(|s| s.is_final && s.revision == 0));
        assert_eq!(c.segments[0].speaker_role, SpeakerRole::Internal);
        assert_eq!(c.started_at_ms, Some(1_767_261_600_000));
    }

    #[test]
    fn header_takes_overrides_then_the_file_then_defaults() {
        let h = header_for(&conv(), &ConvertOptions::default());
        assert_eq!(
            (
                h.tenant_id.as_str(),
                h.source_platform.as_str(),
                h.client_version.as_str()
            ),
            ("acme", "teams", "1.2.0")
        );
        assert_eq!(h.emitted_at_ms, None);
        let opts = ConvertOptions {
            tenant: Some("globex".into()),
            client_version: Some("1.0.7".into()),
            source_platform: Some("zoom".into()),
            ..Default::default()
        };
        let events = to_events(&conv(), &opts);
        assert!(events.iter().all(|e| e.header.tenant_id == "globex"
            && e.header.client_version == "1.0.7"
            && e.header.source_platform == "zoom"));
        let bare = Conversation {
            id: "x".into(),
            ..Default::default()
        };
        let h = header_for(&bare, &ConvertOptions::default());
        assert_eq!(h.tenant_id, "default");
        assert_eq!(h.source_platform, "file");
        assert_eq!(h.client_version, env!("CARGO_PKG_VERSION"));
    }

    #[test]
    fn duplicate_segment_ids_are_counted_once_and_empty_conversations_still_start_and_end() {
        let mut c = conv();
        c.segments[2].id = "a".into();
        assert_eq!(distinct_segments(&c), 2);
        let empty = Conversation {
            id: "e".into(),
            tenant_id: "t".into(),
            ..Default::default()
        };
        let events = to_events(&empty, &ConvertOptions::default());
        assert_eq!(kinds(&events), ["started", "ended"]);
        let TranscriptPayload::Ended(end) = &events[1].payload else {
            panic!()
        };
        assert_eq!((end.segment_count, end.ended_at_ms), (Some(0), None));
    }

    #[test]
    fn pace_offsets_never_go_back() {
        let mut c = conv();
        // Overlap: b ends before a.
        c.segments[1].end_ms = Some(3_000);
        let events = to_events(
            &c,
            &ConvertOptions {
                partials: true,
                ..Default::default()
            },
        );
        // started 0, a partial 2000, a final 4000, b partial (5000+(3000-5000)/2 = 4000),
        // b final 3000 -> stays 4000, c (no offsets) stays, ended stays.
        assert_eq!(
            pace_offsets(&events),
            [0, 2_000, 4_000, 4_000, 4_000, 4_000, 4_000, 4_000]
        );
    }

    #[test]
    fn schedule_interleaves_only_when_paced() {
        let mut a = conv();
        a.segments.truncate(1); // started 0, a 4000, ended 4000
        let mut b = conv();
        b.id = "c2".into();
        b.segments = vec![seg("x", Side::Internal, Some(0), Some(1_000), "hi")]; // 0, 1000, 1000
        let plans = vec![
            to_events(&a, &Default::default()),
            to_events(&b, &Default::default()),
        ];
        let order = |paced| {
            schedule(&plans, paced)
                .iter()
                .map(|&(c, e, _)| (c, e))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            order(false),
            [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]
        );
        assert_eq!(
            order(true),
            [(0, 0), (1, 0), (1, 1), (1, 2), (0, 1), (0, 2)]
        );
    }

    #[test]
    fn outdated_versions_are_recognised() {
        assert!(is_outdated("0.1.0", "1.0.9"));
        assert!(is_outdated("1.0.8", "1.0.9"));
        assert!(!is_outdated("1.0.9", "1.0.9"));
        assert!(!is_outdated("1.10.0", "1.0.9"));
        assert!(!is_outdated("garbage", "1.0.9"));
    }

    #[test]
    fn pace_and_encoding_and_options_parse() {
        assert_eq!(parse_pace("realtime"), Ok(Pace { speed: 1.0 }));
        assert_eq!(parse_pace("10"), Ok(Pace { speed: 10.0 }));
        assert!(parse_pace("0").is_err());
        assert!(parse_pace("fast").unwrap_err().contains("`fast`"));
        assert_eq!(
            Pace { speed: 10.0 }.delay(5_000),
            Duration::from_millis(500)
        );
        assert_eq!(
            parse_encoding("avro-single-object"),
            Ok(Encoding::AvroSingleObject)
        );
        assert_eq!(parse_encoding("JSON"), Ok(Encoding::Json));
        assert_eq!(parse_encoding("confluent"), Ok(Encoding::Confluent));
        assert!(parse_encoding("protobuf").is_err());
        assert_eq!(
            parse_option("linger.ms=5"),
            Ok(("linger.ms".into(), "5".into()))
        );
        assert!(parse_option("=5").is_err());
        assert!(parse_option("linger.ms").is_err());
    }
}
