//! The times `debrief replay` takes (`--from`, `--to`): an RFC 3339 instant
//! (`2026-11-29T14:00:00Z`, `2026-11-29T15:00:00+01:00`) or a duration ago in humantime's
//! syntax (`2h`, `90min`, `1h 30m`, `3days`). Pure: the caller passes "now".

use chrono::DateTime;
use std::time::Duration;
use thiserror::Error;

/// A time as written on the command line, before it is resolved against "now".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeArg {
    /// An instant, in milliseconds since the Unix epoch.
    At(i64),
    /// This long before "now".
    Ago(Duration),
}

/// Why a time or a range could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TimeError {
    /// Neither an RFC 3339 instant nor a duration.
    #[error(
        "`{0}` is not a time: give an RFC 3339 instant (2026-11-29T14:00:00Z) or a duration ago (2h, 90min, 1h 30m)"
    )]
    Unreadable(String),
    /// A duration too long to count back from now.
    #[error("`{0}` reaches back before 1970")]
    TooFarBack(String),
    /// `--from` is not before `--to`.
    #[error("--from ({from}) must be before --to ({to})")]
    EmptyRange {
        /// `--from`, as RFC 3339.
        from: String,
        /// `--to`, as RFC 3339.
        to: String,
    },
}

impl TimeArg {
    /// Reads `text`: an RFC 3339 instant, else a humantime duration (meaning "that long ago").
    pub fn parse(text: &str) -> Result<TimeArg, TimeError> {
        let text = text.trim();
        if let Ok(at) = DateTime::parse_from_rfc3339(text) {
            return Ok(TimeArg::At(at.timestamp_millis()));
        }
        match humantime::parse_duration(text) {
            Ok(d) => Ok(TimeArg::Ago(d)),
            Err(_) => Err(TimeError::Unreadable(text.to_string())),
        }
    }

    /// The instant in milliseconds since the Unix epoch, `now_ms` being now.
    pub fn resolve(self, now_ms: i64) -> Result<i64, TimeError> {
        match self {
            TimeArg::At(ms) => Ok(ms),
            TimeArg::Ago(d) => i64::try_from(d.as_millis())
                .ok()
                .and_then(|ago| now_ms.checked_sub(ago))
                .filter(|&ms| ms >= 0)
                .ok_or_else(|| TimeError::TooFarBack(humantime::format_duration(d).to_string())),
        }
    }
}

/// `--from` and `--to` resolved against `now_ms`: `(from, to)` in ms since the epoch, `to`
/// `None` when not given (the end of each partition when the replay starts). `from` must be
/// before `to`.
pub fn resolve_range(
    from: TimeArg,
    to: Option<TimeArg>,
    now_ms: i64,
) -> Result<(i64, Option<i64>), TimeError> {
    let from = from.resolve(now_ms)?;
    let to = to.map(|t| t.resolve(now_ms)).transpose()?;
    if let Some(to) = to {
        if from >= to {
            return Err(TimeError::EmptyRange {
                from: rfc3339(from),
                to: rfc3339(to),
            });
        }
    }
    Ok((from, to))
}

/// `ms` since the epoch as RFC 3339 (UTC, milliseconds), for messages and summaries.
pub fn rfc3339(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_else(|| format!("{ms} ms"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_764_424_800_000; // 2025-11-29T14:00:00Z

    #[test]
    fn rfc3339_instants_with_any_offset() {
        assert_eq!(TimeArg::parse("2025-11-29T14:00:00Z"), Ok(TimeArg::At(NOW)));
        assert_eq!(
            TimeArg::parse("2025-11-29T15:00:00+01:00"),
            Ok(TimeArg::At(NOW))
        );
        assert_eq!(
            TimeArg::parse(" 2025-11-29T14:00:00.250Z "),
            Ok(TimeArg::At(NOW + 250))
        );
    }

    #[test]
    fn durations_mean_that_long_ago() {
        let ago = |s: &str| TimeArg::parse(s).unwrap().resolve(NOW).unwrap();
        assert_eq!(ago("2h"), NOW - 7_200_000);
        assert_eq!(ago("90min"), NOW - 5_400_000);
        assert_eq!(ago("1h 30m"), NOW - 5_400_000);
        assert_eq!(ago("1day"), NOW - 86_400_000);
        assert_eq!(ago("0s"), NOW);
    }

    #[test]
    fn unreadable_times_say_what_is_accepted() {
        for bad in [
            "",
            "yesterday",
            "2025-11-29",
            "2025-11-29 14:00",
            "-2h",
            "2 hours ago",
        ] {
            let err = TimeArg::parse(bad).unwrap_err();
            assert!(matches!(err, TimeError::Unreadable(_)), "{bad}: {err:?}");
            assert!(err.to_string().contains("RFC 3339"), "{err}");
        }
    }

    #[test]
    fn a_duration_before_the_epoch_is_refused() {
        let err = TimeArg::parse("100years")
            .unwrap()
            .resolve(NOW)
            .unwrap_err();
        assert!(matches!(err, TimeError::TooFarBack(_)), "{err:?}");
    }

    #[test]
    fn from_must_come_before_to() {
        let at = |s: &str| TimeArg::parse(s).unwrap();
        assert_eq!(
            resolve_range(at("2h"), Some(at("1h")), NOW),
            Ok((NOW - 7_200_000, Some(NOW - 3_600_000)))
        );
        assert_eq!(
            resolve_range(at("2h"), None, NOW),
            Ok((NOW - 7_200_000, None))
        );
        let err = resolve_range(at("1h"), Some(at("2h")), NOW).unwrap_err();
        assert_eq!(
            err.to_string(),
            "--from (2025-11-29T13:00:00.000Z) must be before --to (2025-11-29T12:00:00.000Z)"
        );
        assert!(resolve_range(at("1h"), Some(at("1h")), NOW).is_err());
    }
}
