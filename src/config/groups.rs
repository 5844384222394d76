//! Validation per option group (identity provider, cookies, sessions, network, operator,
//! profiles); [`validate`] assembles the [`Config`] when no group found a problem.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use http::HeaderName;
use ipnet::IpNet;
use url::Url;

use super::headers::parse_headers;
use super::model::{Config, ConfigErrors, CookieSettings, LogFormat};
use super::parse::{self, GENERATE};
use super::vars::Vars;
use crate::claims::ClaimPath;
use crate::profile::Profiles;
use crate::secret::Secret;
use crate::upstream::HeaderRule;

type Problems = Vec<String>;

/// Validates every group; all problems are returned together.
pub(super) fn validate(v: &Vars, all: &HashMap<String, String>) -> Result<Config, ConfigErrors> {
    let mut p = Vec::new();
    let headers = parse_headers(v, &mut p);
    let listen = parse::parse_listen(v.get("LISTEN"), &mut p);
    let metrics_listen = parse::parse_metrics_listen(v.get("METRICS_LISTEN"), listen, &mut p);
    let public_url = parse::parse_public_url(v.get("PUBLIC_URL"), &mut p);
    let idp = idp(v, &mut p);
    let cookies = cookies(v, public_url.as_ref(), &mut p);
    let sessions = sessions(v, &mut p);
    let network = network(v, &mut p);
    let operator = operator(v, &mut p);
    let apps_file = path(v, "APPS_FILE");
    let profiles = profiles(
        v,
        all,
        apps_file.clone(),
        &headers,
        public_url.as_ref(),
        &mut p,
    );
    match (profiles, public_url, idp, cookies) {
        (Some(profiles), Some(public_url), Some(idp), Some(cookies)) if p.is_empty() => {
            Ok(Config {
                listen,
                metrics_listen,
                public_url,
                issuer_url: idp.issuer_url,
                client_id: idp.client_id,
                client_secret: idp.client_secret,
                scopes: idp.scopes,
                cookie_secret: cookies.secret,
                cookie: cookies.settings,
                allowed_redirect_domains: cookies.allowed_redirect_domains,
                redis: sessions.redis,
                session_lifetime: sessions.lifetime,
                session_idle_timeout: sessions.idle,
                session_cache_ttl: sessions.cache_ttl,
                trusted_proxies: network.trusted_proxies,
                log: network.log,
                log_format: network.log_format,
                headers,
                apps_file,
                admin_token: operator.admin_token,
                logout_at_idp: idp.logout_at_idp,
                apikeys_file: operator.apikeys_file,
                apikey_header: operator.apikey_header,
                token_refresh_before: sessions.token_refresh_before,
                claims_refresh_interval: sessions.claims_refresh,
                audit_log: operator.audit_log,
                guess_limit: operator.guess_limit,
                profiles: Arc::new(profiles),
            })
        }
        _ => Err(ConfigErrors(p, Vec::new())),
    }
}

/// A non-empty path setting.
fn path(v: &Vars, name: &str) -> Option<PathBuf> {
    v.get(name)
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .map(PathBuf::from)
}

/// A secret from `SIDEGATE_<name>` or `SIDEGATE_<name>_FILE`.
fn secret(v: &Vars, name: &str, p: &mut Problems) -> Option<Secret<String>> {
    let file = format!("{name}_FILE");
    parse::secret(
        v.owned(name),
        v.owned(&file),
        &format!("SIDEGATE_{name}"),
        p,
    )
}

struct Idp {
    issuer_url: String,
    client_id: String,
    client_secret: Secret<String>,
    scopes: Vec<String>,
    logout_at_idp: bool,
}

fn idp(v: &Vars, p: &mut Problems) -> Option<Idp> {
    let issuer_url = parse::required(v.owned("ISSUER_URL"), "SIDEGATE_ISSUER_URL", "the OIDC issuer, e.g. https://auth.example.com/application/o/sidegate/ (copy it exactly, trailing slash included)", p);
    if let Some(issuer) = &issuer_url {
        if !parse::is_http_url(issuer) {
            p.push(format!(
                "SIDEGATE_ISSUER_URL: `{issuer}` is not an http(s) URL"
            ));
        }
    }
    let client_id = parse::required(
        v.owned("CLIENT_ID"),
        "SIDEGATE_CLIENT_ID",
        "the client id of sidegate's OIDC client at the IdP",
        p,
    );
    let client_secret = secret(v, "CLIENT_SECRET", p).or_else(|| {
        if !p.iter().any(|m| m.starts_with("SIDEGATE_CLIENT_SECRET")) {
            p.push("SIDEGATE_CLIENT_SECRET: missing; set it (or SIDEGATE_CLIENT_SECRET_FILE) to the client secret from the IdP".into());
        }
        None
    });
    let scopes = parse::parse_scopes(v.get("SCOPES"), p);
    let logout_at_idp =
        parse::parse_bool(v.get("LOGOUT_AT_IDP"), "SIDEGATE_LOGOUT_AT_IDP", p).unwrap_or(true);
    Some(Idp {
        issuer_url: issuer_url?,
        client_id: client_id?,
        client_secret: client_secret?,
        scopes: scopes?,
        logout_at_idp,
    })
}

