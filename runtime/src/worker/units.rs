//! The units this worker runs: connectors (it computes their task configs and reports their
//! state) and tasks (a runner each), and how each is started and stopped.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use connect_sdk::config::{CommonConfig, ConfigMap, Tolerance};
use connect_sdk::context::ErrantRecordReporter;
use connect_sdk::converter::RecordConverters;
use connect_sdk::plugin::{PluginFactory, PluginKind};
use connect_sdk::registry::Registry;
use connect_sdk::transform::TransformChain;
use connect_sdk::{Error, SinkContext, SourceContext, TaskPlan};
use serde_json::Value as Json;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::Worker;
use crate::cluster::assign::Unit;
use crate::dlq::DeadLetterQueue;
use crate::retry::RetryPolicy;
use crate::state::configs::{ConnectorSpec, TargetState, TaskConfigs};
use crate::state::statuses::UnitStatus;
use crate::task::sink::SinkRunner;
use crate::task::source::{Routes, SourceRunner};
use crate::task::{State, StatusCell, TaskPipeline, TaskStatus};

/// How long a task may take to flush, commit and close when asked to stop.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// What runs on this worker.
#[derive(Default)]
pub(super) struct Running {
    pub(super) units: BTreeMap<Unit, RunningUnit>,
    /// Per connector, the position of the last restart request acted on.
    pub(super) restarts_seen: BTreeMap<String, u64>,
    /// Owners of units missing from the member list, and since when.
    pub(super) absent_since: BTreeMap<String, std::time::Instant>,
}

impl Running {
    /// (connectors, tasks) running here.
    pub(super) fn counts(&self) -> (usize, usize) {
        let connectors = self.units.keys().filter(|u| matches!(u, Unit::Connector(_))).count();
        (connectors, self.units.len() - connectors)
    }
}

/// One unit running here.
pub(super) enum RunningUnit {
    Connector(RunningConnector),
    Task(RunningTask),
}

impl RunningUnit {
    pub(super) fn generation(&self) -> u64 {
        match self {
            RunningUnit::Connector(c) => c.generation,
            RunningUnit::Task(t) => t.generation,
        }
    }

    pub(super) fn failed(&self) -> bool {
        match self {
            RunningUnit::Connector(c) => c.failed(),
            RunningUnit::Task(t) => t.status.get().state == State::Failed,
        }
    }
}

/// A connector this worker owns.
pub(super) struct RunningConnector {
    /// The revision and target state its task configs and state were computed for.
    pub(super) revision: u64,
    pub(super) target: TargetState,
    pub(super) generation: u64,
    /// The state and trace last reported.
    reported: (State, Option<String>),
    /// When its plan wants to be made again.
    pub(super) replan_at: Option<Instant>,
    replan_after: Option<Duration>,
}

impl RunningConnector {
    pub(super) fn failed(&self) -> bool {
        self.reported.0 == State::Failed
    }

    /// Whether it must be planned again: its config or target changed, or its plan is due.
    pub(super) fn outdated(&self, spec: &ConnectorSpec, now: Instant) -> bool {
        self.revision != spec.revision || self.target != spec.target || self.replan_at.is_some_and(|at| at <= now)
    }
}

/// A task this worker runs.
pub(super) struct RunningTask {
    /// The task configs record it was started from.
    pub(super) tasks_revision: u64,
    pub(super) generation: u64,
    control: watch::Sender<TargetState>,
    pub(super) status: StatusCell,
    join: Option<JoinHandle<()>>,
}

impl RunningTask {
    /// Pauses or resumes it.
    pub(super) fn set_target(&self, target: TargetState) {
        self.control.send_if_modified(|current| std::mem::replace(current, target) != target);
    }

    /// Asks it to stop and waits (bounded) until it has flushed, committed and closed.
    pub(super) async fn stop(mut self, unit: &Unit) {
        let _ = self.control.send(TargetState::Stopped);
        if let Some(join) = self.join.take()
            && tokio::time::timeout(SHUTDOWN_GRACE, join).await.is_err()
        {
            tracing::error!(%unit, "the task did not stop within {SHUTDOWN_GRACE:?}");
        }
    }
}

fn registry() -> &'static Registry {
    Registry::global()
}

/// Resolves `${...}` placeholders.
pub(super) fn resolved(config: &ConfigMap) -> Result<ConfigMap, connect_sdk::config::ConfigErrors> {
    crate::secrets::resolve(config)
}

