//! Service configuration for `debrief run` (and the embedded `demo` and `bench` runs).
//!
//! Layered, later layers win: built-in defaults ([`Config::default`]), then an optional file
//! (TOML, YAML or JSON, chosen by extension), then `DEBRIEF__*` environment variables where
//! `__` separates levels (`DEBRIEF__KAFKA__BROKERS=host:9092`,
//! `DEBRIEF__ASSEMBLY__IDLE_TIMEOUT_MS=60000`). Validated once at start-up
//! ([`Config::validate`]); every error names the key.
//!
//! `kafka.options` is a raw librdkafka pass-through (TLS, SASL, tuning), applied to the
//! consumers and the producer. From the environment, `DEBRIEF__KAFKA__OPTIONS__SASL_MECHANISM=PLAIN`
//! sets `sasl.mechanism` (the rest of the name lower-cased, `_` turned into `.`). The options the
//! delivery guarantees depend on are refused there ([`RESERVED_OPTIONS`]).
//!
//! ```toml
//! encoding = "avro_single_object"   # or "confluent" (needs schema_registry.url) or "json"
//! shutdown_deadline_ms = 10000
//!
//! [kafka]
//! brokers = "kafka-0:9092,kafka-1:9092"
//! group_id = "debrief"
//! [kafka.topics]
//! transcripts = ["debrief.transcripts.v1"]
//! tenant_config = "debrief.tenant-config.v1"
//! telemetry = "debrief.telemetry.v1"
//! dead_letter = "debrief.deadletter.v1"
//! conversation_index = "debrief.conversation-index.v1"
//! erasure = "debrief.erasure.v1"
//! erasure_ledger = "debrief.erasure-ledger.v1"
//! audit = "debrief.audit.v1"
//! alerts = "debrief.alerts.v1"
//! [kafka.options]
//! "security.protocol" = "SASL_SSL"
//!
//! [crm]
//! dynamics = "debrief.insights.dynamics.v1"
//! salesforce = "debrief.insights.salesforce.v1"
//!
//! [http]
//! listen = "0.0.0.0:9464"
//!
//! [assembly]
//! idle_timeout_ms = 300000
//! max_open_conversations = 10000
//! max_segments_per_conversation = 20000
//!
//! [delivery]
//! mode = "at_least_once"           # or "transactional"
//!
//! [analysis]
//! workers = 0                      # 0: one per available core
//! queue_per_worker = 4
//!
//! [settings]
//! min_summary_chars = 1000
//! min_client_version = "1.0.9"
//! default_time_zone = "UTC"
//! ```

use crate::events::topics;
use crate::extract::{parse_version, Settings};
use crate::schema::Encoding;
use figment::providers::{Env, Format, Json, Serialized, Toml, Yaml};
use figment::Figment;
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;
use thiserror::Error;
use url::Url;

/// Prefix of the environment variables read by [`Config::load`].
pub const ENV_PREFIX: &str = "DEBRIEF__";

/// librdkafka options the pipeline sets itself and that `kafka.options` may not override:
/// changing them would break the delivery guarantees.
pub const RESERVED_OPTIONS: &[&str] = &[
    "bootstrap.servers",
    "group.id",
    "enable.auto.commit",
    "enable.auto.offset.store",
    "enable.idempotence",
    "transactional.id",
    "isolation.level",
];

/// The whole service configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Kafka connection, group and topics.
    pub kafka: KafkaConfig,
    /// CRM topics the insights are routed to.
    pub crm: CrmTopics,
    /// CRM-shaped records (`crate::crm`): per-CRM record topics, their format, the mapping
    /// topic.
    pub crm_records: crate::crm::output::CrmOutputConfig,
    /// Operations endpoint.
    pub http: HttpConfig,
    /// Wire encoding of every record read and written. Default `avro_single_object`.
    pub encoding: Encoding,
    /// Schema registry, for the `confluent` encoding.
    pub schema_registry: SchemaRegistryConfig,
    /// Conversation assembly limits.
    pub assembly: AssemblyConfig,
    /// Delivery mode.
    pub delivery: DeliveryConfig,
    /// Analysis workers.
    pub analysis: AnalysisConfig,
    /// On SIGTERM/SIGINT or revocation: how long in-flight work may take before the service
    /// stops anyway (open conversations are then handed back: not committed, replayed by the
    /// next owner). Keep it below the group's session timeout. Key `shutdown_deadline_ms`,
    /// in milliseconds; default 10,000 (10 s).
    #[serde(rename = "shutdown_deadline_ms", with = "millis")]
    pub shutdown_deadline: Duration,
    /// Extraction thresholds.
    pub settings: Settings,
    /// Live records while conversations run (`crate::live`).
    pub live: crate::live::LiveConfig,
    /// Region this deployment runs in (`eu`, `us`, `au`, `in`, `uk`, ...; 2 to 16 ASCII
    /// letters, digits or `-`, compared case-insensitively), for data residency
    /// (`crate::tenant::residency`). Default: none, a deployment in no geography, which
    /// processes only the tenants without a geography or that allow cross-region movement
    /// (fail closed; logged at start-up).
    pub region: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            kafka: KafkaConfig::default(),
            crm: CrmTopics::default(),
            crm_records: crate::crm::output::CrmOutputConfig::default(),
            http: HttpConfig::default(),
            encoding: Encoding::default(),
            schema_registry: SchemaRegistryConfig::default(),
            assembly: AssemblyConfig::default(),
            delivery: DeliveryConfig::default(),
            analysis: AnalysisConfig::default(),
            shutdown_deadline: Duration::from_secs(10),
            settings: Settings::default(),
            live: crate::live::LiveConfig::default(),
            region: None,
        }
    }
}

