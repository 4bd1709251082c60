//! A deterministic, realistic shop: products (simple and variable, with SKUs),
//! registered and guest buyers who come back, several tax rates, flat-rate and
//! free shipping, fees both ways, percent and fixed coupons, every status, some
//! refunds and a few lines whose product was deleted. Totals are computed the
//! way WooCommerce computes them, so every order reconciles to the cent.

use chrono::{Duration, NaiveDateTime};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rust_decimal::Decimal;
use serde_json::{json, Value};

use super::state::{decimal_number, refund_value, Shop, StoredOrder, DATE_FORMAT};
use crate::money::round_money;

/// One of the store's tax rates.
#[derive(Debug, Clone)]
pub struct TaxRate {
    pub id: u64,
    pub label: &'static str,
    pub rate_code: &'static str,
    pub percent: Decimal,
    /// `""` for the standard class.
    pub class: &'static str,
    /// `None`: every US state.
    pub state: Option<&'static str>,
    pub shipping: bool,
}

/// The store's rates, modelled on the recorded lab store (plus Washington).
pub fn tax_rates() -> Vec<TaxRate> {
    vec![
        TaxRate {
            id: 1,
            label: "CA State Tax",
            rate_code: "US-CA-CA STATE TAX-1",
            percent: Decimal::new(725, 2),
            class: "",
            state: Some("CA"),
            shipping: true,
        },
        TaxRate {
            id: 2,
            label: "CA County Tax",
            rate_code: "US-CA-CA COUNTY TAX-2",
            percent: Decimal::new(1, 0),
            class: "",
            state: Some("CA"),
            shipping: false,
        },
        TaxRate {
            id: 3,
            label: "NY Tax",
            rate_code: "US-NY-NY TAX-1",
            percent: Decimal::new(8875, 3),
            class: "",
            state: Some("NY"),
            shipping: true,
        },
        TaxRate {
            id: 4,
            label: "US Reduced",
            rate_code: "US-US REDUCED-1",
            percent: Decimal::new(25, 1),
            class: "reduced-rate",
            state: None,
            shipping: false,
        },
        TaxRate {
            id: 5,
            label: "WA State Tax",
            rate_code: "US-WA-WA STATE TAX-1",
            percent: Decimal::new(65, 1),
            class: "",
            state: Some("WA"),
            shipping: true,
        },
    ]
}

fn rates_for<'a>(rates: &'a [TaxRate], state: &str, class: &str) -> Vec<&'a TaxRate> {
    rates
        .iter()
        .filter(|rate| rate.class == class && rate.state.map_or(true, |only| only == state))
        .collect()
}

/// One line of a cart: what was bought, at which unit price.
#[derive(Debug, Clone)]
pub struct CartLine {
    pub product_id: u64,
    pub variation_id: u64,
    pub name: String,
    pub parent_name: Option<String>,
    /// `None` for a product that no longer exists.
    pub sku: Option<String>,
    pub unit_price: Decimal,
    pub quantity: u32,
    pub tax_class: String,
    pub meta: Vec<(String, String, String)>,
    /// The `subtotal` and `total` a REST create gave for the line (the store keeps them instead of
    /// pricing the line from the catalog).
    pub given: Option<(Decimal, Decimal)>,
}

#[derive(Debug, Clone)]
pub enum Coupon {
    Percent { code: String, percent: Decimal },
    FixedCart { code: String, amount: Decimal },
}

#[derive(Debug, Clone)]
pub struct Fee {
    pub name: String,
    /// Negative for a discount given as a fee (never taxed here).
    pub amount: Decimal,
    /// `tax_status: none` leaves a fee untaxed.
    pub taxable: bool,
}

#[derive(Debug, Clone)]
pub enum Shipping {
    FlatRate(Decimal),
    Free,
    None,
}

/// Everything needed to price an order.
#[derive(Debug, Clone)]
pub struct Cart {
    pub lines: Vec<CartLine>,
    pub coupon: Option<Coupon>,
    pub fees: Vec<Fee>,
    pub shipping: Shipping,
    /// The state taxes are based on (the shipping address).
    pub state: String,
    /// The order's `is_vat_exempt` meta is `yes`: WooCommerce computes no tax at all.
    pub vat_exempt: bool,
    /// The flat-rate line's `method_id` and `method_title`, when a REST create named them.
    pub shipping_method: Option<(String, String)>,
}

