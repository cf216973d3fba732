//! Tracker matching speed over a real one-hour meeting (the longest ICSI meeting of
//! `../shared/eval/icsi_action_items_dev.jsonl`, or `$DEBRIEF_EVAL_DIR/...`) with 10, 1,000 and
//! 10,000 terms. Target: at least 100 MB/s per core at 10,000 terms, and less than 2x between
//! 10 and 10,000 terms. Skipped with a message when the file is absent.
//!
//! `cargo bench --bench trackers`
//!
//! Times are CPU time of the benchmark thread (`CLOCK_THREAD_CPUTIME_ID`), so that "MB/s per
//! core" holds on a machine shared with other work.
//!
//! Terms are generated deterministically from meeting words below the 100 most frequent,
//! meeting bigrams and synthetic words, ten terms per tracker (50 for 50,000), all stemming
//! (English). Scenarios: `typical` (10 terms occur in the meeting, the rest do not, also
//! measured `cold`: no word seen before) and `dense` (60 % of the terms are meeting words and
//! bigrams: nearly every content word is a hit).

use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use debrief::extract::trackers::TrackerSet;
use debrief::model::{Conversation, Segment};
use debrief::tenant::{TenantConfig, TrackerConfig};
use serde::Deserialize;
use std::collections::HashMap;
use std::hint::black_box;
use std::path::PathBuf;

/// CPU time of the calling thread, in nanoseconds (see the module docs).
struct ThreadCpu {
    wall: WallTime,
}

impl ThreadCpu {
    fn now(&self) -> u64 {
        let mut t = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `t` is a valid, writable timespec; the clock id is a constant.
        let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
        assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
        t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
    }
}

impl Measurement for ThreadCpu {
    type Intermediate = u64;
    type Value = u64;
    fn start(&self) -> u64 {
        self.now()
    }
    fn end(&self, start: u64) -> u64 {
        self.now().saturating_sub(start)
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }
    fn zero(&self) -> u64 {
        0
    }
    fn to_f64(&self, v: &u64) -> f64 {
        *v as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        // Nanoseconds, formatted like wall time.
        self.wall.formatter()
    }
}

#[derive(Deserialize)]
struct Meeting {
    id: String,
    segments: Vec<MeetingSegment>,
}

#[derive(Deserialize)]
struct MeetingSegment {
    speaker: String,
    start_ms: Option<i64>,
    end_ms: Option<i64>,
    text: String,
}

/// The longest meeting (by duration) of the ICSI file, or `None` when the file is absent.
fn longest_meeting() -> Option<Conversation> {
    let dir = std::env::var_os("DEBRIEF_EVAL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/eval")));
    let path = dir.join("icsi_action_items_dev.jsonl");
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!("trackers bench skipped: {} not found", path.display());
        return None;
    };
    let meeting = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Meeting>(l).ok())
        .max_by_key(|m| {
            (
                m.segments
                    .iter()
                    .filter_map(|s| s.end_ms)
                    .max()
                    .unwrap_or(0),
                m.id.clone(),
            )
        })?;
    Some(Conversation {
        id: meeting.id,
        tenant_id: "bench".into(),
        language: Some("en".into()),
        segments: meeting
            .segments
            .into_iter()
            .enumerate()
            .map(|(i, s)| Segment {
                id: i.to_string(),
                speaker: s.speaker,
                start_ms: s.start_ms,
                end_ms: s.end_ms,
                text: s.text,
                ..Segment::default()
            })
            .collect(),
        ..Conversation::default()
    })
}

/// Meeting words and bigrams below the 100 most frequent words, most frequent first.
fn meeting_terms(conv: &Conversation) -> (Vec<String>, Vec<String>) {
    let words: Vec<String> = conv
        .segments
        .iter()
        .flat_map(|s| s.text.split(|c: char| !c.is_alphanumeric()))
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    let mut freq: HashMap<&str, usize> = HashMap::new();
    for w in &words {
        *freq.entry(w).or_default() += 1;
    }
    let mut vocab: Vec<(&str, usize)> = freq.iter().map(|(w, n)| (*w, *n)).collect();
    vocab.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let common: std::collections::HashSet<&str> = vocab.iter().take(100).map(|(w, _)| *w).collect();
    let singles = vocab.iter().skip(100).map(|(w, _)| w.to_string()).collect();
    let bigrams = words
        .windows(2)
        .step_by(7)
        .filter(|p| !common.contains(p[0].as_str()) && !common.contains(p[1].as_str()))
        .map(|p| format!("{} {}", p[0], p[1]))
        .collect();
    (singles, bigrams)
}

