//! Word tokens for action-item detection, built for real speech: lower-cased, with character
//! offsets back into the segment, fragments (`w-`) and fillers dropped, immediate repetitions
//! (`i i i'll`) collapsed, and sentence boundaries for written text.
//!
//! A token is a run of letters, digits, `_` and inner apostrophes (`'` or `’`, normalised to
//! `'`). In French and Italian an elided clitic (`j'`, `qu'`, `l'`, `d'`...) is its own token
//! so that `j'ai` gives `j'` + `ai`. Hyphens separate tokens (`pourriez-vous`); a token
//! directly followed by a hyphen and then a space or the end of the text is a speech
//! fragment and is dropped.

/// One token of a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    /// Start of the token in the segment text, in Unicode scalar values.
    pub start: u32,
    /// End (exclusive), in Unicode scalar values.
    pub end: u32,
    /// Range of the lower-cased form in [`Tokens::arena`].
    pub lo: u32,
    /// End of the lower-cased form in [`Tokens::arena`].
    pub hi: u32,
    /// FNV-1a hash of the lower-cased form.
    pub hash: u64,
    /// Index of the sentence this token belongs to (0-based within the segment).
    pub sentence: u16,
}

/// Tokens of one segment, with their lower-cased text stored in one arena.
#[derive(Debug, Default, Clone)]
pub struct Tokens {
    /// Lower-cased token text, concatenated.
    pub arena: String,
    /// The tokens, in text order.
    pub list: Vec<Token>,
    /// Per sentence: `(first char, end char, ends with '?')` in Unicode scalar values.
    pub sentences: Vec<(u32, u32, bool)>,
    /// Whether the text looks written (punctuation or capital letters) rather than a
    /// lower-case speech transcript.
    pub written: bool,
    /// The characters of the text being tokenised (a reused buffer).
    chars: Vec<char>,
}

impl Tokens {
    /// The lower-cased form of token `i`.
    pub fn word(&self, i: usize) -> &str {
        let t = &self.list[i];
        &self.arena[t.lo as usize..t.hi as usize]
    }

    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// `true` when there is no token.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

/// FNV-1a over bytes; stable across platforms and releases (weights depend on it).
pub const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        h ^= bytes[i] as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    h
}

