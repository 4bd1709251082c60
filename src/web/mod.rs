//! The service's HTTP face (axum): webhook receivers, `/healthz`, `/metrics`
//! and the web UI. It never calls WooCommerce or ERPNext: it reads the store
//! and queues jobs, and the workers do the rest.

mod auth;
mod new_connection;
mod pages;
mod products;
mod render;
mod settings;
pub mod webhooks;

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

pub use crate::metrics::Metrics;
pub use auth::{change_admin_password, ensure_admin_password, AdminAuth};

use crate::store::Store;
use crate::sync::context::CallSettings;
pub use new_connection::NewConnections;

/// What every handler shares. Cheap to clone.
#[derive(Debug, Clone)]
pub struct WebState {
    pub store: Store,
    pub metrics: Arc<Metrics>,
    pub auth: Arc<AdminAuth>,
    /// Timeouts and retries of the calls the new-connection form makes.
    pub calls: CallSettings,
    pub new_connections: Arc<NewConnections>,
}

pub fn router(state: WebState) -> Router {
    Router::new()
        .route(
            "/webhooks/woocommerce/{connection}",
            post(webhooks::woocommerce),
        )
        .route("/webhooks/erpnext/{connection}", post(webhooks::erpnext))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics_text))
        .merge(pages::routes())
        .layer(axum::middleware::map_response(security_headers))
        .with_state(state)
}

/// On every answer: no framing (clickjacking), no scripts or outside resources (the UI needs
/// none), no MIME sniffing, no referrer to other sites.
async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in [
        ("x-frame-options", "DENY"),
        (
            "content-security-policy",
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
        ),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "same-origin"),
    ] {
        headers.insert(name, header::HeaderValue::from_static(value));
    }
    response
}

/// `GET /healthz`: 200 when the store answers (503 when not), with each
/// connection's last poll.
async fn healthz(State(state): State<WebState>) -> Response {
    if let Err(error) = state.store.ping().await {
        tracing::error!(%error, "health check: the database does not answer");
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({
                "status": "unavailable",
                "store": { "reachable": false, "error": "the database does not answer; see the service log" },
            })),
        )
            .into_response();
    }
    let mut connections = Vec::new();
    match state.store.connections().await {
        Ok(stored) => {
            for connection in stored {
                let last_poll = crate::jobs::last_poll(&state.store, connection.id)
                    .await
                    .ok()
                    .flatten();
                connections.push(json!({
                    "name": connection.connection.name,
                    "last_poll": last_poll,
                }));
            }
        }
        Err(error) => tracing::warn!(%error, "health check: cannot list connections"),
    }
    let degraded = connections
        .iter()
        .any(|connection| connection["last_poll"]["succeeded"] == serde_json::Value::Bool(false));
    Json(json!({
        "status": if degraded { "degraded" } else { "ok" },
        "store": { "reachable": true, "engine": format!("{:?}", state.store.engine()).to_lowercase() },
        "connections": connections,
    }))
    .into_response()
}

/// `GET /metrics`: Prometheus text exposition.
async fn metrics_text(State(state): State<WebState>) -> Response {
    let pending = state.store.pending_job_count().await.ok();
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(pending),
    )
        .into_response()
}
