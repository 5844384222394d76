//! The app recipes of `deploy/apps.example.toml`, end to end through each proxy's example
//! (Traefik's file provider `traefik-examples/apps.yml` and its Docker labels
//! `traefik-examples/docker-compose.apps.labels.yml`, nginx's `nginx-examples/apps.conf`,
//! Caddy's `caddy-examples/apps.Caddyfile`), against stand-ins that enforce each app's
//! contract: Duplicati, Borg UI, a TISBackup-style Basic app and an app verifying minted JWTs.

use std::net::SocketAddr;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::browser::{location, Browser};
use crate::harness::{
    example, free_port, labels, repo, sidegate, standins, write, Caddy, Idp, Nginx, Sidegate,
    Traefik,
};

const TOKEN: &str = "duplicati-forever-token-3f9a1c";
const PREAUTH: &str = "duplicati-preauth-token-8d2e41";
const TIS_PASSWORD: &str = "tis-backup-password-77";

/// Which proxy example carries the recipes.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Via {
    Nginx,
    Traefik,
    TraefikLabels,
    Caddy,
}

struct Recipes {
    port: u16,
    _idp: Idp,
    sg: Sidegate,
    _standins: Vec<standins::StandIn>,
    _proxy: Box<dyn std::any::Any + Send>,
    _dir: tempfile::TempDir,
    /// Everything any response to the client contained (headers and bodies).
    client_saw: std::sync::Mutex<String>,
}

impl Recipes {
    fn url(&self, app: &str, path: &str) -> String {
        format!("http://{app}.example.test:{}{path}", self.port)
    }

    async fn get(
        &self,
        b: &Browser,
        url: &str,
        navigate: bool,
        extra: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let mut req = b.client.get(url);
        req = if navigate {
            req.header("sec-fetch-mode", "navigate")
                .header("accept", "text/html")
        } else {
            req.header("sec-fetch-mode", "cors")
                .header("accept", "application/json")
        };
        for (k, v) in extra {
            req = req.header(*k, *v);
        }
        let r = req.send().await.unwrap();
        let status = r.status();
        let headers = format!("{:?}", r.headers());
        let body = r.text().await.unwrap();
        self.client_saw
            .lock()
            .unwrap()
            .push_str(&format!("{headers}\n{body}\n"));
        (
            status,
            serde_json::from_str(&body).unwrap_or(Value::String(body)),
        )
    }

    async fn login(&self, b: &Browser, app: &str, user: &str) {
        let r = b.navigate(&self.url(app, "/")).await;
        assert_eq!(r.status(), StatusCode::FOUND, "{app}: not sent to login");
        let r = b.navigate(&location(&r)).await;
        let callback = b
            .login_at_idp(
                &location(&r),
                user,
                &format!("http://auth.example.test:{}/callback", self.port),
            )
            .await;
        let r = b.navigate(&callback).await;
        assert_eq!(location(&r), self.url(app, "/"));
    }
}

async fn setup(via: Via) -> Recipes {
    setup_with(via, TIS_PASSWORD).await
}

