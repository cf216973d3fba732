//! A minimal Confluent-compatible schema-registry client: register a schema under a subject
//! and fetch a schema by id, over the registry's REST API. Caching is the codec's job.

use super::SchemaError;
use serde::Deserialize;
use std::time::Duration;

/// Content type of the registry's REST API.
const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

/// Talks to one schema registry (`http://host:8081`). Cheap to clone.
#[derive(Debug, Clone)]
pub struct RegistryClient {
    base: reqwest::Url,
    http: reqwest::Client,
}

#[derive(Deserialize)]
struct IdAnswer {
    id: u32,
}

#[derive(Deserialize)]
struct SchemaAnswer {
    schema: String,
    #[serde(rename = "schemaType")]
    schema_type: Option<String>,
}

impl RegistryClient {
    /// A client for the registry at `base_url` (`http://localhost:8081`, a path prefix is
    /// kept). Requests time out after `timeout`.
    pub fn new(base_url: &str, timeout: Duration) -> Result<RegistryClient, SchemaError> {
        let mut base = reqwest::Url::parse(base_url).map_err(|e| {
            SchemaError::Config(format!(
                "schema registry URL {base_url:?} is not a URL: {e}"
            ))
        })?;
        if base.scheme() != "http" {
            return Err(SchemaError::Config(format!(
                "schema registry URL {base_url:?}: only http:// is supported (this build has no \
                 TLS for the registry client)"
            )));
        }
        if base.cannot_be_a_base() {
            return Err(SchemaError::Config(format!(
                "schema registry URL {base_url:?} cannot have a path"
            )));
        }
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| SchemaError::Config(format!("schema registry HTTP client: {e}")))?;
        Ok(RegistryClient { base, http })
    }

    /// The base URL, always ending in `/`.
    pub fn base_url(&self) -> &str {
        self.base.as_str()
    }

    fn url(&self, segments: &[&str]) -> Result<reqwest::Url, SchemaError> {
        let mut url = self.base.clone();
        {
            let mut path = url.path_segments_mut().map_err(|_| {
                SchemaError::Config(format!(
                    "schema registry URL {} cannot have a path",
                    self.base
                ))
            })?;
            path.pop_if_empty();
            path.extend(segments);
        }
        Ok(url)
    }

    /// `POST /subjects/{subject}/versions` with the schema JSON: registers it (or finds it
    /// already registered) and returns its global id.
    pub async fn register(&self, subject: &str, schema_json: &str) -> Result<u32, SchemaError> {
        let url = self.url(&["subjects", subject, "versions"])?;
        let body = serde_json::json!({ "schema": schema_json });
        let response = self
            .http
            .post(url.clone())
            .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE)
            .header(reqwest::header::ACCEPT, CONTENT_TYPE)
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| network("POST", &url, &e))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| network("POST", &url, &e))?;
        if !status.is_success() {
            return Err(SchemaError::Registry {
                reason: format!("POST {url}: {status}: {}", snippet(&text)),
                retryable: status.is_server_error() || status.as_u16() == 429,
            });
        }
        let answer: IdAnswer = serde_json::from_str(&text).map_err(|e| SchemaError::Registry {
            reason: format!("POST {url}: unexpected answer {:?}: {e}", snippet(&text)),
            retryable: false,
        })?;
        Ok(answer.id)
    }

    /// `GET /schemas/ids/{id}`: the schema JSON registered under this id. A 404 is
    /// [`SchemaError::UnknownSchema`]; a schema that is not Avro too.
    pub async fn schema_by_id(&self, id: u32) -> Result<String, SchemaError> {
        let url = self.url(&["schemas", "ids", &id.to_string()])?;
        let response = self
            .http
            .get(url.clone())
            .header(reqwest::header::ACCEPT, CONTENT_TYPE)
            .send()
            .await
            .map_err(|e| network("GET", &url, &e))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| network("GET", &url, &e))?;
        if status == reqwest::StatusCode::NOT_FOUND {
            return Err(SchemaError::UnknownSchema(format!(
                "schema id {id} is not in the registry ({})",
                snippet(&text)
            )));
        }
        if !status.is_success() {
            return Err(SchemaError::Registry {
                reason: format!("GET {url}: {status}: {}", snippet(&text)),
                retryable: status.is_server_error() || status.as_u16() == 429,
            });
        }
        let answer: SchemaAnswer =
            serde_json::from_str(&text).map_err(|e| SchemaError::Registry {
                reason: format!("GET {url}: unexpected answer {:?}: {e}", snippet(&text)),
                retryable: false,
            })?;
        match answer.schema_type.as_deref() {
            None | Some("AVRO") => Ok(answer.schema),
            Some(other) => Err(SchemaError::UnknownSchema(format!(
                "schema id {id} is a {other} schema, not Avro"
            ))),
        }
    }
}

fn network(method: &str, url: &reqwest::Url, e: &reqwest::Error) -> SchemaError {
    SchemaError::Registry {
        reason: format!("{method} {url}: {e}"),
        retryable: true,
    }
}

/// At most 200 characters of an answer body, for error messages.
fn snippet(text: &str) -> String {
    let t = text.trim();
    match t.char_indices().nth(200) {
        Some((i, _)) => format!("{}...", &t[..i]),
        None => t.to_string(),
    }
}

#[cfg(test)]
pub(crate) mod fake {
    //! An in-process schema registry with the two endpoints the client uses, for tests.

