//! Step 7, commit: which offsets are safe (the [`OffsetBook`] the consumer loop owns), and
//! the Kafka calls that store and commit them: in the background as they move
//! (at-least-once), synchronously on revocation and shutdown, or inside the transaction
//! (transactional mode).

use crate::pipeline::analysis_pool::JobQueue;
use crate::pipeline::kafka::TranscriptConsumer;
use crate::pipeline::offsets::OffsetBook;
use crate::pipeline::steps::produce::Producer;
use rdkafka::consumer::Consumer;
use rdkafka::error::KafkaResult;
use rdkafka::producer::Producer as _;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::util::Timeout;
use std::time::{Duration, Instant};

/// The commit metadata of a lane at an offset (see [`crate::ingest::replay`]).
pub(crate) type Metadata<'a> = &'a dyn Fn(u32, i64) -> String;

/// Offsets of `lanes` as a partition list, each with its commit metadata.
fn offsets_tpl(
    book: &OffsetBook,
    offsets: &[(u32, i64)],
    metadata: Metadata<'_>,
) -> KafkaResult<TopicPartitionList> {
    let mut tpl = TopicPartitionList::with_capacity(offsets.len());
    for &(lane, offset) in offsets {
        if let Some((topic, partition)) = book.name(lane) {
            tpl.add_partition_offset(topic, partition, Offset::Offset(offset))?;
            let text = metadata(lane, offset);
            if !text.is_empty() {
                if let Some(mut e) = tpl.find_partition(topic, partition) {
                    e.set_metadata(text);
                }
            }
        }
    }
    Ok(tpl)
}

/// Stores the offsets that moved (at-least-once mode); the consumer commits them in the
/// background. Returns how many partitions moved.
pub(crate) fn store_progress(
    consumer: &TranscriptConsumer,
    book: &mut OffsetBook,
    metadata: Metadata<'_>,
) -> KafkaResult<usize> {
    let moved = book.to_store(true);
    if moved.is_empty() {
        return Ok(0);
    }
    let tpl = offsets_tpl(book, &moved, metadata)?;
    consumer.store_offsets(&tpl)?;
    Ok(tpl.count())
}

/// The safe offset of every assigned partition (see [`OffsetBook::safe`]).
pub(crate) fn safe_offsets(
    book: &OffsetBook,
    count_in_flight: bool,
    metadata: Metadata<'_>,
) -> KafkaResult<TopicPartitionList> {
    let all: Vec<(u32, i64)> = book
        .assigned()
        .into_iter()
        .filter_map(|l| book.safe(l, count_in_flight).map(|o| (l, o)))
        .collect();
    offsets_tpl(book, &all, metadata)
}

/// Waits until the analysis pool is idle, then flushes the producer, together within
/// `deadline`, so that every acknowledgement and report is in the loop's inbox. Whatever is
/// not finished by then keeps its holds: its offsets are not committed.
pub(crate) fn settle(jobs: &JobQueue, producer: &Producer, deadline: Duration) {
    let until = Instant::now() + deadline;
    if !jobs.wait_idle(deadline) {
        tracing::warn!(
            unfinished = jobs.count(),
            "analysis not finished in time; those conversations are not committed"
        );
    }
    let left = until.saturating_duration_since(Instant::now());
    if let Err(e) = producer.flush(Timeout::After(left)) {
        tracing::warn!(error = %e, "producer flush did not finish in time; unacknowledged records are not committed");
    }
}

/// At-least-once mode: stores `tpl` and commits it synchronously.
pub(crate) fn commit_sync(
    consumer: &TranscriptConsumer,
    tpl: &TopicPartitionList,
) -> KafkaResult<()> {
    if tpl.count() == 0 {
        return Ok(());
    }
    consumer.store_offsets(tpl)?;
    consumer.commit(tpl, rdkafka::consumer::CommitMode::Sync)
}

/// Transactional mode: sends `tpl` to the open transaction, commits it and opens the next
/// one. `in_transaction` follows whether a transaction is open.
pub(crate) fn commit_transaction(
    consumer: &TranscriptConsumer,
    producer: &Producer,
    tpl: &TopicPartitionList,
    deadline: Duration,
    in_transaction: &mut bool,
) -> KafkaResult<()> {
    if tpl.count() > 0 {
        if let Some(meta) = consumer.group_metadata() {
            producer.send_offsets_to_transaction(tpl, &meta, Timeout::After(deadline))?;
        }
    }
    producer.commit_transaction(Timeout::After(deadline))?;
    *in_transaction = false;
    producer.begin_transaction()?;
    *in_transaction = true;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_offsets_name_every_assigned_partition() {
        let (mut book, lanes) = crate::pipeline::offsets::book_with(&[
            ("t", 0, Some(4)),
            ("t", 3, Some(9)),
            ("u", 1, None),
        ]);
        let _held = book.hold(lanes[1], 2);
        let tpl = safe_offsets(&book, true, &|lane, offset| format!("{lane}@{offset}")).unwrap();
        let got: Vec<(String, i32, Offset)> = tpl
            .elements()
            .iter()
            .map(|e| (e.topic().to_string(), e.partition(), e.offset()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("t".to_string(), 0, Offset::Offset(5)),
                ("t".to_string(), 3, Offset::Offset(2)),
            ],
            "nothing read from u/1 yet: not committed"
        );
        let metadata: Vec<String> = tpl
            .elements()
            .iter()
            .map(|e| e.metadata().to_string())
            .collect();
        let (a, b) = (lanes[0], lanes[1]);
        assert_eq!(metadata, vec![format!("{a}@5"), format!("{b}@2")]);
        let tpl = safe_offsets(&book, false, &|_, _| String::new()).unwrap();
        assert_eq!(
            tpl.find_partition("t", 3).map(|e| e.offset()),
            Some(Offset::Offset(10)),
            "transactional mode ignores unacknowledged records"
        );
    }
}
