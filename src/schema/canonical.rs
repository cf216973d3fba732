//! The Avro specification's Parsing Canonical Form of a schema and its 64-bit CRC-64-AVRO
//! (Rabin) fingerprint, the one the single-object encoding carries.
//!
//! apache-avro 0.20 computes a different form: it drops `logicalType` but leaves
//! `{"type":"long"}` where the primitive had one (PRIMITIVES asks for `"long"`), and keeps
//! `precision` and `scale` (against STRIP), so its fingerprints differ from Java's
//! `SchemaNormalization` and fastavro's for any schema with a logical type (AVRO-4004).
//! This module works on the schema's JSON text instead and applies the rules of the
//! specification ("Transforming into Parsing Canonical Form"):
//!
//! - PRIMITIVES: `{"type":"int", ...}` becomes `"int"` (whatever else the object holds,
//!   `logicalType` included);
//! - FULLNAMES: named types and references to them get their full name (namespace from a
//!   dotted name, else the `namespace` attribute, else the enclosing named type's); the
//!   `namespace` attributes go;
//! - STRIP: only `type`, `name`, `fields`, `symbols`, `items`, `values` and `size` are kept;
//! - ORDER: in that order (`name` first);
//! - STRINGS: string literals are written with their characters as UTF-8 (only `"`, `\` and
//!   control characters escaped, which valid names never contain);
//! - INTEGERS: `size` as a plain integer;
//! - WHITESPACE: none outside strings.
//!
//! The tests check the output against canonical forms and fingerprints computed by Apache
//! Avro for Java and by fastavro (`testdata/canonical_forms.{java,fastavro}.jsonl`, written by
//! `tests/interop/make-vectors.sh`).
//!
//! The input must be a schema apache-avro accepts (the callers parse it first); anything else
//! gives a [`CanonicalFormError`], never a panic.

use apache_avro::rabin::Rabin;
use serde_json::{Map, Value};
use sha2::Digest;
use std::collections::HashSet;

/// The schema text is not a schema this module can put in canonical form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an Avro schema: {0}")]
pub struct CanonicalFormError(String);

/// Avro's primitive type names.
const PRIMITIVES: [&str; 8] = [
    "null", "boolean", "int", "long", "float", "double", "bytes", "string",
];

/// The Parsing Canonical Form of the schema in `schema_json`.
pub fn parsing_canonical_form(schema_json: &str) -> Result<String, CanonicalFormError> {
    let value: Value = serde_json::from_str(schema_json)
        .map_err(|e| CanonicalFormError(format!("not JSON: {e}")))?;
    let mut writer = Writer::default();
    writer.schema(&value, "")?;
    Ok(writer.out)
}

/// The CRC-64-AVRO (Rabin) fingerprint of `bytes`, as a number (the single-object header
/// carries it little-endian).
pub fn crc64_avro(bytes: &[u8]) -> u64 {
    let out = Rabin::digest(bytes);
    let mut le = [0u8; 8];
    for (dst, src) in le.iter_mut().zip(out.iter()) {
        *dst = *src;
    }
    u64::from_le_bytes(le)
}

/// The specification's fingerprint of the schema in `schema_json`: CRC-64-AVRO of its
/// Parsing Canonical Form. Equal to Java's `SchemaNormalization.parsingFingerprint64`.
pub fn spec_fingerprint(schema_json: &str) -> Result<u64, CanonicalFormError> {
    parsing_canonical_form(schema_json).map(|pcf| crc64_avro(pcf.as_bytes()))
}

#[derive(Default)]
struct Writer {
    out: String,
    /// Full names of the named types seen so far (a reference must follow its definition).
    defined: HashSet<String>,
}

impl Writer {
    /// Writes one schema; `ns` is the enclosing namespace (`""` for none).
    fn schema(&mut self, v: &Value, ns: &str) -> Result<(), CanonicalFormError> {
        match v {
            Value::String(name) => self.reference(name, ns),
            Value::Array(branches) => {
                self.out.push('[');
                for (i, branch) in branches.iter().enumerate() {
                    if i > 0 {
                        self.out.push(',');
                    }
                    self.schema(branch, ns)?;
                }
                self.out.push(']');
                Ok(())
            }
            Value::Object(map) => self.object(map, ns),
            other => Err(CanonicalFormError(format!(
                "a schema is a string, an array or an object, not {other}"
            ))),
        }
    }

