//! A discovered OpenID Provider and our client at it, with the `openidconnect` crate:
//! discovery, the authorization URL (PKCE S256, state, nonce), the code exchange, ID-token
//! verification (signature, issuer, audience, expiry, nonce), refresh and the userinfo merge.
//!
//! No HTTP-server types here. The HTTP client never follows redirects.

use std::sync::Arc;
use std::time::Duration;

use openidconnect::core::{
    CoreAuthenticationFlow, CoreGenderClaim, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope, TokenResponse,
};
use openidconnect::{ClaimsVerificationError, SignatureVerificationError};
use serde::Serialize;

use super::capped::Capped;
use super::explain::{error_chain, explain};
use super::types::{
    Client, ExtraClaims, Identity, IdpError, IdpSettings, LoginState, Metadata, Refreshed, Tokens,
};
use crate::claims::Claims;
use crate::clock::Clock;

/// A discovered OpenID Provider and our client at it.
pub struct Provider {
    client: Client,
    http: Capped,
    scopes: Vec<String>,
    /// RP-initiated logout endpoint, when the IdP has one.
    end_session: Option<openidconnect::EndSessionUrl>,
    /// Whether the IdP promises `iss` on authorization responses (RFC 9207).
    sends_iss: bool,
    /// Our client id (for `azp`).
    client_id: String,
    /// The IdP's signing keys, for logout tokens (verified with jsonwebtoken).
    jwks: jsonwebtoken::jwk::JwkSet,
}

/// The HTTP client for IdP calls: bounded time, no redirects followed.
///
/// # Errors
/// [`IdpError::Discovery`] if the TLS backend cannot start.
pub fn http_client() -> Result<reqwest::Client, IdpError> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| IdpError::Discovery(e.to_string()))
}

impl Provider {
    /// Loads the issuer's discovery document and keys.
    ///
    /// # Errors
    /// [`IdpError::Discovery`] when the IdP cannot be reached, [`IdpError::Misconfigured`]
    /// when its metadata does not match the settings.
    pub async fn discover(config: &IdpSettings, http: reqwest::Client) -> Result<Self, IdpError> {
        Self::discover_counted(config, http, None).await
    }

    /// [`discover`](Self::discover), counting every IdP request this provider makes.
    ///
    /// # Errors
    /// [`IdpError::Discovery`] when the metadata cannot be loaded or does not match.
    pub async fn discover_counted(
        config: &IdpSettings,
        http: reqwest::Client,
        calls: Option<crate::metrics::IdpCalls>,
    ) -> Result<Self, IdpError> {
        let issuer = IssuerUrl::new(config.issuer_url.clone())
            .map_err(|e| IdpError::Misconfigured(format!("SIDEGATE_ISSUER_URL: {e}")))?;
        let http = Capped(http, calls);
        let metadata = match Metadata::discover_async(issuer, &http).await {
            Ok(m) => m,
            Err(e) => return Err(explain(&config.issuer_url, &http, error_chain(&e)).await),
        };
        let end_session = metadata.additional_metadata().end_session_endpoint.clone();
        let sends_iss = metadata
            .additional_metadata()
            .authorization_response_iss_parameter_supported;
        // The same keys openidconnect fetched, re-read as jsonwebtoken's type.
        let jwks = serde_json::to_value(metadata.jwks())
            .and_then(serde_json::from_value)
            .map_err(|e| IdpError::Misconfigured(format!("the IdP's keys: {e}")))?;
        let redirect = RedirectUrl::new(config.redirect_uri.clone())
            .map_err(|e| IdpError::Misconfigured(format!("the redirect URI: {e}")))?;
        let client = Client::from_provider_metadata(
            metadata,
            ClientId::new(config.client_id.clone()),
            Some(ClientSecret::new(config.client_secret.expose().clone())),
        )
        .set_redirect_uri(redirect);
        Ok(Self {
            client,
            http,
            scopes: config.scopes.clone(),
            end_session,
            sends_iss,
            client_id: config.client_id.clone(),
            jwks,
        })
    }

    /// Whether the IdP promises `iss` on its authorization responses (RFC 9207).
    pub fn sends_iss(&self) -> bool {
        self.sends_iss
    }

    /// Whether the IdP offers RP-initiated logout (so sessions keep the ID token as hint).
    pub fn has_end_session(&self) -> bool {
        self.end_session.is_some()
    }

    /// The IdP's signing keys.
    pub fn jwks(&self) -> &jsonwebtoken::jwk::JwkSet {
        &self.jwks
    }

