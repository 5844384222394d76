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

pub mod memory;
pub mod redis;
pub mod ticket;

pub use memory::MemoryStore;
pub use redis::RedisStore;
pub use ticket::{Keys, Ticket};

/// A signed-in user's session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// Whether the store answers.
    fn ping(&self) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Sessions sealed with their tickets, on top of a store.
#[derive(Clone)]
pub struct Sessions<S> {
    store: S,
    keys: Keys,
    idle: Option<Duration>,
}

impl<S: SessionStore> Sessions<S> {
    /// Sessions kept in `store`, sealed with `keys`; `idle` is the idle timeout.
    pub fn new(store: S, keys: Keys, idle: Option<Duration>) -> Self {
        Self { store, keys, idle }
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

    /// The session behind `ticket`, if it exists and opens with the ticket's secret.
    /// A ticket whose secret does not open the stored value is treated as absent.
    ///
    /// # Errors
    /// A [`StoreError`] when the store fails.
    pub async fn load(&self, ticket: &Ticket) -> Result<Option<Session>, StoreError> {
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

    /// Ends the session behind `ticket` (only if the ticket opens it).
    ///
    /// # Errors
    /// A [`StoreError`] when the store fails.
    pub async fn delete(&self, ticket: &Ticket) -> Result<bool, StoreError> {
        let Some(session) = self.load(ticket).await? else {
            return Ok(false);
        };
        let existed = self.store.delete(ticket.id()).await?;
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
