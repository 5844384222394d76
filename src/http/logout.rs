//! Ending sessions: `/logout` (this browser, or everywhere; then RP-initiated logout at the
//! IdP), `/logged-out` (where the IdP sends the browser back), `/backchannel-logout` (the IdP
//! ends sessions itself, OIDC Back-Channel Logout 1.0) and the operator endpoint.

use std::collections::HashMap;
use std::sync::Arc;

use sha2::{Digest, Sha256};
use warp::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use warp::http::{HeaderMap, HeaderValue, StatusCode};
use warp::reply::Response;

use super::handlers::{add_cookie, cookie_headers, redirect_to, return_to};
use super::pages;
use crate::app::App;
use crate::cookies;
use crate::error::Error;
use crate::idp_jwt::Refusal;
use crate::logout;
use crate::session::Ticket;
use crate::store::SessionStore;

fn signed_out() -> Response {
    pages::page(
        StatusCode::OK,
        "Signed out",
        "You are signed out. You can close this window.",
    )
}

/// `GET|POST /logout?rd=&everywhere=1`: end this browser's session (or all of the user's),
/// clear the cookie, end the IdP session when it offers RP-initiated logout, then go to `rd`.
pub async fn logout<S: SessionStore>(
    app: Arc<App<S>>,
    params: HashMap<String, String>,
    headers: HeaderMap,
) -> Result<Response, Error> {
    let target = match params.get("rd") {
        Some(_) => Some(return_to(&app, &params)?),
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
        }
        if app.sessions.delete(&ticket).await? {
            tracing::info!(ticket_id = %ticket.id(), "signed out");
        }
    }
    let at_idp = match (app.config.logout_at_idp, app.provider(), id_token) {
        (true, Some(p), Some(hint)) => {
            let back = format!("{}/logged-out", app.config.public_base());
            p.end_session_url(&hint, &back, target.as_deref())
        }
        _ => None,
    };
    let mut r = match (at_idp, target) {
        (Some(idp), _) => redirect_to(idp.as_str()),
        (None, Some(rd)) => redirect_to(&rd),
        (None, None) => signed_out(),
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
        Some(rd) => {
            let rd = return_to(&app, &HashMap::from([("rd".to_owned(), rd.clone())]))?;
            Ok(redirect_to(&rd))
        }
        None => Ok(signed_out()),
    }
}

fn json(status: StatusCode, body: serde_json::Value) -> Response {
    let mut r = Response::new(body.to_string().into());
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn refused(description: &str) -> Response {
    json(
        StatusCode::BAD_REQUEST,
        serde_json::json!({"error": "invalid_request", "error_description": description}),
    )
}

/// `POST /backchannel-logout` (form `logout_token=`): verify the IdP's logout token and end
/// the sessions of its `sid` (or, without one, of its `sub`) on every instance.
pub async fn backchannel<S: SessionStore>(
    app: Arc<App<S>>,
    form: HashMap<String, String>,
) -> Response {
    let Some(provider) = app.provider() else {
        tracing::error!("back-channel logout refused: the IdP's metadata is not loaded yet");
        return json(
            StatusCode::SERVICE_UNAVAILABLE,
            serde_json::json!({"error": "temporarily_unavailable"}),
        );
    };
    let Some(token) = form.get("logout_token") else {
        return refused("missing logout_token");
    };
    let config = &app.config;
    let now = app.clock.now();
    let verified = app
        .with_current_keys(
            provider,
            |reason| *reason == Refusal::UnknownKey.as_logout(),
            |p| async move {
                logout::verify(token, p.jwks(), &config.issuer_url, &config.client_id, now)
            },
        )
        .await;
    let request = match verified {
        Ok(r) => r,
        Err(reason) => {
            tracing::warn!(reason, "back-channel logout token refused");
            return refused(reason);
        }
    };
    let result = async {
        if !app.sessions.first_use_of_jti(&request.jti).await? {
            return Ok(None);
        }
        let ended = match (&request.sid, &request.sub) {
            (Some(sid), _) => app.sessions.revoke("sid", sid).await?,
            (None, Some(sub)) => app.sessions.revoke("sub", sub).await?,
            (None, None) => 0,
        };
        Ok::<_, crate::store::StoreError>(Some(ended))
    }
    .await;
    match result {
        Ok(Some(ended)) => {
            tracing::info!(
                sessions = ended,
                by_sid = request.sid.is_some(),
                "back-channel logout"
            );
            json(StatusCode::OK, serde_json::json!({}))
        }
        Ok(None) => {
            tracing::warn!("back-channel logout token refused: replayed jti");
            refused("the logout token was already used")
        }
        Err(e) => {
            tracing::error!(cause = %e, "back-channel logout failed: the session store did not answer");
            json(
                StatusCode::SERVICE_UNAVAILABLE,
                serde_json::json!({"error": "temporarily_unavailable"}),
            )
        }
    }
}

/// `POST /admin/sessions/revoke?user=<sub>` with `Authorization: Bearer <SIDEGATE_ADMIN_TOKEN>`:
/// end every session of a user. 404 when no admin token is configured.
pub async fn admin_revoke<S: SessionStore>(
    app: Arc<App<S>>,
    params: HashMap<String, String>,
    authorization: Option<String>,
) -> Response {
    let Some(expected) = &app.config.admin_token else {
        return pages::page(StatusCode::NOT_FOUND, "Not found", "There is nothing here.");
    };
    let given = authorization
        .as_deref()
        .and_then(|a| a.strip_prefix("Bearer "))
        .unwrap_or("");
    // Comparing digests keeps the comparison's timing independent of the token's bytes.
    if Sha256::digest(given.as_bytes()) != Sha256::digest(expected.expose().as_bytes()) {
        tracing::warn!("admin request refused: wrong or missing bearer token");
        let mut r = json(
            StatusCode::UNAUTHORIZED,
            serde_json::json!({"error": "unauthorized"}),
        );
        r.headers_mut().insert(
            "www-authenticate",
            HeaderValue::from_static("Bearer realm=\"sidegate-admin\""),
        );
        return r;
    }
    let Some(user) = params.get("user").filter(|u| !u.is_empty()) else {
        return refused("missing user (the subject whose sessions to end)");
    };
    match app.sessions.revoke("sub", user).await {
        Ok(n) => {
            tracing::info!(sessions = n, "operator ended a user's sessions");
            json(StatusCode::OK, serde_json::json!({"revoked": n}))
        }
        Err(e) => {
            tracing::error!(cause = %e, "admin revoke failed: the session store did not answer");
            json(
                StatusCode::SERVICE_UNAVAILABLE,
                serde_json::json!({"error": "temporarily_unavailable"}),
            )
        }
    }
}
