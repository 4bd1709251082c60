//! The site as the setup wizard leaves it (see the transcripts' README): the recorded doctype
//! templates and masters (`templates.json`, `seed.json`: company, chart of accounts,
//! warehouses, price lists, modes of payment…), the currencies and countries, and the two
//! settings singles. Everything else starts empty.

use std::collections::HashMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde_json::json;

use super::engine::Site;
use super::totals::CurrencyFacts;
use super::values::{object, text_of, Doc};

pub const COMPANY: &str = "Test Company";
pub const COMPANY_CURRENCY: &str = "USD";
/// The site address ERPNext writes into the links of its messages (the recorded lab's).
pub const SITE_URL_FOR_MESSAGES: &str = "http://127.0.0.1:8000";
const TIME_ZONE: &str = "America/New_York";
/// When the setup wizard made the seeded masters (their `creation` and `modified`).
const SEEDED_AT: &str = "2026-11-26 17:21:59.384593";

/// A fresh site just after the setup wizard, whose calendar shows `today` when given (the
/// clock still runs).
pub(crate) fn fresh_site(today: Option<NaiveDate>) -> Site {
    let templates: HashMap<String, Doc> =
        serde_json::from_str::<HashMap<String, Doc>>(include_str!("templates.json"))
            .unwrap_or_default();
    let mut site = Site::new(TIME_ZONE.parse().unwrap_or(chrono_tz::UTC), templates);
    seed(&mut site);
    let companies: HashMap<String, Doc> = site
        .documents("Company")
        .map(|(name, stored)| (name.clone(), site.full("Company", stored)))
        .collect();
    site.state.companies = companies;
    site.set_today(today);
    site
}

fn seed(site: &mut Site) {
    let seed: HashMap<String, Vec<Doc>> =
        serde_json::from_str(include_str!("seed.json")).unwrap_or_default();
    let mut seeded: Vec<(String, Vec<Doc>)> = seed.into_iter().collect();
    seeded.sort_by(|a, b| a.0.cmp(&b.0));
    for (doctype, docs) in seeded {
        for doc in docs {
            seed_doc(site, &doctype, doc);
        }
    }
    for (code, name, symbol, fraction, units, smallest) in CURRENCIES {
        site.state.currencies.insert(
            code.to_string(),
            CurrencyFacts {
                smallest_fraction: smallest.parse().unwrap_or(Decimal::new(1, 2)),
                fraction_name: fraction.to_string(),
            },
        );
        seed_doc(
            site,
            "Currency",
            object(
                json!({"name": code, "currency_name": name, "enabled": 1, "symbol": symbol,
                "fraction": fraction, "fraction_units": units,
                "smallest_currency_fraction_value": smallest.parse::<f64>().unwrap_or(0.01),
                "number_format": "#,###.##"}),
            ),
        );
    }
    for name in COUNTRY_NAMES {
        let code = crate::erpnext::countries::all()
            .iter()
            .find(|(_, country)| country == name)
            .map(|(code, _)| code.to_lowercase());
        seed_doc(
            site,
            "Country",
            object(json!({"name": name, "country_name": name, "code": code})),
        );
    }
    seed_doc(
        site,
        "System Settings",
        object(
            json!({"name": "System Settings", "country": "United States",
            "language": "en", "time_zone": TIME_ZONE, "date_format": "mm-dd-yyyy",
            "time_format": "HH:mm:ss", "number_format": "#,###.##", "float_precision": "3",
            "currency_precision": "", "rounding_method": "Banker's Rounding",
            "enable_scheduler": 1}),
        ),
    );
    seed_doc(
        site,
        "Selling Settings",
        object(
            json!({"name": "Selling Settings", "cust_master_name": "Customer Name",
            "customer_group": "Individual", "territory": "United States",
            "selling_price_list": "Standard Selling", "so_required": "No", "dn_required": "No",
            "allow_multiple_items": 0, "allow_against_multiple_purchase_orders": 0,
            "maintain_same_sales_rate": 0}),
        ),
    );
}

fn seed_doc(site: &mut Site, doctype: &str, mut doc: Doc) {
    let name = text_of(&doc, "name");
    for (field, default) in [
        ("owner", json!("Administrator")),
        ("creation", json!(SEEDED_AT)),
        ("modified", json!(SEEDED_AT)),
        ("modified_by", json!("Administrator")),
        ("docstatus", json!(0)),
        ("idx", json!(0)),
    ] {
        doc.entry(field.to_string()).or_insert(default);
    }
    doc.insert("doctype".into(), json!(doctype));
    site.store_seeded(doctype, name, doc);
}

