//! Connector configurations in a [`StateLog`]: what should run.
//!
//! Keys (connector names never hold `/`):
//! - `connector/<name>`: the raw config (placeholders unresolved); its position is the
//!   connector's *revision*;
//! - `target/<name>`: the target state (`STARTED`, `PAUSED`, `STOPPED`);
//! - `tasks/<name>`: the task configs the connector's owner computed, and the revision they
//!   were computed from;
//! - `restart/<name>`: the latest restart request (acted on by the workers running the units);
//! - `logger/<logger>`: a log level set for the whole cluster (`/admin/loggers?scope=cluster`).
//!
//! A config write says which revision it replaces (`expect`, none for a new connector) and
//! applies only over that one ([`expected_revision`]): of two workers writing one connector at
//! once, the second learns that it lost and tries again on the first's result (a patch), or
//! answers 409 (a create). A new connector's first target state travels in its config record.

use std::collections::BTreeMap;
use std::sync::Arc;

use connect_sdk::config::ConfigMap;
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

use super::log::{Entries, Entry, LogError, StateLog};
use super::unit::Unit;

/// What a connector should be doing (Kafka's target state).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum TargetState {
    /// Running its tasks.
    #[default]
    Started,
    /// Tasks open but not polling.
    Paused,
    /// Tasks closed.
    Stopped,
}

/// The task configs of a connector.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskConfigs {
    /// The connector revision they were computed from.
    pub revision: u64,
    /// One config per task, placeholders unresolved.
    pub configs: Vec<ConfigMap>,
}

/// A restart request (`POST .../restart`, `POST .../tasks/{id}/restart`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RestartRequest {
    /// Restart the tasks too.
    pub include_tasks: bool,
    /// Only the failed units.
    pub only_failed: bool,
    /// Just this task (and not the connector).
    #[serde(default)]
    pub task: Option<u32>,
}

/// One connector as the config log holds it.
#[derive(Clone, Debug, PartialEq)]
pub struct ConnectorSpec {
    /// Its name.
    pub name: String,
    /// The raw config.
    pub config: ConfigMap,
    /// Position of the config record: changes with every config write.
    pub revision: u64,
    /// Position of the record that created it: a target state written for an earlier
    /// connector of the same name (a pause racing a delete on another worker) is ignored.
    pub created: u64,
    /// What it should be doing.
    pub target: TargetState,
    /// The task configs its owner wrote, if any yet.
    pub tasks: Option<TaskConfigs>,
}

impl ConnectorSpec {
    /// The units it defines: itself, and its tasks unless it is stopped (a stopped
    /// connector's tasks are not run anywhere).
    pub fn units(&self) -> impl Iterator<Item = Unit> + '_ {
        let tasks = self.tasks.as_ref().filter(|_| self.target != TargetState::Stopped).map_or(0, |t| t.configs.len() as u32);
        std::iter::once(Unit::Connector(self.name.clone())).chain((0..tasks).map(|id| Unit::task(&self.name, id)))
    }
}

/// Every connector of the log, and the units they define.
#[derive(Debug, Default)]
pub struct Connectors {
    /// Each connector, by name.
    pub specs: BTreeMap<String, ConnectorSpec>,
    /// Every unit the connectors define, sorted (connectors first, then tasks).
    pub units: Vec<Unit>,
}

impl Connectors {
    /// Whether `unit` is one the connectors define.
    pub fn defines(&self, unit: &Unit) -> bool {
        self.units.binary_search(unit).is_ok()
    }
}

const CONNECTOR: &str = "connector/";
const TARGET: &str = "target/";
const TASKS: &str = "tasks/";
const RESTART: &str = "restart/";
const LOGGER: &str = "logger/";

/// The connector `name` as the entries hold it.
fn spec(name: &str, entries: &Entries) -> Option<ConnectorSpec> {
    let entry = entries.map.get(&format!("{CONNECTOR}{name}"))?;
    let config = entry.value.get("config").and_then(Json::as_object).cloned().unwrap_or_default();
    let initial = entry.value.get("initial").and_then(|t| TargetState::deserialize(t).ok());
    let created = entry.value.get("created").and_then(Json::as_u64).unwrap_or(entry.offset);
    let target = entries
        .map
        .get(&format!("{TARGET}{name}"))
        .filter(|e| e.value.get("created").and_then(Json::as_u64).is_none_or(|of| of == created))
        .and_then(|e| TargetState::deserialize(e.value.get("state")?).ok())
        .or(initial)
        .unwrap_or_default();
    let tasks = entries.map.get(&format!("{TASKS}{name}")).and_then(|e| TaskConfigs::deserialize(&e.value).ok());
    Some(ConnectorSpec { name: name.to_owned(), config, revision: entry.offset, created, target, tasks })
}

