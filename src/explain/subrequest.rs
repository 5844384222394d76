//! The subrequest to explain, as described on the command line: the proxy and the auth
//! endpoint it asks, the headers it sends for a client's URL and method, `-H` headers, and
//! a synthetic identity's claims. Pure.

use http::{HeaderMap, HeaderName, HeaderValue};

/// The proxy whose subrequest is explained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Proxy {
    /// Traefik's `forwardAuth` (`/auth[/<app>]`).
    Traefik,
    /// Caddy's `forward_auth` (`/auth[/<app>]`).
    Caddy,
    /// nginx's `auth_request` (`/auth/nginx[/<app>]`).
    Nginx,
}

impl Proxy {
    /// Its name, as given on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Proxy::Traefik => "traefik",
            Proxy::Caddy => "caddy",
            Proxy::Nginx => "nginx",
        }
    }

    /// Whether it calls the nginx endpoints (`/auth/nginx*`).
    pub fn is_nginx(self) -> bool {
        self == Proxy::Nginx
    }
}

/// An auth endpoint: which family of forwarded headers it reads, and the app in its path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `/auth/nginx*` (nginx) rather than `/auth*` (Traefik, Caddy).
    pub nginx: bool,
    /// The app profile named in the path; `None` for the default profile.
    pub app: Option<String>,
}

impl Endpoint {
    /// The endpoint's path, as the proxy asks for it.
    pub fn path(&self) -> String {
        let base = if self.nginx { "/auth/nginx" } else { "/auth" };
        match &self.app {
            Some(app) => format!("{base}/{app}"),
            None => base.to_owned(),
        }
    }

    /// The endpoint for a request target (`/auth/nginx/borg?x`), as sidegate's routes match
    /// it; `None` for any other path. The query is ignored (Caddy appends the client's).
    pub fn from_target(target: &str) -> Option<Self> {
        let path = target.split(['?', '#']).next().unwrap_or_default();
        let segments: Vec<&str> = path.strip_prefix('/')?.split('/').collect();
        let app = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        match segments.as_slice() {
            ["auth"] => Some(Self {
                nginx: false,
                app: None,
            }),
            ["auth", "nginx"] => Some(Self {
                nginx: true,
                app: None,
            }),
            ["auth", "nginx", a] => app(a).map(|a| Self {
                nginx: true,
                app: Some(a),
            }),
            ["auth", a] => app(a).map(|a| Self {
                nginx: false,
                app: Some(a),
            }),
            _ => None,
        }
    }
}

/// A problem with the command line's description of a request (exit status 2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// One `-H 'Name: value'` argument.
///
/// # Errors
/// A [`UsageError`] when it is not `Name: value` with a valid name and value.
pub fn header_arg(raw: &str) -> Result<(HeaderName, HeaderValue), UsageError> {
    let bad = |why: &str| UsageError(format!("-H `{raw}`: {why}; write it as -H 'Name: value'"));
    let (name, value) = raw.split_once(':').ok_or_else(|| bad("no `:`"))?;
    let name = HeaderName::from_bytes(name.trim().as_bytes())
        .map_err(|_| bad("not a valid header name"))?;
    let value = HeaderValue::from_str(value.trim()).map_err(|_| bad("not a valid value"))?;
    Ok((name, value))
}

