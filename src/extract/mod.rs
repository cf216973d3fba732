//! Pure extractors: a [`Conversation`] and an [`ExtractContext`] in, an [`Insight`] out.
//! No IO, no clock, no metrics: the caller passes everything in, and the same input always
//! gives the same insight.

pub mod action_items;
pub mod highlights;
pub mod kpis;
pub mod language;
pub mod languages;
pub mod redact;
pub mod text;
pub mod trackers;

use crate::insight::{
    FinalisedBy, Insight, Outcome, SkipReason, EXTRACTOR_VERSION, INSIGHT_SCHEMA_VERSION,
};
use crate::model::Conversation;
use crate::tenant::TenantRuntime;
use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};

/// Thresholds from the product documents; part of the service configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Conversations with fewer characters of text get no highlights (the summary); KPIs,
    /// action items and questions are produced whatever the length. Default 1,000.
    pub min_summary_chars: usize,
    /// Publishing clients older than this (`major.minor.patch`) get a `skipped` insight with
    /// reason `client_version`. Default `1.0.9`.
    pub min_client_version: String,
    /// IANA time zone used for due dates when the conversation gives none. Default `UTC`.
    pub default_time_zone: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            min_summary_chars: 1000,
            min_client_version: "1.0.9".to_string(),
            default_time_zone: "UTC".to_string(),
        }
    }
}

/// Everything an extraction needs besides the conversation.
#[derive(Debug, Clone, Copy)]
pub struct ExtractContext<'a> {
    /// Thresholds.
    pub settings: &'a Settings,
    /// The tenant's configuration, if any.
    pub tenant: Option<&'a TenantRuntime>,
    /// What closed the conversation.
    pub finalised_by: FinalisedBy,
    /// Reference time for relative due dates when the conversation has no `started_at`
    /// (for example the end event's timestamp). `None`: relative dates are not resolved.
    pub reference_time: Option<DateTime<FixedOffset>>,
}

impl<'a> ExtractContext<'a> {
    /// A context with these thresholds, no tenant configuration and no reference time.
    pub fn new(settings: &'a Settings, finalised_by: FinalisedBy) -> ExtractContext<'a> {
        ExtractContext {
            settings,
            tenant: None,
            finalised_by,
            reference_time: None,
        }
    }
}

/// Parses `major.minor.patch` (missing parts are 0, a leading `v` and any suffix after `-` or
/// `+` are ignored). `None` when a part is not a number.
pub fn parse_version(v: &str) -> Option<(u64, u64, u64)> {
    let core = v.trim().trim_start_matches(['v', 'V']);
    let core = core.split(['-', '+']).next().unwrap_or("");
    let mut parts = core.split('.');
    let mut next = || -> Option<u64> {
        match parts.next() {
            None => Some(0),
            Some(p) => p.parse().ok(),
        }
    };
    let v = (next()?, next()?, next()?);
    if parts.next().is_some() {
        return None;
    }
    Some(v)
}

/// `true` when the client version is known and older than the minimum. An unparseable
/// version counts as too old; a missing one (files) does not.
pub fn client_too_old(client: Option<&str>, minimum: &str) -> bool {
    let Some(client) = client else { return false };
    match (parse_version(client), parse_version(minimum)) {
        (Some(c), Some(m)) => c < m,
        (None, _) => true,
        (Some(_), None) => false,
    }
}

/// The extractors [`analyse`] runs, as a [`Probe`] sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extractor {
    /// [`language::detect`].
    Language,
    /// [`kpis::compute`] (KPIs and questions).
    Kpis,
    /// [`trackers::TrackerSet::find`] (only with a tenant configuration and the feature on).
    Trackers,
    /// [`action_items::extract`] (only above the summary threshold and with the feature on).
    ActionItems,
}

/// Watches every extractor [`analyse_with`] runs, for example to time it. The extractors
/// stay pure: the probe wraps the call, it is never passed into them.
pub trait Probe {
    /// Runs `extract` (the extractor named) and returns its result.
    fn run<T>(&mut self, extractor: Extractor, extract: impl FnOnce() -> T) -> T;
}

/// The probe that only runs the extractor.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProbe;

impl Probe for NoProbe {
    fn run<T>(&mut self, _extractor: Extractor, extract: impl FnOnce() -> T) -> T {
        extract()
    }
}

