use super::*;
use crate::events::{InteractionAction, InteractionSource};
use crate::tenant::TenantConfig;

fn event(action: RepresentativeAction, edit_size: Option<i64>) -> InteractionEvent {
    InteractionEvent {
        tenant_id: "acme".into(),
        conversation_id: "c1".into(),
        item_id: "00000000000000a1".into(),
        action,
        edit_size,
        reason_code: None,
        actor: "rep-1".into(),
        occurred_at_ms: 1_700_000_000_000,
        source: InteractionSource::Crm,
    }
}

fn suggestion(id: &str, kind: &str, item_type: &str, confidence: Option<f64>) -> Suggestion {
    Suggestion {
        id: id.into(),
        kind: kind.into(),
        item_type: item_type.into(),
        language: Some("fr".into()),
        confidence,
    }
}

fn entry(conversation: &str, tenant: &str) -> ConversationIndexEntry {
    ConversationIndexEntry {
        conversation_id: conversation.into(),
        tenant_id: tenant.into(),
        participants: vec!["alice".into()],
        outputs: vec![],
        finalised_at_ms: 1,
        features: vec![],
        telemetry_pseudonym: String::new(),
        telemetry_key: vec![9; 32],
        suggestions: vec![
            suggestion("00000000000000a1", "action_item", "email", Some(0.75)),
            suggestion("00000000000000b2", "tracker_hit", "competitor", None),
            suggestion("00000000000000c3", "question", "external", None),
        ],
        profile: Some("sales".into()),
    }
}

fn key() -> Option<&'static [u8]> {
    Some(b"c1")
}

#[test]
fn a_valid_event_of_each_action_passes() {
    for action in RepresentativeAction::VALID {
        let size = (action == RepresentativeAction::EditedAndSent).then_some(12);
        assert_eq!(validate(key(), &event(action, size)), Ok(()), "{action:?}");
    }
}

#[test]
fn each_check_refuses_with_its_reason() {
    use RepresentativeAction as A;
    let cases: Vec<(Option<&[u8]>, InteractionEvent, Refusal)> = vec![
        (None, event(A::Viewed, None), Refusal::KeyMismatch),
        (Some(b"c2"), event(A::Viewed, None), Refusal::KeyMismatch),
        (
            key(),
            InteractionEvent {
                tenant_id: String::new(),
                ..event(A::Viewed, None)
            },
            Refusal::EmptyTenant,
        ),
        (
            key(),
            InteractionEvent {
                item_id: String::new(),
                ..event(A::Viewed, None)
            },
            Refusal::EmptyItem,
        ),
        (
            key(),
            InteractionEvent {
                actor: String::new(),
                ..event(A::Viewed, None)
            },
            Refusal::EmptyActor,
        ),
        (key(), event(A::Unknown, None), Refusal::UnknownAction),
        (
            key(),
            event(A::Accepted, Some(3)),
            Refusal::EditSizeWithoutEdit,
        ),
        (
            key(),
            event(A::EditedAndSent, None),
            Refusal::EditWithoutEditSize,
        ),
        (
            key(),
            event(A::EditedAndSent, Some(-1)),
            Refusal::NegativeEditSize,
        ),
    ];
    for (k, e, want) in cases {
        assert_eq!(validate(k, &e), Err(want), "{e:?}");
    }
    // Zero characters changed is a valid edit size.
    assert_eq!(validate(key(), &event(A::EditedAndSent, Some(0))), Ok(()));
}

#[test]
fn reason_codes_are_codes_not_text() {
    let with = |code: &str| InteractionEvent {
        reason_code: Some(code.into()),
        ..event(RepresentativeAction::ThumbsDown, None)
    };
    for ok in ["wrong_owner", "not-an-action", "v2.duplicate", "x"] {
        assert_eq!(validate(key(), &with(ok)), Ok(()), "{ok}");
    }
    let long = "a".repeat(MAX_REASON_CODE_CHARS + 1);
    for bad in ["", "Wrong owner", "call me at 0612", "é", long.as_str()] {
        assert_eq!(
            validate(key(), &with(bad)),
            Err(Refusal::BadReasonCode),
            "{bad}"
        );
    }
    assert_eq!(
        validate(key(), &with(&"a".repeat(MAX_REASON_CODE_CHARS))),
        Ok(())
    );
}

