//! Erasure requests: their scope, the plan of the cascade, and the ledger records that prove
//! each step (`schemas/erasure_ledger.avsc`).
//!
//! The cascade, in this order (each step is idempotent, so a crash anywhere is resumed by
//! running the request again, skipping the steps the ledger already shows done):
//! 1. `received`: the request and the number of conversations in scope;
//! 2. `crm_tombstoned`: a tombstone to every CRM key the index lists, acknowledged;
//! 3. `index_removed`: a tombstone to every index entry in scope, acknowledged;
//! 4. `telemetry_unlinked`: the index tombstones destroyed the telemetry keys (the pseudonyms
//!    in telemetry can no longer be mapped back), so this step records the count;
//! 5. `completed`.
//!
//! CRM tombstones go first: while the index entries exist, a restart finds the same
//! conversations again; once the index tombstones are acknowledged, the CRM ones are too.

use super::index::{ConversationIndexEntry, OutputRef};
use crate::events::ErasureRequest;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// The 7-day promise: an erasure completes within this many milliseconds of its request.
pub const DEADLINE_MS: i64 = 7 * 24 * 3600 * 1000;

/// What a request erases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// One conversation.
    Conversation,
    /// Every conversation of the tenant a participant spoke in.
    Participant,
    /// Every conversation of the tenant.
    Tenant,
}

impl Scope {
    /// The scope of a request: `conversation_id` wins over `participant_id`; neither means
    /// the tenant.
    pub fn of(request: &ErasureRequest) -> Scope {
        match (&request.conversation_id, &request.participant_id) {
            (Some(_), _) => Scope::Conversation,
            (None, Some(_)) => Scope::Participant,
            (None, None) => Scope::Tenant,
        }
    }

    /// Its name in the ledger.
    pub fn name(self) -> &'static str {
        match self {
            Scope::Conversation => "conversation",
            Scope::Participant => "participant",
            Scope::Tenant => "tenant",
        }
    }
}

/// A step of the cascade, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LedgerStep {
    /// The request was read.
    Received,
    /// Every CRM key in scope got an acknowledged tombstone.
    CrmTombstoned,
    /// Every index entry in scope got an acknowledged tombstone.
    IndexRemoved,
    /// The telemetry keys are destroyed (with the index entries).
    TelemetryUnlinked,
    /// Done.
    Completed,
}

impl LedgerStep {
    /// Every step, in order.
    pub const ALL: [LedgerStep; 5] = [
        LedgerStep::Received,
        LedgerStep::CrmTombstoned,
        LedgerStep::IndexRemoved,
        LedgerStep::TelemetryUnlinked,
        LedgerStep::Completed,
    ];

    /// Its name in the ledger.
    pub fn name(self) -> &'static str {
        match self {
            LedgerStep::Received => "received",
            LedgerStep::CrmTombstoned => "crm_tombstoned",
            LedgerStep::IndexRemoved => "index_removed",
            LedgerStep::TelemetryUnlinked => "telemetry_unlinked",
            LedgerStep::Completed => "completed",
        }
    }

    /// The step of a ledger name.
    pub fn parse(name: &str) -> Option<LedgerStep> {
        LedgerStep::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// Highest offset written on one partition.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct LedgerOffset {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
}

/// One ledger record (`schemas/erasure_ledger.avsc`, key: the request id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErasureLedgerEntry {
    /// The request's id.
    pub request_id: String,
    /// Tenant id.
    pub tenant_id: String,
    /// `conversation`, `participant`, `tenant`.
    pub scope: String,
    /// The request's reason.
    pub reason: String,
    /// The step's name ([`LedgerStep::name`]).
    pub step: String,
    /// Records the step wrote (conversations in scope for `received` and `completed`).
    pub count: i64,
    /// Highest acknowledged offset per partition, sorted.
    pub offsets: Vec<LedgerOffset>,
    /// When the request was made, ms since the epoch.
    pub requested_at_ms: i64,
    /// When the step was done, ms since the epoch.
    pub recorded_at_ms: i64,
}

/// The ledger record of `step` of `request`.
pub fn ledger_entry(
    request: &ErasureRequest,
    step: LedgerStep,
    count: i64,
    offsets: Vec<LedgerOffset>,
    now_ms: i64,
) -> ErasureLedgerEntry {
    let mut offsets = offsets;
    offsets.sort();
    ErasureLedgerEntry {
        request_id: request.request_id.clone(),
        tenant_id: request.tenant_id.clone(),
        scope: Scope::of(request).name().to_string(),
        reason: request.reason.clone(),
        step: step.name().to_string(),
        count,
        offsets,
        requested_at_ms: request.requested_at_ms,
        recorded_at_ms: now_ms,
    }
}

