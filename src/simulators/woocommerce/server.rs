//! The HTTP side of the simulator: one handler that does what WordPress does
//! in order — faults (the host in front), authentication, route match,
//! permission, then the endpoint — and answers with WooCommerce's exact
//! status codes, error bodies and paging headers.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use chrono::{DateTime, NaiveDateTime, TimeZone};
use serde_json::{json, Value};

use super::auth::{authenticate, AuthRequest};
use super::generate::{build_order, Cart, CartLine, Coupon, Fee, OrderHeader, Shipping};
use super::state::{
    ApiError, FaultKind, Faults, ListCache, PendingDelivery, Permission, Shop, StoredOrder,
    DATE_FORMAT, WRITABLE_STATUSES,
};
use super::webhooks::{deliver_all, send_ping};
use crate::money::parse_decimal;
use crate::woocommerce::types::Webhook;

const API_PREFIX: &str = "/wp-json/wc/v3";
const LIST_STATUSES: [&str; 11] = [
    "any",
    "trash",
    "auto-draft",
    "pending",
    "processing",
    "on-hold",
    "completed",
    "cancelled",
    "refunded",
    "failed",
    "checkout-draft",
];

/// Shared by every request.
#[derive(Clone)]
pub struct App {
    pub shop: Arc<Mutex<Shop>>,
    pub plain_http: bool,
    pub http: reqwest::Client,
    /// Webhook deliveries queued or being sent, watched by whoever waits for them to settle.
    pub deliveries_pending: Arc<tokio::sync::watch::Sender<usize>>,
}

impl App {
    pub fn lock(&self) -> MutexGuard<'_, Shop> {
        // A panic while holding the lock leaves consistent-enough data for a simulator.
        self.shop
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// What a route answers before faults and headers are applied.
struct Answer {
    status: u16,
    body: String,
    headers: Vec<(&'static str, String)>,
    deliveries: Vec<PendingDelivery>,
}

impl Answer {
    fn json(status: u16, body: String) -> Answer {
        Answer {
            status,
            body,
            headers: Vec::new(),
            deliveries: Vec::new(),
        }
    }

