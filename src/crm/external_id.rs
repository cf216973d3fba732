//! Deterministic external ids: the upsert keys of the CRM records and their Kafka keys.
//!
//! - insight record: `dbf1-` + the first 32 hex digits of SHA-256(`tenant id` 0x1F
//!   `conversation id`), 37 ASCII characters;
//! - task record: the insight's id + `-t` + the item's 0-based position, three digits at least
//!   (`dbf1-…-t000`).
//!
//! Hashed rather than spelled out because conversation ids are free text from the publisher:
//! Dynamics alternate-key values may not contain `/ < > * % & : \ ? +`, both CRMs limit the
//! length, and the tenant must be part of the key (two tenants may share a conversation id).
//! The `dbf1` prefix versions the scheme. A task's id depends on its position, so a changed
//! extraction that reorders items rewrites tasks in place rather than leaving orphans; the
//! insight's `action_item_count` says how many task ids are live.

use sha2::{Digest, Sha256};
use std::fmt::Write;

/// Prefix and version of the scheme.
pub const PREFIX: &str = "dbf1-";

/// The external id of a conversation's insight record.
pub fn insight(tenant_id: &str, conversation_id: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(tenant_id.as_bytes());
    hasher.update([0x1F]);
    hasher.update(conversation_id.as_bytes());
    let digest = hasher.finalize();
    let mut out = String::with_capacity(PREFIX.len() + 32);
    out.push_str(PREFIX);
    for b in &digest[..16] {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// The external id of the task record for action item `index` (0-based) of the insight whose
/// external id is `insight_id`.
pub fn task(insight_id: &str, index: usize) -> String {
    format!("{insight_id}-t{index:03}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_short_and_url_safe() {
        // Expected value computed outside the code: `printf 'acme\x1fc1' | sha256sum`.
        let id = insight("acme", "c1");
        assert_eq!(id, "dbf1-230ead588d9d4f0b5ca320c26c7061e0");
        assert!(id.starts_with("dbf1-"));
        assert!(id[5..].chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(id, insight("acme", "c1"));
        assert_ne!(id, insight("acme2", "c1"));
        // The separator keeps ("ab", "c") and ("a", "bc") apart.
        assert_ne!(insight("ab", "c"), insight("a", "bc"));
        assert_eq!(task(&id, 7), format!("{id}-t007"));
        assert_eq!(task(&id, 1234), format!("{id}-t1234"));
    }
}
