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
pub mod demo;
pub mod html;

pub use aggregate::{Aggregator, Summary};

use crate::events::{InteractionAction, InteractionTelemetry, RepresentativeAction};

/// Time spans up to this many days are charted per UTC day; longer ones per ISO week.
pub const DAILY_UP_TO_DAYS: i64 = 45;

/// The verdict an action gives on a suggestion: `Some(true)` positive (accepted, copied,
/// edited_and_sent, thumbs_up), `Some(false)` negative (discarded, thumbs_down), `None` for
/// `viewed` and actions this reader does not know.
pub fn verdict(action: RepresentativeAction) -> Option<bool> {
    match action {
        RepresentativeAction::Viewed | RepresentativeAction::Unknown => None,
        RepresentativeAction::Accepted
        | RepresentativeAction::Copied
        | RepresentativeAction::EditedAndSent
        | RepresentativeAction::ThumbsUp => Some(true),
        RepresentativeAction::Discarded | RepresentativeAction::ThumbsDown => Some(false),
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
    /// What the representative did; `None` for the pipeline's own records (and actions this
    /// reader does not know).
    pub action: Option<RepresentativeAction>,
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

impl Interaction {
    /// The interaction in an enriched telemetry record. The representative's action is
    /// `representative_action` (`viewed` is only there: the legacy `action` says `ran`);
    /// a record without it counts by its legacy `action` when that is a representative's
    /// (records written before the field), else it is the pipeline's own (`ran`, `skipped`).
    pub fn from_telemetry(t: &InteractionTelemetry) -> Interaction {
        let action = match t.representative_action.as_deref() {
            Some(name) => RepresentativeAction::VALID
                .into_iter()
                .find(|a| a.name() == name),
            None => match t.action {
                InteractionAction::Ran | InteractionAction::Skipped => None,
                InteractionAction::Accepted => Some(RepresentativeAction::Accepted),
                InteractionAction::Copied => Some(RepresentativeAction::Copied),
                InteractionAction::EditedAndSent => Some(RepresentativeAction::EditedAndSent),
                InteractionAction::Discarded => Some(RepresentativeAction::Discarded),
                InteractionAction::ThumbsUp => Some(RepresentativeAction::ThumbsUp),
                InteractionAction::ThumbsDown => Some(RepresentativeAction::ThumbsDown),
            },
        };
        Interaction {
            tenant_id: t.tenant_id.clone(),
            item_id: t.item_id.clone(),
            feature: t.feature.clone(),
            action,
            item_kind: t.item_kind.clone(),
            item_type: t.item_type.clone(),
            language: t.language.clone(),
            confidence: t.confidence,
            reason_code: t.reason_code.clone(),
            recorded_at_ms: t.recorded_at_ms,
        }
    }
}

/// Longest label shown (the contract's limit for reason codes).
pub const MAX_LABEL_CHARS: usize = 64;

/// A label safe to show: lower-case ASCII letters, digits, `_`, `.` and `-` (the contract's
/// character set for reason codes), at most [`MAX_LABEL_CHARS`] characters (upper case is
/// folded); anything else (free text, an e-mail address, an empty value) becomes `other`,
/// or `none` when absent.
pub fn bounded_label(value: Option<&str>) -> String {
    let Some(v) = value.map(str::trim) else {
        return "none".to_string();
    };
    let v = v.to_ascii_lowercase();
    let ok = !v.is_empty()
        && v.len() <= MAX_LABEL_CHARS
        && v.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'.' | b'-')
        });
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
        assert_eq!(bounded_label(Some("the owner was wrong")), "other");
        assert_eq!(bounded_label(Some(&"x".repeat(65))), "other");
        assert_eq!(bounded_label(Some("")), "other");
        assert_eq!(bounded_label(None), "none");
    }

    #[test]
    fn verdicts_follow_the_definition() {
        let positive: Vec<&str> = RepresentativeAction::VALID
            .iter()
            .filter(|a| verdict(**a) == Some(true))
            .map(|a| a.name())
            .collect();
        assert_eq!(
            positive,
            ["accepted", "copied", "edited_and_sent", "thumbs_up"]
        );
        assert_eq!(verdict(RepresentativeAction::Discarded), Some(false));
        assert_eq!(verdict(RepresentativeAction::ThumbsDown), Some(false));
        assert_eq!(verdict(RepresentativeAction::Viewed), None);
        assert_eq!(verdict(RepresentativeAction::Unknown), None);
    }

    #[test]
    fn viewed_is_read_from_representative_action_and_pipeline_records_are_not_interactions() {
        let records = demo::telemetry(&demo::DemoSpec {
            conversations: 5,
            ..demo::DemoSpec::default()
        });
        let viewed = records
            .iter()
            .find(|r| r.representative_action.as_deref() == Some("viewed"))
            .expect("a viewed record");
        assert_eq!(viewed.action, InteractionAction::Ran);
        assert_eq!(
            Interaction::from_telemetry(viewed).action,
            Some(RepresentativeAction::Viewed)
        );
        let ran = records
            .iter()
            .find(|r| r.representative_action.is_none())
            .expect("a pipeline record");
        assert_eq!(Interaction::from_telemetry(ran).action, None);
        let legacy = InteractionTelemetry {
            action: InteractionAction::ThumbsDown,
            representative_action: None,
            ..ran.clone()
        };
        assert_eq!(
            Interaction::from_telemetry(&legacy).action,
            Some(RepresentativeAction::ThumbsDown)
        );
        let unknown = InteractionTelemetry {
            representative_action: Some("shared".to_string()),
            ..viewed.clone()
        };
        assert_eq!(Interaction::from_telemetry(&unknown).action, None);
    }
}
