//! The in-process store, for a single sidegate instance. Entries expire lazily on access
//! and in a sweep every few hundred writes. The lock is a `std` mutex, never held across
//! an `.await` (mini-redis `db.rs`).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::{SessionStore, StoreError};

const SWEEP_EVERY: u64 = 256;

#[derive(Default)]
struct State {
    values: HashMap<String, (Vec<u8>, Instant)>,
    locks: HashMap<String, (String, Instant)>,
    indexes: HashMap<String, (HashSet<String>, Instant)>,
    writes: u64,
}

impl State {
    fn sweep(&mut self, now: Instant) {
        self.values.retain(|_, (_, until)| *until > now);
        self.indexes.retain(|_, (_, until)| *until > now);
    }
}

/// Sessions in this process's memory; lost on restart, not shared between instances.
#[derive(Clone, Default)]
pub struct MemoryStore(Arc<Mutex<State>>);

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> Result<MutexGuard<'_, State>, StoreError> {
        self.0
            .lock()
            .map_err(|_| StoreError("memory store lock poisoned".into()))
    }
}

impl SessionStore for MemoryStore {
    async fn get(&self, id: &str, idle: Option<Duration>) -> Result<Option<Vec<u8>>, StoreError> {
        let now = Instant::now();
        let mut state = self.lock()?;
        match state.values.get_mut(id) {
            Some((value, until)) if *until > now => {
                if let Some(idle) = idle {
                    *until = now + idle;
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
        let now = Instant::now();
        let mut state = self.lock()?;
        state.values.insert(id.to_owned(), (value, now + ttl));
        state.writes += 1;
        if state.writes % SWEEP_EVERY == 0 {
            state.sweep(now);
        }
        Ok(())
    }

    async fn delete(&self, id: &str) -> Result<bool, StoreError> {
        let now = Instant::now();
        Ok(self
            .lock()?
            .values
            .remove(id)
            .is_some_and(|(_, until)| until > now))
    }

    async fn index_add(&self, index: &str, id: &str, ttl: Duration) -> Result<(), StoreError> {
        let now = Instant::now();
        let mut state = self.lock()?;
        let entry = state
            .indexes
            .entry(index.to_owned())
            .or_insert_with(|| (HashSet::new(), now));
        if entry.1 <= now {
            entry.0.clear();
        }
        entry.0.insert(id.to_owned());
        entry.1 = entry.1.max(now + ttl);
        Ok(())
    }

    async fn index_remove(&self, index: &str, id: &str) -> Result<(), StoreError> {
        let mut state = self.lock()?;
        if let Some((members, _)) = state.indexes.get_mut(index) {
            members.remove(id);
            if members.is_empty() {
                state.indexes.remove(index);
            }
        }
        Ok(())
    }

    async fn index_members(&self, index: &str) -> Result<Vec<String>, StoreError> {
        let now = Instant::now();
        let state = self.lock()?;
        Ok(match state.indexes.get(index) {
            Some((members, until)) if *until > now => members.iter().cloned().collect(),
            _ => Vec::new(),
        })
    }

    async fn claim_once(&self, key: &str, ttl: Duration) -> Result<bool, StoreError> {
        let now = Instant::now();
        let key = format!("claim:{key}");
        let mut state = self.lock()?;
        if state
            .values
            .get(&key)
            .is_some_and(|(_, until)| *until > now)
        {
            return Ok(false);
        }
        state.values.insert(key, (Vec::new(), now + ttl));
        Ok(true)
    }

    async fn lock(&self, key: &str, owner: &str, ttl: Duration) -> Result<bool, StoreError> {
        let now = Instant::now();
        let mut state = self.lock()?;
        if state.locks.get(key).is_some_and(|(_, until)| *until > now) {
            return Ok(false);
        }
        state
            .locks
            .insert(key.to_owned(), (owner.to_owned(), now + ttl));
        Ok(true)
    }

    async fn renew(&self, key: &str, owner: &str, ttl: Duration) -> Result<bool, StoreError> {
        let now = Instant::now();
        let mut state = self.lock()?;
        match state.locks.get_mut(key) {
            Some((o, until)) if o == owner && *until > now => {
                *until = now + ttl;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn unlock(&self, key: &str, owner: &str) -> Result<(), StoreError> {
        let mut state = self.lock()?;
        if state.locks.get(key).is_some_and(|(o, _)| o == owner) {
            state.locks.remove(key);
        }
        Ok(())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.lock().map(|_| ())
    }
}
