//! The one HTTP wrapper for ERPNext. Idempotent calls (reads, PUT, DELETE,
//! the mapping methods) are retried under the shared [`RetryPolicy`]; inserts
//! are not, because a lost answer may hide a committed document: the caller
//! looks its unique key up again before creating anything twice.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use rand::Rng;
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use url::Url;

use crate::erpnext::error::ErpError;
use crate::remote::{parse_retry_after, CallKindStats, CallTally, ConcurrencyLimit, RetryPolicy};

/// Characters left as they are in a path segment; everything else (spaces,
/// `/`, `%`, `#`…) is percent-encoded, so `Sales Order` becomes `Sales%20Order`.
/// Attempts at a call that the database rolled back (a deadlock victim), whatever the retry
/// policy says: these are safe to repeat and pass in milliseconds.
const ROLLED_BACK_ATTEMPTS: u32 = 5;

const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// How to reach one ERPNext site.
#[derive(Clone)]
pub struct ErpConfig {
    /// The site URL, e.g. `https://erp.example.com`.
    pub base_url: Url,
    /// API key of the integration user (User → API Access).
    pub api_key: String,
    /// API secret of that user; never printed.
    pub api_secret: String,
    /// Per-request timeout.
    pub timeout: Duration,
    pub retry: RetryPolicy,
    /// Calls in flight at once to this site (a small site serves ~2 in parallel).
    pub max_in_flight: usize,
}

impl fmt::Debug for ErpConfig {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("ErpConfig")
            .field("base_url", &self.base_url.as_str())
            .field("api_key", &self.api_key)
            .field("api_secret", &"********")
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .field("max_in_flight", &self.max_in_flight)
            .finish()
    }
}

impl ErpConfig {
    /// A config with the usual timeout (30 s), retries and 4 calls in flight.
    pub fn new(base_url: Url, api_key: impl Into<String>, api_secret: impl Into<String>) -> Self {
        ErpConfig {
            base_url,
            api_key: api_key.into(),
            api_secret: api_secret.into(),
            timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            max_in_flight: 4,
        }
    }
}

/// A list query for `GET /api/resource/<DocType>`.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// Columns; empty means ERPNext's default (`name` only).
    pub fields: Vec<String>,
    /// `[[field, op, value], …]` or `[[child_doctype, field, op, value], …]`, ANDed.
    pub filters: Vec<Value>,
    /// Same forms, ORed.
    pub or_filters: Vec<Value>,
    pub limit_start: Option<u64>,
    /// `Some(0)` asks for all rows; `None` leaves ERPNext's default of 20.
    pub limit_page_length: Option<u64>,
    /// e.g. `creation desc`.
    pub order_by: Option<String>,
}

impl ListQuery {
    pub fn fields(mut self, fields: &[&str]) -> Self {
        self.fields = fields.iter().map(|field| field.to_string()).collect();
        self
    }

    /// Adds `[field, op, value]` to the ANDed filters.
    pub fn filter(mut self, field: &str, operator: &str, value: impl Into<Value>) -> Self {
        self.filters.push(json!([field, operator, value.into()]));
        self
    }

    /// Adds `[child_doctype, field, op, value]` to the ANDed filters: documents with a row of
    /// that child table matching.
    pub fn child_filter(
        mut self,
        child_doctype: &str,
        field: &str,
        operator: &str,
        value: impl Into<Value>,
    ) -> Self {
        self.filters
            .push(json!([child_doctype, field, operator, value.into()]));
        self
    }

    /// Adds `[field, op, value]` to the ORed filters.
    pub fn or_filter(mut self, field: &str, operator: &str, value: impl Into<Value>) -> Self {
        self.or_filters.push(json!([field, operator, value.into()]));
        self
    }

    pub fn page(mut self, start: u64, length: u64) -> Self {
        self.limit_start = Some(start);
        self.limit_page_length = Some(length);
        self
    }

    pub fn all_rows(mut self) -> Self {
        self.limit_page_length = Some(0);
        self
    }

    pub fn order_by(mut self, order_by: &str) -> Self {
        self.order_by = Some(order_by.to_string());
        self
    }

