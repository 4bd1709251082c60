//! The README's exit-code table, command by command: each failure mode a user meets gives the
//! code the table promises, with a message that says what to do. Also what a script or a pipe
//! sees around them: no panic on a closed pipe, no colour codes in a pipe, JSON logs on request,
//! a dry run that reports as the run would, skipped orders logged once with their reason, and
//! `log --failed` showing only what is failing now.

use std::process::Stdio;

use serde_json::Value;
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

fn entries(log: &str) -> Vec<Value> {
    serde_json::from_str::<Value>(log)
        .unwrap_or_else(|error| panic!("{error}: {log}"))
        .as_array()
        .cloned()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_exits_as_the_readme_says() {
    let woo = woocommerce::start(woocommerce::WooSimOptions {
        orders: 40,
        seed_random: 11,
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
    // Items are not created by the sync: orders whose products ERPNext lacks fail (exit 3).
    cli.add("shop", &woo_url, &erp, &["--auto-create-items", "false"])
        .await;
    cli.add("wrongco", &woo_url, &erp, &["--company", "No Such Company"])
        .await;

    // 0: success.
    let (code, listed, _) = cli.run(&["connection", "list"]).await;
    assert_eq!(code, 0, "{listed}");

    // 2: bad input, said in words.
    let (code, _, stderr) = cli.run(&["sync", "orders", "--connection", "nope"]).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("nope"), "{stderr}");
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
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("is not a date"), "{stderr}");
    let (code, _, stderr) = cli
        .run(&[
            "connection",
            "add",
            "--name",
            "bad",
            "--woocommerce-url",
            "not a url",
        ])
        .await;
    assert_eq!(code, 2, "{stderr}");
    // Before setup, sync refuses and names what is missing.
    let (code, _, stderr) = cli.run(&["sync", "orders", "--connection", "shop"]).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("run setup") && stderr.contains("Sales Order-woocommerce_order_key"),
        "{stderr}"
    );
    assert_eq!(erp.count("Sales Order"), 0);
    // A company ERPNext lacks: setup says so, exit 2.
    let (code, stdout, stderr) = cli.run(&["setup", "--connection", "wrongco"]).await;
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(
        stdout.contains("Company `No Such Company` does not exist"),
        "{stdout}"
    );
    // Refused credentials are the input's fault; an unreachable site is not.
    let (code, _, _) = cli
        .run(&[
            "connection",
            "edit",
            "--name",
            "wrongco",
            "--api-secret",
            "wrong",
        ])
        .await;
    assert_eq!(code, 0);
    let (code, stdout, _) = cli.run(&["connection", "test", "--name", "wrongco"]).await;
    assert_eq!(code, 2, "{stdout}");
    let (code, _, _) = cli
        .run(&[
            "connection",
            "edit",
            "--name",
            "wrongco",
            "--erpnext-url",
            "http://127.0.0.1:9",
        ])
        .await;
    assert_eq!(code, 0);

    // 1: something failed that is not the input's fault.
    let (code, stdout, _) = cli.run(&["connection", "test", "--name", "wrongco"]).await;
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("WooCommerce") && stdout.contains("ok"),
        "{stdout}"
    );
    let (code, _, stderr) = cli
        .run(&["sync", "orders", "--connection", "wrongco"])
        .await;
    assert_eq!(code, 1, "{stderr}");

    // 3: some orders failed; a dry run says so first, as the run would.
    let (code, _, stderr) = cli.run(&["setup", "--connection", "shop"]).await;
    assert_eq!(code, 0, "{stderr}");
    let (code, planned, stderr) = cli
        .run(&["sync", "orders", "--connection", "shop", "--dry-run"])
        .await;
    assert_eq!(code, 3, "{stderr}");
    let planned = entries(&planned);
    let would_fail = planned
        .iter()
        .filter(|plan| plan["error"].is_string())
        .count();
    assert!(would_fail > 0, "items are missing, so orders would fail");
    assert!(
        stderr.contains(&format!("{would_fail} would fail")),
        "{stderr}"
    );
    assert_eq!(erp.count("Sales Order"), 0, "the dry run wrote nothing");
    let (code, summary, stderr) = cli
        .run(&["sync", "orders", "--connection", "shop", "--json"])
        .await;
    assert_eq!(code, 3, "{stderr}");
    let summary: Value = serde_json::from_str(&summary).unwrap();
    assert_eq!(summary["failed"].as_u64().unwrap() as usize, would_fail);

    // 4: reconcile found differences (the failed orders have no Sales Order).
    let (code, report, _) = cli
        .run(&["reconcile", "--connection", "shop", "--json"])
        .await;
    assert_eq!(code, 4, "{report}");

    // A retry of an order the store does not have is refused, not queued to fail unseen.
    let (code, _, stderr) = cli
        .run(&["retry", "--connection", "shop", "--order", "999999"])
        .await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("no order 999999"), "{stderr}");

    // Skipped orders are logged once each, with the reason, however often they are seen.
    let (code, _, _) = cli.run(&["sync", "orders", "--connection", "shop"]).await;
    assert_eq!(code, 3);
    let (_, log, _) = cli
        .run(&["log", "--connection", "shop", "--json", "--limit", "10000"])
        .await;
    let log = entries(&log);
    let skipped: Vec<&Value> = log.iter().filter(|e| e["outcome"] == "skipped").collect();
    let skipped_orders: std::collections::BTreeSet<&str> = skipped
        .iter()
        .map(|e| e["object_id"].as_str().unwrap())
        .collect();
    assert!(
        !skipped.is_empty(),
        "the shop has orders in statuses not imported"
    );
    assert_eq!(
        skipped.len(),
        skipped_orders.len(),
        "each skipped order once"
    );
    assert!(
        skipped
            .iter()
            .all(|e| e["message"].as_str().unwrap().contains("status")),
        "{skipped:?}"
    );

    // Fixed, retried, synced: `log --failed` shows what fails now, which is nothing.
    let (_, failing, _) = cli
        .run(&["log", "--connection", "shop", "--failed", "--json"])
        .await;
    assert_eq!(entries(&failing).len(), would_fail);
    let (code, _, _) = cli
        .run(&[
            "connection",
            "edit",
            "--name",
            "shop",
            "--auto-create-items",
            "true",
        ])
        .await;
    assert_eq!(code, 0);
    let (code, _, _) = cli
        .run(&["retry", "--connection", "shop", "--failed"])
        .await;
    assert_eq!(code, 0);
    let (code, stdout, stderr) = cli.run(&["sync", "orders", "--connection", "shop"]).await;
    assert_eq!(code, 0, "{stdout}{stderr}");
    let (_, failing, _) = cli
        .run(&["log", "--connection", "shop", "--failed", "--json"])
        .await;
    assert_eq!(entries(&failing), Vec::<Value>::new());
    let (code, _, _) = cli.run(&["reconcile", "--connection", "shop"]).await;
    assert_eq!(code, 0);

    // A pipe closed by its reader (`log | head`) ends the command quietly, without a panic.
    let mut child = cli
        .command(&["log", "--connection", "shop", "--limit", "10000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().await.unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        output.status.code().is_none_or(|code| code == 0),
        "ended by the closed pipe, not failed: {:?} {stderr}",
        output.status
    );

    // Logs as JSON lines on request.
    let output = cli
        .command(&["sync", "orders", "--connection", "shop", "--json"])
        .env("WOOCOMMERCE_SYNC_LOG_FORMAT", "json")
        .env("WOOCOMMERCE_SYNC_LOG", "debug")
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|line| !line.is_empty()).collect();
    assert!(!lines.is_empty(), "debug logs were written");
    for line in lines {
        let record: Value = serde_json::from_str(line)
            .unwrap_or_else(|error| panic!("not a JSON log line ({error}): {line}"));
        assert!(record["level"].is_string(), "{line}");
    }
}
