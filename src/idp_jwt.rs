//! Verifying JWTs the IdP signed (logout tokens, service-account access tokens) with
//! jsonwebtoken against the IdP's published keys.
//!
//! The key is chosen by `kid` and the algorithm comes from that key; the token's header
//! only has to agree with it, so `alg: none` and HS256-signed-with-the-public-key fail.
//! jsonwebtoken checks `exp`/`nbf` against the system clock (60 s leeway); callers that
//! need more time checks take `now` from the `Clock`.

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

/// Longest token accepted.
pub const MAX_LEN: usize = 16 * 1024;

/// Why an IdP-signed JWT was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtRefusal {
    /// Longer than [`MAX_LEN`].
    TooLarge,
    /// Not a JWS in compact form, or an algorithm jsonwebtoken does not know (`none`).
    Malformed,
    /// No published key has this `kid`.
    UnknownKey,
    /// The header's `alg` is not the key's.
    AlgorithmMismatch,
    /// The signature does not verify.
    BadSignature,
    /// `exp` is past.
    Expired,
    /// `nbf` is in the future.
    NotYetValid,
    /// Another issuer.
    WrongIssuer,
    /// Another audience.
    WrongAudience,
    /// A required claim is missing or another check failed.
    Invalid,
}

impl JwtRefusal {
    /// Text for logs and error answers (never contains the token).
    pub fn as_str(self) -> &'static str {
        match self {
            JwtRefusal::TooLarge => "the token is too large",
            JwtRefusal::Malformed => "the token is not a signed JWT",
            JwtRefusal::UnknownKey => "the token is signed with a key the IdP does not publish",
            JwtRefusal::AlgorithmMismatch => "the token's algorithm does not match the IdP's key",
            JwtRefusal::BadSignature => "the token's signature is invalid",
            JwtRefusal::Expired => "the token has expired",
            JwtRefusal::NotYetValid => "the token is not valid yet",
            JwtRefusal::WrongIssuer => "the token is from another issuer",
            JwtRefusal::WrongAudience => "the token is for another audience",
            JwtRefusal::Invalid => "the token is not valid",
        }
    }

    /// The same text about a logout token.
    pub fn as_logout(self) -> &'static str {
        match self {
            JwtRefusal::TooLarge => "the logout token is too large",
            JwtRefusal::Malformed => "the logout token is not a signed JWT",
            JwtRefusal::UnknownKey => {
                "the logout token is signed with a key the IdP does not publish"
            }
            JwtRefusal::AlgorithmMismatch => {
                "the logout token's algorithm does not match the IdP's key"
            }
            JwtRefusal::BadSignature => "the logout token's signature is invalid",
            JwtRefusal::Expired => "the logout token has expired",
            JwtRefusal::NotYetValid => "the logout token is not valid yet",
            JwtRefusal::WrongIssuer => "the logout token is from another issuer",
            JwtRefusal::WrongAudience => "the logout token is for another client",
            JwtRefusal::Invalid => "the logout token is not valid",
        }
    }
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

/// Verifies signature, `iss`, `aud`, `exp`/`nbf` and that `required` claims are present.
///
/// # Errors
/// The [`JwtRefusal`] saying why.
pub fn decode(
    token: &str,
    jwks: &JwkSet,
    issuer: &str,
    audience: &str,
    required: &[&str],
) -> Result<Map<String, Value>, JwtRefusal> {
    if token.len() > MAX_LEN {
        return Err(JwtRefusal::TooLarge);
    }
    let header = jsonwebtoken::decode_header(token).map_err(|_| JwtRefusal::Malformed)?;
    let jwk = match &header.kid {
        Some(kid) => jwks.find(kid),
        None if jwks.keys.len() == 1 => jwks.keys.first(),
        None => None,
    }
    .ok_or(JwtRefusal::UnknownKey)?;
    let alg = key_algorithm(jwk).ok_or(JwtRefusal::UnknownKey)?;
    if header.alg != alg {
        return Err(JwtRefusal::AlgorithmMismatch);
    }
    let key = DecodingKey::from_jwk(jwk).map_err(|_| JwtRefusal::UnknownKey)?;
    let mut v = Validation::new(alg);
    v.set_issuer(&[issuer]);
    v.set_audience(&[audience]);
    v.set_required_spec_claims(required);
    v.validate_nbf = true;
    v.leeway = 60;
    jsonwebtoken::decode::<Map<String, Value>>(token, &key, &v)
        .map(|d| d.claims)
        .map_err(|e| match e.kind() {
            ErrorKind::InvalidSignature => JwtRefusal::BadSignature,
            ErrorKind::ExpiredSignature => JwtRefusal::Expired,
            ErrorKind::ImmatureSignature => JwtRefusal::NotYetValid,
            ErrorKind::InvalidIssuer => JwtRefusal::WrongIssuer,
            ErrorKind::InvalidAudience => JwtRefusal::WrongAudience,
            ErrorKind::InvalidToken
            | ErrorKind::Base64(_)
            | ErrorKind::Json(_)
            | ErrorKind::Utf8(_) => JwtRefusal::Malformed,
            _ => JwtRefusal::Invalid,
        })
}

#[cfg(test)]
mod tests;
