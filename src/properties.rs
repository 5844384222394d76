//! Properties of every parser a client's bytes reach, checked on generated input (proptest):
//! none panics, and what each accepts keeps its promise.

use proptest::prelude::*;

use crate::forwarded::{self, Family};

fn header_map(pairs: &[(String, String)]) -> http::HeaderMap {
    let mut h = http::HeaderMap::new();
    for (k, v) in pairs {
        if let (Ok(k), Ok(v)) = (
            http::HeaderName::from_bytes(k.as_bytes()),
            http::HeaderValue::from_str(v),
        ) {
            h.append(k, v);
        }
    }
    h
}

const NAMES: &[&str] = &[
    "x-forwarded-method",
    "x-forwarded-proto",
    "x-forwarded-host",
    "x-forwarded-uri",
    "x-original-url",
    "x-original-uri",
    "x-original-method",
    "x_forwarded_host",
    "x-forwarded-for",
];

fn forwarded_headers() -> impl Strategy<Value = Vec<(String, String)>> {
    let name = prop::sample::select(NAMES).prop_map(str::to_owned);
    let value = prop_oneof![
        "[ -~]{0,40}",
        Just("https".to_owned()),
        Just("app.example.test".to_owned()),
        Just("/p?q=1".to_owned()),
        Just("https://app.example.test/x".to_owned()),
        Just("GET".to_owned()),
    ];
    prop::collection::vec((name, value), 0..8)
}

proptest! {
    #[test]
    fn forwarded_headers_parse_into_a_usable_request_or_a_refusal(pairs in forwarded_headers(), nginx in any::<bool>()) {
        let family = if nginx { Family::Original } else { Family::Forwarded };
        let trusted = vec!["127.0.0.0/8".parse().unwrap()];
        let peer = Some(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));
        if let Ok(r) = forwarded::parse(peer, &header_map(&pairs), &trusted, family) {
            prop_assert!(r.proto == "http" || r.proto == "https");
            prop_assert!(r.uri.starts_with('/'));
            prop_assert!(!r.uri.chars().any(|c| c.is_control() || c == ' '));
            prop_assert!(!r.host.is_empty() && !r.host.contains('/') && !r.host.contains('@'));
            prop_assert!(r.method.bytes().all(|b| b.is_ascii_uppercase()));
            prop_assert!(!pairs.iter().any(|(k, _)| k.contains('_')), "an underscored header was accepted");
        }
    }

    #[test]
    fn the_app_never_gets_sidegates_cookies(pairs in prop::collection::vec(("[_a-zA-Z]{1,12}", "[!-:<-~]{0,12}"), 0..6), ours in any::<bool>()) {
        let mut header = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>();
        if ours {
            header.insert(0, "_sidegate=ticket.secret".into());
            header.push("_sidegate_login_ABCDEFGHIJKL=state".into());
        }
        let joined = header.join("; ");
        let out = crate::cookies::for_the_app([joined.as_bytes()], "_sidegate");
        let text = String::from_utf8(out.clone()).unwrap();
        for pair in text.split("; ").filter(|p| !p.is_empty()) {
            let name = pair.split('=').next().unwrap();
            prop_assert!(name != "_sidegate" && !name.starts_with("_sidegate_login_"), "{text}");
        }
        // Stripping twice changes nothing.
        prop_assert_eq!(crate::cookies::for_the_app([out.as_slice()], "_sidegate"), out);
    }

    #[test]
    fn an_accepted_return_url_points_under_an_allowed_domain(url in "[ -~]{0,60}", host in "[a-z.@:\\\\/]{0,20}") {
        let allowed = vec!["example.test".to_owned()];
        for candidate in [url.clone(), format!("https://{host}/x"), format!("https://{host}.example.test/")] {
            if crate::redirect::validate(&candidate, &allowed).is_ok() {
                let parsed = url::Url::parse(&candidate).unwrap();
                let h = parsed.host_str().unwrap();
                prop_assert!(crate::redirect::host_matches(h, "example.test"), "{candidate}");
                prop_assert!(parsed.username().is_empty() && parsed.password().is_none());
            }
        }
    }

    #[test]
    fn small_parsers_never_panic(text in "\\PC{0,80}") {
        let _ = crate::claims::ClaimPath::parse(&text).map(|p| p.lookup(&serde_json::Map::new()).is_none());
        let _ = crate::apikey::parse(&text);
        let _ = crate::gate::bearer(&text);
        let _ = crate::session::Ticket::parse(&text);
        let hints = crate::gate::ClientHints { sec_fetch_mode: Some(&text), accept: Some(&text), upgrade: None };
        let _ = crate::gate::classify(&text, hints);
        let _ = crate::upstream::Encoding::Rfc2047.header_value(&text);
        let _ = crate::upstream::Encoding::Percent.header_value(&text);
    }
}
