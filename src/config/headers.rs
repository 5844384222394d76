//! The identity headers of the default profile, from `SIDEGATE_*_HEADER`, `SIDEGATE_*_CLAIM`,
//! `SIDEGATE_GROUPS_SEPARATOR` and `SIDEGATE_EXTRA_HEADERS`.

use http::HeaderName;

use super::vars::Vars;
use crate::claims::ClaimPath;
use crate::upstream::header_name;
use crate::upstream::HeaderRule;

/// The identity headers: four standard ones (each renamable, or dropped with an empty
/// header name) plus `SIDEGATE_EXTRA_HEADERS` (`Header=claim.path,…`).
pub(super) fn parse_headers(v: &Vars, p: &mut Vec<String>) -> Vec<HeaderRule> {
    let sep = v.owned("GROUPS_SEPARATOR").unwrap_or_else(|| ",".into());
    let standard = [
        (
            "USER",
            v.get("USER_HEADER"),
            "X-Forwarded-User",
            v.get("USER_CLAIM"),
            "preferred_username",
        ),
        (
            "EMAIL",
            v.get("EMAIL_HEADER"),
            "X-Forwarded-Email",
            v.get("EMAIL_CLAIM"),
            "email",
        ),
        (
            "GROUPS",
            v.get("GROUPS_HEADER"),
            "X-Forwarded-Groups",
            v.get("GROUPS_CLAIM"),
            "groups",
        ),
        (
            "PREFERRED_USERNAME",
            v.get("PREFERRED_USERNAME_HEADER"),
            "X-Forwarded-Preferred-Username",
            v.get("PREFERRED_USERNAME_CLAIM"),
            "preferred_username",
        ),
    ];
    let mut rules = Vec::new();
    for (key, header, default_header, claim, default_claim) in standard {
        let header = header.unwrap_or(default_header);
        if header.trim().is_empty() {
            continue; // dropped on purpose
        }
        let claim_var = format!("SIDEGATE_{key}_CLAIM");
        let claim = claim.unwrap_or(default_claim);
        let (Some(name), Some(path)) = (
            header_name(&format!("SIDEGATE_{key}_HEADER"), header, p),
            claim_path(&claim_var, claim, p),
        ) else {
            continue;
        };
        let mut claims = vec![path];
        // The user header always falls back to `sub`, which every ID token has.
        if key == "USER" && claims.iter().all(|c| c.as_str() != "sub") {
            claims.extend(ClaimPath::parse("sub"));
        }
        rules.push(HeaderRule {
            name,
            claims,
            separator: sep.clone(),
        });
    }
    for entry in v
        .get("EXTRA_HEADERS")
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let Some((h, c)) = entry.split_once('=') else {
            p.push(format!("SIDEGATE_EXTRA_HEADERS: `{entry}` is not Header=claim, e.g. X-Roles=realm_access.roles"));
            continue;
        };
        if let (Some(name), Some(path)) = (
            header_name("SIDEGATE_EXTRA_HEADERS", h, p),
            claim_path("SIDEGATE_EXTRA_HEADERS", c, p),
        ) {
            rules.push(HeaderRule {
                name,
                claims: vec![path],
                separator: sep.clone(),
            });
        }
    }
    let mut seen: Vec<&HeaderName> = Vec::new();
    for r in &rules {
        if seen.contains(&&r.name) {
            p.push(format!(
                "identity headers: `{}` is configured twice; give each header one source",
                r.name
            ));
        }
        seen.push(&r.name);
    }
    rules
}

fn claim_path(var: &str, raw: &str, p: &mut Vec<String>) -> Option<ClaimPath> {
    let path = ClaimPath::parse(raw);
    if path.is_none() {
        p.push(format!(
            "{var}: `{raw}` is not a claim name or dot path such as realm_access.roles"
        ));
    }
    path
}
