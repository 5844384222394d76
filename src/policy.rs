//! Access rules of an app profile, compiled at startup; pure matching.
//!
//! No I/O, no clock. A profile may let some paths through without a session (bypass),
//! limit methods, and require the user to be in a group, be a listed user, have a listed
//! email, or an email in a listed domain (any one of them suffices).

use regex::Regex;

use crate::claims::{ClaimPath, Claims};

/// A path that needs no session.
#[derive(Debug, Clone)]
pub enum PathMatch {
    /// The path equals this.
    Exact(String),
    /// The path starts with this.
    Prefix(String),
    /// The path matches this regular expression.
    Regex(Regex),
}

/// Access rules of one profile.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    /// Any of these groups admits the user.
    pub groups: Vec<String>,
    /// Any of these user names (user claim or `sub`) admits the user.
    pub users: Vec<String>,
    /// Any of these emails (lowercase) admits the user.
    pub emails: Vec<String>,
    /// An email in any of these domains (lowercase) admits the user.
    pub email_domains: Vec<String>,
    /// Paths answered without a session (and without identity or credential).
    pub bypass: Vec<PathMatch>,
    /// The app's own logout endpoints: they end the SSO session too.
    pub logout: Vec<PathMatch>,
    /// Allowed methods (uppercase); `None` allows all.
    pub methods: Option<Vec<String>>,
    /// Where groups are read.
    pub groups_claim: Option<ClaimPath>,
    /// Where the user name is read (tried in order).
    pub user_claims: Vec<ClaimPath>,
    /// Where the email is read.
    pub email_claim: Option<ClaimPath>,
}

impl Rules {
    /// Whether `uri` (path and query) is a bypass path. Paths a server might read
    /// differently from us (dot segments, encoded `.`, `/` or `\`, backslashes) never
    /// bypass: they fall back to requiring a session.
    pub fn bypasses(&self, uri: &str) -> bool {
        matches_path(&self.bypass, uri)
    }

    /// Whether `uri` is one of the app's own logout endpoints (same matching as `bypass`:
    /// an ambiguous path is never one).
    pub fn is_logout_path(&self, uri: &str) -> bool {
        matches_path(&self.logout, uri)
    }

    /// Whether `method` is allowed.
    pub fn method_allowed(&self, method: &str) -> bool {
        self.methods
            .as_ref()
            .is_none_or(|m| m.iter().any(|x| x == method))
    }

    /// The user's groups, read from the profile's groups claim.
    pub fn groups_of(&self, claims: &Claims) -> Vec<String> {
        values(self.groups_claim.as_ref().and_then(|c| c.lookup(claims))).collect()
    }

    /// Whether the user behind `sub` and `claims` may use the app.
    ///
    /// # Errors
    /// The reason for the log when no rule admits the user.
    pub fn permits(&self, sub: &str, claims: &Claims) -> Result<(), &'static str> {
        let open = self.groups.is_empty()
            && self.users.is_empty()
            && self.emails.is_empty()
            && self.email_domains.is_empty();
        if open {
            return Ok(());
        }
        if !self.groups.is_empty() {
            let groups = self.groups_claim.as_ref().and_then(|c| c.lookup(claims));
            if values(groups).any(|g| self.groups.contains(&g)) {
                return Ok(());
            }
        }
        if !self.users.is_empty() {
            let names = self
                .user_claims
                .iter()
                .filter_map(|c| c.lookup(claims))
                .flat_map(|v| values(Some(v)));
            if names
                .chain(std::iter::once(sub.to_owned()))
                .any(|n| self.users.contains(&n))
            {
                return Ok(());
            }
        }
        let email = self
            .email_claim
            .as_ref()
            .and_then(|c| c.lookup(claims))
            .and_then(|v| v.as_str())
            .map(str::to_ascii_lowercase);
        if let Some(email) = email {
            // Only a verified address counts when the IdP says whether it is verified.
            let verified = claims
                .get("email_verified")
                .and_then(|v| v.as_bool())
                .unwrap_or(true);
            if verified && self.emails.contains(&email) {
                return Ok(());
            }
            // Exactly one `@`: `a@evil.test@example.test` is no address at example.test.
            let domain = email
                .split_once('@')
                .map(|(_, d)| d)
                .filter(|d| !d.contains('@'));
            if verified && domain.is_some_and(|d| self.email_domains.iter().any(|want| want == d)) {
                return Ok(());
            }
        }
        Err("no access rule of this app admits the user (groups, users, emails, email domains)")
    }
}

/// The string values of a claim: a string, or the strings of an array.
fn values(v: Option<&serde_json::Value>) -> impl Iterator<Item = String> + '_ {
    let items: Vec<String> = match v {
        Some(serde_json::Value::String(s)) => vec![s.clone()],
        Some(serde_json::Value::Array(a)) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    };
    items.into_iter()
}

/// The path of `uri` (without query or fragment).
pub fn path_of(uri: &str) -> &str {
    uri.split(['?', '#']).next().unwrap_or_default()
}

