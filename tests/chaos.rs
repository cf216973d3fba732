//! The proof of the delivery guarantee: real transcripts are streamed at pace into several
//! partitions while the service is killed (`kill -9`) and restarted, stopped with SIGTERM,
//! joined and left by a second instance, and flooded past its open-conversation limit. At
//! the end, every conversation's last value on the CRM topic is compared with what `debrief
//! process` gives for the same transcript: the suite reports lost, changed and conflicting
//! values, and every count must be 0 (byte-identical duplicates are allowed and counted).
//!
//! A second test floods the service past its open-conversation limit: every conversation
//! still has a value, the ones never evicted have `process`'s, and every evicted one's later
//! events are on the dead-letter topic (nothing vanishes silently).
//!
//! The CI size streams a dozen real meetings (ICSI, AMI and ELITR from `../shared/eval`, or
//! the examples when that folder is absent) in about half a minute. `DEBRIEF_CHAOS_FULL=1`
//! streams 200 conversations with more faults.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use debrief::insight::Insight;
use rdkafka::message::OwnedMessage;
use rdkafka::Message;
use serde_json::Value;

use common::brokers;
use common::stream::{codec, key, kill, read_all, read_until, terminate, Isolation, Service};

/// The size of one chaos run.
struct Size {
    /// Conversations per source file.
    per_source: usize,
    /// `debrief produce --pace` speed factor.
    pace: u32,
    /// Faults (kill -9 and restart of the first instance) during the stream.
    kills: usize,
}

fn size() -> Size {
    if std::env::var("DEBRIEF_CHAOS_FULL").as_deref() == Ok("1") {
        Size {
            per_source: 70,
            pace: 120,
            kills: 3,
        }
    } else {
        Size {
            per_source: 4,
            pace: 150,
            kills: 3,
        }
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Picks the shortest `n` conversations (at least 2 segments) of each evaluation file, or the
/// examples when the evaluation data is not there; writes them as one JSON Lines file.
fn write_source(dir: &Path, n: usize) -> (PathBuf, BTreeSet<String>) {
    let eval = root().join("../shared/eval");
    let files = [
        "meetings_en_ami_actions_heuristic.jsonl",
        "meetings_en_elitr.jsonl",
        "icsi_action_items_dev.jsonl",
    ];
    let mut lines: Vec<String> = Vec::new();
    if eval.join(files[0]).exists() {
        for f in files {
            let text = std::fs::read_to_string(eval.join(f)).expect("reading evaluation data");
            let mut convs: Vec<(usize, String)> = text
                .lines()
                .filter_map(|l| {
                    let v: Value = serde_json::from_str(l).ok()?;
                    let segs = v["segments"].as_array()?.len();
                    (segs >= 2).then(|| (segs, l.to_owned()))
                })
                .collect();
            convs.sort();
            lines.extend(convs.into_iter().take(n).map(|(_, l)| l));
        }
        eprintln!(
            "chaos: {} real conversations from {}",
            lines.len(),
            eval.display()
        );
    } else {
        let text = std::fs::read_to_string(root().join("examples/conversations.jsonl"))
            .expect("examples/conversations.jsonl");
        lines.extend(text.lines().map(str::to_owned));
        eprintln!(
            "chaos: {} example conversations (no ../shared/eval)",
            lines.len()
        );
    }
    // The publishing app's facts, in the file so that `process` and `produce` agree on them.
    let lines: Vec<String> = lines
        .into_iter()
        .map(|l| {
            let mut v: Value = serde_json::from_str(&l).expect("a JSON line");
            v["client_version"] = Value::from("1.2.0");
            v["source_platform"] = Value::from("teams");
            v.to_string()
        })
        .collect();
    let ids = lines
        .iter()
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("a JSON line");
            v["id"].as_str().expect("an id").to_owned()
        })
        .collect();
    let path = dir.join("source.jsonl");
    let mut f = std::fs::File::create(&path).expect("creating the source file");
    for l in &lines {
        writeln!(f, "{l}").expect("writing the source file");
    }
    (path, ids)
}

/// `debrief process` on the source: the expected insight of every conversation, as JSON.
fn expected(source: &Path) -> BTreeMap<String, Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_debrief"))
        .args(["process", "--no-progress"])
        .arg(source)
        .output()
        .expect("running debrief process");
    assert!(
        out.status.success(),
        "debrief process failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("UTF-8 output")
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).expect("a JSON insight");
            // The one field that says how a conversation was closed: `file` offline, and
            // `end_event` for a stream that ends with its end event (as `produce` sends it).
            assert_eq!(v["finalised_by"], "file");
            v["finalised_by"] = Value::from("end_event");
            (v["conversation_id"].as_str().unwrap().to_owned(), v)
        })
        .collect()
}

