//! Who a request proved to be, whichever way it was proven.

use crate::claims::Claims;

/// How a [`Principal`] was proven.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proof {
    /// sidegate's own session cookie.
    Session {
        /// The session's ticket id (never the secret half).
        ticket_id: String,
    },
    /// An access token the IdP signed (service accounts).
    Bearer,
    /// An API key.
    ApiKey {
        /// The key's name.
        name: String,
    },
}

/// One verified identity: a signed-in user, a service account or an API key.
#[derive(Debug, Clone, PartialEq)]
pub struct Principal {
    /// The subject (`sub`; `apikey:<name>` for keys).
    pub subject: String,
    /// The claims kept for headers, rules and minted JWTs (groups among them).
    pub claims: Claims,
    /// How it was proven.
    pub proof: Proof,
    /// Unix seconds when this identity stops being valid.
    pub expires_at: u64,
    /// The user's access token, when kept (or the bearer token itself).
    pub access_token: Option<String>,
    /// The user's ID token, when kept.
    pub id_token: Option<String>,
}

impl Principal {
    /// Whether the identity is still valid at `now`.
    pub fn is_live(&self, now: u64) -> bool {
        now < self.expires_at
    }

    /// What minted upstream JWTs are cached under: one per session, bearer token or key.
    pub fn cache_key(&self) -> String {
        match &self.proof {
            Proof::Session { ticket_id } => ticket_id.clone(),
            Proof::Bearer => format!("bearer:{}:{}", self.subject, self.expires_at),
            Proof::ApiKey { .. } => self.subject.clone(),
        }
    }
}