    fn value(status: u16, body: &Value) -> Answer {
        Answer::json(status, body.to_string())
    }
}

impl From<ApiError> for Answer {
    fn from(error: ApiError) -> Answer {
        let mut answer = Answer::value(error.status, &error.body_json());
        if error.body.message == "Consumer secret is invalid." {
            answer.headers.push((
                "WWW-Authenticate",
                "Basic realm=\"WooCommerce API. Use a consumer key in the username field and a consumer secret in the password field.\"".into(),
            ));
        }
        answer
    }
}

fn no_route() -> ApiError {
    ApiError::new(
        404,
        "rest_no_route",
        "No route was found matching the URL and request method.",
    )
}

/// The route kinds WordPress checks permissions for differently.
#[derive(Clone, Copy, PartialEq)]
enum Access {
    List,
    View,
    Create,
    Edit,
    Delete,
    Batch,
}

fn permission_error(access: Access) -> ApiError {
    let (code, message) = match access {
        Access::List => (
            "woocommerce_rest_cannot_view",
            "Sorry, you cannot list resources.",
        ),
        Access::View => (
            "woocommerce_rest_cannot_view",
            "Sorry, you cannot view this resource.",
        ),
        Access::Create => (
            "woocommerce_rest_cannot_create",
            "Sorry, you are not allowed to create resources.",
        ),
        Access::Edit => (
            "woocommerce_rest_cannot_edit",
            "Sorry, you are not allowed to edit this resource.",
        ),
        Access::Delete => (
            "woocommerce_rest_cannot_delete",
            "Sorry, you are not allowed to delete this resource.",
        ),
        Access::Batch => (
            "woocommerce_rest_cannot_batch",
            "Sorry, you are not allowed to batch manipulate this resource.",
        ),
    };
    ApiError::new(401, code, message)
}

/// Query parameters: last value wins, `k[]` becomes `k[0]`, `k[1]`, as PHP sees them.
fn parse_params(query: &str) -> (BTreeMap<String, String>, Vec<(String, String)>) {
    let mut collapsed = BTreeMap::new();
    let mut ordered = Vec::new();
    let mut array_counts: BTreeMap<String, usize> = BTreeMap::new();
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        let key = match key.strip_suffix("[]") {
            Some(base) => {
                let count = array_counts.entry(base.to_string()).or_insert(0);
                let indexed = format!("{base}[{count}]");
                *count += 1;
                indexed
            }
            None => key.into_owned(),
        };
        ordered.push((key.clone(), value.to_string()));
        collapsed.insert(key, value.into_owned());
    }
    (collapsed, ordered)
}

/// All values of a list parameter: `k=a,b`, `k[]=a&k[]=b` or `k[0]=a`.
fn list_param(params: &BTreeMap<String, String>, name: &str) -> Vec<String> {
    let prefix = format!("{name}[");
    params
        .iter()
        .filter(|(key, _)| key.as_str() == name || key.starts_with(&prefix))
        .flat_map(|(_, value)| value.split(',').map(|part| part.trim().to_string()))
        .filter(|part| !part.is_empty())
        .collect()
}

/// The single entry point for `/wp-json/wc/v3/*` and `/__sim/*`.
pub async fn handle(
    State(app): State<App>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    if let Some(control) = path.strip_prefix("/__sim/") {
        return control_endpoint(&app, &method, control, &body);
    }

    let fault = pick_fault(
        &app,
        &format!("{method} {}", path.trim_start_matches("/wp-json/wc/v3")),
    );
    let latency = app.lock().faults.latency_ms;
    crate::simulators::add_latency(latency).await;
    match fault {
        Some(FaultKind::Timeout) => {
            tokio::time::sleep(Duration::from_secs(600)).await;
        }
        Some(FaultKind::Drop) | None => {}
        Some(other) => return fault_response(other),
    }

    let query = uri.query().unwrap_or_default().to_string();
    let answer = api(&app, &method, &path, &query, &headers, &body).await;
    if !answer.deliveries.is_empty() {
        deliver_all(app.clone(), answer.deliveries.clone());
    }
    if fault == Some(FaultKind::Drop) {
        return dropped_response();
    }
    let mut response = Response::builder()
        .status(StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header(header::CONTENT_TYPE, "application/json; charset=UTF-8")
        .header("X-Robots-Tag", "noindex")
        .header("X-Content-Type-Options", "nosniff")
        .header(
            "Access-Control-Expose-Headers",
            "X-WP-Total, X-WP-TotalPages, Link",
        )
        .header(
            "Cache-Control",
            "no-cache, must-revalidate, max-age=0, no-store, private",
        );
    for (name, value) in answer.headers {
        if let Ok(value) = HeaderValue::from_str(&value) {
            response = response.header(name, value);
        }
    }
    response
        .body(Body::from(answer.body))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

fn pick_fault(app: &App, route: &str) -> Option<FaultKind> {
    let mut shop = app.lock();
    shop.requests_served += 1;
    // Every request draws the same two numbers, pushed fault or not, so a seed replays the
    // same faults for the same sequence of requests whatever the knobs.
    let mut roll = shop.fault_dice.uniform();
    let error_kind = shop.fault_dice.index(3);
    if let Some(index) = shop
        .faults
        .next_on
        .iter()
        .position(|(wanted, _)| wanted == route)
    {
        return shop.faults.next_on.remove(index).map(|(_, kind)| kind);
    }
    if let Some(next) = shop.faults.next.pop_front() {
        return Some(next);
    }
    let faults = &shop.faults;
    let mut hit = |rate: f64| {
        if roll < rate {
            true
        } else {
            roll -= rate;
            false
        }
    };
    if hit(faults.throttle_rate) {
        return Some(if faults.throttle_html {
            FaultKind::ThrottleHtml
        } else {
            FaultKind::Throttle
        });
    }
    if hit(faults.error_rate) {
        let kinds = [
            FaultKind::ServerError,
            FaultKind::BadGateway,
            FaultKind::Unavailable,
        ];
        return Some(kinds[error_kind]);
    }
    if hit(faults.timeout_rate) {
        return Some(FaultKind::Timeout);
    }
    if hit(faults.drop_rate) {
        return Some(FaultKind::Drop);
    }
    None
}

fn fault_response(kind: FaultKind) -> Response {
    let html = |status: u16, title: &str| {
        format!("<!DOCTYPE html>\n<html><head><title>{status} {title}</title></head>\n<body><h1>{title}</h1><p>The server is temporarily unable to service your request.</p></body></html>\n")
    };
    let (status, content_type, body, retry_after) = match kind {
        FaultKind::Throttle => (
            429,
            "application/json; charset=UTF-8",
            ApiError::new(429, "too_many_requests", "Too many requests.")
                .body_json()
                .to_string(),
            true,
        ),
        FaultKind::ThrottleHtml => (
            429,
            "text/html; charset=UTF-8",
            html(429, "Too Many Requests"),
            true,
        ),
        FaultKind::Unavailable => (
            503,
            "text/html; charset=UTF-8",
            html(503, "Service Unavailable"),
            true,
        ),
        FaultKind::BadGateway => (
            502,
            "text/html; charset=UTF-8",
            html(502, "Bad Gateway"),
            false,
        ),
        // WordPress's fatal-error handler adds `additional_errors`, which the client's
        // `ErrorBody` does not carry: written out whole.
        _ => (
            500,
            "application/json; charset=UTF-8",
            json!({"code": "internal_server_error",
                   "message": "<p>There has been a critical error on this website.</p>",
                   "data": {"status": 500}, "additional_errors": []})
            .to_string(),
            false,
        ),
    };
    let mut response = Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header(header::CONTENT_TYPE, content_type);
    if retry_after {
        response = response.header(header::RETRY_AFTER, "1");
    }
    response
        .body(Body::from(body))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

/// Headers promising a body that then fails: the connection is cut after the
/// change was applied, so the client sees a transport error.
fn dropped_response() -> Response {
    let failing = futures::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "simulated dropped connection",
        ))
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json; charset=UTF-8")
        .header(header::CONTENT_LENGTH, "4096")
        .body(Body::from_stream(failing))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

fn control_endpoint(app: &App, method: &Method, path: &str, body: &[u8]) -> Response {
    let (status, value) = match (method.as_str(), path) {
        ("GET", "faults") => (
            200,
            serde_json::to_value(app.lock().faults()).unwrap_or(Value::Null),
        ),
        ("PUT" | "POST", "faults") => match serde_json::from_slice::<Faults>(body) {
            Ok(faults) => {
                let set = app.lock().set_faults(faults);
                (200, serde_json::to_value(&set).unwrap_or(Value::Null))
            }
            Err(error) => (400, json!({ "error": format!("not a fault set: {error}") })),
        },
        ("GET", "state") => {
            let shop = app.lock();
            let webhooks: Vec<Value> = shop.webhooks.values().map(|webhook| json!({
                "id": webhook.id, "status": webhook.status, "topic": webhook.topic,
                "delivery_url": webhook.delivery_url, "failure_count": webhook.failure_count,
            })).collect();
            (
                200,
                json!({
                    "orders": shop.orders.len(),
                    "products": shop.products.len(),
                    "customers": shop.customers.len(),
                    "requests_served": shop.requests_served,
                    "next_order_id": shop.next_order_id,
                    "webhooks": webhooks,
                }),
            )
        }
        _ => (
            404,
            json!({ "error": "unknown simulator control endpoint; use /__sim/faults or /__sim/state" }),
        ),
    };
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::OK))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(value.to_string()))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

async fn api(
    app: &App,
    method: &Method,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Answer {
    let Some(route) = path.strip_prefix(API_PREFIX) else {
        return no_route().into();
    };
    let segments: Vec<&str> = route
        .split('/')
        .filter(|segment| !segment.is_empty())
        .collect();
    let (params, ordered) = parse_params(query);
    let host = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("127.0.0.1")
        .to_string();

    let key = {
        let mut shop = app.lock();
        let request = AuthRequest {
            method: method.as_str(),
            host: &host,
            path,
            params: &params,
            headers,
            plain_http: app.plain_http,
        };
        match authenticate(&mut shop, &request) {
            Ok(key) => key,
            Err(error) => return error.into(),
        }
    };

    let Some(access) = access_for(method, &segments) else {
        return no_route().into();
    };
    let Some(key) = key else {
        return permission_error(access).into();
    };
    let writes = !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    let allowed = match key.permission {
        Permission::Read => !writes,
        Permission::Write => writes,
        Permission::ReadWrite => true,
    };
    if !allowed {
        let which = if writes { "write" } else { "read" };
        return ApiError::new(
            401,
            "woocommerce_rest_authentication_error",
            &format!("The API key provided does not have {which} permissions."),
        )
        .into();
    }

    let body_value = if writes && !body.is_empty() {
        match serde_json::from_slice::<Value>(body) {
            Ok(value) => value,
            Err(_) => {
                return Answer::value(
                    400,
                    &json!({
                        "code": "rest_invalid_json", "message": "Invalid JSON body passed.",
                        "data": { "status": 400, "json_error_code": 4, "json_error_message": "Syntax error" }
                    }),
                );
            }
        }
    } else {
        json!({})
    };
    let base = format!("http://{host}{API_PREFIX}");
    let context = Context {
        app,
        base: &base,
        params: &params,
        ordered: &ordered,
        body: &body_value,
    };
    match route_request(&context, method, &segments).await {
        Ok(answer) => answer,
        Err(error) => error.into(),
    }
}

/// Which permission a route needs, or `None` when no such route exists.
fn access_for(method: &Method, segments: &[&str]) -> Option<Access> {
    let is_id = |text: &str| text.parse::<u64>().is_ok();
    let method = method.as_str();
    let update = matches!(method, "POST" | "PUT" | "PATCH");
    match segments {
        ["orders" | "products" | "customers" | "webhooks"] if method == "GET" => Some(Access::List),
        ["orders" | "webhooks" | "products"] if method == "POST" => Some(Access::Create),
        ["orders" | "products", "batch"] if update => Some(Access::Batch),
        ["products", id, "variations", "batch"] if update && is_id(id) => Some(Access::Batch),
        ["orders" | "products" | "customers" | "webhooks", id] if is_id(id) => match method {
            "GET" => Some(Access::View),
            "POST" | "PUT" | "PATCH" => Some(Access::Edit),
            "DELETE" => Some(Access::Delete),
            _ => None,
        },
        ["orders", id, "notes" | "refunds"] if is_id(id) => match method {
            "GET" => Some(Access::List),
            "POST" => Some(Access::Create),
            _ => None,
        },
        ["products", id, "variations"] if is_id(id) && method == "GET" => Some(Access::List),
        ["settings", _, _] if method == "GET" => Some(Access::View),
        ["taxes" | "shipping_methods" | "payment_gateways"] if method == "GET" => {
            Some(Access::List)
        }
        ["reports", "orders", "totals"] if method == "GET" => Some(Access::View),
        ["products", id, "variations", variation]
            if is_id(id) && is_id(variation) && method == "GET" =>
        {
            Some(Access::View)
        }
        _ => None,
    }
}

struct Context<'a> {
    app: &'a App,
    /// `http://host/wp-json/wc/v3`
    base: &'a str,
    params: &'a BTreeMap<String, String>,
    ordered: &'a [(String, String)],
    body: &'a Value,
}

fn id_of(text: &str) -> u64 {
    text.parse().unwrap_or(0)
}

async fn route_request(
    context: &Context<'_>,
    method: &Method,
    segments: &[&str],
) -> Result<Answer, ApiError> {
    let method = method.as_str();
    match (method, segments) {
        ("GET", ["orders"]) => list_orders(context),
        ("POST", ["orders"]) => {
            let mut shop = context.app.lock();
            let (json, deliveries) = create_order(&mut shop, context.body)?;
            let id = serde_json::from_str::<Value>(&json)
                .ok()
                .and_then(|order| order["id"].as_u64())
                .unwrap_or(0);
            let mut answer = Answer::json(201, json.to_string());
            answer
                .headers
                .push(("Location", format!("{}/orders/{id}", context.base)));
            answer.deliveries = deliveries;
            Ok(answer)
        }
        (_, ["orders", "batch"]) => batch_orders(context),
        ("GET", ["orders", id]) => {
            let shop = context.app.lock();
            let stored = shop
                .orders
                .get(&id_of(id))
                .ok_or_else(|| ApiError::invalid_order_id(404))?;
            Ok(Answer::json(200, stored.json.to_string()))
        }
        ("DELETE", ["orders", id]) => {
            let mut shop = context.app.lock();
            delete_order(
                &mut shop,
                id_of(id),
                context.params.get("force").map(String::as_str) == Some("true"),
            )
        }
        (_, ["orders", id]) => {
            let mut shop = context.app.lock();
            let (json, deliveries) = shop.update_order(id_of(id), context.body)?;
            let mut answer = Answer::json(200, json.to_string());
            answer.deliveries = deliveries;
            Ok(answer)
        }
        (_, ["orders", id, "notes"]) => notes(context, method, id_of(id)),
        (_, ["orders", id, "refunds"]) => refunds(context, method, id_of(id)),
        ("GET", ["products"]) => list_products(context, None),
        ("POST", ["products"]) => create_product(context),
        ("GET", ["products", id, "variations"]) => list_products(context, Some(id_of(id))),
        ("GET", ["products", id] | ["products", _, "variations", id]) => {
            let shop = context.app.lock();
            let product = shop.products.get(&id_of(id)).ok_or_else(|| {
                ApiError::new(404, "woocommerce_rest_product_invalid_id", "Invalid ID.")
            })?;
            Ok(Answer::value(200, product))
        }
        (_, ["products", "batch"] | ["products", _, "variations", "batch"]) => {
            batch_products(context)
        }
        (_, ["products", id]) => {
            let mut shop = context.app.lock();
            let mut changes = context.body.clone();
            changes["id"] = json!(id_of(id));
            let (result, deliveries) = update_product(&mut shop, &changes);
            let mut answer = Answer::value(
                if result.get("error").is_some() {
                    400
                } else {
                    200
                },
                &result,
            );
            answer.deliveries = deliveries;
            Ok(answer)
        }
        ("GET", ["customers"]) => {
            let shop = context.app.lock();
            // `email` matches the whole address, ignoring case (MySQL's collation).
            let email = context.params.get("email");
            let customers: Vec<&Value> = shop
                .customers
                .values()
                .filter(|customer| {
                    email.map_or(true, |email| {
                        customer["email"]
                            .as_str()
                            .is_some_and(|known| known.eq_ignore_ascii_case(email))
                    })
                })
                .collect();
            paged_values(context, "customers", &customers)
        }
        ("GET", ["customers", id]) => {
            let shop = context.app.lock();
            let customer = shop.customers.get(&id_of(id)).ok_or_else(|| {
                ApiError::new(404, "woocommerce_rest_invalid_id", "Invalid resource ID.")
            })?;
            Ok(Answer::value(200, customer))
        }
        ("GET", ["settings", group, id]) => {
            let shop = context.app.lock();
            let value = shop
                .settings
                .get(&(group.to_string(), id.to_string()))
                .ok_or_else(|| {
                    ApiError::new(404, "rest_setting_setting_invalid", "Invalid setting.")
                })?;
            Ok(Answer::value(
                200,
                &json!({"id": id, "value": value, "group_id": group}),
            ))
        }
        ("GET", ["taxes"]) => {
            let rates = tax_rate_values();
            let references: Vec<&Value> = rates.iter().collect();
            paged_values(context, "taxes", &references)
        }
        ("GET", ["shipping_methods"]) => Ok(Answer::value(200, &shipping_method_values())),
        ("GET", ["payment_gateways"]) => Ok(Answer::value(200, &payment_gateway_values())),
        ("GET", ["reports", "orders", "totals"]) => {
            let shop = context.app.lock();
            Ok(Answer::value(200, &status_totals(&shop)))
        }
        ("GET", ["webhooks"]) => {
            let shop = context.app.lock();
            let webhooks: Vec<Value> = shop
                .webhooks
                .values()
                .map(|webhook| webhook_value(&shop, webhook.id))
                .collect();
            let references: Vec<&Value> = webhooks.iter().collect();
            paged_values(context, "webhooks", &references)
        }
        ("POST", ["webhooks"]) => create_webhook(context).await,
        ("GET", ["webhooks", id]) => {
            let shop = context.app.lock();
            if !shop.webhooks.contains_key(&id_of(id)) {
                return Err(ApiError::new(
                    404,
                    "woocommerce_rest_webhook_invalid_id",
                    "Invalid ID.",
                ));
            }
            Ok(Answer::value(200, &webhook_value(&shop, id_of(id))))
        }
        ("DELETE", ["webhooks", id]) => {
            let mut shop = context.app.lock();
            let value = webhook_value(&shop, id_of(id));
            if shop.webhooks.remove(&id_of(id)).is_none() {
                return Err(ApiError::new(
                    404,
                    "woocommerce_rest_webhook_invalid_id",
                    "Invalid ID.",
                ));
            }
            Ok(Answer::value(200, &value))
        }
        (_, ["webhooks", id]) => {
            let mut shop = context.app.lock();
            let id = id_of(id);
            let Some(webhook) = shop.webhooks.get_mut(&id) else {
                return Err(ApiError::new(
                    404,
                    "woocommerce_rest_webhook_invalid_id",
                    "Invalid ID.",
                ));
            };
            if let Some(status) = context.body.get("status").and_then(Value::as_str) {
                webhook.status = status.to_string();
                if status == "active" {
                    webhook.failure_count = 0;
                }
            }
            if let Some(url) = context.body.get("delivery_url").and_then(Value::as_str) {
                webhook.delivery_url = url.to_string();
            }
            if let Some(secret) = context.body.get("secret").and_then(Value::as_str) {
                webhook.secret = secret.to_string();
            }
            Ok(Answer::value(200, &webhook_value(&shop, id)))
        }
        _ => Err(no_route()),
    }
}

fn parse_bounded(
    params: &BTreeMap<String, String>,
    name: &str,
    default: u64,
    max: Option<u64>,
) -> Result<u64, ApiError> {
    let Some(text) = params.get(name) else {
        return Ok(default);
    };
    let message = match max {
        Some(max) => format!("{name} must be between 1 (inclusive) and {max} (inclusive)"),
        None => format!("{name} must be greater than or equal to 1"),
    };
    let value: i64 = text.trim().parse().map_err(|_| {
        ApiError::invalid_param(
            name,
            "rest_invalid_type",
            &format!("{name} is not of type integer."),
        )
    })?;
    if value < 1 || max.is_some_and(|max| value as u64 > max) {
        return Err(ApiError::invalid_param(
            name,
            "rest_out_of_bounds",
            &message,
        ));
    }
    Ok(value as u64)
}

/// ISO 8601 as WordPress takes it; naive times are in the store's zone unless
/// `dates_are_gmt`. Returns UTC.
fn parse_date_param(
    shop: &Shop,
    params: &BTreeMap<String, String>,
    name: &str,
) -> Result<Option<NaiveDateTime>, ApiError> {
    let Some(text) = params.get(name) else {
        return Ok(None);
    };
    let invalid = || ApiError::invalid_param(name, "rest_invalid_date", "Invalid date.");
    if let Ok(with_offset) = DateTime::parse_from_rfc3339(text) {
        return Ok(Some(with_offset.naive_utc()));
    }
    let naive = NaiveDateTime::parse_from_str(text, DATE_FORMAT)
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f"))
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S"))
        .map_err(|_| invalid())?;
    let gmt = matches!(
        params.get("dates_are_gmt").map(String::as_str),
        Some("true" | "1")
    );
    if gmt {
        return Ok(Some(naive));
    }
    let local = shop
        .time_zone
        .from_local_datetime(&naive)
        .earliest()
        .ok_or_else(invalid)?;
    Ok(Some(local.naive_utc()))
}

fn list_orders(context: &Context<'_>) -> Result<Answer, ApiError> {
    let params = context.params;
    let per_page = parse_bounded(params, "per_page", 10, Some(100))?;
    let page = parse_bounded(params, "page", 1, None)?;
    let offset: u64 = params
        .get("offset")
        .and_then(|text| text.parse().ok())
        .unwrap_or(0);
    let statuses = list_param(params, "status");
    for (index, status) in statuses.iter().enumerate() {
        if !LIST_STATUSES.contains(&status.as_str()) {
            let message = format!("status[{index}] is not one of any, trash, auto-draft, pending, processing, on-hold, completed, cancelled, refunded, failed, and checkout-draft.");
            return Err(ApiError::invalid_param(
                "status",
                "rest_not_in_enum",
                &message,
            ));
        }
    }
    let any = statuses.is_empty() || statuses.iter().any(|status| status == "any");
    let order_asc = match params.get("order").map(String::as_str) {
        None | Some("desc") => false,
        Some("asc") => true,
        Some(_) => {
            return Err(ApiError::invalid_param(
                "order",
                "rest_not_in_enum",
                "order is not one of asc and desc.",
            ))
        }
    };
    let orderby = params.get("orderby").map(String::as_str).unwrap_or("date");
    if !matches!(
        orderby,
        "date" | "id" | "include" | "title" | "slug" | "modified"
    ) {
        return Err(ApiError::invalid_param(
            "orderby",
            "rest_not_in_enum",
            "orderby is not one of date, id, include, title, slug, and modified.",
        ));
    }
    let include: Vec<u64> = list_param(params, "include")
        .iter()
        .filter_map(|id| id.parse().ok())
        .collect();
    let exclude: Vec<u64> = list_param(params, "exclude")
        .iter()
        .filter_map(|id| id.parse().ok())
        .collect();
    let customer: Option<u64> = params.get("customer").and_then(|text| text.parse().ok());
    let search = params
        .get("search")
        .filter(|text| !text.is_empty())
        .cloned();

    let mut shop = context.app.lock();
    let modified_after = parse_date_param(&shop, params, "modified_after")?;
    let modified_before = parse_date_param(&shop, params, "modified_before")?;
    let after = parse_date_param(&shop, params, "after")?;
    let before = parse_date_param(&shop, params, "before")?;
    let matches = |order: &StoredOrder| -> bool {
        let status_ok = if any {
            order.status != "trash"
        } else {
            statuses.contains(&order.status)
        };
        status_ok
            && modified_after.is_none_or_after(order.modified_gmt)
            && modified_before.map_or(true, |limit| order.modified_gmt < limit)
            && after.is_none_or_after(order.created_gmt)
            && before.map_or(true, |limit| order.created_gmt < limit)
            && (include.is_empty() || include.contains(&order.id))
            && !exclude.contains(&order.id)
            && customer.map_or(true, |id| order.customer_id == id)
            && search
                .as_ref()
                .map_or(true, |text| order.json.contains(text.as_str()))
    };
    // Paging through a large shop asks the same question once per page: the
    // matching ids are kept until the next change to any order.
    let cache_key: String = params
        .iter()
        .filter(|(key, _)| {
            !matches!(key.as_str(), "page" | "offset")
                && !key.starts_with("oauth_")
                && !key.starts_with("consumer_")
        })
        .map(|(key, value)| format!("{key}={value}&"))
        .collect();
    let cached = shop
        .list_cache
        .as_ref()
        .filter(|cache| cache.key == cache_key && cache.revision == shop.revision)
        .map(|cache| cache.ids.clone());
    let matching = match cached {
        Some(ids) => ids,
        None => {
            let ids: Box<dyn Iterator<Item = u64> + '_> = match (orderby, order_asc) {
                ("modified", true) => Box::new(shop.by_modified.iter().map(|(_, id)| *id)),
                ("modified", false) => Box::new(shop.by_modified.iter().rev().map(|(_, id)| *id)),
                ("id" | "include", true) => Box::new(shop.orders.keys().copied()),
                ("id" | "include", false) => Box::new(shop.orders.keys().rev().copied()),
                (_, true) => Box::new(shop.by_created.iter().map(|(_, id)| *id)),
                (_, false) => Box::new(shop.by_created.iter().rev().map(|(_, id)| *id)),
            };
            let ids: Vec<u64> = ids
                .filter(|id| shop.orders.get(id).is_some_and(&matches))
                .collect();
            let ids = std::sync::Arc::new(ids);
            let revision = shop.revision;
            shop.list_cache = Some(ListCache {
                key: cache_key,
                revision,
                ids: ids.clone(),
            });
            ids
        }
    };
    let skip = (offset + (page - 1) * per_page) as usize;
    let total = matching.len() as u64;
    let date_key = |id: &u64| {
        shop.orders.get(id).map(|order| match orderby {
            "modified" => order.modified_gmt,
            _ => order.created_gmt,
        })
    };
    let ids = match orderby {
        "id" | "include" => matching
            .iter()
            .skip(skip)
            .take(per_page as usize)
            .copied()
            .collect(),
        _ => page_over_ties(
            &matching,
            skip,
            per_page as usize,
            date_key,
            shop.tie_seed ^ page,
        ),
    };
    let items: Vec<&str> = ids
        .iter()
        .filter_map(|id| shop.orders.get(id))
        .map(|order| &*order.json)
        .collect();
    let body = format!("[{}]", items.join(","));
    Ok(paged_answer(
        context,
        "orders",
        body,
        total,
        per_page,
        page,
        items.is_empty(),
    ))
}

