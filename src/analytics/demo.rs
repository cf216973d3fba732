//! A realistic, deterministic telemetry stream for tests and the demo report: interaction
//! events of invented representatives, enriched by the interactions reader's own
//! [`crate::interactions::enrich`] (so the records are exactly what the service writes:
//! pseudonymous ids, the representative's action in `representative_action`, `ran` for
//! `viewed` in the legacy `action`), mixed with the pipeline's own `ran` records, over several
//! weeks and tenants.
//!
//! The representatives' behaviour is invented but shaped like real use: most suggestions are
//! viewed, about two thirds acted upon; acceptance grows with the action item's confidence
//! (more slowly than the confidence: the model is over-confident at the top), differs by type
//! and language, and improves a little week by week; discards carry reason codes.

use crate::events::{
    InteractionAction, InteractionEvent, InteractionSource, InteractionTelemetry,
    RepresentativeAction,
};
use crate::extract::action_items::model::Rng;
use crate::extract::ids::ItemKind;
use crate::interactions::{enrich, Joined};

/// What to generate.
#[derive(Debug, Clone, Copy)]
pub struct DemoSpec {
    /// Seed: the same seed gives the same records.
    pub seed: u64,
    /// First day, ms since the Unix epoch (UTC midnight).
    pub start_ms: i64,
    /// Days covered.
    pub days: u32,
    /// Conversations (each has 2 to 8 suggestions).
    pub conversations: u32,
}

impl Default for DemoSpec {
    fn default() -> Self {
        DemoSpec {
            seed: 7,
            // 2026-09-07, a Monday.
            start_ms: 1_788_739_200_000,
            days: 56,
            conversations: 1500,
        }
    }
}

struct Gen(Rng);

