//! The report as one self-contained HTML page: inline CSS and inline SVG charts, no script,
//! nothing fetched.

use super::aggregate::{Line, Period, Rate, Summary};
use super::charts::{self, ChartError};
use crate::events::RepresentativeAction;
use std::fmt::Write;

/// What the page says about where its data came from.
#[derive(Debug, Clone)]
pub struct Source {
    /// E.g. `topic debrief.telemetry.v1` or `file telemetry.jsonl`.
    pub description: String,
    /// When the report was made (shown as given, e.g. an RFC 3339 time).
    pub generated_at: String,
}

/// The acceptance definition, as the page and the README state it.
pub const ACCEPTANCE_DEFINITION: &str = "A suggestion (an action item, tracker hit or question, \
identified by its stable id) is acted upon when a representative accepted, copied, edited and \
sent, discarded, thumbed up or thumbed down it; its verdict is the last of those actions. It is \
accepted when that verdict is accepted, copied, edited_and_sent or thumbs_up, discarded when it \
is discarded or thumbs_down. Acceptance rate = accepted / acted upon. Viewing alone is not \
acting; the pipeline's own ran/skipped records are left out.";

/// HTML-escapes text (`&`, `<`, `>`, `"`, `'`).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn pct(r: Option<f64>) -> String {
    r.map(|v| format!("{:.1}%", v * 100.0))
        .unwrap_or_else(|| "–".to_string())
}

