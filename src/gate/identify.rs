//! Who is asking: an API key, an IdP bearer token (profiles that accept them), or the session
//! cookie, in that order. Each becomes one [`Principal`]; a key or token that fails
//! verification is a [`CredentialRefusal`] for `decide`. Store calls happen here (session
//! load, refresh, API-key lookup), and IdP calls (refresh, key reload on an unknown key).

use super::decide::{CredentialRefusal, Presenter};
use super::principal::{Principal, Proof};
use crate::app::App;
use crate::claims;
use crate::cookies;
use crate::error::Error;
use crate::guesses;
use crate::idp_jwt::{self, JwtRefusal};
use crate::profile::Profile;
use std::sync::Arc;

use crate::session::{Session, Ticket};
use crate::store::{SessionStore, StoreError};

/// The request's own credentials, as the proxy copied them into the subrequest.
#[derive(Debug, Default, Clone)]
pub struct Presentation<'a> {
    /// `Authorization`.
    pub authorization: Option<&'a str>,
    /// The configured API-key header (`SIDEGATE_APIKEY_HEADER`), if set and sent.
    pub apikey_header: Option<&'a str>,
    /// Every `Cookie` header value that is text (sidegate's own cookies always are).
    pub cookies: Vec<&'a str>,
    /// Every `Cookie` header value as sent, for the app.
    pub raw_cookies: Vec<&'a [u8]>,
    /// The client's address as the trusted proxy saw it (what guessing is limited by).
    pub from: Option<std::net::IpAddr>,
}

/// What [`identify`] found.
#[derive(Debug)]
pub enum Identified {
    /// Nothing usable: no key, no bearer token, no live session.
    Nobody,
    /// A verified identity.
    Proven(Principal),
    /// A key or bearer token that failed verification.
    Refused(CredentialRefusal),
    /// Too many failed attempts from this address or for this key: not even looked at.
    Limited(std::time::Duration),
}

