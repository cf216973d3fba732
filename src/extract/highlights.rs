//! Highlights: the 3 to 7 key moments of a conversation, extractive and deterministic.
//!
//! Candidates are the sentences of every segment (a whole unpunctuated segment is one
//! sentence) with 6 to 60 words. Each gets a *salience*: the sum over its distinct content
//! words (not in the language's stop list, at least three letters) of `ln(1 + tf)`, `tf` the
//! word's count in the whole conversation (longer sentences carry more; the 60-word cap
//! bounds them; dividing by the length or its square root scored lower against minutes and
//! reports, see `docs/action_items.md`). Sentences with a key-moment cue (an action item's sentence, a decision, prices,
//! dates, an objection: [`HighlightKind`]) get 50 % more. The conversation is cut into as
//! many equal stretches of text as highlights wanted (3 to 7: one per 3,000 characters)
//! and the best sentence of each stretch is kept, so that the highlights follow the
//! conversation from start to end the way minutes do. Ties go to the earlier sentence.
//! The text is exactly the sentence as said, with its character span and speaker.

use crate::extract::text;
use crate::insight::{ActionItem, Highlight, HighlightKind};
use crate::model::Conversation;
use std::collections::HashMap;

/// Fewest highlights.
pub const MIN_HIGHLIGHTS: usize = 3;
/// Most highlights.
pub const MAX_HIGHLIGHTS: usize = 7;
/// Characters of conversation per highlight.
pub const CHARS_PER_HIGHLIGHT: usize = 3000;

/// A candidate sentence.
#[derive(Debug, Clone)]
pub struct Sentence {
    /// Index of the segment.
    pub segment: usize,
    /// Character span in the segment text.
    pub start: usize,
    /// End of the span (exclusive).
    pub end: usize,
    /// Characters of conversation text before the sentence (its position).
    pub position: usize,
    /// Lower-case content words, in order.
    pub words: Vec<String>,
    /// All words of the sentence.
    pub length: usize,
}

/// How many highlights a conversation of `chars` characters gets.
pub fn count_for(chars: usize) -> usize {
    (chars / CHARS_PER_HIGHLIGHT).clamp(MIN_HIGHLIGHTS, MAX_HIGHLIGHTS)
}

/// Candidate sentences of a conversation (6 to 60 words), in conversation order.
pub fn sentences(conv: &Conversation, lang: &str) -> Vec<Sentence> {
    let stop = stop_words(lang);
    let mut out = Vec::new();
    let mut position = 0;
    for (i, seg) in conv.segments.iter().enumerate() {
        for s in text::sentences(&seg.text) {
            let byte = s.as_ptr() as usize - seg.text.as_ptr() as usize;
            let start = seg.text[..byte].chars().count();
            let end = start + s.chars().count();
            let all: Vec<String> = text::words(s)
                .map(|w| {
                    w.trim_matches(|c: char| !c.is_alphanumeric())
                        .to_lowercase()
                })
                .filter(|w| !w.is_empty())
                .collect();
            let length = all.len();
            if (6..=60).contains(&length) {
                let words = all
                    .into_iter()
                    .filter(|w| w.chars().count() >= 3 && !stop.contains(&w.as_str()))
                    .collect();
                out.push(Sentence {
                    segment: i,
                    start,
                    end,
                    position: position + start,
                    words,
                    length,
                });
            }
        }
        position += seg.text.chars().count() + 1;
    }
    out
}

/// The salience of each sentence (see the module documentation), without cue bonus.
pub fn salience(sents: &[Sentence]) -> Vec<f64> {
    let mut tf: HashMap<&str, u32> = HashMap::new();
    for s in sents {
        for w in &s.words {
            *tf.entry(w.as_str()).or_default() += 1;
        }
    }
    sents
        .iter()
        .map(|s| {
            let mut seen: Vec<&str> = s.words.iter().map(String::as_str).collect();
            seen.sort_unstable();
            seen.dedup();
            let sum: f64 = seen
                .iter()
                .map(|w| f64::from(1 + tf.get(w).copied().unwrap_or(0)).ln())
                .sum();
            sum
        })
        .collect()
}

/// Selects `n` sentences: the best-scoring one in each of `n` equal stretches of the
/// conversation (by character position); a stretch without a candidate gives nothing.
/// Returns sentence indices in conversation order.
pub fn by_stretch(sents: &[Sentence], scores: &[f64], total_chars: usize, n: usize) -> Vec<usize> {
    if n == 0 || sents.is_empty() {
        return Vec::new();
    }
    let stretch = total_chars.max(1).div_ceil(n);
    let mut best: Vec<Option<usize>> = vec![None; n];
    for (i, s) in sents.iter().enumerate() {
        let b = (s.position / stretch).min(n - 1);
        if best[b].is_none_or(|j| scores[i] > scores[j]) {
            best[b] = Some(i);
        }
    }
    best.into_iter().flatten().collect()
}

