//! Alert rules, evaluated while a call runs. Pure: no IO, no clock, no metrics. The
//! configuration and its validation are in [`crate::tenant::rules`]; the live step feeds
//! this evaluator one accepted segment at a time and writes the [`Alert`]s it returns.
//!
//! # Input
//!
//! [`ConversationRules::observe`] takes what the live state found in one accepted segment
//! ([`SegmentView`]: side, clamped times, backchannel, interruption, silence before it,
//! tracker hits) and [`ConversationRules::finish`] is called once when the conversation ends.
//! Both cost O(the segment's hits + the tenant's conditions): nothing grows with the call
//! but one bounded queue per interruption condition (at most `count + 1` entries).
//!
//! # When a condition holds
//!
//! Times are ms of call time (offsets from the conversation start). A segment without times
//! counts for `mention` over the whole call and for nothing else.
//!
//! | condition | holds | decided |
//! |---|---|---|
//! | `mention` (whole call) | a segment of `side` has a hit of the tracker | at that segment |
//! | `mention`, `first_s: N` | ... and the segment starts before N s | at that segment |
//! | `mention`, `last_s`, `first_percent`, `last_percent` | ... and the segment starts in the window, the call's length `L` being the latest segment end | at the end |
//! | `no_mention`, `first_s: N` | no such mention before a segment starting at or after N s arrives (or before the end, if none does) | when that segment arrives, or at the end |
//! | `no_mention`, other windows or whole call | no such mention in the window | at the end |
//! | `monologue`, `seconds: N` | a monologue of a speaker of `side` (`docs/kpis.md`: a run of one speaker, other speakers' backchannels do not break it) lasts more than N s (last end − first start) | at the segment that makes it so |
//! | `interruptions`, `count: N`, `minutes: M` | more than N interruptions by `side` start within M minutes (a window ending at the latest one, inclusive, M minutes long, exclusive at the start) | at the interrupting segment |
//! | `silence`, `seconds: N` | the silence before a segment (gap after all speech so far) is more than N s | at the segment that ends it |
//!
//! Window bounds: "first N s" is `start < N·1000`; "last N s" is `start ≥ L − N·1000`;
//! "first p %" is `start·100 < L·p`; "last p %" is `start·100 ≥ L·(100 − p)`. A window
//! decided at the end needs `L`: without any timed segment such conditions do not hold.
//!
//! # When a rule fires
//!
//! A rule is checked at each step (a segment, or the end) at which at least one of its
//! conditions became true; it fires when its combination then holds: `all_of` every
//! condition has held since the rule was last armed, `any_of` at least one. A condition
//! that can no longer hold (a mention in the first 60 s once the window is closed, anything
//! still open at the end) is false. The alert's evidence is the segment of the first
//! condition (in configuration order) that became true at that step, and its time is that
//! segment's start (0 when untimed); at the end, for a negation or a window, the evidence
//! is the latest segment (or, for a positive windowed mention, the mention itself) and the
//! time the call's length. A conversation with no segment raises no alert.
//!
//! **Once or repeat.** A rule fires at most once per conversation unless `repeat` is set.
//! A repeating rule re-arms when it fires: conditions decided at a segment (mentions over
//! the whole call or the first N s, monologues, interruptions, silences) are cleared and
//! must happen again (a new mention segment; a new monologue, as one monologue fires once;
//! `count + 1` new interruptions; a new silence); conditions decided once (negations,
//! windows decided at the end) keep their value.

use crate::insight::TrackerHit;
use crate::model::Side;
use crate::tenant::rules::{Combine, ConditionKind, RuleConfig, RuleSide};
use crate::tenant::TenantConfig;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::sync::Arc;

#[cfg(test)]
mod tests;

/// How an alert was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertTrigger {
    /// At a segment, while the call runs.
    Segment,
    /// When the conversation ended (windows over the end of the call, negations).
    ConversationEnd,
}

/// One fired rule: the record of the alerts topic (key: conversation id). It carries no
/// transcript text: the evidence is a segment id and a time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    /// Conversation id (the Kafka key).
    pub conversation_id: String,
    /// Tenant id.
    pub tenant_id: String,
    /// The rule's name as configured (trimmed).
    pub rule: String,
    /// Version of the tenant configuration whose rules were evaluated.
    pub config_version: i64,
    /// 1 for the rule's first alert in this conversation, 2 for its second (repeating
    /// rules), ...
    pub occurrence: i32,
    /// Id of the evidence segment.
    pub segment_id: String,
    /// Position of the evidence segment among the conversation's segments as the evaluator
    /// received them (0-based).
    pub segment_index: i64,
    /// Time in the call, ms (see the module docs).
    pub at_ms: i64,
    /// When it was decided.
    pub trigger: AlertTrigger,
}

