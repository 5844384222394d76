//! Sessions: what is kept about a signed-in user, the [`SessionStore`] trait the stores
//! implement, and [`Sessions`], which seals sessions with their ticket before they reach
//! a store (so a store dump reveals no claims or tokens).
//!
//! The store sees only opaque bytes under an opaque id; tickets, encryption and expiry
//! rules live here, above it (oauth2-proxy's `pkg/sessions` shape).

use std::future::Future;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::claims::Claims;

pub mod cache;
pub mod memory;
pub mod redis;
pub mod ticket;

pub use cache::SessionCache;
pub use memory::MemoryStore;
pub use redis::RedisStore;
pub use ticket::{Keys, Ticket};

/// A signed-in user's session.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// The IdP's subject identifier.
    pub sub: String,
    /// Only the claims needed for headers and rules.
    pub claims: Claims,
    /// The IdP session id (`sid`), for back-channel logout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// The user's access token, kept only when a profile passes it upstream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
    /// The user's ID token, kept only when a profile passes it upstream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    /// The refresh token, kept only when sessions are refreshed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// Unix seconds when the access token was issued and when it expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_valid: Option<(u64, u64)>,
    /// Unix seconds when claims were last read from the IdP.
    #[serde(default)]
    pub claims_read_at: u64,
    /// Unix seconds when the session was created.
    pub created_at: u64,
    /// Unix seconds when the session ends regardless of activity.
    pub expires_at: u64,
}

impl Session {
    /// Whether the absolute lifetime has not yet run out at `now`.
    pub fn is_live(&self, now: u64) -> bool {
        now < self.expires_at
    }

    /// Whether to use the refresh token now: when the access token an app needs is about
    /// to expire (within `before`, capped at half its lifetime so short-lived tokens are not
    /// refreshed on every request), or when claims are older than `reread` (if set).
    pub fn refresh_due(
        &self,
        now: u64,
        needs_token: bool,
        before: u64,
        reread: Option<u64>,
    ) -> bool {
        if self.refresh_token.is_none() {
            return false;
        }
        let token_due = needs_token
            && self.access_valid.is_some_and(|(issued, expires)| {
                let margin = before.min(expires.saturating_sub(issued) / 2);
                now.saturating_add(margin) >= expires
            });
        let claims_due =
            reread.is_some_and(|every| now >= self.claims_read_at.saturating_add(every));
        token_due || claims_due
    }
}

/// A storage failure (unreachable, timed out, protocol error).
#[derive(Debug, thiserror::Error)]
#[error("session store: {0}")]
pub struct StoreError(pub String);

