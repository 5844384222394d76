//! OpenID Connect Back-Channel Logout 1.0: verifying a `logout_token`.
//!
//! Signature, `iss`, `aud` and `exp` are checked by [`crate::idp_jwt`] (the algorithm comes
//! from the IdP's key, never the token); here: the `typ`, `iat` freshness against our clock
//! (an argument, so unit tests fix it), the `events` claim, no `nonce`, `jti`, and `sid`
//! and/or `sub`. Replay of a `jti` is refused by the caller, which records seen `jti`s in the
//! session store.

use jsonwebtoken::jwk::JwkSet;
use serde_json::{Map, Value};

use crate::idp_jwt::{self, JwtRefusal};

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

/// Why a logout token was refused (named apart from [`JwtRefusal`], which it wraps).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogoutRefusal {
    /// The JWT itself failed (signature, key, issuer, audience, expiry, size).
    Token(JwtRefusal),
    /// `typ` is neither `logout+jwt` nor `JWT`.
    WrongTyp,
    /// No `iat`.
    NoIat,
    /// `iat` is further than five minutes from now.
    NotFresh,
    /// No back-channel logout event.
    NoEvent,
    /// A `nonce` (forbidden in logout tokens).
    Nonce,
    /// Neither `sid` nor `sub`.
    NoSubject,
    /// No `jti`.
    NoJti,
    /// The `jti` was seen before.
    Replayed,
}

impl LogoutRefusal {
    /// Text for logs and the 400 answer (never contains the token).
    pub fn as_str(self) -> &'static str {
        match self {
            LogoutRefusal::Token(r) => r.as_logout(),
            LogoutRefusal::WrongTyp => "the logout token has the wrong typ",
            LogoutRefusal::NoIat => "the logout token has no iat",
            LogoutRefusal::NotFresh => "the logout token is not fresh (iat)",
            LogoutRefusal::NoEvent => "the logout token has no back-channel logout event",
            LogoutRefusal::Nonce => "a logout token must not contain a nonce",
            LogoutRefusal::NoSubject => "the logout token names neither sid nor sub",
            LogoutRefusal::NoJti => "the logout token has no jti",
            LogoutRefusal::Replayed => "the logout token was already used",
        }
    }
}

impl std::fmt::Display for LogoutRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Verifies `token` from the IdP `issuer` for our `client_id`.
///
/// # Errors
/// The [`LogoutRefusal`] saying why the token is not acceptable.
pub fn verify(
    token: &str,
    jwks: &JwkSet,
    issuer: &str,
    client_id: &str,
    now: u64,
) -> Result<LogoutRequest, LogoutRefusal> {
    if token.len() > idp_jwt::MAX_LEN {
        return Err(LogoutRefusal::Token(JwtRefusal::TooLarge));
    }
    let header = jsonwebtoken::decode_header(token)
        .map_err(|_| LogoutRefusal::Token(JwtRefusal::Malformed))?;
    if header
        .typ
        .as_deref()
        .is_some_and(|t| !t.eq_ignore_ascii_case("logout+jwt") && !t.eq_ignore_ascii_case("JWT"))
    {
        return Err(LogoutRefusal::WrongTyp);
    }
    let claims = idp_jwt::decode(
        token,
        jwks,
        issuer,
        client_id,
        &["iss", "aud", "iat", "exp"],
    )
    .map_err(LogoutRefusal::Token)?;
    check_claims(&claims, now)
}

fn check_claims(claims: &Map<String, Value>, now: u64) -> Result<LogoutRequest, LogoutRefusal> {
    let iat = claims
        .get("iat")
        .and_then(Value::as_u64)
        .ok_or(LogoutRefusal::NoIat)?;
    if iat.abs_diff(now) > MAX_AGE {
        return Err(LogoutRefusal::NotFresh);
    }
    let event = claims.get("events").and_then(|e| e.get(EVENT));
    if !event.is_some_and(Value::is_object) {
        return Err(LogoutRefusal::NoEvent);
    }
    if claims.contains_key("nonce") {
        return Err(LogoutRefusal::Nonce);
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
        return Err(LogoutRefusal::NoSubject);
    }
    let jti = text("jti").ok_or(LogoutRefusal::NoJti)?;
    Ok(LogoutRequest { sid, sub, jti })
}

#[cfg(test)]
mod tests;
