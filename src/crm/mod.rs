//! CRM write-back: records a CRM accepts, built from the [`Insight`](crate::insight::Insight).
//!
//! For each CRM kind (Dynamics 365-like, Salesforce-like) an insight gives one
//! conversation-insight record and one task record per action item, each keyed by a
//! deterministic external id ([`external_id`]) so that a sink upserts them and a tombstone
//! deletes them. Which insight values go to which CRM fields is the tenant's mapping
//! ([`CrmMapping`], with the CRM's field catalogue), validated when it arrives ([`validate()`]:
//! at most 40 fields per record, no unmappable or calculated targets, related record types
//! after their source); [`defaults`] gives a built-in mapping per CRM. At write time
//! ([`build`]) fields the integration user may not read are left out and reported (code
//! 4100), and a record whose required field has no value is withheld and reported.
//!
//! Records are encoded as Avro ([`avro`], `schemas/crm_record.avsc`) or as Kafka Connect JSON
//! with an embedded schema ([`connect`]). Everything here is pure: no IO, no clock.
//! `docs/crm.md` documents the fields, the mapping format and the topics.

pub mod avro;
pub mod book;
pub mod connect;
pub mod defaults;
pub mod external_id;
pub mod mapping;
pub mod output;
pub mod record;
pub mod source;
pub mod types;
pub mod validate;

pub use book::{Applied, MappingBook, MappingRejected};
pub use mapping::{
    Catalogue, CatalogueField, CatalogueObject, CrmMapping, FieldMapping, RecordMapping,
};
pub use record::{
    build, record_keys, CrmField, CrmOutput, CrmRecord, CrmValue, CrmWriteError, RelatedRecord,
    WriteErrorKind, FIELD_ACCESS_CODE,
};
pub use source::{RecordType, Source};
pub use types::{CrmKind, FieldType, ValueKind};
pub use validate::{validate, MappingError, ValidMapping, MAX_FIELDS_PER_RECORD};

use serde::{Deserialize, Serialize};

/// How records are written to a CRM record topic (an option per topic).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CrmFormat {
    /// Avro `CrmRecord` (`schemas/crm_record.avsc`), framed like the rest of the contract
    /// (single-object, or Confluent with a registry).
    #[default]
    Avro,
    /// Kafka Connect `JsonConverter` JSON with `schemas.enable=true`: flat CRM fields, ready
    /// for a standard sink connector.
    ConnectJson,
}

/// The default topic of a CRM's records of one type: `debrief.crm.<crm>.<insights|tasks>.v1`.
pub fn default_topic(crm: CrmKind, record: RecordType) -> String {
    let plural = match record {
        RecordType::Insight => "insights",
        RecordType::Task => "tasks",
    };
    format!("debrief.crm.{}.{plural}.v1", crm.name())
}

#[cfg(test)]
mod tests;
