//! Login for the web UI. One admin password, stored only as an Argon2 hash in the store (set on
//! first run, changeable from the UI); sessions live in the store too, so logout and a password
//! change revoke them. The cookie carries a random token (the store keeps a keyed digest of it)
//! and is HttpOnly, SameSite=Strict, and Secure when served over HTTPS or configured so. Every
//! form posts the session's CSRF token back: SameSite already keeps other sites' forms from
//! carrying the cookie, the token is the second lock. Failed logins are throttled per client
//! address and overall.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Redirect, Response};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::distributions::Alphanumeric;
use rand::Rng;

use super::WebState;
use crate::secrets::SecretKey;
use crate::store::{Store, StoreError, WebSession};

type HmacSha256 = Hmac<sha2::Sha256>;

pub const COOKIE_NAME: &str = "woocommerce_sync_session";
const SESSION_SECONDS: i64 = 12 * 3600;
/// A password shorter than this is refused when it is set or changed.
pub const MIN_PASSWORD_CHARS: usize = 10;

/// The session key, the first-run password, whether cookies are always Secure, and the throttle.
pub struct AdminAuth {
    session_key: [u8; 32],
    /// Used once, when the store holds no password yet (tests and first runs).
    initial_password: Mutex<Option<String>>,
    secure_cookies: bool,
    throttle: Mutex<LoginThrottle>,
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
    token_digest: String,
}

impl AdminAuth {
    /// `initial_password` is stored (hashed) only when the store holds none yet; an empty one
    /// means the store must already hold the password (`serve` sets it first).
    pub fn new(secret_key: &SecretKey, initial_password: &str, secure_cookies: bool) -> AdminAuth {
        AdminAuth {
            session_key: secret_key.derive("woocommerce-sync web session"),
            initial_password: Mutex::new(
                (!initial_password.is_empty()).then(|| initial_password.to_string()),
            ),
            secure_cookies,
            throttle: Mutex::new(LoginThrottle::default()),
        }
    }

    /// Whether `candidate` is the stored admin password. Argon2 runs off the async threads.
    pub async fn password_matches(
        &self,
        store: &Store,
        candidate: &str,
    ) -> Result<bool, StoreError> {
        let mut stored = store.admin_password_hash().await?;
        if stored.is_none() {
            let initial = self.initial_password.lock().expect("not poisoned").take();
            if let Some(initial) = initial {
                store
                    .insert_admin_password_hash(&hash_password(&initial).await)
                    .await?;
                stored = store.admin_password_hash().await?;
            }
        }
        let Some(stored) = stored else {
            return Ok(false);
        };
        Ok(verify_password(stored, candidate).await)
    }

    /// Starts a session: answers the `Set-Cookie` value.
    pub async fn start_session(
        &self,
        store: &Store,
        headers: &HeaderMap,
    ) -> Result<String, StoreError> {
        let token = random_token();
        let session = WebSession {
            csrf_token: random_token(),
            expires_at: chrono::Utc::now() + chrono::Duration::seconds(SESSION_SECONDS),
        };
        store
            .insert_web_session(&self.digest(&token), &session)
            .await?;
        Ok(format!(
            "{COOKIE_NAME}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={SESSION_SECONDS}{}",
            self.secure_attribute(headers)
        ))
    }

    /// The session of the request's cookie, when the store still holds it.
    pub async fn session(
        &self,
        store: &Store,
        headers: &HeaderMap,
    ) -> Result<Option<Session>, StoreError> {
        let Some(token) = cookie_value(headers) else {
            return Ok(None);
        };
        let token_digest = self.digest(token);
        Ok(store.web_session(&token_digest).await?.map(|row| Session {
            csrf_token: row.csrf_token,
            token_digest,
        }))
    }

    /// Logout: the session is gone from the store, whatever the browser keeps.
    pub async fn end_session(&self, store: &Store, session: &Session) -> Result<(), StoreError> {
        store.delete_web_session(&session.token_digest).await
    }

    /// The `Set-Cookie` value that makes a browser forget its session.
    pub fn clearing_cookie(&self, headers: &HeaderMap) -> String {
        format!(
            "{COOKIE_NAME}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{}",
            self.secure_attribute(headers)
        )
    }

