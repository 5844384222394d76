//! An IdP with a userinfo endpoint that lies or breaks, ID tokens missing required claims
//! or signed with another algorithm, and callbacks that do not belong to the login.

use serde_json::json;

use super::*;

/// An ID token of `claims` signed with the IdP's own RSA key and `kid`, with `alg`.
fn signed_as(alg: jsonwebtoken::Algorithm, claims: &Value) -> String {
    let mut header = jsonwebtoken::Header::new(alg);
    header.kid = Some("idp-key".into());
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(PEM).unwrap();
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

fn without(idp: &StandIn, nonce: &str, claim: &'static str) -> String {
    with(idp, nonce, |c| {
        c.as_object_mut().unwrap().remove(claim);
    })
}

#[tokio::test]
async fn a_lying_userinfo_missing_claims_and_foreign_callbacks_are_refused() {
    let idp = StandIn::start_with(with_userinfo).await;
    let rp = rp(&idp).await;
    let good = |i: &StandIn, n: &str| tokens(i, with(i, n, |_| {}));
    let cases: Vec<Case> = vec![
        (
            "userinfo about another sub",
            "",
            Box::new(move |i, n| {
                i.userinfo(200, json!({"sub": "mallory", "email": "m@evil.test"}));
                good(i, n)
            }),
            502,
        ),
        (
            "userinfo without sub",
            "",
            Box::new(move |i, n| {
                i.userinfo(200, json!({"email": "alice@example.test"}));
                good(i, n)
            }),
            502,
        ),
        (
            "userinfo 500",
            "",
            Box::new(move |i, n| {
                i.userinfo(500, json!({"error": "server_error"}));
                good(i, n)
            }),
            502,
        ),
        (
            "userinfo 401 (the access token refused)",
            "",
            Box::new(move |i, n| {
                i.userinfo(401, json!({"error": "invalid_token"}));
                good(i, n)
            }),
            502,
        ),
        (
            "userinfo HTML",
            "",
            Box::new(move |i, n| {
                i.userinfo(200, json!("RAW:<html>login</html>"));
                good(i, n)
            }),
            502,
        ),
        (
            "userinfo over the cap",
            "",
            Box::new(move |i, n| {
                let huge = "a".repeat(crate::oidc::MAX_ANSWER);
                i.userinfo(200, json!({"sub": "alice", "name": huge}));
                good(i, n)
            }),
            502,
        ),
        (
            "no exp",
            "",
            Box::new(|i, n| tokens(i, without(i, n, "exp"))),
            502,
        ),
        (
            "no iat",
            "",
            Box::new(|i, n| tokens(i, without(i, n, "iat"))),
            502,
        ),
        (
            "no aud",
            "",
            // Read as no audience at all, so the audience check refuses it.
            Box::new(|i, n| tokens(i, without(i, n, "aud"))),
            400,
        ),
        (
            "no iss",
            "",
            Box::new(|i, n| tokens(i, without(i, n, "iss"))),
            502,
        ),
        (
            "iss with a trailing slash",
            "",
            Box::new(|i, n| {
                let iss = format!("{}/", i.issuer);
                tokens(i, with(i, n, |c| c["iss"] = iss.clone().into()))
            }),
            400,
        ),
        (
            "aud an array of another client only",
            "",
            Box::new(|i, n| tokens(i, with(i, n, |c| c["aud"] = json!(["other"])))),
            400,
        ),
        (
            "RS384, not advertised, with the right key",
            "",
            Box::new(|i, n| {
                tokens(
                    i,
                    signed_as(jsonwebtoken::Algorithm::RS384, &good_claims(i, n)),
                )
            }),
            400,
        ),
        (
            "the signature of another token",
            "",
            Box::new(|i, n| {
                let a = i.signed(&good_claims(i, n));
                let mut other = good_claims(i, n);
                other["exp"] = (NOW + 200).into();
                let b = i.signed(&other);
                let (head, _) = a.rsplit_once('.').unwrap();
                let (_, sig) = b.rsplit_once('.').unwrap();
                tokens(i, format!("{head}.{sig}"))
            }),
            400,
        ),
        (
            "callback without the login cookie",
            "NO-COOKIE",
            Box::new(move |i, n| good(i, n)),
            400,
        ),
        (
            "callback with the state of another login",
            "OTHER-LOGIN",
            Box::new(move |i, n| good(i, n)),
            400,
        ),
    ];
    refuse_all(&rp, &idp, cases).await;
    accepts_a_good_login(&rp, &idp).await;
}
