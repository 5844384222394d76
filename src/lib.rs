//! sidegate: forward-auth for Traefik, nginx and Caddy, with OpenID Connect SSO.
//!
//! Architecture map (one concept per module):
//! - `main.rs`: load [`config::Config`] (exit 2 listing every problem), init tracing, bind, [`run`].
//! - [`config`]: `SIDEGATE_*` variables → validated `Config`; `Secret<T>`.
//! - [`error`]: the one [`error::Error`] enum; its HTTP mapping is in `http/mod.rs`.
//! - [`clock`]: the only reader of wall time (`Clock`, `SystemClock`, `FixedClock`).
//! - [`forwarded`]: the original request from `X-Forwarded-*` / `X-Original-*`, trusted peers only.
//! - [`redirect`]: return-URL (`rd`) validation against the allowlist.
//! - [`decision`]: pure `decide()` → [`decision::Decision`]; navigation vs API client.
//! - [`claims`]: claim paths (`realm_access.roles`) and rendering values as header text.
//! - [`upstream`]: allowed identity → response headers, from an allowlist of claim → header.
//! - [`session`]: `Session`, tickets and sealing, trait `SessionStore`, memory and Redis stores.
//! - [`oidc`]: discovery, authorization URL (PKCE, state, nonce), code exchange, ID-token checks.
//! - [`cookies`]: every `Set-Cookie`; the encrypted login-state cookie.
//! - [`policy`]: per-app access rules (groups, users, emails, bypass paths, methods).
//! - [`profile`]: app profiles from `SIDEGATE_APPS_FILE`: rules, headers, mappings, credential, shims.
//! - [`token`]: minting upstream JWTs and publishing their keys (jsonwebtoken).
//! - [`logout`]: verifying back-channel logout tokens (jsonwebtoken).
//! - [`refresh`]: one token refresh per session at a time across instances.
//! - [`apikey`]: API keys for automation, stored only as keyed hashes.
//! - [`app`]: the shared state handed to handlers, and background IdP discovery.
//! - `http/`: warp routes (`mod.rs`), extraction filters, handlers and HTML pages; the only
//!   module that imports warp.
//!
//! `decision`, `forwarded`, `redirect`, `claims`, `upstream` and `cookies` do no I/O and read
//! no clock or randomness, so they are table-tested.

pub mod apikey;
pub mod app;
pub mod claims;
pub mod cli;
pub mod clock;
pub mod config;
pub mod cookies;
pub mod error;
pub mod forwarded;
pub mod gate;
mod http;
pub mod idp;
pub mod idp_jwt;
pub mod logout;
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
}

/// Serves sidegate on `listener` until `shutdown` completes, with the system clock.
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
    match config.redis_url.clone() {
        Some(url) => {
            let store = RedisStore::new(url.expose())?;
            tracing::info!("sessions are kept in Redis");
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
    let discovery = tokio::spawn(app.idp.clone().keep_discovering());
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "sidegate is listening");
    }
    warp::serve(http::routes::routes(app))
        .incoming(listener)
        .graceful(shutdown)
        .run()
        .await;
    discovery.abort();
    Ok(())
}
