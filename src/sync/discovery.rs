//! A connection's first look at both sides: are they reachable with these keys (`connection
//! test`, the UI's new-connection form), what does each have (tax rates, shipping methods,
//! payment gateways and order statuses; companies, warehouses, accounts, Modes of Payment and
//! price lists), and which mapping follows from that ([`propose`], pure, by name and rate).
//! The web UI calls [`explore`] and nothing else of the remotes' clients.

use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::Value;

use crate::connection::{Connection, PaymentTarget, WOO_STATUSES};
use crate::erpnext::client::ListQuery;
use crate::erpnext::ErpError;
use crate::sync::context::{erpnext_client, woocommerce_client, CallSettings};
use crate::woocommerce::types::{
    OrderStatusTotal, PaymentGatewayInfo, ShippingMethodInfo, TaxRateInfo,
};
use crate::woocommerce::WooError;

/// How one side answered a connection test.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum SideCheck {
    /// It answered with these credentials: what it said (`12 orders`, `signed in as x`).
    Ok(String),
    /// It answered and refused what the connection says (address, keys): the user fixes it.
    Refused { error: String, advice: String },
    /// It could not be reached or failed for now: try again later.
    Unreachable { error: String, advice: String },
}

impl SideCheck {
    pub fn is_ok(&self) -> bool {
        matches!(self, SideCheck::Ok(_))
    }

    /// What to do, in words that name no command-line flag; `None` when it answered.
    pub fn advice(&self) -> Option<&str> {
        match self {
            SideCheck::Ok(_) => None,
            SideCheck::Refused { advice, .. } | SideCheck::Unreachable { advice, .. } => {
                Some(advice)
            }
        }
    }
}

/// Both sides of a connection test.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConnectionTest {
    pub woocommerce: SideCheck,
    pub erpnext: SideCheck,
}

impl ConnectionTest {
    pub fn passed(&self) -> bool {
        self.woocommerce.is_ok() && self.erpnext.is_ok()
    }

    pub fn refused(&self) -> bool {
        [&self.woocommerce, &self.erpnext]
            .iter()
            .any(|side| matches!(side, SideCheck::Refused { .. }))
    }
}

fn woocommerce_check(connection: &Connection, result: Result<u64, WooError>) -> SideCheck {
    let url = connection.woocommerce_url.as_str();
    match result {
        Ok(orders) => SideCheck::Ok(format!("{orders} orders")),
        Err(error) if error.is_retryable() => SideCheck::Unreachable {
            advice: format!(
                "The WooCommerce store at {url} could not be reached or did not answer in time. Check the address and that the site is up, then try again."
            ),
            error: error.to_string(),
        },
        Err(error) => {
            let advice = match error.status() {
                Some(401 | 403) => "WooCommerce refused the consumer key and secret. Check both in WooCommerce → Settings → Advanced → REST API; the key needs Read/Write permission.".to_string(),
                Some(404) => format!(
                    "There is no WooCommerce REST API at {url}. Give the store's home address, with WooCommerce active and permalinks other than \"Plain\"."
                ),
                _ => format!(
                    "The WooCommerce store at {url} refused the test. Check the address and the keys."
                ),
            };
            SideCheck::Refused {
                error: error.to_string(),
                advice,
            }
        }
    }
}

fn erpnext_check(connection: &Connection, result: Result<String, ErpError>) -> SideCheck {
    let url = connection.erpnext_url.as_str();
    match result {
        Ok(user) => SideCheck::Ok(format!("signed in as {user}")),
        Err(error) if error.is_retryable() => SideCheck::Unreachable {
            advice: format!(
                "The ERPNext site at {url} could not be reached or did not answer in time. Check the address and that the site is up, then try again."
            ),
            error: error.to_string(),
        },
        Err(error) => {
            let advice = if error.is_auth() {
                "ERPNext refused the API key and secret. Check both: in ERPNext, open the user's settings → API Access → Generate Keys.".to_string()
            } else {
                format!("The ERPNext site at {url} refused the test. Check the address (the site's home page) and the keys.")
            };
            SideCheck::Refused {
                error: error.to_string(),
                advice,
            }
        }
    }
}

