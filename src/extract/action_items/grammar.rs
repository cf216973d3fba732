//! Per-language cue grammars: surface phrases ("I'll", "je vais", "ich werde", "voy a") mapped
//! to language-independent [`Cue`]s, and action verbs mapped to an [`ActionType`].
//!
//! A grammar is a list of phrases. A phrase is words separated by spaces; a slot may list
//! alternatives with `|` (`"can|could|would you"`); several phrases may share one entry,
//! separated by `;` (`"demain ; après demain"`). Words are written lower-case as the tokenizer
//! produces them (French `j'` elisions are separate words). While matching, up to two
//! per-language adverbs ("just", "aussi", "dann", "también") may sit between the words of a
//! phrase. Phrases are compiled once into a trie keyed by word hash.

use super::tokens::{fnv1a, Tokens};
use crate::extract::languages;
use crate::insight::ActionType;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::OnceLock;

/// A hasher for keys that are already hashes (word hashes, trie node ids): one multiply.
#[derive(Debug, Default, Clone, Copy)]
pub struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ b as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    fn write_u32(&mut self, x: u32) {
        self.write_u64(x as u64);
    }

    fn write_u64(&mut self, x: u64) {
        self.0 = (self.0.rotate_left(23) ^ x).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<KeyHasher>>;

/// Language-independent cue classes. The same cue in every language feeds the same model
/// feature, so extraction in French or German is native, not translated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Cue {
    /// First-person singular commitment: "I'll", "je vais", "ich werde", "voy a".
    CommitSelf = 0,
    /// First-person plural plan: "we'll", "on va", "wir werden", "vamos a".
    CommitGroup,
    /// Request to the listener: "can you", "pourriez-vous", "könnten Sie", "¿puedes".
    Request,
    /// Directive to the listener: "you should", "tu dois", "du solltest", "debes".
    Directive,
    /// Obligation: "we need to", "il faut", "wir müssen", "hay que".
    Obligation,
    /// Suggestion: "let's", "why don't we", "on pourrait", "lass uns", "podríamos".
    Suggest,
    /// Wish or intention: "I'd like to", "je voudrais", "ich möchte", "quiero".
    Want,
    /// Attempt: "try to", "essayer de", "versuchen".
    Try,
    /// Plan words: "the plan is", "next step", "action item", "prochaine étape".
    Plan,
    /// Stated time ahead: "tomorrow", "next week", "by Friday", "demain", "morgen".
    TimeAhead,
    /// Past: "did", "yesterday", "last week", "hier", "gestern", "ayer".
    Past,
    /// Reported speech: "he said", "il a dit", "er sagte", "dijo".
    Reported,
    /// Negation: "not", "pas", "nicht", "no".
    Negation,
    /// Hedge: "maybe", "peut-être", "vielleicht", "quizás".
    Hedge,
    /// Question opener: "did you", "est-ce que", "hast du", "¿has".
    QuestionStart,
    /// Acknowledgement: "ok", "sure", "d'accord", "einverstanden", "vale".
    Ack,
    /// Thanks: "thanks", "merci", "danke", "gracias".
    Thanks,
    /// Condition: "if", "si", "wenn", "falls".
    Conditional,
    /// First-person singular pronoun.
    FirstSg,
    /// First-person plural pronoun.
    FirstPl,
    /// Second-person pronoun.
    SecondPerson,
    /// Politeness marker: "please", "s'il vous plaît", "bitte", "por favor".
    Please,
    /// Offer: "shall I", "do you want me to", "voulez-vous que je", "soll ich".
    Offer,
    /// Acceptance of a task: "I'll do it", "je m'en occupe", "mach ich", "me encargo".
    Accept,
}

/// Number of [`Cue`] variants.
pub const CUE_COUNT: usize = 24;

