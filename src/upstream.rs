//! Turns an allowed identity into the headers the proxy copies to the app.
//!
//! Pure: no I/O. Only configured headers are ever produced (an allowlist of
//! claim → header), every configured header is always produced (empty when the claim is
//! missing: Caddy 2.6 would otherwise pass a literal placeholder), and values never carry
//! control characters (no header injection through a claim).

use http::{HeaderName, HeaderValue};

use crate::claims::{self, ClaimPath, Claims};

/// One identity header: its name, the claim it reads, and how arrays are joined.
#[derive(Debug, Clone)]
pub struct HeaderRule {
    /// Header name sent to the proxy.
    pub name: HeaderName,
    /// Claims tried in order; the first one present gives the value.
    pub claims: Vec<ClaimPath>,
    /// Separator for array values (groups).
    pub separator: String,
}

impl HeaderRule {
    /// The value of this header for `claims`: the first present claim, rendered and cleaned.
    pub fn value(&self, claims: &Claims) -> HeaderValue {
        self.value_encoded(claims, Encoding::Utf8)
    }

    /// The same, with non-ASCII text written as `encoding` says.
    pub fn value_encoded(&self, claims: &Claims, encoding: Encoding) -> HeaderValue {
        let text = self
            .claims
            .iter()
            .find_map(|path| path.lookup(claims))
            .map(|v| claims::render(v, &self.separator))
            .unwrap_or_default();
        encoding.header_value(&text)
    }
}

/// How identity header values carry non-ASCII text (`josé`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Encoding {
    /// The UTF-8 bytes as they are (what most apps decode).
    #[default]
    Utf8,
    /// Percent-encoded UTF-8 (`jos%C3%A9`), `%` itself included.
    Percent,
    /// RFC 2047 encoded-word (`=?UTF-8?B?am9zw6k=?=`) when not plain ASCII.
    Rfc2047,
}

impl Encoding {
    /// Parses `utf8`, `percent` or `rfc2047`.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "utf8" | "utf-8" | "raw" => Some(Self::Utf8),
            "percent" => Some(Self::Percent),
            "rfc2047" => Some(Self::Rfc2047),
            _ => None,
        }
    }

    /// `text` as a header value in this encoding; control characters are removed first.
    pub fn header_value(self, text: &str) -> HeaderValue {
        let clean = without_controls(text);
        match self {
            Self::Utf8 => clean_value(&clean),
            Self::Percent => {
                const SET: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS.add(b'%');
                clean_value(&percent_encoding::utf8_percent_encode(&clean, SET).to_string())
            }
            Self::Rfc2047 if clean.is_ascii() => clean_value(&clean),
            Self::Rfc2047 => {
                use base64::Engine;
                let b64 = base64::engine::general_purpose::STANDARD.encode(clean.as_bytes());
                clean_value(&format!("=?UTF-8?B?{b64}?="))
            }
        }
    }
}

/// Builds a header value from text, dropping control characters (CR, LF, NUL, DEL, …).
pub fn header_value(text: &str) -> HeaderValue {
    clean_value(&without_controls(text))
}

/// `text` without control characters (Unicode's Cc: U+0000–U+001F, U+007F–U+009F);
/// borrowed when it has none, which is nearly always (no copy on the hot path).
fn without_controls(text: &str) -> std::borrow::Cow<'_, str> {
    let ascii_control = |b: u8| b < 0x20 || b == 0x7f;
    let has_control =
        text.bytes().any(ascii_control) || (!text.is_ascii() && text.chars().any(char::is_control));
    if has_control {
        text.chars()
            .filter(|c| !c.is_control())
            .collect::<String>()
            .into()
    } else {
        text.into()
    }
}

