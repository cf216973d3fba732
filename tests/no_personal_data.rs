//! Nothing personal in logs or dead-letter headers, in any encoding, on any error path.
//!
//! Marker words stand for what people said and who they are: they go into every content
//! field of transcript events (segment text, speaker ids and names, titles, time zones,
//! languages, platform and client version), which are then published through each encoding,
//! well-formed and broken in every way the decoders report (wrong type, unknown variant,
//! truncated, bad magic, bad UTF-8, a key that is not the conversation id). The service runs
//! at its most verbose log level; afterwards its whole log and every dead letter's headers
//! are searched for the markers. Conversation and tenant ids are identifiers the logs may
//! name, so they carry no marker.

mod common;

use std::time::Duration;

use debrief::events::{
    ConversationStarted, EventHeader, SegmentBody, SpeakerRole, TranscriptEvent, TranscriptPayload,
};
use debrief::schema::{Codec, Encoding};
use rdkafka::message::Headers;
use rdkafka::Message;

use common::stream::{read_until, terminate, Isolation, Service};
use common::{brokers, produce, producer};

/// The marker words; each is searched for case-insensitively.
const MARKERS: &[&str] = &[
    "zorglubtext",
    "zorglubname",
    "zorglubmail",
    "zorglubtitle",
    "zorglubowner",
];

fn marked_event(id: &str, payload: u8) -> TranscriptEvent {
    let header = EventHeader {
        tenant_id: "acme".into(),
        source_platform: "zorglubtext-platform".into(),
        client_version: "zorglubtext".into(),
        emitted_at_ms: None,
    };
    let payload = match payload {
        0 => TranscriptPayload::Started(ConversationStarted {
            started_at_ms: Some(1_760_000_000_000),
            time_zone: Some("Zorglubtext/Zone".into()),
            language: Some("zorglubtext".into()),
            title: Some("Zorglubtitle meeting about zorglubtext".into()),
            owner_id: Some("zorglubowner@example.com".into()),
        }),
        _ => TranscriptPayload::Segment(SegmentBody {
            segment_id: "1".into(),
            revision: 0,
            is_final: true,
            speaker_id: "zorglubmail@example.com".into(),
            speaker_name: Some("Zorglubname Person".into()),
            speaker_role: SpeakerRole::External,
            start_ms: Some(0),
            end_ms: Some(1000),
            text: "My secret is zorglubtext, call me at zorglubmail@example.com".into(),
            language: Some("zorglubtext".into()),
            confidence: Some(0.9),
        }),
    };
    TranscriptEvent {
        header,
        conversation_id: id.into(),
        payload,
    }
}

/// Every way to break a record whose bytes hold the markers, for one encoding.
fn broken_records(codec: &Codec, topic: &str, encoding: Encoding) -> Vec<(String, Vec<u8>)> {
    let good = codec
        .encode(topic, &marked_event("c-broken", 1))
        .expect("encoding a marked event");
    let mut out = Vec::new();
    // Truncated in the middle of the text.
    out.push(("c-truncated".to_owned(), good[..good.len() - 20].to_vec()));
    // Invalid UTF-8 inside the marked text.
    let mut bad_utf8 = good.clone();
    if let Some(at) = bad_utf8.windows(11).position(|w| w == b"zorglubtext") {
        bad_utf8[at + 3] = 0xff;
    }
    out.push(("c-broken".to_owned(), bad_utf8));
    match encoding {
        Encoding::Json => {
            let mut json: serde_json::Value = serde_json::from_slice(&good).expect("JSON");
            // A wrong type whose value is marked text.
            let mut wrong = json.clone();
            wrong["payload"]["revision"] = "zorglubtext zorglubname".into();
            out.push(("c-broken".to_owned(), wrong.to_string().into_bytes()));
            // An unknown variant named with a marker.
            let unknown = serde_json::json!({
                "header": json["header"].clone(),
                "conversation_id": "c-broken",
                "payload": {"type": "zorglubtext", "text": "zorglubname"}
            });
            out.push(("c-broken".to_owned(), unknown.to_string().into_bytes()));
            // A missing field next to marked values.
            json["payload"]
                .as_object_mut()
                .expect("a segment")
                .remove("segment_id");
            out.push(("c-broken".to_owned(), json.to_string().into_bytes()));
            // Not JSON at all, starting with marked text.
            out.push((
                "c-broken".to_owned(),
                b"zorglubtext zorglubmail@example.com".to_vec(),
            ));
        }
        _ => {
            // An unknown schema fingerprint in front of a marked body.
            let mut unknown = good.clone();
            unknown[2] ^= 0xff;
            out.push(("c-broken".to_owned(), unknown));
            // No magic at all: marked text.
            out.push((
                "c-broken".to_owned(),
                b"zorglubtext zorglubmail@example.com".to_vec(),
            ));
        }
    }
    // A well-formed event under a key that is not its conversation id.
    out.push(("c-other-key".to_owned(), good));
    out
}

