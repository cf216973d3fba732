//! Readers for the labelled evaluation files (`../shared/eval/*.jsonl`), one JSON object per
//! line:
//!
//! - conversations with `segments[].action_item_label` (0/1): scored per segment;
//! - sentences with `text` and `label` (`Yes`/`No`): each is a one-segment conversation;
//! - parallel dialogues (`meta.dialogue_id` with one line per language, e.g. DiaBLa): the
//!   versions are paired for the agreement score.
//!
//! Segments get their 0-based position as id, like the file reader does.

use debrief::model::{Conversation, Segment, Side};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// Why a file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The file could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// File path.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// A line is not a JSON object of a known form.
    #[error("{path}:{line}: {message}")]
    Parse {
        /// File path.
        path: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

/// How a file is scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Segment labels (`action_item_label`).
    Segments,
    /// Sentence labels (`label` Yes/No).
    Sentences,
    /// Parallel versions of the same dialogues, no labels: agreement between versions.
    Parallel,
}

/// A labelled conversation.
#[derive(Debug, Clone)]
pub struct Labelled {
    /// Cross-validation group: the meeting id, or the sentence id.
    pub group: String,
    /// ISO 639-1 language.
    pub lang: String,
    /// The conversation (segment ids are positions).
    pub conv: Conversation,
    /// Per segment: part of an action item.
    pub labels: Vec<bool>,
}

/// Two language versions of one dialogue, segment-aligned.
#[derive(Debug, Clone)]
pub struct Pair {
    /// First version (language, conversation), the English one when there is one.
    pub a: (String, Conversation),
    /// Second version.
    pub b: (String, Conversation),
}

/// One evaluation file.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// File name (without directories).
    pub name: String,
    /// How it is scored.
    pub kind: Kind,
    /// Labelled conversations (segments and sentences kinds).
    pub labelled: Vec<Labelled>,
    /// Pairs (parallel kind).
    pub pairs: Vec<Pair>,
}

fn segment_of(i: usize, v: &Value) -> Segment {
    Segment {
        id: i.to_string(),
        speaker: v
            .get("speaker")
            .and_then(Value::as_str)
            .unwrap_or("unknown")
            .to_string(),
        speaker_name: None,
        side: Side::Unknown,
        start_ms: v.get("start_ms").and_then(Value::as_i64),
        end_ms: v.get("end_ms").and_then(Value::as_i64),
        text: v
            .get("text")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        language: None,
        confidence: None,
    }
}

/// Reads one evaluation file.
pub fn load(path: &Path) -> Result<Dataset, DataError> {
    let p = path.display().to_string();
    let body = std::fs::read_to_string(path).map_err(|source| DataError::Io {
        path: p.clone(),
        source,
    })?;
    parse(&p, &body)
}

