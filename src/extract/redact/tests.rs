//! Hand-written examples per type and language, span bookkeeping, and the property that no
//! e-mail address, IBAN or Luhn-valid card number survives in any output field.

use super::*;
use crate::extract::{analyse, ExtractContext, Settings};
use crate::insight::FinalisedBy;
use crate::model::Segment;
use proptest::prelude::*;

fn kinds(text: &str) -> Vec<(String, PiiType)> {
    find(text)
        .into_iter()
        .map(|f| (text[f.start..f.end].to_string(), f.kind))
        .collect()
}

fn one(text: &str, value: &str, kind: PiiType) {
    assert_eq!(kinds(text), vec![(value.to_string(), kind)], "{text}");
}

#[test]
fn emails_ibans_cards_ips_urls() {
    one(
        "Write to jane.doe@example.co.uk.",
        "jane.doe@example.co.uk",
        PiiType::Email,
    );
    one(
        "IBAN DE89 3704 0044 0532 0130 00 please",
        "DE89 3704 0044 0532 0130 00",
        PiiType::Iban,
    );
    one(
        "mon IBAN est FR1420041010050500013M02606.",
        "FR1420041010050500013M02606",
        PiiType::Iban,
    );
    one(
        "paid with 4111 1111 1111 1111 yesterday",
        "4111 1111 1111 1111",
        PiiType::Card,
    );
    one("from 192.168.10.254 at noon", "192.168.10.254", PiiType::Ip);
    one(
        "host 2001:db8::ff00:42:8329 answered",
        "2001:db8::ff00:42:8329",
        PiiType::Ip,
    );
    one(
        "see https://www.linkedin.com/in/jane-doe.",
        "https://www.linkedin.com/in/jane-doe",
        PiiType::Url,
    );
    assert!(kinds("see https://www.example.com/pricing and version 1.2.3.4.5").is_empty());
    assert!(
        kinds("the number 4111 1111 1111 1112 rang").is_empty(),
        "not Luhn, no card word"
    );
}

#[test]
fn phones_in_every_language() {
    one(
        "Call me on +44 20 7946 0958 tomorrow.",
        "+44 20 7946 0958",
        PiiType::Phone,
    );
    one(
        "My number is (415) 555-0123.",
        "(415) 555-0123",
        PiiType::Phone,
    );
    one(
        "Mon portable : 06 12 34 56 78.",
        "06 12 34 56 78",
        PiiType::Phone,
    );
    one("Rufen Sie 030 1234567 an.", "030 1234567", PiiType::Phone);
    one(
        "Mi teléfono es 612 34 56 78.",
        "612 34 56 78",
        PiiType::Phone,
    );
    one(
        "Il mio numero di telefono è 347 123 4567.",
        "347 123 4567",
        PiiType::Phone,
    );
    one("Bel me op 06-12345678.", "06-12345678", PiiType::Phone);
    one(
        "O meu telemóvel é 912 345 678.",
        "912 345 678",
        PiiType::Phone,
    );
    one(
        "Ligue para +351 912 345 678.",
        "+351 912 345 678",
        PiiType::Phone,
    );
}

#[test]
fn phones_spoken_digit_by_digit() {
    one(
        "it's zero six one two three four five six seven eight ok",
        "zero six one two three four five six seven eight",
        PiiType::Phone,
    );
    one(
        "c'est zéro six un deux trois quatre cinq six sept huit",
        "zéro six un deux trois quatre cinq six sept huit",
        PiiType::Phone,
    );
    one(
        "null eins fünf eins zwei drei vier fünf sechs",
        "null eins fünf eins zwei drei vier fünf sechs",
        PiiType::Phone,
    );
    one(
        "cero seis uno dos tres cuatro cinco seis",
        "cero seis uno dos tres cuatro cinco seis",
        PiiType::Phone,
    );
    one(
        "zero tre quattro sette uno due tre quattro",
        "zero tre quattro sette uno due tre quattro",
        PiiType::Phone,
    );
    one(
        "nul zes een twee drie vier vijf zes zeven",
        "nul zes een twee drie vier vijf zes zeven",
        PiiType::Phone,
    );
    one(
        "nove um dois três quatro cinco seis sete",
        "nove um dois três quatro cinco seis sete",
        PiiType::Phone,
    );
    assert!(kinds("one two three, let's go").is_empty());
}

#[test]
fn national_ids_with_checksums_and_keywords() {
    one(
        "NIR 1 84 12 76 451 089 46.",
        "1 84 12 76 451 089 46",
        PiiType::NationalId,
    );
    one("DNI 12345678Z", "12345678Z", PiiType::NationalId);
    one("NIE X1234567L", "X1234567L", PiiType::NationalId);
    one(
        "Reisepass Nummer C01X00T47",
        "C01X00T47",
        PiiType::NationalId,
    );
    assert!(
        kinds("order 12345678A shipped").is_empty(),
        "wrong DNI letter, no keyword"
    );
}

#[test]
fn amounts_dates_and_times_are_left_alone() {
    for t in [
        "It costs 12,500 euros, 5.432,10 € or 1 200 000 dollars.",
        "Meeting on 12.03.2024 at 10:30, then 2025-01-31.",
        "Version 3.2.1 ships in Q3 2025 with 250 seats.",
    ] {
        assert!(kinds(t).is_empty(), "{t}: {:?}", kinds(t));
    }
}

