//! Every Prometheus metric of the service, defined in one place and registered on a
//! [`Registry`] the service owns (never the global one), so that tests and embedded runs
//! (`demo`, `bench`) can each have their own.
//!
//! Names are part of the operations contract (deploy files and dashboards use them):
//!
//! | name | type | labels |
//! |---|---|---|
//! | `debrief_records_consumed_total` | counter | `topic`, `outcome` ([`outcome`]) |
//! | `debrief_conversations_open` | gauge | |
//! | `debrief_conversations_refused_total` | counter | `reason` (`residency`) |
//! | `debrief_conversations_finalised_total` | counter | `reason` (`end_event`, `complete_transcript`, `idle_timeout`, `evicted`, `replayed_tail`: no insight, see `pipeline`) |
//! | `debrief_insights_produced_total` | counter | `topic` |
//! | `debrief_dead_letters_total` | counter | `reason` (the dead-letter kind) |
//! | `debrief_insight_latency_seconds` | histogram | |
//! | `debrief_extractor_seconds` | histogram | `extractor` (`analyse`: the whole analysis; `language`, `kpis`, `trackers`, `action_items`) |
//! | `debrief_consumer_lag` | gauge | `topic`, `partition` |
//! | `debrief_producer_queue_depth` | gauge | |
//! | `debrief_legacy_fingerprint_total` | counter | `schema` (the record kind: `transcript_event`, ...) |
//! | `debrief_old_writer_schema_total` | counter | `schema` (the record kind) |
//! | `debrief_crm_records_produced_total` | counter | `crm` (`dynamics`, `salesforce`), `record` (`insight`, `task`) |
//! | `debrief_crm_write_errors_total` | counter | `crm`, `kind` (`field_access`: code 4100, `required_missing`) |
//! | `debrief_commit_metadata_dropped_total` | counter | |
//! | `debrief_erasure_steps_total` | counter | `step` (`received`, `crm_tombstoned`, `index_removed`, `telemetry_unlinked`, `completed`) |
//! | `debrief_erasure_oldest_incomplete_age_seconds` | gauge | |
//! | `debrief_retention_sweeps_total` | counter | `outcome` (`ok`, `failed`) |
//! | `debrief_retention_items_total` | counter | `action` (`rewritten`, `tombstoned`) |
//! | `debrief_retention_last_sweep_timestamp_seconds` | gauge | |
//! | `debrief_source_retention_exceeds_erasure_deadline` | gauge | `topic` (1 when the transcript topic keeps records over 7 days) |
//! | `debrief_live_records_total` | counter | `reason` (`interval`, `rule`, `end`; acknowledged), `failed` (not delivered: live records are best effort) |
//! | `debrief_live_latency_seconds` | histogram | |
//! | `debrief_interactions_total` | counter | `feature` (`action_items`, `trackers`, `questions`), `action` (`viewed`, `accepted`, `copied`, `edited_and_sent`, `discarded`, `thumbs_up`, `thumbs_down`) |
//! | `debrief_interactions_dead_lettered_total` | counter | `reason` (`crate::interactions::Refusal::label`) |
//! | `debrief_interactions_not_recorded_total` | counter | |
//! | `debrief_alerts_total` | counter | `trigger` (`segment`, `conversation_end`; acknowledged), `failed` (not delivered: best effort) |
//! | `debrief_alert_latency_seconds` | histogram | |
//!
//! Labels are bounded: topics come from the configuration, partitions from the topics, and
//! outcomes, reasons and extractors are fixed lists. Never a conversation or tenant id.

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

