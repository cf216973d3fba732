//! Transcript files: JSON Lines (one conversation per line), WebVTT and single JSON objects,
//! detected by extension. Each reader yields conversations one by one, so a malformed line
//! (bad JSON, invalid UTF-8) gives an error naming the file and line and the rest of the file
//! is still read. Damage inside one conversation (a WebVTT cue that cannot be read, a time zone
//! that is not an IANA name) does not lose the conversation: the reader yields a
//! [`FileError::Damaged`] for each problem, then the conversation without the damaged part.
//!
//! WebVTT is parsed here rather than with a crate: the published WebVTT crates neither report
//! line numbers nor keep `<v Speaker>` voice spans, and the subset meeting platforms export
//! (header, optional cue ids, `NOTE`/`STYLE` blocks, timings, voice tags) is small.

use crate::model::{Conversation, Segment, Side};
use chrono::{DateTime, FixedOffset};
use serde::Deserialize;
use std::collections::{BTreeSet, VecDeque};
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// Tenant id given to conversations read from files that name none.
pub const DEFAULT_TENANT: &str = "default";

/// Speaker of a WebVTT cue that names none (no `<v Name>` voice tag, no `Name: ` prefix).
pub const UNKNOWN_SPEAKER: &str = "unknown";

/// A file that could not be read, or one conversation in it that could not be parsed.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The file could not be opened or read.
    #[error("{path}: {source}")]
    Io {
        /// File path.
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
    /// The extension is not one of `.jsonl`, `.vtt`, `.json`.
    #[error("{path}: unsupported file type (expected .jsonl, .vtt or .json)")]
    UnsupportedType {
        /// File path.
        path: PathBuf,
    },
    /// A line (JSON Lines), object (JSON) or cue (WebVTT) is malformed.
    #[error("{path}:{line}: {message}")]
    Malformed {
        /// File path.
        path: PathBuf,
        /// 1-based line number where the problem is.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// Part of a conversation could not be read (a WebVTT cue, a time zone) and was left out or
    /// replaced by the default. The reader yields the conversation itself right after its
    /// `Damaged` errors.
    #[error("{path}:{line}: {message}")]
    Damaged {
        /// File path.
        path: PathBuf,
        /// 1-based line number of the damaged part.
        line: usize,
        /// What is wrong and what was done about it.
        message: String,
    },
}

/// A conversation as written in `.jsonl` and `.json` files. Unknown keys are ignored.
#[derive(Debug, Deserialize)]
struct FileConversation {
    id: String,
    #[serde(default)]
    tenant_id: Option<String>,
    #[serde(default)]
    language: Option<String>,
    #[serde(default)]
    started_at: Option<String>,
    #[serde(default)]
    time_zone: Option<String>,
    #[serde(default)]
    source_platform: Option<String>,
    #[serde(default)]
    client_version: Option<String>,
    #[serde(default)]
    owner_id: Option<String>,
    segments: Vec<FileSegment>,
}

#[derive(Debug, Deserialize)]
struct FileSegment {
    #[serde(default)]
    id: Option<serde_json::Value>,
    speaker: String,
    #[serde(default)]
    speaker_name: Option<String>,
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    start_ms: Option<f64>,
    #[serde(default)]
    end_ms: Option<f64>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    language: Option<String>,
    #[serde(default)]
    confidence: Option<f32>,
}

/// The side of a speaker: the role when it is a known role name or alias, else the speaker
/// id itself when it is one (`agent`, `caller`, `customer`... as in call-centre exports),
/// else unknown. Roles that are not about sides (`chair`, `regular`) mean unknown.
fn side_of(speaker: &str, role: Option<&str>) -> Side {
    role.and_then(Side::from_role)
        .or_else(|| Side::from_role(speaker))
        .unwrap_or(Side::Unknown)
}

/// Converts a millisecond offset read as a JSON number: non-finite values become `None`,
/// fractions are rounded to the nearest millisecond.
fn offset_ms(v: Option<f64>) -> Option<i64> {
    v.filter(|x| x.is_finite()).map(|x| x.round() as i64)
}

fn parse_started_at(s: &str) -> Result<DateTime<FixedOffset>, String> {
    DateTime::parse_from_rfc3339(s)
        .map_err(|e| format!("started_at {s:?} is not an RFC 3339 date-time: {e}"))
}

/// `true` when `tz` is an IANA time zone name that due dates can be resolved in.
pub fn is_time_zone(tz: &str) -> bool {
    tz.parse::<chrono_tz::Tz>().is_ok()
}

/// The message for a conversation time zone that is not an IANA name (the value is cut to 64
/// characters).
fn bad_time_zone(tz: &str) -> String {
    let shown: String = tz.chars().take(64).collect();
    format!(
        "time_zone {shown:?} is not an IANA time zone name (Europe/Paris, UTC): due dates use the default time zone (--time-zone)"
    )
}

impl FileConversation {
    /// The conversation and what was damaged in it (messages; the damaged values are
    /// replaced by defaults), or why it cannot be read at all.
    fn into_conversation(mut self) -> Result<(Conversation, Vec<String>), String> {
        if self.id.trim().is_empty() {
            return Err("conversation id is empty".into());
        }
        let started_at = self
            .started_at
            .as_deref()
            .map(parse_started_at)
            .transpose()?;
        let mut damage = Vec::new();
        if let Some(tz) = self.time_zone.take() {
            if is_time_zone(&tz) {
                self.time_zone = Some(tz);
            } else {
                damage.push(bad_time_zone(&tz));
            }
        }
        let mut segments = Vec::with_capacity(self.segments.len());
        for (i, s) in self.segments.into_iter().enumerate() {
            let side = side_of(&s.speaker, s.role.as_deref());
            let id = match s.id {
                None | Some(serde_json::Value::Null) => i.to_string(),
                Some(serde_json::Value::String(s)) => s,
                Some(other) => other.to_string(),
            };
            segments.push(Segment {
                id,
                speaker: s.speaker,
                speaker_name: s.speaker_name,
                side,
                start_ms: offset_ms(s.start_ms),
                end_ms: offset_ms(s.end_ms),
                text: s.text.unwrap_or_default(),
                language: s.language,
                confidence: s.confidence,
            });
        }
        let conversation = Conversation {
            id: self.id,
            tenant_id: self.tenant_id.unwrap_or_else(|| DEFAULT_TENANT.to_string()),
            source_platform: self.source_platform,
            client_version: self.client_version,
            language: self.language,
            started_at,
            time_zone: self.time_zone,
            segments,
            owner_id: self.owner_id,
        };
        Ok((conversation, damage))
    }
}

/// Parses one conversation object (a `.jsonl` line or a `.json` file). A time zone that is not
/// an IANA name is an error here; [`open`] reads such a conversation with the default time
/// zone instead and reports it as [`FileError::Damaged`].
pub fn parse_conversation_json(text: &str) -> Result<Conversation, String> {
    let (conversation, damage) = parse_conversation_damaged(text)?;
    match damage.into_iter().next() {
        None => Ok(conversation),
        Some(message) => Err(message),
    }
}

/// Parses one conversation object, keeping the conversation when only parts of it are damaged.
fn parse_conversation_damaged(text: &str) -> Result<(Conversation, Vec<String>), String> {
    let fc: FileConversation = serde_json::from_str(text).map_err(|e| e.to_string())?;
    fc.into_conversation()
}

/// The input formats, chosen by extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One conversation object per line.
    JsonLines,
    /// WebVTT with `<v Name>` voice tags.
    WebVtt,
    /// One conversation object.
    Json,
}

