//! The detectors: regular expressions for the shapes, checksums where the value has one
//! (IBAN mod 97 through `iban_validate`, Luhn for cards, the French NIR key, the Spanish
//! DNI/NIE letter), and the nearest keyword before a number to type what has no checksum.
//!
//! Order of precedence (an earlier finding wins an overlap): e-mail, URL with a personal
//! path, checksum-valid IBAN, Luhn-valid card, checksum-valid national id (NIR, DNI, NIE,
//! Italian codice fiscale), IP address, then numbers typed by the keyword said just before
//! them (account, card, id, phone), then phone numbers by their shape alone, then phone
//! numbers spoken digit by digit.

use super::{Finding, PiiType};
use aho_corasick::AhoCorasick;
use regex::Regex;
use std::sync::LazyLock;

/// Compiles a built-in pattern. Word boundaries are ASCII ones (`(?-u:\b)`): Unicode word
/// boundaries keep the regex crate off its fast DFA on non-ASCII text.
fn re(pattern: &str) -> Regex {
    // The patterns are constants of this file, checked by the unit tests.
    Regex::new(pattern).unwrap_or_else(|e| panic!("bad built-in pattern {pattern}: {e}"))
}

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?i)[\p{L}\p{N}._%+\-]+@[\p{L}\p{N}\-]+(?:\.[\p{L}\p{N}\-]+)*\.\p{L}{2,}")
});
static URL: LazyLock<Regex> =
    LazyLock::new(|| re(r#"(?i)(?-u:\b)(?:https?://|www\.)[^\s<>"'«»]+"#));
/// No word boundary: an IBAN glued to a lower-case word is still found ([`free`] checks
/// what comes before).
static IBAN: LazyLock<Regex> = LazyLock::new(|| re(r"(?-u)[A-Z]{2}\d{2}(?:[ \-]?[A-Z0-9]){10,30}"));
/// No word boundary either: [`free`] checks that no digit touches the number.
static CARD: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?-u)\d{4}(?:[ \-]?\d{4}){2}[ \-]?\d{1,7}|\d{4}[ \-]?\d{6}[ \-]?\d{4,5}")
});
static NIR: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?-u)(?-u:\b)[12][ .]?\d{2}[ .]?\d{2}[ .]?(?:\d{2}|2[AB])[ .]?\d{3}[ .]?\d{3}[ .]?\d{2}(?-u:\b)",
    )
});
static DNI: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?-u)(?-u:\b)(?:\d{8}|[XYZ][ \-]?\d{7})[ \-]?[A-Z](?-u:\b)"));
static CODICE_FISCALE: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?-u)(?-u:\b)[A-Z]{6}\d{2}[A-EHLMPRST]\d{2}[A-Z]\d{3}[A-Z](?-u:\b)"));
static IPV4: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?-u)(?-u:\b)(?:\d{1,3}\.){3}\d{1,3}(?-u:\b)"));
static IPV6: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?-u)(?i)(?-u:\b)[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7}(?-u:\b)"));
/// Account numbers and id numbers: optional letters, then digits with inner separators.
static CODE: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?-u:\b)\p{Lu}{0,3}-?[0-9](?:[ .\-/]?[0-9]){4,20}(?:[ \-]?\p{Lu})?(?-u:\b)")
});
/// Alphanumeric document numbers (passports, id cards): typed only by a keyword.
static ALNUM: LazyLock<Regex> = LazyLock::new(|| re(r"(?-u:\b)[\p{Lu}0-9]{6,14}(?-u:\b)"));
static PHONE: LazyLock<Regex> = LazyLock::new(|| {
    re(concat!(
        r"(?-u)(?:\+|(?-u:\b)00)\d{1,3}(?:[ .\-]?\(?\d{1,5}\)?){1,6}",
        r"|\(\d{2,5}\)[ .\-]?\d{2,5}(?:[ .\-]?\d{2,8}){0,3}",
        r"|(?-u:\b)\d{1,5}(?:[ .\-/]\d{2,8}){1,5}(?-u:\b)",
        r"|(?-u:\b)\d{7,13}(?-u:\b)",
    ))
});

/// Whether the match `start..end` is not glued to a digit (or, for IBANs, `upper_before`, an
/// upper-case letter) before it or a digit after it: IBANs and cards are matched without
/// word boundaries so that a value glued to a word is still found.
fn free(text: &str, start: usize, end: usize, upper_before: bool) -> bool {
    let before = text[..start].chars().next_back();
    let after = text[end..].chars().next();
    !before.is_some_and(|c| c.is_ascii_digit() || (upper_before && c.is_ascii_uppercase()))
        && !after.is_some_and(|c| c.is_ascii_digit())
}

