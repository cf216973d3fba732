//! `debrief eval highlights FILE...`: ROUGE-1, ROUGE-2 and ROUGE-L (F1) of the highlights
//! against human minutes (`meta.minutes`: a text, a list, or an object of several
//! annotators' minutes) or reports (`meta.reference_report_paragraphs`), compared in the
//! same run with two baselines that pick the same number of sentences from the same
//! candidates: lead-N (the first N) and TextRank (PageRank over word-overlap similarity,
//! Mihalcea and Tarau 2004). Conversations under the 1,000-character floor or without a
//! reference are skipped.
//!
//! ROUGE here: lower-case words (letters and digits), no stemming, no stop-word removal;
//! with several references, the mean over them. The last line is `rouge1=… rouge2=…
//! rougeL=…` for the highlights, averaged over every conversation scored.

use super::EvalError;
use debrief::extract::highlights::{self, Sentence};
use debrief::extract::{action_items, language};
use debrief::model::{Conversation, Segment};
use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, Write};
use std::path::PathBuf;

/// `debrief eval highlights DATASET...`
#[derive(Debug, clap::Args)]
pub struct HighlightsEval {
    /// Conversation files (JSON lines) with `meta.minutes` or
    /// `meta.reference_report_paragraphs`.
    #[arg(required = true)]
    pub datasets: Vec<PathBuf>,
}

/// The systems compared.
const SYSTEMS: [&str; 3] = ["highlights", "lead-n", "textrank"];

fn words(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

fn f1(overlap: usize, cand: usize, refr: usize) -> f64 {
    if overlap == 0 {
        return 0.0;
    }
    let p = overlap as f64 / cand as f64;
    let r = overlap as f64 / refr as f64;
    2.0 * p * r / (p + r)
}

fn ngram_f1(c: &[String], r: &[String], n: usize) -> f64 {
    if c.len() < n || r.len() < n {
        return 0.0;
    }
    let mut counts: HashMap<&[String], i64> = HashMap::new();
    for g in r.windows(n) {
        *counts.entry(g).or_default() += 1;
    }
    let mut overlap = 0;
    for g in c.windows(n) {
        if let Some(k) = counts.get_mut(g) {
            if *k > 0 {
                *k -= 1;
                overlap += 1;
            }
        }
    }
    f1(overlap, c.len() + 1 - n, r.len() + 1 - n)
}

fn lcs_f1(c: &[String], r: &[String]) -> f64 {
    if c.is_empty() || r.is_empty() {
        return 0.0;
    }
    let mut prev = vec![0u32; r.len() + 1];
    let mut cur = vec![0u32; r.len() + 1];
    for x in c {
        for (j, y) in r.iter().enumerate() {
            cur[j + 1] = if x == y {
                prev[j] + 1
            } else {
                cur[j].max(prev[j + 1])
            };
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    f1(prev[r.len()] as usize, c.len(), r.len())
}

/// ROUGE-1, ROUGE-2, ROUGE-L F1 of a candidate against references (mean over them).
pub fn rouge(candidate: &str, references: &[String]) -> [f64; 3] {
    let c = words(candidate);
    let mut out = [0.0; 3];
    for r in references {
        let r = words(r);
        out[0] += ngram_f1(&c, &r, 1);
        out[1] += ngram_f1(&c, &r, 2);
        out[2] += lcs_f1(&c, &r);
    }
    let n = references.len().max(1) as f64;
    out.map(|x| x / n)
}

/// TextRank: PageRank (damping 0.85, 50 iterations) over sentences linked by the number of
/// shared content words divided by `ln|a| + ln|b|`; the `n` best in conversation order.
pub fn textrank(sents: &[Sentence], n: usize) -> Vec<usize> {
    let m = sents.len();
    let mut index: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, s) in sents.iter().enumerate() {
        let mut ws: Vec<&str> = s.words.iter().map(String::as_str).collect();
        ws.sort_unstable();
        ws.dedup();
        for w in ws {
            index.entry(w).or_default().push(i);
        }
    }
    let mut edges: Vec<HashMap<usize, f64>> = vec![HashMap::new(); m];
    for list in index.values() {
        if list.len() > 200 {
            continue; // a word in most sentences links everything and says nothing
        }
        for (a, &i) in list.iter().enumerate() {
            for &j in &list[a + 1..] {
                *edges[i].entry(j).or_default() += 1.0;
                *edges[j].entry(i).or_default() += 1.0;
            }
        }
    }
    let norm = |i: usize| (sents[i].words.len().max(2) as f64).ln();
    let weights: Vec<Vec<(usize, f64)>> = edges
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let mut v: Vec<(usize, f64)> = e
                .iter()
                .map(|(&j, &c)| (j, c / (norm(i) + norm(j))))
                .collect();
            v.sort_by_key(|x| x.0);
            v
        })
        .collect();
    let out_sum: Vec<f64> = weights
        .iter()
        .map(|v| v.iter().map(|x| x.1).sum())
        .collect();
    let mut score = vec![1.0; m];
    for _ in 0..50 {
        let mut next = vec![0.15; m];
        for (i, v) in weights.iter().enumerate() {
            if out_sum[i] > 0.0 {
                for &(j, w) in v {
                    next[j] += 0.85 * score[i] * w / out_sum[i];
                }
            }
        }
        score = next;
    }
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| score[b].total_cmp(&score[a]).then(a.cmp(&b)));
    order.truncate(n);
    order.sort_unstable();
    order
}

