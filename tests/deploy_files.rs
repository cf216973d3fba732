//! Validates the deployment files without Docker or a cluster: `docker-compose.yml`,
//! `Dockerfile`, `deploy/debrief.toml`, `deploy/k8s/*`, `deploy/prometheus/*` and
//! `deploy/grafana/*` parse, refer to each other correctly (service names, ports, paths,
//! labels), use only metrics Debrief exports, and configure Debrief only through `DEBRIEF__*`
//! variables and a config file that Debrief's own loader accepts.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use debrief::config::Config;
use serde::Deserialize as _;
use serde_json::Value as Json;
use serde_yaml_ng::Value as Yaml;

/// The metrics Debrief exports (see `src/metrics.rs`), with their label names.
const METRICS: &[(&str, &[&str])] = &[
    ("debrief_records_consumed_total", &["topic", "outcome"]),
    ("debrief_conversations_open", &[]),
    ("debrief_conversations_finalised_total", &["reason"]),
    ("debrief_insights_produced_total", &["topic"]),
    ("debrief_dead_letters_total", &["reason"]),
    ("debrief_insight_latency_seconds", &["le"]),
    ("debrief_extractor_seconds", &["extractor", "le"]),
    ("debrief_consumer_lag", &["topic", "partition"]),
    ("debrief_producer_queue_depth", &[]),
    ("debrief_erasure_oldest_incomplete_age_seconds", &[]),
    ("debrief_erasure_steps_total", &["step"]),
    (
        "debrief_source_retention_exceeds_erasure_deadline",
        &["topic"],
    ),
    ("debrief_retention_sweeps_total", &["outcome"]),
    ("debrief_retention_items_total", &["action"]),
    ("debrief_retention_last_sweep_timestamp_seconds", &[]),
];

/// Histograms are queried through their `_bucket`, `_sum` and `_count` series.
const HISTOGRAMS: &[&str] = &[
    "debrief_insight_latency_seconds",
    "debrief_extractor_seconds",
];

/// Labels Prometheus itself attaches to every scraped series.
const TARGET_LABELS: &[&str] = &["instance", "job", "service"];

/// The config file path every deployment passes to `debrief run --config`.
const CONFIG_PATH: &str = "/etc/debrief/debrief.toml";

/// The operations port: `/metrics`, `/healthz`, `/readyz`.
const HTTP_PORT: u16 = 9464;

// ---------------------------------------------------------------------------------------------
// Reading files

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(relative: &str) -> String {
    let path = root().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {relative}: {e}"))
}

fn yaml(relative: &str) -> Yaml {
    serde_yaml_ng::from_str(&read(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

fn json(relative: &str) -> Json {
    serde_json::from_str(&read(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn str_of<'a>(value: &'a Yaml, what: &str) -> &'a str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("{what}: expected a string, found {value:?}"))
}

fn seq_of<'a>(value: &'a Yaml, what: &str) -> &'a [Yaml] {
    value
        .as_sequence()
        .map(Vec::as_slice)
        .unwrap_or_else(|| panic!("{what}: expected a list, found {value:?}"))
}

/// A scalar YAML value as text (numbers and booleans too).
fn scalar(value: &Yaml) -> String {
    match value {
        Yaml::String(s) => s.clone(),
        Yaml::Number(n) => n.to_string(),
        Yaml::Bool(b) => b.to_string(),
        other => panic!("expected a scalar, found {other:?}"),
    }
}

/// `host:port` (or `scheme://host:port/path`) split into host and port.
fn host_port(address: &str) -> (String, u16) {
    let without_scheme = address.split("://").last().unwrap_or(address);
    let authority = without_scheme.split('/').next().unwrap_or(without_scheme);
    let (host, port) = authority
        .rsplit_once(':')
        .unwrap_or_else(|| panic!("`{address}` has no port"));
    let port = port
        .parse()
        .unwrap_or_else(|_| panic!("`{address}`: port `{port}` is not a number"));
    (host.to_owned(), port)
}

// ---------------------------------------------------------------------------------------------
// PromQL: the metric and label names an expression uses

/// Label names inside `{...}` (before each matcher operator) or a `(...)` label list.
fn collect_labels(body: &str, matchers: bool, labels: &mut BTreeSet<String>) {
    for part in body.split(',') {
        let name = if matchers {
            part.split(['=', '!', '~']).next().unwrap_or("")
        } else {
            part
        };
        let name = name.trim();
        if !name.is_empty() {
            labels.insert(name.to_owned());
        }
    }
}

/// Index just past the string literal that starts at `chars[i]` (a quote).
fn skip_string(chars: &[char], mut i: usize) -> usize {
    let quote = chars[i];
    i += 1;
    while i < chars.len() && chars[i] != quote {
        i += if chars[i] == '\\' { 2 } else { 1 };
    }
    i + 1
}

/// Metric names and label names used in a PromQL expression: `(metrics, labels)`.
///
/// A small lexer, enough for the expressions in these files: string literals are dropped;
/// `{...}` matchers and `by`/`without`/`on`/`ignoring`/`group_left`/`group_right` lists give
/// label names; `[...]` ranges are dropped; an identifier followed by `(` is a function or an
/// aggregation; keywords are skipped; every other identifier is a metric name.
fn promql_names(expr: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    // Keywords, and aggregations (which may put `by (...)` before their parenthesis).
    const KEYWORDS: &[&str] = &[
        "and",
        "or",
        "unless",
        "bool",
        "offset",
        "sum",
        "min",
        "max",
        "avg",
        "group",
        "stddev",
        "stdvar",
        "count",
        "count_values",
        "bottomk",
        "topk",
        "quantile",
    ];
    const LABEL_LISTS: &[&str] = &[
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
    ];
    let chars: Vec<char> = expr.chars().collect();
    let (mut metrics, mut labels) = (BTreeSet::new(), BTreeSet::new());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '"' || c == '\'' || c == '`' {
            i = skip_string(&chars, i);
        } else if c == '{' || c == '[' {
            let close = if c == '{' { '}' } else { ']' };
            let start = i + 1;
            let mut body = String::new();
            i = start;
            while i < chars.len() && chars[i] != close {
                if chars[i] == '"' || chars[i] == '\'' {
                    i = skip_string(&chars, i);
                    body.push('"');
                } else {
                    body.push(chars[i]);
                    i += 1;
                }
            }
            if c == '{' {
                collect_labels(&body, true, &mut labels);
            }
            i += 1;
        } else if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':')
            {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let mut next = i;
            while next < chars.len() && chars[next].is_whitespace() {
                next += 1;
            }
            let is_call = next < chars.len() && chars[next] == '(';
            if LABEL_LISTS.contains(&word.as_str()) {
                if is_call {
                    let close = chars[next..]
                        .iter()
                        .position(|&c| c == ')')
                        .map(|p| next + p)
                        .unwrap_or_else(|| panic!("unclosed label list in `{expr}`"));
                    let body: String = chars[next + 1..close].iter().collect();
                    collect_labels(&body, false, &mut labels);
                    i = close + 1;
                }
            } else if !is_call && !KEYWORDS.contains(&word.as_str()) {
                metrics.insert(word);
            }
        } else if c == '$' {
            // A Grafana variable such as $__rate_interval.
            i += 1;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
        } else if c.is_ascii_digit() || c == '.' {
            // A number or a duration (5m, 1e3, 0.99).
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
        } else {
            i += 1;
        }
    }
    (metrics, labels)
}

