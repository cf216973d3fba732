//! `debrief report` end to end: a generated telemetry file (and, with a broker, the same
//! records on a topic) → the HTML report → headless Chromium (Debian's `chromium`), which
//! must load it, keep its charts (non-empty inline SVG with marks) and paint them (a
//! screenshot that is a valid PNG of the window's size with coloured chart pixels).
//!
//! Chromium is required: without it the test fails (`scripts/test.sh` installs it on Debian).
//! `DEBRIEF_CHROMIUM` names another binary; `DEBRIEF_REPORT_SCREENSHOT=PATH` also copies the
//! screenshot there (how `docs/report.png` is made).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const WINDOW: (u32, u32) = (1600, 2300);

fn debrief(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_debrief"))
        .args(args)
        .output()
        .expect("run debrief");
    assert!(
        out.status.success(),
        "debrief {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn chromium() -> PathBuf {
    let path = PathBuf::from(
        std::env::var("DEBRIEF_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_string()),
    );
    assert!(
        path.is_file(),
        "{} is missing: install Debian's chromium (scripts/test.sh does, as root)",
        path.display()
    );
    path
}

fn headless(dir: &Path, extra: &[String], page: &Path) -> Output {
    let out = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
        ])
        .arg(format!("--user-data-dir={}", dir.join("profile").display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("run chromium");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The chart figures of the DOM Chromium built: each must hold an `<svg>` with marks.
fn check_dom(dom: &str) {
    for id in [
        "acceptance-feature",
        "acceptance-language",
        "acceptance-type",
        "reliability",
        "discards",
    ] {
        let start = dom
            .find(&format!("<figure id=\"{id}\""))
            .unwrap_or_else(|| panic!("figure {id} missing from the DOM"));
        let figure = &dom[start..start + dom[start..].find("</figure>").expect("closed")];
        let svg_at = figure
            .find("<svg")
            .unwrap_or_else(|| panic!("no svg in {id}"));
        let svg = &figure[svg_at..figure.find("</svg>").expect("svg closed")];
        let marks = svg.matches("<polyline").count()
            + svg.matches("<rect").count()
            + svg.matches("<circle").count()
            + svg.matches("<path").count();
        assert!(marks > 5, "{id}: only {marks} marks");
        assert!(svg.contains("<text"), "{id}: no axis labels");
    }
    let ece = &dom[dom.find("<b id=\"ece\">").expect("ece") + 12..];
    let ece: f64 = ece[..ece.find('<').expect("end")]
        .parse()
        .expect("ECE is a number");
    assert!((0.0..=1.0).contains(&ece) && ece > 0.0, "ECE {ece}");
}

/// A valid PNG of the window's size, not blank: many non-white pixels, and chart colours
/// (saturated pixels; text and axes are grey).
fn check_png(path: &Path) {
    let file = std::fs::File::open(path).expect("screenshot written");
    let mut decoder = png::Decoder::new(std::io::BufReader::new(file));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().expect("a valid PNG");
    let mut buf = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut buf).expect("PNG pixels");
    assert_eq!((info.width, info.height), WINDOW);
    let channels = info.color_type.samples();
    assert!(
        channels >= 3,
        "colour screenshot expected, got {:?}",
        info.color_type
    );
    let (mut ink, mut colour) = (0u64, 0u64);
    for px in buf[..info.buffer_size()].chunks(channels) {
        let (r, g, b) = (px[0] as i32, px[1] as i32, px[2] as i32);
        if r.min(g).min(b) < 235 {
            ink += 1;
        }
        if r.max(g).max(b) - r.min(g).min(b) > 60 {
            colour += 1;
        }
    }
    let all = u64::from(info.width * info.height);
    assert!(ink * 100 > all, "blank: {ink} of {all} pixels");
    assert!(colour > 5_000, "no chart colours: {colour} pixels");
}

fn render_and_check(dir: &Path, html: &Path) {
    let dom = String::from_utf8(headless(dir, &["--dump-dom".to_string()], html).stdout)
        .expect("UTF-8 DOM");
    check_dom(&dom);
    let shot = dir.join("report.png");
    headless(
        dir,
        &[
            format!("--screenshot={}", shot.display()),
            format!("--window-size={},{}", WINDOW.0, WINDOW.1),
        ],
        html,
    );
    check_png(&shot);
    if let Ok(keep) = std::env::var("DEBRIEF_REPORT_SCREENSHOT") {
        std::fs::copy(&shot, keep).expect("copy the screenshot");
    }
}

#[test]
fn the_report_of_a_generated_telemetry_file_renders_in_chromium() {
    let chromium = chromium();
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("telemetry.jsonl");
    let html = dir.path().join("report.html");
    debrief(&["report", "--demo-data", data.to_str().expect("utf-8 path")]);
    let out = debrief(&[
        "report",
        "--input",
        data.to_str().expect("utf-8 path"),
        "--out",
        html.to_str().expect("utf-8 path"),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("acted upon"), "{stderr}");
    let page = std::fs::read_to_string(&html).expect("report written");
    assert!(!page.contains("<script") && !page.contains("src=") && !page.contains("<link"));
    assert!(
        !page.contains("demo-acme"),
        "no tenant id when tenants are summed"
    );
    assert!(chromium.is_file());
    render_and_check(dir.path(), &html);
}

#[test]
fn a_malformed_line_costs_that_line_only_and_is_named() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("telemetry.jsonl");
    debrief(&[
        "report",
        "--demo-data",
        data.to_str().expect("utf-8 path"),
        "--conversations",
        "30",
    ]);
    let mut text = std::fs::read_to_string(&data).expect("generated");
    let good = text.lines().count();
    text.insert_str(0, "{\"not\": \"telemetry\"}\n");
    std::fs::write(&data, text).expect("write");
    let html = dir.path().join("r.html");
    let out = Command::new(env!("CARGO_BIN_EXE_debrief"))
        .args(["report", "--input"])
        .arg(&data)
        .arg("--out")
        .arg(&html)
        .output()
        .expect("run debrief");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("telemetry.jsonl:1: not a telemetry record"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("read {} record(s) (1 unreadable", good + 1)),
        "{stderr}"
    );
    assert!(html.is_file(), "the report is still written");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a broker: scripts/test.sh"]
async fn the_report_reads_the_telemetry_topic_to_its_end_and_one_tenant() {
    use debrief::analytics::demo::{telemetry, DemoSpec};
    let brokers = common::brokers();
    let topic = common::unique_name("report-telemetry");
    common::create_topic(&brokers, &topic, 3).await;
    let records = telemetry(&DemoSpec {
        conversations: 120,
        ..DemoSpec::default()
    });
    let codec = common::stream::codec();
    let producer = common::producer(&brokers);
    for r in &records {
        let payload = codec.encode(&topic, r).expect("encode");
        common::produce(&producer, &topic, r.tenant_id.as_bytes(), &payload, None).await;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let html = dir.path().join("acme.html");
    let out = tokio::task::spawn_blocking({
        let (brokers, topic, html) = (brokers.clone(), topic.clone(), html.clone());
        move || {
            debrief(&[
                "report",
                "--brokers",
                &brokers,
                "--topic",
                &topic,
                "--tenant",
                "demo-acme",
                "--out",
                html.to_str().expect("utf-8 path"),
            ])
        }
    })
    .await
    .expect("join");
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Every record was read (then the other tenants' were left out).
    assert!(
        stderr.contains(&format!("read {} record(s) (0 unreadable", records.len())),
        "{stderr}"
    );
    let acme = records
        .iter()
        .filter(|r| r.tenant_id == "demo-acme" && r.representative_action.is_some())
        .count();
    let others = records
        .iter()
        .filter(|r| r.tenant_id != "demo-acme")
        .count();
    let page = std::fs::read_to_string(&html).expect("report written");
    assert!(page.contains("tenant demo-acme"));
    assert!(
        page.contains(&format!("interaction records<b>{acme}</b>")),
        "{acme} records of demo-acme expected"
    );
    assert!(
        stderr.contains(&format!("{others} of other tenants")),
        "{stderr}"
    );
}
