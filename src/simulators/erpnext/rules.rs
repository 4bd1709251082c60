//! Field rules every document goes through on the real site, whatever its doctype: the checks of
//! Frappe's `BaseDocument` (`_validate_links`, `_validate_selects`, `_validate_length`) and the one
//! MariaDB adds when the row is written (TEXT columns hold 65,535 bytes).
//!
//! They work on the column facts of `meta` plus the site's Custom Fields, so a custom field
//! created as Data is limited to 140 characters and one created as Small Text is not.
//! Messages, statuses and `exc_type`s are the real site's (research §5, checked on the lab).

use serde_json::Value;

use super::error::SiteError;
use super::meta::{Column, FieldMeta, TEXT_MAX_BYTES, VARCHAR_LEN};
use super::values::Doc;

/// The MariaDB database of the lab site, named in MariaDB's "Incorrect string value" message.
const DATABASE_NAME: &str = "erpnext_lab";

/// A document's fields and its child tables' fields, as the rules need them.
pub struct Shape<'a> {
    pub doctype: &'a str,
    /// Checked fields: the doctype's own, then its Custom Fields.
    pub fields: Vec<&'a FieldMeta>,
    /// (table fieldname, child doctype, the child doctype's checked fields).
    pub tables: Vec<(&'a str, &'a str, Vec<&'a FieldMeta>)>,
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(text) if text.is_empty() => None,
        Value::String(text) => Some(text.clone()),
        Value::Bool(flag) => Some(if *flag { "1" } else { "0" }.to_string()),
        Value::Number(number) => Some(number.to_string()),
        // Lists and objects are child tables or JSON, never a varchar value.
        _ => None,
    }
}

fn label(field: &FieldMeta) -> &str {
    if field.label.is_empty() {
        &field.fieldname
    } else {
        &field.label
    }
}

/// Each child row of `doc` with its 1-based `idx`, table by table.
fn child_rows<'d>(doc: &'d Doc, table: &str) -> impl Iterator<Item = (usize, &'d Doc)> {
    doc.get(table)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .enumerate()
        .map(|(index, row)| (index + 1, row))
}

/// `_validate_links`, for the values no document can be named by: a Link or Dynamic Link value
/// longer than a name column (140 characters) never resolves, so the real site answers
/// LinkValidationError "Could not find <Label>: <value>" (rows: "Row #<idx>: <Label>: <value>"),
/// before any other check. Shorter values are checked by each doctype's own rules.
pub fn check_unresolvable_links(shape: &Shape, doc: &Doc) -> Result<(), SiteError> {
    let mut invalid = Vec::new();
    let long_link = |field: &FieldMeta, value: &Value| -> Option<String> {
        if !matches!(field.fieldtype.as_str(), "Link" | "Dynamic Link") {
            return None;
        }
        text(value).filter(|value| value.chars().count() > VARCHAR_LEN)
    };
    for field in shape.fields.iter().copied() {
        if let Some(value) = doc.get(&field.fieldname).and_then(|v| long_link(field, v)) {
            invalid.push(format!("{}: {value}", label(field)));
        }
    }
    for (table, _, fields) in &shape.tables {
        for (idx, row) in child_rows(doc, table) {
            for field in fields.iter().copied() {
                if let Some(value) = row.get(&field.fieldname).and_then(|v| long_link(field, v)) {
                    invalid.push(format!("Row #{idx}: {}: {value}", label(field)));
                }
            }
        }
    }
    if invalid.is_empty() {
        return Ok(());
    }
    Err(SiteError::thrown(
        417,
        "LinkValidationError",
        format!("Could not find {}", invalid.join(", ")),
    ))
}

/// `_validate_selects` then `_validate_length`, on the document and then on each child row, as
/// `Document._validate` runs them. Select values are stripped first, as Frappe does.
///
/// `name` is the document's name as the real site would have set it by then (the message names
/// it; a series number shown there is not consumed, the transaction is rolled back).
pub fn check_values(shape: &Shape, name: &str, doc: &mut Doc) -> Result<(), SiteError> {
    check_selects(&shape.fields, None, doc)?;
    check_lengths(&shape.fields, &format!("{} {name}", shape.doctype), doc)?;
    for (table, child_doctype, fields) in &shape.tables {
        let Some(Value::Array(rows)) = doc.get_mut(*table) else {
            continue;
        };
        for (index, row) in rows.iter_mut().enumerate() {
            let Some(row) = row.as_object_mut() else {
                continue;
            };
            let idx = index + 1;
            check_selects(fields, Some(idx), row)?;
            check_lengths(fields, &format!("{child_doctype}, Row {idx}"), row)?;
        }
    }
    Ok(())
}

