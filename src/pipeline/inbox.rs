//! The consumer loop's inbox: the one way the threads around the loop tell it something.
//!
//! The loop owns the offset book and every other piece of mutable pipeline state. The
//! producer's delivery callback, the analysis workers and the tenant reader never touch that
//! state: they send a [`LoopMessage`], and the loop drains its inbox in every poll cycle,
//! before it stores or commits offsets, and before it completes a rebalance. A failure
//! anywhere arrives the same way ([`LoopMessage::Fatal`]), so the loop has one fatal path.
//!
//! [`spawn_task`] starts a background thread under a guard: when the thread fails (an error
//! or a panic) while the service is running, the guard sends the loop a fatal message naming
//! the task, and the service stops with that error.

use super::offsets::Hold;
use super::PipelineError;
use crate::events::ErasureRequest;
use crate::tenant::TenantEvent;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{Receiver, Sender};
use std::thread::JoinHandle;
use thiserror::Error;
use tokio_util::sync::CancellationToken;

/// What the threads around the consumer loop tell it.
#[derive(Debug)]
pub(crate) enum LoopMessage {
    /// The broker acknowledged a produced record: release its hold.
    Acknowledged(Hold),
    /// The analysis pool handed a conversation's records to the producer: release the
    /// conversation's pending hold. `insight`: one of the records was an insight.
    Produced {
        /// The pending hold the loop took when it submitted the conversation.
        pending: Option<Hold>,
        /// An insight was among the records.
        insight: bool,
    },
    /// A record of the tenant-config topic, read and compiled by the tenant reader.
    Tenant(TenantEvent),
    /// An erasure request, read by the erasure watch: drop and refuse what it names.
    Erasure(ErasureRequest),
    /// A tenant's CRM mapping changed (`None`: back to the built-in mapping), read and
    /// validated by the CRM mapping reader.
    CrmMapping {
        /// Tenant id.
        tenant: String,
        /// The mapping now in force.
        mapping: Option<std::sync::Arc<crate::crm::ValidMapping>>,
    },
    /// Something failed that stops the service.
    Fatal(PipelineError),
}

/// The sending side of the loop's inbox (cloned into every thread that reports to it).
pub(crate) type Inbox = Sender<LoopMessage>;

/// The loop's side of its inbox.
pub(crate) type InboxReceiver = Receiver<LoopMessage>;

/// A new inbox.
pub(crate) fn inbox() -> (Inbox, InboxReceiver) {
    std::sync::mpsc::channel()
}

/// How a background task ended while the service was running.
#[derive(Debug, Error)]
pub enum TaskEnd {
    /// It returned an error.
    #[error(transparent)]
    Failed(Box<PipelineError>),
    /// It panicked.
    #[error("it panicked")]
    Panicked,
}

/// Starts `body` on a thread named `thread_name` under a guard: if it fails (returns an
/// error or panics) while `shutdown` is not cancelled, the loop gets
/// [`PipelineError::TaskStopped`] naming `task`. `body` returns `Ok` only when it was asked
/// to stop; an error after shutdown was asked for is only logged.
pub(crate) fn spawn_task<F>(
    task: &'static str,
    thread_name: &str,
    inbox: Inbox,
    shutdown: CancellationToken,
    body: F,
) -> Result<JoinHandle<()>, PipelineError>
where
    F: FnOnce() -> Result<(), PipelineError> + Send + 'static,
{
    std::thread::Builder::new()
        .name(thread_name.to_string())
        .spawn(move || {
            let end = match catch_unwind(AssertUnwindSafe(body)) {
                Ok(Ok(())) => return,
                Ok(Err(e)) => TaskEnd::Failed(Box::new(e)),
                Err(_) => TaskEnd::Panicked,
            };
            if shutdown.is_cancelled() {
                if let TaskEnd::Failed(e) = &end {
                    tracing::warn!(task, error = %e, "background task failed while stopping");
                }
                return;
            }
            tracing::error!(task, reason = %end, "background task stopped; stopping the service");
            // The loop may be gone already (it stopped for another reason): nothing to tell.
            let _ = inbox.send(LoopMessage::Fatal(PipelineError::TaskStopped { task, end }));
        })
        .map_err(|source| PipelineError::Spawn {
            thread: thread_name.to_string(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ended(body: impl FnOnce() -> Result<(), PipelineError> + Send + 'static) -> String {
        let (tx, rx) = inbox();
        let stop = CancellationToken::new();
        spawn_task("test task", "debrief-test", tx, stop, body)
            .unwrap()
            .join()
            .unwrap();
        match rx.try_recv() {
            Ok(LoopMessage::Fatal(e)) => e.to_string(),
            Ok(other) => panic!("expected a fatal message, got {other:?}"),
            Err(_) => "nothing".to_string(),
        }
    }

    #[test]
    fn a_task_that_ends_while_running_stops_the_service_with_its_name() {
        let failed = ended(|| {
            Err(PipelineError::Spawn {
                thread: "x".into(),
                source: std::io::Error::other("boom"),
            })
        });
        assert!(failed.starts_with("the test task stopped: "), "{failed}");
        assert!(failed.contains("boom"), "{failed}");
        #[allow(clippy::panic)]
        let panicked = ended(|| panic!("bug"));
        assert_eq!(panicked, "the test task stopped: it panicked");
        assert_eq!(ended(|| Ok(())), "nothing", "Ok: it was asked to stop");
    }

    #[test]
    fn a_task_that_ends_after_shutdown_is_not_reported() {
        let (tx, rx) = inbox();
        let stop = CancellationToken::new();
        stop.cancel();
        spawn_task("test task", "debrief-test", tx, stop, || {
            Err(PipelineError::PoolStopped)
        })
        .unwrap()
        .join()
        .unwrap();
        assert!(rx.try_recv().is_err());
    }
}
