//! The forward-auth endpoints (`/auth[/<app>]`, `/auth/nginx[/<app>]`), the shims and the
//! JWKS document. Every `/auth*` answer to nginx is body-less; Traefik and Caddy relay
//! non-2xx answers to the browser, so a refused navigation gets a small page there.

use std::net::IpAddr;
use std::sync::Arc;

use warp::http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION, WWW_AUTHENTICATE};
use warp::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use warp::reply::Response;

use super::handlers::{current_session, start_url};
use super::{empty, pages, Bodyless};
use crate::app::App;
use crate::decision::{self, ClientHints, ClientKind, Decision};
use crate::error::Error;
use crate::forwarded;
use crate::profile::credential::Kind;
use crate::profile::Profile;
use crate::session::Session;
use crate::store::SessionStore;
use crate::upstream;

/// Which proxy calls an auth endpoint, which decides how a login is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyKind {
    /// Traefik, Caddy: a 302 reaches the browser.
    Redirecting,
    /// nginx `auth_request`: only 2xx/401/403; the login URL travels in `Location` of a 401.
    Nginx,
}

/// The header of a 401 that carries the login URL for single-page apps.
pub const LOGIN_HEADER: HeaderName = HeaderName::from_static("x-sidegate-login");

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn bearer_challenge() -> HeaderValue {
    HeaderValue::from_static("Bearer realm=\"sidegate\"")
}

/// The forward-auth check for the profile named in the path (`None`: the default one).
pub async fn auth<S: SessionStore>(
    (kind, app_name): (ProxyKind, Option<String>),
    app: Arc<App<S>>,
    peer: Option<IpAddr>,
    headers: HeaderMap,
) -> Result<Response, Bodyless> {
    let request = forwarded::parse(peer, &headers, &app.config.trusted_proxies)
        .map_err(|e| Bodyless(Error::BadForwardedRequest(e)))?;
    let profile = app
        .config
        .profiles
        .get(app_name.as_deref())
        .ok_or_else(|| Bodyless(Error::UnknownApp(app_name.clone().unwrap_or_default())))?;
    let refused = |what: &str, reason: &str| {
        tracing::warn!(app = %profile.name, reason, "{what} refused");
        let mut r = empty(StatusCode::UNAUTHORIZED);
        r.headers_mut().insert(
            WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"sidegate\", error=\"invalid_token\""),
        );
        r
    };
    // Who is asking: an API key, an IdP bearer token (profiles that accept them), or the
    // session cookie. All three then meet the same rules, headers and credential.
    let bearer = profile
        .bearer_audience
        .as_deref()
        .zip(bearer_token(&headers));
    let mut session = if let Some(key) = apikey(&app, &headers) {
        match verify_apikey(&app, profile, key)
            .await
            .map_err(|e| Bodyless(Error::Store(e)))?
        {
            Ok(s) => Some((s.sub.clone(), s)),
            Err(reason) => return Ok(refused("API key", reason)),
        }
    } else if let Some((audience, token)) = bearer {
        match verify_bearer(&app, token, audience).await {
            Ok(s) => Some((format!("bearer:{}:{}", s.sub, s.expires_at), s)),
            Err(reason) => return Ok(refused("bearer token", reason)),
        }
    } else {
        cookie_session(&app, profile, &headers).await?
    };
    let now = app.clock.now();
    // A session made before this profile needed the user's token cannot serve it: log in again.
    let credential = match &session {
        Some((key, s)) => credential_value(&app, profile, key, s, now),
        None => Ok(None),
    };
    if matches!(credential, Err(Missing)) {
        session = None;
    }
    let hints = ClientHints {
        sec_fetch_mode: header_str(&headers, "sec-fetch-mode"),
        accept: header_str(&headers, "accept"),
        upgrade: header_str(&headers, "upgrade"),
    };
    let client = decision::classify(&request.method, hints);
    let decision = decision::decide(
        &request,
        session.as_ref().map(|(_, s)| s),
        client,
        &app.config.allowed_redirect_domains,
        &profile.rules,
        now,
    );
    tracing::debug!(?decision, app = %profile.name, host = %request.host, method = %request.method, "auth");
    Ok(match decision {
        Decision::Allow => {
            let claims = session.map(|(_, s)| s.claims).unwrap_or_default();
            let mut r = empty(StatusCode::OK);
            let h = r.headers_mut();
            h.extend(upstream::identity_headers(&profile.headers, &claims));
            h.extend(
                profile
                    .mappings
                    .iter()
                    .map(|m| (m.header.clone(), m.value(&claims))),
            );
            if let (Some(c), Ok(Some(value))) = (&profile.credential, credential) {
                h.insert(c.header.clone(), value);
            }
            r
        }
        Decision::AllowAnonymous => {
            // Every header the proxy copies is sent, empty (Caddy 2.6 would pass a literal
            // placeholder for a missing one), and an anonymous request gets no credential.
            let mut r = empty(StatusCode::OK);
            let blank: Vec<HeaderName> = profile.header_names().into_iter().cloned().collect();
            r.headers_mut()
                .extend(blank.into_iter().map(|n| (n, HeaderValue::from_static(""))));
            r
        }
        Decision::Login { return_to } => {
            let location = start_url(&app, &return_to);
            let status = match kind {
                ProxyKind::Redirecting => StatusCode::FOUND,
                ProxyKind::Nginx => StatusCode::UNAUTHORIZED,
            };
            let mut r = empty(status);
            r.headers_mut()
                .insert(LOCATION, upstream::header_value(&location));
            if kind == ProxyKind::Nginx {
                r.headers_mut().insert(WWW_AUTHENTICATE, bearer_challenge());
            }
            r
        }
        Decision::Unauthenticated => {
            let mut r = empty(StatusCode::UNAUTHORIZED);
            r.headers_mut().insert(WWW_AUTHENTICATE, bearer_challenge());
            // Where a single-page app can send the person to log in (it may swap `rd`).
            let return_to = request.url();
            if crate::redirect::validate(&return_to, &app.config.allowed_redirect_domains).is_ok() {
                r.headers_mut().insert(
                    LOGIN_HEADER,
                    upstream::header_value(&start_url(&app, &return_to)),
                );
            }
            r
        }
        Decision::Forbidden { reason } => {
            tracing::warn!(app = %profile.name, host = %request.host, uri = %request.uri, reason, "access refused");
            if kind == ProxyKind::Redirecting && client == ClientKind::Navigation {
                pages::page(StatusCode::FORBIDDEN, "Access denied", "You are signed in, but this app is not open to your account. Ask its administrator for access.")
            } else {
                empty(StatusCode::FORBIDDEN)
            }
        }
    })
}

