//! The in-process store, for a single sidegate instance. Entries expire lazily on access
//! and in a sweep every few hundred writes, by the [`Clock`] (so tests drive expiry). The
//! lock is a `std` mutex, never held across an `.await` (mini-redis `db.rs`).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use super::error::StoreError;
use super::traits::{Coordination, Indexes, KeyValue};
use crate::clock::{Clock, SystemClock};

/// A point in time, in milliseconds since the Unix epoch.
type Instant = u64;

const SWEEP_EVERY: u64 = 256;

#[derive(Default)]
struct State {
    values: HashMap<String, (Vec<u8>, Instant)>,
    locks: HashMap<String, (String, Instant)>,
    indexes: HashMap<String, (HashSet<String>, Instant)>,
    /// Token buckets: attempts left at the time, and when they become full again.
    buckets: HashMap<String, (f64, Instant, Instant)>,
    writes: u64,
}

impl State {
    fn sweep(&mut self, now: Instant) {
        self.values.retain(|_, (_, until)| *until > now);
        self.indexes.retain(|_, (_, until)| *until > now);
        self.buckets.retain(|_, (_, _, full)| *full > now);
    }
}

/// Sessions in this process's memory; lost on restart, not shared between instances.
#[derive(Clone)]
pub struct MemoryStore {
    state: Arc<Mutex<State>>,
    clock: Arc<dyn Clock>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

/// `deadline(now, ttl)`, saturating.
fn deadline(now: Instant, ttl: Duration) -> Instant {
    now.saturating_add(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX))
}

impl MemoryStore {
    /// An empty store on the system clock.
    pub fn new() -> Self {
        Self::with_clock(Arc::new(SystemClock))
    }

    /// An empty store whose entries expire by `clock`.
    pub fn with_clock(clock: Arc<dyn Clock>) -> Self {
        Self {
            state: Arc::default(),
            clock,
        }
    }

    fn now(&self) -> Instant {
        self.clock.now_ms()
    }

    fn state(&self) -> Result<MutexGuard<'_, State>, StoreError> {
        self.state.lock().map_err(|_| StoreError::Poisoned)
    }
}

impl KeyValue for MemoryStore {
    async fn get(&self, id: &str, idle: Option<Duration>) -> Result<Option<Vec<u8>>, StoreError> {
        let now = self.now();
        let mut state = self.state()?;
        match state.values.get_mut(id) {
            Some((value, until)) if *until > now => {
                if let Some(idle) = idle {
                    *until = deadline(now, idle);
                }
                Ok(Some(value.clone()))
            }
            Some(_) => {
                state.values.remove(id);
                Ok(None)
            }
            None => Ok(None),
        }
    }

    async fn put(&self, id: &str, value: Vec<u8>, ttl: Duration) -> Result<(), StoreError> {
        let now = self.now();
        let mut state = self.state()?;
        state
            .values
            .insert(id.to_owned(), (value, deadline(now, ttl)));
        state.writes += 1;
        if state.writes % SWEEP_EVERY == 0 {
            state.sweep(now);
        }
        Ok(())
    }

    async fn delete(&self, id: &str) -> Result<bool, StoreError> {
        let now = self.now();
        Ok(self
            .state()?
            .values
            .remove(id)
            .is_some_and(|(_, until)| until > now))
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.state().map(|_| ())
    }
}

impl Indexes for MemoryStore {
    async fn index_add(&self, index: &str, id: &str, ttl: Duration) -> Result<(), StoreError> {
        let now = self.now();
        let mut state = self.state()?;
        let entry = state
            .indexes
            .entry(index.to_owned())
            .or_insert_with(|| (HashSet::new(), now));
        if entry.1 <= now {
            entry.0.clear();
        }
        entry.0.insert(id.to_owned());
        entry.1 = entry.1.max(deadline(now, ttl));
        Ok(())
    }

    async fn index_remove(&self, index: &str, id: &str) -> Result<(), StoreError> {
        let mut state = self.state()?;
        if let Some((members, _)) = state.indexes.get_mut(index) {
            members.remove(id);
            if members.is_empty() {
                state.indexes.remove(index);
            }
        }
        Ok(())
    }

