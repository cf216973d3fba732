//! Personal data redaction for the CRM outputs: e-mail addresses, phone numbers (written in
//! the international and national forms of en, fr, de, es, it, nl and pt, and said digit by
//! digit in words), IBANs and bank account numbers, payment card numbers, national id
//! numbers, IP addresses and URLs with a personal path. Each finding is replaced by a typed
//! placeholder (`[EMAIL]`, `[PHONE]`...) in every text field of the insight, spans are moved
//! to the redacted text, and the insight counts the findings per type.
//!
//! Pure: text in, findings out (see `detect` for the rules and their order). Person names
//! and street addresses are not looked for (no rule finds them reliably).

mod detect;
mod spoken;

pub use detect::{iban_valid, luhn};

use crate::insight::{Insight, RedactionCount};
use crate::model::Conversation;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Kinds of personal data, in placeholder order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PiiType {
    /// E-mail address.
    Email,
    /// Phone or fax number, written or spoken digit by digit.
    Phone,
    /// IBAN, or a bank account number said after an account keyword.
    Iban,
    /// Payment card number (Luhn-valid, or after a card keyword).
    Card,
    /// National id, passport, social-security, tax or health-insurance number.
    NationalId,
    /// IPv4 or IPv6 address.
    Ip,
    /// URL whose path names a person (profile pages, `~user`, e-mail in the query).
    Url,
}

impl PiiType {
    /// Every type, in order.
    pub const ALL: [PiiType; 7] = [
        PiiType::Email,
        PiiType::Phone,
        PiiType::Iban,
        PiiType::Card,
        PiiType::NationalId,
        PiiType::Ip,
        PiiType::Url,
    ];

    /// The upper-case name (`EMAIL`, `NATIONAL_ID`), as in the placeholder and the metrics.
    pub fn name(self) -> &'static str {
        match self {
            PiiType::Email => "EMAIL",
            PiiType::Phone => "PHONE",
            PiiType::Iban => "IBAN",
            PiiType::Card => "CARD",
            PiiType::NationalId => "NATIONAL_ID",
            PiiType::Ip => "IP",
            PiiType::Url => "URL",
        }
    }

    /// The text that replaces a finding: `[EMAIL]`, `[PHONE]`...
    pub fn placeholder(self) -> &'static str {
        match self {
            PiiType::Email => "[EMAIL]",
            PiiType::Phone => "[PHONE]",
            PiiType::Iban => "[IBAN]",
            PiiType::Card => "[CARD]",
            PiiType::NationalId => "[NATIONAL_ID]",
            PiiType::Ip => "[IP]",
            PiiType::Url => "[URL]",
        }
    }
}

/// One piece of personal data: a byte range of the text and its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Finding {
    /// First byte.
    pub start: usize,
    /// End byte (exclusive).
    pub end: usize,
    /// What it is.
    pub kind: PiiType,
}

impl Finding {
    fn new(start: usize, end: usize, kind: PiiType) -> Finding {
        Finding { start, end, kind }
    }
}

fn detect_push(out: &mut Vec<Finding>, f: Finding) {
    if f.start < f.end && !out.iter().any(|o| o.start < f.end && f.start < o.end) {
        out.push(f);
    }
}

/// The personal data in `text`: byte ranges, sorted, never overlapping.
pub fn find(text: &str) -> Vec<Finding> {
    detect::find(text)
}

/// A text with its findings replaced by placeholders, and the way back from original
/// character offsets to redacted ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redacted {
    /// The redacted text.
    pub text: String,
    /// Per finding, in order: (original start, original end, new start, new end), in Unicode
    /// scalar values.
    spans: Vec<(u32, u32, u32, u32)>,
    /// Types of the findings, in order.
    pub kinds: Vec<PiiType>,
}

impl Redacted {
    /// Maps a character offset of the original text to the redacted text. An offset inside a
    /// finding goes to the placeholder's start (`end = false`) or end (`end = true`), so a
    /// span that touches a finding covers the whole placeholder.
    pub fn map(&self, p: u32, end: bool) -> u32 {
        let mut base = (0, 0);
        for &(os, oe, ns, ne) in &self.spans {
            if p >= oe {
                base = (oe, ne);
            } else if p > os {
                return if end { ne } else { ns };
            } else {
                break;
            }
        }
        base.1 + (p - base.0)
    }

