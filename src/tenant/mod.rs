//! Tenant configuration, all of it: the types, their validation and limits, and loading from
//! a file ([`config`]); the side rules ([`sides`]); the compiled form extraction uses
//! ([`runtime`]); experience profiles ([`profiles`]); data residency ([`residency`]); alert
//! rules ([`rules`]); and how a record of the tenant-config topic is read and which version
//! is in force ([`registry`]). The Kafka reader that feeds the registry is an input of the
//! pipeline (`pipeline/tenant_reader.rs`).

pub mod config;
pub mod profiles;
pub mod registry;
pub mod residency;
pub mod rules;
pub mod runtime;
pub mod sides;

pub use config::*;
pub use profiles::{owner_of, ProfileAssignment, ProfileConfig, ProfileFeatures, DEFAULT_PROFILE};
pub use registry::{interpret, Applied, TenantEvent, TenantRegistry};
pub use residency::Residency;
pub use rules::{
    Combine, ConditionKind, RuleCondition, RuleConfig, RuleError, RuleSide, RuleWindow,
};
pub use runtime::TenantRuntime;
pub use sides::apply_tenant_sides;
