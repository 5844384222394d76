//! Minted upstream JWTs, cached per (identity, app) for half their lifetime, so the app never
//! sees one about to expire and a check rarely signs anything.

use std::time::Duration;

use http::HeaderValue;

use super::credential::{with_scheme, JwtCredential};
use crate::claims::Claims;

/// The cache of minted JWT header values.
pub struct MintCache {
    /// (identity cache key, app) → (header value, when to mint anew).
    entries: moka::sync::Cache<(String, String, usize), (HeaderValue, u64)>,
}

impl Default for MintCache {
    fn default() -> Self {
        Self {
            entries: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(Duration::from_secs(3600))
                .build(),
        }
    }
}

/// Who a JWT is minted for.
pub struct Subject<'a> {
    /// What the token is cached under (one per session, bearer token or key).
    pub cache_key: String,
    /// `sub`.
    pub sub: &'a str,
    /// The claims the token's extra claims read.
    pub claims: &'a Claims,
}

impl MintCache {
    /// The header value for `subject` at `app`, minted now or reused; `None` (logged) when
    /// signing fails.
    pub fn value(
        &self,
        app: &str,
        jwt: &JwtCredential,
        scheme: &str,
        subject: Subject<'_>,
        now: u64,
    ) -> Option<HeaderValue> {
        // Per credential, not only per app: an app's paths and groups may each mint with
        // their own key and claims (the credential lives as long as the configuration).
        let key = (
            subject.cache_key,
            app.to_owned(),
            std::ptr::from_ref(jwt) as usize,
        );
        if let Some((value, renew_at)) = self.entries.get(&key) {
            if now < renew_at {
                return Some(value);
            }
        }
        let token = match jwt
            .signer
            .mint(&jwt.claims(subject.sub, subject.claims, now))
        {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(app, cause = %e, "minting the upstream JWT failed");
                return None;
            }
        };
        let value = with_scheme(scheme, &token)?;
        self.entries
            .insert(key, (value.clone(), now + jwt.lifetime / 2));
        Some(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::Signer;

    fn jwt(audience: &str) -> JwtCredential {
        JwtCredential {
            signer: Signer::hmac(b"0123456789abcdef0123456789abcdef", "k".into()),
            issuer: "https://auth.example.test".into(),
            audience: audience.into(),
            lifetime: 300,
            claims: Vec::new(),
        }
    }

    #[test]
    fn reused_per_subject_app_and_credential() {
        let cache = MintCache::default();
        let claims = Claims::new();
        let subject = || Subject {
            cache_key: "ticket-1".into(),
            sub: "alice",
            claims: &claims,
        };
        let (admin, user) = (jwt("admin-api"), jwt("user-api"));
        let first = cache.value("tools", &admin, "Bearer", subject(), 1000);
        let again = cache.value("tools", &admin, "Bearer", subject(), 1001);
        assert_eq!(first, again, "not reused within half its lifetime");
        // Another credential of the same app (another path or group): its own token.
        let other = cache.value("tools", &user, "Bearer", subject(), 1001);
        assert_ne!(
            first, other,
            "a token minted for another credential was reused"
        );
        let renewed = cache.value("tools", &admin, "Bearer", subject(), 1000 + 150);
        assert_ne!(first, renewed, "not renewed after half its lifetime");
    }
}
