//! `debrief process`: the offline path. Reads transcript files, runs the same extraction as
//! the Kafka pipeline ([`debrief::extract::analyse`]) and writes one JSON insight per
//! conversation (JSON Lines).

use chrono::{DateTime, FixedOffset};
use debrief::extract::{analyse, ExtractContext, Settings};
use debrief::ingest::files::{self, FileError};
use debrief::insight::{FinalisedBy, SkipReason};
use debrief::tenant::apply_tenant_sides;
use debrief::tenant::TenantConfig;
use debrief::tenant::TenantRuntime;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::Write;
use std::path::PathBuf;

/// Command-line arguments of `debrief process`.
#[derive(Debug, Clone, clap::Args)]
pub struct ProcessArgs {
    /// Transcript files: `.jsonl` (one conversation per line), `.vtt` (WebVTT) or `.json`.
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,
    /// Tenant configuration (YAML or JSON): trackers, competitors, internal speakers, features.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Write insights to this file instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Conversations with less text than this (characters) get KPIs only.
    #[arg(long, default_value_t = Settings::default().min_summary_chars)]
    pub min_summary_chars: usize,
    /// Publishing clients older than this version get a `skipped` insight.
    #[arg(long, default_value_t = Settings::default().min_client_version)]
    pub min_client_version: String,
    /// IANA time zone for due dates when a conversation names none (or names one that is not
    /// an IANA name).
    #[arg(long, default_value_t = Settings::default().default_time_zone, value_parser = parse_time_zone)]
    pub time_zone: String,
    /// Start time (RFC 3339, e.g. `2026-11-16T15:00:00+00:00`) for conversations that carry
    /// none (WebVTT files): relative due dates ("by Friday") are resolved against it.
    #[arg(long, value_name = "DATETIME", value_parser = parse_started_at)]
    pub started_at: Option<DateTime<FixedOffset>>,
    /// Never draw a progress bar (it is only drawn on a terminal anyway).
    #[arg(long)]
    pub no_progress: bool,
}

/// Errors that stop `process` before any conversation is read.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// The tenant configuration file could not be read.
    #[error("{0}")]
    Config(String),
    /// The tenant configuration says the tenant opted out: nothing is processed.
    #[error("tenant {tenant} opted out (configuration version {version}): nothing is processed; a newer configuration version recording consent again resumes processing")]
    OptedOut {
        /// Tenant id.
        tenant: String,
        /// Configuration version.
        version: i64,
    },
    /// The output could not be written.
    #[error("cannot write insights: {0}")]
    Output(#[from] std::io::Error),
}

/// What `process` tells the user about a file, one line each on stderr.
#[derive(Debug)]
pub enum Report<'a> {
    /// A file, line or cue that could not be read; counted as a failure (exit 1).
    Error(&'a FileError),
    /// Readable, but probably not what was meant: a file without a conversation, a transcript
    /// without speaker names. Not a failure.
    Warning(String),
}

impl std::fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Report::Error(e) => write!(f, "error: {e}"),
            Report::Warning(w) => write!(f, "warning: {w}"),
        }
    }
}

/// What a `process` run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ProcessSummary {
    /// Insights written.
    pub insights: usize,
    /// Files, lines or cues that could not be read (each reported on stderr).
    pub failures: usize,
}

