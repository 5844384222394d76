//! The Kubernetes ingress-nginx example: its annotations agree with the rendered nginx
//! configuration, and that configuration runs the login flow in real nginx.

use std::collections::BTreeMap;

use reqwest::StatusCode;
use serde_json::Value;

use crate::harness::browser::{location, Browser};
use crate::harness::repo;
use crate::harness::stack::{stack, Options, ProxyKind};

fn annotations() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(repo().join("nginx-examples/ingress-nginx.yaml")).unwrap();
    let doc = serde_yaml_ng::Deserializer::from_str(&text).next().unwrap();
    let ingress: serde_yaml_ng::Value = serde::Deserialize::deserialize(doc).unwrap();
    ingress["metadata"]["annotations"]
        .as_mapping()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            let k = k
                .as_str()
                .unwrap()
                .strip_prefix("nginx.ingress.kubernetes.io/")
                .unwrap();
            (k.to_owned(), v.as_str().unwrap().to_owned())
        })
        .collect()
}

#[test]
fn annotations_match_the_rendered_configuration() {
    let a = annotations();
    let rendered =
        std::fs::read_to_string(repo().join("nginx-examples/ingress-nginx-rendered.conf")).unwrap();
    let auth_url = url::Url::parse(&a["auth-url"]).unwrap();
    assert_eq!(
        auth_url.path(),
        "/auth/nginx",
        "ingress-nginx must call the nginx endpoint (never a 302)"
    );
    assert!(rendered.contains(&format!("proxy_pass http://sidegate{};", auth_url.path())));
    let signin = &a["auth-signin"];
    assert!(!signin.contains("rd="), "ingress-nginx appends rd itself");
    assert!(rendered.contains(&format!(
        "return 302 {signin}?rd=$scheme://$http_host$escaped_request_uri;"
    )));
    for (i, h) in a["auth-response-headers"].split(',').enumerate() {
        let var = h.to_lowercase().replace('-', "_");
        assert!(
            rendered.contains(&format!(
                "auth_request_set $authHeader{i} $upstream_http_{var};"
            )),
            "{h}"
        );
        assert!(
            rendered.contains(&format!("proxy_set_header '{h}' $authHeader{i};")),
            "{h}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_flow_through_rendered_ingress_nginx() {
    let s = stack(Options {
        proxy: ProxyKind::Nginx("ingress-nginx-rendered.conf"),
        ..Options::default()
    })
    .await;
    let b = Browser::new(s.port);
    let app_url = s.app("/some/path?q=1&x=%2F");

    // ingress-nginx sends every 401 to auth-signin, with the original URL escaped into rd.
    let r = b.navigate(&app_url).await;
    assert_eq!(r.status(), StatusCode::FOUND);
    let start = location(&r);
    let rd: String = url::form_urlencoded::byte_serialize(b"/some/path?q=1&x=%2F").collect();
    assert_eq!(
        start,
        s.auth(&format!("/start?rd=http://app.example.test:{}{rd}", s.port))
    );

    let r = b.navigate(&start).await;
    assert_eq!(r.status(), StatusCode::FOUND);
    let callback = b
        .login_at_idp(&location(&r), "alice", &s.auth("/callback"))
        .await;
    let r = b.navigate(&callback).await;
    assert_eq!(
        location(&r),
        app_url,
        "back on the original URL, byte for byte"
    );

    let r = b
        .client
        .get(&app_url)
        .header("x-forwarded-user", "mallory")
        .header("x-forwarded-groups", "admins")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let seen: Value = r.json().await.unwrap();
    assert_eq!(
        seen["headers"]["x-forwarded-user"],
        serde_json::json!(["alice"])
    );
    assert_eq!(
        seen["headers"]["x-forwarded-groups"],
        serde_json::json!(["admins,staff"])
    );
    assert_eq!(
        seen["headers"]["x-forwarded-email"],
        serde_json::json!(["alice@example.test"])
    );
    assert_eq!(seen["query"], "q=1&x=%2F");
}
