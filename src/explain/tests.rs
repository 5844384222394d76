use http::{HeaderMap, HeaderName, HeaderValue};

use super::report::{mask, MASK};
use super::*;
use crate::redirect::ReturnUrlRefusal;

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (n, v) in pairs {
        h.append(
            HeaderName::from_bytes(n.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    h
}

const NGINX_SUBREQUEST: &str = "GET /auth/nginx/wiki HTTP/1.1\r\nHost: sidegate\r\nX-Original-URI: /page?q=1\r\nX-Original-Method: GET\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: wiki.example.test\r\nAccept: text/html\r\nCookie: a=1\r\nCookie: b=2\r\n\r\nbody ignored";

#[test]
fn a_captured_request_is_read_and_malformed_ones_name_the_line() {
    let c = parse_captured(NGINX_SUBREQUEST).unwrap();
    assert_eq!(
        c.endpoint,
        Some(Endpoint {
            nginx: true,
            app: Some("wiki".into())
        })
    );
    assert_eq!(c.headers.get_all("cookie").iter().count(), 2);
    assert_eq!(c.headers["x-original-uri"], "/page?q=1");
    // LF line ends, leading blank lines, the absolute form, Caddy's appended query.
    let c =
        parse_captured("\n\nGET http://127.0.0.1:4180/auth/borg?x=1 HTTP/1.1\nHost: a\n").unwrap();
    assert_eq!(c.endpoint.unwrap().path(), "/auth/borg");
    let c = parse_captured("GET /healthz HTTP/1.1\nHost: a\n").unwrap();
    assert_eq!(c.endpoint, None);
    let cases: &[(&str, CapturedError)] = &[
        ("", CapturedError::Empty),
        ("\r\n\r\n", CapturedError::Empty),
        ("hello", CapturedError::RequestLine("hello".into())),
        ("GET /auth", CapturedError::RequestLine("GET /auth".into())),
        (
            "get /auth HTTP/1.1",
            CapturedError::RequestLine("get /auth HTTP/1.1".into()),
        ),
        (
            "GET /auth HTTP/2",
            CapturedError::RequestLine("GET /auth HTTP/2".into()),
        ),
        (
            "GET /auth HTTP/1.1\nHost a",
            CapturedError::Header {
                line: 2,
                text: "Host a".into(),
            },
        ),
        (
            "GET /auth HTTP/1.1\nHost : a",
            CapturedError::Header {
                line: 2,
                text: "Host : a".into(),
            },
        ),
        (
            "GET /auth HTTP/1.1\nHost: a\n  folded",
            CapturedError::Folded(3),
        ),
    ];
    for (text, want) in cases {
        assert_eq!(parse_captured(text).unwrap_err(), *want, "{text:?}");
    }
    let long = format!("{}\nHost: a", "x".repeat(200));
    assert!(parse_captured(&long).unwrap_err().to_string().contains("…"));
}

#[test]
fn endpoints_are_matched_as_the_routes_match_them() {
    for (target, want) in [
        ("/auth", Some((false, None))),
        ("/auth/borg", Some((false, Some("borg")))),
        ("/auth/nginx", Some((true, None))),
        ("/auth/nginx/borg?x", Some((true, Some("borg")))),
        ("/auth/", None),
        ("/auth/a/b/c", None),
        ("/start", None),
        ("auth", None),
    ] {
        let got = Endpoint::from_target(target).map(|e| (e.nginx, e.app));
        assert_eq!(
            got,
            want.map(|(n, a)| (n, a.map(str::to_owned))),
            "{target}"
        );
    }
}

#[test]
fn a_described_request_carries_the_proxys_family_and_the_extra_headers() {
    let extra = [
        header_arg("Accept: text/html").unwrap(),
        header_arg("cookie: a=1").unwrap(),
        header_arg("Cookie: b=2").unwrap(),
    ];
    let h = described(
        Proxy::Nginx,
        "HTTPS://wiki.example.test:8443?x",
        "post",
        &extra,
    )
    .unwrap();
    assert_eq!(h["x-original-uri"], "/?x");
    assert_eq!(h["x-original-method"], "POST");
    assert_eq!(h["x-forwarded-proto"], "https");
    assert_eq!(h["x-forwarded-host"], "wiki.example.test:8443");
    assert!(!h.contains_key("x-forwarded-uri"));
    assert_eq!(h.get_all("cookie").iter().count(), 2);
    let h = described(Proxy::Caddy, "http://a.test/p/../q", "GET", &[]).unwrap();
    assert_eq!(
        h["x-forwarded-uri"], "/p/../q",
        "byte for byte, not normalised"
    );
    assert_eq!(h["host"], "a.test");
    let h = described(
        Proxy::Traefik,
        "http://a.test/",
        "GET",
        &[header_arg("X-Forwarded-Uri: /other").unwrap()],
    )
    .unwrap();
    assert_eq!(
        h.get_all("x-forwarded-uri").iter().count(),
        1,
        "-H replaces the proxy's own"
    );
    for bad in ["a.test/x", "ftp://a.test/", "https:///x"] {
        assert!(described(Proxy::Traefik, bad, "GET", &[]).is_err(), "{bad}");
    }
    for bad in ["Accept text/html", "Bad Name: x", ": x"] {
        assert!(header_arg(bad).is_err(), "{bad}");
    }
}

#[test]
fn claims_from_flags_make_lists_of_groups_and_repeated_names() {
    let pairs: Vec<String> = ["groups=admins", "name=Alice", "role=a", "role=b"]
        .map(String::from)
        .into();
    let c = claims(
        Some(r#"{"email_verified": false, "groups": ["staff"]}"#),
        &pairs,
    )
    .unwrap();
    assert_eq!(c["groups"], serde_json::json!(["staff", "admins"]));
    assert_eq!(c["name"], "Alice");
    assert_eq!(c["role"], serde_json::json!(["a", "b"]));
    assert_eq!(c["email_verified"], false);
    assert_eq!(
        claims(None, &["groups=x".into()]).unwrap()["groups"],
        serde_json::json!(["x"])
    );
    assert!(claims(Some("[1]"), &[]).is_err());
    assert!(claims(None, &["groups".into()]).is_err());
}

#[test]
fn secrets_are_masked_and_cookies_show_their_names_only() {
    let secret = [HeaderName::from_static("x-api-token")];
    let m = |n: &str, v: &str| {
        mask(
            &HeaderName::from_bytes(n.as_bytes()).unwrap(),
            &HeaderValue::from_str(v).unwrap(),
            &secret,
        )
    };
    assert_eq!(m("x-api-token", "tok-123"), MASK);
    assert_eq!(m("authorization", "Basic YWRtaW46cHc="), MASK);
    assert_eq!(
        m("x-api-token", ""),
        "",
        "an empty answer is shown as empty"
    );
    assert_eq!(
        m("cookie", "_sidegate=tkt.secret; theme=dark"),
        "_sidegate=***; theme=***"
    );
    assert_eq!(m("x-forwarded-user", "alice"), "alice");
}

fn seen<'a>(proxy: Option<Proxy>, nginx: bool, h: &'a HeaderMap, trusted: bool) -> Seen<'a> {
    Seen {
        proxy,
        nginx_endpoint: nginx,
        captured: true,
        headers: h,
        peer: ("203.0.113.9", trusted),
        return_url: None,
        answered: &[],
        apikey_header: None,
    }
}

fn codes(s: &Seen<'_>) -> Vec<&'static str> {
    detect(s).into_iter().map(|w| w.code).collect()
}

#[test]
fn warnings_table() {
    let nginx_ok = headers(&[
        ("host", "sidegate"),
        ("x-original-uri", "/"),
        ("x-original-method", "GET"),
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "a.test"),
        ("accept", "text/html"),
        ("cookie", "a=1"),
    ]);
    let traefik_ok = headers(&[
        ("x-forwarded-uri", "/"),
        ("x-forwarded-method", "GET"),
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "a.test"),
        ("sec-fetch-mode", "navigate"),
        ("cookie", "a=1"),
    ]);
    let bare = headers(&[
        ("x-forwarded-uri", "/"),
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "a.test"),
    ]);
    let mixed = headers(&[
        ("x-forwarded-uri", "/"),
        ("x-original-url", "https://a.test/"),
        ("forwarded", "for=1.2.3.4"),
        ("accept", "*/*"),
        ("cookie", "a=1"),
    ]);
    let nginx_mixed = headers(&[
        ("x-original-uri", "/"),
        ("x-forwarded-uri", "/x"),
        ("accept", "*/*"),
        ("cookie", "a=1"),
    ]);
    let spoofed = headers(&[
        ("x-forwarded-uri", "/"),
        ("accept", "*/*"),
        ("cookie", "a=1"),
        ("x-forwarded-user", "mallory"),
        ("remote-user", "mallory"),
        ("authorization", "Bearer x"),
    ]);
    let cases: Vec<(Seen<'_>, Vec<&str>)> = vec![
        (seen(Some(Proxy::Nginx), true, &nginx_ok, true), vec![]),
        (seen(Some(Proxy::Traefik), false, &traefik_ok, true), vec![]),
        (
            seen(None, false, &bare, true),
            vec!["no-navigation-hints", "no-cookie"],
        ),
        (
            Seen {
                captured: false,
                ..seen(None, false, &bare, true)
            },
            vec![],
        ),
        (
            seen(Some(Proxy::Caddy), false, &traefik_ok, false),
            vec!["untrusted-peer"],
        ),
        (
            seen(Some(Proxy::Caddy), false, &mixed, true),
            vec!["other-family", "forwarded-rfc7239"],
        ),
        (
            seen(Some(Proxy::Nginx), true, &nginx_mixed, true),
            vec!["other-family"],
        ),
        (
            seen(Some(Proxy::Nginx), false, &traefik_ok, true),
            vec!["wrong-endpoint"],
        ),
        (
            seen(Some(Proxy::Traefik), true, &nginx_ok, true),
            vec!["wrong-endpoint"],
        ),
        (
            seen(Some(Proxy::Traefik), false, &spoofed, true),
            vec!["client-identity-header", "client-identity-header"],
        ),
        (
            Seen {
                return_url: Some(("https://a.test/", Some(ReturnUrlRefusal::HostNotAllowed))),
                ..seen(Some(Proxy::Traefik), false, &traefik_ok, true)
            },
            vec!["return-url-refused"],
        ),
        (
            Seen {
                return_url: Some(("https://a.test/", None)),
                ..seen(Some(Proxy::Traefik), false, &traefik_ok, true)
            },
            vec![],
        ),
    ];
    for (s, want) in cases {
        assert_eq!(codes(&s), want, "{:?} {:?}", s.proxy, s.headers);
    }
}

