//! Where Redis is: one server, a master group watched by Sentinel, or a cluster; and the
//! clients that reach it.

use std::fmt;
use std::time::Duration;

use redis::{Client, ConnectionAddr, IntoConnectionInfo, TlsCertificates};

use crate::store::error::StoreError;

/// How sidegate reaches Redis (`SIDEGATE_REDIS_URL`, `SIDEGATE_REDIS_SENTINELS`,
/// `SIDEGATE_REDIS_CLUSTER_NODES`).
#[derive(Clone)]
pub enum Target {
    /// One server (`redis://host:6379/0`, `rediss://` for TLS).
    Single(String),
    /// A master group that Sentinel watches: `master` is a Redis URL whose host is the
    /// group's name (`redis://:pw@mymaster/0`); `sentinels` are the Sentinels' addresses.
    Sentinel {
        /// Credentials, database and scheme for the master; its host names the group.
        master: String,
        /// `redis://[user:pw@]host:26379` (or `host:port`), one per Sentinel.
        sentinels: Vec<String>,
    },
    /// A Redis Cluster reached through these seed nodes (`redis://[user:pw@]host:port`).
    Cluster(Vec<String>),
}

/// Everything sidegate needs to open its Redis connections.
#[derive(Clone)]
pub struct RedisSettings {
    /// Where Redis is.
    pub target: Target,
    /// The CA certificates (PEM) Redis's TLS certificates must chain to, instead of the
    /// system's (`SIDEGATE_REDIS_CA_FILE`).
    pub ca: Option<Vec<u8>>,
    /// How many replicas must have a session write before it counts as safe
    /// (`SIDEGATE_REDIS_WAIT_REPLICAS`; `WAIT n 500`); 0 skips the wait.
    pub wait_replicas: u32,
}

impl RedisSettings {
    /// One server at `url`, system CAs, no replica wait.
    #[must_use]
    pub fn single(url: &str) -> Self {
        Self {
            target: Target::Single(url.to_owned()),
            ca: None,
            wait_replicas: 0,
        }
    }

    /// Whether anything here uses TLS.
    #[must_use]
    pub fn uses_tls(&self) -> bool {
        let tls = |u: &String| u.starts_with("rediss://");
        match &self.target {
            Target::Single(u) => tls(u),
            Target::Sentinel { master, sentinels } => tls(master) || sentinels.iter().any(tls),
            Target::Cluster(nodes) => nodes.iter().any(tls),
        }
    }

    /// The topology's name for logs and the config summary.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self.target {
            Target::Single(_) => "one server",
            Target::Sentinel { .. } => "Sentinel",
            Target::Cluster(_) => "Cluster",
        }
    }

    fn certificates(&self) -> Option<TlsCertificates> {
        self.ca.as_ref().map(|ca| TlsCertificates {
            client_tls: None,
            root_cert: Some(ca.clone()),
        })
    }

    /// A client for one server URL, trusting the configured CA.
    pub(super) fn client(&self, url: &str) -> Result<Client, StoreError> {
        match self.certificates() {
            Some(certs) => Client::build_with_tls(url, certs),
            None => Client::open(url),
        }
        .map_err(StoreError::Url)
    }

    /// The Sentinel client that finds the group's current master.
    pub(super) fn sentinel_client(
        &self,
        master: &str,
        sentinels: &[String],
    ) -> Result<redis::sentinel::SentinelClient, StoreError> {
        use redis::sentinel::{SentinelClientBuilder, SentinelServerType};
        let url = url::Url::parse(master).map_err(|_| invalid("SIDEGATE_REDIS_URL"))?;
        let name = url.host_str().unwrap_or_default().to_owned();
        let infos = sentinels
            .iter()
            .map(|s| with_scheme(s).into_connection_info())
            .collect::<Result<Vec<_>, _>>()
            .map_err(StoreError::Url)?;
        let addrs: Vec<ConnectionAddr> = infos.iter().map(|i| i.addr().clone()).collect();
        let mut b = SentinelClientBuilder::new(addrs, name, SentinelServerType::Master)
            .map_err(StoreError::Url)?;
        if url.scheme() == "rediss" {
            b = b.set_client_to_redis_tls_mode(redis::TlsMode::Secure);
        }
        if !url.username().is_empty() {
            b = b.set_client_to_redis_username(decode(url.username()));
        }
        if let Some(pw) = url.password() {
            b = b.set_client_to_redis_password(decode(pw));
        }
        let db = url.path().trim_start_matches('/');
        if !db.is_empty() {
            b = b.set_client_to_redis_db(db.parse().map_err(|_| invalid("SIDEGATE_REDIS_URL"))?);
        }
        if let Some(info) = infos
            .iter()
            .find(|i| i.redis_settings().password().is_some())
        {
            let s = info.redis_settings();
            if let Some(user) = s.username() {
                b = b.set_client_to_sentinel_username(user);
            }
            if let Some(pw) = s.password() {
                b = b.set_client_to_sentinel_password(pw);
            }
        }
        if infos
            .iter()
            .any(|i| matches!(i.addr(), ConnectionAddr::TcpTls { .. }))
        {
            b = b.set_client_to_sentinel_tls_mode(redis::TlsMode::Secure);
        }
        if let Some(certs) = self.certificates() {
            b = b
                .set_client_to_redis_certificates(certs.clone())
                .set_client_to_sentinel_certificates(certs);
        }
        b.build().map_err(StoreError::Url)
    }

    /// The cluster client, and one plain client per seed (for the subscription).
    pub(super) fn cluster_client(
        &self,
        nodes: &[String],
        deadline: Duration,
    ) -> Result<(redis::cluster::ClusterClient, Vec<Client>), StoreError> {
        let urls: Vec<String> = nodes.iter().map(|n| with_scheme(n)).collect();
        let mut b = redis::cluster::ClusterClientBuilder::new(urls.clone())
            .connection_timeout(deadline)
            .response_timeout(deadline)
            .retries(3);
        if let Some(certs) = self.certificates() {
            b = b.certs(certs);
        }
        let seeds = urls
            .iter()
            .map(|u| self.client(u))
            .collect::<Result<_, _>>()?;
        Ok((b.build().map_err(StoreError::Url)?, seeds))
    }
}

/// `host:port` is taken as `redis://host:port`.
fn with_scheme(address: &str) -> String {
    if address.contains("://") {
        address.to_owned()
    } else {
        format!("redis://{address}")
    }
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

fn invalid(var: &'static str) -> StoreError {
    StoreError::Url(redis::RedisError::from((
        redis::ErrorKind::InvalidClientConfig,
        "not a usable Redis URL",
        var.to_owned(),
    )))
}

impl fmt::Debug for RedisSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisSettings")
            .field("kind", &self.kind())
            .field("ca", &self.ca.as_ref().map(|_| "(set)"))
            .field("wait_replicas", &self.wait_replicas)
            .finish_non_exhaustive()
    }
}
