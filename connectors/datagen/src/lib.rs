//! Connectors for load tests and debugging: `datagen-source` generates numbered records, or
//! sample records with schemas (`quickstart`, or an Avro schema of the user's: `schema.string`), at a given rate, `log-sink` logs what it receives.

mod datagen;
mod log;
pub mod quickstart;
pub mod user_schema;

pub use datagen::{DatagenSource, DatagenTask};
pub use log::{LogSink, LogSinkTask};
