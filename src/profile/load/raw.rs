//! The TOML shape of one `[apps.<name>]` table, as read (unknown keys refused).

use std::collections::BTreeMap;

use serde::Deserialize;

use super::credentials::CredentialRaw;

#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub(super) struct AppRaw {
    #[serde(default)]
    pub(super) allow_groups: Vec<String>,
    #[serde(default)]
    pub(super) allow_users: Vec<String>,
    #[serde(default)]
    pub(super) allow_emails: Vec<String>,
    #[serde(default)]
    pub(super) allow_email_domains: Vec<String>,
    #[serde(default)]
    pub(super) bypass: Vec<BypassRaw>,
    #[serde(default)]
    pub(super) logout_paths: Vec<BypassRaw>,
    pub(super) methods: Option<Vec<String>>,
    pub(super) groups_claim: Option<String>,
    #[serde(default)]
    pub(super) headers: BTreeMap<String, HeaderSpec>,
    #[serde(default)]
    pub(super) mappings: Vec<MappingRaw>,
    pub(super) credential: Option<CredentialRaw>,
    #[serde(default)]
    pub(super) credentials: Vec<CredentialRaw>,
    #[serde(default)]
    pub(super) shims: Vec<ShimRaw>,
    pub(super) bearer: Option<BearerRaw>,
    #[serde(default)]
    pub(super) always_headers: Vec<String>,
    pub(super) header_encoding: Option<String>,
    pub(super) recheck_every: Option<String>,
    #[serde(default)]
    pub(super) paths: Vec<PathRaw>,
}

/// `[[apps.<name>.paths]]`: rules for the paths under `prefix`, replacing the profile's own
/// where set.
#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub(super) struct PathRaw {
    pub(super) prefix: String,
    pub(super) allow_groups: Option<Vec<String>>,
    pub(super) allow_users: Option<Vec<String>>,
    pub(super) allow_emails: Option<Vec<String>>,
    pub(super) allow_email_domains: Option<Vec<String>>,
    pub(super) methods: Option<Vec<String>>,
    pub(super) credential: Option<CredentialRaw>,
    pub(super) credentials: Option<Vec<CredentialRaw>>,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub(super) struct BearerRaw {
    pub(super) audience: String,
}

#[derive(Deserialize, Clone)]
#[serde(untagged)]
pub(super) enum HeaderSpec {
    Claim(String),
    Switch(bool),
    Full(FullHeader),
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub(super) struct FullHeader {
    pub(super) claim: String,
    pub(super) join: Option<String>,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub(super) struct BypassRaw {
    pub(super) exact: Option<String>,
    pub(super) prefix: Option<String>,
    pub(super) regex: Option<String>,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub(super) struct MappingRaw {
    pub(super) header: String,
    pub(super) default: String,
    #[serde(default)]
    pub(super) rules: Vec<MappingRuleRaw>,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub(super) struct MappingRuleRaw {
    pub(super) groups: Option<Vec<String>>,
    pub(super) claim: Option<String>,
    pub(super) values: Option<Vec<String>>,
    pub(super) value: String,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub(super) struct ShimRaw {
    pub(super) path: String,
    pub(super) status: Option<u16>,
    pub(super) content_type: Option<String>,
    pub(super) body: String,
}
