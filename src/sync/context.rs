//! One connection as every flow sees it: its settings, its two clients, its mapping rules, its
//! store and caches, and the retry queue its runs settle with. Built once from the stored settings;
//! every flow (orders, billing, reconcile, and the flows to come) takes it, so no flow borrows
//! another.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use rust_decimal::Decimal;
use serde_json::Value;
use tokio::sync::Mutex;

use crate::connection::{self, Connection, WooAuth};
use crate::erpnext::client::{ErpClient, ErpConfig, ListQuery};
use crate::erpnext::error::ErpError;
use crate::remote::RetryPolicy;
use crate::store::{Store, StoredConnection};
use crate::sync::mapping::{self, MappingRules, OrderAction};
use crate::sync::report::{NoRetries, RetryQueue, SyncError};
use crate::sync::woo_to_erp::masters::Masters;
use crate::woocommerce::client::{AuthMode, WooClient, WooConfig, MAX_PER_PAGE};
use crate::woocommerce::error::WooError;
use crate::woocommerce::oauth::SignatureMethod;

/// Everything the flows of one connection need. Cheap to share behind an `Arc`.
pub struct ConnectionContext {
    pub store: Store,
    pub connection_id: i64,
    pub connection: Connection,
    pub rules: MappingRules,
    pub woo: WooClient,
    pub erp: ErpClient,
    /// Customers, Addresses and Items found or made, bounded (see `masters`).
    pub masters: Masters,
    /// Orders (or pages) in flight at once.
    pub concurrency: usize,
    /// Orders per listed page (WooCommerce's maximum, 100, unless a test wants more pages).
    pub page_size: u32,
    /// Settles what runs failed and what they finished (the job queue, in the service and the
    /// CLI).
    pub retries: Arc<dyn RetryQueue>,
    /// The company's default cost center (`Company.cost_center`): where a gateway fee deducted
    /// on a Payment Entry is booked.
    pub cost_center: String,
    exchange_rates: Mutex<HashMap<(String, String), Option<Decimal>>>,
}

