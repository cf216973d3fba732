//! Text helpers shared by the KPI extractors: word tokens, sentences, questions and
//! backchannels, with the per-language word lists they need.

use std::borrow::Cow;

/// A word is a whitespace-separated token containing at least one letter or digit.
pub fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split_whitespace().filter(|t| is_word(t))
}

/// `true` when the token contains a letter or digit (ASCII fast path first).
fn is_word(t: &str) -> bool {
    t.bytes().any(|b| b.is_ascii_alphanumeric())
        || (!t.is_ascii() && t.chars().any(char::is_alphanumeric))
}

/// Number of words in `text` (see [`words`]).
pub fn word_count(text: &str) -> usize {
    words(text).count()
}

/// `true` when the text contains sentence punctuation (`.`, `?`, `!`, `¿`, `¡`, `…`).
pub fn has_punctuation(text: &str) -> bool {
    text.contains(['.', '?', '!', '¿', '¡', '…'])
}

/// Splits text into sentences, each ending after a run of `.`, `?`, `!` or `…` (the
/// terminator is kept) or at the end of the text. Sentences are trimmed; empty ones dropped.
pub fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if matches!(c, '.' | '?' | '!' | '…') {
            // Extend over a run of terminators ("?!", "...").
            let mut end = i + c.len_utf8();
            while let Some(&(j, d)) = chars.peek() {
                if matches!(d, '.' | '?' | '!' | '…') {
                    end = j + d.len_utf8();
                    chars.next();
                } else {
                    break;
                }
            }
            // A terminator glued to a letter or digit on both sides ("3.5", "e.g") is not a
            // sentence end.
            let next_alnum = text[end..]
                .chars()
                .next()
                .is_some_and(char::is_alphanumeric);
            if !next_alnum {
                let s = text[start..end].trim();
                if s.chars().any(char::is_alphanumeric) {
                    out.push(s);
                }
                start = end;
            }
        }
    }
    let s = text[start..].trim();
    if s.chars().any(char::is_alphanumeric) {
        out.push(s);
    }
    out
}

/// Words that open a question, per ISO 639-1 language (lower case). Used only for transcripts
/// with no punctuation at all. Unknown languages use English.
pub fn interrogatives(lang: &str) -> &'static [&'static str] {
    crate::extract::languages::get(lang).question_words
}

/// Lower-cases a token and strips surrounding punctuation; borrows when nothing changes.
fn norm_token(t: &str) -> Cow<'_, str> {
    let t = t
        .trim_matches(|c: char| !c.is_alphanumeric() && c != '\'' && c != '-')
        .trim_matches(['\'', '-']);
    if t.chars().any(char::is_uppercase) {
        Cow::Owned(t.to_lowercase())
    } else {
        Cow::Borrowed(t)
    }
}

/// Questions in a segment's text. With punctuation anywhere in the conversation
/// (`punctuated`), a question is a sentence ending in `?` (or opening with `¿`). Without, the
/// segment is one sentence and is a question when its first word is an interrogative of
/// `lang` (see [`interrogatives`]; "por qué" counts as its first word "por" followed by "qué").
pub fn questions<'a>(text: &'a str, lang: &str, punctuated: bool) -> Vec<&'a str> {
    if punctuated {
        return sentences(text)
            .into_iter()
            .filter(|s| s.trim_end_matches(['!', '.', '…']).ends_with('?') || s.starts_with('¿'))
            .collect();
    }
    let mut ws = words(text);
    let Some(first) = ws.next().map(norm_token) else {
        return Vec::new();
    };
    let second = ws.next().map(norm_token);
    let list = interrogatives(lang);
    // Two-word interrogatives ("por qué"): same length, first word, a space, second word.
    let pair = |second: &str| {
        list.iter().any(|e| {
            e.len() == first.len() + 1 + second.len()
                && e.starts_with(first.as_ref())
                && e.ends_with(second)
                && e.as_bytes()[first.len()] == b' '
        })
    };
    if list.contains(&first.as_ref()) || second.as_deref().is_some_and(pair) {
        vec![text.trim()]
    } else {
        Vec::new()
    }
}

/// Backchannel words said in every language.
const BACKCHANNEL_COMMON: &[&str] = &[
    "ok", "okay", "mhm", "mm", "mmm", "hmm", "hm", "uh-huh", "uhhuh", "mm-hmm", "ah", "oh", "aha",
];

/// Backchannel words and two-word phrases of a language (lower case, no punctuation).
fn backchannel_list(lang: &str) -> &'static [&'static str] {
    crate::extract::languages::get(lang).backchannels
}

/// `true` when the text is a backchannel: at most two words, and either the whole phrase or
/// every word is in the backchannel list of `lang` or in the list common to all languages.
pub fn is_backchannel(text: &str, lang: &str) -> bool {
    let mut ws = words(text);
    let (Some(a), b, None) = (ws.next(), ws.next(), ws.next()) else {
        return false;
    };
    let list = backchannel_list(lang);
    let known = |w: &str| list.contains(&w) || BACKCHANNEL_COMMON.contains(&w);
    let a = norm_token(a);
    match b.map(norm_token) {
        None => known(&a),
        Some(b) => (known(&a) && known(&b)) || known(&format!("{a} {b}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_tokens_need_a_letter_or_digit() {
        assert_eq!(word_count("Hello, world -- 42 ... ?"), 3);
        assert_eq!(word_count(""), 0);
        assert_eq!(word_count("w- we we'll"), 3);
    }

    #[test]
    fn sentence_split_keeps_decimals() {
        assert_eq!(
            sentences("It costs 3.5 euros. Really?! ok"),
            vec!["It costs 3.5 euros.", "Really?!", "ok"]
        );
        assert_eq!(sentences("..."), Vec::<&str>::new());
    }

    #[test]
    fn punctuated_questions() {
        assert_eq!(
            questions("Fine. What is the price? Good.", "en", true),
            vec!["What is the price?"]
        );
        assert_eq!(
            questions("¿Cuánto cuesta", "es", true),
            vec!["¿Cuánto cuesta"]
        );
        assert!(questions("what is the price", "en", true).is_empty());
        assert_eq!(questions("Really?! Yes.", "en", true), vec!["Really?!"]);
    }

    #[test]
    fn unpunctuated_questions_use_interrogatives() {
        assert_eq!(questions("can you send me a new one", "en", false).len(), 1);
        assert!(questions("i lost my card", "en", false).is_empty());
        assert_eq!(questions("où est la salle", "fr", false).len(), 1);
        assert_eq!(questions("wann kommt er", "de", false).len(), 1);
        assert_eq!(questions("por qué no", "es", false).len(), 1);
        assert!(questions("", "en", false).is_empty());
    }

    #[test]
    fn backchannels() {
        assert!(is_backchannel("Yeah.", "en"));
        assert!(is_backchannel("got it", "en"));
        assert!(is_backchannel("ok ok", "fr"));
        assert!(is_backchannel("D'accord !", "fr"));
        assert!(is_backchannel("ja genau", "de"));
        assert!(is_backchannel("vale", "es"));
        assert!(!is_backchannel("yeah that works", "en"));
        assert!(!is_backchannel("send it", "en"));
        assert!(!is_backchannel("", "en"));
    }
}
