//! Features of the scoring units of a conversation.
//!
//! A *unit* is one sentence of a segment (written text) or the whole segment (speech with no
//! punctuation). Each unit gets binary features, hashed into `2^HASH_BITS` slots:
//!
//! - language-independent cue features from the grammar: which [`Cue`]s occur, which occur at
//!   the start of the unit, pairs of a core cue with a modifier (time ahead, past, negation,
//!   hedge, question, reported speech, condition, action verb), the action-verb kind, an
//!   imperative start, the unit length and the kind of text (a conversation between two or
//!   more speakers, or a single-author document such as an e-mail);
//! - context features (conversations only): the core cues of the previous and next unit,
//!   whether they are by the same speaker, an answer to a request or question by someone
//!   else, an acknowledgement after it, and the position in the conversation (tenths);
//!
//! The hashing is FNV-1a based and stable: shipped weights depend on it.

use super::grammar::{grammar, infinitive, morphology, Cue, CueMatch, CueSet, VerbKind, CUE_COUNT};
use super::tokens::{fnv1a, mix, tokenize, Tokens};
use crate::model::Conversation;
use std::collections::HashMap;

/// Number of hash bits of the feature space.
pub const HASH_BITS: u32 = 20;
const MASK: u64 = (1 << HASH_BITS) - 1;

/// Cues that carry an action on their own.
pub const CORE: CueSet = bits(&[
    Cue::CommitSelf,
    Cue::CommitGroup,
    Cue::Request,
    Cue::Directive,
    Cue::Obligation,
    Cue::Suggest,
    Cue::Want,
    Cue::Try,
    Cue::Plan,
    Cue::Offer,
    Cue::Accept,
]);

/// Cues that modify a core cue.
const MODIFIERS: CueSet = bits(&[
    Cue::TimeAhead,
    Cue::Past,
    Cue::Reported,
    Cue::Negation,
    Cue::Hedge,
    Cue::QuestionStart,
    Cue::Conditional,
    Cue::Please,
    Cue::Thanks,
]);

const fn bits(cues: &[Cue]) -> CueSet {
    let mut s = 0;
    let mut i = 0;
    while i < cues.len() {
        s |= 1 << (cues[i] as u8);
        i += 1;
    }
    s
}

/// What one unit says, before hashing.
#[derive(Debug, Clone, PartialEq)]
pub struct Unit {
    /// Index of the segment in the conversation.
    pub segment: usize,
    /// First character of the unit in the segment text (Unicode scalar values).
    pub start_char: u32,
    /// End character (exclusive).
    pub end_char: u32,
    /// Character where the action starts (first core cue, or the unit start).
    pub anchor_char: u32,
    /// Cues found anywhere in the unit.
    pub cues: CueSet,
    /// Cues starting within the first two tokens.
    pub cues_start: CueSet,
    /// Kind of the first action verb, if any.
    pub verb: Option<VerbKind>,
    /// Every verb kind found, as bits (`1 << kind as u8`).
    pub verb_kinds: u8,
    /// The unit starts with an action verb ("send it to everybody").
    pub imperative: bool,
    /// An action verb follows a core cue within four tokens ("I'll *send*").
    pub verb_after_core: bool,
    /// Number of tokens.
    pub tokens: u32,
    /// Ends with a question mark.
    pub question_mark: bool,
    /// Speaker index (order of first appearance).
    pub speaker: u32,
}

impl Unit {
    /// Whether the unit has cue `c`.
    pub fn has(&self, c: Cue) -> bool {
        self.cues & c.bit() != 0
    }
}

/// The units of a conversation and their hashed features.
#[derive(Debug, Default, Clone)]
pub struct ConvFeatures {
    /// Units in conversation order.
    pub units: Vec<Unit>,
    /// Feature indices of every unit, concatenated.
    pub feats: Vec<u32>,
    /// `feats[offsets[i]..offsets[i + 1]]` are unit `i`'s features.
    pub offsets: Vec<u32>,
    /// Whether the text looks written (punctuation, capitals) rather than a raw speech
    /// transcript.
    pub written: bool,
    /// Whether at most one speaker has text: a document (e-mail, message, monologue) rather
    /// than a conversation. Decides the operating point and the context features.
    pub document: bool,
    /// Speaker ids, indexed by [`Unit::speaker`].
    pub speakers: Vec<String>,
}

