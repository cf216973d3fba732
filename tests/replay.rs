//! `debrief replay` against Apache Kafka (`scripts/test.sh`): the service processes a stream
//! and stops; replays of a time range then write byte-identical insights for exactly the
//! conversations that lie inside the range (not one that straddles its start, not one still
//! open at its end, not an erased one, only `--tenant`'s with that option), and the live
//! group's committed offsets stay as the service left them.

mod common;

use common::stream::{
    assert_complete, conversation, interleave, key, publish_at, read_all, read_until, terminate,
    Isolation, Service,
};
use common::{brokers, client_config, produce};
use debrief::events::{ErasureRequest, TranscriptEvent};
use debrief::pipeline::replay::time::rfc3339;
use debrief::tenant::{TenantConfig, TrackerConfig};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::OwnedMessage;
use rdkafka::{Message, Offset, TopicPartitionList};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const PARTITIONS: i32 = 2;

fn tenant(i: usize) -> &'static str {
    if i % 2 == 0 {
        "acme"
    } else {
        "globex"
    }
}

/// The stream: conversations `a-*` wholly before the boundary, `s-0` (acme) with its start
/// and first three segments before it and the rest after, `b-*` wholly after it. One
/// record per second of record time, two hours ago. Returns the events, their timestamps,
/// the index of the first event after the boundary and every conversation's length.
fn stream() -> (
    Vec<TranscriptEvent>,
    Vec<i64>,
    usize,
    BTreeMap<String, usize>,
) {
    let mut lengths = BTreeMap::new();
    let mut before: Vec<Vec<TranscriptEvent>> = (0..4)
        .map(|i| {
            let id = format!("a-{i}");
            lengths.insert(id.clone(), 2 + i);
            conversation(&id, tenant(i), 2 + i)
        })
        .collect();
    let straddling = conversation("s-0", "acme", 6);
    lengths.insert("s-0".to_string(), 6);
    let (head, tail) = straddling.split_at(4);
    before.push(head.to_vec());
    let mut after = vec![tail.to_vec()];
    after.extend((0..6).map(|i| {
        let id = format!("b-{i}");
        lengths.insert(id.clone(), 2 + i);
        conversation(&id, tenant(i), 2 + i)
    }));
    let before = interleave(before);
    let boundary = before.len();
    let events: Vec<TranscriptEvent> = before.into_iter().chain(interleave(after)).collect();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_millis() as i64;
    let base = now - 2 * 3_600_000;
    let times = (0..events.len() as i64).map(|k| base + k * 1_000).collect();
    (events, times, boundary, lengths)
}

/// Conversations all of whose events have a timestamp in `[from, to)`.
fn inside(events: &[TranscriptEvent], times: &[i64], from: i64, to: i64) -> BTreeSet<String> {
    let mut span: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
    for (e, &t) in events.iter().zip(times) {
        let s = span.entry(&e.conversation_id).or_insert((t, t));
        s.0 = s.0.min(t);
        s.1 = s.1.max(t);
    }
    span.into_iter()
        .filter(|(_, (first, last))| *first >= from && *last < to)
        .map(|(id, _)| id.to_string())
        .collect()
}

/// The live group's committed offset of every partition of `topic`.
fn committed(brokers: &str, group: &str, topic: &str) -> Vec<(i32, Offset)> {
    let mut config = client_config(brokers);
    config
        .set("group.id", group)
        .set("enable.auto.commit", "false");
    let consumer: BaseConsumer = config.create().expect("a consumer");
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition(topic, p);
    }
    let got = consumer
        .committed_offsets(tpl, Duration::from_secs(30))
        .expect("the group's committed offsets");
    got.elements()
        .iter()
        .map(|e| (e.partition(), e.offset()))
        .collect()
}

/// Keys with a record at an offset after `after` (one-partition topic), with their values.
fn written_after(msgs: &[OwnedMessage], after: i64) -> BTreeMap<String, Vec<Vec<u8>>> {
    let mut out: BTreeMap<String, Vec<Vec<u8>>> = BTreeMap::new();
    for m in msgs.iter().filter(|m| m.offset() > after) {
        out.entry(key(m))
            .or_default()
            .push(m.payload().map(<[u8]>::to_vec).unwrap_or_default());
    }
    out
}

