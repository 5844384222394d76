//! The login flow end to end through each real proxy, with the real OpenID Provider and a
//! real Redis: login lands back on the original URL, the app sees exactly the identity
//! headers, and every forged, tampered, deleted, logged-out or replayed credential fails.

use reqwest::StatusCode;
use serde_json::Value;

use crate::harness::browser::{location, Browser};
use crate::harness::sidegate;
use crate::harness::stack::{stack, Options, ProxyKind, Service, Stack};

/// Logs in from a protected URL; returns the callback URL the IdP sent back.
async fn login(s: &Stack, b: &Browser, app_url: &str, user: &str) -> String {
    let r = b.navigate(app_url).await;
    assert_eq!(r.status(), StatusCode::FOUND, "unauthenticated navigation");
    let start = location(&r);
    let rd: String = url::form_urlencoded::byte_serialize(app_url.as_bytes()).collect();
    assert_eq!(start, s.auth(&format!("/start?rd={rd}")));
    let r = b.navigate(&start).await;
    assert_eq!(r.status(), StatusCode::FOUND, "/start");
    let idp_url = location(&r);
    assert!(
        idp_url.starts_with(&format!("{}/auth?", s.idp.issuer())),
        "{idp_url}"
    );
    for param in [
        "code_challenge_method=S256",
        "state=",
        "nonce=",
        "response_type=code",
    ] {
        assert!(idp_url.contains(param), "{param} missing from {idp_url}");
    }
    let callback = b.login_at_idp(&idp_url, user, &s.auth("/callback")).await;
    let r = b.navigate(&callback).await;
    assert_eq!(
        r.status(),
        StatusCode::FOUND,
        "/callback: {:?}",
        r.text().await
    );
    assert_eq!(
        location(&r),
        app_url,
        "login must land on the original URL, byte for byte"
    );
    callback
}

