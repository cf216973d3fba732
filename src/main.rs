//! The `debrief` command line: parses arguments and calls the library.

mod cli;

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::io::{IsTerminal, Write};
use std::process::ExitCode;

/// Debrief: conversation intelligence over Kafka.
#[derive(Debug, Parser)]
#[command(name = "debrief", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Extract insights from transcript files (.jsonl, .vtt, .json) to JSON Lines.
    Process(cli::process::ProcessArgs),
    /// Run the Kafka pipeline service until SIGTERM/SIGINT (configuration: file and DEBRIEF__* variables).
    Run(cli::run::RunArgs),
    /// Reprocess a time range of the transcript topics (own consumer group, no commits) and
    /// rewrite its conversations' outputs with the configuration in force now.
    Replay(cli::replay::ReplayArgs),
    /// Publish transcript files to Kafka as contract events (segment streams or complete transcripts).
    Produce(cli::produce::ProduceArgs),
    /// Run the whole service on an in-process mock Kafka cluster with the sample conversations.
    Demo(cli::demo::DemoArgs),
    /// Measure throughput, latency and memory end to end through a broker with replayed transcripts.
    Bench(cli::bench::BenchArgs),
    /// Score extraction quality on labelled files (`eval action-items FILE... [--cv K] [--json]`).
    Eval(cli::eval::EvalArgs),
    /// Train the action-item model from labelled files (`train action-items FILE... --out PATH`).
    Train(cli::eval::TrainArgs),
    /// Governance: publish an erasure request, print its ledger, export a data subject.
    Admin(cli::admin::AdminArgs),
}

fn run(args: cli::run::RunArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(cli::run::run(args))?;
    Ok(ExitCode::SUCCESS)
}

fn replay(args: cli::replay::ReplayArgs) -> anyhow::Result<ExitCode> {
    let now_ms = chrono::Utc::now().timestamp_millis();
    let request = match args.request(now_ms) {
        Ok(r) => r,
        Err(e) => {
            // A usage error, like clap's own (exit code 2).
            eprintln!("error: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let summary = cli::replay::command(&args, request)?;
    Ok(if summary.complete {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn admin(args: cli::admin::AdminArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let found = runtime.block_on(cli::admin::command(args, &mut out))?;
    out.flush()?;
    Ok(if found {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn process(args: cli::process::ProcessArgs) -> anyhow::Result<ExitCode> {
    let started = std::time::Instant::now();
    let mut report = |r: cli::process::Report<'_>| eprintln!("{r}");
    let summary = match &args.out {
        Some(path) => {
            let file = std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            let mut out = std::io::BufWriter::new(file);
            cli::process::run(&args, &mut out, &mut report)?
        }
        None => {
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            let summary = cli::process::run(&args, &mut out, &mut report)?;
            out.flush()?;
            summary
        }
    };
    eprintln!(
        "processed {} conversation(s), {} failure(s) in {:.2}s",
        summary.insights,
        summary.failures,
        started.elapsed().as_secs_f64()
    );
    Ok(if summary.failures > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Installs the log subscriber before any command runs (the library's own set-up then finds
/// it in place): lines on stderr, coloured only when stderr is a terminal, so logs redirected
/// to a file or a collector carry no escape codes. Level from `RUST_LOG`, else `info` for the
/// service and `warn` for the tools, whose own output is the point.
fn init_logging(command: &Command) {
    use cli::run::LogFormat;
    use tracing_subscriber::EnvFilter;
    let (default, format) = match command {
        Command::Run(args) => ("info", args.log_format),
        _ => ("warn", LogFormat::Text),
    };
    let mut filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    // The service's own Kafka clients report through one deduplicating sink
    // (`pipeline::client_log`, target `debrief`); what rust-rdkafka's default contexts log
    // for the auxiliary clients (readers, admin) would repeat the same connection errors many
    // times a second. Silent unless `RUST_LOG` names `rdkafka` or `librdkafka`.
    let named = std::env::var("RUST_LOG").is_ok_and(|v| v.contains("rdkafka"));
    if !named {
        for directive in ["librdkafka=off", "rdkafka=off"] {
            if let Ok(d) = directive.parse() {
                filter = filter.add_directive(d);
            }
        }
    }
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli.command);
    let result = match cli.command {
        Command::Process(args) => process(args),
        Command::Run(args) => run(args),
        Command::Replay(args) => replay(args),
        Command::Produce(args) => cli::produce::command(args).map_err(Into::into),
        Command::Demo(args) => cli::demo::command(args).map_err(Into::into),
        Command::Bench(args) => cli::bench::command(args).map_err(Into::into),
        Command::Eval(args) => cli::eval::command_eval(args).map_err(Into::into),
        Command::Train(args) => cli::eval::command_train(args).map_err(Into::into),
        Command::Admin(args) => admin(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
