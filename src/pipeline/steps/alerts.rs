//! The alerts step (output), run inside the live step (`steps/live.rs`): every segment the
//! live state takes reaches the conversation's rule state ([`crate::rules`]), and the alerts
//! it fires are encoded and produced to `kafka.topics.alerts` (key: conversation id).
//!
//! Like live records, alerts take **no offset hold**: while a conversation is open its first
//! offset holds the commit back, so a crash replays it and its alerts are sent again (the
//! same ones, with the same `occurrence`: the evaluation depends only on the segments); the
//! alerts decided at the end of a conversation may be lost if the service stops after its
//! insight was acknowledged and before they were. A failed delivery is counted
//! (`debrief_alerts_total{trigger="failed"}`) and does not stop the service.
//!
//! A conversation keeps the rules of the tenant configuration in force at its first segment.
//! Tenants without rules cost nothing here.

use super::encode::Encode;
use super::produce::{produce_at, Delivery, Produced, Producer};
use crate::live::SegmentFacts;
use crate::metrics::Metrics;
use crate::rules::{Alert, ConversationRules, SegmentView};
use crate::tenant::TenantRuntime;
use std::collections::HashMap;
use std::sync::Arc;

/// The rule state of every open conversation whose tenant has rules, and the alerts to send.
pub(crate) struct Alerts {
    open: HashMap<String, (u32, ConversationRules)>,
    encode: Encode,
    topic: Arc<str>,
    /// Alerts fired, with the stream time (ms since the epoch) of the record that fired them.
    out: Vec<(Alert, i64)>,
}

impl Alerts {
    /// The step, writing to `topic`.
    pub fn new(topic: &str, encode: Encode) -> Alerts {
        Alerts {
            open: HashMap::new(),
            encode,
            topic: Arc::from(topic),
            out: Vec::new(),
        }
    }

    /// Evaluates the rules of conversation `id` (on `lane`) on one segment the live state
    /// took, its record at stream time `time_ms`. Returns `true` when a rule fired.
    pub fn segment(
        &mut self,
        lane: u32,
        id: &str,
        tenant: Option<&TenantRuntime>,
        facts: &SegmentFacts,
        time_ms: i64,
    ) -> bool {
        let state = match self.open.get_mut(id) {
            Some((_, state)) => state,
            None => {
                let Some(rules) = tenant.map(|t| &t.rules).filter(|r| !r.is_empty()) else {
                    return false;
                };
                let state = ConversationRules::new(Arc::clone(rules), id);
                &mut self.open.entry(id.to_string()).or_insert((lane, state)).1
            }
        };
        let fired = state.observe(SegmentView {
            segment_id: &facts.segment_id,
            speaker: &facts.speaker,
            side: facts.side,
            start_ms: facts.start_ms,
            end_ms: facts.end_ms,
            backchannel: facts.backchannel,
            interruption: facts.interruption,
            gap_before_ms: facts.gap_before_ms,
            hits: &facts.hits,
        });
        let any = !fired.is_empty();
        self.out.extend(fired.into_iter().map(|a| (a, time_ms)));
        any
    }

    /// Conversation `id` was finalised at stream time `time_ms`: the rules that wait for the
    /// end are decided. Returns `true` when a rule fired.
    pub fn close(&mut self, id: &str, time_ms: i64) -> bool {
        let Some((_, mut state)) = self.open.remove(id) else {
            return false;
        };
        let fired = state.finish();
        let any = !fired.is_empty();
        self.out.extend(fired.into_iter().map(|a| (a, time_ms)));
        any
    }

    /// Forgets a conversation without deciding anything (erased, replayed tail, opted out).
    pub fn forget(&mut self, id: &str) {
        self.open.remove(id);
    }

    /// Forgets a revoked lane's conversations.
    pub fn forget_lane(&mut self, lane: u32) {
        self.open.retain(|_, (l, _)| *l != lane);
    }

    /// Encodes and produces the alerts fired (no holds), each with the Kafka timestamp of the
    /// transcript record that fired it (its stream time: a replay writes the same). An alert
    /// that cannot be encoded or handed to the producer is counted as failed and logged,
    /// never fatal.
    pub fn send(&mut self, producer: &Producer, metrics: &Metrics) {
        for (alert, at_ms) in self.out.drain(..) {
            let sent = self
                .encode
                .alert(&self.topic, &alert)
                .map_err(|e| e.to_string())
                .and_then(|record| {
                    let what = Produced::Alert {
                        at_ms,
                        trigger: alert.trigger,
                    };
                    let delivery = Box::new(Delivery { hold: None, what });
                    produce_at(producer, record, Some(at_ms), delivery).map_err(|e| e.to_string())
                });
            if let Err(error) = sent {
                tracing::warn!(topic = %self.topic, error = %error, "alert not sent");
                metrics.alerts.with_label_values(&["failed"]).inc();
            }
        }
    }

    /// Open conversations with rule state.
    #[cfg(test)]
    pub fn open(&self) -> usize {
        self.open.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Side;
    use crate::schema::{Codec, Encoding};
    use crate::tenant::rules::{ConditionKind, RuleCondition, RuleConfig};
    use crate::tenant::{TenantConfig, TrackerConfig};

    fn tenant(rules: Vec<RuleConfig>) -> TenantRuntime {
        TenantRuntime::compile(TenantConfig {
            tenant_id: "acme".into(),
            trackers: vec![TrackerConfig {
                name: "pricing".into(),
                terms: vec!["price".into()],
                ..TrackerConfig::default()
            }],
            rules,
            ..TenantConfig::default()
        })
        .unwrap()
    }

    fn facts(id: &str, start_ms: i64, end_ms: i64) -> SegmentFacts {
        SegmentFacts {
            segment_id: id.into(),
            speaker: "c1".into(),
            side: Side::External,
            start_ms: Some(start_ms),
            end_ms: Some(end_ms),
            words: 3,
            backchannel: false,
            interruption: false,
            gap_before_ms: None,
            questions: Vec::new(),
            hits: Vec::new(),
        }
    }

    #[test]
    fn rules_run_per_conversation_and_end_decisions_come_at_close() {
        let encode = Encode {
            codec: Arc::new(Codec::new(Encoding::Json, None).unwrap()),
        };
        let mut step = Alerts::new("alerts", encode);
        let silent = tenant(vec![]);
        assert!(!step.segment(0, "c0", Some(&silent), &facts("s0", 0, 10), 1));
        assert!(!step.segment(0, "c0", None, &facts("s0", 0, 10), 1));
        assert_eq!(step.open(), 0, "no state for tenants without rules");
        let never = RuleConfig {
            name: "never pricing".into(),
            conditions: vec![RuleCondition {
                kind: ConditionKind::NoMention,
                tracker: Some("pricing".into()),
                ..RuleCondition::default()
            }],
            ..RuleConfig::default()
        };
        let t = tenant(vec![never]);
        assert!(!step.segment(0, "c1", Some(&t), &facts("s0", 0, 10_000), 100));
        assert!(!step.segment(1, "c2", Some(&t), &facts("s0", 0, 10_000), 100));
        assert_eq!(step.open(), 2);
        step.forget_lane(1);
        assert_eq!(step.open(), 1);
        assert!(step.close("c1", 200));
        assert!(!step.close("c1", 200), "closed once");
        assert_eq!(step.out.len(), 1);
        let (alert, at) = &step.out[0];
        assert_eq!(
            (&*alert.rule, &*alert.segment_id, alert.at_ms, *at),
            ("never pricing", "s0", 10_000, 200)
        );
    }
}
