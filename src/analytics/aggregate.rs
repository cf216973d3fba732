//! From interaction records to the figures of the report: one verdict per suggestion,
//! acceptance per feature, language and type over time, the reliability of action-item
//! confidences, and the most discarded kinds of suggestion (definitions: the module above).

use super::calibration::Reliability;
use super::{bounded_label, verdict, Interaction, DAILY_UP_TO_DAYS};
use crate::events::RepresentativeAction;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Most lines drawn per chart; smaller ones are summed into `other`.
pub const MAX_LINES: usize = 6;

/// Most rows in the table and chart of discarded kinds.
pub const MAX_DISCARD_ROWS: usize = 10;

const DAY_MS: i64 = 86_400_000;

/// Accepted out of acted upon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rate {
    /// Suggestions accepted.
    pub accepted: u64,
    /// Suggestions acted upon.
    pub acted: u64,
}

impl Rate {
    /// accepted / acted, `None` when nothing was acted upon.
    pub fn value(&self) -> Option<f64> {
        (self.acted > 0).then(|| self.accepted as f64 / self.acted as f64)
    }

    fn add(&mut self, accepted: bool) {
        self.acted += 1;
        if accepted {
            self.accepted += 1;
        }
    }

    fn merge(&mut self, o: Rate) {
        self.accepted += o.accepted;
        self.acted += o.acted;
    }
}

/// Period of the time axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    /// UTC days.
    Day,
    /// ISO weeks (Monday to Sunday, UTC).
    Week,
}

/// One line of a chart: a label and its acceptance per period.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// What the line is (a feature, a language, `kind/type`, or `other`).
    pub label: String,
    /// Over the whole span.
    pub total: Rate,
    /// Per period start (days since the Unix epoch), only periods with suggestions acted
    /// upon, in time order.
    pub points: Vec<(i64, Rate)>,
}

/// A kind of suggestion and how often it was discarded.
#[derive(Debug, Clone, PartialEq)]
pub struct DiscardRow {
    /// `action_item`, `tracker_hit`, `question` (bounded).
    pub kind: String,
    /// Type within the kind (bounded).
    pub item_type: String,
    /// Suggestions of this kind and type discarded (negative verdict).
    pub discarded: u64,
    /// Suggestions of this kind and type acted upon.
    pub acted: u64,
    /// Reason codes of the discards, most frequent first (`none` when not given).
    pub reasons: Vec<(String, u64)>,
}

/// Everything the report shows.
#[derive(Debug, Clone)]
pub struct Summary {
    /// The tenant the report is restricted to, if any.
    pub tenant: Option<String>,
    /// Distinct tenants whose records were used.
    pub tenants: usize,
    /// Interaction records used.
    pub records: u64,
    /// Records of the tenant(s) reported on without a representative action (the pipeline's
    /// `ran`, `skipped`), left out.
    pub pipeline_records: u64,
    /// Records of other tenants left out.
    pub other_tenant_records: u64,
    /// Records per action, in [`RepresentativeAction::VALID`] order.
    pub actions: [u64; 7],
    /// Distinct suggestions.
    pub suggestions: u64,
    /// Suggestions viewed.
    pub viewed: u64,
    /// Suggestions acted upon and accepted, overall.
    pub overall: Rate,
    /// Time axis period.
    pub period: Period,
    /// Start of every period from the first verdict to the last (days since the epoch).
    pub periods: Vec<i64>,
    /// Acceptance per feature.
    pub by_feature: Vec<Line>,
    /// Acceptance per language.
    pub by_language: Vec<Line>,
    /// Acceptance per `kind/type`.
    pub by_type: Vec<Line>,
    /// Action items acted upon, by confidence.
    pub reliability: Reliability,
    /// Action items acted upon without a usable confidence.
    pub unscored_action_items: u64,
    /// Most discarded kinds of suggestion, most discarded first.
    pub discarded: Vec<DiscardRow>,
}

#[derive(Debug, Default)]
struct Item {
    feature: String,
    kind: String,
    item_type: String,
    language: String,
    confidence: Option<f64>,
    viewed: bool,
    /// (time, arrival order, positive, reason code) of the latest decisive action.
    verdict: Option<(i64, u64, bool, String)>,
}

