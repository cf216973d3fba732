//! One task, one item: a request and the answer that accepts it, and repeated mentions of
//! the same commitment, become one action item.
//!
//! - A *request* is an item whose unit asks the listener ("can you", "pourriez-vous",
//!   "könnten Sie", a directive or "please"). When the next unit is by another speaker and
//!   accepts ("sure", "oui je vous l'envoie", "ich schicke es"), the request becomes that
//!   speaker's commitment: owner = who accepted, status `committed`, the answer's span is
//!   added to the evidence, and when the answer was itself an item (a counter-proposal
//!   such as "yes, tomorrow morning") it is folded in and its due date, the one finally
//!   agreed, wins. A request nobody answered stays `requested`.
//! - A request *declined* in the next unit ("no", "non, je ne peux pas", "leider nicht")
//!   gives no item: nobody will do it.
//! - A commitment repeated later by the same owner, of the same type and about the same
//!   thing (at least two shared words of four letters or more), is folded into the first
//!   mention; a due date stated later wins.
//!
//! The first evidence span stays the item's text (the earliest mention), evidence stays in
//! conversation order.

use super::features::ConvFeatures;
use super::grammar::Cue;
use crate::insight::{ActionItem, ActionState, ActionStatus, Evidence};
use crate::model::Conversation;

/// An extracted item with the units it came from.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// First unit of the item.
    pub first_unit: usize,
    /// Last unit of the item (continuations included).
    pub last_unit: usize,
    /// The item.
    pub item: ActionItem,
}

fn is_request(f: &ConvFeatures, i: usize) -> bool {
    let u = &f.units[i];
    (u.has(Cue::Request) || u.has(Cue::Directive) || u.has(Cue::Please)) && !u.has(Cue::CommitSelf)
}

/// How the unit after a request answers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Accepted(usize),
    Declined,
    None,
}

/// First words that refuse, in the supported languages.
const NO: &[&str] = &["no", "nope", "non", "nein", "não", "nao", "nee", "niet"];

fn starts_with_no(conv: &Conversation, f: &ConvFeatures, j: usize) -> bool {
    let u = &f.units[j];
    let text = &conv.segments[u.segment].text;
    let first: String = text
        .chars()
        .skip(u.start_char as usize)
        .skip_while(|c| !c.is_alphabetic())
        .take_while(|c| c.is_alphabetic())
        .flat_map(char::to_lowercase)
        .collect();
    NO.contains(&first.as_str())
}

fn answer(conv: &Conversation, f: &ConvFeatures, last: usize) -> Answer {
    let (Some(u), Some(next)) = (f.units.get(last), f.units.get(last + 1)) else {
        return Answer::None;
    };
    if next.speaker == u.speaker || next.has(Cue::QuestionStart) {
        return Answer::None;
    }
    let accepts = next.has(Cue::Accept)
        || next.has(Cue::CommitSelf)
        || (next.has(Cue::Ack) && next.tokens <= 6);
    let refuses = next.has(Cue::Negation) || starts_with_no(conv, f, last + 1);
    if refuses && !next.has(Cue::Accept) && next.tokens <= 12 {
        return Answer::Declined;
    }
    if accepts && !refuses {
        Answer::Accepted(last + 1)
    } else {
        Answer::None
    }
}

fn content_words(text: &str) -> Vec<String> {
    let mut w: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 4)
        .map(str::to_lowercase)
        .collect();
    w.sort();
    w.dedup();
    w
}

fn same_task(a: &ActionItem, b: &ActionItem) -> bool {
    if a.owner.is_none() || a.owner != b.owner || a.action_type != b.action_type {
        return false;
    }
    let (wa, wb) = (content_words(&a.text), content_words(&b.text));
    wa.iter().filter(|w| wb.contains(w)).count() >= 2
}

fn absorb(into: &mut ActionItem, other: ActionItem) {
    into.evidence.extend(other.evidence);
    if other.due.is_some() {
        into.due = other.due;
    }
    into.confidence = into.confidence.max(other.confidence);
}

fn order_evidence(conv: &Conversation, ev: &mut Vec<Evidence>) {
    let pos = |id: &str| conv.segments.iter().position(|s| s.id == id);
    ev.sort_by_key(|e| (pos(&e.segment_id), e.start_char));
    ev.dedup();
}

/// Merges requests with their answers and repeated commitments; sets every item's status.
pub fn merge(f: &ConvFeatures, conv: &Conversation, cands: Vec<Candidate>) -> Vec<ActionItem> {
    let mut cands: Vec<Option<Candidate>> = cands.into_iter().map(Some).collect();
    let mut out: Vec<ActionItem> = Vec::new();
    for k in 0..cands.len() {
        let Some(mut c) = cands[k].take() else {
            continue;
        };
        c.item.status = match c.item.state {
            ActionState::Committed => ActionStatus::Committed,
            ActionState::Suggested => ActionStatus::Suggested,
        };
        if f.document || !is_request(f, c.first_unit) {
            out.push(c.item);
            continue;
        }
        match answer(conv, f, c.last_unit) {
            Answer::Declined => continue,
            Answer::None => {
                if c.item.state == ActionState::Suggested {
                    c.item.status = ActionStatus::Requested;
                }
            }
            Answer::Accepted(j) => {
                let u = &f.units[j];
                let who = f.speakers.get(u.speaker as usize).cloned();
                // The answer as an item of its own (a counter-proposal) is folded in.
                let own = cands
                    .iter()
                    .position(|x| x.as_ref().is_some_and(|x| x.first_unit == j));
                match own.and_then(|p| cands[p].take()) {
                    Some(answer) => absorb(&mut c.item, answer.item),
                    None => c.item.evidence.push(Evidence {
                        segment_id: conv.segments[u.segment].id.clone(),
                        start_char: i64::from(u.start_char),
                        end_char: i64::from(u.end_char),
                    }),
                }
                c.item.owner = who;
                c.item.state = ActionState::Committed;
                c.item.status = ActionStatus::Committed;
            }
        }
        out.push(c.item);
    }
    // Repeated mentions of one commitment.
    let mut merged: Vec<ActionItem> = Vec::new();
    for it in out {
        match merged.iter_mut().find(|m| {
            m.status == ActionStatus::Committed
                && it.state == ActionState::Committed
                && same_task(m, &it)
        }) {
            Some(m) => absorb(m, it),
            None => merged.push(it),
        }
    }
    for m in &mut merged {
        order_evidence(conv, &mut m.evidence);
    }
    merged
}
