//! The web UI's pages: dashboard, orders with their state and page, sync log, settings,
//! password, login. Pages read the store; buttons queue jobs or save settings. Nothing here
//! calls WooCommerce or ERPNext. What an order's state is comes from
//! [`crate::sync::order_state`], not from here.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use chrono::{DateTime, Duration, DurationRound, Utc};
use minijinja::context;
use serde::{Deserialize, Serialize};

use super::auth::{
    change_admin_password, check_new_password, constant_time_eq, safe_next, set_cookie,
    ClientAddress, Session, MIN_PASSWORD_CHARS,
};
use super::render::{hourly_chart, message, page, STYLESHEET};
use super::WebState;
use super::{new_connection, products, settings};
use crate::jobs::{last_poll, Job};
use crate::store::{HourlyCounts, LogFilter, LogRecord, StoreError, StoredConnection};
use crate::sync::order_state::{
    cause_of, count_by_state, failure_causes, order_states, OrderState, OrderStatus,
};
use crate::sync::problems::connection_problems;

pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/", get(dashboard))
        .route("/style.css", get(stylesheet))
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
        .route("/password", get(password_form).post(change_password))
        .route("/orders", get(orders))
        .route("/orders/{connection}/{order}", get(order_page))
        .route("/log", get(sync_log))
        .route("/retry", post(retry))
        .route("/retry-cause", post(retry_cause))
        .route("/retry-failed", post(retry_failed))
        .route("/sync-now", post(sync_now))
        .route(
            "/connections/new",
            get(new_connection::form).post(new_connection::explore_sites),
        )
        .route("/connections/new/save", post(new_connection::save))
        .route(
            "/connections/{connection}/progress",
            get(new_connection::progress),
        )
        .route("/settings/{connection}/setup", post(settings::set_up_again))
        .route(
            "/settings/{connection}/products",
            get(products::report).post(products::run),
        )
        .route("/settings", get(settings_index))
        .route(
            "/settings/{connection}",
            get(settings::form).post(settings::save),
        )
}

/// A page that could not be built: the reason goes to the log, the browser gets a plain message.
pub fn store_failure(error: StoreError) -> Response {
    tracing::error!(%error, "a page could not read the store");
    message(
        StatusCode::SERVICE_UNAVAILABLE,
        "Database unavailable",
        "The service cannot read its database right now; see the service log.",
        None,
    )
}

pub fn csrf_refused() -> Response {
    message(
        StatusCode::FORBIDDEN,
        "Form refused",
        "This form is stale or did not come from this service; reload the page and try again.",
        None,
    )
}

fn not_found(text: &str, csrf: &str) -> Response {
    message(StatusCode::NOT_FOUND, "Not found", text, Some(csrf))
}

/// The connection a page names, or the page that says it does not exist (or the store failed).
pub async fn stored_connection(
    state: &WebState,
    session: &Session,
    name: &str,
) -> Result<StoredConnection, Response> {
    match state.store.connection(name).await {
        Ok(connection) => Ok(connection),
        Err(StoreError::NotFound(text)) => Err(not_found(&text, &session.csrf_token)),
        Err(error) => Err(store_failure(error)),
    }
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        STYLESHEET,
    )
        .into_response()
}

#[derive(Deserialize, Default)]
struct LoginQuery {
    next: Option<String>,
}

async fn login_form(Query(query): Query<LoginQuery>) -> Response {
    login_page(StatusCode::OK, &safe_next(query.next.as_deref()), None)
}

fn login_page(status: StatusCode, next: &str, problem: Option<&str>) -> Response {
    page(
        status,
        "login.html",
        context! { title => "Log in", next, problem },
    )
}

#[derive(Deserialize)]
struct LoginForm {
    password: String,
    #[serde(default)]
    next: Option<String>,
}

