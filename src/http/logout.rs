//! Ending sessions: `/logout` (this browser, or everywhere; then RP-initiated logout at the
//! IdP), `/logged-out` (where the IdP sends the browser back), `/backchannel-logout` (the IdP
//! ends sessions itself, OIDC Back-Channel Logout 1.0) and the operator endpoint.

use std::collections::HashMap;
use std::sync::Arc;

use sha2::{Digest, Sha256};
use warp::http::HeaderMap;
use warp::reply::Response;

use super::handlers::{add_cookie, cookie_headers, return_to};
use super::people::{app_from_referer, signed_out, BACK};
use super::{found, json, OidcJson};
use crate::app::App;
use crate::cookies;
use crate::error::Error;
use crate::idp_jwt::JwtRefusal;
use crate::logout::{self, LogoutRefusal};
use crate::metrics::LogoutKind;
use crate::session::Ticket;
use crate::store::SessionStore;

/// `GET|POST /logout?rd=&everywhere=1`: end this browser's session (or all of the user's),
/// clear the cookie, end the IdP session when it offers RP-initiated logout, then go to `rd`.
pub async fn logout<S: SessionStore>(
    app: Arc<App<S>>,
    params: HashMap<String, String>,
    headers: HeaderMap,
) -> Result<Response, Error> {
    // A bad `rd` is not followed, but the sign-out happens all the same.
    let target = match params.get("rd").filter(|rd| !rd.is_empty()) {
        Some(_) => return_to(&app, &params)
            .map_err(|e| tracing::warn!(cause = %e, "signing out without following the return URL"))
            .ok(),
        None => None,
    };
    let everywhere = params
        .get("everywhere")
        .is_some_and(|v| v == "1" || v == "true");
    let mut id_token = None;
    for value in cookies::values(cookie_headers(&headers), &app.config.cookie.name)
        .iter()
        .take(3)
    {
        let Some(ticket) = Ticket::parse(value) else {
            continue;
        };
        let Some(session) = app.sessions.load(&ticket).await? else {
            continue;
        };
        id_token = id_token.or(session.id_token.clone());
        if everywhere {
            let ended = app.sessions.revoke("sub", &session.sub).await?;
            tracing::info!(ticket_id = %ticket.id(), sessions = ended, "signed out everywhere");
            app.metrics.logout(LogoutKind::User, ended);
        }
        if app.sessions.delete(&ticket).await? {
            tracing::info!(ticket_id = %ticket.id(), "signed out");
            app.metrics.logout(LogoutKind::User, 1);
        }
    }
    // Without `rd`, the signed-out page links back to the app the browser came from.
    let came_from = target
        .is_none()
        .then(|| app_from_referer(&app, &headers))
        .flatten();
    let at_idp = match (app.config.logout_at_idp, app.idp.current(), id_token) {
        (true, Some(p), Some(hint)) => {
            let back = format!("{}/logged-out", app.config.public_base());
            let state = target
                .clone()
                .or_else(|| came_from.as_ref().map(|c| format!("{BACK}{c}")));
            p.end_session_url(&hint, &back, state.as_deref())
        }
        _ => None,
    };
    let mut r = match (at_idp, target) {
        (Some(idp), _) => found(idp.as_str()),
        (None, Some(rd)) => found(&rd),
        (None, None) => signed_out(came_from.as_deref()),
    };
    add_cookie(&mut r, &cookies::session_clear(&app.config.cookie));
    Ok(r)
}

/// `GET /logged-out?state=`: back from the IdP's logout; `state` carries the validated `rd`
/// (validated again here, so a crafted link cannot redirect elsewhere).
pub async fn logged_out<S: SessionStore>(
    app: Arc<App<S>>,
    params: HashMap<String, String>,
) -> Result<Response, Error> {
    match params.get("state").filter(|s| !s.is_empty()) {
        Some(state) if state.starts_with(BACK) => {
            let back = state.trim_start_matches(BACK);
            let known =
                crate::redirect::validate(back, &app.config.allowed_redirect_domains).is_ok();
            Ok(signed_out(known.then_some(back)))
        }
        Some(rd) => {
            let rd = return_to(&app, &HashMap::from([("rd".to_owned(), rd.clone())]))?;
            Ok(found(&rd))
        }
        None => Ok(signed_out(None)),
    }
}

/// `POST /backchannel-logout` (form `logout_token=`): verify the IdP's logout token and end
/// the sessions of its `sid` (or, without one, of its `sub`) on every instance.
pub async fn backchannel<S: SessionStore>(
    app: Arc<App<S>>,
    form: HashMap<String, String>,
) -> Result<Response, OidcJson> {
    let Some(provider) = app.idp.current() else {
        tracing::error!("back-channel logout refused: the IdP's metadata is not loaded yet");
        return Err(OidcJson(super::handlers::idp_unavailable(&app.idp)));
    };
    let token = form
        .get("logout_token")
        .ok_or(OidcJson(Error::MissingParameter("logout_token")))?;
    let config = &app.config;
    let now = app.clock.now();
    let request = app
        .idp
        .with_current_keys(
            provider,
            |r| *r == LogoutRefusal::Token(JwtRefusal::UnknownKey),
            |p| async move {
                logout::verify(token, p.jwks(), &config.issuer_url, &config.client_id, now)
            },
        )
        .await
        .map_err(|r| OidcJson(Error::LogoutTokenRefused(r)))?;
    let store = |e| OidcJson(Error::Store(e));
    if !app
        .sessions
        .first_use_of_jti(&request.jti)
        .await
        .map_err(store)?
    {
        return Err(OidcJson(Error::LogoutTokenRefused(LogoutRefusal::Replayed)));
    }
    let ended = match (&request.sid, &request.sub) {
        (Some(sid), _) => app.sessions.revoke("sid", sid).await.map_err(store)?,
        (None, Some(sub)) => app.sessions.revoke("sub", sub).await.map_err(store)?,
        (None, None) => 0,
    };
    tracing::info!(
        sessions = ended,
        by_sid = request.sid.is_some(),
        "back-channel logout"
    );
    app.metrics.logout(LogoutKind::BackChannel, ended);
    Ok(json(serde_json::json!({})))
}

/// `POST /admin/sessions/revoke?user=<sub>` with `Authorization: Bearer <SIDEGATE_ADMIN_TOKEN>`:
/// end every session of a user. 404 when no admin token is configured.
pub async fn admin_revoke<S: SessionStore>(
    app: Arc<App<S>>,
    params: HashMap<String, String>,
    authorization: Option<String>,
) -> Result<Response, OidcJson> {
    let expected = app
        .config
        .admin_token
        .as_ref()
        .ok_or(OidcJson(Error::NotFound))?;
    let given = authorization
        .as_deref()
        .and_then(crate::gate::bearer)
        .unwrap_or("");
    // Comparing digests keeps the comparison's timing independent of the token's bytes.
    if Sha256::digest(given.as_bytes()) != Sha256::digest(expected.expose().as_bytes()) {
        return Err(OidcJson(Error::AdminUnauthorized));
    }
    let user = params
        .get("user")
        .filter(|u| !u.is_empty())
        .ok_or(OidcJson(Error::MissingParameter(
            "user (the subject whose sessions to end)",
        )))?;
    let n = app
        .sessions
        .revoke("sub", user)
        .await
        .map_err(|e| OidcJson(Error::Store(e)))?;
    tracing::info!(sessions = n, "operator ended a user's sessions");
    app.metrics.logout(LogoutKind::Admin, n);
    Ok(json(serde_json::json!({"revoked": n})))
}
