//! Word tokens and their normal forms, shared by configured terms and transcript text.
//!
//! A *word* is a maximal run of letters, digits and combining marks (`char::is_alphanumeric`
//! or Unicode `General_Category=Mark`). Everything else (spaces, line breaks, punctuation,
//! apostrophes, hyphens, symbols) separates words. Han ideographs, Hiragana and Katakana are
//! one word per character, so phrases in scripts written without spaces match as character
//! sequences.
//!
//! A word's normal form is: NFKD (compatibility decomposition: "ﬁ" → "fi", full-width "ＳＡＰ"
//! → "SAP"), full lower case, "ß" → "ss" and final "ς" → "σ" (case folding), then either accents
//! stripped (accent-insensitive) or nothing more, then NFC. Stemming, when asked, runs on that
//! normal form (after accent folding, so that two words differing only by accents always stem
//! alike).

use rust_stemmers::{Algorithm, Stemmer};
use std::borrow::Cow;
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// One word of a text: its span in Unicode scalar values and in bytes of the original text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Token {
    /// First character, in Unicode scalar values from the start of the text.
    pub start_char: u32,
    /// One past the last character.
    pub end_char: u32,
    /// First byte in the original text.
    pub start_byte: u32,
    /// One past the last byte.
    pub end_byte: u32,
}

/// `true` for characters that are a word on their own (scripts written without spaces).
fn is_single_char_word(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF      // Hiragana, Katakana
        | 0x3400..=0x4DBF    // CJK Extension A
        | 0x4E00..=0x9FFF    // CJK Unified Ideographs
        | 0xF900..=0xFAFF    // CJK Compatibility Ideographs
        | 0x20000..=0x3134F) // CJK Extensions B..G
}

/// `true` for characters that belong to a word.
fn is_word_char(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphanumeric()
    } else {
        c.is_alphanumeric() || is_combining_mark(c)
    }
}

/// Splits `text` into words, replacing the contents of `out`. Offsets are `u32`: texts longer
/// than 4 GiB are cut at 4 GiB (segments are far smaller).
pub(crate) fn tokenize(text: &str, out: &mut Vec<Token>) {
    out.clear();
    if text.is_ascii() {
        tokenize_ascii(text.as_bytes(), out);
    } else {
        tokenize_unicode(text, out);
    }
}

/// [`tokenize`] for any text.
fn tokenize_unicode(text: &str, out: &mut Vec<Token>) {
    let mut current: Option<Token> = None;
    for (chars, (byte, c)) in text.char_indices().enumerate() {
        let (Ok(chars), Ok(byte), Ok(end_byte)) = (
            u32::try_from(chars),
            u32::try_from(byte),
            u32::try_from(byte + c.len_utf8()),
        ) else {
            break;
        };
        if is_single_char_word(c) {
            out.extend(current.take());
            out.push(Token {
                start_char: chars,
                end_char: chars + 1,
                start_byte: byte,
                end_byte,
            });
        } else if is_word_char(c) {
            match current.as_mut() {
                Some(t) => {
                    t.end_char = chars + 1;
                    t.end_byte = end_byte;
                }
                None => {
                    current = Some(Token {
                        start_char: chars,
                        end_char: chars + 1,
                        start_byte: byte,
                        end_byte,
                    })
                }
            }
        } else {
            out.extend(current.take());
        }
    }
    out.extend(current);
}

