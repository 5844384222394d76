//! Return-URL (`rd`) validation: the open-redirect guard.
//!
//! Pure: no I/O. A return URL is accepted only when it is an absolute http(s) URL whose
//! host is, or is under, an allowed domain. The raw text is checked as well as the parsed
//! URL, because a parser silently repairs what a browser may read differently (`\` → `/`,
//! percent-decoding in hosts, IDNA mapping). Callers redirect with the original bytes.

use url::Url;

/// Why a return URL was refused; the text is safe to show and to log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReturnUrlRefusal {
    /// Empty, too long, or containing whitespace, control characters or backslashes.
    Malformed,
    /// Not an absolute `http://` or `https://` URL.
    NotHttp,
    /// Userinfo, percent-encoding or other characters that do not belong in a host.
    SuspiciousHost,
    /// The host is not an allowed domain or under one.
    HostNotAllowed,
    /// A plain-http page while the session cookie is `Secure`: the browser would never send
    /// the cookie there, and every visit would start another sign-in.
    InsecureWithSecureCookie,
}

impl ReturnUrlRefusal {
    /// A short explanation for people.
    pub fn as_str(self) -> &'static str {
        match self {
            ReturnUrlRefusal::Malformed => "the return URL is malformed",
            ReturnUrlRefusal::NotHttp => "the return URL must be an absolute http(s) URL",
            ReturnUrlRefusal::SuspiciousHost => {
                "the return URL's host part is not a plain host name"
            }
            ReturnUrlRefusal::HostNotAllowed => {
                "the return URL points to a host that is not allowed"
            }
            ReturnUrlRefusal::InsecureWithSecureCookie => {
                "this site is served over plain http, but the sign-in cookie is only ever sent over https, so signing in here could never succeed; the site must be served over https"
            }
        }
    }
}

/// Whether a `Secure` session cookie can reach `raw` (already validated): an https URL, or
/// plain http to a loopback host (browsers treat those as secure).
pub fn secure_cookie_reaches(raw: &str) -> bool {
    let Ok(u) = url::Url::parse(raw) else {
        return false;
    };
    match (u.scheme(), u.host()) {
        ("https", _) => true,
        ("http", Some(url::Host::Domain(d))) => d == "localhost" || d.ends_with(".localhost"),
        ("http", Some(url::Host::Ipv4(ip))) => ip.is_loopback(),
        ("http", Some(url::Host::Ipv6(ip))) => ip.is_loopback(),
        _ => false,
    }
}

/// Longest return URL accepted (browsers and proxies cap URLs around 8 KiB).
const MAX_LEN: usize = 8192;

/// Checks `raw` against `allowed` (hosts or parent domains, lowercase).
///
/// # Errors
/// The [`ReturnUrlRefusal`] that explains why the URL may not be used.
pub fn validate(raw: &str, allowed: &[String]) -> Result<(), ReturnUrlRefusal> {
    if raw.is_empty() || raw.len() > MAX_LEN {
        return Err(ReturnUrlRefusal::Malformed);
    }
    if raw
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || c == '\\')
    {
        return Err(ReturnUrlRefusal::Malformed);
    }
    let (scheme, rest) = raw.split_once("://").ok_or(ReturnUrlRefusal::NotHttp)?;
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return Err(ReturnUrlRefusal::NotHttp);
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let plain = |b: u8| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b);
    if strip_port(authority).is_empty() || !authority.bytes().all(plain) {
        return Err(ReturnUrlRefusal::SuspiciousHost);
    }
    let url = Url::parse(raw).map_err(|_| ReturnUrlRefusal::Malformed)?;
    let host = url.host_str().ok_or(ReturnUrlRefusal::SuspiciousHost)?;
    // The parser and our own split must agree on the host, or one of them was fooled.
    let raw_host = strip_port(authority).to_ascii_lowercase();
    if host != raw_host || host.starts_with('.') || host.ends_with('.') || host.contains("..") {
        return Err(ReturnUrlRefusal::SuspiciousHost);
    }
    if allowed.iter().any(|d| host_matches(host, d)) {
        Ok(())
    } else {
        Err(ReturnUrlRefusal::HostNotAllowed)
    }
}

/// `host` equals `domain` or is a subdomain of it (both lowercase).
pub fn host_matches(host: &str, domain: &str) -> bool {
    host == domain
        || host
            .strip_suffix(domain)
            .is_some_and(|prefix| prefix.ends_with('.') && prefix.len() > 1)
}

