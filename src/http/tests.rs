use super::routes::routes;
use super::*;
use crate::app::App;
use crate::clock::FixedClock;
use crate::gate::{CredentialRefusal, Presenter};
use crate::logout::LogoutRefusal;
use crate::redirect::ReturnUrlRefusal;
use crate::store::{MemoryStore, StoreError};
use std::sync::Arc;

#[allow(non_upper_case_globals)]
const refusal: CredentialRefusal = CredentialRefusal {
    what: Presenter::ApiKey,
    reason: "unknown or revoked API key",
};

#[test]
fn error_status_mapping_is_pinned() {
    let cases = [
        (
            Error::BadForwardedRequest(ForwardedError::UntrustedPeer),
            403,
        ),
        (
            Error::BadForwardedRequest(ForwardedError::Missing("X")),
            400,
        ),
        (Error::BadReturnUrl(ReturnUrlRefusal::HostNotAllowed), 400),
        (Error::InvalidLoginState, 400),
        (refused("access_denied"), 403),
        (refused("server_error"), 400),
        (
            Error::Idp(IdpError::CodeRefused("invalid_grant".into())),
            400,
        ),
        (Error::Idp(IdpError::IdToken("bad nonce".into())), 400),
        (
            Error::Idp(IdpError::Token("connection refused".into())),
            502,
        ),
        (Error::Idp(IdpError::UserInfo("timeout".into())), 502),
        (Error::IdpUnavailable, 503),
        (Error::IdpMisconfigured, 503),
        (Error::Store(StoreError::Timeout("test")), 503),
        (Error::Internal("x".into()), 500),
        (Error::NotFound, 404),
        (Error::Request(RequestProblem::MethodNotAllowed), 405),
        (Error::Request(RequestProblem::LengthRequired), 411),
        (Error::Request(RequestProblem::PayloadTooLarge), 413),
        (Error::Request(RequestProblem::UnsupportedMediaType), 415),
        (Error::Request(RequestProblem::Malformed), 400),
        (Error::MissingParameter("logout_token"), 400),
        (Error::LogoutTokenRefused(LogoutRefusal::Replayed), 400),
        (Error::AdminUnauthorized, 401),
        (Error::NotReady, 503),
        (Error::Denied(Denial::Unauthenticated { login: None }), 401),
        (Error::Denied(Denial::Credential(refusal)), 401),
        (
            Error::Denied(Denial::Forbidden {
                reason: "rule",
                navigation: true,
            }),
            403,
        ),
        (
            Error::LoginRequired {
                start: "https://auth.example.test/start".into(),
            },
            401,
        ),
    ];
    for (e, want) in cases {
        assert_eq!(status(&e).as_u16(), want, "{e:?}");
    }
}

