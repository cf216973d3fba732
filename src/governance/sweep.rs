//! The retention sweep's decisions (pure): when a tenant switched a feature off, which
//! stored insights are due to lose that feature's data (30 days after the switch-off), which
//! are due to be removed whole (the tenant's `insight_retention_days`), and what an insight
//! looks like once a feature's data is taken out.
//!
//! **When was a feature switched off?** Tenant configuration versions carry no time, and the
//! compacted tenant-config topic keeps only each tenant's latest version. The sweep therefore
//! takes the Kafka timestamp of the first version (in version order) that has the feature off
//! after one that had it on (or after no version at all), and records that transition on the
//! audit topic (`feature_switched_off` / `feature_switched_on`, key
//! `feature-off:<tenant>:<feature>:v<version>`, `at_ms` = that record's timestamp, `scope` =
//! the feature's name). The next sweep reads those records back with the configurations, so a
//! restart, a replay or the compaction of the version that switched the feature off never
//! moves the 30 days: the same version gives the same key and time. A switch that happened
//! before the sweep first saw the tenant's configuration is dated by the oldest version still
//! in the topic with the feature off (later than the real switch: deletion comes later, never
//! earlier, than promised for such tenants).
//!
//! **What is due.** A feature switched off at `S` and still off is due at `S + 30 days`: every
//! index entry of the tenant that lists the feature among those that produced data loses it
//! (whatever its finalisation time: a conversation analysed with the older version just after
//! the switch carries the data too). Switched on again before the 30 days, nothing is removed.
//! An entry finalised at `F` is removed whole when `F + insight_retention_days <= now`.

use super::audit::AuditRecord;
use super::index::ConversationIndexEntry;
use crate::insight::{HighlightKind, Insight, Outcome, SkipReason};
use std::collections::{BTreeMap, BTreeSet};

/// Days after a switch-off before the feature's data is removed.
pub const SWITCH_OFF_DAYS: i64 = 30;

/// One day, ms.
pub const DAY_MS: i64 = 86_400_000;

/// A feature whose derived data the sweep can remove, with its name in the index entry's
/// `features` and in the audit trail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Feature {
    /// Action items (and the CRM task records made from them).
    ActionItems,
    /// Keyword and competitor trackers.
    Trackers,
    /// Conversation KPIs.
    Kpis,
    /// The questions asked (the KPIs' question counts stay).
    Questions,
}

impl Feature {
    /// Every feature the sweep handles, in name order.
    pub const ALL: [Feature; 4] = [
        Feature::ActionItems,
        Feature::Kpis,
        Feature::Questions,
        Feature::Trackers,
    ];

    /// Its name (index entry `features`, audit `scope`).
    pub fn name(self) -> &'static str {
        match self {
            Feature::ActionItems => "action_items",
            Feature::Trackers => "trackers",
            Feature::Kpis => "kpis",
            Feature::Questions => "questions",
        }
    }

    /// The feature of a name.
    pub fn parse(name: &str) -> Option<Feature> {
        Feature::ALL.into_iter().find(|f| f.name() == name)
    }

    /// Whether a configuration's feature switches have it on.
    pub fn is_on(self, features: &crate::tenant::Features) -> bool {
        match self {
            Feature::ActionItems => features.action_items,
            Feature::Trackers => features.trackers,
            Feature::Kpis => features.kpis,
            Feature::Questions => features.questions,
        }
    }
}

/// What the sweep knows of a tenant's configuration versions: one observation per version
/// read from the tenant-config topic (with its record timestamp) or per switch recorded on the
/// audit topic by an earlier sweep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observation {
    /// A valid configuration version and the Kafka timestamp of its record, ms.
    Version {
        /// Configuration version.
        version: i64,
        /// Features on in that version.
        on: BTreeSet<Feature>,
        /// `insight_retention_days` of that version.
        retention_days: Option<i64>,
        /// Record timestamp, ms since the epoch.
        at_ms: i64,
    },
    /// A switch recorded by an earlier sweep.
    Switch {
        /// Configuration version that made it.
        version: i64,
        /// The feature.
        feature: Feature,
        /// `true`: switched on; `false`: switched off.
        on: bool,
        /// When (the version's record timestamp), ms.
        at_ms: i64,
    },
}

impl Observation {
    fn version(&self) -> i64 {
        match self {
            Observation::Version { version, .. } | Observation::Switch { version, .. } => *version,
        }
    }
}