/// The parts of an order that are not priced.
#[derive(Debug, Clone)]
pub struct OrderHeader {
    pub id: u64,
    pub status: String,
    pub customer_id: u64,
    pub billing: Value,
    pub shipping: Value,
    pub payment_method: (String, String),
    pub created_gmt: NaiveDateTime,
    pub modified_gmt: NaiveDateTime,
    pub created_via: String,
    pub customer_note: String,
    pub meta_data: Vec<Value>,
}

fn money(value: Decimal) -> String {
    format!("{:.2}", round_money(value, 2))
}

fn date_pair(shop: &Shop, gmt: Option<NaiveDateTime>) -> (Value, Value) {
    match gmt {
        Some(gmt) => (
            json!(shop.local(gmt).format(DATE_FORMAT).to_string()),
            json!(gmt.format(DATE_FORMAT).to_string()),
        ),
        None => (Value::Null, Value::Null),
    }
}

fn take_item_id(shop: &mut Shop) -> u64 {
    let id = shop.next_item_id;
    shop.next_item_id += 1;
    id
}

/// Prices a cart the way WooCommerce does (coupon per line, taxes per line and
/// rate rounded to cents) and returns the order JSON.
pub fn build_order(shop: &mut Shop, header: &OrderHeader, cart: &Cart) -> Value {
    let rates = if cart.vat_exempt {
        Vec::new()
    } else {
        tax_rates()
    };
    let hundred = Decimal::ONE_HUNDRED;
    let subtotals: Vec<Decimal> = cart
        .lines
        .iter()
        .map(|line| match line.given {
            Some((subtotal, _)) => subtotal,
            None => line.unit_price * Decimal::from(line.quantity),
        })
        .collect();
    let cart_subtotal: Decimal = subtotals.iter().sum();

    // The coupon's share of each line, before tax.
    let mut discounts = vec![Decimal::ZERO; cart.lines.len()];
    match &cart.coupon {
        Some(Coupon::Percent { percent, .. }) => {
            for (discount, subtotal) in discounts.iter_mut().zip(&subtotals) {
                *discount = round_money(subtotal * percent / hundred, 2);
            }
        }
        Some(Coupon::FixedCart { amount, .. }) if cart_subtotal > Decimal::ZERO => {
            let amount = (*amount).min(cart_subtotal);
            let mut given = Decimal::ZERO;
            let last = subtotals.len().saturating_sub(1);
            for (index, subtotal) in subtotals.iter().enumerate() {
                let share = if index == last {
                    amount - given
                } else {
                    round_money(amount * subtotal / cart_subtotal, 2)
                };
                let share = share.min(*subtotal);
                discounts[index] = share;
                given += share;
            }
        }
        _ => {}
    }

    // Tax totals per rate id: (items and fees, shipping).
    let mut per_rate: Vec<(u64, Decimal, Decimal)> = Vec::new();
    let mut add_tax = |rate_id: u64, cart_tax: Decimal, shipping_tax: Decimal| match per_rate
        .iter_mut()
        .find(|(id, _, _)| *id == rate_id)
    {
        Some(entry) => {
            entry.1 += cart_tax;
            entry.2 += shipping_tax;
        }
        None => per_rate.push((rate_id, cart_tax, shipping_tax)),
    };

    let mut line_items = Vec::new();
    let (mut lines_total, mut discount_total, mut discount_tax) =
        (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO);
    for (index, line) in cart.lines.iter().enumerate() {
        let subtotal = subtotals[index];
        let total = match line.given {
            Some((_, total)) => total,
            None => subtotal - discounts[index],
        };
        let mut taxes = Vec::new();
        let (mut subtotal_tax, mut total_tax) = (Decimal::ZERO, Decimal::ZERO);
        for rate in rates_for(&rates, &cart.state, &line.tax_class) {
            let on_total = round_money(total * rate.percent / hundred, 2);
            let on_subtotal = round_money(subtotal * rate.percent / hundred, 2);
            subtotal_tax += on_subtotal;
            total_tax += on_total;
            add_tax(rate.id, on_total, Decimal::ZERO);
            taxes.push(
                json!({ "id": rate.id, "total": money(on_total), "subtotal": money(on_subtotal) }),
            );
        }
        lines_total += total;
        discount_total += subtotal - total;
        discount_tax += subtotal_tax - total_tax;
        let price = if line.quantity == 0 {
            Decimal::ZERO
        } else {
            round_money(total / Decimal::from(line.quantity), 6)
        };
        let meta: Vec<Value> = line
            .meta
            .iter()
            .map(|(key, value, display_key)| {
                json!({ "id": shop.take_meta_id(), "key": key, "value": value,
                        "display_key": display_key, "display_value": value })
            })
            .collect();
        line_items.push(json!({
            "id": take_item_id(shop),
            "name": line.name,
            "product_id": line.product_id,
            "variation_id": line.variation_id,
            "quantity": line.quantity,
            "tax_class": line.tax_class,
            "subtotal": money(subtotal),
            "subtotal_tax": money(subtotal_tax),
            "total": money(total),
            "total_tax": money(total_tax),
            "taxes": taxes,
            "meta_data": meta,
            "sku": line.sku,
            "global_unique_id": if line.sku.is_some() { json!("") } else { Value::Null },
            "price": decimal_number(price),
            "image": { "id": 0, "src": "" },
            "parent_name": line.parent_name,
        }));
    }

    let mut fee_lines = Vec::new();
    let mut fees_total = Decimal::ZERO;
    for fee in &cart.fees {
        let taxable = fee.taxable && fee.amount > Decimal::ZERO;
        let mut taxes = Vec::new();
        let mut fee_tax = Decimal::ZERO;
        if taxable {
            for rate in rates_for(&rates, &cart.state, "") {
                let tax = round_money(fee.amount * rate.percent / hundred, 2);
                fee_tax += tax;
                add_tax(rate.id, tax, Decimal::ZERO);
                taxes.push(json!({ "id": rate.id, "total": money(tax), "subtotal": "" }));
            }
        }
        fees_total += fee.amount;
        fee_lines.push(json!({
            "id": take_item_id(shop),
            "name": fee.name,
            "tax_class": "",
            "tax_status": if taxable { "taxable" } else { "none" },
            "amount": money(fee.amount),
            "total": money(fee.amount),
            "total_tax": money(fee_tax),
            "taxes": taxes,
            "meta_data": [],
        }));
    }

    // "Shipping tax class based on cart items": only reduced-rate items means the
    // reduced class, whose rate does not tax shipping.
    let only_reduced = !cart.lines.is_empty()
        && cart
            .lines
            .iter()
            .all(|line| line.tax_class == "reduced-rate");
    let mut shipping_lines = Vec::new();
    let mut shipping_total = Decimal::ZERO;
    match &cart.shipping {
        Shipping::FlatRate(amount) => {
            let mut taxes = Vec::new();
            let mut shipping_tax = Decimal::ZERO;
            if !only_reduced {
                for rate in rates_for(&rates, &cart.state, "")
                    .into_iter()
                    .filter(|rate| rate.shipping)
                {
                    let tax = round_money(amount * rate.percent / hundred, 2);
                    shipping_tax += tax;
                    add_tax(rate.id, Decimal::ZERO, tax);
                    taxes.push(json!({ "id": rate.id, "total": money(tax), "subtotal": "" }));
                }
            }
            shipping_total = *amount;
            let (method_id, method_title) = cart
                .shipping_method
                .clone()
                .unwrap_or_else(|| ("flat_rate".to_string(), "Flat rate".to_string()));
            shipping_lines.push(json!({
                "id": take_item_id(shop), "method_title": method_title, "method_id": method_id,
                "instance_id": "1", "total": money(*amount), "total_tax": money(shipping_tax),
                "taxes": taxes, "tax_status": "taxable", "meta_data": [],
            }));
        }
        Shipping::Free => {
            shipping_lines.push(json!({
                "id": take_item_id(shop), "method_title": "Free shipping", "method_id": "free_shipping",
                "instance_id": "2", "total": "0.00", "total_tax": "0.00",
                "taxes": [], "tax_status": "taxable", "meta_data": [],
            }));
        }
        Shipping::None => {}
    }

    let mut tax_lines = Vec::new();
    let (mut cart_tax, mut shipping_tax) = (Decimal::ZERO, Decimal::ZERO);
    for (rate_id, items_tax, rate_shipping_tax) in &per_rate {
        let Some(rate) = rates.iter().find(|rate| rate.id == *rate_id) else {
            continue;
        };
        cart_tax += items_tax;
        shipping_tax += rate_shipping_tax;
        tax_lines.push(json!({
            "id": take_item_id(shop), "rate_code": rate.rate_code, "rate_id": rate.id,
            "label": rate.label, "compound": false, "tax_total": money(*items_tax),
            "shipping_tax_total": money(*rate_shipping_tax),
            "rate_percent": decimal_number(rate.percent), "meta_data": [],
        }));
    }
    let total_tax = cart_tax + shipping_tax;
    let total = lines_total + fees_total + shipping_total + total_tax;

    let coupon_lines: Vec<Value> = match &cart.coupon {
        Some(coupon) => {
            let (code, kind, nominal) = match coupon {
                Coupon::Percent { code, percent } => (code, "percent", *percent),
                Coupon::FixedCart { code, amount } => (code, "fixed_cart", *amount),
            };
            vec![json!({
                "id": take_item_id(shop), "code": code, "discount": money(discount_total),
                "discount_tax": money(discount_tax), "meta_data": [], "discount_type": kind,
                "nominal_amount": decimal_number(nominal), "free_shipping": false,
            })]
        }
        None => Vec::new(),
    };

    let paid = matches!(
        header.status.as_str(),
        "processing" | "completed" | "refunded"
    );
    let (date_created, date_created_gmt) = date_pair(shop, Some(header.created_gmt));
    let (date_modified, date_modified_gmt) = date_pair(shop, Some(header.modified_gmt));
    let (date_paid, date_paid_gmt) = date_pair(shop, paid.then_some(header.created_gmt));
    let completed = (header.status == "completed").then_some(header.modified_gmt);
    let (date_completed, date_completed_gmt) = date_pair(shop, completed);
    let id = header.id;
    let order_key = format!("wc_order_sim{id:010}");
    let base = shop.base_url.clone();
    let mut links = json!({
        "self": [{ "href": format!("{base}/wp-json/wc/v3/orders/{id}"),
                   "targetHints": { "allow": ["GET", "POST", "PUT", "PATCH", "DELETE"] } }],
        "collection": [{ "href": format!("{base}/wp-json/wc/v3/orders") }],
    });
    if header.customer_id != 0 {
        links["customer"] =
            json!([{ "href": format!("{base}/wp-json/wc/v3/customers/{}", header.customer_id) }]);
    }
    let mut order = json!({
        "id": id,
        "parent_id": 0,
        "status": header.status,
        "currency": "USD",
        "version": "11.0.1",
        "prices_include_tax": false,
        "date_created": date_created,
        "date_modified": date_modified,
        "discount_total": money(discount_total),
        "discount_tax": money(discount_tax),
        "shipping_total": money(shipping_total),
        "shipping_tax": money(shipping_tax),
        "cart_tax": money(cart_tax),
        "total": money(total),
        "total_tax": money(total_tax),
    });
    let rest = json!({
        "customer_id": header.customer_id,
        "order_key": order_key,
        "billing": header.billing,
        "shipping": header.shipping,
        "payment_method": header.payment_method.0,
        "payment_method_title": header.payment_method.1,
        "transaction_id": if paid && header.payment_method.0 == "stripe" { format!("ch_sim{id}") } else { String::new() },
        "customer_ip_address": "",
        "customer_user_agent": "",
        "created_via": header.created_via,
        "customer_note": header.customer_note,
        "date_completed": date_completed,
        "date_paid": date_paid,
        "cart_hash": "",
        "number": id.to_string(),
    });
    let lines = json!({
        "meta_data": header.meta_data,
        "line_items": line_items,
        "tax_lines": tax_lines,
        "shipping_lines": shipping_lines,
        "fee_lines": fee_lines,
        "coupon_lines": coupon_lines,
        "refunds": [],
        "payment_url": format!("{base}/checkout/order-pay/{id}/?pay_for_order=true&key={order_key}"),
        "is_editable": matches!(header.status.as_str(), "pending" | "on-hold" | "auto-draft"),
        "needs_payment": matches!(header.status.as_str(), "pending" | "failed") && total > Decimal::ZERO,
        "needs_processing": true,
        "date_created_gmt": date_created_gmt,
        "date_modified_gmt": date_modified_gmt,
        "date_completed_gmt": date_completed_gmt,
        "date_paid_gmt": date_paid_gmt,
        "currency_symbol": "$",
        "_links": links,
    });
    for part in [rest, lines] {
        if let (Some(order), Value::Object(fields)) = (order.as_object_mut(), part) {
            order.extend(fields);
        }
    }
    order
}

