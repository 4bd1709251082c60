//! The webhook receivers. Each verifies the sender's signature, commits the
//! raw body to the inbox, queues the job it implies, and only then answers
//! 200 (invariant 2: nothing is acknowledged before it is stored). The event
//! is a hint: the job re-reads the order, so a lost, repeated or stale
//! delivery changes nothing that the next poll would not fix.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::WebState;
use crate::jobs::routing::{
    route_event, ERPNEXT as SOURCE_ERPNEXT, WOOCOMMERCE as SOURCE_WOOCOMMERCE,
};
use crate::store::{InboxOutcome, StoreError, StoredConnection};
use crate::woocommerce::webhook::{verify_request, verify_signature, WebhookRequest};

const ERPNEXT_SIGNATURE_HEADER: &str = "x-frappe-webhook-signature";

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

/// The one answer to every request that does not prove it knows the connection's secret —
/// unknown connection, no secret set, no signature, wrong signature — so that the answer does
/// not tell which connection names exist. The specific reason goes to the log and `/metrics`.
const REFUSED: &str = "the delivery is not signed with the webhook secret of the connection in its address; the service log says more";

fn refused() -> Response {
    error(StatusCode::UNAUTHORIZED, REFUSED)
}

/// Counts a refused delivery of a known connection in `/metrics` and in the store, where the
/// dashboard finds it.
async fn count_rejection(
    state: &WebState,
    connection: &StoredConnection,
    source: &str,
    reason: &str,
) {
    state.metrics.webhook_rejected(source, reason);
    if let Err(store_error) = state
        .store
        .record_webhook_rejection(connection.id, source, reason, chrono::Utc::now())
        .await
    {
        tracing::warn!(error = %store_error, source, reason, "cannot record a refused webhook");
    }
}

/// The connection named in the address; `Ok(None)` when there is none.
async fn load_connection(
    state: &WebState,
    source: &str,
    name: &str,
) -> Result<Option<StoredConnection>, Response> {
    match state.store.connection(name).await {
        Ok(connection) => Ok(Some(connection)),
        Err(StoreError::NotFound(_)) => {
            state.metrics.webhook_rejected(source, "unknown_connection");
            tracing::warn!(
                connection = name,
                source,
                "webhook for an unknown connection refused"
            );
            Ok(None)
        }
        Err(store_error) => {
            tracing::error!(error = %store_error, connection = name, "cannot read the connection for a webhook");
            Err(error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the service cannot read its database right now; the scheduled poll will catch this change",
            ))
        }
    }
}

fn ping_answer(webhook_id: u64) -> Response {
    Json(json!({ "ok": true, "ping": webhook_id })).into_response()
}

fn parse_json_body(source: &str, body: &[u8]) -> Result<Value, String> {
    let text = std::str::from_utf8(body).map_err(|_| {
        format!("the {source} webhook body is not UTF-8 text; expected the JSON document")
    })?;
    serde_json::from_str(text).map_err(|parse| {
        format!("the {source} webhook body is not valid JSON ({parse}); expected the JSON document")
    })
}

/// Commits the event, queues its job, and says what happened.
async fn record(
    state: &WebState,
    connection: &StoredConnection,
    source: &str,
    topic: &str,
    object_id: &str,
    raw: &str,
    body: &Value,
) -> Response {
    // A signed, readable delivery: whatever refused this source's deliveries before is fixed.
    if let Err(store_error) = state
        .store
        .clear_webhook_rejections(connection.id, source)
        .await
    {
        tracing::warn!(error = %store_error, source, "cannot clear earlier webhook refusals");
    }
    let outcome = match state
        .store
        .record_inbound(connection.id, source, topic, object_id, raw)
        .await
    {
        Ok(outcome) => outcome,
        Err(store_error) => {
            tracing::error!(error = %store_error, source, topic, object_id, "cannot record a webhook");
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the service cannot record the event right now; the scheduled poll will catch this change",
            );
        }
    };
    match outcome {
        InboxOutcome::Duplicate => {
            state.metrics.webhook_received(source, false);
            tracing::info!(
                connection = %connection.connection.name,
                source,
                topic,
                object_id,
                "duplicate webhook delivery ignored"
            );
            Json(json!({ "ok": true, "recorded": "duplicate" })).into_response()
        }
        InboxOutcome::New(event_id) => {
            state.metrics.webhook_received(source, true);
            // The event is committed; if queueing fails, the inbox replay queues it later.
            let jobs = match route_event(&state.store, connection, event_id, source, topic, body)
                .await
            {
                Ok(jobs) => jobs,
                Err(store_error) => {
                    tracing::warn!(error = %store_error, event_id, "event recorded, its job will be queued by the inbox replay");
                    Vec::new()
                }
            };
            let order = jobs.iter().find_map(|job| match job {
                crate::jobs::Job::Order { order_id } => Some(order_id.to_string()),
                _ => None,
            });
            tracing::info!(
                connection = %connection.connection.name,
                source,
                topic,
                object_id,
                queued_order = order.as_deref().unwrap_or("-"),
                "webhook recorded"
            );
            Json(json!({ "ok": true, "recorded": "new", "queued_order": order })).into_response()
        }
    }
}

