//! Matching tests. Expected values are worked out by hand from the rules in the module docs
//! and, for inflections, from the published Snowball algorithms (noted beside each case).

use super::*;
use crate::tenant::{CompetitorConfig, TrackerConfig};

fn keyword(name: &str, terms: &[&str]) -> TrackerConfig {
    TrackerConfig {
        name: name.to_string(),
        terms: terms.iter().map(|t| t.to_string()).collect(),
        stemming: true,
        accent_insensitive: true,
        ..TrackerConfig::default()
    }
}

fn competitor(name: &str, aliases: &[&str]) -> CompetitorConfig {
    CompetitorConfig {
        name: name.to_string(),
        aliases: aliases.iter().map(|t| t.to_string()).collect(),
        ..CompetitorConfig::default()
    }
}

fn config(trackers: Vec<TrackerConfig>, competitors: Vec<CompetitorConfig>) -> TenantConfig {
    TenantConfig {
        tenant_id: "t1".to_string(),
        trackers,
        competitors,
        ..TenantConfig::default()
    }
}

fn set(trackers: Vec<TrackerConfig>, competitors: Vec<CompetitorConfig>) -> TrackerSet {
    TrackerSet::compile(&config(trackers, competitors)).unwrap()
}

/// Segments `s0`, `s1`... of (speaker, text), one second apart.
fn conv(segments: &[(&str, &str)]) -> Conversation {
    Conversation {
        id: "c1".to_string(),
        tenant_id: "t1".to_string(),
        segments: segments
            .iter()
            .enumerate()
            .map(|(i, (speaker, text))| Segment {
                id: format!("s{i}"),
                speaker: speaker.to_string(),
                start_ms: Some(i as i64 * 1000),
                end_ms: Some(i as i64 * 1000 + 900),
                text: text.to_string(),
                ..Segment::default()
            })
            .collect(),
        ..Conversation::default()
    }
}

