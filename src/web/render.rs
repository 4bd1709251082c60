//! HTML from minijinja templates compiled into the binary (`include_str!`). Every `.html`
//! template escapes what it prints, so a value from outside (order data, error messages,
//! settings) cannot become markup; nothing else in the service builds HTML.

use std::sync::LazyLock;

use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use minijinja::Environment;
use serde::Serialize;

use crate::store::HourlyCounts;

/// The one stylesheet (served at `/style.css`).
pub const STYLESHEET: &str = include_str!("style.css");

static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut environment = Environment::new();
    for (name, source) in [
        ("layout.html", include_str!("templates/layout.html")),
        ("macros.html", include_str!("templates/macros.html")),
        ("message.html", include_str!("templates/message.html")),
        ("login.html", include_str!("templates/login.html")),
        ("password.html", include_str!("templates/password.html")),
        ("dashboard.html", include_str!("templates/dashboard.html")),
        ("orders.html", include_str!("templates/orders.html")),
        ("order.html", include_str!("templates/order.html")),
        ("log.html", include_str!("templates/log.html")),
        ("log_table.html", include_str!("templates/log_table.html")),
        ("settings.html", include_str!("templates/settings.html")),
        ("products.html", include_str!("templates/products.html")),
        (
            "new_connection.html",
            include_str!("templates/new_connection.html"),
        ),
        (
            "new_connection_review.html",
            include_str!("templates/new_connection_review.html"),
        ),
        (
            "new_connection_progress.html",
            include_str!("templates/new_connection_progress.html"),
        ),
        (
            "connection_settings.html",
            include_str!("templates/connection_settings.html"),
        ),
    ] {
        environment
            .add_template(name, source)
            .unwrap_or_else(|error| panic!("template {name} does not compile: {error:#}"));
    }
    environment
});

/// A page from `template` with `context`, answered with `status`.
pub fn page(status: StatusCode, template: &str, context: impl Serialize) -> Response {
    match TEMPLATES
        .get_template(template)
        .and_then(|template| template.render(context))
    {
        Ok(html) => (status, Html(html)).into_response(),
        Err(error) => {
            tracing::error!(
                template,
                error = format!("{error:#}"),
                "a page could not be rendered"
            );
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                "This page could not be built; see the service log.",
            )
                .into_response()
        }
    }
}

/// A page that only says something (and where to go back to).
pub fn message(status: StatusCode, title: &str, text: &str, csrf: Option<&str>) -> Response {
    page(
        status,
        "message.html",
        minijinja::context! { title, message => text, csrf },
    )
}

/// The dashboard's chart as numbers the template draws: per hour, successes under failures.
#[derive(Debug, Serialize)]
pub struct Chart {
    pub width: usize,
    pub height: usize,
    pub bar_width: usize,
    pub ok_total: i64,
    pub failed_total: i64,
    pub bars: Vec<Bar>,
}

#[derive(Debug, Serialize)]
pub struct Bar {
    pub label: String,
    pub ok: i64,
    pub failed: i64,
    pub x: usize,
    pub ok_y: String,
    pub ok_height: String,
    pub failed_y: String,
    pub failed_height: String,
    /// The hour written under every sixth bar.
    pub tick: Option<String>,
}

pub fn hourly_chart(hours: &[(String, HourlyCounts)]) -> Chart {
    const HEIGHT: f64 = 80.0;
    const BAR: usize = 16;
    let peak = hours
        .iter()
        .map(|(_, counts)| counts.succeeded + counts.failed)
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let bars = hours
        .iter()
        .enumerate()
        .map(|(index, (label, counts))| {
            let ok_height = counts.succeeded as f64 / peak * HEIGHT;
            let failed_height = counts.failed as f64 / peak * HEIGHT;
            Bar {
                label: label.clone(),
                ok: counts.succeeded,
                failed: counts.failed,
                x: index * BAR,
                ok_y: format!("{:.1}", HEIGHT - ok_height),
                ok_height: format!("{ok_height:.1}"),
                failed_y: format!("{:.1}", HEIGHT - ok_height - failed_height),
                failed_height: format!("{failed_height:.1}"),
                tick: (index % 6 == 0).then(|| label.get(11..13).unwrap_or("").to_string()),
            }
        })
        .collect();
    Chart {
        width: hours.len() * BAR,
        height: HEIGHT as usize,
        bar_width: BAR - 2,
        ok_total: hours.iter().map(|(_, counts)| counts.succeeded).sum(),
        failed_total: hours.iter().map(|(_, counts)| counts.failed).sum(),
        bars,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_compiles_and_values_are_escaped() {
        let response = page(
            StatusCode::OK,
            "message.html",
            minijinja::context! { title => "<t>", message => "<script>alert(\"x\")</script> & 'y'" },
        );
        assert_eq!(response.status(), StatusCode::OK);
        let html = TEMPLATES
            .get_template("message.html")
            .unwrap()
            .render(minijinja::context! { title => "t", message => "<script>\"x\"</script> & 'y'" })
            .unwrap();
        assert!(
            html.contains("&lt;script&gt;&quot;x&quot;&lt;&#x2f;script&gt; &amp; &#x27;y&#x27;"),
            "{html}"
        );
        assert!(!html.contains("<script>"));
    }

    #[test]
    fn the_chart_has_one_bar_per_hour_and_totals() {
        let hour = |hour: &str, succeeded, failed| {
            (
                hour.to_string(),
                HourlyCounts {
                    hour: hour.into(),
                    succeeded,
                    failed,
                },
            )
        };
        let chart = hourly_chart(&[hour("2026-11-26T10", 4, 1), hour("2026-11-26T11", 0, 0)]);
        assert_eq!(chart.bars.len(), 2);
        assert_eq!((chart.ok_total, chart.failed_total), (4, 1));
        assert_eq!(chart.bars[0].tick.as_deref(), Some("10"));
    }
}
