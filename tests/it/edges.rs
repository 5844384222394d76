//! What a hostile client can make the proxy send, and what the app then receives, through
//! real nginx, Traefik and Caddy with the real OpenID Provider: the other proxy's headers
//! never change a decision, the SSO ticket never reaches the app, sidegate's public host never
//! answers /auth*; and bodies warp refuses get warp's own 4xx, never 500.

use std::net::SocketAddr;

use reqwest::StatusCode;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::harness::browser::{location, Browser};
use crate::harness::stack::{stack, Options, ProxyKind, Stack};
use crate::harness::{sidegate, Idp, Sidegate};

/// Sends `request` as raw bytes and returns the status code of the answer.
async fn raw_status(addr: SocketAddr, request: &[u8]) -> u16 {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let mut got = Vec::new();
    while !got.windows(2).any(|w| w == b"\r\n") {
        let n = s.read(&mut buf).await.unwrap();
        assert!(n > 0, "connection closed before a status line: {got:?}");
        got.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&got);
    line.split(' ').nth(1).unwrap().parse().unwrap()
}

#[tokio::test]
async fn backchannel_logout_bad_bodies_get_warps_4xx_not_500() {
    let idp = Idp::start(&["http://auth.example.test/callback".into()]).await;
    let sg = Sidegate::start(sidegate::vars(
        "http://auth.example.test",
        &idp.issuer(),
        None,
    ))
    .await;
    sg.wait_ready().await;
    let head =
        "POST /backchannel-logout HTTP/1.1\r\nHost: auth.example.test\r\nConnection: close\r\n";
    let big = "logout_token=".to_owned() + &"a".repeat(70 * 1024);
    let cases: Vec<(&str, String, u16)> = vec![
        (
            "a body over 64 KiB",
            format!(
                "{head}Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{big}",
                big.len()
            ),
            413,
        ),
        (
            "a JSON body",
            format!(
                "{head}Content-Type: application/json\r\nContent-Length: 21\r\n\r\n{{\"logout_token\":\"x\"}}"
            ),
            415,
        ),
        (
            "a chunked body without Content-Length",
            format!(
                "{head}Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n e\r\nlogout_token=x\r\n0\r\n\r\n"
            ),
            411,
        ),
        (
            "no body",
            format!("{head}Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 0\r\n\r\n"),
            400,
        ),
    ];
    for (what, request, want) in cases {
        let got = raw_status(sg.addr, request.as_bytes()).await;
        assert_eq!(got, want, "{what}");
    }
    // Two Host headers: which one is the request for? Refused, never guessed.
    let twice = "GET /auth HTTP/1.1\r\nHost: app.example.test\r\nHost: evil.test\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Host: app.example.test\r\nX-Forwarded-Uri: /\r\nConnection: close\r\n\r\n";
    assert_eq!(
        raw_status(sg.addr, twice.as_bytes()).await,
        400,
        "two Host headers"
    );
    // No Host at all (HTTP/1.1 requires one; every proxy's subrequest has one).
    let none = "GET /auth HTTP/1.1\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Host: app.example.test\r\nX-Forwarded-Uri: /\r\nConnection: close\r\n\r\n";
    assert_eq!(
        raw_status(sg.addr, none.as_bytes()).await,
        400,
        "no Host header"
    );
    let none = none.replace("GET /auth ", "GET /auth/nginx ");
    assert_eq!(
        raw_status(sg.addr, none.as_bytes()).await,
        400,
        "no Host header (nginx)"
    );
    sg.stop().await;
}

