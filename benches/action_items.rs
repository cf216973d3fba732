//! Action-item extraction speed on the longest ICSI meeting of
//! `../shared/eval/icsi_action_items_dev.jsonl` (or `$DEBRIEF_EVAL_DIR/...`), in bytes of
//! transcript text per second on one thread. Target: at least 20 MB/s per core. Also measures
//! a French dialogue set (DiaBLa, all dialogues as one conversation) when present. Skipped with
//! a message when the files are absent.
//!
//! `cargo bench --bench action_items`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use debrief::eval::data;
use debrief::extract::action_items::extract;
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

fn bench(c: &mut Criterion) {
    let icsi = eval_dir().join("icsi_action_items_dev.jsonl");
    let Ok(set) = data::load(&icsi) else {
        eprintln!("skipping action_items bench: {} not found", icsi.display());
        return;
    };
    let Some(longest) = set
        .labelled
        .iter()
        .max_by_key(|l| text_bytes(&l.conv))
        .map(|l| l.conv.clone())
    else {
        eprintln!(
            "skipping action_items bench: no meeting in {}",
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
    if let Ok(d) = data::load(&diabla) {
        let mut fr = Conversation::default();
        for p in &d.pairs {
            fr.segments.extend(p.b.1.segments.iter().cloned());
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