/// (code, name, symbol, fraction, fraction units, smallest fraction value).
const CURRENCIES: &[(&str, &str, &str, &str, u32, &str)] = &[
    ("USD", "US Dollar", "$", "Cent", 100, "0.01"),
    ("EUR", "Euro", "€", "Cent", 100, "0.01"),
    ("GBP", "Pound Sterling", "£", "Penny", 100, "0.01"),
    ("CAD", "Canadian Dollar", "$", "Cent", 100, "0.01"),
    ("AUD", "Australian Dollar", "$", "Cent", 100, "0.01"),
    ("NZD", "New Zealand Dollar", "$", "Cent", 100, "0.01"),
    ("CHF", "Swiss Franc", "Fr", "Rappen", 100, "0.05"),
    ("SEK", "Swedish Krona", "kr", "Öre", 100, "0.01"),
    ("NOK", "Norwegian Krone", "kr", "Øre", 100, "0.01"),
    ("DKK", "Danish Krone", "kr", "Øre", 100, "0.01"),
    ("PLN", "Zloty", "zł", "Grosz", 100, "0.01"),
    ("CZK", "Czech Koruna", "Kč", "Haléř", 100, "0.01"),
    ("JPY", "Yen", "¥", "Sen", 100, "1"),
    ("CNY", "Yuan Renminbi", "¥", "Fen", 100, "0.01"),
    ("INR", "Indian Rupee", "₹", "Paisa", 100, "0.01"),
    ("MXN", "Mexican Peso", "$", "Centavo", 100, "0.01"),
    ("BRL", "Brazilian Real", "R$", "Centavo", 100, "0.01"),
    ("ZAR", "Rand", "R", "Cent", 100, "0.01"),
    ("SGD", "Singapore Dollar", "$", "Cent", 100, "0.01"),
    ("HKD", "Hong Kong Dollar", "$", "Cent", 100, "0.1"),
    ("AED", "UAE Dirham", "د.إ", "Fils", 100, "0.01"),
];

const COUNTRY_NAMES: &[&str] = &[
    "United States",
    "United Kingdom",
    "Canada",
    "Australia",
    "New Zealand",
    "Ireland",
    "Germany",
    "France",
    "Netherlands",
    "Belgium",
    "Luxembourg",
    "Switzerland",
    "Austria",
    "Italy",
    "Spain",
    "Portugal",
    "Sweden",
    "Norway",
    "Denmark",
    "Finland",
    "Iceland",
    "Poland",
    "Czech Republic",
    "Slovakia",
    "Hungary",
    "Romania",
    "Bulgaria",
    "Greece",
    "Croatia",
    "Slovenia",
    "Estonia",
    "Latvia",
    "Lithuania",
    "Malta",
    "Cyprus",
    "Turkey",
    "Russian Federation",
    "Ukraine",
    "Israel",
    "United Arab Emirates",
    "Saudi Arabia",
    "Qatar",
    "Egypt",
    "South Africa",
    "Nigeria",
    "Kenya",
    "Morocco",
    "India",
    "Pakistan",
    "Bangladesh",
    "Sri Lanka",
    "China",
    "Hong Kong",
    "Taiwan",
    "Japan",
    "Korea, Republic of",
    "Singapore",
    "Malaysia",
    "Thailand",
    "Indonesia",
    "Philippines",
    "Viet Nam",
    "Mexico",
    "Brazil",
    "Argentina",
    "Chile",
    "Colombia",
    "Peru",
];

#[cfg(test)]
mod tests {
    use rust_decimal::Decimal;

    use super::fresh_site;
    use crate::simulators::erpnext::controllers::selling::currency_facts;

    #[test]
    fn the_fresh_site_has_its_templates_and_masters() {
        let site = fresh_site(None);
        for doctype in [
            "Sales Order",
            "Sales Order Item",
            "Sales Invoice",
            "Payment Entry",
            "Customer",
            "Item",
        ] {
            assert!(!site.new_doc(doctype).is_empty(), "template for {doctype}");
        }
        for (doctype, name) in [
            ("Company", "Test Company"),
            ("Account", "Debtors - TC"),
            ("Account", "ST 4% - TC"),
            ("Warehouse", "Stores - TC"),
            ("Mode of Payment", "Wire Transfer"),
            ("Currency", "JPY"),
            ("Country", "United States"),
            ("System Settings", "System Settings"),
        ] {
            assert!(site.exists(doctype, name), "{doctype} {name}");
        }
        assert_eq!(currency_facts(&site, "JPY").smallest_fraction, Decimal::ONE);
    }
}
