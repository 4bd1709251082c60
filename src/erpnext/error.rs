//! Errors from ERPNext, decoded once from Frappe's error bodies and classified
//! here (retry, duplicate, not found), so callers never parse Frappe text.
//!
//! A Frappe v1 error body may carry `exc_type` (the most reliable discriminator),
//! `exception` (`"frappe.exceptions.ValidationError: <message>"`), `_server_messages`
//! (a JSON string holding a list of JSON strings: decoded twice, HTML stripped) and
//! `_error_message`. Any of them may be missing, and a proxy may answer with HTML.

use std::fmt;
use std::time::Duration;

use serde_json::Value;

/// What went wrong talking to ERPNext.
#[derive(Debug, Clone)]
pub enum ErpError {
    /// ERPNext (or a proxy in front of it) answered with an error status.
    Rejected {
        /// What was being done, e.g. `Sales Order` or `make_sales_invoice`.
        subject: String,
        status: u16,
        /// Frappe's exception class, e.g. `MandatoryError`, when the body said.
        exc_type: Option<String>,
        /// The human-readable message(s), HTML removed.
        message: String,
        /// `Retry-After`, when the answer carried one (429/503).
        retry_after: Option<Duration>,
    },
    /// The request never got a complete answer: connection refused or reset,
    /// timeout, or the response was cut off. The call may or may not have taken effect.
    Transport {
        subject: String,
        message: String,
        timed_out: bool,
    },
    /// ERPNext answered success but the body was not what was expected.
    UnexpectedResponse { subject: String, message: String },
    /// The caller asked for something that cannot be sent (bad URL, bad input).
    InvalidRequest(String),
}

impl ErpError {
    /// Builds the error for an answer with status `status` and body text `body`.
    pub fn from_response(
        subject: &str,
        status: u16,
        body: &str,
        retry_after: Option<Duration>,
    ) -> ErpError {
        let (exc_type, message) = match serde_json::from_str::<Value>(body) {
            Ok(Value::Object(object)) => decode_frappe_error(&object),
            _ => (None, describe_non_json_body(status, body)),
        };
        ErpError::Rejected {
            subject: subject.to_string(),
            status,
            exc_type,
            message,
            retry_after,
        }
    }

