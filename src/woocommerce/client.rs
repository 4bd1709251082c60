//! The WooCommerce REST v3 client: authentication (Basic or query keys over
//! HTTPS, OAuth 1.0a over plain HTTP), paging by `X-WP-TotalPages`, retries of
//! idempotent calls with the shared `RetryPolicy`, and a per-connection limit
//! on calls in flight. It knows nothing of the store, jobs or sync.

use std::time::Duration;

use chrono::NaiveDateTime;
use futures::stream::{self, Stream, StreamExt};
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use url::Url;

use super::error::{excerpt, WooError};
use super::oauth::{new_nonce, OAuthSigner, SignatureMethod};
use super::types::{
    BatchResponse, Customer, NewRefund, NewWebhook, Order, OrderNote, OrderStatusTotal,
    PaymentGatewayInfo, Product, Refund, ShippingMethodInfo, StockPriceUpdate, TaxRateInfo,
    Webhook, WooOrderId,
};
use crate::remote::{parse_retry_after, ConcurrencyLimit, RetryPolicy};

/// WooCommerce refuses batches of more than this many items (413).
pub const BATCH_LIMIT: usize = 100;
/// The largest `per_page` WooCommerce accepts.
pub const MAX_PER_PAGE: u32 = 100;

/// How the client proves who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// HTTP Basic with key and secret; HTTPS only (ignored by WooCommerce over HTTP).
    Basic,
    /// `consumer_key`/`consumer_secret` as query parameters; HTTPS only. For
    /// hosts that strip the `Authorization` header.
    QueryString,
    /// OAuth 1.0a one-legged signing; the only scheme WooCommerce accepts over plain HTTP.
    OAuth1(SignatureMethod),
}

impl AuthMode {
    /// OAuth 1.0a (HMAC-SHA256) for `http://`, Basic for `https://`.
    pub fn default_for(url: &Url) -> AuthMode {
        if url.scheme() == "http" {
            AuthMode::OAuth1(SignatureMethod::HmacSha256)
        } else {
            AuthMode::Basic
        }
    }
}

/// Everything needed to talk to one store.
#[derive(Clone)]
pub struct WooConfig {
    /// The store's home URL, e.g. `https://shop.example.com` (the client adds `/wp-json/wc/v3`).
    pub base_url: Url,
    pub consumer_key: String,
    pub consumer_secret: String,
    pub auth: AuthMode,
    /// Per request, connect to last byte.
    pub timeout: Duration,
    pub retry: RetryPolicy,
    /// Calls in flight to this store at once.
    pub max_in_flight: usize,
}

impl WooConfig {
    /// A configuration with the usual defaults: auth chosen by the URL's scheme,
    /// 30 s timeout, the default retry policy, 4 calls in flight.
    pub fn new(base_url: Url, consumer_key: &str, consumer_secret: &str) -> WooConfig {
        WooConfig {
            auth: AuthMode::default_for(&base_url),
            base_url,
            consumer_key: consumer_key.to_string(),
            consumer_secret: consumer_secret.to_string(),
            timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            max_in_flight: 4,
        }
    }
}

impl std::fmt::Debug for WooConfig {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("WooConfig")
            .field("base_url", &self.base_url.as_str())
            .field("consumer_key", &masked_key(&self.consumer_key))
            .field("consumer_secret", &"<redacted>")
            .field("auth", &self.auth)
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .field("max_in_flight", &self.max_in_flight)
            .finish()
    }
}

/// The filters of an order listing. The default lists every non-trashed order,
/// newest (highest id) first, 100 per page.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderQuery {
    pub modified_after: Option<NaiveDateTime>,
    /// Exclusive upper bound of `date_modified` (a poll's fixed window end).
    pub modified_before: Option<NaiveDateTime>,
    /// `true`: `modified_after` is UTC (compared with `date_modified_gmt`).
    pub dates_are_gmt: bool,
    /// Empty means `any` (which excludes `trash`).
    pub status: Vec<String>,
    pub orderby: OrderBy,
    pub ascending: bool,
    pub per_page: u32,
    pub include: Vec<WooOrderId>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderBy {
    Date,
    Modified,
    Id,
}

