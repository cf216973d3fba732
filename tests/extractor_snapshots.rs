//! Every extractor over every example conversation (`examples/*.jsonl`, `examples/*.vtt`),
//! as `insta` snapshots in `tests/snapshots/`: a change in any extractor's output shows as a
//! diff to review (`cargo insta review`, or accept with `INSTA_UPDATE=always`). The snapshots
//! record what the code gives, so they guard against unintended change; correctness is
//! checked by the unit tests with hand-computed expectations.
//!
//! Each conversation goes through what `debrief process --config examples/tenant.yaml` does:
//! the tenant's side rules, then language detection, KPIs and questions, trackers, action
//! items (against the conversation's start time, else 2026-11-16T15:00:00+00:00, in
//! Europe/London), and the whole insight.

use debrief::extract::{action_items, analyse, kpis, language, ExtractContext, Settings};
use debrief::ingest::files;
use debrief::insight::FinalisedBy;
use debrief::model::Conversation;
use debrief::tenant::{apply_tenant_sides, TenantConfig, TenantRuntime};
use std::path::{Path, PathBuf};

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

/// Every conversation of every example file, named `<file>__<conversation id>`.
fn examples() -> Vec<(String, Conversation)> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(examples_dir())
        .expect("examples/")
        .map(|e| e.expect("examples/ entry").path())
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("jsonl" | "vtt")
            )
        })
        .collect();
    paths.sort();
    let mut out = Vec::new();
    for path in paths {
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("file");
        for conv in files::open(&path).expect("open an example") {
            let conv = conv.expect("the examples read without error");
            out.push((format!("{stem}__{}", conv.id), conv));
        }
    }
    out
}

fn tenant() -> TenantRuntime {
    let config = TenantConfig::from_path(&examples_dir().join("tenant.yaml")).expect("tenant.yaml");
    TenantRuntime::compile(config).expect("tenant.yaml compiles")
}

#[test]
fn every_extractor_over_every_example() {
    let tenant = tenant();
    let settings = Settings {
        default_time_zone: "Europe/London".to_string(),
        ..Settings::default()
    };
    let reference = chrono::DateTime::parse_from_rfc3339("2026-11-16T15:00:00+00:00").ok();
    let convs = examples();
    assert!(
        convs.len() >= 6,
        "the examples hold {} conversations",
        convs.len()
    );
    for (name, mut conv) in convs {
        apply_tenant_sides(&mut conv, &tenant.config);
        conv.tenant_id = tenant.config.tenant_id.clone();
        let report = language::detect(&conv);
        let lang = report.code.clone().unwrap_or_else(|| "en".to_string());
        insta::assert_json_snapshot!(format!("{name}__language"), report);
        let (kpis, questions) = kpis::compute(&conv, &lang);
        insta::assert_json_snapshot!(format!("{name}__kpis"), kpis);
        insta::assert_json_snapshot!(format!("{name}__questions"), questions);
        let (hits, counts) = tenant.trackers.find(&conv, &lang);
        insta::assert_json_snapshot!(format!("{name}__tracker_hits"), hits);
        insta::assert_json_snapshot!(format!("{name}__tracker_counts"), counts);
        let items = action_items::extract(
            &conv,
            &lang,
            conv.started_at.or(reference),
            conv.time_zone.as_deref().unwrap_or("Europe/London"),
        );
        insta::assert_json_snapshot!(format!("{name}__action_items"), items);
        let ctx = ExtractContext {
            settings: &settings,
            tenant: Some(&tenant),
            finalised_by: FinalisedBy::File,
            reference_time: reference,
        };
        insta::assert_json_snapshot!(format!("{name}__insight"), analyse(&conv, &ctx));
    }
}
