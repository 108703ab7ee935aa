//! Plugin descriptors and the type erasure that lets the runtime hold any registered
//! connector, transform, predicate or converter.
//!
//! A derive expands to one `inventory::submit!` of a [`PluginDescriptor`]: static strings
//! and function pointers instantiated for the user's type. The runtime never names user
//! types; it calls [`SourceFactory::open_task`] and gets a `Box<dyn DynSourceTask>`.

use schemars::Schema;
use serde_json::Value as Json;

use crate::config::schema_info::external_key;
use crate::config::{ConfigError, ConfigErrors, ConfigMap, parse_connector_config};
use crate::connector::{CommittedOffsets, QueueOffsets, SinkConnector, SinkTask, SourceConnector, SourceTask, TaskPlan};
use crate::context::{BoxFuture, SinkContext, SourceContext};
use crate::converter::Converter;
use crate::error::{Error, Result};
use crate::record::{SinkRecord, SourceRecord};
use crate::transform::{Predicate, Transform};

/// What a plugin is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PluginKind {
    /// A source connector.
    Source,
    /// A sink connector.
    Sink,
    /// A single message transform.
    Transform,
    /// A predicate for transforms.
    Predicate,
    /// A key/value converter.
    Converter,
}

impl PluginKind {
    /// Kafka Connect's name of the kind (`source`, `sink`, `transformation`, `predicate`, `converter`).
    pub fn as_str(self) -> &'static str {
        match self {
            PluginKind::Source => "source",
            PluginKind::Sink => "sink",
            PluginKind::Transform => "transformation",
            PluginKind::Predicate => "predicate",
            PluginKind::Converter => "converter",
        }
    }

    /// True for sources and sinks.
    pub fn is_connector(self) -> bool {
        matches!(self, PluginKind::Source | PluginKind::Sink)
    }
}

impl std::fmt::Display for PluginKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything the runtime knows about one plugin; built by the derives.
pub struct PluginDescriptor {
    /// Unique name (`file-source`, `InsertField$Value`, `json`).
    pub name: &'static str,
    /// Other names it answers to (for example Kafka class names).
    pub aliases: &'static [&'static str],
    /// What it is.
    pub kind: PluginKind,
    /// Its version (by default its crate's version).
    pub version: &'static str,
    /// Its doc comment.
    pub description: &'static str,
    /// Module that registered it, to tell duplicates apart.
    pub module: &'static str,
    /// JSON Schema of its configuration.
    pub config_schema: fn() -> Schema,
    /// How to instantiate it.
    pub factory: PluginFactory,
}

impl std::fmt::Debug for PluginDescriptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginDescriptor")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("version", &self.version)
            .field("module", &self.module)
            .finish_non_exhaustive()
    }
}

inventory::collect!(PluginDescriptor);

/// Parses a plugin config (its own keys, without prefix; errors are keyed with `prefix`).
pub type PluginParser<T> = fn(&ConfigMap, &str) -> Result<Box<T>, ConfigErrors>;

/// How a plugin is instantiated, by kind.
#[derive(Clone, Copy)]
pub enum PluginFactory {
    /// A source connector.
    Source(SourceFactory),
    /// A sink connector.
    Sink(SinkFactory),
    /// A transform.
    Transform(PluginParser<dyn Transform>),
    /// A predicate.
    Predicate(PluginParser<dyn Predicate>),
    /// A converter.
    Converter(PluginParser<dyn Converter>),
}

/// Opens an erased source task from a task config.
pub type OpenSourceTask = fn(ConfigMap, SourceContext) -> BoxFuture<'static, Result<Box<dyn DynSourceTask>>>;

/// Opens an erased sink task from a task config.
pub type OpenSinkTask = fn(ConfigMap, SinkContext) -> BoxFuture<'static, Result<Box<dyn DynSinkTask>>>;

/// Validates a full connector config and splits it, offline, into at most `max_tasks` task
/// configs (what validation and creation check).
pub type SplitTasks = fn(&ConfigMap, usize) -> Result<Vec<ConfigMap>, ConfigErrors>;

/// Plans the tasks of a full connector config on the worker that runs the connector
/// ([`SourceConnector::plan_tasks`]): at most `max_tasks` task configs, and when to plan again.
pub type PlanTasks = fn(ConfigMap, usize) -> BoxFuture<'static, Result<TaskPlan<ConfigMap>>>;

/// Type-erased entry points of a source connector.
#[derive(Clone, Copy)]
pub struct SourceFactory {
    /// See [`SplitTasks`].
    pub task_configs: SplitTasks,
    /// See [`PlanTasks`].
    pub plan: PlanTasks,
    /// Opens a task from one of those task configs.
    pub open_task: OpenSourceTask,
}

/// Type-erased entry points of a sink connector.
#[derive(Clone, Copy)]
pub struct SinkFactory {
    /// See [`SplitTasks`].
    pub task_configs: SplitTasks,
    /// See [`PlanTasks`].
    pub plan: PlanTasks,
    /// Opens a task from one of those task configs.
    pub open_task: OpenSinkTask,
}

/// A [`SourceTask`] behind a trait object.
pub trait DynSourceTask: Send {
    /// See [`SourceTask::poll`].
    fn poll(&mut self) -> BoxFuture<'_, Result<Vec<SourceRecord>>>;
    /// See [`SourceTask::commit`].
    fn commit<'a>(&'a mut self, committed: &'a CommittedOffsets) -> BoxFuture<'a, Result<()>>;
    /// See [`SourceTask::close`].
    fn close(&mut self) -> BoxFuture<'_, Result<()>>;
}

