//! Tracked keywords and competitors (stub: owned by the trackers work).

use crate::insight::{TrackerCount, TrackerHit};
use crate::model::Conversation;
use crate::tenant::TenantConfig;

/// Why a tenant configuration was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// Placeholder.
    #[error("invalid tenant configuration: {0}")]
    Invalid(String),
}

/// Compiled matcher for one tenant configuration.
#[derive(Debug, Clone, Default)]
pub struct TrackerSet {}

impl TrackerSet {
    /// Validates and compiles a configuration.
    pub fn compile(_config: &TenantConfig) -> Result<TrackerSet, ConfigError> {
        Ok(TrackerSet {})
    }

    /// Finds every hit in the conversation (language `lang`), with counts per tracker and side.
    pub fn find(&self, _conv: &Conversation, _lang: &str) -> (Vec<TrackerHit>, Vec<TrackerCount>) {
        (Vec::new(), Vec::new())
    }
}
