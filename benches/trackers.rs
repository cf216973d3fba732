//! Tracker matching speed over a real one-hour meeting (the longest ICSI meeting of
//! `../shared/eval/icsi_action_items_dev.jsonl`, or `$DEBRIEF_EVAL_DIR/...`) with 10, 1,000 and
//! 10,000 terms. Target: at least 100 MB/s per core at 10,000 terms, and less than 2x between
//! 10 and 10,000 terms. Skipped with a message when the file is absent.
//!
//! `cargo bench --bench trackers`
//!
//! Terms are generated deterministically: meeting words below the 100 most frequent, meeting
//! bigrams, and synthetic words, ten terms per tracker, all trackers stemming (English).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use debrief::extract::trackers::TrackerSet;
use debrief::model::{Conversation, Segment};
use debrief::tenant::{TenantConfig, TrackerConfig};
use serde::Deserialize;
use std::collections::HashMap;
use std::hint::black_box;
use std::path::PathBuf;

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

/// `n` distinct terms: 40 % meeting words (skipping the 100 most frequent), 20 % meeting
/// bigrams, the rest synthetic words from a fixed-seed generator.
fn terms(conv: &Conversation, n: usize) -> Vec<String> {
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
    let mut vocab: Vec<(&str, usize)> = freq.into_iter().collect();
    vocab.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let mut out: Vec<String> = Vec::with_capacity(n);
    let mut seen = std::collections::HashSet::new();
    let mut push = |t: String, out: &mut Vec<String>| {
        if seen.insert(t.clone()) {
            out.push(t);
        }
    };
    for (w, _) in vocab.iter().skip(100).take(n * 4 / 10) {
        push(w.to_string(), &mut out);
    }
    for pair in words.windows(2).step_by(7) {
        if out.len() >= n * 6 / 10 {
            break;
        }
        push(format!("{} {}", pair[0], pair[1]), &mut out);
    }
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    while out.len() < n {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let len = 4 + (state >> 60) as usize % 6;
        let word: String = (0..len)
            .map(|i| (b'a' + ((state >> (i * 5)) % 26) as u8) as char)
            .collect();
        push(word, &mut out);
    }
    out
}

fn config(terms: Vec<String>) -> TenantConfig {
    let trackers = terms
        .chunks(10)
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

fn bench(c: &mut Criterion) {
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

    let mut g = c.benchmark_group("trackers_find");
    g.throughput(Throughput::BytesDecimal(bytes as u64));
    for n in [10, 1_000, 10_000] {
        let set = TrackerSet::compile(&config(terms(&conv, n))).unwrap();
        let (hits, _) = set.find(&conv, "en");
        eprintln!("{n} terms: {} hits", hits.len());
        g.bench_function(format!("{n}_terms"), |b| {
            b.iter(|| set.find(black_box(&conv), "en"))
        });
    }
    g.finish();

    let mut g = c.benchmark_group("trackers_compile");
    g.sample_size(10);
    let cfg = config(terms(&conv, 10_000));
    let tiny = Conversation {
        segments: vec![Segment {
            text: "x".into(),
            ..Segment::default()
        }],
        ..conv.clone()
    };
    g.bench_function("10000_terms_with_english", |b| {
        b.iter(|| {
            let set = TrackerSet::compile(black_box(&cfg)).unwrap();
            set.find(&tiny, "en")
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
