//! HTTP: warp routes, and the one mapping from [`Error`] to status codes. Only this module
//! (and its children) imports warp. Handlers run through `.then()` and return
//! `Result<Response, _>`, so domain errors never fall through `.or()` as rejections.

mod auth;
mod filters;
mod handlers;
mod logout;
mod pages;

use std::sync::Arc;

use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Reply};

use crate::app::App;
use crate::error::Error;
use crate::forwarded::ForwardedError;
use crate::oidc::IdpError;
use crate::store::SessionStore;

pub(crate) use auth::ProxyKind;

/// Every route of sidegate.
pub fn routes<S: SessionStore>(
    app: Arc<App<S>>,
) -> impl Filter<Extract = (impl Reply,), Error = std::convert::Infallible> + Clone {
    // The app profile is chosen in the path, never the query: Caddy appends the client's
    // own query string to the auth URI.
    let target = warp::path!("auth")
        .map(|| (ProxyKind::Redirecting, None))
        .or(warp::path!("auth" / "nginx").map(|| (ProxyKind::Nginx, None)))
        .unify()
        .or(warp::path!("auth" / "nginx" / String).map(|a| (ProxyKind::Nginx, Some(a))))
        .unify()
        .or(warp::path!("auth" / String).map(|a| (ProxyKind::Redirecting, Some(a))))
        .unify();
    let auth = target
        .and(filters::with_app(app.clone()))
        .and(filters::peer_ip())
        .and(warp::header::headers_cloned())
        .then(auth::auth);
    let shim = warp::path("shim")
        .and(warp::path::param::<String>())
        .and(warp::path::tail())
        .and(filters::with_app(app.clone()))
        .then(auth::shim);
    let jwks = warp::path!(".well-known" / "jwks.json")
        .and(warp::get())
        .and(filters::with_app(app.clone()))
        .then(auth::jwks);
    let start = warp::path!("start")
        .and(warp::get())
        .and(filters::with_app(app.clone()))
        .and(filters::query_params())
        .then(handlers::start);
    let callback = warp::path!("callback")
        .and(warp::get())
        .and(filters::with_app(app.clone()))
        .and(filters::query_params())
        .and(warp::header::headers_cloned())
        .then(handlers::callback);
    let logout = warp::path!("logout")
        .and(warp::get().or(warp::post()).unify())
        .and(filters::with_app(app.clone()))
        .and(filters::query_params())
        .and(warp::header::headers_cloned())
        .then(logout::logout);
    let logged_out = warp::path!("logged-out")
        .and(warp::get())
        .and(filters::with_app(app.clone()))
        .and(filters::query_params())
        .then(logout::logged_out);
    let backchannel = warp::path!("backchannel-logout")
        .and(warp::post())
        .and(filters::with_app(app.clone()))
        .and(warp::body::content_length_limit(64 * 1024))
        .and(warp::body::form::<std::collections::HashMap<String, String>>())
        .then(logout::backchannel);
    let admin = warp::path!("admin" / "sessions" / "revoke")
        .and(warp::post())
        .and(filters::with_app(app.clone()))
        .and(filters::query_params())
        .and(warp::header::optional::<String>("authorization"))
        .then(logout::admin_revoke);
    let healthz = warp::path!("healthz").and(warp::get()).map(|| "ok");
    let readyz = warp::path!("readyz")
        .and(warp::get())
        .and(filters::with_app(app.clone()))
        .then(handlers::readyz);
    let index = warp::path::end().and(warp::get()).map(pages::index);
    auth.or(shim)
        .or(jwks)
        .or(start)
        .or(callback)
        .or(logout)
        .or(logged_out)
        .or(backchannel)
        .or(admin)
        .or(healthz)
        .or(readyz)
        .or(index)
        .recover(recover)
}

