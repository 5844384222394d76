//! The validated configuration, frozen at startup.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use http::HeaderName;
use ipnet::IpNet;
use url::Url;

use crate::secret::Secret;
use crate::upstream::HeaderRule;

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
    /// Whether `/auth` answers hand the app the request's cookies without sidegate's own
    /// (`SIDEGATE_STRIP_COOKIES`, on by default).
    pub strip: bool,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to serve on.
    pub listen: SocketAddr,
    /// Where `/metrics` is served (its own listener); off when `None`.
    pub metrics_listen: Option<SocketAddr>,
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
    /// Where Redis is (one server, Sentinel, cluster); the memory store is used when `None`.
    pub redis: Option<crate::store::RedisSettings>,
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
    /// Limits on failed API-key and bearer attempts; off when `None` (`SIDEGATE_GUESS_LIMIT=0`).
    pub guess_limit: Option<crate::guesses::GuessLimit>,
    /// `SIDEGATE_AUDIT_LOG`: where the audit trail goes, if anywhere.
    pub audit_log: Option<crate::audit::Target>,
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

/// Every problem found in the configuration, and the warnings found on the way (an
/// unknown variable is often the cause of a "missing" one).
#[derive(Debug)]
pub struct ConfigErrors(pub Vec<String>, pub Vec<String>);

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
        for w in &self.1 {
            writeln!(f, "warning: {w}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl Config {
    /// The redirect URI registered at the IdP.
    pub fn redirect_uri(&self) -> String {
        format!("{}/callback", self.public_base())
    }

    /// The public URL without a trailing slash, for building absolute URLs.
    pub fn public_base(&self) -> &str {
        self.public_url.as_str().trim_end_matches('/')
    }
}
