//! Tracked keywords and competitors: a tenant's trackers compiled once into Aho-Corasick
//! automata over word-id sequences, then matched against every segment of a conversation.
//!
//! Rules (full version with examples in `docs/trackers.md`):
//! - Text and terms are split into words (see `normalise`); matching is word by word, so a
//!   term never matches part of a word ("SAP" does not match "sapling") and punctuation and
//!   line breaks between the words of a phrase are ignored ("price, list" matches "price list").
//! - Case-insensitive always ("ß" = "ss"); accent-insensitive when the tracker says so
//!   (competitors always are); Unicode compatibility forms are equal ("ﬁ" = "fi").
//! - Keyword trackers with `stemming` match related word forms: term and text words are reduced
//!   with the Snowball stemmer of the conversation's language and compared stem by stem. A term
//!   in double quotes (`"\"pricing\""`) is matched without stemming. Competitor names and
//!   aliases are never stemmed. Languages without a stemmer match the normal forms only.
//! - A phrase matches inside one segment only: never across speakers, and not across two
//!   segments of the same speaker either (a hit has one segment id and one span).
//! - Overlaps: each tracker reports leftmost-longest, non-overlapping hits (at one position the
//!   longest of its terms wins; on a tie, the term configured first). Trackers are independent:
//!   two trackers matching the same words both report a hit.
//! - Per-language term lists apply only when the conversation's language is that language.
//! - Team-scoped trackers (non-empty `teams`) apply only through
//!   [`TrackerSet::find_in_team`] with one of their teams; [`TrackerSet::find`] (no team known,
//!   the case for every conversation today) skips them.
//!
//! Cost: compiling validates the configuration and builds the automaton for languages without a
//! stemmer; the automaton of each stemming language is built on its first use and shared by
//! every clone. Matching a conversation costs one pass over its text plus one normalisation
//! (and stemming) per distinct word never seen before, whatever the number of terms: each
//! language matcher remembers the word ids of up to 20,000 distinct raw words across
//! conversations (a memo of a pure function, so results never depend on it).

mod normalise;
#[cfg(test)]
mod tests;

pub use crate::tenant::ConfigError;
pub(crate) use normalise::{canonical_language, word_count};

use crate::insight::{TrackerCount, TrackerHit, TrackerKind};
use crate::model::{Conversation, Segment, Side};
use crate::tenant::TenantConfig;
use ahash::RandomState;
use aho_corasick::{AhoCorasick, MatchKind};
use normalise::{normalise_word, stem_in_place, stemmer_for, tokenize, Token, STEMMED_LANGUAGES};
use rust_stemmers::{Algorithm, Stemmer};
use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, OnceLock, PoisonError, RwLock};

/// Compiled matcher for one tenant configuration. Cheap to clone (shared state behind an
/// `Arc`); `Send + Sync`. The default value has no trackers and finds nothing.
#[derive(Clone, Default)]
pub struct TrackerSet {
    inner: Arc<Compiled>,
}

/// A tracker or competitor with its terms, in configuration order.
#[derive(Debug)]
struct Tracker {
    name: String,
    kind: TrackerKind,
    teams: Vec<String>,
    stemming: bool,
    fold_accents: bool,
    terms: Vec<Term>,
    /// Position of (name, kind) among all trackers: the order of counts.
    order: u32,
}

/// One configured term.
#[derive(Debug)]
struct Term {
    /// As configured, trimmed, quotes removed: reported as `term`.
    text: String,
    /// Canonical language of a per-language term; `None` for every language.
    language: Option<String>,
    /// Quoted in the configuration: never stemmed.
    exact: bool,
    /// Position of (tracker name, term, kind) among all terms: the order of hits at one place.
    rank: u32,
}

#[derive(Default)]
struct Compiled {
    trackers: Vec<Tracker>,
    /// Canonical language → index in `matchers`, for languages with a stemmer or with terms of
    /// their own. Every other language uses the last matcher.
    slots: BTreeMap<String, usize>,
    /// One matcher per slot, built on first use, plus the last one (no stemming, no
    /// per-language terms) built by `compile`.
    matchers: Vec<OnceLock<Matcher>>,
    /// Internal speaker ids, trimmed and lower case.
    internal_speakers: HashSet<String>,
    /// Internal e-mail domains, trimmed, lower case, without `@`.
    internal_domains: HashSet<String>,
}

