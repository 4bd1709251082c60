//! List queries as Frappe's `get_list` runs them: `fields`, `filters` and
//! `or_filters` (list or dict form, child-table filters), `order_by`, paging.

use std::cmp::Ordering;
use std::collections::HashSet;

use rust_decimal::Decimal;
use serde_json::{Map, Value};

use super::error::SiteError;
use super::values::{decimal_of, Doc};

/// One condition: `[field, op, value]` or `[child_doctype, field, op, value]`.
#[derive(Debug, Clone)]
pub struct Condition {
    pub child_doctype: Option<String>,
    pub field: String,
    pub operator: String,
    pub value: Value,
}

/// A parsed list request.
#[derive(Debug, Clone, Default)]
pub struct ListRequest {
    pub fields: Vec<String>,
    pub filters: Vec<Condition>,
    pub or_filters: Vec<Condition>,
    pub order_by: Option<String>,
    pub limit_start: usize,
    /// 0 means all rows.
    pub limit_page_length: usize,
}

/// Parses a JSON parameter as Frappe does (`json.loads`): broken JSON is a 500.
pub fn parse_json_parameter(text: &str) -> Result<Value, SiteError> {
    serde_json::from_str(text).map_err(|error| {
        let mut failure = SiteError::bare(500, "JSONDecodeError", Some(&error.to_string()));
        failure.module = Some("json.decoder");
        failure
    })
}

/// Reads `filters` in any form Frappe accepts.
pub fn parse_conditions(value: &Value, doctype: &str) -> Result<Vec<Condition>, SiteError> {
    match value {
        Value::Null => Ok(Vec::new()),
        Value::String(text) if text.trim().is_empty() => Ok(Vec::new()),
        Value::String(text) => parse_conditions(&parse_json_parameter(text)?, doctype),
        Value::Object(object) => Ok(object
            .iter()
            .map(|(field, value)| match value {
                Value::Array(pair) if pair.len() == 2 && pair[0].is_string() => Condition {
                    child_doctype: None,
                    field: field.clone(),
                    operator: pair[0].as_str().unwrap_or("=").to_lowercase(),
                    value: pair[1].clone(),
                },
                other => Condition {
                    child_doctype: None,
                    field: field.clone(),
                    operator: "=".into(),
                    value: other.clone(),
                },
            })
            .collect()),
        Value::Array(items) => items
            .iter()
            .map(|item| match item {
                Value::Array(parts) if parts.len() == 3 => Ok(Condition {
                    child_doctype: None,
                    field: parts[0].as_str().unwrap_or_default().to_string(),
                    operator: parts[1].as_str().unwrap_or("=").to_lowercase(),
                    value: parts[2].clone(),
                }),
                Value::Array(parts) if parts.len() >= 4 => {
                    let child = parts[0].as_str().unwrap_or_default();
                    Ok(Condition {
                        child_doctype: (child != doctype).then(|| child.to_string()),
                        field: parts[1].as_str().unwrap_or_default().to_string(),
                        operator: parts[2].as_str().unwrap_or("=").to_lowercase(),
                        value: parts[3].clone(),
                    })
                }
                other => Err(SiteError::validation(format!("Invalid filter: {other}"))),
            })
            .collect(),
        other => Err(SiteError::validation(format!("Invalid filter: {other}"))),
    }
}

/// `` `tabSales Order Item`.item_code `` → (Some("Sales Order Item"), "item_code").
pub fn split_field(field: &str) -> (Option<String>, String) {
    let trimmed = field.trim();
    if let Some(rest) = trimmed.strip_prefix("`tab") {
        if let Some((table, column)) = rest.split_once("`.") {
            return (
                Some(table.to_string()),
                column.trim_matches('`').to_string(),
            );
        }
    }
    let column = trimmed.trim_matches('`').to_string();
    (None, column)
}

/// A condition ready to test many documents: an `in` list whose values all
/// compare as text is read once into a set, instead of once per document.
pub struct Prepared<'a> {
    condition: &'a Condition,
    texts: Option<HashSet<String>>,
}

