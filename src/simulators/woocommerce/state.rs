//! The simulated store's data: orders kept as their serialised JSON (so a
//! loaded order is served back unchanged and a page of 100 is a string join),
//! with small indexes for the filters and sort orders the API offers.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Arc;

use chrono::{NaiveDateTime, TimeZone};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::money::{parse_decimal, round_money};
use crate::simulators::FaultDice;
use crate::woocommerce::types::ErrorBody;

pub const DATE_FORMAT: &str = "%Y-%m-%dT%H:%M:%S";

/// Statuses an order may be set to (the REST enum for writes).
pub const WRITABLE_STATUSES: [&str; 9] = [
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

/// Gateways that can refund through the API; bacs/cod/cheque cannot.
const GATEWAYS_WITH_REFUNDS: [&str; 2] = ["stripe", "ppcp-gateway"];

/// One order: its JSON plus what the list filters need.
#[derive(Debug, Clone)]
pub struct StoredOrder {
    pub id: u64,
    pub status: String,
    pub customer_id: u64,
    pub created_gmt: NaiveDateTime,
    pub modified_gmt: NaiveDateTime,
    pub json: Arc<str>,
}

impl StoredOrder {
    /// Indexes an order's JSON; orders without the fields the API always sends are refused.
    pub fn from_value(value: &Value) -> Result<StoredOrder, String> {
        let id = value
            .get("id")
            .and_then(Value::as_u64)
            .ok_or("an order has no integer `id`")?;
        let date = |name: &str| -> Option<NaiveDateTime> {
            NaiveDateTime::parse_from_str(value.get(name)?.as_str()?, DATE_FORMAT).ok()
        };
        let created_gmt = date("date_created_gmt")
            .or_else(|| date("date_created"))
            .ok_or_else(|| format!("order {id} has no valid `date_created_gmt`"))?;
        let modified_gmt = date("date_modified_gmt")
            .or_else(|| date("date_modified"))
            .unwrap_or(created_gmt);
        Ok(StoredOrder {
            id,
            status: value
                .get("status")
                .and_then(Value::as_str)
                .unwrap_or("pending")
                .to_string(),
            customer_id: value
                .get("customer_id")
                .and_then(Value::as_u64)
                .unwrap_or(0),
            created_gmt,
            modified_gmt,
            json: Arc::from(value.to_string()),
        })
    }

    pub fn value(&self) -> Value {
        serde_json::from_str(&self.json).unwrap_or(Value::Null)
    }
}

/// What an API key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    Read,
    Write,
    ReadWrite,
}

#[derive(Clone)]
pub struct ApiKey {
    pub consumer_key: String,
    pub consumer_secret: String,
    pub permission: Permission,
}

/// A fault forced on the next API request (tests use these to be deterministic).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// 429 with `Retry-After: 1` and a JSON body.
    Throttle,
    /// 429 with `Retry-After: 1` and an HTML page, as a host's limiter sends.
    ThrottleHtml,
    /// 503 with an HTML page.
    Unavailable,
    /// 500 with WordPress's JSON "critical error".
    ServerError,
    /// 502 from the proxy, HTML.
    BadGateway,
    /// Never answers (longer than any sane client timeout).
    Timeout,
    /// Applies the request, then cuts the connection before the body is sent.
    Drop,
}

/// Fault knobs, settable by flags and at runtime through `/__sim/faults`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Faults {
    pub latency_ms: u64,
    /// Share of requests answered 500/502/503.
    pub error_rate: f64,
    /// Share of requests answered 429 with `Retry-After: 1`.
    pub throttle_rate: f64,
    /// Throttle answers carry an HTML page instead of JSON.
    pub throttle_html: bool,
    /// Share of requests that never get an answer.
    pub timeout_rate: f64,
    /// Share of requests applied and then dropped without an answer.
    pub drop_rate: f64,
    /// Faults for the next requests, in order, before the rates apply.
    pub next: VecDeque<FaultKind>,
    /// Faults for the next request to one route, e.g. `("POST /orders", Drop)`: each is used
    /// once, by the first request it matches, before `next` and the rates.
    pub next_on: VecDeque<(String, FaultKind)>,
    /// The fault generator's seed. Reading answers the seed in use; setting `Some` restarts
    /// the generator from that seed (the same requests in the same order then meet the same
    /// faults); setting `None` keeps the generator going.
    pub seed: Option<u64>,
}

