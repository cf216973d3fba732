//! CRM-shaped records built from an insight through a valid mapping: one insight record and one
//! task record per action item, each keyed by its external id, plus the write errors the
//! catalogue predicts (fields the integration user may not read, required fields without a
//! value). Pure and deterministic: the same insight and mapping give equal records in the same
//! order.

use super::external_id;
use super::source::{insight_value, task_value, RecordType, SourceValue};
use super::types::{CrmKind, FieldType};
use super::validate::{Related, ValidMapping, ValidRecord};
use crate::insight::Insight;
use serde::{Deserialize, Serialize};

/// The Salesforce error code the FAQ cites for a user without access to a field of a record.
pub const FIELD_ACCESS_CODE: i32 = 4100;

/// One record for a CRM, ready to encode (Avro or Kafka Connect JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CrmRecord {
    /// CRM kind.
    pub crm: CrmKind,
    /// Insight or task.
    pub record: RecordType,
    /// CRM object (entity, sObject).
    pub object: String,
    /// Dynamics entity set, when known.
    pub entity_set: Option<String>,
    /// The upsert key field.
    pub key_field: String,
    /// The external id (upsert key value and Kafka key).
    pub external_id: String,
    /// Tenant id.
    pub tenant_id: String,
    /// Conversation id.
    pub conversation_id: String,
    /// Mapping version used.
    pub mapping_version: i64,
    /// Catalogue version used.
    pub catalogue_version: i64,
    /// Fields in mapping order; fields the integration user may not read are left out.
    pub fields: Vec<CrmField>,
}

/// One field of a record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CrmField {
    /// API name.
    pub name: String,
    /// CRM type.
    pub field_type: FieldType,
    /// Required in the CRM (never null in a written record).
    pub required: bool,
    /// The value; [`CrmValue::Null`] when the insight has none (an upsert clears the field).
    pub value: CrmValue,
    /// For lookups: the record referred to (the value is its external id).
    pub related: Option<RelatedRecord>,
}

/// The record a lookup field points to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelatedRecord {
    /// Object.
    pub object: String,
    /// Dynamics entity set, when known.
    pub entity_set: Option<String>,
    /// Its upsert key field.
    pub key_field: String,
    /// The relation name a REST write uses (navigation property, relationship name).
    pub relationship: String,
}

/// A field value, shaped for its field: text for text-like fields (cut to the field's
/// length), dates and date-times as ISO text, lookups as the related external id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CrmValue {
    /// No value.
    Null,
    /// Text, date, date-time or external id.
    Text(String),
    /// Whole number.
    Integer(i64),
    /// Number with decimals.
    Decimal(f64),
    /// True or false.
    Boolean(bool),
}

/// What went wrong writing a record, as the CRM would report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WriteErrorKind {
    /// Mapped fields the integration user may not read (code 4100): left out of the record.
    FieldAccess,
    /// A required field has no value: the record is not written.
    RequiredMissing,
}

impl WriteErrorKind {
    /// The lower-case name (`field_access`, `required_missing`): metric label and header.
    pub fn name(self) -> &'static str {
        match self {
            WriteErrorKind::FieldAccess => "field_access",
            WriteErrorKind::RequiredMissing => "required_missing",
        }
    }
}

/// A CRM write error: which record, which fields (names only, never values).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrmWriteError {
    /// What went wrong.
    pub kind: WriteErrorKind,
    /// CRM error code: 4100 for field access, `None` otherwise.
    pub code: Option<i32>,
    /// CRM kind.
    pub crm: CrmKind,
    /// Tenant id.
    pub tenant_id: String,
    /// Conversation id.
    pub conversation_id: String,
    /// Insight or task.
    pub record: RecordType,
    /// CRM object.
    pub object: String,
    /// External id of the record.
    pub external_id: String,
    /// The fields concerned, in mapping order.
    pub fields: Vec<String>,
    /// `true` when the record was still written (without the fields), `false` when withheld.
    pub written: bool,
    /// Mapping version.
    pub mapping_version: i64,
    /// Catalogue version.
    pub catalogue_version: i64,
}

