//! The real-system tier: a real ERPNext and a real WooCommerce store, found through environment
//! variables (`.ci/run` brings up `../shared/lab` and sets them; a consultant can point them at a
//! staging pair). Every test here runs one scenario against the simulators and against the real
//! systems and requires the same outcome.
//!
//! | variable | what |
//! | --- | --- |
//! | `WOOCOMMERCE_SYNC_REAL_ERPNEXT_URL` | the ERPNext site, e.g. `http://127.0.0.1:8000` |
//! | `WOOCOMMERCE_SYNC_REAL_ERPNEXT_API_KEY`, `..._API_SECRET` | a user's API key pair (System Manager) |
//! | `WOOCOMMERCE_SYNC_REAL_ERPNEXT_COMPANY` | the company the tier may book into (default `Test Company`) |
//! | `WOOCOMMERCE_SYNC_REAL_ERPNEXT_WAREHOUSE` | its stock warehouse (default `Stores - <abbr>`) |
//! | `WOOCOMMERCE_SYNC_REAL_WOOCOMMERCE_URL` | the store, e.g. `http://127.0.0.1:8080` (OAuth 1.0a) |
//! | `WOOCOMMERCE_SYNC_REAL_WOOCOMMERCE_KEY`, `..._SECRET` | a read/write REST key pair |
//! | `WOOCOMMERCE_SYNC_REAL` | `required`: fail (instead of skip) when the pair is not configured |
//!
//! The accounts default to the names of ERPNext's standard US chart with the company's abbreviation
//! (`ST 6% - TC`, `Freight and Forwarding Charges - TC`, …); `WOOCOMMERCE_SYNC_REAL_ERPNEXT_ACCOUNTS`
//! overrides them as `role=Account;role=Account` (roles: tax, tax2, shipping, fee, rounding,
//! paid_to, receivable_group).
//!
//! Scenarios create the data they need through the public APIs, with names unique to the run, so
//! they do not depend on what the systems already hold and can run again and again.
#![allow(dead_code)]

pub mod sides;

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Once;
use std::time::Duration;

use url::Url;
use woocommerce_sync::erpnext::client::{ErpClient, ErpConfig};
use woocommerce_sync::remote::RetryPolicy;
use woocommerce_sync::woocommerce::{AuthMode, WooClient, WooConfig};

const PREFIX: &str = "WOOCOMMERCE_SYNC_REAL_";

/// The real ERPNext the tier may use.
#[derive(Clone)]
pub struct RealErpnext {
    pub url: Url,
    pub api_key: String,
    pub api_secret: String,
    pub company: String,
    pub abbr: String,
    pub warehouse: String,
    pub accounts: BTreeMap<String, String>,
}

/// The real WooCommerce store the tier may use.
#[derive(Clone)]
pub struct RealWooCommerce {
    pub url: Url,
    pub consumer_key: String,
    pub consumer_secret: String,
}

/// What `WOOCOMMERCE_SYNC_REAL_*` names, read once.
pub struct RealPair {
    pub erpnext: Option<RealErpnext>,
    pub woocommerce: Option<RealWooCommerce>,
}

fn var(name: &str) -> Option<String> {
    std::env::var(format!("{PREFIX}{name}"))
        .ok()
        .map(|value| value.trim().to_string())
        .filter(|value| !value.is_empty())
}

fn required() -> bool {
    std::env::var("WOOCOMMERCE_SYNC_REAL").as_deref() == Ok("required")
}

/// Says once per test binary, on the terminal (past the test harness's capture), that the tier
/// was skipped and how to run it.
fn say_skipped(what: &str) {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = writeln!(
            std::io::stderr().lock(),
            "\nreal-system tier skipped: {what} not configured (set {PREFIX}* as README.md → \
             \"Tests against a real ERPNext and WooCommerce\" says; `.ci/run` does it with ../shared/lab)\n"
        );
    });
}

fn parse_url(name: &str) -> Option<Url> {
    let text = var(name)?;
    match Url::parse(&text) {
        Ok(url) => Some(url),
        Err(error) => panic!("{PREFIX}{name}={text} is not a URL: {error}"),
    }
}