impl Format {
    /// The format of a path, from its extension (case-insensitive).
    pub fn of(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "jsonl" | "ndjson" => Some(Format::JsonLines),
            "vtt" => Some(Format::WebVtt),
            "json" => Some(Format::Json),
            _ => None,
        }
    }
}

/// Iterator over the conversations of one file.
pub struct ConversationReader {
    path: PathBuf,
    /// Items ready to be yielded (a conversation after its `Damaged` errors).
    ready: VecDeque<Result<Conversation, FileError>>,
    /// The lines still to read (JSON Lines only).
    lines: Option<Lines>,
    bytes_read: u64,
}

/// A JSON Lines file being read: raw lines (UTF-8 is checked per line) and the line number.
struct Lines {
    lines: std::io::Split<BufReader<File>>,
    line: usize,
}

impl ConversationReader {
    /// Bytes consumed so far (for progress bars). For `.vtt` and `.json` the whole file is read
    /// at once.
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read
    }

    /// The file being read.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The items for one conversation read at `line`: a `Damaged` error per damaged part, then
/// the conversation; or the error that lost it.
fn items(path: &Path, line: usize, parsed: Parsed) -> Vec<Result<Conversation, FileError>> {
    match parsed {
        Err((at, message)) => vec![Err(FileError::Malformed {
            path: path.to_path_buf(),
            line: line + at - 1,
            message,
        })],
        Ok((conversation, damage)) => damage
            .into_iter()
            .map(|(at, message)| {
                Err(FileError::Damaged {
                    path: path.to_path_buf(),
                    line: line + at - 1,
                    message,
                })
            })
            .chain([Ok(conversation)])
            .collect(),
    }
}

