//! The store story: every store method, in the order a running service uses
//! them, against SQLite and against a real PostgreSQL server.
//!
//! PostgreSQL runs when `WOOCOMMERCE_SYNC_TEST_POSTGRES` names a server (an
//! admin URL; the test creates and drops its own database). In CI it must run.

use chrono::{Duration, Utc};
use rust_decimal::Decimal;
use sqlx::Connection as _;
use woocommerce_sync::connection::{
    Connection, Credentials, InvoiceTrigger, Mappings, MissingSkuRule, PaymentTarget,
    ShippingTarget, WooAuth,
};
use woocommerce_sync::secrets::SecretKey;
use woocommerce_sync::store::{
    InboxOutcome, JobScope, JobState, Link, LogEntry, LogFilter, LogOutcome, ProductLink, Store,
    StoreError, WooWriteBack,
};

fn sample_connection(name: &str) -> Connection {
    let mut mappings = Mappings::default();
    mappings.tax_accounts.insert(1, "ST 6.25% - TC".into());
    mappings.shipping_methods.insert(
        "flat_rate".into(),
        ShippingTarget::Account("Freight and Forwarding Charges - TC".into()),
    );
    mappings.payment_methods.insert(
        "stripe".into(),
        PaymentTarget {
            mode_of_payment: "Credit Card".into(),
            account: Some("Cash - TC".into()),
            fee_account: None,
        },
    );
    mappings
        .status_to_woocommerce
        .insert("Completed".into(), "completed".into());
    mappings
        .status_from_woocommerce
        .insert("cancelled".into(), "cancel".into());
    Connection {
        name: name.into(),
        woocommerce_url: "https://shop.example.test".parse().unwrap(),
        woocommerce_auth: WooAuth::Auto,
        erpnext_url: "https://erp.example.test".parse().unwrap(),
        credentials: Credentials {
            consumer_key: "ck_story_key_0123456789".into(),
            consumer_secret: "cs_story_secret_PLAINTEXT_MARKER".into(),
            webhook_secret: "wh_story_secret_PLAINTEXT_MARKER".into(),
            api_key: "api_story_key_0123".into(),
            api_secret: "api_story_secret_PLAINTEXT_MARKER".into(),
        },
        company: "Test Company".into(),
        default_warehouse: "Stores - TC".into(),
        naming_series: "SAL-ORD-.YYYY.-".into(),
        customer_group: "Individual".into(),
        territory: "All Territories".into(),
        price_list: "Standard Selling".into(),
        item_group: "Products".into(),
        stock_uom: "Nos".into(),
        delivery_lead_days: 3,
        imported_statuses: vec!["processing".into(), "completed".into()],
        invoice_trigger: InvoiceTrigger::Paid,
        submit_invoices: true,
        record_payments: false,
        rounding_tolerance: Decimal::new(1, 2),
        auto_create_items: true,
        missing_sku: MissingSkuRule::UseItem("WOO-MISC".into()),
        default_tax_account: Some("ST 4% - TC".into()),
        shipping_account: None,
        fee_account: Some("Miscellaneous Expenses - TC".into()),
        rounding_account: None,
        mappings,
    }
}

fn link_amount(woo_id: &str, links: &[Link]) -> Option<Decimal> {
    links
        .iter()
        .find(|link| link.woo_id == woo_id)
        .and_then(|link| link.amount)
}

fn test_key(byte: u8) -> SecretKey {
    use base64::Engine;
    SecretKey::from_base64(&base64::engine::general_purpose::STANDARD.encode([byte; 32])).unwrap()
}

