//! What librdkafka says, said once. Without a broker, librdkafka reports the same failure
//! through its log and its error callback for every connection attempt of every client (a few
//! hundred lines in seconds). Every client of the service (consumer, producer, tenant reader)
//! hands its log lines and errors to one [`ClientLog`]:
//! - broker connection failures (`BrokerTransportFailure`, `AllBrokersDown`, resolve and
//!   connect errors) become one warning, "cannot reach the Kafka brokers", until the
//!   connection is back (then one info line), and `/readyz` says so meanwhile;
//! - any other line is written the first time, and repeats of it within
//!   [`REPEAT_WINDOW`] are counted and summarised when the window ends.

/// The `log` and `error` methods of an rdkafka `ClientContext` whose `client_log` field is an
/// `Arc<ClientLog>`: every line goes to it, marked as coming from `$client` (`"consumer"`,
/// `"producer"`). Used inside the `impl ClientContext` block.
macro_rules! log_to_client_log {
    ($client:literal) => {
        fn log(&self, level: rdkafka::config::RDKafkaLogLevel, fac: &str, message: &str) {
            self.client_log.log($client, level, fac, message);
        }

        fn error(&self, error: rdkafka::error::KafkaError, _reason: &str) {
            self.client_log.error($client, &error);
        }
    };
}
pub(crate) use log_to_client_log;

use crate::http::Health;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How long a repeated line stays quiet after it was written.
pub const REPEAT_WINDOW: Duration = Duration::from_secs(60);

/// Most distinct lines remembered (older ones are forgotten; at worst written again).
const MAX_REMEMBERED: usize = 1024;

/// What to do with a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admit {
    /// Write it.
    Write,
    /// Write it, saying it was repeated this many times since it was last written.
    WriteRepeated(u64),
    /// Stay quiet (counted).
    Quiet,
}

/// Deduplication of lines by key within [`REPEAT_WINDOW`]; pure (the caller passes the time).
#[derive(Debug, Default)]
pub struct Gate {
    seen: HashMap<String, (Instant, u64)>,
}

impl Gate {
    /// Whether to write the line with this key at `now`.
    pub fn admit(&mut self, key: &str, now: Instant) -> Admit {
        if self.seen.len() >= MAX_REMEMBERED && !self.seen.contains_key(key) {
            self.seen
                .retain(|_, (at, _)| now.duration_since(*at) < REPEAT_WINDOW);
            if self.seen.len() >= MAX_REMEMBERED {
                self.seen.clear();
            }
        }
        match self.seen.get_mut(key) {
            None => {
                self.seen.insert(key.to_owned(), (now, 0));
                Admit::Write
            }
            Some((at, quiet)) if now.duration_since(*at) >= REPEAT_WINDOW => {
                let repeated = *quiet;
                *at = now;
                *quiet = 0;
                if repeated > 0 {
                    Admit::WriteRepeated(repeated)
                } else {
                    Admit::Write
                }
            }
            Some((_, quiet)) => {
                *quiet += 1;
                Admit::Quiet
            }
        }
    }
}

/// `true` for errors that mean the brokers cannot be reached (as opposed to a refused
/// request).
pub fn is_unreachable(error: &KafkaError) -> bool {
    matches!(
        error.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::BrokerTransportFailure
                | RDKafkaErrorCode::AllBrokersDown
                | RDKafkaErrorCode::Resolve
                | RDKafkaErrorCode::BrokerNotAvailable
                | RDKafkaErrorCode::NetworkException
        )
    )
}

/// The service's one sink for librdkafka's logs and errors (shared by its clients).
#[derive(Debug)]
pub struct ClientLog {
    brokers: String,
    health: Arc<Health>,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    gate: Gate,
    unreachable: bool,
}

