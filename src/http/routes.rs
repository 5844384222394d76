//! Every route of sidegate, and warp's own rejections mapped by meaning.

use std::sync::Arc;

use warp::reply::Response;
use warp::{Filter, Reply};

use super::auth::{self, ProxyKind};
use super::{filters, handlers, logout};
use crate::app::App;
use crate::error::{Error, RequestProblem};
use crate::store::SessionStore;

/// The metrics listener's only route: `GET /metrics`, the text exposition.
pub fn metrics<S: SessionStore>(
    app: Arc<App<S>>,
) -> impl Filter<Extract = (impl Reply,), Error = std::convert::Infallible> + Clone {
    warp::path!("metrics")
        .and(warp::get())
        .map(move || {
            warp::reply::with_header(
                app.render_metrics(),
                "content-type",
                "text/plain; version=0.0.4; charset=utf-8",
            )
            .into_response()
        })
        .or(warp::any().map(|| {
            warp::reply::with_status("only GET /metrics here", warp::http::StatusCode::NOT_FOUND)
                .into_response()
        }))
        .unify()
}

/// Every route of sidegate.
pub fn routes<S: SessionStore>(
    app: Arc<App<S>>,
) -> impl Filter<Extract = (impl Reply,), Error = warp::Rejection> + Clone {
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
    // Proxies ask with GET (nginx's subrequests, Traefik, Caddy); anything else (TRACE, a
    // body) is not a check. Every /auth* answer is body-less, the refusals included.
    let auth = target
        .and(warp::get().or(warp::head()).unify())
        .and(filters::with_app(app.clone()))
        .and(filters::peer_ip())
        .and(warp::header::headers_cloned())
        .then(auth::auth);
    let auth_refused = warp::path("auth")
        .and(warp::method())
        .map(|method: warp::http::Method| {
            let problem = if method == warp::http::Method::GET || method == warp::http::Method::HEAD
            {
                // Dot or empty segments, or more of them than any auth URL has.
                Error::NotFound
            } else {
                Error::Request(RequestProblem::MethodNotAllowed)
            };
            super::Bodyless(problem).into_response()
        });
    let shim = warp::path("shim")
        .and(warp::path::param::<String>())
        .and(warp::path::tail())
        .and(filters::with_app(app.clone()))
        .then(handlers::shim);
    let jwks = warp::path!(".well-known" / "jwks.json")
        .and(warp::get())
        .and(filters::with_app(app.clone()))
        .then(handlers::jwks);
    let start = warp::path!("start")
        .and(warp::get())
        .and(filters::with_app(app.clone()))
        .and(filters::query_params())
        .and(warp::header::headers_cloned())
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
    let denied = warp::path!("denied")
        .and(warp::get())
        .and(filters::with_app(app.clone()))
        .and(warp::header::headers_cloned())
        .then(handlers::denied);
    let healthz = warp::path!("healthz").and(warp::get()).map(|| "ok");
    let readyz = warp::path!("readyz")
        .and(warp::get())
        .and(filters::with_app(app.clone()))
        .then(handlers::readyz);
    let index = warp::path::end()
        .and(warp::get())
        .and(filters::with_app(app.clone()))
        .and(warp::header::headers_cloned())
        .then(handlers::index);
    auth.or(auth_refused)
        .or(shim)
        .or(jwks)
        .or(start)
        .or(callback)
        .or(logout)
        .or(logged_out)
        .or(backchannel)
        .or(admin)
        .or(denied)
        .or(healthz)
        .or(readyz)
        .or(index)
        .recover(recover)
}

/// warp's own rejections, by meaning, with warp's status (404, 405, 411, 413, 415, 400);
/// one it does not know is passed on, so warp answers it with its own status.
async fn recover(rejection: warp::Rejection) -> Result<Response, warp::Rejection> {
    use warp::reject;
    let problem = if rejection.is_not_found() {
        return Ok(Error::NotFound.into_response());
    } else if rejection.find::<reject::MethodNotAllowed>().is_some() {
        RequestProblem::MethodNotAllowed
    } else if rejection.find::<reject::LengthRequired>().is_some() {
        RequestProblem::LengthRequired
    } else if rejection.find::<reject::PayloadTooLarge>().is_some() {
        RequestProblem::PayloadTooLarge
    } else if rejection.find::<reject::UnsupportedMediaType>().is_some() {
        RequestProblem::UnsupportedMediaType
    } else if rejection.find::<reject::InvalidQuery>().is_some()
        || rejection.find::<reject::InvalidHeader>().is_some()
        || rejection.find::<reject::MissingHeader>().is_some()
        || rejection.find::<reject::MissingCookie>().is_some()
        || rejection
            .find::<warp::filters::body::BodyDeserializeError>()
            .is_some()
    {
        RequestProblem::Malformed
    } else {
        tracing::warn!(?rejection, "a request was refused by warp itself");
        return Err(rejection);
    };
    Ok(Error::Request(problem).into_response())
}