/// The key-moment cue of a sentence, if any.
fn kind_of(text: &str, lang: &str, in_item: bool) -> HighlightKind {
    if in_item {
        return HighlightKind::Commitment;
    }
    let lower = text.to_lowercase();
    let has = |list: &[&str]| list.iter().any(|w| lower.contains(w));
    let (decision, pricing, timeline, objection) = cues(lang);
    if has(decision) {
        HighlightKind::Decision
    } else if has(pricing) || lower.contains(['€', '$', '£', '%']) {
        HighlightKind::Pricing
    } else if has(timeline) {
        HighlightKind::Timeline
    } else if has(objection) {
        HighlightKind::Objection
    } else {
        HighlightKind::Other
    }
}

/// The highlights of a conversation in language `lang`; `items` are its action items
/// (their sentences are commitments).
pub fn extract(conv: &Conversation, lang: &str, items: &[ActionItem]) -> Vec<Highlight> {
    let sents = sentences(conv, lang);
    let mut scores = salience(&sents);
    let kinds: Vec<HighlightKind> = sents
        .iter()
        .map(|s| {
            let seg = &conv.segments[s.segment];
            let in_item = items.iter().any(|it| {
                it.evidence.iter().any(|e| {
                    e.segment_id == seg.id
                        && (e.start_char as usize) < s.end
                        && s.start < e.end_char as usize
                })
            });
            let text: String = seg
                .text
                .chars()
                .skip(s.start)
                .take(s.end - s.start)
                .collect();
            kind_of(&text, lang, in_item)
        })
        .collect();
    for (sc, k) in scores.iter_mut().zip(&kinds) {
        if *k != HighlightKind::Other {
            *sc *= 1.5;
        }
    }
    let n = count_for(conv.text_chars());
    by_stretch(&sents, &scores, conv.text_chars(), n)
        .into_iter()
        .map(|i| {
            let s = &sents[i];
            let seg = &conv.segments[s.segment];
            Highlight {
                text: seg
                    .text
                    .chars()
                    .skip(s.start)
                    .take(s.end - s.start)
                    .collect(),
                kind: kinds[i],
                speaker: seg.speaker.clone(),
                segment_id: seg.id.clone(),
                start_char: s.start as i64,
                end_char: s.end as i64,
                offset_ms: seg.start_ms,
            }
        })
        .collect()
}

type CueLists = (
    &'static [&'static str],
    &'static [&'static str],
    &'static [&'static str],
    &'static [&'static str],
);

/// Decision, pricing, timeline and objection cues (lower case, substrings) per language.
fn cues(lang: &str) -> CueLists {
    match lang {
        "fr" => (
            &[
                "décidé",
                "décision",
                "convenu",
                "validé",
                "on part sur",
                "nous avons choisi",
            ],
            &[
                "prix", "coût", "budget", "remise", "tarif", "euros", "devis", "facture",
            ],
            &[
                "échéance",
                "délai",
                "semaine prochaine",
                "d'ici",
                "calendrier",
                "date limite",
            ],
            &[
                "problème",
                "inquiet",
                "risque",
                "trop cher",
                "difficulté",
                "pas convaincu",
            ],
        ),
        "de" => (
            &[
                "entschieden",
                "entscheidung",
                "vereinbart",
                "beschlossen",
                "einigen uns",
            ],
            &[
                "preis", "kosten", "budget", "rabatt", "angebot", "euro", "rechnung",
            ],
            &[
                "frist",
                "termin",
                "nächste woche",
                "bis ende",
                "zeitplan",
                "deadline",
            ],
            &["problem", "bedenken", "zu teuer", "risiko", "schwierig"],
        ),
        "es" => (
            &["decidido", "decisión", "acordado", "acordamos", "vamos con"],
            &[
                "precio",
                "coste",
                "costo",
                "presupuesto",
                "descuento",
                "euros",
                "factura",
            ],
            &[
                "plazo",
                "semana que viene",
                "próxima semana",
                "calendario",
                "fecha límite",
            ],
            &[
                "problema",
                "preocupa",
                "riesgo",
                "demasiado caro",
                "difícil",
            ],
        ),
        "it" => (
            &["deciso", "decisione", "concordato", "abbiamo scelto"],
            &[
                "prezzo",
                "costo",
                "budget",
                "sconto",
                "preventivo",
                "euro",
                "fattura",
            ],
            &["scadenza", "settimana prossima", "entro", "calendario"],
            &[
                "problema",
                "preoccup",
                "rischio",
                "troppo caro",
                "difficile",
            ],
        ),
        "nl" => (
            &["besloten", "beslissing", "afgesproken", "overeengekomen"],
            &[
                "prijs", "kosten", "budget", "korting", "offerte", "euro", "factuur",
            ],
            &["deadline", "volgende week", "uiterlijk", "planning"],
            &["probleem", "zorgen", "risico", "te duur", "moeilijk"],
        ),
        "pt" => (
            &["decidido", "decisão", "acordado", "combinado"],
            &["preço", "custo", "orçamento", "desconto", "euros", "fatura"],
            &["prazo", "próxima semana", "até", "calendário"],
            &["problema", "preocup", "risco", "muito caro", "difícil"],
        ),
        _ => (
            &[
                "decided",
                "decision",
                "agreed",
                "we'll go with",
                "let's go with",
                "conclusion",
            ],
            &[
                "price", "pricing", "cost", "budget", "discount", "quote", "invoice", "dollars",
                "euros",
            ],
            &[
                "deadline",
                "next week",
                "by friday",
                "by monday",
                "schedule",
                "timeline",
                "due",
            ],
            &[
                "problem",
                "concern",
                "worried",
                "risk",
                "too expensive",
                "issue",
            ],
        ),
    }
}

