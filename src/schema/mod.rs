//! The Avro event contract (`schemas/*.avsc`, documented in `docs/contract.md`) and the codecs
//! that put the contract's Rust types on the wire.
//!
//! Three encodings, chosen by configuration ([`Encoding`]):
//! - `avro_single_object` (default): `C3 01`, the 8-byte little-endian CRC-64-AVRO (Rabin)
//!   fingerprint of the writer schema's Parsing Canonical Form (the specification's, as Java's
//!   `SchemaNormalization` and fastavro compute it: `canonical.rs`), then the Avro binary
//!   body. No registry needed. The fingerprints Debrief 0.1 wrote (apache-avro's form, which
//!   keeps logical types) are still read for one version, counted with
//!   [`Codec::count_legacy_fingerprints`].
//! - `confluent`: `00`, the 4-byte big-endian schema-registry id, then the Avro binary body;
//!   schemas are registered under `<topic>-value` and looked up by id, ids cached in memory.
//! - `json`: the serde JSON of the Rust types, for debugging.
//!
//! ```
//! use debrief::events::{EventHeader, SegmentBody, TranscriptEvent, TranscriptPayload, topics};
//! use debrief::schema::{Codec, Encoding};
//!
//! let codec = Codec::new(Encoding::AvroSingleObject, None).unwrap();
//! let event = TranscriptEvent {
//!     header: EventHeader { tenant_id: "acme".into(), ..Default::default() },
//!     conversation_id: "c1".into(),
//!     payload: TranscriptPayload::Segment(SegmentBody { text: "hello".into(), ..Default::default() }),
//! };
//! let bytes = codec.encode(topics::TRANSCRIPTS, &event).unwrap();
//! assert_eq!(&bytes[..2], &[0xC3, 0x01]);
//! assert_eq!(codec.decode::<TranscriptEvent>(&bytes).unwrap(), event);
//! ```
//!
//! Decoding checks the length and the magic first, then looks the writer schema up (an
//! unknown fingerprint or id is [`SchemaError::UnknownSchema`], never a panic). Records
//! written with the current schema are read by a direct binary reader (no intermediate
//! `Value`, no schema walk); records written with another version of a schema (every previous
//! version in `schemas/history/`, see [`historical_schemas`], others accepted with
//! [`Codec::accept_writer_schema`], or fetched from the registry) are decoded by apache-avro
//! and resolved to the current schema (by name, see `resolve.rs`). Encoding writes the Avro
//! body directly from the Rust value; the tests check those bytes against apache-avro's
//! schema-validating encoder.

mod canonical;
mod catalog;
mod error;
mod history;
pub mod mapping;
mod registry;
mod resolve;

pub use canonical::{crc64_avro, parsing_canonical_form, spec_fingerprint, CanonicalFormError};
pub use catalog::{
    legacy_fingerprint, RecordKind, SchemaEntry, Schemas, MAX_AVRO_ALLOCATION_BYTES,
};
pub use error::SchemaError;
pub use history::{historical_schemas, HistoricalSchema};
pub use registry::RegistryClient;

use crate::events::{DeadLetter, ErasureRequest, InteractionTelemetry, TranscriptEvent};
use crate::governance::{ConversationIndexEntry, ErasureLedgerEntry};
use crate::insight::Insight;
use crate::tenant::TenantConfig;
use apache_avro::schema_compatibility::SchemaCompatibility;
use apache_avro::Schema;
use catalog::ForeignWriter;
use mapping::{BinReader, FromAvro, ReadAvro, ReadError, ToAvro, WriteAvro};
use prometheus::IntCounterVec;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::Read;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

/// Magic of the Avro single-object encoding.
pub const SINGLE_OBJECT_MAGIC: [u8; 2] = [0xC3, 0x01];
/// Length of the single-object header: magic + 8-byte fingerprint.
pub const SINGLE_OBJECT_HEADER_LEN: usize = 10;
/// Magic byte of the Confluent wire format.
pub const CONFLUENT_MAGIC: u8 = 0x00;
/// Length of the Confluent header: magic + 4-byte schema id.
pub const CONFLUENT_HEADER_LEN: usize = 5;
/// Timeout of one schema-registry request.
pub const REGISTRY_TIMEOUT: Duration = Duration::from_secs(10);

