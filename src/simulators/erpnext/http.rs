//! The HTTP face of the simulated site: routing, authentication, envelopes,
//! error rendering (v1, v2, HTML) and the fault knobs.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use percent_encoding::percent_decode_str;
use serde_json::{json, Map, Value};

use super::doctypes::webhook;
use super::engine::{Outcome, Site};
use super::error::{python_json, SiteError};
use super::mapper;
use super::query::{self, ListRequest};
use super::values::{text_of, Doc};
use super::{webhooks, Faults, Shared};

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route(
            "/__sim/faults",
            get(read_faults).put(write_faults).post(write_faults),
        )
        .fallback(handle)
        .with_state(shared)
}

async fn read_faults(State(shared): State<Arc<Shared>>) -> Json<Faults> {
    Json(shared.faults())
}

async fn write_faults(
    State(shared): State<Arc<Shared>>,
    Json(faults): Json<Faults>,
) -> Json<Faults> {
    Json(shared.set_faults(faults))
}

#[derive(Clone, Copy, PartialEq)]
enum Api {
    V1,
    V2,
}

enum User {
    Administrator,
    Guest,
}

/// A successful answer: status and JSON body.
struct Answer {
    status: StatusCode,
    body: Value,
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // gunicorn, which serves a real site, refuses a long request line before Frappe sees it.
    let request_line = format!("{method} {uri} HTTP/1.1").len();
    if request_line > crate::erpnext::client::MAX_REQUEST_LINE {
        return (
            StatusCode::BAD_REQUEST,
            [(header::CONTENT_TYPE, "text/html")],
            format!(
                "<html>\n  <head>\n    <title>Bad Request</title>\n  </head>\n  <body>\n    <h1><p>Bad Request</p></h1>\n    Request Line is too large ({request_line} &gt; {})\n  </body>\n</html>\n",
                crate::erpnext::client::MAX_REQUEST_LINE
            ),
        )
            .into_response();
    }
    let (faults, draw) = shared.draw_faults();
    crate::simulators::add_latency(faults.latency_ms).await;
    let super::Draw {
        throttle,
        fail,
        hang,
        drop,
        deadlock,
    } = draw;
    if throttle {
        let error = SiteError::thrown(
            429,
            "TooManyRequestsError",
            "You hit the rate limit because of too many requests. Please try after sometime.",
        );
        let mut response = (StatusCode::TOO_MANY_REQUESTS, Json(error.v1_body())).into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
        return response;
    }
    if fail {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "text/html")],
            "<html><head><title>503 Service Temporarily Unavailable</title></head><body><center><h1>503 Service Temporarily Unavailable</h1></center></body></html>",
        )
            .into_response();
    }
    if hang {
        tokio::time::sleep(Duration::from_secs(300)).await;
        return StatusCode::GATEWAY_TIMEOUT.into_response();
    }

    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .map(|accept| accept.contains("text/html") && !accept.contains("application/json"))
        .unwrap_or(false);
    let path = uri.path().to_string();
    let query_pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(uri.query().unwrap_or("")).unwrap_or_default();
    let api = if path.starts_with("/api/v2/") {
        Api::V2
    } else {
        Api::V1
    };
    if deadlock && is_write(&method, &path) {
        // MariaDB 1213 inside the request: Frappe rolls back and answers 500 (research §12).
        let mut error = SiteError::bare(
            500,
            "QueryDeadlockError",
            Some("(1213, 'Deadlock found when trying to get lock; try restarting transaction')"),
        );
        error.module = Some("frappe.exceptions");
        return render_error(&error, api, wants_html);
    }
    // The site is one locked, synchronous state: its work runs on the blocking
    // pool so that a request waiting for the lock never stalls the runtime's
    // workers (and with them the timers and sockets of every other request).
    let result = tokio::task::spawn_blocking(move || {
        dispatch(&shared, &method, &path, &query_pairs, &headers, &body)
    })
    .await
    .unwrap_or_else(|_| Err(SiteError::bare(500, "InternalServerError", None)));
    if drop {
        // The work is committed; the client only sees the connection die.
        let failing = futures::stream::once(async {
            Err::<Bytes, std::io::Error>(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "simulated dropped response",
            ))
        });
        return Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from_stream(failing))
            .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response());
    }
    match result {
        Ok(answer) => (answer.status, Json(answer.body)).into_response(),
        Err(error) => render_error(&error, api, wants_html),
    }
}

