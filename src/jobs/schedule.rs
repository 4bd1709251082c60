//! The backstop for lost webhooks: every interval (and once at start) the inbox is replayed and
//! two polls are queued per connection (the shop's orders, and ERPNext's Sales Orders whose
//! progress goes back to the shop), with the catalogue's stock and price passes (what changed
//! since the last pass; nothing asked of ERPNext before the connection's products are linked). Several instances on one PostgreSQL store queue the same poll
//! row, which the queue coalesces and one worker claims: one poll per connection at a time, and no
//! leader election (a poll is idempotent anyway).

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::watch;

use super::routing::route_event;
use super::{enqueue, Job};
use crate::store::{Store, StoreError, StoredConnection};

/// Queues the jobs of inbound events that were committed but never queued (the service stopped
/// between the two), then marks them processed.
pub async fn replay_inbox(store: &Store) -> Result<usize, StoreError> {
    let mut replayed = 0;
    let mut connections: HashMap<i64, Option<StoredConnection>> = HashMap::new();
    loop {
        let events = store.unprocessed_inbound(200).await?;
        if events.is_empty() {
            return Ok(replayed);
        }
        for event in events {
            let connection = match connections.entry(event.connection_id) {
                Entry::Occupied(entry) => entry.into_mut(),
                Entry::Vacant(entry) => {
                    let found = match store.connection_by_id(event.connection_id).await {
                        Ok(connection) => Some(connection),
                        Err(StoreError::NotFound(_)) => None,
                        Err(error) => return Err(error),
                    };
                    entry.insert(found)
                }
            };
            match connection {
                Some(connection) => {
                    let body = serde_json::from_str(&event.body).unwrap_or_default();
                    route_event(
                        store,
                        connection,
                        event.id,
                        &event.source,
                        &event.topic,
                        &body,
                    )
                    .await?;
                }
                None => store.mark_inbound_processed(event.id).await?,
            }
            replayed += 1;
        }
    }
}

/// Every `interval` (and once at start): replays the inbox and queues a poll per connection,
/// until `shutdown` turns true.
pub async fn run_scheduler(store: Store, interval: Duration, mut shutdown: watch::Receiver<bool>) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    return;
                }
                continue;
            }
        }
        if let Err(error) = replay_inbox(&store).await {
            tracing::warn!(%error, "replaying the inbox failed; trying again at the next tick");
        }
        match store.connections().await {
            Ok(connections) => {
                for connection in connections {
                    for job in [Job::Poll, Job::PollErpnext, Job::PushStock, Job::PushPrices] {
                        if let Err(error) = enqueue(&store, connection.id, &job, Utc::now()).await {
                            tracing::warn!(%error, connection = %connection.connection.name, kind = job.kind(), "cannot queue the scheduled poll");
                        }
                    }
                }
            }
            Err(error) => tracing::warn!(%error, "the scheduler cannot list connections"),
        }
    }
}
