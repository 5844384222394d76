//! The Redis store (`SIDEGATE_REDIS_URL`), shared by every sidegate instance.
//!
//! One multiplexed `ConnectionManager` (reconnects by itself), created on first use so
//! sidegate starts while Redis is still down (`/readyz` says 503 until it answers).
//! Every command has a deadline: a hung Redis is a 5xx, never a hung proxy.

use std::sync::Arc;
use std::time::Duration;

use redis::AsyncCommands;

mod conn;
mod target;

pub use target::{RedisSettings, Target};

use self::conn::{Backend, Conn};
use super::error::StoreError;
use super::traits::{Coordination, Indexes, Invalidations, KeyValue};

const PREFIX: &str = "sidegate:";
const DEADLINE: Duration = Duration::from_secs(2);
/// The pub/sub channel carrying the ids of sessions that changed or ended.
const INVALIDATIONS: &str = "sidegate:invalidate";
/// How often the subscription is checked; a missed answer takes the cache down.
const HEARTBEAT: Duration = Duration::from_secs(1);
/// How long a session write waits for its replicas (`WAIT n 500`).
const REPLICA_WAIT_MS: u64 = 500;

/// Adds `id` to a set that lives at least `ttl`: extend, never shorten. One key, so one
/// slot in a cluster, and atomic everywhere.
const INDEX_ADD: &str = "redis.call('SADD', KEYS[1], ARGV[1]) if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 1";

/// Sessions in Redis, under `sidegate:s:<id>`; indexes under `sidegate:i:<kind>:<hmac>`.
///
/// Every operation touches one key, so each is atomic on its own and a cluster never
/// needs a cross-slot command (no hash tags needed).
#[derive(Clone)]
pub struct RedisStore {
    backend: Arc<Backend>,
    wait_replicas: u32,
}

impl RedisStore {
    /// A store for one server at `url`; nothing is connected until first use.
    ///
    /// # Errors
    /// A [`StoreError`] when the URL is not a Redis URL.
    pub fn new(url: &str) -> Result<Self, StoreError> {
        Self::with_settings(&RedisSettings::single(url))
    }

    /// A store for `url` (`rediss://` for TLS) that trusts only the CA certificates in
    /// `ca_pem` instead of the system's, when given.
    ///
    /// # Errors
    /// [`StoreError::Url`] when the URL (or the CA) cannot be used.
    pub fn with_ca(url: &str, ca_pem: Option<&[u8]>) -> Result<Self, StoreError> {
        let mut settings = RedisSettings::single(url);
        settings.ca = ca_pem.map(<[u8]>::to_vec);
        Self::with_settings(&settings)
    }

    /// A store for one server, a Sentinel group or a cluster; nothing is connected until
    /// first use.
    ///
    /// # Errors
    /// [`StoreError::Url`] when an address (or the CA) cannot be used.
    pub fn with_settings(settings: &RedisSettings) -> Result<Self, StoreError> {
        Ok(Self {
            backend: Arc::new(Backend::new(settings, DEADLINE)?),
            wait_replicas: settings.wait_replicas,
        })
    }

    async fn conn(&self) -> Result<Conn, StoreError> {
        self.backend.conn(DEADLINE).await
    }

    /// Runs a write that must survive a failover: with replicas to wait for, `WAIT` follows
    /// it on the same connection. Too few acknowledgements are logged, not failed: the
    /// write is on the master, and refusing would turn a lagging replica into an outage.
    async fn durable<T: redis::FromRedisValue>(&self, cmd: redis::Cmd) -> Result<T, StoreError> {
        let mut c = self.conn().await?;
        if self.wait_replicas == 0 {
            return cmd.query_async(&mut c).await.map_err(fail);
        }
        let (value, acked): (T, u32) = redis::pipe()
            .add_command(cmd)
            .cmd("WAIT")
            .arg(self.wait_replicas)
            .arg(REPLICA_WAIT_MS)
            .query_async(&mut c)
            .await
            .map_err(fail)?;
        if acked < self.wait_replicas {
            tracing::warn!(acked, wanted = self.wait_replicas,
                "a session write reached fewer Redis replicas than SIDEGATE_REDIS_WAIT_REPLICAS within 500 ms; a failover right now could lose it (check the replicas' health)");
        }
        Ok(value)
    }
}