/// How records are put on the wire. Configuration value (serde): `avro_single_object`
/// (default), `confluent`, `json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    /// Avro single-object encoding: `C3 01` + 8-byte LE Rabin fingerprint + Avro binary.
    #[default]
    AvroSingleObject,
    /// Confluent wire format: `00` + 4-byte BE schema id + Avro binary; needs a registry.
    Confluent,
    /// serde JSON of the Rust types (debugging only: no schema id, no evolution rules).
    Json,
}

/// A Rust type of the contract with its own schema: [`TranscriptEvent`], [`Insight`],
/// [`InteractionTelemetry`], [`DeadLetter`], [`TenantConfig`], [`ErasureRequest`].
pub trait ContractRecord:
    ToAvro + FromAvro + ReadAvro + WriteAvro + Serialize + DeserializeOwned + Send + Sync + 'static
{
    /// Which schema.
    const KIND: RecordKind;
}

impl ContractRecord for TranscriptEvent {
    const KIND: RecordKind = RecordKind::TranscriptEvent;
}
impl ContractRecord for Insight {
    const KIND: RecordKind = RecordKind::MeetingInsight;
}
impl ContractRecord for InteractionTelemetry {
    const KIND: RecordKind = RecordKind::InteractionTelemetry;
}
impl ContractRecord for DeadLetter {
    const KIND: RecordKind = RecordKind::DeadLetter;
}
impl ContractRecord for TenantConfig {
    const KIND: RecordKind = RecordKind::TenantConfig;
}
impl ContractRecord for ErasureRequest {
    const KIND: RecordKind = RecordKind::ErasureRequest;
}
impl ContractRecord for ConversationIndexEntry {
    const KIND: RecordKind = RecordKind::ConversationIndex;
}
impl ContractRecord for ErasureLedgerEntry {
    const KIND: RecordKind = RecordKind::ErasureLedger;
}
impl ContractRecord for crate::governance::audit::AuditRecord {
    const KIND: RecordKind = RecordKind::Audit;
}
impl ContractRecord for crate::rules::Alert {
    const KIND: RecordKind = RecordKind::Alert;
}
impl ContractRecord for crate::live::LiveInsight {
    const KIND: RecordKind = RecordKind::LiveInsight;
}
impl ContractRecord for crate::events::InteractionEvent {
    const KIND: RecordKind = RecordKind::InteractionEvent;
}

/// The registry subject of a topic's values: `<topic>-value` (TopicNameStrategy).
pub fn subject_for_topic(topic: &str) -> String {
    format!("{topic}-value")
}

/// A writer schema known by registry id.
struct IdEntry {
    /// Record kind when the schema is one of the current ones.
    kind: Option<RecordKind>,
    /// Decoder for a schema that is not a current one (resolved to the current schema).
    foreign: Option<ForeignWriter>,
}

/// Registry client plus the in-memory caches (ids never change meaning in a registry).
struct Registry {
    client: RegistryClient,
    subject_ids: RwLock<HashMap<(String, RecordKind), u32>>,
    by_id: RwLock<HashMap<u32, Arc<IdEntry>>>,
}

impl Registry {
    fn subject_id(&self, subject: &str, kind: RecordKind) -> Option<u32> {
        let map = self.subject_ids.read().unwrap_or_else(|p| p.into_inner());
        map.get(&(subject.to_owned(), kind)).copied()
    }

    fn entry(&self, id: u32) -> Option<Arc<IdEntry>> {
        let map = self.by_id.read().unwrap_or_else(|p| p.into_inner());
        map.get(&id).cloned()
    }

    fn insert(
        &self,
        subject: Option<(String, RecordKind)>,
        id: u32,
        entry: IdEntry,
    ) -> Arc<IdEntry> {
        if let Some(key) = subject {
            self.subject_ids
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .insert(key, id);
        }
        let mut map = self.by_id.write().unwrap_or_else(|p| p.into_inner());
        map.entry(id).or_insert_with(|| Arc::new(entry)).clone()
    }
}

