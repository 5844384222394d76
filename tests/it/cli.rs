//! The `sidegate` binary as users run it: exit status 2 with every problem listed, and
//! `check-config` with secrets masked.

use std::process::Command;

fn sidegate() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sidegate"));
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    c
}

#[test]
fn bad_config_exits_2_listing_every_problem() {
    let out = sidegate()
        .env("SIDEGATE_PUBLIC_URL", "not-a-url")
        .env("SIDEGATE_COOKIE_SECRET", "short")
        .env("SIDEGATE_SESSION_LIFETIME", "forever")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    for var in [
        "SIDEGATE_PUBLIC_URL",
        "SIDEGATE_ISSUER_URL",
        "SIDEGATE_CLIENT_ID",
        "SIDEGATE_CLIENT_SECRET",
        "SIDEGATE_COOKIE_SECRET",
        "SIDEGATE_SESSION_LIFETIME",
    ] {
        assert!(err.contains(var), "{var} not reported:\n{err}");
    }
    assert!(err.contains("6 configuration problem(s)"), "{err}");
}

#[test]
fn check_config_prints_effective_config_with_secrets_masked() {
    let dir = tempfile::tempdir().unwrap();
    let secret_file = dir.path().join("client-secret");
    std::fs::write(&secret_file, "file-client-secret-XYZ\n").unwrap();
    let out = sidegate()
        .args(["check-config", "--offline"])
        .env("SIDEGATE_PUBLIC_URL", "https://auth.example.test")
        .env(
            "SIDEGATE_ISSUER_URL",
            "https://idp.example.test/application/o/sidegate/",
        )
        .env("SIDEGATE_CLIENT_ID", "sidegate")
        .env("SIDEGATE_CLIENT_SECRET_FILE", &secret_file)
        .env(
            "SIDEGATE_COOKIE_SECRET",
            "cookie-secret-cookie-secret-cookie-secret-42",
        )
        .env(
            "SIDEGATE_REDIS_URL",
            "redis://:redis-password-77@redis:6379/0",
        )
        .env("SIDEGATE_SERVICE_PORT", "4180")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    for secret in [
        "file-client-secret-XYZ",
        "cookie-secret-cookie",
        "redis-password-77",
    ] {
        assert!(
            !text.contains(secret) && !err.contains(secret),
            "{secret} printed"
        );
    }
    assert!(
        text.contains("SIDEGATE_ISSUER_URL = https://idp.example.test/application/o/sidegate/\n"),
        "{text}"
    );
    assert!(
        text.contains("SIDEGATE_CLIENT_SECRET = ***SECRET***"),
        "{text}"
    );
    assert!(
        err.contains("SIDEGATE_SERVICE_PORT is not a sidegate setting"),
        "{err}"
    );
    for uri in [
        "redirect URI:             https://auth.example.test/callback\n",
        "post-logout redirect URI: https://auth.example.test/logged-out\n",
        "back-channel logout URI:  https://auth.example.test/backchannel-logout\n",
        "(--offline)",
    ] {
        assert!(text.contains(uri), "{uri} missing:\n{text}");
    }
}