/// The automata for one language: one view per (accent folding, stemmer) combination used.
struct Matcher {
    views: Vec<View>,
    /// Memo of [`Matcher::word_ids`] for raw words of earlier conversations, shared by every
    /// task (at most [`MAX_CACHED_WORDS`] entries; then new words are computed each time).
    /// Only speed depends on it: the ids of a word never change.
    words: RwLock<WordTable<Box<str>>>,
}

/// Word ids by raw word: words of up to 16 bytes keyed as numbers ([`pack`]), longer ones by
/// their text.
struct WordTable<K> {
    short: HashMap<u128, WordIds, RandomState>,
    long: HashMap<K, WordIds, RandomState>,
}

impl<K: std::borrow::Borrow<str> + std::hash::Hash + Eq> WordTable<K> {
    fn with_capacity(n: usize) -> Self {
        WordTable {
            short: HashMap::with_capacity_and_hasher(n, RandomState::new()),
            long: HashMap::default(),
        }
    }

    fn get(&self, key: Option<u128>, raw: &str) -> Option<WordIds> {
        match key {
            Some(k) => self.short.get(&k).copied(),
            None => self.long.get(raw).copied(),
        }
    }

    fn insert(&mut self, key: Option<u128>, raw: K, ids: WordIds) {
        match key {
            Some(k) => self.short.insert(k, ids),
            None => self.long.insert(raw, ids),
        };
    }

    fn len(&self) -> usize {
        self.short.len() + self.long.len()
    }

    fn clear(&mut self) {
        self.short.clear();
        self.long.clear();
    }
}

/// Buffers reused by the `find` calls of one thread, emptied after each call: they spare the
/// allocator (a large table freed on every call slows glibc's malloc down), results never
/// depend on them.
#[derive(Default)]
struct Scratch {
    /// Word ids of the words of up to 16 bytes seen in the conversation ([`pack`]).
    short: HashMap<u128, WordIds, RandomState>,
    tokens: Vec<Token>,
    buffers: Vec<Vec<u8>>,
    offsets: Vec<Vec<u32>>,
    candidates: Vec<Candidate>,
    chosen: Vec<Candidate>,
}

/// Largest word table a thread keeps between calls (entries); a larger one is dropped.
const MAX_SCRATCH_WORDS: usize = 1 << 16;

impl Scratch {
    fn reset(&mut self) {
        if self.short.capacity() > MAX_SCRATCH_WORDS {
            *self = Scratch::default();
        } else {
            self.short.clear();
        }
    }
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// Most raw words remembered per language matcher (about 1 MB per tenant and language in use).
const MAX_CACHED_WORDS: usize = 20_000;

/// Most views in a matcher: accent folding on/off × stemming on/off.
const MAX_VIEWS: usize = 4;

/// Word ids of one raw word in each view of a matcher; 0 means "in no term".
type WordIds = [u32; MAX_VIEWS];

/// Terms normalised one way, compiled into one automaton over word ids.
struct View {
    fold_accents: bool,
    stemmer: Option<Algorithm>,
    /// Normal form (stem) of every word of every term → word id (from 1).
    vocab: HashMap<Box<str>, u32, RandomState>,
    /// Automaton over word ids, each id written as one UTF-8 character (0 for unknown words),
    /// so that matches always start and end on word boundaries.
    automaton: AhoCorasick,
    /// Pattern `p` stands for the (tracker, term) entries `entries[starts[p]..starts[p + 1]]`.
    starts: Vec<u32>,
    entries: Vec<Entry>,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    tracker: u32,
    term: u32,
}

/// A tracker's match in one segment, by word index.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    tracker: u32,
    term: u32,
    first: u32,
    end: u32,
}

impl fmt::Debug for TrackerSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.inner;
        let built: Vec<&str> = c
            .slots
            .iter()
            .filter(|(_, &i)| c.matchers.get(i).is_some_and(|m| m.get().is_some()))
            .map(|(l, _)| l.as_str())
            .collect();
        f.debug_struct("TrackerSet")
            .field("trackers", &c.trackers.len())
            .field(
                "terms",
                &c.trackers.iter().map(|t| t.terms.len()).sum::<usize>(),
            )
            .field("languages_built", &built)
            .finish()
    }
}

