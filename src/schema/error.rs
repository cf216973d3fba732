//! The one error type of the `schema` module.

use thiserror::Error;

/// Why a record could not be encoded or decoded.
///
/// Every decoding failure of outside data is one of [`Truncated`](SchemaError::Truncated),
/// [`BadMagic`](SchemaError::BadMagic), [`UnknownSchema`](SchemaError::UnknownSchema) or
/// [`Malformed`](SchemaError::Malformed): the record goes to the dead-letter topic. A
/// [`Registry`](SchemaError::Registry) error is about the schema registry, not the record:
/// retry it when [`is_retryable`](SchemaError::is_retryable) says so.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SchemaError {
    /// The input ends before the header or the body is complete (includes empty input).
    #[error("truncated: {0}")]
    Truncated(String),
    /// The first bytes are not the magic of the configured encoding.
    #[error("bad magic: {0}")]
    BadMagic(String),
    /// The writer schema (single-object fingerprint or registry schema id) is not known, or is
    /// the schema of another record type.
    #[error("unknown schema: {0}")]
    UnknownSchema(String),
    /// The header is fine but the body does not decode into the expected record.
    #[error("malformed: {0}")]
    Malformed(String),
    /// The schema registry could not be reached or answered unexpectedly.
    #[error("schema registry: {reason}")]
    Registry {
        /// What went wrong, with the URL and status when there is one.
        reason: String,
        /// `true` for network errors and 5xx answers (try again later), `false` when the
        /// registry rejected the request (4xx: incompatible or invalid schema).
        retryable: bool,
    },
    /// Confluent encoding only: a synchronous call needs a schema id that is not cached yet.
    /// Call the `async` variant once (it registers or fetches the schema), then the
    /// synchronous one works.
    #[error("schema id not cached: {0}")]
    NotCached(String),
    /// A value could not be encoded (a bug: the Rust types and the schemas disagree).
    #[error("cannot encode: {0}")]
    Encode(String),
    /// The codec is misconfigured (for example the Confluent encoding without a registry URL).
    #[error("schema configuration: {0}")]
    Config(String),
}

impl SchemaError {
    /// Short, stable name for metrics labels and the `debrief.error.kind` dead-letter header:
    /// `truncated`, `bad_magic`, `unknown_schema`, `malformed`, `registry`, `not_cached`,
    /// `encode`, `config`.
    pub fn kind(&self) -> &'static str {
        match self {
            SchemaError::Truncated(_) => "truncated",
            SchemaError::BadMagic(_) => "bad_magic",
            SchemaError::UnknownSchema(_) => "unknown_schema",
            SchemaError::Malformed(_) => "malformed",
            SchemaError::Registry { .. } => "registry",
            SchemaError::NotCached(_) => "not_cached",
            SchemaError::Encode(_) => "encode",
            SchemaError::Config(_) => "config",
        }
    }

    /// `true` when the same call may succeed later without any change to the record: a
    /// registry that is down or overloaded, or a schema id not yet cached. The pipeline backs
    /// off and retries instead of dead-lettering.
    pub fn is_retryable(&self) -> bool {
        match self {
            SchemaError::Registry { retryable, .. } => *retryable,
            SchemaError::NotCached(_) => true,
            _ => false,
        }
    }

    /// `true` when the record itself cannot be read (truncated, bad magic, unknown schema,
    /// malformed): it belongs in the dead-letter topic.
    pub fn is_undecodable(&self) -> bool {
        matches!(
            self,
            SchemaError::Truncated(_)
                | SchemaError::BadMagic(_)
                | SchemaError::UnknownSchema(_)
                | SchemaError::Malformed(_)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_stable_and_classified() {
        let cases = [
            (SchemaError::Truncated("x".into()), "truncated", false, true),
            (SchemaError::BadMagic("x".into()), "bad_magic", false, true),
            (
                SchemaError::UnknownSchema("x".into()),
                "unknown_schema",
                false,
                true,
            ),
            (SchemaError::Malformed("x".into()), "malformed", false, true),
            (
                SchemaError::Registry {
                    reason: "x".into(),
                    retryable: true,
                },
                "registry",
                true,
                false,
            ),
            (
                SchemaError::Registry {
                    reason: "x".into(),
                    retryable: false,
                },
                "registry",
                false,
                false,
            ),
            (
                SchemaError::NotCached("x".into()),
                "not_cached",
                true,
                false,
            ),
            (SchemaError::Encode("x".into()), "encode", false, false),
            (SchemaError::Config("x".into()), "config", false, false),
        ];
        for (err, kind, retry, undecodable) in cases {
            assert_eq!(err.kind(), kind);
            assert_eq!(err.is_retryable(), retry, "{err}");
            assert_eq!(err.is_undecodable(), undecodable, "{err}");
        }
    }

    #[test]
    fn messages_name_the_problem() {
        let e = SchemaError::UnknownSchema("fingerprint 0x0102".into());
        assert_eq!(e.to_string(), "unknown schema: fingerprint 0x0102");
        let e = SchemaError::Registry {
            reason: "GET http://r/schemas/ids/3: 503".into(),
            retryable: true,
        };
        assert_eq!(
            e.to_string(),
            "schema registry: GET http://r/schemas/ids/3: 503"
        );
    }
}
