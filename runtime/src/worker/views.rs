//! The JSON shapes the REST API answers with (Kafka Connect's `ConnectorInfo`,
//! `ConnectorStateInfo`, ...).

use connect_sdk::config::ConfigMap;
use serde::Serialize;

use crate::task::State;

/// `{"connector": name, "task": id}`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TaskId {
    /// Connector name.
    pub connector: String,
    /// Task id.
    pub task: u32,
}

/// Kafka's `ConnectorInfo`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ConnectorInfo {
    /// Name.
    pub name: String,
    /// Raw config.
    pub config: ConfigMap,
    /// Its tasks.
    pub tasks: Vec<TaskId>,
    /// `source` or `sink`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// The state of a connector or task in a status answer.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StateInfo {
    /// State.
    pub state: State,
    /// The worker running it.
    pub worker_id: String,
    /// Error trace, when failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace: Option<String>,
}

/// One task in a status answer.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TaskStateInfo {
    /// Task id.
    pub id: u32,
    /// State.
    pub state: State,
    /// The worker running it.
    pub worker_id: String,
    /// Error trace, when failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace: Option<String>,
}

/// Kafka's `ConnectorStateInfo`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ConnectorStatus {
    /// Name.
    pub name: String,
    /// The connector's own state.
    pub connector: StateInfo,
    /// Its tasks.
    pub tasks: Vec<TaskStateInfo>,
    /// `source` or `sink`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// One entry of `GET /connectors/{name}/tasks`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TaskInfo {
    /// Its id.
    pub id: TaskId,
    /// Its config.
    pub config: ConfigMap,
}
