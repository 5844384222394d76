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
    /// How identity headers carry non-ASCII text.
    pub encoding: crate::upstream::Encoding,
    /// Credentials chosen by group, first match first; `credential` is the default (none:
    /// a user in none of the groups is refused).
    pub by_group: Vec<GroupCredential>,
    /// Headers the app trusts that this profile always answers (empty when it sets nothing
    /// for them), besides [`crate::upstream::ALWAYS_ANSWERED`].
    pub always: Vec<HeaderName>,
    /// Re-check a session's user at the IdP (a refresh) at least this often (seconds), for
    /// IdPs without back-channel logout; `None`: only as `SIDEGATE_CLAIMS_REFRESH_INTERVAL`
    /// says.
    pub recheck_every: Option<u64>,
    /// Per-path rules, most specific (longest prefix) first.
    pub paths: Vec<PathProfile>,
}

/// The profile as it applies under one `[[apps.<name>.paths]]` prefix.
#[derive(Debug, Clone)]
pub struct PathProfile {
    /// The prefix, normalized ([`crate::policy::normalized`]).
    pub prefix: String,
    /// The profile under it: the same name, its own rules and credentials.
    pub profile: Arc<Profile>,
    /// Whether it sets credentials of its own (rather than the profile's).
    pub own_credentials: bool,
}

/// The path has dot segments or encoded separators, and the profile has per-path rules:
/// which of them applies cannot be told safely.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AmbiguousPath;

/// A credential for the members of some groups.
#[derive(Debug, Clone)]
pub struct GroupCredential {
    /// Any of these groups.
    pub groups: Vec<String>,
    /// The credential.
    pub credential: Credential,
}

/// No credential of the profile is for this user's groups, and it has no default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoCredential;

impl Profile {
    /// Every credential the profile may send (the default and those chosen by group), under
    /// any of its paths.
    pub fn all_credentials(&self) -> impl Iterator<Item = &Credential> {
        let under_paths = self
            .paths
            .iter()
            .filter(|p| p.own_credentials)
            .flat_map(|p| p.profile.own_credentials());
        self.own_credentials().chain(under_paths)
    }

    fn own_credentials(&self) -> impl Iterator<Item = &Credential> {
        self.credential
            .iter()
            .chain(self.by_group.iter().map(|g| &g.credential))
    }

    /// The profile as it applies to `uri`: the rules of the longest matching `paths`
    /// prefix (a prefix `/admin/` also covers `/admin`), else the profile itself.
    ///
    /// # Errors
    /// [`AmbiguousPath`] when the profile has per-path rules and the path is ambiguous
    /// (dot segments, encoded separators: see [`crate::policy::ambiguous`]).
    pub fn for_path(&self, uri: &str) -> Result<&Profile, AmbiguousPath> {
        if self.paths.is_empty() {
            return Ok(self);
        }
        let path = crate::policy::path_of(uri);
        if crate::policy::ambiguous(path) {
            return Err(AmbiguousPath);
        }
        let path = crate::policy::normalized(path);
        let under = |prefix: &str| {
            path.starts_with(prefix) || prefix.strip_suffix('/').is_some_and(|bare| path == bare)
        };
        Ok(self
            .paths
            .iter()
            .find(|p| under(&p.prefix))
            .map_or(self, |p| p.profile.as_ref()))
    }

    /// The credential for someone with these claims: the first group match, else the
    /// default; `Ok(None)` when the profile has none at all.
    ///
    /// # Errors
    /// [`NoCredential`] when credentials are chosen by group, none matches and there is no
    /// default.
    pub fn credential_for(
        &self,
        claims: &crate::claims::Claims,
    ) -> Result<Option<&Credential>, NoCredential> {
        if self.by_group.is_empty() {
            return Ok(self.credential.as_ref());
        }
        let groups = self.rules.groups_of(claims);
        let chosen = self
            .by_group
            .iter()
            .find(|g| {
                g.groups
                    .iter()
                    .any(|want| groups.iter().any(|have| have == want))
            })
            .map(|g| &g.credential)
            .or(self.credential.as_ref());
        chosen.map(Some).ok_or(NoCredential)
    }

    /// Every header this profile may send, in order: identity, mappings, credential.
    pub fn header_names(&self) -> Vec<&HeaderName> {
        self.headers
            .iter()
            .map(|h| &h.name)
            .chain(self.mappings.iter().map(|m| &m.header))
            .chain(self.credential_headers())
            .collect()
    }

    /// The credentials' headers, each once (several credentials may share `Authorization`).
    fn credential_headers(&self) -> Vec<&HeaderName> {
        self.all_credentials()
            .map(|c| &c.header)
            .fold(Vec::new(), |mut seen, h| {
                if !seen.contains(&h) {
                    seen.push(h);
                }
                seen
            })
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

    /// The profile for `/auth` alone.
    pub fn default_profile(&self) -> &Arc<Profile> {
        &self.default
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
            .flat_map(|p| p.all_credentials().filter_map(Credential::token_needed))
            .collect();
        (
            kinds.contains(&credential::TokenKind::Access),
            kinds.contains(&credential::TokenKind::Id),
        )
    }

    /// Whether any profile re-checks users at the IdP (sessions then keep the refresh token).
    pub fn recheck_anywhere(&self) -> bool {
        std::iter::once(&self.default)
            .chain(self.apps.values())
            .any(|p| p.recheck_every.is_some())
    }

    /// A human-readable summary for `check-config` (no secrets).
    pub fn describe(&self) -> String {
        let mut out = String::new();
        for p in std::iter::once(&self.default).chain(self.named()) {
            let headers: Vec<String> = p.header_names().iter().map(ToString::to_string).collect();
            let described: Vec<String> = p
                .all_credentials()
                .map(|c| {
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
                })
                .collect();
            let credential = if described.is_empty() {
                "none".to_owned()
            } else {
                described.join("; ")
            };
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
            if let Some(every) = p.recheck_every {
                out.push_str(&format!("  re-checked at the IdP every {every}s\n"));
            }
            for under in &p.paths {
                let r = &under.profile.rules;
                let credential = if under.own_credentials {
                    "its own"
                } else {
                    "the app's"
                };
                out.push_str(&format!(
                    "  under {}: groups {:?}; users {:?}; emails {:?}; email domains {:?}; methods {:?}; credential {credential}\n",
                    under.prefix, r.groups, r.users, r.emails, r.email_domains, r.methods,
                ));
            }
        }
        out
    }
}
