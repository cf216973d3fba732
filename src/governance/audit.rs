//! The audit trail: one [`AuditRecord`] per governance action (`schemas/audit_record.avsc`),
//! keyed by an action id so that instances recording the same action write the same key of
//! the compacted audit topic. No transcript text, conversation or participant id.

use super::erasure::Scope;
use crate::events::ErasureRequest;
use serde::{Deserialize, Serialize};

/// One governance action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Identifies the action (the Kafka key).
    pub action_id: String,
    /// Tenant id.
    pub tenant_id: String,
    /// `config_applied`, `opt_out`, `opt_in`, `erasure_requested`, `erasure_completed`,
    /// `retention_sweep`, `feature_switched_off`, `feature_switched_on`, `export`.
    pub action: String,
    /// Who asked.
    pub actor: String,
    /// When, ms since the epoch.
    pub at_ms: i64,
    /// The erasure request, for erasure actions.
    #[serde(default)]
    pub request_id: Option<String>,
    /// The configuration version, for configuration actions.
    #[serde(default)]
    pub config_version: Option<i64>,
    /// `conversation`, `participant`, `tenant`, for erasures and exports; the feature's
    /// name for feature switches; `rewritten=N,tombstoned=M` for retention sweeps.
    #[serde(default)]
    pub scope: Option<String>,
    /// Conversations in scope (erasures), records written (exports).
    #[serde(default)]
    pub count: i64,
}

/// The records of a tenant configuration put in force: `config_applied`, plus `opt_out`
/// when it opts out, or `opt_in` when the previous version in force was opted out.
pub fn config_applied(
    tenant: &str,
    version: i64,
    opted_out: bool,
    was_opted_out: bool,
    now_ms: i64,
) -> Vec<AuditRecord> {
    let record = |kind: &str, action: &str| AuditRecord {
        action_id: format!("{kind}:{tenant}:v{version}"),
        tenant_id: tenant.to_string(),
        action: action.to_string(),
        actor: "tenant-config".to_string(),
        at_ms: now_ms,
        request_id: None,
        config_version: Some(version),
        scope: None,
        count: 0,
    };
    let mut out = vec![record("config", "config_applied")];
    if opted_out {
        out.push(record("opt-out", "opt_out"));
    } else if was_opted_out {
        out.push(record("opt-in", "opt_in"));
    }
    out
}

/// The record of an erasure request received (`completed: false`, at the request time) or
/// completed (at `now_ms`), with the conversations in scope.
pub fn erasure(request: &ErasureRequest, completed: bool, count: i64, now_ms: i64) -> AuditRecord {
    let (kind, action, actor, at_ms) = if completed {
        (
            "erasure-completed",
            "erasure_completed",
            "erasure-executor".to_string(),
            now_ms,
        )
    } else {
        (
            "erasure-requested",
            "erasure_requested",
            request
                .requested_by
                .clone()
                .unwrap_or_else(|| "unknown".into()),
            request.requested_at_ms,
        )
    };
    AuditRecord {
        action_id: format!("{kind}:{}", request.request_id),
        tenant_id: request.tenant_id.clone(),
        action: action.to_string(),
        actor,
        at_ms,
        request_id: Some(request.request_id.clone()),
        config_version: None,
        scope: Some(Scope::of(request).name().to_string()),
        count,
    }
}

/// The record of an export of `count` records; `nonce` makes two exports of one
/// millisecond distinct.
pub fn export(
    tenant: &str,
    actor: &str,
    scope: Scope,
    count: i64,
    now_ms: i64,
    nonce: u64,
) -> AuditRecord {
    AuditRecord {
        action_id: format!("export:{tenant}:{now_ms}:{nonce:016x}"),
        tenant_id: tenant.to_string(),
        action: "export".to_string(),
        actor: actor.to_string(),
        at_ms: now_ms,
        request_id: None,
        config_version: None,
        scope: Some(scope.name().to_string()),
        count,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_configuration_records_opt_out_and_opt_in_transitions() {
        let names =
            |v: Vec<AuditRecord>| -> Vec<String> { v.into_iter().map(|r| r.action_id).collect() };
        assert_eq!(
            names(config_applied("t", 2, false, false, 1)),
            ["config:t:v2"]
        );
        assert_eq!(
            names(config_applied("t", 3, true, false, 1)),
            ["config:t:v3", "opt-out:t:v3"]
        );
        assert_eq!(
            names(config_applied("t", 4, false, true, 1)),
            ["config:t:v4", "opt-in:t:v4"]
        );
    }

    #[test]
    fn erasure_records_name_the_request_and_scope_but_no_subject() {
        let r = ErasureRequest {
            request_id: "r1".into(),
            tenant_id: "t".into(),
            conversation_id: Some("secret-conv".into()),
            requested_at_ms: 5,
            reason: "user_request".into(),
            participant_id: None,
            requested_by: Some("admin-7".into()),
        };
        let a = erasure(&r, false, 1, 9);
        assert_eq!(
            (a.action_id.as_str(), a.actor.as_str(), a.at_ms),
            ("erasure-requested:r1", "admin-7", 5)
        );
        let b = erasure(&r, true, 1, 9);
        assert_eq!((b.action.as_str(), b.at_ms), ("erasure_completed", 9));
        assert!(!serde_json::to_string(&(a, b))
            .unwrap()
            .contains("secret-conv"));
    }
}
