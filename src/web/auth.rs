//! Login for the web UI: one admin password, checked in constant time, and a
//! session cookie signed with HMAC (HttpOnly, SameSite=Strict). The cookie
//! carries a per-session CSRF token that every form posts back; SameSite=Strict
//! already keeps other sites' forms from carrying the cookie, the token is the
//! second lock.

use axum::extract::FromRequestParts;
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::Rng;

use super::WebState;
use crate::secrets::SecretKey;

type HmacSha256 = Hmac<sha2::Sha256>;

pub const COOKIE_NAME: &str = "woocommerce_sync_session";
const SESSION_SECONDS: i64 = 12 * 3600;

/// The admin password (as a keyed digest, never in clear) and the cookie key.
pub struct AdminAuth {
    password_key: [u8; 32],
    password_digest: Vec<u8>,
    session_key: Vec<u8>,
}

impl std::fmt::Debug for AdminAuth {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("AdminAuth(***)")
    }
}

/// A logged-in browser.
#[derive(Debug, Clone)]
pub struct Session {
    pub csrf_token: String,
}

impl AdminAuth {
    pub fn new(secret_key: &SecretKey, admin_password: &str) -> AdminAuth {
        let password_key = secret_key.derive("woocommerce-sync admin password");
        let password_digest = keyed_digest(&password_key, admin_password.as_bytes());
        // Bound to the password too: changing it logs every browser out.
        let session_key = keyed_digest(
            &secret_key.derive("woocommerce-sync web session"),
            admin_password.as_bytes(),
        );
        AdminAuth {
            password_key,
            password_digest,
            session_key,
        }
    }

    /// Constant time: both sides are digests of equal length, compared by `verify_slice`.
    pub fn password_matches(&self, candidate: &str) -> bool {
        let mut mac = mac_with(&self.password_key);
        mac.update(candidate.as_bytes());
        mac.verify_slice(&self.password_digest).is_ok()
    }

    /// A fresh session: the `Set-Cookie` value.
    pub fn new_session_cookie(&self) -> String {
        let token: [u8; 24] = rand::thread_rng().gen();
        let expires = chrono::Utc::now().timestamp() + SESSION_SECONDS;
        let payload = format!("{expires}.{}", URL_SAFE_NO_PAD.encode(token));
        let signature = URL_SAFE_NO_PAD.encode(keyed_digest(&self.session_key, payload.as_bytes()));
        format!(
            "{COOKIE_NAME}={payload}.{signature}; Path=/; HttpOnly; SameSite=Strict; Max-Age={SESSION_SECONDS}"
        )
    }

    /// The session in the request's cookie, when it is signed by us and not expired.
    pub fn session(&self, headers: &HeaderMap) -> Option<Session> {
        let value = headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|header| header.to_str().ok())
            .flat_map(|header| header.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(name, _)| *name == COOKIE_NAME)
            .map(|(_, value)| value)?;
        let (payload, signature) = value.rsplit_once('.')?;
        let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
        let mut mac = mac_with(&self.session_key);
        mac.update(payload.as_bytes());
        mac.verify_slice(&signature).ok()?;
        let (expires, token) = payload.split_once('.')?;
        if expires.parse::<i64>().ok()? < chrono::Utc::now().timestamp() {
            return None;
        }
        Some(Session {
            csrf_token: token.to_string(),
        })
    }
}

/// The `Set-Cookie` value that logs a browser out.
pub fn clearing_cookie() -> String {
    format!("{COOKIE_NAME}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

pub fn set_cookie(response: impl IntoResponse, cookie: String) -> Response {
    let mut response = response.into_response();
    if let Ok(value) = cookie.parse() {
        response.headers_mut().insert(SET_COOKIE, value);
    }
    response
}

/// Equal strings, compared without an early exit.
pub fn constant_time_eq(left: &str, right: &str) -> bool {
    let (left, right) = (left.as_bytes(), right.as_bytes());
    left.len() == right.len()
        && left
            .iter()
            .zip(right)
            .fold(0u8, |difference, (a, b)| difference | (a ^ b))
            == 0
}

fn mac_with(key: &[u8]) -> HmacSha256 {
    <HmacSha256 as Mac>::new_from_slice(key).expect("HMAC accepts keys of any length")
}

fn keyed_digest(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = mac_with(key);
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// Pages take a `Session`; without a valid one the browser goes to the login page.
impl FromRequestParts<WebState> for Session {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &WebState,
    ) -> Result<Self, Self::Rejection> {
        state
            .auth
            .session(&parts.headers)
            .ok_or_else(|| Redirect::to("/login").into_response())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(password: &str) -> AdminAuth {
        let key = SecretKey::from_base64("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=").unwrap();
        AdminAuth::new(&key, password)
    }

    fn headers_with(cookie: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        let pair = cookie.split(';').next().unwrap();
        headers.insert(COOKIE, pair.parse().unwrap());
        headers
    }

    #[test]
    fn checks_the_password() {
        let auth = auth("correct horse");
        assert!(auth.password_matches("correct horse"));
        assert!(!auth.password_matches("correct hors"));
        assert!(!auth.password_matches(""));
    }

    #[test]
    fn a_signed_cookie_is_a_session_and_a_tampered_one_is_not() {
        let auth = auth("pw");
        let cookie = auth.new_session_cookie();
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
        let session = auth.session(&headers_with(&cookie)).expect("valid session");
        assert!(!session.csrf_token.is_empty());

        let tampered = cookie.replacen('.', "9.", 1);
        assert!(auth.session(&headers_with(&tampered)).is_none());
        // A password change invalidates old cookies.
        assert!(super::tests::auth("other")
            .session(&headers_with(&cookie))
            .is_none());
    }

    #[test]
    fn compares_tokens_fully() {
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "ab"));
    }
}
