//! The demo app (`tests/demo/app.js`): a page that shows who you are, used by the browser
//! tests and `make demo`.

use std::net::SocketAddr;
use std::process::Command;

use super::{free_port, program, repo, Proc};

pub struct DemoApp {
    pub addr: SocketAddr,
    pub proc: Proc,
}

impl DemoApp {
    pub async fn start(logout_url: &str) -> DemoApp {
        let node = program("node", "apt-get install -y nodejs npm");
        let port = free_port();
        let mut cmd = Command::new(node);
        cmd.arg(repo().join("tests/demo/app.js"))
            .arg(port.to_string())
            .arg(logout_url);
        let mut proc = Proc::spawn("demo-app", tempfile::tempdir().unwrap(), cmd);
        let url = format!("http://127.0.0.1:{port}/");
        proc.wait_until(super::STARTUP_LIMIT, || {
            let url = url.clone();
            async move { reqwest::get(&url).await.is_ok() }
        })
        .await;
        DemoApp {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            proc,
        }
    }
}
