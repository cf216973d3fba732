//! Hand-written sentences in every supported language: detection, owner, type, state, due
//! dates and sentences that must not be flagged. Expected values are worked out by hand.

use super::*;
use crate::insight::{ActionState, ActionStatus, ActionType};
use crate::model::Segment;

/// 2025-01-29 is a Wednesday; 10:00 in Paris.
const REF: &str = "2025-01-29T10:00:00+01:00";

fn conv(lines: &[(&str, &str)]) -> Conversation {
    Conversation {
        id: "c".to_string(),
        segments: lines
            .iter()
            .enumerate()
            .map(|(i, (speaker, text))| Segment {
                id: format!("s{i}"),
                speaker: speaker.to_string(),
                speaker_name: Some(match *speaker {
                    "a" => "Alice Martin".to_string(),
                    "b" => "Bruno Keller".to_string(),
                    _ => "Carmen Ruiz".to_string(),
                }),
                text: text.to_string(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

fn run(lines: &[(&str, &str)], lang: &str) -> Vec<ActionItem> {
    let r = DateTime::parse_from_rfc3339(REF).unwrap();
    extract(&conv(lines), lang, Some(r), "Europe/Paris")
}

/// The single item whose evidence is segment `seg`.
fn item_at<'a>(items: &'a [ActionItem], seg: &str) -> &'a ActionItem {
    let found: Vec<&ActionItem> = items
        .iter()
        .filter(|i| i.evidence.iter().any(|e| e.segment_id == seg))
        .collect();
    assert_eq!(found.len(), 1, "expected one item on {seg}, got {items:#?}");
    found[0]
}

fn flagged(items: &[ActionItem], seg: &str) -> bool {
    items
        .iter()
        .any(|i| i.evidence.iter().any(|e| e.segment_id == seg))
}

#[test]
fn english_commitment_with_owner_type_state_and_due() {
    let items = run(
        &[
            ("a", "Thanks everyone for joining."),
            ("b", "I'll send you the revised proposal by Friday."),
            ("a", "Great."),
        ],
        "en",
    );
    let it = item_at(&items, "s1");
    assert_eq!(it.owner.as_deref(), Some("b"));
    assert_eq!(it.action_type, ActionType::Email);
    assert_eq!(it.state, ActionState::Committed);
    let due = it.due.as_ref().unwrap();
    assert_eq!(due.date, "2025-01-31");
    assert_eq!(due.phrase, "by Friday");
    assert_eq!(it.language, "en");
    assert!(
        it.text.starts_with("I'll send you the revised proposal"),
        "{}",
        it.text
    );
    assert_eq!(
        (it.evidence[0].start_char, it.evidence[0].end_char),
        (0, 45)
    );
    assert!(it.confidence > 0.0 && it.confidence <= 1.0);
    assert!(!flagged(&items, "s0") && !flagged(&items, "s2"));
}

#[test]
fn english_request_in_two_party_call_is_owned_by_the_other_party() {
    let items = run(
        &[
            ("a", "Could you call me back tomorrow at 3pm?"),
            ("b", "Sure, I will."),
        ],
        "en",
    );
    let it = item_at(&items, "s0");
    assert_eq!(it.owner.as_deref(), Some("b"));
    assert_eq!(it.action_type, ActionType::Call);
    // Bruno accepts in the next turn: committed.
    assert_eq!(it.state, ActionState::Committed);
    assert_eq!(
        it.due.as_ref().unwrap().datetime.as_deref(),
        Some("2025-01-30T15:00:00+01:00")
    );
}

#[test]
fn vocative_name_picks_the_owner_in_a_group_and_no_name_gives_none() {
    let lines = [
        ("a", "Let's review the budget."),
        (
            "c",
            "Bruno, can you schedule a meeting with the finance team next week?",
        ),
        ("b", "Hmm."),
        ("c", "Someone should update the slides."),
    ];
    let items = run(&lines, "en");
    let it = item_at(&items, "s1");
    assert_eq!(it.owner.as_deref(), Some("b"));
    assert_eq!(it.action_type, ActionType::Meeting);
    assert_eq!(it.due.as_ref().unwrap().date, "2025-02-07");
    // Three speakers, nobody named: no owner.
    if let Some(it) = items.iter().find(|i| i.evidence[0].segment_id == "s3") {
        assert_eq!(it.owner, None);
        assert_eq!(it.state, ActionState::Suggested);
    }
}

/// Every item's text is the segment text at its first evidence span (in Unicode scalar
/// values), and every evidence span lies within its segment.
fn assert_exact_spans(lines: &[(&str, &str)], items: &[ActionItem]) {
    assert!(!items.is_empty(), "no item for {lines:?}");
    for it in items {
        for e in &it.evidence {
            let i: usize = e.segment_id[1..].parse().unwrap();
            let n = lines[i].1.chars().count() as i64;
            assert!(
                0 <= e.start_char && e.start_char < e.end_char && e.end_char <= n,
                "{e:?}"
            );
        }
        let e = &it.evidence[0];
        let i: usize = e.segment_id[1..].parse().unwrap();
        let spoken: String = lines[i]
            .1
            .chars()
            .skip(e.start_char as usize)
            .take((e.end_char - e.start_char) as usize)
            .collect();
        assert_eq!(it.text, spoken);
    }
}

#[test]
fn item_text_is_the_source_substring_at_its_offsets_in_every_language() {
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);
    let cases: &[Case] = &[
        (
            "en",
            &[
                ("a", "Hi."),
                ("b", "Okay, I'll e-mail you the revised offer by Friday."),
            ],
            "I'll e-mail you the revised offer by Friday.",
        ),
        (
            "fr",
            &[
                ("a", "Bonjour."),
                ("b", "Pouvez-vous m'envoyer le devis d'ici vendredi ?"),
            ],
            "Pouvez-vous m'envoyer le devis d'ici vendredi ?",
        ),
        (
            "de",
            &[
                ("a", "Hallo."),
                ("b", "Ich schicke Ihnen das Angebot bis Freitag."),
            ],
            "Ich schicke Ihnen das Angebot bis Freitag.",
        ),
        (
            "es",
            &[("a", "Hola."), ("b", "¿Puedes enviarme el informe mañana?")],
            "Puedes enviarme el informe mañana?",
        ),
        (
            "pt",
            &[("a", "Olá."), ("b", "Vou enviar o relatório amanhã.")],
            "Vou enviar o relatório amanhã.",
        ),
        (
            "it",
            &[("a", "Ciao."), ("b", "Ti manderò il contratto domani.")],
            "Ti manderò il contratto domani.",
        ),
        (
            "nl",
            &[("a", "Hallo."), ("b", "Ik stuur je morgen de offerte.")],
            "Ik stuur je morgen de offerte.",
        ),
    ];
    for (lang, lines, text) in cases {
        let items = run(lines, lang);
        assert_exact_spans(lines, &items);
        assert_eq!(item_at(&items, "s1").text, *text, "{lang}");
    }
}

#[test]
fn english_speech_transcript_with_disfluencies() {
    let lines = [
        ("me011", "yeah we had a long discussion about that"),
        (
            "me013",
            "so i i'll uh i'll send the w- the the notes to everybody",
        ),
        ("me011", "o_k"),
    ];
    let items = run(&lines, "en");
    let it = item_at(&items, "s1");
    assert_eq!(it.owner.as_deref(), Some("me013"));
    assert_eq!(it.action_type, ActionType::Email);
    // The words as spoken, from the first word of the commitment (the lone "i" before it is
    // a repetition); fillers inside stay.
    assert_eq!(
        it.text,
        "i'll uh i'll send the w- the the notes to everybody"
    );
    assert!(!flagged(&items, "s0"));
}

#[test]
fn english_negatives_are_not_flagged() {
    let lines = [
        ("a", "We did send the email last week."),
        ("b", "Did you call them yesterday?"),
        ("a", "He said he would send the contract."),
        ("b", "The weather was lovely."),
    ];
    let items = run(&lines, "en");
    assert!(items.is_empty(), "{items:#?}");
}

#[test]
fn french_commitment_request_and_negatives() {
    let lines = [
        ("a", "Bonjour à tous."),
        ("b", "Je vous envoie le devis d'ici vendredi."),
        ("a", "Pourriez-vous appeler le client demain matin ?"),
        (
            "b",
            "Nous avons déjà envoyé le courriel la semaine dernière.",
        ),
        ("a", "Il a dit qu'il enverrait le contrat."),
    ];
    let items = run(&lines, "fr");
    let it = item_at(&items, "s1");
    assert_eq!(it.owner.as_deref(), Some("b"));
    assert_eq!(it.state, ActionState::Committed);
    assert_eq!(it.action_type, ActionType::Email);
    let due = it.due.as_ref().unwrap();
    assert_eq!(
        (due.date.as_str(), due.phrase.as_str()),
        ("2025-01-31", "d'ici vendredi")
    );
    assert_eq!(it.language, "fr");
    let it = item_at(&items, "s2");
    assert_eq!(it.owner.as_deref(), Some("b"));
    assert_eq!(it.action_type, ActionType::Call);
    assert_eq!(it.due.as_ref().unwrap().date, "2025-01-30");
    assert!(
        !flagged(&items, "s0") && !flagged(&items, "s3") && !flagged(&items, "s4"),
        "{items:#?}"
    );
}

#[test]
fn german_commitment_obligation_and_negatives() {
    let lines = [
        ("a", "Guten Morgen zusammen."),
        ("b", "Ich schicke Ihnen das Angebot bis Freitag."),
        (
            "a",
            "Wir müssen nächste Woche einen Termin mit dem Kunden vereinbaren.",
        ),
        ("b", "Wir haben die E-Mail letzte Woche schon geschickt."),
    ];
    let items = run(&lines, "de");
    let it = item_at(&items, "s1");
    assert_eq!(it.owner.as_deref(), Some("b"));
    assert_eq!(it.state, ActionState::Committed);
    assert_eq!(it.action_type, ActionType::Email);
    assert_eq!(it.due.as_ref().unwrap().date, "2025-01-31");
    assert_eq!(it.due.as_ref().unwrap().phrase, "bis Freitag");
    let it = item_at(&items, "s2");
    assert_eq!(it.owner, None, "a group obligation has no owner");
    assert_eq!(it.action_type, ActionType::Meeting);
    assert_eq!(it.due.as_ref().unwrap().date, "2025-02-07");
    assert!(
        !flagged(&items, "s0") && !flagged(&items, "s3"),
        "{items:#?}"
    );
}

#[test]
fn spanish_commitment_request_and_negatives() {
    let lines = [
        ("a", "Buenos días a todos."),
        ("b", "Voy a llamar al cliente el lunes."),
        ("a", "¿Puedes enviarme el informe mañana?"),
        ("b", "Ya enviamos el correo la semana pasada."),
    ];
    let items = run(&lines, "es");
    let it = item_at(&items, "s1");
    assert_eq!(it.owner.as_deref(), Some("b"));
    assert_eq!(it.state, ActionState::Committed);
    assert_eq!(it.action_type, ActionType::Call);
    assert_eq!(it.due.as_ref().unwrap().date, "2025-02-03");
    let it = item_at(&items, "s2");
    assert_eq!(it.owner.as_deref(), Some("b"));
    assert_eq!(it.action_type, ActionType::Email);
    assert_eq!(it.due.as_ref().unwrap().date, "2025-01-30");
    assert!(
        !flagged(&items, "s0") && !flagged(&items, "s3"),
        "{items:#?}"
    );
}

#[test]
fn portuguese_italian_dutch_commitments() {
    let pt = run(
        &[("a", "Olá."), ("b", "Vou enviar o relatório amanhã.")],
        "pt",
    );
    assert_eq!(item_at(&pt, "s1").owner.as_deref(), Some("b"));
    let it = run(
        &[("a", "Ciao."), ("b", "Ti manderò il contratto domani.")],
        "it",
    );
    assert_eq!(item_at(&it, "s1").due.as_ref().unwrap().date, "2025-01-30");
    let nl = run(
        &[("a", "Hallo."), ("b", "Ik stuur je morgen de offerte.")],
        "nl",
    );
    assert_eq!(item_at(&nl, "s1").owner.as_deref(), Some("b"));
}

#[test]
fn output_is_deterministic_and_ordered() {
    let lines = [
        (
            "a",
            "I'll send the minutes tonight. Bruno, please book the room for Monday.",
        ),
        ("b", "Sure. I will also call the vendor."),
    ];
    let a = run(&lines, "en");
    let b = run(&lines, "en");
    assert_eq!(a, b);
    let keys: Vec<(String, i64)> = a
        .iter()
        .map(|i| (i.evidence[0].segment_id.clone(), i.evidence[0].start_char))
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    assert!(a.len() >= 2, "{a:#?}");
}

#[test]
fn empty_and_odd_input_does_not_panic() {
    assert!(run(&[], "en").is_empty());
    assert!(run(&[("a", ""), ("b", "   "), ("a", "?!…")], "fr").is_empty());
    let weird = "ǅ\u{301}𝔘 i'll — by 31/02 at 25:99 le 99 mars";
    let _ = run(&[("a", weird)], "xx");
    assert_eq!(effective_language("pt-BR"), "pt");
    assert_eq!(effective_language("ja"), "en");
}

/// A request and its acceptance: one committed item owned by who accepted, evidence on
/// both segments, due date the one finally agreed.
#[test]
fn request_and_acceptance_give_one_item_in_every_language() {
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "en",
            "Can you send me the quote by Friday?",
            "Sure, I'll send you the quote tomorrow morning.",
            "2025-01-30",
        ),
        (
            "fr",
            "Pouvez-vous m'envoyer le devis d'ici vendredi ?",
            "Oui, je vous envoie le devis demain matin.",
            "2025-01-30",
        ),
        (
            "de",
            "Können Sie mir das Angebot bis Freitag schicken?",
            "Ja, ich schicke Ihnen das Angebot morgen früh.",
            "2025-01-30",
        ),
        (
            "es",
            "¿Puedes enviarme el presupuesto antes del viernes?",
            "Sí, te envío el presupuesto mañana.",
            "2025-01-30",
        ),
        (
            "pt",
            "Pode enviar-me o orçamento até sexta?",
            "Sim, vou enviar o orçamento amanhã.",
            "2025-01-30",
        ),
        (
            "it",
            "Puoi mandarmi il preventivo entro venerdì?",
            "Sì, ti mando il preventivo domani.",
            "2025-01-30",
        ),
        (
            "nl",
            "Kun je me de offerte voor vrijdag sturen?",
            "Ja, ik stuur je de offerte morgen.",
            "2025-01-30",
        ),
    ];
    for (lang, ask, yes, due) in cases {
        let lines = [("a", *ask), ("b", *yes)];
        let items = run(&lines, lang);
        assert_eq!(items.len(), 1, "{lang}: {items:#?}");
        let it = &items[0];
        assert_eq!(it.owner.as_deref(), Some("b"), "{lang}");
        assert_eq!(it.state, ActionState::Committed, "{lang}");
        assert_eq!(it.status, ActionStatus::Committed, "{lang}");
        let segs: Vec<&str> = it.evidence.iter().map(|e| e.segment_id.as_str()).collect();
        assert_eq!(segs, vec!["s0", "s1"], "{lang}");
        assert_eq!(
            it.due.as_ref().map(|d| d.date.as_str()),
            Some(*due),
            "{lang}"
        );
        assert_exact_spans(&lines, &items);
    }
}