fn rate_cell(r: &Rate) -> String {
    format!("{} / {} ({})", r.accepted, r.acted, pct(r.value()))
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px auto;max-width:1560px;color:#222;padding:0 16px}\
h1{font-size:22px;margin-bottom:4px}h2{font-size:17px;margin:28px 0 6px}\
.meta{color:#555;font-size:13px}.grid{display:flex;flex-wrap:wrap;gap:20px}\
figure{margin:0;border:1px solid #ddd;border-radius:6px;padding:8px;background:#fff;max-width:724px}\
figcaption{font-weight:600;font-size:14px;margin:2px 4px 6px}\
table{border-collapse:collapse;font-size:12px;margin-top:6px}td,th{border-bottom:1px solid #eee;padding:2px 8px;text-align:right}\
td:first-child,th:first-child{text-align:left}.kpi{display:flex;gap:16px;flex-wrap:wrap}\
.kpi div{border:1px solid #ddd;border-radius:6px;padding:8px 14px;background:#fafafa}\
.kpi b{display:block;font-size:20px}.def{font-size:13px;max-width:1100px;color:#333}";

/// Renders the whole page.
pub fn render(s: &Summary, source: &Source) -> Result<String, ChartError> {
    let mut h = String::new();
    let scope = match &s.tenant {
        Some(t) => format!("tenant {}", escape(t)),
        None => format!("all tenants ({})", s.tenants),
    };
    let span = match (s.periods.first(), s.periods.last()) {
        (Some(f), Some(l)) => format!(
            "{} to {} ({})",
            charts::date(*f),
            charts::date(*l + if s.period == Period::Week { 6 } else { 0 }),
            if s.period == Period::Day {
                "per day"
            } else {
                "per week"
            }
        ),
        _ => "no suggestion acted upon".to_string(),
    };
    // `write!` into a String cannot fail.
    let _ = writeln!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<title>Debrief: representatives and suggestions</title><style>{STYLE}</style></head><body>\n\
<h1>What representatives did with the suggestions</h1>\n\
<p class=\"meta\">{scope} · {span} · source: {} · generated {}</p>",
        escape(&source.description),
        escape(&source.generated_at),
    );
    let _ = writeln!(
        h,
        "<div class=\"kpi\"><div>acceptance rate<b>{}</b></div><div>acted upon<b>{}</b></div>\
<div>accepted<b>{}</b></div><div>suggestions<b>{}</b></div><div>viewed<b>{}</b></div>\
<div>interaction records<b>{}</b></div></div>",
        pct(s.overall.value()),
        s.overall.acted,
        s.overall.accepted,
        s.suggestions,
        s.viewed,
        s.records,
    );
    let _ = writeln!(
        h,
        "<p class=\"def\"><b>Definition.</b> {}</p>\n<table><tr>",
        escape(ACCEPTANCE_DEFINITION)
    );
    for a in RepresentativeAction::VALID {
        let _ = write!(h, "<th>{}</th>", a.name());
    }
    h.push_str("</tr><tr>");
    for n in s.actions {
        let _ = write!(h, "<td>{n}</td>");
    }
    h.push_str("</tr></table>\n");

    h.push_str("<h2>Acceptance over time</h2>\n<div class=\"grid\">\n");
    for (name, title, lines) in [
        ("feature", "per feature", &s.by_feature),
        ("language", "per language", &s.by_language),
        ("type", "per kind/type of suggestion", &s.by_type),
    ] {
        let svg = charts::acceptance_over_time(name, lines, &s.periods, s.period)?;
        let _ = writeln!(
            h,
            "<figure id=\"acceptance-{name}\"><figcaption>Acceptance rate {title}</figcaption>{svg}{}</figure>",
            line_table(name, lines)
        );
    }
    h.push_str("</div>\n");

    let bins = s.reliability.bins();
    let ece = s.reliability.ece();
    let svg = charts::reliability(&bins, ece)?;
    let _ = write!(
        h,
        "<h2>Is the action-item confidence calibrated on real use?</h2>\n<div class=\"grid\">\
<figure id=\"reliability\"><figcaption>Reliability diagram: confidence against acceptance \
({} action items acted upon; expected calibration error <b id=\"ece\">{}</b>)</figcaption>{svg}\
<table><tr><th>confidence</th><th>items</th><th>mean confidence</th><th>accepted</th></tr>",
        s.reliability.total(),
        ece.map(|x| format!("{x:.3}"))
            .unwrap_or_else(|| "–".to_string()),
    );
    for b in bins.iter().filter(|b| b.count > 0) {
        let _ = write!(
            h,
            "<tr><td>[{:.1}, {:.1}{}</td><td>{}</td><td>{:.3}</td><td>{:.1}%</td></tr>",
            b.lo,
            b.hi,
            if b.hi >= 1.0 { "]" } else { ")" },
            b.count,
            b.mean_confidence,
            b.acceptance * 100.0
        );
    }
    let _ = writeln!(
        h,
        "</table><p class=\"meta\">ECE = Σ (items in bin / all items) × |accepted share − mean \
confidence|. Action items acted upon without a confidence: {}.</p></figure>",
        s.unscored_action_items
    );

    let svg = charts::discards(&s.discarded)?;
    let _ = write!(
        h,
        "<figure id=\"discards\"><figcaption>Most discarded kinds of suggestion, by reason code\
</figcaption>{svg}<table><tr><th>kind/type</th><th>discarded</th><th>of acted upon</th>\
<th>reason codes</th></tr>"
    );
    for r in &s.discarded {
        let reasons: Vec<String> = r
            .reasons
            .iter()
            .map(|(c, n)| format!("{} {n}", escape(c)))
            .collect();
        let _ = write!(
            h,
            "<tr><td>{}/{}</td><td>{}</td><td>{} ({})</td><td>{}</td></tr>",
            escape(&r.kind),
            escape(&r.item_type),
            r.discarded,
            r.acted,
            pct(Some(r.discarded as f64 / r.acted.max(1) as f64)),
            reasons.join(", ")
        );
    }
    let _ = write!(
        h,
        "</table></figure></div>\n<p class=\"meta\">Left out: {} pipeline records (ran, skipped){}. \
No transcript text, conversation, item or person id is shown; labels outside \
[a-z0-9_.-] (at most 64 characters) are shown as <i>other</i>.</p>\n</body></html>",
        s.pipeline_records,
        if s.tenant.is_some() {
            format!(", {} records of other tenants", s.other_tenant_records)
        } else {
            String::new()
        }
    );
    Ok(h)
}

fn line_table(name: &str, lines: &[Line]) -> String {
    let mut t = format!("<table><tr><th>{name}</th><th>accepted / acted upon</th></tr>");
    for l in lines {
        let _ = write!(
            t,
            "<tr><td>{}</td><td>{}</td></tr>",
            escape(&l.label),
            rate_cell(&l.total)
        );
    }
    t.push_str("</table>");
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::{Aggregator, Interaction};

    #[test]
    fn the_page_is_self_contained_and_names_no_ids() {
        let mut a = Aggregator::new(None);
        for (i, action) in [
            RepresentativeAction::Accepted,
            RepresentativeAction::Discarded,
            RepresentativeAction::Copied,
        ]
        .into_iter()
        .enumerate()
        {
            a.add(&Interaction {
                tenant_id: "tenant-secret".to_string(),
                item_id: Some(format!("item-secret-{i}")),
                feature: "action_items".to_string(),
                action: Some(action),
                item_kind: Some("action_item".to_string()),
                item_type: Some("call".to_string()),
                language: Some("fr".to_string()),
                confidence: Some(0.3 * i as f64),
                reason_code: Some("<script>".to_string()),
                recorded_at_ms: 1_764_000_000_000,
            });
        }
        let html = render(
            &a.finish(),
            &Source {
                description: "file t.jsonl".to_string(),
                generated_at: "2026-11-29T16:00:00Z".to_string(),
            },
        )
        .unwrap();
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(!html.contains("secret"), "no tenant or item id");
        assert!(
            !html.contains("<script"),
            "no script, and labels are bounded"
        );
        assert!(
            !html.contains("src=") && !html.contains("<link"),
            "nothing fetched"
        );
        assert_eq!(html.matches("<svg").count(), 5);
        assert!(html.contains("66.7%"), "2 of 3 accepted");
        assert!(html.contains("Acceptance rate = accepted / acted upon"));
    }

    #[test]
    fn an_empty_input_gives_a_page_with_empty_charts() {
        let html = render(
            &Aggregator::new(None).finish(),
            &Source {
                description: "file empty.jsonl".to_string(),
                generated_at: "now".to_string(),
            },
        )
        .unwrap();
        assert!(html.contains("no suggestion acted upon"));
        assert_eq!(html.matches("<svg").count(), 5);
        assert!(html.contains("<b id=\"ece\">–</b>"));
    }
}
