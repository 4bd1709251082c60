//! Master data (Customers, Addresses, Items) found or created in ERPNext for
//! the orders of one page, with one batched look-up per kind and a cache that
//! lives as long as the sync. Orders of one buyer share one Customer.

use std::collections::{BTreeSet, HashMap, HashSet};

use serde_json::Value;
use tokio::sync::Mutex;

use crate::erpnext::client::{ErpClient, ListQuery};
use crate::erpnext::error::ErpError;
use crate::store::{Link, Store, StoreError};
use crate::sync::mapping::{AddressDraft, CustomerDraft, ItemDraft, MappingRules, OrderMapping};

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

/// The cache of one connection's masters. Cheap to share between tasks.
#[derive(Debug, Default)]
pub struct Masters {
    /// One lock per buyer: pages run concurrently, and two orders of one buyer
    /// must not both create the Customer.
    buyer_locks: std::sync::Mutex<HashMap<String, std::sync::Arc<Mutex<()>>>>,
    customers: Mutex<HashMap<String, Known>>,
    addresses: Mutex<HashMap<String, Known>>,
    items: Mutex<HashSet<String>>,
}

/// The names one order needs, resolved.
#[derive(Debug, Clone)]
pub struct ResolvedBuyer {
    pub customer: String,
    pub billing_address: Option<String>,
    pub shipping_address: Option<String>,
}

impl Masters {
    /// Loads what earlier syncs linked, so a restart does not look everything up again.
    pub async fn load(store: &Store, connection_id: i64) -> Result<Masters, StoreError> {
        let masters = Masters::default();
        for (kind, doctype, target) in [
            ("customer", "Customer", &masters.customers),
            ("address", "Address", &masters.addresses),
        ] {
            let mut map = target.lock().await;
            for link in store.links(connection_id, kind, doctype).await? {
                map.insert(
                    link.woo_id,
                    Known {
                        name: link.erp_name,
                        fingerprint: link.fingerprint,
                    },
                );
            }
        }
        Ok(masters)
    }

    /// Asks ERPNext, in one call per kind, for the customers and items of these
    /// orders that the cache does not know yet.
    pub async fn prefetch(
        &self,
        erp: &ErpClient,
        mappings: &[&OrderMapping],
    ) -> Result<(), MasterError> {
        let unknown_codes: Vec<String> = {
            let items = self.items.lock().await;
            let codes: BTreeSet<String> = mappings
                .iter()
                .flat_map(|mapping| mapping.sales_order.item_codes())
                .filter(|code| !items.contains(code))
                .collect();
            codes.into_iter().collect()
        };
        if !unknown_codes.is_empty() {
            let rows: Vec<Value> = erp
                .list(
                    "Item",
                    &ListQuery::default()
                        .fields(&["item_code"])
                        .filter("item_code", "in", unknown_codes)
                        .all_rows(),
                )
                .await
                .map_err(refused("Item look-up"))?;
            let mut items = self.items.lock().await;
            items.extend(
                rows.iter()
                    .filter_map(|row| row["item_code"].as_str().map(String::from)),
            );
        }

        let unknown_emails: Vec<String> = {
            let customers = self.customers.lock().await;
            let emails: BTreeSet<String> = mappings
                .iter()
                .filter(|mapping| !customers.contains_key(&mapping.customer.identity.key))
                .filter_map(|mapping| mapping.customer.identity.email.clone())
                .collect();
            emails.into_iter().collect()
        };
        if !unknown_emails.is_empty() {
            let rows: Vec<Value> = erp
                .list(
                    "Customer",
                    &ListQuery::default()
                        .fields(&["name", "email_id"])
                        .filter("email_id", "in", unknown_emails)
                        .order_by("creation asc")
                        .all_rows(),
                )
                .await
                .map_err(refused("Customer look-up"))?;
            let mut customers = self.customers.lock().await;
            for row in rows {
                if let (Some(name), Some(email)) = (row["name"].as_str(), row["email_id"].as_str())
                {
                    // The oldest Customer with this email is the person's.
                    customers
                        .entry(format!("email:{}", email.to_lowercase()))
                        .or_insert(Known {
                            name: name.to_string(),
                            fingerprint: None,
                        });
                }
            }
        }
        Ok(())
    }

