//! The source's retention against the 7-day erasure promise: Debrief cannot delete records
//! from the transcript topic (it belongs to the publisher), so a transcript topic that keeps
//! records longer than 7 days keeps erased conversations' text longer than promised.

use super::erasure::DEADLINE_MS;

/// What a topic's `retention.ms` means for the promise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceRetention {
    /// Records are deleted within 7 days.
    Within,
    /// Records are kept longer (`None`: forever, `retention.ms=-1`), ms.
    Exceeds(Option<i64>),
    /// The setting could not be read.
    Unknown,
}

/// Judges a `retention.ms` value as the admin API returns it.
pub fn judge(retention_ms: Option<&str>) -> SourceRetention {
    match retention_ms.map(str::trim).map(str::parse::<i64>) {
        Some(Ok(ms)) if ms < 0 => SourceRetention::Exceeds(None),
        Some(Ok(ms)) if ms > DEADLINE_MS => SourceRetention::Exceeds(Some(ms)),
        Some(Ok(_)) => SourceRetention::Within,
        _ => SourceRetention::Unknown,
    }
}

/// The `/readyz` detail and log line for a topic whose retention exceeds the promise.
pub fn warning(topic: &str, retention: &SourceRetention) -> Option<String> {
    match retention {
        SourceRetention::Exceeds(Some(ms)) => Some(format!(
            "transcript topic {topic} keeps records {} days (retention.ms={ms}): the 7-day erasure promise cannot hold for the source",
            ms / 86_400_000
        )),
        SourceRetention::Exceeds(None) => Some(format!(
            "transcript topic {topic} keeps records forever (retention.ms=-1): the 7-day erasure promise cannot hold for the source"
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seven_days_is_within_and_more_or_forever_exceeds() {
        assert_eq!(judge(Some("604800000")), SourceRetention::Within);
        assert_eq!(judge(Some("3600000")), SourceRetention::Within);
        assert_eq!(
            judge(Some("604800001")),
            SourceRetention::Exceeds(Some(604_800_001))
        );
        assert_eq!(judge(Some("-1")), SourceRetention::Exceeds(None));
        assert_eq!(judge(Some("x")), SourceRetention::Unknown);
        assert_eq!(judge(None), SourceRetention::Unknown);
        let w = warning("t", &judge(Some("2592000000"))).unwrap();
        assert!(w.contains("30 days") && w.contains("7-day"), "{w}");
        assert!(warning("t", &SourceRetention::Within).is_none());
    }
}
