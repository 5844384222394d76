//! `deploy/sidegate.service`, the non-container install: systemd's own checker accepts it
//! (with the binary path pointed at the one just built), its exposure score stays "OK",
//! the secrets arrive as credentials to a dynamic user, and `deploy/systemd.env.example`
//! plus those credentials is a configuration sidegate accepts.

use std::path::Path;
use std::process::Command;

use crate::harness::program;

const UNIT: &str = "deploy/sidegate.service";
const ENV: &str = "deploy/systemd.env.example";
const INSTALLED: &str = "/usr/local/bin/sidegate";

fn read(rel: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(rel))
        .unwrap_or_else(|e| panic!("reading {rel}: {e}"))
}

/// The `key=value` settings of the unit, in order (repeated keys kept).
fn settings(unit: &str) -> Vec<(String, String)> {
    unit.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('['))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

#[test]
fn the_systemd_unit_verifies_and_is_hardened() {
    let analyze = program("systemd-analyze", "apt-get install -y systemd");
    let unit = read(UNIT);
    assert!(
        unit.contains(INSTALLED),
        "{UNIT} no longer runs {INSTALLED}"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sidegate.service");
    std::fs::write(
        &path,
        unit.replace(INSTALLED, env!("CARGO_BIN_EXE_sidegate")),
    )
    .unwrap();

    let verify = Command::new(&analyze)
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&verify.stderr);
    assert!(
        verify.status.success() && said.trim().is_empty(),
        "systemd-analyze verify:\n{said}"
    );

    let security = Command::new(&analyze)
        .args(["security", "--offline=yes", "--no-pager"])
        .arg(&path)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&security.stdout);
    let score: f64 = report
        .lines()
        .find_map(|l| l.split_once("Overall exposure level for sidegate.service: "))
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no exposure score in:\n{report}"));
    assert!(
        score <= 2.0,
        "exposure {score} (systemd calls ≤ 2.0 OK):\n{report}"
    );

    let s = settings(&unit);
    let has = |k: &str, v: &str| s.iter().any(|(a, b)| a == k && b == v);
    for (k, v) in [
        ("DynamicUser", "yes"),
        ("ExecStart", &format!("{INSTALLED} serve")),
        (
            "ExecStartPre",
            &format!("{INSTALLED} check-config --offline"),
        ),
        ("RestartPreventExitStatus", "2"),
        (
            "LoadCredential",
            "client-secret:/etc/sidegate/client-secret",
        ),
        (
            "LoadCredential",
            "cookie-secret:/etc/sidegate/cookie-secret",
        ),
        (
            "Environment",
            "SIDEGATE_CLIENT_SECRET_FILE=%d/client-secret",
        ),
        (
            "Environment",
            "SIDEGATE_COOKIE_SECRET_FILE=%d/cookie-secret",
        ),
        ("CapabilityBoundingSet", ""),
    ] {
        assert!(has(k, v), "{UNIT} lacks {k}={v}");
    }
    // No secret in the unit or its environment file.
    assert!(
        !s.iter()
            .any(|(k, v)| k == "Environment" && v.contains("SECRET=")),
        "{UNIT}"
    );
    assert!(!read(ENV).contains("_SECRET="), "{ENV} holds a secret");
}

#[test]
fn the_systemd_environment_file_with_its_credentials_is_accepted() {
    let creds = tempfile::tempdir().unwrap();
    std::fs::write(creds.path().join("client-secret"), "the-idp-client-secret").unwrap();
    std::fs::write(
        creds.path().join("cookie-secret"),
        "0123456789abcdef0123456789abcdef0123456789abcdef\n",
    )
    .unwrap();
    // What systemd would set: the file's variables, then the unit's Environment= lines.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sidegate"));
    cmd.args(["check-config", "--offline"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    for line in read(ENV).lines().filter(|l| !l.starts_with('#')) {
        if let Some((k, v)) = line.split_once('=') {
            cmd.env(k, v);
        }
    }
    for (k, v) in settings(&read(UNIT)) {
        if let (true, Some((name, value))) = (k == "Environment", v.split_once('=')) {
            let dir = creds.path().to_str().unwrap();
            cmd.env(name, value.replace("%d", dir));
        }
    }
    let out = cmd.output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(stderr.trim().is_empty(), "warnings: {stderr}");
    assert!(!stdout.contains("the-idp-client-secret"), "{stdout}");
    assert!(
        stdout.contains("SIDEGATE_LISTEN = 127.0.0.1:4180"),
        "{stdout}"
    );
}

#[test]
fn the_release_tarball_has_the_binary_the_unit_and_the_docs() {
    let out = tempfile::tempdir().unwrap();
    let run = Command::new("bash")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/dist.sh"))
        .env("DIST_BIN", env!("CARGO_BIN_EXE_sidegate"))
        .env("DIST_DIR", out.path())
        .env("DIST_TARGET", "x86_64-unknown-linux-gnu")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&run.stdout).into_owned();
    assert!(
        run.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let name = format!(
        "sidegate-{}-x86_64-unknown-linux-gnu",
        env!("CARGO_PKG_VERSION")
    );
    let tarball = out.path().join(format!("{name}.tar.gz"));
    assert!(said.trim().ends_with(&format!("{name}.tar.gz")), "{said}");
    let listing = Command::new("tar")
        .arg("-tvzf")
        .arg(&tarball)
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&listing.stdout).into_owned();
    for (entry, mode) in [
        ("bin/sidegate", "-rwxr-xr-x"),
        ("share/sidegate/sidegate.service", "-rw-r--r--"),
        ("share/sidegate/systemd.env.example", "-rw-r--r--"),
        ("share/sidegate/apps.example.toml", "-rw-r--r--"),
        ("share/doc/sidegate/README.md", "-rw-r--r--"),
    ] {
        let line = listing
            .lines()
            .find(|l| l.ends_with(&format!("{name}/{entry}")))
            .unwrap_or_else(|| panic!("{entry} missing:\n{listing}"));
        assert!(line.starts_with(mode) && line.contains("0/0"), "{line}");
    }
    let sum = std::fs::read_to_string(out.path().join(format!("{name}.tar.gz.sha256"))).unwrap();
    assert!(sum.trim().ends_with(&format!("{name}.tar.gz")), "{sum}");
    // The packed binary runs, and the unit's install steps name the tarball's paths.
    let unpacked = tempfile::tempdir().unwrap();
    let x = Command::new("tar")
        .arg("-xzf")
        .arg(&tarball)
        .arg("-C")
        .arg(unpacked.path())
        .status()
        .unwrap();
    assert!(x.success());
    let version = Command::new(unpacked.path().join(&name).join("bin/sidegate"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&version.stdout).starts_with("sidegate "));
    let unit = read(UNIT);
    for step in [
        "install -m 0755 bin/sidegate /usr/local/bin/sidegate",
        "share/sidegate/systemd.env.example",
        "share/sidegate/sidegate.service",
    ] {
        assert!(unit.contains(step), "{UNIT}'s install steps lack {step}");
    }
}