/// `[kafka]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KafkaConfig {
    /// Bootstrap servers, `host:port[,host:port...]`. Default `localhost:9092`.
    pub brokers: Brokers,
    /// Consumer group of the transcript consumers. Default `debrief`.
    #[serde(deserialize_with = "stringish")]
    pub group_id: String,
    /// Topic names.
    pub topics: TopicsConfig,
    /// Raw librdkafka settings for every client (security, tuning), except
    /// [`RESERVED_OPTIONS`]. Secret values never appear in `Debug` output.
    pub options: KafkaOptions,
}

/// The librdkafka pass-through settings (`kafka.options`): a map of setting to value whose
/// `Debug` output shows every secret-like value ([`is_secret_option`]: passwords, secrets,
/// tokens, private keys, JAAS configurations) as `<redacted>`, so that a configuration can be
/// logged or printed without leaking credentials. Derefs to the map.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct KafkaOptions(#[serde(deserialize_with = "string_map")] BTreeMap<String, String>);

impl KafkaOptions {
    /// The settings, by name.
    pub fn new(map: BTreeMap<String, String>) -> KafkaOptions {
        KafkaOptions(map)
    }
}

impl std::ops::Deref for KafkaOptions {
    type Target = BTreeMap<String, String>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for KafkaOptions {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl<'a> IntoIterator for &'a KafkaOptions {
    type Item = (&'a String, &'a String);
    type IntoIter = std::collections::btree_map::Iter<'a, String, String>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl std::fmt::Debug for KafkaOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(k, v)| {
                let shown = if is_secret_option(k) {
                    "<redacted>"
                } else {
                    v.as_str()
                };
                (k, shown)
            }))
            .finish()
    }
}

/// `true` for a librdkafka setting whose value is a credential: any name containing
/// `password`, `secret`, `token`, `jaas` or `credential`, and the private-key settings
/// (`ssl.key.pem`, `ssl.key.location`, `ssl_key` and the like).
pub fn is_secret_option(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    [
        "password",
        "secret",
        "token",
        "jaas",
        "credential",
        "ssl.key",
        "ssl_key",
        "private",
    ]
    .iter()
    .any(|needle| n.contains(needle))
}

impl Default for KafkaConfig {
    fn default() -> Self {
        KafkaConfig {
            brokers: Brokers(vec![("localhost".to_string(), 9092)]),
            group_id: "debrief".to_string(),
            topics: TopicsConfig::default(),
            options: KafkaOptions::default(),
        }
    }
}

/// Bootstrap servers: a non-empty list of `host:port`, written `host:port[,host:port...]`
/// (white space around entries is ignored; an IPv6 host is written in brackets).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Brokers(Vec<(String, u16)>);

impl Brokers {
    /// The `host:port` pairs.
    pub fn addresses(&self) -> &[(String, u16)] {
        &self.0
    }
}

/// Why a brokers list is not `host:port[,host:port...]`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BrokersError {
    /// No entry at all.
    #[error("must not be empty (host:port[,host:port...])")]
    Empty,
    /// An entry without `:port`.
    #[error("`{0}` has no port (host:port)")]
    NoPort(String),
    /// A port that is not 1 to 65535.
    #[error("`{0}`: the port is not a number from 1 to 65535")]
    BadPort(String),
    /// An entry without a host.
    #[error("`{0}` has no host (host:port)")]
    NoHost(String),
}

impl std::str::FromStr for Brokers {
    type Err = BrokersError;

