//! One async function per endpoint: I/O (store, IdP) around the pure core.

use std::collections::HashMap;
use std::sync::Arc;

use warp::http::header::{CACHE_CONTROL, CONTENT_TYPE, COOKIE, SET_COOKIE};
use warp::http::{HeaderMap, HeaderValue};
use warp::reply::Response;
use warp::Reply;

use super::{found, ok_page};
use crate::app::App;
use crate::claims;
use crate::cookies;
use crate::error::Error;
use crate::metrics::LoginResult;
use crate::oidc::{IdpError, LoginState};
use crate::redirect;
use crate::session::Session;
use crate::store::SessionStore;

pub(super) fn cookie_headers(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
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
///
/// Without `rd`, a browser that is already signed in is told as whom instead.
pub async fn start<S: SessionStore>(
    app: Arc<App<S>>,
    params: HashMap<String, String>,
    headers: HeaderMap,
) -> Result<Response, Error> {
    if params.get("rd").is_none_or(String::is_empty) {
        if let Some(session) = super::people::current_session(&app, &headers).await {
            return Ok(super::people::signed_in(&session));
        }
    }
    let return_to = return_to(&app, &params)?;
    if app.config.cookie.secure && !redirect::secure_cookie_reaches(&return_to) {
        tracing::warn!(
            "misconfigured: a sign-in for a plain-http page while the session cookie is Secure (SIDEGATE_PUBLIC_URL is https): the browser never sends the cookie to http pages, so every visit would sign in again; serve the app over https (or, for a test setup only, SIDEGATE_COOKIE_SECURE=false)"
        );
        return Err(Error::BadReturnUrl(
            redirect::ReturnUrlRefusal::InsecureWithSecureCookie,
        ));
    }
    let provider = app.idp.current().ok_or_else(|| idp_unavailable(&app.idp))?;
    let (url, login) = provider.begin(return_to);
    let set = cookies::login_set(&app.config.cookie, app.keys.jar(), &login.state, &login)
        .ok_or_else(|| Error::Internal("login state cookie".into()))?;
    let mut r = found(url.as_str());
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
    let finished = finish_login(&app, &params, &headers, &state).await;
    app.metrics.login(login_result(finished.as_ref().err()));
    let mut r = match finished {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    if !state.is_empty() {
        add_cookie(&mut r, &cookies::login_clear(&app.config.cookie, &state));
    }
    r
}

/// How a login ended, for the metrics.
fn login_result(e: Option<&Error>) -> LoginResult {
    match e {
        None => LoginResult::Success,
        Some(Error::LoginRefused { .. } | Error::Idp(IdpError::CodeRefused(_))) => {
            LoginResult::Refused
        }
        Some(Error::Idp(IdpError::IdToken(_) | IdpError::UnknownKey)) => LoginResult::Unverified,
        Some(Error::Idp(_) | Error::IdpUnavailable | Error::IdpMisconfigured) => {
            LoginResult::IdpError
        }
        Some(Error::Store(_)) => LoginResult::StoreError,
        Some(_) => LoginResult::InvalidState,
    }
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
        let rd: String = url::form_urlencoded::byte_serialize(login.return_to.as_bytes()).collect();
        return Err(Error::LoginRefused {
            code,
            retry: format!("/start?rd={rd}"),
        });
    }
    let provider = app.idp.current().ok_or_else(|| idp_unavailable(&app.idp))?;
    match params.get("iss") {
        // RFC 9207: an answer naming another issuer is a mix-up attack.
        Some(iss) if *iss != app.config.issuer_url => return Err(Error::InvalidLoginState),
        // An IdP that promises `iss` must send it (RFC 9207 §2.4).
        None if provider.sends_iss() => return Err(Error::InvalidLoginState),
        _ => {}
    }
    let code = params
        .get("code")
        .filter(|c| !c.is_empty())
        .ok_or(Error::InvalidLoginState)?;
    // Single use on every instance, not only in this browser: a replayed callback finds the
    // state consumed even with the old cookies.
    if !app.sessions.first_use_of_login_state(state).await? {
        return Err(Error::InvalidLoginState);
    }
    let tokens = provider.exchange(code.clone(), &login).await?;
    let identity = app
        .idp
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
    let claims = claims::keep_needed(identity.claims, &app.needed_claims);
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
            || app.config.claims_refresh_interval.is_some()
            || app.config.profiles.recheck_anywhere())
        .then_some(identity.refresh_token)
        .flatten(),
        access_valid: identity.expires_in.map(|e| (now, now.saturating_add(e))),
        claims_read_at: now,
        created_at: now,
        expires_at: now.saturating_add(lifetime.as_secs()),
        rendered: Default::default(),
    };
    let ticket = app.sessions.create(&session, lifetime).await?;
    tracing::info!(ticket_id = %ticket.id(), "signed in");
    let mut r = found(&login.return_to);
    add_cookie(
        &mut r,
        &cookies::session_set(&app.config.cookie, ticket.to_cookie_value(), lifetime),
    );
    Ok(r)
}

