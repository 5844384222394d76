//! The explanation as a value, its text form, and the descriptions it is made of: which
//! rule a verdict came from, why a client counts as a navigation, what the proxy does with
//! the answer. Pure. Secrets never reach a [`Report`]: every value passes [`mask`].

use http::{HeaderMap, HeaderName, HeaderValue};
use serde::Serialize;

use super::subrequest::Proxy;
use super::warnings::Warning;
use crate::claims::Claims;
use crate::gate::{ClientHints, Denial, Verdict};
use crate::policy::{PathMatch, Rules};

/// What a masked secret shows.
pub const MASK: &str = "***SECRET***";

/// One header as shown: the name, and the value with secrets masked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Shown {
    /// The header's name (lowercase).
    pub name: String,
    /// Its value, masked when secret.
    pub value: String,
}

/// The original request as sidegate understood it from the forwarded headers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Understood {
    /// `http` or `https`.
    pub proto: String,
    /// Host with a non-default port.
    pub host: String,
    /// The method (`GET` when the proxy did not say).
    pub method: String,
    /// Whether the proxy said the method.
    pub method_given: bool,
    /// Path and query, as received.
    pub uri: String,
}

/// The whole explanation, printed as text or JSON.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// `traefik`, `caddy`, `nginx`, or `traefik or caddy`.
    pub proxy: String,
    /// The auth endpoint asked (`/auth/nginx/borg`).
    pub endpoint: String,
    /// The app profile; `None` when the endpoint names none that exists.
    pub profile: Option<String>,
    /// The peer's address and whether it is trusted.
    pub peer: String,
    /// Whether `SIDEGATE_TRUSTED_PROXIES` has the peer.
    pub peer_trusted: bool,
    /// The subrequest's headers, masked.
    pub received: Vec<Shown>,
    /// The original request, when the forwarded headers were believed.
    pub request: Option<Understood>,
    /// `navigation` or `other`, and why.
    pub client: Option<(String, String)>,
    /// Who the check ran as.
    pub identity: String,
    /// The decision, in words.
    pub decision: String,
    /// The rule (or setting) that decided, when one did.
    pub rule: Option<String>,
    /// The status sidegate answers.
    pub status: u16,
    /// The answer's headers that steer the proxy or the client (not on a 200).
    pub answer_headers: Vec<Shown>,
    /// What the proxy does with the answer.
    pub proxy_does: String,
    /// On a 200: the headers the app receives with a value, masked.
    pub app_receives: Vec<Shown>,
    /// On a 200: the headers answered empty (the proxy replaces the client's copies).
    pub answered_empty: Vec<String>,
    /// What explain did differently from the server, and why.
    pub notes: Vec<String>,
    /// Proxy mistakes it can see.
    pub warnings: Vec<Warning>,
}

/// `value` as shown: `***SECRET***` for a non-empty header in `secret`, cookie names only
/// for `Cookie`, otherwise the text (lossy for non-UTF-8 bytes).
pub fn mask(name: &HeaderName, value: &HeaderValue, secret: &[HeaderName]) -> String {
    if value.is_empty() {
        return String::new();
    }
    if name == http::header::COOKIE {
        let text = String::from_utf8_lossy(value.as_bytes());
        let names: Vec<String> = text
            .split(';')
            .filter_map(|c| c.split_once('=').map(|(n, _)| n.trim()))
            .map(|n| format!("{n}=***"))
            .collect();
        return names.join("; ");
    }
    if secret.contains(name) || name == http::header::AUTHORIZATION {
        return MASK.to_owned();
    }
    String::from_utf8_lossy(value.as_bytes()).into_owned()
}

/// Every header of `h`, masked, in order.
pub fn shown(h: &HeaderMap, secret: &[HeaderName]) -> Vec<Shown> {
    h.iter()
        .map(|(n, v)| Shown {
            name: n.as_str().to_owned(),
            value: mask(n, v, secret),
        })
        .collect()
}

/// Why `classify` counted the client as it did (the kind itself is `classify`'s).
pub fn client_why(method: &str, hints: ClientHints<'_>, navigation: bool) -> String {
    if !matches!(method, "GET" | "HEAD") {
        return format!("the method is {method}: only GET and HEAD are sent to sign in");
    }
    if hints.upgrade.is_some_and(|u| !u.trim().is_empty()) {
        return "an Upgrade request (WebSocket)".into();
    }
    match (hints.sec_fetch_mode, hints.accept) {
        (Some(mode), _) => format!("Sec-Fetch-Mode: {}", mode.trim()),
        (None, Some(accept)) if navigation => {
            format!("no Sec-Fetch-Mode; Accept ranks text/html first (`{accept}`)")
        }
        (None, Some(accept)) => {
            format!("no Sec-Fetch-Mode; Accept does not rank text/html first (`{accept}`)")
        }
        (None, None) => "neither Sec-Fetch-Mode nor Accept: an API client".into(),
    }
}