impl ConnectionContext {
    /// Builds the clients and rules of `stored`, reading the company's currency from ERPNext.
    /// RetryQueue work is dropped until [`ConnectionContext::handing_over_to`] names a taker.
    pub async fn prepare(
        store: Store,
        stored: StoredConnection,
        settings: &CallSettings,
        concurrency: usize,
    ) -> Result<ConnectionContext, SyncError> {
        let connection = stored.connection;
        let woo = woocommerce_client(&connection, settings)?;
        let erp = erpnext_client(&connection, settings)?;
        let company = erp
            .get_document("Company", &connection.company)
            .await
            .map_err(|error| {
                if error.is_not_found() {
                    SyncError::Setup(format!(
                        "ERPNext has no company `{}`; correct the connection's company",
                        connection.company
                    ))
                } else {
                    SyncError::Erpnext(error)
                }
            })?;
        let missing = crate::sync::setup::missing_custom_fields(&erp).await?;
        if !missing.is_empty() {
            return Err(SyncError::Setup(format!(
                "ERPNext lacks what setup installs for connection `{}` (custom fields {}); run setup for this connection first",
                connection.name,
                missing.join(", ")
            )));
        }
        let currency = company["default_currency"]
            .as_str()
            .unwrap_or("USD")
            .to_string();
        let cost_center = company["cost_center"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let rules = mapping_rules(&connection, &currency);
        let masters = Masters::new(store.clone(), stored.id, &currency);
        Ok(ConnectionContext {
            store,
            connection_id: stored.id,
            connection,
            rules,
            woo,
            erp,
            masters,
            concurrency: concurrency.max(1),
            page_size: MAX_PER_PAGE,
            retries: Arc::new(NoRetries),
            cost_center,
            exchange_rates: Mutex::new(HashMap::new()),
        })
    }

    /// Settles what runs fail and finish with `taker` (the job queue).
    pub fn handing_over_to(mut self, taker: Arc<dyn RetryQueue>) -> ConnectionContext {
        self.retries = taker;
        self
    }

    /// Lists `per_page` orders per page instead of 100 (more page boundaries, for tests).
    pub fn with_page_size(mut self, per_page: u32) -> ConnectionContext {
        self.page_size = per_page.clamp(1, MAX_PER_PAGE);
        self
    }

    pub fn name(&self) -> &str {
        &self.connection.name
    }

    /// What this connection does with an order in `status`: its status map first, then the defaults.
    pub fn action_for(&self, status: &str) -> OrderAction {
        match self
            .connection
            .mappings
            .status_from_woocommerce
            .get(status)
            .map(String::as_str)
        {
            Some("import") => OrderAction::Import,
            Some("cancel") => OrderAction::Cancel,
            Some("ignore") => OrderAction::Ignore,
            _ => mapping::action_for_status(status, &self.rules),
        }
    }

    /// Removes every credential of the connection from text bound for the log.
    pub fn redact(&self, text: &str) -> String {
        let credentials = &self.connection.credentials;
        let mut text = text.to_string();
        for secret in [
            &credentials.consumer_secret,
            &credentials.consumer_key,
            &credentials.api_secret,
            &credentials.api_key,
            &credentials.webhook_secret,
        ] {
            if secret.len() >= 4 {
                text = text.replace(secret.as_str(), "***");
            }
        }
        text
    }

    /// The latest Currency Exchange rate on or before `date`, as ERPNext would pick it.
    pub async fn exchange_rate(
        &self,
        currency: &str,
        date: &str,
    ) -> Result<Option<Decimal>, ErpError> {
        let cache_key = (currency.to_string(), date.to_string());
        if let Some(rate) = self.exchange_rates.lock().await.get(&cache_key) {
            return Ok(*rate);
        }
        let rows: Vec<Value> = self
            .erp
            .list(
                "Currency Exchange",
                &ListQuery::default()
                    .fields(&["exchange_rate", "date"])
                    .filter("from_currency", "=", currency)
                    .filter("to_currency", "=", self.rules.company_currency.as_str())
                    .filter("date", "<=", date)
                    .order_by("date desc")
                    .page(0, 1),
            )
            .await?;
        let rate = rows
            .first()
            .and_then(|row| crate::money::parse_decimal(&row["exchange_rate"].to_string()).ok())
            .filter(|rate| !rate.is_zero());
        self.exchange_rates.lock().await.insert(cache_key, rate);
        Ok(rate)
    }
}

/// Timeouts, retries and parallelism for one connection's remote calls.
#[derive(Debug, Clone)]
pub struct CallSettings {
    pub timeout: Duration,
    pub retry: RetryPolicy,
    /// Calls in flight to each remote at once.
    pub max_in_flight: usize,
}

impl Default for CallSettings {
    fn default() -> Self {
        CallSettings {
            timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            max_in_flight: 8,
        }
    }
}

pub fn woocommerce_client(
    connection: &Connection,
    settings: &CallSettings,
) -> Result<WooClient, WooError> {
    let mut config = WooConfig::new(
        connection.woocommerce_url.clone(),
        &connection.credentials.consumer_key,
        &connection.credentials.consumer_secret,
    );
    config.auth = match connection.woocommerce_auth {
        WooAuth::Auto => AuthMode::default_for(&connection.woocommerce_url),
        WooAuth::Basic => AuthMode::Basic,
        WooAuth::QueryString => AuthMode::QueryString,
        WooAuth::Oauth1 => AuthMode::OAuth1(SignatureMethod::HmacSha256),
    };
    config.timeout = settings.timeout;
    config.retry = settings.retry.clone();
    config.max_in_flight = settings.max_in_flight;
    WooClient::new(config)
}

pub fn erpnext_client(
    connection: &Connection,
    settings: &CallSettings,
) -> Result<ErpClient, ErpError> {
    let mut config = ErpConfig::new(
        connection.erpnext_url.clone(),
        connection.credentials.api_key.clone(),
        connection.credentials.api_secret.clone(),
    );
    config.timeout = settings.timeout;
    config.retry = settings.retry.clone();
    config.max_in_flight = settings.max_in_flight;
    ErpClient::new(config)
}

/// The mapping rules the connection's settings say, for a company in `company_currency`.
pub fn mapping_rules(connection: &Connection, company_currency: &str) -> MappingRules {
    let mut rules = MappingRules::new(&connection.name, &connection.company, company_currency);
    rules.warehouse = Some(connection.default_warehouse.clone());
    rules.customer_group = connection.customer_group.clone();
    rules.territory = connection.territory.clone();
    rules.price_list = Some(connection.price_list.clone());
    rules.delivery_lead_days = connection.delivery_lead_days;
    rules.tax_accounts = connection.mappings.tax_accounts.clone();
    rules.default_tax_account = connection.default_tax_account.clone();
    rules.shipping = connection
        .mappings
        .shipping_methods
        .iter()
        .map(|(method, target)| {
            let target = match target {
                connection::ShippingTarget::Account(account) => {
                    mapping::ShippingTarget::Account(account.clone())
                }
                connection::ShippingTarget::Item(item) => {
                    mapping::ShippingTarget::Item(item.clone())
                }
            };
            (method.clone(), target)
        })
        .collect();
    rules.default_shipping_account = connection.shipping_account.clone();
    rules.fee_account = connection.fee_account.clone();
    rules.rounding_account = connection.rounding_account.clone();
    rules.rounding_tolerance = connection.rounding_tolerance;
    rules.receivable_accounts = connection.mappings.receivable_accounts.clone();
    rules.vat_meta_keys = connection.mappings.vat_meta_keys.clone();
    rules.exempt_tax_category = connection.mappings.exempt_tax_category.clone();
    rules.auto_create_items = connection.auto_create_items;
    rules.item_group = connection.item_group.clone();
    rules.stock_uom = connection.stock_uom.clone();
    rules.missing_sku = match &connection.missing_sku {
        connection::MissingSkuRule::Fail => mapping::MissingSkuRule::Fail,
        connection::MissingSkuRule::UseItem(code) => mapping::MissingSkuRule::UseItem(code.clone()),
        connection::MissingSkuRule::Synthesize => mapping::MissingSkuRule::Synthesize,
    };
    rules.imported_statuses = connection.imported_statuses.iter().cloned().collect();
    for (status, action) in &connection.mappings.status_from_woocommerce {
        match action.as_str() {
            "import" => {
                rules.imported_statuses.insert(status.clone());
            }
            _ => {
                rules.imported_statuses.remove(status);
            }
        }
    }
    rules
}
