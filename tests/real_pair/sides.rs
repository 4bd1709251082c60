//! One side of a differential sync: a WooCommerce store and an ERPNext site (both simulated, or
//! both real), a fresh store of our own, and a connection set up between them. The same scenario
//! runs on both sides; [`Observed`] is what a consultant would look at afterwards in ERPNext,
//! with document names and account names replaced by their roles so the two can be compared.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde_json::{json, Value};
use woocommerce_sync::connection::{
    Connection, Credentials, InvoiceTrigger, Mappings, MissingSkuRule, PaymentTarget,
    ShippingTarget, WooAuth,
};
use woocommerce_sync::erpnext::client::{ErpClient, ListQuery};
use woocommerce_sync::jobs::{Queue, QueuePolicy};
use woocommerce_sync::money::parse_decimal;
use woocommerce_sync::secrets::SecretKey;
use woocommerce_sync::simulators::{erpnext as erp_sim, woocommerce as woo_sim};
use woocommerce_sync::store::{Store, StoredConnection};
use woocommerce_sync::sync::context::{
    erpnext_client, woocommerce_client, CallSettings, ConnectionContext,
};
use woocommerce_sync::sync::report::{Attempt, Outcome};
use woocommerce_sync::sync::woo_to_erp::orders::OrderFlow;
use woocommerce_sync::woocommerce::WooClient;

use super::{patient_retries, RealErpnext, RealWooCommerce};

/// Accounts by the role the tier gives them; each side names its own.
pub type Accounts = BTreeMap<String, String>;

pub struct Side {
    pub label: &'static str,
    pub woo: WooClient,
    pub erp: ErpClient,
    pub store: Store,
    pub connection: StoredConnection,
    pub accounts: Accounts,
    pub woo_sim: Option<woo_sim::WooSimHandle>,
    pub erp_sim: Option<erp_sim::ErpSimHandle>,
    _dir: tempfile::TempDir,
}

pub fn calls() -> CallSettings {
    CallSettings {
        timeout: std::time::Duration::from_secs(60),
        retry: patient_retries(),
        max_in_flight: 4,
    }
}

/// The simulators' names for the roles, as a fresh ERPNext site after the wizard has them.
pub fn simulated_accounts() -> Accounts {
    [
        ("tax", "ST 6.25% - TC"),
        ("tax2", "ST 4% - TC"),
        ("tax3", "ST 6% - TC"),
        ("shipping", "Freight and Forwarding Charges - TC"),
        ("fee", "Miscellaneous Expenses - TC"),
        ("rounding", "Round Off - TC"),
        ("paid_to", "Cash - TC"),
        ("receivable_group", "Accounts Receivable - TC"),
        ("receivable", "Debtors - TC"),
    ]
    .into_iter()
    .map(|(role, name)| (role.to_string(), name.to_string()))
    .collect()
}

