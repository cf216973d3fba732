//! Validation of a mapping document against its own catalogue, when it arrives. The first
//! problem found (records in order, fields in order) is returned as a [`MappingError`] that
//! names the object and the field; a rejected document is a dead letter and the version in
//! force stays.

use super::mapping::{CatalogueField, CrmMapping};
use super::source::{RecordType, Source};
use super::types::{CrmKind, FieldType, ValueKind};

/// Most fields a record may carry (the CRM limit the FAQ states: "un maximum de 40 champs").
pub const MAX_FIELDS_PER_RECORD: usize = 40;

/// Why a mapping document is refused. Every variant names the object and, where there is one,
/// the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    /// The tenant id is empty.
    #[error("the mapping has no tenant id")]
    NoTenant,
    /// A catalogue field has a type the mapping's CRM does not have.
    #[error("{object}.{field}: type {field_type} is not a {crm} type")]
    TypeNotInCrm {
        /// Object.
        object: String,
        /// Field.
        field: String,
        /// Its type.
        field_type: FieldType,
        /// The mapping's CRM.
        crm: CrmKind,
    },
    /// Two mappings for the same record type.
    #[error("record type {record} is configured twice")]
    DuplicateRecord {
        /// Record type.
        record: RecordType,
    },
    /// The record's object is not in the catalogue.
    #[error("{record} records go to object {object}, which is not in the catalogue")]
    UnknownObject {
        /// Record type.
        record: RecordType,
        /// Object.
        object: String,
    },
    /// More than [`MAX_FIELDS_PER_RECORD`] fields on one record.
    #[error("{object}: {count} fields mapped, at most {MAX_FIELDS_PER_RECORD} allowed; {field} is one too many")]
    TooManyFields {
        /// Object.
        object: String,
        /// Fields mapped.
        count: usize,
        /// The first field over the limit.
        field: String,
    },
    /// The target field is not in the object's catalogue.
    #[error("{object}.{field}: no such field in the catalogue")]
    UnknownField {
        /// Object.
        object: String,
        /// Field.
        field: String,
    },
    /// Two values mapped to one field.
    #[error("{object}.{field}: mapped twice")]
    DuplicateTarget {
        /// Object.
        object: String,
        /// Field.
        field: String,
    },
    /// The value does not exist on this record type (a task value on the insight record...).
    #[error("{object}.{field}: {value} is not available on {record} records")]
    SourceNotAvailable {
        /// Object.
        object: String,
        /// Field.
        field: String,
        /// The insight value (not named `source`: thiserror reserves it).
        value: Source,
        /// Record type.
        record: RecordType,
    },
    /// The field's type is one a write-back cannot map.
    #[error("{object}.{field}: type {field_type} cannot be mapped ({reason})")]
    UnmappableType {
        /// Object.
        object: String,
        /// Field.
        field: String,
        /// Its type.
        field_type: FieldType,
        /// The rule.
        reason: &'static str,
    },
    /// A Dynamics field whose `IsValidODataAttribute` is false.
    #[error("{object}.{field}: not a valid OData attribute, cannot be mapped")]
    NotODataAttribute {
        /// Object.
        object: String,
        /// Field.
        field: String,
    },
    /// A calculated field as a target.
    #[error("{object}.{field}: calculated in the CRM, cannot be a target")]
    CalculatedTarget {
        /// Object.
        object: String,
        /// Field.
        field: String,
    },
    /// The value's kind does not fit the field's type.
    #[error(
        "{object}.{field}: a {kind} value ({value}) cannot be written to a {field_type} field"
    )]
    TypeMismatch {
        /// Object.
        object: String,
        /// Field.
        field: String,
        /// Its type.
        field_type: FieldType,
        /// The insight value (not named `source`: thiserror reserves it).
        value: Source,
        /// The value's kind.
        kind: &'static str,
    },
    /// No field takes the external id (the upsert key), or two do.
    #[error("{object}: exactly one field must take external_id (the upsert key), found {count}")]
    KeyCount {
        /// Object.
        object: String,
        /// Fields mapped from `external_id`.
        count: usize,
    },
    /// The key field cannot be read by the integration user, so no upsert can find the record.
    #[error("{object}.{field}: the upsert key field is not readable by the integration user")]
    KeyNotReadable {
        /// Object.
        object: String,
        /// Field.
        field: String,
    },
    /// A field required in the CRM is not mapped.
    #[error("{object}.{field}: required in the CRM but not mapped")]
    RequiredNotMapped {
        /// Object.
        object: String,
        /// Field.
        field: String,
    },
    /// A lookup to a record type configured after this one.
    #[error("{object}.{field}: refers to {related}, which is configured after {record}: configure the source record type first")]
    RelatedBeforeSource {
        /// Object.
        object: String,
        /// Field.
        field: String,
        /// This record type.
        record: RecordType,
        /// The object referred to.
        related: String,
    },
    /// A lookup to an object no record type writes, or a lookup without `references`.
    #[error("{object}.{field}: refers to {related}, which no configured record type writes")]
    UnresolvedReference {
        /// Object.
        object: String,
        /// Field.
        field: String,
        /// The object referred to (empty when the catalogue names none).
        related: String,
    },
}