    /// A primitive type name or a reference to a named type.
    fn reference(&mut self, name: &str, ns: &str) -> Result<(), CanonicalFormError> {
        if PRIMITIVES.contains(&name) {
            self.string(name);
            return Ok(());
        }
        let full = self.resolve(name, ns)?;
        self.string(&full);
        Ok(())
    }

    /// The full name a reference `name` in namespace `ns` refers to: the name itself when it
    /// is dotted, else `ns.name`, else (as Java does) a type of that name in no namespace.
    fn resolve(&self, name: &str, ns: &str) -> Result<String, CanonicalFormError> {
        let qualified = if name.contains('.') || ns.is_empty() {
            name.to_owned()
        } else {
            format!("{ns}.{name}")
        };
        if self.defined.contains(&qualified) {
            Ok(qualified)
        } else if self.defined.contains(name) {
            Ok(name.to_owned())
        } else {
            Err(CanonicalFormError(format!("unknown type {name:?}")))
        }
    }

    fn object(&mut self, map: &Map<String, Value>, ns: &str) -> Result<(), CanonicalFormError> {
        let ty = match map.get("type") {
            Some(Value::String(ty)) => ty.as_str(),
            // `{"type": {...}}` or `{"type": [...]}`: the inner schema is the schema.
            Some(inner @ (Value::Object(_) | Value::Array(_))) => return self.schema(inner, ns),
            _ => return Err(CanonicalFormError("an object without a type".into())),
        };
        match ty {
            "record" | "error" => {
                let (full, inner_ns) = self.define(map, ns)?;
                self.out.push_str("{\"name\":");
                self.string(&full);
                // An error is a record to a reader (Java and fastavro write "record" too).
                self.out.push_str(",\"type\":\"record\",\"fields\":[");
                let fields = match map.get("fields") {
                    Some(Value::Array(fields)) => fields,
                    _ => return Err(CanonicalFormError(format!("record {full} has no fields"))),
                };
                for (i, field) in fields.iter().enumerate() {
                    if i > 0 {
                        self.out.push(',');
                    }
                    let (Some(Value::String(name)), Some(ftype)) =
                        (field.get("name"), field.get("type"))
                    else {
                        return Err(CanonicalFormError(format!(
                            "a field of {full} has no name or no type"
                        )));
                    };
                    self.out.push_str("{\"name\":");
                    self.string(name);
                    self.out.push_str(",\"type\":");
                    self.schema(ftype, &inner_ns)?;
                    self.out.push('}');
                }
                self.out.push_str("]}");
            }
            "enum" => {
                let (full, _) = self.define(map, ns)?;
                self.out.push_str("{\"name\":");
                self.string(&full);
                self.out.push_str(",\"type\":\"enum\",\"symbols\":[");
                let Some(Value::Array(symbols)) = map.get("symbols") else {
                    return Err(CanonicalFormError(format!("enum {full} has no symbols")));
                };
                for (i, symbol) in symbols.iter().enumerate() {
                    if i > 0 {
                        self.out.push(',');
                    }
                    let Value::String(symbol) = symbol else {
                        return Err(CanonicalFormError(format!(
                            "enum {full}: a symbol is not a string"
                        )));
                    };
                    self.string(symbol);
                }
                self.out.push_str("]}");
            }
            "fixed" => {
                let (full, _) = self.define(map, ns)?;
                let size = match map.get("size") {
                    Some(Value::Number(n)) => n.as_u64(),
                    Some(Value::String(s)) => s.trim().parse::<u64>().ok(),
                    _ => None,
                }
                .ok_or_else(|| CanonicalFormError(format!("fixed {full} has no valid size")))?;
                self.out.push_str("{\"name\":");
                self.string(&full);
                self.out
                    .push_str(&format!(",\"type\":\"fixed\",\"size\":{size}}}"));
            }
            "array" => {
                let items = map
                    .get("items")
                    .ok_or_else(|| CanonicalFormError("an array without items".into()))?;
                self.out.push_str("{\"type\":\"array\",\"items\":");
                self.schema(items, ns)?;
                self.out.push('}');
            }
            "map" => {
                let values = map
                    .get("values")
                    .ok_or_else(|| CanonicalFormError("a map without values".into()))?;
                self.out.push_str("{\"type\":\"map\",\"values\":");
                self.schema(values, ns)?;
                self.out.push('}');
            }
            // A primitive (every other attribute, `logicalType` included, is stripped) or a
            // reference written as `{"type": "Name"}`.
            other => self.reference(other, ns)?,
        }
        Ok(())
    }

