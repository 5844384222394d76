use super::*;
use http::HeaderValue;

fn trusted() -> Vec<IpNet> {
    crate::config::DEFAULT_TRUSTED_PROXIES
        .split(',')
        .map(|s| s.parse().unwrap())
        .collect()
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_bytes(v.as_bytes()).unwrap(),
        );
    }
    h
}

const LOCAL: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));

/// The family an endpoint would read these headers with: nginx's when any is present.
fn family(h: &HeaderMap) -> Family {
    if h.keys().any(|k| k.as_str().starts_with("x-original-")) {
        Family::Original
    } else {
        Family::Forwarded
    }
}

fn parse_any(
    peer: Option<IpAddr>,
    h: &HeaderMap,
    trusted: &[IpNet],
) -> Result<ForwardedRequest, ForwardedError> {
    parse(peer, h, trusted, family(h))
}

fn req(method: &str, proto: &str, host: &str, uri: &str) -> ForwardedRequest {
    ForwardedRequest {
        method_given: method != "GET",
        method: method.into(),
        proto: proto.into(),
        host: host.into(),
        uri: uri.into(),
    }
}

#[test]
fn traefik_style_headers() {
    let traefik = [
        ("x-forwarded-method", "POST"),
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "App.Example.test"),
        ("x-forwarded-port", "443"),
        ("x-forwarded-uri", "/some/path?q=1&x=%2F"),
        ("x-forwarded-for", "203.0.113.9"),
    ];
    let got = parse_any(LOCAL, &headers(&traefik), &trusted()).unwrap();
    assert_eq!(
        got,
        req("POST", "https", "app.example.test", "/some/path?q=1&x=%2F")
    );
    assert_eq!(got.url(), "https://app.example.test/some/path?q=1&x=%2F");
}

#[test]
fn nginx_styles() {
    let cases: &[(&[(&str, &str)], ForwardedRequest)] = &[
        (
            &[("x-original-url", "https://app.example.test/p?q=1")],
            req("GET", "https", "app.example.test", "/p?q=1"),
        ),
        (
            &[("x-original-url", "http://app.example.test:80")],
            req("GET", "http", "app.example.test", "/"),
        ),
        (
            &[("x-original-url", "http://app.example.test:8080?x")],
            req("GET", "http", "app.example.test:8080", "/?x"),
        ),
        (
            &[
                ("x-original-uri", "/a/../b?c=%20"),
                ("x-forwarded-proto", "http"),
                ("x-forwarded-host", "app.example.test:8080"),
                ("x-original-method", "delete"),
            ],
            req("DELETE", "http", "app.example.test:8080", "/a/../b?c=%20"),
        ),
        (
            &[
                ("x-forwarded-uri", "/x"),
                ("x-forwarded-proto", "https, http"),
                ("x-forwarded-host", "a.test:443, b.test"),
            ],
            req("GET", "https", "a.test", "/x"),
        ),
    ];
    for (h, want) in cases {
        assert_eq!(
            &parse_any(LOCAL, &headers(h), &trusted()).unwrap(),
            want,
            "{h:?}"
        );
    }
}

#[test]
fn refusals() {
    let ok = [
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "app.test"),
        ("x-forwarded-uri", "/"),
    ];
    let with = |extra: &[(&str, &str)], drop: &str| {
        let mut v: Vec<(&str, &str)> = ok.iter().copied().filter(|(k, _)| *k != drop).collect();
        v.extend_from_slice(extra);
        headers(&v)
    };
    let cases: Vec<(HeaderMap, ForwardedError)> = vec![
        (
            with(&[], "x-forwarded-proto"),
            ForwardedError::Missing("X-Forwarded-Proto"),
        ),
        (
            with(&[], "x-forwarded-host"),
            ForwardedError::Missing("X-Forwarded-Host"),
        ),
        (
            with(&[], "x-forwarded-uri"),
            ForwardedError::Missing("X-Forwarded-Uri"),
        ),
        (
            with(&[("x-forwarded-host", "evil.test")], ""),
            ForwardedError::Repeated("x-forwarded-host"),
        ),
        (
            with(&[("x_forwarded_host", "evil.test")], ""),
            ForwardedError::Underscored,
        ),
        (
            with(&[("X_Forwarded_Uri", "/admin")], ""),
            ForwardedError::Underscored,
        ),
        (
            with(&[("x-forwarded-proto", "javascript")], "x-forwarded-proto"),
            ForwardedError::Invalid("X-Forwarded-Proto"),
        ),
        (
            with(&[("x-forwarded-host", "evil.test/x")], "x-forwarded-host"),
            ForwardedError::Invalid("X-Forwarded-Host"),
        ),
        (
            with(&[("x-forwarded-host", "a@evil.test")], "x-forwarded-host"),
            ForwardedError::Invalid("X-Forwarded-Host"),
        ),
        (
            with(&[("x-forwarded-host", "")], "x-forwarded-host"),
            ForwardedError::Invalid("X-Forwarded-Host"),
        ),
        (
            with(&[("x-forwarded-uri", "relative")], "x-forwarded-uri"),
            ForwardedError::Invalid("X-Forwarded-Uri"),
        ),
        (
            with(&[("x-forwarded-uri", "/a b")], "x-forwarded-uri"),
            ForwardedError::Invalid("X-Forwarded-Uri"),
        ),
        (
            with(&[("x-forwarded-uri", "/ä")], "x-forwarded-uri"),
            ForwardedError::Invalid("x-forwarded-uri"),
        ),
        (
            with(&[("x-forwarded-method", "GE T")], ""),
            ForwardedError::Invalid("X-Forwarded-Method"),
        ),
        (
            headers(&[("x-original-url", "/just/a/path")]),
            ForwardedError::Invalid("X-Original-URL"),
        ),
        (
            headers(&[("x-original-url", "ftp://h/x")]),
            ForwardedError::Invalid("X-Forwarded-Proto"),
        ),
        (headers(&[]), ForwardedError::Missing("X-Forwarded-Proto")),
    ];
    for (h, want) in cases {
        assert_eq!(parse_any(LOCAL, &h, &trusted()), Err(want), "{h:?}");
    }
}

