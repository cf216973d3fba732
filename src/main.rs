//! The `debrief` command line: parses arguments and calls the library.

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::io::Write;
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
    Process(debrief::process::ProcessArgs),
    /// Run the Kafka pipeline service until SIGTERM/SIGINT (configuration: file and DEBRIEF__* variables).
    Run(debrief::pipeline::cli::RunArgs),
    /// Publish transcript files to Kafka as contract events (segment streams or complete transcripts).
    Produce(debrief::produce::ProduceArgs),
    /// Run the whole service on an in-process mock Kafka cluster with the sample conversations.
    Demo(debrief::demo::DemoArgs),
    /// Measure throughput, latency and memory end to end through a broker with replayed transcripts.
    Bench(debrief::bench::BenchArgs),
    /// Score extraction quality on labelled files (`eval action-items FILE... [--cv K] [--json]`).
    Eval(debrief::eval::EvalArgs),
    /// Train the action-item model from labelled files (`train action-items FILE... --out PATH`).
    Train(debrief::eval::TrainArgs),
}

fn run(args: debrief::pipeline::cli::RunArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(debrief::pipeline::cli::run(args))?;
    Ok(ExitCode::SUCCESS)
}

fn process(args: debrief::process::ProcessArgs) -> anyhow::Result<ExitCode> {
    let started = std::time::Instant::now();
    let mut report = |r: debrief::process::Report<'_>| eprintln!("{r}");
    let summary = match &args.out {
        Some(path) => {
            let file = std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            let mut out = std::io::BufWriter::new(file);
            debrief::process::run(&args, &mut out, &mut report)?
        }
        None => {
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            let summary = debrief::process::run(&args, &mut out, &mut report)?;
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Process(args) => process(args),
        Command::Run(args) => run(args),
        Command::Produce(args) => debrief::produce::command(args).map_err(Into::into),
        Command::Demo(args) => debrief::demo::command(args).map_err(Into::into),
        Command::Bench(args) => debrief::bench::command(args).map_err(Into::into),
        Command::Eval(args) => debrief::eval::command_eval(args).map_err(Into::into),
        Command::Train(args) => debrief::eval::command_train(args).map_err(Into::into),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