/// A default profile with a bypass prefix, a methods rule and a static credential, so that
/// every spoof below has something to win.
fn edge_profile() -> Vec<(&'static str, &'static str)> {
    let dir = Box::leak(Box::new(tempfile::tempdir().unwrap()));
    let file = dir.path().join("apps.toml");
    std::fs::write(
        &file,
        r#"[apps.default]
bypass = [{ prefix = "/pub/" }]
methods = ["GET", "HEAD", "POST"]
credential = { type = "static", header = "X-Edge-Credential", scheme = "Bearer", secret_env = "EDGE_TOKEN" }
"#,
    )
    .unwrap();
    let path: &'static str = Box::leak(file.display().to_string().into_boxed_str());
    vec![
        ("SIDEGATE_APPS_FILE", path),
        ("EDGE_TOKEN", "forever-token-123"),
    ]
}

/// Signs `b` in through the proxy, from a protected URL.
async fn sign_in(s: &Stack, b: &Browser) {
    let r = b.navigate(&s.app("/x")).await;
    assert_eq!(r.status(), StatusCode::FOUND);
    let r = b.navigate(&location(&r)).await;
    let callback = b
        .login_at_idp(&location(&r), "alice", &s.auth("/callback"))
        .await;
    let r = b.navigate(&callback).await;
    assert_eq!(r.status(), StatusCode::FOUND, "{:?}", r.text().await);
}

/// The other family's headers (and same-family copies the proxy must overwrite) that a
/// hostile client adds, all pointing at the bypass path with an allowed method.
fn spoofs(s: &Stack) -> Vec<(&'static str, String)> {
    let public = s.app("/pub/app.css");
    vec![
        ("x-original-url", public),
        ("x-original-uri", "/pub/app.css".into()),
        ("x-original-method", "GET".into()),
        ("x-forwarded-uri", "/pub/app.css".into()),
        ("x-forwarded-method", "GET".into()),
        ("x-forwarded-host", format!("app.example.test:{}", s.port)),
        ("x-forwarded-proto", "http".into()),
    ]
}

fn echoed(seen: &Value, name: &str) -> Vec<String> {
    seen["headers"][name]
        .as_array()
        .map(|a| a.iter().map(|v| v.as_str().unwrap().to_owned()).collect())
        .unwrap_or_default()
}

/// No header an app might trust for identity carries the client's `mallory`.
fn no_trusted_header_from_the_client(seen: &Value, proxy: ProxyKind) {
    for name in ::sidegate::upstream::TRUSTED_ELSEWHERE {
        let values = echoed(seen, name);
        assert!(
            values.iter().all(|v| v != "mallory"),
            "{proxy:?}: the client's {name} reached the app: {values:?}"
        );
    }
}

/// Every example strips every header apps commonly trust: each middleware, location or
/// snippet that protects an app names each of them.
#[test]
fn every_example_strips_every_header_apps_commonly_trust() {
    let files = [
        ("traefik-examples/dynamic.yml", "forwardauth:"),
        ("traefik-examples/apps.yml", "forwardauth:"),
        (
            "traefik-examples/docker-compose.labels.yml",
            "forwardauth.address",
        ),
        ("deploy/docker-compose.yml", "forwardauth.address"),
        (
            "nginx-examples/sidegate.conf",
            "proxy_set_header cookie $sidegate_cookie",
        ),
        (
            "nginx-examples/apps.conf",
            "proxy_set_header cookie $sidegate_cookie",
        ),
        (
            "nginx-examples/snippets/sidegate-location.conf",
            "proxy_set_header cookie $sidegate_cookie",
        ),
        (
            "nginx-examples/ingress-nginx.yaml",
            "kubernetes.io/auth-response-headers",
        ),
        (
            "nginx-examples/ingress-nginx-rendered.conf",
            "$upstream_http_cookie",
        ),
        ("caddy-examples/Caddyfile", "forward_auth 127.0.0.1"),
        ("caddy-examples/apps.Caddyfile", "forward_auth 127.0.0.1"),
        (
            "traefik-examples/docker-compose.apps.labels.yml",
            "forwardauth.address",
        ),
    ];
    for (file, per) in files {
        let text = std::fs::read_to_string(crate::harness::repo().join(file))
            .unwrap()
            .to_lowercase();
        let protected = text.matches(per).count();
        assert!(protected > 0, "{file}: no `{per}`");
        for name in ::sidegate::upstream::TRUSTED_ELSEWHERE {
            let named = text.matches(&name.to_lowercase()).count();
            assert!(
                named >= protected,
                "{file}: {name} named {named} times for {protected} protected apps"
            );
        }
    }
}