/// The session behind the cookie, refreshed first if its tokens are due; keyed by ticket id.
async fn cookie_session<S: SessionStore>(
    app: &App<S>,
    profile: &Profile,
    headers: &HeaderMap,
) -> Result<Option<(String, Session)>, Bodyless> {
    let Some((ticket, s)) = current_session(app, headers).await.map_err(Bodyless)? else {
        return Ok(None);
    };
    let needs_token = profile
        .credential
        .as_ref()
        .is_some_and(|c| c.token_needed().is_some());
    Ok(crate::refresh::ensure_fresh(app, &ticket, s, needs_token)
        .await
        .map_err(|e| Bodyless(Error::Store(e)))?
        .map(|s| (ticket.id().to_owned(), s)))
}

/// The token of an `Authorization: Bearer` header that looks like a JWT (API keys and other
/// bearer values are not the IdP's tokens).
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = header_str(headers, "authorization")?;
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") && token.matches('.').count() == 2)
        .then_some(token.trim())
}

/// A service account's JWT access token from the IdP, verified (signature with the IdP's
/// key, issuer, audience, expiry) and turned into a short-lived identity.
async fn verify_bearer<S: SessionStore>(
    app: &App<S>,
    token: &str,
    audience: &str,
) -> Result<Session, &'static str> {
    use crate::idp_jwt::{self, Refusal};
    let provider = app.provider().ok_or("the IdP's keys are not loaded yet")?;
    let required = ["iss", "aud", "exp", "sub"];
    let issuer = &app.config.issuer_url;
    let claims = app
        .with_current_keys(
            provider,
            |e| matches!(e, Refusal::UnknownKey),
            |p| async move { idp_jwt::decode(token, p.jwks(), issuer, audience, &required) },
        )
        .await
        .map_err(Refusal::as_str)?;
    let sub = claims
        .get("sub")
        .and_then(|v| v.as_str())
        .ok_or("the token has no subject")?
        .to_owned();
    let exp = claims
        .get("exp")
        .and_then(serde_json::Value::as_u64)
        .ok_or("the token has no expiry")?;
    Ok(Session {
        sub,
        claims: claims
            .into_iter()
            .filter(|(k, _)| app.needed_claims.contains(k))
            .collect(),
        created_at: app.clock.now(),
        expires_at: exp,
        access_token: Some(token.to_owned()),
        ..Session::default()
    })
}

