//! Cost of personal data redaction inside `analyse` (what `debrief process` runs per
//! conversation): the same conversation with the tenant's redaction on and off, on the
//! longest ICSI meeting (speech, almost no numbers) and on the 520 texts of
//! `../shared/eval/pii_multilingual_dev.jsonl` as one conversation (dense personal data).
//! Throughput in bytes of transcript text per second, one core. Skips a conversation whose
//! file is absent.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use debrief::extract::{analyse, ExtractContext, Settings};
use debrief::ingest::files;
use debrief::insight::FinalisedBy;
use debrief::model::{Conversation, Segment};
use debrief::tenant::TenantRuntime;
use debrief::tenant::{Features, TenantConfig};
use std::hint::black_box;
use std::io::BufRead;
use std::path::Path;

const ICSI: &str = "../shared/eval/icsi_action_items_dev.jsonl";
const PII: &str = "../shared/eval/pii_multilingual_dev.jsonl";

fn data(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(name)
}

fn longest_meeting() -> Option<Conversation> {
    let reader = files::open(&data(ICSI)).ok()?;
    reader.filter_map(Result::ok).max_by_key(|c| c.text_chars())
}

/// The PII texts as the segments of one two-speaker conversation.
fn pii_conversation() -> Option<Conversation> {
    let file = std::fs::File::open(data(PII)).ok()?;
    let segments = std::io::BufReader::new(file)
        .lines()
        .map_while(Result::ok)
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(&l).ok())
        .enumerate()
        .map(|(i, v)| Segment {
            id: i.to_string(),
            speaker: format!("s{}", i % 2),
            text: v["text"].as_str().unwrap_or_default().to_string(),
            ..Segment::default()
        })
        .collect();
    Some(Conversation {
        id: "pii".into(),
        language: Some("en".into()),
        segments,
        ..Conversation::default()
    })
}

fn tenant(redaction: bool) -> TenantRuntime {
    TenantRuntime::compile(TenantConfig {
        tenant_id: "bench".into(),
        features: Features {
            redaction,
            ..Features::default()
        },
        ..TenantConfig::default()
    })
    .expect("a valid tenant")
}

fn bench(c: &mut Criterion) {
    let settings = Settings::default();
    let (on, off) = (tenant(true), tenant(false));
    for (name, conv) in [
        ("icsi_longest", longest_meeting()),
        ("pii_dev", pii_conversation()),
    ] {
        let Some(conv) = conv else {
            eprintln!("skipped {name}: evaluation data not found");
            continue;
        };
        let bytes: usize = conv.segments.iter().map(|s| s.text.len()).sum();
        let mut group = c.benchmark_group(format!("redact/{name}"));
        group.throughput(Throughput::Bytes(bytes as u64));
        for (label, t) in [
            ("analyse_redaction_off", &off),
            ("analyse_redaction_on", &on),
        ] {
            let ctx = ExtractContext {
                settings: &settings,
                tenant: Some(t),
                finalised_by: FinalisedBy::File,
                reference_time: None,
            };
            group.bench_function(label, |b| {
                b.iter(|| black_box(analyse(black_box(&conv), &ctx)))
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
