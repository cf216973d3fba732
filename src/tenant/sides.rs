//! Which side (internal or external) a speaker is on, by the tenant's rules: listed speaker
//! ids and e-mail domains. `run` and `process` both apply them with [`apply_tenant_sides`].

use super::TenantConfig;
use crate::model::{Conversation, Side};

impl TenantConfig {
    /// The side the tenant's rules give a speaker: `Some(Side::Internal)` when the speaker id
    /// is listed in `internal_speakers` or is an e-mail address (`…@domain`) whose domain is
    /// listed in `internal_domains`; `None` otherwise (the rules never say "external").
    ///
    /// Comparisons ignore case and surrounding white space; a domain may be listed with or
    /// without its leading `@`; only the exact domain counts (`acme.com` does not cover
    /// `eu.acme.com`). Cost: linear in the number of listed entries.
    pub fn side_for(&self, speaker: &str) -> Option<Side> {
        is_internal(speaker, &self.internal_speakers, &self.internal_domains)
            .then_some(Side::Internal)
    }
}

/// `true` when the speaker is listed or has a listed e-mail domain (see
/// [`TenantConfig::side_for`]).
fn is_internal(speaker: &str, speakers: &[String], domains: &[String]) -> bool {
    let speaker = speaker.trim();
    if speaker.is_empty() {
        return false;
    }
    let same = |a: &str, b: &str| a == b || a.to_lowercase() == b.to_lowercase();
    if speakers.iter().any(|s| same(s.trim(), speaker)) {
        return true;
    }
    match speaker.rsplit_once('@') {
        Some((_, domain)) if !domain.is_empty() => domains.iter().any(|d| {
            let d = d.trim();
            same(d.strip_prefix('@').unwrap_or(d), domain)
        }),
        _ => false,
    }
}

/// Fills the side of segments whose speaker role was unknown from the tenant's rules
/// ([`TenantConfig::side_for`]); segments with a known role keep it. The one place this rule
/// lives: `run` and `process` both call it.
pub fn apply_tenant_sides(conv: &mut Conversation, tenant: &TenantConfig) {
    for seg in conv.segments.iter_mut().filter(|s| s.side == Side::Unknown) {
        if let Some(side) = tenant.side_for(&seg.speaker) {
            seg.side = side;
        }
    }
    // When the tenant's rules found an internal speaker and nobody is marked external, the
    // speakers still unknown are the other party (as conversation-intelligence products treat
    // participants outside the company's domain).
    let any = |side: Side| conv.segments.iter().any(|s| s.side == side);
    if any(Side::Internal) && !any(Side::External) {
        for seg in conv.segments.iter_mut().filter(|s| s.side == Side::Unknown) {
            seg.side = Side::External;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Segment;

    #[test]
    fn tenant_rules_fill_unknown_sides_only() {
        let mut conv = Conversation {
            segments: vec![
                Segment {
                    speaker: "bob@acme.com".into(),
                    ..Default::default()
                },
                Segment {
                    speaker: "carol@client.org".into(),
                    ..Default::default()
                },
                Segment {
                    speaker: "dan@acme.com".into(),
                    side: Side::External,
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let tenant = TenantConfig {
            internal_domains: vec!["acme.com".into()],
            ..Default::default()
        };
        apply_tenant_sides(&mut conv, &tenant);
        let sides: Vec<Side> = conv.segments.iter().map(|s| s.side).collect();
        assert_eq!(sides, vec![Side::Internal, Side::Unknown, Side::External]);
    }
}
