//! Whole offline extraction (KPIs + language, and the full `analyse`) on the longest ICSI
//! meeting of `../shared/eval/icsi_action_items_dev.jsonl`. Throughput is reported in bytes of
//! transcript text per second, on one core. Skips with a message when the file is absent.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use debrief::extract::{analyse, kpis, language, ExtractContext, Settings};
use debrief::ingest::files;
use debrief::insight::FinalisedBy;
use debrief::model::Conversation;
use std::hint::black_box;
use std::path::Path;

const ICSI: &str = "../shared/eval/icsi_action_items_dev.jsonl";

fn longest_meeting() -> Option<Conversation> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(ICSI);
    let reader = files::open(&path).ok()?;
    reader.filter_map(Result::ok).max_by_key(|c| c.text_chars())
}

fn bench(c: &mut Criterion) {
    let Some(conv) = longest_meeting() else {
        eprintln!("skipped: {ICSI} not found (the evaluation data lives outside the repository)");
        return;
    };
    let bytes: usize = conv.segments.iter().map(|s| s.text.len()).sum();
    eprintln!(
        "meeting {}: {} segments, {} bytes of text",
        conv.id,
        conv.segments.len(),
        bytes
    );
    let mut group = c.benchmark_group("extract");
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function("kpis_and_language", |b| {
        b.iter(|| {
            let lang = language::detect(black_box(&conv));
            let code = lang.code.clone().unwrap_or_else(|| "en".into());
            black_box(kpis::compute(&conv, &code))
        })
    });
    // Without the publisher's language, detection runs too.
    let mut undeclared = conv.clone();
    undeclared.language = None;
    group.bench_function("kpis_and_language_detected", |b| {
        b.iter(|| {
            let lang = language::detect(black_box(&undeclared));
            let code = lang.code.clone().unwrap_or_else(|| "en".into());
            black_box(kpis::compute(&undeclared, &code))
        })
    });
    let settings = Settings::default();
    let ctx = ExtractContext {
        settings: &settings,
        tenant: None,
        finalised_by: FinalisedBy::File,
        reference_time: None,
    };
    group.bench_function("analyse_all", |b| {
        b.iter(|| black_box(analyse(black_box(&undeclared), &ctx)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