/// Collects interaction records; [`Aggregator::finish`] gives the [`Summary`].
#[derive(Debug, Default)]
pub struct Aggregator {
    tenant: Option<String>,
    tenants: BTreeSet<String>,
    items: HashMap<(String, String), Item>,
    seq: u64,
    records: u64,
    pipeline_records: u64,
    other_tenant_records: u64,
    actions: [u64; 7],
}

impl Aggregator {
    /// An aggregator over every tenant (`None`) or one.
    pub fn new(tenant: Option<String>) -> Aggregator {
        Aggregator {
            tenant,
            ..Aggregator::default()
        }
    }

    /// Adds one record. Records of other tenants and then pipeline records (no
    /// representative action) are counted and left out.
    pub fn add(&mut self, r: &Interaction) {
        if self.tenant.as_ref().is_some_and(|t| *t != r.tenant_id) {
            self.other_tenant_records += 1;
            return;
        }
        let Some(action) = r.action else {
            self.pipeline_records += 1;
            return;
        };
        self.records += 1;
        self.seq += 1;
        if let Some(i) = RepresentativeAction::VALID
            .iter()
            .position(|a| *a == action)
        {
            self.actions[i] += 1;
        }
        if !self.tenants.contains(&r.tenant_id) {
            self.tenants.insert(r.tenant_id.clone());
        }
        let id = match &r.item_id {
            Some(id) => id.clone(),
            // Its own suggestion: a key no item id can take (ids are not empty).
            None => format!("\u{0}{}", self.seq),
        };
        let item = self.items.entry((r.tenant_id.clone(), id)).or_default();
        if item.feature.is_empty() {
            item.feature = bounded_label(Some(&r.feature));
        }
        if r.item_kind.is_some() || item.kind.is_empty() {
            item.kind = bounded_label(r.item_kind.as_deref());
        }
        if r.item_type.is_some() || item.item_type.is_empty() {
            item.item_type = bounded_label(r.item_type.as_deref());
        }
        if r.language.is_some() || item.language.is_empty() {
            item.language = bounded_label(r.language.as_deref());
        }
        if let Some(c) = r.confidence.filter(|c| (0.0..=1.0).contains(c)) {
            item.confidence = Some(c);
        }
        match verdict(action) {
            None => item.viewed = true,
            Some(positive) => {
                let newer = item
                    .verdict
                    .as_ref()
                    .is_none_or(|(at, seq, _, _)| (r.recorded_at_ms, self.seq) > (*at, *seq));
                if newer {
                    let reason = if positive {
                        String::new()
                    } else {
                        bounded_label(r.reason_code.as_deref())
                    };
                    item.verdict = Some((r.recorded_at_ms, self.seq, positive, reason));
                }
            }
        }
    }

    /// Counts a record of another tenant that the caller left out without reading it (the
    /// telemetry topic's key is the tenant id).
    pub fn skip_other_tenant(&mut self) {
        self.other_tenant_records += 1;
    }

