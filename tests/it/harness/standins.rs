//! Stand-ins for the apps of the recipes, each enforcing the documented contract of the
//! app it stands for, and answering JSON that says what it saw.

use serde_json::{json, Value};
use warp::http::{HeaderMap, StatusCode};
use warp::{Filter, Reply};

/// A stand-in app, served until dropped.
pub type StandIn = super::Served;

fn header(h: &HeaderMap, name: &str) -> Vec<String> {
    h.get_all(name)
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect()
}

fn reply(status: StatusCode, body: Value) -> warp::reply::Response {
    let mut r = warp::http::Response::new(body.to_string().into());
    *r.status_mut() = status;
    r
}

async fn serve<F>(f: F) -> StandIn
where
    F: Fn(String, HeaderMap) -> warp::reply::Response + Clone + Send + Sync + 'static,
{
    let route = warp::path::full()
        .and(warp::header::headers_cloned())
        .map(move |p: warp::path::FullPath, h: HeaderMap| f(p.as_str().to_owned(), h));
    super::serve(route).await
}

/// Duplicati 2.2, as its source reads: every request needs `Authorization: Bearer <forever
/// token>` or, when started with `--webservice-pre-auth-tokens`, `Authorization: PreAuth
/// <token>` (the `PreAuth ` prefix matched case-sensitively; an `Authentication` header,
/// which its help text names, is never read). Its refresh endpoint only reads a refresh
/// cookie and must never be reached (the shim answers it), so here it fails loudly.
///
/// Its notifications WebSocket (`/notifications`) is upgraded whatever the credentials. A
/// `PreAuth` header counts as it is; otherwise a non-empty `?token=` replaces the header's
/// token. Authenticated, the socket starts with a status message; not, it waits for
/// `{"Version": 1, "Token": …}` and closes with 4401 when that is not a valid token.
pub async fn duplicati(forever: &'static str, preauth: &'static str) -> StandIn {
    let notifications = warp::path!("notifications")
        .and(warp::query::<std::collections::HashMap<String, String>>())
        .and(warp::header::optional::<String>("authorization"))
        .and(warp::ws())
        .map(
            move |q: std::collections::HashMap<String, String>,
                  auth: Option<String>,
                  ws: warp::ws::Ws| {
                let auth = auth.unwrap_or_default();
                let token = match q.get("token").filter(|t| !t.is_empty()) {
                    Some(t) if !auth.starts_with("PreAuth ") => format!("Bearer {t}"),
                    _ => auth,
                };
                let ok =
                    token == format!("Bearer {forever}") || token == format!("PreAuth {preauth}");
                ws.on_upgrade(move |socket| notifications_socket(socket, ok, forever))
            },
        );
    let rest = warp::path::full().and(warp::header::headers_cloned()).map(
        move |p: warp::path::FullPath, h: HeaderMap| {
            duplicati_http(p.as_str(), &h, forever, preauth)
        },
    );
    super::serve(notifications.or(rest)).await
}

async fn notifications_socket(
    mut socket: warp::ws::WebSocket,
    authenticated: bool,
    forever: &'static str,
) {
    use futures_util::{SinkExt, StreamExt};
    let status = warp::ws::Message::text(
        json!({"type": "serverstatus", "ProgramState": "Running"}).to_string(),
    );
    if !authenticated {
        let first = match socket.next().await {
            Some(Ok(m)) => m
                .to_str()
                .ok()
                .and_then(|t| serde_json::from_str::<Value>(t).ok()),
            _ => None,
        };
        if first.as_ref().and_then(|f| f["Token"].as_str()) != Some(forever) {
            let _ = socket
                .send(warp::ws::Message::close_with(4401u16, "Invalid token"))
                .await;
            return;
        }
    }
    let _ = socket.send(status).await;
}

fn duplicati_http(
    path: &str,
    h: &HeaderMap,
    forever: &str,
    preauth: &str,
) -> warp::reply::Response {
    {
        if path == "/api/v1/auth/refresh" {
            return reply(
                StatusCode::UNAUTHORIZED,
                json!({"Error": "Authorization failed due to missing cookie.", "Code": 401}),
            );
        }
        let authorization = header(h, "authorization");
        let bearer = authorization == [format!("Bearer {forever}")];
        let pre = authorization == [format!("PreAuth {preauth}")];
        if !(bearer || pre) {
            return reply(StatusCode::UNAUTHORIZED, json!({"Error": "Not logged in"}));
        }
        reply(
            StatusCode::OK,
            json!({"app": "duplicati", "via": if bearer { "Bearer" } else { "PreAuth" }, "path": path}),
        )
    }
}

