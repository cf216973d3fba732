//! Kafka Connect JSON: a record as `JsonConverter` with `schemas.enable=true` reads it, an
//! envelope `{"schema": …, "payload": …}` whose payload is exactly the CRM fields, in the form
//! the CRM's REST API upserts. The Kafka key is the external id as plain UTF-8 (read it with
//! `StringConverter`); a tombstone (null value) under that key deletes the record.
//!
//! Lookups are written the way each CRM's REST API relates records by external id:
//! - Dynamics: `"<navigation property>@odata.bind": "/<entity set>(<key field>='<id>')"`;
//! - Salesforce: `"<relationship>": {"attributes": {"type": "<object>"}, "<key field>": "<id>"}`.
//!
//! Everything else is `string`, `int64`, `double` or `boolean`, decided by the field's type
//! ([`repr`]), so a mapping always gives the same schema. Fields that are not required are
//! optional; a missing value is `null` (an upsert clears the field).

use super::record::{repr, CrmField, CrmRecord, CrmValue, Repr};
use super::types::CrmKind;
use serde_json::{json, Map, Value};

/// The schema name of a record: `io.debrief.crm.<crm>.<record>` (`io.debrief.crm.dynamics.task`).
pub fn schema_name(record: &CrmRecord) -> String {
    format!(
        "io.debrief.crm.{}.{}",
        record.crm.name(),
        record.record.name()
    )
}

/// The Kafka key: the external id, UTF-8.
pub fn key(record: &CrmRecord) -> &[u8] {
    record.external_id.as_bytes()
}

/// The `JsonConverter` envelope of a record, as bytes (compact JSON).
pub fn encode(record: &CrmRecord) -> Vec<u8> {
    // Serialising a `serde_json::Value` cannot fail (string keys, finite numbers or null).
    serde_json::to_vec(&envelope(record)).unwrap_or_default()
}

/// The `JsonConverter` envelope of a record.
pub fn envelope(record: &CrmRecord) -> Value {
    let mut fields = Vec::with_capacity(record.fields.len());
    let mut payload = Map::new();
    for f in &record.fields {
        let (name, schema, value) = field(record.crm, f);
        let mut schema = schema;
        if let Value::Object(m) = &mut schema {
            m.insert("field".into(), Value::String(name.clone()));
        }
        fields.push(schema);
        payload.insert(name, value);
    }
    json!({
        "schema": {
            "type": "struct",
            "name": schema_name(record),
            "optional": false,
            "fields": fields,
        },
        "payload": payload,
    })
}

/// One field: its name in the payload, its Connect schema (without `field`) and its value.
fn field(crm: CrmKind, f: &CrmField) -> (String, Value, Value) {
    let optional = !f.required;
    if let Some(rel) = &f.related {
        let id = match &f.value {
            CrmValue::Text(id) => Some(id.as_str()),
            _ => None,
        };
        return match crm {
            CrmKind::Dynamics => {
                let set = rel.entity_set.as_deref().unwrap_or(&rel.object);
                (
                    format!("{}@odata.bind", rel.relationship),
                    json!({"type": "string", "optional": optional}),
                    id.map_or(Value::Null, |id| {
                        // OData string literals double their quotes.
                        let id = id.replace('\'', "''");
                        Value::String(format!("/{set}({}='{id}')", rel.key_field))
                    }),
                )
            }
            CrmKind::Salesforce => (
                rel.relationship.clone(),
                json!({
                    "type": "struct",
                    "optional": optional,
                    "fields": [
                        {"field": "attributes", "type": "struct", "optional": false, "fields": [
                            {"field": "type", "type": "string", "optional": false}
                        ]},
                        {"field": rel.key_field, "type": "string", "optional": false}
                    ]
                }),
                id.map_or(Value::Null, |id| {
                    let mut m = Map::new();
                    m.insert("attributes".into(), json!({"type": rel.object}));
                    m.insert(rel.key_field.clone(), Value::String(id.to_string()));
                    Value::Object(m)
                }),
            ),
        };
    }
    let connect_type = match repr(crm, f.field_type) {
        Repr::Text => "string",
        Repr::Integer => "int64",
        Repr::Decimal => "double",
        Repr::Boolean => "boolean",
    };
    let value = match &f.value {
        CrmValue::Null => Value::Null,
        CrmValue::Text(s) => Value::String(s.clone()),
        CrmValue::Integer(i) => Value::from(*i),
        CrmValue::Decimal(d) => serde_json::Number::from_f64(*d).map_or(Value::Null, Value::Number),
        CrmValue::Boolean(b) => Value::Bool(*b),
    };
    (
        f.name.clone(),
        json!({"type": connect_type, "optional": optional}),
        value,
    )
}
