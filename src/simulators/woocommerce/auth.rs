//! Server-side authentication, in WooCommerce's order: over "HTTPS" (the
//! default, as behind a TLS-terminating proxy) query keys then Basic, then
//! OAuth; over plain HTTP only OAuth 1.0a. An unknown key is not an error —
//! the request runs anonymously and fails later with `cannot_view`.

use std::collections::BTreeMap;

use axum::http::HeaderMap;
use base64::Engine;

use super::state::{ApiError, ApiKey, Shop};
use crate::woocommerce::oauth::{sign, signature_base_string, SignatureMethod};

/// How long a nonce is remembered and how far a timestamp may be off.
const OAUTH_WINDOW_SECONDS: i64 = 900;

/// The request facts authentication needs.
pub struct AuthRequest<'a> {
    pub method: &'a str,
    /// `127.0.0.1:8081`, from the `Host` header.
    pub host: &'a str,
    pub path: &'a str,
    /// Query (and form) parameters, duplicates collapsed last-wins.
    pub params: &'a BTreeMap<String, String>,
    pub headers: &'a HeaderMap,
    pub plain_http: bool,
}

fn authentication_error(message: &str) -> ApiError {
    ApiError::new(401, "woocommerce_rest_authentication_error", message)
}

/// `Ok(Some(key))` authenticated, `Ok(None)` anonymous, `Err` a 401 to send.
pub fn authenticate(
    shop: &mut Shop,
    request: &AuthRequest<'_>,
) -> Result<Option<ApiKey>, ApiError> {
    if !request.plain_http {
        let from_query = request
            .params
            .get("consumer_key")
            .zip(request.params.get("consumer_secret"))
            .map(|(key, secret)| (key.clone(), secret.clone()));
        if let Some((key, secret)) = from_query.or_else(|| basic_credentials(request.headers)) {
            if let Some(known) = shop.keys.iter().find(|known| known.consumer_key == key) {
                if known.consumer_secret == secret {
                    return Ok(Some(known.clone()));
                }
                return Err(authentication_error("Consumer secret is invalid."));
            }
        }
    }
    oauth(shop, request)
}

fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get("authorization")?.to_str().ok()?;
    let encoded = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (key, secret) = text.split_once(':')?;
    Some((key.to_string(), secret.to_string()))
}

/// `Authorization: OAuth k="v", ...` parameters (realm dropped).
fn header_oauth_params(headers: &HeaderMap) -> BTreeMap<String, String> {
    let mut params = BTreeMap::new();
    let Some(value) = headers
        .get("authorization")
        .and_then(|value| value.to_str().ok())
    else {
        return params;
    };
    let Some(rest) = value.strip_prefix("OAuth ") else {
        return params;
    };
    for part in rest.split(',') {
        let Some((key, value)) = part.trim().split_once('=') else {
            continue;
        };
        let key = key.trim();
        if !key.starts_with("oauth_") {
            continue;
        }
        let value = value.trim().trim_matches('"');
        let decoded = percent_encoding::percent_decode_str(value)
            .decode_utf8_lossy()
            .into_owned();
        params.insert(key.to_string(), decoded);
    }
    params
}

fn oauth(shop: &mut Shop, request: &AuthRequest<'_>) -> Result<Option<ApiKey>, ApiError> {
    let mut params = request.params.clone();
    params.extend(header_oauth_params(request.headers));
    const REQUIRED: [&str; 5] = [
        "oauth_consumer_key",
        "oauth_timestamp",
        "oauth_nonce",
        "oauth_signature",
        "oauth_signature_method",
    ];
    let missing: Vec<&str> = REQUIRED
        .iter()
        .copied()
        .filter(|name| !params.contains_key(*name))
        .collect();
    if missing.len() == REQUIRED.len() {
        return Ok(None);
    }
    if !missing.is_empty() {
        return Err(ApiError::new(
            401,
            "woocommerce_rest_authentication_missing_parameter",
            &format!("Missing OAuth parameters {}", missing.join(", ")),
        ));
    }
    let consumer_key = params["oauth_consumer_key"].clone();
    let Some(key) = shop
        .keys
        .iter()
        .find(|known| known.consumer_key == consumer_key)
        .cloned()
    else {
        return Err(authentication_error("Consumer key is invalid."));
    };
    let Some(method) = SignatureMethod::parse(&params["oauth_signature_method"]) else {
        return Err(authentication_error(
            "Invalid signature - signature method is invalid.",
        ));
    };
    let received = params["oauth_signature"].replace(' ', "+");
    let received = percent_encoding::percent_decode_str(&received)
        .decode_utf8_lossy()
        .into_owned();
    let signed: Vec<(String, String)> = params
        .iter()
        .filter(|(name, _)| name.as_str() != "oauth_signature")
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    // Behind a TLS proxy the store's home URL is https; over plain HTTP it is http.
    let schemes: &[&str] = if request.plain_http {
        &["http"]
    } else {
        &["https", "http"]
    };
    let matches = schemes.iter().any(|scheme| {
        let base_url = format!("{scheme}://{}{}", request.host, request.path);
        let base = signature_base_string(request.method, &base_url, &signed);
        sign(method, &key.consumer_secret, &base) == received
    });
    if !matches {
        return Err(authentication_error(
            "Invalid signature - provided signature does not match.",
        ));
    }
    let timestamp: i64 = params["oauth_timestamp"].parse().unwrap_or(0);
    let now = shop.now_gmt().and_utc().timestamp();
    if (now - timestamp).abs() > OAUTH_WINDOW_SECONDS {
        return Err(authentication_error("Invalid timestamp."));
    }
    shop.nonces
        .retain(|_, seen| now - *seen <= OAUTH_WINDOW_SECONDS);
    let nonce_key = (consumer_key, params["oauth_nonce"].clone());
    if shop.nonces.contains_key(&nonce_key) {
        return Err(authentication_error(
            "Invalid nonce - nonce has already been used.",
        ));
    }
    shop.nonces.insert(nonce_key, timestamp);
    Ok(Some(key))
}
