//! Language of a conversation: given by the publisher, or detected with `whatlang`.
//!
//! Detection runs once per speaker (the speakers with the most text, at most
//! [`MAX_SPEAKERS`]), on a bounded sample of whole segments spread over the conversation, so
//! its cost does not grow with meeting length. The speakers' detections vote for the
//! conversation's language (weight: the speaker's bytes of text × confidence), and a speaker reliably
//! detected in another language is listed on its own.

use crate::insight::{LanguageReport, LanguageSource, SpeakerLanguage};
use crate::model::Conversation;
use std::collections::HashMap;
use std::sync::OnceLock;
use whatlang::{Detector, Lang};

/// At most this many bytes of each speaker's text are sampled.
pub const SPEAKER_SAMPLE_BYTES: usize = 512;
/// At most this many speakers (those with the most text) are detected.
pub const MAX_SPEAKERS: usize = 8;
/// Speakers with fewer bytes of text than this do not vote on their own; when no speaker has
/// that much, one detection runs over everyone's text.
pub const SPEAKER_MIN_BYTES: usize = 200;
/// A per-speaker detection below this confidence is not reported.
pub const SPEAKER_MIN_CONFIDENCE: f64 = 0.5;

/// Languages considered, with their ISO 639-1 codes.
const LANGS: &[(Lang, &str)] = &[
    (Lang::Eng, "en"),
    (Lang::Fra, "fr"),
    (Lang::Deu, "de"),
    (Lang::Spa, "es"),
    (Lang::Por, "pt"),
    (Lang::Ita, "it"),
    (Lang::Nld, "nl"),
    (Lang::Pol, "pl"),
    (Lang::Swe, "sv"),
    (Lang::Dan, "da"),
    (Lang::Nob, "nb"),
    (Lang::Fin, "fi"),
    (Lang::Tur, "tr"),
    (Lang::Rus, "ru"),
    (Lang::Ukr, "uk"),
    (Lang::Ces, "cs"),
    (Lang::Ron, "ro"),
    (Lang::Hun, "hu"),
    (Lang::Ell, "el"),
    (Lang::Jpn, "ja"),
    (Lang::Cmn, "zh"),
    (Lang::Kor, "ko"),
    (Lang::Ara, "ar"),
    (Lang::Heb, "he"),
    (Lang::Hin, "hi"),
];

fn detector() -> &'static Detector {
    static D: OnceLock<Detector> = OnceLock::new();
    D.get_or_init(|| Detector::with_allowlist(LANGS.iter().map(|(l, _)| *l).collect()))
}

fn iso639_1(lang: Lang) -> Option<&'static str> {
    LANGS.iter().find(|(l, _)| *l == lang).map(|(_, c)| *c)
}

/// Normalises a publisher's language tag (`en-US`, `FR`, `de_DE`) to its ISO 639-1 part;
/// `None` for an empty tag.
pub fn normalise_tag(tag: &str) -> Option<String> {
    let primary = tag
        .trim()
        .split(['-', '_'])
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    (!primary.is_empty()).then_some(primary)
}

/// A report saying the language is unknown.
pub fn unknown() -> LanguageReport {
    LanguageReport {
        code: None,
        confidence: 0.0,
        source: LanguageSource::Unknown,
        speakers: Vec::new(),
    }
}

/// Joins whole texts, taken evenly over the list, up to `budget` bytes.
fn sample(texts: &[&str], budget: usize) -> String {
    let total: usize = texts.iter().map(|t| t.len() + 1).sum();
    let step = total.div_ceil(budget.max(1)).max(1);
    let mut out = String::with_capacity(budget.min(total));
    for t in texts.iter().step_by(step) {
        if !out.is_empty() && out.len() + t.len() + 1 > budget {
            break;
        }
        out.push_str(t);
        out.push(' ');
    }
    out
}

