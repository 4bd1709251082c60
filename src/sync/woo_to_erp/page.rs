//! The store work of one page of orders, done in a few statements instead of several per order:
//! the links its steps read, fetched in one query per doctype at its start, and the links and log
//! entries they write, made together at its end. Pending links are never among the deferred
//! writes: exactly-once depends on each being stored before its create, so the page's are written
//! together before its first create ([`Page::pending_written`]). A finished link that a
//! crash keeps from being written costs one look-up by key on the next attempt, which the pending
//! link asks for.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use crate::store::{Link, LogEntry, Store, StoreError};

/// `(woo_kind, woo_id, erp_doctype)`: what a link is unique by within a connection.
type LinkKey = (String, String, String);

fn key(woo_kind: &str, woo_id: &str, erp_doctype: &str) -> LinkKey {
    (
        woo_kind.to_string(),
        woo_id.to_string(),
        erp_doctype.to_string(),
    )
}

#[derive(Default)]
pub(super) struct Page {
    /// What the store held at the start of the page, for the links fetched (`None`: no link).
    fetched: HashMap<LinkKey, Option<Link>>,
    /// Pending links stored before the page's first create, for the inserts it expects.
    pending: HashSet<LinkKey>,
    /// Written during the page; the last write of a key wins.
    links: Mutex<HashMap<LinkKey, Link>>,
    logs: Mutex<Vec<LogEntry>>,
}

impl Page {
    /// Remembers what the store holds of the `woo_kind` links to each doctype for these objects
    /// (one query per doctype), so that reads of them during the page need no statement.
    pub async fn fetch(
        store: &Store,
        connection_id: i64,
        woo_kind: &str,
        doctypes: &[&str],
        woo_ids: &[String],
    ) -> Result<Page, StoreError> {
        let mut page = Page::default();
        for doctype in doctypes {
            for id in woo_ids {
                page.fetched.insert(key(woo_kind, id, doctype), None);
            }
            for link in store
                .links_for(connection_id, woo_kind, doctype, woo_ids)
                .await?
            {
                let at = key(&link.woo_kind, &link.woo_id, &link.erp_doctype);
                page.fetched.insert(at, Some(link));
            }
        }
        Ok(page)
    }

    /// What the page knows of a link: `Some` (with the link, or `None` for no link) when it was
    /// fetched or written during the page; `None` when only the store knows.
    pub fn known(&self, woo_kind: &str, woo_id: &str, erp_doctype: &str) -> Option<Option<Link>> {
        let at = key(woo_kind, woo_id, erp_doctype);
        if let Some(link) = lock(&self.links).get(&at) {
            return Some(Some(link.clone()));
        }
        self.fetched.get(&at).cloned()
    }

    /// Notes pending links the caller has just stored, before any create of the page.
    pub fn pending_written(&mut self, links: &[Link]) {
        self.pending.extend(
            links
                .iter()
                .map(|link| key(&link.woo_kind, &link.woo_id, &link.erp_doctype)),
        );
    }

    /// Whether the pending link of this document was stored before the page's first create.
    pub fn has_pending(&self, woo_kind: &str, woo_id: &str, erp_doctype: &str) -> bool {
        self.pending.contains(&key(woo_kind, woo_id, erp_doctype))
    }

    pub fn link(&self, link: Link) {
        let at = key(&link.woo_kind, &link.woo_id, &link.erp_doctype);
        lock(&self.links).insert(at, link);
    }

    pub fn log(&self, entry: LogEntry) {
        lock(&self.logs).push(entry);
    }

    /// Writes what the page collected: one statement per hundred links and per batch of entries.
    pub async fn flush(self, store: &Store) -> Result<(), StoreError> {
        let mut links: Vec<Link> = self
            .links
            .into_inner()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .into_values()
            .collect();
        links.sort_by(|a, b| {
            (&a.woo_kind, &a.woo_id, &a.erp_doctype).cmp(&(&b.woo_kind, &b.woo_id, &b.erp_doctype))
        });
        store.put_links(&links).await?;
        let logs = self
            .logs
            .into_inner()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        store.append_logs(&logs).await?;
        Ok(())
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
