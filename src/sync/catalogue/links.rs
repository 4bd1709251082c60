//! The pure core of product links: WooCommerce products and variations matched to ERPNext Items
//! by SKU. An Item's SKU is its `item_code` — what the order sync writes for an order line with
//! a SKU (`sync::mapping::items`), so the items it creates link here too. No IO.
//!
//! - A SKU is compared exactly, after trimming spaces (as the order sync trims it).
//! - A variable product is not sold itself: its variations are matched, each by its own SKU.
//! - A SKU two shop entries carry is linked to neither and reported as a duplicate: which of
//!   them the stock belongs to is a question for a person.
//! - Templates (Items with variants) are never sold, so they are neither linked nor listed.
//! - Non-stock Items (services, gift cards) are linked, for prices, but get no stock pushed.

use std::collections::{BTreeMap, HashSet};

use serde::Serialize;

use crate::store::ProductLink;

/// A WooCommerce product or variation as the link run sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShopProduct {
    /// The product, or the variable product of a variation.
    pub product_id: u64,
    /// 0 for a product.
    pub variation_id: u64,
    pub sku: String,
    pub name: String,
    /// `simple`, `variable`, `variation`, `grouped`, `external`, …
    pub kind: String,
}

/// An ERPNext Item as the link run sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErpItem {
    pub item_code: String,
    pub is_stock_item: bool,
    /// A template: its variants are the Items sold.
    pub has_variants: bool,
}

/// A SKU more than one shop entry carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DuplicateSku {
    pub sku: String,
    pub products: Vec<ShopProduct>,
}

/// What a link run found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LinkReport {
    pub matched: Vec<ProductLink>,
    /// Shop products and variations with no Item of their SKU (or no SKU at all).
    pub unmatched_in_shop: Vec<ShopProduct>,
    /// Items (not templates) no shop product sells.
    pub unmatched_in_erpnext: Vec<String>,
    pub duplicate_skus: Vec<DuplicateSku>,
    /// Matched Items ERPNext keeps no stock of: linked for prices, left out of the stock push.
    pub non_stock_items: Vec<String>,
}

/// Matches the shop's products and variations with ERPNext's Items.
pub fn match_products(shop: &[ShopProduct], items: &[ErpItem]) -> LinkReport {
    let mut by_sku: BTreeMap<String, Vec<&ShopProduct>> = BTreeMap::new();
    let mut report = LinkReport::default();
    for product in shop {
        // A variable product is sold through its variations.
        if product.kind == "variable" && product.variation_id == 0 {
            continue;
        }
        let sku = product.sku.trim();
        if sku.is_empty() {
            report.unmatched_in_shop.push(product.clone());
            continue;
        }
        by_sku.entry(sku.to_string()).or_default().push(product);
    }
    let items_by_code: BTreeMap<&str, &ErpItem> = items
        .iter()
        .filter(|item| !item.has_variants)
        .map(|item| (item.item_code.trim(), item))
        .collect();
    let mut sold = HashSet::new();
    for (sku, products) in &by_sku {
        if products.len() > 1 {
            sold.insert(sku.as_str());
            report.duplicate_skus.push(DuplicateSku {
                sku: sku.clone(),
                products: products.iter().map(|product| (*product).clone()).collect(),
            });
            continue;
        }
        let product = products[0];
        let Some(item) = items_by_code.get(sku.as_str()) else {
            report.unmatched_in_shop.push(product.clone());
            continue;
        };
        sold.insert(sku.as_str());
        if !item.is_stock_item {
            report.non_stock_items.push(item.item_code.clone());
        }
        report.matched.push(ProductLink {
            item_code: item.item_code.clone(),
            product_id: product.product_id,
            variation_id: product.variation_id,
            is_stock_item: item.is_stock_item,
            pushed_stock: None,
            pushed_prices: None,
        });
    }
    report.unmatched_in_erpnext = items_by_code
        .keys()
        .filter(|code| !sold.contains(*code))
        .map(|code| code.to_string())
        .collect();
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    fn product(product_id: u64, variation_id: u64, sku: &str, kind: &str) -> ShopProduct {
        ShopProduct {
            product_id,
            variation_id,
            sku: sku.into(),
            name: format!("product {product_id}/{variation_id}"),
            kind: kind.into(),
        }
    }

    fn item(code: &str, is_stock_item: bool, has_variants: bool) -> ErpItem {
        ErpItem {
            item_code: code.into(),
            is_stock_item,
            has_variants,
        }
    }

    #[test]
    fn products_and_variations_link_by_sku_and_the_rest_is_reported() {
        let shop = [
            product(10, 0, "MUG", "simple"),
            product(11, 0, "SHIRT", "variable"),
            product(11, 12, "SHIRT-S", "variation"),
            product(11, 13, " SHIRT-M ", "variation"),
            product(14, 0, "", "simple"),
            product(15, 0, "POSTER", "simple"),
            product(16, 0, "DUP", "simple"),
            product(17, 18, "DUP", "variation"),
            product(19, 0, "GIFT", "simple"),
        ];
        let items = [
            item("MUG", true, false),
            item("SHIRT", true, true),
            item("SHIRT-S", true, false),
            item("SHIRT-M", true, false),
            item("DUP", true, false),
            item("GIFT", false, false),
            item("BOLT", true, false),
        ];
        let report = match_products(&shop, &items);
        let linked: Vec<(&str, u64, u64)> = report
            .matched
            .iter()
            .map(|link| (link.item_code.as_str(), link.product_id, link.variation_id))
            .collect();
        assert_eq!(
            linked,
            [
                ("GIFT", 19, 0),
                ("MUG", 10, 0),
                ("SHIRT-M", 11, 13),
                ("SHIRT-S", 11, 12)
            ]
        );
        let unmatched: Vec<u64> = report
            .unmatched_in_shop
            .iter()
            .map(|product| product.product_id)
            .collect();
        assert_eq!(unmatched, [14, 15]);
        assert_eq!(report.unmatched_in_erpnext, ["BOLT"]);
        assert_eq!(report.duplicate_skus.len(), 1);
        assert_eq!(report.duplicate_skus[0].sku, "DUP");
        assert_eq!(report.duplicate_skus[0].products.len(), 2);
        assert_eq!(report.non_stock_items, ["GIFT"]);
        assert!(!report.matched[0].is_stock_item);
    }
}
