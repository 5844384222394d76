//! What sidegate's check costs, as DESIGN.md measures it: ratios against floors measured
//! in the same run on the same box, never absolute times.
//!
//! - direct `/auth` with a valid session ÷ a no-op warp responder answering an empty 200;
//! - through nginx, Traefik and Caddy (the example configs) with sidegate as the auth
//!   service ÷ the same proxy with the no-op responder as the auth service;
//! - Redis memory per session, without and with the user's tokens kept.
//!
//! Everything is real: redis-server, the test OpenID Provider (a real login makes the
//! sessions), sidegate's release binary, the proxies; load comes from `wrk` in its own
//! process. `make bench` runs it in full (`cargo bench --bench auth`) and writes
//! `target/bench/auth.md`; `cargo test` runs it as a one-second smoke run so it cannot rot.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[allow(unused_imports)]
#[path = "../tests/it/harness/mod.rs"]
mod harness;

use std::net::SocketAddr;
use std::process::Command;

use harness::browser::sign_in as login;
use harness::sidegate::{self as sg, SidegateProcess};
use harness::{free_port, program, Caddy, Idp, Nginx, Proc, RedisServer, Traefik};

#[path = "soak/run.rs"]
mod soak;

#[path = "instructions/count.rs"]
mod instructions;

/// Set in the environment of the copy of this binary that serves as the no-op responder.
const NOOP_VAR: &str = "SIDEGATE_BENCH_NOOP";

fn main() {
    if let Ok(addr) = std::env::var(NOOP_VAR) {
        noop(addr.parse().unwrap());
        return;
    }
    let full = std::env::args().any(|a| a == "--bench");
    let seconds = std::env::var("SIDEGATE_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(if full { 5 } else { 1 });
    if let Ok(soak_seconds) = std::env::var("SIDEGATE_SOAK_SECONDS") {
        let soak_seconds = soak_seconds.parse().unwrap_or(600);
        tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(soak::soak(soak_seconds, true));
        return;
    }
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        run(Settings { full, seconds }).await;
        // The soak, for a few seconds, so it cannot rot (`make soak` runs ten minutes).
        if !full {
            soak::soak(3, false).await;
        }
    });
}

/// The floor: warp answering every request with an empty 200, on tokio's default runtime
/// like sidegate's. With `SIDEGATE_BENCH_NOOP_GET=<redis url> <key>` it first reads that
/// key from Redis (one GET per request: the floor of a check the cache cannot answer).
/// It exits on SIGTERM (so callgrind writes its counts).
fn noop(addr: SocketAddr) {
    use warp::Filter;
    let get = std::env::var("SIDEGATE_BENCH_NOOP_GET").ok();
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(async move {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).unwrap();
            let serve = async move {
                match get {
                    None => warp::serve(warp::any().map(warp::reply)).run(addr).await,
                    Some(spec) => {
                        let (url, key) = spec.split_once(' ').unwrap();
                        let client = redis::Client::open(url).unwrap();
                        let conn = redis::aio::ConnectionManager::new(client).await.unwrap();
                        let key = key.to_owned();
                        let route = warp::any().then(move || {
                            let (mut conn, key) = (conn.clone(), key.clone());
                            async move {
                                let v: Option<Vec<u8>> =
                                    redis::AsyncCommands::get(&mut conn, &key).await.unwrap();
                                let _ = std::hint::black_box(v);
                                warp::reply()
                            }
                        });
                        warp::serve(route).run(addr).await;
                    }
                }
            };
            tokio::select! {
                () = serve => {}
                _ = term.recv() => {}
            }
        });
}

struct Settings {
    full: bool,
    seconds: u32,
}

/// One load target: where wrk sends requests and with which headers.
#[derive(Clone)]
struct Target {
    url: String,
    headers: Vec<(String, String)>,
}

impl Target {
    /// A request a proxy would send to `/auth` for `app.example.test`, with `cookie`.
    fn auth(addr: SocketAddr, path: &str, cookie: &str) -> Target {
        Target {
            url: format!("http://{addr}{path}"),
            headers: vec![
                ("X-Forwarded-Proto".into(), "http".into()),
                ("X-Forwarded-Host".into(), "app.example.test".into()),
                ("X-Forwarded-Uri".into(), "/".into()),
                ("X-Forwarded-Method".into(), "GET".into()),
                ("Cookie".into(), format!("_sidegate={cookie}")),
            ],
        }
    }

