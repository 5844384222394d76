//! Hostile access tokens, each refused for its own reason.

use super::*;
use jsonwebtoken::{EncodingKey, Header};
use serde_json::json;

const PEM: &[u8] = include_bytes!("../token/rs256.pem");

fn jwks() -> JwkSet {
    let signer = crate::token::Signer::from_pem(Algorithm::RS256, PEM, "k1".into()).unwrap();
    JwkSet {
        keys: vec![signer.public_jwk().unwrap().clone()],
    }
}

fn sign(claims: &Value, alg: Algorithm, kid: &str, key: &EncodingKey) -> String {
    let mut h = Header::new(alg);
    h.kid = Some(kid.into());
    jsonwebtoken::encode(&h, claims, key).unwrap()
}

fn good() -> Value {
    json!({"iss": "https://idp.test", "aud": "api", "sub": "ci", "exp": 4_000_000_000u64, "iat": 1, "groups": ["backup"]})
}

fn with(k: &str, v: Value) -> Value {
    let mut c = good();
    c[k] = v;
    c
}

#[test]
fn accepts_a_good_token_and_refuses_each_hostile_one() {
    let rsa = EncodingKey::from_rsa_pem(PEM).unwrap();
    let ok = sign(&good(), Algorithm::RS256, "k1", &rsa);
    assert_eq!(
        decode(&ok, &jwks(), "https://idp.test", "api", &["sub"]).unwrap()["sub"],
        "ci"
    );

    let public = serde_json::to_vec(&jwks().keys[0]).unwrap();
    let mut no_sub = good();
    no_sub.as_object_mut().unwrap().remove("sub");
    let cases: Vec<(String, JwtRefusal)> = vec![
        (
            sign(&with("exp", json!(1000)), Algorithm::RS256, "k1", &rsa),
            JwtRefusal::Expired,
        ),
        (
            sign(
                &with("nbf", json!(4_000_000_000u64)),
                Algorithm::RS256,
                "k1",
                &rsa,
            ),
            JwtRefusal::NotYetValid,
        ),
        (
            sign(
                &with("iss", json!("https://evil.test")),
                Algorithm::RS256,
                "k1",
                &rsa,
            ),
            JwtRefusal::WrongIssuer,
        ),
        (
            sign(
                &with("aud", json!("other-api")),
                Algorithm::RS256,
                "k1",
                &rsa,
            ),
            JwtRefusal::WrongAudience,
        ),
        (
            sign(&good(), Algorithm::RS256, "unknown-kid", &rsa),
            JwtRefusal::UnknownKey,
        ),
        (
            sign(
                &good(),
                Algorithm::HS256,
                "k1",
                &EncodingKey::from_secret(&public),
            ),
            JwtRefusal::AlgorithmMismatch,
        ),
        (
            sign(&no_sub, Algorithm::RS256, "k1", &rsa),
            JwtRefusal::Invalid,
        ),
        (
            "eyJhbGciOiJub25lIiwia2lkIjoiazEifQ.eyJzdWIiOiJjaSJ9.".to_owned(),
            JwtRefusal::Malformed,
        ),
        (ok[..ok.len() - 10].to_owned(), JwtRefusal::BadSignature),
        (ok[..ok.len() / 3].to_owned(), JwtRefusal::Malformed),
        (format!("{ok}{}", "A".repeat(MAX_LEN)), JwtRefusal::TooLarge),
    ];
    for (token, want) in cases {
        assert_eq!(
            decode(&token, &jwks(), "https://idp.test", "api", &["sub", "exp"]).err(),
            Some(want),
            "{want:?}"
        );
        assert!(
            !want.as_str().contains(&token[..token.len().min(12)]),
            "a refusal text must not echo the token"
        );
    }
}
