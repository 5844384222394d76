//! One small parser per kind of value, each pushing a problem that names the variable and
//! says how to fix it.

use std::net::SocketAddr;
use std::time::Duration;

use ipnet::IpNet;
use url::Url;

use crate::secret::Secret;

/// How to make a good secret.
pub(super) const GENERATE: &str = "generate one with: openssl rand -base64 48";

pub(super) fn required(
    v: Option<String>,
    var: &str,
    what: &str,
    p: &mut Vec<String>,
) -> Option<String> {
    match v.map(|s| s.trim().to_owned()) {
        Some(s) if !s.is_empty() => Some(s),
        _ => {
            p.push(format!("{var}: missing; set it to {what}"));
            None
        }
    }
}

pub(super) fn is_http_url(s: &str) -> bool {
    matches!(Url::parse(s), Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some())
}

/// A secret from `VAR` or the file named by `VAR_FILE` (one trailing newline dropped).
pub(super) fn secret(
    value: Option<String>,
    file: Option<String>,
    var: &str,
    p: &mut Vec<String>,
) -> Option<Secret<String>> {
    match (
        value.filter(|v| !v.is_empty()),
        file.filter(|f| !f.is_empty()),
    ) {
        (Some(_), Some(_)) => {
            p.push(format!("{var} and {var}_FILE are both set; keep only one"));
            None
        }
        (Some(v), None) => Some(Secret::new(v)),
        (None, Some(path)) => match std::fs::read_to_string(&path) {
            Ok(s) if s.trim().is_empty() => {
                p.push(format!(
                    "{var}_FILE: `{path}` is empty; write the secret into it (a file mounted before the secret was filled in?)"
                ));
                None
            }
            Ok(s) => Some(Secret::new(s.trim_end_matches(['\n', '\r']).to_owned())),
            Err(e) => {
                p.push(format!("{var}_FILE: cannot read `{path}`: {e}"));
                None
            }
        },
        (None, None) => None,
    }
}

pub(super) fn parse_listen(v: Option<&str>, p: &mut Vec<String>) -> SocketAddr {
    let default = SocketAddr::from(([0, 0, 0, 0], 4180));
    match v.map(str::trim) {
        None | Some("") => default,
        Some(s) => s.parse().unwrap_or_else(|_| {
            p.push(format!(
                "SIDEGATE_LISTEN: `{s}` is not address:port; use e.g. 0.0.0.0:4180 or [::]:4180"
            ));
            default
        }),
    }
}

/// `SIDEGATE_METRICS_LISTEN`: off when unset; never the public listener's port.
pub(super) fn parse_metrics_listen(
    v: Option<&str>,
    listen: SocketAddr,
    p: &mut Vec<String>,
) -> Option<SocketAddr> {
    let s = v.map(str::trim).filter(|s| !s.is_empty())?;
    let Ok(addr) = s.parse::<SocketAddr>() else {
        p.push(format!(
            "SIDEGATE_METRICS_LISTEN: `{s}` is not address:port; use e.g. 127.0.0.1:9464, or 0.0.0.0:9464 for a Prometheus on another host"
        ));
        return None;
    };
    let overlaps = addr.port() == listen.port()
        && (addr.ip() == listen.ip() || addr.ip().is_unspecified() || listen.ip().is_unspecified());
    if overlaps {
        p.push(format!(
            "SIDEGATE_METRICS_LISTEN: `{s}` is the public listener (SIDEGATE_LISTEN={listen}); metrics are served on a listener of their own, so choose another port"
        ));
        return None;
    }
    Some(addr)
}

pub(super) fn parse_public_url(v: Option<&str>, p: &mut Vec<String>) -> Option<Url> {
    let s = match v.map(str::trim) {
        Some(s) if !s.is_empty() => s,
        _ => {
            p.push("SIDEGATE_PUBLIC_URL: missing; set it to how browsers reach sidegate, e.g. https://auth.example.com".into());
            return None;
        }
    };
    match Url::parse(s) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {
            if u.path() != "/"
                || u.query().is_some()
                || u.fragment().is_some()
                || !u.username().is_empty()
            {
                p.push(format!("SIDEGATE_PUBLIC_URL: `{s}` must be scheme://host[:port] only (no path, query or user); route sidegate at the root of its own host"));
                return None;
            }
            Some(u)
        }
        _ => {
            p.push(format!("SIDEGATE_PUBLIC_URL: `{s}` is not an absolute http(s) URL such as https://auth.example.com"));
            None
        }
    }
}

pub(super) fn parse_scopes(v: Option<&str>, p: &mut Vec<String>) -> Option<Vec<String>> {
    let scopes: Vec<String> = v
        .unwrap_or("openid email profile")
        .split([' ', ','])
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if !scopes.iter().any(|s| s == "openid") {
        p.push("SIDEGATE_SCOPES: must include `openid`, e.g. `openid email profile`".into());
        return None;
    }
    Some(scopes)
}

