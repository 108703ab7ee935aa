//! What the REST API asks of a worker: connector configs, lifecycle, status, offsets and
//! plugins. A config is checked once here (secrets resolved, every key against the
//! plugins); changes are written to the config and offset logs (so any worker of a cluster
//! takes them), then this worker waits until it has applied them itself.

use std::collections::BTreeSet;

use connect_sdk::config::{ConfigMap, TopicSelection};
use connect_sdk::host::assembly::{ConfigInfos, ConnectorPlugin, definition, describe_with, plugin_keys, validate};
use connect_sdk::host::plugin::{PluginDescriptor, PluginKind};
use connect_sdk::offsets::{SourceOffset, SourcePartition};
use serde::Serialize;
use serde_json::{Value as Json, json};

use super::launcher::sink_group;
use super::views::{ConnectorInfo, ConnectorStatus, StateInfo, TaskId, TaskInfo, TaskStateInfo};
use super::{Worker, WorkerError};
use crate::dlq::ReplayReport;
use crate::state::configs::{ConnectorSpec, RestartRequest, TargetState};
use crate::state::unit::Unit;
use crate::task::State;

/// A change to one offset (`None` removes it).
pub type OffsetsChange = Vec<(Json, Option<Json>)>;

/// One plugin as `GET /connector-plugins` lists it.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct PluginInfo {
    /// The name configs use in `connector.class` (or `transforms.<alias>.type`...).
    pub class: String,
    /// `source`, `sink`, `transformation`, `predicate` or `converter`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The version of the crate that registered it.
    pub version: String,
}

fn kind_name(kind: PluginKind) -> String {
    kind.as_str().to_owned()
}

impl Worker {
    /// Names of every connector.
    pub async fn connector_names(&self) -> Vec<String> {
        self.inner.configs.names()
    }

    fn spec(&self, name: &str) -> Result<ConnectorSpec, WorkerError> {
        self.inner.configs.get(name).ok_or_else(|| WorkerError::ConnectorNotFound(name.to_owned()))
    }

    fn kind_of(&self, config: &ConfigMap) -> PluginKind {
        self.inner.launcher.check.kind_of(config)
    }

    /// Checks `config` and writes it over `current` (`None`: a new connector, starting in
    /// `initial`), then waits until this worker applied it; the check is kept, so the units of
    /// this revision started here use it. `false` when another write came first.
    async fn write_config(
        &self,
        name: &str,
        config: ConfigMap,
        current: Option<&ConnectorSpec>,
        initial: TargetState,
    ) -> Result<bool, WorkerError> {
        let validated = self.inner.launcher.check.revision(&config).map_err(WorkerError::InvalidConfig)?;
        self.check_config_bytes(name, &config)?;
        let Some(revision) = self.inner.configs.put_if(name, &config, current, initial).await? else {
            // Another worker wrote first: read what it wrote before trying again.
            self.inner.configs.log().catch_up().await?;
            return Ok(false);
        };
        self.inner.launcher.remember(name, revision, validated);
        self.inner.herder.sync(revision).await;
        Ok(true)
    }

    /// Refuses a config over [`MAX_CONFIG_BYTES`], or one that would take the configs of all
    /// connectors over [`MAX_TOTAL_CONFIG_BYTES`]: every worker of a cluster holds every config,
    /// several times over once validated.
    fn check_config_bytes(&self, name: &str, config: &ConfigMap) -> Result<(), WorkerError> {
        let size = |config: &ConfigMap| serde_json::to_vec(config).map_or(0, |bytes| bytes.len());
        let bytes = size(config);
        if bytes > MAX_CONFIG_BYTES {
            return Err(WorkerError::BadRequest(format!("the config takes {bytes} bytes: at most {MAX_CONFIG_BYTES}")));
        }
        let others: usize = self
            .inner
            .configs
            .names()
            .iter()
            .filter(|n| *n != name)
            .filter_map(|n| self.inner.configs.get(n))
            .map(|s| size(&s.config))
            .sum();
        if others + bytes > MAX_TOTAL_CONFIG_BYTES {
            return Err(WorkerError::BadRequest(format!(
                "the connectors' configs would take {} bytes: at most {MAX_TOTAL_CONFIG_BYTES} in all (delete connectors first)",
                others + bytes
            )));
        }
        Ok(())
    }