impl CrmWriteError {
    /// A readable reason naming the object and fields (no values): for the dead letter.
    pub fn reason(&self) -> String {
        let fields = self.fields.join(", ");
        match self.kind {
            WriteErrorKind::FieldAccess => format!(
                "error {FIELD_ACCESS_CODE}: the integration user cannot read {} of {} {}; {}",
                fields,
                self.object,
                self.external_id,
                if self.written {
                    "the record was written without them"
                } else {
                    "the record was not written"
                }
            ),
            WriteErrorKind::RequiredMissing => format!(
                "required field {} of {} {} has no value; the record was not written",
                fields, self.object, self.external_id
            ),
        }
    }
}

/// Everything one insight gives for one CRM.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CrmOutput {
    /// The insight record; `None` when the mapping has none or it was withheld.
    pub insight: Option<CrmRecord>,
    /// One task record per action item, in item order (withheld ones left out).
    pub tasks: Vec<CrmRecord>,
    /// Write errors, insight record first, then tasks in item order.
    pub errors: Vec<CrmWriteError>,
}

/// Builds the CRM records of `insight` through `mapping`.
pub fn build(insight: &Insight, mapping: &ValidMapping) -> CrmOutput {
    let mut out = CrmOutput::default();
    if let Some(rec) = mapping.record(RecordType::Insight) {
        let external_id = external_id::insight(&insight.tenant_id, &insight.conversation_id);
        out.insight = shape(insight, mapping, rec, external_id, &mut out.errors, |s| {
            insight_value(insight, s)
        });
    }
    if let Some(rec) = mapping.record(RecordType::Task) {
        let insight_id = external_id::insight(&insight.tenant_id, &insight.conversation_id);
        for (index, item) in insight.action_items.iter().enumerate() {
            let external_id = external_id::task(&insight_id, index);
            if let Some(task) = shape(insight, mapping, rec, external_id, &mut out.errors, |s| {
                task_value(insight, index, item, s)
            }) {
                out.tasks.push(task);
            }
        }
    }
    out
}

/// The Kafka keys of every record written for a conversation with `action_items` items
/// (insight first): what an erasure tombstones.
pub fn record_keys(tenant_id: &str, conversation_id: &str, action_items: usize) -> Vec<String> {
    let insight_id = external_id::insight(tenant_id, conversation_id);
    let mut keys = Vec::with_capacity(action_items + 1);
    keys.push(insight_id.clone());
    keys.extend((0..action_items).map(|i| external_id::task(&insight_id, i)));
    keys
}

/// One record: each mapped field in order, unreadable fields left out (one 4100 error), and
/// the record withheld when a required field has no value (one `required_missing` error).
fn shape(
    insight: &Insight,
    mapping: &ValidMapping,
    rec: &ValidRecord,
    external_id: String,
    errors: &mut Vec<CrmWriteError>,
    value_of: impl Fn(super::source::Source) -> Option<SourceValue>,
) -> Option<CrmRecord> {
    let mut fields = Vec::with_capacity(rec.fields.len());
    let mut unreadable = Vec::new();
    let mut missing = Vec::new();
    for f in &rec.fields {
        let target = &f.target;
        if !target.readable {
            unreadable.push(target.name.clone());
            if target.required {
                missing.push(target.name.clone());
            }
            continue;
        }
        let value = match value_of(f.source) {
            None => CrmValue::Null,
            Some(v) => shape_value(mapping.crm, target.field_type, target.max_length, v),
        };
        if value == CrmValue::Null && target.required {
            missing.push(target.name.clone());
        }
        fields.push(CrmField {
            name: target.name.clone(),
            field_type: target.field_type,
            required: target.required,
            value,
            related: f.related.as_ref().map(|r| related(mapping.crm, r, target)),
        });
    }
    let withheld = !missing.is_empty();
    let error = |kind, code, fields| CrmWriteError {
        kind,
        code,
        crm: mapping.crm,
        tenant_id: insight.tenant_id.clone(),
        conversation_id: insight.conversation_id.clone(),
        record: rec.record,
        object: rec.object.clone(),
        external_id: external_id.clone(),
        fields,
        written: !withheld,
        mapping_version: mapping.version,
        catalogue_version: mapping.catalogue_version,
    };
    if !unreadable.is_empty() {
        errors.push(error(
            WriteErrorKind::FieldAccess,
            Some(FIELD_ACCESS_CODE),
            unreadable,
        ));
    }
    if withheld {
        errors.push(error(WriteErrorKind::RequiredMissing, None, missing));
        return None;
    }
    Some(CrmRecord {
        crm: mapping.crm,
        record: rec.record,
        object: rec.object.clone(),
        entity_set: rec.entity_set.clone(),
        key_field: rec.key_field.clone(),
        external_id,
        tenant_id: insight.tenant_id.clone(),
        conversation_id: insight.conversation_id.clone(),
        mapping_version: mapping.version,
        catalogue_version: mapping.catalogue_version,
        fields,
    })
}