async fn story(store: Store) {
    // Connections: insert, duplicate refused, read back every field, update, list.
    let connection = sample_connection("main-shop");
    let id = store.insert_connection(&connection).await.unwrap();
    match store.insert_connection(&connection).await {
        Err(StoreError::Duplicate(message)) => {
            assert!(message.contains("already exists"), "{message}")
        }
        other => panic!("duplicate name accepted: {other:?}"),
    }
    let stored = store.connection("main-shop").await.unwrap();
    assert_eq!(stored.id, id);
    assert_eq!(stored.connection, connection);
    let mut edited = connection.clone();
    edited.delivery_lead_days = 5;
    edited.credentials.api_secret = "rotated".into();
    store.update_connection(&edited).await.unwrap();
    assert_eq!(store.connection_by_id(id).await.unwrap().connection, edited);
    let other_id = store
        .insert_connection(&sample_connection("second-shop"))
        .await
        .unwrap();
    let names: Vec<_> = store
        .connections()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.connection.name)
        .collect();
    assert_eq!(names, ["main-shop", "second-shop"]);
    assert!(matches!(
        store.connection("nope").await,
        Err(StoreError::NotFound(_))
    ));

    // Inbox: a delivery is committed once; the same content again is a duplicate.
    let body = r#"{"id":727,"status":"processing"}"#;
    let first = store
        .record_inbound(id, "woocommerce", "order.updated", "727", body)
        .await
        .unwrap();
    let InboxOutcome::New(event_id) = first else {
        panic!("first delivery not new")
    };
    assert_eq!(
        store
            .record_inbound(id, "woocommerce", "order.updated", "727", body)
            .await
            .unwrap(),
        InboxOutcome::Duplicate
    );
    assert!(matches!(
        store
            .record_inbound(other_id, "woocommerce", "order.updated", "727", body)
            .await
            .unwrap(),
        InboxOutcome::New(_)
    ));
    let pending = store.unprocessed_inbound(10).await.unwrap();
    assert_eq!(pending.len(), 2);
    assert_eq!(pending[0].body, body);
    store.mark_inbound_processed(event_id).await.unwrap();
    assert_eq!(store.unprocessed_inbound(10).await.unwrap().len(), 1);

    // Jobs: coalesced per object, claimed with a lease, completed, rerun, failed.
    let now = Utc::now();
    store.enqueue_job(id, "order", "727", now).await.unwrap();
    store
        .enqueue_job(id, "order", "727", now + Duration::seconds(60))
        .await
        .unwrap();
    store
        .enqueue_job(id, "order", "728", now + Duration::seconds(3600))
        .await
        .unwrap();
    assert_eq!(store.pending_job_count().await.unwrap(), 2);
    let job = store
        .claim_job(Duration::seconds(30), &JobScope::default())
        .await
        .unwrap()
        .expect("a due job");
    assert_eq!(
        (job.object_id.as_str(), job.attempts, job.state),
        ("727", 1, JobState::Running)
    );
    assert!(
        store
            .claim_job(Duration::seconds(30), &JobScope::default())
            .await
            .unwrap()
            .is_none(),
        "728 is not due, 727 is leased"
    );
    // An event during the run makes the job run again after it completes.
    store.enqueue_job(id, "order", "727", now).await.unwrap();
    store.complete_job(job.id).await.unwrap();
    let again = store
        .claim_job(Duration::seconds(30), &JobScope::default())
        .await
        .unwrap()
        .expect("rerun queued");
    assert_eq!(again.id, job.id);
    store
        .fail_job(
            again.id,
            "ERPNext answered 503",
            Some(Utc::now() - Duration::seconds(1)),
        )
        .await
        .unwrap();
    let retried = store
        .claim_job(Duration::seconds(30), &JobScope::default())
        .await
        .unwrap()
        .expect("retry due");
    assert_eq!(retried.attempts, 2);
    store
        .fail_job(retried.id, "Item NO-SKU not found", None)
        .await
        .unwrap();
    let failed = store.jobs_in_state(id, JobState::Failed).await.unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(
        failed[0].last_error.as_deref(),
        Some("Item NO-SKU not found")
    );
    // A crashed worker's lease expires and the job is claimable again.
    store.enqueue_job(id, "order", "729", now).await.unwrap();
    let leased = store
        .claim_job(Duration::milliseconds(-1), &JobScope::default())
        .await
        .unwrap()
        .expect("729 due");
    let reclaimed = store
        .claim_job(Duration::seconds(30), &JobScope::default())
        .await
        .unwrap()
        .expect("expired lease");
    assert_eq!(reclaimed.id, leased.id);
    store.complete_job(reclaimed.id).await.unwrap();
    assert_eq!(
        store.jobs_in_state(id, JobState::Done).await.unwrap().len(),
        1
    );

    // Links: unique per object and doctype; an update replaces the name.
    let link = Link {
        connection_id: id,
        woo_kind: "order".into(),
        woo_id: "727".into(),
        erp_doctype: "Sales Order".into(),
        erp_name: "SAL-ORD-2026-00001".into(),
        fingerprint: Some("abc".into()),
        amount: Some("54.38".parse().unwrap()),
    };
    store.put_link(&link).await.unwrap();
    store
        .put_link(&Link {
            fingerprint: Some("def".into()),
            ..link.clone()
        })
        .await
        .unwrap();
    let read = store
        .link(id, "order", "727", "Sales Order")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.fingerprint.as_deref(), Some("def"));
    assert_eq!(read.amount, Some("54.38".parse().unwrap()));
    assert!(store
        .link(other_id, "order", "727", "Sales Order")
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        store.links(id, "order", "Sales Order").await.unwrap().len(),
        1
    );

    // Links in bulk: one statement per hundred, upserts included.
    let bulk: Vec<Link> = (0..150)
        .map(|n| Link {
            woo_id: format!("bulk-{n}"),
            erp_name: format!("SO-{n}"),
            ..link.clone()
        })
        .collect();
    store.put_links(&bulk).await.unwrap();
    store.put_links(&bulk[140..]).await.unwrap();
    let ids: Vec<String> = (0..150).map(|n| format!("bulk-{n}")).collect();
    let read_back = store
        .links_for(id, "order", "Sales Order", &ids)
        .await
        .unwrap();
    assert_eq!(read_back.len(), 150);
    assert!(read_back
        .iter()
        .all(|link| link.amount == link_amount(&link.woo_id, &bulk)));

    // Sync log: appended, filtered by outcome and object, newest first.
    for (attempt, outcome) in [(1, LogOutcome::Failed), (2, LogOutcome::Ok)] {
        store
            .append_log(&LogEntry {
                connection_id: id,
                direction: "woocommerce_to_erpnext".into(),
                object_kind: "order".into(),
                object_id: "727".into(),
                order_id: Some("727".into()),
                action: "create_sales_order".into(),
                outcome,
                message: format!("attempt {attempt}"),
                request_excerpt: Some("{\"customer\":\"Ada\"}".into()),
                response_excerpt: None,
                duration_ms: 12,
                attempt,
            })
            .await
            .unwrap();
    }
    let all = store
        .query_log(&LogFilter {
            connection_id: Some(id),
            ..LogFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(
        all.iter().map(|r| r.entry.attempt).collect::<Vec<_>>(),
        [2, 1]
    );
    // "Failed" means failing now: order 727 failed, then succeeded.
    let failed_now = |store: Store| async move {
        store
            .query_log(&LogFilter {
                failed_only: true,
                ..LogFilter::default()
            })
            .await
            .unwrap()
    };
    assert!(failed_now(store.clone()).await.is_empty());
    store
        .append_log(&LogEntry {
            connection_id: id,
            direction: "woocommerce_to_erpnext".into(),
            object_kind: "order".into(),
            object_id: "728".into(),
            order_id: Some("728".into()),
            action: "create_sales_order".into(),
            outcome: LogOutcome::Failed,
            message: "no account for tax rate 4".into(),
            request_excerpt: None,
            response_excerpt: None,
            duration_ms: 3,
            attempt: 1,
        })
        .await
        .unwrap();
    let failed = failed_now(store.clone()).await;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].entry.object_id, "728");
    let none = store
        .query_log(&LogFilter {
            object_id: Some("999".into()),
            ..LogFilter::default()
        })
        .await
        .unwrap();
    assert!(none.is_empty());

    // Cursors.
    assert_eq!(store.cursor(id, "orders").await.unwrap(), None);
    store
        .set_cursor(id, "orders", "2026-11-26T22:26:46")
        .await
        .unwrap();
    store
        .set_cursor(id, "orders", "2026-11-27T00:00:00")
        .await
        .unwrap();
    assert_eq!(
        store.cursor(id, "orders").await.unwrap().as_deref(),
        Some("2026-11-27T00:00:00")
    );

    // What the service's pages and health checks read.
    store.ping().await.unwrap();
    assert_eq!(
        store.count_links(id, "order", "Sales Order").await.unwrap(),
        151
    );
    let recent = store
        .recent_links(id, "order", "Sales Order", 5)
        .await
        .unwrap();
    assert_eq!(recent.len(), 5);
    assert!(recent[0].woo_id.starts_with("bulk-14"), "{recent:?}");
    assert_eq!(
        store
            .links_for_object(id, "order", "727")
            .await
            .unwrap()
            .len(),
        1
    );
    let hours = store
        .log_counts_by_hour(id, Utc::now() - Duration::hours(2))
        .await
        .unwrap();
    assert_eq!(
        (
            hours.iter().map(|hour| hour.succeeded).sum::<i64>(),
            hours.iter().map(|hour| hour.failed).sum::<i64>()
        ),
        (1, 2),
        "727's failure and success, 728's failure"
    );
    assert_eq!(hours[0].hour.len(), "2026-11-27T00".len());
    let events = store.recent_inbound(id, 10).await.unwrap();
    assert!(events.iter().all(|event| event.connection_id == id));
    assert_eq!(events[0].object_id, "727");
    for state in [JobState::Queued, JobState::Done, JobState::Failed] {
        assert_eq!(
            store.count_jobs(id, state).await.unwrap(),
            store.jobs_in_state(id, state).await.unwrap().len() as i64
        );
    }

    // Write-backs to the shop: none, then one recorded, replaced, read back whole.
    assert_eq!(store.woo_write_back(id, 727).await.unwrap(), None);
    let mut written = WooWriteBack {
        connection_id: id,
        order_id: 727,
        sales_order: "SAL-ORD-2026-00001".into(),
        status: Some("processing".into()),
        woo_modified: chrono::NaiveDate::from_ymd_opt(2026, 11, 27)
            .and_then(|day| day.and_hms_opt(10, 30, 5)),
        ..WooWriteBack::default()
    };
    written
        .notes
        .insert("so:SAL-ORD-2026-00001:status:To Deliver".into());
    store.put_woo_write_back(&written).await.unwrap();
    written.status = Some("completed".into());
    written
        .meta
        .insert("erpnext_delivery_note".into(), "MAT-DN-2026-00001".into());
    written
        .notes
        .insert("dn:MAT-DN-2026-00001:submitted".into());
    store.put_woo_write_back(&written).await.unwrap();
    assert_eq!(store.woo_write_back(id, 727).await.unwrap(), Some(written));
    assert_eq!(store.woo_write_back(other_id, 727).await.unwrap(), None);

    // Orders born in ERPNext: pending before the create (a second start keeps the first's
    // time), finished with the shop order's id, never turned back into a pending one.
    assert_eq!(
        store.erpnext_order(id, "SAL-ORD-2026-00009").await.unwrap(),
        None
    );
    let pending = store
        .start_erpnext_order(id, "SAL-ORD-2026-00009")
        .await
        .unwrap();
    assert_eq!(pending.order_id, None);
    let again = store
        .start_erpnext_order(id, "SAL-ORD-2026-00009")
        .await
        .unwrap();
    assert_eq!(again, pending);
    store
        .finish_erpnext_order(id, "SAL-ORD-2026-00009", 1166)
        .await
        .unwrap();
    let finished = store
        .start_erpnext_order(id, "SAL-ORD-2026-00009")
        .await
        .unwrap();
    assert_eq!(
        (finished.order_id, finished.started_at),
        (Some(1166), pending.started_at)
    );
    assert_eq!(
        store
            .erpnext_order(other_id, "SAL-ORD-2026-00009")
            .await
            .unwrap(),
        None
    );
    // Product links: replaced whole, what was pushed kept for a link that did not change, an
    // order synced meanwhile no longer counted as sold-but-unreserved.
    let product_link = |code: &str, product: u64, variation: u64| ProductLink {
        item_code: code.into(),
        product_id: product,
        variation_id: variation,
        is_stock_item: true,
        pushed_stock: None,
        pushed_prices: None,
    };
    store
        .replace_product_links(
            id,
            &[product_link("MUG", 10, 0), product_link("TEE-S", 11, 12)],
        )
        .await
        .unwrap();
    store
        .record_pushed_stock(id, &[("MUG".into(), Decimal::from(7))])
        .await
        .unwrap();
    store
        .record_pushed_prices(id, &[("TEE-S".into(), "{\"regular\":\"9\"}".into())])
        .await
        .unwrap();
    store
        .replace_product_links(
            id,
            &[product_link("MUG", 10, 0), product_link("TEE-S", 11, 13)],
        )
        .await
        .unwrap();
    store
        .add_product_links(
            id,
            &[product_link("MUG", 99, 0), product_link("CAP", 14, 0)],
        )
        .await
        .unwrap();
    let links = store.product_links(id).await.unwrap();
    assert_eq!(links.len(), 3);
    assert_eq!(links[0].item_code, "CAP");
    assert_eq!(
        (links[1].product_id, links[1].pushed_stock),
        (10, Some(Decimal::from(7)))
    );
    assert_eq!(
        (links[2].variation_id, links[2].pushed_prices.as_deref()),
        (13, None)
    );
    assert!(store.product_links(other_id).await.unwrap().is_empty());
    let sold = r#"{"id": 727, "status": "processing", "line_items": []}"#;
    let unsynced = store.orders_without_sales_order(id).await.unwrap();
    assert!(
        unsynced.iter().all(|(order, _)| order != "727"),
        "{unsynced:?}"
    );
    store
        .record_inbound(id, "woocommerce", "order.updated", "9999", sold)
        .await
        .unwrap();
    let unsynced = store.orders_without_sales_order(id).await.unwrap();
    assert!(unsynced
        .iter()
        .any(|(order, body)| order == "9999" && body == sold));

    // Refused webhooks are counted per source and reason, from the first to the last, and an
    // accepted delivery of that source clears them.
    let first: chrono::DateTime<chrono::Utc> = "2026-12-05T09:14:00Z".parse().unwrap();
    let last: chrono::DateTime<chrono::Utc> = "2026-12-05T09:20:00Z".parse().unwrap();
    for at in [first, first, last] {
        store
            .record_webhook_rejection(id, "erpnext", "no_secret", at)
            .await
            .unwrap();
    }
    store
        .record_webhook_rejection(id, "woocommerce", "signature", last)
        .await
        .unwrap();
    let refused = store.webhook_rejections(id).await.unwrap();
    assert_eq!(refused.len(), 2);
    assert_eq!(
        (
            refused[0].source.as_str(),
            refused[0].reason.as_str(),
            refused[0].refused
        ),
        ("erpnext", "no_secret", 3)
    );
    assert_eq!((refused[0].first_at, refused[0].last_at), (first, last));
    assert!(store.webhook_rejections(other_id).await.unwrap().is_empty());
    store.clear_webhook_rejections(id, "erpnext").await.unwrap();
    let refused = store.webhook_rejections(id).await.unwrap();
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].source, "woocommerce");

    // Removing a connection removes what was recorded for it.
    store.delete_connection("main-shop").await.unwrap();
    assert!(store.product_links(id).await.unwrap().is_empty());
    assert!(store.webhook_rejections(id).await.unwrap().is_empty());
    assert_eq!(store.woo_write_back(id, 727).await.unwrap(), None);
    assert_eq!(
        store.erpnext_order(id, "SAL-ORD-2026-00009").await.unwrap(),
        None
    );
    assert!(store
        .link(id, "order", "727", "Sales Order")
        .await
        .unwrap()
        .is_none());
    assert!(store
        .query_log(&LogFilter {
            connection_id: Some(id),
            ..LogFilter::default()
        })
        .await
        .unwrap()
        .is_empty());
    assert!(matches!(
        store.delete_connection("main-shop").await,
        Err(StoreError::NotFound(_))
    ));
    store.close().await;
}

