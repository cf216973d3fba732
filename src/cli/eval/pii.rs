//! `debrief eval pii FILE...`: precision and recall of the personal data detectors
//! ([`debrief::extract::redact`]) per type and language on span-labelled JSON lines
//! (`{"text", "language", "spans": [{"start", "end", "type"}]}`, offsets in Unicode scalar
//! values).
//!
//! Scoring: a detected span is correct when it overlaps a labelled span of the same type; a
//! labelled span is found when a detected span of its type overlaps it. Detected spans that
//! only overlap `OTHER` spans (organisations, amounts, dates...) are not scored. `IBAN`
//! labels cover bank account numbers too. Person names, street addresses and dates of birth
//! are reported (recall of any redaction over them) but not looked for. The last line is
//! `precision=P recall=R f1=F`, micro-averaged over the types the detectors look for.

use super::EvalError;
use debrief::extract::redact::{self, PiiType};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::PathBuf;

/// `debrief eval pii DATASET...`
#[derive(Debug, clap::Args)]
pub struct PiiEval {
    /// Span-labelled files (JSON lines).
    #[arg(required = true)]
    pub datasets: Vec<PathBuf>,
    /// Also print each miss and each false alarm with a little context (data text: for
    /// development on public evaluation data only).
    #[arg(long)]
    pub show_errors: bool,
}

#[derive(Debug, Deserialize)]
struct Record {
    text: String,
    #[serde(default)]
    language: String,
    #[serde(default)]
    spans: Vec<Span>,
}

#[derive(Debug, Deserialize)]
struct Span {
    start: usize,
    end: usize,
    #[serde(rename = "type")]
    kind: String,
}

/// Counts for one type (and language).
#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    /// Detected spans.
    predicted: u64,
    /// Detected spans that overlap a labelled span of their type.
    correct: u64,
    /// Labelled spans.
    labelled: u64,
    /// Labelled spans overlapped by a detected span of their type.
    found: u64,
}

impl Tally {
    fn add(&mut self, o: &Tally) {
        self.predicted += o.predicted;
        self.correct += o.correct;
        self.labelled += o.labelled;
        self.found += o.found;
    }
    fn precision(&self) -> f64 {
        ratio(self.correct, self.predicted)
    }
    fn recall(&self) -> f64 {
        ratio(self.found, self.labelled)
    }
    fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        1.0
    } else {
        a as f64 / b as f64
    }
}

/// Labels the detectors are not meant to find by rule: reported as the share of them that a
/// redaction of any type covers.
const REPORTED: &[&str] = &["PERSON", "ADDRESS", "DATE_OF_BIRTH"];

fn overlaps(a: (usize, usize), b: (usize, usize)) -> bool {
    a.0 < b.1 && b.0 < a.1
}

/// Runs `debrief eval pii`, writing the tables to `out`.
pub fn run(args: &PiiEval, out: &mut dyn Write) -> Result<(), EvalError> {
    let mut by: BTreeMap<(&'static str, String), Tally> = BTreeMap::new();
    let mut reported: BTreeMap<(String, String), (u64, u64)> = BTreeMap::new();
    let mut records = 0u64;
    let mut chars = 0u64;
    for path in &args.datasets {
        let file = std::fs::File::open(path).map_err(|e| read_error(path, e))?;
        for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
            let line = line.map_err(|e| read_error(path, e))?;
            if line.trim().is_empty() {
                continue;
            }
            let r: Record = serde_json::from_str(&line)
                .map_err(|e| EvalError::Usage(format!("{}:{}: {e}", path.display(), n + 1)))?;
            records += 1;
            chars += r.text.chars().count() as u64;
            let errors = score(&r, &mut by, &mut reported);
            if args.show_errors {
                for e in errors {
                    writeln!(out, "{e}").map_err(|e| EvalError::Write {
                        what: "report".to_string(),
                        source: e,
                    })?;
                }
            }
        }
    }
    write_report(out, records, chars, &by, &reported).map_err(|e| EvalError::Write {
        what: "report".to_string(),
        source: e,
    })
}

fn read_error(path: &std::path::Path, e: std::io::Error) -> EvalError {
    EvalError::Write {
        what: format!("(reading) {}", path.display()),
        source: e,
    }
}

