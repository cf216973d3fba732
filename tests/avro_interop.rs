//! The event contract spoken by other Avro libraries: Apache Avro for Java
//! (`org.apache.avro:avro`, pinned in `tests/interop/pom.xml`) and fastavro (pinned in
//! `tests/interop/requirements.txt`), driven through the small tools `tests/interop/Interop.java`
//! and `tests/interop/interop.py`.
//!
//! - The single-object fingerprints Debrief writes are the ones Java and fastavro compute, and
//!   so are those of the previous schema versions it reads (`schemas/history/`).
//! - Events a Java or fastavro producer writes (single-object and Confluent framing) from the
//!   example transcript decode to the events Debrief's own `produce` writes, and assemble and
//!   analyse to byte-identical insights.
//! - Insights, telemetry and dead letters Debrief writes (both framings) are read by Java and
//!   fastavro: same values, and written again byte for byte the same.
//! - Over a real broker: the service (`debrief run`) fed by a Java producer (the Kafka Java
//!   client), by fastavro's records, and by `debrief produce` writes the same insights.
//!
//! Needs Java 17+, Maven and Python 3; `scripts/test.sh` prepares them with
//! `scripts/interop-setup.sh`. By hand:
//!
//! ```text
//! eval "$(scripts/interop-setup.sh)"
//! cargo test --test avro_interop -- --include-ignored
//! ```
//!
//! (the broker test also needs `DEBRIEF_TEST_BROKERS`, which scripts/test.sh sets). Without
//! the toolchains these tests fail, naming what is missing; under a plain `cargo test` they
//! are ignored (shown as not run).

mod common;

use apache_avro::schema::{Name, Schema};
use apache_avro::types::Value;
use debrief::emit::{dead_letter, insight_telemetry, SourceRef};
use debrief::events::{topics, DeadLetter, DeadLetterKind, InteractionTelemetry, TranscriptEvent};
use debrief::extract::{analyse, ExtractContext, Settings};
use debrief::ingest::assemble::{Assembler, Position};
use debrief::ingest::files;
use debrief::ingest::stream::{to_events, ConvertOptions, Mode};
use debrief::insight::Insight;
use debrief::schema::{
    historical_schemas, parsing_canonical_form, Codec, ContractRecord, Encoding, RecordKind,
    Schemas,
};
use debrief::tenant::TenantConfig;
use debrief::tenant::{apply_tenant_sides, TenantRuntime};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

// ---- the tools -------------------------------------------------------------------------------

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn env_path(name: &str) -> PathBuf {
    let value = std::env::var_os(name).unwrap_or_else(|| {
        panic!(
            "{name} is not set: run `eval \"$(scripts/interop-setup.sh)\"` first (it fetches \
             Apache Avro for Java and fastavro under target/), or scripts/test.sh"
        )
    });
    let path = PathBuf::from(value);
    assert!(
        path.exists(),
        "{name}={} does not exist: run scripts/interop-setup.sh",
        path.display()
    );
    path
}

/// One of the two reference libraries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Library {
    Java,
    Fastavro,
}

impl Library {
    const BOTH: [Library; 2] = [Library::Java, Library::Fastavro];

    /// Runs the tool with `args`; panics with its stderr when it fails.
    fn run(self, args: &[&str]) -> String {
        let mut cmd = match self {
            Library::Java => {
                let cp_file = env_path("DEBRIEF_INTEROP_JAVA_CP_FILE");
                let cp = std::fs::read_to_string(&cp_file).unwrap();
                let mut c = Command::new("java");
                c.arg("-cp")
                    .arg(cp.trim())
                    .arg(root().join("tests/interop/Interop.java"));
                c
            }
            Library::Fastavro => {
                let mut c = Command::new(env_path("DEBRIEF_INTEROP_PYTHON"));
                c.arg(root().join("tests/interop/interop.py"));
                c
            }
        };
        let out = cmd
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("{self:?} tool does not start ({e}): is it installed?"));
        assert!(
            out.status.success(),
            "{self:?} tool failed on {args:?}:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs many commands in one process (`batch`: one per line, arguments tab-separated).
    fn batch(self, dir: &Path, commands: &[Vec<String>]) {
        let file = dir.join(format!("{self:?}.batch"));
        let text: String = commands.iter().map(|c| c.join("\t") + "\n").collect();
        std::fs::write(&file, text).unwrap();
        self.run(&["batch", file.to_str().unwrap()]);
    }
}

fn schema_file(kind: RecordKind) -> String {
    root()
        .join("schemas")
        .join(format!("{}.avsc", kind.name()))
        .to_str()
        .unwrap()
        .to_owned()
}

fn path_str(p: &Path) -> String {
    p.to_str().unwrap().to_owned()
}

fn read_hex_lines(path: &Path) -> Vec<Vec<u8>> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let l = l.trim();
            (0..l.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&l[i..i + 2], 16).unwrap())
                .collect()
        })
        .collect()
}

