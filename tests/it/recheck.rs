//! A per-app bound on staleness (`recheck_every`), for IdPs without back-channel logout: a
//! user disabled at the real OP loses access within the bound, through each real proxy; an
//! IdP that cannot be asked is a 503 for that app only; a session without a refresh token
//! signs in again.

use std::time::Duration;

use reqwest::StatusCode;

use crate::harness::browser::sign_in;
use crate::harness::stack::{stack, Options, ProxyKind, Stack};
use crate::harness::{free_port, sidegate, write, Idp, RedisServer, Sidegate};

const BOUND: Duration = Duration::from_secs(2);

/// An apps file whose default profile re-checks every two seconds, kept for the whole test
/// run (the stack's variables are `'static`).
fn apps_file(contents: &str) -> &'static str {
    let dir = Box::leak(Box::new(tempfile::tempdir().unwrap()));
    let path = write(dir.path(), "apps.toml", contents);
    Box::leak(path.display().to_string().into_boxed_str())
}

async fn idp_post(idp: &Idp, path: &str) {
    let r = reqwest::Client::new()
        .post(format!("{}{path}", idp.issuer()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{path}");
}

async fn idp_count(idp: &Idp, event: &str) -> u64 {
    let stats: serde_json::Value = reqwest::get(format!("{}/_test/stats", idp.issuer()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    stats[event].as_u64().unwrap_or(0)
}

/// The app's page with the session cookie: as a navigation, or as a script's call.
async fn get(s: &Stack, cookie: &str, navigation: bool) -> reqwest::Response {
    let mode = if navigation { "navigate" } else { "cors" };
    s.client()
        .get(s.app("/page"))
        .header("cookie", format!("_sidegate={cookie}"))
        .header("sec-fetch-mode", mode)
        .header("accept", "text/html")
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_disabled_at_the_idp_loses_access_within_the_bound_through_each_proxy() {
    let apps = apps_file("[apps.default]\nrecheck_every = \"2s\"\n");
    for proxy in [
        ProxyKind::Nginx("sidegate.conf"),
        ProxyKind::Traefik,
        ProxyKind::Caddy,
    ] {
        let s = stack(Options {
            proxy,
            vars: vec![("SIDEGATE_APPS_FILE", apps)],
            ..Options::default()
        })
        .await;
        let cookie = sign_in(s.port).await;
        assert_eq!(get(&s, &cookie, true).await.status(), StatusCode::OK);
        // Past the bound, an enabled user is re-checked (one refresh) and goes on.
        tokio::time::sleep(BOUND + Duration::from_millis(300)).await;
        assert_eq!(
            get(&s, &cookie, true).await.status(),
            StatusCode::OK,
            "{proxy:?}"
        );
        assert_eq!(
            idp_count(&s.idp, "grant.success:refresh_token").await,
            1,
            "{proxy:?}: the re-check was not one refresh at the IdP"
        );
        // Within the bound nothing is asked: the session still works right after.
        idp_post(&s.idp, "/_test/disable?user=alice").await;
        assert_eq!(
            get(&s, &cookie, true).await.status(),
            StatusCode::OK,
            "{proxy:?}"
        );
        tokio::time::sleep(BOUND + Duration::from_millis(300)).await;
        let r = get(&s, &cookie, false).await;
        assert_eq!(
            r.status(),
            StatusCode::UNAUTHORIZED,
            "{proxy:?}: a user disabled at the IdP kept access past the bound"
        );
        assert!(
            idp_count(&s.idp, "grant.error:refresh_token").await >= 1,
            "{proxy:?}: the IdP was not asked"
        );
        // The session has ended: a navigation is sent to sign in, where the IdP refuses.
        let r = get(&s, &cookie, true).await;
        assert_eq!(r.status(), StatusCode::FOUND, "{proxy:?}");
        let to = r.headers()["location"].to_str().unwrap();
        assert!(to.contains("/start?rd="), "{proxy:?}: {to}");
        assert_eq!(
            s.redis.keys("sidegate:s:*").await.len(),
            0,
            "{proxy:?}: the session was not ended"
        );
    }
}

struct Direct {
    idp: Idp,
    sg: Sidegate,
    metrics: String,
    port: u16,
    _redis: RedisServer,
    _dir: tempfile::TempDir,
}

async fn direct(client: serde_json::Value) -> Direct {
    let port = free_port();
    let public = format!("http://auth.example.test:{port}");
    let mut metadata = serde_json::json!({"redirect_uris": [format!("{public}/callback")]});
    for (k, v) in client.as_object().unwrap() {
        metadata[k] = v.clone();
    }
    let idp = Idp::start_client(free_port(), metadata, &[]).await;
    let redis = RedisServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let apps = write(
        dir.path(),
        "apps.toml",
        "[apps.strict]\nrecheck_every = \"2s\"\n\n[apps.loose]\n",
    );
    let mut vars = sidegate::vars(&public, &idp.issuer(), Some(&redis.url()));
    vars.push(("SIDEGATE_APPS_FILE".into(), apps.display().to_string()));
    let metrics = format!("127.0.0.1:{}", free_port());
    vars.push(("SIDEGATE_METRICS_LISTEN".into(), metrics.clone()));
    let sg = Sidegate::start_at(port, vars).await;
    sg.wait_ready().await;
    Direct {
        idp,
        sg,
        metrics,
        port,
        _redis: redis,
        _dir: dir,
    }
}

impl Direct {
    async fn check(&self, app: &str, cookie: &str) -> StatusCode {
        reqwest::Client::new()
            .get(format!("http://{}/auth/{app}", self.sg.addr))
            .header("x-forwarded-proto", "http")
            .header("x-forwarded-host", "app.example.test")
            .header("x-forwarded-uri", "/api")
            .header("sec-fetch-mode", "cors")
            .header("cookie", format!("_sidegate={cookie}"))
            .send()
            .await
            .unwrap()
            .status()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idp_that_cannot_be_asked_is_a_503_for_the_app_that_rechecks_only() {
    let mut d = direct(serde_json::json!({})).await;
    let cookie = sign_in(d.port).await;
    assert_eq!(d.check("strict", &cookie).await, StatusCode::OK);
    d.idp.proc.kill();
    // Within the bound the IdP is not needed.
    assert_eq!(d.check("strict", &cookie).await, StatusCode::OK);
    tokio::time::sleep(BOUND + Duration::from_millis(300)).await;
    assert_eq!(
        d.check("strict", &cookie).await,
        StatusCode::SERVICE_UNAVAILABLE,
        "an overdue re-check with the IdP down must not be allowed"
    );
    assert_eq!(
        d.check("loose", &cookie).await,
        StatusCode::OK,
        "an app without recheck_every goes on while the IdP is down"
    );
    let metrics = reqwest::get(format!("http://{}/metrics", d.metrics))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("sidegate_auth_decisions_total")
                && l.contains("app=\"strict\"")
                && l.contains("reason=\"idp_error\"")),
        "no idp_error check counted:\n{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_without_a_refresh_token_signs_in_again_once_the_bound_has_passed() {
    // An IdP client without the refresh_token grant: the OP issues no refresh token.
    let d = direct(serde_json::json!({"grant_types": ["authorization_code"]})).await;
    let cookie = sign_in(d.port).await;
    assert_eq!(d.check("strict", &cookie).await, StatusCode::OK);
    tokio::time::sleep(BOUND + Duration::from_millis(300)).await;
    assert_eq!(
        d.check("strict", &cookie).await,
        StatusCode::UNAUTHORIZED,
        "a session that cannot be re-checked was believed past the bound"
    );
    assert_eq!(d.check("loose", &cookie).await, StatusCode::OK);
    assert_eq!(idp_count(&d.idp, "grant.error:refresh_token").await, 0);
}
