//! [`ConfigError`] and [`ConfigErrors`]: every configuration problem, each naming its key.

use std::fmt;

/// One configuration problem: the key (`batch.size`, `transforms.mask.fields`) and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The full key, as the user wrote it or would write it.
    pub key: String,
    /// What is wrong, and where possible how to fix it.
    pub message: String,
}

impl ConfigError {
    /// A problem with `key`.
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError { key: key.into(), message: message.into() }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

/// All problems found in one configuration (never empty when returned as an error).
///
/// ```
/// use connect_sdk::config::{ConfigError, ConfigErrors};
/// let errors = ConfigErrors::from(ConfigError::new("tasks.max", "must be at least 1"));
/// assert_eq!(errors.to_string(), "Connector configuration is invalid and contains the following 1 error(s):\ntasks.max: must be at least 1");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConfigErrors(Vec<ConfigError>);

impl ConfigErrors {
    /// No errors yet.
    pub fn new() -> ConfigErrors {
        ConfigErrors::default()
    }

    /// Adds a problem.
    pub fn push(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.0.push(ConfigError::new(key, message));
    }

    /// Adds every problem of `other`, with `prefix` put before each key.
    pub fn extend_prefixed(&mut self, prefix: &str, other: ConfigErrors) {
        self.0.extend(other.0.into_iter().map(|e| ConfigError::new(format!("{prefix}{}", e.key), e.message)));
    }

    /// True when there is no problem.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Number of problems.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The problems.
    pub fn iter(&self) -> std::slice::Iter<'_, ConfigError> {
        self.0.iter()
    }

    /// The problems with `key`.
    pub fn for_key<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a ConfigError> + 'a {
        self.0.iter().filter(move |e| e.key == key)
    }

    /// `Ok(value)` when there is no problem, otherwise `Err(self)`.
    pub fn into_result<T>(self, value: T) -> Result<T, ConfigErrors> {
        if self.is_empty() { Ok(value) } else { Err(self) }
    }
}

impl From<ConfigError> for ConfigErrors {
    fn from(error: ConfigError) -> ConfigErrors {
        ConfigErrors(vec![error])
    }
}

impl IntoIterator for ConfigErrors {
    type Item = ConfigError;
    type IntoIter = std::vec::IntoIter<ConfigError>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Connector configuration is invalid and contains the following {} error(s):", self.0.len())?;
        for error in &self.0 {
            write!(f, "\n{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}
