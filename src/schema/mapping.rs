//! Rust types of the contract <-> Avro.
//!
//! Two directions, generated from one field list per record so they cannot drift apart:
//! - [`ToAvro`] / [`FromAvro`]: to and from `apache_avro::types::Value`, used to encode (with
//!   apache-avro's schema-validating encoder) and to read records written with another version
//!   of a schema (after apache-avro's schema resolution);
//! - [`ReadAvro`] / [`WriteAvro`]: a direct binary reader and writer for the *current*
//!   schema, the hot path. It allocates only the Rust value, checks every length against the bytes left
//!   (a corrupt length cannot reserve memory) and reports truncation precisely.
//!
//! The field lists below must follow the `.avsc` field order; the tests encode with
//! apache-avro against the schema and read back with both directions.

use crate::events::{
    CompleteTranscript, ConversationEnded, ConversationStarted, DeadLetter, DeadLetterKind,
    ErasureRequest, EventHeader, InteractionAction, InteractionEvent, InteractionSource,
    InteractionTelemetry, RepresentativeAction, SegmentBody, SpeakerRole, TranscriptEvent,
    TranscriptPayload,
};
use crate::governance::audit::AuditRecord;
use crate::governance::{ConversationIndexEntry, ErasureLedgerEntry, LedgerOffset, OutputRef};
use crate::insight::{
    ActionItem, ActionState, ActionStatus, ActionType, Due, Evidence, FinalisedBy, Highlight,
    HighlightKind, Insight, Kpis, LanguageReport, LanguageSource, Outcome, ParticipantKpis,
    Question, QuestionCounts, RedactionCount, SkipReason, SpeakerLanguage, TrackerCount,
    TrackerHit, TrackerKind,
};
use crate::interactions::Suggestion;
use crate::live::{KpisSoFar, LiveInsight, LiveReason};
use crate::model::Side;
use crate::rules::{Alert, AlertTrigger};
use crate::tenant::{
    Combine, CompetitorConfig, ConditionKind, Crm, Features, ProfileAssignment, ProfileConfig,
    ProfileFeatures, RuleCondition, RuleConfig, RuleSide, RuleWindow, TenantConfig, TrackerConfig,
};
use apache_avro::types::Value;
use std::collections::{BTreeMap, HashMap};

/// Converts a Rust value of the contract into an Avro value of its schema.
pub trait ToAvro {
    /// The Avro value (records as `Value::Record` in schema field order, options as
    /// `Value::Union` over `["null", T]`).
    fn to_avro(&self) -> Value;
}

/// Converts an Avro value of the contract's current schema into the Rust value.
pub trait FromAvro: Sized {
    /// Fails with a readable path (`SegmentBody.text: expected string, found long`).
    fn from_avro(value: Value) -> Result<Self, String>;
}

/// Why the direct reader stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError {
    /// The bytes end before the value does.
    Truncated(String),
    /// The bytes are not a value of the schema.
    Malformed(String),
}

impl ReadError {
    fn within(self, record: &str, field: &str) -> ReadError {
        match self {
            ReadError::Truncated(m) => ReadError::Truncated(format!("{record}.{field}: {m}")),
            ReadError::Malformed(m) => ReadError::Malformed(format!("{record}.{field}: {m}")),
        }
    }
}

/// Reads a value written with the contract's current schema, in Avro binary encoding.
pub trait ReadAvro: Sized {
    /// Reads one value and advances the reader past it.
    fn read_avro(r: &mut BinReader<'_>) -> Result<Self, ReadError>;
}

/// Writes a value in Avro binary encoding for the contract's current schema. Infallible: the
/// Rust types are the schema (the tests check the bytes against apache-avro's
/// schema-validating encoder).
pub trait WriteAvro {
    /// Appends the encoding of `self` to `out`.
    fn write_avro(&self, out: &mut Vec<u8>);
}

/// Appends a zigzag varint (Avro `int` and `long`).
fn write_long(v: i64, out: &mut Vec<u8>) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8 & 0x7f) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

fn write_bytes(b: &[u8], out: &mut Vec<u8>) {
    write_long(b.len() as i64, out);
    out.extend_from_slice(b);
}

