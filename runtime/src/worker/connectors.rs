//! Connector lifecycle on a worker: create, update, pause, resume, stop, restart, delete,
//! status, offsets; and starting and stopping their tasks.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use connect_sdk::config::{CommonConfig, ConfigMap, Tolerance, TopicSelection};
use connect_sdk::context::ErrantRecordReporter;
use connect_sdk::converter::RecordConverters;
use connect_sdk::offsets::{SourceOffset, SourcePartition};
use connect_sdk::plugin::{PluginDescriptor, PluginFactory, PluginKind};
use connect_sdk::record::QueueId;
use connect_sdk::registry::Registry;
use connect_sdk::transform::TransformChain;
use connect_sdk::{Error, QueueOffsets, SinkContext, SourceContext};
use serde::Serialize;
use serde_json::{Value as Json, json};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::views::{ConnectorInfo, ConnectorStatus, StateInfo, TaskId, TaskInfo, TaskStateInfo};
use super::{Worker, WorkerError};
use crate::dlq::DeadLetterQueue;
use crate::retry::RetryPolicy;
use crate::store::{ConnectorOffsets, StoredConnector, TargetState};
use crate::task::sink::SinkRunner;
use crate::task::source::{Routes, SourceRunner};
use crate::task::{State, StatusCell, TaskPipeline};

/// A connector as this worker runs it.
pub(super) struct ConnectorRuntime {
    /// Offsets the sink tasks last committed.
    sink_offsets: Arc<Mutex<QueueOffsets>>,
    config: ConfigMap,
    kind: PluginKind,
    target: TargetState,
    failure: Option<String>,
    task_configs: Vec<ConfigMap>,
    pub(super) tasks: Vec<TaskHandle>,
}

pub(super) struct TaskHandle {
    control: watch::Sender<TargetState>,
    status: StatusCell,
    join: Option<JoinHandle<()>>,
}

/// A change to one offset (`None` removes it).
pub type OffsetsChange = Vec<(Json, Option<Json>)>;

/// One plugin as `GET /connector-plugins` lists it.
#[derive(Clone, Debug, Serialize)]
pub struct PluginInfo {
    /// Its name.
    pub class: String,
    /// Its kind.
    #[serde(rename = "type")]
    pub kind: String,
    /// Its version.
    pub version: String,
}

const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

fn registry() -> &'static Registry {
    Registry::global()
}

fn kind_name(kind: PluginKind) -> String {
    kind.as_str().to_owned()
}

impl Worker {
    pub(super) async fn start_stored_connectors(&self) {
        for (name, stored) in self.inner.store.connectors() {
            let kind = registry().connector(class_of(&stored.config)).map(|p| p.kind).unwrap_or(PluginKind::Source);
            let mut runtime = ConnectorRuntime {
                sink_offsets: Arc::default(),
                config: stored.config,
                kind,
                target: stored.target,
                failure: None,
                task_configs: Vec::new(),
                tasks: Vec::new(),
            };
            if runtime.target != TargetState::Stopped {
                self.start_tasks(&name, &mut runtime).await;
            }
            self.inner.connectors.lock().await.insert(name, runtime);
        }
    }

    /// Names of every connector.
    pub async fn connector_names(&self) -> Vec<String> {
        self.inner.connectors.lock().await.keys().cloned().collect()
    }

    /// Creates and starts a connector; `config` is the flat config (its `name`, if any, must match).
    pub async fn create_connector(&self, name: &str, config: Json) -> Result<ConnectorInfo, WorkerError> {
        self.create_connector_with_state(name, config, TargetState::Started).await
    }

    /// Creates a connector in `initial` state (`RUNNING`, `PAUSED` or `STOPPED`).
    pub async fn create_connector_with_state(&self, name: &str, config: Json, initial: TargetState) -> Result<ConnectorInfo, WorkerError> {
        let config = checked_config(name, config)?;
        let mut connectors = self.inner.connectors.lock().await;
        if connectors.contains_key(name) {
            return Err(WorkerError::Conflict(format!("Connector {name} already exists")));
        }
        let kind = validate(&config)?;
        self.inner.store.put_connector(name, StoredConnector { config: config.clone(), target: initial })?;
        let mut runtime = ConnectorRuntime {
            sink_offsets: Arc::default(),
            config,
            kind,
            target: initial,
            failure: None,
            task_configs: Vec::new(),
            tasks: Vec::new(),
        };
        if initial != TargetState::Stopped {
            self.start_tasks(name, &mut runtime).await;
        }
        let info = info(name, &runtime);
        connectors.insert(name.to_owned(), runtime);
        Ok(info)
    }

