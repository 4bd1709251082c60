//! Set-up for a connection: in ERPNext the custom fields the sync writes its keys into, the
//! Webhook documents that tell the service about changes, and the receivable accounts of the
//! currencies the shop sells in; in WooCommerce the webhooks that deliver its orders. Every step
//! looks before it writes, so running it again changes nothing.

use std::fmt;

use serde::de::IgnoredAny;
use serde_json::{json, Value};
use url::Url;

use std::collections::BTreeSet;

use crate::connection::Connection;
use crate::erpnext::client::ListQuery;
use crate::erpnext::{ErpClient, ErpError};
use crate::sync::context::{erpnext_client, woocommerce_client, CallSettings};
use crate::woocommerce::OrderQuery;

/// What `install` sets up.
#[derive(Clone)]
pub struct SetupPlan {
    /// The connection's name, which its documents carry in `woocommerce_store`.
    pub connection_name: String,
    /// Where ERPNext posts its webhooks, e.g. `https://sync.example.com/webhooks/erpnext/shop1`.
    /// Each webhook gets its own query (`?doctype=Sales+Order&event=on_submit`),
    /// because Frappe sends no header naming the event.
    pub webhook_base_url: Url,
    /// Secret ERPNext signs deliveries with (`X-Frappe-Webhook-Signature`).
    pub webhook_secret: String,
    /// Write the secret into webhooks that already exist (ERPNext never shows a
    /// stored secret, so a changed secret cannot be detected).
    pub update_webhook_secrets: bool,
    /// The catalogue's Webhooks (stock moves, price changes), when the plan installs them.
    pub catalogue: Option<CatalogueWatch>,
}

/// What the catalogue's Webhooks follow: stock moves in these warehouses, Item Prices of these
/// price lists.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogueWatch {
    pub warehouses: Vec<String>,
    pub price_lists: Vec<String>,
}

impl CatalogueWatch {
    /// The connection's stock warehouses, its price list and its sale price list.
    pub fn of(connection: &Connection) -> CatalogueWatch {
        let mut price_lists = vec![connection.price_list.clone()];
        price_lists.extend(connection.mappings.catalogue.sale_price_list.clone());
        CatalogueWatch {
            warehouses: connection.stock_warehouses(),
            price_lists,
        }
    }
}

/// `doc.<field> == "a" or doc.<field> == "b"`: the condition form both Frappe and the simulator
/// evaluate.
fn any_of(field: &str, values: &[String]) -> String {
    values
        .iter()
        .map(|value| format!("doc.{field} == {}", serde_json::Value::from(value.as_str())))
        .collect::<Vec<_>>()
        .join(" or ")
}

impl fmt::Debug for SetupPlan {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("SetupPlan")
            .field("connection_name", &self.connection_name)
            .field("webhook_base_url", &self.webhook_base_url.as_str())
            .field("webhook_secret", &"********")
            .field("update_webhook_secrets", &self.update_webhook_secrets)
            .field("catalogue", &self.catalogue)
            .finish()
    }
}

/// One custom field the sync needs.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomFieldSpec {
    pub doctype: &'static str,
    pub fieldname: &'static str,
    pub label: &'static str,
    pub insert_after: &'static str,
    /// `Data` (140 characters) for keys and short values, `Small Text` for free text.
    pub fieldtype: &'static str,
    /// Enforced by ERPNext like a unique index: the exactly-once keys.
    pub unique: bool,
    /// Not copied when a document is mapped (the keys must not travel from a
    /// Sales Order to its invoice; the order id/number/store should).
    pub no_copy: bool,
    pub read_only: bool,
    /// May change on a submitted document (what the sync follows after import).
    pub allow_on_submit: bool,
}

/// One ERPNext Webhook the service listens to.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookSpec {
    pub name: String,
    pub doctype: &'static str,
    pub event: &'static str,
    /// Frappe evaluates it for every document of the doctype; the Webhook fires only when true.
    pub condition: String,
    pub request_url: String,
}

/// What `install` did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SetupReport {
    pub created: Vec<String>,
    pub updated: Vec<String>,
    pub removed: Vec<String>,
    pub unchanged: Vec<String>,
}

impl SetupReport {
    /// Adds what another step did.
    pub fn merge(&mut self, other: SetupReport) {
        self.created.extend(other.created);
        self.updated.extend(other.updated);
        self.removed.extend(other.removed);
        self.unchanged.extend(other.unchanged);
    }

    /// After passes that met faults: each thing once, and not "unchanged" when a pass before
    /// had created or updated it.
    fn settle(&mut self) {
        for list in [&mut self.created, &mut self.updated, &mut self.removed] {
            let mut seen = BTreeSet::new();
            list.retain(|item| seen.insert(item.clone()));
        }
        let changed: BTreeSet<String> = self
            .created
            .iter()
            .chain(&self.updated)
            .chain(&self.removed)
            .cloned()
            .collect();
        let mut seen = BTreeSet::new();
        self.unchanged
            .retain(|item| !changed.contains(item) && seen.insert(item.clone()));
    }

