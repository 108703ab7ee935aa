//! The units a worker runs: connectors (it plans their tasks and reports their state) and
//! tasks (a runner each), and how each is started and stopped.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use connect_sdk::Error;
use connect_sdk::config::ErrorHandling;

use super::{Herder, Launch};
use crate::state::configs::{ConnectorSpec, TargetState, TaskConfigs};
use crate::state::statuses::UnitStatus;
use crate::state::unit::Unit;
use crate::task::{State, StatusCell, TaskStatus};

/// Runs connector code (planning, opening, a task's loop) so that its panic becomes its
/// failure, with the panic's message as the trace, rather than unwinding into the worker.
async fn isolated<T>(work: impl std::future::Future<Output = Result<T, Error>>) -> Result<T, Error> {
    use futures_util::FutureExt;
    match std::panic::AssertUnwindSafe(work).catch_unwind().await {
        Ok(result) => result,
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic without a message".to_owned());
            Err(Error::other(format!("the connector panicked: {message}")))
        }
    }
}

/// How long a task may take to flush, commit and close when asked to stop.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// What runs on this worker.
#[derive(Default)]
pub(crate) struct Running {
    pub(super) units: BTreeMap<Unit, RunningUnit>,
    /// Per connector, the position of the last restart request acted on.
    pub(super) restarts_seen: BTreeMap<String, u64>,
    /// Owners of units missing from the member list, and since when.
    pub(super) absent_since: BTreeMap<String, Instant>,
    /// The lease's lapses the running units started after.
    pub(super) lease_epoch: u64,
    /// Automatic restarts of the failed tasks running here.
    pub(super) recoveries: BTreeMap<Unit, Recovery>,
    /// The position of the last cluster-wide log level applied here.
    pub(super) log_levels_seen: Option<u64>,
}

/// The automatic restarts of one task (`errors.restart.*`).
#[derive(Clone, Debug, Default)]
pub(super) struct Recovery {
    /// Restarts made, counted since the task last ran long enough to be trusted again.
    pub(super) attempts: u32,
    /// The failure that caused the last restart (or the one waiting for a restart).
    last_error: Option<String>,
    /// When the next restart is due, while one waits.
    due: Option<Instant>,
    /// When the last restart was made.
    last_restart: Option<Instant>,
    /// The task stays failed: its attempts are used up (said once).
    gave_up: bool,
}

/// Why a task failed on its config or a record's data stays failed.
const NOT_RESTARTED: &str = "not restarted automatically: a restart would meet the same config or record; fix the config \
     (or let errors.tolerance=all skip such records, into errors.deadletterqueue.topic.name for a sink), then restart it \
     through the REST API";

/// What to do about a failed task now.
pub(super) enum Schedule {
    /// Restart it.
    Due,
    /// Restart it at this time; the note is new (to log and show in its trace).
    At(Instant, Option<String>),
    /// Leave it failed; the note is new.
    GaveUp(Option<String>),
}

impl Recovery {
    /// Decides about a task found failed at `now` with `trace`; `curable`: whether a restart
    /// may cure its failure.
    pub(super) fn schedule(&mut self, errors: &ErrorHandling, trace: Option<String>, curable: bool, now: Instant) -> Schedule {
        if let Some(due) = self.due {
            return if due <= now { Schedule::Due } else { Schedule::At(due, None) };
        }
        if self.gave_up {
            return Schedule::GaveUp(None);
        }
        if !curable {
            self.gave_up = true;
            return Schedule::GaveUp(Some(NOT_RESTARTED.to_owned()));
        }
        // A task that ran as long as the longest backoff since its last restart counts afresh.
        let max_backoff = Duration::from_millis(errors.restart_backoff_max_ms);
        if self.last_restart.is_some_and(|at| now.duration_since(at) >= max_backoff) {
            *self = Recovery::default();
        }
        if self.attempts >= errors.restart_max_attempts {
            self.gave_up = true;
            let note = match errors.restart_max_attempts {
                0 => "automatic restarts are off (errors.restart.max.attempts=0): restart it through the REST API".to_owned(),
                n => format!("left failed after {n} automatic restarts (errors.restart.max.attempts): restart it through the REST API"),
            };
            return Schedule::GaveUp(Some(note));
        }
        let delay = errors.restart_delay(self.attempts);
        let due = now + delay;
        self.due = Some(due);
        self.last_error = trace;
        let note = format!(
            "restarting automatically in {:.1} s (attempt {} of {}, errors.restart.max.attempts)",
            delay.as_secs_f64(),
            self.attempts + 1,
            errors.restart_max_attempts
        );
        Schedule::At(due, Some(note))
    }

