//! The whole service running as `serve` runs it: workers and the scheduler
//! in the background. With no webhook registered, the scheduled poll alone
//! brings the shop's orders into ERPNext; shutdown ends the run cleanly.

mod common;

use std::time::Duration;

use common::{spawn_world, test_secret_key, test_service_options, ADMIN_PASSWORD};
use woocommerce_sync::app::{Service, ServiceOptions};
use woocommerce_sync::jobs::last_poll;
use woocommerce_sync::simulators::woocommerce::WooSimOptions;

#[tokio::test]
async fn the_scheduled_poll_is_the_backstop_and_shutdown_is_graceful() {
    let world = spawn_world(WooSimOptions {
        orders: 4,
        ..WooSimOptions::default()
    })
    .await;
    let service = Service::new(
        world.store.clone(),
        &test_secret_key(),
        ADMIN_PASSWORD,
        ServiceOptions {
            poll_interval: Some(Duration::from_millis(300)),
            ..test_service_options()
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(service.run(listener, shutdown));

    let mut polled = None;
    for _ in 0..200 {
        if let Some(poll) = last_poll(&world.store, world.connection.id).await.unwrap() {
            polled = Some(poll);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let poll = polled.expect("the scheduler polled within 10 s");
    assert!(poll.succeeded, "{poll:?}");
    assert!(!world.sales_orders_by_order().await.is_empty());
    let health = reqwest::get(format!("http://{address}/healthz"))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);

    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .expect("the service stops after shutdown")
        .unwrap()
        .unwrap();
    assert!(
        reqwest::get(format!("http://{address}/healthz"))
            .await
            .is_err(),
        "no longer serving"
    );
}