/// Combines two hashes (order-sensitive).
pub fn mix(a: u64, b: u64) -> u64 {
    let x = a.rotate_left(29) ^ b.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    x.wrapping_mul(0xbf58_476d_1ce4_e5b9) ^ (x >> 31)
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn is_apostrophe(c: char) -> bool {
    c == '\'' || c == '’'
}

/// Filler words of speech in every supported language, dropped before matching.
const FILLERS: &[&str] = &[
    "uh", "um", "uhm", "umm", "uh-huh", "hmm", "mm", "mmm", "er", "erm", "ah", "eh", "euh", "heu",
    "bah", "ben", "äh", "ähm", "öh", "hm", "ehm", "em",
];

fn is_filler(w: &str) -> bool {
    // Fillers are short and start with a vowel or h/m/b: most words leave at once.
    let short = w.len() <= 6
        && matches!(
            w.as_bytes().first(),
            Some(b'u' | b'h' | b'm' | b'e' | b'a' | b'b' | 0xc3)
        );
    short && FILLERS.contains(&w)
}

/// Clitics that French and Italian elide with an apostrophe.
fn elided_clitic(w: &str) -> bool {
    matches!(
        w,
        "j" | "l"
            | "d"
            | "qu"
            | "n"
            | "s"
            | "c"
            | "m"
            | "t"
            | "jusqu"
            | "lorsqu"
            | "puisqu"
            | "un"
            | "dell"
            | "all"
            | "nell"
            | "sull"
            | "dall"
            | "quest"
            | "quell"
    )
}

/// Tokenises `text` into `out` (cleared first). `lang` is the ISO 639-1 code; French and
/// Italian split elided clitics.
pub fn tokenize(text: &str, lang: &str, out: &mut Tokens) {
    out.arena.clear();
    out.list.clear();
    out.sentences.clear();
    let split_elision = matches!(lang, "fr" | "it");
    let mut upper = 0usize;
    let mut letters = 0usize;
    let mut punct = 0usize;
    let mut sentence: u16 = 0;
    let mut sentence_start: u32 = 0;
    let mut sentence_has_token = false;
    let mut chars = std::mem::take(&mut out.chars);
    chars.clear();
    chars.extend(text.chars());
    let n = chars.len();
    let mut i = 0usize;
    let mut prev: Option<(u32, u32)> = None; // lower-cased range of the previous kept token
    while i < n {
        let c = chars[i];
        if !is_word_char(c) {
            if matches!(c, '.' | '!' | '?' | ';' | '\n' | '…') {
                punct += 1;
                // A '.' between digits (3.5) or after a day number followed by a word
                // ("am 3. März") does not end the sentence.
                let digits_before = chars[..i]
                    .iter()
                    .rev()
                    .take_while(|c| c.is_ascii_digit())
                    .count();
                let inner_dot = c == '.'
                    && digits_before > 0
                    && ((i + 1 < n && chars[i + 1].is_ascii_digit())
                        || (digits_before <= 2
                            && i + 2 < n
                            && chars[i + 1] == ' '
                            && chars[i + 2].is_alphabetic()));
                if !inner_dot && sentence_has_token {
                    let q = c == '?';
                    out.sentences.push((sentence_start, i as u32 + 1, q));
                    sentence = sentence.saturating_add(1);
                    sentence_start = i as u32 + 1;
                    sentence_has_token = false;
                    prev = None;
                }
            } else if matches!(c, ',' | ':' | '¿' | '¡') {
                punct += 1;
            }
            i += 1;
            continue;
        }
        // A word: letters/digits/_ with inner apostrophes.
        let start = i;
        let mut j = i;
        while j < n {
            let cj = chars[j];
            let inner_apostrophe = is_apostrophe(cj) && j + 1 < n && is_word_char(chars[j + 1]);
            if is_word_char(cj) || inner_apostrophe {
                j += 1;
            } else {
                break;
            }
        }
        // Fragment: "w-" followed by space/end.
        let fragment = j < n && chars[j] == '-' && (j + 1 == n || chars[j + 1].is_whitespace());
        i = j;
        if fragment {
            continue;
        }
        let mut pieces: [(usize, usize); 2] = [(start, j), (0, 0)];
        let mut npieces = 1;
        if split_elision {
            if let Some(k) = (start..j).find(|&k| is_apostrophe(chars[k])) {
                let mut head = [0u8; 8];
                let mut hl = 0;
                for &c in &chars[start..k] {
                    if hl < head.len() && c.is_ascii() {
                        head[hl] = c.to_ascii_lowercase() as u8;
                        hl += 1;
                    } else {
                        hl = head.len() + 1;
                        break;
                    }
                }
                let head = if hl <= head.len() {
                    std::str::from_utf8(&head[..hl]).unwrap_or("")
                } else {
                    ""
                };
                if elided_clitic(head) && k + 1 < j {
                    pieces = [(start, k + 1), (k + 1, j)];
                    npieces = 2;
                }
            }
        }
        for &(a, b) in &pieces[..npieces] {
            let lo = out.arena.len();
            for &c in &chars[a..b] {
                if c.is_alphabetic() {
                    letters += 1;
                    if c.is_uppercase() {
                        upper += 1;
                    }
                }
                if is_apostrophe(c) {
                    out.arena.push('\'');
                } else if c.is_ascii() {
                    out.arena.push(c.to_ascii_lowercase());
                } else {
                    out.arena.extend(c.to_lowercase());
                }
            }
            let hi = out.arena.len();
            let w = &out.arena[lo..hi];
            if is_filler(w) {
                out.arena.truncate(lo);
                continue;
            }
            // Collapse an immediate repetition ("i i i'll", "the the").
            if let Some((plo, phi)) = prev {
                if out.arena[plo as usize..phi as usize] == out.arena[lo..hi] {
                    out.arena.truncate(lo);
                    continue;
                }
            }
            let hash = fnv1a(&out.arena.as_bytes()[lo..hi]);
            out.list.push(Token {
                start: a as u32,
                end: b as u32,
                lo: lo as u32,
                hi: hi as u32,
                hash,
                sentence,
            });
            prev = Some((lo as u32, hi as u32));
            sentence_has_token = true;
        }
    }
    if sentence_has_token {
        out.sentences.push((sentence_start, n as u32, false));
    }
    // Written text: sentence punctuation, or capitals that are not every letter (ALL CAPS
    // shouting is still "written"), on a text long enough to tell.
    out.written =
        punct > 0 || (upper > 0 && upper * 2 < letters.max(1)) || (letters > 0 && upper == letters);
    out.chars = chars;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str, lang: &str) -> Vec<String> {
        let mut t = Tokens::default();
        tokenize(text, lang, &mut t);
        (0..t.len()).map(|i| t.word(i).to_string()).collect()
    }

    #[test]
    fn speech_disfluencies_are_cleaned() {
        assert_eq!(
            words("so i i i'll w- we uh send it", "en"),
            ["so", "i", "i'll", "we", "send", "it"]
        );
        assert_eq!(words("y- y- you gotta", "en"), ["you", "gotta"]);
        assert_eq!(words("o_k", "en"), ["o_k"]);
    }

    #[test]
    fn french_elision_and_hyphens_split() {
        assert_eq!(
            words("J’ai dit qu'on pourrait, pourriez-vous", "fr"),
            ["j'", "ai", "dit", "qu'", "on", "pourrait", "pourriez", "vous"]
        );
        // English keeps contractions whole.
        assert_eq!(words("I'll do it", "en"), ["i'll", "do", "it"]);
    }

    #[test]
    fn offsets_are_in_chars_and_sentences_split() {
        let mut t = Tokens::default();
        tokenize("Très bien. Je l'envoie ?", "fr", &mut t);
        assert_eq!((t.list[0].start, t.list[0].end), (0, 4));
        assert_eq!(t.word(0), "très");
        assert_eq!(t.sentences, vec![(0, 10, false), (10, 24, true)]);
        assert_eq!(t.list[2].sentence, 1);
        assert!(t.written);
        tokenize("we need to do that", "en", &mut t);
        assert!(!t.written);
    }
}
