//! The pure core of the order sync: a WooCommerce order in, the ERPNext documents to write out.
//! No IO, no clock, no store: the same order and rules always give the same documents.
//!
//! Two steps. [`map_order`] turns the order into drafts (Customer, Contact, Addresses, Items,
//! Sales Order) that carry a stable identity key and a content fingerprint, so the sync can tell
//! reuse, update and create apart. Once the sync has found or made the masters,
//! [`OrderMapping::resolve`] fills in their names and gives the exact body of
//! `POST /api/resource/Sales Order`, inserted already submitted.
//!
//! # Money rules
//!
//! ERPNext's grand total must equal WooCommerce's `total` to the cent.
//!
//! * **Coupons live in the rows.** A WooCommerce line's `subtotal` is before coupons and `total`
//!   after. Each row gets `price_list_rate = subtotal ÷ qty` and `rate = total ÷ qty`; ERPNext shows
//!   the difference as the row's discount. No order-level discount is sent, since that would take
//!   the coupon off a second time.
//! * **Rows are split so that rates are exact.** ERPNext rounds `rate` to the currency precision
//!   before `amount = rate × qty`, so 10.00 for 3 pieces cannot be one row (3 × 3.33 = 9.99). It
//!   becomes 2 × 3.33 + 1 × 3.34, two rows of the same item. A quantity that is not a whole number
//!   becomes one row of qty 1 at the line total, with the real quantity in the description.
//! * **Taxes are per WooCommerce rate.** One `Actual` row per `tax_lines[]` rate, holding its cart
//!   tax plus its shipping tax (WooCommerce already put the fee taxes into the cart tax), on the
//!   rate's mapped account. Shipping and fees are `Actual` rows too (or shipping as an item row).
//!   Amounts are sent rounded to the currency precision, as ERPNext would store them.
//! * **Rounding row, never silence.** The draft's total is computed the way ERPNext computes it.
//!   A difference within the connection's tolerance becomes an explicit `Actual` row on the
//!   rounding account ("Rounding difference from WooCommerce"); a bigger one is an error with both
//!   figures. `disable_rounded_total` keeps ERPNext from rounding the total to whole units.
//! * **Prices entered with tax.** Even then WooCommerce's REST line `subtotal`/`total` are net,
//!   rounded to the store's decimals, and the order `total` is rounded once from unrounded parts;
//!   the sum of rounded parts can miss it by a cent, which the rounding row closes.

mod amounts;
mod credit_note;
mod currency;
mod customer;
mod error;
mod fields;
mod gateway_fee;
mod items;
mod rules;
mod sales_order;
mod status;

use rust_decimal::Decimal;

pub use amounts::{erpnext_round, split_line, RowAmounts};
pub use credit_note::{
    credit_note_for_amount, credit_note_for_refund, AlreadyReturned, CreditBasis, CreditCharge,
    CreditFor, CreditItem, CreditNoteError, CreditNoteRows, InvoiceChargeRow, InvoiceItemRow,
    InvoiceRows,
};
pub use customer::{
    AddressDraft, AddressType, ContactDraft, ContactEmail, ContactPhone, CustomerDraft,
    CustomerIdentity, CustomerType, DynamicLink,
};
pub use error::MappingError;
pub use fields::{fit, fit_bytes, DATA_CHARS, TEXT_BYTES};
pub use gateway_fee::{gateway_fee, GatewayFee};
pub use items::ItemDraft;
pub use rules::{CountryNames, MappingRules, MissingSkuRule, ShippingTarget};
pub use sales_order::{
    SalesOrder, SalesOrderDraft, SalesOrderItem, SalesTaxRow, ROUNDING_ROW_DESCRIPTION,
};
pub use status::{action_for_status, invoice_due, is_paid, OrderAction};

use crate::woocommerce::types::Order;

