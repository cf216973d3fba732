//! `debrief eval action-items` and `debrief train action-items`: quality of the action-item
//! extractor on labelled files, and the reproducible training of its shipped model.
//!
//! Scoring (see `docs/action_items.md`):
//! - files with `action_item_label`: per segment, a segment is predicted positive when the
//!   evidence of an extracted item covers it; precision, recall, F1 of the positive class;
//! - sentence files (`label` Yes/No): per sentence (each a one-segment conversation);
//! - parallel files (DiaBLa): agreement between the segments flagged in the two language
//!   versions of each dialogue (F1 with the first version as reference);
//! - `--cv K`: K-fold cross-validation by group (meeting or sentence) over all labelled files:
//!   the model is trained on the other folds and scores the held-out one; parallel files are
//!   scored with the model trained on all labelled files.
//!
//! The last line printed is `precision=P recall=R f1=F`, micro-averaged over everything scored.

pub mod data;
pub mod feedback;
pub mod highlights;
pub mod pii;
pub mod simulate;
pub mod train;

use data::{Dataset, Kind};
use debrief::extract::action_items::model::{self, ModelFile, TrainParams};
use debrief::extract::action_items::{effective_language, extract_with};
use debrief::model::Conversation;
use serde::Serialize;
use std::io::Write;
use std::path::PathBuf;

/// `debrief eval ...`
#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// What to evaluate.
    #[command(subcommand)]
    pub command: EvalCommand,
}

/// Evaluations.
#[derive(Debug, clap::Subcommand)]
pub enum EvalCommand {
    /// Scores action-item extraction on labelled JSONL files.
    ActionItems(ActionItemsEval),
    /// Scores personal data detection per type and language on span-labelled JSONL files.
    Pii(pii::PiiEval),
    /// ROUGE of the highlights against minutes and reports, with lead-N and TextRank.
    Highlights(highlights::HighlightsEval),
}

/// `debrief eval action-items DATASET... [--cv K] [--json]`
#[derive(Debug, clap::Args)]
pub struct ActionItemsEval {
    /// Evaluation files (JSON lines).
    #[arg(required = true)]
    pub datasets: Vec<PathBuf>,
    /// Cross-validate with K folds by meeting (retrains; ignores the shipped model).
    #[arg(long, value_name = "K")]
    pub cv: Option<usize>,
    /// Print one JSON report instead of text.
    #[arg(long)]
    pub json: bool,
    /// With `--cv`: measure what representatives' feedback adds. In each fold, half of the
    /// training meetings keep their labels; the other half only get simulated feedback on
    /// the suggestions of the model trained on the first half (accepted when the item's
    /// evidence touches a labelled action-item segment, discarded otherwise), resolved by
    /// item id like real feedback. Scores the held-out fold without feedback, with it, and
    /// with the second half's full labels (the bound).
    #[arg(long, requires = "cv")]
    pub feedback_sim: bool,
}

/// `debrief train ...`
#[derive(Debug, clap::Args)]
pub struct TrainArgs {
    /// What to train.
    #[command(subcommand)]
    pub command: TrainCommand,
}

/// Trainable models.
#[derive(Debug, clap::Subcommand)]
pub enum TrainCommand {
    /// Trains the action-item models from labelled JSONL files.
    ActionItems(ActionItemsTrain),
}

