//! Step 6, produce: hands an encoded record to the idempotent producer, with the offset hold
//! its acknowledgement releases. The producer's delivery callback ([`ProducerCtx`], on
//! librdkafka's producer thread) counts the outputs and reports every acknowledgement, and
//! every failure, to the consumer loop's inbox.

use super::encode::Record;
use crate::metrics::Metrics;
use crate::pipeline::inbox::{Inbox, LoopMessage};
use crate::pipeline::kafka::now_ms;
use crate::pipeline::offsets::Hold;
use crate::pipeline::PipelineError;
use rdkafka::client::ClientContext;
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DeliveryResult, ProducerContext, ThreadedProducer};
use rdkafka::types::RDKafkaErrorCode;
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
}

impl ClientContext for ProducerCtx {}

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
                }
                if let Some(hold) = delivery.hold {
                    // The loop may be gone at shutdown: the hold no longer matters then.
                    let _ = self.inbox.send(LoopMessage::Acknowledged(hold));
                }
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
    let mut base: BaseRecord<'_, [u8], [u8], Box<Delivery>> =
        BaseRecord::with_opaque_to(record.topic, delivery).payload(&record.payload);
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
    use crate::pipeline::inbox::inbox;
    use crate::pipeline::offsets::OffsetBook;
    use rdkafka::config::ClientConfig;
    use rdkafka::mocking::MockCluster;
    use rdkafka::producer::Producer as _;
    use rdkafka::util::Timeout;

    #[test]
    fn an_acknowledged_record_releases_its_hold_through_the_inbox() {
        let cluster = MockCluster::new(1).unwrap();
        cluster.create_topic("out", 1, 1).unwrap();
        let (tx, rx) = inbox();
        let metrics = Arc::new(Metrics::new().unwrap());
        let producer: Producer = ClientConfig::new()
            .set("bootstrap.servers", cluster.bootstrap_servers())
            .create_with_context(ProducerCtx {
                inbox: tx,
                metrics: metrics.clone(),
            })
            .unwrap();
        let mut book = OffsetBook::default();
        let lane = book.lane("in", 0);
        book.assign(lane);
        book.processed(lane, 7);
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
}
