//! Representative interactions against Apache Kafka (`scripts/test.sh`): conversations of two
//! tenants go through the real service (`debrief run`); a front end then publishes what
//! representatives did with their suggestions, some events invalid. The enriched telemetry
//! records and the dead letters (with their reasons) are found; the tenant that switched
//! recording off gets none recorded.

mod common;

use std::collections::BTreeMap;

use debrief::events::{
    DeadLetter, InteractionAction, InteractionEvent, InteractionSource, InteractionTelemetry,
    RepresentativeAction,
};
use debrief::governance::pseudonym::pseudonym;
use debrief::governance::ConversationIndexEntry;
use debrief::insight::Insight;
use debrief::tenant::{Crm, TenantConfig};
use rdkafka::message::{Headers, OwnedMessage};
use rdkafka::Message;

use common::stream::{
    codec, conversation, insights, one_value_per_key, publish, read_until, terminate, Isolation,
    Service,
};
use common::{brokers, producer};

fn event(conv: &str, tenant: &str, item: &str, action: RepresentativeAction) -> InteractionEvent {
    InteractionEvent {
        tenant_id: tenant.into(),
        conversation_id: conv.into(),
        item_id: item.into(),
        action,
        edit_size: None,
        reason_code: None,
        actor: "rep-secret-7".into(),
        occurred_at_ms: 1_760_000_200_000,
        source: InteractionSource::Crm,
    }
}

