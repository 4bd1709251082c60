//! A connection's settings in the browser. The form changes a copy of the stored connection,
//! which then goes through the same checks as `connection add`/`edit` ([`parse_site_url`],
//! [`Connection::validate`]); only the words differ: the problem is told with the form's label
//! instead of the command-line flag. Secrets are write-only: an empty secret field keeps the
//! stored value, and no page ever shows one.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Form;
use minijinja::context;
use rust_decimal::Decimal;

use super::auth::{constant_time_eq, Session};
use super::new_connection::public_url_guess;
use super::pages::{csrf_refused, store_failure, stored_connection};
use super::render::page;
use super::WebState;
use crate::connection::{
    parse_site_url, Connection, InvalidSetting, InvoiceTrigger, PaymentTarget, WOO_STATUSES,
};
use crate::sync::setup::{set_up, SetupOptions};

/// Validation names a setting by its command-line flag or mapping table; the form by its label.
const LABELS: &[(&str, &str)] = &[
    ("--name", "Connection name"),
    ("--woocommerce-url", "WooCommerce store address"),
    ("--erpnext-url", "ERPNext site address"),
    ("--consumer-key", "WooCommerce consumer key"),
    ("--consumer-secret", "WooCommerce consumer secret"),
    ("--api-key", "ERPNext API key"),
    ("--api-secret", "ERPNext API secret"),
    ("--webhook-secret", "Webhook secret"),
    ("--company", "Company"),
    ("--default-warehouse", "Warehouse"),
    ("--naming-series", "Sales Order naming series"),
    ("--customer-group", "Customer group"),
    ("--territory", "Territory"),
    ("--price-list", "Price list"),
    ("--item-group", "Item group for new items"),
    ("--stock-uom", "Unit of measure for new items"),
    ("--delivery-lead-days", "Days from order to delivery date"),
    ("--rounding-tolerance", "Rounding difference accepted"),
    ("--import-statuses", "Which orders are imported"),
    ("--tax-account", "Tax rates → ERPNext accounts"),
    ("--payment-method", "Payment methods → Modes of Payment"),
    ("public_url", "Address of this service"),
    ("--missing-sku", "Lines without a product"),
    ("status_from_woocommerce", "Status mapping from WooCommerce"),
    ("status_to_woocommerce", "Status mapping to WooCommerce"),
    ("receivable_accounts", "Receivable accounts per currency"),
];

/// The problem in the form's words.
pub fn in_form_words(problem: &InvalidSetting) -> String {
    let label = LABELS
        .iter()
        .find(|(field, _)| *field == problem.field)
        .map(|(_, label)| *label)
        .unwrap_or(problem.field.as_str());
    format!("{label}: {}", problem.problem)
}

const INVOICE_TRIGGERS: [(&str, &str); 4] = [
    ("paid", "when WooCommerce reports the order paid"),
    ("on-import", "as soon as the Sales Order is made"),
    ("on-completed", "when the order is completed"),
    ("never", "never (by hand in ERPNext)"),
];

