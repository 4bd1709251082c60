//! `sync::setup` against a fresh ERPNext simulator: custom fields and webhooks
//! are installed once, a second run changes nothing, and master data checks
//! name what is missing.

use serde_json::{json, Value};
use url::Url;
use woocommerce_sync::erpnext::{ErpClient, ErpConfig, ListQuery};
use woocommerce_sync::simulators::erpnext::{start, ErpSimHandle, ErpSimOptions};
use woocommerce_sync::sync::setup::{self, MasterDataNeeds, SetupPlan};

fn client_for(simulator: &ErpSimHandle) -> ErpClient {
    ErpClient::new(ErpConfig::new(
        simulator.base_url().clone(),
        simulator.api_key(),
        simulator.api_secret(),
    ))
    .expect("client builds")
}

fn plan() -> SetupPlan {
    SetupPlan {
        connection_name: "shop1".into(),
        webhook_base_url: Url::parse("http://127.0.0.1:9/webhooks/erpnext/shop1").unwrap(),
        webhook_secret: "whsec-test-123".into(),
        update_webhook_secrets: false,
        catalogue: None,
    }
}

#[tokio::test]
async fn install_is_idempotent() {
    let simulator = start(ErpSimOptions::default()).await.unwrap();
    let client = client_for(&simulator);

    let first = setup::install(&client, &plan())
        .await
        .expect("first install");
    assert_eq!(
        first.created.len(),
        setup::custom_fields().len() + setup::webhooks(&plan()).len()
    );
    assert!(first.changed_anything());

    let second = setup::install(&client, &plan())
        .await
        .expect("second install");
    assert!(!second.changed_anything(), "second run changed: {second}");
    assert_eq!(second.unchanged.len(), first.created.len());
    assert!(second.to_string().contains("nothing changed"));

    let hooks: Vec<Value> = client
        .list(
            "Webhook",
            &ListQuery::default()
                .fields(&["name", "webhook_docevent", "request_url"])
                .all_rows(),
        )
        .await
        .unwrap();
    assert_eq!(hooks.len(), setup::webhooks(&plan()).len());
    assert!(hooks
        .iter()
        .all(|hook| hook["request_url"].as_str().unwrap().contains("event=on_")));
    let secret_shown = serde_json::to_string(&hooks).unwrap();
    assert!(!secret_shown.contains("whsec-test-123"));
}

#[tokio::test]
async fn installed_key_is_unique_and_not_copied_to_the_invoice() {
    let simulator = start(ErpSimOptions::default()).await.unwrap();
    let client = client_for(&simulator);
    setup::install(&client, &plan()).await.unwrap();
    client
        .insert::<Value>("Customer", &json!({"customer_name": "Key Tester"}))
        .await
        .unwrap();
    client
        .insert::<Value>(
            "Item",
            &json!({"item_code": "KEY-1", "item_group": "Products", "stock_uom": "Nos"}),
        )
        .await
        .unwrap();
    let order = json!({
        "customer": "Key Tester", "delivery_date": "2099-01-01", "docstatus": 1,
        "woocommerce_order_key": "shop1:727", "woocommerce_order_id": "727",
        "items": [{"item_code": "KEY-1", "qty": 1, "rate": 10}]
    });
    let created = client.insert::<Value>("Sales Order", &order).await.unwrap();
    let again = client
        .insert::<Value>("Sales Order", &order)
        .await
        .unwrap_err();
    assert!(again.is_duplicate(), "{again}");
    assert_eq!(
        again.to_string(),
        "ERPNext rejected Sales Order: WooCommerce Order Key must be unique (UniqueValidationError)"
    );

    let name = created["name"].as_str().unwrap();
    let invoice = client.make_sales_invoice::<Value>(name).await.unwrap();
    assert!(invoice["woocommerce_order_key"].is_null());
    assert_eq!(invoice["woocommerce_order_id"], json!("727"));

    let found = client
        .get_value(
            "Sales Order",
            &json!({"woocommerce_order_key": "shop1:727"}),
            &["name"],
        )
        .await
        .unwrap()
        .expect("found by key");
    assert_eq!(found["name"], json!(name));
}

#[tokio::test]
async fn master_data_check_names_what_is_missing() {
    let simulator = start(ErpSimOptions::default()).await.unwrap();
    let client = client_for(&simulator);
    let complete = MasterDataNeeds {
        company: "Test Company".into(),
        warehouse: "Stores - TC".into(),
        accounts: vec![
            "Freight and Forwarding Charges - TC".into(),
            "ST 4% - TC".into(),
        ],
        modes_of_payment: vec!["Cash".into(), "Credit Card".into()],
        expense_accounts: vec!["Miscellaneous Expenses - TC".into()],
        tax_categories: Vec::new(),
    };
    assert!(setup::check_master_data(&client, &complete)
        .await
        .unwrap()
        .is_empty());

    let broken = MasterDataNeeds {
        company: "Test Company".into(),
        warehouse: "Nowhere - TC".into(),
        accounts: vec!["Shipping - XX".into(), "Duties and Taxes - TC".into()],
        modes_of_payment: vec!["PayPal".into()],
        expense_accounts: vec!["Cash - TC".into()],
        tax_categories: vec!["Reverse Charge".into()],
    };
    let missing = setup::check_master_data(&client, &broken).await.unwrap();
    assert_eq!(missing.len(), 6, "{missing:#?}");
    assert!(missing[0].contains("Warehouse `Nowhere - TC` does not exist"));
    assert!(missing[1].contains("Account `Shipping - XX` does not exist"));
    assert!(missing[2].contains("group account"));
    assert!(
        missing[3].contains("`Cash - TC` is a fee account but not an expense account"),
        "{}",
        missing[3]
    );
    assert!(missing[4].contains("Tax Category `Reverse Charge` does not exist"));
    assert!(missing[5].contains("Mode of Payment `PayPal`"));
}

#[tokio::test]
async fn install_repairs_a_key_field_created_without_unique() {
    let simulator = start(ErpSimOptions::default()).await.unwrap();
    let client = client_for(&simulator);
    client
        .insert::<Value>("Custom Field", &json!({"dt": "Sales Order", "fieldname": "woocommerce_order_key", "label": "WooCommerce Order Key", "fieldtype": "Data"}))
        .await
        .unwrap();
    let report = setup::install(&client, &plan()).await.unwrap();
    assert_eq!(
        report.updated,
        vec!["custom field Sales Order.woocommerce_order_key".to_string()]
    );

    client
        .insert::<Value>("Customer", &json!({"customer_name": "Repair"}))
        .await
        .unwrap();
    client
        .insert::<Value>("Item", &json!({"item_code": "R-1"}))
        .await
        .unwrap();
    let order = json!({"customer": "Repair", "delivery_date": "2099-01-01", "woocommerce_order_key": "shop1:1",
        "items": [{"item_code": "R-1", "qty": 1, "rate": 1}]});
    client.insert::<Value>("Sales Order", &order).await.unwrap();
    let duplicate = client
        .insert::<Value>("Sales Order", &order)
        .await
        .unwrap_err();
    assert!(
        duplicate.is_duplicate(),
        "the repaired field is unique now: {duplicate}"
    );

    let rotated = SetupPlan {
        update_webhook_secrets: true,
        ..plan()
    };
    let report = setup::install(&client, &rotated).await.unwrap();
    assert_eq!(
        report.updated.len(),
        setup::webhooks(&plan()).len(),
        "only the webhooks are rewritten"
    );
}