const FIRST_NAMES: [&str; 16] = [
    "Ada",
    "Grace",
    "Alan",
    "Edsger",
    "Barbara",
    "Donald",
    "Frances",
    "John",
    "Katherine",
    "Linus",
    "Margaret",
    "Niklaus",
    "Radia",
    "Ken",
    "Sophie",
    "Tim",
];
const LAST_NAMES: [&str; 16] = [
    "Lovelace",
    "Hopper",
    "Turing",
    "Dijkstra",
    "Liskov",
    "Knuth",
    "Allen",
    "Backus",
    "Johnson",
    "Torvalds",
    "Hamilton",
    "Wirth",
    "Perlman",
    "Thompson",
    "Wilson",
    "Berners-Lee",
];
/// (state, city, postcode, street)
const PLACES: [(&str, &str, &str, &str); 8] = [
    ("CA", "San Francisco", "94103", "Market St"),
    ("CA", "Los Angeles", "90012", "Spring St"),
    ("NY", "New York", "10001", "W 34th St"),
    ("NY", "Buffalo", "14202", "Main St"),
    ("WA", "Seattle", "98101", "Pike St"),
    ("OR", "Portland", "97201", "SW Broadway"),
    ("TX", "Austin", "73301", "Congress Ave"),
    ("CA", "San Diego", "92101", "Harbor Dr"),
];
/// The payment gateways the simulated store has installed (id, title), all enabled.
pub(crate) const GATEWAYS: [(&str, &str); 5] = [
    ("stripe", "Credit Card (Stripe)"),
    ("ppcp-gateway", "PayPal"),
    ("bacs", "Direct bank transfer"),
    ("cod", "Cash on delivery"),
    ("cheque", "Check payments"),
];
const STATUSES: [(&str, u32); 9] = [
    ("processing", 35),
    ("completed", 30),
    ("pending", 10),
    ("on-hold", 7),
    ("cancelled", 6),
    ("refunded", 4),
    ("failed", 4),
    ("checkout-draft", 1),
    ("trash", 1),
];