fn check_selects(
    fields: &[&FieldMeta],
    row_idx: Option<usize>,
    doc: &mut Doc,
) -> Result<(), SiteError> {
    for field in fields {
        if field.fieldtype != "Select" || field.fieldname == "naming_series" {
            continue;
        }
        let options: Vec<&str> = field.options.split('\n').collect();
        if options.iter().all(|option| option.is_empty()) {
            continue;
        }
        let Some(value) = doc.get(&field.fieldname).and_then(text) else {
            continue;
        };
        let value = value.trim().to_string();
        doc.insert(field.fieldname.clone(), Value::String(value.clone()));
        if options.contains(&value.as_str()) {
            continue;
        }
        let prefix = row_idx
            .map(|idx| format!("Row #{idx}:"))
            .unwrap_or_default();
        return Err(SiteError::validation(format!(
            "{prefix} {} cannot be \"{value}\". It should be one of \"{}\"",
            label(field),
            options.join("\", \"")
        )));
    }
    Ok(())
}

fn check_lengths(fields: &[&FieldMeta], reference: &str, doc: &Doc) -> Result<(), SiteError> {
    for field in fields {
        let Column::Varchar { max_chars } = field.column() else {
            continue;
        };
        let Some(value) = doc.get(&field.fieldname).and_then(text) else {
            continue;
        };
        if value.chars().count() > max_chars {
            return Err(SiteError::thrown(
                417,
                "CharacterLengthExceededError",
                format!(
                    "{reference}: '<strong>{}</strong>' ({value}) will get truncated, as max characters allowed is {max_chars}",
                    label(field)
                ),
            )
            .with_title("Value too big", "red"));
        }
    }
    Ok(())
}

/// What MariaDB answers when the row is written and a TEXT column gets more than 65,535 bytes:
/// 500 `DataError`, nothing written. A cut that falls inside a multi-byte character is reported
/// as "Incorrect string value" with (up to six of) the bytes from that character on; a clean cut
/// as "Data too long". Parent first, then each row, as `db_insert` writes them.
pub fn check_text_columns(shape: &Shape, doc: &Doc) -> Result<(), SiteError> {
    check_text_fields(&shape.fields, shape.doctype, doc)?;
    for (table, child_doctype, fields) in &shape.tables {
        for (_, row) in child_rows(doc, table) {
            check_text_fields(fields, child_doctype, row)?;
        }
    }
    Ok(())
}

fn check_text_fields(fields: &[&FieldMeta], doctype: &str, doc: &Doc) -> Result<(), SiteError> {
    for field in fields {
        // Passwords live in `__Auth`; the document column only ever holds asterisks.
        if field.column() != Column::Text || field.fieldtype == "Password" {
            continue;
        }
        let Some(Value::String(value)) = doc.get(&field.fieldname) else {
            continue;
        };
        if value.len() <= TEXT_MAX_BYTES {
            continue;
        }
        let fieldname = &field.fieldname;
        let detail = if value.is_char_boundary(TEXT_MAX_BYTES) {
            format!("(1406, \"Data too long for column '{fieldname}' at row 1\")")
        } else {
            let start = (0..TEXT_MAX_BYTES)
                .rev()
                .find(|index| value.is_char_boundary(*index))
                .unwrap_or(0);
            let shown = printable_bytes(&value.as_bytes()[start..]);
            format!(
                "(1366, \"Incorrect string value: '{shown}' for column `{DATABASE_NAME}`.`tab{doctype}`.`{fieldname}` at row 1\")"
            )
        };
        let mut error = SiteError::bare(500, "DataError", Some(&detail));
        error.module = Some("pymysql.err");
        return Err(error);
    }
    Ok(())
}

