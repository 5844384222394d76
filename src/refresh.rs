//! Token refresh: at most one refresh per session at a time across every instance.
//!
//! In this process, a per-ticket async mutex makes concurrent requests wait for the one
//! doing the refresh; across instances, a lock in the store (renewed while the IdP call
//! runs) does the same. Whoever waited reloads the session from the store afterwards, so it
//! uses the winner's new tokens and never the rotated-out refresh token. `invalid_grant`
//! ends the session; a network failure keeps the old one until it expires.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::claims;
use crate::clock::Clock;
use crate::config::Config;
use crate::idp::Idp;
use crate::oidc::{IdpError, Provider, Refreshed};
use crate::session::{ticket, Session, Sessions, Ticket};
use crate::store::{SessionStore, StoreError};

const LOCK_TTL: Duration = Duration::from_secs(5);
const WAIT_LIMIT: Duration = Duration::from_secs(15);

/// What refreshing needs: the IdP, the clock, when a refresh is due, which claims a session
/// keeps, and one async mutex per session being refreshed in this process.
pub struct Refresher {
    idp: Arc<Idp>,
    clock: Arc<dyn Clock>,
    /// Refresh an access token an app needs this long before it expires (seconds).
    before: u64,
    /// Re-read claims this often (seconds), if at all.
    reread: Option<u64>,
    needed_claims: Vec<String>,
    gates: moka::sync::Cache<String, Arc<tokio::sync::Mutex<()>>>,
    /// Refreshes by result (refreshed, refused, failed, gave up) and lock waits, for the
    /// metrics.
    counts: [AtomicU64; 5],
}

impl Refresher {
    /// A refresher with the configured timings.
    pub fn new(
        config: &Config,
        idp: Arc<Idp>,
        clock: Arc<dyn Clock>,
        needed_claims: Vec<String>,
    ) -> Self {
        Self {
            idp,
            clock,
            before: config.token_refresh_before.as_secs(),
            reread: config.claims_refresh_interval.map(|d| d.as_secs()),
            needed_claims,
            gates: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_idle(Duration::from_secs(120))
                .build(),
            counts: Default::default(),
        }
    }

    /// Refreshes so far by result (refreshed, refused, failed, gave up), and lock waits.
    pub fn counts(&self) -> ([u64; 4], u64) {
        let n = |i: usize| self.counts.get(i).map_or(0, |c| c.load(Ordering::Relaxed));
        ([n(0), n(1), n(2), n(3)], n(4))
    }