/// An extra single-object writer schema, under one of its fingerprints.
#[derive(Clone)]
struct AcceptedWriter {
    decoder: Arc<ForeignWriter>,
    /// `true` under its legacy fingerprint ([`legacy_fingerprint`]).
    legacy: bool,
}

/// Encodes and decodes the contract's records in one [`Encoding`]. Build one at start-up
/// and share it (`Arc<Codec>`): it is `Send + Sync`, schemas are parsed once per process, and
/// the single-object and JSON paths never lock or allocate beyond the output.
pub struct Codec {
    encoding: Encoding,
    schemas: &'static Schemas,
    /// Extra single-object writer schemas (other versions: every previous one from
    /// `schemas/history/`, plus any accepted), by fingerprint (the specification's and the
    /// legacy one).
    writers: HashMap<u64, AcceptedWriter>,
    /// Present for the Confluent encoding.
    registry: Option<Registry>,
    /// `debrief_legacy_fingerprint_total{schema}`, when counted.
    legacy_counter: Option<IntCounterVec>,
    /// `debrief_old_writer_schema_total{schema}`, when counted.
    old_writer_counter: Option<IntCounterVec>,
}

impl std::fmt::Debug for Codec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Codec")
            .field("encoding", &self.encoding)
            .field("extra_writer_schemas", &self.writers.len())
            .field(
                "registry",
                &self.registry.as_ref().map(|r| r.client.base_url()),
            )
            .field("counts_legacy_fingerprints", &self.legacy_counter.is_some())
            .field(
                "counts_old_writer_schemas",
                &self.old_writer_counter.is_some(),
            )
            .finish()
    }
}

impl Codec {
    /// A codec for `encoding`. The Confluent encoding needs `registry_url`
    /// (`http://host:8081`); the others ignore it.
    ///
    /// The single-object codec reads every previous version of each schema
    /// ([`historical_schemas`], `schemas/history/`) besides the current one; those are parsed
    /// and checked once per process (a few milliseconds, on the first call). A previous
    /// version the current schema cannot read is a [`SchemaError::Config`] naming its file: a
    /// build defect the tests catch, never skipped.
    pub fn new(encoding: Encoding, registry_url: Option<&str>) -> Result<Codec, SchemaError> {
        let schemas = Schemas::get()?;
        let writers = match encoding {
            Encoding::AvroSingleObject => history_writers(schemas)?.clone(),
            Encoding::Confluent | Encoding::Json => HashMap::new(),
        };
        let registry = match (encoding, registry_url) {
            (Encoding::Confluent, Some(url)) => Some(Registry {
                client: RegistryClient::new(url, REGISTRY_TIMEOUT)?,
                subject_ids: RwLock::default(),
                by_id: RwLock::default(),
            }),
            (Encoding::Confluent, None) => {
                return Err(SchemaError::Config(
                    "the confluent encoding needs a schema registry URL".into(),
                ))
            }
            _ => None,
        };
        Ok(Codec {
            encoding,
            schemas,
            writers,
            registry,
            legacy_counter: None,
            old_writer_counter: None,
        })
    }

    /// Counts, in `counter` (one label, `schema`: the record kind's name), every
    /// single-object record read under a legacy fingerprint: one Debrief 0.1 wrote, from
    /// apache-avro's canonical form instead of the specification's. Such records are still
    /// read, for one version; the count says when no publisher writes them any more. The
    /// service passes `Metrics::legacy_fingerprints`.
    pub fn count_legacy_fingerprints(mut self, counter: IntCounterVec) -> Codec {
        self.legacy_counter = Some(counter);
        self
    }