/// A header value from text that holds no control characters.
fn clean_value(clean: &str) -> HeaderValue {
    // Every remaining byte is valid in a header value (visible ASCII, space, or UTF-8
    // bytes >= 0x80, which http accepts as obs-text).
    HeaderValue::from_bytes(clean.as_bytes()).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// A header name usable for identity headers: valid and not one the proxy or HTTP owns;
/// a problem naming `var` otherwise.
pub fn header_name(var: &str, raw: &str, problems: &mut Vec<String>) -> Option<HeaderName> {
    const RESERVED: &[&str] = &[
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
        "upgrade",
        "location",
        "set-cookie",
        "cookie",
        "keep-alive",
        "te",
        "trailer",
        "proxy-connection",
    ];
    match HeaderName::from_bytes(raw.trim().as_bytes()) {
        Ok(name) if RESERVED.contains(&name.as_str()) => {
            problems.push(format!("{var}: `{raw}` is a header HTTP or the proxy owns; choose another name such as X-Forwarded-User"));
            None
        }
        Ok(name) => Some(name),
        Err(_) => {
            problems.push(format!(
                "{var}: `{raw}` is not a valid header name (letters, digits and '-' only)"
            ));
            None
        }
    }
}

/// Identity headers apps commonly trust (Authelia's `Remote-*`, oauth2-proxy's
/// `X-Auth-Request-*` and `X-Forwarded-*`, Authentik's `X-authentik-*`, Borg UI's fallbacks).
/// Every example strips the client's copies of all of them before the request reaches the
/// app, bypass paths included (the proxy copies sidegate's value where sidegate sets one);
/// `tests/it/edges.rs` checks that each example lists every name.
pub const TRUSTED_ELSEWHERE: &[&str] = &[
    "remote-user",
    "remote-email",
    "remote-groups",
    "remote-name",
    "x-remote-user",
    "x-forwarded-user",
    "x-forwarded-email",
    "x-forwarded-groups",
    "x-forwarded-preferred-username",
    "x-forwarded-access-token",
    "x-auth-request-user",
    "x-auth-request-email",
    "x-auth-request-groups",
    "x-auth-request-preferred-username",
    "x-auth-request-access-token",
    "x-authentik-username",
    "x-authentik-email",
    "x-authentik-groups",
    "x-authentik-name",
    "x-authentik-uid",
    "x-authentik-jwt",
    "x-webauth-user",
];

/// When a mapping rule matches.
#[derive(Debug, Clone)]
pub enum Condition {
    /// The user is in any of these groups.
    InGroups {
        /// Where groups are read.
        claim: ClaimPath,
        /// Any of these.
        any_of: Vec<String>,
    },
    /// A claim (or any element of an array claim) equals any of these values.
    ClaimEquals {
        /// The claim.
        claim: ClaimPath,
        /// Any of these.
        any_of: Vec<String>,
    },
}

impl Condition {
    fn holds(&self, claims: &Claims) -> bool {
        let (claim, any_of) = match self {
            Condition::InGroups { claim, any_of } | Condition::ClaimEquals { claim, any_of } => {
                (claim, any_of)
            }
        };
        match claim.lookup(claims) {
            Some(serde_json::Value::Array(items)) => items.iter().any(|i| matches_any(i, any_of)),
            Some(v) => matches_any(v, any_of),
            None => false,
        }
    }
}

fn matches_any(v: &serde_json::Value, any_of: &[String]) -> bool {
    let text = claims::render(v, ",");
    !text.is_empty() && any_of.contains(&text)
}

/// A header whose value comes from the first matching rule (e.g. Borg UI's role).
#[derive(Debug, Clone)]
pub struct Mapping {
    /// Header name.
    pub header: HeaderName,
    /// Rules tried in order.
    pub rules: Vec<(Condition, HeaderValue)>,
    /// Value when no rule matches.
    pub default: HeaderValue,
}

impl Mapping {
    /// The value for `claims`.
    pub fn value(&self, claims: &Claims) -> HeaderValue {
        self.rules
            .iter()
            .find(|(c, _)| c.holds(claims))
            .map_or_else(|| self.default.clone(), |(_, v)| v.clone())
    }
}

/// The identity headers for `claims`, one per rule, in rule order.
pub fn identity_headers(
    rules: &[HeaderRule],
    claims: &Claims,
    encoding: Encoding,
) -> Vec<(HeaderName, HeaderValue)> {
    rules
        .iter()
        .map(|rule| (rule.name.clone(), rule.value_encoded(claims, encoding)))
        .collect()
}

/// The top-level claims a session must keep so that every rule can be answered later.
pub fn needed_claims(rules: &[HeaderRule]) -> Vec<String> {
    let mut names: Vec<String> = rules
        .iter()
        .flat_map(|r| r.claims.iter().map(|c| c.root().to_owned()))
        .collect();
    names.sort();
    names.dedup();
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn non_ascii_values_in_each_encoding() {
        let cases = [
            (Encoding::Utf8, "josé", "josé"),
            (Encoding::Percent, "josé 100%", "jos%C3%A9 100%25"),
            (Encoding::Rfc2047, "josé", "=?UTF-8?B?am9zw6k=?="),
            (Encoding::Rfc2047, "plain", "plain"),
            (Encoding::Percent, "a\r\nX-Evil: 1", "aX-Evil: 1"),
            (Encoding::Rfc2047, "é\r\n", "=?UTF-8?B?w6k=?="),
            (Encoding::Utf8, "tab\there\u{7f}", "tabhere"),
            (Encoding::Utf8, "next\u{85}line\u{9f}é", "nextlineé"),
            (Encoding::Utf8, "ünchanged text", "ünchanged text"),
        ];
        for (encoding, text, want) in cases {
            let got = encoding.header_value(text);
            assert_eq!(
                String::from_utf8_lossy(got.as_bytes()),
                want,
                "{encoding:?} {text:?}"
            );
        }
        assert_eq!(Encoding::parse("RFC2047"), Some(Encoding::Rfc2047));
        assert_eq!(Encoding::parse("latin1"), None);
    }

    fn rule(name: &str, claims: &[&str]) -> HeaderRule {
        HeaderRule {
            name: HeaderName::from_bytes(name.as_bytes()).unwrap(),
            claims: claims
                .iter()
                .map(|c| ClaimPath::parse(c).unwrap())
                .collect(),
            separator: ",".into(),
        }
    }

    #[test]
    fn builds_every_header_in_order_empty_when_missing() {
        let rules = [
            rule("X-Forwarded-User", &["preferred_username", "sub"]),
            rule("X-Forwarded-Email", &["email"]),
            rule("X-Forwarded-Groups", &["groups"]),
            rule("X-Roles", &["realm_access.roles"]),
        ];
        let claims = json!({"sub": "u1", "groups": ["a", "b"], "email": "e@x.test"});
        let got = identity_headers(&rules, claims.as_object().unwrap(), Encoding::Utf8);
        let got: Vec<(String, String)> = got
            .into_iter()
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_owned()))
            .collect();
        let want = [
            ("x-forwarded-user", "u1"),
            ("x-forwarded-email", "e@x.test"),
            ("x-forwarded-groups", "a,b"),
            ("x-roles", ""),
        ];
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(a, b)| ((*a).into(), (*b).into()))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn control_characters_are_removed() {
        let cases = [
            ("alice\r\nX-Admin: 1", "aliceX-Admin: 1"),
            ("a\0b", "ab"),
            ("tab\there", "tabhere"),
            ("del\u{7f}", "del"),
            ("Zoë", "Zoë"),
        ];
        for (input, want) in cases {
            let v = header_value(input);
            assert_eq!(v.as_bytes(), want.as_bytes(), "{input:?}");
        }
    }

    #[test]
    fn mapping_first_match_wins_with_default() {
        let groups = ClaimPath::parse("groups").unwrap();
        let m = Mapping {
            header: HeaderName::from_static("x-borg-role"),
            rules: vec![
                (
                    Condition::InGroups {
                        claim: groups.clone(),
                        any_of: vec!["borg-admins".into()],
                    },
                    HeaderValue::from_static("admin"),
                ),
                (
                    Condition::InGroups {
                        claim: groups,
                        any_of: vec!["ops".into(), "borg-admins".into()],
                    },
                    HeaderValue::from_static("operator"),
                ),
                (
                    Condition::ClaimEquals {
                        claim: ClaimPath::parse("email").unwrap(),
                        any_of: vec!["boss@x.test".into()],
                    },
                    HeaderValue::from_static("admin"),
                ),
            ],
            default: HeaderValue::from_static("viewer"),
        };
        let cases = [
            (json!({"groups": ["ops", "borg-admins"]}), "admin"),
            (json!({"groups": ["ops"]}), "operator"),
            (json!({"groups": "ops"}), "operator"),
            (json!({"groups": ["borg-admins-not"]}), "viewer"),
            (json!({"email": "boss@x.test"}), "admin"),
            (json!({"groups": []}), "viewer"),
            (json!({}), "viewer"),
        ];
        for (claims, want) in cases {
            assert_eq!(m.value(claims.as_object().unwrap()), want, "{claims}");
        }
    }

    #[test]
    fn needed_claims_are_roots_deduplicated() {
        let rules = [
            rule("A", &["preferred_username", "sub"]),
            rule("B", &["realm_access.roles"]),
            rule("C", &["sub"]),
        ];
        assert_eq!(
            needed_claims(&rules),
            ["preferred_username", "realm_access", "sub"]
        );
    }
}
