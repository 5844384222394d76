//! The original request, as the proxy describes it in forwarded headers.
//!
//! Pure: no I/O. Each endpoint reads one [`Family`] and ignores the other: a client can add
//! any header it likes, and proxies pass most of them into the auth subrequest.
//! - `/auth`, `/auth/<app>` (Traefik, Caddy): `X-Forwarded-Method/-Proto/-Host/-Uri`;
//! - `/auth/nginx*`: `X-Original-Method` and `X-Original-URL`, or `X-Original-URI` with the
//!   `X-Forwarded-Proto/-Host` the nginx examples set themselves.
//!
//! These headers are believed only from trusted peers; anything missing, repeated, or oddly
//! spelled is refused rather than guessed.

use std::net::IpAddr;

use http::{HeaderMap, HeaderName};
use ipnet::IpNet;

/// The request the client made to the proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardedRequest {
    /// HTTP method, uppercase (`GET` when the proxy did not say).
    pub method: String,
    /// Whether the proxy said the method (a `methods` rule refuses when it did not).
    pub method_given: bool,
    /// `http` or `https`.
    pub proto: String,
    /// Host with a non-default port, lowercase.
    pub host: String,
    /// Path and query, byte for byte as received.
    pub uri: String,
}

impl ForwardedRequest {
    /// The absolute URL of the original request, for returning there after login.
    pub fn url(&self) -> String {
        format!("{}://{}{}", self.proto, self.host, self.uri)
    }
}

/// Why the forwarded headers could not be believed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwardedError {
    /// The peer is not in `SIDEGATE_TRUSTED_PROXIES`.
    UntrustedPeer,
    /// A required header is missing.
    Missing(&'static str),
    /// A header's value is not usable.
    Invalid(&'static str),
    /// A header appears more than once.
    Repeated(&'static str),
    /// A header spelled with underscores, which some servers merge with the real one.
    Underscored,
    /// The request is addressed to sidegate's own public host: a browser asking `/auth*`
    /// directly, never a proxy's subrequest.
    PublicHost,
}

impl std::fmt::Display for ForwardedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::UntrustedPeer => f.write_str("peer is not in SIDEGATE_TRUSTED_PROXIES"),
            Self::Missing(h) => write!(f, "missing header {h}"),
            Self::Invalid(h) => write!(f, "invalid header {h}"),
            Self::Repeated(h) => write!(f, "header {h} sent more than once"),
            Self::Underscored => f.write_str("forwarded header spelled with underscores"),
            Self::PublicHost => f.write_str("an /auth request addressed to sidegate's own public host (a browser, not a proxy's subrequest); route only the browser-facing paths of that host to sidegate"),
        }
    }
}

/// Which proxy's headers an endpoint reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Traefik's and Caddy's `X-Forwarded-Method/-Proto/-Host/-Uri`.
    Forwarded,
    /// nginx's `X-Original-Method` with `X-Original-URL`, or `X-Original-URI` with
    /// `X-Forwarded-Proto/-Host`.
    Original,
}

// Looked up by name, not by `&str` (which parses the name on every lookup).
static X_FORWARDED_METHOD: HeaderName = HeaderName::from_static("x-forwarded-method");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
static X_FORWARDED_URI: HeaderName = HeaderName::from_static("x-forwarded-uri");
static X_ORIGINAL_URL: HeaderName = HeaderName::from_static("x-original-url");
static X_ORIGINAL_URI: HeaderName = HeaderName::from_static("x-original-uri");
static X_ORIGINAL_METHOD: HeaderName = HeaderName::from_static("x-original-method");
static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// The forwarded headers of either family (what sidegate reads, and what no client may
/// spell with underscores).
pub const FORWARDED: &[&str] = &[
    "x-forwarded-method",
    "x-forwarded-proto",
    "x-forwarded-host",
    "x-forwarded-uri",
    "x-forwarded-port",
    "x-forwarded-for",
    "x-original-url",
    "x-original-uri",
    "x-original-method",
];

