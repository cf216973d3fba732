//! Avro for the CRM records (`schemas/crm_record.avsc`) and write errors
//! (`schemas/crm_write_error.avsc`): the body, the single-object framing (`C3 01` + the
//! schema's 8-byte little-endian CRC-64-AVRO fingerprint of the specification's Parsing
//! Canonical Form, computed by [`crate::schema::spec_fingerprint`] like every schema of the
//! contract) and the Confluent
//! framing (`00` + 4-byte big-endian registry id). Values are built as apache-avro `Value`s and
//! written by apache-avro's schema-validating encoder: these records are few per conversation,
//! so the contract's hand-written fast path is not needed here.

use super::record::{CrmField, CrmRecord, CrmValue, CrmWriteError, RelatedRecord, WriteErrorKind};
use super::source::RecordType;
use super::types::{CrmKind, FieldType};
use apache_avro::types::Value;
use apache_avro::Schema;
use std::sync::OnceLock;

/// `schemas/crm_record.avsc`.
pub const CRM_RECORD_SCHEMA: &str = include_str!("../../schemas/crm_record.avsc");
/// `schemas/crm_write_error.avsc`.
pub const CRM_WRITE_ERROR_SCHEMA: &str = include_str!("../../schemas/crm_write_error.avsc");

/// Why a CRM record could not be put into or read from Avro.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CrmAvroError {
    /// A shipped schema does not parse (a build defect the tests catch).
    #[error("schemas/{file} does not parse: {error}")]
    Schema {
        /// File name.
        file: &'static str,
        /// Parser message.
        error: String,
    },
    /// apache-avro refused the value (it does not match the schema).
    #[error("CRM record as Avro: {0}")]
    Encode(String),
    /// The bytes are not a CRM record of the current schema.
    #[error("not a CRM record: {0}")]
    Decode(String),
}

struct Parsed {
    schema: Schema,
    fingerprint: u64,
}

fn parsed(
    file: &'static str,
    json: &'static str,
    cell: &'static OnceLock<Result<Parsed, CrmAvroError>>,
) -> Result<&'static Parsed, CrmAvroError> {
    cell.get_or_init(|| {
        // The same cap as the contract's schemas (set once per process, whoever is first):
        // a corrupt length prefix fails fast instead of reserving gigabytes.
        apache_avro::max_allocation_bytes(crate::schema::MAX_AVRO_ALLOCATION_BYTES);
        let schema = Schema::parse_str(json).map_err(|e| CrmAvroError::Schema {
            file,
            error: e.to_string(),
        })?;
        let fingerprint =
            crate::schema::spec_fingerprint(json).map_err(|e| CrmAvroError::Schema {
                file,
                error: e.to_string(),
            })?;
        Ok(Parsed {
            schema,
            fingerprint,
        })
    })
    .as_ref()
    .map_err(Clone::clone)
}

fn record_schema() -> Result<&'static Parsed, CrmAvroError> {
    static CELL: OnceLock<Result<Parsed, CrmAvroError>> = OnceLock::new();
    parsed("crm_record.avsc", CRM_RECORD_SCHEMA, &CELL)
}

fn error_schema() -> Result<&'static Parsed, CrmAvroError> {
    static CELL: OnceLock<Result<Parsed, CrmAvroError>> = OnceLock::new();
    parsed("crm_write_error.avsc", CRM_WRITE_ERROR_SCHEMA, &CELL)
}

/// The fingerprint the single-object header of a CRM record carries.
pub fn record_fingerprint() -> Result<u64, CrmAvroError> {
    Ok(record_schema()?.fingerprint)
}

/// The Avro binary body of a CRM record (no header).
pub fn record_body(record: &CrmRecord) -> Result<Vec<u8>, CrmAvroError> {
    let p = record_schema()?;
    apache_avro::to_avro_datum(&p.schema, record_value(record))
        .map_err(|e| CrmAvroError::Encode(e.to_string()))
}

/// A CRM record in the single-object encoding.
pub fn record_single_object(record: &CrmRecord) -> Result<Vec<u8>, CrmAvroError> {
    framed_single_object(record_schema()?.fingerprint, record_body(record)?)
}

/// A CRM record in the Confluent wire format, with the registry id of `crm_record.avsc` under
/// the topic's subject.
pub fn record_confluent(record: &CrmRecord, schema_id: u32) -> Result<Vec<u8>, CrmAvroError> {
    Ok(framed_confluent(schema_id, record_body(record)?))
}

/// A write error in the single-object encoding.
pub fn error_single_object(error: &CrmWriteError) -> Result<Vec<u8>, CrmAvroError> {
    let p = error_schema()?;
    let body = apache_avro::to_avro_datum(&p.schema, error_value(error))
        .map_err(|e| CrmAvroError::Encode(e.to_string()))?;
    framed_single_object(p.fingerprint, body)
}