impl Cue {
    /// Every cue, in discriminant order.
    pub const ALL: [Cue; CUE_COUNT] = [
        Cue::CommitSelf,
        Cue::CommitGroup,
        Cue::Request,
        Cue::Directive,
        Cue::Obligation,
        Cue::Suggest,
        Cue::Want,
        Cue::Try,
        Cue::Plan,
        Cue::TimeAhead,
        Cue::Past,
        Cue::Reported,
        Cue::Negation,
        Cue::Hedge,
        Cue::QuestionStart,
        Cue::Ack,
        Cue::Thanks,
        Cue::Conditional,
        Cue::FirstSg,
        Cue::FirstPl,
        Cue::SecondPerson,
        Cue::Please,
        Cue::Offer,
        Cue::Accept,
    ];

    /// Stable short name used in feature names and docs.
    pub fn name(self) -> &'static str {
        match self {
            Cue::CommitSelf => "commit_self",
            Cue::CommitGroup => "commit_group",
            Cue::Request => "request",
            Cue::Directive => "directive",
            Cue::Obligation => "obligation",
            Cue::Suggest => "suggest",
            Cue::Want => "want",
            Cue::Try => "try",
            Cue::Plan => "plan",
            Cue::TimeAhead => "time_ahead",
            Cue::Past => "past",
            Cue::Reported => "reported",
            Cue::Negation => "negation",
            Cue::Hedge => "hedge",
            Cue::QuestionStart => "question_start",
            Cue::Ack => "ack",
            Cue::Thanks => "thanks",
            Cue::Conditional => "conditional",
            Cue::FirstSg => "first_sg",
            Cue::FirstPl => "first_pl",
            Cue::SecondPerson => "second_person",
            Cue::Please => "please",
            Cue::Offer => "offer",
            Cue::Accept => "accept",
        }
    }

    /// Bit of this cue in a [`CueSet`].
    pub fn bit(self) -> u32 {
        1 << (self as u8)
    }
}

/// A set of cues as a bit mask.
pub type CueSet = u32;

/// What kind of action a verb names; `Generic` verbs make a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerbKind {
    /// Calling: "call", "appeler", "anrufen", "llamar".
    Call,
    /// Writing or sending: "email", "send", "envoyer", "schicken", "enviar".
    Email,
    /// Meeting: "meet", "schedule", "réunion", "Termin", "reunión".
    Meeting,
    /// Any other work verb: "check", "fix", "prepare", "vérifier", "prüfen", "revisar".
    Generic,
}

impl VerbKind {
    /// The action type this verb gives an item.
    pub fn action_type(self) -> ActionType {
        match self {
            VerbKind::Call => ActionType::Call,
            VerbKind::Email => ActionType::Email,
            VerbKind::Meeting => ActionType::Meeting,
            VerbKind::Generic => ActionType::Task,
        }
    }
}

/// The source of one language's grammar.
pub struct GrammarSource {
    /// ISO 639-1 code.
    pub lang: &'static str,
    /// Phrases and the cue each signals.
    pub phrases: &'static [(&'static str, Cue)],
    /// Action verbs (all forms that matter: infinitive, imperative, 1st person) and nouns that
    /// name an action ("email", "meeting").
    pub verbs: &'static [(&'static str, VerbKind)],
    /// Adverbs allowed inside a phrase ("just", "aussi").
    pub skippable: &'static [&'static str],
}

/// A cue found in a token sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CueMatch {
    /// The cue.
    pub cue: Cue,
    /// First token index.
    pub first: usize,
    /// Last token index (inclusive).
    pub last: usize,
}

/// A compiled grammar.
#[derive(Debug)]
pub struct Grammar {
    /// ISO 639-1 code.
    pub lang: &'static str,
    edges: FastMap<(u32, u64), u32>,
    ends: Vec<Vec<Cue>>,
    verbs: FastMap<u64, VerbKind>,
    skippable: Vec<u64>,
}

