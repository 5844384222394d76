//! `sidegate explain`: one auth subrequest, answered by the server's own code and explained.
//!
//! The check runs on an `App` with the memory store, so nothing is written anywhere: a
//! `--user` session is made there, a `--session` is read from Redis with a plain `GET` (no
//! idle-deadline slide) and copied there. The subrequest goes through the same extraction
//! (`http::auth::original_request`, `asked`), [`gate::check`] and rendering
//! (`http::auth::render`) as on the server; this file only describes the result
//! (`crate::explain`). The IdP is never asked: bearer tokens and API keys are not verified.

use std::process::ExitCode;
use std::sync::Arc;

use http::header::COOKIE;
use http::{HeaderMap, HeaderName, HeaderValue};

use super::args::ExplainArgs;
use crate::app::App;
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::error::Error;
use crate::explain::report::{self, Report, Shown, Understood};
use crate::explain::{self, Endpoint, Proxy, Seen};
use crate::gate::{self, ClientKind};
use crate::http::auth::{self as server, ProxyKind};
use crate::redirect::{self, ReturnUrlRefusal};
use crate::store::MemoryStore;

mod failure;
mod identity;

use failure::{usage, Failure};
use identity::{for_the_check, identity};

/// `sidegate explain …`.
pub(super) async fn run(config: Config, warnings: &[String], args: ExplainArgs) -> ExitCode {
    for w in warnings {
        eprintln!("warning: {w}");
    }
    match explain(config, &args).await {
        Ok(r) if args.json => {
            println!("{}", serde_json::to_string_pretty(&r).unwrap_or_default());
            ExitCode::SUCCESS
        }
        Ok(r) => {
            print!("{}", report::render_text(&r));
            ExitCode::SUCCESS
        }
        Err(Failure::Usage(m)) => {
            eprintln!("sidegate explain: {m}");
            ExitCode::from(2)
        }
        Err(Failure::Store(m)) => {
            eprintln!("sidegate explain: {m}");
            ExitCode::from(1)
        }
    }
}

/// The subrequest to explain.
struct Input {
    proxy: Option<Proxy>,
    endpoint: Endpoint,
    headers: HeaderMap,
    captured: bool,
}

fn proxy_arg(args: &ExplainArgs) -> Option<Proxy> {
    match args.proxy.as_deref() {
        Some("nginx") => Some(Proxy::Nginx),
        Some("caddy") => Some(Proxy::Caddy),
        Some(_) => Some(Proxy::Traefik),
        None => None,
    }
}

fn input(args: &ExplainArgs) -> Result<Input, Failure> {
    let extra = args
        .headers
        .iter()
        .map(|h| explain::header_arg(h))
        .collect::<Result<Vec<_>, _>>()
        .map_err(usage)?;
    let Some(source) = &args.request else {
        let proxy = proxy_arg(args).unwrap_or(Proxy::Traefik);
        let url = args.url.as_deref().unwrap_or_default();
        let headers = explain::described(proxy, url, &args.method, &extra).map_err(usage)?;
        return Ok(Input {
            proxy: Some(proxy),
            endpoint: Endpoint {
                nginx: proxy.is_nginx(),
                app: args.app.clone(),
            },
            headers,
            captured: false,
        });
    };
    let bytes = if source == "-" {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf).map(|_| buf)
    } else {
        std::fs::read(source)
    }
    .map_err(|e| usage(format!("--request {source}: cannot read it: {e}")))?;
    let captured = explain::parse_captured(&String::from_utf8_lossy(&bytes))
        .map_err(|e| usage(format!("--request {source}: {e}")))?;
    let endpoint = captured.endpoint.clone().ok_or_else(|| {
        usage(format!("--request {source}: it asks for `{}`, not an auth endpoint (/auth, /auth/<app>, /auth/nginx, /auth/nginx/<app>)", captured.target))
    })?;
    if args.app.is_some() && args.app != endpoint.app {
        return Err(usage(format!(
            "--app says `{}` but the captured request asks {}; leave --app out with --request",
            args.app.as_deref().unwrap_or_default(),
            endpoint.path()
        )));
    }
    let mut headers = captured.headers;
    explain::add_headers(&mut headers, &extra);
    Ok(Input {
        proxy: proxy_arg(args).or(endpoint.nginx.then_some(Proxy::Nginx)),
        endpoint,
        headers,
        captured: true,
    })
}

/// Why a check failed outside a verdict, and what decided it.
fn failed(e: &Error) -> (String, Option<String>) {
    match e {
        Error::RecheckFailed { every, .. } => (format!("the app re-checks users at the IdP every {every}s and this session is due: the server asks the IdP first and answers 503 when it cannot (explain does not ask the IdP)"), Some("recheck_every".into())),
        Error::BadForwardedRequest(f) => (format!("refused before any check: {f}"), matches!(f, crate::forwarded::ForwardedError::UntrustedPeer).then(|| "SIDEGATE_TRUSTED_PROXIES".into())),
        Error::UnknownApp(a) => (format!("no app profile `{a}` in SIDEGATE_APPS_FILE"), None),
        other => (other.to_string(), None),
    }
}