impl ConvFeatures {
    /// Features of unit `i`.
    pub fn unit_feats(&self, i: usize) -> &[u32] {
        &self.feats[self.offsets[i] as usize..self.offsets[i + 1] as usize]
    }
}

const fn h(name: &str) -> u64 {
    fnv1a(name.as_bytes())
}

fn slot(x: u64) -> u32 {
    (x & MASK) as u32
}

/// Index of a named feature (for tests and docs).
pub fn named(name: &str) -> u32 {
    slot(mix(const { h("named") }, h(name)))
}

fn verb_bit(k: VerbKind) -> u8 {
    1 << (k as u8)
}

fn verb_name(k: VerbKind) -> &'static str {
    match k {
        VerbKind::Call => "call",
        VerbKind::Email => "email",
        VerbKind::Meeting => "meeting",
        VerbKind::Generic => "generic",
    }
}

/// Precomputed hashes of the cue names.
struct Names {
    cue: [u64; CUE_COUNT],
}

fn names() -> &'static Names {
    static N: std::sync::OnceLock<Names> = std::sync::OnceLock::new();
    N.get_or_init(|| {
        let mut cue = [0u64; CUE_COUNT];
        for c in Cue::ALL {
            cue[c as usize] = h(c.name());
        }
        Names { cue }
    })
}

/// Reusable buffers for [`featurize`].
#[derive(Debug, Default)]
pub struct Scratch {
    toks: Tokens,
    matches: Vec<CueMatch>,
}