    /// The figures.
    pub fn finish(self) -> Summary {
        let mut overall = Rate::default();
        let mut viewed = 0;
        let mut days: BTreeSet<i64> = BTreeSet::new();
        for item in self.items.values() {
            viewed += u64::from(item.viewed);
            if let Some((at, _, _, _)) = item.verdict {
                days.insert(at.div_euclid(DAY_MS));
            }
        }
        let (first, last) = match (days.first(), days.last()) {
            (Some(&f), Some(&l)) => (f, l),
            _ => (0, -1),
        };
        let period = if last - first < DAILY_UP_TO_DAYS {
            Period::Day
        } else {
            Period::Week
        };
        let bucket = |day: i64| match period {
            Period::Day => day,
            // 1970-01-01 was a Thursday: Monday is 3 days earlier.
            Period::Week => day - (day + 3).rem_euclid(7),
        };
        let periods: Vec<i64> = if last < first {
            Vec::new()
        } else {
            let step = if period == Period::Day { 1 } else { 7 };
            (0..)
                .map(|k| bucket(first) + k * step)
                .take_while(|&d| d <= last)
                .collect()
        };
        type Cells = BTreeMap<String, BTreeMap<i64, Rate>>;
        let (mut feature, mut language, mut types): (Cells, Cells, Cells) = Default::default();
        let mut reliability = Reliability::default();
        let mut unscored = 0;
        // Per (kind, type): discarded, acted upon, reason codes of the discards.
        type Discards = BTreeMap<(String, String), (u64, u64, BTreeMap<String, u64>)>;
        let mut discards: Discards = BTreeMap::new();
        // Sorted for a deterministic report whatever the hash order.
        let mut items: Vec<(&(String, String), &Item)> = self.items.iter().collect();
        items.sort_by(|a, b| a.0.cmp(b.0));
        for (_, item) in items {
            let Some((at, _, positive, reason)) = &item.verdict else {
                continue;
            };
            overall.add(*positive);
            let p = bucket(at.div_euclid(DAY_MS));
            let type_label = format!("{}/{}", item.kind, item.item_type);
            for (cells, label) in [
                (&mut feature, &item.feature),
                (&mut language, &item.language),
                (&mut types, &type_label),
            ] {
                cells
                    .entry(label.clone())
                    .or_default()
                    .entry(p)
                    .or_default()
                    .add(*positive);
            }
            let is_action_item = item.kind == "action_item"
                || (item.kind == "none" && item.feature == "action_items");
            if is_action_item {
                match item.confidence {
                    Some(c) => {
                        reliability.add(c, *positive);
                    }
                    None => unscored += 1,
                }
            }
            let d = discards
                .entry((item.kind.clone(), item.item_type.clone()))
                .or_default();
            d.1 += 1;
            if !positive {
                d.0 += 1;
                *d.2.entry(reason.clone()).or_default() += 1;
            }
        }
        let mut discarded: Vec<DiscardRow> = discards
            .into_iter()
            .filter(|(_, (n, _, _))| *n > 0)
            .map(|((kind, item_type), (n, acted, reasons))| {
                let mut reasons: Vec<(String, u64)> = reasons.into_iter().collect();
                reasons.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                DiscardRow {
                    kind,
                    item_type,
                    discarded: n,
                    acted,
                    reasons,
                }
            })
            .collect();
        discarded.sort_by(|a, b| {
            b.discarded
                .cmp(&a.discarded)
                .then_with(|| (&a.kind, &a.item_type).cmp(&(&b.kind, &b.item_type)))
        });
        discarded.truncate(MAX_DISCARD_ROWS);
        Summary {
            tenant: self.tenant,
            tenants: self.tenants.len(),
            records: self.records,
            pipeline_records: self.pipeline_records,
            other_tenant_records: self.other_tenant_records,
            actions: self.actions,
            suggestions: self.items.len() as u64,
            viewed,
            overall,
            period,
            periods,
            by_feature: lines(feature),
            by_language: lines(language),
            by_type: lines(types),
            reliability,
            unscored_action_items: unscored,
            discarded,
        }
    }
}

