//! Redis failovers under load, with three sidegate processes sharing the store: a
//! bounded generator sends checks with valid sessions, forged cookies and none, and every
//! answer is counted. A check must never be allowed without a valid session; a valid one
//! may fail (5xx) while the store has no master, never be refused (401) as if logged out.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::harness::browser::sign_in;
use crate::harness::sidegate::SidegateProcess;

pub struct Instances {
    pub procs: Vec<SidegateProcess>,
    pub ports: Vec<u16>,
}

#[derive(Default)]
struct Counts {
    requests: AtomicU64,
    allowed: AtomicU64,
    refused: AtomicU64,
    errors: AtomicU64,
    allowed_without_session: AtomicU64,
    refused_with_session: AtomicU64,
    last_error: Mutex<Option<Instant>>,
}

/// What one failover round saw.
#[derive(Debug)]
pub struct Report {
    pub requests: u64,
    pub allowed: u64,
    pub refused: u64,
    pub errors: u64,
    pub promotion: Duration,
    pub recovery: Duration,
}

pub struct Load {
    stop: Arc<AtomicBool>,
    counts: Arc<Counts>,
    workers: Vec<tokio::task::JoinHandle<()>>,
}

/// Eight workers, one check at a time each, round-robin over the instances: half with a
/// valid session (from `sessions`), a quarter forged, a quarter without a cookie.
pub fn start_load(instances: &Instances, sessions: &[String]) -> Load {
    let stop = Arc::new(AtomicBool::new(false));
    let counts = Arc::new(Counts::default());
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let addrs: Vec<_> = instances.procs.iter().map(|p| p.addr).collect();
    let workers = (0..8usize)
        .map(|w| {
            let (client, addrs, sessions) = (client.clone(), addrs.clone(), sessions.to_vec());
            let (stop, counts) = (stop.clone(), counts.clone());
            tokio::spawn(async move {
                let mut n = w;
                while !stop.load(Ordering::Relaxed) {
                    n = n.wrapping_add(7);
                    let valid = n % 4 < 2;
                    let cookie = match n % 4 {
                        0 | 1 => Some(sessions[n % sessions.len()].clone()),
                        2 => Some("AAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA".to_owned()),
                        _ => None,
                    };
                    let status = check(&client, addrs[n % addrs.len()], cookie.as_deref()).await;
                    counts.requests.fetch_add(1, Ordering::Relaxed);
                    match status {
                        200 if valid => counts.allowed.fetch_add(1, Ordering::Relaxed),
                        200 => counts
                            .allowed_without_session
                            .fetch_add(1, Ordering::Relaxed),
                        401 if valid => counts.refused_with_session.fetch_add(1, Ordering::Relaxed),
                        401 => counts.refused.fetch_add(1, Ordering::Relaxed),
                        _ => {
                            *counts.last_error.lock().unwrap() = Some(Instant::now());
                            counts.errors.fetch_add(1, Ordering::Relaxed)
                        }
                    };
                }
            })
        })
        .collect();
    Load {
        stop,
        counts,
        workers,
    }
}

pub use crate::harness::auth_check as check;

impl Load {
    /// Runs until `quiet` has passed without an error (at most `limit`), then stops and
    /// checks that nothing was allowed without a session and no session refused.
    pub async fn finish(
        self,
        killed: Instant,
        promotion: Duration,
        quiet: Duration,
        limit: Duration,
    ) -> Report {
        let started = Instant::now();
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let last = (*self.counts.last_error.lock().unwrap()).unwrap_or(killed);
            if last.elapsed() >= quiet || started.elapsed() > limit {
                break;
            }
        }
        self.stop.store(true, Ordering::Relaxed);
        for w in self.workers {
            w.await.unwrap();
        }
        let c = &self.counts;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        assert_eq!(
            get(&c.allowed_without_session),
            0,
            "checks allowed without a valid session"
        );
        assert_eq!(
            get(&c.refused_with_session),
            0,
            "valid sessions refused as if logged out (the store lost or misread them)"
        );
        let last = (*c.last_error.lock().unwrap()).unwrap_or(killed);
        Report {
            requests: get(&c.requests),
            allowed: get(&c.allowed),
            refused: get(&c.refused),
            errors: get(&c.errors),
            promotion,
            recovery: last.saturating_duration_since(killed),
        }
    }
}

/// Polls `master` every 50 ms until it names a node other than `old` (at most 30 s
/// after `killed`); the new master.
pub async fn promoted<F, Fut>(killed: Instant, old: u16, mut master: F) -> u16
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<u16>>,
{
    loop {
        match master().await {
            Some(m) if m != old => return m,
            _ => {}
        }
        assert!(
            killed.elapsed() < Duration::from_secs(30),
            "no promotion 30 s after the kill"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Ends a failover round: waits until checks are back (3 s without an error), then
/// asserts the round's guarantees: answers of both kinds, recovery within 10 s of the
/// promotion, and every session in `sessions` still valid on every instance.
pub async fn recovered(
    load: Load,
    killed: Instant,
    instances: &Instances,
    sessions: &[String],
    what: &str,
) -> Report {
    let promotion = killed.elapsed();
    let report = load
        .finish(
            killed,
            promotion,
            Duration::from_secs(3),
            Duration::from_secs(30),
        )
        .await;
    println!("{what}: {report:?}");
    assert!(report.allowed > 0 && report.refused > 0, "{report:?}");
    assert!(
        report.recovery <= promotion + Duration::from_secs(10),
        "checks failed until {:?} after the kill, the promotion was at {promotion:?}",
        report.recovery
    );
    let client = reqwest::Client::new();
    for proc in &instances.procs {
        for s in sessions {
            assert_eq!(
                check(&client, proc.addr, Some(s)).await,
                200,
                "a session written before the kill is gone on {}",
                proc.addr
            );
        }
    }
    report
}

/// The round as a row of the README's failover table.
pub fn row(round: &str, r: &Report) -> String {
    format!(
        "| {round} | {} | {} | {} | {} | {:.1} s | {:.1} s |",
        r.requests,
        r.allowed,
        r.refused,
        r.errors,
        r.promotion.as_secs_f64(),
        r.recovery.as_secs_f64()
    )
}

/// Logs in on the first instance, checks that the others accept the session, logs out
/// there, and measures how long until the other two refuse it (must be within 100 ms).
pub async fn logout_reaches_the_others(instances: &Instances) -> Duration {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let session = sign_in(instances.ports[0]).await;
    for addr in instances.procs.iter().map(|p| p.addr) {
        assert_eq!(
            check(&client, addr, Some(&session)).await,
            200,
            "a fresh session refused by {addr}"
        );
    }
    let out = client
        .get(format!("http://{}/logout", instances.procs[0].addr))
        .header("host", format!("auth.example.test:{}", instances.ports[0]))
        .header("cookie", format!("_sidegate={session}"))
        .send()
        .await
        .unwrap();
    assert!(
        out.status().is_redirection() || out.status().is_success(),
        "logout: {}",
        out.status()
    );
    let logged_out = Instant::now();
    for addr in instances.procs.iter().skip(1).map(|p| p.addr) {
        loop {
            let status = check(&client, addr, Some(&session)).await;
            if status == 401 {
                break;
            }
            assert!(
                logged_out.elapsed() < Duration::from_secs(2),
                "{addr} still answers {status} for a session logged out elsewhere"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let took = logged_out.elapsed();
    assert!(
        took <= Duration::from_millis(100),
        "the logout took {took:?} to reach the other instances"
    );
    took
}
