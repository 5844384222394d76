//! SIGTERM with a request in flight: sidegate stops accepting connections at once, still
//! answers the request in flight, and exits cleanly (status 0) soon after it is answered.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use warp::Filter;

use crate::harness::serve;
use crate::harness::sidegate::{self, SidegateProcess};

/// `filter` served on loopback, anything else answered 404.
async fn serve_on<F>(filter: F) -> crate::harness::Served
where
    F: warp::Filter<Error = warp::Rejection> + Clone + Send + Sync + 'static,
    F::Extract: warp::Reply,
{
    let recover = filter.recover(|_| async {
        Ok::<_, std::convert::Infallible>(warp::http::StatusCode::NOT_FOUND)
    });
    serve(recover).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_answers_the_request_in_flight_then_exits() {
    let idp = slow_idp(Duration::from_secs(3)).await;
    let issuer = format!("http://{}", idp.addr);
    let public = "http://auth.example.test";
    let mut sg = SidegateProcess::spawn(sidegate::vars(public, &issuer, None)).await;
    let base = format!("http://{}", sg.addr);
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let start = client
        .get(format!("{base}/start?rd=http%3A%2F%2Fapp.example.test%2F"))
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), StatusCode::FOUND);
    let to_idp = url::Url::parse(start.headers()["location"].to_str().unwrap()).unwrap();
    let state = to_idp
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let cookie = start.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();

    // The callback waits 3 s on the token endpoint: in flight when SIGTERM arrives.
    let callback = {
        let client = client.clone();
        let url = format!("{base}/callback?state={state}&code=c");
        tokio::spawn(async move {
            let sent = Instant::now();
            let r = client.get(url).header("cookie", cookie).send().await;
            (r.map(|r| r.status()), sent.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(700)).await;
    sg.proc.terminate();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let late = reqwest::Client::new()
        .get(format!("{base}/healthz"))
        .timeout(Duration::from_secs(2))
        .send()
        .await;
    assert!(
        late.is_err(),
        "a new connection was served after SIGTERM: {late:?}"
    );

    let (answer, took) = callback.await.unwrap();
    assert_eq!(
        answer.ok(),
        Some(StatusCode::BAD_GATEWAY),
        "the request in flight was not answered"
    );
    assert!(took >= Duration::from_secs(2), "{took:?}");
    let status = sg
        .proc
        .wait_exit(Duration::from_secs(5))
        .await
        .expect("sidegate still running after its requests were answered");
    assert!(status.success(), "{status}\n{}", sg.proc.log());
    let log = sg.proc.log();
    assert!(log.contains("finishing the requests in flight"), "{log}");
    assert!(
        log.contains("every request in flight was answered"),
        "{log}"
    );
}

/// An IdP whose discovery works and whose token endpoint takes `delay` to fail.
async fn slow_idp(delay: Duration) -> crate::harness::Served {
    let issuer = std::sync::Arc::new(std::sync::OnceLock::<String>::new());
    let i = issuer.clone();
    let discovery = warp::path!(".well-known" / "openid-configuration").map(move || {
        let i = i.get().cloned().unwrap_or_default();
        warp::reply::json(&json!({
            "issuer": i,
            "authorization_endpoint": format!("{i}/auth"),
            "token_endpoint": format!("{i}/token"),
            "jwks_uri": format!("{i}/jwks"),
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
        }))
    });
    let jwks = warp::path!("jwks").map(|| warp::reply::json(&json!({"keys": []})));
    let token = warp::path!("token").then(move || async move {
        tokio::time::sleep(delay).await;
        warp::reply::with_status(
            warp::reply::json(&json!({"error": "server_error"})),
            warp::http::StatusCode::INTERNAL_SERVER_ERROR,
        )
    });
    let served = serve_on(discovery.or(jwks).or(token)).await;
    let _ = issuer.set(format!("http://{}", served.addr));
    served
}
