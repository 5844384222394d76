//! `SIDEGATE_APPS_FILE` (TOML) → [`Profiles`]. Every problem of every profile is collected
//! and reported together, each prefixed with where it is (`apps.borg.mappings[0].header`).
//! Secrets come only from environment variables or files named in the TOML.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use http::HeaderName;
use regex::Regex;

use super::credential::Credential;
use super::credential::{BasicUser, Kind};
use super::model::{GroupCredential, Profile, Profiles};
use crate::token::{self, Signer};
use crate::upstream::{self, Condition};
use credentials::credential;
use ctx::Ctx;
pub use ctx::Defaults;
use raw::AppRaw;
use sections::{bypass, headers, mapping, rules_from, shim};

mod credentials;

/// The profile's `credential`, or its `[[credentials]]`: entries with `groups` (first match
/// wins) and at most one without, the default.
fn credentials(
    ctx: &mut Ctx<'_>,
    name: &str,
    at: &str,
    raw: &AppRaw,
) -> (Option<Credential>, Vec<GroupCredential>) {
    if raw.credential.is_some() && !raw.credentials.is_empty() {
        ctx.problem(at, "set either `credential` or `[[credentials]]`, not both");
        return (None, Vec::new());
    }
    if let Some(c) = &raw.credential {
        if c.groups.is_some() {
            ctx.problem(
                &format!("{at}.credential.groups"),
                "groups choose among several credentials: use [[apps.<name>.credentials]] entries",
            );
        }
        return (
            credential(ctx, name, &format!("{at}.credential"), c),
            Vec::new(),
        );
    }
    let (mut default, mut by_group) = (None, Vec::new());
    for (i, c) in raw.credentials.iter().enumerate() {
        let here = format!("{at}.credentials[{i}]");
        let compiled = credential(ctx, name, &here, c);
        match (&c.groups, compiled) {
            (Some(g), _) if g.is_empty() => {
                ctx.problem(
                    &format!("{here}.groups"),
                    "list at least one group, or leave `groups` out for the default credential",
                );
            }
            (Some(g), Some(credential)) => by_group.push(GroupCredential {
                groups: g.clone(),
                credential,
            }),
            (None, Some(credential)) if default.is_none() => default = Some(credential),
            (None, Some(_)) => ctx.problem(
                &here,
                "only one credential may leave out `groups` (the default)",
            ),
            (_, None) => {}
        }
    }
    (default, by_group)
}
mod ctx;
mod paths;
mod raw;
mod sections;

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
        by_group: Vec::new(),
        encoding: defaults.encoding,
        shims: Vec::new(),
        bearer_audience: None,
        always: Vec::new(),
        recheck_every: None,
        paths: Vec::new(),
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
        .flat_map(|p| p.all_credentials())
        .filter_map(|c| match &c.kind {
            Kind::Jwt { jwt, .. } => Some(&jwt.signer),
            _ => None,
        })
        .collect();
    let jwks = token::jwks(signers);
    let needed_claims = needed_claims(&all, defaults);
    Profiles::from_parts(Arc::new(default), apps, jwks, needed_claims)
}

fn check_kids(ctx: &mut Ctx<'_>, apps: &HashMap<String, Arc<Profile>>) {
    let mut kids: BTreeMap<String, &str> = BTreeMap::new();
    for (name, p) in apps {
        for c in p.all_credentials() {
            let Kind::Jwt { jwt, .. } = &c.kind else {
                continue;
            };
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
        for credential in p.all_credentials() {
            match &credential.kind {
                Kind::Jwt { jwt, .. } => {
                    names.extend(jwt.claims.iter().map(|(_, c)| c.root().to_owned()))
                }
                Kind::Basic {
                    user: BasicUser::Claim(c),
                    ..
                } => names.push(c.root().to_owned()),
                _ => {}
            }
        }
        // Credentials chosen by group read the groups claim.
        if !p.by_group.is_empty() {
            names.extend(p.rules.groups_claim.iter().map(|c| c.root().to_owned()));
        }
    }
    names.extend(d.user_claims.iter().map(|c| c.root().to_owned()));
    names.sort();
    names.dedup();
    names
}

fn compile(ctx: &mut Ctx<'_>, name: &str, raw: &AppRaw) -> Option<Profile> {
    compile_at(ctx, name, &format!("apps.{name}"), raw)
}

/// Compiles `raw` as profile `name`, its problems reported under `at`.
fn compile_at(ctx: &mut Ctx<'_>, name: &str, at: &str, raw: &AppRaw) -> Option<Profile> {
    let before = ctx.problems.len();
    let at = at.to_owned();
    let groups_claim = raw
        .groups_claim
        .as_ref()
        .and_then(|c| ctx.claim(&format!("{at}.groups_claim"), c));
    let mut rules = rules_from(ctx.defaults, raw, groups_claim.clone());
    rules.bypass = bypass(ctx, &format!("{at}.bypass"), &raw.bypass);
    rules.logout = bypass(ctx, &format!("{at}.logout_paths"), &raw.logout_paths);
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
    let (credential, by_group) = credentials(ctx, name, &at, raw);
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
    let always = raw
        .always_headers
        .iter()
        .enumerate()
        .filter_map(|(i, h)| ctx.header(&format!("{at}.always_headers[{i}]"), h))
        .collect();
    let encoding = match raw.header_encoding.as_deref() {
        None => ctx.defaults.encoding,
        Some(e) => crate::upstream::Encoding::parse(e).unwrap_or_else(|| {
            ctx.problem(
                &format!("{at}.header_encoding"),
                format!("`{e}` is not utf8, percent or rfc2047"),
            );
            ctx.defaults.encoding
        }),
    };
    let recheck_every =
        raw.recheck_every
            .as_deref()
            .and_then(|r| match humantime::parse_duration(r) {
                Ok(d) if d.as_secs() >= 1 => Some(d.as_secs()),
                _ => {
                    ctx.problem(
                        &format!("{at}.recheck_every"),
                        format!(
                            "`{r}` is not a duration of at least one second; write e.g. \"5m\""
                        ),
                    );
                    None
                }
            });
    let profile = Profile {
        name: name.to_owned(),
        recheck_every,
        rules,
        headers,
        mappings,
        credential,
        shims,
        bearer_audience,
        always,
        by_group,
        encoding,
        paths: Vec::new(),
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
    if ctx.problems.len() != before {
        return None;
    }
    let paths = paths::compile_paths(ctx, name, &at, raw, compile_at);
    (ctx.problems.len() == before).then(|| paths::attach(profile, paths))
}

#[cfg(test)]
mod tests;
