//! The daemon's HTTP endpoints (axum): `/metrics` (OpenMetrics text), `/healthz` (the
//! process is up: always 200) and `/readyz` (configuration loaded, store writable, scheduler
//! alive: 200, else 503 saying why). With a token (`--token-env VAR`), every path but
//! `/healthz` wants `Authorization: Bearer <token>` (401 otherwise): a liveness probe of an
//! orchestrator carries no secret, and says nothing anyway.
//!
//! `probity serve` builds an [`HttpState`] (its metrics registry, the store, its
//! `DaemonState` as [`Readiness`], the dashboard) and serves [`router`]; the dashboard's
//! pages are merged in [`pages`], behind the same token.

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};

use super::dashboard::Dashboard;
use super::state::DaemonState;
use crate::metrics::{Metrics, OPENMETRICS_CONTENT_TYPE};
use crate::store::Store;

/// What the scheduler tells the endpoints: its readiness (configuration loaded, scheduler
/// loop alive; each entry of `not_ready` one reason, said to the person reading `/readyz`)
/// and, at each scrape, its own counters (skipped ticks, failed reloads) for `/metrics`.
pub trait Readiness: Send + Sync {
    fn not_ready(&self) -> Vec<String>;
    /// Brings the scheduler's counters into `metrics` just before it is encoded.
    fn feed(&self, _metrics: &Metrics) {}
}

/// The longest the scheduler may go without turning its loop (its heartbeat) before
/// `/readyz` calls it dead. The scheduler beats at least every second tick it waits for.
pub const HEARTBEAT_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(60);

impl Readiness for DaemonState {
    fn not_ready(&self) -> Vec<String> {
        let snapshot = self.snapshot();
        let mut problems = Vec::new();
        if !snapshot.config_loaded {
            problems.push("configuration not loaded".to_string());
        }
        if snapshot.shutting_down {
            problems.push("shutting down: no new runs start".to_string());
        }
        let max_age =
            chrono::Duration::from_std(HEARTBEAT_MAX_AGE).unwrap_or(chrono::Duration::MAX);
        if !snapshot.scheduler_alive(chrono::Utc::now(), max_age) {
            problems.push(match snapshot.heartbeat {
                Some(at) => format!(
                    "scheduler not alive: its last heartbeat was at {} (more than {} s ago)",
                    at.to_rfc3339(),
                    HEARTBEAT_MAX_AGE.as_secs()
                ),
                None => "scheduler not started yet".to_string(),
            });
        }
        problems
    }

    fn feed(&self, metrics: &Metrics) {
        let snapshot = self.snapshot();
        for probe in &snapshot.probes {
            metrics.set_skipped_ticks(&probe.name, probe.skipped_ticks);
        }
        metrics.set_failed_reloads(snapshot.failed_reloads);
    }
}

/// A process without a scheduler (a test serving the router, a metrics-only server):
/// ready whenever its store is.
pub struct NoScheduler;

impl Readiness for NoScheduler {
    fn not_ready(&self) -> Vec<String> {
        Vec::new()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error(
        "--token-env {var}: the environment variable {var} is not set or empty (it holds the bearer token the HTTP endpoints require)"
    )]
    TokenUnset { var: String },
}

