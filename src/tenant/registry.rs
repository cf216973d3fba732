//! Tenant configuration as events: what one record of the compacted tenant-config topic
//! means ([`interpret`]: decoded, checked against its key, validated and compiled), and the
//! versions in force ([`TenantRegistry`]). Pure: the pipeline's tenant reader feeds records
//! in, the consumer loop owns the registry.

use super::{TenantConfig, TenantRuntime};
use crate::emit::SourceRef;
use crate::events::DeadLetterKind;
use crate::schema::Codec;
use std::collections::HashMap;
use std::sync::Arc;

/// What one record of the tenant-config topic means.
#[derive(Debug)]
pub enum TenantEvent {
    /// A valid, compiled version.
    Apply(Arc<TenantRuntime>),
    /// A tombstone: forget the tenant's configuration.
    Remove(String),
    /// Not usable: dead-letter it with this kind and reason. The version is that of the
    /// configuration when the record decodes.
    Reject(DeadLetterKind, String, Option<i64>),
}

/// Reads one record of the tenant-config topic (key: tenant id).
pub fn interpret(codec: &Codec, source: SourceRef<'_>) -> TenantEvent {
    let key = match source.key.map(std::str::from_utf8) {
        Some(Ok(k)) if !k.trim().is_empty() => k,
        Some(Ok(_)) | None => {
            return TenantEvent::Reject(
                DeadLetterKind::Invalid,
                "missing key (the tenant id)".into(),
                None,
            )
        }
        Some(Err(_)) => {
            return TenantEvent::Reject(
                DeadLetterKind::Invalid,
                "the key (tenant id) is not UTF-8".into(),
                None,
            )
        }
    };
    let Some(value) = source.value else {
        return TenantEvent::Remove(key.to_string());
    };
    let config: TenantConfig = match codec.decode(value) {
        Ok(c) => c,
        Err(e) => {
            return TenantEvent::Reject(
                DeadLetterKind::Undecodable,
                format!("tenant config: {e}"),
                None,
            )
        }
    };
    let version = Some(config.version);
    if config.tenant_id != key {
        return TenantEvent::Reject(
            DeadLetterKind::InvalidConfig,
            format!(
                "tenant_id `{}` differs from the record key `{key}`",
                config.tenant_id
            ),
            version,
        );
    }
    match TenantRuntime::compile(config) {
        Ok(rt) => TenantEvent::Apply(Arc::new(rt)),
        Err(e) => TenantEvent::Reject(
            DeadLetterKind::InvalidConfig,
            format!("tenant `{key}`: {e}"),
            version,
        ),
    }
}

/// The configurations in force, by tenant id.
#[derive(Debug, Default, Clone)]
pub struct TenantRegistry {
    tenants: HashMap<String, Arc<TenantRuntime>>,
}

/// What [`TenantRegistry::apply`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The version is now in force.
    InForce,
    /// Not newer than the version in force: ignored.
    Stale,
    /// The tenant's configuration was removed.
    Removed,
}

impl TenantRegistry {
    /// The configuration in force for a tenant.
    pub fn get(&self, tenant_id: &str) -> Option<&Arc<TenantRuntime>> {
        self.tenants.get(tenant_id)
    }

    /// Number of tenants with a configuration.
    pub fn len(&self) -> usize {
        self.tenants.len()
    }

    /// `true` when no tenant has a configuration.
    pub fn is_empty(&self) -> bool {
        self.tenants.is_empty()
    }

    /// Puts a version in force unless the one in force has the same or a higher version.
    pub fn apply(&mut self, runtime: Arc<TenantRuntime>) -> Applied {
        let id = runtime.config.tenant_id.clone();
        match self.tenants.get(&id) {
            Some(cur) if cur.config.version >= runtime.config.version => Applied::Stale,
            _ => {
                self.tenants.insert(id, runtime);
                Applied::InForce
            }
        }
    }

    /// Removes a tenant's configuration (tombstone).
    pub fn remove(&mut self, tenant_id: &str) -> Applied {
        self.tenants.remove(tenant_id);
        Applied::Removed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Encoding;
    use crate::tenant::TrackerConfig;

    fn cfg(tenant: &str, version: i64, terms: &[&str]) -> TenantConfig {
        TenantConfig {
            tenant_id: tenant.into(),
            version,
            trackers: vec![TrackerConfig {
                name: "pricing".into(),
                terms: terms.iter().map(|t| t.to_string()).collect(),
                stemming: true,
                accent_insensitive: true,
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    fn src<'a>(key: Option<&'a [u8]>, value: Option<&'a [u8]>) -> SourceRef<'a> {
        SourceRef {
            topic: "cfg",
            partition: 0,
            offset: 0,
            key,
            value,
        }
    }

    #[test]
    fn valid_versions_apply_in_order_and_stale_ones_are_ignored() {
        let codec = Codec::new(Encoding::Json, None).unwrap();
        let mut reg = TenantRegistry::default();
        let v2 = serde_json::to_vec(&cfg("acme", 2, &["price"])).unwrap();
        let TenantEvent::Apply(rt) = interpret(&codec, src(Some(b"acme"), Some(&v2))) else {
            panic!()
        };
        assert_eq!(reg.apply(rt), Applied::InForce);
        let v1 = serde_json::to_vec(&cfg("acme", 1, &["budget"])).unwrap();
        let TenantEvent::Apply(rt) = interpret(&codec, src(Some(b"acme"), Some(&v1))) else {
            panic!()
        };
        assert_eq!(reg.apply(rt), Applied::Stale);
        assert_eq!(reg.get("acme").unwrap().config.version, 2);
        assert!(
            matches!(interpret(&codec, src(Some(b"acme"), None)), TenantEvent::Remove(t) if t == "acme")
        );
        assert_eq!(reg.remove("acme"), Applied::Removed);
        assert!(reg.is_empty());
    }

    #[test]
    fn unusable_records_are_rejected_with_a_reason() {
        let codec = Codec::new(Encoding::Json, None).unwrap();
        let ok = serde_json::to_vec(&cfg("acme", 1, &["price"])).unwrap();
        let empty_term = serde_json::to_vec(&cfg("acme", 3, &[""])).unwrap();
        let cases: Vec<(SourceRef<'_>, DeadLetterKind, &str)> = vec![
            (src(None, Some(&ok)), DeadLetterKind::Invalid, "missing key"),
            (
                src(Some(b"other"), Some(&ok)),
                DeadLetterKind::InvalidConfig,
                "differs from the record key",
            ),
            (
                src(Some(b"acme"), Some(b"{not json")),
                DeadLetterKind::Undecodable,
                "tenant config",
            ),
            (
                src(Some(b"acme"), Some(&empty_term)),
                DeadLetterKind::InvalidConfig,
                "tenant `acme`",
            ),
        ];
        for (source, kind, needle) in cases {
            match interpret(&codec, source) {
                TenantEvent::Reject(k, reason, _) => {
                    assert_eq!(k, kind, "{reason}");
                    assert!(reason.contains(needle), "{reason}");
                }
                other => panic!("expected a rejection, got {other:?}"),
            }
        }
    }
}
