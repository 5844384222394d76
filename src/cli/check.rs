//! `sidegate check-config`: the effective configuration, the URIs to register at the IdP,
//! then (unless `--offline`) what the IdP and Redis say about the settings: the discovery
//! document and its issuer, the signing keys, the token endpoint with sidegate's client
//! credentials, and a Redis PING.
//!
//! Exit status: 0 when everything checks out, 2 when a setting must change (the output
//! names it and the value to set), 1 when something could not be reached.

use std::process::ExitCode;

use crate::config::Config;
use crate::oidc::{IdpError, IdpSettings, LoginState, Provider};
use crate::store::KeyValue;

/// What one check found.
enum Finding {
    Ok(String),
    /// A setting must change.
    Misconfigured(String),
    /// Something did not answer; the settings may be right.
    Unreachable(String),
}

impl Finding {
    fn from_idp(e: &IdpError) -> Self {
        match e {
            IdpError::Misconfigured(_) => Self::Misconfigured(e.to_string()),
            _ => Self::Unreachable(e.to_string()),
        }
    }
}

/// The URIs the IdP's client for sidegate must have registered.
fn register(config: &Config) -> String {
    let base = config.public_base();
    format!(
        "Register at the IdP, for client `{}`:\n  redirect URI:             {}\n  post-logout redirect URI: {base}/logged-out\n  back-channel logout URI:  {base}/backchannel-logout\n",
        config.client_id,
        config.redirect_uri(),
    )
}

/// A code no IdP issued: the token endpoint's answer to it says whether the client
/// credentials are accepted (`invalid_grant`) or not (`invalid_client`).
fn probe_login() -> LoginState {
    LoginState {
        state: "sidegate-check-config".into(),
        nonce: "sidegate-check-config".into(),
        verifier: "sidegate-check-config-".repeat(2),
        return_to: String::new(),
    }
}

/// The IdP checks: discovery (issuer compared byte for byte), keys, token endpoint.
async fn idp(config: &Config) -> Vec<Finding> {
    let settings = IdpSettings::from_config(config);
    let http = match crate::oidc::http_client() {
        Ok(h) => h,
        Err(e) => return vec![Finding::Unreachable(e.to_string())],
    };
    let discovery = format!(
        "{}/.well-known/openid-configuration",
        config.issuer_url.trim_end_matches('/')
    );
    let provider = match Provider::discover(&settings, http).await {
        Ok(p) => p,
        Err(e) => return vec![Finding::from_idp(&e)],
    };
    let mut found = vec![Finding::Ok(format!(
        "discovery: {discovery} states the issuer `{}`, exactly as configured",
        config.issuer_url
    ))];
    found.push(match provider.jwks().keys.len() {
        0 => Finding::Misconfigured(
            "signing keys: the IdP publishes none, so no ID token can be verified; give the client a signing key at the IdP".into(),
        ),
        n => Finding::Ok(format!("signing keys: the IdP publishes {n}")),
    });
    found.push(
        match provider
            .exchange("sidegate-check-config".into(), &probe_login())
            .await
        {
            Err(IdpError::CodeRefused(_)) => Finding::Ok(
                "token endpoint: answers and accepts sidegate's client id and secret".into(),
            ),
            Err(e) => Finding::from_idp(&e),
            Ok(_) => Finding::Misconfigured(
                "token endpoint: accepted a code it never issued; this is not a usable IdP".into(),
            ),
        },
    );
    if config.logout_at_idp && !provider.has_end_session() {
        found.push(Finding::Ok(
            "logout: the IdP has no end_session_endpoint, so signing out ends sidegate's session only (set SIDEGATE_LOGOUT_AT_IDP=false to say so)".into(),
        ));
    }
    found
}

/// The session store check: a PING to Redis (every node the settings name).
async fn store(config: &Config) -> Finding {
    let Some(redis) = &config.redis else {
        return Finding::Ok(
            "sessions: kept in memory (one instance; set SIDEGATE_REDIS_URL for more)".into(),
        );
    };
    let store = match crate::store::RedisStore::with_settings(redis) {
        Ok(s) => s,
        Err(e) => return Finding::Misconfigured(format!("Redis: {e}")),
    };
    match store.ping().await {
        Ok(()) => Finding::Ok("Redis: answers PING".into()),
        Err(e) => Finding::Unreachable(format!(
            "Redis: {e}; check that it is up and reachable from here, and its password"
        )),
    }
}

/// `sidegate check-config [--offline]`.
pub async fn check_config(config: &Config, warnings: &[String], offline: bool) -> ExitCode {
    for w in warnings {
        eprintln!("warning: {w}");
    }
    print!("{}", config.describe());
    print!("{}", register(config));
    if offline {
        println!("Not checked against the IdP and Redis (--offline).");
        return ExitCode::SUCCESS;
    }
    let mut findings = idp(config).await;
    findings.push(store(config).await);
    let profiles = config.profiles.named().len();
    if let Some(file) = &config.apps_file {
        findings.push(Finding::Ok(format!(
            "apps file: {} loaded, {profiles} app profile(s)",
            file.display()
        )));
    }
    println!("Checks:");
    let (mut misconfigured, mut unreachable) = (false, false);
    for f in &findings {
        match f {
            Finding::Ok(what) => println!("  ok           {what}"),
            Finding::Misconfigured(what) => {
                misconfigured = true;
                println!("  PROBLEM      {what}");
            }
            Finding::Unreachable(what) => {
                unreachable = true;
                println!("  UNREACHABLE  {what}");
            }
        }
    }
    if misconfigured {
        eprintln!("check-config: a setting must change (PROBLEM above)");
        ExitCode::from(2)
    } else if unreachable {
        eprintln!("check-config: something sidegate needs did not answer (UNREACHABLE above)");
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