fn hex_lines(records: &[Vec<u8>]) -> String {
    let mut out = String::new();
    for r in records {
        for b in r {
            write!(out, "{b:02x}").unwrap();
        }
        out.push('\n');
    }
    out
}

// ---- Avro's JSON encoding of Debrief's values ------------------------------------------------

/// A value in Avro's JSON encoding (the specification's "JSON Encoding": unions as
/// `{"branch": value}` or `null`, bytes as ISO-8859-1 strings), fields in schema order. The
/// input the Java and fastavro producers read, and the output their consumers are compared
/// with.
fn avro_json(value: &Value, schema: &Schema, names: &HashMap<Name, Schema>) -> String {
    let mut out = String::new();
    write_json(value, schema, names, &mut out);
    out
}

/// The schema a reference names (short names are unique in the contract).
fn named<'a>(name: &Name, names: &'a HashMap<Name, Schema>) -> &'a Schema {
    names
        .iter()
        .find(|(n, _)| n.name == name.name)
        .map(|(_, s)| s)
        .unwrap_or_else(|| panic!("no schema named {name:?}"))
}

/// The name of a union branch in Avro's JSON encoding.
fn branch_name(schema: &Schema) -> String {
    match schema {
        Schema::Record(r) => full(&r.name),
        Schema::Enum(e) => full(&e.name),
        Schema::Fixed(f) => full(&f.name),
        Schema::Ref { name } => full(name),
        Schema::Boolean => "boolean".into(),
        Schema::Int => "int".into(),
        Schema::Long | Schema::TimestampMillis => "long".into(),
        Schema::Float => "float".into(),
        Schema::Double => "double".into(),
        Schema::Bytes => "bytes".into(),
        Schema::String => "string".into(),
        Schema::Array(_) => "array".into(),
        Schema::Map(_) => "map".into(),
        other => panic!("no branch name for {other:?}"),
    }
}

fn full(name: &Name) -> String {
    // Every contract type is in io.debrief.v1.
    match &name.namespace {
        Some(ns) => format!("{ns}.{}", name.name),
        None => format!("io.debrief.v1.{}", name.name),
    }
}

fn write_json(value: &Value, schema: &Schema, names: &HashMap<Name, Schema>, out: &mut String) {
    if let Schema::Ref { name } = schema {
        return write_json(value, named(name, names), names, out);
    }
    let json = |v: serde_json::Value| v.to_string();
    match (value, schema) {
        (Value::Null, _) => out.push_str("null"),
        (Value::Boolean(b), _) => out.push_str(&json((*b).into())),
        (Value::Int(i), _) => out.push_str(&i.to_string()),
        (Value::Long(i) | Value::TimestampMillis(i), _) => out.push_str(&i.to_string()),
        (Value::Float(f), _) => out.push_str(&json(serde_json::Value::from(f64::from(*f)))),
        (Value::Double(f), _) => out.push_str(&json(serde_json::Value::from(*f))),
        (Value::String(s), _) | (Value::Enum(_, s), _) => out.push_str(&json(s.as_str().into())),
        (Value::Bytes(b), _) => {
            let latin1: String = b.iter().map(|&c| char::from(c)).collect();
            out.push_str(&json(latin1.into()));
        }
        (Value::Array(items), Schema::Array(a)) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(item, &a.items, names, out);
            }
            out.push(']');
        }
        (Value::Map(entries), Schema::Map(m)) => {
            let mut keys: Vec<&String> = entries.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&json(k.as_str().into()));
                out.push(':');
                write_json(&entries[k], &m.types, names, out);
            }
            out.push('}');
        }
        (Value::Record(fields), Schema::Record(r)) => {
            assert_eq!(fields.len(), r.fields.len(), "{}", r.name.name);
            out.push('{');
            for (i, ((name, v), field)) in fields.iter().zip(&r.fields).enumerate() {
                assert_eq!(name, &field.name);
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&json(name.as_str().into()));
                out.push(':');
                write_json(v, &field.schema, names, out);
            }
            out.push('}');
        }
        (Value::Union(idx, inner), Schema::Union(u)) => {
            let branch = &u.variants()[*idx as usize];
            if matches!(branch, Schema::Null) {
                out.push_str("null");
            } else {
                out.push('{');
                out.push_str(&json(branch_name(branch).into()));
                out.push(':');
                write_json(inner, branch, names, out);
                out.push('}');
            }
        }
        (v, s) => panic!("value {v:?} does not fit schema {s:?}"),
    }
}