/// `debrief train action-items FILES... --out models/action_items.json`
#[derive(Debug, clap::Args)]
pub struct ActionItemsTrain {
    /// Labelled files (JSON lines).
    #[arg(required = true)]
    pub datasets: Vec<PathBuf>,
    /// Where to write the model.
    #[arg(long, default_value = "models/action_items.json")]
    pub out: PathBuf,
    /// Inner folds used to choose thresholds and calibration.
    #[arg(long, default_value_t = 4)]
    pub inner_folds: usize,
    /// Representatives' feedback as extra labelled data: interaction events (JSON Lines,
    /// `InteractionEvent`), resolved by item id against `--transcripts`.
    #[arg(long, value_name = "FILE", requires = "transcripts")]
    pub feedback: Vec<PathBuf>,
    /// The transcripts the feedback is about (`.jsonl`, `.vtt`, `.json`, as for `process`):
    /// extracted again with the shipped model to find the items the ids name.
    #[arg(long, value_name = "FILE", num_args = 1.., requires = "feedback")]
    pub transcripts: Vec<PathBuf>,
    /// Tenant configuration the transcripts were processed with (as for `process --config`;
    /// redaction and sides change spans, and so ids).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// Why an evaluation or training failed.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// A file could not be read.
    #[error(transparent)]
    Data(#[from] data::DataError),
    /// Writing the report or the model failed.
    #[error("cannot write {what}: {source}")]
    Write {
        /// What was being written.
        what: String,
        /// Cause.
        source: std::io::Error,
    },
    /// Bad arguments.
    #[error("{0}")]
    Usage(String),
    /// The shipped model could not be loaded.
    #[error("the embedded action-item model is unusable")]
    NoModel,
}

/// Counts of one score.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// True positives.
    pub tp: u64,
    /// False positives.
    pub fp: u64,
    /// False negatives.
    pub fn_: u64,
}

impl Counts {
    fn add(&mut self, predicted: bool, actual: bool) {
        match (predicted, actual) {
            (true, true) => self.tp += 1,
            (true, false) => self.fp += 1,
            (false, true) => self.fn_ += 1,
            (false, false) => {}
        }
    }

    fn merge(&mut self, o: &Counts) {
        self.tp += o.tp;
        self.fp += o.fp;
        self.fn_ += o.fn_;
    }

    /// Precision (1 when nothing was predicted).
    pub fn precision(&self) -> f64 {
        if self.tp + self.fp == 0 {
            1.0
        } else {
            self.tp as f64 / (self.tp + self.fp) as f64
        }
    }

    /// Recall (1 when nothing was to be found).
    pub fn recall(&self) -> f64 {
        if self.tp + self.fn_ == 0 {
            1.0
        } else {
            self.tp as f64 / (self.tp + self.fn_) as f64
        }
    }

    /// F1 (0 when there is no true positive).
    pub fn f1(&self) -> f64 {
        if self.tp == 0 {
            0.0
        } else {
            2.0 * self.tp as f64 / (2 * self.tp + self.fp + self.fn_) as f64
        }
    }
}

/// One row of the reliability table: items whose confidence falls in `[lo, hi)`.
#[derive(Debug, Clone, Serialize)]
pub struct Reliability {
    /// Lower bound of the bin.
    pub lo: f64,
    /// Upper bound of the bin.
    pub hi: f64,
    /// Items in the bin.
    pub items: u64,
    /// Mean confidence of the items.
    pub mean_confidence: f64,
    /// Share of the items whose evidence touches a positive segment.
    pub correct: f64,
}

/// Score of one file (or one fold).
#[derive(Debug, Clone, Serialize)]
pub struct Score {
    /// File name, or `name#fold`.
    pub name: String,
    /// `segments`, `sentences` or `agreement`.
    pub unit: &'static str,
    /// Counts.
    pub counts: Counts,
    /// Precision.
    pub precision: f64,
    /// Recall.
    pub recall: f64,
    /// F1.
    pub f1: f64,
}

impl Score {
    fn new(name: String, unit: &'static str, counts: Counts) -> Score {
        Score {
            name,
            unit,
            counts,
            precision: counts.precision(),
            recall: counts.recall(),
            f1: counts.f1(),
        }
    }
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// `shipped` or `cv-K`.
    pub mode: String,
    /// Per file.
    pub datasets: Vec<Score>,
    /// Per fold and file (cross-validation only).
    pub folds: Vec<Score>,
    /// Confidence reliability over the labelled files.
    pub reliability: Vec<Reliability>,
    /// Items extracted from the labelled files per status (committed, requested,
    /// suggested), and their evidence spans.
    pub items: [u64; 3],
    /// Evidence spans of those items.
    pub evidence: u64,
    /// Micro-average over everything scored.
    pub total: Score,
    /// The feedback simulation (`--feedback-sim`).
    pub feedback: Option<simulate::FeedbackReport>,
}