/// A buyer: registered (customer id) or guest (id 0), with one address.
#[derive(Clone)]
struct Buyer {
    customer_id: u64,
    first_name: &'static str,
    last_name: &'static str,
    email: String,
    place: (&'static str, &'static str, &'static str, &'static str),
    house: u32,
}

impl Buyer {
    fn address(&self, with_email: bool) -> Value {
        let (state, city, postcode, street) = self.place;
        let mut address = json!({
            "first_name": self.first_name, "last_name": self.last_name, "company": "",
            "address_1": format!("{} {street}", self.house), "address_2": "", "city": city,
            "state": state, "postcode": postcode, "country": "US", "phone": "+1 555 0100",
        });
        if with_email {
            address["email"] = json!(self.email);
        }
        address
    }
}

/// Something a buyer can put in a cart.
struct Sellable {
    product_id: u64,
    variation_id: u64,
    name: String,
    parent_name: Option<String>,
    sku: String,
    price: Decimal,
    tax_class: &'static str,
    size: Option<&'static str>,
}

/// Fills the shop with a catalog, customers and `order_count` orders, all
/// determined by `seed`; dates end now.
pub fn generate_shop(shop: &mut Shop, order_count: usize, seed: u64) {
    generate_tagged_shop(shop, order_count, seed, "");
}