/// One authenticated call to each side, at once.
pub async fn test_connection(connection: &Connection, calls: &CallSettings) -> ConnectionTest {
    let woo_result = async {
        woocommerce_client(connection, calls)?
            .check_connection()
            .await
    };
    let erp_result = async { erpnext_client(connection, calls)?.logged_user().await };
    let (woo_result, erp_result) = tokio::join!(woo_result, erp_result);
    ConnectionTest {
        woocommerce: woocommerce_check(connection, woo_result),
        erpnext: erpnext_check(connection, erp_result),
    }
}

/// An ERPNext company.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CompanyInfo {
    pub name: String,
    pub abbr: String,
    pub default_currency: String,
}

/// A ledger (not group) account of ERPNext.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccountInfo {
    pub name: String,
    pub company: String,
    pub account_type: String,
    pub root_type: String,
    /// The rate of a Tax account, when set.
    pub tax_rate: Option<Decimal>,
}

/// A ledger warehouse of ERPNext.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WarehouseInfo {
    pub name: String,
    pub company: String,
}

/// What both sides have.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Discovery {
    pub tax_rates: Vec<TaxRateInfo>,
    pub shipping_methods: Vec<ShippingMethodInfo>,
    pub payment_gateways: Vec<PaymentGatewayInfo>,
    pub order_statuses: Vec<OrderStatusTotal>,
    pub companies: Vec<CompanyInfo>,
    pub warehouses: Vec<WarehouseInfo>,
    pub accounts: Vec<AccountInfo>,
    pub modes_of_payment: Vec<String>,
    /// Enabled selling price lists.
    pub price_lists: Vec<String>,
}

