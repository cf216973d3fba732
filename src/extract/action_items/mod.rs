//! Action-item extraction: native in English, French, German and Spanish (Portuguese,
//! Italian and Dutch with smaller grammars), on clean text and on raw speech transcripts.
//!
//! How it works (details in `docs/action_items.md`):
//! 1. [`tokens`] cuts each segment into lower-cased words with character offsets, dropping
//!    speech fragments and fillers and collapsing repetitions; written text is split into
//!    sentences. A sentence (or a whole unpunctuated speech segment) is a *unit*.
//! 2. [`grammar`](mod@grammar) maps per-language surface cues ("I'll", "je vais", "ich werde", "voy a") to
//!    language-independent [`grammar::Cue`]s and action verbs to call/email/meeting/task.
//! 3. [`features`] turns cues and context (neighbouring units, speaker changes) into hashed
//!    binary features, the same in every language; [`model`] scores them with a logistic
//!    regression trained by `debrief train action-items` (weights in `models/`, embedded).
//! 4. Units at or above the model's threshold become items; [`owner`] decides the owner and
//!    state, [`due`] resolves due dates, and the confidence is the calibrated probability.
//!
//! Pure: no IO, no clock; the only global is the embedded model, parsed once.

pub mod due;
pub mod features;
pub mod grammar;
pub mod merge;
pub mod model;
pub mod owner;
pub mod tokens;

use crate::insight::{ActionItem, ActionStatus, ActionType, Evidence};
use crate::model::Conversation;
use chrono::{DateTime, FixedOffset};
use features::{featurize, ConvFeatures, Scratch, CORE};
use grammar::{grammar, Cue};
use model::{ModelFile, Style};
use tokens::{tokenize, Tokens};

/// Longest item text, in characters; longer texts are cut at a word boundary with "…".
pub const MAX_TEXT_CHARS: usize = 200;

/// The language an extraction runs in: a supported code, or English.
pub fn effective_language(lang: &str) -> &'static str {
    let l = lang.trim().to_ascii_lowercase();
    let l = l.split(['-', '_']).next().unwrap_or("");
    match l {
        "fr" => "fr",
        "de" => "de",
        "es" => "es",
        "pt" => "pt",
        "it" => "it",
        "nl" => "nl",
        _ => "en",
    }
}

/// Units, features and margins of a conversation under `models`.
pub fn score(
    conv: &Conversation,
    lang: &str,
    models: &ModelFile,
) -> (ConvFeatures, Vec<f32>, Style) {
    let lang = effective_language(lang);
    let m = &models.model;
    let mut scratch = Scratch::default();
    let f = featurize(conv, lang, &mut scratch);
    let margins = (0..f.units.len())
        .map(|i| m.margin(f.unit_feats(i)))
        .collect();
    let style = if f.document {
        Style::Document
    } else {
        Style::Conversation
    };
    (f, margins, style)
}

/// Extracts action items from a conversation in language `lang` (ISO 639-1; unsupported
/// languages use the English grammar). `reference` is the conversation start used to resolve
/// relative due dates (`None`: only dates with a year are resolved); `time_zone` is an IANA
/// zone name (an unknown zone falls back to the reference's UTC offset).
///
/// Items are in evidence order (segment, then character). Evidence spans are in Unicode scalar
/// values of the segment text.
pub fn extract(
    conv: &Conversation,
    lang: &str,
    reference: Option<DateTime<FixedOffset>>,
    time_zone: &str,
) -> Vec<ActionItem> {
    match model::shipped() {
        Some(m) => extract_with(conv, lang, reference, time_zone, m),
        None => Vec::new(),
    }
}

