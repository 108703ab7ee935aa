//! The connector commands of `ctl`: list, describe, create, apply, lifecycle changes,
//! restarts, offsets and watch.

use std::fmt::Write;
use std::path::Path;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value as Json, json};

use super::Ctl;
use super::client::{CtlError, segment};
use super::output::{first_line, plain, table};
use super::rates;
use super::specs::{self, Change};

/// `list`: every connector with its type, state, tasks running of total, worker and rate.
pub(super) async fn list(ctl: &Ctl, rate_window_ms: u64) -> Result<(), CtlError> {
    let expanded = ctl.client.get("/connectors?expand=status&expand=info").await?;
    let rates = match rate_window_ms {
        0 => None,
        ms => rates::rates(&ctl.client, Duration::from_millis(ms)).await,
    };
    let mut rows = Vec::new();
    let mut documents = Vec::new();
    for (name, entry) in expanded.as_object().into_iter().flatten() {
        let status = &entry["status"];
        let tasks = status["tasks"].as_array().map(Vec::as_slice).unwrap_or_default();
        let running = tasks.iter().filter(|t| t["state"] == "RUNNING").count();
        let kind = entry["info"]["type"].as_str().or(status["type"].as_str()).unwrap_or("-");
        let state = status["connector"]["state"].as_str().unwrap_or("-");
        let worker = status["connector"]["worker_id"].as_str().unwrap_or("-");
        let rate = rates.as_ref().map(|r| r.get(name).copied().unwrap_or(0.0));
        rows.push(vec![
            name.clone(),
            kind.to_owned(),
            state.to_owned(),
            format!("{running}/{}", tasks.len()),
            worker.to_owned(),
            rates::cell(rates.as_ref(), name),
        ]);
        documents.push(json!({"name": name, "type": kind, "state": state, "tasks_running": running,
                              "tasks_total": tasks.len(), "worker_id": worker, "records_per_second": rate}));
    }
    ctl.print(&Json::Array(documents), || table(&["NAME", "TYPE", "STATE", "TASKS", "WORKER", "RATE"], &rows));
    Ok(())
}

/// `describe NAME`: config, state, tasks and offsets.
pub(super) async fn describe(ctl: &Ctl, name: &str) -> Result<(), CtlError> {
    let path = format!("/connectors/{}", segment(name));
    let info = ctl.client.get(&path).await?;
    let status = ctl.client.get(&format!("{path}/status")).await?;
    // Workers before Kafka 3.5 have no offsets endpoint.
    let offsets = match ctl.client.get(&format!("{path}/offsets")).await {
        Ok(offsets) => offsets,
        Err(error) if error.is_not_found() => Json::Null,
        Err(error) => return Err(error),
    };
    let document = json!({"name": name, "type": info["type"], "config": info["config"], "status": status, "offsets": offsets});
    ctl.print(&document, || {
        let mut out = String::new();
        let connector = &status["connector"];
        let _ = writeln!(out, "Name:    {name}");
        let _ = writeln!(out, "Type:    {}", plain(&info["type"]));
        let _ = writeln!(out, "Class:   {}", plain(&info["config"]["connector.class"]));
        let _ = writeln!(out, "State:   {} on {}", plain(&connector["state"]), plain(&connector["worker_id"]));
        if let Some(trace) = connector["trace"].as_str() {
            let _ = writeln!(out, "Trace:   {}", first_line(trace));
        }
        let _ = writeln!(out, "\nConfig:");
        for (key, value) in info["config"].as_object().into_iter().flatten() {
            let _ = writeln!(out, "  {key} = {}", plain(value));
        }
        let _ = writeln!(out, "\nTasks:");
        out.push_str(&indent(&table(&["ID", "STATE", "WORKER", "TRACE"], &task_rows(&status))));
        if let Some(offsets) = offsets["offsets"].as_array() {
            let _ = writeln!(out, "\nOffsets:");
            out.push_str(&indent(&offsets_table(offsets)));
        }
        out
    });
    Ok(())
}