    fn to_query_pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::new();
        if !self.fields.is_empty() {
            pairs.push(("fields", Value::from(self.fields.clone()).to_string()));
        }
        if !self.filters.is_empty() {
            pairs.push(("filters", Value::Array(self.filters.clone()).to_string()));
        }
        if !self.or_filters.is_empty() {
            pairs.push((
                "or_filters",
                Value::Array(self.or_filters.clone()).to_string(),
            ));
        }
        if let Some(start) = self.limit_start {
            pairs.push(("limit_start", start.to_string()));
        }
        if let Some(length) = self.limit_page_length {
            pairs.push(("limit_page_length", length.to_string()));
        }
        if let Some(order_by) = &self.order_by {
            pairs.push(("order_by", order_by.clone()));
        }
        pairs
    }
}

/// gunicorn, which serves ERPNext, refuses a request line (`GET <url> HTTP/1.1`) longer than
/// 4094 bytes with `400 Bad Request` (an HTML page) before Frappe sees it. A list query carries
/// its filters in the URL, so a long `in` list must be asked in parts: [`in_filter_groups`].
pub const MAX_REQUEST_LINE: usize = 4094;

/// The URL bytes an `in` filter's values may take in one list query: the rest of the request line
/// (path, fields, other filters, paging) stays well under a thousand bytes.
pub const IN_FILTER_BUDGET: usize = 3000;

/// Splits `items` into groups whose `in`-filter values take at most `budget` URL bytes each
/// (`size` says what one item's values take, see [`url_encoded_len`]); an item bigger than the
/// budget gets a group of its own. Order is kept.
pub fn in_filter_groups<T>(
    items: Vec<T>,
    budget: usize,
    size: impl Fn(&T) -> usize,
) -> Vec<Vec<T>> {
    let mut groups: Vec<Vec<T>> = Vec::new();
    let mut used = 0;
    for item in items {
        let item_size = size(&item);
        match groups.last_mut() {
            Some(group) if used + item_size <= budget => group.push(item),
            _ => {
                groups.push(vec![item]);
                used = 0;
            }
        }
        used += item_size;
    }
    groups
}

/// The bytes one string value of a list filter takes in the URL: JSON-quoted, then
/// form-urlencoded as the client sends query strings, with the comma that separates it.
pub fn url_encoded_len(value: &str) -> usize {
    let json = Value::from(value).to_string();
    let encoded: usize = json
        .bytes()
        .map(|byte| {
            if byte.is_ascii_alphanumeric() || b"*-._ ".contains(&byte) {
                1
            } else {
                3
            }
        })
        .sum();
    encoded + 3
}

/// Whether a call may be repeated after an uncertain failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Repeat {
    Safe,
    Never,
}

/// A client for one ERPNext site. Cheap to clone; clones share the connection
/// pool and the in-flight limit.
#[derive(Clone)]
pub struct ErpClient {
    http: reqwest::Client,
    base_url: Url,
    authorization: String,
    retry: RetryPolicy,
    limit: ConcurrencyLimit,
    tally: CallTally,
}

impl fmt::Debug for ErpClient {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("ErpClient")
            .field("base_url", &self.base_url.as_str())
            .finish_non_exhaustive()
    }
}

