//! The Kafka service behind `debrief run` (and the embedded `demo` and `bench` runs):
//! transcript events in, insights, telemetry and dead letters out, offsets committed only
//! past what is safe.
//!
//! ```text
//!                 consumer loop (one thread)                  analysis workers (N threads)
//!  transcripts ──poll──▶ decode ─▶ validate ─▶ assemble ══job══▶ analyse ─▶ encode ─▶ produce ─▶ CRM topic
//!  (group)                 │           │          │ (idle tick)  (bounded queues)          ├─▶ telemetry
//!                          └───────────┴──────────┴─────────────────────────▶ dead letters
//!  tenant config ──(whole topic, every instance)──▶ compile ─▶ in force for the next conversation
//! ```
//!
//! The consumer loop (`consumer_loop.rs`) only decodes, assembles and keeps the offset book,
//! which it owns alone: the other threads report to it through its inbox (`inbox.rs`):
//! the producer's acknowledgements and failures, the analysis pool's reports, the tenant
//! reader's configurations. Every finalised conversation becomes a job (with the tenant
//! configuration in force at that moment) on one bounded queue served by `analysis.workers`
//! threads (default: one per core; `analysis_pool.rs`). A full queue blocks the loop
//! (back-pressure); two jobs of one conversation id never run at once. Extraction is pure, so
//! the insight does not depend on which thread ran it; per-extractor times come from
//! [`timings`]. A background thread that fails (the tenant reader, an analysis worker)
//! stops the service with an error naming it.
//!
//! Delivery (at-least-once mode, the default): `enable.auto.offset.store=false`; a partition's
//! offset is stored only up to the first offset of its oldest open conversation, of its
//! oldest finalised conversation still being analysed, and of its oldest record with an
//! unacknowledged output ([`offsets`]); librdkafka auto-commits what is stored; on
//! revocation and shutdown the analysis workers are waited for and the producer flushed
//! (together within `shutdown_deadline_ms`), the offsets committed synchronously, and revoked
//! partitions' open conversations are dropped (the next owner replays them). The producer is idempotent; insights are keyed by conversation id and
//! deterministic, so replays give identical records. Transactional mode commits outputs and
//! offsets together every `delivery.transaction_interval_ms`.
//!
//! Crash replay (both modes): the committed offset is the first offset of the oldest
//! conversation open at the commit, so the next owner replays every open conversation whole.
//! A conversation already finalised whose first event lies before that offset and whose last
//! lies after it would be replayed only in part (its tail), and that tail would give a
//! second, shorter insight under the same key. Every commit therefore carries, in its offset
//! metadata, the partition's closed conversations (hashed ids, close time in stream time,
//! last offset: [`crate::ingest::replay`]); the next owner restores them
//! ([`Assembler::restore`](crate::ingest::assemble::Assembler::restore)) and treats their
//! events as late, exactly as the run that committed did. Idle timeouts run in each
//! partition's stream time (record timestamps), so a replay closes conversations at the same
//! events. When the metadata is missing (a broker that drops it, or more closed
//! conversations than Kafka's 4 KB limit, counted in
//! `debrief_commit_metadata_dropped_total`), the fallback is the replayed-tail rule
//! ([`Finalised::replayed_tail`](crate::ingest::assemble::Finalised::replayed_tail)): a
//! conversation finalised without its `ConversationStarted`, while its
//! `ConversationEnded.segment_count` asks for more final segments than were assembled,
//! produces no insight (counted as
//! `debrief_conversations_finalised_total{reason="replayed_tail"}`). `tests/chaos.rs` checks
//! the whole guarantee against `debrief process`.
//!
//! `debrief replay` ([`replay`]) runs this same chain bounded: assigned partitions from a
//! time range's offsets, its own group and no commits, a stop at the range's end, and only
//! the conversations that begin inside the range written again.
//!
//! Errors are classified: a record that cannot be read or is invalid is dead-lettered and the
//! offset moves on; a schema registry that cannot be reached is retried with back-off
//! without advancing; a record that cannot be delivered stops the pipeline (non-zero exit)
//! without committing past it.

pub mod admin;
mod analysis_pool;
pub mod client_log;
mod consumer_loop;
mod crm_mapping_reader;
mod erasure_executor;
mod erasure_watch;
mod follow;
mod inbox;
mod interactions_reader;
mod kafka;
pub mod offsets;
pub mod replay;
pub mod retention_sweep;
mod source_retention;
mod steps;
pub mod tenant_reader;
pub mod timings;