/// Whether `peer` may describe requests to us.
pub fn is_trusted(peer: Option<IpAddr>, trusted: &[IpNet]) -> bool {
    peer.map(|ip| ip.to_canonical())
        .is_some_and(|ip| trusted.iter().any(|net| net.contains(&ip)))
}

/// The client's address as the trusted proxy in front saw it: the last entry of the last
/// `X-Forwarded-For`. Each proxy appends the address it was reached from, so every entry
/// before that one is the client's own words; without the header, the peer itself. Only
/// meaningful for a peer [`parse`] trusts.
pub fn client_address(peer: Option<IpAddr>, headers: &HeaderMap) -> Option<IpAddr> {
    let appended = headers
        .get_all(&X_FORWARDED_FOR)
        .iter()
        .next_back()
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .map(str::trim)
        .and_then(|v| {
            let bare = v.trim_start_matches('[').trim_end_matches(']');
            bare.parse::<IpAddr>()
                .ok()
                .or_else(|| v.parse::<std::net::SocketAddr>().ok().map(|a| a.ip()))
        });
    appended.or(peer).map(|ip| ip.to_canonical())
}

/// Whether the request is addressed to `public_host` (sidegate's own): by its `Host` or its
/// first `X-Forwarded-Host`, case ignored. Proxies send auth subrequests for app hosts; a
/// browser asking for `/auth*` on sidegate's host would read the app's credential. The
/// port is ignored unless the public URL names one and the request names another (apps
/// at `localhost:8080` beside sidegate at `localhost:4180`, as `make demo` runs them).
pub fn addressed_to(headers: &HeaderMap, public_host: &str, public_port: Option<u16>) -> bool {
    let host_of = |v: &str| {
        let v = v.split(',').next().unwrap_or_default().trim();
        let (host, port) = match v.strip_prefix('[') {
            Some(rest) => {
                let (h, after) = rest.split_once(']').unwrap_or((rest, ""));
                (h, after.strip_prefix(':'))
            }
            None => match v.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (v, None),
            },
        };
        let other_port = match (public_port, port.and_then(|p| p.parse::<u16>().ok())) {
            (Some(public), Some(asked)) => public != asked,
            _ => false,
        };
        !other_port && host.trim_end_matches('.').eq_ignore_ascii_case(public_host)
    };
    [&http::header::HOST, &X_FORWARDED_HOST].iter().any(|name| {
        headers
            .get_all(*name)
            .iter()
            .any(|v| v.to_str().is_ok_and(host_of))
    })
}

/// Refuses what cannot be a proxy's auth subrequest: no `Host` or two of them (which one
/// is it for?), or a request addressed to sidegate's own `public_host` (a browser).
///
/// # Errors
/// [`ForwardedError::Missing`], [`ForwardedError::Repeated`] or
/// [`ForwardedError::PublicHost`].
pub fn subrequest_only(
    headers: &HeaderMap,
    public_host: &str,
    public_port: Option<u16>,
) -> Result<(), ForwardedError> {
    match headers.get_all(http::header::HOST).iter().count() {
        // Every proxy's subrequest names its host (HTTP/1.1 requires it).
        0 => return Err(ForwardedError::Missing("Host")),
        1 => {}
        _ => return Err(ForwardedError::Repeated("Host")),
    }
    if addressed_to(headers, public_host, public_port) {
        return Err(ForwardedError::PublicHost);
    }
    Ok(())
}

