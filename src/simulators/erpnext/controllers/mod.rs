//! Rules several doctypes share, as ERPNext keeps them apart from the doctypes
//! (`erpnext/controllers/`, `erpnext/accounts/party.py`): what every selling document gets from
//! its customer, items and prices (`selling`), and the party accounts and currency rules around
//! the ledger (`party`).

pub(crate) mod party;
pub(crate) mod selling;
