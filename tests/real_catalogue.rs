//! Real-system tier, catalogue: a product made in the store and an Item of the same SKU in
//! ERPNext are matched by the link run; a Stock Reconciliation (a stock count) in ERPNext reaches
//! the store's stock through the stock push, a second count changes it again, and a push with
//! nothing changed writes nothing. The real pair and the simulators must end the same. Skipped,
//! and said so, when the real pair is not configured (see `tests/real_pair`).

mod real_pair;

use serde_json::{json, Value};
use woocommerce_sync::store::ProductLink;
use woocommerce_sync::sync::catalogue::flow::{CatalogueFlow, StockOptions};

use real_pair::sides::{Accounts, Side};
use real_pair::{real_pair, run_tag};

/// What one step left: quantities written by the push, and the store's stock afterwards.
#[derive(Debug, PartialEq)]
struct Step {
    written: usize,
    failed: usize,
    stock_quantity: Option<i64>,
    stock_status: String,
}

async fn count_stock(side: &Side, item: &str, qty: i64) {
    let connection = &side.connection.connection;
    side.erp
        .insert::<Value>(
            "Stock Reconciliation",
            &json!({
                "purpose": "Stock Reconciliation", "company": connection.company, "docstatus": 1,
                "items": [{"item_code": item, "warehouse": connection.default_warehouse,
                           "qty": qty, "valuation_rate": 5}]
            }),
        )
        .await
        .unwrap_or_else(|error| panic!("{}: count {item}: {error}", side.label));
}

async fn story(side: &Side, sku: &str) -> Vec<Step> {
    side.erp
        .insert::<Value>(
            "Item",
            &json!({"item_code": sku, "item_name": format!("woocommerce-sync catalogue {sku}"),
                    "item_group": "Products", "stock_uom": "Nos"}),
        )
        .await
        .unwrap_or_else(|error| panic!("{}: Item {sku}: {error}", side.label));
    let product = side
        .woo
        .create_product(&json!({
            "name": format!("woocommerce-sync catalogue {sku}"), "type": "simple", "sku": sku,
            "regular_price": "9.00", "manage_stock": true, "stock_quantity": 0,
        }))
        .await
        .unwrap_or_else(|error| panic!("{}: product {sku}: {error}", side.label));
    let ctx = side.context().await;
    let flow = CatalogueFlow::new(&ctx);
    // An Item made without saying keeps stock ("Maintain Stock" is on by default): it is linked
    // as a stock item on both.
    // The lab is shared: the link run only reads here, and only this run's product is linked,
    // so no other product's stock is written.
    let report = flow.link_products(true).await.unwrap();
    let link = report
        .matched
        .iter()
        .find(|link| link.item_code == sku)
        .unwrap_or_else(|| panic!("{}: {sku} is not linked: {report:?}", side.label));
    assert_eq!(
        (link.product_id, link.variation_id, link.is_stock_item),
        (product.id, 0, true),
        "{}",
        side.label
    );
    side.store
        .add_product_links(
            ctx.connection_id,
            &[ProductLink {
                pushed_stock: None,
                ..link.clone()
            }],
        )
        .await
        .unwrap();
    let mut steps = Vec::new();
    for count in [Some(10), Some(4), None] {
        if let Some(qty) = count {
            count_stock(side, sku, qty).await;
        }
        let summary = flow
            .push_stock(StockOptions::default(), &|_, _| {})
            .await
            .unwrap_or_else(|error| panic!("{}: push: {error}", side.label));
        let shown = side.woo.get_product(product.id).await.unwrap();
        steps.push(Step {
            written: summary.written,
            failed: summary.failed,
            stock_quantity: shown.stock_quantity,
            stock_status: shown.stock_status,
        });
    }
    steps
}

#[tokio::test]
async fn a_stock_count_in_erpnext_reaches_the_store_as_on_the_simulators() {
    let Some((erp, woo)) = real_pair() else {
        return;
    };
    let sku = format!("WSYNC-CAT-{}", run_tag());
    let simulated = Side::simulated("catalogue", &[], &Accounts::new()).await;
    let real = Side::real(&format!("cat{}", run_tag()), &erp, &woo, &Accounts::new()).await;
    let expected = story(&simulated, &sku).await;
    assert_eq!(
        expected,
        [
            Step {
                written: 1,
                failed: 0,
                stock_quantity: Some(10),
                stock_status: "instock".into()
            },
            Step {
                written: 1,
                failed: 0,
                stock_quantity: Some(4),
                stock_status: "instock".into()
            },
            Step {
                written: 0,
                failed: 0,
                stock_quantity: Some(4),
                stock_status: "instock".into()
            },
        ]
    );
    assert_eq!(story(&real, &sku).await, expected);
}
