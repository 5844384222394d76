//! One check end to end in process: a real App on the memory store, sessions made directly.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::*;
use crate::clock::FixedClock;
use crate::config::Config;
use crate::session::Session;
use crate::store::MemoryStore;

const NOW: u64 = 1_900_000_000;

fn app(apps_toml: &str) -> (Arc<App<MemoryStore>>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("apps.toml");
    std::fs::write(&file, apps_toml).unwrap();
    let config = crate::config::test_config(
        "http://127.0.0.1:9/",
        &[
            ("SIDEGATE_APPS_FILE", file.to_str().unwrap()),
            ("ADMIN_PW", "admin-pw"),
            ("VIEW_PW", "view-pw"),
        ],
    );
    let clock = Arc::new(FixedClock::new(NOW));
    let store = MemoryStore::with_clock(clock.clone());
    (App::new(config, store, None, clock).unwrap(), dir)
}

async fn signed_in(app: &App<MemoryStore>, groups: serde_json::Value) -> String {
    let session = Session {
        sub: "someone".into(),
        claims: json!({"groups": groups}).as_object().unwrap().clone(),
        created_at: NOW,
        expires_at: NOW + 3600,
        ..Session::default()
    };
    let ticket = app
        .sessions
        .create(&session, Duration::from_secs(3600))
        .await
        .unwrap();
    format!("_sidegate={}", ticket.to_cookie_value())
}

async fn check_with(app: &App<MemoryStore>, name: &str, cookie: &str) -> Verdict {
    let request = ForwardedRequest {
        method: "GET".into(),
        method_given: true,
        proto: "https".into(),
        host: "app.example.test".into(),
        uri: "/".into(),
    };
    let asked = Asked {
        request: &request,
        hints: ClientHints::default(),
        presented: Presentation {
            cookies: vec![cookie],
            raw_cookies: vec![cookie.as_bytes()],
            ..Presentation::default()
        },
    };
    let profile = app.config.profiles.get(Some(name)).unwrap().clone();
    check(app, &profile, asked).await.unwrap()
}

fn header(v: &Verdict, name: &str) -> Option<String> {
    match v {
        Verdict::Allow { headers, .. } => headers.get(name).map(|h| h.to_str().unwrap().to_owned()),
        _ => None,
    }
}

#[tokio::test]
async fn credentials_are_chosen_by_group_first_match_then_the_default_or_a_refusal() {
    let (app, _dir) = app(r#"
[apps.shared]
[[apps.shared.credentials]]
groups = ["admins"]
type = "basic"
user = "admin"
password_env = "ADMIN_PW"
[[apps.shared.credentials]]
groups = ["staff", "admins"]
type = "basic"
user = "viewer"
password_env = "VIEW_PW"

[apps.with-default]
[[apps.with-default.credentials]]
groups = ["admins"]
type = "basic"
user = "admin"
password_env = "ADMIN_PW"
[[apps.with-default.credentials]]
type = "basic"
user = "guest"
password_env = "VIEW_PW"
"#);
    let basic = |u: &str, p: &str| {
        crate::profile::credential::basic(u, p)
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned()
    };
    let admin = signed_in(&app, json!(["staff", "admins"])).await;
    let staff = signed_in(&app, json!(["staff"])).await;
    let nobody = signed_in(&app, json!(["contractors"])).await;
    let v = check_with(&app, "shared", &admin).await;
    assert_eq!(
        header(&v, "authorization"),
        Some(basic("admin", "admin-pw")),
        "first match wins"
    );
    let v = check_with(&app, "shared", &staff).await;
    assert_eq!(
        header(&v, "authorization"),
        Some(basic("viewer", "view-pw"))
    );
    let v = check_with(&app, "shared", &nobody).await;
    assert!(
        matches!(v, Verdict::Deny(Denial::Forbidden { .. })),
        "no credential for the groups and no default: refused, {v:?}"
    );
    let v = check_with(&app, "with-default", &nobody).await;
    assert_eq!(header(&v, "authorization"), Some(basic("guest", "view-pw")));
    let v = check_with(&app, "with-default", &admin).await;
    assert_eq!(
        header(&v, "authorization"),
        Some(basic("admin", "admin-pw"))
    );
}

#[test]
fn credentials_by_group_are_checked_at_startup() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("apps.toml");
    std::fs::write(
        &file,
        r#"
[apps.both]
credential = { type = "static", secret_env = "ADMIN_PW" }
[[apps.both.credentials]]
type = "static"
secret_env = "ADMIN_PW"

[apps.two-defaults]
[[apps.two-defaults.credentials]]
type = "static"
secret_env = "ADMIN_PW"
[[apps.two-defaults.credentials]]
type = "static"
secret_env = "ADMIN_PW"

[apps.empty-groups]
[[apps.empty-groups.credentials]]
groups = []
type = "static"
secret_env = "ADMIN_PW"
"#,
    )
    .unwrap();
    let vars = [
        ("SIDEGATE_PUBLIC_URL", "https://auth.example.test"),
        ("SIDEGATE_ISSUER_URL", "http://127.0.0.1:9/"),
        ("SIDEGATE_CLIENT_ID", "sidegate"),
        ("SIDEGATE_CLIENT_SECRET", "x"),
        ("SIDEGATE_COOKIE_SECRET", "0123456789abcdef0123456789abcdef"),
        ("SIDEGATE_APPS_FILE", file.to_str().unwrap()),
        ("ADMIN_PW", "admin-pw"),
    ];
    let errors = Config::from_vars(vars.iter().map(|(k, v)| ((*k).into(), (*v).into())))
        .unwrap_err()
        .0;
    for want in [
        "apps.both: set either `credential` or `[[credentials]]`",
        "apps.two-defaults.credentials[1]: only one credential may leave out `groups`",
        "apps.empty-groups.credentials[0].groups",
    ] {
        assert!(
            errors.iter().any(|e| e.contains(want)),
            "{want}: {errors:?}"
        );
    }
}
