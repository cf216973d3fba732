//! The report's charts as SVG text, drawn with `plotters`' SVG backend (see the module above
//! for why). Pure: figures in, `<svg>` out.

use super::aggregate::{DiscardRow, Line, Period};
use super::calibration::Bin;
use chrono::{Duration, NaiveDate};
use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;

/// Size of every chart, pixels.
pub const SIZE: (u32, u32) = (720, 340);

/// Colour-blind-safe palette (Okabe–Ito), then grey for `other`.
const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(230, 159, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(213, 94, 0),
    RGBColor(240, 228, 66),
    RGBColor(120, 120, 120),
];

/// Why a chart could not be drawn (a plotting error; not expected with finite figures).
#[derive(Debug, thiserror::Error)]
#[error("drawing the chart {chart}: {message}")]
pub struct ChartError {
    /// Which chart.
    pub chart: &'static str,
    /// What plotters said.
    pub message: String,
}

fn err<E: std::fmt::Display>(chart: &'static str) -> impl Fn(E) -> ChartError {
    move |e| ChartError {
        chart,
        message: e.to_string(),
    }
}

/// The colour of the `i`-th series; `other` is always grey.
pub fn colour(i: usize, label: &str) -> RGBColor {
    if label == "other" {
        PALETTE[7]
    } else {
        PALETTE[i % 7]
    }
}

/// `YYYY-MM-DD` of a day number (days since 1970-01-01).
pub fn date(day: i64) -> String {
    NaiveDate::from_ymd_opt(1970, 1, 1)
        .and_then(|d| d.checked_add_signed(Duration::days(day)))
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| day.to_string())
}

/// Acceptance over time, one line per label; `periods` is the time axis (period starts, in
/// days since the epoch); a line joins only the periods where it has suggestions acted upon.
pub fn acceptance_over_time(
    name: &'static str,
    lines: &[Line],
    periods: &[i64],
    period: Period,
) -> Result<String, ChartError> {
    let e = err(name);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(&e)?;
        let n = periods.len().max(1) as f64;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(46)
            .y_label_area_size(52)
            .build_cartesian_2d(-0.5f64..(n - 0.5), 0f64..1.0f64)
            .map_err(&e)?;
        let label_of = |x: &f64| {
            let i = x.round();
            if (x - i).abs() > 1e-6 || i < 0.0 {
                return String::new();
            }
            periods
                .get(i as usize)
                .map(|d| date(*d))
                .unwrap_or_default()
        };
        chart
            .configure_mesh()
            .x_labels(periods.len().clamp(1, 8))
            .x_label_formatter(&label_of)
            .y_labels(6)
            .y_label_formatter(&|y| format!("{:.0}%", y * 100.0))
            .x_desc(match period {
                Period::Day => "day (UTC)",
                Period::Week => "week starting (UTC)",
            })
            .y_desc("acceptance rate")
            .light_line_style(WHITE)
            .draw()
            .map_err(&e)?;
        let index: std::collections::HashMap<i64, usize> =
            periods.iter().enumerate().map(|(i, d)| (*d, i)).collect();
        for (i, line) in lines.iter().enumerate() {
            let c = colour(i, &line.label);
            let points: Vec<(f64, f64)> = line
                .points
                .iter()
                .filter_map(|(p, r)| Some((*index.get(p)? as f64, r.value()?)))
                .collect();
            let legend = format!(
                "{} ({:.0}% of {})",
                line.label,
                line.total.value().unwrap_or(0.0) * 100.0,
                line.total.acted
            );
            chart
                .draw_series(LineSeries::new(points, c.stroke_width(2)).point_size(3))
                .map_err(&e)?
                .label(legend)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(3))
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(180, 180, 180))
            .draw()
            .map_err(&e)?;
        root.present().map_err(&e)?;
    }
    Ok(svg)
}

