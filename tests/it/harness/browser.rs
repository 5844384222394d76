//! A scripted browser: reqwest with a cookie jar, no automatic redirects, the test host
//! names resolved to the proxy, and navigation headers like a real browser's.

use std::net::SocketAddr;
use std::sync::Arc;

use reqwest::cookie::{CookieStore, Jar};
use reqwest::{Response, StatusCode};

pub const HOSTS: &[&str] = &[
    "auth.example.test",
    "app.example.test",
    "app2.example.test",
    "duplicati.example.test",
    "duplicati-preauth.example.test",
    "borg.example.test",
    "tisbackup.example.test",
    "jwt-app.example.test",
];
const ACCEPT_HTML: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

pub struct Browser {
    pub client: reqwest::Client,
    pub jar: Arc<Jar>,
}

impl Browser {
    /// A browser whose `*.example.test` names resolve to the proxy on `port`.
    pub fn new(port: u16) -> Browser {
        let jar = Arc::new(Jar::default());
        let mut b = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_provider(jar.clone());
        for h in HOSTS {
            b = b.resolve(h, SocketAddr::from(([127, 0, 0, 1], port)));
        }
        Browser {
            client: b.build().unwrap(),
            jar,
        }
    }

    /// A top-level navigation (what a person typing a URL does).
    pub async fn navigate(&self, url: &str) -> Response {
        self.client
            .get(url)
            .header("accept", ACCEPT_HTML)
            .header("sec-fetch-mode", "navigate")
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}"))
    }

    /// A `fetch()` from page script.
    pub async fn fetch(&self, url: &str) -> Response {
        self.client
            .get(url)
            .header("accept", "application/json")
            .header("sec-fetch-mode", "cors")
            .send()
            .await
            .unwrap()
    }

    /// The `Cookie` header this browser would send to `url`.
    pub fn cookies_for(&self, url: &str) -> String {
        self.jar
            .cookies(&url.parse().unwrap())
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    }

    /// The value of cookie `name` for `url`.
    pub fn cookie(&self, url: &str, name: &str) -> Option<String> {
        self.cookies_for(url)
            .split("; ")
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")).map(str::to_owned))
    }

    /// Sets cookie `name=value` for `url`'s host with `Domain=example.test`.
    pub fn set_cookie(&self, url: &str, name: &str, value: &str) {
        let u: reqwest::Url = url.parse().unwrap();
        self.jar
            .add_cookie_str(&format!("{name}={value}; Domain=example.test; Path=/"), &u);
    }

    /// From an IdP authorization URL, logs in as `user` (filling the login and consent
    /// forms) and returns the URL the IdP redirects to (sidegate's `/callback?...`).
    pub async fn login_at_idp(&self, auth_url: &str, user: &str, callback_prefix: &str) -> String {
        let mut url: reqwest::Url = auth_url.parse().unwrap();
        let mut form: Option<Vec<(&str, &str)>> = None;
        for _ in 0..20 {
            let r = match form.take() {
                Some(f) => self.client.post(url.clone()).form(&f).send().await.unwrap(),
                None => self
                    .client
                    .get(url.clone())
                    .header("accept", ACCEPT_HTML)
                    .send()
                    .await
                    .unwrap(),
            };
            if r.status().is_redirection() {
                let loc = r.headers()["location"].to_str().unwrap().to_owned();
                let next = url.join(&loc).unwrap();
                if next.as_str().starts_with(callback_prefix) {
                    return next.to_string();
                }
                url = next;
                continue;
            }
            let status = r.status();
            let body = r.text().await.unwrap();
            assert_eq!(status, StatusCode::OK, "IdP page {url}: {body}");
            form = Some(if body.contains("name=\"login\"") {
                vec![("prompt", "login"), ("login", user), ("password", "x")]
            } else {
                vec![("prompt", "consent")]
            });
        }
        panic!("login at the IdP did not come back to {callback_prefix}");
    }
}

/// Logs alice in through sidegate on `port` (as `auth.example.test`) and the test IdP;
/// the session cookie's value.
pub async fn sign_in(port: u16) -> String {
    sign_in_as(port, "alice").await
}

/// Logs `user` in as [`sign_in`] does; the session cookie's value.
pub async fn sign_in_as(port: u16, user: &str) -> String {
    let b = Browser::new(port);
    let app = format!("http://app.example.test:{port}/");
    let rd: String = url::form_urlencoded::byte_serialize(app.as_bytes()).collect();
    let r = b
        .navigate(&format!("http://auth.example.test:{port}/start?rd={rd}"))
        .await;
    let callback = b
        .login_at_idp(
            &location(&r),
            user,
            &format!("http://auth.example.test:{port}/callback"),
        )
        .await;
    let r = b.navigate(&callback).await;
    assert_eq!(location(&r), app, "login did not return to the app");
    b.cookie(&app, "_sidegate").unwrap()
}

/// The `Location` header of a response.
pub fn location(r: &Response) -> String {
    r.headers()
        .get("location")
        .unwrap_or_else(|| panic!("no Location in {} response", r.status()))
        .to_str()
        .unwrap()
        .to_owned()
}
