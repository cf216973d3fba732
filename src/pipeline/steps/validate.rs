//! Step 2, validate: what the codec cannot check. The record's key is the conversation id,
//! and the ids are present.

use super::Rejection;
use crate::events::{DeadLetterKind, TranscriptEvent};

/// Passes a decoded transcript event on, or rejects it (kind `invalid`) with the reason.
pub(crate) fn validate(
    event: TranscriptEvent,
    key: Option<&[u8]>,
) -> Result<TranscriptEvent, Rejection> {
    let invalid = |reason: String| {
        Err(Rejection {
            kind: DeadLetterKind::Invalid,
            reason,
        })
    };
    let key = match key.map(std::str::from_utf8) {
        None => return invalid("missing key (the conversation id)".into()),
        Some(Err(_)) => return invalid("the key is not UTF-8".into()),
        Some(Ok(k)) => k,
    };
    if event.conversation_id.trim().is_empty() {
        return invalid("conversation_id is empty".into());
    }
    if key != event.conversation_id {
        return invalid(format!(
            "the key `{key}` differs from conversation_id `{}`",
            event.conversation_id
        ));
    }
    if event.header.tenant_id.trim().is_empty() {
        return invalid("header.tenant_id is empty".into());
    }
    Ok(event)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{EventHeader, SegmentBody, TranscriptPayload};

    fn event(conv: &str, tenant: &str) -> TranscriptEvent {
        TranscriptEvent {
            header: EventHeader {
                tenant_id: tenant.into(),
                ..Default::default()
            },
            conversation_id: conv.into(),
            payload: TranscriptPayload::Segment(SegmentBody::default()),
        }
    }

    #[test]
    fn validation_names_what_is_wrong() {
        assert!(validate(event("c1", "t"), Some(b"c1")).is_ok());
        let cases: [(&str, &str, Option<&[u8]>, &str); 5] = [
            ("c1", "t", None, "missing key (the conversation id)"),
            ("c1", "t", Some(b"\xff"), "the key is not UTF-8"),
            (
                "c1",
                "t",
                Some(b"c2"),
                "the key `c2` differs from conversation_id `c1`",
            ),
            ("", "t", Some(b""), "conversation_id is empty"),
            ("c1", " ", Some(b"c1"), "header.tenant_id is empty"),
        ];
        for (conv, tenant, key, want) in cases {
            let got = validate(event(conv, tenant), key).unwrap_err();
            assert_eq!(
                (got.kind, got.reason.as_str()),
                (DeadLetterKind::Invalid, want)
            );
        }
    }
}
