//! App profiles: per-app access rules, identity headers, value mappings, one upstream
//! credential and fixed-response shims, chosen by the proxy in the auth URL's path
//! (`/auth/<app>`, `/auth/nginx/<app>`). Compiled once at startup from the TOML file
//! named by `SIDEGATE_APPS_FILE` (see `load`); env-only setups get one implicit profile.

pub mod credential;
mod load;
pub mod mint;
mod model;

pub use credential::Credential;
pub use load::{load, Defaults};
pub use model::{AmbiguousPath, PathProfile, Profile, Profiles, Shim};