    /// Creates or replaces a connector's config; returns its info and whether it was created.
    pub async fn put_connector_config(&self, name: &str, config: Json) -> Result<(ConnectorInfo, bool), WorkerError> {
        let config = checked_config(name, config)?;
        let kind = validate(&config)?;
        let exists = self.inner.connectors.lock().await.contains_key(name);
        if !exists {
            return self.create_connector(name, Json::Object(config)).await.map(|info| (info, true));
        }
        self.stop_tasks(name).await;
        let mut connectors = self.inner.connectors.lock().await;
        let runtime = connectors.get_mut(name).ok_or_else(|| WorkerError::NotFound(name.to_owned()))?;
        runtime.config = config.clone();
        runtime.kind = kind;
        self.inner.store.put_connector(name, StoredConnector { config, target: runtime.target })?;
        if runtime.target != TargetState::Stopped {
            self.start_tasks(name, runtime).await;
        }
        Ok((info(name, runtime), false))
    }

    /// Applies a partial config (`null` removes a key), Kafka's `PATCH .../config`.
    pub async fn patch_connector_config(&self, name: &str, patch: ConfigMap) -> Result<ConnectorInfo, WorkerError> {
        let mut config = self.connector_config(name).await?;
        for (key, value) in patch {
            if value.is_null() {
                config.remove(&key);
            } else {
                config.insert(key, value);
            }
        }
        self.put_connector_config(name, Json::Object(config)).await.map(|(info, _)| info)
    }

    /// The raw config.
    pub async fn connector_config(&self, name: &str) -> Result<ConfigMap, WorkerError> {
        self.with_connector(name, |r| r.config.clone()).await
    }

    /// `ConnectorInfo`.
    pub async fn connector_info(&self, name: &str) -> Result<ConnectorInfo, WorkerError> {
        self.with_connector(name, |r| info(name, r)).await
    }

    /// The task configs (placeholders shown, never their secrets).
    pub async fn task_infos(&self, name: &str) -> Result<Vec<TaskInfo>, WorkerError> {
        self.with_connector(name, |r| {
            r.task_configs
                .iter()
                .enumerate()
                .map(|(i, config)| TaskInfo {
                    id: TaskId { connector: name.to_owned(), task: i as u32 },
                    config: mask_secrets(config, &r.config),
                })
                .collect()
        })
        .await
    }

