//! HTML by hand: one escape function and one page layout. Every value that
//! came from outside (order data, error messages, settings) goes through
//! [`escape`]; nothing else builds markup.

use std::fmt::Write;

use axum::response::Html;

use crate::store::HourlyCounts;

/// Escapes text for element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

/// Escapes a value for a URL query (then for HTML, as it lands in an attribute).
pub fn query_value(text: &str) -> String {
    escape(
        &percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC)
            .to_string(),
    )
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;color:#222}\
nav{background:#2c3e50;padding:.6em 1em}nav a{color:#fff;margin-right:1.2em;text-decoration:none}\
nav form{display:inline;float:right}main{padding:1em 2em}\
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border-bottom:1px solid #ddd;padding:.3em .7em;text-align:left;vertical-align:top}\
.failed{color:#b00020}.ok{color:#1b5e20}.muted{color:#777}form.inline{display:inline}\
section{border:1px solid #ddd;border-radius:6px;padding:.5em 1em;margin-bottom:1em}\
button{cursor:pointer}pre{white-space:pre-wrap;max-width:60em}";

/// The page around `body`, with the navigation and a logout form carrying the CSRF token.
pub fn page(title: &str, csrf_token: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} — woocommerce-sync</title><style>{STYLE}</style></head><body>\
         <nav><a href=\"/\">Dashboard</a><a href=\"/orders\">Orders</a><a href=\"/log\">Sync log</a>\
         <a href=\"/settings\">Settings</a>\
         <form method=\"post\" action=\"/logout\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <button type=\"submit\">Log out</button></form></nav>\
         <main><h1>{title}</h1>{body}</main></body></html>",
        title = escape(title),
        csrf = escape(csrf_token),
    ))
}

/// A POST button form with the CSRF token and hidden fields.
pub fn post_button(action: &str, label: &str, csrf_token: &str, fields: &[(&str, &str)]) -> String {
    let mut form = format!(
        "<form class=\"inline\" method=\"post\" action=\"{}\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        escape(action),
        escape(csrf_token)
    );
    for (name, value) in fields {
        let _ = write!(
            form,
            "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
            escape(name),
            escape(value)
        );
    }
    let _ = write!(
        form,
        "<button type=\"submit\">{}</button></form>",
        escape(label)
    );
    form
}

/// An inline SVG bar chart: per hour, successes (green) stacked under failures (red).
pub fn hourly_chart(hours: &[(String, HourlyCounts)]) -> String {
    const HEIGHT: f64 = 80.0;
    const BAR: usize = 14;
    let peak = hours
        .iter()
        .map(|(_, counts)| counts.succeeded + counts.failed)
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let width = hours.len() * BAR;
    let mut svg = format!(
        "<svg role=\"img\" aria-label=\"syncs and failures per hour\" width=\"{width}\" height=\"{}\" \
         viewBox=\"0 0 {width} {}\">",
        HEIGHT as usize + 14,
        HEIGHT as usize + 14
    );
    for (index, (label, counts)) in hours.iter().enumerate() {
        let x = index * BAR;
        let ok_height = counts.succeeded as f64 / peak * HEIGHT;
        let failed_height = counts.failed as f64 / peak * HEIGHT;
        let _ = write!(
            svg,
            "<g><title>{} UTC: {} ok, {} failed</title>\
             <rect x=\"{x}\" y=\"{:.1}\" width=\"{}\" height=\"{ok_height:.1}\" fill=\"#43a047\"/>\
             <rect x=\"{x}\" y=\"{:.1}\" width=\"{}\" height=\"{failed_height:.1}\" fill=\"#e53935\"/></g>",
            escape(label),
            counts.succeeded,
            counts.failed,
            HEIGHT - ok_height,
            BAR - 2,
            HEIGHT - ok_height - failed_height,
            BAR - 2,
        );
        if index % 6 == 0 {
            let _ = write!(
                svg,
                "<text x=\"{x}\" y=\"{}\" font-size=\"9\">{}h</text>",
                HEIGHT as usize + 12,
                escape(label.get(11..13).unwrap_or(""))
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape("<script>alert(\"x\")</script> & 'y'"),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"
        );
    }

    #[test]
    fn the_chart_has_one_bar_pair_per_hour() {
        let hours = vec![
            (
                "2026-11-26T10".to_string(),
                HourlyCounts {
                    hour: "2026-11-26T10".into(),
                    succeeded: 4,
                    failed: 1,
                },
            ),
            (
                "2026-11-26T11".to_string(),
                HourlyCounts {
                    hour: "2026-11-26T11".into(),
                    succeeded: 0,
                    failed: 0,
                },
            ),
        ];
        let svg = hourly_chart(&hours);
        assert_eq!(svg.matches("<rect").count(), 4);
        assert!(svg.contains("4 ok, 1 failed"));
    }
}
