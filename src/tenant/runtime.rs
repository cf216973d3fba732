//! A tenant's configuration compiled for extraction (once per configuration version).

use super::TenantConfig;
use crate::extract::trackers::{ConfigError, TrackerSet};

/// A tenant's configuration with its trackers compiled (done once per configuration version).
#[derive(Debug, Clone)]
pub struct TenantRuntime {
    /// The configuration.
    pub config: TenantConfig,
    /// Compiled tracker matcher.
    pub trackers: TrackerSet,
    /// Compiled alert rules (`crate::rules`), shared by the conversations that use them.
    pub rules: std::sync::Arc<crate::rules::RuleSet>,
}

impl TenantRuntime {
    /// Validates and compiles a configuration.
    pub fn compile(config: TenantConfig) -> Result<TenantRuntime, ConfigError> {
        let trackers = TrackerSet::compile(&config)?;
        let rules = std::sync::Arc::new(crate::rules::RuleSet::compile(&config));
        Ok(TenantRuntime {
            config,
            trackers,
            rules,
        })
    }
}
