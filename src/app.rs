//! The state every handler shares, and the background task that loads (and periodically
//! reloads) the IdP's metadata so sidegate starts even while the IdP is down.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::clock::Clock;
use crate::config::Config;
use crate::oidc::{self, IdpError, Provider};
use crate::session::{Keys, SessionCache, Sessions};
use crate::store::SessionStore;

/// Shared state: configuration, sessions, keys, clock and the discovered IdP.
pub struct App<S> {
    /// The validated configuration.
    pub config: Config,
    /// Sealed sessions in the chosen store.
    pub sessions: Sessions<S>,
    /// Keys derived from the cookie secret.
    pub keys: Keys,
    /// Wall time.
    pub clock: Arc<dyn Clock>,
    /// Claims a session keeps (those headers, rules and minted JWTs read).
    pub needed_claims: Vec<String>,
    /// Minted upstream JWTs per (identity, app).
    pub mint: crate::profile::mint::MintCache,
    /// Where API keys are kept, if anywhere.
    pub apikeys: Option<crate::apikey::Backend<S>>,
    /// One async mutex per session being refreshed in this process.
    pub refresh_gates: moka::sync::Cache<String, Arc<tokio::sync::Mutex<()>>>,
    http: reqwest::Client,
    provider: RwLock<Option<Arc<Provider>>>,
    last_reload: std::sync::Mutex<Option<std::time::Instant>>,
}

impl<S: SessionStore> App<S> {
    /// Builds the shared state, with a session cache in front of the store when given (its
    /// invalidations are the caller's to feed); the IdP is discovered later by
    /// [`keep_discovering`].
    ///
    /// # Errors
    /// [`IdpError`] when the HTTP client cannot be built.
    pub fn new(
        config: Config,
        store: S,
        cache: Option<Arc<SessionCache>>,
        clock: Arc<dyn Clock>,
    ) -> Result<Arc<Self>, IdpError> {
        let keys = Keys::derive(config.cookie_secret.expose());
        let apikeys = match (&config.redis_url, &config.apikeys_file) {
            (Some(_), _) => Some(crate::apikey::Backend::Store(store.clone())),
            (None, Some(file)) => Some(crate::apikey::Backend::File(file.clone())),
            (None, None) => None,
        };
        let mut sessions = Sessions::new(store, keys.clone(), config.session_idle_timeout);
        if let Some(cache) = cache {
            sessions = sessions.with_cache(cache);
        }
        let needed_claims = config.profiles.needed_claims().to_vec();
        Ok(Arc::new(Self {
            http: oidc::http_client()?,
            config,
            sessions,
            keys,
            clock,
            needed_claims,
            apikeys,
            mint: Default::default(),
            refresh_gates: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_idle(Duration::from_secs(120))
                .build(),
            provider: RwLock::new(None),
            last_reload: std::sync::Mutex::new(None),
        }))
    }

    /// The IdP, once its metadata has been loaded.
    pub fn provider(&self) -> Option<Arc<Provider>> {
        self.provider.read().ok().and_then(|p| p.clone())
    }

    /// Reloads the IdP metadata and keys now (after an unknown signing key), at most once a
    /// minute; the reloaded provider, or `None` when rate-limited or failing.
    pub async fn reload_provider(&self) -> Option<Arc<Provider>> {
        {
            let mut last = self.last_reload.lock().ok()?;
            if last.is_some_and(|t| t.elapsed() < Duration::from_secs(60)) {
                return None;
            }
            *last = Some(std::time::Instant::now());
        }
        match Provider::discover(&self.config, self.http.clone()).await {
            Ok(p) => {
                self.set_provider(p);
                tracing::info!("reloaded the IdP's keys after a token signed with an unknown key");
                self.provider()
            }
            Err(e) => {
                tracing::warn!(cause = %e, "reloading the IdP's keys failed");
                None
            }
        }
    }

    /// Runs `verify` with `provider`; when it fails because a token names a key `provider`
    /// does not have (`unknown_key`), the IdP may have rotated its keys: reloads them (at
    /// most once a minute) and runs `verify` once more with the reloaded provider.
    pub async fn with_current_keys<T, E, F, Fut>(
        &self,
        provider: Arc<Provider>,
        unknown_key: impl Fn(&E) -> bool,
        verify: F,
    ) -> Result<T, E>
    where
        F: Fn(Arc<Provider>) -> Fut,
        Fut: std::future::Future<Output = Result<T, E>>,
    {
        match verify(provider).await {
            Err(e) if unknown_key(&e) => match self.reload_provider().await {
                Some(reloaded) => verify(reloaded).await,
                None => Err(e),
            },
            other => other,
        }
    }

    fn set_provider(&self, provider: Provider) {
        if let Ok(mut slot) = self.provider.write() {
            *slot = Some(Arc::new(provider));
        }
    }
}

/// How often loaded metadata is refreshed (picks up rotated signing keys).
const REFRESH: Duration = Duration::from_secs(15 * 60);

/// Loads the IdP metadata, retrying with backoff (1 s doubling to 30 s) until it works,
/// then reloads it every 15 minutes. Runs for the life of the server.
pub async fn keep_discovering<S: SessionStore>(app: Arc<App<S>>) {
    let mut backoff = Duration::from_secs(1);
    loop {
        match Provider::discover(&app.config, app.http.clone()).await {
            Ok(provider) => {
                if app.provider().is_none() {
                    tracing::info!(issuer = %app.config.issuer_url, "loaded the IdP's metadata");
                }
                app.set_provider(provider);
                backoff = Duration::from_secs(1);
                tokio::time::sleep(REFRESH).await;
            }
            Err(e) => {
                tracing::error!(cause = %e, issuer = %app.config.issuer_url, retry_in = ?backoff,
                    "cannot load the IdP's discovery document; check SIDEGATE_ISSUER_URL (copy the issuer exactly, trailing slash included) and that the IdP is reachable");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        }
    }
}
