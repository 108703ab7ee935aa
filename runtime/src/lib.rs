//! The worker runtime that executes connectors registered with [`connect_sdk`] over RocketMQ.

// The worker's futures hold RocketMQ client types whose `Send` proof is deep.
#![recursion_limit = "256"]

mod cli;
pub mod cluster;
pub mod dlq;
pub mod embedded;
pub mod metrics;
pub mod mq;
pub mod rest;
pub mod retry;
pub mod secrets;
pub mod state;
pub mod task;
pub mod wire;
pub mod worker;

pub use cli::main;
pub use connect_sdk::registry::Registry;
pub use worker::{Worker, WorkerBuilder, WorkerError};
