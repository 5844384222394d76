//! The store traits, split by role: key-value, indexes, coordination.

use std::future::Future;
use std::time::Duration;

use super::error::StoreError;

/// Values by id with a time to live; expiry is the store's job.
pub trait KeyValue: Clone + Send + Sync + 'static {
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
    /// Whether the store answers.
    fn ping(&self) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Sets of ids (the logout indexes: sessions by subject and by IdP session).
pub trait Indexes: Clone + Send + Sync + 'static {
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
}

/// What instances sharing a store agree on: locks, claim-once records, announcements.
pub trait Coordination: Clone + Send + Sync + 'static {
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
    /// The token bucket `key` of `burst` attempts, one more every `refill`: takes one
    /// attempt from it when `take`, then says how long until it holds a whole attempt again
    /// (`None`: it holds one now). Shared by every instance using the store; a bucket nobody
    /// touched for `burst × refill` is full again and forgotten.
    fn bucket(
        &self,
        key: &str,
        burst: u32,
        refill: Duration,
        take: bool,
    ) -> impl Future<Output = Result<Option<Duration>, StoreError>> + Send;
    /// Tells every instance sharing the store that session `id` changed or ended, so their
    /// session caches forget it. Nothing to do for a store only one process uses.
    fn announce(&self, id: &str) -> impl Future<Output = Result<(), StoreError>> + Send {
        let _ = id;
        async { Ok(()) }
    }
}

/// A store that plays every role: what sidegate runs on.
pub trait SessionStore: KeyValue + Indexes + Coordination {}

impl<T: KeyValue + Indexes + Coordination> SessionStore for T {}

/// Who hears about sessions that changed or ended on any instance (the session cache).
pub trait Invalidations: Send + Sync + 'static {
    /// Session `id` changed or ended.
    fn invalidate(&self, id: &str);
    /// News was lost or unreadable: forget everything.
    fn clear(&self);
    /// Whether the news is being received; the listener serves only while it is.
    fn set_live(&self, live: bool);
    /// Whether the listener is serving.
    fn is_live(&self) -> bool;
}
