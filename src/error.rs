//! The one error type of request handling. Variants are named by meaning; the mapping to
//! HTTP statuses lives in `http/mod.rs` (`impl Reply for Error`) and nowhere else.

use crate::forwarded::ForwardedError;
use crate::oidc::IdpError;
use crate::redirect::Refusal;
use crate::store::StoreError;

/// Why a request could not be served as asked.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The forwarded headers could not be believed (untrusted peer, missing or odd headers).
    #[error("bad forwarded request: {0}")]
    BadForwardedRequest(ForwardedError),
    /// The proxy named an app profile that does not exist (`/auth/<app>`).
    #[error("no app profile named `{0}`; check the auth URL in the proxy and SIDEGATE_APPS_FILE")]
    UnknownApp(String),
    /// The return URL (`rd`) was refused.
    #[error("refused return URL: {}", .0.as_str())]
    BadReturnUrl(Refusal),
    /// `/callback` without a matching, unexpired login state (unknown or replayed `state`).
    #[error("no login in progress matches this callback")]
    InvalidLoginState,
    /// The IdP answered the login with an error (`error=` at `/callback`).
    #[error("the IdP refused the login: {0}")]
    LoginRefused(String),
    /// The IdP metadata is not loaded yet.
    #[error("the IdP's metadata is not loaded")]
    IdpUnavailable,
    /// Talking to the IdP or verifying its answer failed.
    #[error(transparent)]
    Idp(#[from] IdpError),
    /// The session store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Something that should not happen (no randomness, a response that cannot be built).
    #[error("internal error: {0}")]
    Internal(String),
}