impl fmt::Debug for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(
                self.views
                    .iter()
                    .map(|v| (v.fold_accents, v.stemmer, v.vocab.len(), v.starts.len())),
            )
            .finish()
    }
}

/// Splits a configured term into its text and whether it was quoted (exact form).
fn parse_term(raw: &str) -> (String, bool) {
    let t = raw.trim();
    match t.strip_prefix('"').and_then(|x| x.strip_suffix('"')) {
        Some(inner) => (inner.trim().to_string(), true),
        None => (t.to_string(), false),
    }
}

/// Appends the terms of one list.
fn push_terms(out: &mut Vec<Term>, terms: &[String], language: Option<&str>) {
    for raw in terms {
        let (text, exact) = parse_term(raw);
        out.push(Term {
            text,
            language: language.map(str::to_string),
            exact,
            rank: 0,
        });
    }
}

/// Appends the per-language lists, keyed by canonical language.
fn push_language_terms(out: &mut Vec<Term>, languages: &BTreeMap<String, Vec<String>>) {
    for (language, terms) in languages {
        // Validation has checked every key.
        if let Some(l) = canonical_language(language) {
            push_terms(out, terms, Some(&l));
        }
    }
}

/// Sets `order` and `rank` (see their docs).
fn rank_trackers(trackers: &mut [Tracker]) {
    let mut order: Vec<usize> = (0..trackers.len()).collect();
    order.sort_by(|&a, &b| {
        (&trackers[a].name, trackers[a].kind).cmp(&(&trackers[b].name, trackers[b].kind))
    });
    for (i, &t) in order.iter().enumerate() {
        trackers[t].order = i as u32;
    }
    let mut terms: Vec<(usize, usize)> = trackers
        .iter()
        .enumerate()
        .flat_map(|(t, x)| (0..x.terms.len()).map(move |k| (t, k)))
        .collect();
    let key = |&(t, k): &(usize, usize)| {
        (
            &trackers[t].name,
            &trackers[t].terms[k].text,
            trackers[t].kind,
        )
    };
    terms.sort_by(|a, b| key(a).cmp(&key(b)));
    let ranks: Vec<((usize, usize), u32)> = terms
        .iter()
        .enumerate()
        .map(|(r, &tk)| (tk, r as u32))
        .collect();
    for ((t, k), r) in ranks {
        trackers[t].terms[k].rank = r;
    }
}

/// The word `text[start..end]` as a number when it has at most 16 bytes (zero-padded: words
/// never contain NUL). Reads 16 bytes at once where the text allows it.
fn pack(text: &[u8], start: usize, end: usize) -> Option<u128> {
    let len = end.checked_sub(start).filter(|l| (1..=16).contains(l))?;
    if let Some(window) = text.get(start..start + 16) {
        let mask = if len == 16 {
            u128::MAX
        } else {
            (1u128 << (len * 8)) - 1
        };
        return Some(u128::from_le_bytes(window.try_into().ok()?) & mask);
    }
    if let Some(window) = end.checked_sub(16).and_then(|s| text.get(s..end)) {
        return Some(u128::from_le_bytes(window.try_into().ok()?) >> ((16 - len) * 8));
    }
    let word = text.get(start..end)?;
    Some(
        word.iter()
            .rev()
            .fold(0u128, |v, &b| (v << 8) | u128::from(b)),
    )
}

/// Appends word id `id` as its UTF-8 character.
fn push_id(buffer: &mut Vec<u8>, id: u32) {
    if id < 0x80 {
        buffer.push(id as u8);
    } else {
        let mut utf8 = [0u8; 4];
        buffer.extend_from_slice(
            id_char(id)
                .unwrap_or('\0')
                .encode_utf8(&mut utf8)
                .as_bytes(),
        );
    }
}

/// Word id `id` as a character (skipping the surrogate range); `None` past the last one.
fn id_char(id: u32) -> Option<char> {
    char::from_u32(if id < 0xD800 {
        id
    } else {
        id.checked_add(0x800)?
    })
}

/// Builds one view: terms are added one by one, then compiled.
struct ViewBuilder {
    fold_accents: bool,
    stemmer: Option<Algorithm>,
    vocab: HashMap<Box<str>, u32, RandomState>,
    patterns: HashMap<String, usize>,
    pattern_list: Vec<String>,
    entries: Vec<Vec<Entry>>,
}

