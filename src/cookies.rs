//! Every cookie sidegate sets or reads is built here, so the security attributes live in
//! one place: `HttpOnly`, `SameSite=Lax` (Strict loops when the IdP is on another site),
//! `Secure` unless switched off, `Path=/`, and `Domain` only for the session cookie.
//!
//! Pure: no I/O, no clock, no randomness.

use std::time::Duration;

use cookie::{Cookie, CookieJar, SameSite};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::config::CookieSettings;

/// How long a login may take between `/start` and `/callback`.
pub const LOGIN_TTL: Duration = Duration::from_secs(600);

fn base<'c>(name: String, value: String, secure: bool) -> cookie::CookieBuilder<'c> {
    Cookie::build((name, value))
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
}

fn max_age(d: Duration) -> cookie::time::Duration {
    cookie::time::Duration::seconds(i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// `Set-Cookie` for a new session ticket.
pub fn session_set(s: &CookieSettings, ticket: String, lifetime: Duration) -> String {
    let mut c = base(s.name.clone(), ticket, s.secure).max_age(max_age(lifetime));
    if let Some(d) = &s.domain {
        c = c.domain(d.clone());
    }
    c.build().to_string()
}

/// `Set-Cookie` that removes the session cookie.
pub fn session_clear(s: &CookieSettings) -> String {
    let mut c = base(s.name.clone(), String::new(), s.secure).max_age(cookie::time::Duration::ZERO);
    if let Some(d) = &s.domain {
        c = c.domain(d.clone());
    }
    c.build().to_string()
}

/// Every value of the cookie `name` in the request's `Cookie` headers (a browser may
/// send two, e.g. a host-only and a domain cookie; proxies may split the header).
pub fn values<'a>(cookie_headers: impl IntoIterator<Item = &'a str>, name: &str) -> Vec<String> {
    cookie_headers
        .into_iter()
        .flat_map(|h| Cookie::split_parse(h.to_owned()))
        .filter_map(Result::ok)
        .filter(|c| c.name() == name)
        .map(|c| c.value().to_owned())
        .collect()
}

/// The request's cookies for the app: every `Cookie` header joined, minus sidegate's own
/// (the session cookie `name` and the login-state cookies `<name>_login_*`), every other
/// pair byte for byte. Empty when nothing else remains.
pub fn for_the_app<'a>(cookie_headers: impl IntoIterator<Item = &'a [u8]>, name: &str) -> Vec<u8> {
    let login = format!("{name}_login_");
    let mut out = Vec::new();
    for header in cookie_headers {
        for pair in header.split(|b| *b == b';') {
            let pair = pair.trim_ascii();
            if pair.is_empty() {
                continue;
            }
            let cookie_name = pair
                .split(|b| *b == b'=')
                .next()
                .unwrap_or_default()
                .trim_ascii();
            if cookie_name == name.as_bytes() || cookie_name.starts_with(login.as_bytes()) {
                continue;
            }
            if !out.is_empty() {
                out.extend_from_slice(b"; ");
            }
            out.extend_from_slice(pair);
        }
    }
    out
}

/// The name of the login-state cookie for one login attempt, so that logins in several
/// tabs do not overwrite each other.
pub fn login_name(s: &CookieSettings, state: &str) -> String {
    let short: String = state
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(12)
        .collect();
    format!("{}_login_{short}", s.name)
}

/// `Set-Cookie` carrying `value` encrypted and authenticated (cookie's private jar; the
/// cookie name is bound into the ciphertext).
pub fn login_set<T: Serialize>(
    s: &CookieSettings,
    key: &cookie::Key,
    state: &str,
    value: &T,
) -> Option<String> {
    let json = serde_json::to_string(value).ok()?;
    let mut jar = CookieJar::new();
    jar.private_mut(key).add(
        base(login_name(s, state), json, s.secure)
            .max_age(max_age(LOGIN_TTL))
            .build(),
    );
    jar.delta().next().map(ToString::to_string)
}

/// The login state for `state` from the request cookies, if present and authentic.
pub fn login_get<'a, T: DeserializeOwned>(
    s: &CookieSettings,
    key: &cookie::Key,
    cookie_headers: impl IntoIterator<Item = &'a str>,
    state: &str,
) -> Option<T> {
    let name = login_name(s, state);
    values(cookie_headers, &name).into_iter().find_map(|v| {
        let mut jar = CookieJar::new();
        jar.add_original(Cookie::new(name.clone(), v));
        let plain = jar.private(key).get(&name)?;
        serde_json::from_str(plain.value()).ok()
    })
}