impl RedisStore {
    /// `SET key value NX PX ttl`: whether this call set it.
    async fn set_if_absent(
        &self,
        key: &str,
        value: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(key).arg(value).arg("NX").arg("PX").arg(ms(ttl));
        let set: Option<String> = self.durable(cmd).await?;
        Ok(set.is_some())
    }
}

/// A token bucket in one hash (`n` attempts left at `t`, Redis' own clock in ms), refilled
/// on read, written only when an attempt is taken; it expires once it would be full again.
/// Answers the milliseconds until it holds a whole attempt (0: it holds one).
static BUCKET: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
    redis::Script::new(
        r"
local burst = tonumber(ARGV[1])
local per = tonumber(ARGV[2])
local now = redis.call('TIME')
now = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local saved = redis.call('HMGET', KEYS[1], 'n', 't')
local n = tonumber(saved[1]) or burst
local t = tonumber(saved[2]) or now
n = math.min(burst, n + math.max(0, now - t) / per)
if ARGV[3] == '1' then
  n = math.max(0, n - 1)
  redis.call('HSET', KEYS[1], 'n', tostring(n), 't', now)
  redis.call('PEXPIRE', KEYS[1], math.ceil((burst - n) * per) + 1)
end
if n >= 1 then return 0 end
return math.ceil((1 - n) * per)
",
    )
});

fn session_key(id: &str) -> String {
    format!("{PREFIX}s:{id}")
}

fn index_key(index: &str) -> String {
    format!("{PREFIX}i:{index}")
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

fn fail(e: redis::RedisError) -> StoreError {
    StoreError::Redis(e)
}

impl KeyValue for RedisStore {
    async fn get(&self, id: &str, idle: Option<Duration>) -> Result<Option<Vec<u8>>, StoreError> {
        let mut c = self.conn().await?;
        match idle {
            // GETEX reads and slides the idle deadline in one round trip.
            Some(idle) => c
                .get_ex(session_key(id), redis::Expiry::PX(ms(idle)))
                .await
                .map_err(fail),
            None => c.get(session_key(id)).await.map_err(fail),
        }
    }

    async fn put(&self, id: &str, value: Vec<u8>, ttl: Duration) -> Result<(), StoreError> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(session_key(id)).arg(value).arg("PX").arg(ms(ttl));
        self.durable(cmd).await
    }

    async fn delete(&self, id: &str) -> Result<bool, StoreError> {
        let mut cmd = redis::cmd("DEL");
        cmd.arg(session_key(id));
        let n: u64 = self.durable(cmd).await?;
        Ok(n > 0)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let mut c = self.conn().await?;
        redis::cmd("PING")
            .query_async::<()>(&mut c)
            .await
            .map_err(fail)
    }
}

impl Indexes for RedisStore {
    async fn index_add(&self, index: &str, id: &str, ttl: Duration) -> Result<(), StoreError> {
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(INDEX_ADD)
            .arg(1)
            .arg(index_key(index))
            .arg(id)
            .arg(ms(ttl));
        self.durable::<i64>(cmd).await.map(|_| ())
    }

    async fn index_remove(&self, index: &str, id: &str) -> Result<(), StoreError> {
        let mut c = self.conn().await?;
        c.srem::<_, _, ()>(index_key(index), id).await.map_err(fail)
    }

    async fn index_members(&self, index: &str) -> Result<Vec<String>, StoreError> {
        let mut c = self.conn().await?;
        c.smembers(index_key(index)).await.map_err(fail)
    }
}

impl Coordination for RedisStore {
    async fn claim_once(&self, key: &str, ttl: Duration) -> Result<bool, StoreError> {
        self.set_if_absent(&format!("{PREFIX}c:{key}"), "1", ttl)
            .await
    }

    async fn lock(&self, key: &str, owner: &str, ttl: Duration) -> Result<bool, StoreError> {
        self.set_if_absent(&format!("{PREFIX}l:{key}"), owner, ttl)
            .await
    }

    async fn renew(&self, key: &str, owner: &str, ttl: Duration) -> Result<bool, StoreError> {
        let mut c = self.conn().await?;
        // Only the owner may extend its lock: compare and extend in one step.
        let script = redis::Script::new(
            "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end",
        );
        let n: i64 = script
            .key(format!("{PREFIX}l:{key}"))
            .arg(owner)
            .arg(ms(ttl))
            .invoke_async(&mut c)
            .await
            .map_err(fail)?;
        Ok(n == 1)
    }