/// The recipes, with TISBackup's stand-in expecting `tis_password` (another value than
/// sidegate's: a password rotated on one side only).
async fn setup_with(via: Via, tis_password: &'static str) -> Recipes {
    let port = free_port();
    let public = format!("http://auth.example.test:{port}");
    let idp = Idp::start(&[format!("{public}/callback")]).await;
    let dir = tempfile::tempdir().unwrap();
    let password = write(
        dir.path(),
        "tisbackup-password",
        &format!("{TIS_PASSWORD}\n"),
    );
    let key = dir.path().join("jwt-app.pem");
    std::fs::copy(repo().join("src/token/rs256.pem"), &key).unwrap();
    let apps = example(
        "deploy/apps.example.toml",
        &[
            (
                "/run/secrets/tisbackup-password",
                password.display().to_string(),
            ),
            ("/run/secrets/jwt-app.pem", key.display().to_string()),
        ],
    );
    let apps = write(dir.path(), "apps.toml", &apps);
    let mut vars = sidegate::vars(&public, &idp.issuer(), None);
    vars.push(("SIDEGATE_APPS_FILE".into(), apps.display().to_string()));
    vars.push(("DUPLICATI_TOKEN".into(), TOKEN.into()));
    vars.push(("DUPLICATI_PREAUTH_TOKEN".into(), PREAUTH.into()));
    let sg = Sidegate::start(vars).await;
    sg.wait_ready().await;
    let jwks = format!("http://{}/.well-known/jwks.json", sg.addr);
    let s = vec![
        standins::duplicati(TOKEN, PREAUTH).await,
        standins::borg().await,
        standins::basic("admin", tis_password).await,
        standins::jwt_app(jwks, public.clone()).await,
    ];
    let upstreams: [(&'static str, SocketAddr); 4] = [
        ("127.0.0.1:8200", s[0].addr),
        ("127.0.0.1:8081", s[1].addr),
        ("127.0.0.1:8082", s[2].addr),
        ("127.0.0.1:8083", s[3].addr),
    ];
    let subs: Vec<(&str, String)> = upstreams
        .iter()
        .map(|(from, to)| (*from, to.to_string()))
        .collect();
    let proxy: Box<dyn std::any::Any + Send> = match via {
        Via::Nginx => Box::new(Nginx::start_with("apps.conf", port, sg.addr, &upstreams).await),
        Via::Traefik => {
            let mut all = vec![("127.0.0.1:4180", sg.addr.to_string())];
            all.extend(subs);
            let dynamic = example("traefik-examples/apps.yml", &all);
            Box::new(Traefik::start_dynamic(port, &dynamic).await)
        }
        Via::TraefikLabels => {
            let dynamic = labels::to_file_provider(
                "traefik-examples/docker-compose.apps.labels.yml",
                &[
                    ("sidegate", sg.addr),
                    ("duplicati", s[0].addr),
                    ("borg", s[1].addr),
                    ("tisbackup", s[2].addr),
                    ("jwt-app", s[3].addr),
                ],
            );
            Box::new(Traefik::start_dynamic(port, &dynamic).await)
        }
        Via::Caddy => {
            Box::new(Caddy::start_file("caddy-examples/apps.Caddyfile", port, &subs, sg.addr).await)
        }
    };
    Recipes {
        port,
        _idp: idp,
        sg,
        _standins: s,
        _proxy: proxy,
        _dir: dir,
        client_saw: Default::default(),
    }
}

/// Borg UI's managed agents: no session and no user, their own token, through the bypass;
/// the session WebSocket upgrades through the proxy; the admin routes still need a session.
async fn agents(r: &Recipes) {
    let agent = Browser::new(r.port);
    let forged = [("x-forwarded-user", "admin"), ("remote-user", "admin")];
    let (status, seen) = r
        .get(&agent, &r.url("borg", "/agent/install.sh"), false, &[])
        .await;
    assert_eq!(status, StatusCode::OK, "the installer is public: {seen}");
    let bearer = format!("Bearer {}", standins::BORG_AGENT_TOKEN);
    let mut with_token = forged.to_vec();
    with_token.push(("x-borg-agent-authorization", &bearer));
    let (status, seen) = r
        .get(
            &agent,
            &r.url("borg", "/api/agents/jobs/poll"),
            false,
            &with_token,
        )
        .await;
    assert_eq!(
        (status, &seen["user_headers"]),
        (StatusCode::OK, &json!([])),
        "an agent's poll reaches Borg UI, and never with a client's user header: {seen}"
    );
    let (status, seen) = r
        .get(
            &agent,
            &r.url("borg", "/api/agents/jobs/poll"),
            false,
            &forged,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "Borg UI checks the agent token: {seen}"
    );
    // Not a bypass: the admin pages for agents, and look-alike paths.
    for path in [
        "/api/managed-machines/agents",
        "/api/managed-machines/enrollment-tokens",
        "/api/agents",
        "/api/agentsx/jobs/poll",
    ] {
        let (status, seen) = r
            .get(&agent, &r.url("borg", path), false, &with_token)
            .await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{path} without a session: {seen}"
        );
    }

    let session = |token: Option<String>| async move {
        let url = format!("ws://borg.example.test:{}/api/agents/session", r.port);
        let mut req =
            tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(url)
                .unwrap();
        if let Some(t) = token {
            req.headers_mut()
                .insert("x-borg-agent-authorization", t.parse().unwrap());
        }
        req.headers_mut()
            .insert("x-forwarded-user", "admin".parse().unwrap());
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", r.port))
            .await
            .unwrap();
        tokio_tungstenite::client_async(req, tcp).await
    };
    let (mut ws, answer) = session(Some(bearer.clone()))
        .await
        .expect("the agent's WebSocket upgrades");
    assert_eq!(answer.status(), StatusCode::SWITCHING_PROTOCOLS);
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let hello = json!({"type": "hello", "agent_id": standins::BORG_AGENT_ID}).to_string();
    ws.send(Message::text(hello)).await.unwrap();
    let welcome: Value =
        serde_json::from_str(ws.next().await.unwrap().unwrap().to_text().unwrap()).unwrap();
    assert_eq!(welcome["type"], "welcome");
    ws.send(Message::text("job 7 progress 40%")).await.unwrap();
    assert_eq!(
        ws.next().await.unwrap().unwrap().to_text().unwrap(),
        "job 7 progress 40%"
    );
    match session(None).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(answer)) => {
            assert_eq!(
                answer.status(),
                StatusCode::FORBIDDEN,
                "Borg UI refuses the upgrade"
            )
        }
        other => panic!("a WebSocket without the agent token: {other:?}"),
    }
}

