//! Sessions: what is kept about a signed-in user ([`Session`]), the tickets that name and
//! seal them ([`Ticket`], [`Keys`]), [`Sessions`] on top of a store, and the hot-path cache.
//!
//! The store sees only opaque bytes under an opaque id (`crate::store`); tickets, encryption
//! and expiry rules live here, above it (oauth2-proxy's `pkg/sessions` shape).

pub mod cache;
pub mod model;
pub mod rendered;
pub mod sealed;
pub mod ticket;

pub use cache::SessionCache;
pub use model::Session;
pub use sealed::Sessions;
pub use ticket::{Keys, Ticket};