    /// The IdP's end-session URL for RP-initiated logout, returning to `post_logout` with
    /// `state`; `None` when the IdP has no end-session endpoint or the hint is unusable.
    pub fn end_session_url(
        &self,
        id_token: &str,
        post_logout: &str,
        state: Option<&str>,
    ) -> Option<url::Url> {
        let endpoint = self.end_session.clone()?;
        let hint: openidconnect::IdToken<
            ExtraClaims,
            CoreGenderClaim,
            CoreJweContentEncryptionAlgorithm,
            CoreJwsSigningAlgorithm,
        > = id_token.parse().ok()?;
        let mut request = openidconnect::LogoutRequest::from(endpoint)
            .set_id_token_hint(&hint)
            .set_client_id(self.client.client_id().clone())
            .set_post_logout_redirect_uri(
                openidconnect::PostLogoutRedirectUrl::new(post_logout.to_owned()).ok()?,
            );
        if let Some(state) = state {
            request = request.set_state(CsrfToken::new(state.to_owned()));
        }
        Some(request.http_get_url())
    }

    /// The IdP authorization URL for a new login, and the state to keep for it.
    pub fn begin(&self, return_to: String) -> (url::Url, LoginState) {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = self
            .client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        for scope in self.scopes.iter().filter(|s| *s != "openid") {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, state, nonce) = request.url();
        let login = LoginState {
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            verifier: verifier.secret().clone(),
            return_to,
        };
        (url, login)
    }

    /// Exchanges `code` (with `login`'s PKCE verifier) for tokens.
    ///
    /// # Errors
    /// [`IdpError::CodeRefused`] when the IdP refuses the code; [`IdpError::Token`] otherwise.
    pub async fn exchange(&self, code: String, login: &LoginState) -> Result<Tokens, IdpError> {
        self.client
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|e| IdpError::Token(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(login.verifier.clone()))
            .request_async(&self.http)
            .await
            .map_err(|e| match e {
                // Only a refusal of the grant itself says the code is bad; `server_error` and
                // the like are the IdP failing.
                RequestTokenError::ServerResponse(r) if refuses_grant(r.error()) => {
                    IdpError::CodeRefused(r.error().to_string())
                }
                RequestTokenError::ServerResponse(r) if refuses_client(r.error()) => {
                    client_refused(r.error())
                }
                RequestTokenError::ServerResponse(r) => {
                    IdpError::Token(format!("the IdP answered {}", r.error()))
                }
                other => IdpError::Token(error_chain(&other)),
            })
    }

    /// Verifies the ID token in `tokens` against `login`'s nonce and merges userinfo.
    ///
    /// # Errors
    /// [`IdpError::UnknownKey`] when the ID token's key is not among the loaded ones (reload
    /// the metadata and try again); other variants naming the step that failed.
    pub async fn identity(
        &self,
        tokens: &Tokens,
        login: &LoginState,
        clock: Arc<dyn Clock>,
    ) -> Result<Identity, IdpError> {
        let id_token = tokens
            .id_token()
            .ok_or_else(|| IdpError::Token("no id_token in the token response".into()))?;
        let verifier = self.verifier(clock.clone());
        let verified = id_token
            .claims(&verifier, &Nonce::new(login.nonce.clone()))
            .map_err(|e| match e {
                ClaimsVerificationError::SignatureVerification(
                    SignatureVerificationError::NoMatchingKey,
                ) => IdpError::UnknownKey,
                other => IdpError::IdToken(other.to_string()),
            })?;
        let sub = verified.subject().clone();
        let mut claims = to_claims(verified)?;
        self.check_times_and_azp(&claims, clock.now())?;
        if self.client.user_info_url().is_some() {
            claims.extend(
                self.userinfo(tokens.access_token().clone(), sub.clone())
                    .await?,
            );
        }
        let sid = claims
            .get("sid")
            .and_then(|v| v.as_str())
            .map(str::to_owned);
        Ok(Identity {
            sub: sub.to_string(),
            sid,
            claims,
            access_token: tokens.access_token().secret().clone(),
            id_token: id_token.to_string(),
            refresh_token: tokens.refresh_token().map(|r| r.secret().clone()),
            expires_in: tokens.expires_in().map(|d| d.as_secs()),
        })
    }
}