/// A WebSocket to `app`'s `path` on this proxy, with `cookie` (and no Origin trickery).
async fn ws(
    r: &Recipes,
    app: &str,
    path: &str,
    cookie: Option<&str>,
) -> Result<
    tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>,
    tokio_tungstenite::tungstenite::Error,
> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let url = format!("ws://{app}.example.test:{}{path}", r.port);
    let mut req = url.into_client_request().unwrap();
    if let Some(c) = cookie {
        req.headers_mut()
            .insert("cookie", format!("_sidegate={c}").parse().unwrap());
    }
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", r.port))
        .await
        .unwrap();
    tokio_tungstenite::client_async(req, tcp)
        .await
        .map(|(s, _)| s)
}

/// Duplicati's notifications WebSocket: upgraded through the proxy with sidegate's token; a
/// dummy `?token=` defeats the Bearer token (the documented pitfall) but not PreAuth; no
/// session, no upgrade.
async fn notifications(r: &Recipes, alice: &Browser) {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    let cookie = alice.cookie(&r.url("duplicati", "/"), "_sidegate").unwrap();
    for (app, path, want) in [
        ("duplicati", "/notifications", Some("serverstatus")),
        (
            "duplicati",
            "/notifications?token=PROXY_AUTHED_FAKE_TOKEN",
            None,
        ),
        (
            "duplicati-preauth",
            "/notifications?token=PROXY_AUTHED_FAKE_TOKEN",
            Some("serverstatus"),
        ),
    ] {
        let mut socket = ws(r, app, path, Some(&cookie))
            .await
            .unwrap_or_else(|e| panic!("{app}{path}: no upgrade: {e}"));
        if want.is_none() {
            // Duplicati waits for a token message; a wrong one closes the socket with 4401.
            use futures_util::SinkExt;
            let msg = json!({"Version": 1, "Token": "PROXY_AUTHED_FAKE_TOKEN"}).to_string();
            socket.send(Message::text(msg)).await.unwrap();
        }
        let first = socket.next().await.unwrap().unwrap();
        match (want, first) {
            (Some(kind), Message::Text(t)) => {
                let v: Value = serde_json::from_str(&t).unwrap();
                assert_eq!(v["type"], kind, "{app}{path}");
            }
            (None, Message::Close(Some(f))) => assert_eq!(u16::from(f.code), 4401, "{app}{path}"),
            (want, other) => panic!("{app}{path}: want {want:?}, got {other:?}"),
        }
    }
    match ws(r, "duplicati", "/notifications", None).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(answer)) => {
            assert_eq!(
                answer.status(),
                StatusCode::UNAUTHORIZED,
                "no session, no socket"
            )
        }
        other => panic!("a WebSocket without a session: {:?}", other.map(|_| ())),
    }
}

