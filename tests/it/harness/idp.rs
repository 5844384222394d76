//! The real OpenID Provider (panva's certified `oidc-provider`, `tests/idp/server.js`), on a
//! random loopback port, with users alice (admins, staff), bob (staff) and carol (none).

use std::process::Command;

use super::{free_port, program, repo, Proc};

pub struct Idp {
    pub port: u16,
    pub proc: Proc,
}

impl Idp {
    /// Starts the OP with the sidegate client allowed to return to `redirect_uris`.
    pub async fn start(redirect_uris: &[String]) -> Idp {
        Self::start_with(redirect_uris, &[]).await
    }

    /// Starts the OP for sidegate instances on `ports` (as `auth.example.test:<port>`).
    pub async fn for_ports(ports: &[u16]) -> Idp {
        let callbacks: Vec<String> = ports
            .iter()
            .map(|p| format!("http://auth.example.test:{p}/callback"))
            .collect();
        Self::start(&callbacks).await
    }

    pub async fn start_with(redirect_uris: &[String], env: &[(&str, &str)]) -> Idp {
        Self::start_on(free_port(), redirect_uris, env).await
    }

    pub async fn start_on(port: u16, redirect_uris: &[String], env: &[(&str, &str)]) -> Idp {
        Self::start_client(
            port,
            serde_json::json!({"redirect_uris": redirect_uris}),
            env,
        )
        .await
    }

    /// Starts the OP on `port` with the sidegate client; `client` adds or overrides client
    /// metadata (redirect URIs, back-channel logout URI, post-logout redirect URIs).
    pub async fn start_client(port: u16, client: serde_json::Value, env: &[(&str, &str)]) -> Idp {
        let node = program("node", "apt-get install -y nodejs npm");
        let dir_idp = repo().join("tests/idp");
        assert!(
            dir_idp.join("node_modules/oidc-provider").is_dir(),
            "the test OpenID Provider is not installed: run `cd tests/idp && npm ci` (or `make test`)"
        );
        let mut metadata = serde_json::json!({
            "client_id": super::sidegate::CLIENT_ID,
            "client_secret": super::sidegate::CLIENT_SECRET,
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "client_secret_basic",
        });
        for (k, v) in client.as_object().unwrap() {
            metadata[k] = v.clone();
        }
        let clients = serde_json::json!([metadata]);
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = Command::new(node);
        cmd.arg(dir_idp.join("server.js"))
            .current_dir(&dir_idp)
            .env("IDP_PORT", port.to_string())
            .env("IDP_CLIENTS", clients.to_string());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut proc = Proc::spawn("idp", dir, cmd);
        let url = format!("http://127.0.0.1:{port}/.well-known/openid-configuration");
        let client = reqwest::Client::new();
        proc.wait_until(super::STARTUP_LIMIT, || {
            let (client, url) = (client.clone(), url.clone());
            async move { super::answers_200(&client, &url).await }
        })
        .await;
        Idp { port, proc }
    }

    pub fn issuer(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}