fn produce(service: &Service, source: &Path, pace: u32) -> Child {
    Command::new(env!("CARGO_BIN_EXE_debrief"))
        .args(["produce", "--brokers", &service.brokers, "--topic"])
        .arg(&service.transcripts)
        .args(["--pace", &pace.to_string()])
        .arg(source)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("starting debrief produce")
}

/// What the CRM topic holds, compared with `process`.
#[derive(Debug, Default, PartialEq, Eq)]
struct Verdict {
    /// Conversations with no value at all.
    lost: BTreeSet<String>,
    /// Conversations whose last value differs from `process`.
    changed: BTreeSet<String>,
    /// Conversations with two different values in their history.
    conflicting: BTreeSet<String>,
    /// Records that repeat an earlier value byte for byte (allowed).
    duplicates: usize,
}

fn judge(records: &[OwnedMessage], expected: &BTreeMap<String, Value>) -> Verdict {
    let codec = codec();
    let mut history: BTreeMap<String, Vec<Vec<u8>>> = BTreeMap::new();
    for m in records {
        if let Some(v) = m.payload() {
            history.entry(key(m)).or_default().push(v.to_vec());
        }
    }
    let mut verdict = Verdict::default();
    for (id, want) in expected {
        let Some(values) = history.get(id) else {
            verdict.lost.insert(id.clone());
            continue;
        };
        let distinct: BTreeSet<&Vec<u8>> = values.iter().collect();
        verdict.duplicates += values.len() - distinct.len();
        if distinct.len() > 1 {
            verdict.conflicting.insert(id.clone());
        }
        let last = values.last().expect("at least one value");
        let insight: Insight = codec.decode(last).expect("an insight record");
        let got = serde_json::to_value(&insight).expect("insight as JSON");
        if &got != want {
            for (k, w) in want.as_object().into_iter().flatten() {
                if got.get(k) != Some(w) {
                    eprintln!("chaos: {id}: field {k} differs from process");
                }
            }
            verdict.changed.insert(id.clone());
        }
    }
    verdict
}

