//! `debrief report`: what representatives did with the suggestions, as one self-contained
//! HTML file. Reads the telemetry topic (from the beginning to the end offsets it has when the
//! command starts, then stops) or a JSON Lines export of it (`--input`: one
//! `InteractionTelemetry` JSON object per line, as the JSON encoding writes them, or the
//! lines of `debrief admin export`); the figures and the page come from `debrief::analytics`.
//! `--demo-data FILE` writes a generated telemetry file instead (deterministic, seeded).

use debrief::analytics::demo::{self, DemoSpec};
use debrief::analytics::html::{self, Source};
use debrief::analytics::{Aggregator, Interaction};
use debrief::config::{Brokers, Config};
use debrief::events::InteractionTelemetry;
use debrief::pipeline::admin::scan_topic;
use debrief::pipeline::PipelineError;
use debrief::schema::Codec;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Arguments of `debrief report`.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// Read this JSON Lines telemetry export instead of the topic.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["brokers", "topic", "demo_data"])]
    pub input: Option<PathBuf>,
    /// Kafka bootstrap servers (default: the configuration's `kafka.brokers`).
    #[arg(long)]
    pub brokers: Option<Brokers>,
    /// Telemetry topic (default: the configuration's `kafka.topics.telemetry`).
    #[arg(long)]
    pub topic: Option<String>,
    /// Service configuration (encoding, registry, Kafka options), as for `debrief run`.
    #[arg(long, short = 'c', value_name = "FILE", env = "DEBRIEF_CONFIG")]
    pub config: Option<PathBuf>,
    /// Only this tenant (default: every tenant, summed).
    #[arg(long)]
    pub tenant: Option<String>,
    /// Where to write the HTML report.
    #[arg(long, short = 'o', default_value = "report.html")]
    pub out: PathBuf,
    /// Give up reading the topic after this many seconds.
    #[arg(long, default_value_t = 600)]
    pub timeout_s: u64,
    /// Write a generated telemetry file (JSON Lines) here and stop.
    #[arg(long, value_name = "FILE")]
    pub demo_data: Option<PathBuf>,
    /// Seed of the generated telemetry.
    #[arg(long, default_value_t = DemoSpec::default().seed, requires = "demo_data")]
    pub seed: u64,
    /// Conversations in the generated telemetry.
    #[arg(long, default_value_t = DemoSpec::default().conversations, requires = "demo_data")]
    pub conversations: u32,
    /// Days covered by the generated telemetry.
    #[arg(long, default_value_t = DemoSpec::default().days, requires = "demo_data")]
    pub days: u32,
}

