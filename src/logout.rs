//! OpenID Connect Back-Channel Logout 1.0: verifying a `logout_token`.
//!
//! Signature, `iss`, `aud` and `exp` are checked by [`crate::idp_jwt`] (the algorithm comes
//! from the IdP's key, never the token); here: the `typ`, `iat` freshness against our clock
//! (an argument, so unit tests fix it), the `events` claim, no `nonce`, `jti`, and `sid`
//! and/or `sub`. Replay of a `jti` is refused by the caller, which records seen `jti`s in the
//! session store.

use jsonwebtoken::jwk::JwkSet;
use serde_json::{Map, Value};

const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// How far `iat` may be from now.
const MAX_AGE: u64 = 300;

/// What a verified logout token asks to end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutRequest {
    /// The IdP session to end, if given.
    pub sid: Option<String>,
    /// The subject whose sessions to end, if given.
    pub sub: Option<String>,
    /// The token's unique id (for replay detection).
    pub jti: String,
}

/// Verifies `token` from the IdP `issuer` for our `client_id`.
///
/// # Errors
/// Why the token is not acceptable, for the log and the 400 answer.
pub fn verify(
    token: &str,
    jwks: &JwkSet,
    issuer: &str,
    client_id: &str,
    now: u64,
) -> Result<LogoutRequest, &'static str> {
    if token.len() > crate::idp_jwt::MAX_LEN {
        return Err(crate::idp_jwt::Refusal::TooLarge.as_logout());
    }
    let header =
        jsonwebtoken::decode_header(token).map_err(|_| "the logout token is not a signed JWT")?;
    if header
        .typ
        .as_deref()
        .is_some_and(|t| !t.eq_ignore_ascii_case("logout+jwt") && !t.eq_ignore_ascii_case("JWT"))
    {
        return Err("the logout token has the wrong typ");
    }
    let claims = crate::idp_jwt::decode(
        token,
        jwks,
        issuer,
        client_id,
        &["iss", "aud", "iat", "exp"],
    )
    .map_err(|e| e.as_logout())?;
    check_claims(&claims, now)
}

fn check_claims(claims: &Map<String, Value>, now: u64) -> Result<LogoutRequest, &'static str> {
    let iat = claims
        .get("iat")
        .and_then(Value::as_u64)
        .ok_or("the logout token has no iat")?;
    if iat.abs_diff(now) > MAX_AGE {
        return Err("the logout token is not fresh (iat)");
    }
    let event = claims.get("events").and_then(|e| e.get(EVENT));
    if !event.is_some_and(Value::is_object) {
        return Err("the logout token has no back-channel logout event");
    }
    if claims.contains_key("nonce") {
        return Err("a logout token must not contain a nonce");
    }
    let text = |k: &str| {
        claims
            .get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let (sid, sub) = (text("sid"), text("sub"));
    if sid.is_none() && sub.is_none() {
        return Err("the logout token names neither sid nor sub");
    }
    let jti = text("jti").ok_or("the logout token has no jti")?;
    Ok(LogoutRequest { sid, sub, jti })
}

#[cfg(test)]
mod tests;
