//! Why discovery failed, in words a person can act on.

use super::capped::Capped;

/// Why discovery failed, in words a person can act on: the issuer the IdP states when it
/// is another spelling, or what answered instead of a discovery document.
pub(super) async fn explain(configured: &str, http: &Capped, cause: String) -> String {
    let url = format!(
        "{}/.well-known/openid-configuration",
        configured.trim_end_matches('/')
    );
    let Ok(request) = http::Request::get(&url).body(Vec::new()) else {
        return cause;
    };
    let answer = match openidconnect::AsyncHttpClient::call(http, request).await {
        Ok(a) => a,
        Err(e) => {
            return format!(
                "the IdP cannot be reached at {url} ({}); check SIDEGATE_ISSUER_URL and that the IdP is up and reachable from here",
                error_chain(&e)
            )
        }
    };
    if !answer.status().is_success() {
        return format!(
            "the IdP answered {} for {url}; SIDEGATE_ISSUER_URL must be the issuer itself (without /.well-known/…), exactly as the IdP states it",
            answer.status().as_u16()
        );
    }
    let stated = serde_json::from_slice::<serde_json::Value>(answer.body())
        .ok()
        .and_then(|d| d.get("issuer").and_then(|i| i.as_str()).map(str::to_owned));
    match stated {
        Some(stated) if stated != configured => format!(
            "issuer mismatch: the IdP says `{stated}`; set SIDEGATE_ISSUER_URL to exactly that (it is `{configured}`)"
        ),
        _ => format!("the IdP's discovery document or keys are not usable: {cause}"),
    }
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