/// Where the first invalid UTF-8 byte of `bytes` is: (1-based line, 1-based byte in the line).
fn utf8_error_at(bytes: &[u8], error: &std::str::Utf8Error) -> (usize, usize) {
    let valid = &bytes[..error.valid_up_to()];
    let line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
    let column = valid.len() - valid.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1) + 1;
    (line, column)
}

impl Iterator for ConversationReader {
    type Item = Result<Conversation, FileError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(item) = self.ready.pop_front() {
                return Some(item);
            }
            let lines = self.lines.as_mut()?;
            let raw = match lines.lines.next()? {
                Ok(raw) => raw,
                Err(source) => {
                    // Stop after an IO error: the rest of the file cannot be trusted.
                    self.lines = None;
                    let path = self.path.clone();
                    return Some(Err(FileError::Io { path, source }));
                }
            };
            lines.line += 1;
            let line = lines.line;
            self.bytes_read += raw.len() as u64 + 1;
            let text = match std::str::from_utf8(&raw) {
                Ok(text) => text,
                Err(e) => {
                    let (_, column) = utf8_error_at(&raw, &e);
                    return Some(Err(FileError::Malformed {
                        path: self.path.clone(),
                        line,
                        message: format!("not valid UTF-8 (byte {column} of the line)"),
                    }));
                }
            };
            if text.trim().is_empty() {
                continue;
            }
            let parsed = parse_conversation_damaged(text)
                .map(|(c, damage)| (c, damage.into_iter().map(|m| (1, m)).collect()))
                .map_err(|m| (1, m));
            self.ready.extend(items(&self.path, line, parsed));
        }
    }
}

/// Opens a transcript file; the format comes from the extension.
pub fn open(path: &Path) -> Result<ConversationReader, FileError> {
    let format = Format::of(path).ok_or_else(|| FileError::UnsupportedType {
        path: path.to_path_buf(),
    })?;
    let io = |source| FileError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(io)?;
    let mut reader = ConversationReader {
        path: path.to_path_buf(),
        ready: VecDeque::new(),
        lines: None,
        bytes_read: 0,
    };
    if format == Format::JsonLines {
        reader.lines = Some(Lines {
            lines: BufReader::new(file).split(b'\n'),
            line: 0,
        });
        return Ok(reader);
    }
    let mut bytes = Vec::new();
    BufReader::new(file).read_to_end(&mut bytes).map_err(io)?;
    reader.bytes_read = bytes.len() as u64;
    let parsed = if format == Format::Json {
        match std::str::from_utf8(&bytes) {
            Ok(text) => parse_conversation_damaged(text)
                .map(|(c, damage)| (c, damage.into_iter().map(|m| (1, m)).collect()))
                .map_err(|message| (json_error_line(&message), message)),
            Err(e) => {
                let (line, column) = utf8_error_at(&bytes, &e);
                Err((line, format!("not valid UTF-8 (byte {column} of the line)")))
            }
        }
    } else {
        let id = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("conversation");
        let (text, bad_lines) = decode_lines(&bytes);
        parse_vtt_lines(id, &text, &bad_lines)
    };
    reader.ready.extend(items(path, 1, parsed));
    Ok(reader)
}

