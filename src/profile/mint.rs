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