/// Reads the original request from forwarded headers sent by `peer`.
///
/// # Errors
/// A [`ForwardedError`] saying which header could not be believed.
pub fn parse(
    peer: Option<IpAddr>,
    headers: &HeaderMap,
    trusted: &[IpNet],
    family: Family,
) -> Result<ForwardedRequest, ForwardedError> {
    if !is_trusted(peer, trusted) {
        return Err(ForwardedError::UntrustedPeer);
    }
    let underscored = headers.keys().any(|name| {
        let n = name.as_str();
        n.contains('_') && FORWARDED.contains(&n.replace('_', "-").as_str())
    });
    if underscored {
        return Err(ForwardedError::Underscored);
    }
    let (method_header, name) = match family {
        Family::Forwarded => (&X_FORWARDED_METHOD, "X-Forwarded-Method"),
        Family::Original => (&X_ORIGINAL_METHOD, "X-Original-Method"),
    };
    let given = one(headers, method_header)?;
    let method = given.unwrap_or("GET");
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(ForwardedError::Invalid(name));
    }
    let method = Method {
        name: method.to_ascii_uppercase(),
        given: given.is_some(),
    };
    let original_url = match family {
        Family::Original => one(headers, &X_ORIGINAL_URL)?,
        Family::Forwarded => None,
    };
    if let Some(url) = original_url {
        let (proto, rest) = url
            .split_once("://")
            .ok_or(ForwardedError::Invalid("X-Original-URL"))?;
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (host, uri) = rest.split_at(split);
        let uri = if uri.starts_with('?') {
            format!("/{uri}")
        } else {
            uri.to_owned()
        };
        let uri = if uri.is_empty() { "/".to_owned() } else { uri };
        return build(method, proto, host, &uri, "X-Original-URL");
    }
    let proto =
        one(headers, &X_FORWARDED_PROTO)?.ok_or(ForwardedError::Missing("X-Forwarded-Proto"))?;
    let host =
        one(headers, &X_FORWARDED_HOST)?.ok_or(ForwardedError::Missing("X-Forwarded-Host"))?;
    let (uri_header, uri_name) = match family {
        Family::Forwarded => (&X_FORWARDED_URI, "X-Forwarded-Uri"),
        Family::Original => (&X_ORIGINAL_URI, "X-Original-URI"),
    };
    let uri = one(headers, uri_header)?.ok_or(ForwardedError::Missing(uri_name))?;
    // A chain of proxies may list several values; the first is the client-facing one.
    let first = |v: &str| v.split(',').next().unwrap_or_default().trim().to_owned();
    build(method, &first(proto), &first(host), uri, uri_name)
}

struct Method {
    name: String,
    given: bool,
}

fn build(
    method: Method,
    proto: &str,
    host: &str,
    uri: &str,
    uri_header: &'static str,
) -> Result<ForwardedRequest, ForwardedError> {
    let proto = proto.to_ascii_lowercase();
    if proto != "http" && proto != "https" {
        return Err(ForwardedError::Invalid("X-Forwarded-Proto"));
    }
    let host_ok = |b: u8| b.is_ascii_alphanumeric() || b"-.:[]_".contains(&b);
    if host.is_empty() || !host.bytes().all(host_ok) {
        return Err(ForwardedError::Invalid("X-Forwarded-Host"));
    }
    if !uri.starts_with('/') || uri.chars().any(|c| c.is_control() || c == ' ') {
        return Err(ForwardedError::Invalid(uri_header));
    }
    let host = host.to_ascii_lowercase();
    let default_port = if proto == "https" { ":443" } else { ":80" };
    let host = host.strip_suffix(default_port).unwrap_or(&host).to_owned();
    Ok(ForwardedRequest {
        method: method.name,
        method_given: method.given,
        proto,
        host,
        uri: uri.to_owned(),
    })
}

/// The value of a header that must appear at most once, as text.
fn one<'a>(
    headers: &'a HeaderMap,
    header: &'static HeaderName,
) -> Result<Option<&'a str>, ForwardedError> {
    let name = header.as_str();
    let mut values = headers.get_all(header).iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(ForwardedError::Repeated(name));
    }
    first
        .to_str()
        .map(|s| Some(s.trim()))
        .map_err(|_| ForwardedError::Invalid(name))
}

#[cfg(test)]
mod tests;
