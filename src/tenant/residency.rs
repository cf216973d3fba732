//! Data residency: may this deployment process a tenant's conversations?
//!
//! Each deployment runs in a region (`region` of the service configuration: `eu`, `us`,
//! `au`, `in`, `uk`, ...). A tenant's configuration may give its geography and whether it
//! allows cross-region data movement. The rule, from the product document ("available by
//! default to customers with United States, Australia, India and United Kingdom as their
//! geography; for Europe, data movement is enabled by default; for all other regions, enable
//! data movement across regions"):
//!
//! | tenant geography | `allow_cross_region` unset | `true` | `false` |
//! |---|---|---|---|
//! | none given | processed everywhere (no residency rule) | everywhere | everywhere |
//! | `us`, `au`, `in`, `uk` | its own region only | everywhere | its own region only |
//! | `eu` | everywhere (movement on by default) | everywhere | its own region only |
//! | any other | its own region only (must enable movement) | everywhere | its own region only |
//!
//! A deployment without a `region` is in no geography: it processes the tenants without a
//! geography and those that allow movement, and refuses the others (fail closed: a missing
//! setting never moves data out of its geography). Codes are compared case-insensitively.
//! Pure: the pipeline refuses at decode time what [`decide`] refuses.

use super::TenantConfig;

/// Geographies whose tenants process in their own region unless they enable movement.
pub const OWN_REGION_BY_DEFAULT: [&str; 4] = ["us", "au", "in", "uk"];
/// Geographies whose tenants allow cross-region movement unless they disable it.
pub const MOVEMENT_BY_DEFAULT: [&str; 1] = ["eu"];
/// Longest region or geography code, in characters.
pub const MAX_CODE_CHARS: usize = 16;

/// What [`decide`] says about a tenant's conversations in a deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Residency {
    /// The tenant gives no geography: no residency rule applies.
    Unrestricted,
    /// The deployment is in the tenant's geography.
    Local,
    /// Another geography, and the tenant allows movement (explicitly or by default).
    CrossRegion,
    /// Another geography, and movement is not allowed: nothing of it is processed here.
    Refused,
}

impl Residency {
    /// `true` unless [`Residency::Refused`].
    pub fn allowed(self) -> bool {
        self != Residency::Refused
    }
}

/// Whether a tenant of `geography` allows cross-region movement when its configuration does
/// not say: only Europe (see the table above).
pub fn movement_by_default(geography: &str) -> bool {
    let g = geography.trim();
    MOVEMENT_BY_DEFAULT
        .iter()
        .any(|m| m.eq_ignore_ascii_case(g))
}

/// The rule of the table above, for a deployment in `region` (`None`: no region configured)
/// and a tenant of `geography` with `allow_cross_region`.
pub fn decide(
    region: Option<&str>,
    geography: Option<&str>,
    allow_cross_region: Option<bool>,
) -> Residency {
    let Some(geography) = geography.map(str::trim).filter(|g| !g.is_empty()) else {
        return Residency::Unrestricted;
    };
    if region.is_some_and(|r| r.trim().eq_ignore_ascii_case(geography)) {
        return Residency::Local;
    }
    if allow_cross_region.unwrap_or_else(|| movement_by_default(geography)) {
        Residency::CrossRegion
    } else {
        Residency::Refused
    }
}

/// Checks a region or geography code: 2 to [`MAX_CODE_CHARS`] ASCII letters, digits or `-`.
/// `Some(reason)` when it is not one.
pub fn bad_code(code: &str) -> Option<&'static str> {
    let c = code.trim();
    if c.chars().count() < 2 || c.chars().count() > MAX_CODE_CHARS {
        Some("it must be 2 to 16 characters long (eu, us, au, in, uk, ...)")
    } else if !c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-') {
        Some("only ASCII letters, digits and `-` are allowed (eu, us, au, in, uk, ...)")
    } else {
        None
    }
}

impl TenantConfig {
    /// [`decide`] for this tenant in a deployment of `region`.
    pub fn residency_in(&self, region: Option<&str>) -> Residency {
        decide(region, self.geography.as_deref(), self.allow_cross_region)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Residency::*;

    /// Deployment region, tenant geography, allow_cross_region, expected.
    type Case = (
        Option<&'static str>,
        Option<&'static str>,
        Option<bool>,
        Residency,
    );

    #[test]
    fn the_documents_table() {
        let cases: &[Case] = &[
            // No geography: no rule, whatever the deployment.
            (Some("us"), None, None, Unrestricted),
            (None, None, Some(false), Unrestricted),
            (Some("eu"), Some("  "), None, Unrestricted),
            // US, Australia, India, UK: their own region by default.
            (Some("us"), Some("us"), None, Local),
            (Some("eu"), Some("us"), None, Refused),
            (Some("us"), Some("au"), None, Refused),
            (Some("eu"), Some("in"), None, Refused),
            (Some("us"), Some("uk"), None, Refused),
            (Some("uk"), Some("UK"), None, Local),
            (Some("eu"), Some("us"), Some(true), CrossRegion),
            (Some("eu"), Some("au"), Some(false), Refused),
            // Europe: movement enabled by default, can be switched off.
            (Some("us"), Some("eu"), None, CrossRegion),
            (Some("eu"), Some("eu"), None, Local),
            (Some("us"), Some("eu"), Some(false), Refused),
            (Some("eu"), Some("eu"), Some(false), Local),
            // Other geographies must enable it.
            (Some("eu"), Some("jp"), None, Refused),
            (Some("us"), Some("br"), Some(true), CrossRegion),
            (Some("jp"), Some("jp"), None, Local),
            // A deployment without a region is in no geography.
            (None, Some("us"), None, Refused),
            (None, Some("eu"), None, CrossRegion),
            (None, Some("ca"), Some(true), CrossRegion),
        ];
        for &(region, geography, allow, expected) in cases {
            assert_eq!(
                decide(region, geography, allow),
                expected,
                "region {region:?}, geography {geography:?}, allow_cross_region {allow:?}"
            );
        }
        assert!(!Refused.allowed() && Local.allowed() && CrossRegion.allowed());
    }

    #[test]
    fn defaults_follow_the_geography() {
        for g in OWN_REGION_BY_DEFAULT {
            assert!(!movement_by_default(g), "{g}");
        }
        assert!(movement_by_default("eu") && movement_by_default(" EU "));
        assert!(!movement_by_default("ca"));
    }

    #[test]
    fn codes_are_short_ascii_identifiers() {
        assert_eq!(bad_code("eu"), None);
        assert_eq!(bad_code("us-east"), None);
        assert!(bad_code("e").is_some());
        assert!(bad_code("europe and more").is_some());
        assert!(bad_code("ü-land").is_some());
        assert!(bad_code("").is_some());
    }

    #[test]
    fn a_tenant_configuration_uses_the_rule() {
        let mut c = TenantConfig {
            tenant_id: "t".into(),
            geography: Some("us".into()),
            ..TenantConfig::default()
        };
        assert_eq!(c.residency_in(Some("eu")), Refused);
        assert_eq!(c.residency_in(Some("us")), Local);
        c.allow_cross_region = Some(true);
        assert_eq!(c.residency_in(Some("eu")), CrossRegion);
    }
}
