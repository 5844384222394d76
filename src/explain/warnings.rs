//! Proxy mistakes visible in one subrequest, each with what to change: the directive of the
//! proxy that sent it, as the tested examples (`nginx-examples/`, `traefik-examples/`,
//! `caddy-examples/`) spell it. Pure.

use http::{HeaderMap, HeaderName};

use super::subrequest::Proxy;
use crate::redirect::ReturnUrlRefusal;

/// One problem and its fix.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Warning {
    /// A stable name for machines (`no-navigation-hints`).
    pub code: &'static str,
    /// What is wrong and what it causes.
    pub problem: String,
    /// What to change.
    pub fix: String,
}

/// What the warnings are judged from.
#[derive(Debug, Clone)]
pub struct Seen<'a> {
    /// Who sent it; `None`: Traefik or Caddy, unknown which (a captured `/auth` request).
    pub proxy: Option<Proxy>,
    /// Whether it asked `/auth/nginx*`.
    pub nginx_endpoint: bool,
    /// A captured subrequest (what the proxy copies is known), not one described by flags.
    pub captured: bool,
    /// The subrequest's headers.
    pub headers: &'a HeaderMap,
    /// The peer, as text, and whether `SIDEGATE_TRUSTED_PROXIES` has it.
    pub peer: (&'a str, bool),
    /// The original URL, and why a sign-in could not return to it (if so).
    pub return_url: Option<(&'a str, Option<ReturnUrlRefusal>)>,
    /// Headers the profile always answers (the proxy replaces the client's copies with them).
    pub answered: &'a [HeaderName],
    /// `SIDEGATE_APIKEY_HEADER`, a credential the client sends on purpose.
    pub apikey_header: Option<&'a HeaderName>,
}

/// The forwarded headers of either family, and RFC 7239's.
fn forwarded_headers() -> impl Iterator<Item = &'static str> {
    std::iter::once("forwarded").chain(crate::forwarded::FORWARDED.iter().copied())
}

/// The fix for the proxy that sent the request; both Traefik's and Caddy's when unknown.
fn pick(s: &Seen<'_>, traefik: &str, caddy: &str, nginx: &str) -> String {
    match s.proxy {
        Some(Proxy::Traefik) => traefik.to_owned(),
        Some(Proxy::Caddy) => caddy.to_owned(),
        Some(Proxy::Nginx) => nginx.to_owned(),
        None if s.nginx_endpoint => nginx.to_owned(),
        None => format!("Traefik: {traefik} Caddy: {caddy}"),
    }
}

fn has(h: &HeaderMap, name: &str) -> bool {
    h.contains_key(name)
}

