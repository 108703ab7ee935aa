//! The JSON shapes the REST API answers with (Kafka Connect's `ConnectorInfo`,
//! `ConnectorStateInfo`, ...).

use connect_sdk::config::ConfigMap;
use schemars::JsonSchema;
use serde::Serialize;

use crate::task::State;

/// `{"connector": name, "task": id}`.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub struct TaskId {
    /// Connector name.
    pub connector: String,
    /// Task id.
    pub task: u32,
}

/// Kafka's `ConnectorInfo`.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub struct ConnectorInfo {
    /// The connector's name, unique in its worker or cluster.
    pub name: String,
    /// The config as it was written, placeholders (`${env:...}`) unresolved.
    pub config: ConfigMap,
    /// The ids of the tasks its last plan made (none while it is stopped).
    pub tasks: Vec<TaskId>,
    /// `source` or `sink`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// The state of a connector or task in a status answer.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub struct StateInfo {
    /// `UNASSIGNED`, `RUNNING`, `PAUSED`, `STOPPED`, `FAILED` or `RESTARTING`.
    pub state: State,
    /// The id of the worker that owns it (empty while unassigned).
    pub worker_id: String,
    /// The error and its causes, when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace: Option<String>,
}

/// One task in a status answer.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub struct TaskStateInfo {
    /// The task's number within its connector, from 0.
    pub id: u32,
    /// `UNASSIGNED`, `RUNNING`, `PAUSED`, `STOPPED`, `FAILED` or `RESTARTING`.
    pub state: State,
    /// The worker running it.
    pub worker_id: String,
    /// Error trace, when failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace: Option<String>,
    /// How often it was restarted automatically after failing (`errors.restart.*`); absent when never.
    #[serde(skip_serializing_if = "is_zero")]
    pub restarts: u32,
    /// The failure that caused its last automatic restart.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Kafka's `ConnectorStateInfo`.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub struct ConnectorStatus {
    /// The connector's name.
    pub name: String,
    /// The state of the connector itself (its planning), and its owner.
    pub connector: StateInfo,
    /// The state and owner of each of its tasks.
    pub tasks: Vec<TaskStateInfo>,
    /// `source` or `sink`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// One entry of `GET /connectors/{name}/tasks`.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub struct TaskInfo {
    /// Which connector and task.
    pub id: TaskId,
    /// The task's config as its connector planned it, placeholders unresolved.
    pub config: ConfigMap,
}

/// Kafka's KIP-1017 worker health: `GET /health`.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub struct WorkerHealth {
    /// `starting`, `healthy` or `unhealthy`.
    pub status: &'static str,
    /// What it means, for a person.
    pub message: String,
}

impl WorkerHealth {
    /// The HTTP status KIP-1017 answers it with: 200 healthy, 503 starting, 500 unhealthy.
    pub fn http_status(&self) -> u16 {
        match self.status {
            "healthy" => 200,
            "starting" => 503,
            _ => 500,
        }
    }
}
