//! The live state against the final KPIs (`extract::kpis::compute`), and the record
//! schedule.

use super::book::LiveBook;
use super::record::LiveReason;
use super::state::{KpisSoFar, LiveState};
use crate::extract::kpis;
use crate::insight::Kpis;
use crate::model::{Conversation, Segment, Side};
use proptest::prelude::*;

fn seg(id: &str, speaker: &str, side: Side, t: Option<(i64, i64)>, text: &str) -> Segment {
    Segment {
        id: id.into(),
        speaker: speaker.into(),
        side,
        start_ms: t.map(|t| t.0),
        end_ms: t.map(|t| t.1),
        text: text.into(),
        ..Segment::default()
    }
}

/// The worked example 1 of docs/kpis.md.
fn sales_call() -> Vec<Segment> {
    use Side::{External as E, Internal as I};
    vec![
        seg(
            "0",
            "s",
            I,
            Some((0, 10_000)),
            "Hi Anna, thanks for joining. Shall we look at the pricing?",
        ),
        seg(
            "1",
            "c",
            E,
            Some((12_000, 20_000)),
            "Yes. What discount can you offer?",
        ),
        seg(
            "2",
            "s",
            I,
            Some((19_000, 30_000)),
            "For a two year contract we can offer ten percent.",
        ),
        seg("3", "c", E, Some((25_000, 25_500)), "ok"),
        seg(
            "4",
            "s",
            I,
            Some((30_500, 40_000)),
            "I will send the contract by Friday.",
        ),
        seg(
            "5",
            "c",
            E,
            Some((45_000, 60_000)),
            "Great. I need to check with my finance team first. Can we talk next week?",
        ),
    ]
}

/// Streams the segments in order (record times 1 s apart) and returns the last KPIs.
fn stream(segments: &[Segment]) -> KpisSoFar {
    let mut state = LiveState::new("en");
    for (i, s) in segments.iter().enumerate() {
        state.observe(s, true, None, i as i64 * 1_000);
    }
    state.kpis(segments.len() as i64 * 1_000)
}

/// The fields defined alike (see `state`'s module docs) must be equal.
fn assert_agrees(live: &KpisSoFar, fin: &Kpis) {
    assert_eq!(live.duration_ms, fin.duration_ms, "duration");
    assert_eq!(
        live.internal_talk_time_ms, fin.internal_talk_time_ms,
        "internal talk"
    );
    assert_eq!(
        live.external_talk_time_ms, fin.external_talk_time_ms,
        "external talk"
    );
    assert_eq!(live.talk_to_listen_ratio, fin.talk_to_listen_ratio, "ratio");
    assert_eq!(
        live.longest_monologue_ms, fin.longest_monologue_ms,
        "monologue"
    );
    assert_eq!(
        live.longest_customer_monologue_ms, fin.longest_customer_monologue_ms,
        "customer monologue"
    );
    assert_eq!(live.interruptions, fin.interruptions, "interruptions");
    assert_eq!(live.non_talk_time_ms, fin.non_talk_time_ms, "non-talk");
    assert_eq!(live.questions, fin.questions, "questions");
}

#[test]
fn the_worked_example_streamed_ends_with_the_final_kpis() {
    let segments = sales_call();
    let live = stream(&segments);
    // The hand-computed numbers of docs/kpis.md, then equality with the final extractor.
    assert_eq!(live.internal_talk_time_ms, Some(30_500));
    assert_eq!(live.external_talk_time_ms, Some(23_500));
    assert_eq!(live.talk_to_listen_ratio, Some(1.2979));
    assert_eq!(live.longest_customer_monologue_ms, Some(15_000));
    assert_eq!(live.longest_monologue_ms, Some(21_000));
    assert_eq!(live.interruptions, Some(1));
    assert_eq!(live.non_talk_time_ms, Some(5_000));
    assert_eq!((live.questions.internal, live.questions.external), (1, 2));
    assert_eq!(live.segments, 6);
    let conv = Conversation {
        segments,
        ..Conversation::default()
    };
    assert_agrees(&live, &kpis::compute(&conv, "en").0);
}

#[test]
fn kpis_so_far_after_each_segment() {
    let segments = sales_call();
    let mut state = LiveState::new("en");
    let f0 = state.observe(&segments[0], true, None, 0).unwrap();
    assert_eq!(f0.questions.len(), 1);
    assert_eq!(f0.gap_before_ms, None);
    let f1 = state.observe(&segments[1], true, None, 1_000).unwrap();
    assert_eq!(f1.gap_before_ms, Some(2_000));
    let k = state.kpis(1_000);
    assert_eq!(k.internal_talk_time_ms, Some(10_000));
    assert_eq!(k.external_talk_time_ms, Some(8_000));
    assert_eq!(k.talk_to_listen_ratio, Some(1.25));
    // The customer's run is still open: it counts.
    assert_eq!(k.longest_customer_monologue_ms, Some(8_000));
    let f2 = state.observe(&segments[2], true, None, 2_000).unwrap();
    assert!(
        f2.interruption,
        "starts at 19 s inside the customer's 12-20 s"
    );
    assert_eq!(state.interruptions().len(), 1);
    assert_eq!(state.interruptions()[0].at_ms, 19_000);
    assert_eq!(state.interruptions()[0].side, Side::Internal);
    let f3 = state.observe(&segments[3], true, None, 3_000).unwrap();
    assert!(f3.backchannel && !f3.interruption);
    // The current silence runs in stream time from the record that last extended speech
    // (segment 2, ending at 30 s, arrived at 2 s; the backchannel ends earlier).
    assert_eq!(state.kpis(7_500).current_silence_ms, Some(5_500));
}