/// (tracker, heard) of every hit.
fn heard(set: &TrackerSet, text: &str, lang: &str) -> Vec<(String, String)> {
    set.find(&conv(&[("a", text)]), lang)
        .0
        .into_iter()
        .map(|h| (h.tracker, h.heard))
        .collect()
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn english_inflections_and_false_friends() {
    // Porter2: prices -> price (step 1a), pricing/priced -> pric -> price (step 1b, short
    // word gets its e back); priceless keeps its "less" (no such suffix in Porter2).
    let s = set(vec![keyword("pricing", &["price"])], vec![]);
    assert_eq!(
        heard(
            &s,
            "Prices went up; pricing is priced per seat. Priceless!",
            "en"
        ),
        pairs(&[
            ("pricing", "Prices"),
            ("pricing", "pricing"),
            ("pricing", "priced")
        ])
    );
    assert_eq!(heard(&s, "priceless overprice", "en"), pairs(&[]));
}

#[test]
fn competitor_matches_whole_words_only() {
    let s = set(vec![], vec![competitor("SAP", &[])]);
    assert_eq!(
        heard(&s, "SAP's offer, sap or Sap?", "en"),
        pairs(&[("SAP", "SAP"), ("SAP", "sap"), ("SAP", "Sap")])
    );
    assert_eq!(
        heard(&s, "a sapling in the sapphire SAPS", "en"),
        pairs(&[])
    );
}

#[test]
fn aliases_and_phrases_across_punctuation_and_line_breaks() {
    let s = set(
        vec![],
        vec![competitor("Salesforce", &["SFDC", "Sales Cloud"])],
    );
    let c = conv(&[(
        "a",
        "We moved off SFDC. Sales,\nCloud was slow; salesforce too.",
    )]);
    let (hits, counts) = s.find(&c, "en");
    let got: Vec<(&str, &str, i64, i64)> = hits
        .iter()
        .map(|h| (h.term.as_str(), h.heard.as_str(), h.start_char, h.end_char))
        .collect();
    // "SFDC" at 13..17; "Sales,\nCloud" at 19..31; "salesforce" at 42..52.
    assert_eq!(
        got,
        [
            ("SFDC", "SFDC", 13, 17),
            ("Sales Cloud", "Sales,\nCloud", 19, 31),
            ("Salesforce", "salesforce", 42, 52)
        ]
    );
    assert!(hits
        .iter()
        .all(|h| h.kind == TrackerKind::Competitor && h.tracker == "Salesforce"));
    assert_eq!(
        counts,
        [TrackerCount {
            tracker: "Salesforce".into(),
            kind: TrackerKind::Competitor,
            side: Side::Unknown,
            count: 3
        }]
    );
}

#[test]
fn phrases_never_join_segments() {
    let s = set(
        vec![keyword("budget", &["budget approval"])],
        vec![competitor("Salesforce", &["Sales Cloud"])],
    );
    // Different speakers, then the same speaker twice: no phrase across segments.
    let c = conv(&[
        ("a", "we need sales"),
        ("b", "cloud budget"),
        ("b", "approval please"),
    ]);
    assert!(s.find(&c, "en").0.is_empty());
    let c = conv(&[("a", "we need sales"), ("a", "cloud budget")]);
    assert!(s.find(&c, "en").0.is_empty());
}

#[test]
fn accents_follow_the_tracker_setting() {
    // Folded, then Porter2: resume/résumé/resumes all -> resum.
    let s = set(vec![keyword("cv", &["resume"])], vec![]);
    assert_eq!(
        heard(&s, "Send your Résumé and résumés", "en"),
        pairs(&[("cv", "Résumé"), ("cv", "résumés")])
    );
    let exact = TrackerConfig {
        accent_insensitive: false,
        ..keyword("cv", &["resume"])
    };
    let s = set(vec![exact], vec![]);
    assert_eq!(heard(&s, "Send your Résumé", "en"), pairs(&[]));
    assert_eq!(heard(&s, "resume it", "en"), pairs(&[("cv", "resume")]));
    let exact = TrackerConfig {
        accent_insensitive: false,
        ..keyword("cv", &["résumé"])
    };
    let s = set(vec![exact], vec![]);
    // Composed and decomposed (e + U+0301) forms are the same word.
    assert_eq!(
        heard(&s, "RÉSUMÉ re\u{301}sume\u{301} resume", "fr"),
        pairs(&[("cv", "RÉSUMÉ"), ("cv", "re\u{301}sume\u{301}")])
    );
}

#[test]
fn sharp_s_is_ss() {
    // German Snowball: strasse -> strass (e in R1), strassen -> strass (en in R1).
    let s = set(vec![keyword("street", &["Straße"])], vec![]);
    assert_eq!(
        heard(&s, "STRASSE, Strasse, Straßen", "de"),
        pairs(&[
            ("street", "STRASSE"),
            ("street", "Strasse"),
            ("street", "Straßen")
        ])
    );
    let s = set(vec![keyword("street", &["strasse"])], vec![]);
    assert_eq!(
        heard(&s, "die Straße", "de"),
        pairs(&[("street", "Straße")])
    );
}

/// One row per language with a stemmer: term, forms that must match, words that must not.
#[test]
fn inflections_in_every_stemming_language() {
    struct Case {
        lang: &'static str,
        term: &'static str,
        found: &'static [&'static str],
        not_found: &'static [&'static str],
    }
    let cases = [
        // Porter2: s deleted (step 1a); "or" is no Porter2 suffix. (Step 4 deletes "ion" after
        // t in R2, so "contraction" does find "contract": see docs/trackers.md.)
        Case {
            lang: "en",
            term: "contract",
            found: &["contracts", "Contract", "contraction"],
            not_found: &["contractor"],
        },
        // Residual s deleted (not after a, i, o, u, è, s); "prix" ends in x and stays.
        Case {
            lang: "fr",
            term: "contrat",
            found: &["contrats"],
            not_found: &["contraction", "contrainte"],
        },
        Case {
            lang: "fr",
            term: "prix",
            found: &["prix", "Prix"],
            not_found: &["prise"],
        },
        // e / en deleted in R1; "Ratten" -> ratt, not rat.
        Case {
            lang: "de",
            term: "Preis",
            found: &["Preise", "Preisen"],
            not_found: &["Reisepreis"],
        },
        Case {
            lang: "de",
            term: "Rat",
            found: &["Rat"],
            not_found: &["Ratten"],
        },
        // Residual o / os deleted in RV; "precioso": oso not in R2, o deleted -> precios.
        Case {
            lang: "es",
            term: "precio",
            found: &["precios"],
            not_found: &["precioso"],
        },
        // Residual o / os deleted in RV (folded: preço -> preco).
        Case {
            lang: "pt",
            term: "preço",
            found: &["preços", "preco"],
            not_found: &["precoce"],
        },
        Case {
            lang: "pt",
            term: "contrato",
            found: &["contratos"],
            not_found: &["contraste"],
        },
        // Step 3a: final vowel deleted in RV: prezzi, prezzo -> prezz.
        Case {
            lang: "it",
            term: "prezzo",
            found: &["prezzi"],
            not_found: &["prezzemolo"],
        },
        // en deleted after a consonant in R1: contracten -> contract.
        Case {
            lang: "nl",
            term: "contract",
            found: &["contracten"],
            not_found: &["contractant"],
        },
        Case {
            lang: "nl",
            term: "korting",
            found: &["kortingen"],
            not_found: &["kort"],
        },
        // er deleted in R1, then tt -> t (Swedish step 2, Danish undoubling); Norwegian: er only.
        Case {
            lang: "sv",
            term: "rabatt",
            found: &["rabatter"],
            not_found: &["rabarber"],
        },
        Case {
            lang: "da",
            term: "rabat",
            found: &["rabatter"],
            not_found: &["rabarber"],
        },
        Case {
            lang: "no",
            term: "rabatt",
            found: &["rabatter"],
            not_found: &["rabarbra"],
        },
        // Final t after a vowel in R1 (plural) deleted: autot -> auto.
        Case {
            lang: "fi",
            term: "auto",
            found: &["autot"],
            not_found: &["automaatti"],
        },
        // Plural ek deleted in R1 (folded).
        Case {
            lang: "hu",
            term: "szerződés",
            found: &["szerződések"],
            not_found: &["szerző"],
        },
        // Article ul deleted (step 0), residual e deleted in RV.
        Case {
            lang: "ro",
            term: "contract",
            found: &["contractul", "contracte"],
            not_found: &["contra"],
        },
        // Noun endings а / ы / у deleted in RV: цен.
        Case {
            lang: "ru",
            term: "цена",
            found: &["цены", "цену", "ЦЕНА"],
            not_found: &["ценность"],
        },
        // Noun plural ές after accent folding: τιμή, τιμές -> τιμ.
        Case {
            lang: "el",
            term: "τιμή",
            found: &["τιμές", "ΤΙΜΗ"],
            not_found: &["τιμωρία"],
        },
        // Plural suffix கள் removed.
        Case {
            lang: "ta",
            term: "விலை",
            found: &["விலைகள்"],
            not_found: &["விலங்கு"],
        },
        // Definite article ال and final ة removed.
        Case {
            lang: "ar",
            term: "شركة",
            found: &["الشركة"],
            not_found: &["مشروع"],
        },
        // Plural lar removed (back vowel harmony).
        Case {
            lang: "tr",
            term: "fiyat",
            found: &["fiyatlar"],
            not_found: &["fiyasko"],
        },
    ];
    for case in &cases {
        let s = set(vec![keyword("k", &[case.term])], vec![]);
        for word in case.found {
            let text = format!("x {word} y");
            assert_eq!(
                heard(&s, &text, case.lang),
                pairs(&[("k", word)]),
                "{}: {} should find {word}",
                case.lang,
                case.term
            );
        }
        for word in case.not_found {
            let text = format!("x {word} y");
            assert_eq!(
                heard(&s, &text, case.lang),
                pairs(&[]),
                "{}: {} should not find {word}",
                case.lang,
                case.term
            );
        }
    }
}

