//! What stops a connection as a whole — its webhooks refused, its credentials refused, a site
//! unreachable — told in words with what to do, for the dashboard. [`Blocker`] is classified
//! once from the poll's error; [`connection_problems`] is pure.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::store::WebhookRejection;
use crate::sync::report::SyncError;

/// Why a poll could not run at all (not one order's failure).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Blocker {
    WoocommerceRefused,
    WoocommerceUnreachable,
    ErpnextRefused,
    ErpnextUnreachable,
}

impl Blocker {
    /// The blocker an error is, if it is one: credentials refused (401/403) or a site that
    /// cannot be reached or keeps failing (what the clients call retryable).
    pub fn of(error: &SyncError) -> Option<Blocker> {
        match error {
            SyncError::WooCommerce(error) if matches!(error.status(), Some(401 | 403)) => {
                Some(Blocker::WoocommerceRefused)
            }
            SyncError::WooCommerce(error) if error.is_retryable() => {
                Some(Blocker::WoocommerceUnreachable)
            }
            SyncError::Erpnext(error) if error.is_auth() => Some(Blocker::ErpnextRefused),
            SyncError::Erpnext(error) if error.is_retryable() => Some(Blocker::ErpnextUnreachable),
            _ => None,
        }
    }
}

/// A problem that stops a connection, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConnectionProblem {
    pub what: String,
    pub advice: String,
}

fn side(source: &str) -> &'static str {
    match source {
        "erpnext" => "ERPNext",
        _ => "WooCommerce",
    }
}

/// The problems in words: every source whose webhooks are being refused (since the last one
/// accepted), and the last poll's blocker when it failed. `shown` formats a time for the reader.
pub fn connection_problems(
    rejections: &[WebhookRejection],
    poll_blocker: Option<(Blocker, DateTime<Utc>)>,
    shown: &dyn Fn(DateTime<Utc>) -> String,
) -> Vec<ConnectionProblem> {
    let mut problems: Vec<ConnectionProblem> = rejections
        .iter()
        .map(|rejection| {
            let who = side(&rejection.source);
            let (why, advice) = match (rejection.reason.as_str(), rejection.source.as_str()) {
                ("no_secret", _) => (
                    "the connection has no webhook secret",
                    "Set a webhook secret in the connection's settings, then press \"Set up both sites again\" there so both sites sign with it.".to_string(),
                ),
                ("signature", "erpnext") => (
                    "their signature does not match the connection's webhook secret",
                    "ERPNext's Webhooks sign with another secret: press \"Set up both sites again\" in the connection's settings to give them the connection's secret.".to_string(),
                ),
                ("signature", _) => (
                    "their signature does not match the connection's webhook secret",
                    "The store's webhooks sign with another secret: press \"Set up both sites again\" in the connection's settings to give them the connection's secret.".to_string(),
                ),
                _ => (
                    "their body is not the JSON document expected",
                    format!("Check the webhooks in {who}: they must send the order (WooCommerce) or the document as JSON (ERPNext); \"Set up both sites again\" in the settings recreates them."),
                ),
            };
            ConnectionProblem {
                what: format!(
                    "{who} webhooks are being refused: {} since {}, {why}. Changes reach this service only through the scheduled poll.",
                    rejection.refused,
                    shown(rejection.first_at)
                ),
                advice,
            }
        })
        .collect();
    if let Some((blocker, at)) = poll_blocker {
        let at = shown(at);
        problems.push(match blocker {
            Blocker::WoocommerceRefused => ConnectionProblem {
                what: format!("WooCommerce refused the connection's consumer key and secret at {at}; no order is read."),
                advice: "Make a new REST key with Read/Write permission in WooCommerce → Settings → Advanced → REST API and enter it in the connection's settings.".into(),
            },
            Blocker::WoocommerceUnreachable => ConnectionProblem {
                what: format!("The WooCommerce store could not be reached at {at}; no order is read."),
                advice: "Check that the store is up and that its address in the connection's settings is right; the next poll tries again.".into(),
            },
            Blocker::ErpnextRefused => ConnectionProblem {
                what: format!("ERPNext refused the connection's API key and secret at {at}; nothing is written."),
                advice: "Generate new API keys for the user in ERPNext (user settings → API Access) and enter them in the connection's settings.".into(),
            },
            Blocker::ErpnextUnreachable => ConnectionProblem {
                what: format!("ERPNext could not be reached at {at}; nothing is written."),
                advice: "Check that the ERPNext site is up and that its address in the connection's settings is right; the next poll tries again.".into(),
            },
        });
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_webhooks_are_told_with_count_since_and_what_to_do() {
        let at = "2026-12-05T09:14:00Z".parse().unwrap();
        let rejections = [WebhookRejection {
            source: "erpnext".into(),
            reason: "no_secret".into(),
            refused: 56,
            first_at: at,
            last_at: at,
        }];
        let problems = connection_problems(
            &rejections,
            Some((Blocker::WoocommerceRefused, at)),
            &|at| at.format("%H:%M").to_string(),
        );
        assert_eq!(problems.len(), 2);
        assert!(
            problems[0]
                .what
                .starts_with("ERPNext webhooks are being refused: 56 since 09:14, the connection has no webhook secret"),
            "{problems:?}"
        );
        assert!(problems[0].advice.contains("Set a webhook secret"));
        assert!(problems[1]
            .what
            .contains("WooCommerce refused the connection's consumer key"));
        assert!(problems.iter().all(|p| !p.advice.contains("--")));
    }
}