/// Reliability diagram: mean confidence against acceptance per non-empty bin, the diagonal
/// of perfect calibration, and the count per bin below.
pub fn reliability(bins: &[Bin], ece: Option<f64>) -> Result<String, ChartError> {
    let e = err("reliability");
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (SIZE.0, SIZE.1 + 160)).into_drawing_area();
        root.fill(&WHITE).map_err(&e)?;
        let (upper, lower) = root.split_vertically(SIZE.1 - 10);
        let caption = match ece {
            Some(x) => format!("expected calibration error {x:.3}"),
            None => "no action item acted upon".to_string(),
        };
        let mut chart = ChartBuilder::on(&upper)
            .margin(12)
            .caption(caption, ("sans-serif", 16))
            .x_label_area_size(40)
            .y_label_area_size(52)
            .build_cartesian_2d(0f64..1f64, 0f64..1f64)
            .map_err(&e)?;
        chart
            .configure_mesh()
            .x_labels(11)
            .y_labels(6)
            .x_label_formatter(&|x| format!("{x:.1}"))
            .y_label_formatter(&|y| format!("{:.0}%", y * 100.0))
            .x_desc("confidence of the action item")
            .y_desc("accepted")
            .light_line_style(WHITE)
            .draw()
            .map_err(&e)?;
        let grey = RGBColor(150, 150, 150);
        chart
            .draw_series(DashedLineSeries::new(
                vec![(0.0, 0.0), (1.0, 1.0)],
                6,
                4,
                grey.stroke_width(1),
            ))
            .map_err(&e)?
            .label("perfectly calibrated")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], grey));
        let filled: Vec<&Bin> = bins.iter().filter(|b| b.count > 0).collect();
        let c = PALETTE[0];
        chart
            .draw_series(
                LineSeries::new(
                    filled.iter().map(|b| (b.mean_confidence, b.acceptance)),
                    c.stroke_width(2),
                )
                .point_size(4),
            )
            .map_err(&e)?
            .label("acceptance per confidence bin")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(3)));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(180, 180, 180))
            .draw()
            .map_err(&e)?;

        let max = bins.iter().map(|b| b.count).max().unwrap_or(0).max(1) as f64;
        let mut counts = ChartBuilder::on(&lower)
            .margin(12)
            .x_label_area_size(30)
            .y_label_area_size(52)
            .build_cartesian_2d(0f64..1f64, 0f64..max * 1.25)
            .map_err(&e)?;
        counts
            .configure_mesh()
            .x_labels(11)
            .y_labels(3)
            .x_label_formatter(&|x| format!("{x:.1}"))
            .y_label_formatter(&|y| format!("{y:.0}"))
            .y_desc("items")
            .disable_x_mesh()
            .light_line_style(WHITE)
            .draw()
            .map_err(&e)?;
        counts
            .draw_series(bins.iter().map(|b| {
                let mut r =
                    Rectangle::new([(b.lo, 0.0), (b.hi, b.count as f64)], c.mix(0.6).filled());
                r.set_margin(0, 0, 3, 3);
                r
            }))
            .map_err(&e)?;
        counts
            .draw_series(bins.iter().filter(|b| b.count > 0).map(|b| {
                Text::new(
                    b.count.to_string(),
                    (b.lo + 0.03, b.count as f64 + max * 0.2),
                    ("sans-serif", 12),
                )
            }))
            .map_err(&e)?;
        root.present().map_err(&e)?;
    }
    Ok(svg)
}

