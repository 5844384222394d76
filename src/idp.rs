//! The IdP handle: the HTTP client, the discovered [`Provider`] (metadata and keys), and
//! keeping it current: loading it in the background so sidegate starts while the IdP is
//! down, reloading it every 15 minutes, and at once (at most once a minute) when a token
//! names a key the loaded metadata does not have.

use std::future::Future;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use crate::oidc::{self, IdpError, IdpSettings, Provider};

/// How often loaded metadata is refreshed (picks up rotated signing keys).
const REFRESH: Duration = Duration::from_secs(15 * 60);
/// The least time between two reloads caused by unknown keys.
const RELOAD_LIMIT: Duration = Duration::from_secs(60);

/// The IdP as sidegate knows it right now.
pub struct Idp {
    settings: IdpSettings,
    http: reqwest::Client,
    provider: RwLock<Option<Arc<Provider>>>,
    last_reload: Mutex<Option<Instant>>,
    /// Why the last load failed, until one succeeds (for `/readyz`), and whether the cause
    /// is the configuration rather than the network.
    last_error: RwLock<Option<(String, bool)>>,
    /// Successful loads after the first (key rotation, the periodic refresh).
    reloads: std::sync::atomic::AtomicU64,
    /// Where each IdP request is counted.
    calls: Option<crate::metrics::IdpCalls>,
}

impl Idp {
    /// A handle with nothing loaded yet (see [`Idp::keep_discovering`]).
    ///
    /// # Errors
    /// [`IdpError`] when the HTTP client cannot be built.
    pub fn new(settings: IdpSettings) -> Result<Self, IdpError> {
        Ok(Self {
            settings,
            http: oidc::http_client()?,
            provider: RwLock::new(None),
            last_reload: Mutex::new(None),
            last_error: RwLock::new(None),
            reloads: std::sync::atomic::AtomicU64::new(0),
            calls: None,
        })
    }

    /// Counts every request to the IdP with these handles.
    #[must_use]
    pub fn with_calls(mut self, calls: crate::metrics::IdpCalls) -> Self {
        self.calls = Some(calls);
        self
    }

    /// The issuer, exactly as configured.
    pub fn issuer(&self) -> &str {
        &self.settings.issuer_url
    }

    /// The IdP, once its metadata has been loaded.
    pub fn current(&self) -> Option<Arc<Provider>> {
        self.provider.read().ok().and_then(|p| p.clone())
    }

    /// Loads the metadata and keys now and makes them current.
    ///
    /// # Errors
    /// [`IdpError::Discovery`] when they cannot be loaded.
    pub async fn load(&self) -> Result<Arc<Provider>, IdpError> {
        let loaded =
            Provider::discover_counted(&self.settings, self.http.clone(), self.calls.clone()).await;
        if let Ok(mut last) = self.last_error.write() {
            *last = loaded
                .as_ref()
                .err()
                .map(|e| (e.to_string(), matches!(e, IdpError::Misconfigured(_))));
        }
        let provider = Arc::new(loaded?);
        if let Ok(mut slot) = self.provider.write() {
            if slot.replace(provider.clone()).is_some() {
                self.reloads
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
        Ok(provider)
    }

    /// Successful loads after the first (key rotation, the periodic refresh).
    pub fn reloads(&self) -> u64 {
        self.reloads.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Why the IdP is not usable right now: `None` once its metadata is loaded (a later
    /// failed reload keeps the loaded keys in use), else the last load's failure.
    pub fn problem(&self) -> Option<String> {
        if self.current().is_some() {
            return None;
        }
        let last = self
            .last_error
            .read()
            .ok()
            .and_then(|e| e.as_ref().map(|(why, _)| why.clone()));
        Some(last.unwrap_or_else(|| {
            "the IdP's metadata is not loaded yet (sidegate keeps trying)".into()
        }))
    }

    /// Whether the IdP is not usable because of the configuration (the last load failed
    /// with [`IdpError::Misconfigured`] and nothing is loaded).
    pub fn misconfigured(&self) -> bool {
        self.current().is_none()
            && self
                .last_error
                .read()
                .ok()
                .is_some_and(|e| e.as_ref().is_some_and(|(_, m)| *m))
    }

    /// Reloads the metadata and keys (after an unknown signing key), at most once a minute;
    /// the reloaded provider, or `None` when rate-limited or failing.
    pub async fn reload(&self) -> Option<Arc<Provider>> {
        {
            let mut last = self.last_reload.lock().ok()?;
            if last.is_some_and(|t| t.elapsed() < RELOAD_LIMIT) {
                return None;
            }
            *last = Some(Instant::now());
        }
        match self.load().await {
            Ok(p) => {
                tracing::info!("reloaded the IdP's keys after a token signed with an unknown key");
                Some(p)
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
        Fut: Future<Output = Result<T, E>>,
    {
        match verify(provider).await {
            Err(e) if unknown_key(&e) => match self.reload().await {
                Some(reloaded) => verify(reloaded).await,
                None => Err(e),
            },
            other => other,
        }
    }

    /// Loads the metadata, retrying with backoff (1 s doubling to 30 s) until it works,
    /// then reloads it every 15 minutes. Runs for the life of the server.
    pub async fn keep_discovering(self: Arc<Self>) {
        let mut backoff = Duration::from_secs(1);
        loop {
            let first = self.current().is_none();
            match self.load().await {
                Ok(_) => {
                    if first {
                        tracing::info!(issuer = %self.issuer(), "loaded the IdP's metadata");
                    }
                    backoff = Duration::from_secs(1);
                    tokio::time::sleep(REFRESH).await;
                }
                Err(e @ IdpError::Misconfigured(_)) => {
                    tracing::error!(cause = %e, issuer = %self.issuer(), retry_in = ?backoff,
                        "misconfigured: the IdP answers but not as configured; fix the setting the cause names (`sidegate check-config` checks it), sign-in stays off until then");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                }
                Err(e) => {
                    tracing::error!(cause = %e, issuer = %self.issuer(), retry_in = ?backoff,
                        "the IdP is unreachable; sidegate keeps trying (check that the IdP is up and reachable from here)");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                }
            }
        }
    }
}