    /// `Secure` when configured, or when a TLS-terminating proxy says the browser used HTTPS.
    fn secure_attribute(&self, headers: &HeaderMap) -> &'static str {
        let via_https = headers
            .get("x-forwarded-proto")
            .and_then(|value| value.to_str().ok())
            .is_some_and(|proto| proto.eq_ignore_ascii_case("https"));
        if self.secure_cookies || via_https {
            "; Secure"
        } else {
            ""
        }
    }

    fn digest(&self, token: &str) -> String {
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&self.session_key)
            .expect("HMAC accepts keys of any length");
        mac.update(token.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// May this client try a password now? `Err` carries how long it must wait.
    pub fn may_try(&self, client: IpAddr) -> Result<(), Duration> {
        self.throttle
            .lock()
            .expect("not poisoned")
            .check(client, Instant::now())
    }

    pub fn login_failed(&self, client: IpAddr) {
        self.throttle
            .lock()
            .expect("not poisoned")
            .failed(client, Instant::now());
    }

    pub fn login_succeeded(&self, client: IpAddr) {
        self.throttle
            .lock()
            .expect("not poisoned")
            .per_client
            .remove(&client);
    }
}

/// Sets (or replaces) the admin password; every session is revoked.
pub async fn change_admin_password(store: &Store, password: &str) -> Result<(), StoreError> {
    store
        .replace_admin_password_hash(&hash_password(password).await)
        .await
}

/// What `serve` does at start: a password given in the environment replaces the stored one
/// (when it differs); without one, the first run makes a password, stores its hash and answers
/// it so it can be printed once. Later runs keep the stored one.
pub async fn ensure_admin_password(
    store: &Store,
    from_environment: Option<&str>,
) -> Result<Option<String>, StoreError> {
    if let Some(password) = from_environment.filter(|password| !password.is_empty()) {
        let unchanged = match store.admin_password_hash().await? {
            Some(stored) => verify_password(stored, password).await,
            None => false,
        };
        if !unchanged {
            change_admin_password(store, password).await?;
        }
        return Ok(None);
    }
    if store.admin_password_hash().await?.is_some() {
        return Ok(None);
    }
    let generated: String = rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(20)
        .map(char::from)
        .collect();
    let stored = store
        .insert_admin_password_hash(&hash_password(&generated).await)
        .await?;
    // Another process stored one first: theirs stands, and they printed it.
    Ok(stored.then_some(generated))
}

/// A new password must be long enough; the message is for the person typing it.
pub fn check_new_password(password: &str) -> Result<(), String> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(format!(
            "The new password is too short; use at least {MIN_PASSWORD_CHARS} characters."
        ));
    }
    Ok(())
}

async fn verify_password(stored: String, candidate: &str) -> bool {
    let candidate = candidate.to_string();
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&stored).is_ok_and(|hash| {
            Argon2::default()
                .verify_password(candidate.as_bytes(), &hash)
                .is_ok()
        })
    })
    .await
    .unwrap_or(false)
}

async fn hash_password(password: &str) -> String {
    let password = password.to_string();
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .expect("Argon2 hashes any password with its default parameters")
            .to_string()
    })
    .await
    .expect("the hashing task does not panic")
}

fn random_token() -> String {
    let token: [u8; 32] = rand::thread_rng().gen();
    URL_SAFE_NO_PAD.encode(token)
}

fn cookie_value(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|header| header.to_str().ok())
        .flat_map(|header| header.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == COOKIE_NAME && !value.is_empty())
        .map(|(_, value)| value)
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

/// Where to go after login: only a path on this site (`/orders?x=1`), never another host
/// (`//evil.example`, `/\evil.example`, `https://…`).
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.starts_with("/\\")
                && !path.chars().any(|c| c.is_control()) =>
        {
            path.to_string()
        }
        _ => "/".to_string(),
    }
}

/// The address the request came from (the unspecified address when the server was not told).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddress(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddress(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|info| info.0.ip())
                .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
        ))
    }
}

/// Pages take a `Session`; without one the browser goes to the login page, which brings it
/// back to the page it asked for.
impl FromRequestParts<WebState> for Session {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &WebState,
    ) -> Result<Self, Self::Rejection> {
        match state.auth.session(&state.store, &parts.headers).await {
            Ok(Some(session)) => Ok(session),
            Ok(None) if parts.method == Method::GET => {
                let asked = parts
                    .uri
                    .path_and_query()
                    .map(|path| path.as_str())
                    .unwrap_or("/");
                Err(if asked == "/" {
                    Redirect::to("/login").into_response()
                } else {
                    Redirect::to(&format!(
                        "/login?next={}",
                        percent_encoding::utf8_percent_encode(
                            asked,
                            percent_encoding::NON_ALPHANUMERIC
                        )
                    ))
                    .into_response()
                })
            }
            Ok(None) => Err(Redirect::to("/login").into_response()),
            Err(error) => Err(super::pages::store_failure(error)),
        }
    }
}