#[test]
fn the_join_finds_the_item_and_refuses_unknown_ones() {
    let mut store = SuggestionStore::default();
    store.apply("c1", Some(&entry("c1", "acme")));
    let j = store
        .join(&event(RepresentativeAction::Accepted, None))
        .unwrap();
    assert_eq!(j.kind, ItemKind::ActionItem);
    assert_eq!(j.item_type, "email");
    assert_eq!(j.language.as_deref(), Some("fr"));
    assert_eq!(j.confidence, Some(0.75));
    assert_eq!(j.profile.as_deref(), Some("sales"));
    let unknown_item = InteractionEvent {
        item_id: "00000000000000d4".into(),
        ..event(RepresentativeAction::Accepted, None)
    };
    assert_eq!(store.join(&unknown_item), Err(Refusal::UnknownItem));
    let not_an_id = InteractionEvent {
        item_id: "xyz".into(),
        ..event(RepresentativeAction::Accepted, None)
    };
    assert_eq!(store.join(&not_an_id), Err(Refusal::UnknownItem));
    let other_conversation = InteractionEvent {
        conversation_id: "c9".into(),
        ..event(RepresentativeAction::Accepted, None)
    };
    assert_eq!(
        store.join(&other_conversation),
        Err(Refusal::UnknownConversation)
    );
    // The right conversation id under another tenant is unknown too.
    let other_tenant = InteractionEvent {
        tenant_id: "globex".into(),
        ..event(RepresentativeAction::Accepted, None)
    };
    assert_eq!(store.join(&other_tenant), Err(Refusal::UnknownConversation));
    // A tombstone (erasure) forgets the conversation.
    store.apply("c1", None);
    assert!(store.is_empty());
    assert_eq!(
        store.join(&event(RepresentativeAction::Accepted, None)),
        Err(Refusal::UnknownConversation)
    );
}

#[test]
fn the_enriched_record_is_pseudonymous_and_carries_the_suggestion() {
    let mut store = SuggestionStore::default();
    store.apply("c1", Some(&entry("c1", "acme")));
    let e = InteractionEvent {
        reason_code: Some("too_long".into()),
        ..event(RepresentativeAction::EditedAndSent, Some(17))
    };
    let t = enrich(&e, &store.join(&e).unwrap(), "debrief-x");
    assert_eq!(t.tenant_id, "acme");
    assert_eq!(t.conversation_id, pseudonym(&[9; 32], "c1"));
    assert_eq!(t.conversation_id.len(), 32);
    assert_eq!(t.item_id, Some(pseudonym(&[9; 32], "00000000000000a1")));
    assert_eq!(t.feature, "action_items");
    assert_eq!(t.action, InteractionAction::EditedAndSent);
    assert_eq!(t.representative_action.as_deref(), Some("edited_and_sent"));
    assert_eq!(t.outcome, "interaction");
    assert_eq!(t.recorded_at_ms, 1_700_000_000_000);
    assert_eq!(t.item_kind.as_deref(), Some("action_item"));
    assert_eq!(t.item_type.as_deref(), Some("email"));
    assert_eq!(t.confidence, Some(0.75));
    assert_eq!(t.profile.as_deref(), Some("sales"));
    assert_eq!(t.edit_size, Some(17));
    assert_eq!(t.reason_code.as_deref(), Some("too_long"));
    // Nothing of the actor, the raw conversation or item id.
    let json = serde_json::to_string(&t).unwrap();
    for secret in ["rep-1", "\"c1\"", "00000000000000a1"] {
        assert!(!json.contains(secret), "{secret} in {json}");
    }
    // A view of a question: feature questions, no confidence, legacy action ran.
    let q = InteractionEvent {
        item_id: "00000000000000c3".into(),
        ..event(RepresentativeAction::Viewed, None)
    };
    let t = enrich(&q, &store.join(&q).unwrap(), "debrief-x");
    assert_eq!(
        (t.feature.as_str(), t.action, t.confidence),
        ("questions", InteractionAction::Ran, None)
    );
    assert_eq!(t.item_type.as_deref(), Some("external"));
    assert_eq!(t.representative_action.as_deref(), Some("viewed"));
}

