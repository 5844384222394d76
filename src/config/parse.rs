//! `RawConfig` → `Config`: one small parser per setting, each pushing a problem that names
//! the variable and says how to fix it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use url::Url;

use super::headers::parse_headers;
use super::{Config, ConfigErrors, CookieSettings, LogFormat, RawConfig, Secret};
use crate::claims::ClaimPath;

const GENERATE: &str = "generate one with: openssl rand -base64 48";

/// Validates every field; all problems are returned together.
pub(super) fn validate(
    raw: RawConfig,
    vars: &HashMap<String, String>,
) -> Result<Config, ConfigErrors> {
    let mut p = Vec::new();
    let headers = parse_headers(&raw, &mut p);
    let listen = parse_listen(raw.listen.as_deref(), &mut p);
    let public_url = parse_public_url(raw.public_url.as_deref(), &mut p);
    let issuer_url = required(raw.issuer_url, "SIDEGATE_ISSUER_URL", "the OIDC issuer, e.g. https://auth.example.com/application/o/sidegate/ (copy it exactly, trailing slash included)", &mut p);
    if let Some(issuer) = &issuer_url {
        if !is_http_url(issuer) {
            p.push(format!(
                "SIDEGATE_ISSUER_URL: `{issuer}` is not an http(s) URL"
            ));
        }
    }
    let client_id = required(
        raw.client_id,
        "SIDEGATE_CLIENT_ID",
        "the client id of sidegate's OIDC client at the IdP",
        &mut p,
    );
    let client_secret = secret(raw.client_secret, raw.client_secret_file, "SIDEGATE_CLIENT_SECRET", &mut p)
        .or_else(|| {
            p.push("SIDEGATE_CLIENT_SECRET: missing; set it (or SIDEGATE_CLIENT_SECRET_FILE) to the client secret from the IdP".into());
            None
        });
    let scopes = parse_scopes(raw.scopes.as_deref(), &mut p);
    let cookie_secret = parse_cookie_secret(raw.cookie_secret, raw.cookie_secret_file, &mut p);
    let cookie_domain =
        parse_cookie_domain(raw.cookie_domain.as_deref(), public_url.as_ref(), &mut p);
    let cookie_name = parse_cookie_name(raw.cookie_name.as_deref(), &mut p);
    let cookie_secure = parse_bool(
        raw.cookie_secure.as_deref(),
        "SIDEGATE_COOKIE_SECURE",
        &mut p,
    )
    .unwrap_or_else(|| public_url.as_ref().is_none_or(|u| u.scheme() == "https"));
    let allowed = parse_redirect_domains(
        raw.allowed_redirect_domains.as_deref(),
        public_url.as_ref(),
        cookie_domain.as_deref(),
        &mut p,
    );
    let redis_url = secret(
        raw.redis_url,
        raw.redis_url_file,
        "SIDEGATE_REDIS_URL",
        &mut p,
    );
    if let Some(u) = &redis_url {
        if !matches!(Url::parse(u.expose()), Ok(url) if matches!(url.scheme(), "redis" | "rediss" | "redis+unix" | "unix"))
        {
            p.push("SIDEGATE_REDIS_URL: not a valid Redis URL; use redis://host:6379/0 (or rediss:// for TLS)".into());
        }
    }
    let lifetime = parse_duration(
        raw.session_lifetime.as_deref(),
        "SIDEGATE_SESSION_LIFETIME",
        Duration::from_secs(24 * 3600),
        &mut p,
    );
    let idle = parse_duration(
        raw.session_idle_timeout.as_deref(),
        "SIDEGATE_SESSION_IDLE_TIMEOUT",
        Duration::from_secs(4 * 3600),
        &mut p,
    );
    if lifetime.is_zero() {
        p.push("SIDEGATE_SESSION_LIFETIME: must be longer than 0, e.g. 12h".into());
    }
    let cache_ttl = parse_duration(
        raw.session_cache_ttl.as_deref(),
        "SIDEGATE_SESSION_CACHE_TTL",
        Duration::from_secs(2),
        &mut p,
    );
    if cache_ttl > Duration::from_secs(60) {
        p.push("SIDEGATE_SESSION_CACHE_TTL: at most 60s (the cache is meant to be short-lived); 2s is plenty, 0 turns it off".into());
    }
    let trusted = parse_cidrs(
        raw.trusted_proxies
            .as_deref()
            .unwrap_or(super::DEFAULT_TRUSTED_PROXIES),
        &mut p,
    );
    let log_format = match raw.log_format.as_deref().map(str::trim) {
        None | Some("" | "text") => LogFormat::Text,
        Some("json") => LogFormat::Json,
        Some(other) => {
            p.push(format!(
                "SIDEGATE_LOG_FORMAT: `{other}` is not a log format; use `text` or `json`"
            ));
            LogFormat::Text
        }
    };
    let admin_token = secret(
        raw.admin_token.clone(),
        raw.admin_token_file.clone(),
        "SIDEGATE_ADMIN_TOKEN",
        &mut p,
    );
    if admin_token.as_ref().is_some_and(|t| t.expose().len() < 32) {
        p.push(format!(
            "SIDEGATE_ADMIN_TOKEN: needs at least 32 bytes; {GENERATE}"
        ));
    }
    let token_refresh_before = parse_duration(
        raw.token_refresh_before.as_deref(),
        "SIDEGATE_TOKEN_REFRESH_BEFORE",
        Duration::from_secs(60),
        &mut p,
    );
    let claims_refresh = parse_duration(
        raw.claims_refresh_interval.as_deref(),
        "SIDEGATE_CLAIMS_REFRESH_INTERVAL",
        Duration::ZERO,
        &mut p,
    );
    let apikeys_file = raw
        .apikeys_file
        .as_deref()
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .map(std::path::PathBuf::from);
    let apikey_header = raw
        .apikey_header
        .as_deref()
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .and_then(|h| super::header_name("SIDEGATE_APIKEY_HEADER", h, &mut p));
    let logout_at_idp = parse_bool(
        raw.logout_at_idp.as_deref(),
        "SIDEGATE_LOGOUT_AT_IDP",
        &mut p,
    )
    .unwrap_or(true);
    let apps_file = raw
        .apps_file
        .as_deref()
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .map(std::path::PathBuf::from);
    let claim = |v: &Option<String>, default: &str| {
        ClaimPath::parse(v.as_deref().unwrap_or(default)).or_else(|| ClaimPath::parse(default))
    };
    let profiles = match (
        claim(&raw.groups_claim, "groups"),
        claim(&raw.email_claim, "email"),
        claim(&raw.user_claim, "preferred_username"),
    ) {
        (Some(groups_claim), Some(email_claim), Some(user)) => {
            let defaults = crate::profile::Defaults {
                headers: headers.clone(),
                groups_claim,
                email_claim,
                user_claims: [Some(user), ClaimPath::parse("sub")]
                    .into_iter()
                    .flatten()
                    .collect(),
                separator: raw.groups_separator.clone().unwrap_or_else(|| ",".into()),
                issuer: public_url
                    .as_ref()
                    .map(|u| u.as_str().trim_end_matches('/').to_owned())
                    .unwrap_or_default(),
            };
            crate::profile::load(apps_file.as_deref(), vars, &defaults)
                .map_err(|problems| p.extend(problems))
                .ok()
        }
        _ => None,
    };
    match (
        profiles,
        public_url,
        issuer_url,
        client_id,
        client_secret,
        cookie_secret,
        scopes,
    ) {
        (
            Some(profiles),
            Some(public_url),
            Some(issuer_url),
            Some(client_id),
            Some(client_secret),
            Some(cookie_secret),
            Some(scopes),
        ) if p.is_empty() => Ok(Config {
            listen,
            public_url,
            issuer_url,
            client_id,
            client_secret,
            scopes,
            cookie_secret,
            cookie: CookieSettings {
                name: cookie_name,
                domain: cookie_domain,
                secure: cookie_secure,
            },
            allowed_redirect_domains: allowed,
            redis_url,
            session_lifetime: lifetime,
            session_idle_timeout: (!idle.is_zero()).then_some(idle),
            session_cache_ttl: (!cache_ttl.is_zero()).then_some(cache_ttl),
            trusted_proxies: trusted,
            log: raw.log.unwrap_or_else(|| "info".into()),
            log_format,
            headers,
            apps_file,
            admin_token,
            logout_at_idp,
            apikeys_file,
            apikey_header,
            token_refresh_before,
            claims_refresh_interval: (!claims_refresh.is_zero()).then_some(claims_refresh),
            profiles: Arc::new(profiles),
        }),
        _ => Err(ConfigErrors(p)),
    }
}

