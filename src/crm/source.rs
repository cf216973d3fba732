//! The insight values a mapping can send to CRM fields ([`Source`]), and how each one is read
//! from an [`Insight`] or one of its action items. Pure and deterministic.
//!
//! Units are the CRM's, not the insight's: durations are whole seconds (rounded half away
//! from zero) except the average pause, which stays in milliseconds; ratios stay 0..=1.

use super::external_id;
use super::types::ValueKind;
use crate::insight::{ActionItem, ActionState, ActionType, Insight, TrackerKind};
use serde::{Deserialize, Serialize};
use std::fmt::Write;

/// The two record types Debrief writes to a CRM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordType {
    /// One conversation-insight record per conversation.
    Insight,
    /// One task record per action item.
    Task,
}

impl RecordType {
    /// The lower-case name (`insight`, `task`).
    pub fn name(self) -> &'static str {
        match self {
            RecordType::Insight => "insight",
            RecordType::Task => "task",
        }
    }
}

impl std::fmt::Display for RecordType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A value Debrief can write to a CRM field. Serde names are the ones a mapping uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Both records: the record's external id (the upsert key; see `external_id`).
    ExternalId,
    /// Both records: the conversation id.
    ConversationId,
    /// Both records: the conversation's language (ISO 639-1); for a task, the item's.
    Language,
    /// Insight: a readable record name, `Conversation <conversation id>`.
    Title,
    /// Insight: `complete`, `partial` or `skipped`.
    Outcome,
    /// Insight: skip reasons, comma-separated (`short_content`), empty when none.
    SkipReasons,
    /// Insight: what closed the conversation (`end_event`, `file`...).
    FinalisedBy,
    /// Insight: publishing platform, when known.
    SourcePlatform,
    /// Insight: conversation duration, s.
    DurationSeconds,
    /// Insight: number of participants.
    Participants,
    /// Insight: internal (seller) talk time, s.
    InternalTalkTimeSeconds,
    /// Insight: external (customer) talk time, s.
    ExternalTalkTimeSeconds,
    /// Insight: internal over external talk time.
    TalkToListenRatio,
    /// Insight: speaker switches.
    Switches,
    /// Insight: switches per hour.
    SwitchesPerHour,
    /// Insight: longest monologue, s.
    LongestMonologueSeconds,
    /// Insight: longest customer monologue, s.
    LongestCustomerMonologueSeconds,
    /// Insight: mean pause before an internal speaker answers, ms (rounded).
    AveragePauseMs,
    /// Insight: silences over 3 s, summed, s.
    NonTalkTimeSeconds,
    /// Insight: interruptions.
    Interruptions,
    /// Insight: questions asked by internal speakers.
    QuestionsInternal,
    /// Insight: questions asked by external speakers.
    QuestionsExternal,
    /// Insight: number of action items (= task records).
    ActionItemCount,
    /// Insight: keyword tracker hits.
    KeywordHits,
    /// Insight: competitor hits.
    CompetitorHits,
    /// Insight: competitors mentioned, sorted, comma-separated, empty when none.
    CompetitorsMentioned,
    /// Insight: hits per tracker, one `name (kind): count` line each, in tracker order.
    TrackerSummary,
    /// Insight: extraction code version.
    ExtractorVersion,
    /// Insight: tenant configuration version applied.
    ConfigVersion,
    /// Task: the insight record this task belongs to (its external id; a lookup).
    InsightRef,
    /// Task: `<Type>: <item text>` (`Email: I will send you the revised proposal...`).
    Subject,
    /// Task: the item text, owner, due phrase, type, state, confidence and evidence.
    Description,
    /// Task: due date `YYYY-MM-DD`, when one was stated.
    DueDate,
    /// Task: due date-time (RFC 3339), when a time of day was stated.
    DueDateTime,
    /// Task: the owner's speaker id or name, when certain.
    Owner,
    /// Task: `call`, `email`, `meeting` or `task`.
    ActionType,
    /// Task: `committed` or `suggested`.
    State,
    /// Task: calibrated confidence, 0..=1.
    Confidence,
}

