//! Experience profiles: which features run for whom.
//!
//! A tenant configuration names profiles ([`ProfileConfig`]), each switching the experience
//! features on or off ([`ProfileFeatures`]: KPIs, action items, trackers, questions,
//! interaction recording), and assigns representatives to them ([`ProfileAssignment`]). A
//! conversation gets the profile of its owner ([`owner_of`]); a representative assigned to
//! no profile, or a conversation without an owner, gets the tenant's default profile
//! ([`TenantConfig::default_profile`], the built-in [`DEFAULT_PROFILE`] when unset, which
//! enables everything). A profile can only narrow the tenant's own [`Features`]: the
//! features in force are the tenant's AND the profile's; redaction is tenant-wide.
//!
//! Pure: no IO. `debrief process --config` and `debrief run` both resolve the profile inside
//! [`crate::extract::analyse_with`], so both give the same insight.

use super::{ConfigError, Features, TenantConfig};
use crate::model::{Conversation, Side};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::HashMap;

/// Name of the built-in default profile: every feature the tenant enables. A tenant may
/// define a profile of this name to change what the default enables.
pub const DEFAULT_PROFILE: &str = "default";
/// Most profiles per tenant.
pub const MAX_PROFILES: usize = 100;
/// Most representative assignments per tenant.
pub const MAX_ASSIGNMENTS: usize = 10_000;
/// Longest profile name, in characters.
pub const MAX_PROFILE_NAME_CHARS: usize = 64;

/// The features a profile enables; each is on unless switched off, so a profile that names
/// no feature enables everything the tenant enables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProfileFeatures {
    /// Conversation KPIs.
    pub kpis: bool,
    /// Action items.
    pub action_items: bool,
    /// Tracker and competitor hits.
    pub trackers: bool,
    /// Questions asked.
    pub questions: bool,
    /// Recording of what representatives do with the suggestions (interaction telemetry).
    pub interactions: bool,
}

impl Default for ProfileFeatures {
    fn default() -> Self {
        ProfileFeatures {
            kpis: true,
            action_items: true,
            trackers: true,
            questions: true,
            interactions: true,
        }
    }
}

/// A named experience profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct ProfileConfig {
    /// Profile name, unique within the tenant (compared exactly); 1 to
    /// [`MAX_PROFILE_NAME_CHARS`] letters, digits, `-`, `_` or `.`. Written into the insight.
    pub name: String,
    /// What the profile enables.
    pub features: ProfileFeatures,
}

/// One representative assigned to a profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct ProfileAssignment {
    /// The representative: a speaker id (compared exactly, surrounding white space ignored)
    /// or an e-mail address (anything with an `@`: compared case-insensitively).
    pub representative: String,
    /// The profile's name.
    pub profile: String,
}

/// The form a representative is compared in: trimmed, and lower-case when it is an e-mail
/// address (it contains `@`).
fn representative_key(s: &str) -> Cow<'_, str> {
    let s = s.trim();
    if s.contains('@') {
        Cow::Owned(s.to_lowercase())
    } else {
        Cow::Borrowed(s)
    }
}

/// The owner of a conversation, whose profile applies: its `owner_id` when the publisher gave
/// one (not blank); else the speaker of the first segment on the internal side (after the
/// tenant's side rules, which both `run` and `process` apply before analysis); else `None`
/// (the default profile applies).
pub fn owner_of(conv: &Conversation) -> Option<&str> {
    conv.owner_id
        .as_deref()
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .or_else(|| {
            conv.segments
                .iter()
                .find(|s| s.side == Side::Internal)
                .map(|s| s.speaker.as_str())
        })
}

