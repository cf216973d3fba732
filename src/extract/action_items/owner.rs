//! Who owns an action item, and whether it is committed.
//!
//! Rules (a wrong owner is worse than none, so every rule needs positive evidence):
//! 1. A first-person singular commitment, acceptance or offer ("I'll", "je m'en occupe",
//!    "soll ich") belongs to the speaker.
//! 2. A request or directive to the listener ("can you", "pourriez-vous", "du solltest")
//!    belongs to the participant named in the sentence (a word equal to the first name of a
//!    speaker's display name, or to a speaker id), or, in a two-party conversation, to the
//!    other party. Otherwise nobody.
//! 3. Group plans ("we'll", "il faut", "lass uns") have no owner, unless rule 2 names someone.
//! 4. A request answered in the next unit by the addressee with an acceptance ("sure, I'll do
//!    it", "d'accord") becomes committed, owned by the addressee.

use super::features::{ConvFeatures, Unit};
use super::grammar::Cue;
use crate::insight::ActionState;
use crate::model::Conversation;

/// Lower-cased first names (first word of the display name) and ids of every speaker, with
/// the speaker id they stand for. Names shorter than 3 letters are ignored.
pub fn speaker_names(conv: &Conversation) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for s in &conv.segments {
        let mut push = |name: &str| {
            let n = name.trim().to_lowercase();
            if n.chars().count() >= 3
                && n.chars().all(|c| c.is_alphabetic() || c == '-')
                && !out.iter().any(|(a, _)| *a == n)
            {
                out.push((n, s.speaker.clone()));
            }
        };
        if let Some(name) = &s.speaker_name {
            if let Some(first) = name.split_whitespace().next() {
                push(first);
            }
        }
        push(&s.speaker);
    }
    out
}

/// Owner and state of the item in unit `i`. `words` are the unit's lower-cased words.
pub fn owner_and_state(
    f: &ConvFeatures,
    i: usize,
    words: &[&str],
    names: &[(String, String)],
) -> (Option<String>, ActionState) {
    let u = &f.units[i];
    let speaker = f.speakers.get(u.speaker as usize).cloned();
    let hedged = u.has(Cue::Hedge)
        || u.has(Cue::Conditional)
        || u.has(Cue::QuestionStart)
        || u.question_mark;
    let self_commit = u.has(Cue::CommitSelf) || u.has(Cue::Accept);
    if self_commit && !u.has(Cue::Request) && !u.has(Cue::Directive) {
        let state = if hedged && !u.has(Cue::Accept) {
            ActionState::Suggested
        } else {
            ActionState::Committed
        };
        return (speaker, state);
    }
    if u.has(Cue::Offer) && !u.has(Cue::Request) {
        return (speaker, ActionState::Suggested);
    }
    let addressed =
        u.has(Cue::Request) || u.has(Cue::Directive) || u.has(Cue::Please) || u.imperative;
    let mut owner = None;
    if addressed || u.has(Cue::SecondPerson) {
        owner = addressee(f, u, words, names);
    }
    if owner.is_some() && accepted_by(f, i, owner.as_deref()) {
        return (owner, ActionState::Committed);
    }
    let state = if u.has(Cue::CommitGroup) && !hedged {
        ActionState::Committed
    } else {
        ActionState::Suggested
    };
    if u.has(Cue::CommitGroup) && !addressed {
        return (None, state);
    }
    (owner, state)
}

fn addressee(
    f: &ConvFeatures,
    u: &Unit,
    words: &[&str],
    names: &[(String, String)],
) -> Option<String> {
    let me = f.speakers.get(u.speaker as usize)?;
    let mut named: Option<&str> = None;
    for w in words {
        for (n, id) in names {
            if n == w && id != me {
                match named {
                    Some(prev) if prev != id => return None, // two people named: ambiguous
                    _ => named = Some(id),
                }
            }
        }
    }
    if let Some(id) = named {
        return Some(id.to_string());
    }
    if f.speakers.len() == 2 {
        return f.speakers.iter().find(|s| *s != me).cloned();
    }
    None
}

/// Whether the unit after `i` is by `owner` and accepts ("ok", "sure I'll do it").
fn accepted_by(f: &ConvFeatures, i: usize, owner: Option<&str>) -> bool {
    let (Some(owner), Some(next)) = (owner, f.units.get(i + 1)) else {
        return false;
    };
    let by_owner = f.speakers.get(next.speaker as usize).map(String::as_str) == Some(owner);
    by_owner
        && (next.has(Cue::Accept)
            || next.has(Cue::CommitSelf)
            || (next.has(Cue::Ack) && next.tokens <= 4))
        && !next.has(Cue::Negation)
        && !next.has(Cue::QuestionStart)
}