/// The token a Borg UI agent got at enrollment (the stand-in's only agent).
pub const BORG_AGENT_TOKEN: &str = "borgui_agent_5c1d9e";
/// The agent id the session WebSocket's first message must name.
pub const BORG_AGENT_ID: &str = "agent-1";

/// Borg UI 2.3 with DISABLE_AUTHENTICATION, the default PROXY_AUTH_HEADER and
/// `PROXY_AUTH_ROLE_HEADER=X-Borg-Role` (and the all-repositories role, email and full name
/// headers set likewise): the user is the first non-empty of X-Forwarded-User,
/// X-Remote-User, Remote-User and X-authentik-username, trimmed and lower-cased (401
/// without one); X-Borg-Role counts when viewer, operator or admin, X-Borg-All-Repositories-Role
/// when viewer or operator. Reports the headers it trusts and what it made of them.
///
/// Its managed agents never carry a user: `/api/agents/*` wants
/// `X-Borg-Agent-Authorization: Bearer <agent token>` (401 otherwise), `/api/agents/session`
/// is a WebSocket checked on that header before the upgrade is accepted (403 otherwise) whose
/// first message must be `{"type": "hello", "agent_id": …}`, and `/agent/*` (the installer
/// and its wheels) is public.
pub async fn borg() -> StandIn {
    let agent_ok = |v: Option<String>| v.as_deref() == Some(&format!("Bearer {BORG_AGENT_TOKEN}"));
    let session = warp::path!("api" / "agents" / "session")
        .and(warp::header::optional::<String>(
            "x-borg-agent-authorization",
        ))
        .and(warp::ws())
        .map(move |token: Option<String>, ws: warp::ws::Ws| {
            if !agent_ok(token) {
                return reply(
                    StatusCode::FORBIDDEN,
                    json!({"detail": "agent token required"}),
                );
            }
            ws.on_upgrade(agent_session).into_response()
        });
    let rest = warp::path::full()
        .and(warp::header::headers_cloned())
        .map(move |p: warp::path::FullPath, h: HeaderMap| borg_http(p.as_str(), &h));
    super::serve(session.or(rest)).await
}

async fn agent_session(mut socket: warp::ws::WebSocket) {
    use futures_util::{SinkExt, StreamExt};
    let hello = match socket.next().await {
        Some(Ok(m)) => m
            .to_str()
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(t).ok()),
        _ => None,
    };
    let ok = hello
        .as_ref()
        .is_some_and(|h| h["type"] == "hello" && h["agent_id"] == BORG_AGENT_ID);
    if !ok {
        let _ = socket
            .send(warp::ws::Message::close_with(1008u16, "hello expected"))
            .await;
        return;
    }
    let welcome = json!({"type": "welcome", "agent_id": BORG_AGENT_ID}).to_string();
    let _ = socket.send(warp::ws::Message::text(welcome)).await;
    // Echo what the agent sends next, as the session's job channel answers.
    while let Some(Ok(m)) = socket.next().await {
        if m.is_close() || socket.send(m).await.is_err() {
            break;
        }
    }
}