async fn login(
    State(state): State<WebState>,
    ClientAddress(client): ClientAddress,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let next = safe_next(form.next.as_deref());
    if let Err(wait) = state.auth.may_try(client) {
        tracing::warn!(%client, "web UI login refused: too many wrong passwords");
        let seconds = wait.as_secs().max(1);
        let mut response = login_page(
            StatusCode::TOO_MANY_REQUESTS,
            &next,
            Some(&format!(
                "Too many wrong passwords. Wait {seconds} seconds, then try again."
            )),
        );
        if let Ok(value) = seconds.to_string().parse() {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        return response;
    }
    match state
        .auth
        .password_matches(&state.store, &form.password)
        .await
    {
        Ok(true) => {}
        Ok(false) => {
            state.auth.login_failed(client);
            tracing::warn!(%client, "a web UI login failed: wrong password");
            return login_page(
                StatusCode::UNAUTHORIZED,
                &next,
                Some("That is not the admin password."),
            );
        }
        Err(error) => return store_failure(error),
    }
    state.auth.login_succeeded(client);
    match state.auth.start_session(&state.store, &headers).await {
        Ok(cookie) => set_cookie(Redirect::to(&next), cookie),
        Err(error) => store_failure(error),
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

async fn logout(
    State(state): State<WebState>,
    session: Session,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    if !constant_time_eq(&form.csrf, &session.csrf_token) {
        return csrf_refused();
    }
    if let Err(error) = state.auth.end_session(&state.store, &session).await {
        return store_failure(error);
    }
    set_cookie(Redirect::to("/login"), state.auth.clearing_cookie(&headers))
}

async fn password_form(session: Session) -> Response {
    password_page(StatusCode::OK, &session, None)
}

fn password_page(status: StatusCode, session: &Session, problem: Option<&str>) -> Response {
    page(
        status,
        "password.html",
        context! {
            title => "Change the admin password",
            csrf => session.csrf_token,
            min_chars => MIN_PASSWORD_CHARS,
            problem,
        },
    )
}

#[derive(Deserialize)]
struct PasswordForm {
    csrf: String,
    current: String,
    new_password: String,
    repeat: String,
}

async fn change_password(
    State(state): State<WebState>,
    session: Session,
    ClientAddress(client): ClientAddress,
    headers: HeaderMap,
    Form(form): Form<PasswordForm>,
) -> Response {
    if !constant_time_eq(&form.csrf, &session.csrf_token) {
        return csrf_refused();
    }
    // Guessing the current password here is throttled like the login.
    if state.auth.may_try(client).is_err() {
        return password_page(
            StatusCode::TOO_MANY_REQUESTS,
            &session,
            Some("Too many wrong passwords; wait a while, then try again."),
        );
    }
    match state
        .auth
        .password_matches(&state.store, &form.current)
        .await
    {
        Ok(true) => {}
        Ok(false) => {
            state.auth.login_failed(client);
            return password_page(
                StatusCode::UNAUTHORIZED,
                &session,
                Some("The current password is not right; nothing was changed."),
            );
        }
        Err(error) => return store_failure(error),
    }
    if form.new_password != form.repeat {
        return password_page(
            StatusCode::BAD_REQUEST,
            &session,
            Some("The two new passwords differ; nothing was changed."),
        );
    }
    if let Err(problem) = check_new_password(&form.new_password) {
        return password_page(StatusCode::BAD_REQUEST, &session, Some(&problem));
    }
    if let Err(error) = change_admin_password(&state.store, &form.new_password).await {
        return store_failure(error);
    }
    tracing::info!("the web UI admin password was changed; every session was revoked");
    set_cookie(Redirect::to("/login"), state.auth.clearing_cookie(&headers))
}

/// The last 24 hours, every hour present (empty hours as zero).
fn last_day(counts: Vec<HourlyCounts>) -> Vec<(String, HourlyCounts)> {
    let by_hour: HashMap<String, HourlyCounts> = counts
        .into_iter()
        .map(|count| (count.hour.clone(), count))
        .collect();
    let now = Utc::now()
        .duration_trunc(Duration::hours(1))
        .unwrap_or_else(|_| Utc::now());
    (0..24)
        .rev()
        .map(|hours_ago| {
            let hour = (now - Duration::hours(hours_ago))
                .format("%Y-%m-%dT%H")
                .to_string();
            let counts = by_hour.get(&hour).cloned().unwrap_or(HourlyCounts {
                hour: hour.clone(),
                succeeded: 0,
                failed: 0,
            });
            (hour, counts)
        })
        .collect()
}

/// A time as the pages show it.
fn shown(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// An order and its state, as the templates take it.
#[derive(Serialize)]
struct OrderRow {
    order_id: String,
    label: &'static str,
    state: OrderState,
    amount: Option<String>,
    retry: bool,
}

impl From<&OrderStatus> for OrderRow {
    fn from(status: &OrderStatus) -> OrderRow {
        OrderRow {
            order_id: status.order_id.clone(),
            label: status.state.label(),
            state: status.state.clone(),
            amount: status.amount.map(|amount| amount.to_string()),
            retry: status.state.retry_makes_sense(),
        }
    }
}

async fn dashboard(State(state): State<WebState>, session: Session) -> Response {
    let connections = match state.store.connections().await {
        Ok(connections) => connections,
        Err(error) => return store_failure(error),
    };
    if connections.is_empty() {
        // Nothing to show before the first connection: making one is the first thing to do.
        return Redirect::to("/connections/new").into_response();
    }
    let mut panels = Vec::new();
    for connection in &connections {
        match connection_panel(&state, connection).await {
            Ok(panel) => panels.push(panel),
            Err(error) => return store_failure(error),
        }
    }
    page(
        StatusCode::OK,
        "dashboard.html",
        context! { title => "Dashboard", csrf => session.csrf_token, panels },
    )
}

async fn connection_panel(
    state: &WebState,
    stored: &StoredConnection,
) -> Result<minijinja::Value, StoreError> {
    let store = &state.store;
    let orders = order_states(store, stored.id).await?;
    let counts = count_by_state(&orders);
    let failing = orders
        .iter()
        .filter(|order| order.state.is_failure())
        .count();
    let next_retry = orders
        .iter()
        .filter_map(|order| match &order.state {
            OrderState::WaitingForRetry { next_at, .. } => Some(*next_at),
            _ => None,
        })
        .min()
        .map(shown);
    let poll = last_poll(store, stored.id).await?;
    let blocker = poll
        .as_ref()
        .filter(|poll| !poll.succeeded)
        .and_then(|poll| poll.blocked_by.map(|blocker| (blocker, poll.at)));
    let problems =
        connection_problems(&store.webhook_rejections(stored.id).await?, blocker, &shown);
    let poll = poll.map(|poll| {
        context! {
            at => poll.at.format("%Y-%m-%d %H:%M:%S").to_string(),
            succeeded => poll.succeeded,
            seen => poll.seen, created => poll.created, updated => poll.updated,
            failed => poll.failed, duration_ms => poll.duration_ms, error => poll.error,
        }
    });
    let chart = hourly_chart(&last_day(
        store
            .log_counts_by_hour(stored.id, Utc::now() - Duration::hours(24))
            .await?,
    ));
    Ok(context! {
        name => stored.connection.name,
        woocommerce_url => stored.connection.woocommerce_url.as_str(),
        erpnext_url => stored.connection.erpnext_url.as_str(),
        counts, failing, next_retry, poll, chart, problems,
        causes => failure_causes(&orders),
    })
}

#[derive(Deserialize, Default)]
struct OrdersQuery {
    connection: Option<String>,
    /// `all`, `failing`, or a state label.
    state: Option<String>,
    /// A WooCommerce order id to open.
    order: Option<String>,
    /// `newest` (default), `oldest`, `amount` or `state`.
    sort: Option<String>,
    /// From 1.
    page: Option<usize>,
    per_page: Option<usize>,
}

const SORTS: [(&str, &str); 4] = [
    ("newest", "newest order first"),
    ("oldest", "oldest order first"),
    ("amount", "largest amount first"),
    ("state", "by state"),
];
const PER_PAGE: usize = 50;

/// Orders as the list shows them: sorted as asked (newest order id first by default), then one
/// page of them. Answers the page, the page number shown and how many pages there are.
fn sorted_page<'a>(
    mut orders: Vec<&'a OrderStatus>,
    sort: &str,
    page: usize,
    per_page: usize,
) -> (Vec<&'a OrderStatus>, usize, usize) {
    let id = |status: &OrderStatus| status.order_id.parse::<u64>().unwrap_or(u64::MAX);
    match sort {
        "oldest" => orders.sort_by_key(|status| id(status)),
        "amount" => orders.sort_by(|a, b| b.amount.cmp(&a.amount).then(id(b).cmp(&id(a)))),
        "state" => {
            orders.sort_by(|a, b| a.state.label().cmp(b.state.label()).then(id(b).cmp(&id(a))))
        }
        _ => orders.sort_by_key(|status| std::cmp::Reverse(id(status))),
    }
    let pages = orders.len().div_ceil(per_page).max(1);
    let page = page.clamp(1, pages);
    let shown = orders
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect();
    (shown, page, pages)
}

const STATE_FILTERS: [(&str, &str); 8] = [
    ("all", "all"),
    ("failing", "failing now"),
    ("synced", "synced"),
    ("waiting for retry", "waiting for retry"),
    ("failed", "failed"),
    ("parked", "parked"),
    ("skipped", "skipped"),
    ("in progress", "in progress"),
];

pub(super) fn encoded(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

async fn orders(
    State(state): State<WebState>,
    session: Session,
    Query(query): Query<OrdersQuery>,
) -> Response {
    let connections = match state.store.connections().await {
        Ok(connections) => connections,
        Err(error) => return store_failure(error),
    };
    let selected = query
        .connection
        .as_deref()
        .filter(|name| !name.is_empty())
        .or_else(|| connections.first().map(|c| c.connection.name.as_str()))
        .map(str::to_string);
    if let (Some(order), Some(connection)) = (
        query
            .order
            .as_deref()
            .map(str::trim)
            .filter(|o| !o.is_empty()),
        selected.as_deref(),
    ) {
        return Redirect::to(&format!(
            "/orders/{}/{}",
            encoded(connection),
            encoded(order)
        ))
        .into_response();
    }
    let state_filter = query.state.clone().unwrap_or_else(|| "all".into());
    let sort = query
        .sort
        .as_deref()
        .filter(|sort| SORTS.iter().any(|(value, _)| value == sort))
        .unwrap_or("newest")
        .to_string();
    let per_page = query.per_page.unwrap_or(PER_PAGE).clamp(1, 500);
    let mut rows = Vec::new();
    let mut total = 0;
    let (mut page_number, mut pages) = (1, 1);
    if let Some(name) = &selected {
        let Some(connection) = connections.iter().find(|c| &c.connection.name == name) else {
            return not_found(
                &format!("No connection is named {name}."),
                &session.csrf_token,
            );
        };
        let statuses = match order_states(&state.store, connection.id).await {
            Ok(statuses) => statuses,
            Err(error) => return store_failure(error),
        };
        let matching: Vec<&OrderStatus> = statuses
            .iter()
            .filter(|status| match state_filter.as_str() {
                "all" => true,
                "failing" => status.state.is_failure(),
                label => status.state.label() == label,
            })
            .collect();
        total = matching.len();
        let (shown, page, count) = sorted_page(matching, &sort, query.page.unwrap_or(1), per_page);
        (page_number, pages) = (page, count);
        rows = shown.into_iter().map(OrderRow::from).collect();
    }
    let names: Vec<&str> = connections
        .iter()
        .map(|c| c.connection.name.as_str())
        .collect();
    page(
        StatusCode::OK,
        "orders.html",
        context! {
            title => "Orders", csrf => session.csrf_token,
            connection_names => names, selected, state_filter,
            state_filters => STATE_FILTERS, sorts => SORTS, sort, per_page,
            page => page_number, pages, total, orders => rows,
        },
    )
}

/// A log row as the templates take it.
#[derive(Serialize)]
struct LogRow {
    connection: String,
    at: String,
    direction: String,
    object_kind: String,
    object_id: String,
    order_id: Option<String>,
    action: String,
    outcome: &'static str,
    message: String,
    attempt: i64,
    duration_ms: i64,
}

fn log_row(connection: &str, record: &LogRecord) -> LogRow {
    let entry = &record.entry;
    LogRow {
        connection: connection.to_string(),
        at: record.at.format("%Y-%m-%d %H:%M:%S").to_string(),
        direction: entry.direction.replace('_', " "),
        object_kind: entry.object_kind.clone(),
        object_id: entry.object_id.clone(),
        order_id: entry.order_id.clone(),
        action: entry.action.replace('_', " "),
        outcome: entry.outcome.as_str(),
        message: entry.message.clone(),
        attempt: entry.attempt,
        duration_ms: entry.duration_ms,
    }
}

/// ERPNext documents in the order they come from one another.
fn doctype_rank(doctype: &str) -> u8 {
    match doctype {
        "Sales Order" => 0,
        "Sales Invoice" => 1,
        "Payment Entry" => 2,
        _ => 3,
    }
}

/// The document in ERPNext Desk: `/app/sales-order/SO-0001`.
fn desk_url(erpnext: &url::Url, doctype: &str, name: &str) -> Option<String> {
    if name.is_empty() {
        return None;
    }
    let slug = doctype.to_lowercase().replace(' ', "-");
    erpnext
        .join(&format!("app/{slug}/{}", encoded(name)))
        .ok()
        .map(String::from)
}

async fn order_page(
    State(state): State<WebState>,
    session: Session,
    Path((connection_name, order)): Path<(String, String)>,
) -> Response {
    let connection = match state.store.connection(&connection_name).await {
        Ok(connection) => connection,
        Err(StoreError::NotFound(text)) => return not_found(&text, &session.csrf_token),
        Err(error) => return store_failure(error),
    };
    let mut records = match state
        .store
        .query_log(&LogFilter {
            connection_id: Some(connection.id),
            order_id: Some(order.clone()),
            limit: Some(500),
            ..LogFilter::default()
        })
        .await
    {
        Ok(records) => records,
        Err(error) => return store_failure(error),
    };
    records.reverse();
    // The order's documents, then each refund's (credit notes, refund payments).
    let mut objects = vec![("order".to_string(), order.clone())];
    for record in &records {
        let object = (
            record.entry.object_kind.clone(),
            record.entry.object_id.clone(),
        );
        if object.0 == "refund" && !objects.contains(&object) {
            objects.push(object);
        }
    }
    let mut links = Vec::new();
    for (kind, id) in &objects {
        let mut found = match state.store.links_for_object(connection.id, kind, id).await {
            Ok(found) => found,
            Err(error) => return store_failure(error),
        };
        found.sort_by_key(|link| doctype_rank(&link.erp_doctype));
        for link in found {
            links.push(context! {
                doctype => link.erp_doctype,
                url => desk_url(&connection.connection.erpnext_url, &link.erp_doctype, &link.erp_name),
                name => link.erp_name,
                for => if kind == "order" { format!("order {id}") } else { format!("{kind} {id}") },
                amount => link.amount.map(|amount| amount.to_string()),
            });
        }
    }
    let status = match order_states(&state.store, connection.id).await {
        Ok(statuses) => statuses
            .iter()
            .find(|status| status.order_id == order)
            .map(OrderRow::from),
        Err(error) => return store_failure(error),
    }
    .unwrap_or(OrderRow {
        order_id: order.clone(),
        label: OrderState::NotSynced.label(),
        state: OrderState::NotSynced,
        amount: None,
        retry: order.parse::<u64>().is_ok(),
    });
    let woo_link = connection
        .connection
        .woocommerce_url
        .join(&format!(
            "wp-admin/admin.php?page=wc-orders&action=edit&id={}",
            encoded(&order)
        ))
        .map(String::from)
        .unwrap_or_default();
    let rows: Vec<LogRow> = records
        .iter()
        .map(|record| log_row(&connection_name, record))
        .collect();
    page(
        StatusCode::OK,
        "order.html",
        context! {
            title => format!("Order #{order} ({connection_name})"),
            csrf => session.csrf_token,
            connection => connection_name, order_id => order,
            status, links, rows, woo_link,
        },
    )
}

#[derive(Deserialize, Default)]
struct LogQuery {
    connection: Option<String>,
    failed: Option<String>,
    order: Option<String>,
}

async fn sync_log(
    State(state): State<WebState>,
    session: Session,
    Query(query): Query<LogQuery>,
) -> Response {
    let connections = match state.store.connections().await {
        Ok(connections) => connections,
        Err(error) => return store_failure(error),
    };
    let names: HashMap<i64, String> = connections
        .iter()
        .map(|connection| (connection.id, connection.connection.name.clone()))
        .collect();
    let selected = query.connection.as_deref().filter(|name| !name.is_empty());
    let connection_id = match selected {
        Some(name) => match connections.iter().find(|c| c.connection.name == name) {
            Some(connection) => Some(connection.id),
            None => {
                return not_found(
                    &format!("No connection is named {name}."),
                    &session.csrf_token,
                )
            }
        },
        None => None,
    };
    let failed_only = query
        .failed
        .as_deref()
        .is_some_and(|value| !value.is_empty());
    let order = query
        .order
        .as_deref()
        .map(str::trim)
        .filter(|order| !order.is_empty());
    let records = match state
        .store
        .query_log(&LogFilter {
            connection_id,
            failed_only,
            order_id: order.map(str::to_string),
            limit: Some(200),
            ..LogFilter::default()
        })
        .await
    {
        Ok(records) => records,
        Err(error) => return store_failure(error),
    };
    // Rows of several connections: grouped by connection, newest first within each.
    let mut groups: Vec<(String, Vec<LogRow>)> = Vec::new();
    for record in &records {
        let name = names
            .get(&record.entry.connection_id)
            .cloned()
            .unwrap_or_default();
        let row = log_row(&name, record);
        match groups.last_mut() {
            Some((last, rows)) if *last == name => rows.push(row),
            _ => groups.push((name, vec![row])),
        }
    }
    let groups: Vec<minijinja::Value> = groups
        .into_iter()
        .map(|(connection, rows)| context! { connection, rows })
        .collect();
    let connection_names: Vec<&str> = connections
        .iter()
        .map(|c| c.connection.name.as_str())
        .collect();
    page(
        StatusCode::OK,
        "log.html",
        context! {
            title => "Sync log", csrf => session.csrf_token,
            connection_names, selected, failed_only, order, groups,
        },
    )
}

#[derive(Deserialize)]
struct RetryForm {
    csrf: String,
    connection: String,
    kind: String,
    object_id: String,
}

async fn retry(
    State(state): State<WebState>,
    session: Session,
    Form(form): Form<RetryForm>,
) -> Response {
    if !constant_time_eq(&form.csrf, &session.csrf_token) {
        return csrf_refused();
    }
    let job = match Job::parse(&form.kind, &form.object_id) {
        Ok(job) => job,
        Err(reason) => {
            return message(
                StatusCode::BAD_REQUEST,
                "Nothing was queued",
                &format!(
                    "Nothing was queued: {reason}. Only orders and polls can be retried from here."
                ),
                Some(&session.csrf_token),
            )
        }
    };
    enqueue(&state, &session, &form.connection, &[job]).await
}

#[derive(Deserialize)]
struct RetryCauseForm {
    csrf: String,
    connection: String,
    cause: String,
}

/// Every order failing (or waiting) for this cause runs again now.
async fn retry_cause(
    State(state): State<WebState>,
    session: Session,
    Form(form): Form<RetryCauseForm>,
) -> Response {
    if !constant_time_eq(&form.csrf, &session.csrf_token) {
        return csrf_refused();
    }
    retry_failing(&state, &session, &form.connection, Some(&form.cause)).await
}

#[derive(Deserialize)]
struct ConnectionForm {
    csrf: String,
    connection: String,
}

/// Every failing or waiting order of the connection runs again now.
async fn retry_failed(
    State(state): State<WebState>,
    session: Session,
    Form(form): Form<ConnectionForm>,
) -> Response {
    if !constant_time_eq(&form.csrf, &session.csrf_token) {
        return csrf_refused();
    }
    retry_failing(&state, &session, &form.connection, None).await
}

async fn retry_failing(
    state: &WebState,
    session: &Session,
    connection_name: &str,
    cause: Option<&str>,
) -> Response {
    let connection = match state.store.connection(connection_name).await {
        Ok(connection) => connection,
        Err(StoreError::NotFound(text)) => return not_found(&text, &session.csrf_token),
        Err(error) => return store_failure(error),
    };
    let statuses = match order_states(&state.store, connection.id).await {
        Ok(statuses) => statuses,
        Err(error) => return store_failure(error),
    };
    let jobs: Vec<Job> = statuses
        .iter()
        .filter(|status| status.state.is_failure())
        .filter(|status| {
            cause.map_or(true, |cause| {
                cause_of(status.state.reason().unwrap_or("")) == cause
            })
        })
        .filter_map(|status| status.order_id.parse().ok())
        .map(|order_id| Job::Order { order_id })
        .collect();
    enqueue(state, session, connection_name, &jobs).await
}

async fn sync_now(
    State(state): State<WebState>,
    session: Session,
    Form(form): Form<ConnectionForm>,
) -> Response {
    if !constant_time_eq(&form.csrf, &session.csrf_token) {
        return csrf_refused();
    }
    enqueue(&state, &session, &form.connection, &[Job::Poll]).await
}

async fn enqueue(
    state: &WebState,
    session: &Session,
    connection_name: &str,
    jobs: &[Job],
) -> Response {
    let connection = match state.store.connection(connection_name).await {
        Ok(connection) => connection,
        Err(StoreError::NotFound(text)) => return not_found(&text, &session.csrf_token),
        Err(error) => return store_failure(error),
    };
    let now = Utc::now();
    for job in jobs {
        if let Err(error) = crate::jobs::enqueue(&state.store, connection.id, job, now).await {
            return store_failure(error);
        }
    }
    tracing::info!(
        connection = connection_name,
        jobs = jobs.len(),
        "jobs queued from the web UI"
    );
    let single_order = match jobs {
        [Job::Order { order_id }] => Some(order_id),
        _ => None,
    };
    Redirect::to(&match single_order {
        Some(order_id) => format!("/orders/{}/{order_id}", encoded(connection_name)),
        None if jobs == [Job::Poll] => format!("/log?connection={}", encoded(connection_name)),
        None => format!("/orders?connection={}", encoded(connection_name)),
    })
    .into_response()
}

async fn settings_index(State(state): State<WebState>, session: Session) -> Response {
    let connections = match state.store.connections().await {
        Ok(connections) => connections,
        Err(error) => return store_failure(error),
    };
    let names: Vec<&str> = connections
        .iter()
        .map(|c| c.connection.name.as_str())
        .collect();
    page(
        StatusCode::OK,
        "settings.html",
        context! { title => "Settings", csrf => session.csrf_token, connections => names },
    )
}