pub async fn form(
    State(state): State<WebState>,
    session: Session,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Response {
    let connection = match stored_connection(&state, &session, &name).await {
        Ok(stored) => stored.connection,
        Err(page) => return page,
    };
    settings_page(StatusCode::OK, &session, &headers, &connection, None, None)
}

fn settings_page(
    status: StatusCode,
    session: &Session,
    headers: &HeaderMap,
    connection: &Connection,
    notice: Option<&str>,
    problem: Option<&str>,
) -> Response {
    let credentials = &connection.credentials;
    let secrets = context! {
        consumer_key => !credentials.consumer_key.is_empty(),
        consumer_secret => !credentials.consumer_secret.is_empty(),
        api_key => !credentials.api_key.is_empty(),
        api_secret => !credentials.api_secret.is_empty(),
        webhook_secret => !credentials.webhook_secret.is_empty(),
    };
    // Only what is not secret goes to the template.
    let mut shown = connection.clone();
    shown.credentials = Default::default();
    let mut tax_rows: Vec<(String, String)> = connection
        .mappings
        .tax_accounts
        .iter()
        .map(|(rate, account)| (rate.to_string(), account.clone()))
        .collect();
    tax_rows.extend((0..3).map(|_| (String::new(), String::new())));
    let mut payment_rows: Vec<(String, PaymentTarget)> = connection
        .mappings
        .payment_methods
        .iter()
        .map(|(gateway, target)| (gateway.clone(), target.clone()))
        .collect();
    payment_rows.extend((0..2).map(|_| {
        (
            String::new(),
            PaymentTarget {
                mode_of_payment: String::new(),
                account: None,
                fee_account: None,
            },
        )
    }));
    page(
        status,
        "connection_settings.html",
        context! {
            title => format!("Settings of {}", connection.name),
            csrf => session.csrf_token,
            c => shown, secrets, tax_rows, payment_rows,
            statuses => WOO_STATUSES, invoice_triggers => INVOICE_TRIGGERS,
            notice, problem, public_url => public_url_guess(headers),
        },
    )
}

pub async fn save(
    State(state): State<WebState>,
    session: Session,
    headers: HeaderMap,
    Path(name): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let csrf = value(&fields, "csrf").unwrap_or_default();
    if !constant_time_eq(csrf, &session.csrf_token) {
        return csrf_refused();
    }
    let stored = match stored_connection(&state, &session, &name).await {
        Ok(stored) => stored.connection,
        Err(page) => return page,
    };
    let mut changed = stored.clone();
    let checked = apply_form(&mut changed, &fields).and_then(|()| changed.validate());
    if let Err(problem) = checked {
        // The form shows what was typed, so nothing is lost; the stored settings are unchanged.
        return settings_page(
            StatusCode::BAD_REQUEST,
            &session,
            &headers,
            &changed,
            None,
            Some(&format!("Nothing was saved. {}", in_form_words(&problem))),
        );
    }
    if let Err(error) = state.store.update_connection(&changed).await {
        return store_failure(error);
    }
    tracing::info!(connection = %name, "connection settings saved from the web UI");
    settings_page(
        StatusCode::OK,
        &session,
        &headers,
        &changed,
        Some("Saved. Orders that failed because of a setting can be retried from the dashboard."),
        None,
    )
}

/// `POST /settings/{connection}/setup`: installs again what setup installs on both sites, and
/// gives both sites' webhooks the connection's current secret (after it was set or changed).
pub async fn set_up_again(
    State(state): State<WebState>,
    session: Session,
    headers: HeaderMap,
    Path(name): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    if !constant_time_eq(
        value(&fields, "csrf").unwrap_or_default(),
        &session.csrf_token,
    ) {
        return csrf_refused();
    }
    let stored = match stored_connection(&state, &session, &name).await {
        Ok(stored) => stored.connection,
        Err(page) => return page,
    };
    let page_with = |status, notice: Option<&str>, problem: Option<&str>| {
        settings_page(status, &session, &headers, &stored, notice, problem)
    };
    let public_url = match parse_site_url(
        "public_url",
        value(&fields, "public_url").unwrap_or_default(),
    ) {
        Ok(url) => url,
        Err(problem) => {
            return page_with(
                StatusCode::BAD_REQUEST,
                None,
                Some(&format!("Nothing was set up. {}", in_form_words(&problem))),
            )
        }
    };
    let options = SetupOptions {
        public_url,
        update_webhook_secrets: true,
        create_receivable_accounts: true,
        calls: state.calls.clone(),
    };
    let outcome = match set_up(&stored, &options).await {
        Ok(outcome) => outcome,
        Err(error) => {
            tracing::warn!(connection = %name, %error, "setup from the web UI failed");
            return page_with(
                StatusCode::BAD_GATEWAY,
                None,
                Some(&format!(
                    "Setting up the two sites did not finish ({error}). Check that both sites are up, the ERPNext user may create Custom Fields and Webhooks and the WooCommerce key has Read/Write permission, then try again."
                )),
            );
        }
    };
    if outcome.connection != stored {
        if let Err(error) = state.store.update_connection(&outcome.connection).await {
            return store_failure(error);
        }
    }
    let report = &outcome.report;
    let mut notice = format!(
        "Both sites were set up again: {} created, {} updated, {} already in place; their webhooks sign with the connection's secret.",
        report.created.len(),
        report.updated.len(),
        report.unchanged.len()
    );
    if !outcome.missing.is_empty() {
        notice.push_str(" Still missing: ");
        notice.push_str(&outcome.missing.join("; "));
    }
    tracing::info!(connection = %name, "both sites set up again from the web UI");
    settings_page(
        StatusCode::OK,
        &session,
        &headers,
        &outcome.connection,
        Some(&notice),
        None,
    )
}

fn value<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(field, _)| field == name)
        .map(|(_, value)| value.as_str())
}

fn values<'a>(fields: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    fields
        .iter()
        .filter(|(field, _)| field == name)
        .map(|(_, value)| value.as_str())
        .collect()
}

fn invalid(field: &str, problem: impl Into<String>) -> InvalidSetting {
    InvalidSetting {
        field: field.to_string(),
        problem: problem.into(),
    }
}