/// A declined request gives no item (documented in docs/action_items.md), where the same
/// request accepted gives one; an unanswered request stays `requested` (checked in the
/// languages with full grammars: the small Italian, Dutch and Portuguese ones do not flag
/// a lone request).
#[test]
fn declined_request_gives_none_in_every_language() {
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "en",
            "Can you send me the quote by Friday?",
            "Sure, I'll send you the quote tomorrow morning.",
            "No, sorry, I can't.",
        ),
        (
            "fr",
            "Pouvez-vous m'envoyer le devis d'ici vendredi ?",
            "Oui, je vous envoie le devis demain matin.",
            "Non, désolé, je ne peux pas.",
        ),
        (
            "de",
            "Können Sie mir das Angebot bis Freitag schicken?",
            "Ja, ich schicke Ihnen das Angebot morgen früh.",
            "Nein, leider nicht.",
        ),
        (
            "es",
            "¿Puedes enviarme el presupuesto antes del viernes?",
            "Sí, te envío el presupuesto mañana.",
            "No, lo siento, no puedo.",
        ),
        (
            "pt",
            "Pode enviar-me o orçamento até sexta?",
            "Sim, vou enviar o orçamento amanhã.",
            "Não, desculpe, não posso.",
        ),
        (
            "it",
            "Puoi mandarmi il preventivo entro venerdì?",
            "Sì, ti mando il preventivo domani.",
            "No, mi dispiace, non posso.",
        ),
        (
            "nl",
            "Kun je me de offerte voor vrijdag sturen?",
            "Ja, ik stuur je de offerte morgen.",
            "Nee, sorry, dat kan ik niet.",
        ),
    ];
    for (lang, ask, yes, no) in cases {
        assert_eq!(run(&[("a", *ask), ("b", *yes)], lang).len(), 1, "{lang}");
        let declined = run(&[("a", *ask), ("b", *no)], lang);
        assert!(declined.is_empty(), "{lang}: {declined:#?}");
        if ["en", "fr", "de", "es"].contains(lang) {
            let open = run(&[("a", *ask), ("b", "The weather is nice today.")], lang);
            assert_eq!(open.len(), 1, "{lang}: {open:#?}");
            let it = item_at(&open, "s0");
            assert_eq!(it.status, ActionStatus::Requested, "{lang}");
            assert_eq!(it.state, ActionState::Suggested, "{lang}");
        }
    }
}

#[test]
fn repeated_commitment_is_one_item_with_the_last_due_date() {
    let lines = [
        ("b", "I'll send the revised proposal to the board."),
        ("a", "Great, thanks."),
        ("b", "So again, I'll send the revised proposal by Friday."),
    ];
    let items = run(&lines, "en");
    assert_eq!(items.len(), 1, "{items:#?}");
    assert_eq!(items[0].evidence.len(), 2);
    assert_eq!(items[0].due.as_ref().unwrap().date, "2025-01-31");
    assert_exact_spans(&lines, &items);
}
