//! The login flow end to end through each real proxy, with the real OpenID Provider and a
//! real Redis: login lands back on the original URL, the app sees exactly the identity
//! headers, and every forged, tampered, deleted, logged-out or replayed credential fails.

use reqwest::StatusCode;
use serde_json::Value;

use crate::harness::browser::{location, Browser};
use crate::harness::{sidegate, Echo, Idp, Nginx, RedisServer, Sidegate, Traefik};

/// Held only so the proxy process lives as long as the stack.
#[allow(dead_code)]
enum Proxy {
    Nginx(Nginx),
    Traefik(Traefik),
}

struct Stack {
    port: u16,
    idp: Idp,
    redis: RedisServer,
    _echo: Echo,
    _sidegate: Sidegate,
    _proxy: Proxy,
}

impl Stack {
    fn auth(&self, path: &str) -> String {
        format!("http://auth.example.test:{}{path}", self.port)
    }
    fn app(&self, path: &str) -> String {
        format!("http://app.example.test:{}{path}", self.port)
    }
}

async fn stack(nginx: bool) -> Stack {
    let port = crate::harness::free_port();
    let public = format!("http://auth.example.test:{port}");
    let idp = Idp::start(&[format!("{public}/callback")]).await;
    let redis = RedisServer::start().await;
    let echo = Echo::start().await;
    let sg = Sidegate::start(sidegate::vars(&public, &idp.issuer(), Some(&redis.url()))).await;
    sg.wait_ready().await;
    let proxy = if nginx {
        Proxy::Nginx(Nginx::start("sidegate.conf", port, sg.addr, echo.addr).await)
    } else {
        Proxy::Traefik(Traefik::start(port, sg.addr, echo.addr).await)
    };
    Stack {
        port,
        idp,
        redis,
        _echo: echo,
        _sidegate: sg,
        _proxy: proxy,
    }
}

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
    let r = b.navigate(&s.auth("/logout")).await;
    assert_eq!(r.status(), StatusCode::OK);
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
    assert!(
        refused_with(&s, &cookie).await,
        "a session deleted in Redis was accepted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_flow_through_nginx() {
    scenario(stack(true).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_flow_through_traefik() {
    scenario(stack(false).await).await;
}
