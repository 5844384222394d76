//! The closed sets metric labels come from.

/// How a forward-auth check ended.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum Outcome {
    /// Let through (2xx).
    Allow,
    /// Sent to sign in (302, or nginx's 401 with `Location`).
    Login,
    /// 401.
    Unauthorized,
    /// 403.
    Forbidden,
    /// 429 (too many failed attempts; nginx's 401 with `Retry-After`).
    TooManyAttempts,
    /// Another 4xx (a malformed request, an unknown app).
    BadRequest,
    /// 5xx.
    Error,
}

/// Why, from a closed set.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum Reason {
    /// Allowed with a session.
    Session,
    /// Allowed with an API key.
    ApiKey,
    /// Allowed with an IdP bearer token.
    Bearer,
    /// A bypass path.
    Bypass,
    /// The app's own logout endpoint (sent through `/logout`).
    AppLogout,
    /// No valid session (none, expired, idle, revoked).
    NoSession,
    /// A refused API key.
    BadKey,
    /// A refused bearer token.
    BadBearer,
    /// The app's rules refuse this user.
    Rule,
    /// The method is not allowed, or the proxy did not say it.
    Method,
    /// The app's credentials are chosen by group, and none is for this user.
    NoCredential,
    /// The app's host is not an allowed return URL.
    ReturnUrl,
    /// The peer is not a trusted proxy.
    UntrustedProxy,
    /// Forwarded headers missing, repeated or malformed.
    BadForwarded,
    /// The path names no app profile.
    UnknownApp,
    /// The session store failed.
    StoreError,
    /// The app's re-check at the IdP was overdue and the IdP could not be asked.
    IdpError,
    /// Too many failed API-key or bearer attempts.
    TooManyAttempts,
}

/// How a login ended.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum LoginResult {
    /// A session was made.
    Success,
    /// The state, code or callback was refused (a replay, a forged or stale callback).
    InvalidState,
    /// The IdP refused the login (`error=` on the callback, the code refused).
    Refused,
    /// The IdP's answer could not be verified (ID-token checks).
    Unverified,
    /// The IdP could not be reached or answered nonsense.
    IdpError,
    /// The store failed.
    StoreError,
}

/// How sessions ended.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum LogoutKind {
    /// `/logout` in the browser (`everywhere` counts every session it ends).
    User,
    /// The IdP's back-channel logout token.
    BackChannel,
    /// `POST /admin/sessions/revoke`.
    Admin,
    /// A fetch to an app's own logout endpoint (`logout_paths`).
    App,
    /// The IdP refused the session's refresh token (the session ended).
    IdpRefusal,
}

/// Which IdP endpoint a request went to.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum IdpEndpoint {
    /// The discovery document.
    Discovery,
    /// The JWKS.
    Keys,
    /// The token endpoint (code exchange, refresh).
    Token,
    /// The userinfo endpoint.
    Userinfo,
}

/// How an IdP request ended.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum IdpResult {
    /// A 2xx answer.
    Ok,
    /// Another status.
    HttpError,
    /// No usable answer (connection, time limit, size cap).
    Failed,
}

/// What a session-store operation was for.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum StoreOp {
    /// A new session (value and indexes).
    Create,
    /// Reading a session (cache misses only).
    Read,
    /// Writing a session again (after a refresh).
    Update,
    /// Ending one session.
    Delete,
    /// Ending every session of a user or IdP session.
    Revoke,
    /// A single-use record (login state, logout-token id).
    Claim,
    /// Listing a user's sessions.
    Index,
}

/// How a token refresh ended.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum RefreshResult {
    /// New tokens stored.
    Refreshed,
    /// The IdP refused the refresh token: the session ended.
    Refused,
    /// The IdP failed; the session is kept as it is.
    Failed,
    /// Another instance held the refresh lock too long; the session was used as it is.
    GaveUp,
}

/// snake_case label values for the closed sets.
macro_rules! label_values {
    ($($t:ty => { $($v:ident => $s:literal),* $(,)? })*) => {$(
        impl $t {
            /// The label value.
            pub const fn as_str(self) -> &'static str {
                match self { $(Self::$v => $s),* }
            }
            /// Every value, in order.
            pub const ALL: &'static [Self] = &[$(Self::$v),*];
        }
    )*};
}

label_values! {
    Outcome => { Allow => "allow", Login => "login", Unauthorized => "unauthorized", Forbidden => "forbidden", TooManyAttempts => "too_many_attempts", BadRequest => "bad_request", Error => "error" }
    Reason => { Session => "session", ApiKey => "api_key", Bearer => "bearer", Bypass => "bypass", AppLogout => "app_logout", NoSession => "no_session", BadKey => "bad_key", BadBearer => "bad_bearer", Rule => "rule", Method => "method", NoCredential => "no_credential", ReturnUrl => "return_url", UntrustedProxy => "untrusted_proxy", BadForwarded => "bad_forwarded", UnknownApp => "unknown_app", StoreError => "store_error", IdpError => "idp_error", TooManyAttempts => "too_many_attempts" }
    LoginResult => { Success => "success", InvalidState => "invalid_state", Refused => "refused", Unverified => "unverified", IdpError => "idp_error", StoreError => "store_error" }
    LogoutKind => { User => "user", BackChannel => "back_channel", Admin => "admin", App => "app", IdpRefusal => "idp_refusal" }
    RefreshResult => { Refreshed => "refreshed", Refused => "refused", Failed => "failed", GaveUp => "gave_up" }
    IdpEndpoint => { Discovery => "discovery", Keys => "keys", Token => "token", Userinfo => "userinfo" }
    IdpResult => { Ok => "ok", HttpError => "http_error", Failed => "failed" }
    StoreOp => { Create => "create", Read => "read", Update => "update", Delete => "delete", Revoke => "revoke", Claim => "claim", Index => "index" }
}
