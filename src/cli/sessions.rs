//! `sidegate sessions revoke --user <sub>`.

use std::process::ExitCode;

use super::args::SessionsAction;
use crate::config::Config;

/// `sidegate sessions revoke --user <sub>`: end every session of a user, on every instance
/// (they share Redis). With the memory store the sessions live inside the server process:
/// use its admin endpoint instead.
pub(super) async fn run(config: &Config, action: SessionsAction) -> ExitCode {
    let SessionsAction::Revoke { user } = action;
    let Some(redis) = &config.redis else {
        eprintln!("sidegate sessions revoke needs SIDEGATE_REDIS_URL: with the memory store, sessions live inside the running server; use POST /admin/sessions/revoke?user=<sub> with SIDEGATE_ADMIN_TOKEN instead");
        return ExitCode::from(2);
    };
    let store = match crate::store::RedisStore::with_settings(redis) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let keys = crate::session::Keys::derive(config.cookie_secret.expose());
    let sessions = crate::session::Sessions::new(store, keys, None);
    match sessions.revoke("sub", &user).await {
        Ok(n) => {
            println!("ended {n} session(s) of {user}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("could not end the sessions: {e}; check that Redis at SIDEGATE_REDIS_URL is reachable");
            ExitCode::from(1)
        }
    }
}