/// What the keyword before a number says it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Context {
    Phone,
    Account,
    Card,
    Id,
}

/// Keywords (lower case, matched as substrings so that inflected and compound forms count)
/// per kind, in en, fr, de, es, it, nl, pt and the other languages of the evaluation data.
const KEYWORDS: &[(Context, &[&str])] = &[
    (
        Context::Phone,
        &[
            "phone",
            "tel.",
            "tel:",
            "tél",
            "telef",
            "teléf",
            "téléph",
            "telep",
            "fax",
            "mobile",
            "mobil",
            "portable",
            "cellul",
            "reach",
            "contact",
            "kontakt",
            "contatt",
            "joindre",
            "bereik",
            "erreich",
            "φαξ",
            "καλέσ",
            "celular",
            "telem",
            "handy",
            "gsm",
            "call me",
            "call us",
            "appelez",
            "rappeler",
            "anrufen",
            "rufen",
            "chiamar",
            "chiamate",
            "bel me",
            "bellen",
            "llam",
            "ligue",
            "ligar",
            "whatsapp",
            "τηλέφων",
            "τηλεφων",
            "κινητ",
            "klic",
            "pokličite",
        ],
    ),
    (
        Context::Account,
        &[
            "iban",
            "bank",
            "banque",
            "bancaire",
            "banca",
            "banco",
            "τράπεζ",
            "account",
            "konto",
            "compte",
            "conto",
            "rekening",
            "cuenta",
            "conta ",
            "λογαριασμ",
            "račun",
            "trr",
            "bic",
            "swift",
            "rib ",
        ],
    ),
    (
        Context::Card,
        &[
            "card",
            "creditcard",
            "kreditkarte",
            "karte",
            "carte",
            "carta",
            "kaart",
            "tarjeta",
            "cartão",
            "κάρτα",
            "καρτ",
            "kartic",
            "visa",
            "mastercard",
            "amex",
        ],
    ),
    (
        Context::Id,
        &[
            "passport",
            "identity card",
            "personalausweis",
            "gesundheitsausweis",
            "aufenthalt",
            "id card",
            "health card",
            "tessera",
            "vitale",
            "zdravstven",
            "zavarovan",
            "davčn",
            "izkaznic",
            "potnega lista",
            "potni list",
            "socialnega",
            "krankenkass",
            "krankenvers",
            "previdenza",
            "dokumentnummer",
            "document number",
            "numéro de document",
            "geburtsurkunde",
            "birth certificate",
            "certificato",
            "acte de naissance",
            "visto",
            "visum",
            "βίζα",
            "pass ",
            "passnummer",
            "reisepass",
            "ausweis",
            "passeport",
            "passaport",
            "paspoort",
            "pasaporte",
            "identit",
            "identif",
            "id card",
            "id number",
            "id-",
            "social security",
            "sozialversicherung",
            "sécurité sociale",
            "securite sociale",
            "insurance number",
            "health insurance",
            "assicurazione",
            "assurance",
            "verzeker",
            "versicherung",
            "tax ",
            "steuer",
            "fiscal",
            "nir",
            "dni",
            "nie ",
            "nif",
            "bsn",
            "burgerservice",
            "cpf",
            "ssn",
            "licen",
            "führerschein",
            "permis",
            "patente",
            "rijbewijs",
            "osebn",
            "emšo",
            "zzzs",
            "ταυτότ",
            "διαβατ",
            "αμκα",
            "αφμ",
            "ασφάλισ",
            "national number",
            "national id",
            "numéro national",
            "personnummer",
            "cartão de cidadão",
        ],
    ),
];

static KEYWORD_MATCHER: LazyLock<(AhoCorasick, Vec<Context>)> = LazyLock::new(|| {
    let mut words = Vec::new();
    let mut kinds = Vec::new();
    for (k, list) in KEYWORDS {
        for w in *list {
            words.push(*w);
            kinds.push(*k);
        }
    }
    let ac = AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .build(&words)
        .unwrap_or_else(|e| panic!("bad built-in keyword list: {e}"));
    (ac, kinds)
});

/// Bytes looked at before a number for its keyword.
const CONTEXT_BYTES: usize = 90;

/// Bytes looked at after a number for a phone verb ("unter der Nummer ... erreichen").
const AFTER_BYTES: usize = 24;

