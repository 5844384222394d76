//! Real processes for integration tests: each spawns on 127.0.0.1, waits for readiness
//! with a deadline, panics with the child's log, and kills and reaps in `Drop`.

#![allow(dead_code)]

pub mod browser;
pub mod caddy;
pub mod demo_app;
pub mod echo;
pub mod idp;
pub mod labels;
pub mod nginx;
pub mod redis;
pub mod redis_cluster;
pub mod sentinel;
pub mod sidegate;
pub mod stack;
pub mod standins;
pub mod traefik;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub use caddy::Caddy;
pub use echo::Echo;
pub use idp::Idp;
pub use nginx::Nginx;
pub use redis::RedisServer;
pub use sidegate::Sidegate;
pub use traefik::Traefik;

/// The repository root (examples and the IdP live there).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A port that was free a moment ago, below the kernel's ephemeral range (32768 and up
/// here), so that no outgoing connection of another test takes it as its source port before
/// the program it is for binds it (seen as the test IdP failing with EADDRINUSE); never the
/// same port twice in one test process.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    const FIRST: u32 = 20_000;
    // Up to 30000 (Redis Cluster nodes get their bus port from here too).
    const SPAN: u32 = 10_000;
    static NEXT: AtomicU32 = AtomicU32::new(u32::MAX);
    // Each process starts at its own place in the span (benches and tests may run at once).
    let _ = NEXT.compare_exchange(
        u32::MAX,
        std::process::id().wrapping_mul(7919) % SPAN,
        Ordering::Relaxed,
        Ordering::Relaxed,
    );
    for _ in 0..SPAN {
        let n = NEXT.fetch_add(1, Ordering::Relaxed) % SPAN;
        let port = u16::try_from(FIRST + n).unwrap();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port between {FIRST} and {}", FIRST + SPAN)
}

/// Finds a program: `SIDEGATE_TEST_<NAME>_BIN`, then `PATH`, then `/usr/sbin`. A missing
/// program is a test failure that says how to install it; tests are never skipped.
pub fn program(name: &str, install: &str) -> PathBuf {
    let var = format!(
        "SIDEGATE_TEST_{}_BIN",
        name.to_uppercase().replace('-', "_")
    );
    if let Ok(p) = std::env::var(&var) {
        if Path::new(&p).is_file() {
            return PathBuf::from(p);
        }
    }
    let path = std::env::var("PATH").unwrap_or_default();
    for dir in path.split(':').chain(["/usr/sbin", "/usr/local/sbin"]) {
        let candidate = Path::new(dir).join(name);
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!("`{name}` is not installed (nor set in {var}). Install it with: {install}  (or run `make test`, which installs everything)");
}

/// How long a component may take to become ready. Generous on purpose: CI machines have two
/// cores shared by several stacks at once, and a wait returns as soon as the component is up.
pub const STARTUP_LIMIT: Duration = Duration::from_secs(90);

/// A readiness probe: true when `url` answers 200 within two seconds.
pub async fn answers_200(client: &reqwest::Client, url: &str) -> bool {
    matches!(
        client.get(url).timeout(Duration::from_secs(2)).send().await,
        Ok(r) if r.status() == 200
    )
}

/// A child process with its own temp dir and log, killed and reaped on drop.
pub struct Proc {
    pub name: &'static str,
    pub dir: tempfile::TempDir,
    child: Child,
}

impl Proc {
    /// Spawns `cmd` with stdout and stderr going to `<dir>/<name>.log`.
    pub fn spawn(name: &'static str, dir: tempfile::TempDir, mut cmd: Command) -> Proc {
        let log = std::fs::File::create(dir.path().join(format!("{name}.log"))).unwrap();
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Proc { name, dir, child }
    }

    /// Everything the child printed so far.
    pub fn log(&self) -> String {
        let mut text = std::fs::read_to_string(self.dir.path().join(format!("{}.log", self.name)))
            .unwrap_or_default();
        // nginx writes its own error log.
        if let Ok(extra) = std::fs::read_to_string(self.dir.path().join("error.log")) {
            text.push_str(&extra);
        }
        text
    }

    /// Panics with the log if the child has exited.
    pub fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("{} exited early ({status}):\n{}", self.name, self.log());
        }
    }

    /// Polls `ready` until it is true, failing with the child's log after `limit`.
    pub async fn wait_until<F, Fut>(&mut self, limit: Duration, mut ready: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let started = Instant::now();
        loop {
            self.assert_running();
            if ready().await {
                return;
            }
            if started.elapsed() > limit {
                panic!(
                    "{} still running but not ready after {:?}:\n{}",
                    self.name,
                    started.elapsed(),
                    self.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Proc {
    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL, then reaps the child.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends SIGTERM and returns at once.
    pub fn terminate(&self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
    }

    /// Waits up to `limit` for the child to exit; its status, if it did.
    pub async fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        None
    }

    /// SIGTERM first, so that nginx's master stops its workers (a SIGKILLed master leaves
    /// them running); SIGKILL if the child is still there after two seconds.
    pub fn stop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One forward-auth check as Traefik sends it to sidegate at `addr` for
/// `app.example.test/x`, with session cookie value `session`; the status, 0 when no answer.
pub async fn auth_check(
    client: &reqwest::Client,
    addr: std::net::SocketAddr,
    session: Option<&str>,
) -> u16 {
    let mut req = client
        .get(format!("http://{addr}/auth"))
        .header("x-forwarded-proto", "http")
        .header("x-forwarded-host", "app.example.test")
        .header("x-forwarded-uri", "/x")
        .header("x-forwarded-method", "GET");
    if let Some(s) = session {
        req = req.header("cookie", format!("_sidegate={s}"));
    }
    req.send().await.map(|r| r.status().as_u16()).unwrap_or(0)
}

/// An in-process warp server on 127.0.0.1 (test upstreams), stopped when dropped.
pub struct Served {
    pub addr: std::net::SocketAddr,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

/// Serves `filter` on a random loopback port until the returned handle is dropped.
pub async fn serve<F>(filter: F) -> Served
where
    F: warp::Filter<Error = std::convert::Infallible> + Clone + Send + Sync + 'static,
    F::Extract: warp::Reply,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        warp::serve(filter)
            .incoming(listener)
            .graceful(async move {
                let _ = rx.await;
            })
            .run()
            .await;
    });
    Served {
        addr,
        _shutdown: tx,
    }
}

/// Polls `http://<host>:<port>/healthz` through a proxy until it answers 200: proxies open
/// their port before their routes are loaded.
pub async fn wait_for_route(proc: &mut Proc, port: u16, host: &str) {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .resolve(host, std::net::SocketAddr::from(([127, 0, 0, 1], port)))
        .build()
        .unwrap();
    let url = format!("http://{host}:{port}/healthz");
    proc.wait_until(STARTUP_LIMIT, || {
        let (client, url) = (client.clone(), url.clone());
        async move { answers_200(&client, &url).await }
    })
    .await;
}

/// Writes `contents` to `dir/name`, returning the path.
pub fn write(dir: &Path, name: &str, contents: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, contents).unwrap();
    p
}

/// Loads an example file from the repository and substitutes `(from, to)` pairs. Each
/// `from` must occur, so an example cannot drift away from what the test sets up.
pub fn example(path: &str, substitutions: &[(&str, String)]) -> String {
    let mut text = std::fs::read_to_string(repo().join(path))
        .unwrap_or_else(|e| panic!("cannot read example {path}: {e}"));
    for (from, to) in substitutions {
        assert!(
            text.contains(from),
            "example {path} no longer contains `{from}`"
        );
        text = text.replace(from, to);
    }
    text
}
