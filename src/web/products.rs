//! A connection's product links in the browser: the report of the last link run or check (what
//! `products link --dry-run` prints: matched, unmatched on each side, duplicate SKUs, non-stock
//! Items) and buttons that queue a check or a link run. Like every page, it reads the store and
//! queues jobs; the worker reads both sites ([`crate::jobs::Job::LinkProducts`]).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use minijinja::context;
use serde::Deserialize;
use serde_json::Value;

use super::auth::{constant_time_eq, Session};
use super::pages::{csrf_refused, encoded, store_failure, stored_connection};
use super::render::{message, page};
use super::WebState;
use crate::jobs::{enqueue, Job};
use crate::store::JobState;
use crate::sync::catalogue::flow::LinkRun;

/// Rows of each list a page shows (the command line's `--json` lists all).
const SHOWN: usize = 200;

/// At most [`SHOWN`] entries of a report's list, and how many more there are.
fn first_of(report: &Value, list: &str) -> (Vec<Value>, usize) {
    let all = report[list].as_array().cloned().unwrap_or_default();
    let more = all.len().saturating_sub(SHOWN);
    (all.into_iter().take(SHOWN).collect(), more)
}

/// `GET /settings/{connection}/products`.
pub async fn report(
    State(state): State<WebState>,
    session: Session,
    Path(name): Path<String>,
) -> Response {
    let stored = match stored_connection(&state, &session, &name).await {
        Ok(stored) => stored,
        Err(response) => return response,
    };
    let last = match LinkRun::last(&state.store, stored.id).await {
        Ok(last) => last,
        Err(error) => return store_failure(error),
    };
    let mut waiting = false;
    for job_state in [JobState::Queued, JobState::Running] {
        match state.store.jobs_in_state(stored.id, job_state).await {
            Ok(jobs) => {
                waiting |= jobs
                    .iter()
                    .any(|job| job.kind == Job::LinkProducts { link: false }.kind())
            }
            Err(error) => return store_failure(error),
        }
    }
    let report = last
        .as_ref()
        .and_then(|run| run.report.clone())
        .unwrap_or(Value::Null);
    let lists: Vec<(&str, (Vec<Value>, usize))> = [
        "matched",
        "unmatched_in_shop",
        "unmatched_in_erpnext",
        "duplicate_skus",
        "non_stock_items",
    ]
    .into_iter()
    .map(|list| (list, first_of(&report, list)))
    .collect();
    let count = |list: &str| report[list].as_array().map_or(0, Vec::len);
    page(
        StatusCode::OK,
        "products.html",
        context! {
            title => format!("Products of {}", stored.connection.name),
            csrf => session.csrf_token,
            name => stored.connection.name,
            run => last.as_ref().map(|run| context! {
                at => run.at.format("%Y-%m-%d %H:%M UTC").to_string(),
                dry_run => run.dry_run,
                error => run.error,
            }),
            has_report => !report.is_null(),
            counts => context! {
                matched => count("matched"),
                unmatched_in_shop => count("unmatched_in_shop"),
                unmatched_in_erpnext => count("unmatched_in_erpnext"),
                duplicate_skus => count("duplicate_skus"),
                non_stock_items => count("non_stock_items"),
            },
            lists => lists.into_iter().map(|(list, (rows, more))| (list, context! { rows, more })).collect::<std::collections::BTreeMap<_, _>>(),
            waiting,
        },
    )
}

#[derive(Deserialize)]
pub struct RunForm {
    csrf: String,
    /// `check` (changes nothing) or `link` (stores the links).
    run: String,
}

/// `POST /settings/{connection}/products`: queues a check or a link run, then shows the page.
pub async fn run(
    State(state): State<WebState>,
    session: Session,
    Path(name): Path<String>,
    Form(form): Form<RunForm>,
) -> Response {
    if !constant_time_eq(&form.csrf, &session.csrf_token) {
        return csrf_refused();
    }
    let stored = match stored_connection(&state, &session, &name).await {
        Ok(stored) => stored,
        Err(response) => return response,
    };
    let job = match form.run.as_str() {
        "check" => Job::LinkProducts { link: false },
        "link" => Job::LinkProducts { link: true },
        other => {
            return message(
                StatusCode::BAD_REQUEST,
                "Nothing was queued",
                &format!(
                    "Nothing was queued: `{other}` is neither a check nor a link run. Use the page's buttons."
                ),
                Some(&session.csrf_token),
            )
        }
    };
    if let Err(error) = enqueue(&state.store, stored.id, &job, chrono::Utc::now()).await {
        return store_failure(error);
    }
    tracing::info!(connection = %name, kind = job.kind(), object = %job.object_id(), "product link run queued from the web UI");
    Redirect::to(&format!("/settings/{}/products", encoded(&name))).into_response()
}