/// A mapping that passed validation, with each field's catalogue entry resolved. Build it with
/// [`validate`]; [`super::defaults`] gives the built-in ones.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidMapping {
    /// Tenant id.
    pub tenant_id: String,
    /// CRM.
    pub crm: CrmKind,
    /// Mapping version.
    pub version: i64,
    /// Catalogue version.
    pub catalogue_version: i64,
    /// Record types in configuration order.
    pub records: Vec<ValidRecord>,
}

/// One record type of a valid mapping.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidRecord {
    /// Insight or task.
    pub record: RecordType,
    /// CRM object.
    pub object: String,
    /// Dynamics entity set of the object, when the catalogue gives it.
    pub entity_set: Option<String>,
    /// The upsert key field (the target of `external_id`).
    pub key_field: String,
    /// Fields in write order.
    pub fields: Vec<ValidField>,
}

/// One mapped field with its catalogue entry.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidField {
    /// The insight value.
    pub source: Source,
    /// The CRM field.
    pub target: CatalogueField,
    /// For lookups: the related record's object, its entity set and key field.
    pub related: Option<Related>,
}

/// The record a lookup points to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Related {
    /// Object.
    pub object: String,
    /// Dynamics entity set, when known.
    pub entity_set: Option<String>,
    /// Its upsert key field.
    pub key_field: String,
}

impl ValidMapping {
    /// The mapping of one record type, if configured.
    pub fn record(&self, record: RecordType) -> Option<&ValidRecord> {
        self.records.iter().find(|r| r.record == record)
    }
}