fn references(meta: &serde_json::Value) -> Vec<String> {
    use serde_json::Value;
    let join = |v: &Value| -> Option<String> {
        match v {
            Value::String(s) => Some(s.clone()),
            Value::Array(a) => Some(
                a.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join("\n"),
            ),
            _ => None,
        }
    };
    if let Some(m) = meta.get("minutes") {
        return match m {
            Value::Object(o) => o.values().filter_map(join).collect(),
            other => join(other).into_iter().collect(),
        };
    }
    meta.get("reference_report_paragraphs")
        .and_then(join)
        .into_iter()
        .collect()
}

fn conversation(v: &serde_json::Value) -> Conversation {
    let segments = v["segments"]
        .as_array()
        .map(|a| {
            a.iter()
                .enumerate()
                .map(|(i, s)| Segment {
                    id: i.to_string(),
                    speaker: s["speaker"].as_str().unwrap_or("?").to_string(),
                    text: s["text"].as_str().unwrap_or_default().to_string(),
                    ..Segment::default()
                })
                .collect()
        })
        .unwrap_or_default();
    Conversation {
        id: v["id"].as_str().unwrap_or_default().to_string(),
        language: v["language"].as_str().map(str::to_string),
        segments,
        ..Conversation::default()
    }
}

fn text_of(conv: &Conversation, sents: &[Sentence], picked: &[usize]) -> String {
    picked
        .iter()
        .map(|&i| {
            let s = &sents[i];
            conv.segments[s.segment]
                .text
                .chars()
                .skip(s.start)
                .take(s.end - s.start)
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs `debrief eval highlights`, writing the table to `out`.
pub fn run(args: &HighlightsEval, out: &mut dyn Write) -> Result<(), EvalError> {
    let w = |e: std::io::Error| EvalError::Write {
        what: "report".to_string(),
        source: e,
    };
    // (language, system) -> (sum of R1, R2, RL; conversations; words picked)
    let mut sums: BTreeMap<(String, &str), ([f64; 3], u32, usize)> = BTreeMap::new();
    for path in &args.datasets {
        let file = std::fs::File::open(path).map_err(|e| EvalError::Write {
            what: format!("(reading) {}", path.display()),
            source: e,
        })?;
        for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
            let line = line.map_err(w)?;
            if line.trim().is_empty() {
                continue;
            }
            let v: serde_json::Value = serde_json::from_str(&line)
                .map_err(|e| EvalError::Usage(format!("{}:{}: {e}", path.display(), n + 1)))?;
            let refs = references(&v["meta"]);
            let conv = conversation(&v);
            if refs.is_empty() || conv.text_chars() < 1000 {
                continue;
            }
            let lang = language::detect(&conv).code.unwrap_or_else(|| "en".into());
            let items = action_items::extract(&conv, &lang, None, "UTC");
            let hl = highlights::extract(&conv, &lang, &items);
            let sents = highlights::sentences(&conv, &lang);
            let n = hl.len();
            let hl_text = hl
                .iter()
                .map(|h| h.text.as_str())
                .collect::<Vec<_>>()
                .join("\n");
            let lead: Vec<usize> = (0..n.min(sents.len())).collect();
            let tr = textrank(&sents, n);
            let texts = [
                hl_text,
                text_of(&conv, &sents, &lead),
                text_of(&conv, &sents, &tr),
            ];
            for (sys, t) in SYSTEMS.iter().zip(&texts) {
                let r = rouge(t, &refs);
                let e = sums.entry((lang.clone(), sys)).or_default();
                for (acc, x) in e.0.iter_mut().zip(r) {
                    *acc += x;
                }
                e.1 += 1;
                e.2 += words(t).len();
            }
        }
    }
    writeln!(
        out,
        "(the three systems pick the same number of sentences per conversation; words: mean words picked)"
    )
    .map_err(w)?;
    writeln!(
        out,
        "{:<5} {:<11} {:>5} {:>8} {:>8} {:>8}",
        "lang", "system", "convs", "rouge1", "rouge2", "rougeL"
    )
    .map_err(w)?;
    let mut all = ([0.0; 3], 0u32);
    let mut langs: Vec<&String> = sums.keys().map(|(l, _)| l).collect();
    langs.dedup();
    for lang in langs {
        for sys in SYSTEMS {
            if let Some((s, c, nw)) = sums.get(&(lang.clone(), sys)) {
                let m = s.map(|x| x / f64::from(*c));
                writeln!(
                    out,
                    "{lang:<5} {sys:<11} {c:>5} {:>8.4} {:>8.4} {:>8.4}  words {:.0}",
                    m[0],
                    m[1],
                    m[2],
                    *nw as f64 / f64::from(*c)
                )
                .map_err(w)?;
                if sys == "highlights" {
                    for (acc, x) in all.0.iter_mut().zip(s) {
                        *acc += x;
                    }
                    all.1 += c;
                }
            }
        }
    }
    let m = all.0.map(|x| x / f64::from(all.1.max(1)));
    writeln!(
        out,
        "rouge1={:.4} rouge2={:.4} rougeL={:.4}",
        m[0], m[1], m[2]
    )
    .map_err(w)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rouge_by_hand() {
        let refs = vec!["the cat sat on the mat".to_string()];
        // 5 of 6 unigrams shared (cat sat on the mat), candidate 5 words: P 1, R 5/6.
        let r = rouge("The cat sat on the mat.", &refs);
        assert!((r[0] - 1.0).abs() < 1e-9);
        let r = rouge("cat sat on the mat", &refs);
        assert!((r[0] - 2.0 * (5.0 / 6.0) / (1.0 + 5.0 / 6.0)).abs() < 1e-9);
        // Bigrams: 4 of 4 candidate, of 5 reference.
        assert!((r[1] - 2.0 * 0.8 / 1.8).abs() < 1e-9);
        // LCS 5.
        assert!((r[2] - r[0]).abs() < 1e-9);
        assert_eq!(rouge("dog", &refs), [0.0, 0.0, 0.0]);
    }
}
