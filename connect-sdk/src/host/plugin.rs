//! Plugin descriptors and the type erasure that lets the runtime hold any registered
//! connector, transform, predicate or converter.
//!
//! A derive expands to one `inventory::submit!` of a [`PluginDescriptor`]: static strings
//! and function pointers instantiated for the user's type. The runtime never names user
//! types; it calls [`SourceFactory::open_task`] and gets a `Box<dyn DynSourceTask>`.

use std::any::Any;
use std::sync::Arc;

use schemars::Schema;
use serde_json::Value as Json;

use crate::config::ConnectorConfig;
use crate::config::schema_info::external_key;
use crate::config::{ConfigErrors, ConfigMap, ConfigOrigin, parse_connector_config, parse_task_config};
use crate::connector::{CommittedOffsets, QueueOffsets, SinkConnector, SinkTask, SourceConnector, SourceTask, TaskPlan};
use crate::context::{BoxFuture, SinkContext, SourceContext};
use crate::converter::Converter;
use crate::error::{Error, Result};
use crate::record::{QueueId, SinkRecord, SourceRecord};
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
    /// The doc comment of the type it was derived on: what `plugins` shows.
    pub description: &'static str,
    /// The Rust path of the type that registered it (`my_crate::sources::Lines`), to tell
    /// duplicates apart.
    pub type_path: &'static str,
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
            .field("type_path", &self.type_path)
            .finish_non_exhaustive()
    }
}

impl PluginDescriptor {
    /// The JSON Schema of its config as users write it (dotted keys, their text forms, and
    /// for a connector the worker's keys too): what `plugins --json` and the dashboard show,
    /// for editors and CI validators (see [`file_schema`](crate::config::file_schema)).
    pub fn user_config_schema(&self) -> serde_json::Value {
        use crate::config::file_schema::{connector_file_schema, plugin_file_schema};
        let root = (self.config_schema)();
        let classes: Vec<String> = std::iter::once(self.name).chain(self.aliases.iter().copied()).map(str::to_owned).collect();
        let mut schema = match self.kind {
            PluginKind::Source => connector_file_schema(&root, &classes, false),
            PluginKind::Sink => connector_file_schema(&root, &classes, true),
            _ => plugin_file_schema(&root),
        };
        schema["title"] = serde_json::Value::from(format!("{} config", self.name));
        schema
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

/// A connector's config, parsed and validated, behind `Any`: what planning starts from.
pub type ErasedConnector = Arc<dyn Any + Send + Sync>;

/// Parses a full connector config into the connector's type and validates it (the
/// connector's own keys only: common keys are left to [`CommonConfig`](crate::config::CommonConfig)).
pub type ParseConnector = fn(&ConfigMap, ConfigOrigin) -> Result<ErasedConnector, ConfigErrors>;

/// Plans the tasks of a parsed connector ([`SourceConnector::plan_tasks`]) on the worker that
/// runs it: at most `max_tasks` task configs, and when to plan again.
pub type PlanTasks = fn(ErasedConnector, usize) -> BoxFuture<'static, Result<TaskPlan<ConfigMap>>>;

/// Opens an erased source task from a task config.
pub type OpenSourceTask = fn(ConfigMap, SourceContext) -> BoxFuture<'static, Result<Box<dyn DynSourceTask>>>;

/// Opens an erased sink task from a task config.
pub type OpenSinkTask = fn(ConfigMap, SinkContext) -> BoxFuture<'static, Result<Box<dyn DynSinkTask>>>;

/// Type-erased entry points of a source connector.
#[derive(Clone, Copy)]
pub struct SourceFactory {
    /// See [`ParseConnector`].
    pub parse: ParseConnector,
    /// See [`PlanTasks`].
    pub plan: PlanTasks,
    /// Opens a task from one of the planned task configs.
    pub open_task: OpenSourceTask,
    /// See [`SourceTask::REPEATABLE`]: whether the runtime can deliver exactly once.
    pub repeatable: bool,
}

/// Type-erased entry points of a sink connector.
#[derive(Clone, Copy)]
pub struct SinkFactory {
    /// See [`ParseConnector`].
    pub parse: ParseConnector,
    /// See [`PlanTasks`].
    pub plan: PlanTasks,
    /// Opens a task from one of the planned task configs.
    pub open_task: OpenSinkTask,
}

/// The entry points of a source or a sink connector.
#[derive(Clone, Copy)]
pub enum ConnectorFactory {
    /// A source.
    Source(SourceFactory),
    /// A sink.
    Sink(SinkFactory),
}

impl ConnectorFactory {
    /// The factory of a registered plugin, when it is a connector.
    pub fn of(plugin: &PluginDescriptor) -> Option<ConnectorFactory> {
        match plugin.factory {
            PluginFactory::Source(f) => Some(ConnectorFactory::Source(f)),
            PluginFactory::Sink(f) => Some(ConnectorFactory::Sink(f)),
            _ => None,
        }
    }

    /// Source or sink.
    pub fn kind(self) -> PluginKind {
        match self {
            ConnectorFactory::Source(_) => PluginKind::Source,
            ConnectorFactory::Sink(_) => PluginKind::Sink,
        }
    }

    /// See [`ParseConnector`].
    pub fn parse(self, config: &ConfigMap, origin: ConfigOrigin) -> Result<ErasedConnector, ConfigErrors> {
        match self {
            ConnectorFactory::Source(f) => (f.parse)(config, origin),
            ConnectorFactory::Sink(f) => (f.parse)(config, origin),
        }
    }

    /// See [`PlanTasks`].
    pub fn plan(self, connector: ErasedConnector, max_tasks: usize) -> BoxFuture<'static, Result<TaskPlan<ConfigMap>>> {
        match self {
            ConnectorFactory::Source(f) => (f.plan)(connector, max_tasks),
            ConnectorFactory::Sink(f) => (f.plan)(connector, max_tasks),
        }
    }
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
    /// See [`SinkTask::committable_offsets`].
    fn committable_offsets(&mut self, flushed: &QueueOffsets) -> QueueOffsets;
    /// See [`SinkTask::stored_offsets`].
    fn stored_offsets<'a>(&'a mut self, queues: &'a [QueueId]) -> BoxFuture<'a, Result<QueueOffsets>>;
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
    fn committable_offsets(&mut self, flushed: &QueueOffsets) -> QueueOffsets {
        SinkTask::committable_offsets(self, flushed)
    }
    fn stored_offsets<'a>(&'a mut self, queues: &'a [QueueId]) -> BoxFuture<'a, Result<QueueOffsets>> {
        Box::pin(SinkTask::stored_offsets(self, queues))
    }
    fn close(&mut self) -> BoxFuture<'_, Result<()>> {
        Box::pin(SinkTask::close(self))
    }
}

