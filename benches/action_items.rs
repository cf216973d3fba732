//! Action-item extraction speed on the longest ICSI meeting of
//! `../shared/eval/icsi_action_items_dev.jsonl` (or `$DEBRIEF_EVAL_DIR/...`), in bytes of
//! transcript text per second on one thread. Target: at least 20 MB/s per core. Also measures
//! a French dialogue set (DiaBLa, all dialogues as one conversation) when present. Skipped with
//! a message when the files are absent.
//!
//! `cargo bench --bench action_items`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use debrief::extract::action_items::extract;
use debrief::ingest::files;
use debrief::model::Conversation;
use std::hint::black_box;
use std::path::PathBuf;

fn eval_dir() -> PathBuf {
    std::env::var_os("DEBRIEF_EVAL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/eval"))
}

fn text_bytes(c: &Conversation) -> u64 {
    c.segments.iter().map(|s| s.text.len() as u64).sum()
}

/// Every conversation of a JSON Lines file that reads (none when the file is absent).
fn conversations(path: &std::path::Path) -> Vec<Conversation> {
    match files::open(path) {
        Ok(reader) => reader.filter_map(Result::ok).collect(),
        Err(_) => Vec::new(),
    }
}

fn bench(c: &mut Criterion) {
    let icsi = eval_dir().join("icsi_action_items_dev.jsonl");
    let Some(longest) = conversations(&icsi).into_iter().max_by_key(text_bytes) else {
        eprintln!(
            "skipping action_items bench: no meeting in {} (absent?)",
            icsi.display()
        );
        return;
    };
    let reference = chrono::DateTime::parse_from_rfc3339("2025-01-29T10:00:00+01:00").ok();
    let mut g = c.benchmark_group("action_items");
    g.throughput(Throughput::Bytes(text_bytes(&longest)));
    g.bench_function(
        format!("icsi_longest_{}_segments", longest.segments.len()),
        |b| {
            b.iter(|| {
                black_box(extract(
                    black_box(&longest),
                    "en",
                    reference,
                    "Europe/Paris",
                ))
            })
        },
    );
    let diabla = eval_dir().join("dialogues_fr_en_diabla.jsonl");
    let french: Vec<Conversation> = conversations(&diabla)
        .into_iter()
        .filter(|c| c.language.as_deref() == Some("fr"))
        .collect();
    if !french.is_empty() {
        let mut fr = Conversation::default();
        for conv in french {
            fr.segments.extend(conv.segments);
        }
        g.throughput(Throughput::Bytes(text_bytes(&fr)));
        g.bench_function(format!("diabla_fr_{}_segments", fr.segments.len()), |b| {
            b.iter(|| black_box(extract(black_box(&fr), "fr", reference, "Europe/Paris")))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