impl<'a> Prepared<'a> {
    pub fn new(condition: &'a Condition) -> Prepared<'a> {
        let texts = matches!(condition.operator.as_str(), "in" | "not in")
            .then(|| list_of(&condition.value))
            .filter(|values| values.iter().all(compares_as_text))
            .map(|values| {
                values
                    .iter()
                    .map(|value| text(value).to_lowercase())
                    .collect()
            });
        Prepared { condition, texts }
    }

    /// Does the document (or, for child conditions, one of its rows) satisfy the condition?
    pub fn matches(&self, doc: &Doc) -> bool {
        let field = &self.condition.field;
        match &self.condition.child_doctype {
            None => self.test(doc.get(field)),
            Some(child) => child_rows(doc, child)
                .iter()
                .any(|row| self.test(row.get(field))),
        }
    }

    fn test(&self, actual: Option<&Value>) -> bool {
        match &self.texts {
            // Each value compares as text, so `equal` is a case-insensitive text match.
            Some(texts) => {
                let found = texts.contains(&text(actual.unwrap_or(&Value::Null)).to_lowercase());
                found == (self.condition.operator == "in")
            }
            None => compare(actual, &self.condition.operator, &self.condition.value),
        }
    }
}

/// A value that [`equal`] compares as text whatever it is compared with.
fn compares_as_text(value: &Value) -> bool {
    matches!(value, Value::String(text) if text.trim().parse::<Decimal>().is_err())
}

pub fn child_rows<'a>(doc: &'a Doc, child_doctype: &str) -> Vec<&'a Doc> {
    let mut found = Vec::new();
    for value in doc.values() {
        if let Value::Array(items) = value {
            for item in items {
                if let Some(row) = item.as_object() {
                    if row.get("doctype").and_then(Value::as_str) == Some(child_doctype) {
                        found.push(row);
                    }
                }
            }
        }
    }
    found
}

fn compare(actual: Option<&Value>, operator: &str, expected: &Value) -> bool {
    let actual = actual.unwrap_or(&Value::Null);
    match operator {
        "=" | "==" => equal(actual, expected),
        "!=" | "<>" => !equal(actual, expected),
        ">" => order(actual, expected) == Ordering::Greater,
        "<" => order(actual, expected) == Ordering::Less,
        ">=" => order(actual, expected) != Ordering::Less,
        "<=" => order(actual, expected) != Ordering::Greater,
        "in" => list_of(expected).iter().any(|value| equal(actual, value)),
        "not in" => !list_of(expected).iter().any(|value| equal(actual, value)),
        "like" => like(&text(actual), &text(expected)),
        "not like" => !like(&text(actual), &text(expected)),
        "is" => {
            let set = !text(actual).is_empty();
            match text(expected).as_str() {
                "set" => set,
                "not set" => !set,
                _ => false,
            }
        }
        "between" => {
            let bounds = list_of(expected);
            bounds.len() == 2
                && order(actual, &bounds[0]) != Ordering::Less
                && order(actual, &bounds[1]) != Ordering::Greater
        }
        _ => false,
    }
}

fn list_of(value: &Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items.clone(),
        Value::String(text) => text
            .split(',')
            .map(|part| Value::String(part.trim().to_string()))
            .collect(),
        other => vec![other.clone()],
    }
}

/// Text the way MariaDB compares it (`ifnull(field, '')`, numbers as text).
pub fn text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        Value::Bool(flag) => (if *flag { "1" } else { "0" }).to_string(),
        other => other.to_string(),
    }
}

fn is_numeric(value: &Value) -> bool {
    matches!(value, Value::Number(_) | Value::Bool(_))
}