fn related(crm: CrmKind, r: &Related, target: &super::mapping::CatalogueField) -> RelatedRecord {
    RelatedRecord {
        object: r.object.clone(),
        entity_set: r.entity_set.clone(),
        key_field: r.key_field.clone(),
        relationship: target.relationship_name(crm),
    }
}

/// How a field's values are represented, decided by its type alone (so the Kafka Connect
/// schema of a mapping never depends on the values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repr {
    /// Text (also dates, date-times and lookups).
    Text,
    /// 64-bit whole number.
    Integer,
    /// 64-bit floating point.
    Decimal,
    /// Boolean.
    Boolean,
}

/// The representation of `field_type`'s values in `crm`.
pub fn repr(crm: CrmKind, field_type: FieldType) -> Repr {
    use FieldType::*;
    match field_type {
        Integer | BigInt => Repr::Integer,
        Picklist if crm == CrmKind::Dynamics => Repr::Integer,
        Decimal | Double | Number => Repr::Decimal,
        Boolean | Checkbox => Repr::Boolean,
        _ => Repr::Text,
    }
}

/// Shapes a value for a field ([`repr`]): text fields get text (numbers in Rust's shortest
/// round-trip form) cut to `max_length`; number fields get the number (a whole number becomes
/// a decimal in a decimal field). Validation made sure every other pairing fits.
fn shape_value(
    crm: CrmKind,
    field_type: FieldType,
    max_length: Option<usize>,
    value: SourceValue,
) -> CrmValue {
    match (repr(crm, field_type), value) {
        (Repr::Text, SourceValue::Text(s)) => CrmValue::Text(cut(s, max_length)),
        (Repr::Text, SourceValue::Integer(i)) => CrmValue::Text(cut(i.to_string(), max_length)),
        (Repr::Text, SourceValue::Decimal(d)) => CrmValue::Text(cut(d.to_string(), max_length)),
        (Repr::Integer, SourceValue::Integer(i)) => CrmValue::Integer(i),
        (Repr::Decimal, SourceValue::Integer(i)) => CrmValue::Decimal(i as f64),
        (Repr::Decimal, SourceValue::Decimal(d)) => CrmValue::Decimal(d),
        // Not produced by a valid mapping; kept total rather than panicking.
        (_, SourceValue::Text(s)) => CrmValue::Text(s),
        (_, SourceValue::Integer(i)) => CrmValue::Integer(i),
        (_, SourceValue::Decimal(d)) => CrmValue::Decimal(d),
    }
}

/// Cuts `text` to at most `max` characters (Unicode scalar values), ending with `…` when cut.
fn cut(text: String, max: Option<usize>) -> String {
    let Some(max) = max else { return text };
    if text.chars().count() <= max {
        return text;
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    if max > 0 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cutting_counts_characters_and_marks_the_cut() {
        assert_eq!(cut("héllo".into(), Some(5)), "héllo");
        assert_eq!(cut("héllo!".into(), Some(5)), "héll…");
        assert_eq!(cut("abc".into(), None), "abc");
        assert_eq!(cut("abc".into(), Some(1)), "…");
        assert_eq!(cut("abc".into(), Some(0)), "");
    }

    #[test]
    fn numbers_become_text_only_in_text_fields() {
        let d = CrmKind::Dynamics;
        assert_eq!(
            shape_value(d, FieldType::String, None, SourceValue::Integer(12)),
            CrmValue::Text("12".into())
        );
        assert_eq!(
            shape_value(d, FieldType::Memo, None, SourceValue::Decimal(0.5)),
            CrmValue::Text("0.5".into())
        );
        assert_eq!(
            shape_value(d, FieldType::Decimal, None, SourceValue::Integer(3)),
            CrmValue::Decimal(3.0)
        );
        assert_eq!(
            shape_value(d, FieldType::BigInt, None, SourceValue::Integer(3)),
            CrmValue::Integer(3)
        );
        assert_eq!(
            shape_value(d, FieldType::String, Some(3), SourceValue::Integer(12345)),
            CrmValue::Text("12…".into())
        );
    }
}