/// The last steps of [`analyse`], shared with the timed pipeline version: highlights over the
/// summary floor (`short_content` below it), then personal data redaction unless the tenant
/// turned it off. Action items and questions are extracted whatever the length.
pub fn finish(conv: &Conversation, ctx: &ExtractContext<'_>, lang: &str, insight: &mut Insight) {
    let features = ctx.tenant.map(|t| t.config.features).unwrap_or_default();
    if (insight.text_chars as usize) < ctx.settings.min_summary_chars {
        insight.skip_reasons.push(SkipReason::ShortContent);
    } else {
        insight.highlights = highlights::extract(conv, lang, &insight.action_items);
    }
    if features.redaction {
        redact::apply(insight, conv);
    }
}

/// Runs every enabled extractor over a conversation.
pub fn analyse(conv: &Conversation, ctx: &ExtractContext<'_>) -> Insight {
    analyse_with(conv, ctx, &mut NoProbe)
}

/// [`analyse`], with every extractor run through `probe`. Same input, same insight,
/// whatever the probe.
pub fn analyse_with(
    conv: &Conversation,
    ctx: &ExtractContext<'_>,
    probe: &mut impl Probe,
) -> Insight {
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
    insight.language = probe.run(Extractor::Language, || language::detect(conv));
    let lang = insight
        .language
        .code
        .clone()
        .unwrap_or_else(|| "en".to_string());
    let (kpis, questions) = probe.run(Extractor::Kpis, || kpis::compute(conv, &lang));
    if features.kpis {
        insight.kpis = Some(kpis);
    } else {
        insight.skip_reasons.push(SkipReason::FeatureDisabled);
    }
    if let Some(t) = ctx.tenant.filter(|_| features.trackers) {
        let (hits, counts) = probe.run(Extractor::Trackers, || t.trackers.find(conv, &lang));
        insight.tracker_hits = hits;
        insight.tracker_counts = counts;
    } else if !features.trackers {
        insight.skip_reasons.push(SkipReason::FeatureDisabled);
    }
    // A conversation's time zone that is not an IANA name cannot resolve due dates: they use
    // the default zone, and the insight says it was built from a damaged source.
    let tz = match conv.time_zone.as_deref() {
        Some(zone) if zone.parse::<chrono_tz::Tz>().is_err() => {
            insight.skip_reasons.push(SkipReason::DamagedSource);
            ctx.settings.default_time_zone.as_str()
        }
        Some(zone) => zone,
        None => ctx.settings.default_time_zone.as_str(),
    };
    if features.action_items {
        let reference = conv.started_at.or(ctx.reference_time);
        insight.action_items = probe.run(Extractor::ActionItems, || {
            action_items::extract(conv, &lang, reference, tz)
        });
    } else {
        insight.skip_reasons.push(SkipReason::FeatureDisabled);
    }
    if features.questions {
        insight.questions = questions;
    } else {
        insight.skip_reasons.push(SkipReason::FeatureDisabled);
    }
    finish(conv, ctx, &lang, &mut insight);
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

    #[test]
    fn a_tenant_without_questions_gets_none_and_says_so() {
        use crate::tenant::{Features, TenantConfig, TenantRuntime};
        let settings = Settings::default();
        let conv = Conversation {
            segments: vec![crate::model::Segment {
                id: "1".into(),
                speaker: "a".into(),
                text: "Can you send the proposal?".into(),
                ..crate::model::Segment::default()
            }],
            ..Conversation::default()
        };
        let run = |questions: bool| {
            let tenant = TenantRuntime::compile(TenantConfig {
                tenant_id: "t".into(),
                features: Features {
                    questions,
                    ..Features::default()
                },
                ..TenantConfig::default()
            })
            .unwrap();
            let ctx = ExtractContext {
                settings: &settings,
                tenant: Some(&tenant),
                finalised_by: FinalisedBy::EndEvent,
                reference_time: None,
            };
            analyse(&conv, &ctx)
        };
        let (on, off) = (run(true), run(false));
        assert_eq!(on.questions.len(), 1);
        assert!(off.questions.is_empty());
        assert!(off.skip_reasons.contains(&SkipReason::FeatureDisabled));
        assert_eq!(off.kpis, on.kpis, "the KPIs' question counts stay");
    }

    #[test]
    fn an_unknown_time_zone_falls_back_to_the_default_and_says_so() {
        let settings = Settings::default();
        let ctx = ExtractContext {
            settings: &settings,
            tenant: None,
            finalised_by: FinalisedBy::EndEvent,
            reference_time: None,
        };
        let seg = crate::model::Segment {
            id: "1".into(),
            speaker: "a".into(),
            text: "I will send you the quote by Friday.".into(),
            ..Default::default()
        };
        let conv = |tz: Option<&str>| Conversation {
            id: "c".into(),
            time_zone: tz.map(str::to_owned),
            segments: vec![seg.clone()],
            ..Default::default()
        };
        let bad = analyse(&conv(Some("Mars/Base")), &ctx);
        assert!(bad.skip_reasons.contains(&SkipReason::DamagedSource));
        let good = analyse(&conv(Some("Europe/Paris")), &ctx);
        assert!(!good.skip_reasons.contains(&SkipReason::DamagedSource));
        let none = analyse(&conv(None), &ctx);
        assert!(!none.skip_reasons.contains(&SkipReason::DamagedSource));
    }

    #[test]
    fn versions_compare_numerically() {
        assert_eq!(parse_version("1.0.9"), Some((1, 0, 9)));
        assert_eq!(parse_version("v1.2"), Some((1, 2, 0)));
        assert_eq!(parse_version("1.0.10-beta"), Some((1, 0, 10)));
        assert_eq!(parse_version("1.x"), None);
        assert!(client_too_old(Some("1.0.8"), "1.0.9"));
        assert!(!client_too_old(Some("1.0.10"), "1.0.9"));
        assert!(!client_too_old(Some("1.0.9"), "1.0.9"));
        assert!(client_too_old(Some("garbage"), "1.0.9"));
        assert!(!client_too_old(None, "1.0.9"));
    }
}