impl TenantConfig {
    /// The profile that applies to a conversation owned by `owner` (see [`owner_of`]), and
    /// the features in force for it: the name of the owner's assigned profile, or of the
    /// default one ([`TenantConfig::default_profile`] or [`DEFAULT_PROFILE`]) when `owner` is
    /// `None` or assigned to none; its features ANDed with the tenant's ([`Features`];
    /// `redaction` stays the tenant's). Cost: linear in the assignments (at most
    /// [`MAX_ASSIGNMENTS`]). Meant for a validated configuration; on an invalid one, an
    /// assignment to an unknown profile falls back to the tenant's features.
    pub fn profile_for(&self, owner: Option<&str>) -> (&str, Features) {
        let assigned = owner.and_then(|owner| {
            let key = representative_key(owner);
            self.profile_assignments
                .iter()
                .find(|a| representative_key(&a.representative) == key)
                .map(|a| a.profile.trim())
        });
        let name = assigned.unwrap_or_else(|| self.default_profile_name());
        let features = self.profile_features(name).unwrap_or(self.features);
        (name, features)
    }

    /// The default profile's name: `default_profile` when set, else [`DEFAULT_PROFILE`].
    pub fn default_profile_name(&self) -> &str {
        self.default_profile
            .as_deref()
            .map(str::trim)
            .unwrap_or(DEFAULT_PROFILE)
    }

    /// The features in force for the profile called `name` (the tenant's ANDed with the
    /// profile's); the tenant's own for [`DEFAULT_PROFILE`] when no profile of that name is
    /// defined; `None` for any other unknown name. For readers of an insight's `profile`
    /// (e.g. whether its interactions are recorded).
    pub fn profile_features(&self, name: &str) -> Option<Features> {
        match self.profiles.iter().find(|p| p.name.trim() == name) {
            Some(p) => Some(narrow(self.features, p.features)),
            None => (name == DEFAULT_PROFILE).then_some(self.features),
        }
    }
}

/// The tenant's features narrowed by a profile's.
fn narrow(tenant: Features, profile: ProfileFeatures) -> Features {
    Features {
        action_items: tenant.action_items && profile.action_items,
        trackers: tenant.trackers && profile.trackers,
        kpis: tenant.kpis && profile.kpis,
        questions: tenant.questions && profile.questions,
        interactions: tenant.interactions && profile.interactions,
        redaction: tenant.redaction,
    }
}

/// Checks a profile name; `Some(reason)` when it is not acceptable.
fn bad_name(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("it is empty")
    } else if name.chars().count() > MAX_PROFILE_NAME_CHARS {
        Some("it is longer than 64 characters")
    } else if !name
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        Some("only letters, digits, `-`, `_` and `.` are allowed")
    } else {
        None
    }
}