impl Provider {
    /// Uses `refresh_token` for new tokens for subject `sub`; a new ID token is verified
    /// (signature, issuer, audience, expiry, same subject) and claims are re-read.
    ///
    /// # Errors
    /// [`IdpError::RefreshRefused`] when the IdP says the grant is no longer valid; other
    /// variants for transport or verification failures.
    pub async fn refresh(
        &self,
        refresh_token: &str,
        sub: &str,
        clock: Arc<dyn Clock>,
    ) -> Result<Refreshed, IdpError> {
        let token = openidconnect::RefreshToken::new(refresh_token.to_owned());
        let tokens = self
            .client
            .exchange_refresh_token(&token)
            .map_err(|e| IdpError::Token(e.to_string()))?
            .request_async(&self.http)
            .await
            .map_err(|e| match e {
                // Only `invalid_grant` ends the session; an IdP failing keeps it.
                RequestTokenError::ServerResponse(r) if refuses_grant(r.error()) => {
                    IdpError::RefreshRefused(r.error().to_string())
                }
                RequestTokenError::ServerResponse(r) if refuses_client(r.error()) => {
                    client_refused(r.error())
                }
                RequestTokenError::ServerResponse(r) => {
                    IdpError::Token(format!("the IdP answered {}", r.error()))
                }
                other => IdpError::Token(error_chain(&other)),
            })?;
        let mut claims = Claims::new();
        if let Some(id_token) = tokens.id_token() {
            let verifier = self.verifier(clock.clone());
            // A refreshed ID token carries the original nonce (or none); the login already
            // checked it, and the subject must not change.
            let verified = id_token
                .claims(&verifier, |_: Option<&Nonce>| Ok(()))
                .map_err(|e| IdpError::IdToken(e.to_string()))?;
            if verified.subject().as_str() != sub {
                return Err(IdpError::IdToken(
                    "the refreshed ID token is for another subject".into(),
                ));
            }
            claims = to_claims(verified)?;
            self.check_times_and_azp(&claims, clock.now())?;
        }
        if self.client.user_info_url().is_some() {
            claims.extend(
                self.userinfo(
                    tokens.access_token().clone(),
                    openidconnect::SubjectIdentifier::new(sub.to_owned()),
                )
                .await?,
            );
        }
        Ok(Refreshed {
            access_token: tokens.access_token().secret().clone(),
            refresh_token: tokens.refresh_token().map(|r| r.secret().clone()),
            id_token: tokens.id_token().map(ToString::to_string),
            expires_in: tokens.expires_in().map(|d| d.as_secs()),
            claims,
        })
    }
}

impl Provider {
    /// What openidconnect leaves to the relying party: `azp`, when present, must be us
    /// (OIDC Core 3.1.3.7), and `iat`/`nbf` must not be in the future (60 s leeway, as for
    /// logout tokens).
    fn check_times_and_azp(&self, claims: &Claims, now: u64) -> Result<(), IdpError> {
        if let Some(azp) = claims.get("azp") {
            if azp.as_str() != Some(self.client_id.as_str()) {
                return Err(IdpError::IdToken("azp names another client".into()));
            }
        }
        for claim in ["iat", "nbf"] {
            if let Some(t) = claims.get(claim).and_then(serde_json::Value::as_u64) {
                if t > now.saturating_add(60) {
                    return Err(IdpError::IdToken(format!("{claim} is in the future")));
                }
            }
        }
        Ok(())
    }

    /// An ID-token verifier whose notion of "now" is `clock`.
    fn verifier(
        &self,
        clock: Arc<dyn Clock>,
    ) -> openidconnect::IdTokenVerifier<'_, CoreJsonWebKey> {
        self.client.id_token_verifier().set_time_fn(move || {
            chrono::DateTime::from_timestamp(i64::try_from(clock.now()).unwrap_or(i64::MAX), 0)
                .unwrap_or_default()
        })
    }

    /// The userinfo claims for `access_token`, which must be about `sub`.
    async fn userinfo(
        &self,
        access_token: openidconnect::AccessToken,
        sub: openidconnect::SubjectIdentifier,
    ) -> Result<Claims, IdpError> {
        let info = self
            .client
            .user_info(access_token, Some(sub))
            .map_err(|e| IdpError::UserInfo(e.to_string()))?
            .request_async::<ExtraClaims, _, CoreGenderClaim>(&self.http)
            .await
            .map_err(|e| IdpError::UserInfo(error_chain(&e)))?;
        to_claims(&info)
    }
}

/// Whether a token endpoint error refuses the grant (code or refresh token) itself, rather
/// than saying the IdP failed.
fn refuses_grant(e: &openidconnect::core::CoreErrorResponseType) -> bool {
    use openidconnect::core::CoreErrorResponseType as E;
    matches!(e, E::InvalidGrant | E::InvalidRequest)
}

/// Whether a token endpoint error refuses sidegate's client itself (its id, its secret,
/// or the grant it is allowed): a setting, not the user, must change.
fn refuses_client(e: &openidconnect::core::CoreErrorResponseType) -> bool {
    use openidconnect::core::CoreErrorResponseType as E;
    matches!(e, E::InvalidClient | E::UnauthorizedClient)
}

/// The error for a refused client, naming the settings to check.
fn client_refused(e: &openidconnect::core::CoreErrorResponseType) -> IdpError {
    IdpError::Misconfigured(format!(
        "the IdP's token endpoint refuses sidegate's client ({e}); check SIDEGATE_CLIENT_ID and SIDEGATE_CLIENT_SECRET against the client at the IdP, and that it may use the authorization code grant"
    ))
}

/// All claims of a verified structure as JSON (standard and extra claims alike).
fn to_claims<T: Serialize>(claims: &T) -> Result<Claims, IdpError> {
    match serde_json::to_value(claims) {
        Ok(serde_json::Value::Object(map)) => Ok(map),
        _ => Err(IdpError::IdToken("claims are not a JSON object".into())),
    }
}
