//! Tenant configuration as events: every instance reads the whole compacted tenant-config
//! topic (no consumer group: it is not shared out), compiles each valid version once
//! ([`TenantRuntime::compile`](crate::tenant::TenantRuntime::compile), off the transcript loop) and hands it to the loop, which puts
//! it in force for conversations finalised from then on. An invalid version is dead-lettered
//! and the previous one stays in force; a tombstone (null value) removes the tenant's
//! configuration.
//!
//! Rejections are reported once ([`Rejections`]), although every instance reads the whole
//! topic at every start (and tansu, without compaction, keeps every record):
//! - while catching up (records already in the topic when the reader started), a rejected
//!   record is held back per tenant and dropped when a later record of the same tenant
//!   follows (a valid version, a tombstone or another rejection): only a tenant whose latest
//!   record is rejected is reported, when the reader has caught up (what a compacted topic
//!   would still hold);
//! - a rejection already dead-lettered in this run, identified by tenant and `version` (or by
//!   key and value bytes when the record does not decode), is not dead-lettered again.
//!
//! So a restart reports each tenant whose current configuration is rejected once more (a
//! reminder of a standing problem), never the versions superseded since, and every instance
//! reports it (the reader has no group to share the work with).

use super::inbox::{Inbox, LoopMessage};
use super::kafka::{source_of, tenant_reader_config, topic_partitions};
use super::steps::dead_letter::DeadLetters;
use super::steps::Rejection;
use super::PipelineError;
use crate::config::Config;
use crate::emit::{self, SourceRef};
use crate::events::DeadLetterKind;
use crate::metrics::{outcome, Metrics};
use crate::schema::{Codec, Encoding};
use crate::tenant::{interpret, TenantConfig, TenantEvent};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Test hook: when this environment variable is set, the tenant reader fails as soon as it
/// starts (the service must then stop with an error naming it).
pub const STOP_TENANT_READER_ENV: &str = "DEBRIEF_TEST_STOP_TENANT_READER";

/// At most this many rejections are remembered; the oldest are forgotten beyond it (and
/// would be reported again if read again).
pub const MAX_REMEMBERED_REJECTIONS: usize = 10_000;

/// What identifies a rejected tenant-configuration record across re-reads.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum RejectionId {
    /// A record that decodes: its key and configuration version.
    Version(Vec<u8>, i64),
    /// A record that does not: its key and a 64-bit hash of its value.
    Bytes(Option<Vec<u8>>, u64),
}

impl RejectionId {
    fn of(key: Option<&[u8]>, value: Option<&[u8]>, version: Option<i64>) -> RejectionId {
        match (key, version) {
            (Some(k), Some(v)) => RejectionId::Version(k.to_vec(), v),
            _ => {
                // SipHash with fixed keys: the same bytes give the same hash in every run.
                let mut h = std::collections::hash_map::DefaultHasher::new();
                value.hash(&mut h);
                RejectionId::Bytes(key.map(<[u8]>::to_vec), h.finish())
            }
        }
    }
}

/// The rejected tenant-configuration records already dead-lettered in this run (at most
/// [`MAX_REMEMBERED_REJECTIONS`]).
#[derive(Debug, Default)]
pub struct Rejections {
    seen: HashSet<RejectionId>,
    order: VecDeque<RejectionId>,
}

impl Rejections {
    /// Notes a rejection of the record with this key, value and (when it decodes)
    /// configuration version; `true` the first time, `false` when the same tenant and
    /// version (or the same key and bytes) was already noted.
    pub fn first_time(
        &mut self,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        version: Option<i64>,
    ) -> bool {
        let id = RejectionId::of(key, value, version);
        if self.seen.contains(&id) {
            return false;
        }
        while self.order.len() >= MAX_REMEMBERED_REJECTIONS {
            if let Some(old) = self.order.pop_front() {
                self.seen.remove(&old);
            }
        }
        self.seen.insert(id.clone());
        self.order.push_back(id);
        true
    }