/// A cursor over Avro binary data.
pub struct BinReader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> BinReader<'a> {
    /// A reader at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        BinReader { buf, pos: 0 }
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], ReadError> {
        if n > self.remaining() {
            return Err(ReadError::Truncated(format!(
                "needs {n} bytes at offset {}, {} left",
                self.pos,
                self.remaining()
            )));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn long(&mut self) -> Result<i64, ReadError> {
        let mut z: u64 = 0;
        for i in 0..10 {
            let Some(&b) = self.buf.get(self.pos) else {
                return Err(ReadError::Truncated(format!(
                    "varint cut at offset {}",
                    self.pos
                )));
            };
            self.pos += 1;
            if i == 9 && b > 1 {
                return Err(ReadError::Malformed("varint longer than 64 bits".into()));
            }
            z |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(((z >> 1) as i64) ^ -((z & 1) as i64));
            }
        }
        Err(ReadError::Malformed("varint longer than 10 bytes".into()))
    }

    fn int(&mut self) -> Result<i32, ReadError> {
        let v = self.long()?;
        i32::try_from(v).map_err(|_| ReadError::Malformed(format!("int out of range: {v}")))
    }

    /// A length prefix: non-negative and not past the end of the data.
    fn len(&mut self) -> Result<usize, ReadError> {
        let n = self.long()?;
        let n =
            usize::try_from(n).map_err(|_| ReadError::Malformed(format!("negative length {n}")))?;
        if n > self.remaining() {
            return Err(ReadError::Truncated(format!(
                "length {n} at offset {} but {} bytes left",
                self.pos,
                self.remaining()
            )));
        }
        Ok(n)
    }

    /// The item count of the next array or map block (0 ends the sequence). Every item of
    /// every contract type takes at least one byte, so a count above the bytes left is
    /// truncated or corrupt data, refused before anything is allocated.
    fn block_count(&mut self) -> Result<usize, ReadError> {
        let n = self.long()?;
        let count = if n < 0 {
            // Negative count: the block's size in bytes follows; skip it.
            let _size = self.long()?;
            n.checked_neg()
                .ok_or_else(|| ReadError::Malformed("block count overflow".into()))?
        } else {
            n
        };
        let count =
            usize::try_from(count).map_err(|_| ReadError::Malformed("block count".into()))?;
        if count > self.remaining() {
            return Err(ReadError::Truncated(format!(
                "block of {count} items at offset {} but {} bytes left",
                self.pos,
                self.remaining()
            )));
        }
        Ok(count)
    }

    fn union_index(&mut self, branches: usize) -> Result<usize, ReadError> {
        let i = self.long()?;
        usize::try_from(i)
            .ok()
            .filter(|i| *i < branches)
            .ok_or_else(|| ReadError::Malformed(format!("union index {i} of {branches} branches")))
    }

    fn bytes(&mut self) -> Result<&'a [u8], ReadError> {
        let n = self.len()?;
        self.take(n)
    }
}

/// Name of an Avro value's type, for error messages.
fn value_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Boolean(_) => "boolean",
        Value::Int(_) => "int",
        Value::Long(_) => "long",
        Value::Float(_) => "float",
        Value::Double(_) => "double",
        Value::Bytes(_) => "bytes",
        Value::String(_) => "string",
        Value::Enum(..) => "enum",
        Value::Union(..) => "union",
        Value::Array(_) => "array",
        Value::Map(_) => "map",
        Value::Record(_) => "record",
        Value::TimestampMillis(_) => "timestamp-millis",
        _ => "another logical type",
    }
}

fn mismatch<T>(expected: &str, found: &Value) -> Result<T, String> {
    Err(format!("expected {expected}, found {}", value_kind(found)))
}

// ---- scalars --------------------------------------------------------------------------------

impl ToAvro for String {
    fn to_avro(&self) -> Value {
        Value::String(self.clone())
    }
}
impl FromAvro for String {
    fn from_avro(value: Value) -> Result<Self, String> {
        match value {
            Value::String(s) => Ok(s),
            other => mismatch("string", &other),
        }
    }
}
impl WriteAvro for String {
    fn write_avro(&self, out: &mut Vec<u8>) {
        write_bytes(self.as_bytes(), out);
    }
}
impl ReadAvro for String {
    fn read_avro(r: &mut BinReader<'_>) -> Result<Self, ReadError> {
        let b = r.bytes()?;
        match std::str::from_utf8(b) {
            Ok(s) => Ok(s.to_owned()),
            Err(e) => Err(ReadError::Malformed(format!("string is not UTF-8: {e}"))),
        }
    }
}

impl ToAvro for i64 {
    fn to_avro(&self) -> Value {
        Value::Long(*self)
    }
}
impl FromAvro for i64 {
    fn from_avro(value: Value) -> Result<Self, String> {
        match value {
            Value::Long(v) | Value::TimestampMillis(v) => Ok(v),
            Value::Int(v) => Ok(i64::from(v)),
            other => mismatch("long", &other),
        }
    }
}
impl WriteAvro for i64 {
    fn write_avro(&self, out: &mut Vec<u8>) {
        write_long(*self, out);
    }
}
impl ReadAvro for i64 {
    fn read_avro(r: &mut BinReader<'_>) -> Result<Self, ReadError> {
        r.long()
    }
}

