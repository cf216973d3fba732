//! Tenant configuration: trackers, competitors, internal-side rules, CRM routing and
//! features. Arrives as `TenantConfig` events on the compacted tenant-config topic (key: tenant
//! id) or from a YAML/JSON file (`debrief process --config FILE`).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Which CRM the tenant's insights go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Crm {
    /// Dynamics 365-like connector topic.
    #[default]
    Dynamics,
    /// Salesforce-like connector topic.
    Salesforce,
    /// No CRM write-back: the insight goes to no CRM topic; telemetry is still recorded.
    None,
}

/// Features a tenant can switch on or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Features {
    /// Extract action items.
    pub action_items: bool,
    /// Match trackers and competitors.
    pub trackers: bool,
    /// Compute conversation KPIs.
    pub kpis: bool,
}

impl Default for Features {
    fn default() -> Self {
        Features { action_items: true, trackers: true, kpis: true }
    }
}

/// A named keyword tracker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct TrackerConfig {
    /// Tracker name, unique within the tenant.
    pub name: String,
    /// Terms (words or phrases) for every language.
    pub terms: Vec<String>,
    /// Extra terms per ISO 639-1 language, used when the conversation is in that language.
    pub languages: BTreeMap<String, Vec<String>>,
    /// Teams this tracker applies to; empty means the whole tenant.
    pub teams: Vec<String>,
    /// Match related word forms (stemming) in the conversation's language. Default true.
    #[serde(default = "yes")]
    pub stemming: bool,
    /// Ignore accents ("resume" finds "résumé"). Default true.
    #[serde(default = "yes")]
    pub accent_insensitive: bool,
}

/// A competitor and its aliases.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct CompetitorConfig {
    /// Competitor name (also matched as a term).
    pub name: String,
    /// Aliases ("SFDC", "Sales Cloud").
    pub aliases: Vec<String>,
    /// Extra aliases per ISO 639-1 language.
    pub languages: BTreeMap<String, Vec<String>>,
    /// Teams this competitor applies to; empty means the whole tenant.
    pub teams: Vec<String>,
}

fn yes() -> bool {
    true
}

/// One version of a tenant's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct TenantConfig {
    /// Tenant id (the Kafka key).
    pub tenant_id: String,
    /// Monotonic version; the insight records the version it used.
    pub version: i64,
    /// Keyword trackers.
    pub trackers: Vec<TrackerConfig>,
    /// Competitors.
    pub competitors: Vec<CompetitorConfig>,
    /// E-mail domains of the tenant's own people: a speaker id ending in `@domain` is internal.
    pub internal_domains: Vec<String>,
    /// Speaker ids that are internal.
    pub internal_speakers: Vec<String>,
    /// CRM the insights go to.
    pub crm: Crm,
    /// Enabled features.
    pub features: Features,
    /// The tenant opted out: nothing is processed and stored state is erased.
    pub opted_out: bool,
}