impl Faults {
    /// Whether a fault can be drawn (latency is not one; pushed faults are not drawn).
    pub fn any(&self) -> bool {
        [
            self.error_rate,
            self.throttle_rate,
            self.timeout_rate,
            self.drop_rate,
        ]
        .iter()
        .any(|rate| *rate > 0.0)
    }
}

/// A registered webhook and its delivery bookkeeping.
#[derive(Clone)]
pub struct SimWebhook {
    pub id: u64,
    pub name: String,
    pub status: String,
    pub topic: String,
    pub delivery_url: String,
    pub secret: String,
    pub failure_count: u32,
    pub created_gmt: NaiveDateTime,
}

/// A webhook delivery to send once the shop's lock is released.
#[derive(Clone)]
pub struct PendingDelivery {
    pub webhook_id: u64,
    pub delivery_url: String,
    pub secret: String,
    pub topic: String,
    pub body: Arc<str>,
}

/// An error the API answers with: its status and WordPress's error body, the client's own
/// wire type (`{"code", "message", "data"}`).
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: u16,
    pub body: ErrorBody,
}

impl ApiError {
    pub fn new(status: u16, code: &str, message: &str) -> ApiError {
        ApiError::with_data(status, code, message, json!({ "status": status }))
    }

    /// An error whose `data` says more than the status (`params`, `details`).
    pub fn with_data(status: u16, code: &str, message: &str, data: Value) -> ApiError {
        ApiError {
            status,
            body: ErrorBody {
                code: code.to_string(),
                message: message.to_string(),
                data,
            },
        }
    }

    /// Refund errors: HTTP 500 with `data` a bare integer, as recorded.
    pub fn refund(code: &str, message: &str, data: u16) -> ApiError {
        ApiError::with_data(500, code, message, json!(data))
    }

    /// WordPress's `rest_invalid_param` with `params` and `details`.
    pub fn invalid_param(param: &str, detail_code: &str, message: &str) -> ApiError {
        ApiError::with_data(
            400,
            "rest_invalid_param",
            &format!("Invalid parameter(s): {param}"),
            json!({
                "status": 400,
                "params": { param: message },
                "details": { param: { "code": detail_code, "message": message, "data": null } }
            }),
        )
    }

    pub fn invalid_order_id(status: u16) -> ApiError {
        let message = if status == 404 {
            "Invalid ID."
        } else {
            "ID is invalid."
        };
        ApiError::new(status, "woocommerce_rest_shop_order_invalid_id", message)
    }

    /// The body as JSON (keys in the order every other answer of the simulator has them).
    pub fn body_json(&self) -> Value {
        serde_json::to_value(&self.body).unwrap_or(Value::Null)
    }
}

/// The ids matching the last order listing, valid while `revision` is unchanged.
pub struct ListCache {
    pub key: String,
    pub revision: u64,
    pub ids: Arc<Vec<u64>>,
}

/// The whole simulated store.
pub struct Shop {
    pub time_zone: Tz,
    /// `http://127.0.0.1:<port>`, for `_links` of objects made here.
    pub base_url: String,
    pub orders: BTreeMap<u64, StoredOrder>,
    pub by_created: BTreeSet<(NaiveDateTime, u64)>,
    pub by_modified: BTreeSet<(NaiveDateTime, u64)>,
    /// Per order, oldest first (the API lists them newest first).
    pub refunds: HashMap<u64, Vec<Value>>,
    /// Per order, oldest first.
    pub notes: HashMap<u64, Vec<Value>>,
    /// Products and variations by id.
    pub products: BTreeMap<u64, Value>,
    pub customers: BTreeMap<u64, Value>,
    pub webhooks: BTreeMap<u64, SimWebhook>,
    pub keys: Vec<ApiKey>,
    /// OAuth nonces seen, per consumer key, with their timestamps.
    pub nonces: HashMap<(String, String), i64>,
    /// The knobs (their `seed` is kept in `fault_dice`).
    pub faults: Faults,
    /// The seeded generator faults are drawn from.
    pub(crate) fault_dice: FaultDice,
    pub default_webhook_secret: String,
    /// Orders and refunds share this sequence, as in WooCommerce.
    pub next_order_id: u64,
    pub next_note_id: u64,
    pub next_meta_id: u64,
    pub next_item_id: u64,
    pub next_webhook_id: u64,
    pub next_product_id: u64,
    pub requests_served: u64,
    /// Bumped on every order change; invalidates `list_cache`.
    pub revision: u64,
    pub list_cache: Option<ListCache>,
    /// (webhook id, resource id) with a delivery queued: another is not queued.
    pub queued_deliveries: std::collections::HashSet<(u64, u64)>,
    /// Seconds added to the wall clock (tests move time to check OAuth timestamps).
    pub clock_offset_seconds: i64,
    /// Seeds the order in which each page lists orders tied on their sort date.
    pub tie_seed: u64,
    /// Store settings by (group, id), e.g. ("general", "woocommerce_currency") → "USD".
    pub settings: BTreeMap<(String, String), String>,
}

