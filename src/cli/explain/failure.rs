//! Why `sidegate explain` printed no explanation, and the exit status for it.

/// Why no explanation was printed.
pub(super) enum Failure {
    /// The command line or the settings (exit 2).
    Usage(String),
    /// The session store could not be read (exit 1).
    Store(String),
}

/// A usage or settings problem, in its own words.
pub(super) fn usage(e: impl std::fmt::Display) -> Failure {
    Failure::Usage(e.to_string())
}