    /// Counts, in `counter` (one label, `schema`: the record kind's name), every record read
    /// with a writer schema other than the current one: a previous version
    /// (`schemas/history/`), one accepted with [`accept_writer_schema`](Codec::accept_writer_schema),
    /// or another version fetched from the registry. The count says when no publisher writes
    /// an old version any more. The service passes `Metrics::old_writer_schemas`.
    pub fn count_old_writer_schemas(mut self, counter: IntCounterVec) -> Codec {
        self.old_writer_counter = Some(counter);
        self
    }

    /// The number of writer schemas read besides the current ones, under either of their
    /// fingerprints (the specification's and, where it differs, the legacy one).
    pub fn extra_writer_fingerprints(&self) -> usize {
        self.writers.len()
    }

    /// Whether single-object records of `kind` carrying `fingerprint` are read (the current
    /// schema's, its legacy one, or another accepted version's).
    pub fn reads_fingerprint(&self, kind: RecordKind, fingerprint: u64) -> bool {
        self.encoding == Encoding::AvroSingleObject
            && (fingerprint == self.schemas.fingerprint(kind)
                || fingerprint == self.schemas.legacy_fingerprint(kind)
                || self
                    .writers
                    .get(&fingerprint)
                    .is_some_and(|w| w.decoder.kind == Some(kind)))
    }

    /// The encoding this codec writes and expects.
    pub fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// Accepts records written with another version of `kind`'s schema (single-object
    /// encoding): they are decoded with `schema_json` and resolved to the current schema
    /// (new fields take their defaults, removed fields are dropped). Refused with
    /// [`SchemaError::Config`] when the current schema cannot read data written with it.
    /// Returns the writer schema's fingerprint (the specification's; its legacy fingerprint
    /// is accepted too, see [`count_legacy_fingerprints`](Codec::count_legacy_fingerprints)).
    pub fn accept_writer_schema(
        &mut self,
        kind: RecordKind,
        schema_json: &str,
    ) -> Result<u64, SchemaError> {
        let (fingerprint, entries) = accepted_writers(self.schemas, kind, schema_json)?;
        self.writers.extend(entries);
        Ok(fingerprint)
    }

    /// Registers `kind`'s schema for `topic` with the registry (Confluent encoding) and caches
    /// the id, so that the synchronous [`encode`](Codec::encode) works for that topic. Returns
    /// the id; `None` for the other encodings (nothing to do).
    pub async fn register(
        &self,
        topic: &str,
        kind: RecordKind,
    ) -> Result<Option<u32>, SchemaError> {
        let Some(reg) = &self.registry else {
            return Ok(None);
        };
        let subject = subject_for_topic(topic);
        if let Some(id) = reg.subject_id(&subject, kind) {
            return Ok(Some(id));
        }
        let id = reg.client.register(&subject, kind.schema_json()).await?;
        reg.insert(
            Some((subject, kind)),
            id,
            IdEntry {
                kind: Some(kind),
                foreign: None,
            },
        );
        Ok(Some(id))
    }

    /// Encodes `value` for `topic`. Synchronous: with the Confluent encoding the topic's
    /// schema id must be cached ([`register`](Codec::register) or
    /// [`encode_async`](Codec::encode_async) once), else [`SchemaError::NotCached`].
    pub fn encode<T: ContractRecord>(
        &self,
        topic: &str,
        value: &T,
    ) -> Result<Vec<u8>, SchemaError> {
        match self.encoding {
            Encoding::AvroSingleObject => {
                let fp = self.schemas.fingerprint(T::KIND);
                let mut out = Vec::with_capacity(256);
                out.extend_from_slice(&SINGLE_OBJECT_MAGIC);
                out.extend_from_slice(&fp.to_le_bytes());
                // Written directly (no `Value`, no schema walk); the tests check the bytes
                // against apache-avro's schema-validating encoder.
                value.write_avro(&mut out);
                Ok(out)
            }
            Encoding::Confluent => {
                let subject = subject_for_topic(topic);
                let id = self.registry()?.subject_id(&subject, T::KIND).ok_or_else(|| {
                    SchemaError::NotCached(format!(
                        "no schema id for subject {subject} ({}) yet: call register or encode_async first",
                        T::KIND
                    ))
                })?;
                Ok(Self::confluent_bytes(id, value))
            }
            Encoding::Json => serde_json::to_vec(value)
                .map_err(|e| SchemaError::Encode(format!("{} as JSON: {e}", T::KIND))),
        }
    }

