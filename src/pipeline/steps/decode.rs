//! Step 1, decode: a transcript record's bytes into a [`TranscriptEvent`] with the codec of
//! the configured encoding. A record that cannot be read is rejected (kind `undecodable`, or
//! `invalid` for a tombstone); a schema registry that cannot be reached is retried with
//! back-off (up to [`MAX_BACKOFF`] between tries) without moving on.

use super::Rejection;
use crate::events::{DeadLetterKind, TranscriptEvent};
use crate::schema::Codec;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Longest pause between retries of a retryable decoding error (schema registry down).
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// The decode step.
pub(crate) struct Decode {
    /// The codec of the configured encoding.
    pub codec: Arc<Codec>,
    /// For the registry look-ups of the `confluent` encoding.
    pub runtime: tokio::runtime::Handle,
}

impl Decode {
    /// Decodes a record's value. `None`: `shutdown` was cancelled while the schema registry
    /// was unreachable (the record is left for the next run).
    pub fn decode(
        &self,
        value: Option<&[u8]>,
        shutdown: &CancellationToken,
    ) -> Option<Result<TranscriptEvent, Rejection>> {
        let Some(value) = value else {
            return Some(Err(Rejection {
                kind: DeadLetterKind::Invalid,
                reason: "empty value (tombstone) on a transcript topic".into(),
            }));
        };
        let mut backoff = Duration::from_millis(100);
        loop {
            let attempt = match self.codec.decode::<TranscriptEvent>(value) {
                Err(e) if e.is_retryable() => self
                    .runtime
                    .block_on(self.codec.decode_async::<TranscriptEvent>(value)),
                other => other,
            };
            match attempt {
                Ok(event) => return Some(Ok(event)),
                Err(e) if e.is_retryable() => {
                    tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "cannot decode yet");
                    if shutdown.is_cancelled() {
                        return None;
                    }
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
                Err(e) => {
                    return Some(Err(Rejection {
                        kind: DeadLetterKind::Undecodable,
                        reason: e.to_string(),
                    }))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{EventHeader, SegmentBody, TranscriptPayload};
    use crate::schema::Encoding;

    #[test]
    fn reads_events_and_rejects_what_cannot_be_read() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let stop = CancellationToken::new();
        for encoding in [Encoding::Json, Encoding::AvroSingleObject] {
            let step = Decode {
                codec: Arc::new(Codec::new(encoding, None).unwrap()),
                runtime: runtime.handle().clone(),
            };
            let event = TranscriptEvent {
                header: EventHeader {
                    tenant_id: "acme".into(),
                    ..Default::default()
                },
                conversation_id: "c1".into(),
                payload: TranscriptPayload::Segment(SegmentBody::default()),
            };
            let bytes = step.codec.encode("t", &event).unwrap();
            let got = step.decode(Some(&bytes), &stop).unwrap().unwrap();
            assert_eq!(got.conversation_id, "c1");
            let tombstone = step.decode(None, &stop).unwrap().unwrap_err();
            assert_eq!(tombstone.kind, DeadLetterKind::Invalid);
            let garbage = step
                .decode(Some(b"\x01garbage"), &stop)
                .unwrap()
                .unwrap_err();
            assert_eq!(garbage.kind, DeadLetterKind::Undecodable, "{encoding:?}");
            assert!(!garbage.reason.is_empty());
        }
    }
}
