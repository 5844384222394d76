//! The OpenID Connect code against an in-process stand-in OpenID Provider: discovery,
//! the authorization URL, the code exchange, ID-token checks and refresh. (The real
//! `oidc-provider` is used by the integration tests.)

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use jsonwebtoken::Algorithm;
use serde_json::{json, Value};
use warp::Filter;

use super::*;
use crate::clock::FixedClock;
use crate::secret::Secret;
use crate::token::Signer;

const PEM: &[u8] = include_bytes!("../token/rs256.pem");
pub(crate) const NOW: u64 = 1_900_000_000;

/// What the stand-in's token endpoint answers next, and what it was sent.
#[derive(Default)]
pub(crate) struct Script {
    answers: VecDeque<(u16, Value)>,
    /// The form bodies the token endpoint received.
    pub requests: Vec<String>,
    /// What the JWKS endpoint serves instead of the published key (key rotation).
    pub jwks: Option<Value>,
    /// What the userinfo endpoint answers next (default `{"sub": "alice"}`).
    pub userinfo: VecDeque<(u16, Value)>,
    /// How long the token endpoint waits before it answers (a hanging IdP).
    pub delay: Option<std::time::Duration>,
}

/// A status and a JSON body, or a raw body after `RAW:` (an HTML page, truncated JSON).
fn scripted(status: u16, answer: &Value) -> warp::reply::Response {
    use warp::Reply;
    let status = warp::http::StatusCode::from_u16(status).unwrap();
    match answer.as_str().and_then(|a| a.strip_prefix("RAW:")) {
        Some(raw) => warp::reply::with_status(
            warp::reply::with_header(raw.to_owned(), "content-type", "application/json"),
            status,
        )
        .into_response(),
        None => warp::reply::with_status(warp::reply::json(answer), status).into_response(),
    }
}

