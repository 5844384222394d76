//! Configuration: environment variables with the `SIDEGATE_` prefix → a validated, frozen
//! [`Config`]. Every problem is collected and reported at once, each naming the variable
//! and how to fix it. Validation writes nothing; it only reads the `_FILE` secrets.
//!
//! - `vars`: the one table of variables ([`VARS`]), reading them, unknown-variable warnings;
//! - `parse`: one small parser per kind of value; `groups`: validation per option group;
//! - `headers`: the default profile's identity headers; `model`: the [`Config`] itself.

mod groups;
mod headers;
mod model;
mod parse;
mod redis;
mod vars;

#[cfg(test)]
pub(crate) use parse::parse_cidrs;

pub use crate::secret::Secret;
pub use model::{Config, ConfigErrors, CookieSettings, LogFormat};
pub use vars::{is_known, Var, DEFAULT_TRUSTED_PROXIES, VARS};

use crate::claims::ClaimPath;

impl Config {
    /// Reads and validates the configuration from `(name, value)` pairs (the process
    /// environment in production). Returns the config and warnings (unknown variables).
    ///
    /// # Errors
    /// [`ConfigErrors`] listing every problem found, each naming its variable.
    pub fn from_vars<I>(vars: I) -> Result<(Config, Vec<String>), ConfigErrors>
    where
        I: IntoIterator<Item = (String, String)>,
    {
        // Every variable, for secrets that app profiles name (`secret_env = "..."`).
        let all: std::collections::HashMap<String, String> = vars.into_iter().collect();
        let (known, warnings) = vars::Vars::read(&all)?;
        match groups::validate(&known, &all) {
            Ok(c) => Ok((c, warnings)),
            Err(ConfigErrors(problems, _)) => Err(ConfigErrors(problems, warnings)),
        }
    }

    /// The effective configuration as `VARIABLE = value` lines, secrets masked, then the
    /// app profiles.
    pub fn describe(&self) -> String {
        let headers: Vec<String> = self
            .headers
            .iter()
            .map(|h| {
                let claims: Vec<&str> = h.claims.iter().map(ClaimPath::as_str).collect();
                format!("{} <- {}", h.name, claims.join(" | "))
            })
            .collect();
        let mut out = String::new();
        for v in VARS {
            if let Some(show) = v.show {
                out.push_str(&format!("SIDEGATE_{} = {}\n", v.name, show(self)));
            }
        }
        out.push_str(&format!("headers = {}\n", headers.join("; ")));
        out.push_str(&self.profiles.describe());
        out
    }
}

/// The configuration unit tests start from: the five required settings (client secret
/// `secret`), then `extra`.
#[cfg(test)]
pub(crate) fn test_config(issuer: &str, extra: &[(&str, &str)]) -> Config {
    let base = [
        ("SIDEGATE_PUBLIC_URL", "https://auth.example.test"),
        ("SIDEGATE_ISSUER_URL", issuer),
        ("SIDEGATE_CLIENT_ID", "sidegate"),
        ("SIDEGATE_CLIENT_SECRET", "secret"),
        ("SIDEGATE_COOKIE_SECRET", "0123456789abcdef0123456789abcdef"),
    ];
    let vars = base
        .iter()
        .chain(extra)
        .map(|(k, v)| ((*k).into(), (*v).into()));
    match Config::from_vars(vars) {
        Ok((config, _)) => config,
        Err(e) => panic!("{e}"),
    }
}

#[cfg(test)]
mod tests;
