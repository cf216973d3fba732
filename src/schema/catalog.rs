//! The contract's Avro schemas, compiled into the binary from `schemas/*.avsc`, parsed and
//! fingerprinted once per process.

use super::canonical::spec_fingerprint;
use super::resolve::SchemaNames;
use super::SchemaError;
use apache_avro::rabin::Rabin;
use apache_avro::{GenericSingleObjectReader, Schema};
use std::sync::OnceLock;

/// Largest string, byte array or collection length apache-avro may allocate for while
/// decoding a schema that is not the current one (16 MiB). Kafka's default record size limit
/// is 1 MiB, so no valid record comes near it; a corrupt length prefix fails fast instead of
/// reserving gigabytes. Set once per process, before the first decode.
pub const MAX_AVRO_ALLOCATION_BYTES: usize = 16 * 1024 * 1024;

/// The record types of the contract, one per `.avsc` file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RecordKind {
    /// `TranscriptEvent` (`schemas/transcript_event.avsc`).
    TranscriptEvent,
    /// `MeetingInsight`, the Rust `Insight` (`schemas/meeting_insight.avsc`).
    MeetingInsight,
    /// `InteractionTelemetry` (`schemas/interaction_telemetry.avsc`).
    InteractionTelemetry,
    /// `DeadLetter` (`schemas/dead_letter.avsc`).
    DeadLetter,
    /// `TenantConfig` (`schemas/tenant_config.avsc`).
    TenantConfig,
    /// `ErasureRequest` (`schemas/erasure_request.avsc`).
    ErasureRequest,
    /// `ConversationIndexEntry` (`schemas/conversation_index.avsc`).
    ConversationIndex,
    /// `ErasureLedgerEntry` (`schemas/erasure_ledger.avsc`).
    ErasureLedger,
    /// `AuditRecord` (`schemas/audit_record.avsc`).
    Audit,
    /// `LiveInsight` (`schemas/live_insight.avsc`).
    LiveInsight,
    /// `InteractionEvent` (`schemas/interaction_event.avsc`).
    InteractionEvent,
    /// `Alert` (`schemas/alert.avsc`).
    Alert,
}

impl RecordKind {
    /// Every record kind, in a fixed order.
    pub const ALL: [RecordKind; 12] = [
        RecordKind::TranscriptEvent,
        RecordKind::MeetingInsight,
        RecordKind::InteractionTelemetry,
        RecordKind::DeadLetter,
        RecordKind::TenantConfig,
        RecordKind::ErasureRequest,
        RecordKind::ConversationIndex,
        RecordKind::ErasureLedger,
        RecordKind::Audit,
        RecordKind::LiveInsight,
        RecordKind::InteractionEvent,
        RecordKind::Alert,
    ];

    /// The schema file's stem (`transcript_event`, `meeting_insight`, ...).
    pub fn name(self) -> &'static str {
        match self {
            RecordKind::TranscriptEvent => "transcript_event",
            RecordKind::MeetingInsight => "meeting_insight",
            RecordKind::InteractionTelemetry => "interaction_telemetry",
            RecordKind::DeadLetter => "dead_letter",
            RecordKind::TenantConfig => "tenant_config",
            RecordKind::ErasureRequest => "erasure_request",
            RecordKind::ConversationIndex => "conversation_index",
            RecordKind::ErasureLedger => "erasure_ledger",
            RecordKind::Audit => "audit_record",
            RecordKind::Alert => "alert",
            RecordKind::LiveInsight => "live_insight",
            RecordKind::InteractionEvent => "interaction_event",
        }
    }

    /// The schema's JSON text, as shipped in `schemas/`.
    pub fn schema_json(self) -> &'static str {
        match self {
            RecordKind::TranscriptEvent => include_str!("../../schemas/transcript_event.avsc"),
            RecordKind::MeetingInsight => include_str!("../../schemas/meeting_insight.avsc"),
            RecordKind::InteractionTelemetry => {
                include_str!("../../schemas/interaction_telemetry.avsc")
            }
            RecordKind::DeadLetter => include_str!("../../schemas/dead_letter.avsc"),
            RecordKind::TenantConfig => include_str!("../../schemas/tenant_config.avsc"),
            RecordKind::ErasureRequest => include_str!("../../schemas/erasure_request.avsc"),
            RecordKind::ConversationIndex => {
                include_str!("../../schemas/conversation_index.avsc")
            }
            RecordKind::ErasureLedger => include_str!("../../schemas/erasure_ledger.avsc"),
            RecordKind::Audit => include_str!("../../schemas/audit_record.avsc"),
            RecordKind::Alert => include_str!("../../schemas/alert.avsc"),
            RecordKind::LiveInsight => include_str!("../../schemas/live_insight.avsc"),
            RecordKind::InteractionEvent => include_str!("../../schemas/interaction_event.avsc"),
        }
    }

    fn index(self) -> usize {
        match self {
            RecordKind::TranscriptEvent => 0,
            RecordKind::MeetingInsight => 1,
            RecordKind::InteractionTelemetry => 2,
            RecordKind::DeadLetter => 3,
            RecordKind::TenantConfig => 4,
            RecordKind::ErasureRequest => 5,
            RecordKind::ConversationIndex => 6,
            RecordKind::ErasureLedger => 7,
            RecordKind::Audit => 8,
            RecordKind::LiveInsight => 9,
            RecordKind::InteractionEvent => 10,
            RecordKind::Alert => 11,
        }
    }
}

