//! HTTP: the one mapping from [`Error`] to status codes and bodies (this file), the warp
//! routes (`routes`), extraction filters, handlers and HTML pages. Only this module (and its
//! children) imports warp. Handlers run through `.then()` and return `Result<Response, _>`,
//! so domain errors never fall through `.or()` as rejections.

pub(crate) mod auth;
mod filters;
mod handlers;
mod logout;
mod pages;
mod people;
pub(crate) mod routes;

use warp::http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION, RETRY_AFTER, WWW_AUTHENTICATE};
use warp::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use warp::reply::Response;
use warp::Reply;

use crate::error::{Error, RequestProblem};
use crate::forwarded::ForwardedError;
use crate::gate::Denial;
use crate::oidc::IdpError;
use crate::upstream;

/// The header of a 401 that carries the login URL for single-page apps.
pub const LOGIN_HEADER: HeaderName = HeaderName::from_static("x-sidegate-login");

/// The status for each error: the only such mapping. 5xx are logged as errors with their
/// cause; the client only ever sees a generic text.
fn status(e: &Error) -> StatusCode {
    match e {
        Error::BadForwardedRequest(ForwardedError::UntrustedPeer | ForwardedError::PublicHost) => {
            StatusCode::FORBIDDEN
        }
        Error::UnknownApp(_) | Error::NotFound => StatusCode::NOT_FOUND,
        Error::BadForwardedRequest(_)
        | Error::BadReturnUrl(_)
        | Error::InvalidLoginState
        | Error::MissingParameter(_)
        | Error::LogoutTokenRefused(_) => StatusCode::BAD_REQUEST,
        Error::Request(p) => match p {
            RequestProblem::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            RequestProblem::LengthRequired => StatusCode::LENGTH_REQUIRED,
            RequestProblem::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            RequestProblem::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            RequestProblem::Malformed => StatusCode::BAD_REQUEST,
        },
        Error::LoginRefused { code, .. } if code == "access_denied" => StatusCode::FORBIDDEN,
        Error::LoginRefused { .. } => StatusCode::BAD_REQUEST,
        Error::Idp(IdpError::CodeRefused(_) | IdpError::IdToken(_) | IdpError::UnknownKey) => {
            StatusCode::BAD_REQUEST
        }
        Error::Idp(_) => StatusCode::BAD_GATEWAY,
        Error::IdpUnavailable
        | Error::IdpMisconfigured
        | Error::Store(_)
        | Error::RecheckFailed { .. }
        | Error::NotReady => StatusCode::SERVICE_UNAVAILABLE,
        Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        Error::AdminUnauthorized
        | Error::LoginRequired { .. }
        | Error::Denied(Denial::Unauthenticated { .. } | Denial::Credential(_)) => {
            StatusCode::UNAUTHORIZED
        }
        Error::Denied(Denial::Forbidden { .. }) => StatusCode::FORBIDDEN,
        Error::Denied(Denial::TooManyAttempts { .. }) => StatusCode::TOO_MANY_REQUESTS,
    }
}

/// `WWW-Authenticate` of a 401 without a session.
const CHALLENGE: HeaderValue = HeaderValue::from_static("Bearer realm=\"sidegate\"");

/// The headers some answers carry whatever their body: challenges and login URLs.
fn decorate(e: &Error, r: &mut Response) {
    let h = r.headers_mut();
    match e {
        Error::AdminUnauthorized => {
            h.insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"sidegate-admin\""),
            );
        }
        Error::Denied(Denial::Unauthenticated { login }) => {
            h.insert(WWW_AUTHENTICATE, CHALLENGE);
            // Where a single-page app can send the person to log in (it may swap `rd`).
            if let Some(login) = login {
                h.insert(LOGIN_HEADER, upstream::header_value(login));
            }
        }
        Error::Denied(Denial::Credential(_)) => {
            h.insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"sidegate\", error=\"invalid_token\""),
            );
        }
        Error::Denied(Denial::TooManyAttempts { retry_after }) => {
            let secs = crate::guesses::retry_after_secs(*retry_after);
            h.insert(RETRY_AFTER, HeaderValue::from(secs));
            h.insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"sidegate\", error=\"invalid_token\", error_description=\"too many failed attempts\""),
            );
        }
        // No challenge: nginx copies it onto the 302 it sends the browser.
        Error::LoginRequired { start } => {
            h.insert(LOCATION, upstream::header_value(start));
        }
        _ => {}
    }
}

fn log(e: &Error, status: StatusCode) {
    // Causes may quote a client's or the IdP's words: capped (`logged`).
    let cause = || crate::logged::capped(&e.to_string()).into_owned();
    if status.is_server_error() {
        if !matches!(e, Error::NotReady) {
            tracing::error!(cause = %cause(), status = status.as_u16(), "request failed");
        }
    } else if matches!(e, Error::Denied(_) | Error::LoginRequired { .. }) {
        // The gate logs refusals with the app and reason; "not signed in" is routine.
        if tracing::enabled!(tracing::Level::DEBUG) {
            tracing::debug!(cause = %cause(), status = status.as_u16(), "check refused");
        }
    } else {
        tracing::warn!(cause = %cause(), status = status.as_u16(), "request refused");
    }
}

