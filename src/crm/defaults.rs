//! The built-in mappings (version 0), one per CRM kind, so that write-back works before a
//! tenant publishes a mapping of its own. They are ordinary mapping documents
//! (`src/crm/defaults/*.yaml`), parsed and validated like a tenant's; their field names and
//! types are listed in `docs/crm.md`.

use super::mapping::CrmMapping;
use super::types::CrmKind;
use super::validate::{validate, MappingError, ValidMapping};
use std::sync::{Arc, OnceLock};

const DYNAMICS: &str = include_str!("defaults/dynamics.yaml");
const SALESFORCE: &str = include_str!("defaults/salesforce.yaml");

/// Why a built-in mapping could not be loaded (a build defect the tests catch).
#[derive(Debug, Clone, thiserror::Error)]
pub enum DefaultsError {
    /// The shipped YAML does not parse.
    #[error("built-in {crm} mapping does not parse: {error}")]
    Parse {
        /// CRM.
        crm: CrmKind,
        /// Parser message.
        error: String,
    },
    /// The shipped mapping does not validate.
    #[error("built-in {crm} mapping is invalid: {error}")]
    Invalid {
        /// CRM.
        crm: CrmKind,
        /// Validation error.
        error: MappingError,
    },
}

/// The built-in mapping document of `crm`, for `tenant_id`.
pub fn document(crm: CrmKind, tenant_id: &str) -> Result<CrmMapping, DefaultsError> {
    let text = match crm {
        CrmKind::Dynamics => DYNAMICS,
        CrmKind::Salesforce => SALESFORCE,
    };
    let mut doc = CrmMapping::from_yaml(text).map_err(|e| DefaultsError::Parse {
        crm,
        error: e.to_string(),
    })?;
    doc.tenant_id = tenant_id.to_string();
    Ok(doc)
}

/// The built-in mapping of `crm` for `tenant_id`, validated.
pub fn mapping(crm: CrmKind, tenant_id: &str) -> Result<ValidMapping, DefaultsError> {
    validate(&document(crm, tenant_id)?).map_err(|error| DefaultsError::Invalid { crm, error })
}

/// The built-in mapping of `crm`, parsed and validated once per process and shared (its
/// `tenant_id` is `*`: records take the tenant from the insight).
pub fn shared(crm: CrmKind) -> Result<Arc<ValidMapping>, DefaultsError> {
    type Cell = OnceLock<Result<Arc<ValidMapping>, DefaultsError>>;
    static DYNAMICS_CELL: Cell = OnceLock::new();
    static SALESFORCE_CELL: Cell = OnceLock::new();
    let cell = match crm {
        CrmKind::Dynamics => &DYNAMICS_CELL,
        CrmKind::Salesforce => &SALESFORCE_CELL,
    };
    cell.get_or_init(|| mapping(crm, "*").map(Arc::new)).clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crm::source::RecordType;
    use crate::crm::validate::MAX_FIELDS_PER_RECORD;

    #[test]
    fn both_built_in_mappings_validate_within_the_limit() {
        for crm in CrmKind::ALL {
            let m = mapping(crm, "acme").unwrap();
            assert_eq!((m.crm, m.version, m.tenant_id.as_str()), (crm, 0, "acme"));
            let kinds: Vec<RecordType> = m.records.iter().map(|r| r.record).collect();
            assert_eq!(kinds, vec![RecordType::Insight, RecordType::Task]);
            for r in &m.records {
                assert!(
                    r.fields.len() <= MAX_FIELDS_PER_RECORD,
                    "{crm} {}",
                    r.object
                );
            }
            assert_eq!(shared(crm).unwrap().records, m.records);
            let task = m.record(RecordType::Task).unwrap();
            let lookup = task.fields.iter().find(|f| f.related.is_some()).unwrap();
            assert_eq!(
                lookup.related.as_ref().unwrap().object,
                m.record(RecordType::Insight).unwrap().object
            );
        }
    }
}