impl Default for OrderQuery {
    fn default() -> Self {
        OrderQuery {
            modified_after: None,
            modified_before: None,
            dates_are_gmt: true,
            status: Vec::new(),
            // Newest first by id, not by date: ties in a date page unstably on a real store.
            orderby: OrderBy::Id,
            ascending: false,
            per_page: MAX_PER_PAGE,
            include: Vec::new(),
        }
    }
}

impl OrderQuery {
    /// Orders changed since a UTC watermark, in id order: `id` is unique, so pages never
    /// disagree about where a tie falls (see [`crate::woocommerce::listing`]).
    pub fn modified_since(watermark_gmt: NaiveDateTime) -> OrderQuery {
        OrderQuery::window(Some(watermark_gmt), None)
    }

    /// Orders whose `date_modified_gmt` lies in `after .. before` (either side open), in id order.
    pub fn window(after: Option<NaiveDateTime>, before: Option<NaiveDateTime>) -> OrderQuery {
        OrderQuery {
            modified_after: after,
            modified_before: before,
            dates_are_gmt: true,
            orderby: OrderBy::Id,
            ascending: true,
            ..OrderQuery::default()
        }
    }

    fn to_params(&self) -> Result<Vec<(String, String)>, WooError> {
        if self.per_page == 0 || self.per_page > MAX_PER_PAGE {
            return Err(WooError::InvalidRequest(format!(
                "per_page must be between 1 and {MAX_PER_PAGE}, not {}",
                self.per_page
            )));
        }
        let mut params = vec![("per_page".to_string(), self.per_page.to_string())];
        if let Some(after) = self.modified_after {
            params.push((
                "modified_after".into(),
                after.format("%Y-%m-%dT%H:%M:%S").to_string(),
            ));
        }
        if let Some(before) = self.modified_before {
            params.push((
                "modified_before".into(),
                before.format("%Y-%m-%dT%H:%M:%S").to_string(),
            ));
        }
        if self.dates_are_gmt {
            params.push(("dates_are_gmt".into(), "true".into()));
        }
        if !self.status.is_empty() {
            params.push(("status".into(), self.status.join(",")));
        }
        let orderby = match self.orderby {
            OrderBy::Date => "date",
            OrderBy::Modified => "modified",
            OrderBy::Id => "id",
        };
        params.push(("orderby".into(), orderby.into()));
        params.push((
            "order".into(),
            if self.ascending { "asc" } else { "desc" }.into(),
        ));
        if !self.include.is_empty() {
            let ids: Vec<String> = self.include.iter().map(u64::to_string).collect();
            params.push(("include".into(), ids.join(",")));
        }
        Ok(params)
    }
}

/// One page of a listing with WooCommerce's totals (`X-WP-Total`, `X-WP-TotalPages`).
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// 1-based.
    pub page: u32,
    pub total: u64,
    pub total_pages: u32,
}

/// A response's decoded body with the paging headers.
struct Answer<T> {
    body: T,
    total: Option<u64>,
    total_pages: Option<u32>,
}

/// A client for one store. Cheap to clone; clones share connections and the in-flight limit.
#[derive(Clone)]
pub struct WooClient {
    config: WooConfig,
    http: reqwest::Client,
    limit: ConcurrencyLimit,
    api_root: Url,
}

impl std::fmt::Debug for WooClient {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("WooClient")
            .field("config", &self.config)
            .finish()
    }
}