/// `check-config` with `vars` (the harness's, against the real OP), run off the runtime.
async fn check_config(vars: Vec<(String, String)>) -> (Option<i32>, String, String) {
    let mut cmd = sidegate();
    cmd.arg("check-config").envs(vars);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    (
        out.status.code(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_config_asks_the_idp_and_redis_and_names_the_value_to_set() {
    use crate::harness::{sidegate::vars, Idp, RedisServer};
    let idp = Idp::start(&["http://auth.example.test/callback".into()]).await;
    let redis = RedisServer::start().await;
    let issuer = idp.issuer();
    let good = vars("http://auth.example.test", &issuer, Some(&redis.url()));

    let (code, out, err) = check_config(good.clone()).await;
    assert_eq!(code, Some(0), "{out}{err}");
    for line in [
        format!("  ok           discovery: {issuer}/.well-known/openid-configuration states the issuer `{issuer}`, exactly as configured\n"),
        "  ok           signing keys: the IdP publishes ".into(),
        "  ok           token endpoint: answers and accepts sidegate's client id and secret\n".into(),
        "  ok           Redis: answers PING\n".into(),
    ] {
        assert!(out.contains(&line), "{line} missing:\n{out}");
    }

    // Authentik's issuer has a trailing slash; here the IdP states none and the setting has one.
    let mut slash = good.clone();
    slash.retain(|(k, _)| k != "SIDEGATE_ISSUER_URL");
    slash.push(("SIDEGATE_ISSUER_URL".into(), format!("{issuer}/")));
    let (code, out, err) = check_config(slash).await;
    assert_eq!(code, Some(2), "{out}{err}");
    let want = format!("  PROBLEM      misconfigured: issuer mismatch: the IdP says `{issuer}`; set SIDEGATE_ISSUER_URL to exactly that (it is `{issuer}/`)\n");
    assert!(out.contains(&want), "{want} missing:\n{out}");
    assert!(err.contains("a setting must change"), "{err}");

    let mut wrong_secret = good.clone();
    wrong_secret.retain(|(k, _)| k != "SIDEGATE_CLIENT_SECRET");
    wrong_secret.push(("SIDEGATE_CLIENT_SECRET".into(), "not-the-secret".into()));
    let (code, out, err) = check_config(wrong_secret).await;
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(
        out.contains("PROBLEM      misconfigured: the IdP's token endpoint refuses sidegate's client (invalid_client); check SIDEGATE_CLIENT_ID and SIDEGATE_CLIENT_SECRET"),
        "{out}"
    );

    let closed = crate::harness::free_port();
    let no_redis = vars(
        "http://auth.example.test",
        &issuer,
        Some(&format!("redis://127.0.0.1:{closed}/0")),
    );
    let (code, out, err) = check_config(no_redis).await;
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(out.contains("  UNREACHABLE  Redis: "), "{out}");
    assert!(out.contains("  ok           discovery: "), "{out}");

    let no_idp = vars(
        "http://auth.example.test",
        &format!("http://127.0.0.1:{closed}"),
        None,
    );
    let (code, out, err) = check_config(no_idp).await;
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(
        out.contains("  UNREACHABLE  the IdP is unreachable: the IdP cannot be reached at"),
        "{out}"
    );
    assert!(
        out.contains("  ok           sessions: kept in memory"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthcheck_probes_the_running_service() {
    let down = sidegate()
        .arg("healthcheck")
        .env(
            "SIDEGATE_LISTEN",
            format!("0.0.0.0:{}", crate::harness::free_port()),
        )
        .output()
        .unwrap();
    assert_eq!(down.status.code(), Some(1));
    let sg = crate::harness::Sidegate::start(crate::harness::sidegate::vars(
        "http://auth.example.test",
        "http://127.0.0.1:9/",
        None,
    ))
    .await;
    let mut cmd = sidegate();
    cmd.arg("healthcheck")
        .env("SIDEGATE_LISTEN", format!("0.0.0.0:{}", sg.addr.port()));
    let up = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert_eq!(
        up.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );
}

#[test]
fn help_and_version_answer_before_any_configuration_is_read() {
    for args in [
        &["--help"][..],
        &["serve", "--help"],
        &["check-config", "--help"],
        &["healthcheck", "--help"],
        &["apikey", "--help"],
        &["help"],
    ] {
        let out = sidegate().args(args).output().unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {text}");
        assert!(text.contains("Usage: sidegate"), "{args:?}: {text}");
    }
    let top = sidegate().arg("--help").output().unwrap();
    let text = String::from_utf8(top.stdout).unwrap();
    for command in [
        "serve",
        "check-config",
        "healthcheck",
        "sessions",
        "apikey",
        "Exit codes",
    ] {
        assert!(
            text.contains(command),
            "{command} missing from --help:\n{text}"
        );
    }
    let version = sidegate().arg("--version").output().unwrap();
    assert_eq!(version.status.code(), Some(0));
    assert_eq!(
        String::from_utf8(version.stdout).unwrap().trim(),
        format!(
            "sidegate {} (commit {})",
            env!("CARGO_PKG_VERSION"),
            env!("SIDEGATE_COMMIT")
        )
    );
    let unknown = sidegate().arg("frobnicate").output().unwrap();
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8(unknown.stderr)
        .unwrap()
        .contains("frobnicate"));
}
