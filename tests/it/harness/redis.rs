//! A real `redis-server` on a random loopback port.

use std::process::Command;

use super::{free_port, program, Proc};

pub struct RedisServer {
    pub port: u16,
    pub proc: Proc,
}

impl RedisServer {
    pub async fn start() -> RedisServer {
        Self::start_on(free_port()).await
    }

    pub async fn start_on(port: u16) -> RedisServer {
        Self::start_with(port, &[]).await
    }

    /// A replica of the server on `master`.
    pub async fn replica_of(port: u16, master: u16) -> RedisServer {
        let m = master.to_string();
        Self::start_with(port, &["--replicaof", "127.0.0.1", &m]).await
    }

    /// Starts with extra arguments (replication, cluster mode).
    pub async fn start_with(port: u16, extra: &[&str]) -> RedisServer {
        let bin = program("redis-server", "apt-get install -y redis-server");
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = Command::new(bin);
        cmd.args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
        ])
        .arg("--dir")
        .arg(dir.path())
        .args(extra);
        let mut proc = Proc::spawn("redis", dir, cmd);
        let url = format!("redis://127.0.0.1:{port}/");
        proc.wait_until(super::STARTUP_LIMIT, || {
            let url = url.clone();
            async move {
                let Ok(client) = redis::Client::open(url) else {
                    return false;
                };
                let Ok(mut c) = client.get_multiplexed_async_connection().await else {
                    return false;
                };
                redis::cmd("PING")
                    .query_async::<String>(&mut c)
                    .await
                    .is_ok()
            }
        })
        .await;
        RedisServer { port, proc }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    pub async fn conn(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap()
    }

    /// `ROLE`'s first word: `master` or `slave`.
    pub async fn role(&self) -> String {
        let mut c = self.conn().await;
        let role: Vec<redis::Value> = redis::cmd("ROLE").query_async(&mut c).await.unwrap();
        match role.first() {
            Some(redis::Value::BulkString(b)) => String::from_utf8_lossy(b).into_owned(),
            other => panic!("ROLE answered {other:?}"),
        }
    }

    /// How many times the server ran `command` (from `INFO commandstats`).
    pub async fn calls(&self, command: &str) -> u64 {
        let mut c = self.conn().await;
        let info: String = redis::cmd("INFO")
            .arg("commandstats")
            .query_async(&mut c)
            .await
            .unwrap();
        let prefix = format!("cmdstat_{command}:calls=");
        info.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .and_then(|rest| rest.split(',').next())
            .map_or(0, |n| n.parse().unwrap())
    }

    /// SIGKILL: the server dies at once, as in a crash.
    pub fn kill(&mut self) {
        self.proc.kill();
    }

    /// Every key matching `pattern`.
    pub async fn keys(&self, pattern: &str) -> Vec<String> {
        let mut c = self.conn().await;
        redis::cmd("KEYS")
            .arg(pattern)
            .query_async(&mut c)
            .await
            .unwrap()
    }
}
