//! Who `sidegate explain` checks as, and the headers it checks with: a `--user` session made
//! in the memory store, a `--session` read from Redis with a plain `GET` and copied there,
//! or nobody; keys and bearer tokens, which it cannot verify, left out with a note.

use http::header::{AUTHORIZATION, COOKIE};
use http::{HeaderMap, HeaderValue};

use super::failure::{usage, Failure};
use crate::app::App;
use crate::config::Config;
use crate::explain;
use crate::gate;
use crate::profile::Profile;
use crate::session::{Keys, Session, Sessions, Ticket};
use crate::store::MemoryStore;

/// What stands in for a user's IdP token in a `--user` session (always shown masked).
const STAND_IN: &str = "explain-stand-in-token";

/// Who the check runs as: the session cookie to send, and how to say it.
pub(super) struct Identity {
    pub cookie: Option<String>,
    pub claims: Option<crate::claims::Claims>,
    pub who: String,
    pub notes: Vec<String>,
}

pub(super) async fn identity(
    args: &crate::cli::args::ExplainArgs,
    app: &App<MemoryStore>,
) -> Result<Identity, Failure> {
    let config = &app.config;
    let now = app.clock.now();
    let (session, who, notes) = if let Some(user) = &args.user {
        let mut claims =
            explain::claims(args.claims_json.as_deref(), &args.claim).map_err(usage)?;
        claims.entry("sub").or_insert_with(|| user.clone().into());
        let (access, id) = config.profiles.tokens_needed();
        let mut notes = Vec::new();
        if access || id {
            notes.push("the user's IdP tokens are stand-ins (explain asks no IdP); the app would get the real ones".to_owned());
        }
        let session = Session {
            sub: user.clone(),
            claims: crate::claims::keep_needed(claims, &app.needed_claims),
            access_token: access.then(|| STAND_IN.to_owned()),
            id_token: id.then(|| STAND_IN.to_owned()),
            claims_read_at: now,
            created_at: now,
            expires_at: now.saturating_add(config.session_lifetime.as_secs()),
            ..Session::default()
        };
        let who = format!("{user}, in a session made for this explanation (--user)");
        (Some(session), who, notes)
    } else if let Some(raw) = &args.session {
        stored(config, raw, now).await?
    } else {
        (None, "nobody: no session, no key".to_owned(), Vec::new())
    };
    let Some(session) = session else {
        return Ok(Identity {
            cookie: None,
            claims: None,
            who,
            notes,
        });
    };
    let lifetime = std::time::Duration::from_secs(session.expires_at.saturating_sub(now).max(1));
    let ticket = app
        .sessions
        .create(&session, lifetime)
        .await
        .map_err(|e| Failure::Store(format!("cannot make the session in memory: {e}")))?;
    Ok(Identity {
        cookie: Some(format!(
            "{}={}",
            config.cookie.name,
            ticket.to_cookie_value()
        )),
        claims: Some(session.claims),
        who,
        notes,
    })
}

/// The stored session behind a `--session` value, read from Redis without writing.
async fn stored(
    config: &Config,
    raw: &str,
    now: u64,
) -> Result<(Option<Session>, String, Vec<String>), Failure> {
    let Some(redis) = &config.redis else {
        return Err(usage("--session needs SIDEGATE_REDIS_URL: with the memory store, sessions live inside the running server; use --user (with --claim) instead"));
    };
    let prefix = format!("{}=", config.cookie.name);
    let value = raw.trim().strip_prefix(&prefix).unwrap_or(raw.trim());
    let ticket = Ticket::parse(value).ok_or_else(|| {
        usage(format!("--session: not a value of the {} cookie (copy it from the browser's cookies for the app's domain)", config.cookie.name))
    })?;
    let store = crate::store::RedisStore::with_settings(redis).map_err(usage)?;
    let sessions = Sessions::new(store, Keys::derive(config.cookie_secret.expose()), None);
    let loaded = sessions.load_fresh(&ticket).await.map_err(|e| {
        Failure::Store(format!("cannot read the session from Redis: {e}; check SIDEGATE_REDIS_URL and that Redis is reachable from here"))
    })?;
    Ok(match loaded.filter(|s| s.is_live(now)) {
        Some(s) => {
            let who = format!("{}, from the stored session (--session, read-only)", s.sub);
            (Some(s), who, Vec::new())
        }
        None => (None, "nobody: no live stored session behind --session (expired, signed out, or sealed with another SIDEGATE_COOKIE_SECRET)".to_owned(), Vec::new()),
    })
}

/// The headers the check runs with: sidegate's own cookie replaced by the explanation's
/// session (if any); keys and bearer tokens left out, as explain cannot verify them.
pub(super) fn for_the_check(
    headers: &HeaderMap,
    app: &App<MemoryStore>,
    profile: Option<&Profile>,
    session: Option<&str>,
    notes: &mut Vec<String>,
) -> HeaderMap {
    let mut h = headers.clone();
    let name = &app.config.cookie.name;
    let texts = h.get_all(COOKIE).iter().filter_map(|v| v.to_str().ok());
    if session.is_none() && !crate::cookies::values(texts, name).is_empty() {
        notes.push(format!("the request carries a {name} session cookie, explained as not signed in: pass its value with --session to explain as that session (read from Redis), or use --user"));
    }
    let kept: Vec<Vec<u8>> = h
        .get_all(COOKIE)
        .iter()
        .map(|v| crate::cookies::for_the_app([v.as_bytes()], name))
        .filter(|c| !c.is_empty())
        .collect();
    h.remove(COOKIE);
    for c in session
        .map(str::as_bytes)
        .into_iter()
        .chain(kept.iter().map(Vec::as_slice))
    {
        if let Ok(v) = HeaderValue::from_bytes(c) {
            h.append(COOKIE, v);
        }
    }
    let bearer = h
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(gate::bearer)
        .map(str::to_owned);
    let apikey = app
        .config
        .apikey_header
        .as_ref()
        .filter(|n| h.contains_key(*n))
        .cloned();
    if bearer.as_deref().is_some_and(|b| b.starts_with("sgk_")) || apikey.is_some() {
        if bearer.is_some() {
            h.remove(AUTHORIZATION);
        }
        if let Some(n) = apikey {
            h.remove(n);
        }
        notes.push("an API key was presented: explain does not look keys up (a lookup records their use) and explains as if it were absent; a valid key for this app is allowed as `apikey:<name>` with the key's groups (--user apikey:<name> --claim groups=… shows that)".into());
    } else if bearer.is_some() && profile.is_some_and(|p| p.bearer_audience.is_some()) {
        h.remove(AUTHORIZATION);
        notes.push("a bearer token was presented: verifying it needs the IdP's keys, which explain does not fetch; explained as if it were absent".into());
    }
    h
}
