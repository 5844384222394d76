//! Published advisories of other forward-auth services, each as a regression test named by
//! its id: the same mistake must never pass here.

use serde_json::json;

use crate::claims::ClaimPath;
use crate::forwarded::{self, Family, ForwardedError, ForwardedRequest};
use crate::gate::decide::{decide, Presented};
use crate::gate::{ClientKind, Decision, Principal, Proof};
use crate::policy::{PathMatch, Rules};
use crate::redirect;

fn headers(pairs: &[(&str, &str)]) -> http::HeaderMap {
    pairs
        .iter()
        .map(|(k, v)| {
            (
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                http::HeaderValue::from_str(v).unwrap(),
            )
        })
        .collect()
}

fn trusted() -> Vec<ipnet::IpNet> {
    vec!["127.0.0.0/8".parse().unwrap()]
}

const LOCAL: Option<std::net::IpAddr> = Some(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));

fn bypassing(prefix: &str) -> Rules {
    Rules {
        bypass: vec![PathMatch::Prefix(prefix.into())],
        ..Rules::default()
    }
}

fn request(uri: &str) -> ForwardedRequest {
    ForwardedRequest {
        method: "GET".into(),
        method_given: true,
        proto: "https".into(),
        host: "app.example.test".into(),
        uri: uri.into(),
    }
}

fn allowed() -> Vec<String> {
    vec!["example.test".into()]
}

/// oauth2-proxy GHSA-7rh7-c77v-6434: skip-auth rules matched against the query string.
#[test]
fn ghsa_7rh7_c77v_6434_bypass_rules_never_match_the_query() {
    let rules = bypassing("/public/");
    for uri in [
        "/private?/public/",
        "/private?x=/public/a",
        "/private#/public/",
    ] {
        let d = decide(
            &request(uri),
            Presented::Nobody,
            ClientKind::Other,
            &allowed(),
            &rules,
            0,
        );
        assert_eq!(d, Decision::Unauthenticated, "{uri}");
    }
    let d = decide(
        &request("/public/a?x=1"),
        Presented::Nobody,
        ClientKind::Other,
        &allowed(),
        &rules,
        0,
    );
    assert_eq!(d, Decision::AllowAnonymous);
}

/// oauth2-proxy GHSA-vjrc-mh2v-45x6: headers spelled with underscores smuggled past the proxy.
#[test]
fn ghsa_vjrc_mh2v_45x6_underscored_forwarded_headers_are_refused() {
    for name in ["x_forwarded_uri", "X_Forwarded_Host", "x_original_url"] {
        let h = headers(&[
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "app.example.test"),
            ("x-forwarded-uri", "/private"),
            (name, "/public/"),
        ]);
        assert_eq!(
            forwarded::parse(LOCAL, &h, &trusted(), Family::Forwarded),
            Err(ForwardedError::Underscored),
            "{name}"
        );
    }
}

/// oauth2-proxy GHSA-5hvv-m4w4-gf6v: a health-check User-Agent let requests through.
/// sidegate has no such rule: nothing but a bypass path or a proof lets a request through.
#[test]
fn ghsa_5hvv_m4w4_gf6v_no_user_agent_or_path_trick_lets_a_request_through() {
    let rules = bypassing("/ping");
    for uri in [
        "/",
        "/healthz",
        "/ping/../admin",
        "/%2e%2e/admin",
        "//ping",
        "/ping%2F..%2Fadmin",
    ] {
        let d = decide(
            &request(uri),
            Presented::Nobody,
            ClientKind::Other,
            &allowed(),
            &rules,
            0,
        );
        assert_eq!(d, Decision::Unauthenticated, "{uri}");
    }
}

/// oauth2-proxy GHSA-7x63-xv5r-3p2x: a client-sent `X-Forwarded-Uri` believed. Each endpoint
/// reads one family; the other is ignored (the proxies overwrite their own, tests/it/edges.rs).
#[test]
fn ghsa_7x63_xv5r_3p2x_the_other_familys_uri_is_never_believed() {
    let traefik = headers(&[
        ("x-forwarded-method", "GET"),
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "app.example.test"),
        ("x-forwarded-uri", "/private"),
        ("x-original-url", "https://app.example.test/public/"),
        ("x-original-uri", "/public/"),
    ]);
    let r = forwarded::parse(LOCAL, &traefik, &trusted(), Family::Forwarded).unwrap();
    assert_eq!(r.uri, "/private");
    let nginx = headers(&[
        ("x-original-method", "GET"),
        ("x-original-uri", "/private"),
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "app.example.test"),
        ("x-forwarded-uri", "/public/"),
        ("x-forwarded-method", "POST"),
    ]);
    let r = forwarded::parse(LOCAL, &nginx, &trusted(), Family::Original).unwrap();
    assert_eq!((r.uri.as_str(), r.method.as_str()), ("/private", "GET"));
}

