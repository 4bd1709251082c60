//! A new connection in the browser: the two addresses and their keys → the service tests both
//! and reads what each has ([`explore`], the one call this module makes to the remotes) → the
//! proposed mappings, editable, with what is still missing and why → saved after `setup` ran
//! ([`set_up`]) → the first sync's progress, a page that reloads itself (no JavaScript).
//!
//! The checks are the CLI's ([`parse_site_url`], [`Connection::validate`]) told in the form's
//! words. Secrets are write-only: between the two steps they stay in the service's memory under
//! a random token bound to the session, never in the page.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use minijinja::context;

use super::auth::{constant_time_eq, Session};
use super::pages::{csrf_refused, encoded, store_failure, stored_connection};
use super::render::page;
use super::settings::{apply_form, in_form_words};
use super::WebState;
use crate::connection::{parse_site_url, Connection, Credentials, InvalidSetting, WOO_STATUSES};
use crate::jobs::{last_poll, Job};
use crate::store::{JobState, StoreError};
use crate::sync::discovery::{explore, Proposal};
use crate::sync::order_state::{count_by_state, failure_causes, order_states};
use crate::sync::setup::{set_up, SetupOptions};

/// How long a proposal waits for its "Save" before it is forgotten.
const DRAFT_LIFETIME: Duration = Duration::from_secs(30 * 60);

struct Draft {
    proposal: Proposal,
    public_url: url::Url,
    /// The session that made it: another session cannot save it.
    csrf: String,
    made: Instant,
}

/// What `setup` said when a connection was saved here, shown on its progress page.
#[derive(Clone, serde::Serialize)]
struct SetupSummary {
    done: Vec<String>,
    missing: Vec<String>,
}

/// Proposals between the two steps, and the setup outcome of connections saved here.
#[derive(Default)]
pub struct NewConnections {
    drafts: Mutex<HashMap<String, Draft>>,
    set_up: Mutex<HashMap<String, SetupSummary>>,
}

impl std::fmt::Debug for NewConnections {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Drafts hold credentials.
        formatter.write_str("NewConnections { .. }")
    }
}

impl NewConnections {
    fn keep(&self, draft: Draft) -> String {
        let token = crate::secrets::new_webhook_secret();
        let mut drafts = self.drafts.lock().unwrap_or_else(|e| e.into_inner());
        drafts.retain(|_, kept| kept.made.elapsed() < DRAFT_LIFETIME);
        drafts.insert(token.clone(), draft);
        token
    }

    fn take(&self, token: &str, csrf: &str) -> Option<Draft> {
        let mut drafts = self.drafts.lock().unwrap_or_else(|e| e.into_inner());
        let draft = drafts.remove(token)?;
        if draft.made.elapsed() >= DRAFT_LIFETIME || !constant_time_eq(&draft.csrf, csrf) {
            return None;
        }
        Some(draft)
    }

    fn put_back(&self, token: &str, draft: Draft) {
        let mut drafts = self.drafts.lock().unwrap_or_else(|e| e.into_inner());
        drafts.insert(token.to_string(), draft);
    }
}

/// Step one's fields, as typed (secrets are never sent back).
#[derive(Default, serde::Serialize)]
struct Typed {
    name: String,
    woocommerce_url: String,
    erpnext_url: String,
    company: String,
    public_url: String,
}

fn value<'a>(fields: &'a [(String, String)], name: &str) -> &'a str {
    fields
        .iter()
        .find(|(field, _)| field == name)
        .map(|(_, value)| value.trim())
        .unwrap_or("")
}

/// The address the two sites post their webhooks to: this service as the browser reached it.
pub(super) fn public_url_guess(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
        .unwrap_or("127.0.0.1:8080");
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|proto| proto.to_str().ok())
        .filter(|proto| *proto == "https")
        .unwrap_or("http");
    format!("{scheme}://{host}/")
}

pub async fn form(session: Session, headers: HeaderMap) -> Response {
    let typed = Typed {
        public_url: public_url_guess(&headers),
        ..Typed::default()
    };
    first_step(StatusCode::OK, &session, &typed, None)
}

fn first_step(
    status: StatusCode,
    session: &Session,
    typed: &Typed,
    problem: Option<&str>,
) -> Response {
    page(
        status,
        "new_connection.html",
        context! { title => "New connection", csrf => session.csrf_token, typed, problem },
    )
}

/// The draft from step one's fields, checked as `connection add` checks them.
fn draft_from(fields: &[(String, String)]) -> Result<(Connection, url::Url), InvalidSetting> {
    let woocommerce_url = parse_site_url("--woocommerce-url", value(fields, "woocommerce_url"))?;
    let erpnext_url = parse_site_url("--erpnext-url", value(fields, "erpnext_url"))?;
    let public_url = parse_site_url("public_url", value(fields, "public_url"))?;
    let credentials = Credentials {
        consumer_key: value(fields, "consumer_key").to_string(),
        consumer_secret: value(fields, "consumer_secret").to_string(),
        webhook_secret: crate::secrets::new_webhook_secret(),
        api_key: value(fields, "api_key").to_string(),
        api_secret: value(fields, "api_secret").to_string(),
    };
    let mut draft = Connection::with_defaults(
        value(fields, "name"),
        woocommerce_url,
        erpnext_url,
        credentials,
    );
    draft.company = value(fields, "company").to_string();
    draft.validate_identity()?;
    Ok((draft, public_url))
}

