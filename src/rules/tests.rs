//! Each kind of condition, negation, the combinations, once and repeat. Every expected alert
//! is worked out by hand from the segments written in the test.

use super::*;
use crate::insight::TrackerKind;
use crate::tenant::rules::{RuleCondition, RuleWindow};
use crate::tenant::{CompetitorConfig, TrackerConfig};

/// A segment as the live state would describe it.
#[derive(Clone, Debug)]
struct Seg {
    id: String,
    speaker: &'static str,
    side: Side,
    start: Option<i64>,
    end: Option<i64>,
    backchannel: bool,
    interruption: bool,
    gap: Option<i64>,
    hits: Vec<TrackerHit>,
}

/// A timed segment of `speaker` (sides: `a*` internal, `c*` external, others unknown), from
/// `start` to `end` seconds.
fn seg(id: &str, speaker: &'static str, start_s: f64, end_s: f64) -> Seg {
    let side = match speaker.chars().next() {
        Some('a') => Side::Internal,
        Some('c') => Side::External,
        _ => Side::Unknown,
    };
    Seg {
        id: id.into(),
        speaker,
        side,
        start: Some((start_s * 1000.0).round() as i64),
        end: Some((end_s * 1000.0).round() as i64),
        backchannel: false,
        interruption: false,
        gap: None,
        hits: Vec::new(),
    }
}

impl Seg {
    fn says(mut self, tracker: &str) -> Seg {
        self.hits.push(TrackerHit {
            tracker: tracker.into(),
            kind: TrackerKind::Keyword,
            term: tracker.to_lowercase(),
            heard: tracker.to_lowercase(),
            speaker: self.speaker.into(),
            side: self.side,
            segment_id: self.id.clone(),
            offset_ms: self.start,
            start_char: 0,
            end_char: 1,
            id: String::new(),
        });
        self
    }
    fn interrupts(mut self) -> Seg {
        self.interruption = true;
        self
    }
    fn backchannel(mut self) -> Seg {
        self.backchannel = true;
        self
    }
    fn gap_ms(mut self, ms: i64) -> Seg {
        self.gap = Some(ms);
        self
    }
    fn untimed(mut self) -> Seg {
        self.start = None;
        self.end = None;
        self
    }
    fn view(&self) -> SegmentView<'_> {
        SegmentView {
            segment_id: &self.id,
            speaker: self.speaker,
            side: self.side,
            start_ms: self.start,
            end_ms: self.end,
            backchannel: self.backchannel,
            interruption: self.interruption,
            gap_before_ms: self.gap,
            hits: &self.hits,
        }
    }
}

fn mention(tracker: &str, side: RuleSide, window: Option<RuleWindow>) -> RuleCondition {
    RuleCondition {
        kind: ConditionKind::Mention,
        tracker: Some(tracker.into()),
        side,
        window,
        ..RuleCondition::default()
    }
}

fn no_mention(tracker: &str, side: RuleSide, window: Option<RuleWindow>) -> RuleCondition {
    RuleCondition {
        kind: ConditionKind::NoMention,
        ..mention(tracker, side, window)
    }
}

fn first_s(n: i64) -> Option<RuleWindow> {
    Some(RuleWindow {
        first_s: Some(n),
        ..RuleWindow::default()
    })
}

fn last_s(n: i64) -> Option<RuleWindow> {
    Some(RuleWindow {
        last_s: Some(n),
        ..RuleWindow::default()
    })
}

fn monologue(side: RuleSide, seconds: i64) -> RuleCondition {
    RuleCondition {
        kind: ConditionKind::Monologue,
        side,
        seconds: Some(seconds),
        ..RuleCondition::default()
    }
}

fn interruptions(side: RuleSide, count: i64, minutes: i64) -> RuleCondition {
    RuleCondition {
        kind: ConditionKind::Interruptions,
        side,
        count: Some(count),
        minutes: Some(minutes),
        ..RuleCondition::default()
    }
}

fn silence(seconds: i64) -> RuleCondition {
    RuleCondition {
        kind: ConditionKind::Silence,
        seconds: Some(seconds),
        ..RuleCondition::default()
    }
}

fn rule(name: &str, combine: Combine, repeat: bool, conditions: Vec<RuleCondition>) -> RuleConfig {
    RuleConfig {
        name: name.into(),
        combine,
        conditions,
        repeat,
    }
}

