//! Token refresh: at most one refresh per session at a time across every instance.
//!
//! In this process, a per-ticket async mutex makes concurrent requests wait for the one
//! doing the refresh; across instances, a lock in the store (renewed while the IdP call
//! runs) does the same. Whoever waited reloads the session from the store afterwards, so it
//! uses the winner's new tokens and never the rotated-out refresh token. `invalid_grant`
//! ends the session; a network failure keeps the old one until it expires.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::app::App;
use crate::oidc::{IdpError, Refreshed};
use crate::session::{ticket, Session, Ticket};
use crate::store::{SessionStore, StoreError};

const LOCK_TTL: Duration = Duration::from_secs(5);
const WAIT_LIMIT: Duration = Duration::from_secs(15);

/// The session behind `ticket`, refreshed first if it is due; `None` when the IdP ended it.
///
/// # Errors
/// A [`StoreError`] when the store fails.
pub async fn ensure_fresh<S: SessionStore>(
    app: &App<S>,
    ticket: &Ticket,
    session: Session,
    needs_token: bool,
) -> Result<Option<Session>, StoreError> {
    let before = app.config.token_refresh_before.as_secs();
    let reread = app.config.claims_refresh_interval.map(|d| d.as_secs());
    let due = |s: &Session| s.refresh_due(app.clock.now(), needs_token, before, reread);
    if !due(&session) {
        return Ok(Some(session));
    }
    let Some(provider) = app.provider() else {
        return Ok(Some(session));
    };
    let gate = app
        .refresh_gates
        .get_with(ticket.id().to_owned(), Default::default);
    let _in_process = gate.lock().await;
    let Some(current) = app.sessions.load_fresh(ticket).await? else {
        return Ok(None);
    };
    if !due(&current) {
        return Ok(Some(current));
    }
    let store = app.sessions.store();
    let key = format!("refresh:{}", ticket.id());
    let owner = ticket::random_token()?;
    let waiting_since = Instant::now();
    while !store.lock(&key, &owner, LOCK_TTL).await? {
        if waiting_since.elapsed() > WAIT_LIMIT {
            tracing::warn!(ticket_id = %ticket.id(), "gave up waiting for another instance's token refresh; using the session as it is");
            return Ok(Some(current));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        match app.sessions.load_fresh(ticket).await? {
            None => return Ok(None),
            Some(s) if !due(&s) => return Ok(Some(s)),
            Some(_) => {}
        }
    }
    let outcome = refresh_locked(app, ticket, &provider, &key, &owner, due).await;
    store.unlock(&key, &owner).await?;
    outcome
}

async fn refresh_locked<S: SessionStore>(
    app: &App<S>,
    ticket: &Ticket,
    provider: &crate::oidc::Provider,
    key: &str,
    owner: &str,
    due: impl Fn(&Session) -> bool,
) -> Result<Option<Session>, StoreError> {
    // Another instance may have finished just before we took the lock.
    let Some(current) = app.sessions.load_fresh(ticket).await? else {
        return Ok(None);
    };
    let Some(refresh_token) = current.refresh_token.clone().filter(|_| due(&current)) else {
        return Ok(Some(current));
    };
    let renewer = {
        let (store, key, owner) = (
            app.sessions.store().clone(),
            key.to_owned(),
            owner.to_owned(),
        );
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(LOCK_TTL / 3).await;
                if !matches!(store.renew(&key, &owner, LOCK_TTL).await, Ok(true)) {
                    break;
                }
            }
        })
    };
    let result = provider
        .refresh(&refresh_token, &current.sub, Arc::clone(&app.clock))
        .await;
    renewer.abort();
    match result {
        Ok(new) => {
            let updated = apply(app, current, new);
            let remaining =
                Duration::from_secs(updated.expires_at.saturating_sub(app.clock.now()).max(1));
            app.sessions.update(ticket, &updated, remaining).await?;
            tracing::info!(ticket_id = %ticket.id(), "refreshed the session's tokens");
            Ok(Some(updated))
        }
        Err(IdpError::RefreshRefused(reason)) => {
            tracing::warn!(ticket_id = %ticket.id(), reason = %reason, "the IdP refused the refresh token; the session ends and the user logs in again");
            app.sessions.delete(ticket).await?;
            Ok(None)
        }
        Err(e) => {
            tracing::warn!(ticket_id = %ticket.id(), cause = %e, "refreshing the session's tokens failed; keeping the session until it expires");
            Ok(Some(current))
        }
    }
}

/// The session with the refreshed tokens and claims (only what the session keeps).
fn apply<S>(app: &App<S>, mut s: Session, new: Refreshed) -> Session {
    let now = app.clock.now();
    if s.access_token.is_some() {
        s.access_token = Some(new.access_token);
    }
    if s.id_token.is_some() {
        s.id_token = new.id_token.or(s.id_token);
    }
    s.refresh_token = new.refresh_token.or(s.refresh_token);
    s.access_valid = new.expires_in.map(|e| (now, now.saturating_add(e)));
    if !new.claims.is_empty() {
        s.claims = new
            .claims
            .into_iter()
            .filter(|(k, _)| app.needed_claims.contains(k))
            .collect();
    }
    s.claims_read_at = now;
    s
}
