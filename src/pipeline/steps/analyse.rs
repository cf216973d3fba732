//! Step 4, analyse: runs every enabled extractor over a finalised conversation
//! ([`crate::extract::analyse_with`], timed per extractor) and marks the segments dropped at
//! the per-conversation limit. Pure but for the stopwatch: the same job gives the same
//! insight on any thread.

use crate::emit;
use crate::extract::{ExtractContext, Settings};
use crate::insight::{FinalisedBy, Insight};
use crate::model::Conversation;
use crate::pipeline::offsets::Hold;
use crate::pipeline::timings::{analyse_timed, Timings};
use crate::tenant::TenantRuntime;
use chrono::{DateTime, FixedOffset};
use std::sync::Arc;

/// One finalised conversation to analyse and produce.
#[derive(Debug)]
pub(crate) struct Job {
    /// The conversation, tenant sides already applied.
    pub conversation: Conversation,
    /// The tenant configuration in force when it was finalised.
    pub tenant: Option<Arc<TenantRuntime>>,
    /// What finalised it.
    pub finalised_by: FinalisedBy,
    /// When it ended (reference time for relative due dates).
    pub ended_at: Option<DateTime<FixedOffset>>,
    /// Segments dropped at the per-conversation limit.
    pub dropped_segments: u64,
    /// CRM topic of the insight; `None`: telemetry only (tenant without a CRM).
    pub insight_topic: Option<Arc<str>>,
    /// Start of the end-of-conversation-to-insight latency, ms since the epoch.
    pub from_ms: i64,
    /// The pending hold taken by the consumer loop, released (by the loop) once the worker
    /// reports the records sent.
    pub pending: Option<Hold>,
    /// The produced holds taken by the consumer loop for the insight (when
    /// `insight_topic` is set) and the telemetry record; each travels with its record and
    /// is released by the record's acknowledgement.
    pub insight_hold: Option<Hold>,
    /// See `insight_hold`.
    pub telemetry_hold: Option<Hold>,
    /// See `insight_hold`: the conversation-index entry's.
    pub index_hold: Option<Hold>,
    /// The CRM records to write (`None`: CRM records off, or a tenant without a CRM).
    pub crm: Option<super::crm::CrmJob>,
    /// When the consumer loop handed the job over (ms since the epoch), for the logs.
    pub submitted_ms: i64,
}

/// The analyse step.
pub(crate) struct Analyse {
    /// Thresholds.
    pub settings: Settings,
}

impl Analyse {
    /// The job's insight, and how long each extractor took.
    pub fn run(&self, job: &Job) -> (Insight, Timings) {
        let ctx = ExtractContext {
            settings: &self.settings,
            tenant: job.tenant.as_deref(),
            finalised_by: job.finalised_by,
            reference_time: job.ended_at,
        };
        let (mut insight, timings) = analyse_timed(&job.conversation, &ctx);
        emit::mark_segment_limit(&mut insight, job.dropped_segments);
        (insight, timings)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::insight::{Outcome, SkipReason};
    use crate::model::Segment;
    use crate::tenant::TenantConfig;

    pub(crate) fn job(id: &str) -> Job {
        Job {
            conversation: Conversation {
                id: id.into(),
                ..Conversation::default()
            },
            tenant: None,
            finalised_by: FinalisedBy::EndEvent,
            ended_at: None,
            dropped_segments: 0,
            insight_topic: None,
            from_ms: 0,
            pending: None,
            insight_hold: None,
            telemetry_hold: None,
            index_hold: None,
            crm: None,
            submitted_ms: 0,
        }
    }

    #[test]
    fn the_insight_records_the_tenant_version_and_dropped_segments() {
        let step = Analyse {
            settings: Settings::default(),
        };
        let mut j = job("c1");
        j.conversation.segments = vec![Segment {
            id: "0".into(),
            speaker: "a".into(),
            start_ms: Some(0),
            end_ms: Some(1_000),
            text: "I will send it tomorrow.".into(),
            ..Segment::default()
        }];
        let tenant = TenantConfig {
            tenant_id: "acme".into(),
            version: 7,
            ..TenantConfig::default()
        };
        j.tenant = Some(Arc::new(TenantRuntime::compile(tenant).unwrap()));
        let (insight, timings) = step.run(&j);
        assert_eq!(
            (insight.conversation_id.as_str(), insight.config_version),
            ("c1", 7)
        );
        assert_eq!(insight.skip_reasons, vec![SkipReason::ShortContent]);
        assert!(timings.kpis.is_some());
        j.dropped_segments = 2;
        let (insight, _) = step.run(&j);
        assert_eq!(insight.outcome, Outcome::Partial);
        assert_eq!(
            insight.skip_reasons,
            vec![SkipReason::ShortContent, SkipReason::SegmentLimit]
        );
    }
}