/// The tasks a connector plans, with the raw config's placeholders put back (secrets are
/// resolved only to open a task, never stored).
async fn plan_tasks(spec: &ConnectorSpec) -> Result<TaskPlan<ConfigMap>, String> {
    let config = resolved(&spec.config).map_err(|e| e.to_string())?;
    let common = CommonConfig::parse(&config).map_err(|e| e.to_string())?;
    let class = &common.connector_class;
    let plan = match registry().connector(class).map_err(|e| e.to_string())?.factory {
        PluginFactory::Source(f) => (f.plan)(config.clone(), common.tasks_max),
        PluginFactory::Sink(f) => (f.plan)(config.clone(), common.tasks_max),
        _ => return Err(format!("{class} is not a connector")),
    };
    let plan = plan.await.map_err(|e| e.trace())?;
    let secrets: Vec<(&Json, &Json)> =
        spec.config.iter().filter_map(|(key, raw)| Some((config.get(key)?, raw))).filter(|(value, raw)| value != raw).collect();
    let tasks = plan
        .tasks
        .into_iter()
        .map(|task| mask_secrets(Json::Object(task), &secrets))
        .filter_map(|t| match t {
            Json::Object(map) => Some(map),
            _ => None,
        })
        .collect();
    Ok(TaskPlan { tasks, replan_after: plan.replan_after })
}

/// Puts the placeholder back wherever a resolved secret appears (`secrets` pairs a resolved
/// value with its placeholder), however deep: a split may copy a secret into a list.
fn mask_secrets(value: Json, secrets: &[(&Json, &Json)]) -> Json {
    if let Some((_, placeholder)) = secrets.iter().find(|(secret, _)| **secret == value) {
        return (*placeholder).clone();
    }
    match value {
        Json::Array(items) => Json::Array(items.into_iter().map(|v| mask_secrets(v, secrets)).collect()),
        Json::Object(map) => Json::Object(map.into_iter().map(|(k, v)| (k, mask_secrets(v, secrets))).collect()),
        other => other,
    }
}

impl Worker {
    fn unit_status(&self, state: State, trace: Option<String>, generation: u64) -> UnitStatus {
        UnitStatus::of(state, &self.inner.id, trace, generation)
    }

    /// Takes on a connector, or looks at it again (`previous`): plans its tasks, writes their
    /// configs when they changed, and reports its state when that changed.
    pub(super) async fn run_connector(
        &self,
        spec: &ConnectorSpec,
        generation: u64,
        previous: Option<&RunningConnector>,
    ) -> RunningConnector {
        let replanning = previous.filter(|p| p.revision == spec.revision && p.target == spec.target && !p.failed());
        let (failure, replan_after) = if spec.target == TargetState::Stopped {
            (None, None)
        } else {
            match plan_tasks(spec).await {
                Ok(plan) => {
                    let wanted = TaskConfigs { revision: spec.revision, configs: plan.tasks };
                    let written = match spec.tasks.as_ref() == Some(&wanted) {
                        true => None,
                        false => self.inner.configs.put_tasks(&spec.name, &wanted).await.err().map(|e| e.to_string()),
                    };
                    (written, plan.replan_after)
                }
                // A connector whose tasks run keeps them when planning again fails: the
                // external system may be away for a moment.
                Err(failure) if replanning.is_some() => {
                    tracing::warn!(connector = %spec.name, %failure, "planning the tasks again failed; they keep their configs");
                    (None, replanning.and_then(|p| p.replan_after))
                }
                Err(failure) => (Some(failure), None),
            }
        };
        let state = match (&failure, spec.target) {
            (Some(failure), _) => {
                tracing::error!(connector = %spec.name, %failure, "connector failed");
                State::Failed
            }
            (None, TargetState::Started) => State::Running,
            (None, TargetState::Paused) => State::Paused,
            (None, TargetState::Stopped) => State::Stopped,
        };
        let reported = (state, failure);
        if previous.is_none_or(|p| p.reported != reported || p.generation != generation) {
            let status = self.unit_status(state, reported.1.clone(), generation);
            self.inner.status_writer.report(vec![(Unit::Connector(spec.name.clone()), Some(status))]);
        }
        RunningConnector {
            revision: spec.revision,
            target: spec.target,
            generation,
            reported,
            replan_at: replan_after.map(|after| Instant::now() + after),
            replan_after,
        }
    }