    /// A browser's request for the app behind a proxy on `port`.
    fn app(port: u16, cookie: &str) -> Target {
        Target {
            url: format!("http://127.0.0.1:{port}/"),
            headers: vec![
                ("Host".into(), format!("app.example.test:{port}")),
                ("Cookie".into(), format!("_sidegate={cookie}")),
            ],
        }
    }

    /// Fails unless one request gets a 200 (so a misconfiguration is never measured).
    async fn check(&self, what: &str) {
        let mut req = reqwest::Client::new().get(&self.url);
        for (k, v) in &self.headers {
            req = req.header(k, v);
        }
        let r = req.send().await.unwrap();
        assert_eq!(
            r.status(),
            200,
            "{what}: {} answered {}",
            self.url,
            r.status()
        );
    }
}

/// Requests per second wrk reaches against `target` (one wrk thread, 16 connections).
async fn wrk(target: &Target, seconds: u32) -> f64 {
    let bin = program("wrk", "apt-get install -y wrk");
    let mut cmd = Command::new(bin);
    cmd.args(["-t1", "-c16", &format!("-d{seconds}s")]);
    for (k, v) in &target.headers {
        cmd.arg("-H").arg(format!("{k}: {v}"));
    }
    cmd.arg(&target.url);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "wrk failed: {text}");
    assert!(
        !text.contains("Non-2xx") && !text.contains("Socket errors"),
        "wrk saw failures against {}:\n{text}",
        target.url
    );
    text.lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no Requests/sec in wrk's output:\n{text}"))
}

/// The best of a few alternating runs of the floor and the target, so drift on a shared
/// machine hits both alike.
async fn compare(s: &Settings, floor: &Target, target: &Target) -> (f64, f64) {
    let rounds = if s.full { 3 } else { 1 };
    if s.full {
        wrk(floor, 1).await;
        wrk(target, 1).await;
    }
    let (mut best_floor, mut best_target) = (0f64, 0f64);
    for _ in 0..rounds {
        best_floor = best_floor.max(wrk(floor, s.seconds).await);
        best_target = best_target.max(wrk(target, s.seconds).await);
    }
    (best_floor, best_target)
}

/// Logs in as alice through sidegate listening on `port`; the session cookie.
fn vars(
    port: u16,
    issuer: &str,
    redis: Option<&str>,
    extra: &[(&str, &str)],
) -> Vec<(String, String)> {
    let mut v = sg::vars(&format!("http://auth.example.test:{port}"), issuer, redis);
    v.retain(|(k, _)| k != "SIDEGATE_LOG");
    v.push(("SIDEGATE_LOG".into(), "warn".into()));
    v.extend(
        extra
            .iter()
            .map(|(k, val)| ((*k).to_owned(), (*val).to_owned())),
    );
    v
}

async fn start_noop() -> (SocketAddr, Proc) {
    let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.env(NOOP_VAR, addr.to_string());
    let mut proc = Proc::spawn("noop", tempfile::tempdir().unwrap(), cmd);
    proc.wait_until(harness::STARTUP_LIMIT, || async move {
        tokio::net::TcpStream::connect(addr).await.is_ok()
    })
    .await;
    (addr, proc)
}

/// Redis's own count of the memory a session's key takes (`MEMORY USAGE`, allocator size
/// classes included), and the length of the sealed value in it.
async fn memory_usage(redis: &RedisServer, cookie: &str) -> (u64, u64) {
    let key = format!("sidegate:s:{}", cookie.split_once('.').unwrap().0);
    let client = redis::Client::open(redis.url()).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    let usage = redis::cmd("MEMORY")
        .arg("USAGE")
        .arg(&key)
        .arg("SAMPLES")
        .arg(0)
        .query_async(&mut c)
        .await
        .unwrap();
    let len = redis::cmd("STRLEN")
        .arg(&key)
        .query_async(&mut c)
        .await
        .unwrap();
    (usage, len)
}

struct Row {
    what: String,
    floor: f64,
    target: f64,
}

