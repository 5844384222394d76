//! The one table of `SIDEGATE_*` variables: it drives reading them, the warning about
//! unknown ones, and what `check-config` prints.

use std::collections::{BTreeMap, HashMap};

use super::model::{Config, ConfigErrors};
use crate::store::RedisTarget;

/// One variable sidegate reads.
pub struct Var {
    /// The name without `SIDEGATE_`.
    pub name: &'static str,
    /// A secret: also read from the file named by `<name>_FILE`, never printed.
    pub secret: bool,
    /// The effective value, for `check-config`; `None` for variables shown elsewhere (the
    /// header and claim variables are shown as the `headers` line).
    pub show: Option<fn(&Config) -> String>,
}

const fn var(name: &'static str, show: fn(&Config) -> String) -> Var {
    Var {
        name,
        secret: false,
        show: Some(show),
    }
}

const fn secret(name: &'static str, show: fn(&Config) -> String) -> Var {
    Var {
        name,
        secret: true,
        show: Some(show),
    }
}

const fn shown_as_headers(name: &'static str) -> Var {
    Var {
        name,
        secret: false,
        show: None,
    }
}

fn duration(d: std::time::Duration) -> String {
    humantime::format_duration(d).to_string()
}

fn optional(d: Option<std::time::Duration>) -> String {
    d.map_or("off".to_owned(), duration)
}

/// Default trusted proxy networks: loopback and the private ranges a proxy beside
/// sidegate lives in (Docker, Kubernetes).
pub const DEFAULT_TRUSTED_PROXIES: &str =
    "127.0.0.0/8,::1/128,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7";

const MASK: &str = "***SECRET***";

/// Every variable, in the order `check-config` prints them.
pub const VARS: &[Var] = &[
    var("LISTEN", |c| c.listen.to_string()),
    var("METRICS_LISTEN", |c| {
        c.metrics_listen
            .map_or_else(|| "(off)".to_owned(), |a| a.to_string())
    }),
    var("PUBLIC_URL", |c| c.public_base().to_owned()),
    var("ISSUER_URL", |c| c.issuer_url.clone()),
    var("CLIENT_ID", |c| c.client_id.clone()),
    secret("CLIENT_SECRET", |_| MASK.to_owned()),
    var("SCOPES", |c| c.scopes.join(" ")),
    secret("COOKIE_SECRET", |c| {
        format!("{MASK} ({} bytes)", c.cookie_secret.expose().len())
    }),
    var("COOKIE_NAME", |c| c.cookie.name.clone()),
    var("COOKIE_DOMAIN", |c| {
        c.cookie
            .domain
            .clone()
            .unwrap_or_else(|| "(host-only)".into())
    }),
    var("COOKIE_SECURE", |c| c.cookie.secure.to_string()),
    var("STRIP_COOKIES", |c| c.cookie.strip.to_string()),
    var("ALLOWED_REDIRECT_DOMAINS", |c| {
        c.allowed_redirect_domains.join(",")
    }),
    secret("REDIS_URL", |c| match c.redis.as_ref().map(|r| &r.target) {
        None => "(unset: memory store)".into(),
        Some(RedisTarget::Single(u)) => mask_url(u),
        Some(RedisTarget::Sentinel { master, .. }) => {
            format!(
                "{} (the master group the Sentinels watch)",
                mask_url(master)
            )
        }
        Some(RedisTarget::Cluster(_)) => "(unset: a cluster)".into(),
    }),
    secret("REDIS_SENTINELS", |c| {
        match c.redis.as_ref().map(|r| &r.target) {
            Some(RedisTarget::Sentinel { sentinels, .. }) => mask_list(sentinels),
            _ => "(unset)".into(),
        }
    }),
    secret("REDIS_CLUSTER_NODES", |c| {
        match c.redis.as_ref().map(|r| &r.target) {
            Some(RedisTarget::Cluster(nodes)) => mask_list(nodes),
            _ => "(unset)".into(),
        }
    }),
    var("REDIS_WAIT_REPLICAS", |c| {
        c.redis
            .as_ref()
            .map_or("(no Redis)".into(), |r| match r.wait_replicas {
                0 => "0 (writes do not wait for replicas)".into(),
                n => format!("{n} (session writes WAIT for {n} replica(s), up to 500 ms)"),
            })
    }),
    var("REDIS_CA_FILE", |c| {
        c.redis
            .as_ref()
            .and_then(|r| r.ca.as_ref())
            .map_or("(the system's CAs)".into(), |pem| {
                let n = String::from_utf8_lossy(pem)
                    .matches("-----BEGIN CERTIFICATE-----")
                    .count();
                format!("{n} CA certificate(s) from the file")
            })
    }),
    var("SESSION_LIFETIME", |c| duration(c.session_lifetime)),
    var("SESSION_IDLE_TIMEOUT", |c| optional(c.session_idle_timeout)),
    var("SESSION_CACHE_TTL", |c| optional(c.session_cache_ttl)),
    var("TRUSTED_PROXIES", |c| {
        let nets: Vec<String> = c.trusted_proxies.iter().map(ToString::to_string).collect();
        nets.join(",")
    }),
    var("LOG", |c| c.log.clone()),
    var("LOG_FORMAT", |c| {
        format!("{:?}", c.log_format).to_lowercase()
    }),
    shown_as_headers("USER_CLAIM"),
    shown_as_headers("EMAIL_CLAIM"),
    shown_as_headers("GROUPS_CLAIM"),
    shown_as_headers("PREFERRED_USERNAME_CLAIM"),
    shown_as_headers("USER_HEADER"),
    shown_as_headers("EMAIL_HEADER"),
    shown_as_headers("GROUPS_HEADER"),
    shown_as_headers("PREFERRED_USERNAME_HEADER"),
    shown_as_headers("GROUPS_SEPARATOR"),
    shown_as_headers("EXTRA_HEADERS"),
    var("HEADER_ENCODING", |c| {
        format!(
            "{:?}",
            c.profiles.get(None).map(|p| p.encoding).unwrap_or_default()
        )
        .to_lowercase()
    }),
    var("APPS_FILE", |c| {
        c.apps_file
            .as_ref()
            .map_or("(unset: one implicit profile)".into(), |p| {
                p.display().to_string()
            })
    }),
    secret("ADMIN_TOKEN", |c| {
        c.admin_token
            .as_ref()
            .map_or("(unset: /admin is off)".into(), |_| MASK.to_owned())
    }),
    var("LOGOUT_AT_IDP", |c| c.logout_at_idp.to_string()),
    var("TOKEN_REFRESH_BEFORE", |c| duration(c.token_refresh_before)),
    var("APIKEYS_FILE", |c| {
        c.apikeys_file
            .as_ref()
            .map_or("(unset)".into(), |p| p.display().to_string())
    }),
    var("APIKEY_HEADER", |c| {
        c.apikey_header
            .as_ref()
            .map_or("(unset: Authorization only)".into(), ToString::to_string)
    }),
    var("CLAIMS_REFRESH_INTERVAL", |c| {
        optional(c.claims_refresh_interval)
    }),
    var("GUESS_LIMIT", |c| {
        c.guess_limit
            .map_or("0 (off)".into(), |l| l.burst.to_string())
    }),
    var("GUESS_REFILL", |c| {
        c.guess_limit.map_or("(off)".into(), |l| {
            format!("one attempt every {}", duration(l.refill))
        })
    }),
    var("AUDIT_LOG", |c| {
        c.audit_log
            .as_ref()
            .map_or("(off)".into(), ToString::to_string)
    }),
];

