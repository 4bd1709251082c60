//! Real-system tier, WooCommerce: the same listing scenario against the simulator and the real
//! store (see `tests/real_pair`). Skipped, and said so, when the real store is not configured.

mod real_pair;

use std::collections::BTreeSet;

use chrono::{Duration as ChronoDuration, Utc};
use futures::StreamExt;
use serde_json::json;
use woocommerce_sync::simulators::woocommerce::{self as woo_sim, WooSimOptions};
use woocommerce_sync::woocommerce::{AuthMode, OrderBy, OrderQuery, WooClient, WooConfig};

/// One side of a differential run: a client and a way to make orders.
struct Shop {
    name: &'static str,
    client: WooClient,
    product_id: u64,
    _sim: Option<woo_sim::WooSimHandle>,
}

async fn simulated_shop() -> Shop {
    let sim = woo_sim::start(WooSimOptions {
        orders: 1,
        ..WooSimOptions::default()
    })
    .await
    .unwrap();
    let mut config = WooConfig::new(
        sim.base_url(),
        woo_sim::TEST_CONSUMER_KEY,
        woo_sim::TEST_CONSUMER_SECRET,
    );
    config.auth = AuthMode::Basic;
    let product_id = sim
        .products()
        .into_iter()
        .find(|product| product["type"] == "simple")
        .and_then(|product| product["id"].as_u64())
        .unwrap();
    Shop {
        name: "simulator",
        client: WooClient::new(config).unwrap(),
        product_id,
        _sim: Some(sim),
    }
}

async fn real_shop(real: &real_pair::RealWooCommerce) -> Shop {
    let client = real.client();
    let product_id = real_pair::ensure_simple_product(&client, "WSYNC-RT-MUG", "12.50").await;
    Shop {
        name: "real store",
        client,
        product_id,
        _sim: None,
    }
}

/// Makes `count` orders at once (four in flight), so many share their `date_modified` second.
async fn make_tied_orders(shop: &Shop, count: usize) -> BTreeSet<u64> {
    let tag = real_pair::run_tag();
    futures::stream::iter(0..count)
        .map(|index| {
            let body = json!({
                "status": "processing",
                "billing": {"first_name": "Tie", "last_name": format!("{tag} {index}"),
                            "email": format!("tie.{tag}.{index}@example.test"),
                            "address_1": "1 Same St", "city": "Sacramento", "state": "CA",
                            "postcode": "95814", "country": "US"},
                "line_items": [{"product_id": shop.product_id, "quantity": 1}]
            });
            async move { shop.client.create_order(&body).await.unwrap().id }
        })
        .buffer_unordered(4)
        .collect()
        .await
}

/// Every id of a listing, page by page (`per_page` small, so many boundaries fall inside ties).
async fn list_ids(client: &WooClient, query: &OrderQuery) -> Vec<u64> {
    client
        .list_all_orders(query)
        .await
        .unwrap()
        .iter()
        .map(|order| order.id)
        .collect()
}

/// The same story on both: orders made at once share seconds; listed by `modified` in small pages
/// the ties may fall differently on each page, so some orders come twice and some never; listed by
/// id over the same window, each comes exactly once.
///
/// Whether the real store's pages split ties depends on MariaDB's plan: a small table is sorted
/// with an unstable filesort (seen on the lab's fresh store: 3 of 109 orders twice, 3 never), a
/// larger one is read in index order, which happens to be stable. So the simulator must always
/// split ties (it is the harder of the two), while on the real store the split is only reported;
/// the listing the product uses must be exact on both either way.
async fn tied_orders_story(shop: Shop, must_split_ties: bool) {
    let start = (Utc::now() - ChronoDuration::seconds(2)).naive_utc();
    let ours = make_tied_orders(&shop, 30).await;
    let end = (Utc::now() + ChronoDuration::seconds(2)).naive_utc();

    let mut unstable = 0;
    for per_page in [2, 3, 4, 5, 7] {
        let query = OrderQuery {
            modified_after: Some(start),
            modified_before: Some(end),
            orderby: OrderBy::Modified,
            ascending: true,
            per_page,
            ..OrderQuery::default()
        };
        let listed = list_ids(&shop.client, &query).await;
        let distinct: BTreeSet<u64> = listed.iter().copied().collect();
        if distinct.len() < listed.len() || !ours.is_subset(&distinct) {
            unstable += 1;
        }
    }
    if must_split_ties {
        assert!(
            unstable > 0,
            "{}: pages ordered by `modified` should repeat or miss tied orders in at least one of five page sizes",
            shop.name
        );
    } else {
        eprintln!(
            "{}: pages ordered by `modified` split ties in {unstable} of five page sizes",
            shop.name
        );
    }

    for per_page in [2, 3, 7] {
        let query = OrderQuery {
            per_page,
            ..OrderQuery::window(Some(start), Some(end))
        };
        let listed = list_ids(&shop.client, &query).await;
        let distinct: BTreeSet<u64> = listed.iter().copied().collect();
        assert_eq!(distinct.len(), listed.len(), "{}: no repeats", shop.name);
        assert!(
            ours.is_subset(&distinct),
            "{}: every order of the window, per_page {per_page}",
            shop.name
        );
    }
}

#[tokio::test]
async fn tied_orders_page_unstably_by_modified_and_exactly_by_id_on_both() {
    tied_orders_story(simulated_shop().await, true).await;
    if let Some(real) = real_pair::real_woocommerce() {
        tied_orders_story(real_shop(&real).await, false).await;
    }
}

/// `modified_after` and `modified_before` are both exclusive, at one-second resolution.
async fn window_bounds_story(shop: Shop) {
    let order = shop
        .client
        .create_order(&json!({
            "status": "pending",
            "line_items": [{"product_id": shop.product_id, "quantity": 1}]
        }))
        .await
        .unwrap();
    let at = order.date_modified_gmt.unwrap();
    let window = |after: i64, before: i64| OrderQuery {
        include: vec![order.id],
        ..OrderQuery::window(
            Some(at + ChronoDuration::seconds(after)),
            Some(at + ChronoDuration::seconds(before)),
        )
    };
    let seen = |ids: Vec<u64>| ids == vec![order.id];
    assert!(
        !seen(list_ids(&shop.client, &window(0, 1)).await),
        "{}: after is exclusive",
        shop.name
    );
    assert!(
        !seen(list_ids(&shop.client, &window(-1, 0)).await),
        "{}: before is exclusive",
        shop.name
    );
    assert!(
        seen(list_ids(&shop.client, &window(-1, 1)).await),
        "{}: inside",
        shop.name
    );
}

#[tokio::test]
async fn the_modified_window_bounds_are_exclusive_on_both() {
    window_bounds_story(simulated_shop().await).await;
    if let Some(real) = real_pair::real_woocommerce() {
        window_bounds_story(real_shop(&real).await).await;
    }
}