/// Decodes a text file line by line: lines that are not valid UTF-8 are decoded lossily and
/// their 1-based numbers returned.
fn decode_lines(bytes: &[u8]) -> (String, BTreeSet<usize>) {
    match std::str::from_utf8(bytes) {
        Ok(text) => (text.to_string(), BTreeSet::new()),
        Err(_) => {
            let bad = bytes
                .split(|&b| b == b'\n')
                .enumerate()
                .filter(|(_, l)| std::str::from_utf8(l).is_err())
                .map(|(i, _)| i + 1)
                .collect();
            (String::from_utf8_lossy(bytes).into_owned(), bad)
        }
    }
}

/// serde_json reports "at line L column C" in its messages; use it for the error position.
fn json_error_line(message: &str) -> usize {
    message
        .rsplit_once(" at line ")
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(1)
}

/// Parses a `HH:MM:SS.mmm` or `MM:SS.mmm` WebVTT timestamp into milliseconds.
fn parse_vtt_time(s: &str) -> Option<i64> {
    let (clock, frac) = s.split_once('.')?;
    if frac.len() != 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let ms: i64 = frac.parse().ok()?;
    let parts: Vec<&str> = clock.split(':').collect();
    let nums: Option<Vec<i64>> = parts
        .iter()
        .map(|p| {
            if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) {
                p.parse().ok()
            } else {
                None
            }
        })
        .collect();
    let nums = nums?;
    let (h, m, sec) = match nums.as_slice() {
        [m, s] => (0, *m, *s),
        [h, m, s] => (*h, *m, *s),
        _ => return None,
    };
    if m > 59 || sec > 59 {
        return None;
    }
    Some(((h * 60 + m) * 60 + sec) * 1000 + ms)
}

/// Splits a cue payload into (speaker, text) using the first `<v Name>` voice tag; other tags
/// (`<c>`, `<i>`, `</v>`, timestamps) are removed. Without a voice tag the speaker is a
/// `Name: text` prefix when present, else `unknown`.
fn split_voice(payload: &str) -> (String, String) {
    let mut speaker: Option<String> = None;
    let mut text = String::with_capacity(payload.len());
    let mut rest = payload;
    while let Some(open) = rest.find('<') {
        text.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('>') else {
            text.push_str(&rest[open..]);
            rest = "";
            break;
        };
        let tag = &rest[open + 1..open + close];
        if speaker.is_none() {
            if let Some(name) = tag.strip_prefix('v').filter(|t| t.starts_with([' ', '.'])) {
                // `<v.loud Name>`: classes after the dot, then the name after the first space.
                let name = name.split_once(' ').map(|(_, n)| n).unwrap_or("").trim();
                if !name.is_empty() {
                    speaker = Some(name.to_string());
                }
            }
        }
        rest = &rest[open + close + 1..];
    }
    text.push_str(rest);
    let text = text
        .replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&nbsp;", " ");
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match speaker {
        Some(s) => (s, text),
        None => match text.split_once(": ") {
            Some((name, body))
                if !name.is_empty() && name.len() <= 40 && !name.contains(['.', '?', '!']) =>
            {
                (name.to_string(), body.to_string())
            }
            _ => (UNKNOWN_SPEAKER.to_string(), text),
        },
    }
}

/// A conversation read from text, with the parts that could not be read (1-based line within
/// the text, what is wrong); or the line and reason it cannot be read at all.
pub type Parsed = Result<(Conversation, Vec<(usize, String)>), (usize, String)>;

/// Parses a WebVTT document into a conversation with id `id`. A cue that cannot be read (no
/// timing line, a bad time) is left out and reported with its line; only a missing `WEBVTT`
/// header loses the document.
pub fn parse_vtt(id: &str, text: &str) -> Parsed {
    parse_vtt_lines(id, text, &BTreeSet::new())
}

