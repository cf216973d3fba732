//! Analytics of what representatives do with the suggestions: the aggregation behind
//! `debrief report` (pure: records in, figures out) and the self-contained HTML it writes.
//!
//! Input: enriched interaction telemetry (`InteractionTelemetry` records whose action is a
//! representative's: viewed, accepted, copied, edited_and_sent, discarded, thumbs_up,
//! thumbs_down). The pipeline's own `ran` / `skipped` records are not interactions and are
//! ignored.
//!
//! **Definitions** (also in the report and the README):
//! - a *suggestion* is one item of an insight (action item, tracker hit, question),
//!   identified by its stable `item_id` (a record without one counts as its own suggestion);
//! - its *verdict* is the representative's last decisive action on it, by `recorded_at_ms`:
//!   *positive* for accepted, copied, edited_and_sent, thumbs_up; *negative* for discarded,
//!   thumbs_down; `viewed` alone is no verdict;
//! - a suggestion is *acted upon* when it has a verdict, *accepted* when the verdict is
//!   positive, *discarded* when it is negative;
//! - **acceptance rate** = accepted / acted upon, over the suggestions whose verdict falls in
//!   the period (UTC day, or ISO week for spans over [`DAILY_UP_TO_DAYS`] days);
//! - the *reliability diagram* bins the action items acted upon by their confidence (ten
//!   bins of 0.1); per bin the mean confidence against the acceptance rate; the *expected
//!   calibration error* is Σ_b (n_b / N) · |acceptance_b − mean confidence_b|.
//!
//! Nothing personal reaches the report: conversation and item ids only group records;
//! tenants are summed (or one is chosen by the caller); every label shown (feature, kind,
//! type, language, reason code) is bounded by [`bounded_label`], so free text a front end
//! might put in a reason code is shown as `other`.
//!
//! Charts are drawn with `plotters` (its SVG backend, already in the dependency tree through
//! criterion's reports) into inline `<svg>` elements: the file needs no script and fetches
//! nothing. Why not `charming`: it renders through ECharts, a JavaScript library the page
//! would have to embed (about 1 MB) or fetch; and hand-written SVG would be more code to
//! keep than the plotting calls.

pub mod aggregate;
pub mod calibration;
pub mod charts;
pub mod html;

pub use aggregate::{Aggregator, Summary};

/// Time spans up to this many days are charted per UTC day; longer ones per ISO week.
pub const DAILY_UP_TO_DAYS: i64 = 45;

/// What a representative did with a suggestion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RepAction {
    /// The suggestion was shown.
    Viewed,
    /// Accepted as is.
    Accepted,
    /// Copied (to a mail, a note, the CRM).
    Copied,
    /// Edited, then sent.
    EditedAndSent,
    /// Discarded.
    Discarded,
    /// Thumbs up.
    ThumbsUp,
    /// Thumbs down.
    ThumbsDown,
}

impl RepAction {
    /// The contract's name of the action.
    pub fn name(self) -> &'static str {
        match self {
            RepAction::Viewed => "viewed",
            RepAction::Accepted => "accepted",
            RepAction::Copied => "copied",
            RepAction::EditedAndSent => "edited_and_sent",
            RepAction::Discarded => "discarded",
            RepAction::ThumbsUp => "thumbs_up",
            RepAction::ThumbsDown => "thumbs_down",
        }
    }

    /// Every action, in the report's order.
    pub const ALL: [RepAction; 7] = [
        RepAction::Viewed,
        RepAction::Accepted,
        RepAction::Copied,
        RepAction::EditedAndSent,
        RepAction::Discarded,
        RepAction::ThumbsUp,
        RepAction::ThumbsDown,
    ];

    /// The verdict the action gives: `Some(true)` positive, `Some(false)` negative, `None`
    /// for `viewed`.
    pub fn verdict(self) -> Option<bool> {
        match self {
            RepAction::Viewed => None,
            RepAction::Accepted
            | RepAction::Copied
            | RepAction::EditedAndSent
            | RepAction::ThumbsUp => Some(true),
            RepAction::Discarded | RepAction::ThumbsDown => Some(false),
        }
    }
}

/// One representative interaction, as the report needs it (built from an enriched telemetry
/// record).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Interaction {
    /// Tenant id (only compared with the tenant asked for, never shown).
    pub tenant_id: String,
    /// The suggestion's stable id (groups the records of one suggestion, never shown).
    pub item_id: Option<String>,
    /// Feature (`action_items`, `trackers`, `questions`).
    pub feature: String,
    /// What was done.
    pub action: Option<RepAction>,
    /// `action_item`, `tracker_hit`, `question`.
    pub item_kind: Option<String>,
    /// Type within the kind (call, email, meeting, task; keyword, competitor...).
    pub item_type: Option<String>,
    /// Language of the suggestion (ISO 639-1).
    pub language: Option<String>,
    /// Confidence of the suggestion, 0 to 1.
    pub confidence: Option<f64>,
    /// Why it was discarded or thumbed down, as the front end codes it.
    pub reason_code: Option<String>,
    /// When it happened, ms since the Unix epoch.
    pub recorded_at_ms: i64,
}

/// Longest label shown.
pub const MAX_LABEL_CHARS: usize = 32;

/// A label safe to show: lower-case ASCII letters, digits, `_` and `-`, at most
/// [`MAX_LABEL_CHARS`] characters (upper case is folded); anything else (free text, an
/// e-mail address, an empty value) becomes `other`, or `none` when absent.
pub fn bounded_label(value: Option<&str>) -> String {
    let Some(v) = value.map(str::trim) else {
        return "none".to_string();
    };
    let v = v.to_ascii_lowercase();
    let ok = !v.is_empty()
        && v.len() <= MAX_LABEL_CHARS
        && v.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-'));
    if ok {
        v
    } else {
        "other".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_bounded() {
        assert_eq!(bounded_label(Some("wrong_owner")), "wrong_owner");
        assert_eq!(bounded_label(Some("EN")), "en");
        assert_eq!(bounded_label(Some("jane@example.com")), "other");
        assert_eq!(bounded_label(Some("jane.doe")), "other");
        assert_eq!(bounded_label(Some("the owner was wrong")), "other");
        assert_eq!(bounded_label(Some(&"x".repeat(33))), "other");
        assert_eq!(bounded_label(Some("")), "other");
        assert_eq!(bounded_label(None), "none");
    }

    #[test]
    fn verdicts_follow_the_definition() {
        let positive: Vec<&str> = RepAction::ALL
            .iter()
            .filter(|a| a.verdict() == Some(true))
            .map(|a| a.name())
            .collect();
        assert_eq!(
            positive,
            ["accepted", "copied", "edited_and_sent", "thumbs_up"]
        );
        assert_eq!(RepAction::Discarded.verdict(), Some(false));
        assert_eq!(RepAction::ThumbsDown.verdict(), Some(false));
        assert_eq!(RepAction::Viewed.verdict(), None);
    }
}
