//! OpenID Connect Back-Channel Logout 1.0: verifying a `logout_token` with jsonwebtoken.
//!
//! The key comes from the IdP's JWKS by `kid`, and the algorithm from that key: the token's
//! header only has to agree with it (no `alg: none`, no HS256-with-the-public-key). Checked:
//! signature, `iss`, `aud`, `exp` (jsonwebtoken reads the system clock for this, with 60 s
//! leeway), `iat` freshness against our clock (an argument, so unit tests fix it), the
//! `events` claim, no `nonce`, `jti`, and `sid` and/or `sub`. Replay of a `jti` is refused by
//! the caller, which records seen `jti`s in the session store.

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
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

fn key_algorithm(jwk: &Jwk) -> Option<Algorithm> {
    if let Some(alg) = jwk.common.key_algorithm {
        return alg.to_string().parse().ok();
    }
    match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Some(Algorithm::RS256),
        AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => {
            Some(Algorithm::ES256)
        }
        AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P384 => {
            Some(Algorithm::ES384)
        }
        AlgorithmParameters::OctetKeyPair(_) => Some(Algorithm::EdDSA),
        _ => None,
    }
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
    if token.len() > 16 * 1024 {
        return Err("the logout token is too large");
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
    let jwk = match &header.kid {
        Some(kid) => jwks.find(kid),
        None if jwks.keys.len() == 1 => jwks.keys.first(),
        None => None,
    }
    .ok_or("the logout token is signed with a key the IdP does not publish")?;
    let alg = key_algorithm(jwk).ok_or("the IdP's key has no usable algorithm")?;
    if header.alg != alg {
        return Err("the logout token's algorithm does not match the IdP's key");
    }
    let key = DecodingKey::from_jwk(jwk).map_err(|_| "the IdP's key cannot be used")?;
    let mut v = Validation::new(alg);
    v.set_issuer(&[issuer]);
    v.set_audience(&[client_id]);
    v.set_required_spec_claims(&["iss", "aud", "iat", "exp"]);
    v.leeway = 60;
    let claims: Map<String, Value> = jsonwebtoken::decode(token, &key, &v)
        .map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidSignature => {
                "the logout token's signature is invalid"
            }
            jsonwebtoken::errors::ErrorKind::ExpiredSignature => "the logout token has expired",
            jsonwebtoken::errors::ErrorKind::InvalidIssuer => {
                "the logout token is from another issuer"
            }
            jsonwebtoken::errors::ErrorKind::InvalidAudience => {
                "the logout token is for another client"
            }
            _ => "the logout token is not valid",
        })?
        .claims;
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