#[test]
fn partial_and_repeated_versions_do_not_count() {
    let s = sales_call();
    let mut state = LiveState::new("en");
    assert!(state.observe(&s[0], false, None, 0).is_none(), "partial");
    assert!(state.observe(&s[0], true, None, 1).is_some());
    assert!(state.observe(&s[0], true, None, 2).is_none(), "repeated id");
    assert_eq!(state.kpis(2).segments, 1);
    assert_eq!(state.kpis(2).internal_talk_time_ms, Some(10_000));
}

#[test]
fn trackers_run_on_the_segment_with_its_side() {
    let config: crate::tenant::TenantConfig = serde_json::from_value(serde_json::json!({
        "tenant_id": "t",
        "internal_domains": ["acme.com"],
        "trackers": [{"name": "pricing", "terms": ["discount"]}],
        "competitors": [{"name": "Globex"}]
    }))
    .unwrap();
    let runtime = crate::tenant::TenantRuntime::compile(config).unwrap();
    let mut state = LiveState::new("en");
    let rep = seg(
        "1",
        "ann@acme.com",
        Side::Unknown,
        Some((0, 1_000)),
        "Globex offered a discount?",
    );
    let f = state.observe(&rep, true, Some(&runtime), 0).unwrap();
    assert_eq!(f.side, Side::Internal, "tenant rule by domain");
    let mut names: Vec<&str> = f.hits.iter().map(|h| h.tracker.as_str()).collect();
    names.sort();
    assert_eq!(names, ["Globex", "pricing"]);
    assert!(f.hits.iter().all(|h| h.segment_id == "1"));
    let caller = seg("2", "bob", Side::Unknown, Some((1_000, 2_000)), "no idea");
    let f = state.observe(&caller, true, Some(&runtime), 1).unwrap();
    assert_eq!(
        f.side,
        Side::External,
        "the other party once an internal one spoke"
    );
    assert!(f.hits.is_empty());
}

fn arb_segment() -> impl Strategy<Value = (usize, Option<i64>, Option<i64>, String)> {
    (
        0usize..4,
        proptest::option::weighted(0.9, -5_000i64..200_000),
        proptest::option::weighted(0.9, -5_000i64..200_000),
        prop_oneof![
            "[a-z]{1,7}( [a-z]{1,7}){0,6}",
            Just("ok".to_string()),
            Just("mhm".to_string()),
            Just("what about the price".to_string()),
            Just(String::new()),
        ],
    )
}

proptest! {
    /// Segments arriving in start order, one final version each, known sides per speaker,
    /// no punctuation: the last live KPIs equal the final ones.
    #[test]
    fn streamed_in_start_order_the_last_live_kpis_equal_the_final_ones(
        raw in proptest::collection::vec(arb_segment(), 0..40)
    ) {
        let sides = [Side::Internal, Side::External, Side::External, Side::Unknown];
        let mut segments: Vec<Segment> = raw
            .into_iter()
            .map(|(sp, start, end, text)| Segment {
                speaker: format!("sp{sp}"),
                side: sides[sp],
                start_ms: start,
                end_ms: end,
                text,
                ..Segment::default()
            })
            .collect();
        // The assembler's order: start (missing last); ids follow it.
        segments.sort_by_key(|s| (s.start_ms.is_none(), s.start_ms));
        for (i, s) in segments.iter_mut().enumerate() {
            s.id = i.to_string();
        }
        let live = stream(&segments);
        let conv = Conversation { segments, ..Conversation::default() };
        assert_agrees(&live, &kpis::compute(&conv, "en").0);
    }

    /// Arbitrary versions in any order never panic, and the same input gives the same state.
    #[test]
    fn any_order_never_panics_and_is_deterministic(
        raw in proptest::collection::vec((arb_segment(), any::<bool>(), 0usize..10), 0..40)
    ) {
        let run = || {
            let mut state = LiveState::new("en");
            for (i, ((sp, start, end, text), fin, id)) in raw.iter().enumerate() {
                let s = seg(&id.to_string(), &format!("sp{sp}"), Side::Unknown, None, text);
                let s = Segment { start_ms: *start, end_ms: *end, ..s };
                state.observe(&s, *fin, None, i as i64);
            }
            state.kpis(raw.len() as i64)
        };
        let a = run();
        prop_assert_eq!(&a, &run());
        if let (Some(d), Some(n)) = (a.duration_ms, a.non_talk_time_ms) {
            prop_assert!(n <= d);
        }
    }
}