#[tokio::test]
async fn store_story_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("story.db").display());
    story(Store::open(&url, test_key(b'A')).await.unwrap()).await;
}

#[tokio::test]
async fn store_story_on_postgres() {
    let Ok(admin_url) = std::env::var("WOOCOMMERCE_SYNC_TEST_POSTGRES") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run the PostgreSQL half: set WOOCOMMERCE_SYNC_TEST_POSTGRES (.ci/run does)"
        );
        eprintln!(
            "note: WOOCOMMERCE_SYNC_TEST_POSTGRES is not set; the PostgreSQL half was skipped"
        );
        return;
    };
    let database = format!("wcs_story_{}", std::process::id());
    let mut admin = sqlx::PgConnection::connect(&admin_url)
        .await
        .expect("reach PostgreSQL");
    sqlx::query(&format!("DROP DATABASE IF EXISTS {database}"))
        .execute(&mut admin)
        .await
        .unwrap();
    sqlx::query(&format!("CREATE DATABASE {database}"))
        .execute(&mut admin)
        .await
        .unwrap();
    let mut url = url::Url::parse(&admin_url).unwrap();
    url.set_path(&database);
    let store = Store::open(url.as_str(), test_key(b'B')).await.unwrap();
    story(store).await;
    sqlx::query(&format!("DROP DATABASE {database}"))
        .execute(&mut admin)
        .await
        .unwrap();
}

