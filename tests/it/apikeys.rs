//! API keys for automation: created, listed and revoked with the CLI; accepted through
//! `Authorization: Bearer` or a configured header under the same rules as people; revoked
//! keys refused at once on every instance; stored in Redis or, without it, a file.

use std::process::Command;
use std::time::Duration;

use reqwest::StatusCode;

use crate::harness::{free_port, sidegate, write, RedisServer, Sidegate};

const APPS: &str = "[apps.backup]\nallow_groups = [\"backup\"]\n\n[apps.other-app]\n";

fn cli(vars: &[(String, String)], args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sidegate"))
        .env_clear()
        .envs(vars.iter().cloned())
        .arg("apikey")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn create(vars: &[(String, String)], args: &[&str]) -> String {
    let (ok, key, err) = cli(vars, &[&["create"], args].concat());
    assert!(ok, "{err}");
    assert!(key.starts_with("sgk_"), "{key}");
    key
}

async fn check(sg: &Sidegate, header: (&str, &str)) -> (StatusCode, reqwest::header::HeaderMap) {
    let r = reqwest::Client::new()
        .get(format!("http://{}/auth/backup", sg.addr))
        .header("x-forwarded-proto", "https")
        .header("x-forwarded-host", "backup.example.test")
        .header("x-forwarded-uri", "/api")
        .header(header.0, header.1)
        .send()
        .await
        .unwrap();
    (r.status(), r.headers().clone())
}

fn vars(dir: &std::path::Path, redis: Option<&str>) -> Vec<(String, String)> {
    let apps = write(dir, "apps.toml", APPS);
    let mut v = sidegate::vars(
        "http://auth.example.test",
        &format!("http://127.0.0.1:{}/", free_port()),
        redis,
    );
    v.push(("SIDEGATE_APPS_FILE".into(), apps.display().to_string()));
    v.push(("SIDEGATE_APIKEY_HEADER".into(), "X-Api-Key".into()));
    if redis.is_none() {
        v.push((
            "SIDEGATE_APIKEYS_FILE".into(),
            dir.join("apikeys.json").display().to_string(),
        ));
    }
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_in_redis_across_instances() {
    let redis = RedisServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let v = vars(dir.path(), Some(&redis.url()));
    // The IdP is unreachable on purpose: API keys do not need it.
    let instances = [
        Sidegate::start(v.clone()).await,
        Sidegate::start(v.clone()).await,
    ];

    let ci = create(
        &v,
        &[
            "--name",
            "ci",
            "--profile",
            "backup",
            "--groups",
            "backup,ops",
        ],
    );
    let other = create(&v, &["--name", "intern", "--profile", "backup"]);
    let wrong_app = create(
        &v,
        &[
            "--name",
            "elsewhere",
            "--profile",
            "other-app",
            "--groups",
            "backup",
        ],
    );
    let short = create(
        &v,
        &[
            "--name",
            "short",
            "--profile",
            "backup",
            "--groups",
            "backup",
            "--expires",
            "1s",
        ],
    );
    let (ok, _, err) = cli(&v, &["create", "--name", "x", "--profile", "nope"]);
    assert!(!ok && err.contains("no app profile `nope`"), "{err}");

    for sg in &instances {
        for header in [
            ("authorization", format!("Bearer {ci}")),
            ("x-api-key", ci.clone()),
        ] {
            let (status, h) = check(sg, (header.0, &header.1)).await;
            assert_eq!(status, StatusCode::OK, "{}", header.0);
            assert_eq!(h["x-forwarded-user"], "ci");
            assert_eq!(h["x-forwarded-groups"], "backup,ops");
        }
    }
    assert_eq!(
        check(&instances[0], ("authorization", &format!("Bearer {other}")))
            .await
            .0,
        StatusCode::FORBIDDEN,
        "rules apply to keys"
    );
    let tampered = format!(
        "{}{}",
        &ci[..ci.len() - 1],
        if ci.ends_with('A') { 'B' } else { 'A' }
    );
    let forged = "sgk_AAAAAAAAAAAAAAAAAAAAAA_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    for bad in [
        wrong_app.as_str(),
        tampered.as_str(),
        forged,
        "sgk_short",
        &format!("{ci}x"),
    ] {
        let (status, h) = check(&instances[1], ("authorization", &format!("Bearer {bad}"))).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{bad}");
        assert!(h["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token"));
    }
    tokio::time::sleep(Duration::from_millis(2100)).await; // let the 1 s key expire
    assert_eq!(
        check(&instances[0], ("x-api-key", &short)).await.0,
        StatusCode::UNAUTHORIZED,
        "expired key"
    );

    let (ok, listing, _) = cli(&v, &["list"]);
    assert!(ok);
    let ci_line = listing.lines().find(|l| l.starts_with("ci ")).unwrap();
    assert!(
        !ci_line.ends_with("never"),
        "last use not recorded: {ci_line}"
    );
    assert!(
        !listing.contains(&ci[20..]),
        "the listing shows key material"
    );
    let stored = redis.keys("sidegate:*apikey*").await;
    let mut c = redis.conn().await;
    for key in stored {
        let v: Vec<u8> = redis::cmd("GET")
            .arg(&key)
            .query_async(&mut c)
            .await
            .unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&v).contains(&ci[27..]),
            "a key's secret is stored"
        );
    }

    let (ok, out, _) = cli(&v, &["revoke", "--name", "ci"]);
    assert!(ok && out == "revoked 1 API key(s) named ci", "{out}");
    for sg in &instances {
        assert_eq!(
            check(sg, ("x-api-key", &ci)).await.0,
            StatusCode::UNAUTHORIZED,
            "revoked key still accepted"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_in_a_file_without_redis() {
    let dir = tempfile::tempdir().unwrap();
    let v = vars(dir.path(), None);
    let sg = Sidegate::start(v.clone()).await;
    let key = create(
        &v,
        &[
            "--name",
            "ansible",
            "--profile",
            "backup",
            "--groups",
            "backup",
        ],
    );
    let file = std::fs::read_to_string(dir.path().join("apikeys.json")).unwrap();
    assert!(
        file.contains("ansible") && !file.contains(&key[27..]),
        "{file}"
    );
    assert_eq!(
        check(&sg, ("authorization", &format!("Bearer {key}")))
            .await
            .0,
        StatusCode::OK
    );
    assert!(cli(&v, &["revoke", "--name", "ansible"]).0);
    assert_eq!(
        check(&sg, ("authorization", &format!("Bearer {key}")))
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
}