    pub fn changed_anything(&self) -> bool {
        !self.created.is_empty() || !self.updated.is_empty() || !self.removed.is_empty()
    }
}

impl fmt::Display for SetupReport {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.changed_anything() {
            return write!(
                formatter,
                "ERPNext is already set up: {} items checked, nothing changed",
                self.unchanged.len()
            );
        }
        for (verb, items) in [
            ("created", &self.created),
            ("updated", &self.updated),
            ("removed", &self.removed),
        ] {
            for item in items {
                writeln!(formatter, "{verb}: {item}")?;
            }
        }
        write!(formatter, "{} already in place", self.unchanged.len())
    }
}

/// The master data a connection refers to.
#[derive(Debug, Clone, Default)]
pub struct MasterDataNeeds {
    pub company: String,
    pub warehouse: String,
    pub accounts: Vec<String>,
    pub modes_of_payment: Vec<String>,
    /// Accounts that must be expense accounts (the gateways' fee accounts); also in `accounts`.
    pub expense_accounts: Vec<String>,
    /// Tax Categories the Sales Orders may name (the exempt category).
    pub tax_categories: Vec<String>,
}

fn key_field(
    doctype: &'static str,
    fieldname: &'static str,
    label: &'static str,
    insert_after: &'static str,
) -> CustomFieldSpec {
    CustomFieldSpec {
        doctype,
        fieldname,
        label,
        insert_after,
        fieldtype: "Data",
        unique: true,
        no_copy: true,
        read_only: true,
        allow_on_submit: false,
    }
}

fn info_field(
    doctype: &'static str,
    fieldname: &'static str,
    label: &'static str,
    insert_after: &'static str,
) -> CustomFieldSpec {
    CustomFieldSpec {
        doctype,
        fieldname,
        label,
        insert_after,
        fieldtype: "Data",
        unique: false,
        no_copy: false,
        read_only: true,
        allow_on_submit: false,
    }
}

/// A field the sync keeps up to date after the document is submitted.
fn followed_field(
    doctype: &'static str,
    fieldname: &'static str,
    label: &'static str,
    insert_after: &'static str,
) -> CustomFieldSpec {
    CustomFieldSpec {
        allow_on_submit: true,
        ..info_field(doctype, fieldname, label, insert_after)
    }
}

/// Every custom field the sync uses. Keys are `<connection>:<woo id>` values.
pub fn custom_fields() -> Vec<CustomFieldSpec> {
    vec![
        key_field(
            "Sales Order",
            "woocommerce_order_key",
            "WooCommerce Order Key",
            "customer",
        ),
        info_field(
            "Sales Order",
            "woocommerce_order_id",
            "WooCommerce Order ID",
            "woocommerce_order_key",
        ),
        info_field(
            "Sales Order",
            "woocommerce_order_number",
            "WooCommerce Order Number",
            "woocommerce_order_id",
        ),
        // Editable: a user marks an order made in ERPNext (phone, B2B) for a store by naming the
        // connection here before submitting it; the sync then creates it in the shop.
        CustomFieldSpec {
            read_only: false,
            ..info_field(
                "Sales Order",
                "woocommerce_store",
                "WooCommerce Store",
                "woocommerce_order_number",
            )
        },
        info_field(
            "Sales Order",
            "woocommerce_payment_method",
            "WooCommerce Payment Method",
            "woocommerce_store",
        ),
        followed_field(
            "Sales Order",
            "woocommerce_status",
            "WooCommerce Status",
            "woocommerce_payment_method",
        ),
        // A buyer's note can be long: Small Text holds 64 KiB where Data holds 140 characters.
        CustomFieldSpec {
            fieldtype: "Small Text",
            ..followed_field(
                "Sales Order",
                "woocommerce_customer_note",
                "WooCommerce Customer Note",
                "woocommerce_status",
            )
        },
        key_field(
            "Sales Invoice",
            "woocommerce_invoice_key",
            "WooCommerce Invoice Key",
            "customer",
        ),
        info_field(
            "Sales Invoice",
            "woocommerce_order_id",
            "WooCommerce Order ID",
            "woocommerce_invoice_key",
        ),
        info_field(
            "Sales Invoice",
            "woocommerce_order_number",
            "WooCommerce Order Number",
            "woocommerce_order_id",
        ),
        info_field(
            "Sales Invoice",
            "woocommerce_store",
            "WooCommerce Store",
            "woocommerce_order_number",
        ),
        // Credit notes are Sales Invoices too, keyed apart: `<connection>:refund:<refund id>`
        // or `<connection>:cancel:<order id>` (the invoice key is no-copy, so returns leave it empty).
        key_field(
            "Sales Invoice",
            "woocommerce_credit_note_key",
            "WooCommerce Credit Note Key",
            "woocommerce_store",
        ),
        key_field(
            "Payment Entry",
            "woocommerce_payment_key",
            "WooCommerce Payment Key",
            "party",
        ),
        info_field(
            "Payment Entry",
            "woocommerce_order_id",
            "WooCommerce Order ID",
            "woocommerce_payment_key",
        ),
        info_field(
            "Payment Entry",
            "woocommerce_store",
            "WooCommerce Store",
            "woocommerce_order_id",
        ),
        key_field(
            "Customer",
            "woocommerce_customer_key",
            "WooCommerce Customer Key",
            "customer_name",
        ),
        info_field(
            "Customer",
            "woocommerce_customer_id",
            "WooCommerce Customer ID",
            "woocommerce_customer_key",
        ),
        info_field(
            "Customer",
            "woocommerce_email",
            "WooCommerce Email",
            "woocommerce_customer_id",
        ),
        info_field(
            "Customer",
            "woocommerce_store",
            "WooCommerce Store",
            "woocommerce_email",
        ),
        key_field(
            "Address",
            "woocommerce_address_key",
            "WooCommerce Address Key",
            "address_title",
        ),
        info_field(
            "Address",
            "woocommerce_store",
            "WooCommerce Store",
            "woocommerce_address_key",
        ),
        info_field(
            "Item",
            "woocommerce_product_id",
            "WooCommerce Product ID",
            "item_name",
        ),
        info_field(
            "Item",
            "woocommerce_variation_id",
            "WooCommerce Variation ID",
            "woocommerce_product_id",
        ),
        info_field(
            "Item",
            "woocommerce_store",
            "WooCommerce Store",
            "woocommerce_variation_id",
        ),
    ]
}