/// What the evaluator reads from one accepted segment (the live state's findings).
#[derive(Debug, Clone, Copy)]
pub struct SegmentView<'a> {
    /// Segment id.
    pub segment_id: &'a str,
    /// Speaker id.
    pub speaker: &'a str,
    /// The side the segment counts for.
    pub side: Side,
    /// Start, ms of call time, clamped at 0; `None` when untimed.
    pub start_ms: Option<i64>,
    /// End, ms, not before the start; `None` when untimed.
    pub end_ms: Option<i64>,
    /// A backchannel (does not break another speaker's monologue).
    pub backchannel: bool,
    /// The segment interrupts another speaker (`docs/kpis.md`).
    pub interruption: bool,
    /// Silence between all speech before it and its start, ms; `None` for the first timed
    /// segment.
    pub gap_before_ms: Option<i64>,
    /// Tracker and competitor hits in this segment.
    pub hits: &'a [TrackerHit],
}

/// A window in ms or percent, compiled from `RuleWindow`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Window {
    Whole,
    FirstMs(i64),
    LastMs(i64),
    FirstPercent(i64),
    LastPercent(i64),
}

impl Window {
    /// Decided at a segment (`true`) or only once the call's length is known.
    fn live(self) -> bool {
        matches!(self, Window::Whole | Window::FirstMs(_))
    }

    /// Whether `start` lies in the window of a call of length `len`.
    fn contains(self, start: i64, len: i64) -> bool {
        match self {
            Window::Whole => true,
            Window::FirstMs(n) => start < n,
            Window::LastMs(n) => start >= len.saturating_sub(n),
            Window::FirstPercent(p) => i128::from(start) * 100 < i128::from(len) * i128::from(p),
            Window::LastPercent(p) => {
                i128::from(start) * 100 >= i128::from(len) * i128::from(100 - p)
            }
        }
    }
}

/// One compiled condition.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Condition {
    Mention {
        /// Lower-cased, trimmed tracker or competitor name.
        tracker: String,
        side: RuleSide,
        window: Window,
        negated: bool,
    },
    Monologue {
        side: RuleSide,
        over_ms: i64,
    },
    Interruptions {
        side: RuleSide,
        over: usize,
        within_ms: i64,
    },
    Silence {
        over_ms: i64,
    },
}

impl Condition {
    fn compile(c: &crate::tenant::rules::RuleCondition) -> Condition {
        let secs = |v: Option<i64>| v.unwrap_or(0).saturating_mul(1000);
        match c.kind {
            ConditionKind::Mention | ConditionKind::NoMention => {
                let w = c.window.unwrap_or_default();
                let window = match (w.first_s, w.last_s, w.first_percent, w.last_percent) {
                    (Some(s), ..) => Window::FirstMs(secs(Some(s))),
                    (_, Some(s), ..) => Window::LastMs(secs(Some(s))),
                    (_, _, Some(p), _) => Window::FirstPercent(p),
                    (_, _, _, Some(p)) => Window::LastPercent(p),
                    _ => Window::Whole,
                };
                Condition::Mention {
                    tracker: c.tracker.as_deref().unwrap_or("").trim().to_lowercase(),
                    side: c.side,
                    window,
                    negated: c.kind == ConditionKind::NoMention,
                }
            }
            ConditionKind::Monologue => Condition::Monologue {
                side: c.side,
                over_ms: secs(c.seconds),
            },
            ConditionKind::Interruptions => Condition::Interruptions {
                side: c.side,
                over: usize::try_from(c.count.unwrap_or(0)).unwrap_or(0),
                within_ms: c.minutes.unwrap_or(0).saturating_mul(60_000),
            },
            ConditionKind::Silence => Condition::Silence {
                over_ms: secs(c.seconds),
            },
        }
    }

    /// Cleared when a repeating rule fires (see the module docs).
    fn rearms(&self) -> bool {
        match self {
            Condition::Mention {
                window, negated, ..
            } => !negated && window.live(),
            _ => true,
        }
    }
}

