//! OAuth 1.0a "one-legged" signing, exactly as WooCommerce checks it over plain
//! HTTP (`class-wc-rest-authentication.php`): every query parameter is signed,
//! keys are sorted raw, the key is `consumer_secret + "&"`. The simulator
//! verifies with the same functions, so client and server share one truth.

use base64::Engine;
use hmac::{Hmac, Mac};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// PHP's `rawurlencode` (RFC 3986): everything but `A-Z a-z 0-9 - _ . ~` is escaped.
const RFC3986: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

pub fn rfc3986_encode(text: &str) -> String {
    utf8_percent_encode(text, RFC3986).to_string()
}

/// The two methods WooCommerce accepts; anything else is "signature method is invalid".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureMethod {
    HmacSha1,
    HmacSha256,
}

impl SignatureMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            SignatureMethod::HmacSha1 => "HMAC-SHA1",
            SignatureMethod::HmacSha256 => "HMAC-SHA256",
        }
    }

    pub fn parse(text: &str) -> Option<SignatureMethod> {
        match text {
            "HMAC-SHA1" => Some(SignatureMethod::HmacSha1),
            "HMAC-SHA256" => Some(SignatureMethod::HmacSha256),
            _ => None,
        }
    }
}

/// `METHOD&enc(base_url)&enc(k1=v1&k2=v2...)` with params sorted by raw key.
/// Duplicate keys must already be collapsed (PHP keeps the last one).
pub fn signature_base_string(method: &str, base_url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort_by(|left, right| left.0.as_bytes().cmp(right.0.as_bytes()));
    let joined = sorted
        .iter()
        .map(|(key, value)| format!("{}={}", rfc3986_encode(key), rfc3986_encode(value)))
        .collect::<Vec<_>>()
        .join("&");
    format!(
        "{}&{}&{}",
        method.to_ascii_uppercase(),
        rfc3986_encode(base_url),
        rfc3986_encode(&joined)
    )
}

/// base64(HMAC(consumer_secret + "&", base string)).
pub fn sign(method: SignatureMethod, consumer_secret: &str, base_string: &str) -> String {
    let key = format!("{consumer_secret}&");
    let raw = match method {
        SignatureMethod::HmacSha1 => {
            let mut mac = Hmac::<sha1::Sha1>::new_from_slice(key.as_bytes())
                .expect("HMAC accepts keys of any length");
            mac.update(base_string.as_bytes());
            mac.finalize().into_bytes().to_vec()
        }
        SignatureMethod::HmacSha256 => {
            let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes())
                .expect("HMAC accepts keys of any length");
            mac.update(base_string.as_bytes());
            mac.finalize().into_bytes().to_vec()
        }
    };
    base64::engine::general_purpose::STANDARD.encode(raw)
}

/// The URL WooCommerce signs against: scheme, host, port (when not the default) and
/// path, without query.
pub fn signing_base_url(url: &url::Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{}://{}:{}{}", url.scheme(), host, port, url.path()),
        None => format!("{}://{}{}", url.scheme(), host, url.path()),
    }
}

/// The credentials and method a request is signed with.
pub struct OAuthSigner<'a> {
    pub consumer_key: &'a str,
    pub consumer_secret: &'a str,
    pub signature_method: SignatureMethod,
}

impl OAuthSigner<'_> {
    /// Adds `oauth_*` parameters and the signature to `params` (the request's own
    /// query parameters), returning the full list to send as the query string.
    pub fn signed_query(
        &self,
        http_method: &str,
        url: &url::Url,
        params: &[(String, String)],
        timestamp: u64,
        nonce: &str,
    ) -> Vec<(String, String)> {
        let mut all: Vec<(String, String)> = params.to_vec();
        all.push(("oauth_consumer_key".into(), self.consumer_key.into()));
        all.push(("oauth_nonce".into(), nonce.into()));
        all.push((
            "oauth_signature_method".into(),
            self.signature_method.as_str().into(),
        ));
        all.push(("oauth_timestamp".into(), timestamp.to_string()));
        let base = signature_base_string(http_method, &signing_base_url(url), &all);
        let signature = sign(self.signature_method, self.consumer_secret, &base);
        all.push(("oauth_signature".into(), signature));
        all
    }
}

/// 32 random hex characters, like the recorded clients send.
pub fn new_nonce() -> String {
    use rand::Rng;
    let bytes: [u8; 16] = rand::thread_rng().gen();
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rawurlencode_keeps_only_unreserved() {
        assert_eq!(rfc3986_encode("a b:c/~_-.+"), "a%20b%3Ac%2F~_-.%2B");
    }
}