/// What a person sees for each error (no internals).
fn explain(e: &Error) -> (&'static str, String) {
    let nothing = || ("Not found", "There is nothing here.".to_owned());
    match e {
        Error::BadForwardedRequest(_) => ("Bad request", "The proxy in front of this site sent a request sidegate cannot trust.".into()),
        Error::UnknownApp(_) => ("Not found", "The proxy asked about an app sidegate does not know.".into()),
        Error::NotFound => nothing(),
        Error::Request(p) => ("Bad request", format!("This request cannot be served: {p}.")),
        Error::MissingParameter(what) => ("Bad request", format!("The request lacks {what}.")),
        Error::LogoutTokenRefused(_) => ("Bad request", "The logout token was refused.".into()),
        Error::BadReturnUrl(r) => ("Bad request", format!("Sign-in cannot start: {}.", r.as_str())),
        Error::InvalidLoginState => ("Sign-in expired", "This sign-in link has expired or was already used. Go back to the site and try again.".into()),
        Error::LoginRefused { code, .. } if code == "access_denied" => ("Sign-in cancelled", "The sign-in was cancelled at the identity provider (or it did not let this account in). You can try again.".into()),
        Error::LoginRefused { code, .. } => ("Sign-in refused", format!("The identity provider refused the sign-in ({code}). You can try again.")),
        Error::Idp(IdpError::CodeRefused(_) | IdpError::IdToken(_) | IdpError::UnknownKey) => ("Sign-in failed", "The identity provider's answer could not be verified. Go back to the site and try again.".into()),
        Error::IdpMisconfigured | Error::Idp(IdpError::Misconfigured(_)) => ("Sign-in is misconfigured", "Sign-in is not possible because sidegate's settings do not match the identity provider. The administrator finds the cause in sidegate's log, on the lines starting with \"misconfigured\".".into()),
        Error::IdpUnavailable | Error::Idp(_) | Error::RecheckFailed { .. } => ("Identity provider unreachable", "Sign-in is not possible right now because the identity provider cannot be reached. Try again in a minute.".into()),
        Error::Store(_) | Error::Internal(_) | Error::NotReady => ("Something went wrong", "sidegate could not complete the request. Try again in a minute.".into()),
        Error::AdminUnauthorized => ("Not signed in", "This endpoint needs the operator's token.".into()),
        Error::LoginRequired { .. } | Error::Denied(Denial::Unauthenticated { .. }) => ("Not signed in", "Sign in to use this site.".into()),
        Error::Denied(Denial::Credential(_)) => ("Not signed in", "The key or token sent with this request was refused.".into()),
        Error::Denied(Denial::TooManyAttempts { .. }) => ("Too many attempts", "Too many keys or tokens sent from here were refused. Wait a little (see Retry-After) and check the key.".into()),
        Error::Denied(Denial::Forbidden { .. }) => ("Access denied", "You are signed in, but this app is not open to your account. Ask its administrator for access.".into()),
    }
}

/// An error as a small HTML page.
impl Reply for Error {
    fn into_response(self) -> Response {
        let status = status(&self);
        log(&self, status);
        let (title, message) = explain(&self);
        let retry = match &self {
            Error::LoginRefused { retry, .. } => Some(("Try again", retry.as_str())),
            _ => None,
        };
        let mut r = pages::page_with_link(status, title, &message, retry);
        decorate(&self, &mut r);
        r
    }
}

/// An error on a forward-auth endpoint: same status, but no body (nginx closes keep-alive
/// connections on subrequest answers with a body).
pub(crate) struct Bodyless(pub Error);

impl Reply for Bodyless {
    fn into_response(self) -> Response {
        let status = status(&self.0);
        log(&self.0, status);
        let mut r = Response::new(Default::default());
        *r.status_mut() = status;
        decorate(&self.0, &mut r);
        r
    }
}

/// An error on an endpoint machines call (back-channel logout, admin): an OAuth-style JSON
/// error (`invalid_request`, `unauthorized`, `temporarily_unavailable`, `server_error`).
pub(crate) struct OidcJson(pub Error);

impl Reply for OidcJson {
    fn into_response(self) -> Response {
        let e = self.0;
        let body = match &e {
            Error::NotFound | Error::Request(_) => return e.into_response(),
            Error::MissingParameter(_) => {
                serde_json::json!({"error": "invalid_request", "error_description": e.to_string()})
            }
            Error::LogoutTokenRefused(r) => {
                serde_json::json!({"error": "invalid_request", "error_description": r.as_str()})
            }
            Error::AdminUnauthorized => serde_json::json!({"error": "unauthorized"}),
            Error::IdpUnavailable
            | Error::Store(_)
            | Error::RecheckFailed { .. }
            | Error::NotReady => {
                serde_json::json!({"error": "temporarily_unavailable"})
            }
            Error::IdpMisconfigured => {
                serde_json::json!({"error": "server_error", "error_description": "misconfigured: the IdP's metadata cannot be loaded with the configured settings"})
            }
            _ => serde_json::json!({"error": "server_error"}),
        };
        let status = status(&e);
        log(&e, status);
        let mut r = json(body);
        *r.status_mut() = status;
        decorate(&e, &mut r);
        r
    }
}

/// 200 with no body, and `headers`.
pub(crate) fn ok_with(headers: HeaderMap) -> Response {
    let mut r = Response::new(Default::default());
    *r.headers_mut() = headers;
    r
}

/// 200 with a JSON body, not cached.
pub(crate) fn json(body: serde_json::Value) -> Response {
    let mut r = Response::new(body.to_string().into());
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// 200 with a small page.
pub(crate) fn ok_page(title: &str, message: &str) -> Response {
    pages::page(StatusCode::OK, title, message)
}

/// 302 to `location`, not cached.
pub(crate) fn found(location: &str) -> Response {
    let mut r = Response::new(Default::default());
    *r.status_mut() = StatusCode::FOUND;
    r.headers_mut()
        .insert(LOCATION, upstream::header_value(location));
    r.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

#[cfg(test)]
mod hostile_idp;
#[cfg(test)]
mod tests;
