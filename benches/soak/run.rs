//! The soak (`make soak`, ten minutes; `cargo test` runs three seconds of it so it cannot
//! rot): three sidegate instances sharing one Redis, under mixed traffic from a bounded
//! generator (valid sessions, forged and unknown cookies, no cookie, and a fresh login every
//! few seconds), every answer checked against what it must be, each instance's RSS sampled
//! every 10 s. Written to `target/bench/soak.md`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::harness::sidegate::SidegateProcess;
use super::harness::{auth_check, free_port, Idp, RedisServer};
use super::{login, vars};

/// Resident memory of process `pid` in KiB, from /proc.
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_owned))
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[derive(Default)]
struct Counts {
    requests: AtomicU64,
    logins: AtomicU64,
    wrong: AtomicU64,
}

pub async fn soak(seconds: u64, write: bool) {
    let redis = RedisServer::start().await;
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let idp = Idp::for_ports(&ports).await;
    let mut instances = Vec::new();
    for p in &ports {
        instances.push(
            SidegateProcess::spawn_on(*p, vars(*p, &idp.issuer(), Some(&redis.url()), &[])).await,
        );
    }
    let mut cookies = Vec::new();
    for p in &ports {
        cookies.push(login(*p).await);
    }
    let counts = Arc::new(Counts::default());
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(8)
        .build()
        .unwrap();
    let addrs: Vec<_> = instances.iter().map(|i| i.addr).collect();
    // Eight workers, each one request at a time: a bounded generator.
    let mut workers = Vec::new();
    for w in 0..8usize {
        let (client, addrs, cookies, counts) = (
            client.clone(),
            addrs.clone(),
            cookies.clone(),
            counts.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut n = w;
            while Instant::now() < deadline {
                n = n.wrapping_add(7);
                let addr = addrs[n % addrs.len()];
                let (cookie, want) = match n % 4 {
                    0 | 1 => (Some(cookies[n % cookies.len()].as_str()), 200),
                    2 => (Some("AAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA"), 401),
                    _ => (None, 401),
                };
                let status = auth_check(&client, addr, cookie).await;
                counts.requests.fetch_add(1, Ordering::Relaxed);
                if status != want {
                    counts.wrong.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    // Logins all along, round-robin over the instances.
    let logins = {
        let (ports, counts) = (ports.clone(), counts.clone());
        tokio::spawn(async move {
            let mut i = 0;
            while Instant::now() < deadline {
                let _ = login(ports[i % ports.len()]).await;
                counts.logins.fetch_add(1, Ordering::Relaxed);
                i += 1;
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        })
    };
    let pids: Vec<u32> = instances.iter().map(|i| i.proc.pid()).collect();
    let mut samples: Vec<Vec<u64>> = vec![pids.iter().map(|p| rss_kib(*p)).collect()];
    while Instant::now() < deadline {
        tokio::time::sleep(
            Duration::from_secs(10).min(deadline.saturating_duration_since(Instant::now())),
        )
        .await;
        samples.push(pids.iter().map(|p| rss_kib(*p)).collect());
    }
    for w in workers {
        w.await.unwrap();
    }
    logins.await.unwrap();
    for i in &mut instances {
        i.proc.assert_running();
    }

    let requests = counts.requests.load(Ordering::Relaxed);
    let wrong = counts.wrong.load(Ordering::Relaxed);
    let mut worst: f64 = 0.0;
    let mut out = format!(
        "# sidegate soak ({seconds} s, three instances, one Redis)\n\n{requests} checks (half with valid sessions, a quarter forged, a quarter without a cookie), {} logins, **{wrong} wrong or failed answers**.\n\n| instance | RSS first (KiB) | after warm-up (KiB) | last (KiB) | max (KiB) | growth after warm-up |\n|---|---|---|---|---|---|\n",
        counts.logins.load(Ordering::Relaxed)
    );
    for (i, _) in pids.iter().enumerate() {
        let series: Vec<u64> = samples.iter().map(|s| s[i]).collect();
        // The first sample after startup traffic settles (or the first, in short runs).
        let warm = series.get(1).copied().unwrap_or(series[0]);
        let last = *series.last().unwrap();
        let max = *series.iter().max().unwrap();
        let growth = (last as f64 - warm as f64) / warm.max(1) as f64 * 100.0;
        worst = worst.max(growth);
        out.push_str(&format!(
            "| {} | {} | {warm} | {last} | {max} | {growth:+.1} % |\n",
            i + 1,
            series[0]
        ));
    }
    println!("{out}");
    if write {
        let dir = super::harness::repo().join("target/bench");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("soak.md"), &out).unwrap();
        println!("written to target/bench/soak.md");
    }
    assert!(requests > 0, "the soak sent nothing");
    assert_eq!(wrong, 0, "wrong answers during the soak");
    // Memory must stay flat (within 10 %) once warm; too noisy to judge in short runs.
    if seconds >= 60 {
        assert!(worst <= 10.0, "RSS grew {worst:.1} % during the soak");
    }
}
