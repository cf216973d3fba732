//! What a replay reads and what it rewrites, decided from the broker's answers (pure).
//!
//! For each partition of the transcript topics the replay reads the offsets
//! `[start, end)`:
//! - `end`: the first offset whose timestamp is at or after `--to` (Kafka's
//!   `ListOffsets` by time, `offsets_for_times`), or the partition's end when the replay
//!   starts (no `--to`, or no record at or after it). Records produced later are not read.
//! - `from`: the first offset whose timestamp is at or after `--from`. A conversation is
//!   rewritten only when its first event lies at or after it ([`PartitionPlan::admits`]).
//! - `start`: the first offset at or after `--from` minus the look-back (by default twice
//!   `assembly.idle_timeout_ms`). The records between `start` and `from` are assembled but
//!   nothing is written for them: they make every conversation that straddles `--from`
//!   begin before `from` here, so it is skipped instead of giving a truncated insight under
//!   the key of a complete one. Why twice the idle timeout: a conversation still open at
//!   `--from` had an event within one idle timeout before it (else it was finalised by idle
//!   timeout, in stream time), and one finalised before `--from` whose late events come
//!   after it had its last event within two idle timeouts before them (the assembler
//!   remembers closed ids for one idle timeout after closing them), so those late events
//!   stay late here as they were in the service.

use std::time::Duration;

/// The look-back when none is given: twice the idle timeout (see the module docs).
pub fn default_lookback(idle_timeout: Duration) -> Duration {
    idle_timeout.saturating_mul(2)
}

/// What the broker answered for one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// Low and high watermarks when the replay starts.
    pub low: i64,
    /// See `low`.
    pub high: i64,
    /// First offset at or after `--from` minus the look-back (`None`: no such record).
    pub start: Option<i64>,
    /// First offset at or after `--from` (`None`: no such record).
    pub from: Option<i64>,
    /// First offset at or after `--to` (`None`: no `--to`, or no such record).
    pub to: Option<i64>,
}

/// What the replay reads of one partition and from where it writes (offsets; see the
/// module docs). Always `low <= start <= from <= end <= high`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionPlan {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// First offset read.
    pub start: i64,
    /// First offset of the range: conversations beginning before it are not rewritten.
    pub from: i64,
    /// First offset not read (exclusive end).
    pub end: i64,
}

impl PartitionPlan {
    /// Clamps the broker's answers into a plan.
    pub fn from_lookup(l: &Lookup) -> PartitionPlan {
        let low = l.low.max(0);
        let high = l.high.max(low);
        let end = l.to.unwrap_or(high).clamp(low, high);
        let start = l.start.unwrap_or(high).clamp(low, end);
        let from = l.from.unwrap_or(high).clamp(start, end);
        PartitionPlan {
            topic: l.topic.clone(),
            partition: l.partition,
            start,
            from,
            end,
        }
    }

    /// Records (offsets) to read.
    pub fn records(&self) -> u64 {
        (self.end - self.start).max(0) as u64
    }

    /// `true` once the record before `next` (the next offset to read) was the last to read.
    pub fn done(&self, next: i64) -> bool {
        next >= self.end
    }

    /// Offsets read so far, `next` being the next offset to read.
    pub fn read(&self, next: i64) -> u64 {
        (next.clamp(self.start, self.end) - self.start) as u64
    }

    /// `true` for an offset inside the range (`from <= offset < end`): records before it
    /// are read for context only (no dead letters, no insights).
    pub fn in_range(&self, offset: i64) -> bool {
        offset >= self.from && offset < self.end
    }

    /// Whether a conversation whose first event is at `first_offset`, of `tenant`, is
    /// rewritten, given the replay's tenant filter.
    pub fn admits(&self, first_offset: i64, tenant: &str, only: Option<&str>) -> Verdict {
        if first_offset < self.from {
            Verdict::StartedBefore
        } else if only.is_some_and(|t| t != tenant) {
            Verdict::OtherTenant
        } else {
            Verdict::Rewrite
        }
    }
}