/// Values of the `outcome` label of `debrief_records_consumed_total`.
pub mod outcome {
    /// A transcript event taken into a conversation.
    pub const ASSEMBLED: &str = "assembled";
    /// A transcript event that changed nothing (duplicate or older revision of a segment).
    pub const DUPLICATE: &str = "duplicate";
    /// A segment dropped because its conversation reached the segment limit.
    pub const SEGMENT_LIMIT: &str = "segment_limit";
    /// An event for a conversation finalised moments ago (late duplicate), ignored.
    pub const LATE: &str = "late";
    /// An event of a tenant that opted out: not processed.
    pub const OPTED_OUT: &str = "opted_out";
    /// An event of a conversation (or tenant) an erasure request covers: not processed.
    pub const ERASED: &str = "erased";
    /// An event of a tenant whose geography does not allow processing in this deployment's
    /// region (`crate::tenant::residency`): not processed.
    pub const RESIDENCY: &str = "residency";
    /// A record sent to the dead-letter topic.
    pub const DEAD_LETTER: &str = "dead_letter";
    /// A tenant configuration compiled and put in force.
    pub const CONFIG_APPLIED: &str = "config_applied";
    /// A tenant configuration deletion (tombstone): the tenant falls back to no configuration.
    pub const CONFIG_REMOVED: &str = "config_removed";
    /// A rejected tenant configuration read at start-up and followed by a later record of the
    /// same tenant: not dead-lettered (a rejection already dead-lettered in this run counts
    /// as `duplicate`).
    pub const SUPERSEDED: &str = "superseded";
}

/// Buckets of `debrief_insight_latency_seconds`: 1 ms to about 65 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 65.0,
];

/// Buckets of `debrief_extractor_seconds`: 10 µs to 5 s.
const EXTRACTOR_BUCKETS: &[f64] = &[
    0.000_01, 0.000_05, 0.000_1, 0.000_5, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0,
];