/// The connection every differential scenario uses, with this side's names.
#[allow(clippy::too_many_arguments)]
pub fn connection(
    name: &str,
    woo_url: url::Url,
    consumer_key: &str,
    consumer_secret: &str,
    erp_url: url::Url,
    api_key: &str,
    api_secret: &str,
    company: &str,
    warehouse: &str,
    accounts: &Accounts,
) -> Connection {
    let account = |role: &str| accounts[role].clone();
    let mut mappings = Mappings::default();
    // The lab store's rates: CA state, CA county, NY, US reduced.
    mappings.tax_accounts.insert(1, account("tax"));
    mappings.tax_accounts.insert(2, account("tax2"));
    mappings.tax_accounts.insert(3, account("tax3"));
    mappings.tax_accounts.insert(4, account("tax2"));
    mappings.shipping_methods.insert(
        "flat_rate".into(),
        ShippingTarget::Account(account("shipping")),
    );
    for (gateway, mode) in [
        ("bacs", "Wire Transfer"),
        ("cod", "Cash"),
        ("cheque", "Check"),
    ] {
        mappings.payment_methods.insert(
            gateway.into(),
            PaymentTarget {
                mode_of_payment: mode.into(),
                account: Some(account("paid_to")),
                fee_account: None,
            },
        );
    }
    // A card gateway that keeps a fee: the fee is deducted on the Payment Entry.
    mappings.payment_methods.insert(
        "stripe".into(),
        PaymentTarget {
            mode_of_payment: "Credit Card".into(),
            account: Some(account("paid_to")),
            fee_account: Some(account("fee")),
        },
    );
    // B2B: a zero-taxed sale to a buyer with a VAT number carries this Tax Category.
    mappings.exempt_tax_category = accounts.get("tax_category").cloned();
    for currency in ["EUR", "GBP", "JPY", "CAD"] {
        if let Some(receivable) = accounts.get(&format!("receivable_{currency}")) {
            mappings
                .receivable_accounts
                .insert(currency.into(), receivable.clone());
        }
    }
    Connection {
        name: name.into(),
        woocommerce_url: woo_url,
        woocommerce_auth: WooAuth::Auto,
        erpnext_url: erp_url,
        credentials: Credentials {
            consumer_key: consumer_key.into(),
            consumer_secret: consumer_secret.into(),
            webhook_secret: "differential-webhook-secret-0123456789".into(),
            api_key: api_key.into(),
            api_secret: api_secret.into(),
        },
        company: company.into(),
        default_warehouse: warehouse.into(),
        naming_series: "SAL-ORD-.YYYY.-".into(),
        customer_group: "Individual".into(),
        territory: "All Territories".into(),
        price_list: "Standard Selling".into(),
        item_group: "Products".into(),
        stock_uom: "Nos".into(),
        delivery_lead_days: 3,
        imported_statuses: vec!["processing".into(), "on-hold".into(), "completed".into()],
        invoice_trigger: InvoiceTrigger::Paid,
        submit_invoices: true,
        record_payments: true,
        rounding_tolerance: Decimal::new(1, 2),
        auto_create_items: true,
        missing_sku: MissingSkuRule::Synthesize,
        default_tax_account: Some(account("tax3")),
        shipping_account: Some(account("shipping")),
        fee_account: Some(account("fee")),
        rounding_account: Some(account("rounding")),
        mappings,
    }
}

async fn fresh_store(dir: &tempfile::TempDir) -> Store {
    Store::open(
        &format!("sqlite://{}", dir.path().join("sync.db").display()),
        SecretKey::from_base64("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=").unwrap(),
    )
    .await
    .unwrap()
}

impl Side {
    /// The simulators, the store serving exactly `orders` (real JSON, with their refunds).
    pub async fn simulated(name: &str, orders: &[(Value, Vec<Value>)], extra: &Accounts) -> Side {
        // One generated order gives the simulated store its catalogue of products.
        let woo_sim = woo_sim::start(woo_sim::WooSimOptions {
            orders: 1,
            ..woo_sim::WooSimOptions::default()
        })
        .await
        .unwrap();
        for (order, refunds) in orders {
            woo_sim.put_order(order, refunds).unwrap();
        }
        let erp_sim = erp_sim::start(erp_sim::ErpSimOptions::default())
            .await
            .unwrap();
        let mut accounts = simulated_accounts();
        accounts.extend(extra.clone());
        let connection = connection(
            name,
            woo_sim.base_url(),
            woo_sim::TEST_CONSUMER_KEY,
            woo_sim::TEST_CONSUMER_SECRET,
            erp_sim.base_url().clone(),
            erp_sim.api_key(),
            erp_sim.api_secret(),
            "Test Company",
            "Stores - TC",
            &accounts,
        );
        Side::with_connection(
            "simulators",
            connection,
            accounts,
            Some(woo_sim),
            Some(erp_sim),
        )
        .await
    }

    /// The real pair, with a connection of its own name.
    pub async fn real(
        name: &str,
        erp: &RealErpnext,
        woo: &RealWooCommerce,
        extra: &Accounts,
    ) -> Side {
        let mut accounts = erp.accounts.clone();
        accounts.extend(extra.clone());
        let connection = connection(
            name,
            woo.url.clone(),
            &woo.consumer_key,
            &woo.consumer_secret,
            erp.url.clone(),
            &erp.api_key,
            &erp.api_secret,
            &erp.company,
            &erp.warehouse,
            &accounts,
        );
        Side::with_connection("real systems", connection, accounts, None, None).await
    }

