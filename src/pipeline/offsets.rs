//! Which offset of each assigned partition may be committed.
//!
//! An offset may be committed (as "the next offset to read") when, on that partition:
//! - every record before it has been processed (`next`),
//! - no conversation still open started before it (`open_floor`: the assembler's
//!   [`min_open_offset`](crate::ingest::assemble::Assembler::min_open_offset)), and
//! - every conversation finalised from an earlier source record has been analysed and its
//!   records handed to the producer (`pending`: a hold at the conversation's first offset,
//!   taken by the consumer loop when the conversation is finalised and released by the
//!   analysis worker once the records are sent; counted in both delivery modes), and
//! - every record produced from an earlier source record has been acknowledged
//!   (`in_flight`: a hold at the source offset per produced record, released by the
//!   producer's delivery callback; an insight holds its conversation's first offset).
//!
//! The consumer loop owns the book alone. It takes every hold itself (before it hands a
//! conversation to the analysis pool, before it produces a dead letter); the holds travel
//! with the work, and the releases come back as messages in the loop's inbox (the producer's
//! acknowledgements, the pool's reports), so no other thread ever touches the book.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Lane id of a topic-partition (see [`crate::ingest::assemble::Position`]).
pub type Lane = u32;

#[derive(Debug, Default)]
struct LaneState {
    /// Offset after the last processed record; `None` before the first.
    next: Option<i64>,
    /// First offset of the oldest open conversation.
    open_floor: Option<i64>,
    /// First offsets of finalised conversations not yet handed to the producer, with counts.
    pending: BTreeMap<i64, u32>,
    /// Source offsets of records produced and not yet acknowledged, with their counts.
    in_flight: BTreeMap<i64, u32>,
    /// Last offset handed to the consumer for commit.
    stored: Option<i64>,
    /// Incremented on every (re)assignment so that late acknowledgements of a previous
    /// assignment do not release holds of the current one.
    epoch: u64,
}

/// What a [`Hold`] waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldKind {
    /// A finalised conversation waiting for analysis: released once its records are handed
    /// to the producer. Always holds the offset back, in both delivery modes.
    Pending,
    /// A produced record waiting for the broker's acknowledgement. Ignored by the
    /// transactional mode (the transaction's commit acknowledges records and offsets
    /// together).
    Produced,
}

/// A hold on a source offset until analysis is done or a produced record is acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hold {
    /// Source lane.
    pub lane: Lane,
    /// Source offset held.
    pub offset: i64,
    /// Assignment epoch of the lane when the hold was taken.
    pub epoch: u64,
    /// What the hold waits for.
    pub kind: HoldKind,
}

/// Per-partition offset bookkeeping. See the module documentation.
#[derive(Debug, Default)]
pub struct OffsetBook {
    lanes: HashMap<Lane, LaneState>,
    ids: HashMap<Arc<str>, HashMap<i32, Lane>>,
    names: Vec<(Arc<str>, i32)>,
    revoked: Vec<Lane>,
    epoch: u64,
}

impl OffsetBook {
    /// The lane id of a topic-partition (stable for the life of the book).
    pub fn lane(&mut self, topic: &str, partition: i32) -> Lane {
        // Looked up for every record: no allocation unless the partition is new.
        if let Some(&lane) = self.ids.get(topic).and_then(|parts| parts.get(&partition)) {
            return lane;
        }
        let lane = self.names.len() as Lane;
        let topic: Arc<str> = Arc::from(topic);
        self.ids
            .entry(topic.clone())
            .or_default()
            .insert(partition, lane);
        self.names.push((topic, partition));
        lane
    }

    /// The topic-partition of a lane.
    pub fn name(&self, lane: Lane) -> Option<(&str, i32)> {
        self.names.get(lane as usize).map(|(t, p)| (&**t, *p))
    }

    /// Starts (or restarts) tracking a partition after an assignment.
    pub fn assign(&mut self, lane: Lane) {
        self.epoch += 1;
        self.lanes.insert(
            lane,
            LaneState {
                epoch: self.epoch,
                ..LaneState::default()
            },
        );
    }

    /// Stops tracking a revoked partition; the loop learns about it through
    /// [`take_revoked`](OffsetBook::take_revoked) and drops the partition's open conversations.
    pub fn revoke(&mut self, lane: Lane) {
        if self.lanes.remove(&lane).is_some() {
            self.revoked.push(lane);
        }
    }

    /// Lanes revoked since the last call.
    pub fn take_revoked(&mut self) -> Vec<Lane> {
        std::mem::take(&mut self.revoked)
    }

    /// The offset after the last record processed on `lane` (`None` before the first, or for
    /// a lane not assigned).
    pub fn next(&self, lane: Lane) -> Option<i64> {
        self.lanes.get(&lane).and_then(|s| s.next)
    }

