//! Serving and `healthcheck`.

use std::process::ExitCode;

use tracing_subscriber::EnvFilter;

use crate::config::{Config, LogFormat};

/// Logs to stderr in the configured format.
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
pub async fn healthcheck() -> ExitCode {
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

/// `sidegate` / `sidegate serve`: serves until SIGTERM or Ctrl-C.
pub async fn serve(config: Config, warnings: Vec<String>) -> ExitCode {
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
    match crate::run(listener, config, shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(cause = %e, "sidegate stopped");
            ExitCode::from(1)
        }
    }
}