    /// `ConnectorStateInfo`.
    pub async fn connector_status(&self, name: &str) -> Result<ConnectorStatus, WorkerError> {
        let worker_id = self.inner.id.clone();
        self.with_connector(name, |r| {
            let tasks: Vec<TaskStateInfo> = r
                .tasks
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    let status = t.status.get();
                    TaskStateInfo { id: i as u32, state: status.state, worker_id: worker_id.clone(), trace: status.trace }
                })
                .collect();
            let state = match (&r.failure, r.target) {
                (Some(_), _) => State::Failed,
                (None, TargetState::Started) => State::Running,
                (None, TargetState::Paused) => State::Paused,
                (None, TargetState::Stopped) => State::Stopped,
            };
            ConnectorStatus {
                name: name.to_owned(),
                connector: StateInfo { state, worker_id: worker_id.clone(), trace: r.failure.clone() },
                tasks,
                kind: kind_name(r.kind),
            }
        })
        .await
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
        let previous = self.with_connector(name, |r| r.target).await?;
        if previous == target {
            return Ok(());
        }
        if target == TargetState::Stopped || previous == TargetState::Stopped {
            self.stop_tasks(name).await;
        }
        let mut connectors = self.inner.connectors.lock().await;
        let runtime = connectors.get_mut(name).ok_or_else(|| WorkerError::NotFound(name.to_owned()))?;
        runtime.target = target;
        self.inner.store.put_connector(name, StoredConnector { config: runtime.config.clone(), target })?;
        match target {
            TargetState::Stopped => {}
            _ if runtime.tasks.is_empty() => self.start_tasks(name, runtime).await,
            _ => runtime.tasks.iter().for_each(|t| {
                let _ = t.control.send(target);
            }),
        }
        Ok(())
    }

    /// Stops and removes a connector and its offsets.
    pub async fn delete_connector(&self, name: &str) -> Result<(), WorkerError> {
        self.with_connector(name, |_| ()).await?;
        self.stop_tasks(name).await;
        self.inner.connectors.lock().await.remove(name);
        self.inner.store.remove_connector(name)?;
        self.inner.metrics.remove_connector(name);
        Ok(())
    }

    /// Restarts the connector, and with `include_tasks` its tasks (only the failed ones with
    /// `only_failed`). Returns whether any task was restarted.
    pub async fn restart_connector(&self, name: &str, include_tasks: bool, only_failed: bool) -> Result<bool, WorkerError> {
        let (failed, target, any_failed_task) = self
            .with_connector(name, |r| (r.failure.is_some(), r.target, r.tasks.iter().any(|t| t.status.get().state == State::Failed)))
            .await?;
        let restart_all = include_tasks && (!only_failed || any_failed_task) || failed;
        if restart_all && target != TargetState::Stopped {
            if only_failed && !failed {
                let ids: Vec<u32> = self
                    .with_connector(name, |r| {
                        r.tasks.iter().enumerate().filter(|(_, t)| t.status.get().state == State::Failed).map(|(i, _)| i as u32).collect()
                    })
                    .await?;
                for id in ids {
                    self.restart_task(name, id).await?;
                }
            } else {
                self.stop_tasks(name).await;
                let mut connectors = self.inner.connectors.lock().await;
                let runtime = connectors.get_mut(name).ok_or_else(|| WorkerError::NotFound(name.to_owned()))?;
                self.start_tasks(name, runtime).await;
            }
        }
        Ok(restart_all)
    }

    /// Restarts one task.
    pub async fn restart_task(&self, name: &str, task: u32) -> Result<(), WorkerError> {
        let handle = {
            let mut connectors = self.inner.connectors.lock().await;
            let runtime = connectors.get_mut(name).ok_or_else(|| WorkerError::NotFound(name.to_owned()))?;
            let handle = runtime.tasks.get_mut(task as usize).ok_or_else(|| WorkerError::TaskNotFound(name.to_owned(), task))?;
            let _ = handle.control.send(TargetState::Stopped);
            handle.status.set(State::Restarting);
            handle.join.take()
        };
        if let Some(join) = handle {
            let _ = tokio::time::timeout(SHUTDOWN_GRACE, join).await;
        }
        let mut connectors = self.inner.connectors.lock().await;
        let runtime = connectors.get_mut(name).ok_or_else(|| WorkerError::NotFound(name.to_owned()))?;
        let config = runtime.task_configs.get(task as usize).cloned().ok_or_else(|| WorkerError::TaskNotFound(name.to_owned(), task))?;
        let common = CommonConfig::parse(&resolved(&runtime.config)?).map_err(WorkerError::InvalidConfig)?;
        let handle = self.spawn_task(name, runtime, &common, task, config).await;
        runtime.tasks[task as usize] = handle;
        Ok(())
    }

    /// Committed offsets in Kafka's shape: a source's `{partition, offset}` maps, or a sink's
    /// queues (`rocketmq_topic`, `rocketmq_broker`, `rocketmq_queue`) and `rocketmq_offset`.
    pub async fn offsets(&self, name: &str) -> Result<Vec<Json>, WorkerError> {
        let (kind, sink_offsets) = self.with_connector(name, |r| (r.kind, r.sink_offsets.clone())).await?;
        Ok(match kind {
            PluginKind::Sink => sink_offsets
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .iter()
                .map(|(queue, offset)| json!({"partition": sink_partition(queue), "offset": {"rocketmq_offset": offset}}))
                .collect(),
            _ => self.inner.store.offsets(name).into_iter().map(|e| json!({"partition": e.partition, "offset": e.offset})).collect(),
        })
    }

    /// Alters source offsets of a stopped connector (`None` forgets one: the source starts over there).
    pub async fn alter_offsets(&self, name: &str, change: OffsetsChange) -> Result<(), WorkerError> {
        self.require_stopped_source(name).await?;
        let mut parsed = Vec::new();
        for (partition, offset) in change {
            let partition: SourcePartition =
                serde_json::from_value(partition).map_err(|e| WorkerError::BadRequest(format!("partition: {e}")))?;
            let offset: Option<SourceOffset> =
                offset.map(serde_json::from_value).transpose().map_err(|e| WorkerError::BadRequest(format!("offset: {e}")))?;
            parsed.push((partition, offset));
        }
        Ok(self.inner.store.alter_offsets(name, parsed)?)
    }

    /// Resets every source offset of a stopped connector: it starts over.
    pub async fn reset_offsets(&self, name: &str) -> Result<(), WorkerError> {
        self.require_stopped_source(name).await?;
        Ok(self.inner.store.reset_offsets(name)?)
    }

    async fn require_stopped_source(&self, name: &str) -> Result<(), WorkerError> {
        if self.require_stopped(name).await? == PluginKind::Sink {
            return Err(WorkerError::BadRequest(format!(
                "{name} is a sink: its offsets are those of the consumer group connect-{name}; this worker cannot change them yet \
                 (the broker refuses backward commits from clients); reset them with RocketMQ's admin tools"
            )));
        }
        Ok(())
    }

    async fn require_stopped(&self, name: &str) -> Result<PluginKind, WorkerError> {
        let (target, kind) = self.with_connector(name, |r| (r.target, r.kind)).await?;
        if target != TargetState::Stopped {
            return Err(WorkerError::BadRequest(format!(
                "Connectors must be in the STOPPED state before their offsets can be modified. Stop {name} with PUT /connectors/{name}/stop first."
            )));
        }
        Ok(kind)
    }

    /// Topics a connector uses: a source's `topic`, a sink's `topics` or the topics its
    /// `topics.regex` matches now.
    pub async fn connector_topics(&self, name: &str) -> Result<Vec<String>, WorkerError> {
        let config = self.connector_config(name).await?;
        let mut topics = BTreeSet::new();
        if let Ok(common) = CommonConfig::parse(&config) {
            topics.extend(common.topic);
            match common.topics {
                Some(TopicSelection::List(list)) => topics.extend(list),
                Some(TopicSelection::Regex(regex)) => {
                    let all = self.inner.mq.topics().await.map_err(|e| WorkerError::Internal(e.to_string()))?;
                    topics.extend(all.into_iter().filter(|t| regex.is_match(t)));
                }
                None => {}
            }
        }
        Ok(topics.into_iter().collect())
    }

    /// Every plugin (`connectors_only` keeps sources and sinks).
    pub fn plugins(&self, connectors_only: bool) -> Vec<PluginInfo> {
        registry()
            .plugins()
            .filter(|p| !connectors_only || p.kind.is_connector())
            .map(|p| PluginInfo { class: p.name.to_owned(), kind: kind_name(p.kind), version: p.version.to_owned() })
            .collect()
    }

    /// A plugin by name.
    pub fn plugin(&self, name: &str) -> Result<&'static PluginDescriptor, WorkerError> {
        registry().get(name).map_err(|e| WorkerError::NotFound(e.to_string()))
    }

    async fn with_connector<T>(&self, name: &str, read: impl FnOnce(&ConnectorRuntime) -> T) -> Result<T, WorkerError> {
        self.inner.connectors.lock().await.get(name).map(read).ok_or_else(|| WorkerError::NotFound(name.to_owned()))
    }

    /// Stops a connector's tasks and waits (bounded) until each has flushed and committed.
    pub(super) async fn stop_tasks(&self, name: &str) {
        let handles: Vec<TaskHandle> = {
            let mut connectors = self.inner.connectors.lock().await;
            match connectors.get_mut(name) {
                Some(runtime) => std::mem::take(&mut runtime.tasks),
                None => return,
            }
        };
        for handle in &handles {
            let _ = handle.control.send(TargetState::Stopped);
        }
        for mut handle in handles {
            if let Some(join) = handle.join.take()
                && tokio::time::timeout(SHUTDOWN_GRACE, join).await.is_err()
            {
                tracing::error!(connector = name, "a task did not stop within {SHUTDOWN_GRACE:?}");
            }
        }
    }

    async fn start_tasks(&self, name: &str, runtime: &mut ConnectorRuntime) {
        runtime.failure = None;
        let configs = resolved(&runtime.config).map_err(|e| e.to_string()).and_then(|config| {
            let common = CommonConfig::parse(&config).map_err(|e| e.to_string())?;
            let class = common.connector_class.clone();
            let split = match registry().connector(&class).map_err(|e| e.to_string())?.factory {
                PluginFactory::Source(f) => (f.task_configs)(&config, common.tasks_max),
                PluginFactory::Sink(f) => (f.task_configs)(&config, common.tasks_max),
                _ => return Err(format!("{class} is not a connector")),
            };
            split.map(|configs| (common, configs)).map_err(|e| e.to_string())
        });
        match configs {
            Ok((common, configs)) => {
                runtime.task_configs = configs.clone();
                for (id, config) in configs.into_iter().enumerate() {
                    let handle = self.spawn_task(name, runtime, &common, id as u32, config).await;
                    runtime.tasks.push(handle);
                }
            }
            Err(failure) => {
                tracing::error!(connector = name, %failure, "connector failed to start");
                runtime.failure = Some(failure);
            }
        }
    }

    async fn spawn_task(&self, name: &str, runtime: &ConnectorRuntime, common: &CommonConfig, id: u32, config: ConfigMap) -> TaskHandle {
        let target = runtime.target;
        let (control, receiver) = watch::channel(target);
        let status = StatusCell::new(State::Unassigned);
        let task_count = runtime.task_configs.len() as u32;
        let join = match self.open_runner(name, runtime.kind, common, (id, task_count), config, runtime.sink_offsets.clone()).await {
            Ok(runner) => {
                let status = status.clone();
                let connector = name.to_owned();
                Some(tokio::spawn(async move {
                    status.set(if target == TargetState::Paused { State::Paused } else { State::Running });
                    let result = match runner {
                        Runner::Source(r) => r.run(receiver, status.clone()).await,
                        Runner::Sink(r) => r.run(receiver, status.clone()).await,
                    };
                    match result {
                        Ok(()) => status.set(State::Stopped),
                        Err(error) => {
                            tracing::error!(connector, task = id, error = %error.trace(), "task failed");
                            status.fail(&error);
                        }
                    }
                }))
            }
            Err(error) => {
                tracing::error!(connector = name, task = id, error = %error.trace(), "task failed to open");
                status.fail(&error);
                None
            }
        };
        TaskHandle { control, status, join }
    }

    async fn open_runner(
        &self,
        name: &str,
        kind: PluginKind,
        common: &CommonConfig,
        (id, task_count): (u32, u32),
        config: ConfigMap,
        sink_offsets: Arc<Mutex<QueueOffsets>>,
    ) -> Result<Runner, Error> {
        let inner = &self.inner;
        let pipeline = TaskPipeline {
            connector: name.to_owned(),
            task: id,
            common: common.clone(),
            chain: TransformChain::build(registry(), common)?,
            converters: RecordConverters::build(registry(), common, &inner.converters)?,
            retry: RetryPolicy::from_config(&common.errors),
            metrics: inner.metrics.task(name, id),
            settings: inner.settings,
        };
        let plugin = registry().connector(&common.connector_class).map_err(Error::other)?;
        let producer = inner.producer.lock().await.clone().ok_or_else(|| Error::other("the worker is shutting down"))?;
        match (&plugin.factory, kind) {
            (PluginFactory::Source(factory), _) => {
                let offsets = Arc::new(ConnectorOffsets { store: inner.store.clone(), connector: name.to_owned() });
                let task = (factory.open_task)(config, SourceContext::new(name, id, offsets)).await?;
                Ok(Runner::Source(Box::new(SourceRunner {
                    pipeline,
                    task,
                    producer,
                    store: inner.store.clone(),
                    routes: Routes::new(inner.mq.clone()),
                })))
            }
            (PluginFactory::Sink(factory), _) => {
                let dlq = common.errors.dead_letter_topic.as_ref().map(|topic| {
                    Arc::new(DeadLetterQueue { topic: topic.clone(), connector: name.to_owned(), task: id, producer: producer.clone() })
                });
                let reporter = match (&dlq, common.errors.tolerance) {
                    (Some(dlq), _) => Some(dlq.clone() as Arc<dyn ErrantRecordReporter>),
                    (None, Tolerance::All) => Some(Arc::new(LoggingReporter) as Arc<dyn ErrantRecordReporter>),
                    (None, Tolerance::None) => None,
                };
                let context = SinkContext::new(name, id, reporter);
                let topics = common.topics.clone().ok_or_else(|| Error::other("a sink needs \"topics\" or \"topics.regex\""))?;
                let task = (factory.open_task)(config, context.clone()).await?;
                let group = format!("connect-{name}");
                let consumer = inner
                    .mq
                    .consumer(&group, &format!("{name}-{id}"), &[], inner.settings.max_batch_records as i32)
                    .await
                    .map_err(Error::retriable)?;
                let committed = sink_offsets.clone();
                Ok(Runner::Sink(Box::new(SinkRunner {
                    pipeline,
                    task,
                    context,
                    consumer,
                    dlq,
                    topics,
                    mq: inner.mq.clone(),
                    task_count,
                    committed,
                    lags: Default::default(),
                })))
            }
            _ => Err(Error::other(format!("{} is not a connector", common.connector_class))),
        }
    }
}