#[derive(Default)]
struct Tally {
    bins: [(u64, f64, u64); 10],
    /// Items per status (committed, requested, suggested) and their evidence spans.
    items: [u64; 3],
    evidence: u64,
}

impl Tally {
    fn item(&mut self, confidence: f64, correct: bool) {
        let b = ((confidence * 10.0) as usize).min(9);
        self.bins[b].0 += 1;
        self.bins[b].1 += confidence;
        if correct {
            self.bins[b].2 += 1;
        }
    }

    fn merge(&mut self, o: &Tally) {
        for (a, b) in self.bins.iter_mut().zip(&o.bins) {
            a.0 += b.0;
            a.1 += b.1;
            a.2 += b.2;
        }
        for (a, b) in self.items.iter_mut().zip(&o.items) {
            *a += b;
        }
        self.evidence += o.evidence;
    }

    /// Expected calibration error of the item confidences against "touches a labelled
    /// segment": Σ_b (n_b / N) · |correct_b − mean confidence_b|.
    fn ece(&self) -> Option<f64> {
        let n: u64 = self.bins.iter().map(|b| b.0).sum();
        (n > 0).then(|| {
            self.bins
                .iter()
                .filter(|b| b.0 > 0)
                .map(|b| (b.2 as f64 - b.1).abs() / n as f64)
                .sum()
        })
    }

    fn table(&self) -> Vec<Reliability> {
        self.bins
            .iter()
            .enumerate()
            .filter(|(_, b)| b.0 > 0)
            .map(|(i, b)| Reliability {
                lo: i as f64 / 10.0,
                hi: (i + 1) as f64 / 10.0,
                items: b.0,
                mean_confidence: b.1 / b.0 as f64,
                correct: b.2 as f64 / b.0 as f64,
            })
            .collect()
    }
}

/// Segments flagged by the items extracted from `conv`, and the items' (confidence, touches
/// a labelled positive) pairs.
fn flagged(
    conv: &Conversation,
    lang: &str,
    models: &ModelFile,
    labels: Option<&[bool]>,
) -> (Vec<bool>, Vec<(f64, bool)>) {
    flagged_items(conv, lang, models, labels).0
}

type Flags = (Vec<bool>, Vec<(f64, bool)>);

fn flagged_items(
    conv: &Conversation,
    lang: &str,
    models: &ModelFile,
    labels: Option<&[bool]>,
) -> (Flags, Vec<debrief::insight::ActionItem>) {
    let items = extract_with(conv, lang, None, "UTC", models);
    let mut flags = vec![false; conv.segments.len()];
    let mut conf = Vec::new();
    for it in &items {
        let mut correct = false;
        for e in &it.evidence {
            if let Ok(i) = e.segment_id.parse::<usize>() {
                if let Some(f) = flags.get_mut(i) {
                    *f = true;
                }
                correct |= labels.and_then(|l| l.get(i)).copied().unwrap_or(false);
            }
        }
        conf.push((it.confidence, correct));
    }
    ((flags, conf), items)
}

fn score_labelled(l: &data::Labelled, models: &ModelFile, counts: &mut Counts, tally: &mut Tally) {
    let ((flags, conf), items) = flagged_items(
        &l.conv,
        effective_language(&l.lang),
        models,
        Some(&l.labels),
    );
    for it in &items {
        tally.items[it.status as usize] += 1;
        tally.evidence += it.evidence.len() as u64;
    }
    for (f, a) in flags.iter().zip(&l.labels) {
        counts.add(*f, *a);
    }
    for (c, ok) in conf {
        tally.item(c, ok);
    }
}