/// The ERPNext documents one WooCommerce order needs.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderMapping {
    pub customer: CustomerDraft,
    /// `None` when the order has neither email nor phone. ERPNext makes the primary Contact
    /// itself when it inserts a Customer with `email_id`/`mobile_no`; this draft is for a
    /// Customer that already exists (link it with [`ContactDraft::linked_to`]).
    pub contact: Option<ContactDraft>,
    pub billing_address: Option<AddressDraft>,
    /// `None` when there is no shipping address or it equals the billing address.
    pub shipping_address: Option<AddressDraft>,
    /// The billing address serves as the shipping address too.
    pub shipping_same_as_billing: bool,
    /// Items the order's lines need that may be created when the connection auto-creates items,
    /// one per item code.
    pub items: Vec<ItemDraft>,
    pub sales_order: SalesOrderDraft,
}

/// The names the sync found or created in ERPNext for one order's masters.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ResolvedMasters {
    /// The Customer's `name`.
    pub customer: String,
    pub billing_address: Option<String>,
    pub shipping_address: Option<String>,
    /// ERPNext's exchange rate (Currency Exchange) for a foreign-currency order whose meta had none.
    pub exchange_rate: Option<Decimal>,
}

/// Maps an order to its ERPNext drafts, or says what the operator must fix first.
///
/// `countries` turns ISO codes into ERPNext Country names (`US` → `United States`).
pub fn map_order(
    order: &Order,
    rules: &MappingRules,
    countries: &dyn CountryNames,
) -> Result<OrderMapping, MappingError> {
    let buyer = customer::map_buyer(order, rules, countries)?;
    let (sales_order, items) = sales_order::build_sales_order(order, rules)?;
    Ok(OrderMapping {
        customer: buyer.customer,
        contact: buyer.contact,
        billing_address: buyer.billing_address,
        shipping_address: buyer.shipping_address,
        shipping_same_as_billing: buyer.shipping_same_as_billing,
        items,
        sales_order,
    })
}

impl OrderMapping {
    /// Whether the sync must ask ERPNext for an exchange rate before [`OrderMapping::resolve`].
    pub fn needs_exchange_rate(&self, rules: &MappingRules) -> bool {
        !self
            .sales_order
            .currency
            .eq_ignore_ascii_case(&rules.company_currency)
            && self.sales_order.conversion_rate_from_order.is_none()
    }

    /// Of the item codes the Sales Order uses, those ERPNext lacks (`exists` tells the ones it
    /// has) and that may be created now. Fails naming every missing code when auto-create is off
    /// or a missing code is one the sync never creates (a generic or shipping item).
    pub fn items_to_create(
        &self,
        mut exists: impl FnMut(&str) -> bool,
        rules: &MappingRules,
    ) -> Result<Vec<&ItemDraft>, MappingError> {
        let missing: Vec<String> = self
            .sales_order
            .item_codes()
            .into_iter()
            .filter(|code| !exists(code))
            .collect();
        let creatable: Vec<&ItemDraft> = self
            .items
            .iter()
            .filter(|draft| missing.contains(&draft.item_code))
            .collect();
        if missing.is_empty() {
            return Ok(Vec::new());
        }
        if !rules.auto_create_items || creatable.len() != missing.len() {
            return Err(MappingError::MissingItems {
                order_id: self.sales_order.order_id,
                item_codes: missing,
                auto_create_off: !rules.auto_create_items,
            });
        }
        Ok(creatable)
    }

    /// The Sales Order body with the resolved names filled in.
    pub fn resolve(
        &self,
        masters: &ResolvedMasters,
        rules: &MappingRules,
    ) -> Result<SalesOrder, MappingError> {
        let draft = &self.sales_order;
        let conversion_rate = if draft.currency.eq_ignore_ascii_case(&rules.company_currency) {
            None
        } else {
            Some(
                draft
                    .conversion_rate_from_order
                    .or(masters.exchange_rate)
                    .ok_or_else(|| MappingError::MissingExchangeRate {
                        order_id: draft.order_id,
                        currency: draft.currency.clone(),
                        company_currency: rules.company_currency.clone(),
                    })?,
            )
        };
        let shipping_address_name = match (&masters.shipping_address, self.shipping_same_as_billing)
        {
            (Some(name), _) => Some(name.clone()),
            (None, true) => masters.billing_address.clone(),
            (None, false) => None,
        };
        Ok(SalesOrder {
            customer: masters.customer.clone(),
            customer_address: masters.billing_address.clone(),
            shipping_address_name,
            conversion_rate,
            draft: draft.clone(),
        })
    }
}
