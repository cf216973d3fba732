//! The service as a chain of named steps. Each is a small type with its own tests; offsets
//! travel with the work as [holds](crate::pipeline::offsets::Hold) taken by the consumer loop
//! (which owns the offset book), and come back as acknowledgements in its inbox.
//!
//! ```text
//!              consumer loop (one thread)                       analysis pool (N threads)
//! transcripts ─▶ decode ─▶ validate ─▶ assemble ══ Job ═══════▶ analyse ─▶ encode ─▶ produce ─▶ CRM topic,
//!  (records)       │          │        (ingest::assemble)      (+ holds)                        telemetry
//!                  └──────────┴──▶ dead letters (encode ─▶ produce)                  acks ─▶ inbox
//! inbox ─▶ release holds ─▶ commit (store / commit / transaction)
//! tenant-config topic ─▶ tenant reader ─▶ tenant::interpret ─▶ inbox ─▶ tenant::TenantRegistry
//! ```
//!
//! | step | type | where |
//! |---|---|---|
//! | decode | [`decode::Decode`] | bytes → `TranscriptEvent` (codec, registry retries) |
//! | validate | [`validate::validate`] | key and ids |
//! | assemble | [`crate::ingest::assemble::Assembler`] | segments → finalised conversations |
//! | analyse | [`analyse::Analyse`] on an [`analyse::Job`] | extractors, timed |
//! | encode | [`encode::Encode`] | insight, telemetry, dead letter → [`encode::Record`] |
//! | produce | [`produce::produce`], [`produce::ProducerCtx`] | record → producer; acks → inbox |
//! | commit | [`commit`] with [`crate::pipeline::offsets::OffsetBook`] | safe offsets → Kafka |
//! | dead letters (output) | [`dead_letter::DeadLetters`] | rejected records |
//! | erase | [`erase::Erase`] | erasure requests drop open conversations and refuse later events; opt-out |
//! | residency | [`residency::ResidencyGuard`] | events of tenants whose geography refuses this region: refused, reported once per conversation |
//! | CRM records (output) | [`crm::CrmStep`] | insight → CRM-shaped records on the per-CRM record topics; write errors → dead letters |
//! | live (output) | [`live::Live`] | each accepted segment → the conversation's live state (`crate::live`) → live records, no holds |
//! | alerts (output, inside live) | [`alerts::Alerts`] | each segment the live state took → the tenant's rules (`crate::rules`) → alerts, a live record at once; no holds |

pub(crate) mod alerts;
pub(crate) mod analyse;
pub(crate) mod commit;
pub(crate) mod crm;
pub(crate) mod dead_letter;
pub(crate) mod decode;
pub(crate) mod encode;
pub(crate) mod erase;
pub(crate) mod live;
pub(crate) mod produce;
pub(crate) mod residency;
pub(crate) mod validate;

use crate::events::DeadLetterKind;

/// Why a record cannot be taken in: it goes to the dead-letter topic with this kind and
/// reason, and its offset moves on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rejection {
    /// The dead letter's kind.
    pub kind: DeadLetterKind,
    /// A readable reason (never transcript text).
    pub reason: String,
}