/// Applies the posted form to `connection`. Fields absent from the form are left alone.
pub fn apply_form(
    connection: &mut Connection,
    fields: &[(String, String)],
) -> Result<(), InvalidSetting> {
    if let Some(url) = value(fields, "woocommerce_url") {
        connection.woocommerce_url = parse_site_url("--woocommerce-url", url)?;
    }
    if let Some(url) = value(fields, "erpnext_url") {
        connection.erpnext_url = parse_site_url("--erpnext-url", url)?;
    }
    let credentials = &mut connection.credentials;
    for (name, target) in [
        ("consumer_key", &mut credentials.consumer_key),
        ("consumer_secret", &mut credentials.consumer_secret),
        ("api_key", &mut credentials.api_key),
        ("api_secret", &mut credentials.api_secret),
        ("webhook_secret", &mut credentials.webhook_secret),
    ] {
        // Write-only: empty keeps the stored secret.
        if let Some(secret) = value(fields, name).filter(|secret| !secret.is_empty()) {
            *target = secret.to_string();
        }
    }
    for (name, target) in [
        ("company", &mut connection.company),
        ("default_warehouse", &mut connection.default_warehouse),
        ("naming_series", &mut connection.naming_series),
        ("customer_group", &mut connection.customer_group),
        ("territory", &mut connection.territory),
        ("price_list", &mut connection.price_list),
        ("item_group", &mut connection.item_group),
        ("stock_uom", &mut connection.stock_uom),
    ] {
        if let Some(text) = value(fields, name) {
            *target = text.trim().to_string();
        }
    }
    for (name, target) in [
        ("default_tax_account", &mut connection.default_tax_account),
        ("shipping_account", &mut connection.shipping_account),
        ("fee_account", &mut connection.fee_account),
        ("rounding_account", &mut connection.rounding_account),
    ] {
        if let Some(text) = value(fields, name) {
            *target = Some(text.trim().to_string()).filter(|text| !text.is_empty());
        }
    }
    if let Some(days) = value(fields, "delivery_lead_days") {
        connection.delivery_lead_days = days.trim().parse().map_err(|_| {
            invalid(
                "--delivery-lead-days",
                format!("`{days}` is not a number of days; write a whole number from 0 to 365"),
            )
        })?;
    }
    if let Some(tolerance) = value(fields, "rounding_tolerance") {
        connection.rounding_tolerance = tolerance.trim().parse::<Decimal>().map_err(|_| {
            invalid(
                "--rounding-tolerance",
                format!("`{tolerance}` is not an amount; write it like 0.01"),
            )
        })?;
    }
    if let Some(trigger) = value(fields, "invoice_trigger") {
        connection.invoice_trigger = match trigger {
            "paid" => InvoiceTrigger::Paid,
            "on-import" => InvoiceTrigger::OnImport,
            "on-completed" => InvoiceTrigger::OnCompleted,
            "never" => InvoiceTrigger::Never,
            other => {
                return Err(invalid(
                    "invoice_trigger",
                    format!("`{other}` is not one of the choices"),
                ))
            }
        };
    }
    // A submitted settings form carries its checkboxes only when ticked.
    if value(fields, "invoice_trigger").is_some() {
        connection.submit_invoices = value(fields, "submit_invoices").is_some();
        connection.record_payments = value(fields, "record_payments").is_some();
        connection.auto_create_items = value(fields, "auto_create_items").is_some();
        connection.imported_statuses = values(fields, "imported_status")
            .into_iter()
            .map(str::to_string)
            .collect();
    }
    let (rates, accounts) = (values(fields, "tax_rate"), values(fields, "tax_account"));
    if !rates.is_empty() {
        let mut mapped = std::collections::BTreeMap::new();
        for (rate, account) in rates.iter().zip(accounts.iter()) {
            let (rate, account) = (rate.trim(), account.trim());
            if rate.is_empty() && account.is_empty() {
                continue;
            }
            let id: u64 = rate.parse().map_err(|_| {
                invalid(
                    "--tax-account",
                    format!("`{rate}` is not a WooCommerce tax rate id (a number, as in WooCommerce → Settings → Tax)"),
                )
            })?;
            if !account.is_empty() {
                mapped.insert(id, account.to_string());
            }
        }
        connection.mappings.tax_accounts = mapped;
    }
    let gateways = values(fields, "payment_method");
    if !gateways.is_empty() {
        let (modes, accounts) = (
            values(fields, "payment_mode"),
            values(fields, "payment_account"),
        );
        let mut mapped = std::collections::BTreeMap::new();
        for (index, gateway) in gateways.iter().enumerate() {
            let gateway = gateway.trim();
            let mode = modes.get(index).map(|m| m.trim()).unwrap_or("");
            let account = accounts.get(index).map(|a| a.trim()).unwrap_or("");
            // A row without a Mode of Payment maps nothing (emptying it removes a mapping).
            if mode.is_empty() {
                continue;
            }
            if gateway.is_empty() {
                return Err(invalid(
                    "--payment-method",
                    "each row with a Mode of Payment needs the WooCommerce payment method",
                ));
            }
            mapped.insert(
                gateway.to_string(),
                PaymentTarget {
                    mode_of_payment: mode.to_string(),
                    account: Some(account.to_string()).filter(|a| !a.is_empty()),
                    // Not on this form yet: the fee account set in the mappings file stays.
                    fee_account: connection
                        .mappings
                        .payment_methods
                        .get(gateway)
                        .and_then(|target| target.fee_account.clone()),
                },
            );
        }
        connection.mappings.payment_methods = mapped;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_are_told_with_the_forms_labels() {
        let problem = invalid("--company", "is missing; give it a value");
        assert_eq!(
            in_form_words(&problem),
            "Company: is missing; give it a value"
        );
        assert!(LABELS.iter().all(|(_, label)| !label.starts_with("--")));
    }
}