#[tokio::test]
async fn challenges_and_json_errors_have_their_shape() {
    let r = OidcJson(Error::AdminUnauthorized).into_response();
    assert_eq!(
        r.headers()["www-authenticate"],
        "Bearer realm=\"sidegate-admin\""
    );
    assert_eq!(body_text(r).await, r#"{"error":"unauthorized"}"#);
    let r = OidcJson(Error::LogoutTokenRefused(LogoutRefusal::Replayed)).into_response();
    assert_eq!(
        body_text(r).await,
        r#"{"error":"invalid_request","error_description":"the logout token was already used"}"#
    );
    let r = OidcJson(Error::Store(StoreError::Timeout("test"))).into_response();
    assert_eq!(r.status(), 503);
    assert_eq!(body_text(r).await, r#"{"error":"temporarily_unavailable"}"#);
    let r = Bodyless(Error::Denied(Denial::Credential(refusal))).into_response();
    assert!(r.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("invalid_token"));
    let r = Bodyless(Error::Denied(Denial::Unauthenticated {
        login: Some("https://auth.example.test/start?rd=x".into()),
    }))
    .into_response();
    assert_eq!(
        r.headers()["x-sidegate-login"],
        "https://auth.example.test/start?rd=x"
    );
    assert!(body_text(r).await.is_empty());
}

fn refused(code: &str) -> Error {
    Error::LoginRefused {
        code: code.into(),
        retry: "/start?rd=https%3A%2F%2Fapp.example.test%2F".into(),
    }
}

async fn body_text(r: Response) -> String {
    use http_body_util::BodyExt;
    let bytes = r.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[tokio::test]
async fn pages_leak_no_internals_and_bodyless_has_no_body() {
    let r = Error::Store(StoreError::File {
        path: "redis at 10.0.0.5:6379".into(),
        source: std::io::Error::other("refused"),
    })
    .into_response();
    assert_eq!(r.status(), 503);
    let body = body_text(r).await;
    assert!(
        !body.contains("10.0.0.5") && body.contains("Try again"),
        "{body}"
    );
    let r = Bodyless(Error::Store(StoreError::Timeout("test"))).into_response();
    assert_eq!(r.status(), 503);
    assert!(body_text(r).await.is_empty());
    let r = refused("<script>").into_response();
    assert!(!body_text(r).await.contains("<script>"));
    let r = refused("access_denied").into_response();
    let body = body_text(r).await;
    assert!(
        body.contains("<h1>Sign-in cancelled</h1>")
            && body
                .contains("<a href=\"/start?rd=https%3A%2F%2Fapp.example.test%2F\">Try again</a>"),
        "{body}"
    );
}

fn app() -> Arc<App<MemoryStore>> {
    let config = crate::config::test_config(
        "http://127.0.0.1:9/",
        &[("SIDEGATE_COOKIE_DOMAIN", "example.test")],
    );
    App::new(
        config,
        MemoryStore::new(),
        None,
        Arc::new(FixedClock::new(1_000)),
    )
    .unwrap()
}

fn auth_request(path: &str) -> warp::test::RequestBuilder {
    warp::test::request()
        .path(path)
        .remote_addr("127.0.0.1:5000".parse().unwrap())
        .header("host", "sidegate:4180")
        .header("x-forwarded-proto", "https")
        .header("x-forwarded-host", "app.example.test")
        .header("x-forwarded-uri", "/some/path?q=1")
        // What the nginx examples send (each endpoint reads only its own family).
        .header("x-original-uri", "/some/path?q=1")
}

#[tokio::test]
async fn auth_answers_per_proxy_and_client_all_bodyless() {
    let routes = routes(app());
    let login =
        "https://auth.example.test/start?rd=https%3A%2F%2Fapp.example.test%2Fsome%2Fpath%3Fq%3D1";
    let cases = [
        ("/auth", "navigate", 302, Some(login)),
        ("/auth/nginx", "navigate", 401, Some(login)),
        ("/auth", "cors", 401, None),
        ("/auth/nginx", "cors", 401, None),
    ];
    for (path, mode, want, location) in cases {
        let r = auth_request(path)
            .header("sec-fetch-mode", mode)
            .header("cookie", "_sidegate=junk.value")
            .reply(&routes)
            .await;
        assert_eq!(r.status().as_u16(), want, "{path} {mode}");
        assert_eq!(
            r.headers().get("location").map(|v| v.to_str().unwrap()),
            location,
            "{path} {mode}"
        );
        assert!(r.body().is_empty(), "{path} {mode}");
    }
    let untrusted = auth_request("/auth")
        .remote_addr("203.0.113.5:1".parse().unwrap())
        .reply(&routes)
        .await;
    assert_eq!(untrusted.status(), 403);
    assert!(untrusted.body().is_empty());
    let bad = warp::test::request()
        .path("/auth")
        .remote_addr("127.0.0.1:1".parse().unwrap())
        .reply(&routes)
        .await;
    assert_eq!(bad.status(), 400);
    assert!(bad.body().is_empty());
}

#[tokio::test]
async fn start_callback_and_logout_refuse_bad_input() {
    let routes = routes(app());
    let cases = [
        ("/start?rd=https%3A%2F%2Fevil.test%2F", 400, "not allowed"),
        ("/start?rd=%2F%2Fevil.test", 400, "absolute"),
        // An https sidegate (Secure cookie) cannot sign anyone in to a plain-http page.
        (
            "/start?rd=http%3A%2F%2Fapp.example.test%2F",
            400,
            "served over plain http",
        ),
        (
            "/start?rd=https%3A%2F%2Fapp.example.test%2F",
            503,
            "identity provider",
        ),
        ("/callback?code=abc&state=unknownstate123", 400, "expired"),
        ("/callback?error=access_denied", 400, "expired"),
        // A return URL that is not allowed is not followed; the sign-out happens anyway.
        ("/logout?rd=https%3A%2F%2Fevil.test%2F", 200, "signed out"),
        ("/logout", 200, "signed out"),
        ("/nowhere", 404, "nothing here"),
    ];
    for (path, want, text) in cases {
        let r = warp::test::request().path(path).reply(&routes).await;
        assert_eq!(r.status().as_u16(), want, "{path}");
        let body = String::from_utf8_lossy(r.body()).to_lowercase();
        assert!(body.contains(text), "{path}: {body}");
    }
    // The signed-out page links back only to an allowed app the browser came from, and
    // `/logged-out` re-checks a `back:` state.
    for (referer, back) in [
        (
            "https://app.example.test/page?token=x",
            Some("https://app.example.test/page"),
        ),
        ("https://evil.test/", None),
        ("https://auth.example.test/logged-out", None),
        ("not a url", None),
    ] {
        let r = warp::test::request()
            .path("/logout")
            .header("referer", referer)
            .reply(&routes)
            .await;
        let body = String::from_utf8_lossy(r.body()).into_owned();
        match back {
            Some(b) => assert!(body.contains(&format!("href=\"{b}\"")), "{referer}: {body}"),
            None => assert!(!body.contains("Back to"), "{referer}: {body}"),
        }
        assert!(!body.contains("token=x"), "{body}");
    }
    for (state, back) in [
        ("back:https://app.example.test/", true),
        ("back:https://evil.test/", false),
    ] {
        let r = warp::test::request()
            .path(&format!(
                "/logged-out?state={}",
                url::form_urlencoded::byte_serialize(state.as_bytes()).collect::<String>()
            ))
            .reply(&routes)
            .await;
        assert_eq!(r.status(), 200, "{state}");
        let body = String::from_utf8_lossy(r.body()).into_owned();
        assert_eq!(body.contains("Back to"), back, "{state}: {body}");
        assert!(!body.contains("evil"), "{state}: {body}");
    }
    let r = warp::test::request().path("/healthz").reply(&routes).await;
    assert_eq!(
        (r.status().as_u16(), r.body().as_ref()),
        (200, b"ok".as_ref())
    );
    let r = warp::test::request().path("/readyz").reply(&routes).await;
    assert_eq!(r.status(), 503, "IdP not loaded");
    let body: serde_json::Value = serde_json::from_slice(r.body()).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"ready": false, "store": {"ready": true},
            "idp": {"ready": false, "reason": "the IdP's metadata is not loaded yet (sidegate keeps trying)"}})
    );
    let r = warp::test::request().path("/logout").reply(&routes).await;
    let cleared = r.headers().get("set-cookie").unwrap().to_str().unwrap();
    assert!(
        cleared.starts_with("_sidegate=;")
            && cleared.contains("Max-Age=0")
            && cleared.contains("Domain=example.test"),
        "{cleared}"
    );
}

