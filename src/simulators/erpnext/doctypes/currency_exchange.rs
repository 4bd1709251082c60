//! Currency Exchange: a dated rate between two currencies, named
//! `<date>-<from>-<to>[-Selling][-Buying]`; selling documents in a foreign currency take their
//! conversion rate from the latest one (`rate`).

use rust_decimal::Decimal;
use serde_json::Value;

use super::{DoctypeRules, Naming};
use crate::simulators::erpnext::engine::{mandatory, Site};
use crate::simulators::erpnext::error::SiteError;
use crate::simulators::erpnext::values::{field_decimal, int_of, text_of, Doc};

pub(crate) struct CurrencyExchange;

impl DoctypeRules for CurrencyExchange {
    fn doctype(&self) -> &'static str {
        "Currency Exchange"
    }

    fn validate_new(
        &self,
        site: &mut Site,
        doc: &mut Doc,
        _input: &Doc,
        _notes: &mut Vec<Value>,
    ) -> Result<Naming, SiteError> {
        mandatory(
            "Currency Exchange",
            doc,
            &[
                ("date", "Date"),
                ("from_currency", "From Currency"),
                ("to_currency", "To Currency"),
                ("exchange_rate", "Exchange Rate"),
            ],
        )?;
        site.link("Currency", &text_of(doc, "from_currency"))?;
        site.link("Currency", &text_of(doc, "to_currency"))?;
        let mut name = format!(
            "{}-{}-{}",
            text_of(doc, "date"),
            text_of(doc, "from_currency"),
            text_of(doc, "to_currency")
        );
        if int_of(doc, "for_selling") == 1 {
            name.push_str("-Selling");
        }
        if int_of(doc, "for_buying") == 1 {
            name.push_str("-Buying");
        }
        Ok(Naming::Named(name))
    }
}

/// The latest selling Currency Exchange dated on or before `date`, as ERPNext's
/// `get_exchange_rate`.
pub(crate) fn rate(site: &Site, from: &str, to: &str, date: &str) -> Option<Decimal> {
    site.documents("Currency Exchange")
        .map(|(_, stored)| stored.sparse())
        .filter(|doc| {
            text_of(doc, "from_currency") == from
                && text_of(doc, "to_currency") == to
                && text_of(doc, "date").as_str() <= date
                && int_of(doc, "for_selling") == 1
        })
        .max_by(|a, b| text_of(a, "date").cmp(&text_of(b, "date")))
        .map(|doc| field_decimal(&doc, "exchange_rate"))
}
