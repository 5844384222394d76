//! The connections behind the Redis store, one kind per topology, behind one type that
//! runs commands.
//!
//! - One server: a `ConnectionManager`, which reconnects to the same address by itself.
//! - Sentinel: a multiplexed connection to the master the Sentinels name (after checking
//!   with `ROLE` that it is one). A connection error or a `READONLY` answer drops it, and
//!   the next command asks the Sentinels again, so a promotion is followed without a
//!   restart. Sentinel itself closes clients of a demoted master (`CLIENT KILL`).
//! - Cluster: the cluster connection, which follows `MOVED` and refreshes its slot map.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redis::aio::{
    ConnectionLike, ConnectionManager, ConnectionManagerConfig, MultiplexedConnection,
};
use redis::cluster_async::ClusterConnection;
use redis::sentinel::SentinelClient;
use redis::{Client, Cmd, Pipeline, RedisFuture, Value};
use tokio::sync::OnceCell;

use super::target::{RedisSettings, Target};
use crate::store::error::StoreError;

/// After a failed lookup, commands fail at once for this long instead of each asking the
/// Sentinels again (a dead master under load would otherwise cost a lookup per request).
const LOOKUP_PAUSE: Duration = Duration::from_millis(100);

/// The connections for one topology.
pub(super) enum Backend {
    Single {
        client: Client,
        conn: OnceCell<ConnectionManager>,
    },
    Sentinel(Arc<Master>),
    Cluster {
        client: Box<redis::cluster::ClusterClient>,
        conn: OnceCell<ClusterConnection>,
        seeds: Vec<Client>,
    },
}

/// The Sentinel-named master and the connection to it.
pub(super) struct Master {
    sentinel: tokio::sync::Mutex<(SentinelClient, Option<Instant>)>,
    current: Mutex<Option<(u64, MultiplexedConnection)>>,
    generation: AtomicU64,
    deadline: Duration,
}

/// A connection that runs commands, whatever the topology.
#[derive(Clone)]
pub(super) enum Conn {
    Single(ConnectionManager),
    Sentinel(MultiplexedConnection, u64, Arc<Master>),
    Cluster(ClusterConnection),
}

impl Backend {
    pub(super) fn new(settings: &RedisSettings, deadline: Duration) -> Result<Self, StoreError> {
        Ok(match &settings.target {
            Target::Single(url) => Backend::Single {
                client: settings.client(url)?,
                conn: OnceCell::new(),
            },
            Target::Sentinel { master, sentinels } => Backend::Sentinel(Arc::new(Master {
                sentinel: tokio::sync::Mutex::new((
                    settings.sentinel_client(master, sentinels)?,
                    None,
                )),
                current: Mutex::new(None),
                generation: AtomicU64::new(0),
                deadline,
            })),
            Target::Cluster(nodes) => {
                let (client, seeds) = settings.cluster_client(nodes, deadline)?;
                Backend::Cluster {
                    client: Box::new(client),
                    conn: OnceCell::new(),
                    seeds,
                }
            }
        })
    }

    /// A connection for the next command. Connecting is boxed: its future is large (the
    /// cluster's especially) and would otherwise sit inside every command's future.
    pub(super) async fn conn(&self, deadline: Duration) -> Result<Conn, StoreError> {
        match self {
            Backend::Single { conn, .. } => {
                if let Some(c) = conn.get() {
                    return Ok(Conn::Single(c.clone()));
                }
            }
            Backend::Sentinel(master) => {
                if let Some(c) = master.cached() {
                    return Ok(c);
                }
            }
            Backend::Cluster { conn, .. } => {
                if let Some(c) = conn.get() {
                    return Ok(Conn::Cluster(c.clone()));
                }
            }
        }
        Box::pin(self.connect(deadline)).await
    }

