//! An output step: a record that cannot be taken in goes to the dead-letter topic, with the
//! reason and its source position, and the offset moves on once it is acknowledged. Used by
//! the consumer loop (transcripts) and the tenant reader (tenant configurations).

use super::encode::Encode;
use super::produce::{produce, Delivery, Produced, Producer};
use super::Rejection;
use crate::emit::{self, SourceRef};
use crate::pipeline::kafka::now_ms;
use crate::pipeline::offsets::Hold;
use crate::pipeline::PipelineError;

/// The dead-letter output.
#[derive(Clone)]
pub(crate) struct DeadLetters {
    /// The encode step.
    pub encode: Encode,
    /// The producer.
    pub producer: Producer,
    /// The dead-letter topic.
    pub topic: String,
}

impl DeadLetters {
    /// Dead-letters `source`; `hold` (taken by the consumer loop on the source offset, if
    /// any) is released when the dead letter is acknowledged.
    pub fn send(
        &self,
        source: SourceRef<'_>,
        rejection: &Rejection,
        hold: Option<Hold>,
    ) -> Result<(), PipelineError> {
        let kind = emit::kind_name(rejection.kind);
        let dl = emit::dead_letter(source, rejection.kind, &rejection.reason, now_ms());
        let record = self.encode.dead_letter(&self.topic, &dl)?;
        let delivery = Box::new(Delivery {
            hold,
            what: Produced::DeadLetter { reason: kind },
        });
        produce(&self.producer, record, delivery)
            .map_err(|e| PipelineError::kafka(&format!("producing to {}", self.topic), e))
    }
}
