//! Proves the broker test harness (`tests/common`) against the real broker `scripts/test.sh`
//! starts (Apache Kafka; also run against tansu, the optional second broker): topic creation, idempotent produce with headers, group consumption,
//! synchronous commits, resumption after the committed offset, partitioning, watermarks and
//! a two-member group. If these fail, every other broker test would fail for the same reason.

mod common;

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Message, Offset, TopicPartitionList};

use common::{
    assignment, brokers, consume_n, consumer, create_topic, decide_brokers, header_pairs, headers,
    produce, producer, unique_name, BROKER_TIMEOUT,
};

#[test]
fn a_set_broker_variable_is_used() {
    let brokers = Some("127.0.0.1:9092".to_owned());
    assert_eq!(decide_brokers(brokers), "127.0.0.1:9092");
}

#[test]
#[should_panic(expected = "DEBRIEF_TEST_BROKERS is not set: this test needs a real broker")]
fn no_broker_panics_instead_of_passing() {
    decide_brokers(None);
}

#[test]
fn unique_names_are_unique_and_clean() {
    let a = unique_name("smoke test/1");
    let b = unique_name("smoke test/1");
    assert_ne!(a, b);
    assert!(a.starts_with("t-smoke-test-1-"), "{a}");
    // "t-" + "smoke-test-1" + "-" + 16 hex digits
    assert_eq!(a.len(), 2 + 12 + 1 + 16, "{a}");
    assert!(a
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_'));
}

/// The header set every smoke record carries: a constant, the record's sequence number and a
/// header with a null value (Debrief's dead-letter headers may be null).
fn smoke_headers(seq: usize) -> Vec<(String, Option<Vec<u8>>)> {
    vec![
        ("debrief-source".to_owned(), Some(b"smoke".to_vec())),
        ("seq".to_owned(), Some(seq.to_string().into_bytes())),
        ("nullable".to_owned(), None),
    ]
}

fn committed(consumer: &StreamConsumer, topic: &str, partition: i32) -> Offset {
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition(topic, partition);
    let committed = consumer
        .committed_offsets(tpl, BROKER_TIMEOUT)
        .expect("OffsetFetch failed");
    committed
        .find_partition(topic, partition)
        .expect("OffsetFetch answer lacks the partition")
        .offset()
}

#[tokio::test]
#[ignore = "needs a broker: scripts/test.sh"]
async fn idempotent_produce_with_headers_then_group_commit_and_resume() {
    let brokers = brokers();
    let topic = unique_name("smoke-resume");
    let group = unique_name("smoke-resume-group");
    create_topic(&brokers, &topic, 1).await;

    let producer = producer(&brokers);
    let mut delivered = Vec::new();
    for seq in 0..6 {
        let pairs = smoke_headers(seq);
        let borrowed: Vec<(&str, Option<&[u8]>)> = pairs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_deref()))
            .collect();
        let key = format!("k{seq}");
        let payload = format!("v{seq}");
        delivered.push(
            produce(
                &producer,
                &topic,
                key.as_bytes(),
                payload.as_bytes(),
                Some(headers(&borrowed)),
            )
            .await,
        );
    }
    // One partition, idempotent producer: offsets are dense and start at 0.
    assert_eq!(delivered, (0..6).map(|o| (0, o)).collect::<Vec<_>>());

    // First member of the group reads everything, commits "next to read = 4", leaves.
    {
        let first = consumer(&brokers, &group, &[&topic]);
        let records = consume_n(&first, 6, BROKER_TIMEOUT).await;
        for (seq, record) in records.iter().enumerate() {
            assert_eq!(record.offset(), seq as i64);
            assert_eq!(record.key(), Some(format!("k{seq}").as_bytes()));
            assert_eq!(record.payload(), Some(format!("v{seq}").as_bytes()));
            assert_eq!(
                header_pairs(record),
                smoke_headers(seq),
                "headers of record {seq}"
            );
        }
        let mut commit = TopicPartitionList::new();
        commit
            .add_partition_offset(&topic, 0, Offset::Offset(4))
            .expect("valid offset");
        first
            .commit(&commit, CommitMode::Sync)
            .expect("synchronous commit failed");
        assert_eq!(committed(&first, &topic, 0), Offset::Offset(4));
    } // dropping the consumer closes it: LeaveGroup

    // A new member of the same group resumes after the committed offset.
    let second = consumer(&brokers, &group, &[&topic]);
    let resumed = consume_n(&second, 2, BROKER_TIMEOUT).await;
    let resumed: Vec<(i64, Option<&[u8]>)> =
        resumed.iter().map(|m| (m.offset(), m.key())).collect();
    assert_eq!(
        resumed,
        vec![(4, Some(&b"k4"[..])), (5, Some(&b"k5"[..]))],
        "second member must start at the committed offset 4"
    );

    // The commit belongs to the group: another group starts from the beginning.
    let other = consumer(&brokers, &unique_name("smoke-other-group"), &[&topic]);
    let first_of_other = consume_n(&other, 1, BROKER_TIMEOUT).await;
    assert_eq!(first_of_other[0].offset(), 0);
}