fn borg_http(path: &str, h: &HeaderMap) -> warp::reply::Response {
    let first = |n: &str| header(h, n).into_iter().find(|v| !v.trim().is_empty());
    let users = [
        "x-forwarded-user",
        "x-remote-user",
        "remote-user",
        "x-authentik-username",
    ];
    if path.starts_with("/agent/") {
        return reply(
            StatusCode::OK,
            json!({"app": "borg", "installer": path, "x-forwarded-user": header(h, "x-forwarded-user")}),
        );
    }
    if let Some(rest) = path.strip_prefix("/api/agents/") {
        if first("x-borg-agent-authorization") != Some(format!("Bearer {BORG_AGENT_TOKEN}")) {
            return reply(
                StatusCode::UNAUTHORIZED,
                json!({"detail": "agent token required"}),
            );
        }
        let user_headers: Vec<String> = users
            .iter()
            .flat_map(|n| header(h, n))
            .filter(|v| !v.is_empty())
            .collect();
        return reply(
            StatusCode::OK,
            json!({"agent": BORG_AGENT_ID, "route": rest, "user_headers": user_headers}),
        );
    }
    let user = users
        .iter()
        .find_map(|n| first(n))
        .map(|u| u.trim().to_lowercase());
    let Some(user) = user else {
        return reply(
            StatusCode::UNAUTHORIZED,
            json!({"detail": "no user header"}),
        );
    };
    let valid = |n: &str, ok: &[&str]| {
        first(n)
            .map(|v| v.trim().to_lowercase())
            .filter(|v| ok.contains(&v.as_str()))
    };
    let mut seen: serde_json::Map<String, Value> = [
        "x-forwarded-user",
        "x-borg-role",
        "x-borg-email",
        "x-borg-full-name",
        "x-borg-all-repositories-role",
    ]
    .iter()
    .map(|n| ((*n).to_owned(), json!(header(h, n))))
    .collect();
    seen.insert("user".into(), json!(user));
    seen.insert(
        "role".into(),
        json!(valid("x-borg-role", &["viewer", "operator", "admin"]).unwrap_or("viewer".into())),
    );
    seen.insert(
        "all_repositories_role".into(),
        json!(valid(
            "x-borg-all-repositories-role",
            &["viewer", "operator"]
        )),
    );
    reply(StatusCode::OK, Value::Object(seen))
}

/// A TISBackup-style app: HTTP Basic with one fixed user and password.
pub async fn basic(user: &'static str, password: &'static str) -> StandIn {
    use base64::Engine;
    let want = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    );
    serve(move |_, h| {
        if header(&h, "authorization") != [want.clone()] {
            let mut r = reply(
                StatusCode::UNAUTHORIZED,
                json!({"error": "basic credentials required"}),
            );
            r.headers_mut().insert(
                "www-authenticate",
                warp::http::HeaderValue::from_static("Basic realm=\"tisbackup\""),
            );
            return r;
        }
        reply(
            StatusCode::OK,
            json!({"app": "tisbackup", "user": header(&h, "x-forwarded-user")}),
        )
    })
    .await
}

/// An app that verifies sidegate's minted JWT against the published JWKS (fetched once at
/// start, as apps cache it): signature with the key named by `kid` (algorithm from the
/// key, never the token), `aud`, `exp`, `iss`.
pub async fn jwt_app(jwks_url: String, issuer: String) -> StandIn {
    let jwks: jsonwebtoken::jwk::JwkSet =
        reqwest::get(&jwks_url).await.unwrap().json().await.unwrap();
    serve(move |_, h| {
        let Some(token) = header(&h, "authorization")
            .first()
            .and_then(|v| v.strip_prefix("Bearer ").map(str::to_owned))
        else {
            return reply(
                StatusCode::UNAUTHORIZED,
                json!({"error": "no bearer token"}),
            );
        };
        match verify(&token, &jwks, &issuer) {
            Ok(claims) => reply(StatusCode::OK, json!({"app": "jwt-app", "claims": claims})),
            Err(e) => reply(StatusCode::UNAUTHORIZED, json!({"error": e})),
        }
    })
    .await
}

fn verify(token: &str, jwks: &jsonwebtoken::jwk::JwkSet, issuer: &str) -> Result<Value, String> {
    let header = jsonwebtoken::decode_header(token).map_err(|e| e.to_string())?;
    let kid = header.kid.ok_or("no kid")?;
    let jwk = jwks.find(&kid).ok_or(format!("unknown kid {kid}"))?;
    let alg = jwk.common.key_algorithm.ok_or("key without alg")?;
    let alg: jsonwebtoken::Algorithm = alg
        .to_string()
        .parse()
        .map_err(|_| "unsupported alg".to_owned())?;
    let mut v = jsonwebtoken::Validation::new(alg);
    v.set_audience(&["jwt-app"]);
    v.set_issuer(&[issuer]);
    v.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
    jsonwebtoken::decode::<Value>(token, &key, &v)
        .map(|d| d.claims)
        .map_err(|e| e.to_string())
}