/// `create -f FILE`.
pub(super) async fn create(ctl: &Ctl, file: &Path) -> Result<(), CtlError> {
    let mut specs = specs::read(file)?;
    let (Some(spec), true) = (specs.pop(), specs.is_empty()) else {
        return Err(CtlError::Input(format!("{}: create takes one file; apply takes a directory", file.display())));
    };
    let created = ctl.client.call(Method::POST, "/connectors", Some(&json!({"name": spec.name, "config": spec.config}))).await?;
    ctl.print(&created, || format!("connector {} created\n", spec.name));
    Ok(())
}

/// `apply -f FILE|DIR [--dry-run]`: each connector created, updated or left as it is, the
/// changes shown.
pub(super) async fn apply(ctl: &Ctl, path: &Path, dry_run: bool) -> Result<(), CtlError> {
    let mut documents = Vec::new();
    let mut out = String::new();
    for spec in specs::read(path)? {
        let config_path = format!("/connectors/{}/config", segment(&spec.name));
        let (action, changes) = match ctl.client.get(&config_path).await {
            Ok(Json::Object(running)) => {
                let changes = specs::diff(&running, &spec.config);
                (if changes.is_empty() { "unchanged" } else { "updated" }, changes)
            }
            Ok(_) => ("updated", specs::diff(&Default::default(), &spec.config)),
            Err(error) if error.is_not_found() => ("created", specs::diff(&Default::default(), &spec.config)),
            Err(error) => return Err(error),
        };
        if action != "unchanged" && !dry_run {
            ctl.client.call(Method::PUT, &config_path, Some(&Json::Object(spec.config.clone()))).await?;
        }
        let shown = if dry_run { format!("would be {action}") } else { action.to_owned() };
        let _ = writeln!(out, "connector {} {shown} ({})", spec.name, spec.file.display());
        for change in &changes {
            let _ = writeln!(out, "  {change}");
        }
        let changes: Vec<String> = changes.iter().map(Change::to_string).collect();
        documents.push(json!({"name": spec.name, "action": action, "dry_run": dry_run, "changes": changes}));
    }
    ctl.print(&Json::Array(documents), || out);
    Ok(())
}

/// A change of a connector's life.
#[derive(Clone, Copy, Debug)]
pub(super) enum Lifecycle {
    Delete,
    Pause,
    Resume,
    Stop,
}

/// `delete`, `pause`, `resume`, `stop`.
pub(super) async fn lifecycle(ctl: &Ctl, name: &str, change: Lifecycle) -> Result<(), CtlError> {
    let path = format!("/connectors/{}", segment(name));
    let (method, path, done) = match change {
        Lifecycle::Delete => (Method::DELETE, path, "deleted"),
        Lifecycle::Pause => (Method::PUT, format!("{path}/pause"), "pausing"),
        Lifecycle::Resume => (Method::PUT, format!("{path}/resume"), "resuming"),
        Lifecycle::Stop => (Method::PUT, format!("{path}/stop"), "stopped"),
    };
    ctl.client.call(method, &path, None).await?;
    ctl.print(&json!({"name": name, "result": done}), || format!("connector {name} {done}\n"));
    Ok(())
}

/// `restart NAME [--tasks] [--failed]`.
pub(super) async fn restart(ctl: &Ctl, name: &str, tasks: bool, failed: bool) -> Result<(), CtlError> {
    let path = format!("/connectors/{}/restart?includeTasks={tasks}&onlyFailed={failed}", segment(name));
    let answer = ctl.client.call(Method::POST, &path, None).await?;
    ctl.print(&answer, || match answer.is_null() {
        true => format!("connector {name} restarted\n"),
        false => format!("connector {name} restarting\n{}", table(&["ID", "STATE", "WORKER", "TRACE"], &task_rows(&answer))),
    });
    Ok(())
}