/// Waits until the CRM topic has a value for every conversation, then until nothing new has
/// arrived for `quiet`.
fn wait_for_all(service: &Service, ids: &BTreeSet<String>) {
    read_until(
        &service.brokers,
        &service.dynamics,
        Isolation::Committed,
        |m| {
            let seen: BTreeSet<String> = m
                .iter()
                .filter(|r| r.payload().is_some())
                .map(key)
                .collect();
            ids.is_subset(&seen)
        },
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a broker: scripts/test.sh"]
async fn crashes_restarts_shutdowns_and_rebalances_leave_the_process_value_for_every_conversation()
{
    let brokers = brokers();
    let size = size();
    let dir = tempfile::tempdir().expect("a temporary folder");
    let (source, ids) = write_source(dir.path(), size.per_source);
    let want = expected(&source);
    assert_eq!(want.keys().cloned().collect::<BTreeSet<_>>(), ids);

    let service = Service::create(&brokers, "chaos", 4)
        .await
        .with("DEBRIEF__ASSEMBLY__IDLE_TIMEOUT_MS", "20000");
    // Static membership: each instance restarts under its own stable id and gets its
    // partitions back at once.
    let id_a = format!("{}-a", service.group);
    let id_b = format!("{}-b", service.group);
    let static_a = [("DEBRIEF__KAFKA__OPTIONS__GROUP_INSTANCE_ID", id_a.as_str())];
    let static_b = [("DEBRIEF__KAFKA__OPTIONS__GROUP_INSTANCE_ID", id_b.as_str())];
    let mut producer = produce(&service, &source, size.pace);
    let mut a = service.spawn_with(&static_a);
    let started = Instant::now();
    let mut b: Option<Child> = None;
    // The faults, one every 3 s while the stream runs: kill -9 and an immediate restart of
    // the first instance, a second instance joining, SIGTERM of the second, and again.
    let mut step = 0;
    let mut kills = 0;
    while producer.try_wait().expect("polling produce").is_none() {
        tokio::time::sleep(Duration::from_secs(3)).await;
        match step % 4 {
            0 if kills < size.kills => {
                kill(&mut a);
                a = service.spawn_with(&static_a);
                kills += 1;
                eprintln!("chaos: {:?}: kill -9 and restart", started.elapsed());
            }
            1 => {
                b = Some(service.spawn_with(&static_b));
                eprintln!("chaos: {:?}: a second instance joins", started.elapsed());
            }
            2 => {
                if let Some(mut child) = b.take() {
                    assert_eq!(terminate(&mut child), Some(0), "SIGTERM exits 0");
                    eprintln!(
                        "chaos: {:?}: the second instance leaves (SIGTERM)",
                        started.elapsed()
                    );
                }
            }
            3 => {
                assert_eq!(terminate(&mut a), Some(0), "SIGTERM exits 0");
                a = service.spawn_with(&static_a);
                eprintln!("chaos: {:?}: SIGTERM and restart", started.elapsed());
            }
            _ => {}
        }
        step += 1;
    }
    let status = producer.wait().expect("produce");
    assert!(status.success(), "debrief produce failed");
    eprintln!("chaos: {:?}: stream published", started.elapsed());
    let (svc, wanted) = (service.clone(), ids.clone());
    tokio::task::spawn_blocking(move || wait_for_all(&svc, &wanted))
        .await
        .unwrap();
    assert_eq!(terminate(&mut a), Some(0));
    if let Some(mut child) = b.take() {
        assert_eq!(terminate(&mut child), Some(0));
    }
    let records = read_all(&brokers, &service.dynamics, Isolation::Committed);
    let verdict = judge(&records, &want);
    eprintln!(
        "chaos: {} conversations, {} records: lost {}, changed {}, conflicting {}, \
         byte-identical duplicates {}",
        want.len(),
        records.len(),
        verdict.lost.len(),
        verdict.changed.len(),
        verdict.conflicting.len(),
        verdict.duplicates
    );
    assert!(verdict.lost.is_empty(), "lost: {:?}", verdict.lost);
    assert!(verdict.changed.is_empty(), "changed: {:?}", verdict.changed);
    assert!(
        verdict.conflicting.is_empty(),
        "conflicting values: {:?}",
        verdict.conflicting
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a broker: scripts/test.sh"]
async fn a_flood_past_the_open_conversation_limit_loses_nothing_silently() {
    let brokers = brokers();
    // The same size in full runs: the point is the limit, not the volume.
    let size = Size {
        per_source: 4,
        pace: 150,
        kills: 0,
    };
    let dir = tempfile::tempdir().expect("a temporary folder");
    let (source, ids) = write_source(dir.path(), size.per_source);
    let want = expected(&source);
    // The paced meetings (those with timestamps) stream at once; fewer fit. The others
    // (no timestamps) are sent one after the other at the start.
    let limit = (size.per_source - 1).max(1).to_string();
    let service = Service::create(&brokers, "flood", 4)
        .await
        .with("DEBRIEF__ASSEMBLY__IDLE_TIMEOUT_MS", "60000")
        .with("DEBRIEF__ASSEMBLY__MAX_OPEN_CONVERSATIONS", &limit);
    let mut a = service.spawn();
    let mut producer = produce(&service, &source, size.pace);
    assert!(
        producer.wait().expect("produce").success(),
        "debrief produce failed"
    );
    let (svc, wanted) = (service.clone(), ids.clone());
    tokio::task::spawn_blocking(move || wait_for_all(&svc, &wanted))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(terminate(&mut a), Some(0));

    let records = read_all(&brokers, &service.dynamics, Isolation::Committed);
    let dead = read_all(&brokers, &service.dead_letter, Isolation::Committed);
    let codec = codec();
    let mut dead_by_key: BTreeMap<String, usize> = BTreeMap::new();
    for m in &dead {
        let dl: debrief::events::DeadLetter = codec
            .decode(m.payload().expect("a dead letter"))
            .expect("a DeadLetter");
        if dl.reason.contains("evicted") {
            *dead_by_key.entry(key(m)).or_default() += 1;
        }
    }
    let mut last: BTreeMap<String, Insight> = BTreeMap::new();
    for m in &records {
        if let Some(v) = m.payload() {
            last.insert(key(m), codec.decode(v).expect("an insight"));
        }
    }
    let (mut evicted, mut unaccounted, mut lost) = (0, Vec::new(), Vec::new());
    for (id, want) in &want {
        let Some(insight) = last.get(id) else {
            lost.push(id.clone());
            continue;
        };
        let got = serde_json::to_value(insight).expect("insight as JSON");
        if &got == want {
            continue;
        }
        if insight.finalised_by == debrief::insight::FinalisedBy::Evicted {
            evicted += 1;
            if dead_by_key.get(id).copied().unwrap_or(0) == 0 {
                unaccounted.push(id.clone());
            }
        } else {
            unaccounted.push(id.clone());
        }
    }
    eprintln!(
        "flood: {} conversations, limit {limit}: {evicted} evicted with their later events \
         dead-lettered ({} dead letters), {} unaccounted, {} lost",
        want.len(),
        dead_by_key.values().sum::<usize>(),
        unaccounted.len(),
        lost.len()
    );
    assert!(lost.is_empty(), "lost: {lost:?}");
    assert!(evicted > 0, "the flood should evict some conversations");
    assert!(
        unaccounted.is_empty(),
        "values that differ from process without an eviction to account for them: {unaccounted:?}"
    );
}
