//! What ERPNext's Webhook documents send: a JSON body (the document, when the
//! webhook renders `{{ doc | tojson }}`) signed with
//! `X-Frappe-Webhook-Signature = base64(HMAC-SHA256(secret, body))`. No header
//! names the event, so each webhook gets its own URL (see `sync::setup`).

use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

/// The header that carries the signature.
pub const SIGNATURE_HEADER: &str = "X-Frappe-Webhook-Signature";

/// base64(HMAC-SHA256(secret, body)), as ERPNext signs a delivery (the simulator signs with it).
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(body);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Checks a delivery's signature against the raw body bytes, in constant time.
pub fn verify_signature(secret: &str, body: &[u8], signature: &str) -> bool {
    let Ok(expected) = base64::engine::general_purpose::STANDARD.decode(signature.trim()) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

/// The document a delivery is about: enough to decide whether it is news
/// (`modified`, `docstatus`) and to fetch the current state if needed.
#[derive(Debug, Clone, PartialEq)]
pub struct DocumentEvent {
    pub doctype: String,
    pub name: String,
    pub docstatus: i64,
    /// Site-local time, no offset (`2026-11-26 17:39:39.576662`).
    pub modified: String,
    /// The whole body, for flows that use the delivered snapshot.
    pub document: Value,
}

/// Reads a delivery body; says what is wrong when it is not a document.
pub fn parse_delivery(body: &[u8]) -> Result<DocumentEvent, String> {
    let document: Value = serde_json::from_slice(body)
        .map_err(|error| format!("the ERPNext webhook body is not JSON: {error}"))?;
    let text = |field: &str| {
        document
            .get(field)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| {
                format!("the ERPNext webhook body has no `{field}`; use webhook_json `{{{{ doc | tojson }}}}`")
            })
    };
    Ok(DocumentEvent {
        doctype: text("doctype")?,
        name: text("name")?,
        docstatus: document
            .get("docstatus")
            .and_then(Value::as_i64)
            .unwrap_or(0),
        modified: text("modified")?,
        document: document.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn every_recorded_delivery_verifies_and_parses() {
        let directory =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/erpnext/webhooks");
        let mut checked = 0;
        for entry in std::fs::read_dir(directory).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if !name.starts_with("erp-") {
                continue;
            }
            let capture: Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let body = base64::engine::general_purpose::STANDARD
                .decode(capture["body_base64"].as_str().unwrap())
                .unwrap();
            let secret = capture["secret"].as_str().unwrap();
            let signature = capture["signature_expected"].as_str().unwrap();
            assert!(verify_signature(secret, &body, signature), "{name}");
            assert!(
                !verify_signature("other-secret", &body, signature),
                "{name}"
            );
            let mut tampered = body.clone();
            tampered[10] ^= 1;
            assert!(!verify_signature(secret, &tampered, signature), "{name}");
            let event = parse_delivery(&body).unwrap();
            assert!(
                event.name.starts_with("SAL-ORD-") || event.name.starts_with("ACC-"),
                "{name}"
            );
            assert!(event.modified.starts_with("2026-11-26 "));
            checked += 1;
        }
        assert_eq!(checked, 18);
    }

    #[test]
    fn explains_bodies_that_are_not_documents() {
        assert!(parse_delivery(b"name=SO-1")
            .unwrap_err()
            .contains("not JSON"));
        assert!(parse_delivery(br#"{"name": "SO-1"}"#)
            .unwrap_err()
            .contains("no `doctype`"));
        assert!(!verify_signature("s", b"{}", "not base64!"));
    }
}