fn path_match(m: &PathMatch) -> String {
    match m {
        PathMatch::Exact(p) => format!("{{ exact = \"{p}\" }}"),
        PathMatch::Prefix(p) => format!("{{ prefix = \"{p}\" }}"),
        PathMatch::Regex(r) => format!("{{ regex = \"{}\" }}", r.as_str()),
    }
}

/// The entry of `list` that matches `uri`, by the same matching as the rules'.
fn matching(list: &[PathMatch], uri: &str, logout: bool) -> Option<String> {
    list.iter()
        .find(|m| {
            let one = Rules {
                bypass: vec![(*m).clone()],
                logout: vec![(*m).clone()],
                ..Rules::default()
            };
            if logout {
                one.is_logout_path(uri)
            } else {
                one.bypasses(uri)
            }
        })
        .map(path_match)
}

/// The allow rules of `rules` that are set, with what `p` has for them.
fn allow_rules(rules: &Rules, claims: Option<&Claims>) -> String {
    let mut parts = Vec::new();
    if !rules.groups.is_empty() {
        let have = claims.map(|c| rules.groups_of(c)).unwrap_or_default();
        parts.push(format!(
            "allow_groups {:?} (the user's groups: {have:?})",
            rules.groups
        ));
    }
    if !rules.users.is_empty() {
        parts.push(format!("allow_users {:?}", rules.users));
    }
    if !rules.emails.is_empty() {
        parts.push(format!("allow_emails {:?}", rules.emails));
    }
    if !rules.email_domains.is_empty() {
        parts.push(format!("allow_email_domains {:?}", rules.email_domains));
    }
    if parts.is_empty() {
        "no allow_* rule: any signed-in user may use the app".into()
    } else {
        parts.join("; ")
    }
}

/// The decision in words, and the rule or setting behind it, for a verdict on `uri`;
/// `claims` are those of the identity the check ran as, if known (a refusal carries none).
pub fn judged(
    verdict: &Verdict,
    rules: &Rules,
    uri: &str,
    claims: Option<&Claims>,
) -> (String, Option<String>) {
    use crate::gate::decide::{METHOD_REFUSED, METHOD_UNKNOWN, RETURN_URL_REFUSED};
    let s = |t: &str| t.to_owned();
    match verdict {
        Verdict::Allow { identity: None, .. } => (
            s("allowed without identity: a bypass path (no identity headers, no credential)"),
            Some(format!("bypass {}", matching(&rules.bypass, uri, false).unwrap_or_default())),
        ),
        Verdict::Allow { identity: Some(p), .. } if rules.is_logout_path(uri) => (
            s("allowed, ending the SSO session: a fetch to the app's own logout endpoint (explain ends nothing)"),
            Some(format!("logout_paths {}", matching(&rules.logout, uri, true).unwrap_or_default()))
                .map(|r| format!("{r}; {}", allow_rules(rules, Some(p.claims())))),
        ),
        Verdict::Allow { identity: Some(p), .. } => (s("allowed"), Some(allow_rules(rules, Some(p.claims())))),
        Verdict::Login { start } if start.contains("/logout") => (
            s("a navigation to the app's own logout endpoint: sent through sidegate's /logout"),
            Some(format!("logout_paths {}", matching(&rules.logout, uri, true).unwrap_or_default())),
        ),
        Verdict::Login { .. } => (s("not signed in, and a browser navigation: sent to sign in"), None),
        Verdict::Deny(Denial::Unauthenticated { .. }) => (
            s("not signed in, and not a browser navigation: 401 (an API client, a fetch, a non-GET request)"),
            None,
        ),
        Verdict::Deny(Denial::Credential(r)) => (format!("the {} was refused: {}", r.what.as_str(), r.reason), None),
        Verdict::Deny(Denial::TooManyAttempts { .. }) => (s("too many failed key or token attempts from this address"), Some(s("SIDEGATE_GUESS_LIMIT"))),
        Verdict::Deny(Denial::Forbidden { reason, .. }) => {
            let rule = match *reason {
                METHOD_UNKNOWN | METHOD_REFUSED => format!("methods {:?}", rules.methods.clone().unwrap_or_default()),
                RETURN_URL_REFUSED => s("SIDEGATE_ALLOWED_REDIRECT_DOMAINS"),
                crate::gate::NO_CREDENTIAL => s("[[credentials]] chosen by group, with no default"),
                _ => allow_rules(rules, claims),
            };
            (format!("refused: {reason}"), Some(rule))
        }
    }
}