/// Reads a CRM record written by [`record_single_object`].
pub fn decode_record_single_object(bytes: &[u8]) -> Result<CrmRecord, CrmAvroError> {
    let p = record_schema()?;
    let body = match bytes {
        [0xC3, 0x01, rest @ ..] if rest.len() >= 8 => {
            let mut fp = [0u8; 8];
            fp.copy_from_slice(&rest[..8]);
            if u64::from_le_bytes(fp) != p.fingerprint {
                return Err(CrmAvroError::Decode(format!(
                    "fingerprint {:#018x} is not the CRM record schema",
                    u64::from_le_bytes(fp)
                )));
            }
            &rest[8..]
        }
        _ => return Err(CrmAvroError::Decode("no single-object header".into())),
    };
    let mut reader = body;
    let value = apache_avro::from_avro_datum(&p.schema, &mut reader, None)
        .map_err(|e| CrmAvroError::Decode(e.to_string()))?;
    if !reader.is_empty() {
        return Err(CrmAvroError::Decode(format!(
            "{} bytes after the record",
            reader.len()
        )));
    }
    record_from_value(value)
}

fn framed_single_object(fingerprint: u64, body: Vec<u8>) -> Result<Vec<u8>, CrmAvroError> {
    let mut out = Vec::with_capacity(10 + body.len());
    out.extend_from_slice(&crate::schema::SINGLE_OBJECT_MAGIC);
    out.extend_from_slice(&fingerprint.to_le_bytes());
    out.extend_from_slice(&body);
    Ok(out)
}

fn framed_confluent(id: u32, body: Vec<u8>) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 + body.len());
    out.push(crate::schema::CONFLUENT_MAGIC);
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&body);
    out
}

fn crm_enum(crm: CrmKind) -> Value {
    match crm {
        CrmKind::Dynamics => Value::Enum(0, "dynamics".into()),
        CrmKind::Salesforce => Value::Enum(1, "salesforce".into()),
    }
}

fn record_type_enum(record: RecordType) -> Value {
    match record {
        RecordType::Insight => Value::Enum(0, "insight".into()),
        RecordType::Task => Value::Enum(1, "task".into()),
    }
}

fn opt_string(s: &Option<String>) -> Value {
    match s {
        None => Value::Union(0, Box::new(Value::Null)),
        Some(s) => Value::Union(1, Box::new(Value::String(s.clone()))),
    }
}

fn field_value(f: &CrmField) -> Value {
    let value = match &f.value {
        CrmValue::Null => Value::Union(0, Box::new(Value::Null)),
        CrmValue::Text(s) => Value::Union(1, Box::new(Value::String(s.clone()))),
        CrmValue::Integer(i) => Value::Union(2, Box::new(Value::Long(*i))),
        CrmValue::Decimal(d) => Value::Union(3, Box::new(Value::Double(*d))),
        CrmValue::Boolean(b) => Value::Union(4, Box::new(Value::Boolean(*b))),
    };
    let related = match &f.related {
        None => Value::Union(0, Box::new(Value::Null)),
        Some(r) => Value::Union(
            1,
            Box::new(Value::Record(vec![
                ("object".into(), Value::String(r.object.clone())),
                ("entity_set".into(), opt_string(&r.entity_set)),
                ("key_field".into(), Value::String(r.key_field.clone())),
                ("relationship".into(), Value::String(r.relationship.clone())),
            ])),
        ),
    };
    Value::Record(vec![
        ("name".into(), Value::String(f.name.clone())),
        ("type".into(), Value::String(f.field_type.name().into())),
        ("required".into(), Value::Boolean(f.required)),
        ("value".into(), value),
        ("related".into(), related),
    ])
}

fn record_value(r: &CrmRecord) -> Value {
    Value::Record(vec![
        ("crm".into(), crm_enum(r.crm)),
        ("record".into(), record_type_enum(r.record)),
        ("object".into(), Value::String(r.object.clone())),
        ("entity_set".into(), opt_string(&r.entity_set)),
        ("key_field".into(), Value::String(r.key_field.clone())),
        ("external_id".into(), Value::String(r.external_id.clone())),
        ("tenant_id".into(), Value::String(r.tenant_id.clone())),
        (
            "conversation_id".into(),
            Value::String(r.conversation_id.clone()),
        ),
        ("mapping_version".into(), Value::Long(r.mapping_version)),
        ("catalogue_version".into(), Value::Long(r.catalogue_version)),
        (
            "fields".into(),
            Value::Array(r.fields.iter().map(field_value).collect()),
        ),
    ])
}

fn error_value(e: &CrmWriteError) -> Value {
    let kind = match e.kind {
        WriteErrorKind::FieldAccess => Value::Enum(0, "field_access".into()),
        WriteErrorKind::RequiredMissing => Value::Enum(1, "required_missing".into()),
    };
    let code = match e.code {
        None => Value::Union(0, Box::new(Value::Null)),
        Some(c) => Value::Union(1, Box::new(Value::Int(c))),
    };
    Value::Record(vec![
        ("kind".into(), kind),
        ("code".into(), code),
        ("crm".into(), crm_enum(e.crm)),
        ("tenant_id".into(), Value::String(e.tenant_id.clone())),
        (
            "conversation_id".into(),
            Value::String(e.conversation_id.clone()),
        ),
        ("record".into(), record_type_enum(e.record)),
        ("object".into(), Value::String(e.object.clone())),
        ("external_id".into(), Value::String(e.external_id.clone())),
        (
            "fields".into(),
            Value::Array(e.fields.iter().cloned().map(Value::String).collect()),
        ),
        ("written".into(), Value::Boolean(e.written)),
        ("mapping_version".into(), Value::Long(e.mapping_version)),
        ("catalogue_version".into(), Value::Long(e.catalogue_version)),
    ])
}