impl ViewBuilder {
    fn new(fold_accents: bool, stemmer: Option<Algorithm>) -> ViewBuilder {
        ViewBuilder {
            fold_accents,
            stemmer,
            vocab: HashMap::default(),
            patterns: HashMap::new(),
            pattern_list: Vec::new(),
            entries: Vec::new(),
        }
    }

    fn add(&mut self, text: &str, entry: Entry, tokens: &mut Vec<Token>, word: &mut String) {
        let stemmer = self.stemmer.map(Stemmer::create);
        tokenize(text, tokens);
        let mut pattern = String::new();
        for t in tokens.iter() {
            normalise_word(
                &text[t.start_byte as usize..t.end_byte as usize],
                self.fold_accents,
                word,
            );
            if let Some(s) = &stemmer {
                stem_in_place(s, word);
            }
            let next = self.vocab.len() as u32 + 1;
            let id = *self.vocab.entry(word.as_str().into()).or_insert(next);
            // Unreachable within the limits (at most 1,000,000 distinct words).
            let Some(c) = id_char(id) else { return };
            pattern.push(c);
        }
        if pattern.is_empty() {
            return;
        }
        let next = self.pattern_list.len();
        let p = *self.patterns.entry(pattern.clone()).or_insert(next);
        if p == next {
            self.pattern_list.push(pattern);
            self.entries.push(Vec::new());
        }
        // One entry per tracker: the first configured term of a tracker wins.
        if !self.entries[p].iter().any(|e| e.tracker == entry.tracker) {
            self.entries[p].push(entry);
        }
    }

    fn build(self) -> Result<View, aho_corasick::BuildError> {
        let automaton = AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .build(&self.pattern_list)?;
        let mut starts = Vec::with_capacity(self.entries.len() + 1);
        let mut entries = Vec::new();
        for e in self.entries {
            starts.push(entries.len() as u32);
            entries.extend(e);
        }
        starts.push(entries.len() as u32);
        Ok(View {
            fold_accents: self.fold_accents,
            stemmer: self.stemmer,
            vocab: self.vocab,
            automaton,
            starts,
            entries,
        })
    }
}

impl Compiled {
    /// Builds the matcher for a language (`None`: no stemming, no per-language terms).
    fn build_matcher(&self, language: Option<&str>) -> Result<Matcher, aho_corasick::BuildError> {
        let stemmer = language.and_then(stemmer_for);
        let mut builders: Vec<ViewBuilder> = Vec::new();
        let mut tokens = Vec::new();
        let mut word = String::new();
        for (ti, t) in self.trackers.iter().enumerate() {
            for (ki, term) in t.terms.iter().enumerate() {
                if term.language.is_some() && term.language.as_deref() != language {
                    continue;
                }
                let stem = if t.stemming && !term.exact {
                    stemmer
                } else {
                    None
                };
                let b = match builders
                    .iter()
                    .position(|b| b.fold_accents == t.fold_accents && b.stemmer == stem)
                {
                    Some(i) => i,
                    None => {
                        builders.push(ViewBuilder::new(t.fold_accents, stem));
                        builders.len() - 1
                    }
                };
                let entry = Entry {
                    tracker: ti as u32,
                    term: ki as u32,
                };
                builders[b].add(&term.text, entry, &mut tokens, &mut word);
            }
        }
        let views = builders
            .into_iter()
            .map(ViewBuilder::build)
            .collect::<Result<_, _>>()?;
        Ok(Matcher {
            views,
            words: RwLock::new(WordTable::with_capacity(0)),
        })
    }

    /// The matcher for a conversation language, built on first use. A language-specific
    /// matcher that cannot be built (unreachable within the limits) falls back to the
    /// language-independent one, which `compile` has built.
    fn matcher(&self, language: &str) -> Option<&Matcher> {
        let canonical = canonical_language(language);
        let slot = canonical
            .as_deref()
            .and_then(|l| self.slots.get(l).copied());
        let other = self.matchers.len().checked_sub(1)?;
        if let (Some(slot), Some(l)) = (slot, canonical.as_deref()) {
            let cell = self.matchers.get(slot)?;
            if let Some(m) = cell.get() {
                return Some(m);
            }
            if let Ok(m) = self.build_matcher(Some(l)) {
                return Some(cell.get_or_init(|| m));
            }
        }
        self.matchers.get(other)?.get()
    }

