//! The `sidegate` binary: `sidegate` serves; `sidegate check-config` prints the effective
//! configuration (secrets masked) and exits; `sidegate healthcheck` probes a running one.

use std::process::ExitCode;

// Every check allocates a little (headers in, headers out); mimalloc makes that cheaper than
// glibc's allocator under many threads (measured by `make bench`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use sidegate::config::{Config, LogFormat};
use tracing_subscriber::EnvFilter;

fn init_tracing(config: &Config) {
    let filter = EnvFilter::try_new(&config.log).unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only on a terminal: `docker compose logs` and journald show escape codes.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    match config.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(t) => t,
                Err(_) => return ctrl_c.await.unwrap_or(()),
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    ctrl_c.await.unwrap_or(());
    tracing::info!("shutting down");
}

/// `sidegate healthcheck`: exit 0 when this machine's sidegate answers `/healthz` (for
/// container health checks, where images have no curl). Reads only `SIDEGATE_LISTEN`.
async fn healthcheck() -> ExitCode {
    let listen = std::env::var("SIDEGATE_LISTEN").unwrap_or_else(|_| "0.0.0.0:4180".into());
    let Ok(mut addr) = listen.parse::<std::net::SocketAddr>() else {
        eprintln!("SIDEGATE_LISTEN: `{listen}` is not address:port");
        return ExitCode::from(2);
    };
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(3))
        .build();
    let ok = match client {
        Ok(c) => c
            .get(format!("http://{addr}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success()),
        Err(_) => false,
    };
    if ok {
        ExitCode::SUCCESS
    } else {
        eprintln!("sidegate at {addr} is not healthy");
        ExitCode::from(1)
    }
}

/// `sidegate sessions revoke --user <sub>`: end every session of a user, on every instance
/// (they share Redis). With the memory store the sessions live inside the server process:
/// use its admin endpoint instead.
async fn revoke_sessions(config: &Config) -> ExitCode {
    let args: Vec<String> = std::env::args().skip(2).collect();
    let user = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["revoke", "--user", user] if !user.is_empty() => (*user).to_owned(),
        _ => {
            eprintln!("usage: sidegate sessions revoke --user <sub>");
            return ExitCode::from(2);
        }
    };
    let Some(url) = &config.redis_url else {
        eprintln!("sidegate sessions revoke needs SIDEGATE_REDIS_URL: with the memory store, sessions live inside the running server; use POST /admin/sessions/revoke?user=<sub> with SIDEGATE_ADMIN_TOKEN instead");
        return ExitCode::from(2);
    };
    let store = match sidegate::store::RedisStore::new(url.expose()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let keys = sidegate::session::Keys::derive(config.cookie_secret.expose());
    let sessions = sidegate::session::Sessions::new(store, keys, None);
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

const APIKEY_USAGE: &str =
    "usage: sidegate apikey create --name <name> --profile <app> [--groups a,b] [--expires 90d]
       sidegate apikey list
       sidegate apikey revoke --name <name>";

/// `sidegate apikey create|list|revoke`: manage API keys in Redis (or SIDEGATE_APIKEYS_FILE).
async fn apikey_command(config: &Config) -> ExitCode {
    use sidegate::apikey::{self, Backend, Record};
    let args: Vec<String> = std::env::args().skip(2).collect();
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let backend: Backend<sidegate::store::RedisStore> = match (
        &config.redis_url,
        &config.apikeys_file,
    ) {
        (Some(url), _) => match sidegate::store::RedisStore::new(url.expose()) {
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
    let now = sidegate::clock::Clock::now(&sidegate::clock::SystemClock);
    let keys = sidegate::session::Keys::derive(config.cookie_secret.expose());
    let result = match args.first().map(String::as_str) {
        Some("create") => {
            let (Some(name), Some(profile)) = (flag("--name"), flag("--profile")) else {
                eprintln!("{APIKEY_USAGE}");
                return ExitCode::from(2);
            };
            if config.profiles.get(Some(&profile)).is_none() {
                eprintln!("--profile: there is no app profile `{profile}` in SIDEGATE_APPS_FILE");
                return ExitCode::from(2);
            }
            let expires_at = match flag("--expires").map(|e| humantime::parse_duration(&e)) {
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
            let groups = flag("--groups")
                .map(|g| {
                    g.split(',')
                        .map(|s| s.trim().to_owned())
                        .filter(|s| !s.is_empty())
                        .collect()
                })
                .unwrap_or_default();
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
        Some("list") => backend.list().await.map(|records| {
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
        Some("revoke") => {
            let Some(name) = flag("--name") else {
                eprintln!("{APIKEY_USAGE}");
                return ExitCode::from(2);
            };
            backend
                .revoke(&name)
                .await
                .map(|n| println!("revoked {n} API key(s) named {name}"))
        }
        _ => {
            eprintln!("{APIKEY_USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}; check that Redis (or the keys file) is reachable");
            ExitCode::from(1)
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let command = std::env::args().nth(1);
    if command.as_deref() == Some("healthcheck") {
        return healthcheck().await;
    }
    let (config, warnings) = match Config::from_vars(std::env::vars()) {
        Ok(c) => c,
        Err(e) => {
            eprint!("{e}");
            return ExitCode::from(2);
        }
    };
    match command.as_deref() {
        Some("sessions") => return revoke_sessions(&config).await,
        Some("apikey") => return apikey_command(&config).await,
        Some("check-config") => {
            for w in &warnings {
                eprintln!("warning: {w}");
            }
            print!("{}", config.describe());
            return ExitCode::SUCCESS;
        }
        Some(other) if other != "serve" => {
            eprintln!(
                "unknown command `{other}`; use `sidegate` (serve), `sidegate check-config` or `sidegate healthcheck`"
            );
            return ExitCode::from(2);
        }
        _ => {}
    }
    init_tracing(&config);
    for w in &warnings {
        tracing::warn!("{w}");
    }
    let listener = match tokio::net::TcpListener::bind(config.listen).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(cause = %e, listen = %config.listen, "cannot listen; check SIDEGATE_LISTEN and that the port is free");
            return ExitCode::from(1);
        }
    };
    match sidegate::run(listener, config, shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(cause = %e, "sidegate stopped");
            ExitCode::from(1)
        }
    }
}
