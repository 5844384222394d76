//! OpenID Connect with the `openidconnect` crate: the [`Provider`] (discovery, login URL,
//! code exchange, ID-token checks, refresh, userinfo) and the types it hands around.

mod capped;
mod explain;
mod provider;
mod types;

pub use capped::MAX_ANSWER;
pub use provider::{http_client, Provider};
pub use types::{ExtraClaims, Identity, IdpError, IdpSettings, LoginState, Refreshed, Tokens};

#[cfg(test)]
pub(crate) mod tests;