    /// Opens task `id` of `spec` (its task configs must exist) and starts its runner.
    pub(super) async fn start_task(&self, spec: &ConnectorSpec, id: u32, generation: u64) -> RunningTask {
        let unit = Unit::task(&spec.name, id);
        let writer = self.inner.status_writer.clone();
        let (me, reported) = (self.inner.id.clone(), unit.clone());
        let status = StatusCell::reporting(State::Unassigned, move |s: &TaskStatus| {
            let status = UnitStatus::of(s.state, &me, s.trace.clone(), generation);
            writer.report(vec![(reported.clone(), Some(status))]);
        });
        let tasks = spec.tasks.clone().unwrap_or(TaskConfigs { revision: 0, configs: Vec::new() });
        let (control, receiver) = watch::channel(spec.target);
        let join = match self.open_runner(spec, &tasks, id).await {
            Ok(runner) => {
                status.set(if spec.target == TargetState::Paused { State::Paused } else { State::Running });
                let status = status.clone();
                Some(tokio::spawn(async move {
                    let result = match runner {
                        Runner::Source(r) => r.run(receiver, status.clone()).await,
                        Runner::Sink(r) => r.run(receiver, status.clone()).await,
                    };
                    match result {
                        Ok(()) => status.set(State::Stopped),
                        Err(error) => {
                            tracing::error!(%unit, error = %error.trace(), "task failed");
                            status.fail(&error);
                        }
                    }
                }))
            }
            Err(error) => {
                tracing::error!(%unit, error = %error.trace(), "task failed to open");
                status.fail(&error);
                None
            }
        };
        RunningTask { tasks_revision: tasks.revision, generation, control, status, join }
    }

    async fn open_runner(&self, spec: &ConnectorSpec, tasks: &TaskConfigs, id: u32) -> Result<Runner, Error> {
        let inner = &self.inner;
        let name = spec.name.as_str();
        let raw = tasks.configs.get(id as usize).ok_or_else(|| Error::other(format!("{name} has no task {id}")))?;
        let config = resolved(raw).map_err(Error::other)?;
        let common = CommonConfig::parse(&resolved(&spec.config).map_err(Error::other)?).map_err(Error::other)?;
        let pipeline = TaskPipeline {
            connector: name.to_owned(),
            task: id,
            common: common.clone(),
            chain: TransformChain::build(registry(), &common)?,
            converters: RecordConverters::build(registry(), &common, &inner.converters)?,
            retry: RetryPolicy::from_config(&common.errors),
            metrics: inner.metrics.task(name, id),
            settings: inner.settings,
        };
        let plugin = registry().connector(&common.connector_class).map_err(Error::other)?;
        let producer = inner.producer.lock().await.clone().ok_or_else(|| Error::other("the worker is shutting down"))?;
        match &plugin.factory {
            PluginFactory::Source(factory) => {
                let context = SourceContext::new(name, id, inner.offsets.reader(name));
                let task = (factory.open_task)(config, context.clone()).await?;
                Ok(Runner::Source(Box::new(SourceRunner {
                    pipeline,
                    task,
                    producer,
                    offsets: inner.offsets.clone(),
                    routes: Routes::new(inner.mq.clone()),
                    context,
                })))
            }
            PluginFactory::Sink(factory) => {
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
                let consumer = inner
                    .mq
                    .consumer(&sink_group(name), &format!("{name}-{id}"), &[], inner.settings.max_batch_records as i32)
                    .await
                    .map_err(Error::retriable)?;
                Ok(Runner::Sink(Box::new(SinkRunner {
                    pipeline,
                    task,
                    context,
                    consumer,
                    dlq,
                    topics,
                    mq: inner.mq.clone(),
                    task_count: tasks.configs.len() as u32,
                    lags: Default::default(),
                })))
            }
            _ => Err(Error::other(format!("{} is not a connector", common.connector_class))),
        }
    }
}

/// The consumer group of a sink connector.
pub(super) fn sink_group(connector: &str) -> String {
    format!("connect-{connector}")
}

/// The kind (source or sink) of a connector config's class.
pub(super) fn kind_of(config: &ConfigMap) -> PluginKind {
    let class = config.get("connector.class").and_then(Json::as_str).unwrap_or_default();
    registry().connector(class).map(|p| p.kind).unwrap_or(PluginKind::Source)
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn resolved_secrets_are_masked_wherever_a_split_put_them() {
        let (secret, placeholder) = (json!("hunter2"), json!("${env:PASSWORD}"));
        let secrets = [(&secret, &placeholder)];
        let task = json!({"password": "hunter2", "list": ["a", "hunter2"], "file": null, "other": "x"});
        let masked = mask_secrets(task, &secrets);
        assert_eq!(masked, json!({"password": "${env:PASSWORD}", "list": ["a", "${env:PASSWORD}"], "file": null, "other": "x"}));
    }
}
