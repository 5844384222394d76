//! What is kept about a signed-in user: the session model, and the rules of its life that
//! need no store (liveness, when a refresh is due). Pure: time is an argument.

use serde::{Deserialize, Serialize};

use crate::claims::Claims;

/// A signed-in user's session.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// The IdP's subject identifier.
    pub sub: String,
    /// Only the claims needed for headers and rules.
    pub claims: Claims,
    /// The IdP session id (`sid`), for back-channel logout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// The user's access token, kept only when a profile passes it upstream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
    /// The user's ID token, kept only when a profile passes it upstream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    /// The refresh token, kept only when sessions are refreshed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// Unix seconds when the access token was issued and when it expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_valid: Option<(u64, u64)>,
    /// Unix seconds when claims were last read from the IdP.
    #[serde(default)]
    pub claims_read_at: u64,
    /// Unix seconds when the session was created.
    pub created_at: u64,
    /// Unix seconds when the session ends regardless of activity.
    pub expires_at: u64,
    /// Identity headers rendered from this value (never stored).
    #[serde(skip)]
    pub rendered: super::rendered::Rendered,
}

impl Session {
    /// Whether the absolute lifetime has not yet run out at `now`.
    pub fn is_live(&self, now: u64) -> bool {
        now < self.expires_at
    }

    /// Whether to use the refresh token now: when the access token an app needs is about
    /// to expire (within `before`, capped at half its lifetime so short-lived tokens are not
    /// refreshed on every request), or when claims are older than `reread` (if set).
    pub fn refresh_due(
        &self,
        now: u64,
        needs_token: bool,
        before: u64,
        reread: Option<u64>,
    ) -> bool {
        if self.refresh_token.is_none() {
            return false;
        }
        let token_due = needs_token
            && self.access_valid.is_some_and(|(issued, expires)| {
                let margin = before.min(expires.saturating_sub(issued) / 2);
                now.saturating_add(margin) >= expires
            });
        let claims_due =
            reread.is_some_and(|every| now >= self.claims_read_at.saturating_add(every));
        token_due || claims_due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_due_table() {
        let s = |refresh: bool, access: Option<(u64, u64)>, read: u64| Session {
            refresh_token: refresh.then(|| "rt".to_owned()),
            access_valid: access,
            claims_read_at: read,
            ..Session::default()
        };
        // (session, now, needs_token, before, reread) -> due
        let cases = [
            (s(true, Some((0, 3600)), 0), 3000, true, 60, None, false),
            (s(true, Some((0, 3600)), 0), 3540, true, 60, None, true),
            (s(true, Some((0, 3600)), 0), 3600, true, 60, None, true),
            (s(true, Some((0, 3600)), 0), 3590, false, 60, None, false),
            (s(false, Some((0, 3600)), 0), 3590, true, 60, None, false),
            (s(true, None, 0), 3590, true, 60, None, false),
            // a 4 s token: the margin is capped at half its lifetime
            (s(true, Some((100, 104)), 0), 101, true, 60, None, false),
            (s(true, Some((100, 104)), 0), 102, true, 60, None, true),
            // periodic claims re-read
            (s(true, None, 1000), 1299, false, 60, Some(300), false),
            (s(true, None, 1000), 1300, false, 60, Some(300), true),
            (s(false, None, 1000), 1300, false, 60, Some(300), false),
        ];
        for (session, now, needs, before, reread, want) in cases {
            assert_eq!(
                session.refresh_due(now, needs, before, reread),
                want,
                "{session:?} at {now}"
            );
        }
    }

    #[test]
    fn is_live_until_expiry() {
        let s = Session {
            expires_at: 10,
            ..Session::default()
        };
        assert!(s.is_live(9));
        assert!(!s.is_live(10));
    }
}
