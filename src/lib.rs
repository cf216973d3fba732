//! Debrief: conversation intelligence over Kafka.
//!
//! The data path: `ingest` (read files, decode events, assemble conversations) → `extract`
//! (pure functions) → `emit` (insights, telemetry, dead letters), with `pipeline` wiring them
//! to Kafka. See `ARCHITECTURE.md`.
#![warn(missing_docs)]

pub mod analytics;
pub mod config;
pub mod crm;
pub mod emit;
pub mod events;
pub mod extract;
pub mod governance;
pub mod http;
pub mod ingest;
pub mod insight;
pub mod interactions;
pub mod live;
pub mod metrics;
pub mod model;
pub mod pipeline;
pub mod rules;
pub mod schema;
pub mod tenant;