    /// The side of a segment's speaker: the segment's own side when known, else internal when
    /// the tenant's rules say so, else unknown.
    fn side(&self, seg: &Segment) -> Side {
        if seg.side != Side::Unknown
            || (self.internal_speakers.is_empty() && self.internal_domains.is_empty())
        {
            return seg.side;
        }
        let speaker = seg.speaker.trim().to_lowercase();
        let internal = self.internal_speakers.contains(&speaker)
            || speaker
                .rsplit_once('@')
                .is_some_and(|(_, d)| self.internal_domains.contains(d));
        if internal {
            Side::Internal
        } else {
            Side::Unknown
        }
    }
}

impl Matcher {
    /// Word ids of one raw word in every view.
    fn word_ids(&self, raw: &str, forms: &mut [String; 2]) -> WordIds {
        let mut ids = [0; MAX_VIEWS];
        let mut done = [false; 2];
        for (i, v) in self.views.iter().enumerate() {
            let f = usize::from(v.fold_accents);
            if !done[f] {
                normalise_word(raw, v.fold_accents, &mut forms[f]);
                done[f] = true;
            }
            let form = forms[f].as_str();
            let id = match v.stemmer {
                None => v.vocab.get(form),
                Some(a) => {
                    let stemmer = Stemmer::create(a);
                    let stem = stemmer.stem(form);
                    v.vocab.get(if stem.is_empty() { form } else { &*stem })
                }
            };
            ids[i] = id.copied().unwrap_or(0);
        }
        ids
    }

    /// Word ids from the shared memo, if there.
    fn remembered(&self, key: Option<u128>, raw: &str) -> Option<WordIds> {
        self.words
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key, raw)
    }

    /// Adds newly computed word ids to the shared memo, up to its capacity.
    fn remember(&self, fresh: &[(Option<u128>, &str, WordIds)]) {
        if fresh.is_empty() {
            return;
        }
        let mut words = self.words.write().unwrap_or_else(PoisonError::into_inner);
        for (key, raw, ids) in fresh {
            if words.len() >= MAX_CACHED_WORDS {
                break;
            }
            words.insert(*key, (*raw).into(), *ids);
        }
    }
}

impl TrackerSet {
    /// Validates a configuration ([`TenantConfig::validate`]: empty terms, duplicate names,
    /// limits...) and compiles its trackers and competitors. Builds the automaton used for
    /// languages without a stemmer now; the one for each stemming language on first use.
    pub fn compile(config: &TenantConfig) -> Result<TrackerSet, ConfigError> {
        config.validate()?;
        let mut trackers = Vec::with_capacity(config.trackers.len() + config.competitors.len());
        for t in &config.trackers {
            let mut terms = Vec::new();
            push_terms(&mut terms, &t.terms, None);
            push_language_terms(&mut terms, &t.languages);
            trackers.push(Tracker {
                name: t.name.trim().to_string(),
                kind: TrackerKind::Keyword,
                teams: t.teams.iter().map(|x| x.trim().to_string()).collect(),
                stemming: t.stemming,
                fold_accents: t.accent_insensitive,
                terms,
                order: 0,
            });
        }
        for c in &config.competitors {
            let mut terms = Vec::new();
            push_terms(&mut terms, std::slice::from_ref(&c.name), None);
            push_terms(&mut terms, &c.aliases, None);
            push_language_terms(&mut terms, &c.languages);
            trackers.push(Tracker {
                name: c.name.trim().to_string(),
                kind: TrackerKind::Competitor,
                teams: c.teams.iter().map(|x| x.trim().to_string()).collect(),
                stemming: false,
                fold_accents: true,
                terms,
                order: 0,
            });
        }
        rank_trackers(&mut trackers);
        let mut languages: Vec<String> = STEMMED_LANGUAGES.iter().map(|l| l.to_string()).collect();
        languages.extend(
            trackers
                .iter()
                .flat_map(|t| t.terms.iter().filter_map(|k| k.language.clone())),
        );
        languages.sort();
        languages.dedup();
        let slots: BTreeMap<String, usize> = languages
            .into_iter()
            .enumerate()
            .map(|(i, l)| (l, i))
            .collect();
        let mut compiled = Compiled {
            trackers,
            matchers: (0..=slots.len()).map(|_| OnceLock::new()).collect(),
            slots,
            internal_speakers: config
                .internal_speakers
                .iter()
                .map(|s| s.trim().to_lowercase())
                .collect(),
            internal_domains: config
                .internal_domains
                .iter()
                .map(|d| {
                    let d = d.trim();
                    d.strip_prefix('@').unwrap_or(d).to_lowercase()
                })
                .collect(),
        };
        let other = compiled
            .build_matcher(None)
            .map_err(|e| ConfigError::Automaton {
                reason: e.to_string(),
            })?;
        if let Some(cell) = compiled.matchers.last_mut() {
            let _ = cell.set(other);
        }
        Ok(TrackerSet {
            inner: Arc::new(compiled),
        })
    }

