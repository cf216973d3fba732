//! Avro schema resolution of a decoded value: from the writer's schema to the reader's.
//!
//! apache-avro 0.20's `Value::resolve` picks the *first* union branch the value fits, without
//! looking at record names. With the transcript payload union, whose `ConversationStarted` and
//! `ConversationEnded` branches have only defaulted fields, a segment written with another
//! schema version would silently come out as a `ConversationStarted`. This walk follows the
//! writer schema instead: union branches are matched by name (named types) or by type, record
//! fields by name with the reader's defaults for missing ones, enum symbols by name with the
//! reader's default symbol, then apache-avro resolves the leaves (promotions, logical types).

use apache_avro::schema::{Name, RecordSchema, UnionSchema};
use apache_avro::types::Value;
use apache_avro::Schema;
use serde_json::Value as Json;
use std::collections::HashMap;
use std::mem::discriminant;

/// The named types of a schema, by full name, to follow `Schema::Ref`s.
#[derive(Debug, Default)]
pub(crate) struct SchemaNames(HashMap<String, Schema>);

impl SchemaNames {
    /// Collects every record, enum and fixed type defined in `schema`.
    pub(crate) fn of(schema: &Schema) -> SchemaNames {
        let mut names = SchemaNames::default();
        names.collect(schema);
        names
    }

    fn collect(&mut self, schema: &Schema) {
        match schema {
            Schema::Record(r) => {
                self.0.insert(full(&r.name), schema.clone());
                for f in &r.fields {
                    self.collect(&f.schema);
                }
            }
            Schema::Enum(e) => {
                self.0.insert(full(&e.name), schema.clone());
            }
            Schema::Fixed(f) => {
                self.0.insert(full(&f.name), schema.clone());
            }
            Schema::Array(a) => self.collect(&a.items),
            Schema::Map(m) => self.collect(&m.types),
            Schema::Union(u) => {
                for v in u.variants() {
                    self.collect(v);
                }
            }
            _ => {}
        }
    }

    /// `schema`, or the named type a `Ref` points to.
    fn deref<'a>(&'a self, schema: &'a Schema) -> Result<&'a Schema, String> {
        match schema {
            Schema::Ref { name } => self
                .0
                .get(&full(name))
                .ok_or_else(|| format!("undefined type {}", full(name))),
            other => Ok(other),
        }
    }
}

fn full(name: &Name) -> String {
    name.fullname(None)
}

/// Resolves `value`, decoded with `writer`, to `reader`.
pub(crate) fn resolve(
    value: Value,
    writer: &Schema,
    wn: &SchemaNames,
    reader: &Schema,
    rn: &SchemaNames,
) -> Result<Value, String> {
    let (w, r) = (wn.deref(writer)?, rn.deref(reader)?);
    match (w, r) {
        (Schema::Union(wu), Schema::Union(ru)) => {
            let Value::Union(i, inner) = value else {
                return Err("expected a union value".into());
            };
            let wb = wn.deref(
                wu.variants()
                    .get(i as usize)
                    .ok_or("union branch out of range")?,
            )?;
            let (j, rb) = branch(ru, wb, rn)?;
            Ok(Value::Union(
                j as u32,
                Box::new(resolve(*inner, wb, wn, rb, rn)?),
            ))
        }
        (Schema::Union(wu), _) => {
            let Value::Union(i, inner) = value else {
                return Err("expected a union value".into());
            };
            let wb = wu
                .variants()
                .get(i as usize)
                .ok_or("union branch out of range")?;
            resolve(*inner, wb, wn, r, rn)
        }
        (_, Schema::Union(ru)) => {
            let (j, rb) = branch(ru, w, rn)?;
            Ok(Value::Union(
                j as u32,
                Box::new(resolve(value, w, wn, rb, rn)?),
            ))
        }
        (Schema::Record(wr), Schema::Record(rr)) => record(value, wr, wn, rr, rn),
        (Schema::Enum(_), Schema::Enum(re)) => {
            let Value::Enum(_, sym) = value else {
                return Err("expected an enum value".into());
            };
            let sym = if re.symbols.contains(&sym) {
                sym
            } else {
                re.default.clone().ok_or_else(|| {
                    format!(
                        "symbol `{sym}` is not in {} and it has no default",
                        full(&re.name)
                    )
                })?
            };
            let j = re
                .symbols
                .iter()
                .position(|s| *s == sym)
                .ok_or("default symbol missing")?;
            Ok(Value::Enum(j as u32, sym))
        }
        (Schema::Array(wa), Schema::Array(ra)) => {
            let Value::Array(items) = value else {
                return Err("expected an array value".into());
            };
            let items = items
                .into_iter()
                .map(|v| resolve(v, &wa.items, wn, &ra.items, rn))
                .collect::<Result<_, _>>()?;
            Ok(Value::Array(items))
        }
        (Schema::Map(wm), Schema::Map(rm)) => {
            let Value::Map(items) = value else {
                return Err("expected a map value".into());
            };
            let items = items
                .into_iter()
                .map(|(k, v)| resolve(v, &wm.types, wn, &rm.types, rn).map(|v| (k, v)))
                .collect::<Result<_, _>>()?;
            Ok(Value::Map(items))
        }
        (Schema::Record(_) | Schema::Enum(_) | Schema::Array(_) | Schema::Map(_), _)
        | (_, Schema::Record(_) | Schema::Enum(_) | Schema::Array(_) | Schema::Map(_)) => {
            Err("writer and reader types differ".into())
        }
        // Leaves: promotions (int to long, ...) and logical types.
        _ => value.resolve(r).map_err(|e| e.to_string()),
    }
}

