//! `connection add` → `show` → `edit` → `remove` through the real binary.

use std::process::{Command, Output};

fn cli(data_dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_woocommerce-sync"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("WOOCOMMERCE_SYNC_DATABASE")
        .env_remove("WOOCOMMERCE_SYNC_SECRET_KEY")
        .output()
        .expect("run woocommerce-sync")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

const ADD: &[&str] = &[
    "connection",
    "add",
    "--name",
    "shop1",
    "--woocommerce-url",
    "https://shop.example.test",
    "--consumer-key",
    "ck_0123456789abcdef",
    "--consumer-secret",
    "cs_TOP_SECRET_1",
    "--webhook-secret",
    "wh_TOP_SECRET_2_0123456789",
    "--erpnext-url",
    "https://erp.example.test",
    "--api-key",
    "apikey_0123456789",
    "--api-secret",
    "api_TOP_SECRET_3",
    "--company",
    "Test Company",
    "--default-warehouse",
    "Stores - TC",
    "--naming-series",
    "SO-WOO-.YYYY.-",
    "--customer-group",
    "Commercial",
    "--territory",
    "United States",
    "--price-list",
    "Standard Selling",
    "--item-group",
    "Products",
    "--stock-uom",
    "Nos",
    "--delivery-lead-days",
    "5",
    "--import-statuses",
    "processing,completed",
    "--invoice-trigger",
    "on-completed",
    "--submit-invoices",
    "false",
    "--record-payments",
    "true",
    "--rounding-tolerance",
    "0.02",
    "--auto-create-items",
    "true",
    "--missing-sku",
    "item:WOO-MISC",
    "--default-tax-account",
    "ST 4% - TC",
    "--shipping-account",
    "Freight and Forwarding Charges - TC",
    "--fee-account",
    "Miscellaneous Expenses - TC",
    "--rounding-account",
    "Round Off - TC",
    "--tax-account",
    "1=ST 6.25% - TC",
    "--tax-account",
    "2=ST 4% - TC",
    "--shipping-method",
    "local_pickup=item:PICKUP",
    "--payment-method",
    "stripe=Credit Card@Cash - TC",
    "--status-to-woocommerce",
    "Completed=completed",
    "--status-from-woocommerce",
    "cancelled=cancel",
    "--receivable-account",
    "eur=Debtors EUR - TC",
];

#[test]
fn add_then_show_round_trips_every_field_with_secrets_masked() {
    let dir = tempfile::tempdir().unwrap();
    let added = cli(dir.path(), ADD);
    assert!(added.status.success(), "{}", stderr(&added));

    let shown = cli(
        dir.path(),
        &["connection", "show", "--name", "shop1", "--json"],
    );
    assert!(shown.status.success(), "{}", stderr(&shown));
    let text = stdout(&shown);
    for secret in [
        "cs_TOP_SECRET_1",
        "wh_TOP_SECRET_2_0123456789",
        "api_TOP_SECRET_3",
        "0123456789",
    ] {
        assert!(!text.contains(secret), "{secret} shown in {text}");
    }
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    let expected = serde_json::json!({
        "name": "shop1",
        "woocommerce_url": "https://shop.example.test/",
        "woocommerce_auth": "auto",
        "erpnext_url": "https://erp.example.test/",
        "credentials": {"consumer_key": "ck_0***", "consumer_secret": "***", "webhook_secret": "***",
                        "api_key": "apik***", "api_secret": "***"},
        "company": "Test Company", "default_warehouse": "Stores - TC", "naming_series": "SO-WOO-.YYYY.-",
        "customer_group": "Commercial", "territory": "United States", "price_list": "Standard Selling",
        "item_group": "Products", "stock_uom": "Nos", "delivery_lead_days": 5,
        "imported_statuses": ["processing", "completed"], "invoice_trigger": "on-completed",
        "submit_invoices": false, "record_payments": true, "rounding_tolerance": "0.02",
        "auto_create_items": true, "missing_sku": {"use-item": "WOO-MISC"},
        "default_tax_account": "ST 4% - TC", "shipping_account": "Freight and Forwarding Charges - TC",
        "fee_account": "Miscellaneous Expenses - TC", "rounding_account": "Round Off - TC",
        "mappings": {
            "tax_accounts": {"1": "ST 6.25% - TC", "2": "ST 4% - TC"},
            "shipping_methods": {"local_pickup": {"item": "PICKUP"}},
            "payment_methods": {"stripe": {"mode_of_payment": "Credit Card", "account": "Cash - TC"}},
            "status_to_woocommerce": {"Completed": "completed"},
            "status_from_woocommerce": {"cancelled": "cancel"},
            "receivable_accounts": {"EUR": "Debtors EUR - TC"}
        }
    });
    assert_eq!(value, expected);

    // The text form shows the same, masked.
    let plain = stdout(&cli(dir.path(), &["connection", "show", "--name", "shop1"]));
    assert!(
        plain.contains("mappings.tax_accounts.1") && plain.contains("ST 6.25% - TC"),
        "{plain}"
    );
    assert!(!plain.contains("TOP_SECRET"), "{plain}");
}

#[test]
fn bad_input_is_refused_with_advice_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let mut bad_url: Vec<&str> = ADD.to_vec();
    let at = bad_url
        .iter()
        .position(|a| *a == "https://shop.example.test")
        .unwrap();
    bad_url[at] = "shop.example.test";
    let refused = cli(dir.path(), &bad_url);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        stderr(&refused).contains("write it like https://shop.example.com"),
        "{}",
        stderr(&refused)
    );

    let missing = cli(
        dir.path(),
        &[
            "connection",
            "add",
            "--name",
            "x",
            "--woocommerce-url",
            "https://a.test",
        ],
    );
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        stderr(&missing).contains("--erpnext-url is required"),
        "{}",
        stderr(&missing)
    );

    let mapping_file = dir.path().join("mappings.toml");
    std::fs::write(&mapping_file, "[tax_acounts]\n1 = \"ST 4% - TC\"\n").unwrap();
    let mut bad_mappings: Vec<&str> = ADD.to_vec();
    let file = mapping_file.to_str().unwrap();
    bad_mappings.extend(["--mappings", file]);
    let refused = cli(dir.path(), &bad_mappings);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        stderr(&refused).contains("tax_acounts"),
        "{}",
        stderr(&refused)
    );

    let listed = cli(dir.path(), &["connection", "list", "--json"]);
    assert_eq!(stdout(&listed).trim(), "[]", "nothing half-written");

    assert!(cli(dir.path(), ADD).status.success());
    let duplicate = cli(dir.path(), ADD);
    assert_eq!(duplicate.status.code(), Some(2));
    assert!(
        stderr(&duplicate).contains("already exists"),
        "{}",
        stderr(&duplicate)
    );
    assert!(!stderr(&duplicate).contains("TOP_SECRET"));
}

