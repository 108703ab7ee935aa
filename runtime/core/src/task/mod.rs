//! Running one task: what the source and sink runners share (its pipeline of transforms and
//! converters, its error policy, its status) and how the worker controls it.

pub mod exactly_once;
pub mod outage;
mod outbox;
pub mod sink;
pub mod source;
pub mod stage;
pub mod status;

pub use status::{State, StatusCell, TaskStatus};

use std::sync::Arc;
use std::time::Duration;

use connect_sdk::Error;
use connect_sdk::config::{ErrorHandling, Tolerance};
use connect_sdk::converter::RecordConverters;
use connect_sdk::transform::TransformChain;
use tokio::sync::watch;

use crate::metrics::{Counter, TaskMetrics};
use crate::retry::RetryPolicy;
use crate::state::configs::TargetState;
use crate::task::stage::Stage;

/// Tuning of the task loops.
#[derive(Clone, Copy, Debug)]
pub struct RunnerSettings {
    /// How often offsets are committed (`offset.flush.interval.ms`).
    pub offset_flush_interval: Duration,
    /// Most records in one producer batch.
    pub max_batch_records: usize,
    /// Most batches in flight per source task.
    pub max_in_flight: usize,
    /// How long a sink's poll waits for records.
    pub poll_timeout: Duration,
    /// Whether source tasks deliver exactly once (`exactly.once.source.support=enabled`): a
    /// task that starts drops the records the broker already holds.
    pub exactly_once_source: bool,
    /// The broker's largest message (its `maxMessageSize`): a larger record is refused before
    /// it is buffered (under `errors.tolerance`), and batches stay under it.
    pub max_message_bytes: usize,
}

impl Default for RunnerSettings {
    fn default() -> RunnerSettings {
        RunnerSettings {
            offset_flush_interval: Duration::from_secs(5),
            max_batch_records: 256,
            max_in_flight: 4,
            poll_timeout: Duration::from_millis(200),
            exactly_once_source: true,
            max_message_bytes: crate::wire::MAX_MESSAGE_BYTES,
        }
    }
}

/// What every task of a connector shares: its identity, pipeline, error policy and metrics.
pub struct TaskPipeline {
    /// Connector name.
    pub connector: String,
    /// Task id.
    pub task: u32,
    /// The connector's `errors.*` keys.
    pub errors: ErrorHandling,
    /// Its transforms, shared by its tasks.
    pub chain: Arc<TransformChain>,
    /// Its converters, shared by its tasks.
    pub converters: Arc<RecordConverters>,
    /// Retry policy from `errors.*`.
    pub retry: RetryPolicy,
    /// The task's counters.
    pub metrics: Arc<TaskMetrics>,
    /// Loop tuning.
    pub settings: RunnerSettings,
    /// The worker's lease in its cluster: checked before every send, put and commit.
    pub lease: crate::cluster::lease::TaskLease,
    /// The task's calls into connector code, watched for calls that do not return.
    pub calls: crate::watchdog::TaskCalls,
    /// The topics it may use.
    pub topics: crate::topics::TopicRules,
}

impl TaskPipeline {
    /// Applies `errors.tolerance` to a record `stage` refused: `Ok` to skip it (counted), `Err`
    /// to fail the task ([`Stage::stop`]). A refusal that may pass when tried again (a schema
    /// registry that did not answer) fails the task whatever the tolerance: skipping would drop
    /// a good record, and the task is restarted.
    pub fn tolerate(&self, stage: &Stage, error: Error, what: impl FnOnce() -> String) -> Result<(), Error> {
        self.metrics.add(Counter::Errors, 1);
        let errors = &self.errors;
        if errors.log_enable {
            tracing::error!(connector = %self.connector, task = self.task, stage = stage.name(), record = %what(), %error, "record failed");
        }
        if self.skips(&error) {
            self.metrics.add(Counter::RecordsSkipped, 1);
            return Ok(());
        }
        if stage::passes_later(&error) { Err(error) } else { Err(stage.stop(error)) }
    }

    /// Whether [`tolerate`](Self::tolerate) skips a record refused with `error` (a sink then
    /// dead-letters it first).
    pub fn skips(&self, error: &Error) -> bool {
        self.errors.tolerance == Tolerance::All && !stage::passes_later(error)
    }
}

/// Receives the worker's wishes for a task.
pub type Control = watch::Receiver<TargetState>;

/// Waits while paused; returns `false` once the task must stop.
pub async fn wait_while_paused(control: &mut Control, status: &StatusCell) -> bool {
    loop {
        let target = *control.borrow_and_update();
        match target {
            TargetState::Started => {
                if status.get().state != State::Running {
                    status.set(State::Running);
                }
                return true;
            }
            TargetState::Stopped => return false,
            TargetState::Paused => {
                status.set(State::Paused);
                if control.changed().await.is_err() {
                    return false;
                }
            }
        }
    }
}

/// Whether the worker asked the task to stop.
pub fn stop_requested(control: &Control) -> bool {
    *control.borrow() == TargetState::Stopped || control.has_changed().is_err()
}

/// A task opened and ready to run its loop, until it is stopped (`Ok`) or fails.
pub(crate) trait TaskRunner: Send {
    /// Runs the loop; `control` says when to pause, resume or stop, `status` is kept current.
    fn run(self: Box<Self>, control: Control, status: StatusCell) -> connect_sdk::context::BoxFuture<'static, Result<(), Error>>;
}

impl TaskRunner for source::SourceRunner {
    fn run(self: Box<Self>, control: Control, status: StatusCell) -> connect_sdk::context::BoxFuture<'static, Result<(), Error>> {
        Box::pin(source::SourceRunner::run(*self, control, status))
    }
}

impl TaskRunner for sink::SinkRunner {
    fn run(self: Box<Self>, control: Control, status: StatusCell) -> connect_sdk::context::BoxFuture<'static, Result<(), Error>> {
        Box::pin(sink::SinkRunner::run(*self, control, status))
    }
}
