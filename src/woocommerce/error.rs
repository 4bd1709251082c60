//! Every way a WooCommerce call can fail, classified once: `is_retryable()`
//! is the only place that decides whether trying again can help. Messages
//! name the method and the API path (never the query string, which may carry
//! keys or an OAuth signature).

use std::time::Duration;

use super::types::ErrorBody;

#[derive(Debug, thiserror::Error)]
pub enum WooError {
    /// WooCommerce answered with its JSON error body.
    #[error("WooCommerce rejected {request}: {status} {code}: {message}")]
    Api {
        /// Method and API path, e.g. `GET /orders/17`.
        request: String,
        status: u16,
        code: String,
        message: String,
        /// WooCommerce's `data` (`{"status": N, "params": ...}`, or a bare integer).
        data: Box<serde_json::Value>,
        retry_after: Option<Duration>,
    },
    /// Something in front of WordPress (host, WAF, proxy) answered with a page
    /// that is not WooCommerce JSON, typically a 429/503 HTML page.
    #[error("WooCommerce's server answered {method} {path} with HTTP {status} and a non-JSON page: {excerpt}")]
    NotJson {
        method: String,
        path: String,
        status: u16,
        excerpt: String,
        retry_after: Option<Duration>,
    },
    /// A success status whose body is not what this endpoint returns.
    #[error("WooCommerce answered {method} {path} with HTTP {status} but the body is not valid: {detail}")]
    BadResponse {
        method: String,
        path: String,
        status: u16,
        detail: String,
    },
    #[error("WooCommerce did not answer {method} {path} within {timeout:?}; check the store is up or raise the timeout")]
    Timeout {
        method: String,
        path: String,
        timeout: Duration,
    },
    /// Connection refused or reset, DNS, TLS, or a response cut off mid-way:
    /// a write may or may not have been applied.
    #[error("could not talk to WooCommerce for {method} {path}: {detail}")]
    Transport {
        method: String,
        path: String,
        detail: String,
    },
    /// The request could not be built (bad configuration or arguments).
    #[error("invalid WooCommerce request: {0}")]
    InvalidRequest(String),
}

impl WooError {
    /// 429, 5xx, timeouts and connection errors may succeed on a later attempt.
    pub fn is_retryable(&self) -> bool {
        match self {
            WooError::Api { status, .. } | WooError::NotJson { status, .. } => {
                *status == 429 || *status >= 500
            }
            WooError::BadResponse { status, .. } => *status >= 500,
            WooError::Timeout { .. } | WooError::Transport { .. } => true,
            WooError::InvalidRequest(_) => false,
        }
    }

    /// The HTTP status, when the server answered at all.
    pub fn status(&self) -> Option<u16> {
        match self {
            WooError::Api { status, .. }
            | WooError::NotJson { status, .. }
            | WooError::BadResponse { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// WooCommerce's error code (`woocommerce_rest_shop_order_invalid_id`, ...).
    pub fn code(&self) -> Option<&str> {
        match self {
            WooError::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    /// How long the server asked us to wait (`Retry-After`), if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            WooError::Api { retry_after, .. } | WooError::NotJson { retry_after, .. } => {
                *retry_after
            }
            _ => None,
        }
    }

    /// A missing object: 404 on GET; WooCommerce answers 400 with the same
    /// `*_invalid_id` code on updates.
    pub fn is_not_found(&self) -> bool {
        match self {
            WooError::Api { status, code, .. } => {
                *status == 404 || (*status == 400 && code.ends_with("_invalid_id"))
            }
            _ => false,
        }
    }

    /// What the operator can do about it, for the UI and the sync log.
    pub fn advice(&self) -> Option<&'static str> {
        match self {
            WooError::Api { status: 401, .. } => Some(
                "check the connection's consumer key and secret (WooCommerce → Settings → Advanced → REST API) \
                 and that the key has read/write permission; over plain http:// only OAuth 1.0a works",
            ),
            WooError::Api { status: 404, code, .. } if code == "rest_no_route" => Some(
                "check the store URL and that WordPress permalinks are not set to \"Plain\"",
            ),
            WooError::Api { status: 429, .. }
            | WooError::NotJson { status: 429, .. }
            | WooError::NotJson { status: 503, .. } => {
                Some("the store's host is throttling; the call is retried later with backoff")
            }
            WooError::Timeout { .. } | WooError::Transport { .. } => Some(
                "the store did not answer; a write may have been applied, so it is looked up before being repeated",
            ),
            _ => None,
        }
    }

    /// Builds the error for a non-success answer from its status and raw body.
    pub(crate) fn from_response(
        method: &str,
        path: &str,
        status: u16,
        body: &[u8],
        retry_after: Option<Duration>,
    ) -> WooError {
        match serde_json::from_slice::<ErrorBody>(body) {
            Ok(error) => WooError::Api {
                request: format!("{method} {path}"),
                status,
                code: error.code,
                message: error.message,
                data: Box::new(error.data),
                retry_after,
            },
            Err(_) => WooError::NotJson {
                method: method.to_string(),
                path: path.to_string(),
                status,
                excerpt: excerpt(body),
                retry_after,
            },
        }
    }
}

/// The first 200 characters of a body, on one line, for error messages.
pub(crate) fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.is_empty() {
        return "(empty body)".to_string();
    }
    let mut cut: String = flat.chars().take(200).collect();
    if flat.chars().count() > 200 {
        cut.push('…');
    }
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_reads_like_a_sentence() {
        let body = br#"{"code":"woocommerce_rest_shop_order_invalid_id","message":"Invalid ID.","data":{"status":404}}"#;
        let error = WooError::from_response("GET", "/orders/17", 404, body, None);
        assert_eq!(
            error.to_string(),
            "WooCommerce rejected GET /orders/17: 404 woocommerce_rest_shop_order_invalid_id: Invalid ID."
        );
        assert!(!error.is_retryable());
        assert!(error.is_not_found());
        assert_eq!(error.advice(), None);
        let body = br#"{"code":"woocommerce_rest_cannot_view","message":"Sorry, you cannot list resources.","data":{"status":401}}"#;
        let error = WooError::from_response("GET", "/orders", 401, body, None);
        assert!(error
            .advice()
            .is_some_and(|advice| advice.contains("consumer key")));
    }

    #[test]
    fn html_pages_keep_status_and_an_excerpt() {
        let body =
            b"<html>\n<head><title>503 Service Temporarily Unavailable</title></head></html>";
        let error =
            WooError::from_response("GET", "/orders", 503, body, Some(Duration::from_secs(1)));
        assert!(error.is_retryable());
        assert_eq!(error.status(), Some(503));
        assert!(error
            .to_string()
            .contains("503 Service Temporarily Unavailable"));
        assert_eq!(error.retry_after(), Some(Duration::from_secs(1)));
    }

    #[test]
    fn refund_errors_with_a_bare_integer_data_parse() {
        let body = br#"{"code":"woocommerce_rest_cannot_create_order_refund","message":"Invalid refund amount.","data":500}"#;
        let error = WooError::from_response("POST", "/orders/21/refunds", 500, body, None);
        assert_eq!(
            error.code(),
            Some("woocommerce_rest_cannot_create_order_refund")
        );
    }
}
