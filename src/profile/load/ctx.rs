//! What loading needs at hand: the global defaults, where secrets and relative files are
//! looked up, and the problems found so far.

use std::collections::HashMap;
use std::path::PathBuf;

use http::HeaderName;

use crate::claims::ClaimPath;
use crate::upstream::{self, HeaderRule};

/// The global settings a profile starts from.
#[derive(Debug, Clone)]
pub struct Defaults {
    /// The identity headers from `SIDEGATE_*_HEADER` / `_CLAIM`.
    pub headers: Vec<HeaderRule>,
    /// `SIDEGATE_GROUPS_CLAIM`.
    pub groups_claim: ClaimPath,
    /// `SIDEGATE_USER_CLAIM`, then `sub`.
    pub user_claims: Vec<ClaimPath>,
    /// `SIDEGATE_EMAIL_CLAIM`.
    pub email_claim: ClaimPath,
    /// `SIDEGATE_GROUPS_SEPARATOR`.
    pub separator: String,
    /// `SIDEGATE_HEADER_ENCODING`.
    pub encoding: crate::upstream::Encoding,
    /// `iss` of minted JWTs: the public URL.
    pub issuer: String,
}

/// Where secrets and relative files are looked up while loading.
pub(super) struct Ctx<'a> {
    pub(super) vars: &'a HashMap<String, String>,
    pub(super) dir: PathBuf,
    pub(super) defaults: &'a Defaults,
    pub(super) problems: Vec<String>,
}

impl Ctx<'_> {
    pub(super) fn problem(&mut self, at: &str, what: impl std::fmt::Display) {
        self.problems.push(format!("{at}: {what}"));
    }

    pub(super) fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    /// A secret from exactly one of `<name>_env` / `<name>_file`.
    pub(super) fn secret(
        &mut self,
        at: &str,
        name: &str,
        env: Option<&String>,
        file: Option<&String>,
    ) -> Option<String> {
        match (env, file) {
            (Some(_), Some(_)) => self.problem(at, format!("set only one of {name}_env and {name}_file")),
            (None, None) => self.problem(at, format!("missing {name}_env (an environment variable's name) or {name}_file (a file's path)")),
            (Some(var), None) => match self.vars.get(var).filter(|v| !v.is_empty()) {
                Some(v) => return Some(v.clone()),
                None => self.problem(at, format!("{name}_env: the environment variable {var} is not set")),
            },
            (None, Some(file)) => match std::fs::read_to_string(self.path(file)) {
                Ok(s) if !s.trim().is_empty() => return Some(s.trim_end_matches(['\n', '\r']).to_owned()),
                Ok(_) => self.problem(at, format!("{name}_file: `{file}` is empty")),
                Err(e) => self.problem(at, format!("{name}_file: cannot read `{file}`: {e}")),
            },
        }
        None
    }

    pub(super) fn header(&mut self, at: &str, raw: &str) -> Option<HeaderName> {
        let mut p = Vec::new();
        let name = upstream::header_name(at, raw, &mut p);
        self.problems.extend(p);
        name
    }

    pub(super) fn claim(&mut self, at: &str, raw: &str) -> Option<ClaimPath> {
        let c = ClaimPath::parse(raw);
        if c.is_none() {
            self.problem(at, format!("`{raw}` is not a claim name or dot path"));
        }
        c
    }
}
