//! The gate: one forward-auth check, outside HTTP.
//!
//! [`check`] runs the three steps of every `/auth*` request:
//! 1. [`identify`](identify::identify): API key, IdP bearer token or session cookie → one
//!    [`Principal`] (store and IdP calls happen here, and only here);
//! 2. [`decide`](decide::decide): pure; every outcome (refused key or token, a session that
//!    lacks the app's token, method, bypass, rules, login or 401);
//! 3. [`answer`]: the headers the app receives, rendered by `upstream`.
//!
//! The HTTP layer extracts the [`Asked`] request, calls [`check`] and renders the [`Verdict`]
//! for the calling proxy.

pub mod answer;
pub mod decide;
pub mod identify;
pub mod principal;
pub mod verdict;

pub use decide::{classify, ClientHints, ClientKind, CredentialRefusal, Decision, Presenter};
pub use identify::{bearer, Presentation};
pub use principal::{Principal, Proof};
pub use verdict::{Denial, Verdict};

use crate::app::App;
use crate::error::Error;
use crate::forwarded::ForwardedRequest;
use crate::logged::capped;
use crate::profile::Profile;
use crate::store::SessionStore;
use decide::Presented;
use identify::Identified;

/// One check, as the proxy described it.
#[derive(Debug)]
pub struct Asked<'a> {
    /// The client's original request.
    pub request: &'a ForwardedRequest,
    /// What tells a navigation from an API call.
    pub hints: ClientHints<'a>,
    /// The client's own credentials.
    pub presented: Presentation<'a>,
}

/// Refused: the app's credentials are chosen by group and none is for this user.
pub const NO_CREDENTIAL: &str =
    "the app's credentials are chosen by group, and none is for this user's groups";

/// Refused: which of the app's per-path rules applies cannot be told safely.
pub const AMBIGUOUS_PATH: &str =
    "the path has dot segments or encoded separators, and the app has per-path rules";

/// The metrics reason for a verdict.
pub fn reason(verdict: &Verdict) -> crate::metrics::Reason {
    use crate::metrics::Reason as R;
    match verdict {
        Verdict::Allow { identity: None, .. } => R::Bypass,
        Verdict::Allow {
            identity: Some(p), ..
        } => match p.proof {
            Proof::Session { .. } => R::Session,
            Proof::Bearer => R::Bearer,
            Proof::ApiKey { .. } => R::ApiKey,
        },
        Verdict::Login { start } if start.contains("/logout") => R::AppLogout,
        Verdict::Login { .. } | Verdict::Deny(Denial::Unauthenticated { .. }) => R::NoSession,
        Verdict::Deny(Denial::TooManyAttempts { .. }) => R::TooManyAttempts,
        Verdict::Deny(Denial::Credential(r)) => match r.what {
            Presenter::ApiKey => R::BadKey,
            Presenter::Bearer => R::BadBearer,
        },
        Verdict::Deny(Denial::Forbidden { reason, .. }) => match *reason {
            decide::METHOD_UNKNOWN | decide::METHOD_REFUSED => R::Method,
            decide::RETURN_URL_REFUSED => R::ReturnUrl,
            NO_CREDENTIAL => R::NoCredential,
            _ => R::Rule,
        },
    }
}

/// sidegate's own login entry for `return_to`: always absolute.
pub fn start_url<S>(app: &App<S>, return_to: &str) -> String {
    let rd: String = url::form_urlencoded::byte_serialize(return_to.as_bytes()).collect();
    format!("{}/start?rd={rd}", app.config.public_base())
}

/// sidegate's `/logout`, returning to the app's home page when that is an allowed return URL.
pub fn logout_url<S>(app: &App<S>, request: &ForwardedRequest) -> String {
    let home = format!("{}://{}/", request.proto, request.host);
    let base = format!("{}/logout", app.config.public_base());
    match crate::redirect::validate(&home, &app.config.allowed_redirect_domains) {
        Ok(()) => {
            let rd: String = url::form_urlencoded::byte_serialize(home.as_bytes()).collect();
            format!("{base}?rd={rd}")
        }
        Err(_) => base,
    }
}