fn one(name: &str, c: RuleCondition) -> RuleConfig {
    rule(name, Combine::AllOf, false, vec![c])
}

/// A validated tenant configuration with trackers `pricing`, `compliance` and competitor
/// `Salesforce`.
fn config(rules: Vec<RuleConfig>) -> TenantConfig {
    let tracker = |name: &str| TrackerConfig {
        name: name.into(),
        terms: vec![name.to_lowercase()],
        ..TrackerConfig::default()
    };
    let c = TenantConfig {
        tenant_id: "acme".into(),
        version: 3,
        trackers: vec![tracker("pricing"), tracker("compliance")],
        competitors: vec![CompetitorConfig {
            name: "Salesforce".into(),
            ..CompetitorConfig::default()
        }],
        rules,
        ..TenantConfig::default()
    };
    assert_eq!(c.validate(), Ok(()));
    c
}

/// (rule, segment id, segment index, at_ms, occurrence, trigger) of every alert, segments
/// first, then the end.
type Fired = (String, String, i64, i64, i32, AlertTrigger);

fn run(rules: Vec<RuleConfig>, segs: &[Seg]) -> Vec<Fired> {
    let set = Arc::new(RuleSet::compile(&config(rules)));
    let mut state = ConversationRules::new(set, "conv-1");
    let mut alerts = Vec::new();
    for s in segs {
        alerts.extend(state.observe(s.view()));
    }
    alerts.extend(state.finish());
    assert!(state.finish().is_empty(), "finish is final");
    for a in &alerts {
        assert_eq!(
            (&*a.conversation_id, &*a.tenant_id, a.config_version),
            ("conv-1", "acme", 3)
        );
    }
    alerts
        .into_iter()
        .map(|a| {
            (
                a.rule,
                a.segment_id,
                a.segment_index,
                a.at_ms,
                a.occurrence,
                a.trigger,
            )
        })
        .collect()
}

fn at(rule: &str, seg: &str, index: i64, at_ms: i64) -> Fired {
    (
        rule.into(),
        seg.into(),
        index,
        at_ms,
        1,
        AlertTrigger::Segment,
    )
}

fn at_end(rule: &str, seg: &str, index: i64, at_ms: i64) -> Fired {
    (
        rule.into(),
        seg.into(),
        index,
        at_ms,
        1,
        AlertTrigger::ConversationEnd,
    )
}

#[test]
fn a_mention_fires_at_the_first_matching_segment_of_the_side_once() {
    let segs = [
        seg("s0", "a1", 0.0, 5.0).says("pricing"), // agent: wrong side
        seg("s1", "c1", 5.0, 10.0),
        seg("s2", "c1", 20.0, 25.0).says("Pricing"), // fires (names are case-insensitive)
        seg("s3", "c1", 30.0, 35.0).says("pricing"), // once only
    ];
    let r = one("p", mention("pricing", RuleSide::External, None));
    assert_eq!(run(vec![r], &segs), vec![at("p", "s2", 2, 20_000)]);
    // Any side: the agent's mention fires.
    let r = one("p", mention("pricing", RuleSide::Any, None));
    assert_eq!(run(vec![r], &segs), vec![at("p", "s0", 0, 0)]);
    // Another tracker is never mentioned: nothing.
    let r = one("c", mention("compliance", RuleSide::Any, None));
    assert_eq!(run(vec![r], &segs), vec![]);
    // An untimed segment counts over the whole call, at time 0.
    let untimed = [seg("u0", "c1", 0.0, 0.0).untimed().says("salesforce")];
    let r = one("sf", mention("Salesforce", RuleSide::External, None));
    assert_eq!(run(vec![r], &untimed), vec![at("sf", "u0", 0, 0)]);
}

#[test]
fn a_repeating_rule_fires_on_every_new_mention() {
    let segs = [
        seg("s0", "c1", 0.0, 5.0).says("pricing"),
        seg("s1", "c1", 6.0, 8.0),
        seg("s2", "c1", 9.0, 12.0).says("pricing"),
    ];
    let r = rule(
        "p",
        Combine::AllOf,
        true,
        vec![mention("pricing", RuleSide::Any, None)],
    );
    let mut second = at("p", "s2", 2, 9_000);
    second.4 = 2;
    assert_eq!(run(vec![r], &segs), vec![at("p", "s0", 0, 0), second]);
}