#[test]
fn only_trusted_peers_are_believed() {
    let h = headers(&[("x-original-url", "https://app.example.test/")]);
    let cases: &[(&str, bool)] = &[
        ("127.0.0.1", true),
        ("10.1.2.3", true),
        ("172.20.0.5", true),
        ("192.168.1.1", true),
        ("::1", true),
        ("::ffff:127.0.0.1", true),
        ("fd00::1", true),
        ("203.0.113.7", false),
        ("172.32.0.1", false),
        ("2001:db8::1", false),
        ("::ffff:203.0.113.7", false),
    ];
    for (ip, ok) in cases {
        let peer: IpAddr = ip.parse().unwrap();
        assert_eq!(parse_any(Some(peer), &h, &trusted()).is_ok(), *ok, "{ip}");
    }
    assert_eq!(
        parse_any(None, &h, &trusted()),
        Err(ForwardedError::UntrustedPeer)
    );
    let only_one: Vec<IpNet> = vec!["10.0.0.2/32".parse().unwrap()];
    assert_eq!(
        parse_any(LOCAL, &h, &only_one),
        Err(ForwardedError::UntrustedPeer)
    );
}

#[test]
fn the_public_host_is_recognised_in_every_spelling_and_another_port_is_another_site() {
    for (value, public_port, ours) in [
        ("auth.example.test", None, true),
        ("AUTH.example.test.", None, true),
        ("auth.example.test:443", None, true),
        ("auth.example.test:4180", Some(4180), true),
        ("auth.example.test", Some(4180), true),
        ("auth.example.test:8080", Some(4180), false),
        ("auth.example.test:junk", Some(4180), true),
        ("app.example.test", None, false),
        ("[::1]:4180", Some(4180), false),
    ] {
        for name in ["host", "x-forwarded-host"] {
            let h = headers(&[(name, value)]);
            assert_eq!(
                addressed_to(&h, "auth.example.test", public_port),
                ours,
                "{name}: {value} with public port {public_port:?}"
            );
        }
    }
    let h = headers(&[("host", "[::1]:4180")]);
    assert!(addressed_to(&h, "::1", Some(4180)));
    assert!(!addressed_to(&h, "::1", Some(4181)));
}

#[test]
fn the_client_address_is_what_the_last_proxy_appended() {
    let peer = Some("10.0.0.2".parse().unwrap());
    let with = |values: &[&str]| {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        client_address(peer, &h).map(|ip| ip.to_string())
    };
    assert_eq!(with(&[]).as_deref(), Some("10.0.0.2"));
    assert_eq!(with(&["203.0.113.9"]).as_deref(), Some("203.0.113.9"));
    // What a client wrote before the proxy's own entry does not count.
    assert_eq!(
        with(&["1.2.3.4, 5.6.7.8,203.0.113.9"]).as_deref(),
        Some("203.0.113.9")
    );
    assert_eq!(
        with(&["1.2.3.4", "203.0.113.9"]).as_deref(),
        Some("203.0.113.9")
    );
    assert_eq!(with(&["2001:db8::1"]).as_deref(), Some("2001:db8::1"));
    assert_eq!(with(&["[2001:db8::1]:443"]).as_deref(), Some("2001:db8::1"));
    assert_eq!(with(&["::ffff:192.0.2.1"]).as_deref(), Some("192.0.2.1"));
    // Not an address: the peer, never the client's text.
    assert_eq!(with(&["unknown"]).as_deref(), Some("10.0.0.2"));
}
