//! WooCommerce's own REST clients (npm `@woocommerce/woocommerce-rest-api`,
//! PyPI `WooCommerce`), which nobody here wrote, talk OAuth 1.0a to the
//! simulator over plain HTTP: list with paging, read one order, update a status.
//! Without the packages the test says how to install them and returns — except
//! under CI, where a missing package is a failure.

use std::path::{Path, PathBuf};

use serde_json::Value;
use woocommerce_sync::simulators::woocommerce::{
    start, WooSimOptions, TEST_CONSUMER_KEY, TEST_CONSUMER_SECRET,
};

fn scripts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance/woocommerce")
}

fn missing(what: &str, install: &str) -> bool {
    if std::env::var_os("CI").is_some() {
        panic!("{what} is not installed; CI must run: {install}");
    }
    eprintln!("skipping the {what} conformance check: run `{install}` to enable it");
    true
}

async fn run_client(program: &str, script: &str) -> Value {
    let handle = start(WooSimOptions {
        orders: 45,
        seed_random: 11,
        plain_http: true,
        ..WooSimOptions::default()
    })
    .await
    .unwrap();
    let output = tokio::process::Command::new(program)
        .arg(scripts().join(script))
        .current_dir(scripts())
        .env("WOO_URL", handle.base_url().as_str().trim_end_matches('/'))
        .env("WOO_KEY", TEST_CONSUMER_KEY)
        .env("WOO_SECRET", TEST_CONSUMER_SECRET)
        .output()
        .await
        .unwrap_or_else(|error| panic!("cannot run {program}: {error}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{script} failed: {stderr}{stdout}");
    let report: Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|error| panic!("{script} printed no JSON ({error}): {stdout}"));

    let visible: Vec<Value> = handle
        .orders()
        .into_iter()
        .filter(|order| order["status"] != "trash")
        .collect();
    let expected_total = visible.len() as u64;
    assert_eq!(report["total"], expected_total, "{report}");
    assert_eq!(report["pages"], expected_total.div_ceil(20), "{report}");
    assert_eq!(report["listed"], expected_total, "{report}");
    assert_eq!(report["distinct"], expected_total, "{report}");
    let id = report["read_id"].as_u64().unwrap();
    assert_eq!(report["updated_id"], id);
    assert_eq!(report["updated_status"], "completed");
    let stored = handle.order(id).unwrap();
    assert_eq!(stored["status"], "completed");
    assert_eq!(report["read_total"], stored["total"]);
    report
}

#[tokio::test]
async fn the_official_javascript_client_works_against_the_simulator() {
    let installed = std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_ok()
        && scripts()
            .join("node_modules/@woocommerce/woocommerce-rest-api")
            .is_dir();
    if !installed
        && missing(
            "npm package @woocommerce/woocommerce-rest-api",
            "npm ci --prefix tests/conformance/woocommerce",
        )
    {
        return;
    }
    let report = run_client("node", "official-js-client.js").await;
    assert_eq!(report["client"], "js");
}

#[tokio::test]
async fn the_official_python_client_works_against_the_simulator() {
    let installed = std::process::Command::new("python3")
        .args(["-c", "import woocommerce"])
        .output()
        .is_ok_and(|output| output.status.success());
    if !installed && missing("PyPI package WooCommerce", "pip install WooCommerce==3.0.0") {
        return;
    }
    let report = run_client("python3", "official_python_client.py").await;
    assert_eq!(report["client"], "python");
}