/// Whether `name` (without `SIDEGATE_`) is a variable sidegate reads (`_FILE` of secrets
/// included).
pub fn is_known(name: &str) -> bool {
    VARS.iter()
        .any(|v| v.name == name || (v.secret && name.strip_suffix("_FILE") == Some(v.name)))
}

/// The warning for `SIDEGATE_<name>`, which sidegate does not read: the setting it most
/// likely means, or why it is harmless.
fn unknown(name: &str) -> String {
    let kubernetes = name == "PORT"
        || name.starts_with("PORT_")
        || name.starts_with("SERVICE_HOST")
        || name.starts_with("SERVICE_PORT");
    if kubernetes {
        return format!("SIDEGATE_{name} is not a sidegate setting and is ignored (Kubernetes sets it for a Service named sidegate)");
    }
    match did_you_mean(name) {
        Some(known) => format!(
            "SIDEGATE_{name} is not a sidegate setting and is ignored; did you mean SIDEGATE_{known}?"
        ),
        None => format!(
            "SIDEGATE_{name} is not a sidegate setting and is ignored (README, \"Configuration\", lists them all)"
        ),
    }
}

/// The known name closest to `name`: a small edit distance (a typo, swapped letters), or a
/// known name `name` ends with (`OIDC_ISSUER_URL` for `ISSUER_URL`).
fn did_you_mean(name: &str) -> Option<String> {
    let known = VARS.iter().flat_map(|v| {
        let file = v.secret.then(|| format!("{}_FILE", v.name));
        std::iter::once(v.name.to_owned()).chain(file)
    });
    let limit = (name.len() / 4).max(2);
    known
        .map(|k| (strsim::damerau_levenshtein(name, &k), k))
        .filter(|(d, k)| *d <= limit || (name.ends_with(k.as_str()) && k.contains('_')))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Masks the passwords in a list of addresses.
fn mask_list(items: &[String]) -> String {
    items
        .iter()
        .map(|i| {
            if i.contains("://") {
                mask_url(i)
            } else {
                i.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Masks the password in a URL such as `redis://:pw@host`.
fn mask_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        Ok(u) => u.to_string(),
        Err(_) => "***".into(),
    }
}

/// The known `SIDEGATE_*` values, by name without the prefix.
#[derive(Debug, Default)]
pub struct Vars {
    values: BTreeMap<String, String>,
}

impl Vars {
    /// Reads the known `SIDEGATE_*` variables from `all`; the unknown ones become warnings.
    ///
    /// # Errors
    /// [`ConfigErrors`] when the variables cannot be read at all.
    pub fn read(all: &HashMap<String, String>) -> Result<(Vars, Vec<String>), ConfigErrors> {
        let mut warnings = Vec::new();
        let mut known = Vec::new();
        for (k, v) in all {
            let Some(name) = k.strip_prefix("SIDEGATE_") else {
                continue;
            };
            if is_known(name) {
                known.push((k.clone(), v.clone()));
            } else {
                warnings.push(unknown(name));
            }
        }
        warnings.sort();
        let values: BTreeMap<String, String> =
            envy::prefixed("SIDEGATE_").from_iter(known).map_err(|e| {
                ConfigErrors(
                    vec![format!("reading SIDEGATE_* variables: {e}")],
                    warnings.clone(),
                )
            })?;
        let values = values
            .into_iter()
            .map(|(k, v)| (k.to_ascii_uppercase(), v))
            .collect();
        Ok((Vars { values }, warnings))
    }

    /// The value of `name` (a name from [`VARS`], or its `_FILE`), if set.
    pub fn get(&self, name: &str) -> Option<&str> {
        debug_assert!(is_known(name), "SIDEGATE_{name} is not in the VARS table");
        self.values.get(name).map(String::as_str)
    }

    /// The same, owned.
    pub fn owned(&self, name: &str) -> Option<String> {
        self.get(name).map(str::to_owned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_secrets_have_files() {
        let mut names: Vec<&str> = VARS.iter().map(|v| v.name).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(names.len(), before, "a variable is listed twice");
        assert!(is_known("CLIENT_SECRET_FILE") && is_known("CLIENT_SECRET"));
        assert!(!is_known("LISTEN_FILE") && !is_known("COOKIE_DOMIAN"));
    }

    #[test]
    fn read_keeps_known_values_and_warns_about_the_rest() {
        let all: HashMap<String, String> = [
            ("SIDEGATE_LISTEN", "0.0.0.0:1"),
            ("SIDEGATE_CLIENT_SECRET_FILE", "/run/s"),
            ("SIDEGATE_COOKIE_DOMIAN", "x"),
            ("PATH", "/bin"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        let (vars, warnings) = Vars::read(&all).unwrap();
        assert_eq!(vars.get("LISTEN"), Some("0.0.0.0:1"));
        assert_eq!(vars.get("CLIENT_SECRET_FILE"), Some("/run/s"));
        assert_eq!(vars.get("PUBLIC_URL"), None);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("SIDEGATE_COOKIE_DOMIAN"));
        assert!(
            warnings[0].contains("did you mean SIDEGATE_COOKIE_DOMAIN?"),
            "{warnings:?}"
        );
    }

    #[test]
    fn unknown_names_get_the_setting_they_most_likely_mean() {
        for (typo, meant) in [
            ("COOKIE_DOMIAN", Some("COOKIE_DOMAIN")),
            ("CLIENTSECRET", Some("CLIENT_SECRET")),
            ("CLIENT_SECRET_FIEL", Some("CLIENT_SECRET_FILE")),
            ("OIDC_ISSUER_URL", Some("ISSUER_URL")),
            ("REDIS_URI", Some("REDIS_URL")),
            ("PUBLICURL", Some("PUBLIC_URL")),
            ("UPSTREAMS", None),
            ("SERVICE_PORT", None),
        ] {
            let w = unknown(typo);
            assert!(w.contains("is not a sidegate setting"), "{w}");
            match meant {
                Some(m) => assert!(
                    w.ends_with(&format!("did you mean SIDEGATE_{m}?")),
                    "{typo}: {w}"
                ),
                None => assert!(!w.contains("did you mean"), "{typo}: {w}"),
            }
        }
        assert!(unknown("PORT_4180_TCP").contains("Kubernetes"));
    }
}
