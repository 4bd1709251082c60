//! `demo`, the README's first command, as a newcomer meets it: it ends in the web UI full of the
//! synced data with a login that works, its hints work when copied, it keeps its data where the
//! user says (and replaces its own earlier connection there), and otherwise leaves nothing behind.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, BufReader};

fn demo_command(cwd: &Path, args: &[&str]) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_woocommerce-sync"));
    command
        .current_dir(cwd)
        .arg("demo")
        .args(["--orders", "40"])
        .args(args)
        .env_remove("WOOCOMMERCE_SYNC_DATABASE")
        .env_remove("WOOCOMMERCE_SYNC_DATA_DIR")
        .env_remove("WOOCOMMERCE_SYNC_SECRET_KEY")
        .env_remove("WOOCOMMERCE_SYNC_ADMIN_PASSWORD")
        .env("WOOCOMMERCE_SYNC_LOG", "warn");
    command
}

/// The throwaway data dir a demo names in its "created in sqlite://DIR/…" line.
fn data_dir_named(stdout: &str) -> PathBuf {
    let line = stdout
        .lines()
        .find(|line| line.starts_with("Connection `demo` created in sqlite://"))
        .unwrap_or_else(|| panic!("no database line in {stdout}"));
    let file = line.rsplit("sqlite://").next().unwrap();
    Path::new(file).parent().unwrap().to_path_buf()
}

/// Runs a command line the demo printed, as a user pasting it would: the program it names is the
/// one that was started.
async fn run_hint(cwd: &Path, hint: &str) -> (bool, String) {
    let mut words = hint.split_whitespace();
    let program = words.next().unwrap();
    assert_eq!(program, env!("CARGO_BIN_EXE_woocommerce-sync"), "{hint}");
    let output = tokio::process::Command::new(program)
        .current_dir(cwd)
        .args(words)
        .env_remove("WOOCOMMERCE_SYNC_DATABASE")
        .env_remove("WOOCOMMERCE_SYNC_DATA_DIR")
        .env_remove("WOOCOMMERCE_SYNC_SECRET_KEY")
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), text)
}

#[tokio::test]
async fn the_demo_ends_in_the_web_ui_full_of_its_data_and_cleans_up_at_the_end() {
    let cwd = tempfile::tempdir().unwrap();
    let mut child = demo_command(cwd.path(), &["--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut stdout = String::new();
    while let Some(line) = lines.next_line().await.unwrap() {
        stdout.push_str(&line);
        stdout.push('\n');
        if line.starts_with("Press Ctrl-C") {
            break;
        }
    }
    assert!(
        stdout.contains("Press Ctrl-C"),
        "the demo did not serve: {stdout}"
    );
    let data_dir = data_dir_named(&stdout);
    assert!(data_dir.exists(), "{stdout}");

    // The URL and the password it printed open the UI, with the synced orders in it.
    let ui_line = stdout
        .lines()
        .find(|line| line.starts_with("The web UI: "))
        .unwrap();
    let url = ui_line
        .split_whitespace()
        .find(|word| word.starts_with("http://"))
        .unwrap()
        .to_string();
    let password = ui_line
        .rsplit("log in with the password ")
        .next()
        .unwrap()
        .trim_end_matches(')')
        .to_string();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let login = http
        .post(format!("{url}login"))
        .form(&[("password", password.as_str())])
        .send()
        .await
        .unwrap();
    assert!(login.status().is_redirection(), "login: {}", login.status());
    let cookie = login.headers()[reqwest::header::SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let orders = http
        .get(format!("{url}orders?connection=demo"))
        .header(reqwest::header::COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(orders.status(), 200);
    let page = orders.text().await.unwrap();
    assert!(
        page.contains("SAL-ORD-"),
        "no Sales Order on the orders page"
    );

    // The hint works while the demo runs.
    let hint = stdout
        .lines()
        .find_map(|line| line.split("while this runs: ").nth(1))
        .unwrap();
    let (ok, text) = run_hint(cwd.path(), hint).await;
    assert!(ok && text.contains("create_sales_order"), "{hint}: {text}");

    // Stopped as Ctrl-C or a service manager stops it: it finishes, and its data is gone.
    let pid = child.id().unwrap() as i32;
    // SAFETY: sending a signal to our own child process.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let status = child.wait().await.unwrap();
    assert!(status.success(), "{status}");
    assert!(!data_dir.exists(), "{} is left behind", data_dir.display());
    assert_eq!(
        std::fs::read_dir(cwd.path()).unwrap().count(),
        0,
        "the demo wrote into the working directory"
    );
}

#[tokio::test]
async fn a_demo_given_a_data_dir_keeps_its_data_there_and_its_hint_works_after_it() {
    let cwd = tempfile::tempdir().unwrap();
    let kept = cwd.path().join("kept");
    let kept_arg = kept.to_str().unwrap();
    for run in 0..2 {
        let output = demo_command(cwd.path(), &["--no-serve", "--data-dir", kept_arg])
            .output()
            .await
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(output.status.success(), "{stdout}");
        assert_eq!(
            stdout.contains("Replaced the `demo` connection of an earlier demo."),
            run == 1,
            "{stdout}"
        );
        assert!(stdout.contains("all match to the cent"), "{stdout}");
        let hint = stdout
            .lines()
            .find_map(|line| line.strip_prefix("Explore: "))
            .unwrap_or_else(|| panic!("no hint in {stdout}"));
        let (ok, text) = run_hint(cwd.path(), hint).await;
        assert!(ok && text.contains("create_sales_order"), "{hint}: {text}");
    }
    assert!(kept.join("woocommerce-sync.db").exists());
}

#[tokio::test]
async fn a_scripted_demo_leaves_nothing_behind() {
    let cwd = tempfile::tempdir().unwrap();
    let output = demo_command(cwd.path(), &["--no-serve"])
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "{stdout}");
    assert!(!stdout.contains("The web UI"), "{stdout}");
    assert!(!data_dir_named(&stdout).exists(), "{stdout}");
    assert_eq!(std::fs::read_dir(cwd.path()).unwrap().count(), 0);
}
