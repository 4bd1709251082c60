//! The one-shot commands as a script or cron job runs them: `setup`, `sync
//! orders` (also `--dry-run` and `--order`), `reconcile`, `log`, `retry`,
//! against simulators on loopback.

use woocommerce_sync::simulators::{erpnext, woocommerce};

struct Cli {
    data_dir: tempfile::TempDir,
}

impl Cli {
    async fn run(&self, args: &[&str]) -> (i32, String, String) {
        let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_woocommerce-sync"))
            .arg("--data-dir")
            .arg(self.data_dir.path())
            .args(args)
            .env_remove("WOOCOMMERCE_SYNC_DATABASE")
            .env_remove("WOOCOMMERCE_SYNC_SECRET_KEY")
            .output()
            .await
            .expect("run woocommerce-sync");
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    async fn json(&self, args: &[&str]) -> (i32, serde_json::Value) {
        let (code, stdout, stderr) = self.run(args).await;
        let value = serde_json::from_str(&stdout)
            .unwrap_or_else(|error| panic!("{error}: {stdout} {stderr}"));
        (code, value)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_script_sets_up_syncs_reconciles_and_reads_the_log() {
    let woo = woocommerce::start(woocommerce::WooSimOptions {
        orders: 60,
        seed_random: 5,
        ..Default::default()
    })
    .await
    .unwrap();
    let erp = erpnext::start(erpnext::ErpSimOptions::default())
        .await
        .unwrap();
    let cli = Cli {
        data_dir: tempfile::tempdir().unwrap(),
    };
    let woo_url = woo.base_url().to_string();
    let erp_url = erp.base_url().to_string();
    let (code, _, stderr) = cli
        .run(&[
            "connection",
            "add",
            "--name",
            "shop",
            "--woocommerce-url",
            &woo_url,
            "--consumer-key",
            woocommerce::TEST_CONSUMER_KEY,
            "--consumer-secret",
            woocommerce::TEST_CONSUMER_SECRET,
            "--webhook-secret",
            "whsec-cli-0123456789",
            "--erpnext-url",
            &erp_url,
            "--api-key",
            erp.api_key(),
            "--api-secret",
            erp.api_secret(),
            "--company",
            "Test Company",
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
            "--auto-create-items",
            "true",
            "--missing-sku",
            "synthesize",
        ])
        .await;
    assert_eq!(code, 0, "{stderr}");

    let (code, tested, _) = cli.run(&["connection", "test", "--name", "shop"]).await;
    assert_eq!(code, 0, "{tested}");
    assert!(
        tested.contains("ERPNext") && tested.contains("signed in as Administrator"),
        "{tested}"
    );
    let (code, _, _) = cli
        .run(&[
            "connection",
            "edit",
            "--name",
            "shop",
            "--api-secret",
            "wrong",
        ])
        .await;
    assert_eq!(code, 0);
    let (code, tested, _) = cli.run(&["connection", "test", "--name", "shop"]).await;
    assert_eq!(code, 2, "refused credentials are bad input: {tested}");
    assert!(
        tested.contains("AuthenticationError") || tested.contains("401"),
        "{tested}"
    );
    assert!(
        !tested.contains("wrong"),
        "the secret is not echoed: {tested}"
    );
    let (code, _, _) = cli
        .run(&[
            "connection",
            "edit",
            "--name",
            "shop",
            "--api-secret",
            erp.api_secret(),
        ])
        .await;
    assert_eq!(code, 0);

    // Setup installs the custom fields the sync keys its orders by, and is idempotent.
    let (code, first, errors) = cli.run(&["setup", "--connection", "shop"]).await;
    assert_eq!(code, 0, "{first}{errors}");
    assert!(
        first.contains("created: custom field Sales Order.woocommerce_order_key"),
        "{first}"
    );
    let (code, second, _) = cli.run(&["setup", "--connection", "shop"]).await;
    assert_eq!(code, 0);
    assert!(second.contains("nothing changed"), "{second}");

    // A dry run writes nothing.
    let (code, documents) = cli
        .json(&["sync", "orders", "--connection", "shop", "--dry-run"])
        .await;
    assert_eq!(code, 0);
    let planned = documents.as_array().unwrap();
    assert!(planned
        .iter()
        .any(|d| d["sales_order"]["woocommerce_order_key"]
            .as_str()
            .is_some_and(|k| k.starts_with("shop:"))));
    assert_eq!(erp.count("Sales Order"), 0, "the dry run wrote nothing");

    let (code, summary) = cli
        .json(&["sync", "orders", "--connection", "shop", "--json"])
        .await;
    assert_eq!(code, 0, "{summary}");
    let created = summary["created"].as_u64().unwrap();
    assert!(created > 20, "{summary}");
    assert_eq!(summary["failed"], 0);
    assert_eq!(erp.count("Sales Order") as u64, created);

    let (code, report) = cli
        .json(&["reconcile", "--connection", "shop", "--json"])
        .await;
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["orders_checked"].as_u64().unwrap(), created);

    // The log shows each creation; one order's story can be asked for.
    let (code, log) = cli
        .json(&["log", "--connection", "shop", "--json", "--limit", "1000"])
        .await;
    assert_eq!(code, 0);
    let entries = log.as_array().unwrap();
    assert_eq!(
        entries
            .iter()
            .filter(|e| e["action"] == "create_sales_order")
            .count() as u64,
        created
    );
    // An on-hold order is not paid, so not invoiced: cancelling it cancels its Sales Order.
    let order_id = entries
        .iter()
        .filter_map(|entry| entry["object_id"].as_str())
        .find(|id| woo.order(id.parse().unwrap()).unwrap()["status"] == "on-hold")
        .expect("an on-hold order")
        .to_string();
    let (_, one) = cli.json(&["log", "--order", &order_id, "--json"]).await;
    assert!(one
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["object_id"] == order_id.as_str()));
    let text = serde_json::to_string(&log).unwrap();
    assert!(!text.contains(erp.api_secret()) && !text.contains(woocommerce::TEST_CONSUMER_SECRET));

    // A cancelled order follows with --order; reconcile then finds nothing open.
    let id: u64 = order_id.parse().unwrap();
    woo.update_order(id, &serde_json::json!({"status": "cancelled"}))
        .unwrap();
    let (code, summary) = cli
        .json(&[
            "sync",
            "orders",
            "--connection",
            "shop",
            "--order",
            &order_id,
            "--json",
        ])
        .await;
    assert_eq!(code, 0, "{summary}");
    assert_eq!(summary["cancelled"], 1, "{summary}");
    let (code, _) = cli
        .json(&["reconcile", "--connection", "shop", "--json"])
        .await;
    assert_eq!(code, 0);

    // An order taken back to processing after its Sales Order was cancelled has no
    // submitted Sales Order: reconcile names it and exits non-zero.
    woo.update_order(id, &serde_json::json!({"status": "processing"}))
        .unwrap();
    let (code, report) = cli
        .json(&["reconcile", "--connection", "shop", "--json"])
        .await;
    assert_eq!(code, 4, "{report}");
    assert_eq!(report["missing_sales_orders"], serde_json::json!([id]));

    // retry queues work; bad input is refused with advice.
    let (code, stdout, _) = cli
        .run(&["retry", "--connection", "shop", "--order", &order_id])
        .await;
    assert_eq!(code, 0);
    assert!(stdout.contains("1 job(s) of `shop` due now"), "{stdout}");
    let (code, _, stderr) = cli
        .run(&[
            "sync",
            "orders",
            "--connection",
            "shop",
            "--since",
            "yesterday",
        ])
        .await;
    assert_eq!(code, 2);
    assert!(stderr.contains("write 2026-11-01"), "{stderr}");
    let (code, _, stderr) = cli.run(&["sync", "orders", "--connection", "nope"]).await;
    assert_eq!(code, 2);
    assert!(stderr.contains("no connection is named `nope`"), "{stderr}");
}