/// [`parse_vtt`], where the lines numbered in `bad_lines` were not valid UTF-8: a cue that
/// holds one is left out.
fn parse_vtt_lines(id: &str, text: &str, bad_lines: &BTreeSet<usize>) -> Parsed {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines: Vec<&str> = text.lines().collect();
    match lines.first() {
        Some(first) if first.starts_with("WEBVTT") => {}
        _ => return Err((1, "missing WEBVTT header".into())),
    }
    let mut segments = Vec::new();
    let mut damaged = Vec::new();
    let mut i = 1;
    while i < lines.len() {
        // Skip blank lines between blocks.
        if lines[i].trim().is_empty() {
            i += 1;
            continue;
        }
        let block_start = i;
        let mut j = i;
        while j < lines.len() && !lines[j].trim().is_empty() {
            j += 1;
        }
        let block = &lines[block_start..j];
        i = j;
        let first = block[0].trim_start();
        if first.starts_with("NOTE") || first.starts_with("STYLE") || first.starts_with("REGION") {
            continue;
        }
        let skipped = |line: usize, reason: String| (line, format!("{reason}: cue skipped"));
        if let Some(bad) = (block_start + 1..=j).find(|l| bad_lines.contains(l)) {
            damaged.push(skipped(bad, "not valid UTF-8".into()));
            continue;
        }
        match parse_cue(block, block_start + 1) {
            Ok((cue_id, start_ms, end_ms, payload)) => {
                let (speaker, body) = split_voice(&payload);
                let side = Side::from_role(&speaker).unwrap_or(Side::Unknown);
                segments.push(Segment {
                    id: cue_id.unwrap_or_else(|| segments.len().to_string()),
                    speaker,
                    speaker_name: None,
                    side,
                    start_ms: Some(start_ms),
                    end_ms: Some(end_ms),
                    text: body,
                    language: None,
                    confidence: None,
                });
            }
            Err((line, reason)) => damaged.push(skipped(line, reason)),
        }
    }
    let conversation = Conversation {
        id: id.to_string(),
        tenant_id: DEFAULT_TENANT.to_string(),
        segments,
        ..Conversation::default()
    };
    Ok((conversation, damaged))
}

/// One cue block starting at 1-based line `first_line`: (identifier, start ms, end ms,
/// payload), or the line and reason it cannot be read.
type Cue = (Option<String>, i64, i64, String);

