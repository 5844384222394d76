//! The headers an allowed check answers with, rendered by `upstream`: identity headers,
//! value mappings and the profile's credential. Pure, apart from the mint cache.

use http::header::COOKIE;
use http::{HeaderMap, HeaderValue};

use super::principal::Principal;
use crate::profile::credential::{Credential, Kind};
use crate::profile::mint::{MintCache, Subject};
use crate::profile::Profile;
use crate::upstream;

/// The principal lacks the user's token the profile's credential forwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LacksToken;

/// The credential for `p` that needs no signing (`Ok(None)`: none, or a JWT minted once the
/// check is allowed). `Err` when the credential forwards a token the principal does not have.
pub fn unsigned_credential(
    credential: Option<&Credential>,
    p: &Principal,
) -> Result<Option<HeaderValue>, LacksToken> {
    let Some(c) = credential else {
        return Ok(None);
    };
    if matches!(c.kind, Kind::Jwt { .. }) {
        return Ok(None);
    }
    match c.simple_value(p.claims(), p.access_token(), p.id_token()) {
        Some(v) => Ok(Some(v)),
        None if c.token_needed().is_some() => Err(LacksToken),
        None => Ok(None),
    }
}

/// The minted-JWT credential for `p`, if the chosen credential is one.
pub fn minted_credential(
    mint: &MintCache,
    profile: &Profile,
    credential: Option<&Credential>,
    p: &Principal,
    now: u64,
) -> Option<HeaderValue> {
    let Kind::Jwt { jwt, scheme } = &credential?.kind else {
        return None;
    };
    let subject = Subject {
        cache_key: p.cache_key(),
        sub: p.subject(),
        claims: p.claims(),
    };
    mint.value(&profile.name, jwt, scheme, subject, now)
}

/// The `Cookie` header the app receives (always sent, empty when no cookie remains): the
/// request's cookies without sidegate's own, or all of them when stripping is off.
pub fn app_cookie(raw: &[&[u8]], session_cookie: &str, strip: bool) -> HeaderValue {
    let bytes = if strip {
        crate::cookies::for_the_app(raw.iter().copied(), session_cookie)
    } else {
        raw.join(&b"; "[..])
    };
    HeaderValue::from_bytes(&bytes).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Identity headers, mappings and the credential (`chosen`'s header, `credential`'s value)
/// for an allowed principal.
pub fn allowed(
    profile: &Profile,
    p: &Principal,
    chosen: Option<&Credential>,
    credential: Option<HeaderValue>,
    cookie: HeaderValue,
) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(COOKIE, cookie);
    // Identity headers and mappings depend only on the claims: rendered once per session
    // value and profile (a cached session is answered again without rendering).
    let render = || {
        let mut v = upstream::identity_headers(&profile.headers, p.claims(), profile.encoding);
        v.extend(
            profile
                .mappings
                .iter()
                .map(|m| (m.header.clone(), m.value(p.claims()))),
        );
        v
    };
    let rendered = p
        .who
        .rendered
        .get_or(std::ptr::from_ref(profile) as usize, render);
    h.extend(rendered.iter().cloned());
    // Every credential header is answered, so a client's copy never reaches the app.
    for c in profile.all_credentials() {
        h.insert(c.header.clone(), HeaderValue::from_static(""));
    }
    if let (Some(c), Some(value)) = (chosen, credential) {
        h.insert(c.header.clone(), value);
    }
    answer_the_rest(profile, &mut h);
    h
}

/// The profile's `always_headers` that the answer does not set yet, empty: the proxy copies
/// them, so the client's copies never reach the app.
fn answer_the_rest(profile: &Profile, h: &mut HeaderMap) {
    for name in &profile.always {
        if !h.contains_key(name) {
            h.insert(name.clone(), HeaderValue::from_static(""));
        }
    }
}

/// A bypass path: every header the proxy copies is sent, empty (Caddy 2.6 would pass a
/// literal placeholder for a missing one), and no credential.
pub fn anonymous(profile: &Profile, cookie: HeaderValue) -> HeaderMap {
    let mut h: HeaderMap = profile
        .header_names()
        .into_iter()
        .map(|n| (n.clone(), HeaderValue::from_static("")))
        .collect();
    h.insert(COOKIE, cookie);
    answer_the_rest(profile, &mut h);
    h
}
