//! A hostile or broken OpenID Provider, case by case, against the real /callback: every case
//! is refused with the exact status, and a refused login leaves no session behind. The cases
//! follow the OpenID Foundation's Basic RP and Config RP certification plans: ID-token claims
//! and signatures here, userinfo and missing claims in `claims`, keys (rotation, `kid`),
//! discovery and a hanging IdP in `keys`; the logout-token cases are in `logout::tests`.

mod claims;
mod keys;

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

/// What the token endpoint answers, given the login's nonce (it may script the stand-in's
/// other endpoints too).
type Answer = Box<dyn Fn(&StandIn, &str) -> (u16, Value)>;

/// (case, callback query beyond code and state, token answer, expected status)
type Case = (&'static str, &'static str, Answer, u16);

/// sidegate in-process against `idp`, at a fixed clock.
struct Rp {
    app: Arc<App<MemoryStore>>,
    provider: Arc<crate::oidc::Provider>,
    routes: warp::filters::BoxedFilter<(warp::reply::Response,)>,
}

async fn rp(idp: &StandIn) -> Rp {
    let config = crate::config::test_config(&idp.issuer, &[]);
    let clock = Arc::new(FixedClock::new(NOW));
    let app = App::new(config, MemoryStore::with_clock(clock.clone()), None, clock).unwrap();
    let provider = app.idp.load().await.unwrap();
    let routes = warp::Filter::boxed(warp::Filter::map(routes(app.clone()), |r| {
        warp::Reply::into_response(r)
    }));
    Rp {
        app,
        provider,
        routes,
    }
}

/// A userinfo endpoint in discovery (the stand-in answers `{"sub": "alice"}` unless told).
fn with_userinfo(m: &mut Value) {
    m["userinfo_endpoint"] = format!("{}/userinfo", m["issuer"].as_str().unwrap()).into();
}

/// One login through /callback with the stand-in scripted by `answer`: the status, and
/// whether a session for alice or mallory exists or a session cookie was issued.
async fn callback(rp: &Rp, idp: &StandIn, extra: &str, answer: &Answer) -> (u16, bool) {
    let iss: String = url::form_urlencoded::byte_serialize(idp.issuer.as_bytes()).collect();
    let (_, login) = rp.provider.begin("https://auth.example.test/".into());
    let (_, other) = rp.provider.begin("https://auth.example.test/".into());
    let set = crate::cookies::login_set(
        &rp.app.config.cookie,
        rp.app.keys.jar(),
        &login.state,
        &login,
    )
    .unwrap();
    let cookie = set.split(';').next().unwrap().to_owned();
    idp.reset();
    let (status, body) = answer(idp, &login.nonce);
    idp.answer(status, body);
    let state = match extra {
        "ALTER-STATE" => format!("{}x", login.state),
        "NO-STATE" => String::new(),
        "OTHER-LOGIN" => other.state.clone(),
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
    let mut req = warp::test::request().path(&path);
    if extra != "NO-COOKIE" {
        req = req.header("cookie", cookie);
    }
    let r = req.reply(&rp.routes).await;
    let issued = r.headers().get_all("set-cookie").iter().any(|v| {
        v.to_str().unwrap().starts_with("_sidegate=")
            && !v.to_str().unwrap().starts_with("_sidegate=;")
    });
    let mut session = issued;
    for sub in ["alice", "mallory"] {
        session |= !rp
            .app
            .sessions
            .ids_of_subject(sub)
            .await
            .unwrap()
            .is_empty();
    }
    (r.status().as_u16(), session)
}

/// Runs every case: each must get exactly its status and leave no session.
async fn refuse_all(rp: &Rp, idp: &StandIn, cases: Vec<Case>) {
    let mut mismatches = Vec::new();
    for (case, extra, answer, want) in cases {
        let (status, session) = callback(rp, idp, extra, &answer).await;
        if status != want {
            mismatches.push(format!("{case}: {status} (want {want})"));
        }
        assert!(!session, "{case}: a session exists");
    }
    assert!(mismatches.is_empty(), "{mismatches:#?}");
}

/// The positive control: the same harness signs a good login in.
async fn accepts_a_good_login(rp: &Rp, idp: &StandIn) {
    let good: Answer = Box::new(|i, n| tokens(i, with(i, n, |_| {})));
    let (status, session) = callback(rp, idp, "", &good).await;
    assert_eq!((status, session), (302, true));
}

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
    let rp = rp(&idp).await;
    let rotated = Signer::from_pem(jsonwebtoken::Algorithm::RS256, PEM, "rotated".into()).unwrap();
    let hs = |secret: &[u8], claims: &Value| {
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            claims,
            &jsonwebtoken::EncodingKey::from_secret(secret),
        )
        .unwrap()
    };
    let cases: Vec<Case> = vec![
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
    refuse_all(&rp, &idp, cases).await;
    accepts_a_good_login(&rp, &idp).await;
}
