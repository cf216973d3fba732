//! The mappings in force, per tenant: what the `debrief.crm-mapping.v1` topic has said so far.
//! Pure state with one owner (the caller applies each record in topic order): a new document
//! replaces the one in force only if it parses, names the record's tenant, is newer, and
//! validates; otherwise it is refused with a reason (a dead letter) and the version in force
//! stays. A tombstone returns the tenant to the built-in mapping.

use super::defaults;
use super::mapping::CrmMapping;
use super::types::CrmKind;
use super::validate::{validate, MappingError, ValidMapping};
use std::collections::HashMap;
use std::sync::Arc;

/// Why a record of the mapping topic was refused (the dead letter's reason).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MappingRejected {
    /// The record has no key (the key is the tenant id).
    #[error("a CRM mapping record needs the tenant id as its key")]
    NoKey,
    /// The value is not a mapping document.
    #[error("not a CRM mapping document: {0}")]
    Unreadable(String),
    /// The document's tenant is not the record's key.
    #[error("the mapping is for tenant {document}, the record key says {key}")]
    KeyMismatch {
        /// Tenant in the document.
        document: String,
        /// Record key.
        key: String,
    },
    /// Not newer than the version in force.
    #[error("mapping version {version} is not newer than version {in_force} in force")]
    NotNewer {
        /// The document's version.
        version: i64,
        /// The version in force.
        in_force: i64,
    },
    /// Validation failed.
    #[error(transparent)]
    Invalid(#[from] MappingError),
}

/// What applying a record did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// A new version is in force.
    InForce {
        /// Its version.
        version: i64,
    },
    /// A tombstone: the tenant is back on the built-in mapping.
    Removed,
}

/// The tenants' mappings in force.
#[derive(Debug, Default)]
pub struct MappingBook {
    by_tenant: HashMap<String, Arc<ValidMapping>>,
}

impl MappingBook {
    /// An empty book: every tenant on the built-in mapping of its CRM.
    pub fn new() -> MappingBook {
        MappingBook::default()
    }

    /// Applies one record of the mapping topic: `key` the tenant id, `value` the document as
    /// JSON, `None` for a tombstone.
    pub fn apply(
        &mut self,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
    ) -> Result<Applied, MappingRejected> {
        let key = key
            .and_then(|k| std::str::from_utf8(k).ok())
            .filter(|k| !k.is_empty())
            .ok_or(MappingRejected::NoKey)?;
        let Some(value) = value else {
            self.by_tenant.remove(key);
            return Ok(Applied::Removed);
        };
        let doc = parse(value)?;
        if doc.tenant_id != key {
            return Err(MappingRejected::KeyMismatch {
                document: doc.tenant_id,
                key: key.to_string(),
            });
        }
        if let Some(current) = self.by_tenant.get(key) {
            if doc.version <= current.version {
                return Err(MappingRejected::NotNewer {
                    version: doc.version,
                    in_force: current.version,
                });
            }
        }
        let valid = validate(&doc)?;
        let version = valid.version;
        self.by_tenant.insert(key.to_string(), Arc::new(valid));
        Ok(Applied::InForce { version })
    }

    /// The tenant's mapping for `crm`: its own when it has one for that CRM, else the
    /// built-in one (shared by every tenant). `None` only if the built-in mapping cannot load (a build defect the
    /// tests catch).
    pub fn mapping_for(&self, tenant_id: &str, crm: CrmKind) -> Option<Arc<ValidMapping>> {
        match self.by_tenant.get(tenant_id) {
            Some(m) if m.crm == crm => Some(Arc::clone(m)),
            _ => defaults::shared(crm).ok(),
        }
    }

    /// The tenant's own mapping in force, if any.
    pub fn get(&self, tenant_id: &str) -> Option<Arc<ValidMapping>> {
        self.by_tenant.get(tenant_id).cloned()
    }

    /// Tenants with a mapping of their own.
    pub fn len(&self) -> usize {
        self.by_tenant.len()
    }

    /// `true` when no tenant has a mapping of its own.
    pub fn is_empty(&self) -> bool {
        self.by_tenant.is_empty()
    }
}