/// Whether a phone keyword follows byte `at` closely.
fn phone_after(text: &str, at: usize) -> bool {
    let mut to = (at + AFTER_BYTES).min(text.len());
    while !text.is_char_boundary(to) {
        to -= 1;
    }
    let window = text[at..to].to_lowercase();
    let (ac, kinds) = &*KEYWORD_MATCHER;
    ac.find_overlapping_iter(&window)
        .any(|m| kinds[m.pattern().as_usize()] == Context::Phone)
}

/// The kind of the keyword nearest before byte `at` (within [`CONTEXT_BYTES`]).
fn context_before(text: &str, at: usize) -> Option<Context> {
    let mut from = at.saturating_sub(CONTEXT_BYTES);
    while !text.is_char_boundary(from) {
        from += 1;
    }
    let window = text[from..at].to_lowercase();
    let (ac, kinds) = &*KEYWORD_MATCHER;
    // A keyword counts at the start of a word only ("card" in "cardiology" does, "kaart" in
    // "identiteitskaart" does not); the nearest wins, the longest of those ending together.
    ac.find_overlapping_iter(&window)
        .filter(|m| {
            !window[..m.start()]
                .chars()
                .next_back()
                .is_some_and(char::is_alphanumeric)
        })
        .max_by_key(|m| (m.end(), m.len()))
        .map(|m| kinds[m.pattern().as_usize()])
}

fn digits(s: &str) -> Vec<u8> {
    s.bytes()
        .filter(u8::is_ascii_digit)
        .map(|b| b - b'0')
        .collect()
}

fn compact(s: &str) -> String {
    s.chars().filter(|c| c.is_alphanumeric()).collect()
}

/// The Luhn check of a card number's digits.
pub fn luhn(d: &[u8]) -> bool {
    if d.len() < 12 {
        return false;
    }
    let sum: u32 = d
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &x)| {
            let x = u32::from(x);
            if i % 2 == 1 {
                let y = x * 2;
                if y > 9 {
                    y - 9
                } else {
                    y
                }
            } else {
                x
            }
        })
        .sum();
    sum % 10 == 0
}

/// Whether a compact string is an IBAN with a valid checksum and country length.
pub fn iban_valid(s: &str) -> bool {
    s.parse::<iban::Iban>().is_ok()
}

/// The key of a French NIR (13 digits, Corsica as 2A/2B) is 97 − (number mod 97).
fn nir_valid(c: &str) -> bool {
    if c.len() != 15 {
        return false;
    }
    let (body, key) = c.split_at(13);
    let body = body.replace("2A", "19").replace("2B", "18");
    match (body.parse::<u64>(), key.parse::<u64>()) {
        (Ok(n), Ok(k)) => {
            let n = if c[5..7] == *"2A" {
                n - 1_000_000
            } else if c[5..7] == *"2B" {
                n - 2_000_000
            } else {
                n
            };
            97 - n % 97 == k
        }
        _ => false,
    }
}

/// The control letter of a Spanish DNI (8 digits) or NIE (X/Y/Z + 7 digits).
fn dni_valid(c: &str) -> bool {
    const LETTERS: &[u8] = b"TRWAGMYFPDXBNJZSQVHLCKE";
    let b = c.as_bytes();
    if b.len() != 9 {
        return false;
    }
    let lead = match b[0] {
        b'X' => '0',
        b'Y' => '1',
        b'Z' => '2',
        d if d.is_ascii_digit() => d as char,
        _ => return false,
    };
    let num: String = std::iter::once(lead)
        .chain(c[1..8].chars())
        .collect::<String>();
    match num.parse::<u64>() {
        Ok(n) => LETTERS[(n % 23) as usize] == b[8],
        Err(_) => false,
    }
}

/// A URL path that names a person: profile and user folders, `~user`, `@handle`, or query
/// parameters that carry a person's e-mail, name or id.
fn personal_url(url: &str) -> bool {
    let lower = url.to_lowercase();
    let rest = lower
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let Some(slash) = rest.find(['/', '?']) else {
        return false;
    };
    let path = &rest[slash..];
    const SEGMENTS: &[&str] = &[
        "in",
        "u",
        "user",
        "users",
        "profile",
        "profiles",
        "people",
        "person",
        "member",
        "members",
        "pub",
        "me",
        "home",
        "staff",
        "employee",
        "patient",
        "patients",
        "customer",
        "customers",
        "client",
        "clients",
        "account",
        "accounts",
    ];
    const PARAMS: &[&str] = &[
        "email=", "mail=", "name=", "user=", "userid=", "uid=", "id=", "token=",
    ];
    path.contains('~')
        || path.contains('@')
        || path.split(['/', '?', '#']).any(|s| SEGMENTS.contains(&s))
        || PARAMS.iter().any(|p| path.contains(p))
}

