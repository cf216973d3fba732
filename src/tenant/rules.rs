//! Alert rules in a tenant's configuration: their types, limits and validation. The
//! evaluator that runs them while a call is live is `crate::rules`.
//!
//! Modelled on contact-centre real-time rules (a condition on what was said, by whom, when,
//! and on conversation characteristics, combined with all-of or any-of). A rule is a flat
//! list of conditions combined one way; "A and (B or C)" is written as two rules
//! ("A and B", "A and C"), which keeps the configuration, its Avro form and the evaluator
//! without recursion.
//!
//! ```json
//! {"name": "competitor early", "combine": "all_of", "repeat": false,
//!  "conditions": [{"kind": "mention", "tracker": "Salesforce", "side": "external",
//!                  "window": {"first_s": 120}}]}
//! ```

use serde::{Deserialize, Serialize};

/// Most rules per tenant.
pub const MAX_RULES: usize = 100;
/// Most conditions per rule.
pub const MAX_CONDITIONS: usize = 20;
/// Longest rule name, in Unicode scalar values after trimming.
pub const MAX_RULE_NAME_CHARS: usize = 200;
/// Largest number of seconds in a window or a threshold (24 hours).
pub const MAX_SECONDS: i64 = 86_400;
/// Largest number of minutes of an interruption window (24 hours).
pub const MAX_MINUTES: i64 = 1_440;
/// Largest interruption count a rule may name.
pub const MAX_COUNT: i64 = 10_000;

/// How a rule's conditions combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Combine {
    /// Every condition holds (each at some point of the call; see `crate::rules`).
    #[default]
    AllOf,
    /// At least one condition holds.
    AnyOf,
}

/// What a condition looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ConditionKind {
    /// A tracker or competitor (`tracker`) is mentioned, by `side`, within `window`.
    #[default]
    Mention,
    /// The window closes without such a mention (negation).
    NoMention,
    /// A monologue of a speaker of `side` lasts more than `seconds`.
    Monologue,
    /// More than `count` interruptions (made by `side`) within `minutes`.
    Interruptions,
    /// A silence (nobody speaks) of more than `seconds`.
    Silence,
}

impl ConditionKind {
    /// The snake-case name used in configurations and error messages.
    pub fn as_str(self) -> &'static str {
        match self {
            ConditionKind::Mention => "mention",
            ConditionKind::NoMention => "no_mention",
            ConditionKind::Monologue => "monologue",
            ConditionKind::Interruptions => "interruptions",
            ConditionKind::Silence => "silence",
        }
    }
}

/// Whose speech a condition looks at. `agent` and `customer` are accepted as aliases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RuleSide {
    /// Anyone (segments of unknown side included).
    #[default]
    Any,
    /// The tenant's own people (agent, seller): `Side::Internal`.
    #[serde(alias = "agent")]
    Internal,
    /// The customer: `Side::External`.
    #[serde(alias = "customer")]
    External,
}

/// The part of the call a mention condition looks at. At most one field is set; none means
/// the whole call. Times are offsets from the conversation start; the call's length is the
/// latest segment end seen when the conversation ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct RuleWindow {
    /// The first N seconds: segments starting before N s. Decided while the call runs.
    pub first_s: Option<i64>,
    /// The last N seconds: segments starting at or after `length − N s`. Decided at the end.
    pub last_s: Option<i64>,
    /// The first N percent of the call (1..=100). Decided at the end.
    pub first_percent: Option<i64>,
    /// The last N percent of the call (1..=100). Decided at the end.
    pub last_percent: Option<i64>,
}

/// One condition of a rule. Which fields apply depends on `kind`; a field that does not apply
/// is an error, so that a misplaced threshold is reported instead of ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct RuleCondition {
    /// What the condition looks at.
    pub kind: ConditionKind,
    /// `mention`, `no_mention`: the tracker or competitor name (as configured,
    /// case-insensitive).
    pub tracker: Option<String>,
    /// `mention`, `no_mention`: who says it; `monologue`: whose monologue;
    /// `interruptions`: who interrupts. Not allowed (must stay `any`) for `silence`.
    pub side: RuleSide,
    /// `mention`, `no_mention`: the part of the call; none means the whole call.
    pub window: Option<RuleWindow>,
    /// `monologue`, `silence`: the threshold, in seconds (strictly more than it fires).
    pub seconds: Option<i64>,
    /// `interruptions`: the threshold (strictly more than it fires).
    pub count: Option<i64>,
    /// `interruptions`: the length of the sliding window, in minutes.
    pub minutes: Option<i64>,
}

