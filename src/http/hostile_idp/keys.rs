//! Signing keys that change under sidegate (rotation, a retired key, keys without `kid`),
//! discovery documents that are wrong, and an IdP that never answers.

use std::time::{Duration, Instant};

use serde_json::json;

use super::*;
use crate::oidc::{IdpError, Provider};

const ES256: &[u8] = include_bytes!("../../token/es256.pem");

/// An IdP that signs with RS256 (`idp-key`) and may rotate to ES256 (`rotated`).
async fn rotating_idp() -> (StandIn, Signer) {
    let idp = StandIn::start_with(|m| {
        m["id_token_signing_alg_values_supported"] = json!(["RS256", "ES256"]);
    })
    .await;
    let next = Signer::from_pem(jsonwebtoken::Algorithm::ES256, ES256, "rotated".into()).unwrap();
    (idp, next)
}

fn jwk(signer: &Signer) -> Value {
    serde_json::to_value(signer.public_jwk().unwrap()).unwrap()
}

fn without_kid(mut key: Value) -> Value {
    key.as_object_mut().unwrap().remove("kid");
    key
}

/// An ID token for alice with the login's nonce, signed by `signer` (no `kid` when `kid` is
/// false).
fn by(idp: &StandIn, signer: &Signer, nonce: &str, kid: bool) -> String {
    let token = idp.id_token_by(signer, "alice", json!({"nonce": nonce}));
    if kid {
        return token;
    }
    // The same claims, re-signed with a header that names no key.
    let claims: Value = {
        let payload = token.split('.').nth(1).unwrap();
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    };
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(PEM).unwrap();
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        &claims,
        &key,
    )
    .unwrap()
}

#[tokio::test]
async fn a_rotated_key_is_picked_up_and_the_retired_one_refused() {
    let (idp, next) = rotating_idp().await;
    let rp = rp(&idp).await;
    assert_eq!(rp.provider.jwks().keys.len(), 1);
    // The IdP rotates: the new key only. A token signed with it makes sidegate reload.
    idp.serve_jwks(Some(json!({"keys": [jwk(&next)]})));
    let signer = next.clone();
    let rotated: Answer = Box::new(move |i, n| tokens(i, by(i, &signer, n, true)));
    assert_eq!(callback(&rp, &idp, "", &rotated).await, (302, true));
    let current = rp.app.idp.current().unwrap();
    assert_eq!(current.jwks().keys.len(), 1, "the reloaded keys");
    // A token signed with the retired key is refused, and leaves no new session.
    let before = rp.app.sessions.ids_of_subject("alice").await.unwrap().len();
    let retired: Answer = Box::new(|i, n| tokens(i, with(i, n, |_| {})));
    let (status, _) = callback(&rp, &idp, "", &retired).await;
    assert_eq!(status, 400, "the retired key");
    let after = rp.app.sessions.ids_of_subject("alice").await.unwrap().len();
    assert_eq!(after, before);
}

#[tokio::test]
async fn keys_without_kid_are_used_only_when_unambiguous() {
    // One key, published without `kid`, and a token that names none: that key.
    let idp = StandIn::start().await;
    idp.serve_jwks(Some(json!({"keys": [without_kid(idp.public_jwk())]})));
    let rp1 = rp(&idp).await;
    let signer = Signer::from_pem(jsonwebtoken::Algorithm::RS256, PEM, "idp-key".into()).unwrap();
    let s = signer.clone();
    let no_kid: Answer = Box::new(move |i, n| tokens(i, by(i, &s, n, false)));
    assert_eq!(callback(&rp1, &idp, "", &no_kid).await, (302, true));

    // Two RSA keys without `kid`, a token without one: which key is meant cannot be told.
    let idp = StandIn::start().await;
    let other = without_kid(idp.public_jwk());
    let mut second = other.clone();
    second["n"] = json!(format!("{}AQAB", &other["n"].as_str().unwrap()[4..]));
    idp.serve_jwks(Some(json!({"keys": [other, second]})));
    let rp2 = rp(&idp).await;
    let s = signer.clone();
    let no_kid: Answer = Box::new(move |i, n| tokens(i, by(i, &s, n, false)));
    assert_eq!(callback(&rp2, &idp, "", &no_kid).await, (400, false));

    // The key named by `kid` is published for encryption only.
    let idp = StandIn::start().await;
    let mut enc = idp.public_jwk();
    enc["use"] = json!("enc");
    idp.serve_jwks(Some(json!({"keys": [enc]})));
    let rp3 = rp(&idp).await;
    let good: Answer = Box::new(|i, n| tokens(i, with(i, n, |_| {})));
    assert_eq!(callback(&rp3, &idp, "", &good).await, (400, false));
}

#[tokio::test]
async fn wrong_discovery_documents_are_refused() {
    type Edit = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Edit, Option<Value>)> = vec![
        (
            "another issuer",
            Box::new(|m| m["issuer"] = "https://evil.test".into()),
            None,
        ),
        (
            "no jwks_uri",
            Box::new(|m| {
                m.as_object_mut().unwrap().remove("jwks_uri");
            }),
            None,
        ),
        (
            "jwks_uri answers 404",
            Box::new(|m| {
                m["jwks_uri"] = format!("{}/nowhere", m["issuer"].as_str().unwrap()).into()
            }),
            None,
        ),
        (
            "JWKS not JSON",
            Box::new(|_| {}),
            Some(json!("RAW:<html>oops</html>")),
        ),
        (
            "JWKS over the cap",
            Box::new(|_| {}),
            Some(json!({"keys": [], "pad": "a".repeat(crate::oidc::MAX_ANSWER)})),
        ),
        (
            "no authorization_endpoint",
            Box::new(|m| {
                m.as_object_mut().unwrap().remove("authorization_endpoint");
            }),
            None,
        ),
    ];
    let mut accepted = Vec::new();
    for (case, edit, jwks) in cases {
        let idp = StandIn::start_with(|m| edit(m)).await;
        idp.serve_jwks(jwks);
        match Provider::discover(&idp.settings(), crate::oidc::http_client().unwrap()).await {
            Err(IdpError::Discovery(_) | IdpError::Misconfigured(_)) => {}
            other => accepted.push(format!("{case}: {:?}", other.err())),
        }
    }
    assert!(accepted.is_empty(), "{accepted:#?}");
}

#[tokio::test]
async fn a_hanging_token_endpoint_fails_closed_within_the_time_limit() {
    let idp = StandIn::start().await;
    let rp = rp(&idp).await;
    idp.delay(Duration::from_secs(60));
    let good: Answer = Box::new(|i, n| tokens(i, with(i, n, |_| {})));
    let started = Instant::now();
    let (status, session) = callback(&rp, &idp, "", &good).await;
    let waited = started.elapsed();
    assert_eq!((status, session), (502, false));
    assert!(
        waited >= Duration::from_secs(9) && waited < Duration::from_secs(15),
        "{waited:?}"
    );
}
