//! `sidegate apikey create|list|revoke`: API keys in Redis (or `SIDEGATE_APIKEYS_FILE`).

use std::process::ExitCode;

use super::args::ApikeyAction;
use crate::apikey::{self, Backend, Record};
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::store::RedisStore;

/// Runs one API-key action.
pub(super) async fn run(config: &Config, action: ApikeyAction) -> ExitCode {
    let backend: Backend<RedisStore> = match (&config.redis, &config.apikeys_file) {
        (Some(redis), _) => match RedisStore::with_settings(redis) {
            Ok(s) => Backend::Store(s),
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(2);
            }
        },
        (None, Some(file)) => Backend::File(file.clone()),
        (None, None) => {
            eprintln!("API keys need somewhere to live: set SIDEGATE_REDIS_URL (shared by every instance) or SIDEGATE_APIKEYS_FILE");
            return ExitCode::from(2);
        }
    };
    let now = SystemClock.now();
    let result = match action {
        ApikeyAction::Create {
            name,
            profile,
            groups,
            expires,
        } => {
            if config.profiles.get(Some(&profile)).is_none() {
                eprintln!("--profile: there is no app profile `{profile}` in SIDEGATE_APPS_FILE");
                return ExitCode::from(2);
            }
            let expires_at = match expires.map(|e| humantime::parse_duration(&e)) {
                None => None,
                Some(Ok(d)) => Some(now.saturating_add(d.as_secs())),
                Some(Err(_)) => {
                    eprintln!("--expires: not a duration such as 90d or 12h");
                    return ExitCode::from(2);
                }
            };
            let Ok((key, id, secret)) = apikey::generate() else {
                eprintln!("no randomness available");
                return ExitCode::from(1);
            };
            let groups = groups
                .map(|g| {
                    g.split(',')
                        .map(|s| s.trim().to_owned())
                        .filter(|s| !s.is_empty())
                        .collect()
                })
                .unwrap_or_default();
            let keys = crate::session::Keys::derive(config.cookie_secret.expose());
            let record = Record {
                id,
                name: name.clone(),
                profile,
                groups,
                hash: apikey::hash(keys.apikey(), &secret),
                created_at: now,
                expires_at,
                last_used_at: None,
            };
            backend.put(&record, now).await.map(|()| {
                println!("{key}");
                eprintln!("API key `{name}` created. It is shown only this once; send it as `Authorization: Bearer <key>`.");
            })
        }
        ApikeyAction::List => backend.list().await.map(|records| {
            println!(
                "{:<20} {:<16} {:<24} {:<12} last used",
                "name", "app", "groups", "expires"
            );
            for r in records {
                let fmt = |t: Option<u64>| t.map_or("never".to_owned(), |t| t.to_string());
                println!(
                    "{:<20} {:<16} {:<24} {:<12} {}",
                    r.name,
                    r.profile,
                    r.groups.join(","),
                    fmt(r.expires_at),
                    fmt(r.last_used_at)
                );
            }
        }),
        ApikeyAction::Revoke { name } => backend
            .revoke(&name)
            .await
            .map(|n| println!("revoked {n} API key(s) named {name}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}; check that Redis (or the keys file) is reachable");
            ExitCode::from(1)
        }
    }
}
