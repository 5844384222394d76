//! [`Sessions`]: sessions sealed with their tickets before they reach a store (so a store
//! dump reveals no claims or tokens), indexed by subject and IdP session for logout, with
//! the optional in-process cache in front.

use std::sync::Arc;
use std::time::Duration;

use super::cache::SessionCache;
use super::model::Session;
use super::ticket::{Keys, Ticket};
use crate::metrics::{StoreCalls, StoreOp};
use crate::store::{SessionStore, StoreError};

/// Sessions sealed with their tickets, on top of a store.
#[derive(Clone)]
pub struct Sessions<S> {
    store: S,
    keys: Keys,
    idle: Option<Duration>,
    cache: Option<Arc<SessionCache>>,
    calls: Option<StoreCalls>,
}

impl<S: SessionStore> Sessions<S> {
    /// Sessions kept in `store`, sealed with `keys`; `idle` is the idle timeout.
    pub fn new(store: S, keys: Keys, idle: Option<Duration>) -> Self {
        Self {
            store,
            keys,
            idle,
            cache: None,
            calls: None,
        }
    }

    /// The same, with a session cache in front of the store for [`load`](Self::load).
    /// Whoever builds this must feed the cache the store's invalidations.
    #[must_use]
    pub fn with_cache(mut self, cache: Arc<SessionCache>) -> Self {
        self.cache = Some(cache);
        self
    }

    /// Counts every store operation with these handles.
    #[must_use]
    pub fn with_calls(mut self, calls: StoreCalls) -> Self {
        self.calls = Some(calls);
        self
    }

    /// `op`, counted and timed when counting is on.
    async fn counted<T>(
        &self,
        op: StoreOp,
        f: impl std::future::Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let started = std::time::Instant::now();
        let r = f.await;
        if let Some(c) = &self.calls {
            c.record(op, r.is_ok(), started.elapsed().as_secs_f64());
        }
        r
    }

    /// The session cache, when one is in front of the store.
    pub fn cache(&self) -> Option<&SessionCache> {
        self.cache.as_deref()
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
        self.counted(StoreOp::Create, async {
            let ticket = Ticket::generate()?;
            let plain = serde_json::to_vec(session)?;
            let sealed = self
                .keys
                .seal(&ticket, &plain)
                .map_err(|_| StoreError::Seal)?;
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
        })
        .await
    }

    /// The session behind `ticket`, if it exists and opens with the ticket's secret,
    /// from the session cache when it has it. A ticket whose secret does not open the
    /// stored value is treated as absent.
    ///
    /// # Errors
    /// A [`StoreError`] when the store fails.
    pub async fn load(&self, ticket: &Ticket) -> Result<Option<Arc<Session>>, StoreError> {
        let Some(cache) = &self.cache else {
            return Ok(self.load_fresh(ticket).await?.map(Arc::new));
        };
        if let Some(session) = cache.get(ticket) {
            return Ok(Some(session));
        }
        let epoch = cache.epoch();
        let loaded = self.load_fresh(ticket).await?.map(Arc::new);
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
        let read = self.store.get(ticket.id(), self.idle);
        let Some(sealed) = self.counted(StoreOp::Read, read).await? else {
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
        self.counted(StoreOp::Update, async {
            let plain = serde_json::to_vec(session)?;
            let sealed = self
                .keys
                .seal(ticket, &plain)
                .map_err(|_| StoreError::Seal)?;
            let ttl = self.idle.map_or(remaining, |idle| idle.min(remaining));
            self.store.put(ticket.id(), sealed, ttl).await?;
            self.forget(ticket.id()).await
        })
        .await
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
        self.counted(StoreOp::Delete, async {
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
        })
        .await
    }

    /// Ends every session in the index `kind` (`sub` or `sid`) for `value`, without needing
    /// their tickets (logout by the IdP or an operator). Returns how many existed.
    ///
    /// # Errors
    /// A [`StoreError`] when the store fails.
    pub async fn revoke(&self, kind: &str, value: &str) -> Result<usize, StoreError> {
        self.counted(StoreOp::Revoke, async {
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
        })
        .await
    }

    /// Whether this is the first use of a login `state` at `/callback` (single use on every
    /// instance, not only in the browser).
    ///
    /// # Errors
    /// A [`StoreError`] when the store fails.
    pub async fn first_use_of_login_state(&self, state: &str) -> Result<bool, StoreError> {
        self.counted(StoreOp::Claim, async {
            let key = self.keys.index_key("state", state);
            // A login state lives 10 minutes (the login-state cookie's lifetime).
            self.store.claim_once(&key, Duration::from_secs(600)).await
        })
        .await
    }

    /// Whether this is the first use of a logout token's `jti` (recorded for an hour).
    ///
    /// # Errors
    /// A [`StoreError`] when the store fails.
    pub async fn first_use_of_jti(&self, jti: &str) -> Result<bool, StoreError> {
        self.counted(StoreOp::Claim, async {
            let key = self.keys.index_key("jti", jti);
            self.store.claim_once(&key, Duration::from_secs(3600)).await
        })
        .await
    }

    /// The ticket ids of every session of subject `sub`.
    ///
    /// # Errors
    /// A [`StoreError`] when the store fails.
    pub async fn ids_of_subject(&self, sub: &str) -> Result<Vec<String>, StoreError> {
        self.counted(StoreOp::Index, async {
            self.store
                .index_members(&self.keys.index_key("sub", sub))
                .await
        })
        .await
    }
}