fn record(
    value: Value,
    w: &RecordSchema,
    wn: &SchemaNames,
    r: &RecordSchema,
    rn: &SchemaNames,
) -> Result<Value, String> {
    let Value::Record(fields) = value else {
        return Err("expected a record value".into());
    };
    let mut by_name: HashMap<String, Value> = fields.into_iter().collect();
    let mut out = Vec::with_capacity(r.fields.len());
    for rf in &r.fields {
        let v = match (w.lookup.get(&rf.name), by_name.remove(&rf.name)) {
            (Some(&pos), Some(v)) => resolve(v, &w.fields[pos].schema, wn, &rf.schema, rn),
            _ => match &rf.default {
                Some(d) => default_value(d, &rf.schema, rn),
                None => Err("missing in the writer schema and has no default".into()),
            },
        }
        .map_err(|e| format!("{}.{}: {e}", r.name.name, rf.name))?;
        out.push((rf.name.clone(), v));
    }
    Ok(Value::Record(out))
}

/// The reader's union branch for a writer type: same full name for named types, else the
/// same type, else a type it promotes to.
fn branch<'a>(
    ru: &'a UnionSchema,
    w: &Schema,
    rn: &'a SchemaNames,
) -> Result<(usize, &'a Schema), String> {
    let variants: Vec<&Schema> = ru
        .variants()
        .iter()
        .map(|v| rn.deref(v))
        .collect::<Result<_, _>>()?;
    if let Some(name) = w.name() {
        return variants
            .iter()
            .position(|v| v.name().is_some_and(|n| full(n) == full(name)))
            .map(|j| (j, variants[j]))
            .ok_or_else(|| format!("no branch {} in the reader's union", full(name)));
    }
    if let Some(j) = variants
        .iter()
        .position(|v| discriminant(*v) == discriminant(w))
    {
        return Ok((j, variants[j]));
    }
    let promotes = |v: &Schema| {
        matches!(
            (w, v),
            (Schema::Int, Schema::Long | Schema::Float | Schema::Double)
                | (Schema::Long, Schema::Float | Schema::Double)
                | (Schema::Float, Schema::Double)
                | (Schema::String, Schema::Bytes)
                | (Schema::Bytes, Schema::String)
        )
    };
    variants
        .iter()
        .position(|v| promotes(v))
        .map(|j| (j, variants[j]))
        .ok_or_else(|| "no matching branch in the reader's union".into())
}