/// One alert rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct RuleConfig {
    /// Rule name, unique within the tenant (compared case-insensitively); the alert names it.
    pub name: String,
    /// How the conditions combine. Default `all_of`.
    pub combine: Combine,
    /// The conditions (1 to [`MAX_CONDITIONS`]).
    pub conditions: Vec<RuleCondition>,
    /// `false` (default): the rule fires at most once per conversation. `true`: it fires again
    /// each time it is satisfied anew after firing (see `crate::rules` for the re-arm).
    pub repeat: bool,
}

/// Why a tenant's rules were rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    /// More rules than [`MAX_RULES`].
    #[error("{count} rules, more than the limit of {max}")]
    TooManyRules {
        /// Rules configured.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A rule without a name.
    #[error("rule #{index} has an empty name")]
    EmptyName {
        /// 0-based position in `rules`.
        index: usize,
    },
    /// A name longer than [`MAX_RULE_NAME_CHARS`].
    #[error("rule #{index}: the name is {chars} characters long, more than the limit of {max}")]
    NameTooLong {
        /// 0-based position in `rules`.
        index: usize,
        /// Its length.
        chars: usize,
        /// The limit.
        max: usize,
    },
    /// Two rules with the same name (case-insensitive).
    #[error("duplicate rule name `{name}` (names are compared case-insensitively)")]
    DuplicateName {
        /// The repeated name.
        name: String,
    },
    /// A rule without conditions (an empty combination).
    #[error("rule `{rule}` has no conditions")]
    NoConditions {
        /// Rule name.
        rule: String,
    },
    /// More conditions than [`MAX_CONDITIONS`].
    #[error("rule `{rule}` has {count} conditions, more than the limit of {max}")]
    TooManyConditions {
        /// Rule name.
        rule: String,
        /// Conditions given.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A mention condition naming no configured tracker or competitor.
    #[error("rule `{rule}`: conditions[{index}] names `{tracker}`, which is not a configured tracker or competitor")]
    UnknownTracker {
        /// Rule name.
        rule: String,
        /// 0-based position in `conditions`.
        index: usize,
        /// The name given (cut to 40 characters).
        tracker: String,
    },
    /// A condition missing a field its kind needs, or carrying one it does not use, or a value
    /// out of range.
    #[error("rule `{rule}`: conditions[{index}] ({kind}): {reason}")]
    BadCondition {
        /// Rule name.
        rule: String,
        /// 0-based position in `conditions`.
        index: usize,
        /// The condition's kind.
        kind: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A window with none or several of its fields set, or a value out of range.
    #[error("rule `{rule}`: conditions[{index}].window: {reason}")]
    BadWindow {
        /// Rule name.
        rule: String,
        /// 0-based position in `conditions`.
        index: usize,
        /// What is wrong.
        reason: String,
    },
}

/// Cuts a value for an error message to 40 characters.
fn excerpt(s: &str) -> String {
    const MAX: usize = 40;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        let mut e: String = s.chars().take(MAX).collect();
        e.push('…');
        e
    }
}

/// Checks the window of condition `index` of `rule`.
fn check_window(rule: &str, index: usize, w: &RuleWindow) -> Result<(), RuleError> {
    let bad = |reason: String| RuleError::BadWindow {
        rule: rule.to_string(),
        index,
        reason,
    };
    let set: Vec<(&str, i64, i64)> = [
        ("first_s", w.first_s, MAX_SECONDS),
        ("last_s", w.last_s, MAX_SECONDS),
        ("first_percent", w.first_percent, 100),
        ("last_percent", w.last_percent, 100),
    ]
    .into_iter()
    .filter_map(|(name, v, max)| v.map(|v| (name, v, max)))
    .collect();
    match set.as_slice() {
        [] => Err(bad(
            "give one of first_s, last_s, first_percent, last_percent (or leave the window out for the whole call)".into(),
        )),
        [(name, v, max)] if *v < 1 || *v > *max => {
            Err(bad(format!("{name} is {v}, outside 1..={max}")))
        }
        [_] => Ok(()),
        _ => Err(bad(format!(
            "{} are set; give only one",
            set.iter().map(|(n, _, _)| *n).collect::<Vec<_>>().join(" and ")
        ))),
    }
}

/// Checks condition `index` of `rule`; `known` tells whether a tracker or competitor name
/// is configured.
fn check_condition(
    rule: &str,
    index: usize,
    c: &RuleCondition,
    known: &dyn Fn(&str) -> bool,
) -> Result<(), RuleError> {
    let kind = c.kind.as_str();
    let bad = |reason: String| RuleError::BadCondition {
        rule: rule.to_string(),
        index,
        kind,
        reason,
    };
    let not_used = |field: &str| bad(format!("`{field}` does not apply to {kind}"));
    let in_range = |field: &str, v: Option<i64>, min: i64, max: i64| match v {
        None => Err(bad(format!("`{field}` is required"))),
        Some(v) if v < min || v > max => {
            Err(bad(format!("`{field}` is {v}, outside {min}..={max}")))
        }
        Some(_) => Ok(()),
    };
    let mention = matches!(c.kind, ConditionKind::Mention | ConditionKind::NoMention);
    if mention {
        let tracker = c.tracker.as_deref().map(str::trim).unwrap_or("");
        if tracker.is_empty() {
            return Err(bad("`tracker` is required".into()));
        }
        if !known(tracker) {
            return Err(RuleError::UnknownTracker {
                rule: rule.to_string(),
                index,
                tracker: excerpt(tracker),
            });
        }
        if let Some(w) = &c.window {
            check_window(rule, index, w)?;
        }
        for (field, v) in [
            ("seconds", c.seconds),
            ("count", c.count),
            ("minutes", c.minutes),
        ] {
            if v.is_some() {
                return Err(not_used(field));
            }
        }
        return Ok(());
    }
    if c.tracker.is_some() {
        return Err(not_used("tracker"));
    }
    if c.window.is_some() {
        return Err(not_used("window"));
    }
    match c.kind {
        ConditionKind::Monologue | ConditionKind::Silence => {
            if c.kind == ConditionKind::Silence && c.side != RuleSide::Any {
                return Err(not_used("side"));
            }
            in_range("seconds", c.seconds, 1, MAX_SECONDS)?;
            for (field, v) in [("count", c.count), ("minutes", c.minutes)] {
                if v.is_some() {
                    return Err(not_used(field));
                }
            }
        }
        ConditionKind::Interruptions => {
            in_range("count", c.count, 0, MAX_COUNT)?;
            in_range("minutes", c.minutes, 1, MAX_MINUTES)?;
            if c.seconds.is_some() {
                return Err(not_used("seconds"));
            }
        }
        ConditionKind::Mention | ConditionKind::NoMention => {}
    }
    Ok(())
}

/// Validates a tenant's rules against the limits above and the configured tracker and
/// competitor names (`known`, compared trimmed and case-insensitively by the caller).
/// Returns the first problem, in rule then condition order.
pub fn validate_rules(rules: &[RuleConfig], known: &dyn Fn(&str) -> bool) -> Result<(), RuleError> {
    if rules.len() > MAX_RULES {
        return Err(RuleError::TooManyRules {
            count: rules.len(),
            max: MAX_RULES,
        });
    }
    let mut names = std::collections::HashSet::new();
    for (i, r) in rules.iter().enumerate() {
        let name = r.name.trim();
        if name.is_empty() {
            return Err(RuleError::EmptyName { index: i });
        }
        let chars = name.chars().count();
        if chars > MAX_RULE_NAME_CHARS {
            return Err(RuleError::NameTooLong {
                index: i,
                chars,
                max: MAX_RULE_NAME_CHARS,
            });
        }
        if !names.insert(name.to_lowercase()) {
            return Err(RuleError::DuplicateName {
                name: name.to_string(),
            });
        }
        if r.conditions.is_empty() {
            return Err(RuleError::NoConditions {
                rule: name.to_string(),
            });
        }
        if r.conditions.len() > MAX_CONDITIONS {
            return Err(RuleError::TooManyConditions {
                rule: name.to_string(),
                count: r.conditions.len(),
                max: MAX_CONDITIONS,
            });
        }
        for (j, c) in r.conditions.iter().enumerate() {
            check_condition(name, j, c, known)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(name: &str) -> bool {
        ["pricing", "salesforce", "compliance"].contains(&name.to_lowercase().as_str())
    }

    fn mention(tracker: &str) -> RuleCondition {
        RuleCondition {
            kind: ConditionKind::Mention,
            tracker: Some(tracker.into()),
            ..RuleCondition::default()
        }
    }

    fn rule(name: &str, conditions: Vec<RuleCondition>) -> RuleConfig {
        RuleConfig {
            name: name.into(),
            conditions,
            ..RuleConfig::default()
        }
    }

    fn err(rules: Vec<RuleConfig>) -> RuleError {
        validate_rules(&rules, &known).unwrap_err()
    }

    #[test]
    fn reads_a_rule_with_aliases_and_defaults() {
        let json = r#"{"name": "competitor", "conditions": [
            {"kind": "mention", "tracker": "Salesforce", "side": "customer",
             "window": {"first_s": 120}},
            {"kind": "no_mention", "tracker": "compliance", "side": "agent",
             "window": {"last_percent": 10}},
            {"kind": "monologue", "side": "external", "seconds": 60},
            {"kind": "interruptions", "count": 3, "minutes": 2},
            {"kind": "silence", "seconds": 10}]}"#;
        let r: RuleConfig = serde_json::from_str(json).unwrap();
        assert_eq!(r.combine, Combine::AllOf);
        assert!(!r.repeat);
        assert_eq!(r.conditions[0].side, RuleSide::External);
        assert_eq!(r.conditions[1].side, RuleSide::Internal);
        assert_eq!(
            r.conditions[1].window,
            Some(RuleWindow {
                last_percent: Some(10),
                ..RuleWindow::default()
            })
        );
        assert_eq!(r.conditions[3].kind, ConditionKind::Interruptions);
        assert_eq!(validate_rules(&[r], &known), Ok(()));
        let typo = r#"{"name": "x", "conditions": [{"kind": "mention", "treshold": 3}]}"#;
        assert!(serde_json::from_str::<RuleConfig>(typo).is_err());
        let kind = r#"{"name": "x", "conditions": [{"kind": "shouting"}]}"#;
        assert!(serde_json::from_str::<RuleConfig>(kind).is_err());
    }

    #[test]
    fn bad_rules_are_rejected_with_a_reason() {
        assert_eq!(
            err(vec![rule("a", vec![mention("Gong")])]),
            RuleError::UnknownTracker {
                rule: "a".into(),
                index: 0,
                tracker: "Gong".into()
            }
        );
        // Names are compared case-insensitively and trimmed.
        assert_eq!(
            validate_rules(&[rule("a", vec![mention(" PRICING ")])], &|n| known(
                n.trim()
            )),
            Ok(())
        );
        assert_eq!(
            err(vec![rule("a", vec![])]),
            RuleError::NoConditions { rule: "a".into() }
        );
        assert_eq!(
            err(vec![rule(" ", vec![mention("pricing")])]),
            RuleError::EmptyName { index: 0 }
        );
        assert_eq!(
            err(vec![
                rule("Early", vec![mention("pricing")]),
                rule("early", vec![mention("pricing")])
            ]),
            RuleError::DuplicateName {
                name: "early".into()
            }
        );
        let mut c = mention("pricing");
        c.tracker = None;
        assert!(matches!(
            err(vec![rule("a", vec![c])]),
            RuleError::BadCondition { reason, .. } if reason == "`tracker` is required"
        ));
        let windows = [
            (RuleWindow::default(), "give one of"),
            (
                RuleWindow {
                    first_s: Some(0),
                    ..RuleWindow::default()
                },
                "first_s is 0, outside 1..=86400",
            ),
            (
                RuleWindow {
                    last_percent: Some(101),
                    ..RuleWindow::default()
                },
                "last_percent is 101, outside 1..=100",
            ),
            (
                RuleWindow {
                    first_s: Some(60),
                    last_s: Some(60),
                    ..RuleWindow::default()
                },
                "first_s and last_s are set; give only one",
            ),
        ];
        for (w, expected) in windows {
            let mut c = mention("pricing");
            c.kind = ConditionKind::NoMention;
            c.window = Some(w);
            match err(vec![rule("a", vec![c])]) {
                RuleError::BadWindow { reason, index, .. } => {
                    assert!(reason.starts_with(expected), "{reason}");
                    assert_eq!(index, 0);
                }
                other => panic!("{other:?}"),
            }
        }
        let kpi = |kind, seconds, count, minutes| RuleCondition {
            kind,
            seconds,
            count,
            minutes,
            ..RuleCondition::default()
        };
        let cases = [
            (
                kpi(ConditionKind::Silence, None, None, None),
                "`seconds` is required",
            ),
            (
                kpi(ConditionKind::Monologue, Some(0), None, None),
                "`seconds` is 0, outside 1..=86400",
            ),
            (
                kpi(ConditionKind::Monologue, Some(30), Some(2), None),
                "`count` does not apply to monologue",
            ),
            (
                kpi(ConditionKind::Interruptions, None, Some(2), None),
                "`minutes` is required",
            ),
            (
                kpi(ConditionKind::Interruptions, None, Some(-1), Some(2)),
                "`count` is -1, outside 0..=10000",
            ),
            (
                kpi(ConditionKind::Interruptions, Some(5), Some(1), Some(2)),
                "`seconds` does not apply to interruptions",
            ),
            (
                RuleCondition {
                    side: RuleSide::Internal,
                    ..kpi(ConditionKind::Silence, Some(5), None, None)
                },
                "`side` does not apply to silence",
            ),
            (
                RuleCondition {
                    tracker: Some("pricing".into()),
                    ..kpi(ConditionKind::Silence, Some(5), None, None)
                },
                "`tracker` does not apply to silence",
            ),
            (
                RuleCondition {
                    seconds: Some(3),
                    ..mention("pricing")
                },
                "`seconds` does not apply to mention",
            ),
        ];
        for (c, expected) in cases {
            match err(vec![rule("a", vec![mention("pricing"), c])]) {
                RuleError::BadCondition { reason, index, .. } => {
                    assert_eq!(reason, expected);
                    assert_eq!(index, 1);
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn a_version_with_a_bad_rule_is_rejected_and_the_one_in_force_stays() {
        use crate::emit::SourceRef;
        use crate::events::DeadLetterKind;
        use crate::schema::{Codec, Encoding};
        use crate::tenant::{interpret, TenantConfig, TenantEvent, TenantRegistry, TrackerConfig};
        let codec = Codec::new(Encoding::Json, None).unwrap();
        let config = |version, tracker: &str| TenantConfig {
            tenant_id: "acme".into(),
            version,
            trackers: vec![TrackerConfig {
                name: "pricing".into(),
                terms: vec!["price".into()],
                ..TrackerConfig::default()
            }],
            rules: vec![rule("r", vec![mention(tracker)])],
            ..TenantConfig::default()
        };
        let read = |c: &TenantConfig| {
            let bytes = serde_json::to_vec(c).unwrap();
            interpret(
                &codec,
                SourceRef {
                    topic: "cfg",
                    partition: 0,
                    offset: 0,
                    key: Some(b"acme"),
                    value: Some(&bytes),
                },
            )
        };
        let mut registry = TenantRegistry::default();
        let TenantEvent::Apply(rt) = read(&config(1, "pricing")) else {
            panic!("version 1 is valid")
        };
        registry.apply(rt);
        match read(&config(2, "Gong")) {
            TenantEvent::Reject(kind, reason, version) => {
                assert_eq!(kind, DeadLetterKind::InvalidConfig);
                assert_eq!(version, Some(2));
                assert!(
                    reason.ends_with(
                        "rule `r`: conditions[0] names `Gong`, which is not a configured tracker or competitor"
                    ),
                    "{reason}"
                );
            }
            other => panic!("{other:?}"),
        }
        let in_force = registry.get("acme").unwrap();
        assert_eq!(in_force.config.version, 1);
        assert_eq!(in_force.rules.len(), 1);
    }

    #[test]
    fn limits_are_enforced() {
        let at_limit: Vec<RuleConfig> = (0..MAX_RULES)
            .map(|i| rule(&format!("r{i}"), vec![mention("pricing")]))
            .collect();
        assert_eq!(validate_rules(&at_limit, &known), Ok(()));
        let mut over = at_limit;
        over.push(rule("one more", vec![mention("pricing")]));
        assert_eq!(
            err(over),
            RuleError::TooManyRules {
                count: 101,
                max: 100
            }
        );
        let conditions = vec![mention("pricing"); MAX_CONDITIONS + 1];
        assert_eq!(
            err(vec![rule("a", conditions)]),
            RuleError::TooManyConditions {
                rule: "a".into(),
                count: 21,
                max: 20
            }
        );
        assert!(matches!(
            err(vec![rule(&"n".repeat(201), vec![mention("pricing")])]),
            RuleError::NameTooLong { chars: 201, .. }
        ));
    }
}
