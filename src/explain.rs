//! `sidegate explain`, the pure parts: the subrequest to explain (captured, or described by
//! a URL, a method and headers), what is wrong with it as far as sidegate can see
//! (`warnings`), and the report printed for it (`report`), with every secret masked.
//!
//! No I/O and no decisions: the command (`cli/explain.rs`) runs the server's own code
//! (`http::auth`'s extraction and rendering, [`crate::gate::check`]) and only describes
//! what it answered, so the explanation cannot drift from what the server does.

pub mod captured;
pub mod report;
pub mod subrequest;
pub mod warnings;

pub use captured::{parse_captured, Captured, CapturedError};
pub use report::Report;
pub use subrequest::{add_headers, claims, described, header_arg, Endpoint, Proxy, UsageError};
pub use warnings::{detect, Seen, Warning};

#[cfg(test)]
mod tests;
