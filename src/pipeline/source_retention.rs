//! At start-up: reads each transcript topic's `retention.ms` through the admin API
//! (DescribeConfigs) and reports a topic that keeps records longer than the 7-day erasure
//! promise: a log line, a `/readyz` warning and
//! `debrief_source_retention_exceeds_erasure_deadline{topic} 1`
//! ([`crate::governance::retention`]). A failure to read is logged, never fatal.

use super::kafka::base_config;
use crate::config::Config;
use crate::governance::retention::{judge, warning, SourceRetention};
use crate::http::Health;
use crate::metrics::Metrics;
use rdkafka::admin::{AdminClient, AdminOptions, ResourceSpecifier};
use rdkafka::client::DefaultClientContext;
use std::time::Duration;

/// Checks every transcript topic; returns what was found per topic.
pub(crate) async fn check(
    config: &Config,
    metrics: &Metrics,
    health: &Health,
) -> Vec<(String, SourceRetention)> {
    let admin: AdminClient<DefaultClientContext> = match base_config(config).create() {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!(error = %e, "cannot create an admin client to read the transcript topics' retention");
            return Vec::new();
        }
    };
    let topics = &config.kafka.topics.transcripts;
    for topic in topics {
        metrics
            .source_retention_exceeds
            .with_label_values(&[topic])
            .set(0);
    }
    let resources: Vec<ResourceSpecifier<'_>> = topics
        .iter()
        .map(|t| ResourceSpecifier::Topic(t.as_str()))
        .collect();
    let options = AdminOptions::new().request_timeout(Some(Duration::from_secs(10)));
    let results = match admin.describe_configs(&resources, &options).await {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the transcript topics' retention");
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for (topic, result) in topics.iter().zip(results) {
        let retention = match result {
            Ok(resource) => judge(
                resource
                    .get("retention.ms")
                    .and_then(|e| e.value.as_deref()),
            ),
            Err(e) => {
                tracing::warn!(topic = %topic, error = %e, "cannot read retention.ms");
                SourceRetention::Unknown
            }
        };
        let exceeds = matches!(retention, SourceRetention::Exceeds(_));
        metrics
            .source_retention_exceeds
            .with_label_values(&[topic])
            .set(i64::from(exceeds));
        if let Some(w) = warning(topic, &retention) {
            tracing::warn!(topic = %topic, "{w}");
            health.warn(w);
        }
        out.push((topic.clone(), retention));
    }
    out
}
