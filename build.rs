//! Records the git commit sidegate is built from (`SIDEGATE_COMMIT`, shown by `--version`
//! and in `sidegate_build_info`): from the environment when set (the Dockerfile's build
//! argument), else `git rev-parse`, else `unknown` (a source tarball).

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=SIDEGATE_COMMIT");
    for path in [".git/HEAD", ".git/refs/heads", ".git/packed-refs"] {
        println!("cargo:rerun-if-changed={path}");
    }
    let from_git = || {
        let out = Command::new("git")
            .args(["rev-parse", "--short=12", "HEAD"])
            .output()
            .ok()?;
        let commit = String::from_utf8(out.stdout).ok()?;
        (out.status.success() && !commit.trim().is_empty()).then(|| commit.trim().to_owned())
    };
    let commit = std::env::var("SIDEGATE_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .or_else(from_git)
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=SIDEGATE_COMMIT={commit}");
}
