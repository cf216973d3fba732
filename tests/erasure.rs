//! The proof of erasure, against Apache Kafka (`scripts/test.sh`): conversations of three
//! tenants go through the real service (`debrief run`); one conversation, one participant
//! and one tenant are erased; after compaction every Debrief-owned topic, read from the
//! beginning, holds nothing linkable to what was erased, everything else is intact byte for
//! byte, and the ledger shows each request completed. A second test aborts the executor in
//! the middle of a request (as kill -9 would) and checks the restart completes it without
//! losing a step.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use debrief::events::{ErasureRequest, TranscriptEvent, TranscriptPayload};
use debrief::governance::{ConversationIndexEntry, ErasureLedgerEntry};
use debrief::pipeline::CRASH_AFTER_STEP_ENV;
use rdkafka::message::OwnedMessage;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::Message;

use common::stream::{
    codec, conversation, create_topic_with, key, one_value_per_key, publish, read_all, read_until,
    terminate, Isolation, Service, WAIT,
};
use common::{brokers, create_topic, producer};

/// Compaction within seconds (as in `kafka_guarantees.rs`).
const AGGRESSIVE_COMPACTION: &[(&str, &str)] = &[
    ("cleanup.policy", "compact"),
    ("segment.ms", "100"),
    ("min.cleanable.dirty.ratio", "0.001"),
    ("min.compaction.lag.ms", "0"),
    ("delete.retention.ms", "100"),
];

/// A conversation whose two speakers are `seller` and `buyer`.
fn talk(id: &str, tenant: &str, seller: &str, buyer: &str) -> Vec<TranscriptEvent> {
    let mut events = conversation(id, tenant, 4);
    for e in &mut events {
        if let TranscriptPayload::Segment(s) = &mut e.payload {
            s.speaker_id = if s.speaker_id.starts_with("seller") {
                seller.into()
            } else {
                buyer.into()
            };
        }
    }
    events
}

fn request(id: &str, tenant: &str, conv: Option<&str>, who: Option<&str>) -> ErasureRequest {
    ErasureRequest {
        request_id: id.into(),
        tenant_id: tenant.into(),
        conversation_id: conv.map(Into::into),
        requested_at_ms: 1_760_000_000_000,
        reason: "user_request".into(),
        participant_id: who.map(Into::into),
        requested_by: Some("test-admin".into()),
    }
}

async fn send_request(p: &FutureProducer, topic: &str, r: &ErasureRequest) {
    let bytes = codec().encode(topic, r).expect("encoding a request");
    common::produce(p, topic, r.tenant_id.as_bytes(), &bytes, None).await;
}

/// The service's topics, the CRM and index topics compacting within seconds.
async fn service(name: &str) -> Service {
    let brokers = brokers();
    let s = Service::named(&brokers, name);
    for topic in [
        &s.transcripts,
        &s.tenant_config,
        &s.telemetry,
        &s.dead_letter,
        &s.salesforce,
        &s.erasure,
        &s.erasure_ledger,
        &s.audit,
    ] {
        create_topic(&brokers, topic, 1).await;
    }
    for topic in [&s.dynamics, &s.conversation_index] {
        create_topic_with(&brokers, topic, 1, AGGRESSIVE_COMPACTION).await;
    }
    s
}

/// Reads `topic` until `done`, on a blocking thread.
async fn read(
    brokers: &str,
    topic: &str,
    done: impl Fn(&[OwnedMessage]) -> bool + Send + 'static,
) -> Vec<OwnedMessage> {
    let (b, t) = (brokers.to_owned(), topic.to_owned());
    tokio::task::spawn_blocking(move || read_until(&b, &t, Isolation::Committed, done))
        .await
        .unwrap()
}

fn ledger(msgs: &[OwnedMessage]) -> Vec<ErasureLedgerEntry> {
    let c = codec();
    msgs.iter()
        .filter_map(|m| m.payload())
        .map(|p| c.decode::<ErasureLedgerEntry>(p).expect("a ledger record"))
        .collect()
}

