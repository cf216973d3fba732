//! The pipeline against librdkafka's in-process mock cluster (what `debrief demo` uses): no
//! broker needed, so these run everywhere. Covers both delivery modes end to end.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use debrief::config::{Config, DeliveryMode};
use debrief::events::{
    ConversationEnded, EventHeader, SegmentBody, TranscriptEvent, TranscriptPayload,
};
use debrief::http::Health;
use debrief::insight::{FinalisedBy, Insight};
use debrief::metrics::Metrics;
use debrief::pipeline::run_pipeline_with;
use debrief::schema::{Codec, Encoding};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::Message;
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(60);

fn events(id: &str, segments: usize) -> Vec<TranscriptEvent> {
    let header = EventHeader {
        tenant_id: "acme".into(),
        client_version: "1.1.0".into(),
        ..Default::default()
    };
    let ev = |payload| TranscriptEvent {
        header: header.clone(),
        conversation_id: id.into(),
        payload,
    };
    let mut out: Vec<TranscriptEvent> = (0..segments)
        .map(|i| {
            ev(TranscriptPayload::Segment(SegmentBody {
                segment_id: i.to_string(),
                is_final: true,
                speaker_id: format!("s{}", i % 2),
                start_ms: Some(i as i64 * 1000),
                end_ms: Some(i as i64 * 1000 + 900),
                text: format!("segment {i} of {id}: we will send the price list tomorrow."),
                ..Default::default()
            }))
        })
        .collect();
    out.push(ev(TranscriptPayload::Ended(ConversationEnded {
        ended_at_ms: None,
        segment_count: Some(segments as i32),
    })));
    out
}

async fn run_on_mock(mode: DeliveryMode) {
    let mock = MockCluster::new(1).unwrap();
    let brokers = mock.bootstrap_servers();
    let mut config = Config::default();
    config.kafka.brokers = brokers.parse().unwrap();
    config.kafka.group_id = format!("mock-{mode:?}");
    config.delivery.mode = mode;
    config.shutdown_deadline = Duration::from_secs(5);
    config.kafka.topics.transcripts = vec!["transcripts".into()];
    for topic in [
        "transcripts",
        "tenants",
        "telemetry",
        "dlq",
        "dynamics",
        "salesforce",
    ] {
        mock.create_topic(topic, if topic == "transcripts" { 2 } else { 1 }, 1)
            .unwrap();
    }
    config.kafka.topics.tenant_config = "tenants".into();
    config.kafka.topics.telemetry = "telemetry".into();
    config.kafka.topics.dead_letter = "dlq".into();
    config.crm.dynamics = "dynamics".into();
    config.crm.salesforce = "salesforce".into();

    let codec = Codec::new(Encoding::AvroSingleObject, None).unwrap();
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .create()
        .unwrap();
    let ids: Vec<String> = (0..10).map(|i| format!("c{i}")).collect();
    for id in &ids {
        for e in events(id, 3) {
            let bytes = codec.encode("transcripts", &e).unwrap();
            producer
                .send(
                    FutureRecord::to("transcripts")
                        .key(id.as_str())
                        .payload(&bytes),
                    WAIT,
                )
                .await
                .unwrap();
        }
    }
    producer
        .send(
            FutureRecord::to("transcripts")
                .key("bad")
                .payload(&b"nope"[..]),
            WAIT,
        )
        .await
        .unwrap();

    let stop = CancellationToken::new();
    let metrics = Arc::new(Metrics::new().unwrap());
    let task = tokio::spawn(run_pipeline_with(
        config,
        stop.clone(),
        metrics.clone(),
        Arc::new(Health::default()),
    ));

    let reader: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("group.id", format!("reader-{mode:?}"))
        .set("auto.offset.reset", "earliest")
        .set("isolation.level", "read_committed")
        .create()
        .unwrap();
    reader.subscribe(&["dynamics"]).unwrap();
    let deadline = Instant::now() + WAIT;
    let mut by_id: BTreeMap<String, Insight> = BTreeMap::new();
    while by_id.len() < ids.len() {
        assert!(
            Instant::now() < deadline,
            "{mode:?}: {} of {} insights",
            by_id.len(),
            ids.len()
        );
        if let Some(Ok(m)) = tokio::task::block_in_place(|| reader.poll(Duration::from_millis(100)))
        {
            let insight: Insight = codec.decode(m.payload().unwrap()).unwrap();
            by_id.insert(insight.conversation_id.clone(), insight);
        }
    }
    stop.cancel();
    let summary = task.await.unwrap().unwrap();
    assert_eq!(summary.conversations_finalised, 10);
    assert_eq!(summary.dead_letters, 1);
    assert_eq!(summary.open_conversations_handed_back, 0);
    for id in &ids {
        let insight = &by_id[id];
        assert_eq!(insight.segment_count, 3);
        assert_eq!(insight.finalised_by, FinalisedBy::EndEvent);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_least_once_on_the_mock_cluster() {
    run_on_mock(DeliveryMode::AtLeastOnce).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactional_on_the_mock_cluster() {
    run_on_mock(DeliveryMode::Transactional).await;
}