/// Runs a replay; checks its exit code and that exactly `want` got new records, each
/// byte-identical to the service's insight. Returns the topic's last offset afterwards.
fn replay_rewrites(
    s: &Service,
    args: &[&str],
    live: &BTreeMap<String, Vec<u8>>,
    last_offset: i64,
    want: &BTreeSet<String>,
) -> i64 {
    let (code, summary) = s.replay(args);
    assert_eq!(code, Some(0), "debrief replay {args:?}: {summary}");
    eprintln!("debrief replay {args:?}:\n{summary}");
    assert!(
        summary.contains(&format!("conversations rewritten: {} ", want.len())),
        "{args:?}: {summary}"
    );
    let all = read_until(&s.brokers, &s.dynamics, Isolation::Committed, |m| {
        let new = written_after(m, last_offset);
        want.iter().all(|k| new.contains_key(k))
    });
    // Nothing else arrives later: read to the end once the wanted keys are there.
    let all = {
        let rest = read_all(&s.brokers, &s.dynamics, Isolation::Committed);
        assert!(rest.len() >= all.len());
        rest
    };
    let new = written_after(&all, last_offset);
    assert_eq!(
        new.keys().cloned().collect::<BTreeSet<_>>(),
        *want,
        "{args:?}: conversations written again"
    );
    for (k, values) in &new {
        for v in values {
            assert_eq!(
                v, &live[k],
                "{args:?}: {k} was rewritten with different bytes"
            );
        }
    }
    all.iter().map(Message::offset).max().unwrap_or(last_offset)
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a broker: scripts/test.sh"]
async fn replaying_a_range_rewrites_identical_insights_and_leaves_the_live_offsets_alone() {
    let brokers = brokers();
    let s = Service::create(&brokers, "replay", PARTITIONS).await;
    let (events, times, boundary, lengths) = stream();
    let p = common::producer(&brokers);
    publish_at(&p, &s.transcripts, &events, &times).await;

    // The service processes the whole stream, then stops (committing its offsets).
    let mut service = s.spawn();
    let live_msgs = read_until(&brokers, &s.dynamics, Isolation::Committed, |m| {
        common::stream::keys_with_value(m).len() == lengths.len()
    });
    assert_eq!(
        terminate(&mut service),
        Some(0),
        "the service stops cleanly"
    );
    assert_complete(&live_msgs, &lengths);
    let live_msgs = read_all(&brokers, &s.dynamics, Isolation::Committed);
    let live = common::stream::one_value_per_key(&live_msgs);
    let mut last = live_msgs
        .iter()
        .map(Message::offset)
        .max()
        .expect("insights");
    let offsets = committed(&brokers, &s.group, &s.transcripts);
    assert!(
        offsets.iter().all(|(_, o)| matches!(o, Offset::Offset(_))),
        "the service committed every partition: {offsets:?}"
    );

    // b-1 is erased meanwhile: a replay must not bring it back.
    let erase = ErasureRequest {
        request_id: "r-b1".into(),
        tenant_id: "globex".into(),
        conversation_id: Some("b-1".into()),
        requested_at_ms: times[times.len() - 1],
        reason: "user_request".into(),
        participant_id: None,
        requested_by: Some("test-admin".into()),
    };
    let bytes = common::stream::codec()
        .encode(&s.erasure, &erase)
        .expect("encoding a request");
    produce(&p, &s.erasure, b"globex", &bytes, None).await;

    let from = times[boundary];
    let end = times[times.len() - 1] + 1;
    let from_arg = rfc3339(from);
    let mut in_range = inside(&events, &times, from, end);
    assert!(in_range.contains("b-0") && !in_range.contains("s-0"));
    in_range.remove("b-1");

    // 1. From the boundary to the end, with a look-back shorter than the stream before it
    //    (so the a-* conversations are read in part): b-* except the erased one; not s-0,
    //    which began before --from.
    last = replay_rewrites(
        &s,
        &["--from", &from_arg, "--lookback", "10s"],
        &live,
        last,
        &in_range,
    );

    // 2. One tenant only (default look-back).
    let acme: BTreeSet<String> = in_range
        .iter()
        .filter(|id| lengths.contains_key(*id) && id.ends_with(['0', '2', '4']))
        .cloned()
        .collect();
    assert_eq!(acme.len(), 3, "{acme:?}");
    last = replay_rewrites(
        &s,
        &["--from", &from_arg, "--tenant", "acme"],
        &live,
        last,
        &acme,
    );

    // 3. A range ending in the middle of the b-* conversations: those still open at --to
    //    are not written.
    let first_end = events
        .iter()
        .zip(&times)
        .filter(|(e, _)| e.conversation_id.starts_with("b-"))
        .fold(BTreeMap::<&str, i64>::new(), |mut last, (e, &t)| {
            last.insert(&e.conversation_id, t);
            last
        })
        .into_values()
        .min()
        .expect("b-* conversations");
    let to = first_end + 1;
    let mut early = inside(&events, &times, from, to);
    early.remove("b-1");
    assert!(
        !early.is_empty() && early.len() < in_range.len(),
        "some but not all end before --to: {early:?}"
    );
    replay_rewrites(
        &s,
        &["--from", &from_arg, "--to", &rfc3339(to)],
        &live,
        last,
        &early,
    );

    assert_eq!(
        committed(&brokers, &s.group, &s.transcripts),
        offsets,
        "the live group's committed offsets are unchanged"
    );
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a broker: scripts/test.sh"]
async fn a_replay_after_a_tenant_adds_a_tracker_rewrites_its_insights_and_an_opted_out_tenant_stays_dropped(
) {
    let brokers = brokers();
    let s = Service::create(&brokers, "replay-tracker", PARTITIONS).await;
    let (events, times, _, lengths) = stream();
    let p = common::producer(&brokers);
    publish_at(&p, &s.transcripts, &events, &times).await;
    let mut service = s.spawn();
    read_until(&brokers, &s.dynamics, Isolation::Committed, |m| {
        common::stream::keys_with_value(m).len() == lengths.len()
    });
    assert_eq!(terminate(&mut service), Some(0));
    let live_msgs = read_all(&brokers, &s.dynamics, Isolation::Committed);
    let last = live_msgs
        .iter()
        .map(Message::offset)
        .max()
        .expect("insights");
    assert!(
        common::stream::insights(&live_msgs)
            .iter()
            .all(|i| i.tracker_hits.is_empty() && i.config_version == 0),
        "no tenant configuration yet, no tracker"
    );
    let offsets = committed(&brokers, &s.group, &s.transcripts);

    // acme adds a tracker, globex opts out; the whole stream is replayed.
    let config = TenantConfig {
        tenant_id: "acme".into(),
        version: 1,
        trackers: vec![TrackerConfig {
            name: "pricing".into(),
            terms: vec!["price".into()],
            stemming: true,
            accent_insensitive: true,
            ..Default::default()
        }],
        ..Default::default()
    };
    let bytes = common::stream::codec()
        .encode(&s.tenant_config, &config)
        .expect("encoding a tenant configuration");
    produce(&p, &s.tenant_config, b"acme", &bytes, None).await;
    let opted_out = TenantConfig {
        tenant_id: "globex".into(),
        version: 1,
        opted_out: true,
        ..Default::default()
    };
    let bytes = common::stream::codec()
        .encode(&s.tenant_config, &opted_out)
        .expect("encoding a tenant configuration");
    produce(&p, &s.tenant_config, b"globex", &bytes, None).await;
    let (code, summary) = s.replay(&["--from", &rfc3339(times[0])]);
    assert_eq!(code, Some(0), "{summary}");

    let acme: BTreeSet<String> = events
        .iter()
        .filter(|e| e.header.tenant_id == "acme")
        .map(|e| e.conversation_id.clone())
        .collect();
    read_until(&brokers, &s.dynamics, Isolation::Committed, |m| {
        written_after(m, last).len() >= acme.len()
    });
    let all = read_all(&brokers, &s.dynamics, Isolation::Committed);
    let rewritten: Vec<OwnedMessage> = all.into_iter().filter(|m| m.offset() > last).collect();
    let insights = common::stream::insights(&rewritten);
    assert_eq!(
        insights
            .iter()
            .map(|i| i.conversation_id.clone())
            .collect::<BTreeSet<_>>(),
        acme,
        "every acme conversation rewritten, none of the opted-out globex"
    );
    for i in &insights {
        assert_eq!(i.config_version, 1, "{}", i.conversation_id);
        assert!(
            i.tracker_hits.iter().any(|h| h.tracker == "pricing"),
            "{}: the new tracker finds the price in the first segment: {:?}",
            i.conversation_id,
            i.tracker_hits
        );
    }
    assert_eq!(committed(&brokers, &s.group, &s.transcripts), offsets);
    // A replay carries out nothing on the tenants' behalf: no opt-out erasure request, no
    // audit record (the service does that when it reads the configurations).
    for topic in [&s.erasure, &s.audit] {
        assert!(
            read_all(&brokers, topic, Isolation::Committed).is_empty(),
            "{topic}: a replay wrote to it"
        );
    }
}
