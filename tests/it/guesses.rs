//! Limits on guessing (`SIDEGATE_GUESS_LIMIT`, `SIDEGATE_GUESS_REFILL`): failed API-key
//! attempts are counted per client address and per key id in Redis, shared by every
//! instance; an empty bucket answers 429 with `Retry-After` through each real proxy, and
//! what a client writes in forwarded headers never moves it to a fresh bucket.

use std::process::Command;

use reqwest::StatusCode;

use crate::harness::stack::{stack, Options, ProxyKind};
use crate::harness::{free_port, sidegate, write, RedisServer, Sidegate};

/// A well-formed key nobody issued, with id number `n`.
fn forged(n: usize) -> String {
    format!("sgk_{n:0>22}_{}", "A".repeat(43))
}

fn retry_after(r: &reqwest::Response) -> u64 {
    r.headers()
        .get("retry-after")
        .unwrap_or_else(|| panic!("429 without Retry-After: {:?}", r.headers()))
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_keys_are_limited_per_client_through_every_proxy() {
    for proxy in [
        ProxyKind::Nginx("sidegate.conf"),
        ProxyKind::Traefik,
        ProxyKind::Caddy,
    ] {
        let s = stack(Options {
            proxy,
            vars: vec![
                ("SIDEGATE_GUESS_LIMIT", "3"),
                ("SIDEGATE_GUESS_REFILL", "1h"),
            ],
            ..Options::default()
        })
        .await;
        let attacker = s.client();
        // A new key id each time, and a new address in every forwarded header a client can
        // write: none of it is the address the proxy saw.
        let attempt = |n: usize| {
            attacker
                .get(s.app("/api"))
                .header("authorization", format!("Bearer {}", forged(n)))
                .header("x-forwarded-for", format!("198.51.100.{n}"))
                .header("x-real-ip", format!("198.51.100.{n}"))
                .header("forwarded", format!("for=198.51.100.{n}"))
                .header("true-client-ip", format!("198.51.100.{n}"))
                .send()
        };
        for n in 0..3 {
            let r = attempt(n).await.unwrap();
            assert_eq!(
                r.status(),
                StatusCode::UNAUTHORIZED,
                "{proxy:?} attempt {n}"
            );
            let challenge = r.headers()["www-authenticate"].to_str().unwrap();
            assert!(
                challenge.contains("invalid_token"),
                "{proxy:?}: {challenge}"
            );
        }
        for n in 3..5 {
            let r = attempt(n).await.unwrap();
            assert_eq!(
                r.status(),
                StatusCode::TOO_MANY_REQUESTS,
                "{proxy:?} attempt {n}"
            );
            let secs = retry_after(&r);
            assert!((1..=3600).contains(&secs), "{proxy:?}: Retry-After {secs}");
            assert!(r.bytes().await.unwrap().len() < 1024, "{proxy:?}");
        }
        // Another client address has its own bucket.
        let other = s.client_from([127, 0, 0, 2]);
        let r = other
            .get(s.app("/api"))
            .header("authorization", format!("Bearer {}", forged(99)))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{proxy:?}");
        // People without a key are not limited: the navigation still goes to sign in.
        let r = attacker
            .get(s.app("/"))
            .header("accept", "text/html")
            .header("sec-fetch-mode", "navigate")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FOUND, "{proxy:?}");
        let buckets = s.redis.keys("sidegate:g:*").await;
        assert!(
            buckets.iter().any(|k| k == "sidegate:g:addr:127.0.0.1"),
            "{proxy:?}: {buckets:?}"
        );
        assert!(
            !buckets.iter().any(|k| k.contains("198.51.100")),
            "{proxy:?}: a client-written address got a bucket: {buckets:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_count_is_shared_by_instances_per_address_and_per_key_id() {
    let redis = RedisServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let apps = write(dir.path(), "apps.toml", "[apps.backup]\n");
    let mut v = sidegate::vars(
        "http://auth.example.test",
        &format!("http://127.0.0.1:{}/", free_port()),
        Some(&redis.url()),
    );
    v.push(("SIDEGATE_APPS_FILE".into(), apps.display().to_string()));
    v.push(("SIDEGATE_GUESS_LIMIT".into(), "3".into()));
    v.push(("SIDEGATE_GUESS_REFILL".into(), "10m".into()));
    let create = |name: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_sidegate"))
            .env_clear()
            .envs(v.iter().cloned())
            .args(["apikey", "create", "--name", name, "--profile", "backup"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    let (key, spare) = (create("ci"), create("spare"));
    let instances = [
        Sidegate::start(v.clone()).await,
        Sidegate::start(v.clone()).await,
    ];
    // The proxy in front appended the client's address (sidegate trusts loopback).
    let check = |i: usize, from: &str, key: &str| {
        reqwest::Client::new()
            .get(format!("http://{}/auth/backup", instances[i].addr))
            .header("x-forwarded-proto", "https")
            .header("x-forwarded-host", "backup.example.test")
            .header("x-forwarded-uri", "/api")
            .header("x-forwarded-for", from.to_owned())
            .header("authorization", format!("Bearer {key}"))
            .send()
    };
    let wrong = format!(
        "{}{}",
        &key[..key.len() - 1],
        if key.ends_with('A') { 'B' } else { 'A' }
    );
    assert_eq!(check(0, "203.0.113.1", &key).await.unwrap().status(), 200);
    // Three wrong secrets for the key's id, spread over both instances.
    for (i, n) in [(0, 1), (1, 2), (0, 3)] {
        let r = check(i, "203.0.113.1", &wrong).await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "attempt {n}");
    }
    // Now refused without looking, on either instance, even with the right secret: from
    // that address, and for that key id from anywhere.
    for (i, from, k) in [
        (1, "203.0.113.1", &key),
        (0, "203.0.113.1", &spare),
        (1, "203.0.113.2", &key),
    ] {
        let r = check(i, from, k).await.unwrap();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS, "{from}");
        assert!(retry_after(&r) <= 600);
    }
    // Another key from another address is not affected.
    assert_eq!(check(1, "203.0.113.2", &spare).await.unwrap().status(), 200);
    // IPv6 clients share their /64.
    for n in 1..=3 {
        let r = check(0, &format!("2001:db8:0:1::{n}"), &forged(n))
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let r = check(1, "2001:db8:0:1:ffff::9", &forged(7)).await.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let r = check(1, "2001:db8:0:2::1", &forged(8)).await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // The buckets expire once they would be full again.
    let mut c = redis.conn().await;
    let ttl: i64 = redis::cmd("PTTL")
        .arg("sidegate:g:addr:203.0.113.1")
        .query_async(&mut c)
        .await
        .unwrap();
    assert!(ttl > 0 && ttl <= 30 * 60 * 1000, "{ttl}");
}