/// [`extract`] with an explicit model (used by evaluation and cross-validation).
pub fn extract_with(
    conv: &Conversation,
    lang: &str,
    reference: Option<DateTime<FixedOffset>>,
    time_zone: &str,
    models: &ModelFile,
) -> Vec<ActionItem> {
    let lang = effective_language(lang);
    let (f, margins, style) = score(conv, lang, models);
    let op = models.model.operating(style);
    let mut names: Option<Vec<(String, String)>> = None;
    let g = grammar(lang);
    let mut toks = Tokens::default();
    let mut items: Vec<(usize, merge::Candidate)> = Vec::new();
    for (i, u) in f.units.iter().enumerate() {
        if margins[i] < op.threshold {
            continue;
        }
        let seg = &conv.segments[u.segment];
        tokenize(&seg.text, lang, &mut toks);
        let in_unit: Vec<usize> = (0..toks.len())
            .filter(|&k| toks.list[k].start >= u.start_char && toks.list[k].end <= u.end_char)
            .collect();
        let words: Vec<&str> = in_unit.iter().map(|&k| toks.word(k)).collect();
        let names = names.get_or_insert_with(|| owner::speaker_names(conv));
        let (owner, state) = owner::owner_and_state(&f, i, &words, names);
        let action_type = in_unit
            .iter()
            .filter(|&&k| toks.list[k].start >= u.anchor_char)
            .find_map(|&k| g.verb(toks.list[k].hash))
            .or(u.verb)
            .map(|k| k.action_type())
            .unwrap_or(ActionType::Task);
        let due = due::find(&seg.text, &toks, &in_unit, lang, reference, time_zone);
        let (start, end) = item_span(&seg.text, &toks, &in_unit, u);
        let text = seg
            .text
            .chars()
            .skip(start as usize)
            .take((end - start) as usize)
            .collect();
        let confidence = (op.confidence(margins[i]) * 1000.0).round() / 1000.0;
        let evidence = Evidence {
            segment_id: seg.id.clone(),
            start_char: i64::from(start),
            end_char: i64::from(end),
        };
        // A speech unit that continues the previous item of the same speaker is merged.
        if let Some((
            pi,
            merge::Candidate {
                item: prev,
                last_unit,
                ..
            },
        )) = items.last_mut()
        {
            let pu = &f.units[*pi];
            if !f.written
                && !f.document
                && *pi + 1 == i
                && pu.speaker == u.speaker
                && u.cues & CORE == 0
            {
                prev.evidence.push(evidence);
                if prev.due.is_none() {
                    prev.due = due;
                }
                prev.confidence = prev.confidence.max(confidence);
                *pi = i;
                *last_unit = i;
                continue;
            }
        }
        items.push((
            i,
            merge::Candidate {
                first_unit: i,
                last_unit: i,
                item: ActionItem {
                    text,
                    evidence: vec![evidence],
                    owner,
                    due,
                    action_type,
                    state,
                    confidence,
                    language: lang.to_string(),
                    status: ActionStatus::default(),
                },
            },
        ));
    }
    merge::merge(&f, conv, items.into_iter().map(|(_, c)| c).collect())
}

/// The item's span in the segment, in Unicode scalar values: from the first word at or
/// after the action cue (the whole unit when fewer than two words follow it) to the unit's
/// last word, with the sentence's closing punctuation. Fillers and fragments at either end
/// are left out; inside, the words stay exactly as spoken. Spans longer than
/// [`MAX_TEXT_CHARS`] end at the last word that fits.
fn item_span(text: &str, toks: &Tokens, in_unit: &[usize], u: &features::Unit) -> (u32, u32) {
    let from: Vec<usize> = in_unit
        .iter()
        .copied()
        .filter(|&k| toks.list[k].start >= u.anchor_char)
        .collect();
    let list = if from.len() >= 2 { &from[..] } else { in_unit };
    let (Some(&first), Some(&last)) = (list.first(), list.last()) else {
        return (u.start_char, u.start_char.max(u.end_char));
    };
    let start = toks.list[first].start;
    let limit = start + MAX_TEXT_CHARS as u32;
    let mut end = toks.list[last].end;
    if end > limit {
        end = list
            .iter()
            .map(|&k| toks.list[k].end)
            .filter(|&e| e <= limit)
            .max()
            .unwrap_or(limit);
        return (start, end);
    }
    // French puts a (narrow) space before "?" and "!": it belongs to the punctuation.
    let mut after = text.chars().skip(end as usize).peekable();
    let spaces = std::iter::from_fn(|| after.next_if(|c| matches!(c, ' ' | '\u{a0}' | '\u{202f}')))
        .count() as u32;
    let punct = after
        .take_while(|c| matches!(c, '.' | '?' | '!' | '…' | '"' | '»' | '”' | ')'))
        .count() as u32;
    let closing = if punct > 0 { spaces + punct } else { 0 };
    (start, end + closing)
}

/// Whether a unit has the cue (used by tests and docs).
pub fn unit_has(f: &ConvFeatures, i: usize, c: Cue) -> bool {
    f.units.get(i).is_some_and(|u| u.has(c))
}

#[cfg(test)]
mod tests;
