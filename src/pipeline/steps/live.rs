//! The live step (output): every segment the assembler accepts reaches the conversation's
//! live state ([`crate::live`]) here, and the live records falling due are encoded and
//! produced to `kafka.topics.live`.
//!
//! Live records take **no offset hold**: they are best effort, and the final insight is the
//! authoritative record. While a conversation is open its first offset holds the commit back
//! anyway (the open floor), so a crash replays it and its live records are sent again (the
//! same ones: stream time); the last records of a conversation may be lost if the service
//! stops after its insight was acknowledged and before they were. A failed delivery is
//! counted (`debrief_live_records_total{reason="failed"}`) and does not stop the service.
//! In transactional mode they go out in the open transaction, like every other record.
//!
//! # The per-segment hook
//!
//! [`Live::segment`] hands the segment's [`SegmentFacts`] to the alerts step
//! ([`super::alerts::Alerts`], the tenant's rules); when a rule fires it calls
//! [`Live::flush_now`] so that a live record goes out at once. [`Live::close`] lets the rules
//! that wait for the end decide. Alert rules therefore run only when live records are on
//! (`live.enabled`, off by default).

use super::alerts::Alerts;
use super::encode::Encode;
use super::produce::{produce, Delivery, Produced, Producer};
use crate::live::{LiveBook, LiveConfig, LiveInsight, SegmentFacts};
use crate::metrics::Metrics;
use crate::model::Segment;
use crate::tenant::TenantRuntime;
use std::sync::Arc;

/// The live step: the live book and where its records go.
pub(crate) struct Live {
    book: LiveBook,
    encode: Encode,
    topic: Arc<str>,
    /// Records due, sent by [`Live::send`].
    out: Vec<LiveInsight>,
    /// The tenants' alert rules.
    alerts: Alerts,
}

impl Live {
    /// The step, or `None` when live records are off.
    pub fn new(
        config: &LiveConfig,
        topic: &str,
        alerts_topic: &str,
        encode: Encode,
    ) -> Option<Live> {
        config.enabled.then(|| Live {
            book: LiveBook::new(config.interval_ms(), config.max_items_per_record),
            alerts: Alerts::new(alerts_topic, encode.clone()),
            encode,
            topic: Arc::from(topic),
            out: Vec::new(),
        })
    }

    /// A `ConversationStarted` the assembler accepted (the publisher's language).
    pub fn started(&mut self, lane: u32, id: &str, tenant_id: &str, lang: Option<&str>) {
        self.book.started(lane, id, tenant_id, lang);
    }

    /// One segment version the assembler accepted on `lane`, its record at stream time
    /// `time_ms`; `tenant` is the tenant's configuration in force (sides, trackers). Returns
    /// the segment's facts when the live state took it.
    #[allow(clippy::too_many_arguments)]
    pub fn segment(
        &mut self,
        lane: u32,
        id: &str,
        tenant_id: &str,
        seg: &Segment,
        is_final: bool,
        tenant: Option<&TenantRuntime>,
        time_ms: i64,
    ) -> Option<SegmentFacts> {
        let facts = self
            .book
            .observe(lane, id, tenant_id, seg, is_final, tenant, time_ms)?;
        if self.alerts.segment(lane, id, tenant, &facts, time_ms) {
            self.flush_now(id, time_ms);
        }
        Some(facts)
    }

    /// Sends a live record of `id` at once (a rule fired).
    pub fn flush_now(&mut self, id: &str, now_ms: i64) {
        self.book.flush(id, now_ms, &mut self.out);
    }

    /// The lane's stream clock reached `now_ms`: the records due are sent.
    pub fn advance(&mut self, lane: u32, now_ms: i64) {
        self.book.advance(lane, now_ms, &mut self.out);
    }

    /// The conversation was finalised at stream time `now_ms`: its last live record.
    pub fn close(&mut self, id: &str, now_ms: i64) {
        self.alerts.close(id, now_ms);
        self.book.close(id, now_ms, &mut self.out);
    }

    /// Forgets a conversation without a record (erased, replayed tail, opted out).
    pub fn forget(&mut self, id: &str) {
        self.alerts.forget(id);
        self.book.forget(id);
    }

    /// Forgets a revoked lane's conversations.
    pub fn forget_lane(&mut self, lane: u32) {
        self.alerts.forget_lane(lane);
        self.book.forget_lane(lane);
    }

    /// Encodes and produces the records due (no holds). A record that cannot be encoded or
    /// handed to the producer is counted as failed and logged, never fatal.
    pub fn send(&mut self, producer: &Producer, metrics: &Metrics) {
        // Alerts first: they are what the latency target is about.
        self.alerts.send(producer, metrics);
        for live in self.out.drain(..) {
            let sent = self
                .encode
                .live(&self.topic, &live)
                .map_err(|e| e.to_string())
                .and_then(|record| {
                    let what = Produced::Live {
                        at_ms: live.at_ms,
                        reason: live.reason,
                    };
                    produce(producer, record, Box::new(Delivery { hold: None, what }))
                        .map_err(|e| e.to_string())
                });
            if let Err(error) = sent {
                tracing::warn!(topic = %self.topic, error = %error, "live record not sent");
                metrics.live_records.with_label_values(&["failed"]).inc();
            }
        }
    }
}