impl Gen {
    fn unit(&mut self) -> f64 {
        (self.0.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// Picks from `(value, weight)` pairs.
    fn pick<T: Copy>(&mut self, options: &[(T, f64)]) -> T {
        let total: f64 = options.iter().map(|o| o.1).sum();
        let mut x = self.unit() * total;
        for (v, w) in options {
            if x < *w {
                return *v;
            }
            x -= w;
        }
        options[options.len() - 1].0
    }

    fn hex(&mut self) -> String {
        format!("{:016x}{:016x}", self.0.next_u64(), self.0.next_u64())
    }

    fn bytes(&mut self) -> Vec<u8> {
        (0..4)
            .flat_map(|_| self.0.next_u64().to_le_bytes())
            .collect()
    }

    fn between(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.unit() * (hi - lo) as f64) as i64
    }
}

const MINUTE: i64 = 60_000;

/// `extractor_version` of the generated records.
const VERSION: &str = "debrief-0.1.0";

/// Generates the records, in time order.
pub fn telemetry(spec: &DemoSpec) -> Vec<InteractionTelemetry> {
    let mut g = Gen(Rng::new(spec.seed));
    let mut out = Vec::new();
    let days = spec.days.max(1) as i64;
    for _ in 0..spec.conversations {
        let tenant = g.pick(&[
            ("demo-acme", 0.5),
            ("demo-globex", 0.3),
            ("demo-initech", 0.2),
        ]);
        let language = g.pick(&[("en", 0.5), ("fr", 0.2), ("de", 0.18), ("es", 0.12)]);
        let profile = g.pick(&[("default", 0.7), ("sales", 0.3)]);
        let day = g.between(0, days);
        let at = spec.start_ms + day * 86_400_000 + g.between(8 * 60, 18 * 60) * MINUTE;
        let conversation = format!("demo-call-{}", g.hex());
        let telemetry_key = g.bytes();
        let representative = format!("demo-rep-{}", g.between(1, 40));
        // The pipeline's own record: left out by the report.
        out.push(InteractionTelemetry {
            tenant_id: tenant.to_string(),
            conversation_id: crate::governance::pseudonym::pseudonym(&telemetry_key, &conversation),
            feature: "insight".to_string(),
            action: InteractionAction::Ran,
            outcome: "complete".to_string(),
            duration_us: g.between(2_000, 40_000),
            latency_ms: Some(g.between(20, 200)),
            items: 0,
            recorded_at_ms: at,
            extractor_version: VERSION.to_string(),
            reason: None,
            item_id: None,
            item_kind: None,
            item_type: None,
            language: None,
            confidence: None,
            profile: None,
            edit_size: None,
            reason_code: None,
            representative_action: None,
        });
        let weeks = day as f64 / 7.0;
        for _ in 0..g.between(2, 9) {
            let kind = g.pick(&[
                (ItemKind::ActionItem, 0.5),
                (ItemKind::TrackerHit, 0.3),
                (ItemKind::Question, 0.2),
            ]);
            let (item_type, confidence, mut p) = match kind {
                ItemKind::ActionItem => {
                    let t = g.pick(&[
                        ("task", 0.35),
                        ("email", 0.3),
                        ("call", 0.2),
                        ("meeting", 0.15),
                    ]);
                    let c = (0.12 + 0.86 * g.unit().sqrt()).min(0.99);
                    let c = (c * 1000.0).round() / 1000.0;
                    let p = 0.08
                        + 0.72 * c.powf(1.6)
                        + match t {
                            "email" => 0.06,
                            "task" => -0.08,
                            _ => 0.0,
                        };
                    (t, Some(c), p)
                }
                ItemKind::TrackerHit => {
                    let t = g.pick(&[("keyword", 0.7), ("competitor", 0.3)]);
                    (t, None, if t == "keyword" { 0.52 } else { 0.7 })
                }
                ItemKind::Question => {
                    let t = g.pick(&[("external", 0.55), ("internal", 0.35), ("unknown", 0.1)]);
                    (t, None, 0.42)
                }
            };
            p += match language {
                "fr" => -0.03,
                "de" => -0.06,
                "es" => -0.1,
                _ => 0.0,
            } + 0.012 * weeks;
            let joined = Joined {
                kind,
                item_type: item_type.to_string(),
                language: Some(language.to_string()),
                confidence,
                profile: Some(profile.to_string()),
                telemetry_key: telemetry_key.clone(),
            };
            let item = format!("{:016x}", g.0.next_u64());
            let record = |action: RepresentativeAction, at: i64| {
                let event = InteractionEvent {
                    tenant_id: tenant.to_string(),
                    conversation_id: conversation.clone(),
                    item_id: item.clone(),
                    action,
                    edit_size: None,
                    reason_code: None,
                    actor: representative.clone(),
                    occurred_at_ms: at,
                    source: InteractionSource::Crm,
                };
                (event, joined.clone())
            };
            let mut t = at + g.between(MINUTE, 90 * MINUTE);
            let mut events = Vec::new();
            let viewed = g.chance(0.92);
            if viewed {
                events.push(record(RepresentativeAction::Viewed, t));
            }
            if !g.chance(if viewed { 0.68 } else { 0.2 }) {
                out.extend(events.iter().map(|(e, j)| enrich(e, j, VERSION)));
                continue;
            }
            t += g.between(MINUTE, 40 * MINUTE);
            if g.chance(p.clamp(0.02, 0.98)) {
                let action = g.pick(&[
                    (RepresentativeAction::Accepted, 0.4),
                    (RepresentativeAction::Copied, 0.25),
                    (RepresentativeAction::EditedAndSent, 0.2),
                    (RepresentativeAction::ThumbsUp, 0.15),
                ]);
                let mut r = record(action, t);
                if action == RepresentativeAction::EditedAndSent {
                    r.0.edit_size = Some(g.between(3, 160));
                }
                events.push(r);
                if action == RepresentativeAction::Copied && g.chance(0.15) {
                    let later = t + g.between(MINUTE, 10 * MINUTE);
                    events.push(record(RepresentativeAction::ThumbsUp, later));
                }
            } else {
                let action = g.pick(&[
                    (RepresentativeAction::Discarded, 0.8),
                    (RepresentativeAction::ThumbsDown, 0.2),
                ]);
                let reasons: &[(Option<&str>, f64)] = match kind {
                    ItemKind::ActionItem => &[
                        (Some("not_an_action"), 0.35),
                        (Some("wrong_owner"), 0.2),
                        (Some("wrong_due_date"), 0.12),
                        (Some("duplicate"), 0.15),
                        (None, 0.18),
                    ],
                    ItemKind::TrackerHit => &[
                        (Some("irrelevant"), 0.6),
                        (Some("wrong_language"), 0.1),
                        (None, 0.3),
                    ],
                    ItemKind::Question => &[
                        (Some("irrelevant"), 0.5),
                        (Some("duplicate"), 0.2),
                        (None, 0.3),
                    ],
                };
                let mut r = record(action, t);
                r.0.reason_code = g.pick(reasons).map(str::to_string);
                events.push(r);
            }
            out.extend(events.iter().map(|(e, j)| enrich(e, j, VERSION)));
        }
    }
    out.sort_by_key(|r| r.recorded_at_ms);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_shaped_like_use() {
        let spec = DemoSpec {
            conversations: 300,
            ..DemoSpec::default()
        };
        let a = telemetry(&spec);
        assert_eq!(a, telemetry(&spec));
        assert_ne!(a, telemetry(&DemoSpec { seed: 8, ..spec }));
        let pipeline = a
            .iter()
            .filter(|r| r.representative_action.is_none())
            .count();
        assert_eq!(pipeline, 300);
        let acted = a
            .iter()
            .filter(|r| {
                r.representative_action
                    .as_deref()
                    .is_some_and(|x| x != "viewed")
            })
            .count();
        assert!(acted > 500, "{acted}");
        assert!(a
            .windows(2)
            .all(|w| w[0].recorded_at_ms <= w[1].recorded_at_ms));
        assert!(a
            .iter()
            .filter(|r| r.item_kind.as_deref() == Some("action_item"))
            .all(|r| r.confidence.is_some_and(|c| (0.0..=1.0).contains(&c))));
    }
}