/// One compiled rule.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    name: String,
    combine: Combine,
    repeat: bool,
    conditions: Vec<Condition>,
}

/// A tenant's rules compiled once per configuration version (cheap: no automaton; the
/// mentions come from the tenant's tracker matcher, run by the live state).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleSet {
    tenant_id: String,
    version: i64,
    rules: Vec<Rule>,
}

impl RuleSet {
    /// Compiles the rules of a configuration that passed [`TenantConfig::validate`].
    pub fn compile(config: &TenantConfig) -> RuleSet {
        RuleSet {
            tenant_id: config.tenant_id.clone(),
            version: config.version,
            rules: config.rules.iter().map(compile_rule).collect(),
        }
    }

    /// `true` when the tenant has no rule (the live step then keeps no rule state).
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Number of rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }
}

fn compile_rule(r: &RuleConfig) -> Rule {
    Rule {
        name: r.name.trim().to_string(),
        combine: r.combine,
        repeat: r.repeat,
        conditions: r.conditions.iter().map(Condition::compile).collect(),
    }
}

/// The evidence of a condition: a segment and a time in the call.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Evidence {
    segment_id: String,
    index: i64,
    at_ms: i64,
}

/// Where a condition stands.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
enum Status {
    /// Not true yet.
    #[default]
    Open,
    /// True since this evidence (until a repeating rule re-arms).
    True(Evidence),
    /// Can no longer become true in this conversation.
    False,
}

/// Per-condition memory.
#[derive(Debug, Clone, Default)]
struct CondState {
    status: Status,
    /// Windows decided at the end: the earliest and the latest matching mention (timed).
    first: Option<(i64, Evidence)>,
    last: Option<(i64, Evidence)>,
    /// Interruption starts within the window (bounded by `over + 1`).
    times: VecDeque<i64>,
    /// The monologue run (its speaker's first start) that already made this condition true.
    fired_run: Option<i64>,
}

#[derive(Debug, Clone, Default)]
struct RuleState {
    occurrences: i32,
    done: bool,
    conditions: Vec<CondState>,
}

/// The open monologue run: speaker, its side, first start, latest end.
#[derive(Debug, Clone)]
struct Run {
    speaker: String,
    side: Side,
    first: i64,
    last: i64,
}

/// The rule state of one open conversation.
#[derive(Debug, Clone)]
pub struct ConversationRules {
    rules: Arc<RuleSet>,
    conversation_id: String,
    next_index: i64,
    /// Latest segment end (the call's length at the end).
    length: Option<i64>,
    /// The latest segment received (evidence for decisions at the end).
    latest: Option<Evidence>,
    run: Option<Run>,
    states: Vec<RuleState>,
    finished: bool,
}

fn side_matches(want: RuleSide, side: Side) -> bool {
    match want {
        RuleSide::Any => true,
        RuleSide::Internal => side == Side::Internal,
        RuleSide::External => side == Side::External,
    }
}

impl ConversationRules {
    /// Rule state for conversation `conversation_id` under `rules`.
    pub fn new(rules: Arc<RuleSet>, conversation_id: &str) -> ConversationRules {
        let states = rules
            .rules
            .iter()
            .map(|r| RuleState {
                conditions: vec![CondState::default(); r.conditions.len()],
                ..RuleState::default()
            })
            .collect();
        ConversationRules {
            rules,
            conversation_id: conversation_id.to_string(),
            next_index: 0,
            length: None,
            latest: None,
            run: None,
            states,
            finished: false,
        }
    }

    /// Takes one accepted segment and returns the alerts it fires, in rule order.
    pub fn observe(&mut self, seg: SegmentView<'_>) -> Vec<Alert> {
        if self.finished {
            return Vec::new();
        }
        let index = self.next_index;
        self.next_index += 1;
        let here = Evidence {
            segment_id: seg.segment_id.to_string(),
            index,
            at_ms: seg.start_ms.unwrap_or(0),
        };
        self.latest = Some(here.clone());
        let timed = seg.start_ms.zip(seg.end_ms);
        if let Some((_, end)) = timed {
            self.length = Some(self.length.map_or(end, |l| l.max(end)));
        }
        let run = timed
            .and_then(|(start, end)| self.extend_run(&seg, start, end))
            .and_then(|first| self.run.as_ref().map(|r| (first, r.last, r.side)));
        // The trackers mentioned, as the rules name them (once per segment, not per condition).
        let mentioned: Vec<String> = seg
            .hits
            .iter()
            .map(|h| h.tracker.trim().to_lowercase())
            .collect();
        let rules = Arc::clone(&self.rules);
        let mut alerts = Vec::new();
        for (rule, state) in rules.rules.iter().zip(self.states.iter_mut()) {
            if state.done {
                continue;
            }
            let mut newly = None;
            for (cond, cs) in rule.conditions.iter().zip(state.conditions.iter_mut()) {
                if let Some(ev) = step(cond, cs, &seg, &mentioned, &here, run) {
                    newly.get_or_insert(ev);
                }
            }
            if let Some(ev) = newly {
                if let Some(a) = fire(rule, state, &rules, &self.conversation_id, ev, true) {
                    alerts.push(a);
                }
            }
        }
        alerts
    }