/// Named types of a schema.
fn names_of(schema: &Schema) -> HashMap<Name, Schema> {
    let resolved = apache_avro::schema::ResolvedSchema::try_from(schema).unwrap();
    resolved
        .get_names()
        .iter()
        .map(|(n, s)| (n.clone(), (*s).clone()))
        .collect()
}

fn json_lines<T: ContractRecord>(records: &[T]) -> String {
    let schema = Schemas::get().unwrap().schema(T::KIND);
    let names = names_of(schema);
    records
        .iter()
        .map(|r| avro_json(&r.to_avro(), schema, &names) + "\n")
        .collect()
}

/// `a` and `b` are the same JSON, numbers compared as doubles within a relative 1e-6 (Java
/// prints a `float` with the fewest digits of a float, Python and Rust of a double; the
/// exact bits are checked by the byte-identical re-encoding).
fn same_json(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value as J;
    match (a, b) {
        (J::Number(x), J::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            x == y || (x - y).abs() <= 1e-6 * x.abs().max(y.abs())
        }
        (J::Array(x), J::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_json(x, y))
        }
        (J::Object(x), J::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_json(v, w)))
        }
        _ => a == b,
    }
}

// ---- a schema registry stub ------------------------------------------------------------------

/// A registry with the two endpoints Debrief's client uses: `POST /subjects/{s}/versions`
/// (same text, same id) and `GET /schemas/ids/{id}`. Starts with `preloaded` at ids 1, 2, ...
async fn registry(preloaded: Vec<String>) -> (String, Arc<Mutex<Vec<String>>>) {
    use axum::extract::{Path as UrlPath, State};
    use axum::http::StatusCode;
    use axum::routing::{get, post};
    type Shared = Arc<Mutex<Vec<String>>>;
    async fn register(State(s): State<Shared>, body: String) -> (StatusCode, String) {
        let schema = serde_json::from_str::<serde_json::Value>(&body).unwrap()["schema"]
            .as_str()
            .unwrap()
            .to_owned();
        let mut all = s.lock().unwrap();
        let id = match all.iter().position(|x| *x == schema) {
            Some(i) => i + 1,
            None => {
                all.push(schema);
                all.len()
            }
        };
        (StatusCode::OK, serde_json::json!({ "id": id }).to_string())
    }
    async fn by_id(State(s): State<Shared>, UrlPath(id): UrlPath<usize>) -> (StatusCode, String) {
        match s.lock().unwrap().get(id.wrapping_sub(1)) {
            Some(schema) => (
                StatusCode::OK,
                serde_json::json!({ "schema": schema }).to_string(),
            ),
            None => (StatusCode::NOT_FOUND, "{}".into()),
        }
    }
    let state: Shared = Arc::new(Mutex::new(preloaded));
    let app = axum::Router::new()
        .route("/subjects/{subject}/versions", post(register))
        .route("/schemas/ids/{id}", get(by_id))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, state)
}

// ---- the example transcript ------------------------------------------------------------------

/// What Debrief's `produce` publishes for examples/conversations.jsonl: streamed with partial
/// then final revisions, and as complete transcripts; `emitted_at_ms` stamped.
fn example_events() -> Vec<TranscriptEvent> {
    let convs: Vec<_> = files::open(&root().join("examples/conversations.jsonl"))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(convs.len(), 5);
    let mut events = Vec::new();
    for (i, conv) in convs.iter().enumerate() {
        let mode = if i % 2 == 0 {
            Mode::Stream
        } else {
            Mode::Complete
        };
        let opts = ConvertOptions {
            mode,
            partials: true,
            ..ConvertOptions::default()
        };
        events.extend(to_events(conv, &opts));
    }
    for (i, e) in events.iter_mut().enumerate() {
        e.header.emitted_at_ms = Some(1_763_305_200_000 + i as i64);
    }
    events
}

