//! Phone numbers said digit by digit in words ("zero six one two...", "null eins fünf...",
//! "zéro six un deux..."), in en, fr, de, es, it, nl and pt: a run of at least seven digits
//! said as digit words or short digit groups, optionally after "plus" / "double".

use super::{Finding, PiiType};

/// Fewest digits in a spoken run for it to be a phone number.
const MIN_DIGITS: usize = 7;
/// Fewest digits said as words in the run (written groups alone are for [`super::detect`]).
const MIN_WORDS: usize = 3;

/// How many digits a word says (0 when it is not a digit word).
pub(super) fn digit_word(w: &str) -> usize {
    match w {
        // en
        "zero" | "oh" | "one" | "two" | "three" | "four" | "five" | "six" | "seven" | "eight"
        | "nine"
        // fr
        | "zéro" | "un" | "deux" | "trois" | "quatre" | "cinq" | "sept" | "huit" | "neuf"
        // de
        | "null" | "eins" | "zwei" | "zwo" | "drei" | "vier" | "fünf" | "sechs" | "sieben"
        | "acht" | "neun"
        // es
        | "cero" | "uno" | "dos" | "tres" | "cuatro" | "cinco" | "seis" | "siete" | "ocho"
        | "nueve"
        // it
        | "due" | "tre" | "quattro" | "cinque" | "sei" | "sette" | "otto" | "nove"
        // nl
        | "nul" | "een" | "één" | "twee" | "drie" | "vijf" | "zes" | "zeven" | "negen"
        // pt
        | "um" | "dois" | "três" | "quatro" | "sete" | "oito" => 1,
        _ if w.len() <= 4 && w.bytes().all(|b| b.is_ascii_digit()) => w.len(),
        _ => 0,
    }
}

/// Words that may sit inside a spoken number without ending it.
fn joiner(w: &str) -> bool {
    matches!(
        w,
        "double" | "triple" | "doppel" | "doppio" | "doble" | "dubbel" | "duplo" | "plus"
    )
}

/// Adds spoken phone numbers of `text` to `out` (skipping any that overlap a finding).
pub fn find(text: &str, out: &mut Vec<Finding>) {
    let mut run_start: Option<usize> = None;
    let mut run_end = 0;
    let mut count = 0;
    let mut said = 0;
    let flush =
        |start: Option<usize>, end: usize, count: usize, said: usize, out: &mut Vec<Finding>| {
            if let Some(s) = start {
                if count >= MIN_DIGITS && said >= MIN_WORDS {
                    super::detect_push(out, Finding::new(s, end, PiiType::Phone));
                }
            }
        };
    let mut lower = String::new();
    for (start, word) in words(text) {
        // Every digit word has at most 7 letters ("quattro"), 8 bytes in UTF-8.
        if word.len() > 8 {
            flush(run_start, run_end, count, said, out);
            run_start = None;
            count = 0;
            said = 0;
            continue;
        }
        lower.clear();
        lower.extend(word.chars().flat_map(char::to_lowercase));
        let n = digit_word(&lower);
        if n > 0 {
            run_start.get_or_insert(start);
            run_end = start + word.len();
            count += n;
            if !lower.starts_with(|c: char| c.is_ascii_digit()) {
                said += 1;
            }
        } else if joiner(&lower) && (run_start.is_some() || lower == "plus") {
            run_start.get_or_insert(start);
        } else {
            flush(run_start, run_end, count, said, out);
            run_start = None;
            count = 0;
            said = 0;
        }
    }
    flush(run_start, run_end, count, said, out);
}

/// Words (runs of letters and digits) with their byte offsets; punctuation other than a
/// hyphen or a comma ends a spoken number by giving no word between.
fn words(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    for (i, c) in text.char_indices() {
        if c.is_alphanumeric() {
            start.get_or_insert(i);
        } else {
            if let Some(s) = start.take() {
                out.push((s, &text[s..i]));
            }
            if matches!(c, '.' | '?' | '!' | ';' | ':') {
                out.push((i, ""));
            }
        }
    }
    if let Some(s) = start {
        out.push((s, &text[s..]));
    }
    out.into_iter()
}
