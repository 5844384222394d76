//! Configuration: environment variables with the `SIDEGATE_` prefix → a validated, frozen
//! [`Config`]. Every problem is collected and reported at once, each naming the variable
//! and how to fix it. Validation writes nothing; it only reads the `_FILE` secrets.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use http::HeaderName;
use ipnet::IpNet;
use serde::Deserialize;
use url::Url;

use crate::claims::ClaimPath;
use crate::upstream::HeaderRule;

mod headers;
mod parse;

/// A secret value: its `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wraps a secret.
    pub fn new(value: T) -> Self {
        Self(value)
    }
    /// The secret itself; call only where it is used, never to log.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***SECRET***")
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Settings of the session and login-state cookies.
#[derive(Debug, Clone)]
pub struct CookieSettings {
    /// Session cookie name (`SIDEGATE_COOKIE_NAME`).
    pub name: String,
    /// Parent domain for SSO across subdomains; host-only when `None`.
    pub domain: Option<String>,
    /// Whether cookies carry `Secure`.
    pub secure: bool,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to serve on.
    pub listen: SocketAddr,
    /// How browsers reach sidegate, without a trailing slash.
    pub public_url: Url,
    /// OIDC issuer, exactly as the IdP states it.
    pub issuer_url: String,
    /// OIDC client id.
    pub client_id: String,
    /// OIDC client secret.
    pub client_secret: Secret<String>,
    /// Scopes requested at login.
    pub scopes: Vec<String>,
    /// Key material for cookies and ticket encryption.
    pub cookie_secret: Secret<Vec<u8>>,
    /// Cookie attributes.
    pub cookie: CookieSettings,
    /// Hosts and parent domains a return URL may point to.
    pub allowed_redirect_domains: Vec<String>,
    /// Redis URL; the memory store is used when `None`.
    pub redis_url: Option<Secret<String>>,
    /// Absolute session lifetime.
    pub session_lifetime: Duration,
    /// Idle timeout; `None` when switched off.
    pub session_idle_timeout: Option<Duration>,
    /// How long a session read from Redis may be reused in-process; `None` when off.
    pub session_cache_ttl: Option<Duration>,
    /// Peers whose forwarded headers are believed.
    pub trusted_proxies: Vec<IpNet>,
    /// Tracing filter.
    pub log: String,
    /// Log line format.
    pub log_format: LogFormat,
    /// Identity headers sent on every allowed request (the default profile's).
    pub headers: Vec<HeaderRule>,
    /// Refresh an access token an app needs when it expires within this.
    pub token_refresh_before: Duration,
    /// Re-read claims from the IdP this often (group changes take effect); off when `None`.
    pub claims_refresh_interval: Option<Duration>,
    /// Secret for the operator endpoint `/admin/sessions/revoke`; off when `None`.
    pub admin_token: Option<Secret<String>>,
    /// Whether `/logout` also ends the session at the IdP (RP-initiated logout).
    pub logout_at_idp: bool,
    /// Where API keys live without Redis (`SIDEGATE_APIKEYS_FILE`).
    pub apikeys_file: Option<std::path::PathBuf>,
    /// A header API keys may come in besides `Authorization: Bearer` (`SIDEGATE_APIKEY_HEADER`).
    pub apikey_header: Option<HeaderName>,
    /// `SIDEGATE_APPS_FILE`, if set.
    pub apps_file: Option<std::path::PathBuf>,
    /// App profiles (the implicit default one when no apps file is set).
    pub profiles: std::sync::Arc<crate::profile::Profiles>,
}

