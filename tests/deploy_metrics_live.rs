//! Every metric the deployment files query is one Debrief really exports (issue 16 item 4):
//! the names are parsed from the Prometheus alert rules and the Grafana dashboard in `deploy/`,
//! and looked up in the live `/metrics` output of `debrief demo` (mock cluster, nothing to
//! install). `tests/deploy_files.rs` checks the same files against the list in its own source;
//! this test checks them against what the binary serves.

mod common;

use common::child::{hold_demo, Announces};

use serde_json::Value as Json;
use serde_yaml_ng::Value as Yaml;
use std::collections::BTreeSet;
use std::path::Path;

const BIN: &str = env!("CARGO_BIN_EXE_debrief");

fn read(relative: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The `debrief_*` identifiers in a PromQL expression (label values are quoted strings and
/// never contain `debrief_` followed by a name here; `topic="debrief.…"` has a dot).
fn debrief_names(expr: &str) -> BTreeSet<String> {
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    let mut names = BTreeSet::new();
    let mut rest = expr;
    while let Some(at) = rest.find("debrief_") {
        let before = rest[..at].chars().next_back();
        let tail = &rest[at..];
        let end = tail.find(|c: char| !is_name(c)).unwrap_or(tail.len());
        if !before.is_some_and(is_name) {
            names.insert(tail[..end].to_string());
        }
        rest = &tail[end..];
    }
    names
}

/// Every `expr` string anywhere in a Grafana dashboard.
fn dashboard_exprs(value: &Json, out: &mut Vec<String>) {
    match value {
        Json::Object(map) => {
            for (key, child) in map {
                match (key.as_str(), child) {
                    ("expr", Json::String(expr)) => out.push(expr.clone()),
                    _ => dashboard_exprs(child, out),
                }
            }
        }
        Json::Array(items) => items.iter().for_each(|i| dashboard_exprs(i, out)),
        _ => {}
    }
}

/// Metric names the deployment files use, with where each is used; recorded series (rules
/// with `record:`) are Prometheus's own and left out.
fn used_metrics() -> Vec<(String, String)> {
    let mut used = Vec::new();
    let mut recorded = BTreeSet::new();
    let rules: Yaml = serde_yaml_ng::from_str(&read("deploy/prometheus/alerts.yml")).unwrap();
    for group in rules["groups"].as_sequence().expect("rule groups") {
        for rule in group["rules"].as_sequence().expect("rules") {
            if let Some(record) = rule["record"].as_str() {
                recorded.insert(record.to_string());
            }
            let name = rule["alert"].as_str().or(rule["record"].as_str());
            let expr = rule["expr"].as_str().expect("every rule has an expr");
            for metric in debrief_names(expr) {
                used.push((metric, format!("alert rule {}", name.unwrap_or("?"))));
            }
        }
    }
    let dashboards = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/grafana/dashboards");
    for entry in std::fs::read_dir(&dashboards).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let dashboard: Json = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let mut exprs = Vec::new();
        dashboard_exprs(&dashboard, &mut exprs);
        for expr in exprs {
            for metric in debrief_names(&expr) {
                used.push((metric, format!("dashboard {}", name)));
            }
        }
    }
    used.retain(|(metric, _)| !recorded.contains(metric));
    used
}

/// Names a Prometheus text exposition exports: every sample's series name (histograms give
/// `_bucket`, `_sum`, `_count`) and every family named in a `# TYPE` line.
fn exported(exposition: &str) -> BTreeSet<String> {
    exposition
        .lines()
        .filter_map(|line| match line.strip_prefix("# TYPE ") {
            Some(rest) => rest.split_whitespace().next(),
            None if line.starts_with('#') => None,
            None => line.split(['{', ' ']).next(),
        })
        .filter(|name| !name.is_empty())
        .map(str::to_string)
        .collect()
}

/// One HTTP/1.1 GET over a plain TCP connection; returns the body.
fn http_get(addr: &str, path: &str) -> String {
    let out = common::http_get(addr, path);
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    out.split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
        .unwrap_or_default()
}

/// The `/metrics` text of a running `debrief demo` once every sample has its insight.
fn live_demo_metrics() -> String {
    let mut demo = hold_demo(
        BIN,
        &["--metrics-addr", "127.0.0.1:0", "--hold-ms", "600000"],
        Announces::Stdout,
        |line| line.contains("stay up for 600000 ms"),
    );
    let metrics = http_get(&demo.addr, "/metrics");
    let _ = demo.child.kill();
    let _ = demo.child.wait();
    metrics
}

#[test]
fn promql_names_are_found_and_label_values_are_not() {
    assert_eq!(
        debrief_names(
            r#"sum by (topic) (rate(debrief_records_consumed_total{topic="debrief.transcripts.v1"}[5m])) / x_debrief_y"#
        ),
        BTreeSet::from(["debrief_records_consumed_total".to_string()])
    );
    let text = "# HELP debrief_a A.\n# TYPE debrief_a histogram\ndebrief_a_bucket{le=\"1\"} 1\ndebrief_b 2\n";
    assert_eq!(
        exported(text),
        BTreeSet::from(["debrief_a", "debrief_a_bucket", "debrief_b"].map(String::from))
    );
}

#[test]
fn every_metric_a_dashboard_or_alert_uses_is_on_the_live_metrics_endpoint() {
    let used = used_metrics();
    assert!(
        used.iter().any(|(m, _)| m == "debrief_dead_letters_total"),
        "the parser found no metric: {used:?}"
    );
    let live = exported(&live_demo_metrics());
    let missing: BTreeSet<String> = used
        .iter()
        .filter(|(metric, _)| !live.contains(metric))
        .map(|(metric, place)| format!("{metric} (used by {place})"))
        .collect();
    assert!(
        missing.is_empty(),
        "not exported on /metrics:\n{}",
        missing.into_iter().collect::<Vec<_>>().join("\n")
    );
}
