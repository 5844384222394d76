//! Redis over TLS with an ACL user: a real `redis-server` with a TLS listener only, its
//! certificate signed by a CA this test makes with `openssl`. sidegate trusts that CA
//! (`SIDEGATE_REDIS_CA_FILE`), signs a person in and checks their session over TLS; without
//! the CA, or with a wrong password, it is not ready and says why.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;

use crate::harness::browser::{location, Browser};
use crate::harness::sidegate::{self, SidegateProcess};
use crate::harness::{free_port, program, Idp, Proc, Sidegate};

const PASSWORD: &str = "tls-acl-pw-5d1c";

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new(program("openssl", "apt-get install -y openssl"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA, and a certificate for 127.0.0.1 it signed, in `dir`.
fn certificates(dir: &Path) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=sidegate test CA",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "redis.key",
            "-out",
            "redis.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
    );
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "redis.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "redis.pem",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ],
    );
}

/// redis-server with only a TLS port, the default user off and user `sidegate`.
async fn tls_redis(dir: &Path) -> (Proc, u16) {
    let port = free_port();
    let d = |f: &str| dir.join(f).display().to_string();
    let mut cmd = Command::new(program("redis-server", "apt-get install -y redis-server"));
    cmd.args([
        "--port",
        "0",
        "--bind",
        "127.0.0.1",
        "--tls-port",
        &port.to_string(),
    ])
    .args([
        "--tls-cert-file",
        &d("redis.pem"),
        "--tls-key-file",
        &d("redis.key"),
    ])
    .args([
        "--tls-ca-cert-file",
        &d("ca.pem"),
        "--tls-auth-clients",
        "no",
    ])
    .args([
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        &dir.display().to_string(),
    ])
    .args(["--user", "default", "off"])
    .args([
        "--user",
        "sidegate",
        "on",
        &format!(">{PASSWORD}"),
        "~*",
        "&*",
        "+@all",
    ]);
    let mut proc = Proc::spawn("redis-tls", tempfile::tempdir().unwrap(), cmd);
    proc.wait_until(Duration::from_secs(10), || async move {
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
    })
    .await;
    (proc, port)
}

/// `/readyz`'s body once the store's reason contains `want` (within 20 s).
async fn store_reason(addr: std::net::SocketAddr, want: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r: Value = reqwest::get(format!("http://{addr}/readyz"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let why = r["store"]["reason"].as_str().unwrap_or_default().to_owned();
        if why.to_lowercase().contains(want) || Instant::now() > deadline {
            assert_eq!(r["ready"], false, "{r}");
            return why;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_over_tls_with_an_acl_user_and_a_ca_file() {
    let certs = tempfile::tempdir().unwrap();
    certificates(certs.path());
    let (_redis, redis_port) = tls_redis(certs.path()).await;
    let ca = certs.path().join("ca.pem").display().to_string();
    let url = |pw: &str| format!("rediss://sidegate:{pw}@127.0.0.1:{redis_port}/0");

    let port = free_port();
    let public = format!("http://auth.example.test:{port}");
    let idp = Idp::start(&[format!("{public}/callback")]).await;
    let mut vars = sidegate::vars(&public, &idp.issuer(), Some(&url(PASSWORD)));
    vars.push(("SIDEGATE_REDIS_CA_FILE".into(), ca.clone()));
    let sg = SidegateProcess::spawn_on(port, vars).await;

    // A real login, its session written to Redis over TLS, then checked.
    let b = Browser::new(port);
    let r = b
        .navigate(&format!(
            "{public}/start?rd=http%3A%2F%2Fapp.example.test%2F"
        ))
        .await;
    assert_eq!(r.status(), StatusCode::FOUND);
    let callback = b
        .login_at_idp(&location(&r), "alice", &format!("{public}/callback"))
        .await;
    let r = b.navigate(&callback).await;
    assert_eq!(location(&r), "http://app.example.test/");
    let ticket = b.cookie(&public, "_sidegate").expect("a session cookie");
    let check = reqwest::Client::new()
        .get(format!("http://{}/auth", sg.addr))
        .header("x-forwarded-proto", "http")
        .header("x-forwarded-host", "app.example.test")
        .header("x-forwarded-uri", "/")
        .header("x-forwarded-method", "GET")
        .header("cookie", format!("_sidegate={ticket}"))
        .send()
        .await
        .unwrap();
    assert_eq!(check.status(), StatusCode::OK);
    assert_eq!(check.headers()["x-forwarded-user"], "alice");

    // Without the CA (the system's roots) the certificate is not trusted: not ready.
    let untrusted =
        Sidegate::start(sidegate::vars(&public, &idp.issuer(), Some(&url(PASSWORD)))).await;
    let why = store_reason(untrusted.addr, "certificate").await;
    assert!(why.to_lowercase().contains("certificate"), "{why}");

    // A wrong password for the ACL user: not ready, and the reason says so.
    let mut vars = sidegate::vars(&public, &idp.issuer(), Some(&url("wrong-password")));
    vars.push(("SIDEGATE_REDIS_CA_FILE".into(), ca));
    let refused = Sidegate::start(vars).await;
    let why = store_reason(refused.addr, "authentication failed").await;
    assert!(
        why.to_lowercase().contains("authentication failed"),
        "{why}"
    );
    assert!(
        !why.contains("wrong-password"),
        "the password reached /readyz: {why}"
    );
}
