//! `SIDEGATE_APPS_FILE` (TOML) → [`Profiles`]. Every problem of every profile is collected
//! and reported together, each prefixed with where it is (`apps.borg.mappings[0].header`).
//! Secrets come only from environment variables or files named in the TOML.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use http::{HeaderName, StatusCode};
use regex::Regex;
use serde::Deserialize;

use super::credential::{BasicUser, Kind};
use super::{Profile, Profiles, Shim};
use crate::claims::ClaimPath;
use crate::policy::{PathMatch, Rules};
use crate::token::{self, Signer};
use crate::upstream::{self, Condition, HeaderRule, Mapping};

/// The global settings a profile starts from.
#[derive(Debug, Clone)]
pub struct Defaults {
    /// The identity headers from `SIDEGATE_*_HEADER` / `_CLAIM`.
    pub headers: Vec<HeaderRule>,
    /// `SIDEGATE_GROUPS_CLAIM`.
    pub groups_claim: ClaimPath,
    /// `SIDEGATE_USER_CLAIM`, then `sub`.
    pub user_claims: Vec<ClaimPath>,
    /// `SIDEGATE_EMAIL_CLAIM`.
    pub email_claim: ClaimPath,
    /// `SIDEGATE_GROUPS_SEPARATOR`.
    pub separator: String,
    /// `iss` of minted JWTs: the public URL.
    pub issuer: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct AppRaw {
    #[serde(default)]
    allow_groups: Vec<String>,
    #[serde(default)]
    allow_users: Vec<String>,
    #[serde(default)]
    allow_emails: Vec<String>,
    #[serde(default)]
    allow_email_domains: Vec<String>,
    #[serde(default)]
    bypass: Vec<BypassRaw>,
    methods: Option<Vec<String>>,
    groups_claim: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, HeaderSpec>,
    #[serde(default)]
    mappings: Vec<MappingRaw>,
    credential: Option<CredentialRaw>,
    #[serde(default)]
    shims: Vec<ShimRaw>,
    bearer: Option<BearerRaw>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BearerRaw {
    audience: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum HeaderSpec {
    Claim(String),
    Switch(bool),
    Full(FullHeader),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FullHeader {
    claim: String,
    join: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BypassRaw {
    exact: Option<String>,
    prefix: Option<String>,
    regex: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MappingRaw {
    header: String,
    default: String,
    #[serde(default)]
    rules: Vec<MappingRuleRaw>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MappingRuleRaw {
    groups: Option<Vec<String>>,
    claim: Option<String>,
    values: Option<Vec<String>>,
    value: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ShimRaw {
    path: String,
    status: Option<u16>,
    content_type: Option<String>,
    body: String,
}

/// Where secrets and relative files are looked up while loading.
struct Ctx<'a> {
    vars: &'a HashMap<String, String>,
    dir: PathBuf,
    defaults: &'a Defaults,
    problems: Vec<String>,
}

impl Ctx<'_> {
    fn problem(&mut self, at: &str, what: impl std::fmt::Display) {
        self.problems.push(format!("{at}: {what}"));
    }

    fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    /// A secret from exactly one of `<name>_env` / `<name>_file`.
    fn secret(
        &mut self,
        at: &str,
        name: &str,
        env: Option<&String>,
        file: Option<&String>,
    ) -> Option<String> {
        match (env, file) {
            (Some(_), Some(_)) => self.problem(at, format!("set only one of {name}_env and {name}_file")),
            (None, None) => self.problem(at, format!("missing {name}_env (an environment variable's name) or {name}_file (a file's path)")),
            (Some(var), None) => match self.vars.get(var).filter(|v| !v.is_empty()) {
                Some(v) => return Some(v.clone()),
                None => self.problem(at, format!("{name}_env: the environment variable {var} is not set")),
            },
            (None, Some(file)) => match std::fs::read_to_string(self.path(file)) {
                Ok(s) if !s.trim().is_empty() => return Some(s.trim_end_matches(['\n', '\r']).to_owned()),
                Ok(_) => self.problem(at, format!("{name}_file: `{file}` is empty")),
                Err(e) => self.problem(at, format!("{name}_file: cannot read `{file}`: {e}")),
            },
        }
        None
    }

    fn header(&mut self, at: &str, raw: &str) -> Option<HeaderName> {
        let mut p = Vec::new();
        let name = crate::config::header_name(at, raw, &mut p);
        self.problems.extend(p);
        name
    }

    fn claim(&mut self, at: &str, raw: &str) -> Option<ClaimPath> {
        let c = ClaimPath::parse(raw);
        if c.is_none() {
            self.problem(at, format!("`{raw}` is not a claim name or dot path"));
        }
        c
    }
}

/// Loads the profiles file at `path` (or builds the implicit default profile when `None`).
///
/// # Errors
/// Every problem found, each naming where it is and how to fix it.
pub fn load(
    path: Option<&Path>,
    vars: &HashMap<String, String>,
    defaults: &Defaults,
) -> Result<Profiles, Vec<String>> {
    let implicit = Profile {
        name: "default".into(),
        rules: rules_from(defaults, &AppRaw::default(), None),
        headers: defaults.headers.clone(),
        mappings: Vec::new(),
        credential: None,
        shims: Vec::new(),
        bearer_audience: None,
    };
    let Some(path) = path else {
        return Ok(finish(implicit, HashMap::new(), defaults));
    };
    let at = "SIDEGATE_APPS_FILE";
    let text = std::fs::read_to_string(path)
        .map_err(|e| vec![format!("{at}: cannot read `{}`: {e}", path.display())])?;
    let table: toml::Table = toml::from_str(&text)
        .map_err(|e| vec![format!("{at}: `{}` is not valid TOML: {e}", path.display())])?;
    let mut ctx = Ctx {
        vars,
        dir: path.parent().map(Path::to_path_buf).unwrap_or_default(),
        defaults,
        problems: Vec::new(),
    };
    for key in table.keys().filter(|k| *k != "apps") {
        ctx.problem(
            at,
            format!("unknown top-level key `{key}`; profiles go under [apps.<name>]"),
        );
    }
    let mut apps = HashMap::new();
    let names_ok = Regex::new("^[a-z0-9][a-z0-9_-]{0,62}$").map_err(|e| vec![e.to_string()])?;
    if let Some(list) = table.get("apps").and_then(toml::Value::as_table) {
        for (name, value) in list {
            let at = format!("apps.{name}");
            if !names_ok.is_match(name) || name == "nginx" {
                ctx.problem(&at, "an app name is lowercase letters, digits, `-` and `_` (and not `nginx`, which is a path of its own)");
                continue;
            }
            match value.clone().try_into::<AppRaw>() {
                Ok(raw) => {
                    if let Some(p) = compile(&mut ctx, name, &raw) {
                        apps.insert(name.clone(), Arc::new(p));
                    }
                }
                Err(e) => ctx.problem(&at, e.to_string().trim()),
            }
        }
    } else if table.contains_key("apps") {
        ctx.problem(at, "`apps` must be a table of profiles: [apps.<name>]");
    }
    check_kids(&mut ctx, &apps);
    if !ctx.problems.is_empty() {
        return Err(ctx.problems);
    }
    let default = apps.remove("default").map_or(implicit, |p| (*p).clone());
    Ok(finish(default, apps, defaults))
}

fn finish(default: Profile, apps: HashMap<String, Arc<Profile>>, defaults: &Defaults) -> Profiles {
    let all: Vec<&Profile> = std::iter::once(&default)
        .chain(apps.values().map(AsRef::as_ref))
        .collect();
    let signers: Vec<&Signer> = all
        .iter()
        .filter_map(|p| match p.credential.as_ref().map(|c| &c.kind) {
            Some(Kind::Jwt { jwt, .. }) => Some(&jwt.signer),
            _ => None,
        })
        .collect();
    let jwks = token::jwks(signers);
    let needed_claims = needed_claims(&all, defaults);
    Profiles {
        default: Arc::new(default),
        apps,
        jwks,
        needed_claims,
    }
}

fn check_kids(ctx: &mut Ctx<'_>, apps: &HashMap<String, Arc<Profile>>) {
    let mut kids: BTreeMap<String, &str> = BTreeMap::new();
    for (name, p) in apps {
        if let Some(Kind::Jwt { jwt, .. }) = p.credential.as_ref().map(|c| &c.kind) {
            if let Some(jwk) = jwt.signer.public_jwk() {
                let kid = jwk.common.key_id.clone().unwrap_or_default();
                if let Some(other) = kids.insert(kid.clone(), name) {
                    ctx.problem(
                        &format!("apps.{name}.credential.kid"),
                        format!("`{kid}` is also used by apps.{other}; give each key its own kid"),
                    );
                }
            }
        }
    }
}

fn needed_claims(profiles: &[&Profile], d: &Defaults) -> Vec<String> {
    let mut names: Vec<String> = vec!["email_verified".into()];
    for p in profiles {
        names.extend(upstream::needed_claims(&p.headers));
        let rule_claims = p
            .rules
            .groups_claim
            .iter()
            .chain(&p.rules.user_claims)
            .chain(&p.rules.email_claim);
        names.extend(rule_claims.map(|c| c.root().to_owned()));
        for m in &p.mappings {
            for (c, _) in &m.rules {
                let (Condition::InGroups { claim, .. } | Condition::ClaimEquals { claim, .. }) = c;
                names.push(claim.root().to_owned());
            }
        }
        match p.credential.as_ref().map(|c| &c.kind) {
            Some(Kind::Jwt { jwt, .. }) => {
                names.extend(jwt.claims.iter().map(|(_, c)| c.root().to_owned()))
            }
            Some(Kind::Basic {
                user: BasicUser::Claim(c),
                ..
            }) => names.push(c.root().to_owned()),
            _ => {}
        }
    }
    names.extend(d.user_claims.iter().map(|c| c.root().to_owned()));
    names.sort();
    names.dedup();
    names
}

fn rules_from(d: &Defaults, raw: &AppRaw, groups_claim: Option<ClaimPath>) -> Rules {
    Rules {
        groups: raw.allow_groups.clone(),
        users: raw.allow_users.clone(),
        emails: raw
            .allow_emails
            .iter()
            .map(|e| e.to_ascii_lowercase())
            .collect(),
        email_domains: raw
            .allow_email_domains
            .iter()
            .map(|e| e.trim_start_matches('@').to_ascii_lowercase())
            .collect(),
        bypass: Vec::new(),
        methods: raw
            .methods
            .as_ref()
            .map(|m| m.iter().map(|x| x.to_ascii_uppercase()).collect()),
        groups_claim: Some(groups_claim.unwrap_or_else(|| d.groups_claim.clone())),
        user_claims: d.user_claims.clone(),
        email_claim: Some(d.email_claim.clone()),
    }
}

fn compile(ctx: &mut Ctx<'_>, name: &str, raw: &AppRaw) -> Option<Profile> {
    let before = ctx.problems.len();
    let at = format!("apps.{name}");
    let groups_claim = raw
        .groups_claim
        .as_ref()
        .and_then(|c| ctx.claim(&format!("{at}.groups_claim"), c));
    let mut rules = rules_from(ctx.defaults, raw, groups_claim.clone());
    rules.bypass = bypass(ctx, &at, &raw.bypass);
    if let Some(m) = &rules.methods {
        if m.is_empty()
            || m.iter()
                .any(|x| x.is_empty() || !x.bytes().all(|b| b.is_ascii_alphabetic()))
        {
            ctx.problem(
                &format!("{at}.methods"),
                "list HTTP methods such as [\"GET\", \"POST\"]",
            );
        }
    }
    let headers = headers(ctx, &at, &raw.headers);
    let groups = groups_claim.unwrap_or_else(|| ctx.defaults.groups_claim.clone());
    let mappings = raw
        .mappings
        .iter()
        .enumerate()
        .filter_map(|(i, m)| mapping(ctx, &format!("{at}.mappings[{i}]"), m, &groups))
        .collect();
    let credential = raw
        .credential
        .as_ref()
        .and_then(|c| credential(ctx, name, c));
    let shims = raw
        .shims
        .iter()
        .enumerate()
        .filter_map(|(i, s)| shim(ctx, &format!("{at}.shims[{i}]"), s))
        .collect();
    let bearer_audience = raw.bearer.as_ref().map(|b| b.audience.trim().to_owned());
    if bearer_audience.as_ref().is_some_and(String::is_empty) {
        ctx.problem(
            &format!("{at}.bearer.audience"),
            "give the audience the IdP puts in access tokens for this app, e.g. \"sidegate-api\"",
        );
    }
    let profile = Profile {
        name: name.to_owned(),
        rules,
        headers,
        mappings,
        credential,
        shims,
        bearer_audience,
    };
    let mut seen: Vec<&HeaderName> = Vec::new();
    let mut duplicates = Vec::new();
    for h in profile.header_names() {
        if seen.contains(&h) {
            duplicates.push(h.to_string());
        }
        seen.push(h);
    }
    for d in duplicates {
        ctx.problem(&at, format!("header `{d}` is set twice (identity headers, mappings and the credential must use different headers)"));
    }
    (ctx.problems.len() == before).then_some(profile)
}

fn bypass(ctx: &mut Ctx<'_>, at: &str, raw: &[BypassRaw]) -> Vec<PathMatch> {
    let mut out = Vec::new();
    for (i, b) in raw.iter().enumerate() {
        let at = format!("{at}.bypass[{i}]");
        match (&b.exact, &b.prefix, &b.regex) {
            (Some(p), None, None) if p.starts_with('/') => out.push(PathMatch::Exact(p.clone())),
            (None, Some(p), None) if p.starts_with('/') => out.push(PathMatch::Prefix(p.clone())),
            (None, None, Some(r)) => match Regex::new(r) {
                Ok(re) => out.push(PathMatch::Regex(re)),
                Err(e) => ctx.problem(&at, format!("regex `{r}` is invalid: {e}")),
            },
            (None, None, None)
            | (Some(_), Some(_), _)
            | (Some(_), _, Some(_))
            | (_, Some(_), Some(_)) => {
                ctx.problem(&at, "give exactly one of exact, prefix or regex");
            }
            _ => ctx.problem(&at, "exact and prefix paths start with `/`"),
        }
    }
    out
}

fn headers(ctx: &mut Ctx<'_>, at: &str, raw: &BTreeMap<String, HeaderSpec>) -> Vec<HeaderRule> {
    let mut rules = ctx.defaults.headers.clone();
    for (header, spec) in raw {
        let at = format!("{at}.headers.{header}");
        let Some(name) = ctx.header(&at, header) else {
            continue;
        };
        let (claim, join) = match spec {
            HeaderSpec::Switch(false) => {
                rules.retain(|r| r.name != name);
                continue;
            }
            HeaderSpec::Switch(true) => {
                ctx.problem(
                    &at,
                    "`true` says nothing; give a claim (\"email\") or `false` to drop the header",
                );
                continue;
            }
            HeaderSpec::Claim(c) => (c.as_str(), None),
            HeaderSpec::Full(f) => (f.claim.as_str(), f.join.clone()),
        };
        let Some(path) = ctx.claim(&at, claim) else {
            continue;
        };
        let rule = HeaderRule {
            name: name.clone(),
            claims: vec![path],
            separator: join.unwrap_or_else(|| ctx.defaults.separator.clone()),
        };
        match rules.iter_mut().find(|r| r.name == name) {
            Some(existing) => *existing = rule,
            None => rules.push(rule),
        }
    }
    rules
}

fn mapping(ctx: &mut Ctx<'_>, at: &str, raw: &MappingRaw, groups: &ClaimPath) -> Option<Mapping> {
    let header = ctx.header(&format!("{at}.header"), &raw.header)?;
    let mut rules = Vec::new();
    for (i, r) in raw.rules.iter().enumerate() {
        let at = format!("{at}.rules[{i}]");
        let condition = match (&r.groups, &r.claim, &r.values) {
            (Some(g), None, None) if !g.is_empty() => Condition::InGroups {
                claim: groups.clone(),
                any_of: g.clone(),
            },
            (None, Some(c), Some(v)) if !v.is_empty() => Condition::ClaimEquals {
                claim: ctx.claim(&at, c)?,
                any_of: v.clone(),
            },
            _ => {
                ctx.problem(
                    &at,
                    "give either `groups = [..]` or `claim = \"..\"` with `values = [..]`",
                );
                continue;
            }
        };
        rules.push((condition, upstream::header_value(&r.value)));
    }
    Some(Mapping {
        header,
        rules,
        default: upstream::header_value(&raw.default),
    })
}

fn shim(ctx: &mut Ctx<'_>, at: &str, raw: &ShimRaw) -> Option<Shim> {
    if !raw.path.starts_with('/') || raw.path.contains("..") {
        ctx.problem(
            &format!("{at}.path"),
            "a shim path starts with `/` and has no `..`, e.g. /api/v1/auth/refresh",
        );
        return None;
    }
    let Some(status) = StatusCode::from_u16(raw.status.unwrap_or(200))
        .ok()
        .filter(|s| !s.is_informational())
    else {
        ctx.problem(&format!("{at}.status"), "not an HTTP status such as 200");
        return None;
    };
    Some(Shim {
        path: raw.path.clone(),
        status,
        content_type: raw
            .content_type
            .clone()
            .unwrap_or_else(|| "application/json".into()),
        body: raw.body.clone(),
    })
}

mod credentials;

use credentials::{credential, CredentialRaw};

#[cfg(test)]
mod tests;
