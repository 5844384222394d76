use super::*;
use crate::claims::ClaimPath;
use crate::gate::principal::Proof;
use crate::policy::PathMatch;
use serde_json::{json, Map};

fn req(method: &str) -> ForwardedRequest {
    ForwardedRequest {
        method: method.into(),
        method_given: true,
        proto: "https".into(),
        host: "app.example.test".into(),
        uri: "/some/path?q=1".into(),
    }
}

fn session(expires_at: u64) -> Principal {
    Principal::new(
        "alice".into(),
        Map::new(),
        Proof::Session {
            ticket_id: "t".into(),
        },
        expires_at,
        None,
    )
}

fn allowed() -> Vec<String> {
    vec!["example.test".into()]
}

#[test]
fn classify_table() {
    let html = Some("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8");
    let h = |mode: Option<&'static str>,
             accept: Option<&'static str>,
             upgrade: Option<&'static str>| ClientHints {
        sec_fetch_mode: mode,
        accept,
        upgrade,
    };
    let cases = [
        (
            "GET",
            h(Some("navigate"), html, None),
            ClientKind::Navigation,
        ),
        (
            "HEAD",
            h(Some("navigate"), None, None),
            ClientKind::Navigation,
        ),
        ("GET", h(Some("cors"), html, None), ClientKind::Other),
        ("GET", h(Some("no-cors"), None, None), ClientKind::Other),
        ("GET", h(Some("websocket"), None, None), ClientKind::Other),
        ("GET", h(None, None, Some("websocket")), ClientKind::Other),
        (
            "GET",
            h(Some("navigate"), html, Some("websocket")),
            ClientKind::Other,
        ),
        ("POST", h(Some("navigate"), html, None), ClientKind::Other),
        ("DELETE", h(None, html, None), ClientKind::Other),
        ("GET", h(None, html, None), ClientKind::Navigation),
        (
            "GET",
            h(None, Some("text/html"), None),
            ClientKind::Navigation,
        ),
        (
            "GET",
            h(None, Some("application/json"), None),
            ClientKind::Other,
        ),
        (
            "GET",
            h(None, Some("application/json, text/html;q=0.5"), None),
            ClientKind::Other,
        ),
        (
            "GET",
            h(None, Some("application/grpc"), None),
            ClientKind::Other,
        ),
        ("GET", h(None, Some("*/*"), None), ClientKind::Other),
        ("GET", h(None, None, None), ClientKind::Other),
        (
            "GET",
            h(None, Some("text/html;q=0"), None),
            ClientKind::Other,
        ),
    ];
    for (method, hints, want) in cases {
        assert_eq!(classify(method, hints), want, "{method} {hints:?}");
    }
}

#[test]
fn decide_table() {
    let now = 1_000;
    let live = session(now + 1);
    let expired = session(now);
    let login = Decision::Login {
        return_to: "https://app.example.test/some/path?q=1".into(),
    };
    let cases = [
        (Some(&live), ClientKind::Navigation, Decision::Allow),
        (Some(&live), ClientKind::Other, Decision::Allow),
        (Some(&expired), ClientKind::Navigation, login.clone()),
        (Some(&expired), ClientKind::Other, Decision::Unauthenticated),
        (None, ClientKind::Navigation, login),
        (None, ClientKind::Other, Decision::Unauthenticated),
    ];
    for (s, client, want) in cases {
        assert_eq!(
            decide(
                &req("GET"),
                s.into(),
                client,
                &allowed(),
                &Rules::default(),
                now
            ),
            want,
            "{s:?} {client:?}"
        );
    }
}

#[test]
fn login_to_a_host_outside_the_allowlist_is_forbidden_not_redirected() {
    let mut r = req("GET");
    r.host = "other.test".into();
    let d = decide(
        &r,
        Presented::Nobody,
        ClientKind::Navigation,
        &allowed(),
        &Rules::default(),
        0,
    );
    assert!(matches!(d, Decision::Forbidden { .. }), "{d:?}");
}

#[test]
fn rules_table() {
    let rules = Rules {
        groups: vec!["admins".into()],
        groups_claim: ClaimPath::parse("groups"),
        bypass: vec![PathMatch::Prefix("/public/".into())],
        logout: vec![PathMatch::Exact("/api/logout".into())],
        methods: Some(vec!["GET".into(), "POST".into()]),
        ..Rules::default()
    };
    let member = |groups| {
        let claims = json!({ "groups": groups }).as_object().unwrap().clone();
        let proof = Proof::Session {
            ticket_id: "t".into(),
        };
        Principal::new("alice".into(), claims, proof, 10, None)
    };
    let admin = member(["admins"]);
    let staff = member(["staff"]);
    let with = |method: &str, uri: &str| ForwardedRequest {
        uri: uri.into(),
        ..req(method)
    };
    let cases = [
        (with("GET", "/x"), Some(&admin), "Allow"),
        (with("GET", "/x"), Some(&staff), "Forbidden"),
        (with("GET", "/public/a.css"), None, "AllowAnonymous"),
        (with("GET", "/public/../x"), None, "Login"),
        (with("DELETE", "/x"), Some(&admin), "Forbidden"),
        (with("DELETE", "/public/a.css"), None, "Forbidden"),
        (with("GET", "/x"), None, "Login"),
        (with("POST", "/x"), None, "Unauthenticated"),
        // The app's own logout endpoint: a navigation goes through /logout (with or
        // without a session); a fetch with a permitted session ends it and goes on.
        (with("GET", "/api/logout"), Some(&admin), "SignOut"),
        (with("GET", "/api/logout"), None, "SignOut"),
        (
            with("POST", "/api/logout"),
            Some(&admin),
            "AllowEndingSession",
        ),
        (with("POST", "/api/logout"), Some(&staff), "Forbidden"),
        (with("POST", "/api/logout"), None, "Unauthenticated"),
        (with("POST", "/api/./logout"), Some(&admin), "Allow"),
        (with("DELETE", "/api/logout"), Some(&admin), "Forbidden"),
    ];
    for (r, s, want) in cases {
        let client = classify(
            &r.method,
            ClientHints {
                sec_fetch_mode: Some("navigate"),
                ..ClientHints::default()
            },
        );
        let got = format!("{:?}", decide(&r, s.into(), client, &allowed(), &rules, 1));
        assert_eq!(
            got.split([' ', '{']).next(),
            Some(want),
            "{} {}: {got}",
            r.method,
            r.uri
        );
    }
}

#[test]
fn a_refused_key_is_refused_first_and_a_session_lacking_the_token_logs_in_again() {
    let rules = Rules {
        bypass: vec![PathMatch::Prefix("/public/".into())],
        ..Rules::default()
    };
    let refused = CredentialRefusal {
        what: Presenter::ApiKey,
        reason: "unknown or revoked API key",
    };
    let public = ForwardedRequest {
        uri: "/public/a.css".into(),
        ..req("GET")
    };
    let got = decide(
        &public,
        Presented::Refused(refused),
        ClientKind::Navigation,
        &allowed(),
        &rules,
        1,
    );
    assert_eq!(got, Decision::CredentialRefused(refused));
    for (client, want) in [
        (
            ClientKind::Navigation,
            Decision::Login {
                return_to: "https://app.example.test/some/path?q=1".into(),
            },
        ),
        (ClientKind::Other, Decision::Unauthenticated),
    ] {
        let got = decide(
            &req("GET"),
            Presented::LacksToken,
            client,
            &allowed(),
            &rules,
            1,
        );
        assert_eq!(got, want, "{client:?}");
    }
}
