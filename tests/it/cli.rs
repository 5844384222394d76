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
        &["explain", "--help"],
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
        "explain",
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

/// `sidegate explain` with an apps file in `dir` (a bypass, allow_groups, a static token,
/// an identity header); the status, stdout and stderr.
fn explain(dir: &std::path::Path, args: &[&str]) -> (Option<i32>, String, String) {
    let apps = dir.join("apps.toml");
    std::fs::write(
        &apps,
        r#"
[apps.wiki]
allow_groups = ["admins"]
bypass = [{ prefix = "/static/" }]
credential = { type = "static", secret_env = "WIKI_TOKEN" }
headers = { "X-Name" = "name" }
"#,
    )
    .unwrap();
    let out = sidegate()
        .arg("explain")
        .args(args)
        .env("SIDEGATE_PUBLIC_URL", "https://auth.example.test")
        .env("SIDEGATE_ISSUER_URL", "http://127.0.0.1:9/")
        .env("SIDEGATE_CLIENT_ID", "sidegate")
        .env("SIDEGATE_CLIENT_SECRET", "client-secret-for-explain")
        .env(
            "SIDEGATE_COOKIE_SECRET",
            crate::harness::sidegate::COOKIE_SECRET,
        )
        .env("SIDEGATE_COOKIE_DOMAIN", "example.test")
        .env("SIDEGATE_APPS_FILE", &apps)
        .env("WIKI_TOKEN", "wiki-token-never-printed-42")
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    );
    for secret in ["wiki-token-never-printed-42", "client-secret-for-explain"] {
        assert!(
            !stdout.contains(secret) && !stderr.contains(secret),
            "{secret} printed:\n{stdout}{stderr}"
        );
    }
    (out.status.code(), stdout, stderr)
}

#[test]
fn explain_runs_the_real_check_and_names_the_rule_the_answer_and_the_headers() {
    let dir = tempfile::tempdir().unwrap();
    let url = "https://wiki.example.test/page?x=1";
    let nav = [
        "--app",
        "wiki",
        "--url",
        url,
        "-H",
        "Sec-Fetch-Mode: navigate",
    ];
    let run = |extra: &[&str]| explain(dir.path(), &[&nav[..], extra].concat());

    let (code, out, err) = run(&[
        "--user",
        "alice",
        "--claim",
        "groups=admins",
        "--claim",
        "name=Alice",
        "-H",
        "Cookie: theme=dark",
    ]);
    assert_eq!(code, Some(0), "{out}{err}");
    for line in [
        "profile:   wiki\n",
        "request:   GET https://wiki.example.test/page?x=1\n",
        "client:    navigation (Sec-Fetch-Mode: navigate)\n",
        "decision:  allowed\n",
        "rule:      allow_groups [\"admins\"] (the user's groups: [\"admins\"])\n",
        "answer:    200\n",
        "app receives:\n",
        "  x-forwarded-user: alice\n",
        "  x-name: Alice\n",
        "  authorization: ***SECRET***\n",
        "  cookie: theme=***\n",
        "answered empty (the proxy replaces the client's copies with nothing):\n  x-forwarded-email\n",
        "warnings: none\n",
    ] {
        assert!(out.contains(line), "{line:?} missing:\n{out}");
    }

    let (code, out, _) = run(&[
        "--user",
        "bob",
        "--claim",
        "groups=staff",
        "--proxy",
        "nginx",
    ]);
    assert_eq!(code, Some(0), "{out}");
    for line in [
        "proxy:     nginx -> /auth/nginx/wiki\n",
        "decision:  refused: no access rule of this app admits the user",
        "rule:      allow_groups [\"admins\"] (the user's groups: [\"staff\"])\n",
        "answer:    403\n",
        "`error_page 403 = @sidegate_denied`",
    ] {
        assert!(out.contains(line), "{line:?} missing:\n{out}");
    }
    assert!(!out.contains("app receives:"), "{out}");

    let (code, out, _) = run(&[]);
    assert_eq!(code, Some(0));
    let start = "https://auth.example.test/start?rd=https%3A%2F%2Fwiki.example.test%2Fpage%3Fx%3D1";
    assert!(
        out.contains("identity:  nobody: no session, no key\n"),
        "{out}"
    );
    assert!(out.contains("answer:    302\n"), "{out}");
    assert!(
        out.contains(&format!(
            "then:      Traefik sends the browser the 302 to {start}\n"
        )),
        "{out}"
    );

    let (code, out, _) = explain(
        dir.path(),
        &[
            "--app",
            "wiki",
            "--url",
            url,
            "-H",
            "Accept: application/json",
        ],
    );
    assert_eq!(code, Some(0));
    assert!(out.contains("answer:    401\n"), "{out}");
    assert!(
        out.contains(&format!("           x-sidegate-login: {start}\n")),
        "{out}"
    );
    assert!(
        out.contains("not signed in, and not a browser navigation"),
        "{out}"
    );

    let (code, out, _) = explain(
        dir.path(),
        &[
            "--app",
            "wiki",
            "--proxy",
            "caddy",
            "--url",
            "https://wiki.example.test/static/app.css",
        ],
    );
    assert_eq!(code, Some(0));
    assert!(
        out.contains("rule:      bypass { prefix = \"/static/\" }\n"),
        "{out}"
    );
    assert!(
        out.contains("answer:    200\n") && out.contains("  authorization\n"),
        "{out}"
    );

    let (code, out, _) = explain(
        dir.path(),
        &[
            "--app",
            "wiki",
            "--json",
            "--url",
            url,
            "--peer",
            "203.0.113.9",
            "-H",
            "X-Forwarded-User: mallory",
        ],
    );
    assert_eq!(code, Some(0));
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["status"], 403);
    assert_eq!(json["peer_trusted"], false);
    assert_eq!(json["rule"], "SIDEGATE_TRUSTED_PROXIES");
    let codes: Vec<&str> = json["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["untrusted-peer", "client-identity-header"], "{out}");
    assert!(
        json["warnings"][0]["problem"]
            .as_str()
            .unwrap()
            .contains("203.0.113.9"),
        "{out}"
    );

    for (bad, says) in [
        (
            &["--app", "nope", "--url", url][..],
            "no app profile `nope`",
        ),
        (
            &["--app", "wiki", "--url", "wiki.example.test"],
            "not an absolute http(s) URL",
        ),
        (
            &["--app", "wiki", "--url", url, "-H", "Accept"],
            "write it as -H 'Name: value'",
        ),
        (
            &["--url", url, "--session", "x"],
            "--session needs SIDEGATE_REDIS_URL",
        ),
        (&["--app", "wiki"], "--url"),
    ] {
        let (code, out, err) = explain(dir.path(), bad);
        assert_eq!(code, Some(2), "{bad:?}: {out}{err}");
        assert!(err.contains(says), "{bad:?}: {err}");
    }
}