/// Checks one request for `profile`.
///
/// # Errors
/// [`Error::Store`] when the store fails, [`Error::RecheckFailed`] when the IdP could not
/// re-check the user: never answered as allowed or as "not signed in".
pub async fn check<S: SessionStore>(
    app: &App<S>,
    profile: &Profile,
    asked: Asked<'_>,
) -> Result<Verdict, Error> {
    let now = app.clock.now();
    // Per-path rules: the profile as it applies to this path.
    let Ok(profile) = profile.for_path(&asked.request.uri) else {
        let request = asked.request;
        tracing::warn!(app = %profile.name, uri = %capped(&request.uri), "access refused: {AMBIGUOUS_PATH}");
        if app.audit.enabled() {
            let outcome = ("forbidden", Some(AMBIGUOUS_PATH), false);
            audit(app, profile, request, None, None, outcome, now);
        }
        let navigation = classify(&request.method, asked.hints) == ClientKind::Navigation;
        return Ok(Verdict::Deny(Denial::Forbidden {
            reason: AMBIGUOUS_PATH,
            navigation,
        }));
    };
    let identified = identify::identify(app, profile, &asked.presented).await?;
    let (principal, refusal) = match identified {
        Identified::Limited(retry_after) => {
            tracing::warn!(app = %profile.name, client = ?asked.presented.from, "too many failed API-key or bearer attempts; refused for {}s without looking", crate::guesses::retry_after_secs(retry_after));
            if app.audit.enabled() {
                let outcome = ("too_many_attempts", Some("guess_limit"), false);
                audit(app, profile, asked.request, None, None, outcome, now);
            }
            return Ok(Verdict::Deny(Denial::TooManyAttempts { retry_after }));
        }
        Identified::Nobody => (None, None),
        Identified::Refused(r) => (None, Some(r)),
        Identified::Proven(p) => (Some(p), None),
    };
    // The credential for this principal's groups (`Err`: credentials are chosen by group and
    // none is for them).
    let chosen = principal
        .as_ref()
        .map(|p| profile.credential_for(p.claims()));
    let credential = chosen.and_then(|c| c.ok()).flatten();
    let unsigned = principal
        .as_ref()
        .map(|p| answer::unsigned_credential(credential, p));
    let presented = match (&principal, refusal, &unsigned) {
        (_, Some(r), _) => Presented::Refused(r),
        (Some(_), _, Some(Err(answer::LacksToken))) => Presented::LacksToken,
        (Some(p), _, _) => Presented::Principal(p),
        (None, None, _) => Presented::Nobody,
    };
    let request = asked.request;
    let client = classify(&request.method, asked.hints);
    let domains = &app.config.allowed_redirect_domains;
    let decision = decide::decide(request, presented, client, domains, &profile.rules, now);
    tracing::debug!(?decision, app = %profile.name, host = %capped(&request.host), method = %capped(&request.method), "auth");
    let cookie = || {
        let c = &app.config.cookie;
        answer::app_cookie(&asked.presented.raw_cookies, &c.name, c.strip)
    };
    if decision == Decision::AllowEndingSession {
        let live = Box::pin(identify::live_session(app, &asked.presented.cookies));
        if let Some((ticket, _)) = live.await? {
            if Box::pin(app.sessions.delete(&ticket)).await? {
                tracing::info!(ticket_id = %ticket.id(), app = %profile.name, "signed out by the app's own logout endpoint");
                app.metrics.logout(crate::metrics::LogoutKind::App, 1);
            }
        }
    }
    if app.audit.enabled() {
        let outcome = audited(&decision);
        audit(
            app,
            profile,
            request,
            principal.as_ref(),
            credential,
            outcome,
            now,
        );
    }
    Ok(match decision {
        Decision::Allow | Decision::AllowEndingSession => {
            match principal {
                Some(p) if matches!(chosen, Some(Err(_))) => {
                    let reason = NO_CREDENTIAL;
                    tracing::warn!(subject = %capped(p.subject()), app = %profile.name, rule = reason, "access refused");
                    Verdict::Deny(Denial::Forbidden {
                        reason,
                        navigation: client == ClientKind::Navigation,
                    })
                }
                Some(p) => {
                    let value = unsigned.and_then(Result::ok).flatten().or_else(|| {
                        answer::minted_credential(&app.mint, profile, credential, &p, now)
                    });
                    Verdict::Allow {
                        headers: answer::allowed(profile, &p, credential, value, cookie()),
                        identity: Some(Box::new(p)),
                    }
                }
                // decide allows only a principal; should that ever change, fail closed.
                None => Verdict::Deny(Denial::Unauthenticated { login: None }),
            }
        }
        Decision::AllowAnonymous => Verdict::Allow {
            identity: None,
            headers: answer::anonymous(profile, cookie()),
        },
        Decision::Login { return_to } => Verdict::Login {
            start: start_url(app, &return_to),
        },
        Decision::SignOut => Verdict::Login {
            start: logout_url(app, request),
        },
        Decision::Unauthenticated => {
            let return_to = request.url();
            let login = crate::redirect::validate(&return_to, domains)
                .is_ok()
                .then(|| start_url(app, &return_to));
            Verdict::Deny(Denial::Unauthenticated { login })
        }
        Decision::CredentialRefused(r) => {
            tracing::warn!(app = %profile.name, reason = r.reason, "{} refused", r.what.as_str());
            Verdict::Deny(Denial::Credential(r))
        }
        Decision::Forbidden { reason } => {
            let subject = principal
                .as_ref()
                .map_or("(not signed in)", |p| p.subject());
            tracing::warn!(subject = %capped(subject), app = %profile.name, host = %capped(&request.host), method = %capped(&request.method), uri = %capped(&request.uri), rule = reason, "access refused");
            Verdict::Deny(Denial::Forbidden {
                reason,
                navigation: client == ClientKind::Navigation,
            })
        }
    })
}