    async fn index_members(&self, index: &str) -> Result<Vec<String>, StoreError> {
        let now = self.now();
        let state = self.state()?;
        Ok(match state.indexes.get(index) {
            Some((members, until)) if *until > now => members.iter().cloned().collect(),
            _ => Vec::new(),
        })
    }
}

impl Coordination for MemoryStore {
    async fn claim_once(&self, key: &str, ttl: Duration) -> Result<bool, StoreError> {
        let now = self.now();
        let key = format!("claim:{key}");
        let mut state = self.state()?;
        if state
            .values
            .get(&key)
            .is_some_and(|(_, until)| *until > now)
        {
            return Ok(false);
        }
        state.values.insert(key, (Vec::new(), deadline(now, ttl)));
        Ok(true)
    }

    async fn bucket(
        &self,
        key: &str,
        burst: u32,
        refill: Duration,
        take: bool,
    ) -> Result<Option<Duration>, StoreError> {
        let now = self.now();
        let per = refill.as_millis().max(1) as f64;
        let burst = f64::from(burst);
        let mut state = self.state()?;
        let (mut n, t) = state
            .buckets
            .get(key)
            .map_or((burst, now), |(n, t, _)| (*n, *t));
        n = burst.min(n + now.saturating_sub(t) as f64 / per);
        if take {
            n = (n - 1.0).max(0.0);
            let full = now.saturating_add(((burst - n) * per).ceil() as u64);
            state.buckets.insert(key.to_owned(), (n, now, full));
            state.writes += 1;
            if state.writes % SWEEP_EVERY == 0 {
                state.sweep(now);
            }
        }
        Ok((n < 1.0).then(|| Duration::from_millis(((1.0 - n) * per).ceil() as u64)))
    }

    async fn lock(&self, key: &str, owner: &str, ttl: Duration) -> Result<bool, StoreError> {
        let now = self.now();
        let mut state = self.state()?;
        if state.locks.get(key).is_some_and(|(_, until)| *until > now) {
            return Ok(false);
        }
        state
            .locks
            .insert(key.to_owned(), (owner.to_owned(), deadline(now, ttl)));
        Ok(true)
    }

    async fn renew(&self, key: &str, owner: &str, ttl: Duration) -> Result<bool, StoreError> {
        let now = self.now();
        let mut state = self.state()?;
        match state.locks.get_mut(key) {
            Some((o, until)) if o == owner && *until > now => {
                *until = deadline(now, ttl);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn unlock(&self, key: &str, owner: &str) -> Result<(), StoreError> {
        let mut state = self.state()?;
        if state.locks.get(key).is_some_and(|(o, _)| o == owner) {
            state.locks.remove(key);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::FixedClock;

    #[tokio::test]
    async fn entries_locks_and_claims_expire_by_the_clock() {
        let clock = Arc::new(FixedClock::new(1_000));
        let store = MemoryStore::with_clock(clock.clone());
        let s = Duration::from_secs;
        store.put("a", b"v".to_vec(), s(10)).await.unwrap();
        store.index_add("i", "a", s(10)).await.unwrap();
        assert!(store.lock("l", "me", s(5)).await.unwrap());
        assert!(store.claim_once("c", s(10)).await.unwrap());
        clock.advance(9);
        assert_eq!(store.get("a", None).await.unwrap(), Some(b"v".to_vec()));
        assert!(!store.claim_once("c", s(10)).await.unwrap());
        assert!(
            store.lock("l", "other", s(5)).await.unwrap(),
            "the 5 s lock ran out"
        );
        clock.advance(1);
        assert_eq!(store.get("a", None).await.unwrap(), None);
        assert!(store.index_members("i").await.unwrap().is_empty());
        assert!(store.claim_once("c", s(10)).await.unwrap());
    }

    #[tokio::test]
    async fn a_read_with_an_idle_timeout_slides_the_expiry() {
        let clock = Arc::new(FixedClock::new(1_000));
        let store = MemoryStore::with_clock(clock.clone());
        let s = Duration::from_secs;
        store.put("a", b"v".to_vec(), s(10)).await.unwrap();
        clock.advance(8);
        assert!(store.get("a", Some(s(10))).await.unwrap().is_some());
        clock.advance(8);
        assert!(
            store.get("a", None).await.unwrap().is_some(),
            "slid to 18 s"
        );
        clock.advance(3);
        assert_eq!(store.get("a", None).await.unwrap(), None);
    }
}