#[test]
fn explain_reads_a_captured_subrequest_and_warns_about_what_the_proxy_left_out() {
    let dir = tempfile::tempdir().unwrap();
    // Traefik without Accept, Sec-Fetch-Mode and Cookie in authRequestHeaders.
    let captured = dir.path().join("subrequest.txt");
    std::fs::write(
        &captured,
        "GET /auth/wiki HTTP/1.1\r\nHost: sidegate:4180\r\nX-Forwarded-Method: GET\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: wiki.example.test\r\nX-Forwarded-Uri: /\r\nX-Forwarded-For: 192.0.2.7\r\n\r\n",
    )
    .unwrap();
    let (code, out, err) = explain(
        dir.path(),
        &[
            "--proxy",
            "traefik",
            "--request",
            captured.to_str().unwrap(),
            "--user",
            "alice",
            "--claim",
            "groups=admins",
        ],
    );
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("answer:    200\n"), "{out}");
    assert!(
        out.contains(
            "  - [no-navigation-hints] the subrequest has neither Accept nor Sec-Fetch-Mode"
        ),
        "{out}"
    );
    assert!(
        out.contains("fix: list Accept and Sec-Fetch-Mode in the middleware's authRequestHeaders"),
        "{out}"
    );
    assert!(out.contains("  - [no-cookie] "), "{out}");
    let (code, _, err) = explain(
        dir.path(),
        &["--request", dir.path().join("missing").to_str().unwrap()],
    );
    assert_eq!(code, Some(2));
    assert!(err.contains("cannot read it"), "{err}");
    std::fs::write(&captured, "GET /auth/wiki HTTP/1.1\nHost sidegate\n").unwrap();
    let (code, _, err) = explain(dir.path(), &["--request", captured.to_str().unwrap()]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("line 2 `Host sidegate` is not a header line"),
        "{err}"
    );
}