    async fn unlock(&self, key: &str, owner: &str) -> Result<(), StoreError> {
        let mut c = self.conn().await?;
        let script = redis::Script::new(
            "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end",
        );
        script
            .key(format!("{PREFIX}l:{key}"))
            .arg(owner)
            .invoke_async::<i64>(&mut c)
            .await
            .map(|_| ())
            .map_err(fail)
    }

    async fn bucket(
        &self,
        key: &str,
        burst: u32,
        refill: Duration,
        take: bool,
    ) -> Result<Option<Duration>, StoreError> {
        let mut c = self.conn().await?;
        let wait_ms: u64 = BUCKET
            .key(format!("{PREFIX}g:{key}"))
            .arg(burst)
            .arg(ms(refill))
            .arg(u8::from(take))
            .invoke_async(&mut c)
            .await
            .map_err(fail)?;
        Ok((wait_ms > 0).then(|| Duration::from_millis(wait_ms)))
    }

    async fn announce(&self, id: &str) -> Result<(), StoreError> {
        let mut c = self.conn().await?;
        c.publish::<_, _, ()>(INVALIDATIONS, id).await.map_err(fail)
    }
}

impl RedisStore {
    /// Feeds `cache` the invalidations every instance announces, for the life of the
    /// server. The cache serves only while subscribed and answering heartbeats; when the
    /// subscription drops it is emptied and this reconnects (1 s doubling to 10 s).
    pub async fn feed_invalidations(self, cache: std::sync::Arc<impl Invalidations>) {
        let mut backoff = Duration::from_secs(1);
        loop {
            let cause = self.listen(cache.as_ref()).await;
            if cache.is_live() {
                backoff = Duration::from_secs(1);
            }
            cache.set_live(false);
            tracing::warn!(cause = %cause, retry_in = ?backoff,
                "the session cache is off until sidegate can subscribe to Redis again (every check reads Redis meanwhile)");
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(10));
        }
    }

    /// One subscription; returns why it ended.
    async fn listen(&self, cache: &impl Invalidations) -> StoreError {
        match self.subscribed(cache).await {
            Ok(never) => match never {},
            Err(e) => e,
        }
    }

    /// A subscription to the invalidations through the first client that takes it.
    async fn subscribe(&self) -> Result<redis::aio::PubSub, StoreError> {
        let mut last = StoreError::SubscriptionClosed;
        for client in self.backend.subscription_clients().await? {
            let subscribing = async {
                let mut pubsub = client.get_async_pubsub().await.map_err(fail)?;
                pubsub.subscribe(INVALIDATIONS).await.map_err(fail)?;
                Ok::<_, StoreError>(pubsub)
            };
            match tokio::time::timeout(DEADLINE, subscribing).await {
                Ok(Ok(pubsub)) => return Ok(pubsub),
                Ok(Err(e)) => last = e,
                Err(_) => last = StoreError::Timeout("subscribing"),
            }
        }
        Err(last)
    }

    async fn subscribed(
        &self,
        cache: &impl Invalidations,
    ) -> Result<std::convert::Infallible, StoreError> {
        use futures_util::StreamExt;
        let pubsub = self.subscribe().await?;
        let (mut sink, mut messages) = pubsub.split();
        cache.set_live(true);
        tracing::info!("session cache on: subscribed to session invalidations in Redis");
        let mut heartbeat = tokio::time::interval(HEARTBEAT);
        loop {
            tokio::select! {
                message = messages.next() => {
                    let Some(message) = message else {
                        return Err(StoreError::SubscriptionClosed);
                    };
                    match message.get_payload::<String>() {
                        Ok(id) => cache.invalidate(&id),
                        // Unreadable news: forget everything rather than risk a stale entry.
                        Err(_) => cache.clear(),
                    }
                }
                _ = heartbeat.tick() => {
                    match tokio::time::timeout(HEARTBEAT, sink.ping::<redis::Value>()).await {
                        Ok(Ok(_)) => {}
                        Ok(Err(e)) => return Err(fail(e)),
                        Err(_) => return Err(StoreError::Timeout("a heartbeat")),
                    }
                }
            }
        }
    }
}
