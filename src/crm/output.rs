//! What the CRM output step writes for one insight: the Kafka records (topic, key, value) of
//! its CRM records in the configured format, and the write errors for the dead-letter topic.
//! Pure: the caller produces the records and counts the errors.

use super::avro::{self, CrmAvroError};
use super::connect;
use super::record::{build, CrmRecord, CrmWriteError};
use super::source::RecordType;
use super::types::CrmKind;
use super::validate::ValidMapping;
use super::{default_topic, CrmFormat};
use crate::insight::Insight;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// The record topics of one CRM and their format. Configuration value; a table given in a
/// file must name all three (the service's layered configuration merges it over the
/// defaults).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrmRecordTopics {
    /// Conversation-insight records (key: external id, compacted).
    pub insights: String,
    /// Task records (key: external id, compacted).
    pub tasks: String,
    /// `avro` (default) or `connect_json`.
    pub format: CrmFormat,
}

impl CrmRecordTopics {
    /// The default topics of `crm` (`debrief.crm.<crm>.insights.v1`, `…tasks.v1`), Avro.
    pub fn defaults(crm: CrmKind) -> CrmRecordTopics {
        CrmRecordTopics {
            insights: default_topic(crm, RecordType::Insight),
            tasks: default_topic(crm, RecordType::Task),
            format: CrmFormat::Avro,
        }
    }

    /// The topic of one record type.
    pub fn topic(&self, record: RecordType) -> &str {
        match record {
            RecordType::Insight => &self.insights,
            RecordType::Task => &self.tasks,
        }
    }
}

/// Where CRM records go. Configuration value (`[crm_records]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CrmOutputConfig {
    /// Write CRM records at all. Default `false` until the record topics exist in the
    /// deployment (Debrief creates no topics, and a record to a missing topic stops the
    /// service when the cluster does not auto-create topics).
    pub enabled: bool,
    /// Dynamics-like record topics.
    pub dynamics: CrmRecordTopics,
    /// Salesforce-like record topics.
    pub salesforce: CrmRecordTopics,
    /// The per-tenant mapping topic (compacted, key: tenant id, value: JSON document).
    pub mapping_topic: String,
}

impl Default for CrmOutputConfig {
    fn default() -> Self {
        CrmOutputConfig {
            enabled: false,
            dynamics: CrmRecordTopics::defaults(CrmKind::Dynamics),
            salesforce: CrmRecordTopics::defaults(CrmKind::Salesforce),
            mapping_topic: "debrief.crm-mapping.v1".to_string(),
        }
    }
}

impl CrmOutputConfig {
    /// The record topics of `crm`.
    pub fn topics(&self, crm: CrmKind) -> &CrmRecordTopics {
        match crm {
            CrmKind::Dynamics => &self.dynamics,
            CrmKind::Salesforce => &self.salesforce,
        }
    }
}

/// How Avro values are framed, following the service's encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AvroFraming {
    /// Single-object: `C3 01` + fingerprint.
    SingleObject,
    /// Confluent: `00` + the registry id of `crm_record.avsc` under each topic's subject.
    Confluent(HashMap<String, u32>),
    /// serde JSON of the `CrmRecord` (debugging, like the service's `json` encoding).
    Json,
}

/// One Kafka record to produce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// Topic.
    pub topic: String,
    /// Key: the external id.
    pub key: String,
    /// Value.
    pub value: Vec<u8>,
    /// Insight or task.
    pub record: RecordType,
}

/// What one insight gives for its CRM.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plan {
    /// Records to produce, insight record first, then tasks in item order.
    pub records: Vec<Outgoing>,
    /// Write errors for the dead-letter topic.
    pub errors: Vec<CrmWriteError>,
}

/// Why a plan could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// Avro encoding failed.
    #[error(transparent)]
    Avro(#[from] CrmAvroError),
    /// The Confluent framing has no id for a topic (register it at start-up).
    #[error("no schema registry id for the CRM record topic {0}")]
    NoSchemaId(String),
}

/// The records and errors of `insight` for `crm` through `mapping`, encoded for `config`.
pub fn plan(
    insight: &Insight,
    crm: CrmKind,
    mapping: &ValidMapping,
    config: &CrmOutputConfig,
    framing: &AvroFraming,
) -> Result<Plan, PlanError> {
    let out = build(insight, mapping);
    let topics = config.topics(crm);
    let mut records = Vec::with_capacity(out.tasks.len() + 1);
    for r in out.insight.iter().chain(out.tasks.iter()) {
        let topic = topics.topic(r.record).to_string();
        let value = encode(r, &topic, topics.format, framing)?;
        records.push(Outgoing {
            topic,
            key: r.external_id.clone(),
            value,
            record: r.record,
        });
    }
    Ok(Plan {
        records,
        errors: out.errors,
    })
}

