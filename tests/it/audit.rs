//! The audit trail (`SIDEGATE_AUDIT_LOG`) through nginx's example with the real OP: one
//! JSON line per decision, naming who, which app, what and the outcome; never the query,
//! a cookie, a ticket or a token; a bad setting stops sidegate with a message.

use reqwest::StatusCode;
use serde_json::Value;

use crate::harness::browser::{location, Browser};
use crate::harness::stack::{stack, Options};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_decision_is_one_json_line_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("audit.jsonl");
    let path: &'static str = Box::leak(file.display().to_string().into_boxed_str());
    let s = stack(Options {
        vars: vec![("SIDEGATE_AUDIT_LOG", path)],
        ..Options::default()
    })
    .await;
    let b = Browser::new(s.port);
    // Refused API call, a navigation sent to log in, then allowed with a query.
    let r = b
        .client
        .get(s.app("/api?token=leaked"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = b.navigate(&s.app("/report?key=leaked")).await;
    assert_eq!(r.status(), StatusCode::FOUND);
    let r = b.navigate(&location(&r)).await;
    let callback = b
        .login_at_idp(&location(&r), "alice", &s.auth("/callback"))
        .await;
    b.navigate(&callback).await;
    let r = b.navigate(&s.app("/report?key=leaked")).await;
    assert_eq!(r.status(), StatusCode::OK);
    let ticket = b.cookie(&s.app("/"), "_sidegate").unwrap();

    let text = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    let outcomes: Vec<&str> = lines
        .iter()
        .map(|l| l["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["unauthenticated", "login", "allow"], "{text}");
    let allow = &lines[2];
    for (field, want) in [
        ("subject", "alice"),
        ("proof", "session"),
        ("app", "default"),
        ("method", "GET"),
        ("path", "/report"),
    ] {
        assert_eq!(allow[field], want, "{field}: {allow}");
    }
    assert!(
        allow["host"]
            .as_str()
            .unwrap()
            .starts_with("app.example.test"),
        "{allow}"
    );
    assert!(allow["time"].as_str().unwrap().ends_with('Z'), "{allow}");
    assert!(lines[0].get("subject").is_none(), "{}", lines[0]);
    for secret in ["leaked", ticket.as_str(), "_sidegate"] {
        assert!(
            !text.contains(secret),
            "{secret} in the audit trail:\n{text}"
        );
    }
}

#[test]
fn a_relative_audit_path_is_a_configuration_problem() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sidegate"))
        .args(["check-config", "--offline"])
        .env_clear()
        .env("SIDEGATE_PUBLIC_URL", "https://auth.example.test")
        .env("SIDEGATE_ISSUER_URL", "https://idp.example.test/")
        .env("SIDEGATE_CLIENT_ID", "sidegate")
        .env("SIDEGATE_CLIENT_SECRET", "x")
        .env("SIDEGATE_COOKIE_SECRET", "0123456789abcdef0123456789abcdef")
        .env("SIDEGATE_AUDIT_LOG", "audit.jsonl")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("SIDEGATE_AUDIT_LOG: `audit.jsonl` is neither"),
        "{err}"
    );
}
