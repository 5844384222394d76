//! The one upstream credential a profile adds to allowed requests. Secrets are resolved at
//! startup (from env or files), kept in sensitive header values, and never logged.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use http::{HeaderName, HeaderValue};
use serde_json::{Map, Value};

use crate::claims::{self, ClaimPath, Claims};
use crate::token::Signer;

/// Whose token a [`Kind::UserToken`] passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// The user's access token.
    Access,
    /// The user's ID token.
    Id,
}

/// The user name of HTTP Basic credentials.
#[derive(Debug, Clone)]
pub enum BasicUser {
    /// The same user for everyone (value precomputed).
    Fixed(HeaderValue),
    /// The signed-in user's claim.
    Claim(ClaimPath),
}

/// A minted-JWT credential.
#[derive(Debug, Clone)]
pub struct JwtCredential {
    /// Signing key and algorithm.
    pub signer: Signer,
    /// `iss`: sidegate's public URL.
    pub issuer: String,
    /// `aud`.
    pub audience: String,
    /// Seconds until `exp`.
    pub lifetime: u64,
    /// Extra claims: output name ← session claim.
    pub claims: Vec<(String, ClaimPath)>,
}

impl JwtCredential {
    /// The claims of a token for `sub` at `now`.
    pub fn claims(&self, sub: &str, session_claims: &Claims, now: u64) -> Map<String, Value> {
        let mut c = Map::new();
        for (name, path) in &self.claims {
            if let Some(v) = path.lookup(session_claims) {
                c.insert(name.clone(), v.clone());
            }
        }
        c.insert("iss".into(), self.issuer.clone().into());
        c.insert("sub".into(), sub.into());
        c.insert("aud".into(), self.audience.clone().into());
        c.insert("iat".into(), now.into());
        c.insert("nbf".into(), now.into());
        c.insert("exp".into(), now.saturating_add(self.lifetime).into());
        c
    }
}

/// What kind of credential, with its secret material.
#[derive(Debug, Clone)]
pub enum Kind {
    /// A fixed value (`Bearer <token>`, `PreAuth <token>`), precomputed and sensitive.
    Static(HeaderValue),
    /// HTTP Basic with a fixed or per-user name.
    Basic {
        /// The user name.
        user: BasicUser,
        /// The password.
        password: crate::secret::Secret<String>,
    },
    /// The user's own token, with an optional scheme (`Bearer`).
    UserToken {
        /// Which token.
        kind: TokenKind,
        /// Prefix such as `Bearer`; empty for the bare token.
        scheme: String,
    },
    /// A JWT minted per session, with an optional scheme.
    Jwt {
        /// How to mint it.
        jwt: Box<JwtCredential>,
        /// Prefix such as `Bearer`.
        scheme: String,
    },
}

/// A credential and the header it goes in.
#[derive(Debug, Clone)]
pub struct Credential {
    /// Header name (`Authorization`, `Authentication`, …).
    pub header: HeaderName,
    /// The credential.
    pub kind: Kind,
}

impl Credential {
    /// Which credential this is, without its value: type, header and a fixed Basic user
    /// (for the audit trail: `basic Authorization (user admin)`).
    pub fn label(&self) -> String {
        let kind = match &self.kind {
            Kind::Static(_) => "static".to_owned(),
            Kind::Basic {
                user: BasicUser::Fixed(u),
                ..
            } => format!("basic (user {})", u.to_str().unwrap_or("?")),
            Kind::Basic { .. } => "basic (the user's own name)".to_owned(),
            Kind::UserToken {
                kind: TokenKind::Access,
                ..
            } => "access_token".to_owned(),
            Kind::UserToken { .. } => "id_token".to_owned(),
            Kind::Jwt { .. } => "jwt".to_owned(),
        };
        format!("{kind} {}", self.header)
    }
}

/// `scheme token` or just `token`, as a sensitive header value.
pub fn with_scheme(scheme: &str, token: &str) -> Option<HeaderValue> {
    let text = if scheme.is_empty() {
        token.to_owned()
    } else {
        format!("{scheme} {token}")
    };
    let mut v = HeaderValue::from_str(&text).ok()?;
    v.set_sensitive(true);
    Some(v)
}

/// Whether a user name from a claim may go out in HTTP Basic: printable ASCII (inner spaces
/// allowed), nothing around it, no `:` (RFC 7617 cannot carry one). Apps canonicalise the
/// names they receive (trim, Unicode folding, Latin-1 or UTF-8 decoding, cut at `:`), so a
/// name that is not already in its one plain form could land on another person's account
/// (Authelia #12170); such a session gets no credential, and the app refuses it.
pub fn canonical_basic_user(user: &str) -> bool {
    !user.is_empty()
        && user.trim() == user
        && !user.contains(':')
        && user.chars().all(|c| c.is_ascii_graphic() || c == ' ')
}