#[test]
fn stemming_is_per_language_and_optional() {
    let s = set(vec![keyword("pricing", &["price"])], vec![]);
    // Unsupported or unknown language: normal forms only.
    assert_eq!(
        heard(&s, "prices and price", "ja"),
        pairs(&[("pricing", "price")])
    );
    assert_eq!(
        heard(&s, "prices and price", ""),
        pairs(&[("pricing", "price")])
    );
    // A region suffix is ignored.
    assert_eq!(
        heard(&s, "prices", "en-GB"),
        pairs(&[("pricing", "prices")])
    );
    let plain = TrackerConfig {
        stemming: false,
        ..keyword("pricing", &["price"])
    };
    let s = set(vec![plain], vec![]);
    assert_eq!(
        heard(&s, "prices and price", "en"),
        pairs(&[("pricing", "price")])
    );
    // A quoted term is exact even when the tracker stems.
    let s = set(vec![keyword("pricing", &["\"pricing\""])], vec![]);
    assert_eq!(
        heard(&s, "price, prices, Pricing", "en"),
        pairs(&[("pricing", "Pricing")])
    );
    let (hits, _) = s.find(&conv(&[("a", "Pricing")]), "en");
    assert_eq!(hits[0].term, "pricing");
}

#[test]
fn competitors_are_not_stemmed() {
    let s = set(vec![], vec![competitor("Gong", &[])]);
    assert_eq!(heard(&s, "gongs", "en"), pairs(&[]));
    assert_eq!(heard(&s, "Gong", "en"), pairs(&[("Gong", "Gong")]));
}

