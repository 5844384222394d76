//! `make demo` (`tests/demo/run.sh`) as a newcomer runs it, with the binary just built
//! instead of its release build: it starts, the first app signs alice in without a consent
//! screen and shows her the masked credential and that the session cookie stayed with
//! sidegate, the admins-only app lets her in by single sign-on and refuses bob,
//! `127.0.0.1` works as well as `localhost`, none of the caller's `SIDEGATE_*` variables
//! reach sidegate, and Ctrl-C stops everything while the logs it names stay.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::harness::{free_port, repo};

const HTML: &str = "text/html,application/xhtml+xml";

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap()
}

fn location(r: &reqwest::Response) -> String {
    r.headers()["location"].to_str().unwrap().to_owned()
}

/// Follows redirects from `url` through sidegate and the IdP, logging in as `user` on
/// the IdP's login form, until a page answers that is not a redirect. Fails if the IdP
/// shows a consent screen.
async fn browse(c: &reqwest::Client, url: &str, user: &str) -> reqwest::Response {
    let mut url: reqwest::Url = url.parse().unwrap();
    let mut form: Option<Vec<(&str, &str)>> = None;
    for _ in 0..20 {
        let r = match form.take() {
            Some(f) => c.post(url.clone()).form(&f).send().await.unwrap(),
            None => c
                .get(url.clone())
                .header("accept", HTML)
                .send()
                .await
                .unwrap(),
        };
        if r.status().is_redirection() {
            url = url.join(&location(&r)).unwrap();
            continue;
        }
        if !url.path().starts_with("/interaction/") {
            return r;
        }
        let body = r.text().await.unwrap();
        assert!(
            body.contains("name=\"login\""),
            "the IdP shows something other than its login form (a consent screen?): {body}"
        );
        form = Some(vec![
            ("prompt", "login"),
            ("login", user),
            ("password", "x"),
        ]);
    }
    panic!("no page after 20 redirects from {url}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn make_demo_starts_signs_in_shows_sso_and_a_refusal_and_stops_keeping_its_logs() {
    let ports: Vec<u16> = (0..5).map(|_| free_port()).collect();
    let (app, admin, auth, idp, backend) = (ports[0], ports[1], ports[2], ports[3], ports[4]);
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("demo");
    let mut script = Command::new("bash");
    script
        .arg(repo().join("tests/demo/run.sh"))
        .env("DEMO_SIDEGATE_BIN", env!("CARGO_BIN_EXE_sidegate"))
        .env("DEMO_DIR", &logs)
        .env("DEMO_APP_PORT", app.to_string())
        .env("DEMO_ADMIN_PORT", admin.to_string())
        .env("DEMO_AUTH_PORT", auth.to_string())
        .env("DEMO_IDP_PORT", idp.to_string())
        .env("DEMO_BACKEND_PORT", backend.to_string())
        // What `make` and a shell leave behind must not reach the demo's sidegate.
        .env("SIDEGATE_TEST_TRAEFIK_BIN", "/nowhere/traefik")
        .env("SIDEGATE_COOKIE_DOMIAN", "leftover")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, as a terminal's foreground job is: Ctrl-C reaches all.
        .process_group(0);
    let mut child = script.spawn().unwrap();
    let out = Arc::new(Mutex::new(String::new()));
    let mut readers = Vec::new();
    for stream in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
        Box::new(child.stderr.take().unwrap()),
    ] {
        let out = out.clone();
        readers.push(std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                let mut o = out.lock().unwrap();
                o.push_str(&line);
                o.push('\n');
            }
        }));
    }
    let text = || out.lock().unwrap().clone();
    let deadline = Instant::now() + Duration::from_secs(90);
    while !text().contains("sidegate demo is running") {
        assert!(
            Instant::now() < deadline && child.try_wait().unwrap().is_none(),
            "the demo did not start:\n{}",
            text()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // 127.0.0.1 becomes localhost, where sidegate's cookie lives.
    let c = client();
    let r = c
        .get(format!("http://127.0.0.1:{app}/x?y=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FOUND);
    assert_eq!(location(&r), format!("http://localhost:{app}/x?y=1"));

    // alice: the app page, without a consent screen, with the credential masked.
    let page = browse(
        &c,
        &format!("http://localhost:{app}/some/page?hello=world"),
        "alice",
    )
    .await;
    assert_eq!(page.status(), StatusCode::OK);
    let body = page.text().await.unwrap();
    for want in [
        "<span id=\"user\">alice</span>",
        "<code id=\"path\">/some/page?hello=world</code>",
        "<span id=\"credential\">Bear… (30 characters)</span>",
        "<span id=\"session-cookie\">did not arrive (sidegate keeps it to itself)</span>",
    ] {
        assert!(body.contains(want), "{want} missing:\n{body}");
    }
    assert!(
        !body.contains("demo-forever-token"),
        "the credential is shown:\n{body}"
    );

    // Single sign-on to the admins-only app; bob is refused there.
    let r = browse(&c, &format!("http://localhost:{admin}/"), "alice").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("<span id=\"user\">alice</span>"));
    let bob = client();
    let r = browse(&bob, &format!("http://localhost:{app}/"), "bob").await;
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("<span id=\"user\">bob</span>"));
    let r = browse(&bob, &format!("http://localhost:{admin}/"), "bob").await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let body = r.text().await.unwrap();
    assert!(
        body.contains("<h1>Access denied</h1>")
            && body.contains("signed in as bob")
            && body.contains(&format!("href=\"http://localhost:{auth}/logout\"")),
        "{body}"
    );

    let log = std::fs::read_to_string(logs.join("sidegate.log")).unwrap();
    assert!(
        !log.contains("SIDEGATE_TEST")
            && !log.contains("DOMIAN")
            && !log.contains("not a sidegate setting"),
        "sidegate.log:\n{log}"
    );

    // Ctrl-C: SIGINT to the whole group.
    let pgid = child.id().to_string();
    let kill = Command::new("kill")
        .args(["-INT", "--", &format!("-{pgid}")])
        .status()
        .unwrap();
    assert!(kill.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "the demo did not stop:\n{}",
            text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    for r in readers {
        r.join().unwrap();
    }
    assert!(status.success(), "{status:?}\n{}", text());
    let said = text();
    assert!(
        said.contains(&format!(
            "demo stopped; the logs are kept in {}",
            logs.display()
        )),
        "{said}"
    );
    assert!(!said.contains("a demo process exited"), "{said}");
    for file in ["sidegate.log", "idp.log", "nginx-error.log"] {
        assert!(logs.join(file).is_file(), "{file} was not kept");
    }
    for port in [app, admin, auth, idp, backend] {
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
            "port {port} still answers after the demo stopped"
        );
    }
}
