//! Starting while the IdP or Redis is down: sidegate serves, says "not ready", refuses
//! (never allows) requests, and recovers by itself once they come up.

use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::harness::{free_port, sidegate, Idp, RedisServer, Sidegate};

async fn status(url: &str) -> StatusCode {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(url)
        .header("x-forwarded-proto", "http")
        .header("x-forwarded-host", "app.example.test")
        .header("x-forwarded-uri", "/")
        .header("x-original-uri", "/")
        .header(
            "cookie",
            "_sidegate=AAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA",
        )
        .send()
        .await
        .unwrap()
        .status()
}

/// `/readyz`'s JSON body.
async fn readiness(base: &str) -> serde_json::Value {
    reqwest::get(format!("{base}/readyz"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn eventually_ready(base: &str, limit: Duration) {
    let deadline = Instant::now() + limit;
    while status(&format!("{base}/readyz")).await != StatusCode::OK {
        assert!(Instant::now() < deadline, "not ready after {limit:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idp_down_at_startup_then_up() {
    let idp_port = free_port();
    let issuer = format!("http://127.0.0.1:{idp_port}");
    let public = "http://auth.example.test";
    let sg = Sidegate::start(sidegate::vars(public, &issuer, None)).await;
    let base = format!("http://{}", sg.addr);
    assert_eq!(status(&format!("{base}/healthz")).await, StatusCode::OK);
    assert_eq!(
        status(&format!("{base}/readyz")).await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    // It says why, and what to do; a first attempt may still be under way.
    let deadline = Instant::now() + Duration::from_secs(20);
    let why = loop {
        let r = readiness(&base).await;
        let reason = r["idp"]["reason"].as_str().unwrap_or_default().to_owned();
        if reason.contains("cannot be reached") || Instant::now() > deadline {
            assert_eq!(
                (&r["ready"], &r["store"]["ready"]),
                (&false.into(), &true.into()),
                "{r}"
            );
            break reason;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        why.contains(&format!(
            "the IdP cannot be reached at {issuer}/.well-known/openid-configuration"
        )) && why.contains("check SIDEGATE_ISSUER_URL"),
        "{why}"
    );
    let start = format!("{base}/start?rd=http%3A%2F%2Fapp.example.test%2F");
    let page = reqwest::get(&start).await.unwrap();
    assert_eq!(page.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(page
        .text()
        .await
        .unwrap()
        .contains("identity provider cannot be reached"));
    // Checks without a session still get their usual answer, never a 2xx.
    assert_eq!(
        status(&format!("{base}/auth")).await,
        StatusCode::UNAUTHORIZED
    );

    let _idp = Idp::start_on(idp_port, &[format!("{public}/callback")], &[]).await;
    eventually_ready(&base, Duration::from_secs(60)).await;
    assert_eq!(
        readiness(&base).await,
        serde_json::json!({"ready": true, "store": {"ready": true}, "idp": {"ready": true}})
    );
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(&start)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FOUND);
    assert!(r.headers()["location"]
        .to_str()
        .unwrap()
        .starts_with(&issuer));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_issuer_is_called_misconfigured_not_unreachable() {
    let public = "http://auth.example.test";
    let idp = Idp::start(&[format!("{public}/callback")]).await;
    let issuer = idp.issuer();
    let sg = Sidegate::start(sidegate::vars(public, &format!("{issuer}/"), None)).await;
    let base = format!("http://{}", sg.addr);
    let deadline = Instant::now() + Duration::from_secs(20);
    let why = loop {
        let r = readiness(&base).await;
        let reason = r["idp"]["reason"].as_str().unwrap_or_default().to_owned();
        if reason.starts_with("misconfigured") || Instant::now() > deadline {
            break reason;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        why,
        format!("misconfigured: issuer mismatch: the IdP says `{issuer}`; set SIDEGATE_ISSUER_URL to exactly that (it is `{issuer}/`)")
    );
    let page = reqwest::get(format!("{base}/start?rd=http%3A%2F%2Fapp.example.test%2F"))
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::SERVICE_UNAVAILABLE);
    let text = page.text().await.unwrap();
    assert!(text.contains("Sign-in is misconfigured"), "{text}");
    assert!(
        !text.contains("cannot be reached") && !text.contains(&issuer),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_fails_closed_then_recovers() {
    let idp = Idp::start(&["http://auth.example.test/callback".to_owned()]).await;
    let redis_port = free_port();
    let redis_url = format!("redis://127.0.0.1:{redis_port}/");
    let sg = Sidegate::start(sidegate::vars(
        "http://auth.example.test",
        &idp.issuer(),
        Some(&redis_url),
    ))
    .await;
    let base = format!("http://{}", sg.addr);
    assert_eq!(
        status(&format!("{base}/readyz")).await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    let r = readiness(&base).await;
    let why = r["store"]["reason"].as_str().unwrap_or_default();
    assert!(why.contains("check SIDEGATE_REDIS_URL"), "{r}");
    // A request with a session cookie cannot be checked: 503, never a 2xx.
    assert_eq!(
        status(&format!("{base}/auth")).await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(
        status(&format!("{base}/auth/nginx")).await,
        StatusCode::SERVICE_UNAVAILABLE
    );

    let _redis = RedisServer::start_on(redis_port).await;
    eventually_ready(&base, Duration::from_secs(60)).await;
    assert_eq!(
        status(&format!("{base}/auth")).await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_signed_with_a_rotated_key_reloads_the_idps_keys() {
    use crate::harness::browser::{location, Browser};
    // sidegate loads the IdP's keys; then the IdP comes back with a new signing key (the
    // test IdP makes a fresh one on every start), as after a rotation in Keycloak.
    let idp_port = free_port();
    let port = free_port();
    let public = format!("http://auth.example.test:{port}");
    let issuer = format!("http://127.0.0.1:{idp_port}");
    let callbacks = [format!("{public}/callback")];
    let idp = Idp::start_on(idp_port, &callbacks, &[]).await;
    let jwks_url = format!("{issuer}/jwks");
    let jwks = |url: String| async move {
        reqwest::get(url)
            .await
            .unwrap()
            .json::<serde_json::Value>()
            .await
            .unwrap()["keys"][0]["n"]
            .clone()
    };
    let old_key = jwks(jwks_url.clone()).await;
    let sg = Sidegate::start_at(port, sidegate::vars(&public, &issuer, None)).await;
    sg.wait_ready().await;
    drop(idp);
    let _idp = Idp::start_on(idp_port, &callbacks, &[]).await;
    assert_ne!(jwks(jwks_url).await, old_key, "the IdP kept its key");

    // The login's ID token is signed with a key sidegate has not seen: it reloads the
    // IdP's keys once and the login succeeds.
    let b = Browser::new(port);
    let app = format!("http://app.example.test:{port}/");
    let rd: String = url::form_urlencoded::byte_serialize(app.as_bytes()).collect();
    let r = b.navigate(&format!("{public}/start?rd={rd}")).await;
    let callback = b
        .login_at_idp(&location(&r), "alice", &format!("{public}/callback"))
        .await;
    let r = b.navigate(&callback).await;
    assert_eq!(r.status(), StatusCode::FOUND, "login after a key rotation");
    assert_eq!(location(&r), app);
    assert!(b.cookie(&app, "_sidegate").is_some());
}