fn completed(msgs: &[OwnedMessage]) -> BTreeSet<String> {
    ledger(msgs)
        .into_iter()
        .filter(|e| e.step == "completed")
        .map(|e| e.request_id)
        .collect()
}

/// Appends filler records to a compacted topic until no record of `erased` keys is left (the
/// cleaner compacts closed segments only); returns what is left, fillers removed.
async fn compacted(brokers: &str, topic: &str, erased: &BTreeSet<String>) -> Vec<OwnedMessage> {
    let p = producer(brokers);
    let deadline = Instant::now() + WAIT;
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        p.send(
            FutureRecord::to(topic)
                .key("filler".as_bytes())
                .payload("x".as_bytes()),
            Duration::from_secs(30),
        )
        .await
        .expect("producing a filler record");
        let all = read_all(brokers, topic, Isolation::Committed);
        let left = all
            .iter()
            .filter(|m| {
                m.key()
                    .is_some_and(|k| erased.contains(&*String::from_utf8_lossy(k)))
            })
            .count();
        if left == 0 {
            return all
                .into_iter()
                .filter(|m| m.key() != Some(b"filler"))
                .collect();
        }
        assert!(
            Instant::now() < deadline,
            "{topic}: {left} record(s) of erased keys still there"
        );
    }
}

/// Every byte of every key, value and header of `msgs`, lossily as text.
fn texts(msgs: &[OwnedMessage]) -> Vec<String> {
    use rdkafka::message::Headers;
    let mut out = Vec::new();
    for m in msgs {
        out.extend(m.key().map(|k| String::from_utf8_lossy(k).into_owned()));
        out.extend(m.payload().map(|v| String::from_utf8_lossy(v).into_owned()));
        if let Some(h) = m.headers() {
            for hd in h.iter() {
                out.push(hd.key.to_owned());
                out.extend(hd.value.map(|v| String::from_utf8_lossy(v).into_owned()));
            }
        }
    }
    out
}

