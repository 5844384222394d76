//! Entry points for the fuzz targets in `fuzz/` (cargo-fuzz, `make fuzz`) and for replaying
//! their committed corpus in `make test`: each takes arbitrary bytes, feeds one parser a
//! client (or the apps file) can reach, and panics only when an invariant breaks.

// Panicking on a broken invariant is how a fuzz target reports a finding.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::collections::HashMap;

use crate::cookies;
use crate::forwarded::{self, Family};

/// A fuzz target's entry point.
pub type Target = fn(&[u8]);

/// Every fuzz target, by the name of its corpus directory.
pub const TARGETS: &[(&str, Target)] = &[
    ("forwarded", forwarded_headers),
    ("cookies", cookie_headers),
    ("return_url", return_url),
    ("claims", claim_paths),
    ("apps_toml", apps_toml),
    ("apikey", apikey_and_bearer),
    ("classify", client_hints),
    ("login_state", login_state),
];

/// Lines of `name: value` become headers, the first byte picks the family.
pub fn forwarded_headers(data: &[u8]) {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let mut h = http::HeaderMap::new();
    for line in rest.split(|b| *b == b'\n') {
        let mut halves = line.splitn(2, |b| *b == b':');
        let (Some(name), Some(value)) = (halves.next(), halves.next()) else {
            continue;
        };
        let value = value.trim_ascii();
        if let (Ok(n), Ok(v)) = (
            http::HeaderName::from_bytes(name),
            http::HeaderValue::from_bytes(value),
        ) {
            h.append(n, v);
        }
    }
    let family = if first % 2 == 0 {
        Family::Forwarded
    } else {
        Family::Original
    };
    let trusted = ["127.0.0.0/8".parse().expect("a CIDR")];
    let peer = Some(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));
    let _ = forwarded::addressed_to(&h, "auth.example.test", Some(4180));
    if let Ok(r) = forwarded::parse(peer, &h, &trusted, family) {
        assert!(r.proto == "http" || r.proto == "https");
        assert!(r.uri.starts_with('/') && !r.uri.chars().any(|c| c.is_control() || c == ' '));
        assert!(!r.host.is_empty() && !r.host.contains(['/', '@', '?', '#']));
        assert!(!r.method.is_empty() && r.method.bytes().all(|b| b.is_ascii_uppercase()));
        let _ = r.url();
    }
}

/// Cookie headers: the app's copy never holds sidegate's cookies; reading values never panics.
pub fn cookie_headers(data: &[u8]) {
    let headers: Vec<&[u8]> = data.split(|b| *b == b'\n').collect();
    let out = cookies::for_the_app(headers.iter().copied(), "_sidegate");
    for pair in out.split(|b| *b == b';') {
        let name = pair
            .split(|b| *b == b'=')
            .next()
            .unwrap_or_default()
            .trim_ascii();
        assert!(name != b"_sidegate" && !name.starts_with(b"_sidegate_login_"));
    }
    assert_eq!(cookies::for_the_app([out.as_slice()], "_sidegate"), out);
    let text: Vec<&str> = headers
        .iter()
        .filter_map(|h| std::str::from_utf8(h).ok())
        .collect();
    for v in cookies::values(text.iter().copied(), "_sidegate") {
        let _ = crate::session::Ticket::parse(&v);
    }
}

/// An accepted return URL is an http(s) URL under an allowed domain, without userinfo.
pub fn return_url(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let allowed = ["example.test".to_owned()];
    if crate::redirect::validate(text, &allowed).is_ok() {
        let url = url::Url::parse(text).expect("accepted URLs parse");
        assert!(matches!(url.scheme(), "http" | "https"));
        assert!(url.username().is_empty() && url.password().is_none());
        let host = url.host_str().expect("a host");
        assert!(
            crate::redirect::host_matches(host, "example.test"),
            "{text}"
        );
    }
}

/// A claim path from the first line, looked up in JSON from the rest.
pub fn claim_paths(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (path, json) = text.split_once('\n').unwrap_or((&text, "{}"));
    let claims: crate::claims::Claims = serde_json::from_str(json).unwrap_or_default();
    if let Some(p) = crate::claims::ClaimPath::parse(path) {
        assert!(!p.root().is_empty());
        if let Some(v) = p.lookup(&claims) {
            let _ = crate::upstream::Encoding::Utf8.header_value(&crate::claims::render(v, ","));
        }
    }
}

/// The apps file: every input is a list of problems or profiles, never a panic.
pub fn apps_toml(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(dir) = tempfile_dir() else {
        return;
    };
    let file = dir.join("apps.toml");
    if std::fs::write(&file, text).is_err() {
        return;
    }
    let defaults = crate::profile::Defaults {
        headers: Vec::new(),
        groups_claim: crate::claims::ClaimPath::parse("groups").expect("a claim"),
        user_claims: Vec::new(),
        email_claim: crate::claims::ClaimPath::parse("email").expect("a claim"),
        separator: ",".into(),
        issuer: "https://auth.example.test".into(),
        encoding: crate::upstream::Encoding::Utf8,
    };
    let vars = HashMap::from([("S".to_owned(), "secret".to_owned())]);
    if let Err(problems) = crate::profile::load(Some(&file), &vars, &defaults) {
        assert!(!problems.is_empty());
    }
}

fn tempfile_dir() -> std::io::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("sidegate-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// API keys and bearer values.
pub fn apikey_and_bearer(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Some((id, secret)) = crate::apikey::parse(&text) {
        assert!(!id.is_empty() && !secret.is_empty());
    }
    if let Some(credentials) = crate::gate::bearer(&text) {
        assert_eq!(credentials, credentials.trim());
    }
}

/// The navigation/API classifier over `Accept`, `Sec-Fetch-Mode` and `Upgrade`.
pub fn client_hints(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(4, '\n');
    let (method, mode, accept, upgrade) = (parts.next(), parts.next(), parts.next(), parts.next());
    let hints = crate::gate::ClientHints {
        sec_fetch_mode: mode,
        accept,
        upgrade,
    };
    let kind = crate::gate::classify(method.unwrap_or("GET"), hints);
    if !matches!(method, Some("GET" | "HEAD")) {
        assert_eq!(kind, crate::gate::ClientKind::Other);
    }
}

/// The encrypted login-state cookie: tampered or foreign input never opens.
pub fn login_state(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let settings = crate::config::CookieSettings {
        name: "_sidegate".into(),
        domain: None,
        secure: true,
        strip: true,
    };
    let key = cookie::Key::from(&[7; 64]);
    let (state, header) = text.split_once('\n').unwrap_or(("STATE123abcdefgh", &text));
    let got: Option<crate::oidc::LoginState> = cookies::login_get(&settings, &key, [header], state);
    assert!(
        got.is_none(),
        "an arbitrary cookie opened under sidegate's key"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed corpus of every target (fuzz/corpus/<target>/) replays clean.
    #[test]
    fn the_fuzz_corpus_replays_without_a_finding() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
        let mut replayed = 0;
        for (name, target) in TARGETS {
            let dir = root.join(name);
            let entries = std::fs::read_dir(&dir)
                .unwrap_or_else(|e| panic!("{}: {e} (the corpus is committed)", dir.display()));
            for entry in entries {
                let path = entry.unwrap().path();
                let data = std::fs::read(&path).unwrap();
                target(&data);
                replayed += 1;
            }
        }
        assert!(replayed >= TARGETS.len(), "only {replayed} corpus entries");
    }
}
