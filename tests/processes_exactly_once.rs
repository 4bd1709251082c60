//! Exactly once across processes: two and three `woocommerce-sync sync orders` processes on one
//! connection at once, on SQLite and on PostgreSQL, with dropped answers and deadlocks, and with
//! one process killed (-9) mid-run; and two `serve` instances on one PostgreSQL database taking
//! webhooks, one of them killed mid-job. Every document kind is counted afterwards and must equal
//! what one clean run of one process makes on an identical shop.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use futures::StreamExt;
use serde_json::Value;
use sqlx::Connection as _;
use woocommerce_sync::erpnext::client::ListQuery;
use woocommerce_sync::simulators::{erpnext, woocommerce};
use woocommerce_sync::store::{JobState, Store};
use woocommerce_sync::sync::context::erpnext_client;
use woocommerce_sync::sync::setup::{install, SetupPlan};

use common::{connection_for, fast_calls};

/// A list filter: field, operator, value.
type Filter = (&'static str, &'static str, Value);

/// Base64 of 32 zero bytes: the children read it from the environment.
const KEY: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
const ORDERS: usize = 90;

struct Shop {
    woo: woocommerce::WooSimHandle,
    erp: erpnext::ErpSimHandle,
    database: String,
    _dir: tempfile::TempDir,
}

/// A generated shop, an empty ERPNext with the custom fields installed, and a store holding the
/// connection, at `database` (SQLite in a temporary dir when `None`).
async fn shop(database: Option<String>) -> Shop {
    let woo = woocommerce::start(woocommerce::WooSimOptions {
        orders: ORDERS,
        seed_random: 17,
        ..Default::default()
    })
    .await
    .unwrap();
    let erp = erpnext::start(erpnext::ErpSimOptions::default())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let database =
        database.unwrap_or_else(|| format!("sqlite://{}", dir.path().join("sync.db").display()));
    let store = Store::open(
        &database,
        woocommerce_sync::secrets::SecretKey::from_base64(KEY).unwrap(),
    )
    .await
    .unwrap();
    let connection = connection_for(&woo, &erp);
    store.insert_connection(&connection).await.unwrap();
    store.close().await;
    install(
        &erpnext_client(&connection, &fast_calls()).unwrap(),
        &SetupPlan {
            connection_name: "shop".into(),
            webhook_base_url: "http://127.0.0.1:9/webhooks/erpnext/shop".parse().unwrap(),
            webhook_secret: "erp-webhook-secret-0123".into(),
            update_webhook_secrets: false,
            catalogue: None,
        },
    )
    .await
    .unwrap();
    Shop {
        woo,
        erp,
        database,
        _dir: dir,
    }
}