async fn edges_through(proxy: ProxyKind) {
    let s = stack(Options {
        proxy,
        vars: edge_profile(),
        ..Options::default()
    })
    .await;
    let b = Browser::new(s.port);
    let private = s.app("/private/report");

    // 1. Not signed in: the spoofed bypass path never lets a request through, and the
    //    return URL is the real one.
    let plain = b.navigate(&private).await;
    assert_eq!(plain.status(), StatusCode::FOUND, "{proxy:?}");
    let mut spoofed = b
        .client
        .get(&private)
        .header("sec-fetch-mode", "navigate")
        .header("accept", "text/html");
    for (k, v) in spoofs(&s) {
        spoofed = spoofed.header(k, v);
    }
    let r = spoofed.send().await.unwrap();
    assert_eq!(
        r.status(),
        StatusCode::FOUND,
        "{proxy:?}: a spoofed bypass got through"
    );
    assert_eq!(
        location(&r),
        location(&plain),
        "{proxy:?}: the return URL moved"
    );
    let mut api = b.client.get(&private);
    for (k, v) in spoofs(&s) {
        api = api.header(k, v);
    }
    assert_eq!(
        api.send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED,
        "{proxy:?}"
    );

    // The real bypass path passes without a session, and the app gets no sidegate cookie.
    let mut r = b
        .client
        .get(s.app("/pub/app.css"))
        .header("cookie", "_sidegate=junk.value; theme=dark");
    for name in ::sidegate::upstream::TRUSTED_ELSEWHERE {
        r = r.header(*name, "mallory");
    }
    let r = r.send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{proxy:?}");
    let seen: Value = r.json().await.unwrap();
    assert_eq!(echoed(&seen, "cookie"), ["theme=dark"], "{proxy:?} bypass");
    no_trusted_header_from_the_client(&seen, proxy);
    assert!(
        echoed(&seen, "x-edge-credential")
            .iter()
            .all(String::is_empty),
        "{proxy:?}"
    );

    // A bypass prefix followed by a dot segment with a path parameter (Tomcat and Spring
    // read `..;` as `..`): no bypass, whichever way the proxy passes it.
    for path in [
        "/pub/..;/admin",
        "/pub/..;jsessionid=x/admin",
        "/pub/%2e%2e;/admin",
    ] {
        let r = b.client.get(s.app(path)).send().await.unwrap();
        assert_ne!(r.status(), StatusCode::OK, "{proxy:?}: {path} bypassed");
    }

    sign_in(&s, &b).await;
    let ticket = b.cookie(&s.app("/"), "_sidegate").unwrap();

    // 2. The method rule holds whatever method the client claims in headers.
    let mut del = b.client.delete(s.app("/x"));
    for (k, v) in spoofs(&s) {
        del = del.header(k, v);
    }
    assert_eq!(
        del.send().await.unwrap().status(),
        StatusCode::FORBIDDEN,
        "{proxy:?}"
    );

    // 3. The app gets every cookie but sidegate's, byte for byte; none at all when only
    //    sidegate's were sent.
    let with = |cookies: String| b.client.get(s.app("/x")).header("cookie", cookies).send();
    let r = with(format!("theme=dark; _sidegate={ticket}; csrftoken=a%3Db"))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{proxy:?}");
    let seen: Value = r.json().await.unwrap();
    assert_eq!(
        echoed(&seen, "cookie"),
        ["theme=dark; csrftoken=a%3Db"],
        "{proxy:?}"
    );
    let mut forged = b.client.get(s.app("/x"));
    for name in ::sidegate::upstream::TRUSTED_ELSEWHERE {
        forged = forged.header(*name, "mallory");
    }
    let forged: Value = forged.send().await.unwrap().json().await.unwrap();
    no_trusted_header_from_the_client(&forged, proxy);
    let r = with(format!(
        "_sidegate={ticket}; _sidegate_login_ABCDEFGHIJKL=x"
    ))
    .await
    .unwrap();
    let seen: Value = r.json().await.unwrap();
    // What each proxy does with an empty value: nginx drops the header, Traefik and Caddy
    // send it empty.
    let want: &[&str] = match proxy {
        ProxyKind::Nginx(_) => &[],
        _ => &[""],
    };
    assert_eq!(echoed(&seen, "cookie"), want, "{proxy:?}");

    // 1b. No path of sidegate's public host hands the browser a credential, whatever it
    //     claims the request was.
    for path in [
        "/auth",
        "/auth/nginx",
        "/auth/default",
        "/auth/nginx/default",
    ] {
        let mut r = b
            .client
            .get(s.auth(path))
            .header("cookie", format!("_sidegate={ticket}"));
        for (k, v) in spoofs(&s) {
            r = r.header(k, v);
        }
        let r = r.send().await.unwrap();
        assert!(!r.status().is_success(), "{proxy:?} {path}: {}", r.status());
        assert!(
            r.headers().get("x-edge-credential").is_none(),
            "{proxy:?} {path}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spoofed_headers_cookies_and_the_public_host_through_nginx() {
    edges_through(ProxyKind::Nginx("sidegate.conf")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spoofed_headers_cookies_and_the_public_host_through_traefik() {
    edges_through(ProxyKind::Traefik).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spoofed_headers_cookies_and_the_public_host_through_caddy() {
    edges_through(ProxyKind::Caddy).await;
}

#[tokio::test]
async fn auth_addressed_to_the_public_host_is_refused_even_from_a_trusted_peer() {
    let idp = Idp::start(&["http://auth.example.test/callback".into()]).await;
    let sg = Sidegate::start(sidegate::vars(
        "http://auth.example.test",
        &idp.issuer(),
        None,
    ))
    .await;
    sg.wait_ready().await;
    let client = reqwest::Client::new();
    for (path, host_header) in [
        ("/auth", ("host", "auth.example.test")),
        ("/auth/nginx", ("host", "AUTH.example.test:443")),
        ("/auth", ("x-forwarded-host", "auth.example.test")),
    ] {
        let r = client
            .get(format!("http://{}{path}", sg.addr))
            .header(host_header.0, host_header.1)
            .header("x-forwarded-proto", "https")
            .header("x-forwarded-uri", "/")
            .header("x-original-url", "https://app.example.test/")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path} {host_header:?}");
    }
    sg.stop().await;
}

/// Without any proxy's help (a configuration that passes every client header), each
/// endpoint reads only its own family: the other family's bypass path and method lose.
#[tokio::test]
async fn each_endpoint_reads_only_its_own_family_without_the_proxys_help() {
    let idp = Idp::start(&["http://auth.example.test/callback".into()]).await;
    let mut vars = sidegate::vars("http://auth.example.test", &idp.issuer(), None);
    vars.extend(
        edge_profile()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    let sg = Sidegate::start(vars).await;
    sg.wait_ready().await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let traefik_private = [
        ("x-forwarded-method", "GET"),
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "app.example.test"),
        ("x-forwarded-uri", "/private/report"),
    ];
    let nginx_private = [
        ("x-original-method", "GET"),
        ("x-original-uri", "/private/report"),
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "app.example.test"),
    ];
    let nginx_spoof = [
        ("x-forwarded-uri", "/pub/app.css"),
        ("x-forwarded-method", "GET"),
    ];
    let traefik_spoof = [
        ("x-original-url", "https://app.example.test/pub/app.css"),
        ("x-original-uri", "/pub/app.css"),
        ("x-original-method", "GET"),
    ];
    for (path, own, other) in [
        ("/auth", &traefik_private[..], &traefik_spoof[..]),
        ("/auth/nginx", &nginx_private[..], &nginx_spoof[..]),
    ] {
        let mut r = client.get(format!("http://{}{path}", sg.addr));
        for (k, v) in own.iter().chain(other) {
            r = r.header(*k, *v);
        }
        let r = r.send().await.unwrap();
        assert_eq!(
            r.status(),
            StatusCode::UNAUTHORIZED,
            "{path}: the other family was believed"
        );
    }
    // A method the rule refuses, dressed up as GET in the other family, is refused.
    let mut r = client.get(format!("http://{}/auth", sg.addr));
    for (k, v) in traefik_private
        .iter()
        .filter(|(k, _)| *k != "x-forwarded-method")
    {
        r = r.header(*k, *v);
    }
    let r = r
        .header("x-forwarded-method", "DELETE")
        .header("x-original-method", "GET")
        .header("authorization", "Bearer sgk_x")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "a bad key is refused first"
    );
    // nginx without X-Original-Method under a methods rule: refused, never guessed as GET.
    let mut r = client.get(format!("http://{}/auth/nginx", sg.addr));
    for (k, v) in nginx_private
        .iter()
        .filter(|(k, _)| *k != "x-original-method")
    {
        r = r.header(*k, *v);
    }
    let r = r.header("x-forwarded-method", "GET").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    sg.stop().await;
}

/// One hostile value cannot write a huge log line: every logged value is capped.
#[tokio::test]
async fn a_64_kib_header_value_never_becomes_a_64_kib_log_line() {
    let idp = Idp::start(&["http://auth.example.test/callback".into()]).await;
    let sg = crate::harness::sidegate::SidegateProcess::spawn(sidegate::vars(
        "http://auth.example.test",
        &idp.issuer(),
        None,
    ))
    .await;
    let huge = "a".repeat(64 * 1024);
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // Not an allowed return host: refused (403) and logged with the host and the URI.
    let r = client
        .get(format!("http://{}/auth", sg.addr))
        .header("x-forwarded-method", "GET")
        .header("x-forwarded-proto", "https")
        .header("x-forwarded-host", &huge)
        .header("x-forwarded-uri", format!("/{huge}"))
        .header("sec-fetch-mode", "navigate")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let log = sg.proc.log();
    assert!(log.contains("access refused"), "{log}");
    let longest = log.lines().map(str::len).max().unwrap_or(0);
    assert!(longest < 4096, "a {longest}-byte log line");
}

/// No client input is a 5xx: each endpoint gets malformed methods, bodies, lengths, encodings
/// and oversized values as raw bytes, answers a 4xx, and the process keeps serving.
#[tokio::test]
async fn no_client_input_is_answered_with_a_5xx() {
    let idp = Idp::start(&["http://auth.example.test/callback".into()]).await;
    let mut vars = sidegate::vars("http://auth.example.test", &idp.issuer(), None);
    vars.push((
        "SIDEGATE_ADMIN_TOKEN".into(),
        "admin-token-0123456789-0123456789-abcdef".into(),
    ));
    let sg = crate::harness::sidegate::SidegateProcess::spawn(vars).await;
    let big = "a".repeat(70 * 1024);
    let h = "Host: auth.example.test\r\nConnection: close";
    let fwd =
        "X-Forwarded-Method: GET\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: app.example.test";
    let cases: Vec<(&str, String)> = vec![
        ("TRACE /auth", format!("TRACE /auth HTTP/1.1\r\n{h}\r\n\r\n")),
        ("OPTIONS /auth", format!("OPTIONS /auth HTTP/1.1\r\n{h}\r\n\r\n")),
        ("/auth with a dot segment", format!("GET /auth/../auth HTTP/1.1\r\n{h}\r\n\r\n")),
        ("/auth with an empty segment", format!("GET /auth//nginx HTTP/1.1\r\n{h}\r\n\r\n")),
        ("a non-UTF-8 forwarded URI", format!("GET /auth HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{fwd}\r\nX-Forwarded-Uri: /<FF><FE>\r\n\r\n")),
        ("a 64 KiB forwarded URI", format!("GET /auth HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{fwd}\r\nX-Forwarded-Uri: /{}\r\n\r\n", &big[..60_000])),
        ("a non-UTF-8 cookie", format!("GET /auth HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{fwd}\r\nX-Forwarded-Uri: /\r\nCookie: _sidegate=<FF>.<FE>\r\n\r\n")),
        ("/start with a 60 KiB rd", format!("GET /start?rd=https://app.example.test/{} HTTP/1.1\r\n{h}\r\n\r\n", &big[..60_000])),
        ("/start with a bad rd", format!("GET /start?rd=%ff%fe HTTP/1.1\r\n{h}\r\n\r\n")),
        ("/callback with garbage", format!("GET /callback?state=%00%ff&code=%ff HTTP/1.1\r\n{h}\r\n\r\n")),
        ("/callback with two states", format!("GET /callback?state=a&state=b&code=c HTTP/1.1\r\n{h}\r\n\r\n")),
        ("/logout as PUT", format!("PUT /logout HTTP/1.1\r\n{h}\r\nContent-Length: 0\r\n\r\n")),
        // A sign-out always signs out (the bad rd is only not followed): 200, not 4xx.
        ("/logout with a JSON body and a bad rd (200)", format!("POST /logout?rd=%ff HTTP/1.1\r\n{h}\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{{}}")),
        ("back-channel multipart", format!("POST /backchannel-logout HTTP/1.1\r\n{h}\r\nContent-Type: multipart/form-data; boundary=x\r\nContent-Length: 4\r\n\r\n--x-")),
        ("back-channel Expect with a huge length", format!("POST /backchannel-logout HTTP/1.1\r\n{h}\r\nContent-Type: application/x-www-form-urlencoded\r\nExpect: 100-continue\r\nContent-Length: 99999999\r\n\r\n")),
        ("back-channel length and chunked", format!("POST /backchannel-logout HTTP/1.1\r\n{h}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")),
        ("back-channel logout_token garbage", format!("POST /backchannel-logout HTTP/1.1\r\n{h}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 20\r\n\r\nlogout_token=%ff.a.b")),
        ("admin without the token", format!("POST /admin/sessions/revoke?user=x HTTP/1.1\r\n{h}\r\nContent-Length: 0\r\n\r\n")),
        ("admin with a wrong token", format!("POST /admin/sessions/revoke?user=x HTTP/1.1\r\n{h}\r\nAuthorization: Bearer {}\r\nContent-Length: 0\r\n\r\n", &big[..8000])),
        ("admin as GET", format!("GET /admin/sessions/revoke HTTP/1.1\r\n{h}\r\n\r\n")),
        ("a shim that does not exist", format!("GET /shim/none/../x HTTP/1.1\r\n{h}\r\n\r\n")),
        ("jwks as POST", format!("POST /.well-known/jwks.json HTTP/1.1\r\n{h}\r\nContent-Length: 0\r\n\r\n")),
    ];
    for (what, request) in cases {
        // `<FF>`, `<FE>`: bytes that are not UTF-8.
        let request = request.replace("<FF>", "\u{1}").replace("<FE>", "\u{2}");
        let bytes: Vec<u8> = request
            .bytes()
            .map(|b| match b {
                1 => 0xff,
                2 => 0xfe,
                b => b,
            })
            .collect();
        let status = raw_status(sg.addr, &bytes).await;
        let want = if what.ends_with("(200)") {
            200..300
        } else {
            400..500
        };
        assert!(want.contains(&status), "{what}: {status}");
    }
    let ready = reqwest::get(format!("http://{}/readyz", sg.addr))
        .await
        .unwrap();
    assert_eq!(ready.status(), StatusCode::OK, "still serving");
}
