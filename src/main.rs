//! The `sidegate` binary: `sidegate` serves; `sidegate check-config` prints the effective
//! configuration (secrets masked) and exits.

use std::process::ExitCode;

use sidegate::config::{Config, LogFormat};
use tracing_subscriber::EnvFilter;

fn init_tracing(config: &Config) {
    let filter = EnvFilter::try_new(&config.log).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
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

#[tokio::main]
async fn main() -> ExitCode {
    let command = std::env::args().nth(1);
    let (config, warnings) = match Config::from_vars(std::env::vars()) {
        Ok(c) => c,
        Err(e) => {
            eprint!("{e}");
            return ExitCode::from(2);
        }
    };
    match command.as_deref() {
        Some("check-config") => {
            for w in &warnings {
                eprintln!("warning: {w}");
            }
            print!("{}", config.describe());
            return ExitCode::SUCCESS;
        }
        Some(other) if other != "serve" => {
            eprintln!(
                "unknown command `{other}`; use `sidegate` (serve) or `sidegate check-config`"
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
