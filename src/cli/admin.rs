//! `debrief admin`: governance commands against the running deployment's topics.
//!
//! - `erase --tenant T [--conversation C | --participant P]`: publishes an erasure request
//!   and prints its id;
//! - `erasure-status REQUEST_ID`: prints the request's ledger records (JSON Lines), exit 1
//!   when the ledger has none;
//! - `export --tenant T [--conversation C | --participant P]`: everything Debrief holds for
//!   the subject, as JSON Lines (index entries, insights, telemetry carrying their
//!   pseudonyms), recorded on the audit trail;
//! - `audit --tenant T`: the tenant's audit trail (JSON Lines, oldest first);
//! - `sweep [--now TIME]`: runs one retention sweep (switched-off features, insight
//!   retention) and prints its counts per tenant; `--now` takes the decisions at another time
//!   than the wall clock (a deliberate, audited act: it removes data early when in the
//!   future).

use clap::{Args, Subcommand};
use debrief::config::Config;
use debrief::events::{ErasureRequest, InteractionTelemetry};
use debrief::governance::audit::{self, AuditRecord};
use debrief::governance::export::export;
use debrief::governance::Scope;
use debrief::governance::{ConversationIndexEntry, ErasureLedgerEntry, IndexView};
use debrief::insight::Insight;
use debrief::pipeline::admin::{publish_audit, publish_erasure, read_topic};
use debrief::pipeline::retention_sweep::{Sweep, SweepError};
use debrief::pipeline::PipelineError;
use debrief::schema::Codec;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

/// Arguments of `debrief admin`.
#[derive(Debug, Args)]
pub struct AdminArgs {
    /// Configuration file, as for `debrief run` (`DEBRIEF__*` variables override it).
    #[arg(
        long,
        short = 'c',
        value_name = "FILE",
        env = "DEBRIEF_CONFIG",
        global = true
    )]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: AdminCommand,
}

/// Who or what a command is about.
#[derive(Debug, Args)]
pub struct Subject {
    /// Tenant id.
    #[arg(long)]
    pub tenant: String,
    /// One conversation.
    #[arg(long, conflicts_with = "participant")]
    pub conversation: Option<String>,
    /// One participant (speaker id): every conversation of the tenant they spoke in.
    #[arg(long)]
    pub participant: Option<String>,
}

/// The admin commands.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Publish an erasure request; prints its id.
    Erase {
        #[command(flatten)]
        subject: Subject,
        /// Why.
        #[arg(long, default_value = "user_request")]
        reason: String,
        /// Who asks (for the ledger and the audit trail).
        #[arg(long, default_value = "admin")]
        requested_by: String,
        /// Request id (default: erase-<ms since the epoch>).
        #[arg(long)]
        request_id: Option<String>,
    },
    /// Print the ledger records of one erasure request.
    ErasureStatus {
        /// The request id.
        request_id: String,
    },
    /// Export everything held for a tenant, a conversation or a participant (JSON Lines).
    Export {
        #[command(flatten)]
        subject: Subject,
        /// Who asks (for the audit trail).
        #[arg(long, default_value = "admin")]
        requested_by: String,
    },
    /// List a tenant's audit trail (JSON Lines, oldest first).
    Audit {
        /// Tenant id.
        #[arg(long)]
        tenant: String,
    },
    /// Run one retention sweep now; prints one JSON line per tenant touched.
    Sweep {
        /// Take the decisions at this time instead of the wall clock's (RFC 3339, or ms since
        /// the epoch). In the future, it removes data before it is due: for tests and
        /// deliberate use only; the audit trail records it as `admin-sweep`.
        #[arg(long, value_parser = parse_time)]
        now: Option<i64>,
    },
}

/// `--now`: RFC 3339 or ms since the epoch.
fn parse_time(s: &str) -> Result<i64, String> {
    if let Ok(ms) = s.parse::<i64>() {
        return Ok(ms);
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.timestamp_millis())
        .map_err(|e| format!("not RFC 3339 nor ms since the epoch: {e}"))
}