    /// The real ERPNext, but a simulated store serving exactly `orders`: for what no real
    /// gateway of the test store can produce (a refund the gateway paid back).
    pub async fn real_erpnext_simulated_store(
        name: &str,
        erp: &RealErpnext,
        orders: &[(Value, Vec<Value>)],
        extra: &Accounts,
    ) -> Side {
        let woo_sim = woo_sim::start(woo_sim::WooSimOptions::default())
            .await
            .unwrap();
        for (order, refunds) in orders {
            woo_sim.put_order(order, refunds).unwrap();
        }
        let mut accounts = erp.accounts.clone();
        accounts.extend(extra.clone());
        let connection = connection(
            name,
            woo_sim.base_url(),
            woo_sim::TEST_CONSUMER_KEY,
            woo_sim::TEST_CONSUMER_SECRET,
            erp.url.clone(),
            &erp.api_key,
            &erp.api_secret,
            &erp.company,
            &erp.warehouse,
            &accounts,
        );
        Side::with_connection("real ERPNext", connection, accounts, Some(woo_sim), None).await
    }

    async fn with_connection(
        label: &'static str,
        connection: Connection,
        accounts: Accounts,
        woo_sim: Option<woo_sim::WooSimHandle>,
        erp_sim: Option<erp_sim::ErpSimHandle>,
    ) -> Side {
        let dir = tempfile::tempdir().unwrap();
        let store = fresh_store(&dir).await;
        store.insert_connection(&connection).await.unwrap();
        let stored = store.connection(&connection.name).await.unwrap();
        let erp = erpnext_client(&connection, &calls()).unwrap();
        let woo = woocommerce_client(&connection, &calls()).unwrap();
        // The custom fields only: Webhooks would post to a receiver that is not there.
        woocommerce_sync::sync::setup::install_custom_fields(&erp)
            .await
            .unwrap_or_else(|error| panic!("{label}: custom fields: {error}"));
        Side {
            label,
            woo,
            erp,
            store,
            connection: stored,
            accounts,
            woo_sim,
            erp_sim,
            _dir: dir,
        }
    }

    /// The same systems and connection with an empty store of its own (a second service, or
    /// this one after losing what it recorded).
    pub async fn on_a_fresh_store(&self) -> Side {
        Side::with_connection(
            self.label,
            self.connection.connection.clone(),
            self.accounts.clone(),
            None,
            None,
        )
        .await
    }

    pub async fn context(&self) -> ConnectionContext {
        ConnectionContext::prepare(self.store.clone(), self.connection.clone(), &calls(), 4)
            .await
            .unwrap_or_else(|error| panic!("{}: prepare the sync: {error}", self.label))
            .handing_over_to(Queue::new(self.store.clone(), QueuePolicy::default()))
    }

    /// Syncs these orders as jobs would (each re-read from the store), then observes them.
    pub async fn sync_and_observe(&self, ids: &[u64]) -> Vec<Observed> {
        let ctx = self.context().await;
        let sync = OrderFlow::new(&ctx);
        let mut orders = Vec::new();
        for id in ids {
            orders.push(self.woo.get_order(*id).await.unwrap());
        }
        let reports = sync
            .sync_orders(orders, Attempt::first(), ctx.retries.as_ref())
            .await
            .unwrap_or_else(|error| panic!("{}: sync: {error}", self.label));
        let mut observed = Vec::new();
        for report in reports {
            let outcome = match &report.outcome {
                Outcome::Created { .. } => "created".to_string(),
                Outcome::Found { .. } => "found".to_string(),
                Outcome::Updated { .. } => "updated".to_string(),
                Outcome::Cancelled { .. } => "cancelled".to_string(),
                Outcome::Reversed { .. } => "reversed".to_string(),
                Outcome::Unchanged => "unchanged".to_string(),
                Outcome::Skipped { reason } => format!("skipped: {reason}"),
                Outcome::Failed { reason, .. } => format!("failed: {}", self.normalise(reason)),
            };
            let billing_failures = report
                .billing
                .failures
                .iter()
                .map(|failure| format!("{}: {}", failure.step, self.normalise(&failure.reason)))
                .collect();
            observed.push(Observed {
                order_id: report.order_id,
                outcome,
                billing_failures,
                documents: self.documents_of(report.order_id).await,
            });
        }
        observed
    }

    /// Account names and document names replaced by what they are, so sides compare.
    pub fn normalise(&self, text: &str) -> String {
        let mut text = text.to_string();
        let mut by_length: Vec<(&String, &String)> = self.accounts.iter().collect();
        by_length.sort_by_key(|(_, name)| std::cmp::Reverse(name.len()));
        for (role, name) in by_length {
            text = text.replace(name.as_str(), &format!("<{role}>"));
        }
        document_names(&text)
    }

