//! The worker runtime that executes connectors registered with [`connect_sdk`] over RocketMQ:
//! the library an application embeds. It serves no HTTP and parses no command line: the
//! REST API is the `connect-rest` crate, the command line and the `connect-worker` binary the
//! `connect-worker` crate, the admin client `connect-ctl`.
//!
//! What an application uses: [`Worker::builder`] to run a worker (standalone or in a
//! cluster, on an embedded or external RocketMQ), the worker's methods (what the REST API
//! calls), [`embedded`] for an in-process RocketMQ in tests and the quickstart, [`logging`] and
//! [`memory`] for a process that wants the worker's log and memory budget. Everything else is
//! internal.

// The worker's futures hold RocketMQ client types whose `Send` proof is deep.
#![recursion_limit = "256"]

mod allowlist;
mod cluster;
mod dlq;
#[cfg(feature = "embedded")]
pub mod embedded;
pub mod logging;
pub mod memory;
mod metrics;
mod mq;
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
pub use dlq::{ReplayReport, ReplayedRecord};
pub use secrets::{ConfigProviders, Placeholders, Secrets, UnknownProvider, resolve, resolve_tracked};
pub use state::configs::TargetState;
pub use state::topic::SnapshotPolicy;
pub use task::sink::to_sink_record;
pub use task::stage::Stage;
pub use task::{RunnerSettings, State};
pub use worker::views::{ConnectorInfo, ConnectorStatus, StateInfo, TaskId, TaskInfo, TaskStateInfo, WorkerHealth};
pub use worker::{ClusterSettings, OffsetsChange, PluginInfo, Worker, WorkerBuilder, WorkerError, hostname};
