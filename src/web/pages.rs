//! The web UI's pages: dashboard, orders with their timeline, sync log with
//! retry, settings, login. Pages read the store; buttons queue jobs. Nothing
//! here calls WooCommerce or ERPNext.

use std::collections::HashMap;
use std::fmt::Write;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use chrono::{Duration, DurationRound, Utc};
use serde::Deserialize;

use super::auth::{clearing_cookie, constant_time_eq, set_cookie, Session};
use super::html::{escape, hourly_chart, page, post_button, query_value};
use super::WebState;
use crate::connection::masked_view;
use crate::jobs::{last_poll, Job};
use crate::store::{HourlyCounts, JobState, LogFilter, LogRecord, StoreError, StoredConnection};

pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/", get(dashboard))
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
        .route("/orders", get(orders))
        .route("/orders/{connection}/{order}", get(order_timeline))
        .route("/log", get(sync_log))
        .route("/retry", post(retry))
        .route("/sync-now", post(sync_now))
        .route("/settings", get(settings))
}

/// A page that could not be built: the reason goes to the log, the browser gets a plain message.
fn store_failure(error: StoreError) -> Response {
    tracing::error!(%error, "a page could not read the store");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Html("<p>The service cannot read its database right now; see the service log.</p>"),
    )
        .into_response()
}

async fn login_form() -> Html<String> {
    login_page("")
}

fn login_page(message: &str) -> Html<String> {
    let notice = if message.is_empty() {
        String::new()
    } else {
        format!("<p class=\"failed\">{}</p>", escape(message))
    };
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Log in — woocommerce-sync</title></head>\
         <body style=\"font-family:system-ui,sans-serif;margin:3em\"><h1>woocommerce-sync</h1>{notice}\
         <form method=\"post\" action=\"/login\"><label>Admin password \
         <input type=\"password\" name=\"password\" autofocus required></label> \
         <button type=\"submit\">Log in</button></form></body></html>"
    ))
}

#[derive(Deserialize)]
struct LoginForm {
    password: String,
}

