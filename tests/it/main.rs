//! sidegate's one integration-test binary (one link, shared harness). Add modules here
//! rather than new files under `tests/`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod apikeys;
mod audit;
mod browser;
mod cli;
mod demo;
mod deploy;
mod edges;
mod failover;
mod flow;
mod guesses;
mod harness;
mod ingress;
mod kubernetes;
mod logout;
mod machine;
mod metrics;
mod paths;
mod recheck;
mod recipes;
mod redis_cluster;
mod redis_tls;
mod refresh;
mod sentinel;
mod shutdown;
mod startup;
mod store;
mod systemd;
