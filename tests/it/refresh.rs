//! Token refresh against the real OP with refresh-token rotation: many parallel requests on
//! a session whose access token is about to expire cause exactly one refresh at the IdP,
//! on one instance and across three sharing Redis; `invalid_grant` ends the session.

use std::time::Duration;

use futures_util::future::join_all;
use reqwest::StatusCode;

use crate::harness::browser::{location, Browser};
use crate::harness::{free_port, sidegate, write, Idp, RedisServer, Sidegate};

const TTL: u64 = 4;

struct Setup {
    idp: Idp,
    redis: RedisServer,
    instances: Vec<Sidegate>,
    port: u16,
    _dir: tempfile::TempDir,
}

async fn setup() -> Setup {
    let port = free_port();
    let public = format!("http://auth.example.test:{port}");
    let ttl = TTL.to_string();
    let idp = Idp::start_with(
        &[format!("{public}/callback")],
        &[("IDP_ACCESS_TOKEN_TTL", ttl.as_str())],
    )
    .await;
    let redis = RedisServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let apps = write(
        dir.path(),
        "apps.toml",
        "[apps.tokens]\ncredential = { type = \"access_token\" }\n",
    );
    let vars = || {
        let mut v = sidegate::vars(&public, &idp.issuer(), Some(&redis.url()));
        v.push(("SIDEGATE_APPS_FILE".into(), apps.display().to_string()));
        v
    };
    let mut instances = vec![Sidegate::start_at(port, vars()).await];
    instances.push(Sidegate::start(vars()).await);
    instances.push(Sidegate::start(vars()).await);
    for sg in &instances {
        sg.wait_ready().await;
    }
    Setup {
        idp,
        redis,
        instances,
        port,
        _dir: dir,
    }
}

impl Setup {
    async fn login(&self, user: &str) -> String {
        let b = Browser::new(self.port);
        let start = format!(
            "http://auth.example.test:{}/start?rd=http%3A%2F%2Fapp.example.test%2F",
            self.port
        );
        let r = b.navigate(&start).await;
        let callback = b
            .login_at_idp(
                &location(&r),
                user,
                &format!("http://auth.example.test:{}/callback", self.port),
            )
            .await;
        let r = b.navigate(&callback).await;
        assert_eq!(location(&r), "http://app.example.test/");
        b.cookie(
            &format!("http://app.example.test:{}/", self.port),
            "_sidegate",
        )
        .unwrap()
    }

    /// One check on instance `i`: the status and the access token sidegate passed upstream.
    async fn check(&self, i: usize, cookie: &str) -> (StatusCode, String) {
        let r = reqwest::Client::new()
            .get(format!("http://{}/auth/tokens", self.instances[i].addr))
            .header("x-forwarded-proto", "http")
            .header("x-forwarded-host", "app.example.test")
            .header("x-forwarded-uri", "/api")
            .header("sec-fetch-mode", "cors")
            .header("cookie", format!("_sidegate={cookie}"))
            .send()
            .await
            .unwrap();
        let token = r
            .headers()
            .get("authorization")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (r.status(), token)
    }

    async fn refreshes(&self) -> u64 {
        let stats: serde_json::Value = reqwest::get(format!("{}/_test/stats", self.idp.issuer()))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        stats["grant.success:refresh_token"].as_u64().unwrap_or(0)
    }

    /// Fires 100 checks at once, spread over `instances`; all must pass with one new token.
    async fn burst(&self, cookie: &str, instances: usize, old: &str) -> String {
        let results = join_all((0..100).map(|n| self.check(n % instances, cookie))).await;
        let tokens: std::collections::BTreeSet<&str> =
            results.iter().map(|(_, t)| t.as_str()).collect();
        for (status, _) in &results {
            assert_eq!(*status, StatusCode::OK);
        }
        assert_eq!(tokens.len(), 1, "requests saw different tokens: {tokens:?}");
        let new = tokens.into_iter().next().unwrap().to_owned();
        assert!(
            new.starts_with("Bearer ") && new != old,
            "the token was not refreshed"
        );
        new
    }
}

/// Waits until the access token is close enough to expiry that a refresh is due
/// (half its lifetime; a fixed wait, since a token's age is what is tested).
async fn until_due() {
    tokio::time::sleep(Duration::from_millis(TTL * 1000 / 2 + 300)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_refresh_for_a_hundred_parallel_requests_on_one_and_three_instances() {
    let s = setup().await;
    let cookie = s.login("alice").await;
    let (status, first) = s.check(0, &cookie).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(s.refreshes().await, 0);

    until_due().await;
    let second = s.burst(&cookie, 1, &first).await;
    assert_eq!(
        s.refreshes().await,
        1,
        "one instance: more than one refresh at the IdP"
    );

    until_due().await;
    s.burst(&cookie, 3, &second).await;
    assert_eq!(
        s.refreshes().await,
        2,
        "three instances: more than one refresh at the IdP"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_refresh_token_ends_the_session() {
    let s = setup().await;
    let cookie = s.login("bob").await;
    let id = cookie.split_once('.').unwrap().0;
    let key = format!("sidegate:s:{id}");
    let mut c = s.redis.conn().await;
    // Keep the session as it is now, with the first refresh token...
    let stale: Vec<u8> = redis::cmd("GET")
        .arg(&key)
        .query_async(&mut c)
        .await
        .unwrap();
    until_due().await;
    let (status, _) = s.check(0, &cookie).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(s.refreshes().await, 1);
    // ...and put it back, as if a refresh had been lost: its refresh token was rotated out.
    let _: () = redis::cmd("SET")
        .arg(&key)
        .arg(stale)
        .query_async(&mut c)
        .await
        .unwrap();
    let (status, _) = s.check(1, &cookie).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a session whose refresh token the IdP refused was allowed"
    );
    let exists: u32 = redis::cmd("EXISTS")
        .arg(&key)
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(exists, 0, "the session was not ended");
}