    /// Creates the items the orders need and ERPNext lacks (when the connection allows).
    pub async fn ensure_items(
        &self,
        erp: &ErpClient,
        mapping: &OrderMapping,
        rules: &MappingRules,
    ) -> Result<(), MasterError> {
        let existing: BTreeSet<String> = self.items.lock().await.iter().cloned().collect();
        let to_create: Vec<ItemDraft> = mapping
            .items_to_create(&existing, rules)?
            .into_iter()
            .cloned()
            .collect();
        for draft in to_create {
            let body = serde_json::to_value(&draft).unwrap_or_default();
            match erp.insert("Item", &body).await {
                Ok(_) => {}
                // Another task (or an earlier, uncertain attempt) created it.
                Err(error) if error.is_duplicate() => {}
                Err(error) => return Err(refused(format!("Item {}", draft.item_code))(error)),
            }
            self.items.lock().await.insert(draft.item_code.clone());
        }
        Ok(())
    }

    /// The Customer and Addresses of one order: reused, updated when changed, or created.
    pub async fn resolve_buyer(
        &self,
        erp: &ErpClient,
        store: &Store,
        connection_id: i64,
        mapping: &OrderMapping,
    ) -> Result<ResolvedBuyer, MasterError> {
        let lock = self
            .buyer_locks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .entry(mapping.customer.identity.key.clone())
            .or_default()
            .clone();
        let _held = lock.lock().await;
        let customer = self
            .resolve_customer(erp, store, connection_id, &mapping.customer)
            .await?;
        let billing_address = match &mapping.billing_address {
            Some(draft) => Some(
                self.resolve_address(erp, store, connection_id, draft, &customer)
                    .await?,
            ),
            None => None,
        };
        let shipping_address = match &mapping.shipping_address {
            Some(draft) => Some(
                self.resolve_address(erp, store, connection_id, draft, &customer)
                    .await?,
            ),
            None => None,
        };
        Ok(ResolvedBuyer {
            customer,
            billing_address,
            shipping_address,
        })
    }

    async fn resolve_customer(
        &self,
        erp: &ErpClient,
        store: &Store,
        connection_id: i64,
        draft: &CustomerDraft,
    ) -> Result<String, MasterError> {
        let key = &draft.identity.key;
        let known = self.customers.lock().await.get(key).cloned();
        let body = serde_json::to_value(draft).unwrap_or_default();
        let name = match known {
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
                let created = erp
                    .insert("Customer", &body)
                    .await
                    .map_err(refused("new Customer"))?;
                created["name"]
                    .as_str()
                    .unwrap_or(&draft.customer_name)
                    .to_string()
            }
        };
        self.remember(
            store,
            connection_id,
            "customer",
            "Customer",
            key,
            &name,
            &draft.fingerprint,
            &self.customers,
        )
        .await?;
        Ok(name)
    }

    async fn resolve_address(
        &self,
        erp: &ErpClient,
        store: &Store,
        connection_id: i64,
        draft: &AddressDraft,
        customer: &str,
    ) -> Result<String, MasterError> {
        let key = &draft.identity_key;
        let known = self.addresses.lock().await.get(key).cloned();
        let body = serde_json::to_value(draft.linked_to(customer)).unwrap_or_default();
        let name = match known {
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
                let created = erp
                    .insert("Address", &body)
                    .await
                    .map_err(refused("new Address"))?;
                created["name"].as_str().unwrap_or_default().to_string()
            }
        };
        self.remember(
            store,
            connection_id,
            "address",
            "Address",
            key,
            &name,
            &draft.fingerprint,
            &self.addresses,
        )
        .await?;
        Ok(name)
    }

    #[allow(clippy::too_many_arguments)]
    async fn remember(
        &self,
        store: &Store,
        connection_id: i64,
        kind: &str,
        doctype: &str,
        key: &str,
        name: &str,
        fingerprint: &str,
        cache: &Mutex<HashMap<String, Known>>,
    ) -> Result<(), StoreError> {
        store
            .put_link(&Link {
                connection_id,
                woo_kind: kind.to_string(),
                woo_id: key.to_string(),
                erp_doctype: doctype.to_string(),
                erp_name: name.to_string(),
                fingerprint: Some(fingerprint.to_string()),
                amount: None,
            })
            .await?;
        cache.lock().await.insert(
            key.to_string(),
            Known {
                name: name.to_string(),
                fingerprint: Some(fingerprint.to_string()),
            },
        );
        Ok(())
    }
}
