//! The `credential` table of a profile: one upstream credential, its secret from an
//! environment variable or a file, never from the TOML itself.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

use super::ctx::Ctx;
use crate::profile::credential::{self, BasicUser, Credential, JwtCredential, Kind, TokenKind};
use crate::token::{self, Signer};

#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub(super) struct CredentialRaw {
    #[serde(rename = "type")]
    kind: String,
    header: Option<String>,
    scheme: Option<String>,
    secret_env: Option<String>,
    secret_file: Option<String>,
    user: Option<String>,
    user_claim: Option<String>,
    password_env: Option<String>,
    password_file: Option<String>,
    algorithm: Option<String>,
    key_file: Option<String>,
    kid: Option<String>,
    audience: Option<String>,
    lifetime: Option<String>,
    claims: Option<BTreeMap<String, String>>,
    /// Only in `[[credentials]]`: the groups this credential is for (first match wins).
    pub(super) groups: Option<Vec<String>>,
}

/// Fields each credential type accepts (besides `type`, `header`, `scheme`).
fn allowed_fields(kind: &str) -> &'static [&'static str] {
    match kind {
        "static" => &["secret_env", "secret_file"],
        "basic" => &["user", "user_claim", "password_env", "password_file"],
        "access_token" | "id_token" => &[],
        "jwt" => &[
            "algorithm",
            "secret_env",
            "secret_file",
            "key_file",
            "kid",
            "audience",
            "lifetime",
            "claims",
        ],
        _ => &[],
    }
}

pub(super) fn credential(
    ctx: &mut Ctx<'_>,
    app: &str,
    at: &str,
    raw: &CredentialRaw,
) -> Option<Credential> {
    let at = at.to_owned();
    let set: Vec<(&str, bool)> = vec![
        ("secret_env", raw.secret_env.is_some()),
        ("secret_file", raw.secret_file.is_some()),
        ("user", raw.user.is_some()),
        ("user_claim", raw.user_claim.is_some()),
        ("password_env", raw.password_env.is_some()),
        ("password_file", raw.password_file.is_some()),
        ("algorithm", raw.algorithm.is_some()),
        ("key_file", raw.key_file.is_some()),
        ("kid", raw.kid.is_some()),
        ("audience", raw.audience.is_some()),
        ("lifetime", raw.lifetime.is_some()),
        ("claims", raw.claims.is_some()),
    ];
    let allowed = allowed_fields(&raw.kind);
    for (field, present) in set {
        if present && !allowed.contains(&field) {
            ctx.problem(
                &at,
                format!("`{field}` does not apply to type = \"{}\"", raw.kind),
            );
        }
    }
    let header = ctx.header(
        &format!("{at}.header"),
        raw.header.as_deref().unwrap_or("Authorization"),
    )?;
    let scheme = raw.scheme.clone().unwrap_or_else(|| "Bearer".into());
    if scheme.contains(char::is_whitespace) || scheme.chars().any(char::is_control) {
        ctx.problem(
            &format!("{at}.scheme"),
            "a scheme is one word such as Bearer or PreAuth (or \"\" for none)",
        );
    }
    let kind = match raw.kind.as_str() {
        "static" => {
            let secret = ctx.secret(
                &at,
                "secret",
                raw.secret_env.as_ref(),
                raw.secret_file.as_ref(),
            )?;
            Kind::Static(credential::with_scheme(&scheme, &secret).or_else(|| {
                ctx.problem(
                    &at,
                    "the secret cannot be sent in a header (control characters?)",
                );
                None
            })?)
        }
        "basic" => basic(ctx, &at, raw)?,
        "access_token" => Kind::UserToken {
            kind: TokenKind::Access,
            scheme,
        },
        "id_token" => Kind::UserToken {
            kind: TokenKind::Id,
            scheme,
        },
        "jwt" => Kind::Jwt {
            jwt: Box::new(jwt(ctx, app, &at, raw)?),
            scheme,
        },
        other => {
            ctx.problem(&format!("{at}.type"), format!("unknown credential type `{other}`; use static, basic, access_token, id_token or jwt"));
            return None;
        }
    };
    Some(Credential { header, kind })
}

