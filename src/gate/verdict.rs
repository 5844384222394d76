//! What the gate answers, for the HTTP layer to render per proxy.

use http::HeaderMap;

use super::decide::CredentialRefusal;
use super::principal::Principal;

/// The outcome of one forward-auth check.
#[derive(Debug)]
pub enum Verdict {
    /// Let the request through with these headers (`identity` is `None` on a bypass path).
    Allow {
        /// Who it is.
        identity: Option<Box<Principal>>,
        /// The headers the proxy copies to the app, the credential among them.
        headers: HeaderMap,
    },
    /// Send the person to sign in: sidegate's own `/start` URL, returning to the request.
    Login {
        /// Absolute `/start?rd=` URL.
        start: String,
    },
    /// Refused.
    Deny(Denial),
}

/// Why a check was refused, with what the answer needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denial {
    /// No valid session, and the client cannot be sent to a login page (401).
    Unauthenticated {
        /// Where a single-page app can send the person to sign in, when the request's own
        /// URL is an allowed return URL.
        login: Option<String>,
    },
    /// A key or bearer token was refused (401 `invalid_token`).
    Credential(CredentialRefusal),
    /// Too many failed API-key or bearer attempts from this address or for this key (429
    /// with `Retry-After`; nginx, which passes only 401 and 403, gets a 401 carrying it).
    TooManyAttempts {
        /// How long until one more attempt is counted.
        retry_after: std::time::Duration,
    },
    /// Signed in, but not allowed here (403).
    Forbidden {
        /// For the log.
        reason: &'static str,
        /// Whether the client is a top-level navigation (may be shown a page).
        navigation: bool,
    },
}