    /// A restart was made at `now`.
    pub(super) fn restarted(&mut self, now: Instant) {
        self.attempts += 1;
        self.due = None;
        self.last_restart = Some(now);
    }
}

impl Running {
    /// (connectors, tasks) running here.
    pub(crate) fn counts(&self) -> (usize, usize) {
        let connectors = self.units.keys().filter(|u| matches!(u, Unit::Connector(_))).count();
        (connectors, self.units.len() - connectors)
    }

    /// The units running here.
    pub(crate) fn units(&self) -> impl Iterator<Item = &Unit> {
        self.units.keys()
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

    /// Stops it (a task flushes, commits and closes); returns its generation.
    pub(super) async fn stop(self, unit: &Unit) -> u64 {
        let generation = self.generation();
        if let RunningUnit::Task(task) = self {
            task.stop(unit).await;
        }
        generation
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

impl<L: Launch> Herder<L> {
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
            match isolated(self.launcher.plan(spec)).await {
                Ok(plan) => {
                    let wanted = TaskConfigs { revision: spec.revision, configs: plan.tasks };
                    let written = match spec.tasks.as_ref() == Some(&wanted) {
                        true => None,
                        false => self.configs.put_tasks(&spec.name, &wanted).await.err().map(|e| e.to_string()),
                    };
                    (written, plan.replan_after)
                }
                // A connector whose tasks run keeps them when planning again fails: the
                // external system may be away for a moment.
                Err(failure) if replanning.is_some() => {
                    let failure = self.launcher.redact(spec, &failure.trace());
                    tracing::warn!(connector = %spec.name, %failure, "planning the tasks again failed; they keep their configs");
                    (None, replanning.and_then(|p| p.replan_after))
                }
                Err(failure) => (Some(self.launcher.redact(spec, &failure.trace())), None),
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
            let status = UnitStatus::of(state, &self.settings.id, reported.1.clone(), generation);
            self.status_writer.report(vec![(Unit::Connector(spec.name.clone()), Some(status))]);
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

    /// Opens task `id` of `spec` (its task configs must exist) and starts its runner; its
    /// statuses show the automatic restarts of `recovery`.
    pub(super) async fn start_task(&self, spec: &ConnectorSpec, id: u32, generation: u64, recovery: Option<&Recovery>) -> RunningTask {
        let unit = Unit::task(&spec.name, id);
        let writer = self.status_writer.clone();
        let (me, reported) = (self.settings.id.clone(), unit.clone());
        let (restarts, last_error) = recovery.map_or((0, None), |r| (r.attempts, r.last_error.clone()));
        let status = StatusCell::reporting(State::Unassigned, move |s: &TaskStatus| {
            let status =
                UnitStatus { restarts, last_error: last_error.clone(), ..UnitStatus::of(s.state, &me, s.trace.clone(), generation) };
            writer.report(vec![(reported.clone(), Some(status))]);
        });
        let tasks_revision = spec.tasks.as_ref().map_or(0, |t| t.revision);
        let (control, receiver) = watch::channel(spec.target);
        let join = match isolated(self.launcher.open_task(spec, id, generation)).await {
            Ok(runner) => {
                status.set(if spec.target == TargetState::Paused { State::Paused } else { State::Running });
                let status = status.clone();
                let launcher = self.launcher.clone();
                let spec = spec.clone();
                Some(tokio::spawn(async move {
                    match isolated(runner.run(receiver, status.clone())).await {
                        Ok(()) => status.set(State::Stopped),
                        Err(error) => {
                            let trace = launcher.redact(&spec, &error.trace());
                            tracing::error!(%unit, error = %trace, "task failed");
                            status.fail_with(trace, error.restart_may_help());
                        }
                    }
                }))
            }
            Err(error) => {
                let trace = self.launcher.redact(spec, &error.trace());
                tracing::error!(%unit, error = %trace, "task failed to open");
                status.fail_with(trace, error.restart_may_help());
                None
            }
        };
        RunningTask { tasks_revision, generation, control, status, join }
    }
}
