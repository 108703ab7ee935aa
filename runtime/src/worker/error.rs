//! [`WorkerError`]: why a worker operation was refused, mapped to Kafka Connect's HTTP codes.

use connect_sdk::config::ConfigErrors;

/// Why a worker operation failed.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// No such connector (404).
    #[error("Connector {0} not found")]
    NotFound(String),
    /// No such task (404).
    #[error("Task {1} of connector {0} not found")]
    TaskNotFound(String, u32),
    /// Already exists, or the connector is in the wrong state (409).
    #[error("{0}")]
    Conflict(String),
    /// A malformed request (400).
    #[error("{0}")]
    BadRequest(String),
    /// An invalid connector configuration (400).
    #[error("{0}\nYou can also find the above list of errors at the endpoint `/connector-plugins/{{connectorType}}/config/validate`")]
    InvalidConfig(ConfigErrors),
    /// The worker could not do it (500).
    #[error("{0}")]
    Internal(String),
}

impl WorkerError {
    /// The HTTP status Kafka Connect answers with.
    pub fn status(&self) -> u16 {
        match self {
            WorkerError::NotFound(_) | WorkerError::TaskNotFound(..) => 404,
            WorkerError::Conflict(_) => 409,
            WorkerError::BadRequest(_) | WorkerError::InvalidConfig(_) => 400,
            WorkerError::Internal(_) => 500,
        }
    }
}

impl From<crate::state::log::LogError> for WorkerError {
    fn from(e: crate::state::log::LogError) -> WorkerError {
        WorkerError::Internal(e.to_string())
    }
}