fn assert_nothing_linkable(topic: &str, msgs: &[OwnedMessage], secrets: &[&str]) {
    for t in texts(msgs) {
        for s in secrets {
            assert!(!t.contains(s), "{topic} still holds `{s}`");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a broker: scripts/test.sh"]
async fn erasing_a_conversation_a_participant_and_a_tenant_leaves_nothing_linkable() {
    let brokers = brokers();
    let s = service("erasure-proof").await;
    let mut events = Vec::new();
    for (id, tenant, seller, buyer) in [
        ("acme-1", "acme", "sam@acme.com", "bo@client.org"),
        ("acme-2", "acme", "sam@acme.com", "dana@client.org"),
        ("acme-3", "acme", "sam@acme.com", "dana@client.org"),
        ("acme-4", "acme", "sue@acme.com", "bo@client.org"),
        ("globex-1", "globex", "gil@globex.com", "dana@client.org"),
        ("globex-2", "globex", "gil@globex.com", "eve@other.org"),
        ("initech-1", "initech", "ian@initech.com", "bo@client.org"),
        ("initech-2", "initech", "ian@initech.com", "fay@other.org"),
    ] {
        events.extend(talk(id, tenant, seller, buyer));
    }
    let p = producer(&brokers);
    publish(&p, &s.transcripts, &events).await;
    let mut child = s.spawn();

    // Every conversation has its insight, index entry and telemetry.
    let insights = read(&brokers, &s.dynamics, |m| one_value_per_key(m).len() >= 8).await;
    let index = read(&brokers, &s.conversation_index, |m| {
        one_value_per_key(m).len() >= 8
    })
    .await;
    let telemetry = read(&brokers, &s.telemetry, |m| m.len() >= 8).await;
    let insights_before = one_value_per_key(&insights);
    let index_before = one_value_per_key(&index);
    let c = codec();
    let entries: BTreeMap<String, ConversationIndexEntry> = index_before
        .iter()
        .map(|(k, v)| (k.clone(), c.decode(v).expect("an index entry")))
        .collect();
    assert_eq!(
        entries["acme-2"].participants,
        ["dana@client.org", "sam@acme.com"]
    );
    assert_eq!(entries["acme-2"].outputs[0].topic, s.dynamics);
    // Telemetry carries pseudonyms, never the conversation id.
    assert_nothing_linkable(
        "telemetry",
        &telemetry,
        &["acme-1", "globex-1", "initech-2"],
    );

    // Erase one conversation, one participant (in acme only) and one tenant.
    send_request(
        &p,
        &s.erasure,
        &request("r-conv", "acme", Some("acme-1"), None),
    )
    .await;
    send_request(
        &p,
        &s.erasure,
        &request("r-who", "acme", None, Some("dana@client.org")),
    )
    .await;
    send_request(&p, &s.erasure, &request("r-tenant", "initech", None, None)).await;
    let ledger_msgs = read(&brokers, &s.erasure_ledger, |m| completed(m).len() >= 3).await;
    assert_eq!(terminate(&mut child), Some(0));

    let erased: BTreeSet<String> = ["acme-1", "acme-2", "acme-3", "initech-1", "initech-2"]
        .into_iter()
        .map(String::from)
        .collect();
    let kept: BTreeSet<String> = ["acme-4", "globex-1", "globex-2"]
        .into_iter()
        .map(String::from)
        .collect();
    let crm_after = compacted(&brokers, &s.dynamics, &erased).await;
    let index_after = compacted(&brokers, &s.conversation_index, &erased).await;

    // Nothing linkable: no erased conversation id anywhere, no erased participant in the
    // erasing tenant's records (dana's globex conversation is another tenant's), nothing
    // of initech's conversations or people.
    let secrets = [
        "acme-1",
        "acme-2",
        "acme-3",
        "initech-1",
        "initech-2",
        "ian@initech.com",
        "fay@other.org",
    ];
    assert_nothing_linkable("CRM", &crm_after, &secrets);
    assert_nothing_linkable("index", &index_after, &secrets);
    let acme_left: Vec<OwnedMessage> = crm_after
        .iter()
        .chain(&index_after)
        .filter(|m| key(m).starts_with("acme"))
        .cloned()
        .collect();
    assert_nothing_linkable("acme records", &acme_left, &["dana@client.org"]);
    let telemetry_after = read_all(&brokers, &s.telemetry, Isolation::Committed);
    assert_nothing_linkable("telemetry", &telemetry_after, &secrets);
    // The erased conversations' pseudonyms can no longer be resolved: no index entry holds
    // them or their keys.
    let pseudonyms: Vec<String> = erased
        .iter()
        .map(|k| entries[k].telemetry_pseudonym.clone())
        .collect();
    for p in &pseudonyms {
        assert!(
            telemetry_after.iter().any(|m| m
                .payload()
                .is_some_and(|v| String::from_utf8_lossy(v).contains(p.as_str()))),
            "the telemetry record of pseudonym {p} is still there (unlinkable)"
        );
    }
    assert_nothing_linkable(
        "index",
        &index_after,
        &pseudonyms.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let ledger_after = read_all(&brokers, &s.erasure_ledger, Isolation::Committed);
    assert_nothing_linkable("ledger", &ledger_after, &secrets);
    assert_nothing_linkable("ledger", &ledger_after, &["dana@client.org"]);
    let audit = read_all(&brokers, &s.audit, Isolation::Committed);
    assert_eq!(audit.len(), 6, "requested and completed, per request");
    assert_nothing_linkable("audit", &audit, &secrets);
    assert_nothing_linkable("audit", &audit, &["dana@client.org"]);
    assert!(read_all(&brokers, &s.dead_letter, Isolation::Committed).is_empty());

    // Everything else intact, byte for byte.
    let want = |before: &BTreeMap<String, Vec<u8>>| -> BTreeMap<String, Vec<u8>> {
        before
            .iter()
            .filter(|(k, _)| kept.contains(*k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    assert_eq!(one_value_per_key(&crm_after), want(&insights_before));
    assert_eq!(one_value_per_key(&index_after), want(&index_before));
    let payloads = |m: &[OwnedMessage]| -> Vec<Vec<u8>> {
        m.iter()
            .filter_map(|m| m.payload().map(<[u8]>::to_vec))
            .collect()
    };
    assert_eq!(
        payloads(&telemetry_after),
        payloads(&telemetry),
        "telemetry untouched"
    );

    // The ledger: every step of every request, in order, with the counts.
    let mut steps: BTreeMap<String, Vec<(String, i64)>> = BTreeMap::new();
    for e in ledger(&ledger_msgs) {
        steps
            .entry(e.request_id)
            .or_default()
            .push((e.step, e.count));
    }
    let order = [
        "received",
        "crm_tombstoned",
        "index_removed",
        "telemetry_unlinked",
        "completed",
    ];
    for (id, n) in [("r-conv", 1), ("r-who", 2), ("r-tenant", 2)] {
        let got: Vec<(&str, i64)> = steps[id].iter().map(|(s, c)| (s.as_str(), *c)).collect();
        let want: Vec<(&str, i64)> = order.iter().map(|s| (*s, n)).collect();
        assert_eq!(got, want, "{id}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a broker: scripts/test.sh"]
async fn a_crash_in_the_middle_of_an_erasure_resumes_it_without_losing_a_step() {
    let brokers = brokers();
    let s = service("erasure-crash").await;
    let mut events = talk("t1-a", "t1", "sam@t1.com", "bo@client.org");
    events.extend(talk("t1-b", "t1", "sam@t1.com", "bo@client.org"));
    events.extend(talk("t2-a", "t2", "gil@t2.com", "eve@other.org"));
    let p = producer(&brokers);
    publish(&p, &s.transcripts, &events).await;
    let mut child = s.spawn();
    read(&brokers, &s.conversation_index, |m| {
        one_value_per_key(m).len() >= 3
    })
    .await;
    assert_eq!(terminate(&mut child), Some(0));

    // The executor aborts right after recording `crm_tombstoned`.
    let mut crashing = s.spawn_with(&[(CRASH_AFTER_STEP_ENV, "crm_tombstoned")]);
    send_request(&p, &s.erasure, &request("r-t1", "t1", None, None)).await;
    let status = tokio::task::spawn_blocking(move || crashing.wait().expect("waiting"))
        .await
        .unwrap();
    assert!(!status.success(), "the hook aborts the process");
    let partial = ledger(&read_all(&brokers, &s.erasure_ledger, Isolation::Committed));
    let steps: Vec<&str> = partial.iter().map(|e| e.step.as_str()).collect();
    assert_eq!(steps, ["received", "crm_tombstoned"]);

    // The restart reads the request again and runs the remaining steps only.
    let mut child = s.spawn();
    let msgs = read(&brokers, &s.erasure_ledger, |m| !completed(m).is_empty()).await;
    assert_eq!(terminate(&mut child), Some(0));
    let steps: Vec<(String, i64)> = ledger(&msgs)
        .into_iter()
        .map(|e| (e.step, e.count))
        .collect();
    let want: Vec<(String, i64)> = [
        "received",
        "crm_tombstoned",
        "index_removed",
        "telemetry_unlinked",
        "completed",
    ]
    .iter()
    .map(|s| (s.to_string(), 2))
    .collect();
    assert_eq!(steps, want);
    let erased: BTreeSet<String> = ["t1-a", "t1-b"].into_iter().map(String::from).collect();
    let crm = compacted(&brokers, &s.dynamics, &erased).await;
    let index = compacted(&brokers, &s.conversation_index, &erased).await;
    assert_eq!(one_value_per_key(&crm).keys().collect::<Vec<_>>(), ["t2-a"]);
    assert_eq!(
        one_value_per_key(&index).keys().collect::<Vec<_>>(),
        ["t2-a"]
    );
}

#[test]
fn process_refuses_an_opted_out_tenant_and_resumes_with_a_newer_consenting_version() {
    let dir = tempfile::tempdir().unwrap();
    let run = |opted_out: bool, version: i64| {
        let path = dir.path().join(format!("tenant-{version}.yaml"));
        std::fs::write(
            &path,
            format!("tenant_id: acme-sales\nversion: {version}\nopted_out: {opted_out}\n"),
        )
        .unwrap();
        std::process::Command::new(env!("CARGO_BIN_EXE_debrief"))
            .args(["process", "--no-progress", "--config"])
            .arg(&path)
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/examples/renewal-call.vtt"
            ))
            .output()
            .unwrap()
    };
    let out = run(true, 4);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty(), "no insight written");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("tenant acme-sales opted out (configuration version 4)"),
        "{err}"
    );
    let out = run(false, 5);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"conversation_id\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a broker: scripts/test.sh"]
async fn an_opt_out_mid_stream_stops_the_tenant_at_once_and_erases_what_exists() {
    use debrief::tenant::TenantConfig;
    let brokers = brokers();
    let s = service("opt-out").await;
    let p = producer(&brokers);
    // acme-1 is finished; acme-2 is open (no end event yet) when the tenant opts out.
    let mut events = talk("acme-1", "acme", "sam@acme.com", "bo@client.org");
    let acme2 = talk("acme-2", "acme", "sam@acme.com", "bo@client.org");
    let (open_part, end_part) = acme2.split_at(acme2.len() - 1);
    events.extend(open_part.iter().cloned());
    events.extend(talk(
        "globex-1",
        "globex",
        "gil@globex.com",
        "eve@other.org",
    ));
    publish(&p, &s.transcripts, &events).await;
    let mut child = s.spawn();
    // globex-1 comes after acme-2's open part on the one partition: once its insight is
    // there, acme-2 is open in the service.
    read(&brokers, &s.dynamics, |m| {
        let k = one_value_per_key(m);
        k.contains_key("acme-1") && k.contains_key("globex-1")
    })
    .await;

    let config = TenantConfig {
        tenant_id: "acme".into(),
        version: 2,
        opted_out: true,
        ..TenantConfig::default()
    };
    let bytes = codec().encode(&s.tenant_config, &config).unwrap();
    common::produce(&p, &s.tenant_config, b"acme", &bytes, None).await;
    // The loop applied the configuration before it issued the request.
    let ledger_msgs = read(&brokers, &s.erasure_ledger, |m| {
        completed(m).contains("opt-out:acme:v2")
    })
    .await;
    let opt_out: Vec<ErasureLedgerEntry> = ledger(&ledger_msgs);
    assert!(opt_out
        .iter()
        .all(|e| e.reason == "opt_out" && e.scope == "tenant"));
    // From now on every acme event is refused: acme-2's end, a new acme-3; globex goes on.
    let mut later = end_part.to_vec();
    later.extend(talk("acme-3", "acme", "sam@acme.com", "bo@client.org"));
    later.extend(talk(
        "globex-2",
        "globex",
        "gil@globex.com",
        "eve@other.org",
    ));
    publish(&p, &s.transcripts, &later).await;
    read(&brokers, &s.dynamics, |m| {
        one_value_per_key(m).contains_key("globex-2")
    })
    .await;
    assert_eq!(terminate(&mut child), Some(0));

    let acme: BTreeSet<String> = ["acme-1", "acme-2", "acme-3"]
        .into_iter()
        .map(String::from)
        .collect();
    let crm = compacted(&brokers, &s.dynamics, &acme).await;
    let index = compacted(&brokers, &s.conversation_index, &acme).await;
    assert_eq!(
        one_value_per_key(&crm).keys().collect::<Vec<_>>(),
        ["globex-1", "globex-2"]
    );
    assert_eq!(
        one_value_per_key(&index).keys().collect::<Vec<_>>(),
        ["globex-1", "globex-2"]
    );
    // Telemetry: one record per processed conversation (acme-1, globex-1, globex-2): acme-2
    // and acme-3 were never analysed.
    let telemetry = read_all(&brokers, &s.telemetry, Isolation::Committed);
    assert_eq!(telemetry.len(), 3);

    // The audit trail: one record per action, oldest first.
    let s2 = s.clone();
    let (ok, trail, _) =
        tokio::task::spawn_blocking(move || admin(&s2, &["audit", "--tenant", "acme"]))
            .await
            .unwrap();
    assert!(ok);
    let ids: BTreeSet<&str> = trail
        .iter()
        .filter_map(|r| r["action_id"].as_str())
        .collect();
    assert_eq!(
        ids,
        BTreeSet::from([
            "config:acme:v2",
            "opt-out:acme:v2",
            "erasure-requested:opt-out:acme:v2",
            "erasure-completed:opt-out:acme:v2",
        ])
    );
    assert_eq!(trail.len(), 4, "one record per action: {trail:?}");
    let completed = trail
        .iter()
        .find(|r| r["action"] == "erasure_completed")
        .unwrap();
    assert_eq!(
        completed["count"], 1,
        "acme-1 was the one stored conversation"
    );
}

/// Runs `debrief admin ARGS` against the service's topics; (exit success, stdout lines).
fn admin(s: &Service, args: &[&str]) -> (bool, Vec<serde_json::Value>, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_debrief"))
        .arg("admin")
        .args(args)
        .env("DEBRIEF__KAFKA__BROKERS", &s.brokers)
        .env("DEBRIEF__KAFKA__GROUP_ID", &s.group)
        .env("DEBRIEF__KAFKA__TOPICS__TRANSCRIPTS", &s.transcripts)
        .env("DEBRIEF__KAFKA__TOPICS__TELEMETRY", &s.telemetry)
        .env("DEBRIEF__CRM__DYNAMICS", &s.dynamics)
        .env("DEBRIEF__CRM__SALESFORCE", &s.salesforce)
        .env(
            "DEBRIEF__KAFKA__TOPICS__CONVERSATION_INDEX",
            &s.conversation_index,
        )
        .env("DEBRIEF__KAFKA__TOPICS__ERASURE", &s.erasure)
        .env("DEBRIEF__KAFKA__TOPICS__AUDIT", &s.audit)
        .env("DEBRIEF__KAFKA__TOPICS__ERASURE_LEDGER", &s.erasure_ledger)
        .output()
        .expect("running debrief admin");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let json = text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    (out.status.success(), json, text)
}

fn kinds(lines: &[serde_json::Value]) -> Vec<(String, String)> {
    lines
        .iter()
        .map(|l| {
            let kind = l["kind"].as_str().unwrap_or_default().to_string();
            let id = match kind.as_str() {
                "index_entry" => l["entry"]["conversation_id"].as_str(),
                "insight" => l["insight"]["conversation_id"].as_str(),
                _ => l["record"]["tenant_id"].as_str(),
            };
            (kind, id.unwrap_or_default().to_string())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a broker: scripts/test.sh"]
async fn export_returns_exactly_what_exists_before_and_after_an_erasure() {
    let brokers = brokers();
    let s = service("export").await;
    let mut events = talk("acme-1", "acme", "sam@acme.com", "bo@client.org");
    events.extend(talk("acme-2", "acme", "sam@acme.com", "dana@client.org"));
    events.extend(talk(
        "globex-1",
        "globex",
        "gil@globex.com",
        "dana@client.org",
    ));
    let p = producer(&brokers);
    publish(&p, &s.transcripts, &events).await;
    let mut child = s.spawn();
    let index = read(&brokers, &s.conversation_index, |m| {
        one_value_per_key(m).len() >= 3
    })
    .await;
    read(&brokers, &s.telemetry, |m| m.len() >= 3).await;
    let crm = one_value_per_key(&read_all(&brokers, &s.dynamics, Isolation::Committed));
    let entries = one_value_per_key(&index);

    let s2 = s.clone();
    let (ok, lines, _) = tokio::task::spawn_blocking(move || {
        admin(
            &s2,
            &[
                "export",
                "--tenant",
                "acme",
                "--participant",
                "dana@client.org",
            ],
        )
    })
    .await
    .unwrap();
    assert!(ok);
    assert_eq!(
        kinds(&lines),
        [
            ("index_entry".into(), "acme-2".into()),
            ("insight".into(), "acme-2".into()),
            ("telemetry".into(), "acme".into()),
        ]
    );
    // The insight exported is the one on the CRM topic; the index entry is the stored one
    // without its telemetry key.
    let c = codec();
    let stored: debrief::insight::Insight = c.decode(&crm["acme-2"]).unwrap();
    assert_eq!(lines[1]["insight"], serde_json::to_value(&stored).unwrap());
    let mut entry: ConversationIndexEntry = c.decode(&entries["acme-2"]).unwrap();
    assert_eq!(
        lines[2]["record"]["conversation_id"].as_str(),
        Some(entry.telemetry_pseudonym.as_str())
    );
    entry.telemetry_key = Vec::new();
    assert_eq!(lines[0]["entry"], serde_json::to_value(&entry).unwrap());

    let s2 = s.clone();
    let (ok, out, text) = tokio::task::spawn_blocking(move || {
        admin(
            &s2,
            &[
                "erase",
                "--tenant",
                "acme",
                "--participant",
                "dana@client.org",
                "--request-id",
                "r-export",
            ],
        )
    })
    .await
    .unwrap();
    assert!(ok && out.is_empty());
    assert_eq!(text.trim(), "r-export");
    read(&brokers, &s.erasure_ledger, |m| {
        completed(m).contains("r-export")
    })
    .await;
    assert_eq!(terminate(&mut child), Some(0));

    let s2 = s.clone();
    let (status_ok, status, _) =
        tokio::task::spawn_blocking(move || admin(&s2, &["erasure-status", "r-export"]))
            .await
            .unwrap();
    assert!(status_ok);
    let steps: Vec<&str> = status.iter().filter_map(|l| l["step"].as_str()).collect();
    assert_eq!(
        steps,
        [
            "received",
            "crm_tombstoned",
            "index_removed",
            "telemetry_unlinked",
            "completed"
        ]
    );
    let s2 = s.clone();
    let (missing, _, _) =
        tokio::task::spawn_blocking(move || admin(&s2, &["erasure-status", "no-such"]))
            .await
            .unwrap();
    assert!(!missing, "an unknown request exits 1");

    let s2 = s.clone();
    let (after_who, after_tenant) = tokio::task::spawn_blocking(move || {
        (
            admin(
                &s2,
                &[
                    "export",
                    "--tenant",
                    "acme",
                    "--participant",
                    "dana@client.org",
                ],
            )
            .1,
            admin(&s2, &["export", "--tenant", "acme"]).1,
        )
    })
    .await
    .unwrap();
    assert!(after_who.is_empty(), "{after_who:?}");
    let s2 = s.clone();
    let (_, trail, _) =
        tokio::task::spawn_blocking(move || admin(&s2, &["audit", "--tenant", "acme"]))
            .await
            .unwrap();
    let actions: Vec<&str> = trail.iter().filter_map(|r| r["action"].as_str()).collect();
    assert_eq!(
        actions,
        [
            "export",
            "erasure_requested",
            "erasure_completed",
            "export",
            "export"
        ],
        "{trail:?}"
    );
    assert_eq!(trail[0]["count"], 3, "the first export wrote three records");
    assert_eq!(trail[1]["actor"], "admin");
    assert_eq!(trail[1]["scope"], "participant");
    assert_eq!(
        kinds(&after_tenant),
        [
            ("index_entry".into(), "acme-1".into()),
            ("insight".into(), "acme-1".into()),
            ("telemetry".into(), "acme".into()),
        ]
    );
}