/// [`generate_shop`] with `tag` in every SKU (`TAG-SIM-001`) and buyer email
/// (`ada.lovelace3.tag@example.test`), so that a shop generated again with the same seed meets
/// none of the Items and Customers an earlier one left in a real ERPNext (both are keyed by
/// them). The shop is otherwise the same: the tag draws nothing from the random sequence.
pub fn generate_tagged_shop(shop: &mut Shop, order_count: usize, seed: u64, tag: &str) {
    let mut rng = StdRng::seed_from_u64(seed);
    let now = shop.now_gmt();
    let mut sellables = generate_catalog(shop, &mut rng, now - Duration::days(400));
    if !tag.is_empty() {
        for sellable in &mut sellables {
            sellable.sku = format!("{tag}-{}", sellable.sku);
        }
        for product in shop.products.values_mut() {
            if let Some(sku) = product["sku"].as_str().filter(|sku| !sku.is_empty()) {
                product["sku"] = json!(format!("{tag}-{sku}"));
            }
        }
    }
    let email_tag = if tag.is_empty() {
        String::new()
    } else {
        format!(".{}", tag.to_lowercase())
    };

    let registered = (order_count / 20).clamp(3, 5_000);
    let mut buyers = Vec::new();
    for index in 0..registered {
        let customer_id = 2 + index as u64;
        let buyer = random_buyer(&mut rng, customer_id, index, &email_tag);
        let created = now - Duration::days(420);
        let (local, gmt) = date_pair(shop, Some(created));
        let username = format!("{}{}", buyer.first_name.to_lowercase(), customer_id);
        shop.customers.insert(customer_id, json!({
            "id": customer_id, "date_created": local, "date_created_gmt": gmt,
            "date_modified": local, "date_modified_gmt": gmt, "email": buyer.email,
            "first_name": buyer.first_name, "last_name": buyer.last_name, "role": "customer",
            "username": username, "billing": buyer.address(true), "shipping": buyer.address(false),
            "is_paying_customer": true, "avatar_url": "", "meta_data": [],
        }));
        buyers.push(buyer);
    }
    let guests: Vec<Buyer> = (0..(order_count / 4).clamp(5, 50_000))
        .map(|index| random_buyer(&mut rng, 0, registered + index, &email_tag))
        .collect();

    let status_weight_total: u32 = STATUSES.iter().map(|(_, weight)| weight).sum();
    let span_seconds = 365 * 24 * 3600_i64;
    let start = now - Duration::seconds(span_seconds);
    let step = span_seconds / (order_count.max(1) as i64);
    let first_id = shop.next_order_id.max(1000);
    shop.next_order_id = first_id;
    for index in 0..order_count {
        let buyer = if rng.gen_bool(0.4) {
            &buyers[rng.gen_range(0..buyers.len())]
        } else {
            &guests[rng.gen_range(0..guests.len())]
        };
        let mut roll = rng.gen_range(0..status_weight_total);
        let mut status = "processing";
        for (candidate, weight) in STATUSES {
            if roll < weight {
                status = candidate;
                break;
            }
            roll -= weight;
        }
        let created =
            start + Duration::seconds(index as i64 * step + rng.gen_range(0..step.max(1)));
        let modified = (created + Duration::seconds(rng.gen_range(0..3 * 24 * 3600))).min(now);

        let mut lines = Vec::new();
        for _ in 0..rng.gen_range(1..=4) {
            let item = &sellables[rng.gen_range(0..sellables.len())];
            let deleted = rng.gen_bool(0.01);
            lines.push(CartLine {
                product_id: if deleted { 0 } else { item.product_id },
                variation_id: if deleted { 0 } else { item.variation_id },
                name: item.name.clone(),
                parent_name: item.parent_name.clone(),
                sku: (!deleted).then(|| item.sku.clone()),
                unit_price: item.price,
                quantity: rng.gen_range(1..=3),
                tax_class: item.tax_class.to_string(),
                meta: item
                    .size
                    .map(|size| vec![("size".to_string(), size.to_string(), "Size".to_string())])
                    .unwrap_or_default(),
                given: None,
            });
        }
        let items_subtotal: Decimal = lines
            .iter()
            .map(|line| line.unit_price * Decimal::from(line.quantity))
            .sum();
        let coupon = match rng.gen_range(0..100) {
            0..=9 => Some(Coupon::Percent {
                code: "save10".into(),
                percent: Decimal::from(10),
            }),
            10..=14 => Some(Coupon::Percent {
                code: "welcome15".into(),
                percent: Decimal::from(15),
            }),
            15..=21 => Some(Coupon::FixedCart {
                code: "fiveoff".into(),
                amount: Decimal::from(5),
            }),
            22..=24 => Some(Coupon::FixedCart {
                code: "tenoff".into(),
                amount: Decimal::from(10),
            }),
            _ => None,
        };
        let mut fees = Vec::new();
        if rng.gen_bool(0.05) {
            fees.push(Fee {
                name: "Gift wrap".into(),
                amount: Decimal::new(250, 2),
                taxable: true,
            });
        }
        if rng.gen_bool(0.03) && items_subtotal >= Decimal::from(30) {
            fees.push(Fee {
                name: "Loyalty discount".into(),
                amount: Decimal::new(-300, 2),
                taxable: true,
            });
        }
        let shipping = if rng.gen_bool(0.05) {
            Shipping::None
        } else if items_subtotal >= Decimal::from(100) || rng.gen_bool(0.05) {
            Shipping::Free
        } else {
            Shipping::FlatRate(Decimal::from(10))
        };
        let cart = Cart {
            lines,
            coupon,
            fees,
            shipping,
            state: buyer.place.0.to_string(),
            vat_exempt: false,
            shipping_method: None,
        };
        let gateway = GATEWAYS[rng.gen_range(0..GATEWAYS.len())];
        let header = OrderHeader {
            id: shop.take_order_id(),
            status: status.to_string(),
            customer_id: buyer.customer_id,
            billing: buyer.address(true),
            shipping: buyer.address(false),
            payment_method: (gateway.0.to_string(), gateway.1.to_string()),
            created_gmt: created,
            modified_gmt: modified,
            created_via: "checkout".to_string(),
            customer_note: String::new(),
            meta_data: Vec::new(),
        };
        let mut order = build_order(shop, &header, &cart);
        add_generated_refunds(shop, &mut rng, &mut order, modified);
        if let Ok(stored) = StoredOrder::from_value(&order) {
            shop.put_order(stored);
        }
    }
}

