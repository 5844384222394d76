//! sidegate: forward-auth for Traefik, nginx and Caddy, with OpenID Connect SSO.
//!
//! # The life of one `/auth` request
//!
//! 1. warp's routes (`http/routes.rs`) match `/auth[/<app>]` or `/auth/nginx[/<app>]` and hand
//!    the peer address and headers to `http/auth.rs::auth`.
//! 2. That handler reads the original request from the forwarded headers
//!    ([`forwarded::parse`], trusted peers only), picks the app profile
//!    ([`profile::Profiles::get`]) and calls [`gate::check`]. No I/O so far.
//! 3. [`gate::identify`](gate::identify::identify) finds who is asking: an API key (one store
//!    `GET` of its record, a `SET` at most once a minute for `last_used_at`), an IdP bearer
//!    token (verified against the loaded keys; an unknown key reloads them from the IdP, at
//!    most once a minute), or the session cookie (the session cache, else one store `GET`;
//!    when tokens or claims are due, [`refresh::Refresher`] calls the IdP's token endpoint
//!    under a store lock). This is the only step of a check that touches the store or the IdP.
//! 4. [`gate::decide`](gate::decide::decide) (pure) settles the outcome: a refused key or
//!    token, a session lacking the app's token, the method, bypass paths, the rules, login or
//!    401.
//! 5. [`gate::answer`] renders the identity headers, mappings and the credential (a minted JWT
//!    comes from [`profile::mint`]'s cache); `http/auth.rs` turns the [`gate::Verdict`] into
//!    the answer for the calling proxy, and every refusal goes through the one error map in
//!    `http/mod.rs`.
//!
//! The login (`/start`, `/callback`) and logout endpoints live in `http/handlers.rs` and
//! `http/logout.rs`; they call the IdP through [`idp::Idp`] and the store through
//! [`session::Sessions`].
//!
//! # Modules
//! - [`cli`]: the command line (clap); `main.rs` only dispatches to it.
//! - [`explain`]: `sidegate explain`'s pure parts: captured and described subrequests,
//!   proxy-mistake warnings, the report (the command runs the server's own check).
//! - [`config`]: `SIDEGATE_*` variables (one table, `config::VARS`) → validated `Config`.
//! - [`secret`]: `Secret<T>`, never shown in `Debug`.
//! - [`error`]: the one [`error::Error`] enum; its HTTP mapping is in `http/mod.rs`.
//! - [`clock`]: the only reader of wall time (`Clock`, `SystemClock`, `FixedClock`).
//! - [`forwarded`]: the original request from `X-Forwarded-*` / `X-Original-*`, trusted peers only.
//! - [`redirect`]: return-URL (`rd`) validation against the allowlist.
//! - [`gate`]: one forward-auth check: identify → decide → answer.
//! - [`claims`]: claim paths (`realm_access.roles`) and rendering values as header text.
//! - [`upstream`]: allowed identity → response headers, from an allowlist of claim → header.
//! - [`session`]: the `Session` model, tickets and sealing, the session cache.
//! - [`store`]: the store traits (key-value, indexes, coordination), memory and Redis stores.
//! - [`oidc`]: discovery, authorization URL (PKCE, state, nonce), code exchange, ID-token checks.
//! - [`idp`]: the IdP handle: current metadata and keys, reloads, background discovery.
//! - [`cookies`]: every `Set-Cookie`; the encrypted login-state cookie.
//! - [`policy`]: per-app access rules (groups, users, emails, bypass paths, methods).
//! - [`profile`]: app profiles from `SIDEGATE_APPS_FILE`: rules, headers, mappings, credential, shims.
//! - [`token`]: minting upstream JWTs and publishing their keys (jsonwebtoken).
//! - [`idp_jwt`], [`logout`]: verifying IdP-signed JWTs and back-channel logout tokens.
//! - [`refresh`]: one token refresh per session at a time across instances.
//! - [`apikey`]: API keys for automation, stored only as keyed hashes.
//! - [`app`]: the shared state handed to handlers: small handles, one per concern.
//! - `http/`: warp routes, extraction filters, handlers and HTML pages; the only module that
//!   imports warp.
//!
//! `gate::decide`, `forwarded`, `redirect`, `claims`, `upstream` and `cookies` do no I/O and
//! read no clock or randomness, so they are table-tested. No `src/` file imports another that
//! imports it back (`.ci/import-cycles.py`, run by `make lint`).

pub mod apikey;
pub mod app;
pub mod audit;
pub mod claims;
pub mod cli;
pub mod clock;
pub mod config;
pub mod cookies;
pub mod error;
pub mod explain;
pub mod forwarded;
#[doc(hidden)]
pub mod fuzz;
pub mod gate;
pub mod guesses;
mod http;
pub mod idp;
pub mod idp_jwt;
pub mod logged;
pub mod logout;
pub mod metrics;
pub mod oidc;
pub mod policy;
pub mod profile;
pub mod redirect;
pub mod refresh;
pub mod secret;
pub mod session;
pub mod store;
pub mod token;
pub mod upstream;