impl std::fmt::Display for RecordKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One parsed schema of the contract.
pub struct SchemaEntry {
    /// Which record.
    pub kind: RecordKind,
    /// The parsed schema.
    pub schema: Schema,
    /// CRC-64-AVRO (Rabin) fingerprint of the specification's Parsing Canonical Form, as the
    /// single-object header carries it (little-endian on the wire). What Debrief writes.
    pub fingerprint: u64,
    /// The fingerprint Debrief 0.1 wrote ([`legacy_fingerprint`]: apache-avro's canonical
    /// form, which differs for logical types). Still accepted on input, for one version.
    pub legacy_fingerprint: u64,
    /// The schema JSON as shipped (what is registered with a schema registry).
    pub json: &'static str,
}

/// The current version of every schema of the contract.
pub struct Schemas {
    entries: Vec<SchemaEntry>,
    /// Named types of each entry's schema (same order).
    names: Vec<SchemaNames>,
}

impl Schemas {
    /// The schemas, parsed on first use and kept for the life of the process.
    ///
    /// Errors only if a shipped `.avsc` does not parse (a build defect the tests catch).
    pub fn get() -> Result<&'static Schemas, SchemaError> {
        static SCHEMAS: OnceLock<Result<Schemas, String>> = OnceLock::new();
        SCHEMAS
            .get_or_init(|| {
                apache_avro::max_allocation_bytes(MAX_AVRO_ALLOCATION_BYTES);
                Schemas::load()
            })
            .as_ref()
            .map_err(|e| SchemaError::Config(e.clone()))
    }

    fn load() -> Result<Schemas, String> {
        let mut entries = Vec::with_capacity(RecordKind::ALL.len());
        let mut names = Vec::with_capacity(RecordKind::ALL.len());
        for kind in RecordKind::ALL {
            let json = kind.schema_json();
            let schema = Schema::parse_str(json)
                .map_err(|e| format!("schemas/{}.avsc does not parse: {e}", kind.name()))?;
            let fingerprint =
                spec_fingerprint(json).map_err(|e| format!("schemas/{}.avsc: {e}", kind.name()))?;
            let legacy_fingerprint = legacy_fingerprint(&schema);
            names.push(SchemaNames::of(&schema));
            entries.push(SchemaEntry {
                kind,
                schema,
                fingerprint,
                legacy_fingerprint,
                json,
            });
        }
        Ok(Schemas { entries, names })
    }

    /// The entry of one record kind.
    pub fn entry(&self, kind: RecordKind) -> &SchemaEntry {
        &self.entries[kind.index()]
    }

    /// The parsed schema of one record kind.
    pub fn schema(&self, kind: RecordKind) -> &Schema {
        &self.entry(kind).schema
    }

    /// The Rabin fingerprint of one record kind's current schema (the specification's).
    pub fn fingerprint(&self, kind: RecordKind) -> u64 {
        self.entry(kind).fingerprint
    }

    /// The fingerprint Debrief 0.1 wrote for one record kind's current schema (equal to
    /// [`fingerprint`](Schemas::fingerprint) for schemas without logical types).
    pub fn legacy_fingerprint(&self, kind: RecordKind) -> u64 {
        self.entry(kind).legacy_fingerprint
    }

    /// The named types of one record kind's schema.
    pub(crate) fn names(&self, kind: RecordKind) -> &SchemaNames {
        &self.names[kind.index()]
    }

    /// The record kind whose current schema has this fingerprint (the specification's or the
    /// legacy one).
    pub fn kind_of_fingerprint(&self, fingerprint: u64) -> Option<RecordKind> {
        self.entries
            .iter()
            .find(|e| e.fingerprint == fingerprint || e.legacy_fingerprint == fingerprint)
            .map(|e| e.kind)
    }
}

/// The fingerprint Debrief 0.1 wrote: CRC-64-AVRO of apache-avro 0.20's canonical form, which
/// keeps a primitive with a logical type as `{"type":"long"}` (and a decimal's `precision`
/// and `scale`) and so differs from the specification's form (AVRO-4004) for any schema with
/// a logical type. Only for recognising old records; see
/// [`spec_fingerprint`](super::spec_fingerprint) for the fingerprint to use.
pub fn legacy_fingerprint(schema: &Schema) -> u64 {
    let fp = schema.fingerprint::<Rabin>();
    let mut bytes = [0u8; 8];
    for (dst, src) in bytes.iter_mut().zip(fp.bytes.iter()) {
        *dst = *src;
    }
    u64::from_le_bytes(bytes)
}

/// A writer schema other than the current one (an older or newer version, or one fetched from
/// a registry), with what is needed to decode its records and resolve them to the current
/// schema.
pub(crate) struct ForeignWriter {
    /// Record kind it was registered for; `None` when unknown (fetched by id).
    pub kind: Option<RecordKind>,
    /// Reads a body (no header: the codec checks it) with the writer schema (names resolved
    /// once).
    pub reader: GenericSingleObjectReader,
    /// The writer schema.
    pub schema: Schema,
    /// Its named types.
    pub names: SchemaNames,
}

impl ForeignWriter {
    /// A decoder for bodies written with `schema`.
    pub fn new(
        kind: Option<RecordKind>,
        schema: Schema,
    ) -> Result<ForeignWriter, apache_avro::Error> {
        let names = SchemaNames::of(&schema);
        let reader = GenericSingleObjectReader::new_with_header_builder(schema.clone(), NoHeader)?;
        Ok(ForeignWriter {
            kind,
            reader,
            schema,
            names,
        })
    }
}

/// An empty header: the codec checks the header (fingerprint or schema id) itself and hands
/// the reader the body alone.
struct NoHeader;

impl apache_avro::headers::HeaderBuilder for NoHeader {
    fn build_header(&self) -> Vec<u8> {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::RecordKind;

    #[test]
    fn each_kind_has_its_own_slot_in_the_order_of_all() {
        for (i, kind) in RecordKind::ALL.into_iter().enumerate() {
            assert_eq!(kind.index(), i, "{kind}");
        }
    }
}