/// A tenant's state as the sweep sees it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TenantState {
    /// Features off in the latest version, with the time they were switched off, ms.
    pub off_since: BTreeMap<Feature, i64>,
    /// `insight_retention_days` of the latest version.
    pub retention_days: Option<i64>,
    /// The switches not yet on the audit topic (to record).
    pub new_switches: Vec<AuditRecord>,
}

/// A tenant's state from its observations (any order); `tenant` names the audit records.
pub fn tenant_state(tenant: &str, observations: &[Observation]) -> TenantState {
    let mut obs: Vec<&Observation> = observations.iter().collect();
    // Version order; for one version, recorded switches before the version itself, so that a
    // version already recorded makes no new record.
    obs.sort_by_key(|o| (o.version(), matches!(o, Observation::Version { .. })));
    let mut state = TenantState::default();
    for o in obs {
        match o {
            Observation::Switch {
                feature, on, at_ms, ..
            } => {
                if *on {
                    state.off_since.remove(feature);
                } else {
                    state.off_since.entry(*feature).or_insert(*at_ms);
                }
            }
            Observation::Version {
                version,
                on,
                retention_days,
                at_ms,
            } => {
                for f in Feature::ALL {
                    let was_off = state.off_since.contains_key(&f);
                    let is_on = on.contains(&f);
                    if is_on && was_off {
                        state.off_since.remove(&f);
                        state
                            .new_switches
                            .push(switch_record(tenant, f, true, *version, *at_ms));
                    } else if !is_on && !was_off {
                        state.off_since.insert(f, *at_ms);
                        state
                            .new_switches
                            .push(switch_record(tenant, f, false, *version, *at_ms));
                    }
                }
                state.retention_days = *retention_days;
            }
        }
    }
    state
}

/// The audit record of a feature switched on or off by `version` at `at_ms`.
pub fn switch_record(
    tenant: &str,
    feature: Feature,
    on: bool,
    version: i64,
    at_ms: i64,
) -> AuditRecord {
    let (kind, action) = if on {
        ("feature-on", "feature_switched_on")
    } else {
        ("feature-off", "feature_switched_off")
    };
    AuditRecord {
        action_id: format!("{kind}:{tenant}:{}:v{version}", feature.name()),
        tenant_id: tenant.to_string(),
        action: action.to_string(),
        actor: "tenant-config".to_string(),
        at_ms,
        request_id: None,
        config_version: Some(version),
        scope: Some(feature.name().to_string()),
        count: 0,
    }
}

/// Reads back a switch recorded by [`switch_record`]; `None` for any other audit record.
pub fn switch_of(record: &AuditRecord) -> Option<(String, Observation)> {
    let on = match record.action.as_str() {
        "feature_switched_on" => true,
        "feature_switched_off" => false,
        _ => return None,
    };
    let feature = Feature::parse(record.scope.as_deref()?)?;
    Some((
        record.tenant_id.clone(),
        Observation::Switch {
            version: record.config_version?,
            feature,
            on,
            at_ms: record.at_ms,
        },
    ))
}

/// The features whose data is due for removal at `now_ms`: off for at least 30 days.
pub fn features_due(state: &TenantState, now_ms: i64) -> BTreeSet<Feature> {
    state
        .off_since
        .iter()
        .filter(|(_, &since)| since.saturating_add(SWITCH_OFF_DAYS * DAY_MS) <= now_ms)
        .map(|(&f, _)| f)
        .collect()
}

/// `true` when an entry finalised at `finalised_at_ms` is past a retention of `days` at
/// `now_ms` (none: kept).
pub fn retention_due(finalised_at_ms: i64, days: Option<i64>, now_ms: i64) -> bool {
    days.is_some_and(|d| finalised_at_ms.saturating_add(d.saturating_mul(DAY_MS)) <= now_ms)
}

/// What one sweep does to one index entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Rewrite the insight without these features' data.
    Strip(BTreeSet<Feature>),
    /// Tombstone the insight, its CRM records and the index entry.
    Remove,
}

/// The action due for `entry` at `now_ms`, if any (removal wins over stripping).
pub fn action_for(
    entry: &ConversationIndexEntry,
    state: &TenantState,
    now_ms: i64,
) -> Option<Action> {
    if retention_due(entry.finalised_at_ms, state.retention_days, now_ms) {
        return Some(Action::Remove);
    }
    let strip: BTreeSet<Feature> = features_due(state, now_ms)
        .into_iter()
        .filter(|f| entry.features.iter().any(|n| n == f.name()))
        .collect();
    (!strip.is_empty()).then_some(Action::Strip(strip))
}