#[test]
fn first_seconds_window_is_decided_live_and_closes() {
    let r = || one("early", mention("Salesforce", RuleSide::Any, first_s(60)));
    // 59.999 s is inside.
    let inside = [
        seg("s0", "a1", 0.0, 10.0),
        seg("s1", "c1", 59.999, 62.0).says("Salesforce"),
    ];
    assert_eq!(run(vec![r()], &inside), vec![at("early", "s1", 1, 59_999)]);
    // 60 s is outside; a late segment from inside the window arriving after it does not
    // reopen it.
    let outside = [
        seg("s0", "c1", 60.0, 65.0).says("Salesforce"),
        seg("s1", "c1", 10.0, 12.0).says("Salesforce"),
    ];
    assert_eq!(run(vec![r()], &outside), vec![]);
    // Untimed segments are not in any window.
    let untimed = [seg("u", "c1", 0.0, 0.0).untimed().says("Salesforce")];
    assert_eq!(run(vec![r()], &untimed), vec![]);
}

#[test]
fn windows_at_the_end_of_the_call_are_decided_at_the_end() {
    // Call length 120 s (latest end). Last 30 s: starts at or after 90 s.
    let segs = |mention_at: f64| {
        [
            seg("s0", "a1", 0.0, 40.0),
            seg("s1", "c1", mention_at, mention_at + 2.0).says("pricing"),
            seg("s2", "a1", 100.0, 120.0),
        ]
    };
    let r = || one("late", mention("pricing", RuleSide::External, last_s(30)));
    assert_eq!(
        run(vec![r()], &segs(90.0)),
        vec![at_end("late", "s1", 1, 90_000)]
    );
    assert_eq!(run(vec![r()], &segs(89.999)), vec![]);
    // Percent windows: length 200 s. First 10 %: start < 20 s; last 25 %: start ≥ 150 s.
    let call = |mention_at: f64| {
        [
            seg("s0", "c1", mention_at, mention_at + 1.0).says("pricing"),
            seg("s1", "a1", 190.0, 200.0),
        ]
    };
    let first10 = || {
        one(
            "f",
            mention(
                "pricing",
                RuleSide::Any,
                Some(RuleWindow {
                    first_percent: Some(10),
                    ..RuleWindow::default()
                }),
            ),
        )
    };
    let last25 = || {
        one(
            "l",
            mention(
                "pricing",
                RuleSide::Any,
                Some(RuleWindow {
                    last_percent: Some(25),
                    ..RuleWindow::default()
                }),
            ),
        )
    };
    assert_eq!(
        run(vec![first10(), last25()], &call(19.999)),
        vec![at_end("f", "s0", 0, 19_999)]
    );
    assert_eq!(run(vec![first10(), last25()], &call(20.0)), vec![]);
    assert_eq!(
        run(vec![first10(), last25()], &call(150.0)),
        vec![at_end("l", "s0", 0, 150_000)]
    );
    assert_eq!(run(vec![first10(), last25()], &call(149.999)), vec![]);
    // Without any timed segment the call has no length: nothing is decided.
    let untimed = [seg("u", "c1", 0.0, 0.0).untimed().says("pricing")];
    assert_eq!(run(vec![first10()], &untimed), vec![]);
}

