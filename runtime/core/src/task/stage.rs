//! Where on its way a record was refused (Kafka Connect's `Stage`): what the dead-letter
//! queue's `__connect.errors.stage` and `.class.name` say, and how a task that stops on such a
//! refusal explains it.

use connect_sdk::Error;
use connect_sdk::data::DataError;

/// The step of a task's pipeline that refused a record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stage {
    /// The key converter.
    KeyConverter,
    /// The value converter.
    ValueConverter,
    /// A transform (a predicate's gate included), by its alias.
    Transformation(String),
    /// Sending to RocketMQ: the record is over the broker's message limit, or its topic is not
    /// allowed.
    Produce,
}

impl Stage {
    /// Kafka Connect's name of the stage.
    pub fn name(&self) -> &'static str {
        match self {
            Stage::KeyConverter => "KEY_CONVERTER",
            Stage::ValueConverter => "VALUE_CONVERTER",
            Stage::Transformation(_) => "TRANSFORMATION",
            Stage::Produce => "KAFKA_PRODUCE",
        }
    }

    /// The dead-letter queue's `class.name`: a transform's alias (converters are not named).
    pub fn class(&self) -> Option<&str> {
        match self {
            Stage::Transformation(alias) => Some(alias),
            Stage::KeyConverter | Stage::ValueConverter | Stage::Produce => None,
        }
    }

    /// What refused the record, as a person reads it (`transform "mask"`, `the key converter`).
    pub fn describe(&self) -> String {
        match self {
            Stage::KeyConverter => "the key converter".to_owned(),
            Stage::ValueConverter => "the value converter".to_owned(),
            Stage::Transformation(alias) => format!("transform \"{alias}\""),
            Stage::Produce => "the send to RocketMQ".to_owned(),
        }
    }

    /// The failure a task stops with when it may not skip a record `error` refused: a
    /// [`Error::Data`] naming the stage (a restart would meet the same record, so the worker
    /// does not restart the task by itself), unless the refusal was retriable (a schema
    /// registry that did not answer: [`DataError::unavailable`]), which stays as it is.
    pub fn stop(&self, error: Error) -> Error {
        if passes_later(&error) {
            return error;
        }
        let trace = error.trace().replace('\n', "; ");
        Error::Data(DataError::new(format!("{} refused a record: {trace}", self.describe())))
    }
}

/// Whether a refusal may pass when the record is tried again: a retriable error, or data
/// that could not be converted for want of something that did not answer
/// ([`DataError::unavailable`]). Such a record is neither skipped nor dead-lettered.
pub fn passes_later(error: &Error) -> bool {
    match error {
        Error::Retriable { .. } => true,
        Error::Data(data) => data.is_retriable(),
        Error::Config(_) | Error::Other { .. } => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_names_its_stage_and_stops_the_task_as_a_data_error_unless_retriable() {
        let stopped = Stage::Transformation("mask".into()).stop(Error::other("field ssn is missing"));
        assert!(matches!(stopped, Error::Data(_)), "{stopped:?}");
        assert_eq!(stopped.to_string(), "transform \"mask\" refused a record: field ssn is missing");
        assert!(!stopped.restart_may_help());
        let busy = Stage::ValueConverter.stop(Error::retriable("the registry did not answer"));
        assert!(busy.is_retriable() && busy.restart_may_help());
        let unreachable = Stage::ValueConverter.stop(Error::Data(DataError::unavailable("schema registry: connection refused")));
        assert!(unreachable.restart_may_help(), "{unreachable:?}");
        assert_eq!(Stage::KeyConverter.name(), "KEY_CONVERTER");
        assert!(passes_later(&Error::Data(DataError::unavailable("registry down"))) && !passes_later(&Error::other("no")));
    }
}