impl Shop {
    fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_woocommerce-sync"));
        command
            .arg("--database")
            .arg(&self.database)
            .arg("--data-dir")
            .arg(self._dir.path())
            .args(args)
            .env("WOOCOMMERCE_SYNC_SECRET_KEY", KEY)
            .env_remove("WOOCOMMERCE_SYNC_LOG")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        command
    }

    async fn run(&self, args: &[&str]) -> (i32, String) {
        let output = self.command(args).output().await.unwrap();
        (
            output.status.code().unwrap_or(-1),
            format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
        )
    }

    /// `processes` syncs of the whole shop at once; answers the sum of what each one says it
    /// created, by document kind.
    async fn sync_at_once(&self, processes: usize) -> BTreeMap<&'static str, u64> {
        let runs =
            (0..processes).map(|_| self.run(&["sync", "orders", "--connection", "shop", "--json"]));
        let mut created = BTreeMap::new();
        for (code, output) in futures::future::join_all(runs).await {
            assert!(code == 0 || code == 3, "{output}");
            let json = output.find('{').map(|start| &output[start..]).unwrap_or("");
            let summary: Value = serde_json::Deserializer::from_str(json)
                .into_iter()
                .next()
                .and_then(Result::ok)
                .unwrap_or_else(|| panic!("a JSON summary: {output}"));
            for (kind, field) in [
                ("Sales Order", "created"),
                ("Sales Invoice", "invoices_created"),
                ("payment received", "payments_created"),
                ("credit note", "credit_notes_created"),
                ("refund paid", "refund_payments_created"),
            ] {
                *created.entry(kind).or_default() += summary[field].as_u64().unwrap();
            }
        }
        created
    }

    /// With the faults gone, what a user does after a bad day: make every retry due and sync
    /// until a run has nothing left failing.
    async fn converge(&self) {
        self.erp.set_faults(erpnext::Faults::default());
        let mut last = String::new();
        for _ in 0..4 {
            let (code, output) = self
                .run(&["retry", "--connection", "shop", "--failed"])
                .await;
            assert_eq!(code, 0, "{output}");
            let (code, output) = self.run(&["sync", "orders", "--connection", "shop"]).await;
            if code == 0 {
                return;
            }
            last = output;
        }
        panic!("four retries and syncs without faults did not converge: {last}");
    }

    /// Every document kind the sync makes, counted in ERPNext.
    async fn documents(&self) -> BTreeMap<&'static str, usize> {
        let connection = connection_for(&self.woo, &self.erp);
        let client = erpnext_client(&connection, &fast_calls()).unwrap();
        let kinds: [(&str, &str, &[Filter]); 8] = [
            ("Sales Order", "Sales Order", &[]),
            (
                "Sales Invoice",
                "Sales Invoice",
                &[("is_return", "=", Value::from(0))],
            ),
            (
                "credit note",
                "Sales Invoice",
                &[("is_return", "=", Value::from(1))],
            ),
            (
                "payment received",
                "Payment Entry",
                &[("payment_type", "=", Value::from("Receive"))],
            ),
            (
                "refund paid",
                "Payment Entry",
                &[("payment_type", "=", Value::from("Pay"))],
            ),
            ("Customer", "Customer", &[]),
            ("Address", "Address", &[]),
            (
                "Item",
                "Item",
                &[("item_group", "=", Value::from("Products"))],
            ),
        ];
        let mut counts = BTreeMap::new();
        for (kind, doctype, filters) in kinds {
            let mut query = ListQuery::default().fields(&["name"]).all_rows();
            for (field, op, value) in filters {
                query = query.filter(field, op, value.clone());
            }
            let rows: Vec<Value> = client.list(doctype, &query).await.unwrap();
            counts.insert(kind, rows.len());
        }
        counts
    }
}

/// What one process makes of the shop with no faults: the count every other run must equal.
async fn reference() -> BTreeMap<&'static str, usize> {
    let shop = shop(None).await;
    let (code, output) = shop.run(&["sync", "orders", "--connection", "shop"]).await;
    assert_eq!(code, 0, "{output}");
    let counts = shop.documents().await;
    for (kind, count) in &counts {
        assert!(
            *count > 0,
            "the generated shop makes no {kind}, so the test could not see one twice"
        );
    }
    counts
}

fn faulty() -> erpnext::Faults {
    erpnext::Faults {
        drop_rate: 0.08,
        deadlock_rate: 0.04,
        error_rate: 0.03,
        seed: Some(29),
        ..Default::default()
    }
}

