//! `products link` and `sync stock` through the command line: before a link run the push is
//! bad input (2) naming what to do, the link report counts each side, a dry run writes nothing
//! and says what it would, a push writes and a second one writes nothing, `--all` writes every
//! one. (A refused entry's exit 3 follows the summary's `failed`, tested in `tests/catalogue.rs`.)

use serde_json::{json, Value};
use woocommerce_sync::erpnext::client::{ErpClient, ErpConfig};
use woocommerce_sync::simulators::{erpnext, woocommerce};

struct Cli {
    data_dir: tempfile::TempDir,
}

impl Cli {
    fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_woocommerce-sync"));
        command
            .arg("--data-dir")
            .arg(self.data_dir.path())
            .args(args)
            .env_remove("WOOCOMMERCE_SYNC_DATABASE")
            .env_remove("WOOCOMMERCE_SYNC_SECRET_KEY")
            .env_remove("WOOCOMMERCE_SYNC_LOG_FORMAT")
            .env("WOOCOMMERCE_SYNC_LOG", "info");
        command
    }

    /// Runs a command; answers its exit code, stdout and stderr. Output to a pipe never holds
    /// colour codes, whatever the command.
    async fn run(&self, args: &[&str]) -> (i32, String, String) {
        let output = self
            .command(args)
            .output()
            .await
            .expect("run woocommerce-sync");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(
            !stdout.contains('\u{1b}') && !stderr.contains('\u{1b}'),
            "colour codes in a pipe from {args:?}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{args:?} panicked: {stderr}");
        (output.status.code().unwrap_or(-1), stdout, stderr)
    }

    async fn add(&self, name: &str, woo: &str, erp: &erpnext::ErpSimHandle, extra: &[&str]) {
        let erp_url = erp.base_url().to_string();
        let mut args = vec![
            "connection",
            "add",
            "--name",
            name,
            "--woocommerce-url",
            woo,
            "--consumer-key",
            woocommerce::TEST_CONSUMER_KEY,
            "--consumer-secret",
            woocommerce::TEST_CONSUMER_SECRET,
            "--webhook-secret",
            "whsec-exit-codes-0123456789",
            "--erpnext-url",
            &erp_url,
            "--api-key",
            erp.api_key(),
            "--api-secret",
            erp.api_secret(),
            "--default-warehouse",
            "Stores - TC",
            "--default-tax-account",
            "ST 6% - TC",
            "--shipping-account",
            "Freight and Forwarding Charges - TC",
            "--fee-account",
            "Miscellaneous Expenses - TC",
            "--rounding-account",
            "Round Off - TC",
            "--missing-sku",
            "synthesize",
        ];
        if !extra.contains(&"--company") {
            args.extend(["--company", "Test Company"]);
        }
        args.extend(extra);
        let (code, _, stderr) = self.run(&args).await;
        assert_eq!(code, 0, "{stderr}");
    }
}

async fn count_stock(erp: &ErpClient, code: &str, qty: i64) {
    erp.insert::<Value>(
        "Stock Reconciliation",
        &json!({"docstatus": 1, "items": [{"item_code": code, "warehouse": "Stores - TC",
                "qty": qty, "valuation_rate": 5}]}),
    )
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn link_then_push_stock_through_the_command_line() {
    let woo = woocommerce::start(woocommerce::WooSimOptions {
        orders: 1,
        ..Default::default()
    })
    .await
    .unwrap();
    let erp = erpnext::start(erpnext::ErpSimOptions::default())
        .await
        .unwrap();
    let client = ErpClient::new(ErpConfig::new(
        erp.base_url().clone(),
        erp.api_key(),
        erp.api_secret(),
    ))
    .unwrap();
    let cli = Cli {
        data_dir: tempfile::tempdir().unwrap(),
    };
    cli.add("shop", woo.base_url().as_str(), &erp, &[]).await;
    let (code, _, stderr) = cli.run(&["setup", "--connection", "shop"]).await;
    assert_eq!(code, 0, "{stderr}");
    for code in ["SIM-001", "SIM-004"] {
        client
            .insert::<Value>(
                "Item",
                &json!({"item_code": code, "item_group": "Products"}),
            )
            .await
            .unwrap();
        count_stock(&client, code, 6).await;
    }

    let (code, stdout, stderr) = cli.run(&["sync", "stock", "--connection", "shop"]).await;
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(stderr.contains("link the shop's products"), "{stderr}");

    let (code, stdout, stderr) = cli
        .run(&["products", "link", "--connection", "shop", "--json"])
        .await;
    assert_eq!(code, 0, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["matched"].as_array().unwrap().len(), 2, "{report}");
    assert!(!report["unmatched_in_shop"].as_array().unwrap().is_empty());
    let (code, stdout, _) = cli.run(&["products", "link", "--connection", "shop"]).await;
    assert_eq!(code, 0);
    assert!(stdout.starts_with("linked 2 products"), "{stdout}");

    let (code, stdout, stderr) = cli
        .run(&["sync", "stock", "--connection", "shop", "--dry-run"])
        .await;
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("SIM-001") && stdout.contains("never pushed → 6"),
        "{stdout}"
    );
    assert!(stdout.contains("would write 2"), "{stdout}");
    let sim_001 = |woo: &woocommerce::WooSimHandle| {
        woo.products()
            .into_iter()
            .find(|product| product["sku"] == "SIM-001")
            .unwrap()["stock_quantity"]
            .clone()
    };
    assert_eq!(sim_001(&woo), 100);

    let (code, stdout, stderr) = cli
        .run(&["sync", "stock", "--connection", "shop", "--json"])
        .await;
    assert_eq!(code, 0, "{stderr}");
    let summary: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        (summary["written"].as_u64(), summary["write_calls"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(sim_001(&woo), 6);
    let (code, stdout, _) = cli.run(&["sync", "stock", "--connection", "shop"]).await;
    assert_eq!(code, 0);
    assert!(stdout.contains("written 0, unchanged 2"), "{stdout}");

    // `--all` writes every linked stock item, changed or not.
    count_stock(&client, "SIM-001", 2).await;
    let (code, stdout, _) = cli
        .run(&["sync", "stock", "--connection", "shop", "--all"])
        .await;
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("written 2"), "{stdout}");
    assert_eq!(sim_001(&woo), 2);

    // Prices: the Item Price of the connection's list, once.
    client
        .insert::<Value>(
            "Item Price",
            &json!({"item_code": "SIM-004", "price_list": "Standard Selling", "price_list_rate": 7.25}),
        )
        .await
        .unwrap();
    let (code, stdout, stderr) = cli
        .run(&["sync", "prices", "--connection", "shop", "--dry-run"])
        .await;
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("SIM-004") && stdout.contains("regular price 7.25"),
        "{stdout}"
    );
    let (code, stdout, _) = cli.run(&["sync", "prices", "--connection", "shop"]).await;
    assert_eq!(code, 0);
    assert!(stdout.contains("written 1"), "{stdout}");
    let (code, stdout, _) = cli.run(&["sync", "prices", "--connection", "shop"]).await;
    assert_eq!(code, 0);
    assert!(stdout.contains("written 0"), "{stdout}");
}
