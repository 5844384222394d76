//! sidegate itself, in-process through `sidegate::run` on 127.0.0.1:0.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sidegate::config::Config;

pub const CLIENT_ID: &str = "sidegate";
pub const CLIENT_SECRET: &str = "sidegate-test-client-secret";
pub const COOKIE_SECRET: &str = "test-cookie-secret-0123456789-abcdefghijklmnop";

pub struct Sidegate {
    pub addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// The settings every test shares: cookie domain `example.test`, plain http.
pub fn vars(public_url: &str, issuer: &str, redis: Option<&str>) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = [
        ("SIDEGATE_PUBLIC_URL", public_url),
        ("SIDEGATE_ISSUER_URL", issuer),
        ("SIDEGATE_CLIENT_ID", CLIENT_ID),
        ("SIDEGATE_CLIENT_SECRET", CLIENT_SECRET),
        ("SIDEGATE_COOKIE_SECRET", COOKIE_SECRET),
        ("SIDEGATE_COOKIE_DOMAIN", "example.test"),
        ("SIDEGATE_LOG", "sidegate=debug,info"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    if let Some(url) = redis {
        v.push(("SIDEGATE_REDIS_URL".into(), url.into()));
    }
    v
}

pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("sidegate=debug,warn")
        .with_test_writer()
        .try_init();
}

impl Sidegate {
    pub async fn start(vars: Vec<(String, String)>) -> Sidegate {
        Self::start_at(0, vars).await
    }

    /// Starts on a chosen port (when the public URL must name it).
    pub async fn start_at(port: u16, vars: Vec<(String, String)>) -> Sidegate {
        init_tracing();
        let (config, _) = Config::from_vars(vars).unwrap_or_else(|e| panic!("{e}"));
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            sidegate::run(listener, config, async move {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        Sidegate {
            addr,
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    /// Waits until `/readyz` answers 200 (store reachable, IdP metadata loaded).
    pub async fn wait_ready(&self) {
        let url = format!("http://{}/readyz", self.addr);
        let client = reqwest::Client::new();
        let started = Instant::now();
        loop {
            if super::answers_200(&client, &url).await {
                return;
            }
            assert!(
                started.elapsed() < super::STARTUP_LIMIT,
                "sidegate not ready after {:?}",
                started.elapsed()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
    }
}

impl Drop for Sidegate {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// sidegate as users run it: the built binary in its own process, logging to a file.
pub struct SidegateProcess {
    pub addr: SocketAddr,
    pub proc: super::Proc,
}

impl SidegateProcess {
    pub async fn spawn(vars: Vec<(String, String)>) -> SidegateProcess {
        Self::spawn_on(super::free_port(), vars).await
    }

    /// Starts on a chosen port (when the public URL must name it).
    pub async fn spawn_on(port: u16, vars: Vec<(String, String)>) -> SidegateProcess {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_sidegate"));
        cmd.env_clear()
            .envs(vars)
            .env("SIDEGATE_LISTEN", addr.to_string());
        let mut proc = super::Proc::spawn("sidegate", tempfile::tempdir().unwrap(), cmd);
        let url = format!("http://{addr}/readyz");
        let client = reqwest::Client::new();
        proc.wait_until(super::STARTUP_LIMIT, || {
            let (client, url) = (client.clone(), url.clone());
            async move { super::answers_200(&client, &url).await }
        })
        .await;
        SidegateProcess { addr, proc }
    }
}