impl<T: SourceTask> DynSourceTask for T {
    fn poll(&mut self) -> BoxFuture<'_, Result<Vec<SourceRecord>>> {
        Box::pin(SourceTask::poll(self))
    }
    fn commit<'a>(&'a mut self, committed: &'a CommittedOffsets) -> BoxFuture<'a, Result<()>> {
        Box::pin(SourceTask::commit(self, committed))
    }
    fn close(&mut self) -> BoxFuture<'_, Result<()>> {
        Box::pin(SourceTask::close(self))
    }
}

/// A [`SinkTask`] behind a trait object.
pub trait DynSinkTask: Send {
    /// See [`SinkTask::put`].
    fn put(&mut self, records: Vec<SinkRecord>) -> BoxFuture<'_, Result<()>>;
    /// See [`SinkTask::flush`].
    fn flush<'a>(&'a mut self, offsets: &'a QueueOffsets) -> BoxFuture<'a, Result<()>>;
    /// See [`SinkTask::close`].
    fn close(&mut self) -> BoxFuture<'_, Result<()>>;
}

impl<T: SinkTask> DynSinkTask for T {
    fn put(&mut self, records: Vec<SinkRecord>) -> BoxFuture<'_, Result<()>> {
        Box::pin(SinkTask::put(self, records))
    }
    fn flush<'a>(&'a mut self, offsets: &'a QueueOffsets) -> BoxFuture<'a, Result<()>> {
        Box::pin(SinkTask::flush(self, offsets))
    }
    fn close(&mut self) -> BoxFuture<'_, Result<()>> {
        Box::pin(SinkTask::close(self))
    }
}

fn to_task_config<C: serde::Serialize>(config: &C) -> Result<ConfigMap, ConfigErrors> {
    match serde_json::to_value(config) {
        Ok(Json::Object(map)) => Ok(map.into_iter().map(|(k, v)| (external_key(&k), v)).collect()),
        Ok(other) => Err(ConfigError::new("", format!("a connector config must serialize to an object, not {other}")).into()),
        Err(e) => Err(ConfigError::new("", format!("cannot serialize the task config: {e}")).into()),
    }
}

fn split_into_task_configs<C: serde::Serialize>(configs: Vec<C>, max_tasks: usize) -> Result<Vec<ConfigMap>, ConfigErrors> {
    configs.iter().take(max_tasks.max(1)).map(to_task_config).collect()
}

fn erase_plan<C: serde::Serialize>(plan: TaskPlan<C>, max_tasks: usize) -> Result<TaskPlan<ConfigMap>> {
    let tasks = split_into_task_configs(plan.tasks, max_tasks).map_err(Error::Config)?;
    Ok(TaskPlan { tasks, replan_after: plan.replan_after })
}

/// The erased entry points of source connector `C`; used by the derive.
pub const fn source_factory<C: SourceConnector>() -> SourceFactory {
    fn task_configs<C: SourceConnector>(config: &ConfigMap, max_tasks: usize) -> Result<Vec<ConfigMap>, ConfigErrors> {
        let connector: C = parse_connector_config(config)?;
        connector.validate()?;
        split_into_task_configs(connector.task_configs(max_tasks), max_tasks)
    }
    fn plan<C: SourceConnector>(config: ConfigMap, max_tasks: usize) -> BoxFuture<'static, Result<TaskPlan<ConfigMap>>> {
        Box::pin(async move {
            let connector: C = parse_connector_config(&config).map_err(Error::Config)?;
            connector.validate().map_err(Error::Config)?;
            erase_plan(connector.plan_tasks(max_tasks).await?, max_tasks)
        })
    }
    fn open_task<C: SourceConnector>(config: ConfigMap, ctx: SourceContext) -> BoxFuture<'static, Result<Box<dyn DynSourceTask>>> {
        Box::pin(async move {
            let config: C = parse_connector_config(&config).map_err(Error::Config)?;
            let task = C::Task::open(config, ctx).await?;
            Ok(Box::new(task) as Box<dyn DynSourceTask>)
        })
    }
    SourceFactory { task_configs: task_configs::<C>, plan: plan::<C>, open_task: open_task::<C> }
}

/// The erased entry points of sink connector `C`; used by the derive.
pub const fn sink_factory<C: SinkConnector>() -> SinkFactory {
    fn task_configs<C: SinkConnector>(config: &ConfigMap, max_tasks: usize) -> Result<Vec<ConfigMap>, ConfigErrors> {
        let connector: C = parse_connector_config(config)?;
        connector.validate()?;
        split_into_task_configs(connector.task_configs(max_tasks), max_tasks)
    }
    fn plan<C: SinkConnector>(config: ConfigMap, max_tasks: usize) -> BoxFuture<'static, Result<TaskPlan<ConfigMap>>> {
        Box::pin(async move {
            let connector: C = parse_connector_config(&config).map_err(Error::Config)?;
            connector.validate().map_err(Error::Config)?;
            erase_plan(connector.plan_tasks(max_tasks).await?, max_tasks)
        })
    }
    fn open_task<C: SinkConnector>(config: ConfigMap, ctx: SinkContext) -> BoxFuture<'static, Result<Box<dyn DynSinkTask>>> {
        Box::pin(async move {
            let config: C = parse_connector_config(&config).map_err(Error::Config)?;
            let task = C::Task::open(config, ctx).await?;
            Ok(Box::new(task) as Box<dyn DynSinkTask>)
        })
    }
    SinkFactory { task_configs: task_configs::<C>, plan: plan::<C>, open_task: open_task::<C> }
}
