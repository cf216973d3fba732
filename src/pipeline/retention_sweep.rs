//! The retention sweep: removes a switched-off feature's data from the stored insights 30
//! days after the switch-off, and whole insights older than the tenant's
//! `insight_retention_days` (the decisions are pure: [`crate::governance::sweep`]).
//!
//! - **Who runs it, when.** The erasure executor of the instance that owns partition 0 of the
//!   erasure topic runs a sweep every [`SWEEP_INTERVAL`] between two erasure requests, so a
//!   sweep never runs beside an erasure on that instance; `debrief admin sweep [--now TIME]`
//!   runs one by hand (the only way to sweep at another time than the wall clock: tests and
//!   an operator who wants it now; recorded on the audit trail as `admin-sweep`).
//! - **What it reads, each time, whole** (stateless: a restart loses nothing): the
//!   tenant-config topic with its record timestamps and the audit topic's feature switches
//!   (when each feature was switched off), the conversation index (what exists, which
//!   features produced data, when it was finalised), and, when something is to be rewritten,
//!   the CRM topics those insights are on (their current value: the topic is compacted, the
//!   latest record of a key is the value) and the CRM mapping topic.
//! - **What it writes.** New feature switches to the audit topic; for each insight due to
//!   lose a feature: the insight without it (same key), its CRM insight record rebuilt with
//!   the tenant's mapping in force (same key), tombstones for its CRM task records when the
//!   feature is action items, and its index entry without the feature and the tombstoned
//!   records; for each insight past retention: tombstones for every record the index lists,
//!   then for the index entry (which destroys its telemetry key, as an erasure does). Then one
//!   `retention_sweep` audit record per tenant touched, with counts.
//! - **Racing the live pipeline.** An insight is read, rewritten and written; a record
//!   written for the same key in between (a replay of the conversation, an erasure's
//!   tombstone from another instance) would be overwritten by the rewrite. After writing, the
//!   sweep reads each rewritten topic again from where its scan ended
//!   ([`sweep::overwritten`]): a record of that key written before the sweep's own is written
//!   again after it (a value stripped the same way; a tombstone as a tombstone, and then every
//!   other record the sweep wrote for that conversation and its index entry are tombstoned
//!   again too, so an erasure that ran meanwhile stays complete), up to [`RECHECK_ROUNDS`]
//!   times. What is left: a record landing between the last re-read and the re-write
//!   (milliseconds, after several rounds).
//!   The index entry is written from the one the sweep read (a replay that writes the same
//!   conversation's entry in that instant is overwritten; its next analysis writes it again).

use super::follow::Follower;
use super::kafka::side_producer;
use super::PipelineError;
use crate::config::Config;
use crate::crm::output::{plan, AvroFraming, PlanError};
use crate::crm::{CrmKind, MappingBook, RecordType};
use crate::governance::audit::AuditRecord;
use crate::governance::index::OutputRef;
use crate::governance::sweep::{
    self, action_for, strip, stripped_entry, Action, Feature, Observation, SweepCounts, TenantState,
};
use crate::governance::{ConversationIndexEntry, IndexView};
use crate::insight::Insight;
use crate::metrics::Metrics;
use crate::schema::{Codec, ContractRecord, Encoding, RecordKind, SchemaError};
use crate::tenant::TenantConfig;
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::producer::{FutureProducer, FutureRecord};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use thiserror::Error;

/// How often the executor sweeps.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(3600);

/// How soon the executor tries again after a failed sweep.
pub const SWEEP_RETRY: Duration = Duration::from_secs(300);

/// Re-reads of a rewritten topic after the sweep's writes (see the module docs).
pub const RECHECK_ROUNDS: usize = 3;

/// Longest wait for a topic to be read to its end.
const CATCH_UP: Duration = Duration::from_secs(60);

/// Longest wait for one record's acknowledgement.
const SEND_WAIT: Duration = Duration::from_secs(30);

