//! How a store fails.

/// A storage failure (unreachable, timed out, protocol error), with its cause.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// `SIDEGATE_REDIS_URL` is not a Redis URL.
    #[error("SIDEGATE_REDIS_URL: {0}")]
    Url(#[source] ::redis::RedisError),
    /// No connection to Redis could be made.
    #[error("cannot connect to Redis: {0}")]
    Connect(#[source] ::redis::RedisError),
    /// Redis answered a command with an error, or the connection failed during it.
    #[error("Redis: {0}")]
    Redis(#[from] ::redis::RedisError),
    /// The Sentinels named no reachable master a moment ago (commands fail at once for
    /// 100 ms after a failed lookup rather than each asking again).
    #[error("no Redis master is reachable: the Sentinels were just asked and named none that answers (a failover may be under way)")]
    NoMaster,
    /// Redis did not answer within the deadline.
    #[error("Redis did not answer in time ({0})")]
    Timeout(&'static str),
    /// The invalidation subscription ended.
    #[error("the subscription connection closed")]
    SubscriptionClosed,
    /// The in-process store's lock was poisoned by a panic.
    #[error("the memory store's lock is poisoned")]
    Poisoned,
    /// The operating system gave no randomness (ticket, lock owner).
    #[error("no randomness available: {0}")]
    Randomness(getrandom::Error),
    /// A value could not be encoded or decoded as JSON.
    #[error("encoding a stored value: {0}")]
    Encoding(#[from] serde_json::Error),
    /// A session could not be sealed.
    #[error("sealing a session failed")]
    Seal,
    /// A file-backed store (the API-key file) could not be read or written.
    #[error("{path}: {source}")]
    File {
        /// The file.
        path: String,
        /// What went wrong.
        #[source]
        source: std::io::Error,
    },
    /// A file-backed store holds something that is not its JSON.
    #[error("{path}: {source}")]
    FileContents {
        /// The file.
        path: String,
        /// What is wrong with it.
        #[source]
        source: serde_json::Error,
    },
}

impl From<getrandom::Error> for StoreError {
    fn from(e: getrandom::Error) -> Self {
        StoreError::Randomness(e)
    }
}