    /// The last offset handed to the consumer for commit on `lane`.
    pub fn stored(&self, lane: Lane) -> Option<i64> {
        self.lanes.get(&lane).and_then(|s| s.stored)
    }

    /// Lanes currently assigned, in id order.
    pub fn assigned(&self) -> Vec<Lane> {
        let mut lanes: Vec<Lane> = self.lanes.keys().copied().collect();
        lanes.sort_unstable();
        lanes
    }

    /// Records that the record at `offset` was processed. A record of a lane that is not
    /// assigned (revoked meanwhile) starts tracking it.
    pub fn processed(&mut self, lane: Lane, offset: i64) {
        if !self.lanes.contains_key(&lane) {
            self.assign(lane);
        }
        if let Some(s) = self.lanes.get_mut(&lane) {
            s.next = Some(s.next.map_or(offset + 1, |n| n.max(offset + 1)));
        }
    }

    /// Sets the first offset of the oldest open conversation of a lane.
    pub fn set_open_floor(&mut self, lane: Lane, floor: Option<i64>) {
        if let Some(s) = self.lanes.get_mut(&lane) {
            s.open_floor = floor;
        }
    }

    /// Holds `offset` for a record about to be produced, until
    /// [`release`](OffsetBook::release) is called with the returned hold (when the record's
    /// acknowledgement comes back). `None` when the lane is not assigned (nothing to protect).
    pub fn hold(&mut self, lane: Lane, offset: i64) -> Option<Hold> {
        self.take_hold(lane, offset, HoldKind::Produced)
    }

    /// Holds `offset` for a finalised conversation handed to the analysis workers, until
    /// [`release`](OffsetBook::release) is called with the returned hold (once its records are
    /// produced, each under its own [`hold`](OffsetBook::hold)). `None` when the lane is not
    /// assigned.
    pub fn hold_pending(&mut self, lane: Lane, offset: i64) -> Option<Hold> {
        self.take_hold(lane, offset, HoldKind::Pending)
    }

    fn take_hold(&mut self, lane: Lane, offset: i64, kind: HoldKind) -> Option<Hold> {
        let s = self.lanes.get_mut(&lane)?;
        let map = match kind {
            HoldKind::Pending => &mut s.pending,
            HoldKind::Produced => &mut s.in_flight,
        };
        *map.entry(offset).or_insert(0) += 1;
        Some(Hold {
            lane,
            offset,
            epoch: s.epoch,
            kind,
        })
    }

    /// Releases a hold. Holds of an earlier assignment are ignored.
    pub fn release(&mut self, hold: Hold) {
        let Some(s) = self.lanes.get_mut(&hold.lane) else {
            return;
        };
        if s.epoch != hold.epoch {
            return;
        }
        let map = match hold.kind {
            HoldKind::Pending => &mut s.pending,
            HoldKind::Produced => &mut s.in_flight,
        };
        if let Some(n) = map.get_mut(&hold.offset) {
            *n -= 1;
            if *n == 0 {
                map.remove(&hold.offset);
            }
        }
    }

    /// Number of produced records not yet acknowledged, over all lanes.
    pub fn in_flight(&self) -> u64 {
        self.holds(HoldKind::Produced)
    }

    /// Number of finalised conversations not yet handed to the producer, over all lanes.
    pub fn pending(&self) -> u64 {
        self.holds(HoldKind::Pending)
    }

    fn holds(&self, kind: HoldKind) -> u64 {
        let counts = self.lanes.values().flat_map(|s| match kind {
            HoldKind::Pending => s.pending.values(),
            HoldKind::Produced => s.in_flight.values(),
        });
        counts.map(|&n| u64::from(n)).sum()
    }

    /// The offset that may be committed for a lane (the next offset to read after a
    /// restart), `None` when nothing was processed yet. With `count_in_flight = false`
    /// unacknowledged records are ignored (transactional mode: the commit of the transaction
    /// acknowledges them together with the offsets); pending analyses always count.
    pub fn safe(&self, lane: Lane, count_in_flight: bool) -> Option<i64> {
        let s = self.lanes.get(&lane)?;
        let mut safe = s.next?;
        if let Some(f) = s.open_floor {
            safe = safe.min(f);
        }
        if let Some((&f, _)) = s.pending.iter().next() {
            safe = safe.min(f);
        }
        if count_in_flight {
            if let Some((&f, _)) = s.in_flight.iter().next() {
                safe = safe.min(f);
            }
        }
        Some(safe)
    }

    /// Lanes whose safe offset moved past the last stored one, with that offset; marks them
    /// stored.
    pub fn to_store(&mut self, count_in_flight: bool) -> Vec<(Lane, i64)> {
        let mut out = Vec::new();
        for lane in self.assigned() {
            if let Some(safe) = self.safe(lane, count_in_flight) {
                if let Some(s) = self.lanes.get_mut(&lane) {
                    if s.stored.is_none_or(|st| safe > st) {
                        s.stored = Some(safe);
                        out.push((lane, safe));
                    }
                }
            }
        }
        out
    }
}