async fn send(p: &rdkafka::producer::FutureProducer, topic: &str, key: &str, value: &[u8]) {
    common::produce(p, topic, key.as_bytes(), value, None).await;
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

/// The enriched records (those with a representative action) among telemetry records.
fn enriched(msgs: &[OwnedMessage]) -> Vec<InteractionTelemetry> {
    let c = codec();
    msgs.iter()
        .filter_map(|m| m.payload())
        .map(|p| {
            c.decode::<InteractionTelemetry>(p)
                .expect("a telemetry record")
        })
        .filter(|t| t.representative_action.is_some())
        .collect()
}

/// Dead letters of the interactions topic, with their reason header.
fn dead_letters(msgs: &[OwnedMessage], topic: &str) -> Vec<(DeadLetter, String)> {
    let c = codec();
    msgs.iter()
        .filter_map(|m| {
            let dl = c.decode::<DeadLetter>(m.payload()?).expect("a dead letter");
            let header = m
                .headers()?
                .iter()
                .find(|h| h.key == "debrief.error.reason")
                .and_then(|h| h.value)
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .unwrap_or_default();
            (dl.source_topic == topic).then_some((dl, header))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a broker: scripts/test.sh"]
async fn interactions_are_enriched_or_dead_lettered_and_recorded_only_where_enabled() {
    let brokers = brokers();
    let s = Service::create(&brokers, "interactions", 1).await;
    let c = codec();
    let p = producer(&brokers);

    // Tenant `quiet` switched recording off; `acme` has no configuration (records).
    let mut quiet = TenantConfig {
        tenant_id: "quiet".into(),
        version: 1,
        crm: Crm::Dynamics,
        ..TenantConfig::default()
    };
    quiet.features.interactions = false;
    let bytes = c.encode(&s.tenant_config, &quiet).expect("a config");
    send(&p, &s.tenant_config, "quiet", &bytes).await;
    let mut events = conversation("acme-1", "acme", 6);
    events.extend(conversation("quiet-1", "quiet", 6));
    publish(&p, &s.transcripts, &events).await;
    let mut child = s.spawn();

    let msgs = read(&brokers, &s.dynamics, |m| one_value_per_key(m).len() >= 2).await;
    let by_id: BTreeMap<String, Insight> = insights(&msgs)
        .into_iter()
        .map(|i| (i.conversation_id.clone(), i))
        .collect();
    let acme = &by_id["acme-1"];
    assert!(acme.action_items.len() >= 2, "{:?}", acme.action_items);
    assert!(!acme.questions.is_empty());
    let item0 = acme.action_items[0].id.clone();
    let item1 = acme.action_items[1].id.clone();
    let question = acme.questions[0].id.clone();
    let quiet_item = by_id["quiet-1"].action_items[0].id.clone();
    assert_eq!(item0.len(), 16);

    // What the front end sends: valid events, invalid ones, and one for the quiet tenant.
    use RepresentativeAction as A;
    let valid = [
        event("acme-1", "acme", &item0, A::Viewed),
        event("acme-1", "acme", &item0, A::Accepted),
        InteractionEvent {
            edit_size: Some(12),
            ..event("acme-1", "acme", &item1, A::EditedAndSent)
        },
        InteractionEvent {
            reason_code: Some("not_a_question".into()),
            ..event("acme-1", "acme", &question, A::ThumbsDown)
        },
    ];
    let invalid = [
        (
            "acme-1",
            event("acme-1", "acme", "ffffffffffffffff", A::Accepted),
            "unknown item",
        ),
        (
            "acme-404",
            event("acme-404", "acme", &item0, A::Accepted),
            "unknown conversation",
        ),
        (
            "acme-1",
            InteractionEvent {
                edit_size: Some(5),
                ..event("acme-1", "acme", &item0, A::Accepted)
            },
            "edit_size without edited_and_sent",
        ),
        (
            "acme-1",
            InteractionEvent {
                edit_size: Some(-3),
                ..event("acme-1", "acme", &item1, A::EditedAndSent)
            },
            "negative edit_size",
        ),
        (
            "acme-2",
            event("acme-1", "acme", &item0, A::Copied),
            "key missing or differs from conversation_id",
        ),
    ];
    for e in &valid[..2] {
        send(
            &p,
            &s.interactions,
            "acme-1",
            &c.encode(&s.interactions, e).unwrap(),
        )
        .await;
    }
    for (key, e, _) in &invalid {
        send(
            &p,
            &s.interactions,
            key,
            &c.encode(&s.interactions, e).unwrap(),
        )
        .await;
    }
    send(&p, &s.interactions, "acme-1", b"{\"not\": \"avro\"}").await;
    let q = event("quiet-1", "quiet", &quiet_item, A::Accepted);
    send(
        &p,
        &s.interactions,
        "quiet-1",
        &c.encode(&s.interactions, &q).unwrap(),
    )
    .await;
    // The last two valid events come after everything else on the one partition: once they
    // are recorded, every earlier event was handled.
    for e in &valid[2..] {
        send(
            &p,
            &s.interactions,
            "acme-1",
            &c.encode(&s.interactions, e).unwrap(),
        )
        .await;
    }

    let telemetry = read(&brokers, &s.telemetry, |m| enriched(m).len() >= 4).await;
    let dl_topic = s.interactions.clone();
    let dlq = read(&brokers, &s.dead_letter, move |m| {
        dead_letters(m, &dl_topic).len() >= 6
    })
    .await;
    let index = read(&brokers, &s.conversation_index, |m| {
        one_value_per_key(m).len() >= 2
    })
    .await;
    assert_eq!(terminate(&mut child), Some(0));

    // The enriched records: acme's four, in order, pseudonymous, joined with the suggestion.
    let records = enriched(&telemetry);
    assert_eq!(records.len(), 4, "{records:#?}");
    let entry: ConversationIndexEntry = c
        .decode(&one_value_per_key(&index)["acme-1"])
        .expect("an index entry");
    let key = entry.telemetry_key.clone();
    let actions: Vec<(&str, InteractionAction, &str)> = records
        .iter()
        .map(|t| {
            (
                t.representative_action.as_deref().unwrap_or_default(),
                t.action,
                t.feature.as_str(),
            )
        })
        .collect();
    assert_eq!(
        actions,
        [
            ("viewed", InteractionAction::Ran, "action_items"),
            ("accepted", InteractionAction::Accepted, "action_items"),
            (
                "edited_and_sent",
                InteractionAction::EditedAndSent,
                "action_items"
            ),
            ("thumbs_down", InteractionAction::ThumbsDown, "questions"),
        ]
    );
    for (t, item) in records.iter().zip([&item0, &item0, &item1, &question]) {
        assert_eq!(t.tenant_id, "acme");
        assert_eq!(t.conversation_id, entry.telemetry_pseudonym);
        assert_eq!(t.item_id, Some(pseudonym(&key, item)));
        assert_eq!(t.outcome, "interaction");
        assert_eq!(t.recorded_at_ms, 1_760_000_200_000);
        assert_eq!(t.language.as_deref(), Some("en"));
    }
    let item = acme
        .action_items
        .iter()
        .find(|a| a.id == item1)
        .expect("the edited item");
    assert_eq!(records[2].edit_size, Some(12));
    assert_eq!(records[2].confidence, Some(item.confidence));
    assert_eq!(records[2].item_kind.as_deref(), Some("action_item"));
    assert_eq!(records[3].reason_code.as_deref(), Some("not_a_question"));
    assert_eq!(records[3].confidence, None);
    // The quiet tenant's valid event was handled (it came before the last two) and not
    // recorded.
    assert!(records.iter().all(|t| t.tenant_id != "quiet"));
    // Nothing of the actor or the raw ids in any telemetry record.
    for m in &telemetry {
        let text = String::from_utf8_lossy(m.payload().unwrap_or_default());
        for secret in ["rep-secret-7", "acme-1", item0.as_str()] {
            assert!(!text.contains(secret), "telemetry holds `{secret}`");
        }
    }

    // The dead letters, with their reasons (in the value and the header).
    let dls = dead_letters(&dlq, &s.interactions);
    let mut reasons: Vec<String> = dls.iter().map(|(d, _)| d.reason.clone()).collect();
    let undecodable = reasons.remove(5);
    assert!(undecodable.starts_with("bad magic"), "{undecodable}");
    let want: Vec<&str> = invalid.iter().map(|(_, _, r)| *r).collect();
    assert_eq!(reasons, want);
    for (d, header) in &dls {
        assert_eq!(&d.reason, header);
        assert!(!header.contains("rep-secret-7"));
    }
    assert_eq!(
        dls.len(),
        6,
        "no other dead letter of the interactions topic"
    );
}
