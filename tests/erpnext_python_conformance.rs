//! Runs `tests/conformance/erpnext/conformance.py` (plain Python `requests`,
//! scripted the way ERPNext users script a site) against a fresh simulator.
//! Without python3 + requests the test fails in CI (`CI` set) and is skipped
//! with a note elsewhere: `python3 -m pip install -r tests/conformance/requirements.txt`.

use std::path::Path;
use std::process::Stdio;

use woocommerce_sync::simulators::erpnext::{start, ErpSimOptions};

fn python_with_requests() -> bool {
    std::process::Command::new("python3")
        .args(["-c", "import requests"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|status| status.success())
        .unwrap_or(false)
}

#[tokio::test]
async fn python_requests_scripts_work_against_the_simulator() {
    if !python_with_requests() {
        let note = "python3 with `requests` is missing: python3 -m pip install -r tests/conformance/requirements.txt";
        if std::env::var_os("CI").is_some() {
            panic!("{note}");
        }
        eprintln!("skipping the Python conformance run: {note}");
        return;
    }
    let options = ErpSimOptions {
        today: chrono::NaiveDate::from_ymd_opt(2026, 11, 26),
        ..ErpSimOptions::default()
    };
    let simulator = start(options).await.expect("simulator starts");
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance/erpnext/conformance.py");
    let output = tokio::process::Command::new("python3")
        .arg(&script)
        .env("ERPNEXT_URL", simulator.base_url().as_str())
        .env("ERPNEXT_KEY", simulator.api_key())
        .env("ERPNEXT_SECRET", simulator.api_secret())
        .output()
        .await
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "conformance script failed:\n{stdout}\n{stderr}"
    );
    assert_eq!(stdout.trim(), "ok");
}
