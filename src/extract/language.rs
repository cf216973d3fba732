//! Language of a conversation: given by the publisher, or detected with `whatlang` over a
//! bounded, evenly spread sample of the text (so cost does not grow with meeting length), and
//! per speaker where speakers use different languages.

use crate::insight::{LanguageReport, LanguageSource, SpeakerLanguage};
use crate::model::Conversation;
use std::collections::BTreeMap;
use std::sync::OnceLock;
use whatlang::{Detector, Lang};

/// At most this many bytes of text are sampled for the conversation language.
pub const SAMPLE_BYTES: usize = 8_192;
/// At most this many bytes per speaker are sampled for per-speaker languages.
pub const SPEAKER_SAMPLE_BYTES: usize = 2_048;
/// Speakers with fewer bytes of text than this are not checked on their own.
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
    let primary = tag.trim().split(['-', '_']).next().unwrap_or("").to_ascii_lowercase();
    (!primary.is_empty()).then_some(primary)
}

/// A report saying the language is unknown.
pub fn unknown() -> LanguageReport {
    LanguageReport { code: None, confidence: 0.0, source: LanguageSource::Unknown, speakers: Vec::new() }
}

/// Texts are detected in chunks of about this many bytes, and the chunks vote.
pub const CHUNK_BYTES: usize = 150;

/// Chunks of up to about [`CHUNK_BYTES`] bytes made of whole texts, at most `budget` bytes in
/// all, taken evenly over the list so the sample covers the whole conversation.
fn chunks(texts: &[&str], budget: usize) -> Vec<String> {
    let total: usize = texts.iter().map(|t| t.len() + 1).sum();
    let step = total.div_ceil(budget.max(1)).max(1);
    let mut out = Vec::new();
    let mut current = String::new();
    let mut used = 0;
    for t in texts.iter().step_by(step) {
        if used + t.len() + 1 > budget && used > 0 {
            break;
        }
        used += t.len() + 1;
        current.push_str(t);
        current.push(' ');
        if current.len() >= CHUNK_BYTES {
            out.push(std::mem::take(&mut current));
        }
    }
    if !current.trim().is_empty() {
        out.push(current);
    }
    out
}

/// Detects each chunk and lets them vote with weight `bytes × confidence`. Returns the winner
/// and its weight over the bytes of all chunks (so both disagreement and uncertainty lower it).
fn detect_texts(texts: &[&str], budget: usize) -> Option<(&'static str, f64)> {
    let mut votes: Vec<(&'static str, f64)> = Vec::new();
    let mut total = 0.0;
    for chunk in chunks(texts, budget) {
        let bytes = chunk.len() as f64;
        total += bytes;
        if let Some(info) = detector().detect(&chunk) {
            if let Some(code) = iso639_1(info.lang()) {
                let w = bytes * info.confidence();
                match votes.iter_mut().find(|(c, _)| *c == code) {
                    Some(v) => v.1 += w,
                    None => votes.push((code, w)),
                }
            }
        }
    }
    // Highest weight wins; ties go to the language listed first in LANGS (deterministic).
    let rank = |c: &str| LANGS.iter().position(|(_, x)| *x == c).unwrap_or(usize::MAX);
    let (code, w) = votes
        .into_iter()
        .max_by(|a, b| a.1.total_cmp(&b.1).then_with(|| rank(b.0).cmp(&rank(a.0))))?;
    (total > 0.0 && w > 0.0).then(|| (code, ((w / total) * 10_000.0).round() / 10_000.0))
}

/// The conversation's language: the publisher's (conversation, else the segments' when they
/// all agree) wins with confidence 1.0; otherwise detected. Per-speaker languages are listed
/// only when a speaker with enough text is reliably detected in another language.
pub fn detect(conv: &Conversation) -> LanguageReport {
    let given = conv.language.as_deref().and_then(normalise_tag).or_else(|| {
        let mut tags = conv.segments.iter().map(|s| s.language.as_deref().and_then(normalise_tag));
        let first = tags.next()??;
        tags.all(|t| t.as_deref() == Some(first.as_str())).then_some(first)
    });
    let texts: Vec<&str> = conv.segments.iter().map(|s| s.text.as_str()).filter(|t| !t.trim().is_empty()).collect();
    let mut report = match given {
        Some(code) => LanguageReport { code: Some(code), confidence: 1.0, source: LanguageSource::Given, speakers: Vec::new() },
        None => match detect_texts(&texts, SAMPLE_BYTES) {
            Some((code, conf)) => LanguageReport {
                code: Some(code.to_string()),
                confidence: conf,
                source: LanguageSource::Detected,
                speakers: Vec::new(),
            },
            None => unknown(),
        },
    };
    let mut by_speaker: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for s in &conv.segments {
        if !s.text.trim().is_empty() {
            by_speaker.entry(s.speaker.as_str()).or_default().push(s.text.as_str());
        }
    }
    if by_speaker.len() > 1 {
        for (speaker, texts) in by_speaker {
            if texts.iter().map(|t| t.len()).sum::<usize>() < SPEAKER_MIN_BYTES {
                continue;
            }
            if let Some((code, conf)) = detect_texts(&texts, SPEAKER_SAMPLE_BYTES) {
                if conf >= SPEAKER_MIN_CONFIDENCE && report.code.as_deref() != Some(code) {
                    report.speakers.push(SpeakerLanguage {
                        speaker: speaker.to_string(),
                        code: code.to_string(),
                        confidence: conf,
                    });
                }
            }
        }
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
                .map(|(i, (sp, t))| Segment { id: i.to_string(), speaker: sp.to_string(), text: t.to_string(), ..Segment::default() })
                .collect(),
            ..Conversation::default()
        }
    }

    #[test]
    fn given_language_wins() {
        let r = detect(&conv(Some("fr-FR"), &[("a", "this is clearly an english sentence about prices")]));
        assert_eq!(r.code.as_deref(), Some("fr"));
        assert_eq!(r.source, LanguageSource::Given);
        assert_eq!(r.confidence, 1.0);
    }

    #[test]
    fn detects_each_language() {
        for (code, text) in [
            ("en", "we need to send the revised proposal to the customer before the end of the week"),
            ("fr", "nous devons envoyer la proposition révisée au client avant la fin de la semaine"),
            ("de", "wir müssen dem Kunden das überarbeitete Angebot bis Ende der Woche schicken"),
            ("es", "tenemos que enviar la propuesta revisada al cliente antes del final de la semana"),
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
        let r = detect(&conv(None, &[("a", en), ("b", de), ("a", en), ("b", de), ("a", en)]));
        assert_eq!(r.code.as_deref(), Some("en"));
        assert_eq!(r.speakers.len(), 1);
        assert_eq!(r.speakers[0].speaker, "b");
        assert_eq!(r.speakers[0].code, "de");
    }

    #[test]
    fn no_text_is_unknown() {
        assert_eq!(detect(&conv(None, &[("a", "  ")])).source, LanguageSource::Unknown);
        assert_eq!(normalise_tag("de_DE").as_deref(), Some("de"));
        assert_eq!(normalise_tag(" "), None);
    }
}
