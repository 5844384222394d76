use super::*;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

const NOW: u64 = 1_900_000_000;
const PEM: &[u8] = include_bytes!("../token/rs256.pem");

fn jwks() -> JwkSet {
    let signer = crate::token::Signer::from_pem(Algorithm::RS256, PEM, "idp-key".into()).unwrap();
    JwkSet {
        keys: vec![signer.public_jwk().unwrap().clone()],
    }
}

fn claims() -> Value {
    json!({
        "iss": "https://idp.test", "aud": "sidegate", "iat": NOW, "exp": 4_000_000_000u64,
        "jti": "j1", "sid": "s1", "sub": "alice",
        "events": {"http://schemas.openid.net/event/backchannel-logout": {}}
    })
}

fn sign(claims: &Value, alg: Algorithm, typ: &str, kid: Option<&str>, key: &EncodingKey) -> String {
    let mut h = Header::new(alg);
    h.typ = Some(typ.into());
    h.kid = kid.map(Into::into);
    jsonwebtoken::encode(&h, claims, key).unwrap()
}

fn rsa() -> EncodingKey {
    EncodingKey::from_rsa_pem(PEM).unwrap()
}

fn with(f: impl FnOnce(&mut Map<String, Value>)) -> Value {
    let mut c = claims();
    f(c.as_object_mut().unwrap());
    c
}

#[test]
fn a_valid_token_names_sid_sub_and_jti() {
    let t = sign(
        &claims(),
        Algorithm::RS256,
        "logout+jwt",
        Some("idp-key"),
        &rsa(),
    );
    let got = verify(&t, &jwks(), "https://idp.test", "sidegate", NOW + 10).unwrap();
    assert_eq!(
        got,
        LogoutRequest {
            sid: Some("s1".into()),
            sub: Some("alice".into()),
            jti: "j1".into()
        }
    );
    let only_sub = sign(
        &with(|c| {
            c.remove("sid");
        }),
        Algorithm::RS256,
        "logout+jwt",
        Some("idp-key"),
        &rsa(),
    );
    assert_eq!(
        verify(&only_sub, &jwks(), "https://idp.test", "sidegate", NOW)
            .unwrap()
            .sid,
        None
    );
}

#[test]
fn hostile_tokens_are_refused() {
    let hs_with_public_key = {
        // HS256 "signed" with the bytes of the published key: the classic confusion attack.
        let public = serde_json::to_vec(&jwks().keys[0]).unwrap();
        sign(
            &claims(),
            Algorithm::HS256,
            "logout+jwt",
            Some("idp-key"),
            &EncodingKey::from_secret(&public),
        )
    };
    let good = |c: Value| sign(&c, Algorithm::RS256, "logout+jwt", Some("idp-key"), &rsa());
    let cases: Vec<(String, &str)> = vec![
        (
            good(with(|c| {
                c.insert("iss".into(), json!("https://evil.test"));
            })),
            "another issuer",
        ),
        (
            good(with(|c| {
                c.insert("aud".into(), json!("other-client"));
            })),
            "another client",
        ),
        (
            good(with(|c| {
                c.insert("exp".into(), json!(1000));
            })),
            "expired",
        ),
        (
            good(with(|c| {
                c.insert("iat".into(), json!(NOW - 3600));
            })),
            "not fresh",
        ),
        (
            good(with(|c| {
                c.remove("events");
            })),
            "no back-channel logout event",
        ),
        (
            good(with(|c| {
                c.insert("events".into(), json!({"other": {}}));
            })),
            "no back-channel logout event",
        ),
        (
            good(with(|c| {
                c.insert("nonce".into(), json!("n"));
            })),
            "nonce",
        ),
        (
            good(with(|c| {
                c.remove("sid");
                c.remove("sub");
            })),
            "neither sid nor sub",
        ),
        (
            good(with(|c| {
                c.remove("jti");
            })),
            "no jti",
        ),
        (
            sign(
                &claims(),
                Algorithm::RS256,
                "logout+jwt",
                Some("unknown"),
                &rsa(),
            ),
            "does not publish",
        ),
        (
            sign(
                &claims(),
                Algorithm::RS256,
                "at+jwt",
                Some("idp-key"),
                &rsa(),
            ),
            "wrong typ",
        ),
        (hs_with_public_key, "algorithm does not match"),
        (
            "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9.".into(),
            "not a signed JWT",
        ),
        ("garbage".into(), "not a signed JWT"),
        ("a".repeat(20_000), "too large"),
    ];
    for (token, want) in cases {
        let err = verify(&token, &jwks(), "https://idp.test", "sidegate", NOW).unwrap_err();
        assert!(err.as_str().contains(want), "{want}: got {err}");
    }
    // A tampered payload breaks the signature.
    let t = good(claims());
    let mut parts: Vec<&str> = t.split('.').collect();
    let forged = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        serde_json::to_vec(&with(|c| {
            c.insert("sub".into(), json!("bob"));
        }))
        .unwrap(),
    );
    parts[1] = &forged;
    let err = verify(
        &parts.join("."),
        &jwks(),
        "https://idp.test",
        "sidegate",
        NOW,
    )
    .unwrap_err();
    assert!(err.as_str().contains("signature"), "{err}");
}