impl Source {
    /// Every source, in declaration order.
    pub const ALL: [Source; 38] = [
        Source::ExternalId,
        Source::ConversationId,
        Source::Language,
        Source::Title,
        Source::Outcome,
        Source::SkipReasons,
        Source::FinalisedBy,
        Source::SourcePlatform,
        Source::DurationSeconds,
        Source::Participants,
        Source::InternalTalkTimeSeconds,
        Source::ExternalTalkTimeSeconds,
        Source::TalkToListenRatio,
        Source::Switches,
        Source::SwitchesPerHour,
        Source::LongestMonologueSeconds,
        Source::LongestCustomerMonologueSeconds,
        Source::AveragePauseMs,
        Source::NonTalkTimeSeconds,
        Source::Interruptions,
        Source::QuestionsInternal,
        Source::QuestionsExternal,
        Source::ActionItemCount,
        Source::KeywordHits,
        Source::CompetitorHits,
        Source::CompetitorsMentioned,
        Source::TrackerSummary,
        Source::ExtractorVersion,
        Source::ConfigVersion,
        Source::InsightRef,
        Source::Subject,
        Source::Description,
        Source::DueDate,
        Source::DueDateTime,
        Source::Owner,
        Source::ActionType,
        Source::State,
        Source::Confidence,
    ];