/// The real ERPNext, or `None` (after saying so) when it is not configured. Panics when the tier
/// is required and a variable is missing.
pub fn real_erpnext() -> Option<RealErpnext> {
    let url = parse_url("ERPNEXT_URL");
    let api_key = var("ERPNEXT_API_KEY");
    let api_secret = var("ERPNEXT_API_SECRET");
    let (Some(url), Some(api_key), Some(api_secret)) = (url, api_key, api_secret) else {
        if required() {
            panic!(
                "WOOCOMMERCE_SYNC_REAL=required but {PREFIX}ERPNEXT_URL, _API_KEY and _API_SECRET are not all set"
            );
        }
        say_skipped("ERPNext");
        return None;
    };
    let company = var("ERPNEXT_COMPANY").unwrap_or_else(|| "Test Company".to_string());
    let abbr = var("ERPNEXT_ABBR").unwrap_or_else(|| {
        company
            .split_whitespace()
            .filter_map(|word| word.chars().next())
            .collect::<String>()
            .to_uppercase()
    });
    let warehouse = var("ERPNEXT_WAREHOUSE").unwrap_or_else(|| format!("Stores - {abbr}"));
    let mut accounts: BTreeMap<String, String> = [
        ("tax", "ST 6.25%"),
        ("tax2", "ST 4%"),
        ("tax3", "ST 6%"),
        ("shipping", "Freight and Forwarding Charges"),
        ("fee", "Miscellaneous Expenses"),
        ("rounding", "Round Off"),
        ("paid_to", "Cash"),
        ("receivable_group", "Accounts Receivable"),
        ("receivable", "Debtors"),
    ]
    .into_iter()
    .map(|(role, account)| (role.to_string(), format!("{account} - {abbr}")))
    .collect();
    if let Some(overrides) = var("ERPNEXT_ACCOUNTS") {
        for pair in overrides.split(';').filter(|pair| !pair.trim().is_empty()) {
            let (role, account) = pair.split_once('=').unwrap_or_else(|| {
                panic!("{PREFIX}ERPNEXT_ACCOUNTS: `{pair}` is not role=Account")
            });
            accounts.insert(role.trim().to_string(), account.trim().to_string());
        }
    }
    Some(RealErpnext {
        url,
        api_key,
        api_secret,
        company,
        abbr,
        warehouse,
        accounts,
    })
}

/// The real WooCommerce store, or `None` (after saying so) when it is not configured.
pub fn real_woocommerce() -> Option<RealWooCommerce> {
    let url = parse_url("WOOCOMMERCE_URL");
    let key = var("WOOCOMMERCE_KEY");
    let secret = var("WOOCOMMERCE_SECRET");
    let (Some(url), Some(consumer_key), Some(consumer_secret)) = (url, key, secret) else {
        if required() {
            panic!(
                "WOOCOMMERCE_SYNC_REAL=required but {PREFIX}WOOCOMMERCE_URL, _KEY and _SECRET are not all set"
            );
        }
        say_skipped("WooCommerce");
        return None;
    };
    Some(RealWooCommerce {
        url,
        consumer_key,
        consumer_secret,
    })
}

/// Both, or `None` when either is not configured.
pub fn real_pair() -> Option<(RealErpnext, RealWooCommerce)> {
    Some((real_erpnext()?, real_woocommerce()?))
}

impl RealErpnext {
    pub fn account(&self, role: &str) -> String {
        self.accounts
            .get(role)
            .cloned()
            .unwrap_or_else(|| panic!("no account for role `{role}`"))
    }

    /// A client with patient settings: a real site answers in tens to hundreds of milliseconds.
    pub fn client(&self) -> ErpClient {
        let mut config = ErpConfig::new(
            self.url.clone(),
            self.api_key.clone(),
            self.api_secret.clone(),
        );
        config.timeout = Duration::from_secs(60);
        config.retry = patient_retries();
        ErpClient::new(config).expect("an ERPNext client for the real site")
    }
}

impl RealWooCommerce {
    pub fn client(&self) -> WooClient {
        let mut config =
            WooConfig::new(self.url.clone(), &self.consumer_key, &self.consumer_secret);
        config.auth = AuthMode::default_for(&self.url);
        config.timeout = Duration::from_secs(60);
        config.retry = patient_retries();
        WooClient::new(config).expect("a WooCommerce client for the real store")
    }
}