/// The ids at `skip..skip + take` of `sorted`, with every run of ids tied on `key` that the page
/// touches shuffled by `seed`. MariaDB orders tied rows as it likes, differently from one
/// `LIMIT/OFFSET` query to the next; the real store's pages over ties repeat some orders and miss
/// others, and so do these (the seed differs per page).
fn page_over_ties<K: PartialEq>(
    sorted: &[u64],
    skip: usize,
    take: usize,
    key: impl Fn(&u64) -> Option<K>,
    seed: u64,
) -> Vec<u64> {
    let end = (skip + take).min(sorted.len());
    if skip >= end {
        return Vec::new();
    }
    let mut from = skip;
    while from > 0 && key(&sorted[from - 1]) == key(&sorted[skip]) {
        from -= 1;
    }
    let mut to = end;
    while to < sorted.len() && key(&sorted[to]) == key(&sorted[end - 1]) {
        to += 1;
    }
    let mut window: Vec<u64> = sorted[from..to].to_vec();
    let mut run_start = 0;
    while run_start < window.len() {
        let run_key = key(&window[run_start]);
        let mut run_end = run_start + 1;
        while run_end < window.len() && key(&window[run_end]) == run_key {
            run_end += 1;
        }
        window[run_start..run_end].sort_by_key(|id| tie_rank(*id, seed));
        run_start = run_end;
    }
    window[skip - from..end - from].to_vec()
}

