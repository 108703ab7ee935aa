//! `ctl cluster`: the workers of a cluster and the connectors and tasks each runs.

use std::collections::BTreeMap;

use serde_json::{Value as Json, json};

use super::Ctl;
use super::client::CtlError;
use super::output::table;

/// `cluster`: every worker (RocketMQ Connect's `/getClusterInfo` when served, else those the
/// statuses name) with what it runs.
pub(super) async fn show(ctl: &Ctl) -> Result<(), CtlError> {
    let expanded = ctl.client.get("/connectors?expand=status").await?;
    let mut members: BTreeMap<String, (Vec<String>, Vec<String>)> = BTreeMap::new();
    match ctl.client.get("/getClusterInfo").await {
        Ok(info) => {
            for worker in info["body"].as_array().into_iter().flatten().filter_map(Json::as_str) {
                members.entry(worker.to_owned()).or_default();
            }
        }
        // A Kafka Connect worker: its members are those running something.
        Err(error) if error.is_not_found() => {}
        Err(error) => return Err(error),
    }
    for (name, entry) in expanded.as_object().into_iter().flatten() {
        let status = &entry["status"];
        if let Some(worker) = status["connector"]["worker_id"].as_str() {
            members.entry(worker.to_owned()).or_default().0.push(name.clone());
        }
        for task in status["tasks"].as_array().into_iter().flatten() {
            if let Some(worker) = task["worker_id"].as_str() {
                members.entry(worker.to_owned()).or_default().1.push(format!("{name}/{}", task["id"]));
            }
        }
    }
    let document: Vec<Json> = members
        .iter()
        .map(|(worker, (connectors, tasks))| json!({"worker_id": worker, "connectors": connectors, "tasks": tasks}))
        .collect();
    let rows: Vec<Vec<String>> = members
        .iter()
        .map(|(worker, (connectors, tasks))| vec![worker.clone(), connectors.join(","), tasks.len().to_string(), tasks.join(",")])
        .collect();
    ctl.print(&Json::Array(document), || table(&["WORKER", "CONNECTORS", "TASKS", "RUNS"], &rows));
    Ok(())
}
