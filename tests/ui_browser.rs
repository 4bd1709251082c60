//! The web UI in a real browser: headless Chromium (Debian's `chromium` and `chromium-driver`)
//! driven over WebDriver with `fantoccini` logs in, makes a connection through the form against
//! both simulators, watches the first sync, fixes a missing mapping, retries that cause, sees the
//! orders synced and logs out. Each page is saved as a PNG under `target/ui-screenshots/` and
//! checked for basic accessibility in the browser: every form control has a label, focus is
//! visible, and text contrast is at least 4.5:1 (3:1 for large text).
//!
//! Runs when `chromedriver` and `chromium` are installed; `WOOCOMMERCE_SYNC_BROWSER=required`
//! (CI sets it) fails instead of skipping when they are not.

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{test_secret_key, test_service_options, ADMIN_PASSWORD};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use woocommerce_sync::app::Service;
use woocommerce_sync::simulators::{erpnext, woocommerce};
use woocommerce_sync::store::Store;

fn find_program(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

/// chromedriver and the browser, or `None` after saying why the test is skipped.
fn browser_programs() -> Option<PathBuf> {
    let driver = find_program(&["chromedriver"]);
    let browser = find_program(&["chromium", "chromium-browser", "google-chrome"]);
    match (driver, browser) {
        (Some(driver), Some(_)) => Some(driver),
        _ => {
            let why = "chromedriver or chromium is not installed (Debian: apt-get install chromium chromium-driver)";
            if std::env::var("WOOCOMMERCE_SYNC_BROWSER").as_deref() == Ok("required") {
                panic!("WOOCOMMERCE_SYNC_BROWSER=required but {why}");
            }
            eprintln!("note: the browser test was skipped: {why}");
            None
        }
    }
}

/// The chromedriver this test started; ended with the test.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_driver(program: &PathBuf) -> Driver {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(program)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let driver = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let ready = reqwest::get(format!("{}/status", driver.url))
            .await
            .ok()
            .filter(|answer| answer.status().is_success());
        if ready.is_some() {
            return driver;
        }
        assert!(Instant::now() < deadline, "chromedriver never answered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn browser(driver: &Driver) -> Client {
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({"args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                        "--disable-dev-shm-usage", "--window-size=1280,1024"]}),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .expect("a Chromium session")
}

/// Every visible form control labelled, focus visible, text contrast enough: the problems found.
const ACCESSIBILITY_CHECK: &str = r#"
const problems = [];
const controls = [...document.querySelectorAll('input, select, textarea')]
  .filter(el => el.type !== 'hidden' && el.type !== 'submit');
for (const el of controls) {
  const named = (el.labels && el.labels.length > 0) || el.getAttribute('aria-label')
    || el.getAttribute('aria-labelledby');
  if (!named) problems.push('no label: ' + (el.id || el.name || el.outerHTML.slice(0, 80)));
}
for (const el of document.querySelectorAll('a[href], button, input:not([type=hidden]), select')) {
  el.focus();
  if (document.activeElement !== el) continue;
  const style = getComputedStyle(el);
  const outline = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2;
  if (!outline && style.boxShadow === 'none')
    problems.push('focus not visible: ' + el.tagName + ' ' + (el.id || el.textContent.trim().slice(0, 40)));
  el.blur();
}
function rgba(text) {
  const m = text.match(/rgba?\(([^)]+)\)/);
  if (!m) return [0, 0, 0, 0];
  const p = m[1].split(',').map(Number);
  return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
}
function luminance([r, g, b]) {
  const c = [r, g, b].map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
  return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
}
function background(el) {
  for (let node = el; node && node.nodeType === 1; node = node.parentElement) {
    const bg = rgba(getComputedStyle(node).backgroundColor);
    if (bg[3] > 0.5) return bg;
  }
  return [255, 255, 255, 1];
}
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
const seen = new Set();
while (walker.nextNode()) {
  const node = walker.currentNode;
  const el = node.parentElement;
  if (!node.textContent.trim() || !el || seen.has(el)) continue;
  seen.add(el);
  const style = getComputedStyle(el);
  if (style.visibility === 'hidden' || style.display === 'none' || el.closest('svg')) continue;
  const rect = el.getBoundingClientRect();
  if (rect.width <= 1 || rect.height <= 1) continue;
  const fg = rgba(style.color), bg = background(el);
  const [l1, l2] = [luminance(fg), luminance(bg)].sort((a, b) => b - a);
  const ratio = (l1 + 0.05) / (l2 + 0.05);
  const size = parseFloat(style.fontSize), bold = parseInt(style.fontWeight, 10) >= 700;
  const needed = (size >= 24 || (bold && size >= 18.66)) ? 3 : 4.5;
  if (ratio < needed)
    problems.push('contrast ' + ratio.toFixed(2) + ' < ' + needed + ': "' + node.textContent.trim().slice(0, 40) + '"');
}
return problems;
"#;

struct Tour {
    client: Client,
    base_url: String,
    shots: PathBuf,
    taken: usize,
}

impl Tour {
    /// Saves the page as `NN-name.png` and checks its accessibility.
    async fn page_done(&mut self, name: &str) {
        self.taken += 1;
        let png = self.client.screenshot().await.expect("a screenshot");
        assert!(png.starts_with(b"\x89PNG"), "the screenshot is not a PNG");
        let path = self.shots.join(format!("{:02}-{name}.png", self.taken));
        std::fs::write(&path, png).expect("write the screenshot");
        let problems = self
            .client
            .execute(ACCESSIBILITY_CHECK, Vec::new())
            .await
            .expect("run the accessibility check");
        let problems: Vec<String> = serde_json::from_value(problems).unwrap_or_default();
        assert!(
            problems.is_empty(),
            "{name} ({}): accessibility problems:\n{}",
            path.display(),
            problems.join("\n")
        );
    }

    async fn goto(&self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.base_url))
            .await
            .unwrap();
    }

    async fn fill(&self, id: &str, value: &str) {
        let field = self.client.find(Locator::Id(id)).await.unwrap();
        field.clear().await.unwrap();
        field.send_keys(value).await.unwrap();
    }

    async fn click(&self, locator: Locator<'_>) {
        self.client
            .find(locator)
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }

    /// Waits (bounded) until the page holds `text`, reloading it if `reload` (pages that do not
    /// reload themselves).
    async fn wait_for_text(&self, text: &str, reload: bool, within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            let body = self.client.find(Locator::Css("body")).await.ok();
            if let Some(body) = body {
                if let Ok(found) = body.text().await {
                    if found.contains(text) {
                        return found;
                    }
                }
            }
            assert!(Instant::now() < deadline, "the page never said `{text}`");
            if reload {
                self.client.refresh().await.unwrap();
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn number_after(&self, label: &str) -> u64 {
        let text = self
            .client
            .find(Locator::Css("body"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .find_map(|line| line.trim_start().strip_prefix(label))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|number| number.parse().ok())
            .unwrap_or_else(|| panic!("no `{label}` on the page:\n{text}"))
    }
}

#[tokio::test]
async fn a_person_makes_a_connection_fixes_a_mapping_and_retries_it_in_a_real_browser() {
    let Some(driver_program) = browser_programs() else {
        return;
    };
    let woo = woocommerce::start(woocommerce::WooSimOptions {
        orders: 12,
        ..woocommerce::WooSimOptions::default()
    })
    .await
    .unwrap();
    let erp = erpnext::start(erpnext::ErpSimOptions::default())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("sync.db").display());
    let store = Store::open(&url, test_secret_key()).await.unwrap();
    // The whole service: web face, workers and all, as `serve` runs it.
    let service = Service::new(
        store,
        &test_secret_key(),
        ADMIN_PASSWORD,
        test_service_options(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base_url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(service.run(listener, stopped));

    let driver = start_driver(&driver_program).await;
    let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/ui-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let mut tour = Tour {
        client: browser(&driver).await,
        base_url,
        shots,
        taken: 0,
    };

    // Log in; with no connection yet, the form for one comes first.
    tour.goto("/").await;
    tour.client
        .wait()
        .for_element(Locator::Id("password"))
        .await
        .unwrap();
    tour.page_done("login").await;
    tour.fill("password", ADMIN_PASSWORD).await;
    tour.click(Locator::Css("form.stacked button[type=submit]"))
        .await;
    tour.wait_for_text("Test and read both sites", false, Duration::from_secs(10))
        .await;
    tour.page_done("new-connection").await;

    // The two sites and their keys; the proposal comes back.
    tour.fill("name", "browser").await;
    tour.fill("woocommerce_url", woo.base_url().as_str()).await;
    tour.fill("consumer_key", woocommerce::TEST_CONSUMER_KEY)
        .await;
    tour.fill("consumer_secret", woocommerce::TEST_CONSUMER_SECRET)
        .await;
    tour.fill("erpnext_url", erp.base_url().as_str()).await;
    tour.fill("api_key", erp.api_key()).await;
    tour.fill("api_secret", erp.api_secret()).await;
    tour.click(Locator::XPath(
        "//button[text()='Test and read both sites']",
    ))
    .await;
    let review = tour
        .wait_for_text("Still missing", false, Duration::from_secs(20))
        .await;
    assert!(review.contains("CA State Tax"), "{review}");
    assert!(!review.contains(woocommerce::TEST_CONSUMER_SECRET));
    tour.page_done("proposal").await;
    tour.click(Locator::Id("auto_create_items")).await;
    tour.click(Locator::XPath(
        "//button[starts-with(text(), 'Save, set up both sites')]",
    ))
    .await;

    // The first sync: the page reloads itself until it is done.
    tour.wait_for_text("First sync", false, Duration::from_secs(20))
        .await;
    tour.page_done("first-sync-running").await;
    let done = tour
        .wait_for_text("Finished.", false, Duration::from_secs(60))
        .await;
    assert!(
        done.contains("has no ERPNext account"),
        "unmapped tax rates fail: {done}"
    );
    tour.page_done("first-sync-finished").await;

    // The dashboard groups the failures; the tax rates get an account in the settings.
    tour.goto("/").await;
    tour.wait_for_text("Why orders fail", false, Duration::from_secs(10))
        .await;
    let synced_before = tour.number_after("Orders synced").await;
    tour.page_done("dashboard-failing").await;
    tour.click(Locator::LinkText("Fix settings")).await;
    tour.client
        .wait()
        .for_element(Locator::Id("default_tax_account"))
        .await
        .unwrap();
    tour.fill("default_tax_account", "ST 6% - TC").await;
    tour.click(Locator::XPath("//button[text()='Save settings']"))
        .await;
    tour.wait_for_text("Saved.", false, Duration::from_secs(10))
        .await;
    tour.page_done("settings-saved").await;

    // Retry one cause that was fixed (one row per tax rate); its orders sync.
    tour.goto("/").await;
    let row = "(//tr[td[contains(., 'has no ERPNext account')]])[1]";
    let cause = tour
        .client
        .find(Locator::XPath(&format!("{row}/td[2]")))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let cause = cause.trim_end_matches("Fix settings").trim().to_string();
    tour.click(Locator::XPath(&format!(
        "{row}//button[starts-with(text(), 'Retry these')]"
    )))
    .await;
    tour.wait_for_text("Orders", false, Duration::from_secs(10))
        .await;
    tour.page_done("orders-after-retry").await;
    tour.goto("/").await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let page = tour
            .wait_for_text("Orders synced", false, Duration::from_secs(10))
            .await;
        if !page.contains(&cause) && tour.number_after("Orders synced").await > synced_before {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the retried orders never synced (`{cause}`):\n{page}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        tour.client.refresh().await.unwrap();
    }
    tour.page_done("dashboard-synced").await;
    tour.goto("/orders?connection=browser&state=synced").await;
    tour.wait_for_text("synced", false, Duration::from_secs(10))
        .await;
    tour.page_done("orders-synced").await;

    // The product links: a check queued from the page, its report once the worker ran it.
    tour.goto("/settings/browser/products").await;
    tour.click(Locator::XPath(
        "//button[text()='Check again (changes nothing)']",
    ))
    .await;
    tour.wait_for_text("nothing stored", true, Duration::from_secs(30))
        .await;
    tour.page_done("product-links").await;

    // Log out: the session ends.
    tour.click(Locator::XPath("//button[text()='Log out']"))
        .await;
    tour.client
        .wait()
        .for_element(Locator::Id("password"))
        .await
        .unwrap();
    tour.page_done("logged-out").await;
    tour.goto("/").await;
    tour.client
        .wait()
        .for_element(Locator::Id("password"))
        .await
        .unwrap();

    tour.client.close().await.unwrap();
    stop.send(true).unwrap();
    running.await.unwrap().unwrap();
}