/// The insight without the data of `features`, as if they had been off: their lists emptied
/// (for action items also the highlights of kind `commitment`, which are action items'
/// sentences), `feature_disabled` added to the skip reasons and the outcome `partial`.
/// Idempotent.
pub fn strip(insight: &Insight, features: &BTreeSet<Feature>) -> Insight {
    let mut out = insight.clone();
    for f in features {
        match f {
            Feature::ActionItems => {
                out.action_items.clear();
                out.highlights
                    .retain(|h| h.kind != HighlightKind::Commitment);
            }
            Feature::Trackers => {
                out.tracker_hits.clear();
                out.tracker_counts.clear();
            }
            Feature::Kpis => out.kpis = None,
            Feature::Questions => out.questions.clear(),
        }
    }
    if !features.is_empty() && out.outcome != Outcome::Skipped {
        out.skip_reasons.push(SkipReason::FeatureDisabled);
        out.skip_reasons.sort();
        out.skip_reasons.dedup();
        out.outcome = Outcome::Partial;
    }
    out
}

/// The index entry after its insight lost `features`: those names out of `features`, and
/// `removed` (tombstoned records) out of `outputs`.
pub fn stripped_entry(
    entry: &ConversationIndexEntry,
    features: &BTreeSet<Feature>,
    removed: &BTreeSet<super::index::OutputRef>,
) -> ConversationIndexEntry {
    let mut out = entry.clone();
    out.features
        .retain(|n| Feature::parse(n).is_none_or(|f| !features.contains(&f)));
    out.outputs.retain(|o| !removed.contains(o));
    out
}

/// After the sweep wrote some keys (key → partition and offset of its write), the records
/// read back from where its scan of the topic ended (key, partition, offset, value, in read
/// order): for each key it wrote, the newest record written before its own on that partition.
/// Such a record was written between the scan and the sweep's write (a replay, another
/// instance's erasure tombstone) and was overwritten: the sweep writes it again. Records after
/// its own, and its own, are left alone (the newest write wins anyway).
pub fn overwritten<V>(
    written: &BTreeMap<String, (i32, i64)>,
    read: impl IntoIterator<Item = (String, i32, i64, V)>,
) -> BTreeMap<String, V> {
    let mut out: BTreeMap<String, (i64, V)> = BTreeMap::new();
    for (key, partition, offset, value) in read {
        let Some(&(p, o)) = written.get(&key) else {
            continue;
        };
        if partition != p || offset >= o {
            continue;
        }
        if out.get(&key).is_none_or(|(prev, _)| *prev < offset) {
            out.insert(key, (offset, value));
        }
    }
    out.into_iter().map(|(k, (_, v))| (k, v)).collect()
}

/// The counts of one sweep for one tenant (audit record `retention_sweep`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SweepCounts {
    /// Insights rewritten without a switched-off feature's data.
    pub rewritten: i64,
    /// Insights removed whole (retention), with their CRM records and index entries.
    pub tombstoned: i64,
    /// Records written in all (rewrites and tombstones on every topic).
    pub records: i64,
}

