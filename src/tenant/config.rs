//! Tenant configuration: trackers, competitors, internal-side rules, CRM routing and
//! features. Arrives as `TenantConfig` events on the compacted tenant-config topic (key: tenant
//! id) or from a YAML/JSON file (`debrief process --config FILE`).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

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
#[serde(default, deny_unknown_fields)]
pub struct Features {
    /// Extract action items.
    pub action_items: bool,
    /// Match trackers and competitors.
    pub trackers: bool,
    /// Compute conversation KPIs.
    pub kpis: bool,
    /// List the questions asked (their text and speaker; the KPIs' question counts stay).
    pub questions: bool,
    /// Replace personal data (e-mail addresses, phone numbers, IBANs, card numbers, national
    /// ids, IP addresses, personal URLs) by typed placeholders in the insight. On by default.
    pub redaction: bool,
    /// Record what representatives do with the suggestions (interaction telemetry). On by
    /// default.
    pub interactions: bool,
}

impl Default for Features {
    fn default() -> Self {
        Features {
            action_items: true,
            trackers: true,
            kpis: true,
            questions: true,
            redaction: true,
            interactions: true,
        }
    }
}

/// A named keyword tracker. `Default` matches the serde defaults (stemming and accent
/// insensitivity on).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
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
#[serde(default, deny_unknown_fields)]
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

impl Default for TrackerConfig {
    fn default() -> Self {
        TrackerConfig {
            name: String::new(),
            terms: Vec::new(),
            languages: BTreeMap::new(),
            teams: Vec::new(),
            stemming: true,
            accent_insensitive: true,
        }
    }
}

/// One version of a tenant's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
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
    /// The tenant opted out: its events are refused at decode time (counted as `opted_out`),
    /// open conversations dropped, and a tenant-wide erasure (reason `opt_out`) issued; a
    /// newer version with `opted_out: false` (consent recorded again) resumes processing.
    pub opted_out: bool,
    /// Days a stored insight is kept after its conversation was finalised; the retention
    /// sweep then removes it whole (CRM topic keys, CRM records, index entry). `None` (the
    /// default): kept until erased. At least 1.
    pub insight_retention_days: Option<i64>,
    /// Experience profiles (`tenant::profiles`): which features run for whom.
    pub profiles: Vec<super::profiles::ProfileConfig>,
    /// The profile of representatives assigned to none; `None`: the built-in `default`
    /// (everything the tenant enables).
    pub default_profile: Option<String>,
    /// Representatives (speaker ids or e-mail addresses) and their profiles.
    pub profile_assignments: Vec<super::profiles::ProfileAssignment>,
    /// Geography of the tenant's data (`eu`, `us`, `au`, `in`, `uk`, ...); `None`: no
    /// residency rule (`tenant::residency`).
    pub geography: Option<String>,
    /// Whether the tenant's conversations may be processed outside its geography; `None`:
    /// the geography's default (on for `eu` only).
    pub allow_cross_region: Option<bool>,
    /// Alert rules evaluated while a call runs (`super::rules`, `crate::rules`).
    pub rules: Vec<super::rules::RuleConfig>,
}

// ---------------------------------------------------------------------------------------------
// Limits and validation
// ---------------------------------------------------------------------------------------------

/// Most keyword trackers plus competitors per tenant.
pub const MAX_TRACKERS: usize = 1_000;
/// Most terms per tenant: every tracker term, competitor name and alias, per-language lists
/// included, duplicates included.
pub const MAX_TERMS: usize = 50_000;
/// Longest term, in Unicode scalar values after trimming.
pub const MAX_TERM_CHARS: usize = 200;
/// Most words in one term (a phrase).
pub const MAX_TERM_WORDS: usize = 20;
/// Longest tracker, competitor or team name, in Unicode scalar values after trimming.
pub const MAX_NAME_CHARS: usize = 200;
/// Most teams per tracker or competitor.
pub const MAX_TEAMS: usize = 1_000;
/// Most internal domains plus internal speaker ids.
pub const MAX_INTERNAL_ENTRIES: usize = 10_000;
/// Largest configuration file read by [`TenantConfig::from_path`], in bytes (32 MiB).
pub const MAX_FILE_BYTES: u64 = 32 * 1024 * 1024;