/// The bearer token named by `--token-env VAR`, read through `env`. Unset or empty is an
/// error: a daemon told to require a token must not start open.
pub fn token_from_env(
    var: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, HttpError> {
    match env(var) {
        Some(token) if !token.trim().is_empty() => Ok(token.trim().to_string()),
        _ => Err(HttpError::TokenUnset { var: var.into() }),
    }
}

/// What the handlers share.
#[derive(Clone)]
pub struct HttpState {
    pub metrics: Arc<Metrics>,
    /// The store the daemon writes: `/readyz` checks it is writable, `/metrics` reads the
    /// open incidents and the outbox backlog from it at each scrape.
    pub store: Option<PathBuf>,
    pub readiness: Arc<dyn Readiness>,
    /// The dashboard's pages (`/`, `/probes/NAME`, `/runs/ID`), when served.
    pub dashboard: Option<Dashboard>,
    /// SHA-256 of the bearer token, when one is required (the token itself is not kept).
    token: Option<[u8; 32]>,
}

impl HttpState {
    pub fn new(
        metrics: Arc<Metrics>,
        store: Option<PathBuf>,
        readiness: Arc<dyn Readiness>,
    ) -> HttpState {
        HttpState {
            metrics,
            store,
            readiness,
            dashboard: None,
            token: None,
        }
    }

    /// Serves the dashboard's pages too, behind the same token as `/metrics`.
    pub fn with_dashboard(mut self, dashboard: Dashboard) -> HttpState {
        self.dashboard = Some(dashboard);
        self
    }

    /// Requires `Authorization: Bearer <token>` on every path but `/healthz`.
    pub fn with_token(mut self, token: &str) -> HttpState {
        self.token = Some(Sha256::digest(token.as_bytes()).into());
        self
    }
}

/// The daemon's router: `/metrics`, `/healthz`, `/readyz`, and the dashboard's pages.
pub fn router(state: HttpState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .merge(pages(&state))
        .layer(middleware::from_fn_with_state(state.clone(), require_token))
        .with_state(state)
}

/// The dashboard (issue 12: `/`, `/probes/NAME`, `/runs/ID`, `super::dashboard`), merged
/// here so its pages sit behind the token like `/metrics`.
fn pages(state: &HttpState) -> Router<HttpState> {
    match &state.dashboard {
        Some(dashboard) => super::dashboard::router(dashboard.clone()),
        None => Router::new(),
    }
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn metrics(State(state): State<HttpState>) -> Response {
    let metrics = state.metrics.clone();
    let store = state.store.clone();
    state.readiness.feed(&metrics);
    // SQLite is blocking: read the store's gauges off the async threads.
    let text = tokio::task::spawn_blocking(move || {
        if let Some(path) = store {
            let refreshed = Store::open(&path).and_then(|s| metrics.refresh_from_store(&s, None));
            if let Err(e) = refreshed {
                tracing::warn!("/metrics: open incidents and outbox not refreshed: {e}");
            }
        }
        metrics.encode()
    })
    .await;
    match text {
        Ok(text) => ([(header::CONTENT_TYPE, OPENMETRICS_CONTENT_TYPE)], text).into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("could not encode the metrics: {e}\n"),
        )
            .into_response(),
    }
}

async fn readyz(State(state): State<HttpState>) -> Response {
    let mut problems = state.readiness.not_ready();
    if let Some(path) = state.store.clone() {
        let checked = tokio::task::spawn_blocking(move || {
            Store::open(&path).and_then(|s| s.check_writable())
        })
        .await;
        match checked {
            Ok(Ok(())) => {}
            Ok(Err(e)) => problems.push(format!("store not writable: {e}")),
            Err(e) => problems.push(format!("store check failed: {e}")),
        }
    }
    if problems.is_empty() {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        let mut body = String::from("not ready:\n");
        for p in &problems {
            body.push_str(&format!("  - {p}\n"));
        }
        (StatusCode::SERVICE_UNAVAILABLE, body).into_response()
    }
}

/// The bearer check. Both sides are hashed before comparing, and the digests compared in
/// constant time: neither the token's length nor its prefix leak through timing.
async fn require_token(State(state): State<HttpState>, request: Request, next: Next) -> Response {
    let Some(expected) = state.token else {
        return next.run(request).await;
    };
    if request.uri().path() == "/healthz" || presented_matches(request.headers(), &expected) {
        return next.run(request).await;
    }
    let mut response = (
        StatusCode::UNAUTHORIZED,
        "a bearer token is required: Authorization: Bearer <token>\n",
    )
        .into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"probity\""),
    );
    response
}

fn presented_matches(headers: &HeaderMap, expected: &[u8; 32]) -> bool {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some((scheme, token)) = value.trim().split_once(' ') else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        return false;
    }
    let presented: [u8; 32] = Sha256::digest(token.trim().as_bytes()).into();
    constant_time_eq(&presented, expected)
}

fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_by_digest() {
        let expected: [u8; 32] = Sha256::digest(b"s3cret").into();
        let mut headers = HeaderMap::new();
        assert!(!presented_matches(&headers, &expected));
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer s3cret"),
        );
        assert!(presented_matches(&headers, &expected));
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer s3cret"),
        );
        assert!(presented_matches(&headers, &expected));
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer s3cre"),
        );
        assert!(!presented_matches(&headers, &expected));
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic s3cret"),
        );
        assert!(!presented_matches(&headers, &expected));
    }

    #[test]
    fn an_unset_or_empty_token_variable_is_an_error() {
        let env = |name: &str| match name {
            "SET" => Some("tok".to_string()),
            "EMPTY" => Some("  ".to_string()),
            _ => None,
        };
        assert_eq!(token_from_env("SET", &env).ok().as_deref(), Some("tok"));
        assert!(token_from_env("EMPTY", &env).is_err());
        let e = token_from_env("NOPE", &env)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("NOPE"), "{e}");
    }
}