#[test]
fn spans_move_to_the_redacted_text() {
    let r = redact("Ask anna@x.org or call +33 6 12 34 56 78 now");
    assert_eq!(r.text, "Ask [EMAIL] or call [PHONE] now");
    assert_eq!(r.kinds, vec![PiiType::Email, PiiType::Phone]);
    // "or" is at 15..17 in the original, 12..14 redacted.
    assert_eq!((r.map(15, false), r.map(17, true)), (12, 14));
    // A span cut inside a finding covers the whole placeholder.
    assert_eq!(r.slice(6, 40), "[EMAIL] or call [PHONE]");
    assert_eq!(r.slice(0, 44), r.text);
}

fn ctx(settings: &Settings) -> ExtractContext<'_> {
    ExtractContext {
        settings,
        tenant: None,
        finalised_by: FinalisedBy::File,
        reference_time: None,
    }
}

fn conversation(lines: &[&str]) -> Conversation {
    Conversation {
        id: "c".into(),
        segments: lines
            .iter()
            .enumerate()
            .map(|(i, t)| Segment {
                id: format!("s{i}"),
                speaker: if i % 2 == 0 { "a".into() } else { "b".into() },
                text: t.to_string(),
                ..Segment::default()
            })
            .collect(),
        ..Conversation::default()
    }
}

#[test]
fn insight_fields_are_redacted_and_counted_and_spans_stay_exact() {
    let settings = Settings::default();
    let conv = conversation(&[
        "Can you send the contract to jane.doe@example.com by Friday?",
        "Sure, I'll send it to jane.doe@example.com today and call you on +49 30 1234567.",
    ]);
    let insight = analyse(&conv, &ctx(&settings));
    let json = serde_json::to_string(&insight).unwrap();
    assert!(!json.contains("jane.doe@"), "{json}");
    assert!(!json.contains("1234567"), "{json}");
    assert!(!insight.action_items.is_empty());
    for it in &insight.action_items {
        let e = &it.evidence[0];
        let seg = &conv.segments[e.segment_id[1..].parse::<usize>().unwrap()];
        let red = redact(&seg.text).text;
        let at: String = red
            .chars()
            .skip(e.start_char as usize)
            .take((e.end_char - e.start_char) as usize)
            .collect();
        assert_eq!(it.text, at);
    }
    let counts: Vec<(&str, i64)> = insight
        .redactions
        .iter()
        .map(|r| (r.kind.as_str(), r.count))
        .collect();
    assert_eq!(counts, vec![("EMAIL", 2), ("PHONE", 1)]);
}

/// Luhn-valid 16-digit card numbers built from 15 random digits and their check digit.
fn card() -> impl Strategy<Value = String> {
    proptest::collection::vec(0u8..10, 15).prop_map(|mut d| {
        d[0] = 4;
        let sum: u32 = d
            .iter()
            .rev()
            .enumerate()
            .map(|(i, &x)| {
                let x = u32::from(x);
                if i % 2 == 0 {
                    let y = 2 * x;
                    if y > 9 {
                        y - 9
                    } else {
                        y
                    }
                } else {
                    x
                }
            })
            .sum();
        d.push(((10 - sum % 10) % 10) as u8);
        let s: String = d.iter().map(|x| char::from(b'0' + x)).collect();
        format!("{} {} {} {}", &s[0..4], &s[4..8], &s[8..12], &s[12..16])
    })
}

/// German IBANs with a valid check number for random account numbers.
fn iban() -> impl Strategy<Value = String> {
    "[0-9]{18}".prop_map(|bban| {
        let numeric = format!("{bban}131400"); // DE -> 13 14, check digits 00
        let rem = numeric
            .bytes()
            .fold(0u32, |r, b| (r * 10 + u32::from(b - b'0')) % 97);
        format!("DE{:02}{bban}", 98 - rem)
    })
}

fn email() -> impl Strategy<Value = String> {
    (
        "[a-z]{1,8}(\\.[a-z]{1,8})?",
        "[a-z]{2,10}",
        "(com|fr|de|io)",
    )
        .prop_map(|(l, d, t)| format!("{l}@{d}.{t}"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// Whatever text surrounds them, no e-mail address, IBAN or Luhn-valid card number
    /// embedded in a conversation appears in any field of its insight.
    #[test]
    fn no_email_iban_or_card_survives_in_any_output_field(
        before in "[a-zA-Zàéü ,.?']{0,40}",
        after in "[a-zA-Zàéü ,.?']{0,40}",
        e in email(),
        i in iban(),
        c in card(),
        lead in prop::sample::select(vec!["I'll send", "Can you send", "Je vous envoie", "Ich schicke", "Voy a enviar"]),
    ) {
        prop_assert!(luhn(&c.bytes().filter(u8::is_ascii_digit).map(|b| b - b'0').collect::<Vec<_>>()));
        prop_assert!(iban_valid(&i));
        let settings = Settings { min_summary_chars: 0, ..Settings::default() };
        let conv = conversation(&[
            &format!("{lead} {before} {e} {after}?"),
            &format!("{before}{i} {lead} {after} {c}."),
            &format!("{lead} it to {e}, card {c}, IBAN {i}{after}"),
        ]);
        let insight = analyse(&conv, &ctx(&settings));
        let json = serde_json::to_string(&insight).unwrap();
        let digits: String = c.chars().filter(char::is_ascii_digit).collect();
        let json_digits: String = json.chars().filter(|ch| !matches!(ch, ' ')).collect();
        prop_assert!(!json.contains(&e), "{}", json);
        prop_assert!(!json.contains(&i), "{}", json);
        prop_assert!(!json.contains(&c) && !json_digits.contains(&digits), "{}", json);
    }

    /// Redaction never panics and its spans always land on character boundaries.
    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,80}") {
        let r = redact(&text);
        let n = text.chars().count() as u32;
        prop_assert!(r.map(n, true) as usize == r.text.chars().count());
    }
}