/// A stand-in for sidegate that records the first request it gets and answers 200.
async fn capture_one() -> (
    std::net::SocketAddr,
    tokio::sync::oneshot::Receiver<Vec<u8>>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let (mut conn, _) = listener.accept().await.unwrap();
        let mut bytes = Vec::new();
        let mut buf = [0u8; 4096];
        while !bytes.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = conn.read(&mut buf).await.unwrap();
            assert!(n > 0, "the proxy closed before the headers ended");
            bytes.extend_from_slice(&buf[..n]);
        }
        conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            .await
            .unwrap();
        let _ = tx.send(bytes);
    });
    (addr, rx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_finds_nothing_wrong_with_the_subrequest_of_the_nginx_example() {
    let (capture, captured) = capture_one().await;
    let app = crate::harness::serve(warp::Filter::map(warp::any(), || "app")).await;
    let port = crate::harness::Nginx::pick_port();
    let _nginx = crate::harness::Nginx::start("sidegate.conf", port, capture, app.addr).await;
    let client = reqwest::Client::new();
    let r = client
        .get(format!("http://127.0.0.1:{port}/page?q=1"))
        .header("host", "app.example.test")
        .header("accept", "text/html")
        .header("sec-fetch-mode", "navigate")
        .header("cookie", "theme=dark")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let bytes = tokio::time::timeout(std::time::Duration::from_secs(10), captured)
        .await
        .unwrap()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("subrequest.txt");
    std::fs::write(&file, &bytes).unwrap();
    let path = file.to_str().unwrap().to_owned();
    let (code, out, err) = tokio::task::spawn_blocking(move || {
        let dir = tempfile::tempdir().unwrap();
        explain(dir.path(), &["--request", &path])
    })
    .await
    .unwrap();
    assert_eq!(code, Some(0), "{out}{err}");
    for line in [
        "proxy:     nginx -> /auth/nginx\n",
        "request:   GET http://app.example.test/page?q=1\n",
        "client:    navigation (Sec-Fetch-Mode: navigate)\n",
        "answer:    401\n",
        "           location: https://auth.example.test/start?rd=http%3A%2F%2Fapp.example.test%2Fpage%3Fq%3D1\n",
    ] {
        assert!(out.contains(line), "{line:?} missing:\n{out}");
    }
    // The example's app is plain http behind an https sidegate: the only finding.
    let warnings = out.split("warnings:").nth(1).unwrap_or_default();
    assert_eq!(warnings.matches("  - [").count(), 1, "{out}");
    assert!(warnings.contains("[return-url-refused]"), "{out}");
}

/// `explain --session`: a session made by a real login, read from the real Redis without
/// sliding its idle deadline or writing anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_reads_a_stored_session_from_redis_without_touching_it() {
    use crate::harness::{free_port, sidegate as sg, RedisServer, Sidegate};
    let port = free_port();
    let public = format!("http://auth.example.test:{port}");
    let idp = crate::harness::Idp::start(&[format!("{public}/callback")]).await;
    let redis = RedisServer::start().await;
    let vars = sg::vars(&public, &idp.issuer(), Some(&redis.url()));
    let server = Sidegate::start_at(port, vars.clone()).await;
    server.wait_ready().await;
    let cookie = crate::harness::browser::sign_in(port).await;
    let key = format!("sidegate:s:{}", cookie.split_once('.').unwrap().0);
    let mut c = redis.conn().await;
    let stored = |c: &mut redis::aio::MultiplexedConnection| {
        let key = key.clone();
        let mut c = c.clone();
        async move {
            let value: Vec<u8> = redis::cmd("GET")
                .arg(&key)
                .query_async(&mut c)
                .await
                .unwrap();
            let ttl: i64 = redis::cmd("PTTL")
                .arg(&key)
                .query_async(&mut c)
                .await
                .unwrap();
            (value, ttl)
        }
    };
    let (before, ttl_before) = stored(&mut c).await;
    let run = |session: String| {
        let mut cmd = sidegate();
        cmd.envs(vars.clone()).args([
            "explain",
            "--url",
            "http://app.example.test/page",
            "-H",
            "Sec-Fetch-Mode: navigate",
            "--session",
            &session,
        ]);
        cmd.output().unwrap()
    };
    let out = run(cookie.clone());
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("identity:  alice, from the stored session (--session, read-only)")
            && text.contains("decision:  allowed")
            && text.contains("x-forwarded-user: alice"),
        "{text}"
    );
    assert!(
        !text.contains(&cookie),
        "the session cookie was printed:\n{text}"
    );
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let (after, ttl_after) = stored(&mut c).await;
    assert_eq!(before, after, "explain rewrote the stored session");
    assert!(ttl_after <= ttl_before, "explain slid the idle deadline");
    // Another secret half for the same id: nobody, as the server would say.
    let (id, secret) = cookie.split_once('.').unwrap();
    let forged = format!("{id}.{}", "A".repeat(secret.len()));
    let out = run(forged);
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("identity:  nobody"), "{text}");
    drop(server);
}
