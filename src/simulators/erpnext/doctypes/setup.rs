//! What the setup wizard made: the settings singles the API may change, and the masters it
//! only reads (Company, Warehouse, Currency, …). Only those with child tables are registered;
//! any other seeded doctype gets [`UNREGISTERED`]'s rules.

use super::{Access, DoctypeRules};

/// A settings doctype with one document (System Settings), changed but never created.
pub(super) struct Single {
    doctype: &'static str,
}

impl DoctypeRules for Single {
    fn doctype(&self) -> &'static str {
        self.doctype
    }

    fn access(&self) -> Access {
        Access::Single
    }
}

/// A master the setup wizard made and the API only reads.
pub(super) struct SetupMaster {
    doctype: &'static str,
    child_tables: &'static [(&'static str, &'static str)],
}

impl DoctypeRules for SetupMaster {
    fn doctype(&self) -> &'static str {
        self.doctype
    }

    fn access(&self) -> Access {
        Access::SetupMaster
    }

    fn child_tables(&self) -> &'static [(&'static str, &'static str)] {
        self.child_tables
    }
}

pub(super) static SYSTEM_SETTINGS: Single = Single {
    doctype: "System Settings",
};

pub(super) static SELLING_SETTINGS: Single = Single {
    doctype: "Selling Settings",
};

pub(super) static MODE_OF_PAYMENT: SetupMaster = SetupMaster {
    doctype: "Mode of Payment",
    child_tables: &[("accounts", "Mode of Payment Account")],
};

pub(super) static CUSTOMER_GROUP: SetupMaster = SetupMaster {
    doctype: "Customer Group",
    child_tables: &[("accounts", "Party Account")],
};

/// The rules of a doctype not in the registry: a read-only master without child tables.
pub(super) static UNREGISTERED: SetupMaster = SetupMaster {
    doctype: "",
    child_tables: &[],
};
