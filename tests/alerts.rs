//! Alert rules against a real broker (`scripts/test.sh` starts Apache Kafka and exports
//! `DEBRIEF_TEST_BROKERS`): a tenant with one rule per kind of condition (negation
//! included) and rules that must not fire, one scripted call, and the alerts topic holds
//! exactly the alerts worked out by hand from the script below.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use debrief::config::Config;
use debrief::events::{
    ConversationEnded, ConversationStarted, EventHeader, SegmentBody, SpeakerRole, TranscriptEvent,
    TranscriptPayload,
};
use debrief::http::Health;
use debrief::metrics::Metrics;
use debrief::pipeline::run_pipeline_with;
use debrief::rules::{Alert, AlertTrigger};
use debrief::tenant::{
    Combine, CompetitorConfig, ConditionKind, RuleCondition, RuleConfig, RuleSide, RuleWindow,
    TenantConfig, TrackerConfig,
};
use rdkafka::message::OwnedMessage;
use rdkafka::Message;
use tokio_util::sync::CancellationToken;

use common::stream::{codec, key, publish, read_all, read_until, Isolation};
use common::{brokers, create_topic, produce, producer, unique_name};

const AGENT: &str = "agent@acme.com";
const CUSTOMER: &str = "customer@client.org";

/// The call: (id, speaker, start s, end s, text). Worked out by hand:
/// - `price`: s1 (customer, 9 s) and s10 (customer, 120 s); `Salesforce`: s3 (customer,
///   31 s); the compliance phrase `call is recorded`: s9 (agent, 112 s), after the first
///   minute.
/// - Silences (start − latest end before): s4 57 − 50 = 7 s; every other gap is 1 s or less.
/// - Monologues: the customer's s6, 67..104 = 37 s; every other run is under 20 s.
/// - Interruptions (start before the end of another speaker's earlier segment): s7 (agent,
///   100 s < 104 s) and s9 (agent, 112 s < 115 s); none by the customer.
/// - The call's length is the latest end, 130 s.
const CALL: &[(&str, &str, f64, f64, &str)] = &[
    ("s0", AGENT, 0.0, 8.0, "Hello, thanks for calling Acme support."),
    ("s1", CUSTOMER, 9.0, 20.0, "Hi, I want to cancel because your price went up."),
    ("s2", AGENT, 21.0, 30.0, "I understand, let me check your account."),
    ("s3", CUSTOMER, 31.0, 50.0, "Salesforce offered us a better deal last week."),
    ("s4", AGENT, 57.0, 62.0, "Sorry for the wait, I found your contract."),
    ("s5", AGENT, 63.0, 66.0, "Thank you for your patience today."),
    (
        "s6",
        CUSTOMER,
        67.0,
        104.0,
        "I have been with you for many years and lately every month something breaks and nobody calls me back when they promise to.",
    ),
    ("s7", AGENT, 100.0, 106.0, "Let me stop you there, I can help."),
    ("s8", CUSTOMER, 107.0, 115.0, "Please let me finish what I was saying."),
    ("s9", AGENT, 112.0, 118.0, "I am sorry, this call is recorded and we will fix it."),
    ("s10", CUSTOMER, 120.0, 130.0, "So what will the price be next month?"),
];

fn events(id: &str, tenant: &str) -> Vec<TranscriptEvent> {
    let ev = |payload| TranscriptEvent {
        header: EventHeader {
            tenant_id: tenant.into(),
            source_platform: "contact-centre".into(),
            client_version: "1.2.0".into(),
            emitted_at_ms: None,
        },
        conversation_id: id.into(),
        payload,
    };
    let mut out = vec![ev(TranscriptPayload::Started(ConversationStarted {
        started_at_ms: Some(1_760_000_000_000),
        time_zone: Some("Europe/Paris".into()),
        language: Some("en".into()),
        title: None,
        owner_id: None,
    }))];
    for (sid, speaker, start, end, text) in CALL {
        out.push(ev(TranscriptPayload::Segment(SegmentBody {
            segment_id: (*sid).into(),
            revision: 0,
            is_final: true,
            speaker_id: (*speaker).into(),
            speaker_name: None,
            speaker_role: if *speaker == AGENT {
                SpeakerRole::Internal
            } else {
                SpeakerRole::External
            },
            start_ms: Some((start * 1000.0) as i64),
            end_ms: Some((end * 1000.0) as i64),
            text: (*text).into(),
            language: None,
            confidence: Some(0.9),
        })));
    }
    out.push(ev(TranscriptPayload::Ended(ConversationEnded {
        ended_at_ms: Some(1_760_000_130_000),
        segment_count: Some(CALL.len() as i32),
    })));
    out
}

fn cond(kind: ConditionKind) -> RuleCondition {
    RuleCondition {
        kind,
        ..RuleCondition::default()
    }
}