    /// The mapping name (serde name).
    pub fn name(self) -> &'static str {
        use Source::*;
        match self {
            ExternalId => "external_id",
            ConversationId => "conversation_id",
            Language => "language",
            Title => "title",
            Outcome => "outcome",
            SkipReasons => "skip_reasons",
            FinalisedBy => "finalised_by",
            SourcePlatform => "source_platform",
            DurationSeconds => "duration_seconds",
            Participants => "participants",
            InternalTalkTimeSeconds => "internal_talk_time_seconds",
            ExternalTalkTimeSeconds => "external_talk_time_seconds",
            TalkToListenRatio => "talk_to_listen_ratio",
            Switches => "switches",
            SwitchesPerHour => "switches_per_hour",
            LongestMonologueSeconds => "longest_monologue_seconds",
            LongestCustomerMonologueSeconds => "longest_customer_monologue_seconds",
            AveragePauseMs => "average_pause_ms",
            NonTalkTimeSeconds => "non_talk_time_seconds",
            Interruptions => "interruptions",
            QuestionsInternal => "questions_internal",
            QuestionsExternal => "questions_external",
            ActionItemCount => "action_item_count",
            KeywordHits => "keyword_hits",
            CompetitorHits => "competitor_hits",
            CompetitorsMentioned => "competitors_mentioned",
            TrackerSummary => "tracker_summary",
            ExtractorVersion => "extractor_version",
            ConfigVersion => "config_version",
            InsightRef => "insight_ref",
            Subject => "subject",
            Description => "description",
            DueDate => "due_date",
            DueDateTime => "due_date_time",
            Owner => "owner",
            ActionType => "action_type",
            State => "state",
            Confidence => "confidence",
        }
    }

    /// The record type this value exists on; `None` for both.
    pub fn record_type(self) -> Option<RecordType> {
        use Source::*;
        match self {
            ExternalId | ConversationId | Language => None,
            InsightRef | Subject | Description | DueDate | DueDateTime | Owner | ActionType
            | State | Confidence => Some(RecordType::Task),
            _ => Some(RecordType::Insight),
        }
    }

    /// `true` when the value exists on `record`.
    pub fn available_on(self, record: RecordType) -> bool {
        self.record_type().is_none_or(|r| r == record)
    }

    /// The kind of value.
    pub fn kind(self) -> ValueKind {
        use Source::*;
        match self {
            DurationSeconds
            | Participants
            | InternalTalkTimeSeconds
            | ExternalTalkTimeSeconds
            | Switches
            | LongestMonologueSeconds
            | LongestCustomerMonologueSeconds
            | AveragePauseMs
            | NonTalkTimeSeconds
            | Interruptions
            | QuestionsInternal
            | QuestionsExternal
            | ActionItemCount
            | KeywordHits
            | CompetitorHits
            | ConfigVersion => ValueKind::Integer,
            TalkToListenRatio | SwitchesPerHour | Confidence => ValueKind::Decimal,
            DueDate => ValueKind::Date,
            DueDateTime => ValueKind::DateTime,
            InsightRef => ValueKind::Reference,
            _ => ValueKind::Text,
        }
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A value read from the insight, before it is shaped for a field.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceValue {
    /// Text, a date (`YYYY-MM-DD`), a date-time (RFC 3339) or an external id.
    Text(String),
    /// A whole number.
    Integer(i64),
    /// A number with decimals.
    Decimal(f64),
}

/// Reads `source` for the insight record; `None` when the insight has no such value (or the
/// source is a task value).
pub fn insight_value(insight: &Insight, source: Source) -> Option<SourceValue> {
    use Source::*;
    use SourceValue::{Decimal, Integer, Text};
    let kpis = insight.kpis.as_ref();
    let secs = |ms: Option<i64>| ms.map(|ms| Integer(round_div(ms, 1000)));
    match source {
        ExternalId => Some(Text(external_id::insight(
            &insight.tenant_id,
            &insight.conversation_id,
        ))),
        ConversationId => Some(Text(insight.conversation_id.clone())),
        Language => insight.language.code.clone().map(Text),
        Title => Some(Text(format!("Conversation {}", insight.conversation_id))),
        Outcome => Some(Text(crate::emit::outcome_name(insight.outcome).to_string())),
        SkipReasons => Some(Text(
            insight
                .skip_reasons
                .iter()
                .map(serde_name)
                .collect::<Vec<_>>()
                .join(","),
        )),
        FinalisedBy => Some(Text(serde_name(&insight.finalised_by))),
        SourcePlatform => insight.source_platform.clone().map(Text),
        DurationSeconds => secs(kpis?.duration_ms),
        Participants => kpis.map(|k| Integer(k.participants.len() as i64)),
        InternalTalkTimeSeconds => secs(kpis?.internal_talk_time_ms),
        ExternalTalkTimeSeconds => secs(kpis?.external_talk_time_ms),
        TalkToListenRatio => kpis?.talk_to_listen_ratio.map(Decimal),
        Switches => Some(Integer(kpis?.switches)),
        SwitchesPerHour => kpis?.switches_per_hour.map(Decimal),
        LongestMonologueSeconds => secs(kpis?.longest_monologue_ms),
        LongestCustomerMonologueSeconds => secs(kpis?.longest_customer_monologue_ms),
        AveragePauseMs => kpis?
            .average_pause_before_speaking_ms
            .map(|ms| Integer(ms.round() as i64)),
        NonTalkTimeSeconds => secs(kpis?.non_talk_time_ms),
        Interruptions => kpis?.interruptions.map(Integer),
        QuestionsInternal => Some(Integer(kpis?.questions.internal)),
        QuestionsExternal => Some(Integer(kpis?.questions.external)),
        ActionItemCount => Some(Integer(insight.action_items.len() as i64)),
        KeywordHits => Some(Integer(hits(insight, TrackerKind::Keyword))),
        CompetitorHits => Some(Integer(hits(insight, TrackerKind::Competitor))),
        CompetitorsMentioned => Some(Text(competitors(insight))),
        TrackerSummary => Some(Text(tracker_summary(insight))),
        ExtractorVersion => Some(Text(insight.extractor_version.clone())),
        ConfigVersion => Some(Integer(insight.config_version)),
        InsightRef | Subject | Description | DueDate | DueDateTime | Owner | ActionType | State
        | Confidence => None,
    }
}

/// Reads `source` for the task record of action item `index` (0-based) of `insight`; `None`
/// when the item has no such value (or the source is an insight value).
pub fn task_value(
    insight: &Insight,
    index: usize,
    item: &ActionItem,
    source: Source,
) -> Option<SourceValue> {
    use Source::*;
    use SourceValue::{Decimal, Text};
    let insight_id = || external_id::insight(&insight.tenant_id, &insight.conversation_id);
    match source {
        ExternalId => Some(Text(external_id::task(&insight_id(), index))),
        ConversationId => Some(Text(insight.conversation_id.clone())),
        Language => Some(Text(item.language.clone())),
        InsightRef => Some(Text(insight_id())),
        Subject => Some(Text(format!(
            "{}: {}",
            type_label(item.action_type),
            item.text
        ))),
        Description => Some(Text(description(insight, item))),
        DueDate => item.due.as_ref().map(|d| Text(d.date.clone())),
        DueDateTime => item.due.as_ref()?.datetime.clone().map(Text),
        Owner => item.owner.clone().map(Text),
        ActionType => Some(Text(serde_name(&item.action_type))),
        State => Some(Text(serde_name(&item.state))),
        Confidence => Some(Decimal(item.confidence)),
        _ => None,
    }
}

/// `a / b` rounded half away from zero (`b` > 0).
fn round_div(a: i64, b: i64) -> i64 {
    let q = a / b;
    let r = a % b;
    if r.abs() * 2 >= b {
        q + a.signum()
    } else {
        q
    }
}

/// The serde (snake_case) name of a unit enum value.
fn serde_name<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

fn hits(insight: &Insight, kind: TrackerKind) -> i64 {
    insight
        .tracker_counts
        .iter()
        .filter(|c| c.kind == kind)
        .map(|c| c.count)
        .sum()
}

fn competitors(insight: &Insight) -> String {
    let mut names: Vec<&str> = insight
        .tracker_counts
        .iter()
        .filter(|c| c.kind == TrackerKind::Competitor && c.count > 0)
        .map(|c| c.tracker.as_str())
        .collect();
    names.sort_unstable();
    names.dedup();
    names.join(", ")
}

/// One line per tracker: `name (keyword): 3`, counts summed over sides, in the order of
/// `tracker_counts` (sorted by tracker, kind).
fn tracker_summary(insight: &Insight) -> String {
    let mut lines: Vec<(&str, TrackerKind, i64)> = Vec::new();
    for c in &insight.tracker_counts {
        match lines.last_mut() {
            Some((name, kind, n)) if *name == c.tracker && *kind == c.kind => *n += c.count,
            _ => lines.push((&c.tracker, c.kind, c.count)),
        }
    }
    let mut out = String::new();
    for (i, (name, kind, n)) in lines.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let _ = write!(out, "{name} ({}): {n}", serde_name(kind));
    }
    out
}