fn score_pairs(d: &Dataset, models: &ModelFile) -> Counts {
    let mut c = Counts::default();
    for p in &d.pairs {
        let (fa, _) = flagged(&p.a.1, effective_language(&p.a.0), models, None);
        let (fb, _) = flagged(&p.b.1, effective_language(&p.b.0), models, None);
        for (x, y) in fb.iter().zip(&fa) {
            c.add(*x, *y);
        }
    }
    c
}

fn unit_name(k: Kind) -> &'static str {
    match k {
        Kind::Segments => "segments",
        Kind::Sentences => "sentences",
        Kind::Parallel => "agreement",
    }
}

/// Evaluates with the shipped model, or cross-validates when `cv` is set.
pub fn evaluate(sets: &[Dataset], cv: Option<usize>) -> Result<Report, EvalError> {
    let mut per_set: Vec<Counts> = vec![Counts::default(); sets.len()];
    let mut folds_out = Vec::new();
    let mut tally = Tally::default();
    let mode;
    match cv {
        None => {
            mode = "shipped".to_string();
            let m = model::shipped().ok_or(EvalError::NoModel)?;
            for (si, d) in sets.iter().enumerate() {
                for l in &d.labelled {
                    score_labelled(l, m, &mut per_set[si], &mut tally);
                }
                if d.kind == Kind::Parallel {
                    per_set[si] = score_pairs(d, m);
                }
            }
        }
        Some(k) => {
            if k < 2 {
                return Err(EvalError::Usage(format!(
                    "--cv needs at least 2 folds, got {k}"
                )));
            }
            mode = format!("cv-{k}");
            let all: Vec<(usize, &data::Labelled)> = sets
                .iter()
                .enumerate()
                .flat_map(|(si, d)| d.labelled.iter().map(move |l| (si, l)))
                .collect();
            let docs = train::prepare(&all);
            let fold = train::folds(&docs, k);
            let p = TrainParams::default();
            for f in 0..k {
                let tr: Vec<&train::Doc> = docs
                    .iter()
                    .zip(&fold)
                    .filter(|(_, &x)| x != f)
                    .map(|(d, _)| d)
                    .collect();
                let m = train::fit(&tr, &p, 3, Vec::new());
                let mut fc: Vec<Counts> = vec![Counts::default(); sets.len()];
                for ((_, l), (d, &x)) in all.iter().zip(docs.iter().zip(&fold)) {
                    if x == f {
                        score_labelled(l, &m, &mut fc[d.dataset], &mut tally);
                    }
                }
                for (si, c) in fc.iter().enumerate() {
                    if c.tp + c.fp + c.fn_ > 0 {
                        folds_out.push(Score::new(
                            format!("{}#{f}", sets[si].name),
                            unit_name(sets[si].kind),
                            *c,
                        ));
                        per_set[si].merge(c);
                    }
                }
            }
            if sets.iter().any(|d| d.kind == Kind::Parallel) {
                let tr: Vec<&train::Doc> = docs.iter().collect();
                let m = train::fit(&tr, &p, 3, Vec::new());
                for (si, d) in sets.iter().enumerate() {
                    if d.kind == Kind::Parallel {
                        per_set[si] = score_pairs(d, &m);
                    }
                }
            }
        }
    }
    let mut total = Counts::default();
    let mut datasets = Vec::new();
    for (d, c) in sets.iter().zip(&per_set) {
        total.merge(c);
        datasets.push(Score::new(d.name.clone(), unit_name(d.kind), *c));
    }
    Ok(Report {
        mode,
        datasets,
        folds: folds_out,
        reliability: tally.table(),
        items: tally.items,
        evidence: tally.evidence,
        total: Score::new("total".to_string(), "all", total),
        feedback: None,
    })
}