/// Requests that write: document inserts, saves and deletes, and the methods that change
/// documents (the mapping methods only build unsaved documents).
fn is_write(method: &Method, path: &str) -> bool {
    if *method == Method::GET {
        return false;
    }
    let Some(name) = path.strip_prefix("/api/method/") else {
        return path.starts_with("/api/resource/") || path.starts_with("/api/v2/document/");
    };
    matches!(
        name,
        "frappe.client.insert"
            | "frappe.client.insert_many"
            | "frappe.client.save"
            | "frappe.client.submit"
            | "frappe.client.set_value"
            | "frappe.client.cancel"
            | "frappe.client.delete"
            | "erpnext.selling.doctype.sales_order.sales_order.update_status"
    )
}

fn render_error(error: &SiteError, api: Api, wants_html: bool) -> Response {
    let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if wants_html {
        let title = status.canonical_reason().unwrap_or("Error");
        let message = error
            .messages
            .first()
            .map(|message| message.message.clone())
            .unwrap_or_else(|| error.exc_type.clone());
        let page = format!(
            "<!DOCTYPE html>\n<!-- Built on Frappe. https://frappeframework.com/ -->\n<html lang=\"en\">\n<head>\n\t<meta charset=\"utf-8\">\n\t<title>{title}</title>\n</head>\n<body>\n<div class=\"page-card\"><h4 class=\"page-card-head\">{title}</h4><p>{message}</p></div>\n</body>\n</html>\n"
        );
        return (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            page,
        )
            .into_response();
    }
    let body = match api {
        Api::V1 => error.v1_body(),
        Api::V2 => error.v2_body(),
    };
    (status, Json(body)).into_response()
}

fn authenticate(shared: &Shared, headers: &HeaderMap) -> Result<User, SiteError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(User::Guest);
    };
    let refused = || SiteError::bare(401, "AuthenticationError", None);
    let text = value.to_str().map_err(|_| refused())?.trim();
    let (scheme, credentials) = text.split_once(' ').ok_or_else(refused)?;
    let pair = match scheme.to_ascii_lowercase().as_str() {
        "token" => credentials.trim().to_string(),
        "basic" => {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(credentials.trim())
                .map_err(|_| refused())?;
            String::from_utf8(decoded).map_err(|_| refused())?
        }
        // Bearer tokens are OAuth; the simulator issues none.
        _ => return Err(refused()),
    };
    let (key, secret) = pair.split_once(':').ok_or_else(refused)?;
    if key == shared.api_key && secret == shared.api_secret {
        Ok(User::Administrator)
    } else {
        Err(refused())
    }
}

fn guest_denied(doctype: &str, single: bool) -> SiteError {
    let mut message = format!(
        "User <strong>Guest</strong> does not have doctype access via role permission for document <strong>{doctype}</strong>"
    );
    if single {
        message.push_str("<br>User <strong>Guest</strong> does not have access to this document");
    }
    let mut error = SiteError::plain(403, "PermissionError", message);
    error.exception_text = Some(String::new());
    if !single {
        error.error_message = Some(format!("No permission for {doctype}"));
    }
    error
}

fn decode_segment(segment: &str) -> String {
    percent_decode_str(segment).decode_utf8_lossy().into_owned()
}

/// Method arguments: query parameters, then a JSON or form body over them.
fn arguments(
    query_pairs: &[(String, String)],
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Doc, SiteError> {
    let mut arguments: Doc = query_pairs
        .iter()
        .map(|(key, value)| (key.clone(), Value::String(value.clone())))
        .collect();
    if body.is_empty() {
        return Ok(arguments);
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    if content_type.contains("application/x-www-form-urlencoded") {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body).unwrap_or_default();
        for (key, value) in pairs {
            arguments.insert(key, Value::String(value));
        }
        return Ok(arguments);
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(object)) => arguments.extend(object),
        Ok(_) => {}
        Err(error) => {
            let mut failure = SiteError::bare(500, "JSONDecodeError", Some(&error.to_string()));
            failure.module = Some("json.decoder");
            return Err(failure);
        }
    }
    Ok(arguments)
}

