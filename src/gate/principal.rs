//! Who a request proved to be, whichever way it was proven.

use std::sync::Arc;

use crate::claims::Claims;
use crate::session::Session;

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
///
/// Who it is (subject, claims, tokens) is shared, not copied: a session from the cache is
/// the cached value itself.
#[derive(Debug, Clone, PartialEq)]
pub struct Principal {
    /// The subject, claims and tokens (`sub`; `apikey:<name>` for keys).
    pub who: Arc<Session>,
    /// How it was proven.
    pub proof: Proof,
    /// Unix seconds when this identity stops being valid.
    pub expires_at: u64,
}

impl Principal {
    /// An identity that is not a session (a bearer token, an API key, a test's).
    pub fn new(
        subject: String,
        claims: Claims,
        proof: Proof,
        expires_at: u64,
        access_token: Option<String>,
    ) -> Self {
        let who = Session {
            sub: subject,
            claims,
            access_token,
            expires_at,
            ..Session::default()
        };
        Self {
            who: Arc::new(who),
            proof,
            expires_at,
        }
    }

    /// The subject (`sub`; `apikey:<name>` for keys).
    pub fn subject(&self) -> &str {
        &self.who.sub
    }

    /// The claims kept for headers, rules and minted JWTs (groups among them).
    pub fn claims(&self) -> &Claims {
        &self.who.claims
    }

    /// The user's access token, when kept (or the bearer token itself).
    pub fn access_token(&self) -> Option<&str> {
        self.who.access_token.as_deref()
    }

    /// The user's ID token, when kept.
    pub fn id_token(&self) -> Option<&str> {
        self.who.id_token.as_deref()
    }

    /// Whether the identity is still valid at `now`.
    pub fn is_live(&self, now: u64) -> bool {
        now < self.expires_at
    }

    /// What minted upstream JWTs are cached under: one per session, bearer token or key.
    pub fn cache_key(&self) -> String {
        match &self.proof {
            Proof::Session { ticket_id } => ticket_id.clone(),
            Proof::Bearer => format!("bearer:{}:{}", self.subject(), self.expires_at),
            Proof::ApiKey { .. } => self.subject().to_owned(),
        }
    }
}
