//! `[[apps.<name>.paths]]`: per-path rules within one profile. Each entry is compiled as
//! the profile itself with the entry's settings in place of the profile's: the who-list
//! (`allow_*`, all four together when any is set), `methods`, and the credential
//! (`credential` or `[[credentials]]`).

use std::sync::Arc;

use http::HeaderName;

use super::ctx::Ctx;
use super::raw::{AppRaw, PathRaw};
use crate::policy;
use crate::profile::model::{PathProfile, Profile};

/// The profile's paths, longest prefix first; `compile` builds each (as a profile named
/// `name`, with its problems reported under `at.paths[i]`).
pub(super) fn compile_paths(
    ctx: &mut Ctx<'_>,
    name: &str,
    at: &str,
    raw: &AppRaw,
    compile: impl Fn(&mut Ctx<'_>, &str, &str, &AppRaw) -> Option<Profile>,
) -> Vec<PathProfile> {
    let mut out: Vec<PathProfile> = Vec::new();
    for (i, path) in raw.paths.iter().enumerate() {
        let here = format!("{at}.paths[{i}]");
        let Some(prefix) = prefix(ctx, &here, &path.prefix) else {
            continue;
        };
        if out.iter().any(|p| p.prefix == prefix) {
            ctx.problem(
                &format!("{here}.prefix"),
                format!(
                    "`{}` is given twice (prefixes compare without case)",
                    path.prefix
                ),
            );
            continue;
        }
        let own_credentials = path.credential.is_some() || path.credentials.is_some();
        if let Some(profile) = compile(ctx, name, &here, &under(raw, path)) {
            out.push(PathProfile {
                prefix,
                profile: Arc::new(profile),
                own_credentials,
            });
        }
    }
    out.sort_by_key(|p| std::cmp::Reverse(p.prefix.len()));
    out
}

/// The normalized prefix, or a problem: it must be a plain path starting with `/`.
fn prefix(ctx: &mut Ctx<'_>, at: &str, given: &str) -> Option<String> {
    let plain = given.starts_with('/')
        && !given.contains(['?', '#'])
        && !given.chars().any(char::is_control)
        && !policy::ambiguous(given);
    if !plain {
        ctx.problem(
            &format!("{at}.prefix"),
            format!("`{given}` is not a plain path such as \"/admin/\" (starting with `/`, without query, dot segments or encoded separators)"),
        );
        return None;
    }
    Some(policy::normalized(given))
}

/// The profile's raw settings with the path's in their place.
fn under(raw: &AppRaw, path: &PathRaw) -> AppRaw {
    let mut r = raw.clone();
    r.paths.clear();
    let who = [
        &path.allow_groups,
        &path.allow_users,
        &path.allow_emails,
        &path.allow_email_domains,
    ];
    if who.iter().any(|w| w.is_some()) {
        r.allow_groups = path.allow_groups.clone().unwrap_or_default();
        r.allow_users = path.allow_users.clone().unwrap_or_default();
        r.allow_emails = path.allow_emails.clone().unwrap_or_default();
        r.allow_email_domains = path.allow_email_domains.clone().unwrap_or_default();
    }
    if path.methods.is_some() {
        r.methods.clone_from(&path.methods);
    }
    if path.credential.is_some() || path.credentials.is_some() {
        r.credential.clone_from(&path.credential);
        r.credentials = path.credentials.clone().unwrap_or_default();
    }
    r
}

/// Attaches `paths` to `profile`: every header any of them (or the profile) may send is
/// answered by all of them, so a client's copy never reaches the app under any prefix.
pub(super) fn attach(mut profile: Profile, paths: Vec<PathProfile>) -> Profile {
    if paths.is_empty() {
        return profile;
    }
    let mut every: Vec<HeaderName> = profile.always.clone();
    let all = std::iter::once(&profile).chain(paths.iter().map(|p| p.profile.as_ref()));
    for name in all.flat_map(Profile::header_names) {
        if !every.contains(name) {
            every.push(name.clone());
        }
    }
    profile.paths = paths
        .into_iter()
        .map(|mut p| {
            let mut under = (*p.profile).clone();
            under.always.clone_from(&every);
            p.profile = Arc::new(under);
            p
        })
        .collect();
    profile.always = every;
    profile
}