/// The credentials of an `Authorization: Bearer <credentials>` value (the scheme in any case).
pub fn bearer(authorization: &str) -> Option<&str> {
    let (scheme, token) = authorization.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// Identifies the request for `profile`.
///
/// # Errors
/// [`Error::Store`] when the store fails (never answered as "not signed in");
/// [`Error::RecheckFailed`] when the profile's re-check at the IdP is overdue and the IdP
/// could not be asked.
pub async fn identify<S: SessionStore>(
    app: &App<S>,
    profile: &Profile,
    presented: &Presentation<'_>,
) -> Result<Identified, Error> {
    let refused = |what, reason| Identified::Refused(CredentialRefusal { what, reason });
    let authorization = presented.authorization.and_then(bearer);
    let key = authorization
        .filter(|k| k.starts_with("sgk_"))
        .or(presented.apikey_header.map(str::trim));
    let limit = app.config.guess_limit;
    let store = app.sessions.store();
    if let Some(key) = key {
        let buckets = guesses::buckets(presented.from, crate::apikey::parse(key).map(|k| k.0));
        if let Some(wait) = guesses::blocked(store, limit, &buckets).await? {
            return Ok(Identified::Limited(wait));
        }
        // The key and token paths are boxed: they keep the session path's future small.
        return Ok(match Box::pin(api_key(app, profile, key)).await? {
            Ok(p) => Identified::Proven(p),
            Err(reason) => {
                guesses::failed(store, limit, &buckets).await?;
                refused(Presenter::ApiKey, reason)
            }
        });
    }
    // Under a profile that accepts the IdP's tokens, any other bearer value is refused as
    // such (`invalid_token`), whatever its shape.
    if let Some((audience, token)) = profile.bearer_audience.as_deref().zip(authorization) {
        let buckets = guesses::buckets(presented.from, None);
        if let Some(wait) = guesses::blocked(store, limit, &buckets).await? {
            return Ok(Identified::Limited(wait));
        }
        let verified = match token.matches('.').count() {
            2 => Box::pin(bearer_token(app, token, audience)).await,
            _ => Err("not an API key or a JWT"),
        };
        return Ok(match verified {
            Ok(p) => Identified::Proven(p),
            Err(reason) => {
                // The IdP's keys not being loaded is not the client's failure.
                if reason != KEYS_NOT_LOADED {
                    guesses::failed(store, limit, &buckets).await?;
                }
                refused(Presenter::Bearer, reason)
            }
        });
    }
    let Some((ticket, session)) = live_session(app, &presented.cookies).await? else {
        return Ok(Identified::Nobody);
    };
    let needs_token = profile
        .all_credentials()
        .any(|c| c.token_needed().is_some());
    let recheck = profile.recheck_every;
    let fresh = app
        .refresher
        .ensure_fresh(&app.sessions, &ticket, session, needs_token, recheck)
        .await?;
    let Some(s) = fresh else {
        return Ok(Identified::Nobody);
    };
    match recheck.filter(|every| app.clock.now() >= s.claims_read_at.saturating_add(*every)) {
        None => Ok(Identified::Proven(from_session(&ticket, s))),
        // Overdue although a refresh was possible: the IdP could not be asked (logged by
        // the refresher), so nobody is let in on what it said before.
        Some(every) if s.refresh_token.is_some() => Err(Error::RecheckFailed {
            app: profile.name.clone(),
            every,
        }),
        Some(every) => {
            tracing::info!(ticket_id = %ticket.id(), app = %profile.name, "the app re-checks users at the IdP every {every}s and this session has no refresh token to do it with; the user signs in again");
            Ok(Identified::Nobody)
        }
    }
}

fn from_session(ticket: &Ticket, s: Arc<Session>) -> Principal {
    Principal {
        proof: Proof::Session {
            ticket_id: ticket.id().to_owned(),
        },
        expires_at: s.expires_at,
        who: s,
    }
}

/// The live session behind the request's session cookie(s) (the first three), if any.
///
/// # Errors
/// A [`StoreError`] when the store fails.
pub async fn live_session<S: SessionStore>(
    app: &App<S>,
    cookie_headers: &[&str],
) -> Result<Option<(Ticket, Arc<Session>)>, StoreError> {
    let now = app.clock.now();
    let values = cookies::values(cookie_headers.iter().copied(), &app.config.cookie.name);
    for value in values.iter().take(3) {
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

/// A service account's JWT access token from the IdP, verified (signature with the IdP's
/// key, issuer, audience, expiry) and turned into a short-lived identity.
const KEYS_NOT_LOADED: &str = "the IdP's keys are not loaded yet";

async fn bearer_token<S: SessionStore>(
    app: &App<S>,
    token: &str,
    audience: &str,
) -> Result<Principal, &'static str> {
    let provider = app.idp.current().ok_or(KEYS_NOT_LOADED)?;
    let required = ["iss", "aud", "exp", "sub"];
    let issuer = &app.config.issuer_url;
    let claims = app
        .idp
        .with_current_keys(
            provider,
            |e| matches!(e, JwtRefusal::UnknownKey),
            |p| async move { idp_jwt::decode(token, p.jwks(), issuer, audience, &required) },
        )
        .await
        .map_err(JwtRefusal::as_str)?;
    let subject = claims
        .get("sub")
        .and_then(|v| v.as_str())
        .ok_or("the token has no subject")?
        .to_owned();
    let expires_at = claims
        .get("exp")
        .and_then(serde_json::Value::as_u64)
        .ok_or("the token has no expiry")?;
    Ok(Principal::new(
        subject,
        claims::keep_needed(claims, &app.needed_claims),
        Proof::Bearer,
        expires_at,
        Some(token.to_owned()),
    ))
}

/// An API key checked against its stored hash, expiry and profile; the identity it stands for.
async fn api_key<S: SessionStore>(
    app: &App<S>,
    profile: &Profile,
    key: &str,
) -> Result<Result<Principal, &'static str>, StoreError> {
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
    let subject = format!("apikey:{}", record.name);
    let all = serde_json::json!({"sub": subject, "preferred_username": record.name, "groups": record.groups});
    let mut claims = claims::keep_needed(
        all.as_object().cloned().unwrap_or_default(),
        &app.needed_claims,
    );
    claims.insert("sub".into(), subject.clone().into());
    Ok(Ok(Principal::new(
        subject,
        claims,
        Proof::ApiKey { name: record.name },
        now + 60,
        None,
    )))
}