    /// Number of rejections remembered.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// `true` when none is remembered.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

/// A rejected record held back while catching up (see the module docs).
#[derive(Debug, PartialEq)]
struct Held {
    partition: i32,
    offset: i64,
    key: Vec<u8>,
    value: Option<Vec<u8>>,
    kind: DeadLetterKind,
    reason: String,
    version: Option<i64>,
}

/// Reads the tenant-config topic from the beginning until `shutdown`: valid versions and
/// tombstones go to the consumer loop's inbox, invalid records to the dead-letter topic. `caught_up` is
/// sent once everything that was in the topic at start has been read (at once when the
/// topic does not exist yet; it is looked for again every few seconds).
pub(crate) struct TenantReader {
    pub config: Arc<Config>,
    pub codec: Arc<Codec>,
    /// Where rejected configurations go.
    pub dead_letters: DeadLetters,
    pub metrics: Arc<Metrics>,
    pub inbox: Inbox,
    pub caught_up: Option<tokio::sync::oneshot::Sender<()>>,
    pub shutdown: CancellationToken,
    pub runtime: tokio::runtime::Handle,
    /// What the reader remembers while it runs (empty at start).
    pub state: ReaderState,
}

/// The tenant reader's memory of rejections and of its catching up.
#[derive(Debug, Default)]
pub(crate) struct ReaderState {
    /// Rejections already dead-lettered in this run.
    rejections: Rejections,
    /// Rejections held back while catching up, by tenant key (latest record only).
    held: BTreeMap<Vec<u8>, Held>,
    /// Partitions still catching up: the high watermark at start (records below it were in
    /// the topic before this reader started).
    catching_up: HashMap<i32, i64>,
}

impl ReaderState {
    /// Starts catching up on a partition whose records below `high` were there at start.
    fn catch_up(&mut self, partition: i32, high: i64) {
        self.catching_up.insert(partition, high);
    }

    /// `true` while a partition is still catching up.
    fn is_catching_up(&self) -> bool {
        !self.catching_up.is_empty()
    }

    /// A record arrives: whether it belongs to the catch-up, and the held rejection of its
    /// tenant that it supersedes, if any.
    fn arrive(&mut self, partition: i32, offset: i64, key: Option<&[u8]>) -> (bool, Option<Held>) {
        let catching_up = self
            .catching_up
            .get(&partition)
            .is_some_and(|&high| offset < high);
        let superseded = match key {
            Some(k) if catching_up => self.held.remove(k),
            _ => None,
        };
        (catching_up, superseded)
    }

    /// Holds a rejection read while catching up (the tenant's latest record so far).
    fn hold(&mut self, held: Held) {
        self.held.insert(held.key.clone(), held);
    }