async fn seen_by_app(b: &Browser, url: &str) -> Value {
    let r = b
        .client
        .get(url)
        .header("sec-fetch-mode", "navigate")
        .header("accept", "text/html")
        .header("x-forwarded-user", "mallory")
        .header("x-forwarded-groups", "admins")
        .header("x-forwarded-email", "mallory@evil.test")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

fn header(seen: &Value, name: &str) -> Vec<String> {
    seen["headers"][name]
        .as_array()
        .map(|a| a.iter().map(|v| v.as_str().unwrap().to_owned()).collect())
        .unwrap_or_default()
}

async fn session_keys(s: &Stack) -> Vec<String> {
    s.redis.keys("sidegate:s:*").await
}

/// Whether a navigation to the app with `cookie` as the session cookie gets through.
async fn refused_with(s: &Stack, cookie: &str) -> bool {
    let b = Browser::new(s.port);
    b.set_cookie(&s.app("/"), "_sidegate", cookie);
    let nav = b.navigate(&s.app("/x")).await.status();
    let api = b.fetch(&s.app("/x")).await.status();
    assert!(
        matches!(nav, StatusCode::FOUND | StatusCode::OK),
        "navigation got {nav}"
    );
    assert!(
        matches!(api, StatusCode::UNAUTHORIZED | StatusCode::OK),
        "fetch got {api}"
    );
    assert_eq!(
        nav == StatusCode::FOUND,
        api == StatusCode::UNAUTHORIZED,
        "navigation and fetch disagree"
    );
    nav == StatusCode::FOUND
}

async fn scenario(s: Stack) {
    let b = Browser::new(s.port);
    let app_url = s.app("/some/path?q=1&x=%2F");

    // A non-browser client without a session gets 401 with WWW-Authenticate, never a redirect.
    let r = b.fetch(&app_url).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(
        r.headers().get("www-authenticate").is_some(),
        "{:?}",
        r.headers()
    );
    assert!(session_keys(&s).await.is_empty());

    idp_errors_and_unknown_state_are_refused(&s, &b, &app_url).await;

    let callback = login(&s, &b, &app_url, "alice").await;
    let cookie = b
        .cookie(&s.app("/"), "_sidegate")
        .expect("session cookie for the app host");
    assert_eq!(session_keys(&s).await.len(), 1);

    // The app sees exactly sidegate's identity headers, never the client's copies.
    let seen = seen_by_app(&b, &app_url).await;
    assert_eq!(seen["path"], "/some/path");
    assert_eq!(seen["query"], "q=1&x=%2F");
    assert_eq!(header(&seen, "x-forwarded-user"), ["alice"]);
    assert_eq!(header(&seen, "x-forwarded-email"), ["alice@example.test"]);
    assert_eq!(header(&seen, "x-forwarded-groups"), ["admins,staff"]);
    assert_eq!(header(&seen, "x-forwarded-preferred-username"), ["alice"]);
    let cookie_seen = header(&seen, "cookie").join("; ");
    assert!(
        !cookie_seen.contains("_sidegate_login"),
        "login-state cookie still set: {cookie_seen}"
    );

    // Single sign-on: the session made through app1 opens app2 without another login.
    if s.proxy.has_app2() {
        let r = b.navigate(&s.app2("/other?y=2")).await;
        assert_eq!(r.status(), StatusCode::OK, "app2 asked for another login");
        let seen2: Value = r.json().await.unwrap();
        assert_eq!(header(&seen2, "x-forwarded-user"), ["alice"]);
        assert_eq!(seen2["path"], "/other");
    }

    // Replaying the callback (same code and state) creates nothing.
    let r = b.navigate(&callback).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r
        .headers()
        .get_all("set-cookie")
        .iter()
        .all(|c| !c.to_str().unwrap().starts_with("_sidegate=")));
    assert_eq!(session_keys(&s).await.len(), 1);

    // Tampered and forged tickets are refused; the genuine one still works.
    let (id, secret) = cookie.split_once('.').unwrap();
    let flipped = format!(
        "{id}.{}{}",
        &secret[..secret.len() - 1],
        if secret.ends_with('A') { 'B' } else { 'A' }
    );
    for bad in [
        flipped.as_str(),
        "AAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA",
        "garbage",
        "",
        &format!("{cookie}x"),
    ] {
        assert!(refused_with(&s, bad).await, "cookie {bad:?} was accepted");
    }
    assert!(
        !refused_with(&s, &cookie).await,
        "the genuine cookie was refused"
    );

    // Logout ends the session everywhere: the old cookie no longer works.
    // sidegate ends its session, then sends the browser on to end the IdP's (RP-initiated).
    let r = b.navigate(&s.auth("/logout")).await;
    assert_eq!(r.status(), StatusCode::FOUND);
    assert!(
        location(&r).starts_with(&format!("{}/session/end?", s.idp.issuer())),
        "{}",
        location(&r)
    );
    assert!(
        b.cookie(&s.app("/"), "_sidegate").is_none(),
        "cookie not cleared"
    );
    assert!(
        refused_with(&s, &cookie).await,
        "a logged-out session was accepted"
    );
    assert!(session_keys(&s).await.is_empty());

    // A session deleted in Redis is refused at once. (A fresh browser: this one still has
    // alice's session at the IdP, which would sign alice in again.)
    let b = Browser::new(s.port);
    login(&s, &b, &app_url, "bob").await;
    let cookie = b.cookie(&s.app("/"), "_sidegate").unwrap();
    assert_eq!(
        header(&seen_by_app(&b, &app_url).await, "x-forwarded-groups"),
        ["staff"]
    );
    let id = cookie.split_once('.').unwrap().0;
    let mut c = s.redis.conn().await;
    let deleted: u32 = redis::cmd("DEL")
        .arg(format!("sidegate:s:{id}"))
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(deleted, 1);
    // Deleted behind sidegate's back (no invalidation announced), the session ends once
    // the session cache's entry runs out: SIDEGATE_SESSION_CACHE_TTL, 2 s by default.
    // While the entry runs out, a navigation and a fetch may straddle its expiry, so
    // poll the fetch alone, then check both strictly.
    let start = std::time::Instant::now();
    loop {
        let b = Browser::new(s.port);
        b.set_cookie(&s.app("/"), "_sidegate", &cookie);
        if b.fetch(&s.app("/x")).await.status() == StatusCode::UNAUTHORIZED {
            break;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(3),
            "a session deleted in Redis was still accepted after {:?}",
            start.elapsed()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(refused_with(&s, &cookie).await);
}

async fn run(proxy: ProxyKind) {
    scenario(
        stack(Options {
            proxy,
            ..Options::default()
        })
        .await,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_flow_through_nginx() {
    run(ProxyKind::Nginx("sidegate.conf")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_flow_through_nginx_multi_app() {
    run(ProxyKind::Nginx("multi-app.conf")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_flow_through_traefik() {
    run(ProxyKind::Traefik).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_flow_through_traefik_docker_labels() {
    run(ProxyKind::TraefikLabels).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_flow_through_caddy() {
    run(ProxyKind::Caddy).await;
}

/// An IdP error answer at /callback, an unknown state, and a state whose login cookie is
/// missing each get a clear 4xx and create no session.
async fn idp_errors_and_unknown_state_are_refused(s: &Stack, b: &Browser, app_url: &str) {
    let start = location(&b.navigate(app_url).await);
    let idp_url = location(&b.navigate(&start).await);
    let state = url::Url::parse(&idp_url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let cases = [
        (
            format!("/callback?error=access_denied&error_description=nope&state={state}"),
            StatusCode::FORBIDDEN,
            "sign-in cancelled",
        ),
        (
            "/callback?code=abc&state=neverissuedstate".to_owned(),
            StatusCode::BAD_REQUEST,
            "expired",
        ),
        (
            "/callback?code=abc".to_owned(),
            StatusCode::BAD_REQUEST,
            "expired",
        ),
        // The error answer consumed the login state: the real code cannot be used now.
        (
            format!("/callback?code=abc&state={state}"),
            StatusCode::BAD_REQUEST,
            "expired",
        ),
    ];
    for (path, status, text) in cases {
        let r = b.navigate(&s.auth(&path)).await;
        assert_eq!(r.status(), status, "{path}");
        let body = r.text().await.unwrap().to_lowercase();
        assert!(body.contains(text), "{path}: {body}");
    }
    assert!(
        b.cookies_for(&s.auth("/"))
            .split("; ")
            .all(|c| !c.starts_with("_sidegate")),
        "{}",
        b.cookies_for(&s.auth("/"))
    );
    assert!(session_keys(s).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_store_json_logs_never_contain_secrets() {
    let s = stack(Options {
        memory_store: true,
        subprocess: true,
        vars: vec![("SIDEGATE_LOG", "debug"), ("SIDEGATE_LOG_FORMAT", "json")],
        ..Options::default()
    })
    .await;
    let b = Browser::new(s.port);
    let app_url = s.app("/private?token=x");
    let callback = login(&s, &b, &app_url, "carol").await;
    let seen = seen_by_app(&b, &app_url).await;
    assert_eq!(header(&seen, "x-forwarded-user"), ["carol"]);
    // sidegate sends the header empty; nginx drops empty proxy_set_header values, so the
    // app sees none at all, and certainly not the client's forged "admins".
    assert!(header(&seen, "x-forwarded-groups").is_empty(), "{seen}");
    let cookie = b.cookie(&s.app("/"), "_sidegate").unwrap();
    assert!(
        s.redis.keys("*").await.is_empty(),
        "memory store wrote to Redis"
    );
    assert_eq!(
        b.navigate(&s.auth("/logout")).await.status(),
        StatusCode::FOUND
    );
    assert!(refused_with(&s, &cookie).await);

    let Service::Process(p) = &s.sidegate else {
        unreachable!()
    };
    let log = p.proc.log();
    let code = url::Url::parse(&callback)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let secret_part = cookie.split_once('.').unwrap().1;
    for secret in [
        code.as_str(),
        secret_part,
        sidegate::CLIENT_SECRET,
        sidegate::COOKIE_SECRET,
        "carol@partner.test",
    ] {
        assert!(!log.contains(secret), "log contains {secret}:\n{log}");
    }
    let lines: Vec<&str> = log.lines().filter(|l| l.starts_with('{')).collect();
    assert!(lines.len() >= 5, "too few JSON log lines:\n{log}");
    for line in log.lines().filter(|l| !l.starts_with("oidc-provider")) {
        serde_json::from_str::<Value>(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    }
    assert!(
        log.contains("signed in") && log.contains("signed out"),
        "{log}"
    );
}

/// DESIGN's table for requests without a session, row by row through a real proxy: only
/// top-level GET/HEAD navigations are redirected; everything else gets 401 with the login
/// URL in `X-Sidegate-Login` for single-page apps.
async fn decision_table(proxy: ProxyKind) {
    let s = stack(Options {
        proxy,
        ..Options::default()
    })
    .await;
    let url = s.app("/page?x=1");
    let rd: String = url::form_urlencoded::byte_serialize(url.as_bytes()).collect();
    let login = s.auth(&format!("/start?rd={rd}"));
    let html = "text/html,application/xhtml+xml,*/*;q=0.8";
    type Row<'a> = (&'a str, &'a [(&'a str, &'a str)], u16);
    let rows: &[Row] = &[
        (
            "GET",
            &[("sec-fetch-mode", "navigate"), ("accept", html)],
            302,
        ),
        (
            "HEAD",
            &[("sec-fetch-mode", "navigate"), ("accept", html)],
            302,
        ),
        ("GET", &[("accept", html)], 302),
        ("GET", &[("sec-fetch-mode", "cors"), ("accept", "*/*")], 401),
        ("GET", &[("sec-fetch-mode", "websocket")], 401),
        (
            "GET",
            &[
                ("upgrade", "websocket"),
                ("connection", "Upgrade"),
                ("sec-websocket-version", "13"),
                ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ],
            401,
        ),
        ("GET", &[("accept", "application/json")], 401),
        (
            "POST",
            &[
                ("content-type", "application/grpc"),
                ("accept", "application/grpc"),
            ],
            401,
        ),
        (
            "POST",
            &[("sec-fetch-mode", "navigate"), ("accept", html)],
            401,
        ),
        ("GET", &[], 401),
    ];
    let b = Browser::new(s.port);
    for (method, headers, want) in rows {
        let mut req = b.client.request(method.parse().unwrap(), &url);
        for (k, v) in *headers {
            req = req.header(*k, *v);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status().as_u16(), *want, "{proxy:?} {method} {headers:?}");
        let h = r.headers();
        if *want == 302 {
            assert_eq!(
                h["location"],
                login.as_str(),
                "{proxy:?} {method} {headers:?}"
            );
        } else {
            assert!(
                h.get("location").is_none(),
                "{proxy:?} {method} {headers:?}: a 401 with a Location"
            );
            assert_eq!(
                h.get("x-sidegate-login").map(|v| v.to_str().unwrap()),
                Some(login.as_str()),
                "{proxy:?} {method} {headers:?}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decision_table_through_nginx_traefik_and_caddy() {
    for proxy in [
        ProxyKind::Nginx("sidegate.conf"),
        ProxyKind::Traefik,
        ProxyKind::Caddy,
    ] {
        decision_table(proxy).await;
    }
}