/// Short stop lists (function words) per language; other languages use English.
pub fn stop_words(lang: &str) -> &'static [&'static str] {
    match lang {
        "fr" => &[
            "les", "des", "une", "est", "que", "qui", "pas", "pour", "dans", "sur", "avec", "par",
            "mais", "ont", "sont", "nous", "vous", "ils", "elle", "elles", "ça", "cela", "donc",
            "alors", "aussi", "tout", "tous", "très", "bien", "fait", "faire", "être", "avoir",
            "été", "mon", "ton", "son", "ses", "nos", "vos", "leur", "leurs", "cette", "ces",
            "aux", "ainsi", "comme", "plus", "moins", "peut", "faut", "oui", "non", "euh", "voilà",
            "parce", "quand", "même", "encore", "déjà", "après", "avant", "entre", "où", "dont",
            "quoi", "c'est", "qu'il", "qu'on", "j'ai", "il", "on", "je", "va", "vais", "avons",
            "avez", "était", "sera", "peu", "là", "ici", "chose", "choses",
        ],
        "de" => &[
            "der", "die", "das", "und", "ist", "nicht", "ein", "eine", "einen", "dem", "den",
            "des", "mit", "auf", "für", "von", "sich", "auch", "wir", "sie", "ihr", "ich", "aber",
            "noch", "wie", "was", "wenn", "dass", "oder", "nur", "schon", "dann", "sind", "hat",
            "haben", "wird", "werden", "bei", "aus", "zum", "zur", "also", "sehr", "mal", "ja",
            "nein", "gut", "doch", "hier", "jetzt",
        ],
        "es" => &[
            "que", "los", "las", "del", "una", "por", "con", "para", "como", "pero", "más", "sus",
            "este", "esta", "eso", "esto", "ese", "esa", "muy", "también", "porque", "cuando",
            "donde", "hay", "ser", "estar", "tiene", "han", "son", "está", "sí", "no", "nos",
            "les", "todo", "todos", "bien", "entonces", "pues",
        ],
        _ => &[
            "the", "and", "that", "this", "with", "for", "are", "was", "were", "you", "your",
            "they", "them", "their", "have", "has", "had", "but", "not", "what", "which", "who",
            "there", "here", "would", "could", "should", "will", "can", "just", "about", "from",
            "into", "out", "all", "any", "some", "one", "also", "then", "than", "very", "really",
            "yeah", "yes", "okay", "well", "like", "know", "think", "mean", "going", "get", "got",
            "because", "actually", "maybe", "our", "ours", "his", "her", "she", "him", "its",
            "it's", "i'm", "don't", "that's", "we're", "so", "now", "how", "when", "where", "why",
            "been", "being", "does", "did", "doing", "more", "much", "many", "these", "those",
            "thing", "things", "let's", "okay", "uh", "um", "ehm", "hmm",
        ],
    }
}

#[cfg(test)]
mod tests;