#[test]
fn edit_changes_only_what_is_given_and_remove_needs_confirmation() {
    let dir = tempfile::tempdir().unwrap();
    assert!(cli(dir.path(), ADD).status.success());
    let edited = cli(
        dir.path(),
        &[
            "connection",
            "edit",
            "--name",
            "shop1",
            "--delivery-lead-days",
            "9",
            "--tax-account",
            "3=ST 6% - TC",
        ],
    );
    assert!(edited.status.success(), "{}", stderr(&edited));
    let value: serde_json::Value = serde_json::from_str(&stdout(&cli(
        dir.path(),
        &["connection", "show", "--name", "shop1", "--json"],
    )))
    .unwrap();
    assert_eq!(value["delivery_lead_days"], 9);
    assert_eq!(value["company"], "Test Company");
    assert_eq!(value["mappings"]["tax_accounts"]["3"], "ST 6% - TC");
    assert_eq!(value["mappings"]["tax_accounts"]["1"], "ST 6.25% - TC");

    let bad = cli(
        dir.path(),
        &[
            "connection",
            "edit",
            "--name",
            "shop1",
            "--import-statuses",
            "shipped",
        ],
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).contains("`shipped` is not a WooCommerce order status"),
        "{}",
        stderr(&bad)
    );

    let unconfirmed = cli(dir.path(), &["connection", "remove", "--name", "shop1"]);
    assert_eq!(unconfirmed.status.code(), Some(2));
    assert!(cli(
        dir.path(),
        &["connection", "remove", "--name", "shop1", "--yes"]
    )
    .status
    .success());
    let gone = cli(dir.path(), &["connection", "show", "--name", "shop1"]);
    assert_eq!(gone.status.code(), Some(2));
    assert!(
        stderr(&gone).contains("no connection is named `shop1`"),
        "{}",
        stderr(&gone)
    );
}

#[test]
fn config_prints_the_effective_configuration_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_woocommerce-sync"))
        .args(["config", "--json"])
        .env("WOOCOMMERCE_SYNC_DATA_DIR", dir.path())
        .env(
            "WOOCOMMERCE_SYNC_DATABASE",
            "postgres://sync:hunter2@127.0.0.1/sync",
        )
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let value: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(value["database"], "postgres://sync:***@127.0.0.1/sync");
    assert_eq!(value["data_dir"], dir.path().to_str().unwrap());
}
