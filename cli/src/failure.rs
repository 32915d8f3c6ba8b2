//! How a command fails: with one message for `main` to print, or after printing its own findings.

/// Why a command exits with status 1.
#[derive(Debug)]
pub enum Failure {
    /// Something went wrong; `main` prints `error: <message>` on stderr.
    Error(String),
    /// The command found problems and already printed them (lint findings, ledger errors,
    /// versions not applied cleanly).
    Reported,
    /// The command line asks for something that cannot be done as asked (clap's own usage
    /// errors exit 2 the same way); `main` prints `error: <message>` and exits 2.
    Usage(String),
}

impl From<String> for Failure {
    fn from(message: String) -> Self {
        Failure::Error(message)
    }
}

impl From<pgready::Error> for Failure {
    fn from(error: pgready::Error) -> Self {
        // `pgready::Error` never carries a password.
        Failure::Error(error.to_string())
    }
}

/// Prints every problem on stderr as `error: <problem>` and fails as [`Failure::Reported`].
pub fn report<T: std::fmt::Display>(problems: &[T]) -> Failure {
    for problem in problems {
        eprintln!("error: {problem}");
    }
    Failure::Reported
}