/// The Webhooks: `on_change` of this connection's Sales Orders, and (with `catalogue`) a stock
/// move in its warehouses and a change of its Item Prices.
///
/// `on_change` is what the service needs to hear: ERPNext changes an order's status with
/// `db_set` when it is delivered, invoiced or closed, which fires only `on_change`; a cancel
/// fires `on_cancel` *and* `on_change`; submitting a draft and saving a submitted order fire it
/// too. Only an insert does not (Frappe leaves `on_change` out while `in_insert`), so the sync's
/// own inserts deliver nothing.
///
/// One Webhook, because every enabled Webhook of a doctype costs ERPNext work on every save of
/// every document of that doctype: Frappe evaluates its condition (a restricted-Python compile
/// plus the safe globals, 0.2–0.4 ms on the lab) on each of the ~10 methods a save runs, before
/// it even looks at the event. Three Webhooks made the sync's Sales Order inserts measurably
/// slower (docs/benchmarks.md, "Real ERPNext"). The condition stays: without it every change of
/// every Sales Order on the site would be delivered, each delivery holding the site's single
/// background worker for a second or more. (`on_cancel` only repeated `on_change`; `on_submit`
/// of orders inserted already submitted in ERPNext reached nothing that acts on it, and the
/// poll is the backstop for what a Webhook misses.) A Delivery Note submitted or cancelled sets
/// its order's delivered percentage and status the same way, so this Webhook also carries the
/// shipments back to the shop (`sync::erp_to_woo`); a Delivery Note Webhook would add cost and
/// nothing else.
pub fn webhooks(plan: &SetupPlan) -> Vec<WebhookSpec> {
    let ours = format!(
        "doc.get(\"woocommerce_store\") == \"{}\"",
        plan.connection_name
    );
    let mut wanted = vec![("Sales Order", "on_change", ours)];
    // The catalogue's, as the real site raises them (`tests/real_erpnext.rs`, stock events):
    // every stock move inserts a Stock Ledger Entry (Stock Reconciliation, Stock Entry, Delivery
    // Note, Purchase Receipt, their cancels alike), while a Bin raises events only when it is
    // made, later moves updating it in SQL. One Webhook on the ledger rather than one per
    // stock document: a move of any kind is heard, and the receiver coalesces a flood of moves
    // into one pass. An Item Price raises `on_update` when made and when saved. (A deletion has
    // no Webhook: the scheduled pass reads it from the site's Deleted Documents.)
    if let Some(catalogue) = &plan.catalogue {
        if !catalogue.warehouses.is_empty() {
            wanted.push((
                "Stock Ledger Entry",
                "after_insert",
                any_of("warehouse", &catalogue.warehouses),
            ));
        }
        if !catalogue.price_lists.is_empty() {
            wanted.push((
                "Item Price",
                "on_update",
                any_of("price_list", &catalogue.price_lists),
            ));
        }
    }
    wanted
        .into_iter()
        .map(|(doctype, event, condition)| {
            let mut url = plan.webhook_base_url.clone();
            url.query_pairs_mut()
                .append_pair("doctype", doctype)
                .append_pair("event", event);
            let slug = doctype.to_lowercase().replace(' ', "-");
            WebhookSpec {
                name: format!("{} {slug} {event}", webhook_prefix(plan)),
                doctype,
                event,
                condition,
                request_url: url.to_string(),
            }
        })
        .collect()
}

