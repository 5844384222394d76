//! The one error type of request handling. Variants are named by meaning; the mapping to
//! HTTP statuses lives in `http/mod.rs` (`impl Reply for Error`) and nowhere else.

use crate::forwarded::ForwardedError;
use crate::gate::verdict::Denial;
use crate::logout::LogoutRefusal;
use crate::oidc::IdpError;
use crate::redirect::ReturnUrlRefusal;
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
    BadReturnUrl(ReturnUrlRefusal),
    /// `/callback` without a matching, unexpired login state (unknown or replayed `state`).
    #[error("no login in progress matches this callback")]
    InvalidLoginState,
    /// The IdP answered the login with an error (`error=` at `/callback`).
    #[error("the IdP refused the login: {code}")]
    LoginRefused {
        /// The `error` code, sanitised.
        code: String,
        /// sidegate's `/start` for the same return URL, to try again.
        retry: String,
    },
    /// The IdP metadata is not loaded yet.
    #[error("the IdP's metadata is not loaded")]
    IdpUnavailable,
    /// The IdP metadata is not loaded because the IdP settings are wrong.
    #[error("misconfigured: the IdP's metadata cannot be loaded with the configured settings")]
    IdpMisconfigured,
    /// Talking to the IdP or verifying its answer failed.
    #[error(transparent)]
    Idp(#[from] IdpError),
    /// The session store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The app re-checks users at the IdP (`recheck_every`), the re-check is overdue and the
    /// IdP could not be asked.
    #[error("app `{app}` re-checks users at the IdP every {every}s (recheck_every) and the IdP could not be asked, so the session is not believed until it answers; check that the IdP is up and reachable")]
    RecheckFailed {
        /// The profile.
        app: String,
        /// Its `recheck_every`, in seconds.
        every: u64,
    },
    /// Something that should not happen (no randomness, a response that cannot be built).
    #[error("internal error: {0}")]
    Internal(String),
    /// Nothing is served at this path (or the feature behind it is switched off).
    #[error("nothing is served here")]
    NotFound,
    /// The request itself is unusable before any handler ran (method, body, headers).
    #[error("unusable request: {0}")]
    Request(RequestProblem),
    /// A required parameter is missing (`logout_token`, `user`).
    #[error("missing {0}")]
    MissingParameter(&'static str),
    /// The IdP's back-channel logout token was refused.
    #[error("back-channel logout token refused: {0}")]
    LogoutTokenRefused(LogoutRefusal),
    /// The operator endpoint was called without the admin token.
    #[error("admin request refused: wrong or missing bearer token")]
    AdminUnauthorized,
    /// A dependency (store, IdP metadata) is not ready; the reasons are logged by the caller.
    #[error("not ready")]
    NotReady,
    /// The gate refused a forward-auth check.
    #[error("check refused: {0:?}")]
    Denied(Denial),
    /// nginx: the person must sign in at `start` (nginx cannot relay a redirect).
    #[error("sign-in required")]
    LoginRequired {
        /// sidegate's `/start` URL.
        start: String,
    },
}

/// Why a request was refused before any handler ran (warp's own rejections, by meaning).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestProblem {
    /// The path exists, the method does not.
    MethodNotAllowed,
    /// A body without `Content-Length` (chunked) where a length is needed.
    LengthRequired,
    /// A body over the endpoint's limit.
    PayloadTooLarge,
    /// A body of a type the endpoint does not read (JSON where a form is expected).
    UnsupportedMediaType,
    /// A malformed query, header or body.
    Malformed,
}

impl std::fmt::Display for RequestProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RequestProblem::MethodNotAllowed => "the method is not allowed here",
            RequestProblem::LengthRequired => "the body has no Content-Length",
            RequestProblem::PayloadTooLarge => "the body is too large",
            RequestProblem::UnsupportedMediaType => "the body's Content-Type is not accepted here",
            RequestProblem::Malformed => "the query, a header or the body is malformed",
        })
    }
}