/// `Set-Cookie` that removes the login-state cookie for `state`.
pub fn login_clear(s: &CookieSettings, state: &str) -> String {
    base(login_name(s, state), String::new(), s.secure)
        .max_age(cookie::time::Duration::ZERO)
        .build()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(domain: Option<&str>, secure: bool) -> CookieSettings {
        CookieSettings {
            name: "_sidegate".into(),
            domain: domain.map(Into::into),
            secure,
            strip: true,
        }
    }

    #[test]
    fn session_cookie_attributes() {
        let cases = [
            (
                settings(None, true),
                "_sidegate=t.s; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=3600",
            ),
            (
                settings(Some("example.test"), false),
                "_sidegate=t.s; HttpOnly; SameSite=Lax; Path=/; Domain=example.test; Max-Age=3600",
            ),
        ];
        for (s, want) in cases {
            assert_eq!(
                session_set(&s, "t.s".into(), Duration::from_secs(3600)),
                want
            );
        }
        assert_eq!(
            session_clear(&settings(Some("example.test"), true)),
            "_sidegate=; HttpOnly; SameSite=Lax; Secure; Path=/; Domain=example.test; Max-Age=0"
        );
    }

    #[test]
    fn the_app_gets_every_cookie_but_sidegates_own() {
        let cases: &[(&[&[u8]], &[u8])] = &[
            (&[b"_sidegate=t.s; theme=dark"], b"theme=dark"),
            (&[b"a=1;_sidegate=t.s;  b=\"x y\""], b"a=1; b=\"x y\""),
            (&[b"_sidegate=t.s", b"_sidegate_login_ABC=zzz"], b""),
            (
                &[b"_sidegate=x", b"_sidegatex=1; csrftoken=\xc3\xa9"],
                b"_sidegatex=1; csrftoken=\xc3\xa9",
            ),
            (
                &[b"Session=abc; _Sidegate=keep"],
                b"Session=abc; _Sidegate=keep",
            ),
            (&[b""], b""),
            (&[b"; ;a=;"], b"a="),
        ];
        for (headers, want) in cases {
            let got = for_the_app(headers.iter().copied(), "_sidegate");
            assert_eq!(
                String::from_utf8_lossy(&got),
                String::from_utf8_lossy(want),
                "{headers:?}"
            );
        }
    }

    #[test]
    fn values_reads_every_header_and_duplicate() {
        let headers = [
            "a=1; _sidegate=first",
            "_sidegate=second;b=2",
            "garbage",
            "_sidegatex=no",
        ];
        assert_eq!(values(headers, "_sidegate"), ["first", "second"]);
        assert!(values(["a=1"], "_sidegate").is_empty());
    }

    #[test]
    fn login_state_round_trips_and_refuses_tampering() {
        let s = settings(None, true);
        let key = cookie::Key::from(&[7u8; 64]);
        let set = login_set(&s, &key, "STATE123abcdefgh", &("verifier", 42)).unwrap();
        assert!(set.starts_with("_sidegate_login_STATE123abcd="), "{set}");
        assert!(set.contains("HttpOnly") && set.contains("Secure") && set.contains("Max-Age=600"));
        assert!(!set.contains("verifier"), "login state visible in cookie");
        let pair = set.split(';').next().unwrap();
        let got: Option<(String, u32)> = login_get(&s, &key, [pair], "STATE123abcdefgh");
        assert_eq!(got, Some(("verifier".into(), 42)));

        let other_key = cookie::Key::from(&[8u8; 64]);
        assert_eq!(
            login_get::<(String, u32)>(&s, &other_key, [pair], "STATE123abcdefgh"),
            None
        );
        let (name, value) = pair.split_once('=').unwrap();
        let tampered = format!("{name}={}A", &value[..value.len() - 1]);
        assert_eq!(
            login_get::<(String, u32)>(&s, &key, [tampered.as_str()], "STATE123abcdefgh"),
            None
        );
        // The value of one login's cookie does not open under another login's name.
        let renamed = format!("_sidegate_login_OTHERSTATE12={value}");
        assert_eq!(
            login_get::<(String, u32)>(&s, &key, [renamed.as_str()], "OTHERSTATE12xx"),
            None
        );
        assert!(login_clear(&s, "STATE123abcdefgh").starts_with("_sidegate_login_STATE123abcd=; "));
    }
}