    /// Creates and starts a connector; `config` is the flat config (its `name`, if any, must match).
    pub async fn create_connector(&self, name: &str, config: Json) -> Result<ConnectorInfo, WorkerError> {
        self.create_connector_with_state(name, config, TargetState::Started).await
    }

    /// Creates a connector in `initial` state (`RUNNING`, `PAUSED` or `STOPPED`). Of creates of
    /// one name, on this worker or on others, one wins; the others are conflicts.
    pub async fn create_connector_with_state(&self, name: &str, config: Json, initial: TargetState) -> Result<ConnectorInfo, WorkerError> {
        let config = checked_config(name, config)?;
        let _one_at_a_time = self.inner.config_writes.lock().await;
        let exists = || WorkerError::Conflict(format!("Connector {name} already exists"));
        if self.inner.configs.get(name).is_some() {
            return Err(exists());
        }
        if !self.write_config(name, config, None, initial).await? {
            return Err(exists());
        }
        self.connector_info(name).await
    }

    /// Creates or replaces a connector's config; returns its info and whether it was created.
    pub async fn put_connector_config(&self, name: &str, config: Json) -> Result<(ConnectorInfo, bool), WorkerError> {
        let config = checked_config(name, config)?;
        let _one_at_a_time = self.inner.config_writes.lock().await;
        self.change_config(name, |_| Ok(config.clone())).await
    }

    /// Applies a partial config (`null` removes a key), Kafka's `PATCH .../config`. Patches of
    /// different keys on different workers at once all apply.
    pub async fn patch_connector_config(&self, name: &str, patch: ConfigMap) -> Result<ConnectorInfo, WorkerError> {
        let _one_at_a_time = self.inner.config_writes.lock().await;
        let patched = |current: Option<&ConfigMap>| {
            let mut config = current.cloned().ok_or_else(|| WorkerError::ConnectorNotFound(name.to_owned()))?;
            for (key, value) in &patch {
                if value.is_null() {
                    config.remove(key);
                } else {
                    config.insert(key.clone(), value.clone());
                }
            }
            checked_config(name, Json::Object(config))
        };
        self.change_config(name, patched).await.map(|(info, _)| info)
    }

    /// Writes `change(the current config)` over the current revision, reading again and
    /// retrying when another worker wrote in between; returns the info and whether it was created.
    async fn change_config(
        &self,
        name: &str,
        change: impl Fn(Option<&ConfigMap>) -> Result<ConfigMap, WorkerError>,
    ) -> Result<(ConnectorInfo, bool), WorkerError> {
        const ATTEMPTS: usize = 10;
        for _ in 0..ATTEMPTS {
            let current = self.inner.configs.get(name);
            let config = change(current.as_ref().map(|spec| &spec.config))?;
            if self.write_config(name, config, current.as_ref(), TargetState::Started).await? {
                return Ok((self.connector_info(name).await?, current.is_none()));
            }
        }
        Err(WorkerError::Conflict(format!("connector {name} kept changing on other workers: {ATTEMPTS} attempts lost, try again")))
    }

    /// The raw config.
    pub async fn connector_config(&self, name: &str) -> Result<ConfigMap, WorkerError> {
        Ok(self.spec(name)?.config)
    }

    /// `ConnectorInfo`.
    pub async fn connector_info(&self, name: &str) -> Result<ConnectorInfo, WorkerError> {
        let spec = self.spec(name)?;
        Ok(ConnectorInfo {
            name: name.to_owned(),
            tasks: task_ids(&spec).map(|task| TaskId { connector: name.to_owned(), task }).collect(),
            kind: kind_name(self.kind_of(&spec.config)),
            config: spec.config,
        })
    }

    /// The task configs (placeholders shown, never their secrets).
    pub async fn task_infos(&self, name: &str) -> Result<Vec<TaskInfo>, WorkerError> {
        let spec = self.spec(name)?;
        let configs = spec.tasks.map(|t| t.configs).unwrap_or_default();
        Ok(configs
            .into_iter()
            .enumerate()
            .map(|(i, config)| TaskInfo { id: TaskId { connector: name.to_owned(), task: i as u32 }, config })
            .collect())
    }