/// The subrequest `proxy` sends for a client's `method` request to `url`, as the examples
/// configure it (Traefik and Caddy: `X-Forwarded-Method/-Proto/-Host/-Uri`; nginx:
/// `X-Original-URI`, `X-Original-Method`, `X-Forwarded-Proto/-Host`), then `extra`: a
/// header of the same name replaces the proxy's, a repeated one is added.
///
/// # Errors
/// A [`UsageError`] when `url` is not an absolute http(s) URL.
pub fn described(
    proxy: Proxy,
    url: &str,
    method: &str,
    extra: &[(HeaderName, HeaderValue)],
) -> Result<HeaderMap, UsageError> {
    let bad = || {
        UsageError(format!(
            "--url `{url}`: not an absolute http(s) URL such as https://app.example.com/path?q"
        ))
    };
    let (proto, rest) = url.split_once("://").ok_or_else(bad)?;
    let proto = proto.to_ascii_lowercase();
    let split = rest.find(['/', '?']).unwrap_or(rest.len());
    let (host, uri) = rest.split_at(split);
    if !matches!(proto.as_str(), "http" | "https") || host.is_empty() {
        return Err(bad());
    }
    // Byte for byte, as the proxy would pass it (a URL parser would normalise it).
    let uri = match uri {
        "" => "/".to_owned(),
        u if u.starts_with('?') => format!("/{u}"),
        u => u.to_owned(),
    };
    let (ours, theirs) = match proxy {
        Proxy::Nginx => ("sidegate", "x-original"),
        Proxy::Traefik => ("sidegate:4180", "x-forwarded"),
        // Caddy's forward_auth keeps the client's Host.
        Proxy::Caddy => (host, "x-forwarded"),
    };
    let mut h: Vec<(String, String)> = vec![
        ("host".into(), ours.into()),
        (format!("{theirs}-method"), method.to_ascii_uppercase()),
        ("x-forwarded-proto".into(), proto.clone()),
        ("x-forwarded-host".into(), host.into()),
    ];
    h.push(match proxy {
        Proxy::Nginx => ("x-original-uri".into(), uri),
        _ => ("x-forwarded-uri".into(), uri),
    });
    let mut map = HeaderMap::new();
    for (name, value) in h {
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad())?;
        let value = HeaderValue::from_str(&value).map_err(|_| bad())?;
        map.insert(name, value);
    }
    add_headers(&mut map, extra);
    Ok(map)
}

/// Adds `-H` headers to a subrequest: the first of a name replaces the request's own, a
/// repeated one is added beside it.
pub fn add_headers(map: &mut HeaderMap, extra: &[(HeaderName, HeaderValue)]) {
    let mut replaced: Vec<&HeaderName> = Vec::new();
    for (name, value) in extra {
        if replaced.contains(&name) {
            map.append(name.clone(), value.clone());
        } else {
            map.insert(name.clone(), value.clone());
            replaced.push(name);
        }
    }
}

/// The synthetic identity's claims: `--claims-json` first, then each `--claim name=value`.
/// `groups`, and any claim given more than once, is a list.
///
/// # Errors
/// A [`UsageError`] for JSON that is not an object, or a claim without `=`.
pub fn claims(json: Option<&str>, pairs: &[String]) -> Result<crate::claims::Claims, UsageError> {
    let mut claims = match json {
        None => crate::claims::Claims::new(),
        Some(text) => match serde_json::from_str::<serde_json::Value>(text) {
            Ok(serde_json::Value::Object(m)) => m,
            _ => {
                return Err(UsageError(
                    "--claims-json: not a JSON object such as '{\"groups\": [\"admins\"]}'".into(),
                ))
            }
        },
    };
    for pair in pairs {
        let (name, value) = pair.split_once('=').ok_or_else(|| {
            UsageError(format!(
                "--claim `{pair}`: write it as name=value (--claim groups=admins)"
            ))
        })?;
        let value = serde_json::Value::String(value.to_owned());
        let repeated = pairs
            .iter()
            .filter(|p| p.split_once('=').is_some_and(|(n, _)| n == name))
            .count()
            > 1;
        if name == "groups" || repeated {
            let entry = claims
                .entry(name.to_owned())
                .or_insert_with(|| serde_json::Value::Array(Vec::new()));
            match entry {
                serde_json::Value::Array(items) => items.push(value),
                other => *other = serde_json::Value::Array(vec![other.clone(), value]),
            }
        } else {
            claims.insert(name.to_owned(), value);
        }
    }
    Ok(claims)
}