#[test]
fn negation_fires_when_the_window_closes_without_the_mention() {
    let r = || {
        one(
            "no compliance",
            no_mention("compliance", RuleSide::Internal, first_s(60)),
        )
    };
    // The agent says it at 10 s: never fires.
    let said = [
        seg("s0", "a1", 10.0, 15.0).says("compliance"),
        seg("s1", "c1", 61.0, 70.0),
    ];
    assert_eq!(run(vec![r()], &said), vec![]);
    // Only the customer says it; the first segment at or after 60 s closes the window.
    let not_said = [
        seg("s0", "c1", 10.0, 15.0).says("compliance"),
        seg("s1", "a1", 20.0, 59.0),
        seg("s2", "a1", 60.0, 70.0),
        seg("s3", "a1", 71.0, 80.0),
    ];
    assert_eq!(
        run(vec![r()], &not_said),
        vec![at("no compliance", "s2", 2, 60_000)]
    );
    // Said after the window: too late, the alert stands.
    let mut late = not_said.to_vec();
    late[3] = late[3].clone().says("compliance");
    assert_eq!(
        run(vec![r()], &late),
        vec![at("no compliance", "s2", 2, 60_000)]
    );
    // The call ends at 40 s without it: fires at the end, on the latest segment, at the
    // call's length.
    let short = [seg("s0", "a1", 0.0, 30.0), seg("s1", "c1", 30.0, 40.0)];
    assert_eq!(
        run(vec![r()], &short),
        vec![at_end("no compliance", "s1", 1, 40_000)]
    );
    // Whole call: decided at the end.
    let whole = || one("never", no_mention("pricing", RuleSide::Any, None));
    assert_eq!(
        run(vec![whole()], &short),
        vec![at_end("never", "s1", 1, 40_000)]
    );
    let mut mentioned = short.to_vec();
    mentioned[0] = mentioned[0].clone().says("pricing");
    assert_eq!(run(vec![whole()], &mentioned), vec![]);
    // Last 30 s of a 120 s call: a mention at 89 s does not count, one at 95 s does.
    let tail = |at: f64| {
        [
            seg("s0", "a1", at, at + 1.0).says("compliance"),
            seg("s1", "c1", 100.0, 120.0),
        ]
    };
    let last = || {
        one(
            "no closing",
            no_mention("compliance", RuleSide::Internal, last_s(30)),
        )
    };
    assert_eq!(
        run(vec![last()], &tail(89.0)),
        vec![at_end("no closing", "s1", 1, 120_000)]
    );
    assert_eq!(run(vec![last()], &tail(95.0)), vec![]);
    // No segment at all: no evidence, no alert.
    assert_eq!(run(vec![whole()], &[]), vec![]);
}

#[test]
fn a_monologue_fires_when_it_passes_the_threshold_once_per_monologue() {
    let r = |repeat| {
        rule(
            "long customer",
            Combine::AllOf,
            repeat,
            vec![monologue(RuleSide::External, 30)],
        )
    };
    let segs = [
        seg("s0", "c1", 0.0, 20.0),
        seg("s1", "a1", 20.0, 20.5).backchannel(), // does not break the run
        seg("s2", "c1", 21.0, 30.0),               // run 0..30: exactly 30 s, not more
        seg("s3", "c1", 30.0, 30.001),             // 30.001 s: fires
        seg("s4", "c1", 31.0, 45.0),               // same monologue: not again
        seg("s5", "a1", 45.0, 50.0),               // closes it
        seg("s6", "a1", 50.0, 90.0),               // an agent monologue: wrong side
        seg("s7", "c1", 90.0, 125.0),              // a new customer monologue of 35 s
    ];
    assert_eq!(
        run(vec![r(false)], &segs),
        vec![at("long customer", "s3", 3, 30_000)]
    );
    let mut again = at("long customer", "s7", 7, 90_000);
    again.4 = 2;
    assert_eq!(
        run(vec![r(true)], &segs),
        vec![at("long customer", "s3", 3, 30_000), again]
    );
    let agent = one("long agent", monologue(RuleSide::Internal, 30));
    assert_eq!(
        run(vec![agent], &segs),
        vec![at("long agent", "s6", 6, 50_000)]
    );
}

#[test]
fn interruptions_count_within_a_sliding_window() {
    // More than 2 within 1 minute.
    let r = |repeat| {
        rule(
            "talking over",
            Combine::AllOf,
            repeat,
            vec![interruptions(RuleSide::Internal, 2, 1)],
        )
    };
    let segs = [
        seg("s0", "a1", 10.0, 12.0).interrupts(),
        seg("s1", "a1", 40.0, 42.0).interrupts(),
        seg("s2", "c1", 45.0, 47.0).interrupts(), // the customer's: not counted
        seg("s3", "a1", 100.0, 101.0).interrupts(), // (40, 100]: 100 → 1
        seg("s4", "a1", 101.0, 102.0),            // not an interruption
        seg("s5", "a1", 105.0, 106.0).interrupts(), // (45, 105]: 100, 105 → 2
        seg("s6", "a1", 110.0, 111.0).interrupts(), // (50, 110]: 100, 105, 110 → 3: fires
        seg("s7", "a1", 111.0, 112.0).interrupts(),
        seg("s8", "a1", 112.0, 113.0).interrupts(),
        seg("s9", "a1", 113.0, 114.0).interrupts(),
    ];
    assert_eq!(
        run(vec![r(false)], &segs),
        vec![at("talking over", "s6", 6, 110_000)]
    );
    // Repeating: re-armed with an empty window, three new ones fire again (s7, s8, s9).
    let mut again = at("talking over", "s9", 9, 113_000);
    again.4 = 2;
    assert_eq!(
        run(vec![r(true)], &segs),
        vec![at("talking over", "s6", 6, 110_000), again]
    );
    // "More than 0": the first interruption of anyone.
    let any = one("any", interruptions(RuleSide::Any, 0, 5));
    assert_eq!(run(vec![any], &segs), vec![at("any", "s0", 0, 10_000)]);
}

