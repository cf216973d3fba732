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
}

impl TenantRuntime {
    /// Validates and compiles a configuration.
    pub fn compile(config: TenantConfig) -> Result<TenantRuntime, ConfigError> {
        let trackers = TrackerSet::compile(&config)?;
        Ok(TenantRuntime { config, trackers })
    }
}