fn mention(tracker: &str, side: RuleSide, window: Option<RuleWindow>) -> RuleCondition {
    RuleCondition {
        tracker: Some(tracker.into()),
        side,
        window,
        ..cond(ConditionKind::Mention)
    }
}

fn no_mention(tracker: &str, side: RuleSide, window: Option<RuleWindow>) -> RuleCondition {
    RuleCondition {
        kind: ConditionKind::NoMention,
        ..mention(tracker, side, window)
    }
}

fn monologue(side: RuleSide, seconds: i64) -> RuleCondition {
    RuleCondition {
        side,
        seconds: Some(seconds),
        ..cond(ConditionKind::Monologue)
    }
}

fn interruptions(side: RuleSide, count: i64, minutes: i64) -> RuleCondition {
    RuleCondition {
        side,
        count: Some(count),
        minutes: Some(minutes),
        ..cond(ConditionKind::Interruptions)
    }
}

fn silence(seconds: i64) -> RuleCondition {
    RuleCondition {
        seconds: Some(seconds),
        ..cond(ConditionKind::Silence)
    }
}

fn window(first_s: Option<i64>, last_s: Option<i64>) -> Option<RuleWindow> {
    Some(RuleWindow {
        first_s,
        last_s,
        ..RuleWindow::default()
    })
}

fn rule(name: &str, combine: Combine, repeat: bool, conditions: Vec<RuleCondition>) -> RuleConfig {
    RuleConfig {
        name: name.into(),
        combine,
        conditions,
        repeat,
    }
}

fn once(name: &str, c: RuleCondition) -> RuleConfig {
    rule(name, Combine::AllOf, false, vec![c])
}

fn tenant() -> TenantConfig {
    use RuleSide::{Any, External, Internal};
    let tracker = |name: &str, term: &str| TrackerConfig {
        name: name.into(),
        terms: vec![term.into()],
        ..TrackerConfig::default()
    };
    TenantConfig {
        tenant_id: "acme".into(),
        version: 4,
        trackers: vec![
            tracker("pricing", "price"),
            tracker("compliance", "call is recorded"),
        ],
        competitors: vec![CompetitorConfig {
            name: "Salesforce".into(),
            ..CompetitorConfig::default()
        }],
        rules: vec![
            // Fire.
            once(
                "customer mentions pricing",
                mention("pricing", External, None),
            ),
            rule(
                "pricing, repeating",
                Combine::AllOf,
                true,
                vec![mention("pricing", Any, None)],
            ),
            once(
                "competitor in the first minute",
                mention("Salesforce", External, window(Some(60), None)),
            ),
            once(
                "pricing in the last 30 s",
                mention("pricing", Any, window(None, Some(30))),
            ),
            once(
                "no compliance phrase in the first minute",
                no_mention("compliance", Internal, window(Some(60), None)),
            ),
            once("customer monologue", monologue(External, 30)),
            once(
                "agent talks over the customer",
                interruptions(Internal, 1, 1),
            ),
            once("dead air", silence(5)),
            rule(
                "competitor by the agent or dead air",
                Combine::AnyOf,
                false,
                vec![mention("Salesforce", Internal, None), silence(5)],
            ),
            rule(
                "pricing and a long customer monologue",
                Combine::AllOf,
                false,
                vec![mention("pricing", External, None), monologue(External, 30)],
            ),
            // Must not fire.
            once(
                "agent names the competitor",
                mention("Salesforce", Internal, None),
            ),
            once(
                "pricing in the first 5 s",
                mention("pricing", Any, window(Some(5), None)),
            ),
            once(
                "compliance phrase never said",
                no_mention("compliance", Internal, None),
            ),
            once("long dead air", silence(10)),
            once("customer monologue over a minute", monologue(External, 60)),
            once(
                "agent interrupts three times",
                interruptions(Internal, 2, 1),
            ),
            once("customer interrupts", interruptions(External, 0, 5)),
            rule(
                "agent pricing and dead air",
                Combine::AllOf,
                false,
                vec![mention("pricing", Internal, None), silence(5)],
            ),
        ],
        ..TenantConfig::default()
    }
}

fn decode<T: debrief::schema::ContractRecord>(msgs: &[OwnedMessage]) -> Vec<T> {
    let codec = codec();
    msgs.iter()
        .filter_map(|m| m.payload())
        .map(|p| codec.decode::<T>(p).expect("a record of the contract"))
        .collect()
}