/// The service's metrics and the registry they are registered on.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    /// `debrief_records_consumed_total{topic,outcome}`: records read from Kafka.
    pub records_consumed: IntCounterVec,
    /// `debrief_conversations_open`: conversations being assembled right now.
    pub conversations_open: IntGauge,
    /// `debrief_conversations_finalised_total{reason}`: conversations closed, by what closed
    /// them; `replayed_tail` ones (the end of a conversation an earlier run already produced)
    /// get no insight.
    pub conversations_finalised: IntCounterVec,
    /// `debrief_insights_produced_total{topic}`: insights acknowledged by the broker.
    pub insights_produced: IntCounterVec,
    /// `debrief_conversations_refused_total{reason}`: conversations not processed at all
    /// (`residency`: the tenant's geography refuses this region), counted at their first
    /// refused event.
    pub conversations_refused: IntCounterVec,
    /// `debrief_dead_letters_total{reason}`: dead letters acknowledged by the broker.
    pub dead_letters: IntCounterVec,
    /// `debrief_insight_latency_seconds`: from the finalising event (its Kafka timestamp, or the
    /// idle-timeout decision) to the insight's acknowledgement by the broker, seconds.
    pub insight_latency: Histogram,
    /// `debrief_extractor_seconds{extractor}`: time spent in extraction per conversation,
    /// seconds: `analyse` for the whole, and each extractor that ran
    /// (`crate::pipeline::timings::label`).
    pub extractor_seconds: HistogramVec,
    /// `debrief_consumer_lag{topic,partition}`: messages between the consumer position and
    /// the partition's high watermark (from librdkafka statistics).
    pub consumer_lag: IntGaugeVec,
    /// `debrief_producer_queue_depth`: records handed to the producer and not yet acknowledged.
    pub producer_queue_depth: IntGauge,
    /// `debrief_legacy_fingerprint_total{schema}`: single-object records read under the
    /// fingerprint Debrief 0.1 wrote instead of the Avro specification's (accepted for one
    /// version; `crate::schema::Codec::count_legacy_fingerprints`).
    pub legacy_fingerprints: IntCounterVec,
    /// `debrief_old_writer_schema_total{schema}`: records read with a writer schema other
    /// than the current one, such as a previous version from `schemas/history/`
    /// (`crate::schema::Codec::count_old_writer_schemas`).
    pub old_writer_schemas: IntCounterVec,
    /// `debrief_crm_records_produced_total{crm,record}`: CRM-shaped records (`crate::crm`)
    /// acknowledged by the broker.
    pub crm_records_produced: IntCounterVec,
    /// `debrief_crm_write_errors_total{crm,kind}`: CRM write errors (fields the integration
    /// user may not read, code 4100; required fields without a value) whose dead letter the
    /// broker acknowledged.
    pub crm_write_errors: IntCounterVec,
    /// `debrief_commit_metadata_dropped_total`: closed conversations left out of an offset
    /// commit's metadata because it would exceed Kafka's limit (`crate::ingest::replay`);
    /// a replay falls back to the replayed-tail rule for them.
    pub commit_metadata_dropped: IntCounter,
    /// `debrief_erasure_steps_total{step}`: erasure ledger steps recorded by this instance's
    /// executor (`crate::governance::LedgerStep::name`).
    pub erasure_steps: IntCounterVec,
    /// `debrief_erasure_oldest_incomplete_age_seconds`: age of the oldest erasure request
    /// this instance's executor has received and not completed (0 when none); the 7-day
    /// promise is broken when it passes 604,800.
    pub erasure_oldest_incomplete_age: IntGauge,
    /// `debrief_source_retention_exceeds_erasure_deadline{topic}`: 1 when a transcript
    /// topic's `retention.ms` (read at start-up) is over 7 days or infinite, else 0.
    pub source_retention_exceeds: IntGaugeVec,
    /// `debrief_redactions_total{type}`: personal data values replaced by placeholders in
    /// insights, by type (`EMAIL`, `PHONE`, `IBAN`, `CARD`, `NATIONAL_ID`, `IP`, `URL`).
    pub redactions: IntCounterVec,
    /// `debrief_retention_sweeps_total{outcome}`: retention sweeps run by this instance
    /// (`ok`, `failed`; `crate::pipeline::retention_sweep`).
    pub retention_sweeps: IntCounterVec,
    /// `debrief_retention_items_total{action}`: insights rewritten without a switched-off
    /// feature's data (`rewritten`) or removed past the tenant's retention (`tombstoned`).
    pub retention_items: IntCounterVec,
    /// `debrief_retention_last_sweep_timestamp_seconds`: when the last successful sweep ran
    /// (its clock), s since the epoch; 0 before the first.
    pub retention_last_sweep: IntGauge,
    /// `debrief_live_records_total{reason}`: live records acknowledged by the broker, by
    /// reason (`interval`, `rule`, `end`), and `failed` for those not delivered (best effort:
    /// a failed live record does not stop the service).
    pub live_records: IntCounterVec,
    /// `debrief_live_latency_seconds`: from a live record's stream time (the Kafka timestamp
    /// of the segment record that caused it) to its acknowledgement by the broker, seconds.
    pub live_latency: Histogram,
    /// `debrief_interactions_total{feature,action}`: valid interaction events joined with
    /// their suggestion (recorded or not), by the suggestion's feature and the action.
    pub interactions: IntCounterVec,
    /// `debrief_interactions_dead_lettered_total{reason}`: interaction events dead-lettered,
    /// by refusal.
    pub interactions_dead_lettered: IntCounterVec,
    /// `debrief_interactions_not_recorded_total`: valid interaction events of tenants that do
    /// not record interactions (no telemetry written).
    pub interactions_not_recorded: IntCounter,
    /// `debrief_alerts_total{trigger}`: alerts acknowledged by the broker, by how they were
    /// decided (`segment`, `conversation_end`), and `failed` for those not delivered.
    pub alerts: IntCounterVec,
    /// `debrief_alert_latency_seconds`: from the stream time of the record that fired an
    /// alert (its Kafka timestamp) to the alert's acknowledgement.
    pub alert_latency: Histogram,
}

