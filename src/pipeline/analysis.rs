//! [`analyse`](crate::extract::analyse) with a stopwatch around each extractor, for
//! `debrief_extractor_seconds{extractor}`. The extractors stay pure (no clock inside them):
//! this module calls them one by one from the pipeline side, in the same order and with the
//! same rules as `analyse`, and the tests check that the insight is byte-identical to
//! `analyse`'s on every sample conversation and on arbitrary ones. **When `analyse` changes,
//! change [`analyse_timed`] the same way** (the tests fail until then).

use crate::extract::{action_items, client_too_old, kpis, language, ExtractContext};
use crate::insight::{Insight, Outcome, SkipReason, EXTRACTOR_VERSION, INSIGHT_SCHEMA_VERSION};
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

/// Runs `f`, returning its value and how long it took.
fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let started = Instant::now();
    let value = f();
    (value, started.elapsed())
}

/// [`crate::extract::analyse`], timing each extractor. Same input, same (byte-identical)
/// insight.
pub fn analyse_timed(conv: &Conversation, ctx: &ExtractContext<'_>) -> (Insight, Timings) {
    let started = Instant::now();
    let mut timings = Timings::default();
    let insight = run(conv, ctx, &mut timings);
    timings.total = started.elapsed();
    (insight, timings)
}

fn run(conv: &Conversation, ctx: &ExtractContext<'_>, timings: &mut Timings) -> Insight {
    let config_version = ctx.tenant.map(|t| t.config.version).unwrap_or(0);
    let features = ctx.tenant.map(|t| t.config.features).unwrap_or_default();
    let text_chars = conv.text_chars();
    let mut insight = Insight {
        conversation_id: conv.id.clone(),
        tenant_id: conv.tenant_id.clone(),
        schema_version: INSIGHT_SCHEMA_VERSION,
        extractor_version: EXTRACTOR_VERSION.to_string(),
        config_version,
        source_platform: conv.source_platform.clone(),
        client_version: conv.client_version.clone(),
        finalised_by: ctx.finalised_by,
        outcome: Outcome::Complete,
        skip_reasons: Vec::new(),
        language: language::unknown(),
        segment_count: conv.segments.len() as i64,
        text_chars: text_chars as i64,
        kpis: None,
        questions: Vec::new(),
        action_items: Vec::new(),
        tracker_hits: Vec::new(),
        tracker_counts: Vec::new(),
        highlights: Vec::new(),
        redactions: Vec::new(),
    };
    if client_too_old(
        conv.client_version.as_deref(),
        &ctx.settings.min_client_version,
    ) {
        insight.outcome = Outcome::Skipped;
        insight.skip_reasons.push(SkipReason::ClientVersion);
        return insight;
    }
    if conv.segments.iter().all(|s| s.text.trim().is_empty()) {
        insight.outcome = Outcome::Skipped;
        insight.skip_reasons.push(SkipReason::NoTranscript);
        return insight;
    }
    let (report, took) = timed(|| language::detect(conv));
    timings.language = Some(took);
    insight.language = report;
    let lang = insight
        .language
        .code
        .clone()
        .unwrap_or_else(|| "en".to_string());
    let ((kpis, questions), took) = timed(|| kpis::compute(conv, &lang));
    timings.kpis = Some(took);
    if features.kpis {
        insight.kpis = Some(kpis);
    } else {
        insight.skip_reasons.push(SkipReason::FeatureDisabled);
    }
    if let Some(t) = ctx.tenant.filter(|_| features.trackers) {
        let ((hits, counts), took) = timed(|| t.trackers.find(conv, &lang));
        timings.trackers = Some(took);
        insight.tracker_hits = hits;
        insight.tracker_counts = counts;
    } else if !features.trackers {
        insight.skip_reasons.push(SkipReason::FeatureDisabled);
    }
    if features.action_items {
        let reference = conv.started_at.or(ctx.reference_time);
        let tz = conv
            .time_zone
            .as_deref()
            .unwrap_or(&ctx.settings.default_time_zone);
        let (items, took) = timed(|| action_items::extract(conv, &lang, reference, tz));
        timings.action_items = Some(took);
        insight.action_items = items;
    } else {
        insight.skip_reasons.push(SkipReason::FeatureDisabled);
    }
    insight.questions = questions;
    crate::extract::finish(conv, ctx, &lang, &mut insight);
    insight.skip_reasons.sort();
    insight.skip_reasons.dedup();
    if !insight.skip_reasons.is_empty() {
        insight.outcome = Outcome::Partial;
    }
    insight
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::{analyse, Settings, TenantRuntime};
    use crate::insight::FinalisedBy;
    use crate::model::{Segment, Side};
    use crate::tenant::{Features, TenantConfig, TrackerConfig};
    use proptest::prelude::*;

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
            "analyse_timed differs from extract::analyse for {}: update src/pipeline/analysis.rs",
            conv.id
        );
        assert!(timings.total >= timings.language.unwrap_or_default());
    }

    #[test]
    fn sample_conversations_give_the_same_insight_as_analyse() {
        let convs = crate::demo::sample_conversations().unwrap();
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
        let ctx = ExtractContext {
            settings: &settings,
            tenant: None,
            finalised_by: FinalisedBy::EndEvent,
            reference_time: None,
        };
        let mut conv = Conversation {
            id: "c".into(),
            segments: vec![Segment {
                id: "0".into(),
                speaker: "a".into(),
                side: Side::Internal,
                start_ms: Some(0),
                end_ms: Some(1_000),
                text: "Short: no highlights below 1,000 characters.".into(),
                ..Segment::default()
            }],
            ..Conversation::default()
        };
        let (_, t) = analyse_timed(&conv, &ctx);
        assert!(t.language.is_some() && t.kpis.is_some());
        assert_eq!(
            (t.trackers, t.action_items.is_some()),
            (None, true),
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

    fn arb_conversation() -> impl Strategy<Value = Conversation> {
        let seg = (
            0usize..3,
            proptest::option::of(-5_000i64..50_000),
            proptest::option::of(0i64..5_000),
            "[a-zA-Zéà ?.!,']{0,80}",
        )
            .prop_map(|(sp, start, len, text)| Segment {
                speaker: format!("sp{sp}"),
                side: [Side::Internal, Side::External, Side::Unknown][sp],
                start_ms: start,
                end_ms: start.zip(len).map(|(s, l)| s + l),
                text,
                ..Segment::default()
            });
        (
            proptest::collection::vec(seg, 0..30),
            proptest::option::of("1\\.[0-2]\\.[0-9]{1,2}"),
        )
            .prop_map(|(segments, client_version)| Conversation {
                id: "c".into(),
                tenant_id: "acme".into(),
                client_version,
                segments: segments
                    .into_iter()
                    .enumerate()
                    .map(|(i, mut s)| {
                        s.id = i.to_string();
                        s
                    })
                    .collect(),
                ..Conversation::default()
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
        #[test]
        fn arbitrary_conversations_give_the_same_insight_as_analyse(
            conv in arb_conversation(),
            min_chars in 0usize..400,
            bits in 0u8..9,
        ) {
            let settings = Settings { min_summary_chars: min_chars, ..Settings::default() };
            let t = (bits < 8).then(|| tenant(Features {
                kpis: bits & 1 != 0,
                trackers: bits & 2 != 0,
                action_items: bits & 4 != 0,
                redaction: true,
            }));
            let ctx = ExtractContext {
                settings: &settings,
                tenant: t.as_ref(),
                finalised_by: FinalisedBy::IdleTimeout,
                reference_time: None,
            };
            same_bytes(&conv, &ctx);
        }
    }
}