    fn from_str(s: &str) -> Result<Brokers, BrokersError> {
        let mut out = Vec::new();
        for entry in s.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (host, port) = entry
                .rsplit_once(':')
                .ok_or_else(|| BrokersError::NoPort(entry.to_string()))?;
            let port: u16 = port
                .parse()
                .ok()
                .filter(|&p| p > 0)
                .ok_or_else(|| BrokersError::BadPort(entry.to_string()))?;
            if host.is_empty() || host.chars().any(char::is_whitespace) {
                return Err(BrokersError::NoHost(entry.to_string()));
            }
            out.push((host.to_string(), port));
        }
        if out.is_empty() {
            return Err(BrokersError::Empty);
        }
        Ok(Brokers(out))
    }
}

impl TryFrom<String> for Brokers {
    type Error = BrokersError;
    fn try_from(s: String) -> Result<Brokers, BrokersError> {
        s.parse()
    }
}

impl From<Brokers> for String {
    fn from(b: Brokers) -> String {
        b.to_string()
    }
}

impl std::fmt::Display for Brokers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, (host, port)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{host}:{port}")?;
        }
        Ok(())
    }
}

/// `[kafka.topics]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TopicsConfig {
    /// Transcript topics consumed by the group (a list, or one comma-separated string).
    #[serde(deserialize_with = "string_list")]
    pub transcripts: Vec<String>,
    /// Tenant configuration topic, read whole by every instance (no group).
    pub tenant_config: String,
    /// Interaction telemetry topic.
    pub telemetry: String,
    /// Dead-letter topic.
    pub dead_letter: String,
    /// Conversation index (compacted, key: conversation id), written after each insight and
    /// read whole by the erasure executor.
    pub conversation_index: String,
    /// Erasure requests, read by the erasure executor (its own group, `<group_id>.erasure`).
    pub erasure: String,
    /// Erasure ledger: one record per step of each request.
    pub erasure_ledger: String,
    /// Audit trail (compacted, key: action id): one record per governance action.
    pub audit: String,
    /// Alerts of the tenants' rules (`crate::rules::Alert`; delete policy, retention at most
    /// 7 days, key: conversation id), written while calls run.
    pub alerts: String,
    /// Live records of open conversations (key: conversation id; delete policy, short
    /// retention: see `docs/contract.md`).
    pub live: String,
    /// Interaction events from front ends (key: conversation id), read by the interactions
    /// reader (its own group, `<group_id>.interactions`).
    pub interactions: String,
}

impl Default for TopicsConfig {
    fn default() -> Self {
        TopicsConfig {
            transcripts: vec![topics::TRANSCRIPTS.to_string()],
            tenant_config: topics::TENANT_CONFIG.to_string(),
            telemetry: topics::TELEMETRY.to_string(),
            dead_letter: topics::DEAD_LETTER.to_string(),
            conversation_index: topics::CONVERSATION_INDEX.to_string(),
            erasure: topics::ERASURE.to_string(),
            erasure_ledger: topics::ERASURE_LEDGER.to_string(),
            audit: topics::AUDIT.to_string(),
            alerts: topics::ALERTS.to_string(),
            live: topics::LIVE.to_string(),
            interactions: topics::INTERACTIONS.to_string(),
        }
    }
}

/// `[crm]`: the insight topic of each CRM (`TenantConfig.crm`; tenants without a
/// configuration go to `dynamics`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CrmTopics {
    /// Dynamics 365-like connector topic.
    pub dynamics: String,
    /// Salesforce-like connector topic.
    pub salesforce: String,
}

impl Default for CrmTopics {
    fn default() -> Self {
        CrmTopics {
            dynamics: topics::INSIGHTS_DYNAMICS.to_string(),
            salesforce: topics::INSIGHTS_SALESFORCE.to_string(),
        }
    }
}

/// `[http]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Address (`ip:port`) of `/metrics`, `/healthz`, `/readyz`. Default `0.0.0.0:9464`.
    pub listen: SocketAddr,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: SocketAddr::from(([0, 0, 0, 0], 9464)),
        }
    }
}

/// `[schema_registry]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct SchemaRegistryConfig {
    /// Base URL (`http://registry:8081`); required by the `confluent` encoding. Only
    /// `http://`: the registry client is built without TLS, and an `https://` URL is
    /// rejected by [`Config::validate`].
    pub url: Option<Url>,
}

/// `[assembly]`: conversation assembly limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AssemblyConfig {
    /// A conversation with no event for this long is finalised (`idle_timeout`). Key
    /// `idle_timeout_ms`, in milliseconds; default 300,000 (5 minutes).
    #[serde(rename = "idle_timeout_ms", with = "millis")]
    pub idle_timeout: Duration,
    /// At most this many conversations open at once per instance; one more evicts the
    /// least recently active, which is finalised (`evicted`). Default 10,000.
    pub max_open_conversations: usize,
    /// At most this many distinct segments per conversation; more are dropped and counted,
    /// and the insight carries the `segment_limit` skip reason. Default 20,000.
    pub max_segments_per_conversation: usize,
}

