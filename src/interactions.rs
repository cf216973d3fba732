//! Representative interactions, the pure part: what a front end says a representative did with
//! a suggestion ([`InteractionEvent`]) is validated ([`validate`]), joined with the suggestion
//! as the conversation index recorded it ([`SuggestionStore`]) and turned into one enriched,
//! pseudonymous telemetry record ([`enrich`]), or refused with a reason. The service side
//! (reading the topics, producing, committing) is `pipeline::interactions_reader`.
//!
//! **Where the suggestions come from.** Each conversation's index entry
//! (`debrief.conversation-index.v1`, compacted, key: conversation id) carries its suggestions
//! ([`suggestions_of`]: id, kind, type, language, confidence; no text) next to the telemetry
//! key. The index is written after the insight with the same holds, survives restarts and
//! rebalances (it is a compacted topic every instance can read whole), and is tombstoned by
//! the erasure cascade: an erased conversation is unknown from then on, and its key is gone.
//!
//! **Memory.** [`SuggestionStore`] keeps per conversation a 64-byte record (tenant and
//! profile shared, the telemetry key, the suggestions) in a hash map slot with its id (about
//! 170 bytes with the id's and the key's allocations), and 24 bytes per suggestion (an 8-byte
//! id, the confidence, type and language as indexes into a shared word list): about
//! 0.4 GB per million conversations of ten suggestions each (the tests pin the sizes). Every
//! instance holds the whole index; beyond a few million conversations, shard it (co-partition
//! the interactions and index topics) or keep it on disk.

use crate::events::{InteractionEvent, InteractionTelemetry, RepresentativeAction};
use crate::extract::ids::{ItemKind, ITEM_ID_CHARS};
use crate::governance::pseudonym::pseudonym;
use crate::governance::ConversationIndexEntry;
use crate::insight::{ActionType, Insight, TrackerKind};
use crate::model::Side;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;

/// Longest `reason_code`, in characters.
pub const MAX_REASON_CODE_CHARS: usize = 64;

/// `outcome` of an enriched telemetry record.
pub const INTERACTION_OUTCOME: &str = "interaction";

/// One suggestion as the conversation index keeps it (`Suggestion` in
/// `schemas/conversation_index.avsc`): enough to enrich an interaction, no text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Suggestion {
    /// The suggestion's id in the insight.
    pub id: String,
    /// `action_item`, `tracker_hit` or `question` ([`ItemKind::name`]).
    pub kind: String,
    /// Action type, tracker kind or the question's asking side.
    pub item_type: String,
    /// ISO 639-1 language (the action item's; the conversation's for the others).
    pub language: Option<String>,
    /// The action item's confidence in 0..=1; `None` for the other kinds.
    pub confidence: Option<f64>,
}

/// The suggestions of an insight, in insight order (action items, tracker hits, questions).
pub fn suggestions_of(insight: &Insight) -> Vec<Suggestion> {
    let conv_lang = insight.language.code.clone();
    let mut out = Vec::with_capacity(
        insight.action_items.len() + insight.tracker_hits.len() + insight.questions.len(),
    );
    for a in &insight.action_items {
        out.push(Suggestion {
            id: a.id.clone(),
            kind: ItemKind::ActionItem.name().to_string(),
            item_type: action_type_name(a.action_type).to_string(),
            language: Some(a.language.clone()),
            confidence: Some(a.confidence),
        });
    }
    for h in &insight.tracker_hits {
        out.push(Suggestion {
            id: h.id.clone(),
            kind: ItemKind::TrackerHit.name().to_string(),
            item_type: match h.kind {
                TrackerKind::Keyword => "keyword",
                TrackerKind::Competitor => "competitor",
            }
            .to_string(),
            language: conv_lang.clone(),
            confidence: None,
        });
    }
    for q in &insight.questions {
        out.push(Suggestion {
            id: q.id.clone(),
            kind: ItemKind::Question.name().to_string(),
            item_type: side_name(q.side).to_string(),
            language: conv_lang.clone(),
            confidence: None,
        });
    }
    out
}

fn action_type_name(t: ActionType) -> &'static str {
    match t {
        ActionType::Call => "call",
        ActionType::Email => "email",
        ActionType::Meeting => "meeting",
        ActionType::Task => "task",
    }
}