/// Runs `debrief eval action-items`, writing the report to `out`.
pub fn run_eval(args: &ActionItemsEval, out: &mut dyn Write) -> Result<Report, EvalError> {
    let sets = args
        .datasets
        .iter()
        .map(|p| data::load(p))
        .collect::<Result<Vec<_>, _>>()?;
    let mut report = evaluate(&sets, args.cv)?;
    if let (true, Some(k)) = (args.feedback_sim, args.cv) {
        let all: Vec<(usize, &data::Labelled)> = sets
            .iter()
            .enumerate()
            .filter(|(_, d)| d.kind != Kind::Parallel)
            .flat_map(|(si, d)| d.labelled.iter().map(move |l| (si, l)))
            .collect();
        let names: Vec<String> = sets.iter().map(|d| d.name.clone()).collect();
        report.feedback = Some(simulate::run(&all, &names, k));
    }
    let w = |e: std::io::Error| EvalError::Write {
        what: "report".to_string(),
        source: e,
    };
    if args.json {
        let j = serde_json::to_string_pretty(&report).map_err(|e| EvalError::Write {
            what: "report".to_string(),
            source: std::io::Error::other(e),
        })?;
        writeln!(out, "{j}").map_err(w)?;
    } else {
        writeln!(out, "mode: {}", report.mode).map_err(w)?;
        for s in report.folds.iter().chain(&report.datasets) {
            writeln!(
                out,
                "{:<44} {:<9} tp={:<5} fp={:<5} fn={:<5} P={:.3} R={:.3} F1={:.3}",
                s.name, s.unit, s.counts.tp, s.counts.fp, s.counts.fn_, s.precision, s.recall, s.f1
            )
            .map_err(w)?;
        }
        let [c, r, sg] = report.items;
        writeln!(
            out,
            "items: {} (committed {c}, requested {r}, suggested {sg}), {:.2} evidence spans per item",
            c + r + sg,
            report.evidence as f64 / (c + r + sg).max(1) as f64
        )
        .map_err(w)?;
        writeln!(
            out,
            "reliability (items by confidence): bin items mean_conf correct"
        )
        .map_err(w)?;
        for r in &report.reliability {
            writeln!(
                out,
                "  [{:.1},{:.1}) {:>6} {:.3} {:.3}",
                r.lo, r.hi, r.items, r.mean_confidence, r.correct
            )
            .map_err(w)?;
        }
        if let Some(fb) = &report.feedback {
            writeln!(
                out,
                "feedback simulation ({} folds; held-out segments and sentences): {} suggestions accepted, {} discarded; {} resolved by id, labelling {} units positive and {} negative",
                fb.folds, fb.accepted, fb.discarded, fb.resolved.0, fb.resolved.1, fb.resolved.2
            )
            .map_err(w)?;
            for a in &fb.arms {
                writeln!(
                    out,
                    "  {:<28} {:<40} P={:.3} R={:.3} F1={:.3} ECE={} items={}",
                    a.data,
                    a.name,
                    a.precision,
                    a.recall,
                    a.f1,
                    a.ece
                        .map(|e| format!("{e:.3}"))
                        .unwrap_or_else(|| "-".into()),
                    a.items
                )
                .map_err(w)?;
            }
        }
    }
    let t = &report.total;
    writeln!(
        out,
        "precision={:.4} recall={:.4} f1={:.4}",
        t.precision, t.recall, t.f1
    )
    .map_err(w)?;
    Ok(report)
}

/// `debrief eval ...`: runs the evaluation and prints the report on standard output.
pub fn command_eval(args: EvalArgs) -> Result<std::process::ExitCode, EvalError> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match &args.command {
        EvalCommand::ActionItems(a) => run_eval(a, &mut out)?,
        EvalCommand::Highlights(a) => {
            return highlights::run(a, &mut out).map(|_| std::process::ExitCode::SUCCESS)
        }
        EvalCommand::Pii(a) => {
            return pii::run(a, &mut out).map(|_| std::process::ExitCode::SUCCESS)
        }
    };
    Ok(std::process::ExitCode::SUCCESS)
}

