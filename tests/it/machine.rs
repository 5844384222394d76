//! Machine access: a service account's JWT access token from the real OP (client
//! credentials) passes the same rules and gets the same headers as a browser session;
//! forged, tampered and refused tokens get 401 (or 403 when the rules say no).

use reqwest::StatusCode;

use crate::harness::{free_port, sidegate, write, Idp, Sidegate};

const APPS: &str = r#"
[apps.backup]
allow_groups = ["backup"]
bearer = { audience = "sidegate-api" }
"#;

async fn token(idp: &Idp, client: &str, secret: &str) -> String {
    let r: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/token", idp.issuer()))
        .basic_auth(client, Some(secret))
        .form(&[("grant_type", "client_credentials"), ("scope", "api")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    r["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no token: {r}"))
        .to_owned()
}

async fn check(
    sg: &Sidegate,
    authorization: Option<&str>,
) -> (StatusCode, reqwest::header::HeaderMap) {
    let mut req = reqwest::Client::new()
        .get(format!("http://{}/auth/backup", sg.addr))
        .header("x-forwarded-proto", "https")
        .header("x-forwarded-host", "backup.example.test")
        .header("x-forwarded-uri", "/api/v1/backups")
        .header("accept", "application/json");
    if let Some(a) = authorization {
        req = req.header("authorization", a);
    }
    let r = req.send().await.unwrap();
    (r.status(), r.headers().clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_account_tokens_from_the_idp() {
    let services = r#"[{"client_id":"ci","client_secret":"ci-secret","groups":["backup"]},{"client_id":"intruder","client_secret":"intruder-secret","groups":["other"]}]"#;
    let idp = Idp::start_client(
        free_port(),
        serde_json::json!({"redirect_uris": ["http://auth.example.test/callback"]}),
        &[
            ("IDP_API_AUDIENCE", "sidegate-api"),
            ("IDP_SERVICE_CLIENTS", services),
        ],
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let apps = write(dir.path(), "apps.toml", APPS);
    let mut vars = sidegate::vars("http://auth.example.test", &idp.issuer(), None);
    vars.push(("SIDEGATE_APPS_FILE".into(), apps.display().to_string()));
    let sg = Sidegate::start(vars).await;
    sg.wait_ready().await;

    let ci = token(&idp, "ci", "ci-secret").await;
    let (status, headers) = check(&sg, Some(&format!("Bearer {ci}"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["x-forwarded-user"], "ci");
    assert_eq!(headers["x-forwarded-groups"], "backup");

    let intruder = token(&idp, "intruder", "intruder-secret").await;
    assert_eq!(
        check(&sg, Some(&format!("Bearer {intruder}"))).await.0,
        StatusCode::FORBIDDEN,
        "not in the group"
    );

    let (head, rest) = ci.split_once('.').unwrap();
    let (payload, signature) = rest.split_once('.').unwrap();
    let flipped = format!(
        "{head}.{payload}.{}{}",
        &signature[..signature.len() - 2],
        if signature.ends_with("AA") {
            "BB"
        } else {
            "AA"
        }
    );
    let none_alg = format!("eyJhbGciOiJub25lIn0.{payload}.");
    let truncated = ci[..ci.len() / 2].to_owned();
    let oversized = format!("{ci}{}", "A".repeat(20_000));
    for bad in [
        flipped,
        none_alg,
        format!("{head}.{payload}.{signature}x"),
        "a.b.c".to_owned(),
        oversized,
    ] {
        let (status, headers) = check(&sg, Some(&format!("Bearer {bad}"))).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{}",
            &bad[..bad.len().min(40)]
        );
        assert!(headers["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token"));
    }
    // Not a JWT (two dots missing): no bearer check, no session: 401 as usual.
    assert_eq!(
        check(&sg, Some(&format!("Bearer {truncated}x"))).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(check(&sg, None).await.0, StatusCode::UNAUTHORIZED);
}
