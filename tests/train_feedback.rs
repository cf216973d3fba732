//! `debrief train action-items --feedback`: interaction events that name suggestions by id
//! are resolved against the transcripts (extracted again, ids recomputed) and used as extra
//! labelled data; an id the extraction does not produce is not resolved.

use debrief::insight::Insight;
use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_debrief");

fn run(args: &[&str]) -> String {
    let out = Command::new(BIN).args(args).output().expect("run debrief");
    assert!(
        out.status.success(),
        "debrief {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

fn path(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

/// A small labelled sentence file (invented sentences, not evaluation data).
fn sentences() -> String {
    let yes = [
        "I will send you the proposal by Friday.",
        "I'll call the legal team tomorrow morning.",
        "Please send me the signed contract next week.",
        "We will schedule a follow-up meeting on Monday.",
        "Can you email the invoice to our finance team?",
        "I'll prepare the updated quote for you.",
    ];
    let no = [
        "Thanks for joining today.",
        "The weather was lovely last weekend.",
        "Our team grew a lot this year.",
        "That sounds interesting.",
        "I think the price is a bit high.",
        "We used the old system for years.",
    ];
    let mut s = String::new();
    for round in 0..4 {
        for (i, t) in yes.iter().enumerate() {
            s += &format!("{{\"id\":\"y{round}-{i}\",\"text\":\"{t}\",\"label\":\"Yes\"}}\n");
        }
        for (i, t) in no.iter().enumerate() {
            s += &format!("{{\"id\":\"n{round}-{i}\",\"text\":\"{t}\",\"label\":\"No\"}}\n");
        }
    }
    s
}

#[test]
fn feedback_ids_resolve_against_the_transcripts_and_are_trained_on() {
    let dir = tempfile::tempdir().expect("temp dir");
    let transcripts = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/conversations.jsonl");
    let insights: Vec<Insight> = run(&["process", path(&transcripts)])
        .lines()
        .map(|l| serde_json::from_str(l).expect("an insight"))
        .collect();
    // Accept the first action item of each conversation, discard the others; plus one event
    // whose id no extraction produces.
    let mut events = String::new();
    let (mut accepted, mut discarded) = (0, 0);
    for insight in &insights {
        for (i, item) in insight.action_items.iter().enumerate() {
            assert_eq!(item.id.len(), 16, "items carry their stable id");
            let action = if i == 0 { "accepted" } else { "discarded" };
            if i == 0 {
                accepted += 1;
            } else {
                discarded += 1;
            }
            events += &format!(
                "{{\"tenant_id\":\"acme-sales\",\"conversation_id\":\"{}\",\"item_id\":\"{}\",\"action\":\"viewed\",\"actor\":\"rep-1\",\"occurred_at_ms\":1,\"source\":\"crm\"}}\n\
                 {{\"tenant_id\":\"acme-sales\",\"conversation_id\":\"{}\",\"item_id\":\"{}\",\"action\":\"{action}\",\"actor\":\"rep-1\",\"occurred_at_ms\":2,\"source\":\"crm\"}}\n",
                insight.conversation_id, item.id, insight.conversation_id, item.id
            );
        }
    }
    assert!(
        accepted > 0 && discarded > 0,
        "the examples have action items"
    );
    let first = &insights[0].conversation_id;
    events += &format!(
        "{{\"tenant_id\":\"acme-sales\",\"conversation_id\":\"{first}\",\"item_id\":\"0000000000000000\",\"action\":\"discarded\",\"actor\":\"rep-1\",\"occurred_at_ms\":3,\"source\":\"crm\"}}\n"
    );
    let events_file = dir.path().join("events.jsonl");
    std::fs::write(&events_file, events).expect("write events");
    let labelled = dir.path().join("sentences.jsonl");
    std::fs::write(&labelled, sentences()).expect("write sentences");
    let model = dir.path().join("model.json");
    let out = run(&[
        "train",
        "action-items",
        path(&labelled),
        "--feedback",
        path(&events_file),
        "--transcripts",
        path(&transcripts),
        "--out",
        path(&model),
    ]);
    let expected = format!(
        "feedback: {accepted} suggestions accepted, {} discarded; {} of them resolved by id in {} conversations (0 not in the transcripts)",
        discarded + 1,
        accepted + discarded,
        insights.iter().filter(|i| !i.action_items.is_empty()).count()
    );
    assert!(out.contains(&expected), "expected `{expected}` in:\n{out}");
    let written = std::fs::read_to_string(&model).expect("model written");
    let parsed =
        debrief::extract::action_items::model::ModelFile::parse(&written).expect("a model file");
    assert!(parsed
        .trained_on
        .iter()
        .any(|l| l.starts_with("feedback: ")));
}