impl Default for AssemblyConfig {
    fn default() -> Self {
        AssemblyConfig {
            idle_timeout: Duration::from_secs(300),
            max_open_conversations: 10_000,
            max_segments_per_conversation: 20_000,
        }
    }
}

/// How results and offsets reach Kafka.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryMode {
    /// Idempotent producer; offsets stored only after everything produced from them is
    /// acknowledged, committed by the consumer in the background and synchronously on
    /// revocation and shutdown. A crash replays, and the keyed, deterministic insights make
    /// the duplicates identical.
    #[default]
    AtLeastOnce,
    /// Transactional producer: outputs and consumer offsets are committed together in one
    /// transaction every `delivery.transaction_interval_ms`.
    Transactional,
}

/// `[delivery]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeliveryConfig {
    /// `at_least_once` (default) or `transactional`.
    pub mode: DeliveryMode,
    /// Transactional mode: how often a transaction is committed, ms. Default 100.
    #[serde(rename = "transaction_interval_ms", with = "millis")]
    pub transaction_interval: Duration,
    /// Transactional mode: the producer's `transactional.id`. Default
    /// `<group_id>-<host>-<pid>`; give each instance a stable, unique one in production.
    pub transactional_id: Option<String>,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            mode: DeliveryMode::AtLeastOnce,
            transaction_interval: Duration::from_millis(100),
            transactional_id: None,
        }
    }
}

/// `[analysis]`: the threads that analyse finalised conversations and produce their
/// insights, off the consumer loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AnalysisConfig {
    /// Number of analysis threads; 0 (default) means one per available core
    /// ([`std::thread::available_parallelism`]).
    pub workers: usize,
    /// Finalised conversations waiting for a thread, per thread (the threads share one queue
    /// of `workers × queue_per_worker`); when it is full the consumer loop stops polling
    /// (back-pressure; each holds a whole conversation in memory). Default 4, at least 1.
    pub queue_per_worker: usize,
}

impl Default for AnalysisConfig {
    fn default() -> Self {
        AnalysisConfig {
            workers: 0,
            queue_per_worker: 4,
        }
    }
}

impl AnalysisConfig {
    /// The number of threads to start: `workers`, or the available cores when it is 0
    /// (1 when that cannot be known).
    pub fn effective_workers(&self) -> usize {
        if self.workers > 0 {
            return self.workers;
        }
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    }
}

/// Why the configuration could not be loaded or is invalid.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The file or an environment variable does not parse, or has a value of the wrong type.
    /// The message is figment's, which already names the key and where it came from; it is
    /// not also the error's `source`, so `{:#}` chains print it once.
    #[error("configuration: {0}")]
    Load(Box<figment::Error>),
    /// A value parses but is not acceptable.
    #[error("configuration key `{key}`: {reason}")]
    Invalid {
        /// Dotted key (`kafka.brokers`, `assembly.idle_timeout_ms`).
        key: String,
        /// What is wrong and what is expected.
        reason: String,
    },
}

fn invalid(key: impl Into<String>, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        reason: reason.into(),
    }
}