fn parse_cue(block: &[&str], first_line: usize) -> Result<Cue, (usize, String)> {
    // An optional identifier line, then the timing line.
    let (timing_idx, cue_id) = if block[0].contains("-->") {
        (0, None)
    } else if block.len() > 1 && block[1].contains("-->") {
        (1, Some(block[0].trim().to_string()))
    } else {
        return Err((
            first_line,
            "cue without a timing line (expected `start --> end`)".into(),
        ));
    };
    let line_no = first_line + timing_idx;
    let timing = block[timing_idx];
    let (start, rest) = timing
        .split_once("-->")
        .ok_or((line_no, "timing line without -->".to_string()))?;
    let end = rest.split_whitespace().next().unwrap_or("");
    let start_ms = parse_vtt_time(start.trim())
        .ok_or_else(|| (line_no, format!("bad cue start time {:?}", start.trim())))?;
    let end_ms =
        parse_vtt_time(end).ok_or_else(|| (line_no, format!("bad cue end time {end:?}")))?;
    Ok((cue_id, start_ms, end_ms, block[timing_idx + 1..].join("\n")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonl_line_with_nulls_and_extra_keys() {
        let c = parse_conversation_json(
            r#"{"id":"c1","extra":1,"segments":[{"speaker":"a","role":"seller","start_ms":null,"end_ms":null,"text":"hi","action_item_label":0},{"speaker":"caller","start_ms":10,"end_ms":20.4,"text":"yo"}]}"#,
        )
        .unwrap();
        assert_eq!(c.id, "c1");
        assert_eq!(c.tenant_id, "default");
        assert_eq!(c.segments[0].id, "0");
        assert_eq!(c.segments[0].side, Side::Internal);
        assert_eq!(c.segments[0].start_ms, None);
        assert_eq!(
            c.segments[1].side,
            Side::External,
            "speaker id that is a role name"
        );
        assert_eq!(c.segments[1].end_ms, Some(20));
    }

    #[test]
    fn other_roles_are_unknown_and_bad_dates_are_errors() {
        let c = parse_conversation_json(
            r#"{"id":"c","segments":[{"speaker":"a","role":"chair","text":""}]}"#,
        )
        .unwrap();
        assert_eq!(c.segments[0].side, Side::Unknown);
        let e = parse_conversation_json(r#"{"id":"c","started_at":"yesterday","segments":[]}"#)
            .unwrap_err();
        assert!(e.contains("RFC 3339"), "{e}");
        assert!(parse_conversation_json(r#"{"segments":[]}"#)
            .unwrap_err()
            .contains("id"));
    }

    #[test]
    fn vtt_voice_tags_ids_and_notes() {
        let vtt = "WEBVTT\n\nNOTE exported\n\n1\n00:00:01.000 --> 00:00:04.500 align:start\n<v Alice Martin>Hello <i>there</i></v>\n\n00:01:02.250 --> 01:00:00.000\n<v.loud Bob>Can you &amp; me\nmeet?\n\n00:02.000 --> 00:03.000\nCarol: plain prefix\n";
        let (c, damaged) = parse_vtt("call", vtt).unwrap();
        assert!(damaged.is_empty(), "{damaged:?}");
        assert_eq!(c.id, "call");
        assert_eq!(c.segments.len(), 3);
        assert_eq!(c.segments[0].id, "1");
        assert_eq!(c.segments[0].speaker, "Alice Martin");
        assert_eq!(c.segments[0].text, "Hello there");
        assert_eq!(
            (c.segments[0].start_ms, c.segments[0].end_ms),
            (Some(1000), Some(4500))
        );
        assert_eq!(c.segments[1].speaker, "Bob");
        assert_eq!(c.segments[1].text, "Can you & me meet?");
        assert_eq!(c.segments[1].start_ms, Some(62_250));
        assert_eq!(c.segments[1].end_ms, Some(3_600_000));
        assert_eq!(c.segments[2].speaker, "Carol");
        assert_eq!(c.segments[2].start_ms, Some(2000));
    }

    #[test]
    fn vtt_bad_cues_are_skipped_and_named_by_line() {
        assert_eq!(parse_vtt("x", "hello").unwrap_err().0, 1);
        let vtt = "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n<v A>ok\n\n00:00:xx.000 --> 00:00:03.000\n<v B>no\n\njust text\nmore\n\nc4\n00:00:04.000 --> 00:00:05.000\n<v B>yes\n";
        let (c, damaged) = parse_vtt("x", vtt).unwrap();
        let texts: Vec<&str> = c.segments.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(texts, ["ok", "yes"]);
        assert_eq!(c.segments[1].id, "c4");
        let lines: Vec<usize> = damaged.iter().map(|d| d.0).collect();
        assert_eq!(lines, [6, 9]);
        assert!(damaged[0].1.contains("start"), "{}", damaged[0].1);
        assert!(damaged[0].1.ends_with("cue skipped"), "{}", damaged[0].1);
        assert!(damaged[1].1.contains("timing line"), "{}", damaged[1].1);
    }

    #[test]
    fn vtt_cue_with_invalid_utf8_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("call.vtt");
        let mut bytes = b"WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n<v A>ok\n\n00:00:02.000 --> 00:00:03.000\n<v B>n".to_vec();
        bytes.extend([0xff, b'\n', b'\n']);
        bytes.extend(b"00:00:04.000 --> 00:00:05.000\n<v B>yes\n");
        std::fs::write(&p, bytes).unwrap();
        let items: Vec<_> = open(&p).unwrap().collect();
        assert_eq!(items.len(), 2, "{items:?}");
        match &items[0] {
            Err(FileError::Damaged { line, message, .. }) => {
                assert_eq!(*line, 7);
                assert!(message.contains("UTF-8"), "{message}");
            }
            other => panic!("expected a damaged cue, got {other:?}"),
        }
        let c = items[1].as_ref().unwrap();
        assert_eq!(c.segments.len(), 2);
    }

    #[test]
    fn jsonl_invalid_utf8_line_is_reported_and_the_rest_read() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("in.jsonl");
        let mut bytes = b"{\"id\":\"a\",\"segments\":[]}\n{\"id\":\"b\",\"segments\":[{\"speaker\":\"x\",\"text\":\"h".to_vec();
        bytes.extend([0xc3, 0x28]);
        bytes.extend(b"\"}]}\r\n{\"id\":\"c\",\"segments\":[]}\n");
        std::fs::write(&p, bytes).unwrap();
        let items: Vec<_> = open(&p).unwrap().collect();
        assert_eq!(items.len(), 3, "{items:?}");
        assert_eq!(items[0].as_ref().unwrap().id, "a");
        match &items[1] {
            Err(FileError::Malformed { line, message, .. }) => {
                assert_eq!(*line, 2);
                assert!(message.contains("UTF-8"), "{message}");
                assert!(message.contains("byte 47"), "{message}");
            }
            other => panic!("expected malformed line 2, got {other:?}"),
        }
        assert_eq!(items[2].as_ref().unwrap().id, "c");
    }

    #[test]
    fn invalid_time_zone_is_damage_not_loss() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("in.jsonl");
        std::fs::write(
            &p,
            "{\"id\":\"a\",\"time_zone\":\"Mars/Base\",\"segments\":[]}\n{\"id\":\"b\",\"time_zone\":\"Europe/Paris\",\"segments\":[]}\n",
        )
        .unwrap();
        let items: Vec<_> = open(&p).unwrap().collect();
        assert_eq!(items.len(), 3, "{items:?}");
        match &items[0] {
            Err(FileError::Damaged { line, message, .. }) => {
                assert_eq!(*line, 1);
                assert!(
                    message.contains("\"Mars/Base\" is not an IANA"),
                    "{message}"
                );
            }
            other => panic!("expected damage on line 1, got {other:?}"),
        }
        let a = items[1].as_ref().unwrap();
        assert_eq!((a.id.as_str(), a.time_zone.as_deref()), ("a", None));
        let b = items[2].as_ref().unwrap();
        assert_eq!(b.time_zone.as_deref(), Some("Europe/Paris"));
        assert!(
            parse_conversation_json(r#"{"id":"a","time_zone":"not a zone","segments":[]}"#)
                .unwrap_err()
                .contains("IANA")
        );
    }

    #[test]
    fn json_file_with_invalid_utf8_names_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("one.json");
        let mut bytes = b"{\"id\":\"a\",\n\"segments\":[{\"speaker\":\"x\",\"text\":\"".to_vec();
        bytes.extend([0xff, b'"', b'}', b']', b'}']);
        std::fs::write(&p, bytes).unwrap();
        let items: Vec<_> = open(&p).unwrap().collect();
        match items.as_slice() {
            [Err(FileError::Malformed {
                line: 2, message, ..
            })] => {
                assert!(message.contains("UTF-8"), "{message}")
            }
            other => panic!("expected malformed line 2, got {other:?}"),
        }
    }

    #[test]
    fn vtt_time_forms() {
        assert_eq!(parse_vtt_time("00:00:00.000"), Some(0));
        assert_eq!(parse_vtt_time("01:02:03.004"), Some(3_723_004));
        assert_eq!(parse_vtt_time("02:03.004"), Some(123_004));
        assert_eq!(parse_vtt_time("00:60:00.000"), None);
        assert_eq!(parse_vtt_time("00:00:00.00"), None);
        assert_eq!(parse_vtt_time("-1:00.000"), None);
    }

    #[test]
    fn jsonl_reader_reports_bad_line_and_continues() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("in.jsonl");
        std::fs::write(
            &p,
            "{\"id\":\"a\",\"segments\":[]}\n\n{not json\n{\"id\":\"b\",\"segments\":[]}\n",
        )
        .unwrap();
        let items: Vec<_> = open(&p).unwrap().collect();
        assert_eq!(items.len(), 3);
        assert_eq!(items[0].as_ref().unwrap().id, "a");
        match &items[1] {
            Err(FileError::Malformed { line, .. }) => assert_eq!(*line, 3),
            other => panic!("expected malformed line 3, got {other:?}"),
        }
        assert_eq!(items[2].as_ref().unwrap().id, "b");
        assert!(matches!(
            open(&dir.path().join("x.txt")),
            Err(FileError::UnsupportedType { .. })
        ));
        assert!(matches!(
            open(&dir.path().join("missing.jsonl")),
            Err(FileError::Io { .. })
        ));
    }
}