struct Cookies {
    secret: Secret<Vec<u8>>,
    settings: CookieSettings,
    allowed_redirect_domains: Vec<String>,
}

fn cookies(v: &Vars, public_url: Option<&Url>, p: &mut Problems) -> Option<Cookies> {
    let secret =
        parse::parse_cookie_secret(v.owned("COOKIE_SECRET"), v.owned("COOKIE_SECRET_FILE"), p);
    let domain = parse::parse_cookie_domain(v.get("COOKIE_DOMAIN"), public_url, p);
    let name = parse::parse_cookie_name(v.get("COOKIE_NAME"), p);
    let secure = parse::parse_bool(v.get("COOKIE_SECURE"), "SIDEGATE_COOKIE_SECURE", p)
        .unwrap_or_else(|| public_url.is_none_or(|u| u.scheme() == "https"));
    let strip =
        parse::parse_bool(v.get("STRIP_COOKIES"), "SIDEGATE_STRIP_COOKIES", p).unwrap_or(true);
    let allowed = parse::parse_redirect_domains(
        v.get("ALLOWED_REDIRECT_DOMAINS"),
        public_url,
        domain.as_deref(),
        p,
    );
    Some(Cookies {
        secret: secret?,
        settings: CookieSettings {
            name,
            domain,
            secure,
            strip,
        },
        allowed_redirect_domains: allowed,
    })
}

struct Sessions {
    redis: Option<crate::store::RedisSettings>,
    lifetime: Duration,
    idle: Option<Duration>,
    cache_ttl: Option<Duration>,
    token_refresh_before: Duration,
    claims_refresh: Option<Duration>,
}

fn sessions(v: &Vars, p: &mut Problems) -> Sessions {
    let redis = super::redis::redis(v, p);
    let duration = |name: &str, default: Duration, p: &mut Problems| {
        parse::parse_duration(v.get(name), &format!("SIDEGATE_{name}"), default, p)
    };
    let lifetime = duration("SESSION_LIFETIME", Duration::from_secs(24 * 3600), p);
    let idle = duration("SESSION_IDLE_TIMEOUT", Duration::from_secs(4 * 3600), p);
    if lifetime.is_zero() {
        p.push("SIDEGATE_SESSION_LIFETIME: must be longer than 0, e.g. 12h".into());
    }
    let cache_ttl = duration("SESSION_CACHE_TTL", Duration::from_secs(2), p);
    if cache_ttl > Duration::from_secs(60) {
        p.push("SIDEGATE_SESSION_CACHE_TTL: at most 60s (the cache is meant to be short-lived); 2s is plenty, 0 turns it off".into());
    }
    let token_refresh_before = duration("TOKEN_REFRESH_BEFORE", Duration::from_secs(60), p);
    let claims_refresh = duration("CLAIMS_REFRESH_INTERVAL", Duration::ZERO, p);
    let on = |d: Duration| (!d.is_zero()).then_some(d);
    Sessions {
        redis,
        lifetime,
        idle: on(idle),
        cache_ttl: on(cache_ttl),
        token_refresh_before,
        claims_refresh: on(claims_refresh),
    }
}

struct Network {
    trusted_proxies: Vec<IpNet>,
    log: String,
    log_format: LogFormat,
}

fn network(v: &Vars, p: &mut Problems) -> Network {
    let trusted_proxies = parse::parse_cidrs(
        v.get("TRUSTED_PROXIES")
            .unwrap_or(super::vars::DEFAULT_TRUSTED_PROXIES),
        p,
    );
    let log_format = match v.get("LOG_FORMAT").map(str::trim) {
        None | Some("" | "text") => LogFormat::Text,
        Some("json") => LogFormat::Json,
        Some(other) => {
            p.push(format!(
                "SIDEGATE_LOG_FORMAT: `{other}` is not a log format; use `text` or `json`"
            ));
            LogFormat::Text
        }
    };
    Network {
        trusted_proxies,
        log: v.owned("LOG").unwrap_or_else(|| "info".into()),
        log_format,
    }
}

