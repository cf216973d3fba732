//! Records written with every previous schema version (`schemas/history/`) are read by the
//! current codec. Each record is encoded by apache-avro with the OLD schema (which validates
//! it against that schema) and framed with the OLD fingerprint.

use super::*;
use apache_avro::schema::Name;
use serde_json::Value as Json;
use std::collections::HashMap;
use std::mem::discriminant;

/// Named types of a schema, by full name.
type Names = HashMap<String, Schema>;

fn full(name: &Name) -> String {
    name.fullname(None)
}

fn names_of(schema: &Schema) -> Names {
    fn walk(s: &Schema, out: &mut Names) {
        match s {
            Schema::Record(r) => {
                out.insert(full(&r.name), s.clone());
                for f in &r.fields {
                    walk(&f.schema, out);
                }
            }
            Schema::Enum(e) => {
                out.insert(full(&e.name), s.clone());
            }
            Schema::Fixed(f) => {
                out.insert(full(&f.name), s.clone());
            }
            Schema::Array(a) => walk(&a.items, out),
            Schema::Map(m) => walk(&m.types, out),
            Schema::Union(u) => u.variants().iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = Names::new();
    walk(schema, &mut out);
    out
}

fn deref<'a>(s: &'a Schema, names: &'a Names) -> &'a Schema {
    match s {
        Schema::Ref { name } => &names[&full(name)],
        _ => s,
    }
}

fn type_name(s: &Schema) -> Option<String> {
    match s {
        Schema::Record(r) => Some(full(&r.name)),
        Schema::Enum(e) => Some(full(&e.name)),
        Schema::Fixed(f) => Some(full(&f.name)),
        _ => None,
    }
}

/// A schema with its named types.
struct Side<'a> {
    schema: &'a Schema,
    names: &'a Names,
}

/// The smallest value of `schema`: empty strings and collections, zeros, the first union
/// branch, the first enum symbol.
fn minimal(s: &Schema, names: &Names) -> Value {
    match deref(s, names) {
        Schema::Null => Value::Null,
        Schema::Boolean => Value::Boolean(false),
        Schema::Int => Value::Int(0),
        Schema::Long => Value::Long(0),
        Schema::Float => Value::Float(0.0),
        Schema::Double => Value::Double(0.0),
        Schema::Bytes => Value::Bytes(Vec::new()),
        Schema::String => Value::String(String::new()),
        Schema::TimestampMillis => Value::TimestampMillis(0),
        Schema::Array(_) => Value::Array(Vec::new()),
        Schema::Map(_) => Value::Map(HashMap::new()),
        Schema::Union(u) => Value::Union(0, Box::new(minimal(&u.variants()[0], names))),
        Schema::Record(r) => Value::Record(
            r.fields
                .iter()
                .map(|f| (f.name.clone(), minimal(&f.schema, names)))
                .collect(),
        ),
        Schema::Enum(e) => Value::Enum(0, e.symbols[0].clone()),
        Schema::Fixed(f) => Value::Fixed(f.size, vec![0; f.size]),
        other => panic!("no minimal value for {other:?}"),
    }
}

/// The union branch of `old` that a value of the current branch `cur` is written as: the same
/// named type, or the same unnamed type.
fn same_branch(cur: &Schema, old: &Schema, cn: &Names, on: &Names) -> bool {
    let (c, o) = (deref(cur, cn), deref(old, on));
    match (type_name(c), type_name(o)) {
        (Some(a), Some(b)) => a == b,
        (None, None) => discriminant(c) == discriminant(o),
        _ => false,
    }
}

/// `value` (of the current schema) as the old schema writes it: fields the old schema lacks
/// dropped, union branches and enum symbols renumbered by name.
fn project(value: &Value, cur: &Side, old: &Side) -> Value {
    let (c, o) = (deref(cur.schema, cur.names), deref(old.schema, old.names));
    let sub = |v: &Value, cs: &Schema, os: &Schema| {
        project(
            v,
            &Side {
                schema: cs,
                names: cur.names,
            },
            &Side {
                schema: os,
                names: old.names,
            },
        )
    };
    match (value, c, o) {
        (Value::Record(fields), Schema::Record(cr), Schema::Record(or)) => Value::Record(
            or.fields
                .iter()
                .map(|of| {
                    let cf = cr.fields.iter().find(|f| f.name == of.name).unwrap();
                    let (_, v) = fields.iter().find(|(n, _)| *n == of.name).unwrap();
                    (of.name.clone(), sub(v, &cf.schema, &of.schema))
                })
                .collect(),
        ),
        (Value::Union(i, v), Schema::Union(cu), Schema::Union(ou)) => {
            let cb = &cu.variants()[*i as usize];
            let j = ou
                .variants()
                .iter()
                .position(|ob| same_branch(cb, ob, cur.names, old.names))
                .unwrap_or_else(|| panic!("the old schema has no branch for {cb:?}"));
            Value::Union(j as u32, Box::new(sub(v, cb, &ou.variants()[j])))
        }
        (Value::Array(items), Schema::Array(ca), Schema::Array(oa)) => {
            Value::Array(items.iter().map(|v| sub(v, &ca.items, &oa.items)).collect())
        }
        (Value::Map(m), Schema::Map(cm), Schema::Map(om)) => Value::Map(
            m.iter()
                .map(|(k, v)| (k.clone(), sub(v, &cm.types, &om.types)))
                .collect(),
        ),
        (Value::Enum(_, symbol), _, Schema::Enum(oe)) => {
            let j = oe.symbols.iter().position(|s| s == symbol).unwrap();
            Value::Enum(j as u32, symbol.clone())
        }
        _ => value.clone(),
    }
}

/// Whether `value` is what the JSON `default` of a field says.
fn is_default(value: &Value, default: &Json) -> bool {
    match (value, default) {
        (Value::Union(_, v), d) => is_default(v, d),
        (Value::Null, Json::Null) => true,
        (Value::Boolean(b), Json::Bool(d)) => b == d,
        (Value::Int(i), Json::Number(d)) => d.as_i64() == Some(i64::from(*i)),
        (Value::Long(i), Json::Number(d)) => d.as_i64() == Some(*i),
        (Value::String(s) | Value::Enum(_, s), Json::String(d)) => s == d,
        (Value::Array(a), Json::Array(d)) => a.is_empty() && d.is_empty(),
        (Value::Map(m), Json::Object(d)) => m.is_empty() && d.is_empty(),
        _ => false,
    }
}

/// Checks that every field of the current schema that `old` lacks holds its default in
/// `decoded` (a value of the current schema read from a record written with `old`).
fn assert_new_fields_default(decoded: &Value, cur: &Side, old: &Side, path: &str) {
    let (c, o) = (deref(cur.schema, cur.names), deref(old.schema, old.names));
    let sub = |v: &Value, cs: &Schema, os: &Schema, p: &str| {
        assert_new_fields_default(
            v,
            &Side {
                schema: cs,
                names: cur.names,
            },
            &Side {
                schema: os,
                names: old.names,
            },
            p,
        )
    };
    match (decoded, c, o) {
        (Value::Record(fields), Schema::Record(cr), Schema::Record(or)) => {
            for ((name, v), cf) in fields.iter().zip(&cr.fields) {
                let p = format!("{path}.{name}");
                match or.fields.iter().find(|f| f.name == *name) {
                    Some(of) => sub(v, &cf.schema, &of.schema, &p),
                    None => {
                        let d = cf
                            .default
                            .as_ref()
                            .unwrap_or_else(|| panic!("{p}: no default"));
                        assert!(is_default(v, d), "{p} is {v:?}, not its default {d}");
                    }
                }
            }
        }
        (Value::Union(i, v), Schema::Union(cu), Schema::Union(ou)) => {
            let cb = &cu.variants()[*i as usize];
            if let Some(ob) = ou
                .variants()
                .iter()
                .find(|ob| same_branch(cb, ob, cur.names, old.names))
            {
                sub(v, cb, ob, path);
            }
        }
        (Value::Array(items), Schema::Array(ca), Schema::Array(oa)) => {
            for (k, v) in items.iter().enumerate() {
                sub(v, &ca.items, &oa.items, &format!("{path}[{k}]"));
            }
        }
        (Value::Map(m), Schema::Map(cm), Schema::Map(om)) => {
            for (k, v) in m {
                sub(v, &cm.types, &om.types, &format!("{path}[{k}]"));
            }
        }
        _ => {}
    }
}

/// Decodes `bytes` as the record type of `kind` and returns it as a value of the current
/// schema.
fn decode_as(codec: &Codec, kind: RecordKind, bytes: &[u8]) -> Result<Value, SchemaError> {
    fn value<T: ContractRecord>(codec: &Codec, bytes: &[u8]) -> Result<Value, SchemaError> {
        codec.decode::<T>(bytes).map(|v| v.to_avro())
    }
    match kind {
        RecordKind::TranscriptEvent => value::<TranscriptEvent>(codec, bytes),
        RecordKind::MeetingInsight => value::<Insight>(codec, bytes),
        RecordKind::InteractionTelemetry => value::<InteractionTelemetry>(codec, bytes),
        RecordKind::DeadLetter => value::<DeadLetter>(codec, bytes),
        RecordKind::TenantConfig => value::<TenantConfig>(codec, bytes),
        RecordKind::ErasureRequest => value::<ErasureRequest>(codec, bytes),
        RecordKind::ConversationIndex => value::<ConversationIndexEntry>(codec, bytes),
        RecordKind::ErasureLedger => value::<ErasureLedgerEntry>(codec, bytes),
        RecordKind::Audit => value::<AuditRecord>(codec, bytes),
        RecordKind::LiveInsight => value::<crate::live::LiveInsight>(codec, bytes),
        RecordKind::InteractionEvent => value::<InteractionEvent>(codec, bytes),
        RecordKind::Alert => value::<crate::rules::Alert>(codec, bytes),
    }
}

/// Writes `current_value` (of the current schema of `old.kind`) with the old schema, reads
/// it back with `codec`, and checks that nothing the old writer wrote changed and that the
/// fields it did not know hold their defaults. Returns the decoded value.
fn check_written_with_old(codec: &Codec, old: &HistoricalSchema, current_value: &Value) -> Value {
    let schemas = Schemas::get().unwrap();
    let old_schema = Schema::parse_str(old.json).unwrap();
    let (cur_names, old_names) = (names_of(schemas.schema(old.kind)), names_of(&old_schema));
    let cur = Side {
        schema: schemas.schema(old.kind),
        names: &cur_names,
    };
    let old_side = Side {
        schema: &old_schema,
        names: &old_names,
    };
    let as_old = project(current_value, &cur, &old_side);
    // apache-avro validates the value against the old schema before writing it.
    let bytes = written_with(old.json, as_old.clone());
    let decoded = decode_as(codec, old.kind, &bytes)
        .unwrap_or_else(|e| panic!("{}: a record written with it: {e}", old.path));
    assert_eq!(project(&decoded, &cur, &old_side), as_old, "{}", old.path);
    assert_new_fields_default(&decoded, &cur, &old_side, old.kind.name());
    decoded
}

fn history() -> Vec<HistoricalSchema> {
    historical_schemas().unwrap()
}

fn of_kind(kind: RecordKind) -> Vec<HistoricalSchema> {
    history().into_iter().filter(|h| h.kind == kind).collect()
}

#[test]
fn every_history_file_is_a_previous_version_named_by_its_fingerprint() {
    let schemas = Schemas::get().unwrap();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/history");
    // What was compiled in is what is on disk (include_dir does not notice new files by itself).
    let mut on_disk = Vec::new();
    for sub in std::fs::read_dir(&dir).unwrap() {
        let sub = sub.unwrap();
        let name = sub.file_name().into_string().unwrap();
        assert!(
            RecordKind::ALL.iter().any(|k| k.name() == name),
            "schemas/history/{name} is not a record kind's schema"
        );
        for file in std::fs::read_dir(sub.path()).unwrap() {
            let file = file.unwrap().file_name().into_string().unwrap();
            on_disk.push(format!("{name}/{file}"));
        }
    }
    on_disk.sort();
    assert_eq!(super::super::history::embedded_paths(), on_disk);
    let all = history();
    assert_eq!(all.len(), on_disk.len());
    for old in &all {
        let schema = Schema::parse_str(old.json)
            .unwrap_or_else(|e| panic!("{} does not parse: {e}", old.path));
        let fp = spec_fingerprint(old.json).unwrap();
        assert_eq!(
            old.path,
            format!("{}/{fp:016x}.avsc", old.kind),
            "file name"
        );
        assert_ne!(
            fp,
            schemas.fingerprint(old.kind),
            "{}: the current schema is not history",
            old.path
        );
        assert_eq!(
            type_name(&schema),
            type_name(schemas.schema(old.kind)),
            "{}: same record type",
            old.path
        );
    }
    // The versions the contract names (docs/contract.md) are there.
    for path in [
        "transcript_event/c3cecc9be0bc3ade.avsc",
        "tenant_config/65a3f0fbb01361dc.avsc",
        "erasure_request/af4c363b1c0117ef.avsc",
    ] {
        assert!(all.iter().any(|h| h.path == path), "{path}");
    }
}

#[test]
fn every_historical_writer_schema_is_readable() {
    let schemas = Schemas::get().unwrap();
    let problems: Vec<String> = history()
        .iter()
        .filter_map(|old| {
            super::super::accepted_writers(schemas, old.kind, old.json)
                .err()
                .map(|e| format!("schemas/history/{}: {e}", old.path))
        })
        .collect();
    assert!(problems.is_empty(), "{problems:#?}");
    let codec = single();
    for old in history() {
        let fp = spec_fingerprint(old.json).unwrap();
        let legacy = legacy_fingerprint(&Schema::parse_str(old.json).unwrap());
        assert!(codec.reads_fingerprint(old.kind, fp), "{}", old.path);
        assert!(codec.reads_fingerprint(old.kind, legacy), "{}", old.path);
        let other = RecordKind::ALL
            .into_iter()
            .find(|k| *k != old.kind)
            .unwrap();
        assert!(!codec.reads_fingerprint(other, fp), "{}", old.path);
    }
    // The JSON codec has no fingerprints.
    let json = Codec::new(Encoding::Json, None).unwrap();
    assert_eq!(json.extra_writer_fingerprints(), 0);
}

#[test]
fn a_minimal_record_of_every_previous_version_decodes() {
    let codec = single();
    let all = history();
    assert!(all.len() >= 20, "{} previous versions", all.len());
    for old in &all {
        let schema = Schema::parse_str(old.json).unwrap();
        let value = minimal(&schema, &names_of(&schema));
        let mut bytes = written_with(old.json, value);
        decode_as(&codec, old.kind, &bytes)
            .unwrap_or_else(|e| panic!("{}: a minimal record: {e}", old.path));
        // Under its legacy fingerprint (what Debrief 0.1's apache-avro wrote) too.
        let legacy = legacy_fingerprint(&schema);
        bytes[2..10].copy_from_slice(&legacy.to_le_bytes());
        decode_as(&codec, old.kind, &bytes)
            .unwrap_or_else(|e| panic!("{}: under its legacy fingerprint: {e}", old.path));
    }
}

#[test]
fn transcript_events_written_with_every_previous_version_decode() {
    let codec = single();
    let olds = of_kind(RecordKind::TranscriptEvent);
    assert!(!olds.is_empty());
    for old in &olds {
        for event in transcript_events() {
            let decoded = check_written_with_old(&codec, old, &event.to_avro());
            if !old.json.contains("\"owner_id\"") {
                // Written before owner_id: the same event without it.
                let mut want = event.clone();
                match &mut want.payload {
                    TranscriptPayload::Started(s) => s.owner_id = None,
                    TranscriptPayload::Complete(c) => c.owner_id = None,
                    _ => {}
                }
                assert_eq!(TranscriptEvent::from_avro(decoded).unwrap(), want);
            }
        }
    }
}

#[test]
fn tenant_configs_written_with_every_previous_version_decode() {
    let (counter, codec) = old_writer_counted();
    let olds = of_kind(RecordKind::TenantConfig);
    assert!(
        olds.len() >= 5,
        "{} previous tenant_config versions",
        olds.len()
    );
    for old in &olds {
        let decoded = check_written_with_old(&codec, old, &tenant_config().to_avro());
        let decoded = TenantConfig::from_avro(decoded).unwrap();
        // What every version had.
        assert_eq!(decoded.tenant_id, "acme", "{}", old.path);
        assert_eq!(decoded.version, 7);
        assert_eq!(decoded.trackers, tenant_config().trackers, "{}", old.path);
        assert_eq!(decoded.crm, Crm::Salesforce);
        if !old.json.contains("\"rules\"") {
            assert!(decoded.rules.is_empty(), "{}", old.path);
        }
        if !old.json.contains("\"profiles\"") {
            assert!(decoded.profiles.is_empty(), "{}", old.path);
        }
    }
    assert_eq!(
        counter.with_label_values(&["tenant_config"]).get(),
        olds.len() as u64
    );
    // A record of the current version is not an old writer's.
    let bytes = codec.encode("t", &tenant_config()).unwrap();
    assert_eq!(
        codec.decode::<TenantConfig>(&bytes).unwrap(),
        tenant_config()
    );
    assert_eq!(
        counter.with_label_values(&["tenant_config"]).get(),
        olds.len() as u64
    );
}

#[test]
fn realistic_records_of_the_other_kinds_written_with_previous_versions_decode() {
    let codec = single();
    let samples: Vec<(RecordKind, Value)> = vec![
        (RecordKind::MeetingInsight, insight().to_avro()),
        (RecordKind::InteractionTelemetry, telemetry().to_avro()),
        (RecordKind::DeadLetter, dead_letter().to_avro()),
        (RecordKind::ErasureRequest, erasure().to_avro()),
        (RecordKind::ConversationIndex, index_entry().to_avro()),
        (RecordKind::ErasureLedger, ledger_entry().to_avro()),
        (RecordKind::Audit, audit_record().to_avro()),
        (RecordKind::InteractionEvent, interaction_event().to_avro()),
        (RecordKind::Alert, alert().to_avro()),
    ];
    let mut checked = 0;
    for (kind, value) in &samples {
        for old in of_kind(*kind) {
            check_written_with_old(&codec, &old, value);
            checked += 1;
        }
    }
    assert!(checked >= 10, "{checked} versions checked");
}

/// A codec counting old writer schemas, and its counter.
fn old_writer_counted() -> (prometheus::IntCounterVec, Codec) {
    let counter = prometheus::IntCounterVec::new(
        prometheus::Opts::new("debrief_old_writer_schema_total", "test"),
        &["schema"],
    )
    .unwrap();
    (counter.clone(), single().count_old_writer_schemas(counter))
}