impl Grammar {
    /// Compiles a grammar source.
    pub fn compile(src: &GrammarSource) -> Grammar {
        let mut g = Grammar {
            lang: src.lang,
            edges: FastMap::default(),
            ends: vec![Vec::new()],
            verbs: FastMap::default(),
            skippable: src.skippable.iter().map(|w| fnv1a(w.as_bytes())).collect(),
        };
        for &(phrases, cue) in src.phrases {
            for phrase in phrases.split(';') {
                g.add(phrase, cue);
            }
        }
        for &(w, kind) in src.verbs {
            g.verbs.entry(fnv1a(w.as_bytes())).or_insert(kind);
        }
        g
    }

    fn add(&mut self, phrase: &str, cue: Cue) {
        let g = self;
        {
            let slots: Vec<Vec<&str>> = phrase
                .split_whitespace()
                .map(|s| s.split('|').collect())
                .collect();
            let mut frontier = vec![0u32];
            for slot in &slots {
                let mut next = Vec::new();
                for &node in &frontier {
                    for w in slot {
                        let key = (node, fnv1a(w.as_bytes()));
                        let child = match g.edges.get(&key) {
                            Some(&c) => c,
                            None => {
                                g.ends.push(Vec::new());
                                let c = (g.ends.len() - 1) as u32;
                                g.edges.insert(key, c);
                                c
                            }
                        };
                        if !next.contains(&child) {
                            next.push(child);
                        }
                    }
                }
                frontier = next;
            }
            for node in frontier {
                let e = &mut g.ends[node as usize];
                if !e.contains(&cue) {
                    e.push(cue);
                }
            }
        }
    }

    /// The verb kind of a token hash, if it is an action verb.
    pub fn verb(&self, hash: u64) -> Option<VerbKind> {
        self.verbs.get(&hash).copied()
    }

    /// Appends every cue match of `toks[from..to]` to `out`, in order of first token. Matches
    /// never cross a sentence boundary.
    pub fn find(&self, toks: &Tokens, from: usize, to: usize, out: &mut Vec<CueMatch>) {
        for start in from..to {
            let mut node = 0u32;
            let mut i = start;
            let sentence = toks.list[start].sentence;
            let mut skipped = 0;
            while i < to && toks.list[i].sentence == sentence {
                let h = toks.list[i].hash;
                match self.edges.get(&(node, h)) {
                    Some(&child) => {
                        node = child;
                        for &cue in &self.ends[node as usize] {
                            out.push(CueMatch {
                                cue,
                                first: start,
                                last: i,
                            });
                        }
                        i += 1;
                    }
                    None if node != 0 && skipped < 2 && self.skippable.contains(&h) => {
                        skipped += 1;
                        i += 1;
                    }
                    None => break,
                }
            }
        }
    }
}