    fn account_role(&self, name: &str) -> String {
        self.accounts
            .iter()
            .find(|(_, account)| account.as_str() == name)
            .map(|(role, _)| format!("<{role}>"))
            .unwrap_or_else(|| name.to_string())
    }

    /// The Sales Order the store links to shop order `order_id`; `None` when the sync made none.
    pub async fn sales_order_of(&self, order_id: u64) -> Option<String> {
        self.store
            .link(
                self.connection.id,
                "order",
                &order_id.to_string(),
                "Sales Order",
            )
            .await
            .unwrap()
            .map(|link| link.erp_name)
    }

    /// The documents the sync keys to this order: Sales Order, invoice, payment, credit notes.
    pub async fn documents_of(&self, order_id: u64) -> Vec<Value> {
        let name = &self.connection.connection.name;
        let mut found = Vec::new();
        for (doctype, field, key) in [
            (
                "Sales Order",
                "woocommerce_order_key",
                format!("{name}:{order_id}"),
            ),
            (
                "Sales Invoice",
                "woocommerce_invoice_key",
                format!("{name}:{order_id}"),
            ),
            (
                "Payment Entry",
                "woocommerce_payment_key",
                format!("{name}:{order_id}"),
            ),
            (
                "Sales Invoice",
                "woocommerce_credit_note_key",
                format!("{name}:cancel:{order_id}"),
            ),
        ] {
            found.extend(self.keyed(doctype, field, "=", &key).await);
        }
        for refund in self.refund_ids(order_id).await {
            for (doctype, field) in [
                ("Sales Invoice", "woocommerce_credit_note_key"),
                ("Payment Entry", "woocommerce_payment_key"),
            ] {
                let key = format!("{name}:refund:{refund}");
                found.extend(self.keyed(doctype, field, "=", &key).await);
            }
        }
        found
    }

    async fn refund_ids(&self, order_id: u64) -> Vec<u64> {
        let refunds = self.woo.list_refunds(order_id).await.unwrap_or_default();
        let mut ids: Vec<u64> = refunds.iter().map(|refund| refund.id).collect();
        ids.sort_unstable();
        ids
    }

    async fn keyed(&self, doctype: &str, field: &str, operator: &str, key: &str) -> Vec<Value> {
        let rows: Vec<Value> = self
            .erp
            .list(
                doctype,
                &ListQuery::default()
                    .fields(&["name"])
                    .filter(field, operator, key)
                    .all_rows(),
            )
            .await
            .unwrap_or_else(|error| panic!("{}: list {doctype}: {error}", self.label));
        let mut views = Vec::new();
        for row in rows {
            let name = row["name"].as_str().unwrap_or_default();
            let document = self.erp.get_document(doctype, name).await.unwrap();
            views.push(self.view(doctype, &document).await);
        }
        views
    }

