//! Language detection (stub).
use crate::insight::{LanguageReport, LanguageSource};
use crate::model::Conversation;

/// A report saying the language is unknown.
pub fn unknown() -> LanguageReport {
    LanguageReport { code: None, confidence: 0.0, source: LanguageSource::Unknown, speakers: Vec::new() }
}

/// Detects the conversation language.
pub fn detect(_conv: &Conversation) -> LanguageReport {
    unknown()
}