impl Config {
    /// Loads defaults, then `file` (if given), then the process's `DEBRIEF__*` variables, and
    /// validates the result.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        Config::load_with(file, ENV_PREFIX, std::env::vars())
    }

    /// [`load`](Config::load) with another environment prefix and variable source (tests,
    /// embedded runs). `vars` is only read for `<prefix>KAFKA__OPTIONS__*`; the other variables
    /// are read from the process environment with `prefix`.
    pub fn load_with(
        file: Option<&Path>,
        prefix: &str,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            if !path.is_file() {
                return Err(invalid(
                    "--config",
                    format!("{} is not a readable file", path.display()),
                ));
            }
            let ext = path
                .extension()
                .and_then(|e| e.to_str())
                .unwrap_or("")
                .to_ascii_lowercase();
            figment = match ext.as_str() {
                "toml" => figment.merge(Toml::file_exact(path)),
                "yaml" | "yml" => figment.merge(Yaml::file_exact(path)),
                "json" => figment.merge(Json::file_exact(path)),
                other => {
                    return Err(invalid(
                        "--config",
                        format!(
                            "unknown file type `.{other}` of {}: use .toml, .yaml, .yml or .json",
                            path.display()
                        ),
                    ))
                }
            };
        }
        let options_prefix = "kafka__options__";
        let env = Env::prefixed(prefix)
            .filter(move |k| !k.as_str().to_ascii_lowercase().starts_with(options_prefix))
            .split("__");
        figment = figment.merge(env);
        let mut config: Config = figment
            .extract()
            .map_err(|e| ConfigError::Load(Box::new(e)))?;
        let full_prefix = format!("{prefix}KAFKA__OPTIONS__");
        for (name, value) in vars {
            if name.len() > full_prefix.len()
                && name[..full_prefix.len()].eq_ignore_ascii_case(&full_prefix)
            {
                let key = name[full_prefix.len()..]
                    .to_ascii_lowercase()
                    .replace('_', ".");
                config.kafka.options.insert(key, value);
            }
        }
        config.validate()?;
        Ok(config)
    }

    /// Checks every value; the error names the first bad key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(reason) = self
            .region
            .as_deref()
            .and_then(crate::tenant::residency::bad_code)
        {
            return Err(invalid("region", reason));
        }
        let k = &self.kafka;
        if k.group_id.trim().is_empty() {
            return Err(invalid("kafka.group_id", "must not be empty"));
        }
        if k.topics.transcripts.is_empty() {
            return Err(invalid(
                "kafka.topics.transcripts",
                "needs at least one topic",
            ));
        }
        for t in &k.topics.transcripts {
            check_topic("kafka.topics.transcripts", t)?;
        }
        check_topic("kafka.topics.tenant_config", &k.topics.tenant_config)?;
        check_topic("kafka.topics.telemetry", &k.topics.telemetry)?;
        check_topic("kafka.topics.dead_letter", &k.topics.dead_letter)?;
        check_topic(
            "kafka.topics.conversation_index",
            &k.topics.conversation_index,
        )?;
        check_topic("kafka.topics.erasure", &k.topics.erasure)?;
        check_topic("kafka.topics.erasure_ledger", &k.topics.erasure_ledger)?;
        check_topic("kafka.topics.audit", &k.topics.audit)?;
        check_topic("kafka.topics.alerts", &k.topics.alerts)?;
        check_topic("crm.dynamics", &self.crm.dynamics)?;
        check_topic("crm.salesforce", &self.crm.salesforce)?;
        let r = &self.crm_records;
        check_topic("crm_records.dynamics.insights", &r.dynamics.insights)?;
        check_topic("crm_records.dynamics.tasks", &r.dynamics.tasks)?;
        check_topic("crm_records.salesforce.insights", &r.salesforce.insights)?;
        check_topic("crm_records.salesforce.tasks", &r.salesforce.tasks)?;
        check_topic("crm_records.mapping_topic", &r.mapping_topic)?;
        for input in &k.topics.transcripts {
            for (key, output) in [
                ("kafka.topics.telemetry", &k.topics.telemetry),
                ("kafka.topics.dead_letter", &k.topics.dead_letter),
                (
                    "kafka.topics.conversation_index",
                    &k.topics.conversation_index,
                ),
                ("kafka.topics.erasure_ledger", &k.topics.erasure_ledger),
                ("kafka.topics.audit", &k.topics.audit),
                ("kafka.topics.alerts", &k.topics.alerts),
                ("crm.dynamics", &self.crm.dynamics),
                ("crm.salesforce", &self.crm.salesforce),
                ("crm_records.dynamics.insights", &r.dynamics.insights),
                ("crm_records.dynamics.tasks", &r.dynamics.tasks),
                ("crm_records.salesforce.insights", &r.salesforce.insights),
                ("crm_records.salesforce.tasks", &r.salesforce.tasks),
            ] {
                if input == output {
                    return Err(invalid(
                        key,
                        format!("`{output}` is also a transcript topic"),
                    ));
                }
            }
        }
        for key in k.options.keys() {
            if RESERVED_OPTIONS.contains(&key.as_str()) {
                return Err(invalid(
                    format!("kafka.options.\"{key}\""),
                    "is set by the pipeline itself (see kafka.brokers, kafka.group_id, delivery.mode)",
                ));
            }
        }
        if self.encoding == Encoding::Confluent {
            match &self.schema_registry.url {
                Some(u) if u.scheme() == "http" && !u.cannot_be_a_base() => {}
                Some(u) if u.scheme() == "https" => {
                    return Err(invalid(
                        "schema_registry.url",
                        format!(
                            "`{u}`: https is not supported (the registry client is built without \
                             TLS); use http:// or a TLS-terminating proxy next to Debrief"
                        ),
                    ))
                }
                Some(u) => {
                    return Err(invalid(
                        "schema_registry.url",
                        format!("`{u}` is not an http URL"),
                    ))
                }
                None => {
                    return Err(invalid(
                        "schema_registry.url",
                        "is required by encoding = \"confluent\"",
                    ))
                }
            }
        }
        let a = &self.assembly;
        if a.idle_timeout.as_millis() == 0 {
            return Err(invalid("assembly.idle_timeout_ms", "must be at least 1"));
        }
        if a.max_open_conversations == 0 {
            return Err(invalid(
                "assembly.max_open_conversations",
                "must be at least 1",
            ));
        }
        if a.max_segments_per_conversation == 0 {
            return Err(invalid(
                "assembly.max_segments_per_conversation",
                "must be at least 1",
            ));
        }
        if self.delivery.transaction_interval.as_millis() == 0 {
            return Err(invalid(
                "delivery.transaction_interval_ms",
                "must be at least 1",
            ));
        }
        if let Some(id) = &self.delivery.transactional_id {
            if id.trim().is_empty() {
                return Err(invalid(
                    "delivery.transactional_id",
                    "must not be empty when set",
                ));
            }
        }
        if self.analysis.queue_per_worker == 0 {
            return Err(invalid("analysis.queue_per_worker", "must be at least 1"));
        }
        if self.analysis.workers > 1024 {
            return Err(invalid(
                "analysis.workers",
                "must be at most 1024 (0 means one per core)",
            ));
        }
        if self.shutdown_deadline.as_millis() == 0 {
            return Err(invalid("shutdown_deadline_ms", "must be at least 1"));
        }
        if parse_version(&self.settings.min_client_version).is_none() {
            return Err(invalid(
                "settings.min_client_version",
                format!(
                    "`{}` is not major.minor.patch",
                    self.settings.min_client_version
                ),
            ));
        }
        if self
            .settings
            .default_time_zone
            .parse::<chrono_tz::Tz>()
            .is_err()
        {
            return Err(invalid(
                "settings.default_time_zone",
                format!(
                    "`{}` is not an IANA time zone (Europe/Paris, UTC)",
                    self.settings.default_time_zone
                ),
            ));
        }
        Ok(())
    }
}