impl WooClient {
    pub fn new(config: WooConfig) -> Result<WooClient, WooError> {
        if config.consumer_key.is_empty() || config.consumer_secret.is_empty() {
            return Err(WooError::InvalidRequest(
                "the consumer key and secret must not be empty; create a read/write key under \
                 WooCommerce → Settings → Advanced → REST API"
                    .into(),
            ));
        }
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .user_agent(concat!("woocommerce-sync/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| WooError::InvalidRequest(error.without_url().to_string()))?;
        let mut root = config.base_url.as_str().trim_end_matches('/').to_string();
        root.push_str("/wp-json/wc/v3/");
        let api_root = Url::parse(&root)
            .map_err(|error| WooError::InvalidRequest(format!("bad store URL: {error}")))?;
        Ok(WooClient {
            limit: ConcurrencyLimit::new(config.max_in_flight),
            config,
            http,
            api_root,
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

    pub fn config(&self) -> &WooConfig {
        &self.config
    }

    /// "Test connection": one authenticated read; returns how many orders the store has.
    pub async fn check_connection(&self) -> Result<u64, WooError> {
        let query = OrderQuery {
            per_page: 1,
            ..OrderQuery::default()
        };
        Ok(self.list_orders_page(&query, 1).await?.total)
    }

    // ----- orders -----

    /// One page of orders with the totals, for callers that page themselves.
    pub async fn list_orders_page(
        &self,
        query: &OrderQuery,
        page: u32,
    ) -> Result<Page<Order>, WooError> {
        self.list_page("orders", query.to_params()?, page).await
    }

    /// Pages of orders, one at a time, until `X-WP-TotalPages`: drive a progress bar
    /// from `page`/`total_pages`, stop early by dropping the stream.
    pub fn order_pages<'a>(
        &'a self,
        query: &OrderQuery,
    ) -> impl Stream<Item = Result<Page<Order>, WooError>> + 'a {
        let params = query.to_params();
        self.pages("orders", params)
    }

    /// Every order matching `query`, all pages.
    pub async fn list_all_orders(&self, query: &OrderQuery) -> Result<Vec<Order>, WooError> {
        collect_pages(self.order_pages(query)).await
    }

    pub async fn get_order(&self, id: WooOrderId) -> Result<Order, WooError> {
        self.call(Method::GET, &format!("orders/{id}"), Vec::new(), None)
            .await
    }

    /// Creates an order; not retried (a lost answer must be resolved by looking it up).
    pub async fn create_order(&self, order: &Value) -> Result<Order, WooError> {
        self.call(Method::POST, "orders", Vec::new(), Some(order))
            .await
    }

    /// Changes the given fields only (e.g. `{"status": "completed"}`); meta entries
    /// are updated by key, others are left alone.
    pub async fn update_order(&self, id: WooOrderId, changes: &Value) -> Result<Order, WooError> {
        self.call(
            Method::PUT,
            &format!("orders/{id}"),
            Vec::new(),
            Some(changes),
        )
        .await
    }

    pub async fn update_order_status(
        &self,
        id: WooOrderId,
        status: &str,
    ) -> Result<Order, WooError> {
        self.update_order(id, &json!({ "status": status })).await
    }

    /// Sets meta entries by key (WooCommerce updates the first row with the key or adds one).
    pub async fn set_order_meta(
        &self,
        id: WooOrderId,
        entries: &[(&str, Value)],
    ) -> Result<Order, WooError> {
        let meta: Vec<Value> = entries
            .iter()
            .map(|(key, value)| json!({ "key": key, "value": value }))
            .collect();
        self.update_order(id, &json!({ "meta_data": meta })).await
    }

    /// Updates many orders (`[{"id": N, ...changes}]`), in requests of at most 100.
    /// Per-item failures are in the responses (`BatchResponse::failures`).
    pub async fn batch_update_orders(
        &self,
        updates: &[Value],
    ) -> Result<Vec<BatchResponse>, WooError> {
        self.batch_update("orders/batch", updates).await
    }

    // ----- notes and refunds -----

    pub async fn list_order_notes(&self, id: WooOrderId) -> Result<Vec<OrderNote>, WooError> {
        self.call(Method::GET, &format!("orders/{id}/notes"), Vec::new(), None)
            .await
    }

    /// Adds a note; `customer_note: true` e-mails it to the buyer. Not retried.
    pub async fn create_order_note(
        &self,
        id: WooOrderId,
        note: &str,
        customer_note: bool,
    ) -> Result<OrderNote, WooError> {
        let body = json!({ "note": note, "customer_note": customer_note });
        self.call(
            Method::POST,
            &format!("orders/{id}/notes"),
            Vec::new(),
            Some(&body),
        )
        .await
    }

    pub async fn list_refunds(&self, id: WooOrderId) -> Result<Vec<Refund>, WooError> {
        self.call(
            Method::GET,
            &format!("orders/{id}/refunds"),
            vec![("per_page".into(), MAX_PER_PAGE.to_string())],
            None,
        )
        .await
    }

    /// Records a refund. Not retried: after a transport error list the refunds first.
    pub async fn create_refund(
        &self,
        id: WooOrderId,
        refund: &NewRefund,
    ) -> Result<Refund, WooError> {
        let body = serde_json::to_value(refund)
            .map_err(|error| WooError::InvalidRequest(error.to_string()))?;
        self.call(
            Method::POST,
            &format!("orders/{id}/refunds"),
            Vec::new(),
            Some(&body),
        )
        .await
    }

    // ----- products -----

    pub async fn get_product(&self, id: u64) -> Result<Product, WooError> {
        self.call(Method::GET, &format!("products/{id}"), Vec::new(), None)
            .await
    }

    /// Creates a product (`{"name", "type", "sku", "regular_price", ...}`). Not retried: after a
    /// transport error look the SKU up first.
    pub async fn create_product(&self, product: &Value) -> Result<Product, WooError> {
        self.call(Method::POST, "products", Vec::new(), Some(product))
            .await
    }

    /// Products and variations with this exact SKU (WooCommerce searches both).
    pub async fn find_products_by_sku(&self, sku: &str) -> Result<Vec<Product>, WooError> {
        self.call(
            Method::GET,
            "products",
            vec![("sku".into(), sku.into())],
            None,
        )
        .await
    }

    pub async fn list_all_products(&self) -> Result<Vec<Product>, WooError> {
        let params = Ok(vec![("per_page".to_string(), MAX_PER_PAGE.to_string())]);
        collect_pages(self.pages("products", params)).await
    }

    pub async fn list_variations(&self, product_id: u64) -> Result<Vec<Product>, WooError> {
        let params = Ok(vec![("per_page".to_string(), MAX_PER_PAGE.to_string())]);
        collect_pages(self.pages(&format!("products/{product_id}/variations"), params)).await
    }

    /// Stock and price of simple/variable products, 100 per request.
    pub async fn batch_update_products(
        &self,
        updates: &[StockPriceUpdate],
    ) -> Result<Vec<BatchResponse>, WooError> {
        let values = to_values(updates)?;
        self.batch_update("products/batch", &values).await
    }

    /// Stock and price of one variable product's variations, 100 per request.
    pub async fn batch_update_variations(
        &self,
        product_id: u64,
        updates: &[StockPriceUpdate],
    ) -> Result<Vec<BatchResponse>, WooError> {
        let values = to_values(updates)?;
        self.batch_update(&format!("products/{product_id}/variations/batch"), &values)
            .await
    }

    /// Any GET of the REST API (`orders/17`, `orders/17/refunds`) as raw JSON, for tools and tests
    /// that need the exact wire shape rather than the typed view.
    pub async fn get_json(&self, path: &str) -> Result<Value, WooError> {
        self.send_json(Method::GET, path, &[], None).await
    }

    /// Any other REST call as raw JSON (`POST coupons`, `DELETE products/9?force=true`), for tools
    /// and tests; retried only when the method is idempotent, like every call.
    pub async fn send_json(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Value, WooError> {
        // A query written into the path is signed like any other parameter (OAuth 1.0a signs
        // each one).
        let (path, inline) = path.split_once('?').unwrap_or((path, ""));
        let params = url::form_urlencoded::parse(inline.as_bytes())
            .map(|(key, value)| (key.into_owned(), value.into_owned()))
            .chain(
                query
                    .iter()
                    .map(|(key, value)| (key.to_string(), value.to_string())),
            )
            .collect();
        self.call(method, path, params, body).await
    }

    // ----- settings -----

    /// One store setting's value, e.g. `("general", "woocommerce_currency")` → `USD`, or
    /// `("tax", "woocommerce_prices_include_tax")` → `no`.
    pub async fn setting(&self, group: &str, id: &str) -> Result<String, WooError> {
        let setting: Value = self
            .call(
                Method::GET,
                &format!("settings/{group}/{id}"),
                Vec::new(),
                None,
            )
            .await?;
        Ok(match &setting["value"] {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        })
    }

    // ----- customers and webhooks -----

    pub async fn get_customer(&self, id: u64) -> Result<Customer, WooError> {
        self.call(Method::GET, &format!("customers/{id}"), Vec::new(), None)
            .await
    }

    /// The shop's customers with this e-mail (WooCommerce matches it exactly).
    pub async fn find_customers_by_email(&self, email: &str) -> Result<Vec<Customer>, WooError> {
        self.call(
            Method::GET,
            "customers",
            vec![("email".into(), email.into())],
            None,
        )
        .await
    }

    pub async fn list_customers_page(&self, page: u32) -> Result<Page<Customer>, WooError> {
        let params = vec![("per_page".to_string(), MAX_PER_PAGE.to_string())];
        self.list_page("customers", params, page).await
    }

    pub async fn list_webhooks(&self) -> Result<Vec<Webhook>, WooError> {
        let params = Ok(vec![("per_page".to_string(), MAX_PER_PAGE.to_string())]);
        collect_pages(self.pages("webhooks", params)).await
    }

    // ----- what the store has, for proposing a connection's mappings -----

    /// Every tax rate of the store, all pages.
    pub async fn list_tax_rates(&self) -> Result<Vec<TaxRateInfo>, WooError> {
        let params = Ok(vec![("per_page".to_string(), MAX_PER_PAGE.to_string())]);
        collect_pages(self.pages("taxes", params)).await
    }

    pub async fn list_shipping_methods(&self) -> Result<Vec<ShippingMethodInfo>, WooError> {
        self.call(Method::GET, "shipping_methods", Vec::new(), None)
            .await
    }

    pub async fn list_payment_gateways(&self) -> Result<Vec<PaymentGatewayInfo>, WooError> {
        self.call(Method::GET, "payment_gateways", Vec::new(), None)
            .await
    }

    /// The store's order statuses (custom ones too) with their order counts.
    pub async fn order_status_totals(&self) -> Result<Vec<OrderStatusTotal>, WooError> {
        self.call(Method::GET, "reports/orders/totals", Vec::new(), None)
            .await
    }

    /// Registers a webhook; WooCommerce pings the URL during this call. Not retried.
    pub async fn create_webhook(&self, webhook: &NewWebhook) -> Result<Webhook, WooError> {
        let body = serde_json::to_value(webhook)
            .map_err(|error| WooError::InvalidRequest(error.to_string()))?;
        self.call(Method::POST, "webhooks", Vec::new(), Some(&body))
            .await
    }

    /// Changes a webhook (`status`, `delivery_url`, `secret`); idempotent.
    pub async fn update_webhook(&self, id: u64, changes: &Value) -> Result<Webhook, WooError> {
        self.call(
            Method::PUT,
            &format!("webhooks/{id}"),
            Vec::new(),
            Some(changes),
        )
        .await
    }

    /// Deletes a webhook for good (`force=true`: webhooks have no trash).
    pub async fn delete_webhook(&self, id: u64) -> Result<(), WooError> {
        let _: Value = self
            .call(
                Method::DELETE,
                &format!("webhooks/{id}"),
                vec![("force".into(), "true".into())],
                None,
            )
            .await?;
        Ok(())
    }

    // ----- plumbing -----

    async fn batch_update(
        &self,
        path: &str,
        updates: &[Value],
    ) -> Result<Vec<BatchResponse>, WooError> {
        let mut responses = Vec::new();
        for chunk in updates.chunks(BATCH_LIMIT) {
            let body = json!({ "update": chunk });
            // PUT: the same updates applied twice leave the same state, so it may be retried.
            let response: BatchResponse = self
                .call(Method::PUT, path, Vec::new(), Some(&body))
                .await?;
            responses.push(response);
        }
        Ok(responses)
    }

    async fn list_page<T: DeserializeOwned>(
        &self,
        path: &str,
        mut params: Vec<(String, String)>,
        page: u32,
    ) -> Result<Page<T>, WooError> {
        params.push(("page".into(), page.to_string()));
        let answer: Answer<Vec<T>> = self.send(Method::GET, path, params, None).await?;
        let count = answer.body.len() as u64;
        Ok(Page {
            total: answer.total.unwrap_or(count),
            total_pages: answer.total_pages.unwrap_or(u32::from(count > 0)),
            items: answer.body,
            page,
        })
    }

    fn pages<'a, T: DeserializeOwned + 'a>(
        &'a self,
        path: &str,
        params: Result<Vec<(String, String)>, WooError>,
    ) -> impl Stream<Item = Result<Page<T>, WooError>> + 'a {
        let path = path.to_string();
        // State: the next page to fetch, or None when done (or after an error).
        stream::unfold(Some((1u32, params)), move |state| {
            let path = path.clone();
            async move {
                let (page, params) = state?;
                let params = match params {
                    Ok(params) => params,
                    Err(error) => return Some((Err(error), None)),
                };
                match self.list_page::<T>(&path, params.clone(), page).await {
                    Ok(fetched) => {
                        let more = page < fetched.total_pages && !fetched.items.is_empty();
                        let next = more.then(|| (page + 1, Ok(params)));
                        Some((Ok(fetched), next))
                    }
                    Err(error) => Some((Err(error), None)),
                }
            }
        })
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        params: Vec<(String, String)>,
        body: Option<&Value>,
    ) -> Result<T, WooError> {
        Ok(self.send(method, path, params, body).await?.body)
    }

    /// Sends with retries for idempotent methods (GET, PUT); POST is tried once.
    async fn send<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        params: Vec<(String, String)>,
        body: Option<&Value>,
    ) -> Result<Answer<T>, WooError> {
        let idempotent = matches!(method, Method::GET | Method::PUT | Method::HEAD);
        let attempts = if idempotent {
            self.config.retry.max_attempts.max(1)
        } else {
            1
        };
        let mut attempt = 1;
        loop {
            match self.send_once(&method, path, &params, body).await {
                Ok(answer) => return Ok(answer),
                Err(error) if attempt < attempts && error.is_retryable() => {
                    let wait = self.config.retry.delay_after(attempt, error.retry_after());
                    tracing::warn!(%error, attempt, ?wait, "retrying WooCommerce call");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                Err(error) => return Err(error),
            }
        }
    }

    async fn send_once<T: DeserializeOwned>(
        &self,
        method: &Method,
        path: &str,
        params: &[(String, String)],
        body: Option<&Value>,
    ) -> Result<Answer<T>, WooError> {
        let shown_path = format!("/{path}");
        let method_name = method.as_str();
        let mut url = self.api_root.join(path).map_err(|error| {
            WooError::InvalidRequest(format!("bad API path {shown_path}: {error}"))
        })?;
        let query: Vec<(String, String)> = match self.config.auth {
            AuthMode::OAuth1(signature_method) => {
                let signer = OAuthSigner {
                    consumer_key: &self.config.consumer_key,
                    consumer_secret: &self.config.consumer_secret,
                    signature_method,
                };
                let timestamp = chrono::Utc::now().timestamp().max(0) as u64;
                signer.signed_query(method_name, &url, params, timestamp, &new_nonce())
            }
            AuthMode::QueryString => {
                let mut all = params.to_vec();
                all.push(("consumer_key".into(), self.config.consumer_key.clone()));
                all.push((
                    "consumer_secret".into(),
                    self.config.consumer_secret.clone(),
                ));
                all
            }
            AuthMode::Basic => params.to_vec(),
        };
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(&query);
        }
        let mut request = self
            .http
            .request(method.clone(), url)
            .header(reqwest::header::ACCEPT, "application/json");
        if self.config.auth == AuthMode::Basic {
            request = request.basic_auth(
                &self.config.consumer_key,
                Some(&self.config.consumer_secret),
            );
        }
        if let Some(body) = body {
            request = request.json(body);
        }

        let permit = self.limit.acquire().await;
        let transport_error = |error: reqwest::Error| {
            if error.is_timeout() {
                WooError::Timeout {
                    method: method_name.to_string(),
                    path: shown_path.clone(),
                    timeout: self.config.timeout,
                }
            } else {
                WooError::Transport {
                    method: method_name.to_string(),
                    path: shown_path.clone(),
                    detail: describe_transport_error(error),
                }
            }
        };
        let response = request.send().await.map_err(transport_error)?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.map_err(transport_error)?;
        // The call is over once the answer is read; parsing it does not hold a place.
        drop(permit);

        if !(200..300).contains(&status) {
            let retry_after = parse_retry_after(headers.get(reqwest::header::RETRY_AFTER));
            return Err(WooError::from_response(
                method_name,
                &shown_path,
                status,
                &bytes,
                retry_after,
            ));
        }
        // One UTF-8 check over the whole answer, not one per string as a byte parser does.
        let body: T = std::str::from_utf8(&bytes)
            .map_err(|error| error.to_string())
            .and_then(|text| serde_json::from_str(text).map_err(|error| error.to_string()))
            .map_err(|error| WooError::BadResponse {
                method: method_name.to_string(),
                path: shown_path.clone(),
                status,
                detail: format!("{error} (body starts: {})", excerpt(&bytes)),
            })?;
        let header_number =
            |name: &str| -> Option<u64> { headers.get(name)?.to_str().ok()?.trim().parse().ok() };
        Ok(Answer {
            body,
            total: header_number("x-wp-total"),
            total_pages: header_number("x-wp-totalpages").map(|pages| pages as u32),
        })
    }
}

/// reqwest's message without the URL (whose query may carry keys or a signature),
/// with the underlying cause, e.g. "connection refused".
fn describe_transport_error(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// `ck_0123…`: enough to tell keys apart in a log, not enough to use one.
fn masked_key(key: &str) -> String {
    let shown: String = key.chars().take(7).collect();
    format!("{shown}…")
}

fn to_values<T: serde::Serialize>(items: &[T]) -> Result<Vec<Value>, WooError> {
    items
        .iter()
        .map(|item| {
            serde_json::to_value(item).map_err(|error| WooError::InvalidRequest(error.to_string()))
        })
        .collect()
}

async fn collect_pages<T>(
    pages: impl Stream<Item = Result<Page<T>, WooError>>,
) -> Result<Vec<T>, WooError> {
    let mut pages = std::pin::pin!(pages);
    let mut all = Vec::new();
    while let Some(page) = pages.next().await {
        all.extend(page?.items);
    }
    Ok(all)
}
