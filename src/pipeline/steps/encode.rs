//! Step 5, encode: an insight, a telemetry record or a dead letter into the bytes, key and
//! headers of its Kafka record, with the codec of the configured encoding. The records
//! themselves are built by the pure record builders of [`crate::emit`].

use crate::events::{DeadLetter, InteractionTelemetry};
use crate::governance::ConversationIndexEntry;
use crate::insight::Insight;
use crate::schema::{Codec, ContractRecord, SchemaError};
use rdkafka::message::OwnedHeaders;
use std::sync::Arc;

/// A record ready for the produce step.
#[derive(Debug)]
pub(crate) struct Record<'a> {
    /// Destination topic.
    pub topic: &'a str,
    /// Key (the conversation id for insights, the tenant id for telemetry, the source key
    /// for dead letters).
    pub key: Option<&'a [u8]>,
    /// Encoded value.
    pub payload: Vec<u8>,
    /// Headers (dead letters only).
    pub headers: Option<OwnedHeaders>,
}

/// The encode step.
#[derive(Clone)]
pub(crate) struct Encode {
    /// The codec of the configured encoding.
    pub codec: Arc<Codec>,
}

impl Encode {
    fn record<'a, T: ContractRecord>(
        &self,
        topic: &'a str,
        key: Option<&'a [u8]>,
        value: &T,
        headers: Option<OwnedHeaders>,
    ) -> Result<Record<'a>, SchemaError> {
        Ok(Record {
            topic,
            key,
            payload: self.codec.encode(topic, value)?,
            headers,
        })
    }

    /// An insight, keyed by its conversation id (CRM topics are compacted by it).
    pub fn insight<'a>(
        &self,
        topic: &'a str,
        insight: &'a Insight,
    ) -> Result<Record<'a>, SchemaError> {
        let key = Some(insight.conversation_id.as_bytes());
        self.record(topic, key, insight, None)
    }

    /// A telemetry record, keyed by its tenant id.
    pub fn telemetry<'a>(
        &self,
        topic: &'a str,
        telemetry: &'a InteractionTelemetry,
    ) -> Result<Record<'a>, SchemaError> {
        self.record(topic, Some(telemetry.tenant_id.as_bytes()), telemetry, None)
    }

    /// A live record, keyed by its conversation id.
    pub fn live<'a>(
        &self,
        topic: &'a str,
        live: &'a crate::live::LiveInsight,
    ) -> Result<Record<'a>, SchemaError> {
        self.record(topic, Some(live.conversation_id.as_bytes()), live, None)
    }

    /// An alert, keyed by its conversation id.
    pub fn alert<'a>(
        &self,
        topic: &'a str,
        alert: &'a crate::rules::Alert,
    ) -> Result<Record<'a>, SchemaError> {
        self.record(topic, Some(alert.conversation_id.as_bytes()), alert, None)
    }

    /// A conversation-index entry, keyed by its conversation id (the index is compacted).
    pub fn index_entry<'a>(
        &self,
        topic: &'a str,
        entry: &'a ConversationIndexEntry,
    ) -> Result<Record<'a>, SchemaError> {
        Ok(Record {
            topic,
            key: Some(entry.conversation_id.as_bytes()),
            payload: self.codec.encode(topic, entry)?,
            headers: None,
        })
    }

    /// A dead letter, keyed like its source record, with the source position and the
    /// reason in headers.
    pub fn dead_letter<'a>(
        &self,
        topic: &'a str,
        dead_letter: &'a DeadLetter,
    ) -> Result<Record<'a>, SchemaError> {
        let headers = Some(crate::emit::dead_letter_headers(dead_letter));
        self.record(topic, dead_letter.key.as_deref(), dead_letter, headers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emit::{dead_letter, insight_telemetry, SourceRef};
    use crate::events::DeadLetterKind;
    use crate::extract::{analyse, ExtractContext, Settings};
    use crate::insight::FinalisedBy;
    use crate::model::Conversation;
    use crate::schema::Encoding;
    use rdkafka::message::Headers;

    #[test]
    fn records_are_keyed_and_decode_back() {
        let step = Encode {
            codec: Arc::new(Codec::new(Encoding::AvroSingleObject, None).unwrap()),
        };
        let settings = Settings::default();
        let ctx = ExtractContext::new(&settings, FinalisedBy::EndEvent);
        let conv = Conversation {
            id: "c1".into(),
            tenant_id: "acme".into(),
            ..Conversation::default()
        };
        let insight = analyse(&conv, &ctx);
        let r = step.insight("crm", &insight).unwrap();
        assert_eq!((r.topic, r.key), ("crm", Some(&b"c1"[..])));
        let back: Insight = step.codec.decode(&r.payload).unwrap();
        assert_eq!(back, insight);
        let t = insight_telemetry(&insight, 1, None, 2);
        let r = step.telemetry("tel", &t).unwrap();
        assert_eq!(r.key, Some(&b"acme"[..]));
        let back: InteractionTelemetry = step.codec.decode(&r.payload).unwrap();
        assert_eq!(back, t);
        let source = SourceRef {
            topic: "in",
            partition: 1,
            offset: 5,
            key: Some(b"k"),
            value: Some(b"v"),
        };
        let dl = dead_letter(source, DeadLetterKind::Invalid, "why", 3);
        let r = step.dead_letter("dlq", &dl).unwrap();
        assert_eq!(r.key, Some(&b"k"[..]));
        assert_eq!(r.headers.map(|h| h.count()), Some(5));
        let back: DeadLetter = step.codec.decode(&r.payload).unwrap();
        assert_eq!(back, dl);
    }
}
