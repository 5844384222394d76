//! A real Caddy (Debian's 2.6) running a file of `caddy-examples/` with addresses and ports
//! substituted, its HOME and XDG dirs in a temp dir.

use std::net::SocketAddr;
use std::process::Command;

use super::{example, program, write, Proc};

pub struct Caddy {
    pub port: u16,
    pub proc: Proc,
}

impl Caddy {
    pub async fn start(port: u16, sidegate: SocketAddr, app: SocketAddr) -> Caddy {
        Self::start_file(
            "caddy-examples/Caddyfile",
            port,
            &[("127.0.0.1:8080", app.to_string())],
            sidegate,
        )
        .await
    }

    /// Runs `file` on `port` with sidegate at `sidegate` and the upstreams in `subs`.
    pub async fn start_file(
        file: &str,
        port: u16,
        subs: &[(&str, String)],
        sidegate: SocketAddr,
    ) -> Caddy {
        let bin = program("caddy", "apt-get install -y caddy");
        let dir = tempfile::tempdir().unwrap();
        let mut all = vec![
            (
                "{\n\tadmin off",
                "{\n\tdefault_bind 127.0.0.1\n\tadmin off".to_owned(),
            ),
            ("127.0.0.1:4180", sidegate.to_string()),
            (".example.test:80 {", format!(".example.test:{port} {{")),
        ];
        all.extend(subs.iter().cloned());
        let conf = example(file, &all);
        let path = write(dir.path(), "Caddyfile", &conf);
        let mut cmd = Command::new(bin);
        cmd.args(["run", "--adapter", "caddyfile", "--config"])
            .arg(&path)
            .env("HOME", dir.path())
            .env("XDG_CONFIG_HOME", dir.path().join("config"))
            .env("XDG_DATA_HOME", dir.path().join("data"));
        let mut proc = Proc::spawn("caddy", dir, cmd);
        super::wait_for_route(&mut proc, port, "auth.example.test").await;
        Caddy { port, proc }
    }
}