fn equal(actual: &Value, expected: &Value) -> bool {
    if is_numeric(actual) || is_numeric(expected) {
        let expected_text = text(expected);
        if expected_text.trim().parse::<Decimal>().is_ok() || is_numeric(expected) {
            return decimal_of(Some(actual)) == decimal_of(Some(expected))
                || (actual.is_null() && text(expected).is_empty());
        }
    }
    if let (Value::String(actual), Value::String(expected)) = (actual, expected) {
        if actual.is_ascii() && expected.is_ascii() {
            // The common case, without allocating four strings per comparison.
            return actual.eq_ignore_ascii_case(expected);
        }
    }
    text(actual).to_lowercase() == text(expected).to_lowercase()
}

pub fn order(actual: &Value, expected: &Value) -> Ordering {
    if is_numeric(actual) || is_numeric(expected) {
        return decimal_of(Some(actual)).cmp(&decimal_of(Some(expected)));
    }
    text(actual).cmp(&text(expected))
}

/// SQL `LIKE` with `%` and `_`, case-insensitive (utf8mb4_unicode_ci).
fn like(value: &str, pattern: &str) -> bool {
    let value: Vec<char> = value.to_lowercase().chars().collect();
    let pattern: Vec<char> = pattern.to_lowercase().chars().collect();
    let (mut v, mut p) = (0usize, 0usize);
    let (mut star_p, mut star_v) = (None::<usize>, 0usize);
    while v < value.len() {
        if p < pattern.len() && (pattern[p] == '_' || pattern[p] == value[v]) {
            v += 1;
            p += 1;
        } else if p < pattern.len() && pattern[p] == '%' {
            star_p = Some(p);
            star_v = v;
            p += 1;
        } else if let Some(star) = star_p {
            p = star + 1;
            star_v += 1;
            v = star_v;
        } else {
            return false;
        }
    }
    while p < pattern.len() && pattern[p] == '%' {
        p += 1;
    }
    p == pattern.len()
}

/// Parses `order_by` ("creation desc, name asc") into (field, descending) pairs.
pub fn parse_order_by(order_by: &str) -> Vec<(String, bool)> {
    order_by
        .split(',')
        .filter_map(|part| {
            let part = part.trim();
            if part.is_empty() {
                return None;
            }
            // The direction is the last word; the field may be `tabSome Doctype`.`column`.
            let (field, descending) = match part.rsplit_once(char::is_whitespace) {
                Some((field, word)) if word.eq_ignore_ascii_case("desc") => (field, true),
                Some((field, word)) if word.eq_ignore_ascii_case("asc") => (field, false),
                _ => (part, false),
            };
            let (_, column) = split_field(field);
            Some((column, descending))
        })
        .collect()
}

/// Whether an `order_by` names a standard column without its table (`creation asc`): with a
/// child-table filter the query joins the child table, which has the same columns, and MariaDB
/// refuses it (`Column 'creation' in ORDER BY is ambiguous`). Answers the first such column.
pub fn ambiguous_order_column(order_by: &str, standard: &[&str]) -> Option<String> {
    order_by.split(',').find_map(|part| {
        let part = part.trim();
        let field = match part.rsplit_once(char::is_whitespace) {
            Some((field, word))
                if word.eq_ignore_ascii_case("desc") || word.eq_ignore_ascii_case("asc") =>
            {
                field
            }
            _ => part,
        };
        let bare = field.trim().trim_matches('`');
        (!field.contains('.') && standard.contains(&bare)).then(|| bare.to_string())
    })
}