/// Fields of a decoded record, by name.
struct Fields(Vec<(String, Value)>);

impl Fields {
    fn of(value: Value, what: &str) -> Result<Fields, CrmAvroError> {
        match value {
            Value::Record(fields) => Ok(Fields(fields)),
            other => Err(CrmAvroError::Decode(format!(
                "{what}: expected a record, found {other:?}"
            ))),
        }
    }

    fn take(&mut self, name: &str) -> Result<Value, CrmAvroError> {
        let i = self
            .0
            .iter()
            .position(|(n, _)| n == name)
            .ok_or_else(|| CrmAvroError::Decode(format!("no field {name}")))?;
        Ok(self.0.swap_remove(i).1)
    }

    fn string(&mut self, name: &str) -> Result<String, CrmAvroError> {
        match self.take(name)? {
            Value::String(s) | Value::Enum(_, s) => Ok(s),
            other => Err(CrmAvroError::Decode(format!(
                "{name}: expected a string, found {other:?}"
            ))),
        }
    }

    fn long(&mut self, name: &str) -> Result<i64, CrmAvroError> {
        match self.take(name)? {
            Value::Long(v) => Ok(v),
            other => Err(CrmAvroError::Decode(format!(
                "{name}: expected a long, found {other:?}"
            ))),
        }
    }

    fn opt_string(&mut self, name: &str) -> Result<Option<String>, CrmAvroError> {
        match unwrap_union(self.take(name)?) {
            Value::Null => Ok(None),
            Value::String(s) => Ok(Some(s)),
            other => Err(CrmAvroError::Decode(format!(
                "{name}: expected a string or null, found {other:?}"
            ))),
        }
    }
}

fn unwrap_union(v: Value) -> Value {
    match v {
        Value::Union(_, inner) => *inner,
        other => other,
    }
}

fn parse_name<T: serde::de::DeserializeOwned>(name: &str, what: &str) -> Result<T, CrmAvroError> {
    serde_json::from_value(serde_json::Value::String(name.to_string()))
        .map_err(|_| CrmAvroError::Decode(format!("{what}: unknown value {name}")))
}

fn record_from_value(value: Value) -> Result<CrmRecord, CrmAvroError> {
    let mut f = Fields::of(value, "CrmRecord")?;
    let fields = match f.take("fields")? {
        Value::Array(items) => items
            .into_iter()
            .map(field_from_value)
            .collect::<Result<Vec<_>, _>>()?,
        other => {
            return Err(CrmAvroError::Decode(format!(
                "fields: expected an array, found {other:?}"
            )))
        }
    };
    Ok(CrmRecord {
        crm: parse_name(&f.string("crm")?, "crm")?,
        record: parse_name(&f.string("record")?, "record")?,
        object: f.string("object")?,
        entity_set: f.opt_string("entity_set")?,
        key_field: f.string("key_field")?,
        external_id: f.string("external_id")?,
        tenant_id: f.string("tenant_id")?,
        conversation_id: f.string("conversation_id")?,
        mapping_version: f.long("mapping_version")?,
        catalogue_version: f.long("catalogue_version")?,
        fields,
    })
}

fn field_from_value(value: Value) -> Result<CrmField, CrmAvroError> {
    let mut f = Fields::of(value, "CrmField")?;
    let field_type: FieldType = parse_name(&f.string("type")?, "type")?;
    let required = match f.take("required")? {
        Value::Boolean(b) => b,
        other => {
            return Err(CrmAvroError::Decode(format!(
                "required: expected a boolean, found {other:?}"
            )))
        }
    };
    let value = match unwrap_union(f.take("value")?) {
        Value::Null => CrmValue::Null,
        Value::String(s) => CrmValue::Text(s),
        Value::Long(i) => CrmValue::Integer(i),
        Value::Double(d) => CrmValue::Decimal(d),
        Value::Boolean(b) => CrmValue::Boolean(b),
        other => return Err(CrmAvroError::Decode(format!("value: unexpected {other:?}"))),
    };
    let related = match unwrap_union(f.take("related")?) {
        Value::Null => None,
        v => {
            let mut r = Fields::of(v, "CrmRelated")?;
            Some(RelatedRecord {
                object: r.string("object")?,
                entity_set: r.opt_string("entity_set")?,
                key_field: r.string("key_field")?,
                relationship: r.string("relationship")?,
            })
        }
    };
    Ok(CrmField {
        name: f.string("name")?,
        field_type,
        required,
        value,
        related,
    })
}