/// Why an admin command failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// Kafka, configuration or codec.
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    /// Writing the output.
    #[error("writing: {0}")]
    Io(#[from] std::io::Error),
    /// JSON output.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    /// The sweep failed.
    #[error("retention sweep: {0}")]
    Sweep(#[from] SweepError),
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Runs an admin command; `Ok(false)` when it found nothing to report (exit 1).
pub async fn command(args: AdminArgs, out: &mut dyn Write) -> Result<bool, AdminError> {
    let config = Config::load(args.config.as_deref()).map_err(PipelineError::from)?;
    config.validate().map_err(PipelineError::from)?;
    let registry = config.schema_registry.url.as_ref().map(|u| u.as_str());
    let codec = Codec::new(config.encoding, registry).map_err(PipelineError::from)?;
    match args.command {
        AdminCommand::Erase {
            subject,
            reason,
            requested_by,
            request_id,
        } => {
            let now = now_ms();
            let request = ErasureRequest {
                request_id: request_id.unwrap_or_else(|| format!("erase-{now}")),
                tenant_id: subject.tenant,
                conversation_id: subject.conversation,
                requested_at_ms: now,
                reason,
                participant_id: subject.participant,
                requested_by: Some(requested_by),
            };
            publish_erasure(&config, &codec, &request).await?;
            writeln!(out, "{}", request.request_id)?;
            Ok(true)
        }
        AdminCommand::ErasureStatus { request_id } => {
            let topic = config.kafka.topics.erasure_ledger.clone();
            let records = tokio::task::block_in_place(|| read_topic(&config, &topic))?;
            let mut found = false;
            for (_, value) in records {
                let Some(v) = value else { continue };
                let Ok(e) = codec.decode::<ErasureLedgerEntry>(&v) else {
                    continue;
                };
                if e.request_id == request_id {
                    found = true;
                    writeln!(out, "{}", serde_json::to_string(&e)?)?;
                }
            }
            Ok(found)
        }
        AdminCommand::Export {
            subject,
            requested_by,
        } => {
            let lines = tokio::task::block_in_place(|| collect(&config, &codec, &subject))?;
            for l in &lines {
                writeln!(out, "{}", serde_json::to_string(l)?)?;
            }
            let scope = match (&subject.conversation, &subject.participant) {
                (Some(_), _) => Scope::Conversation,
                (None, Some(_)) => Scope::Participant,
                (None, None) => Scope::Tenant,
            };
            let nonce = (u64::from(std::process::id()) << 32) | u64::from(now_ms() as u32);
            let record = audit::export(
                &subject.tenant,
                &requested_by,
                scope,
                lines.len() as i64,
                now_ms(),
                nonce,
            );
            publish_audit(&config, &codec, &record).await?;
            Ok(true)
        }
        AdminCommand::Sweep { now } => {
            let now = now.unwrap_or_else(now_ms);
            let runtime = tokio::runtime::Handle::current();
            let report = tokio::task::block_in_place(|| {
                Sweep {
                    config: &config,
                    codec: &codec,
                    metrics: None,
                    actor: "admin-sweep",
                    runtime: &runtime,
                }
                .run(now)
            })?;
            for (tenant, c) in &report.tenants {
                let line = serde_json::json!({
                    "tenant_id": tenant,
                    "rewritten": c.rewritten,
                    "tombstoned": c.tombstoned,
                    "records": c.records,
                });
                writeln!(out, "{line}")?;
            }
            Ok(true)
        }
        AdminCommand::Audit { tenant } => {
            let topic = config.kafka.topics.audit.clone();
            let records = tokio::task::block_in_place(|| read_topic(&config, &topic))?;
            let mut latest: BTreeMap<String, AuditRecord> = BTreeMap::new();
            for (key, value) in records {
                let key = key
                    .map(|k| String::from_utf8_lossy(&k).into_owned())
                    .unwrap_or_default();
                match value.and_then(|v| codec.decode::<AuditRecord>(&v).ok()) {
                    Some(r) => latest.insert(key, r),
                    None => latest.remove(&key),
                };
            }
            let mut trail: Vec<AuditRecord> = latest
                .into_values()
                .filter(|r| r.tenant_id == tenant)
                .collect();
            trail.sort_by(|a, b| (a.at_ms, &a.action_id).cmp(&(b.at_ms, &b.action_id)));
            for r in &trail {
                writeln!(out, "{}", serde_json::to_string(r)?)?;
            }
            Ok(!trail.is_empty())
        }
    }
}

fn collect(
    config: &Config,
    codec: &Codec,
    s: &Subject,
) -> Result<Vec<debrief::governance::export::ExportLine>, AdminError> {
    let topics = &config.kafka.topics;
    let mut view = IndexView::default();
    for (key, value) in read_topic(config, &topics.conversation_index)? {
        let key = key
            .map(|k| String::from_utf8_lossy(&k).into_owned())
            .unwrap_or_default();
        let entry = value.and_then(|v| codec.decode::<ConversationIndexEntry>(&v).ok());
        view.apply(&key, entry);
    }
    let mut insights = BTreeMap::new();
    for topic in [&config.crm.dynamics, &config.crm.salesforce] {
        for (key, value) in read_topic(config, topic)? {
            let key = key
                .map(|k| String::from_utf8_lossy(&k).into_owned())
                .unwrap_or_default();
            match value.and_then(|v| codec.decode::<Insight>(&v).ok()) {
                Some(i) => insights.insert((topic.clone(), key), i),
                None => insights.remove(&(topic.clone(), key)),
            };
        }
    }
    let telemetry: Vec<(String, InteractionTelemetry)> = read_topic(config, &topics.telemetry)?
        .into_iter()
        .filter_map(|(_, v)| v.and_then(|v| codec.decode(&v).ok()))
        .map(|t| (topics.telemetry.clone(), t))
        .collect();
    Ok(export(
        &view,
        &topics.conversation_index,
        &s.tenant,
        s.conversation.as_deref(),
        s.participant.as_deref(),
        &insights,
        &telemetry,
    ))
}
