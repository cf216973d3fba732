//! Codec speed: decoding a typical transcript segment event is on the pipeline's hot path
//! (target: 50,000 segment events/s on 2 cores, so well under 20 µs per event per core).
//!
//! `cargo bench --bench codec`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use debrief::events::{EventHeader, SegmentBody, SpeakerRole, TranscriptEvent, TranscriptPayload};
use debrief::schema::{Codec, Encoding, RecordKind, Schemas};
use std::hint::black_box;

/// A segment as live meeting platforms send it: ids, a name, offsets and one sentence.
fn segment_event() -> TranscriptEvent {
    TranscriptEvent {
        header: EventHeader {
            tenant_id: "tenant-7f3a9c".into(),
            source_platform: "teams".into(),
            client_version: "1.4.2".into(),
            emitted_at_ms: Some(1_717_171_717_000),
        },
        conversation_id: "conv-2024-06-01-8f2e4d1a".into(),
        payload: TranscriptPayload::Segment(SegmentBody {
            segment_id: "seg-000187".into(),
            revision: 1,
            is_final: true,
            speaker_id: "ana.nunez@acme.example".into(),
            speaker_name: Some("Ana Núñez".into()),
            speaker_role: SpeakerRole::Internal,
            start_ms: Some(1_261_250),
            end_ms: Some(1_268_900),
            text: "Okay, so I'll send you the updated quote with the volume discount by Friday, \
                   and we can go through the rollout plan with your IT team next week."
                .into(),
            language: Some("en".into()),
            confidence: Some(0.93),
        }),
    }
}

fn bench(c: &mut Criterion) {
    let event = segment_event();
    let single = Codec::new(Encoding::AvroSingleObject, None).unwrap();
    let json = Codec::new(Encoding::Json, None).unwrap();
    let bytes = single.encode("debrief.transcripts.v1", &event).unwrap();
    let json_bytes = json.encode("debrief.transcripts.v1", &event).unwrap();
    eprintln!(
        "segment event: {} bytes single-object, {} bytes JSON",
        bytes.len(),
        json_bytes.len()
    );

    let mut g = c.benchmark_group("segment_event");
    g.throughput(Throughput::Elements(1));
    g.bench_function("decode_single_object", |b| {
        b.iter(|| single.decode::<TranscriptEvent>(black_box(&bytes)).unwrap())
    });
    // The path for records written with another schema version: apache-avro decodes into a
    // Value with the writer schema, which is resolved and mapped.
    let schema = Schemas::get().unwrap().schema(RecordKind::TranscriptEvent);
    g.bench_function("decode_apache_avro_value_path", |b| {
        b.iter(|| {
            let v =
                apache_avro::from_avro_datum(schema, &mut black_box(&bytes[10..]), None).unwrap();
            <TranscriptEvent as debrief::schema::mapping::FromAvro>::from_avro(v).unwrap()
        })
    });
    g.bench_function("decode_json", |b| {
        b.iter(|| {
            json.decode::<TranscriptEvent>(black_box(&json_bytes))
                .unwrap()
        })
    });
    g.bench_function("encode_single_object", |b| {
        b.iter(|| {
            single
                .encode("debrief.transcripts.v1", black_box(&event))
                .unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
