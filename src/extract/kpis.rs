//! Conversation KPIs, exactly as defined in `docs/kpis.md`.
//!
//! Treatment of imperfect timing, applied once in `timed`:
//! - a segment is *timed* when it has both `start_ms` and `end_ms`; time KPIs use timed
//!   segments only and are `None` when there are none;
//! - negative offsets are clamped to 0, and an end before its start is clamped to the start
//!   (the segment then has zero length but still counts as a turn);
//! - segments whose text has no word (see [`text::words`]) are ignored by every KPI.

use super::text;
use crate::insight::{Kpis, ParticipantKpis, Question, QuestionCounts};
use crate::model::{Conversation, Side};
use std::collections::HashMap;

/// Silences longer than this many ms count as non-talk time.
pub const NON_TALK_MIN_GAP_MS: i64 = 3_000;

/// A segment with usable timing, after clamping.
#[derive(Debug, Clone, Copy)]
struct Timed {
    /// Index of the speaker in the participant list.
    speaker: usize,
    start: i64,
    end: i64,
    backchannel: bool,
}

/// Rounds to 4 decimal places so that output is short and reproducible by hand.
pub(crate) fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// Clamped `(start, end)` of a segment, `None` when either offset is missing.
fn timed(start: Option<i64>, end: Option<i64>) -> Option<(i64, i64)> {
    let start = start?.max(0);
    let end = end?.max(start);
    Some((start, end))
}