/// A refunded order gets one full refund; some paid orders a partial one.
fn add_generated_refunds(
    shop: &mut Shop,
    rng: &mut StdRng,
    order: &mut Value,
    when: NaiveDateTime,
) {
    let status = order["status"].as_str().unwrap_or_default().to_string();
    let total = order["total"]
        .as_str()
        .and_then(|text| crate::money::parse_decimal(text).ok())
        .unwrap_or_default();
    let (amount, reason) = match status.as_str() {
        "refunded" => (total, "Order fully refunded."),
        "processing" | "completed" if rng.gen_bool(0.08) => {
            (round_money(total / Decimal::from(4), 2), "Goodwill")
        }
        _ => return,
    };
    if amount <= Decimal::ZERO {
        return;
    }
    let order_id = order["id"].as_u64().unwrap_or(0);
    let refund_id = shop.take_order_id();
    let refunded_payment = matches!(
        order["payment_method"].as_str(),
        Some("stripe" | "ppcp-gateway")
    );
    let refund = refund_value(
        &shop.base_url,
        order_id,
        refund_id,
        amount,
        reason,
        refunded_payment,
        (shop.local(when), when),
        Vec::new(),
    );
    shop.refunds.entry(order_id).or_default().push(refund);
    order["refunds"] =
        json!([{ "id": refund_id, "reason": reason, "total": format!("-{amount:.2}") }]);
}