pub use analysis_pool::AnalysisError;
pub use erasure_executor::CRASH_AFTER_STEP_ENV;
pub use inbox::TaskEnd;

use crate::config::{Config, ConfigError};
use crate::crm::{CrmFormat, CrmKind};
use crate::http::{self, Health, HttpState};
use crate::ingest::assemble::Assembler;
use crate::metrics::Metrics;
use crate::schema::{Codec, Encoding, RecordKind, RegistryClient, SchemaError};
use crate::tenant::TenantRegistry;
use analysis_pool::{AnalysisPool, JobQueue, Shared};
use client_log::ClientLog;
use consumer_loop::ConsumerLoop;
use erasure_executor::ErasureExecutor;
use erasure_watch::ErasureWatch;
use inbox::spawn_task;
use interactions_reader::InteractionsReader;
use kafka::{consumer_config, producer_config, ConsumerCtx};
use offsets::OffsetBook;
use rdkafka::error::KafkaError;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use steps::analyse::Analyse;
use steps::crm::CrmStep;
use steps::dead_letter::DeadLetters;
use steps::decode::Decode;
use steps::encode::Encode;
use steps::produce::{Producer, ProducerCtx};
use tenant_reader::TenantReader;
use thiserror::Error;
use tokio_util::sync::CancellationToken;

/// How long the pipeline waits at start for the tenant configurations already in the topic
/// before consuming transcripts anyway.
pub const TENANT_CATCH_UP_TIMEOUT: Duration = Duration::from_secs(30);