/// The exported metric a series name belongs to (`_bucket`/`_sum`/`_count` of a histogram
/// map to the histogram), or `None` if Debrief exports no such series.
fn exported_metric(series: &str) -> Option<&'static str> {
    if let Some((name, _)) = METRICS.iter().find(|(name, _)| *name == series) {
        return Some(name);
    }
    HISTOGRAMS.iter().copied().find(|h| {
        ["_bucket", "_sum", "_count"]
            .iter()
            .any(|suffix| series == format!("{h}{suffix}"))
    })
}

/// Checks one expression: every metric is exported (or Prometheus's own `up`), every label is
/// one of the used metrics' labels or a target label. Returns the exported metrics it uses.
fn check_expr(expr: &str, context: &str) -> BTreeSet<&'static str> {
    let (series, labels) = promql_names(expr);
    assert!(!series.is_empty(), "{context}: `{expr}` uses no metric");
    let mut used = BTreeSet::new();
    for s in &series {
        if s == "up" {
            continue;
        }
        let metric = exported_metric(s)
            .unwrap_or_else(|| panic!("{context}: `{s}` in `{expr}` is not a Debrief metric"));
        used.insert(metric);
    }
    let allowed: BTreeSet<&str> = METRICS
        .iter()
        .filter(|(name, _)| used.contains(name))
        .flat_map(|(_, labels)| labels.iter().copied())
        .chain(TARGET_LABELS.iter().copied())
        .collect();
    for label in &labels {
        assert!(
            allowed.contains(label.as_str()),
            "{context}: label `{label}` in `{expr}` is not a label of {used:?}"
        );
    }
    used
}

#[test]
fn promql_lexer_finds_metrics_and_labels() {
    let (metrics, labels) = promql_names(
        r#"sum by (topic) (rate(debrief_a_total{outcome="x,y}", reason!~"a|b"}[5m])) > 0 and on(job) up == 0"#,
    );
    assert_eq!(
        metrics,
        BTreeSet::from(["debrief_a_total".to_owned(), "up".to_owned()])
    );
    assert_eq!(
        labels,
        BTreeSet::from(["topic", "outcome", "reason", "job"].map(str::to_owned))
    );
    let (metrics, labels) = promql_names(
        "histogram_quantile(0.99, sum by (extractor, le) (rate(x_bucket[$__rate_interval])))",
    );
    assert_eq!(metrics, BTreeSet::from(["x_bucket".to_owned()]));
    assert_eq!(
        labels,
        BTreeSet::from(["extractor".to_owned(), "le".to_owned()])
    );
}

#[test]
fn expression_checks_reject_unknown_metrics_and_labels() {
    let typo = std::panic::catch_unwind(|| check_expr("rate(debrief_dead_letter_total[5m])", "t"));
    assert!(typo.is_err(), "a misspelt metric must be rejected");
    let label =
        std::panic::catch_unwind(|| check_expr("sum by (topic) (debrief_dead_letters_total)", "t"));
    assert!(
        label.is_err(),
        "a label the metric does not have must be rejected"
    );
    assert_eq!(
        check_expr(
            "histogram_quantile(0.5, sum by (le) (rate(debrief_insight_latency_seconds_bucket[1m])))",
            "t"
        ),
        BTreeSet::from(["debrief_insight_latency_seconds"])
    );
}

// ---------------------------------------------------------------------------------------------
// Every file parses

