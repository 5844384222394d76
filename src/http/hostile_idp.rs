//! A hostile or broken OpenID Provider, case by case, against the real /callback: every case
//! is refused with the exact status, and a refused login leaves no session behind.

use std::sync::Arc;

use base64::Engine;
use serde_json::{json, Value};

use super::routes::routes;
use crate::app::App;
use crate::clock::FixedClock;
use crate::oidc::tests::{StandIn, NOW};
use crate::store::MemoryStore;
use crate::token::Signer;

const PEM: &[u8] = include_bytes!("../token/rs256.pem");

/// What the token endpoint answers, given the login's nonce.
type Answer = Box<dyn Fn(&StandIn, &str) -> (u16, Value)>;

fn b64(v: &Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
}

fn good_claims(idp: &StandIn, nonce: &str) -> Value {
    json!({"iss": idp.issuer, "aud": "sidegate", "sub": "alice", "iat": NOW, "exp": NOW + 300, "nonce": nonce})
}

fn with(idp: &StandIn, nonce: &str, f: impl Fn(&mut Value)) -> String {
    let mut c = good_claims(idp, nonce);
    f(&mut c);
    idp.signed(&c)
}

fn tokens(idp: &StandIn, id_token: String) -> (u16, Value) {
    (200, idp.tokens("a1", "r1", Some(id_token)))
}