    /// After a record: when it completed the catch-up, the held rejections, in key order.
    fn processed(&mut self, partition: i32, offset: i64) -> Option<Vec<Held>> {
        let high = *self.catching_up.get(&partition)?;
        if offset + 1 < high {
            return None;
        }
        self.catching_up.remove(&partition);
        if self.is_catching_up() {
            return None;
        }
        Some(std::mem::take(&mut self.held).into_values().collect())
    }
}

impl TenantReader {
    /// Runs the reader on this thread until shutdown.
    pub fn run(mut self) -> Result<(), PipelineError> {
        if std::env::var_os(STOP_TENANT_READER_ENV).is_some() {
            return Err(PipelineError::Stopped(STOP_TENANT_READER_ENV));
        }
        let topic = self.config.kafka.topics.tenant_config.clone();
        let consumer: BaseConsumer = tenant_reader_config(&self.config)
            .create()
            .map_err(|e| PipelineError::kafka("creating the tenant-config reader", e))?;
        // Find the topic's partitions (it may not exist yet).
        let partitions = loop {
            if self.shutdown.is_cancelled() {
                return Ok(());
            }
            match topic_partitions(&consumer, &topic) {
                Ok(parts) => {
                    if !parts.is_empty() {
                        break parts;
                    }
                    tracing::info!(topic = %topic, "tenant-config topic not found yet; running without tenant configurations");
                }
                Err(e) => {
                    tracing::warn!(topic = %topic, error = %e, "tenant-config topic metadata")
                }
            }
            self.signal_caught_up();
            sleep_unless_cancelled(&self.shutdown, Duration::from_secs(5));
        };
        let mut tpl = TopicPartitionList::new();
        for &p in &partitions {
            tpl.add_partition_offset(&topic, p, Offset::Beginning)
                .map_err(|e| PipelineError::kafka("assigning the tenant-config topic", e))?;
            match consumer.fetch_watermarks(&topic, p, Duration::from_secs(10)) {
                Ok((low, high)) if high > low => {
                    self.state.catch_up(p, high);
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(partition = p, error = %e, "tenant-config watermarks"),
            }
        }
        consumer
            .assign(&tpl)
            .map_err(|e| PipelineError::kafka("assigning the tenant-config topic", e))?;
        if !self.state.is_catching_up() {
            self.signal_caught_up();
        }
        tracing::info!(topic = %topic, partitions = partitions.len(), "reading tenant configurations");
        while !self.shutdown.is_cancelled() {
            match consumer.poll(Duration::from_millis(100)) {
                Some(Ok(msg)) => {
                    let source = source_of(&msg);
                    self.take(source)?;
                    if let Some(held) = self.state.processed(source.partition, source.offset) {
                        self.report_held(held)?;
                        self.signal_caught_up();
                    }
                }
                Some(Err(e)) => tracing::warn!(error = %e, "tenant-config reader"),
                None => {}
            }
        }
        Ok(())
    }

    fn signal_caught_up(&mut self) {
        if let Some(tx) = self.caught_up.take() {
            let _ = tx.send(());
        }
    }

    fn take(&mut self, source: SourceRef<'_>) -> Result<(), PipelineError> {
        if let (Encoding::Confluent, Some(value)) = (self.codec.encoding(), source.value) {
            // Fetch the writer schema once so that the synchronous decode finds it.
            let _ = self
                .runtime
                .block_on(self.codec.decode_async::<TenantConfig>(value));
        }
        let (catching_up, superseded) =
            self.state
                .arrive(source.partition, source.offset, source.key);
        if let Some(old) = superseded {
            self.count(source.topic, outcome::SUPERSEDED);
            tracing::debug!(
                offset = old.offset,
                "rejected tenant configuration superseded by a later record"
            );
        }
        match interpret(&self.codec, source) {
            TenantEvent::Reject(kind, reason, version) => match source.key {
                Some(key) if catching_up => {
                    self.state.hold(Held {
                        partition: source.partition,
                        offset: source.offset,
                        key: key.to_vec(),
                        value: source.value.map(<[u8]>::to_vec),
                        kind,
                        reason,
                        version,
                    });
                }
                _ => self.reject(source, kind, &reason, version)?,
            },
            event => {
                // The loop may be gone at shutdown: nothing to do then.
                let _ = self.inbox.send(LoopMessage::Tenant(event));
            }
        }
        Ok(())
    }

    fn count(&self, topic: &str, label: &str) {
        self.metrics.record_consumed(topic, label);
    }

    /// Dead-letters the rejections held back while catching up (the latest record of their
    /// tenant).
    fn report_held(&mut self, held: Vec<Held>) -> Result<(), PipelineError> {
        let topic = self.config.kafka.topics.tenant_config.clone();
        for h in held {
            let source = SourceRef {
                topic: &topic,
                partition: h.partition,
                offset: h.offset,
                key: Some(&h.key),
                value: h.value.as_deref(),
            };
            self.reject(source, h.kind, &h.reason, h.version)?;
        }
        Ok(())
    }

    /// Dead-letters a rejected record unless it was already in this run.
    fn reject(
        &mut self,
        source: SourceRef<'_>,
        kind: DeadLetterKind,
        reason: &str,
        version: Option<i64>,
    ) -> Result<(), PipelineError> {
        if !self
            .state
            .rejections
            .first_time(source.key, source.value, version)
        {
            tracing::debug!(offset = source.offset, reason = %reason, "tenant configuration rejected again: already reported in this run");
            self.count(source.topic, outcome::DUPLICATE);
            return Ok(());
        }
        tracing::warn!(offset = source.offset, kind = emit::kind_name(kind), reason = %reason, "tenant configuration rejected");
        self.count(source.topic, outcome::DEAD_LETTER);
        let rejection = Rejection {
            kind,
            reason: reason.to_string(),
        };
        self.dead_letters.send(source, &rejection, None)
    }
}

fn sleep_unless_cancelled(token: &CancellationToken, total: Duration) {
    let step = Duration::from_millis(100);
    let mut slept = Duration::ZERO;
    while slept < total && !token.is_cancelled() {
        std::thread::sleep(step);
        slept += step;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rejection_is_reported_once_per_tenant_and_version() {
        let mut r = Rejections::default();
        assert!(r.is_empty());
        assert!(r.first_time(Some(b"acme"), Some(b"v3 bytes"), Some(3)));
        assert!(
            !r.first_time(Some(b"acme"), Some(b"other bytes"), Some(3)),
            "same tenant and version, whatever the bytes"
        );
        assert!(r.first_time(Some(b"acme"), Some(b"v4"), Some(4)));
        assert!(r.first_time(Some(b"globex"), Some(b"v3 bytes"), Some(3)));
        // Records that do not decode: identified by key and bytes.
        assert!(r.first_time(Some(b"acme"), Some(b"\x01garbage"), None));
        assert!(!r.first_time(Some(b"acme"), Some(b"\x01garbage"), None));
        assert!(r.first_time(Some(b"acme"), Some(b"\x01other"), None));
        assert!(r.first_time(None, Some(b"\x01garbage"), None), "no key");
        assert!(!r.first_time(None, Some(b"\x01garbage"), None));
        assert_eq!(r.len(), 6);
    }

    #[test]
    fn remembered_rejections_are_bounded() {
        let mut r = Rejections::default();
        for v in 0..MAX_REMEMBERED_REJECTIONS as i64 + 2 {
            assert!(r.first_time(Some(b"t"), None, Some(v)));
        }
        assert_eq!(r.len(), MAX_REMEMBERED_REJECTIONS);
        assert!(
            r.first_time(Some(b"t"), None, Some(0)),
            "the oldest two were forgotten"
        );
        assert!(!r.first_time(Some(b"t"), None, Some(5)));
    }

    fn held(key: &str, offset: i64) -> Held {
        Held {
            partition: 0,
            offset,
            key: key.as_bytes().to_vec(),
            value: None,
            kind: DeadLetterKind::InvalidConfig,
            reason: format!("bad {key}"),
            version: Some(offset),
        }
    }

    #[test]
    fn while_catching_up_only_a_tenants_latest_rejection_is_kept() {
        let mut st = ReaderState::default();
        // Partition 0 had offsets 0..=4 at start, partition 1 offsets 0..=1.
        st.catch_up(0, 5);
        st.catch_up(1, 2);
        assert_eq!(st.arrive(0, 0, Some(b"acme")), (true, None));
        st.hold(held("acme", 0));
        assert_eq!(st.processed(0, 0).map(|v| v.len()), None);
        // A later record of acme (valid or not) supersedes the held rejection.
        let (catching_up, superseded) = st.arrive(0, 1, Some(b"acme"));
        assert!(catching_up);
        assert_eq!(superseded.map(|h| h.offset), Some(0));
        st.arrive(0, 2, Some(b"globex"));
        st.hold(held("globex", 2));
        st.arrive(0, 3, Some(b"initech"));
        st.hold(held("initech", 3));
        st.arrive(0, 4, Some(b"initech"));
        st.hold(held("initech", 4));
        assert_eq!(
            st.processed(0, 4).map(|v| v.len()),
            None,
            "partition 1 not done"
        );
        assert!(st.is_catching_up());
        assert_eq!(st.arrive(1, 0, Some(b"umbrella")), (true, None));
        assert_eq!(st.processed(1, 0).map(|v| v.len()), None);
        let done = st.processed(1, 1).expect("caught up");
        let got: Vec<(String, i64)> = done
            .iter()
            .map(|h| (String::from_utf8(h.key.clone()).unwrap(), h.offset))
            .collect();
        assert_eq!(
            got,
            vec![("globex".to_string(), 2), ("initech".to_string(), 4)]
        );
        assert!(!st.is_catching_up());
        // Live records are never held, and supersede nothing.
        assert_eq!(st.arrive(0, 5, Some(b"globex")), (false, None));
        assert_eq!(st.processed(0, 5).map(|v| v.len()), None);
    }
}