fn check_topic(key: &str, topic: &str) -> Result<(), ConfigError> {
    let ok = !topic.is_empty()
        && topic.len() <= 249
        && topic
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(invalid(
            key,
            format!("`{topic}` is not a Kafka topic name (1 to 249 of a-z A-Z 0-9 . _ -)"),
        ))
    }
}

/// Durations as whole milliseconds in the configuration (`*_ms` keys).
pub(crate) mod millis {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

/// A string that may arrive as a number or boolean (environment variables are parsed).
#[derive(Deserialize)]
#[serde(untagged)]
enum Stringish {
    S(String),
    I(i64),
    U(u64),
    F(f64),
    B(bool),
}

impl Stringish {
    fn into_string(self) -> String {
        match self {
            Stringish::S(s) => s,
            Stringish::I(i) => i.to_string(),
            Stringish::U(u) => u.to_string(),
            Stringish::F(f) => f.to_string(),
            Stringish::B(b) => b.to_string(),
        }
    }
}

fn stringish<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Stringish::deserialize(d).map(Stringish::into_string)
}

fn string_map<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    let map = BTreeMap::<String, Stringish>::deserialize(d)?;
    Ok(map.into_iter().map(|(k, v)| (k, v.into_string())).collect())
}

fn string_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => s
            .split(',')
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .collect(),
        OneOrMany::Many(v) => v,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file(ext: &str, text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::Builder::new().suffix(ext).tempfile().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f
    }

    /// A prefix no other test (or the real environment) uses.
    fn load(
        file: Option<&Path>,
        prefix: &str,
        vars: &[(&str, &str)],
    ) -> Result<Config, ConfigError> {
        let owned: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::load_with(file, prefix, owned)
    }

    #[test]
    fn defaults_are_valid_and_documented_values() {
        let c = load(None, "DEBRIEF_T_DEFAULTS__", &[]).unwrap();
        assert_eq!(c, Config::default());
        assert_eq!(c.http.listen.to_string(), "0.0.0.0:9464");
        assert_eq!(
            c.kafka.topics.transcripts,
            vec!["debrief.transcripts.v1".to_string()]
        );
        assert_eq!(c.crm.dynamics, "debrief.insights.dynamics.v1");
        assert_eq!(c.delivery.mode, DeliveryMode::AtLeastOnce);
        assert_eq!(c.encoding, Encoding::AvroSingleObject);
        assert_eq!(c.analysis.workers, 0);
        assert!(c.analysis.effective_workers() >= 1);
        let four = AnalysisConfig {
            workers: 4,
            ..AnalysisConfig::default()
        };
        assert_eq!(four.effective_workers(), 4);
    }

    #[test]
    fn toml_file_overrides_defaults_and_keeps_the_rest() {
        let f = file(
            ".toml",
            r#"
encoding = "json"
[kafka]
brokers = "k1:9092,k2:9092"
[kafka.topics]
transcripts = ["a", "b"]
[kafka.options]
"security.protocol" = "SASL_SSL"
"statistics.interval.ms" = 1000
[assembly]
idle_timeout_ms = 1500
[delivery]
mode = "transactional"
"#,
        );
        let c = load(Some(f.path()), "DEBRIEF_T_TOML__", &[]).unwrap();
        assert_eq!(c.kafka.brokers.to_string(), "k1:9092,k2:9092");
        assert_eq!(c.kafka.group_id, "debrief");
        assert_eq!(
            c.kafka.topics.transcripts,
            vec!["a".to_string(), "b".to_string()]
        );
        assert_eq!(c.kafka.options["security.protocol"], "SASL_SSL");
        assert_eq!(c.kafka.options["statistics.interval.ms"], "1000");
        assert_eq!(c.assembly.idle_timeout, Duration::from_millis(1500));
        assert_eq!(c.assembly.max_open_conversations, 10_000);
        assert_eq!(c.delivery.mode, DeliveryMode::Transactional);
        assert_eq!(c.encoding, Encoding::Json);
    }

    #[test]
    fn yaml_and_json_files_are_read() {
        let y = file(
            ".yaml",
            "kafka:\n  group_id: g-yaml\nhttp:\n  listen: 127.0.0.1:1\n",
        );
        let c = load(Some(y.path()), "DEBRIEF_T_YAML__", &[]).unwrap();
        assert_eq!(c.kafka.group_id, "g-yaml");
        assert_eq!(c.http.listen.to_string(), "127.0.0.1:1");
        let j = file(
            ".json",
            r#"{"crm": {"salesforce": "sf.v2"}, "shutdown_deadline_ms": 42}"#,
        );
        let c = load(Some(j.path()), "DEBRIEF_T_JSON__", &[]).unwrap();
        assert_eq!(c.crm.salesforce, "sf.v2");
        assert_eq!(c.shutdown_deadline, Duration::from_millis(42));
    }

    #[test]
    fn environment_wins_over_the_file() {
        let f = file(
            ".toml",
            "[kafka]\nbrokers = \"from-file:1\"\ngroup_id = \"file\"\n",
        );
        // Variables read from the process use this test's own prefix.
        std::env::set_var("DEBRIEF_T_ENV__KAFKA__BROKERS", "from-env:2");
        std::env::set_var("DEBRIEF_T_ENV__KAFKA__GROUP_ID", "12345");
        std::env::set_var("DEBRIEF_T_ENV__KAFKA__TOPICS__TRANSCRIPTS", "x,y");
        std::env::set_var("DEBRIEF_T_ENV__ASSEMBLY__MAX_OPEN_CONVERSATIONS", "7");
        std::env::set_var("DEBRIEF_T_ENV__ANALYSIS__WORKERS", "3");
        let c = load(
            Some(f.path()),
            "DEBRIEF_T_ENV__",
            &[("DEBRIEF_T_ENV__KAFKA__OPTIONS__SASL_MECHANISM", "PLAIN")],
        )
        .unwrap();
        assert_eq!(c.kafka.brokers.to_string(), "from-env:2");
        assert_eq!(c.kafka.group_id, "12345");
        assert_eq!(
            c.kafka.topics.transcripts,
            vec!["x".to_string(), "y".to_string()]
        );
        assert_eq!(c.assembly.max_open_conversations, 7);
        assert_eq!(c.analysis.workers, 3);
        assert_eq!(c.kafka.options["sasl.mechanism"], "PLAIN");
    }

    fn key_of(err: ConfigError) -> String {
        match err {
            ConfigError::Invalid { key, .. } => key,
            ConfigError::Load(e) => format!("load: {e}"),
        }
    }

    #[test]
    fn invalid_values_name_their_key() {
        type Breaker = fn(&mut Config);
        let cases: Vec<(&str, Breaker)> = vec![
            ("kafka.group_id", |c| c.kafka.group_id = String::new()),
            ("kafka.topics.transcripts", |c| {
                c.kafka.topics.transcripts.clear()
            }),
            ("kafka.topics.transcripts", |c| {
                c.kafka.topics.transcripts = vec!["bad topic".into()]
            }),
            ("kafka.topics.dead_letter", |c| {
                c.kafka.topics.dead_letter = "debrief.transcripts.v1".into()
            }),
            ("crm.salesforce", |c| c.crm.salesforce = String::new()),
            ("region", |c| c.region = Some("e".into())),
            ("region", |c| c.region = Some("north america".into())),
            ("kafka.options.\"enable.auto.commit\"", |c| {
                c.kafka
                    .options
                    .insert("enable.auto.commit".into(), "false".into());
            }),
            ("schema_registry.url", |c| c.encoding = Encoding::Confluent),
            ("schema_registry.url", |c| {
                c.encoding = Encoding::Confluent;
                c.schema_registry.url = Some("registry:8081".parse().unwrap());
            }),
            ("schema_registry.url", |c| {
                c.encoding = Encoding::Confluent;
                c.schema_registry.url = Some("https://registry:8081".parse().unwrap());
            }),
            ("assembly.idle_timeout_ms", |c| {
                c.assembly.idle_timeout = Duration::ZERO
            }),
            ("assembly.max_open_conversations", |c| {
                c.assembly.max_open_conversations = 0
            }),
            ("assembly.max_segments_per_conversation", |c| {
                c.assembly.max_segments_per_conversation = 0
            }),
            ("delivery.transaction_interval_ms", |c| {
                c.delivery.transaction_interval = Duration::ZERO
            }),
            ("analysis.queue_per_worker", |c| {
                c.analysis.queue_per_worker = 0
            }),
            ("analysis.workers", |c| c.analysis.workers = 5000),
            ("shutdown_deadline_ms", |c| {
                c.shutdown_deadline = Duration::ZERO
            }),
            ("settings.min_client_version", |c| {
                c.settings.min_client_version = "one".into()
            }),
            ("settings.default_time_zone", |c| {
                c.settings.default_time_zone = "Mars/Base".into()
            }),
        ];
        for (key, break_it) in cases {
            let mut c = Config::default();
            break_it(&mut c);
            assert_eq!(key_of(c.validate().unwrap_err()), key);
        }
    }

    #[test]
    fn brokers_are_host_port_lists() {
        let b: Brokers = " k1:9092, [::1]:19092 ,".parse().unwrap();
        assert_eq!(
            b.addresses(),
            &[("k1".to_string(), 9092), ("[::1]".to_string(), 19092)]
        );
        assert_eq!(b.to_string(), "k1:9092,[::1]:19092");
        for bad in ["", " , ", "kafka", "kafka:0", "kafka:x", ":9092", "a b:1"] {
            assert!(bad.parse::<Brokers>().is_err(), "{bad:?}");
        }
        let f = file(".toml", "[kafka]\nbrokers = \"kafka\"\n");
        let err = load(Some(f.path()), "DEBRIEF_T_BROKERS__", &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("kafka.brokers") && err.contains("no port"),
            "{err}"
        );
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let mut c = Config::default();
        for (k, v) in [
            ("sasl.password", "hunter2"),
            ("ssl.key.password", "k-pass"),
            ("ssl.keystore.password", "ks-pass"),
            ("sasl.oauthbearer.client.secret", "oauth-secret"),
            ("ssl.key.pem", "-----BEGIN PRIVATE KEY-----"),
            ("sasl.username", "debrief-user"),
            ("security.protocol", "SASL_SSL"),
        ] {
            c.kafka.options.insert(k.into(), v.into());
        }
        let shown = format!("{c:?}");
        for secret in [
            "hunter2",
            "k-pass",
            "ks-pass",
            "oauth-secret",
            "PRIVATE KEY",
        ] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(
            shown.contains("\"sasl.password\": \"<redacted>\""),
            "{shown}"
        );
        assert!(
            shown.contains("debrief-user") && shown.contains("SASL_SSL"),
            "{shown}"
        );
        assert_eq!(
            c.kafka.options["sasl.password"], "hunter2",
            "the value itself is kept"
        );
        assert!(!is_secret_option("sasl.mechanism"));
        assert!(is_secret_option("SASL_PASSWORD"));
    }

    #[test]
    fn file_errors_name_the_key_or_the_file() {
        let f = file(".toml", "[assembly]\nidle_timeout_ms = \"soon\"\n");
        let err = load(Some(f.path()), "DEBRIEF_T_BADTYPE__", &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("idle_timeout_ms"), "{err}");
        let f = file(".toml", "[http]\nlisten = \"localhost\"\n");
        let err = load(Some(f.path()), "DEBRIEF_T_LISTEN__", &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("http.listen"), "{err}");
        let f = file(".toml", "[kafka]\nbrokerz = \"x\"\n");
        let err = load(Some(f.path()), "DEBRIEF_T_UNKNOWN__", &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("brokerz"), "{err}");
        let f = file(".ini", "x=1");
        assert_eq!(
            key_of(load(Some(f.path()), "DEBRIEF_T_INI__", &[]).unwrap_err()),
            "--config"
        );
        let missing = Path::new("/nonexistent/debrief.toml");
        assert_eq!(
            key_of(load(Some(missing), "DEBRIEF_T_MISSING__", &[]).unwrap_err()),
            "--config"
        );
    }
}
