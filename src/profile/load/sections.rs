//! One compiler per section of a profile: rules, bypass paths, headers, mappings, shims.

use std::collections::BTreeMap;

use http::StatusCode;
use regex::Regex;

use super::ctx::{Ctx, Defaults};
use super::raw::{AppRaw, BypassRaw, HeaderSpec, MappingRaw, ShimRaw};
use crate::claims::ClaimPath;
use crate::policy::{PathMatch, Rules};
use crate::profile::model::Shim;
use crate::upstream::{self, Condition, HeaderRule, Mapping};

pub(super) fn rules_from(d: &Defaults, raw: &AppRaw, groups_claim: Option<ClaimPath>) -> Rules {
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
        logout: Vec::new(),
        methods: raw
            .methods
            .as_ref()
            .map(|m| m.iter().map(|x| x.to_ascii_uppercase()).collect()),
        groups_claim: Some(groups_claim.unwrap_or_else(|| d.groups_claim.clone())),
        user_claims: d.user_claims.clone(),
        email_claim: Some(d.email_claim.clone()),
    }
}

pub(super) fn bypass(ctx: &mut Ctx<'_>, at: &str, raw: &[BypassRaw]) -> Vec<PathMatch> {
    let mut out = Vec::new();
    for (i, b) in raw.iter().enumerate() {
        let at = format!("{at}[{i}]");
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

pub(super) fn headers(
    ctx: &mut Ctx<'_>,
    at: &str,
    raw: &BTreeMap<String, HeaderSpec>,
) -> Vec<HeaderRule> {
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

pub(super) fn mapping(
    ctx: &mut Ctx<'_>,
    at: &str,
    raw: &MappingRaw,
    groups: &ClaimPath,
) -> Option<Mapping> {
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

pub(super) fn shim(ctx: &mut Ctx<'_>, at: &str, raw: &ShimRaw) -> Option<Shim> {
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
        // `{public_url}` lets a shim point the app's UI at sidegate (a logout URL).
        body: raw.body.replace("{public_url}", &ctx.defaults.issuer),
    })
}
