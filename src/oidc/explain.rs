//! Why discovery failed, in words a person can act on.

use super::capped::Capped;
use super::types::IdpError;

/// Why discovery failed, in words a person can act on: the issuer the IdP states when it
/// is another spelling, or what answered instead of a discovery document. A network
/// failure or an IdP answering 5xx is [`IdpError::Discovery`] (unreachable, retrying
/// helps); anything else is [`IdpError::Misconfigured`] (a setting must change).
pub(super) async fn explain(configured: &str, http: &Capped, cause: String) -> IdpError {
    let url = format!(
        "{}/.well-known/openid-configuration",
        configured.trim_end_matches('/')
    );
    let Ok(request) = http::Request::get(&url).body(Vec::new()) else {
        return IdpError::Misconfigured(format!("SIDEGATE_ISSUER_URL: {cause}"));
    };
    let answer = match openidconnect::AsyncHttpClient::call(http, request).await {
        Ok(a) => a,
        Err(e) => {
            return IdpError::Discovery(format!(
                "the IdP cannot be reached at {url} ({}); check SIDEGATE_ISSUER_URL and that the IdP is up and reachable from here",
                error_chain(&e)
            ))
        }
    };
    let status = answer.status();
    if status.is_server_error() {
        return IdpError::Discovery(format!(
            "the IdP answered {} for {url}; it is failing, sidegate keeps trying",
            status.as_u16()
        ));
    }
    if !status.is_success() {
        return IdpError::Misconfigured(format!(
            "the IdP answered {} for {url}; SIDEGATE_ISSUER_URL must be the issuer itself (without /.well-known/…), exactly as the IdP states it",
            status.as_u16()
        ));
    }
    let stated = serde_json::from_slice::<serde_json::Value>(answer.body())
        .ok()
        .and_then(|d| d.get("issuer").and_then(|i| i.as_str()).map(str::to_owned));
    IdpError::Misconfigured(match stated {
        Some(stated) if stated != configured => format!(
            "issuer mismatch: the IdP says `{stated}`; set SIDEGATE_ISSUER_URL to exactly that (it is `{configured}`)"
        ),
        _ => format!("the IdP's discovery document or keys are not usable: {cause}"),
    })
}

/// An error with its sources, for log lines that say what actually went wrong.
pub(super) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