/// One detection over a sample of the texts: language and confidence.
fn detect_sample(texts: &[&str]) -> Option<(&'static str, f64)> {
    let text = sample(texts, SPEAKER_SAMPLE_BYTES);
    let info = detector().detect(&text)?;
    Some((iso639_1(info.lang())?, info.confidence()))
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// The conversation's language: the publisher's (conversation, else the segments' when they
/// all agree) wins with confidence 1.0; otherwise the speakers' detections vote, and the
/// confidence is the winner's weight over the voters' bytes of text, each voter weighing its
/// bytes of text × its confidence (so both disagreement and uncertainty lower it). Speakers
/// reliably detected in another language are listed.
pub fn detect(conv: &Conversation) -> LanguageReport {
    let given = conv
        .language
        .as_deref()
        .and_then(normalise_tag)
        .or_else(|| {
            let mut tags = conv
                .segments
                .iter()
                .map(|s| s.language.as_deref().and_then(normalise_tag));
            let first = tags.next()??;
            tags.all(|t| t.as_deref() == Some(first.as_str()))
                .then_some(first)
        });
    // Texts per speaker, speakers in order of first appearance.
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut speakers: Vec<(&str, Vec<&str>, usize)> = Vec::new();
    for s in &conv.segments {
        if s.text.trim().is_empty() {
            continue;
        }
        let i = *index.entry(s.speaker.as_str()).or_insert_with(|| {
            speakers.push((s.speaker.as_str(), Vec::new(), 0));
            speakers.len() - 1
        });
        speakers[i].1.push(s.text.as_str());
        speakers[i].2 += s.text.len();
    }
    // Most text first; the stable sort keeps first appearance among equals.
    speakers.sort_by_key(|s| std::cmp::Reverse(s.2));
    let voters: Vec<_> = speakers
        .iter()
        .take(MAX_SPEAKERS)
        .filter(|s| s.2 >= SPEAKER_MIN_BYTES)
        .filter_map(|(name, texts, bytes)| {
            detect_sample(texts).map(|(code, conf)| (*name, (code, conf, *bytes)))
        })
        .collect();
    let detected = if voters.is_empty() {
        let all: Vec<&str> = conv
            .segments
            .iter()
            .map(|s| s.text.as_str())
            .filter(|t| !t.trim().is_empty())
            .collect();
        detect_sample(&all).map(|(code, conf)| (code, round4(conf)))
    } else {
        let mut votes: Vec<(&'static str, f64)> = Vec::new();
        let mut total = 0.0;
        for (_, (code, conf, bytes)) in &voters {
            total += *bytes as f64;
            match votes.iter_mut().find(|(c, _)| c == code) {
                Some(v) => v.1 += *bytes as f64 * conf,
                None => votes.push((code, *bytes as f64 * conf)),
            }
        }
        // Highest weight wins; ties go to the language listed first in LANGS.
        let rank = |c: &str| {
            LANGS
                .iter()
                .position(|(_, x)| *x == c)
                .unwrap_or(usize::MAX)
        };
        votes
            .into_iter()
            .max_by(|a, b| a.1.total_cmp(&b.1).then_with(|| rank(b.0).cmp(&rank(a.0))))
            .filter(|(_, w)| *w > 0.0 && total > 0.0)
            .map(|(code, w)| (code, round4(w / total)))
    };
    let mut report = match (given, detected) {
        (Some(code), _) => LanguageReport {
            code: Some(code),
            confidence: 1.0,
            source: LanguageSource::Given,
            speakers: Vec::new(),
        },
        (None, Some((code, confidence))) => LanguageReport {
            code: Some(code.to_string()),
            confidence,
            source: LanguageSource::Detected,
            speakers: Vec::new(),
        },
        (None, None) => unknown(),
    };
    if voters.len() > 1 || report.source == LanguageSource::Given {
        for (speaker, (code, conf, _)) in &voters {
            if *conf >= SPEAKER_MIN_CONFIDENCE && report.code.as_deref() != Some(*code) {
                report.speakers.push(SpeakerLanguage {
                    speaker: speaker.to_string(),
                    code: code.to_string(),
                    confidence: round4(*conf),
                });
            }
        }
        report.speakers.sort_by(|a, b| a.speaker.cmp(&b.speaker));
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Segment;

    fn conv(lang: Option<&str>, texts: &[(&str, &str)]) -> Conversation {
        Conversation {
            id: "c".into(),
            language: lang.map(str::to_string),
            segments: texts
                .iter()
                .enumerate()
                .map(|(i, (sp, t))| Segment {
                    id: i.to_string(),
                    speaker: sp.to_string(),
                    text: t.to_string(),
                    ..Segment::default()
                })
                .collect(),
            ..Conversation::default()
        }
    }

    #[test]
    fn given_language_wins() {
        let r = detect(&conv(
            Some("fr-FR"),
            &[("a", "this is clearly an english sentence about prices")],
        ));
        assert_eq!(r.code.as_deref(), Some("fr"));
        assert_eq!(r.source, LanguageSource::Given);
        assert_eq!(r.confidence, 1.0);
    }

    #[test]
    fn detects_each_language() {
        for (code, text) in [
            (
                "en",
                "we need to send the revised proposal to the customer before the end of the week",
            ),
            (
                "fr",
                "nous devons envoyer la proposition révisée au client avant la fin de la semaine",
            ),
            (
                "de",
                "wir müssen dem Kunden das überarbeitete Angebot bis Ende der Woche schicken",
            ),
            (
                "es",
                "tenemos que enviar la propuesta revisada al cliente antes del final de la semana",
            ),
        ] {
            let r = detect(&conv(None, &[("a", text)]));
            assert_eq!(r.code.as_deref(), Some(code), "{text}");
            assert_eq!(r.source, LanguageSource::Detected);
            assert!(r.confidence > 0.0);
        }
    }

    #[test]
    fn speaker_in_another_language_is_listed() {
        let en = "we need to send the revised proposal to the customer before the end of the week and then we will schedule a call with their procurement team to discuss the contract terms and the price";
        let de = "wir müssen dem Kunden das überarbeitete Angebot bis Ende der Woche schicken und dann vereinbaren wir einen Termin mit dem Einkauf, um die Vertragsbedingungen und den Preis zu besprechen";
        let r = detect(&conv(
            None,
            &[("a", en), ("b", de), ("a", en), ("b", de), ("a", en)],
        ));
        assert_eq!(r.code.as_deref(), Some("en"));
        assert_eq!(r.speakers.len(), 1);
        assert_eq!(r.speakers[0].speaker, "b");
        assert_eq!(r.speakers[0].code, "de");
    }

    #[test]
    fn no_text_is_unknown() {
        assert_eq!(
            detect(&conv(None, &[("a", "  ")])).source,
            LanguageSource::Unknown
        );
        assert_eq!(normalise_tag("de_DE").as_deref(), Some("de"));
        assert_eq!(normalise_tag(" "), None);
    }
}