/// Whether servers might read `path` differently from us: backslashes, `//`, encoded `.`,
/// `/`, `\` or NUL, and dot segments, also with path parameters (`..;x`, which Tomcat and
/// Spring read as `..`).
pub fn ambiguous(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    path.contains('\\')
        || path.contains("//")
        || ["%2e", "%2f", "%5c", "%00"]
            .iter()
            .any(|e| lower.contains(e))
        || path.split('/').any(|seg| {
            let seg = seg.split(';').next().unwrap_or(seg);
            seg == "." || seg == ".."
        })
}

/// `path` as per-path rules compare it: percent-encoded letters, digits, `-`, `_` and `~`
/// decoded (an app reads `/%61dmin` as `/admin`), in lowercase (so `/ADMIN` counts as
/// `/admin`, for apps whose routes ignore case). Only for paths that are not [`ambiguous`].
pub fn normalized(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let decoded = (b == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok())
            .filter(|c| c.is_ascii_alphanumeric() || b"-_~".contains(c));
        match decoded {
            Some(c) => {
                out.push(c.to_ascii_lowercase());
                i += 3;
            }
            None => {
                out.push(b.to_ascii_lowercase());
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Whether the path of `uri` matches one of `list`. Paths a server might read differently
/// from us (dot segments, encoded `.`, `/` or `\`, backslashes) never match.
fn matches_path(list: &[PathMatch], uri: &str) -> bool {
    if list.is_empty() {
        return false;
    }
    let path = path_of(uri);
    if ambiguous(path) {
        return false;
    }
    list.iter().any(|m| match m {
        PathMatch::Exact(p) => path == p,
        PathMatch::Prefix(p) => path.starts_with(p.as_str()),
        PathMatch::Regex(r) => r.is_match(path),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rules() -> Rules {
        Rules {
            groups: vec!["admins".into()],
            users: vec!["dave".into()],
            emails: vec!["erin@x.test".into()],
            email_domains: vec!["partner.test".into()],
            groups_claim: ClaimPath::parse("groups"),
            user_claims: vec![ClaimPath::parse("preferred_username").unwrap()],
            email_claim: ClaimPath::parse("email"),
            ..Rules::default()
        }
    }

    #[test]
    fn permits_table() {
        let cases = [
            ("a", json!({"groups": ["staff", "admins"]}), true),
            ("a", json!({"groups": "admins"}), true),
            ("a", json!({"groups": ["Admins"]}), false),
            ("a", json!({"groups": ["staff"]}), false),
            ("a", json!({"preferred_username": "dave"}), true),
            ("dave", json!({}), true),
            ("a", json!({"email": "Erin@X.test"}), true),
            (
                "a",
                json!({"email": "erin@x.test", "email_verified": false}),
                false,
            ),
            ("a", json!({"email": "carol@partner.test"}), true),
            ("a", json!({"email": "carol@evilpartner.test"}), false),
            ("a", json!({"email": "carol@partner.test.evil"}), false),
            ("a", json!({"email": "partner.test"}), false),
            ("a", json!({}), false),
        ];
        for (sub, claims, want) in cases {
            let got = rules().permits(sub, claims.as_object().unwrap()).is_ok();
            assert_eq!(got, want, "{sub} {claims}");
        }
        assert!(
            Rules::default().permits("anyone", &Claims::new()).is_ok(),
            "no rules: any signed-in user"
        );
    }

    #[test]
    fn bypass_and_methods() {
        let r = Rules {
            bypass: vec![
                PathMatch::Exact("/health".into()),
                PathMatch::Prefix("/public/".into()),
                PathMatch::Regex(Regex::new("^/api/v[0-9]+/status$").unwrap()),
            ],
            methods: Some(vec!["GET".into(), "HEAD".into()]),
            ..Rules::default()
        };
        let cases = [
            ("/health", true),
            ("/health?x=1", true),
            ("/health/x", false),
            ("/public/a.css", true),
            ("/public", false),
            ("/api/v2/status", true),
            ("/api/v2/status/x", false),
            ("/public/../admin", false),
            ("/public/%2e%2e/admin", false),
            ("/public/%2E%2E/admin", false),
            ("/public/..%2fadmin", false),
            ("/public/.%2e/admin", false),
            ("/public\\..\\admin", false),
            ("/public//x", false),
            ("/public/./x", false),
            ("/public/..;/admin", false),
            ("/public/..;jsessionid=x/admin", false),
            ("/public/.;/x", false),
            ("/public/a;b/x", true),
            ("/admin", false),
        ];
        for (uri, want) in cases {
            assert_eq!(r.bypasses(uri), want, "{uri}");
        }
        assert!(!Rules::default().bypasses("/health"));
        assert!(r.method_allowed("GET") && !r.method_allowed("POST"));
        assert!(Rules::default().method_allowed("DELETE"));
    }

    #[test]
    fn normalized_decodes_unreserved_and_lowercases() {
        let cases = [
            ("/Admin/X", "/admin/x"),
            ("/%61dmin/", "/admin/"),
            ("/%41DMIN", "/admin"),
            ("/a%7Eb%2D", "/a~b-"),
            ("/a%20b", "/a%20b"),
            ("/a%3Fb", "/a%3fb"),
            ("/bad%zz%4", "/bad%zz%4"),
            ("/caf\u{e9}", "/caf\u{e9}"),
        ];
        for (path, want) in cases {
            assert_eq!(normalized(path), want, "{path}");
        }
    }
}