impl ToAvro for i32 {
    fn to_avro(&self) -> Value {
        Value::Int(*self)
    }
}
impl FromAvro for i32 {
    fn from_avro(value: Value) -> Result<Self, String> {
        match value {
            Value::Int(v) => Ok(v),
            other => mismatch("int", &other),
        }
    }
}
impl WriteAvro for i32 {
    fn write_avro(&self, out: &mut Vec<u8>) {
        write_long(i64::from(*self), out);
    }
}
impl ReadAvro for i32 {
    fn read_avro(r: &mut BinReader<'_>) -> Result<Self, ReadError> {
        r.int()
    }
}

impl ToAvro for f64 {
    fn to_avro(&self) -> Value {
        Value::Double(*self)
    }
}
impl FromAvro for f64 {
    fn from_avro(value: Value) -> Result<Self, String> {
        match value {
            Value::Double(v) => Ok(v),
            Value::Float(v) => Ok(f64::from(v)),
            other => mismatch("double", &other),
        }
    }
}
impl WriteAvro for f64 {
    fn write_avro(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}
impl ReadAvro for f64 {
    fn read_avro(r: &mut BinReader<'_>) -> Result<Self, ReadError> {
        let b = r.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(f64::from_le_bytes(a))
    }
}

impl ToAvro for f32 {
    fn to_avro(&self) -> Value {
        Value::Float(*self)
    }
}
impl FromAvro for f32 {
    fn from_avro(value: Value) -> Result<Self, String> {
        match value {
            Value::Float(v) => Ok(v),
            other => mismatch("float", &other),
        }
    }
}
impl WriteAvro for f32 {
    fn write_avro(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}
impl ReadAvro for f32 {
    fn read_avro(r: &mut BinReader<'_>) -> Result<Self, ReadError> {
        let b = r.take(4)?;
        let mut a = [0u8; 4];
        a.copy_from_slice(b);
        Ok(f32::from_le_bytes(a))
    }
}

impl ToAvro for bool {
    fn to_avro(&self) -> Value {
        Value::Boolean(*self)
    }
}
impl FromAvro for bool {
    fn from_avro(value: Value) -> Result<Self, String> {
        match value {
            Value::Boolean(v) => Ok(v),
            other => mismatch("boolean", &other),
        }
    }
}
impl WriteAvro for bool {
    fn write_avro(&self, out: &mut Vec<u8>) {
        out.push(u8::from(*self));
    }
}
impl ReadAvro for bool {
    fn read_avro(r: &mut BinReader<'_>) -> Result<Self, ReadError> {
        match r.take(1)?[0] {
            0 => Ok(false),
            1 => Ok(true),
            b => Err(ReadError::Malformed(format!("boolean byte {b:#04x}"))),
        }
    }
}

// ---- containers -----------------------------------------------------------------------------

/// `Option<T>` is the union `["null", T]`: branch 0 is null, branch 1 the value.
impl<T: ToAvro> ToAvro for Option<T> {
    fn to_avro(&self) -> Value {
        match self {
            None => Value::Union(0, Box::new(Value::Null)),
            Some(v) => Value::Union(1, Box::new(v.to_avro())),
        }
    }
}
impl<T: FromAvro> FromAvro for Option<T> {
    fn from_avro(value: Value) -> Result<Self, String> {
        match value {
            Value::Null => Ok(None),
            Value::Union(_, inner) => match *inner {
                Value::Null => Ok(None),
                v => T::from_avro(v).map(Some),
            },
            v => T::from_avro(v).map(Some),
        }
    }
}
impl<T: WriteAvro> WriteAvro for Option<T> {
    fn write_avro(&self, out: &mut Vec<u8>) {
        match self {
            None => out.push(0),
            Some(v) => {
                out.push(2);
                v.write_avro(out);
            }
        }
    }
}
impl<T: ReadAvro> ReadAvro for Option<T> {
    fn read_avro(r: &mut BinReader<'_>) -> Result<Self, ReadError> {
        match r.union_index(2)? {
            0 => Ok(None),
            _ => T::read_avro(r).map(Some),
        }
    }
}

impl<T: ToAvro> ToAvro for Vec<T> {
    fn to_avro(&self) -> Value {
        Value::Array(self.iter().map(ToAvro::to_avro).collect())
    }
}
impl<T: FromAvro> FromAvro for Vec<T> {
    fn from_avro(value: Value) -> Result<Self, String> {
        match value {
            Value::Array(items) => items
                .into_iter()
                .enumerate()
                .map(|(i, v)| T::from_avro(v).map_err(|e| format!("[{i}]: {e}")))
                .collect(),
            other => mismatch("array", &other),
        }
    }
}
/// One block with every item, then the empty block (nothing but the end for an empty list).
impl<T: WriteAvro> WriteAvro for Vec<T> {
    fn write_avro(&self, out: &mut Vec<u8>) {
        if !self.is_empty() {
            write_long(self.len() as i64, out);
            for v in self {
                v.write_avro(out);
            }
        }
        out.push(0);
    }
}
impl<T: ReadAvro> ReadAvro for Vec<T> {
    fn read_avro(r: &mut BinReader<'_>) -> Result<Self, ReadError> {
        let mut out = Vec::new();
        loop {
            let n = r.block_count()?;
            if n == 0 {
                return Ok(out);
            }
            out.reserve(n);
            for _ in 0..n {
                out.push(T::read_avro(r)?);
            }
        }
    }
}

impl<T: ToAvro> ToAvro for BTreeMap<String, T> {
    fn to_avro(&self) -> Value {
        Value::Map(
            self.iter()
                .map(|(k, v)| (k.clone(), v.to_avro()))
                .collect::<HashMap<_, _>>(),
        )
    }
}
impl<T: FromAvro> FromAvro for BTreeMap<String, T> {
    fn from_avro(value: Value) -> Result<Self, String> {
        match value {
            Value::Map(items) => items
                .into_iter()
                .map(|(k, v)| match T::from_avro(v) {
                    Ok(v) => Ok((k, v)),
                    Err(e) => Err(format!("[{k:?}]: {e}")),
                })
                .collect(),
            other => mismatch("map", &other),
        }
    }
}
impl<T: WriteAvro> WriteAvro for BTreeMap<String, T> {
    fn write_avro(&self, out: &mut Vec<u8>) {
        if !self.is_empty() {
            write_long(self.len() as i64, out);
            for (k, v) in self {
                write_bytes(k.as_bytes(), out);
                v.write_avro(out);
            }
        }
        out.push(0);
    }
}
impl<T: ReadAvro> ReadAvro for BTreeMap<String, T> {
    fn read_avro(r: &mut BinReader<'_>) -> Result<Self, ReadError> {
        let mut out = BTreeMap::new();
        loop {
            let n = r.block_count()?;
            if n == 0 {
                return Ok(out);
            }
            for _ in 0..n {
                let k = String::read_avro(r)?;
                let v = T::read_avro(r)?;
                out.insert(k, v);
            }
        }
    }
}

/// `bytes` (the only use: the dead letter's original key and value).
impl ToAvro for Vec<u8> {
    fn to_avro(&self) -> Value {
        Value::Bytes(self.clone())
    }
}
impl FromAvro for Vec<u8> {
    fn from_avro(value: Value) -> Result<Self, String> {
        match value {
            Value::Bytes(b) => Ok(b),
            other => mismatch("bytes", &other),
        }
    }
}
impl WriteAvro for Vec<u8> {
    fn write_avro(&self, out: &mut Vec<u8>) {
        write_bytes(self, out);
    }
}
impl ReadAvro for Vec<u8> {
    fn read_avro(r: &mut BinReader<'_>) -> Result<Self, ReadError> {
        r.bytes().map(<[u8]>::to_vec)
    }
}

// ---- records --------------------------------------------------------------------------------

/// The fields of a decoded record, taken by name (in schema order, so usually at the cursor).
struct Fields {
    record: &'static str,
    fields: Vec<(String, Value)>,
    next: usize,
}

impl Fields {
    fn new(value: Value, record: &'static str) -> Result<Fields, String> {
        match value {
            Value::Record(fields) => Ok(Fields {
                record,
                fields,
                next: 0,
            }),
            Value::Union(_, inner) => Fields::new(*inner, record),
            other => Err(format!(
                "{record}: expected record, found {}",
                value_kind(&other)
            )),
        }
    }