fn score(
    r: &Record,
    by: &mut BTreeMap<(&'static str, String), Tally>,
    reported: &mut BTreeMap<(String, String), (u64, u64)>,
) -> Vec<String> {
    let mut errors = Vec::new();
    // Byte offsets of the detector to character offsets of the labels.
    let mut char_at = vec![0usize; r.text.len() + 1];
    let mut c = 0;
    for (b, ch) in r.text.char_indices() {
        for x in &mut char_at[b..b + ch.len_utf8()] {
            *x = c;
        }
        c += 1;
    }
    char_at[r.text.len()] = c;
    let found: Vec<((usize, usize), PiiType)> = redact::find(&r.text)
        .into_iter()
        .map(|f| ((char_at[f.start], char_at[f.end]), f.kind))
        .collect();
    let lang = r.language.clone();
    for t in PiiType::ALL {
        let name = t.name();
        let gold: Vec<(usize, usize)> = r
            .spans
            .iter()
            .filter(|s| s.kind == name)
            .map(|s| (s.start, s.end))
            .collect();
        let mut tally = Tally {
            labelled: gold.len() as u64,
            ..Tally::default()
        };
        for g in &gold {
            if found.iter().any(|(p, k)| *k == t && overlaps(*p, *g)) {
                tally.found += 1;
            } else {
                errors.push(format!("miss {name} {lang}: {}", context(&r.text, *g)));
            }
        }
        for (p, _) in found.iter().filter(|(_, k)| *k == t) {
            if gold.iter().any(|g| overlaps(*p, *g)) {
                tally.predicted += 1;
                tally.correct += 1;
            } else if !r
                .spans
                .iter()
                .any(|s| s.kind == "OTHER" && overlaps(*p, (s.start, s.end)))
            {
                tally.predicted += 1;
                let label = r
                    .spans
                    .iter()
                    .find(|s| overlaps(*p, (s.start, s.end)))
                    .map_or("none", |s| s.kind.as_str());
                errors.push(format!(
                    "false {name} {lang} (label {label}): {}",
                    context(&r.text, *p)
                ));
            }
        }
        by.entry((name, lang.clone())).or_default().add(&tally);
    }
    for s in r
        .spans
        .iter()
        .filter(|s| REPORTED.contains(&s.kind.as_str()))
    {
        let e = reported.entry((s.kind.clone(), lang.clone())).or_default();
        e.0 += 1;
        if found.iter().any(|(p, _)| overlaps(*p, (s.start, s.end))) {
            e.1 += 1;
        }
    }
    errors
}

/// The span in brackets with 40 characters either side.
fn context(text: &str, (s, e): (usize, usize)) -> String {
    let chars: Vec<char> = text.chars().collect();
    let at = |a: usize, b: usize| {
        chars[a.min(chars.len())..b.min(chars.len())]
            .iter()
            .collect::<String>()
    };
    format!(
        "{}⟦{}⟧{}",
        at(s.saturating_sub(40), s),
        at(s, e),
        at(e, e + 15)
    )
}

fn write_report(
    out: &mut dyn Write,
    records: u64,
    chars: u64,
    by: &BTreeMap<(&'static str, String), Tally>,
    reported: &BTreeMap<(String, String), (u64, u64)>,
) -> std::io::Result<()> {
    writeln!(out, "records: {records}, characters: {chars}")?;
    writeln!(
        out,
        "{:<12} {:<5} {:>6} {:>6} {:>7} {:>7} {:>7}",
        "type", "lang", "gold", "pred", "P", "R", "F1"
    )?;
    let mut total = Tally::default();
    for t in PiiType::ALL {
        let name = t.name();
        let mut all = Tally::default();
        for ((n, lang), tally) in by.iter().filter(|((n, _), _)| *n == name) {
            all.add(tally);
            if tally.labelled + tally.predicted > 0 {
                line(out, n, lang, tally)?;
            }
        }
        line(out, name, "all", &all)?;
        total.add(&all);
    }
    writeln!(out, "not looked for (share covered by any redaction):")?;
    let mut kinds: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for ((kind, lang), (n, covered)) in reported {
        writeln!(
            out,
            "  {kind:<14} {lang:<5} {n:>5} {:.3}",
            ratio(*covered, *n)
        )?;
        let e = kinds.entry(kind.as_str()).or_default();
        e.0 += n;
        e.1 += covered;
    }
    for (kind, (n, covered)) in kinds {
        writeln!(out, "  {kind:<14} all   {n:>5} {:.3}", ratio(covered, n))?;
    }
    writeln!(
        out,
        "precision={:.4} recall={:.4} f1={:.4}",
        total.precision(),
        total.recall(),
        total.f1()
    )
}

fn line(out: &mut dyn Write, name: &str, lang: &str, t: &Tally) -> std::io::Result<()> {
    writeln!(
        out,
        "{:<12} {:<5} {:>6} {:>6} {:>7.3} {:>7.3} {:>7.3}",
        name,
        lang,
        t.labelled,
        t.predicted,
        t.precision(),
        t.recall(),
        t.f1()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlap_scoring_counts_by_type_and_ignores_other() {
        let r = Record {
            text: "Mail a@b.co, IBAN DE89 3704 0044 0532 0130 00, ref 0612345678.".into(),
            language: "en".into(),
            spans: vec![
                Span {
                    start: 5,
                    end: 11,
                    kind: "EMAIL".into(),
                },
                Span {
                    start: 13,
                    end: 17,
                    kind: "OTHER".into(),
                },
                Span {
                    start: 52,
                    end: 62,
                    kind: "OTHER".into(),
                },
            ],
        };
        let mut by = BTreeMap::new();
        let mut rep = BTreeMap::new();
        score(&r, &mut by, &mut rep);
        let email = by[&("EMAIL", "en".to_string())];
        assert_eq!(
            (email.labelled, email.found, email.predicted, email.correct),
            (1, 1, 1, 1)
        );
        // The IBAN is detected but not labelled: a false positive.
        let iban = by[&("IBAN", "en".to_string())];
        assert_eq!((iban.labelled, iban.predicted, iban.correct), (0, 1, 0));
        // The phone number overlaps an OTHER span: not scored.
        let phone = by[&("PHONE", "en".to_string())];
        assert_eq!((phone.predicted, phone.correct), (0, 0));
    }
}
