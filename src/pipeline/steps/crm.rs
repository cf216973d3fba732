//! An output step: a conversation's CRM-shaped records (`crate::crm`: the insight record and
//! one task per action item, in the tenant CRM's mapping) to the per-CRM record topics, and
//! the CRM write errors (fields the integration user may not read, code 4100; required fields
//! without a value) to the dead-letter topic. The consumer loop takes one hold for the whole
//! group ([`CrmJob::hold`]), since the number of records is known only after the analysis;
//! the last acknowledgement releases it ([`AckGroup`]).

use super::encode::Record;
use super::produce::{produce, AckGroup, Delivery, Produced, Producer};
use crate::crm::output::{plan, AvroFraming, CrmOutputConfig, PlanError};
use crate::crm::{avro, CrmKind, CrmWriteError, ValidMapping};
use crate::emit::{self, SourceRef};
use crate::events::DeadLetterKind;
use crate::governance::OutputRef;
use crate::insight::Insight;
use crate::pipeline::offsets::Hold;
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, OwnedHeaders};
use std::sync::Arc;

/// Header of a CRM write error's dead letter: `field_access` or `required_missing`.
pub const HEADER_CRM_ERROR_KIND: &str = "debrief.crm.error.kind";
/// Header of a CRM write error's dead letter: the CRM error code (`4100`), when there is one.
pub const HEADER_CRM_ERROR_CODE: &str = "debrief.crm.error.code";

/// What the consumer loop gives a job for its CRM records.
#[derive(Debug)]
pub(crate) struct CrmJob {
    /// The tenant's CRM.
    pub crm: CrmKind,
    /// The mapping in force for the tenant and CRM when the conversation was finalised.
    pub mapping: Arc<ValidMapping>,
    /// The hold the group's last acknowledgement releases.
    pub hold: Option<Hold>,
    /// Topic of the conversation's first record (the write errors' source position).
    pub source_topic: Arc<str>,
    /// Its partition.
    pub source_partition: i32,
    /// Its offset.
    pub source_offset: i64,
}

/// Why the CRM records could not be handed to the producer.
#[derive(Debug, thiserror::Error)]
pub enum CrmStepError {
    /// A record could not be encoded.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// A write error's dead letter could not be encoded.
    #[error("encoding a CRM write error: {0}")]
    Encode(String),
    /// The producer refused a record.
    #[error("producing to {topic}: {source}")]
    Produce {
        /// Topic.
        topic: String,
        /// The client's error.
        source: KafkaError,
    },
}

/// The CRM output step.
pub(crate) struct CrmStep {
    /// Record topics and formats.
    pub config: CrmOutputConfig,
    /// Avro framing (the service's encoding).
    pub framing: AvroFraming,
    /// The dead-letter topic.
    pub dead_letter_topic: String,
    /// The encode step (dead letters).
    pub encode: super::encode::Encode,
}

impl CrmStep {
    /// Builds, encodes and produces the CRM records and write errors of `insight`. Returns
    /// the job's hold when nothing was produced (the caller releases it at once), and the
    /// topic and key of every record produced (for the conversation index: an erasure
    /// tombstones them).
    pub fn run(
        &self,
        producer: &Producer,
        insight: &Insight,
        job: CrmJob,
        now_ms: i64,
    ) -> Result<(Option<Hold>, Vec<OutputRef>), CrmStepError> {
        let p = plan(insight, job.crm, &job.mapping, &self.config, &self.framing)?;
        let written: Vec<OutputRef> = p
            .records
            .iter()
            .map(|r| OutputRef {
                topic: r.topic.clone(),
                key: r.key.clone(),
            })
            .collect();
        let mut dead_letters = Vec::with_capacity(p.errors.len());
        for e in &p.errors {
            dead_letters.push((e, self.dead_letter(e, &job, now_ms)?));
        }
        let group = Arc::new(AckGroup::new(
            p.records.len() + dead_letters.len(),
            job.hold,
        ));
        if p.records.is_empty() && dead_letters.is_empty() {
            // Nothing to wait for.
            return Ok((job.hold, written));
        }
        for r in &p.records {
            let delivery = Box::new(Delivery {
                hold: None,
                what: Produced::CrmRecord {
                    crm: job.crm,
                    record: r.record,
                    group: group.clone(),
                },
            });
            let record = Record {
                topic: &r.topic,
                key: Some(r.key.as_bytes()),
                payload: r.value.clone(),
                headers: None,
            };
            produce(producer, record, delivery).map_err(|source| CrmStepError::Produce {
                topic: r.topic.clone(),
                source,
            })?;
        }
        for (e, (payload, headers, key)) in dead_letters {
            let delivery = Box::new(Delivery {
                hold: None,
                what: Produced::CrmWriteError {
                    crm: job.crm,
                    kind: e.kind,
                    group: group.clone(),
                },
            });
            let record = Record {
                topic: &self.dead_letter_topic,
                key: Some(&key),
                payload,
                headers: Some(headers),
            };
            produce(producer, record, delivery).map_err(|source| CrmStepError::Produce {
                topic: self.dead_letter_topic.clone(),
                source,
            })?;
        }
        Ok((None, written))
    }

    /// A write error as a dead letter: kind `invalid`, the error's reason (field names, no
    /// values), the conversation's source position, key the record's external id, value the
    /// `CrmWriteError` (Avro single-object), and the CRM error kind and code in headers.
    fn dead_letter(
        &self,
        e: &CrmWriteError,
        job: &CrmJob,
        now_ms: i64,
    ) -> Result<(Vec<u8>, OwnedHeaders, Vec<u8>), CrmStepError> {
        let value =
            avro::error_single_object(e).map_err(|err| CrmStepError::Encode(err.to_string()))?;
        let source = SourceRef {
            topic: &job.source_topic,
            partition: job.source_partition,
            offset: job.source_offset,
            key: Some(e.external_id.as_bytes()),
            value: Some(&value),
        };
        let dl = emit::dead_letter(source, DeadLetterKind::Invalid, &e.reason(), now_ms);
        let record = self
            .encode
            .dead_letter(&self.dead_letter_topic, &dl)
            .map_err(|err| CrmStepError::Encode(err.to_string()))?;
        let code = e.code.map(|c| c.to_string());
        let mut headers = record.headers.unwrap_or_default().insert(Header {
            key: HEADER_CRM_ERROR_KIND,
            value: Some(e.kind.name().as_bytes()),
        });
        if let Some(code) = &code {
            headers = headers.insert(Header {
                key: HEADER_CRM_ERROR_CODE,
                value: Some(code.as_bytes()),
            });
        }
        Ok((record.payload, headers, e.external_id.as_bytes().to_vec()))
    }
}

/// The Avro framing for the service's encoding: single-object, Confluent with `ids` (the
/// registry id of `schemas/crm_record.avsc` under each Avro record topic), or JSON.
pub(crate) fn framing(
    encoding: crate::schema::Encoding,
    ids: std::collections::HashMap<String, u32>,
) -> AvroFraming {
    match encoding {
        crate::schema::Encoding::AvroSingleObject => AvroFraming::SingleObject,
        crate::schema::Encoding::Confluent => AvroFraming::Confluent(ids),
        crate::schema::Encoding::Json => AvroFraming::Json,
    }
}