fn required(v: Option<String>, var: &str, what: &str, p: &mut Vec<String>) -> Option<String> {
    match v.map(|s| s.trim().to_owned()) {
        Some(s) if !s.is_empty() => Some(s),
        _ => {
            p.push(format!("{var}: missing; set it to {what}"));
            None
        }
    }
}

fn is_http_url(s: &str) -> bool {
    matches!(Url::parse(s), Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some())
}

/// A secret from `VAR` or the file named by `VAR_FILE` (one trailing newline dropped).
fn secret(
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
            Ok(s) => Some(Secret::new(s.trim_end_matches(['\n', '\r']).to_owned())),
            Err(e) => {
                p.push(format!("{var}_FILE: cannot read `{path}`: {e}"));
                None
            }
        },
        (None, None) => None,
    }
}

fn parse_listen(v: Option<&str>, p: &mut Vec<String>) -> SocketAddr {
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

fn parse_public_url(v: Option<&str>, p: &mut Vec<String>) -> Option<Url> {
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

fn parse_scopes(v: Option<&str>, p: &mut Vec<String>) -> Option<Vec<String>> {
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

fn parse_cookie_secret(
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

fn parse_cookie_name(v: Option<&str>, p: &mut Vec<String>) -> String {
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

fn parse_cookie_domain(
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
        if !super::super::redirect::host_matches(host, &d) {
            p.push(format!("SIDEGATE_COOKIE_DOMAIN: SIDEGATE_PUBLIC_URL's host `{host}` is not under `{d}`, so browsers would refuse the cookie; use a parent domain of it"));
        }
    }
    Some(d)
}

fn parse_redirect_domains(
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

fn parse_bool(v: Option<&str>, var: &str, p: &mut Vec<String>) -> Option<bool> {
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

fn parse_duration(v: Option<&str>, var: &str, default: Duration, p: &mut Vec<String>) -> Duration {
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

fn parse_cidrs(v: &str, p: &mut Vec<String>) -> Vec<IpNet> {
    let mut out = Vec::new();
    for entry in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let parsed = entry
            .parse::<IpNet>()
            .or_else(|_| entry.parse::<std::net::IpAddr>().map(IpNet::from));
        match parsed {
            Ok(net) => out.push(net),
            Err(_) => p.push(format!("SIDEGATE_TRUSTED_PROXIES: `{entry}` is not an IP address or CIDR such as 10.0.0.0/8")),
        }
    }
    out
}