use super::detect_push as push;

fn is_date(s: &str) -> bool {
    let parts: Vec<&str> = s.split(['.', '/', '-']).collect();
    if parts.len() != 3
        || !parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    {
        return false;
    }
    let l: Vec<usize> = parts.iter().map(|p| p.len()).collect();
    // 31.12.2025, 31/12/25, 2025-12-31
    (l[0] <= 2 && l[1] <= 2 && (l[2] == 2 || l[2] == 4)) || (l[0] == 4 && l[1] <= 2 && l[2] <= 2)
}

/// A number shaped like a phone number without any keyword: an international prefix, an
/// area code in brackets, the North American 3-3-4 grouping, or a national number with a
/// trunk 0 and 9 to 11 digits.
fn strong_phone(s: &str, d: &[u8]) -> bool {
    if is_date(s) {
        return false;
    }
    let n = d.len();
    if s.starts_with('+') || s.starts_with("00") {
        return (8..=15).contains(&n);
    }
    if s.starts_with('(') {
        return (7..=12).contains(&n);
    }
    let groups: Vec<usize> = s
        .split([' ', '-', '.', '/'])
        .filter(|g| !g.is_empty())
        .map(str::len)
        .collect();
    if groups == [3, 3, 4] || groups == [1, 3, 3, 4] {
        return true;
    }
    d.first() == Some(&0) && (9..=11).contains(&n) && (groups.len() > 1 || n >= 10)
}

/// Every finding in `text`, as byte ranges, sorted and not overlapping.
pub fn find(text: &str) -> Vec<Finding> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let has_digit = bytes.iter().any(u8::is_ascii_digit);
    if bytes.contains(&b'@') {
        for m in EMAIL.find_iter(text) {
            push(&mut out, Finding::new(m.start(), m.end(), PiiType::Email));
        }
    }
    if bytes.contains(&b'/') || text.contains("www.") {
        for m in URL.find_iter(text) {
            let s = m
                .as_str()
                .trim_end_matches(['.', ',', ';', ':', '!', '?', ')']);
            if personal_url(s) {
                push(
                    &mut out,
                    Finding::new(m.start(), m.start() + s.len(), PiiType::Url),
                );
            }
        }
    }
    if has_digit {
        find_numbers(text, &mut out);
    }
    super::spoken::find(text, &mut out);
    out.sort_by_key(|f| f.start);
    out
}

