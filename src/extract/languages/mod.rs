//! Everything language-specific, one module per language.

pub mod de;
pub mod en;
pub mod es;
pub mod fr;
pub mod it;
pub mod nl;
pub mod pt;