#[tokio::test]
async fn auth_answers_only_get_and_head_and_stays_bodyless_on_odd_paths() {
    let routes = routes(app());
    for (method, path, want) in [
        ("TRACE", "/auth", 405),
        ("POST", "/auth/nginx", 405),
        ("DELETE", "/auth/app", 405),
        ("GET", "/auth/a/b/c", 404),
        ("GET", "/auth/nginx/a/b", 404),
        ("GET", "/auth//x", 404),
    ] {
        let r = auth_request(path).method(method).reply(&routes).await;
        assert_eq!(r.status().as_u16(), want, "{method} {path}");
        assert!(r.body().is_empty(), "{method} {path}: {:?}", r.body());
    }
}

#[tokio::test]
async fn callback_state_is_single_use_and_iss_is_required_when_the_idp_promises_it() {
    use crate::oidc::tests::{StandIn, NOW};
    let idp = StandIn::start().await;
    let config = crate::config::test_config(&idp.issuer, &[]);
    let clock = Arc::new(FixedClock::new(NOW));
    let app = App::new(config, MemoryStore::with_clock(clock.clone()), None, clock).unwrap();
    let provider = app.idp.load().await.unwrap();
    let (_, login) = provider.begin("https://auth.example.test/".into());
    let set = crate::cookies::login_set(&app.config.cookie, app.keys.jar(), &login.state, &login)
        .unwrap();
    let cookie = set.split(';').next().unwrap().to_owned();
    let routes = routes(app.clone());
    let callback = |iss: bool| {
        let mut path = format!("/callback?code=c1&state={}", login.state);
        if iss {
            let iss: String = url::form_urlencoded::byte_serialize(idp.issuer.as_bytes()).collect();
            path.push_str(&format!("&iss={iss}"));
        }
        // An attacker-chosen session cookie rides along (session fixation, GHSA-f24x-5g9q-753f).
        warp::test::request()
            .path(&path)
            .header("cookie", format!("{cookie}; _sidegate=attacker.chosen"))
    };
    let r = callback(false).reply(&routes).await;
    assert_eq!(
        r.status(),
        400,
        "the IdP promises iss (RFC 9207), the callback lacks it"
    );
    assert!(idp.requests().is_empty(), "no code was redeemed");
    let token = idp.id_token("alice", serde_json::json!({"nonce": login.nonce}));
    idp.answer(200, idp.tokens("a1", "r1", Some(token.clone())));
    idp.answer(200, idp.tokens("a1", "r1", Some(token)));
    let r = callback(true).reply(&routes).await;
    assert_eq!(r.status(), 302, "{:?}", r.body());
    let issued: Vec<&str> = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .filter(|c| c.starts_with("_sidegate="))
        .collect();
    assert_eq!(issued.len(), 1, "{issued:?}");
    assert!(
        !issued[0].contains("attacker.chosen"),
        "a new ticket, never the one sent"
    );
    // The same cookies and callback again, against an IdP that would redeem the code twice.
    let r = callback(true).reply(&routes).await;
    assert_eq!(r.status(), 400, "a consumed state is refused server-side");
    assert_eq!(idp.requests().len(), 1, "the replay never reached the IdP");
}