#[test]
fn overlapping_terms_leftmost_longest_per_tracker() {
    let s = set(
        vec![
            keyword("pricing", &["price", "price list"]),
            keyword("lists", &["list"]),
            keyword("phrases", &["price list", "list price"]),
        ],
        vec![],
    );
    let c = conv(&[("a", "the price list price")]);
    let got: Vec<(String, String, i64)> = s
        .find(&c, "en")
        .0
        .into_iter()
        .map(|h| (h.tracker, h.term, h.start_char))
        .collect();
    // pricing: "price list" (4..14) beats "price" at 4; then "price" at 15.
    // lists: "list" at 10. phrases: "price list" at 4; "list price" (10..20) overlaps it.
    let want = [
        ("phrases", "price list", 4),
        ("pricing", "price list", 4),
        ("lists", "list", 10),
        ("pricing", "price", 15),
    ];
    let want: Vec<(String, String, i64)> = want
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), *c))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn same_form_twice_in_a_tracker_reports_the_first_term() {
    // "Price" and "prices" both stem to "price": one hit, the first configured term.
    let s = set(vec![keyword("pricing", &["Price", "prices"])], vec![]);
    let (hits, counts) = s.find(&conv(&[("a", "prices")]), "en");
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].term, "Price");
    assert_eq!(counts[0].count, 1);
}

#[test]
fn speakers_sides_offsets_and_counts() {
    let mut cfg = config(
        vec![keyword("pricing", &["price"])],
        vec![competitor("Gong", &[])],
    );
    cfg.internal_domains = vec!["acme.com".to_string()];
    let s = TrackerSet::compile(&cfg).unwrap();
    let mut c = conv(&[
        ("ann@ACME.com", "Our price"),
        ("bob", "Gong price? Price."),
        ("carl", "gong"),
    ]);
    c.segments[1].side = Side::External;
    c.segments[2].start_ms = None;
    let (hits, counts) = s.find(&c, "en");
    /// (tracker, speaker, side, segment, offset_ms, start_char, end_char)
    type Row<'a> = (&'a str, &'a str, Side, &'a str, Option<i64>, i64, i64);
    let got: Vec<Row> = hits
        .iter()
        .map(|h| {
            (
                h.tracker.as_str(),
                h.speaker.as_str(),
                h.side,
                h.segment_id.as_str(),
                h.offset_ms,
                h.start_char,
                h.end_char,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "pricing",
                "ann@ACME.com",
                Side::Internal,
                "s0",
                Some(0),
                4,
                9
            ),
            ("Gong", "bob", Side::External, "s1", Some(1000), 0, 4),
            ("pricing", "bob", Side::External, "s1", Some(1000), 5, 10),
            ("pricing", "bob", Side::External, "s1", Some(1000), 12, 17),
            ("Gong", "carl", Side::Unknown, "s2", None, 0, 4),
        ]
    );
    let count = |t: &str, k, s, n| TrackerCount {
        tracker: t.to_string(),
        kind: k,
        side: s,
        count: n,
    };
    assert_eq!(
        counts,
        [
            count("Gong", TrackerKind::Competitor, Side::External, 1),
            count("Gong", TrackerKind::Competitor, Side::Unknown, 1),
            count("pricing", TrackerKind::Keyword, Side::Internal, 1),
            count("pricing", TrackerKind::Keyword, Side::External, 2),
        ]
    );
}

