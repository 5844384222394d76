//! One async function per endpoint: I/O (store, IdP) around the pure core.

use std::collections::HashMap;
use std::sync::Arc;

use warp::http::header::{CACHE_CONTROL, COOKIE, LOCATION, SET_COOKIE};
use warp::http::{HeaderMap, HeaderValue, StatusCode};
use warp::reply::Response;
use warp::Reply;

use super::{empty, pages};
use crate::app::App;
use crate::cookies;
use crate::error::Error;
use crate::oidc::{IdpError, LoginState};
use crate::redirect;
use crate::session::{Session, Ticket};
use crate::store::SessionStore;
use crate::upstream;

pub(super) fn cookie_headers(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
}

/// The live session behind the request's session cookie(s), if any.
pub(super) async fn current_session<S: SessionStore>(
    app: &App<S>,
    headers: &HeaderMap,
) -> Result<Option<(Ticket, Session)>, Error> {
    let now = app.clock.now();
    for value in cookies::values(cookie_headers(headers), &app.config.cookie.name)
        .iter()
        .take(3)
    {
        let Some(ticket) = Ticket::parse(value) else {
            tracing::debug!("ignoring a malformed session cookie");
            continue;
        };
        if let Some(session) = app.sessions.load(&ticket).await? {
            if session.is_live(now) {
                return Ok(Some((ticket, session)));
            }
        }
    }
    Ok(None)
}

/// sidegate's own login entry for `return_to`: always absolute.
pub(super) fn start_url<S>(app: &App<S>, return_to: &str) -> String {
    let rd: String = url::form_urlencoded::byte_serialize(return_to.as_bytes()).collect();
    format!("{}/start?rd={rd}", app.config.public_base())
}

pub(super) fn redirect_to(location: &str) -> Response {
    let mut r = empty(StatusCode::FOUND);
    r.headers_mut()
        .insert(LOCATION, upstream::header_value(location));
    r.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

pub(super) fn add_cookie(r: &mut Response, set_cookie: &str) {
    if let Ok(v) = HeaderValue::from_str(set_cookie) {
        r.headers_mut().append(SET_COOKIE, v);
    }
}

/// The validated `rd` parameter, or the public URL when absent.
pub(super) fn return_to<S>(
    app: &App<S>,
    params: &HashMap<String, String>,
) -> Result<String, Error> {
    match params.get("rd").filter(|rd| !rd.is_empty()) {
        Some(rd) => redirect::validate(rd, &app.config.allowed_redirect_domains)
            .map(|()| rd.clone())
            .map_err(Error::BadReturnUrl),
        None => Ok(format!("{}/", app.config.public_base())),
    }
}

/// `GET /start?rd=`: begin a login at the IdP.
pub async fn start<S: SessionStore>(
    app: Arc<App<S>>,
    params: HashMap<String, String>,
) -> Result<Response, Error> {
    let return_to = return_to(&app, &params)?;
    let provider = app.provider().ok_or(Error::IdpUnavailable)?;
    let (url, login) = provider.begin(return_to);
    let set = cookies::login_set(&app.config.cookie, app.keys.jar(), &login.state, &login)
        .ok_or_else(|| Error::Internal("login state cookie".into()))?;
    let mut r = redirect_to(url.as_str());
    add_cookie(&mut r, &set);
    Ok(r)
}

/// `GET /callback`: finish a login. The login-state cookie is cleared whatever happens.
pub async fn callback<S: SessionStore>(
    app: Arc<App<S>>,
    params: HashMap<String, String>,
    headers: HeaderMap,
) -> Response {
    let state = params.get("state").cloned().unwrap_or_default();
    let mut r = match finish_login(&app, &params, &headers, &state).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    if !state.is_empty() {
        add_cookie(&mut r, &cookies::login_clear(&app.config.cookie, &state));
    }
    r
}

async fn finish_login<S: SessionStore>(
    app: &App<S>,
    params: &HashMap<String, String>,
    headers: &HeaderMap,
    state: &str,
) -> Result<Response, Error> {
    let login: LoginState = (!state.is_empty())
        .then(|| {
            cookies::login_get(
                &app.config.cookie,
                app.keys.jar(),
                cookie_headers(headers),
                state,
            )
        })
        .flatten()
        .filter(|l: &LoginState| l.state == state)
        .ok_or(Error::InvalidLoginState)?;
    if let Some(error) = params.get("error") {
        let code: String = error
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .take(64)
            .collect();
        return Err(Error::LoginRefused(code));
    }
    if params
        .get("iss")
        .is_some_and(|iss| *iss != app.config.issuer_url)
    {
        // RFC 9207: an answer naming another issuer is a mix-up attack.
        return Err(Error::InvalidLoginState);
    }
    let code = params
        .get("code")
        .filter(|c| !c.is_empty())
        .ok_or(Error::InvalidLoginState)?;
    let provider = app.provider().ok_or(Error::IdpUnavailable)?;
    let tokens = provider.exchange(code.clone(), &login).await?;
    let identity = app
        .with_current_keys(
            provider.clone(),
            |e| matches!(e, IdpError::UnknownKey),
            |p| {
                let (tokens, login, clock) = (&tokens, &login, app.clock.clone());
                async move { p.identity(tokens, login, clock).await }
            },
        )
        .await?;
    let now = app.clock.now();
    let lifetime = app.config.session_lifetime;
    let claims = identity
        .claims
        .into_iter()
        .filter(|(k, _)| app.needed_claims.contains(k))
        .collect();
    let (keep_access, keep_id_for_apps) = app.config.profiles.tokens_needed();
    let keep_id = keep_id_for_apps;
    // The ID token is also the hint for RP-initiated logout at the IdP.
    let keep_id = keep_id || (app.config.logout_at_idp && provider.has_end_session());
    let session = Session {
        sub: identity.sub,
        claims,
        sid: identity.sid,
        access_token: keep_access.then_some(identity.access_token),
        id_token: keep_id.then_some(identity.id_token),
        refresh_token: (keep_access
            || keep_id_for_apps
            || app.config.claims_refresh_interval.is_some())
        .then_some(identity.refresh_token)
        .flatten(),
        access_valid: identity.expires_in.map(|e| (now, now.saturating_add(e))),
        claims_read_at: now,
        created_at: now,
        expires_at: now.saturating_add(lifetime.as_secs()),
    };
    let ticket = app.sessions.create(&session, lifetime).await?;
    tracing::info!(ticket_id = %ticket.id(), "signed in");
    let mut r = redirect_to(&login.return_to);
    add_cookie(
        &mut r,
        &cookies::session_set(&app.config.cookie, ticket.to_cookie_value(), lifetime),
    );
    Ok(r)
}

/// `GET /readyz`: 200 when the store answers and the IdP metadata is loaded.
pub async fn readyz<S: SessionStore>(app: Arc<App<S>>) -> Response {
    let store = app.sessions.store().ping().await;
    let idp = app.provider().is_some();
    match (&store, idp) {
        (Ok(()), true) => pages::page(StatusCode::OK, "ready", "ready"),
        _ => {
            if let Err(e) = &store {
                tracing::warn!(cause = %e, "not ready: the session store does not answer");
            }
            if !idp {
                tracing::warn!("not ready: the IdP's metadata is not loaded yet");
            }
            empty(StatusCode::SERVICE_UNAVAILABLE)
        }
    }
}