    /// `ConnectorStateInfo`, as the status log has it (the same on every worker).
    pub async fn connector_status(&self, name: &str) -> Result<ConnectorStatus, WorkerError> {
        let spec = self.spec(name)?;
        let statuses = &self.inner.statuses;
        let connector = match statuses.get(&Unit::Connector(name.to_owned())) {
            Some((status, _)) => StateInfo { state: status.state, worker_id: status.worker_id, trace: status.trace },
            None => StateInfo { state: State::Unassigned, worker_id: String::new(), trace: None },
        };
        let tasks = task_ids(&spec)
            .map(|id| match statuses.get(&Unit::task(name, id)) {
                Some((status, _)) => TaskStateInfo {
                    id,
                    state: status.state,
                    worker_id: status.worker_id,
                    trace: status.trace,
                    restarts: status.restarts,
                    last_error: status.last_error,
                },
                None => {
                    TaskStateInfo { id, state: State::Unassigned, worker_id: String::new(), trace: None, restarts: 0, last_error: None }
                }
            })
            .collect();
        Ok(ConnectorStatus { name: name.to_owned(), connector, tasks, kind: kind_name(self.kind_of(&spec.config)) })
    }

    /// One task's state.
    pub async fn task_status(&self, name: &str, task: u32) -> Result<TaskStateInfo, WorkerError> {
        let status = self.connector_status(name).await?;
        status.tasks.into_iter().find(|t| t.id == task).ok_or_else(|| WorkerError::TaskNotFound(name.to_owned(), task))
    }

    /// Pauses every task (they stay open).
    pub async fn pause_connector(&self, name: &str) -> Result<(), WorkerError> {
        self.set_target(name, TargetState::Paused).await
    }

    /// Resumes a paused or stopped connector.
    pub async fn resume_connector(&self, name: &str) -> Result<(), WorkerError> {
        self.set_target(name, TargetState::Started).await
    }

    /// Stops the tasks and frees their resources; the config stays.
    pub async fn stop_connector(&self, name: &str) -> Result<(), WorkerError> {
        self.set_target(name, TargetState::Stopped).await
    }

    async fn set_target(&self, name: &str, target: TargetState) -> Result<(), WorkerError> {
        let _one_at_a_time = self.inner.config_writes.lock().await;
        let spec = self.spec(name)?;
        if spec.target != target {
            let position = self.inner.configs.put_target(&spec, target).await?;
            self.inner.herder.sync(position).await;
        }
        Ok(())
    }

    /// Stops and removes a connector and its source offsets.
    pub async fn delete_connector(&self, name: &str) -> Result<(), WorkerError> {
        let _one_at_a_time = self.inner.config_writes.lock().await;
        let spec = self.spec(name)?;
        let position = self.inner.configs.delete(name).await?;
        if self.kind_of(&spec.config) != PluginKind::Sink {
            self.inner.offsets.reset(name).await?;
        }
        self.inner.herder.sync(position).await;
        self.inner.launcher.forget(name);
        self.inner.metrics.remove_connector(name);
        Ok(())
    }

    /// Restarts the connector, and with `include_tasks` its tasks (only the failed ones with
    /// `only_failed`), wherever they run.
    /// Returns the status as it was asked, with the connector and tasks the request restarts
    /// marked `RESTARTING` (Kafka's 202 answer).
    pub async fn restart_connector(&self, name: &str, include_tasks: bool, only_failed: bool) -> Result<ConnectorStatus, WorkerError> {
        let request = RestartRequest { include_tasks, only_failed, task: None };
        let mut status = self.connector_status(name).await?;
        let restarting = |unit: Unit, state: &mut State| {
            if super::herder::restart_covers(&request, &unit, *state == State::Failed) {
                *state = State::Restarting;
            }
        };
        restarting(Unit::Connector(name.to_owned()), &mut status.connector.state);
        for task in &mut status.tasks {
            restarting(Unit::task(name, task.id), &mut task.state);
        }
        self.request_restart(name, request).await?;
        Ok(status)
    }