/// Why a sweep stopped (it is run again at the next interval; what it wrote stays written,
/// and every write is idempotent).
#[derive(Debug, Error)]
pub enum SweepError {
    /// Reading or writing Kafka failed.
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    /// A record of ours could not be encoded.
    #[error("schema: {0}")]
    Schema(#[from] SchemaError),
    /// A CRM record could not be rebuilt.
    #[error("CRM record: {0}")]
    Crm(#[from] PlanError),
    /// A topic could not be read to its end in time.
    #[error("{0} could not be read to its end in time")]
    NotCaughtUp(String),
}

/// What one sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Counts per tenant touched.
    pub tenants: BTreeMap<String, SweepCounts>,
    /// Feature switches recorded on the audit topic by this sweep.
    pub switches_recorded: usize,
}

/// One sweep's handles.
pub struct Sweep<'a> {
    /// The service configuration (topics).
    pub config: &'a Config,
    /// The codec (the service's encoding).
    pub codec: &'a Codec,
    /// Where metrics go (`None`: the admin command).
    pub metrics: Option<&'a Metrics>,
    /// Who runs it (audit `actor`).
    pub actor: &'a str,
    /// For the producer's futures and registry calls.
    pub runtime: &'a tokio::runtime::Handle,
}

/// One record read back: offset, value.
type Read = (i64, Option<Vec<u8>>);

/// An insight the sweep rewrote: where, without what, and what else the index lists for it.
struct Rewritten {
    partition: i32,
    offset: i64,
    features: BTreeSet<Feature>,
    outputs: Vec<OutputRef>,
}

