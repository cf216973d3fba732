//! What the next owner of a partition needs to replay it without changing any insight.
//!
//! The committed offset of a transcript partition is held at the first event of the oldest
//! conversation still open, so a replay from it sees every event of every open conversation.
//! It also sees the later events of conversations that were already finalised: their start
//! may lie before the committed offset, so a replay would assemble a shorter or different
//! conversation (a "replayed tail") and overwrite the right insight. The commit therefore
//! carries, in its metadata, the conversations of the partition that were finalised and may
//! still have events at or after the committed offset ([`ReplayFacts`]); the next owner
//! treats their events as late, exactly as the run that committed did.
//!
//! The metadata is binary Avro (`schemas/commit_metadata.avsc`), base64url without padding,
//! prefixed with [`PREFIX`]. Conversation ids are not stored, only the first 8 bytes of their
//! SHA-256 ([`id_hash`]). Kafka keeps at most `offset.metadata.max.bytes` (4096 by default)
//! per partition; [`encode`] keeps the conversations closed last when they do not all fit,
//! and says how many it dropped (each of those falls back to the replayed-tail guard of
//! [`crate::ingest::assemble`]).

use apache_avro::types::Value;
use apache_avro::Schema;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use sha2::{Digest, Sha256};
use std::sync::OnceLock;
use thiserror::Error;

/// Prefix of Debrief's commit metadata (format version 1).
pub const PREFIX: &str = "dbr1:";

/// Kafka's default `offset.metadata.max.bytes`: the most metadata a commit may carry.
pub const DEFAULT_MAX_METADATA_BYTES: usize = 4096;

/// A finalised conversation whose later events must stay late on replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClosedConversation {
    /// [`id_hash`] of the conversation id.
    pub id_hash: u64,
    /// Stream time (ms) at which it was finalised; its id is remembered as closed until the
    /// partition's stream time passes this plus the idle timeout, as in the original run.
    pub closed_at_ms: i64,
    /// Offset of its last event: its events up to there were part of it (always dropped on
    /// replay), later ones are late only within the time above.
    pub last_offset: i64,
}

/// Everything a replaying owner needs about one partition.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayFacts {
    /// Conversations closed with events possibly after the committed offset, in any order.
    pub closed: Vec<ClosedConversation>,
}

/// Commit metadata that cannot be read (written by another program, or corrupt).
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ReplayError {
    /// Metadata without [`PREFIX`]: not Debrief's (or of a newer format).
    #[error("commit metadata is not Debrief's (no '{PREFIX}' prefix)")]
    Foreign,
    /// The base64 text is malformed.
    #[error("commit metadata is not base64url")]
    Base64,
    /// The Avro datum does not match `schemas/commit_metadata.avsc`.
    #[error("commit metadata is not a CommitMetadata record: {0}")]
    Avro(String),
}

/// A result of [`encode`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// The metadata text (empty when there is nothing to carry).
    pub text: String,
    /// Conversations left out because the text would exceed the size limit.
    pub dropped: usize,
}

/// First 8 bytes of SHA-256 of a conversation id, as a little-endian `u64`: stable across
/// processes, versions and platforms.
pub fn id_hash(conversation_id: &str) -> u64 {
    let digest = Sha256::digest(conversation_id.as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    u64::from_le_bytes(bytes)
}

fn schema() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        // The file is part of the binary; a test parses it, so this cannot fail at run time.
        Schema::parse_str(include_str!("../../schemas/commit_metadata.avsc"))
            .unwrap_or_else(|e| unreachable!("schemas/commit_metadata.avsc: {e}"))
    })
}

