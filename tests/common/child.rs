//! Child processes of the `debrief` binary in tests: a time limit on every child, and
//! `debrief demo` held open with its metrics address.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// Upper bound on any child process: only turns a hang into a failure.
pub const LIMIT: Duration = Duration::from_secs(120);

/// Kills the child if it outlives [`LIMIT`], then collects its output.
pub fn wait_limited(child: Child) -> Output {
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if rx.recv_timeout(LIMIT).is_err() {
            eprintln!("child {pid} exceeded {LIMIT:?}: killing it");
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
        }
    });
    let out = child.wait_with_output().unwrap();
    let _ = tx.send(());
    watchdog.join().unwrap();
    out
}

/// Which output stream of the demo announces the metrics address and its progress.
#[derive(Clone, Copy)]
pub enum Announces {
    Stdout,
    Stderr,
}

/// A running `debrief demo` that has said what the test waited for.
pub struct HeldDemo {
    pub child: Child,
    /// `host:port` of the operations endpoint (from the first line naming `http://`).
    pub addr: String,
    /// The announcing stream's lines read so far, the awaited line included.
    pub seen: Vec<String>,
    /// The rest of the announcing stream.
    pub rest: Box<dyn Iterator<Item = String> + Send>,
}

/// Starts `debrief demo` with `args` and reads `stream` until a line satisfies `done`. When
/// the demo announces on stderr, its stdout stays piped for [`wait_limited`] (`--json`
/// insights); when it announces on stdout, stderr is discarded. Panics (after killing the demo) when the stream ends first or no
/// metrics address was announced.
pub fn hold_demo(
    bin: &str,
    args: &[&str],
    stream: Announces,
    done: impl Fn(&str) -> bool,
) -> HeldDemo {
    let (stdout, stderr) = match stream {
        Announces::Stdout => (Stdio::piped(), Stdio::null()),
        Announces::Stderr => (Stdio::piped(), Stdio::piped()),
    };
    let mut child = Command::new(bin)
        .arg("demo")
        .args(args)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .unwrap();
    let reader: Box<dyn BufRead + Send> = match stream {
        Announces::Stdout => Box::new(BufReader::new(child.stdout.take().unwrap())),
        Announces::Stderr => Box::new(BufReader::new(child.stderr.take().unwrap())),
    };
    let mut lines = reader.lines().map_while(Result::ok);
    let mut seen = Vec::new();
    let mut addr = None;
    let mut reached = false;
    for line in lines.by_ref() {
        if addr.is_none() {
            addr = line
                .split("http://")
                .nth(1)
                .and_then(|rest| rest.split('/').next())
                .map(str::to_string);
        }
        reached = done(&line);
        seen.push(line);
        if reached {
            break;
        }
    }
    match addr.filter(|_| reached) {
        Some(addr) => HeldDemo {
            child,
            addr,
            seen,
            rest: Box::new(lines),
        },
        None => {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the demo never announced its metrics address and progress:\n{}",
                seen.join("\n")
            )
        }
    }
}