/// A key-value store for sealed sessions plus the logout indexes.
///
/// Implementations must pass `tests/it/store.rs`. Expiry is the store's job; `get` with an
/// idle timeout slides the entry's remaining life to that timeout.
pub trait SessionStore: Clone + Send + Sync + 'static {
    /// The value under `id`, sliding its expiry to `idle` when given.
    fn get(
        &self,
        id: &str,
        idle: Option<Duration>,
    ) -> impl Future<Output = Result<Option<Vec<u8>>, StoreError>> + Send;
    /// Stores `value` under `id` for `ttl`.
    fn put(
        &self,
        id: &str,
        value: Vec<u8>,
        ttl: Duration,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Removes `id`; whether it existed.
    fn delete(&self, id: &str) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Adds `id` to the set `index`, which lives at least `ttl`.
    fn index_add(
        &self,
        index: &str,
        id: &str,
        ttl: Duration,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Removes `id` from the set `index`.
    fn index_remove(
        &self,
        index: &str,
        id: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// The members of the set `index`.
    fn index_members(
        &self,
        index: &str,
    ) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;
    /// Records `key` for `ttl` if it is not recorded yet; whether this call recorded it
    /// (atomic across instances: the replay guard for logout tokens).
    fn claim_once(
        &self,
        key: &str,
        ttl: Duration,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Takes the lock `key` for `owner` for `ttl` unless someone holds it.
    fn lock(
        &self,
        key: &str,
        owner: &str,
        ttl: Duration,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Extends `owner`'s lock `key` to `ttl` from now; `false` if `owner` no longer holds it.
    fn renew(
        &self,
        key: &str,
        owner: &str,
        ttl: Duration,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Releases `owner`'s lock `key` (no effect on someone else's).
    fn unlock(&self, key: &str, owner: &str)
        -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Whether the store answers.
    fn ping(&self) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Tells every instance sharing the store that session `id` changed or ended, so their
    /// session caches forget it. Nothing to do for a store only one process uses.
    fn announce(&self, id: &str) -> impl Future<Output = Result<(), StoreError>> + Send {
        let _ = id;
        async { Ok(()) }
    }
}

/// Sessions sealed with their tickets, on top of a store.
#[derive(Clone)]
pub struct Sessions<S> {
    store: S,
    keys: Keys,
    idle: Option<Duration>,
    cache: Option<std::sync::Arc<SessionCache>>,
}

impl<S: SessionStore> Sessions<S> {
    /// Sessions kept in `store`, sealed with `keys`; `idle` is the idle timeout.
    pub fn new(store: S, keys: Keys, idle: Option<Duration>) -> Self {
        Self {
            store,
            keys,
            idle,
            cache: None,
        }
    }

    /// The same, with a session cache in front of the store for [`load`](Self::load).
    /// Whoever builds this must feed the cache the store's invalidations.
    #[must_use]
    pub fn with_cache(mut self, cache: std::sync::Arc<SessionCache>) -> Self {
        self.cache = Some(cache);
        self
    }

    /// The underlying store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Stores a new session for `lifetime`, indexed by subject and IdP session id.
    ///
    /// # Errors
    /// A [`StoreError`] when the store fails.
    pub async fn create(
        &self,
        session: &Session,
        lifetime: Duration,
    ) -> Result<Ticket, StoreError> {
        let ticket = Ticket::generate().map_err(|e| StoreError(format!("randomness: {e}")))?;
        let plain = serde_json::to_vec(session).map_err(|e| StoreError(e.to_string()))?;
        let sealed = self
            .keys
            .seal(&ticket, &plain)
            .map_err(|e| StoreError(e.to_string()))?;
        let ttl = self.idle.map_or(lifetime, |idle| idle.min(lifetime));
        self.store.put(ticket.id(), sealed, ttl).await?;
        self.store
            .index_add(
                &self.keys.index_key("sub", &session.sub),
                ticket.id(),
                lifetime,
            )
            .await?;
        if let Some(sid) = &session.sid {
            self.store
                .index_add(&self.keys.index_key("sid", sid), ticket.id(), lifetime)
                .await?;
        }
        Ok(ticket)
    }

    /// The session behind `ticket`, if it exists and opens with the ticket's secret,
    /// from the session cache when it has it. A ticket whose secret does not open the
    /// stored value is treated as absent.
    ///
    /// # Errors
    /// A [`StoreError`] when the store fails.
    pub async fn load(&self, ticket: &Ticket) -> Result<Option<Session>, StoreError> {
        let Some(cache) = &self.cache else {
            return self.load_fresh(ticket).await;
        };
        if let Some(session) = cache.get(ticket) {
            return Ok(Some(session));
        }
        let epoch = cache.epoch();
        let loaded = self.load_fresh(ticket).await?;
        if let Some(session) = &loaded {
            cache.insert(ticket, session, epoch);
        }
        Ok(loaded)
    }

    /// The session behind `ticket` as the store has it now, bypassing the cache (for
    /// decisions that must see another instance's last write, such as a token refresh).
    ///
    /// # Errors
    /// A [`StoreError`] when the store fails.
    pub async fn load_fresh(&self, ticket: &Ticket) -> Result<Option<Session>, StoreError> {
        let Some(sealed) = self.store.get(ticket.id(), self.idle).await? else {
            return Ok(None);
        };
        let Some(plain) = self.keys.open(ticket, &sealed) else {
            tracing::warn!(ticket_id = %ticket.id(), "a session ticket's secret does not match its stored session (forged or tampered cookie)");
            return Ok(None);
        };
        match serde_json::from_slice(&plain) {
            Ok(s) => Ok(Some(s)),
            Err(e) => {
                tracing::warn!(cause = %e, "a stored session could not be decoded; treating it as absent");
                Ok(None)
            }
        }
    }

    /// Stores `session` again under its existing `ticket` (after a refresh); the cookie
    /// does not change.
    ///
    /// # Errors
    /// A [`StoreError`] when the store fails.
    pub async fn update(
        &self,
        ticket: &Ticket,
        session: &Session,
        remaining: Duration,
    ) -> Result<(), StoreError> {
        let plain = serde_json::to_vec(session).map_err(|e| StoreError(e.to_string()))?;
        let sealed = self
            .keys
            .seal(ticket, &plain)
            .map_err(|e| StoreError(e.to_string()))?;
        let ttl = self.idle.map_or(remaining, |idle| idle.min(remaining));
        self.store.put(ticket.id(), sealed, ttl).await?;
        self.forget(ticket.id()).await
    }

    /// Drops session `id` from this instance's cache and tells the other instances to.
    async fn forget(&self, id: &str) -> Result<(), StoreError> {
        if let Some(cache) = &self.cache {
            cache.invalidate(id);
        }
        self.store.announce(id).await
    }

    /// Ends the session behind `ticket` (only if the ticket opens it).
    ///
    /// # Errors
    /// A [`StoreError`] when the store fails.
    pub async fn delete(&self, ticket: &Ticket) -> Result<bool, StoreError> {
        let Some(session) = self.load_fresh(ticket).await? else {
            return Ok(false);
        };
        let existed = self.store.delete(ticket.id()).await?;
        self.forget(ticket.id()).await?;
        self.store
            .index_remove(&self.keys.index_key("sub", &session.sub), ticket.id())
            .await?;
        if let Some(sid) = &session.sid {
            self.store
                .index_remove(&self.keys.index_key("sid", sid), ticket.id())
                .await?;
        }
        Ok(existed)
    }

    /// Ends every session in the index `kind` (`sub` or `sid`) for `value`, without needing
    /// their tickets (logout by the IdP or an operator). Returns how many existed.
    ///
    /// # Errors
    /// A [`StoreError`] when the store fails.
    pub async fn revoke(&self, kind: &str, value: &str) -> Result<usize, StoreError> {
        let index = self.keys.index_key(kind, value);
        let mut ended = 0;
        for id in self.store.index_members(&index).await? {
            if self.store.delete(&id).await? {
                ended += 1;
            }
            self.forget(&id).await?;
            self.store.index_remove(&index, &id).await?;
        }
        Ok(ended)
    }

    /// Records a logout token's `jti`; `false` when it was seen before (a replay).
    ///
    /// # Errors
    /// A [`StoreError`] when the store fails.
    pub async fn first_use_of_jti(&self, jti: &str) -> Result<bool, StoreError> {
        let key = self.keys.index_key("jti", jti);
        self.store.claim_once(&key, Duration::from_secs(3600)).await
    }

    /// The ticket ids of every session of subject `sub`.
    ///
    /// # Errors
    /// A [`StoreError`] when the store fails.
    pub async fn ids_of_subject(&self, sub: &str) -> Result<Vec<String>, StoreError> {
        self.store
            .index_members(&self.keys.index_key("sub", sub))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_due_table() {
        let s = |refresh: bool, access: Option<(u64, u64)>, read: u64| Session {
            refresh_token: refresh.then(|| "rt".to_owned()),
            access_valid: access,
            claims_read_at: read,
            ..Session::default()
        };
        // (session, now, needs_token, before, reread) -> due
        let cases = [
            (s(true, Some((0, 3600)), 0), 3000, true, 60, None, false),
            (s(true, Some((0, 3600)), 0), 3540, true, 60, None, true),
            (s(true, Some((0, 3600)), 0), 3600, true, 60, None, true),
            (s(true, Some((0, 3600)), 0), 3590, false, 60, None, false),
            (s(false, Some((0, 3600)), 0), 3590, true, 60, None, false),
            (s(true, None, 0), 3590, true, 60, None, false),
            // a 4 s token: the margin is capped at half its lifetime
            (s(true, Some((100, 104)), 0), 101, true, 60, None, false),
            (s(true, Some((100, 104)), 0), 102, true, 60, None, true),
            // periodic claims re-read
            (s(true, None, 1000), 1299, false, 60, Some(300), false),
            (s(true, None, 1000), 1300, false, 60, Some(300), true),
            (s(false, None, 1000), 1300, false, 60, Some(300), false),
        ];
        for (session, now, needs, before, reread, want) in cases {
            assert_eq!(
                session.refresh_due(now, needs, before, reread),
                want,
                "{session:?} at {now}"
            );
        }
    }

    #[test]
    fn is_live_until_expiry() {
        let s = Session {
            expires_at: 10,
            ..Session::default()
        };
        assert!(s.is_live(9));
        assert!(!s.is_live(10));
    }
}