fn side_name(s: Side) -> &'static str {
    match s {
        Side::Internal => "internal",
        Side::External => "external",
        Side::Unknown => "unknown",
    }
}

/// Why an interaction event is refused: the dead letter's reason (and the `reason` label of
/// `debrief_interactions_dead_lettered_total`). Fixed texts: never a value of the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// The record does not decode as an `InteractionEvent`.
    Undecodable,
    /// No key, or a key other than `conversation_id`.
    KeyMismatch,
    /// `tenant_id` is empty.
    EmptyTenant,
    /// `item_id` is empty.
    EmptyItem,
    /// `actor` is empty.
    EmptyActor,
    /// An action this reader does not know.
    UnknownAction,
    /// `edit_size` with an action other than `edited_and_sent`.
    EditSizeWithoutEdit,
    /// `edited_and_sent` without `edit_size`.
    EditWithoutEditSize,
    /// `edit_size` below 0.
    NegativeEditSize,
    /// `reason_code` too long or with characters outside `a-z0-9_.-`.
    BadReasonCode,
    /// No conversation of this id (and tenant) in the index: never produced, erased, or
    /// another tenant's.
    UnknownConversation,
    /// The conversation has no suggestion of this id.
    UnknownItem,
}

impl Refusal {
    /// Every refusal, for exporting the metric's labels at 0.
    pub const ALL: [Refusal; 12] = [
        Refusal::Undecodable,
        Refusal::KeyMismatch,
        Refusal::EmptyTenant,
        Refusal::EmptyItem,
        Refusal::EmptyActor,
        Refusal::UnknownAction,
        Refusal::EditSizeWithoutEdit,
        Refusal::EditWithoutEditSize,
        Refusal::NegativeEditSize,
        Refusal::BadReasonCode,
        Refusal::UnknownConversation,
        Refusal::UnknownItem,
    ];

    /// The reason text (dead letter and documentation).
    pub fn reason(self) -> &'static str {
        match self {
            Refusal::Undecodable => "undecodable",
            Refusal::KeyMismatch => "key missing or differs from conversation_id",
            Refusal::EmptyTenant => "empty tenant_id",
            Refusal::EmptyItem => "empty item_id",
            Refusal::EmptyActor => "empty actor",
            Refusal::UnknownAction => "unknown action",
            Refusal::EditSizeWithoutEdit => "edit_size without edited_and_sent",
            Refusal::EditWithoutEditSize => "edited_and_sent without edit_size",
            Refusal::NegativeEditSize => "negative edit_size",
            Refusal::BadReasonCode => "bad reason_code",
            Refusal::UnknownConversation => "unknown conversation",
            Refusal::UnknownItem => "unknown item",
        }
    }

    /// The metric label (snake case).
    pub fn label(self) -> &'static str {
        match self {
            Refusal::Undecodable => "undecodable",
            Refusal::KeyMismatch => "key_mismatch",
            Refusal::EmptyTenant => "empty_tenant",
            Refusal::EmptyItem => "empty_item",
            Refusal::EmptyActor => "empty_actor",
            Refusal::UnknownAction => "unknown_action",
            Refusal::EditSizeWithoutEdit => "edit_size_without_edit",
            Refusal::EditWithoutEditSize => "edit_without_edit_size",
            Refusal::NegativeEditSize => "negative_edit_size",
            Refusal::BadReasonCode => "bad_reason_code",
            Refusal::UnknownConversation => "unknown_conversation",
            Refusal::UnknownItem => "unknown_item",
        }
    }
}

