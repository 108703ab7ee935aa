//! [`WorkerError`]: why a worker operation was refused or failed, with its source, and the
//! HTTP code Kafka Connect answers it with.

use connect_sdk::config::ConfigErrors;
use connect_sdk::host::registry::{DuplicatePlugins, LookupError};

#[cfg(feature = "embedded")]
use crate::embedded::EmbeddedError;
use crate::mq::MqError;
use crate::state::log::LogError;

/// Why a worker operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorkerError {
    /// No such connector (404).
    #[error("Connector {0} not found")]
    ConnectorNotFound(String),
    /// No such task (404).
    #[error("Task {1} of connector {0} not found")]
    TaskNotFound(String, u32),
    /// No plugin by that name (404).
    #[error(transparent)]
    PluginNotFound(#[from] LookupError),
    /// Already exists, or the connector is in the wrong state (409).
    #[error("{0}")]
    Conflict(String),
    /// A malformed request (400).
    #[error("{0}")]
    BadRequest(String),
    /// An invalid connector configuration (400).
    #[error("{0}\nYou can also find the above list of errors at the endpoint `/connector-plugins/{{connectorType}}/config/validate`")]
    InvalidConfig(ConfigErrors),
    /// An invalid worker setting (cluster name, worker id...).
    #[error("{0}")]
    InvalidSetting(String),
    /// Two linked plugins share a name.
    #[error(transparent)]
    DuplicatePlugins(#[from] DuplicatePlugins),
    /// A state log could not be read or written (503 when trying again may work, else 500).
    #[error(transparent)]
    StateLog(#[from] LogError),
    /// RocketMQ failed (503 when trying again may work, else 500).
    #[error(transparent)]
    RocketMq(#[from] MqError),
    /// An operation on the worker's RocketMQ failed (503 when trying again may work, else 500).
    #[error("{message}")]
    Operation {
        /// What failed, and why.
        message: String,
        /// Whether trying again may work.
        retriable: bool,
    },
    /// The embedded RocketMQ did not start.
    #[cfg(feature = "embedded")]
    #[error(transparent)]
    Embedded(#[from] EmbeddedError),
}

impl WorkerError {
    /// The HTTP status Kafka Connect answers with.
    pub fn status(&self) -> u16 {
        match self {
            WorkerError::ConnectorNotFound(_) | WorkerError::TaskNotFound(..) | WorkerError::PluginNotFound(_) => 404,
            WorkerError::Conflict(_) => 409,
            WorkerError::BadRequest(_) | WorkerError::InvalidConfig(_) | WorkerError::InvalidSetting(_) => 400,
            WorkerError::StateLog(e) if e.is_retriable() => 503,
            WorkerError::RocketMq(e) if e.is_retriable() => 503,
            WorkerError::Operation { retriable: true, .. } => 503,
            WorkerError::Operation { .. } => 500,
            WorkerError::DuplicatePlugins(_) | WorkerError::StateLog(_) | WorkerError::RocketMq(_) => 500,
            #[cfg(feature = "embedded")]
            WorkerError::Embedded(_) => 500,
        }
    }
}