impl Shop {
    pub fn new(time_zone: Tz, keys: Vec<ApiKey>, default_webhook_secret: String) -> Shop {
        Shop {
            time_zone,
            base_url: String::new(),
            orders: BTreeMap::new(),
            by_created: BTreeSet::new(),
            by_modified: BTreeSet::new(),
            refunds: HashMap::new(),
            notes: HashMap::new(),
            products: BTreeMap::new(),
            customers: BTreeMap::new(),
            webhooks: BTreeMap::new(),
            keys,
            nonces: HashMap::new(),
            faults: Faults::default(),
            fault_dice: FaultDice::new(None),
            default_webhook_secret,
            next_order_id: 1,
            next_note_id: 1,
            next_meta_id: 1,
            next_item_id: 1,
            next_webhook_id: 1,
            next_product_id: 1,
            requests_served: 0,
            revision: 0,
            list_cache: None,
            queued_deliveries: std::collections::HashSet::new(),
            clock_offset_seconds: 0,
            tie_seed: 1,
            settings: [
                ("general", "woocommerce_currency", "USD"),
                ("general", "woocommerce_price_num_decimals", "2"),
                ("tax", "woocommerce_prices_include_tax", "no"),
                ("tax", "woocommerce_tax_based_on", "shipping"),
            ]
            .into_iter()
            .map(|(group, id, value)| ((group.to_string(), id.to_string()), value.to_string()))
            .collect(),
        }
    }

    /// The knobs, with the seed in use.
    pub fn faults(&self) -> Faults {
        Faults {
            seed: Some(self.fault_dice.seed()),
            ..self.faults.clone()
        }
    }

    /// Sets the knobs (see [`Faults::seed`]) and answers them with the seed in use.
    pub fn set_faults(&mut self, faults: Faults) -> Faults {
        if let Some(seed) = faults.seed {
            self.fault_dice.restart(seed);
        }
        self.fault_dice.ever_faulty |= faults.any();
        self.faults = Faults {
            seed: None,
            ..faults
        };
        self.faults()
    }

    pub fn now_gmt(&self) -> NaiveDateTime {
        let now = chrono::Utc::now() + chrono::Duration::seconds(self.clock_offset_seconds);
        let naive = now.naive_utc();
        naive - chrono::Duration::nanoseconds(i64::from(now.timestamp_subsec_nanos()))
    }

    pub fn local(&self, gmt: NaiveDateTime) -> NaiveDateTime {
        self.time_zone.from_utc_datetime(&gmt).naive_local()
    }

    /// Stores (or replaces) an order and indexes it; ids continue after the highest seen.
    pub fn put_order(&mut self, stored: StoredOrder) {
        self.revision += 1;
        if let Some(previous) = self.orders.remove(&stored.id) {
            self.by_created.remove(&(previous.created_gmt, previous.id));
            self.by_modified
                .remove(&(previous.modified_gmt, previous.id));
        }
        self.next_order_id = self.next_order_id.max(stored.id + 1);
        self.by_created.insert((stored.created_gmt, stored.id));
        self.by_modified.insert((stored.modified_gmt, stored.id));
        self.orders.insert(stored.id, stored);
    }