impl ErpClient {
    pub fn new(config: ErpConfig) -> Result<ErpClient, ErpError> {
        if config.api_key.trim().is_empty() || config.api_secret.trim().is_empty() {
            return Err(ErpError::InvalidRequest(
                "the ERPNext API key and secret must both be set (User → API Access → Generate Keys)"
                    .to_string(),
            ));
        }
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|error| {
                ErpError::InvalidRequest(format!("could not build the HTTP client: {error}"))
            })?;
        let mut base_url = config.base_url;
        if !base_url.path().ends_with('/') {
            let path = format!("{}/", base_url.path());
            base_url.set_path(&path);
        }
        Ok(ErpClient {
            http,
            base_url,
            authorization: format!("token {}:{}", config.api_key, config.api_secret),
            retry: config.retry,
            limit: ConcurrencyLimit::new(config.max_in_flight),
            tally: CallTally::default(),
        })
    }

    /// HTTP requests this client (and its clones) have sent, retries included.
    pub fn calls_made(&self) -> u64 {
        self.limit.calls()
    }

    /// Time spent in those requests, summed over calls (see [`ConcurrencyLimit::time_in_calls`]).
    pub fn time_in_calls(&self) -> std::time::Duration {
        self.limit.time_in_calls()
    }

    /// The calls made so far per kind (`insert Sales Order`, `list Item`, `method get_count`…),
    /// with their failures and time, for `bench`.
    pub fn calls_by_kind(&self) -> std::collections::BTreeMap<String, CallKindStats> {
        self.tally.snapshot()
    }

    /// What [`ErpClient::calls_by_kind`] gained since `before`.
    pub fn calls_by_kind_since(
        &self,
        before: &std::collections::BTreeMap<String, CallKindStats>,
    ) -> std::collections::BTreeMap<String, CallKindStats> {
        self.tally.since(before)
    }

    pub fn base_url(&self) -> &Url {
        &self.base_url
    }

    /// The user the credentials belong to: a cheap credentials check.
    pub async fn logged_user(&self) -> Result<String, ErpError> {
        let message = self
            .method_get("frappe.auth.get_logged_user", &[], "the credentials check")
            .await?;
        message
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| unexpected("the credentials check", "the user name was not a string"))
    }

    /// One document, typed.
    pub async fn get<T: DeserializeOwned>(&self, doctype: &str, name: &str) -> Result<T, ErpError> {
        let value = self.get_document(doctype, name).await?;
        serde_json::from_value(value)
            .map_err(|error| unexpected(doctype, format!("{doctype} {name}: {error}")))
    }

    /// One document as JSON.
    pub async fn get_document(&self, doctype: &str, name: &str) -> Result<Value, ErpError> {
        let url = self.resource_url(doctype, Some(name))?;
        let text = self
            .send(Method::GET, url, None, doctype, Repeat::Safe)
            .await?;
        take_envelope(parse(&text, doctype)?, "data", doctype)
    }

    /// One document, or `None` when it does not exist.
    pub async fn get_optional<T: DeserializeOwned>(
        &self,
        doctype: &str,
        name: &str,
    ) -> Result<Option<T>, ErpError> {
        match self.get(doctype, name).await {
            Ok(document) => Ok(Some(document)),
            Err(error) if error.is_not_found() => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Rows of a list query, typed (use `serde_json::Value` for free-form rows).
    pub async fn list<T: DeserializeOwned>(
        &self,
        doctype: &str,
        query: &ListQuery,
    ) -> Result<Vec<T>, ErpError> {
        let mut url = self.resource_url(doctype, None)?;
        {
            let mut pairs = url.query_pairs_mut();
            for (key, value) in query.to_query_pairs() {
                pairs.append_pair(key, &value);
            }
        }
        let text = self
            .send(Method::GET, url, None, doctype, Repeat::Safe)
            .await?;
        parse::<Data<Vec<T>>>(&text, doctype).map(|answer| answer.data)
    }

    /// Inserts a document (with `"docstatus": 1` it is submitted in the same call)
    /// and reads what of the answer `T` names (a `Value` for all of it).
    /// Not retried: after a transport error, look the document up by its key.
    pub async fn insert<T: DeserializeOwned>(
        &self,
        doctype: &str,
        document: &impl Serialize,
    ) -> Result<T, ErpError> {
        let url = self.resource_url(doctype, None)?;
        let body = serde_json::to_string(document).map_err(|error| {
            ErpError::InvalidRequest(format!("cannot encode the {doctype}: {error}"))
        })?;
        let text = self
            .send(Method::POST, url, Some(&body), doctype, Repeat::Never)
            .await?;
        parse::<Data<T>>(&text, doctype).map(|answer| answer.data)
    }

    /// Changes the given fields of a document (`PUT`, partial body).
    pub async fn update(
        &self,
        doctype: &str,
        name: &str,
        changes: &Value,
    ) -> Result<Value, ErpError> {
        let url = self.resource_url(doctype, Some(name))?;
        let text = self
            .send(
                Method::PUT,
                url,
                Some(&changes.to_string()),
                doctype,
                Repeat::Safe,
            )
            .await?;
        take_envelope(parse(&text, doctype)?, "data", doctype)
    }

    /// Deletes a draft (submitted documents must be cancelled first). Retried
    /// after lost answers, so a caller may meet `is_not_found()` for a document
    /// the first attempt already deleted.
    pub async fn delete(&self, doctype: &str, name: &str) -> Result<(), ErpError> {
        let url = self.resource_url(doctype, Some(name))?;
        self.send(Method::DELETE, url, None, doctype, Repeat::Safe)
            .await?;
        Ok(())
    }

    /// Submits a draft with `PUT {"docstatus": 1}`: unlike `frappe.client.submit`
    /// it needs no `modified`, and submitting a submitted document is a no-op.
    pub async fn submit(&self, doctype: &str, name: &str) -> Result<Value, ErpError> {
        self.update(doctype, name, &json!({"docstatus": 1})).await
    }

    /// Cancels a submitted document (`frappe.client.cancel`). Not retried: a
    /// second cancel fails with "Cannot edit cancelled document".
    pub async fn cancel(&self, doctype: &str, name: &str) -> Result<Value, ErpError> {
        let subject = format!("cancelling {doctype} {name}");
        self.method_post(
            "frappe.client.cancel",
            &json!({"doctype": doctype, "name": name}),
            &subject,
            Repeat::Never,
        )
        .await
    }

    /// The first matching row's `fieldnames`, or `None` (ERPNext answers `{}`).
    pub async fn get_value(
        &self,
        doctype: &str,
        filters: &Value,
        fieldnames: &[&str],
    ) -> Result<Option<serde_json::Map<String, Value>>, ErpError> {
        let fieldname = Value::from(fieldnames.iter().map(|f| f.to_string()).collect::<Vec<_>>());
        let message = self
            .method_get(
                "frappe.client.get_value",
                &[
                    ("doctype", doctype.to_string()),
                    ("filters", filters.to_string()),
                    ("fieldname", fieldname.to_string()),
                ],
                doctype,
            )
            .await?;
        match message {
            Value::Object(row) if row.is_empty() => Ok(None),
            Value::Object(row) => Ok(Some(row)),
            Value::Null => Ok(None),
            other => Err(unexpected(doctype, format!("get_value answered {other}"))),
        }
    }

    /// How many documents match `filters` (list or object form).
    pub async fn get_count(&self, doctype: &str, filters: &Value) -> Result<u64, ErpError> {
        let message = self
            .method_get(
                "frappe.client.get_count",
                &[
                    ("doctype", doctype.to_string()),
                    ("filters", filters.to_string()),
                ],
                doctype,
            )
            .await?;
        message
            .as_u64()
            .ok_or_else(|| unexpected(doctype, format!("get_count answered {message}")))
    }

    /// An unsaved Sales Invoice mapped from a submitted Sales Order.
    pub async fn make_sales_invoice<T: DeserializeOwned>(
        &self,
        sales_order: &str,
    ) -> Result<T, ErpError> {
        self.method_post_typed(
            "erpnext.selling.doctype.sales_order.sales_order.make_sales_invoice",
            &json!({"source_name": sales_order}),
            &format!("make_sales_invoice from {sales_order}"),
        )
        .await
    }

    /// An unsaved Payment Entry for the outstanding amount of `doctype` `name`.
    pub async fn get_payment_entry<T: DeserializeOwned>(
        &self,
        doctype: &str,
        name: &str,
    ) -> Result<T, ErpError> {
        self.method_post_typed(
            "erpnext.accounts.doctype.payment_entry.payment_entry.get_payment_entry",
            &json!({"dt": doctype, "dn": name}),
            &format!("get_payment_entry for {doctype} {name}"),
        )
        .await
    }

    /// An unsaved credit note (Sales Invoice with `is_return: 1`) against `sales_invoice`.
    pub async fn make_sales_return(&self, sales_invoice: &str) -> Result<Value, ErpError> {
        self.method_post(
            "erpnext.accounts.doctype.sales_invoice.sales_invoice.make_sales_return",
            &json!({"source_name": sales_invoice}),
            &format!("make_sales_return against {sales_invoice}"),
            Repeat::Safe,
        )
        .await
    }

    /// Closes a submitted Sales Order (what is not delivered or billed yet is
    /// dropped); used when an invoiced order is cancelled in the shop.
    pub async fn close_sales_order(&self, name: &str) -> Result<(), ErpError> {
        self.method_post(
            "erpnext.selling.doctype.sales_order.sales_order.update_status",
            &json!({"status": "Closed", "name": name}),
            &format!("closing Sales Order {name}"),
            Repeat::Safe,
        )
        .await
        .map(|_| ())
    }

    /// The site's time zone (System Settings); naive ERPNext datetimes are in it.
    pub async fn site_time_zone(&self) -> Result<Tz, ErpError> {
        let settings = self
            .get_document("System Settings", "System Settings")
            .await?;
        let name = settings
            .get("time_zone")
            .and_then(Value::as_str)
            .unwrap_or("UTC");
        name.parse::<Tz>().map_err(|_| {
            unexpected(
                "System Settings",
                format!("the site time zone `{name}` is not a known IANA zone"),
            )
        })
    }

    /// Calls any whitelisted method with a JSON body (not retried).
    pub async fn call_method(&self, method: &str, arguments: &Value) -> Result<Value, ErpError> {
        self.method_post(method, arguments, method, Repeat::Never)
            .await
    }

    async fn method_get(
        &self,
        method: &str,
        query: &[(&str, String)],
        subject: &str,
    ) -> Result<Value, ErpError> {
        let mut url = self.method_url(method)?;
        if !query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (key, value) in query {
                pairs.append_pair(key, value);
            }
        }
        let text = self
            .send(Method::GET, url, None, subject, Repeat::Safe)
            .await?;
        take_envelope(parse(&text, subject)?, "message", subject)
    }

    async fn method_post(
        &self,
        method: &str,
        arguments: &Value,
        subject: &str,
        repeat: Repeat,
    ) -> Result<Value, ErpError> {
        let text = self.post_method(method, arguments, subject, repeat).await?;
        take_envelope(parse(&text, subject)?, "message", subject)
    }

    /// A method whose answer the caller reads as `T` (a mapped document): safe to repeat.
    async fn method_post_typed<T: DeserializeOwned>(
        &self,
        method: &str,
        arguments: &Value,
        subject: &str,
    ) -> Result<T, ErpError> {
        let text = self
            .post_method(method, arguments, subject, Repeat::Safe)
            .await?;
        parse::<Message<T>>(&text, subject).map(|answer| answer.message)
    }

    /// `POST /api/method/{method}` with its arguments; the answer's bytes.
    async fn post_method(
        &self,
        method: &str,
        arguments: &Value,
        subject: &str,
        repeat: Repeat,
    ) -> Result<Vec<u8>, ErpError> {
        let url = self.method_url(method)?;
        self.send(
            Method::POST,
            url,
            Some(&arguments.to_string()),
            subject,
            repeat,
        )
        .await
    }

    fn resource_url(&self, doctype: &str, name: Option<&str>) -> Result<Url, ErpError> {
        let mut path = format!("api/resource/{}", encode_segment(doctype));
        if let Some(name) = name {
            path.push('/');
            path.push_str(&encode_segment(name));
        }
        self.join(&path)
    }

    fn method_url(&self, method: &str) -> Result<Url, ErpError> {
        self.join(&format!("api/method/{}", encode_segment(method)))
    }

    fn join(&self, path: &str) -> Result<Url, ErpError> {
        self.base_url.join(path).map_err(|error| {
            ErpError::InvalidRequest(format!("cannot build an ERPNext URL for {path}: {error}"))
        })
    }

    /// Sends one call, retrying it when `repeat` allows and the error is retryable.
    async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<&str>,
        subject: &str,
        repeat: Repeat,
    ) -> Result<Vec<u8>, ErpError> {
        let mut attempt = 1;
        loop {
            let outcome = self
                .send_once(method.clone(), url.clone(), body, subject)
                .await;
            match outcome {
                Ok(value) => return Ok(value),
                Err(error) => {
                    let may_repeat = match repeat {
                        Repeat::Safe => error.is_retryable(),
                        // A 429 or 503 means the request was turned away, not run; a deadlock
                        // victim was rolled back.
                        Repeat::Never => {
                            matches!(error.status(), Some(429 | 503)) || error.is_rolled_back()
                        }
                    };
                    let attempts = if error.is_rolled_back() {
                        self.retry.max_attempts.max(ROLLED_BACK_ATTEMPTS)
                    } else {
                        self.retry.max_attempts
                    };
                    if !may_repeat || attempt >= attempts {
                        return Err(error);
                    }
                    let delay = if error.is_rolled_back() {
                        // The other transaction has committed by now: go again at once, with a
                        // little jitter so the two do not meet again.
                        Duration::from_millis(
                            rand::thread_rng().gen_range(5..50) * u64::from(attempt),
                        )
                    } else {
                        self.retry.delay_after(attempt, error.retry_after())
                    };
                    tracing::debug!(%subject, attempt, ?delay, error = %error, "retrying ERPNext call");
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
            }
        }
    }

    /// One request; answers the body of a successful response.
    async fn send_once(
        &self,
        method: Method,
        url: Url,
        body: Option<&str>,
        subject: &str,
    ) -> Result<Vec<u8>, ErpError> {
        let kind = call_kind(&method, &url, &self.base_url);
        let _permit = self.limit.acquire().await;
        let started = std::time::Instant::now();
        let answer = self.exchange(method, url, body, subject).await;
        self.tally.record(&kind, started.elapsed(), answer.is_ok());
        answer
    }

    /// The request and its answer, under the caller's permit.
    async fn exchange(
        &self,
        method: Method,
        url: Url,
        body: Option<&str>,
        subject: &str,
    ) -> Result<Vec<u8>, ErpError> {
        let mut request = self
            .http
            .request(method, url)
            .header(reqwest::header::AUTHORIZATION, &self.authorization)
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(body) = body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.to_string());
        }
        let response = request
            .send()
            .await
            .map_err(|error| transport(subject, &error))?;
        let status = response.status();
        let retry_after = parse_retry_after(response.headers().get(reqwest::header::RETRY_AFTER));
        // Bytes, not text: the JSON parser checks the UTF-8 as it reads, so a separate pass
        // over every answer (most of them whole documents) would only cost CPU.
        let body: Vec<u8> = response
            .bytes()
            .await
            .map_err(|error| transport(subject, &error))?
            .into();
        if !status.is_success() {
            return Err(ErpError::from_response(
                subject,
                status.as_u16(),
                &String::from_utf8_lossy(&body),
                retry_after,
            ));
        }
        if status == StatusCode::ACCEPTED && body.trim_ascii().is_empty() {
            return Ok(b"null".to_vec());
        }
        Ok(body)
    }
}