/// Checks a mapping document: catalogue types belong to the CRM; each record type once, on an
/// object of the catalogue; at most [`MAX_FIELDS_PER_RECORD`] fields; each target exists, is
/// mapped once, is of a mappable type (and a valid OData attribute), is not calculated, and
/// takes the value's kind; the value exists on the record type; one key field, readable;
/// every required field mapped; lookups refer to a record type configured earlier.
pub fn validate(mapping: &CrmMapping) -> Result<ValidMapping, MappingError> {
    if mapping.tenant_id.trim().is_empty() {
        return Err(MappingError::NoTenant);
    }
    for object in &mapping.catalogue.objects {
        if let Some(f) = object
            .fields
            .iter()
            .find(|f| !f.field_type.exists_in(mapping.crm))
        {
            return Err(MappingError::TypeNotInCrm {
                object: object.name.clone(),
                field: f.name.clone(),
                field_type: f.field_type,
                crm: mapping.crm,
            });
        }
    }
    let mut records: Vec<ValidRecord> = Vec::with_capacity(mapping.records.len());
    for (position, rm) in mapping.records.iter().enumerate() {
        if mapping.records[..position]
            .iter()
            .any(|r| r.record == rm.record)
        {
            return Err(MappingError::DuplicateRecord { record: rm.record });
        }
        let object =
            mapping
                .catalogue
                .object(&rm.object)
                .ok_or_else(|| MappingError::UnknownObject {
                    record: rm.record,
                    object: rm.object.clone(),
                })?;
        let obj = || rm.object.clone();
        if rm.fields.len() > MAX_FIELDS_PER_RECORD {
            return Err(MappingError::TooManyFields {
                object: obj(),
                count: rm.fields.len(),
                field: rm.fields[MAX_FIELDS_PER_RECORD].target.clone(),
            });
        }
        let mut fields = Vec::with_capacity(rm.fields.len());
        for (i, fm) in rm.fields.iter().enumerate() {
            let field = || fm.target.clone();
            let target = object
                .field(&fm.target)
                .ok_or_else(|| MappingError::UnknownField {
                    object: obj(),
                    field: field(),
                })?;
            if rm.fields[..i].iter().any(|f| f.target == fm.target) {
                return Err(MappingError::DuplicateTarget {
                    object: obj(),
                    field: field(),
                });
            }
            if !fm.source.available_on(rm.record) {
                return Err(MappingError::SourceNotAvailable {
                    object: obj(),
                    field: field(),
                    value: fm.source,
                    record: rm.record,
                });
            }
            if let Some(reason) = target.field_type.unmappable_reason() {
                return Err(MappingError::UnmappableType {
                    object: obj(),
                    field: field(),
                    field_type: target.field_type,
                    reason,
                });
            }
            if mapping.crm == CrmKind::Dynamics && !target.valid_odata {
                return Err(MappingError::NotODataAttribute {
                    object: obj(),
                    field: field(),
                });
            }
            if target.calculated {
                return Err(MappingError::CalculatedTarget {
                    object: obj(),
                    field: field(),
                });
            }
            let kind = fm.source.kind();
            if !target.field_type.accepts(mapping.crm, kind) {
                return Err(MappingError::TypeMismatch {
                    object: obj(),
                    field: field(),
                    field_type: target.field_type,
                    value: fm.source,
                    kind: kind.name(),
                });
            }
            let related = if kind == ValueKind::Reference {
                Some(related(
                    &records,
                    &mapping.records[position..],
                    rm.record,
                    &rm.object,
                    target,
                )?)
            } else {
                None
            };
            fields.push(ValidField {
                source: fm.source,
                target: target.clone(),
                related,
            });
        }
        let keys: Vec<&ValidField> = fields
            .iter()
            .filter(|f| f.source == Source::ExternalId)
            .collect();
        let [key] = keys[..] else {
            return Err(MappingError::KeyCount {
                object: obj(),
                count: keys.len(),
            });
        };
        if !key.target.readable {
            return Err(MappingError::KeyNotReadable {
                object: obj(),
                field: key.target.name.clone(),
            });
        }
        let key_field = key.target.name.clone();
        if let Some(f) = object.fields.iter().find(|f| {
            f.required
                && !f.calculated
                && f.field_type.unmappable_reason().is_none()
                && !fields.iter().any(|m| m.target.name == f.name)
        }) {
            return Err(MappingError::RequiredNotMapped {
                object: obj(),
                field: f.name.clone(),
            });
        }
        records.push(ValidRecord {
            record: rm.record,
            object: rm.object.clone(),
            entity_set: object.entity_set.clone(),
            key_field,
            fields,
        });
    }
    Ok(ValidMapping {
        tenant_id: mapping.tenant_id.clone(),
        crm: mapping.crm,
        version: mapping.version,
        catalogue_version: mapping.catalogue.version,
        records,
    })
}

/// Resolves a lookup: the object it refers to must be written by a record type configured
/// before `record` (in `earlier`); one configured at or after it (in `rest`) is the
/// relationship-order error.
fn related(
    earlier: &[ValidRecord],
    rest: &[super::mapping::RecordMapping],
    record: RecordType,
    object: &str,
    target: &CatalogueField,
) -> Result<Related, MappingError> {
    let wanted = target.references.clone().unwrap_or_default();
    if let Some(r) = earlier.iter().find(|r| r.object == wanted) {
        return Ok(Related {
            object: r.object.clone(),
            entity_set: r.entity_set.clone(),
            key_field: r.key_field.clone(),
        });
    }
    if !wanted.is_empty() && rest.iter().any(|r| r.object == wanted) {
        return Err(MappingError::RelatedBeforeSource {
            object: object.to_string(),
            field: target.name.clone(),
            record,
            related: wanted,
        });
    }
    Err(MappingError::UnresolvedReference {
        object: object.to_string(),
        field: target.name.clone(),
        related: wanted,
    })
}