    /// Ends the conversation: decides the conditions that wait for the end and returns the
    /// alerts that fires, in rule order. Later calls (and later segments) return nothing.
    pub fn finish(&mut self) -> Vec<Alert> {
        if self.finished {
            return Vec::new();
        }
        self.finished = true;
        let Some(latest) = self.latest.clone() else {
            return Vec::new();
        };
        let end = Evidence {
            at_ms: self.length.unwrap_or(latest.at_ms),
            ..latest
        };
        let length = self.length;
        let rules = Arc::clone(&self.rules);
        let mut alerts = Vec::new();
        for (rule, state) in rules.rules.iter().zip(self.states.iter_mut()) {
            if state.done {
                continue;
            }
            let mut newly = None;
            for (cond, cs) in rule.conditions.iter().zip(state.conditions.iter_mut()) {
                if let Some(ev) = decide_at_end(cond, cs, length, &end) {
                    newly.get_or_insert(ev);
                }
            }
            if let Some(ev) = newly {
                if let Some(a) = fire(rule, state, &rules, &self.conversation_id, ev, false) {
                    alerts.push(a);
                }
            }
        }
        alerts
    }

    /// Extends the monologue run with a timed segment; returns the run's first start when the
    /// run (after this segment) is this segment's speaker's.
    fn extend_run(&mut self, seg: &SegmentView<'_>, start: i64, end: i64) -> Option<i64> {
        match &mut self.run {
            Some(r) if r.speaker == seg.speaker => {
                r.last = r.last.max(end);
                return Some(r.first);
            }
            Some(_) if seg.backchannel => return None,
            _ => {}
        }
        self.run = Some(Run {
            speaker: seg.speaker.to_string(),
            side: seg.side,
            first: start,
            last: end,
        });
        Some(start)
    }
}

/// One condition at one segment: `Some(evidence)` when it became true here.
fn step(
    cond: &Condition,
    cs: &mut CondState,
    seg: &SegmentView<'_>,
    mentioned: &[String],
    here: &Evidence,
    run: Option<(i64, i64, Side)>,
) -> Option<Evidence> {
    if cs.status == Status::False {
        return None;
    }
    let open = cs.status == Status::Open;
    match cond {
        Condition::Mention {
            tracker,
            side,
            window,
            negated,
        } => {
            let said = side_matches(*side, seg.side) && mentioned.iter().any(|m| m == tracker);
            match window {
                Window::Whole | Window::FirstMs(_) if !*negated => {
                    let inside = match window {
                        Window::FirstMs(n) => seg.start_ms.is_some_and(|s| s < *n),
                        _ => true,
                    };
                    if said && inside && open {
                        cs.status = Status::True(here.clone());
                        return Some(here.clone());
                    }
                    if let (Window::FirstMs(n), Some(s)) = (window, seg.start_ms) {
                        if s >= *n && open {
                            cs.status = Status::False;
                        }
                    }
                    None
                }
                Window::FirstMs(n) => {
                    // Negated first N s: a mention inside falsifies, a segment past closes.
                    let s = seg.start_ms?;
                    if !open {
                        return None;
                    }
                    if s < *n {
                        if said {
                            cs.status = Status::False;
                        }
                        None
                    } else {
                        cs.status = Status::True(here.clone());
                        Some(here.clone())
                    }
                }
                Window::Whole => {
                    // Negated whole call: any mention falsifies; decided at the end.
                    if said {
                        cs.status = Status::False;
                    }
                    None
                }
                Window::LastMs(_) | Window::FirstPercent(_) | Window::LastPercent(_) => {
                    if let (true, Some(s)) = (said, seg.start_ms) {
                        if cs.first.is_none() {
                            cs.first = Some((s, here.clone()));
                        }
                        if cs.last.as_ref().is_none_or(|(l, _)| s >= *l) {
                            cs.last = Some((s, here.clone()));
                        }
                        if cs.first.as_ref().is_some_and(|(f, _)| s < *f) {
                            cs.first = Some((s, here.clone()));
                        }
                    }
                    None
                }
            }
        }
        Condition::Monologue { side, over_ms } => {
            let (first, last, run_side) = run?;
            let long = last.saturating_sub(first) > *over_ms;
            if open && long && side_matches(*side, run_side) && cs.fired_run != Some(first) {
                cs.fired_run = Some(first);
                cs.status = Status::True(here.clone());
                return Some(here.clone());
            }
            None
        }
        Condition::Interruptions {
            side,
            over,
            within_ms,
        } => {
            let start = seg.start_ms?;
            if !open || !seg.interruption || !side_matches(*side, seg.side) {
                return None;
            }
            cs.times.push_back(start);
            while cs
                .times
                .front()
                .is_some_and(|t| *t <= start.saturating_sub(*within_ms))
            {
                cs.times.pop_front();
            }
            while cs.times.len() > over + 1 {
                cs.times.pop_front();
            }
            if cs.times.len() > *over {
                cs.status = Status::True(here.clone());
                return Some(here.clone());
            }
            None
        }
        Condition::Silence { over_ms } => {
            if open && seg.gap_before_ms.is_some_and(|g| g > *over_ms) {
                cs.status = Status::True(here.clone());
                return Some(here.clone());
            }
            None
        }
    }
}

