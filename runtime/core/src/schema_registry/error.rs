//! [`RegistryError`]: why a registry call failed, with the error code and HTTP status
//! Confluent's Schema Registry answers it with, so its clients recognise every case.

use crate::state::log::LogError;

/// Why a registry call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// No such subject (40401).
    #[error("Subject '{0}' not found.")]
    SubjectNotFound(String),
    /// No such version of the subject (40402).
    #[error("Version {1} not found for subject '{0}'.")]
    VersionNotFound(String, String),
    /// No such schema (40403).
    #[error("{0}")]
    SchemaNotFound(String),
    /// The subject's versions are all soft-deleted (40404).
    #[error("Subject '{0}' was soft deleted. Set permanent=true to delete permanently")]
    SubjectSoftDeleted(String),
    /// A permanent delete of a subject that was not soft-deleted first (40405).
    #[error("Subject '{0}' was not deleted first before being permanently deleted")]
    SubjectNotSoftDeleted(String),
    /// The version was soft-deleted already (40406).
    #[error("Subject '{0}' Version {1} was soft deleted. Set permanent=true to delete permanently")]
    VersionSoftDeleted(String, i32),
    /// A permanent delete of a version that was not soft-deleted first (40407).
    #[error("Subject '{0}' Version {1} was not deleted first before being permanently deleted")]
    VersionNotSoftDeleted(String, i32),
    /// The subject has no compatibility level of its own (40408).
    #[error("Subject '{0}' does not have subject-level compatibility configured")]
    SubjectLevelNotConfigured(String),
    /// The schema breaks the subject's compatibility level (409).
    #[error("Schema being registered is incompatible with an earlier schema for subject \"{subject}\", details: [{}]", details.join(", "))]
    Incompatible {
        /// The subject.
        subject: String,
        /// What breaks compatibility, one line per problem.
        details: Vec<String>,
    },
    /// The schema does not parse, or references what does not exist (42201).
    #[error("{0}")]
    InvalidSchema(String),
    /// A version that is neither a positive number, -1 nor `latest` (42202).
    #[error("The specified version '{0}' is not a valid version id. Allowed values are between [1, 2^31-1] and the string \"latest\"")]
    InvalidVersion(String),
    /// An unknown compatibility level (42203).
    #[error(
        "Invalid compatibility level. Valid values are none, backward, forward, full, backward_transitive, forward_transitive, and full_transitive"
    )]
    InvalidCompatibilityLevel,
    /// A malformed request body (422, as Confluent's registry answers).
    #[error("{0}")]
    BadRequest(String),
    /// The registry's log could not be read or written (50001).
    #[error("Error while storing the schema: {0}")]
    Store(#[from] LogError),
    /// The registry's log is not open (a call that skipped [`SchemaRegistry::ready`](super::SchemaRegistry::ready); 50003).
    #[error("the schema registry's log is not open yet")]
    NotReady,
    /// Registering raced other writers too often to settle (50002).
    #[error("Registering the schema raced {0} other registrations of subject '{1}'; try again")]
    Contended(u32, String),
}

impl RegistryError {
    /// Confluent's error code (`error_code` of the answer).
    pub fn code(&self) -> u32 {
        match self {
            RegistryError::SubjectNotFound(_) => 40401,
            RegistryError::VersionNotFound(..) => 40402,
            RegistryError::SchemaNotFound(_) => 40403,
            RegistryError::SubjectSoftDeleted(_) => 40404,
            RegistryError::SubjectNotSoftDeleted(_) => 40405,
            RegistryError::VersionSoftDeleted(..) => 40406,
            RegistryError::VersionNotSoftDeleted(..) => 40407,
            RegistryError::SubjectLevelNotConfigured(_) => 40408,
            RegistryError::Incompatible { .. } => 409,
            RegistryError::InvalidSchema(_) => 42201,
            RegistryError::InvalidVersion(_) => 42202,
            RegistryError::InvalidCompatibilityLevel => 42203,
            RegistryError::BadRequest(_) => 422,
            RegistryError::Store(_) => 50001,
            RegistryError::Contended(..) => 50002,
            RegistryError::NotReady => 50003,
        }
    }

    /// The HTTP status: the code's first three digits.
    pub fn status(&self) -> u16 {
        match self.code() {
            code if code >= 10_000 => (code / 100) as u16,
            code => code as u16,
        }
    }
}
