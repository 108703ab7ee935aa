//! The worker runtime that executes connectors registered with [`connect_sdk`] over RocketMQ.
//!
//! What an application uses: [`Worker::builder`] to run a worker (standalone or in a
//! cluster, on an embedded or external RocketMQ), the worker's methods (what the REST API
//! calls), [`rest::router`] to serve the REST API, [`main`] for a custom worker binary, and
//! [`embedded`] for an in-process RocketMQ in tests. Everything else is internal.

// The worker's futures hold RocketMQ client types whose `Send` proof is deep.
#![recursion_limit = "256"]

mod allowlist;
mod cli;
mod cluster;
mod ctl;
mod dlq;
pub mod embedded;
pub mod logging;
pub mod memory;
mod metrics;
mod mq;
pub mod rest;
mod retry;
pub mod schema_registry;
mod secrets;
mod state;
mod task;
mod topics;
mod watchdog;
pub mod wire;
mod worker;

pub use allowlist::{AllowedPaths, PathRefused, PluginFilter};
pub use cli::main;
pub use secrets::{ConfigProviders, UnknownProvider};
pub use state::configs::TargetState;
pub use state::topic::SnapshotPolicy;
pub use task::{RunnerSettings, State};
pub use worker::views::{ConnectorInfo, ConnectorStatus, StateInfo, TaskId, TaskInfo, TaskStateInfo, WorkerHealth};
pub use worker::{ClusterSettings, OffsetsChange, PluginInfo, Worker, WorkerBuilder, WorkerError};
