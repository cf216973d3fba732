//! A step of the consumer loop: erasure requests (read by the erasure watch) drop the
//! matching open conversations and make their later events refused; an opted-out tenant's
//! events are refused at decode time and its opt-out becomes a tenant-wide erasure request
//! (reason `opt_out`) on the erasure topic, which the erasure executor carries out.

use super::encode::Record;
use super::produce::{produce, Delivery, Produced, Producer};
use crate::events::ErasureRequest;
use crate::governance::audit::AuditRecord;
use crate::governance::erased::{Erasures, OpenRef};
use crate::ingest::assemble::Assembler;
use crate::pipeline::PipelineError;
use crate::schema::{Codec, ContractRecord};

/// What the loop keeps for erasures.
#[derive(Debug, Default)]
pub(crate) struct Erase {
    /// Requests read so far.
    pub erasures: Erasures,
}

impl Erase {
    /// Takes in a request: drops the open conversations it names (returning their lanes and
    /// ids) and refuses their later events.
    pub fn apply(
        &mut self,
        request: &ErasureRequest,
        assembler: &mut Assembler,
    ) -> Vec<(u32, String)> {
        self.erasures.apply(request);
        let dropped = assembler.drop_open(|id, tenant, speakers| {
            Erasures::drops(request, OpenRef { id, tenant }, speakers)
        });
        for (_, id) in &dropped {
            self.erasures.refuse_conversation(id);
        }
        dropped
    }

    /// `true` when an event must not be processed.
    pub fn refuses(&self, tenant: &str, conversation: &str, time_ms: i64) -> bool {
        self.erasures.refuses(tenant, conversation, time_ms)
    }
}

/// The tenant-wide erasure request an opt-out issues: its id names the tenant and the
/// configuration version, so every instance (and every restart) issues the same request and
/// the executor carries it out once.
pub(crate) fn opt_out_request(tenant: &str, version: i64, now_ms: i64) -> ErasureRequest {
    ErasureRequest {
        request_id: format!("opt-out:{tenant}:v{version}"),
        tenant_id: tenant.to_string(),
        conversation_id: None,
        requested_at_ms: now_ms,
        reason: "opt_out".to_string(),
        participant_id: None,
        requested_by: Some(format!("tenant-config:v{version}")),
    }
}

/// Publishes a request on the erasure topic (key: the tenant id); no offset hold: the
/// request is issued again from the configuration after a restart.
pub(crate) fn publish(
    codec: &Codec,
    producer: &Producer,
    topic: &str,
    request: &ErasureRequest,
) -> Result<(), PipelineError> {
    publish_record(codec, producer, topic, &request.tenant_id, request)
}

/// Publishes audit records (key: the action id), without offset holds.
pub(crate) fn audit(
    codec: &Codec,
    producer: &Producer,
    topic: &str,
    records: &[AuditRecord],
) -> Result<(), PipelineError> {
    for r in records {
        publish_record(codec, producer, topic, &r.action_id, r)?;
    }
    Ok(())
}

/// Publishes one record without an offset hold (control records: erasure requests, audit,
/// residency telemetry).
pub(crate) fn publish_record<T: ContractRecord>(
    codec: &Codec,
    producer: &Producer,
    topic: &str,
    key: &str,
    value: &T,
) -> Result<(), PipelineError> {
    let record = Record {
        topic,
        key: Some(key.as_bytes()),
        payload: codec.encode(topic, value)?,
        headers: None,
    };
    let delivery = Box::new(Delivery {
        hold: None,
        what: Produced::Control,
    });
    produce(producer, record, delivery)
        .map_err(|e| PipelineError::kafka(&format!("producing to {topic}"), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_opt_out_request_is_the_same_for_every_instance_of_one_version() {
        let a = opt_out_request("acme", 3, 10);
        let b = opt_out_request("acme", 3, 20);
        assert_eq!(a.request_id, b.request_id);
        assert_ne!(a.request_id, opt_out_request("acme", 4, 10).request_id);
        assert_eq!((a.reason.as_str(), a.conversation_id), ("opt_out", None));
    }
}