    /// The HTTP status, for errors that had one.
    pub fn status(&self) -> Option<u16> {
        match self {
            ErpError::Rejected { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Frappe's exception class name, when ERPNext said.
    pub fn exc_type(&self) -> Option<&str> {
        match self {
            ErpError::Rejected { exc_type, .. } => exc_type.as_deref(),
            _ => None,
        }
    }

    /// The human-readable message without the subject.
    pub fn message(&self) -> &str {
        match self {
            ErpError::Rejected { message, .. }
            | ErpError::Transport { message, .. }
            | ErpError::UnexpectedResponse { message, .. } => message,
            ErpError::InvalidRequest(message) => message,
        }
    }

    /// The `Retry-After` ERPNext (or its proxy) asked for.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ErpError::Rejected { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Worth trying again later: throttling, gateway trouble, timeouts, lost
    /// connections. Validation errors (417), conflicts (409) and missing
    /// documents (404) will fail the same way again.
    pub fn is_retryable(&self) -> bool {
        if self.is_rolled_back() {
            return true;
        }
        match self {
            ErpError::Rejected { status, .. } => matches!(status, 429 | 502 | 503 | 504),
            ErpError::Transport { .. } => true,
            ErpError::UnexpectedResponse { .. } | ErpError::InvalidRequest(_) => false,
        }
    }

    /// The database chose this request as a deadlock victim, or a lock wait timed out: ERPNext
    /// rolled it back, so nothing was written and running it again at once is safe, even for an
    /// insert. MariaDB answers concurrent inserts this way under load (`1213 Deadlock found`).
    pub fn is_rolled_back(&self) -> bool {
        let ErpError::Rejected {
            exc_type, message, ..
        } = self
        else {
            return false;
        };
        matches!(
            exc_type.as_deref(),
            Some("QueryDeadlockError") | Some("QueryTimeoutError")
        ) || message.contains("(1213, ")
            || message.contains("(1205, ")
            // Two orders of an item without a price, inserted at once, both have ERPNext add the
            // item's price to the price list (Stock Settings: auto insert price list rate); the
            // second insert hits the first's Item Price and the whole order is rolled back. Seen
            // on a real site as `DoesNotExistError` "Item Price added for X in Price List Y;
            // Item Code must be unique". Once the first committed, the repeat goes through.
            || (message.contains("Item Price added for") && message.contains("must be unique"))
    }

    /// The document (or a unique value in it) already exists: a 409
    /// DuplicateEntryError, a UniqueValidationError, or a Custom Field that is
    /// already there ("A field with the name … already exists").
    pub fn is_duplicate(&self) -> bool {
        let ErpError::Rejected {
            status,
            exc_type,
            message,
            ..
        } = self
        else {
            return false;
        };
        match exc_type.as_deref() {
            Some("DuplicateEntryError") | Some("UniqueValidationError") => true,
            // Only the Custom Field clash; "already exists against Customer's
            // Purchase Order" is a validation of a different document.
            _ => *status == 409 || (*status == 417 && message.starts_with("A field with the name")),
        }
    }

    /// The document (or doctype) does not exist.
    pub fn is_not_found(&self) -> bool {
        match self {
            ErpError::Rejected {
                status, exc_type, ..
            } => *status == 404 || exc_type.as_deref() == Some("DoesNotExistError"),
            _ => false,
        }
    }

    /// The credentials were refused (401) or lack permission (403).
    pub fn is_auth(&self) -> bool {
        matches!(self.status(), Some(401 | 403))
    }
}

impl fmt::Display for ErpError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErpError::Rejected {
                subject,
                status,
                exc_type,
                message,
                ..
            } => {
                match status {
                    401 => write!(
                        formatter,
                        "ERPNext refused the API key and secret ({subject}): {message}; check the connection's ERPNext API key and secret"
                    )?,
                    403 => write!(
                        formatter,
                        "ERPNext denied permission for {subject}: {message}; check that the API user has the needed roles"
                    )?,
                    _ => write!(formatter, "ERPNext rejected {subject}: {message}")?,
                }
                match exc_type.as_deref() {
                    // The message already says what these mean.
                    None | Some("ValidationError") | Some("MandatoryError") => {}
                    Some(kind) if message.contains(kind) => {}
                    Some(kind) => write!(formatter, " ({kind})")?,
                }
                if exc_type.is_none() && !message.contains(&status.to_string()) {
                    write!(formatter, " (HTTP {status})")?;
                }
                Ok(())
            }
            ErpError::Transport {
                subject,
                message,
                timed_out,
            } => {
                if *timed_out {
                    write!(
                        formatter,
                        "ERPNext did not answer in time ({subject}): {message}"
                    )
                } else {
                    write!(formatter, "could not reach ERPNext ({subject}): {message}")
                }
            }
            ErpError::UnexpectedResponse { subject, message } => {
                write!(
                    formatter,
                    "ERPNext sent an unexpected answer ({subject}): {message}"
                )
            }
            ErpError::InvalidRequest(message) => write!(formatter, "{message}"),
        }
    }
}

impl std::error::Error for ErpError {}

/// Pulls `exc_type` and a readable message out of a Frappe error object.
fn decode_frappe_error(body: &serde_json::Map<String, Value>) -> (Option<String>, String) {
    let exc_type = body
        .get("exc_type")
        .and_then(Value::as_str)
        .map(str::to_string);
    let mut messages = server_messages(body);
    if messages.is_empty() {
        if let Some(text) = body.get("_error_message").and_then(Value::as_str) {
            messages.push(strip_html(text));
        }
    }
    if messages.is_empty() {
        if let Some(exception) = body.get("exception").and_then(Value::as_str) {
            // "frappe.exceptions.ValidationError: Cannot edit cancelled document"
            let text = exception
                .split_once(": ")
                .map(|(_, rest)| rest)
                .unwrap_or_default();
            if !text.is_empty() {
                messages.push(strip_html(text));
            }
        }
    }
    // v2 API: {"errors": [{"type", "message"}]}
    if let Some(Value::Array(errors)) = body.get("errors") {
        for error in errors {
            if let Some(text) = error.get("message").and_then(Value::as_str) {
                messages.push(strip_html(text));
            }
        }
        if exc_type.is_none() {
            let kind = errors
                .first()
                .and_then(|error| error.get("type"))
                .and_then(Value::as_str);
            if let Some(kind) = kind {
                let message = join_messages(messages, None);
                return (Some(kind.to_string()), message);
            }
        }
    }
    let message = join_messages(messages, exc_type.as_deref());
    (exc_type, message)
}

fn join_messages(messages: Vec<String>, exc_type: Option<&str>) -> String {
    let mut unique: Vec<String> = Vec::new();
    for message in messages {
        let message = message
            .trim()
            .trim_start_matches("Error: ")
            .trim()
            .to_string();
        if !message.is_empty() && !unique.contains(&message) {
            unique.push(message);
        }
    }
    if unique.is_empty() {
        return match exc_type {
            Some(kind) => format!("{kind} (no message given)"),
            None => "no message given".to_string(),
        };
    }
    unique.join("; ")
}