/// A call's kind for the tally: `list Item`, `get Company`, `insert Sales Order`,
/// `update Customer`, `delete Webhook` or `method get_count`.
fn call_kind(method: &Method, url: &Url, base_url: &Url) -> String {
    let path = url
        .path()
        .strip_prefix(base_url.path())
        .unwrap_or(url.path());
    let mut segments = path.split('/').map(|segment| {
        percent_encoding::percent_decode_str(segment)
            .decode_utf8_lossy()
            .into_owned()
    });
    match (segments.next().as_deref(), segments.next().as_deref()) {
        (Some("api"), Some("resource")) => {
            let doctype = segments.next().unwrap_or_default();
            let named = segments.next().is_some_and(|name| !name.is_empty());
            let verb = match (method.as_str(), named) {
                ("GET", false) => "list",
                ("GET", true) => "get",
                ("POST", _) => "insert",
                ("PUT", _) => "update",
                ("DELETE", _) => "delete",
                (other, _) => other,
            };
            format!("{verb} {doctype}")
        }
        (Some("api"), Some("method")) => {
            let method_name = segments.next().unwrap_or_default();
            let short = method_name.rsplit('.').next().unwrap_or_default();
            format!("method {short}")
        }
        _ => format!("{} {path}", method.as_str()),
    }
}