/// Bit `i` set when byte `i` of the 8-byte group `x` (little-endian) is an ASCII letter or
/// digit. Branch-free, so that word boundaries cost no mispredicted branches; every byte is
/// below 0x80, so adding at most 0x50 to a byte never carries into the next one.
fn word_bits(x: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    // High bit of each byte: byte >= 0x30 ('0'), and not byte >= 0x3A ('9' + 1).
    let digit = (x + ONES * 0x50) & !(x + ONES * 0x46);
    // The same on the lower-cased bytes: byte >= 0x61 ('a'), and not byte >= 0x7B ('z' + 1).
    let lower = x | (ONES * 0x20);
    let letter = (lower + ONES * 0x1F) & !(lower + ONES * 0x05);
    let word = (digit | letter) & (ONES * 0x80);
    // Gather the eight high bits into one byte, byte i to bit i.
    (word >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56
}

/// [`tokenize`] for ASCII text, where characters are bytes: classify 8 bytes at a time, then
/// walk the class changes.
fn tokenize_ascii(bytes: &[u8], out: &mut Vec<Token>) {
    let bytes = &bytes[..bytes.len().min(u32::MAX as usize - 8)];
    let mut in_word = false;
    let mut start = 0u32;
    let mut carry = 0u64;
    let mut walk = |base: u32, mask: u64, out: &mut Vec<Token>| {
        let mut edges = (mask ^ ((mask << 1) | carry)) & 0xFF;
        carry = mask >> 7;
        while edges != 0 {
            let at = base + edges.trailing_zeros();
            edges &= edges - 1;
            if in_word {
                out.push(Token {
                    start_char: start,
                    end_char: at,
                    start_byte: start,
                    end_byte: at,
                });
            } else {
                start = at;
            }
            in_word = !in_word;
        }
    };
    let mut groups = bytes.chunks_exact(8);
    let mut base = 0u32;
    for g in &mut groups {
        let mut b = [0u8; 8];
        b.copy_from_slice(g);
        walk(base, word_bits(u64::from_le_bytes(b)), out);
        base += 8;
    }
    let rest = groups.remainder();
    // The last group is padded with spaces (non-word bytes), which ends any word in it.
    let mut b = [b' '; 8];
    b[..rest.len()].copy_from_slice(rest);
    walk(base, word_bits(u64::from_le_bytes(b)), out);
    if in_word {
        let end = bytes.len() as u32;
        out.push(Token {
            start_char: start,
            end_char: end,
            start_byte: start,
            end_byte: end,
        });
    }
}

/// Number of words in `text`.
pub(crate) fn word_count(text: &str) -> usize {
    let mut tokens = Vec::new();
    tokenize(text, &mut tokens);
    tokens.len()
}

/// `true` for the combining marks that accent folding removes: Latin, Greek and Cyrillic
/// diacritics, Hebrew points and Arabic vowel marks. Marks that are part of the letter in
/// other scripts (Indic vowel signs, Japanese voicing marks) are kept, or words would merge.
fn is_accent(c: char) -> bool {
    matches!(c as u32,
        0x0300..=0x036F      // Combining Diacritical Marks
        | 0x0483..=0x0489    // Cyrillic combining marks
        | 0x0591..=0x05BD | 0x05BF | 0x05C1..=0x05C2 | 0x05C4..=0x05C5 | 0x05C7 // Hebrew points
        | 0x0610..=0x061A | 0x064B..=0x065F | 0x0670 // Arabic marks
        | 0x06D6..=0x06DC | 0x06DF..=0x06E4 | 0x06E7..=0x06E8 | 0x06EA..=0x06ED
        | 0x1AB0..=0x1AFF    // Combining Diacritical Marks Extended
        | 0x1DC0..=0x1DFF    // Combining Diacritical Marks Supplement
        | 0x20D0..=0x20FF    // Combining Diacritical Marks for Symbols
        | 0xFE20..=0xFE2F) // Combining Half Marks
}

/// Writes the normal form of one word into `out` (cleared first). See the module docs.
pub(crate) fn normalise_word(word: &str, fold_accents: bool, out: &mut String) {
    out.clear();
    if word.is_ascii() {
        out.push_str(word);
        out.make_ascii_lowercase();
        return;
    }
    let mut folded = String::with_capacity(word.len() + 4);
    for c in word.nfkd() {
        for l in c.to_lowercase() {
            match l {
                'ß' => folded.push_str("ss"),
                'ς' => folded.push('σ'),
                l if fold_accents && is_accent(l) => {}
                l => folded.push(l),
            }
        }
    }
    out.extend(folded.nfc());
}

/// The Snowball stemmer for an ISO 639-1 code (`no`, `nb` and `nn` are Norwegian).
pub(crate) fn stemmer_for(lang: &str) -> Option<Algorithm> {
    Some(match lang {
        "ar" => Algorithm::Arabic,
        "da" => Algorithm::Danish,
        "nl" => Algorithm::Dutch,
        "en" => Algorithm::English,
        "fi" => Algorithm::Finnish,
        "fr" => Algorithm::French,
        "de" => Algorithm::German,
        "el" => Algorithm::Greek,
        "hu" => Algorithm::Hungarian,
        "it" => Algorithm::Italian,
        "no" | "nb" | "nn" => Algorithm::Norwegian,
        "pt" => Algorithm::Portuguese,
        "ro" => Algorithm::Romanian,
        "ru" => Algorithm::Russian,
        "es" => Algorithm::Spanish,
        "sv" => Algorithm::Swedish,
        "ta" => Algorithm::Tamil,
        "tr" => Algorithm::Turkish,
        _ => return None,
    })
}

/// ISO 639-1 codes with a stemmer, in the order of [`stemmer_for`].
pub(crate) const STEMMED_LANGUAGES: [&str; 18] = [
    "ar", "da", "nl", "en", "fi", "fr", "de", "el", "hu", "it", "no", "pt", "ro", "ru", "es", "sv",
    "ta", "tr",
];

/// Canonical language code: trimmed, lower case, region dropped (`pt-BR` → `pt`), Norwegian
/// variants `nb`/`nn` → `no`. `None` unless the result is two ASCII letters.
pub(crate) fn canonical_language(code: &str) -> Option<String> {
    let base = code.trim().split(['-', '_']).next().unwrap_or("");
    if base.len() != 2 || !base.bytes().all(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    let base = base.to_ascii_lowercase();
    Some(if base == "nb" || base == "nn" {
        "no".to_string()
    } else {
        base
    })
}

/// Stems a normalised word in place; a stem that would be empty keeps the word.
pub(crate) fn stem_in_place(stemmer: &Stemmer, word: &mut String) {
    if let Cow::Owned(stem) = stemmer.stem(word) {
        if !stem.is_empty() {
            *word = stem;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<&str> {
        let mut t = Vec::new();
        tokenize(text, &mut t);
        t.iter()
            .map(|t| &text[t.start_byte as usize..t.end_byte as usize])
            .collect()
    }

    fn norm(word: &str, fold: bool) -> String {
        let mut s = String::new();
        normalise_word(word, fold, &mut s);
        s
    }

    #[test]
    fn words_split_on_punctuation_apostrophes_and_hyphens() {
        assert_eq!(
            words("Price-list, l'offre; SFDC's\nQ3 plan!"),
            ["Price", "list", "l", "offre", "SFDC", "s", "Q3", "plan"]
        );
        assert_eq!(words(""), Vec::<&str>::new());
        assert_eq!(words(" ,.;"), Vec::<&str>::new());
    }

    #[test]
    fn spans_count_unicode_scalars() {
        let mut t = Vec::new();
        // "é" (1 char, 2 bytes) then a space then "prix".
        tokenize("é prix", &mut t);
        assert_eq!(
            t[1],
            Token {
                start_char: 2,
                end_char: 6,
                start_byte: 3,
                end_byte: 7
            }
        );
        // Decomposed "e" + U+0301 stays one word of two characters.
        tokenize("re\u{301}sume\u{301} x", &mut t);
        assert_eq!((t[0].start_char, t[0].end_char), (0, 8));
        assert_eq!(t[1].start_char, 9);
    }

    #[test]
    fn ascii_fast_path_agrees_with_the_general_path() {
        // Words across 8- and 64-byte boundaries; texts of exactly 8, 64 and 128 bytes.
        let across = format!(
            "{} {} y {}",
            "word ".repeat(12),
            "x".repeat(64),
            "z".repeat(61)
        );
        let exact = format!("{} {}", "a".repeat(60), "bcd");
        let double = format!("{}{}", "q".repeat(64), "r".repeat(64));
        for text in [
            "",
            "a",
            " a ",
            "Price-list, l'offre; SFDC's\nQ3 plan!",
            "x__y 42 ..z",
            "end.",
            &across,
            &exact,
            &double,
            "abcdefgh",
            "abcdefg ",
            " bcdefgh",
        ] {
            let (mut fast, mut general) = (Vec::new(), Vec::new());
            tokenize_ascii(text.as_bytes(), &mut fast);
            tokenize_unicode(text, &mut general);
            assert_eq!(fast, general, "{text:?}");
        }
    }

    #[test]
    fn word_bits_classify_every_ascii_byte() {
        for first in (0u8..128).step_by(8) {
            let group: [u8; 8] = std::array::from_fn(|i| first + i as u8);
            let bits = word_bits(u64::from_le_bytes(group));
            for (i, b) in group.iter().enumerate() {
                assert_eq!(bits >> i & 1 == 1, b.is_ascii_alphanumeric(), "byte {b:#x}");
            }
            assert!(bits < 256);
        }
    }

    #[test]
    fn ideographs_are_one_word_each() {
        assert_eq!(words("价格很高 SAP"), ["价", "格", "很", "高", "SAP"]);
    }

    #[test]
    fn normal_forms() {
        assert_eq!(norm("PRICE", true), "price");
        assert_eq!(norm("Résumé", true), "resume");
        assert_eq!(norm("Résumé", false), "résumé");
        // Decomposed and composed input give the same form.
        assert_eq!(norm("Re\u{301}sume\u{301}", false), "résumé");
        assert_eq!(norm("Straße", true), "strasse");
        assert_eq!(norm("STRASSE", true), "strasse");
        assert_eq!(norm("Straße", false), "strasse");
        assert_eq!(norm("ＳＡＰ", true), "sap");
        assert_eq!(norm("ﬁnance", true), "finance");
        assert_eq!(norm("ΤΙΜΈΣ", true), "τιμεσ");
        assert_eq!(norm("τιμές", true), "τιμεσ");
        assert_eq!(norm("Ёлка", true), "елка");
    }

    #[test]
    fn languages() {
        assert_eq!(canonical_language("pt-BR").as_deref(), Some("pt"));
        assert_eq!(canonical_language(" DE ").as_deref(), Some("de"));
        assert_eq!(canonical_language("nb").as_deref(), Some("no"));
        assert_eq!(canonical_language("english"), None);
        assert_eq!(canonical_language(""), None);
        for l in STEMMED_LANGUAGES {
            assert!(stemmer_for(l).is_some(), "{l}");
        }
        assert_eq!(stemmer_for("ja"), None);
    }
}