/// The audit outcome of `decision`, the refusing rule, and whether it allows.
fn audited(decision: &Decision) -> (&'static str, Option<&'static str>, bool) {
    let (outcome, rule) = match decision {
        Decision::Allow => ("allow", None),
        Decision::AllowEndingSession => ("allow_ending_session", None),
        Decision::AllowAnonymous => ("allow_anonymous", Some("bypass")),
        Decision::Login { .. } => ("login", None),
        Decision::SignOut => ("sign_out", None),
        Decision::Unauthenticated => ("unauthenticated", None),
        Decision::CredentialRefused(r) => ("credential_refused", Some(r.reason)),
        Decision::Forbidden { reason } => ("forbidden", Some(*reason)),
    };
    let allowed = matches!(decision, Decision::Allow | Decision::AllowEndingSession);
    (outcome, rule, allowed)
}

/// One audit record for this decision (see [`crate::audit`]).
fn audit<S>(
    app: &App<S>,
    profile: &Profile,
    request: &ForwardedRequest,
    principal: Option<&Principal>,
    credential: Option<&crate::profile::credential::Credential>,
    (outcome, rule, allowed): (&'static str, Option<&'static str>, bool),
    now: u64,
) {
    let (proof, key) = match principal.map(|p| &p.proof) {
        Some(Proof::Session { .. }) => (Some("session"), None),
        Some(Proof::Bearer) => (Some("bearer"), None),
        Some(Proof::ApiKey { name }) => (Some("apikey"), Some(name.as_str())),
        None => (None, None),
    };
    app.audit.record(&crate::audit::Record {
        time: crate::audit::timestamp(now),
        subject: principal.map(|p| p.subject()),
        proof,
        key,
        app: &profile.name,
        method: &request.method,
        host: &request.host,
        path: crate::audit::path_of(&request.uri),
        rule,
        credential: credential.filter(|_| allowed).map(|c| c.label()),
        outcome,
    });
}

#[cfg(test)]
mod tests;