/// What the names of this service's Webhooks for one URL start with.
pub fn webhook_prefix(plan: &SetupPlan) -> String {
    format!("woocommerce-sync {}", host_label(&plan.webhook_base_url))
}

/// Names webhooks after the receiving service, so two services (or two
/// connections with different URLs) on one site do not overwrite each other.
fn host_label(url: &Url) -> String {
    let path = url.path().trim_matches('/').replace('/', "-");
    match (url.host_str(), path.is_empty()) {
        (Some(host), true) => host.to_string(),
        (Some(host), false) => format!("{host}-{path}"),
        (None, _) => path,
    }
}

/// Installs the custom fields and webhooks; idempotent.
pub async fn install(client: &ErpClient, plan: &SetupPlan) -> Result<SetupReport, ErpError> {
    let mut report = install_custom_fields(client).await?;
    if plan.webhook_secret.trim().is_empty() {
        // ERPNext refuses a signed Webhook without a secret ("Invalid Webhook Secret").
        return Err(ErpError::InvalidRequest(
            "the connection has no webhook secret, so ERPNext could not sign its webhooks; set one on the connection first".into(),
        ));
    }
    let wanted = webhooks(plan);
    for webhook in &wanted {
        install_webhook(client, plan, webhook, &mut report).await?;
    }
    remove_stale_webhooks(client, plan, &wanted, &mut report).await?;
    Ok(report)
}