/// Why `debrief report` failed.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// Kafka, configuration or codec.
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    /// A chart could not be drawn.
    #[error(transparent)]
    Chart(#[from] debrief::analytics::charts::ChartError),
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> ReportError + '_ {
    move |source| ReportError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// What was read, for the summary line and the exit code.
#[derive(Debug, Default)]
pub struct ReadStats {
    /// Records (or lines) read.
    pub read: u64,
    /// Lines or records that could not be decoded (each reported).
    pub bad: u64,
    /// `admin export` lines of other kinds (index entries, insights), skipped.
    pub other: u64,
}

/// A line of `debrief admin export`: a telemetry record is under `record`, with `kind`
/// `telemetry`.
#[derive(Debug, serde::Deserialize)]
struct ExportLine {
    kind: String,
    #[serde(default)]
    record: Option<InteractionTelemetry>,
}

/// Runs `debrief report`; `Ok(false)` when some input lines or records were unreadable (the
/// report is still written; exit 1).
pub fn command(args: ReportArgs) -> Result<bool, ReportError> {
    if let Some(path) = &args.demo_data {
        let spec = DemoSpec {
            seed: args.seed,
            conversations: args.conversations,
            days: args.days,
            ..DemoSpec::default()
        };
        let records = demo::telemetry(&spec);
        write_jsonl(path, &records)?;
        eprintln!(
            "wrote {} telemetry records to {}",
            records.len(),
            path.display()
        );
        return Ok(true);
    }
    let mut agg = Aggregator::new(args.tenant.clone());
    let (stats, description) = match &args.input {
        Some(path) => {
            let file = std::fs::File::open(path).map_err(io(path))?;
            let stats = read_jsonl(std::io::BufReader::new(file), &mut agg, &mut |line, e| {
                eprintln!("error: {}:{line}: {e}", path.display())
            })
            .map_err(io(path))?;
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            (stats, format!("file {name}"))
        }
        None => read_topic(&args, &mut agg)?,
    };
    let summary = agg.finish();
    let page = html::render(
        &summary,
        &Source {
            description,
            generated_at: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
        },
    )?;
    std::fs::write(&args.out, page).map_err(io(&args.out))?;
    eprintln!(
        "read {} record(s) ({} unreadable, {} without a representative action{}{}): {} suggestion(s) acted upon, acceptance {}; wrote {}",
        stats.read,
        stats.bad,
        summary.pipeline_records,
        if stats.other > 0 {
            format!(", {} export lines of other kinds", stats.other)
        } else {
            String::new()
        },
        if args.tenant.is_some() {
            format!(", {} of other tenants", summary.other_tenant_records)
        } else {
            String::new()
        },
        summary.overall.acted,
        summary
            .overall
            .value()
            .map(|v| format!("{:.1}%", v * 100.0))
            .unwrap_or_else(|| "n/a".to_string()),
        args.out.display()
    );
    Ok(stats.bad == 0)
}

/// Reads JSON Lines telemetry into `agg`: plain `InteractionTelemetry` objects, or the lines
/// of `debrief admin export` (its telemetry records are read, its other lines skipped). Each
/// unreadable line (invalid UTF-8 or JSON, not a telemetry record) is handed to `bad` with
/// its 1-based number and costs only that line.
pub fn read_jsonl(
    mut input: impl BufRead,
    agg: &mut Aggregator,
    bad: &mut dyn FnMut(usize, String),
) -> std::io::Result<ReadStats> {
    let mut stats = ReadStats::default();
    let mut buf = Vec::new();
    let mut line = 0usize;
    loop {
        buf.clear();
        if input.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        line += 1;
        let text = match std::str::from_utf8(&buf) {
            Ok(t) => t.trim(),
            Err(_) => {
                stats.bad += 1;
                bad(line, "invalid UTF-8".to_string());
                continue;
            }
        };
        if text.is_empty() {
            continue;
        }
        stats.read += 1;
        match serde_json::from_str::<InteractionTelemetry>(text) {
            Ok(t) => agg.add(&Interaction::from_telemetry(&t)),
            Err(e) => match serde_json::from_str::<ExportLine>(text) {
                Ok(ExportLine {
                    record: Some(t), ..
                }) => agg.add(&Interaction::from_telemetry(&t)),
                // Another kind of `admin export` line (index entry, insight).
                Ok(ExportLine { kind, .. }) if kind != "telemetry" => stats.other += 1,
                _ => {
                    stats.bad += 1;
                    bad(line, format!("not a telemetry record: {e}"));
                }
            },
        }
    }
    Ok(stats)
}

fn read_topic(args: &ReportArgs, agg: &mut Aggregator) -> Result<(ReadStats, String), ReportError> {
    let mut config = Config::load(args.config.as_deref()).map_err(PipelineError::from)?;
    if let Some(b) = &args.brokers {
        config.kafka.brokers = b.clone();
    }
    config.validate().map_err(PipelineError::from)?;
    let topic = args
        .topic
        .clone()
        .unwrap_or_else(|| config.kafka.topics.telemetry.clone());
    let registry = config.schema_registry.url.as_ref().map(|u| u.as_str());
    let codec = Codec::new(config.encoding, registry).map_err(PipelineError::from)?;
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    if let Ok(style) =
        ProgressStyle::with_template("{bar:40} {pos}/{len} records {per_sec} eta {eta}")
    {
        bar.set_style(style);
    }
    let mut stats = ReadStats::default();
    let tenant = args.tenant.as_deref().map(str::as_bytes);
    eprintln!("reading {topic} from the beginning to its current end");
    scan_topic(
        &config,
        &topic,
        Duration::from_secs(args.timeout_s),
        |total| bar.set_length(total),
        |partition, offset, key, value| {
            stats.read += 1;
            bar.inc(1);
            // The key is the tenant id: other tenants' records are not even decoded.
            if tenant.is_some_and(|t| key != Some(t)) {
                agg.skip_other_tenant();
                return;
            }
            let Some(value) = value else { return };
            match codec.decode::<InteractionTelemetry>(value) {
                Ok(t) => agg.add(&Interaction::from_telemetry(&t)),
                Err(e) => {
                    stats.bad += 1;
                    bar.suspend(|| eprintln!("error: {topic}[{partition}]@{offset}: {e}"));
                }
            }
        },
    )?;
    bar.finish_and_clear();
    Ok((stats, format!("topic {topic}")))
}

fn write_jsonl(path: &Path, records: &[InteractionTelemetry]) -> Result<(), ReportError> {
    let file = std::fs::File::create(path).map_err(io(path))?;
    let mut out = std::io::BufWriter::new(file);
    for r in records {
        let line = serde_json::to_string(r).map_err(|e| io(path)(std::io::Error::other(e)))?;
        writeln!(out, "{line}").map_err(io(path))?;
    }
    out.flush().map_err(io(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_line_costs_only_that_line() {
        let records = demo::telemetry(&DemoSpec {
            conversations: 20,
            ..DemoSpec::default()
        });
        let mut text = Vec::new();
        for (i, r) in records.iter().enumerate() {
            if i == 2 {
                text.extend_from_slice(b"{\"tenant_id\": \"t\", broken\n");
                text.extend_from_slice(b"\xff\xfe\n\n");
                text.extend_from_slice(b"{\"kind\": \"insight\", \"topic\": \"x\"}\n");
            }
            let line = if i % 2 == 0 {
                serde_json::to_string(r).unwrap()
            } else {
                // As `debrief admin export` writes it.
                serde_json::json!({"kind": "telemetry", "topic": "t", "record": r}).to_string()
            };
            text.extend_from_slice(line.as_bytes());
            text.push(b'\n');
        }
        let mut agg = Aggregator::new(None);
        let mut errors = Vec::new();
        let stats = read_jsonl(&text[..], &mut agg, &mut |l, e| errors.push((l, e))).unwrap();
        assert_eq!((stats.bad, stats.other), (2, 1));
        assert_eq!(errors[0].0, 3);
        assert!(
            errors[0].1.starts_with("not a telemetry record"),
            "{}",
            errors[0].1
        );
        assert_eq!(errors[1], (4, "invalid UTF-8".to_string()));
        let s = agg.finish();
        assert_eq!(s.records + s.pipeline_records, records.len() as u64);
    }
}
