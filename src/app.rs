//! The state every handler shares: small handles, each for one concern.

use std::sync::Arc;

use crate::clock::Clock;
use crate::config::Config;
use crate::idp::Idp;
use crate::oidc::IdpSettings;
use crate::refresh::Refresher;
use crate::session::{Keys, SessionCache, Sessions};
use crate::store::SessionStore;

/// Shared state: configuration, sessions, keys, clock, the IdP, refresh and credentials.
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
    /// The IdP: metadata, keys, reloads.
    pub idp: Arc<Idp>,
    /// Token refresh, one at a time per session.
    pub refresher: Refresher,
    /// What operators watch (`SIDEGATE_METRICS_LISTEN`).
    pub metrics: crate::metrics::Metrics,
    /// The audit trail (`SIDEGATE_AUDIT_LOG`).
    pub audit: crate::audit::Audit,
}

impl<S: SessionStore> App<S> {
    /// The metrics' text exposition, with the counts the cache and the IdP keep.
    pub fn render_metrics(&self) -> String {
        self.metrics.render(crate::metrics::Kept {
            cache: self.sessions.cache().map(|c| c.lookups()),
            keys_reloaded: self.idp.reloads(),
            refreshes: self.refresher.counts().0,
            lock_waits: self.refresher.counts().1,
        })
    }
}

impl<S: SessionStore> App<S> {
    /// Builds the shared state, with a session cache in front of the store when given (its
    /// invalidations are the caller's to feed); the IdP is discovered later by
    /// [`Idp::keep_discovering`].
    ///
    /// # Errors
    /// [`StartError`](crate::StartError) when the IdP's HTTP client cannot be built or the
    /// audit trail cannot be opened.
    pub fn new(
        config: Config,
        store: S,
        cache: Option<Arc<SessionCache>>,
        clock: Arc<dyn Clock>,
    ) -> Result<Arc<Self>, crate::StartError> {
        let audit = crate::audit::Audit::open(config.audit_log.as_ref()).map_err(|cause| {
            crate::StartError::Audit {
                path: config
                    .audit_log
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
                cause,
            }
        })?;
        let keys = Keys::derive(config.cookie_secret.expose());
        let apikeys = match (&config.redis, &config.apikeys_file) {
            (Some(_), _) => Some(crate::apikey::Backend::Store(store.clone())),
            (None, Some(file)) => Some(crate::apikey::Backend::File(file.clone())),
            (None, None) => None,
        };
        let metrics = crate::metrics::Metrics::new(
            std::iter::once(config.profiles.default_profile().name.as_str())
                .chain(config.profiles.named().into_iter().map(|p| p.name.as_str())),
        );
        let idp =
            Arc::new(Idp::new(IdpSettings::from_config(&config))?.with_calls(metrics.idp_calls()));
        let mut sessions = Sessions::new(store, keys.clone(), config.session_idle_timeout)
            .with_calls(metrics.store_calls());
        if let Some(cache) = cache {
            sessions = sessions.with_cache(cache);
        }
        let needed_claims = config.profiles.needed_claims().to_vec();
        let refresher = Refresher::new(&config, idp.clone(), clock.clone(), needed_claims.clone());
        Ok(Arc::new(Self {
            idp,
            refresher,
            config,
            sessions,
            keys,
            clock,
            needed_claims,
            apikeys,
            mint: Default::default(),
            metrics,
            audit,
        }))
    }
}