/// Failed logins: after [`FREE_FAILURES`] from one address, each further try waits twice as long
/// as the one before (1 s, 2 s, 4 s … up to 15 minutes); over all addresses, at most
/// [`GLOBAL_FAILURES_PER_MINUTE`] failures a minute, so many addresses cannot guess fast either.
#[derive(Debug, Default)]
struct LoginThrottle {
    per_client: HashMap<IpAddr, Failures>,
    recent: VecDeque<Instant>,
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
}

const FREE_FAILURES: u32 = 5;
const GLOBAL_FAILURES_PER_MINUTE: usize = 30;
const LONGEST_WAIT: Duration = Duration::from_secs(900);
const MINUTE: Duration = Duration::from_secs(60);

impl LoginThrottle {
    fn check(&mut self, client: IpAddr, now: Instant) -> Result<(), Duration> {
        while self
            .recent
            .front()
            .is_some_and(|at| now.duration_since(*at) >= MINUTE)
        {
            self.recent.pop_front();
        }
        if self.recent.len() >= GLOBAL_FAILURES_PER_MINUTE {
            let oldest = *self.recent.front().expect("not empty");
            return Err(MINUTE.saturating_sub(now.duration_since(oldest)));
        }
        if let Some(failures) = self.per_client.get(&client) {
            if failures.count >= FREE_FAILURES {
                let wait = Duration::from_secs(1u64 << (failures.count - FREE_FAILURES).min(10))
                    .min(LONGEST_WAIT);
                let since = now.duration_since(failures.last);
                if since < wait {
                    return Err(wait - since);
                }
            }
        }
        Ok(())
    }

    fn failed(&mut self, client: IpAddr, now: Instant) {
        self.recent.push_back(now);
        // Addresses quiet for longer than the longest wait are forgotten.
        if self.per_client.len() > 10_000 {
            self.per_client
                .retain(|_, failures| now.duration_since(failures.last) < LONGEST_WAIT);
        }
        let failures = self.per_client.entry(client).or_insert(Failures {
            count: 0,
            last: now,
        });
        failures.count += 1;
        failures.last = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_same_site_paths_are_followed_after_login() {
        assert_eq!(
            safe_next(Some("/orders?connection=shop")),
            "/orders?connection=shop"
        );
        for hostile in [
            "//evil.example/x",
            "/\\evil.example",
            "https://evil.example",
            "evil",
            "/a\r\nSet-Cookie: x",
        ] {
            assert_eq!(safe_next(Some(hostile)), "/", "{hostile}");
        }
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn a_client_waits_longer_after_each_failure_past_five() {
        let mut throttle = LoginThrottle::default();
        let client: IpAddr = "192.0.2.1".parse().unwrap();
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        let start = Instant::now();
        for _ in 0..FREE_FAILURES {
            assert_eq!(throttle.check(client, start), Ok(()));
            throttle.failed(client, start);
        }
        assert_eq!(throttle.check(client, start), Err(Duration::from_secs(1)));
        assert_eq!(
            throttle.check(other, start),
            Ok(()),
            "others are not held up"
        );
        let later = start + Duration::from_secs(1);
        assert_eq!(throttle.check(client, later), Ok(()));
        throttle.failed(client, later);
        assert_eq!(throttle.check(client, later), Err(Duration::from_secs(2)));
    }

    #[test]
    fn many_addresses_together_are_held_to_a_rate() {
        let mut throttle = LoginThrottle::default();
        let start = Instant::now();
        for n in 0..GLOBAL_FAILURES_PER_MINUTE {
            let client = IpAddr::V4(Ipv4Addr::new(198, 51, 100, n as u8));
            assert_eq!(throttle.check(client, start), Ok(()));
            throttle.failed(client, start);
        }
        let fresh: IpAddr = "203.0.113.9".parse().unwrap();
        assert_eq!(throttle.check(fresh, start), Err(MINUTE));
        assert_eq!(throttle.check(fresh, start + MINUTE), Ok(()));
    }

    #[test]
    fn compares_tokens_fully() {
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "ab"));
    }
}
