//! Live records against a real broker (`scripts/test.sh` starts Apache Kafka and exports
//! `DEBRIEF_TEST_BROKERS`): a call streamed over stream time gets live records at the
//! configured interval, and the last one agrees with the final insight's KPIs.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use debrief::config::{Config, DeliveryMode};
use debrief::http::Health;
use debrief::insight::Insight;
use debrief::live::{LiveInsight, LiveReason};
use debrief::metrics::Metrics;
use debrief::pipeline::run_pipeline_with;
use debrief::tenant::{TenantConfig, TrackerConfig};
use rdkafka::message::OwnedMessage;
use rdkafka::Message;
use tokio_util::sync::CancellationToken;

use common::stream::{codec, conversation, publish_spaced, read_until, Isolation};
use common::{brokers, create_topic, produce, producer, unique_name};

fn decode<T: debrief::schema::ContractRecord>(msgs: &[OwnedMessage]) -> Vec<T> {
    let codec = codec();
    msgs.iter()
        .filter_map(|m| m.payload())
        .map(|p| codec.decode::<T>(p).expect("a record of the contract"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a broker: scripts/test.sh"]
async fn a_streamed_call_gets_live_records_at_the_interval_and_the_last_agrees_with_the_insight() {
    streamed_call(DeliveryMode::AtLeastOnce).await;
}

/// The same in transactional mode: live records go out in the loop's transactions and are
/// read committed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a broker: scripts/test.sh"]
async fn live_records_in_transactional_mode() {
    streamed_call(DeliveryMode::Transactional).await;
}

async fn streamed_call(mode: DeliveryMode) {
    let brokers = brokers();
    let name = |n: &str| unique_name(&format!("live-{n}"));
    let (transcripts, tenants, live_topic, insights) = (
        name("transcripts"),
        name("tenants"),
        name("live"),
        name("dynamics"),
    );
    for t in [&transcripts, &tenants, &live_topic, &insights] {
        create_topic(&brokers, t, 1).await;
    }
    let mut c = Config::default();
    c.kafka.brokers = brokers.parse().unwrap();
    c.kafka.group_id = name("group");
    c.kafka.topics.transcripts = vec![transcripts.clone()];
    c.kafka.topics.tenant_config = tenants.clone();
    c.kafka.topics.live = live_topic.clone();
    c.kafka.topics.telemetry = name("telemetry");
    c.kafka.topics.dead_letter = name("dlq");
    c.crm.dynamics = insights.clone();
    c.http.listen = ([127, 0, 0, 1], 0).into();
    c.shutdown_deadline = Duration::from_secs(5);
    c.assembly.idle_timeout = Duration::from_secs(60);
    c.delivery.mode = mode;
    c.live.enabled = true;
    c.live.interval = Duration::from_secs(5);
    c.kafka
        .options
        .insert("session.timeout.ms".into(), "10000".into());

    // A tenant tracking discounts: the live records carry the hits of their segments.
    let p = producer(&brokers);
    let tenant = TenantConfig {
        tenant_id: "acme".into(),
        version: 1,
        trackers: vec![TrackerConfig {
            name: "discount".into(),
            terms: vec!["discount".into()],
            stemming: true,
            accent_insensitive: true,
            ..Default::default()
        }],
        ..Default::default()
    };
    let bytes = codec().encode(&tenants, &tenant).unwrap();
    produce(&p, &tenants, b"acme", &bytes, None).await;

    let stop = CancellationToken::new();
    let health = Arc::new(Health::default());
    let task = tokio::spawn(run_pipeline_with(
        c,
        stop.clone(),
        Arc::new(Metrics::new().unwrap()),
        health.clone(),
    ));
    while health.assigned() == 0 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Start, 12 segments, end: one record per second of stream time, starting a minute
    // ahead of the wall clock (so that the wall clock, which a partition read to its end
    // follows, never overtakes the stream).
    let events = conversation("call-1", "acme", 12);
    let t0 = chrono::Utc::now().timestamp_millis() + 60_000;
    publish_spaced(&p, &transcripts, &events, t0, 1_000).await;

    let got = tokio::task::spawn_blocking({
        let (b, live_topic, insights) = (brokers.clone(), live_topic.clone(), insights.clone());
        move || {
            let ended = |m: &[OwnedMessage]| {
                decode::<LiveInsight>(m)
                    .iter()
                    .any(|r| r.reason == LiveReason::End)
            };
            let live = read_until(&b, &live_topic, Isolation::Committed, ended);
            let insight = read_until(&b, &insights, Isolation::Committed, |m| !m.is_empty());
            (live, insight)
        }
    })
    .await
    .unwrap();
    stop.cancel();
    task.await.unwrap().unwrap();

    let live: Vec<LiveInsight> = decode(&got.0);
    let insight: Insight = decode(&got.1).remove(0);
    // Segment i's record has the timestamp t0 + (i + 1) s. The first change goes out at once
    // (segment 0, +1 s); changes then wait for the 5 s interval: segment 5 (+6 s) and
    // segment 10 (+11 s) arrive when it is due; the end event (+13 s) sends the last.
    let at: Vec<i64> = live.iter().map(|r| r.at_ms - t0).collect();
    assert_eq!(at, [1_000, 6_000, 11_000, 13_000], "{live:#?}");
    let reasons: Vec<LiveReason> = live.iter().map(|r| r.reason).collect();
    use LiveReason::{End, Interval};
    assert_eq!(reasons, [Interval, Interval, Interval, End]);
    let seq: Vec<i64> = live.iter().map(|r| r.sequence).collect();
    assert_eq!(seq, [1, 2, 3, 4]);
    let segments: Vec<i64> = live.iter().map(|r| r.kpis.segments).collect();
    assert_eq!(segments, [1, 6, 11, 12]);
    for r in &live {
        assert_eq!(r.conversation_id, "call-1");
        assert_eq!(r.tenant_id, "acme");
    }

    // The last live KPIs equal the insight's where defined alike.
    let last = &live[live.len() - 1].kpis;
    let fin = insight.kpis.as_ref().expect("KPIs in the insight");
    assert_eq!(last.duration_ms, fin.duration_ms);
    assert_eq!(last.internal_talk_time_ms, fin.internal_talk_time_ms);
    assert_eq!(last.external_talk_time_ms, fin.external_talk_time_ms);
    assert_eq!(last.talk_to_listen_ratio, fin.talk_to_listen_ratio);
    assert_eq!(last.longest_monologue_ms, fin.longest_monologue_ms);
    assert_eq!(
        last.longest_customer_monologue_ms,
        fin.longest_customer_monologue_ms
    );
    assert_eq!(last.interruptions, fin.interruptions);
    assert_eq!(last.non_talk_time_ms, fin.non_talk_time_ms);
    assert_eq!(last.questions, fin.questions);
    assert!(fin.internal_talk_time_ms.is_some_and(|t| t > 0));

    // Every hit went out once, in the record after its segment, as the insight has them.
    let hits = |h: &[debrief::insight::TrackerHit]| -> BTreeSet<(String, String, i64)> {
        h.iter()
            .map(|h| (h.tracker.clone(), h.segment_id.clone(), h.start_char))
            .collect()
    };
    let live_hits: Vec<_> = live.iter().flat_map(|r| r.tracker_hits.clone()).collect();
    assert_eq!(live_hits.len(), hits(&live_hits).len(), "no hit twice");
    assert_eq!(hits(&live_hits), hits(&insight.tracker_hits));
    assert!(!live_hits.is_empty(), "the call mentions discounts");
}