/// The [`MAX_LINES`] labels with the most suggestions acted upon; the others summed into
/// `other`.
fn lines(cells: BTreeMap<String, BTreeMap<i64, Rate>>) -> Vec<Line> {
    let mut all: Vec<Line> = cells
        .into_iter()
        .map(|(label, per)| {
            let mut total = Rate::default();
            per.values().for_each(|r| total.merge(*r));
            Line {
                label,
                total,
                points: per.into_iter().collect(),
            }
        })
        .collect();
    all.sort_by(|a, b| {
        b.total
            .acted
            .cmp(&a.total.acted)
            .then_with(|| a.label.cmp(&b.label))
    });
    if all.len() > MAX_LINES {
        let rest = all.split_off(MAX_LINES - 1);
        let mut total = Rate::default();
        let mut per: BTreeMap<i64, Rate> = BTreeMap::new();
        for l in rest {
            total.merge(l.total);
            for (p, r) in l.points {
                per.entry(p).or_default().merge(r);
            }
        }
        all.push(Line {
            label: "other".to_string(),
            total,
            points: per.into_iter().collect(),
        });
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_764_000_000_000; // 2025-11-24T16:00Z, a Monday

    fn rec(item: &str, action: RepresentativeAction, at: i64) -> Interaction {
        Interaction {
            tenant_id: "t1".to_string(),
            item_id: Some(item.to_string()),
            feature: "action_items".to_string(),
            action: Some(action),
            item_kind: Some("action_item".to_string()),
            item_type: Some("email".to_string()),
            language: Some("en".to_string()),
            confidence: Some(0.85),
            reason_code: None,
            recorded_at_ms: at,
        }
    }

    #[test]
    fn the_last_decisive_action_is_the_verdict() {
        let mut a = Aggregator::new(None);
        // i1: viewed, copied, then discarded: a discard.
        a.add(&rec("i1", RepresentativeAction::Viewed, T0));
        a.add(&rec("i1", RepresentativeAction::Copied, T0 + 1));
        a.add(&Interaction {
            reason_code: Some("wrong_owner".to_string()),
            ..rec("i1", RepresentativeAction::Discarded, T0 + 2)
        });
        // i2: thumbs down, then edited and sent (arriving out of order): accepted.
        a.add(&rec("i2", RepresentativeAction::EditedAndSent, T0 + 10));
        a.add(&rec("i2", RepresentativeAction::ThumbsDown, T0 + 5));
        // i3: only viewed: not acted upon.
        a.add(&rec("i3", RepresentativeAction::Viewed, T0));
        // A pipeline record.
        a.add(&Interaction {
            action: None,
            ..rec("x", RepresentativeAction::Viewed, T0)
        });
        let s = a.finish();
        assert_eq!(s.records, 6);
        assert_eq!(s.pipeline_records, 1);
        assert_eq!(s.suggestions, 3);
        assert_eq!(s.viewed, 2);
        assert_eq!(
            s.overall,
            Rate {
                accepted: 1,
                acted: 2
            }
        );
        assert_eq!(s.actions, [2, 0, 1, 1, 1, 0, 1]);
        assert_eq!(s.discarded.len(), 1);
        assert_eq!(s.discarded[0].kind, "action_item");
        assert_eq!(s.discarded[0].reasons, vec![("wrong_owner".to_string(), 1)]);
        assert_eq!(s.discarded[0].acted, 2);
        assert_eq!(s.reliability.total(), 2);
    }

    #[test]
    fn periods_are_days_or_weeks_and_lines_are_capped() {
        let mut a = Aggregator::new(None);
        for d in 0..3 {
            a.add(&rec(
                &format!("d{d}"),
                RepresentativeAction::Accepted,
                T0 + d * DAY_MS,
            ));
        }
        let s = a.finish();
        assert_eq!(s.period, Period::Day);
        let day0 = T0.div_euclid(DAY_MS);
        assert_eq!(s.periods, vec![day0, day0 + 1, day0 + 2]);
        assert_eq!(s.by_feature[0].points.len(), 3);

        let mut a = Aggregator::new(None);
        for (i, lang) in ["en", "fr", "de", "es", "it", "nl", "pt", "ja"]
            .iter()
            .enumerate()
        {
            let mut r = rec(
                &format!("w{i}"),
                RepresentativeAction::Discarded,
                T0 + i as i64 * 10 * DAY_MS,
            );
            r.language = Some(lang.to_string());
            a.add(&r);
        }
        let s = a.finish();
        assert_eq!(s.period, Period::Week);
        // 70 days from a Monday: weeks starting on Mondays, 11 of them.
        assert_eq!(s.periods.len(), 11);
        assert!(s.periods.iter().all(|d| (d + 3).rem_euclid(7) == 0));
        assert_eq!(s.by_language.len(), MAX_LINES);
        let other = s.by_language.last().unwrap();
        assert_eq!(other.label, "other");
        assert_eq!(other.total.acted, 3);
        assert_eq!(s.overall.value(), Some(0.0));
    }

    #[test]
    fn other_tenants_and_free_text_stay_out() {
        let mut a = Aggregator::new(Some("t2".to_string()));
        a.add(&rec("i1", RepresentativeAction::Accepted, T0));
        let mut r = rec("i1", RepresentativeAction::Discarded, T0);
        r.tenant_id = "t2".to_string();
        r.reason_code = Some("call me at jane@example.com".to_string());
        r.item_type = None;
        a.add(&r);
        let s = a.finish();
        assert_eq!(s.other_tenant_records, 1);
        assert_eq!(s.tenants, 1);
        assert_eq!(s.discarded[0].reasons[0].0, "other");
        assert_eq!(s.discarded[0].item_type, "none");
    }
}