fn to_task_config<C: ConnectorConfig>(config: &C) -> Result<ConfigMap> {
    match config.to_config_json() {
        Ok(Json::Object(map)) => Ok(map.into_iter().map(|(k, v)| (external_key(&k), v)).collect()),
        Ok(other) => Err(Error::other(format!("a connector config must serialize to an object, not {other}"))),
        Err(e) => Err(Error::other(format!("cannot serialize the task config: {e}"))),
    }
}

fn read<C: ConnectorConfig>(config: &ConfigMap, origin: ConfigOrigin) -> Result<C, ConfigErrors> {
    match origin {
        ConfigOrigin::User => parse_connector_config(config),
        ConfigOrigin::Task => parse_task_config(config),
    }
}

fn downcast<C: ConnectorConfig>(connector: ErasedConnector) -> Result<Arc<C>> {
    connector.downcast::<C>().map_err(|_| Error::other("a connector was planned with the config of another connector"))
}

fn erase_plan<C: ConnectorConfig>(plan: TaskPlan<C>, max_tasks: usize) -> Result<TaskPlan<ConfigMap>> {
    let tasks = plan.tasks.iter().take(max_tasks.max(1)).map(to_task_config).collect::<Result<_>>()?;
    Ok(TaskPlan { tasks, replan_after: plan.replan_after })
}

/// The erased entry points of source connector `C`; used by the derive.
pub const fn source_factory<C: SourceConnector>() -> SourceFactory {
    fn parse<C: SourceConnector>(config: &ConfigMap, origin: ConfigOrigin) -> Result<ErasedConnector, ConfigErrors> {
        let connector: C = read(config, origin)?;
        connector.validate()?;
        Ok(Arc::new(connector))
    }
    fn plan<C: SourceConnector>(connector: ErasedConnector, max_tasks: usize) -> BoxFuture<'static, Result<TaskPlan<ConfigMap>>> {
        Box::pin(async move { erase_plan(downcast::<C>(connector)?.plan_tasks(max_tasks).await?, max_tasks) })
    }
    fn open_task<C: SourceConnector>(config: ConfigMap, ctx: SourceContext) -> BoxFuture<'static, Result<Box<dyn DynSourceTask>>> {
        Box::pin(async move {
            let config: C = parse_task_config(&config).map_err(Error::Config)?;
            let task = C::Task::open(config, ctx).await?;
            Ok(Box::new(task) as Box<dyn DynSourceTask>)
        })
    }
    SourceFactory { parse: parse::<C>, plan: plan::<C>, open_task: open_task::<C>, repeatable: <C::Task as SourceTask>::REPEATABLE }
}

/// The erased entry points of sink connector `C`; used by the derive.
pub const fn sink_factory<C: SinkConnector>() -> SinkFactory {
    fn parse<C: SinkConnector>(config: &ConfigMap, origin: ConfigOrigin) -> Result<ErasedConnector, ConfigErrors> {
        let connector: C = read(config, origin)?;
        connector.validate()?;
        Ok(Arc::new(connector))
    }
    fn plan<C: SinkConnector>(connector: ErasedConnector, max_tasks: usize) -> BoxFuture<'static, Result<TaskPlan<ConfigMap>>> {
        Box::pin(async move { erase_plan(downcast::<C>(connector)?.plan_tasks(max_tasks).await?, max_tasks) })
    }
    fn open_task<C: SinkConnector>(config: ConfigMap, ctx: SinkContext) -> BoxFuture<'static, Result<Box<dyn DynSinkTask>>> {
        Box::pin(async move {
            let config: C = parse_task_config(&config).map_err(Error::Config)?;
            let task = C::Task::open(config, ctx).await?;
            Ok(Box::new(task) as Box<dyn DynSinkTask>)
        })
    }
    SinkFactory { parse: parse::<C>, plan: plan::<C>, open_task: open_task::<C> }
}
