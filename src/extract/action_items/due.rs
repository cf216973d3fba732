//! Due dates (stub while the resolver is written).
use super::tokens::Tokens;
use crate::insight::Due;
use chrono::{DateTime, FixedOffset};

/// Finds and resolves the first due-date phrase among the unit's tokens.
pub fn find(
    _text: &str,
    _toks: &Tokens,
    _in_unit: &[usize],
    _lang: &str,
    _reference: Option<DateTime<FixedOffset>>,
    _time_zone: &str,
) -> Option<Due> {
    None
}
