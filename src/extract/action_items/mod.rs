//! Action-item extraction (stub: owned by the action-items work).

use crate::insight::ActionItem;
use crate::model::Conversation;
use chrono::{DateTime, FixedOffset};

/// Extracts action items from a conversation in language `lang` (ISO 639-1). `reference` is
/// the conversation start used to resolve relative due dates, `time_zone` an IANA zone name.
pub fn extract(
    _conv: &Conversation,
    _lang: &str,
    _reference: Option<DateTime<FixedOffset>>,
    _time_zone: &str,
) -> Vec<ActionItem> {
    Vec::new()
}