#[tokio::test]
async fn every_hostile_answer_is_refused_and_leaves_no_session() {
    let idp = StandIn::start().await;
    let config = crate::config::test_config(&idp.issuer, &[]);
    let clock = Arc::new(FixedClock::new(NOW));
    let app = App::new(config, MemoryStore::with_clock(clock.clone()), None, clock).unwrap();
    let provider = app.idp.load().await.unwrap();
    let routes = routes(app.clone());
    let rotated = Signer::from_pem(jsonwebtoken::Algorithm::RS256, PEM, "rotated".into()).unwrap();
    let hs = |secret: &[u8], claims: &Value| {
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            claims,
            &jsonwebtoken::EncodingKey::from_secret(secret),
        )
        .unwrap()
    };
    let issuer = idp.issuer.clone();
    // (case, callback query beyond code and state, token answer, expected status)
    let cases: Vec<(&str, &str, Answer, u16)> = vec![
        (
            "another issuer",
            "",
            Box::new(|i, n| tokens(i, with(i, n, |c| c["iss"] = "https://evil.test".into()))),
            400,
        ),
        (
            "another audience",
            "",
            Box::new(|i, n| tokens(i, with(i, n, |c| c["aud"] = "other".into()))),
            400,
        ),
        (
            "several audiences, azp another",
            "",
            Box::new(|i, n| {
                tokens(
                    i,
                    with(i, n, |c| {
                        c["aud"] = json!(["sidegate", "other"]);
                        c["azp"] = "other".into();
                    }),
                )
            }),
            400,
        ),
        (
            "azp another client",
            "",
            Box::new(|i, n| tokens(i, with(i, n, |c| c["azp"] = "other".into()))),
            400,
        ),
        (
            "expired",
            "",
            Box::new(|i, n| tokens(i, with(i, n, |c| c["exp"] = (NOW - 3600).into()))),
            400,
        ),
        (
            "iat a day ahead",
            "",
            Box::new(|i, n| tokens(i, with(i, n, |c| c["iat"] = (NOW + 86_400).into()))),
            400,
        ),
        (
            "nbf a day ahead",
            "",
            Box::new(|i, n| tokens(i, with(i, n, |c| c["nbf"] = (NOW + 86_400).into()))),
            400,
        ),
        (
            "no nonce",
            "",
            Box::new(|i, n| {
                tokens(
                    i,
                    with(i, n, |c| {
                        c.as_object_mut().unwrap().remove("nonce");
                    }),
                )
            }),
            400,
        ),
        (
            "another nonce",
            "",
            Box::new(|i, n| tokens(i, with(i, n, |c| c["nonce"] = "replayed".into()))),
            400,
        ),
        (
            "no sub",
            "",
            Box::new(|i, n| {
                tokens(
                    i,
                    with(i, n, |c| {
                        c.as_object_mut().unwrap().remove("sub");
                    }),
                )
            }),
            // openidconnect cannot read such a token answer at all: nonsense from the IdP.
            502,
        ),
        (
            "alg none",
            "",
            Box::new(|i, n| {
                tokens(
                    i,
                    format!(
                        "{}.{}.",
                        b64(&json!({"alg": "none"})),
                        b64(&good_claims(i, n))
                    ),
                )
            }),
            400,
        ),
        (
            "HS256 with the client secret",
            "",
            Box::new(move |i, n| tokens(i, hs(b"secret", &good_claims(i, n)))),
            400,
        ),
        (
            "HS256 with the public key",
            "",
            Box::new(move |i, n| tokens(i, hs(PEM, &good_claims(i, n)))),
            400,
        ),
        (
            "a tampered payload",
            "",
            Box::new(|i, n| {
                let t = i.signed(&good_claims(i, n));
                let parts: Vec<&str> = t.split('.').collect();
                let mut evil = good_claims(i, n);
                evil["sub"] = "mallory".into();
                tokens(i, format!("{}.{}.{}", parts[0], b64(&evil), parts[2]))
            }),
            400,
        ),
        (
            "an unknown key, still unknown after a reload",
            "",
            Box::new(move |i, n| tokens(i, i.id_token_by(&rotated, "alice", json!({"nonce": n})))),
            400,
        ),
        (
            "not a JWT",
            "",
            Box::new(|i, _| tokens(i, "garbage".into())),
            502,
        ),
        (
            "no id_token",
            "",
            Box::new(|i, _| (200, i.tokens("a1", "r1", None))),
            502,
        ),
        (
            "token endpoint 500",
            "",
            Box::new(|_, _| (500, json!({"error": "server_error"}))),
            502,
        ),
        (
            "token endpoint HTML",
            "",
            Box::new(|_, _| (200, json!("RAW:<html>oops</html>"))),
            502,
        ),
        (
            "token endpoint truncated JSON",
            "",
            Box::new(|_, _| (200, json!("RAW:{\"access_token\": \"a"))),
            502,
        ),
        (
            "token endpoint over the cap",
            "",
            Box::new(|_, _| {
                (
                    200,
                    json!({"access_token": "a".repeat(crate::oidc::MAX_ANSWER), "token_type": "Bearer"}),
                )
            }),
            502,
        ),
        (
            "the code refused",
            "",
            Box::new(|_, _| (400, json!({"error": "invalid_grant"}))),
            400,
        ),
        (
            "callback: access_denied",
            "&error=access_denied",
            Box::new(|i, n| tokens(i, with(i, n, |_| {}))),
            403,
        ),
        (
            "callback: another error",
            "&error=server_error",
            Box::new(|i, n| tokens(i, with(i, n, |_| {}))),
            400,
        ),
        (
            "callback: another iss",
            "&iss=https%3A%2F%2Fevil.test",
            Box::new(|i, n| tokens(i, with(i, n, |_| {}))),
            400,
        ),
        (
            "callback: no iss although promised",
            "NO-ISS",
            Box::new(|i, n| tokens(i, with(i, n, |_| {}))),
            400,
        ),
        (
            "callback: an altered state",
            "ALTER-STATE",
            Box::new(|i, n| tokens(i, with(i, n, |_| {}))),
            400,
        ),
        (
            "callback: no state",
            "NO-STATE",
            Box::new(|i, n| tokens(i, with(i, n, |_| {}))),
            400,
        ),
        (
            "callback: no code",
            "NO-CODE",
            Box::new(|i, n| tokens(i, with(i, n, |_| {}))),
            400,
        ),
    ];
    assert!(cases.len() >= 25);
    let iss: String = url::form_urlencoded::byte_serialize(issuer.as_bytes()).collect();
    let mut mismatches = Vec::new();
    for (case, extra, answer, want) in cases {
        let (_, login) = provider.begin("https://auth.example.test/".into());
        let set =
            crate::cookies::login_set(&app.config.cookie, app.keys.jar(), &login.state, &login)
                .unwrap();
        let cookie = set.split(';').next().unwrap().to_owned();
        let (status, body) = answer(&idp, &login.nonce);
        idp.reset();
        idp.answer(status, body);
        let state = match extra {
            "ALTER-STATE" => format!("{}x", login.state),
            "NO-STATE" => String::new(),
            _ => login.state.clone(),
        };
        let mut path = format!("/callback?state={state}");
        if extra != "NO-CODE" {
            path.push_str("&code=c");
        }
        if extra != "NO-ISS" && !extra.starts_with("&iss") {
            path.push_str(&format!("&iss={iss}"));
        }
        if extra.starts_with('&') {
            path.push_str(extra);
        }
        let r = warp::test::request()
            .path(&path)
            .header("cookie", cookie)
            .reply(&routes)
            .await;
        if r.status().as_u16() != want {
            mismatches.push(format!("{case}: {} (want {want})", r.status()));
        }
        let issued = r.headers().get_all("set-cookie").iter().any(|v| {
            v.to_str().unwrap().starts_with("_sidegate=")
                && !v.to_str().unwrap().starts_with("_sidegate=;")
        });
        assert!(!issued, "{case}: a session cookie was issued");
        assert!(
            app.sessions
                .ids_of_subject("alice")
                .await
                .unwrap()
                .is_empty(),
            "{case}: a session exists"
        );
        assert!(
            app.sessions
                .ids_of_subject("mallory")
                .await
                .unwrap()
                .is_empty(),
            "{case}"
        );
    }
    assert!(mismatches.is_empty(), "{mismatches:#?}");
    // The positive control: the same harness signs a good login in.
    idp.reset();
    let (_, login) = provider.begin("https://auth.example.test/".into());
    let set = crate::cookies::login_set(&app.config.cookie, app.keys.jar(), &login.state, &login)
        .unwrap();
    let cookie = set.split(';').next().unwrap().to_owned();
    let (status, body) = tokens(&idp, with(&idp, &login.nonce, |_| {}));
    idp.answer(status, body);
    let path = format!("/callback?state={}&code=c&iss={iss}", login.state);
    let r = warp::test::request()
        .path(&path)
        .header("cookie", cookie)
        .reply(&routes)
        .await;
    assert_eq!(r.status(), 302, "{:?}", r.body());
    assert_eq!(app.sessions.ids_of_subject("alice").await.unwrap().len(), 1);
}
