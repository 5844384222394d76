//! The command line, declared with clap's derive.

use clap::{Parser, Subcommand};

/// What `--help` says after the commands.
const AFTER_HELP: &str = "\
Configuration comes from SIDEGATE_* environment variables (README, \"Configuration\").
Exit codes: 0 success, 1 runtime failure, 2 configuration or usage error.";

/// `--version`: the release and the git commit it was built from.
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("SIDEGATE_COMMIT"),
    ")"
);

/// sidegate: forward-auth for Traefik, nginx and Caddy, with OpenID Connect SSO.
#[derive(Debug, Parser)]
#[command(name = "sidegate", version = VERSION, about, after_help = AFTER_HELP)]
pub struct Cli {
    /// What to do; `serve` when none is given.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve forward-auth and the login endpoints (the default).
    Serve,
    /// Print the effective configuration and check it against the IdP and Redis.
    ///
    /// Prints the effective configuration (secrets masked) and the URIs to register at the
    /// IdP, then fetches the discovery document (the issuer compared byte for byte), the
    /// signing keys, asks the token endpoint whether it accepts the client credentials, and
    /// PINGs Redis. Exit 0 when all is well, 2 when a setting must change, 1 when something
    /// did not answer.
    CheckConfig {
        /// Only read and print the configuration; contact neither the IdP nor Redis.
        #[arg(long)]
        offline: bool,
    },
    /// Exit 0 when the sidegate on this machine answers /healthz (container health checks).
    Healthcheck,
    /// End sessions on every instance (needs SIDEGATE_REDIS_URL).
    Sessions {
        /// What to do with sessions.
        #[command(subcommand)]
        action: SessionsAction,
    },
    /// Create, list and revoke API keys (in Redis or SIDEGATE_APIKEYS_FILE).
    Apikey {
        /// What to do with API keys.
        #[command(subcommand)]
        action: ApikeyAction,
    },
}

/// `sidegate sessions …`.
#[derive(Debug, Subcommand)]
pub enum SessionsAction {
    /// End every session of a user.
    Revoke {
        /// The user's subject (`sub`).
        #[arg(long, value_parser = clap::builder::NonEmptyStringValueParser::new())]
        user: String,
    },
}

/// `sidegate apikey …`.
#[derive(Debug, Subcommand)]
pub enum ApikeyAction {
    /// Create a key; it is printed once, on stdout.
    Create {
        /// A name for the key (for listing and revoking).
        #[arg(long)]
        name: String,
        /// The app profile the key is valid for.
        #[arg(long)]
        profile: String,
        /// Groups the key's identity has, comma-separated.
        #[arg(long)]
        groups: Option<String>,
        /// Lifetime, such as 90d or 12h; no expiry when absent.
        #[arg(long)]
        expires: Option<String>,
    },
    /// List keys (never their secrets).
    List,
    /// Revoke every key with this name.
    Revoke {
        /// The key's name.
        #[arg(long)]
        name: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed_and_parses_each_subcommand() {
        Cli::command().debug_assert();
        let parse = |args: &[&str]| {
            Cli::try_parse_from(std::iter::once("sidegate").chain(args.iter().copied()))
        };
        assert!(parse(&[]).unwrap().command.is_none());
        assert!(matches!(
            parse(&["sessions", "revoke", "--user", "alice"]).unwrap().command,
            Some(Command::Sessions { action: SessionsAction::Revoke { user } }) if user == "alice"
        ));
        assert!(matches!(
            parse(&["apikey", "create", "--name", "ci", "--profile", "borg", "--expires", "90d"])
                .unwrap()
                .command,
            Some(Command::Apikey { action: ApikeyAction::Create { expires: Some(e), .. } }) if e == "90d"
        ));
        for bad in [
            &["sessions", "revoke", "--user", ""][..],
            &["apikey", "create"],
            &["nope"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