/// A JSON object argument that may arrive as a JSON string (form or query).
fn object_argument(arguments: &Doc, key: &str) -> Result<Doc, SiteError> {
    match arguments.get(key) {
        Some(Value::Object(object)) => Ok(object.clone()),
        Some(Value::String(text)) => match query::parse_json_parameter(text)? {
            Value::Object(object) => Ok(object),
            _ => Err(SiteError::validation(format!(
                "`{key}` must be a JSON object"
            ))),
        },
        _ => Err(missing_argument(key)),
    }
}

fn text_argument(arguments: &Doc, key: &str) -> Result<String, SiteError> {
    let value = text_of(arguments, key);
    if value.is_empty() {
        Err(missing_argument(key))
    } else {
        Ok(value)
    }
}

fn missing_argument(key: &str) -> SiteError {
    let mut error = SiteError::bare(
        417,
        "TypeError",
        Some(&format!("missing 1 required positional argument: '{key}'")),
    );
    error.module = None;
    error
}

fn list_request(arguments: &Doc, doctype: &str) -> Result<ListRequest, SiteError> {
    let mut request = ListRequest {
        limit_page_length: 20,
        ..ListRequest::default()
    };
    match arguments.get("fields") {
        Some(Value::String(text)) if !text.trim().is_empty() => {
            match query::parse_json_parameter(text)? {
                Value::Array(items) => {
                    request.fields = items.iter().map(query::text).collect();
                }
                Value::String(single) => request.fields = vec![single],
                _ => {}
            }
        }
        Some(Value::Array(items)) => request.fields = items.iter().map(query::text).collect(),
        _ => {}
    }
    if let Some(filters) = arguments.get("filters") {
        request.filters = query::parse_conditions(filters, doctype)?;
    }
    if let Some(filters) = arguments.get("or_filters") {
        request.or_filters = query::parse_conditions(filters, doctype)?;
    }
    let number = |key: &str| -> Option<usize> {
        arguments.get(key).and_then(|value| match value {
            Value::Number(number) => number.as_u64().map(|n| n as usize),
            Value::String(text) => text.trim().parse().ok(),
            _ => None,
        })
    };
    if let Some(start) = number("limit_start") {
        request.limit_start = start;
    }
    if let Some(length) = number("limit_page_length").or_else(|| number("limit")) {
        request.limit_page_length = length;
    }
    let order_by = text_of(arguments, "order_by");
    if !order_by.is_empty() {
        request.order_by = Some(order_by);
    }
    Ok(request)
}

fn with_notes(key: &str, outcome: Outcome) -> Value {
    let mut body = Map::new();
    body.insert(key.to_string(), Value::Object(outcome.doc));
    if !outcome.notes.is_empty() {
        let inner: Vec<Value> = outcome
            .notes
            .iter()
            .map(|note| Value::String(python_json(note)))
            .collect();
        body.insert(
            "_server_messages".into(),
            Value::String(python_json(&Value::Array(inner))),
        );
    }
    Value::Object(body)
}

fn ok(body: Value) -> Result<Answer, SiteError> {
    Ok(Answer {
        status: StatusCode::OK,
        body,
    })
}

