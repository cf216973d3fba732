//! `debrief replay`: its arguments, its progress display and its summary. The replay itself
//! is [`debrief::pipeline::replay`].

use super::run::cancel_on_signals;
use clap::Args;
use debrief::config::Config;
use debrief::metrics::Metrics;
use debrief::pipeline::replay::time::{resolve_range, rfc3339, TimeArg, TimeError};
use debrief::pipeline::replay::{replay, ReplayProgress, ReplayRequest, ReplaySummary};
use debrief::pipeline::PipelineError;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Arguments of `debrief replay`.
#[derive(Debug, Clone, Args)]
#[command(after_help = "\
TIME is an RFC 3339 instant (2026-11-29T14:00:00Z, 2026-11-29T15:00:00+01:00) or a duration \
ago (2h, 90min, 1h 30m, 3days), compared with the records' timestamps.

The replay reads the transcript topics from --from (minus a look-back) to --to with its own \
consumer group, <kafka.group_id>.replay.<start time in ms>, and commits nothing: the live \
group's offsets are untouched. Only conversations that begin inside the range are written \
again, through the service's keyed outputs (identical bytes unless the tenant configuration \
changed); conversations still open when the range ends are not written.")]
pub struct ReplayArgs {
    /// Start of the range (inclusive): RFC 3339 or a duration ago.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub from: TimeArg,
    /// End of the range (exclusive); default: the end of each partition when the replay starts.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub to: Option<TimeArg>,
    /// Only this tenant's conversations (the others are counted as skipped).
    #[arg(long, value_name = "TENANT")]
    pub tenant: Option<String>,
    /// How far before --from to start reading, so that conversations under way at --from are
    /// recognised and skipped (default: twice assembly.idle_timeout_ms).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub lookback: Option<Duration>,
    /// Configuration file (TOML, YAML or JSON), the service's; `DEBRIEF__*` environment
    /// variables override it.
    #[arg(long, short = 'c', value_name = "FILE", env = "DEBRIEF_CONFIG")]
    pub config: Option<PathBuf>,
}

fn parse_time(text: &str) -> Result<TimeArg, TimeError> {
    TimeArg::parse(text)
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim())
        .map_err(|e| format!("`{text}` is not a duration (e.g. 10m, 1h 30m): {e}"))
}

impl ReplayArgs {
    /// The request, `now_ms` resolving relative times; an empty range is an error.
    pub fn request(&self, now_ms: i64) -> Result<ReplayRequest, TimeError> {
        let (from_ms, to_ms) = resolve_range(self.from, self.to, now_ms)?;
        Ok(ReplayRequest {
            from_ms,
            to_ms,
            tenant: self.tenant.clone(),
            lookback: self.lookback,
        })
    }
}

/// Why `debrief replay` failed.
#[derive(Debug, thiserror::Error)]
pub enum ReplayCommandError {
    /// The pipeline stopped with an error.
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    /// The tokio runtime could not start.
    #[error("cannot start the runtime: {0}")]
    Runtime(std::io::Error),
}

/// Runs the replay of `request` with the service's configuration, showing progress on
/// stderr (a bar on a terminal, a line every 10 s otherwise), and prints the summary.
pub fn command(
    args: &ReplayArgs,
    request: ReplayRequest,
) -> Result<ReplaySummary, ReplayCommandError> {
    let config = Config::load(args.config.as_deref()).map_err(PipelineError::from)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(ReplayCommandError::Runtime)?;
    eprintln!(
        "replaying {} from {} to {}{}",
        config.kafka.topics.transcripts.join(", "),
        rfc3339(request.from_ms),
        request.to_ms.map_or_else(|| "the end".to_string(), rfc3339),
        request
            .tenant
            .as_ref()
            .map_or_else(String::new, |t| format!(" (tenant {t})")),
    );
    let summary = runtime.block_on(async move {
        let metrics = Arc::new(Metrics::new().map_err(PipelineError::from)?);
        let shutdown = CancellationToken::new();
        cancel_on_signals(shutdown.clone());
        let progress = Arc::new(ReplayProgress::default());
        let shown = tokio::spawn(show_progress(progress.clone(), shutdown.child_token()));
        let result = replay(config, request, shutdown.clone(), metrics, progress).await;
        shown.abort();
        let _ = shown.await;
        result
    })?;
    println!("{}", summary_text(&summary));
    if !summary.complete {
        println!("interrupted before the end of the range: run it again to finish");
    }
    Ok(summary)
}

/// Draws the progress until aborted: a bar on a terminal, plain lines otherwise.
async fn show_progress(progress: Arc<ReplayProgress>, stop: CancellationToken) {
    let terminal = std::io::stderr().is_terminal();
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "{bar:40} {pos}/{len} records {per_sec} eta {eta} ({msg} conversations rewritten)",
    ) {
        bar.set_style(style);
    }
    let every = if terminal {
        Duration::from_millis(200)
    } else {
        Duration::from_secs(10)
    };
    let _clear = clear_on_drop(bar.clone());
    while !stop.is_cancelled() {
        tokio::time::sleep(every).await;
        let Some((read, total)) = progress.position() else {
            continue;
        };
        if terminal {
            bar.set_length(total);
            bar.set_position(read);
            bar.set_message(progress.rewritten().to_string());
        } else {
            eprintln!(
                "replay: {read}/{total} records, {} conversations rewritten",
                progress.rewritten()
            );
        }
    }
}

/// Clears the bar when the progress task ends (aborted or not).
fn clear_on_drop(bar: ProgressBar) -> impl Drop {
    struct Clear(ProgressBar);
    impl Drop for Clear {
        fn drop(&mut self) {
            self.0.finish_and_clear();
        }
    }
    Clear(bar)
}

/// The summary as printed on stdout.
pub fn summary_text(s: &ReplaySummary) -> String {
    format!(
        "replay group {}: {} partition(s), {} of {} records read in {:.1}s\n\
         conversations rewritten: {} (insights: {})\n\
         skipped, other tenant: {}\n\
         skipped, began before --from: {}\n\
         still open at the end of the range (not rewritten): {}\n\
         dead letters: {}",
        s.group_id,
        s.partitions,
        s.records_read,
        s.records_in_range,
        s.elapsed.as_secs_f64(),
        s.conversations_rewritten,
        s.insights_produced,
        s.skipped_other_tenant,
        s.skipped_started_before,
        s.open_at_end,
        s.dead_letters,
    )
}
