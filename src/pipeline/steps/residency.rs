//! Data residency at decode time: an event of a tenant whose geography does not allow
//! processing in this deployment's region ([`crate::tenant::residency`]) is refused like an
//! opted-out tenant's: not assembled, analysed or written; counted
//! (`debrief_records_consumed_total{outcome="residency"}`), and its offset moves on. The
//! first refused event of each conversation also gives one telemetry record (`reason:
//! residency`) and one audit record (`residency_refused`), and counts the conversation in
//! `debrief_conversations_refused_total{reason="residency"}`. Which conversations were
//! already reported is remembered for the last [`MAX_REPORTED`] of them (a hash each), so
//! memory stays bounded; one forgotten and seen again is reported again.
//!
//! Neither record names the conversation: the telemetry's conversation id and the audit
//! record's action id carry a pseudonym under a random key that is never stored, so nothing
//! links them back to it (the telemetry and audit topics are not erased per conversation).

use crate::events::{InteractionAction, InteractionTelemetry};
use crate::governance::audit::AuditRecord;
use crate::governance::pseudonym;
use crate::insight::EXTRACTOR_VERSION;
use crate::tenant::{Residency, TenantRuntime};
use std::collections::{HashSet, VecDeque};
use std::hash::{DefaultHasher, Hash, Hasher};

/// The `reason` of the records and the metric label.
pub(crate) const REASON: &str = "residency";

/// Conversations remembered as already reported.
pub(crate) const MAX_REPORTED: usize = 100_000;

/// The residency step: this deployment's region and the conversations already reported.
#[derive(Debug, Default)]
pub(crate) struct ResidencyGuard {
    /// The deployment's region (`Config::region`), `None` when not configured.
    region: Option<String>,
    /// Hashes of (tenant, conversation) already reported, and their order of arrival.
    reported: HashSet<u64>,
    order: VecDeque<u64>,
}

impl ResidencyGuard {
    /// A guard for a deployment in `region`.
    pub fn new(region: Option<String>) -> ResidencyGuard {
        ResidencyGuard {
            region,
            ..ResidencyGuard::default()
        }
    }

    /// `true` when the tenant's configuration in force refuses processing in this region (a
    /// tenant without a configuration is never refused).
    pub fn refuses(&self, tenant: Option<&TenantRuntime>) -> bool {
        tenant.is_some_and(|t| t.config.residency_in(self.region.as_deref()) == Residency::Refused)
    }

    /// `true` the first time a refused conversation is seen (within the memory of the last
    /// [`MAX_REPORTED`]): its records are to be written now.
    pub fn first_report(&mut self, tenant: &str, conversation: &str) -> bool {
        let mut h = DefaultHasher::new();
        (tenant, conversation).hash(&mut h);
        let key = h.finish();
        if !self.reported.insert(key) {
            return false;
        }
        self.order.push_back(key);
        if self.order.len() > MAX_REPORTED {
            if let Some(old) = self.order.pop_front() {
                self.reported.remove(&old);
            }
        }
        true
    }
}

/// The telemetry and audit records of one refused conversation of `tenant` (configuration
/// `version`), made at `now_ms`. `conversation` is only hashed under a random key that is
/// dropped here (an empty pseudonym when the system has no randomness to give).
pub(crate) fn records(
    tenant: &str,
    version: i64,
    conversation: &str,
    now_ms: i64,
) -> (InteractionTelemetry, AuditRecord) {
    let alias = pseudonym::new_key()
        .map(|key| pseudonym::pseudonym(&key, conversation))
        .unwrap_or_default();
    let telemetry = InteractionTelemetry {
        tenant_id: tenant.to_string(),
        conversation_id: alias.clone(),
        feature: "insight".to_string(),
        action: InteractionAction::Skipped,
        outcome: "skipped".to_string(),
        duration_us: 0,
        latency_ms: None,
        items: 0,
        recorded_at_ms: now_ms,
        extractor_version: EXTRACTOR_VERSION.to_string(),
        reason: Some(REASON.to_string()),
        item_id: None,
        item_kind: None,
        item_type: None,
        language: None,
        confidence: None,
        profile: None,
        edit_size: None,
        reason_code: None,
        representative_action: None,
    };
    let audit = AuditRecord {
        action_id: format!("residency:{tenant}:{alias}"),
        tenant_id: tenant.to_string(),
        action: "residency_refused".to_string(),
        actor: "residency".to_string(),
        at_ms: now_ms,
        request_id: None,
        config_version: Some(version),
        scope: Some("conversation".to_string()),
        count: 1,
    };
    (telemetry, audit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tenant::TenantConfig;

    fn tenant(geography: Option<&str>, allow: Option<bool>) -> TenantRuntime {
        TenantRuntime::compile(TenantConfig {
            tenant_id: "acme".into(),
            geography: geography.map(str::to_owned),
            allow_cross_region: allow,
            ..TenantConfig::default()
        })
        .unwrap()
    }

    #[test]
    fn refuses_what_the_rule_refuses() {
        let eu = ResidencyGuard::new(Some("eu".into()));
        assert!(eu.refuses(Some(&tenant(Some("us"), None))));
        assert!(!eu.refuses(Some(&tenant(Some("us"), Some(true)))));
        assert!(!eu.refuses(Some(&tenant(Some("eu"), Some(false)))));
        assert!(!eu.refuses(Some(&tenant(None, None))));
        assert!(!eu.refuses(None), "no configuration: no rule");
        let nowhere = ResidencyGuard::new(None);
        assert!(nowhere.refuses(Some(&tenant(Some("uk"), None))));
        assert!(!nowhere.refuses(Some(&tenant(Some("eu"), None))));
    }

    #[test]
    fn each_conversation_is_reported_once_within_bounded_memory() {
        let mut g = ResidencyGuard::new(Some("eu".into()));
        assert!(g.first_report("acme", "c1"));
        assert!(!g.first_report("acme", "c1"));
        assert!(g.first_report("other", "c1"));
        for i in 0..MAX_REPORTED {
            g.first_report("acme", &format!("x{i}"));
        }
        assert_eq!(g.reported.len(), MAX_REPORTED);
        assert_eq!(g.order.len(), MAX_REPORTED);
        // The oldest were forgotten: reported again.
        assert!(g.first_report("acme", "c1"));
    }

    #[test]
    fn records_say_residency_and_do_not_name_the_conversation() {
        let (t, a) = records("acme", 4, "secret-conversation", 99);
        assert_eq!(t.reason.as_deref(), Some("residency"));
        assert_eq!(t.action, InteractionAction::Skipped);
        assert_eq!(t.conversation_id.len(), pseudonym::PSEUDONYM_CHARS);
        assert_eq!(a.action, "residency_refused");
        assert_eq!(a.config_version, Some(4));
        assert!(a.action_id.starts_with("residency:acme:"));
        let text = serde_json::to_string(&(t, a)).unwrap();
        assert!(!text.contains("secret-conversation"));
        // A second report of the same conversation is not linkable to the first.
        let (t2, _) = records("acme", 4, "secret-conversation", 99);
        let (t1, _) = records("acme", 4, "secret-conversation", 99);
        assert_ne!(t1.conversation_id, t2.conversation_id);
    }
}
