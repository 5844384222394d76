//! Return-URL (`rd`) validation: the open-redirect guard.
//!
//! Pure: no I/O. A return URL is accepted only when it is an absolute http(s) URL whose
//! host is, or is under, an allowed domain. The raw text is checked as well as the parsed
//! URL, because a parser silently repairs what a browser may read differently (`\` → `/`,
//! percent-decoding in hosts, IDNA mapping). Callers redirect with the original bytes.

use url::Url;

/// Why a return URL was refused; the text is safe to show and to log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Empty, too long, or containing whitespace, control characters or backslashes.
    Malformed,
    /// Not an absolute `http://` or `https://` URL.
    NotHttp,
    /// Userinfo, percent-encoding or other characters that do not belong in a host.
    SuspiciousHost,
    /// The host is not an allowed domain or under one.
    HostNotAllowed,
}

impl Refusal {
    /// A short explanation for people.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::Malformed => "the return URL is malformed",
            Refusal::NotHttp => "the return URL must be an absolute http(s) URL",
            Refusal::SuspiciousHost => "the return URL's host part is not a plain host name",
            Refusal::HostNotAllowed => "the return URL points to a host that is not allowed",
        }
    }
}

/// Longest return URL accepted (browsers and proxies cap URLs around 8 KiB).
const MAX_LEN: usize = 8192;

/// Checks `raw` against `allowed` (hosts or parent domains, lowercase).
///
/// # Errors
/// The [`Refusal`] that explains why the URL may not be used.
pub fn validate(raw: &str, allowed: &[String]) -> Result<(), Refusal> {
    if raw.is_empty() || raw.len() > MAX_LEN {
        return Err(Refusal::Malformed);
    }
    if raw
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || c == '\\')
    {
        return Err(Refusal::Malformed);
    }
    let (scheme, rest) = raw.split_once("://").ok_or(Refusal::NotHttp)?;
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return Err(Refusal::NotHttp);
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let plain = |b: u8| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b);
    if strip_port(authority).is_empty() || !authority.bytes().all(plain) {
        return Err(Refusal::SuspiciousHost);
    }
    let url = Url::parse(raw).map_err(|_| Refusal::Malformed)?;
    let host = url.host_str().ok_or(Refusal::SuspiciousHost)?;
    // The parser and our own split must agree on the host, or one of them was fooled.
    let raw_host = strip_port(authority).to_ascii_lowercase();
    if host != raw_host || host.starts_with('.') || host.ends_with('.') || host.contains("..") {
        return Err(Refusal::SuspiciousHost);
    }
    if allowed.iter().any(|d| host_matches(host, d)) {
        Ok(())
    } else {
        Err(Refusal::HostNotAllowed)
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
            ("", Refusal::Malformed),
            ("//evil.test", Refusal::NotHttp),
            ("/\\evil.test", Refusal::Malformed),
            ("\\\\evil.test", Refusal::Malformed),
            ("/relative/path", Refusal::NotHttp),
            ("https://example.test@evil.test", Refusal::SuspiciousHost),
            ("https://user:pw@app.example.test/", Refusal::SuspiciousHost),
            ("https://evil.test#.example.test", Refusal::HostNotAllowed),
            ("https://evil.test?.example.test", Refusal::HostNotAllowed),
            ("https://evil.test/.example.test", Refusal::HostNotAllowed),
            ("https://evil.test\\.example.test", Refusal::Malformed),
            ("https://example.test\\@evil.test", Refusal::Malformed),
            ("javascript:alert(1)", Refusal::NotHttp),
            (
                "JaVaScRiPt:alert(1)//https://example.test",
                Refusal::NotHttp,
            ),
            ("data:text/html,<script>alert(1)</script>", Refusal::NotHttp),
            ("vbscript:msgbox(1)", Refusal::NotHttp),
            ("ftp://app.example.test/", Refusal::NotHttp),
            ("file:///etc/passwd", Refusal::NotHttp),
            ("https:/evil.test", Refusal::NotHttp),
            ("https:evil.test", Refusal::NotHttp),
            ("https://evilexample.test/", Refusal::HostNotAllowed),
            ("https://example.test.evil.test/", Refusal::HostNotAllowed),
            ("https://.example.test/", Refusal::SuspiciousHost),
            ("https://app.example.test./", Refusal::SuspiciousHost),
            ("https://evil%2Etest/", Refusal::SuspiciousHost),
            (
                "https://app.example.test%2F@evil.test",
                Refusal::SuspiciousHost,
            ),
            ("https://evil.test%23.example.test", Refusal::SuspiciousHost),
            (
                "https://evil.test%40app.example.test",
                Refusal::SuspiciousHost,
            ),
            ("https://evil。test/", Refusal::SuspiciousHost),
            (
                "https://app.example.test。evil.test/",
                Refusal::SuspiciousHost,
            ),
            ("https://ⓔxample.test/", Refusal::SuspiciousHost),
            ("https://xn--exmple-cua.test/", Refusal::HostNotAllowed),
            (" https://app.example.test/", Refusal::Malformed),
            (
                "https://app.example.test/\r\nSet-Cookie: x=1",
                Refusal::Malformed,
            ),
            ("https://app.example.test/\tx", Refusal::Malformed),
            ("https://evil.test\0.example.test/", Refusal::Malformed),
            ("https://[::1]/", Refusal::HostNotAllowed),
            ("https://2130706433/", Refusal::SuspiciousHost),
            ("https://0x7f.0.0.1/", Refusal::SuspiciousHost),
            ("https:///evil.test", Refusal::SuspiciousHost),
            ("https://:443/", Refusal::SuspiciousHost),
            ("http://evil.test:80@example.test/", Refusal::SuspiciousHost),
            ("https://example.test:evil.test/", Refusal::Malformed),
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
            Err(Refusal::Malformed)
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