    fn count(&self, i: usize) {
        if let Some(c) = self.counts.get(i) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The session behind `ticket`, refreshed first if it is due (its access token for an
    /// app that needs it, its claims every `SIDEGATE_CLAIMS_REFRESH_INTERVAL` or, sooner, the
    /// profile's `recheck` seconds); `None` when the IdP ended it.
    ///
    /// # Errors
    /// A [`StoreError`] when the store fails.
    pub async fn ensure_fresh<S: SessionStore>(
        &self,
        sessions: &Sessions<S>,
        ticket: &Ticket,
        session: Arc<Session>,
        needs_token: bool,
        recheck: Option<u64>,
    ) -> Result<Option<Arc<Session>>, StoreError> {
        let reread = match (self.reread, recheck) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let due = |s: &Session| s.refresh_due(self.clock.now(), needs_token, self.before, reread);
        if !due(&session) {
            return Ok(Some(session));
        }
        let Some(provider) = self.idp.current() else {
            return Ok(Some(session));
        };
        let gate = self
            .gates
            .get_with(ticket.id().to_owned(), Default::default);
        let _in_process = gate.lock().await;
        // Boxed: the refresh's state machine is large, and rarely needed; unboxed it would
        // make every check's future (moved on each await up the chain) that much larger.
        let fresh = Box::pin(self.locked(sessions, ticket, &provider, due)).await?;
        Ok(fresh.map(Arc::new))
    }

    /// Holding this process's gate: wait for (or take) the store's lock, then refresh.
    async fn locked<S: SessionStore>(
        &self,
        sessions: &Sessions<S>,
        ticket: &Ticket,
        provider: &Provider,
        due: impl Fn(&Session) -> bool,
    ) -> Result<Option<Session>, StoreError> {
        let Some(current) = sessions.load_fresh(ticket).await? else {
            return Ok(None);
        };
        if !due(&current) {
            return Ok(Some(current));
        }
        let store = sessions.store();
        let key = format!("refresh:{}", ticket.id());
        let owner = ticket::random_token()?;
        let waiting_since = Instant::now();
        while !store.lock(&key, &owner, LOCK_TTL).await? {
            self.count(4);
            if waiting_since.elapsed() > WAIT_LIMIT {
                self.count(3);
                tracing::warn!(ticket_id = %ticket.id(), "gave up waiting for another instance's token refresh; using the session as it is");
                return Ok(Some(current));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            match sessions.load_fresh(ticket).await? {
                None => return Ok(None),
                Some(s) if !due(&s) => return Ok(Some(s)),
                Some(_) => {}
            }
        }
        let outcome = self
            .refresh(sessions, ticket, provider, &key, &owner, due)
            .await;
        store.unlock(&key, &owner).await?;
        outcome
    }

    /// Holding the store's lock: use the refresh token, store the result.
    async fn refresh<S: SessionStore>(
        &self,
        sessions: &Sessions<S>,
        ticket: &Ticket,
        provider: &Provider,
        key: &str,
        owner: &str,
        due: impl Fn(&Session) -> bool,
    ) -> Result<Option<Session>, StoreError> {
        // Another instance may have finished just before we took the lock.
        let Some(current) = sessions.load_fresh(ticket).await? else {
            return Ok(None);
        };
        let Some(refresh_token) = current.refresh_token.clone().filter(|_| due(&current)) else {
            return Ok(Some(current));
        };
        let renewer = {
            let (store, key, owner) = (sessions.store().clone(), key.to_owned(), owner.to_owned());
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(LOCK_TTL / 3).await;
                    if !matches!(store.renew(&key, &owner, LOCK_TTL).await, Ok(true)) {
                        break;
                    }
                }
            })
        };
        let result = provider
            .refresh(&refresh_token, &current.sub, Arc::clone(&self.clock))
            .await;
        renewer.abort();
        match result {
            Ok(new) => {
                let updated = self.apply(current, new);
                let remaining =
                    Duration::from_secs(updated.expires_at.saturating_sub(self.clock.now()).max(1));
                sessions.update(ticket, &updated, remaining).await?;
                tracing::info!(ticket_id = %ticket.id(), "refreshed the session's tokens");
                self.count(0);
                Ok(Some(updated))
            }
            Err(IdpError::RefreshRefused(reason)) => {
                tracing::warn!(ticket_id = %ticket.id(), reason = %reason, "the IdP refused the refresh token; the session ends and the user logs in again");
                self.count(1);
                sessions.delete(ticket).await?;
                Ok(None)
            }
            Err(e) => {
                tracing::warn!(ticket_id = %ticket.id(), cause = %e, "refreshing the session's tokens failed; keeping the session until it expires");
                self.count(2);
                Ok(Some(current))
            }
        }
    }

    /// The session with the refreshed tokens and claims (only what the session keeps).
    fn apply(&self, mut s: Session, new: Refreshed) -> Session {
        let now = self.clock.now();
        if s.access_token.is_some() {
            s.access_token = Some(new.access_token);
        }
        if s.id_token.is_some() {
            s.id_token = new.id_token.or(s.id_token);
        }
        s.refresh_token = new.refresh_token.or(s.refresh_token);
        s.access_valid = new.expires_in.map(|e| (now, now.saturating_add(e)));
        if !new.claims.is_empty() {
            s.claims = claims::keep_needed(new.claims, &self.needed_claims);
        }
        s.claims_read_at = now;
        s
    }
}

#[cfg(test)]
mod tests;
