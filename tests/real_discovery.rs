//! Real-system tier, the new-connection form's look at both sides: the same reads (tax rates,
//! shipping methods, payment gateways, order statuses; companies, warehouses, accounts, Modes
//! of Payment, price lists) and the same proposal on the simulators and on the real pair, and
//! the same refusal of a wrong key. Skipped, and said so, when the real pair is not configured.

mod real_pair;

use std::collections::BTreeSet;

use woocommerce_sync::connection::{Connection, Credentials};
use woocommerce_sync::simulators::{erpnext, woocommerce};
use woocommerce_sync::sync::context::CallSettings;
use woocommerce_sync::sync::discovery::{discover, propose, test_connection, SideCheck};

fn draft(
    woo_url: url::Url,
    key: &str,
    secret: &str,
    erp_url: url::Url,
    api_key: &str,
    api_secret: &str,
) -> Connection {
    let mut draft = Connection::with_defaults(
        "discovery",
        woo_url,
        erp_url,
        Credentials {
            consumer_key: key.into(),
            consumer_secret: secret.into(),
            webhook_secret: "w".repeat(24),
            api_key: api_key.into(),
            api_secret: api_secret.into(),
        },
    );
    draft.company = "Test Company".into();
    draft
}

fn calls() -> CallSettings {
    CallSettings {
        retry: real_pair::patient_retries(),
        ..CallSettings::default()
    }
}

/// What must read the same on both: the standard statuses, the built-in shipping methods, the
/// seeded chart's tax accounts with their rates, and what the proposal makes of them.
async fn story(side: &str, connection: &Connection) -> Vec<String> {
    let test = test_connection(connection, &calls()).await;
    assert!(test.passed(), "{side}: {test:?}");
    let found = discover(connection, &calls())
        .await
        .unwrap_or_else(|error| panic!("{side}: {error}"));
    let mut seen = Vec::new();
    let statuses: BTreeSet<&str> = found
        .order_statuses
        .iter()
        .map(|s| s.slug.as_str())
        .collect();
    seen.push(format!("statuses {statuses:?}"));
    let methods: BTreeSet<&str> = found
        .shipping_methods
        .iter()
        .map(|m| m.id.as_str())
        .collect();
    seen.push(format!("shipping methods {methods:?}"));
    assert!(!found.tax_rates.is_empty(), "{side}: no tax rates");
    assert!(
        found
            .tax_rates
            .iter()
            .all(|rate| rate.id > 0 && rate.rate > rust_decimal::Decimal::ZERO),
        "{side}: {:?}",
        found.tax_rates
    );
    for gateway in ["bacs", "cheque", "cod"] {
        assert!(
            found
                .payment_gateways
                .iter()
                .any(|g| g.id == gateway && g.enabled),
            "{side}: {gateway} is not listed"
        );
    }
    let company = found
        .companies
        .iter()
        .find(|c| c.name == "Test Company")
        .unwrap();
    seen.push(format!(
        "company {} {}",
        company.abbr, company.default_currency
    ));
    for account in ["ST 4% - TC", "ST 6.25% - TC", "ST 6% - TC"] {
        let found = found.accounts.iter().find(|a| a.name == account);
        seen.push(format!(
            "{account}: {:?}",
            found.map(|a| (&a.account_type, a.tax_rate))
        ));
    }
    for mode in ["Cash", "Check", "Credit Card", "Wire Transfer"] {
        seen.push(format!(
            "mode {mode}: {}",
            found.modes_of_payment.iter().any(|m| m == mode)
        ));
    }
    seen.push(format!(
        "Standard Selling: {}",
        found
            .price_lists
            .iter()
            .any(|list| list == "Standard Selling")
    ));
    let proposal = propose(connection, found);
    let proposed = &proposal.connection;
    seen.push(format!("warehouse {}", proposed.default_warehouse));
    seen.push(format!("rounding {:?}", proposed.rounding_account));
    for gateway in ["bacs", "cheque", "cod"] {
        seen.push(format!(
            "{gateway} → {:?}",
            proposed
                .mappings
                .payment_methods
                .get(gateway)
                .map(|t| &t.mode_of_payment)
        ));
    }
    seen
}

#[tokio::test]
async fn both_sides_are_read_and_proposed_the_same_on_the_simulators_and_the_real_pair() {
    let woo = woocommerce::start(woocommerce::WooSimOptions {
        orders: 3,
        ..woocommerce::WooSimOptions::default()
    })
    .await
    .unwrap();
    let erp = erpnext::start(erpnext::ErpSimOptions::default())
        .await
        .unwrap();
    let simulated = story(
        "simulators",
        &draft(
            woo.base_url(),
            woocommerce::TEST_CONSUMER_KEY,
            woocommerce::TEST_CONSUMER_SECRET,
            erp.base_url().clone(),
            erp.api_key(),
            erp.api_secret(),
        ),
    )
    .await;
    let Some((real_erp, real_woo)) = real_pair::real_pair() else {
        return;
    };
    let real = story(
        "real pair",
        &draft(
            real_woo.url.clone(),
            &real_woo.consumer_key,
            &real_woo.consumer_secret,
            real_erp.url.clone(),
            &real_erp.api_key,
            &real_erp.api_secret,
        ),
    )
    .await;
    assert_eq!(simulated, real);
}

#[tokio::test]
async fn wrong_keys_are_refused_with_advice_on_both() {
    let woo = woocommerce::start(woocommerce::WooSimOptions::default())
        .await
        .unwrap();
    let erp = erpnext::start(erpnext::ErpSimOptions::default())
        .await
        .unwrap();
    let mut sides = vec![(
        "simulators",
        draft(
            woo.base_url(),
            woocommerce::TEST_CONSUMER_KEY,
            "cs_wrong",
            erp.base_url().clone(),
            erp.api_key(),
            "wrong",
        ),
    )];
    if let Some((real_erp, real_woo)) = real_pair::real_pair() {
        sides.push((
            "real pair",
            draft(
                real_woo.url.clone(),
                &real_woo.consumer_key,
                "cs_wrong",
                real_erp.url.clone(),
                &real_erp.api_key,
                "wrong",
            ),
        ));
    }
    for (side, connection) in sides {
        let test = test_connection(&connection, &calls()).await;
        assert!(test.refused(), "{side}: {test:?}");
        for (check, advice) in [
            (
                &test.woocommerce,
                "WooCommerce refused the consumer key and secret",
            ),
            (&test.erpnext, "ERPNext refused the API key and secret"),
        ] {
            assert!(
                matches!(check, SideCheck::Refused { .. }),
                "{side}: {check:?}"
            );
            assert!(
                check.advice().unwrap().starts_with(advice),
                "{side}: {check:?}"
            );
        }
    }
}