    /// Restarts one task, wherever it runs.
    pub async fn restart_task(&self, name: &str, task: u32) -> Result<(), WorkerError> {
        if !task_ids(&self.spec(name)?).any(|id| id == task) {
            return Err(WorkerError::TaskNotFound(name.to_owned(), task));
        }
        self.request_restart(name, RestartRequest { include_tasks: true, only_failed: false, task: Some(task) }).await
    }

    async fn request_restart(&self, name: &str, request: RestartRequest) -> Result<(), WorkerError> {
        let _one_at_a_time = self.inner.config_writes.lock().await;
        let spec = self.spec(name)?;
        if spec.target == TargetState::Stopped {
            return Err(WorkerError::Conflict(format!("{name} is stopped: resume it instead of restarting it")));
        }
        let position = self.inner.configs.request_restart(name, &request).await?;
        self.inner.herder.sync(position).await;
        Ok(())
    }

    /// Committed offsets in Kafka's shape: a source's `{partition, offset}` maps, or a sink's
    /// queues (`rocketmq_topic`, `rocketmq_broker`, `rocketmq_queue`) and `rocketmq_offset`
    /// as its consumer group committed them in the broker.
    pub async fn offsets(&self, name: &str) -> Result<Vec<Json>, WorkerError> {
        let spec = self.spec(name)?;
        // A partition or an offset may hold what a placeholder resolved to (a file's path).
        let secrets = self.inner.launcher.secrets(&spec);
        if self.kind_of(&spec.config) == PluginKind::Sink {
            let committed = self.inner.mq.committed_offsets(&sink_group(name)).await?;
            return Ok(committed
                .into_iter()
                .map(|(topic, broker, queue, offset)| {
                    secrets.redact_json(json!({"partition": {"rocketmq_topic": topic, "rocketmq_broker": broker, "rocketmq_queue": queue}, "offset": {"rocketmq_offset": offset}}))
                })
                .collect());
        }
        Ok(self
            .inner
            .offsets
            .of(name)
            .into_iter()
            .map(|e| secrets.redact_json(json!({"partition": e.partition, "offset": e.offset})))
            .collect())
    }

    /// Alters source offsets of a stopped connector (`None` forgets one: the source starts over there).
    pub async fn alter_offsets(&self, name: &str, change: OffsetsChange) -> Result<(), WorkerError> {
        self.require_stopped_source(name)?;
        let mut parsed = Vec::new();
        for (partition, offset) in change {
            let partition: SourcePartition =
                serde_json::from_value(partition).map_err(|e| WorkerError::BadRequest(format!("partition: {e}")))?;
            let offset: Option<SourceOffset> =
                offset.map(serde_json::from_value).transpose().map_err(|e| WorkerError::BadRequest(format!("offset: {e}")))?;
            parsed.push((partition, offset));
        }
        Ok(self.inner.offsets.alter(name, parsed).await?)
    }

    /// Resets every source offset of a stopped connector: it starts over.
    pub async fn reset_offsets(&self, name: &str) -> Result<(), WorkerError> {
        self.require_stopped_source(name)?;
        Ok(self.inner.offsets.reset(name).await?)
    }

    fn require_stopped_source(&self, name: &str) -> Result<(), WorkerError> {
        let spec = self.spec(name)?;
        if spec.target != TargetState::Stopped {
            return Err(WorkerError::BadRequest(format!(
                "Connectors must be in the STOPPED state before their offsets can be modified. Stop {name} with PUT /connectors/{name}/stop first."
            )));
        }
        if self.kind_of(&spec.config) == PluginKind::Sink {
            return Err(WorkerError::BadRequest(format!(
                "{name} is a sink: its offsets are those of the consumer group {}; this worker cannot change them yet \
                 (the broker refuses backward commits from clients); reset them with RocketMQ's admin tools",
                sink_group(name)
            )));
        }
        Ok(())
    }

