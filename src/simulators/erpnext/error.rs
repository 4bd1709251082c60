//! Errors the simulated site answers with, rendered exactly in Frappe's
//! v1 shape (`exc_type`, `exception`, `exc`, double-encoded `_server_messages`)
//! or v2 shape (`errors: [...]`).

use serde_json::{json, Map, Value};

/// One message in `_server_messages`.
#[derive(Debug, Clone)]
pub struct ServerMessage {
    pub message: String,
    pub title: String,
    /// `indicator` + `raise_exception` + `__frappe_exc_id`, as `frappe.throw` adds them.
    pub thrown: bool,
    pub indicator: &'static str,
    /// `indicator` without `raise_exception` (e.g. the "Duplicate Name" message).
    pub show_indicator: bool,
}

/// An error the simulated site answers with (boxed: it travels in every `Result`).
#[derive(Debug, Clone)]
pub struct SiteError(Box<SiteErrorDetails>);

impl std::ops::Deref for SiteError {
    type Target = SiteErrorDetails;
    fn deref(&self) -> &SiteErrorDetails {
        &self.0
    }
}

impl std::ops::DerefMut for SiteError {
    fn deref_mut(&mut self) -> &mut SiteErrorDetails {
        &mut self.0
    }
}

/// What an error answer says.
#[derive(Debug, Clone)]
pub struct SiteErrorDetails {
    pub status: u16,
    pub exc_type: String,
    /// The Python module of the exception class (`frappe.exceptions`, `json.decoder`, or none).
    pub module: Option<&'static str>,
    pub messages: Vec<ServerMessage>,
    /// 404s carry no `exception`/`exc`.
    pub with_traceback: bool,
    pub exc_source: Option<&'static str>,
    pub error_message: Option<String>,
    /// Text after `ExcType: ` in `exception` when it differs from the first message.
    pub exception_text: Option<String>,
}

impl SiteError {
    fn base(status: u16, exc_type: &str, message: &str, thrown: bool) -> SiteError {
        SiteError(Box::new(SiteErrorDetails {
            status,
            exc_type: exc_type.to_string(),
            module: Some("frappe.exceptions"),
            messages: vec![ServerMessage {
                message: message.to_string(),
                title: "Message".to_string(),
                thrown,
                indicator: "red",
                show_indicator: thrown,
            }],
            with_traceback: true,
            exc_source: None,
            error_message: None,
            exception_text: None,
        }))
    }

    /// `frappe.throw(message)`: 417 ValidationError.
    pub fn validation(message: impl AsRef<str>) -> SiteError {
        SiteError::base(417, "ValidationError", message.as_ref(), true)
    }

    /// A validation raised from ERPNext's code (adds `_exc_source: "erpnext (app)"`).
    pub fn erpnext_validation(message: impl AsRef<str>) -> SiteError {
        let mut error = SiteError::validation(message);
        error.exc_source = Some("erpnext (app)");
        error
    }

    pub fn thrown(status: u16, exc_type: &str, message: impl AsRef<str>) -> SiteError {
        SiteError::base(status, exc_type, message.as_ref(), true)
    }

    /// `frappe.throw` with a plain message dict (no indicator), e.g. MandatoryError.
    pub fn plain(status: u16, exc_type: &str, message: impl AsRef<str>) -> SiteError {
        SiteError::base(status, exc_type, message.as_ref(), false)
    }

    pub fn not_found(message: impl AsRef<str>) -> SiteError {
        let mut error = SiteError::base(404, "DoesNotExistError", message.as_ref(), true);
        error.with_traceback = false;
        error
    }

    /// Inserting an existing primary name: 409 with the "Duplicate Name" message.
    pub fn duplicate_entry(doctype: &str, name: &str) -> SiteError {
        let mut error = SiteError::base(
            409,
            "DuplicateEntryError",
            &format!("{doctype} <strong>{name}</strong> already exists"),
            false,
        );
        error.messages[0].title = "Duplicate Name".to_string();
        error.messages[0].show_indicator = true;
        error.exception_text = Some(format!(
            "('{doctype}', '{name}', IntegrityError(1062, \"Duplicate entry '{name}' for key 'PRIMARY'\"))"
        ));
        error
    }

    pub fn link_validation(doctype: &str, value: &str) -> SiteError {
        SiteError::thrown(
            417,
            "LinkValidationError",
            format!("Could not find {doctype}: {value}"),
        )
    }

    /// Only an `exception` line, no `_server_messages` (e.g. cancelling twice).
    pub fn bare(status: u16, exc_type: &str, exception_text: Option<&str>) -> SiteError {
        SiteError(Box::new(SiteErrorDetails {
            status,
            exc_type: exc_type.to_string(),
            module: Some("frappe.exceptions"),
            messages: Vec::new(),
            with_traceback: true,
            exc_source: None,
            error_message: None,
            exception_text: exception_text.map(str::to_string),
        }))
    }

    pub fn with_title(mut self, title: &str, indicator: &'static str) -> SiteError {
        if let Some(first) = self.messages.first_mut() {
            first.title = title.to_string();
            first.indicator = indicator;
        }
        self
    }