    async fn connect(&self, deadline: Duration) -> Result<Conn, StoreError> {
        match self {
            Backend::Single { client, conn } => {
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(deadline))
                    .set_response_timeout(Some(deadline))
                    .set_number_of_retries(2);
                conn.get_or_try_init(|| ConnectionManager::new_with_config(client.clone(), config))
                    .await
                    .cloned()
                    .map(Conn::Single)
                    .map_err(StoreError::Connect)
            }
            Backend::Sentinel(master) => master.conn().await,
            Backend::Cluster { client, conn, .. } => {
                let connecting = conn.get_or_try_init(|| async {
                    tokio::time::timeout(deadline, client.get_async_connection())
                        .await
                        .map_err(|_| StoreError::Timeout("connecting to the cluster"))?
                        .map_err(StoreError::Connect)
                });
                connecting.await.cloned().map(Conn::Cluster)
            }
        }
    }

    /// Clients to subscribe through, best first: the server, the current master, or
    /// every seed of the cluster (a PUBLISH reaches every node of a cluster).
    pub(super) async fn subscription_clients(&self) -> Result<Vec<Client>, StoreError> {
        match self {
            Backend::Single { client, .. } => Ok(vec![client.clone()]),
            Backend::Sentinel(master) => Ok(vec![master.lookup().await?]),
            Backend::Cluster { seeds, .. } => Ok(seeds.clone()),
        }
    }
}

impl Master {
    async fn conn(self: &Arc<Self>) -> Result<Conn, StoreError> {
        if let Some(c) = self.cached() {
            return Ok(c);
        }
        let mut sentinel = self.sentinel.lock().await;
        // Someone else may have connected while this waited.
        if let Some(c) = self.cached() {
            return Ok(c);
        }
        if sentinel
            .1
            .is_some_and(|failed| failed.elapsed() < LOOKUP_PAUSE)
        {
            return Err(StoreError::NoMaster);
        }
        match self.connect(&mut sentinel.0).await {
            Ok(conn) => {
                sentinel.1 = None;
                let generation = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
                if let Ok(mut current) = self.current.lock() {
                    *current = Some((generation, conn.clone()));
                }
                Ok(Conn::Sentinel(conn, generation, self.clone()))
            }
            Err(e) => {
                sentinel.1 = Some(Instant::now());
                Err(e)
            }
        }
    }

    fn cached(self: &Arc<Self>) -> Option<Conn> {
        let current = self.current.lock().ok()?;
        current
            .as_ref()
            .map(|(g, c)| Conn::Sentinel(c.clone(), *g, self.clone()))
    }

    async fn connect(
        &self,
        sentinel: &mut SentinelClient,
    ) -> Result<MultiplexedConnection, StoreError> {
        let client = tokio::time::timeout(self.deadline, sentinel.async_get_client())
            .await
            .map_err(|_| StoreError::Timeout("asking the Sentinels for the master"))?
            .map_err(StoreError::Connect)?;
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.deadline))
            .set_response_timeout(Some(self.deadline));
        let conn = client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(StoreError::Connect)?;
        tracing::info!(master = ?client.get_connection_info().addr(), "connected to the Redis master the Sentinels name");
        Ok(conn)
    }

    /// A client for the current master (for the subscription).
    async fn lookup(&self) -> Result<Client, StoreError> {
        let mut sentinel = self.sentinel.lock().await;
        tokio::time::timeout(self.deadline, sentinel.0.async_get_client())
            .await
            .map_err(|_| StoreError::Timeout("asking the Sentinels for the master"))?
            .map_err(StoreError::Connect)
    }

    /// Drops connection `generation` after an error that says the master is gone or no
    /// longer the master; a newer connection is kept.
    fn forget(&self, generation: u64, error: &redis::RedisError) {
        if let Ok(mut current) = self.current.lock() {
            if current.as_ref().is_some_and(|(g, _)| *g == generation) {
                tracing::warn!(%error, "lost the Redis master; asking the Sentinels again");
                *current = None;
            }
        }
    }
}

/// Whether `e` means the node is gone or is not the master any more.
fn node_lost(e: &redis::RedisError) -> bool {
    e.is_io_error()
        || e.is_connection_dropped()
        || e.is_timeout()
        || e.is_unrecoverable_error()
        || e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::ReadOnly)
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Single(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
            Conn::Sentinel(c, generation, master) => Box::pin(async move {
                let answer = c.req_packed_command(cmd).await;
                if let Err(e) = &answer {
                    if node_lost(e) {
                        master.forget(*generation, e);
                    }
                }
                answer
            }),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
            Conn::Sentinel(c, generation, master) => Box::pin(async move {
                let answer = c.req_packed_commands(pipeline, offset, count).await;
                if let Err(e) = &answer {
                    if node_lost(e) {
                        master.forget(*generation, e);
                    }
                }
                answer
            }),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Single(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
            Conn::Sentinel(c, ..) => c.get_db(),
        }
    }
}