async fn explain(config: Config, args: &ExplainArgs) -> Result<Report, Failure> {
    let input = input(args)?;
    let profile = config.profiles.get(input.endpoint.app.as_deref()).cloned();
    if profile.is_none() && !input.captured {
        let names: Vec<&str> = config
            .profiles
            .named()
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        return Err(usage(format!(
            "--app: no app profile `{}`; SIDEGATE_APPS_FILE has {names:?}",
            args.app.as_deref().unwrap_or_default()
        )));
    }
    let mut quiet = config;
    // Explaining is not deciding: no audit record.
    quiet.audit_log = None;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store = MemoryStore::with_clock(clock.clone());
    let app = App::new(quiet, store, None, clock).map_err(usage)?;
    let config = &app.config;
    let who = identity(args, &app).await?;
    let mut notes = who.notes.clone();
    if !input.captured {
        notes.push(format!("a subrequest described by flags: the proxy's own headers are those {} sends with the tested example configuration", input.proxy.map_or("it", Proxy::as_str)));
    }
    let checked = for_the_check(
        &input.headers,
        &app,
        profile.as_deref(),
        who.cookie.as_deref(),
        &mut notes,
    );
    let secret: Vec<HeaderName> = profile
        .iter()
        .flat_map(|p| p.all_credentials().map(|c| c.header.clone()))
        .chain(config.apikey_header.clone())
        .collect();
    let kind = if input.endpoint.nginx {
        ProxyKind::Nginx
    } else {
        ProxyKind::Redirecting
    };
    let peer = Some(args.peer);
    let mut client = None;
    let (request, (decision, rule), response) = match (
        server::original_request(&app, kind, peer, &checked),
        &profile,
    ) {
        (Err(e), _) => {
            // What the request would be from a trusted peer, for the reader and the warnings.
            let family = match kind {
                ProxyKind::Nginx => crate::forwarded::Family::Original,
                ProxyKind::Redirecting => crate::forwarded::Family::Forwarded,
            };
            let only = [ipnet::IpNet::from(args.peer)];
            let understood = (e == crate::forwarded::ForwardedError::UntrustedPeer)
                .then(|| crate::forwarded::parse(peer, &checked, &only, family).ok())
                .flatten();
            let e = Error::BadForwardedRequest(e);
            (understood, failed(&e), server::refusal(e))
        }
        (Ok(r), None) => {
            let e = Error::UnknownApp(input.endpoint.app.clone().unwrap_or_default());
            (Some(r), failed(&e), server::refusal(e))
        }
        (Ok(r), Some(p)) => {
            let asked = server::asked(&r, &checked, config.apikey_header.as_ref(), peer);
            let nav = gate::classify(&r.method, asked.hints) == ClientKind::Navigation;
            let why = report::client_why(&r.method, asked.hints, nav);
            client = Some((if nav { "navigation" } else { "other" }.to_owned(), why));
            // The rules of the per-path entry the path falls under, if any.
            let rules = &p.for_path(&r.uri).unwrap_or(p).rules;
            let (judged, response) = match gate::check(&app, p, asked).await {
                Ok(v) => (
                    report::judged(&v, rules, &r.uri, who.claims.as_ref()),
                    server::render(v, kind),
                ),
                Err(e) => (failed(&e), server::refusal(e)),
            };
            (Some(r), judged, response)
        }
    };
    let status = response.status().as_u16();
    let (mut app_receives, mut answered_empty, mut answer_headers) =
        (Vec::new(), Vec::new(), Vec::new());
    for (n, v) in response.headers() {
        let shown = Shown {
            name: n.as_str().to_owned(),
            value: report::mask(n, v, &secret),
        };
        match status {
            200 if v.is_empty() => answered_empty.push(shown.name),
            200 => app_receives.push(shown),
            _ if [
                "location",
                "www-authenticate",
                "x-sidegate-login",
                "retry-after",
            ]
            .contains(&n.as_str()) =>
            {
                answer_headers.push(shown)
            }
            _ => {}
        }
    }
    let url = request.as_ref().map(|r| r.url());
    let refused = url.as_deref().map(|u| {
        redirect::validate(u, &config.allowed_redirect_domains)
            .err()
            .or_else(|| {
                (config.cookie.secure && !redirect::secure_cookie_reaches(u))
                    .then_some(ReturnUrlRefusal::InsecureWithSecureCookie)
            })
    });
    let answered: Vec<HeaderName> = profile
        .iter()
        .flat_map(|p| {
            let h = gate::answer::anonymous(p, HeaderValue::from_static(""));
            h.keys().cloned().collect::<Vec<_>>()
        })
        .filter(|n| n != COOKIE)
        .collect();
    let trusted = crate::forwarded::is_trusted(peer, &config.trusted_proxies);
    let peer_text = args.peer.to_string();
    let warnings = explain::detect(&Seen {
        proxy: input.proxy,
        nginx_endpoint: input.endpoint.nginx,
        captured: input.captured,
        headers: &input.headers,
        peer: (&peer_text, trusted),
        return_url: url.as_deref().zip(refused),
        answered: &answered,
        apikey_header: config.apikey_header.as_ref(),
    });
    Ok(Report {
        proxy: input
            .proxy
            .map_or(
                if input.endpoint.nginx {
                    "nginx"
                } else {
                    "traefik or caddy"
                },
                Proxy::as_str,
            )
            .to_owned(),
        endpoint: input.endpoint.path(),
        profile: profile.as_ref().map(|p| p.name.clone()),
        peer: peer_text,
        peer_trusted: trusted,
        received: report::shown(&input.headers, &secret),
        request: request.map(|r| Understood {
            proto: r.proto,
            host: r.host,
            method: r.method,
            method_given: r.method_given,
            uri: r.uri,
        }),
        client,
        identity: who.who,
        decision,
        rule,
        status,
        proxy_does: report::proxy_does(
            status,
            response.headers(),
            input.proxy,
            input.endpoint.nginx,
        ),
        answer_headers,
        app_receives,
        answered_empty,
        notes,
        warnings,
    })
}