/// What the proxy does with sidegate's answer.
pub fn proxy_does(status: u16, answer: &HeaderMap, proxy: Option<Proxy>, nginx: bool) -> String {
    let get = |n: &str| {
        answer
            .get(n)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    };
    let who = proxy.map_or(
        if nginx { "nginx" } else { "Traefik or Caddy" },
        |p| match p {
            Proxy::Traefik => "Traefik",
            Proxy::Caddy => "Caddy",
            Proxy::Nginx => "nginx",
        },
    );
    match status {
        200 => format!("{who} passes the request on to the app, with the answer's headers below in place of the client's copies (those it is told to copy)"),
        302 => format!("{who} sends the browser the 302 to {}", get("location").unwrap_or_default()),
        401 if nginx && get("location").is_some() => format!("nginx's `error_page 401 = @sidegate_login` sends the browser a 302 to {}", get("location").unwrap_or_default()),
        401 if nginx && get("retry-after").is_some() => "nginx's @sidegate_login answers 429 with Retry-After".into(),
        401 => match get("x-sidegate-login") {
            Some(login) => format!("the client gets the 401; a single-page app may send the person to X-Sidegate-Login: {login}"),
            None => "the client gets the 401".into(),
        },
        403 if nginx => "nginx's `error_page 403 = @sidegate_denied` shows sidegate's \"Access denied\" page".into(),
        403 => format!("{who} passes the 403 to the client (a browser navigation gets a small \"Access denied\" page)"),
        429 => format!("{who} passes the 429 with Retry-After to the client"),
        _ if nginx => format!("nginx's auth_request turns a {status} into its own 500"),
        _ => format!("{who} passes the {status} to the client"),
    }
}

/// The report as plain text: one `label: value` line each, then the lists.
pub fn render_text(r: &Report) -> String {
    let mut out = String::new();
    let mut line = |label: &str, value: &str| out.push_str(&format!("{label:<10} {value}\n"));
    line("proxy:", &format!("{} -> {}", r.proxy, r.endpoint));
    line(
        "profile:",
        r.profile
            .as_deref()
            .unwrap_or("(none: no such app profile)"),
    );
    let trust = if r.peer_trusted {
        "trusted (in SIDEGATE_TRUSTED_PROXIES)"
    } else {
        "NOT trusted (not in SIDEGATE_TRUSTED_PROXIES)"
    };
    line("peer:", &format!("{}, {trust}", r.peer));
    match &r.request {
        Some(q) => {
            let said = if q.method_given {
                ""
            } else {
                " (the proxy did not say the method)"
            };
            line(
                "request:",
                &format!("{} {}://{}{}{said}", q.method, q.proto, q.host, q.uri),
            );
        }
        None => line("request:", "(not understood: see the decision)"),
    }
    if let Some((kind, why)) = &r.client {
        line("client:", &format!("{kind} ({why})"));
    }
    line("identity:", &r.identity);
    line("decision:", &r.decision);
    if let Some(rule) = &r.rule {
        line("rule:", rule);
    }
    line("answer:", &r.status.to_string());
    for h in &r.answer_headers {
        line("", &format!("{}: {}", h.name, h.value));
    }
    line("then:", &r.proxy_does);
    let mut section = |title: &str, items: Vec<String>| {
        if !items.is_empty() {
            out.push_str(title);
            for i in items {
                out.push_str(&format!("  {i}\n"));
            }
        }
    };
    section(
        "received (the subrequest's headers):\n",
        r.received
            .iter()
            .map(|h| format!("{}: {}", h.name, h.value))
            .collect(),
    );
    section(
        "app receives:\n",
        r.app_receives
            .iter()
            .map(|h| format!("{}: {}", h.name, h.value))
            .collect(),
    );
    section(
        "answered empty (the proxy replaces the client's copies with nothing):\n",
        r.answered_empty.clone(),
    );
    section(
        "notes:\n",
        r.notes.iter().map(|n| format!("- {n}")).collect(),
    );
    if r.warnings.is_empty() {
        out.push_str("warnings: none\n");
    } else {
        out.push_str("warnings:\n");
        for w in &r.warnings {
            out.push_str(&format!(
                "  - [{}] {}\n    fix: {}\n",
                w.code, w.problem, w.fix
            ));
        }
    }
    out
}