/// warp's own rejections (no route, wrong method): a small page with warp's status.
async fn recover(rejection: warp::Rejection) -> Result<Response, std::convert::Infallible> {
    let status = if rejection.is_not_found() {
        StatusCode::NOT_FOUND
    } else if rejection.find::<warp::reject::MethodNotAllowed>().is_some() {
        StatusCode::METHOD_NOT_ALLOWED
    } else if rejection.find::<warp::reject::InvalidQuery>().is_some() {
        StatusCode::BAD_REQUEST
    } else {
        tracing::warn!(?rejection, "unhandled rejection");
        StatusCode::INTERNAL_SERVER_ERROR
    };
    let text = status.canonical_reason().unwrap_or("Error");
    Ok(pages::page(status, text, "There is nothing here."))
}

/// The status for each error: the only such mapping. 5xx are logged as errors with their
/// cause; the client only ever sees a generic text.
fn status(e: &Error) -> StatusCode {
    match e {
        Error::BadForwardedRequest(ForwardedError::UntrustedPeer) => StatusCode::FORBIDDEN,
        Error::UnknownApp(_) => StatusCode::NOT_FOUND,
        Error::BadForwardedRequest(_) | Error::BadReturnUrl(_) | Error::InvalidLoginState => {
            StatusCode::BAD_REQUEST
        }
        Error::LoginRefused(code) if code == "access_denied" => StatusCode::FORBIDDEN,
        Error::LoginRefused(_) => StatusCode::BAD_REQUEST,
        Error::Idp(IdpError::CodeRefused(_) | IdpError::IdToken(_) | IdpError::UnknownKey) => {
            StatusCode::BAD_REQUEST
        }
        Error::Idp(_) => StatusCode::BAD_GATEWAY,
        Error::IdpUnavailable | Error::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
        Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn log(e: &Error, status: StatusCode) {
    if status.is_server_error() {
        tracing::error!(cause = %e, status = status.as_u16(), "request failed");
    } else {
        tracing::warn!(cause = %e, status = status.as_u16(), "request refused");
    }
}

/// What a person sees for each error (no internals).
fn explain(e: &Error) -> (&'static str, String) {
    match e {
        Error::BadForwardedRequest(_) => ("Bad request", "The proxy in front of this site sent a request sidegate cannot trust.".into()),
        Error::UnknownApp(_) => ("Not found", "The proxy asked about an app sidegate does not know.".into()),
        Error::BadReturnUrl(r) => ("Bad request", format!("Sign-in cannot start: {}.", r.as_str())),
        Error::InvalidLoginState => ("Sign-in expired", "This sign-in link has expired or was already used. Go back to the site and try again.".into()),
        Error::LoginRefused(code) => ("Sign-in refused", format!("The identity provider refused the sign-in ({code}).")),
        Error::Idp(IdpError::CodeRefused(_) | IdpError::IdToken(_) | IdpError::UnknownKey) => ("Sign-in failed", "The identity provider's answer could not be verified. Go back to the site and try again.".into()),
        Error::IdpUnavailable | Error::Idp(_) => ("Identity provider unreachable", "Sign-in is not possible right now because the identity provider cannot be reached. Try again in a minute.".into()),
        Error::Store(_) | Error::Internal(_) => ("Something went wrong", "sidegate could not complete the request. Try again in a minute.".into()),
    }
}

impl Reply for Error {
    fn into_response(self) -> Response {
        let status = status(&self);
        log(&self, status);
        let (title, message) = explain(&self);
        pages::page(status, title, &message)
    }
}

/// An error on a forward-auth endpoint: same status, but no body (nginx closes keep-alive
/// connections on subrequest answers with a body).
pub(crate) struct Bodyless(pub Error);

impl Reply for Bodyless {
    fn into_response(self) -> Response {
        let status = status(&self.0);
        log(&self.0, status);
        empty(status)
    }
}

/// A response with no body.
pub(crate) fn empty(status: StatusCode) -> Response {
    let mut r = Response::new(Default::default());
    *r.status_mut() = status;
    r
}

#[cfg(test)]
mod tests;