async fn login(State(state): State<WebState>, Form(form): Form<LoginForm>) -> Response {
    if !state.auth.password_matches(&form.password) {
        tracing::warn!("a web UI login failed: wrong password");
        return (
            StatusCode::UNAUTHORIZED,
            login_page("That is not the admin password (WOOCOMMERCE_SYNC_ADMIN_PASSWORD)."),
        )
            .into_response();
    }
    set_cookie(Redirect::to("/"), state.auth.new_session_cookie())
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

async fn logout(session: Session, Form(form): Form<CsrfForm>) -> Response {
    if !constant_time_eq(&form.csrf, &session.csrf_token) {
        return csrf_refused();
    }
    set_cookie(Redirect::to("/login"), clearing_cookie())
}

fn csrf_refused() -> Response {
    (
        StatusCode::FORBIDDEN,
        Html("<p>This form is stale or did not come from this service; reload the page and try again.</p>"),
    )
        .into_response()
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

async fn dashboard(State(state): State<WebState>, session: Session) -> Response {
    let connections = match state.store.connections().await {
        Ok(connections) => connections,
        Err(error) => return store_failure(error),
    };
    let mut body = String::new();
    if connections.is_empty() {
        body.push_str(
            "<p>No connection yet. Add one with <code>woocommerce-sync connection add</code>.</p>",
        );
    }
    for connection in &connections {
        match connection_panel(&state, &session, connection).await {
            Ok(panel) => body.push_str(&panel),
            Err(error) => return store_failure(error),
        }
    }
    page("Dashboard", &session.csrf_token, &body).into_response()
}

async fn connection_panel(
    state: &WebState,
    session: &Session,
    stored: &StoredConnection,
) -> Result<String, StoreError> {
    let store = &state.store;
    let linked = store.count_links(stored.id, "order", "Sales Order").await?;
    let failed = store.count_jobs(stored.id, JobState::Failed).await?;
    let queued = store.count_jobs(stored.id, JobState::Queued).await?
        + store.count_jobs(stored.id, JobState::Running).await?;
    let poll = last_poll(store, stored.id).await?;
    let hours = last_day(
        store
            .log_counts_by_hour(stored.id, Utc::now() - Duration::hours(24))
            .await?,
    );
    let name = &stored.connection.name;
    let poll_text = match poll {
        None => "<span class=\"muted\">not yet</span>".to_string(),
        Some(poll) if poll.succeeded => format!(
            "<span class=\"ok\">ok</span> at {} UTC: {} seen, {} created, {} updated, {} failed ({} ms)",
            poll.at.format("%Y-%m-%d %H:%M:%S"),
            poll.seen,
            poll.created,
            poll.updated,
            poll.failed,
            poll.duration_ms
        ),
        Some(poll) => format!(
            "<span class=\"failed\">failed</span> at {} UTC: {}",
            poll.at.format("%Y-%m-%d %H:%M:%S"),
            escape(poll.error.as_deref().unwrap_or(""))
        ),
    };
    Ok(format!(
        "<section><h2>{name_html}</h2>\
         <p>{store_url} → {erp_url}</p>\
         <table><tr><th>Orders linked to Sales Orders</th><td>{linked}</td></tr>\
         <tr><th>Jobs queued or running</th><td>{queued}</td></tr>\
         <tr><th>Failed jobs</th><td><a href=\"/log?connection={name_query}&amp;failed=on\" class=\"{failed_class}\">{failed}</a></td></tr>\
         <tr><th>Last poll</th><td>{poll_text}</td></tr></table>\
         <p>Syncs (green) and failures (red) per hour, last 24 hours:</p>{chart}\
         <p>{sync_now}</p></section>",
        name_html = escape(name),
        store_url = escape(stored.connection.woocommerce_url.as_str()),
        erp_url = escape(stored.connection.erpnext_url.as_str()),
        name_query = query_value(name),
        failed_class = if failed > 0 { "failed" } else { "ok" },
        chart = hourly_chart(&hours),
        sync_now = post_button(
            "/sync-now",
            "Sync now",
            &session.csrf_token,
            &[("connection", name.as_str())]
        ),
    ))
}

#[derive(Deserialize, Default)]
struct OrdersQuery {
    connection: Option<String>,
    /// A WooCommerce order id to open the timeline of.
    order: Option<String>,
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
    if let Some(order) = query
        .order
        .as_deref()
        .map(str::trim)
        .filter(|order| !order.is_empty())
    {
        let connection = query
            .connection
            .as_deref()
            .filter(|name| !name.is_empty())
            .or_else(|| {
                connections
                    .first()
                    .map(|connection| connection.connection.name.as_str())
            });
        if let Some(connection) = connection {
            return Redirect::to(&format!(
                "/orders/{}/{}",
                percent_encoding::utf8_percent_encode(
                    connection,
                    percent_encoding::NON_ALPHANUMERIC
                ),
                percent_encoding::utf8_percent_encode(order, percent_encoding::NON_ALPHANUMERIC)
            ))
            .into_response();
        }
    }
    let mut body = String::from(
        "<form method=\"get\" action=\"/orders\"><label>Connection <select name=\"connection\">",
    );
    for connection in &connections {
        let name = escape(&connection.connection.name);
        let _ = write!(body, "<option value=\"{name}\">{name}</option>");
    }
    body.push_str(
        "</select></label> <label>Order id <input name=\"order\" size=\"8\"></label> \
         <button type=\"submit\">Show timeline</button></form>",
    );
    for connection in connections.iter().filter(|connection| {
        query.connection.as_deref().map_or(true, |name| {
            name.is_empty() || name == connection.connection.name
        })
    }) {
        let links = match state
            .store
            .recent_links(connection.id, "order", "Sales Order", 100)
            .await
        {
            Ok(links) => links,
            Err(error) => return store_failure(error),
        };
        let name = &connection.connection.name;
        let _ = write!(
            body,
            "<h2>{}</h2><table><tr><th>WooCommerce order</th><th>Sales Order</th><th>Amount</th></tr>",
            escape(name)
        );
        if links.is_empty() {
            body.push_str("<tr><td colspan=\"3\" class=\"muted\">No order synced yet.</td></tr>");
        }
        for link in links {
            let sales_order = if link.erp_name.is_empty() {
                "<span class=\"muted\">being created</span>".to_string()
            } else {
                escape(&link.erp_name)
            };
            let _ = write!(
                body,
                "<tr><td><a href=\"/orders/{}/{}\">#{}</a></td><td>{sales_order}</td><td>{}</td></tr>",
                query_value(name),
                query_value(&link.woo_id),
                escape(&link.woo_id),
                link.amount.map(|amount| amount.to_string()).unwrap_or_default()
            );
        }
        body.push_str("</table>");
    }
    page("Orders", &session.csrf_token, &body).into_response()
}

async fn order_timeline(
    State(state): State<WebState>,
    session: Session,
    Path((connection_name, order)): Path<(String, String)>,
) -> Response {
    let connection = match state.store.connection(&connection_name).await {
        Ok(connection) => connection,
        Err(StoreError::NotFound(message)) => {
            return (
                StatusCode::NOT_FOUND,
                Html(format!("<p>{}</p>", escape(&message))),
            )
                .into_response()
        }
        Err(error) => return store_failure(error),
    };
    let links = match state
        .store
        .links_for_object(connection.id, "order", &order)
        .await
    {
        Ok(links) => links,
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
    let mut body = String::from("<h2>Linked ERPNext documents</h2><table>");
    if links.is_empty() {
        body.push_str("<tr><td class=\"muted\">None yet.</td></tr>");
    }
    for link in &links {
        let _ = write!(
            body,
            "<tr><th>{}</th><td>{}</td><td>{}</td></tr>",
            escape(&link.erp_doctype),
            escape(&link.erp_name),
            link.amount
                .map(|amount| amount.to_string())
                .unwrap_or_default()
        );
    }
    body.push_str("</table><h2>Timeline (oldest first, both directions)</h2>");
    body.push_str(&log_table(&records, &session, &connection_name, false));
    body.push_str(&post_button(
        "/retry",
        "Sync this order again",
        &session.csrf_token,
        &[
            ("connection", connection_name.as_str()),
            ("kind", Job::Order { order_id: 0 }.kind()),
            ("object_id", order.as_str()),
        ],
    ));
    page(
        &format!("Order #{order} ({connection_name})"),
        &session.csrf_token,
        &body,
    )
    .into_response()
}

fn log_table(
    records: &[LogRecord],
    session: &Session,
    connection_name: &str,
    with_retry: bool,
) -> String {
    let mut table = String::from(
        "<table><tr><th>When (UTC)</th><th>Direction</th><th>Object</th><th>Action</th><th>Outcome</th>\
         <th>Message</th><th>Attempt</th><th>ms</th>",
    );
    if with_retry {
        table.push_str("<th></th>");
    }
    table.push_str("</tr>");
    if records.is_empty() {
        table.push_str("<tr><td colspan=\"9\" class=\"muted\">No entries.</td></tr>");
    }
    for record in records {
        let entry = &record.entry;
        let shown = format!(
            "{} {}",
            escape(&entry.object_kind),
            escape(&entry.object_id)
        );
        let object = match &entry.order_id {
            Some(order) if entry.object_kind == "order" => format!(
                "<a href=\"/orders/{}/{}\">{shown}</a>",
                query_value(connection_name),
                query_value(order)
            ),
            Some(order) => format!(
                "{shown} of <a href=\"/orders/{}/{}\">order {}</a>",
                query_value(connection_name),
                query_value(order),
                escape(order)
            ),
            None => shown,
        };
        let _ = write!(
            table,
            "<tr><td>{}</td><td>{}</td><td>{object}</td><td>{}</td><td class=\"{}\">{}</td><td>{}</td><td>{}</td><td>{}</td>",
            record.at.format("%Y-%m-%d %H:%M:%S"),
            escape(&entry.direction.replace('_', " ")),
            escape(&entry.action),
            entry.outcome.as_str(),
            entry.outcome.as_str(),
            escape(&entry.message),
            entry.attempt,
            entry.duration_ms
        );
        // Failed attempts only: retrying what succeeded does nothing. A refund's (or a
        // document's) row retries the order it belongs to; a poll's, the poll.
        let job = match (&entry.order_id, entry.action.as_str()) {
            (Some(order), _) => order.parse().ok().map(|order_id| Job::Order { order_id }),
            (None, "poll_orders") => Some(Job::Poll),
            (None, _) => None,
        };
        if with_retry {
            let button = match &job {
                Some(job) if entry.outcome == crate::store::LogOutcome::Failed => post_button(
                    "/retry",
                    "Retry",
                    &session.csrf_token,
                    &[
                        ("connection", connection_name),
                        ("kind", job.kind()),
                        ("object_id", job.object_id().as_str()),
                    ],
                ),
                _ => String::new(),
            };
            let _ = write!(table, "<td>{button}</td>");
        }
        table.push_str("</tr>");
    }
    table.push_str("</table>");
    table
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
        Some(name) => match connections
            .iter()
            .find(|connection| connection.connection.name == name)
        {
            Some(connection) => Some(connection.id),
            None => {
                return (
                    StatusCode::NOT_FOUND,
                    Html(format!("<p>No connection is named {}.</p>", escape(name))),
                )
                    .into_response()
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
    let mut body = String::from("<form method=\"get\" action=\"/log\"><label>Connection <select name=\"connection\"><option value=\"\">all</option>");
    for connection in &connections {
        let name = &connection.connection.name;
        let _ = write!(
            body,
            "<option value=\"{}\"{}>{}</option>",
            escape(name),
            if selected == Some(name.as_str()) {
                " selected"
            } else {
                ""
            },
            escape(name)
        );
    }
    let _ = write!(
        body,
        "</select></label> <label><input type=\"checkbox\" name=\"failed\" value=\"on\"{}> failed only</label> \
         <label>Order id <input name=\"order\" value=\"{}\" size=\"8\"></label> <button type=\"submit\">Filter</button></form>",
        if failed_only { " checked" } else { "" },
        escape(order.unwrap_or(""))
    );
    // Rows of several connections: group by connection so each Retry names its own.
    let mut by_connection: Vec<(String, Vec<LogRecord>)> = Vec::new();
    for record in records {
        let name = names
            .get(&record.entry.connection_id)
            .cloned()
            .unwrap_or_default();
        match by_connection.last_mut() {
            Some((last, rows)) if *last == name => rows.push(record),
            _ => by_connection.push((name, vec![record])),
        }
    }
    if by_connection.is_empty() {
        body.push_str(&log_table(&[], &session, "", true));
    }
    for (name, rows) in &by_connection {
        let _ = write!(body, "<h2>{}</h2>", escape(name));
        body.push_str(&log_table(rows, &session, name, true));
    }
    page("Sync log", &session.csrf_token, &body).into_response()
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
            return (
                StatusCode::BAD_REQUEST,
                Html(format!(
                "<p>Nothing was queued: {}. Only orders and polls can be retried from here.</p>",
                escape(&reason)
            )),
            )
                .into_response()
        }
    };
    enqueue(&state, &form.connection, &job).await
}

#[derive(Deserialize)]
struct SyncNowForm {
    csrf: String,
    connection: String,
}

async fn sync_now(
    State(state): State<WebState>,
    session: Session,
    Form(form): Form<SyncNowForm>,
) -> Response {
    if !constant_time_eq(&form.csrf, &session.csrf_token) {
        return csrf_refused();
    }
    enqueue(&state, &form.connection, &Job::Poll).await
}

async fn enqueue(state: &WebState, connection_name: &str, job: &Job) -> Response {
    let connection = match state.store.connection(connection_name).await {
        Ok(connection) => connection,
        Err(StoreError::NotFound(message)) => {
            return (
                StatusCode::NOT_FOUND,
                Html(format!("<p>{}</p>", escape(&message))),
            )
                .into_response()
        }
        Err(error) => return store_failure(error),
    };
    if let Err(error) = crate::jobs::enqueue(&state.store, connection.id, job, Utc::now()).await {
        return store_failure(error);
    }
    tracing::info!(
        connection = connection_name,
        kind = job.kind(),
        object_id = %job.object_id(),
        "job queued from the web UI"
    );
    Redirect::to(&format!(
        "/log?connection={}",
        percent_encoding::utf8_percent_encode(connection_name, percent_encoding::NON_ALPHANUMERIC)
    ))
    .into_response()
}

async fn settings(State(state): State<WebState>, session: Session) -> Response {
    let connections = match state.store.connections().await {
        Ok(connections) => connections,
        Err(error) => return store_failure(error),
    };
    let mut body = String::from(
        "<p>Secrets are never shown. Change settings with <code>woocommerce-sync connection edit</code>.</p>",
    );
    for connection in &connections {
        let _ = write!(
            body,
            "<h2>{}</h2><table>",
            escape(&connection.connection.name)
        );
        let mut rows = Vec::new();
        flatten("", &masked_view(&connection.connection), &mut rows);
        for (key, value) in rows {
            let _ = write!(
                body,
                "<tr><th>{}</th><td>{}</td></tr>",
                escape(&key),
                escape(&value)
            );
        }
        body.push_str("</table>");
    }
    page("Settings", &session.csrf_token, &body).into_response()
}

fn flatten(prefix: &str, value: &serde_json::Value, rows: &mut Vec<(String, String)>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, inner) in map {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                flatten(&path, inner, rows);
            }
        }
        serde_json::Value::String(text) => rows.push((prefix.to_string(), text.clone())),
        other => rows.push((prefix.to_string(), other.to_string())),
    }
}
