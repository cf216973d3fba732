//! Tenant configuration: its types, validation and limits, loading from a file
//! ([`config`]).

pub mod config;

pub use config::*;