#[tokio::test]
async fn no_secret_is_stored_in_plain_text() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("secrets.db").display());
    let store = Store::open(&url, test_key(b'C')).await.unwrap();
    store
        .insert_connection(&sample_connection("shop"))
        .await
        .unwrap();
    // The database and its companions are the owner's alone, like the key file.
    #[cfg(unix)]
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        use std::os::unix::fs::PermissionsExt;
        let entry = entry.unwrap();
        let mode = entry.metadata().unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{:?} is mode {mode:o}", entry.file_name());
    }
    store.close().await;
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        bytes.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    let text = String::from_utf8_lossy(&bytes);
    assert!(
        text.contains("Freight and Forwarding Charges - TC"),
        "settings are stored in the file read"
    );
    for secret in [
        "cs_story_secret",
        "wh_story_secret",
        "api_story_secret",
        "ck_story_key",
        "api_story_key",
    ] {
        assert!(
            !text.contains(secret),
            "{secret} is readable in the database file"
        );
    }
    // Another key cannot read the credentials back, and says so.
    let wrong = Store::open(&url, test_key(b'D')).await.unwrap();
    let error = wrong.connection("shop").await.unwrap_err().to_string();
    assert!(
        error.contains(
            "cannot read connection `shop`: its secrets were written with another secret key"
        ),
        "{error}"
    );
    assert!(!error.contains("damaged"), "{error}");
}