struct Operator {
    audit_log: Option<crate::audit::Target>,
    guess_limit: Option<crate::guesses::GuessLimit>,
    admin_token: Option<Secret<String>>,
    apikeys_file: Option<PathBuf>,
    apikey_header: Option<HeaderName>,
}

fn operator(v: &Vars, p: &mut Problems) -> Operator {
    let admin_token = secret(v, "ADMIN_TOKEN", p);
    if admin_token.as_ref().is_some_and(|t| t.expose().len() < 32) {
        p.push(format!(
            "SIDEGATE_ADMIN_TOKEN: needs at least 32 bytes; {GENERATE}"
        ));
    }
    let apikey_header = v
        .get("APIKEY_HEADER")
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .and_then(|h| crate::upstream::header_name("SIDEGATE_APIKEY_HEADER", h, p));
    let audit_log = match v.get("AUDIT_LOG").map(str::trim) {
        None | Some("") => None,
        Some("stdout") => Some(crate::audit::Target::Stdout),
        Some(path) if std::path::Path::new(path).is_absolute() => {
            Some(crate::audit::Target::File(PathBuf::from(path)))
        }
        Some(other) => {
            p.push(format!("SIDEGATE_AUDIT_LOG: `{other}` is neither `stdout` nor an absolute file path such as /var/log/sidegate/audit.jsonl"));
            None
        }
    };
    Operator {
        audit_log,
        guess_limit: guess_limit(v, p),
        admin_token,
        apikeys_file: path(v, "APIKEYS_FILE"),
        apikey_header,
    }
}

/// `SIDEGATE_GUESS_LIMIT` (failed attempts in a row, `0` off) and `SIDEGATE_GUESS_REFILL`.
fn guess_limit(v: &Vars, p: &mut Problems) -> Option<crate::guesses::GuessLimit> {
    let default = crate::guesses::DEFAULT;
    let burst = match v.get("GUESS_LIMIT").map(str::trim) {
        None | Some("") => default.burst,
        Some(n) => n.parse::<u32>().unwrap_or_else(|_| {
            p.push(format!("SIDEGATE_GUESS_LIMIT: `{n}` is not a number of failed attempts; use e.g. 10, or 0 to turn the limit off"));
            default.burst
        }),
    };
    let refill = parse::parse_duration(
        v.get("GUESS_REFILL"),
        "SIDEGATE_GUESS_REFILL",
        default.refill,
        p,
    );
    if refill.is_zero() && burst > 0 {
        p.push("SIDEGATE_GUESS_REFILL: must be longer than 0, e.g. 30s (SIDEGATE_GUESS_LIMIT=0 turns the limit off)".into());
    }
    (burst > 0).then_some(crate::guesses::GuessLimit { burst, refill })
}

fn profiles(
    v: &Vars,
    all: &HashMap<String, String>,
    apps_file: Option<PathBuf>,
    headers: &[HeaderRule],
    public_url: Option<&Url>,
    p: &mut Problems,
) -> Option<Profiles> {
    let claim = |name: &str, default: &str| {
        ClaimPath::parse(v.get(name).unwrap_or(default)).or_else(|| ClaimPath::parse(default))
    };
    let defaults = crate::profile::Defaults {
        headers: headers.to_vec(),
        groups_claim: claim("GROUPS_CLAIM", "groups")?,
        email_claim: claim("EMAIL_CLAIM", "email")?,
        user_claims: [
            claim("USER_CLAIM", "preferred_username"),
            ClaimPath::parse("sub"),
        ]
        .into_iter()
        .flatten()
        .collect(),
        separator: v.owned("GROUPS_SEPARATOR").unwrap_or_else(|| ",".into()),
        encoding: match v.get("HEADER_ENCODING").filter(|e| !e.trim().is_empty()) {
            None => crate::upstream::Encoding::Utf8,
            Some(e) => crate::upstream::Encoding::parse(e).unwrap_or_else(|| {
                p.push(format!(
                    "SIDEGATE_HEADER_ENCODING: `{e}` is not utf8, percent or rfc2047"
                ));
                crate::upstream::Encoding::Utf8
            }),
        },
        issuer: public_url
            .map(|u| u.as_str().trim_end_matches('/').to_owned())
            .unwrap_or_default(),
    };
    crate::profile::load(apps_file.as_deref(), all, &defaults)
        .map_err(|problems| p.extend(problems))
        .ok()
}