impl Metrics {
    /// Creates every metric on a new registry.
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new();
        let records_consumed = IntCounterVec::new(
            Opts::new(
                "debrief_records_consumed_total",
                "Records read from Kafka, by topic and outcome.",
            ),
            &["topic", "outcome"],
        )?;
        let conversations_open = IntGauge::new(
            "debrief_conversations_open",
            "Conversations being assembled.",
        )?;
        let conversations_finalised = IntCounterVec::new(
            Opts::new(
                "debrief_conversations_finalised_total",
                "Conversations finalised, by what finalised them.",
            ),
            &["reason"],
        )?;
        let insights_produced = IntCounterVec::new(
            Opts::new(
                "debrief_insights_produced_total",
                "Insights acknowledged by the broker, by topic.",
            ),
            &["topic"],
        )?;
        let conversations_refused = IntCounterVec::new(
            Opts::new(
                "debrief_conversations_refused_total",
                "Conversations not processed at all, by reason (residency).",
            ),
            &["reason"],
        )?;
        let dead_letters = IntCounterVec::new(
            Opts::new(
                "debrief_dead_letters_total",
                "Dead letters acknowledged by the broker, by reason.",
            ),
            &["reason"],
        )?;
        let insight_latency = Histogram::with_opts(
            HistogramOpts::new(
                "debrief_insight_latency_seconds",
                "From the event that finalised a conversation to its insight being acknowledged.",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
        )?;
        let extractor_seconds = HistogramVec::new(
            HistogramOpts::new(
                "debrief_extractor_seconds",
                "Time spent in extraction, by extractor.",
            )
            .buckets(EXTRACTOR_BUCKETS.to_vec()),
            &["extractor"],
        )?;
        let consumer_lag = IntGaugeVec::new(
            Opts::new(
                "debrief_consumer_lag",
                "Messages behind the high watermark, by partition.",
            ),
            &["topic", "partition"],
        )?;
        let producer_queue_depth = IntGauge::new(
            "debrief_producer_queue_depth",
            "Records handed to the producer and not yet acknowledged.",
        )?;
        let legacy_fingerprints = IntCounterVec::new(
            Opts::new(
                "debrief_legacy_fingerprint_total",
                "Single-object records read under a legacy (pre-specification) schema fingerprint, by schema.",
            ),
            &["schema"],
        )?;
        let commit_metadata_dropped = IntCounter::new(
            "debrief_commit_metadata_dropped_total",
            "Closed conversations left out of an offset commit's metadata (over Kafka's size limit).",
        )?;
        registry.register(Box::new(commit_metadata_dropped.clone()))?;
        registry.register(Box::new(records_consumed.clone()))?;
        registry.register(Box::new(conversations_open.clone()))?;
        registry.register(Box::new(conversations_finalised.clone()))?;
        registry.register(Box::new(insights_produced.clone()))?;
        registry.register(Box::new(conversations_refused.clone()))?;
        registry.register(Box::new(dead_letters.clone()))?;
        registry.register(Box::new(insight_latency.clone()))?;
        registry.register(Box::new(extractor_seconds.clone()))?;
        registry.register(Box::new(consumer_lag.clone()))?;
        let redactions = IntCounterVec::new(
            Opts::new(
                "debrief_redactions_total",
                "Personal data values replaced by placeholders in insights, by type.",
            ),
            &["type"],
        )?;
        registry.register(Box::new(producer_queue_depth.clone()))?;
        let crm_records_produced = IntCounterVec::new(
            Opts::new(
                "debrief_crm_records_produced_total",
                "CRM records acknowledged by the broker, by CRM and record type.",
            ),
            &["crm", "record"],
        )?;
        let crm_write_errors = IntCounterVec::new(
            Opts::new(
                "debrief_crm_write_errors_total",
                "CRM write errors dead-lettered (field_access: code 4100; required_missing), by CRM and kind.",
            ),
            &["crm", "kind"],
        )?;
        registry.register(Box::new(legacy_fingerprints.clone()))?;
        let old_writer_schemas = IntCounterVec::new(
            Opts::new(
                "debrief_old_writer_schema_total",
                "Records read with a writer schema other than the current one (a previous version), by schema.",
            ),
            &["schema"],
        )?;
        registry.register(Box::new(old_writer_schemas.clone()))?;
        let erasure_steps = IntCounterVec::new(
            Opts::new(
                "debrief_erasure_steps_total",
                "Erasure ledger steps recorded, by step.",
            ),
            &["step"],
        )?;
        let erasure_oldest_incomplete_age = IntGauge::new(
            "debrief_erasure_oldest_incomplete_age_seconds",
            "Age of the oldest erasure request received and not completed, seconds.",
        )?;
        registry.register(Box::new(erasure_steps.clone()))?;
        // Every step is exported from the start (at 0), so that rates and alerts see it.
        for step in crate::governance::LedgerStep::ALL {
            erasure_steps.with_label_values(&[step.name()]);
        }
        registry.register(Box::new(erasure_oldest_incomplete_age.clone()))?;
        let source_retention_exceeds = IntGaugeVec::new(
            Opts::new(
                "debrief_source_retention_exceeds_erasure_deadline",
                "1 when a transcript topic keeps records longer than the 7-day erasure deadline.",
            ),
            &["topic"],
        )?;
        registry.register(Box::new(source_retention_exceeds.clone()))?;
        registry.register(Box::new(crm_records_produced.clone()))?;
        registry.register(Box::new(crm_write_errors.clone()))?;
        registry.register(Box::new(redactions.clone()))?;
        let retention_sweeps = IntCounterVec::new(
            Opts::new(
                "debrief_retention_sweeps_total",
                "Retention sweeps run, by outcome (ok, failed).",
            ),
            &["outcome"],
        )?;
        let retention_items = IntCounterVec::new(
            Opts::new(
                "debrief_retention_items_total",
                "Insights rewritten without a switched-off feature (rewritten) or removed past retention (tombstoned).",
            ),
            &["action"],
        )?;
        let retention_last_sweep = IntGauge::new(
            "debrief_retention_last_sweep_timestamp_seconds",
            "When the last successful retention sweep ran, seconds since the epoch.",
        )?;
        for outcome in ["ok", "failed"] {
            retention_sweeps.with_label_values(&[outcome]);
        }
        for action in ["rewritten", "tombstoned"] {
            retention_items.with_label_values(&[action]);
        }
        registry.register(Box::new(retention_sweeps.clone()))?;
        registry.register(Box::new(retention_items.clone()))?;
        registry.register(Box::new(retention_last_sweep.clone()))?;
        let live_records = IntCounterVec::new(
            Opts::new(
                "debrief_live_records_total",
                "Live records acknowledged by the broker, by reason; failed: not delivered.",
            ),
            &["reason"],
        )?;
        registry.register(Box::new(live_records.clone()))?;
        let live_latency = Histogram::with_opts(
            HistogramOpts::new(
                "debrief_live_latency_seconds",
                "From the segment record that caused a live record to its acknowledgement.",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
        )?;
        registry.register(Box::new(live_latency.clone()))?;
        let interactions = IntCounterVec::new(
            Opts::new(
                "debrief_interactions_total",
                "Representative interactions joined with their suggestion, by feature and action.",
            ),
            &["feature", "action"],
        )?;
        let interactions_dead_lettered = IntCounterVec::new(
            Opts::new(
                "debrief_interactions_dead_lettered_total",
                "Interaction events dead-lettered, by reason.",
            ),
            &["reason"],
        )?;
        let interactions_not_recorded = IntCounter::new(
            "debrief_interactions_not_recorded_total",
            "Valid interaction events of tenants that do not record interactions.",
        )?;
        registry.register(Box::new(interactions.clone()))?;
        registry.register(Box::new(interactions_dead_lettered.clone()))?;
        registry.register(Box::new(interactions_not_recorded.clone()))?;
        // Every label value is exported from the start (at 0): the lists are fixed.
        for kind in [
            crate::extract::ids::ItemKind::ActionItem,
            crate::extract::ids::ItemKind::TrackerHit,
            crate::extract::ids::ItemKind::Question,
        ] {
            for action in crate::events::RepresentativeAction::VALID {
                interactions.with_label_values(&[kind.feature(), action.name()]);
            }
        }
        for r in crate::interactions::Refusal::ALL {
            interactions_dead_lettered.with_label_values(&[r.label()]);
        }
        let alerts = IntCounterVec::new(
            Opts::new(
                "debrief_alerts_total",
                "Alerts acknowledged by the broker, by trigger; failed: not delivered.",
            ),
            &["trigger"],
        )?;
        registry.register(Box::new(alerts.clone()))?;
        let alert_latency = Histogram::with_opts(
            HistogramOpts::new(
                "debrief_alert_latency_seconds",
                "From the record that fired an alert to the alert's acknowledgement.",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
        )?;
        registry.register(Box::new(alert_latency.clone()))?;
        Ok(Metrics {
            registry,
            records_consumed,
            conversations_open,
            conversations_finalised,
            insights_produced,
            conversations_refused,
            dead_letters,
            insight_latency,
            extractor_seconds,
            consumer_lag,
            producer_queue_depth,
            legacy_fingerprints,
            old_writer_schemas,
            crm_records_produced,
            crm_write_errors,
            commit_metadata_dropped,
            erasure_steps,
            erasure_oldest_incomplete_age,
            source_retention_exceeds,
            redactions,
            retention_sweeps,
            retention_items,
            retention_last_sweep,
            live_records,
            live_latency,
            interactions,
            interactions_dead_lettered,
            interactions_not_recorded,
            alerts,
            alert_latency,
        })
    }

    /// Adds an insight's redaction counts to `debrief_redactions_total{type}` (the types are
    /// the redactor's fixed set, so the label stays bounded).
    pub fn count_redactions(&self, counts: &[crate::insight::RedactionCount]) {
        for c in counts {
            self.redactions
                .with_label_values(&[c.kind.as_str()])
                .inc_by(u64::try_from(c.count).unwrap_or(0));
        }
    }

    /// The registry every metric is registered on.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Counts one record read from `topic` with its `outcome` (an [`outcome`] label) on
    /// `debrief_records_consumed_total`.
    pub fn record_consumed(&self, topic: &str, outcome: &str) {
        self.records_consumed
            .with_label_values(&[topic, outcome])
            .inc();
    }

    /// Every metric in the Prometheus text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        // Encoding into a Vec cannot fail for the text format except on invalid metric
        // families, which `new` rules out; an error leaves what was written so far.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_contract_name_is_exported() {
        let m = Metrics::new().unwrap();
        // Vectors only appear once a label set is used.
        m.records_consumed
            .with_label_values(&["t", outcome::ASSEMBLED])
            .inc();
        m.conversations_finalised
            .with_label_values(&["end_event"])
            .inc();
        m.insights_produced.with_label_values(&["t"]).inc();
        m.conversations_refused
            .with_label_values(&["residency"])
            .inc();
        m.dead_letters.with_label_values(&["undecodable"]).inc();
        m.extractor_seconds
            .with_label_values(&["analyse"])
            .observe(0.001);
        m.consumer_lag.with_label_values(&["t", "0"]).set(3);
        m.insight_latency.observe(0.05);
        m.legacy_fingerprints
            .with_label_values(&["transcript_event"])
            .inc();
        m.old_writer_schemas
            .with_label_values(&["tenant_config"])
            .inc();
        m.count_redactions(&[crate::insight::RedactionCount {
            kind: "PHONE".into(),
            count: 2,
        }]);
        let text = m.render();
        for name in [
            "debrief_records_consumed_total{outcome=\"assembled\",topic=\"t\"} 1",
            "debrief_conversations_open 0",
            "debrief_conversations_finalised_total{reason=\"end_event\"} 1",
            "debrief_insights_produced_total{topic=\"t\"} 1",
            "debrief_conversations_refused_total{reason=\"residency\"} 1",
            "debrief_dead_letters_total{reason=\"undecodable\"} 1",
            "debrief_insight_latency_seconds_bucket{le=\"0.05\"} 1",
            "debrief_insight_latency_seconds_bucket{le=\"0.02\"} 0",
            "debrief_extractor_seconds_count{extractor=\"analyse\"} 1",
            "debrief_consumer_lag{partition=\"0\",topic=\"t\"} 3",
            "debrief_producer_queue_depth 0",
            "debrief_legacy_fingerprint_total{schema=\"transcript_event\"} 1",
            "debrief_old_writer_schema_total{schema=\"tenant_config\"} 1",
            "debrief_redactions_total{type=\"PHONE\"} 2",
        ] {
            assert!(text.contains(name), "missing {name} in\n{text}");
        }
    }

    #[test]
    fn two_instances_do_not_share_a_registry() {
        let a = Metrics::new().unwrap();
        let b = Metrics::new().unwrap();
        a.conversations_open.set(5);
        assert!(b.render().contains("debrief_conversations_open 0"));
    }
}
