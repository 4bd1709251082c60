//! Which ERPNext item each order line is, and the Item to create when the shop allows it.

use serde::Serialize;

use super::customer::fingerprint;
use super::error::MappingError;
use super::fields::{fit, DATA_CHARS};
use super::rules::{MappingRules, MissingSkuRule};
use crate::woocommerce::types::{LineItem, Order};

/// The body of `POST /api/resource/Item` for an item the order needs and ERPNext may lack.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ItemDraft {
    /// `woocommerce-variation:<id>` or `woocommerce-product:<id>`, else `sku:<code>`: how the
    /// sync recognises the item if its code changed on one side.
    #[serde(skip)]
    pub identity_key: String,
    #[serde(skip)]
    pub fingerprint: String,
    pub item_code: String,
    pub item_name: String,
    pub item_group: String,
    pub stock_uom: String,
    pub woocommerce_product_id: u64,
    pub woocommerce_variation_id: u64,
    pub woocommerce_store: String,
}

/// What one WooCommerce line is in ERPNext.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LineItemCode {
    pub item_code: String,
    /// Set for lines that were booked on a generic item, so the row still says what was sold.
    pub description: Option<String>,
    /// `None` for the connection's generic item, which is never auto-created.
    pub draft: Option<ItemDraft>,
}

pub(crate) fn item_for_line(
    order: &Order,
    line: &LineItem,
    rules: &MappingRules,
) -> Result<LineItemCode, MappingError> {
    let sku = line
        .sku
        .as_deref()
        .map(str::trim)
        .filter(|sku| !sku.is_empty());
    let line_name = decode_entities(&line.name);
    let shown_name = if line_name.trim().is_empty() {
        format!(
            "Deleted WooCommerce product (order {} line {})",
            order.id, line.id
        )
    } else {
        line_name
    };
    let item_code = match (sku, &rules.missing_sku) {
        (Some(sku), _) => sku.to_string(),
        (None, MissingSkuRule::Fail) => {
            return Err(MappingError::LineWithoutSku {
                order_id: order.id,
                line_id: line.id,
                line_name: shown_name,
                product_id: line.product_id,
                variation_id: line.variation_id,
            })
        }
        (None, MissingSkuRule::UseItem(generic)) => {
            return Ok(LineItemCode {
                item_code: generic.clone(),
                description: Some(shown_name),
                draft: None,
            })
        }
        (None, MissingSkuRule::Synthesize) => {
            format!("WOO-{}-{}", line.product_id, line.variation_id)
        }
    };
    let identity_key = if line.variation_id != 0 {
        format!("woocommerce-variation:{}", line.variation_id)
    } else if line.product_id != 0 {
        format!("woocommerce-product:{}", line.product_id)
    } else {
        format!("sku:{item_code}")
    };
    let mut draft = ItemDraft {
        identity_key,
        fingerprint: String::new(),
        item_code: item_code.clone(),
        item_name: fit(&shown_name, DATA_CHARS),
        item_group: rules.item_group.clone(),
        stock_uom: rules.stock_uom.clone(),
        woocommerce_product_id: line.product_id,
        woocommerce_variation_id: line.variation_id,
        woocommerce_store: rules.connection_name.clone(),
    };
    draft.fingerprint = fingerprint(&draft);
    Ok(LineItemCode {
        item_code,
        description: None,
        draft: Some(draft),
    })
}

/// WooCommerce sends product names HTML-escaped (`Ship Your Idea &ndash; Color: Black`).
pub(crate) fn decode_entities(text: &str) -> String {
    let mut decoded = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('&') {
        decoded.push_str(&rest[..start]);
        let after = &rest[start..];
        let entity_end = after.find(';').filter(|end| *end <= 10);
        let replacement = entity_end.and_then(|end| entity_char(&after[1..end]));
        match (entity_end, replacement) {
            (Some(end), Some(character)) => {
                decoded.push(character);
                rest = &after[end + 1..];
            }
            _ => {
                decoded.push('&');
                rest = &after[1..];
            }
        }
    }
    decoded.push_str(rest);
    decoded
}

fn entity_char(name: &str) -> Option<char> {
    if let Some(number) = name.strip_prefix('#') {
        let code = match number.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => number.parse().ok()?,
        };
        return char::from_u32(code);
    }
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => '\u{a0}',
        "ndash" => '–',
        "mdash" => '—',
        "times" => '×',
        "rarr" => '→',
        "hellip" => '…',
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_the_entities_woocommerce_puts_in_names() {
        assert_eq!(
            decode_entities(
                "Ship Your Idea &ndash; Color: Black &amp; Co &#8217;s &#x41; &bogus; & x"
            ),
            "Ship Your Idea – Color: Black & Co ’s A &bogus; & x"
        );
    }
}
