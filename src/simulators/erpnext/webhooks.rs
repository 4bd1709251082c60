//! Delivery of Webhook documents, as ERPNext's background worker does it:
//! after the request commits, one job per (webhook, document), in order, with
//! up to 3 attempts (sleeping 1 s and 4 s between), signed with
//! `X-Frappe-Webhook-Signature = base64(HMAC-SHA256(secret, body))`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{mpsc, watch};

use super::engine::DocEvent;
use super::error::{python_json, python_json_sorted};
use super::values::{text_of, Doc};
use crate::erpnext::webhook::{signature, SIGNATURE_HEADER};

/// One queued delivery.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub webhook: String,
    pub document: String,
    pub url: String,
    pub method: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub timeout: Duration,
}

/// One attempt, as the Webhook Request Log records it.
#[derive(Debug, Clone)]
pub struct DeliveryRecord {
    pub webhook: String,
    pub document: String,
    pub url: String,
    pub body: String,
    /// HTTP status of the receiver's answer, or `None` when it could not be reached.
    pub status: Option<u16>,
    pub error: Option<String>,
}

/// The queue to the single delivery worker, and the log of attempts.
pub struct Outbox {
    sender: mpsc::UnboundedSender<Delivery>,
    log: Arc<Mutex<Vec<DeliveryRecord>>>,
    /// Deliveries queued or being attempted, watched by whoever waits for them to settle.
    pending: Arc<watch::Sender<usize>>,
}

impl Outbox {
    pub fn start() -> Outbox {
        let (sender, receiver) = mpsc::unbounded_channel();
        let log = Arc::new(Mutex::new(Vec::new()));
        let pending = Arc::new(watch::Sender::new(0));
        tokio::spawn(deliver_all(receiver, log.clone(), pending.clone()));
        Outbox {
            sender,
            log,
            pending,
        }
    }

    /// Waits until every queued delivery has had its last attempt logged.
    pub async fn settled(&self) {
        let mut pending = self.pending.subscribe();
        // The sender lives as long as the outbox; a closed channel has nothing left to wait for.
        let _ = pending.wait_for(|count| *count == 0).await;
    }