fn random_buyer(rng: &mut StdRng, customer_id: u64, index: usize, email_tag: &str) -> Buyer {
    let first_name = FIRST_NAMES[rng.gen_range(0..FIRST_NAMES.len())];
    let last_name = LAST_NAMES[rng.gen_range(0..LAST_NAMES.len())];
    Buyer {
        customer_id,
        first_name,
        last_name,
        email: format!(
            "{}.{}{index}{email_tag}@example.test",
            first_name.to_lowercase(),
            last_name.to_lowercase()
        ),
        place: PLACES[rng.gen_range(0..PLACES.len())],
        house: rng.gen_range(1..999),
    }
}

fn generate_catalog(shop: &mut Shop, rng: &mut StdRng, created: NaiveDateTime) -> Vec<Sellable> {
    const SIMPLE: [&str; 12] = [
        "Mug",
        "Poster",
        "Notebook",
        "Pen Set",
        "Tote Bag",
        "Sticker Pack",
        "Water Bottle",
        "Desk Lamp",
        "Cookbook",
        "Puzzle",
        "Coaster Set",
        "Field Guide",
    ];
    const VARIABLE: [&str; 4] = ["T-Shirt", "Hoodie", "Cap", "Socks"];
    const SIZES: [&str; 3] = ["S", "M", "L"];
    let mut sellables = Vec::new();
    let mut next_id = shop.next_product_id.max(10);
    let base = shop.base_url.clone();
    let (local, gmt) = date_pair(shop, Some(created));
    let product = |id: u64,
                   name: &str,
                   kind: &str,
                   sku: &str,
                   price: Option<Decimal>,
                   tax_class: &str,
                   parent_id: u64| {
        let price_text = price.map(money).unwrap_or_default();
        json!({
            "id": id, "name": name, "slug": name.to_lowercase().replace(' ', "-"),
            "permalink": format!("{base}/?p={id}"), "date_created": local, "date_created_gmt": gmt,
            "date_modified": local, "date_modified_gmt": gmt, "type": kind, "status": "publish",
            "featured": false, "catalog_visibility": "visible", "description": "", "short_description": "",
            "sku": sku, "price": price_text, "regular_price": price_text, "sale_price": "",
            "on_sale": false, "date_on_sale_from": null, "date_on_sale_to": null, "purchasable": true, "total_sales": 0, "virtual": false,
            "downloadable": false, "tax_status": "taxable", "tax_class": tax_class,
            "manage_stock": price.is_some(), "stock_quantity": price.map(|_| 100), "stock_status": "instock",
            "backorders": "no", "parent_id": parent_id, "attributes": [], "variations": [],
            "meta_data": [],
            "_links": { "self": [{ "href": format!("{base}/wp-json/wc/v3/products/{id}") }] },
        })
    };
    for (index, name) in SIMPLE.iter().enumerate() {
        let id = next_id;
        next_id += 1;
        let price = Decimal::new(rng.gen_range(300..9000) / 25 * 25, 2);
        let tax_class = if matches!(*name, "Cookbook" | "Field Guide" | "Notebook") {
            "reduced-rate"
        } else {
            ""
        };
        let sku = format!("SIM-{:03}", index + 1);
        let full_name = format!("Sim {name}");
        shop.products.insert(
            id,
            product(id, &full_name, "simple", &sku, Some(price), tax_class, 0),
        );
        sellables.push(Sellable {
            product_id: id,
            variation_id: 0,
            name: full_name,
            parent_name: None,
            sku,
            price,
            tax_class,
            size: None,
        });
    }
    for (index, name) in VARIABLE.iter().enumerate() {
        let parent_id = next_id;
        next_id += 1;
        let parent_name = format!("Sim {name}");
        let parent_sku = format!("SIM-V{:02}", index + 1);
        let base_price = Decimal::new(rng.gen_range(1200..6000) / 50 * 50, 2);
        let mut variation_ids = Vec::new();
        for (size_index, size) in SIZES.iter().enumerate() {
            let id = next_id;
            next_id += 1;
            let price = base_price + Decimal::from(size_index as u32 * 2);
            let sku = format!("{parent_sku}-{size}");
            let name = format!("{parent_name} - {size}");
            let mut variation = product(id, &name, "variation", &sku, Some(price), "", parent_id);
            variation["attributes"] = json!([{ "id": 1, "name": "Size", "option": size }]);
            shop.products.insert(id, variation);
            variation_ids.push(id);
            sellables.push(Sellable {
                product_id: parent_id,
                variation_id: id,
                name,
                parent_name: Some(parent_name.clone()),
                sku,
                price,
                tax_class: "",
                size: Some(size),
            });
        }
        let mut parent = product(
            parent_id,
            &parent_name,
            "variable",
            &parent_sku,
            None,
            "",
            0,
        );
        parent["price"] = json!(money(base_price));
        parent["regular_price"] = json!("");
        parent["variations"] = json!(variation_ids);
        parent["attributes"] =
            json!([{ "id": 1, "name": "Size", "variation": true, "options": SIZES }]);
        shop.products.insert(parent_id, parent);
    }
    shop.next_product_id = next_id;
    sellables
}