/// Parses the text of an evaluation file named `path`.
pub fn parse(path: &str, body: &str) -> Result<Dataset, DataError> {
    let name = Path::new(path)
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| path.to_string());
    let mut labelled = Vec::new();
    let mut sentences = 0usize;
    let mut segmented = 0usize;
    let mut parallel: BTreeMap<String, Vec<(String, Conversation)>> = BTreeMap::new();
    for (ln, line) in body.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let err = |message: String| DataError::Parse {
            path: path.to_string(),
            line: ln + 1,
            message,
        };
        let v: Value = serde_json::from_str(line).map_err(|e| err(format!("invalid JSON: {e}")))?;
        let id = v
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let lang = v
            .get("language")
            .and_then(Value::as_str)
            .unwrap_or("en")
            .to_string();
        if let Some(segs) = v.get("segments").and_then(Value::as_array) {
            let conv = Conversation {
                id: id.clone(),
                tenant_id: "eval".to_string(),
                language: Some(lang.clone()),
                segments: segs
                    .iter()
                    .enumerate()
                    .map(|(i, s)| segment_of(i, s))
                    .collect(),
                ..Default::default()
            };
            let has_labels = segs.iter().any(|s| s.get("action_item_label").is_some());
            if has_labels {
                let labels = segs
                    .iter()
                    .map(|s| {
                        s.get("action_item_label")
                            .and_then(Value::as_i64)
                            .unwrap_or(0)
                            != 0
                    })
                    .collect();
                let group = v
                    .pointer("/meta/meeting_id")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .unwrap_or_else(|| id.clone());
                segmented += 1;
                labelled.push(Labelled {
                    group,
                    lang,
                    conv,
                    labels,
                });
            } else if let Some(d) = v.pointer("/meta/dialogue_id").and_then(Value::as_str) {
                parallel
                    .entry(d.to_string())
                    .or_default()
                    .push((lang, conv));
            }
        } else if let (Some(text), Some(label)) = (
            v.get("text").and_then(Value::as_str),
            v.get("label").and_then(Value::as_str),
        ) {
            let positive = match label.to_ascii_lowercase().as_str() {
                "yes" | "1" | "true" => true,
                "no" | "0" | "false" => false,
                other => return Err(err(format!("label must be Yes or No, got {other:?}"))),
            };
            let conv = Conversation {
                id: id.clone(),
                tenant_id: "eval".to_string(),
                language: Some(lang.clone()),
                segments: vec![Segment {
                    id: "0".to_string(),
                    speaker: "writer".to_string(),
                    text: text.to_string(),
                    ..Default::default()
                }],
                ..Default::default()
            };
            sentences += 1;
            labelled.push(Labelled {
                group: id,
                lang,
                conv,
                labels: vec![positive],
            });
        } else {
            return Err(err("neither `segments` nor `text` with `label`".to_string()));
        }
    }
    let mut pairs = Vec::new();
    // A dialogue without its other version, or with versions not aligned, is left out.
    for versions in parallel.into_values() {
        let mut versions = versions;
        if versions.len() != 2 || versions[0].1.segments.len() != versions[1].1.segments.len() {
            continue;
        }
        // English first, then by language code, so the pair order is stable.
        versions.sort_by(|x, y| (x.0 != "en", &x.0).cmp(&(y.0 != "en", &y.0)));
        let b = versions.pop();
        let a = versions.pop();
        if let (Some(a), Some(b)) = (a, b) {
            pairs.push(Pair { a, b });
        }
    }
    let kind = if !pairs.is_empty() {
        Kind::Parallel
    } else if sentences > segmented {
        Kind::Sentences
    } else {
        Kind::Segments
    };
    Ok(Dataset {
        name,
        kind,
        labelled,
        pairs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_three_forms() {
        let seg = r#"{"id":"m1","language":"en","segments":[{"speaker":"a","start_ms":0,"end_ms":5,"text":"i'll do it","action_item_label":1},{"speaker":"b","text":"ok","action_item_label":0}],"meta":{"meeting_id":"M1"}}"#;
        let d = parse("x/icsi.jsonl", seg).unwrap();
        assert_eq!(d.name, "icsi.jsonl");
        assert_eq!(d.kind, Kind::Segments);
        assert_eq!(d.labelled[0].group, "M1");
        assert_eq!(d.labelled[0].labels, vec![true, false]);
        assert_eq!(d.labelled[0].conv.segments[1].id, "1");

        let sent = "{\"id\":\"s1\",\"text\":\"Please call me.\",\"label\":\"Yes\"}\n{\"id\":\"s2\",\"text\":\"Hi.\",\"label\":\"No\"}";
        let d = parse("email.jsonl", sent).unwrap();
        assert_eq!(d.kind, Kind::Sentences);
        assert_eq!(
            d.labelled.iter().map(|l| l.labels[0]).collect::<Vec<_>>(),
            vec![true, false]
        );

        let par = r#"{"id":"d_fr","language":"fr","segments":[{"speaker":"A","text":"Je t'appelle."}],"meta":{"dialogue_id":"d"}}
{"id":"d_en","language":"en","segments":[{"speaker":"A","text":"I'll call you."}],"meta":{"dialogue_id":"d"}}"#;
        let d = parse("diabla.jsonl", par).unwrap();
        assert_eq!(d.kind, Kind::Parallel);
        assert_eq!(d.pairs.len(), 1);
        assert_eq!(d.pairs[0].a.0, "en");
        assert_eq!(d.pairs[0].b.0, "fr");
    }

    #[test]
    fn bad_lines_are_named() {
        let e = parse("f.jsonl", "{\"id\":1}\n").unwrap_err().to_string();
        assert!(e.starts_with("f.jsonl:1:"), "{e}");
        let e = parse("f.jsonl", "\n{\"text\":\"x\",\"label\":\"maybe\"}")
            .unwrap_err()
            .to_string();
        assert!(e.contains("f.jsonl:2:") && e.contains("maybe"), "{e}");
    }
}