/// (rule, segment id, segment index, at ms, occurrence, trigger).
type Expected = (&'static str, &'static str, i64, i64, i32, AlertTrigger);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a broker: scripts/test.sh"]
async fn each_kind_of_rule_fires_exactly_when_it_should() {
    let brokers = brokers();
    let name = |n: &str| unique_name(&format!("alerts-{n}"));
    let (transcripts, tenants, alerts, insights, index) = (
        name("transcripts"),
        name("tenants"),
        name("alerts"),
        name("dynamics"),
        name("index"),
    );
    for t in [&transcripts, &tenants, &alerts, &insights, &index] {
        create_topic(&brokers, t, 1).await;
    }
    let mut c = Config::default();
    c.kafka.brokers = brokers.parse().unwrap();
    c.kafka.group_id = name("group");
    c.kafka.topics.transcripts = vec![transcripts.clone()];
    c.kafka.topics.tenant_config = tenants.clone();
    c.kafka.topics.alerts = alerts.clone();
    c.kafka.topics.live = name("live");
    c.kafka.topics.telemetry = name("telemetry");
    c.kafka.topics.dead_letter = name("dlq");
    c.kafka.topics.conversation_index = index.clone();
    c.kafka.topics.erasure = name("erasure");
    c.kafka.topics.erasure_ledger = name("ledger");
    c.kafka.topics.audit = name("audit");
    c.crm.dynamics = insights.clone();
    c.http.listen = ([127, 0, 0, 1], 0).into();
    c.shutdown_deadline = Duration::from_secs(5);
    c.assembly.idle_timeout = Duration::from_secs(60);
    // Rules run in the live step.
    c.live.enabled = true;
    c.kafka
        .options
        .insert("session.timeout.ms".into(), "10000".into());

    let p = producer(&brokers);
    let config = tenant();
    assert_eq!(config.validate(), Ok(()));
    let bytes = codec().encode(&tenants, &config).unwrap();
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
    // The configuration is read before the transcripts; give the tenant reader a moment
    // after the assignment (the first segment must see the rules).
    tokio::time::sleep(Duration::from_secs(2)).await;
    publish(&p, &transcripts, &events("call-7", "acme")).await;

    use AlertTrigger::{ConversationEnd, Segment};
    let expected: Vec<Expected> = vec![
        ("customer mentions pricing", "s1", 1, 9_000, 1, Segment),
        ("pricing, repeating", "s1", 1, 9_000, 1, Segment),
        (
            "competitor in the first minute",
            "s3",
            3,
            31_000,
            1,
            Segment,
        ),
        ("dead air", "s4", 4, 57_000, 1, Segment),
        (
            "competitor by the agent or dead air",
            "s4",
            4,
            57_000,
            1,
            Segment,
        ),
        (
            "no compliance phrase in the first minute",
            "s5",
            5,
            63_000,
            1,
            Segment,
        ),
        ("customer monologue", "s6", 6, 67_000, 1, Segment),
        (
            "pricing and a long customer monologue",
            "s6",
            6,
            67_000,
            1,
            Segment,
        ),
        (
            "agent talks over the customer",
            "s9",
            9,
            112_000,
            1,
            Segment,
        ),
        ("pricing, repeating", "s10", 10, 120_000, 2, Segment),
        (
            "pricing in the last 30 s",
            "s10",
            10,
            120_000,
            1,
            ConversationEnd,
        ),
    ];
    let n = expected.len();
    let (got, index_entries) = tokio::task::spawn_blocking({
        let (b, alerts, insights, index) = (
            brokers.clone(),
            alerts.clone(),
            insights.clone(),
            index.clone(),
        );
        move || {
            read_until(&b, &alerts, Isolation::Committed, |m| m.len() >= n);
            read_until(&b, &insights, Isolation::Committed, |m| !m.is_empty());
            let index = read_until(&b, &index, Isolation::Committed, |m| !m.is_empty());
            // Everything on the topic, extra alerts included.
            (read_all(&b, &alerts, Isolation::Committed), index)
        }
    })
    .await
    .unwrap();
    stop.cancel();
    task.await.unwrap().unwrap();

    assert!(
        got.iter().all(|m| key(m) == "call-7"),
        "keyed by conversation"
    );
    let records: Vec<Alert> = decode(&got);
    for a in &records {
        assert_eq!(
            (&*a.conversation_id, &*a.tenant_id, a.config_version),
            ("call-7", "acme", 4)
        );
    }
    let seen: Vec<Expected> = records
        .iter()
        .map(|a| {
            let rule = expected
                .iter()
                .map(|e| e.0)
                .find(|r| *r == a.rule)
                .unwrap_or_else(|| panic!("a rule that must not fire fired: {a:?}"));
            let seg = CALL
                .iter()
                .map(|c| c.0)
                .find(|s| *s == a.segment_id)
                .expect("a segment of the call");
            (rule, seg, a.segment_index, a.at_ms, a.occurrence, a.trigger)
        })
        .collect();
    // Segment alerts in the order of their segments (rule order within one); the end's last.
    assert_eq!(seen, expected);
    let fired: BTreeSet<&str> = seen.iter().map(|s| s.0).collect();
    assert_eq!(fired.len(), 10, "every rule meant to fire fired");

    // The conversation index lists the alerts' key, so that an erasure tombstones it.
    let entry: debrief::governance::ConversationIndexEntry = decode(&index_entries).remove(0);
    assert!(
        entry
            .outputs
            .iter()
            .any(|o| o.topic == alerts && o.key == "call-7"),
        "{entry:?}"
    );
}