/// Projects one document into result rows (one per child row when child columns are asked).
pub fn project(doc: &Doc, fields: &[(Option<String>, String)]) -> Vec<Value> {
    let child_doctype = fields.iter().find_map(|(child, _)| child.clone());
    let build = |row: Option<&Doc>| {
        let mut out = Map::new();
        for (child, column) in fields {
            let value = match (child, row) {
                (Some(_), Some(row)) => row.get(column).cloned().unwrap_or(Value::Null),
                (Some(_), None) => Value::Null,
                (None, _) => doc.get(column).cloned().unwrap_or(Value::Null),
            };
            out.insert(column.clone(), value);
        }
        Value::Object(out)
    };
    match child_doctype {
        None => vec![build(None)],
        Some(child) => {
            let rows = child_rows(doc, &child);
            if rows.is_empty() {
                vec![build(None)]
            } else {
                rows.into_iter().map(|row| build(Some(row))).collect()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn order_by_reads_qualified_names_with_spaces_and_finds_ambiguous_ones() {
        assert_eq!(
            parse_order_by("`tabDelivery Note`.`creation` asc, name DESC"),
            vec![("creation".to_string(), false), ("name".to_string(), true)]
        );
        let standard = ["name", "creation"];
        assert_eq!(
            ambiguous_order_column("creation asc", &standard).as_deref(),
            Some("creation")
        );
        assert_eq!(
            ambiguous_order_column("`tabDelivery Note`.`creation` asc", &standard),
            None
        );
        assert_eq!(ambiguous_order_column("posting_date desc", &standard), None);
    }

    #[test]
    fn like_handles_wildcards_case_insensitively() {
        assert!(like("WC-1001", "%1001%"));
        assert!(like("wc-1001", "WC-%"));
        assert!(!like("WC-1010", "%1001%"));
        assert!(like("abc", "a_c"));
    }

    #[test]
    fn parses_dict_and_list_filters() {
        let dict = parse_conditions(
            &json!({"grand_total": [">", 100], "docstatus": 1}),
            "Sales Order",
        )
        .unwrap();
        assert_eq!(dict.len(), 2);
        let total = dict.iter().find(|c| c.field == "grand_total").unwrap();
        assert_eq!(total.operator, ">");
        let status = dict.iter().find(|c| c.field == "docstatus").unwrap();
        assert_eq!((status.operator.as_str(), &status.value), ("=", &json!(1)));
        let list = parse_conditions(
            &json!([["Dynamic Link", "link_name", "=", "Jane"]]),
            "Address",
        )
        .unwrap();
        assert_eq!(list[0].child_doctype.as_deref(), Some("Dynamic Link"));
    }

    #[test]
    fn numbers_compare_numerically() {
        let doc = json!({"grand_total": 110.0, "docstatus": 1})
            .as_object()
            .cloned()
            .unwrap();
        let condition = |field: &str, operator: &str, value: Value| Condition {
            child_doctype: None,
            field: field.into(),
            operator: operator.into(),
            value,
        };
        let matches = |doc: &Doc, condition: &Condition| Prepared::new(condition).matches(doc);
        assert!(matches(&doc, &condition("grand_total", ">", json!(100))));
        assert!(matches(&doc, &condition("docstatus", "=", json!("1"))));
        assert!(matches(&doc, &condition("docstatus", "in", json!([0, 1]))));
        assert!(matches(
            &doc,
            &condition("docstatus", "in", json!(["0", "1"]))
        ));
        assert!(!matches(&doc, &condition("docstatus", "!=", json!(1))));
    }

    #[test]
    fn in_lists_of_text_match_case_insensitively_and_empty_as_null() {
        let doc = json!({"email_id": "Ada@Example.TEST", "territory": null})
            .as_object()
            .cloned()
            .unwrap();
        let condition = |field: &str, operator: &str, value: Value| Condition {
            child_doctype: None,
            field: field.into(),
            operator: operator.into(),
            value,
        };
        let matches = |condition: &Condition| Prepared::new(condition).matches(&doc);
        assert!(matches(&condition(
            "email_id",
            "in",
            json!(["bob@x.test", "ada@example.test"])
        )));
        assert!(!matches(&condition(
            "email_id",
            "in",
            json!(["bob@x.test"])
        )));
        assert!(matches(&condition(
            "email_id",
            "not in",
            json!(["bob@x.test"])
        )));
        assert!(matches(&condition(
            "email_id",
            "in",
            json!("bob@x.test, ADA@example.test")
        )));
        assert!(matches(&condition(
            "territory",
            "in",
            json!(["", "Rest Of The World"])
        )));
        assert!(!matches(&condition("missing", "not in", json!([""]))));
    }
}