/// A per-page pseudo-random rank (SplitMix64 of the id and the seed).
fn tie_rank(id: u64, seed: u64) -> u64 {
    let mut z = id.wrapping_add(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

trait AfterLimit {
    fn is_none_or_after(&self, value: NaiveDateTime) -> bool;
}

impl AfterLimit for Option<NaiveDateTime> {
    /// WordPress's `after` is exclusive: strictly later than the limit.
    fn is_none_or_after(&self, value: NaiveDateTime) -> bool {
        self.map_or(true, |limit| value > limit)
    }
}

/// Adds `X-WP-Total`, `X-WP-TotalPages` and the one `Link` header with prev/next.
fn paged_answer(
    context: &Context<'_>,
    collection: &str,
    body: String,
    total: u64,
    per_page: u64,
    page: u64,
    empty: bool,
) -> Answer {
    let (total, pages) = if empty && page > 1 {
        // A page past the end reports 0/0, as the real store does.
        (0, 0)
    } else {
        (total, total.div_ceil(per_page))
    };
    let link_to = |target: u64, beyond: bool| -> String {
        let mut pairs: Vec<(String, String)> = Vec::new();
        let mut had_page = false;
        for (key, value) in context.ordered {
            if key == "page" {
                had_page = true;
                pairs.push(("page".into(), target.to_string()));
            } else {
                pairs.push((key.clone(), value.clone()));
            }
        }
        if !context
            .params
            .keys()
            .any(|key| key == "status" || key.starts_with("status["))
        {
            pairs.push(("status[0]".into(), "any".into()));
        }
        if !beyond {
            pairs.push(("dp".into(), "2".into()));
            pairs.push(("context".into(), "view".into()));
        }
        if !had_page {
            pairs.push(("page".into(), target.to_string()));
        }
        let query: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&pairs)
            .finish();
        format!("<{}/{collection}?{query}>", context.base)
    };
    let mut links = Vec::new();
    if page > 1 {
        let previous = (page - 1).min(pages);
        links.push(format!("{}; rel=\"prev\"", link_to(previous, pages == 0)));
    }
    if page < pages {
        links.push(format!("{}; rel=\"next\"", link_to(page + 1, false)));
    }
    let mut answer = Answer::json(200, body);
    answer.headers.push(("X-WP-Total", total.to_string()));
    answer.headers.push(("X-WP-TotalPages", pages.to_string()));
    if !links.is_empty() {
        answer.headers.push(("Link", links.join(", ")));
    }
    answer
}

fn paged_values(
    context: &Context<'_>,
    collection: &str,
    values: &[&Value],
) -> Result<Answer, ApiError> {
    let per_page = parse_bounded(context.params, "per_page", 10, Some(100))?;
    let page = parse_bounded(context.params, "page", 1, None)?;
    let start = ((page - 1) * per_page) as usize;
    let slice: Vec<String> = values
        .iter()
        .skip(start)
        .take(per_page as usize)
        .map(|value| value.to_string())
        .collect();
    let body = format!("[{}]", slice.join(","));
    Ok(paged_answer(
        context,
        collection,
        body,
        values.len() as u64,
        per_page,
        page,
        slice.is_empty(),
    ))
}

fn list_products(context: &Context<'_>, parent: Option<u64>) -> Result<Answer, ApiError> {
    let shop = context.app.lock();
    if let Some(parent) = parent {
        if !shop.products.contains_key(&parent) {
            return Err(ApiError::new(
                404,
                "woocommerce_rest_product_invalid_id",
                "Invalid ID.",
            ));
        }
    }
    let sku = context.params.get("sku");
    let include: Vec<u64> = list_param(context.params, "include")
        .iter()
        .filter_map(|id| id.parse().ok())
        .collect();
    let kind = context.params.get("type");
    let selected: Vec<&Value> = shop
        .products
        .values()
        .filter(|product| {
            let is_variation = product["type"] == "variation";
            let placement = match parent {
                Some(parent) => is_variation && product["parent_id"].as_u64() == Some(parent),
                // `?sku=` finds variations too; a plain listing shows only products.
                None => !is_variation || sku.is_some(),
            };
            placement
                && sku.map_or(true, |sku| product["sku"].as_str() == Some(sku.as_str()))
                && (include.is_empty()
                    || product["id"]
                        .as_u64()
                        .is_some_and(|id| include.contains(&id)))
                && kind.map_or(true, |kind| product["type"].as_str() == Some(kind.as_str()))
        })
        .collect();
    let collection = match parent {
        Some(parent) => format!("products/{parent}/variations"),
        None => "products".to_string(),
    };
    paged_values(context, &collection, &selected)
}

/// A simple product as WooCommerce creates one; a SKU another product or variation has is
/// refused with that one's id, as the real store refuses it.
fn create_product(context: &Context<'_>) -> Result<Answer, ApiError> {
    let body = context.body;
    let mut shop = context.app.lock();
    let sku = body["sku"].as_str().unwrap_or_default().trim().to_string();
    if !sku.is_empty() {
        if let Some(existing) = shop
            .products
            .values()
            .find(|product| product["sku"] == sku.as_str())
        {
            return Err(ApiError::with_data(
                400,
                "product_invalid_sku",
                "Invalid or duplicated SKU.",
                json!({"status": 400, "resource_id": existing["id"], "unique_sku": format!("{sku}-1")}),
            ));
        }
    }
    let id = shop.next_product_id.max(10);
    shop.next_product_id = id + 1;
    let now = shop.now_gmt();
    let local = shop.local(now).format(DATE_FORMAT).to_string();
    let gmt = now.format(DATE_FORMAT).to_string();
    let text = |field: &str| match &body[field] {
        Value::String(text) => text.clone(),
        Value::Number(number) => number.to_string(),
        _ => String::new(),
    };
    let regular = text("regular_price");
    let sale = text("sale_price");
    let manage_stock = body["manage_stock"].as_bool().unwrap_or(false);
    let quantity = body["stock_quantity"].as_i64().filter(|_| manage_stock);
    let stock_status = match quantity {
        Some(quantity) if quantity <= 0 => "outofstock",
        _ => "instock",
    };
    let product = json!({
        "id": id, "name": text("name"), "slug": text("name").to_lowercase().replace(' ', "-"),
        "permalink": format!("{}/?p={id}", shop.base_url), "date_created": local,
        "date_created_gmt": gmt, "date_modified": local, "date_modified_gmt": gmt,
        "type": body["type"].as_str().unwrap_or("simple"), "status": "publish",
        "featured": false, "catalog_visibility": "visible", "description": "",
        "short_description": "", "sku": sku,
        "price": if sale.is_empty() { regular.clone() } else { sale.clone() },
        "regular_price": regular, "sale_price": sale, "date_on_sale_from": null, "date_on_sale_to": null, "on_sale": !text("sale_price").is_empty(),
        "purchasable": true, "total_sales": 0, "virtual": false, "downloadable": false,
        "tax_status": "taxable", "tax_class": text("tax_class"), "manage_stock": manage_stock,
        "stock_quantity": quantity, "stock_status": stock_status, "backorders": "no",
        "parent_id": 0, "attributes": [], "variations": [], "meta_data": [],
    });
    shop.products.insert(id, product.clone());
    let mut answer = Answer::value(201, &product);
    answer
        .headers
        .push(("Location", format!("{}/products/{id}", context.base)));
    Ok(answer)
}

fn delete_order(shop: &mut Shop, id: u64, force: bool) -> Result<Answer, ApiError> {
    let stored = shop
        .orders
        .get(&id)
        .ok_or_else(|| ApiError::invalid_order_id(404))?
        .clone();
    let deliveries = shop.deliveries_for(
        "order.deleted",
        &stored.status,
        std::sync::Arc::from(json!({ "id": id }).to_string()),
    );
    let answer_body = if force {
        shop.remove_order(id);
        stored.json.to_string()
    } else {
        if stored.status == "trash" {
            return Err(ApiError::new(
                410,
                "woocommerce_rest_already_trashed",
                "The order has already been deleted.",
            ));
        }
        let mut order = stored.value();
        order["status"] = json!("trash");
        shop.save_changed_order(order, "order.deleted")?;
        stored.json.to_string()
    };
    let mut answer = Answer::json(200, answer_body);
    answer.deliveries = deliveries;
    Ok(answer)
}

fn batch_orders(context: &Context<'_>) -> Result<Answer, ApiError> {
    let count = |name: &str| {
        context
            .body
            .get(name)
            .and_then(Value::as_array)
            .map_or(0, Vec::len)
    };
    if count("create") + count("update") + count("delete") > 100 {
        return Err(ApiError::new(
            413,
            "woocommerce_rest_request_entity_too_large",
            "Unable to accept more than 100 items for this request.",
        ));
    }
    let mut shop = context.app.lock();
    let mut deliveries = Vec::new();
    let mut result = json!({});
    if let Some(creates) = context.body.get("create").and_then(Value::as_array) {
        let mut done = Vec::new();
        for entry in creates {
            match create_order(&mut shop, entry) {
                Ok((json, more)) => {
                    deliveries.extend(more);
                    done.push(serde_json::from_str::<Value>(&json).unwrap_or(Value::Null));
                }
                Err(error) => done.push(json!({ "id": 0, "error": error.body })),
            }
        }
        result["create"] = Value::Array(done);
    }
    if let Some(updates) = context.body.get("update").and_then(Value::as_array) {
        let mut done = Vec::new();
        for entry in updates {
            let id = entry.get("id").and_then(Value::as_u64).unwrap_or(0);
            if !shop.orders.contains_key(&id) {
                done.push(json!({ "id": id, "error": ApiError::invalid_order_id(400).body }));
                continue;
            }
            match shop.update_order(id, entry) {
                Ok((json, more)) => {
                    deliveries.extend(more);
                    done.push(serde_json::from_str::<Value>(&json).unwrap_or(Value::Null));
                }
                Err(error) => done.push(json!({ "id": id, "error": error.body })),
            }
        }
        result["update"] = Value::Array(done);
    }
    if let Some(deletes) = context.body.get("delete").and_then(Value::as_array) {
        let mut done = Vec::new();
        for entry in deletes {
            let id = entry.as_u64().unwrap_or(0);
            match delete_order(&mut shop, id, true) {
                Ok(answer) => {
                    deliveries.extend(answer.deliveries);
                    done.push(serde_json::from_str::<Value>(&answer.body).unwrap_or(Value::Null));
                }
                Err(_) => {
                    done.push(json!({ "id": id, "error": ApiError::invalid_order_id(400).body }))
                }
            }
        }
        result["delete"] = Value::Array(done);
    }
    let mut answer = Answer::value(200, &result);
    answer.deliveries = deliveries;
    Ok(answer)
}

fn batch_products(context: &Context<'_>) -> Result<Answer, ApiError> {
    let count = |name: &str| {
        context
            .body
            .get(name)
            .and_then(Value::as_array)
            .map_or(0, Vec::len)
    };
    if count("create") + count("update") + count("delete") > 100 {
        return Err(ApiError::new(
            413,
            "woocommerce_rest_request_entity_too_large",
            "Unable to accept more than 100 items for this request.",
        ));
    }
    let mut shop = context.app.lock();
    let mut deliveries = Vec::new();
    let mut updated = Vec::new();
    for entry in context
        .body
        .get("update")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let (result, more) = update_product(&mut shop, entry);
        deliveries.extend(more);
        updated.push(result);
    }
    let mut answer = Answer::value(200, &json!({ "update": updated }));
    answer.deliveries = deliveries;
    Ok(answer)
}

