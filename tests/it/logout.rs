//! Ending sessions, against the real OpenID Provider and three sidegate instances sharing
//! one Redis: RP-initiated logout, back-channel logout (with replay refused), sign out
//! everywhere, the operator endpoint and CLI, and idle/absolute lifetimes; and the session
//! cache: used, invalidated on every instance within 100 ms, off when Redis is gone.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use warp::Filter;

use crate::harness::browser::{location, Browser};
use crate::harness::redis_cluster::RedisCluster;
use crate::harness::{free_port, serve, sidegate, Echo, Idp, Nginx, RedisServer, Served, Sidegate};

const ADMIN_TOKEN: &str = "admin-token-0123456789-0123456789-abcdef";

struct Cluster {
    port: u16,
    idp: Idp,
    /// One redis-server, or none when the instances share a Redis Cluster.
    redis: Option<RedisServer>,
    _redis_cluster: Option<RedisCluster>,
    /// What tells sidegate where Redis is.
    store_vars: Vec<(String, String)>,
    instances: Vec<Sidegate>,
    captured: Arc<Mutex<Vec<String>>>,
    _echo: Echo,
    _nginx: Nginx,
    _capture: Served,
}

impl Cluster {
    fn auth(&self, path: &str) -> String {
        format!("http://auth.example.test:{}{path}", self.port)
    }
    fn app(&self, path: &str) -> String {
        format!("http://app.example.test:{}{path}", self.port)
    }

    /// The answer each instance gives a fetch with this session cookie.
    async fn statuses(&self, cookie: &str) -> Vec<u16> {
        let client = reqwest::Client::new();
        let mut out = Vec::new();
        for sg in &self.instances {
            let r = client
                .get(format!("http://{}/auth", sg.addr))
                .header("x-forwarded-proto", "http")
                .header(
                    "x-forwarded-host",
                    format!("app.example.test:{}", self.port),
                )
                .header("x-forwarded-uri", "/")
                .header("sec-fetch-mode", "cors")
                .header("cookie", format!("_sidegate={cookie}"))
                .send()
                .await
                .unwrap();
            out.push(r.status().as_u16());
        }
        out
    }

    async fn login(&self, b: &Browser, user: &str) -> String {
        let r = b.navigate(&self.app("/")).await;
        let r = b.navigate(&location(&r)).await;
        let callback = b
            .login_at_idp(&location(&r), user, &self.auth("/callback"))
            .await;
        let r = b.navigate(&callback).await;
        assert_eq!(location(&r), self.app("/"));
        b.cookie(&self.app("/"), "_sidegate").unwrap()
    }