    fn exception_line(&self) -> String {
        let class = match self.module {
            Some(module) => format!("{module}.{}", self.exc_type),
            None => self.exc_type.clone(),
        };
        let text = self
            .exception_text
            .clone()
            .or_else(|| self.messages.last().map(|message| message.message.clone()));
        match text {
            Some(text) if !text.is_empty() => format!("{class}: {text}"),
            _ => class,
        }
    }

    /// The v1 body (`/api/resource`, `/api/method`).
    pub fn v1_body(&self) -> Value {
        let mut body = Map::new();
        if self.with_traceback {
            body.insert("exception".into(), Value::String(self.exception_line()));
        }
        body.insert("exc_type".into(), Value::String(self.exc_type.clone()));
        if let Some(source) = self.exc_source {
            body.insert("_exc_source".into(), Value::String(source.into()));
        }
        if self.with_traceback {
            let traceback = format!(
                "Traceback (most recent call last):\n  File \"woocommerce-sync ERPNext simulator\", line 1, in handle\n{}\n",
                self.exception_line()
            );
            body.insert(
                "exc".into(),
                Value::String(Value::from(vec![traceback]).to_string()),
            );
        }
        if !self.messages.is_empty() {
            let inner: Vec<Value> = self
                .messages
                .iter()
                .map(|message| {
                    let mut object = Map::new();
                    object.insert("message".into(), Value::String(message.message.clone()));
                    object.insert("title".into(), Value::String(message.title.clone()));
                    if message.thrown || message.show_indicator {
                        object.insert("indicator".into(), Value::String(message.indicator.into()));
                    }
                    if message.thrown {
                        object.insert("raise_exception".into(), json!(1));
                        object.insert("__frappe_exc_id".into(), Value::String(random_exc_id()));
                    }
                    Value::String(python_json(&Value::Object(object)))
                })
                .collect();
            body.insert(
                "_server_messages".into(),
                Value::String(python_json(&Value::Array(inner))),
            );
        }
        if let Some(text) = &self.error_message {
            body.insert("_error_message".into(), Value::String(text.clone()));
        }
        Value::Object(body)
    }

    /// The v2 body (`/api/v2/...`).
    pub fn v2_body(&self) -> Value {
        let messages: Vec<Value> = self
            .messages
            .iter()
            .map(|message| {
                let mut object = json!({
                    "type": self.exc_type,
                    "message": message.message,
                    "title": message.title,
                });
                if message.thrown || message.show_indicator {
                    object["indicator"] = Value::String(message.indicator.to_string());
                }
                if self.with_traceback {
                    object["exception"] = Value::String(self.exception_line());
                }
                object
            })
            .collect();
        json!({ "errors": messages })
    }
}

fn random_exc_id() -> String {
    use rand::Rng;
    let mut generator = rand::thread_rng();
    (0..56)
        .map(|_| char::from_digit(generator.gen_range(0..16), 16).unwrap_or('0'))
        .collect()
}

/// Serializes like Python's `json.dumps` (`", "` and `": "` separators,
/// non-ASCII escaped), which is how Frappe writes `_server_messages` and webhook bodies.
pub fn python_json(value: &Value) -> String {
    let mut out = String::new();
    write_python_json(value, &mut out, false);
    out
}

/// Like [`python_json`] with keys sorted (Jinja's `tojson`).
pub fn python_json_sorted(value: &Value) -> String {
    let mut out = String::new();
    write_python_json(value, &mut out, true);
    out
}

fn write_python_json(value: &Value, out: &mut String, sort_keys: bool) {
    match value {
        Value::Object(object) => {
            out.push('{');
            let mut keys: Vec<&String> = object.keys().collect();
            if sort_keys {
                keys.sort();
            }
            for (index, key) in keys.into_iter().enumerate() {
                if index > 0 {
                    out.push_str(", ");
                }
                write_python_string(key, out);
                out.push_str(": ");
                write_python_json(&object[key], out, sort_keys);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push_str(", ");
                }
                write_python_json(item, out, sort_keys);
            }
            out.push(']');
        }
        Value::String(text) => write_python_string(text, out),
        other => out.push_str(&other.to_string()),
    }
}

fn write_python_string(text: &str, out: &mut String) {
    out.push('"');
    for character in text.chars() {
        match character {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut buffer = [0u16; 2];
                for unit in c.encode_utf16(&mut buffer) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_json_like_python() {
        let value = json!({"b": 1.0, "a": ["é", null]});
        assert_eq!(
            python_json_sorted(&value),
            "{\"a\": [\"\\u00e9\", null], \"b\": 1.0}"
        );
    }

    #[test]
    fn server_messages_are_json_strings_inside_a_json_string() {
        let body = SiteError::validation("Bad <strong>thing</strong>").v1_body();
        let outer: Vec<String> =
            serde_json::from_str(body["_server_messages"].as_str().unwrap()).unwrap();
        let inner: Value = serde_json::from_str(&outer[0]).unwrap();
        assert_eq!(inner["message"], json!("Bad <strong>thing</strong>"));
        assert_eq!(inner["raise_exception"], json!(1));
        assert_eq!(
            body["exception"],
            json!("frappe.exceptions.ValidationError: Bad <strong>thing</strong>")
        );
        let not_found = SiteError::not_found("X not found").v1_body();
        assert!(not_found.get("exception").is_none());
    }
}
