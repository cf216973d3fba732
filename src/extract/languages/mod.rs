//! Everything language-specific, one module per language: the action-item cue grammar
//! (`SOURCE`), the due-date words (`DUE`), the question words and the backchannels. To add a
//! language, add its module here and to [`LANGUAGES`]; language detection
//! (`crate::extract::language`), the trackers' stemmer (`crate::extract::trackers`) and a few
//! verb-form rules of the cue grammar (`crate::extract::action_items::grammar`) name their
//! languages where they are used.

use crate::extract::action_items::due::DueWords;
use crate::extract::action_items::grammar::GrammarSource;

pub mod de;
pub mod en;
pub mod es;
pub mod fr;
pub mod it;
pub mod nl;
pub mod pt;

/// One language's word lists and grammar.
pub struct Language {
    /// ISO 639-1 code.
    pub code: &'static str,
    /// The action-item cue grammar.
    pub cues: &'static GrammarSource,
    /// The due-date words.
    pub(crate) due: &'static DueWords,
    /// Words that open a question (lower case), for transcripts without punctuation.
    pub question_words: &'static [&'static str],
    /// Backchannel words and two-word phrases (lower case, no punctuation).
    pub backchannels: &'static [&'static str],
}

/// How many languages have their own lists.
pub const COUNT: usize = 7;

/// Every language with its own lists, English first (the fallback).
pub static LANGUAGES: [&Language; COUNT] = [
    &en::LANGUAGE,
    &fr::LANGUAGE,
    &de::LANGUAGE,
    &es::LANGUAGE,
    &pt::LANGUAGE,
    &it::LANGUAGE,
    &nl::LANGUAGE,
];

/// The position of `code` in [`LANGUAGES`]; `None` for a language without its own lists.
pub fn position(code: &str) -> Option<usize> {
    LANGUAGES.iter().position(|l| l.code == code)
}

/// The lists of `code`, English for a language without its own.
pub fn get(code: &str) -> &'static Language {
    LANGUAGES[position(code).unwrap_or(0)]
}
