//! A real six-node Redis Cluster on loopback (three masters, three replicas), made by
//! `redis-cli --cluster create`, quick to fail over (node timeout 1 s).

use std::process::Command;
use std::time::{Duration, Instant};

use super::{free_port, program, RedisServer};

pub struct RedisCluster {
    pub nodes: Vec<RedisServer>,
}

const NODE_ARGS: &[&str] = &[
    "--cluster-enabled",
    "yes",
    "--cluster-config-file",
    "nodes.conf",
    "--cluster-node-timeout",
    "1000",
];

impl RedisCluster {
    pub async fn start() -> RedisCluster {
        let mut nodes = vec![];
        for _ in 0..6 {
            // The cluster bus on a port of its own (by default it is the port + 10000, which
            // may be one the kernel gives outgoing connections: seen as EADDRINUSE).
            let bus = free_port().to_string();
            let args = [NODE_ARGS, &["--cluster-port", bus.as_str()]].concat();
            nodes.push(RedisServer::start_with(free_port(), &args).await);
        }
        let cli = program("redis-cli", "apt-get install -y redis-tools");
        let mut cmd = Command::new(cli);
        cmd.arg("--cluster").arg("create");
        for n in &nodes {
            cmd.arg(format!("127.0.0.1:{}", n.port));
        }
        cmd.args(["--cluster-replicas", "1", "--cluster-yes"]);
        let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
            .await
            .unwrap();
        assert!(
            out.status.success(),
            "redis-cli --cluster create: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let c = RedisCluster { nodes };
        c.wait_until_ok().await;
        c
    }

    /// `host:port,...` for `SIDEGATE_REDIS_CLUSTER_NODES` (every node as a seed).
    pub fn seeds(&self) -> String {
        self.nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Waits until every live node reports `cluster_state:ok` with three masters that
    /// each have a replica in sync.
    pub async fn wait_until_ok(&self) {
        let started = Instant::now();
        loop {
            let mut ok = true;
            for n in &self.nodes {
                let info = cluster(n, "INFO").await;
                ok &= info.contains("cluster_state:ok") && info.contains("cluster_known_nodes:6");
            }
            let nodes = cluster(&self.nodes[0], "NODES").await;
            let healthy = |role: &str| {
                nodes
                    .lines()
                    .filter(|l| l.contains(role) && !l.contains("fail") && l.contains("connected"))
                    .count()
            };
            let mut online = 0;
            for n in &self.nodes {
                online += replication(n).await.matches("state=online").count();
            }
            if ok && healthy("master") == 3 && healthy("slave") == 3 && online == 3 {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(40),
                "the cluster did not become ok:\n{nodes}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The port of the master serving `key`, as node `asker` sees the cluster now (a
    /// master not flagged as failed).
    pub async fn master_of(&self, asker: usize, key: &str) -> Option<u16> {
        let mut c = self.nodes[asker].conn().await;
        let slot: u16 = redis::cmd("CLUSTER")
            .arg("KEYSLOT")
            .arg(key)
            .query_async(&mut c)
            .await
            .unwrap();
        let nodes = cluster(&self.nodes[asker], "NODES").await;
        nodes.lines().find_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let master = f.get(2).is_some_and(|flags| flags.contains("master") && !flags.contains("fail"));
            let serves = f.iter().skip(8).any(|range| {
                let (a, b) = range.split_once('-').unwrap_or((range, range));
                matches!((a.parse::<u16>(), b.parse::<u16>()), (Ok(a), Ok(b)) if a <= slot && slot <= b)
            });
            (master && serves).then(|| {
                let addr = f[1].split('@').next().unwrap();
                addr.rsplit(':').next().unwrap().parse().unwrap()
            })
        })
    }

    pub fn node(&mut self, port: u16) -> &mut RedisServer {
        self.nodes.iter_mut().find(|n| n.port == port).unwrap()
    }
}

async fn cluster(node: &RedisServer, what: &str) -> String {
    let mut c = node.conn().await;
    redis::cmd("CLUSTER")
        .arg(what)
        .query_async(&mut c)
        .await
        .unwrap_or_default()
}

async fn replication(node: &RedisServer) -> String {
    let mut c = node.conn().await;
    redis::cmd("INFO")
        .arg("replication")
        .query_async(&mut c)
        .await
        .unwrap_or_default()
}