/// A book with `lanes` (topic, partition, last processed offset) assigned, in order (test
/// set-up shared with the commit step's tests).
#[cfg(test)]
pub(crate) fn book_with(lanes: &[(&str, i32, Option<i64>)]) -> (OffsetBook, Vec<Lane>) {
    let mut book = OffsetBook::default();
    let ids = lanes
        .iter()
        .map(|&(topic, partition, processed)| {
            let lane = book.lane(topic, partition);
            book.assign(lane);
            if let Some(offset) = processed {
                book.processed(lane, offset);
            }
            lane
        })
        .collect();
    (book, ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_offset_is_the_minimum_of_next_open_floor_and_in_flight() {
        let (mut b, lanes) = book_with(&[("t", 0, None)]);
        let l = lanes[0];
        assert_eq!(b.safe(l, true), None, "nothing processed yet");
        b.processed(l, 9);
        assert_eq!(b.safe(l, true), Some(10));
        b.set_open_floor(l, Some(4));
        assert_eq!(b.safe(l, true), Some(4));
        let h1 = b.hold(l, 2).unwrap();
        let h2 = b.hold(l, 2).unwrap();
        assert_eq!(b.safe(l, true), Some(2));
        assert_eq!(
            b.safe(l, false),
            Some(4),
            "transactional mode ignores in-flight records"
        );
        b.release(h1);
        assert_eq!(
            b.safe(l, true),
            Some(2),
            "one of two records still unacknowledged"
        );
        b.release(h2);
        assert_eq!(b.safe(l, true), Some(4));
        b.set_open_floor(l, None);
        assert_eq!(b.safe(l, true), Some(10));
        assert_eq!(b.in_flight(), 0);
    }

    #[test]
    fn to_store_reports_only_progress() {
        let (mut b, lanes) = book_with(&[("t", 0, Some(0)), ("t", 1, None)]);
        let (a, c) = (lanes[0], lanes[1]);
        assert_eq!((a, c), (0, 1));
        assert_eq!(b.lane("t", 0), 0);
        assert_eq!(b.to_store(true), vec![(a, 1)]);
        assert_eq!(b.to_store(true), vec![]);
        b.processed(a, 1);
        b.set_open_floor(a, Some(1));
        assert_eq!(
            b.to_store(true),
            vec![],
            "held back by an open conversation"
        );
        b.processed(c, 5);
        b.set_open_floor(a, None);
        assert_eq!(b.to_store(true), vec![(a, 2), (c, 6)]);
    }

    #[test]
    fn holds_of_a_previous_assignment_are_ignored() {
        let (mut b, lanes) = book_with(&[("t", 0, Some(3))]);
        let l = lanes[0];
        let old = b.hold(l, 3).unwrap();
        b.revoke(l);
        assert_eq!(b.take_revoked(), vec![l]);
        assert!(b.take_revoked().is_empty());
        assert!(b.hold(l, 3).is_none(), "revoked lanes take no holds");
        b.assign(l);
        b.processed(l, 7);
        let new = b.hold(l, 7).unwrap();
        b.release(old);
        assert_eq!(b.safe(l, true), Some(7));
        b.release(new);
        assert_eq!(b.safe(l, true), Some(8));
        assert_eq!(b.name(l), Some(("t", 0)));
    }

    #[test]
    fn pending_analyses_hold_the_offset_in_both_modes() {
        let (mut b, lanes) = book_with(&[("t", 0, Some(20))]);
        let l = lanes[0];
        // A conversation from offset 5 was finalised and handed to a worker.
        let pending = b.hold_pending(l, 5).unwrap();
        assert_eq!(pending.kind, HoldKind::Pending);
        assert_eq!((b.safe(l, true), b.safe(l, false)), (Some(5), Some(5)));
        assert_eq!((b.pending(), b.in_flight()), (1, 0));
        // The worker produced its insight (hold first, then release the pending one).
        let produced = b.hold(l, 5).unwrap();
        b.release(pending);
        assert_eq!(
            (b.safe(l, true), b.safe(l, false)),
            (Some(5), Some(21)),
            "produced, not acknowledged: only the at-least-once mode waits"
        );
        assert_eq!((b.pending(), b.in_flight()), (0, 1));
        b.release(produced);
        assert_eq!(b.safe(l, true), Some(21));
        // Releasing a produced hold never releases a pending one at the same offset.
        let pending = b.hold_pending(l, 7).unwrap();
        b.release(Hold {
            kind: HoldKind::Produced,
            ..pending
        });
        assert_eq!(b.safe(l, false), Some(7));
    }
}