/// Converts a naive ERPNext datetime (`2026-11-26 17:25:45.784957`, site time)
/// to UTC. Ambiguous local times (DST fall-back) take the earlier instant.
pub fn site_datetime_to_utc(text: &str, site_time_zone: Tz) -> Option<DateTime<Utc>> {
    let text = text.trim();
    let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S"))
        .ok()?;
    site_time_zone
        .from_local_datetime(&naive)
        .earliest()
        .map(|local| local.with_timezone(&Utc))
}

/// Formats a UTC instant as ERPNext expects in filters (site time, no offset).
pub fn utc_to_site_datetime(instant: DateTime<Utc>, site_time_zone: Tz) -> String {
    instant
        .with_timezone(&site_time_zone)
        .format("%Y-%m-%d %H:%M:%S%.6f")
        .to_string()
}

fn encode_segment(text: &str) -> String {
    utf8_percent_encode(text, PATH_SEGMENT).to_string()
}

/// The `{"data": …}` envelope of resource answers.
#[derive(Deserialize)]
struct Data<T> {
    data: T,
}

/// The `{"message": …}` envelope of method answers.
#[derive(Deserialize)]
struct Message<T> {
    message: T,
}

/// Reads a successful answer as `T`: a `Value`, or only the fields a caller needs.
fn parse<T: DeserializeOwned>(text: &[u8], subject: &str) -> Result<T, ErpError> {
    // The UTF-8 is checked once over the whole answer: reading bytes, the parser would check
    // every string and every kept field on its own, a tenth of the sync's CPU.
    let Ok(text) = std::str::from_utf8(text) else {
        let excerpt: String = String::from_utf8_lossy(text).chars().take(120).collect();
        return Err(unexpected(
            subject,
            format!("the answer is not UTF-8 text: {excerpt}"),
        ));
    };
    serde_json::from_str(text).map_err(|error| {
        if error.is_data() {
            return unexpected(
                subject,
                format!("the answer has an unexpected shape: {error}"),
            );
        }
        let excerpt: String = text.chars().take(120).collect();
        unexpected(subject, format!("the answer is not JSON: {excerpt}"))
    })
}