/// Stock and price changes as WooCommerce applies them; an unknown id is an error entry.
fn update_product(shop: &mut Shop, changes: &Value) -> (Value, Vec<PendingDelivery>) {
    let id = changes.get("id").and_then(Value::as_u64).unwrap_or(0);
    let now = shop.now_gmt();
    let local = shop.local(now);
    let Some(product) = shop.products.get_mut(&id) else {
        return (
            json!({ "id": id, "error": ApiError::new(400, "woocommerce_rest_product_invalid_id", "Invalid ID.").body }),
            Vec::new(),
        );
    };
    if let Some(manage) = changes.get("manage_stock") {
        product["manage_stock"] = manage.clone();
    }
    if let Some(quantity) = changes.get("stock_quantity") {
        let quantity = quantity
            .as_i64()
            .or_else(|| quantity.as_str().and_then(|text| text.parse().ok()));
        product["stock_quantity"] = json!(quantity);
        product["stock_status"] = json!(if quantity.unwrap_or(0) > 0 {
            "instock"
        } else {
            "outofstock"
        });
    }
    for field in ["regular_price", "sale_price"] {
        if let Some(price) = changes.get(field) {
            let text = match price {
                Value::String(text) => text.clone(),
                Value::Number(number) => number.to_string(),
                _ => String::new(),
            };
            product[field] = json!(text);
        }
    }
    // The sale's dates in the store's time; `""` or null removes one.
    for field in ["date_on_sale_from", "date_on_sale_to"] {
        if let Some(date) = changes.get(field) {
            let date = date.as_str().filter(|text| !text.is_empty());
            product[field] = json!(date);
        }
    }
    let price_fields = [
        "regular_price",
        "sale_price",
        "date_on_sale_from",
        "date_on_sale_to",
    ];
    if price_fields
        .iter()
        .any(|field| changes.get(*field).is_some())
    {
        let sale = product["sale_price"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let regular = product["regular_price"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let now = local.format(DATE_FORMAT).to_string();
        let started = product["date_on_sale_from"]
            .as_str()
            .map_or(true, |from| from <= now.as_str());
        let not_ended = product["date_on_sale_to"]
            .as_str()
            .map_or(true, |to| to >= now.as_str());
        let on_sale = !sale.is_empty() && started && not_ended;
        product["price"] = json!(if on_sale { sale } else { regular });
        product["on_sale"] = json!(on_sale);
    }
    product["date_modified"] = json!(local.format(DATE_FORMAT).to_string());
    product["date_modified_gmt"] = json!(now.format(DATE_FORMAT).to_string());
    let result = product.clone();
    let deliveries = shop.deliveries_for(
        "product.updated",
        "publish",
        std::sync::Arc::from(result.to_string()),
    );
    (result, deliveries)
}

fn notes(context: &Context<'_>, method: &str, order_id: u64) -> Result<Answer, ApiError> {
    let mut shop = context.app.lock();
    if !shop.orders.contains_key(&order_id) {
        return Err(ApiError::new(
            404,
            "woocommerce_rest_order_invalid_id",
            "Invalid order ID.",
        ));
    }
    if method == "GET" {
        let notes: Vec<Value> = shop
            .notes
            .get(&order_id)
            .map(|notes| notes.iter().rev().cloned().collect())
            .unwrap_or_default();
        return Ok(Answer::value(200, &Value::Array(notes)));
    }
    let Some(text) = context
        .body
        .get("note")
        .and_then(Value::as_str)
        .filter(|text| !text.is_empty())
    else {
        return Err(ApiError::with_data(
            400,
            "rest_missing_callback_param",
            "Missing parameter(s): note",
            json!({ "status": 400, "params": ["note"] }),
        ));
    };
    let customer_note = context
        .body
        .get("customer_note")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let note = shop.add_note(order_id, text, customer_note, "WooCommerce");
    Ok(Answer::value(201, &note))
}

fn refunds(context: &Context<'_>, method: &str, order_id: u64) -> Result<Answer, ApiError> {
    let mut shop = context.app.lock();
    if !shop.orders.contains_key(&order_id) {
        return Err(ApiError::new(
            404,
            "woocommerce_rest_order_invalid_id",
            "Invalid order ID.",
        ));
    }
    if method == "GET" {
        let refunds: Vec<Value> = shop
            .refunds
            .get(&order_id)
            .map(|refunds| refunds.iter().rev().cloned().collect())
            .unwrap_or_default();
        let references: Vec<&Value> = refunds.iter().collect();
        drop(shop);
        return paged_values(context, &format!("orders/{order_id}/refunds"), &references);
    }
    let (refund, deliveries) = shop.create_refund(order_id, context.body)?;
    let mut answer = Answer::value(201, &refund);
    answer.deliveries = deliveries;
    Ok(answer)
}

fn known_coupon(code: &str) -> Option<Coupon> {
    let code_owned = code.to_string();
    match code.to_lowercase().as_str() {
        "save10" | "lab10" => Some(Coupon::Percent {
            code: code_owned,
            percent: 10.into(),
        }),
        "welcome15" => Some(Coupon::Percent {
            code: code_owned,
            percent: 15.into(),
        }),
        "fiveoff" => Some(Coupon::FixedCart {
            code: code_owned,
            amount: 5.into(),
        }),
        "tenoff" => Some(Coupon::FixedCart {
            code: code_owned,
            amount: 10.into(),
        }),
        _ => None,
    }
}

fn money_field(value: Option<&Value>) -> rust_decimal::Decimal {
    match value {
        Some(Value::String(text)) => parse_decimal(text).unwrap_or_default(),
        Some(Value::Number(number)) => parse_decimal(&number.to_string()).unwrap_or_default(),
        _ => rust_decimal::Decimal::ZERO,
    }
}

/// `POST /orders`: prices the cart from the catalog; like the real store, an
/// unknown product gives an empty line rather than an error.
pub fn create_order(
    shop: &mut Shop,
    body: &Value,
) -> Result<(std::sync::Arc<str>, Vec<PendingDelivery>), ApiError> {
    let set_paid = body.get("set_paid").and_then(Value::as_bool) == Some(true);
    let status = body
        .get("status")
        .and_then(Value::as_str)
        .unwrap_or("pending");
    if !WRITABLE_STATUSES.contains(&status) {
        return Err(ApiError::invalid_param("status", "rest_not_in_enum", "status is not one of auto-draft, pending, processing, on-hold, completed, cancelled, refunded, failed, and checkout-draft."));
    }
    let customer_id = body.get("customer_id").and_then(Value::as_u64).unwrap_or(0);
    if customer_id != 0 && !shop.customers.contains_key(&customer_id) {
        return Err(ApiError::new(
            400,
            "woocommerce_rest_invalid_customer_id",
            "Customer ID is invalid.",
        ));
    }
    let mut lines = Vec::new();
    for entry in body
        .get("line_items")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let quantity = entry.get("quantity").and_then(Value::as_u64).unwrap_or(1) as u32;
        let variation_id = entry
            .get("variation_id")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let product_id = entry.get("product_id").and_then(Value::as_u64).unwrap_or(0);
        // Like the real store: a line's own `total` (and `subtotal`, which defaults to it) wins
        // over the catalog price.
        let given = entry.get("total").map(|total| {
            let total = money_field(Some(total));
            let subtotal = entry
                .get("subtotal")
                .map_or(total, |subtotal| money_field(Some(subtotal)));
            (subtotal, total)
        });
        let product = shop
            .products
            .get(&if variation_id > 0 {
                variation_id
            } else {
                product_id
            })
            .cloned();
        let line = match product {
            Some(product) => {
                let parent_name = (variation_id > 0)
                    .then(|| {
                        shop.products
                            .get(&product_id)
                            .and_then(|parent| parent["name"].as_str())
                            .map(str::to_string)
                    })
                    .flatten();
                let meta = product["attributes"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|attribute| {
                        let name = attribute["name"].as_str()?;
                        let option = attribute["option"].as_str()?;
                        Some((name.to_lowercase(), option.to_string(), name.to_string()))
                    })
                    .collect();
                CartLine {
                    product_id,
                    variation_id,
                    name: product["name"].as_str().unwrap_or_default().to_string(),
                    parent_name,
                    sku: Some(product["sku"].as_str().unwrap_or_default().to_string()),
                    unit_price: money_field(product.get("price")),
                    quantity,
                    tax_class: product["tax_class"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    meta,
                    given,
                }
            }
            None => CartLine {
                product_id: 0,
                variation_id: 0,
                name: String::new(),
                parent_name: None,
                sku: None,
                unit_price: rust_decimal::Decimal::ZERO,
                quantity,
                tax_class: String::new(),
                meta: Vec::new(),
                given,
            },
        };
        lines.push(line);
    }
    let mut coupon = None;
    for entry in body
        .get("coupon_lines")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let code = entry
            .get("code")
            .and_then(Value::as_str)
            .unwrap_or_default();
        coupon = Some(known_coupon(code).ok_or_else(|| {
            ApiError::new(
                400,
                "woocommerce_rest_invalid_coupon",
                &format!("Coupon \"{code}\" does not exist!"),
            )
        })?);
    }
    let fees = body
        .get("fee_lines")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|fee| Fee {
            name: fee["name"].as_str().unwrap_or("Fee").to_string(),
            amount: money_field(fee.get("total")),
            taxable: fee["tax_status"] != "none",
        })
        .collect();
    let shipping = match body
        .get("shipping_lines")
        .and_then(Value::as_array)
        .and_then(|lines| lines.first())
    {
        Some(line) if line["method_id"] == "free_shipping" => Shipping::Free,
        Some(line) => Shipping::FlatRate(money_field(line.get("total"))),
        None => Shipping::None,
    };
    let address = |name: &str| -> Value {
        let mut address = json!({ "first_name": "", "last_name": "", "company": "", "address_1": "", "address_2": "",
                                  "city": "", "state": "", "postcode": "", "country": "", "phone": "" });
        if name == "billing" {
            address["email"] = json!("");
        }
        if let Some(given) = body.get(name).and_then(Value::as_object) {
            for (key, value) in given {
                address[key] = value.clone();
            }
        }
        address
    };
    let billing = address("billing");
    let shipping_address = address("shipping");
    let state = shipping_address["state"]
        .as_str()
        .filter(|state| !state.is_empty())
        .or_else(|| billing["state"].as_str())
        .unwrap_or_default()
        .to_string();
    let meta_data: Vec<Value> = body.get("meta_data").and_then(Value::as_array).into_iter().flatten()
        .map(|entry| json!({ "id": shop.take_meta_id(), "key": entry["key"], "value": entry["value"] }))
        .collect();
    let now = shop.now_gmt();
    let id = shop.take_order_id();
    let header = OrderHeader {
        id,
        status: "pending".to_string(),
        customer_id,
        billing,
        shipping: shipping_address,
        payment_method: (
            body["payment_method"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            body["payment_method_title"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        ),
        created_gmt: now,
        modified_gmt: now,
        created_via: body["created_via"]
            .as_str()
            .unwrap_or("rest-api")
            .to_string(),
        customer_note: body["customer_note"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        meta_data,
    };
    let vat_exempt = body["meta_data"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|entry| entry["key"] == "is_vat_exempt" && entry["value"] == "yes");
    let shipping_method = body["shipping_lines"]
        .as_array()
        .and_then(|lines| lines.first())
        .filter(|line| line["method_id"] != "free_shipping" && line.get("method_title").is_some())
        .map(|line| {
            (
                line["method_id"]
                    .as_str()
                    .unwrap_or("flat_rate")
                    .to_string(),
                line["method_title"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        });
    let cart = Cart {
        lines,
        coupon,
        fees,
        shipping,
        state,
        vat_exempt,
        shipping_method,
    };
    let mut order = build_order(shop, &header, &cart);
    let target = if set_paid { "processing" } else { status };
    if target != "pending" {
        shop.apply_status(id, &mut order, target);
    }
    let stored = StoredOrder::from_value(&order)
        .map_err(|message| ApiError::new(500, "woocommerce_rest_sim_error", &message))?;
    let json = stored.json.clone();
    let status = stored.status.clone();
    shop.put_order(stored);
    let mut deliveries = shop.deliveries_for("order.created", &status, json.clone());
    deliveries.extend(shop.deliveries_for("order.updated", &status, json.clone()));
    Ok((json, deliveries))
}

/// A webhook as the API shows it: the fields the client's `Webhook` types, then those it
/// ignores (`hooks`, local dates, `_links`).
fn webhook_value(shop: &Shop, id: u64) -> Value {
    let Some(webhook) = shop.webhooks.get(&id) else {
        return Value::Null;
    };
    let (resource, event) = webhook
        .topic
        .split_once('.')
        .unwrap_or((&webhook.topic, ""));
    let typed = Webhook {
        id: webhook.id,
        name: webhook.name.clone(),
        status: webhook.status.clone(),
        topic: webhook.topic.clone(),
        resource: resource.to_string(),
        event: event.to_string(),
        delivery_url: webhook.delivery_url.clone(),
        date_created_gmt: Some(webhook.created_gmt),
    };
    let mut value = serde_json::to_value(&typed).unwrap_or(Value::Null);
    if let Value::Object(fields) = &mut value {
        for (key, extra) in [
            ("hooks", json!([])),
            (
                "date_created",
                json!(shop
                    .local(webhook.created_gmt)
                    .format(DATE_FORMAT)
                    .to_string()),
            ),
            ("date_modified", Value::Null),
            ("date_modified_gmt", Value::Null),
            (
                "_links",
                json!({ "self": [{ "href": format!("{}/wp-json/wc/v3/webhooks/{id}", shop.base_url) }],
                        "collection": [{ "href": format!("{}/wp-json/wc/v3/webhooks", shop.base_url) }] }),
            ),
        ] {
            fields.insert(key.to_string(), extra);
        }
    }
    value
}

async fn create_webhook(context: &Context<'_>) -> Result<Answer, ApiError> {
    let body = context.body;
    let topic = body
        .get("topic")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let valid_topic = topic.split_once('.').is_some_and(|(resource, event)| {
        matches!(resource, "coupon" | "customer" | "order" | "product")
            && matches!(event, "created" | "updated" | "deleted" | "restored")
    }) || topic.starts_with("action.");
    if !valid_topic {
        return Err(ApiError::new(
            400,
            "woocommerce_rest_webhook_invalid_topic",
            "Webhook topic is required and must be valid.",
        ));
    }
    let delivery_url = body
        .get("delivery_url")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if !(delivery_url.starts_with("http://") || delivery_url.starts_with("https://")) {
        return Err(ApiError::new(
            400,
            "woocommerce_rest_webhook_invalid_delivery_url",
            "Webhook delivery URL must be a valid URL starting with http:// or https://.",
        ));
    }
    let (id, value) = {
        let mut shop = context.app.lock();
        let id = shop.next_webhook_id;
        shop.next_webhook_id += 1;
        let secret = body
            .get("secret")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| shop.default_webhook_secret.clone());
        let webhook = super::state::SimWebhook {
            id,
            name: body
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("Webhook")
                .to_string(),
            status: body
                .get("status")
                .and_then(Value::as_str)
                .unwrap_or("active")
                .to_string(),
            topic,
            delivery_url: delivery_url.clone(),
            secret,
            failure_count: 0,
            created_gmt: shop.now_gmt(),
        };
        shop.webhooks.insert(id, webhook);
        (id, webhook_value(&shop, id))
    };
    // WooCommerce pings during the create request and answers 201 whatever the ping got.
    send_ping(&context.app.http, &delivery_url, id).await;
    let mut answer = Answer::value(201, &value);
    answer
        .headers
        .push(("Location", format!("{}/webhooks/{id}", context.base)));
    Ok(answer)
}

/// `GET /taxes`: the rates orders are taxed at, shaped as a real store lists them.
fn tax_rate_values() -> Vec<Value> {
    super::generate::tax_rates()
        .into_iter()
        .map(|rate| {
            json!({
                "id": rate.id, "country": "US", "state": rate.state.unwrap_or(""),
                "postcode": "", "city": "", "postcodes": [], "cities": [],
                "rate": format!("{:.4}", rate.percent), "name": rate.label,
                "priority": 1, "compound": false, "shipping": rate.shipping, "order": 0,
                "class": if rate.class.is_empty() { "standard" } else { rate.class },
            })
        })
        .collect()
}

/// `GET /shipping_methods`: WooCommerce's built-in methods, as a fresh real store lists them.
fn shipping_method_values() -> Value {
    json!([
        {"id": "flat_rate", "title": "Flat rate", "description": "Lets you charge a fixed rate for shipping."},
        {"id": "free_shipping", "title": "Free shipping", "description": "Free shipping is a special method which can be triggered with coupons and minimum spends."},
        {"id": "local_pickup", "title": "Local pickup", "description": "Allow customers to pick up orders themselves. By default, when using local pickup store base taxes will apply regardless of customer address."},
        {"id": "pickup_location", "title": "Local pickup", "description": "Allow customers to choose a local pickup location during checkout."},
    ])
}

/// `GET /payment_gateways`: the gateways the simulated orders are paid with.
fn payment_gateway_values() -> Value {
    Value::Array(
        super::generate::GATEWAYS
            .iter()
            .map(|(id, title)| {
                json!({
                    "id": id, "title": title, "description": "", "order": "", "enabled": true,
                    "method_title": title, "method_description": "", "method_supports": ["products"],
                    "settings": {},
                })
            })
            .collect(),
    )
}

/// `GET /reports/orders/totals`: every registered status but trash, with its order count.
fn status_totals(shop: &Shop) -> Value {
    let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
    for stored in shop.orders.values() {
        *counts.entry(stored.status.as_str()).or_default() += 1;
    }
    Value::Array(
        [
            "pending",
            "processing",
            "on-hold",
            "completed",
            "cancelled",
            "refunded",
            "failed",
            "checkout-draft",
        ]
        .into_iter()
        .map(|slug| {
            json!({
                "slug": slug,
                "name": super::state::status_label(slug),
                "total": counts.get(slug).copied().unwrap_or(0),
            })
        })
        .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_webhook_built_from_the_clients_type_keeps_the_stores_date_format() {
        let mut shop = Shop::new(chrono_tz::UTC, Vec::new(), "secret".into());
        let created_gmt = shop.now_gmt();
        shop.webhooks.insert(
            3,
            super::super::state::SimWebhook {
                id: 3,
                name: "hook".into(),
                status: "active".into(),
                topic: "order.updated".into(),
                delivery_url: "http://receiver.example/hook".into(),
                secret: "s".into(),
                failure_count: 0,
                created_gmt,
            },
        );
        let value = webhook_value(&shop, 3);
        let stamp = created_gmt.format(DATE_FORMAT).to_string();
        assert_eq!(value["date_created_gmt"], json!(stamp));
        assert_eq!(value["date_created"], json!(stamp));
        assert_eq!(
            (value["resource"].clone(), value["event"].clone()),
            (json!("order"), json!("updated"))
        );
        assert_eq!(value["hooks"], json!([]));
        assert!(
            value.get("secret").is_none(),
            "WooCommerce never returns the secret"
        );
    }
}