    fn take<T: FromAvro>(&mut self, name: &str) -> Result<T, String> {
        let at_cursor = self.fields.get(self.next).is_some_and(|(n, _)| n == name);
        let idx = if at_cursor {
            self.next
        } else {
            self.fields
                .iter()
                .position(|(n, _)| n == name)
                .ok_or_else(|| format!("{}: missing field `{name}`", self.record))?
        };
        self.next = idx + 1;
        let value = std::mem::replace(&mut self.fields[idx].1, Value::Null);
        T::from_avro(value).map_err(|e| format!("{}.{name}: {e}", self.record))
    }
}

macro_rules! field_name {
    ($field:ident) => {
        stringify!($field)
    };
    ($field:ident, $rename:literal) => {
        $rename
    };
}

/// Implements the four traits for a record from its field list, in schema order.
/// `field = "name"` gives a field whose Avro (and serde) name differs from the Rust one.
macro_rules! record {
    ($ty:ident $name:literal { $($field:ident $(= $rename:literal)?),* $(,)? }) => {
        impl ToAvro for $ty {
            fn to_avro(&self) -> Value {
                Value::Record(vec![
                    $((field_name!($field $(, $rename)?).to_owned(), self.$field.to_avro()),)*
                ])
            }
        }
        impl FromAvro for $ty {
            fn from_avro(value: Value) -> Result<Self, String> {
                let mut f = Fields::new(value, $name)?;
                Ok($ty { $($field: f.take(field_name!($field $(, $rename)?))?,)* })
            }
        }
        impl WriteAvro for $ty {
            fn write_avro(&self, out: &mut Vec<u8>) {
                $(self.$field.write_avro(out);)*
            }
        }
        impl ReadAvro for $ty {
            fn read_avro(r: &mut BinReader<'_>) -> Result<Self, ReadError> {
                Ok($ty {
                    $($field: ReadAvro::read_avro(r)
                        .map_err(|e| e.within($name, field_name!($field $(, $rename)?)))?,)*
                })
            }
        }
    };
}

/// Implements the four traits for an enum from its symbols, in schema order.
macro_rules! enumeration {
    ($ty:ident $name:literal { $($var:ident = $sym:literal),* $(,)? }) => {
        impl ToAvro for $ty {
            fn to_avro(&self) -> Value {
                const SYMBOLS: &[&str] = &[$($sym),*];
                let sym = match self { $($ty::$var => $sym,)* };
                let idx = SYMBOLS.iter().position(|s| *s == sym).unwrap_or_default();
                Value::Enum(idx as u32, sym.to_owned())
            }
        }
        impl FromAvro for $ty {
            fn from_avro(value: Value) -> Result<Self, String> {
                match value {
                    Value::Enum(_, sym) => match sym.as_str() {
                        $($sym => Ok($ty::$var),)*
                        other => Err(format!("{}: unknown symbol `{other}`", $name)),
                    },
                    other => mismatch("enum", &other),
                }
            }
        }
        impl WriteAvro for $ty {
            fn write_avro(&self, out: &mut Vec<u8>) {
                const ALL: &[$ty] = &[$($ty::$var),*];
                let idx = ALL.iter().position(|v| v == self).unwrap_or_default();
                write_long(idx as i64, out);
            }
        }
        impl ReadAvro for $ty {
            fn read_avro(r: &mut BinReader<'_>) -> Result<Self, ReadError> {
                const ALL: &[$ty] = &[$($ty::$var),*];
                let i = r.int()?;
                usize::try_from(i)
                    .ok()
                    .and_then(|i| ALL.get(i).copied())
                    .ok_or_else(|| ReadError::Malformed(
                        format!("{}: symbol index {i} of {}", $name, ALL.len())))
            }
        }
    };
}

// transcript_event.avsc
record!(EventHeader "EventHeader" { tenant_id, source_platform, client_version, emitted_at_ms });
enumeration!(SpeakerRole "SpeakerRole" {
    Internal = "internal", External = "external", Unknown = "unknown",
});
record!(SegmentBody "SegmentBody" {
    segment_id, revision, is_final, speaker_id, speaker_name, speaker_role, start_ms, end_ms,
    text, language, confidence,
});
record!(ConversationStarted "ConversationStarted" {
    started_at_ms, time_zone, language, title, owner_id,
});
record!(ConversationEnded "ConversationEnded" { ended_at_ms, segment_count });
record!(CompleteTranscript "CompleteTranscript" {
    started_at_ms, time_zone, language, title, segments, owner_id,
});
record!(TranscriptEvent "TranscriptEvent" { header, conversation_id, payload });

/// The payload is the union `[ConversationStarted, SegmentBody, ConversationEnded,
/// CompleteTranscript]`, in that order.
impl ToAvro for TranscriptPayload {
    fn to_avro(&self) -> Value {
        let (i, v) = match self {
            TranscriptPayload::Started(p) => (0, p.to_avro()),
            TranscriptPayload::Segment(p) => (1, p.to_avro()),
            TranscriptPayload::Ended(p) => (2, p.to_avro()),
            TranscriptPayload::Complete(p) => (3, p.to_avro()),
        };
        Value::Union(i, Box::new(v))
    }
}
impl FromAvro for TranscriptPayload {
    fn from_avro(value: Value) -> Result<Self, String> {
        match value {
            Value::Union(0, v) => {
                ConversationStarted::from_avro(*v).map(TranscriptPayload::Started)
            }
            Value::Union(1, v) => SegmentBody::from_avro(*v).map(TranscriptPayload::Segment),
            Value::Union(2, v) => ConversationEnded::from_avro(*v).map(TranscriptPayload::Ended),
            Value::Union(3, v) => {
                CompleteTranscript::from_avro(*v).map(TranscriptPayload::Complete)
            }
            Value::Union(i, _) => Err(format!("payload union branch {i} of 4")),
            other => mismatch("union", &other),
        }
    }
}
impl WriteAvro for TranscriptPayload {
    fn write_avro(&self, out: &mut Vec<u8>) {
        match self {
            TranscriptPayload::Started(p) => {
                out.push(0);
                p.write_avro(out);
            }
            TranscriptPayload::Segment(p) => {
                out.push(2);
                p.write_avro(out);
            }
            TranscriptPayload::Ended(p) => {
                out.push(4);
                p.write_avro(out);
            }
            TranscriptPayload::Complete(p) => {
                out.push(6);
                p.write_avro(out);
            }
        }
    }
}
impl ReadAvro for TranscriptPayload {
    fn read_avro(r: &mut BinReader<'_>) -> Result<Self, ReadError> {
        Ok(match r.union_index(4)? {
            0 => TranscriptPayload::Started(ConversationStarted::read_avro(r)?),
            1 => TranscriptPayload::Segment(SegmentBody::read_avro(r)?),
            2 => TranscriptPayload::Ended(ConversationEnded::read_avro(r)?),
            _ => TranscriptPayload::Complete(CompleteTranscript::read_avro(r)?),
        })
    }
}

// meeting_insight.avsc
enumeration!(FinalisedBy "FinalisedBy" {
    File = "file", EndEvent = "end_event", CompleteTranscript = "complete_transcript",
    IdleTimeout = "idle_timeout", Evicted = "evicted",
});
enumeration!(Outcome "Outcome" { Complete = "complete", Partial = "partial", Skipped = "skipped" });
enumeration!(SkipReason "SkipReason" {
    ClientVersion = "client_version", ShortContent = "short_content",
    NoTranscript = "no_transcript", SegmentLimit = "segment_limit",
    FeatureDisabled = "feature_disabled", DamagedSource = "damaged_source",
});
enumeration!(LanguageSource "LanguageSource" {
    Given = "given", Detected = "detected", Unknown = "unknown",
});
record!(SpeakerLanguage "SpeakerLanguage" { speaker, code, confidence });
record!(LanguageReport "LanguageReport" { code, confidence, source, speakers });
enumeration!(Side "Side" { Internal = "internal", External = "external", Unknown = "unknown" });
record!(ParticipantKpis "ParticipantKpis" {
    speaker, side, talk_time_ms, talk_share, words, words_per_minute, longest_monologue_ms,
    questions, interruptions,
});
record!(QuestionCounts "QuestionCounts" { internal, external, unknown });
record!(Kpis "Kpis" {
    duration_ms, participants, internal_talk_time_ms, external_talk_time_ms,
    talk_to_listen_ratio, switches, switches_per_hour, longest_monologue_ms,
    longest_customer_monologue_ms, average_pause_before_speaking_ms, non_talk_time_ms,
    interruptions, questions,
});
record!(Question "Question" { segment_id, speaker, side, text, start_char, end_char, id });
record!(Evidence "Evidence" { segment_id, start_char, end_char });
record!(Due "Due" { date, datetime, phrase });
enumeration!(ActionType "ActionType" {
    Call = "call", Email = "email", Meeting = "meeting", Task = "task",
});
enumeration!(ActionState "ActionState" { Committed = "committed", Suggested = "suggested" });
record!(ActionItem "ActionItem" {
    text, evidence, owner, due, action_type = "type", state, confidence, language, status, id,
});
enumeration!(ActionStatus "ActionStatus" {
    Committed = "committed", Requested = "requested", Suggested = "suggested",
});
enumeration!(TrackerKind "TrackerKind" { Keyword = "keyword", Competitor = "competitor" });
record!(TrackerHit "TrackerHit" {
    tracker, kind, term, heard, speaker, side, segment_id, offset_ms, start_char, end_char, id,
});
record!(TrackerCount "TrackerCount" { tracker, kind, side, count });
record!(Insight "MeetingInsight" {
    conversation_id, tenant_id, schema_version, extractor_version, config_version,
    source_platform, client_version, finalised_by, outcome, skip_reasons, language,
    segment_count, text_chars, kpis, questions, action_items, tracker_hits, tracker_counts,
    highlights, redactions, profile,
});
enumeration!(HighlightKind "HighlightKind" {
    Decision = "decision", Commitment = "commitment", Objection = "objection",
    Pricing = "pricing", Timeline = "timeline", Other = "other",
});
record!(Highlight "Highlight" {
    text, kind, speaker, segment_id, start_char, end_char, offset_ms,
});
record!(RedactionCount "RedactionCount" { kind = "type", count });

// interaction_telemetry.avsc
enumeration!(InteractionAction "InteractionAction" {
    Ran = "ran", Skipped = "skipped", Accepted = "accepted", Copied = "copied",
    EditedAndSent = "edited_and_sent", Discarded = "discarded", ThumbsUp = "thumbs_up",
    ThumbsDown = "thumbs_down",
});
record!(InteractionTelemetry "InteractionTelemetry" {
    tenant_id, conversation_id, feature, action, outcome, duration_us, latency_ms, items,
    recorded_at_ms, extractor_version, reason, item_id, item_kind, item_type, language,
    confidence, profile, edit_size, reason_code, representative_action,
});

// interaction_event.avsc
enumeration!(RepresentativeAction "RepresentativeAction" {
    Viewed = "viewed", Accepted = "accepted", Copied = "copied",
    EditedAndSent = "edited_and_sent", Discarded = "discarded", ThumbsUp = "thumbs_up",
    ThumbsDown = "thumbs_down", Unknown = "unknown",
});
enumeration!(InteractionSource "InteractionSource" {
    Crm = "crm", Meeting = "meeting", Other = "other",
});
record!(InteractionEvent "InteractionEvent" {
    tenant_id, conversation_id, item_id, action, edit_size, reason_code, actor,
    occurred_at_ms, source,
});

// dead_letter.avsc
enumeration!(DeadLetterKind "DeadLetterKind" {
    Undecodable = "undecodable", Invalid = "invalid", InvalidConfig = "invalid_config",
    OverLimit = "over_limit",
});
record!(DeadLetter "DeadLetter" {
    kind, reason, source_topic, source_partition, source_offset, key, value, failed_at_ms,
    original_size, original_sha256,
});

// tenant_config.avsc
record!(TrackerConfig "TrackerConfig" {
    name, terms, languages, teams, stemming, accent_insensitive,
});
record!(CompetitorConfig "CompetitorConfig" { name, aliases, languages, teams });
enumeration!(Crm "Crm" { Dynamics = "dynamics", Salesforce = "salesforce", None = "none" });
record!(Features "Features" {
    action_items, trackers, kpis, redaction, questions, interactions,
});
record!(ProfileFeatures "ProfileFeatures" {
    kpis, action_items, trackers, questions, interactions,
});
record!(ProfileConfig "ExperienceProfile" { name, features });
record!(ProfileAssignment "ProfileAssignment" { representative, profile });
record!(TenantConfig "TenantConfig" {
    tenant_id, version, trackers, competitors, internal_domains, internal_speakers, crm,
    features, opted_out, insight_retention_days, profiles, default_profile,
    profile_assignments, geography, allow_cross_region, rules,
});
enumeration!(Combine "RuleCombine" { AllOf = "all_of", AnyOf = "any_of" });
enumeration!(ConditionKind "RuleConditionKind" {
    Mention = "mention", NoMention = "no_mention", Monologue = "monologue",
    Interruptions = "interruptions", Silence = "silence",
});
enumeration!(RuleSide "RuleSide" { Any = "any", Internal = "internal", External = "external" });
record!(RuleWindow "RuleWindow" { first_s, last_s, first_percent, last_percent });
record!(RuleCondition "RuleCondition" { kind, tracker, side, window, seconds, count, minutes });
record!(RuleConfig "RuleConfig" { name, combine, conditions, repeat });

// erasure_request.avsc
record!(ErasureRequest "ErasureRequest" {
    request_id, tenant_id, conversation_id, requested_at_ms, reason, participant_id,
    requested_by,
});

// conversation_index.avsc
record!(OutputRef "OutputRef" { topic, key });
record!(ConversationIndexEntry "ConversationIndexEntry" {
    conversation_id, tenant_id, participants, outputs, finalised_at_ms, features,
    telemetry_pseudonym, telemetry_key, suggestions, profile,
});
record!(Suggestion "Suggestion" { id, kind, item_type, language, confidence });

// audit_record.avsc
record!(AuditRecord "AuditRecord" {
    action_id, tenant_id, action, actor, at_ms, request_id, config_version, scope, count,
});

// erasure_ledger.avsc
record!(LedgerOffset "LedgerOffset" { topic, partition, offset });
record!(ErasureLedgerEntry "ErasureLedgerEntry" {
    request_id, tenant_id, scope, reason, step, count, offsets, requested_at_ms,
    recorded_at_ms,
});

// alert.avsc
enumeration!(AlertTrigger "AlertTrigger" {
    Segment = "segment", ConversationEnd = "conversation_end",
});
record!(Alert "Alert" {
    conversation_id, tenant_id, rule, config_version, occurrence, segment_id, segment_index,
    at_ms, trigger,
});

// live_insight.avsc
enumeration!(LiveReason "LiveReason" { Interval = "interval", Rule = "rule", End = "end" });
record!(KpisSoFar "LiveKpis" {
    segments, duration_ms, internal_talk_time_ms, external_talk_time_ms, talk_to_listen_ratio,
    longest_monologue_ms, longest_customer_monologue_ms, interruptions, non_talk_time_ms,
    current_silence_ms, questions,
});
record!(LiveInsight "LiveInsight" {
    conversation_id, tenant_id, sequence, at_ms, reason, last_segment_id, kpis, tracker_hits,
    questions, dropped_items,
});

#[cfg(test)]
mod tests {
    use super::*;