/// The connector configurations.
#[derive(Clone)]
pub struct Configs {
    log: StateLog,
}

impl Configs {
    /// Configs kept in `log`.
    pub fn new(log: StateLog) -> Configs {
        Configs { log }
    }

    /// The underlying log.
    pub fn log(&self) -> &StateLog {
        &self.log
    }

    /// Every connector name, sorted.
    pub fn names(&self) -> Vec<String> {
        self.log.with_prefix(CONNECTOR).into_iter().map(|(key, _)| key[CONNECTOR.len()..].to_owned()).collect()
    }

    /// One connector.
    pub fn get(&self, name: &str) -> Option<ConnectorSpec> {
        self.log.read(|entries| spec(name, entries))
    }

    /// Every connector and the units they define: parsed once per position of the log, shared
    /// by its readers.
    pub fn all(&self) -> Arc<Connectors> {
        self.log.derived(|entries| {
            let names = entries.map.range(CONNECTOR.to_owned()..).take_while(|(k, _)| k.starts_with(CONNECTOR));
            let specs: BTreeMap<String, ConnectorSpec> =
                names.filter_map(|(key, _)| spec(&key[CONNECTOR.len()..], entries)).map(|s| (s.name.clone(), s)).collect();
            let mut units: Vec<Unit> = specs.values().flat_map(ConnectorSpec::units).collect();
            units.sort();
            Connectors { specs, units }
        })
    }

    /// The log levels set for the whole cluster: (logger, level, position), oldest first.
    pub fn log_levels(&self) -> Vec<(String, String, u64)> {
        let mut levels: Vec<(String, String, u64)> = self
            .log
            .with_prefix(LOGGER)
            .into_iter()
            .filter_map(|(key, entry)| Some((key[LOGGER.len()..].to_owned(), entry.value.get("level")?.as_str()?.to_owned(), entry.offset)))
            .collect();
        levels.sort_by_key(|(_, _, at)| *at);
        levels
    }

    /// Sets `logger`'s level on every worker of the cluster.
    pub async fn put_log_level(&self, logger: &str, level: &str) -> Result<u64, LogError> {
        self.log.append(vec![(format!("{LOGGER}{logger}"), Some(json!({"level": level})))]).await
    }

    /// The latest restart request of `name` and its position.
    pub fn restart_request(&self, name: &str) -> Option<(u64, RestartRequest)> {
        let entry = self.log.get(&format!("{RESTART}{name}"))?;
        serde_json::from_value(entry.value).ok().map(|request| (entry.offset, request))
    }

    /// Writes a connector's config (and its target state, when given) whatever was there;
    /// returns its revision. Tests set connectors up with it; the worker uses [`Configs::put_if`].
    #[cfg(test)]
    pub async fn put(&self, name: &str, config: &ConfigMap, target: Option<TargetState>) -> Result<u64, LogError> {
        let mut changes: Vec<super::log::Change> = vec![(format!("{CONNECTOR}{name}"), Some(json!({"config": config})))];
        if let Some(target) = target {
            changes.push((format!("{TARGET}{name}"), Some(json!({"state": target}))));
        }
        self.log.append(changes).await
    }

    /// Writes a connector's config over `current` (`None`: no such connector yet, which then
    /// starts in `initial`). Returns the new revision, or `None` when another write came first.
    pub async fn put_if(
        &self,
        name: &str,
        config: &ConfigMap,
        current: Option<&ConnectorSpec>,
        initial: TargetState,
    ) -> Result<Option<u64>, LogError> {
        let key = format!("{CONNECTOR}{name}");
        let expect = current.map(|c| c.revision);
        let mut value = json!({"config": config, "expect": expect, "initial": current.map_or(initial, |c| c.target)});
        if let Some(current) = current {
            value["created"] = json!(current.created);
        }
        let position = self.log.append(vec![(key.clone(), Some(value))]).await?;
        Ok((self.log.get(&key).map(|e| e.offset) == Some(position)).then_some(position))
    }

