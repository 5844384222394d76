//! Claims kept from the IdP and how a configured claim path finds a value in them.
//!
//! Pure: no I/O. A path is tried first as one literal key (claims such as
//! `https://example.com/roles` contain dots), then as a dot path into nested objects
//! (`realm_access.roles` in Keycloak).

use serde_json::{Map, Value};

/// The claims of one identity, as the IdP sent them (ID token merged with userinfo).
pub type Claims = Map<String, Value>;

/// Only the claims named in `needed` (what headers, rules and minted JWTs read): a session
/// keeps nothing else.
pub fn keep_needed(claims: impl IntoIterator<Item = (String, Value)>, needed: &[String]) -> Claims {
    claims
        .into_iter()
        .filter(|(k, _)| needed.contains(k))
        .collect()
}

/// A claim name or dot path, parsed once at startup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimPath {
    raw: String,
    segments: Vec<String>,
}

impl ClaimPath {
    /// Parses a claim name; `None` for an empty name or an empty path segment (`a..b`).
    pub fn parse(raw: &str) -> Option<Self> {
        let raw = raw.trim();
        let segments: Vec<String> = raw.split('.').map(str::to_owned).collect();
        if raw.is_empty() || segments.iter().any(String::is_empty) {
            return None;
        }
        Some(Self {
            raw: raw.to_owned(),
            segments,
        })
    }

    /// The name as configured.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The top-level claim this path reads, which is what a session must keep.
    pub fn root(&self) -> &str {
        self.segments
            .first()
            .map_or(self.raw.as_str(), String::as_str)
    }

    /// Finds the value at this path: the literal key first, then the dot path.
    pub fn lookup<'a>(&self, claims: &'a Claims) -> Option<&'a Value> {
        if let Some(v) = claims.get(&self.raw) {
            return Some(v);
        }
        let (first, rest) = self.segments.split_first()?;
        rest.iter()
            .try_fold(claims.get(first)?, |value, key| value.as_object()?.get(key))
    }
}

/// Renders a claim value as header text: strings as they are, numbers and booleans as
/// JSON text, arrays joined with `separator`, objects and null as nothing.
pub fn render(value: &Value, separator: &str) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Array(items) => items
            .iter()
            .filter(|v| !matches!(v, Value::Array(_) | Value::Object(_) | Value::Null))
            .map(|v| render(v, separator))
            .collect::<Vec<_>>()
            .join(separator),
        Value::Object(_) | Value::Null => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> Claims {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn parse_rejects_empty_names_and_segments() {
        for bad in ["", "  ", "a..b", ".a", "a."] {
            assert_eq!(ClaimPath::parse(bad), None, "{bad:?}");
        }
        assert_eq!(ClaimPath::parse(" email ").unwrap().as_str(), "email");
    }

    #[test]
    fn lookup_table() {
        let c = claims(json!({
            "email": "a@x.test",
            "realm_access": {"roles": ["admin", "user"]},
            "https://x.test/team": "blue",
            "n": {"deep": {"er": 3}},
        }));
        let cases: &[(&str, Option<Value>)] = &[
            ("email", Some(json!("a@x.test"))),
            ("realm_access.roles", Some(json!(["admin", "user"]))),
            ("https://x.test/team", Some(json!("blue"))),
            ("n.deep.er", Some(json!(3))),
            ("n.deep.missing", None),
            ("email.sub", None),
            ("missing", None),
        ];
        for (path, want) in cases {
            let got = ClaimPath::parse(path).unwrap().lookup(&c).cloned();
            assert_eq!(&got, want, "{path}");
        }
        assert_eq!(
            ClaimPath::parse("realm_access.roles").unwrap().root(),
            "realm_access"
        );
    }

    #[test]
    fn render_table() {
        let cases = [
            (json!("x"), "x"),
            (json!(["a", "b", 3, true]), "a,b,3,true"),
            (json!([["nested"], {"o": 1}, null, "ok"]), "ok"),
            (json!(12), "12"),
            (json!(false), "false"),
            (json!({"o": 1}), ""),
            (json!(null), ""),
            (json!([]), ""),
        ];
        for (value, want) in cases {
            assert_eq!(render(&value, ","), want, "{value}");
        }
        assert_eq!(render(&json!(["a", "b"]), "; "), "a; b");
    }
}
