//! The previous versions of the contract's schemas, compiled in from `schemas/history/`
//! (`<name>/<16 hex digits of the fingerprint>.avsc`, regenerated from git by
//! `scripts/schema-history.sh`). A single-object [`Codec`](super::Codec) accepts all of them
//! by default, so records written by the previous Debrief release or by a publisher still on
//! an earlier `.avsc` are read and resolved to the current schema instead of being
//! `unknown_schema` dead letters.
//!
//! `include_dir` cannot tell cargo about files added to the directory, so a new history file
//! alone does not rebuild the crate; the tests compare what was compiled in with the files on
//! disk (in practice the `.avsc` change that comes with it rebuilds the crate anyway).

use super::catalog::RecordKind;
use include_dir::{include_dir, Dir};

/// `schemas/history/`, embedded at build time.
static HISTORY: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/schemas/history");

/// One previous version of a schema of the contract.
#[derive(Debug, Clone, Copy)]
pub struct HistoricalSchema {
    /// Which record.
    pub kind: RecordKind,
    /// Its path under `schemas/history/` (`transcript_event/c3cecc9be0bc3ade.avsc`).
    pub path: &'static str,
    /// The schema JSON, as it was committed.
    pub json: &'static str,
}

/// Every previous version of every record kind's schema, in [`RecordKind::ALL`] order and by
/// path within a kind. A file that is not UTF-8 is an `Err` naming it (a build defect the
/// tests catch).
pub fn historical_schemas() -> Result<Vec<HistoricalSchema>, String> {
    let mut out = Vec::new();
    for kind in RecordKind::ALL {
        let Some(dir) = HISTORY.get_dir(kind.name()) else {
            continue;
        };
        let mut files: Vec<_> = dir.files().collect();
        files.sort_by_key(|f| f.path());
        for file in files {
            let path = file.path().to_str().unwrap_or_default();
            let json = file
                .contents_utf8()
                .ok_or_else(|| format!("schemas/history/{path} is not UTF-8"))?;
            out.push(HistoricalSchema { kind, path, json });
        }
    }
    Ok(out)
}

/// The paths of every file under `schemas/history/` that was compiled in, relative to it.
#[cfg(test)]
pub(crate) fn embedded_paths() -> Vec<String> {
    fn walk(dir: &Dir<'static>, out: &mut Vec<String>) {
        for file in dir.files() {
            out.push(file.path().to_string_lossy().into_owned());
        }
        for sub in dir.dirs() {
            walk(sub, out);
        }
    }
    let mut out = Vec::new();
    walk(&HISTORY, &mut out);
    out.sort();
    out
}