    /// Writes the target state of connector `spec`.
    pub async fn put_target(&self, spec: &ConnectorSpec, target: TargetState) -> Result<u64, LogError> {
        let value = json!({"state": target, "created": spec.created});
        self.log.append(vec![(format!("{TARGET}{}", spec.name), Some(value))]).await
    }

    /// Writes the task configs computed from revision `revision`.
    pub async fn put_tasks(&self, name: &str, tasks: &TaskConfigs) -> Result<u64, LogError> {
        self.log.append(vec![(format!("{TASKS}{name}"), Some(json!(tasks)))]).await
    }

    /// Asks the workers running `name`'s units to restart them.
    pub async fn request_restart(&self, name: &str, request: &RestartRequest) -> Result<u64, LogError> {
        self.log.append(vec![(format!("{RESTART}{name}"), Some(json!(request)))]).await
    }

    /// Removes a connector and everything kept about it here.
    pub async fn delete(&self, name: &str) -> Result<u64, LogError> {
        self.log.append([CONNECTOR, TARGET, TASKS, RESTART].iter().map(|prefix| (format!("{prefix}{name}"), None)).collect()).await
    }
}

/// The config log's merge rule: a record that names the revision it replaces (`expect`: a
/// position, or null for "no connector yet") applies only over that revision; others always.
pub fn expected_revision(current: Option<&Entry>, _offset: u64, value: Option<&Json>) -> bool {
    match value.and_then(|v| v.get("expect")) {
        None => true,
        Some(expect) => expect.as_u64() == current.map(|c| c.offset),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(class: &str) -> ConfigMap {
        json!({"connector.class": class}).as_object().cloned().unwrap()
    }

    #[tokio::test]
    async fn a_config_write_applies_only_over_the_revision_it_read() {
        let configs = Configs::new(StateLog::memory_with("configs", expected_revision));
        let first = configs.put_if("a", &config("file-source"), None, TargetState::Paused).await.unwrap();
        assert!(first.is_some());
        assert_eq!(configs.put_if("a", &config("log-sink"), None, TargetState::Started).await.unwrap(), None, "a second create loses");
        let spec = configs.get("a").unwrap();
        assert_eq!((&spec.config, spec.target), (&config("file-source"), TargetState::Paused), "the first create's state");
        assert!(configs.put_if("a", &config("datagen-source"), Some(&spec), TargetState::Started).await.unwrap().is_some());
        assert_eq!(configs.put_if("a", &config("log-sink"), Some(&spec), TargetState::Started).await.unwrap(), None, "a stale read loses");
        let updated = configs.get("a").unwrap();
        assert_eq!((updated.target, updated.created), (TargetState::Paused, spec.created), "an update keeps the state and the creation");
        configs.put_target(&updated, TargetState::Started).await.unwrap();
        assert_eq!(configs.get("a").unwrap().target, TargetState::Started, "a target record wins over the initial one");

        // A pause of the connector, landing after it was deleted and created again, is ignored.
        let old = configs.get("a").unwrap();
        configs.delete("a").await.unwrap();
        configs.put_if("a", &config("file-source"), None, TargetState::Started).await.unwrap();
        configs.put_target(&old, TargetState::Paused).await.unwrap();
        assert_eq!(configs.get("a").unwrap().target, TargetState::Started);
    }

    #[tokio::test]
    async fn a_connector_s_records_make_one_spec() {
        let configs = Configs::new(StateLog::memory("configs"));
        let revision = configs.put("a", &config("file-source"), Some(TargetState::Paused)).await.unwrap();
        configs.put("ab", &config("log-sink"), None).await.unwrap();
        let tasks = TaskConfigs { revision, configs: vec![config("file-source")] };
        configs.put_tasks("a", &tasks).await.unwrap();
        let spec = configs.get("a").unwrap();
        assert_eq!((spec.revision, spec.target, spec.tasks), (revision, TargetState::Paused, Some(tasks)));
        assert_eq!(configs.get("ab").unwrap().target, TargetState::Started);
        assert_eq!(configs.names(), vec!["a", "ab"]);
        let updated = configs.put("a", &config("file-sink"), None).await.unwrap();
        assert!(updated > revision);
        assert_eq!(configs.get("a").unwrap().target, TargetState::Paused, "an update keeps the target state");
        configs.delete("a").await.unwrap();
        assert_eq!(configs.get("a"), None);
        assert_eq!(configs.names(), vec!["ab"]);
    }
}
