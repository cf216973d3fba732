//! Step 6, produce: hands an encoded record to the idempotent producer, with the offset hold
//! its acknowledgement releases. The producer's delivery callback ([`ProducerCtx`], on
//! librdkafka's producer thread) counts the outputs and reports every acknowledgement, and
//! every failure, to the consumer loop's inbox.

use super::encode::Record;
use crate::crm::{CrmKind, RecordType, WriteErrorKind};
use crate::metrics::Metrics;
use crate::pipeline::client_log::ClientLog;
use crate::pipeline::inbox::{Inbox, LoopMessage};
use crate::pipeline::kafka::now_ms;
use crate::pipeline::offsets::Hold;
use crate::pipeline::PipelineError;
use rdkafka::client::ClientContext;
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DeliveryResult, ProducerContext, ThreadedProducer};
use rdkafka::types::RDKafkaErrorCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// What a produced record was, for the delivery callback.
#[derive(Debug)]
pub(crate) enum Produced {
    /// An insight, with when its conversation was finalised (ms since the epoch).
    Insight {
        topic: Arc<str>,
        finalised_at_ms: i64,
    },
    /// A telemetry record.
    Telemetry,
    /// A conversation-index entry.
    Index,
    /// A control record (an erasure request issued by an opt-out).
    Control,
    /// A dead letter, with its kind name.
    DeadLetter { reason: &'static str },
    /// One of a conversation's CRM records (`crate::crm`); the group's hold is released by
    /// the last acknowledgement of the group.
    CrmRecord {
        crm: CrmKind,
        record: RecordType,
        group: Arc<AckGroup>,
    },
    /// A live record (best effort: no hold, and a failed delivery is counted, not fatal),
    /// with its stream time (ms since the epoch) and reason.
    Live {
        at_ms: i64,
        reason: crate::live::LiveReason,
    },
    /// An alert (best effort, like live records), with the stream time (ms since the epoch)
    /// of the record that fired it and how it was decided.
    Alert {
        at_ms: i64,
        trigger: crate::rules::AlertTrigger,
    },
    /// The dead letter of a CRM write error, in the same group.
    CrmWriteError {
        crm: CrmKind,
        kind: WriteErrorKind,
        group: Arc<AckGroup>,
    },
}

/// Records whose number is known only once the conversation is analysed (its CRM records)
/// share one hold, taken by the consumer loop: the last acknowledgement releases it.
#[derive(Debug)]
pub(crate) struct AckGroup {
    remaining: AtomicUsize,
    hold: Option<Hold>,
}

impl AckGroup {
    /// A group of `records` records holding `hold`.
    pub fn new(records: usize, hold: Option<Hold>) -> AckGroup {
        AckGroup {
            remaining: AtomicUsize::new(records),
            hold,
        }
    }

    /// One record acknowledged: the hold when it was the last one.
    pub fn acknowledged(&self) -> Option<Hold> {
        match self.remaining.fetch_sub(1, Ordering::AcqRel) {
            1 => self.hold,
            _ => None,
        }
    }
}

/// Opaque of every produced record: the offset hold its acknowledgement releases (taken by
/// the consumer loop) and what it was.
#[derive(Debug)]
pub(crate) struct Delivery {
    pub hold: Option<Hold>,
    pub what: Produced,
}

/// The producer's context: counts outputs and reports every acknowledgement (and every
/// failure) to the consumer loop's inbox. It runs on librdkafka's producer thread.
pub(crate) struct ProducerCtx {
    pub inbox: Inbox,
    pub metrics: Arc<Metrics>,
    /// Where librdkafka's logs and errors go (deduplicated).
    pub client_log: Arc<ClientLog>,
}

impl ClientContext for ProducerCtx {
    crate::pipeline::client_log::log_to_client_log!("producer");
}

impl ProducerContext for ProducerCtx {
    type DeliveryOpaque = Box<Delivery>;