/// The SKU of the `index`-th (from 1) product of a generated catalogue, in both simulators.
pub fn catalogue_sku(index: usize) -> String {
    format!("CAT-{index:05}")
}

/// `count` simple products with SKUs `CAT-00001`…, stock managed and at 0, price 10.00.
pub fn generate_catalogue(shop: &mut Shop, count: usize) {
    let now = shop.now_gmt();
    let local = shop.local(now).format(DATE_FORMAT).to_string();
    let gmt = now.format(DATE_FORMAT).to_string();
    for index in 1..=count {
        let id = shop.next_product_id.max(10);
        shop.next_product_id = id + 1;
        let sku = catalogue_sku(index);
        shop.products.insert(
            id,
            json!({
                "id": id, "name": format!("Catalogue {sku}"), "type": "simple",
                "status": "publish", "sku": sku, "price": "10.00", "regular_price": "10.00",
                "sale_price": "", "date_on_sale_from": null, "date_on_sale_to": null,
                "on_sale": false, "date_created": local, "date_created_gmt": gmt,
                "date_modified": local, "date_modified_gmt": gmt, "tax_status": "taxable",
                "tax_class": "", "manage_stock": true, "stock_quantity": 0,
                "stock_status": "outofstock", "backorders": "no", "parent_id": 0,
                "attributes": [], "variations": [], "meta_data": [],
            }),
        );
    }
}