fn find_markers(text: &str) -> Vec<&'static str> {
    let lower = text.to_lowercase();
    MARKERS
        .iter()
        .copied()
        .filter(|m| lower.contains(m))
        .collect()
}

async fn run(encoding: Encoding, name: &str) {
    let brokers = brokers();
    let encoding_name = match encoding {
        Encoding::Json => "json",
        _ => "avro_single_object",
    };
    let service = Service::create(&brokers, name, 1)
        .await
        .with("DEBRIEF__ENCODING", encoding_name)
        .with("DEBRIEF__ASSEMBLY__IDLE_TIMEOUT_MS", "2000");
    let codec = Codec::new(encoding, None).expect("codec");
    let p = producer(&brokers);
    // Good events (the normal path logs too), then every broken form.
    let mut records: Vec<(String, Vec<u8>)> = [0u8, 1]
        .iter()
        .map(|&k| {
            let e = marked_event("c-good", k);
            (
                e.conversation_id.clone(),
                codec.encode(&service.transcripts, &e).unwrap(),
            )
        })
        .collect();
    let broken = broken_records(&codec, &service.transcripts, encoding);
    let broken_count = broken.len();
    records.extend(broken);
    for (key, value) in &records {
        produce(&p, &service.transcripts, key.as_bytes(), value, None).await;
    }
    let dir = tempfile::tempdir().expect("a temporary folder");
    let log = dir.path().join("service.log");
    let mut child = service.spawn_logged(&[("RUST_LOG", "trace,librdkafka=debug")], &log);
    let (b, topic) = (brokers.clone(), service.dead_letter.clone());
    let dead = tokio::task::spawn_blocking(move || {
        read_until(&b, &topic, Isolation::Committed, |m| {
            m.len() >= broken_count
        })
    })
    .await
    .unwrap();
    // The good conversation's insight too (idle timeout): the normal path has run.
    let (b, topic) = (brokers.clone(), service.dynamics.clone());
    tokio::task::spawn_blocking(move || {
        read_until(&b, &topic, Isolation::Committed, |m| !m.is_empty())
    })
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(terminate(&mut child), Some(0));

    let log_text = std::fs::read_to_string(&log).expect("reading the service log");
    assert!(
        log_text.contains("dead letter") || log_text.contains("dead_letter"),
        "the log at trace level should mention the dead letters"
    );
    let leaks: Vec<(usize, &str)> = log_text
        .lines()
        .enumerate()
        .filter(|(_, l)| !find_markers(l).is_empty())
        .collect();
    assert!(
        leaks.is_empty(),
        "{} log line(s) hold personal data, e.g. line {}: {}",
        leaks.len(),
        leaks[0].0 + 1,
        leaks[0].1
    );
    for m in &dead {
        let headers = m.headers().expect("dead letters have headers");
        for h in headers.iter() {
            let value = h.value.map(String::from_utf8_lossy).unwrap_or_default();
            assert!(
                find_markers(&value).is_empty() && find_markers(h.key).is_empty(),
                "dead-letter header {} holds personal data: {value}",
                h.key
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a broker: scripts/test.sh"]
async fn avro_errors_leave_no_personal_data_in_logs_or_dead_letter_headers() {
    run(Encoding::AvroSingleObject, "pii-avro").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a broker: scripts/test.sh"]
async fn json_errors_leave_no_personal_data_in_logs_or_dead_letter_headers() {
    run(Encoding::Json, "pii-json").await;
}
