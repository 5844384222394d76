//! Instructions per check, counted by valgrind's callgrind over the whole process (user
//! space only): unlike requests per second they do not move with the machine's noise, so
//! each optimisation is judged by them.
//!
//! A responder runs twice under callgrind, answering `warm` checks the first time and
//! `warm + n` the second, each on one keep-alive connection; the difference of the two
//! totals divided by `n` is the cost of one check (startup and warm-up cancel out).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::harness::{program, Proc};

/// A program answering checks, and its environment (`{addr}` stands for where it must
/// listen; `SIDEGATE_LISTEN` is set to it as well).
pub struct Responder {
    pub program: std::path::PathBuf,
    pub env: Vec<(String, String)>,
}

/// One kind of check: the path and the headers a proxy sends.
pub struct Check<'a> {
    pub path: &'a str,
    pub headers: &'a [(String, String)],
}

/// Total instructions of one callgrind run of `responder` answering `count` checks.
async fn run(responder: &Responder, check: &Check<'_>, count: usize) -> u64 {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("callgrind.out");
    let port = super::harness::free_port();
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut cmd = Command::new(program("valgrind", "apt-get install -y valgrind"));
    cmd.arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(&responder.program)
        .env_clear()
        .envs(
            responder
                .env
                .iter()
                .map(|(k, v)| (k.clone(), v.replace("{addr}", &addr.to_string()))),
        )
        .env("SIDEGATE_LISTEN", addr.to_string());
    if let Ok(path) = std::env::var("PATH") {
        cmd.env("PATH", path);
    }
    let mut proc = Proc::spawn("callgrind", dir, cmd);
    let url = format!("http://{addr}/readyz");
    let probe = reqwest::Client::new();
    proc.wait_until(Duration::from_secs(120), || {
        let (probe, url) = (probe.clone(), url.clone());
        async move {
            probe
                .get(&url)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
        }
    })
    .await;
    // One keep-alive connection, one check at a time (as a proxy's pooled connection).
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .build()
        .unwrap();
    let url = format!("http://{addr}{}", check.path);
    for i in 0..count {
        let mut req = client.get(&url);
        for (k, v) in check.headers {
            req = req.header(k, v);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 200, "check {i} under callgrind: {}", r.status());
    }
    drop(client);
    proc.terminate();
    assert!(
        proc.wait_exit(Duration::from_secs(60)).await.is_some(),
        "the responder did not exit on SIGTERM"
    );
    // SIDEGATE_BENCH_CALLGRIND_DIR keeps every output there, for callgrind_annotate.
    if let Ok(keep) = std::env::var("SIDEGATE_BENCH_CALLGRIND_DIR") {
        std::fs::create_dir_all(&keep).unwrap();
        // Numbered in the order measured: several scenarios share a path.
        static RUN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let run = RUN.fetch_add(1, std::sync::atomic::Ordering::Relaxed) / 2;
        let name = format!(
            "{run:02}-{}-{count}.out",
            check.path.trim_start_matches('/').replace('/', "-")
        );
        let _ = std::fs::copy(&out, Path::new(&keep).join(name));
    }
    total(&out, &proc)
}

/// The `summary:` (or `totals:`) line of a callgrind output file.
fn total(out: &Path, proc: &Proc) -> u64 {
    let text = std::fs::read_to_string(out)
        .unwrap_or_else(|e| panic!("no callgrind output ({e}):\n{}", proc.log()));
    text.lines()
        .find_map(|l| {
            l.strip_prefix("summary: ")
                .or_else(|| l.strip_prefix("totals: "))
        })
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no summary in the callgrind output"))
}

/// Instructions per check of `responder` for `target`.
pub async fn per_check(responder: &Responder, check: &Check<'_>, warm: usize, n: usize) -> f64 {
    let base = run(responder, check, warm).await;
    let more = run(responder, check, warm + n).await;
    (more as f64 - base as f64) / n as f64
}