/// Instructions per check of sidegate and of its floor, counted in the same run.
struct Counted {
    what: &'static str,
    floor_name: &'static str,
    floor: f64,
    target: f64,
    /// The highest ratio to the floor that meets the target.
    limit: f64,
}

async fn run(s: Settings) {
    let redis = RedisServer::start().await;
    let ports: Vec<u16> = (0..4).map(|_| free_port()).collect();
    let (p_cache, p_memory, p_tokens, p_lean) = (ports[0], ports[1], ports[2], ports[3]);
    let callbacks: Vec<String> = ports
        .iter()
        .map(|p| format!("http://auth.example.test:{p}/callback"))
        .collect();
    let idp = Idp::start(&callbacks).await;
    let issuer = idp.issuer();
    let url = redis.url();

    let apps_dir = tempfile::tempdir().unwrap();
    let apps = harness::write(
        apps_dir.path(),
        "apps.toml",
        "[apps.tokens]\ncredential = { type = \"access_token\" }\n",
    );
    let apps = apps.display().to_string();
    let cached = SidegateProcess::spawn_on(p_cache, vars(p_cache, &issuer, Some(&url), &[])).await;
    // Same Redis and cookie secret, so the same session opens on it.
    let uncached = SidegateProcess::spawn(vars(
        p_cache,
        &issuer,
        Some(&url),
        &[("SIDEGATE_SESSION_CACHE_TTL", "0")],
    ))
    .await;
    let memory = SidegateProcess::spawn_on(p_memory, vars(p_memory, &issuer, None, &[])).await;
    let tokens = SidegateProcess::spawn_on(
        p_tokens,
        vars(
            p_tokens,
            &issuer,
            Some(&url),
            &[("SIDEGATE_APPS_FILE", &apps)],
        ),
    )
    .await;
    // Without logout at the IdP there is no ID token to keep as its hint: no tokens at all.
    let lean = SidegateProcess::spawn_on(
        p_lean,
        vars(
            p_lean,
            &issuer,
            Some(&url),
            &[("SIDEGATE_LOGOUT_AT_IDP", "false")],
        ),
    )
    .await;
    let cookie = login(p_cache).await;
    let memory_cookie = login(p_memory).await;
    let tokens_cookie = login(p_tokens).await;
    let lean_cookie = login(p_lean).await;
    let (noop_addr, _noop) = start_noop().await;

    let mut rows = Vec::new();
    let floor = Target::auth(noop_addr, "/auth", &cookie);
    // SIDEGATE_BENCH_INSTRUCTIONS_ONLY=1 counts instructions and skips wrk (judging one
    // optimisation takes a minute that way).
    let wrk_too = std::env::var("SIDEGATE_BENCH_INSTRUCTIONS_ONLY").as_deref() != Ok("1");
    let direct: &[(&str, &SidegateProcess, &String)] = if wrk_too {
        &[
            (
                "direct /auth, Redis, session cache on (default)",
                &cached,
                &cookie,
            ),
            ("direct /auth, Redis, session cache off", &uncached, &cookie),
            ("direct /auth, memory store", &memory, &memory_cookie),
        ]
    } else {
        &[]
    };
    for &(what, sidegate, cookie) in direct {
        let target = Target::auth(sidegate.addr, "/auth", cookie);
        target.check(what).await;
        let (f, t) = compare(&s, &floor, &target).await;
        rows.push(Row {
            what: what.into(),
            floor: f,
            target: t,
        });
    }

    // Through each proxy: the app is the no-op responder; only the auth service differs.
    // SIDEGATE_BENCH_DIRECT_ONLY=1 skips them (quicker when working on the check itself).
    let proxies: &[&str] = match std::env::var("SIDEGATE_BENCH_DIRECT_ONLY").as_deref() {
        _ if !wrk_too => &[],
        Ok("1") => &[],
        _ => &["nginx", "Traefik", "Caddy"],
    };
    for &proxy in proxies {
        let (floor_port, target_port) = (free_port(), free_port());
        let _floor_proxy = start_proxy(proxy, floor_port, noop_addr, noop_addr).await;
        let _target_proxy = start_proxy(proxy, target_port, cached.addr, noop_addr).await;
        let floor = Target::app(floor_port, &cookie);
        let target = Target::app(target_port, &cookie);
        floor.check(proxy).await;
        target.check(proxy).await;
        let (f, t) = compare(&s, &floor, &target).await;
        rows.push(Row {
            what: format!("{proxy} with sidegate (cache on) vs {proxy} with a no-op auth"),
            floor: f,
            target: t,
        });
    }

    let sizes = Sizes {
        no_tokens: memory_usage(&redis, &lean_cookie).await,
        id_token: memory_usage(&redis, &cookie).await,
        tokens: memory_usage(&redis, &tokens_cookie).await,
    };
    drop((tokens, lean));
    let counted = count_instructions(&s, &issuer, &url, &cookie).await;
    report(&s, &rows, &sizes, &counted);
}