/// One condition at the end of the conversation: `Some(evidence)` when it became true.
/// Everything still open afterwards is false.
fn decide_at_end(
    cond: &Condition,
    cs: &mut CondState,
    length: Option<i64>,
    end: &Evidence,
) -> Option<Evidence> {
    if cs.status != Status::Open {
        return None;
    }
    cs.status = Status::False;
    let Condition::Mention {
        window, negated, ..
    } = cond
    else {
        return None;
    };
    let became = match (window, *negated) {
        // Positive mentions over the whole call or the first N s were decided live.
        (Window::Whole | Window::FirstMs(_), false) => None,
        // No mention at all, or none before the call ended inside the first N s.
        (Window::Whole | Window::FirstMs(_), true) => Some(end.clone()),
        (w, negated) => {
            let len = length?;
            let candidate = match w {
                Window::FirstPercent(_) => cs.first.as_ref(),
                _ => cs.last.as_ref(),
            };
            let inside = candidate.filter(|(s, _)| w.contains(*s, len));
            match (inside, negated) {
                (Some((_, ev)), false) => Some(ev.clone()),
                (None, true) => Some(end.clone()),
                _ => None,
            }
        }
    };
    if let Some(ev) = &became {
        cs.status = Status::True(ev.clone());
    }
    became
}

/// Checks a rule at a step where one of its conditions became true (`ev` is that
/// condition's evidence); returns the alert when it fires, and re-arms or closes the rule.
fn fire(
    rule: &Rule,
    state: &mut RuleState,
    set: &RuleSet,
    conversation_id: &str,
    ev: Evidence,
    live: bool,
) -> Option<Alert> {
    let holds = |cs: &CondState| matches!(cs.status, Status::True(_));
    let satisfied = match rule.combine {
        Combine::AllOf => state.conditions.iter().all(holds),
        Combine::AnyOf => state.conditions.iter().any(holds),
    };
    if !satisfied {
        return None;
    }
    state.occurrences += 1;
    if rule.repeat && live {
        for (cond, cs) in rule.conditions.iter().zip(state.conditions.iter_mut()) {
            if cond.rearms() && holds(cs) {
                cs.status = Status::Open;
                cs.times.clear();
            }
        }
    } else {
        state.done = true;
    }
    Some(Alert {
        conversation_id: conversation_id.to_string(),
        tenant_id: set.tenant_id.clone(),
        rule: rule.name.clone(),
        config_version: set.version,
        occurrence: state.occurrences,
        segment_id: ev.segment_id,
        segment_index: ev.index,
        at_ms: ev.at_ms,
        trigger: if live {
            AlertTrigger::Segment
        } else {
            AlertTrigger::ConversationEnd
        },
    })
}