/// Cues that word forms give and phrase lists cannot express: compound past tenses
/// (auxiliary followed by a participle: "I've sent", "j'ai envoyé", "ich habe ... geschickt",
/// "he enviado"), intonation questions ("Tu as la carte ?"), group proposals as questions
/// ("On y va ?") and first-person-plural imperatives ("Faisons ça", "Hagamos"). Returns the
/// the cues found anywhere, the cues that the first word gives, and whether the unit is an
/// imperative ("Signez ici", "Schicken Sie mir ...").
pub fn morphology(
    g: &Grammar,
    toks: &Tokens,
    first: usize,
    last: usize,
    question: bool,
) -> (CueSet, CueSet, bool) {
    let lang = g.lang;
    let mut cues: CueSet = 0;
    let mut start: CueSet = 0;
    let mut imperative = false;
    let w = |i: usize| toks.word(i);
    let n = last + 1;
    let first_word = w(first);
    let second = if first < last { w(first + 1) } else { "" };
    for i in first..n {
        let x = w(i);
        let aux = match lang {
            "en" => matches!(
                x,
                "have"
                    | "has"
                    | "had"
                    | "i've"
                    | "we've"
                    | "you've"
                    | "they've"
                    | "haven't"
                    | "hasn't"
            ),
            "fr" => {
                matches!(
                    x,
                    "ai" | "as" | "avons" | "avez" | "ont" | "suis" | "sommes" | "êtes" | "sont"
                ) || (x == "a"
                    && i > first
                    && matches!(w(i - 1), "il" | "elle" | "on" | "qui" | "y"))
                    || (x == "est" && !(i > first && matches!(w(i - 1), "c'" | "ce")))
            }
            "de" => matches!(
                x,
                "habe"
                    | "hab"
                    | "hast"
                    | "hat"
                    | "haben"
                    | "habt"
                    | "bin"
                    | "bist"
                    | "ist"
                    | "sind"
                    | "seid"
            ),
            "es" => matches!(x, "he" | "has" | "ha" | "hemos" | "habéis" | "han"),
            "it" => matches!(x, "ho" | "hai" | "ha" | "abbiamo" | "avete" | "hanno"),
            "pt" => matches!(x, "tenho" | "temos" | "tem"),
            "nl" => matches!(x, "heb" | "hebt" | "heeft" | "hebben"),
            _ => false,
        };
        if !aux {
            continue;
        }
        let window = if lang == "de" || lang == "nl" {
            n
        } else {
            (i + 4).min(n)
        };
        for j in i + 1..window {
            if participle(lang, w(j)) {
                cues |= Cue::Past.bit();
                break;
            }
        }
    }
    // Simple future after a subject pronoun: "je l'enverrai", "on trouvera", "tu me les
    // montreras", "enviaré", "haremos".
    for i in first..n {
        let x = w(i);
        let subject = match lang {
            "fr" => match x {
                "je" | "j'" => Some(Cue::CommitSelf),
                "on" | "nous" => Some(Cue::CommitGroup),
                "tu" | "vous" => Some(Cue::Directive),
                _ => None,
            },
            _ => None,
        };
        if let Some(cue) = subject {
            let mut j = i + 1;
            while j < n
                && matches!(
                    w(j),
                    "me" | "te"
                        | "le"
                        | "la"
                        | "les"
                        | "lui"
                        | "leur"
                        | "en"
                        | "y"
                        | "vous"
                        | "nous"
                        | "l'"
                        | "m'"
                        | "t'"
                        | "s'"
                        | "ne"
                        | "n'"
                )
            {
                j += 1;
            }
            if j < n {
                let v = w(j);
                let fut = match cue {
                    Cue::CommitSelf => v.ends_with("rai"),
                    Cue::CommitGroup => v.ends_with("rons") || (x == "on" && v.ends_with("ra")),
                    _ => v.ends_with("ras") || v.ends_with("rez"),
                };
                let conditional =
                    matches!(cue, Cue::Directive) && (v.ends_with("rais") || v.ends_with("riez"));
                // "je vous envoie", "je t'apporte": the present of an action verb is a promise.
                let present_promise = matches!(cue, Cue::CommitSelf)
                    && j > i + 1
                    && g.verb(toks.list[j].hash).is_some()
                    && !infinitive(lang, v);
                if ((fut && v.chars().count() >= 5) || present_promise) && !question {
                    cues |= cue.bit();
                } else if conditional && v.chars().count() >= 6 {
                    cues |= if question {
                        Cue::Request.bit()
                    } else {
                        Cue::Suggest.bit()
                    };
                }
            }
        }
        if lang == "es" && !question && x.chars().count() >= 5 {
            if x.ends_with("aré") || x.ends_with("eré") || x.ends_with("iré") {
                cues |= Cue::CommitSelf.bit();
            } else if x.ends_with("aremos") || x.ends_with("eremos") || x.ends_with("iremos") {
                cues |= Cue::CommitGroup.bit();
            }
        }
    }
    let starts_pronoun = |set: &[&str]| set.contains(&first_word);
    if question {
        let group = match lang {
            "fr" => starts_pronoun(&["on", "nous"]),
            "es" => starts_pronoun(&["vamos", "nosotros"]),
            _ => false,
        };
        if group {
            start |= Cue::Suggest.bit();
        } else {
            start |= Cue::QuestionStart.bit();
        }
    }
    let count = n - first;
    match lang {
        "fr" if count >= 2 => {
            if first_word.ends_with("ons")
                && !first_word.ends_with("ions")
                && first_word.chars().count() >= 5
            {
                start |= Cue::Suggest.bit();
            }
            if first_word.ends_with("ez")
                && first_word.chars().count() >= 4
                && !matches!(second, "vous" | "-vous")
                && !question
            {
                imperative = true;
            }
        }
        "de" if count >= 2 && !question => {
            let verb_first = first_word.ends_with("en") && first_word.chars().count() >= 5;
            if verb_first && second == "sie" {
                imperative = true;
            } else if verb_first && second == "wir" {
                start |= Cue::Suggest.bit();
            }
        }
        "es" if count >= 2
            && ((first_word.ends_with("emos") && first_word.chars().count() >= 6)
                || matches!(
                    first_word,
                    "hagamos" | "vayamos" | "pongamos" | "digamos" | "veamos"
                )) =>
        {
            start |= Cue::Suggest.bit();
        }
        _ => {}
    }
    (cues | start, start, imperative)
}