#[test]
fn every_yaml_json_and_toml_file_parses() {
    let mut files = vec![root().join("docker-compose.yml")];
    files_under(&root().join("deploy"), &mut files);
    let mut parsed = 0;
    for path in &files {
        let text = std::fs::read_to_string(path).expect("readable");
        let name = path.display();
        match path.extension().and_then(|e| e.to_str()) {
            Some("yml" | "yaml") => {
                for document in serde_yaml_ng::Deserializer::from_str(&text) {
                    serde_yaml_ng::Value::deserialize(document)
                        .unwrap_or_else(|e| panic!("{name}: {e}"));
                }
                parsed += 1;
            }
            Some("json") => {
                serde_json::from_str::<Json>(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
                parsed += 1;
            }
            Some("toml") => {
                Config::load_with(Some(path), "DEBRIEF_DEPLOY_TEST_TOML__", Vec::new())
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
                parsed += 1;
            }
            _ => {}
        }
    }
    // compose, debrief.toml, 6 k8s files, prometheus.yml, alerts.yml, 2 provisioning files,
    // the dashboard.
    assert!(parsed >= 13, "only {parsed} files found under deploy/");
}

// ---------------------------------------------------------------------------------------------
// docker-compose.yml

fn compose() -> Yaml {
    yaml("docker-compose.yml")
}

fn services(compose: &Yaml) -> BTreeMap<String, Yaml> {
    compose["services"]
        .as_mapping()
        .expect("compose has a services map")
        .iter()
        .map(|(k, v)| (str_of(k, "service name").to_owned(), v.clone()))
        .collect()
}

/// A service's environment as a map (compose accepts a map or a list of `K=V`).
fn environment(service: &Yaml) -> BTreeMap<String, String> {
    match &service["environment"] {
        Yaml::Null => BTreeMap::new(),
        Yaml::Mapping(map) => map
            .iter()
            .map(|(k, v)| (str_of(k, "variable").to_owned(), scalar(v)))
            .collect(),
        Yaml::Sequence(items) => items
            .iter()
            .map(|item| {
                let item = str_of(item, "environment entry");
                let (k, v) = item.split_once('=').unwrap_or((item, ""));
                (k.to_owned(), v.to_owned())
            })
            .collect(),
        other => panic!("environment: unexpected {other:?}"),
    }
}

/// A service's bind mounts as `(host path relative to the repository, container path)`.
fn bind_mounts(service: &Yaml) -> Vec<(String, String)> {
    let Some(volumes) = service["volumes"].as_sequence() else {
        return Vec::new();
    };
    volumes
        .iter()
        .filter_map(|volume| match volume {
            Yaml::String(short) => {
                let mut parts = short.split(':');
                let host = parts.next().unwrap_or_default();
                let container = parts.next().unwrap_or_default();
                host.starts_with("./").then(|| {
                    (
                        host.trim_start_matches("./").to_owned(),
                        container.to_owned(),
                    )
                })
            }
            long => (long["type"].as_str() == Some("bind")).then(|| {
                (
                    str_of(&long["source"], "volume source")
                        .trim_start_matches("./")
                        .to_owned(),
                    str_of(&long["target"], "volume target").to_owned(),
                )
            }),
        })
        .collect()
}

/// The repository file a container path of `service` comes from, through its bind mounts.
fn host_path_of(service: &Yaml, container_path: &str) -> Option<String> {
    bind_mounts(service).into_iter().find_map(|(host, target)| {
        if container_path == target {
            Some(host)
        } else {
            container_path
                .strip_prefix(&format!("{target}/"))
                .map(|rest| format!("{host}/{rest}"))
        }
    })
}

/// Published `host:container` port pairs of a service.
fn published_ports(service: &Yaml) -> Vec<(u16, u16)> {
    service["ports"]
        .as_sequence()
        .map(|ports| {
            ports
                .iter()
                .map(|p| {
                    let p = scalar(p);
                    let (host, container) = p.rsplit_once(':').unwrap_or((&p, &p));
                    (
                        host.parse().expect("numeric host port"),
                        container.parse().expect("numeric container port"),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn command_args(value: &Yaml) -> Vec<String> {
    match value {
        Yaml::Sequence(items) => items.iter().map(scalar).collect(),
        Yaml::String(s) => s.split_whitespace().map(str::to_owned).collect(),
        Yaml::Null => Vec::new(),
        other => panic!("command: unexpected {other:?}"),
    }
}

/// The value following `flag` in an argument list (`--config FILE` or `--config=FILE`).
fn flag_value(args: &[String], flag: &str) -> Option<String> {
    args.iter().enumerate().find_map(|(i, arg)| {
        if arg == flag {
            args.get(i + 1).cloned()
        } else {
            arg.strip_prefix(&format!("{flag}=")).map(str::to_owned)
        }
    })
}

#[test]
fn compose_dependencies_name_existing_services() {
    let services = services(&compose());
    for required in [
        "kafka",
        "schema-registry",
        "debrief",
        "prometheus",
        "grafana",
    ] {
        assert!(
            services.contains_key(required),
            "compose lacks service `{required}`"
        );
    }
    for (name, service) in &services {
        let targets: Vec<String> = match &service["depends_on"] {
            Yaml::Null => Vec::new(),
            Yaml::Sequence(list) => list
                .iter()
                .map(|t| str_of(t, "depends_on").to_owned())
                .collect(),
            Yaml::Mapping(map) => map
                .keys()
                .map(|t| str_of(t, "depends_on").to_owned())
                .collect(),
            other => panic!("{name}.depends_on: unexpected {other:?}"),
        };
        for target in targets {
            assert_ne!(&target, name, "{name} depends on itself");
            assert!(
                services.contains_key(&target),
                "{name} depends on unknown service `{target}`"
            );
        }
    }
}

#[test]
fn compose_bind_mounts_exist_in_the_repository() {
    let mut mounts = 0;
    for (name, service) in services(&compose()) {
        for (host, _) in bind_mounts(&service) {
            assert!(
                root().join(&host).exists(),
                "{name} mounts missing ./{host}"
            );
            mounts += 1;
        }
    }
    assert!(
        mounts >= 5,
        "expected the config, Prometheus and Grafana mounts, found {mounts}"
    );
}

#[test]
fn compose_debrief_is_wired_to_kafka_the_registry_and_its_config() {
    let services = services(&compose());
    let debrief = &services["debrief"];
    let env = environment(debrief);
    for key in env.keys() {
        assert!(
            key.starts_with("DEBRIEF__"),
            "debrief service sets non-DEBRIEF__ variable {key}"
        );
    }

    // Brokers: every entry is an advertised listener of a compose Kafka service.
    let brokers = env
        .get("DEBRIEF__KAFKA__BROKERS")
        .expect("DEBRIEF__KAFKA__BROKERS is set");
    for broker in brokers.split(',') {
        let (host, port) = host_port(broker);
        let kafka = services
            .get(&host)
            .unwrap_or_else(|| panic!("broker host `{host}` is not a compose service"));
        let advertised = environment(kafka)
            .get("KAFKA_ADVERTISED_LISTENERS")
            .cloned()
            .expect("Kafka advertises its listeners");
        let listens = advertised
            .split(',')
            .map(host_port)
            .any(|(h, p)| h == host && p == port);
        assert!(
            listens,
            "{broker} is not among {host}'s advertised listeners {advertised}"
        );
        let kafka_depended_on = debrief["depends_on"]
            .as_mapping()
            .map(|m| {
                m.keys()
                    .any(|k| k.as_str() == Some(&host) || k.as_str() == Some("kafka-init"))
            })
            .unwrap_or(false);
        assert!(
            kafka_depended_on,
            "debrief starts before {host} (or its topic init)"
        );
    }

    // Encoding and registry.
    let encoding = env
        .get("DEBRIEF__ENCODING")
        .expect("DEBRIEF__ENCODING is set");
    assert!(
        ["avro_single_object", "confluent", "json"].contains(&encoding.as_str()),
        "unknown encoding {encoding}"
    );
    if encoding == "confluent" {
        let url = env
            .get("DEBRIEF__SCHEMA_REGISTRY__URL")
            .expect("the confluent encoding needs DEBRIEF__SCHEMA_REGISTRY__URL");
        let (host, port) = host_port(url);
        let registry = services
            .get(&host)
            .unwrap_or_else(|| panic!("registry host `{host}` is not a compose service"));
        let listeners = environment(registry)
            .get("SCHEMA_REGISTRY_LISTENERS")
            .cloned()
            .expect("the registry names its listeners");
        assert!(
            listeners.split(',').map(host_port).any(|(_, p)| p == port),
            "registry port {port} is not among {listeners}"
        );
    }

    // Metrics port: listened on, published.
    let listen = env
        .get("DEBRIEF__HTTP__LISTEN")
        .expect("DEBRIEF__HTTP__LISTEN is set");
    assert_eq!(host_port(listen), ("0.0.0.0".to_owned(), HTTP_PORT));
    assert!(
        published_ports(debrief)
            .iter()
            .any(|&(_, c)| c == HTTP_PORT),
        "port {HTTP_PORT} is not published"
    );

    // Built from this repository's Dockerfile, run with the mounted config file.
    let dockerfile = debrief["build"]["dockerfile"]
        .as_str()
        .unwrap_or("Dockerfile");
    let context = debrief["build"]["context"].as_str().unwrap_or(".");
    assert!(
        root().join(context).join(dockerfile).is_file(),
        "missing {context}/{dockerfile}"
    );
    let args = command_args(&debrief["command"]);
    assert_eq!(
        args.first().map(String::as_str),
        Some("run"),
        "debrief must run `debrief run`"
    );
    let config = flag_value(&args, "--config").expect("debrief run --config FILE");
    assert_eq!(config, CONFIG_PATH);
    assert_eq!(
        host_path_of(debrief, CONFIG_PATH).as_deref(),
        Some("deploy/debrief.toml"),
        "{CONFIG_PATH} must be mounted from deploy/debrief.toml"
    );
}

/// Loads `deploy/debrief.toml` with `env` (DEBRIEF__ names) through Debrief's own loader,
/// under a prefix private to this test so the process environment cannot interfere.
fn load_config(env: &BTreeMap<String, String>, private_prefix: &str) -> Config {
    let mut options = Vec::new();
    for (key, value) in env {
        let rest = key
            .strip_prefix("DEBRIEF__")
            .unwrap_or_else(|| panic!("{key} is not a DEBRIEF__ variable"));
        let private = format!("{private_prefix}{rest}");
        options.push((private.clone(), value.clone()));
        // Config::load_with reads every variable but kafka.options from the process
        // environment; the prefix is unique to the calling test.
        std::env::set_var(&private, value);
    }
    Config::load_with(
        Some(&root().join("deploy/debrief.toml")),
        private_prefix,
        options,
    )
    .unwrap_or_else(|e| panic!("deploy/debrief.toml with {env:?} is rejected: {e}"))
}

#[test]
fn compose_configuration_is_accepted_by_debrief() {
    let services = services(&compose());
    let env = environment(&services["debrief"]);
    let config = load_config(&env, "DEBRIEF_DEPLOY_TEST_COMPOSE__");
    assert_eq!(
        config.kafka.brokers.to_string(),
        env["DEBRIEF__KAFKA__BROKERS"]
    );
    assert_eq!(config.http.listen.to_string(), env["DEBRIEF__HTTP__LISTEN"]);
    assert_eq!(
        config
            .schema_registry
            .url
            .as_ref()
            .map(|u| u.as_str().trim_end_matches('/')),
        env.get("DEBRIEF__SCHEMA_REGISTRY__URL").map(String::as_str)
    );
}

#[test]
fn compose_creates_every_topic_debrief_reads_and_writes() {
    let services = services(&compose());
    let init = command_args(&services["kafka-init"]["command"]).join(" ");
    let config = load_config(&BTreeMap::new(), "DEBRIEF_DEPLOY_TEST_TOPICS__");
    let mut topics = config.kafka.topics.transcripts.clone();
    topics.extend([
        config.kafka.topics.tenant_config.clone(),
        config.kafka.topics.telemetry.clone(),
        config.kafka.topics.dead_letter.clone(),
        config.kafka.topics.conversation_index.clone(),
        config.kafka.topics.erasure.clone(),
        config.kafka.topics.erasure_ledger.clone(),
        config.kafka.topics.audit.clone(),
        config.crm.dynamics.clone(),
        config.crm.salesforce.clone(),
    ]);
    for topic in topics {
        assert!(
            init.contains(&format!("create {topic} ")),
            "kafka-init does not create {topic}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Prometheus

#[test]
fn prometheus_scrapes_debrief_metrics_on_9464_and_loads_the_alerts() {
    let services = services(&compose());
    let prometheus = &services["prometheus"];
    let args = command_args(&prometheus["command"]);
    let config_path =
        flag_value(&args, "--config.file").unwrap_or("/etc/prometheus/prometheus.yml".into());
    let config_file = host_path_of(prometheus, &config_path)
        .unwrap_or_else(|| panic!("{config_path} is not mounted into prometheus"));
    assert_eq!(config_file, "deploy/prometheus/prometheus.yml");
    let config = yaml(&config_file);

    let debrief_port = host_port(&environment(&services["debrief"])["DEBRIEF__HTTP__LISTEN"]).1;
    let jobs = seq_of(&config["scrape_configs"], "scrape_configs");
    let job = jobs
        .iter()
        .find(|j| j["job_name"].as_str() == Some("debrief"))
        .expect("a scrape job named debrief (the alerts select job=\"debrief\")");
    assert_eq!(
        job["metrics_path"].as_str().unwrap_or("/metrics"),
        "/metrics"
    );
    let targets: Vec<(String, u16)> = seq_of(&job["static_configs"], "static_configs")
        .iter()
        .flat_map(|sc| {
            seq_of(&sc["targets"], "targets")
                .iter()
                .map(|t| host_port(str_of(t, "target")))
        })
        .collect();
    assert!(!targets.is_empty(), "the debrief job has no targets");
    for (host, port) in &targets {
        assert!(
            services.contains_key(host),
            "scrape target host `{host}` is not a compose service"
        );
        assert_eq!(host, "debrief");
        assert_eq!(
            *port, debrief_port,
            "scrape port differs from DEBRIEF__HTTP__LISTEN"
        );
        assert_eq!(*port, HTTP_PORT);
    }

    let rule_files = seq_of(&config["rule_files"], "rule_files");
    assert!(!rule_files.is_empty(), "no alert rules are loaded");
    for rule_file in rule_files {
        let inside = str_of(rule_file, "rule file");
        let host = host_path_of(prometheus, inside)
            .unwrap_or_else(|| panic!("rule file {inside} is not mounted into prometheus"));
        assert!(
            root().join(&host).is_file(),
            "rule file {host} does not exist"
        );
    }
}

#[test]
fn alert_rules_use_debrief_metrics_and_cover_lag_dead_letters_and_p99_latency() {
    let alerts = yaml("deploy/prometheus/alerts.yml");
    let mut names = BTreeSet::new();
    let mut used = BTreeSet::new();
    let mut p99_latency = false;
    for group in seq_of(&alerts["groups"], "groups") {
        for rule in seq_of(&group["rules"], "rules") {
            let name = str_of(&rule["alert"], "alert name");
            assert!(
                names.insert(name.to_owned()),
                "alert {name} is defined twice"
            );
            let expr = str_of(&rule["expr"], "expr");
            used.extend(check_expr(expr, name));
            assert!(
                ["critical", "warning", "info"]
                    .contains(&str_of(&rule["labels"]["severity"], "severity")),
                "{name}: severity must be critical, warning or info"
            );
            assert!(
                !str_of(&rule["annotations"]["summary"], "summary").is_empty(),
                "{name}: empty summary"
            );
            if expr.contains("histogram_quantile(0.99")
                && expr.contains("debrief_insight_latency_seconds_bucket")
            {
                p99_latency = true;
            }
        }
    }
    for metric in ["debrief_consumer_lag", "debrief_dead_letters_total"] {
        assert!(used.contains(metric), "no alert on {metric}");
    }
    assert!(
        p99_latency,
        "no alert on the p99 of debrief_insight_latency_seconds"
    );
}

// ---------------------------------------------------------------------------------------------
// Grafana

/// Every `expr` in a dashboard, with the title of the panel that holds it.
fn dashboard_exprs(value: &Json, panel: &str, out: &mut Vec<(String, String)>) {
    match value {
        Json::Object(map) => {
            let title = map
                .get("title")
                .and_then(Json::as_str)
                .unwrap_or(panel)
                .to_owned();
            for (key, child) in map {
                if key == "expr" {
                    out.push((
                        title.clone(),
                        child.as_str().expect("expr is text").to_owned(),
                    ));
                } else {
                    dashboard_exprs(child, &title, out);
                }
            }
        }
        Json::Array(items) => items.iter().for_each(|i| dashboard_exprs(i, panel, out)),
        _ => {}
    }
}

/// Every datasource uid a dashboard refers to.
fn datasource_uids(value: &Json, out: &mut BTreeSet<String>) {
    match value {
        Json::Object(map) => {
            if let Some(uid) = map
                .get("datasource")
                .and_then(|d| d.get("uid"))
                .and_then(Json::as_str)
            {
                out.insert(uid.to_owned());
            }
            map.values().for_each(|v| datasource_uids(v, out));
        }
        Json::Array(items) => items.iter().for_each(|i| datasource_uids(i, out)),
        _ => {}
    }
}

#[test]
fn dashboard_shows_every_debrief_metric_and_nothing_else() {
    let dashboard = json("deploy/grafana/dashboards/debrief.json");
    let mut exprs = Vec::new();
    dashboard_exprs(&dashboard, "dashboard", &mut exprs);
    assert!(!exprs.is_empty(), "the dashboard has no queries");
    let mut used = BTreeSet::new();
    for (panel, expr) in &exprs {
        used.extend(check_expr(expr, panel));
    }
    let all: BTreeSet<&str> = METRICS.iter().map(|(name, _)| *name).collect();
    assert_eq!(used, all, "metrics missing from the dashboard");

    let mut ids = BTreeSet::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        let id = panel["id"].as_i64().expect("every panel has a numeric id");
        assert!(ids.insert(id), "panel id {id} is used twice");
    }
}

#[test]
fn grafana_provisioning_matches_the_compose_mounts_and_the_prometheus_service() {
    let services = services(&compose());
    let grafana = &services["grafana"];
    let provisioning = "/etc/grafana/provisioning";

    // Datasource: points at the prometheus service, with the uid the dashboard uses.
    let datasource_dir = host_path_of(grafana, &format!("{provisioning}/datasources"))
        .expect("datasources provisioning is mounted");
    let datasources = yaml(&format!("{datasource_dir}/prometheus.yml"));
    let datasource = &seq_of(&datasources["datasources"], "datasources")[0];
    assert_eq!(str_of(&datasource["type"], "type"), "prometheus");
    let (host, port) = host_port(str_of(&datasource["url"], "url"));
    assert!(
        services.contains_key(&host),
        "datasource host `{host}` is not a compose service"
    );
    assert_eq!(host, "prometheus");
    assert_eq!(port, 9090, "Prometheus listens on 9090");
    assert!(published_ports(&services["prometheus"])
        .iter()
        .any(|&(_, c)| c == port));
    let uid = str_of(&datasource["uid"], "uid");

    // Dashboards provider: reads the directory the dashboard JSON is mounted into.
    let dashboards_dir = host_path_of(grafana, &format!("{provisioning}/dashboards"))
        .expect("dashboards provisioning is mounted");
    let providers = yaml(&format!("{dashboards_dir}/debrief.yml"));
    let provider = &seq_of(&providers["providers"], "providers")[0];
    let inside = str_of(&provider["options"]["path"], "provider path");
    let host_dir = host_path_of(grafana, inside)
        .unwrap_or_else(|| panic!("dashboard path {inside} is not mounted into grafana"));
    assert_eq!(host_dir, "deploy/grafana/dashboards");
    let dashboard = json(&format!("{host_dir}/debrief.json"));
    let mut uids = BTreeSet::new();
    datasource_uids(&dashboard, &mut uids);
    assert_eq!(
        uids,
        BTreeSet::from([uid.to_owned()]),
        "dashboard datasource uids"
    );
}

// ---------------------------------------------------------------------------------------------
// Dockerfile

/// Dockerfile instructions as `(INSTRUCTION, arguments)`, continuation lines joined.
fn dockerfile() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in read("Dockerfile").lines() {
        let trimmed = line.trim();
        if current.is_empty() && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        if let Some(body) = trimmed.strip_suffix('\\') {
            current.push_str(body);
            current.push(' ');
            continue;
        }
        current.push_str(trimmed);
        let (instruction, args) = current
            .split_once(char::is_whitespace)
            .unwrap_or((&current, ""));
        out.push((instruction.to_ascii_uppercase(), args.trim().to_owned()));
        current.clear();
    }
    out
}

fn exec_form(args: &str) -> Vec<String> {
    serde_json::from_str(args).unwrap_or_else(|e| panic!("`{args}` is not exec (JSON) form: {e}"))
}

#[test]
fn dockerfile_builds_the_debrief_binary_and_runs_it_with_the_config() {
    let instructions = dockerfile();
    let stages: Vec<&String> = instructions
        .iter()
        .filter(|(i, _)| i == "FROM")
        .map(|(_, a)| a)
        .collect();
    assert!(
        stages.len() >= 2,
        "the Dockerfile must be multi-stage: {stages:?}"
    );
    let builder = stages[0]
        .rsplit_once(" AS ")
        .or_else(|| stages[0].rsplit_once(" as "))
        .map(|(_, name)| name.trim().to_owned())
        .expect("the first stage is named (FROM ... AS builder)");

    // The binary: a [[bin]] of Cargo.toml, built in release mode from the lock file.
    let manifest: toml_names::Manifest = toml_names::bins(&read("Cargo.toml"));
    let run = instructions
        .iter()
        .find(|(i, a)| i == "RUN" && a.contains("cargo build"))
        .map(|(_, a)| a.clone())
        .expect("a RUN cargo build");
    assert!(
        run.contains("--release") && run.contains("--locked"),
        "{run}"
    );
    let bin = run
        .split_whitespace()
        .skip_while(|w| *w != "--bin")
        .nth(1)
        .expect("cargo build --bin NAME");
    assert!(
        manifest.bins.contains(&bin.to_owned()),
        "{bin} is not a [[bin]] of Cargo.toml"
    );
    let built = format!("target/release/{bin}");
    assert!(run.contains(&built), "the RUN does not use {built}");

    // What the build stage installs is what the final stage copies and runs.
    let (from_builder, destination) = instructions
        .iter()
        .filter(|(i, _)| i == "COPY")
        .find_map(|(_, a)| {
            let rest = a.strip_prefix(&format!("--from={builder} "))?;
            let mut parts = rest.split_whitespace();
            Some((parts.next()?.to_owned(), parts.next()?.to_owned()))
        })
        .expect("COPY --from=<builder> BINARY DEST");
    assert!(
        run.contains(&format!("{built} {from_builder}")),
        "the build stage does not put {built} at {from_builder}"
    );
    let entrypoint = instructions
        .iter()
        .rfind(|(i, _)| i == "ENTRYPOINT")
        .map(|(_, a)| exec_form(a))
        .expect("an ENTRYPOINT");
    assert_eq!(
        entrypoint,
        vec![destination.clone()],
        "ENTRYPOINT runs the copied binary"
    );
    let cmd = instructions
        .iter()
        .rfind(|(i, _)| i == "CMD")
        .map(|(_, a)| exec_form(a))
        .expect("a CMD");
    assert_eq!(cmd.first().map(String::as_str), Some("run"));
    assert_eq!(flag_value(&cmd, "--config").as_deref(), Some(CONFIG_PATH));

    // The default config file comes from the repository; the port is exposed; the only
    // environment is Debrief's.
    let copies_config = instructions.iter().any(|(i, a)| {
        i == "COPY" && {
            let parts: Vec<&str> = a.split_whitespace().collect();
            parts.len() == 2 && parts[1] == CONFIG_PATH && root().join(parts[0]).is_file()
        }
    });
    assert!(
        copies_config,
        "the image must carry a repository file at {CONFIG_PATH}"
    );
    assert!(
        instructions
            .iter()
            .any(|(i, a)| i == "EXPOSE" && a.split_whitespace().any(|p| p == HTTP_PORT.to_string())),
        "EXPOSE {HTTP_PORT}"
    );
    for (_, args) in instructions.iter().filter(|(i, _)| i == "ENV") {
        let key = args.split(['=', ' ']).next().unwrap_or_default();
        assert!(
            key.starts_with("DEBRIEF__"),
            "ENV {key} is not a DEBRIEF__ variable"
        );
    }
}

/// The `[[bin]]` names of Cargo.toml, read without a TOML dependency (Cargo.toml is small and
/// regular): every `name = "..."` line inside a `[[bin]]` table.
mod toml_names {
    pub struct Manifest {
        pub bins: Vec<String>,
    }

    pub fn bins(text: &str) -> Manifest {
        let mut bins = Vec::new();
        let mut in_bin = false;
        for line in text.lines().map(str::trim) {
            if line.starts_with('[') {
                in_bin = line == "[[bin]]";
            } else if in_bin {
                if let Some(value) = line.strip_prefix("name") {
                    let value = value.trim_start().trim_start_matches('=').trim();
                    bins.push(value.trim_matches('"').to_owned());
                }
            }
        }
        Manifest { bins }
    }
}

// ---------------------------------------------------------------------------------------------
// Kubernetes

fn k8s(file: &str) -> Yaml {
    yaml(&format!("deploy/k8s/{file}"))
}

fn debrief_container(deployment: &Yaml) -> &Yaml {
    seq_of(
        &deployment["spec"]["template"]["spec"]["containers"],
        "containers",
    )
    .iter()
    .find(|c| c["name"].as_str() == Some("debrief"))
    .expect("a container named debrief")
}

/// The container's plain `value:` variables (those from `valueFrom` map to `None`).
fn container_env(container: &Yaml) -> BTreeMap<String, Option<String>> {
    seq_of(&container["env"], "env")
        .iter()
        .map(|e| {
            (
                str_of(&e["name"], "env name").to_owned(),
                e["value"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

/// Resolves a probe's or annotation's port (a number or a container port name) to a number.
fn resolve_port(container: &Yaml, port: &Yaml) -> u16 {
    match port {
        Yaml::Number(n) => n
            .as_u64()
            .and_then(|n| u16::try_from(n).ok())
            .expect("port number"),
        Yaml::String(name) => seq_of(&container["ports"], "ports")
            .iter()
            .find(|p| p["name"].as_str() == Some(name))
            .and_then(|p| p["containerPort"].as_u64())
            .and_then(|n| u16::try_from(n).ok())
            .unwrap_or_else(|| panic!("no container port named {name}")),
        other => panic!("port: unexpected {other:?}"),
    }
}

#[test]
fn k8s_probes_check_healthz_and_readyz_on_the_metrics_port() {
    let deployment = k8s("deployment.yaml");
    let container = debrief_container(&deployment);
    let env = container_env(container);
    let listen = env["DEBRIEF__HTTP__LISTEN"]
        .clone()
        .expect("a literal listen address");
    let port = host_port(&listen).1;
    assert_eq!(port, HTTP_PORT);
    for (probe, path) in [
        ("livenessProbe", "/healthz"),
        ("readinessProbe", "/readyz"),
        ("startupProbe", "/healthz"),
    ] {
        let get = &container[probe]["httpGet"];
        assert_eq!(get["path"].as_str(), Some(path), "{probe} path");
        assert_eq!(resolve_port(container, &get["port"]), port, "{probe} port");
    }
    let annotations = &deployment["spec"]["template"]["metadata"]["annotations"];
    assert_eq!(annotations["prometheus.io/port"].as_str(), Some("9464"));
    assert_eq!(annotations["prometheus.io/path"].as_str(), Some("/metrics"));
    let service = k8s("service.yaml");
    let service_port = &seq_of(&service["spec"]["ports"], "service ports")[0];
    assert_eq!(resolve_port(container, &service_port["targetPort"]), port);
}

#[test]
fn k8s_configuration_is_the_config_file_and_debrief_accepts_it() {
    let configmap = k8s("configmap.yaml");
    let deployment = k8s("deployment.yaml");
    let container = debrief_container(&deployment);

    // The ConfigMap carries deploy/debrief.toml verbatim.
    let name = str_of(&configmap["metadata"]["name"], "ConfigMap name");
    let (file_name, text) = configmap["data"]
        .as_mapping()
        .and_then(|m| m.iter().next())
        .map(|(k, v)| (str_of(k, "key").to_owned(), str_of(v, "value").to_owned()))
        .expect("the ConfigMap has one file");
    assert_eq!(
        text,
        read("deploy/debrief.toml"),
        "configmap.yaml differs from deploy/debrief.toml"
    );

    // It is mounted where `--config` points.
    let volume = seq_of(
        &deployment["spec"]["template"]["spec"]["volumes"],
        "volumes",
    )
    .iter()
    .find(|v| v["configMap"]["name"].as_str() == Some(name))
    .unwrap_or_else(|| panic!("no volume uses ConfigMap {name}"));
    let volume_name = str_of(&volume["name"], "volume name");
    let mount = seq_of(&container["volumeMounts"], "volumeMounts")
        .iter()
        .find(|m| m["name"].as_str() == Some(volume_name))
        .expect("the config volume is mounted");
    let mounted_at = format!("{}/{file_name}", str_of(&mount["mountPath"], "mountPath"));
    let args: Vec<String> = seq_of(&container["args"], "args")
        .iter()
        .map(scalar)
        .collect();
    assert_eq!(args.first().map(String::as_str), Some("run"));
    assert_eq!(flag_value(&args, "--config"), Some(mounted_at));

    // Every variable is Debrief's, and Debrief accepts the file with the literal ones.
    let env = container_env(container);
    for key in env.keys() {
        assert!(
            key.starts_with("DEBRIEF__"),
            "container sets non-DEBRIEF__ variable {key}"
        );
    }
    let literal: BTreeMap<String, String> = env
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect();
    let config = load_config(&literal, "DEBRIEF_DEPLOY_TEST_K8S__");

    // Kubernetes waits long enough for the graceful shutdown: drain (shutdown_deadline_ms),
    // then flush and a synchronous commit, for which 10 s more are allowed.
    let grace_s = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        .as_u64()
        .expect("terminationGracePeriodSeconds is set");
    assert!(
        grace_s * 1000 >= config.shutdown_deadline.as_millis() as u64 + 10_000,
        "terminationGracePeriodSeconds {grace_s} s leaves no room after shutdown_deadline_ms {}",
        config.shutdown_deadline.as_millis()
    );
}

#[test]
fn k8s_selectors_resources_and_kustomization_are_consistent() {
    let deployment = k8s("deployment.yaml");
    let pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        .as_mapping()
        .expect("pod labels")
        .clone();
    let selects_pods = |selector: &Yaml, what: &str| {
        let wanted = selector
            .as_mapping()
            .unwrap_or_else(|| panic!("{what}: no selector"));
        assert!(!wanted.is_empty(), "{what}: empty selector");
        for (k, v) in wanted {
            assert_eq!(
                pod_labels.get(k),
                Some(v),
                "{what}: selector {k:?} does not match the pods"
            );
        }
    };
    selects_pods(&deployment["spec"]["selector"]["matchLabels"], "Deployment");
    selects_pods(
        &k8s("pdb.yaml")["spec"]["selector"]["matchLabels"],
        "PodDisruptionBudget",
    );
    selects_pods(&k8s("service.yaml")["spec"]["selector"], "Service");

    let hpa = k8s("hpa.yaml");
    let target = &hpa["spec"]["scaleTargetRef"];
    assert_eq!(target["kind"].as_str(), Some("Deployment"));
    assert_eq!(target["name"], deployment["metadata"]["name"]);
    let (min, max) = (
        hpa["spec"]["minReplicas"].as_u64().expect("minReplicas"),
        hpa["spec"]["maxReplicas"].as_u64().expect("maxReplicas"),
    );
    assert!(min >= 2 && min <= max, "HPA replicas {min}..{max}");
    let pdb = k8s("pdb.yaml");
    assert!(
        pdb["spec"]["maxUnavailable"]
            .as_u64()
            .is_some_and(|n| n < min),
        "the PodDisruptionBudget must keep at least one member running"
    );

    let container = debrief_container(&deployment);
    for key in ["cpu", "memory"] {
        assert!(
            !container["resources"]["requests"][key].is_null(),
            "no {key} request"
        );
    }
    assert!(
        !container["resources"]["limits"]["memory"].is_null(),
        "no memory limit"
    );

    // kustomization.yaml lists every manifest in the directory, and only existing ones.
    let kustomization = k8s("kustomization.yaml");
    let listed: BTreeSet<String> = seq_of(&kustomization["resources"], "resources")
        .iter()
        .map(|r| str_of(r, "resource").to_owned())
        .collect();
    let mut present = BTreeSet::new();
    for entry in std::fs::read_dir(root().join("deploy/k8s")).expect("deploy/k8s") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        if name.ends_with(".yaml") && name != "kustomization.yaml" {
            present.insert(name);
        }
    }
    assert_eq!(
        listed, present,
        "kustomization.yaml resources vs files in deploy/k8s"
    );
}