#[cfg(test)]
mod property_tests {
    use super::*;
    use crate::model::{Segment, Side};
    use proptest::prelude::*;

    fn arb_conversation() -> impl Strategy<Value = Conversation> {
        let seg = (
            0usize..3,
            proptest::option::of(-5_000i64..50_000),
            proptest::option::of(-5_000i64..50_000),
            "[a-zA-Zéà ?.!,']{0,60}",
        )
            .prop_map(|(sp, start, end, text)| Segment {
                speaker: format!("sp{sp}"),
                side: [Side::Internal, Side::External, Side::Unknown][sp],
                start_ms: start,
                end_ms: end,
                text,
                ..Segment::default()
            });
        (
            proptest::collection::vec(seg, 0..25),
            proptest::option::of("[0-9]\\.[0-9]\\.[0-9]{1,2}"),
        )
            .prop_map(|(segments, client_version)| Conversation {
                id: "c".into(),
                tenant_id: "t".into(),
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
        #[test]
        fn analyse_never_panics_and_is_byte_identical(conv in arb_conversation(), min_chars in 0usize..200) {
            let settings = Settings { min_summary_chars: min_chars, ..Settings::default() };
            let ctx = ExtractContext { settings: &settings, tenant: None, finalised_by: FinalisedBy::File, reference_time: None };
            let a = serde_json::to_vec(&analyse(&conv, &ctx)).unwrap();
            let b = serde_json::to_vec(&analyse(&conv, &ctx)).unwrap();
            prop_assert_eq!(a, b);
        }
    }

    #[test]
    fn old_client_is_skipped_and_short_content_is_partial() {
        let settings = Settings::default();
        let ctx = ExtractContext::new(&settings, FinalisedBy::File);
        let mut conv = Conversation {
            id: "c".into(),
            client_version: Some("1.0.8".into()),
            segments: vec![Segment {
                id: "0".into(),
                speaker: "a".into(),
                start_ms: Some(0),
                end_ms: Some(1000),
                text: "I will send the offer tomorrow.".into(),
                ..Segment::default()
            }],
            ..Conversation::default()
        };
        let skipped = analyse(&conv, &ctx);
        assert_eq!(skipped.outcome, Outcome::Skipped);
        assert_eq!(skipped.skip_reasons, vec![SkipReason::ClientVersion]);
        assert!(skipped.kpis.is_none());
        conv.client_version = Some("1.0.9".into());
        let short = analyse(&conv, &ctx);
        assert_eq!(short.outcome, Outcome::Partial);
        assert_eq!(short.skip_reasons, vec![SkipReason::ShortContent]);
        assert!(short.kpis.is_some(), "short content still gets KPIs");
        assert_eq!(short.action_items.len(), 1, "and its action items");
        assert!(short.highlights.is_empty(), "but no highlights");
    }
}