#[test]
fn silence_fires_above_the_threshold_only() {
    let r = || one("dead air", silence(5));
    let segs = [
        seg("s0", "a1", 0.0, 10.0),
        seg("s1", "c1", 15.0, 20.0).gap_ms(5_000), // exactly 5 s: no
        seg("s2", "a1", 25.001, 30.0).gap_ms(5_001), // fires
    ];
    assert_eq!(run(vec![r()], &segs), vec![at("dead air", "s2", 2, 25_001)]);
    assert_eq!(run(vec![r()], &segs[..2]), vec![]);
}

#[test]
fn all_of_waits_for_every_condition_and_any_of_for_one() {
    let conditions = || {
        vec![
            mention("Salesforce", RuleSide::External, None),
            monologue(RuleSide::External, 20),
        ]
    };
    let segs = [
        seg("s0", "c1", 0.0, 5.0).says("Salesforce"),
        seg("s1", "a1", 5.0, 10.0),
        seg("s2", "c1", 10.0, 25.0),
        seg("s3", "c1", 25.0, 35.0), // the customer's run 10..35 = 25 s > 20 s
    ];
    let all = rule("all", Combine::AllOf, false, conditions());
    let any = rule("any", Combine::AnyOf, false, conditions());
    assert_eq!(
        run(vec![all, any], &segs),
        vec![at("any", "s0", 0, 0), at("all", "s3", 3, 25_000)]
    );
    // A negation with a live condition: the competitor at 10 s, the window closes at 61 s.
    let both = rule(
        "competitor, no compliance",
        Combine::AllOf,
        false,
        vec![
            mention("Salesforce", RuleSide::External, None),
            no_mention("compliance", RuleSide::Internal, first_s(60)),
        ],
    );
    let call = [
        seg("s0", "c1", 10.0, 12.0).says("salesforce"),
        seg("s1", "a1", 61.0, 65.0),
    ];
    assert_eq!(
        run(vec![both.clone()], &call),
        vec![at("competitor, no compliance", "s1", 1, 61_000)]
    );
    // The negation fires at the window's close but the competitor never comes: no alert.
    let no_competitor = [seg("s0", "c1", 10.0, 12.0), seg("s1", "a1", 61.0, 65.0)];
    assert_eq!(run(vec![both], &no_competitor), vec![]);
}

#[test]
fn a_rule_that_must_not_fire_does_not() {
    // Every condition almost holds: wrong side, just outside the window, at the threshold.
    let rules = vec![
        one(
            "agent pricing",
            mention("pricing", RuleSide::Internal, None),
        ),
        one(
            "early pricing",
            mention("pricing", RuleSide::Any, first_s(10)),
        ),
        one("monologue", monologue(RuleSide::Any, 30)),
        one("silence", silence(10)),
        one("interruptions", interruptions(RuleSide::Any, 1, 1)),
        one(
            "no pricing by customer",
            no_mention("pricing", RuleSide::External, None),
        ),
    ];
    let segs = [
        seg("s0", "c1", 0.0, 9.0),
        seg("s1", "a1", 10.0, 40.0).gap_ms(1_000), // 30 s, not more; starts at 10 s
        seg("s2", "c1", 39.0, 45.0).says("pricing").interrupts(),
        seg("s3", "c1", 55.0, 60.0).gap_ms(10_000),
        seg("s4", "a1", 121.0, 125.0).interrupts(), // 82 s after the first one
    ];
    assert_eq!(run(rules, &segs), vec![]);
}