/// Checks an event on its own (before the join): key, non-empty ids, a known action,
/// `edit_size` exactly with `edited_and_sent` and not negative, a well-formed reason code.
pub fn validate(key: Option<&[u8]>, e: &InteractionEvent) -> Result<(), Refusal> {
    if key != Some(e.conversation_id.as_bytes()) || e.conversation_id.is_empty() {
        return Err(Refusal::KeyMismatch);
    }
    if e.tenant_id.is_empty() {
        return Err(Refusal::EmptyTenant);
    }
    if e.item_id.is_empty() {
        return Err(Refusal::EmptyItem);
    }
    if e.actor.is_empty() {
        return Err(Refusal::EmptyActor);
    }
    match (e.action, e.edit_size) {
        (RepresentativeAction::Unknown, _) => return Err(Refusal::UnknownAction),
        (RepresentativeAction::EditedAndSent, None) => return Err(Refusal::EditWithoutEditSize),
        (RepresentativeAction::EditedAndSent, Some(n)) if n < 0 => {
            return Err(Refusal::NegativeEditSize)
        }
        (RepresentativeAction::EditedAndSent, Some(_)) => {}
        (_, Some(_)) => return Err(Refusal::EditSizeWithoutEdit),
        (_, None) => {}
    }
    if let Some(code) = &e.reason_code {
        let well_formed = !code.is_empty()
            && code.chars().count() <= MAX_REASON_CODE_CHARS
            && code.chars().all(|c| {
                c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.' | '-')
            });
        if !well_formed {
            return Err(Refusal::BadReasonCode);
        }
    }
    Ok(())
}

/// One suggestion in the store, 24 bytes: the id as a number, the type and language as
/// indexes into the store's word list ([`NONE`]: none), the confidence (NaN: none).
#[derive(Debug, Clone)]
struct Item {
    id: u64,
    confidence: f64,
    item_type: u16,
    language: u16,
    kind: ItemKind,
}

/// Index of "no word" in [`Item`].
const NONE: u16 = u16::MAX;

/// What the store keeps of one conversation.
#[derive(Debug, Clone)]
struct Known {
    tenant: Arc<str>,
    key: Box<[u8]>,
    profile: Option<Arc<str>>,
    items: Box<[Item]>,
}

/// The suggestions of every conversation in the conversation index, as the interactions
/// reader follows it (tombstones remove). Small strings (tenants, types, languages,
/// profiles) are shared.
#[derive(Debug, Default)]
pub struct SuggestionStore {
    conversations: HashMap<Box<str>, Known>,
    /// Tenants and profiles.
    strings: HashMap<Box<str>, Arc<str>>,
    /// Types and languages (a few dozen), by index.
    words: Vec<Box<str>>,
    word_index: HashMap<Box<str>, u16>,
}

/// The suggestion an event names, joined.
#[derive(Debug, Clone, PartialEq)]
pub struct Joined {
    /// Kind of suggestion.
    pub kind: ItemKind,
    /// Action type, tracker kind or asking side.
    pub item_type: String,
    /// Language, when known.
    pub language: Option<String>,
    /// Confidence (action items).
    pub confidence: Option<f64>,
    /// Profile applied to the conversation, when known.
    pub profile: Option<String>,
    /// The conversation's telemetry key.
    pub telemetry_key: Vec<u8>,
}

impl SuggestionStore {
    fn intern(&mut self, s: &str) -> Arc<str> {
        if let Some(a) = self.strings.get(s) {
            return a.clone();
        }
        let a: Arc<str> = Arc::from(s);
        self.strings.insert(Box::from(s), a.clone());
        a
    }

    fn word(&mut self, w: &str) -> u16 {
        if let Some(&i) = self.word_index.get(w) {
            return i;
        }
        match u16::try_from(self.words.len()) {
            Ok(i) if i < NONE => {
                self.words.push(Box::from(w));
                self.word_index.insert(Box::from(w), i);
                i
            }
            _ => NONE,
        }
    }

    fn word_at(&self, i: u16) -> Option<String> {
        self.words.get(usize::from(i)).map(|w| w.to_string())
    }

    /// Takes in one record of the index topic: an entry, or a tombstone for `key`.
    pub fn apply(&mut self, key: &str, entry: Option<&ConversationIndexEntry>) {
        let Some(e) = entry else {
            self.conversations.remove(key);
            return;
        };
        let tenant = self.intern(&e.tenant_id);
        let profile = e.profile.as_deref().map(|p| self.intern(p));
        let mut items = Vec::with_capacity(e.suggestions.len());
        for s in &e.suggestions {
            let (Some(id), Some(kind)) = (parse_id(&s.id), ItemKind::parse(&s.kind)) else {
                continue;
            };
            items.push(Item {
                id,
                kind,
                item_type: self.word(&s.item_type),
                language: s.language.as_deref().map_or(NONE, |l| self.word(l)),
                confidence: s.confidence.unwrap_or(f64::NAN),
            });
        }
        self.conversations.insert(
            Box::from(key),
            Known {
                tenant,
                key: e.telemetry_key.clone().into_boxed_slice(),
                profile,
                items: items.into_boxed_slice(),
            },
        );
    }

