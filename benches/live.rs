//! Live insights: the cost per segment does not grow with the length of the conversation.
//! A 5-minute call (75 segments of 4 s) and a 2-hour call (1,799 segments) of one generated
//! sales conversation, with the sample tenant's trackers (`examples/tenant.yaml`), through the
//! live book with the default 5 s interval (a record every other segment):
//!
//! - `whole_call/<length>`: a fresh book fed the whole call; criterion's throughput line
//!   gives the mean time per segment;
//! - `last_segment/<length>`: the last segment alone, on a book that already holds every
//!   segment before it (prepared outside the measurement): the marginal cost at that length.
//!
//! `cargo bench --bench live`. For instructions instead of time, run the built bench under
//! `valgrind --tool=callgrind ... --bench --profile-time 2 'live/whole_call/5min$'` (and
//! `2h`) and divide the inclusive cost of `LiveBook::observe` by its calls. Times are CPU time of the benchmark thread
//! (`CLOCK_THREAD_CPUTIME_ID`), so that a machine shared with other work disturbs the
//! comparison less; both lengths run in one process, one after the other.

use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use debrief::live::{LiveBook, LiveInsight};
use debrief::model::{Segment, Side};
use debrief::tenant::{FileFormat, TenantConfig, TenantRuntime};
use std::hint::black_box;

/// CPU time of the calling thread, in nanoseconds (as in `benches/trackers.rs`).
struct ThreadCpu {
    wall: WallTime,
}

impl ThreadCpu {
    fn now(&self) -> u64 {
        let mut t = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `t` is a valid, writable timespec; the clock id is a constant.
        let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
        assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
        t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
    }
}

impl Measurement for ThreadCpu {
    type Intermediate = u64;
    type Value = u64;
    fn start(&self) -> u64 {
        self.now()
    }
    fn end(&self, start: u64) -> u64 {
        self.now().saturating_sub(start)
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }
    fn zero(&self) -> u64 {
        0
    }
    fn to_f64(&self, v: &u64) -> f64 {
        *v as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        self.wall.formatter()
    }
}

const WORDS: &[&str] = &[
    "we",
    "can",
    "look",
    "at",
    "the",
    "price",
    "for",
    "next",
    "quarter",
    "and",
    "your",
    "team",
    "needs",
    "a",
    "discount",
    "on",
    "volume",
    "contract",
    "legal",
    "review",
    "timeline",
    "implementation",
    "support",
    "renewal",
    "budget",
    "approval",
    "meeting",
    "follow",
    "up",
    "send",
    "quote",
    "friday",
    "compare",
    "SAP",
    "integration",
    "users",
    "licence",
    "training",
    "rollout",
    "pilot",
    "success",
    "risk",
    "procurement",
    "signature",
    "week",
    "month",
    "plan",
];

/// A generated sales call of `segments` segments of 4 s (3.5 s of speech each), seller and
/// customer alternating, 6 to 24 words each, a question every fifth segment; deterministic.
/// The words of segment `i` depend on `i % 75` only (plus one word that keeps changing), so
/// that a 2-hour call is the 5-minute one's mix of segments 24 times, and the last segment
/// of every call has the same text: the lengths compare the same work.
fn call(segments: usize) -> Vec<Segment> {
    (0..segments)
        .map(|i| {
            let shape = if i + 1 == segments { 74 } else { i % 75 };
            let mut state: u64 = 0x9E37_79B9_7F4A_7C15 ^ (shape as u64).wrapping_mul(0x2545_F491);
            let mut next = move || {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                (state >> 33) as usize
            };
            let n = 6 + next() % 19;
            let mut text: Vec<String> = (0..n)
                .map(|_| WORDS[next() % WORDS.len()].to_string())
                .collect();
            // New words keep appearing through the call, as names and numbers do.
            text.push(format!(
                "item{}",
                if i + 1 == segments { 0 } else { i % 500 }
            ));
            let mut text = text.join(" ");
            text.push(if shape % 5 == 0 { '?' } else { '.' });
            let seller = i % 2 == 0;
            Segment {
                id: i.to_string(),
                speaker: if seller {
                    "ana@seller.example"
                } else {
                    "bob@client.example"
                }
                .into(),
                side: if seller {
                    Side::Internal
                } else {
                    Side::External
                },
                start_ms: Some(i as i64 * 4_000),
                end_ms: Some(i as i64 * 4_000 + 3_500),
                text,
                ..Segment::default()
            }
        })
        .collect()
}

/// Feeds segments to the book as the pipeline does (record times follow the call).
fn feed(book: &mut LiveBook, segs: &[Segment], tenant: &TenantRuntime, out: &mut Vec<LiveInsight>) {
    for s in segs {
        let t = 1_760_000_000_000 + s.end_ms.unwrap_or(0);
        book.observe(0, "call", "acme-sales", s, true, Some(tenant), t);
        book.advance(0, t, out);
    }
}

fn bench(c: &mut Criterion<ThreadCpu>) {
    let config = TenantConfig::parse(include_str!("../examples/tenant.yaml"), FileFormat::Yaml)
        .expect("the sample tenant");
    let tenant = TenantRuntime::compile(config).expect("the sample tenant compiles");
    tenant.trackers.prepare("en");
    // Odd lengths: the last segment of each sends a record (every other segment does).
    let lengths = [("5min", 75usize), ("2h", 1_799usize)];
    let mut group = c.benchmark_group("live");
    for (name, n) in lengths {
        let segs = call(n);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(format!("whole_call/{name}"), |b| {
            b.iter(|| {
                let mut book = LiveBook::new(5_000, 100);
                let mut out = Vec::new();
                feed(&mut book, black_box(&segs), &tenant, &mut out);
                out
            })
        });
        let mut before = LiveBook::new(5_000, 100);
        let mut out = Vec::new();
        feed(&mut before, &segs[..n - 1], &tenant, &mut out);
        group.throughput(Throughput::Elements(1));
        group.bench_function(format!("last_segment/{name}"), |b| {
            b.iter_batched(
                || (before.clone(), Vec::new()),
                |(mut book, mut out)| {
                    feed(&mut book, black_box(&segs[n - 1..]), &tenant, &mut out);
                    (book, out)
                },
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(ThreadCpu { wall: WallTime });
    targets = bench
}
criterion_main!(benches);
