//! The operations endpoint: `/metrics` (Prometheus text format), `/healthz` (the process is
//! up) and `/readyz` (200 when partitions are assigned and the consumer loop is polling,
//! 503 otherwise).

use crate::metrics::Metrics;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// The consumer loop is considered stuck when it has not polled for this long, ms.
pub const POLL_STALE_MS: i64 = 10_000;

/// Readiness of the pipeline, updated by the consumer loop and the rebalance callbacks.
#[derive(Debug, Default)]
pub struct Health {
    assigned: AtomicUsize,
    consuming: AtomicBool,
    last_poll_ms: AtomicI64,
    /// Standing warnings shown in `/readyz` (they do not make the service unready).
    warnings: std::sync::Mutex<Vec<String>>,
    brokers_unreachable: AtomicBool,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Health {
    /// Number of transcript partitions assigned to this instance.
    pub fn set_assigned(&self, n: usize) {
        self.assigned.store(n, Ordering::SeqCst);
    }

    /// Partitions assigned to this instance.
    pub fn assigned(&self) -> usize {
        self.assigned.load(Ordering::SeqCst)
    }

    /// Records whether the Kafka clients can reach a broker (see
    /// `pipeline::client_log`).
    pub fn set_brokers_unreachable(&self, unreachable: bool) {
        self.brokers_unreachable
            .store(unreachable, Ordering::SeqCst);
    }

    /// `true` while the Kafka clients report that no broker can be reached.
    pub fn brokers_unreachable(&self) -> bool {
        self.brokers_unreachable.load(Ordering::SeqCst)
    }

    /// The loop started (`true`) or stopped (`false`) consuming.
    pub fn set_consuming(&self, consuming: bool) {
        self.consuming.store(consuming, Ordering::SeqCst);
    }

    /// The loop polled the consumer just now.
    pub fn polled(&self) {
        self.last_poll_ms.store(now_ms(), Ordering::Relaxed);
    }

    /// Adds a standing warning to the `/readyz` detail (no personal data).
    pub fn warn(&self, warning: String) {
        self.warnings
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(warning);
    }

    /// The standing warnings, one per line.
    pub fn warnings(&self) -> String {
        self.warnings
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|w| format!("warning: {w}\n"))
            .collect()
    }

    /// Ready: partitions assigned, the loop consuming, and a poll within [`POLL_STALE_MS`].
    pub fn is_ready(&self) -> bool {
        self.assigned() > 0
            && self.consuming.load(Ordering::SeqCst)
            && now_ms() - self.last_poll_ms.load(Ordering::Relaxed) < POLL_STALE_MS
    }
}

/// What the handlers read.
#[derive(Debug, Clone)]
pub struct HttpState {
    /// Metrics rendered by `/metrics`.
    pub metrics: Arc<Metrics>,
    /// Readiness reported by `/readyz`.
    pub health: Arc<Health>,
}

/// The routes.
pub fn router(state: HttpState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .with_state(state)
}

async fn metrics(State(state): State<HttpState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
}

async fn readyz(State(state): State<HttpState>) -> impl IntoResponse {
    if state.health.is_ready() {
        (
            StatusCode::OK,
            format!("ready\n{}", state.health.warnings()),
        )
    } else {
        let brokers = if state.health.brokers_unreachable() {
            ", the Kafka brokers cannot be reached"
        } else {
            ""
        };
        let reason = format!(
            "not ready: {} partition(s) assigned, consuming: {}{brokers}\n{}",
            state.health.assigned(),
            state.health.consuming.load(Ordering::SeqCst),
            state.health.warnings()
        );
        (StatusCode::SERVICE_UNAVAILABLE, reason)
    }
}

/// Binds the listen address (port 0 picks a free port; see `local_addr` on the result).
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

/// Serves the routes on `listener` until `shutdown` is cancelled.
pub async fn serve(
    listener: TcpListener,
    state: HttpState,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn get(addr: SocketAddr, path: &str) -> String {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn endpoints_answer() {
        let metrics = Arc::new(Metrics::new().unwrap());
        let health = Arc::new(Health::default());
        let listener = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = CancellationToken::new();
        let server = tokio::spawn(serve(
            listener,
            HttpState {
                metrics: metrics.clone(),
                health: health.clone(),
            },
            stop.clone(),
        ));

        assert!(get(addr, "/healthz").await.starts_with("HTTP/1.1 200"));
        let r = get(addr, "/readyz").await;
        assert!(r.starts_with("HTTP/1.1 503"), "{r}");
        assert!(r.contains("0 partition(s) assigned"), "{r}");
        health.set_assigned(2);
        health.set_consuming(true);
        health.polled();
        assert!(get(addr, "/readyz").await.starts_with("HTTP/1.1 200"));
        health.set_consuming(false);
        assert!(get(addr, "/readyz").await.starts_with("HTTP/1.1 503"));
        metrics.conversations_open.set(4);
        let m = get(addr, "/metrics").await;
        assert!(m.contains("text/plain; version=0.0.4"), "{m}");
        assert!(m.contains("debrief_conversations_open 4"), "{m}");

        stop.cancel();
        server.await.unwrap().unwrap();
    }
}