/// `Basic base64(user:password)`.
pub fn basic(user: &str, password: &str) -> Option<HeaderValue> {
    with_scheme("Basic", &STANDARD.encode(format!("{user}:{password}")))
}

impl Credential {
    /// The header value for a session whose claims and tokens are given, for the kinds
    /// that need no signing (`None` for JWTs, which the caller mints and caches, and when
    /// the session lacks what is needed).
    pub fn simple_value(
        &self,
        claims: &Claims,
        access_token: Option<&str>,
        id_token: Option<&str>,
    ) -> Option<HeaderValue> {
        match &self.kind {
            Kind::Static(v) => Some(v.clone()),
            Kind::Basic {
                user: BasicUser::Fixed(v),
                ..
            } => Some(v.clone()),
            Kind::Basic {
                user: BasicUser::Claim(path),
                password,
            } => {
                let user = claims::render(path.lookup(claims)?, ",");
                canonical_basic_user(&user).then(|| basic(&user, password.expose()))?
            }
            Kind::UserToken { kind, scheme } => {
                let token = match kind {
                    TokenKind::Access => access_token?,
                    TokenKind::Id => id_token?,
                };
                with_scheme(scheme, token)
            }
            Kind::Jwt { .. } => None,
        }
    }

    /// Which of the user's tokens a session must keep for this credential.
    pub fn token_needed(&self) -> Option<TokenKind> {
        match &self.kind {
            Kind::UserToken { kind, .. } => Some(*kind),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cred(kind: Kind) -> Credential {
        Credential {
            header: HeaderName::from_static("authorization"),
            kind,
        }
    }

    #[test]
    fn simple_values_table() {
        let claims = json!({"preferred_username": "alice", "bad": "a:b", "padded": "admin ", "wide": "\u{ff41}dmin"});
        let claims = claims.as_object().unwrap();
        let basic_fixed = Kind::Basic {
            user: BasicUser::Fixed(basic("admin", "pw").unwrap()),
            password: crate::secret::Secret::new("pw".into()),
        };
        let basic_claim = |c: &str| Kind::Basic {
            user: BasicUser::Claim(ClaimPath::parse(c).unwrap()),
            password: crate::secret::Secret::new("pw".into()),
        };
        let cases: Vec<(Kind, Option<&str>)> = vec![
            (
                Kind::Static(with_scheme("Bearer", "forever").unwrap()),
                Some("Bearer forever"),
            ),
            (
                Kind::Static(with_scheme("PreAuth", "tok").unwrap()),
                Some("PreAuth tok"),
            ),
            (basic_fixed, Some("Basic YWRtaW46cHc=")),
            (
                basic_claim("preferred_username"),
                Some("Basic YWxpY2U6cHc="),
            ),
            (basic_claim("bad"), None),
            (basic_claim("padded"), None),
            (basic_claim("wide"), None),
            (basic_claim("missing"), None),
            (
                Kind::UserToken {
                    kind: TokenKind::Access,
                    scheme: "Bearer".into(),
                },
                Some("Bearer at"),
            ),
            (
                Kind::UserToken {
                    kind: TokenKind::Id,
                    scheme: String::new(),
                },
                Some("idt"),
            ),
        ];
        for (kind, want) in cases {
            let c = cred(kind);
            let got = c.simple_value(claims, Some("at"), Some("idt"));
            assert_eq!(got.as_ref().map(|v| v.to_str().unwrap()), want, "{c:?}");
            if let Some(v) = got {
                assert!(v.is_sensitive());
            }
        }
        let at = cred(Kind::UserToken {
            kind: TokenKind::Access,
            scheme: "Bearer".into(),
        });
        assert_eq!(
            at.simple_value(claims, None, Some("idt")),
            None,
            "no access token kept"
        );
        assert_eq!(at.token_needed(), Some(TokenKind::Access));
    }

    #[test]
    fn jwt_claims_carry_identity_audience_and_lifetime() {
        let jwt = JwtCredential {
            signer: Signer::hmac(b"0123456789abcdef0123456789abcdef", "k".into()),
            issuer: "https://auth.example.test".into(),
            audience: "app".into(),
            lifetime: 300,
            claims: vec![
                ("email".into(), ClaimPath::parse("email").unwrap()),
                ("roles".into(), ClaimPath::parse("groups").unwrap()),
            ],
        };
        let session = json!({"email": "a@x.test", "groups": ["g"]});
        let c = jwt.claims("alice", session.as_object().unwrap(), 1000);
        assert_eq!(
            Value::Object(c),
            json!({"iss": "https://auth.example.test", "sub": "alice", "aud": "app", "iat": 1000, "nbf": 1000, "exp": 1300, "email": "a@x.test", "roles": ["g"]})
        );
    }
}