/// Whether a word looks like an infinitive in `lang` (used after a modal or a commitment:
/// "je vais *vérifier*", "voy a *revisar*", "wir müssen das *klären*").
pub fn infinitive(lang: &str, x: &str) -> bool {
    let len = x.chars().count();
    len >= 4
        && match lang {
            "fr" => {
                x.ends_with("er")
                    || x.ends_with("ir")
                    || x.ends_with("re")
                    || x.ends_with("oir")
                    || ((x.ends_with("rai") || x.ends_with("rons")) && x != "vrai")
            }
            "es" | "pt" => x.ends_with("ar") || x.ends_with("er") || x.ends_with("ir"),
            "it" => x.ends_with("are") || x.ends_with("ere") || x.ends_with("ire"),
            "de" | "nl" => x.ends_with("en"),
            _ => false,
        }
}

/// Whether a word looks like a past participle in `lang`.
fn participle(lang: &str, x: &str) -> bool {
    let len = x.chars().count();
    match lang {
        "en" => {
            (x.ends_with("ed") && len >= 4)
                || matches!(
                    x,
                    "sent"
                        | "done"
                        | "been"
                        | "got"
                        | "gotten"
                        | "gone"
                        | "written"
                        | "made"
                        | "told"
                        | "seen"
                        | "given"
                        | "taken"
                        | "had"
                        | "spoken"
                        | "brought"
                        | "bought"
                        | "thought"
                        | "found"
                        | "met"
                        | "put"
                        | "read"
                        | "said"
                        | "heard"
                        | "left"
                        | "begun"
                        | "run"
                        | "already"
                )
        }
        "fr" => {
            len >= 3
                && (x.ends_with('é')
                    || x.ends_with("ée")
                    || x.ends_with("és")
                    || x.ends_with("ées")
                    || x.ends_with("it")
                    || x.ends_with("is")
                    || x.ends_with("u")
                    || x.ends_with("ue")
                    || x.ends_with("us")
                    || x.ends_with("ert")
                    || x.ends_with("erte")
                    || x.ends_with('i'))
                && !matches!(
                    x,
                    "lui"
                        | "qui"
                        | "oui"
                        | "aussi"
                        | "ici"
                        | "ceci"
                        | "parmi"
                        | "mais"
                        | "plus"
                        | "tu"
                        | "vu"
                        | "sur"
                        | "nous"
                        | "vous"
                        | "tous"
                        | "sous"
                        | "jus"
                        | "puis"
                        | "depuis"
                        | "permis"
                        | "amis"
                        | "pris"
                        | "merci"
                        | "midi"
                        | "samedi"
                        | "lundi"
                        | "mardi"
                        | "mercredi"
                        | "jeudi"
                        | "vendredi"
                        | "fruit"
                        | "nuit"
                        | "petit"
                        | "huit"
                        | "bruit"
                        | "produit"
                        | "esprit"
                        | "tout"
                        | "bout"
                        | "beaucoup"
                        | "trop"
                        | "peu"
                        | "besoin"
                        | "envie"
                        | "faim"
                        | "soif"
                        | "peur"
                        | "raison"
                        | "tort"
                )
        }
        "de" => {
            (x.starts_with("ge") && len >= 6 && (x.ends_with('t') || x.ends_with("en")))
                || matches!(
                    x,
                    "erledigt"
                        | "besprochen"
                        | "vergessen"
                        | "bekommen"
                        | "verschickt"
                        | "erhalten"
                        | "versucht"
                        | "bestellt"
                        | "besucht"
                        | "erzählt"
                        | "erklärt"
                        | "überprüft"
                        | "verstanden"
                        | "angerufen"
                        | "eingeladen"
                        | "abgeschickt"
                        | "angefangen"
                        | "vorbereitet"
                        | "informiert"
                        | "telefoniert"
                )
        }
        "es" | "it" | "pt" => {
            len >= 4
                && (x.ends_with("ado")
                    || x.ends_with("ido")
                    || x.ends_with("ato")
                    || x.ends_with("ito")
                    || x.ends_with("uto")
                    || x.ends_with("cho")
                    || x.ends_with("sto")
                    || x.ends_with("tto")
                    || x.ends_with("crito")
                    || x.ends_with("uesto")
                    || x.ends_with("ierto"))
        }
        "nl" => (x.starts_with("ge") && len >= 5) || (x.ends_with('d') && len >= 6),
        _ => false,
    }
}