    /// Sends what sink `name` dead-lettered back to the topics (and queue numbers) it read
    /// the records from, each record once however often this is called or cut short (see
    /// [`ReplayReport`]): for after its config was fixed. `dry_run` reads and reports without
    /// sending. One replay of a connector at a time runs on a worker.
    pub async fn replay_dead_letters(&self, name: &str, dry_run: bool) -> Result<ReplayReport, WorkerError> {
        let spec = self.spec(name)?;
        if self.kind_of(&spec.config) != PluginKind::Sink {
            return Err(WorkerError::BadRequest(format!("{name} is a source: only sinks dead-letter records")));
        }
        let common = connect_sdk::config::CommonConfig::parse(&spec.config).map_err(WorkerError::InvalidConfig)?;
        let Some(topic) = common.errors.dead_letter_topic() else {
            return Err(WorkerError::BadRequest(format!("{name} has no dead-letter topic (errors.deadletterqueue.topic.name)")));
        };
        if crate::dlq::is_running(name) {
            return Err(WorkerError::Conflict(format!("a replay of {name}'s dead-letter topic is already running on this worker")));
        }
        let failed =
            |e: connect_sdk::Error| WorkerError::Operation { retriable: e.is_retriable(), message: format!("replaying {topic}: {e}") };
        let producer = self.inner.launcher.producer().map_err(failed)?;
        crate::dlq::replay(&self.inner.mq, &producer, &self.inner.offsets, name, topic, dry_run).await.map_err(failed)
    }

    /// Topics a connector uses: a source's `topic`, a sink's `topics` or the topics its
    /// `topics.regex` matches now.
    pub async fn connector_topics(&self, name: &str) -> Result<Vec<String>, WorkerError> {
        let config = self.connector_config(name).await?;
        let mut topics = BTreeSet::new();
        if let Some(topic) = config.get("topic").or_else(|| config.get("connect.topicname")).and_then(Json::as_str) {
            topics.insert(topic.to_owned());
        }
        if let Ok(revision) = self.inner.launcher.check.revision(&config) {
            match revision.validated.common().topic_selection() {
                Some(TopicSelection::List(list)) => topics.extend(list.iter().cloned()),
                Some(TopicSelection::Regex(regex)) => {
                    let all = self.inner.mq.topics().await?;
                    topics.extend(all.into_iter().filter(|t| regex.is_match(t)));
                }
                None => {}
            }
        }
        Ok(topics.into_iter().collect())
    }

    /// The connectors and tasks running on this worker.
    pub async fn allocated(&self) -> (Vec<String>, Vec<TaskId>) {
        let running = self.inner.herder.running().lock().await;
        let mut connectors = Vec::new();
        let mut tasks = Vec::new();
        for unit in running.units() {
            match unit {
                Unit::Connector(name) => connectors.push(name.clone()),
                Unit::Task(name, task) => tasks.push(TaskId { connector: name.clone(), task: *task }),
            }
        }
        (connectors, tasks)
    }

    /// Every plugin (`connectors_only` keeps sources and sinks).
    pub fn plugins(&self, connectors_only: bool) -> Vec<PluginInfo> {
        self.inner
            .launcher
            .registry()
            .plugins()
            .filter(|p| !connectors_only || p.kind.is_connector())
            .map(|p| PluginInfo { class: p.name.to_owned(), kind: kind_name(p.kind), version: p.version.to_owned() })
            .collect()
    }

    /// A plugin by name (its name, an alias or a Kafka class name).
    pub fn plugin(&self, name: &str) -> Result<&'static PluginDescriptor, WorkerError> {
        Ok(self.inner.launcher.registry().get(name)?)
    }

    /// The keys of connector plugin `name`, as Kafka's `GET /connector-plugins/{name}/config` lists them.
    pub fn connector_keys(&self, name: &str) -> Result<Vec<connect_sdk::host::assembly::ConfigKeyInfo>, WorkerError> {
        let plugin = ConnectorPlugin::lookup(self.inner.launcher.registry(), name)?;
        Ok(plugin_keys(&plugin).iter().enumerate().map(|(order, key)| definition(key, plugin.name, order)).collect())
    }

    /// Validates a connector config (placeholders resolved) without creating anything:
    /// Kafka's `PUT /connector-plugins/{name}/config/validate` answer.
    pub fn validate_config(&self, config: &ConfigMap) -> Result<ConfigInfos, WorkerError> {
        check_key_count(config)?;
        Ok(match self.inner.launcher.check.resolve(config) {
            Ok((resolved, secrets)) => {
                let mut infos = validate(self.inner.launcher.registry(), &resolved);
                // Values and messages show placeholders, never what they resolved to.
                for info in &mut infos.configs {
                    let value = &mut info.value;
                    value.value = value.value.as_deref().map(|v| secrets.redact(v));
                    value.errors = value.errors.iter().map(|e| secrets.redact_error(&value.name, e, config)).collect();
                }
                infos
            }
            // Refused before validation (a path outside the allowed ones, a placeholder this
            // worker does not resolve): described, and no connector code runs on it.
            Err(errors) => describe_with(self.inner.launcher.registry(), config, errors),
        })
    }
}