/// Why a look at both sides stopped.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    #[error("the connection test failed")]
    NotConnected(ConnectionTest),
    #[error("reading what WooCommerce has: {0}")]
    WooCommerce(#[from] WooError),
    #[error("reading what ERPNext has: {0}")]
    Erpnext(#[from] ErpError),
}

impl DiscoveryError {
    /// What to do, in words that name no command-line flag.
    pub fn advice(&self) -> String {
        match self {
            DiscoveryError::NotConnected(test) => [&test.woocommerce, &test.erpnext]
                .into_iter()
                .filter_map(SideCheck::advice)
                .collect::<Vec<_>>()
                .join(" "),
            DiscoveryError::WooCommerce(error) => format!(
                "The store answered the test but not the listing of its tax rates, shipping methods, payment gateways or order statuses ({error}). The key needs Read/Write permission; try again."
            ),
            DiscoveryError::Erpnext(error) => format!(
                "ERPNext answered the test but not the listing of its companies, warehouses, accounts, Modes of Payment or price lists ({error}). The API user needs read access to them (e.g. the Accounts Manager role); try again."
            ),
        }
    }
}

fn text(row: &Value, field: &str) -> String {
    row[field].as_str().unwrap_or_default().to_string()
}

/// Reads what both sides have; the connection must already have passed [`test_connection`].
pub async fn discover(
    connection: &Connection,
    calls: &CallSettings,
) -> Result<Discovery, DiscoveryError> {
    let woo = woocommerce_client(connection, calls)?;
    let erp = erpnext_client(connection, calls)?;
    let (tax_rates, shipping_methods, payment_gateways, order_statuses) = tokio::try_join!(
        woo.list_tax_rates(),
        woo.list_shipping_methods(),
        woo.list_payment_gateways(),
        woo.order_status_totals(),
    )?;
    let rows = |doctype: &'static str, query: ListQuery| {
        let erp = &erp;
        async move { erp.list::<Value>(doctype, &query.all_rows()).await }
    };
    let (companies, warehouses, accounts, modes, price_lists) = tokio::try_join!(
        rows(
            "Company",
            ListQuery::default().fields(&["name", "abbr", "default_currency"])
        ),
        rows(
            "Warehouse",
            ListQuery::default()
                .fields(&["name", "company"])
                .filter("is_group", "=", 0)
        ),
        rows(
            "Account",
            ListQuery::default()
                .fields(&["name", "company", "account_type", "root_type", "tax_rate"])
                .filter("is_group", "=", 0)
                .filter("disabled", "=", 0)
        ),
        rows(
            "Mode of Payment",
            ListQuery::default()
                .fields(&["name"])
                .filter("enabled", "=", 1)
        ),
        rows(
            "Price List",
            ListQuery::default()
                .fields(&["name"])
                .filter("selling", "=", 1)
                .filter("enabled", "=", 1)
        ),
    )?;
    let mut discovery = Discovery {
        tax_rates,
        shipping_methods,
        payment_gateways,
        order_statuses,
        companies: companies
            .iter()
            .map(|row| CompanyInfo {
                name: text(row, "name"),
                abbr: text(row, "abbr"),
                default_currency: text(row, "default_currency"),
            })
            .collect(),
        warehouses: warehouses
            .iter()
            .map(|row| WarehouseInfo {
                name: text(row, "name"),
                company: text(row, "company"),
            })
            .collect(),
        accounts: accounts
            .iter()
            .map(|row| AccountInfo {
                name: text(row, "name"),
                company: text(row, "company"),
                account_type: text(row, "account_type"),
                root_type: text(row, "root_type"),
                tax_rate: row["tax_rate"]
                    .as_f64()
                    .filter(|rate| *rate != 0.0)
                    .and_then(|rate| crate::money::parse_decimal(&rate.to_string()).ok())
                    .map(|rate| rate.normalize()),
            })
            .collect(),
        modes_of_payment: modes.iter().map(|row| text(row, "name")).collect(),
        price_lists: price_lists.iter().map(|row| text(row, "name")).collect(),
    };
    // Lists come in each site's own order; names sorted read better and compare across sites.
    discovery.companies.sort_by(|a, b| a.name.cmp(&b.name));
    discovery.warehouses.sort_by(|a, b| a.name.cmp(&b.name));
    discovery.accounts.sort_by(|a, b| a.name.cmp(&b.name));
    discovery.modes_of_payment.sort();
    discovery.price_lists.sort();
    discovery.tax_rates.sort_by_key(|rate| rate.id);
    Ok(discovery)
}

/// Something the proposal could not settle, and why it matters.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Missing {
    pub what: String,
    pub why: String,
}

/// One row of the proposal as the user reviews it: a WooCommerce thing and its ERPNext match.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Match {
    /// What it is in WooCommerce (`Tax rate 3: NY Tax, 8.875 %`).
    pub woocommerce: String,
    /// The ERPNext counterpart proposed, empty when none was found.
    pub erpnext: String,
    /// How it was found (`same rate`, `same name`, `the shipping account`).
    pub how: String,
}

/// The connection with every mapping that could be matched, and what is still missing.
#[derive(Debug, Clone)]
pub struct Proposal {
    pub connection: Connection,
    pub discovery: Discovery,
    pub tax_rates: Vec<Match>,
    pub shipping_methods: Vec<Match>,
    pub payment_gateways: Vec<Match>,
    pub order_statuses: Vec<Match>,
    pub missing: Vec<Missing>,
}

/// Tests the connection, reads both sides and proposes the mappings: the one call the
/// new-connection form makes to the remotes.
pub async fn explore(draft: &Connection, calls: &CallSettings) -> Result<Proposal, DiscoveryError> {
    let test = test_connection(draft, calls).await;
    if !test.passed() {
        return Err(DiscoveryError::NotConnected(test));
    }
    let discovery = discover(draft, calls).await?;
    Ok(propose(draft, discovery))
}

fn lower(text: &str) -> String {
    text.to_lowercase()
}