/// `POST /connections/new`: test both sides, read what they have, propose the mappings.
pub async fn explore_sites(
    State(state): State<WebState>,
    session: Session,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    if !constant_time_eq(value(&fields, "csrf"), &session.csrf_token) {
        return csrf_refused();
    }
    let typed = Typed {
        name: value(&fields, "name").to_string(),
        woocommerce_url: value(&fields, "woocommerce_url").to_string(),
        erpnext_url: value(&fields, "erpnext_url").to_string(),
        company: value(&fields, "company").to_string(),
        public_url: value(&fields, "public_url").to_string(),
    };
    let refuse = |problem: String| {
        first_step(
            StatusCode::BAD_REQUEST,
            &session,
            &typed,
            Some(&format!("Nothing was saved. {problem}")),
        )
    };
    let (draft, public_url) = match draft_from(&fields) {
        Ok(draft) => draft,
        Err(problem) => return refuse(in_form_words(&problem)),
    };
    match state.store.connection(&draft.name).await {
        Ok(_) => {
            return refuse(format!(
                "Connection name: a connection named `{}` exists already; pick another name, or change that one in its settings.",
                draft.name
            ))
        }
        Err(StoreError::NotFound(_)) => {}
        Err(error) => return store_failure(error),
    }
    let proposal = match explore(&draft, &state.calls).await {
        Ok(proposal) => proposal,
        Err(error) => {
            tracing::info!(connection = %draft.name, %error, "a new connection's test failed");
            return refuse(error.advice());
        }
    };
    let token = state.new_connections.keep(Draft {
        proposal,
        public_url,
        csrf: session.csrf_token.clone(),
        made: Instant::now(),
    });
    review_page(&state, StatusCode::OK, &session, &token, None)
}

fn review_page(
    state: &WebState,
    status: StatusCode,
    session: &Session,
    token: &str,
    problem: Option<&str>,
) -> Response {
    let drafts = state
        .new_connections
        .drafts
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let Some(draft) = drafts.get(token) else {
        return expired(session);
    };
    let proposal = &draft.proposal;
    let connection = &proposal.connection;
    let discovery = &proposal.discovery;
    let company = &connection.company;
    let accounts: Vec<&str> = discovery
        .accounts
        .iter()
        .filter(|account| &account.company == company)
        .map(|account| account.name.as_str())
        .collect();
    let tax_accounts: Vec<&str> = discovery
        .accounts
        .iter()
        .filter(|account| &account.company == company && account.account_type == "Tax")
        .map(|account| account.name.as_str())
        .collect();
    let warehouses: Vec<&str> = discovery
        .warehouses
        .iter()
        .filter(|warehouse| &warehouse.company == company)
        .map(|warehouse| warehouse.name.as_str())
        .collect();
    let companies: Vec<&str> = discovery
        .companies
        .iter()
        .map(|company| company.name.as_str())
        .collect();
    let tax_rows: Vec<minijinja::Value> = discovery
        .tax_rates
        .iter()
        .zip(&proposal.tax_rates)
        .map(|(rate, found)| {
            context! {
                id => rate.id, described => found.woocommerce, how => found.how,
                account => connection.mappings.tax_accounts.get(&rate.id).cloned().unwrap_or_default(),
            }
        })
        .collect();
    let payment_rows: Vec<minijinja::Value> = discovery
        .payment_gateways
        .iter()
        .filter(|gateway| gateway.enabled)
        .zip(&proposal.payment_gateways)
        .map(|(gateway, found)| {
            context! {
                id => gateway.id, described => found.woocommerce, how => found.how,
                mode => connection.mappings.payment_methods.get(&gateway.id).map(|t| t.mode_of_payment.clone()).unwrap_or_default(),
            }
        })
        .collect();
    let mut shown = connection.clone();
    shown.credentials = Credentials::default();
    page(
        status,
        "new_connection_review.html",
        context! {
            title => format!("New connection {}: check the mappings", connection.name),
            csrf => session.csrf_token, token, problem,
            c => shown, companies, warehouses, accounts, tax_accounts,
            price_lists => discovery.price_lists, modes => discovery.modes_of_payment,
            tax_rows, payment_rows,
            shipping_rows => proposal.shipping_methods, status_rows => proposal.order_statuses,
            statuses => WOO_STATUSES, missing => proposal.missing,
            public_url => draft.public_url.as_str(),
        },
    )
}