/// The most discarded kinds of suggestion: one horizontal bar per `kind/type`, stacked by
/// reason code (the [`super::aggregate::MAX_LINES`] most frequent reasons, then `other`).
pub fn discards(rows: &[DiscardRow]) -> Result<String, ChartError> {
    let e = err("discards");
    let reasons = top_reasons(rows);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(&e)?;
        let n = rows.len().max(1) as i32;
        let max = rows.iter().map(|r| r.discarded).max().unwrap_or(0).max(1);
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(170)
            .build_cartesian_2d(0u64..(max + max / 4 + 1), (0..n).into_segmented())
            .map_err(&e)?;
        // The most discarded on top: row i sits at n - 1 - i.
        let label = |v: &SegmentValue<i32>| match v {
            SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => rows
                .get((n - 1 - *i) as usize)
                .map(|r| format!("{}/{}", r.kind, r.item_type))
                .unwrap_or_default(),
            SegmentValue::Last => String::new(),
        };
        chart
            .configure_mesh()
            .y_labels(rows.len().max(1))
            .y_label_formatter(&label)
            .x_desc("suggestions discarded")
            .disable_y_mesh()
            .light_line_style(WHITE)
            .draw()
            .map_err(&e)?;
        // Bars stacked in the reasons' order.
        let mut start = vec![0u64; rows.len()];
        for (k, reason) in reasons.iter().enumerate() {
            let c = colour(k, reason);
            let mut bars = Vec::new();
            for (i, row) in rows.iter().enumerate() {
                let count: u64 = row
                    .reasons
                    .iter()
                    .filter(|(r, _)| r == reason || (reason == "other" && !reasons.contains(r)))
                    .map(|(_, n)| n)
                    .sum();
                if count == 0 {
                    continue;
                }
                let y = n - 1 - i as i32;
                let mut bar = Rectangle::new(
                    [
                        (start[i], SegmentValue::Exact(y)),
                        (start[i] + count, SegmentValue::Exact(y + 1)),
                    ],
                    c.filled(),
                );
                bar.set_margin(4, 4, 0, 0);
                bars.push(bar);
                start[i] += count;
            }
            chart
                .draw_series(bars)
                .map_err(&e)?
                .label(reason.clone())
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], c.filled()));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(180, 180, 180))
            .draw()
            .map_err(&e)?;
        root.present().map_err(&e)?;
    }
    Ok(svg)
}

/// The reason codes drawn separately (most discards first), then `other` when more exist.
pub fn top_reasons(rows: &[DiscardRow]) -> Vec<String> {
    let mut total: std::collections::BTreeMap<&str, u64> = Default::default();
    for r in rows {
        for (reason, n) in &r.reasons {
            *total.entry(reason.as_str()).or_default() += n;
        }
    }
    let mut all: Vec<(&str, u64)> = total.into_iter().collect();
    all.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    let cap = super::aggregate::MAX_LINES;
    let mut out: Vec<String> = all.iter().take(cap).map(|(r, _)| r.to_string()).collect();
    if all.len() > cap {
        out.truncate(cap - 1);
        if !out.iter().any(|r| r == "other") {
            out.push("other".to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::aggregate::Rate;

    fn rate(accepted: u64, acted: u64) -> Rate {
        Rate { accepted, acted }
    }

    #[test]
    fn charts_are_svg_with_marks() {
        let lines = vec![Line {
            label: "action_items".to_string(),
            total: rate(3, 4),
            points: vec![(20_000, rate(1, 2)), (20_001, rate(2, 2))],
        }];
        let svg = acceptance_over_time("t", &lines, &[20_000, 20_001], Period::Day).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..40.min(svg.len())]);
        assert!(svg.contains("<polyline"), "a line is drawn");
        assert!(svg.contains("2024-10-04"), "dates on the axis");
        assert!(svg.contains("action_items (75% of 4)"));

        let mut r = crate::analytics::calibration::Reliability::default();
        r.add(0.9, true);
        r.add(0.3, false);
        let svg = reliability(&r.bins(), r.ece()).unwrap();
        assert!(svg.contains("<rect") && svg.contains("<polyline"));
        assert!(svg.contains("expected calibration error 0.200"));

        let rows = vec![DiscardRow {
            kind: "action_item".to_string(),
            item_type: "task".to_string(),
            discarded: 5,
            acted: 9,
            reasons: vec![("wrong_owner".to_string(), 3), ("none".to_string(), 2)],
        }];
        let svg = discards(&rows).unwrap();
        assert!(svg.contains("action_item/task") && svg.contains("wrong_owner"));
        assert!(svg.matches("<rect").count() >= 3);
    }

    #[test]
    fn reasons_past_the_cap_are_other() {
        let rows = vec![DiscardRow {
            kind: "k".to_string(),
            item_type: "t".to_string(),
            discarded: 28,
            acted: 28,
            reasons: (1..=7u64).map(|i| (format!("r{i}"), i)).collect(),
        }];
        let r = top_reasons(&rows);
        assert_eq!(r, ["r7", "r6", "r5", "r4", "r3", "other"]);
        assert_eq!(date(0), "1970-01-01");
    }
}