/// The audit record of a sweep that changed something for `tenant` at `now_ms`: `count` is
/// the insights rewritten plus removed; `scope` says how many of each
/// (`rewritten=N,tombstoned=M`). The key is unique per tenant and sweep time.
pub fn sweep_record(tenant: &str, actor: &str, counts: SweepCounts, now_ms: i64) -> AuditRecord {
    AuditRecord {
        action_id: format!("retention-sweep:{tenant}:{now_ms}"),
        tenant_id: tenant.to_string(),
        action: "retention_sweep".to_string(),
        actor: actor.to_string(),
        at_ms: now_ms,
        request_id: None,
        config_version: None,
        scope: Some(format!(
            "rewritten={},tombstoned={}",
            counts.rewritten, counts.tombstoned
        )),
        count: counts.rewritten + counts.tombstoned,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::governance::index::OutputRef;

    const T0: i64 = 1_700_000_000_000;

    fn version(v: i64, on: &[Feature], days: Option<i64>, at_ms: i64) -> Observation {
        Observation::Version {
            version: v,
            on: on.iter().copied().collect(),
            retention_days: days,
            at_ms,
        }
    }

    use Feature::{ActionItems as A, Kpis as K, Questions as Q, Trackers as T};

    #[test]
    fn a_switch_off_is_dated_by_the_version_that_made_it_and_recorded_once() {
        let obs = [
            version(1, &[A, K, Q, T], None, T0),
            version(2, &[K, Q, T], None, T0 + 5 * DAY_MS),
            version(3, &[K, Q], Some(90), T0 + 9 * DAY_MS),
        ];
        let s = tenant_state("acme", &obs);
        assert_eq!(
            s.off_since,
            BTreeMap::from([(A, T0 + 5 * DAY_MS), (T, T0 + 9 * DAY_MS)])
        );
        assert_eq!(s.retention_days, Some(90));
        let keys: Vec<&str> = s
            .new_switches
            .iter()
            .map(|r| r.action_id.as_str())
            .collect();
        assert_eq!(
            keys,
            [
                "feature-off:acme:action_items:v2",
                "feature-off:acme:trackers:v3"
            ]
        );
        // The next sweep reads its records back: nothing new, same times, even once the
        // versions that made the switches are compacted away (only v3 left).
        let mut later: Vec<Observation> = s
            .new_switches
            .iter()
            .map(|r| switch_of(r).unwrap().1)
            .collect();
        later.push(version(3, &[K, Q], Some(90), T0 + 9 * DAY_MS));
        let again = tenant_state("acme", &later);
        assert_eq!(again.off_since, s.off_since);
        assert!(again.new_switches.is_empty(), "{:?}", again.new_switches);
        // A restart that reads a newer version (v4, still off) keeps the original time.
        later.push(version(4, &[K, Q], None, T0 + 20 * DAY_MS));
        let v4 = tenant_state("acme", &later);
        assert_eq!(v4.off_since.get(&A), Some(&(T0 + 5 * DAY_MS)));
        assert!(v4.new_switches.is_empty());
        assert_eq!(v4.retention_days, None, "the latest version's retention");
    }

    #[test]
    fn a_feature_switched_on_again_cancels_the_removal() {
        let obs = [
            version(1, &[A, K, Q, T], None, T0),
            version(2, &[K, Q, T], None, T0 + DAY_MS),
            version(3, &[A, K, Q, T], None, T0 + 10 * DAY_MS),
        ];
        let s = tenant_state("acme", &obs);
        assert!(s.off_since.is_empty());
        assert_eq!(s.new_switches.len(), 2);
        assert_eq!(s.new_switches[1].action, "feature_switched_on");
        assert!(features_due(&s, T0 + 100 * DAY_MS).is_empty());
    }

    #[test]
    fn a_tenant_first_seen_with_a_feature_off_is_dated_by_that_version() {
        let s = tenant_state("acme", &[version(7, &[A, K, Q], None, T0)]);
        assert_eq!(s.off_since, BTreeMap::from([(T, T0)]));
    }

    #[test]
    fn data_is_due_thirty_days_after_the_switch_and_not_a_millisecond_before() {
        let s = tenant_state(
            "acme",
            &[
                version(1, &[A, K, Q, T], None, 0),
                version(2, &[K, Q, T], None, T0),
            ],
        );
        assert!(features_due(&s, T0 + 29 * DAY_MS).is_empty());
        assert!(features_due(&s, T0 + 30 * DAY_MS - 1).is_empty());
        assert_eq!(features_due(&s, T0 + 30 * DAY_MS), BTreeSet::from([A]));
    }

    #[test]
    fn retention_counts_from_the_finalisation_time() {
        assert!(!retention_due(T0, None, T0 + 10_000 * DAY_MS), "none: kept");
        assert!(!retention_due(T0, Some(30), T0 + 30 * DAY_MS - 1));
        assert!(retention_due(T0, Some(30), T0 + 30 * DAY_MS));
        assert!(retention_due(T0, Some(0), T0));
    }

    fn entry(features: &[&str], finalised_at_ms: i64) -> ConversationIndexEntry {
        ConversationIndexEntry {
            conversation_id: "c1".into(),
            tenant_id: "acme".into(),
            participants: vec!["alice".into()],
            outputs: vec![
                OutputRef {
                    topic: "crm".into(),
                    key: "c1".into(),
                },
                OutputRef {
                    topic: "tasks".into(),
                    key: "c1-t1".into(),
                },
            ],
            finalised_at_ms,
            features: features.iter().map(|s| s.to_string()).collect(),
            telemetry_pseudonym: "p".into(),
            telemetry_key: vec![1; 32],
        }
    }

    #[test]
    fn only_entries_carrying_a_due_feature_are_stripped_and_retention_wins() {
        let s = tenant_state(
            "acme",
            &[
                version(1, &[A, K, Q, T], None, 0),
                version(2, &[K, Q], None, T0),
            ],
        );
        let now = T0 + 31 * DAY_MS;
        assert_eq!(
            action_for(&entry(&["action_items", "kpis"], T0), &s, now),
            Some(Action::Strip(BTreeSet::from([A])))
        );
        assert_eq!(action_for(&entry(&["kpis"], T0), &s, now), None);
        assert_eq!(
            action_for(&entry(&["kpis"], T0), &s, T0 + 29 * DAY_MS),
            None
        );
        let kept = TenantState {
            retention_days: Some(10),
            ..s
        };
        assert_eq!(
            action_for(&entry(&["action_items"], T0), &kept, now),
            Some(Action::Remove)
        );
        assert_eq!(
            action_for(&entry(&["kpis"], now - 9 * DAY_MS), &kept, now),
            None
        );
        let e = stripped_entry(
            &entry(&["action_items", "kpis", "questions"], T0),
            &BTreeSet::from([A]),
            &BTreeSet::from([OutputRef {
                topic: "tasks".into(),
                key: "c1-t1".into(),
            }]),
        );
        assert_eq!(e.features, ["kpis", "questions"]);
        assert_eq!(e.outputs.len(), 1);
    }

    #[test]
    fn stripping_empties_the_features_lists_and_says_so() {
        use crate::extract::{analyse, ExtractContext, Settings};
        use crate::insight::FinalisedBy;
        use crate::model::{Conversation, Segment};
        let conv = Conversation {
            id: "c1".into(),
            tenant_id: "acme".into(),
            segments: vec![Segment {
                id: "1".into(),
                speaker: "alice".into(),
                text: "I will send you the proposal by Friday. Can you review it?".into(),
                ..Segment::default()
            }],
            ..Conversation::default()
        };
        let settings = Settings::default();
        let ctx = ExtractContext {
            settings: &settings,
            tenant: None,
            finalised_by: FinalisedBy::EndEvent,
            reference_time: None,
        };
        let full = analyse(&conv, &ctx);
        assert!(!full.action_items.is_empty() && full.kpis.is_some());
        let out = strip(&full, &BTreeSet::from([A, K]));
        assert!(out.action_items.is_empty() && out.kpis.is_none());
        assert!(out
            .highlights
            .iter()
            .all(|h| h.kind != HighlightKind::Commitment));
        assert_eq!(out.questions, full.questions, "questions are kept");
        assert!(out.skip_reasons.contains(&SkipReason::FeatureDisabled));
        assert_eq!(out.outcome, Outcome::Partial);
        assert_eq!(strip(&out, &BTreeSet::from([A, K])), out, "idempotent");
        assert_eq!(strip(&full, &BTreeSet::new()), full);
    }

    #[test]
    fn a_record_written_between_the_scan_and_the_sweeps_write_is_found() {
        let written = BTreeMap::from([("c1".to_string(), (0, 10)), ("c2".to_string(), (1, 20))]);
        let read = [
            ("c1".to_string(), 0, 7, "replayed"),
            ("c1".to_string(), 0, 8, "tombstone"),
            ("c1".to_string(), 0, 10, "the sweep's own"),
            ("c1".to_string(), 0, 11, "after: wins anyway"),
            ("c2".to_string(), 0, 5, "other partition"),
            ("c2".to_string(), 1, 21, "after"),
            ("c3".to_string(), 1, 1, "not written by the sweep"),
        ];
        assert_eq!(
            overwritten(&written, read),
            BTreeMap::from([("c1".to_string(), "tombstone")])
        );
        assert!(overwritten::<()>(&written, []).is_empty());
    }

    #[test]
    fn the_sweep_record_carries_counts_only() {
        let r = sweep_record(
            "acme",
            "retention-sweep",
            SweepCounts {
                rewritten: 2,
                tombstoned: 1,
                records: 7,
            },
            T0,
        );
        assert_eq!(r.action, "retention_sweep");
        assert_eq!(r.count, 3);
        assert_eq!(r.scope.as_deref(), Some("rewritten=2,tombstoned=1"));
        assert_eq!(r.action_id, format!("retention-sweep:acme:{T0}"));
    }
}