/// `host:port` → `host`; `[v6]:port` → `[v6]`.
fn strip_port(authority: &str) -> &str {
    if authority.starts_with('[') {
        return authority.split_inclusive(']').next().unwrap_or(authority);
    }
    authority.split(':').next().unwrap_or(authority)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed() -> Vec<String> {
        vec![
            "example.test".into(),
            "auth.other.test".into(),
            "127.0.0.1".into(),
        ]
    }

    #[test]
    fn a_secure_cookie_reaches_https_and_loopback_only() {
        for (url, reaches) in [
            ("https://app.example.test/", true),
            ("http://app.example.test/", false),
            ("HTTP://app.example.test:8080/x", false),
            ("http://localhost:8080/", true),
            ("http://app.localhost/", true),
            ("http://127.0.0.1:3000/", true),
            ("http://[::1]/", true),
            ("http://127.example.test/", false),
        ] {
            assert_eq!(secure_cookie_reaches(url), reaches, "{url}");
        }
    }

    #[test]
    fn accepts_allowed_hosts_any_port_path_query_kept() {
        for ok in [
            "https://example.test/",
            "https://example.test",
            "http://app.example.test/some/path?q=1&x=%2F",
            "https://deep.app.example.test:8443/a/../b?c#frag",
            "HTTPS://APP.EXAMPLE.TEST/Upper",
            "https://auth.other.test/x",
            "http://127.0.0.1:8080/",
            "https://app.example.test/p%C3%A4th?q=%E2%9C%93",
            "https://app.example.test/?next=https://evil.test",
            "https://app.example.test/@evil.test",
        ] {
            assert_eq!(validate(ok, &allowed()), Ok(()), "{ok}");
        }
    }

    #[test]
    fn refuses_hostile_payloads() {
        let hostile = [
            ("", ReturnUrlRefusal::Malformed),
            ("//evil.test", ReturnUrlRefusal::NotHttp),
            ("/\\evil.test", ReturnUrlRefusal::Malformed),
            ("\\\\evil.test", ReturnUrlRefusal::Malformed),
            ("/relative/path", ReturnUrlRefusal::NotHttp),
            (
                "https://example.test@evil.test",
                ReturnUrlRefusal::SuspiciousHost,
            ),
            (
                "https://user:pw@app.example.test/",
                ReturnUrlRefusal::SuspiciousHost,
            ),
            (
                "https://evil.test#.example.test",
                ReturnUrlRefusal::HostNotAllowed,
            ),
            (
                "https://evil.test?.example.test",
                ReturnUrlRefusal::HostNotAllowed,
            ),
            (
                "https://evil.test/.example.test",
                ReturnUrlRefusal::HostNotAllowed,
            ),
            (
                "https://evil.test\\.example.test",
                ReturnUrlRefusal::Malformed,
            ),
            (
                "https://example.test\\@evil.test",
                ReturnUrlRefusal::Malformed,
            ),
            ("javascript:alert(1)", ReturnUrlRefusal::NotHttp),
            (
                "JaVaScRiPt:alert(1)//https://example.test",
                ReturnUrlRefusal::NotHttp,
            ),
            (
                "data:text/html,<script>alert(1)</script>",
                ReturnUrlRefusal::NotHttp,
            ),
            ("vbscript:msgbox(1)", ReturnUrlRefusal::NotHttp),
            ("ftp://app.example.test/", ReturnUrlRefusal::NotHttp),
            ("file:///etc/passwd", ReturnUrlRefusal::NotHttp),
            ("https:/evil.test", ReturnUrlRefusal::NotHttp),
            ("https:evil.test", ReturnUrlRefusal::NotHttp),
            (
                "https://evilexample.test/",
                ReturnUrlRefusal::HostNotAllowed,
            ),
            (
                "https://example.test.evil.test/",
                ReturnUrlRefusal::HostNotAllowed,
            ),
            ("https://.example.test/", ReturnUrlRefusal::SuspiciousHost),
            (
                "https://app.example.test./",
                ReturnUrlRefusal::SuspiciousHost,
            ),
            ("https://evil%2Etest/", ReturnUrlRefusal::SuspiciousHost),
            (
                "https://app.example.test%2F@evil.test",
                ReturnUrlRefusal::SuspiciousHost,
            ),
            (
                "https://evil.test%23.example.test",
                ReturnUrlRefusal::SuspiciousHost,
            ),
            (
                "https://evil.test%40app.example.test",
                ReturnUrlRefusal::SuspiciousHost,
            ),
            ("https://evil。test/", ReturnUrlRefusal::SuspiciousHost),
            (
                "https://app.example.test。evil.test/",
                ReturnUrlRefusal::SuspiciousHost,
            ),
            ("https://ⓔxample.test/", ReturnUrlRefusal::SuspiciousHost),
            (
                "https://xn--exmple-cua.test/",
                ReturnUrlRefusal::HostNotAllowed,
            ),
            (" https://app.example.test/", ReturnUrlRefusal::Malformed),
            (
                "https://app.example.test/\r\nSet-Cookie: x=1",
                ReturnUrlRefusal::Malformed,
            ),
            ("https://app.example.test/\tx", ReturnUrlRefusal::Malformed),
            (
                "https://evil.test\0.example.test/",
                ReturnUrlRefusal::Malformed,
            ),
            ("https://[::1]/", ReturnUrlRefusal::HostNotAllowed),
            ("https://2130706433/", ReturnUrlRefusal::SuspiciousHost),
            ("https://0x7f.0.0.1/", ReturnUrlRefusal::SuspiciousHost),
            ("https:///evil.test", ReturnUrlRefusal::SuspiciousHost),
            ("https://:443/", ReturnUrlRefusal::SuspiciousHost),
            (
                "http://evil.test:80@example.test/",
                ReturnUrlRefusal::SuspiciousHost,
            ),
            (
                "https://example.test:evil.test/",
                ReturnUrlRefusal::Malformed,
            ),
        ];
        assert!(hostile.len() >= 30);
        for (raw, want) in hostile {
            assert_eq!(validate(raw, &allowed()), Err(want), "{raw:?}");
        }
        assert_eq!(
            validate(
                &format!("https://example.test/{}", "a".repeat(9000)),
                &allowed()
            ),
            Err(ReturnUrlRefusal::Malformed)
        );
    }

    #[test]
    fn host_matches_table() {
        let cases = [
            ("example.test", "example.test", true),
            ("a.example.test", "example.test", true),
            ("a.b.example.test", "example.test", true),
            ("badexample.test", "example.test", false),
            (".example.test", "example.test", false),
            ("example.test.evil", "example.test", false),
            ("test", "example.test", false),
        ];
        for (host, domain, want) in cases {
            assert_eq!(host_matches(host, domain), want, "{host} under {domain}");
        }
    }
}
