//! What only a real Apache Kafka can show (`scripts/test.sh` starts one): aborted
//! transactions are invisible to `read_committed` readers, compaction leaves one value per
//! key and a tombstone removes the key, and neither a rebalance under load nor a broker
//! restart loses a conversation or produces a conflicting value. Each test runs the real binary (`debrief run`) as a child
//! process.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use rdkafka::message::OwnedMessage;
use rdkafka::producer::FutureRecord;
use rdkafka::Message;

use common::stream::{
    assert_complete, create_topic_with, insights, keys_with_value, kill, one_value_per_key,
    publish, read_all, read_until, stream, terminate, Isolation, PrivateKafka, Service,
};
use common::{brokers, create_topic, producer};

/// Records of the topic that are transaction data, not control records: librdkafka never
/// hands control records to the application, so every message read is data.
fn offsets(msgs: &[OwnedMessage]) -> BTreeSet<(i32, i64)> {
    msgs.iter().map(|m| (m.partition(), m.offset())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a broker: scripts/test.sh"]
async fn a_transaction_killed_midway_is_invisible_and_the_restart_writes_one_value_each() {
    let brokers = brokers();
    let txn_id = common::unique_name("txn");
    let service = Service::create(&brokers, "txn", 2)
        .await
        .with("DEBRIEF__DELIVERY__MODE", "transactional")
        .with("DEBRIEF__DELIVERY__TRANSACTIONAL_ID", &txn_id);
    let (events, lengths) = stream(20, "acme");
    publish(&producer(&brokers), &service.transcripts, &events).await;

    // First run: transactions would commit only every 10 minutes, so every insight it writes
    // is in one open transaction when it is killed.
    let mut first = service.spawn_with(&[("DEBRIEF__DELIVERY__TRANSACTION_INTERVAL_MS", "600000")]);
    let (b, topic) = (brokers.clone(), service.dynamics.clone());
    let written = tokio::task::spawn_blocking(move || {
        read_until(&b, &topic, Isolation::Uncommitted, |m| {
            keys_with_value(m).len() >= 20
        })
    })
    .await
    .unwrap();
    kill(&mut first);
    let aborted = offsets(&written);
    assert_eq!(
        aborted.len(),
        20,
        "one insight per conversation in the open transaction"
    );

    // Second run, same transactional.id: initialising fences the dead producer and aborts
    // its transaction; nothing was committed, so the whole stream is processed again.
    let mut second = service.spawn_with(&[("DEBRIEF__DELIVERY__TRANSACTION_INTERVAL_MS", "200")]);
    let (b, topic) = (brokers.clone(), service.dynamics.clone());
    tokio::task::spawn_blocking(move || {
        read_until(&b, &topic, Isolation::Committed, |m| {
            keys_with_value(m).len() >= 20
        })
    })
    .await
    .unwrap();
    assert_eq!(terminate(&mut second), Some(0), "SIGTERM exits 0");

    let committed = read_all(&brokers, &service.dynamics, Isolation::Committed);
    assert_eq!(
        committed.len(),
        20,
        "a read_committed reader sees exactly one value per conversation"
    );
    assert!(
        offsets(&committed).is_disjoint(&aborted),
        "no record of the aborted transaction is visible to read_committed"
    );
    one_value_per_key(&committed);
    assert_complete(&committed, &lengths);
    // The aborted records are still in the log, visible to read_uncommitted only.
    let everything = read_all(&brokers, &service.dynamics, Isolation::Uncommitted);
    assert!(offsets(&everything).is_superset(&aborted));
}

/// Topic settings that make the log cleaner compact within seconds: a new segment every
/// 100 ms (rolled by the next append), any dirty ratio, tombstones kept 100 ms.
const AGGRESSIVE_COMPACTION: &[(&str, &str)] = &[
    ("cleanup.policy", "compact"),
    ("segment.ms", "100"),
    ("min.cleanable.dirty.ratio", "0.001"),
    ("min.compaction.lag.ms", "0"),
    ("delete.retention.ms", "100"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a broker: scripts/test.sh"]
async fn compaction_keeps_one_value_per_conversation_and_a_tombstone_removes_it() {
    let brokers = brokers();
    let service = Service::named(&brokers, "compact");
    create_topic(&brokers, &service.transcripts, 2).await;
    for topic in [
        &service.tenant_config,
        &service.telemetry,
        &service.dead_letter,
        &service.salesforce,
    ] {
        create_topic(&brokers, topic, 1).await;
    }
    create_topic_with(&brokers, &service.dynamics, 1, AGGRESSIVE_COMPACTION).await;
    let (events, lengths) = stream(10, "acme");
    let p = producer(&brokers);
    publish(&p, &service.transcripts, &events).await;

    // Two full runs under different groups: a replay writes every insight twice.
    for run in 0..2 {
        let group = common::unique_name(&format!("compact-{run}"));
        let mut child = service.spawn_with(&[("DEBRIEF__KAFKA__GROUP_ID", group.as_str())]);
        let (b, topic) = (brokers.clone(), service.dynamics.clone());
        let want = 10 * (run + 1);
        tokio::task::spawn_blocking(move || {
            read_until(&b, &topic, Isolation::Committed, |m| m.len() >= want)
        })
        .await
        .unwrap();
        assert_eq!(terminate(&mut child), Some(0));
    }
    let before = read_all(&brokers, &service.dynamics, Isolation::Committed);
    assert_eq!(before.len(), 20, "two runs, two values per conversation");
    let values = one_value_per_key(&before);
    assert_complete(&before, &lengths);

    // An erasure-style tombstone for one conversation.
    let erased = "conv-3";
    p.send(
        FutureRecord::<[u8], [u8]>::to(&service.dynamics).key(erased.as_bytes()),
        Duration::from_secs(30),
    )
    .await
    .expect("producing a tombstone");

    // The cleaner compacts only closed segments: keep appending a filler record (its own
    // key) so the segment holding the duplicates and the tombstone is rolled and cleaned.
    let deadline = std::time::Instant::now() + common::stream::WAIT;
    let after = loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        p.send(
            FutureRecord::to(&service.dynamics)
                .key("filler".as_bytes())
                .payload("x".as_bytes()),
            Duration::from_secs(30),
        )
        .await
        .expect("producing a filler record");
        let all = read_all(&brokers, &service.dynamics, Isolation::Committed);
        let conversations: Vec<&OwnedMessage> =
            all.iter().filter(|m| m.key() != Some(b"filler")).collect();
        let erased_values = conversations
            .iter()
            .filter(|m| m.key() == Some(erased.as_bytes()) && m.payload().is_some())
            .count();
        if conversations
            .iter()
            .filter(|m| m.payload().is_some())
            .count()
            == 9
            && erased_values == 0
        {
            break all;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not compacted in time: {} conversation record(s), {erased_values} value(s) of {erased}",
            conversations.len()
        );
    };
    let kept: Vec<OwnedMessage> = after
        .into_iter()
        .filter(|m| m.key() != Some(b"filler") && m.payload().is_some())
        .collect();
    // One value per key, byte for byte the one written, and nothing for the erased key.
    let compacted = one_value_per_key(&kept);
    let mut want = values;
    want.remove(erased);
    assert_eq!(compacted, want);
    assert_eq!(kept.len(), 9);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a broker: scripts/test.sh"]
async fn a_broker_restart_with_on_disk_storage_loses_nothing() {
    // A broker of this test's own, so stopping it does not disturb the other tests.
    let mut kafka = tokio::task::spawn_blocking(PrivateKafka::start)
        .await
        .unwrap();
    let brokers = kafka.brokers.clone();
    let service = Service::create(&brokers, "restart", 2).await;
    let (events, lengths) = stream(30, "acme");
    let half = events.len() / 2;
    let mut child = service.spawn();
    {
        let p = producer(&brokers);
        publish(&p, &service.transcripts, &events[..half]).await;
    }
    let (b, topic) = (brokers.clone(), service.dynamics.clone());
    tokio::task::spawn_blocking(move || {
        read_until(&b, &topic, Isolation::Committed, |m| !m.is_empty())
    })
    .await
    .unwrap();

    // The broker goes away for a few seconds while the service runs, then comes back on the
    // same storage and ports.
    kafka = tokio::task::spawn_blocking(move || {
        kafka.stop();
        std::thread::sleep(Duration::from_secs(3));
        kafka.restart();
        kafka
    })
    .await
    .unwrap();
    assert!(
        child.try_wait().unwrap().is_none(),
        "the service survives the broker's absence"
    );
    let p = producer(&brokers);
    publish(&p, &service.transcripts, &events[half..]).await;
    let (b, topic) = (brokers.clone(), service.dynamics.clone());
    tokio::task::spawn_blocking(move || {
        read_until(&b, &topic, Isolation::Committed, |m| {
            keys_with_value(m).len() >= 30
        })
    })
    .await
    .unwrap();
    assert_eq!(terminate(&mut child), Some(0));
    let all = read_all(&brokers, &service.dynamics, Isolation::Committed);
    one_value_per_key(&all);
    assert_complete(&all, &lengths);
    drop(kafka);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a broker: scripts/test.sh"]
async fn a_ten_megabyte_undecodable_record_is_dead_lettered_and_the_next_one_processed() {
    let brokers = brokers();
    let service = Service::named(&brokers, "huge");
    // The publisher's topic takes records up to 16 MiB; the dead-letter topic keeps Kafka's
    // default limit (1 MiB), so the dead letter must be cut to fit.
    create_topic_with(
        &brokers,
        &service.transcripts,
        1,
        &[("max.message.bytes", "16777216")],
    )
    .await;
    for topic in [
        &service.tenant_config,
        &service.telemetry,
        &service.dead_letter,
        &service.dynamics,
        &service.salesforce,
    ] {
        create_topic(&brokers, topic, 1).await;
    }
    let mut config = common::producer_config(&brokers);
    config.set("message.max.bytes", "16777216");
    let big_producer: rdkafka::producer::FutureProducer = config.create().unwrap();
    let huge: Vec<u8> = (0..10 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    big_producer
        .send(
            FutureRecord::to(&service.transcripts)
                .key("conv-huge".as_bytes())
                .payload(&huge),
            Duration::from_secs(60),
        )
        .await
        .expect("publishing a 10 MiB record");
    let (events, lengths) = stream(1, "acme");
    publish(&big_producer, &service.transcripts, &events).await;

    let mut child = service.spawn();
    let (b, topic) = (brokers.clone(), service.dynamics.clone());
    let insights = tokio::task::spawn_blocking(move || {
        read_until(&b, &topic, Isolation::Committed, |m| !m.is_empty())
    })
    .await
    .unwrap();
    assert_complete(&insights, &lengths);
    let dead = read_all(&brokers, &service.dead_letter, Isolation::Committed);
    assert_eq!(terminate(&mut child), Some(0));
    assert_eq!(dead.len(), 1, "one dead letter");
    let dl: debrief::events::DeadLetter = common::stream::codec()
        .decode(dead[0].payload().expect("a dead letter value"))
        .expect("a DeadLetter record");
    assert_eq!(dl.source_offset, 0);
    assert_eq!(dl.original_size, Some(huge.len() as i64));
    assert_eq!(
        dl.value.as_deref(),
        Some(&huge[..debrief::emit::MAX_DEAD_LETTER_VALUE_BYTES])
    );
    assert!(dl.original_sha256.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a broker: scripts/test.sh"]
async fn a_member_stopped_and_restarted_under_load_loses_nothing() {
    let brokers = brokers();
    let service = Service::create(&brokers, "rebalance", 4).await;
    let (events, lengths) = stream(60, "acme");
    let p = producer(&brokers);
    let mut a = service.spawn();
    let mut b = service.spawn();
    // The stream arrives in four parts; member b leaves after the first and comes back
    // after the second, so partitions move twice while conversations are open.
    let quarter = events.len() / 4;
    for (i, part) in events.chunks(quarter).enumerate() {
        publish(&p, &service.transcripts, part).await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        match i {
            0 => assert_eq!(terminate(&mut b), Some(0)),
            1 => b = service.spawn(),
            _ => {}
        }
    }
    let (br, topic) = (brokers.clone(), service.dynamics.clone());
    tokio::task::spawn_blocking(move || {
        read_until(&br, &topic, Isolation::Committed, |m| {
            keys_with_value(m).len() >= 60
        })
    })
    .await
    .unwrap();
    assert_eq!(terminate(&mut a), Some(0));
    assert_eq!(terminate(&mut b), Some(0));
    let all = read_all(&brokers, &service.dynamics, Isolation::Committed);
    one_value_per_key(&all);
    assert_complete(&all, &lengths);
    assert!(
        insights(&all).len() >= 60,
        "every conversation has an insight"
    );
}
