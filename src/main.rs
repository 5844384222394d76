//! The `sidegate` binary: parses the command line and dispatches to [`sidegate::cli`].
// The server future nests deeply (warp filters over the Redis store); the default of 128
// is not enough to compute its layout.
#![recursion_limit = "256"]

use std::process::ExitCode;

use clap::Parser;

// Every check allocates a little (headers in, headers out); mimalloc makes that cheaper than
// glibc's allocator under many threads (measured by `make bench`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = sidegate::cli::Cli::parse();
    sidegate::cli::dispatch(cli.command).await
}