/// `POST /webhooks/woocommerce/{connection}`.
pub async fn woocommerce(
    State(state): State<WebState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let source = SOURCE_WOOCOMMERCE;
    let connection = match load_connection(&state, source, &name).await {
        Ok(Some(connection)) => connection,
        // The unsigned creation ping gets the same answer whether the name exists or not.
        Ok(None) => {
            return match verify_request("", &headers, &body) {
                Ok(WebhookRequest::Ping { webhook_id }) => ping_answer(webhook_id),
                _ => refused(),
            }
        }
        Err(response) => return response,
    };
    let secret = &connection.connection.credentials.webhook_secret;
    let delivery = match verify_request(secret, &headers, &body) {
        Ok(WebhookRequest::Ping { webhook_id }) => {
            tracing::info!(connection = %name, webhook_id, "WooCommerce webhook ping");
            return ping_answer(webhook_id);
        }
        Ok(WebhookRequest::Delivery { .. }) if secret.is_empty() => {
            count_rejection(&state, &connection, source, "no_secret").await;
            tracing::warn!(connection = %name, "WooCommerce webhook refused: the connection has no webhook secret; set one in its settings");
            return refused();
        }
        Ok(WebhookRequest::Delivery { headers }) => headers,
        Err(reason) => {
            count_rejection(&state, &connection, source, "signature").await;
            tracing::warn!(connection = %name, %reason, "WooCommerce webhook refused");
            return refused();
        }
    };
    let value = match parse_json_body("WooCommerce", &body) {
        Ok(value) => value,
        Err(message) => {
            count_rejection(&state, &connection, source, "malformed").await;
            return error(StatusCode::BAD_REQUEST, message);
        }
    };
    let Some(object_id) = value.get("id").and_then(Value::as_u64) else {
        count_rejection(&state, &connection, source, "malformed").await;
        return error(
            StatusCode::BAD_REQUEST,
            format!(
                "the {} delivery has no numeric `id`; expected the {} resource as JSON",
                delivery.topic, delivery.resource
            ),
        );
    };
    let raw = String::from_utf8_lossy(&body);
    record(
        &state,
        &connection,
        source,
        &delivery.topic,
        &object_id.to_string(),
        &raw,
        &value,
    )
    .await
}

/// `POST /webhooks/erpnext/{connection}?doctype=…&event=…`.
pub async fn erpnext(
    State(state): State<WebState>,
    Path(name): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let source = SOURCE_ERPNEXT;
    let connection = match load_connection(&state, source, &name).await {
        Ok(Some(connection)) => connection,
        Ok(None) => return refused(),
        Err(response) => return response,
    };
    let secret = &connection.connection.credentials.webhook_secret;
    if secret.is_empty() {
        count_rejection(&state, &connection, source, "no_secret").await;
        tracing::warn!(connection = %name, "ERPNext webhook refused: the connection has no webhook secret; set one in its settings, then run setup with --update-webhook-secrets");
        return refused();
    }
    let Some(signature) = headers
        .get(ERPNEXT_SIGNATURE_HEADER)
        .and_then(|value| value.to_str().ok())
    else {
        count_rejection(&state, &connection, source, "signature").await;
        tracing::warn!(connection = %name, "ERPNext webhook refused: no X-Frappe-Webhook-Signature header; the Webhook in ERPNext has no secret (run setup with --update-webhook-secrets)");
        return refused();
    };
    if verify_signature(secret, &body, signature).is_err() {
        count_rejection(&state, &connection, source, "signature").await;
        tracing::warn!(connection = %name, "ERPNext webhook refused: the signature does not match; the Webhook's secret in ERPNext differs from the connection's (run setup with --update-webhook-secrets)");
        return refused();
    }
    let value = match parse_json_body("ERPNext", &body) {
        Ok(value) => value,
        Err(message) => {
            count_rejection(&state, &connection, source, "malformed").await;
            return error(StatusCode::BAD_REQUEST, message);
        }
    };
    let Some(document) = value.get("name").and_then(Value::as_str) else {
        count_rejection(&state, &connection, source, "malformed").await;
        return error(
            StatusCode::BAD_REQUEST,
            "the ERPNext delivery has no document `name`; the Webhook's JSON must be `{{ doc | tojson }}`",
        );
    };
    let doctype = query
        .get("doctype")
        .cloned()
        .or_else(|| {
            value
                .get("doctype")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_default();
    // The topic is the doctype, not the event: ERPNext sends on_update and
    // on_submit with the same body, and the inbox's content dedup must see them as one.
    let raw = String::from_utf8_lossy(&body);
    record(
        &state,
        &connection,
        source,
        &doctype,
        document,
        &raw,
        &value,
    )
    .await
}