fn take_envelope(body: Value, key: &str, subject: &str) -> Result<Value, ErpError> {
    match body {
        // A method that returns None answers `{}`.
        Value::Object(object) if object.is_empty() && key == "message" => Ok(Value::Null),
        Value::Object(mut object) => object
            .remove(key)
            .ok_or_else(|| unexpected(subject, format!("the answer has no `{key}`"))),
        Value::Null => Ok(Value::Null),
        other => Err(unexpected(
            subject,
            format!("the answer is not an object: {other}"),
        )),
    }
}

fn unexpected(subject: &str, message: impl Into<String>) -> ErpError {
    ErpError::UnexpectedResponse {
        subject: subject.to_string(),
        message: message.into(),
    }
}

fn transport(subject: &str, error: &reqwest::Error) -> ErpError {
    // reqwest's Display can include the URL, never the headers, so no secret leaks.
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    ErpError::Transport {
        subject: subject.to_string(),
        message,
        timed_out: error.is_timeout(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_masks_the_secret() {
        let config = ErpConfig::new(
            Url::parse("http://127.0.0.1:1").unwrap(),
            "key-123",
            "very-secret-value",
        );
        let printed = format!("{config:?}");
        assert!(printed.contains("key-123"));
        assert!(!printed.contains("very-secret-value"));
        let client = ErpClient::new(config).unwrap();
        assert!(!format!("{client:?}").contains("very-secret-value"));
    }

    #[test]
    fn long_in_lists_are_asked_in_parts_that_fit_a_request_line() {
        let emails: Vec<String> = (0..200)
            .map(|n| format!("someone.with.a.long.name{n}.b3m4pn5gf@example.test"))
            .collect();
        // Each value goes into two filters here, as a Customer look-up sends key and email.
        let groups = in_filter_groups(emails.clone(), IN_FILTER_BUDGET, |email| {
            2 * url_encoded_len(email)
        });
        assert!(groups.len() > 1);
        assert_eq!(groups.concat(), emails, "every value once, in order");
        let base = Url::parse("http://erp.test/").unwrap();
        for group in groups {
            let mut url = base.join("api/resource/Customer").unwrap();
            let query = ListQuery::default()
                .fields(&[
                    "name",
                    "email_id",
                    "woocommerce_customer_key",
                    "default_currency",
                    "creation",
                ])
                .or_filter("email_id", "in", group.clone())
                .or_filter("woocommerce_customer_key", "in", group)
                .order_by("creation asc")
                .all_rows();
            url.query_pairs_mut().extend_pairs(query.to_query_pairs());
            let request_line = format!("GET {}?{} HTTP/1.1", url.path(), url.query().unwrap());
            assert!(
                request_line.len() <= MAX_REQUEST_LINE,
                "{}",
                request_line.len()
            );
        }
        let sized = url_encoded_len("a b\"c@d");
        assert_eq!(sized, "%22a+b%5C%22c%40d%22".len() + 3);
        let one_big = in_filter_groups(vec!["x".repeat(5000)], IN_FILTER_BUDGET, |v| {
            url_encoded_len(v)
        });
        assert_eq!(one_big.len(), 1);
    }

    #[test]
    fn calls_are_tallied_by_kind() {
        let base = Url::parse("http://erp.test/sub/").unwrap();
        let kind =
            |method: Method, path: &str| call_kind(&method, &base.join(path).unwrap(), &base);
        assert_eq!(kind(Method::GET, "api/resource/Item?fields=x"), "list Item");
        assert_eq!(
            kind(Method::GET, "api/resource/Sales%20Order/SO-1"),
            "get Sales Order"
        );
        assert_eq!(
            kind(Method::POST, "api/resource/Sales%20Order"),
            "insert Sales Order"
        );
        assert_eq!(
            kind(Method::PUT, "api/resource/Customer/A%20B"),
            "update Customer"
        );
        assert_eq!(
            kind(Method::DELETE, "api/resource/Webhook/w"),
            "delete Webhook"
        );
        assert_eq!(
            kind(Method::GET, "api/method/frappe.client.get_count"),
            "method get_count"
        );
    }

    #[test]
    fn encodes_doctype_and_names_in_paths() {
        assert_eq!(encode_segment("Sales Order"), "Sales%20Order");
        assert_eq!(encode_segment("Jane Doe-Billing"), "Jane%20Doe-Billing");
        assert_eq!(encode_segment("a/b"), "a%2Fb");
    }

    #[test]
    fn converts_site_times_to_utc() {
        let zone: Tz = "America/New_York".parse().unwrap();
        let utc = site_datetime_to_utc("2026-11-26 17:25:45.784957", zone).unwrap();
        assert_eq!(utc.to_rfc3339(), "2026-11-26T22:25:45.784957+00:00");
        assert_eq!(
            utc_to_site_datetime(utc, zone),
            "2026-11-26 17:25:45.784957"
        );
        assert!(site_datetime_to_utc("yesterday", zone).is_none());
    }

    #[test]
    fn list_query_encodes_json_parameters() {
        let query = ListQuery::default()
            .fields(&["name", "status"])
            .filter("docstatus", "=", 1)
            .page(20, 10);
        let pairs = query.to_query_pairs();
        assert_eq!(pairs[0], ("fields", r#"["name","status"]"#.to_string()));
        assert_eq!(
            pairs[1],
            ("filters", r#"[["docstatus","=",1]]"#.to_string())
        );
        assert_eq!(pairs[2], ("limit_start", "20".to_string()));
    }
}