/// Computes the units and features of a conversation in language `lang`.
pub fn featurize(conv: &Conversation, lang: &str, scratch: &mut Scratch) -> ConvFeatures {
    let g = grammar(lang);
    let mut out = ConvFeatures::default();
    let mut speaker_ix: HashMap<&str, u32> = HashMap::new();
    let mut written_votes = 0usize;
    let mut voted = 0usize;
    for (si, seg) in conv.segments.iter().enumerate() {
        if seg.text.trim().is_empty() {
            continue;
        }
        let next = speaker_ix.len() as u32;
        let speaker = *speaker_ix.entry(seg.speaker.as_str()).or_insert(next);
        if speaker == next {
            out.speakers.push(seg.speaker.clone());
        }
        tokenize(&seg.text, lang, &mut scratch.toks);
        let toks = &scratch.toks;
        if toks.is_empty() {
            continue;
        }
        voted += 1;
        if toks.written {
            written_votes += 1;
        }
        // Units: sentences.
        let mut first = 0usize;
        while first < toks.len() {
            let sent = toks.list[first].sentence;
            let mut last = first;
            while last + 1 < toks.len() && toks.list[last + 1].sentence == sent {
                last += 1;
            }
            let (_, s_end, qmark) = toks.sentences.get(sent as usize).copied().unwrap_or((
                0,
                toks.list[last].end,
                false,
            ));
            scratch.matches.clear();
            g.find(toks, first, last + 1, &mut scratch.matches);
            let mut cues: CueSet = 0;
            let mut cues_start: CueSet = 0;
            let mut anchor: Option<u32> = None;
            let mut core_end: Option<usize> = None;
            for m in &scratch.matches {
                if m.cue == Cue::QuestionStart && m.first != first {
                    continue;
                }
                cues |= m.cue.bit();
                if m.first <= first + 1 {
                    cues_start |= m.cue.bit();
                }
                if m.cue.bit() & CORE != 0 {
                    if anchor.is_none() {
                        anchor = Some(toks.list[m.first].start);
                    }
                    core_end = Some(core_end.map_or(m.last, |e: usize| e.max(m.last)));
                }
            }
            let (extra, extra_start, imperative_form) = morphology(g, toks, first, last, qmark);
            cues |= extra;
            cues_start |= extra_start;
            if extra & Cue::Suggest.bit() != 0 && anchor.is_none() {
                anchor = Some(toks.list[first].start);
            }
            let mut verb = None;
            let mut verb_kinds = 0u8;
            let mut verb_after_core = None;
            let mut imperative = imperative_form;
            for i in first..=last {
                if let Some(k) = g.verb(toks.list[i].hash) {
                    if verb.is_none() {
                        verb = Some(k);
                    }
                    verb_kinds |= verb_bit(k);
                    if i == first && !qmark && cues_start & Cue::QuestionStart.bit() == 0 {
                        imperative = true;
                    }
                    if let Some(e) = core_end {
                        if i > e && i <= e + 4 && verb_after_core.is_none() {
                            verb_after_core = Some(k);
                        }
                    }
                }
            }
            // An infinitive right after a commitment or modal is an action verb even when the
            // lexicon does not list it ("je vais *renseigner*", "wir müssen das *klären*").
            if verb_after_core.is_none() {
                if let Some(e) = core_end {
                    let end = if matches!(lang, "de" | "nl") {
                        last
                    } else {
                        (e + 3).min(last)
                    };
                    if (e + 1..=end).any(|i| infinitive(lang, toks.word(i))) {
                        verb_after_core = Some(VerbKind::Generic);
                        verb_kinds |= verb_bit(VerbKind::Generic);
                        verb = verb.or(Some(VerbKind::Generic));
                    }
                }
            }
            let unit = Unit {
                segment: si,
                start_char: toks.list[first].start,
                end_char: s_end,
                anchor_char: anchor.unwrap_or(toks.list[first].start),
                cues,
                cues_start,
                verb,
                verb_kinds,
                imperative,
                verb_after_core: verb_after_core.is_some(),
                tokens: (last - first + 1) as u32,
                question_mark: qmark,
                speaker,
            };
            out.units.push(unit);
            first = last + 1;
        }
    }
    out.written = voted > 0 && written_votes * 2 >= voted;
    // Hash everything.
    let n = out.units.len();
    out.offsets.push(0);
    let nm = names();
    out.document = out.speakers.len() <= 1;
    let style = if out.document {
        const { h("style=document") }
    } else {
        const { h("style=conversation") }
    };
    for i in 0..n {
        let u = &out.units[i];
        let f = &mut out.feats;
        f.push(slot(const { h("bias") }));
        f.push(slot(style));
        let len_bucket = match u.tokens {
            0..=1 => 0u64,
            2..=3 => 1,
            4..=6 => 2,
            7..=10 => 3,
            11..=20 => 4,
            21..=40 => 5,
            _ => 6,
        };
        f.push(slot(mix(const { h("len") }, len_bucket)));
        f.push(slot(mix(mix(const { h("len") }, len_bucket), style)));
        if u.question_mark {
            f.push(slot(const { h("qmark") }));
        }
        if u.imperative {
            f.push(slot(const { h("imperative") }));
            if let Some(k) = u.verb {
                f.push(slot(mix(const { h("imperative") }, h(verb_name(k)))));
            }
        }
        for c in Cue::ALL {
            if u.has(c) {
                f.push(slot(mix(const { h("cue") }, nm.cue[c as usize])));
                f.push(slot(mix(
                    mix(const { h("cue") }, nm.cue[c as usize]),
                    style,
                )));
            }
            if u.cues_start & c.bit() != 0 {
                f.push(slot(mix(const { h("cue0") }, nm.cue[c as usize])));
            }
        }
        let core = u.cues & CORE;
        let mods = u.cues & MODIFIERS;
        for c in Cue::ALL {
            if core & c.bit() == 0 {
                continue;
            }
            for m in Cue::ALL {
                if mods & m.bit() != 0 {
                    f.push(slot(mix(
                        mix(const { h("pair") }, nm.cue[c as usize]),
                        nm.cue[m as usize],
                    )));
                }
            }
            if let Some(k) = u.verb {
                f.push(slot(mix(
                    mix(const { h("cueverb") }, nm.cue[c as usize]),
                    h(verb_name(k)),
                )));
            }
        }
        if core == 0 {
            f.push(slot(const { h("nocore") }));
            if mods & Cue::TimeAhead.bit() != 0 && u.verb.is_some() {
                f.push(slot(const { h("time+verb") }));
            }
        }
        if u.verb_after_core {
            f.push(slot(const { h("verb_after_core") }));
        }
        for k in [
            VerbKind::Call,
            VerbKind::Email,
            VerbKind::Meeting,
            VerbKind::Generic,
        ] {
            if u.verb_kinds & verb_bit(k) != 0 {
                f.push(slot(mix(const { h("verb") }, h(verb_name(k)))));
            }
        }
        // Context, for conversations only (a document's sentences are by one author).
        if n > 1 && !out.document {
            if i > 0 {
                let p = &out.units[i - 1];
                let same = p.speaker == u.speaker;
                ctx(f, "prev", p, same, nm);
                if !same
                    && (p.has(Cue::Request)
                        || p.has(Cue::QuestionStart)
                        || p.question_mark
                        || p.has(Cue::Directive))
                {
                    f.push(slot(const { h("after_request") }));
                    if u.has(Cue::Ack) || u.has(Cue::CommitSelf) || u.has(Cue::Accept) {
                        f.push(slot(const { h("answers_request") }));
                    }
                }
            } else {
                f.push(slot(const { h("first_unit") }));
            }
            if i + 1 < n {
                let q = &out.units[i + 1];
                let same = q.speaker == u.speaker;
                ctx(f, "next", q, same, nm);
                if !same && q.has(Cue::Ack) && q.tokens <= 4 {
                    f.push(slot(const { h("next_ack") }));
                }
            } else {
                f.push(slot(const { h("last_unit") }));
            }
            // Window density of core cues (±3 units).
            let lo = i.saturating_sub(3);
            let hi = (i + 4).min(n);
            let dens = (lo..hi)
                .filter(|&j| j != i && out.units[j].cues & CORE != 0)
                .count() as u64;
            f.push(slot(mix(const { h("density") }, dens.min(4))));
            if n >= 20 {
                let decile = (i * 10 / n) as u64;
                f.push(slot(mix(const { h("pos") }, decile)));
            }
        }
        // Every feature above is pushed at most once per unit (distinct names), so the list
        // is a set without sorting (two names may share a slot: a hash collision).
        out.offsets.push(f.len() as u32);
    }
    out
}