/// `_server_messages` is a JSON string holding a list of JSON strings, each an
/// object with `message`. Tolerates any layer being already decoded.
fn server_messages(body: &serde_json::Map<String, Value>) -> Vec<String> {
    let Some(outer) = body.get("_server_messages") else {
        return Vec::new();
    };
    let list = match outer {
        Value::String(text) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Array(list)) => list,
            _ => return vec![strip_html(text)],
        },
        Value::Array(list) => list.clone(),
        _ => return Vec::new(),
    };
    let mut messages = Vec::new();
    for entry in list {
        let inner = match entry {
            Value::String(text) => {
                serde_json::from_str::<Value>(&text).unwrap_or(Value::String(text))
            }
            other => other,
        };
        let text = match &inner {
            Value::Object(object) => match object.get("message") {
                Some(Value::String(text)) => text.clone(),
                Some(other) => other.to_string(),
                None => continue,
            },
            Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        messages.push(strip_html(&text));
    }
    messages
}

/// Turns a message with `<strong>`, `<a href>` and `<br>` into plain text.
pub fn strip_html(text: &str) -> String {
    let with_breaks = text.replace("<br>", "; ").replace("<br/>", "; ");
    let mut plain = String::with_capacity(with_breaks.len());
    let mut inside_tag = false;
    for character in with_breaks.chars() {
        match character {
            '<' => inside_tag = true,
            '>' if inside_tag => inside_tag = false,
            _ if !inside_tag => plain.push(character),
            _ => {}
        }
    }
    let decoded = plain
        .replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    decoded.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A non-JSON error body: usually an HTML page from Frappe (`Accept: text/html`)
/// or from a proxy (502/504). Keep it short: the page title if there is one.
fn describe_non_json_body(status: u16, body: &str) -> String {
    let trimmed = body.trim();
    if trimmed.is_empty() {
        return format!("HTTP {status} with an empty body");
    }
    let lower = trimmed.to_ascii_lowercase();
    if lower.starts_with("<!doctype html") || lower.starts_with("<html") || lower.contains("<body")
    {
        let title = lower
            .find("<title>")
            .and_then(|start| {
                let rest = &trimmed[start + 7..];
                rest.find("</title>").map(|end| strip_html(&rest[..end]))
            })
            .filter(|title| !title.is_empty());
        return match title {
            Some(title) => format!("HTTP {status}, an HTML page instead of JSON (\"{title}\"); check the ERPNext URL and that the site is up"),
            None => format!("HTTP {status}, an HTML page instead of JSON; check the ERPNext URL and that the site is up"),
        };
    }
    let excerpt: String = trimmed.chars().take(200).collect();
    format!("HTTP {status}: {}", strip_html(&excerpt))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As a real ERPNext 15 answered two concurrent inserts of orders of a new item.
    const ITEM_PRICE_RACE: &str = r#"{"exc_type": "DoesNotExistError", "_server_messages": "[\"{\\\"message\\\": \\\"Item Price added for RACE1796405682 in Price List Standard Selling\\\", \\\"title\\\": \\\"Message\\\", \\\"alert\\\": 1}\", \"{\\\"message\\\": \\\"Item Code must be unique\\\", \\\"title\\\": \\\"Message\\\"}\"]"}"#;

    #[test]
    fn a_deadlock_victim_and_an_item_price_race_were_rolled_back_and_may_be_repeated() {
        let deadlock = ErpError::from_response(
            "Sales Order",
            500,
            r#"{"exc_type": "QueryDeadlockError", "exception": "frappe.exceptions.QueryDeadlockError: (1213, 'Deadlock found when trying to get lock; try restarting transaction')"}"#,
            None,
        );
        assert!(
            deadlock.is_rolled_back() && deadlock.is_retryable(),
            "{deadlock}"
        );
        let race = ErpError::from_response("Sales Order", 404, ITEM_PRICE_RACE, None);
        assert!(race.is_rolled_back(), "{race}");
        assert!(!race.is_duplicate(), "not the order's own key: {race}");
        let refused = ErpError::from_response(
            "Sales Order",
            417,
            r#"{"exc_type": "ValidationError", "_server_messages": "[\"{\\\"message\\\": \\\"Delivery Date cannot be before Order Date\\\"}\"]"}"#,
            None,
        );
        assert!(!refused.is_rolled_back() && !refused.is_retryable());
    }
}
