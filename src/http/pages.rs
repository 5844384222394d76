//! The few HTML pages sidegate itself shows: small, readable, no internals, no scripts.

use warp::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, X_FRAME_OPTIONS};
use warp::http::{HeaderValue, StatusCode};
use warp::reply::Response;

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A page with `title` and `message` (both escaped here).
pub fn page(status: StatusCode, title: &str, message: &str) -> Response {
    page_with_link(status, title, message, None)
}

/// A page with `title`, `message` and an optional link `(text, href)` (all escaped here).
pub fn page_with_link(
    status: StatusCode,
    title: &str,
    message: &str,
    link: Option<(&str, &str)>,
) -> Response {
    page_with_links(status, title, message, link.as_slice())
}

/// A page with `title`, `message` and links `(text, href)`, one per line (all escaped here).
pub fn page_with_links(
    status: StatusCode,
    title: &str,
    message: &str,
    links: &[(&str, &str)],
) -> Response {
    let link: String = links
        .iter()
        .map(|(text, href)| format!("<p><a href=\"{}\">{}</a></p>", escape(href), escape(text)))
        .collect();
    let body = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{t}</title>\
<style>body{{font-family:system-ui,sans-serif;max-width:34rem;margin:4rem auto;padding:0 1rem;color:#222}}\
h1{{font-size:1.4rem}}p{{line-height:1.5}}</style></head>\
<body><h1>{t}</h1><p>{m}</p>{link}</body></html>\n",
        t = escape(title),
        m = escape(message),
    );
    let mut r = Response::new(body.into());
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
    );
    r
}