#[cfg(test)]
mod advisories;
#[cfg(test)]
mod properties;

use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::app::App;
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::session::SessionCache;
use crate::store::{MemoryStore, RedisStore, SessionStore, StoreError};

/// Why sidegate could not start serving.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The session store cannot be used (a Redis URL it cannot parse).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The HTTP client for the IdP cannot be built.
    #[error(transparent)]
    Idp(#[from] oidc::IdpError),
    /// The audit trail's file cannot be opened.
    #[error("cannot open the audit trail {path}: {cause}; check SIDEGATE_AUDIT_LOG, that its folder exists and that sidegate may write there")]
    Audit {
        /// `SIDEGATE_AUDIT_LOG`.
        path: String,
        /// Why.
        cause: std::io::Error,
    },
    /// The metrics listener cannot be opened.
    #[error("cannot listen for metrics on {addr}: {cause}; check SIDEGATE_METRICS_LISTEN and that the port is free")]
    Metrics {
        /// `SIDEGATE_METRICS_LISTEN`.
        addr: std::net::SocketAddr,
        /// Why.
        cause: std::io::Error,
    },
}

/// How long requests in flight may take to finish after shutdown begins.
pub const DRAIN_LIMIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Serves sidegate on `listener` until `shutdown` completes, with the system clock. Then
/// it stops accepting connections, answers the requests in flight (at most
/// [`DRAIN_LIMIT`]), and drops the store's connections.
///
/// # Errors
/// A [`StartError`] when the store or the IdP client cannot be set up.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    run_with_clock(listener, config, Arc::new(SystemClock), shutdown).await
}

/// [`run`] with a chosen clock (tests of expiry).
///
/// # Errors
/// A [`StartError`] when the store or the IdP client cannot be set up.
pub async fn run_with_clock(
    listener: TcpListener,
    config: Config,
    clock: Arc<dyn Clock>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    let cache = session::cache::entry_ttl(config.session_cache_ttl, config.session_idle_timeout)
        .map(|ttl| Arc::new(SessionCache::new(ttl)));
    match config.redis.clone() {
        Some(redis) => {
            let store = RedisStore::with_settings(&redis)?;
            tracing::info!(topology = redis.kind(), "sessions are kept in Redis");
            // The cache goes live once subscribed to the other instances' invalidations.
            let feed = cache
                .clone()
                .map(|cache| tokio::spawn(store.clone().feed_invalidations(cache)));
            let served = serve(listener, config, store, cache, clock, shutdown).await;
            if let Some(feed) = feed {
                feed.abort();
            }
            served
        }
        None => {
            tracing::info!("sessions are kept in memory (set SIDEGATE_REDIS_URL to share them between instances)");
            // One process: every invalidation is local, so the cache is live from the start.
            if let Some(cache) = &cache {
                cache.set_live(true);
            }
            let store = MemoryStore::with_clock(clock.clone());
            serve(listener, config, store, cache, clock, shutdown).await
        }
    }
}

async fn serve<S: SessionStore>(
    listener: TcpListener,
    config: Config,
    store: S,
    cache: Option<Arc<SessionCache>>,
    clock: Arc<dyn Clock>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    let app = App::new(config, store, cache, clock)?;
    let metrics = match app.config.metrics_listen {
        Some(addr) => {
            let listener = TcpListener::bind(addr)
                .await
                .map_err(|cause| StartError::Metrics { addr, cause })?;
            tracing::info!(%addr, "metrics are served at /metrics");
            Some(tokio::spawn(
                warp::serve(http::routes::metrics(app.clone()))
                    .incoming(listener)
                    .run(),
            ))
        }
        None => None,
    };
    let discovery = tokio::spawn(app.idp.clone().keep_discovering());
    // Histogram samples are kept until folded into buckets: fold them often, scraped or not.
    let upkeep = {
        let app = app.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_secs(5)).await;
                app.metrics.upkeep();
            }
        })
    };
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "sidegate is listening");
    }
    let (stopping, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = warp::serve(http::routes::routes(app))
        .incoming(listener)
        .graceful(async move {
            shutdown.await;
            tracing::info!(
                limit = ?DRAIN_LIMIT,
                "shutting down: no new connections; finishing the requests in flight"
            );
            let _ = stopping.send(());
        })
        .run();
    tokio::pin!(server);
    let drained = tokio::select! {
        () = &mut server => true,
        () = async {
            // The limit starts when shutdown does.
            if stopped.await.is_ok() {
                tokio::time::sleep(DRAIN_LIMIT).await;
            } else {
                std::future::pending::<()>().await;
            }
        } => false,
    };
    if drained {
        tracing::info!("stopped: every request in flight was answered");
    } else {
        tracing::warn!(limit = ?DRAIN_LIMIT, "stopped with requests still in flight after the limit");
    }
    discovery.abort();
    upkeep.abort();
    if let Some(m) = metrics {
        m.abort();
    }
    Ok(())
}