#[test]
fn spans_are_unicode_scalars_of_the_original_text() {
    let s = set(vec![keyword("prix", &["prix"])], vec![]);
    // "Évidemment, le " is 15 characters (É is one scalar, two bytes).
    let (hits, _) = s.find(&conv(&[("a", "Évidemment, le PRIX.")]), "fr");
    assert_eq!(
        (hits[0].start_char, hits[0].end_char, hits[0].heard.as_str()),
        (15, 19, "PRIX")
    );
}

#[test]
fn per_language_terms_apply_in_their_language_only() {
    let mut t = keyword("pricing", &["price"]);
    t.languages
        .insert("fr".to_string(), vec!["prix".to_string()]);
    t.languages
        .insert("pt-BR".to_string(), vec!["preço".to_string()]);
    let s = set(vec![t], vec![]);
    assert_eq!(
        heard(&s, "le prix, the price", "fr"),
        pairs(&[("pricing", "prix"), ("pricing", "price")])
    );
    assert_eq!(
        heard(&s, "le prix, the price", "en"),
        pairs(&[("pricing", "price")])
    );
    assert_eq!(heard(&s, "o preço", "pt"), pairs(&[("pricing", "preço")]));
}

#[test]
fn team_scoped_trackers_need_a_team() {
    let mut t = keyword("emea", &["price"]);
    t.teams = vec!["emea-sales".to_string()];
    let s = set(vec![t, keyword("all", &["price"])], vec![]);
    let c = conv(&[("a", "price")]);
    let names = |hits: Vec<TrackerHit>| hits.into_iter().map(|h| h.tracker).collect::<Vec<_>>();
    assert_eq!(names(s.find(&c, "en").0), ["all"]);
    assert_eq!(
        names(s.find_in_team(&c, "en", Some("emea-sales")).0),
        ["all", "emea"]
    );
    assert_eq!(names(s.find_in_team(&c, "en", Some("us-sales")).0), ["all"]);
}

#[test]
fn scripts_without_spaces_match_character_sequences() {
    let s = set(vec![], vec![competitor("销售易", &["セールスフォース"])]);
    assert_eq!(
        heard(&s, "我们用销售易。セールスフォースです", "zh"),
        pairs(&[("销售易", "销售易"), ("销售易", "セールスフォース")])
    );
}

#[test]
fn empty_inputs_find_nothing() {
    let s = set(vec![keyword("pricing", &["price"])], vec![]);
    assert_eq!(s.find(&conv(&[]), "en"), (vec![], vec![]));
    assert_eq!(
        s.find(&conv(&[("a", ""), ("b", " ... ")]), "en"),
        (vec![], vec![])
    );
    assert_eq!(
        TrackerSet::default().find(&conv(&[("a", "price")]), "en"),
        (vec![], vec![])
    );
}

#[test]
fn invalid_configuration_is_rejected() {
    let err = TrackerSet::compile(&config(vec![keyword("a", &["ok", " "])], vec![])).unwrap_err();
    assert_eq!(
        err,
        ConfigError::EmptyTerm {
            kind: "tracker",
            name: "a".into(),
            at: "terms[1]".into()
        }
    );
}

#[test]
fn ten_thousand_terms_compile_and_match() {
    // 10,000 synthetic single words plus one phrase; only two occur in the text.
    let terms: Vec<String> = (0..10_000)
        .map(|i| format!("zq{i}x"))
        .chain(["net price".to_string()])
        .collect();
    let t = TrackerConfig {
        name: "big".into(),
        terms,
        ..TrackerConfig::default()
    };
    let cfg = TenantConfig {
        tenant_id: "t1".into(),
        trackers: vec![t],
        ..TenantConfig::default()
    };
    let s = TrackerSet::compile(&cfg).unwrap();
    assert_eq!(
        heard(&s, "zq9999x and the net prices, not zq10000x", "en"),
        pairs(&[("big", "zq9999x"), ("big", "net prices")])
    );
}

