//! Where sessions, indexes and coordination records live: the store traits, split by role,
//! and the two stores (in memory for one instance, Redis for many).
//!
//! The stores see only opaque bytes under opaque ids; what a session is, how it is sealed
//! and which indexes it is in are decided above them (`session`). Implementations must pass
//! `tests/it/store.rs`.

mod error;
pub mod memory;
pub mod redis;
mod traits;

pub use error::StoreError;
pub use memory::MemoryStore;
pub use redis::{RedisSettings, RedisStore, Target as RedisTarget};
pub use traits::{Coordination, Indexes, Invalidations, KeyValue, SessionStore};