    /// The redacted text between two original character offsets.
    pub fn slice(&self, start: u32, end: u32) -> String {
        let (s, e) = (self.map(start, false), self.map(end, true));
        self.text
            .chars()
            .skip(s as usize)
            .take(e.saturating_sub(s) as usize)
            .collect()
    }
}

/// Replaces the findings of `text` by their placeholders.
pub fn redact(text: &str) -> Redacted {
    redact_found(text, &find(text))
}

/// Replaces `findings` (from [`find`] on `text`) by their placeholders.
fn redact_found(text: &str, findings: &[Finding]) -> Redacted {
    let mut out = String::with_capacity(text.len());
    let mut spans = Vec::with_capacity(findings.len());
    let mut kinds = Vec::with_capacity(findings.len());
    let (mut last, mut ochar, mut nchar) = (0usize, 0u32, 0u32);
    for f in findings {
        let before = &text[last..f.start];
        out.push_str(before);
        let n = before.chars().count() as u32;
        ochar += n;
        nchar += n;
        let olen = text[f.start..f.end].chars().count() as u32;
        let p = f.kind.placeholder();
        out.push_str(p);
        let plen = p.len() as u32;
        spans.push((ochar, ochar + olen, nchar, nchar + plen));
        kinds.push(f.kind);
        ochar += olen;
        nchar += plen;
        last = f.end;
    }
    out.push_str(&text[last..]);
    Redacted {
        text: out,
        spans,
        kinds,
    }
}

/// Redacts every text field of `insight` that comes from the transcript of `conv` (item,
/// question, highlight and tracker texts, due phrases), moves their spans to the redacted
/// segment texts and records the count of findings per type over the whole conversation.
pub fn apply(insight: &mut Insight, conv: &Conversation) {
    let mut by_segment: HashMap<&str, Redacted> = HashMap::new();
    let mut counts: HashMap<PiiType, i64> = HashMap::new();
    for seg in &conv.segments {
        let found = find(&seg.text);
        if found.is_empty() {
            continue;
        }
        let r = redact_found(&seg.text, &found);
        for k in &r.kinds {
            *counts.entry(*k).or_default() += 1;
        }
        by_segment.entry(seg.id.as_str()).or_insert(r);
    }
    let mut list: Vec<RedactionCount> = counts
        .into_iter()
        .map(|(kind, count)| RedactionCount {
            kind: kind.name().to_string(),
            count,
        })
        .collect();
    list.sort_by(|a, b| a.kind.cmp(&b.kind));
    insight.redactions = list;
    let span = |seg: &str, s: i64, e: i64| -> Option<(i64, i64, String)> {
        let r = by_segment.get(seg)?;
        let (s32, e32) = (s.max(0) as u32, e.max(0) as u32);
        Some((
            i64::from(r.map(s32, false)),
            i64::from(r.map(e32, true)),
            r.slice(s32, e32),
        ))
    };
    for it in &mut insight.action_items {
        for (n, ev) in it.evidence.iter_mut().enumerate() {
            if let Some((s, e, text)) = span(&ev.segment_id, ev.start_char, ev.end_char) {
                ev.start_char = s;
                ev.end_char = e;
                if n == 0 {
                    it.text = text;
                }
            }
        }
        if let Some(d) = &mut it.due {
            d.phrase = redact(&d.phrase).text;
        }
    }
    for q in &mut insight.questions {
        if let Some((s, e, text)) = span(&q.segment_id, q.start_char, q.end_char) {
            q.start_char = s;
            q.end_char = e;
            q.text = text;
        }
    }
    for h in &mut insight.highlights {
        if let Some((s, e, text)) = span(&h.segment_id, h.start_char, h.end_char) {
            h.start_char = s;
            h.end_char = e;
            h.text = text;
        }
    }
    for h in &mut insight.tracker_hits {
        if let Some((s, e, text)) = span(&h.segment_id, h.start_char, h.end_char) {
            h.start_char = s;
            h.end_char = e;
            h.heard = text;
        }
    }
}

#[cfg(test)]
mod tests;
