//! Checking what WooCommerce posts to our webhook receiver: the creation ping
//! (form body `webhook_id=N`, unsigned) or a delivery signed with
//! base64(HMAC-SHA256(secret, raw body)), compared in constant time over the
//! raw bytes — never over re-serialised JSON.

use axum::http::HeaderMap;
use base64::Engine;
use hmac::{Hmac, Mac};

type HmacSha256 = Hmac<sha2::Sha256>;

/// The `X-WC-Webhook-*` headers of a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookHeaders {
    /// e.g. `order.updated`.
    pub topic: String,
    /// e.g. `order`.
    pub resource: String,
    /// e.g. `updated`.
    pub event: String,
    pub webhook_id: u64,
    /// 32 hex characters; repeats within a second, so not a unique key.
    pub delivery_id: String,
    /// The store's home URL with a trailing slash.
    pub source: String,
    pub signature: String,
}

impl WebhookHeaders {
    /// The headers as WooCommerce sends them, what [`parse_headers`] reads back (the simulator
    /// delivers with these).
    pub fn to_pairs(&self) -> Vec<(&'static str, String)> {
        vec![
            ("X-WC-Webhook-Source", self.source.clone()),
            ("X-WC-Webhook-Topic", self.topic.clone()),
            ("X-WC-Webhook-Resource", self.resource.clone()),
            ("X-WC-Webhook-Event", self.event.clone()),
            ("X-WC-Webhook-Signature", self.signature.clone()),
            ("X-WC-Webhook-ID", self.webhook_id.to_string()),
            ("X-WC-Webhook-Delivery-ID", self.delivery_id.clone()),
        ]
    }
}

/// What arrived at the receiver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookRequest {
    /// Sent once when a webhook is created; answer 200 or WooCommerce reports an error.
    Ping { webhook_id: u64 },
    /// A verified delivery; the body is the resource's JSON (`{"id": N}` for `*.deleted`).
    Delivery { headers: WebhookHeaders },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("the webhook request has no {0} header; it did not come from WooCommerce")]
    MissingHeader(&'static str),
    #[error("the webhook header {name} is not valid: {value:?}")]
    BadHeader { name: &'static str, value: String },
    #[error("the webhook signature does not match the body; check the webhook secret configured for this connection")]
    BadSignature,
}

/// base64(HMAC-SHA256(secret, body)), as WooCommerce signs.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac =
        HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(body);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Constant-time check of a received `X-WC-Webhook-Signature`.
pub fn verify_signature(secret: &str, body: &[u8], received: &str) -> Result<(), WebhookError> {
    let expected = base64::engine::general_purpose::STANDARD
        .decode(received.trim())
        .map_err(|_| WebhookError::BadSignature)?;
    let mut mac =
        HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(body);
    mac.verify_slice(&expected)
        .map_err(|_| WebhookError::BadSignature)
}

/// The creation ping: a form body of exactly `webhook_id=<integer>` and no signature.
pub fn ping_webhook_id(headers: &HeaderMap, body: &[u8]) -> Option<u64> {
    if headers.contains_key("x-wc-webhook-signature") {
        return None;
    }
    let text = std::str::from_utf8(body).ok()?.trim();
    let id = text.strip_prefix("webhook_id=")?;
    id.parse().ok()
}

/// Classifies and verifies one request: a ping, or a delivery whose signature matches.
pub fn verify_request(
    secret: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<WebhookRequest, WebhookError> {
    if let Some(webhook_id) = ping_webhook_id(headers, body) {
        return Ok(WebhookRequest::Ping { webhook_id });
    }
    let parsed = parse_headers(headers)?;
    verify_signature(secret, body, &parsed.signature)?;
    Ok(WebhookRequest::Delivery { headers: parsed })
}

/// Reads the `X-WC-Webhook-*` headers (without checking the signature).
pub fn parse_headers(headers: &HeaderMap) -> Result<WebhookHeaders, WebhookError> {
    let text = |name: &'static str| -> Result<String, WebhookError> {
        let value = headers.get(name).ok_or(WebhookError::MissingHeader(name))?;
        value
            .to_str()
            .map(|value| value.trim().to_string())
            .map_err(|_| WebhookError::BadHeader {
                name,
                value: String::from_utf8_lossy(value.as_bytes()).into_owned(),
            })
    };
    let id_text = text("X-WC-Webhook-ID")?;
    let webhook_id = id_text.parse().map_err(|_| WebhookError::BadHeader {
        name: "X-WC-Webhook-ID",
        value: id_text.clone(),
    })?;
    Ok(WebhookHeaders {
        signature: text("X-WC-Webhook-Signature")?,
        topic: text("X-WC-Webhook-Topic")?,
        resource: text("X-WC-Webhook-Resource").unwrap_or_default(),
        event: text("X-WC-Webhook-Event").unwrap_or_default(),
        webhook_id,
        delivery_id: text("X-WC-Webhook-Delivery-ID").unwrap_or_default(),
        source: text("X-WC-Webhook-Source").unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_headers_written_are_the_headers_read() {
        let sent = WebhookHeaders {
            topic: "order.updated".into(),
            resource: "order".into(),
            event: "updated".into(),
            webhook_id: 7,
            delivery_id: "0123456789abcdef0123456789abcdef".into(),
            source: "http://shop.example/".into(),
            signature: signature("secret", b"{}"),
        };
        let mut headers = HeaderMap::new();
        for (name, value) in sent.to_pairs() {
            headers.insert(name, value.parse().unwrap());
        }
        assert_eq!(parse_headers(&headers).unwrap(), sent);
        assert_eq!(
            verify_request("secret", &headers, b"{}").unwrap(),
            WebhookRequest::Delivery { headers: sent }
        );
    }
}