    /// The fields a consultant checks, per doctype, in comparable form.
    async fn view(&self, doctype: &str, document: &Value) -> Value {
        let money = |value: &Value| decimal(value).normalize().to_string();
        let text = |field: &str| document[field].as_str().unwrap_or_default().to_string();
        let rows = |field: &str| document[field].as_array().cloned().unwrap_or_default();
        match doctype {
            "Sales Order" | "Sales Invoice" => {
                let items: Vec<Value> = rows("items")
                    .iter()
                    .map(|row| {
                        json!({
                            "item_code": row["item_code"],
                            "qty": money(&row["qty"]),
                            "rate": money(&row["rate"]),
                            "price_list_rate": money(&row["price_list_rate"]),
                            "amount": money(&row["amount"]),
                        })
                    })
                    .collect();
                let taxes: Vec<Value> = rows("taxes")
                    .iter()
                    .map(|row| {
                        json!({
                            "charge_type": row["charge_type"],
                            "account_head": self.account_role(row["account_head"].as_str().unwrap_or_default()),
                            "tax_amount": money(&row["tax_amount"]),
                        })
                    })
                    .collect();
                let customer = self
                    .erp
                    .get_document("Customer", &text("customer"))
                    .await
                    .map(|customer| {
                        json!({
                            "customer_name": customer["customer_name"],
                            "default_currency": customer["default_currency"].as_str().unwrap_or_default(),
                            "tax_id": customer["tax_id"].as_str().unwrap_or_default(),
                            "accounts": customer["accounts"].as_array().map(|rows| rows.iter().map(|row| self.account_role(row["account"].as_str().unwrap_or_default())).collect::<Vec<_>>()).unwrap_or_default(),
                        })
                    })
                    .unwrap_or(Value::Null);
                json!({
                    "doctype": doctype,
                    "docstatus": document["docstatus"],
                    "status": document["status"],
                    "is_return": document["is_return"].as_i64().unwrap_or(0),
                    "currency": document["currency"],
                    "conversion_rate": money(&document["conversion_rate"]),
                    "net_total": money(&document["net_total"]),
                    "total_taxes_and_charges": money(&document["total_taxes_and_charges"]),
                    "grand_total": money(&document["grand_total"]),
                    "outstanding_amount": if doctype == "Sales Invoice" { json!(money(&document["outstanding_amount"])) } else { Value::Null },
                    "per_billed": if doctype == "Sales Order" { json!(money(&document["per_billed"])) } else { Value::Null },
                    "debit_to": if doctype == "Sales Invoice" { json!(self.account_role(&text("debit_to"))) } else { Value::Null },
                    "tax_category": self.account_role(&text("tax_category")),
                    "customer": customer,
                    "items": items,
                    "taxes": taxes,
                })
            }
            _ => json!({
                "doctype": doctype,
                "docstatus": document["docstatus"],
                "payment_type": document["payment_type"],
                "mode_of_payment": document["mode_of_payment"],
                "paid_from": self.account_role(&text("paid_from")),
                "paid_to": self.account_role(&text("paid_to")),
                "paid_amount": money(&document["paid_amount"]),
                "received_amount": money(&document["received_amount"]),
                "references": rows("references").iter().map(|row| json!({
                    "reference_doctype": row["reference_doctype"],
                    "allocated_amount": money(&row["allocated_amount"]),
                })).collect::<Vec<_>>(),
                "deductions": rows("deductions").iter().map(|row| json!({
                    "account": self.account_role(row["account"].as_str().unwrap_or_default()),
                    "cost_center": row["cost_center"],
                    "amount": money(&row["amount"]),
                })).collect::<Vec<_>>(),
                "unallocated_amount": money(&document["unallocated_amount"]),
                "difference_amount": money(&document["difference_amount"]),
            }),
        }
    }
}

/// What one order came to on one side.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    pub order_id: u64,
    pub outcome: String,
    pub billing_failures: Vec<String>,
    pub documents: Vec<Value>,
}

pub fn decimal(value: &Value) -> Decimal {
    match value {
        Value::String(text) => parse_decimal(text).unwrap_or_default(),
        Value::Number(number) => parse_decimal(&number.to_string()).unwrap_or_default(),
        _ => Decimal::ZERO,
    }
}

/// `SAL-ORD-2026-00012`, `ACC-SINV-2026-00003`, `ACC-PAY-…` → `<document>`: names differ between
/// sites that have made different numbers of documents.
fn document_names(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_inclusive(|c: char| c.is_whitespace()) {
        let trimmed = word.trim_end();
        let core = trimmed.trim_matches(|c: char| !c.is_ascii_alphanumeric() && c != '-');
        let is_name = ["SAL-ORD-", "ACC-SINV-", "ACC-PAY-", "SO-", "SINV-"]
            .iter()
            .any(|prefix| core.starts_with(prefix))
            && core.chars().last().is_some_and(|c| c.is_ascii_digit());
        if is_name {
            out.push_str(&word.replace(core, "<document>"));
        } else {
            out.push_str(word);
        }
    }
    out
}

/// Compares both sides order by order and says precisely where they differ.
pub fn assert_same(scenario: &str, simulated: &[Observed], real: &[Observed]) {
    assert_eq!(
        simulated.len(),
        real.len(),
        "{scenario}: the sides synced a different number of orders"
    );
    for (sim, real) in simulated.iter().zip(real) {
        assert_eq!(sim.order_id, real.order_id, "{scenario}: order ids");
        assert_eq!(
            (sim.outcome.as_str(), &sim.billing_failures),
            (real.outcome.as_str(), &real.billing_failures),
            "{scenario}, order {}: the simulators (left) and the real systems (right) ended differently",
            sim.order_id
        );
        assert_eq!(
            serde_json::to_string_pretty(&sim.documents).unwrap(),
            serde_json::to_string_pretty(&real.documents).unwrap(),
            "{scenario}, order {}: the documents differ (left simulators, right real systems)",
            sim.order_id
        );
    }
}