/// oauth2-proxy GHSA-c5c4-8r6x-56w3: an address with several `@` matched a domain rule.
#[test]
fn ghsa_c5c4_8r6x_56w3_an_email_with_two_at_signs_matches_no_domain() {
    let rules = Rules {
        email_domains: vec!["example.test".into()],
        email_claim: ClaimPath::parse("email"),
        ..Rules::default()
    };
    let claims = |email: &str| json!({"email": email}).as_object().unwrap().clone();
    assert!(rules.permits("a", &claims("alice@example.test")).is_ok());
    for email in [
        "mallory@evil.test@example.test",
        "@example.test@",
        "mallory@evil.test",
    ] {
        assert!(rules.permits("m", &claims(email)).is_err(), "{email}");
    }
}

/// Authentik #15686 and Authelia #12169: return URLs and domains compared exactly, case-
/// insensitively, and never by a bare suffix.
#[test]
fn authentik_15686_and_authelia_12169_return_urls_need_a_real_subdomain() {
    for ok in [
        "https://APP.Example.TEST/x",
        "https://example.test/",
        "https://a.b.example.test:8443/",
    ] {
        assert_eq!(redirect::validate(ok, &allowed()), Ok(()), "{ok}");
    }
    for bad in [
        "https://evilexample.test/",
        "https://example.test.evil.test/",
        "https://example.test@evil.test/",
        "https://evil.test/?.example.test",
        "https://evil.test\\.example.test/",
    ] {
        assert!(redirect::validate(bad, &allowed()).is_err(), "{bad}");
    }
}

/// Authelia #12170: a Basic user name is only ever sent in its one plain form, so no
/// spelling of another name (padding, control or invisible characters, full-width or other
/// non-ASCII look-alikes, a `:` that cuts it) can reach the app as someone else's account.
#[test]
fn authelia_12170_a_basic_user_name_goes_out_only_in_canonical_form() {
    use crate::profile::credential::canonical_basic_user;
    for ok in [
        "alice",
        "alice.smith@example.test",
        "Alice Smith",
        "svc-backup_01",
    ] {
        assert!(canonical_basic_user(ok), "{ok}");
    }
    for bad in [
        "",
        " admin",
        "admin ",
        "admin\t",
        "admin\u{0}",
        "admin\r\nX-Evil: 1",
        "admin\u{200b}",
        "\u{ff41}\u{ff44}\u{ff4d}\u{ff49}\u{ff4e}",
        "adm\u{131}n",
        "jos\u{e9}",
        "admin:ignored",
    ] {
        assert!(!canonical_basic_user(bad), "{bad:?}");
    }
}

/// A principal never outlives its proof, whatever the rules.
#[test]
fn an_expired_identity_never_passes() {
    let p = Principal::new(
        "alice".into(),
        serde_json::Map::new(),
        Proof::Bearer,
        10,
        None,
    );
    let d = decide(
        &request("/"),
        Presented::Principal(&p),
        ClientKind::Other,
        &allowed(),
        &Rules::default(),
        10,
    );
    assert_eq!(d, Decision::Unauthenticated);
}

#[test]
fn cve_2026_76835_the_default_trusted_proxies_are_not_everyone() {
    // oauth2-proxy trusted 0.0.0.0/0 by default, so any client's X-Forwarded-Uri chose the
    // skip-auth match. sidegate's default trusts loopback and private networks only, and
    // refuses a configured set that trusts every address.
    let mut problems = Vec::new();
    let default = crate::config::parse_cidrs(crate::config::DEFAULT_TRUSTED_PROXIES, &mut problems);
    assert!(problems.is_empty() && !default.is_empty(), "{problems:?}");
    let spoof = headers(&[
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "app.example.test"),
        ("x-forwarded-uri", "/pub/app.css"),
    ]);
    for peer in ["203.0.113.7", "2001:db8::1", "100.64.0.1"] {
        let peer = Some(peer.parse().unwrap());
        assert_eq!(
            forwarded::parse(peer, &spoof, &default, Family::Forwarded),
            Err(ForwardedError::UntrustedPeer),
            "{peer:?}"
        );
    }
    assert!(forwarded::parse(LOCAL, &spoof, &default, Family::Forwarded).is_ok());
    for everyone in ["0.0.0.0/0", "::/0", "10.0.0.0/8, 0.0.0.0/0"] {
        let mut problems = Vec::new();
        crate::config::parse_cidrs(everyone, &mut problems);
        assert!(
            problems.iter().any(|p| p.contains("trusts every address")),
            "{everyone}: {problems:?}"
        );
    }
}
