//! Test keys in this folder were made with `openssl genpkey` for these tests only.

use super::*;
use jsonwebtoken::{DecodingKey, Validation};
use serde_json::json;

fn claims() -> Map<String, Value> {
    json!({"iss": "https://auth.example.test", "sub": "alice", "aud": "app", "iat": 1000, "exp": 4_000_000_000u64})
        .as_object()
        .unwrap()
        .clone()
}

fn verify(token: &str, jwk: &Jwk, alg: Algorithm) -> Map<String, Value> {
    let mut v = Validation::new(alg);
    v.set_audience(&["app"]);
    let key = DecodingKey::from_jwk(jwk).unwrap();
    jsonwebtoken::decode::<Map<String, Value>>(token, &key, &v)
        .unwrap()
        .claims
}

#[test]
fn asymmetric_signers_mint_tokens_their_published_key_verifies() {
    let cases = [
        (Algorithm::RS256, include_bytes!("rs256.pem").as_slice()),
        (Algorithm::ES256, include_bytes!("es256.pem").as_slice()),
        (Algorithm::EdDSA, include_bytes!("eddsa.pem").as_slice()),
    ];
    for (alg, pem) in cases {
        let s = Signer::from_pem(alg, pem, format!("kid-{alg:?}")).unwrap();
        let token = s.mint(&claims()).unwrap();
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(
            (header.alg, header.kid.as_deref()),
            (alg, Some(format!("kid-{alg:?}").as_str()))
        );
        let jwk = s.public_jwk().unwrap();
        assert_eq!(verify(&token, jwk, alg)["sub"], "alice");
        let published: Value = serde_json::from_str(&jwks([&s])).unwrap();
        assert_eq!(published["keys"][0]["kid"], format!("kid-{alg:?}"));
        assert!(
            published["keys"][0].get("d").is_none(),
            "private part published for {alg:?}"
        );
    }
}

#[test]
fn hmac_keys_are_never_published_and_alg_is_pinned() {
    let h = Signer::hmac(b"a shared secret of enough length!!", "h1".into());
    assert!(h.public_jwk().is_none());
    assert_eq!(jwks([&h]), "{\"keys\":[]}");
    let token = h.mint(&claims()).unwrap();
    let mut v = Validation::new(Algorithm::HS256);
    v.set_audience(&["app"]);
    let ok = jsonwebtoken::decode::<Map<String, Value>>(
        &token,
        &DecodingKey::from_secret(b"a shared secret of enough length!!"),
        &v,
    );
    assert!(ok.is_ok());

    // An RS256 token is not accepted by a verifier pinned to HS256, even with the public key bytes.
    let rsa = Signer::from_pem(Algorithm::RS256, include_bytes!("rs256.pem"), "r".into()).unwrap();
    let rs_token = rsa.mint(&claims()).unwrap();
    assert!(jsonwebtoken::decode::<Map<String, Value>>(
        &rs_token,
        &DecodingKey::from_secret(b"x"),
        &v
    )
    .is_err());
}

#[test]
fn bad_keys_are_refused_at_startup() {
    let cases: [(Algorithm, &[u8]); 4] = [
        (Algorithm::RS256, b"not a pem"),
        (Algorithm::RS256, include_bytes!("es256.pem")),
        (Algorithm::ES256, include_bytes!("rs256.pem")),
        (Algorithm::HS256, include_bytes!("rs256.pem")),
    ];
    for (alg, pem) in cases {
        assert!(Signer::from_pem(alg, pem, "k".into()).is_err(), "{alg:?}");
    }
    assert_eq!(algorithm("none"), None);
    assert_eq!(algorithm("RS256"), Some(Algorithm::RS256));
}
