//! App profiles as compiled: what sidegate needs to answer for each app.

use std::collections::HashMap;
use std::sync::Arc;

use http::{HeaderName, StatusCode};

use super::credential::{self, Credential};
use crate::policy::Rules;
use crate::upstream::{HeaderRule, Mapping};

/// A fixed response served at `/shim/<app>/<path>`.
#[derive(Debug, Clone)]
pub struct Shim {
    /// Path below `/shim/<app>`, starting with `/`.
    pub path: String,
    /// Status code.
    pub status: StatusCode,
    /// `Content-Type`.
    pub content_type: String,
    /// Body.
    pub body: String,
}

/// Everything sidegate needs to answer for one app.
#[derive(Debug, Clone)]
pub struct Profile {
    /// Name used in the auth URL.
    pub name: String,
    /// Access rules.
    pub rules: Rules,
    /// Identity headers.
    pub headers: Vec<HeaderRule>,
    /// Value mappings (role headers).
    pub mappings: Vec<Mapping>,
    /// The upstream credential.
    pub credential: Option<Credential>,
    /// Fixed responses.
    pub shims: Vec<Shim>,
    /// Accept the IdP's JWT access tokens (service accounts) with this audience.
    pub bearer_audience: Option<String>,
    /// Headers the app trusts that this profile always answers (empty when it sets nothing
    /// for them), besides [`crate::upstream::ALWAYS_ANSWERED`].
    pub always: Vec<HeaderName>,
}

impl Profile {
    /// Every header this profile may send, in order: identity, mappings, credential.
    pub fn header_names(&self) -> Vec<&HeaderName> {
        self.headers
            .iter()
            .map(|h| &h.name)
            .chain(self.mappings.iter().map(|m| &m.header))
            .chain(self.credential.as_ref().map(|c| &c.header))
            .collect()
    }
}

/// All profiles, plus what was derived from them at startup.
#[derive(Debug, Clone)]
pub struct Profiles {
    default: Arc<Profile>,
    apps: HashMap<String, Arc<Profile>>,
    jwks: String,
    needed_claims: Vec<String>,
}

impl Profiles {
    /// Profiles as loaded.
    pub(super) fn from_parts(
        default: Arc<Profile>,
        apps: HashMap<String, Arc<Profile>>,
        jwks: String,
        needed_claims: Vec<String>,
    ) -> Self {
        Self {
            default,
            apps,
            jwks,
            needed_claims,
        }
    }

    /// The profile for `/auth` (`None`) or `/auth/<name>`.
    pub fn get(&self, name: Option<&str>) -> Option<&Arc<Profile>> {
        match name {
            None => Some(&self.default),
            Some(n) => self.apps.get(n),
        }
    }

    /// Named profiles, sorted by name.
    pub fn named(&self) -> Vec<&Arc<Profile>> {
        let mut v: Vec<&Arc<Profile>> = self.apps.values().collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }

    /// The JWKS document with the public keys of every minted-JWT signer.
    pub fn jwks(&self) -> &str {
        &self.jwks
    }

    /// Top-level claims a session must keep for every profile's headers, rules and JWTs.
    pub fn needed_claims(&self) -> &[String] {
        &self.needed_claims
    }

    /// Which user tokens sessions must keep (access, id).
    pub fn tokens_needed(&self) -> (bool, bool) {
        let kinds: Vec<_> = std::iter::once(&self.default)
            .chain(self.apps.values())
            .filter_map(|p| p.credential.as_ref().and_then(Credential::token_needed))
            .collect();
        (
            kinds.contains(&credential::TokenKind::Access),
            kinds.contains(&credential::TokenKind::Id),
        )
    }

    /// A human-readable summary for `check-config` (no secrets).
    pub fn describe(&self) -> String {
        let mut out = String::new();
        for p in std::iter::once(&self.default).chain(self.named()) {
            let headers: Vec<String> = p.header_names().iter().map(ToString::to_string).collect();
            let credential = p.credential.as_ref().map_or("none".to_owned(), |c| {
                let kind = match &c.kind {
                    credential::Kind::Static(_) => "static secret ***SECRET***",
                    credential::Kind::Basic { .. } => "HTTP Basic, password ***SECRET***",
                    credential::Kind::UserToken {
                        kind: credential::TokenKind::Access,
                        ..
                    } => "the user's access token",
                    credential::Kind::UserToken { .. } => "the user's ID token",
                    credential::Kind::Jwt { .. } => "minted JWT, key ***SECRET***",
                };
                format!("{} ({kind})", c.header)
            });
            let shims: Vec<&str> = p.shims.iter().map(|s| s.path.as_str()).collect();
            out.push_str(&format!(
                "app {}: headers [{}]; credential {}; groups {:?}; users {:?}; emails {:?}; email domains {:?}; bypass {}; shims {:?}\n",
                p.name,
                headers.join(", "),
                credential,
                p.rules.groups,
                p.rules.users,
                p.rules.emails,
                p.rules.email_domains,
                p.rules.bypass.len(),
                shims,
            ));
        }
        out
    }
}