#[test]
fn compiled_from_the_tenant_runtime() {
    let cfg = config(vec![one("p", mention("pricing", RuleSide::Any, None))]);
    let rt = crate::tenant::TenantRuntime::compile(cfg).unwrap();
    assert_eq!(rt.rules.len(), 1);
    let mut state = ConversationRules::new(Arc::clone(&rt.rules), "c");
    let s = seg("x", "c1", 1.0, 2.0).says("pricing");
    let alerts = state.observe(s.view());
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].rule, "p");
    // A configuration naming an unknown tracker is rejected before compiling.
    let mut bad = config(vec![]);
    bad.rules = vec![one("x", mention("Gong", RuleSide::Any, None))];
    assert!(matches!(
        crate::tenant::TenantRuntime::compile(bad),
        Err(crate::tenant::ConfigError::Rule(
            crate::tenant::RuleError::UnknownTracker { .. }
        ))
    ));
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn any_side() -> impl Strategy<Value = RuleSide> {
        prop_oneof![
            Just(RuleSide::Any),
            Just(RuleSide::Internal),
            Just(RuleSide::External)
        ]
    }

    fn any_condition() -> impl Strategy<Value = RuleCondition> {
        let tracker = prop_oneof![Just("pricing"), Just("compliance"), Just("Salesforce")];
        let window = prop_oneof![
            Just(None),
            (1i64..200).prop_map(first_s),
            (1i64..200).prop_map(last_s),
            (1i64..=100).prop_map(|p| Some(RuleWindow {
                first_percent: Some(p),
                ..RuleWindow::default()
            })),
            (1i64..=100).prop_map(|p| Some(RuleWindow {
                last_percent: Some(p),
                ..RuleWindow::default()
            })),
        ];
        prop_oneof![
            (tracker.clone(), any_side(), window.clone()).prop_map(|(t, s, w)| mention(t, s, w)),
            (tracker, any_side(), window).prop_map(|(t, s, w)| no_mention(t, s, w)),
            (any_side(), 1i64..100).prop_map(|(s, n)| monologue(s, n)),
            (any_side(), 0i64..5, 1i64..5).prop_map(|(s, c, m)| interruptions(s, c, m)),
            (1i64..30).prop_map(silence),
        ]
    }

    fn any_segment() -> impl Strategy<Value = Seg> {
        (
            prop_oneof![Just("a1"), Just("c1"), Just("c2"), Just("x")],
            proptest::option::of((-5_000i64..300_000, 0i64..60_000)),
            any::<bool>(),
            any::<bool>(),
            proptest::option::of(0i64..40_000),
            proptest::collection::vec(
                prop_oneof![Just("pricing"), Just("COMPLIANCE"), Just("salesforce")],
                0..3,
            ),
        )
            .prop_map(|(speaker, times, backchannel, interruption, gap, hits)| {
                let mut s = seg("s", speaker, 0.0, 0.0);
                s.start = times.map(|(start, _)| start);
                s.end = times.map(|(start, len)| start + len);
                s.backchannel = backchannel;
                s.interruption = interruption;
                s.gap = gap;
                hits.into_iter().fold(s, |s, h| s.says(h))
            })
    }

    proptest! {
        /// Arbitrary rules over arbitrary segments: no panic, the same alerts twice, a rule
        /// that does not repeat fires at most once, occurrences count up from 1.
        #[test]
        fn evaluation_never_panics_and_is_deterministic(
            rules in proptest::collection::vec(
                (proptest::collection::vec(any_condition(), 1..4), any::<bool>(), any::<bool>()),
                1..6,
            ),
            segs in proptest::collection::vec(any_segment(), 0..40),
        ) {
            let rules: Vec<RuleConfig> = rules
                .into_iter()
                .enumerate()
                .map(|(i, (conditions, any_of, repeat))| {
                    let combine = if any_of { Combine::AnyOf } else { Combine::AllOf };
                    rule(&format!("r{i}"), combine, repeat, conditions)
                })
                .collect();
            let segs: Vec<Seg> = segs
                .into_iter()
                .enumerate()
                .map(|(i, mut s)| {
                    s.id = format!("s{i}");
                    s
                })
                .collect();
            let first = run(rules.clone(), &segs);
            prop_assert_eq!(&first, &run(rules.clone(), &segs));
            for r in &rules {
                let fired: Vec<&Fired> = first.iter().filter(|f| f.0 == r.name).collect();
                if !r.repeat {
                    prop_assert!(fired.len() <= 1);
                }
                for (i, f) in fired.iter().enumerate() {
                    prop_assert_eq!(f.4, i as i32 + 1);
                }
            }
        }
    }
}