/// Starts a proxy from its example config; it runs until the returned value is dropped.
async fn start_proxy(
    kind: &str,
    port: u16,
    auth: SocketAddr,
    app: SocketAddr,
) -> Box<dyn std::any::Any> {
    match kind {
        "nginx" => Box::new(Nginx::start("sidegate.conf", port, auth, app).await),
        "Traefik" => Box::new(Traefik::start(port, auth, app).await),
        _ => Box::new(Caddy::start(port, auth, app).await),
    }
}

/// Redis memory per session and the sealed value's length, in bytes.
struct Sizes {
    /// `SIDEGATE_LOGOUT_AT_IDP=false`, no profile needing a token: no tokens kept.
    no_tokens: (u64, u64),
    /// The defaults: the ID token kept as the hint for logout at the IdP.
    id_token: (u64, u64),
    /// A profile passing the user's access token: access, ID and refresh tokens kept.
    tokens: (u64, u64),
}

/// Instructions per check under callgrind (see `instructions.rs`) for each kind of check,
/// and for the floors: the no-op responder, and one doing a Redis GET per request.
async fn count_instructions(s: &Settings, issuer: &str, redis: &str, cookie: &str) -> Vec<Counted> {
    use instructions::{per_check, Check, Responder};
    let (warm, n) = if s.full { (300, 2000) } else { (5, 10) };
    let dir = tempfile::tempdir().unwrap();
    let apps = harness::write(
        dir.path(),
        "apps.toml",
        "[apps.jwt]\ncredential = { type = \"jwt\", algorithm = \"HS256\", secret_env = \"BENCH_JWT_SECRET\", audience = \"bench\", lifetime = \"5m\" }\n\n[apps.basic]\ncredential = { type = \"basic\", user = \"admin\", password_env = \"BENCH_BASIC_PASSWORD\" }\n",
    );
    let apps = apps.display().to_string();
    let port = free_port();
    let sidegate = |cache: &str| Responder {
        program: env!("CARGO_BIN_EXE_sidegate").into(),
        env: vars(
            port,
            issuer,
            Some(redis),
            &[
                ("SIDEGATE_SESSION_CACHE_TTL", cache),
                ("SIDEGATE_APPS_FILE", &apps),
                (
                    "BENCH_JWT_SECRET",
                    "bench-jwt-secret-0123456789-0123456789-abcdef",
                ),
                ("BENCH_BASIC_PASSWORD", "bench-basic-password"),
            ],
        ),
    };
    let noop = |get: Option<String>| Responder {
        program: std::env::current_exe().unwrap(),
        env: [(NOOP_VAR.to_owned(), "{addr}".to_owned())]
            .into_iter()
            .chain(get.map(|g| ("SIDEGATE_BENCH_NOOP_GET".to_owned(), g)))
            .collect(),
    };
    let traefik = Target::auth(SocketAddr::from(([127, 0, 0, 1], 1)), "/auth", cookie).headers;
    let nginx: Vec<(String, String)> = vec![
        ("X-Original-URI".into(), "/".into()),
        ("X-Original-Method".into(), "GET".into()),
        ("X-Forwarded-Proto".into(), "http".into()),
        ("X-Forwarded-Host".into(), "app.example.test".into()),
        ("Cookie".into(), format!("_sidegate={cookie}")),
    ];
    let key = format!("sidegate:s:{}", cookie.split_once('.').unwrap().0);
    let at = |path| Check {
        path,
        headers: &traefik,
    };
    let floor = per_check(&noop(None), &at("/auth"), warm, n).await;
    let get_floor = per_check(&noop(Some(format!("{redis} {key}"))), &at("/auth"), warm, n).await;
    let cached = sidegate("60s");
    let mut out = vec![];
    for (what, responder, check, floor_name, floor, limit) in [
        (
            "direct /auth, session cache hit",
            &cached,
            at("/auth"),
            "no-op",
            floor,
            1.35,
        ),
        (
            "direct /auth, cache off (Redis GET, open the session)",
            &sidegate("0"),
            at("/auth"),
            "one Redis GET",
            get_floor,
            1.5,
        ),
        (
            "/auth/jwt, a minted JWT (cache hit)",
            &cached,
            at("/auth/jwt"),
            "no-op",
            floor,
            1.35,
        ),
        (
            "/auth/basic, HTTP Basic (cache hit)",
            &cached,
            at("/auth/basic"),
            "no-op",
            floor,
            1.35,
        ),
        (
            "/auth/nginx, nginx's headers (cache hit)",
            &cached,
            Check {
                path: "/auth/nginx",
                headers: &nginx,
            },
            "no-op",
            floor,
            1.35,
        ),
    ] {
        let target = per_check(responder, &check, warm, n).await;
        out.push(Counted {
            what,
            floor_name,
            floor,
            target,
            limit,
        });
    }
    out
}