fn encode_all(closed: &[ClosedConversation]) -> String {
    if closed.is_empty() {
        return String::new();
    }
    let base = closed.iter().map(|c| c.closed_at_ms).min().unwrap_or(0);
    let items = closed
        .iter()
        .map(|c| {
            Value::Record(vec![
                (
                    "id_hash".into(),
                    Value::Fixed(8, c.id_hash.to_le_bytes().to_vec()),
                ),
                (
                    "closed_at_delta_ms".into(),
                    Value::Long(c.closed_at_ms.saturating_sub(base)),
                ),
                ("last_offset".into(), Value::Long(c.last_offset)),
            ])
        })
        .collect();
    let record = Value::Record(vec![
        ("base_ms".into(), Value::Long(base)),
        ("closed".into(), Value::Array(items)),
    ]);
    // Only fails for a value that does not match the schema, which this function builds.
    let bytes = apache_avro::to_avro_datum(schema(), record)
        .unwrap_or_else(|e| unreachable!("CommitMetadata datum: {e}"));
    format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// Encodes the facts in at most `max_bytes` characters. `facts.closed` is in order of
/// priority: when they do not all fit, the longest prefix that fits is kept and the number
/// left out is reported. The text does not depend on the order within what is kept.
pub fn encode(facts: &ReplayFacts, max_bytes: usize) -> Encoded {
    let mut seen = std::collections::HashSet::new();
    let prioritised: Vec<ClosedConversation> = facts
        .closed
        .iter()
        .filter(|c| seen.insert(**c))
        .copied()
        .collect();
    let sorted = |n: usize| {
        let mut kept = prioritised[..n].to_vec();
        kept.sort();
        encode_all(&kept)
    };
    let text = sorted(prioritised.len());
    if text.len() <= max_bytes {
        return Encoded { text, dropped: 0 };
    }
    // The longest prefix that fits (the size grows with the count).
    let (mut lo, mut hi) = (0usize, prioritised.len());
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if sorted(mid).len() <= max_bytes {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    Encoded {
        text: sorted(lo),
        dropped: prioritised.len() - lo,
    }
}

/// Decodes commit metadata. Empty metadata (a commit by an earlier version, or nothing to
/// carry) gives empty facts.
pub fn decode(text: &str) -> Result<ReplayFacts, ReplayError> {
    if text.is_empty() {
        return Ok(ReplayFacts::default());
    }
    let body = text.strip_prefix(PREFIX).ok_or(ReplayError::Foreign)?;
    let bytes = URL_SAFE_NO_PAD
        .decode(body)
        .map_err(|_| ReplayError::Base64)?;
    let value = apache_avro::from_avro_datum(schema(), &mut bytes.as_slice(), None)
        .map_err(|e| ReplayError::Avro(e.to_string()))?;
    let bad = |what: &str| ReplayError::Avro(format!("unexpected {what}"));
    let Value::Record(fields) = value else {
        return Err(bad("datum"));
    };
    let mut base = None;
    let mut items = None;
    for (name, value) in fields {
        match (name.as_str(), value) {
            ("base_ms", Value::Long(ms)) => base = Some(ms),
            ("closed", Value::Array(list)) => items = Some(list),
            _ => return Err(bad("field")),
        }
    }
    let (Some(base), Some(items)) = (base, items) else {
        return Err(bad("record"));
    };
    let mut closed = Vec::with_capacity(items.len());
    for item in items {
        let Value::Record(fields) = item else {
            return Err(bad("item"));
        };
        let mut hash = None;
        let mut delta = None;
        let mut last = None;
        for (name, value) in fields {
            match (name.as_str(), value) {
                ("id_hash", Value::Fixed(8, b)) => {
                    let mut bytes = [0u8; 8];
                    bytes.copy_from_slice(&b);
                    hash = Some(u64::from_le_bytes(bytes));
                }
                ("closed_at_delta_ms", Value::Long(d)) => delta = Some(d),
                ("last_offset", Value::Long(o)) => last = Some(o),
                _ => return Err(bad("item field")),
            }
        }
        let (Some(id_hash), Some(delta), Some(last_offset)) = (hash, delta, last) else {
            return Err(bad("item"));
        };
        closed.push(ClosedConversation {
            id_hash,
            closed_at_ms: base.saturating_add(delta),
            last_offset,
        });
    }
    Ok(ReplayFacts { closed })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn conv(id: &str, at: i64) -> ClosedConversation {
        ClosedConversation {
            id_hash: id_hash(id),
            closed_at_ms: at,
            last_offset: at / 10,
        }
    }

    #[test]
    fn the_schema_file_parses() {
        assert!(matches!(schema(), Schema::Record(_)));
    }

    #[test]
    fn id_hash_is_the_first_eight_bytes_of_sha256() {
        // SHA-256("abc") = ba7816bf 8f01cfea ... (FIPS 180-2, appendix B.1).
        assert_eq!(
            id_hash("abc"),
            u64::from_le_bytes([0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea])
        );
    }

    #[test]
    fn the_text_does_not_depend_on_the_order_of_what_fits() {
        let a = ReplayFacts {
            closed: vec![conv("a", 5), conv("b", 7), conv("c", 1)],
        };
        let b = ReplayFacts {
            closed: vec![conv("c", 1), conv("a", 5), conv("b", 7), conv("a", 5)],
        };
        assert_eq!(encode(&a, 4096), encode(&b, 4096));
    }

    #[test]
    fn empty_facts_are_empty_metadata_and_back() {
        let e = encode(&ReplayFacts::default(), DEFAULT_MAX_METADATA_BYTES);
        assert_eq!(
            e,
            Encoded {
                text: String::new(),
                dropped: 0
            }
        );
        assert_eq!(decode("").unwrap(), ReplayFacts::default());
    }

    #[test]
    fn round_trip_keeps_every_conversation() {
        let facts = ReplayFacts {
            closed: vec![conv("a", 1_760_000_000_000), conv("b", 1_760_000_004_500)],
        };
        let e = encode(&facts, DEFAULT_MAX_METADATA_BYTES);
        assert!(e.text.starts_with(PREFIX));
        assert_eq!(e.dropped, 0);
        let mut back = decode(&e.text).unwrap().closed;
        back.sort();
        let mut want = facts.closed.clone();
        want.sort();
        assert_eq!(back, want);
    }

    #[test]
    fn too_many_keeps_the_first_given_and_counts_the_rest() {
        // Given newest first, as Assembler::replay_facts orders them.
        let facts = ReplayFacts {
            closed: (0..1000)
                .rev()
                .map(|i| conv(&format!("c{i}"), i * 1000))
                .collect(),
        };
        let e = encode(&facts, 4096);
        assert!(e.text.len() <= 4096, "{}", e.text.len());
        assert!(e.dropped > 0);
        let back = decode(&e.text).unwrap().closed;
        assert_eq!(back.len() + e.dropped, 1000);
        // The kept ones are the newest.
        let oldest_kept = back.iter().map(|c| c.closed_at_ms).min().unwrap();
        assert_eq!(oldest_kept, (1000 - back.len() as i64) * 1000);
        // About 19 bytes per conversation in base64 (8-byte hash, small delta, offset).
        assert!(back.len() > 150, "{} fit in 4096 bytes", back.len());
    }

    #[test]
    fn foreign_or_corrupt_metadata_is_an_error() {
        assert_eq!(decode("hello"), Err(ReplayError::Foreign));
        assert_eq!(decode("dbr1:***"), Err(ReplayError::Base64));
        // base_ms = 1, then the array is missing.
        assert!(matches!(decode("dbr1:Ag"), Err(ReplayError::Avro(_))));
    }

    proptest! {
        #[test]
        fn any_facts_round_trip_within_the_limit(
            items in proptest::collection::vec((any::<u64>(), -1_000_000i64..2_000_000_000_000, 0i64..1_000_000_000), 0..400),
            limit in 64usize..6000,
        ) {
            let facts = ReplayFacts {
                closed: items.iter().map(|&(h, at, last)| ClosedConversation { id_hash: h, closed_at_ms: at, last_offset: last }).collect(),
            };
            let e = encode(&facts, limit);
            prop_assert!(e.text.len() <= limit);
            let back = decode(&e.text).unwrap();
            let mut distinct = facts.closed.clone();
            distinct.sort();
            distinct.dedup();
            prop_assert_eq!(back.closed.len() + e.dropped, distinct.len());
            for c in &back.closed {
                prop_assert!(distinct.contains(c));
            }
        }
    }
}
