//! Per-path rules within one profile (`[[apps.<name>.paths]]`): through nginx, Traefik and
//! Caddy with their example configurations, the most specific prefix decides who may use a
//! path and with which methods, whatever spelling of the path the client sends; ambiguous
//! paths are refused. Directly: each prefix answers its own credential, and every view
//! answers every credential header.

use reqwest::StatusCode;

use crate::harness::browser::sign_in_as;
use crate::harness::stack::{stack, Options, ProxyKind, Stack};
use crate::harness::{free_port, sidegate, write, Idp, Sidegate};

const RULES: &str = r#"
[apps.default]
allow_groups = ["staff"]

[[apps.default.paths]]
prefix = "/admin/"
allow_groups = ["admins"]

[[apps.default.paths]]
prefix = "/admin/status/"
allow_groups = ["staff"]
methods = ["GET"]
"#;

fn leaked_apps_file(contents: &str) -> &'static str {
    let dir = Box::leak(Box::new(tempfile::tempdir().unwrap()));
    let path = write(dir.path(), "apps.toml", contents);
    Box::leak(path.display().to_string().into_boxed_str())
}

async fn call(s: &Stack, cookie: &str, method: &str, path: &str) -> (StatusCode, String) {
    let r = s
        .client()
        .request(method.parse().unwrap(), s.app(path))
        .header("cookie", format!("_sidegate={cookie}"))
        .header("sec-fetch-mode", "cors")
        // A client's own copy of what sidegate decides by: never believed.
        .header("x-forwarded-uri", "/page")
        .header("x-original-uri", "/page")
        .header("x-forwarded-method", "GET")
        .send()
        .await
        .unwrap();
    let status = r.status();
    let body = r.text().await.unwrap_or_default();
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_most_specific_path_decides_through_every_proxy() {
    let apps = leaked_apps_file(RULES);
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
        let bob = sign_in_as(s.port, "bob").await; // staff
        let alice = sign_in_as(s.port, "alice").await; // admins, staff
        let cases: [(&str, &str, &str, StatusCode); 16] = [
            (&bob, "GET", "/page", StatusCode::OK),
            (&bob, "GET", "/administrator", StatusCode::OK),
            (&bob, "GET", "/admin/", StatusCode::FORBIDDEN),
            (&bob, "GET", "/admin", StatusCode::FORBIDDEN),
            (&bob, "GET", "/admin/users?x=1", StatusCode::FORBIDDEN),
            (&bob, "GET", "/ADMIN/users", StatusCode::FORBIDDEN),
            (&bob, "GET", "/%61dmin/users", StatusCode::FORBIDDEN),
            (&bob, "GET", "/page/..;/admin/users", StatusCode::FORBIDDEN),
            (&bob, "GET", "/admin%2fusers", StatusCode::FORBIDDEN),
            (&bob, "GET", "/admin/status/", StatusCode::OK),
            (&bob, "GET", "/Admin/Status/disk", StatusCode::OK),
            (&bob, "POST", "/admin/status/disk", StatusCode::FORBIDDEN),
            (&alice, "GET", "/admin/users", StatusCode::OK),
            (&alice, "DELETE", "/admin/users", StatusCode::OK),
            (&alice, "POST", "/admin/status/disk", StatusCode::FORBIDDEN),
            (
                &alice,
                "GET",
                "/page/..;/admin/users",
                StatusCode::FORBIDDEN,
            ),
        ];
        for (cookie, method, path, want) in cases {
            let who = if cookie == bob { "bob" } else { "alice" };
            let (status, body) = call(&s, cookie, method, path).await;
            assert_eq!(status, want, "{proxy:?}: {who} {method} {path}");
            if status == StatusCode::OK {
                let echoed: serde_json::Value = serde_json::from_str(&body).unwrap();
                assert_eq!(
                    echoed["headers"]["x-forwarded-user"][0], who,
                    "{proxy:?}: {method} {path}: {echoed}"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_prefix_answers_its_own_credential_and_every_credential_header() {
    let port = free_port();
    let public = format!("http://auth.example.test:{port}");
    let idp = Idp::start(&[format!("{public}/callback")]).await;
    let dir = tempfile::tempdir().unwrap();
    let apps = write(
        dir.path(),
        "apps.toml",
        r#"
[apps.tools]
bypass = [{ prefix = "/health" }]
credential = { type = "static", header = "X-App-Token", secret_env = "USER_TOKEN" }

[[apps.tools.paths]]
prefix = "/admin/"
allow_groups = ["admins"]
credential = { type = "static", header = "Authorization", scheme = "Bearer", secret_env = "ADMIN_TOKEN" }
"#,
    );
    let mut vars = sidegate::vars(&public, &idp.issuer(), None);
    vars.push(("SIDEGATE_APPS_FILE".into(), apps.display().to_string()));
    vars.push(("USER_TOKEN".into(), "user-token-1".into()));
    vars.push(("ADMIN_TOKEN".into(), "admin-token-1".into()));
    let sg = Sidegate::start_at(port, vars).await;
    sg.wait_ready().await;
    let alice = sign_in_as(port, "alice").await;
    let check = |uri: &'static str, cookie: Option<String>| {
        let mut r = reqwest::Client::new()
            .get(format!("http://{}/auth/tools", sg.addr))
            .header("x-forwarded-proto", "http")
            .header("x-forwarded-host", "app.example.test")
            .header("x-forwarded-uri", uri)
            .header("sec-fetch-mode", "cors");
        if let Some(c) = cookie {
            r = r.header("cookie", format!("_sidegate={c}"));
        }
        r.send()
    };
    let header = |r: &reqwest::Response, name: &str| {
        r.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let r = check("/admin/x", Some(alice.clone())).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        header(&r, "authorization").as_deref(),
        Some("Bearer admin-token-1")
    );
    assert_eq!(header(&r, "x-app-token").as_deref(), Some(""));
    let r = check("/page", Some(alice.clone())).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        header(&r, "x-app-token").as_deref(),
        Some("Bearer user-token-1")
    );
    assert_eq!(header(&r, "authorization").as_deref(), Some(""));
    // A bypass path under per-path rules: no credential, both headers answered empty.
    let r = check("/health", None).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header(&r, "x-app-token").as_deref(), Some(""));
    assert_eq!(header(&r, "authorization").as_deref(), Some(""));
    let r = check("/x/..;/admin/x", Some(alice)).await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(header(&r, "authorization"), None);
}
