//! The `sidegate` command line: parsing (clap, in `args`) and one function per subcommand.
//! The binary's `main.rs` only parses and dispatches here.
//!
//! Exit codes: 0 success, 1 runtime failure, 2 configuration or usage error.

mod apikey;
mod args;
mod check;
mod explain;
mod serve;
mod sessions;

use std::process::ExitCode;

pub use args::{ApikeyAction, Cli, Command, ExplainArgs, SessionsAction};
pub use check::check_config;
pub use serve::{healthcheck, serve};

use crate::config::Config;

/// Runs `command` (`serve` when `None`).
pub async fn dispatch(command: Option<Command>) -> ExitCode {
    match command.unwrap_or(Command::Serve) {
        Command::Healthcheck => healthcheck().await,
        Command::Serve => with_config(serve).await,
        Command::CheckConfig { offline } => {
            with_config(|c, w| async move { check_config(&c, &w, offline).await }).await
        }
        Command::Sessions { action } => {
            with_config(|c, _| async move { sessions::run(&c, action).await }).await
        }
        Command::Apikey { action } => {
            with_config(|c, _| async move { apikey::run(&c, action).await }).await
        }
        Command::Explain(args) => {
            with_config(|c, w| async move { explain::run(c, &w, *args).await }).await
        }
    }
}

/// Loads the configuration from the environment (exit 2 listing every problem) and runs `f`.
async fn with_config<F, Fut>(f: F) -> ExitCode
where
    F: FnOnce(Config, Vec<String>) -> Fut,
    Fut: std::future::Future<Output = ExitCode>,
{
    match Config::from_vars(std::env::vars()) {
        Ok((config, warnings)) => f(config, warnings).await,
        Err(e) => {
            eprint!("{e}");
            ExitCode::from(2)
        }
    }
}