/// Why the pipeline stopped with an error (a fatal error: the process should exit non-zero).
#[derive(Debug, Error)]
pub enum PipelineError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A Kafka client call failed.
    #[error("kafka: {context}: {source}")]
    Kafka {
        /// What the pipeline was doing.
        context: String,
        /// The client's error.
        source: KafkaError,
    },
    /// The codec could not be built or a schema not registered, or a record of ours could not
    /// be encoded.
    #[error("schema: {0}")]
    Schema(#[from] SchemaError),
    /// The operations endpoint could not listen.
    #[error("http: cannot listen on {addr}: {source}")]
    Http {
        /// The address.
        addr: String,
        /// The error.
        source: std::io::Error,
    },
    /// The metrics could not be registered.
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    /// A produced record was not acknowledged (the offsets were not committed past its source).
    #[error("delivery: a record for {topic} could not be delivered: {source}")]
    Delivery {
        /// The topic of the record.
        topic: String,
        /// The client's error.
        source: KafkaError,
    },
    /// An analysis worker could not encode or produce a conversation's records, or its
    /// analysis panicked (the conversation's offsets were not committed).
    #[error("analysis: conversation {conversation}: {source}")]
    Analysis {
        /// The conversation id.
        conversation: String,
        /// What failed.
        source: Box<AnalysisError>,
    },
    /// A background task (the tenant reader, an analysis worker, the consumer loop) ended
    /// while the service was running.
    #[error("the {task} stopped: {end}")]
    TaskStopped {
        /// The task's name.
        task: &'static str,
        /// How it ended.
        end: TaskEnd,
    },
    /// A thread could not be started.
    #[error("cannot start thread {thread}: {source}")]
    Spawn {
        /// The thread's name.
        thread: String,
        /// The error.
        source: std::io::Error,
    },
    /// The analysis pool no longer takes jobs (it was shut down).
    #[error("the analysis pool is stopped")]
    PoolStopped,
    /// Stopped on purpose by a test hook (the environment variable named).
    #[error("stopped by the test hook {0}")]
    Stopped(&'static str),
    /// A replay could not be planned.
    #[error(transparent)]
    Replay(#[from] replay::ReplayError),
}

impl PipelineError {
    fn kafka(context: &str, source: KafkaError) -> PipelineError {
        PipelineError::Kafka {
            context: context.to_string(),
            source,
        }
    }
}

/// What a run did, returned when it stops cleanly.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PipelineSummary {
    /// Transcript records read (tenant-config records not included).
    pub records_consumed: u64,
    /// Conversations finalised (all reasons).
    pub conversations_finalised: u64,
    /// Insights handed to the producer by the analysis workers (acknowledged ones are in the
    /// metrics).
    pub insights_produced: u64,
    /// Transcript records dead-lettered.
    pub dead_letters: u64,
    /// Conversations still open at shutdown, left uncommitted for the next run to replay.
    pub open_conversations_handed_back: usize,
    /// Time spent consuming.
    pub elapsed: Duration,
}

/// Runs the service until `shutdown` is cancelled, serving `/metrics`, `/healthz` and
/// `/readyz` on `config.http.listen` meanwhile. Works against any brokers string, including
/// librdkafka's mock cluster (`rdkafka::mocking::MockCluster::bootstrap_servers`; create the
/// topics with its `create_topic` first: the pipeline creates none).
///
/// On cancellation: stops consuming, flushes, commits, and returns the summary. Returns an
/// error (after committing what is safe) on a fatal failure.
pub async fn run_pipeline(
    config: Config,
    shutdown: CancellationToken,
    metrics: Arc<Metrics>,
) -> Result<PipelineSummary, PipelineError> {
    config.validate()?;
    let health = Arc::new(Health::default());
    let addr = config.http.listen;
    let listener = http::bind(addr)
        .await
        .map_err(|source| PipelineError::Http {
            addr: addr.to_string(),
            source,
        })?;
    let http_stop = CancellationToken::new();
    let state = HttpState {
        metrics: metrics.clone(),
        health: health.clone(),
    };
    let mut server = tokio::spawn(http::serve(listener, state, http_stop.clone()));
    tracing::info!(%addr, "operations endpoint listening");
    // The endpoint is a background task like the others: if it ends while the service runs,
    // the service stops (cleanly: commit, leave the group) with an error naming it.
    let stop = shutdown.child_token();
    let pipeline = run_pipeline_with(config, stop.clone(), metrics, health);
    tokio::pin!(pipeline);
    let result = tokio::select! {
        result = &mut pipeline => result,
        ended = &mut server => {
            let end = match ended {
                Ok(result) => TaskEnd::Failed(Box::new(PipelineError::Http {
                    addr: addr.to_string(),
                    source: result
                        .err()
                        .unwrap_or_else(|| std::io::Error::other("the server stopped serving")),
                })),
                Err(_) => TaskEnd::Panicked,
            };
            tracing::error!(reason = %end, "operations endpoint stopped; stopping the service");
            stop.cancel();
            let result = pipeline.await;
            return result.and(Err(PipelineError::TaskStopped {
                task: "operations endpoint",
                end,
            }));
        }
    };
    http_stop.cancel();
    if let Ok(Err(e)) = server.await {
        tracing::warn!(error = %e, "operations endpoint");
    }
    result
}

/// [`run_pipeline`] without the HTTP endpoint: the caller serves (or ignores) `health`.
pub async fn run_pipeline_with(
    config: Config,
    shutdown: CancellationToken,
    metrics: Arc<Metrics>,
    health: Arc<Health>,
) -> Result<PipelineSummary, PipelineError> {
    run_service(config, shutdown, metrics, health, None).await
}

/// The service, or with `replay` a bounded replay of it ([`replay::replay`]: the consumer
/// loop is assigned the planned partitions instead of joining the group, stops at the
/// range's end and commits nothing; the erasure executor and the retention check do not
/// run).
async fn run_service(
    config: Config,
    shutdown: CancellationToken,
    metrics: Arc<Metrics>,
    health: Arc<Health>,
    replay: Option<replay::ReplayRun>,
) -> Result<PipelineSummary, PipelineError> {
    config.validate()?;
    let config = Arc::new(config);
    let codec = Arc::new(
        Codec::new(
            config.encoding,
            config.schema_registry.url.as_ref().map(url::Url::as_str),
        )?
        .count_legacy_fingerprints(metrics.legacy_fingerprints.clone())
        .count_old_writer_schemas(metrics.old_writer_schemas.clone()),
    );
    if config.encoding == Encoding::Confluent {
        for (topic, kind) in [
            (&config.crm.dynamics, RecordKind::MeetingInsight),
            (&config.crm.salesforce, RecordKind::MeetingInsight),
            (
                &config.kafka.topics.telemetry,
                RecordKind::InteractionTelemetry,
            ),
            (&config.kafka.topics.dead_letter, RecordKind::DeadLetter),
            (
                &config.kafka.topics.conversation_index,
                RecordKind::ConversationIndex,
            ),
            (
                &config.kafka.topics.erasure_ledger,
                RecordKind::ErasureLedger,
            ),
            (&config.kafka.topics.audit, RecordKind::Audit),
            (&config.kafka.topics.erasure, RecordKind::ErasureRequest),
            (
                &config.kafka.topics.interactions,
                RecordKind::InteractionEvent,
            ),
        ] {
            codec.register(topic, kind).await?;
        }
    }
    // In the background: a slow or unreachable broker does not delay the start.
    if replay.is_none() {
        tokio::spawn({
            let (config, metrics, health) = (config.clone(), metrics.clone(), health.clone());
            async move {
                source_retention::check(&config, &metrics, &health).await;
            }
        });
    }
    // The registry ids of the CRM record schema under each Avro CRM record topic.
    let mut crm_ids = std::collections::HashMap::new();
    if config.encoding == Encoding::Confluent && config.crm_records.enabled {
        let registry = RegistryClient::new(
            config
                .schema_registry
                .url
                .as_ref()
                .map(url::Url::as_str)
                .unwrap_or_default(),
            crate::schema::REGISTRY_TIMEOUT,
        )?;
        for crm in CrmKind::ALL {
            let topics = config.crm_records.topics(crm);
            if topics.format == CrmFormat::Avro {
                for topic in [&topics.insights, &topics.tasks] {
                    let subject = crate::schema::subject_for_topic(topic);
                    let id = registry
                        .register(&subject, crate::crm::avro::CRM_RECORD_SCHEMA)
                        .await?;
                    crm_ids.insert(topic.clone(), id);
                }
            }
        }
    }
    let (inbox, inbox_rx) = inbox::inbox();
    let client_log = Arc::new(ClientLog::new(
        &config.kafka.brokers.to_string(),
        health.clone(),
    ));
    let producer: Producer = producer_config(&config)
        .create_with_context(ProducerCtx {
            inbox: inbox.clone(),
            metrics: metrics.clone(),
            client_log: client_log.clone(),
        })
        .map_err(|e| PipelineError::kafka("creating the producer", e))?;
    let workers = config.analysis.effective_workers();
    let jobs = Arc::new(JobQueue::new(workers * config.analysis.queue_per_worker));
    let (rebalances_tx, rebalances) = std::sync::mpsc::channel();
    let mut consumer_settings = consumer_config(&config);
    if replay.is_some() {
        // A replay commits nothing, not even to its own group.
        consumer_settings.set("enable.auto.commit", "false");
    }
    let consumer: kafka::TranscriptConsumer = consumer_settings
        .create_with_context(ConsumerCtx {
            metrics: metrics.clone(),
            client_log: client_log.clone(),
            transcript_topics: config
                .kafka
                .topics
                .transcripts
                .iter()
                .cloned()
                .collect::<HashSet<_>>(),
            rebalances: rebalances_tx,
        })
        .map_err(|e| PipelineError::kafka("creating the consumer", e))?;

    let runtime = tokio::runtime::Handle::current();
    let encode = Encode {
        codec: codec.clone(),
    };
    let dead_letters = DeadLetters {
        encode: encode.clone(),
        producer: producer.clone(),
        topic: config.kafka.topics.dead_letter.clone(),
    };
    let reader_stop = shutdown.child_token();
    let (caught_up_tx, caught_up_rx) = tokio::sync::oneshot::channel();
    let reader = TenantReader {
        config: config.clone(),
        codec: codec.clone(),
        dead_letters: dead_letters.clone(),
        metrics: metrics.clone(),
        inbox: inbox.clone(),
        caught_up: Some(caught_up_tx),
        shutdown: reader_stop.clone(),
        runtime: runtime.clone(),
        state: Default::default(),
    };
    let reader = spawn_task(
        "tenant reader",
        "debrief-tenants",
        inbox.clone(),
        reader_stop.clone(),
        move || reader.run(),
    )?;
    let mapping_reader = if config.crm_records.enabled {
        let reader = crm_mapping_reader::CrmMappingReader {
            config: config.clone(),
            dead_letters: dead_letters.clone(),
            metrics: metrics.clone(),
            inbox: inbox.clone(),
            shutdown: reader_stop.clone(),
        };
        Some(spawn_task(
            "CRM mapping reader",
            "debrief-crm-mappings",
            inbox.clone(),
            reader_stop.clone(),
            move || reader.run(),
        )?)
    } else {
        None
    };
    // A reader that fails before it has caught up drops `caught_up`: no wait then.
    tokio::select! {
        r = tokio::time::timeout(TENANT_CATCH_UP_TIMEOUT, caught_up_rx) => {
            if r.is_err() {
                tracing::warn!("tenant configurations not read within {:?}; consuming anyway", TENANT_CATCH_UP_TIMEOUT);
            }
        }
        _ = shutdown.cancelled() => {}
    }

    // Every erasure request already on the topic is in force before the first transcript
    // record is read, so a replay never brings an erased conversation back.
    let watch_stop = shutdown.child_token();
    let (watch_caught_up, watch_caught_up_rx) = tokio::sync::oneshot::channel();
    let watch = ErasureWatch {
        config: config.clone(),
        codec: codec.clone(),
        inbox: inbox.clone(),
        caught_up: Some(watch_caught_up),
        shutdown: watch_stop.clone(),
        runtime: runtime.clone(),
    };
    let watch = spawn_task(
        "erasure watch",
        "debrief-erasure-watch",
        inbox.clone(),
        watch_stop.clone(),
        move || watch.run(),
    )?;
    tokio::select! {
        r = tokio::time::timeout(TENANT_CATCH_UP_TIMEOUT, watch_caught_up_rx) => {
            if r.is_err() {
                tracing::warn!("erasure requests not read within {:?}; consuming anyway", TENANT_CATCH_UP_TIMEOUT);
            }
        }
        _ = shutdown.cancelled() => {}
    }

    let executor_stop = shutdown.child_token();
    let executor = if replay.is_none() {
        let executor = ErasureExecutor {
            config: config.clone(),
            codec: codec.clone(),
            metrics: metrics.clone(),
            shutdown: executor_stop.clone(),
            runtime: runtime.clone(),
        };
        Some(spawn_task(
            "erasure executor",
            "debrief-erasure",
            inbox.clone(),
            executor_stop.clone(),
            move || executor.run(),
        )?)
    } else {
        None
    };

    let live = steps::live::Live::new(
        &config.live,
        &config.kafka.topics.live,
        &config.kafka.topics.alerts,
        encode.clone(),
    );
    let interactions_stop = shutdown.child_token();
    let interactions = InteractionsReader {
        config: config.clone(),
        codec: codec.clone(),
        metrics: metrics.clone(),
        shutdown: interactions_stop.clone(),
        runtime: runtime.clone(),
    };
    let interactions = spawn_task(
        "interactions reader",
        "debrief-interactions",
        inbox.clone(),
        interactions_stop.clone(),
        move || interactions.run(),
    )?;

    let pool_stop = shutdown.child_token();
    let pool = AnalysisPool::start(
        Arc::new(Shared {
            config: config.clone(),
            analyse: Analyse {
                settings: config.settings.clone(),
            },
            crm: CrmStep {
                config: config.crm_records.clone(),
                framing: steps::crm::framing(config.encoding, crm_ids),
                dead_letter_topic: config.kafka.topics.dead_letter.clone(),
                encode: encode.clone(),
            },
            encode,
            metrics: metrics.clone(),
            producer: producer.clone(),
            jobs,
            inbox,
        }),
        workers,
        pool_stop.clone(),
    )?;
    tracing::info!(workers = pool.workers(), "analysis workers started");
    match &config.region {
        Some(region) => tracing::info!(region = %region, "data residency: tenants of another geography are processed only when they allow cross-region movement"),
        None => tracing::warn!("no region configured: tenants that give a geography are processed only when they allow cross-region movement (set `region`)"),
    }
    let consumer_loop = ConsumerLoop {
        assembler: Assembler::new(config.assembly),
        config: config.clone(),
        decode: Decode { codec, runtime },
        dead_letters,
        metrics,
        health,
        book: OffsetBook::default(),
        producer,
        inbox: inbox_rx,
        shutdown: shutdown.clone(),
        replay,
        in_transaction: false,
        registry: TenantRegistry::default(),
        crm_mappings: Default::default(),
        summary: PipelineSummary::default(),
        finalised: Vec::new(),
        pool,
        fatal: None,
        last_record: std::collections::HashMap::new(),
        erase: Default::default(),
        live,
        residency: steps::residency::ResidencyGuard::new(config.region.clone()),
    };
    let result = tokio::task::spawn_blocking(move || {
        let result = consumer_loop.run(consumer, rebalances);
        // The pool's threads end with the loop: that is expected.
        pool_stop.cancel();
        result
    })
    .await
    .map_err(|_| PipelineError::TaskStopped {
        task: "consumer loop",
        end: TaskEnd::Panicked,
    })
    .and_then(|r| r);
    reader_stop.cancel();
    watch_stop.cancel();
    executor_stop.cancel();
    interactions_stop.cancel();
    // The reader ends within one poll (100 ms) of being asked to, the executor once its
    // current request is done; their failures were reported to the loop while it ran, or
    // are logged by their guards.
    let _ = tokio::task::spawn_blocking(move || {
        let _ = reader.join();
        let _ = watch.join();
        if let Some(e) = executor {
            let _ = e.join();
        }
        let _ = interactions.join();
        if let Some(m) = mapping_reader {
            let _ = m.join();
        }
    })
    .await;
    result
}
