//! Highlights on hand-written calls over the floor: count, exact spans, speakers, kinds,
//! determinism; none under the floor.

use super::*;
use crate::extract::{analyse, ExtractContext, Settings};
use crate::insight::FinalisedBy;
use crate::model::Segment;

fn call(lines: &[&str]) -> Conversation {
    Conversation {
        id: "c".into(),
        segments: lines
            .iter()
            .enumerate()
            .map(|(i, t)| Segment {
                id: format!("s{i}"),
                speaker: ["alice", "bruno"][i % 2].into(),
                start_ms: Some(i as i64 * 10_000),
                end_ms: Some(i as i64 * 10_000 + 9_000),
                text: t.to_string(),
                ..Segment::default()
            })
            .collect(),
        ..Conversation::default()
    }
}

const EN: &[&str] = &[
    "Thanks for joining, today we want to review the rollout plan for the analytics platform.",
    "Sure. The pilot with the finance team went well and the dashboards are now used every day.",
    "Good to hear. What did the finance team say about the reporting latency of the platform?",
    "They said the latency is fine, but the export to spreadsheets is still too slow for them.",
    "That is a concern we share, the export was rewritten last month and should be faster now.",
    "On pricing, the annual licence would cost forty thousand euros with a ten percent discount.",
    "That price is above our budget for this year, so we need to discuss the discount again.",
    "We decided to start with the finance team and extend the platform to sales in the spring.",
    "I'll send you the revised proposal with the new discount by Friday.",
    "Great, and we should plan the training sessions for the sales team before the end of March.",
    "The training sessions can run remotely, two hours each, for groups of ten people at most.",
    "Perfect. Let us meet again next week to confirm the training schedule and the final price.",
];

const FR: &[&str] = &[
    "Merci d'être là, nous voulons aujourd'hui revoir le plan de déploiement de la plateforme.",
    "Bien sûr. Le pilote avec l'équipe finance s'est bien passé et les tableaux sont utilisés.",
    "Très bien. Qu'a dit l'équipe finance sur le délai des rapports de la plateforme ?",
    "Le délai leur convient, mais l'export vers les tableurs reste trop lent pour leur travail.",
    "C'est un problème que nous connaissons, l'export a été réécrit le mois dernier.",
    "Pour le prix, la licence annuelle coûterait quarante mille euros avec une remise de dix pour cent.",
    "Ce prix dépasse notre budget de cette année, il faut donc rediscuter la remise proposée.",
    "Nous avons décidé de commencer par l'équipe finance puis d'étendre la plateforme aux ventes.",
    "Je vous envoie la proposition révisée avec la nouvelle remise d'ici vendredi.",
    "Parfait, et il faudra planifier les formations de l'équipe commerciale avant la fin mars.",
    "Les formations peuvent se faire à distance, deux heures chacune, par groupes de dix personnes.",
    "Parfait. Retrouvons-nous la semaine prochaine pour confirmer le calendrier et le prix final.",
];

#[test]
fn long_calls_get_3_to_7_exact_highlights_with_speakers_in_english_and_french() {
    let settings = Settings::default();
    let ctx = ExtractContext {
        settings: &settings,
        tenant: None,
        finalised_by: FinalisedBy::File,
        reference_time: None,
    };
    for (lang, lines) in [("en", EN), ("fr", FR)] {
        let mut conv = call(lines);
        conv.language = Some(lang.into());
        assert!(conv.text_chars() >= 1000, "{lang}: over the floor");
        let insight = analyse(&conv, &ctx);
        let h = &insight.highlights;
        assert!((3..=7).contains(&h.len()), "{lang}: {h:#?}");
        for x in h {
            let seg = conv.segments.iter().find(|s| s.id == x.segment_id).unwrap();
            let at: String = seg
                .text
                .chars()
                .skip(x.start_char as usize)
                .take((x.end_char - x.start_char) as usize)
                .collect();
            assert_eq!(x.text, at, "{lang}");
            assert_eq!(x.speaker, seg.speaker);
            assert_eq!(x.offset_ms, seg.start_ms);
        }
        let order: Vec<usize> = h
            .iter()
            .map(|x| x.segment_id[1..].parse().unwrap())
            .collect();
        assert!(
            order.windows(2).all(|w| w[0] < w[1]),
            "{lang}: in conversation order"
        );
        assert!(
            h.iter().any(|x| x.kind != HighlightKind::Other),
            "{lang}: {h:#?}"
        );
        assert_eq!(analyse(&conv, &ctx).highlights, *h, "{lang}: deterministic");
    }
}

#[test]
fn pricing_and_decisions_are_recognised() {
    assert_eq!(
        kind_of("It would cost 40 000 € per year.", "en", false),
        HighlightKind::Pricing
    );
    assert_eq!(
        kind_of("Nous avons décidé de commencer.", "fr", false),
        HighlightKind::Decision
    );
    assert_eq!(
        kind_of("Wir haben das so beschlossen.", "de", false),
        HighlightKind::Decision
    );
    assert_eq!(
        kind_of("Anything at all.", "en", true),
        HighlightKind::Commitment
    );
    assert_eq!(
        kind_of("The weather was lovely.", "en", false),
        HighlightKind::Other
    );
}

#[test]
fn stretches_pick_the_best_sentence_of_each_part() {
    let s = |position: usize| Sentence {
        segment: 0,
        start: 0,
        end: 1,
        position,
        words: vec![],
        length: 6,
    };
    let sents = [s(0), s(10), s(50), s(60), s(95)];
    let scores = [1.0, 2.0, 0.5, 0.4, 3.0];
    // Three stretches of 34 characters: [0, 34), [34, 68), [68, 100).
    assert_eq!(by_stretch(&sents, &scores, 100, 3), vec![1, 2, 4]);
    assert_eq!(count_for(999), 3);
    assert_eq!(count_for(12_500), 4);
    assert_eq!(count_for(1_000_000), 7);
}