pub fn patient_retries() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(200),
        max_delay: Duration::from_secs(5),
    }
}

/// A tag unique to this run (and process), for names that must not meet earlier runs' data.
pub fn run_tag() -> &'static str {
    static TAG: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TAG.get_or_init(|| {
        let now = chrono::Utc::now();
        format!(
            "rt{}{:04x}",
            now.format("%m%d%H%M%S"),
            std::process::id() & 0xffff
        )
    })
}

/// A paid order in the real shop, as checkout makes it: `quantity` × `product` for a new buyer
/// `first_name last_name` in Sacramento, and the order as the shop then lists it.
pub async fn paid_order(
    client: &WooClient,
    first_name: &str,
    last_name: &str,
    product: u64,
    quantity: u32,
) -> (u64, serde_json::Value) {
    let made = client
        .create_order(&serde_json::json!({
            "status": "processing", "set_paid": true, "payment_method": "bacs",
            "billing": {"first_name": first_name, "last_name": last_name,
                        "email": format!("{}.{}@example.test", first_name.to_lowercase(),
                                         last_name.replace(' ', ".").to_lowercase()),
                        "address_1": "1 Differential Way", "city": "Sacramento", "state": "CA",
                        "postcode": "95814", "country": "US"},
            "line_items": [{"product_id": product, "quantity": quantity}]
        }))
        .await
        .unwrap();
    let order = client
        .get_json(&format!("orders/{}", made.id))
        .await
        .unwrap();
    (made.id, order)
}

/// The id of the simple product with this SKU in the store, created when missing.
pub async fn ensure_simple_product(client: &WooClient, sku: &str, price: &str) -> u64 {
    if let Some(found) = client
        .find_products_by_sku(sku)
        .await
        .expect("look the test product up")
        .into_iter()
        .next()
    {
        return found.id;
    }
    match client
        .create_product(&serde_json::json!({
            "name": format!("woocommerce-sync test {sku}"),
            "type": "simple",
            "sku": sku,
            "regular_price": price,
        }))
        .await
    {
        Ok(product) => product.id,
        // Another test made it in the meantime; WooCommerce names it.
        Err(woocommerce_sync::woocommerce::WooError::Api { code, data, .. })
            if code == "product_invalid_sku" && data["resource_id"].is_u64() =>
        {
            data["resource_id"].as_u64().unwrap_or_default()
        }
        Err(error) => panic!("create the test product {sku}: {error}"),
    }
}

/// Removes the webhooks earlier runs of the tier installed and could not remove (a run that
/// panicked half-way): a webhook left pointing at a receiver that is gone costs ERPNext a
/// condition per save and its background worker seconds per delivery. Only the tier's own
/// (`/webhooks/<system>/rt…` of another run) are touched. Once per test binary.
pub async fn sweep_earlier_runs(erp: &RealErpnext, woo: &RealWooCommerce) {
    static SWEPT: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    SWEPT
        .get_or_init(|| async {
            let ours = |url: &str, system: &str| {
                url.split(&format!("/webhooks/{system}/"))
                    .nth(1)
                    .is_some_and(|rest| rest.starts_with("rt") && !rest.starts_with(run_tag()))
            };
            let client = erp.client();
            let hooks: Vec<serde_json::Value> = client
                .list(
                    "Webhook",
                    &woocommerce_sync::erpnext::client::ListQuery::default()
                        .fields(&["name", "request_url"])
                        .all_rows(),
                )
                .await
                .unwrap_or_default();
            for hook in hooks {
                if ours(hook["request_url"].as_str().unwrap_or_default(), "erpnext") {
                    let _ = client
                        .delete("Webhook", hook["name"].as_str().unwrap_or_default())
                        .await;
                }
            }
            let store = woo.client();
            for hook in store.list_webhooks().await.unwrap_or_default() {
                if ours(&hook.delivery_url, "woocommerce") {
                    let _ = store.delete_webhook(hook.id).await;
                }
            }
        })
        .await;
}