#[test]
fn clones_share_and_results_are_deterministic() {
    fn send_sync<T: Send + Sync + Clone + std::fmt::Debug>() {}
    send_sync::<TrackerSet>();
    let s = set(
        vec![keyword("pricing", &["price"])],
        vec![competitor("Gong", &[])],
    );
    let c = conv(&[("a", "Gong price prices"), ("b", "gong")]);
    let clone = s.clone();
    assert!(Arc::ptr_eq(&s.inner, &clone.inner));
    // Preparing English builds its automaton, visible from every clone.
    assert!(
        format!("{clone:?}").contains("languages_built: []"),
        "{clone:?}"
    );
    s.prepare("en");
    assert!(
        format!("{clone:?}").contains("languages_built: [\"en\"]"),
        "{clone:?}"
    );
    let first = s.find(&c, "en");
    assert_eq!(clone.find(&c, "en"), first);
    assert_eq!(first.0.len(), 4);
}

#[test]
fn packed_words_are_their_zero_padded_bytes() {
    let text = "a bb price 0123456789abcdef x0123456789abcdefg é end";
    let mut tokens = Vec::new();
    tokenize(text, &mut tokens);
    let mut packed = 0;
    for t in &tokens {
        let (s, e) = (t.start_byte as usize, t.end_byte as usize);
        let word = &text.as_bytes()[s..e];
        let want = (word.len() <= 16).then(|| {
            let mut b = [0u8; 16];
            b[..word.len()].copy_from_slice(word);
            u128::from_le_bytes(b)
        });
        assert_eq!(pack(text.as_bytes(), s, e), want, "{:?}", &text[s..e]);
        packed += usize::from(want.is_some());
    }
    // Seven words, all but the 18-byte one packed; "end" is read through the window ending at
    // the text's end, "a" through the one starting at it.
    assert_eq!((tokens.len(), packed), (7, 6));
    assert_eq!(pack(b"ab", 0, 2), Some(0x6261));
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    /// Text made of tracked words, their variants and arbitrary Unicode, with separators.
    fn text() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just("price".to_string()),
            Just("Prices".to_string()),
            Just("list".to_string()),
            Just("ÉTÉ".to_string()),
            Just("e\u{301}te\u{301}".to_string()),
            Just("Straße".to_string()),
            Just("SAP".to_string()),
            Just("销售易".to_string()),
            "\\PC{0,6}",
            "[ ,.;\\n'-]{1,3}",
        ];
        prop::collection::vec(piece, 0..24).prop_map(|p| p.concat())
    }

    proptest! {
        #[test]
        fn spans_heard_and_counts_are_consistent(
            texts in prop::collection::vec(text(), 1..4),
            lang in "(en|fr|de|ja|pt-BR|xx|)",
        ) {
            let s = set(
                vec![keyword("k", &["price list", "été", "straße"]), keyword("l", &["list"])],
                vec![competitor("SAP", &["销售易"])],
            );
            let segs: Vec<(&str, &str)> =
                texts.iter().enumerate().map(|(i, t)| (if i % 2 == 0 { "a" } else { "b" }, t.as_str())).collect();
            let c = conv(&segs);
            let (hits, counts) = s.find(&c, &lang);
            for h in &hits {
                let seg = c.segments.iter().find(|g| g.id == h.segment_id).unwrap();
                let chars: Vec<char> = seg.text.chars().collect();
                prop_assert!(h.start_char < h.end_char && h.end_char as usize <= chars.len());
                let span: String = chars[h.start_char as usize..h.end_char as usize].iter().collect();
                prop_assert_eq!(&span, &h.heard);
                prop_assert_eq!(&seg.speaker, &h.speaker);
            }
            prop_assert_eq!(counts.iter().map(|k| k.count).sum::<i64>(), hits.len() as i64);
            // Same input, same output, whatever the word memo holds.
            let again = s.find(&c, &lang);
            s.forget_words();
            prop_assert_eq!(&again, &(hits.clone(), counts.clone()));
            prop_assert_eq!(s.find(&c, &lang), (hits, counts));
        }
    }
}
