//! What every instance remembers of the erasure requests it has read (the whole erasure
//! topic, no group): which later transcript events it must refuse, and which open
//! conversations a request drops.
//!
//! - **Conversation scope**: the conversation id is refused from then on, forever. A request
//!   cannot allow reprocessing: an erased conversation id is never processed again by this
//!   deployment (a publisher that needs a new insight publishes under a new id). This keeps a
//!   replay after a crash from bringing an erased conversation back.
//! - **Tenant scope** (and `opt_out`): every event of the tenant whose Kafka timestamp is at
//!   or before the request's `requested_at_ms` is refused, and the conversations open at the
//!   request are dropped and refused from then on. Later conversations are processed (for an
//!   opted-out tenant the opt-out itself stops them, at decode time).
//! - **Participant scope**: the tenant's open conversations in which the participant spoke
//!   are dropped and refused from then on; later conversations are processed.
//!
//! Memory: one entry per erased conversation id (about 60 bytes each with the set's
//! overhead), one per erased tenant and participant.

use crate::events::ErasureRequest;
use std::collections::{HashMap, HashSet};

/// The erasure requests read so far.
#[derive(Debug, Default)]
pub struct Erasures {
    conversations: HashSet<String>,
    /// Tenant → the latest `requested_at_ms` of its tenant-wide requests.
    tenants: HashMap<String, i64>,
}

/// An open conversation as an erasure request sees it.
#[derive(Debug, Clone, Copy)]
pub struct OpenRef<'a> {
    /// Conversation id.
    pub id: &'a str,
    /// Tenant id, when an event named it.
    pub tenant: Option<&'a str>,
}

impl Erasures {
    /// Takes in a request.
    pub fn apply(&mut self, request: &ErasureRequest) {
        match (&request.conversation_id, &request.participant_id) {
            (Some(c), _) => {
                self.conversations.insert(c.clone());
            }
            (None, Some(_)) => {}
            (None, None) => {
                let at = self
                    .tenants
                    .entry(request.tenant_id.clone())
                    .or_insert(i64::MIN);
                *at = (*at).max(request.requested_at_ms);
            }
        }
    }

    /// Remembers a conversation dropped by a request: its later events are refused.
    pub fn refuse_conversation(&mut self, id: &str) {
        self.conversations.insert(id.to_string());
    }

    /// `true` when an event of `conversation` (of `tenant`, with Kafka timestamp `time_ms`)
    /// must not be processed.
    pub fn refuses(&self, tenant: &str, conversation: &str, time_ms: i64) -> bool {
        self.conversations.contains(conversation)
            || self.tenants.get(tenant).is_some_and(|&at| time_ms <= at)
    }

    /// `true` when `request` drops the open conversation `open`, whose speakers are
    /// `speakers`.
    pub fn drops<'a>(
        request: &ErasureRequest,
        open: OpenRef<'_>,
        mut speakers: impl Iterator<Item = &'a str>,
    ) -> bool {
        if open.tenant.is_some_and(|t| t != request.tenant_id) {
            return false;
        }
        match (&request.conversation_id, &request.participant_id) {
            (Some(c), _) => c == open.id,
            (None, Some(p)) => open.tenant.is_some() && speakers.any(|s| s == p),
            (None, None) => open.tenant.is_some(),
        }
    }

    /// Number of conversation ids refused.
    pub fn refused_conversations(&self) -> usize {
        self.conversations.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(conv: Option<&str>, who: Option<&str>, at: i64) -> ErasureRequest {
        ErasureRequest {
            request_id: "r".into(),
            tenant_id: "t1".into(),
            conversation_id: conv.map(Into::into),
            requested_at_ms: at,
            reason: "user_request".into(),
            participant_id: who.map(Into::into),
            requested_by: None,
        }
    }

    #[test]
    fn a_conversation_is_refused_forever_and_a_tenant_up_to_the_request_time() {
        let mut e = Erasures::default();
        e.apply(&req(Some("c1"), None, 100));
        e.apply(&req(None, None, 50));
        assert!(e.refuses("t1", "c1", i64::MAX));
        assert!(e.refuses("t1", "c2", 50));
        assert!(
            !e.refuses("t1", "c2", 51),
            "a later conversation is processed"
        );
        assert!(!e.refuses("t2", "c3", 0));
        e.apply(&req(None, Some("p"), 70));
        assert!(
            !e.refuses("t1", "c9", 60),
            "participant scope refuses only what it drops"
        );
        e.refuse_conversation("c9");
        assert!(e.refuses("t1", "c9", 60));
        assert_eq!(e.refused_conversations(), 2);
    }

    #[test]
    fn open_conversations_are_dropped_by_scope_within_the_tenant() {
        let open = |id, tenant| OpenRef { id, tenant };
        let who = ["alice", "bob"];
        let r = req(None, Some("bob"), 1);
        assert!(Erasures::drops(&r, open("c", Some("t1")), who.into_iter()));
        assert!(!Erasures::drops(&r, open("c", Some("t2")), who.into_iter()));
        assert!(!Erasures::drops(
            &r,
            open("c", Some("t1")),
            ["carol"].into_iter()
        ));
        let r = req(None, None, 1);
        assert!(Erasures::drops(&r, open("c", Some("t1")), who.into_iter()));
        let r = req(Some("c"), None, 1);
        assert!(Erasures::drops(&r, open("c", None), who.into_iter()));
        assert!(!Erasures::drops(&r, open("d", Some("t1")), who.into_iter()));
    }
}