    /// Builds the automaton of a language now rather than on its first conversation (about
    /// 60 ms for 10,000 English terms, 0.5 s for 50,000): for callers that compile off the
    /// transcript path and want no pause on it. Idempotent; finding works without it.
    pub fn prepare(&self, lang: &str) {
        let _ = self.inner.matcher(lang);
    }

    /// Empties the shared memo of word ids (see the module docs), so that the next `find`
    /// runs as on a conversation of words never seen: for benchmarks.
    #[doc(hidden)]
    pub fn forget_words(&self) {
        for m in self.inner.matchers.iter().filter_map(OnceLock::get) {
            m.words
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .clear();
        }
    }

    /// Finds every hit in the conversation, whose language is `lang` (ISO 639-1; a region
    /// suffix is ignored; an unknown or unsupported language matches without stemming).
    /// Team-scoped trackers are skipped (no team known). Hits are sorted by segment order,
    /// `start_char`, tracker, term (then kind, `end_char`); counts by tracker, kind, side, and
    /// only trackers with hits have counts.
    pub fn find(&self, conv: &Conversation, lang: &str) -> (Vec<TrackerHit>, Vec<TrackerCount>) {
        self.find_in_team(conv, lang, None)
    }

    /// Like [`TrackerSet::find`] for a conversation of a known team (`Some`): trackers scoped
    /// to that team (exact team id) apply as well as the tenant-wide ones.
    pub fn find_in_team(
        &self,
        conv: &Conversation,
        lang: &str,
        team: Option<&str>,
    ) -> (Vec<TrackerHit>, Vec<TrackerCount>) {
        let found = SCRATCH.try_with(|cell| match cell.try_borrow_mut() {
            Ok(mut scratch) => {
                let found = self.find_with(conv, lang, team, &mut scratch);
                scratch.reset();
                found
            }
            Err(_) => self.find_with(conv, lang, team, &mut Scratch::default()),
        });
        found.unwrap_or_else(|_| self.find_with(conv, lang, team, &mut Scratch::default()))
    }