/// Validates the profile part of a configuration: at most [`MAX_PROFILES`] profiles with
/// valid, distinct names; at most [`MAX_ASSIGNMENTS`] assignments, none blank, each to a
/// known profile (a defined one or [`DEFAULT_PROFILE`]), no representative assigned twice
/// (even to the same profile); a `default_profile` that names a known profile. Errors name
/// assignments by position, never by the representative (an e-mail address is personal data
/// and rejection reasons go into dead-letter headers and logs).
pub(super) fn validate(config: &TenantConfig) -> Result<(), ConfigError> {
    if config.profiles.len() > MAX_PROFILES {
        return Err(ConfigError::TooManyProfiles {
            count: config.profiles.len(),
            max: MAX_PROFILES,
        });
    }
    let mut names = std::collections::HashSet::new();
    for (index, p) in config.profiles.iter().enumerate() {
        let name = p.name.trim();
        if let Some(reason) = bad_name(name) {
            return Err(ConfigError::InvalidProfileName {
                index,
                name: name.chars().take(40).collect(),
                reason,
            });
        }
        if !names.insert(name) {
            return Err(ConfigError::DuplicateProfile {
                name: name.to_string(),
            });
        }
    }
    let known = |name: &str| name == DEFAULT_PROFILE || names.contains(name);
    if let Some(default) = &config.default_profile {
        if !known(default.trim()) {
            return Err(ConfigError::UnknownProfile {
                at: "default_profile".to_string(),
                profile: default.trim().chars().take(40).collect(),
            });
        }
    }
    if config.profile_assignments.len() > MAX_ASSIGNMENTS {
        return Err(ConfigError::TooManyAssignments {
            count: config.profile_assignments.len(),
            max: MAX_ASSIGNMENTS,
        });
    }
    let mut seen: HashMap<Cow<'_, str>, usize> = HashMap::new();
    for (index, a) in config.profile_assignments.iter().enumerate() {
        if a.representative.trim().is_empty() {
            return Err(ConfigError::EmptyRepresentative { index });
        }
        if !known(a.profile.trim()) {
            return Err(ConfigError::UnknownProfile {
                at: format!("profile_assignments[{index}]"),
                profile: a.profile.trim().chars().take(40).collect(),
            });
        }
        if let Some(&first) = seen.get(&representative_key(&a.representative)) {
            return Err(ConfigError::DuplicateAssignment { index, first });
        }
        seen.insert(representative_key(&a.representative), index);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Segment;

    fn profile(name: &str, features: ProfileFeatures) -> ProfileConfig {
        ProfileConfig {
            name: name.into(),
            features,
        }
    }

    fn assign(representative: &str, profile: &str) -> ProfileAssignment {
        ProfileAssignment {
            representative: representative.into(),
            profile: profile.into(),
        }
    }

    fn tenant() -> TenantConfig {
        TenantConfig {
            tenant_id: "acme".into(),
            profiles: vec![
                profile(
                    "no-actions",
                    ProfileFeatures {
                        action_items: false,
                        ..ProfileFeatures::default()
                    },
                ),
                profile(
                    "kpis_only",
                    ProfileFeatures {
                        kpis: true,
                        action_items: false,
                        trackers: false,
                        questions: false,
                        interactions: false,
                    },
                ),
            ],
            profile_assignments: vec![
                assign("Ann@Acme.com", "no-actions"),
                assign("spk_7", "kpis_only"),
            ],
            ..TenantConfig::default()
        }
    }

    #[test]
    fn out_of_the_box_the_default_profile_enables_everything() {
        let c = TenantConfig {
            tenant_id: "acme".into(),
            ..TenantConfig::default()
        };
        assert_eq!(c.validate(), Ok(()));
        let all = Features {
            action_items: true,
            trackers: true,
            kpis: true,
            questions: true,
            interactions: true,
            redaction: true,
        };
        assert_eq!(c.profile_for(None), ("default", all));
        assert_eq!(c.profile_for(Some("anyone@acme.com")), ("default", all));
    }

    #[test]
    fn representatives_get_their_profile_and_others_the_default() {
        let c = tenant();
        assert_eq!(c.validate(), Ok(()));
        let (name, f) = c.profile_for(Some("ann@acme.com"));
        assert_eq!(name, "no-actions");
        assert!(!f.action_items && f.kpis && f.trackers && f.questions && f.interactions);
        // E-mail addresses ignore case and surrounding white space.
        assert_eq!(c.profile_for(Some(" ANN@ACME.COM ")).0, "no-actions");
        // Speaker ids are compared exactly.
        let (name, f) = c.profile_for(Some("spk_7"));
        assert_eq!(name, "kpis_only");
        assert!(f.kpis && !f.action_items && !f.trackers && !f.questions && !f.interactions);
        assert_eq!(c.profile_for(Some("SPK_7")).0, "default");
        assert_eq!(c.profile_for(Some("bob@acme.com")).0, "default");
        assert_eq!(c.profile_for(None).0, "default");
    }

    #[test]
    fn a_profile_narrows_the_tenant_features_and_keeps_its_redaction() {
        let mut c = tenant();
        c.features.trackers = false;
        c.features.redaction = false;
        c.default_profile = Some("no-actions".into());
        let (name, f) = c.profile_for(Some("carl@acme.com"));
        assert_eq!(name, "no-actions");
        assert!(!f.trackers, "the tenant switched trackers off");
        assert!(
            !f.action_items,
            "the default profile switched action items off"
        );
        assert!(!f.redaction && f.kpis);
        assert_eq!(c.profile_features("kpis_only").map(|f| f.kpis), Some(true));
        assert_eq!(c.profile_features("default"), Some(c.features));
        assert_eq!(c.profile_features("nope"), None);
    }

    #[test]
    fn a_tenant_may_redefine_the_default_profile() {
        let mut c = tenant();
        c.profiles.push(profile(
            "default",
            ProfileFeatures {
                questions: false,
                ..ProfileFeatures::default()
            },
        ));
        assert_eq!(c.validate(), Ok(()));
        let (name, f) = c.profile_for(None);
        assert_eq!(name, "default");
        assert!(!f.questions && f.action_items);
    }

    #[test]
    fn invalid_profiles_are_rejected_with_a_reason() {
        let e = |c: TenantConfig| c.validate().unwrap_err();
        let mut c = tenant();
        c.profile_assignments
            .push(assign("dan@acme.com", "missing"));
        assert_eq!(
            e(c),
            ConfigError::UnknownProfile {
                at: "profile_assignments[2]".into(),
                profile: "missing".into()
            }
        );
        let mut c = tenant();
        c.profile_assignments
            .push(assign(" ann@ACME.com", "kpis_only"));
        let err = e(c);
        assert_eq!(err, ConfigError::DuplicateAssignment { index: 2, first: 0 });
        assert!(
            !err.to_string().to_lowercase().contains("ann@acme.com"),
            "no e-mail address in the reason: {err}"
        );
        let mut c = tenant();
        c.profiles
            .push(profile("kpis_only", ProfileFeatures::default()));
        assert_eq!(
            e(c),
            ConfigError::DuplicateProfile {
                name: "kpis_only".into()
            }
        );
        let mut c = tenant();
        c.profiles[0].name = "sales team".into();
        assert!(matches!(
            e(c),
            ConfigError::InvalidProfileName { index: 0, .. }
        ));
        let mut c = tenant();
        c.profiles[0].name = " ".into();
        assert!(matches!(
            e(c),
            ConfigError::InvalidProfileName {
                reason: "it is empty",
                ..
            }
        ));
        let mut c = tenant();
        c.default_profile = Some("gold".into());
        assert_eq!(
            e(c),
            ConfigError::UnknownProfile {
                at: "default_profile".into(),
                profile: "gold".into()
            }
        );
        let mut c = tenant();
        c.profile_assignments.push(assign("  ", "default"));
        assert_eq!(e(c), ConfigError::EmptyRepresentative { index: 2 });
        let mut c = tenant();
        c.profiles = (0..=MAX_PROFILES)
            .map(|i| profile(&format!("p{i}"), ProfileFeatures::default()))
            .collect();
        c.profile_assignments.clear();
        assert_eq!(
            e(c),
            ConfigError::TooManyProfiles {
                count: 101,
                max: 100
            }
        );
        let mut c = tenant();
        c.profile_assignments = (0..=MAX_ASSIGNMENTS)
            .map(|i| assign(&format!("spk_{i}"), "default"))
            .collect();
        assert_eq!(
            e(c),
            ConfigError::TooManyAssignments {
                count: 10_001,
                max: 10_000
            }
        );
        // Assigning to the built-in default profile is allowed.
        let mut c = tenant();
        c.profile_assignments
            .push(assign("eve@acme.com", "default"));
        assert_eq!(c.validate(), Ok(()));
    }

    #[test]
    fn the_owner_is_the_given_one_else_the_first_internal_speaker() {
        let seg = |speaker: &str, side: Side| Segment {
            speaker: speaker.into(),
            side,
            ..Segment::default()
        };
        let mut conv = Conversation {
            segments: vec![
                seg("cust@client.com", Side::External),
                seg("spk_7", Side::Internal),
                seg("ann@acme.com", Side::Internal),
            ],
            ..Conversation::default()
        };
        assert_eq!(owner_of(&conv), Some("spk_7"));
        conv.owner_id = Some(" ann@acme.com ".into());
        assert_eq!(owner_of(&conv), Some("ann@acme.com"));
        conv.owner_id = Some(" ".into());
        assert_eq!(owner_of(&conv), Some("spk_7"));
        conv.segments.retain(|s| s.side != Side::Internal);
        assert_eq!(owner_of(&conv), None);
    }
}
