//! A connection's view of the two remote systems: its clients and its mapping
//! rules, built once from the stored settings.

use std::time::Duration;

use crate::connection::{self, Connection, WooAuth};
use crate::erpnext::client::{ErpClient, ErpConfig};
use crate::erpnext::error::ErpError;
use crate::remote::RetryPolicy;
use crate::sync::mapping::{self, MappingRules};
use crate::woocommerce::client::{AuthMode, WooClient, WooConfig};
use crate::woocommerce::error::WooError;
use crate::woocommerce::oauth::SignatureMethod;

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