    /// Registers the named type `map` defined in namespace `ns`; returns its full name and
    /// the namespace its own definitions and references are in.
    fn define(
        &mut self,
        map: &Map<String, Value>,
        ns: &str,
    ) -> Result<(String, String), CanonicalFormError> {
        let Some(Value::String(name)) = map.get("name") else {
            return Err(CanonicalFormError("a named type without a name".into()));
        };
        let (full, inner_ns) = match name.rfind('.') {
            Some(dot) => (name.clone(), name[..dot].to_owned()),
            None => {
                let space = match map.get("namespace") {
                    Some(Value::String(space)) => space.as_str(),
                    Some(Value::Null) => "",
                    None => ns,
                    Some(other) => {
                        return Err(CanonicalFormError(format!(
                            "the namespace of {name} is {other}, not a string"
                        )))
                    }
                };
                let full = if space.is_empty() {
                    name.clone()
                } else {
                    format!("{space}.{name}")
                };
                (full, space.to_owned())
            }
        };
        self.defined.insert(full.clone());
        Ok((full, inner_ns))
    }

    /// A JSON string literal (STRINGS: characters as UTF-8; serde_json escapes only `"`, `\`
    /// and control characters, which valid names and symbols never contain).
    fn string(&mut self, s: &str) {
        self.out.push_str(&Value::from(s).to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One line of `testdata/canonical_forms.*.jsonl`, written by Apache Avro for Java or by
    /// fastavro (`tests/interop/make-vectors.sh`), never by this module.
    #[derive(serde::Deserialize)]
    struct Vector {
        file: String,
        canonical: String,
        fingerprint: String,
    }

    fn vectors(jsonl: &str) -> Vec<Vector> {
        jsonl
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// The schema text of a vector: a contract schema or an edge case of `testdata/schemas/`.
    fn schema_text(file: &str) -> String {
        let root = env!("CARGO_MANIFEST_DIR");
        let contract = format!("{root}/schemas/{file}");
        let edge = format!("{root}/src/schema/testdata/schemas/{file}");
        std::fs::read_to_string(&contract)
            .or_else(|_| std::fs::read_to_string(&edge))
            .unwrap_or_else(|e| panic!("{file}: {e}"))
    }

    fn check(library: &str, jsonl: &str) {
        let vectors = vectors(jsonl);
        assert!(vectors.len() >= 14, "{library}: {} vectors", vectors.len());
        for v in vectors {
            let text = schema_text(&v.file);
            // Every vector but `error` (a protocol type apache-avro does not parse) is a schema
            // apache-avro accepts, as the codec's inputs are.
            if v.file != "error_type.avsc" {
                apache_avro::Schema::parse_str(&text).unwrap_or_else(|e| panic!("{}: {e}", v.file));
            }
            let pcf = parsing_canonical_form(&text).unwrap();
            assert_eq!(pcf, v.canonical, "{library}: canonical form of {}", v.file);
            let fp = spec_fingerprint(&text).unwrap();
            assert_eq!(
                format!("{fp:#018x}"),
                v.fingerprint,
                "{library}: fingerprint of {}",
                v.file
            );
        }
    }

    #[test]
    fn canonical_forms_and_fingerprints_match_apache_avro_java() {
        check("Java", include_str!("testdata/canonical_forms.java.jsonl"));
    }

    #[test]
    fn canonical_forms_and_fingerprints_match_fastavro() {
        check(
            "fastavro",
            include_str!("testdata/canonical_forms.fastavro.jsonl"),
        );
    }

    #[test]
    fn the_canonical_form_is_its_own_canonical_form() {
        for v in vectors(include_str!("testdata/canonical_forms.java.jsonl")) {
            // Except where the specification's form is not idempotent: a type in no namespace
            // inside a namespaced one (`Bare` in namespaces.avsc) reads back as namespaced.
            if v.file == "namespaces.avsc" {
                continue;
            }
            assert_eq!(parsing_canonical_form(&v.canonical).unwrap(), v.canonical);
        }
    }

    #[test]
    fn crc64_avro_matches_the_specification_vectors() {
        // The Avro project's fingerprint test vectors (as signed 64-bit numbers).
        assert_eq!(crc64_avro(br#""null""#) as i64, 7195948357588979594);
        assert_eq!(crc64_avro(br#""int""#) as i64, 8247732601305521295);
    }

    #[test]
    fn apache_avro_0_20_differs_from_the_specification() {
        // AVRO-4004, the reason this module exists: apache-avro drops `logicalType` but leaves
        // `{"type":"long"}` where the spec has `"long"`, and keeps `precision` and `scale`
        // (`order` goes). If apache-avro is fixed, the legacy fingerprints (catalog.rs) still are
        // what Debrief 0.1 wrote.
        let text = r#"{"type":"record","name":"R","fields":[
            {"name":"t","type":{"type":"long","logicalType":"timestamp-millis"},"order":"descending"},
            {"name":"d","type":{"type":"bytes","logicalType":"decimal","precision":9,"scale":2}}]}"#;
        let ours = parsing_canonical_form(text).unwrap();
        assert_eq!(
            ours,
            r#"{"name":"R","type":"record","fields":[{"name":"t","type":"long"},{"name":"d","type":"bytes"}]}"#
        );
        let theirs = apache_avro::Schema::parse_str(text)
            .unwrap()
            .canonical_form();
        assert_eq!(
            theirs,
            r#"{"name":"R","type":"record","fields":[{"name":"t","type":{"type":"long"}},{"name":"d","type":{"type":"bytes","precision":9,"scale":2}}]}"#
        );
    }

    #[test]
    fn what_is_not_a_schema_is_an_error_not_a_panic() {
        for bad in [
            "",
            "{",
            "42",
            "null",
            r#"{"name":"x"}"#,
            r#"{"type":"record","name":"R"}"#,
            r#"{"type":"record","name":"R","fields":[{"name":"a"}]}"#,
            r#"{"type":"record","fields":[]}"#,
            r#"{"type":"enum","name":"E"}"#,
            r#"{"type":"enum","name":"E","symbols":[1]}"#,
            r#"{"type":"fixed","name":"F","size":-1}"#,
            r#"{"type":"array"}"#,
            r#"{"type":"map"}"#,
            r#""Unknown""#,
            r#"{"type":"record","name":"R","namespace":3,"fields":[]}"#,
            r#"[1]"#,
        ] {
            assert!(parsing_canonical_form(bad).is_err(), "{bad:?} was accepted");
        }
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    /// JSON values made of the words schemas use, nested a few levels.
    fn schema_like() -> impl Strategy<Value = Value> {
        let word = prop::sample::select(vec![
            "record",
            "enum",
            "fixed",
            "array",
            "map",
            "error",
            "int",
            "long",
            "null",
            "R",
            "a.b",
            "a.b.R",
            "",
            "name",
            "type",
            "fields",
            "symbols",
            "items",
            "values",
            "size",
            "namespace",
        ]);
        let leaf = prop_oneof![
            word.prop_map(|w| Value::String(w.to_owned())),
            any::<i64>().prop_map(Value::from),
            Just(Value::Null),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map(
                    prop::sample::select(vec![
                        "type",
                        "name",
                        "namespace",
                        "fields",
                        "symbols",
                        "items",
                        "values",
                        "size",
                        "doc",
                    ])
                    .prop_map(str::to_owned),
                    inner,
                    0..5
                )
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn any_json_gives_a_form_or_an_error_never_a_panic(v in schema_like(), s in ".{0,40}") {
            for text in [v.to_string(), s] {
                if let Ok(form) = parsing_canonical_form(&text) {
                    // A form is JSON without whitespace outside strings.
                    let parsed: Value = serde_json::from_str(&form).unwrap();
                    prop_assert_eq!(parsed.to_string(), form);
                }
            }
        }
    }
}
