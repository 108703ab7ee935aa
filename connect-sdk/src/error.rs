//! [`Error`]: what a connector, task, converter or transform returns when something fails.

use std::fmt;

use crate::config::ConfigErrors;
use crate::data::DataError;

/// A boxed error from any library a connector uses.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Result with the SDK's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The error type of every connector-facing API.
///
/// The runtime decides what to do from the variant: a [`Error::Retriable`] error is retried
/// with backoff (`errors.retry.timeout`), a [`Error::Data`] error concerns one record and is
/// subject to `errors.tolerance`, anything else fails the task, and its chain becomes the
/// task's `trace` in `GET /connectors/{name}/status`.
///
/// ```
/// use connect_sdk::Error;
/// let err = Error::retriable("database is restarting");
/// assert!(err.is_retriable());
/// let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
/// assert_eq!(Error::from(io).to_string(), "no such file");
/// ```
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration is invalid; every problem names its key.
    #[error(transparent)]
    Config(#[from] ConfigErrors),
    /// A record's data could not be converted, transformed or written.
    #[error(transparent)]
    Data(#[from] DataError),
    /// A temporary failure: the same operation may succeed if tried again.
    #[error("{message}")]
    Retriable {
        /// What failed.
        message: String,
        /// The underlying error.
        #[source]
        source: Option<BoxError>,
    },
    /// Any other failure; it stops the task.
    #[error("{message}")]
    Other {
        /// What failed.
        message: String,
        /// The underlying error.
        #[source]
        source: Option<BoxError>,
    },
}

impl Error {
    /// A temporary failure worth retrying.
    pub fn retriable(message: impl fmt::Display) -> Error {
        Error::Retriable { message: message.to_string(), source: None }
    }

    /// A failure that stops the task.
    pub fn other(message: impl fmt::Display) -> Error {
        Error::Other { message: message.to_string(), source: None }
    }

    /// Wraps an underlying error with a message saying what was being done.
    pub fn with_source(message: impl fmt::Display, source: impl Into<BoxError>) -> Error {
        Error::Other { message: message.to_string(), source: Some(source.into()) }
    }

    /// True for [`Error::Retriable`].
    pub fn is_retriable(&self) -> bool {
        matches!(self, Error::Retriable { .. })
    }

    /// Whether starting the task again may cure the failure: not for a config the connector
    /// refused nor for data that could not be converted or written ([`Error::Config`],
    /// [`Error::Data`]: a restart meets the same config and the same record), unless the
    /// conversion only lacked something that did not answer ([`DataError::unavailable`]); for
    /// anything else, yes. The worker restarts failed tasks by itself only when this holds.
    ///
    /// ```
    /// use connect_sdk::Error;
    /// use connect_sdk::data::DataError;
    /// assert!(Error::other("the database closed the connection").restart_may_help());
    /// assert!(!Error::Data(DataError::new("not a number: \"ten\"")).restart_may_help());
    /// ```
    pub fn restart_may_help(&self) -> bool {
        match self {
            Error::Config(_) => false,
            Error::Data(error) => error.is_retriable(),
            Error::Retriable { .. } | Error::Other { .. } => true,
        }
    }

    /// The error and all its causes, one per line: what status endpoints show as `trace`.
    pub fn trace(&self) -> String {
        let mut out = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            out.push_str("\nCaused by: ");
            out.push_str(&cause.to_string());
            source = cause.source();
        }
        out
    }
}

/// `error` and its causes on one line, joined by `: ` (the message of a client error alone,
/// "error sending request", says little).
///
/// ```
/// let io = std::io::Error::other("connection refused");
/// let error = connect_sdk::Error::with_source("cannot reach the registry", io);
/// assert_eq!(connect_sdk::error_chain(&error), "cannot reach the registry: connection refused");
/// ```
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

impl From<std::io::Error> for Error {
    fn from(err: std::io::Error) -> Error {
        use std::io::ErrorKind::*;
        let message = err.to_string();
        match err.kind() {
            Interrupted | TimedOut | WouldBlock | ConnectionReset | ConnectionAborted | ConnectionRefused => {
                Error::Retriable { message, source: None }
            }
            _ => Error::Other { message, source: None },
        }
    }
}