/// Why a tenant configuration was rejected. `kind` is `"tracker"` or `"competitor"`; `at`
/// names the offending entry (`terms[2]`, `aliases[0]`, `languages.fr[1]`, `name`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// `tenant_id` is empty or blank.
    #[error("tenant_id is empty")]
    EmptyTenantId,
    /// `version` is below zero.
    #[error("version {version} is negative")]
    NegativeVersion {
        /// The version given.
        version: i64,
    },
    /// `insight_retention_days` is below 1.
    #[error("insight_retention_days {days} is below 1")]
    RetentionDays {
        /// The days given.
        days: i64,
    },
    /// More trackers plus competitors than [`MAX_TRACKERS`].
    #[error("{count} trackers and competitors, more than the limit of {max}")]
    TooManyTrackers {
        /// Trackers plus competitors configured.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// More terms than [`MAX_TERMS`].
    #[error("{count} terms (names, aliases and per-language terms included), more than the limit of {max}")]
    TooManyTerms {
        /// Terms configured.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A tracker or competitor without a name.
    #[error("{kind} #{index} has an empty name")]
    EmptyName {
        /// `tracker` or `competitor`.
        kind: &'static str,
        /// 0-based position in its list.
        index: usize,
    },
    /// A name longer than [`MAX_NAME_CHARS`].
    #[error("{kind} name `{name}` is {chars} characters long, more than the limit of {max}")]
    NameTooLong {
        /// `tracker`, `competitor` or `team`.
        kind: &'static str,
        /// The name (cut to 40 characters).
        name: String,
        /// Its length in characters.
        chars: usize,
        /// The limit.
        max: usize,
    },
    /// Two trackers (or two competitors) with the same name, compared case-insensitively.
    #[error("duplicate {kind} name `{name}` (names are compared case-insensitively)")]
    DuplicateName {
        /// `tracker` or `competitor`.
        kind: &'static str,
        /// The repeated name.
        name: String,
    },
    /// A keyword tracker with no term at all.
    #[error("{kind} `{name}` has no terms")]
    NoTerms {
        /// `tracker`.
        kind: &'static str,
        /// Tracker name.
        name: String,
    },
    /// An empty or blank term.
    #[error("{kind} `{name}`: {at} is empty")]
    EmptyTerm {
        /// `tracker` or `competitor`.
        kind: &'static str,
        /// Tracker or competitor name.
        name: String,
        /// Where the term is.
        at: String,
    },
    /// A term with no letter or digit (only punctuation or symbols).
    #[error("{kind} `{name}`: {at} `{term}` has no letter or digit")]
    TermWithoutWords {
        /// `tracker` or `competitor`.
        kind: &'static str,
        /// Tracker or competitor name.
        name: String,
        /// Where the term is.
        at: String,
        /// The term.
        term: String,
    },
    /// A term longer than [`MAX_TERM_CHARS`].
    #[error(
        "{kind} `{name}`: {at} `{term}` is {chars} characters long, more than the limit of {max}"
    )]
    TermTooLong {
        /// `tracker` or `competitor`.
        kind: &'static str,
        /// Tracker or competitor name.
        name: String,
        /// Where the term is.
        at: String,
        /// The term (cut to 40 characters).
        term: String,
        /// Its length in characters.
        chars: usize,
        /// The limit.
        max: usize,
    },
    /// A phrase with more words than [`MAX_TERM_WORDS`].
    #[error("{kind} `{name}`: {at} `{term}` has {words} words, more than the limit of {max}")]
    TooManyWords {
        /// `tracker` or `competitor`.
        kind: &'static str,
        /// Tracker or competitor name.
        name: String,
        /// Where the term is.
        at: String,
        /// The term (cut to 40 characters).
        term: String,
        /// Words in the term.
        words: usize,
        /// The limit.
        max: usize,
    },
    /// A `languages` key that is not an ISO 639-1 code (`fr`, `pt-BR`).
    #[error("{kind} `{name}`: languages key `{language}` is not an ISO 639-1 code such as `fr` or `pt-BR`")]
    InvalidLanguage {
        /// `tracker` or `competitor`.
        kind: &'static str,
        /// Tracker or competitor name.
        name: String,
        /// The key given.
        language: String,
    },
    /// An empty team name.
    #[error("{kind} `{name}`: teams[{index}] is empty")]
    EmptyTeam {
        /// `tracker` or `competitor`.
        kind: &'static str,
        /// Tracker or competitor name.
        name: String,
        /// 0-based position in `teams`.
        index: usize,
    },
    /// More teams than [`MAX_TEAMS`] on one tracker or competitor.
    #[error("{kind} `{name}` has {count} teams, more than the limit of {max}")]
    TooManyTeams {
        /// `tracker` or `competitor`.
        kind: &'static str,
        /// Tracker or competitor name.
        name: String,
        /// Teams given.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// An internal domain that is not a bare domain (`example.com` or `@example.com`).
    #[error("internal_domains[{index}] `{domain}` is not a domain: {reason}")]
    InvalidDomain {
        /// 0-based position in `internal_domains`.
        index: usize,
        /// The value given (cut to 40 characters).
        domain: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// An empty internal speaker id.
    #[error("internal_speakers[{index}] is empty")]
    EmptySpeaker {
        /// 0-based position in `internal_speakers`.
        index: usize,
    },
    /// The matching automaton could not be built (not reachable within the limits above).
    #[error("the trackers cannot be compiled: {reason}")]
    Automaton {
        /// The automaton builder's reason.
        reason: String,
    },
    /// More internal domains plus speakers than [`MAX_INTERNAL_ENTRIES`].
    #[error("{count} internal domains and speakers, more than the limit of {max}")]
    TooManyInternalEntries {
        /// Domains plus speakers given.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// More profiles than [`super::profiles::MAX_PROFILES`].
    #[error("{count} profiles, more than the limit of {max}")]
    TooManyProfiles {
        /// Profiles given.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A profile name that is empty, too long or has other characters than letters, digits,
    /// `-`, `_`, `.`.
    #[error("profiles[{index}] name `{name}` is not valid: {reason}")]
    InvalidProfileName {
        /// 0-based position in `profiles`.
        index: usize,
        /// The name (cut to 40 characters).
        name: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// Two profiles with the same name.
    #[error("duplicate profile name `{name}`")]
    DuplicateProfile {
        /// The repeated name.
        name: String,
    },
    /// An assignment or `default_profile` naming a profile that is not defined.
    #[error("{at} names the profile `{profile}`, which is not defined")]
    UnknownProfile {
        /// `default_profile` or `profile_assignments[i]`.
        at: String,
        /// The name given (cut to 40 characters).
        profile: String,
    },
    /// More assignments than [`super::profiles::MAX_ASSIGNMENTS`].
    #[error("{count} profile assignments, more than the limit of {max}")]
    TooManyAssignments {
        /// Assignments given.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// An assignment without a representative.
    #[error("profile_assignments[{index}] has an empty representative")]
    EmptyRepresentative {
        /// 0-based position in `profile_assignments`.
        index: usize,
    },
    /// A representative assigned twice (the reason names positions, not the representative,
    /// which may be an e-mail address).
    #[error("profile_assignments[{index}] assigns the representative of profile_assignments[{first}] again")]
    DuplicateAssignment {
        /// The second assignment.
        index: usize,
        /// The first one.
        first: usize,
    },
    /// A `geography` that is not a region code.
    #[error("geography `{geography}` is not a region code: {reason}")]
    InvalidGeography {
        /// The value given (cut to 40 characters).
        geography: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// An alert rule is invalid (`super::rules::validate_rules`).
    #[error(transparent)]
    Rule(#[from] super::rules::RuleError),
}

/// Cuts a value for an error message to 40 characters.
fn excerpt(s: &str) -> String {
    const MAX: usize = 40;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        let mut e: String = s.chars().take(MAX).collect();
        e.push('…');
        e
    }
}

/// Checks one term (already known to belong to tracker `name` of `kind`).
fn check_term(kind: &'static str, name: &str, at: String, term: &str) -> Result<(), ConfigError> {
    let t = term.trim();
    let t = t
        .strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .unwrap_or(t);
    if t.trim().is_empty() {
        return Err(ConfigError::EmptyTerm {
            kind,
            name: name.to_string(),
            at,
        });
    }
    let chars = t.chars().count();
    if chars > MAX_TERM_CHARS {
        return Err(ConfigError::TermTooLong {
            kind,
            name: name.to_string(),
            at,
            term: excerpt(t),
            chars,
            max: MAX_TERM_CHARS,
        });
    }
    let words = crate::extract::trackers::word_count(t);
    if words == 0 {
        return Err(ConfigError::TermWithoutWords {
            kind,
            name: name.to_string(),
            at,
            term: t.to_string(),
        });
    }
    if words > MAX_TERM_WORDS {
        return Err(ConfigError::TooManyWords {
            kind,
            name: name.to_string(),
            at,
            term: excerpt(t),
            words,
            max: MAX_TERM_WORDS,
        });
    }
    Ok(())
}

/// Checks a name and the teams, languages and terms common to trackers and competitors.
/// `lists` are the named term lists (`terms`, `aliases`); returns the number of terms.
fn check_entry(
    kind: &'static str,
    index: usize,
    name: &str,
    lists: &[(&str, &[String])],
    languages: &BTreeMap<String, Vec<String>>,
    teams: &[String],
) -> Result<usize, ConfigError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(ConfigError::EmptyName { kind, index });
    }
    let chars = name.chars().count();
    if chars > MAX_NAME_CHARS {
        return Err(ConfigError::NameTooLong {
            kind,
            name: excerpt(name),
            chars,
            max: MAX_NAME_CHARS,
        });
    }
    let mut count = 0;
    for (list, terms) in lists {
        for (i, term) in terms.iter().enumerate() {
            let at = if *list == "name" {
                "name".to_string()
            } else {
                format!("{list}[{i}]")
            };
            check_term(kind, name, at, term)?;
        }
        count += terms.len();
    }
    for (language, terms) in languages {
        if crate::extract::trackers::canonical_language(language).is_none() {
            return Err(ConfigError::InvalidLanguage {
                kind,
                name: name.to_string(),
                language: excerpt(language),
            });
        }
        for (i, term) in terms.iter().enumerate() {
            check_term(kind, name, format!("languages.{language}[{i}]"), term)?;
        }
        count += terms.len();
    }
    if teams.len() > MAX_TEAMS {
        return Err(ConfigError::TooManyTeams {
            kind,
            name: name.to_string(),
            count: teams.len(),
            max: MAX_TEAMS,
        });
    }
    for (i, team) in teams.iter().enumerate() {
        let team = team.trim();
        if team.is_empty() {
            return Err(ConfigError::EmptyTeam {
                kind,
                name: name.to_string(),
                index: i,
            });
        }
        let chars = team.chars().count();
        if chars > MAX_NAME_CHARS {
            return Err(ConfigError::NameTooLong {
                kind: "team",
                name: excerpt(team),
                chars,
                max: MAX_NAME_CHARS,
            });
        }
    }
    Ok(count)
}

/// Checks one internal domain.
fn check_domain(index: usize, domain: &str) -> Result<(), ConfigError> {
    let d = domain.trim();
    let d = d.strip_prefix('@').unwrap_or(d);
    let reason = if d.is_empty() {
        Some("it is empty")
    } else if d.contains('@') {
        Some("it contains `@` (give the domain only, e.g. `example.com`)")
    } else if d.chars().any(char::is_whitespace) {
        Some("it contains white space")
    } else if d.starts_with('.') || d.ends_with('.') || d.contains("..") {
        Some("it has an empty label")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(ConfigError::InvalidDomain {
            index,
            domain: excerpt(domain),
            reason,
        }),
        None => Ok(()),
    }
}

impl TenantConfig {
    /// Validates the configuration against the rules and limits above, returning the first
    /// problem found (in field order: tenant id, version, counts, trackers, competitors,
    /// internal domains, internal speakers, profiles, geography). [`crate::extract::trackers::TrackerSet::compile`]
    /// runs this first.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.tenant_id.trim().is_empty() {
            return Err(ConfigError::EmptyTenantId);
        }
        if self.version < 0 {
            return Err(ConfigError::NegativeVersion {
                version: self.version,
            });
        }
        if let Some(days) = self.insight_retention_days.filter(|&d| d < 1) {
            return Err(ConfigError::RetentionDays { days });
        }
        let entries = self.trackers.len() + self.competitors.len();
        if entries > MAX_TRACKERS {
            return Err(ConfigError::TooManyTrackers {
                count: entries,
                max: MAX_TRACKERS,
            });
        }
        // Count before checking each term, so that a huge configuration fails fast.
        let terms: usize =
            self.trackers
                .iter()
                .map(|t| t.terms.len() + t.languages.values().map(Vec::len).sum::<usize>())
                .chain(self.competitors.iter().map(|c| {
                    1 + c.aliases.len() + c.languages.values().map(Vec::len).sum::<usize>()
                }))
                .sum();
        if terms > MAX_TERMS {
            return Err(ConfigError::TooManyTerms {
                count: terms,
                max: MAX_TERMS,
            });
        }
        let mut names = std::collections::HashSet::new();
        for (i, t) in self.trackers.iter().enumerate() {
            let count = check_entry(
                "tracker",
                i,
                &t.name,
                &[("terms", &t.terms)],
                &t.languages,
                &t.teams,
            )?;
            if count == 0 {
                return Err(ConfigError::NoTerms {
                    kind: "tracker",
                    name: t.name.trim().to_string(),
                });
            }
            if !names.insert(t.name.trim().to_lowercase()) {
                return Err(ConfigError::DuplicateName {
                    kind: "tracker",
                    name: t.name.trim().to_string(),
                });
            }
        }
        names.clear();
        for (i, c) in self.competitors.iter().enumerate() {
            let name = std::slice::from_ref(&c.name);
            check_entry(
                "competitor",
                i,
                &c.name,
                &[("name", name), ("aliases", &c.aliases)],
                &c.languages,
                &c.teams,
            )?;
            if !names.insert(c.name.trim().to_lowercase()) {
                return Err(ConfigError::DuplicateName {
                    kind: "competitor",
                    name: c.name.trim().to_string(),
                });
            }
        }
        let internal = self.internal_domains.len() + self.internal_speakers.len();
        if internal > MAX_INTERNAL_ENTRIES {
            return Err(ConfigError::TooManyInternalEntries {
                count: internal,
                max: MAX_INTERNAL_ENTRIES,
            });
        }
        for (i, d) in self.internal_domains.iter().enumerate() {
            check_domain(i, d)?;
        }
        for (i, s) in self.internal_speakers.iter().enumerate() {
            if s.trim().is_empty() {
                return Err(ConfigError::EmptySpeaker { index: i });
            }
        }
        super::profiles::validate(self)?;
        if let Some(g) = &self.geography {
            if let Some(reason) = super::residency::bad_code(g) {
                return Err(ConfigError::InvalidGeography {
                    geography: excerpt(g),
                    reason,
                });
            }
        }
        let known = |name: &str| {
            let name = name.trim().to_lowercase();
            let same = |n: &String| n.trim().to_lowercase() == name;
            self.trackers.iter().any(|t| same(&t.name))
                || self.competitors.iter().any(|c| same(&c.name))
        };
        super::rules::validate_rules(&self.rules, &known)?;
        Ok(())
    }

    /// Reads a configuration file: YAML when the name ends in `.yaml` or `.yml`, JSON when it
    /// ends in `.json` (case-insensitive). Missing fields take their defaults, unknown fields
    /// are errors (so a typo is reported, not ignored), and the result is validated with
    /// [`TenantConfig::validate`]. Errors name the file and, for syntax and field errors, the
    /// line and column (1-based).
    pub fn from_path(path: &Path) -> Result<TenantConfig, TenantFileError> {
        let file = || path.display().to_string();
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        let format = match ext.as_str() {
            "yaml" | "yml" => FileFormat::Yaml,
            "json" => FileFormat::Json,
            _ => return Err(TenantFileError::UnknownFormat { file: file() }),
        };
        let read_err = |e: std::io::Error| TenantFileError::Read {
            file: file(),
            reason: e.to_string(),
        };
        let size = std::fs::metadata(path).map_err(read_err)?.len();
        if size > MAX_FILE_BYTES {
            return Err(TenantFileError::TooLarge {
                file: file(),
                bytes: size,
                max: MAX_FILE_BYTES,
            });
        }
        let text = std::fs::read_to_string(path).map_err(read_err)?;
        let config = TenantConfig::parse(&text, format).map_err(|e| e.in_file(&file()))?;
        config
            .validate()
            .map_err(|source| TenantFileError::Invalid {
                file: file(),
                source: Box::new(source),
            })?;
        Ok(config)
    }

    /// Parses a configuration text (no validation; see [`TenantConfig::from_path`] for the
    /// rules). Errors carry the line and column; their `file` is `-`.
    pub fn parse(text: &str, format: FileFormat) -> Result<TenantConfig, TenantFileError> {
        let syntax = |line: usize, column: usize, message: String| TenantFileError::Syntax {
            file: "-".to_string(),
            line,
            column,
            message: strip_location(&message, line, column),
        };
        match format {
            FileFormat::Json => {
                serde_json::from_str(text).map_err(|e| syntax(e.line(), e.column(), e.to_string()))
            }
            FileFormat::Yaml => serde_yaml_ng::from_str(text).map_err(|e| {
                let (line, column) = e
                    .location()
                    .map(|l| (l.line(), l.column()))
                    .unwrap_or((0, 0));
                syntax(line, column, e.to_string())
            }),
        }
    }
}

/// Removes the " at line L column C" suffix serde adds, since the error carries both.
fn strip_location(message: &str, line: usize, column: usize) -> String {
    let suffix = format!(" at line {line} column {column}");
    message.strip_suffix(&suffix).unwrap_or(message).to_string()
}

/// Format of a configuration file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    /// YAML (`.yaml`, `.yml`); JSON is valid YAML too.
    Yaml,
    /// JSON (`.json`).
    Json,
}

/// Why a configuration file could not be used. Every variant names the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TenantFileError {
    /// The name does not end in `.yaml`, `.yml` or `.json`.
    #[error("tenant configuration {file}: unknown format, the file name must end in .yaml, .yml or .json")]
    UnknownFormat {
        /// The file.
        file: String,
    },
    /// The file could not be read (missing, permissions, not UTF-8).
    #[error("tenant configuration {file}: cannot read: {reason}")]
    Read {
        /// The file.
        file: String,
        /// The operating system's reason.
        reason: String,
    },
    /// The file is larger than [`MAX_FILE_BYTES`].
    #[error("tenant configuration {file}: {bytes} bytes, more than the limit of {max}")]
    TooLarge {
        /// The file.
        file: String,
        /// Its size.
        bytes: u64,
        /// The limit.
        max: u64,
    },
    /// Bad syntax, a value of the wrong type or an unknown field.
    #[error("tenant configuration {file}, line {line}, column {column}: {message}")]
    Syntax {
        /// The file (`-` for [`TenantConfig::parse`]).
        file: String,
        /// 1-based line (0 when the parser gave none).
        line: usize,
        /// 1-based column (0 when the parser gave none).
        column: usize,
        /// The parser's message.
        message: String,
    },
    /// The file parsed but the configuration is invalid.
    #[error("tenant configuration {file}: {source}")]
    Invalid {
        /// The file.
        file: String,
        /// What is wrong.
        source: Box<ConfigError>,
    },
}