/// `debrief train ...`: trains and writes the model, with a summary on standard output.
pub fn command_train(args: TrainArgs) -> Result<std::process::ExitCode, EvalError> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match &args.command {
        TrainCommand::ActionItems(a) => run_train(a, &mut out)?,
    }
    Ok(std::process::ExitCode::SUCCESS)
}

/// Runs `debrief train action-items`: trains on every labelled file and writes the model.
pub fn run_train(args: &ActionItemsTrain, out: &mut dyn Write) -> Result<(), EvalError> {
    let sets = args
        .datasets
        .iter()
        .map(|p| data::load(p))
        .collect::<Result<Vec<_>, _>>()?;
    let all: Vec<(usize, &data::Labelled)> = sets
        .iter()
        .enumerate()
        .flat_map(|(si, d)| d.labelled.iter().map(move |l| (si, l)))
        .collect();
    if all.is_empty() {
        return Err(EvalError::Usage(
            "no labelled conversation in the given files".to_string(),
        ));
    }
    let docs = train::prepare(&all);
    let (extra, fb) = if args.feedback.is_empty() {
        (Vec::new(), None)
    } else {
        let (d, s) = feedback::from_files(
            &args.feedback,
            &args.transcripts,
            args.config.as_deref(),
            sets.len(),
        )?;
        (d, Some(s))
    };
    let mut refs: Vec<&train::Doc> = docs.iter().collect();
    refs.extend(extra.iter());
    let p = TrainParams::default();
    let mut trained_on: Vec<String> = sets
        .iter()
        .filter(|d| !d.labelled.is_empty())
        .map(|d| format!("{} ({} labelled conversations)", d.name, d.labelled.len()))
        .collect();
    if let Some(s) = &fb {
        let line = format!(
            "feedback: {} suggestions accepted, {} discarded; {} of them resolved by id in {} conversations ({} not in the transcripts), labelling {} units positive and {} negative",
            s.verdicts.0,
            s.verdicts.1,
            s.resolved.items,
            s.conversations_found,
            s.conversations_missing,
            s.resolved.units.0,
            s.resolved.units.1
        );
        writeln!(out, "{line}").map_err(|e| EvalError::Write {
            what: "output".to_string(),
            source: e,
        })?;
        trained_on.push(line);
    }
    trained_on.push(format!(
        "params: epochs={} learning_rate={} l2={} positive_weight={} min_count={} seed={} inner_folds={}",
        p.epochs, p.learning_rate, p.l2, p.positive_weight, p.min_count, p.seed, args.inner_folds
    ));
    let m = train::fit(&refs, &p, args.inner_folds, trained_on);
    let json = serde_json::to_string(&m).map_err(|e| EvalError::Write {
        what: args.out.display().to_string(),
        source: std::io::Error::other(e),
    })?;
    std::fs::write(&args.out, json + "\n").map_err(|e| EvalError::Write {
        what: args.out.display().to_string(),
        source: e,
    })?;
    writeln!(
        out,
        "wrote {}: {} weights, conversation threshold {:.3}, document threshold {:.3}",
        args.out.display(),
        m.model.index.len(),
        m.model.conversation.threshold,
        m.model.document.threshold
    )
    .map_err(|e| EvalError::Write {
        what: "output".to_string(),
        source: e,
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_give_precision_recall_f1() {
        let mut c = Counts::default();
        for (p, a) in [
            (true, true),
            (true, false),
            (false, true),
            (false, true),
            (false, false),
        ] {
            c.add(p, a);
        }
        assert_eq!((c.tp, c.fp, c.fn_), (1, 1, 2));
        assert!((c.precision() - 0.5).abs() < 1e-12);
        assert!((c.recall() - 1.0 / 3.0).abs() < 1e-12);
        assert!((c.f1() - 0.4).abs() < 1e-12);
    }
}