    pub fn log(&self) -> Vec<DeliveryRecord> {
        self.log
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    pub fn enqueue(&self, deliveries: Vec<Delivery>) {
        for delivery in deliveries {
            self.pending.send_modify(|count| *count += 1);
            // The worker lives as long as the simulator; a closed queue means shutdown.
            if self.sender.send(delivery).is_err() {
                self.pending
                    .send_modify(|count| *count = count.saturating_sub(1));
            }
        }
    }
}

/// Turns the events of one request into deliveries: per (webhook, document)
/// the last state wins; different webhooks for one document all fire.
pub fn plan(
    events: Vec<DocEvent>,
    webhooks_for: impl Fn(&str, &str, &Doc) -> Vec<(String, Doc, Option<String>)>,
) -> Vec<Delivery> {
    let mut deliveries: Vec<Delivery> = Vec::new();
    // One request raises several events carrying the same document, and the
    // `{{ doc | tojson }}` body of a large Sales Order is costly to write:
    // each distinct document is written once.
    let mut document_json: Vec<(&Doc, String)> = Vec::new();
    for event in &events {
        for (webhook_name, webhook, secret) in webhooks_for(&event.doctype, event.event, &event.doc)
        {
            let document = text_of(&event.doc, "name");
            let Some(delivery) = build(
                &webhook_name,
                &webhook,
                secret.as_deref(),
                &event.doc,
                &mut document_json,
            ) else {
                continue;
            };
            deliveries
                .retain(|queued| !(queued.webhook == webhook_name && queued.document == document));
            deliveries.push(delivery);
        }
    }
    deliveries
}

fn build<'a>(
    webhook_name: &str,
    webhook: &Doc,
    secret: Option<&str>,
    doc: &'a Doc,
    document_json: &mut Vec<(&'a Doc, String)>,
) -> Option<Delivery> {
    let body = if text_of(webhook, "request_structure") == "JSON" {
        let template = text_of(webhook, "webhook_json");
        let compact: String = template.chars().filter(|c| !c.is_whitespace()).collect();
        if compact.is_empty() || compact == "{{doc|tojson}}" {
            let same = |written: &Doc| std::ptr::eq(written, doc) || written == doc;
            match document_json.iter().find(|(written, _)| same(written)) {
                Some((_, json)) => json.clone(),
                None => {
                    let json = python_json_sorted(&Value::Object(doc.clone()));
                    document_json.push((doc, json.clone()));
                    json
                }
            }
        } else {
            let rendered = render_template(&template, doc);
            match serde_json::from_str::<Value>(&rendered) {
                Ok(value) => python_json(&value),
                Err(_) => rendered,
            }
        }
    } else {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        for row in super::values::rows(webhook, "webhook_data") {
            let fieldname = text_of(row, "fieldname");
            let key = text_of(row, "key");
            form.append_pair(
                &key,
                &super::query::text(doc.get(&fieldname).unwrap_or(&Value::Null)),
            );
        }
        form.finish()
    };
    let mut headers: Vec<(String, String)> = super::values::rows(webhook, "webhook_headers")
        .iter()
        .map(|row| (text_of(row, "key"), text_of(row, "value")))
        .filter(|(key, _)| !key.is_empty())
        .collect();
    if text_of(webhook, "request_structure") != "JSON"
        && !headers
            .iter()
            .any(|(key, _)| key.eq_ignore_ascii_case("content-type"))
    {
        headers.push((
            "Content-Type".to_string(),
            "application/x-www-form-urlencoded".to_string(),
        ));
    }
    if let Some(secret) = secret {
        headers.push((
            SIGNATURE_HEADER.to_string(),
            signature(secret, body.as_bytes()),
        ));
    }
    let timeout = super::values::int_of(webhook, "timeout").max(1) as u64;
    Some(Delivery {
        webhook: webhook_name.to_string(),
        document: text_of(doc, "name"),
        url: text_of(webhook, "request_url"),
        method: {
            let method = text_of(webhook, "request_method");
            if method.is_empty() {
                "POST".to_string()
            } else {
                method
            }
        },
        headers,
        body: body.into_bytes(),
        timeout: Duration::from_secs(timeout),
    })
}

/// `{{ doc.field }}` placeholders; other Jinja is left as written.
fn render_template(template: &str, doc: &Doc) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        let expression = rest[start + 2..start + end].trim();
        match expression.strip_prefix("doc.") {
            // Jinja prints Python's `str()`: a missing value is "None".
            Some(field) => match doc.get(field.trim()).unwrap_or(&Value::Null) {
                Value::Null => out.push_str("None"),
                value => out.push_str(&super::query::text(value)),
            },
            None => out.push_str(&rest[start..start + end + 2]),
        }
        rest = &rest[start + end + 2..];
    }
    out.push_str(rest);
    out
}

async fn deliver_all(
    mut receiver: mpsc::UnboundedReceiver<Delivery>,
    log: Arc<Mutex<Vec<DeliveryRecord>>>,
    pending: Arc<watch::Sender<usize>>,
) {
    let client = reqwest::Client::new();
    while let Some(delivery) = receiver.recv().await {
        for attempt in 1..=3u32 {
            let method = reqwest::Method::from_bytes(delivery.method.as_bytes())
                .unwrap_or(reqwest::Method::POST);
            let mut request = client
                .request(method, &delivery.url)
                .timeout(delivery.timeout)
                .body(delivery.body.clone());
            for (key, value) in &delivery.headers {
                request = request.header(key, value);
            }
            let (status, error, timed_out) = match request.send().await {
                Ok(response) => {
                    let status = response.status();
                    let failed = !status.is_success();
                    (
                        Some(status.as_u16()),
                        failed.then(|| format!("HTTP {status}")),
                        false,
                    )
                }
                Err(error) => (None, Some(error.to_string()), error.is_timeout()),
            };
            let succeeded = error.is_none();
            log.lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .push(DeliveryRecord {
                    webhook: delivery.webhook.clone(),
                    document: delivery.document.clone(),
                    url: delivery.url.clone(),
                    body: String::from_utf8_lossy(&delivery.body).into_owned(),
                    status,
                    error,
                });
            if succeeded || attempt == 3 {
                // Settled once its last attempt is logged.
                pending.send_modify(|count| *count = count.saturating_sub(1));
                break;
            }
            // Recorded: 1 s then 4 s after an HTTP or connection error; at once after a timeout.
            if !timed_out {
                let pause = if attempt == 1 { 1 } else { 4 };
                tokio::time::sleep(Duration::from_secs(pause)).await;
            }
        }
    }
}