    /// Encodes `value` for `topic`, registering the schema first if needed (Confluent).
    pub async fn encode_async<T: ContractRecord>(
        &self,
        topic: &str,
        value: &T,
    ) -> Result<Vec<u8>, SchemaError> {
        if let (Encoding::Confluent, Some(reg)) = (self.encoding, &self.registry) {
            let subject = subject_for_topic(topic);
            let id = match reg.subject_id(&subject, T::KIND) {
                Some(id) => id,
                None => self.register(topic, T::KIND).await?.unwrap_or_default(),
            };
            return Ok(Self::confluent_bytes(id, value));
        }
        self.encode(topic, value)
    }

    /// Decodes one record. Synchronous: with the Confluent encoding the record's schema id
    /// must be cached, else [`SchemaError::NotCached`] (retryable: call
    /// [`decode_async`](Codec::decode_async)).
    pub fn decode<T: ContractRecord>(&self, bytes: &[u8]) -> Result<T, SchemaError> {
        match self.encoding {
            Encoding::AvroSingleObject => self.decode_single_object(bytes),
            Encoding::Confluent => {
                let id = confluent_id(bytes)?;
                let entry = self.registry()?.entry(id).ok_or_else(|| {
                    SchemaError::NotCached(format!(
                        "schema id {id} is not cached yet: use decode_async"
                    ))
                })?;
                self.decode_confluent(id, &entry, bytes)
            }
            Encoding::Json => decode_json(bytes),
        }
    }

    /// Decodes one record, fetching an unknown schema id from the registry first (Confluent;
    /// a 404 is [`SchemaError::UnknownSchema`]). Costs the same as [`decode`](Codec::decode)
    /// when nothing has to be fetched.
    pub async fn decode_async<T: ContractRecord>(&self, bytes: &[u8]) -> Result<T, SchemaError> {
        let (Encoding::Confluent, Some(reg)) = (self.encoding, &self.registry) else {
            return self.decode(bytes);
        };
        let id = confluent_id(bytes)?;
        let entry = match reg.entry(id) {
            Some(entry) => entry,
            None => {
                let json = reg.client.schema_by_id(id).await?;
                reg.insert(None, id, self.id_entry(id, &json)?)
            }
        };
        self.decode_confluent(id, &entry, bytes)
    }

    /// [`encode_async`](Codec::encode_async) for an insight.
    pub async fn encode_insight(
        &self,
        topic: &str,
        insight: &Insight,
    ) -> Result<Vec<u8>, SchemaError> {
        self.encode_async(topic, insight).await
    }

    /// [`decode`](Codec::decode) for a transcript event (the pipeline's hot path).
    pub fn decode_transcript_event(&self, bytes: &[u8]) -> Result<TranscriptEvent, SchemaError> {
        self.decode(bytes)
    }

    fn registry(&self) -> Result<&Registry, SchemaError> {
        self.registry.as_ref().ok_or_else(|| {
            SchemaError::Config("the confluent encoding needs a schema registry".into())
        })
    }