impl Sweep<'_> {
    /// Runs one sweep at `now_ms` (ms since the epoch): the decisions are taken at that time.
    pub fn run(&self, now_ms: i64) -> Result<SweepReport, SweepError> {
        let result = self.run_inner(now_ms);
        if let Some(m) = self.metrics {
            let outcome = if result.is_ok() { "ok" } else { "failed" };
            m.retention_sweeps.with_label_values(&[outcome]).inc();
            if let Ok(r) = &result {
                let (rw, tb) = r.tenants.values().fold((0, 0), |(a, b), c| {
                    (a + c.rewritten as u64, b + c.tombstoned as u64)
                });
                m.retention_items
                    .with_label_values(&["rewritten"])
                    .inc_by(rw);
                m.retention_items
                    .with_label_values(&["tombstoned"])
                    .inc_by(tb);
                m.retention_last_sweep.set(now_ms / 1000);
            }
        }
        result
    }

    fn run_inner(&self, now_ms: i64) -> Result<SweepReport, SweepError> {
        let topics = &self.config.kafka.topics;
        let producer = side_producer(self.config, "creating the sweep producer")?;
        if self.codec.encoding() == Encoding::Confluent {
            for (topic, kind) in [
                (&topics.conversation_index, RecordKind::ConversationIndex),
                (&topics.audit, RecordKind::Audit),
                (&self.config.crm.dynamics, RecordKind::MeetingInsight),
                (&self.config.crm.salesforce, RecordKind::MeetingInsight),
            ] {
                self.runtime.block_on(self.codec.register(topic, kind))?;
            }
        }
        // 1. When each feature was switched off, per tenant.
        let mut observations: BTreeMap<String, Vec<Observation>> = BTreeMap::new();
        // Tenants whose configuration was removed (latest record a tombstone): the defaults
        // are in force (every feature on, no retention), so nothing is due for them.
        let mut removed: BTreeSet<String> = BTreeSet::new();
        self.read_all(&topics.tenant_config, |m| {
            let key = m.key().map(String::from_utf8_lossy).unwrap_or_default();
            if m.payload().is_none() {
                removed.insert(key.into_owned());
                return;
            }
            let Some(cfg) = self.decode::<TenantConfig>(m) else {
                return;
            };
            removed.remove(key.as_ref());
            if cfg.validate().is_err() {
                return;
            }
            let at_ms = m.timestamp().to_millis().unwrap_or(0);
            observations
                .entry(cfg.tenant_id.clone())
                .or_default()
                .push(Observation::Version {
                    version: cfg.version,
                    on: Feature::ALL
                        .into_iter()
                        .filter(|f| f.is_on(&cfg.features))
                        .collect(),
                    retention_days: cfg.insight_retention_days,
                    at_ms,
                });
        })?;
        self.read_all(&topics.audit, |m| {
            if let Some((tenant, o)) = self
                .decode::<AuditRecord>(m)
                .as_ref()
                .and_then(sweep::switch_of)
            {
                observations.entry(tenant).or_default().push(o);
            }
        })?;
        let states: BTreeMap<String, TenantState> = observations
            .iter()
            .filter(|(t, _)| !removed.contains(*t))
            .map(|(t, o)| (t.clone(), sweep::tenant_state(t, o)))
            .collect();
        let mut report = SweepReport::default();
        for s in states.values() {
            for r in &s.new_switches {
                self.send(&producer, &topics.audit, &r.action_id, Some(r))?;
                report.switches_recorded += 1;
            }
        }
        // 2. What is due.
        let mut view = IndexView::default();
        self.read_all(&topics.conversation_index, |m| {
            let key = m.key().map(String::from_utf8_lossy).unwrap_or_default();
            let entry = m
                .payload()
                .and_then(|_| self.decode::<ConversationIndexEntry>(m));
            view.apply(&key, entry);
        })?;
        let mut removals: Vec<ConversationIndexEntry> = Vec::new();
        let mut strips: Vec<(ConversationIndexEntry, BTreeSet<Feature>)> = Vec::new();
        for (tenant, state) in &states {
            for e in view.matching(tenant, None, None) {
                match action_for(e, state, now_ms) {
                    Some(Action::Remove) => removals.push(e.clone()),
                    Some(Action::Strip(f)) => strips.push((e.clone(), f)),
                    None => {}
                }
            }
        }
        // 3. Whole insights past retention: CRM records first, then the index entries.
        for e in &removals {
            for o in &e.outputs {
                self.send::<Insight>(&producer, &o.topic, &o.key, None)?;
            }
        }
        for e in &removals {
            self.send::<ConversationIndexEntry>(
                &producer,
                &topics.conversation_index,
                &e.conversation_id,
                None,
            )?;
            let c = report.tenants.entry(e.tenant_id.clone()).or_default();
            c.tombstoned += 1;
            c.records += e.outputs.len() as i64 + 1;
        }
        // 4. Insights losing a feature.
        if !strips.is_empty() {
            self.strip_all(&producer, &strips, &mut report)?;
        }
        for (tenant, counts) in &report.tenants {
            let r = sweep::sweep_record(tenant, self.actor, *counts, now_ms);
            self.send(&producer, &topics.audit, &r.action_id, Some(&r))?;
        }
        tracing::info!(
            tenants = report.tenants.len(),
            rewritten = report.tenants.values().map(|c| c.rewritten).sum::<i64>(),
            tombstoned = report.tenants.values().map(|c| c.tombstoned).sum::<i64>(),
            switches = report.switches_recorded,
            "retention sweep"
        );
        Ok(report)
    }

    /// Rewrites the insights of `strips` without their features' data.
    fn strip_all(
        &self,
        producer: &FutureProducer,
        strips: &[(ConversationIndexEntry, BTreeSet<Feature>)],
        report: &mut SweepReport,
    ) -> Result<(), SweepError> {
        let insight_topics: BTreeMap<&str, CrmKind> = [
            (self.config.crm.dynamics.as_str(), CrmKind::Dynamics),
            (self.config.crm.salesforce.as_str(), CrmKind::Salesforce),
        ]
        .into();
        let records = &self.config.crm_records;
        let record_topic = |topic: &str| -> Option<(CrmKind, RecordType)> {
            CrmKind::ALL.into_iter().find_map(|k| {
                let t = records.topics(k);
                if t.insights == topic {
                    Some((k, RecordType::Insight))
                } else if t.tasks == topic {
                    Some((k, RecordType::Task))
                } else {
                    None
                }
            })
        };
        // Current values of the insights to rewrite, per CRM topic.
        let mut wanted: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for (e, _) in strips {
            for o in &e.outputs {
                if insight_topics.contains_key(o.topic.as_str()) {
                    wanted.entry(&o.topic).or_default().insert(&o.key);
                }
            }
        }
        let mut book = MappingBook::new();
        if records.enabled {
            self.read_all(&records.mapping_topic, |m| {
                // A refused mapping leaves the previous one in force, as in the service.
                let _ = book.apply(m.key(), m.payload());
            })?;
        }
        let framing = self.framing()?;
        for (topic, keys) in wanted {
            let mut follower = self.follower(topic)?;
            let mut latest: BTreeMap<String, Read> = BTreeMap::new();
            let whole = follower.catch_up(CATCH_UP, |m| {
                let key = m.key().map(String::from_utf8_lossy).unwrap_or_default();
                if keys.contains(key.as_ref()) {
                    latest.insert(
                        key.into_owned(),
                        (m.offset(), m.payload().map(<[u8]>::to_vec)),
                    );
                }
            })?;
            if !whole {
                return Err(SweepError::NotCaughtUp(topic.to_string()));
            }
            let mut written: BTreeMap<String, Rewritten> = BTreeMap::new();
            for (e, features) in strips {
                if !e.outputs.iter().any(|o| o.topic == topic) {
                    continue;
                }
                // Gone meanwhile (erased, removed): nothing to rewrite.
                let Some((_, Some(value))) = latest.get(&e.conversation_id) else {
                    continue;
                };
                let insight = match self.decode_bytes::<Insight>(value) {
                    Some(i) => i,
                    None => continue,
                };
                let out = strip(&insight, features);
                let (partition, offset) =
                    self.send(producer, topic, &e.conversation_id, Some(&out))?;
                written.insert(
                    e.conversation_id.clone(),
                    Rewritten {
                        partition,
                        offset,
                        features: features.clone(),
                        outputs: e.outputs.clone(),
                    },
                );
                let mut removed = BTreeSet::new();
                let mut count = 1;
                for o in &e.outputs {
                    match record_topic(&o.topic) {
                        Some((_, RecordType::Task)) if features.contains(&Feature::ActionItems) => {
                            self.send::<Insight>(producer, &o.topic, &o.key, None)?;
                            removed.insert(o.clone());
                            count += 1;
                        }
                        Some((crm, RecordType::Insight)) => {
                            let Some(mapping) = book.mapping_for(&e.tenant_id, crm) else {
                                continue;
                            };
                            let p = plan(&out, crm, &mapping, records, &framing)?;
                            if let Some(r) = p
                                .records
                                .iter()
                                .find(|r| r.record == RecordType::Insight && r.key == o.key)
                            {
                                self.send_raw(producer, &o.topic, &o.key, Some(&r.value))?;
                                count += 1;
                            }
                        }
                        _ => {}
                    }
                }
                self.rewrite_index(producer, e, features, &removed)?;
                let c = report.tenants.entry(e.tenant_id.clone()).or_default();
                c.rewritten += 1;
                c.records += count + 1;
            }
            self.recheck(producer, topic, &mut follower, written)?;
        }
        Ok(())
    }

    /// Writes the index entry without `features` and `removed`.
    fn rewrite_index(
        &self,
        producer: &FutureProducer,
        planned: &ConversationIndexEntry,
        features: &BTreeSet<Feature>,
        removed: &BTreeSet<OutputRef>,
    ) -> Result<(), SweepError> {
        let topic = &self.config.kafka.topics.conversation_index;
        let entry = stripped_entry(planned, features, removed);
        self.send(producer, topic, &entry.conversation_id, Some(&entry))?;
        Ok(())
    }

    /// Reads `topic` again after the sweep's writes: a record of a rewritten key that landed
    /// between the scan and the sweep's write is written again after it (see the module docs).
    fn recheck(
        &self,
        producer: &FutureProducer,
        topic: &str,
        follower: &mut Follower,
        mut written: BTreeMap<String, Rewritten>,
    ) -> Result<(), SweepError> {
        for _ in 0..RECHECK_ROUNDS {
            if written.is_empty() {
                return Ok(());
            }
            let at: BTreeMap<String, (i32, i64)> = written
                .iter()
                .map(|(k, r)| (k.clone(), (r.partition, r.offset)))
                .collect();
            let mut read = Vec::new();
            let whole = follower.catch_up(CATCH_UP, |m| {
                let key = m.key().map(String::from_utf8_lossy).unwrap_or_default();
                if at.contains_key(key.as_ref()) {
                    read.push((
                        key.into_owned(),
                        m.partition(),
                        m.offset(),
                        m.payload().map(<[u8]>::to_vec),
                    ));
                }
            })?;
            if !whole {
                return Err(SweepError::NotCaughtUp(topic.to_string()));
            }
            let mut again = BTreeMap::new();
            for (key, value) in sweep::overwritten(&at, read) {
                let Some(mut r) = written.remove(&key) else {
                    continue;
                };
                tracing::info!(
                    topic,
                    "a record written during the sweep is written again after it"
                );
                let (p, o) = match value.as_deref() {
                    None => {
                        // An erasure (or a removal) ran meanwhile: everything the sweep wrote
                        // for the conversation is tombstoned again, the index entry last.
                        for out in r.outputs.iter().filter(|out| out.topic != topic) {
                            self.send::<Insight>(producer, &out.topic, &out.key, None)?;
                        }
                        let written = self.send::<Insight>(producer, topic, &key, None)?;
                        let index = &self.config.kafka.topics.conversation_index;
                        self.send::<ConversationIndexEntry>(producer, index, &key, None)?;
                        written
                    }
                    Some(bytes) => match self.decode_bytes::<Insight>(bytes) {
                        Some(newer) => {
                            self.send(producer, topic, &key, Some(&strip(&newer, &r.features)))?
                        }
                        // Not ours to rewrite: written again as it was.
                        None => self.send_raw(producer, topic, &key, Some(bytes))?,
                    },
                };
                (r.partition, r.offset) = (p, o);
                again.insert(key, r);
            }
            written = again;
        }
        Ok(())
    }

    /// The Avro framing of the CRM records (Confluent: the registry ids of the CRM record
    /// schema under each Avro record topic, registered if need be).
    fn framing(&self) -> Result<AvroFraming, SweepError> {
        let mut ids = std::collections::HashMap::new();
        if self.codec.encoding() == Encoding::Confluent && self.config.crm_records.enabled {
            let registry = crate::schema::RegistryClient::new(
                self.config
                    .schema_registry
                    .url
                    .as_ref()
                    .map(url::Url::as_str)
                    .unwrap_or_default(),
                crate::schema::REGISTRY_TIMEOUT,
            )?;
            for crm in CrmKind::ALL {
                let t = self.config.crm_records.topics(crm);
                if t.format == crate::crm::CrmFormat::Avro {
                    let subject = crate::schema::subject_for_topic(&t.insights);
                    let id = self.runtime.block_on(
                        registry.register(&subject, crate::crm::avro::CRM_RECORD_SCHEMA),
                    )?;
                    ids.insert(t.insights.clone(), id);
                }
            }
        }
        Ok(super::steps::crm::framing(self.codec.encoding(), ids))
    }

    fn follower(&self, topic: &str) -> Result<Follower, SweepError> {
        Ok(Follower::open(
            self.config,
            "sweep",
            topic,
            "creating a sweep reader",
        )?)
    }

    /// Reads `topic` whole, to its end now.
    fn read_all(
        &self,
        topic: &str,
        take: impl FnMut(&BorrowedMessage<'_>),
    ) -> Result<(), SweepError> {
        if self.follower(topic)?.catch_up(CATCH_UP, take)? {
            Ok(())
        } else {
            Err(SweepError::NotCaughtUp(topic.to_string()))
        }
    }

    /// Decodes a record of ours; `None` (logged, without its content) when it does not.
    fn decode<T: ContractRecord>(&self, m: &BorrowedMessage<'_>) -> Option<T> {
        let value = m.payload()?;
        let v = self.decode_bytes(value);
        if v.is_none() {
            tracing::warn!(
                topic = m.topic(),
                partition = m.partition(),
                offset = m.offset(),
                "record not decodable; left alone by the sweep"
            );
        }
        v
    }

    fn decode_bytes<T: ContractRecord>(&self, value: &[u8]) -> Option<T> {
        if self.codec.encoding() == Encoding::Confluent {
            let _ = self.runtime.block_on(self.codec.decode_async::<T>(value));
        }
        self.codec.decode::<T>(value).ok()
    }

    /// Writes `value` (`None`: a tombstone) and waits for the acknowledgement: its partition
    /// and offset.
    fn send<T: ContractRecord>(
        &self,
        producer: &FutureProducer,
        topic: &str,
        key: &str,
        value: Option<&T>,
    ) -> Result<(i32, i64), SweepError> {
        let payload = value.map(|v| self.codec.encode(topic, v)).transpose()?;
        self.send_raw(producer, topic, key, payload.as_deref())
    }

    fn send_raw(
        &self,
        producer: &FutureProducer,
        topic: &str,
        key: &str,
        payload: Option<&[u8]>,
    ) -> Result<(i32, i64), SweepError> {
        let mut record = FutureRecord::<str, [u8]>::to(topic).key(key);
        if let Some(p) = payload {
            record = record.payload(p);
        }
        let send = producer.send(record, rdkafka::util::Timeout::After(SEND_WAIT));
        let d = self
            .runtime
            .block_on(send)
            .map_err(|(e, _)| PipelineError::Delivery {
                topic: topic.to_string(),
                source: e,
            })?;
        Ok((d.partition, d.offset))
    }
}