enum Runner {
    Source(Box<SourceRunner>),
    Sink(Box<SinkRunner>),
}

/// Reports errant records to the log when tolerance is `all` and no dead-letter topic is set.
struct LoggingReporter;

impl ErrantRecordReporter for LoggingReporter {
    fn report<'a>(
        &'a self,
        record: &'a connect_sdk::record::SinkRecord,
        error: &'a Error,
    ) -> connect_sdk::context::BoxFuture<'a, Result<(), Error>> {
        tracing::warn!(topic = %record.topic, offset = record.position(), %error, "errant record skipped");
        Box::pin(async { Ok(()) })
    }
}

/// A sink queue as an offsets partition.
fn sink_partition(queue: &QueueId) -> Json {
    json!({"rocketmq_topic": queue.topic, "rocketmq_broker": queue.broker_name, "rocketmq_queue": queue.queue_id})
}

fn class_of(config: &ConfigMap) -> &str {
    config.get("connector.class").and_then(Json::as_str).unwrap_or_default()
}

/// Checks the name and puts it into the config.
fn checked_config(name: &str, config: Json) -> Result<ConfigMap, WorkerError> {
    if name.trim().is_empty() || name.contains('/') {
        return Err(WorkerError::BadRequest(format!("connector name \"{name}\" is invalid: it must be non-empty and contain no '/'")));
    }
    let Json::Object(mut config) = config else {
        return Err(WorkerError::BadRequest("a connector config must be a JSON object of keys to values".to_owned()));
    };
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

/// Validates a config (with its secrets resolved) and returns the connector's kind.
fn validate(config: &ConfigMap) -> Result<PluginKind, WorkerError> {
    let resolved = resolved(config)?;
    registry().check_connector_config(&resolved).map_err(WorkerError::InvalidConfig)?;
    registry().connector(class_of(config)).map(|p| p.kind).map_err(|e| WorkerError::BadRequest(e.to_string()))
}

fn resolved(config: &ConfigMap) -> Result<ConfigMap, WorkerError> {
    crate::secrets::resolve(config).map_err(WorkerError::InvalidConfig)
}

/// Task configs are built from resolved configs; show the placeholder wherever the raw config had one.
fn mask_secrets(task_config: &ConfigMap, raw: &ConfigMap) -> ConfigMap {
    use connect_sdk::config::schema_info::normalize_key as normal;
    task_config
        .iter()
        .map(|(k, v)| {
            let placeholder = raw.iter().find(|(rk, rv)| normal(rk) == normal(k) && rv.as_str().is_some_and(|s| s.contains("${")));
            (k.clone(), placeholder.map_or_else(|| v.clone(), |(_, rv)| rv.clone()))
        })
        .collect()
}

fn info(name: &str, runtime: &ConnectorRuntime) -> ConnectorInfo {
    ConnectorInfo {
        name: name.to_owned(),
        config: runtime.config.clone(),
        tasks: (0..runtime.task_configs.len()).map(|task| TaskId { connector: name.to_owned(), task: task as u32 }).collect(),
        kind: kind_name(runtime.kind),
    }
}