/// Modes of Payment a well-known gateway usually is, best first.
fn usual_modes(gateway: &str) -> &'static [&'static str] {
    match gateway {
        "bacs" => &["Wire Transfer", "Bank Transfer", "Bank Draft"],
        "cheque" => &["Check", "Cheque"],
        "cod" => &["Cash"],
        "stripe" | "ppcp-gateway" | "paypal" | "woocommerce_payments" | "square_credit_card" => {
            &["Credit Card"]
        }
        _ => &[],
    }
}

/// The proposal from what both sides have (no IO). Settings the draft already holds are kept;
/// only what is empty is filled.
pub fn propose(draft: &Connection, discovery: Discovery) -> Proposal {
    let mut connection = draft.clone();
    let mut missing = Vec::new();

    let company = discovery
        .companies
        .iter()
        .find(|company| company.name == connection.company)
        .or_else(|| {
            connection
                .company
                .trim()
                .is_empty()
                .then(|| discovery.companies.first())
                .flatten()
        })
        .cloned();
    match &company {
        Some(found) => connection.company = found.name.clone(),
        None if discovery.companies.is_empty() => missing.push(Missing {
            what: "ERPNext has no company".into(),
            why: "Orders are booked in a company; finish ERPNext's setup wizard first.".into(),
        }),
        None => missing.push(Missing {
            what: format!("Company `{}` does not exist in ERPNext", connection.company),
            why: format!(
                "Orders are booked in a company; pick one of: {}.",
                discovery
                    .companies
                    .iter()
                    .map(|company| company.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }),
    }
    let company_name = connection.company.clone();
    let abbr = company.as_ref().map(|c| c.abbr.clone()).unwrap_or_default();
    let ledgers: Vec<&AccountInfo> = discovery
        .accounts
        .iter()
        .filter(|account| account.company == company_name)
        .collect();
    let warehouses: Vec<&WarehouseInfo> = discovery
        .warehouses
        .iter()
        .filter(|warehouse| warehouse.company == company_name)
        .collect();

    if !warehouses
        .iter()
        .any(|warehouse| warehouse.name == connection.default_warehouse)
    {
        let stores = format!("Stores - {abbr}");
        match warehouses
            .iter()
            .find(|warehouse| warehouse.name == stores)
            .or_else(|| warehouses.first())
        {
            Some(warehouse) => connection.default_warehouse = warehouse.name.clone(),
            None => missing.push(Missing {
                what: format!("Company `{company_name}` has no warehouse"),
                why:
                    "Sales Order lines need a warehouse; create one in ERPNext (Stock → Warehouse)."
                        .into(),
            }),
        }
    }
    if !discovery.price_lists.contains(&connection.price_list) {
        match discovery
            .price_lists
            .iter()
            .find(|list| *list == "Standard Selling")
            .or_else(|| discovery.price_lists.first())
        {
            Some(list) => connection.price_list = list.clone(),
            None => missing.push(Missing {
                what: "ERPNext has no selling price list".into(),
                why: "Sales Orders name a selling price list; enable one in ERPNext (Stock → Price List).".into(),
            }),
        }
    }

    // Tax rates: a Tax account of the same rate, else one whose name holds the rate's name.
    let tax_accounts: Vec<&AccountInfo> = ledgers
        .iter()
        .copied()
        .filter(|account| account.account_type == "Tax")
        .collect();
    let mut tax_rows = Vec::new();
    for rate in &discovery.tax_rates {
        let described = format!(
            "Tax rate {}: {} ({} %)",
            rate.id,
            rate.name,
            rate.rate.normalize()
        );
        if let Some(account) = connection.mappings.tax_accounts.get(&rate.id) {
            tax_rows.push(Match {
                woocommerce: described,
                erpnext: account.clone(),
                how: "already mapped".into(),
            });
            continue;
        }
        let by_rate: Vec<&AccountInfo> = tax_accounts
            .iter()
            .copied()
            .filter(|account| account.tax_rate == Some(rate.rate.normalize()))
            .collect();
        let by_name = |account: &AccountInfo| {
            !rate.name.trim().is_empty() && lower(&account.name).contains(&lower(rate.name.trim()))
        };
        let found = by_rate
            .iter()
            .find(|account| by_name(account))
            .map(|account| (*account, "same rate and name"))
            .or_else(|| by_rate.first().map(|account| (*account, "same rate")))
            .or_else(|| {
                tax_accounts
                    .iter()
                    .find(|account| by_name(account))
                    .map(|account| (*account, "same name"))
            });
        match found {
            Some((account, how)) => {
                connection
                    .mappings
                    .tax_accounts
                    .insert(rate.id, account.name.clone());
                tax_rows.push(Match {
                    woocommerce: described,
                    erpnext: account.name.clone(),
                    how: how.into(),
                });
            }
            None => {
                let fallback = connection.default_tax_account.clone().unwrap_or_default();
                if fallback.is_empty() {
                    missing.push(Missing {
                        what: format!("{described} has no ERPNext tax account"),
                        why: "Orders taxed at this rate fail until it is mapped to a Tax account (or a default tax account is set).".into(),
                    });
                }
                tax_rows.push(Match {
                    woocommerce: described,
                    how: if fallback.is_empty() {
                        "no Tax account of this rate or name".into()
                    } else {
                        "the default tax account".into()
                    },
                    erpnext: fallback,
                });
            }
        }
    }

    // Shipping, fees and rounding: one account each, found by name or type.
    let find_account = |wanted: &dyn Fn(&AccountInfo) -> bool| {
        ledgers
            .iter()
            .find(|account| wanted(account))
            .map(|account| account.name.clone())
    };
    if connection.shipping_account.is_none() {
        connection.shipping_account = find_account(&|account| {
            let name = lower(&account.name);
            name.contains("freight") || name.contains("shipping")
        });
    }
    if connection.fee_account.is_none() {
        connection.fee_account = find_account(&|account| {
            let name = lower(&account.name);
            account.root_type == "Expense"
                && (name.contains("fee") || name.contains("miscellaneous"))
        });
    }
    if connection.rounding_account.is_none() {
        connection.rounding_account = find_account(&|account| account.account_type == "Round Off");
    }
    let shipping_account = connection.shipping_account.clone().unwrap_or_default();
    let shipping_rows: Vec<Match> = discovery
        .shipping_methods
        .iter()
        .map(|method| Match {
            woocommerce: format!("{} ({})", method.title, method.id),
            erpnext: shipping_account.clone(),
            how: if shipping_account.is_empty() {
                "no freight or shipping account".into()
            } else {
                "the shipping account".into()
            },
        })
        .collect();
    if shipping_account.is_empty() && !discovery.shipping_methods.is_empty() {
        missing.push(Missing {
            what: "No shipping account".into(),
            why: "Orders that charge shipping fail until shipping goes to an account (e.g. Freight and Forwarding Charges).".into(),
        });
    }
    if connection.fee_account.is_none() {
        missing.push(Missing {
            what: "No account for fee lines".into(),
            why: "Orders with a fee line (a surcharge or discount added at checkout) fail until fees go to an account.".into(),
        });
    }
    if connection.rounding_account.is_none() {
        missing.push(Missing {
            what: "No rounding account".into(),
            why: "A cent of difference between the shop's and ERPNext's totals cannot be booked, and such orders fail.".into(),
        });
    }

    // Payment gateways: a Mode of Payment the gateway usually is, else one named alike.
    let mut payment_rows = Vec::new();
    for gateway in discovery.payment_gateways.iter().filter(|g| g.enabled) {
        let described = format!("{} ({})", gateway.title, gateway.id);
        if let Some(target) = connection.mappings.payment_methods.get(&gateway.id) {
            payment_rows.push(Match {
                woocommerce: described,
                erpnext: target.mode_of_payment.clone(),
                how: "already mapped".into(),
            });
            continue;
        }
        let title = lower(&gateway.title);
        let found = usual_modes(&gateway.id)
            .iter()
            .find_map(|usual| discovery.modes_of_payment.iter().find(|mode| mode == usual))
            .map(|mode| (mode, "what this gateway usually is"))
            .or_else(|| {
                discovery
                    .modes_of_payment
                    .iter()
                    .find(|mode| !mode.is_empty() && title.contains(&lower(mode)))
                    .map(|mode| (mode, "same name"))
            });
        match found {
            Some((mode, how)) => {
                connection.mappings.payment_methods.insert(
                    gateway.id.clone(),
                    PaymentTarget {
                        mode_of_payment: mode.clone(),
                        account: None,
                        fee_account: None,
                    },
                );
                payment_rows.push(Match {
                    woocommerce: described,
                    erpnext: mode.clone(),
                    how: how.into(),
                });
            }
            None => {
                missing.push(Missing {
                    what: format!("Payment method {described} has no Mode of Payment"),
                    why: "Its Payment Entries carry no Mode of Payment, so ERPNext books them to the company's default account.".into(),
                });
                payment_rows.push(Match {
                    woocommerce: described,
                    erpnext: String::new(),
                    how: "no Mode of Payment of this name".into(),
                });
            }
        }
    }

    // Order statuses: the standard ones keep the default rules; custom ones are not imported.
    let status_rows = discovery
        .order_statuses
        .iter()
        .map(|status| {
            let imported = connection.imported_statuses.contains(&status.slug);
            let rule = connection
                .mappings
                .status_from_woocommerce
                .get(&status.slug)
                .map(String::as_str);
            Match {
                woocommerce: format!("{} ({} orders)", status.name, status.total),
                erpnext: match (imported, rule) {
                    (_, Some(rule)) => rule.to_string(),
                    (true, None) => "imported as a Sales Order".into(),
                    (false, None) if status.slug == "cancelled" => {
                        "cancels the Sales Order if there is one".into()
                    }
                    (false, None) => "not imported".into(),
                },
                how: if WOO_STATUSES.contains(&status.slug.as_str()) {
                    "WooCommerce status".into()
                } else {
                    "custom status, not imported unless chosen".into()
                },
            }
        })
        .collect();

    Proposal {
        connection,
        discovery,
        tax_rates: tax_rows,
        shipping_methods: shipping_rows,
        payment_gateways: payment_rows,
        order_statuses: status_rows,
        missing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::Credentials;

    fn draft() -> Connection {
        Connection::with_defaults(
            "shop",
            "https://shop.example.com".parse().unwrap(),
            "https://erp.example.com".parse().unwrap(),
            Credentials::default(),
        )
    }

    fn account(name: &str, account_type: &str, root_type: &str, rate: Option<&str>) -> AccountInfo {
        AccountInfo {
            name: name.into(),
            company: "Test Company".into(),
            account_type: account_type.into(),
            root_type: root_type.into(),
            tax_rate: rate.map(|rate| rate.parse().unwrap()),
        }
    }

    fn discovery() -> Discovery {
        let rate = |id: u64, name: &str, rate: &str| TaxRateInfo {
            id,
            name: name.into(),
            rate: rate.parse().unwrap(),
            country: "US".into(),
            state: String::new(),
            class: "standard".into(),
        };
        let gateway = |id: &str, title: &str| PaymentGatewayInfo {
            id: id.into(),
            title: title.into(),
            enabled: true,
        };
        Discovery {
            tax_rates: vec![
                rate(1, "CA State Tax", "7.2500"),
                rate(2, "Reduced", "4.0000"),
                rate(3, "NY Tax", "8.8750"),
            ],
            shipping_methods: vec![ShippingMethodInfo {
                id: "flat_rate".into(),
                title: "Flat rate".into(),
            }],
            payment_gateways: vec![
                gateway("bacs", "Direct bank transfer"),
                gateway("stripe", "Credit Card (Stripe)"),
                gateway("klarna", "Klarna"),
            ],
            order_statuses: vec![OrderStatusTotal {
                slug: "processing".into(),
                name: "Processing".into(),
                total: 3,
            }],
            companies: vec![CompanyInfo {
                name: "Test Company".into(),
                abbr: "TC".into(),
                default_currency: "USD".into(),
            }],
            warehouses: vec![
                WarehouseInfo {
                    name: "Finished Goods - TC".into(),
                    company: "Test Company".into(),
                },
                WarehouseInfo {
                    name: "Stores - TC".into(),
                    company: "Test Company".into(),
                },
            ],
            accounts: vec![
                account("ST 4% - TC", "Tax", "Liability", Some("4")),
                account("NY Tax - TC", "Tax", "Liability", None),
                account(
                    "Freight and Forwarding Charges - TC",
                    "Chargeable",
                    "Expense",
                    None,
                ),
                account("Round Off - TC", "Round Off", "Expense", None),
            ],
            modes_of_payment: vec!["Cash".into(), "Credit Card".into(), "Wire Transfer".into()],
            price_lists: vec!["Standard Selling".into()],
        }
    }

    #[test]
    fn mappings_are_proposed_by_rate_and_name_and_the_rest_is_named_with_why() {
        let proposal = propose(&draft(), discovery());
        let connection = &proposal.connection;
        assert_eq!(connection.company, "Test Company");
        assert_eq!(connection.default_warehouse, "Stores - TC");
        assert_eq!(connection.price_list, "Standard Selling");
        assert_eq!(
            connection.mappings.tax_accounts.get(&2).unwrap(),
            "ST 4% - TC"
        );
        assert_eq!(
            connection.mappings.tax_accounts.get(&3).unwrap(),
            "NY Tax - TC"
        );
        assert!(!connection.mappings.tax_accounts.contains_key(&1));
        assert_eq!(
            connection.shipping_account.as_deref(),
            Some("Freight and Forwarding Charges - TC")
        );
        assert_eq!(
            connection.rounding_account.as_deref(),
            Some("Round Off - TC")
        );
        assert_eq!(
            connection.mappings.payment_methods["bacs"].mode_of_payment,
            "Wire Transfer"
        );
        assert_eq!(
            connection.mappings.payment_methods["stripe"].mode_of_payment,
            "Credit Card"
        );
        assert!(!connection.mappings.payment_methods.contains_key("klarna"));
        let missing: Vec<&str> = proposal.missing.iter().map(|m| m.what.as_str()).collect();
        assert!(
            missing
                .iter()
                .any(|what| what.contains("Tax rate 1: CA State Tax")),
            "{missing:?}"
        );
        assert!(
            missing.iter().any(|what| what.contains("Klarna")),
            "{missing:?}"
        );
        assert!(
            missing.iter().any(|what| what.contains("fee lines")),
            "{missing:?}"
        );
        assert!(proposal
            .missing
            .iter()
            .all(|m| !m.why.is_empty() && !m.why.contains("--")));
        assert_eq!(proposal.tax_rates[1].how, "same rate");
        assert_eq!(proposal.tax_rates[2].how, "same name");
    }

    #[test]
    fn what_the_draft_already_says_is_kept() {
        let mut draft = draft();
        draft.company = "Test Company".into();
        draft.default_warehouse = "Finished Goods - TC".into();
        draft.mappings.tax_accounts.insert(1, "ST 4% - TC".into());
        let proposal = propose(&draft, discovery());
        assert_eq!(proposal.connection.default_warehouse, "Finished Goods - TC");
        assert_eq!(proposal.connection.mappings.tax_accounts[&1], "ST 4% - TC");
        assert_eq!(proposal.tax_rates[0].how, "already mapped");
    }

    #[test]
    fn a_company_that_does_not_exist_is_named_with_the_ones_that_do() {
        let mut draft = draft();
        draft.company = "Nope Ltd".into();
        let proposal = propose(&draft, discovery());
        assert!(
            proposal.missing[0].why.contains("Test Company"),
            "{:?}",
            proposal.missing
        );
    }
}