    fn confluent_bytes<T: ContractRecord>(id: u32, value: &T) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        out.push(CONFLUENT_MAGIC);
        out.extend_from_slice(&id.to_be_bytes());
        value.write_avro(&mut out);
        out
    }

    fn decode_single_object<T: ContractRecord>(&self, bytes: &[u8]) -> Result<T, SchemaError> {
        check_header(
            bytes,
            &SINGLE_OBJECT_MAGIC,
            SINGLE_OBJECT_HEADER_LEN,
            "single-object",
        )?;
        let mut fp = [0u8; 8];
        fp.copy_from_slice(&bytes[2..SINGLE_OBJECT_HEADER_LEN]);
        let fp = u64::from_le_bytes(fp);
        let body = &bytes[SINGLE_OBJECT_HEADER_LEN..];
        if fp == self.schemas.fingerprint(T::KIND) {
            return read_body(body);
        }
        if fp == self.schemas.legacy_fingerprint(T::KIND) {
            self.count_legacy(T::KIND);
            return read_body(body);
        }
        if let Some(w) = self.writers.get(&fp) {
            if w.decoder.kind == Some(T::KIND) {
                if w.legacy {
                    self.count_legacy(T::KIND);
                }
                return self.decode_foreign(&w.decoder, body);
            }
        }
        Err(SchemaError::UnknownSchema(
            match self.schemas.kind_of_fingerprint(fp) {
                Some(kind) => format!(
                    "fingerprint {fp:#018x} is the {kind} schema, expected {}",
                    T::KIND
                ),
                None => format!("fingerprint {fp:#018x} is not a known {} schema", T::KIND),
            },
        ))
    }

    fn decode_confluent<T: ContractRecord>(
        &self,
        id: u32,
        entry: &IdEntry,
        bytes: &[u8],
    ) -> Result<T, SchemaError> {
        match (&entry.foreign, entry.kind) {
            (None, Some(kind)) if kind == T::KIND => read_body(&bytes[CONFLUENT_HEADER_LEN..]),
            (None, Some(kind)) => Err(SchemaError::UnknownSchema(format!(
                "schema id {id} is the {kind} schema, expected {}",
                T::KIND
            ))),
            (Some(writer), _) => self.decode_foreign(writer, &bytes[CONFLUENT_HEADER_LEN..]),
            (None, None) => Err(SchemaError::UnknownSchema(format!(
                "schema id {id} has no decoder"
            ))),
        }
    }

    /// A cache entry for a schema fetched by id.
    fn id_entry(&self, id: u32, json: &str) -> Result<IdEntry, SchemaError> {
        let schema = Schema::parse_str(json).map_err(|e| {
            SchemaError::UnknownSchema(format!(
                "schema id {id} from the registry does not parse: {e}"
            ))
        })?;
        let fp = spec_fingerprint(json).map_err(|e| {
            SchemaError::UnknownSchema(format!("schema id {id} from the registry: {e}"))
        })?;
        let current = self.schemas.kind_of_fingerprint(fp);
        if let Some(kind) = current.filter(|k| self.schemas.fingerprint(*k) == fp) {
            return Ok(IdEntry {
                kind: Some(kind),
                foreign: None,
            });
        }
        let writer = ForeignWriter::new(None, schema)
            .map_err(|e| SchemaError::UnknownSchema(format!("schema id {id}: {e}")))?;
        Ok(IdEntry {
            kind: None,
            foreign: Some(writer),
        })
    }

    fn count_old_writer(&self, kind: RecordKind) {
        if let Some(counter) = &self.old_writer_counter {
            counter.with_label_values(&[kind.name()]).inc();
        }
    }

    fn count_legacy(&self, kind: RecordKind) {
        if let Some(counter) = &self.legacy_counter {
            counter.with_label_values(&[kind.name()]).inc();
        }
    }

    /// Decodes with apache-avro and a writer schema that is not the current one, then
    /// resolves to the current schema of `T`. `body` is the record without its header.
    fn decode_foreign<T: ContractRecord>(
        &self,
        writer: &ForeignWriter,
        body: &[u8],
    ) -> Result<T, SchemaError> {
        let mut src = Tracked {
            buf: body,
            overran: false,
        };
        let decoded = writer.reader.read_value(&mut src);
        if src.overran {
            return Err(SchemaError::Truncated(format!(
                "{} body ends early",
                T::KIND
            )));
        }
        let value = decoded.map_err(|e| SchemaError::Malformed(format!("{}: {e}", T::KIND)))?;
        if !src.buf.is_empty() {
            return Err(SchemaError::Malformed(format!(
                "{} bytes after the end of the {} record",
                src.buf.len(),
                T::KIND
            )));
        }
        let current = self.schemas.schema(T::KIND);
        let current_names = self.schemas.names(T::KIND);
        let value = resolve::resolve(value, &writer.schema, &writer.names, current, current_names)
            .map_err(|e| {
                SchemaError::UnknownSchema(format!(
                    "writer schema does not resolve to the current {} schema: {e}",
                    T::KIND
                ))
            })?;
        let value = T::from_avro(value).map_err(SchemaError::Malformed)?;
        self.count_old_writer(T::KIND);
        Ok(value)
    }
}