/// Presses Borg UI's logout button as its UI does (POST, then go to `logout_url`); the
/// status of the next API call.
async fn b_logout(r: &Recipes, b: &Browser) -> StatusCode {
    let answer: Value = b
        .client
        .post(r.url("borg", "/api/auth/logout"))
        .header("sec-fetch-mode", "cors")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let logout_url = answer["logout_url"].as_str().unwrap().to_owned();
    assert_eq!(
        logout_url,
        format!("http://auth.example.test:{}/logout", r.port),
        "{answer}"
    );
    let mut next = b.navigate(&logout_url).await;
    // Through the IdP's end-session page and back, as a browser would.
    for _ in 0..5 {
        if !next.status().is_redirection() {
            break;
        }
        let to = location(&next);
        if to.contains("/session/end") {
            break;
        }
        next = b.navigate(&to).await;
    }
    r.get(b, &r.url("borg", "/repositories"), false, &[])
        .await
        .0
}

async fn scenario(via: Via) {
    let r = setup(via).await;
    let (alice, bob, carol) = (
        Browser::new(r.port),
        Browser::new(r.port),
        Browser::new(r.port),
    );
    r.login(&alice, "borg", "alice").await;
    r.login(&bob, "borg", "bob").await;
    r.login(&carol, "borg", "carol").await;

    // Borg UI: role from groups; forged copies of its headers never reach it.
    let forged = [
        ("x-borg-role", "admin"),
        ("x-forwarded-user", "alice"),
        ("x-borg-email", "x@evil.test"),
        ("x-borg-all-repositories-role", "operator"),
        ("x-remote-user", "alice"),
        ("remote-user", "alice"),
        ("x-authentik-username", "alice"),
    ];
    let cases = [
        (&alice, "alice", "admin", "Alice Admin", "operator"),
        (&bob, "bob", "operator", "Bob Builder", "operator"),
        (&carol, "carol", "viewer", "Carol Contractor", "viewer"),
    ];
    for (b, user, role, name, all_repositories) in cases {
        let (status, seen) = r
            .get(b, &r.url("borg", "/repositories"), true, &forged)
            .await;
        assert_eq!(status, StatusCode::OK);
        let email = if user == "carol" {
            "carol@partner.test".to_owned()
        } else {
            format!("{user}@example.test")
        };
        assert_eq!(
            seen,
            json!({"x-forwarded-user": [user], "x-borg-role": [role], "x-borg-email": [email], "x-borg-full-name": [name],
                "x-borg-all-repositories-role": [all_repositories],
                "user": user, "role": role, "all_repositories_role": all_repositories}),
            "{user}"
        );
    }

    agents(&r).await;

    notifications(&r, &alice).await;

    // Duplicati: the forever token reaches the app (Bearer or PreAuth), the refresh shim
    // answers for it, admins only, and the token never reaches the client.
    let (status, seen) = r
        .get(&alice, &r.url("duplicati", "/api/v1/backups"), true, &[])
        .await;
    assert_eq!(
        (status, &seen["via"]),
        (StatusCode::OK, &json!("Bearer")),
        "{seen}"
    );
    let (status, seen) = r
        .get(
            &alice,
            &r.url("duplicati-preauth", "/"),
            true,
            &[("authorization", "Bearer wrong")],
        )
        .await;
    assert_eq!(
        (status, &seen["via"]),
        (StatusCode::OK, &json!("PreAuth")),
        "{seen}"
    );
    for app in ["duplicati", "duplicati-preauth"] {
        let (status, body) = r
            .get(&alice, &r.url(app, "/api/v1/auth/refresh"), false, &[])
            .await;
        assert_eq!(
            (status, body),
            (StatusCode::OK, json!({"AccessToken": null})),
            "{app} refresh shim"
        );
    }
    let (status, _) = r.get(&bob, &r.url("duplicati", "/"), false, &[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "bob is not an admin");
    let (status, _) = r
        .get(&Browser::new(r.port), &r.url("duplicati", "/"), false, &[])
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // TISBackup-style: Basic credentials injected; only the allowed email domain gets in.
    let (status, seen) = r.get(&bob, &r.url("tisbackup", "/"), true, &[]).await;
    assert_eq!(
        (status, &seen["user"]),
        (StatusCode::OK, &json!(["bob"])),
        "{seen}"
    );
    let (status, page) = r.get(&carol, &r.url("tisbackup", "/"), true, &[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    if via != Via::Nginx {
        // Traefik and Caddy pass sidegate's page on (nginx's auth_request drops bodies).
        assert!(page.as_str().unwrap().contains("Access denied"), "{page}");
    }

    // JWT app: verifies the minted token against the JWKS (kid, aud, exp, iss).
    let (status, seen) = r
        .get(
            &alice,
            &r.url("jwt-app", "/"),
            true,
            &[("authorization", "Bearer forged")],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{seen}");
    let claims = &seen["claims"];
    assert_eq!(
        (&claims["sub"], &claims["aud"], &claims["email"]),
        (
            &json!("alice"),
            &json!("jwt-app"),
            &json!("alice@example.test")
        )
    );
    assert_eq!(claims["groups"], json!(["admins", "staff"]));
    assert!(claims["exp"].as_u64().unwrap() > claims["iat"].as_u64().unwrap());
    let jwks: Value = reqwest::get(format!("http://{}/.well-known/jwks.json", r.sg.addr))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks["keys"][0]["kid"], "jwt-app-2026");

    {
        let saw = r.client_saw.lock().unwrap();
        assert!(
            !saw.contains(TOKEN) && !saw.contains(PREAUTH),
            "a Duplicati token reached the client"
        );
        assert!(
            !saw.contains(TIS_PASSWORD) && !saw.contains("YWRtaW46"),
            "the Basic password reached the client"
        );
    }

    // The JWT app's own logout endpoints (logout_paths): its UI's fetch ends the SSO session
    // and still reaches the app; a navigation goes through sidegate's /logout.
    let logout = alice
        .client
        .post(r.url("jwt-app", "/api/logout"))
        .header("sec-fetch-mode", "cors")
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), StatusCode::OK, "the app saw its logout");
    let (status, _) = r.get(&alice, &r.url("jwt-app", "/"), false, &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "alice's session ended");
    let (status, _) = r.get(&bob, &r.url("jwt-app", "/"), false, &[]).await;
    assert_eq!(status, StatusCode::OK, "bob's session is his own");
    let nav = bob.navigate(&r.url("jwt-app", "/logout")).await;
    let home: String =
        url::form_urlencoded::byte_serialize(r.url("jwt-app", "/").as_bytes()).collect();
    assert_eq!(
        (nav.status(), location(&nav)),
        (
            StatusCode::FOUND,
            format!("http://auth.example.test:{}/logout?rd={home}", r.port)
        )
    );
    let _ = bob.navigate(&location(&nav)).await;
    let (status, _) = r.get(&bob, &r.url("jwt-app", "/"), false, &[]).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "bob signed out by navigation"
    );

    // Borg UI's logout button: the shim points its UI at sidegate's /logout, which ends the
    // session (the button does nothing behind a proxy otherwise).
    let r2 = b_logout(&r, &carol).await;
    assert_eq!(
        r2,
        StatusCode::UNAUTHORIZED,
        "carol is signed out after Borg UI's logout"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recipes_through_nginx() {
    scenario(Via::Nginx).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recipes_through_traefik() {
    scenario(Via::Traefik).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recipes_through_traefik_labels() {
    scenario(Via::TraefikLabels).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recipes_through_caddy() {
    scenario(Via::Caddy).await;
}

/// A password that differs between sidegate and TISBackup: the app's 401 reaches the
/// browser without its `WWW-Authenticate: Basic` challenge (no password prompt), through
/// both proxies, while sidegate's own answers are unchanged.
async fn mismatch(via: Via) {
    let r = setup_with(via, "rotated-at-the-app-only").await;
    let bob = Browser::new(r.port);
    r.login(&bob, "tisbackup", "bob").await;
    // The app itself does challenge (so the checks below can fail).
    let direct = reqwest::get(format!("http://{}/", r._standins[2].addr))
        .await
        .unwrap();
    assert!(direct.headers().contains_key("www-authenticate"));
    for navigate in [true, false] {
        let mut req = bob.client.get(r.url("tisbackup", "/"));
        if navigate {
            req = req
                .header("sec-fetch-mode", "navigate")
                .header("accept", "text/html");
        }
        let answer = req.send().await.unwrap();
        assert_eq!(answer.status(), StatusCode::UNAUTHORIZED, "the app refused");
        assert_eq!(
            answer.headers().get("www-authenticate"),
            None,
            "{via:?}: the app's Basic challenge reached the browser (navigate: {navigate})"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tisbackup_password_mismatch_never_prompts() {
    for via in [Via::Nginx, Via::Traefik, Via::TraefikLabels, Via::Caddy] {
        mismatch(via).await;
    }
}