/// MariaDB's `convert_to_printable`: at most six bytes, ASCII as itself, others as `\xHH`,
/// then `...` when bytes remain. The text sits in a Python repr, so each backslash is doubled.
fn printable_bytes(bytes: &[u8]) -> String {
    let mut shown = String::new();
    for byte in bytes.iter().take(6) {
        if byte.is_ascii_graphic() || *byte == b' ' {
            shown.push(*byte as char);
        } else {
            shown.push_str(&format!("\\\\x{byte:02X}"));
        }
    }
    if bytes.len() > 6 {
        shown.push_str("...");
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn shape() -> Shape<'static> {
        let field = |fieldname: &str, fieldtype: &str, label: &str, options: &str| {
            &*Box::leak(Box::new(FieldMeta {
                fieldname: fieldname.into(),
                fieldtype: fieldtype.into(),
                label: label.into(),
                length: 0,
                options: options.into(),
            }))
        };
        Shape {
            doctype: "Sales Order",
            fields: vec![
                field("order_type", "Select", "Order Type", "\nSales\nMaintenance"),
                field("po_no", "Data", "Customer's Purchase Order", ""),
                field("territory", "Link", "Territory", "Territory"),
                field("note", "Small Text", "Note", ""),
            ],
            tables: vec![(
                "items",
                "Sales Order Item",
                vec![field("item_name", "Data", "Item Name", "")],
            )],
        }
    }

    fn message(error: &SiteError) -> String {
        error.messages[0].message.clone()
    }

    #[test]
    fn data_values_over_140_characters_are_refused_with_the_real_message() {
        let long = format!("{}X", "N".repeat(140));
        let mut doc = json!({"po_no": long}).as_object().unwrap().clone();
        let error = check_values(&shape(), "SAL-ORD-2026-00091", &mut doc).unwrap_err();
        assert_eq!(
            (error.status, error.exc_type.as_str()),
            (417, "CharacterLengthExceededError")
        );
        assert_eq!(
            message(&error),
            format!("Sales Order SAL-ORD-2026-00091: '<strong>Customer's Purchase Order</strong>' ({long}) will get truncated, as max characters allowed is 140")
        );
        assert_eq!(error.messages[0].title, "Value too big");
        let mut fits = json!({"po_no": "N".repeat(140)})
            .as_object()
            .unwrap()
            .clone();
        assert!(check_values(&shape(), "x", &mut fits).is_ok());

        let mut row = json!({"items": [{"item_name": "ok"}, {"item_name": long}]})
            .as_object()
            .unwrap()
            .clone();
        let error = check_values(&shape(), "x", &mut row).unwrap_err();
        assert!(
            message(&error).starts_with("Sales Order Item, Row 2: '<strong>Item Name</strong>'")
        );
    }

    #[test]
    fn selects_are_checked_against_their_options_before_lengths() {
        let mut doc = json!({"order_type": " Sales "})
            .as_object()
            .unwrap()
            .clone();
        check_values(&shape(), "x", &mut doc).unwrap();
        assert_eq!(doc["order_type"], json!("Sales"), "stripped as Frappe does");
        let mut doc = json!({"order_type": "N".repeat(141)})
            .as_object()
            .unwrap()
            .clone();
        let error = check_values(&shape(), "x", &mut doc).unwrap_err();
        assert_eq!(error.exc_type, "ValidationError");
        assert_eq!(
            message(&error),
            format!(
                " Order Type cannot be \"{}\". It should be one of \"\", \"Sales\", \"Maintenance\"",
                "N".repeat(141)
            )
        );
    }

    #[test]
    fn links_too_long_to_name_anything_are_not_found() {
        let long = "T".repeat(141);
        let doc = json!({"territory": long}).as_object().unwrap().clone();
        let error = check_unresolvable_links(&shape(), &doc).unwrap_err();
        assert_eq!(error.exc_type, "LinkValidationError");
        assert_eq!(message(&error), format!("Could not find Territory: {long}"));
    }

    #[test]
    fn text_columns_take_65535_bytes_and_no_more() {
        let doc = |text: String| json!({"note": text}).as_object().unwrap().clone();
        assert!(check_text_columns(&shape(), &doc("a".repeat(65_535))).is_ok());
        let error = check_text_columns(&shape(), &doc("a".repeat(65_536))).unwrap_err();
        assert_eq!((error.status, error.exc_type.as_str()), (500, "DataError"));
        assert_eq!(
            error.v1_body()["exception"],
            json!("pymysql.err.DataError: (1406, \"Data too long for column 'note' at row 1\")")
        );
        // Recorded on the lab: the cut inside an "é", six bytes shown and "...".
        let error = check_text_columns(&shape(), &doc("é".repeat(40_000))).unwrap_err();
        assert_eq!(
            error.v1_body()["exception"],
            json!("pymysql.err.DataError: (1366, \"Incorrect string value: '\\\\xC3\\\\xA9\\\\xC3\\\\xA9\\\\xC3\\\\xA9...' for column `erpnext_lab`.`tabSales Order`.`note` at row 1\")")
        );
        let error =
            check_text_columns(&shape(), &doc(format!("{}€abc", "a".repeat(65_534)))).unwrap_err();
        assert!(error.v1_body()["exception"]
            .as_str()
            .unwrap()
            .contains("'\\\\xE2\\\\x82\\\\xACabc'"));
        // A clean cut before a multi-byte character is "Data too long".
        let error =
            check_text_columns(&shape(), &doc(format!("{}é", "a".repeat(65_535)))).unwrap_err();
        assert!(error.v1_body()["exception"]
            .as_str()
            .unwrap()
            .contains("(1406,"));
        // No 140 limit on text.
        let mut long_note = doc("n".repeat(5_000));
        assert!(check_values(&shape(), "x", &mut long_note).is_ok());
    }
}