    /// Number of conversations known.
    pub fn len(&self) -> usize {
        self.conversations.len()
    }

    /// `true` when none is known.
    pub fn is_empty(&self) -> bool {
        self.conversations.is_empty()
    }

    /// `true` when the conversation is known for this tenant.
    pub fn knows(&self, tenant: &str, conversation_id: &str) -> bool {
        self.conversations
            .get(conversation_id)
            .is_some_and(|k| &*k.tenant == tenant)
    }

    /// The suggestion `e` names, or why there is none.
    pub fn join(&self, e: &InteractionEvent) -> Result<Joined, Refusal> {
        let known = self
            .conversations
            .get(e.conversation_id.as_str())
            .filter(|k| *k.tenant == *e.tenant_id)
            .ok_or(Refusal::UnknownConversation)?;
        let id = parse_id(&e.item_id).ok_or(Refusal::UnknownItem)?;
        let item = known
            .items
            .iter()
            .find(|i| i.id == id)
            .ok_or(Refusal::UnknownItem)?;
        Ok(Joined {
            kind: item.kind,
            item_type: self.word_at(item.item_type).unwrap_or_default(),
            language: self.word_at(item.language),
            confidence: (!item.confidence.is_nan()).then_some(item.confidence),
            profile: known.profile.as_deref().map(str::to_string),
            telemetry_key: known.key.to_vec(),
        })
    }
}

/// An item id as a number: exactly [`ITEM_ID_CHARS`] lower-case hex characters.
fn parse_id(id: &str) -> Option<u64> {
    if id.len() != ITEM_ID_CHARS
        || !id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return None;
    }
    u64::from_str_radix(id, 16).ok()
}

/// The enriched telemetry record of a valid, joined event (see `docs/contract.md`,
/// "Representative interactions"): pseudonymous conversation and item ids under the
/// conversation's telemetry key, nothing of the actor.
pub fn enrich(e: &InteractionEvent, j: &Joined, extractor_version: &str) -> InteractionTelemetry {
    InteractionTelemetry {
        tenant_id: e.tenant_id.clone(),
        conversation_id: pseudonym(&j.telemetry_key, &e.conversation_id),
        feature: j.kind.feature().to_string(),
        action: e.action.legacy(),
        outcome: INTERACTION_OUTCOME.to_string(),
        duration_us: 0,
        latency_ms: None,
        items: 1,
        recorded_at_ms: e.occurred_at_ms,
        extractor_version: extractor_version.to_string(),
        item_id: Some(pseudonym(&j.telemetry_key, &e.item_id)),
        item_kind: Some(j.kind.name().to_string()),
        item_type: Some(j.item_type.clone()),
        language: j.language.clone(),
        confidence: j.confidence,
        profile: j.profile.clone(),
        edit_size: e.edit_size,
        reason_code: e.reason_code.clone(),
        representative_action: Some(e.action.name().to_string()),
    }
}

/// Whether each tenant records interactions, from its configuration in force (the latest
/// valid version read from the tenant-config topic). A tenant without a configuration
/// records (the default profile enables everything); one that opted out does not.
#[derive(Debug, Default)]
pub struct RecordingSwitch {
    tenants: HashMap<String, (i64, bool)>,
}

impl RecordingSwitch {
    /// Takes in a tenant's configuration (`None`: its tombstone). An older version than the
    /// one in force is ignored.
    pub fn apply(&mut self, tenant: &str, config: Option<&crate::tenant::TenantConfig>) {
        match config {
            None => {
                self.tenants.remove(tenant);
            }
            Some(c) => {
                if self
                    .tenants
                    .get(tenant)
                    .is_some_and(|(v, _)| *v > c.version)
                {
                    return;
                }
                let on = c.features.interactions && !c.opted_out;
                self.tenants.insert(tenant.to_string(), (c.version, on));
            }
        }
    }

    /// `true` when the tenant records interactions.
    pub fn records(&self, tenant: &str) -> bool {
        self.tenants.get(tenant).is_none_or(|(_, on)| *on)
    }
}

#[cfg(test)]
mod tests;