/// `postgres`: the admin URL of a PostgreSQL server to keep the store on, else SQLite.
async fn several_processes_make_everything_once(postgres: Option<String>) {
    let expected = reference().await;
    let database = |label: &'static str| {
        let postgres = postgres.clone();
        async move {
            match postgres {
                Some(admin) => Some(fresh_postgres_database(&admin, label).await),
                None => None,
            }
        }
    };

    // Three at once, no faults.
    let clean = shop(database("clean").await).await;
    clean.erp.set_faults(erpnext::Faults {
        latency_ms: 2,
        ..Default::default()
    });
    let created = clean.sync_at_once(3).await;
    clean.converge().await;
    let made = clean.documents().await;
    assert_eq!(made, expected, "three processes at once");
    // Each run counts what it made itself, not what another run had made: the sums add up.
    for (kind, count) in created {
        assert_eq!(
            count as usize, made[kind],
            "{kind}s the three runs say they created"
        );
    }
    drop(clean);

    // Two at once through dropped answers (after commit), deadlocks and 500s.
    let faulty_shop = shop(database("faulty").await).await;
    faulty_shop.erp.set_faults(faulty());
    faulty_shop.sync_at_once(2).await;
    faulty_shop.converge().await;
    assert_eq!(
        faulty_shop.documents().await,
        expected,
        "two processes through faults (ERPNext fault seed {})",
        faulty_shop.erp.fault_seed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_processes_on_sqlite_make_every_document_once() {
    several_processes_make_everything_once(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_processes_on_postgres_make_every_document_once() {
    let Some(admin) = postgres_admin_url() else {
        return;
    };
    several_processes_make_everything_once(Some(admin)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_killed_mid_run_leaves_nothing_twice() {
    let expected = reference().await;
    let shop = shop(None).await;
    shop.erp.set_faults(erpnext::Faults {
        latency_ms: 3,
        ..Default::default()
    });
    let mut victim = shop
        .command(&["sync", "orders", "--connection", "shop"])
        .spawn()
        .unwrap();
    let survivor = shop.run(&["sync", "orders", "--connection", "shop"]);
    let killer = async {
        // Killed once it is well under way: some Sales Orders made, many not.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while shop.erp.count("Sales Order") < 10 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "no progress to kill"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        victim.start_kill().unwrap();
        victim.wait().await.unwrap()
    };
    let (killed, (code, output)) = tokio::join!(killer, survivor);
    assert!(!killed.success(), "the victim was killed: {killed:?}");
    assert!(code == 0 || code == 3, "{output}");
    shop.converge().await;
    assert_eq!(shop.documents().await, expected, "after a kill -9");
}

/// A `serve` process on the shop's database, with short leases so a dead instance's jobs are
/// taken over within seconds.
struct Instance {
    child: tokio::process::Child,
    address: std::net::SocketAddr,
    /// How its job claims name it ends with this.
    claim_suffix: String,
}

impl Instance {
    async fn start(shop: &Shop) -> Instance {
        use tokio::io::AsyncBufReadExt;
        let mut child = shop
            .command(&[
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--workers",
                "3",
                "--poll-interval",
                "1s",
                "--job-lease",
                "2s",
            ])
            .env(
                "WOOCOMMERCE_SYNC_ADMIN_PASSWORD",
                "instances-admin-password",
            )
            .spawn()
            .unwrap();
        let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
        let address = tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if let Some(rest) = line.split("serving on http://").nth(1) {
                    return rest.split('/').next().unwrap().parse().unwrap();
                }
            }
            panic!("serve ended before it listened");
        })
        .await
        .expect("serve listens within a minute");
        // Keep reading what it says, so a full pipe never stalls it.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let claim_suffix = format!(" pid {}", child.id().unwrap());
        Instance {
            child,
            address,
            claim_suffix,
        }
    }

    fn claimed(&self, job: &woocommerce_sync::store::Job) -> bool {
        job.claimed_by
            .as_deref()
            .is_some_and(|by| by.ends_with(&self.claim_suffix))
    }

    /// Delivers an order as WooCommerce does (signed `order.created`); answers the status.
    async fn deliver(&self, http: &reqwest::Client, order: &Value) -> u16 {
        let body = serde_json::to_vec(order).unwrap();
        let headers = woocommerce_sync::woocommerce::webhook::WebhookHeaders {
            topic: "order.created".into(),
            resource: "order".into(),
            event: "created".into(),
            webhook_id: 1,
            delivery_id: format!("{:032x}", order["id"].as_u64().unwrap()),
            source: "http://shop.example/".into(),
            signature: woocommerce_sync::woocommerce::webhook::signature(
                woocommerce::TEST_WEBHOOK_SECRET,
                &body,
            ),
        };
        let mut request = http
            .post(format!("http://{}/webhooks/woocommerce/shop", self.address))
            .header("Content-Type", "application/json");
        for (name, value) in headers.to_pairs() {
            request = request.header(name, value);
        }
        request.body(body).send().await.unwrap().status().as_u16()
    }
}

/// Two `serve` instances share one PostgreSQL database: webhooks arrive at both (some orders at
/// both), one instance is killed (-9) while it runs jobs; the survivor takes over the dead one's
/// jobs once their lease runs out, the scheduled polls of the two never overlap, and every
/// document exists exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_serve_instances_share_the_work_and_finish_a_killed_ones_jobs() {
    let Some(admin) = postgres_admin_url() else {
        return;
    };
    let expected = reference().await;
    let shop = shop(Some(fresh_postgres_database(&admin, "serve").await)).await;
    shop.erp.set_faults(erpnext::Faults {
        latency_ms: 25,
        ..Default::default()
    });
    let mut victim = Instance::start(&shop).await;
    let survivor = Instance::start(&shop).await;

    let http = reqwest::Client::new();
    let orders = shop.woo.orders();
    let deliveries = orders.iter().enumerate().flat_map(|(index, order)| {
        let first = if index % 2 == 0 { &victim } else { &survivor };
        let second = (index % 3 == 0).then_some(if index % 2 == 0 { &survivor } else { &victim });
        std::iter::once(first)
            .chain(second)
            .map(|instance| instance.deliver(&http, order))
    });
    let answers: Vec<u16> = futures::stream::iter(deliveries)
        .buffer_unordered(8)
        .collect()
        .await;
    assert!(answers.iter().all(|status| *status == 200), "{answers:?}");

    let store = Store::open(
        &shop.database,
        woocommerce_sync::secrets::SecretKey::from_base64(KEY).unwrap(),
    )
    .await
    .unwrap();
    let connection_id = store.connection("shop").await.unwrap().id;
    let running = || async {
        store
            .jobs_in_state(connection_id, JobState::Running)
            .await
            .unwrap()
    };
    // Killed while it runs jobs, with the shop well under way.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let victims_jobs = running()
            .await
            .iter()
            .filter(|job| victim.claimed(job))
            .count();
        if victims_jobs > 0 && shop.erp.count("Sales Order") >= 10 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the instance to kill never ran a job"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    victim.child.start_kill().unwrap();
    victim.child.wait().await.unwrap();
    let orphans: Vec<i64> = running()
        .await
        .iter()
        .filter(|job| victim.claimed(job))
        .map(|job| job.id)
        .collect();
    assert!(
        !orphans.is_empty(),
        "the victim died in the middle of a job"
    );

    // The survivor drains the queue, the dead instance's jobs included, and keeps polling.
    let mut polls = BTreeMap::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(poll) = woocommerce_sync::jobs::last_poll(&store, connection_id)
            .await
            .unwrap()
        {
            polls.insert(poll.at, poll.duration_ms);
        }
        let jobs = store.jobs_of_kind(connection_id, "order").await.unwrap();
        let drained =
            jobs.len() == orders.len() && jobs.iter().all(|job| job.state == JobState::Done);
        if drained && polls.len() >= 3 {
            let mut every_job = Vec::new();
            // Every kind a serve instance runs: the victim may die in any of them.
            for kind in [
                "order",
                "poll",
                "poll_erpnext",
                "sales_order_status",
                "push_stock",
                "push_prices",
                "link_products",
            ] {
                every_job.extend(store.jobs_of_kind(connection_id, kind).await.unwrap());
            }
            for id in &orphans {
                let job = every_job
                    .iter()
                    .find(|job| job.id == *id)
                    .unwrap_or_else(|| {
                        panic!("the killed instance's job {id} is of no known kind")
                    });
                assert!(
                    survivor.claimed(job),
                    "the killed instance's job {id} was taken over by the survivor: {job:?}"
                );
            }
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the survivor did not drain the queue within 2 minutes: {:?}",
            jobs.iter()
                .filter(|job| job.state != JobState::Done)
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // One scheduled poll per connection at a time: each seen poll started after the one
    // before it had finished.
    let spans: Vec<_> = polls
        .iter()
        .map(|(end, ms)| (*end - chrono::Duration::milliseconds(*ms as i64), *end))
        .collect();
    for pair in spans.windows(2) {
        assert!(pair[1].0 >= pair[0].1, "two polls overlapped: {pair:?}");
    }
    eprintln!(
        "{} of the killed instance's jobs taken over; {} polls seen, none overlapping",
        orphans.len(),
        polls.len()
    );
    drop(survivor);
    store.close().await;
    assert_eq!(
        shop.documents().await,
        expected,
        "two instances, one killed mid-job"
    );
}

fn postgres_admin_url() -> Option<String> {
    match std::env::var("WOOCOMMERCE_SYNC_TEST_POSTGRES") {
        Ok(url) => Some(url),
        Err(_) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must run the PostgreSQL half: set WOOCOMMERCE_SYNC_TEST_POSTGRES (.ci/run does)"
            );
            eprintln!(
                "note: WOOCOMMERCE_SYNC_TEST_POSTGRES is not set; the PostgreSQL half was skipped"
            );
            None
        }
    }
}

/// A new, empty database on the test server; answers its URL.
async fn fresh_postgres_database(admin_url: &str, label: &str) -> String {
    let database = format!("wcs_procs_{label}_{}", std::process::id());
    let mut admin = sqlx::PgConnection::connect(admin_url).await.unwrap();
    sqlx::query(&format!("DROP DATABASE IF EXISTS {database}"))
        .execute(&mut admin)
        .await
        .unwrap();
    sqlx::query(&format!("CREATE DATABASE {database}"))
        .execute(&mut admin)
        .await
        .unwrap();
    let mut url = url::Url::parse(admin_url).unwrap();
    url.set_path(&database);
    url.to_string()
}