    use axum::extract::{Path, State};
    use axum::http::StatusCode;
    use axum::routing::{get, post};
    use axum::Router;
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    /// What the fake registry holds and saw.
    #[derive(Default)]
    pub struct Registry {
        /// Schemas by id (ids start at 1).
        pub schemas: Vec<String>,
        /// Subject -> ids registered under it.
        pub subjects: HashMap<String, Vec<u32>>,
        /// Number of requests served, by endpoint (`register`, `get`).
        pub calls: HashMap<&'static str, usize>,
    }

    pub type Shared = Arc<Mutex<Registry>>;

    /// A JSON answer (axum's `json` feature is off in this crate).
    struct Json(serde_json::Value);

    impl axum::response::IntoResponse for Json {
        fn into_response(self) -> axum::response::Response {
            let headers = [(axum::http::header::CONTENT_TYPE, super::CONTENT_TYPE)];
            (headers, self.0.to_string()).into_response()
        }
    }

    async fn register(
        State(state): State<Shared>,
        Path(subject): Path<String>,
        body: String,
    ) -> (StatusCode, Json) {
        let Ok(mut reg) = state.lock() else {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(serde_json::json!({})),
            );
        };
        *reg.calls.entry("register").or_default() += 1;
        let schema = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("schema").and_then(|s| s.as_str()).map(str::to_owned));
        let Some(schema) = schema else {
            return (
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(serde_json::json!({"error_code": 42201, "message": "Invalid schema"})),
            );
        };
        let id = match reg.schemas.iter().position(|s| *s == schema) {
            Some(i) => i as u32 + 1,
            None => {
                reg.schemas.push(schema);
                reg.schemas.len() as u32
            }
        };
        reg.subjects.entry(subject).or_default().push(id);
        (StatusCode::OK, Json(serde_json::json!({ "id": id })))
    }

    async fn by_id(State(state): State<Shared>, Path(id): Path<u32>) -> (StatusCode, Json) {
        let Ok(mut reg) = state.lock() else {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(serde_json::json!({})),
            );
        };
        *reg.calls.entry("get").or_default() += 1;
        match id.checked_sub(1).and_then(|i| reg.schemas.get(i as usize)) {
            Some(s) => (StatusCode::OK, Json(serde_json::json!({ "schema": s }))),
            None => (
                StatusCode::NOT_FOUND,
                Json(serde_json::json!({"error_code": 40403, "message": "Schema not found"})),
            ),
        }
    }

    /// Starts the fake registry on a free local port; returns its base URL and state.
    pub async fn start() -> (String, Shared) {
        let state: Shared = Arc::default();
        let app = Router::new()
            .route("/subjects/{subject}/versions", post(register))
            .route("/schemas/ids/{id}", get(by_id))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        (format!("http://{addr}"), state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Duration = Duration::from_secs(5);

    #[tokio::test]
    async fn register_then_fetch_by_id() {
        let (url, state) = fake::start().await;
        let c = RegistryClient::new(&url, T).unwrap();
        let a = c.register("topic-a-value", r#""string""#).await.unwrap();
        let b = c.register("topic-b-value", r#""long""#).await.unwrap();
        let a2 = c.register("topic-c-value", r#""string""#).await.unwrap();
        assert_eq!((a, b, a2), (1, 2, 1));
        assert_eq!(c.schema_by_id(2).await.unwrap(), r#""long""#);
        let reg = state.lock().unwrap();
        assert_eq!(reg.subjects["topic-a-value"], vec![1]);
        assert_eq!(reg.calls["register"], 3);
        assert_eq!(reg.calls["get"], 1);
    }

    #[tokio::test]
    async fn unknown_id_is_unknown_schema_not_retryable() {
        let (url, _state) = fake::start().await;
        let c = RegistryClient::new(&url, T).unwrap();
        let e = c.schema_by_id(42).await.unwrap_err();
        assert_eq!(e.kind(), "unknown_schema", "{e}");
        assert!(!e.is_retryable());
    }

    #[tokio::test]
    async fn unreachable_registry_is_a_retryable_registry_error() {
        // Bind then drop a listener so the port is (almost certainly) closed.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let c = RegistryClient::new(&format!("http://{addr}"), T).unwrap();
        let e = c.schema_by_id(1).await.unwrap_err();
        assert_eq!(e.kind(), "registry", "{e}");
        assert!(e.is_retryable());
        assert!(e.to_string().contains("/schemas/ids/1"), "{e}");
    }

    #[test]
    fn base_url_keeps_a_path_prefix_and_rejects_non_urls() {
        let c = RegistryClient::new("http://reg:8081/prefix", T).unwrap();
        assert_eq!(c.base_url(), "http://reg:8081/prefix/");
        let u = c
            .url(&["subjects", "debrief.transcripts.v1-value", "versions"])
            .unwrap();
        assert_eq!(
            u.as_str(),
            "http://reg:8081/prefix/subjects/debrief.transcripts.v1-value/versions"
        );
        assert_eq!(
            RegistryClient::new("not a url", T).unwrap_err().kind(),
            "config"
        );
        let e = RegistryClient::new("https://reg:8081", T).unwrap_err();
        assert!(e.to_string().contains("only http://"), "{e}");
    }

    #[test]
    fn snippet_cuts_long_bodies() {
        assert_eq!(snippet("  short "), "short");
        let long = "é".repeat(300);
        assert_eq!(snippet(&long).chars().count(), 203);
    }
}
