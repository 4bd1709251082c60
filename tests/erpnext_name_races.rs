//! ERPNext names a Customer after the buyer (`Ada Lovelace`, then `Ada Lovelace - 1`…) and an
//! Address after its title. Two buyers of one name inserted at once both pick the same free
//! name, and the loser is refused whole with a 409 `DuplicateEntryError` (seen on the lab about
//! once per 300-order sync). The sync inserts such a master again instead of failing the order.

mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use common::spawn_world;
use woocommerce_sync::simulators::woocommerce::WooSimOptions;

/// The body the lab answered when two Customers of one name were inserted at once (traceback
/// left out).
const NAME_TAKEN: &str = r#"{"exception": "frappe.exceptions.DuplicateEntryError: ('Customer', 'Ada Lovelace - 1', IntegrityError(1062, \"Duplicate entry 'Ada Lovelace - 1' for key 'PRIMARY'\"))", "exc_type": "DuplicateEntryError", "_server_messages": "[\"{\\\"message\\\": \\\"Customer <strong>Ada Lovelace - 1</strong> already exists\\\", \\\"title\\\": \\\"Duplicate Name\\\", \\\"indicator\\\": \\\"red\\\"}\"]"}"#;

/// Forwards everything to the ERPNext simulator, except that the first `refuse` inserts of
/// `doctype` lose a name race.
async fn start_racing_proxy(target: url::Url, doctype: &'static str, refuse: u32) -> url::Url {
    let refused = Arc::new(AtomicU32::new(0));
    let http = reqwest::Client::new();
    let router = axum::Router::new().fallback(
        move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let (refused, http, target) = (refused.clone(), http.clone(), target.clone());
            async move {
                let path = format!("/api/resource/{}", doctype.replace(' ', "%20"));
                if method == Method::POST
                    && uri.path() == path
                    && refused.fetch_add(1, Ordering::SeqCst) < refuse
                {
                    return (StatusCode::CONFLICT, NAME_TAKEN).into_response();
                }
                let url = target
                    .join(&uri.to_string()[1..])
                    .expect("a URL on the simulator");
                let mut request = http.request(method, url).body(body);
                for name in ["authorization", "content-type", "accept"] {
                    if let Some(value) = headers.get(name) {
                        request = request.header(name, value);
                    }
                }
                let answer = request.send().await.expect("the simulator answers");
                let status = StatusCode::from_u16(answer.status().as_u16()).unwrap();
                let text = answer.text().await.unwrap_or_default();
                Response::builder()
                    .status(status)
                    .header("content-type", "application/json")
                    .body(axum::body::Body::from(text))
                    .unwrap()
            }
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    format!("http://{address}/").parse().unwrap()
}

async fn sync_through_race(doctype: &'static str, refuse: u32) -> (u64, u64, u64) {
    let world = spawn_world(WooSimOptions {
        orders: 30,
        seed_random: 3,
        ..WooSimOptions::default()
    })
    .await;
    let proxy = start_racing_proxy(world.erp.base_url().clone(), doctype, refuse).await;
    let mut connection = world.connection.connection.clone();
    connection.erpnext_url = proxy;
    world.store.update_connection(&connection).await.unwrap();
    let stored = world.store.connection("shop").await.unwrap();
    let ctx = woocommerce_sync::sync::context::ConnectionContext::prepare(
        world.store.clone(),
        stored,
        &common::fast_calls(),
        4,
    )
    .await
    .unwrap();
    let summary = woocommerce_sync::sync::woo_to_erp::orders::OrderFlow::new(&ctx)
        .poll(None, &|_, _| {})
        .await
        .unwrap();
    assert_eq!(summary.failed, 0, "{:#?}", summary.failures);
    let inserts = ctx.erp.calls_by_kind()[&format!("insert {doctype}")];
    (summary.created, inserts.calls, inserts.failed)
}

#[tokio::test]
async fn a_customer_that_lost_a_name_race_is_inserted_again() {
    let (created, calls, failed) = sync_through_race("Customer", 2).await;
    assert!(created > 10, "{created}");
    assert_eq!(failed, 2, "the two lost races, then success");
    assert!(calls > failed);
}

#[tokio::test]
async fn an_address_that_lost_a_name_race_is_inserted_again() {
    let (created, _, failed) = sync_through_race("Address", 1).await;
    assert!(created > 10, "{created}");
    assert_eq!(failed, 1);
}