/// Deletes this service's Webhooks for the same URL that the current version no longer wants
/// (every Webhook costs ERPNext work on every save of its doctype).
async fn remove_stale_webhooks(
    client: &ErpClient,
    plan: &SetupPlan,
    wanted: &[WebhookSpec],
    report: &mut SetupReport,
) -> Result<(), ErpError> {
    let prefix = webhook_prefix(plan);
    let existing: Vec<crate::erpnext::types::Named> = client
        .list(
            "Webhook",
            &crate::erpnext::client::ListQuery::default()
                .fields(&["name"])
                .filter("name", "like", format!("{prefix} %"))
                .all_rows(),
        )
        .await?;
    for webhook in existing {
        if wanted.iter().any(|spec| spec.name == webhook.name) {
            continue;
        }
        match client.delete("Webhook", &webhook.name).await {
            Ok(()) => report.removed.push(format!("webhook {}", webhook.name)),
            Err(error) if error.is_not_found() => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

/// Deletes every Webhook this service installed for the plan's URL and says which; the custom
/// fields stay. For a connection that goes away (or a bench that made one for a run).
pub async fn remove_webhooks(
    client: &ErpClient,
    plan: &SetupPlan,
) -> Result<Vec<String>, ErpError> {
    let prefix = webhook_prefix(plan);
    let existing: Vec<crate::erpnext::types::Named> = client
        .list(
            "Webhook",
            &crate::erpnext::client::ListQuery::default()
                .fields(&["name"])
                .filter("name", "like", format!("{prefix} %"))
                .all_rows(),
        )
        .await?;
    let mut removed = Vec::new();
    for webhook in existing {
        match client.delete("Webhook", &webhook.name).await {
            Ok(()) => removed.push(webhook.name),
            // Removed meanwhile (or by an earlier attempt whose answer was lost).
            Err(error) if error.is_not_found() => {}
            Err(error) => return Err(error),
        }
    }
    Ok(removed)
}

/// Installs the custom fields only; idempotent.
pub async fn install_custom_fields(client: &ErpClient) -> Result<SetupReport, ErpError> {
    let mut report = SetupReport::default();
    for field in custom_fields() {
        install_custom_field(client, &field, &mut report).await?;
    }
    Ok(report)
}

fn flag(value: bool) -> i64 {
    i64::from(value)
}

/// The custom fields `setup` installs that ERPNext lacks (one list call): a sync against a
/// half-installed setup would fail on every order, so it refuses to start instead.
pub async fn missing_custom_fields(client: &ErpClient) -> Result<Vec<String>, ErpError> {
    let wanted: Vec<String> = custom_fields()
        .iter()
        .map(|field| format!("{}-{}", field.doctype, field.fieldname))
        .collect();
    let found: Vec<crate::erpnext::types::Named> = client
        .list(
            "Custom Field",
            &ListQuery::default()
                .fields(&["name"])
                .filter("name", "in", json!(wanted))
                .all_rows(),
        )
        .await?;
    Ok(wanted
        .into_iter()
        .filter(|name| !found.iter().any(|field| &field.name == name))
        .collect())
}

async fn install_custom_field(
    client: &ErpClient,
    field: &CustomFieldSpec,
    report: &mut SetupReport,
) -> Result<(), ErpError> {
    let name = format!("{}-{}", field.doctype, field.fieldname);
    let description = format!("custom field {}.{}", field.doctype, field.fieldname);
    let wanted = json!({
        "label": field.label,
        "fieldtype": field.fieldtype,
        "unique": flag(field.unique),
        "no_copy": flag(field.no_copy),
        "read_only": flag(field.read_only),
        "allow_on_submit": flag(field.allow_on_submit),
    });
    match client.get_optional::<Value>("Custom Field", &name).await? {
        Some(existing) => {
            let differs = ["unique", "no_copy", "read_only", "allow_on_submit"]
                .iter()
                .any(|key| {
                    existing.get(*key).and_then(Value::as_i64).unwrap_or(0)
                        != wanted[*key].as_i64().unwrap_or(0)
                })
                || existing.get("fieldtype") != Some(&wanted["fieldtype"]);
            if differs {
                client.update("Custom Field", &name, &wanted).await?;
                report.updated.push(description);
            } else {
                report.unchanged.push(description);
            }
        }
        None => {
            let mut document = wanted;
            document["dt"] = json!(field.doctype);
            document["fieldname"] = json!(field.fieldname);
            document["insert_after"] = json!(field.insert_after);
            match client.insert::<IgnoredAny>("Custom Field", &document).await {
                Ok(_) => report.created.push(description),
                // Another run created it in the meantime.
                Err(error) if error.is_duplicate() => report.unchanged.push(description),
                Err(error) => return Err(error),
            }
        }
    }
    Ok(())
}

async fn install_webhook(
    client: &ErpClient,
    plan: &SetupPlan,
    webhook: &WebhookSpec,
    report: &mut SetupReport,
) -> Result<(), ErpError> {
    let description = format!(
        "webhook {} {} → {}",
        webhook.doctype, webhook.event, webhook.request_url
    );
    let wanted = json!({
        "webhook_doctype": webhook.doctype,
        "webhook_docevent": webhook.event,
        "condition": webhook.condition,
        "enabled": 1,
        "request_url": webhook.request_url,
        "request_method": "POST",
        "request_structure": "JSON",
        "webhook_json": "{{ doc | tojson }}",
        "enable_security": 1,
    });
    match client
        .get_optional::<Value>("Webhook", &webhook.name)
        .await?
    {
        Some(existing) => {
            let differs = [
                "webhook_doctype",
                "webhook_docevent",
                "condition",
                "request_url",
                "request_structure",
                "webhook_json",
            ]
            .iter()
            .any(|key| existing.get(*key) != wanted.get(*key))
                || existing.get("enabled").and_then(Value::as_i64) != Some(1)
                || existing.get("enable_security").and_then(Value::as_i64) != Some(1);
            if differs || plan.update_webhook_secrets {
                let mut changes = wanted;
                changes["webhook_secret"] = json!(plan.webhook_secret);
                client.update("Webhook", &webhook.name, &changes).await?;
                report.updated.push(description);
            } else {
                report.unchanged.push(description);
            }
        }
        None => {
            let mut document = wanted;
            document["__newname"] = json!(webhook.name);
            document["webhook_secret"] = json!(plan.webhook_secret);
            // The REST API adds no Content-Type row by itself (the Desk form does).
            document["webhook_headers"] =
                json!([{"key": "Content-Type", "value": "application/json"}]);
            match client.insert::<IgnoredAny>("Webhook", &document).await {
                Ok(_) => report.created.push(description),
                Err(error) if error.is_duplicate() => report.unchanged.push(description),
                Err(error) => return Err(error),
            }
        }
    }
    Ok(())
}

/// What the connection's settings name but ERPNext lacks, in words a person can act on.
pub async fn check_master_data(
    client: &ErpClient,
    needs: &MasterDataNeeds,
) -> Result<Vec<String>, ErpError> {
    let mut missing = Vec::new();
    if client
        .get_optional::<Value>("Company", &needs.company)
        .await?
        .is_none()
    {
        missing.push(format!(
            "Company `{}` does not exist in ERPNext (Accounting → Company)",
            needs.company
        ));
    }
    if !needs.warehouse.is_empty() {
        match client
            .get_optional::<Value>("Warehouse", &needs.warehouse)
            .await?
        {
            None => missing.push(format!(
                "Warehouse `{}` does not exist in ERPNext (Stock → Warehouse)",
                needs.warehouse
            )),
            Some(warehouse) => {
                let company = warehouse
                    .get("company")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if company != needs.company {
                    missing.push(format!(
                        "Warehouse `{}` belongs to company `{company}`, not `{}`",
                        needs.warehouse, needs.company
                    ));
                }
            }
        }
    }
    for account in &needs.accounts {
        match client.get_optional::<Value>("Account", account).await? {
            None => missing.push(format!(
                "Account `{account}` does not exist in ERPNext (Accounting → Chart of Accounts)"
            )),
            Some(found) => {
                let company = found
                    .get("company")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if company != needs.company {
                    missing.push(format!(
                        "Account `{account}` belongs to company `{company}`, not `{}`",
                        needs.company
                    ));
                }
                if found.get("is_group").and_then(Value::as_i64) == Some(1) {
                    missing.push(format!(
                        "Account `{account}` is a group account; pick a ledger account under it"
                    ));
                }
            }
        }
    }
    for account in &needs.expense_accounts {
        if let Some(found) = client.get_optional::<Value>("Account", account).await? {
            let root_type = found["root_type"].as_str().unwrap_or_default();
            if root_type != "Expense" {
                missing.push(format!(
                    "Account `{account}` is a fee account but not an expense account (its root type is `{root_type}`); pick one under Expenses, e.g. Bank Charges"
                ));
            }
        }
    }
    for category in &needs.tax_categories {
        if client
            .get_optional::<Value>("Tax Category", category)
            .await?
            .is_none()
        {
            missing.push(format!(
                "Tax Category `{category}` does not exist in ERPNext (Accounting → Tax Category)"
            ));
        }
    }
    for mode in &needs.modes_of_payment {
        if client
            .get_optional::<Value>("Mode of Payment", mode)
            .await?
            .is_none()
        {
            missing.push(format!(
                "Mode of Payment `{mode}` does not exist in ERPNext (Accounting → Mode of Payment)"
            ));
        }
    }
    Ok(missing)
}

/// A receivable account the connection names for a currency, checked against ERPNext: each
/// problem in words a person can act on.
pub async fn check_receivable_accounts(
    client: &ErpClient,
    company: &str,
    accounts: &std::collections::BTreeMap<String, String>,
) -> Result<Vec<String>, ErpError> {
    let mut problems = Vec::new();
    for (currency, account) in accounts {
        let Some(found) = client.get_optional::<Value>("Account", account).await? else {
            problems.push(format!(
                "Receivable account `{account}` for {currency} does not exist in ERPNext; let setup create it, or create it under Accounts Receivable"
            ));
            continue;
        };
        let text = |field: &str| found[field].as_str().unwrap_or_default().to_string();
        if text("company") != company {
            problems.push(format!(
                "Receivable account `{account}` belongs to company `{}`, not `{company}`",
                text("company")
            ));
        }
        if text("account_type") != "Receivable" {
            problems.push(format!(
                "Account `{account}` (for {currency}) is not a Receivable account; pick one whose type is Receivable"
            ));
        }
        if text("account_currency") != *currency {
            problems.push(format!(
                "Receivable account `{account}` is in `{}`, but it is named for {currency} orders; ERPNext books an invoice only on a receivable in its own currency",
                text("account_currency")
            ));
        }
        if found["is_group"].as_i64() == Some(1) {
            problems.push(format!(
                "Account `{account}` is a group account; pick a ledger account under it"
            ));
        }
    }
    Ok(problems)
}

/// Creates `Debtors <CUR> - <abbr>` beside the company's default receivable account (a ledger
/// of type Receivable in that currency) and returns its name; an existing one is reused.
pub async fn create_receivable_account(
    client: &ErpClient,
    company: &str,
    currency: &str,
) -> Result<String, ErpError> {
    let company_document = client.get_document("Company", company).await?;
    let abbr = company_document["abbr"].as_str().unwrap_or_default();
    let name = format!("Debtors {currency} - {abbr}");
    if client
        .get_optional::<IgnoredAny>("Account", &name)
        .await?
        .is_some()
    {
        return Ok(name);
    }
    let default_receivable = company_document["default_receivable_account"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let parent = if default_receivable.is_empty() {
        format!("Accounts Receivable - {abbr}")
    } else {
        let account = client.get_document("Account", &default_receivable).await?;
        account["parent_account"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| format!("Accounts Receivable - {abbr}"))
    };
    let body = json!({
        "account_name": format!("Debtors {currency}"),
        "parent_account": parent,
        "company": company,
        "account_type": "Receivable",
        "account_currency": currency,
        "is_group": 0,
    });
    match client
        .insert::<crate::erpnext::types::Named>("Account", &body)
        .await
    {
        Ok(created) => Ok(created.name),
        Err(error) if error.is_duplicate() => Ok(name),
        Err(error) => Err(error),
    }
}

/// The WooCommerce topics the service listens to.
pub const WOOCOMMERCE_TOPICS: [&str; 2] = ["order.created", "order.updated"];

/// Registers the store's order webhooks to `delivery_url`, signed with `secret`: one per topic,
/// reused when one with the same topic and URL exists (re-activated when WooCommerce disabled it
/// after failed deliveries; the secret rewritten when `update_secret`).
pub async fn install_woocommerce_webhooks(
    woo: &crate::woocommerce::WooClient,
    connection_name: &str,
    delivery_url: &Url,
    secret: &str,
    update_secret: bool,
    report: &mut SetupReport,
) -> Result<(), crate::woocommerce::WooError> {
    let existing = woo.list_webhooks().await?;
    for topic in WOOCOMMERCE_TOPICS {
        let description = format!("WooCommerce webhook {topic} → {delivery_url}");
        let found = existing
            .iter()
            .find(|hook| hook.topic == topic && hook.delivery_url == delivery_url.as_str());
        match found {
            Some(hook) if hook.status == "active" && !update_secret => {
                report.unchanged.push(description)
            }
            Some(hook) => {
                let mut changes = json!({ "status": "active" });
                if update_secret {
                    changes["secret"] = json!(secret);
                }
                woo.update_webhook(hook.id, &changes).await?;
                report.updated.push(description);
            }
            None => {
                woo.create_webhook(&crate::woocommerce::types::NewWebhook {
                    name: format!("woocommerce-sync {connection_name} {topic}"),
                    topic: topic.to_string(),
                    delivery_url: delivery_url.to_string(),
                    secret: secret.to_string(),
                    status: "active".to_string(),
                })
                .await?;
                report.created.push(description);
            }
        }
    }
    Ok(())
}

/// Why a setup run could not finish.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Erpnext(#[from] ErpError),
    #[error(transparent)]
    WooCommerce(#[from] crate::woocommerce::WooError),
    #[error("the public URL {0}")]
    PublicUrl(String),
}

impl SetupError {
    /// A fault of the moment (a dropped answer, 5xx, 429, a timeout), worth another pass. Any
    /// 5xx counts: a pass only repeats look-ups and idempotent writes.
    pub fn is_retryable(&self) -> bool {
        match self {
            SetupError::Erpnext(error) => {
                error.is_retryable()
                    || matches!(error, ErpError::Rejected { status, .. } if *status >= 500)
            }
            SetupError::WooCommerce(error) => error.is_retryable(),
            SetupError::PublicUrl(_) => false,
        }
    }
}

/// Passes a setup run makes through faults of the moment before it gives up.
const SETUP_PASSES: u32 = 10;

/// What a setup run may do beyond installing what is missing.
#[derive(Debug, Clone)]
pub struct SetupOptions {
    pub public_url: url::Url,
    pub update_webhook_secrets: bool,
    pub create_receivable_accounts: bool,
    /// Timeouts and retries of each call.
    pub calls: CallSettings,
}

impl SetupOptions {
    pub fn at(public_url: url::Url) -> SetupOptions {
        SetupOptions {
            public_url,
            update_webhook_secrets: false,
            create_receivable_accounts: false,
            calls: CallSettings::default(),
        }
    }
}

/// What a setup run did, what is still missing, and the connection as setup left it (a webhook
/// secret made, receivable accounts mapped), for the caller to store.
pub struct SetupOutcome {
    pub report: SetupReport,
    pub missing: Vec<String>,
    pub connection: Connection,
}

/// Installs custom fields and webhooks on both sides, sees to the receivable accounts of the
/// shop's currencies, then checks master data. Every step looks up before it creates and takes a
/// duplicate as done, so a pass cut short by a fault of the moment is simply run again (with what
/// it already changed on the connection, such as a new webhook secret).
pub async fn set_up(
    connection: &Connection,
    options: &SetupOptions,
) -> Result<SetupOutcome, SetupError> {
    let mut connection = connection.clone();
    let mut report = SetupReport::default();
    let mut pass = 1;
    loop {
        match set_up_once(&mut connection, options, &mut report).await {
            Ok(missing) => {
                report.settle();
                return Ok(SetupOutcome {
                    report,
                    missing,
                    connection,
                });
            }
            Err(error) if error.is_retryable() && pass < SETUP_PASSES => {
                tracing::warn!(pass, %error, "setup met a fault; running it again");
                tokio::time::sleep(options.calls.retry.base_delay * pass).await;
                pass += 1;
            }
            Err(error) => return Err(error),
        }
    }
}

/// One pass of [`set_up`]; answers what master data is missing.
async fn set_up_once(
    connection: &mut Connection,
    options: &SetupOptions,
    report: &mut SetupReport,
) -> Result<Vec<String>, SetupError> {
    let erp = erpnext_client(connection, &options.calls)?;
    let woo = woocommerce_client(connection, &options.calls)?;
    if connection.credentials.webhook_secret.trim().is_empty() {
        // A connection from before secrets were made for every connection: ERPNext refuses a
        // signed Webhook without one.
        connection.credentials.webhook_secret = crate::secrets::new_webhook_secret();
        report
            .created
            .push("a webhook secret for the connection (stored encrypted)".into());
    }
    let base = |source: &str| {
        options
            .public_url
            .join(&format!("webhooks/{source}/{}", connection.name))
            .map_err(|error| SetupError::PublicUrl(format!("{}: {error}", options.public_url)))
    };
    let plan = SetupPlan {
        connection_name: connection.name.clone(),
        webhook_base_url: base("erpnext")?,
        webhook_secret: connection.credentials.webhook_secret.clone(),
        update_webhook_secrets: options.update_webhook_secrets,
        catalogue: Some(CatalogueWatch::of(connection)),
    };
    let installed = install(&erp, &plan).await?;
    report.merge(installed);
    install_woocommerce_webhooks(
        &woo,
        &connection.name,
        &base("woocommerce")?,
        &connection.credentials.webhook_secret,
        options.update_webhook_secrets,
        report,
    )
    .await?;

    let mut missing = Vec::new();
    let company_currency = erp
        .get_optional::<serde_json::Value>("Company", &connection.company)
        .await?
        .and_then(|company| company["default_currency"].as_str().map(str::to_string));
    if let Some(company_currency) = company_currency {
        for currency in shop_currencies(&woo, connection).await? {
            if currency == company_currency
                || connection
                    .mappings
                    .receivable_accounts
                    .contains_key(&currency)
            {
                continue;
            }
            if options.create_receivable_accounts {
                let account =
                    create_receivable_account(&erp, &connection.company, &currency).await?;
                report.created.push(format!(
                    "receivable account {account} for {currency} orders"
                ));
                connection
                    .mappings
                    .receivable_accounts
                    .insert(currency, account);
            } else {
                missing.push(format!(
                    "The shop sells in {currency}, but no receivable account in {currency} is mapped: ERPNext books a customer's invoices only on a receivable in the invoice's currency. Run setup with --create-receivable-accounts, or map one with `connection edit --receivable-account {currency}=ACCOUNT`"
                ));
            }
        }
        missing.extend(
            check_receivable_accounts(
                &erp,
                &connection.company,
                &connection.mappings.receivable_accounts,
            )
            .await?,
        );
    }
    missing.extend(check_master_data(&erp, &master_data_needs(connection)).await?);
    Ok(missing)
}

/// The store's currency, the currencies of its newest orders (multi-currency plugins sell in
/// several) and the ones the connection already maps.
async fn shop_currencies(
    woo: &crate::woocommerce::WooClient,
    connection: &Connection,
) -> Result<BTreeSet<String>, SetupError> {
    let mut currencies: BTreeSet<String> = connection
        .mappings
        .receivable_accounts
        .keys()
        .cloned()
        .collect();
    let store_currency = woo.setting("general", "woocommerce_currency").await?;
    currencies.insert(store_currency);
    let newest = woo.list_orders_page(&OrderQuery::default(), 1).await?;
    currencies.extend(
        newest
            .items
            .into_iter()
            .map(|order| order.currency)
            .filter(|currency| !currency.is_empty()),
    );
    Ok(currencies)
}

fn master_data_needs(connection: &Connection) -> MasterDataNeeds {
    let mut accounts: Vec<String> = connection.mappings.tax_accounts.values().cloned().collect();
    accounts.extend(
        [
            &connection.default_tax_account,
            &connection.shipping_account,
            &connection.fee_account,
            &connection.rounding_account,
        ]
        .into_iter()
        .flatten()
        .cloned(),
    );
    accounts.extend(
        connection
            .mappings
            .payment_methods
            .values()
            .filter_map(|target| target.account.clone()),
    );
    let mut expense_accounts: Vec<String> = connection
        .mappings
        .payment_methods
        .values()
        .filter_map(|target| target.fee_account.clone())
        .collect();
    expense_accounts.sort();
    expense_accounts.dedup();
    accounts.extend(expense_accounts.iter().cloned());
    accounts.sort();
    accounts.dedup();
    MasterDataNeeds {
        company: connection.company.clone(),
        warehouse: connection.default_warehouse.clone(),
        accounts,
        modes_of_payment: connection
            .mappings
            .payment_methods
            .values()
            .map(|target| target.mode_of_payment.clone())
            .collect(),
        expense_accounts,
        tax_categories: connection
            .mappings
            .exempt_tax_category
            .iter()
            .cloned()
            .collect(),
    }
}
