//! The pages people see besides errors, each with where to go next: who is signed in
//! (`/` and `/start` without `rd`), and signed out (with "Sign in again" and, when the app
//! is known, "Back to <app>").

use warp::http::header::{COOKIE, REFERER};
use warp::http::{HeaderMap, StatusCode};
use warp::reply::Response;

use super::pages;
use crate::app::App;
use crate::cookies;
use crate::session::{Session, Ticket};
use crate::store::SessionStore;

/// What state `/logout` hands the IdP when there is no `rd` but the app is known: the
/// signed-out page then links back to it instead of redirecting.
pub(super) const BACK: &str = "back:";

/// The session of this browser, if it has a valid one (a store failure counts as none:
/// these pages decide nothing).
pub(super) async fn current_session<S: SessionStore>(
    app: &App<S>,
    headers: &HeaderMap,
) -> Option<std::sync::Arc<Session>> {
    let now = app.clock.now();
    let sent = headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok());
    for value in cookies::values(sent, &app.config.cookie.name)
        .iter()
        .take(3)
    {
        let Some(ticket) = Ticket::parse(value) else {
            continue;
        };
        if let Ok(Some(s)) = app.sessions.load(&ticket).await {
            if s.expires_at > now {
                return Some(s);
            }
        }
    }
    None
}

/// A short name for the person: the username, else the email, else the name, else `sub`.
fn who(session: &Session) -> String {
    ["preferred_username", "email", "name"]
        .iter()
        .find_map(|c| session.claims.get(*c).and_then(|v| v.as_str()))
        .filter(|s| !s.is_empty())
        .unwrap_or(&session.sub)
        .chars()
        .take(128)
        .collect()
}

/// "Signed in as …", with a way to sign out.
pub(super) fn signed_in(session: &Session) -> Response {
    pages::page_with_links(
        StatusCode::OK,
        "Signed in",
        &format!(
            "You are signed in as {}. Open one of the sites behind this proxy, or sign out.",
            who(session)
        ),
        &[("Sign out", "/logout")],
    )
}

/// `GET /denied`: the "Access denied" page a proxy shows when sidegate refused a signed-in
/// person (nginx: `error_page 403`), saying as whom, with a way to sign in as someone else.
/// Links are absolute: the proxy serves this page on the app's host.
pub(super) async fn denied<S: SessionStore>(app: &App<S>, headers: &HeaderMap) -> Response {
    let message = match current_session(app, headers).await {
        Some(s) => format!(
            "You are signed in as {}, but this app is not open to your account. Ask its administrator for access, or sign out and sign in as someone else.",
            who(&s)
        ),
        None => "This app is not open to you. Ask its administrator for access.".to_owned(),
    };
    let logout = format!("{}/logout", app.config.public_base());
    pages::page_with_links(
        StatusCode::FORBIDDEN,
        "Access denied",
        &message,
        &[("Sign out", &logout)],
    )
}

/// "Signed out", with "Sign in again" (back to `back` when known) and "Back to <app>".
pub(super) fn signed_out(back: Option<&str>) -> Response {
    let Some(back) = back else {
        return pages::page_with_links(
            StatusCode::OK,
            "Signed out",
            "You are signed out. You can close this window.",
            &[("Sign in again", "/start")],
        );
    };
    let again = format!(
        "/start?rd={}",
        url::form_urlencoded::byte_serialize(back.as_bytes()).collect::<String>()
    );
    let host = url::Url::parse(back)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default();
    pages::page_with_links(
        StatusCode::OK,
        "Signed out",
        "You are signed out. You can close this window.",
        &[
            ("Sign in again", &again),
            (&format!("Back to {host}"), back),
        ],
    )
}

/// The app a sign-out came from, when the browser says (`Referer`, origin and path only)
/// and it is an allowed return URL other than sidegate itself.
pub(super) fn app_from_referer<S>(app: &App<S>, headers: &HeaderMap) -> Option<String> {
    let referer = headers.get(REFERER)?.to_str().ok()?;
    let u = url::Url::parse(referer).ok()?;
    if u.host_str() == app.config.public_url.host_str() && u.port() == app.config.public_url.port()
    {
        return None;
    }
    let back = format!("{}{}", u.origin().ascii_serialization(), u.path());
    crate::redirect::validate(&back, &app.config.allowed_redirect_domains).ok()?;
    Some(back)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_signed_out_page_links_back_to_the_app_escaped() {
        use http_body_util::BodyExt;
        let r = signed_out(Some("https://app.example.test/a?b=\"<x>"));
        let bytes = r.into_body().collect().await.unwrap().to_bytes();
        let body = String::from_utf8(bytes.to_vec()).unwrap();
        assert!(body.contains("Back to app.example.test"), "{body}");
        assert!(
            body.contains("href=\"/start?rd=https%3A%2F%2Fapp.example.test%2Fa%3Fb%3D%22%3Cx%3E\""),
            "{body}"
        );
        assert!(!body.contains("<x>"), "{body}");
    }
}
