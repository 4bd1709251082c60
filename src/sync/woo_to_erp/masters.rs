//! Master data (Customers, Addresses, Items) found or created in ERPNext for
//! the orders of one page, with one batched look-up per kind (the store's
//! links, then ERPNext) and a bounded cache that lives as long as the sync.
//! Orders of one buyer share one Customer.

use std::collections::{BTreeSet, HashMap};

use serde::de::IgnoredAny;
use serde_json::Value;
use tokio::sync::Mutex;

use crate::erpnext::client::{
    in_filter_groups, url_encoded_len, ErpClient, ListQuery, IN_FILTER_BUDGET,
};
use crate::erpnext::error::ErpError;
use crate::erpnext::types::Named;
use crate::store::{Link, Store, StoreError};
use crate::sync::mapping::{
    AddressDraft, CustomerDraft, CustomerIdentity, ItemDraft, MappingRules, OrderMapping,
};

/// Why master data could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum MasterError {
    #[error("ERPNext refused the {what}: {source}")]
    Erp {
        what: String,
        #[source]
        source: ErpError,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Mapping(#[from] crate::sync::mapping::MappingError),
}

impl MasterError {
    pub fn is_retryable(&self) -> bool {
        match self {
            MasterError::Erp { source, .. } => source.is_retryable(),
            MasterError::Store(_) => true,
            MasterError::Mapping(_) => false,
        }
    }
}

fn refused(what: impl Into<String>) -> impl FnOnce(ErpError) -> MasterError {
    let what = what.into();
    move |source| MasterError::Erp { what, source }
}

/// What is known of one master: its ERPNext name and the fingerprint last written.
#[derive(Debug, Clone)]
struct Known {
    name: String,
    fingerprint: Option<String>,
}

/// Masters kept in memory between look-ups. Each generation holds this many
/// entries per kind: more than the pages in flight need (4 × 100 orders), small
/// enough that memory stays flat however many buyers one sync meets. A page
/// reads the links it lacks in one store query anyway, so a bigger cache
/// would save little.
const CACHED_PER_GENERATION: usize = 1024;

/// A map that forgets its older half when full. The store and ERPNext stay the
/// truth; the cache only saves look-ups, so a forgotten entry costs a look-up,
/// never a duplicate.
#[derive(Debug)]
struct Recent<V> {
    current: HashMap<String, V>,
    previous: HashMap<String, V>,
}

impl<V> Default for Recent<V> {
    fn default() -> Self {
        Recent {
            current: HashMap::new(),
            previous: HashMap::new(),
        }
    }
}

impl<V: Clone> Recent<V> {
    fn get(&mut self, key: &str) -> Option<V> {
        if let Some(value) = self.current.get(key) {
            return Some(value.clone());
        }
        let value = self.previous.remove(key)?;
        self.insert(key.to_string(), value.clone());
        Some(value)
    }

    fn contains(&mut self, key: &str) -> bool {
        self.get(key).is_some()
    }

    fn insert(&mut self, key: String, value: V) {
        if self.current.len() >= CACHED_PER_GENERATION && !self.current.contains_key(&key) {
            self.previous = std::mem::take(&mut self.current);
        }
        self.current.insert(key, value);
    }
}

/// A look-up's answer: the master, or that none exists yet (so it is created
/// without asking again).
type Found = Option<Known>;

/// One lock per key, kept only while someone holds or waits for it, so the map holds only what
/// is in flight.
#[derive(Debug, Default)]
struct KeyedLocks {
    locks: std::sync::Mutex<HashMap<String, std::sync::Arc<Mutex<()>>>>,
}

impl KeyedLocks {
    /// Runs `work` while holding the lock of `key`.
    async fn run<T>(&self, key: &str, work: impl std::future::Future<Output = T>) -> T {
        let lock = self
            .locks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .entry(key.to_string())
            .or_default()
            .clone();
        let result = {
            let _held = lock.lock().await;
            work.await
        };
        // The last one out removes the lock: only the map and this clone are left.
        let mut locks = self
            .locks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if std::sync::Arc::strong_count(&lock) == 2 {
            locks.remove(key);
        }
        result
    }
}

/// Inserts of a Customer or Address refused because another insert took the *name* ERPNext
/// chose, before the sync gives up on the order (each repeat is rolled back if it loses again).
const NAME_RACE_ATTEMPTS: u32 = 4;

/// The cache of one connection's masters. Cheap to share between tasks.
#[derive(Debug)]
pub struct Masters {
    store: Store,
    connection_id: i64,
    /// A buyer in this currency is found by email among Customers without a foreign currency.
    company_currency: String,
    /// One lock per buyer while its masters are resolved: pages run
    /// concurrently, and two orders of one buyer must not both create the Customer.
    buyer_locks: KeyedLocks,
    /// One lock per item code while it is created: the first orders of a sync all need the
    /// same new items, and an insert that loses to another costs ERPNext a whole Item's work.
    item_locks: KeyedLocks,
    customers: Mutex<Recent<Found>>,
    addresses: Mutex<Recent<Found>>,
    items: Mutex<Recent<()>>,
}

/// The names one order needs, resolved.
#[derive(Debug, Clone)]
pub struct ResolvedBuyer {
    pub customer: String,
    pub billing_address: Option<String>,
    pub shipping_address: Option<String>,
}

impl Masters {
    pub fn new(store: Store, connection_id: i64, company_currency: &str) -> Masters {
        Masters {
            store,
            connection_id,
            company_currency: company_currency.to_string(),
            buyer_locks: KeyedLocks::default(),
            item_locks: KeyedLocks::default(),
            customers: Mutex::default(),
            addresses: Mutex::default(),
            items: Mutex::default(),
        }
    }

    /// Finds the masters of these orders that the cache does not hold: the
    /// links earlier syncs stored (one query per kind), then in ERPNext, in one
    /// call per kind, the items and the customers by email.
    pub async fn prefetch(
        &self,
        erp: &ErpClient,
        mappings: &[&OrderMapping],
    ) -> Result<(), MasterError> {
        let unknown_codes: Vec<String> = {
            let mut items = self.items.lock().await;
            let codes: BTreeSet<String> = mappings
                .iter()
                .flat_map(|mapping| mapping.sales_order.item_codes())
                .filter(|code| !items.contains(code))
                .collect();
            codes.into_iter().collect()
        };
        // A page's codes in as few calls as the request line allows (usually one).
        for codes in in_filter_groups(unknown_codes, IN_FILTER_BUDGET, |code| {
            url_encoded_len(code)
        }) {
            let rows: Vec<Value> = erp
                .list(
                    "Item",
                    &ListQuery::default()
                        .fields(&["item_code"])
                        .filter("item_code", "in", codes)
                        .all_rows(),
                )
                .await
                .map_err(refused("Item look-up"))?;
            let mut items = self.items.lock().await;
            for code in rows.iter().filter_map(|row| row["item_code"].as_str()) {
                items.insert(code.to_string(), ());
            }
        }

        let address_keys: Vec<&str> = {
            let mut cache = self.addresses.lock().await;
            let keys: BTreeSet<&str> = mappings
                .iter()
                .flat_map(|mapping| [&mapping.billing_address, &mapping.shipping_address])
                .flatten()
                .map(|draft| draft.identity_key.as_str())
                .filter(|key| !cache.contains(key))
                .collect();
            keys.into_iter().collect()
        };
        self.look_up_addresses(&address_keys).await?;
        let identities: Vec<&CustomerIdentity> = {
            let mut cache = self.customers.lock().await;
            let mut seen = BTreeSet::new();
            mappings
                .iter()
                .map(|mapping| &mapping.customer.identity)
                .filter(|identity| seen.insert(identity.key.as_str()))
                .filter(|identity| !cache.contains(&identity.key))
                .collect()
        };
        self.look_up_customers(erp, &identities).await?;
        Ok(())
    }

    /// What the store links to these address keys (`None`: not created yet),
    /// read in one query and kept in the cache.
    async fn look_up_addresses(&self, keys: &[&str]) -> Result<HashMap<String, Found>, StoreError> {
        let found = self.stored_links("address", "Address", keys).await?;
        let mut cache = self.addresses.lock().await;
        for (key, known) in &found {
            cache.insert(key.clone(), known.clone());
        }
        Ok(found)
    }

    /// The Customer of each identity: its stored link, else the oldest
    /// Customer with its email in ERPNext (`None`: not created yet). One store
    /// query and at most one ERPNext call; the answers are kept in the cache.
    async fn look_up_customers(
        &self,
        erp: &ErpClient,
        identities: &[&CustomerIdentity],
    ) -> Result<HashMap<String, Found>, MasterError> {
        let keys: Vec<&str> = identities
            .iter()
            .map(|identity| identity.key.as_str())
            .collect();
        let mut found = self.stored_links("customer", "Customer", &keys).await?;
        let unknown: Vec<&CustomerIdentity> = identities
            .iter()
            .copied()
            .filter(|identity| matches!(found.get(&identity.key), Some(None)))
            .collect();
        let in_erpnext = find_customers(erp, &unknown, &self.company_currency).await?;
        for identity in unknown {
            if let Some(slot @ None) = found.get_mut(&identity.key) {
                *slot = in_erpnext.get(&identity.key).map(|name| Known {
                    name: name.clone(),
                    fingerprint: None,
                });
            }
        }
        let mut cache = self.customers.lock().await;
        for (key, known) in &found {
            cache.insert(key.clone(), known.clone());
        }
        Ok(found)
    }

    /// The stored link of each key, `None` for keys without one, in one query.
    async fn stored_links(
        &self,
        kind: &str,
        doctype: &str,
        keys: &[&str],
    ) -> Result<HashMap<String, Found>, StoreError> {
        let keys: Vec<String> = keys.iter().map(|key| key.to_string()).collect();
        let links = self
            .store
            .links_for(self.connection_id, kind, doctype, &keys)
            .await?;
        let mut found: HashMap<String, Found> = keys.into_iter().map(|key| (key, None)).collect();
        for link in links {
            found.insert(
                link.woo_id,
                Some(Known {
                    name: link.erp_name,
                    fingerprint: link.fingerprint,
                }),
            );
        }
        Ok(found)
    }

    /// Creates the items the orders need and ERPNext lacks (when the connection allows); returns
    /// those this call created (or found made by an earlier, uncertain attempt).
    pub async fn ensure_items(
        &self,
        erp: &ErpClient,
        mapping: &OrderMapping,
        rules: &MappingRules,
    ) -> Result<Vec<ItemDraft>, MasterError> {
        let to_create: Vec<ItemDraft> = {
            let mut items = self.items.lock().await;
            mapping
                .items_to_create(|code| items.contains(code), rules)?
                .into_iter()
                .cloned()
                .collect()
        };
        let mut created = Vec::new();
        for draft in to_create {
            let made = self
                .item_locks
                .run(&draft.item_code, async {
                    // Made by the order this one waited for.
                    if self.items.lock().await.contains(&draft.item_code) {
                        return Ok(false);
                    }
                    let body = serde_json::to_value(&draft).unwrap_or_default();
                    match erp.insert::<IgnoredAny>("Item", &body).await {
                        Ok(_) => {}
                        // Another sync (or an earlier, uncertain attempt) created it.
                        Err(error) if error.is_duplicate() => {}
                        Err(error) => {
                            return Err(refused(format!("Item {}", draft.item_code))(error))
                        }
                    }
                    self.items.lock().await.insert(draft.item_code.clone(), ());
                    Ok(true)
                })
                .await?;
            if made {
                created.push(draft);
            }
        }
        Ok(created)
    }

    /// What [`ensure_items`](Self::ensure_items) would create for this order, without creating
    /// it (a dry run; after [`prefetch`](Self::prefetch)), or why the order cannot have its items.
    pub async fn planned_items(
        &self,
        mapping: &OrderMapping,
        rules: &MappingRules,
    ) -> Result<Vec<String>, crate::sync::mapping::MappingError> {
        let mut items = self.items.lock().await;
        Ok(mapping
            .items_to_create(|code| items.contains(code), rules)?
            .into_iter()
            .map(|draft| draft.item_code.clone())
            .collect())
    }

    /// The Customer and Addresses of one order: reused, updated when changed, or created.
    pub async fn resolve_buyer(
        &self,
        erp: &ErpClient,
        mapping: &OrderMapping,
    ) -> Result<ResolvedBuyer, MasterError> {
        self.buyer_locks
            .run(
                &mapping.customer.identity.key,
                self.resolve_buyer_locked(erp, mapping),
            )
            .await
    }

    async fn resolve_buyer_locked(
        &self,
        erp: &ErpClient,
        mapping: &OrderMapping,
    ) -> Result<ResolvedBuyer, MasterError> {
        let mut written = Vec::new();
        let resolved = self.resolve_masters(erp, mapping, &mut written).await;
        // One store write for the masters created or updated now, made even when
        // a later one failed: whatever ERPNext has must be linked.
        if !written.is_empty() {
            self.store.put_links(&written).await?;
            for link in written {
                let cache = match link.woo_kind.as_str() {
                    "customer" => &self.customers,
                    _ => &self.addresses,
                };
                cache.lock().await.insert(
                    link.woo_id,
                    Some(Known {
                        name: link.erp_name,
                        fingerprint: link.fingerprint,
                    }),
                );
            }
        }
        resolved
    }

    async fn resolve_masters(
        &self,
        erp: &ErpClient,
        mapping: &OrderMapping,
        written: &mut Vec<Link>,
    ) -> Result<ResolvedBuyer, MasterError> {
        let customer = self
            .resolve_customer(erp, &mapping.customer, written)
            .await?;
        let mut addresses = [None, None];
        for (slot, draft) in addresses
            .iter_mut()
            .zip([&mapping.billing_address, &mapping.shipping_address])
        {
            if let Some(draft) = draft {
                *slot = Some(self.resolve_address(erp, draft, &customer, written).await?);
            }
        }
        let [billing_address, shipping_address] = addresses;
        Ok(ResolvedBuyer {
            customer,
            billing_address,
            shipping_address,
        })
    }

    async fn resolve_customer(
        &self,
        erp: &ErpClient,
        draft: &CustomerDraft,
        written: &mut Vec<Link>,
    ) -> Result<String, MasterError> {
        let key = &draft.identity.key;
        let cached = self.customers.lock().await.get(key);
        let found = match cached {
            Some(found) => found,
            // Not cached (a job, or forgotten since the prefetch): looked up as a page would be.
            None => self
                .look_up_customers(erp, &[&draft.identity])
                .await?
                .remove(key)
                .flatten(),
        };
        let body = serde_json::to_value(draft).unwrap_or_default();
        let name = match found {
            Some(known) if known.fingerprint.as_deref() == Some(draft.fingerprint.as_str()) => {
                return Ok(known.name)
            }
            Some(known) => {
                // Changed since last written (or found by email): bring it up to date.
                erp.update("Customer", &known.name, &body)
                    .await
                    .map_err(refused(format!("update of Customer {}", known.name)))?;
                known.name
            }
            None => {
                insert_keyed(
                    erp,
                    "Customer",
                    &body,
                    ("woocommerce_customer_key", &draft.woocommerce_customer_key),
                )
                .await?
            }
        };
        written.push(self.link("customer", "Customer", key, &name, &draft.fingerprint));
        Ok(name)
    }

    async fn resolve_address(
        &self,
        erp: &ErpClient,
        draft: &AddressDraft,
        customer: &str,
        written: &mut Vec<Link>,
    ) -> Result<String, MasterError> {
        let key = &draft.identity_key;
        let cached = self.addresses.lock().await.get(key);
        let found = match cached {
            Some(found) => found,
            None => self
                .look_up_addresses(&[key.as_str()])
                .await?
                .remove(key)
                .flatten(),
        };
        let body = serde_json::to_value(draft.linked_to(customer)).unwrap_or_default();
        let name = match found {
            Some(known) if known.fingerprint.as_deref() == Some(draft.fingerprint.as_str()) => {
                return Ok(known.name)
            }
            Some(known) => {
                erp.update("Address", &known.name, &body)
                    .await
                    .map_err(refused(format!("update of Address {}", known.name)))?;
                known.name
            }
            None => {
                insert_keyed(
                    erp,
                    "Address",
                    &body,
                    ("woocommerce_address_key", &draft.woocommerce_address_key),
                )
                .await?
            }
        };
        written.push(self.link("address", "Address", key, &name, &draft.fingerprint));
        Ok(name)
    }

    fn link(&self, kind: &str, doctype: &str, key: &str, name: &str, fingerprint: &str) -> Link {
        Link {
            connection_id: self.connection_id,
            woo_kind: kind.to_string(),
            woo_id: key.to_string(),
            erp_doctype: doctype.to_string(),
            erp_name: name.to_string(),
            fingerprint: Some(fingerprint.to_string()),
            amount: None,
        }
    }
}

/// The Customer ERPNext has for each identity (one call per request line's worth of them): the
/// one with its unique key, else (made by hand, or by a version without keys) the oldest with
/// its email in the same currency.
async fn find_customers(
    erp: &ErpClient,
    identities: &[&CustomerIdentity],
    company_currency: &str,
) -> Result<HashMap<String, String>, MasterError> {
    let mut found = HashMap::new();
    // Keys and emails travel in the URL: a page's buyers are asked in as few calls as the
    // request line allows (a real site refuses a line over 4 KB before ERPNext sees it).
    let groups = in_filter_groups(identities.to_vec(), IN_FILTER_BUDGET, |identity| {
        url_encoded_len(&identity.erpnext_key)
            + identity.email.as_deref().map_or(0, url_encoded_len)
    });
    let mut rows: Vec<Value> = Vec::new();
    for group in groups {
        let keys: Vec<String> = group
            .iter()
            .map(|identity| identity.erpnext_key.clone())
            .collect();
        let emails: Vec<String> = group
            .iter()
            .filter_map(|identity| identity.email.clone())
            .collect();
        let mut query = ListQuery::default()
            .fields(&[
                "name",
                "email_id",
                "woocommerce_customer_key",
                "default_currency",
                "creation",
            ])
            .or_filter("woocommerce_customer_key", "in", keys)
            .order_by("creation asc")
            .all_rows();
        if !emails.is_empty() {
            query = query.or_filter("email_id", "in", emails);
        }
        let part: Vec<Value> = erp
            .list("Customer", &query)
            .await
            .map_err(refused("Customer look-up"))?;
        rows.extend(part);
    }
    // The oldest Customer of an email wins, whichever part of the look-up found it.
    rows.sort_by(|a, b| {
        let creation = |row: &Value| row["creation"].as_str().unwrap_or_default().to_string();
        creation(a).cmp(&creation(b))
    });
    let text = |row: &Value, field: &str| row[field].as_str().unwrap_or_default().to_string();
    for identity in identities {
        let by_key = rows
            .iter()
            .find(|row| text(row, "woocommerce_customer_key") == identity.erpnext_key);
        let by_email = || {
            rows.iter().find(|row| {
                let currency = text(row, "default_currency");
                let same_currency = match &identity.currency {
                    Some(wanted) => &currency == wanted,
                    None => currency.is_empty() || currency == company_currency,
                };
                identity
                    .email
                    .as_deref()
                    .is_some_and(|email| text(row, "email_id").to_lowercase() == email)
                    && text(row, "woocommerce_customer_key").is_empty()
                    && same_currency
            })
        };
        if let Some(row) = by_key.or_else(by_email) {
            found.insert(identity.key.clone(), text(row, "name"));
        }
    }
    Ok(found)
}

/// Inserts a Customer or Address that carries its unique key and answers its name.
///
/// A duplicate is one of two things. Our key: another sync, or an attempt whose answer was lost,
/// made this master, and the key finds it. Or the *name*: ERPNext names a Customer after the
/// buyer (`Ada Lovelace`, then `Ada Lovelace - 1`…) and an Address after its title, and two
/// buyers of one name inserted at once both pick the same free name; the loser is rolled back
/// whole (409 `DuplicateEntryError`), so inserting it again is safe, and ERPNext then picks the
/// next free name.
async fn insert_keyed(
    erp: &ErpClient,
    doctype: &str,
    body: &Value,
    (key_field, key): (&str, &str),
) -> Result<String, MasterError> {
    let mut attempt = 1;
    loop {
        match erp.insert::<Named>(doctype, body).await {
            Ok(created) => return Ok(created.name),
            Err(error) if error.is_duplicate() => {
                if let Some(name) = find_by_key(erp, doctype, key_field, key).await? {
                    return Ok(name);
                }
                if attempt >= NAME_RACE_ATTEMPTS {
                    return Err(refused(format!("new {doctype}"))(error));
                }
                tracing::debug!(doctype, attempt, "a name race lost; inserting again");
                attempt += 1;
            }
            Err(error) => return Err(refused(format!("new {doctype}"))(error)),
        }
    }
}

/// The master whose unique key field holds `key`, if ERPNext has one.
async fn find_by_key(
    erp: &ErpClient,
    doctype: &str,
    key_field: &str,
    key: &str,
) -> Result<Option<String>, MasterError> {
    let rows: Vec<Named> = erp
        .list(
            doctype,
            &ListQuery::default()
                .fields(&["name"])
                .filter(key_field, "=", key)
                .page(0, 1),
        )
        .await
        .map_err(refused(format!("{doctype} look-up by key")))?;
    Ok(rows.into_iter().next().map(|row| row.name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_forgets_its_older_half_and_keeps_what_is_used() {
        let mut recent: Recent<u32> = Recent::default();
        for n in 0..CACHED_PER_GENERATION {
            recent.insert(format!("k{n}"), n as u32);
        }
        // Full: the next insert starts a new generation; the old one is still readable.
        recent.insert("new".into(), 1);
        assert_eq!(recent.get("k0"), Some(0));
        // Another full generation later, what was read again survives and the rest is gone.
        for n in 0..CACHED_PER_GENERATION {
            recent.insert(format!("m{n}"), n as u32);
        }
        assert_eq!(recent.get("k0"), Some(0));
        assert_eq!(recent.get("k1"), None);
        assert!(recent.current.len() + recent.previous.len() <= 2 * CACHED_PER_GENERATION);
    }
}
