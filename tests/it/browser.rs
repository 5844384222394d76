//! Headless Chromium (Debian's) driven by playwright-core (`tests/browser/login.mjs`)
//! through nginx's multi-app example: login, single sign-on, sign-out, and every page
//! sidegate shows people. Screenshots land in `target/test-artifacts/browser/`.

use std::process::Command;

use crate::harness::stack::{stack, Options, ProxyKind};
use crate::harness::{program, repo, sidegate, Sidegate};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_login_single_sign_on_and_pages() {
    let chromium = program(
        "chromium",
        "apt-get install -y --no-install-recommends chromium",
    );
    let node = program("node", "apt-get install -y nodejs npm");
    assert!(
        repo()
            .join("tests/browser/node_modules/playwright-core")
            .is_dir(),
        "playwright-core is not installed: run `cd tests/browser && npm ci` (or `make test`)"
    );
    let s = stack(Options {
        proxy: ProxyKind::Nginx("multi-app.conf"),
        demo_app: true,
        ..Options::default()
    })
    .await;
    // A second sidegate whose IdP never answers, for the "unreachable" page.
    let dead = Sidegate::start(sidegate::vars(
        "http://dead.example.test",
        "http://127.0.0.1:9/",
        None,
    ))
    .await;
    // And one whose issuer setting has a trailing slash the IdP does not state.
    let misconfigured = Sidegate::start(sidegate::vars(
        "http://misconfigured.example.test",
        &format!("{}/", s.idp.issuer()),
        None,
    ))
    .await;
    let shots = repo().join("target/test-artifacts/browser");
    let _ = std::fs::remove_dir_all(&shots);
    let mut cmd = Command::new(node);
    cmd.arg(repo().join("tests/browser/login.mjs"))
        .current_dir(repo().join("tests/browser"))
        .env("CHROMIUM", chromium)
        .env("APP", s.app(""))
        .env("APP2", s.app2(""))
        .env("AUTH", s.auth(""))
        .env("IDP", s.idp.issuer())
        .env(
            "DEAD_START",
            format!(
                "http://{}/start?rd=http%3A%2F%2Fapp.example.test%2F",
                dead.addr
            ),
        )
        .env(
            "MISCONFIGURED_START",
            format!(
                "http://{}/start?rd=http%3A%2F%2Fapp.example.test%2F",
                misconfigured.addr
            ),
        )
        .env("SHOTS", &shots);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "browser test failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("BROWSER OK"), "{stdout}\n{stderr}");
    for name in [
        "app-signed-in",
        "app2-single-sign-on",
        "page-signed-in",
        "page-signed-out",
        "page-sign-in-cancelled",
        "page-idp-unreachable",
        "page-misconfigured",
    ] {
        assert!(
            shots.join(format!("{name}.png")).is_file(),
            "screenshot {name} missing"
        );
    }
}