#[test]
fn each_fix_names_the_directive_of_the_proxy_that_sent_it() {
    let bare = headers(&[("x-forwarded-uri", "/")]);
    let fix = |p: Option<Proxy>, nginx: bool| detect(&seen(p, nginx, &bare, true)).remove(0).fix;
    assert!(fix(Some(Proxy::Traefik), false).contains("authRequestHeaders"));
    assert!(fix(Some(Proxy::Caddy), false).contains("header_up -Accept"));
    let both = fix(None, false);
    assert!(
        both.contains("Traefik: ") && both.contains("Caddy: "),
        "{both}"
    );
    let nginx = headers(&[("x-original-uri", "/")]);
    let w = detect(&seen(Some(Proxy::Nginx), true, &nginx, true));
    assert!(
        w[0].fix.contains("proxy_set_header Accept $http_accept;"),
        "{:?}",
        w[0]
    );
    assert!(
        w[1].fix.contains("proxy_set_header Cookie $http_cookie;"),
        "{:?}",
        w[1]
    );
    let answered = [HeaderName::from_static("x-forwarded-user")];
    let spoofed = headers(&[
        ("x-forwarded-user", "m"),
        ("x-remote-user", "m"),
        ("accept", "*/*"),
        ("cookie", "a=1"),
    ]);
    let w = detect(&Seen {
        answered: &answered,
        ..seen(Some(Proxy::Nginx), true, &spoofed, true)
    });
    assert!(
        w[0].fix
            .starts_with("sidegate answers x-forwarded-user itself"),
        "{:?}",
        w[0]
    );
    assert!(
        w[1].fix.contains("`proxy_set_header x-remote-user \"\";`"),
        "{:?}",
        w[1]
    );
}
