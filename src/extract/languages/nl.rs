//! Dutch: everything language-specific (`LANGUAGE`): the cue grammar (`SOURCE`), the due-date
//! words (`DUE`), the question words and the backchannels.
//!
//! The cue grammar (core phrases only).

use super::Language;
use crate::extract::action_items::due::DueWords;
use crate::extract::action_items::grammar::{Cue, Cue::*, GrammarSource, VerbKind, VerbKind::*};

/// The Dutch grammar.
pub static SOURCE: GrammarSource = GrammarSource {
    lang: "nl",
    phrases: PHRASES,
    verbs: VERBS,
    skippable: SKIP,
};

/// Dutch: everything language-specific in one place.
pub static LANGUAGE: Language = Language {
    code: "nl",
    cues: &SOURCE,
    due: &DUE,
    question_words: QUESTION_WORDS,
    backchannels: BACKCHANNELS,
};

/// Words that open a question (lower case), for transcripts without punctuation.
pub const QUESTION_WORDS: &[&str] = &[
    "wie", "wat", "wanneer", "waar", "waarom", "hoe", "welke", "kun", "kunt", "kan", "heb",
    "heeft", "is", "zijn",
];

/// Backchannel words and two-word phrases (lower case, no punctuation); those common to
/// every language are in `crate::extract::text`.
pub const BACKCHANNELS: &[&str] = &["ja", "precies", "klopt", "prima", "goed"];

/// Due-date words.
pub(crate) const DUE: DueWords = DueWords {
    today: &["vandaag", "vanavond"],
    tomorrow: &["morgen"],
    after_tomorrow: &["overmorgen"],
    weekdays: [
        &["maandag"],
        &["dinsdag"],
        &["woensdag"],
        &["donderdag"],
        &["vrijdag"],
        &["zaterdag"],
        &["zondag"],
    ],
    months: [
        &["januari"],
        &["februari"],
        &["maart"],
        &["april"],
        &["mei"],
        &["juni"],
        &["juli"],
        &["augustus"],
        &["september"],
        &["oktober"],
        &["november"],
        &["december"],
    ],
    next: &["volgende", "komende"],
    this: &["deze"],
    week: &["week"],
    month: &["maand"],
    end: &["eind", "einde"],
    day_unit: &["dagen", "dag"],
    in_: &["over", "binnen"],
    preps: &["voor", "tegen", "op", "uiterlijk"],
    numbers: &[("een", 1), ("twee", 2), ("drie", 3)],
    next_after: false,
    next_is_following_week: false,
    time_preps: &["om"],
    noon: &["middag"],
};

const SKIP: &[&str] = &[
    "ook", "dan", "nog", "even", "wel", "morgen", "het", "je", "u",
];

const PHRASES: &[(&str, Cue)] = &[
    ("ik|me|mij|mijn", FirstSg),
    ("we|wij|ons|onze", FirstPl),
    ("je|jij|u|jullie|jouw|uw", SecondPerson),
    ("ik zal|ga ; zal ik ; ik stuur|bel|mail|regel|plan|maak|check|schrijf", CommitSelf),
    ("ik regel het ; ik zorg ervoor ; ik neem het op me ; komt in orde", Accept),
    ("we gaan|zullen ; wij gaan|zullen", CommitGroup),
    ("kun|kunt|kan|zou je|u ; kunnen jullie", Request),
    ("alsjeblieft|alstublieft|aub|graag", Please),
    ("je moet|moest ; u moet ; jij moet ; vergeet niet", Directive),
    ("we moeten ; wij moeten ; het moet ; ik moet ; we zouden moeten", Obligation),
    ("laten we ; we kunnen|zouden ; waarom niet ; ik stel voor", Suggest),
    ("ik wil ; ik zou graag ; we willen", Want),
    ("proberen|probeer", Try),
    ("volgende stap ; deadline ; actiepunt|actiepunten", Plan),
    ("morgen|overmorgen|binnenkort|straks ; volgende week ; volgende maand ; voor maandag|dinsdag|woensdag|donderdag|vrijdag ; eind van de week|maand", TimeAhead),
    ("gisteren|al ; vorige week ; vorige maand ; ik heb|had ; we hebben|hadden", Past),
    ("hij|zij zei ; ze zeiden ; volgens", Reported),
    ("niet|geen|nooit|niets", Negation),
    ("misschien|waarschijnlijk ; ik denk", Hedge),
    ("wat|wanneer|waar|wie|waarom|hoe|welke ; heb je ; hebben jullie", QuestionStart),
    ("ok|oké|ja|prima|goed|akkoord|top ; is goed", Ack),
    ("bedankt|dank ; dank je", Thanks),
    ("als|indien", Conditional),
    ("zal ik ; wil je dat ik ; ik kan", Offer),
];

const VERBS: &[(&str, VerbKind)] = &[
    ("bellen", Call),
    ("bel", Call),
    ("telefoneren", Call),
    ("terugbellen", Call),
    ("sturen", Email),
    ("stuur", Email),
    ("mailen", Email),
    ("mail", Email),
    ("e-mail", Email),
    ("schrijven", Email),
    ("schrijf", Email),
    ("versturen", Email),
    ("doorsturen", Email),
    ("bericht", Email),
    ("antwoorden", Email),
    ("vergadering", Meeting),
    ("afspraak", Meeting),
    ("plannen", Meeting),
    ("plan", Meeting),
    ("inplannen", Meeting),
    ("afspreken", Meeting),
    ("controleren", Generic),
    ("check", Generic),
    ("checken", Generic),
    ("bekijken", Generic),
    ("voorbereiden", Generic),
    ("maken", Generic),
    ("maak", Generic),
    ("regelen", Generic),
    ("regel", Generic),
    ("doen", Generic),
    ("oplossen", Generic),
    ("bijwerken", Generic),
    ("vragen", Generic),
    ("zeggen", Generic),
    ("delen", Generic),
    ("afmaken", Generic),
    ("kopen", Generic),
    ("bestellen", Generic),
    ("bevestigen", Generic),
    ("laten", Generic),
    ("lezen", Generic),
    ("testen", Generic),
];
