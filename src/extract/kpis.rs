//! Conversation KPIs (stub).
use crate::insight::{Kpis, Question};
use crate::model::Conversation;

/// Computes the KPIs and the list of questions.
pub fn compute(_conv: &Conversation, _lang: &str) -> (Kpis, Vec<Question>) {
    (Kpis::default(), Vec::new())
}
