//! [`DataError`]: a value did not fit its schema, or bytes could not be decoded.

use std::fmt;

/// A value that does not fit its schema, or data a converter could not read or write.
///
/// The message names the field path where one is known (`address.zip: expected int32, got string`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataError {
    path: Vec<String>,
    message: String,
    retriable: bool,
}

impl DataError {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> DataError {
        DataError { path: Vec::new(), message: message.into(), retriable: false }
    }

    /// The data could not be converted because something the conversion needs did not answer
    /// (a schema registry unreachable): the same data may convert when tried again.
    ///
    /// ```
    /// use connect_sdk::data::DataError;
    /// assert!(DataError::unavailable("schema registry http://registry:8081: connection refused").is_retriable());
    /// assert!(!DataError::new("expected int32, got string").is_retriable());
    /// ```
    pub fn unavailable(message: impl Into<String>) -> DataError {
        DataError { retriable: true, ..DataError::new(message) }
    }

    /// Whether trying the same data again may succeed ([`unavailable`](Self::unavailable)).
    pub fn is_retriable(&self) -> bool {
        self.retriable
    }

    /// Records that the error happened inside `field` (outermost field last to be added).
    pub fn in_field(mut self, field: &str) -> DataError {
        self.path.insert(0, field.to_owned());
        self
    }

    /// The message without the field path.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() { f.write_str(&self.message) } else { write!(f, "{}: {}", self.path.join("."), self.message) }
    }
}

impl std::error::Error for DataError {}
