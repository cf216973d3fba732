//! `debrief run`: its arguments, logging set-up and signal handling. `main.rs` only parses the
//! command line and calls [`run`].

use clap::{Args, ValueEnum};
use debrief::config::Config;
use debrief::metrics::Metrics;
use debrief::pipeline::{run_pipeline, PipelineError, PipelineSummary};
use std::path::PathBuf;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line (for log collectors).
    Json,
}

/// Arguments of `debrief run`.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Configuration file (TOML, YAML or JSON); `DEBRIEF__*` environment variables override it.
    #[arg(long, short = 'c', value_name = "FILE", env = "DEBRIEF_CONFIG")]
    pub config: Option<PathBuf>,
    /// Log format.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, env = "DEBRIEF_LOG_FORMAT")]
    pub log_format: LogFormat,
}

/// Installs the global `tracing` subscriber: level from `RUST_LOG` (default `info`), lines
/// on stderr in `format`. Does nothing when a subscriber is already installed.
pub fn init_logging(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// Cancels `token` on SIGTERM or SIGINT (Ctrl-C).
pub fn cancel_on_signals(token: CancellationToken) {
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let (Ok(mut term), Ok(mut int)) = (
                signal(SignalKind::terminate()),
                signal(SignalKind::interrupt()),
            ) else {
                tracing::error!("cannot install signal handlers");
                return;
            };
            let name = tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            };
            tracing::info!(signal = name, "shutting down");
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            tracing::info!("shutting down");
        }
        token.cancel();
    });
}

/// `debrief run`: loads and validates the configuration, serves the operations endpoint, and
/// runs the pipeline until SIGTERM/SIGINT. Call from inside a multi-threaded tokio runtime.
pub async fn run(args: RunArgs) -> Result<PipelineSummary, PipelineError> {
    init_logging(args.log_format);
    let config = Config::load(args.config.as_deref())?;
    let metrics = Arc::new(Metrics::new()?);
    let shutdown = CancellationToken::new();
    cancel_on_signals(shutdown.clone());
    let summary = run_pipeline(config, shutdown, metrics).await?;
    tracing::info!(
        records = summary.records_consumed,
        conversations = summary.conversations_finalised,
        insights = summary.insights_produced,
        dead_letters = summary.dead_letters,
        handed_back = summary.open_conversations_handed_back,
        "stopped"
    );
    Ok(summary)
}
