//! Ingestion: reading transcript files and assembling conversations from events.

pub mod assemble;
pub mod files;
pub mod replay;
pub mod stream;
