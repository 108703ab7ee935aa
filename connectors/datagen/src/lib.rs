//! Connectors for load tests and debugging: `datagen-source` generates numbered records at a
//! given rate, `log-sink` logs what it receives.

mod datagen;
mod log;

pub use datagen::{DatagenSource, DatagenTask};
pub use log::{LogSink, LogSinkTask};
