//! [`analyse`](crate::extract::analyse) with a stopwatch around each extractor, for
//! `debrief_extractor_seconds{extractor}`: [`Timings`] is the [`Probe`] the analysis pool
//! passes to [`analyse_with`]. The extractors stay pure (no clock inside them).

use crate::extract::{analyse_with, ExtractContext, Extractor, Probe};
use crate::insight::Insight;
use crate::metrics::Metrics;
use crate::model::Conversation;
use std::time::{Duration, Instant};

/// Values of the `extractor` label of `debrief_extractor_seconds`.
pub mod label {
    /// The whole analysis of one conversation (every extractor and the bookkeeping).
    pub const ANALYSE: &str = "analyse";
    /// Language detection.
    pub const LANGUAGE: &str = "language";
    /// Conversation KPIs and questions.
    pub const KPIS: &str = "kpis";
    /// Tracked keywords and competitors.
    pub const TRACKERS: &str = "trackers";
    /// Action items.
    pub const ACTION_ITEMS: &str = "action_items";
}

/// Time spent in each extractor for one conversation; `None` when it did not run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timings {
    /// The whole analysis.
    pub total: Duration,
    /// Language detection.
    pub language: Option<Duration>,
    /// KPIs and questions.
    pub kpis: Option<Duration>,
    /// Trackers (only with a tenant configuration and the feature on).
    pub trackers: Option<Duration>,
    /// Action items (only above the summary threshold and with the feature on).
    pub action_items: Option<Duration>,
}

impl Timings {
    /// Observes every measured time on `debrief_extractor_seconds`.
    pub fn observe(&self, metrics: &Metrics) {
        let h = &metrics.extractor_seconds;
        h.with_label_values(&[label::ANALYSE])
            .observe(self.total.as_secs_f64());
        for (name, took) in [
            (label::LANGUAGE, self.language),
            (label::KPIS, self.kpis),
            (label::TRACKERS, self.trackers),
            (label::ACTION_ITEMS, self.action_items),
        ] {
            if let Some(t) = took {
                h.with_label_values(&[name]).observe(t.as_secs_f64());
            }
        }
    }
}

impl Probe for Timings {
    fn run<T>(&mut self, extractor: Extractor, extract: impl FnOnce() -> T) -> T {
        let started = Instant::now();
        let value = extract();
        let took = Some(started.elapsed());
        match extractor {
            Extractor::Language => self.language = took,
            Extractor::Kpis => self.kpis = took,
            Extractor::Trackers => self.trackers = took,
            Extractor::ActionItems => self.action_items = took,
        }
        value
    }
}

/// [`crate::extract::analyse`], timing each extractor.
pub fn analyse_timed(conv: &Conversation, ctx: &ExtractContext<'_>) -> (Insight, Timings) {
    let started = Instant::now();
    let mut timings = Timings::default();
    let insight = analyse_with(conv, ctx, &mut timings);
    timings.total = started.elapsed();
    (insight, timings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::{analyse, Settings};
    use crate::insight::{FinalisedBy, Outcome};
    use crate::model::{Segment, Side};
    use crate::tenant::TenantRuntime;
    use crate::tenant::{Features, TenantConfig, TrackerConfig};

    fn tenant(features: Features) -> TenantRuntime {
        TenantRuntime::compile(TenantConfig {
            tenant_id: "acme".into(),
            version: 4,
            features,
            trackers: vec![TrackerConfig {
                name: "pricing".into(),
                terms: vec!["price".into(), "discount".into(), "budget".into()],
                stemming: true,
                accent_insensitive: true,
                ..Default::default()
            }],
            ..Default::default()
        })
        .unwrap()
    }

    /// Every combination of features, with and without a tenant, and two thresholds.
    fn contexts<'a>(
        settings: &'a [Settings],
        tenants: &'a [TenantRuntime],
    ) -> Vec<ExtractContext<'a>> {
        let mut out = Vec::new();
        for s in settings {
            let mut add = |tenant| {
                out.push(ExtractContext {
                    settings: s,
                    tenant,
                    finalised_by: FinalisedBy::EndEvent,
                    reference_time: None,
                })
            };
            add(None);
            for t in tenants {
                add(Some(t));
            }
        }
        out
    }

    fn all_tenants() -> Vec<TenantRuntime> {
        let mut out = Vec::new();
        for bits in 0..8u8 {
            out.push(tenant(Features {
                kpis: bits & 1 != 0,
                trackers: bits & 2 != 0,
                action_items: bits & 4 != 0,
                questions: true,
                redaction: true,
            }));
        }
        out
    }

    fn same_bytes(conv: &Conversation, ctx: &ExtractContext<'_>) {
        let want = serde_json::to_vec(&analyse(conv, ctx)).unwrap();
        let (got, timings) = analyse_timed(conv, ctx);
        assert_eq!(
            String::from_utf8(serde_json::to_vec(&got).unwrap()).unwrap(),
            String::from_utf8(want).unwrap(),
            "the timing probe changed the insight of {}",
            conv.id
        );
        assert!(timings.total >= timings.language.unwrap_or_default());
    }

    #[test]
    fn sample_conversations_give_the_same_insight_as_analyse() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/conversations.jsonl");
        let reader = crate::ingest::files::open(std::path::Path::new(path)).unwrap();
        let convs: Vec<Conversation> = reader.map(Result::unwrap).collect();
        assert!(convs.len() >= 4);
        let settings = [
            Settings::default(),
            Settings {
                min_summary_chars: 0,
                ..Settings::default()
            },
        ];
        let tenants = all_tenants();
        for conv in &convs {
            for ctx in contexts(&settings, &tenants) {
                same_bytes(conv, &ctx);
            }
        }
    }

    #[test]
    fn timings_name_only_the_extractors_that_ran() {
        let settings = Settings::default();
        let ctx = ExtractContext::new(&settings, FinalisedBy::EndEvent);
        let text = "Short: no action items below 1,000 characters.";
        let segment = Segment {
            text: text.into(),
            side: Side::Internal,
            end_ms: Some(1_000),
            ..Segment::default()
        };
        let mut conv = Conversation {
            segments: vec![segment],
            ..Conversation::default()
        };
        let (_, t) = analyse_timed(&conv, &ctx);
        assert!(t.language.is_some() && t.kpis.is_some());
        assert_eq!(
            (t.trackers.is_some(), t.action_items.is_some()),
            (false, true),
            "no tenant: no trackers; action items run whatever the length"
        );
        conv.client_version = Some("1.0.8".into());
        let (insight, t) = analyse_timed(&conv, &ctx);
        assert_eq!(insight.outcome, Outcome::Skipped);
        assert_eq!(
            (t.language, t.kpis),
            (None, None),
            "old client: nothing ran"
        );
        let metrics = Metrics::new().unwrap();
        Timings {
            total: Duration::from_millis(2),
            language: Some(Duration::from_millis(1)),
            ..Timings::default()
        }
        .observe(&metrics);
        let text = metrics.render();
        assert!(text.contains("debrief_extractor_seconds_count{extractor=\"analyse\"} 1"));
        assert!(text.contains("debrief_extractor_seconds_count{extractor=\"language\"} 1"));
        assert!(!text.contains("extractor=\"kpis\""), "{text}");
    }
}