/// Every problem found in the configuration.
#[derive(Debug)]
pub struct ConfigErrors(pub Vec<String>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "sidegate cannot start: {} configuration problem(s):",
            self.0.len()
        )?;
        for p in &self.0 {
            writeln!(f, "  - {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// The raw variables, all optional strings, so that every problem can be reported.
#[derive(Debug, Default, Deserialize)]
struct RawConfig {
    listen: Option<String>,
    public_url: Option<String>,
    issuer_url: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    client_secret_file: Option<String>,
    scopes: Option<String>,
    cookie_secret: Option<String>,
    cookie_secret_file: Option<String>,
    cookie_name: Option<String>,
    cookie_domain: Option<String>,
    cookie_secure: Option<String>,
    allowed_redirect_domains: Option<String>,
    redis_url: Option<String>,
    redis_url_file: Option<String>,
    session_lifetime: Option<String>,
    session_idle_timeout: Option<String>,
    session_cache_ttl: Option<String>,
    trusted_proxies: Option<String>,
    log: Option<String>,
    log_format: Option<String>,
    user_claim: Option<String>,
    email_claim: Option<String>,
    groups_claim: Option<String>,
    preferred_username_claim: Option<String>,
    user_header: Option<String>,
    email_header: Option<String>,
    groups_header: Option<String>,
    preferred_username_header: Option<String>,
    groups_separator: Option<String>,
    extra_headers: Option<String>,
    apps_file: Option<String>,
    admin_token: Option<String>,
    admin_token_file: Option<String>,
    token_refresh_before: Option<String>,
    apikeys_file: Option<String>,
    apikey_header: Option<String>,
    claims_refresh_interval: Option<String>,
    logout_at_idp: Option<String>,
}

/// Every variable sidegate reads (without the `SIDEGATE_` prefix); anything else is warned about.
pub const KNOWN: &[&str] = &[
    "LISTEN",
    "PUBLIC_URL",
    "ISSUER_URL",
    "CLIENT_ID",
    "CLIENT_SECRET",
    "CLIENT_SECRET_FILE",
    "SCOPES",
    "COOKIE_SECRET",
    "COOKIE_SECRET_FILE",
    "COOKIE_NAME",
    "COOKIE_DOMAIN",
    "COOKIE_SECURE",
    "ALLOWED_REDIRECT_DOMAINS",
    "REDIS_URL",
    "REDIS_URL_FILE",
    "SESSION_LIFETIME",
    "SESSION_IDLE_TIMEOUT",
    "SESSION_CACHE_TTL",
    "TRUSTED_PROXIES",
    "LOG",
    "LOG_FORMAT",
    "USER_CLAIM",
    "EMAIL_CLAIM",
    "GROUPS_CLAIM",
    "PREFERRED_USERNAME_CLAIM",
    "USER_HEADER",
    "EMAIL_HEADER",
    "GROUPS_HEADER",
    "PREFERRED_USERNAME_HEADER",
    "GROUPS_SEPARATOR",
    "EXTRA_HEADERS",
    "APPS_FILE",
    "ADMIN_TOKEN",
    "ADMIN_TOKEN_FILE",
    "LOGOUT_AT_IDP",
    "TOKEN_REFRESH_BEFORE",
    "APIKEYS_FILE",
    "APIKEY_HEADER",
    "CLAIMS_REFRESH_INTERVAL",
];

/// Default trusted proxy networks: loopback and the private ranges a proxy beside
/// sidegate lives in (Docker, Kubernetes).
pub const DEFAULT_TRUSTED_PROXIES: &str =
    "127.0.0.0/8,::1/128,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7";

impl Config {
    /// Reads and validates the configuration from `(name, value)` pairs (the process
    /// environment in production). Returns the config and warnings (unknown variables).
    ///
    /// # Errors
    /// [`ConfigErrors`] listing every problem found, each naming its variable.
    pub fn from_vars<I>(vars: I) -> Result<(Config, Vec<String>), ConfigErrors>
    where
        I: IntoIterator<Item = (String, String)>,
    {
        // Every variable, for secrets that app profiles name (`secret_env = "..."`).
        let all: std::collections::HashMap<String, String> = vars.into_iter().collect();
        let vars: Vec<(String, String)> = all
            .iter()
            .filter(|(k, _)| k.starts_with("SIDEGATE_"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let warnings = vars
            .iter()
            .filter_map(|(k, _)| k.strip_prefix("SIDEGATE_"))
            .filter(|k| !KNOWN.contains(k))
            .map(|k| format!("SIDEGATE_{k} is not a sidegate setting and is ignored (a typo? Kubernetes service variables are expected here)"))
            .collect();
        let known: Vec<(String, String)> = vars
            .into_iter()
            .filter(|(k, _)| {
                k.strip_prefix("SIDEGATE_")
                    .is_some_and(|k| KNOWN.contains(&k))
            })
            .collect();
        let raw: RawConfig = envy::prefixed("SIDEGATE_")
            .from_iter(known)
            .map_err(|e| ConfigErrors(vec![format!("reading SIDEGATE_* variables: {e}")]))?;
        parse::validate(raw, &all).map(|c| (c, warnings))
    }

    /// The redirect URI registered at the IdP.
    pub fn redirect_uri(&self) -> String {
        format!("{}/callback", self.public_base())
    }

    /// The public URL without a trailing slash, for building absolute URLs.
    pub fn public_base(&self) -> &str {
        self.public_url.as_str().trim_end_matches('/')
    }

    /// The effective configuration as `VARIABLE = value` lines, secrets masked.
    pub fn describe(&self) -> String {
        let headers: Vec<String> = self
            .headers
            .iter()
            .map(|h| {
                let claims: Vec<&str> = h.claims.iter().map(ClaimPath::as_str).collect();
                format!("{} <- {}", h.name, claims.join(" | "))
            })
            .collect();
        let idle = self.session_idle_timeout.map_or("off".to_owned(), |d| {
            humantime::format_duration(d).to_string()
        });
        let lines = [
            ("LISTEN", self.listen.to_string()),
            ("PUBLIC_URL", self.public_base().to_owned()),
            ("ISSUER_URL", self.issuer_url.clone()),
            ("CLIENT_ID", self.client_id.clone()),
            ("CLIENT_SECRET", "***SECRET***".into()),
            ("SCOPES", self.scopes.join(" ")),
            (
                "COOKIE_SECRET",
                format!("***SECRET*** ({} bytes)", self.cookie_secret.0.len()),
            ),
            ("COOKIE_NAME", self.cookie.name.clone()),
            (
                "COOKIE_DOMAIN",
                self.cookie
                    .domain
                    .clone()
                    .unwrap_or_else(|| "(host-only)".into()),
            ),
            ("COOKIE_SECURE", self.cookie.secure.to_string()),
            (
                "ALLOWED_REDIRECT_DOMAINS",
                self.allowed_redirect_domains.join(","),
            ),
            (
                "REDIS_URL",
                self.redis_url
                    .as_ref()
                    .map_or("(unset: memory store)".into(), |u| mask_url(u.expose())),
            ),
            (
                "SESSION_LIFETIME",
                humantime::format_duration(self.session_lifetime).to_string(),
            ),
            ("SESSION_IDLE_TIMEOUT", idle),
            (
                "SESSION_CACHE_TTL",
                self.session_cache_ttl.map_or("off".to_owned(), |d| {
                    humantime::format_duration(d).to_string()
                }),
            ),
            (
                "TRUSTED_PROXIES",
                self.trusted_proxies
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            ("LOG", self.log.clone()),
            (
                "LOG_FORMAT",
                format!("{:?}", self.log_format).to_lowercase(),
            ),
            ("headers", headers.join("; ")),
            (
                "APPS_FILE",
                self.apps_file
                    .as_ref()
                    .map_or("(unset: one implicit profile)".into(), |p| {
                        p.display().to_string()
                    }),
            ),
        ];
        lines
            .iter()
            .map(|(k, v)| {
                let name = if k.chars().all(|c| c.is_ascii_uppercase() || c == '_') {
                    format!("SIDEGATE_{k}")
                } else {
                    (*k).to_owned()
                };
                format!("{name} = {v}\n")
            })
            .chain(std::iter::once(self.profiles.describe()))
            .collect()
    }
}

/// Masks the password in a URL such as `redis://:pw@host`.
fn mask_url(raw: &str) -> String {
    match Url::parse(raw) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        Ok(u) => u.to_string(),
        Err(_) => "***".into(),
    }
}

/// A header name usable for identity headers: valid and not one the proxy or HTTP owns.
pub(crate) fn header_name(var: &str, raw: &str, problems: &mut Vec<String>) -> Option<HeaderName> {
    const RESERVED: &[&str] = &[
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
        "upgrade",
        "location",
        "set-cookie",
        "cookie",
        "keep-alive",
        "te",
        "trailer",
        "proxy-connection",
    ];
    match HeaderName::from_bytes(raw.trim().as_bytes()) {
        Ok(name) if RESERVED.contains(&name.as_str()) => {
            problems.push(format!("{var}: `{raw}` is a header HTTP or the proxy owns; choose another name such as X-Forwarded-User"));
            None
        }
        Ok(name) => Some(name),
        Err(_) => {
            problems.push(format!(
                "{var}: `{raw}` is not a valid header name (letters, digits and '-' only)"
            ));
            None
        }
    }
}

#[cfg(test)]
mod tests;