impl ClientLog {
    /// A sink for the clients of `brokers`; reachability is reported to `health`.
    pub fn new(brokers: &str, health: Arc<Health>) -> ClientLog {
        ClientLog {
            brokers: brokers.to_owned(),
            health,
            state: Mutex::new(State::default()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // Only counters and flags inside: a panic elsewhere leaves them usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A librdkafka error (error callback, or an error returned by `poll`).
    pub fn error(&self, client: &str, error: &KafkaError) {
        if is_unreachable(error) {
            let mut state = self.state();
            if !state.unreachable {
                state.unreachable = true;
                self.health.set_brokers_unreachable(true);
                tracing::warn!(
                    brokers = %self.brokers,
                    client,
                    error = %error,
                    "cannot reach the Kafka brokers; retrying (said once until they answer)"
                );
            }
            return;
        }
        let line = format!("{client}: {error}");
        self.write(
            &line,
            || tracing::warn!(client, error = %error, "Kafka client error"),
        );
    }

    /// The brokers answered (a record, an assignment, an acknowledgement).
    pub fn reachable(&self) {
        let mut state = self.state();
        if state.unreachable {
            state.unreachable = false;
            self.health.set_brokers_unreachable(false);
            tracing::info!(brokers = %self.brokers, "Kafka brokers reachable again");
        }
    }

    /// A librdkafka log line.
    pub fn log(&self, client: &str, level: RDKafkaLogLevel, fac: &str, message: &str) {
        match level {
            RDKafkaLogLevel::Emerg
            | RDKafkaLogLevel::Alert
            | RDKafkaLogLevel::Critical
            | RDKafkaLogLevel::Error
            | RDKafkaLogLevel::Warning => {
                if self.state().unreachable && looks_like_connection_noise(message) {
                    return;
                }
                let line = format!("{client}: {fac}: {message}");
                self.write(&line, || {
                    tracing::warn!(client, facility = fac, "librdkafka: {message}")
                });
            }
            RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
                tracing::info!(client, facility = fac, "librdkafka: {message}")
            }
            RDKafkaLogLevel::Debug => {
                tracing::debug!(client, facility = fac, "librdkafka: {message}")
            }
        }
    }

    fn write(&self, line: &str, emit: impl FnOnce()) {
        let admit = self.state().gate.admit(line, Instant::now());
        match admit {
            Admit::Write => emit(),
            Admit::WriteRepeated(n) => {
                emit();
                tracing::warn!(
                    repeated = n,
                    "the line above was repeated {n} times in the last minute"
                );
            }
            Admit::Quiet => {}
        }
    }
}

/// librdkafka's log lines about failed connections (they repeat the error callback's news).
fn looks_like_connection_noise(message: &str) -> bool {
    [
        "Connect to",
        "Connection refused",
        "brokers are down",
        "Disconnected",
        "resolve",
    ]
    .iter()
    .any(|needle| message.contains(needle))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdkafka::error::KafkaError;

    #[test]
    fn a_line_is_written_once_per_window_with_the_count_of_repeats() {
        let mut gate = Gate::default();
        let t0 = Instant::now();
        assert_eq!(gate.admit("a", t0), Admit::Write);
        assert_eq!(gate.admit("a", t0 + Duration::from_secs(1)), Admit::Quiet);
        assert_eq!(gate.admit("a", t0 + Duration::from_secs(2)), Admit::Quiet);
        assert_eq!(gate.admit("b", t0 + Duration::from_secs(2)), Admit::Write);
        assert_eq!(
            gate.admit("a", t0 + REPEAT_WINDOW + Duration::from_secs(1)),
            Admit::WriteRepeated(2)
        );
        assert_eq!(
            gate.admit("b", t0 + REPEAT_WINDOW * 3),
            Admit::Write,
            "no repeats: written plainly"
        );
    }

    #[test]
    fn the_gate_forgets_when_full() {
        let mut gate = Gate::default();
        let t0 = Instant::now();
        for i in 0..MAX_REMEMBERED + 10 {
            assert_eq!(gate.admit(&i.to_string(), t0), Admit::Write);
        }
        assert!(gate.seen.len() <= MAX_REMEMBERED);
    }

    #[test]
    fn unreachable_brokers_are_said_once_and_shown_in_readiness() {
        let health = Arc::new(Health::default());
        let log = ClientLog::new("127.0.0.1:1", health.clone());
        let down = KafkaError::MessageConsumption(RDKafkaErrorCode::AllBrokersDown);
        assert!(is_unreachable(&down));
        assert!(!is_unreachable(&KafkaError::MessageConsumption(
            RDKafkaErrorCode::UnknownTopicOrPartition
        )));
        log.error("consumer", &down);
        assert!(health.brokers_unreachable());
        log.error("producer", &down);
        assert!(log.state().unreachable);
        log.reachable();
        assert!(!health.brokers_unreachable());
    }
}