fn encode(
    record: &CrmRecord,
    topic: &str,
    format: CrmFormat,
    framing: &AvroFraming,
) -> Result<Vec<u8>, PlanError> {
    Ok(match (format, framing) {
        (CrmFormat::ConnectJson, _) => connect::encode(record),
        (CrmFormat::Avro, AvroFraming::SingleObject) => avro::record_single_object(record)?,
        (CrmFormat::Avro, AvroFraming::Confluent(ids)) => {
            let id = ids
                .get(topic)
                .ok_or_else(|| PlanError::NoSchemaId(topic.to_string()))?;
            avro::record_confluent(record, *id)?
        }
        (CrmFormat::Avro, AvroFraming::Json) => serde_json::to_vec(record)
            .map_err(|e| PlanError::Avro(CrmAvroError::Encode(e.to_string())))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crm::defaults;
    use crate::insight::{FinalisedBy, LanguageReport, LanguageSource, Outcome};

    fn skipped() -> Insight {
        Insight {
            conversation_id: "c1".into(),
            tenant_id: "acme".into(),
            schema_version: 1,
            extractor_version: "debrief-test".into(),
            config_version: 0,
            source_platform: None,
            client_version: None,
            finalised_by: FinalisedBy::EndEvent,
            outcome: Outcome::Skipped,
            skip_reasons: vec![],
            language: LanguageReport {
                code: None,
                confidence: 0.0,
                source: LanguageSource::Unknown,
                speakers: vec![],
            },
            segment_count: 0,
            text_chars: 0,
            kpis: None,
            questions: vec![],
            action_items: vec![],
            tracker_hits: vec![],
            tracker_counts: vec![],
            highlights: vec![],
            redactions: vec![],
            profile: None,
        }
    }

    #[test]
    fn records_go_to_the_crm_topics_in_the_configured_format() {
        let mut config = CrmOutputConfig::default();
        config.salesforce.format = CrmFormat::ConnectJson;
        let m = defaults::shared(CrmKind::Salesforce).unwrap();
        let p = plan(
            &skipped(),
            CrmKind::Salesforce,
            &m,
            &config,
            &AvroFraming::SingleObject,
        )
        .unwrap();
        assert_eq!(p.records.len(), 1);
        assert_eq!(p.records[0].topic, "debrief.crm.salesforce.insights.v1");
        assert_eq!(p.records[0].key, "dbf1-230ead588d9d4f0b5ca320c26c7061e0");
        assert_eq!(p.records[0].value[0], b'{');
        let m = defaults::shared(CrmKind::Dynamics).unwrap();
        let p = plan(
            &skipped(),
            CrmKind::Dynamics,
            &m,
            &config,
            &AvroFraming::SingleObject,
        )
        .unwrap();
        assert_eq!(p.records[0].topic, "debrief.crm.dynamics.insights.v1");
        assert_eq!(&p.records[0].value[..2], &[0xC3, 0x01]);
        let missing = AvroFraming::Confluent(HashMap::new());
        assert_eq!(
            plan(&skipped(), CrmKind::Dynamics, &m, &config, &missing).unwrap_err(),
            PlanError::NoSchemaId("debrief.crm.dynamics.insights.v1".into())
        );
        let ids = AvroFraming::Confluent(HashMap::from([(
            "debrief.crm.dynamics.insights.v1".to_string(),
            42,
        )]));
        let p = plan(&skipped(), CrmKind::Dynamics, &m, &config, &ids).unwrap();
        assert_eq!(&p.records[0].value[..5], &[0, 0, 0, 0, 42]);
    }

    #[test]
    fn a_partial_configuration_keeps_the_other_defaults() {
        let c: CrmOutputConfig = serde_json::from_str(
            r#"{"salesforce": {"insights": "i", "tasks": "t", "format": "connect_json"}}"#,
        )
        .unwrap();
        assert_eq!(c.salesforce.format, CrmFormat::ConnectJson);
        assert_eq!(c.salesforce.topic(RecordType::Task), "t");
        assert_eq!(c.dynamics, CrmRecordTopics::defaults(CrmKind::Dynamics));
        assert_eq!(c.mapping_topic, "debrief.crm-mapping.v1");
        assert!(!c.enabled, "off until the topics exist");
        assert!(
            serde_json::from_str::<CrmOutputConfig>(r#"{"salesforce": {"format": "avro"}}"#)
                .unwrap_err()
                .to_string()
                .contains("insights")
        );
    }
}