fn dispatch(
    shared: &Shared,
    method: &Method,
    path: &str,
    query_pairs: &[(String, String)],
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Answer, SiteError> {
    let user = authenticate(shared, headers)?;
    let segments: Vec<String> = path
        .trim_start_matches('/')
        .split('/')
        .map(decode_segment)
        .collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let mut site = shared.site();
    site.events.clear();
    let result = match segments.as_slice() {
        ["api", "method", name] => {
            let arguments = arguments(query_pairs, headers, body)?;
            call_method(&mut site, &user, name, &arguments)
        }
        ["api", "resource", doctype, rest @ ..] => {
            if let User::Guest = user {
                return Err(guest_denied(doctype, !rest.is_empty()));
            }
            let name = (!rest.is_empty()).then(|| rest.join("/"));
            resource(
                &mut site,
                method,
                doctype,
                name.as_deref(),
                query_pairs,
                headers,
                body,
                "data",
            )
        }
        ["api", "v2", "document", doctype, rest @ ..] => {
            if let User::Guest = user {
                return Err(guest_denied(doctype, !rest.is_empty()));
            }
            let name = (!rest.is_empty()).then(|| rest.join("/"));
            resource(
                &mut site,
                method,
                doctype,
                name.as_deref(),
                query_pairs,
                headers,
                body,
                "data",
            )
        }
        _ => Err(SiteError::not_found(format!("Page {path} not found"))),
    };
    let events = std::mem::take(&mut site.events);
    if result.is_ok() && !events.is_empty() {
        let deliveries = webhooks::plan(events, |doctype, event, doc| {
            webhook::webhooks_for(&site, doctype, event, doc)
        });
        shared.webhooks.enqueue(deliveries);
    }
    result
}

#[allow(clippy::too_many_arguments)]
fn resource(
    site: &mut Site,
    method: &Method,
    doctype: &str,
    name: Option<&str>,
    query_pairs: &[(String, String)],
    headers: &HeaderMap,
    body: &Bytes,
    key: &str,
) -> Result<Answer, SiteError> {
    match (method.as_str(), name) {
        ("GET", None) => {
            let arguments = arguments(query_pairs, headers, &Bytes::new())?;
            let request = list_request(&arguments, doctype)?;
            ok(json!({ key: site.list(doctype, &request)? }))
        }
        ("GET", Some(name)) => ok(json!({ key: site.get(doctype, name)? })),
        ("POST", None) => {
            let input = object_body(headers, body)?;
            let outcome = site.insert(doctype, &input)?;
            ok(with_notes(key, outcome))
        }
        ("PUT", Some(name)) => {
            let changes = object_body(headers, body)?;
            let outcome = site.update(doctype, name, &changes, None)?;
            ok(with_notes(key, outcome))
        }
        ("DELETE", Some(name)) => {
            site.delete(doctype, name)?;
            Ok(Answer {
                status: StatusCode::ACCEPTED,
                body: json!({ key: "ok" }),
            })
        }
        (other, _) => Err(SiteError::thrown(
            405,
            "ValidationError",
            format!("Method {other} is not allowed here"),
        )),
    }
}

fn object_body(headers: &HeaderMap, body: &Bytes) -> Result<Doc, SiteError> {
    let arguments = arguments(&[], headers, body)?;
    // Frappe also accepts the document form-encoded as `data=<json>`.
    match arguments.get("data") {
        Some(Value::String(text)) if arguments.len() == 1 => {
            match query::parse_json_parameter(text)? {
                Value::Object(object) => Ok(object),
                _ => Ok(arguments),
            }
        }
        _ => Ok(arguments),
    }
}

fn call_method(
    site: &mut Site,
    user: &User,
    name: &str,
    arguments: &Doc,
) -> Result<Answer, SiteError> {
    // A method returning None answers `{}` (no `message` key).
    let message = |value: Value| {
        if value.is_null() {
            ok(json!({}))
        } else {
            ok(json!({ "message": value }))
        }
    };
    match (name, user) {
        ("ping", _) => return message(json!("pong")),
        ("frappe.auth.get_logged_user", User::Guest) => return message(json!("Guest")),
        (_, User::Guest) => {
            let mut error = SiteError::plain(403, "PermissionError", "Not permitted");
            error.exception_text = Some(String::new());
            return Err(error);
        }
        _ => {}
    }
    match name {
        "frappe.auth.get_logged_user" => message(json!("Administrator")),
        "frappe.utils.change_log.get_versions" => message(json!({
            "frappe": {"title": "Frappe Framework", "description": "Full stack web framework with Python, Javascript, MariaDB, Redis, Node", "branch": "", "version": "15.101.1"},
            "erpnext": {"title": "ERPNext", "description": "ERP made simple", "branch": "", "version": "15.99.1"}
        })),
        "frappe.client.get_list" => {
            let doctype = text_argument(arguments, "doctype")?;
            let request = list_request(arguments, &doctype)?;
            message(Value::Array(site.list(&doctype, &request)?))
        }
        "frappe.client.get_count" => {
            let doctype = text_argument(arguments, "doctype")?;
            let filters = match arguments.get("filters") {
                Some(filters) => query::parse_conditions(filters, &doctype)?,
                None => Vec::new(),
            };
            message(json!(site.count(&doctype, &filters)?))
        }
        "frappe.client.get_value" => {
            let doctype = text_argument(arguments, "doctype")?;
            let filters = match arguments.get("filters") {
                Some(Value::String(text)) if serde_json::from_str::<Value>(text).is_err() => {
                    vec![query::Condition {
                        child_doctype: None,
                        field: "name".into(),
                        operator: "=".into(),
                        value: Value::String(text.clone()),
                    }]
                }
                Some(filters) => query::parse_conditions(filters, &doctype)?,
                None => Vec::new(),
            };
            let fields = match arguments.get("fieldname") {
                Some(Value::String(text)) => match serde_json::from_str::<Value>(text) {
                    Ok(Value::Array(items)) => items.iter().map(query::text).collect(),
                    _ => vec![text.clone()],
                },
                Some(Value::Array(items)) => items.iter().map(query::text).collect(),
                _ => vec!["name".to_string()],
            };
            let request = ListRequest {
                fields,
                filters,
                limit_page_length: 1,
                ..ListRequest::default()
            };
            let first = site.list(&doctype, &request)?.into_iter().next();
            message(first.unwrap_or_else(|| json!({})))
        }
        "frappe.client.get" => {
            let doctype = text_argument(arguments, "doctype")?;
            let name = text_argument(arguments, "name")?;
            message(Value::Object(site.get(&doctype, &name)?))
        }
        "frappe.client.insert" => {
            let doc = object_argument(arguments, "doc")?;
            let doctype = text_of(&doc, "doctype");
            let outcome = site.insert(&doctype, &doc)?;
            ok(with_notes("message", outcome))
        }
        "frappe.client.save" | "frappe.client.submit" => {
            let mut doc = object_argument(arguments, "doc")?;
            let doctype = text_of(&doc, "doctype");
            let doc_name = text_of(&doc, "name");
            let modified = doc
                .get("modified")
                .and_then(Value::as_str)
                .map(str::to_string);
            if name == "frappe.client.submit" {
                doc.insert("docstatus".into(), json!(1));
            }
            let outcome = site.update(&doctype, &doc_name, &doc, modified.as_deref())?;
            ok(with_notes("message", outcome))
        }
        "frappe.client.set_value" => {
            let doctype = text_argument(arguments, "doctype")?;
            let doc_name = text_argument(arguments, "name")?;
            let fieldname = text_argument(arguments, "fieldname")?;
            // `fieldname` may be a JSON object of several fields.
            let changes = match serde_json::from_str::<Value>(&fieldname) {
                Ok(Value::Object(object)) => object,
                _ => {
                    let mut changes = Map::new();
                    changes.insert(
                        fieldname,
                        arguments.get("value").cloned().unwrap_or(Value::Null),
                    );
                    changes
                }
            };
            let outcome = site.update(&doctype, &doc_name, &changes, None)?;
            ok(with_notes("message", outcome))
        }
        "frappe.client.cancel" => {
            let doctype = text_argument(arguments, "doctype")?;
            let doc_name = text_argument(arguments, "name")?;
            let outcome = site.cancel(&doctype, &doc_name)?;
            ok(with_notes("message", outcome))
        }
        "frappe.client.delete" => {
            let doctype = text_argument(arguments, "doctype")?;
            let doc_name = text_argument(arguments, "name")?;
            site.delete(&doctype, &doc_name)?;
            message(Value::Null)
        }
        "erpnext.selling.doctype.sales_order.sales_order.make_sales_invoice" => {
            let source = text_argument(arguments, "source_name")?;
            message(Value::Object(mapper::make_sales_invoice(site, &source)?))
        }
        "erpnext.accounts.doctype.payment_entry.payment_entry.get_payment_entry" => {
            let dt = text_argument(arguments, "dt")?;
            let dn = text_argument(arguments, "dn")?;
            message(Value::Object(mapper::get_payment_entry(site, &dt, &dn)?))
        }
        "erpnext.selling.doctype.sales_order.sales_order.make_delivery_note" => {
            let source = text_argument(arguments, "source_name")?;
            message(Value::Object(mapper::make_delivery_note(site, &source)?))
        }
        "erpnext.accounts.doctype.sales_invoice.sales_invoice.make_sales_return" => {
            let source = text_argument(arguments, "source_name")?;
            message(Value::Object(mapper::make_sales_return(site, &source)?))
        }
        "erpnext.selling.doctype.sales_order.sales_order.update_status" => {
            let status = text_argument(arguments, "status")?;
            let order = text_argument(arguments, "name")?;
            mapper::update_sales_order_status(site, &order, &status)?;
            message(Value::Null)
        }
        other => {
            let module = other
                .rsplit_once('.')
                .map(|(module, _)| module)
                .unwrap_or(other);
            Err(SiteError::validation(format!(
                "Failed to get method for command {other} with No module named '{module}'"
            )))
        }
    }
}