/// The decoders of writer schema `schema_json` for `kind`, under its fingerprint and (where it
/// differs) its legacy one, and its fingerprint. None when it is the current schema. Refused
/// with [`SchemaError::Config`] when it does not parse or the current schema cannot read it.
fn accepted_writers(
    schemas: &Schemas,
    kind: RecordKind,
    schema_json: &str,
) -> Result<(u64, Vec<(u64, AcceptedWriter)>), SchemaError> {
    let schema = Schema::parse_str(schema_json).map_err(|e| {
        SchemaError::Config(format!("writer schema for {kind} does not parse: {e}"))
    })?;
    let fingerprint = spec_fingerprint(schema_json)
        .map_err(|e| SchemaError::Config(format!("writer schema for {kind}: {e}")))?;
    if fingerprint == schemas.fingerprint(kind) {
        return Ok((fingerprint, Vec::new()));
    }
    let legacy = legacy_fingerprint(&schema);
    SchemaCompatibility::can_read(&schema, schemas.schema(kind)).map_err(|e| {
        SchemaError::Config(format!(
            "the current {kind} schema cannot read this writer schema: {e}"
        ))
    })?;
    let decoder = ForeignWriter::new(Some(kind), schema)
        .map_err(|e| SchemaError::Config(format!("writer schema for {kind}: {e}")))?;
    let decoder = Arc::new(decoder);
    let mut entries = vec![(
        fingerprint,
        AcceptedWriter {
            decoder: decoder.clone(),
            legacy: false,
        },
    )];
    if legacy != fingerprint {
        entries.push((
            legacy,
            AcceptedWriter {
                decoder,
                legacy: true,
            },
        ));
    }
    Ok((fingerprint, entries))
}

/// The decoders of every previous schema version (`schemas/history/`), built once per process.
fn history_writers(
    schemas: &Schemas,
) -> Result<&'static HashMap<u64, AcceptedWriter>, SchemaError> {
    static WRITERS: OnceLock<Result<HashMap<u64, AcceptedWriter>, String>> = OnceLock::new();
    WRITERS
        .get_or_init(|| {
            let mut writers = HashMap::new();
            for old in historical_schemas()? {
                let (_, entries) = accepted_writers(schemas, old.kind, old.json)
                    .map_err(|e| format!("schemas/history/{}: {e}", old.path))?;
                writers.extend(entries);
            }
            Ok(writers)
        })
        .as_ref()
        .map_err(|e| SchemaError::Config(e.clone()))
}

/// Reads a body written with the current schema of `T`; the whole body must be used.
fn read_body<T: ContractRecord>(body: &[u8]) -> Result<T, SchemaError> {
    let mut r = BinReader::new(body);
    let value = T::read_avro(&mut r).map_err(|e| match e {
        ReadError::Truncated(m) => SchemaError::Truncated(m),
        ReadError::Malformed(m) => SchemaError::Malformed(m),
    })?;
    match r.remaining() {
        0 => Ok(value),
        n => Err(SchemaError::Malformed(format!(
            "{n} bytes after the end of the {} record",
            T::KIND
        ))),
    }
}

/// Checks that `bytes` starts with `magic` and holds at least the header.
fn check_header(
    bytes: &[u8],
    magic: &[u8],
    header_len: usize,
    what: &str,
) -> Result<(), SchemaError> {
    if bytes.is_empty() {
        return Err(SchemaError::Truncated("empty record".into()));
    }
    let n = bytes.len().min(magic.len());
    if bytes[..n] != magic[..n] {
        return Err(SchemaError::BadMagic(format!(
            "expected {what} magic {}, found {}{}",
            hex(magic),
            hex(&bytes[..magic.len().min(bytes.len())]),
            looks_like(bytes)
        )));
    }
    if bytes.len() < header_len {
        return Err(SchemaError::Truncated(format!(
            "{} bytes, the {what} header alone needs {header_len}",
            bytes.len()
        )));
    }
    Ok(())
}