#[test]
fn suggestions_of_an_insight_follow_its_items() {
    let mut insight: Insight = serde_json::from_value(serde_json::json!({
        "conversation_id": "c1", "tenant_id": "t", "schema_version": 1,
        "extractor_version": "x", "config_version": 0, "source_platform": null,
        "client_version": null, "finalised_by": "file", "outcome": "complete",
        "skip_reasons": [],
        "language": {"code": "de", "confidence": 1.0, "source": "given", "speakers": []},
        "segment_count": 1, "text_chars": 10, "kpis": null,
        "questions": [{"segment_id": "s1", "speaker": "b", "side": "internal", "text": "Wie?",
            "start_char": 0, "end_char": 4}],
        "action_items": [{"text": "Anrufen", "evidence": [{"segment_id": "s1", "start_char": 5,
            "end_char": 12}], "owner": null, "due": null, "type": "call", "state": "committed",
            "confidence": 0.5, "language": "de"}],
        "tracker_hits": [],
        "tracker_counts": []
    }))
    .unwrap();
    crate::extract::ids::assign(&mut insight);
    let s = suggestions_of(&insight);
    assert_eq!(s.len(), 2);
    assert_eq!(
        (s[0].kind.as_str(), s[0].item_type.as_str(), s[0].confidence),
        ("action_item", "call", Some(0.5))
    );
    assert_eq!(s[0].id, insight.action_items[0].id);
    assert_eq!(
        (
            s[1].kind.as_str(),
            s[1].item_type.as_str(),
            s[1].language.as_deref()
        ),
        ("question", "internal", Some("de"))
    );
    assert_eq!(s[1].id, insight.questions[0].id);
}

#[test]
fn recording_follows_the_tenant_configuration_in_force() {
    let mut sw = RecordingSwitch::default();
    assert!(sw.records("acme"), "no configuration: the default records");
    let mut off = TenantConfig {
        tenant_id: "acme".into(),
        version: 2,
        ..TenantConfig::default()
    };
    off.features.interactions = false;
    sw.apply("acme", Some(&off));
    assert!(!sw.records("acme"));
    // An older version arriving late does not switch it back on.
    let older = TenantConfig {
        tenant_id: "acme".into(),
        version: 1,
        ..TenantConfig::default()
    };
    sw.apply("acme", Some(&older));
    assert!(!sw.records("acme"));
    // A tenant that opted out does not record either.
    let opted_out = TenantConfig {
        tenant_id: "globex".into(),
        version: 1,
        opted_out: true,
        ..TenantConfig::default()
    };
    sw.apply("globex", Some(&opted_out));
    assert!(!sw.records("globex"));
    sw.apply("acme", None);
    assert!(sw.records("acme"), "tombstone: back to the default");
}

#[test]
fn store_sizes_are_as_documented() {
    assert_eq!(std::mem::size_of::<Item>(), 24);
    assert_eq!(std::mem::size_of::<Known>(), 64);
}

#[test]
fn refusal_labels_are_unique_and_snake_case() {
    let labels: std::collections::HashSet<&str> = Refusal::ALL.iter().map(|r| r.label()).collect();
    assert_eq!(labels.len(), Refusal::ALL.len());
    assert!(labels
        .iter()
        .all(|l| l.chars().all(|c| c.is_ascii_lowercase() || c == '_')));
}