impl TenantFileError {
    /// The same error, naming `file`.
    fn in_file(self, name: &str) -> TenantFileError {
        match self {
            TenantFileError::Syntax {
                line,
                column,
                message,
                ..
            } => TenantFileError::Syntax {
                file: name.to_string(),
                line,
                column,
                message,
            },
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Side;
    use std::io::Write;

    fn tracker(name: &str, terms: &[&str]) -> TrackerConfig {
        TrackerConfig {
            name: name.to_string(),
            terms: terms.iter().map(|t| t.to_string()).collect(),
            stemming: true,
            accent_insensitive: true,
            ..TrackerConfig::default()
        }
    }

    fn with(trackers: Vec<TrackerConfig>) -> TenantConfig {
        TenantConfig {
            tenant_id: "t1".to_string(),
            trackers,
            ..TenantConfig::default()
        }
    }

    fn write(name: &str, text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::File::create(&path)
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        (dir, path)
    }

    const ISSUE_EXAMPLE: &str = r#"{"tenant_id": "t1", "trackers": [{"name": "pricing", "terms": ["price", "discount"]}], "competitors": [{"name": "Salesforce", "aliases": ["SFDC", "Sales Cloud"]}]}"#;

    fn issue_example() -> TenantConfig {
        TenantConfig {
            tenant_id: "t1".to_string(),
            trackers: vec![tracker("pricing", &["price", "discount"])],
            competitors: vec![CompetitorConfig {
                name: "Salesforce".to_string(),
                aliases: vec!["SFDC".to_string(), "Sales Cloud".to_string()],
                ..CompetitorConfig::default()
            }],
            ..TenantConfig::default()
        }
    }

    #[test]
    fn loads_the_issue_example_as_json_and_yaml_with_defaults() {
        let (_d, json) = write("tenant.json", ISSUE_EXAMPLE);
        let cfg = TenantConfig::from_path(&json).unwrap();
        assert_eq!(cfg, issue_example());
        assert!(cfg.trackers[0].stemming && cfg.trackers[0].accent_insensitive);
        assert_eq!(
            cfg.features,
            Features {
                action_items: true,
                trackers: true,
                kpis: true,
                questions: true,
                redaction: true,
                interactions: true,
            }
        );
        assert_eq!(
            (cfg.version, cfg.crm, cfg.opted_out),
            (0, Crm::Dynamics, false)
        );
        let yaml = "tenant_id: t1\ntrackers:\n  - name: pricing\n    terms: [price, discount]\ncompetitors:\n  - name: Salesforce\n    aliases:\n      - SFDC\n      - Sales Cloud\n";
        let (_d, path) = write("tenant.YML", yaml);
        assert_eq!(TenantConfig::from_path(&path).unwrap(), issue_example());
        let (_d, path) = write("tenant.yaml", ISSUE_EXAMPLE);
        assert_eq!(TenantConfig::from_path(&path).unwrap(), issue_example());
    }

    #[test]
    fn every_field_round_trips_through_a_file() {
        // Fails when a field is added to the structs without being readable from a file.
        let mut cfg = issue_example();
        cfg.version = 7;
        cfg.trackers[0]
            .languages
            .insert("fr".into(), vec!["prix".into()]);
        cfg.trackers[0].teams = vec!["emea".into()];
        cfg.trackers[0].stemming = false;
        cfg.trackers[0].accent_insensitive = false;
        cfg.competitors[0]
            .languages
            .insert("de".into(), vec!["Salesforce-Cloud".into()]);
        cfg.competitors[0].teams = vec!["emea".into()];
        cfg.internal_domains = vec!["acme.com".into()];
        cfg.internal_speakers = vec!["spk_0".into()];
        cfg.crm = Crm::Salesforce;
        cfg.features = Features {
            action_items: false,
            trackers: true,
            kpis: false,
            questions: false,
            redaction: false,
            interactions: false,
        };
        cfg.profiles = vec![super::super::ProfileConfig {
            name: "support".into(),
            features: super::super::ProfileFeatures {
                trackers: false,
                ..Default::default()
            },
        }];
        cfg.default_profile = Some("support".into());
        cfg.profile_assignments = vec![super::super::ProfileAssignment {
            representative: "ann@acme.com".into(),
            profile: "default".into(),
        }];
        cfg.geography = Some("uk".into());
        cfg.allow_cross_region = Some(true);
        cfg.rules = vec![crate::tenant::RuleConfig {
            name: "no pricing early".into(),
            combine: crate::tenant::Combine::AnyOf,
            conditions: vec![crate::tenant::RuleCondition {
                kind: crate::tenant::ConditionKind::NoMention,
                tracker: Some("pricing".into()),
                side: crate::tenant::RuleSide::Internal,
                window: Some(crate::tenant::RuleWindow {
                    first_s: Some(60),
                    ..Default::default()
                }),
                ..Default::default()
            }],
            repeat: true,
        }];
        let (_d, path) = write("full.json", &serde_json::to_string(&cfg).unwrap());
        assert_eq!(TenantConfig::from_path(&path).unwrap(), cfg);
        let (_d, path) = write("full.yaml", &serde_yaml_ng::to_string(&cfg).unwrap());
        assert_eq!(TenantConfig::from_path(&path).unwrap(), cfg);
    }

    #[test]
    fn a_typo_names_the_file_line_and_column() {
        let yaml = "tenant_id: t1\ntrackers:\n  - name: pricing\n    termz: [price]\n";
        let (_d, path) = write("bad.yaml", yaml);
        match TenantConfig::from_path(&path).unwrap_err() {
            TenantFileError::Syntax {
                file,
                line,
                message,
                ..
            } => {
                assert_eq!(file, path.display().to_string());
                assert_eq!(line, 4);
                assert!(message.contains("unknown field `termz`"), "{message}");
            }
            other => panic!("unexpected {other:?}"),
        }
        // JSON syntax error on line 2 (missing comma), message names the file.
        let (_d, path) = write("bad.json", "{\"tenant_id\": \"t1\"\n \"version\": 2}");
        let err = TenantConfig::from_path(&path).unwrap_err();
        assert!(
            matches!(
                err,
                TenantFileError::Syntax {
                    line: 2,
                    column: 2,
                    ..
                }
            ),
            "{err:?}"
        );
        let text = err.to_string();
        assert!(
            text.contains("bad.json, line 2, column 2: expected `,` or `}`"),
            "{text}"
        );
        // Wrong type.
        let (_d, path) = write("bad.json", "{\"tenant_id\": \"t1\", \"version\": \"two\"}");
        assert!(matches!(
            TenantConfig::from_path(&path).unwrap_err(),
            TenantFileError::Syntax { line: 1, .. }
        ));
    }

    #[test]
    fn file_errors_name_the_file() {
        let (_d, path) = write("tenant.toml", ISSUE_EXAMPLE);
        assert!(matches!(
            TenantConfig::from_path(&path).unwrap_err(),
            TenantFileError::UnknownFormat { .. }
        ));
        let missing = std::path::Path::new("/nonexistent/tenant.json");
        let err = TenantConfig::from_path(missing).unwrap_err();
        assert!(matches!(err, TenantFileError::Read { .. }));
        assert!(err.to_string().contains("/nonexistent/tenant.json"));
        let (_d, path) = write(
            "t.json",
            r#"{"tenant_id": "t1", "trackers": [{"name": "a", "terms": ["x", ""]}]}"#,
        );
        let err = TenantConfig::from_path(&path).unwrap_err();
        assert_eq!(
            err,
            TenantFileError::Invalid {
                file: path.display().to_string(),
                source: Box::new(ConfigError::EmptyTerm {
                    kind: "tracker",
                    name: "a".into(),
                    at: "terms[1]".into()
                })
            }
        );
        assert!(
            err.to_string()
                .ends_with("t.json: tracker `a`: terms[1] is empty"),
            "{err}"
        );
    }

    #[test]
    fn invalid_configurations_give_the_reason() {
        let e = |c: TenantConfig| c.validate().unwrap_err();
        assert_eq!(e(TenantConfig::default()), ConfigError::EmptyTenantId);
        assert_eq!(
            e(TenantConfig {
                version: -1,
                ..with(vec![])
            }),
            ConfigError::NegativeVersion { version: -1 }
        );
        assert_eq!(
            e(TenantConfig {
                insight_retention_days: Some(0),
                ..with(vec![])
            }),
            ConfigError::RetentionDays { days: 0 }
        );
        assert!(TenantConfig {
            insight_retention_days: Some(1),
            ..with(vec![])
        }
        .validate()
        .is_ok());
        assert_eq!(
            e(with(vec![tracker("a", &["\"\""])])),
            ConfigError::EmptyTerm {
                kind: "tracker",
                name: "a".into(),
                at: "terms[0]".into()
            }
        );
        assert_eq!(
            e(with(vec![tracker("a", &["ok", "?!"])])),
            ConfigError::TermWithoutWords {
                kind: "tracker",
                name: "a".into(),
                at: "terms[1]".into(),
                term: "?!".into()
            }
        );
        assert_eq!(
            e(with(vec![
                tracker("Pricing", &["x"]),
                tracker(" pricing ", &["y"])
            ])),
            ConfigError::DuplicateName {
                kind: "tracker",
                name: "pricing".into()
            }
        );
        assert_eq!(
            e(with(vec![tracker(" ", &["x"])])),
            ConfigError::EmptyName {
                kind: "tracker",
                index: 0
            }
        );
        assert_eq!(
            e(with(vec![tracker("a", &[])])),
            ConfigError::NoTerms {
                kind: "tracker",
                name: "a".into()
            }
        );
        let mut t = tracker("a", &["x"]);
        t.languages.insert("english".into(), vec!["y".into()]);
        assert_eq!(
            e(with(vec![t])),
            ConfigError::InvalidLanguage {
                kind: "tracker",
                name: "a".into(),
                language: "english".into()
            }
        );
        let mut t = tracker("a", &["x"]);
        t.languages.insert("fr".into(), vec!["".into()]);
        assert_eq!(
            e(with(vec![t])),
            ConfigError::EmptyTerm {
                kind: "tracker",
                name: "a".into(),
                at: "languages.fr[0]".into()
            }
        );
        let mut t = tracker("a", &["x"]);
        t.teams = vec!["".into()];
        assert_eq!(
            e(with(vec![t])),
            ConfigError::EmptyTeam {
                kind: "tracker",
                name: "a".into(),
                index: 0
            }
        );
        let mut c = with(vec![]);
        c.competitors = vec![
            CompetitorConfig {
                name: "SAP".into(),
                ..CompetitorConfig::default()
            },
            CompetitorConfig {
                name: "sap".into(),
                ..CompetitorConfig::default()
            },
        ];
        assert_eq!(
            e(c.clone()),
            ConfigError::DuplicateName {
                kind: "competitor",
                name: "sap".into()
            }
        );
        c.competitors[1] = CompetitorConfig {
            name: "Gong".into(),
            aliases: vec![" ".into()],
            ..CompetitorConfig::default()
        };
        assert_eq!(
            e(c),
            ConfigError::EmptyTerm {
                kind: "competitor",
                name: "Gong".into(),
                at: "aliases[0]".into()
            }
        );
        // A tracker and a competitor may share a name (their kind tells them apart).
        let mut c = with(vec![tracker("Gong", &["gong"])]);
        c.competitors = vec![CompetitorConfig {
            name: "Gong".into(),
            ..CompetitorConfig::default()
        }];
        assert_eq!(c.validate(), Ok(()));
    }

    #[test]
    fn limits_are_enforced() {
        let e = |c: TenantConfig| c.validate().unwrap_err();
        let long = "a".repeat(MAX_TERM_CHARS + 1);
        assert_eq!(
            e(with(vec![tracker("a", &[&long])])),
            ConfigError::TermTooLong {
                kind: "tracker",
                name: "a".into(),
                at: "terms[0]".into(),
                term: format!("{}…", "a".repeat(40)),
                chars: 201,
                max: 200
            }
        );
        // Exactly at the limits: accepted.
        let ok = "é".repeat(MAX_TERM_CHARS);
        let words = vec!["w"; MAX_TERM_WORDS].join(" ");
        assert_eq!(with(vec![tracker("a", &[&ok, &words])]).validate(), Ok(()));
        let too_many = vec!["w"; MAX_TERM_WORDS + 1].join(" ");
        assert!(matches!(
            e(with(vec![tracker("a", &[&too_many])])),
            ConfigError::TooManyWords {
                words: 21,
                max: 20,
                ..
            }
        ));
        let terms: Vec<String> = (0..MAX_TERMS).map(|i| format!("t{i}")).collect();
        let big = TrackerConfig {
            name: "big".into(),
            terms,
            ..TrackerConfig::default()
        };
        assert_eq!(with(vec![big.clone()]).validate(), Ok(()));
        let mut over = with(vec![big]);
        over.competitors = vec![CompetitorConfig {
            name: "one more".into(),
            ..CompetitorConfig::default()
        }];
        assert_eq!(
            e(over),
            ConfigError::TooManyTerms {
                count: 50_001,
                max: 50_000
            }
        );
        let trackers: Vec<TrackerConfig> = (0..=MAX_TRACKERS)
            .map(|i| tracker(&format!("t{i}"), &["x"]))
            .collect();
        assert_eq!(
            e(with(trackers)),
            ConfigError::TooManyTrackers {
                count: 1_001,
                max: 1_000
            }
        );
    }

    #[test]
    fn internal_side_rules() {
        let mut c = with(vec![]);
        c.internal_domains = vec!["acme.com".into(), "@Example.ORG".into()];
        c.internal_speakers = vec!["spk_0".into()];
        assert_eq!(c.validate(), Ok(()));
        assert_eq!(c.side_for("ann@acme.com"), Some(Side::Internal));
        assert_eq!(c.side_for(" Bob@ACME.COM "), Some(Side::Internal));
        assert_eq!(c.side_for("carl@example.org"), Some(Side::Internal));
        assert_eq!(c.side_for("SPK_0"), Some(Side::Internal));
        assert_eq!(c.side_for("dan@eu.acme.com"), None);
        assert_eq!(c.side_for("acme.com"), None);
        assert_eq!(c.side_for("spk_1"), None);
        assert_eq!(c.side_for(""), None);
        c.internal_domains = vec!["ann@acme.com".into()];
        assert!(matches!(
            c.validate(),
            Err(ConfigError::InvalidDomain { index: 0, .. })
        ));
        c.internal_domains = vec!["@".into()];
        assert!(matches!(
            c.validate(),
            Err(ConfigError::InvalidDomain {
                reason: "it is empty",
                ..
            })
        ));
        c.internal_domains = vec![];
        c.internal_speakers = vec![" ".into()];
        assert_eq!(c.validate(), Err(ConfigError::EmptySpeaker { index: 0 }));
    }
}