/// What the replay does with a finalised conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Analysed and written like the service does.
    Rewrite,
    /// It began before `--from` (in the look-back): its insight stays as it is.
    StartedBefore,
    /// Another tenant than `--tenant`: skipped.
    OtherTenant,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(
        low: i64,
        high: i64,
        start: Option<i64>,
        from: Option<i64>,
        to: Option<i64>,
    ) -> PartitionPlan {
        PartitionPlan::from_lookup(&Lookup {
            topic: "t".into(),
            partition: 0,
            low,
            high,
            start,
            from,
            to,
        })
    }

    fn offsets(p: &PartitionPlan) -> (i64, i64, i64) {
        (p.start, p.from, p.end)
    }

    #[test]
    fn a_range_inside_the_partition() {
        let p = lookup(0, 100, Some(10), Some(20), Some(60));
        assert_eq!(offsets(&p), (10, 20, 60));
        assert_eq!(p.records(), 50);
        assert!(!p.in_range(19) && p.in_range(20) && p.in_range(59) && !p.in_range(60));
    }

    #[test]
    fn without_to_the_end_is_the_partition_end_at_start() {
        assert_eq!(
            offsets(&lookup(0, 100, Some(10), Some(20), None)),
            (10, 20, 100)
        );
    }

    #[test]
    fn times_after_the_last_record_read_nothing() {
        // No record at or after --from: nothing to read; none after the look-back start either.
        let p = lookup(0, 100, None, None, None);
        assert_eq!(offsets(&p), (100, 100, 100));
        assert_eq!(p.records(), 0);
        assert!(p.done(100));
        // Records in the look-back only: read them, rewrite nothing.
        assert_eq!(
            offsets(&lookup(0, 100, Some(95), None, None)),
            (95, 100, 100)
        );
    }

    #[test]
    fn a_to_after_the_last_record_reads_to_the_end() {
        assert_eq!(
            offsets(&lookup(0, 100, Some(0), Some(5), None)),
            (0, 5, 100)
        );
    }

    #[test]
    fn deleted_records_and_odd_answers_are_clamped() {
        // Retention removed offsets below 30; answers below the low watermark move up.
        assert_eq!(
            offsets(&lookup(30, 100, Some(10), Some(20), Some(50))),
            (30, 30, 50)
        );
        // --to before the look-back start (cannot happen with from < to, but stays ordered).
        assert_eq!(
            offsets(&lookup(0, 100, Some(40), Some(50), Some(30))),
            (30, 30, 30)
        );
        // An empty partition.
        assert_eq!(offsets(&lookup(-1, -1, None, None, None)), (0, 0, 0));
    }

    #[test]
    fn progress_counts_offsets_read() {
        let p = lookup(0, 100, Some(10), Some(20), Some(60));
        assert_eq!(p.read(0), 0);
        assert_eq!(p.read(35), 25);
        assert_eq!(p.read(80), 50);
        assert!(!p.done(59) && p.done(60));
    }

    #[test]
    fn only_conversations_that_begin_in_the_range_and_match_the_tenant_are_rewritten() {
        let p = lookup(0, 100, Some(10), Some(20), Some(60));
        assert_eq!(p.admits(19, "acme", None), Verdict::StartedBefore);
        assert_eq!(p.admits(19, "other", Some("acme")), Verdict::StartedBefore);
        assert_eq!(p.admits(20, "acme", None), Verdict::Rewrite);
        assert_eq!(p.admits(20, "acme", Some("acme")), Verdict::Rewrite);
        assert_eq!(p.admits(45, "globex", Some("acme")), Verdict::OtherTenant);
    }

    #[test]
    fn the_default_look_back_is_two_idle_timeouts() {
        assert_eq!(
            default_lookback(Duration::from_secs(300)),
            Duration::from_secs(600)
        );
    }
}