/// An API key in `Authorization: Bearer sgk_…` or the configured header.
fn apikey<'a, S>(app: &App<S>, headers: &'a HeaderMap) -> Option<&'a str> {
    let from_bearer = header_str(headers, "authorization")
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, key)| {
            scheme.eq_ignore_ascii_case("bearer") && key.trim().starts_with("sgk_")
        })
        .map(|(_, key)| key.trim());
    let from_header = app
        .config
        .apikey_header
        .as_ref()
        .and_then(|h| headers.get(h))
        .and_then(|v| v.to_str().ok());
    from_bearer.or(from_header.map(str::trim))
}

/// An API key checked against its stored hash, expiry and profile; the identity it stands for.
async fn verify_apikey<S: SessionStore>(
    app: &App<S>,
    profile: &Profile,
    key: &str,
) -> Result<Result<Session, &'static str>, crate::store::StoreError> {
    let Some((id, secret)) = crate::apikey::parse(key) else {
        return Ok(Err("not an API key (malformed)"));
    };
    let Some(backend) = &app.apikeys else {
        return Ok(Err(
            "API keys are not enabled (set SIDEGATE_REDIS_URL or SIDEGATE_APIKEYS_FILE)",
        ));
    };
    let now = app.clock.now();
    let Some(mut record) = backend
        .get(id)
        .await?
        .filter(|r| crate::apikey::matches(app.keys.apikey(), secret, r))
    else {
        return Ok(Err("unknown or revoked API key"));
    };
    if record.expires_at.is_some_and(|e| e <= now) {
        return Ok(Err("the API key has expired"));
    }
    if record.profile != profile.name {
        return Ok(Err("the API key is for another app"));
    }
    if record.last_used_at.is_none_or(|t| now >= t + 60) {
        record.last_used_at = Some(now);
        backend.put(&record, now).await?;
    }
    let claims = serde_json::json!({"sub": format!("apikey:{}", record.name), "preferred_username": record.name, "groups": record.groups});
    Ok(Ok(Session {
        sub: format!("apikey:{}", record.name),
        claims: claims
            .as_object()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|(k, _)| app.needed_claims.contains(k) || k == "sub")
            .collect(),
        created_at: now,
        expires_at: now + 60,
        ..Session::default()
    }))
}

/// The session lacks what the profile's credential needs (the user's token).
struct Missing;

/// The credential header value for a live session, minting (and caching) JWTs.
fn credential_value<S>(
    app: &App<S>,
    profile: &Profile,
    cache_key: &str,
    s: &Session,
    now: u64,
) -> Result<Option<HeaderValue>, Missing> {
    let Some(c) = &profile.credential else {
        return Ok(None);
    };
    let Kind::Jwt { jwt, scheme } = &c.kind else {
        return c
            .simple_value(&s.claims, s.access_token.as_deref(), s.id_token.as_deref())
            .map(Some)
            .ok_or(Missing)
            .or_else(|m| {
                if c.token_needed().is_some() {
                    Err(m)
                } else {
                    Ok(None)
                }
            });
    };
    let key = (cache_key.to_owned(), profile.name.clone());
    if let Some((value, renew_at)) = app.jwt_cache.get(&key) {
        if now < renew_at {
            return Ok(Some(value));
        }
    }
    let token = match jwt.signer.mint(&jwt.claims(&s.sub, &s.claims, now)) {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(app = %profile.name, cause = %e, "minting the upstream JWT failed");
            return Ok(None);
        }
    };
    let value = crate::profile::credential::with_scheme(scheme, &token);
    if let Some(v) = &value {
        // Reuse a token for half its lifetime, so the app never sees one about to expire.
        app.jwt_cache
            .insert(key, (v.clone(), now + jwt.lifetime / 2));
    }
    Ok(value)
}

/// `/shim/<app>/<path>`: the profile's fixed response for that path.
pub async fn shim<S: SessionStore>(
    app_name: String,
    tail: warp::path::Tail,
    app: Arc<App<S>>,
) -> Response {
    let path = format!("/{}", tail.as_str());
    let shim = app
        .config
        .profiles
        .get(Some(&app_name))
        .and_then(|p| p.shims.iter().find(|s| s.path == path));
    match shim {
        Some(s) => {
            let mut r = Response::new(s.body.clone().into());
            *r.status_mut() = s.status;
            if let Ok(ct) = HeaderValue::from_str(&s.content_type) {
                r.headers_mut().insert(CONTENT_TYPE, ct);
            }
            r.headers_mut()
                .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        None => pages::page(StatusCode::NOT_FOUND, "Not found", "There is nothing here."),
    }
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