fn find_numbers(text: &str, out: &mut Vec<Finding>) {
    // Each shape is scanned once; the checksum pass and the keyword pass share the matches.
    let ibans: Vec<regex::Match<'_>> = IBAN.find_iter(text).collect();
    let cards: Vec<regex::Match<'_>> = CARD.find_iter(text).collect();
    // IBANs with a valid checksum; a longer match may have swallowed a following code, so
    // shorter prefixes are tried at separator boundaries.
    for m in &ibans {
        if !free(text, m.start(), m.start(), false) {
            continue;
        }
        let s = m.as_str();
        let ends = s
            .char_indices()
            .filter(|(_, c)| *c == ' ' || *c == '-')
            .map(|(i, _)| i)
            .chain(std::iter::once(s.len()))
            .rev();
        for end in ends {
            if iban_valid(&compact(&s[..end])) {
                push(out, Finding::new(m.start(), m.start() + end, PiiType::Iban));
                break;
            }
        }
    }
    // One number in ten passes Luhn: an id or account keyword before it wins.
    for m in &cards {
        if free(text, m.start(), m.end(), false)
            && luhn(&digits(m.as_str()))
            && !matches!(
                context_before(text, m.start()),
                Some(Context::Id | Context::Account)
            )
        {
            push(out, Finding::new(m.start(), m.end(), PiiType::Card));
        }
    }
    for m in NIR.find_iter(text) {
        if nir_valid(&compact(m.as_str())) {
            push(out, Finding::new(m.start(), m.end(), PiiType::NationalId));
        }
    }
    for m in DNI.find_iter(text) {
        if dni_valid(&compact(m.as_str())) {
            push(out, Finding::new(m.start(), m.end(), PiiType::NationalId));
        }
    }
    for m in CODICE_FISCALE.find_iter(text) {
        push(out, Finding::new(m.start(), m.end(), PiiType::NationalId));
    }
    for m in IPV4.find_iter(text) {
        let ok = m.as_str().split('.').all(|o| o.parse::<u8>().is_ok());
        let glued = text[m.end()..].starts_with('.')
            && text[m.end() + 1..].starts_with(|c: char| c.is_ascii_digit());
        if ok && !glued && !text[..m.start()].ends_with('.') {
            push(out, Finding::new(m.start(), m.end(), PiiType::Ip));
        }
    }
    if text.contains(':') {
        for m in IPV6.find_iter(text) {
            let s = m.as_str();
            if s.matches(':').count() >= 2
                && s.bytes().any(|b| b.is_ascii_hexdigit())
                && s.parse::<std::net::Ipv6Addr>().is_ok()
            {
                push(out, Finding::new(m.start(), m.end(), PiiType::Ip));
            }
        }
    }
    // Values without a checksum (or with a wrong one): typed by the keyword said before.
    for m in &ibans {
        if free(text, m.start(), m.end(), true)
            && context_before(text, m.start()) == Some(Context::Account)
        {
            push(out, Finding::new(m.start(), m.end(), PiiType::Iban));
        }
    }
    for m in &cards {
        if free(text, m.start(), m.end(), false)
            && context_before(text, m.start()) == Some(Context::Card)
        {
            push(out, Finding::new(m.start(), m.end(), PiiType::Card));
        }
    }
    for m in CODE.find_iter(text) {
        let s = m.as_str().trim();
        let start = m.start() + (m.as_str().len() - m.as_str().trim_start().len());
        let n = digits(s).len();
        if is_date(s) || n < 6 || text[..start].ends_with('+') || phone_after(text, m.end()) {
            continue;
        }
        let kind = match context_before(text, start) {
            Some(Context::Account) if n >= 8 => PiiType::Iban,
            Some(Context::Card) if n >= 13 => PiiType::Card,
            Some(Context::Id) => PiiType::NationalId,
            _ => continue,
        };
        push(out, Finding::new(start, start + s.len(), kind));
    }
    for m in ALNUM.find_iter(text) {
        let s = m.as_str();
        let n = digits(s).len();
        if n >= 4 && n < s.len() && context_before(text, m.start()) == Some(Context::Id) {
            push(out, Finding::new(m.start(), m.end(), PiiType::NationalId));
        }
    }
    for m in PHONE.find_iter(text) {
        let s = m.as_str();
        let d = digits(s);
        if !(7..=15).contains(&d.len()) || is_date(s) {
            continue;
        }
        // A digit run glued to a decimal separator is an amount ("5.432,10").
        if text[m.end()..].starts_with([',', '.'])
            && text[m.end() + 1..].starts_with(|c: char| c.is_ascii_digit())
        {
            continue;
        }
        let ctx = if phone_after(text, m.end()) {
            Some(Context::Phone)
        } else {
            context_before(text, m.start())
        };
        let international = s.starts_with('+') && strong_phone(s, &d);
        if ctx == Some(Context::Phone) || international || (ctx.is_none() && strong_phone(s, &d)) {
            push(out, Finding::new(m.start(), m.end(), PiiType::Phone));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums() {
        assert!(luhn(&digits("4111 1111 1111 1111")));
        assert!(!luhn(&digits("4111 1111 1111 1112")));
        assert!(iban_valid("DE89370400440532013000"));
        assert!(!iban_valid("DE89370400440532013001"));
        // INSEE example: 1 84 12 76 451 089, key 46.
        assert!(nir_valid("184127645108946"));
        assert!(!nir_valid("184127645108947"));
        assert!(dni_valid("12345678Z"));
        assert!(!dni_valid("12345678A"));
        assert!(dni_valid("X1234567L"));
    }

    #[test]
    fn keyword_before_a_number_types_it() {
        let t = "Meine Kontonummer ist 12345678 und mein Pass X1234567.";
        assert_eq!(
            context_before(t, t.find("1234").unwrap()),
            Some(Context::Account)
        );
        assert_eq!(context_before(t, t.find("X12").unwrap()), Some(Context::Id));
    }

    #[test]
    fn personal_urls_only() {
        assert!(personal_url("https://www.linkedin.com/in/jane-doe"));
        assert!(personal_url("https://example.com/~jdoe/cv.pdf"));
        assert!(!personal_url("https://www.example.com/pricing"));
        assert!(!personal_url("www.example.com"));
    }
}
