//! The webhook verifier accepts every recorded delivery and ping, and rejects tampering.

use std::path::{Path, PathBuf};

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use base64::Engine;
use serde_json::Value;
use woocommerce_sync::woocommerce::webhook::{
    signature, verify_request, verify_signature, WebhookError, WebhookRequest,
};

fn fixtures(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(relative)
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn header_map(headers: &Value) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in headers.as_object().unwrap() {
        map.insert(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value.as_str().unwrap()).unwrap(),
        );
    }
    map
}

#[test]
fn signature_test_vectors() {
    let vectors = read_json(&fixtures(
        "woocommerce/webhooks/signature_test_vectors.json",
    ));
    for vector in vectors.as_array().unwrap() {
        let secret = vector["secret"].as_str().unwrap();
        let body = vector["raw_body"].as_str().unwrap().as_bytes();
        let expected = vector["signature"].as_str().unwrap();
        assert_eq!(signature(secret, body), expected);
        assert_eq!(verify_signature(secret, body, expected), Ok(()));
    }
}

#[test]
fn modeled_deliveries_verify_over_their_raw_bytes() {
    for name in ["order_created", "order_updated"] {
        let delivery = read_json(&fixtures(&format!(
            "woocommerce/webhooks/{name}.delivery.json"
        )));
        let body =
            std::fs::read(fixtures(&format!("woocommerce/webhooks/{name}.body.json"))).unwrap();
        let secret = delivery["webhook_secret"].as_str().unwrap();
        let headers = header_map(&delivery["headers"]);
        match verify_request(secret, &headers, &body).unwrap() {
            WebhookRequest::Delivery { headers: parsed } => {
                assert_eq!(parsed.topic, delivery["headers"]["X-WC-Webhook-Topic"]);
                let id: u64 = delivery["headers"]["X-WC-Webhook-ID"]
                    .as_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                assert_eq!(parsed.webhook_id, id);
                assert_eq!(parsed.resource, "order");
                assert_eq!(parsed.source, "https://example.com/");
                assert_eq!(parsed.delivery_id.len(), 32);
            }
            other => panic!("{name} was not a delivery: {other:?}"),
        }
        // One changed byte breaks it.
        let mut tampered = body.clone();
        tampered[10] ^= 1;
        assert_eq!(
            verify_request(secret, &headers, &tampered),
            Err(WebhookError::BadSignature)
        );
        assert_eq!(
            verify_request("wrong-secret", &headers, &body),
            Err(WebhookError::BadSignature)
        );
    }
}

#[test]
fn the_modeled_ping_is_recognised_unsigned() {
    let ping = read_json(&fixtures("woocommerce/webhooks/webhook_ping.json"));
    let headers = header_map(&ping["headers"]);
    let body = ping["body"].as_str().unwrap().as_bytes();
    assert_eq!(
        verify_request("any-secret", &headers, body),
        Ok(WebhookRequest::Ping { webhook_id: 12 })
    );
}

#[test]
fn every_real_capture_is_classified_and_verified() {
    let folder = fixtures("woocommerce-real/webhooks");
    let mut checked = 0;
    let mut pings = 0;
    for entry in std::fs::read_dir(&folder).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if !name.starts_with("wc-") {
            continue;
        }
        let capture = read_json(&path);
        let body = base64::engine::general_purpose::STANDARD
            .decode(capture["body_base64"].as_str().unwrap())
            .unwrap();
        let headers = header_map(&capture["headers"]);
        let secret = capture["secret"].as_str().unwrap();
        let outcome = verify_request(secret, &headers, &body);
        if name.contains("ping") {
            assert!(
                matches!(outcome, Ok(WebhookRequest::Ping { .. })),
                "{name}: {outcome:?}"
            );
            pings += 1;
        } else if capture["signature_valid"] == Value::Bool(true) {
            let Ok(WebhookRequest::Delivery { headers: parsed }) = outcome else {
                panic!("{name}: {outcome:?}");
            };
            assert_eq!(
                parsed.topic, capture["headers"]["X-WC-Webhook-Topic"],
                "{name}"
            );
        } else {
            assert_eq!(outcome, Err(WebhookError::BadSignature), "{name}");
        }
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} captures found");
    assert!(pings >= 4);
}

#[test]
fn a_delivery_without_headers_says_which_is_missing() {
    let error = verify_request("secret", &HeaderMap::new(), b"{\"id\":1}").unwrap_err();
    assert_eq!(error, WebhookError::MissingHeader("X-WC-Webhook-ID"));
    assert!(error.to_string().contains("X-WC-Webhook-ID"));
}