/// The ids of a connector's tasks (none while stopped).
fn task_ids(spec: &ConnectorSpec) -> impl Iterator<Item = u32> {
    let count = match spec.target {
        TargetState::Stopped => 0,
        _ => spec.tasks.as_ref().map_or(0, |t| t.configs.len()),
    };
    0..count as u32
}

/// The deepest nesting of arrays and objects a config value may have.
const MAX_DEPTH: usize = 16;

/// The first key of `config` whose value is nested deeper than [`MAX_DEPTH`].
fn too_deep(config: &Json) -> Option<String> {
    fn depth(value: &Json, limit: usize) -> bool {
        match value {
            _ if limit == 0 => false,
            Json::Array(items) => items.iter().all(|v| depth(v, limit - 1)),
            Json::Object(map) => map.values().all(|v| depth(v, limit - 1)),
            _ => true,
        }
    }
    config.as_object()?.iter().find(|(_, value)| !depth(value, MAX_DEPTH)).map(|(key, _)| key.clone())
}

/// The most keys a connector config may have (Kafka connectors use dozens).
const MAX_KEYS: usize = 1000;
/// The most bytes of one connector config, as JSON.
const MAX_CONFIG_BYTES: usize = 256 * 1024;
/// The most bytes of all connector configs together, as JSON.
const MAX_TOTAL_CONFIG_BYTES: usize = 32 * 1024 * 1024;

/// Refuses a config with more than [`MAX_KEYS`] keys.
fn check_key_count(config: &ConfigMap) -> Result<(), WorkerError> {
    match config.len() {
        n if n > MAX_KEYS => Err(WorkerError::BadRequest(format!("the config has {n} keys: at most {MAX_KEYS}"))),
        _ => Ok(()),
    }
}

/// Characters that show nothing or reorder what follows (bidirectional controls, zero-width
/// characters): a name holding one reads as another name.
fn is_invisible(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206F}' | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}')
}

/// The longest connector name.
const MAX_NAME_CHARS: usize = 249;
/// Names whose `/connectors/<name>` is another call.
const RESERVED_NAMES: [&str; 1] = ["list"];

/// Checks the name and puts it into the config.
fn checked_config(name: &str, config: Json) -> Result<ConfigMap, WorkerError> {
    let refused = |why: &str| Err(WorkerError::BadRequest(format!("connector name {name:?} is invalid: {why}")));
    if name.trim().is_empty() {
        return refused("it is empty");
    }
    if name.contains('/') || name.chars().any(is_invisible) {
        return refused("it contains '/', a control character or an invisible one");
    }
    if name.trim() != name {
        return refused("it starts or ends with a space");
    }
    if name == "." || name == ".." {
        return refused("it is a path segment of its own");
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return refused(&format!("it is longer than {MAX_NAME_CHARS} characters"));
    }
    if RESERVED_NAMES.contains(&name) {
        return refused("it is a path of the REST API (/connectors/list)");
    }
    if let Some(key) = too_deep(&config) {
        return Err(WorkerError::BadRequest(format!("the value of {key} is nested deeper than {MAX_DEPTH} levels")));
    }
    let Json::Object(mut config) = config else {
        return Err(WorkerError::BadRequest("a connector config must be a JSON object of keys to values".to_owned()));
    };
    check_key_count(&config)?;
    match config.get("name") {
        Some(Json::String(n)) if n != name => {
            return Err(WorkerError::BadRequest(format!(
                "Connector name configuration ({n}) doesn't match connector name in the URL ({name})"
            )));
        }
        _ => {
            config.insert("name".to_owned(), json!(name));
        }
    }
    Ok(config)
}
