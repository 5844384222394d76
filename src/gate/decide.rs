//! The forward-auth decision, as a value.
//!
//! Pure: no I/O, no clock (time is an argument), no HTTP types. Every outcome of a check is
//! settled here: refused keys and bearer tokens, a session that lacks the token the app
//! needs, methods, the app's own logout endpoints, bypass paths, rules, login or 401.

use super::principal::{Principal, Proof};
use crate::forwarded::ForwardedRequest;
use crate::policy::Rules;
use crate::redirect;

/// Which kind of credential a client presented instead of a session cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presenter {
    /// An API key (`sgk_…`).
    ApiKey,
    /// An access token signed by the IdP.
    Bearer,
}

impl Presenter {
    /// For the log.
    pub fn as_str(self) -> &'static str {
        match self {
            Presenter::ApiKey => "API key",
            Presenter::Bearer => "bearer token",
        }
    }
}

/// An API key or bearer token that failed verification (answered 401 `invalid_token`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CredentialRefusal {
    /// What was presented.
    pub what: Presenter,
    /// Why it was refused, for the log.
    pub reason: &'static str,
}

/// What the client proved, as far as the decision is concerned.
#[derive(Debug, Clone, Copy)]
pub enum Presented<'a> {
    /// No session, key or bearer token.
    Nobody,
    /// A verified identity.
    Principal(&'a Principal),
    /// A session made before this app needed the user's token: handled as no session, so the
    /// person logs in again and the new session keeps the token.
    LacksToken,
    /// A key or bearer token that failed verification.
    Refused(CredentialRefusal),
}

impl<'a> From<Option<&'a Principal>> for Presented<'a> {
    fn from(p: Option<&'a Principal>) -> Self {
        p.map_or(Presented::Nobody, Presented::Principal)
    }
}

/// What the client behind the proxy is, as far as a missing session is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientKind {
    /// A top-level browser navigation: may be sent to the login page.
    Navigation,
    /// Anything else (fetch/XHR, WebSocket, API client, non-GET): gets 401.
    Other,
}

/// The request headers that tell a navigation from everything else.
#[derive(Debug, Default, Clone, Copy)]
pub struct ClientHints<'a> {
    /// `Sec-Fetch-Mode`.
    pub sec_fetch_mode: Option<&'a str>,
    /// `Accept`.
    pub accept: Option<&'a str>,
    /// `Upgrade` (Traefik drops it; nginx and Caddy keep it).
    pub upgrade: Option<&'a str>,
}

/// Classifies the original request: only GET/HEAD top-level navigations are redirected.
pub fn classify(method: &str, hints: ClientHints<'_>) -> ClientKind {
    if !matches!(method, "GET" | "HEAD") || hints.upgrade.is_some_and(|u| !u.trim().is_empty()) {
        return ClientKind::Other;
    }
    let navigation = match hints.sec_fetch_mode.map(str::trim) {
        Some(mode) => mode.eq_ignore_ascii_case("navigate"),
        None => prefers_html(hints.accept.unwrap_or("")),
    };
    if navigation {
        ClientKind::Navigation
    } else {
        ClientKind::Other
    }
}

/// Whether an `Accept` header ranks `text/html` at least as high as anything else.
fn prefers_html(accept: &str) -> bool {
    let mut html = None;
    let mut best_other = 0.0_f32;
    for item in accept.split(',') {
        let mut parts = item.split(';');
        let media = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        if media == "text/html" || media == "application/xhtml+xml" {
            html = Some(html.map_or(q, |h: f32| h.max(q)));
        } else if media != "*/*" {
            best_other = best_other.max(q);
        }
    }
    html.is_some_and(|h| h > 0.0 && h >= best_other)
}

/// The answer to a forward-auth check.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Let the request through as the presented principal.
    Allow,
    /// Let the request through without identity (a bypass path): no identity, no credential.
    AllowAnonymous,
    /// Send the browser to log in, then back to `return_to`.
    Login {
        /// The original URL, byte for byte.
        return_to: String,
    },
    /// No valid session, and this client cannot be sent to a login page.
    Unauthenticated,
    /// Refused; never a redirect (avoids loops).
    Forbidden {
        /// For the log, never shown with internals.
        reason: &'static str,
    },
    /// A key or bearer token was presented and refused.
    CredentialRefused(CredentialRefusal),
    /// A navigation to one of the app's own logout endpoints: send the browser through
    /// sidegate's `/logout` (which ends the IdP session too), then back to the app.
    SignOut,
    /// A fetch to one of the app's own logout endpoints with a session: end the SSO
    /// session, and let the request through so the app logs out and answers its UI.
    AllowEndingSession,
}

/// Refused: the app has a methods rule and the proxy did not say the method.
pub const METHOD_UNKNOWN: &str = "the proxy did not say the request's method (X-Forwarded-Method, or X-Original-Method for nginx), which this app's methods rule needs";
/// Refused: the method is not among the app's.
pub const METHOD_REFUSED: &str = "the method is not allowed for this app";
/// Refused: a login could not come back to the app's host.
pub const RETURN_URL_REFUSED: &str =
    "the app's host is not in SIDEGATE_ALLOWED_REDIRECT_DOMAINS, so a login could not return there";

/// Decides one forward-auth check under an app's `rules`. A refused key or bearer token is
/// refused before anything else, bypass paths included.
pub fn decide(
    request: &ForwardedRequest,
    presented: Presented<'_>,
    client: ClientKind,
    allowed_domains: &[String],
    rules: &Rules,
    now: u64,
) -> Decision {
    let principal = match presented {
        Presented::Refused(r) => return Decision::CredentialRefused(r),
        Presented::Principal(p) => Some(p),
        Presented::Nobody | Presented::LacksToken => None,
    };
    if rules.methods.is_some() && !request.method_given {
        return Decision::Forbidden {
            reason: METHOD_UNKNOWN,
        };
    }
    if !rules.method_allowed(&request.method) {
        return Decision::Forbidden {
            reason: METHOD_REFUSED,
        };
    }
    if rules.is_logout_path(&request.uri) {
        if client == ClientKind::Navigation {
            return Decision::SignOut;
        }
        let session = principal.filter(|p| {
            p.is_live(now)
                && matches!(p.proof, Proof::Session { .. })
                && rules.permits(p.subject(), p.claims()).is_ok()
        });
        if session.is_some() {
            return Decision::AllowEndingSession;
        }
    }
    if rules.bypasses(&request.uri) {
        return Decision::AllowAnonymous;
    }
    if let Some(p) = principal.filter(|p| p.is_live(now)) {
        return match rules.permits(p.subject(), p.claims()) {
            Ok(()) => Decision::Allow,
            Err(reason) => Decision::Forbidden { reason },
        };
    }
    if client == ClientKind::Other {
        return Decision::Unauthenticated;
    }
    let return_to = request.url();
    match redirect::validate(&return_to, allowed_domains) {
        Ok(()) => Decision::Login { return_to },
        Err(_) => Decision::Forbidden {
            reason: RETURN_URL_REFUSED,
        },
    }
}

#[cfg(test)]
mod tests;