    /// [`TrackerSet::find_in_team`] with the given buffers.
    fn find_with<'a>(
        &self,
        conv: &'a Conversation,
        lang: &str,
        team: Option<&str>,
        scratch: &mut Scratch,
    ) -> (Vec<TrackerHit>, Vec<TrackerCount>) {
        let c = &*self.inner;
        if c.trackers.is_empty() {
            return (Vec::new(), Vec::new());
        }
        let Some(matcher) = c.matcher(lang) else {
            return (Vec::new(), Vec::new());
        };
        // `None`: every tracker applies (no team-scoped tracker).
        let applies: Option<Vec<bool>> =
            c.trackers.iter().any(|t| !t.teams.is_empty()).then(|| {
                c.trackers
                    .iter()
                    .map(|t| {
                        t.teams.is_empty()
                            || team.is_some_and(|team| t.teams.iter().any(|x| x == team.trim()))
                    })
                    .collect()
            });
        let views = &matcher.views;
        let Scratch {
            short,
            tokens,
            buffers,
            offsets,
            candidates,
            chosen,
        } = scratch;
        // Word ids of this conversation's words: the short ones in the reused table.
        let mut long: HashMap<&str, WordIds, RandomState> = HashMap::default();
        let mut fresh: Vec<(Option<u128>, &str, WordIds)> = Vec::new();
        let mut forms = [String::new(), String::new()];
        let mut lookup = |text: &'a str, t: &Token| -> WordIds {
            let raw = &text[t.start_byte as usize..t.end_byte as usize];
            let key = pack(text.as_bytes(), t.start_byte as usize, t.end_byte as usize);
            let known = match key {
                Some(k) => short.get(&k),
                None => long.get(raw),
            };
            if let Some(ids) = known {
                return *ids;
            }
            let ids = matcher.remembered(key, raw).unwrap_or_else(|| {
                let ids = matcher.word_ids(raw, &mut forms);
                fresh.push((key, raw, ids));
                ids
            });
            match key {
                Some(k) => short.insert(k, ids),
                None => long.insert(raw, ids),
            };
            ids
        };
        buffers.resize_with(views.len(), Vec::new);
        offsets.resize_with(views.len(), Vec::new);
        let mut hits = Vec::new();
        // (tracker order, side) of every hit, counted at the end.
        let mut counted: Vec<(u32, Side, u32)> = Vec::new();
        for seg in &conv.segments {
            let text = seg.text.as_str();
            tokenize(text, tokens);
            if tokens.is_empty() {
                continue;
            }
            for (b, o) in buffers.iter_mut().zip(offsets.iter_mut()) {
                b.clear();
                o.clear();
            }
            let mut known = [false; MAX_VIEWS];
            for t in tokens.iter() {
                let ids = lookup(text, t);
                for (v, (b, o)) in buffers.iter_mut().zip(offsets.iter_mut()).enumerate() {
                    o.push(b.len() as u32);
                    known[v] |= ids[v] != 0;
                    push_id(b, ids[v]);
                }
            }
            candidates.clear();
            for (v, view) in views.iter().enumerate() {
                if !known[v] {
                    continue;
                }
                let (b, o) = (&buffers[v], &mut offsets[v]);
                o.push(b.len() as u32);
                for m in view.automaton.find_overlapping_iter(b.as_slice()) {
                    let (Ok(first), Ok(end)) = (
                        o.binary_search(&(m.start() as u32)),
                        o.binary_search(&(m.end() as u32)),
                    ) else {
                        continue;
                    };
                    let p = m.pattern().as_usize();
                    let range = view.starts[p] as usize..view.starts[p + 1] as usize;
                    for e in &view.entries[range] {
                        if applies.as_ref().is_none_or(|a| a[e.tracker as usize]) {
                            candidates.push(Candidate {
                                tracker: e.tracker,
                                term: e.term,
                                first: first as u32,
                                end: end as u32,
                            });
                        }
                    }
                }
            }
            if candidates.is_empty() {
                continue;
            }
            // Leftmost-longest per tracker, first configured term on a tie.
            candidates.sort_unstable_by_key(|k| (k.tracker, k.first, Reverse(k.end), k.term));
            chosen.clear();
            for k in candidates.iter() {
                if chosen
                    .last()
                    .is_some_and(|l| l.tracker == k.tracker && k.first < l.end)
                {
                    continue;
                }
                chosen.push(*k);
            }
            // Output order: start, then (tracker, term, kind), then end.
            let rank = |k: &Candidate| c.trackers[k.tracker as usize].terms[k.term as usize].rank;
            chosen.sort_unstable_by_key(|k| (k.first, rank(k), k.end));
            let side = c.side(seg);
            for k in chosen.iter() {
                let tracker = &c.trackers[k.tracker as usize];
                counted.push((tracker.order, side, k.tracker));
                let (a, z) = (tokens[k.first as usize], tokens[k.end as usize - 1]);
                hits.push(TrackerHit {
                    tracker: tracker.name.clone(),
                    kind: tracker.kind,
                    term: tracker.terms[k.term as usize].text.clone(),
                    heard: text[a.start_byte as usize..z.end_byte as usize].to_string(),
                    speaker: seg.speaker.clone(),
                    side,
                    segment_id: seg.id.clone(),
                    offset_ms: seg.start_ms,
                    start_char: i64::from(a.start_char),
                    end_char: i64::from(z.end_char),
                });
            }
        }
        matcher.remember(&fresh);
        counted.sort_unstable();
        let mut tracker_counts: Vec<TrackerCount> = Vec::new();
        for (i, &(order, side, t)) in counted.iter().enumerate() {
            if i > 0 && counted[i - 1].0 == order && counted[i - 1].1 == side {
                if let Some(last) = tracker_counts.last_mut() {
                    last.count += 1;
                }
                continue;
            }
            let tracker = &c.trackers[t as usize];
            tracker_counts.push(TrackerCount {
                tracker: tracker.name.clone(),
                kind: tracker.kind,
                side,
                count: 1,
            });
        }
        (hits, tracker_counts)
    }
}
