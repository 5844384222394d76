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
    /// Explain what sidegate answers one auth subrequest, and why, with proxy mistakes.
    ///
    /// Runs the server's own check on a captured subrequest (--request) or one described by
    /// --url, --method and -H, as a user (--user), a stored session (--session) or nobody,
    /// and prints the profile, the request as understood, the decision and the rule behind
    /// it, the answer and what the proxy does with it, the headers the app receives
    /// (secrets masked), and warnings about the proxy's configuration. Writes nothing
    /// anywhere. Exit 0 when it explained, 2 for a usage or configuration error, 1 when
    /// the session store could not be read.
    Explain(Box<ExplainArgs>),
}

/// `sidegate explain …`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("input").required(true).args(["url", "request"])))]
pub struct ExplainArgs {
    /// The app profile (`/auth/<app>`); the default profile (`/auth`) when absent.
    #[arg(long)]
    pub app: Option<String>,
    /// The proxy sending the subrequest: traefik and caddy ask /auth[/<app>], nginx
    /// /auth/nginx[/<app>]. Default: traefik with --url; from the path with --request.
    #[arg(long, value_parser = ["traefik", "caddy", "nginx"])]
    pub proxy: Option<String>,
    /// The client's original URL: https://app.example.com/path?q.
    #[arg(long)]
    pub url: Option<String>,
    /// The client's method.
    #[arg(long, default_value = "GET", requires = "url")]
    pub method: String,
    /// A header of the subrequest, `Name: value` (repeatable), such as the client's Accept,
    /// Sec-Fetch-Mode or Cookie; replaces the proxy's own of that name.
    #[arg(short = 'H', long = "header")]
    pub headers: Vec<String>,
    /// A captured subrequest in raw HTTP/1.1 text (a file, or - for stdin).
    #[arg(long)]
    pub request: Option<String>,
    /// The address the proxy connects to sidegate from.
    #[arg(long, default_value = "127.0.0.1")]
    pub peer: std::net::IpAddr,
    /// Explain as this user (`sub`), in a session made for the explanation.
    #[arg(long, conflicts_with = "session")]
    pub user: Option<String>,
    /// A claim of --user, `name=value` (repeatable; `groups`, and a claim given twice, is a list).
    #[arg(long, requires = "user")]
    pub claim: Vec<String>,
    /// Claims of --user as a JSON object (before --claim).
    #[arg(long, requires = "user")]
    pub claims_json: Option<String>,
    /// Explain as the stored session behind this session-cookie value (read from Redis,
    /// read-only).
    #[arg(long)]
    pub session: Option<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
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
        assert!(matches!(
            parse(&["explain", "--url", "https://a.example.test/", "--user", "alice", "--claim", "groups=admins"])
                .unwrap()
                .command,
            Some(Command::Explain(a)) if a.user.as_deref() == Some("alice") && a.claim == ["groups=admins"]
        ));
        for bad in [
            &["explain"][..],
            &[
                "explain",
                "--url",
                "https://a.example.test/",
                "--request",
                "-",
            ],
            &[
                "explain",
                "--url",
                "https://a.example.test/",
                "--claim",
                "groups=x",
            ],
            &[
                "explain",
                "--url",
                "https://a.example.test/",
                "--user",
                "a",
                "--session",
                "s",
            ],
            &[
                "explain",
                "--url",
                "https://a.example.test/",
                "--proxy",
                "apache",
            ],
            &["sessions", "revoke", "--user", ""],
            &["apikey", "create"],
            &["nope"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