/// The insights of `events` as the pipeline makes them (assembled in order, the example
/// tenant's sides and trackers), each encoded by Debrief (single-object).
fn insights_of(events: &[TranscriptEvent]) -> Vec<Vec<u8>> {
    let tenant = TenantConfig::from_path(&root().join("examples/tenant.yaml")).unwrap();
    let runtime = TenantRuntime::compile(tenant.clone()).unwrap();
    let settings = Settings::default();
    let codec = Codec::new(Encoding::AvroSingleObject, None).unwrap();
    let mut assembler = Assembler::new(Default::default());
    let mut finalised = Vec::new();
    for (offset, event) in events.iter().enumerate() {
        let pos = Position {
            lane: 0,
            offset: offset as i64,
        };
        assembler.push(event.clone(), pos, 0, &mut finalised);
    }
    assert_eq!(assembler.open_count(), 0, "every conversation is finalised");
    finalised
        .into_iter()
        .map(|mut f| {
            apply_tenant_sides(&mut f.conversation, &tenant);
            let ctx = ExtractContext {
                settings: &settings,
                tenant: Some(&runtime),
                finalised_by: f.finalised_by,
                reference_time: f.ended_at,
            };
            let insight: Insight = analyse(&f.conversation, &ctx);
            codec.encode(topics::INSIGHTS_SALESFORCE, &insight).unwrap()
        })
        .collect()
}

// ---- the tests -------------------------------------------------------------------------------

#[test]
#[ignore = "needs Java, Maven and Python: scripts/test.sh"]
fn fingerprints_are_the_ones_java_and_fastavro_compute() {
    let schemas = Schemas::get().unwrap();
    let files: Vec<String> = RecordKind::ALL.iter().map(|k| schema_file(*k)).collect();
    let mut args = vec!["canonical"];
    args.extend(files.iter().map(String::as_str));
    for library in Library::BOTH {
        let out = library.run(&args);
        let lines: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), RecordKind::ALL.len(), "{library:?}: {out}");
        for (kind, line) in RecordKind::ALL.iter().zip(&lines) {
            assert_eq!(
                line["canonical"].as_str().unwrap(),
                parsing_canonical_form(kind.schema_json()).unwrap(),
                "{library:?}: canonical form of {kind}"
            );
            assert_eq!(
                line["fingerprint"].as_str().unwrap(),
                format!("{:#018x}", schemas.fingerprint(*kind)),
                "{library:?}: fingerprint of {kind}"
            );
        }
    }
}