/// Parses a document; the error names the kind of problem, the path and the position, never
/// the values the record holds (serde's messages quote them, and a mistaken publisher could
/// send anything).
fn parse(value: &[u8]) -> Result<CrmMapping, MappingRejected> {
    let mut de = serde_json::Deserializer::from_slice(value);
    let doc: CrmMapping = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let e = e.into_inner();
        MappingRejected::Unreadable(describe(&e, Some(&path)))
    })?;
    de.end()
        .map_err(|e| MappingRejected::Unreadable(describe(&e, None)))?;
    Ok(doc)
}

fn describe(e: &serde_json::Error, path: Option<&str>) -> String {
    use serde_json::error::Category;
    let what = match e.classify() {
        Category::Io => "unreadable",
        Category::Syntax => "not JSON",
        Category::Data => "not a mapping field or value",
        Category::Eof => "ends early",
    };
    match path.filter(|p| !p.is_empty() && *p != ".") {
        Some(p) => format!("{what} at {p} (line {}, column {})", e.line(), e.column()),
        None => format!("{what} (line {}, column {})", e.line(), e.column()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(tenant: &str, version: i64, extra_field: Option<&str>) -> Vec<u8> {
        let mut d = defaults::document(CrmKind::Salesforce, tenant).unwrap();
        d.version = version;
        if let Some(target) = extra_field {
            d.records[0].fields.push(super::super::FieldMapping {
                source: super::super::Source::Switches,
                target: target.into(),
            });
        }
        serde_json::to_vec(&d).unwrap()
    }

    #[test]
    fn a_newer_valid_document_replaces_and_a_refused_one_keeps_the_version_in_force() {
        let mut book = MappingBook::new();
        assert_eq!(
            book.mapping_for("acme", CrmKind::Salesforce)
                .unwrap()
                .version,
            0
        );
        assert_eq!(
            book.apply(Some(b"acme"), Some(&doc("acme", 2, None))),
            Ok(Applied::InForce { version: 2 })
        );
        // Invalid (unknown field): refused, naming it; version 2 stays.
        let err = book
            .apply(Some(b"acme"), Some(&doc("acme", 3, Some("Nope__c"))))
            .unwrap_err();
        assert!(err.to_string().contains("Nope__c"), "{err}");
        assert_eq!(
            book.apply(Some(b"acme"), Some(&doc("acme", 2, None))),
            Err(MappingRejected::NotNewer {
                version: 2,
                in_force: 2
            })
        );
        assert!(matches!(
            book.apply(Some(b"other"), Some(&doc("acme", 5, None))),
            Err(MappingRejected::KeyMismatch { .. })
        ));
        assert!(matches!(
            book.apply(Some(b"acme"), Some(b"{not json")),
            Err(MappingRejected::Unreadable(_))
        ));
        // A wrong value is named by its path, never quoted.
        let mut bad: serde_json::Value = serde_json::from_slice(&doc("acme", 7, None)).unwrap();
        bad["crm"] = serde_json::Value::String("Maria Lopez 06 12 34 56 78".into());
        let err = book
            .apply(Some(b"acme"), Some(&serde_json::to_vec(&bad).unwrap()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("at crm"), "{err}");
        assert!(!err.contains("Maria") && !err.contains("06 12"), "{err}");
        assert_eq!(
            book.apply(None, Some(&doc("acme", 9, None))),
            Err(MappingRejected::NoKey)
        );
        let m = book.mapping_for("acme", CrmKind::Salesforce).unwrap();
        assert_eq!(m.version, 2);
        // A tenant routed to the other CRM gets that CRM's built-in mapping.
        assert_eq!(
            book.mapping_for("acme", CrmKind::Dynamics).unwrap().crm,
            CrmKind::Dynamics
        );
        assert_eq!(book.apply(Some(b"acme"), None), Ok(Applied::Removed));
        assert!(book.is_empty());
        assert_eq!(
            book.mapping_for("acme", CrmKind::Salesforce)
                .unwrap()
                .version,
            0
        );
    }
}