    /// Polls until every instance refuses `cookie` (401), failing unless that happens
    /// within `limit`. The session caches hold the session for a minute in these tests,
    /// so a quick refusal everywhere can only come from their invalidation.
    async fn refused_within(&self, cookie: &str, limit: Duration, what: &str) {
        let start = Instant::now();
        loop {
            let statuses = self.statuses(cookie).await;
            if statuses == [401, 401, 401] {
                return;
            }
            assert!(
                start.elapsed() < limit,
                "{what}: still {statuses:?} after {:?}",
                start.elapsed()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// How many session reads (GETEX) Redis has served.
    async fn redis_reads(&self) -> u64 {
        let client = redis::Client::open(self.redis.as_ref().unwrap().url()).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let info: String = redis::cmd("INFO")
            .arg("commandstats")
            .query_async(&mut conn)
            .await
            .unwrap();
        let re = regex::Regex::new(r"cmdstat_getex:calls=(\d+)").unwrap();
        re.captures(&info).map_or(0, |c| c[1].parse().unwrap())
    }

    async fn idp_stat(&self, name: &str) -> u64 {
        let stats: serde_json::Value = reqwest::get(format!("{}/_test/stats", self.idp.issuer()))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        stats[name].as_u64().unwrap_or(0)
    }
}

/// Confirms the IdP's logout form at `url` (GET /session/end…) and returns where it sends us.
async fn confirm_idp_logout(b: &Browser, url: &str) -> String {
    let r = b.navigate(url).await;
    assert_eq!(r.status(), StatusCode::OK, "IdP logout form");
    let page = r.text().await.unwrap();
    let re = regex::Regex::new(r#"name="xsrf" value="([^"]+)""#).unwrap();
    let xsrf = re
        .captures(&page)
        .unwrap_or_else(|| panic!("no xsrf in {page}"))[1]
        .to_owned();
    let confirm = reqwest::Url::parse(url)
        .unwrap()
        .join("/session/end/confirm")
        .unwrap();
    let r = b
        .client
        .post(confirm)
        .form(&[("xsrf", xsrf.as_str()), ("logout", "yes")])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_redirection(), "confirm: {}", r.status());
    location(&r)
}

/// A receiver the OP posts logout tokens to: it keeps a copy (to replay later) and passes
/// each one to the first sidegate instance.
async fn capture(target: SocketAddr, seen: Arc<Mutex<Vec<String>>>) -> Served {
    let route = warp::post()
        .and(warp::body::form::<std::collections::HashMap<String, String>>())
        .then(move |form: std::collections::HashMap<String, String>| {
            let seen = seen.clone();
            async move {
                let token = form.get("logout_token").cloned().unwrap_or_default();
                seen.lock().unwrap().push(token.clone());
                let r = reqwest::Client::new()
                    .post(format!("http://{target}/backchannel-logout"))
                    .form(&[("logout_token", token)])
                    .send()
                    .await
                    .unwrap();
                warp::http::StatusCode::from_u16(r.status().as_u16()).unwrap()
            }
        })
        .recover(|_| async { Ok::<_, std::convert::Infallible>(StatusCode::BAD_REQUEST) });
    serve(route).await
}

async fn cluster(extra: &[(&str, &str)]) -> Cluster {
    cluster_on(extra, false).await
}

/// Three instances sharing one redis-server, or a Redis Cluster when `redis_cluster`.
async fn cluster_on(extra: &[(&str, &str)], redis_cluster: bool) -> Cluster {
    let port = free_port();
    let public = format!("http://auth.example.test:{port}");
    let idp_port = free_port();
    let issuer = format!("http://127.0.0.1:{idp_port}");
    let (redis, redis_cluster, store_vars) = if redis_cluster {
        let c = RedisCluster::start().await;
        let vars = vec![("SIDEGATE_REDIS_CLUSTER_NODES".to_owned(), c.seeds())];
        (None, Some(c), vars)
    } else {
        let r = RedisServer::start().await;
        let vars = vec![("SIDEGATE_REDIS_URL".to_owned(), r.url())];
        (Some(r), None, vars)
    };
    let mut instances = Vec::new();
    for _ in 0..3 {
        let mut vars = sidegate::vars(&public, &issuer, None);
        vars.extend(store_vars.iter().cloned());
        vars.push(("SIDEGATE_ADMIN_TOKEN".into(), ADMIN_TOKEN.into()));
        vars.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        instances.push(Sidegate::start(vars).await);
    }
    let captured = Arc::new(Mutex::new(Vec::new()));
    let capture = capture(instances[0].addr, captured.clone()).await;
    let capture_addr = capture.addr;
    let idp = Idp::start_client(
        idp_port,
        serde_json::json!({
            "redirect_uris": [format!("{public}/callback")],
            "post_logout_redirect_uris": [format!("{public}/logged-out")],
            "backchannel_logout_uri": format!("http://{capture_addr}/bc"),
            "backchannel_logout_session_required": true,
        }),
        &[],
    )
    .await;
    for sg in &instances {
        sg.wait_ready().await;
    }
    let echo = Echo::start().await;
    let nginx = Nginx::start("sidegate.conf", port, instances[0].addr, echo.addr).await;
    Cluster {
        port,
        idp,
        redis,
        _redis_cluster: redis_cluster,
        store_vars,
        instances,
        captured,
        _echo: echo,
        _nginx: nginx,
        _capture: capture,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_everywhere_rp_initiated_back_channel_and_operator() {
    logout_everywhere(cluster(&[("SIDEGATE_SESSION_CACHE_TTL", "60s")]).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_everywhere_over_a_redis_cluster() {
    logout_everywhere(cluster_on(&[("SIDEGATE_SESSION_CACHE_TTL", "60s")], true).await).await;
}

async fn logout_everywhere(c: Cluster) {
    let within = Duration::from_millis(100);

    // RP-initiated logout: sidegate ends its session, then sends the browser to the IdP's
    // end-session endpoint with the ID token as hint, and back to rd afterwards.
    let b = Browser::new(c.port);
    let cookie = c.login(&b, "alice").await;
    assert_eq!(c.statuses(&cookie).await, [200, 200, 200]);
    let rd: String = url::form_urlencoded::byte_serialize(c.app("/bye?x=1").as_bytes()).collect();
    let r = b.navigate(&c.auth(&format!("/logout?rd={rd}"))).await;
    assert_eq!(r.status(), StatusCode::FOUND);
    let end_session = location(&r);
    assert!(
        end_session.starts_with(&format!("{}/session/end?", c.idp.issuer())),
        "{end_session}"
    );
    for p in [
        "id_token_hint=",
        "post_logout_redirect_uri=",
        "client_id=sidegate",
        "state=",
    ] {
        assert!(end_session.contains(p), "{p} missing in {end_session}");
    }
    c.refused_within(&cookie, within, "RP-initiated /logout")
        .await;
    let back = confirm_idp_logout(&b, &end_session).await;
    assert!(back.starts_with(&c.auth("/logged-out?")), "{back}");
    let r = b.navigate(&back).await;
    assert_eq!(location(&r), c.app("/bye?x=1"));
    // The IdP session is gone too: a new login shows the IdP's login form again.
    let r = b.navigate(&c.app("/")).await;
    let r = b.navigate(&location(&r)).await;
    let r = b.navigate(&location(&r)).await;
    let interaction = reqwest::Url::parse(&c.idp.issuer())
        .unwrap()
        .join(&location(&r))
        .unwrap();
    let page = b.navigate(interaction.as_str()).await.text().await.unwrap();
    assert!(
        page.contains("name=\"login\""),
        "IdP did not ask for a login again"
    );

    // Back-channel logout: logging out at the IdP itself ends the session on every instance.
    let b = Browser::new(c.port);
    let cookie = c.login(&b, "bob").await;
    assert_eq!(c.statuses(&cookie).await, [200, 200, 200]);
    let before = c.idp_stat("backchannel.success").await;
    let done = confirm_idp_logout(&b, &format!("{}/session/end", c.idp.issuer())).await;
    assert!(done.contains("/session/end/success"), "{done}");
    assert_eq!(
        c.idp_stat("backchannel.success").await,
        before + 1,
        "the OP's logout token was not accepted"
    );
    c.refused_within(&cookie, within, "back-channel logout")
        .await;

    // The same logout token again is a replay: 400, and nothing else changes.
    let token = c.captured.lock().unwrap().last().cloned().unwrap();
    let client = reqwest::Client::new();
    for (sg, body) in [(0, token.clone()), (2, token), (1, "not.a.jwt".into())] {
        let r = client
            .post(format!(
                "http://{}/backchannel-logout",
                c.instances[sg].addr
            ))
            .form(&[("logout_token", body)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let e: serde_json::Value = r.json().await.unwrap();
        assert_eq!(e["error"], "invalid_request");
    }
    let r = client
        .post(format!("http://{}/backchannel-logout", c.instances[0].addr))
        .form(&[("other", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    // Sign out everywhere: one browser's /logout?everywhere=1 ends the user's other sessions.
    let (b1, b2) = (Browser::new(c.port), Browser::new(c.port));
    let (k1, k2) = (c.login(&b1, "carol").await, c.login(&b2, "carol").await);
    let dave = c.login(&Browser::new(c.port), "dave").await;
    assert_ne!(k1, k2);
    assert_eq!(c.statuses(&k2).await, [200, 200, 200]);
    let r = b1.navigate(&c.auth("/logout?everywhere=1")).await;
    assert!(r.status() == StatusCode::FOUND || r.status() == StatusCode::OK);
    c.refused_within(
        &k2,
        within,
        "the other browser's session after sign-out everywhere",
    )
    .await;
    assert_eq!(
        c.statuses(&dave).await,
        [200, 200, 200],
        "another user's session was ended"
    );

    // The operator endpoint ends a user's sessions; wrong or missing tokens are refused.
    let erin = c.login(&Browser::new(c.port), "erin").await;
    let url = format!(
        "http://{}/admin/sessions/revoke?user=erin",
        c.instances[1].addr
    );
    for auth in [None, Some("Bearer wrong"), Some(ADMIN_TOKEN)] {
        let mut req = client.post(&url);
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        assert_eq!(
            req.send().await.unwrap().status(),
            StatusCode::UNAUTHORIZED,
            "{auth:?}"
        );
    }
    assert_eq!(c.statuses(&erin).await, [200, 200, 200]);
    let r = client
        .post(&url)
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap(),
        serde_json::json!({"revoked": 1})
    );
    c.refused_within(&erin, within, "the admin endpoint").await;

    // And the CLI does the same against the shared Redis.
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_sidegate"));
    cmd.env_clear()
        .envs(sidegate::vars(&c.auth(""), &c.idp.issuer(), None))
        .envs(c.store_vars.clone())
        .args(["sessions", "revoke", "--user", "dave"]);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "ended 1 session(s) of dave",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    c.refused_within(&dave, within, "`sidegate sessions revoke`")
        .await;
}

/// Polls until every instance answers `want` for `cookie`, failing after `limit`.
async fn eventually(c: &Cluster, cookie: &str, want: u16, limit: Duration) -> Duration {
    let start = Instant::now();
    loop {
        if c.statuses(cookie).await.iter().all(|s| *s == want) {
            return start.elapsed();
        }
        assert!(start.elapsed() < limit, "not {want} after {limit:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_timeout_and_absolute_lifetime() {
    // Idle: a session used every half second stays; left alone for 2 s it ends.
    let c = cluster(&[
        ("SIDEGATE_SESSION_IDLE_TIMEOUT", "2s"),
        ("SIDEGATE_SESSION_LIFETIME", "1h"),
    ])
    .await;
    let cookie = c.login(&Browser::new(c.port), "alice").await;
    let until = Instant::now() + Duration::from_secs(4);
    while Instant::now() < until {
        assert_eq!(
            c.statuses(&cookie).await,
            [200, 200, 200],
            "ended while in use"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // A fixed wait on purpose: polling would itself be use and slide the idle deadline.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        c.statuses(&cookie).await,
        [401, 401, 401],
        "idle session still valid"
    );

    // Absolute: however busy, a session ends when its lifetime is over.
    let c = cluster(&[
        ("SIDEGATE_SESSION_IDLE_TIMEOUT", "1h"),
        ("SIDEGATE_SESSION_LIFETIME", "3s"),
    ])
    .await;
    let cookie = c.login(&Browser::new(c.port), "bob").await;
    assert_eq!(c.statuses(&cookie).await, [200, 200, 200]);
    let took = eventually(&c, &cookie, 401, Duration::from_secs(8)).await;
    assert!(took >= Duration::from_secs(1), "ended too early ({took:?})");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_cache_serves_checks_and_fails_closed_without_redis() {
    // With the cache, repeated checks on warm instances do not read Redis.
    let c = cluster(&[("SIDEGATE_SESSION_CACHE_TTL", "60s")]).await;
    let cookie = c.login(&Browser::new(c.port), "alice").await;
    assert_eq!(c.statuses(&cookie).await, [200, 200, 200]);
    let before = c.redis_reads().await;
    for _ in 0..20 {
        assert_eq!(c.statuses(&cookie).await, [200, 200, 200]);
    }
    let reads = c.redis_reads().await - before;
    assert!(reads == 0, "60 warm checks read Redis {reads} times");

    // Redis gone: the caches empty themselves and every check fails closed (503), even
    // for the session they held; never a 2xx.
    let mut c = c;
    c.redis.as_mut().unwrap().proc.stop();
    let start = Instant::now();
    loop {
        let statuses = c.statuses(&cookie).await;
        if statuses == [503, 503, 503] {
            break;
        }
        assert!(
            statuses.iter().all(|s| *s == 200 || *s == 503),
            "after Redis stopped: {statuses:?}"
        );
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "after Redis stopped: still {statuses:?} after {:?}",
            start.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for _ in 0..5 {
        assert_eq!(c.statuses(&cookie).await, [503, 503, 503]);
    }

    // SIDEGATE_SESSION_CACHE_TTL=0 turns the cache off: every check reads Redis. (At
    // least once: a login's own late requests may add a read, so the count is a floor;
    // with the cache on it would be 0.)
    drop(c);
    let c = cluster(&[("SIDEGATE_SESSION_CACHE_TTL", "0")]).await;
    let cookie = c.login(&Browser::new(c.port), "bob").await;
    let before = c.redis_reads().await;
    for _ in 0..5 {
        assert_eq!(c.statuses(&cookie).await, [200, 200, 200]);
    }
    let reads = c.redis_reads().await - before;
    assert!(
        reads >= 15,
        "15 checks without the cache read Redis only {reads} times"
    );
}