fn type_label(t: ActionType) -> &'static str {
    match t {
        ActionType::Call => "Call",
        ActionType::Email => "Email",
        ActionType::Meeting => "Meeting",
        ActionType::Task => "Task",
    }
}

/// The task description: the item text, then one line each for owner, due date, type and
/// state, confidence, and the evidence (conversation, segments and character spans).
fn description(insight: &Insight, item: &ActionItem) -> String {
    let mut out = String::with_capacity(item.text.len() + 200);
    out.push_str(&item.text);
    out.push_str("\n\nOwner: ");
    out.push_str(item.owner.as_deref().unwrap_or("not identified"));
    if let Some(due) = &item.due {
        let when = due.datetime.as_deref().unwrap_or(&due.date);
        let _ = write!(out, "\nDue: {when} (\"{}\")", due.phrase);
    }
    let state = match item.state {
        ActionState::Committed => "committed",
        ActionState::Suggested => "suggested",
    };
    let _ = write!(
        out,
        "\nType: {}, {state}, confidence {:.2}",
        serde_name(&item.action_type),
        item.confidence
    );
    let _ = write!(out, "\nEvidence: conversation {}", insight.conversation_id);
    for (i, e) in item.evidence.iter().enumerate() {
        let sep = if i == 0 { ", " } else { "; " };
        let _ = write!(
            out,
            "{sep}segment {} characters {}-{}",
            e.segment_id, e.start_char, e.end_char
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_serde_names_and_unique() {
        let mut seen = std::collections::HashSet::new();
        for s in Source::ALL {
            assert_eq!(
                serde_json::to_string(&s).unwrap(),
                format!("\"{}\"", s.name())
            );
            assert!(seen.insert(s.name()), "{s}");
        }
    }

    #[test]
    fn rounding_is_half_away_from_zero() {
        assert_eq!(round_div(1499, 1000), 1);
        assert_eq!(round_div(1500, 1000), 2);
        assert_eq!(round_div(-1500, 1000), -2);
        assert_eq!(round_div(-1499, 1000), -1);
        assert_eq!(round_div(0, 1000), 0);
    }

    #[test]
    fn only_the_lookup_is_a_reference_and_task_values_are_on_tasks() {
        for s in Source::ALL {
            assert_eq!(s.kind() == ValueKind::Reference, s == Source::InsightRef);
        }
        assert!(Source::Subject.available_on(RecordType::Task));
        assert!(!Source::Subject.available_on(RecordType::Insight));
        assert!(Source::ExternalId.available_on(RecordType::Insight));
        assert!(Source::ExternalId.available_on(RecordType::Task));
        assert!(!Source::Outcome.available_on(RecordType::Task));
    }
}
