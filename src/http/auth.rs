//! The forward-auth endpoints (`/auth[/<app>]`, `/auth/nginx[/<app>]`): extract the request,
//! ask the gate, render its verdict for the calling proxy. Every answer to nginx is
//! body-less; Traefik and Caddy relay non-2xx answers to the browser, so a refused
//! navigation gets a small page there.

use std::net::IpAddr;
use std::sync::Arc;

use warp::http::HeaderMap;
use warp::reply::Response;
use warp::Reply;

use super::{found, ok_with, Bodyless};
use crate::app::App;
use crate::error::Error;
use crate::forwarded::{self, Family};
use crate::gate::{self, Asked, ClientHints, Denial, Presentation, Verdict};
use crate::metrics::{Outcome, Reason};
use crate::store::SessionStore;

/// Which proxy calls an auth endpoint, which decides how a login is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyKind {
    /// Traefik, Caddy: a 302 reaches the browser.
    Redirecting,
    /// nginx `auth_request`: only 2xx/401/403; the login URL travels in `Location` of a 401.
    Nginx,
}

static SEC_FETCH_MODE: warp::http::HeaderName =
    warp::http::HeaderName::from_static("sec-fetch-mode");

fn header<'a>(headers: &'a HeaderMap, name: &warp::http::HeaderName) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The forward-auth check for the profile named in the path (`None`: the default one),
/// counted in the metrics with its outcome, reason and time.
pub async fn auth<S: SessionStore>(
    target: (ProxyKind, Option<String>),
    app: Arc<App<S>>,
    peer: Option<IpAddr>,
    headers: HeaderMap,
) -> Result<Response, Response> {
    let started = std::time::Instant::now();
    let mut counted = ("", Reason::BadForwarded);
    let answer = check(target, &app, peer, &headers, &mut counted).await;
    let r = match &answer {
        Ok(r) | Err(r) => r,
    };
    let outcome = match r.status().as_u16() {
        200..=299 => Outcome::Allow,
        302 => Outcome::Login,
        401 if r.headers().contains_key(warp::http::header::LOCATION) => Outcome::Login,
        401 if r.headers().contains_key(warp::http::header::RETRY_AFTER) => {
            Outcome::TooManyAttempts
        }
        429 => Outcome::TooManyAttempts,
        401 => Outcome::Unauthorized,
        403 => Outcome::Forbidden,
        500..=599 => Outcome::Error,
        _ => Outcome::BadRequest,
    };
    let (name, reason) = counted;
    app.metrics
        .decision(name, outcome, reason, started.elapsed().as_secs_f64());
    answer
}

/// The check itself; `counted` is set to the app and the reason as they become known.
async fn check<'a, S: SessionStore>(
    (kind, app_name): (ProxyKind, Option<String>),
    app: &'a App<S>,
    peer: Option<IpAddr>,
    headers: &HeaderMap,
    counted: &mut (&'a str, Reason),
) -> Result<Response, Response> {
    let request = original_request(app, kind, peer, headers).map_err(|e| {
        counted.1 = match e {
            forwarded::ForwardedError::UntrustedPeer => Reason::UntrustedProxy,
            _ => Reason::BadForwarded,
        };
        refusal(Error::BadForwardedRequest(e))
    })?;
    let Some(profile) = app.config.profiles.get(app_name.as_deref()) else {
        counted.1 = Reason::UnknownApp;
        return Err(refusal(Error::UnknownApp(app_name.unwrap_or_default())));
    };
    *counted = (profile.name.as_str(), Reason::StoreError);
    let asked = asked(&request, headers, app.config.apikey_header.as_ref(), peer);
    let verdict = gate::check(app, profile, asked).await.map_err(|e| {
        if matches!(e, Error::RecheckFailed { .. }) {
            counted.1 = Reason::IdpError;
        }
        refusal(e)
    })?;
    counted.1 = gate::reason(&verdict);
    Ok(render(verdict, kind))
}

/// The original request as the check reads it from a subrequest: refused when it cannot be
/// one (no `Host`, sidegate's own host), then the forwarded headers of `kind`'s family from
/// a trusted peer. `sidegate explain` runs the same.
///
/// # Errors
/// The [`forwarded::ForwardedError`] the check is refused with.
pub(crate) fn original_request<S>(
    app: &App<S>,
    kind: ProxyKind,
    peer: Option<IpAddr>,
    headers: &HeaderMap,
) -> Result<forwarded::ForwardedRequest, forwarded::ForwardedError> {
    let public_host = app.config.public_url.host_str().unwrap_or_default();
    let public_port = app.config.public_url.port();
    forwarded::subrequest_only(headers, public_host, public_port)?;
    let family = match kind {
        ProxyKind::Redirecting => Family::Forwarded,
        ProxyKind::Nginx => Family::Original,
    };
    forwarded::parse(peer, headers, &app.config.trusted_proxies, family)
}

/// What the gate is asked, read from the subrequest's headers: the hints that tell a
/// navigation, the credentials (`apikey_header` is `SIDEGATE_APIKEY_HEADER`), the cookies.
pub(crate) fn asked<'a>(
    request: &'a forwarded::ForwardedRequest,
    headers: &'a HeaderMap,
    apikey_header: Option<&warp::http::HeaderName>,
    peer: Option<IpAddr>,
) -> Asked<'a> {
    let authorization = header(headers, &warp::http::header::AUTHORIZATION);
    let apikey_header = apikey_header
        .and_then(|h| headers.get(h))
        .and_then(|v| v.to_str().ok());
    // Only a key or a token is limited: a check with neither skips the address lookup.
    let from = (authorization.is_some() || apikey_header.is_some())
        .then(|| forwarded::client_address(peer, headers))
        .flatten();
    Asked {
        request,
        hints: ClientHints {
            sec_fetch_mode: header(headers, &SEC_FETCH_MODE),
            accept: header(headers, &warp::http::header::ACCEPT),
            upgrade: header(headers, &warp::http::header::UPGRADE),
        },
        presented: Presentation {
            authorization,
            apikey_header,
            cookies: super::handlers::cookie_headers(headers).collect(),
            raw_cookies: headers
                .get_all(warp::http::header::COOKIE)
                .iter()
                .map(|v| v.as_bytes())
                .collect(),
            from,
        },
    }
}

/// A check refused before or outside the gate's verdict (bad forwarded headers, an unknown
/// app, the store or the IdP failing): body-less, with the one error map's status.
pub(crate) fn refusal(e: Error) -> Response {
    Bodyless(e).into_response()
}

/// The gate's verdict as the answer for the calling proxy.
pub(crate) fn render(verdict: Verdict, kind: ProxyKind) -> Response {
    match (verdict, kind) {
        (Verdict::Allow { headers, .. }, _) => ok_with(headers),
        (Verdict::Login { start }, ProxyKind::Redirecting) => found(&start),
        (Verdict::Login { start }, ProxyKind::Nginx) => refusal(Error::LoginRequired { start }),
        (
            Verdict::Deny(
                d @ Denial::Forbidden {
                    navigation: true, ..
                },
            ),
            ProxyKind::Redirecting,
        ) => Error::Denied(d).into_response(),
        // nginx's auth_request passes only 401 and 403 (anything else is its 500): a 401
        // with `Retry-After`, which the nginx examples turn back into the 429.
        (Verdict::Deny(d @ Denial::TooManyAttempts { .. }), ProxyKind::Nginx) => {
            let mut r = refusal(Error::Denied(d));
            *r.status_mut() = warp::http::StatusCode::UNAUTHORIZED;
            r
        }
        (Verdict::Deny(d), _) => refusal(Error::Denied(d)),
    }
}
