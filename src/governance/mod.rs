//! Data protection: what Debrief holds for each conversation (the conversation index), how
//! an erasure request is planned and recorded (the erasure ledger), and the pseudonyms that
//! make telemetry unlinkable once a conversation's index entry is gone.
//!
//! Everything here is pure: records in, records out. The pipeline writes the index
//! (`pipeline/analysis_pool.rs`), the erasure executor (`pipeline/erasure_executor.rs`)
//! reads the index and the erasure topic and writes tombstones and ledger records. See the
//! README's "Data protection" section for what is stored where and for how long.

pub mod audit;
pub mod erased;
pub mod erasure;
pub mod export;
pub mod index;
pub mod pseudonym;
pub mod retention;
pub mod sweep;

pub use erasure::{ErasureLedgerEntry, LedgerOffset, LedgerStep, Scope};
pub use index::{ConversationIndexEntry, IndexView, OutputRef};