    fn long_bytes(v: i64) -> Vec<u8> {
        let mut z = ((v << 1) ^ (v >> 63)) as u64;
        let mut out = Vec::new();
        loop {
            if z < 0x80 {
                out.push(z as u8);
                return out;
            }
            out.push((z as u8 & 0x7f) | 0x80);
            z >>= 7;
        }
    }

    #[test]
    fn zigzag_longs_by_hand() {
        // Avro spec table: 0 -> 00, -1 -> 01, 1 -> 02, -2 -> 03, 2 -> 04, -64 -> 7f, 64 -> 80 01.
        let cases: [(&[u8], i64); 7] = [
            (&[0x00], 0),
            (&[0x01], -1),
            (&[0x02], 1),
            (&[0x03], -2),
            (&[0x04], 2),
            (&[0x7f], -64),
            (&[0x80, 0x01], 64),
        ];
        for (bytes, want) in cases {
            assert_eq!(BinReader::new(bytes).long(), Ok(want), "{bytes:?}");
            assert_eq!(long_bytes(want), bytes);
        }
        for v in [i64::MIN, i64::MAX, -1_000_000_007, 1_700_000_000_000] {
            assert_eq!(BinReader::new(&long_bytes(v)).long(), Ok(v));
        }
    }

    #[test]
    fn overlong_varint_is_malformed_and_cut_varint_truncated() {
        let eleven = [0xffu8; 11];
        assert!(matches!(
            BinReader::new(&eleven).long(),
            Err(ReadError::Malformed(_))
        ));
        assert!(matches!(
            BinReader::new(&[0x80, 0x80]).long(),
            Err(ReadError::Truncated(_))
        ));
    }