/// The compiled grammar for `lang`; English for unsupported languages.
pub fn grammar(lang: &str) -> &'static Grammar {
    static CELLS: [OnceLock<Grammar>; languages::COUNT] =
        [const { OnceLock::new() }; languages::COUNT];
    let i = languages::position(lang).unwrap_or(0);
    let src = languages::LANGUAGES[i].cues;
    CELLS[i].get_or_init(|| Grammar::compile(src))
}

/// Whether `lang` has its own grammar (others fall back to English).
pub fn supported(lang: &str) -> bool {
    languages::position(lang).is_some()
}

#[cfg(test)]
mod tests {
    use super::super::tokens::tokenize;
    use super::*;

    fn cues(text: &str, lang: &str) -> Vec<Cue> {
        let mut t = Tokens::default();
        tokenize(text, lang, &mut t);
        let mut m = Vec::new();
        grammar(lang).find(&t, 0, t.len(), &mut m);
        let mut c: Vec<Cue> = m.into_iter().map(|m| m.cue).collect();
        c.sort();
        c.dedup();
        c
    }

    #[test]
    fn phrases_match_with_alternatives_and_adverbs() {
        assert!(cues("i'll just send it", "en").contains(&Cue::CommitSelf));
        assert!(cues("could you send me the deck", "en").contains(&Cue::Request));
        assert!(cues("we really need to fix it", "en").contains(&Cue::Obligation));
        assert!(cues("je vais vous envoyer le devis", "fr").contains(&Cue::CommitSelf));
        assert!(cues("Il faut qu'on en parle", "fr").contains(&Cue::Obligation));
        assert!(cues("ich werde das prüfen", "de").contains(&Cue::CommitSelf));
        assert!(cues("wir müssen das klären", "de").contains(&Cue::Obligation));
        assert!(cues("voy a llamar al cliente", "es").contains(&Cue::CommitSelf));
        assert!(cues("hay que revisar el contrato", "es").contains(&Cue::Obligation));
    }

    #[test]
    fn every_language_compiles_and_has_verbs() {
        for lang in ["en", "fr", "de", "es", "pt", "it", "nl"] {
            let g = grammar(lang);
            assert_eq!(g.lang, lang);
            assert!(g.verbs.len() > 10, "{lang} has too few verbs");
            assert!(g.edges.len() > 30, "{lang} has too few phrases");
        }
        assert!(supported("nl"));
        assert!(!supported("ja"));
        assert_eq!(grammar("ja").lang, "en");
    }
}
