//! What a new user meets first (issue 16), through the real binary: damaged input files keep
//! what can be read and say what could not, bad options and configuration are rejected once and
//! clearly, logs written to a file carry no colour codes, and the demo's metrics address can be
//! used and agrees with its summary.

mod common;

use common::child::{hold_demo, wait_limited, Announces};
use common::http_get;
use debrief::insight::{Insight, Outcome, SkipReason};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_debrief");

/// Runs the binary in `dir` with `args` and extra environment variables.
fn run_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let child = Command::new(BIN)
        .current_dir(dir)
        .args(args)
        .envs(env.iter().copied())
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_limited(child)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn insights(out: &Output) -> Vec<Insight> {
    text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not an insight ({e}): {l}")))
        .collect()
}

/// Lines of stderr that report a problem (`error:` or `warning:`).
fn reports(out: &Output) -> Vec<String> {
    text(&out.stderr)
        .lines()
        .filter(|l| l.starts_with("error: ") || l.starts_with("warning: "))
        .map(str::to_string)
        .collect()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn line(id: &str) -> String {
    format!(
        r#"{{"id":"{id}","segments":[{{"speaker":"a","start_ms":0,"end_ms":900,"text":"Hello, shall we start?"}}]}}"#
    )
}

// Item 1 --------------------------------------------------------------------------------------

#[test]
fn a_jsonl_line_with_invalid_utf8_is_reported_by_line_and_the_next_lines_still_count() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = format!("{}\n", line("first")).into_bytes();
    bytes.extend(br#"{"id":"broken","segments":[{"speaker":"a","text":"caf"#);
    bytes.extend([0xe9, b'"', b'}', b']', b'}', b'\n']);
    bytes.extend(format!("{}\n", line("third")).into_bytes());
    write(dir.path(), "mixed.jsonl", &bytes);

    let out = run_in(dir.path(), &["process", "mixed.jsonl"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let ids: Vec<String> = insights(&out)
        .into_iter()
        .map(|i| i.conversation_id)
        .collect();
    assert_eq!(ids, ["first", "third"]);
    let reports = reports(&out);
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert!(
        reports[0].starts_with("error: mixed.jsonl:2: not valid UTF-8"),
        "{reports:?}"
    );
}

// Item 2 --------------------------------------------------------------------------------------

const BAD_CUE_VTT: &str = "WEBVTT

c1
00:00:01.000 --> 00:00:04.000
<v Maria Lopez>Thanks for joining, shall we look at the renewal?

c2
00:00:XX.000 --> 00:00:06.000
<v Tom Becker>This cue has a broken start time.

c3
00:00:07.000 --> 00:00:09.000
<v Tom Becker>Yes, let us do that.
";

#[test]
fn a_vtt_with_one_bad_cue_keeps_the_others_reports_the_cue_and_marks_the_insight() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "badcue.vtt", BAD_CUE_VTT.as_bytes());

    let out = run_in(dir.path(), &["process", "badcue.vtt"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let reports = reports(&out);
    assert_eq!(
        reports,
        ["error: badcue.vtt:8: bad cue start time \"00:00:XX.000\": cue skipped"]
    );
    let read = insights(&out);
    assert_eq!(read.len(), 1);
    let insight = &read[0];
    assert_eq!(insight.conversation_id, "badcue");
    assert_eq!(insight.segment_count, 2, "c1 and c3 are kept");
    let speakers: Vec<&str> = insight
        .kpis
        .as_ref()
        .unwrap()
        .participants
        .iter()
        .map(|p| p.speaker.as_str())
        .collect();
    assert_eq!(speakers, ["Maria Lopez", "Tom Becker"]);
    assert_eq!(insight.outcome, Outcome::Partial);
    assert!(
        insight.skip_reasons.contains(&SkipReason::DamagedSource),
        "{:?}",
        insight.skip_reasons
    );

    // The same file without the broken cue is not marked.
    let clean: String = BAD_CUE_VTT.replace("00:00:XX.000", "00:00:05.000");
    write(dir.path(), "clean.vtt", clean.as_bytes());
    let out = run_in(dir.path(), &["process", "clean.vtt"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let insight = &insights(&out)[0];
    assert_eq!(insight.segment_count, 3);
    assert!(!insight.skip_reasons.contains(&SkipReason::DamagedSource));
}

// Item 3 --------------------------------------------------------------------------------------

#[test]
fn an_invalid_time_zone_option_is_rejected_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "one.jsonl",
        format!("{}\n", line("one")).as_bytes(),
    );
    for zone in ["Mars/Base", "not a zone"] {
        let out = run_in(
            dir.path(),
            &["process", "--time-zone", zone, "one.jsonl"],
            &[],
        );
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{zone}: {stderr}");
        assert!(out.stdout.is_empty(), "{zone}: no insight on a usage error");
        assert!(
            stderr.contains(&format!("'{zone}'")) && stderr.contains("not an IANA time zone"),
            "{zone}: {stderr}"
        );
    }
    let out = run_in(
        dir.path(),
        &["process", "--time-zone", "Europe/Paris", "one.jsonl"],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn a_conversation_time_zone_that_is_not_iana_falls_back_to_the_option_and_says_so() {
    // 23:30 in New York on the 16th is 04:30 UTC and 13:30 in Tokyo on the 17th: "tomorrow" is
    // the 17th in New York and the 18th in Tokyo.
    let dir = tempfile::tempdir().unwrap();
    let conversation = r#"{"id":"tz","started_at":"2026-11-16T23:30:00-05:00","time_zone":"Mars/Base","segments":[{"id":"s1","speaker":"maria","role":"seller","start_ms":0,"end_ms":4000,"text":"I will send you the revised proposal tomorrow."},{"id":"s2","speaker":"tom","role":"customer","start_ms":4500,"end_ms":6000,"text":"Great, thanks."}]}"#;
    write(
        dir.path(),
        "tz.jsonl",
        format!("{conversation}\n").as_bytes(),
    );
    for (zone, due) in [
        ("America/New_York", "2026-11-17"),
        ("Asia/Tokyo", "2026-11-18"),
    ] {
        let out = run_in(
            dir.path(),
            &[
                "process",
                "--min-summary-chars",
                "0",
                "--time-zone",
                zone,
                "tz.jsonl",
            ],
            &[],
        );
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
        let reports = reports(&out);
        assert_eq!(reports.len(), 1, "{reports:?}");
        assert!(
            reports[0].starts_with("error: tz.jsonl:1: time_zone \"Mars/Base\" is not an IANA")
                && reports[0].contains("default time zone"),
            "{reports:?}"
        );
        let insight = &insights(&out)[0];
        assert_eq!(insight.outcome, Outcome::Partial);
        assert_eq!(insight.skip_reasons, [SkipReason::DamagedSource]);
        let dues: Vec<&str> = insight
            .action_items
            .iter()
            .filter_map(|a| a.due.as_ref().map(|d| d.date.as_str()))
            .collect();
        assert_eq!(dues, [due], "{zone}");
    }
}

// Item 6 --------------------------------------------------------------------------------------

#[test]
fn logs_redirected_to_a_file_carry_no_colour_codes() {
    // The demo logs a warning for its poison record; stderr goes to a file, as with `2>log`.
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("demo.log");
    let child = Command::new(BIN)
        .args(["demo", "--metrics-addr", "127.0.0.1:0", "--hold-ms", "0"])
        .env_remove("RUST_LOG")
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let out = wait_limited(child);
    assert!(out.status.success(), "{:?}", out.status);
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged.contains(" WARN ") && logged.contains("dead letter"),
        "the demo's warning is missing:\n{logged}"
    );
    assert!(
        !logged.contains('\u{1b}'),
        "escape codes in the log file:\n{logged:?}"
    );
}

// Item 7 --------------------------------------------------------------------------------------

#[test]
fn a_configuration_error_is_printed_once_with_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_in(
        dir.path(),
        &["run"],
        &[
            ("DEBRIEF__ASSEMBLY__IDLE_TIMEOUT_MS", "abc"),
            ("DEBRIEF__KAFKA__BROKERS", "127.0.0.1:1"),
        ],
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr.matches("invalid type").count(),
        1,
        "printed more than once:\n{stderr}"
    );
    assert!(
        stderr.contains("IDLE_TIMEOUT_MS") && stderr.contains("\"abc\""),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

// Item 8 --------------------------------------------------------------------------------------

/// The value of the first `/metrics` sample line in `text` that starts with `name`.
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .map(str::trim)
        .find(|l| l.starts_with(name))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[test]
fn the_demo_metrics_address_stays_up_until_ctrl_c_and_the_summary_agrees_with_itself() {
    // A long hold: the demo must end on SIGINT (Ctrl-C), not on the clock.
    let demo = hold_demo(
        BIN,
        &["--metrics-addr", "127.0.0.1:0", "--hold-ms", "600000"],
        Announces::Stdout,
        |line| line.contains("stay up for 600000 ms"),
    );
    let (child, addr, lines) = (demo.child, demo.addr, demo.rest);
    let live = http_get(&addr, "/metrics");
    assert!(live.starts_with("HTTP/1.1 200"), "{live}");
    assert_eq!(
        sample(
            &live,
            "debrief_conversations_finalised_total{reason=\"end_event\"}"
        ),
        Some(5.0),
        "{live}"
    );

    // Ctrl-C ends the hold; the demo still stops its pipeline and prints its summary.
    // SAFETY: `kill` with a valid pid and signal number has no memory effects.
    let rc = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    assert_eq!(rc, 0);
    let rest: Vec<String> = lines.collect();
    let out = wait_limited(child);
    assert!(
        out.status.success(),
        "{:?}\n{}",
        out.status,
        rest.join("\n")
    );
    let summary = rest.join("\n");

    let pipeline = rest
        .iter()
        .find(|l| l.trim_start().starts_with("pipeline "))
        .unwrap_or_else(|| panic!("no pipeline line:\n{summary}"));
    let handed_back: f64 = pipeline
        .split(", ")
        .find_map(|part| part.strip_suffix(" open conversation(s) handed back"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no handed-back count in {pipeline:?}"));
    let finalised: f64 = pipeline
        .split(", ")
        .find_map(|part| part.strip_suffix(" conversations finalised"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no finalised count in {pipeline:?}"));
    assert_eq!((finalised, handed_back), (5.0, 0.0), "{summary}");
    assert_eq!(
        sample(&summary, "debrief_conversations_open"),
        Some(handed_back),
        "the gauge contradicts the summary:\n{summary}"
    );
    assert_eq!(
        sample(
            &summary,
            "debrief_conversations_finalised_total{reason=\"end_event\"}"
        ),
        Some(finalised),
        "{summary}"
    );
}

// Item 9 --------------------------------------------------------------------------------------

#[test]
fn an_empty_file_and_a_transcript_without_speakers_are_not_met_with_silence() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "empty.jsonl", b"");
    write(
        dir.path(),
        "nospeakers.vtt",
        b"WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nhello there\n\n00:00:03.000 --> 00:00:04.000\nhi\n",
    );
    let out = run_in(dir.path(), &["process", "empty.jsonl"], &[]);
    assert_eq!(
        reports(&out),
        ["warning: empty.jsonl: no conversation in the file"]
    );
    let out = run_in(dir.path(), &["process", "nospeakers.vtt"], &[]);
    let reports = reports(&out);
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert!(
        reports[0].starts_with("warning: nospeakers.vtt: no speaker names")
            && reports[0].contains("all 2 segment(s)"),
        "{reports:?}"
    );
    assert_eq!(insights(&out).len(), 1);
}

#[test]
fn replay_refuses_unreadable_times_and_empty_ranges_before_connecting() {
    let dir = tempfile::tempdir().unwrap();
    // No broker listens there: a usage error must come before any connection attempt.
    let env = [("DEBRIEF__KAFKA__BROKERS", "127.0.0.1:9")];
    // (arguments, the value named in the error, what the error says is accepted)
    for (args, says, accepted) in [
        (
            &["replay", "--from", "yesterday"][..],
            "'yesterday'",
            "RFC 3339",
        ),
        (
            &["replay", "--from", "2026-11-29 14:00"][..],
            "'2026-11-29 14:00'",
            "RFC 3339",
        ),
        (
            &["replay", "--from", "2h", "--to", "soon"][..],
            "'soon'",
            "RFC 3339",
        ),
        (
            &["replay", "--from", "2h", "--lookback", "a while"][..],
            "'a while'",
            "not a duration",
        ),
    ] {
        let out = run_in(dir.path(), args, &env);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains(says) && stderr.contains(accepted),
            "{args:?}: {stderr}"
        );
        assert!(out.stdout.is_empty());
    }
    for (from, to) in [
        ("1h", "2h"),
        ("2026-11-29T14:00:00Z", "2026-11-29T14:00:00Z"),
    ] {
        let out = run_in(dir.path(), &["replay", "--from", from, "--to", to], &env);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{from}..{to}: {stderr}");
        assert!(
            stderr.starts_with("error: --from (") && stderr.contains("must be before --to"),
            "{from}..{to}: {stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "said once: {stderr}");
        assert!(out.stdout.is_empty());
    }
    let out = run_in(dir.path(), &["replay"], &env);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--from <TIME>"));
}

#[test]
fn help_texts_carry_no_rust_doc_links() {
    for command in [
        "process", "run", "replay", "produce", "demo", "bench", "eval", "train",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let out = run_in(dir.path(), &[command, "--help"], &[]);
        assert!(out.status.success(), "{command} --help");
        let help = text(&out.stdout);
        assert!(
            !help.contains("[`") && !help.contains("`]"),
            "{command} --help:\n{help}"
        );
    }
}

/// A free loopback port (bound, then released).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

#[test]
fn run_without_a_reachable_broker_says_so_once_and_readyz_tells() {
    // Port 1 on loopback: nothing listens, every connection is refused at once.
    let http = format!("127.0.0.1:{}", free_port());
    let mut child = Command::new(BIN)
        .arg("run")
        .env("DEBRIEF__KAFKA__BROKERS", "127.0.0.1:1")
        .env("DEBRIEF__HTTP__LISTEN", &http)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting debrief run");
    // librdkafka retries the connection many times a second meanwhile.
    std::thread::sleep(Duration::from_secs(6));
    let readyz = http_get(&http, "/readyz");
    // SAFETY: plain kill(2) on the child's pid.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
    }
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("reading stderr");
    let status = child.wait().expect("waiting for debrief run");
    assert!(status.success(), "{status:?}\n{stderr}");
    assert!(
        readyz.contains("503") && readyz.contains("the Kafka brokers cannot be reached"),
        "{readyz}"
    );
    assert_eq!(
        stderr.matches("cannot reach the Kafka brokers").count(),
        1,
        "said once:\n{stderr}"
    );
    let lines = stderr.lines().count();
    assert!(lines < 20, "{lines} lines in 6 s:\n{stderr}");
}