/// `GET /readyz`: 200 when the store answers and the IdP metadata is loaded, else 503; the
/// small JSON body names each dependency with its state and, when not ready, why.
pub async fn readyz<S: SessionStore>(app: Arc<App<S>>) -> Result<Response, Error> {
    let store = app.sessions.store().ping().await.err().map(|e| {
        format!("{e}; check SIDEGATE_REDIS_URL and that Redis is up and reachable from here")
    });
    let idp = app.idp.problem();
    for (what, why) in [("the session store", &store), ("the IdP", &idp)] {
        if let Some(why) = why {
            tracing::warn!(cause = %crate::logged::capped(why), "not ready: {what} is not usable");
        }
    }
    let check = |why: &Option<String>| match why {
        None => serde_json::json!({"ready": true}),
        Some(w) => serde_json::json!({"ready": false, "reason": w}),
    };
    let ready = store.is_none() && idp.is_none();
    let body = serde_json::json!({
        "ready": ready,
        "store": check(&store),
        "idp": check(&idp),
    });
    let mut r = Response::new(body.to_string().into());
    if !ready {
        *r.status_mut() = warp::http::StatusCode::SERVICE_UNAVAILABLE;
    }
    r.headers_mut().insert(
        warp::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r.headers_mut().insert(
        warp::http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    Ok(r)
}

/// `/shim/<app>/<path>`: the profile's fixed response for that path.
pub async fn shim<S: SessionStore>(
    app_name: String,
    tail: warp::path::Tail,
    app: Arc<App<S>>,
) -> Result<Response, Error> {
    let path = format!("/{}", tail.as_str());
    let s = app
        .config
        .profiles
        .get(Some(&app_name))
        .and_then(|p| p.shims.iter().find(|s| s.path == path))
        .ok_or(Error::NotFound)?;
    let mut r = Response::new(s.body.clone().into());
    // The status the operator configured for this shim.
    *r.status_mut() = s.status;
    if let Ok(ct) = HeaderValue::from_str(&s.content_type) {
        r.headers_mut().insert(CONTENT_TYPE, ct);
    }
    r.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
}

/// `/.well-known/jwks.json`: public keys of the upstream-JWT signers.
pub async fn jwks<S: SessionStore>(app: Arc<App<S>>) -> Response {
    let mut r = Response::new(app.config.profiles.jwks().to_owned().into());
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r.headers_mut().insert(
        CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    r
}

/// `GET /`: what this service is, or who is signed in.
pub async fn index<S: SessionStore>(app: Arc<App<S>>, headers: HeaderMap) -> Response {
    match super::people::current_session(&app, &headers).await {
        Some(session) => super::people::signed_in(&session),
        None => ok_page("sidegate", "This is the sign-in service for the sites behind this proxy. Open one of those sites to sign in."),
    }
}

/// `GET /denied`: the "Access denied" page (see [`super::people::denied`]).
pub async fn denied<S: SessionStore>(app: Arc<App<S>>, headers: HeaderMap) -> Response {
    super::people::denied(&app, &headers).await
}

/// Why there is no IdP to sign in with: its settings are wrong, or it is not reachable.
pub(super) fn idp_unavailable(idp: &crate::idp::Idp) -> Error {
    if idp.misconfigured() {
        Error::IdpMisconfigured
    } else {
        Error::IdpUnavailable
    }
}