    pub fn remove_order(&mut self, id: u64) -> Option<StoredOrder> {
        self.revision += 1;
        let previous = self.orders.remove(&id)?;
        self.by_created.remove(&(previous.created_gmt, id));
        self.by_modified.remove(&(previous.modified_gmt, id));
        Some(previous)
    }

    pub fn take_order_id(&mut self) -> u64 {
        let id = self.next_order_id;
        self.next_order_id += 1;
        id
    }

    pub fn take_meta_id(&mut self) -> u64 {
        let id = self.next_meta_id;
        self.next_meta_id += 1;
        id
    }

    /// Stamps `date_modified` with now (never going backwards for this order).
    fn stamp_modified(&self, order: &mut Value, previous_gmt: NaiveDateTime) -> NaiveDateTime {
        let modified = self.now_gmt().max(previous_gmt);
        order["date_modified_gmt"] = json!(modified.format(DATE_FORMAT).to_string());
        order["date_modified"] = json!(self.local(modified).format(DATE_FORMAT).to_string());
        modified
    }

    /// Saves a changed order: bumps `date_modified`, re-indexes, queues `order.updated`.
    pub fn save_changed_order(
        &mut self,
        mut order: Value,
        topic: &str,
    ) -> Result<(Arc<str>, Vec<PendingDelivery>), ApiError> {
        let id = order.get("id").and_then(Value::as_u64).unwrap_or(0);
        let previous_gmt = self
            .orders
            .get(&id)
            .map(|stored| stored.modified_gmt)
            .unwrap_or_default();
        self.stamp_modified(&mut order, previous_gmt);
        let stored = StoredOrder::from_value(&order)
            .map_err(|message| ApiError::new(500, "woocommerce_rest_sim_error", &message))?;
        let json = stored.json.clone();
        let status = stored.status.clone();
        self.put_order(stored);
        let deliveries = self.deliveries_for(topic, &status, json.clone());
        Ok((json, deliveries))
    }

    /// Webhook deliveries for an order event; drafts never trigger webhooks.
    pub fn deliveries_for(
        &self,
        topic: &str,
        status: &str,
        body: Arc<str>,
    ) -> Vec<PendingDelivery> {
        if status == "checkout-draft" || status == "auto-draft" {
            return Vec::new();
        }
        self.webhooks
            .values()
            .filter(|webhook| webhook.status == "active" && webhook.topic == topic)
            .map(|webhook| PendingDelivery {
                webhook_id: webhook.id,
                delivery_url: webhook.delivery_url.clone(),
                secret: webhook.secret.clone(),
                topic: topic.to_string(),
                body: body.clone(),
            })
            .collect()
    }