#[tokio::test]
#[ignore = "needs a broker: scripts/test.sh"]
async fn creating_an_existing_topic_is_refused() {
    let brokers = brokers();
    let topic = unique_name("smoke-exists");
    create_topic(&brokers, &topic, 2).await;
    let admin: AdminClient<DefaultClientContext> = common::client_config(&brokers)
        .create()
        .expect("admin client");
    let again = NewTopic::new(&topic, 2, TopicReplication::Fixed(1));
    let results = admin
        .create_topics(
            [&again],
            &AdminOptions::new().operation_timeout(Some(BROKER_TIMEOUT)),
        )
        .await
        .expect("CreateTopics request");
    assert_eq!(
        results,
        vec![Err((topic.clone(), RDKafkaErrorCode::TopicAlreadyExists))]
    );
}

#[tokio::test]
#[ignore = "needs a broker: scripts/test.sh"]
async fn keyed_records_stay_on_one_partition_and_watermarks_count_them() {
    let brokers = brokers();
    let topic = unique_name("smoke-keys");
    create_topic(&brokers, &topic, 3).await;

    let producer = producer(&brokers);
    let mut per_partition = [0i64; 3];
    let mut partition_of_key = std::collections::BTreeMap::new();
    for i in 0..30 {
        let key = format!("conversation-{}", i % 5);
        let (partition, offset) = produce(&producer, &topic, key.as_bytes(), b"x", None).await;
        // Offsets within a partition are dense: the n-th record there has offset n.
        assert_eq!(
            offset, per_partition[partition as usize],
            "offset on {partition}"
        );
        per_partition[partition as usize] += 1;
        let first = *partition_of_key.entry(key.clone()).or_insert(partition);
        assert_eq!(first, partition, "key {key} moved partition");
    }
    assert_eq!(per_partition.iter().sum::<i64>(), 30);

    let reader = consumer(&brokers, &unique_name("smoke-keys-group"), &[&topic]);
    let records = consume_n(&reader, 30, BROKER_TIMEOUT).await;
    for record in &records {
        let key = String::from_utf8(record.key().expect("keyed").to_vec()).expect("utf-8 key");
        assert_eq!(partition_of_key[&key], record.partition(), "key {key}");
    }
    for (partition, count) in per_partition.iter().enumerate() {
        let (low, high) = reader
            .fetch_watermarks(&topic, partition as i32, BROKER_TIMEOUT)
            .expect("ListOffsets");
        assert_eq!(
            (low, high),
            (0, *count),
            "watermarks of partition {partition}"
        );
    }
}

#[tokio::test]
#[ignore = "needs a broker: scripts/test.sh"]
async fn two_members_of_a_group_split_the_partitions() {
    let brokers = brokers();
    let topic = unique_name("smoke-split");
    let group = unique_name("smoke-split-group");
    create_topic(&brokers, &topic, 4).await;

    let a = consumer(&brokers, &group, &[&topic]);
    let b = consumer(&brokers, &group, &[&topic]);
    // Drive both members until the group settles with every partition owned by exactly one
    // of them (both must be polled: a member that is not polled delays the rebalance).
    let deadline = tokio::time::Instant::now() + BROKER_TIMEOUT;
    let (owned_a, owned_b) = loop {
        let _ = tokio::join!(
            tokio::time::timeout(Duration::from_millis(100), a.recv()),
            tokio::time::timeout(Duration::from_millis(100), b.recv()),
        );
        let (owned_a, owned_b) = (assignment(&a), assignment(&b));
        if !owned_a.is_empty() && !owned_b.is_empty() && owned_a.len() + owned_b.len() == 4 {
            break (owned_a, owned_b);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "group did not settle: a={owned_a:?} b={owned_b:?}"
        );
    };
    let mut all: Vec<i32> = owned_a.iter().chain(&owned_b).map(|(_, p)| *p).collect();
    all.sort();
    assert_eq!(all, vec![0, 1, 2, 3], "a={owned_a:?} b={owned_b:?}");

    // Records produced now reach the member that owns their partition, and only it.
    let producer = producer(&brokers);
    let mut for_a = 0;
    for i in 0..20 {
        let (partition, _) =
            produce(&producer, &topic, format!("k{i}").as_bytes(), b"x", None).await;
        if owned_a.iter().any(|(_, p)| *p == partition) {
            for_a += 1;
        }
    }
    let (got_a, got_b) = tokio::join!(
        consume_n(&a, for_a, BROKER_TIMEOUT),
        consume_n(&b, 20 - for_a, BROKER_TIMEOUT),
    );
    assert!(got_a
        .iter()
        .all(|m| owned_a.contains(&(topic.clone(), m.partition()))));
    assert!(got_b
        .iter()
        .all(|m| owned_b.contains(&(topic.clone(), m.partition()))));
}
