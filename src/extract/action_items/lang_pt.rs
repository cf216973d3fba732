//! Portuguese cue grammar (core phrases only).

use super::grammar::{Cue, Cue::*, GrammarSource, VerbKind, VerbKind::*};

/// The Portuguese grammar.
pub static SOURCE: GrammarSource = GrammarSource { lang: "pt", phrases: PHRASES, verbs: VERBS, skippable: SKIP };

const SKIP: &[&str] = &["também", "depois", "então", "já", "logo", "te", "lhe", "o", "a"];

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
    ("ligar", Call), ("ligo", Call), ("ligarei", Call), ("telefonar", Call), ("chamada", Call),
    ("enviar", Email), ("envio", Email), ("mandar", Email), ("mando", Email), ("email", Email), ("e-mail", Email),
    ("escrever", Email), ("responder", Email), ("mensagem", Email), ("encaminhar", Email),
    ("reunião", Meeting), ("reunir", Meeting), ("marcar", Meeting), ("agendar", Meeting), ("encontro", Meeting), ("organizar", Meeting),
    ("verificar", Generic), ("revisar", Generic), ("preparar", Generic), ("fazer", Generic), ("faço", Generic), ("corrigir", Generic),
    ("atualizar", Generic), ("contatar", Generic), ("falar", Generic), ("perguntar", Generic), ("terminar", Generic),
    ("criar", Generic), ("comprar", Generic), ("confirmar", Generic), ("mostrar", Generic), ("trazer", Generic), ("ler", Generic),
    ("testar", Generic), ("ajudar", Generic), ("avisar", Generic), ("resolver", Generic), ("cuidar", Generic),
];