#[test]
#[ignore = "needs Java, Maven and Python: scripts/test.sh"]
fn previous_schema_versions_are_named_by_the_fingerprints_java_and_fastavro_compute() {
    // schemas/history/<schema>/<fingerprint>.avsc: the single-object header of a record an
    // older publisher writes, by the libraries' count; the codec reads it.
    let codec = Codec::new(Encoding::AvroSingleObject, None).unwrap();
    let history = historical_schemas().unwrap();
    assert!(!history.is_empty());
    let files: Vec<String> = history
        .iter()
        .map(|h| path_str(&root().join("schemas/history").join(h.path)))
        .collect();
    let mut args = vec!["canonical"];
    args.extend(files.iter().map(String::as_str));
    for library in Library::BOTH {
        let out = library.run(&args);
        let lines: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), history.len(), "{library:?}: {out}");
        for (old, line) in history.iter().zip(&lines) {
            let fingerprint = line["fingerprint"].as_str().unwrap();
            assert_eq!(
                format!("{}/{}.avsc", old.kind, &fingerprint[2..]),
                old.path,
                "{library:?}"
            );
            let number = u64::from_str_radix(&fingerprint[2..], 16).unwrap();
            assert!(codec.reads_fingerprint(old.kind, number), "{}", old.path);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Java, Maven and Python: scripts/test.sh"]
async fn java_and_fastavro_producers_give_the_same_insights_as_debrief_produce() {
    let dir = tempfile::tempdir().unwrap();
    let events = example_events();
    let kind = RecordKind::TranscriptEvent;
    let input = dir.path().join("events.avro.json");
    std::fs::write(&input, json_lines(&events)).unwrap();

    // What a Java producer registers (Schema.toString()) is id 1; fastavro's producer
    // registers the .avsc text as written, id 2.
    let registered = dir.path().join("java-registered.avsc");
    Library::Java.run(&["registered", &schema_file(kind), &path_str(&registered)]);
    let java_text = std::fs::read_to_string(&registered).unwrap();
    let (url, _) = registry(vec![java_text, kind.schema_json().to_owned()]).await;

    let framings = |library: Library| match library {
        Library::Java => ["single", "confluent:1"],
        Library::Fastavro => ["single", "confluent:2"],
    };
    for library in Library::BOTH {
        let commands: Vec<Vec<String>> = framings(library)
            .iter()
            .map(|framing| {
                let out = dir.path().join(format!("{library:?}-{framing}.hex"));
                vec![
                    "encode".into(),
                    schema_file(kind),
                    framing.to_string(),
                    path_str(&input),
                    path_str(&out),
                ]
            })
            .collect();
        library.batch(dir.path(), &commands);
    }

    // Debrief's own produce: the same events, encoded by Debrief.
    let ours = Codec::new(Encoding::AvroSingleObject, None).unwrap();
    let ours_bytes: Vec<Vec<u8>> = events
        .iter()
        .map(|e| ours.encode(topics::TRANSCRIPTS, e).unwrap())
        .collect();
    let decoded: Vec<TranscriptEvent> =
        ours_bytes.iter().map(|b| ours.decode(b).unwrap()).collect();
    assert_eq!(decoded, events);
    let want = insights_of(&decoded);
    assert_eq!(want.len(), 5, "one insight per example conversation");

    let confluent = Codec::new(Encoding::Confluent, Some(&url)).unwrap();
    for library in Library::BOTH {
        for framing in framings(library) {
            let what = format!("{library:?} {framing}");
            let records = read_hex_lines(&dir.path().join(format!("{library:?}-{framing}.hex")));
            assert_eq!(records.len(), events.len(), "{what}");
            let mut got = Vec::with_capacity(records.len());
            for (record, original) in records.iter().zip(&ours_bytes) {
                let event: TranscriptEvent = if framing == "single" {
                    // Same header (the spec's fingerprint) and body as Debrief's own.
                    assert_eq!(record, original, "{what}: bytes differ from Debrief's");
                    ours.decode(record)
                } else {
                    assert_eq!(record[0], 0, "{what}");
                    assert_eq!(record[5..], original[10..], "{what}: body differs");
                    confluent.decode_async(record).await
                }
                .unwrap_or_else(|e| panic!("{what}: {e}"));
                got.push(event);
            }
            assert_eq!(got, events, "{what}: decoded events");
            assert_eq!(insights_of(&got), want, "{what}: insights");
        }
    }
}

/// Debrief's records of one kind, encoded with `codec`, read by both libraries.
fn check_read_by_both<T: ContractRecord>(
    dir: &Path,
    codec: &Codec,
    framing: &str,
    records: &[T],
    commands: &mut HashMap<Library, Vec<Vec<String>>>,
    checks: &mut Vec<Box<dyn FnOnce()>>,
) {
    let kind = T::KIND;
    let bytes: Vec<Vec<u8>> = records
        .iter()
        .map(|r| codec.encode(topic_of(kind), r).unwrap())
        .collect();
    let tag = format!("{kind}-{}", framing.replace(':', "-"));
    let input = dir.join(format!("{tag}.hex"));
    std::fs::write(&input, hex_lines(&bytes)).unwrap();
    let want_json = json_lines(records);
    for library in Library::BOTH {
        let out_json = dir.join(format!("{tag}-{library:?}.json"));
        let out_hex = dir.join(format!("{tag}-{library:?}.hex"));
        commands.entry(library).or_default().push(vec![
            "decode".into(),
            schema_file(kind),
            framing.to_owned(),
            path_str(&input),
            path_str(&out_json),
            path_str(&out_hex),
        ]);
        let (bytes, want_json, what) = (
            bytes.clone(),
            want_json.clone(),
            format!("{library:?} {tag}"),
        );
        checks.push(Box::new(move || {
            assert_eq!(
                read_hex_lines(&out_hex),
                bytes,
                "{what}: written again differently"
            );
            let got: Vec<serde_json::Value> = std::fs::read_to_string(&out_json)
                .unwrap()
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            let want: Vec<serde_json::Value> = want_json
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            assert_eq!(got.len(), want.len(), "{what}");
            for (g, w) in got.iter().zip(&want) {
                assert!(same_json(g, w), "{what}: read\n{g}\nexpected\n{w}");
            }
        }));
    }
}

fn topic_of(kind: RecordKind) -> &'static str {
    match kind {
        RecordKind::MeetingInsight => topics::INSIGHTS_SALESFORCE,
        RecordKind::InteractionTelemetry => topics::TELEMETRY,
        RecordKind::DeadLetter => topics::DEAD_LETTER,
        _ => topics::TRANSCRIPTS,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Java, Maven and Python: scripts/test.sh"]
async fn java_and_fastavro_read_what_debrief_writes() {
    let dir = tempfile::tempdir().unwrap();
    let single = Codec::new(Encoding::AvroSingleObject, None).unwrap();
    let insights: Vec<Insight> = insights_of(&example_events())
        .iter()
        .map(|b| single.decode(b).unwrap())
        .collect();
    let telemetry: Vec<InteractionTelemetry> = insights
        .iter()
        .enumerate()
        .map(|(i, insight)| {
            let latency = (i % 2 == 0).then_some(40 + i as i64);
            insight_telemetry(insight, 1250 + i as i64, latency, 1_763_305_300_000)
        })
        .collect();
    // Real dead letters: records Debrief could not read (one with bytes above 0x7f).
    let bad: [(&[u8], Option<&[u8]>); 3] = [
        (b"{\"header\":", Some(b"conv-42")),
        (
            &[
                0xC3, 0x01, 0xff, 0xfe, 0x80, 0x00, 0x01, 0x02, 0x03, 0x04, 0x99,
            ],
            None,
        ),
        (&[0x00, 0x00, 0x00, 0x00, 0x07, 0xe9], Some(&[0xff, 0x00])),
    ];
    let dead_letters: Vec<DeadLetter> = bad
        .iter()
        .enumerate()
        .map(|(i, (value, key))| {
            let e = single.decode::<TranscriptEvent>(value).unwrap_err();
            let source = SourceRef {
                topic: topics::TRANSCRIPTS,
                partition: i as i32,
                offset: 1_234_567 + i as i64,
                key: *key,
                value: Some(value),
            };
            dead_letter(
                source,
                DeadLetterKind::Undecodable,
                &e.to_string(),
                1_763_305_400_000,
            )
        })
        .collect();

    let (url, state) = registry(Vec::new()).await;
    let confluent = Codec::new(Encoding::Confluent, Some(&url)).unwrap();
    let mut ids = HashMap::new();
    for kind in [
        RecordKind::MeetingInsight,
        RecordKind::InteractionTelemetry,
        RecordKind::DeadLetter,
    ] {
        let id = confluent
            .register(topic_of(kind), kind)
            .await
            .unwrap()
            .unwrap();
        ids.insert(kind, format!("confluent:{id}"));
    }
    assert_eq!(state.lock().unwrap().len(), 3);

    let mut commands = HashMap::new();
    let mut checks = Vec::new();
    for (codec, framing) in [(&single, "single".to_owned()), (&confluent, String::new())] {
        let f = |kind| {
            if framing.is_empty() {
                ids[&kind].clone()
            } else {
                framing.clone()
            }
        };
        let d = dir.path();
        check_read_by_both(
            d,
            codec,
            &f(RecordKind::MeetingInsight),
            &insights,
            &mut commands,
            &mut checks,
        );
        check_read_by_both(
            d,
            codec,
            &f(RecordKind::InteractionTelemetry),
            &telemetry,
            &mut commands,
            &mut checks,
        );
        check_read_by_both(
            d,
            codec,
            &f(RecordKind::DeadLetter),
            &dead_letters,
            &mut commands,
            &mut checks,
        );
    }
    for library in Library::BOTH {
        library.batch(dir.path(), &commands[&library]);
    }
    assert_eq!(checks.len(), 12);
    for check in checks {
        check();
    }
}

// ---- over a real broker ----------------------------------------------------------------------

/// Child processes killed when dropped (a failing test leaves no service running).
struct Running(Vec<std::process::Child>);

impl Drop for Running {
    fn drop(&mut self) {
        for child in &mut self.0 {
            common::stream::kill(child);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a broker, Java, Maven and Python: scripts/test.sh"]
async fn over_kafka_java_and_fastavro_producers_give_the_insights_of_debrief_produce() {
    use common::stream::{keys_with_value, one_value_per_key, read_until, Isolation, Service};
    let brokers = common::brokers();
    let dir = tempfile::tempdir().unwrap();
    let examples = root().join("examples");
    let tenant_file = examples.join("tenant.yaml");

    // What `debrief produce --partials` publishes (it stamps emitted_at_ms, which no insight
    // depends on).
    let convs: Vec<_> = files::open(&examples.join("conversations.jsonl"))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let opts = ConvertOptions {
        partials: true,
        ..ConvertOptions::default()
    };
    let events: Vec<TranscriptEvent> = convs.iter().flat_map(|c| to_events(c, &opts)).collect();
    let want = insights_of(&events);
    let input = dir.path().join("events.avro.json");
    std::fs::write(&input, json_lines(&events)).unwrap();

    let ours = Service::create(&brokers, "interop-debrief", 3).await;
    let java = Service::create(&brokers, "interop-java", 3).await;
    let fastavro = Service::create(&brokers, "interop-fastavro", 3).await;

    // Debrief's own produce, with the tenant configuration.
    let out = Command::new(env!("CARGO_BIN_EXE_debrief"))
        .args([
            "produce",
            examples.join("conversations.jsonl").to_str().unwrap(),
        ])
        .args([
            "--brokers",
            &brokers,
            "--topic",
            &ours.transcripts,
            "--partials",
        ])
        .args(["--tenant-config", tenant_file.to_str().unwrap()])
        .args(["--tenant-config-topic", &ours.tenant_config])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "debrief produce: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The same tenant configuration for the two other services.
    let codec = Codec::new(Encoding::AvroSingleObject, None).unwrap();
    let tenant = TenantConfig::from_path(&tenant_file).unwrap();
    let producer = common::producer(&brokers);
    for svc in [&java, &fastavro] {
        let bytes = codec.encode(&svc.tenant_config, &tenant).unwrap();
        common::produce(
            &producer,
            &svc.tenant_config,
            tenant.tenant_id.as_bytes(),
            &bytes,
            None,
        )
        .await;
    }
    // A Java producer: Avro's BinaryMessageEncoder and the Kafka Java client.
    Library::Java.run(&[
        "produce",
        &schema_file(RecordKind::TranscriptEvent),
        &brokers,
        &java.transcripts,
        &path_str(&input),
    ]);
    // fastavro's records, sent by librdkafka (what confluent-kafka-python uses), keyed by
    // conversation id.
    let hex = dir.path().join("fastavro.hex");
    Library::Fastavro.run(&[
        "encode",
        &schema_file(RecordKind::TranscriptEvent),
        "single",
        &path_str(&input),
        &path_str(&hex),
    ]);
    let records = read_hex_lines(&hex);
    assert_eq!(records.len(), events.len());
    for (event, bytes) in events.iter().zip(&records) {
        let key = event.conversation_id.as_bytes();
        common::produce(&producer, &fastavro.transcripts, key, bytes, None).await;
    }

    let _running = Running(vec![ours.spawn(), java.spawn(), fastavro.spawn()]);
    let mut by_producer = Vec::new();
    for svc in [&ours, &java, &fastavro] {
        let msgs = read_until(&brokers, &svc.salesforce, Isolation::Committed, |m| {
            keys_with_value(m).len() >= want.len()
        });
        by_producer.push(one_value_per_key(&msgs));
    }
    let ours_values: Vec<&Vec<u8>> = by_producer[0].values().collect();
    assert_eq!(ours_values.len(), want.len());
    let mut offline: Vec<&Vec<u8>> = want.iter().collect();
    offline.sort_by_key(|b| codec.decode::<Insight>(b).unwrap().conversation_id);
    assert_eq!(
        ours_values, offline,
        "debrief run = assembled and analysed here"
    );
    assert_eq!(by_producer[1], by_producer[0], "Java producer");
    assert_eq!(by_producer[2], by_producer[0], "fastavro producer");
}
