//! A real Sentinel topology on loopback: one master, two replicas, three Sentinels
//! (quorum 2) watching the group `mymaster`, quick to notice a dead master (1 s).

use std::process::Command;
use std::time::{Duration, Instant};

use super::{free_port, program, Proc, RedisServer};

pub const GROUP: &str = "mymaster";

pub struct Sentinels {
    /// Master first, then the replicas, by the port they were started on.
    pub servers: Vec<RedisServer>,
    pub sentinels: Vec<(u16, Proc)>,
}

impl Sentinels {
    pub async fn start() -> Sentinels {
        let master = RedisServer::start().await;
        let mut servers = vec![];
        let m = master.port;
        servers.push(master);
        for _ in 0..2 {
            servers.push(RedisServer::replica_of(free_port(), m).await);
        }
        let mut sentinels = vec![];
        for _ in 0..3 {
            let port = free_port();
            let dir = tempfile::tempdir().unwrap();
            let conf = super::write(
                dir.path(),
                "sentinel.conf",
                &format!(
                    "port {port}\nbind 127.0.0.1\ndir {}\nsentinel monitor {GROUP} 127.0.0.1 {m} 2\nsentinel down-after-milliseconds {GROUP} 1000\nsentinel failover-timeout {GROUP} 4000\nsentinel parallel-syncs {GROUP} 1\n",
                    dir.path().display()
                ),
            );
            let mut cmd = Command::new(program("redis-server", "apt-get install -y redis-server"));
            cmd.arg(&conf).arg("--sentinel");
            let mut proc = Proc::spawn("sentinel", dir, cmd);
            proc.wait_until(super::STARTUP_LIMIT, || async move {
                master_port(port).await.is_some()
            })
            .await;
            sentinels.push((port, proc));
        }
        let s = Sentinels { servers, sentinels };
        s.wait_until_settled(m).await;
        s
    }

    /// `host:port,...` for `SIDEGATE_REDIS_SENTINELS`.
    pub fn addresses(&self) -> String {
        self.sentinels
            .iter()
            .map(|(p, _)| format!("127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The master's port as the first Sentinel that answers names it.
    pub async fn master(&self) -> Option<u16> {
        for (p, _) in &self.sentinels {
            if let Some(m) = master_port(*p).await {
                return Some(m);
            }
        }
        None
    }

    /// The server listening on `port`.
    pub fn server(&mut self, port: u16) -> &mut RedisServer {
        self.servers.iter_mut().find(|s| s.port == port).unwrap()
    }

    /// Waits until every Sentinel names `master`, knows the other Sentinels and sees two
    /// replicas of it, each one in sync.
    pub async fn wait_until_settled(&self, master: u16) {
        let started = Instant::now();
        loop {
            let mut ok = true;
            for (p, _) in &self.sentinels {
                ok &= master_port(*p).await == Some(master);
                ok &= count(*p, "SENTINELS").await == Some(2);
                ok &= count(*p, "REPLICAS").await == Some(2);
            }
            if ok && self.replicas_in_sync(master).await {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(40),
                "the Sentinel topology did not settle on :{master}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn replicas_in_sync(&self, master: u16) -> bool {
        let Ok(client) = redis::Client::open(format!("redis://127.0.0.1:{master}/")) else {
            return false;
        };
        let Ok(mut c) = client.get_multiplexed_async_connection().await else {
            return false;
        };
        let info: String = redis::cmd("INFO")
            .arg("replication")
            .query_async(&mut c)
            .await
            .unwrap_or_default();
        info.lines()
            .filter(|l| l.starts_with("slave") && l.contains("state=online"))
            .count()
            == 2
    }
}

async fn sentinel_conn(port: u16) -> Option<redis::aio::MultiplexedConnection> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}/")).ok()?;
    tokio::time::timeout(
        Duration::from_secs(1),
        client.get_multiplexed_async_connection(),
    )
    .await
    .ok()?
    .ok()
}

async fn master_port(sentinel: u16) -> Option<u16> {
    let mut c = sentinel_conn(sentinel).await?;
    let addr: Option<(String, u16)> = redis::cmd("SENTINEL")
        .arg("get-master-addr-by-name")
        .arg(GROUP)
        .query_async(&mut c)
        .await
        .ok()?;
    addr.map(|(_, p)| p)
}

/// How many other Sentinels or replicas of the group a Sentinel knows (and holds up).
async fn count(sentinel: u16, what: &str) -> Option<usize> {
    let mut c = sentinel_conn(sentinel).await?;
    // RESP2: one flat [field, value, ...] list per node.
    let list: Vec<Vec<String>> = redis::cmd("SENTINEL")
        .arg(what)
        .arg(GROUP)
        .query_async(&mut c)
        .await
        .ok()?;
    let healthy = list
        .iter()
        .filter(|fields| {
            let flags = fields
                .chunks(2)
                .find(|kv| kv[0] == "flags")
                .map_or("", |kv| kv[1].as_str());
            !flags.contains("down") && !flags.contains("disconnected")
        })
        .count();
    Some(healthy)
}