/// A field default (JSON, as in the schema) as a value of the field's schema.
fn default_value(json: &Json, schema: &Schema, names: &SchemaNames) -> Result<Value, String> {
    let schema = names.deref(schema)?;
    let bad = || format!("default {json} does not fit the field type");
    Ok(match (schema, json) {
        (Schema::Union(u), _) => {
            let first = u.variants().first().ok_or_else(bad)?;
            Value::Union(0, Box::new(default_value(json, first, names)?))
        }
        (Schema::Null, Json::Null) => Value::Null,
        (Schema::Boolean, Json::Bool(b)) => Value::Boolean(*b),
        (Schema::Int, Json::Number(n)) => Value::Int(
            n.as_i64()
                .and_then(|v| i32::try_from(v).ok())
                .ok_or_else(bad)?,
        ),
        (Schema::Long, Json::Number(n)) => Value::Long(n.as_i64().ok_or_else(bad)?),
        (Schema::TimestampMillis, Json::Number(n)) => {
            Value::TimestampMillis(n.as_i64().ok_or_else(bad)?)
        }
        (Schema::Float, Json::Number(n)) => Value::Float(n.as_f64().ok_or_else(bad)? as f32),
        (Schema::Double, Json::Number(n)) => Value::Double(n.as_f64().ok_or_else(bad)?),
        (Schema::String, Json::String(s)) => Value::String(s.clone()),
        (Schema::Bytes, Json::String(s)) => {
            Value::Bytes(s.chars().map(|c| c as u32 as u8).collect())
        }
        (Schema::Enum(e), Json::String(s)) => {
            let j = e.symbols.iter().position(|x| x == s).ok_or_else(bad)?;
            Value::Enum(j as u32, s.clone())
        }
        (Schema::Array(a), Json::Array(items)) => Value::Array(
            items
                .iter()
                .map(|i| default_value(i, &a.items, names))
                .collect::<Result<_, _>>()?,
        ),
        (Schema::Map(m), Json::Object(o)) => Value::Map(
            o.iter()
                .map(|(k, v)| default_value(v, &m.types, names).map(|v| (k.clone(), v)))
                .collect::<Result<_, _>>()?,
        ),
        (Schema::Record(r), Json::Object(o)) => {
            let mut out = Vec::with_capacity(r.fields.len());
            for f in &r.fields {
                let v = match (o.get(&f.name), &f.default) {
                    (Some(v), _) | (None, Some(v)) => default_value(v, &f.schema, names)?,
                    (None, None) => return Err(bad()),
                };
                out.push((f.name.clone(), v));
            }
            Value::Record(out)
        }
        _ => return Err(bad()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> (Schema, SchemaNames) {
        let schema = Schema::parse_str(s).unwrap();
        let names = SchemaNames::of(&schema);
        (schema, names)
    }

    #[test]
    fn union_branches_match_by_record_name_not_by_order() {
        // Writer has [B, A]; reader has [A, B] where A's fields all have defaults, so "first
        // branch that fits" would wrongly pick A for a B value.
        let (w, wn) = parse(
            r#"[
            {"type":"record","name":"B","fields":[{"name":"b","type":"int"}]},
            {"type":"record","name":"A","fields":[{"name":"a","type":"int","default":1}]}]"#,
        );
        let (r, rn) = parse(
            r#"[
            {"type":"record","name":"A","fields":[{"name":"a","type":"int","default":1}]},
            {"type":"record","name":"B","fields":[{"name":"b","type":"long"},{"name":"c","type":"string","default":"x"}]}]"#,
        );
        let v = Value::Union(
            0,
            Box::new(Value::Record(vec![("b".into(), Value::Int(5))])),
        );
        let got = resolve(v, &w, &wn, &r, &rn).unwrap();
        let want = Value::Union(
            1,
            Box::new(Value::Record(vec![
                ("b".into(), Value::Long(5)),
                ("c".into(), Value::String("x".into())),
            ])),
        );
        assert_eq!(got, want);
    }

    #[test]
    fn enum_symbols_fall_back_to_the_reader_default() {
        let (w, wn) = parse(r#"{"type":"enum","name":"E","symbols":["a","b","new"]}"#);
        let (r, rn) = parse(r#"{"type":"enum","name":"E","symbols":["a","b"],"default":"b"}"#);
        let got = resolve(Value::Enum(2, "new".into()), &w, &wn, &r, &rn).unwrap();
        assert_eq!(got, Value::Enum(1, "b".into()));
        let (r2, rn2) = parse(r#"{"type":"enum","name":"E","symbols":["a","b"]}"#);
        assert!(resolve(Value::Enum(2, "new".into()), &w, &wn, &r2, &rn2).is_err());
    }

    #[test]
    fn missing_field_without_default_is_an_error_naming_it() {
        let (w, wn) = parse(r#"{"type":"record","name":"R","fields":[]}"#);
        let (r, rn) = parse(r#"{"type":"record","name":"R","fields":[{"name":"x","type":"int"}]}"#);
        let e = resolve(Value::Record(vec![]), &w, &wn, &r, &rn).unwrap_err();
        assert_eq!(e, "R.x: missing in the writer schema and has no default");
    }

    #[test]
    fn defaults_of_every_shape() {
        let (w, wn) = parse(r#"{"type":"record","name":"R","fields":[]}"#);
        let (r, rn) = parse(
            r#"{"type":"record","name":"R","fields":[
            {"name":"o","type":["null","string"],"default":null},
            {"name":"l","type":{"type":"array","items":"string"},"default":["a"]},
            {"name":"m","type":{"type":"map","values":"long"},"default":{"k":2}},
            {"name":"e","type":{"type":"enum","name":"E","symbols":["x","y"]},"default":"y"},
            {"name":"f","type":{"type":"record","name":"F","fields":[{"name":"t","type":"boolean","default":true}]},"default":{}},
            {"name":"d","type":"double","default":0.5}]}"#,
        );
        let got = resolve(Value::Record(vec![]), &w, &wn, &r, &rn).unwrap();
        let want = Value::Record(vec![
            ("o".into(), Value::Union(0, Box::new(Value::Null))),
            ("l".into(), Value::Array(vec![Value::String("a".into())])),
            (
                "m".into(),
                Value::Map(HashMap::from([("k".to_string(), Value::Long(2))])),
            ),
            ("e".into(), Value::Enum(1, "y".into())),
            (
                "f".into(),
                Value::Record(vec![("t".into(), Value::Boolean(true))]),
            ),
            ("d".into(), Value::Double(0.5)),
        ]);
        assert_eq!(got, want);
    }
}