fn report(s: &Settings, rows: &[Row], sizes: &Sizes, counted: &[Counted]) {
    let verdict = |ok: bool| if ok { "meets target" } else { "BELOW TARGET" };
    let mut out = String::new();
    out.push_str(&format!(
        "# sidegate benchmark ({} s runs{})\n\n",
        s.seconds,
        if s.full {
            ", best of 3"
        } else {
            ", smoke run: numbers are not meaningful"
        }
    ));
    out.push_str("| measured | floor req/s | sidegate req/s | ratio | target ≥ 0.95 |\n|---|---|---|---|---|\n");
    for r in rows {
        let ratio = r.target / r.floor;
        out.push_str(&format!(
            "| {} | {:.0} | {:.0} | {ratio:.3} | {} |\n",
            r.what,
            r.floor,
            r.target,
            verdict(ratio >= 0.95)
        ));
    }
    out.push_str("\n| instructions per check (callgrind) | floor | floor's | sidegate's | ratio | target |\n|---|---|---|---|---|---|\n");
    for c in counted {
        let ratio = c.target / c.floor;
        out.push_str(&format!(
            "| {} | {} | {:.0} | {:.0} | {ratio:.2} | ≤ {}: {} |\n",
            c.what,
            c.floor_name,
            c.floor,
            c.target,
            c.limit,
            verdict(ratio <= c.limit)
        ));
    }
    out.push_str(
        "\n| Redis memory per session | MEMORY USAGE (B) | sealed value (B) | target |\n|---|---|---|---|\n",
    );
    for (what, (usage, len), limit) in [
        (
            "no tokens kept (`SIDEGATE_LOGOUT_AT_IDP=false`)",
            sizes.no_tokens,
            512,
        ),
        (
            "defaults (the ID token kept as the IdP logout hint)",
            sizes.id_token,
            2048,
        ),
        (
            "a profile passing the user's access token (access, ID, refresh tokens)",
            sizes.tokens,
            2048,
        ),
    ] {
        out.push_str(&format!(
            "| {what} | {usage} | {len} | ≤ {limit}: {} |\n",
            verdict(usage <= limit)
        ));
    }
    println!("{out}");
    if s.full {
        let dir = harness::repo().join("target/bench");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("auth.md"), &out).unwrap();
        println!("written to target/bench/auth.md");
    }
    for r in rows {
        assert!(
            r.floor > 0.0 && r.target > 0.0,
            "{}: nothing measured",
            r.what
        );
    }
    // A smoke run's counts are too few to rise above the background work (heartbeats,
    // upkeep) of a debug build; that both callgrind runs of each case completed with every
    // answer 200 is what it checks.
    if s.full {
        for c in counted {
            assert!(
                c.floor > 1000.0 && c.target > 1000.0,
                "{}: nothing counted",
                c.what
            );
        }
    }
}