    fn delivery(&self, result: &DeliveryResult<'_>, delivery: Box<Delivery>) {
        match result {
            Ok(_) => {
                match &delivery.what {
                    Produced::Insight {
                        topic,
                        finalised_at_ms,
                    } => {
                        self.metrics
                            .insights_produced
                            .with_label_values(&[topic])
                            .inc();
                        let latency = (now_ms() - finalised_at_ms).max(0) as f64 / 1000.0;
                        self.metrics.insight_latency.observe(latency);
                    }
                    Produced::DeadLetter { reason } => {
                        self.metrics.dead_letters.with_label_values(&[reason]).inc();
                    }
                    Produced::Telemetry | Produced::Index | Produced::Control => {}
                    Produced::Live { at_ms, reason } => {
                        self.metrics
                            .live_records
                            .with_label_values(&[reason.as_str()])
                            .inc();
                        let latency = (now_ms() - at_ms).max(0) as f64 / 1000.0;
                        self.metrics.live_latency.observe(latency);
                    }
                    Produced::Alert { at_ms, trigger } => {
                        let trigger = match trigger {
                            crate::rules::AlertTrigger::Segment => "segment",
                            crate::rules::AlertTrigger::ConversationEnd => "conversation_end",
                        };
                        self.metrics.alerts.with_label_values(&[trigger]).inc();
                        let latency = (now_ms() - at_ms).max(0) as f64 / 1000.0;
                        self.metrics.alert_latency.observe(latency);
                    }
                    Produced::CrmRecord { crm, record, group } => {
                        self.metrics
                            .crm_records_produced
                            .with_label_values(&[crm.name(), record.name()])
                            .inc();
                        if let Some(hold) = group.acknowledged() {
                            let _ = self.inbox.send(LoopMessage::Acknowledged(hold));
                        }
                    }
                    Produced::CrmWriteError { crm, kind, group } => {
                        self.metrics
                            .crm_write_errors
                            .with_label_values(&[crm.name(), kind.name()])
                            .inc();
                        self.metrics
                            .dead_letters
                            .with_label_values(&["invalid"])
                            .inc();
                        if let Some(hold) = group.acknowledged() {
                            let _ = self.inbox.send(LoopMessage::Acknowledged(hold));
                        }
                    }
                }
                if let Some(hold) = delivery.hold {
                    // The loop may be gone at shutdown: the hold no longer matters then.
                    let _ = self.inbox.send(LoopMessage::Acknowledged(hold));
                }
            }
            Err((e, msg)) if matches!(delivery.what, Produced::Live { .. }) => {
                // Best effort: the final insight is the authoritative record.
                tracing::warn!(topic = msg.topic(), error = %e, "live record not delivered");
                self.metrics
                    .live_records
                    .with_label_values(&["failed"])
                    .inc();
            }
            Err((e, msg)) if matches!(delivery.what, Produced::Alert { .. }) => {
                tracing::warn!(topic = msg.topic(), error = %e, "alert not delivered");
                self.metrics.alerts.with_label_values(&["failed"]).inc();
            }
            Err((e, msg)) => {
                // The hold stays: the source offset is never committed past this record.
                tracing::error!(topic = msg.topic(), error = %e, "delivery failed");
                let _ = self.inbox.send(LoopMessage::Fatal(PipelineError::Delivery {
                    topic: msg.topic().to_string(),
                    source: e.clone(),
                }));
            }
        }
    }
}

/// The producer type of the pipeline.
pub(crate) type Producer = ThreadedProducer<ProducerCtx>;

/// Produces one record, waiting while the producer's queue is full.
pub(crate) fn produce(
    producer: &Producer,
    record: Record<'_>,
    delivery: Box<Delivery>,
) -> Result<(), KafkaError> {
    produce_at(producer, record, None, delivery)
}

/// [`produce`], with the record's Kafka timestamp (ms since the epoch) when `Some` (the
/// producer's clock otherwise).
pub(crate) fn produce_at(
    producer: &Producer,
    record: Record<'_>,
    timestamp_ms: Option<i64>,
    delivery: Box<Delivery>,
) -> Result<(), KafkaError> {
    let mut base: BaseRecord<'_, [u8], [u8], Box<Delivery>> =
        BaseRecord::with_opaque_to(record.topic, delivery).payload(&record.payload);
    if let Some(t) = timestamp_ms {
        base = base.timestamp(t);
    }
    if let Some(k) = record.key {
        base = base.key(k);
    }
    if let Some(h) = record.headers {
        base = base.headers(h);
    }
    loop {
        match producer.send(base) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                base = r;
                std::thread::sleep(Duration::from_millis(1));
            }
            Err((e, _)) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::inbox::{inbox, InboxReceiver};
    use rdkafka::config::ClientConfig;
    use rdkafka::mocking::MockCluster;
    use rdkafka::producer::DefaultProducerContext;
    use rdkafka::producer::Producer as _;
    use rdkafka::util::Timeout;

    /// A producer on the mock cluster, its inbox and its metrics.
    fn mock_producer(
        cluster: &MockCluster<'_, DefaultProducerContext>,
    ) -> (Producer, InboxReceiver, Arc<Metrics>) {
        let (tx, rx) = inbox();
        let metrics = Arc::new(Metrics::new().unwrap());
        let client_log = ClientLog::new("mock", Arc::new(crate::http::Health::default()));
        let producer: Producer = ClientConfig::new()
            .set("bootstrap.servers", cluster.bootstrap_servers())
            .create_with_context(ProducerCtx {
                inbox: tx,
                metrics: metrics.clone(),
                client_log: Arc::new(client_log),
            })
            .unwrap();
        (producer, rx, metrics)
    }

    #[test]
    fn an_acknowledged_record_releases_its_hold_through_the_inbox() {
        let cluster = MockCluster::new(1).unwrap();
        cluster.create_topic("out", 1, 1).unwrap();
        let (producer, rx, metrics) = mock_producer(&cluster);
        let (mut book, lanes) = crate::pipeline::offsets::book_with(&[("in", 0, Some(7))]);
        let lane = lanes[0];
        let hold = book.hold(lane, 7);
        assert_eq!(book.safe(lane, true), Some(7), "held until acknowledged");
        let what = Produced::DeadLetter { reason: "invalid" };
        let record = Record {
            topic: "out",
            key: Some(b"k"),
            payload: b"v".to_vec(),
            headers: None,
        };
        produce(&producer, record, Box::new(Delivery { hold, what })).unwrap();
        producer
            .flush(Timeout::After(Duration::from_secs(30)))
            .unwrap();
        match rx.try_recv() {
            Ok(LoopMessage::Acknowledged(h)) => book.release(h),
            other => panic!("expected an acknowledgement, got {other:?}"),
        }
        assert_eq!(book.safe(lane, true), Some(8));
        assert!(metrics
            .render()
            .contains("debrief_dead_letters_total{reason=\"invalid\"} 1"));
    }

    #[test]
    fn a_crm_group_releases_its_one_hold_with_the_last_acknowledgement_and_counts_by_crm() {
        let cluster = MockCluster::new(1).unwrap();
        cluster.create_topic("tasks", 1, 1).unwrap();
        cluster.create_topic("dlq", 1, 1).unwrap();
        let (producer, rx, metrics) = mock_producer(&cluster);
        let (mut book, lanes) = crate::pipeline::offsets::book_with(&[("in", 0, Some(3))]);
        let lane = lanes[0];
        let group = Arc::new(AckGroup::new(3, book.hold(lane, 3)));
        for (topic, what) in [
            (
                "tasks",
                Produced::CrmRecord {
                    crm: CrmKind::Salesforce,
                    record: RecordType::Task,
                    group: group.clone(),
                },
            ),
            (
                "tasks",
                Produced::CrmRecord {
                    crm: CrmKind::Salesforce,
                    record: RecordType::Task,
                    group: group.clone(),
                },
            ),
            (
                "dlq",
                Produced::CrmWriteError {
                    crm: CrmKind::Salesforce,
                    kind: WriteErrorKind::FieldAccess,
                    group: group.clone(),
                },
            ),
        ] {
            let record = Record {
                topic,
                key: Some(b"k"),
                payload: b"v".to_vec(),
                headers: None,
            };
            produce(&producer, record, Box::new(Delivery { hold: None, what })).unwrap();
        }
        producer
            .flush(Timeout::After(Duration::from_secs(30)))
            .unwrap();
        let mut released = 0;
        while let Ok(m) = rx.try_recv() {
            match m {
                LoopMessage::Acknowledged(h) => {
                    book.release(h);
                    released += 1;
                }
                other => panic!("expected acknowledgements only, got {other:?}"),
            }
        }
        assert_eq!(released, 1, "one hold for the group");
        assert_eq!(book.safe(lane, true), Some(4));
        let text = metrics.render();
        assert!(
            text.contains(
                "debrief_crm_records_produced_total{crm=\"salesforce\",record=\"task\"} 2"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "debrief_crm_write_errors_total{crm=\"salesforce\",kind=\"field_access\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains("debrief_dead_letters_total{reason=\"invalid\"} 1"),
            "{text}"
        );
    }
}