pub(super) fn parse_cookie_secret(
    value: Option<String>,
    file: Option<String>,
    p: &mut Vec<String>,
) -> Option<Secret<Vec<u8>>> {
    let Some(s) = secret(value, file, "SIDEGATE_COOKIE_SECRET", p) else {
        if !p.iter().any(|m| m.starts_with("SIDEGATE_COOKIE_SECRET")) {
            p.push(format!("SIDEGATE_COOKIE_SECRET: missing; {GENERATE}"));
        }
        return None;
    };
    let bytes = s.expose().as_bytes().to_vec();
    if bytes.len() < 32 {
        p.push(format!(
            "SIDEGATE_COOKIE_SECRET: is {} bytes, needs at least 32; {GENERATE}",
            bytes.len()
        ));
        return None;
    }
    Some(Secret::new(bytes))
}

pub(super) fn parse_cookie_name(v: Option<&str>, p: &mut Vec<String>) -> String {
    let name = v
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or("_sidegate");
    let ok = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b));
    if !ok {
        p.push(format!(
            "SIDEGATE_COOKIE_NAME: `{name}` may only contain letters, digits, `_`, `-` and `.`"
        ));
    }
    name.to_owned()
}

pub(super) fn parse_cookie_domain(
    v: Option<&str>,
    public: Option<&Url>,
    p: &mut Vec<String>,
) -> Option<String> {
    let d = v
        .map(|s| s.trim().trim_start_matches('.').to_ascii_lowercase())
        .filter(|s| !s.is_empty())?;
    if !d.contains('.')
        || d.bytes()
            .any(|b| !(b.is_ascii_alphanumeric() || b == b'-' || b == b'.'))
    {
        p.push(format!(
            "SIDEGATE_COOKIE_DOMAIN: `{d}` is not a domain such as example.com"
        ));
        return None;
    }
    if let Some(host) = public.and_then(Url::host_str) {
        if !crate::redirect::host_matches(host, &d) {
            p.push(format!("SIDEGATE_COOKIE_DOMAIN: SIDEGATE_PUBLIC_URL's host `{host}` is not under `{d}`, so browsers would refuse the cookie; use a parent domain of it"));
        }
    }
    Some(d)
}

pub(super) fn parse_redirect_domains(
    v: Option<&str>,
    public: Option<&Url>,
    cookie_domain: Option<&str>,
    p: &mut Vec<String>,
) -> Vec<String> {
    let mut out: Vec<String> = public
        .and_then(Url::host_str)
        .map(str::to_owned)
        .into_iter()
        .collect();
    out.extend(cookie_domain.map(str::to_owned));
    for entry in v
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let d = entry
            .trim_start_matches("*.")
            .trim_start_matches('.')
            .to_ascii_lowercase();
        if d.is_empty()
            || d.bytes()
                .any(|b| !(b.is_ascii_alphanumeric() || b == b'-' || b == b'.'))
        {
            p.push(format!("SIDEGATE_ALLOWED_REDIRECT_DOMAINS: `{entry}` is not a host name; list hosts or parent domains, comma-separated"));
        } else {
            out.push(d);
        }
    }
    out.sort();
    out.dedup();
    out
}

pub(super) fn parse_bool(v: Option<&str>, var: &str, p: &mut Vec<String>) -> Option<bool> {
    match v?.trim().to_ascii_lowercase().as_str() {
        "" => None,
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        other => {
            p.push(format!("{var}: `{other}` is not true or false"));
            None
        }
    }
}

pub(super) fn parse_duration(
    v: Option<&str>,
    var: &str,
    default: Duration,
    p: &mut Vec<String>,
) -> Duration {
    match v.map(str::trim) {
        None | Some("") => default,
        Some("0") => Duration::ZERO,
        Some(s) => humantime::parse_duration(s).unwrap_or_else(|_| {
            p.push(format!(
                "{var}: `{s}` is not a duration; write e.g. 12h, 30m or 1h30m"
            ));
            default
        }),
    }
}

pub(crate) fn parse_cidrs(v: &str, p: &mut Vec<String>) -> Vec<IpNet> {
    let mut out = Vec::new();
    for entry in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let parsed = entry
            .parse::<IpNet>()
            .or_else(|_| entry.parse::<std::net::IpAddr>().map(IpNet::from));
        match parsed {
            // CVE-2026-76835: a trusted set of "everyone" lets any client forge the request.
            Ok(net) if net.prefix_len() == 0 => p.push(format!("SIDEGATE_TRUSTED_PROXIES: `{entry}` trusts every address, so any client could forge the forwarded headers; list your proxies' own networks (for example 172.18.0.0/16)")),
            Ok(net) => out.push(net),
            Err(_) => p.push(format!("SIDEGATE_TRUSTED_PROXIES: `{entry}` is not an IP address or CIDR such as 10.0.0.0/8")),
        }
    }
    out
}