/// What the cascade writes for the entries in scope: CRM tombstones (sorted, without
/// duplicates) and index tombstones (conversation ids, sorted).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    /// Tombstones for the CRM topics.
    pub crm: Vec<OutputRef>,
    /// Tombstones for the index topic (conversation ids).
    pub index: Vec<String>,
}

/// The plan for `entries` (the index entries in a request's scope).
pub fn plan(entries: &[&ConversationIndexEntry]) -> Plan {
    let crm: BTreeSet<OutputRef> = entries
        .iter()
        .flat_map(|e| e.outputs.iter().cloned())
        .collect();
    let index: BTreeSet<String> = entries.iter().map(|e| e.conversation_id.clone()).collect();
    Plan {
        crm: crm.into_iter().collect(),
        index: index.into_iter().collect(),
    }
}

/// The steps the ledger shows done for one request (from its records, in any order).
pub fn steps_done<'a>(
    records: impl IntoIterator<Item = &'a ErasureLedgerEntry>,
) -> BTreeSet<LedgerStep> {
    records
        .into_iter()
        .filter_map(|r| LedgerStep::parse(&r.step))
        .collect()
}

/// The step to run next, or `None` when the request is completed.
pub fn next_step(done: &BTreeSet<LedgerStep>) -> Option<LedgerStep> {
    if done.contains(&LedgerStep::Completed) {
        return None;
    }
    LedgerStep::ALL.into_iter().find(|s| !done.contains(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(conversation: Option<&str>, participant: Option<&str>) -> ErasureRequest {
        ErasureRequest {
            request_id: "r1".into(),
            tenant_id: "t1".into(),
            conversation_id: conversation.map(Into::into),
            requested_at_ms: 5,
            reason: "user_request".into(),
            participant_id: participant.map(Into::into),
            requested_by: None,
        }
    }

    fn entry(id: &str, topic: &str) -> ConversationIndexEntry {
        ConversationIndexEntry {
            conversation_id: id.into(),
            tenant_id: "t1".into(),
            participants: vec!["alice".into()],
            outputs: vec![OutputRef {
                topic: topic.into(),
                key: id.into(),
            }],
            finalised_at_ms: 1,
            features: vec![],
            telemetry_pseudonym: "p".into(),
            telemetry_key: vec![1; 32],
            suggestions: vec![],
            profile: None,
        }
    }

    #[test]
    fn the_scope_follows_the_fields_set() {
        assert_eq!(
            Scope::of(&request(Some("c"), Some("p"))),
            Scope::Conversation
        );
        assert_eq!(Scope::of(&request(None, Some("p"))), Scope::Participant);
        assert_eq!(Scope::of(&request(None, None)), Scope::Tenant);
    }

    #[test]
    fn the_plan_lists_every_key_once_in_order() {
        let (a, b) = (entry("c2", "crm"), entry("c1", "crm"));
        let p = plan(&[&a, &b, &a]);
        assert_eq!(p.index, ["c1", "c2"]);
        let keys: Vec<&str> = p.crm.iter().map(|o| o.key.as_str()).collect();
        assert_eq!(keys, ["c1", "c2"]);
    }

    #[test]
    fn ledger_entries_name_no_conversation_or_participant() {
        let r = request(Some("conv-secret"), Some("person-secret"));
        let e = ledger_entry(&r, LedgerStep::Received, 1, vec![], 9);
        let json = serde_json::to_string(&e).unwrap();
        assert!(
            !json.contains("conv-secret") && !json.contains("person-secret"),
            "{json}"
        );
        assert_eq!(
            (e.scope.as_str(), e.step.as_str()),
            ("conversation", "received")
        );
    }

    #[test]
    fn a_request_resumes_at_the_first_step_not_done() {
        let r = request(None, None);
        let mut done = BTreeSet::new();
        assert_eq!(next_step(&done), Some(LedgerStep::Received));
        let recs = [
            ledger_entry(&r, LedgerStep::Received, 2, vec![], 1),
            ledger_entry(&r, LedgerStep::CrmTombstoned, 2, vec![], 2),
        ];
        done = steps_done(&recs);
        assert_eq!(next_step(&done), Some(LedgerStep::IndexRemoved));
        done.insert(LedgerStep::Completed);
        assert_eq!(next_step(&done), None);
    }
}