/// A minimal OpenID Provider on loopback: discovery, JWKS and a scripted token endpoint.
pub(crate) struct StandIn {
    pub issuer: String,
    pub script: Arc<Mutex<Script>>,
    signer: Signer,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl StandIn {
    pub(crate) async fn start() -> StandIn {
        Self::start_with(|_| {}).await
    }

    /// A stand-in whose discovery document is changed by `edit` first (a userinfo endpoint
    /// is served at `/userinfo` when the document names it).
    pub(crate) async fn start_with(edit: impl FnOnce(&mut Value)) -> StandIn {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let signer = Signer::from_pem(Algorithm::RS256, PEM, "idp-key".into()).unwrap();
        let jwks = json!({"keys": [signer.public_jwk().unwrap()]});
        let mut metadata = json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/auth"),
            "token_endpoint": format!("{issuer}/token"),
            "jwks_uri": format!("{issuer}/jwks"),
            "end_session_endpoint": format!("{issuer}/session/end"),
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "authorization_response_iss_parameter_supported": true,
        });
        edit(&mut metadata);
        let script = Arc::new(Mutex::new(Script::default()));
        let discovery = warp::path!(".well-known" / "openid-configuration")
            .map(move || scripted(200, &metadata));
        let s = script.clone();
        let keys = warp::path!("jwks").map(move || {
            let served = s.lock().unwrap().jwks.clone();
            scripted(200, served.as_ref().unwrap_or(&jwks))
        });
        let s = script.clone();
        let userinfo = warp::path!("userinfo").map(move || {
            let (status, answer) = s
                .lock()
                .unwrap()
                .userinfo
                .pop_front()
                .unwrap_or((200, json!({"sub": "alice"})));
            scripted(status, &answer)
        });
        let s = script.clone();
        let token =
            warp::path!("token")
                .and(warp::body::bytes())
                .then(move |body: bytes::Bytes| {
                    let (delay, status, answer) = {
                        let mut s = s.lock().unwrap();
                        s.requests.push(String::from_utf8_lossy(&body).into_owned());
                        let (status, answer) = s
                            .answers
                            .pop_front()
                            .unwrap_or((500, json!({"error": "server_error"})));
                        (s.delay, status, answer)
                    };
                    async move {
                        if let Some(d) = delay {
                            tokio::time::sleep(d).await;
                        }
                        scripted(status, &answer)
                    }
                });
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            warp::serve(discovery.or(keys).or(userinfo).or(token))
                .incoming(listener)
                .graceful(async move {
                    let _ = rx.await;
                })
                .run()
                .await;
        });
        StandIn {
            issuer,
            script,
            signer,
            _shutdown: tx,
        }
    }

    pub(crate) fn settings(&self) -> IdpSettings {
        IdpSettings {
            issuer_url: self.issuer.clone(),
            client_id: "sidegate".into(),
            client_secret: Secret::new("secret".into()),
            redirect_uri: "https://auth.example.test/callback".into(),
            scopes: vec!["openid".into(), "email".into(), "groups".into()],
        }
    }

    /// An ID token for `sub` signed with the published key, with `extra` claims.
    pub(crate) fn id_token(&self, sub: &str, extra: Value) -> String {
        self.id_token_by(&self.signer, sub, extra)
    }

    /// A JWT of exactly `claims`, signed with the published key.
    pub(crate) fn signed(&self, claims: &Value) -> String {
        self.signer.mint(claims.as_object().unwrap()).unwrap()
    }

    pub(crate) fn id_token_by(&self, signer: &Signer, sub: &str, extra: Value) -> String {
        let mut claims = json!({
            "iss": self.issuer, "aud": "sidegate", "sub": sub,
            "iat": NOW, "exp": NOW + 300,
        });
        for (k, v) in extra.as_object().unwrap() {
            claims[k] = v.clone();
        }
        signer.mint(claims.as_object().unwrap()).unwrap()
    }

    /// The token endpoint's next answer.
    pub(crate) fn answer(&self, status: u16, body: Value) {
        self.script
            .lock()
            .unwrap()
            .answers
            .push_back((status, body));
    }

    /// A successful token answer.
    pub(crate) fn tokens(&self, access: &str, refresh: &str, id_token: Option<String>) -> Value {
        let mut v = json!({"access_token": access, "token_type": "Bearer", "expires_in": 300,
            "refresh_token": refresh});
        if let Some(t) = id_token {
            v["id_token"] = t.into();
        }
        v
    }

    /// The userinfo endpoint's next answer.
    pub(crate) fn userinfo(&self, status: u16, body: Value) {
        self.script
            .lock()
            .unwrap()
            .userinfo
            .push_back((status, body));
    }

    /// Serves `jwks` from now on instead of the published key (`None`: the published key).
    pub(crate) fn serve_jwks(&self, jwks: Option<Value>) {
        self.script.lock().unwrap().jwks = jwks;
    }

    /// The published key's public JWK.
    pub(crate) fn public_jwk(&self) -> Value {
        serde_json::to_value(self.signer.public_jwk().unwrap()).unwrap()
    }

    /// Makes the token endpoint wait this long before each answer.
    pub(crate) fn delay(&self, d: std::time::Duration) {
        self.script.lock().unwrap().delay = Some(d);
    }

    /// Forgets answers not yet given (token endpoint and userinfo).
    pub(crate) fn reset(&self) {
        let mut s = self.script.lock().unwrap();
        s.answers.clear();
        s.userinfo.clear();
    }

    pub(crate) fn requests(&self) -> Vec<String> {
        self.script.lock().unwrap().requests.clone()
    }
}

fn clock() -> Arc<dyn crate::clock::Clock> {
    Arc::new(FixedClock::new(NOW))
}

async fn provider(idp: &StandIn) -> Provider {
    Provider::discover(&idp.settings(), http_client().unwrap())
        .await
        .unwrap()
}

#[tokio::test]
async fn discovery_loads_the_keys_and_refuses_another_issuer_spelling() {
    let idp = StandIn::start().await;
    let p = provider(&idp).await;
    assert_eq!(p.jwks().keys.len(), 1);
    assert!(p.has_end_session());
    assert!(p.sends_iss(), "RFC 9207 flag read from discovery");
    let mut slash = idp.settings();
    slash.issuer_url.push('/');
    let e = Provider::discover(&slash, http_client().unwrap())
        .await
        .err()
        .expect("an issuer with a trailing slash the IdP does not state is refused");
    assert!(matches!(e, IdpError::Misconfigured(_)), "{e:?}");
}

