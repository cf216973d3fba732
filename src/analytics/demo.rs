//! A realistic, deterministic telemetry stream for tests and the demo report: enriched
//! interaction records as the interactions step writes them (pseudonymous ids, the
//! representative's action in `representative_action`, `ran` for `viewed` in the legacy
//! `action`), mixed with the pipeline's own `ran` records, over several weeks and tenants.
//!
//! The representatives' behaviour is invented but shaped like real use: most suggestions are
//! viewed, about two thirds acted upon; acceptance grows with the action item's confidence
//! (more slowly than the confidence: the model is over-confident at the top), differs by type
//! and language, and improves a little week by week; discards carry reason codes.

use crate::events::{InteractionAction, InteractionTelemetry};
use crate::extract::action_items::model::Rng;

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

    fn between(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.unit() * (hi - lo) as f64) as i64
    }
}

const MINUTE: i64 = 60_000;

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
        let conversation = g.hex();
        let base = |action, feature: &str, outcome: &str, at| InteractionTelemetry {
            tenant_id: tenant.to_string(),
            conversation_id: conversation.clone(),
            feature: feature.to_string(),
            action,
            outcome: outcome.to_string(),
            duration_us: 0,
            latency_ms: None,
            items: 1,
            recorded_at_ms: at,
            extractor_version: "debrief-0.1.0".to_string(),
            item_id: None,
            item_kind: None,
            item_type: None,
            language: None,
            confidence: None,
            profile: None,
            edit_size: None,
            reason_code: None,
            representative_action: None,
        };
        // The pipeline's own record: left out by the report.
        out.push(InteractionTelemetry {
            duration_us: g.between(2_000, 40_000),
            latency_ms: Some(g.between(20, 200)),
            items: 0,
            ..base(InteractionAction::Ran, "insight", "complete", at)
        });
        let weeks = day as f64 / 7.0;
        for _ in 0..g.between(2, 9) {
            let kind = g.pick(&[
                ("action_item", 0.5),
                ("tracker_hit", 0.3),
                ("question", 0.2),
            ]);
            let (feature, item_type, confidence, mut p) = match kind {
                "action_item" => {
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
                    ("action_items", t, Some(c), p)
                }
                "tracker_hit" => {
                    let t = g.pick(&[("keyword", 0.7), ("competitor", 0.3)]);
                    ("trackers", t, None, if t == "keyword" { 0.52 } else { 0.7 })
                }
                _ => {
                    let t = g.pick(&[("external", 0.55), ("internal", 0.35), ("unknown", 0.1)]);
                    ("questions", t, None, 0.42)
                }
            };
            p += match language {
                "fr" => -0.03,
                "de" => -0.06,
                "es" => -0.1,
                _ => 0.0,
            } + 0.012 * weeks;
            let item = g.hex();
            let record = |action: &str, at: i64| {
                let legacy = match action {
                    "accepted" => InteractionAction::Accepted,
                    "copied" => InteractionAction::Copied,
                    "edited_and_sent" => InteractionAction::EditedAndSent,
                    "discarded" => InteractionAction::Discarded,
                    "thumbs_up" => InteractionAction::ThumbsUp,
                    "thumbs_down" => InteractionAction::ThumbsDown,
                    _ => InteractionAction::Ran,
                };
                InteractionTelemetry {
                    item_id: Some(item.clone()),
                    item_kind: Some(kind.to_string()),
                    item_type: Some(item_type.to_string()),
                    language: Some(language.to_string()),
                    confidence,
                    profile: Some(profile.to_string()),
                    representative_action: Some(action.to_string()),
                    ..base(legacy, feature, "interaction", at)
                }
            };
            let mut t = at + g.between(MINUTE, 90 * MINUTE);
            let viewed = g.chance(0.92);
            if viewed {
                out.push(record("viewed", t));
            }
            if !g.chance(if viewed { 0.68 } else { 0.2 }) {
                continue;
            }
            t += g.between(MINUTE, 40 * MINUTE);
            if g.chance(p.clamp(0.02, 0.98)) {
                let action = g.pick(&[
                    ("accepted", 0.4),
                    ("copied", 0.25),
                    ("edited_and_sent", 0.2),
                    ("thumbs_up", 0.15),
                ]);
                let mut r = record(action, t);
                if action == "edited_and_sent" {
                    r.edit_size = Some(g.between(3, 160));
                }
                out.push(r);
                if action == "copied" && g.chance(0.15) {
                    out.push(record("thumbs_up", t + g.between(MINUTE, 10 * MINUTE)));
                }
            } else {
                let action = g.pick(&[("discarded", 0.8), ("thumbs_down", 0.2)]);
                let reasons: &[(Option<&str>, f64)] = match kind {
                    "action_item" => &[
                        (Some("not_an_action"), 0.35),
                        (Some("wrong_owner"), 0.2),
                        (Some("wrong_due_date"), 0.12),
                        (Some("duplicate"), 0.15),
                        (None, 0.18),
                    ],
                    "tracker_hit" => &[
                        (Some("irrelevant"), 0.6),
                        (Some("wrong_language"), 0.1),
                        (None, 0.3),
                    ],
                    _ => &[
                        (Some("irrelevant"), 0.5),
                        (Some("duplicate"), 0.2),
                        (None, 0.3),
                    ],
                };
                let mut r = record(action, t);
                r.reason_code = g.pick(reasons).map(str::to_string);
                out.push(r);
            }
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
