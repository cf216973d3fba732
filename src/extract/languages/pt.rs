//! Portuguese: everything language-specific (`LANGUAGE`): the cue grammar (`SOURCE`), the due-date
//! words (`DUE`), the question words and the backchannels.
//!
//! The cue grammar (core phrases only).

use super::Language;
use crate::extract::action_items::due::DueWords;
use crate::extract::action_items::grammar::{Cue, Cue::*, GrammarSource, VerbKind, VerbKind::*};

/// The Portuguese grammar.
pub static SOURCE: GrammarSource = GrammarSource {
    lang: "pt",
    phrases: PHRASES,
    verbs: VERBS,
    skippable: SKIP,
};

/// Portuguese: everything language-specific in one place.
pub static LANGUAGE: Language = Language {
    code: "pt",
    cues: &SOURCE,
    due: &DUE,
    question_words: QUESTION_WORDS,
    backchannels: BACKCHANNELS,
};

/// Words that open a question (lower case), for transcripts without punctuation.
pub const QUESTION_WORDS: &[&str] = &[
    "quem", "quando", "onde", "porque", "como", "qual", "quais", "quanto", "pode", "podes",
];

/// Backchannel words and two-word phrases (lower case, no punctuation); those common to
/// every language are in `crate::extract::text`.
pub const BACKCHANNELS: &[&str] = &["sim", "certo", "claro", "pois", "exato", "tá"];

/// Due-date words.
pub(crate) const DUE: DueWords = DueWords {
    today: &["hoje"],
    tomorrow: &["amanhã"],
    after_tomorrow: &[],
    weekdays: [
        &["segunda", "segunda-feira"],
        &["terça", "terça-feira"],
        &["quarta", "quarta-feira"],
        &["quinta", "quinta-feira"],
        &["sexta", "sexta-feira"],
        &["sábado"],
        &["domingo"],
    ],
    months: [
        &["janeiro"],
        &["fevereiro"],
        &["março"],
        &["abril"],
        &["maio"],
        &["junho"],
        &["julho"],
        &["agosto"],
        &["setembro"],
        &["outubro"],
        &["novembro"],
        &["dezembro"],
    ],
    next: &["próxima", "próximo", "que vem"],
    this: &["esta", "este"],
    week: &["semana"],
    month: &["mês"],
    end: &["fim", "final"],
    day_unit: &["dias", "dia"],
    in_: &["em", "dentro"],
    preps: &["até", "para", "antes"],
    numbers: &[("um", 1), ("uma", 1), ("dois", 2), ("duas", 2), ("três", 3)],
    next_after: false,
    next_is_following_week: false,
    time_preps: &["às", "as"],
    noon: &["meio-dia"],
};

const SKIP: &[&str] = &[
    "também", "depois", "então", "já", "logo", "te", "lhe", "o", "a",
];

const PHRASES: &[(&str, Cue)] = &[
    ("eu|me|mim|meu|minha", FirstSg),
    ("nós|nos|nosso|nossa|gente", FirstPl),
    ("você|vocês|tu|te|seu|sua|teu|tua", SecondPerson),
    ("vou ; eu vou ; farei ; enviarei ; mandarei ; ligarei ; vou te|lhe", CommitSelf),
    ("deixa comigo ; eu cuido ; eu me encarrego ; pode deixar", Accept),
    ("vamos ; a gente vai ; faremos", CommitGroup),
    ("pode|podes|poderia|podia ; você pode|poderia", Request),
    ("por favor", Please),
    ("você deve|deveria|precisa|tem que ; não esqueça|esqueças de", Directive),
    ("temos que ; precisamos ; devemos ; deveríamos ; é preciso ; tenho que ; preciso", Obligation),
    ("poderíamos ; que tal ; por que não ; sugiro ; proponho", Suggest),
    ("quero ; queria ; gostaria ; queremos ; gostaríamos", Want),
    ("tentar|tentarei|tentaremos", Try),
    ("próximo passo ; próximos passos ; prazo ; tarefas", Plan),
    ("amanhã|logo|depois ; depois de amanhã ; semana que vem ; mês que vem ; próxima semana ; até sexta|segunda|terça|quarta|quinta|amanhã ; na segunda|terça|quarta|quinta|sexta", TimeAhead),
    ("ontem|já ; semana passada ; mês passado ; fiz|fez|enviei|mandei|liguei|foi|era|estava ; eu fiz|enviei|mandei|liguei", Past),
    ("ele|ela disse|falou ; disseram ; segundo", Reported),
    ("não|nunca|nada|nenhum|nenhuma", Negation),
    ("talvez|provavelmente ; acho que", Hedge),
    ("que|quando|onde|quem|como|qual ; por que ; você já", QuestionStart),
    ("ok|sim|claro|certo|beleza|combinado|perfeito ; está bem ; tudo bem", Ack),
    ("obrigado|obrigada", Thanks),
    ("se|caso", Conditional),
    ("quer que eu ; posso", Offer),
];

const VERBS: &[(&str, VerbKind)] = &[
    ("ligar", Call),
    ("ligo", Call),
    ("ligarei", Call),
    ("telefonar", Call),
    ("chamada", Call),
    ("enviar", Email),
    ("envio", Email),
    ("mandar", Email),
    ("mando", Email),
    ("email", Email),
    ("e-mail", Email),
    ("escrever", Email),
    ("responder", Email),
    ("mensagem", Email),
    ("encaminhar", Email),
    ("reunião", Meeting),
    ("reunir", Meeting),
    ("marcar", Meeting),
    ("agendar", Meeting),
    ("encontro", Meeting),
    ("organizar", Meeting),
    ("verificar", Generic),
    ("revisar", Generic),
    ("preparar", Generic),
    ("fazer", Generic),
    ("faço", Generic),
    ("corrigir", Generic),
    ("atualizar", Generic),
    ("contatar", Generic),
    ("falar", Generic),
    ("perguntar", Generic),
    ("terminar", Generic),
    ("criar", Generic),
    ("comprar", Generic),
    ("confirmar", Generic),
    ("mostrar", Generic),
    ("trazer", Generic),
    ("ler", Generic),
    ("testar", Generic),
    ("ajudar", Generic),
    ("avisar", Generic),
    ("resolver", Generic),
    ("cuidar", Generic),
];