/// `offsets get NAME`.
pub(super) async fn offsets(ctl: &Ctl, name: &str) -> Result<(), CtlError> {
    let offsets = ctl.client.get(&format!("/connectors/{}/offsets", segment(name))).await?;
    let list = offsets["offsets"].as_array().cloned().unwrap_or_default();
    ctl.print(&offsets, || offsets_table(&list));
    Ok(())
}

/// `offsets set NAME -f FILE`.
pub(super) async fn set_offsets(ctl: &Ctl, name: &str, file: &Path) -> Result<(), CtlError> {
    let text = std::fs::read_to_string(file).map_err(|e| CtlError::Input(format!("{}: {e}", file.display())))?;
    let body: Json = serde_json::from_str(&text).map_err(|e| CtlError::Input(format!("{}: not JSON: {e}", file.display())))?;
    if !body["offsets"].is_array() {
        return Err(CtlError::Input(format!("{}: expected {{\"offsets\": [{{\"partition\": ..., \"offset\": ...}}]}}", file.display())));
    }
    let answer = ctl.client.call(Method::PATCH, &format!("/connectors/{}/offsets", segment(name)), Some(&body)).await?;
    ctl.print(&answer, || format!("{}\n", plain(&answer["message"])));
    Ok(())
}

/// `offsets reset NAME`.
pub(super) async fn reset_offsets(ctl: &Ctl, name: &str) -> Result<(), CtlError> {
    let answer = ctl.client.call(Method::DELETE, &format!("/connectors/{}/offsets", segment(name)), None).await?;
    ctl.print(&answer, || format!("{}\n", plain(&answer["message"])));
    Ok(())
}

/// `watch NAME`: the state, tasks and rate, redrawn every `interval_ms` (in place on a terminal).
pub(super) async fn watch(ctl: &Ctl, name: &str, interval_ms: u64, count: Option<u64>) -> Result<(), CtlError> {
    use std::io::IsTerminal;
    let terminal = std::io::stdout().is_terminal();
    let path = format!("/connectors/{}/status", segment(name));
    let mut reading = rates::moved(&ctl.client).await;
    let mut refreshes = 0;
    loop {
        tokio::time::sleep(Duration::from_millis(interval_ms)).await;
        let status = ctl.client.get(&path).await?;
        let next = rates::moved(&ctl.client).await;
        let rates = reading.as_ref().zip(next.as_ref()).map(|(before, after)| rates::between(before, after));
        reading = next;
        let rate = rates.as_ref().map(|r| r.get(name).copied().unwrap_or(0.0));
        if terminal && ctl.format == super::Format::Table {
            // Home and clear: the view is redrawn in place.
            print!("\x1b[H\x1b[2J");
        }
        ctl.print(&json!({"name": name, "status": status, "records_per_second": rate}), || {
            let connector = &status["connector"];
            format!(
                "{name}  {} on {}  {}\n{}",
                plain(&connector["state"]),
                plain(&connector["worker_id"]),
                rates::cell(rates.as_ref(), name),
                table(&["ID", "STATE", "WORKER", "TRACE"], &task_rows(&status))
            )
        });
        refreshes += 1;
        if count.is_some_and(|count| refreshes >= count) {
            return Ok(());
        }
    }
}

/// The task rows of a status.
fn task_rows(status: &Json) -> Vec<Vec<String>> {
    status["tasks"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|task| {
            let trace = task["trace"].as_str().map(first_line).unwrap_or_default();
            vec![plain(&task["id"]), plain(&task["state"]), plain(&task["worker_id"]), trace]
        })
        .collect()
}

fn offsets_table(offsets: &[Json]) -> String {
    let rows: Vec<Vec<String>> = offsets.iter().map(|o| vec![o["partition"].to_string(), o["offset"].to_string()]).collect();
    table(&["PARTITION", "OFFSET"], &rows)
}

fn indent(text: &str) -> String {
    text.lines().map(|line| format!("  {line}\n")).collect()
}
