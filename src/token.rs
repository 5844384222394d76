//! JWTs with `jsonwebtoken`: minting the upstream JWT a profile asks for, and publishing
//! the public keys (`/.well-known/jwks.json`).
//!
//! The algorithm is fixed per signer at startup, never taken from a token. Symmetric
//! (HS256) keys are never published. jsonwebtoken reads the system clock only when
//! *validating*; minting takes `now` as an argument, so it is tested with fixed times.

use jsonwebtoken::jwk::{Jwk, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Map, Value};

/// A signing key with its algorithm and key id.
#[derive(Clone)]
pub struct Signer {
    alg: Algorithm,
    key: EncodingKey,
    kid: String,
    public: Option<Jwk>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .field("key", &"***SECRET***")
            .finish()
    }
}

/// Parses `HS256`, `RS256`, `ES256` or `EdDSA`.
pub fn algorithm(name: &str) -> Option<Algorithm> {
    match name {
        "HS256" => Some(Algorithm::HS256),
        "RS256" => Some(Algorithm::RS256),
        "ES256" => Some(Algorithm::ES256),
        "EdDSA" => Some(Algorithm::EdDSA),
        _ => None,
    }
}

impl Signer {
    /// An HS256 signer with a shared secret (never published).
    pub fn hmac(secret: &[u8], kid: String) -> Self {
        Self {
            alg: Algorithm::HS256,
            key: EncodingKey::from_secret(secret),
            kid,
            public: None,
        }
    }

    /// An asymmetric signer from a PEM private key.
    ///
    /// # Errors
    /// A message saying why the key cannot be used with `alg`.
    pub fn from_pem(alg: Algorithm, pem: &[u8], kid: String) -> Result<Self, String> {
        let key = match alg {
            Algorithm::RS256 => EncodingKey::from_rsa_pem(pem),
            Algorithm::ES256 => EncodingKey::from_ec_pem(pem),
            Algorithm::EdDSA => EncodingKey::from_ed_pem(pem),
            _ => return Err(format!("{alg:?} does not use a key file")),
        }
        .map_err(|e| format!("not a {alg:?} private key in PEM form: {e}"))?;
        let mut public = Jwk::from_encoding_key(&key, alg)
            .map_err(|e| format!("cannot derive the public key: {e}"))?;
        public.common.key_id = Some(kid.clone());
        public.common.public_key_use = Some(PublicKeyUse::Signature);
        public.common.key_algorithm = KeyAlgorithm::from_algorithm(alg);
        let signer = Self {
            alg,
            key,
            kid,
            public: Some(public),
        };
        // Sign once now so that a key that cannot sign fails at startup, not per request.
        signer
            .mint(&Map::new())
            .map_err(|e| format!("the key cannot sign: {e}"))?;
        Ok(signer)
    }

    /// The public key to publish, for asymmetric signers.
    pub fn public_jwk(&self) -> Option<&Jwk> {
        self.public.as_ref()
    }

    /// Signs `claims` (already complete: iss, sub, aud, iat, exp, …).
    ///
    /// # Errors
    /// jsonwebtoken's error when signing fails.
    pub fn mint(&self, claims: &Map<String, Value>) -> Result<String, jsonwebtoken::errors::Error> {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.key)
    }
}

trait FromAlgorithm {
    fn from_algorithm(alg: Algorithm) -> Option<KeyAlgorithm>;
}

impl FromAlgorithm for KeyAlgorithm {
    fn from_algorithm(alg: Algorithm) -> Option<KeyAlgorithm> {
        match alg {
            Algorithm::RS256 => Some(KeyAlgorithm::RS256),
            Algorithm::ES256 => Some(KeyAlgorithm::ES256),
            Algorithm::EdDSA => Some(KeyAlgorithm::EdDSA),
            _ => None,
        }
    }
}

/// The JWKS document of every asymmetric signer.
pub fn jwks<'a>(signers: impl IntoIterator<Item = &'a Signer>) -> String {
    let set = JwkSet {
        keys: signers
            .into_iter()
            .filter_map(|s| s.public_jwk().cloned())
            .collect(),
    };
    serde_json::to_string(&set).unwrap_or_else(|_| "{\"keys\":[]}".into())
}

#[cfg(test)]
mod tests;