    #[test]
    fn string_length_past_the_end_is_refused_before_allocating() {
        // Length 2^40 followed by 2 bytes.
        let mut b = long_bytes(1 << 40);
        b.extend_from_slice(b"ab");
        assert!(matches!(
            String::read_avro(&mut BinReader::new(&b)),
            Err(ReadError::Truncated(_))
        ));
        let mut neg = long_bytes(-3);
        neg.extend_from_slice(b"abc");
        assert!(matches!(
            String::read_avro(&mut BinReader::new(&neg)),
            Err(ReadError::Malformed(_))
        ));
    }

    #[test]
    fn huge_array_count_is_refused() {
        let b = long_bytes(i64::MAX / 2);
        let r = Vec::<String>::read_avro(&mut BinReader::new(&b));
        assert!(matches!(r, Err(ReadError::Truncated(_))), "{r:?}");
    }

    #[test]
    fn array_with_negative_block_count_reads_items() {
        // Block of -2 items with a byte size of 4, items "a" and "b", then end of array.
        let b = [0x03, 0x08, 0x02, b'a', 0x02, b'b', 0x00];
        let v = Vec::<String>::read_avro(&mut BinReader::new(&b)).unwrap();
        assert_eq!(v, vec!["a".to_string(), "b".to_string()]);
    }

