//! `spawn_world()`: both simulators, a temp SQLite store, a connection set up
//! in ERPNext, and an `OrderSync` for it. Tests read like stories and assert on
//! what the simulators hold.
#![allow(dead_code)]

use std::time::Duration;

use rust_decimal::Decimal;
use woocommerce_sync::connection::{
    Connection, Credentials, InvoiceTrigger, Mappings, MissingSkuRule, WooAuth,
};
use woocommerce_sync::erpnext::client::ListQuery;
use woocommerce_sync::remote::RetryPolicy;
use woocommerce_sync::secrets::SecretKey;
use woocommerce_sync::simulators::{erpnext, woocommerce};
use woocommerce_sync::store::{Store, StoredConnection};
use woocommerce_sync::sync::orders::OrderSync;
use woocommerce_sync::sync::remotes::{erpnext_client, CallSettings};
use woocommerce_sync::sync::setup::{install, SetupPlan};

pub struct World {
    pub woo: woocommerce::WooSimHandle,
    pub erp: erpnext::ErpSimHandle,
    pub store: Store,
    pub connection: StoredConnection,
    pub dir: tempfile::TempDir,
}

pub fn fixture_path(relative: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(relative)
}

/// Settings for tests: a short timeout (the simulators' "hang" fault must not
/// stall a test), quick retries.
pub fn fast_calls() -> CallSettings {
    CallSettings {
        timeout: Duration::from_millis(1500),
        retry: RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(50),
        },
        max_in_flight: 8,
    }
}

pub fn connection_for(woo: &woocommerce::WooSimHandle, erp: &erpnext::ErpSimHandle) -> Connection {
    let mut mappings = Mappings::default();
    mappings.tax_accounts.insert(1, "ST 6.25% - TC".into());
    mappings.tax_accounts.insert(2, "ST 4% - TC".into());
    Connection {
        name: "shop".into(),
        woocommerce_url: woo.base_url(),
        woocommerce_auth: WooAuth::Auto,
        erpnext_url: erp.base_url().clone(),
        credentials: Credentials {
            consumer_key: woocommerce::TEST_CONSUMER_KEY.into(),
            consumer_secret: woocommerce::TEST_CONSUMER_SECRET.into(),
            webhook_secret: woocommerce::TEST_WEBHOOK_SECRET.into(),
            api_key: erp.api_key().into(),
            api_secret: erp.api_secret().into(),
        },
        company: "Test Company".into(),
        default_warehouse: "Stores - TC".into(),
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
        default_tax_account: Some("ST 6% - TC".into()),
        shipping_account: Some("Freight and Forwarding Charges - TC".into()),
        fee_account: Some("Miscellaneous Expenses - TC".into()),
        rounding_account: Some("Round Off - TC".into()),
        mappings,
    }
}

pub async fn spawn_world(woo_options: woocommerce::WooSimOptions) -> World {
    let woo = woocommerce::start(woo_options)
        .await
        .expect("start the WooCommerce simulator");
    let erp = erpnext::start(erpnext::ErpSimOptions::default())
        .await
        .expect("start the ERPNext simulator");
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("sync.db").display());
    let store = Store::open(
        &url,
        SecretKey::from_base64("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=").unwrap(),
    )
    .await
    .unwrap();
    let connection = connection_for(&woo, &erp);
    store.insert_connection(&connection).await.unwrap();
    let client = erpnext_client(&connection, &fast_calls()).unwrap();
    install(
        &client,
        &SetupPlan {
            webhook_base_url: "http://127.0.0.1:9/webhooks/erpnext/shop".parse().unwrap(),
            webhook_secret: "erp-webhook-secret".into(),
            update_webhook_secrets: false,
        },
    )
    .await
    .expect("setup");
    let connection = store.connection("shop").await.unwrap();
    World {
        woo,
        erp,
        store,
        connection,
        dir,
    }
}

impl World {
    pub async fn order_sync(&self, concurrency: usize) -> OrderSync {
        OrderSync::prepare(
            self.store.clone(),
            self.connection.clone(),
            &fast_calls(),
            concurrency,
        )
        .await
        .expect("prepare the order sync")
    }

    /// Submitted Sales Orders per WooCommerce order id, read through ERPNext's API.
    pub async fn sales_orders_by_order(
        &self,
    ) -> std::collections::BTreeMap<u64, Vec<serde_json::Value>> {
        let client = erpnext_client(&self.connection.connection, &fast_calls()).unwrap();
        let rows: Vec<serde_json::Value> = client
            .list(
                "Sales Order",
                &ListQuery::default()
                    .fields(&[
                        "name",
                        "docstatus",
                        "woocommerce_order_id",
                        "grand_total",
                        "customer",
                    ])
                    .filter("docstatus", "=", 1)
                    .all_rows(),
            )
            .await
            .unwrap();
        let mut map: std::collections::BTreeMap<u64, Vec<serde_json::Value>> = Default::default();
        for row in rows {
            if let Some(id) = row["woocommerce_order_id"]
                .as_str()
                .and_then(|id| id.parse().ok())
            {
                map.entry(id).or_default().push(row);
            }
        }
        map
    }
}