fn confluent_id(bytes: &[u8]) -> Result<u32, SchemaError> {
    check_header(bytes, &[CONFLUENT_MAGIC], CONFLUENT_HEADER_LEN, "Confluent")?;
    let mut id = [0u8; 4];
    id.copy_from_slice(&bytes[1..CONFLUENT_HEADER_LEN]);
    Ok(u32::from_be_bytes(id))
}

fn decode_json<T: ContractRecord>(bytes: &[u8]) -> Result<T, SchemaError> {
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        None => Err(SchemaError::Truncated("empty record".into())),
        Some(b'{') => {
            let fail = |path: Option<String>, e: serde_json::Error| {
                let at = path
                    .filter(|p| p != "." && !p.is_empty())
                    .map(|p| format!(" at {p}"))
                    .unwrap_or_default();
                let msg = format!("{} JSON{at}: {}", T::KIND, without_values(&e.to_string()));
                if e.is_eof() {
                    SchemaError::Truncated(msg)
                } else {
                    SchemaError::Malformed(msg)
                }
            };
            let mut de = serde_json::Deserializer::from_slice(bytes);
            let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
                let path = e.path().to_string();
                fail(Some(path), e.into_inner())
            })?;
            de.end().map_err(|e| fail(None, e))?;
            Ok(value)
        }
        Some(b) => Err(SchemaError::BadMagic(format!(
            "expected a JSON object, found byte {b:#04x}{}",
            looks_like(bytes)
        ))),
    }
}

/// A serde message without the values it quotes. serde names the offending value
/// (`invalid type: string "…", expected i32`, ``unknown variant `…`, expected one of …``),
/// and a transcript's values are what people said: the reason of a dead letter and the log
/// keep the kind of error, what was expected and the position, never the value. Field names
/// in `missing field` and `duplicate field` are the schema's own, so they stay.
fn without_values(message: &str) -> String {
    let (head, tail) = match message.find(", expected") {
        Some(i) => message.split_at(i),
        None => (message, ""),
    };
    if head.starts_with("missing field") || head.starts_with("duplicate field") {
        return message.to_string();
    }
    let mut out = String::with_capacity(message.len());
    let mut chars = head.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' | '`' => {
                // Skip to the matching quote (a backslash escapes the next character).
                let mut escaped = false;
                for q in chars.by_ref() {
                    if escaped {
                        escaped = false;
                    } else if q == '\\' {
                        escaped = true;
                    } else if q == c {
                        break;
                    }
                }
                out.push(c);
                out.push('…');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out.push_str(tail);
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A hint naming the encoding the bytes seem to be in (a misconfigured `encoding`).
fn looks_like(bytes: &[u8]) -> &'static str {
    match bytes {
        [0xC3, 0x01, ..] => " (looks like Avro single-object encoding: check the encoding setting)",
        [0x00, ..] if bytes.len() >= CONFLUENT_HEADER_LEN => {
            " (looks like the Confluent wire format: check the encoding setting)"
        }
        [b'{', ..] => " (looks like JSON: check the encoding setting)",
        _ => "",
    }
}

/// A reader over a slice that remembers whether the decoder asked for more bytes than there
/// are: apache-avro reads a union cut at its index as `null` and a cut string as `null`, so a
/// successful decode that overran is still a truncated record.
struct Tracked<'a> {
    buf: &'a [u8],
    overran: bool,
}

impl Read for Tracked<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        if self.buf.is_empty() {
            self.overran = true;
            return Ok(0);
        }
        let n = out.len().min(self.buf.len());
        out[..n].copy_from_slice(&self.buf[..n]);
        self.buf = &self.buf[n..];
        Ok(n)
    }
}

#[cfg(test)]
mod tests;