    #[test]
    fn bad_enum_index_union_index_and_utf8_are_malformed() {
        assert!(matches!(
            Side::read_avro(&mut BinReader::new(&[0x06])),
            Err(ReadError::Malformed(_))
        ));
        assert!(matches!(
            Option::<String>::read_avro(&mut BinReader::new(&[0x04])),
            Err(ReadError::Malformed(_))
        ));
        assert!(matches!(
            String::read_avro(&mut BinReader::new(&[0x02, 0xff])),
            Err(ReadError::Malformed(_))
        ));
        assert!(matches!(
            bool::read_avro(&mut BinReader::new(&[0x02])),
            Err(ReadError::Malformed(_))
        ));
    }

    #[test]
    fn enum_symbols_match_serde_names() {
        for side in [Side::Internal, Side::External, Side::Unknown] {
            let Value::Enum(i, sym) = side.to_avro() else {
                panic!("not an enum")
            };
            assert_eq!(
                serde_json::to_value(side).unwrap(),
                serde_json::Value::String(sym.clone())
            );
            assert_eq!(
                Side::read_avro(&mut BinReader::new(&long_bytes(i64::from(i)))),
                Ok(side)
            );
        }
        let Value::Enum(i, sym) = InteractionAction::EditedAndSent.to_avro() else {
            panic!()
        };
        assert_eq!((i, sym.as_str()), (4, "edited_and_sent"));
    }

    #[test]
    fn from_avro_names_the_field_that_is_wrong() {
        let v = Value::Record(vec![
            ("segment_id".into(), Value::String("s1".into())),
            ("revision".into(), Value::String("zero".into())),
        ]);
        let err = SegmentBody::from_avro(v).unwrap_err();
        assert_eq!(err, "SegmentBody.revision: expected int, found string");
        let v = Value::Record(vec![("segment_id".into(), Value::String("s1".into()))]);
        assert_eq!(
            SegmentBody::from_avro(v).unwrap_err(),
            "SegmentBody: missing field `revision`"
        );
    }
}
