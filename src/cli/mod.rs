//! The command-line tools, compiled into the `debrief` binary only (not part of the
//! library's API): `process`, `run`, `replay`, `produce`, `demo`, `bench`, `eval`, `train` and `admin`.

pub mod admin;
pub mod bench;
pub mod demo;
pub mod eval;
pub mod process;
pub mod produce;
pub mod replay;
pub mod run;
