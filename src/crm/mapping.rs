//! The per-tenant CRM mapping document: the CRM's field catalogue (as last refreshed) and which
//! insight values go to which fields of which record type. It arrives, whole, as one value on
//! the compacted `debrief.crm-mapping.v1` topic (key: tenant id) or from a YAML/JSON file; the
//! reasons for a topic of its own are in `docs/crm.md`. [`super::validate()`] turns it into a
//! [`super::ValidMapping`].

use super::source::{RecordType, Source};
use super::types::{CrmKind, FieldType};
use serde::{Deserialize, Serialize};

/// A tenant's CRM mapping, as published.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrmMapping {
    /// Tenant id (also the Kafka key).
    pub tenant_id: String,
    /// The CRM the mapping is for; every catalogue type must exist in it.
    pub crm: CrmKind,
    /// Version of the mapping; a version not greater than the one in force is ignored. 0 is
    /// the built-in default.
    pub version: i64,
    /// The CRM's field catalogue.
    pub catalogue: Catalogue,
    /// Record types in configuration order: a record type that refers to another (a task to
    /// its insight) must come after it.
    pub records: Vec<RecordMapping>,
}

/// The CRM's objects and fields as the integration user sees them. CRM changes are not seen
/// until the catalogue is refreshed: a refresh is a new catalogue version in a new mapping
/// document, validated again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalogue {
    /// Version of the catalogue (raised at every refresh).
    pub version: i64,
    /// When the catalogue was read from the CRM, ms since the Unix epoch (0 when unknown).
    #[serde(default)]
    pub refreshed_at_ms: i64,
    /// The objects (entities, sObjects) the mapping may write.
    pub objects: Vec<CatalogueObject>,
}

/// One CRM object (Dynamics entity, Salesforce sObject).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogueObject {
    /// API name (`task`, `debrief_conversationinsight`, `Task`, `Debrief_Insight__c`).
    pub name: String,
    /// Dynamics Web API entity set name (`tasks`), for lookups written as `@odata.bind`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity_set: Option<String>,
    /// Its fields.
    pub fields: Vec<CatalogueField>,
}

/// One field of a CRM object, with what the integration user may do with it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogueField {
    /// API name (logical name in Dynamics).
    pub name: String,
    /// CRM type.
    #[serde(rename = "type")]
    pub field_type: FieldType,
    /// Required in the CRM: it must be mapped, and a record without a value for it is not
    /// written (an error record says which field).
    #[serde(default)]
    pub required: bool,
    /// Calculated (formula, rollup): never a mapping target.
    #[serde(default)]
    pub calculated: bool,
    /// Readable by the integration user. A mapped field that is not is left out of the record
    /// at write time and reported (`field_access`, code 4100).
    #[serde(default = "yes")]
    pub readable: bool,
    /// Dynamics `IsValidODataAttribute`; a field where it is false cannot be mapped.
    #[serde(default = "yes")]
    pub valid_odata: bool,
    /// Longest text accepted, in characters; longer text is cut and ends with `…`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<usize>,
    /// For lookups: the object the field refers to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub references: Option<String>,
    /// For lookups, how a REST write names the relation: the Dynamics single-valued
    /// navigation property (`regardingobjectid_debrief_conversationinsight_task`) or the
    /// Salesforce relationship name (`What`). Defaults to the field name (Dynamics) or the
    /// field name without `Id` / with `__c` turned into `__r` (Salesforce).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relationship: Option<String>,
}

fn yes() -> bool {
    true
}

/// Which values go to which fields of one record type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordMapping {
    /// Insight or task.
    pub record: RecordType,
    /// The catalogue object the records are written to.
    pub object: String,
    /// Field mappings, in the order the fields are written. Exactly one has the source
    /// `external_id`: its target is the upsert key.
    pub fields: Vec<FieldMapping>,
}

/// One insight value to one CRM field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldMapping {
    /// The insight value.
    pub source: Source,
    /// The catalogue field of the record's object.
    pub target: String,
}

impl CrmMapping {
    /// Parses a mapping document from JSON (the topic's values).
    pub fn from_json(bytes: &[u8]) -> Result<CrmMapping, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// Parses a mapping document from YAML or JSON text (files; JSON is YAML).
    pub fn from_yaml(text: &str) -> Result<CrmMapping, serde_yaml_ng::Error> {
        serde_yaml_ng::from_str(text)
    }
}

impl Catalogue {
    /// The object named `name`.
    pub fn object(&self, name: &str) -> Option<&CatalogueObject> {
        self.objects.iter().find(|o| o.name == name)
    }
}

impl CatalogueObject {
    /// The field named `name`.
    pub fn field(&self, name: &str) -> Option<&CatalogueField> {
        self.fields.iter().find(|f| f.name == name)
    }
}

impl CatalogueField {
    /// The relation name a REST write uses for this lookup (see
    /// [`relationship`](CatalogueField::relationship)).
    pub fn relationship_name(&self, crm: CrmKind) -> String {
        if let Some(r) = &self.relationship {
            return r.clone();
        }
        match crm {
            CrmKind::Dynamics => self.name.clone(),
            CrmKind::Salesforce => {
                if let Some(stem) = self.name.strip_suffix("__c") {
                    format!("{stem}__r")
                } else if let Some(stem) = self.name.strip_suffix("Id") {
                    stem.to_string()
                } else {
                    self.name.clone()
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_parses_with_defaults_and_refuses_unknown_keys() {
        let text = r#"
tenant_id: acme
crm: salesforce
version: 2
catalogue:
  version: 5
  objects:
    - name: Task
      fields:
        - {name: Subject, type: text, required: true, max_length: 255}
        - {name: WhatId, type: lookup, references: Debrief_Insight__c}
records:
  - record: task
    object: Task
    fields:
      - {source: subject, target: Subject}
"#;
        let m = CrmMapping::from_yaml(text).unwrap();
        assert_eq!(
            (m.crm, m.version, m.catalogue.version),
            (CrmKind::Salesforce, 2, 5)
        );
        let task = m.catalogue.object("Task").unwrap();
        let subject = task.field("Subject").unwrap();
        assert!(subject.required && subject.readable && subject.valid_odata);
        assert!(!subject.calculated);
        assert_eq!(subject.max_length, Some(255));
        let what = task.field("WhatId").unwrap();
        assert_eq!(what.relationship_name(CrmKind::Salesforce), "What");
        assert_eq!(m.records[0].fields[0].source, Source::Subject);
        let bad = text.replace("max_length: 255", "max_len: 255");
        assert!(CrmMapping::from_yaml(&bad)
            .unwrap_err()
            .to_string()
            .contains("max_len"));
    }

    #[test]
    fn salesforce_relationship_names_follow_the_convention() {
        let f = |name: &str| CatalogueField {
            name: name.into(),
            field_type: FieldType::Lookup,
            required: false,
            calculated: false,
            readable: true,
            valid_odata: true,
            max_length: None,
            references: None,
            relationship: None,
        };
        let s = CrmKind::Salesforce;
        assert_eq!(f("Insight__c").relationship_name(s), "Insight__r");
        assert_eq!(f("WhatId").relationship_name(s), "What");
        assert_eq!(f("Other").relationship_name(s), "Other");
        assert_eq!(
            f("regardingobjectid").relationship_name(CrmKind::Dynamics),
            "regardingobjectid"
        );
    }
}