/// `n` distinct terms: `real` from the meeting (two thirds words, one third bigrams), the
/// rest synthetic words (6 to 11 letters, none a meeting word) and two-word phrases from a
/// fixed-seed generator.
fn terms(conv: &Conversation, n: usize, real: usize) -> Vec<String> {
    let (singles, bigrams) = meeting_terms(conv);
    let mut out: Vec<String> = Vec::with_capacity(n);
    let mut seen = std::collections::HashSet::new();
    let mut push = |t: String, out: &mut Vec<String>| {
        if out.len() < n && seen.insert(t.clone()) {
            out.push(t);
        }
    };
    for w in singles.into_iter().take(real * 2 / 3) {
        push(w, &mut out);
    }
    for b in bigrams {
        if out.len() >= real.min(n) {
            break;
        }
        push(b, &mut out);
    }
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut word = || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let len = 6 + (state >> 60) as usize % 6;
        (0..len)
            .map(|i| (b'a' + ((state >> (i * 5)) % 26) as u8) as char)
            .collect::<String>()
    };
    // Synthetic words never occur in the meeting.
    let vocab: std::collections::HashSet<String> = conv
        .segments
        .iter()
        .flat_map(|s| s.text.split(|c: char| !c.is_alphanumeric()))
        .map(str::to_lowercase)
        .collect();
    let mut word = || loop {
        let w = word();
        if !vocab.contains(&w) {
            return w;
        }
    };
    while out.len() < n {
        let t = if out.len() % 5 == 0 {
            format!("{} {}", word(), word())
        } else {
            word()
        };
        push(t, &mut out);
    }
    out
}

/// Ten terms per tracker, more when that would pass the 1,000-tracker limit.
fn config(terms: Vec<String>) -> TenantConfig {
    let per_tracker = terms.len().div_ceil(1_000).max(10);
    let trackers = terms
        .chunks(per_tracker)
        .enumerate()
        .map(|(i, chunk)| TrackerConfig {
            name: format!("tracker-{i:04}"),
            terms: chunk.to_vec(),
            stemming: true,
            accent_insensitive: true,
            ..TrackerConfig::default()
        })
        .collect();
    TenantConfig {
        tenant_id: "bench".into(),
        trackers,
        ..TenantConfig::default()
    }
}

fn bench(c: &mut Criterion<ThreadCpu>) {
    let Some(conv) = longest_meeting() else {
        return;
    };
    let bytes: usize = conv.segments.iter().map(|s| s.text.len()).sum();
    let minutes = conv
        .segments
        .iter()
        .filter_map(|s| s.end_ms)
        .max()
        .unwrap_or(0) as f64
        / 60_000.0;
    eprintln!(
        "meeting {}: {} segments, {bytes} bytes of text, {minutes:.1} minutes",
        conv.id,
        conv.segments.len()
    );

    // Typical: 10 terms that occur in the meeting, the rest synthetic (as product names,
    // competitors and phrases mostly absent from any one call). Dense: 60 % of the terms are
    // meeting words and bigrams (every content word of the meeting is tracked).
    for name in ["typical", "dense"] {
        let real = |n: usize| if name == "typical" { 10 } else { n * 6 / 10 };
        let mut g = c.benchmark_group(format!("trackers_find_{name}"));
        g.throughput(Throughput::BytesDecimal(bytes as u64));
        for n in [10, 1_000, 10_000] {
            let set = TrackerSet::compile(&config(terms(&conv, n, real(n)))).unwrap();
            let (hits, _) = set.find(&conv, "en");
            eprintln!("{name}, {n} terms: {} hits", hits.len());
            g.bench_function(format!("{n}_terms"), |b| {
                b.iter(|| set.find(black_box(&conv), "en"))
            });
            if name == "typical" {
                // A meeting whose words were never seen by this matcher: every distinct word is
                // normalised and stemmed.
                g.bench_function(format!("{n}_terms_cold"), |b| {
                    b.iter_batched(
                        || set.forget_words(),
                        |()| set.find(black_box(&conv), "en"),
                        BatchSize::PerIteration,
                    )
                });
            }
        }
        g.finish();
    }

    // Control: 10 terms while a 10,000-term set is alive in the process. Matching does the same
    // work as `typical/10_terms`; any difference is the process heap (the allocator serves the
    // five strings of every hit more slowly when a large set is alive).
    {
        let big = TrackerSet::compile(&config(terms(&conv, 10_000, 10))).unwrap();
        big.prepare("en");
        let set = TrackerSet::compile(&config(terms(&conv, 10, 10))).unwrap();
        let mut g = c.benchmark_group("trackers_find_control");
        g.throughput(Throughput::BytesDecimal(bytes as u64));
        g.bench_function("10_terms_with_10000_alive", |b| {
            b.iter(|| set.find(black_box(&conv), "en"))
        });
        g.finish();
        drop(big);
    }

    let mut g = c.benchmark_group("trackers_compile");
    g.sample_size(10);
    let tiny = Conversation {
        segments: vec![Segment {
            text: "x".into(),
            ..Segment::default()
        }],
        ..conv.clone()
    };
    // Validation, the language-independent automaton, then the English one (first use).
    for n in [10_000, 50_000] {
        let cfg = config(terms(&conv, n, 10));
        g.bench_function(format!("{n}_terms_with_english"), |b| {
            b.iter(|| {
                let set = TrackerSet::compile(black_box(&cfg)).unwrap();
                set.find(&tiny, "en")
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(ThreadCpu { wall: WallTime });
    targets = bench
}
criterion_main!(benches);