/// Feeds one segment per second of stream time to a 5 s book; returns the records.
fn book_run() -> Vec<super::LiveInsight> {
    let mut book = LiveBook::new(5_000, 100);
    let mut out = Vec::new();
    for (i, s) in sales_call().iter().enumerate() {
        let t = 1_000_000 + i as i64 * 1_000;
        book.observe(0, "c1", "t", s, true, None, t);
        book.advance(0, t, &mut out);
    }
    book.advance(0, 1_010_000, &mut out);
    book.close("c1", 1_020_000, &mut out);
    out
}

#[test]
fn records_go_out_at_most_once_per_interval_and_at_the_end() {
    let out = book_run();
    let times: Vec<i64> = out.iter().map(|r| r.at_ms).collect();
    // First change at once (0 s); the next at 5 s (segment 5 arrived then); nothing was
    // waiting after it; the end record at 20 s.
    assert_eq!(times, [1_000_000, 1_005_000, 1_020_000]);
    let reasons: Vec<LiveReason> = out.iter().map(|r| r.reason).collect();
    assert_eq!(
        reasons,
        [LiveReason::Interval, LiveReason::Interval, LiveReason::End]
    );
    let seqs: Vec<i64> = out.iter().map(|r| r.sequence).collect();
    assert_eq!(seqs, [1, 2, 3]);
    assert_eq!(out[0].kpis.segments, 1);
    assert_eq!(out[0].questions.len(), 1, "segment 0's question");
    assert_eq!(out[1].kpis.segments, 6);
    assert_eq!(out[1].questions.len(), 2, "questions of segments 1-5");
    assert!(out[2].questions.is_empty(), "nothing new since");
    assert_eq!(out[2].kpis.external_talk_time_ms, Some(23_500));
    assert_eq!(out[2].last_segment_id.as_deref(), Some("5"));
}

#[test]
fn a_change_waits_for_the_end_of_its_interval() {
    let s = sales_call();
    let mut book = LiveBook::new(5_000, 100);
    let mut out = Vec::new();
    book.observe(0, "c1", "t", &s[0], true, None, 0);
    book.advance(0, 0, &mut out);
    book.observe(0, "c1", "t", &s[1], true, None, 1_000);
    book.advance(0, 4_999, &mut out);
    assert_eq!(out.len(), 1);
    // Another lane's clock does not send it.
    book.advance(1, 10_000, &mut out);
    assert_eq!(out.len(), 1);
    book.advance(0, 5_000, &mut out);
    assert_eq!(out.len(), 2);
    assert_eq!(out[1].at_ms, 5_000);
    assert_eq!(out[1].kpis.segments, 2);
}

#[test]
fn a_flush_goes_out_at_once_and_restarts_the_interval() {
    let s = sales_call();
    let mut book = LiveBook::new(5_000, 100);
    let mut out = Vec::new();
    book.observe(0, "c1", "t", &s[0], true, None, 0);
    book.advance(0, 0, &mut out);
    book.observe(0, "c1", "t", &s[1], true, None, 1_000);
    book.flush("c1", 1_000, &mut out);
    assert_eq!(out.len(), 2);
    assert_eq!(out[1].reason, LiveReason::Rule);
    book.observe(0, "c1", "t", &s[2], true, None, 5_500);
    book.advance(0, 5_500, &mut out);
    assert_eq!(out.len(), 2, "due at 6 s, five after the flush");
    book.advance(0, 6_000, &mut out);
    assert_eq!(out.len(), 3);
}

#[test]
fn forgotten_conversations_send_nothing() {
    let s = sales_call();
    let mut book = LiveBook::new(5_000, 100);
    let mut out = Vec::new();
    book.observe(0, "c1", "t", &s[0], true, None, 0);
    book.observe(1, "c2", "t", &s[0], true, None, 0);
    book.forget("c1");
    book.forget_lane(1);
    book.advance(0, 10_000, &mut out);
    book.advance(1, 10_000, &mut out);
    book.close("c1", 10_000, &mut out);
    assert!(out.is_empty());
    assert_eq!(book.open_count(), 0);
}

#[test]
fn the_same_stream_gives_the_same_records() {
    assert_eq!(book_run(), book_run());
}

#[test]
fn items_over_the_limit_are_counted() {
    let mut book = LiveBook::new(5_000, 1);
    let mut out = Vec::new();
    let q = |id: &str| seg(id, "a", Side::Internal, None, "Why? How? When?");
    book.observe(0, "c", "t", &q("1"), true, None, 0);
    book.advance(0, 0, &mut out);
    assert_eq!(out[0].questions.len(), 1);
    assert_eq!(out[0].dropped_items, 2);
}