/// Sorts and merges intervals; returns the merged list. Touching intervals merge.
fn union(mut iv: Vec<(i64, i64)>) -> Vec<(i64, i64)> {
    iv.sort_unstable();
    let mut out: Vec<(i64, i64)> = Vec::with_capacity(iv.len());
    for (s, e) in iv {
        match out.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out
}

fn total(iv: &[(i64, i64)]) -> i64 {
    iv.iter().map(|(s, e)| e - s).sum()
}

/// Longest monologue per speaker over timed segments sorted by start. A monologue is a
/// maximal run of one speaker's segments with no other speaker's segment starting inside it,
/// backchannels of other speakers excepted; its length runs from its first start to its last
/// end.
fn monologues(sorted: &[Timed], speakers: usize) -> Vec<Option<i64>> {
    let mut best: Vec<Option<i64>> = vec![None; speakers];
    let mut run: Option<(usize, i64, i64)> = None; // (speaker, first start, last end)
    let close = |run: (usize, i64, i64), best: &mut Vec<Option<i64>>| {
        let len = run.2 - run.1;
        let b = &mut best[run.0];
        *b = Some(b.map_or(len, |x: i64| x.max(len)));
    };
    for t in sorted {
        match run {
            Some((sp, first, last)) if sp == t.speaker => run = Some((sp, first, last.max(t.end))),
            // Another speaker's backchannel does not break the run; it is a (short) run of its
            // own speaker.
            Some(_) if t.backchannel => close((t.speaker, t.start, t.end), &mut best),
            Some(r) => {
                close(r, &mut best);
                run = Some((t.speaker, t.start, t.end));
            }
            None => run = Some((t.speaker, t.start, t.end)),
        }
    }
    if let Some(r) = run {
        close(r, &mut best);
    }
    best
}

/// Interruptions per speaker: a non-backchannel segment that starts strictly inside the span
/// `[start, end)` of an earlier-sorted segment of another speaker counts for its speaker.
fn interruptions(sorted: &[Timed], speakers: usize) -> Vec<i64> {
    let mut counts = vec![0i64; speakers];
    // Latest end seen so far, and the latest end among speakers other than that one's speaker.
    let mut top: Option<(i64, usize)> = None;
    let mut second: Option<i64> = None;
    for t in sorted {
        let other_end = match top {
            Some((end, sp)) if sp != t.speaker => Some(end),
            _ => second,
        };
        if !t.backchannel && other_end.is_some_and(|end| t.start < end) {
            counts[t.speaker] += 1;
        }
        match top {
            None => top = Some((t.end, t.speaker)),
            Some((end, sp)) if sp == t.speaker => top = Some((end.max(t.end), sp)),
            // A new overall maximum from another speaker: the old maximum is now the best
            // end among speakers other than the new top's.
            Some((end, _)) if t.end > end => {
                second = Some(end);
                top = Some((t.end, t.speaker));
            }
            Some(_) => second = Some(second.map_or(t.end, |s| s.max(t.end))),
        }
    }
    counts
}

/// Computes the KPIs and the list of questions of a conversation in language `lang`.
pub fn compute(conv: &Conversation, lang: &str) -> (Kpis, Vec<Question>) {
    let punctuated = conv.segments.iter().any(|s| text::has_punctuation(&s.text));
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut names: Vec<&str> = Vec::new();
    let mut sides: Vec<Side> = Vec::new();
    let mut words = Vec::new();
    let mut timed_words = Vec::new();
    let mut qcount = Vec::new();
    let mut intervals: Vec<Vec<(i64, i64)>> = Vec::new();
    let mut has_timed: Vec<bool> = Vec::new();
    let mut questions = Vec::new();
    // Segments in start order when every spoken segment has a start, else input order.
    let mut order: Vec<(Option<i64>, usize, usize)> = Vec::new();
    let mut timeline: Vec<Timed> = Vec::new();

    for (i, seg) in conv.segments.iter().enumerate() {
        let n_words = text::word_count(&seg.text);
        if n_words == 0 {
            continue;
        }
        let sp = *index.entry(seg.speaker.as_str()).or_insert_with(|| {
            names.push(seg.speaker.as_str());
            sides.push(Side::Unknown);
            words.push(0usize);
            timed_words.push(0usize);
            qcount.push(0i64);
            intervals.push(Vec::new());
            has_timed.push(false);
            names.len() - 1
        });
        if sides[sp] == Side::Unknown {
            sides[sp] = seg.side;
        }
        words[sp] += n_words;
        for q in text::questions(&seg.text, lang, punctuated) {
            qcount[sp] += 1;
            // `q` is a slice of the segment text: its byte offset gives the character span.
            let byte = q.as_ptr() as usize - seg.text.as_ptr() as usize;
            let start = seg.text[..byte].chars().count() as i64;
            let end = start + q.chars().count() as i64;
            questions.push((i, sp, q.to_string(), start, end));
        }
        order.push((seg.start_ms.map(|s| s.max(0)), i, sp));
        if let Some((start, end)) = timed(seg.start_ms, seg.end_ms) {
            intervals[sp].push((start, end));
            has_timed[sp] = true;
            timed_words[sp] += n_words;
            timeline.push(Timed {
                speaker: sp,
                start,
                end,
                backchannel: text::is_backchannel(&seg.text, lang),
            });
        }
    }
    // `timeline` is built in input order; sort it by start (stable: ties keep input order).
    timeline.sort_by_key(|t| t.start);
    if order.iter().all(|o| o.0.is_some()) {
        order.sort_by_key(|o| (o.0, o.1));
    }
    let switches = order.windows(2).filter(|w| w[0].2 != w[1].2).count() as i64;

    let has_time = !timeline.is_empty();
    let talk: Vec<i64> = intervals.into_iter().map(|iv| total(&union(iv))).collect();
    let talk_sum: i64 = talk.iter().sum();
    let all = union(timeline.iter().map(|t| (t.start, t.end)).collect());
    let duration = match (all.first(), all.last()) {
        (Some(first), Some(last)) => Some(last.1 - first.0),
        _ => None,
    };
    let non_talk: i64 = all
        .windows(2)
        .map(|w| w[1].0 - w[0].1)
        .filter(|gap| *gap > NON_TALK_MIN_GAP_MS)
        .sum();
    let mono = monologues(&timeline, names.len());
    let inter = interruptions(&timeline, names.len());
    let pauses: Vec<i64> = timeline
        .windows(2)
        .filter(|w| sides[w[0].speaker] == Side::External && sides[w[1].speaker] == Side::Internal)
        .map(|w| (w[1].start - w[0].end).max(0))
        .collect();

    let side_talk = |side: Side| -> Option<i64> {
        let present = sides.contains(&side);
        (has_time && present).then(|| {
            sides
                .iter()
                .zip(&talk)
                .filter(|(s, _)| **s == side)
                .map(|(_, t)| *t)
                .sum()
        })
    };
    let internal = side_talk(Side::Internal);
    let external = side_talk(Side::External);
    let participants = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let has = has_timed[i];
            let talk_ms = has.then_some(talk[i]);
            ParticipantKpis {
                speaker: name.to_string(),
                side: sides[i],
                talk_time_ms: talk_ms,
                talk_share: (has && talk_sum > 0).then(|| round4(talk[i] as f64 / talk_sum as f64)),
                words: words[i] as i64,
                words_per_minute: talk_ms
                    .filter(|t| *t > 0)
                    .map(|t| round4(timed_words[i] as f64 / (t as f64 / 60_000.0))),
                longest_monologue_ms: mono[i],
                questions: qcount[i],
                interruptions: has_time.then_some(inter[i]),
            }
        })
        .collect();
    let longest_customer = (0..names.len())
        .filter(|&i| sides[i] == Side::External)
        .filter_map(|i| mono[i])
        .max();
    let mut qc = QuestionCounts::default();
    for (i, q) in qcount.iter().enumerate() {
        match sides[i] {
            Side::Internal => qc.internal += q,
            Side::External => qc.external += q,
            Side::Unknown => qc.unknown += q,
        }
    }
    let kpis = Kpis {
        duration_ms: duration,
        participants,
        internal_talk_time_ms: internal,
        external_talk_time_ms: external,
        talk_to_listen_ratio: match (internal, external) {
            (Some(i), Some(e)) if e > 0 => Some(round4(i as f64 / e as f64)),
            _ => None,
        },
        switches,
        switches_per_hour: duration
            .filter(|d| *d > 0)
            .map(|d| round4(switches as f64 / (d as f64 / 3_600_000.0))),
        longest_monologue_ms: mono.iter().flatten().copied().max(),
        longest_customer_monologue_ms: longest_customer,
        average_pause_before_speaking_ms: (!pauses.is_empty())
            .then(|| round4(pauses.iter().sum::<i64>() as f64 / pauses.len() as f64)),
        non_talk_time_ms: has_time.then_some(non_talk),
        interruptions: has_time.then(|| inter.iter().sum()),
        questions: qc,
    };
    let questions = questions
        .into_iter()
        .map(|(i, sp, text, start_char, end_char)| {
            let seg = &conv.segments[i];
            Question {
                segment_id: seg.id.clone(),
                speaker: seg.speaker.clone(),
                side: sides[sp],
                text,
                start_char,
                end_char,
            }
        })
        .collect();
    (kpis, questions)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Segment;
    use proptest::prelude::*;

    fn seg(speaker: &str, side: Side, start: Option<i64>, end: Option<i64>, text: &str) -> Segment {
        Segment {
            speaker: speaker.into(),
            side,
            start_ms: start,
            end_ms: end,
            text: text.into(),
            ..Segment::default()
        }
    }

    fn conv(segments: Vec<Segment>) -> Conversation {
        let segments = segments
            .into_iter()
            .enumerate()
            .map(|(i, mut s)| {
                s.id = i.to_string();
                s
            })
            .collect();
        Conversation {
            id: "c".into(),
            segments,
            ..Conversation::default()
        }
    }

    /// The worked example of docs/kpis.md; every expected number is computed there by hand.
    fn sales_call() -> Conversation {
        use Side::{External as E, Internal as I};
        conv(vec![
            seg(
                "s",
                I,
                Some(0),
                Some(10_000),
                "Hi Anna, thanks for joining. Shall we look at the pricing?",
            ),
            seg(
                "c",
                E,
                Some(12_000),
                Some(20_000),
                "Yes. What discount can you offer?",
            ),
            seg(
                "s",
                I,
                Some(19_000),
                Some(30_000),
                "For a two year contract we can offer ten percent.",
            ),
            seg("c", E, Some(25_000), Some(25_500), "ok"),
            seg(
                "s",
                I,
                Some(30_500),
                Some(40_000),
                "I will send the contract by Friday.",
            ),
            seg(
                "c",
                E,
                Some(45_000),
                Some(60_000),
                "Great. I need to check with my finance team first. Can we talk next week?",
            ),
        ])
    }

    #[test]
    fn worked_example() {
        let (k, q) = compute(&sales_call(), "en");
        assert_eq!(k.duration_ms, Some(60_000));
        assert_eq!(k.internal_talk_time_ms, Some(30_500));
        assert_eq!(k.external_talk_time_ms, Some(23_500));
        assert_eq!(k.talk_to_listen_ratio, Some(1.2979));
        assert_eq!(k.switches, 5);
        assert_eq!(k.switches_per_hour, Some(300.0));
        assert_eq!(k.longest_monologue_ms, Some(21_000));
        assert_eq!(k.longest_customer_monologue_ms, Some(15_000));
        assert_eq!(k.average_pause_before_speaking_ms, Some(2_500.0));
        assert_eq!(k.non_talk_time_ms, Some(5_000));
        assert_eq!(k.interruptions, Some(1));
        assert_eq!(
            k.questions,
            QuestionCounts {
                internal: 1,
                external: 2,
                unknown: 0
            }
        );
        let s = &k.participants[0];
        assert_eq!((s.speaker.as_str(), s.side), ("s", Side::Internal));
        assert_eq!(s.talk_time_ms, Some(30_500));
        assert_eq!(s.talk_share, Some(0.5648));
        assert_eq!(s.words, 28);
        assert_eq!(s.words_per_minute, Some(55.082));
        assert_eq!(s.longest_monologue_ms, Some(21_000));
        assert_eq!((s.questions, s.interruptions), (1, Some(1)));
        let c = &k.participants[1];
        assert_eq!(c.talk_time_ms, Some(23_500));
        assert_eq!(c.talk_share, Some(0.4352));
        assert_eq!(c.words, 22);
        assert_eq!(c.words_per_minute, Some(56.1702));
        assert_eq!(c.longest_monologue_ms, Some(15_000));
        assert_eq!((c.questions, c.interruptions), (2, Some(0)));
        let texts: Vec<&str> = q.iter().map(|q| q.text.as_str()).collect();
        assert_eq!(
            texts,
            vec![
                "Shall we look at the pricing?",
                "What discount can you offer?",
                "Can we talk next week?"
            ]
        );
        assert_eq!(q[1].segment_id, "1");
        assert_eq!(q[1].side, Side::External);
    }

    #[test]
    fn overlap_counts_for_both_speakers() {
        // a: 0-10 s, b: 5-15 s. Union per speaker 10 s each; the conversation lasts 15 s.
        let c = conv(vec![
            seg(
                "a",
                Side::Internal,
                Some(0),
                Some(10_000),
                "one two three four",
            ),
            seg(
                "b",
                Side::External,
                Some(5_000),
                Some(15_000),
                "five six seven eight",
            ),
        ]);
        let (k, _) = compute(&c, "en");
        assert_eq!(k.participants[0].talk_time_ms, Some(10_000));
        assert_eq!(k.participants[1].talk_time_ms, Some(10_000));
        assert_eq!(k.participants[0].talk_share, Some(0.5));
        assert_eq!(k.duration_ms, Some(15_000));
        assert_eq!(k.interruptions, Some(1));
        assert_eq!(k.participants[1].interruptions, Some(1));
        assert_eq!(
            k.average_pause_before_speaking_ms, None,
            "no external→internal neighbours"
        );
        assert_eq!(k.non_talk_time_ms, Some(0));
    }

    #[test]
    fn backchannel_neither_interrupts_nor_breaks_a_monologue() {
        let c = conv(vec![
            seg(
                "a",
                Side::Internal,
                Some(0),
                Some(10_000),
                "let me walk you through the plan",
            ),
            seg("b", Side::External, Some(4_000), Some(4_500), "mhm"),
            seg(
                "a",
                Side::Internal,
                Some(10_000),
                Some(20_000),
                "and then we go live",
            ),
            seg("b", Side::External, Some(25_000), Some(26_000), "yeah"),
        ]);
        let (k, _) = compute(&c, "en");
        assert_eq!(k.interruptions, Some(0));
        assert_eq!(k.participants[0].longest_monologue_ms, Some(20_000));
        // b's "yeah" at 25 s follows a's run and starts its own one-second run.
        assert_eq!(k.longest_customer_monologue_ms, Some(1_000));
        // Union: [0,20000] and [25000,26000]; one gap of 5000 ms > 3000.
        assert_eq!(k.non_talk_time_ms, Some(5_000));
        assert_eq!(k.switches, 3);
    }

    #[test]
    fn one_speaker() {
        let c = conv(vec![
            seg("a", Side::Internal, Some(1_000), Some(3_000), "hello"),
            seg(
                "a",
                Side::Internal,
                Some(4_000),
                Some(9_000),
                "is anyone there",
            ),
        ]);
        let (k, q) = compute(&c, "en");
        assert_eq!(k.duration_ms, Some(8_000));
        assert_eq!(k.switches, 0);
        assert_eq!(k.switches_per_hour, Some(0.0));
        assert_eq!(k.talk_to_listen_ratio, None);
        assert_eq!(k.external_talk_time_ms, None);
        assert_eq!(k.longest_monologue_ms, Some(8_000));
        assert_eq!(k.longest_customer_monologue_ms, None);
        assert_eq!(k.participants[0].talk_share, Some(1.0));
        // 4 words over 7 s of talk: 4 / (7000 / 60000) = 34.2857.
        assert_eq!(k.participants[0].words_per_minute, Some(34.2857));
        // No punctuation anywhere: "is anyone there" opens with an interrogative.
        assert_eq!(q.len(), 1);
    }

    #[test]
    fn no_timestamps_gives_null_time_kpis_but_words_and_questions() {
        let c = conv(vec![
            seg("a", Side::Internal, None, None, "Can you send the deck?"),
            seg("b", Side::External, None, None, "Sure, today."),
        ]);
        let (k, q) = compute(&c, "en");
        assert_eq!(k.duration_ms, None);
        assert_eq!(k.internal_talk_time_ms, None);
        assert_eq!(k.talk_to_listen_ratio, None);
        assert_eq!(
            k.switches, 1,
            "switches follow input order without timestamps"
        );
        assert_eq!(k.switches_per_hour, None);
        assert_eq!(k.longest_monologue_ms, None);
        assert_eq!(k.non_talk_time_ms, None);
        assert_eq!(k.interruptions, None);
        assert_eq!(k.average_pause_before_speaking_ms, None);
        assert_eq!(k.participants[0].words, 5);
        assert_eq!(k.participants[0].talk_time_ms, None);
        assert_eq!(k.participants[0].words_per_minute, None);
        assert_eq!(k.participants[1].words, 2);
        assert_eq!(k.questions.internal, 1);
        assert_eq!(q.len(), 1);
    }

    #[test]
    fn empty_text_is_ignored() {
        let c = conv(vec![
            seg("a", Side::Internal, Some(0), Some(1_000), "hello there"),
            seg("b", Side::External, Some(500), Some(9_000), "  ... "),
        ]);
        let (k, _) = compute(&c, "en");
        assert_eq!(k.participants.len(), 1);
        assert_eq!(k.duration_ms, Some(1_000));
        assert_eq!(k.switches, 0);
    }

    #[test]
    fn inverted_and_negative_offsets_are_clamped() {
        let c = conv(vec![
            // Negative start clamps to 0: 0-2000.
            seg("a", Side::Internal, Some(-500), Some(2_000), "first part"),
            // End before start clamps to zero length at 5000.
            seg("b", Side::External, Some(5_000), Some(3_000), "second part"),
            seg("a", Side::Internal, Some(6_000), Some(8_000), "third part"),
        ]);
        let (k, _) = compute(&c, "en");
        assert_eq!(k.duration_ms, Some(8_000));
        assert_eq!(k.participants[0].talk_time_ms, Some(4_000));
        assert_eq!(k.participants[1].talk_time_ms, Some(0));
        assert_eq!(k.participants[1].words_per_minute, None);
        assert_eq!(k.participants[0].talk_share, Some(1.0));
        // b ends at 5000 (zero length), a starts at 6000: pause 1000.
        assert_eq!(k.average_pause_before_speaking_ms, Some(1_000.0));
        // Union [0,2000], [5000,5000], [6000,8000]: gaps 3000 and 1000, neither > 3000.
        assert_eq!(k.non_talk_time_ms, Some(0));
    }

    #[test]
    fn union_merges_touching_and_nested() {
        assert_eq!(
            union(vec![(5, 9), (0, 3), (3, 4), (6, 7)]),
            vec![(0, 4), (5, 9)]
        );
    }

    fn arb_segment() -> impl Strategy<Value = Segment> {
        (
            0usize..4,
            0usize..3,
            proptest::option::of(-10_000i64..100_000),
            proptest::option::of(-10_000i64..100_000),
            "[a-zA-Z?.!¿ éß,]{0,40}",
        )
            .prop_map(|(sp, side, start, end, text)| {
                let side = [Side::Internal, Side::External, Side::Unknown][side];
                seg(&format!("sp{sp}"), side, start, end, &text)
            })
    }

    proptest! {
        #[test]
        fn arbitrary_segments_never_panic_and_are_deterministic(segs in proptest::collection::vec(arb_segment(), 0..30)) {
            let c = conv(segs);
            let a = compute(&c, "en");
            let b = compute(&c, "en");
            prop_assert_eq!(&a, &b);
            let (k, _) = a;
            if let Some(d) = k.duration_ms { prop_assert!(d >= 0); }
            for p in &k.participants {
                if let Some(s) = p.talk_share { prop_assert!((0.0..=1.0).contains(&s)); }
                if let (Some(t), Some(d)) = (p.talk_time_ms, k.duration_ms) { prop_assert!(t <= d); }
            }
            if let Some(n) = k.non_talk_time_ms { prop_assert!(n <= k.duration_ms.unwrap_or(0)); }
        }
    }
}
