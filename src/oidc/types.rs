//! What the OpenID Connect code hands around: tokens, login state, verified identities,
//! refreshed tokens, and how talking to the IdP fails.

use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreErrorResponseType, CoreGenderClaim, CoreJsonWebKey,
    CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm, CoreRevocableToken,
    CoreRevocationErrorResponse, CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AdditionalClaims, EmptyExtraTokenFields, EndpointMaybeSet, EndpointNotSet, EndpointSet,
    IdTokenFields, StandardErrorResponse, StandardTokenResponse,
};
use serde::{Deserialize, Serialize};

use crate::claims::Claims;

/// Every claim the IdP sends beyond the standard ones, kept as JSON.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ExtraClaims(pub(super) Claims);
impl AdditionalClaims for ExtraClaims {}

type IdFields = IdTokenFields<
    ExtraClaims,
    EmptyExtraTokenFields,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;
/// A token endpoint answer (access, ID and refresh tokens).
pub type Tokens = StandardTokenResponse<IdFields, CoreTokenType>;
pub(super) type Client = openidconnect::Client<
    ExtraClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    Tokens,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// A failure talking to the IdP or verifying what it sent.
#[derive(Debug, thiserror::Error)]
pub enum IdpError {
    /// Discovery or JWKS could not be loaded: the network, or the IdP failing.
    #[error("the IdP is unreachable: {0}")]
    Discovery(String),
    /// The IdP answers, but not as the settings say it should (another issuer spelling,
    /// not a discovery document, unusable keys, the client refused): a setting must change.
    #[error("misconfigured: {0}")]
    Misconfigured(String),
    /// The IdP refused the authorization code (expired, reused, or for another client).
    #[error("the IdP refused the authorization code: {0}")]
    CodeRefused(String),
    /// The IdP refused the refresh token (`invalid_grant`: revoked, reused, expired).
    #[error("the IdP refused the refresh token: {0}")]
    RefreshRefused(String),
    /// The token endpoint could not be reached or answered nonsense.
    #[error("the token request failed: {0}")]
    Token(String),
    /// The ID token failed verification.
    #[error("the ID token failed verification: {0}")]
    IdToken(String),
    /// The ID token is signed with a key the loaded metadata does not have (the IdP may
    /// have rotated its keys).
    #[error("the ID token is signed with a key the IdP did not publish when sidegate last loaded its keys")]
    UnknownKey,
    /// The userinfo endpoint failed.
    #[error("the userinfo request failed: {0}")]
    UserInfo(String),
}

/// What one login attempt must remember between `/start` and `/callback`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoginState {
    /// The `state` sent to the IdP.
    pub state: String,
    /// The `nonce` expected in the ID token.
    pub nonce: String,
    /// The PKCE code verifier.
    pub verifier: String,
    /// Where to go after login (validated at `/start`).
    pub return_to: String,
}

/// A verified login.
#[derive(Debug, Clone)]
pub struct Identity {
    /// Subject.
    pub sub: String,
    /// IdP session id, when the IdP sends one.
    pub sid: Option<String>,
    /// ID-token claims merged with userinfo.
    pub claims: Claims,
    /// The access token (kept only if a profile needs it).
    pub access_token: String,
    /// The raw ID token (kept only if a profile needs it).
    pub id_token: String,
    /// The refresh token, if the IdP issued one.
    pub refresh_token: Option<String>,
    /// Seconds until the access token expires, if the IdP said.
    pub expires_in: Option<u64>,
}

/// New tokens (and fresh claims) from a refresh.
#[derive(Debug, Clone)]
pub struct Refreshed {
    /// The new access token.
    pub access_token: String,
    /// A new refresh token when the IdP rotates them.
    pub refresh_token: Option<String>,
    /// A new ID token, if the IdP sent one.
    pub id_token: Option<String>,
    /// Seconds until the new access token expires.
    pub expires_in: Option<u64>,
    /// Claims from the new ID token and userinfo.
    pub claims: Claims,
}

/// Discovery metadata beyond the core: the end-session endpoint (RP-initiated logout) and
/// whether authorization responses carry `iss` (RFC 9207).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ExtraMetadata {
    /// `end_session_endpoint`.
    pub end_session_endpoint: Option<openidconnect::EndSessionUrl>,
    /// `authorization_response_iss_parameter_supported`.
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
}
impl openidconnect::AdditionalProviderMetadata for ExtraMetadata {}

/// The discovery document, with [`ExtraMetadata`].
pub type Metadata = openidconnect::ProviderMetadata<
    ExtraMetadata,
    openidconnect::core::CoreAuthDisplay,
    openidconnect::core::CoreClientAuthMethod,
    openidconnect::core::CoreClaimName,
    openidconnect::core::CoreClaimType,
    openidconnect::core::CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    openidconnect::core::CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    openidconnect::core::CoreResponseMode,
    openidconnect::core::CoreResponseType,
    openidconnect::core::CoreSubjectIdentifierType,
>;

/// What discovery and the client need from the configuration.
#[derive(Debug, Clone)]
pub struct IdpSettings {
    /// `SIDEGATE_ISSUER_URL`, exactly.
    pub issuer_url: String,
    /// `SIDEGATE_CLIENT_ID`.
    pub client_id: String,
    /// `SIDEGATE_CLIENT_SECRET`.
    pub client_secret: crate::secret::Secret<String>,
    /// sidegate's `/callback` URL.
    pub redirect_uri: String,
    /// Scopes requested at login.
    pub scopes: Vec<String>,
}

impl IdpSettings {
    /// The settings in `config`.
    pub fn from_config(config: &crate::config::Config) -> Self {
        Self {
            issuer_url: config.issuer_url.clone(),
            client_id: config.client_id.clone(),
            client_secret: config.client_secret.clone(),
            redirect_uri: config.redirect_uri(),
            scopes: config.scopes.clone(),
        }
    }
}