fn ctx(f: &mut Vec<u32>, dir: &str, other: &Unit, same: bool, nm: &Names) {
    let d = h(dir);
    let who = if same {
        const { h("same") }
    } else {
        const { h("other") }
    };
    f.push(slot(mix(d, who)));
    let core = other.cues & CORE;
    if core == 0 {
        f.push(slot(mix(mix(d, who), const { h("nocore") })));
    }
    for c in Cue::ALL {
        if core & c.bit() != 0 {
            f.push(slot(mix(mix(d, nm.cue[c as usize]), who)));
        }
    }
    if other.has(Cue::TimeAhead) {
        f.push(slot(mix(d, const { h("time") })));
    }
    if other.verb.is_some() {
        f.push(slot(mix(d, const { h("verb") })));
    }
    if other.tokens <= 2 {
        f.push(slot(mix(mix(d, who), const { h("short") })));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Segment;

    fn conv(texts: &[(&str, &str)]) -> Conversation {
        Conversation {
            segments: texts
                .iter()
                .enumerate()
                .map(|(i, (s, t))| Segment {
                    id: i.to_string(),
                    speaker: s.to_string(),
                    text: t.to_string(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn units_are_sentences_in_written_text_and_segments_in_speech() {
        let mut s = Scratch::default();
        let c = conv(&[
            ("a", "Thanks for the call. I'll send the deck tomorrow."),
            ("b", "ok"),
        ]);
        let f = featurize(&c, "en", &mut s);
        assert!(f.written);
        assert_eq!(f.units.len(), 3);
        assert_eq!((f.units[1].start_char, f.units[1].end_char), (21, 49));
        assert!(f.units[1].has(Cue::CommitSelf));
        assert!(f.units[1].has(Cue::TimeAhead));
        assert_eq!(f.units[1].verb, Some(VerbKind::Email));
        assert_eq!(f.units[1].anchor_char, 21);
        let c = conv(&[("a", "so i i'll send it"), ("b", "you should call him")]);
        let f = featurize(&c, "en", &mut s);
        assert!(!f.written);
        assert_eq!(f.units.len(), 2);
        assert!(f.units[1].has(Cue::Directive));
        assert_eq!(f.speakers, vec!["a".to_string(), "b".to_string()]);
    }

    #[test]
    fn features_are_sorted_unique_and_deterministic() {
        let mut s = Scratch::default();
        let c = conv(&[("a", "we need to we need to send it"), ("b", "sure")]);
        let f1 = featurize(&c, "en", &mut s);
        let f2 = featurize(&c, "en", &mut s);
        assert_eq!(f1.feats, f2.feats);
        let mut u = f1.unit_feats(0).to_vec();
        let n = u.len();
        u.sort_unstable();
        u.dedup();
        assert!(
            n - u.len() <= 1,
            "features repeat: {n} vs {} distinct",
            u.len()
        );
        assert!(u.contains(&slot(const { h("bias") })));
    }
}
