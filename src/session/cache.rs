//! The optional hot-path cache: recently read sessions kept in this process for a few
//! seconds, so most forward-auth checks need no store round trip.
//!
//! A cached session is only as good as the news of its end. Every instance therefore
//! listens for invalidations (Redis pub/sub), and the cache serves nothing while it is not
//! listening: it starts cold, empties itself when the subscription drops, and refills only
//! once it is subscribed again. A read that raced with an invalidation is never cached (an
//! epoch counter moves on every invalidation), so a session ended on any instance is
//! refused everywhere as soon as the message arrives.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use subtle::ConstantTimeEq;

use super::model::Session;
use super::ticket::{Ticket, SECRET_LEN};
use crate::store::Invalidations;

/// How long the cache keeps an entry given `SIDEGATE_SESSION_CACHE_TTL` and the idle
/// timeout; `None` when the cache is off. Cache hits do not slide the idle deadline in the
/// store, so an entry lives at most a tenth of the idle timeout: a user's last activity
/// counts to within that.
pub fn entry_ttl(configured: Option<Duration>, idle: Option<Duration>) -> Option<Duration> {
    configured.map(|ttl| idle.map_or(ttl, |idle| ttl.min(idle / 10)))
}

/// Recently read sessions by ticket id, each with its ticket's secret.
pub struct SessionCache {
    entries: moka::sync::Cache<String, ([u8; SECRET_LEN], Arc<Session>)>,
    epoch: AtomicU64,
    live: AtomicBool,
    /// Lookups while live answered from the cache (for the metrics).
    hits: AtomicU64,
    /// Lookups while live the store had to answer.
    misses: AtomicU64,
}

impl SessionCache {
    /// A cold cache whose entries live `ttl` from when they were read from the store.
    pub fn new(ttl: Duration) -> Self {
        Self {
            entries: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(ttl)
                .build(),
            epoch: AtomicU64::new(0),
            live: AtomicBool::new(false),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// The cached session for `ticket`, if the cache is live and the ticket's secret is the
    /// one the session was read with.
    pub fn get(&self, ticket: &Ticket) -> Option<Arc<Session>> {
        if !self.live.load(Ordering::Acquire) {
            return None;
        }
        let found = self
            .entries
            .get(ticket.id())
            .filter(|(secret, _)| bool::from(secret.ct_eq(ticket.secret())));
        match found {
            Some((_, session)) => {
                self.hits.fetch_add(1, Ordering::Relaxed);
                Some(session)
            }
            None => {
                self.misses.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }

    /// Lookups so far while live: (hits, misses).
    pub fn lookups(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }

    /// Take this before reading the store; pass it to [`insert`](Self::insert) after.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Caches `session`, read from the store after [`epoch`](Self::epoch) returned
    /// `epoch`, unless something was invalidated (or the cache went down) since.
    pub fn insert(&self, ticket: &Ticket, session: &Arc<Session>, epoch: u64) {
        if !self.live.load(Ordering::Acquire) {
            return;
        }
        let value = (*ticket.secret(), Arc::clone(session));
        self.entries.insert(ticket.id().to_owned(), value);
        // An invalidation that landed while we inserted may have missed our entry.
        if self.epoch() != epoch {
            self.entries.invalidate(ticket.id());
        }
    }

    /// Forgets the session `id` (it changed or ended, here or on another instance).
    pub fn invalidate(&self, id: &str) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.entries.invalidate(id);
    }

    /// Forgets every session (news that could not be read may have been about any).
    pub fn clear(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.entries.invalidate_all();
    }

    /// Whether invalidations are being received. Either way the cache starts empty.
    pub fn set_live(&self, live: bool) {
        self.live.store(false, Ordering::Release);
        self.clear();
        self.live.store(live, Ordering::Release);
    }

    /// Whether the cache is serving.
    pub fn is_live(&self) -> bool {
        self.live.load(Ordering::Acquire)
    }
}

impl Invalidations for SessionCache {
    fn invalidate(&self, id: &str) {
        SessionCache::invalidate(self, id);
    }
    fn clear(&self) {
        SessionCache::clear(self);
    }
    fn set_live(&self, live: bool) {
        SessionCache::set_live(self, live);
    }
    fn is_live(&self) -> bool {
        SessionCache::is_live(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(sub: &str) -> Arc<Session> {
        Arc::new(Session {
            sub: sub.to_owned(),
            expires_at: 100,
            ..Session::default()
        })
    }

    fn ticket() -> Ticket {
        Ticket::generate().unwrap()
    }

    fn live_cache() -> SessionCache {
        let cache = SessionCache::new(Duration::from_secs(60));
        cache.set_live(true);
        cache
    }

    #[test]
    fn serves_nothing_until_live_and_nothing_after_going_down() {
        let cache = SessionCache::new(Duration::from_secs(60));
        let t = ticket();
        cache.insert(&t, &session("alice"), cache.epoch());
        assert_eq!(cache.get(&t), None, "a cold cache must not fill");
        cache.set_live(true);
        cache.insert(&t, &session("alice"), cache.epoch());
        assert_eq!(cache.get(&t), Some(session("alice")));
        cache.set_live(false);
        assert_eq!(cache.get(&t), None);
        cache.set_live(true);
        assert_eq!(cache.get(&t), None, "going down empties the cache");
    }

    #[test]
    fn a_ticket_with_another_secret_gets_nothing() {
        let cache = live_cache();
        let t = ticket();
        cache.insert(&t, &session("alice"), cache.epoch());
        let forged = Ticket::parse(&format!("{}.AAAAAAAAAAAAAAAAAAAAAA", t.id())).unwrap();
        assert_eq!(cache.get(&forged), None);
        assert!(cache.get(&t).is_some());
    }

    #[test]
    fn invalidation_removes_and_stale_reads_are_not_cached() {
        let cache = live_cache();
        let t = ticket();
        cache.insert(&t, &session("alice"), cache.epoch());
        cache.invalidate(t.id());
        assert_eq!(cache.get(&t), None);
        // A read that started before an invalidation is dropped, whatever id it was for.
        let before = cache.epoch();
        cache.invalidate("some-other-id");
        cache.insert(&t, &session("alice"), before);
        assert_eq!(cache.get(&t), None);
        // A read after the invalidation is cached.
        cache.insert(&t, &session("alice"), cache.epoch());
        assert!(cache.get(&t).is_some());
    }

    #[test]
    fn entry_ttl_is_capped_by_the_idle_timeout() {
        let s = Duration::from_secs;
        assert_eq!(entry_ttl(None, Some(s(3600))), None);
        assert_eq!(entry_ttl(Some(s(2)), Some(s(4 * 3600))), Some(s(2)));
        assert_eq!(entry_ttl(Some(s(2)), None), Some(s(2)));
        assert_eq!(entry_ttl(Some(s(2)), Some(s(10))), Some(s(1)));
        assert_eq!(
            entry_ttl(Some(s(60)), Some(s(2))),
            Some(Duration::from_millis(200))
        );
    }

    #[test]
    fn entries_expire() {
        let cache = SessionCache::new(Duration::from_millis(30));
        cache.set_live(true);
        let t = ticket();
        cache.insert(&t, &session("alice"), cache.epoch());
        assert!(cache.get(&t).is_some());
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(cache.get(&t), None);
    }
}