/// Every warning for `s`, in a fixed order.
pub fn detect(s: &Seen<'_>) -> Vec<Warning> {
    let mut out = Vec::new();
    let mut warn = |code, problem: String, fix: String| out.push(Warning { code, problem, fix });
    let h = s.headers;
    match (s.proxy, s.nginx_endpoint) {
        (Some(Proxy::Nginx), false) => warn("wrong-endpoint",
            "nginx asks /auth, the Traefik and Caddy endpoint: it answers a sign-in with a 302, which auth_request turns into a 500, and reads X-Forwarded-Uri and X-Forwarded-Method, which nginx does not send".into(),
            "point the auth location at the nginx endpoint: `proxy_pass http://sidegate/auth/nginx;` (or /auth/nginx/<app>)".into()),
        (Some(p @ (Proxy::Traefik | Proxy::Caddy)), true) => warn("wrong-endpoint",
            format!("{} asks /auth/nginx, the nginx endpoint: it reads X-Original-URL/-URI and X-Original-Method, which {0} does not send, and answers a sign-in with 401 + Location, which {0} hands the browser as a bare 401", name(p)),
            pick(s, "`address: http://sidegate:4180/auth` (or /auth/<app>) in the forwardAuth middleware.", "`uri /auth` (or /auth/<app>) in forward_auth.", "")),
        _ => {}
    }
    if s.captured && !has(h, "accept") && !has(h, "sec-fetch-mode") {
        warn("no-navigation-hints",
            "the subrequest has neither Accept nor Sec-Fetch-Mode, so sidegate cannot tell a browser's navigation from an API call: browsers without a session get 401 instead of the sign-in page".into(),
            pick(s,
                "list Accept and Sec-Fetch-Mode in the middleware's authRequestHeaders (the example has `authRequestHeaders: [Accept, Sec-Fetch-Mode, Cookie, Authorization]`).",
                "forward_auth passes the client's headers: remove any `header_up -Accept` or `header_up -Sec-Fetch-Mode` from its block.",
                "the auth location passes the client's headers unless told otherwise: remove `proxy_pass_request_headers off;` there, or add `proxy_set_header Accept $http_accept;` and `proxy_set_header Sec-Fetch-Mode $http_sec_fetch_mode;`."));
    }
    if s.captured && !has(h, "cookie") {
        warn("no-cookie",
            "the subrequest has no Cookie header: if the proxy drops cookies, sidegate never sees a session and nobody is ever signed in (every visit goes back to the sign-in); harmless only if this browser had no cookies at all".into(),
            pick(s,
                "list Cookie in the middleware's authRequestHeaders.",
                "remove any `header_up -Cookie` from the forward_auth block.",
                "remove `proxy_pass_request_headers off;` from the auth location, or add `proxy_set_header Cookie $http_cookie;` there."));
    }
    let forwarded: Vec<&str> = forwarded_headers().filter(|n| has(h, n)).collect();
    if !s.peer.1 && !forwarded.is_empty() {
        warn("untrusted-peer",
            format!("the subrequest comes from {}, which is not in SIDEGATE_TRUSTED_PROXIES, so its forwarded headers ({}) are not believed and every check is refused with 403", s.peer.0, forwarded.join(", ")),
            format!("if {} is your proxy, add it or its network to SIDEGATE_TRUSTED_PROXIES (a container network is often 172.16.0.0/12); otherwise something other than the proxy reaches sidegate's /auth, and only the proxy should", s.peer.0));
    }
    let others: &[&str] = if s.nginx_endpoint {
        &["x-forwarded-uri", "x-forwarded-method"]
    } else {
        &["x-original-url", "x-original-uri", "x-original-method"]
    };
    let present: Vec<&str> = others.iter().copied().filter(|n| has(h, n)).collect();
    if !present.is_empty() {
        let (endpoint, reads) = if s.nginx_endpoint {
            ("/auth/nginx", "X-Original-Method, and X-Original-URL or X-Original-URI with X-Forwarded-Proto/-Host")
        } else {
            ("/auth", "X-Forwarded-Method, -Proto, -Host and -Uri")
        };
        warn("other-family",
            format!("the subrequest carries {}, the other proxy family's headers, which sidegate ignores at {endpoint} (it reads {reads}): a client sent them, or the proxy sets the wrong family", present.join(", ")),
            pick(s,
                "keep authRequestHeaders to what sidegate reads (`[Accept, Sec-Fetch-Mode, Cookie, Authorization]`), so a client's copies never reach it.",
                "drop them in forward_auth: `header_up -X-Original-URL`, `header_up -X-Original-URI`, `header_up -X-Original-Method`.",
                "blank them in the auth location: `proxy_set_header X-Forwarded-Uri \"\";` and `proxy_set_header X-Forwarded-Method \"\";` (as nginx-examples/sidegate.conf does)."));
    }
    if has(h, "forwarded") {
        let theirs = crate::forwarded::FORWARDED.iter().any(|n| has(h, n));
        warn("forwarded-rfc7239",
            format!("the subrequest carries Forwarded (RFC 7239), which sidegate never reads{}", if theirs { "; it reads the X-Forwarded-*/X-Original-* headers beside it" } else { ", and no X-Forwarded-*/X-Original-* header, so the check is refused" }),
            pick(s,
                "nothing if Traefik sets its X-Forwarded-* (it always does); the Forwarded header is the client's or a proxy's in front, and counts for nothing.",
                "nothing if forward_auth sets X-Forwarded-* (it always does); the Forwarded header counts for nothing.",
                "set the headers the nginx endpoint reads in the auth location (`proxy_set_header X-Original-URI $request_uri;`, `X-Original-Method $request_method`, `X-Forwarded-Proto $scheme`, `X-Forwarded-Host $http_host`); Forwarded counts for nothing."));
    }
    if let Some((url, Some(why))) = s.return_url {
        let fix = match why {
            ReturnUrlRefusal::InsecureWithSecureCookie => "serve the app over https (or, for a test setup only, SIDEGATE_COOKIE_SECURE=false)".to_owned(),
            _ => "add the app's host, or a parent domain, to SIDEGATE_ALLOWED_REDIRECT_DOMAINS (and let SIDEGATE_COOKIE_DOMAIN cover it, so the session cookie reaches it)".to_owned(),
        };
        warn("return-url-refused",
            format!("a sign-in could not return to {url}: {}; browsers without a session get 403 instead of the sign-in page", why.as_str()),
            fix);
    }
    for name in h.keys() {
        let own = name == http::header::AUTHORIZATION
            || name == http::header::COOKIE
            || s.apikey_header == Some(name);
        let trusted = crate::upstream::TRUSTED_ELSEWHERE.contains(&name.as_str());
        let answered = s.answered.contains(name);
        if own || !(trusted || answered) {
            continue;
        }
        let fix = if answered {
            format!("sidegate answers {name} itself for this app (empty when it has no value), so the proxy replaces the client's copy as long as it copies {name} from the answer: check that it is in {}", pick(s, "authResponseHeaders.", "copy_headers.", "an `auth_request_set` + `proxy_set_header` pair."))
        } else {
            format!("sidegate does not set {name} for this app, so the proxy must drop the client's copy: {}", pick(s,
                &format!("list {name} in authResponseHeaders (Traefik then removes the client's copy)."),
                &format!("`request_header -{name}` in the site."),
                &format!("`proxy_set_header {name} \"\";` in the app's location.")))
        };
        warn("client-identity-header",
            format!("the request already carries {name}, a header apps trust for identity: the client (or a proxy in front) set it"),
            fix);
    }
    out
}

fn name(p: Proxy) -> &'static str {
    match p {
        Proxy::Traefik => "Traefik",
        Proxy::Caddy => "Caddy",
        Proxy::Nginx => "nginx",
    }
}