fn basic(ctx: &mut Ctx<'_>, at: &str, raw: &CredentialRaw) -> Option<Kind> {
    let password = ctx.secret(
        at,
        "password",
        raw.password_env.as_ref(),
        raw.password_file.as_ref(),
    )?;
    let user = match (&raw.user, &raw.user_claim) {
        (Some(u), None) if !u.is_empty() && !u.contains(':') => {
            BasicUser::Fixed(credential::basic(u, &password)?)
        }
        (None, Some(c)) => BasicUser::Claim(ctx.claim(&format!("{at}.user_claim"), c)?),
        _ => {
            ctx.problem(
                at,
                "give exactly one of user (a fixed name without `:`) or user_claim",
            );
            return None;
        }
    };
    Some(Kind::Basic {
        user,
        password: crate::secret::Secret::new(password),
    })
}

fn jwt(ctx: &mut Ctx<'_>, app: &str, at: &str, raw: &CredentialRaw) -> Option<JwtCredential> {
    let alg_name = raw.algorithm.as_deref().unwrap_or("");
    let Some(alg) = token::algorithm(alg_name) else {
        ctx.problem(
            &format!("{at}.algorithm"),
            format!("unknown algorithm `{alg_name}`; use HS256, RS256, ES256 or EdDSA"),
        );
        return None;
    };
    let kid = raw
        .kid
        .clone()
        .unwrap_or_else(|| format!("{app}-{}", alg_name.to_ascii_lowercase()));
    let signer = if alg == jsonwebtoken::Algorithm::HS256 {
        let secret = ctx.secret(
            at,
            "secret",
            raw.secret_env.as_ref(),
            raw.secret_file.as_ref(),
        )?;
        if secret.len() < 32 {
            ctx.problem(
                at,
                "an HS256 secret needs at least 32 bytes: openssl rand -base64 48",
            );
            return None;
        }
        Signer::hmac(secret.as_bytes(), kid)
    } else {
        let Some(file) = &raw.key_file else {
            ctx.problem(at, format!("{alg_name} needs key_file, a PEM private key"));
            return None;
        };
        let pem = match std::fs::read(ctx.path(file)) {
            Ok(p) => p,
            Err(e) => {
                ctx.problem(
                    &format!("{at}.key_file"),
                    format!("cannot read `{file}`: {e}"),
                );
                return None;
            }
        };
        match Signer::from_pem(alg, &pem, kid) {
            Ok(s) => s,
            Err(e) => {
                ctx.problem(&format!("{at}.key_file"), format!("`{file}`: {e}"));
                return None;
            }
        }
    };
    let lifetime = match raw.lifetime.as_deref().map(humantime::parse_duration) {
        None => Duration::from_secs(300),
        Some(Ok(d)) if d.as_secs() >= 10 => d,
        Some(_) => {
            ctx.problem(
                &format!("{at}.lifetime"),
                "a duration of at least 10s, e.g. 5m",
            );
            return None;
        }
    };
    let default_claims = [
        ("email", "email"),
        ("preferred_username", "preferred_username"),
        ("groups", ctx.defaults.groups_claim.as_str()),
    ];
    let wanted: Vec<(String, String)> = match &raw.claims {
        Some(c) => c.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        None => default_claims
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    };
    let mut claims = Vec::new();
    for (out, source) in wanted {
        if ["iss", "sub", "aud", "exp", "iat", "nbf", "jti"].contains(&out.as_str()) {
            ctx.problem(
                &format!("{at}.claims.{out}"),
                "registered claims are set by sidegate",
            );
            continue;
        }
        claims.push((
            out.clone(),
            ctx.claim(&format!("{at}.claims.{out}"), &source)?,
        ));
    }
    Some(JwtCredential {
        signer,
        issuer: ctx.defaults.issuer.clone(),
        audience: raw.audience.clone().unwrap_or_else(|| app.to_owned()),
        lifetime: lifetime.as_secs(),
        claims,
    })
}