fn expired(session: &Session) -> Response {
    super::render::message(
        StatusCode::BAD_REQUEST,
        "Start again",
        "This new connection was not saved: its form is older than 30 minutes, was already used, or the service restarted. Enter the two sites again.",
        Some(&session.csrf_token),
    )
}

/// `POST /connections/new/save`: the reviewed mappings, checked, set up on both sides, saved;
/// then the first sync is queued.
pub async fn save(
    State(state): State<WebState>,
    session: Session,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    if !constant_time_eq(value(&fields, "csrf"), &session.csrf_token) {
        return csrf_refused();
    }
    let token = value(&fields, "token").to_string();
    let Some(mut draft) = state.new_connections.take(&token, &session.csrf_token) else {
        return expired(&session);
    };
    let mut connection = draft.proposal.connection.clone();
    let checked = apply_form(&mut connection, &fields).and_then(|()| connection.validate());
    if let Err(problem) = checked {
        // What was chosen stays chosen on the page shown again.
        draft.proposal.connection = connection;
        state.new_connections.put_back(&token, draft);
        let problem = format!("Nothing was saved. {}", in_form_words(&problem));
        return review_page(
            &state,
            StatusCode::BAD_REQUEST,
            &session,
            &token,
            Some(&problem),
        );
    }
    let options = SetupOptions {
        public_url: draft.public_url.clone(),
        update_webhook_secrets: false,
        // A shop selling in another currency needs a receivable in it; made rather than asked.
        create_receivable_accounts: true,
        calls: state.calls.clone(),
    };
    let outcome = match set_up(&connection, &options).await {
        Ok(outcome) => outcome,
        Err(error) => {
            tracing::warn!(connection = %connection.name, %error, "setup of a new connection failed");
            draft.proposal.connection = connection;
            state.new_connections.put_back(&token, draft);
            let problem = format!(
                "Nothing was saved: setting up the two sites did not finish ({error}). Check that the ERPNext user may create Custom Fields and Webhooks and the WooCommerce key has Read/Write permission, then save again."
            );
            return review_page(
                &state,
                StatusCode::BAD_GATEWAY,
                &session,
                &token,
                Some(&problem),
            );
        }
    };
    let name = outcome.connection.name.clone();
    if let Err(error) = state.store.insert_connection(&outcome.connection).await {
        return store_failure(error);
    }
    let stored = match state.store.connection(&name).await {
        Ok(stored) => stored,
        Err(error) => return store_failure(error),
    };
    if let Err(error) =
        crate::jobs::enqueue(&state.store, stored.id, &Job::Poll, chrono::Utc::now()).await
    {
        return store_failure(error);
    }
    let report = &outcome.report;
    let done: Vec<String> = report
        .created
        .iter()
        .map(|item| format!("created: {item}"))
        .chain(report.updated.iter().map(|item| format!("updated: {item}")))
        .chain(
            (!report.unchanged.is_empty())
                .then(|| format!("{} already in place", report.unchanged.len())),
        )
        .collect();
    state
        .new_connections
        .set_up
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(
            name.clone(),
            SetupSummary {
                done,
                missing: outcome.missing.clone(),
            },
        );
    tracing::info!(connection = %name, "connection added from the web UI; its first sync is queued");
    Redirect::to(&format!("/connections/{}/progress", encoded(&name))).into_response()
}

/// `GET /connections/{name}/progress`: the first sync as it goes; reloads itself until no job
/// of the connection is queued or running.
pub async fn progress(
    State(state): State<WebState>,
    session: Session,
    Path(name): Path<String>,
) -> Response {
    let stored = match stored_connection(&state, &session, &name).await {
        Ok(stored) => stored,
        Err(page) => return page,
    };
    let counts = async {
        let queued = state.store.count_jobs(stored.id, JobState::Queued).await?;
        let running = state.store.count_jobs(stored.id, JobState::Running).await?;
        let poll = last_poll(&state.store, stored.id).await?;
        let orders = order_states(&state.store, stored.id).await?;
        Ok::<_, StoreError>((queued, running, poll, orders))
    };
    let (queued, running, poll, orders) = match counts.await {
        Ok(found) => found,
        Err(error) => return store_failure(error),
    };
    let finished = queued + running == 0 && poll.is_some();
    let setup = state
        .new_connections
        .set_up
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&name)
        .cloned();
    let poll = poll.map(|poll| {
        context! {
            succeeded => poll.succeeded, seen => poll.seen, created => poll.created,
            updated => poll.updated, failed => poll.failed, error => poll.error,
        }
    });
    page(
        StatusCode::OK,
        "new_connection_progress.html",
        context! {
            title => format!("First sync of {name}"),
            csrf => session.csrf_token,
            refresh => (!finished).then_some(2),
            name, finished, queued, running, poll, setup,
            counts => count_by_state(&orders),
            causes => failure_causes(&orders),
        },
    )
}