#[tokio::test]
async fn the_login_url_carries_pkce_s256_state_nonce_and_scopes() {
    let idp = StandIn::start().await;
    let p = provider(&idp).await;
    let (url, login) = p.begin("https://app.example.test/x".into());
    let q: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["state"], login.state);
    assert_eq!(q["nonce"], login.nonce);
    assert_eq!(q["redirect_uri"], "https://auth.example.test/callback");
    assert_eq!(q["scope"], "openid email groups");
    assert!(!q.contains_key("code_verifier"));
    assert_eq!(login.return_to, "https://app.example.test/x");
    let (_, again) = p.begin(String::new());
    assert!(
        again.state != login.state
            && again.nonce != login.nonce
            && again.verifier != login.verifier
    );
}

#[tokio::test]
async fn a_login_is_verified_and_a_wrong_nonce_or_an_unknown_key_refused() {
    let idp = StandIn::start().await;
    let p = provider(&idp).await;
    let (_, login) = p.begin("https://app.example.test/".into());
    let good = idp.id_token(
        "alice",
        json!({"nonce": login.nonce, "sid": "s1", "groups": ["g"]}),
    );
    idp.answer(200, idp.tokens("a1", "r1", Some(good)));
    let tokens = p.exchange("code-1".into(), &login).await.unwrap();
    let who = p.identity(&tokens, &login, clock()).await.unwrap();
    assert_eq!(
        (who.sub.as_str(), who.sid.as_deref()),
        ("alice", Some("s1"))
    );
    assert_eq!(who.claims["groups"], json!(["g"]));
    assert_eq!(
        (who.access_token.as_str(), who.refresh_token.as_deref()),
        ("a1", Some("r1"))
    );
    let sent = &idp.requests()[0];
    assert!(
        sent.contains("grant_type=authorization_code") && sent.contains("code=code-1"),
        "{sent}"
    );
    assert!(
        sent.contains(&format!("code_verifier={}", login.verifier)),
        "{sent}"
    );

    let wrong_nonce = idp.id_token("alice", json!({"nonce": "another"}));
    idp.answer(200, idp.tokens("a1", "r1", Some(wrong_nonce)));
    let tokens = p.exchange("code-2".into(), &login).await.unwrap();
    let e = p.identity(&tokens, &login, clock()).await.unwrap_err();
    assert!(matches!(e, IdpError::IdToken(_)), "{e:?}");

    let rotated = Signer::from_pem(Algorithm::RS256, PEM, "rotated-key".into()).unwrap();
    let unknown = idp.id_token_by(&rotated, "alice", json!({"nonce": login.nonce}));
    idp.answer(200, idp.tokens("a1", "r1", Some(unknown)));
    let tokens = p.exchange("code-3".into(), &login).await.unwrap();
    let e = p.identity(&tokens, &login, clock()).await.unwrap_err();
    assert!(matches!(e, IdpError::UnknownKey), "{e:?}");

    // What openidconnect leaves to us: azp naming another client, iat or nbf in the future.
    for extra in [
        json!({"azp": "another-client"}),
        json!({"iat": NOW + 86_400}),
        json!({"nbf": NOW + 86_400}),
    ] {
        let mut claims = extra.clone();
        claims["nonce"] = login.nonce.clone().into();
        let token = idp.id_token("alice", claims);
        idp.answer(200, idp.tokens("a1", "r1", Some(token)));
        let tokens = p.exchange("code-4".into(), &login).await.unwrap();
        let e = p.identity(&tokens, &login, clock()).await.unwrap_err();
        assert!(matches!(e, IdpError::IdToken(_)), "{extra}: {e:?}");
    }
    let mut ours = json!({"azp": "sidegate", "nonce": login.nonce});
    ours["iat"] = (NOW + 30).into();
    idp.answer(
        200,
        idp.tokens("a1", "r1", Some(idp.id_token("alice", ours))),
    );
    let tokens = p.exchange("code-5".into(), &login).await.unwrap();
    assert!(
        p.identity(&tokens, &login, clock()).await.is_ok(),
        "our azp, iat within the leeway"
    );

    idp.answer(400, json!({"error": "invalid_grant"}));
    let e = p.exchange("used".into(), &login).await.unwrap_err();
    assert!(
        matches!(e, IdpError::CodeRefused(ref c) if c == "invalid_grant"),
        "{e:?}"
    );
}