/// Runs `process`: every readable conversation gets an insight on `out`; every unreadable
/// file, line or cue is reported through `report` (one line each) and counted. A conversation
/// read without some damaged part gets [`SkipReason::DamagedSource`].
pub fn run(
    args: &ProcessArgs,
    out: &mut dyn Write,
    report: &mut dyn FnMut(Report<'_>),
) -> Result<ProcessSummary, ProcessError> {
    let tenant = match &args.config {
        None => None,
        Some(path) => {
            let config =
                TenantConfig::from_path(path).map_err(|e| ProcessError::Config(e.to_string()))?;
            if config.opted_out {
                return Err(ProcessError::OptedOut {
                    tenant: config.tenant_id,
                    version: config.version,
                });
            }
            let runtime = TenantRuntime::compile(config)
                .map_err(|e| ProcessError::Config(format!("{}: {e}", path.display())))?;
            Some(runtime)
        }
    };
    let settings = Settings {
        min_summary_chars: args.min_summary_chars,
        min_client_version: args.min_client_version.clone(),
        default_time_zone: args.time_zone.clone(),
    };
    let ctx = ExtractContext {
        settings: &settings,
        tenant: tenant.as_ref(),
        finalised_by: FinalisedBy::File,
        reference_time: args.started_at,
    };
    let total: u64 = args
        .inputs
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    let bar = if args.no_progress {
        ProgressBar::hidden()
    } else {
        progress_bar(total)
    };
    let mut summary = ProcessSummary::default();
    let mut done_bytes = 0u64;
    for path in &args.inputs {
        let mut reader = match files::open(path) {
            Ok(r) => r,
            Err(e) => {
                bar.suspend(|| report(Report::Error(&e)));
                summary.failures += 1;
                continue;
            }
        };
        let (mut items, mut damaged) = (0usize, false);
        while let Some(item) = reader.next() {
            items += 1;
            match item {
                Ok(mut conv) => {
                    if let Some(w) = no_speaker_names(&conv) {
                        bar.suspend(|| report(Report::Warning(format!("{}: {w}", path.display()))));
                    }
                    if let Some(t) = &tenant {
                        apply_tenant_sides(&mut conv, &t.config);
                        conv.tenant_id = t.config.tenant_id.clone();
                    }
                    let mut insight = analyse(&conv, &ctx);
                    if std::mem::take(&mut damaged) {
                        insight.add_skip_reason(SkipReason::DamagedSource);
                    }
                    serde_json::to_writer(&mut *out, &insight).map_err(std::io::Error::from)?;
                    out.write_all(b"\n")?;
                    summary.insights += 1;
                }
                Err(e) => {
                    // `Damaged` errors come right before the conversation they belong to.
                    damaged = matches!(e, FileError::Damaged { .. });
                    bar.suspend(|| report(Report::Error(&e)));
                    summary.failures += 1;
                }
            }
            bar.set_position(done_bytes + reader.bytes_read());
        }
        if items == 0 {
            let w = format!("{}: no conversation in the file", path.display());
            bar.suspend(|| report(Report::Warning(w)));
        }
        done_bytes += std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        bar.set_position(done_bytes);
    }
    bar.finish_and_clear();
    out.flush()?;
    Ok(summary)
}

fn progress_bar(total: u64) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    if let Ok(style) =
        ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
    {
        bar.set_style(style);
    }
    bar
}

/// A warning when no segment of `conv` names its speaker (WebVTT cues without `<v Name>`
/// voice tags or `Name: ` prefixes): per-speaker KPIs then describe one `unknown` speaker.
fn no_speaker_names(conv: &debrief::model::Conversation) -> Option<String> {
    let unnamed = !conv.segments.is_empty()
        && conv
            .segments
            .iter()
            .all(|s| s.speaker == files::UNKNOWN_SPEAKER);
    unnamed.then(|| {
        format!(
            "no speaker names (WebVTT cues need a `<v Name>` voice tag or a `Name: ` prefix): all {} segment(s) are attributed to `{}`",
            conv.segments.len(),
            files::UNKNOWN_SPEAKER
        )
    })
}

/// Accepts IANA time zone names only (`Europe/Paris`, `UTC`).
fn parse_time_zone(s: &str) -> Result<String, String> {
    if files::is_time_zone(s) {
        Ok(s.to_string())
    } else {
        Err("not an IANA time zone name (such as Europe/Paris, America/New_York or UTC)".into())
    }
}

fn parse_started_at(s: &str) -> Result<DateTime<FixedOffset>, String> {
    DateTime::parse_from_rfc3339(s).map_err(|e| format!("not an RFC 3339 date-time ({e})"))
}
