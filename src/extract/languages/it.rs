//! Italian: everything language-specific (`LANGUAGE`): the cue grammar (`SOURCE`), the due-date
//! words (`DUE`), the question words and the backchannels.
//!
//! The cue grammar (core phrases only). Elided clitics are separate words (`l' ho`).

use super::Language;
use crate::extract::action_items::due::DueWords;
use crate::extract::action_items::grammar::{Cue, Cue::*, GrammarSource, VerbKind, VerbKind::*};

/// The Italian grammar.
pub static SOURCE: GrammarSource = GrammarSource {
    lang: "it",
    phrases: PHRASES,
    verbs: VERBS,
    skippable: SKIP,
};

/// Italian: everything language-specific in one place.
pub static LANGUAGE: Language = Language {
    code: "it",
    cues: &SOURCE,
    due: &DUE,
    question_words: QUESTION_WORDS,
    backchannels: BACKCHANNELS,
};

/// Words that open a question (lower case), for transcripts without punctuation.
pub const QUESTION_WORDS: &[&str] = &[
    "chi", "che", "cosa", "quando", "dove", "perché", "come", "quale", "quanto", "puoi", "può",
];

/// Backchannel words and two-word phrases (lower case, no punctuation); those common to
/// every language are in `crate::extract::text`.
pub const BACKCHANNELS: &[&str] = &["sì", "si", "certo", "esatto", "va bene", "giusto", "ecco"];

/// Due-date words.
pub(crate) const DUE: DueWords = DueWords {
    today: &["oggi", "stasera"],
    tomorrow: &["domani"],
    after_tomorrow: &["dopodomani"],
    weekdays: [
        &["lunedì", "lunedi"],
        &["martedì", "martedi"],
        &["mercoledì", "mercoledi"],
        &["giovedì", "giovedi"],
        &["venerdì", "venerdi"],
        &["sabato"],
        &["domenica"],
    ],
    months: [
        &["gennaio"],
        &["febbraio"],
        &["marzo"],
        &["aprile"],
        &["maggio"],
        &["giugno"],
        &["luglio"],
        &["agosto"],
        &["settembre"],
        &["ottobre"],
        &["novembre"],
        &["dicembre"],
    ],
    next: &["prossimo", "prossima"],
    this: &["questo", "questa"],
    week: &["settimana"],
    month: &["mese"],
    end: &["fine"],
    day_unit: &["giorni", "giorno"],
    in_: &["tra", "fra", "entro"],
    preps: &["entro", "per", "prima"],
    numbers: &[("un", 1), ("una", 1), ("due", 2), ("tre", 3)],
    next_after: false,
    next_is_following_week: false,
    time_preps: &["alle"],
    noon: &["mezzogiorno"],
};

const SKIP: &[&str] = &[
    "anche", "poi", "allora", "già", "subito", "ti", "le", "gli", "lo", "la",
];

const PHRASES: &[(&str, Cue)] = &[
    ("io|mi|me|mio|mia", FirstSg),
    ("noi|ci|nostro|nostra", FirstPl),
    ("tu|lei|voi|ti|vi|tuo|tua|suo|vostro", SecondPerson),
    ("farò|manderò|invierò|chiamerò|scriverò|preparerò|controllerò|organizzerò ; ti|le|vi manderò|invierò|chiamerò|scriverò|mando|chiamo|scrivo", CommitSelf),
    ("me ne occupo ; ci penso io ; lo faccio io ; lascia fare a me", Accept),
    ("faremo|manderemo|chiameremo|vedremo|organizzeremo ; ci vediamo", CommitGroup),
    ("puoi|potresti|può|potrebbe|potete|potreste ; mi puoi|potresti|può|potrebbe", Request),
    ("per favore ; per piacere ; per cortesia", Please),
    ("devi|dovresti|deve|dovrebbe ; non dimenticare ; ricordati di", Directive),
    ("dobbiamo|dovremmo|bisogna|occorre ; è necessario ; devo|dovrei ; ho bisogno di", Obligation),
    ("potremmo ; perché non ; che ne dici ; propongo|suggerisco ; facciamo|andiamo", Suggest),
    ("voglio|vorrei|vogliamo|vorremmo", Want),
    ("provare|proverò|proviamo|cercare di", Try),
    ("prossimo passo ; prossimi passi ; scadenza ; compiti", Plan),
    ("domani|presto|dopo ; dopodomani ; settimana prossima ; prossima settimana ; mese prossimo ; entro lunedì|martedì|mercoledì|giovedì|venerdì|domani ; fine settimana|mese", TimeAhead),
    ("ieri|già ; settimana scorsa ; mese scorso ; ho|abbiamo|hai|ha fatto|mandato|inviato|chiamato|scritto", Past),
    ("ha detto ; hanno detto ; secondo", Reported),
    ("non|mai|niente|nessuno|nessuna", Negation),
    ("forse|probabilmente ; penso che ; credo che", Hedge),
    ("che|quando|dove|chi|come|quale ; perché ; hai|avete", QuestionStart),
    ("ok|sì|certo|perfetto ; va bene ; d' accordo", Ack),
    ("grazie", Thanks),
    ("se", Conditional),
    ("vuoi che ; posso", Offer),
];

const VERBS: &[(&str, VerbKind)] = &[
    ("chiamare", Call),
    ("chiamo", Call),
    ("chiamerò", Call),
    ("telefonare", Call),
    ("telefonata", Call),
    ("inviare", Email),
    ("invio", Email),
    ("mandare", Email),
    ("mando", Email),
    ("email", Email),
    ("mail", Email),
    ("scrivere", Email),
    ("scrivo", Email),
    ("rispondere", Email),
    ("messaggio", Email),
    ("inoltrare", Email),
    ("riunione", Meeting),
    ("incontro", Meeting),
    ("incontrare", Meeting),
    ("fissare", Meeting),
    ("organizzare", Meeting),
    ("prenotare", Meeting),
    ("controllare", Generic),
    ("verificare", Generic),
    ("preparare", Generic),
    ("fare", Generic),
    ("faccio", Generic),
    ("correggere", Generic),
    ("aggiornare", Generic),
    ("contattare", Generic),
    ("parlare", Generic),
    ("chiedere", Generic),
    ("finire", Generic),
    ("creare", Generic),
    ("comprare", Generic),
    ("confermare", Generic),
    ("mostrare", Generic),
    ("portare", Generic),
    ("leggere", Generic),
    ("provare", Generic),
    ("aiutare", Generic),
    ("avvisare", Generic),
    ("risolvere", Generic),
];