    /// Applies a REST update body to an order (fields given only; meta by id or key).
    pub fn update_order(
        &mut self,
        id: u64,
        changes: &Value,
    ) -> Result<(Arc<str>, Vec<PendingDelivery>), ApiError> {
        let stored = self.orders.get(&id).ok_or_else(|| {
            ApiError::new(400, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
        })?;
        let mut order = stored.value();
        let Some(changes) = changes.as_object() else {
            return Err(ApiError::new(
                400,
                "rest_invalid_json",
                "Invalid JSON body passed.",
            ));
        };
        if let Some(status) = changes.get("status") {
            let status = status.as_str().unwrap_or_default();
            if !WRITABLE_STATUSES.contains(&status) {
                return Err(ApiError::invalid_param(
                    "status",
                    "rest_not_in_enum",
                    "status is not one of auto-draft, pending, processing, on-hold, completed, cancelled, refunded, failed, and checkout-draft.",
                ));
            }
        }
        if let Some(customer_id) = changes.get("customer_id").and_then(Value::as_u64) {
            if customer_id != 0 && !self.customers.contains_key(&customer_id) {
                return Err(ApiError::new(
                    400,
                    "woocommerce_rest_invalid_customer_id",
                    "Customer ID is invalid.",
                ));
            }
            order["customer_id"] = json!(customer_id);
        }
        for field in [
            "customer_note",
            "transaction_id",
            "payment_method",
            "payment_method_title",
            "currency",
        ] {
            if let Some(value) = changes.get(field) {
                order[field] = value.clone();
            }
        }
        for address in ["billing", "shipping"] {
            if let (Some(new), Some(current)) = (
                changes.get(address).and_then(Value::as_object),
                order.get_mut(address).and_then(Value::as_object_mut),
            ) {
                for (key, value) in new {
                    current.insert(key.clone(), value.clone());
                }
            }
        }
        if let Some(entries) = changes.get("meta_data").and_then(Value::as_array) {
            let mut meta: Vec<Value> = order
                .get("meta_data")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for entry in entries {
                let Some(key) = entry.get("key").and_then(Value::as_str) else {
                    continue;
                };
                let value = entry.get("value").cloned().unwrap_or(Value::Null);
                let by_id = entry.get("id").and_then(Value::as_u64);
                let position = match by_id {
                    Some(meta_id) => meta
                        .iter()
                        .position(|row| row.get("id").and_then(Value::as_u64) == Some(meta_id)),
                    None => meta
                        .iter()
                        .position(|row| row.get("key").and_then(Value::as_str) == Some(key)),
                };
                match position {
                    Some(index) => {
                        meta[index]["key"] = json!(key);
                        meta[index]["value"] = value;
                    }
                    None => {
                        let meta_id = self.take_meta_id();
                        meta.push(json!({ "id": meta_id, "key": key, "value": value }));
                    }
                }
            }
            order["meta_data"] = Value::Array(meta);
        }
        let set_paid = changes.get("set_paid").and_then(Value::as_bool) == Some(true);
        let mut new_status = changes
            .get("status")
            .and_then(Value::as_str)
            .map(str::to_string);
        if set_paid {
            new_status.get_or_insert_with(|| "processing".to_string());
        }
        if let Some(status) = new_status {
            self.apply_status(id, &mut order, &status);
        }
        self.save_changed_order(order, "order.updated")
    }

    /// Sets a status with WooCommerce's side effects: paid/completed dates and a system note.
    pub fn apply_status(&mut self, id: u64, order: &mut Value, status: &str) {
        let previous = order
            .get("status")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if previous == status {
            return;
        }
        let now = self.now_gmt();
        let now_text = now.format(DATE_FORMAT).to_string();
        let local_text = self.local(now).format(DATE_FORMAT).to_string();
        if (status == "processing" || status == "completed") && order["date_paid"].is_null() {
            order["date_paid"] = json!(local_text);
            order["date_paid_gmt"] = json!(now_text);
        }
        if status == "completed" {
            order["date_completed"] = json!(local_text);
            order["date_completed_gmt"] = json!(now_text);
        }
        order["status"] = json!(status);
        let editable = matches!(status, "pending" | "on-hold" | "auto-draft");
        order["is_editable"] = json!(editable);
        let total = order
            .get("total")
            .and_then(Value::as_str)
            .and_then(|text| parse_decimal(text).ok())
            .unwrap_or_default();
        order["needs_payment"] =
            json!(matches!(status, "pending" | "failed") && total > Decimal::ZERO);
        let text = format!(
            "Order status changed from {} to {}.",
            status_label(&previous),
            status_label(status)
        );
        self.add_note(id, &text, false, "system");
    }

    /// Adds a note and returns it (the API answer).
    pub fn add_note(
        &mut self,
        order_id: u64,
        text: &str,
        customer_note: bool,
        author: &str,
    ) -> Value {
        let id = self.next_note_id;
        self.next_note_id += 1;
        let now = self.now_gmt();
        let note = json!({
            "id": id,
            "author": author,
            "date_created": self.local(now).format(DATE_FORMAT).to_string(),
            "date_created_gmt": now.format(DATE_FORMAT).to_string(),
            "note": text,
            "customer_note": customer_note,
            "_links": {
                "self": [{ "href": format!("{}/wp-json/wc/v3/orders/{order_id}/notes/{id}", self.base_url) }],
                "collection": [{ "href": format!("{}/wp-json/wc/v3/orders/{order_id}/notes", self.base_url) }],
                "up": [{ "href": format!("{}/wp-json/wc/v3/orders/{order_id}", self.base_url) }]
            }
        });
        self.notes.entry(order_id).or_default().push(note.clone());
        note
    }

    /// `POST /orders/<id>/refunds`, with the recorded errors and their odd 500s.
    pub fn create_refund(
        &mut self,
        order_id: u64,
        request: &Value,
    ) -> Result<(Value, Vec<PendingDelivery>), ApiError> {
        let stored = self.orders.get(&order_id).ok_or_else(|| {
            ApiError::new(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
        })?;
        let mut order = stored.value();
        let amount = match request.get("amount") {
            Some(Value::String(text)) => parse_decimal(text).unwrap_or_default(),
            Some(Value::Number(number)) => parse_decimal(&number.to_string()).unwrap_or_default(),
            _ => Decimal::ZERO,
        };
        let amount = round_money(amount, 2);
        if amount <= Decimal::ZERO {
            return Err(ApiError::refund(
                "woocommerce_rest_invalid_order_refund",
                "Refund amount must be greater than zero.",
                400,
            ));
        }
        let money = |value: Option<&Value>| -> Decimal {
            value
                .and_then(Value::as_str)
                .and_then(|text| parse_decimal(text).ok())
                .unwrap_or_default()
        };
        let total = money(order.get("total"));
        let already: Decimal = order
            .get("refunds")
            .and_then(Value::as_array)
            .map(|refunds| {
                refunds
                    .iter()
                    .map(|refund| -money(refund.get("total")))
                    .sum()
            })
            .unwrap_or_default();
        if amount > total - already {
            return Err(ApiError::refund(
                "woocommerce_rest_cannot_create_order_refund",
                "Invalid refund amount.",
                500,
            ));
        }
        let api_refund = request
            .get("api_refund")
            .and_then(Value::as_bool)
            .unwrap_or(true);
        let gateway = order
            .get("payment_method")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if api_refund && !GATEWAYS_WITH_REFUNDS.contains(&gateway) {
            return Err(ApiError::refund(
                "woocommerce_rest_cannot_create_order_refund",
                "The payment gateway for this order does not support automatic refunds.",
                500,
            ));
        }
        let reason = request
            .get("reason")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let refund_id = self.take_order_id();
        let line_items = self.refund_lines(&order, request);
        let now = self.now_gmt();
        let refund = refund_value(
            &self.base_url,
            order_id,
            refund_id,
            amount,
            &reason,
            api_refund,
            (self.local(now), now),
            line_items,
        );
        self.refunds
            .entry(order_id)
            .or_default()
            .push(refund.clone());
        let summary =
            json!({ "id": refund_id, "reason": reason, "total": format!("-{amount:.2}") });
        match order.get_mut("refunds").and_then(Value::as_array_mut) {
            Some(refunds) => refunds.insert(0, summary),
            None => order["refunds"] = json!([summary]),
        }
        if already + amount == total {
            self.apply_status(order_id, &mut order, "refunded");
        }
        let (_, deliveries) = self.save_changed_order(order, "order.updated")?;
        Ok((refund, deliveries))
    }

    fn refund_lines(&mut self, order: &Value, request: &Value) -> Vec<Value> {
        let Some(requested) = request.get("line_items").and_then(Value::as_array) else {
            return Vec::new();
        };
        let empty = Vec::new();
        let order_lines = order
            .get("line_items")
            .and_then(Value::as_array)
            .unwrap_or(&empty);
        let mut lines = Vec::new();
        for entry in requested {
            let Some(item_id) = entry.get("id").and_then(Value::as_u64) else {
                continue;
            };
            let Some(original) = order_lines
                .iter()
                .find(|line| line.get("id").and_then(Value::as_u64) == Some(item_id))
            else {
                continue;
            };
            let decimal_of = |value: Option<&Value>| -> Decimal {
                match value {
                    Some(Value::String(text)) => parse_decimal(text).unwrap_or_default(),
                    Some(Value::Number(number)) => {
                        parse_decimal(&number.to_string()).unwrap_or_default()
                    }
                    _ => Decimal::ZERO,
                }
            };
            let quantity = decimal_of(entry.get("quantity"));
            let refund_total = round_money(decimal_of(entry.get("refund_total")), 2);
            let taxes: Vec<Value> = entry
                .get("refund_tax")
                .and_then(Value::as_array)
                .map(|taxes| {
                    taxes
                        .iter()
                        .map(|tax| {
                            let amount = round_money(decimal_of(tax.get("refund_total")), 2);
                            json!({ "id": tax.get("id").cloned().unwrap_or(json!(0)),
                                    "total": format!("{:.2}", -amount),
                                    "subtotal": format!("{:.2}", -amount) })
                        })
                        .collect()
                })
                .unwrap_or_default();
            let tax_sum: Decimal = entry
                .get("refund_tax")
                .and_then(Value::as_array)
                .map(|taxes| {
                    taxes
                        .iter()
                        .map(|tax| round_money(decimal_of(tax.get("refund_total")), 2))
                        .sum()
                })
                .unwrap_or_default();
            let id = self.next_item_id;
            self.next_item_id += 1;
            let meta_id = self.take_meta_id();
            let price = if quantity.is_zero() {
                Decimal::ZERO
            } else {
                refund_total / quantity
            };
            lines.push(json!({
                "id": id,
                "name": original.get("name").cloned().unwrap_or(json!("")),
                "product_id": original.get("product_id").cloned().unwrap_or(json!(0)),
                "variation_id": original.get("variation_id").cloned().unwrap_or(json!(0)),
                "quantity": -quantity.trunc().to_string().parse::<i64>().unwrap_or(0),
                "tax_class": original.get("tax_class").cloned().unwrap_or(json!("")),
                "subtotal": format!("{:.2}", -refund_total),
                "subtotal_tax": format!("{:.2}", -tax_sum),
                "total": format!("{:.2}", -refund_total),
                "total_tax": format!("{:.2}", -tax_sum),
                "taxes": taxes,
                "meta_data": [{ "id": meta_id, "key": "_refunded_item_id", "value": item_id.to_string(),
                                "display_key": "_refunded_item_id", "display_value": item_id.to_string() }],
                "sku": original.get("sku").cloned().unwrap_or(Value::Null),
                "global_unique_id": "",
                "price": decimal_number(round_money(price, 2)),
                "image": { "id": "", "src": "" },
                "parent_name": original.get("parent_name").cloned().unwrap_or(Value::Null),
            }));
        }
        lines
    }
}

/// A refund resource as WooCommerce returns it.
#[allow(clippy::too_many_arguments)]
pub fn refund_value(
    base_url: &str,
    order_id: u64,
    refund_id: u64,
    amount: Decimal,
    reason: &str,
    refunded_payment: bool,
    (local, gmt): (NaiveDateTime, NaiveDateTime),
    line_items: Vec<Value>,
) -> Value {
    json!({
        "id": refund_id,
        "date_created": local.format(DATE_FORMAT).to_string(),
        "date_created_gmt": gmt.format(DATE_FORMAT).to_string(),
        "amount": format!("{amount:.2}"),
        "reason": reason,
        "refunded_by": 1,
        "refunded_payment": refunded_payment,
        "meta_data": [],
        "line_items": line_items,
        "shipping_lines": [],
        "tax_lines": [],
        "fee_lines": [],
        "_links": {
            "self": [{ "href": format!("{base_url}/wp-json/wc/v3/orders/{order_id}/refunds/{refund_id}") }],
            "collection": [{ "href": format!("{base_url}/wp-json/wc/v3/orders/{order_id}/refunds") }],
            "up": [{ "href": format!("{base_url}/wp-json/wc/v3/orders/{order_id}") }]
        }
    })
}

/// A decimal as a JSON number, as WooCommerce sends `price` (e.g. `11.25`, `10`).
pub fn decimal_number(value: Decimal) -> Value {
    let normalized = value.normalize();
    serde_json::from_str(&normalized.to_string()).unwrap_or(json!(0))
}

/// The label WooCommerce uses in status-change notes.
pub fn status_label(status: &str) -> &str {
    match status {
        "pending" => "Pending payment",
        "processing" => "Processing",
        "on-hold" => "On hold",
        "completed" => "Completed",
        "cancelled" => "Cancelled",
        "refunded" => "Refunded",
        "failed" => "Failed",
        "checkout-draft" => "Draft",
        "trash" => "Trash",
        other => other,
    }
}