#[tokio::test]
async fn refresh_verifies_the_subject_and_names_a_refused_grant() {
    let idp = StandIn::start().await;
    let p = provider(&idp).await;
    idp.answer(
        200,
        idp.tokens(
            "a2",
            "r2",
            Some(idp.id_token("alice", json!({"email": "a@x.test"}))),
        ),
    );
    let r = p.refresh("r1", "alice", clock()).await.unwrap();
    assert_eq!(
        (r.access_token.as_str(), r.refresh_token.as_deref()),
        ("a2", Some("r2"))
    );
    assert_eq!(r.claims["email"], "a@x.test");
    assert!(idp.requests()[0].contains("grant_type=refresh_token"));

    idp.answer(
        200,
        idp.tokens("a3", "r3", Some(idp.id_token("mallory", json!({})))),
    );
    let e = p.refresh("r2", "alice", clock()).await.unwrap_err();
    assert!(matches!(e, IdpError::IdToken(_)), "{e:?}");

    idp.answer(400, json!({"error": "invalid_grant"}));
    let e = p.refresh("r2", "alice", clock()).await.unwrap_err();
    assert!(matches!(e, IdpError::RefreshRefused(_)), "{e:?}");
    idp.answer(503, json!({}));
    let e = p.refresh("r2", "alice", clock()).await.unwrap_err();
    assert!(
        !matches!(e, IdpError::RefreshRefused(_)),
        "a server error is not a refusal: {e:?}"
    ); // An IdP that says `server_error` is failing, not refusing: the session must survive.
    idp.answer(500, json!({"error": "server_error"}));
    let e = p.refresh("r2", "alice", clock()).await.unwrap_err();
    assert!(!matches!(e, IdpError::RefreshRefused(_)), "{e:?}");
}

#[tokio::test]
async fn an_idp_answer_over_the_cap_is_refused_not_buffered() {
    let idp = StandIn::start().await;
    let p = provider(&idp).await;
    let (_, login) = p.begin(String::new());
    let huge = "a".repeat(MAX_ANSWER + 1);
    idp.answer(200, json!({"access_token": huge, "token_type": "Bearer"}));
    let e = p.exchange("code".into(), &login).await.unwrap_err();
    assert!(
        matches!(e, IdpError::Token(ref m) if m.contains("larger than")),
        "{e:?}"
    );
    idp.answer(
        200,
        json!({"access_token": "a".repeat(MAX_ANSWER / 2), "token_type": "Bearer"}),
    );
    assert!(
        p.exchange("code".into(), &login).await.is_ok(),
        "half the cap is fine"
    );
}

#[tokio::test]
async fn a_failed_discovery_says_what_to_do() {
    // The IdP states its issuer with a trailing slash; the configuration has none.
    let idp = StandIn::start_with(|m| {
        m["issuer"] = format!("{}/", m["issuer"].as_str().unwrap()).into();
    })
    .await;
    let e = Provider::discover(&idp.settings(), http_client().unwrap())
        .await
        .err()
        .unwrap();
    let want = format!(
        "issuer mismatch: the IdP says `{}/`; set SIDEGATE_ISSUER_URL to exactly that",
        idp.issuer
    );
    assert!(e.to_string().contains(&want), "{e}");
    assert!(e.to_string().starts_with("misconfigured: "), "{e}");

    // A path that is not the issuer (the discovery URL itself pasted in).
    let mut pasted = idp.settings();
    pasted.issuer_url = format!("{}/.well-known/openid-configuration", idp.issuer);
    let e = Provider::discover(&pasted, http_client().unwrap())
        .await
        .err()
        .unwrap();
    assert!(
        e.to_string().contains("the IdP answered 404")
            && e.to_string().contains("without /.well-known/"),
        "{e}"
    );

    // Nothing listens there.
    let mut down = idp.settings();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    down.issuer_url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let e = Provider::discover(&down, http_client().unwrap())
        .await
        .err()
        .unwrap();
    assert!(
        matches!(&e, IdpError::Discovery(_))
            && e.to_string().starts_with("the IdP is unreachable: ")
            && e.to_string().contains("the IdP cannot be reached at"),
        "{e}"
    );
}
