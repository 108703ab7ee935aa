//! The four traits a connector author meets: [`SourceConnector`] and [`SinkConnector`]
//! (usually derived), [`SourceTask`] and [`SinkTask`] (written by hand).
//!
//! A connector is its configuration: a plain struct deserialized from the connector's JSON
//! config. `#[derive(SourceConnector)]` names its task type and, optionally, how to split it
//! into several task configurations. A task is opened with one such configuration and then
//! polled (source) or given batches (sink) until it is closed.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use crate::config::{ConfigErrors, ConnectorConfig};
use crate::context::{SinkContext, SourceContext};
use crate::error::Result;
use crate::offsets::{SourceOffset, SourcePartition};
use crate::record::{QueueId, SinkRecord, SourceRecord};

/// A source connector: a configuration that opens [`SourceTask`]s. Derive it:
///
/// ```
/// use connect_sdk::prelude::*;
///
/// /// Emits the numbers 0, 1, 2... forever.
/// #[derive(Clone, Serialize, Deserialize, JsonSchema, SourceConnector)]
/// #[connector(task = CountTask)]
/// pub struct Counter {
///     /// Topic to write to.
///     pub topic: String,
/// }
///
/// pub struct CountTask { topic: String, next: i64 }
///
/// impl SourceTask for CountTask {
///     type Config = Counter;
///     async fn open(config: Counter, ctx: SourceContext) -> Result<Self> {
///         let next = ctx.offset(&SourcePartition::new()).and_then(|o| o.get_i64("next")).unwrap_or(0);
///         Ok(CountTask { topic: config.topic, next })
///     }
///     async fn poll(&mut self) -> Result<Vec<SourceRecord>> {
///         self.next += 1;
///         let offset = SourceOffset::new().with("next", self.next);
///         Ok(vec![SourceRecord::new(SourcePartition::new(), offset, &self.topic, self.next - 1)])
///     }
/// }
/// # fn main() {}
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a source connector",
    note = "add `#[derive(SourceConnector)]` and `#[connector(task = YourTask)]` to `{Self}`"
)]
pub trait SourceConnector: ConnectorConfig {
    /// The task type this connector runs.
    type Task: SourceTask<Config = Self>;

    /// Checks rules serde cannot express (for example "`start` before `end`").
    fn validate(&self) -> Result<(), ConfigErrors> {
        Ok(())
    }

    /// Splits the connector into at most `max_tasks` task configurations (default: one).
    fn task_configs(&self, max_tasks: usize) -> Vec<Self> {
        let _ = max_tasks;
        vec![self.clone()]
    }

    /// Plans the tasks on the worker that runs the connector, looking at the external system
    /// if need be (the tables that exist, the partitions of a stream), and says when to plan
    /// again. Default: [`task_configs`](SourceConnector::task_configs), never again. Derive
    /// it with `#[connector(plan = Self::plan)]`.
    fn plan_tasks(&self, max_tasks: usize) -> impl Future<Output = Result<TaskPlan<Self>>> + Send {
        async move { Ok(TaskPlan::new(self.task_configs(max_tasks))) }
    }
}

/// A sink connector: a configuration that opens [`SinkTask`]s. Derive it with
/// `#[derive(SinkConnector)]` and `#[connector(task = YourTask)]`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a sink connector",
    note = "add `#[derive(SinkConnector)]` and `#[connector(task = YourTask)]` to `{Self}`"
)]
pub trait SinkConnector: ConnectorConfig {
    /// The task type this connector runs.
    type Task: SinkTask<Config = Self>;

    /// Checks rules serde cannot express.
    fn validate(&self) -> Result<(), ConfigErrors> {
        Ok(())
    }

    /// Splits the connector into at most `max_tasks` task configurations (default: `max_tasks`
    /// identical ones; the runtime spreads the subscribed queues over the tasks it opens).
    fn task_configs(&self, max_tasks: usize) -> Vec<Self> {
        vec![self.clone(); max_tasks.max(1)]
    }

    /// Plans the tasks on the worker that runs the connector; see [`SourceConnector::plan_tasks`].
    fn plan_tasks(&self, max_tasks: usize) -> impl Future<Output = Result<TaskPlan<Self>>> + Send {
        async move { Ok(TaskPlan::new(self.task_configs(max_tasks))) }
    }
}

/// The tasks a connector plans, and when it wants to plan again.
///
/// A connector whose split depends on the external system (one task per table group, say)
/// returns `TaskPlan::new(tasks).replan_after(interval)`: the worker running the connector
/// plans again after `interval`, and restarts the tasks only when the plan changed (Kafka's
/// `requestTaskReconfiguration`, without a thread of the connector's own).
///
/// ```
/// use std::time::Duration;
/// use connect_sdk::TaskPlan;
///
/// let plan = TaskPlan::new(vec!["orders", "customers"]).replan_after(Duration::from_secs(60));
/// assert_eq!(plan.tasks.len(), 2);
/// assert_eq!(plan.replan_after, Some(Duration::from_secs(60)));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskPlan<C> {
    /// One configuration per task; the runtime keeps at most `tasks.max`.
    pub tasks: Vec<C>,
    /// When to plan again (`None`: only when the connector's config changes).
    pub replan_after: Option<Duration>,
}

impl<C> TaskPlan<C> {
    /// A plan of these tasks, not revisited until the config changes.
    pub fn new(tasks: Vec<C>) -> TaskPlan<C> {
        TaskPlan { tasks, replan_after: None }
    }

    /// Plans again after `interval`.
    pub fn replan_after(mut self, interval: Duration) -> TaskPlan<C> {
        self.replan_after = Some(interval);
        self
    }
}

/// Reads from an external system and produces [`SourceRecord`]s.
///
/// Lifecycle: `open` → `poll` repeatedly (and `commit` each time the runtime made the offsets
/// of acknowledged records durable) → `close`. `poll` may wait a little for data and
/// returns an empty `Vec` when there is none for now; it is called again.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a source task",
    note = "implement `connect_sdk::SourceTask` for `{Self}`, with `type Config` set to the connector struct"
)]
pub trait SourceTask: Send + Sized + 'static {
    /// The connector configuration this task is opened with.
    type Config;

    /// Whether polling again from a committed offset returns the same records with the same
    /// offsets (a file, a table, a log, a stream read by position). The runtime's exactly-once
    /// delivery relies on it: a restarted task's records the broker already holds are found by
    /// their partition and offset. A source whose upstream redelivers under new identities (a
    /// queue's delivery tags, MQTT packet ids) sets it to `false` and is at least once.
    const REPEATABLE: bool = true;

    /// Opens the task; read `ctx.offset(..)` to resume after the last committed record.
    fn open(config: Self::Config, ctx: SourceContext) -> impl Future<Output = Result<Self>> + Send;

    /// Returns the next records (possibly none).
    fn poll(&mut self) -> impl Future<Output = Result<Vec<SourceRecord>>> + Send;

    /// Called after `committed` was made durable: for each source partition, every record up
    /// to and including that offset is stored in RocketMQ. Acknowledge them upstream here (a
    /// queue's acks up to that delivery, a replication slot's LSN...); records polled later
    /// may still be in flight and must not be acknowledged yet.
    fn commit(&mut self, committed: &CommittedOffsets) -> impl Future<Output = Result<()>> + Send {
        let _ = committed;
        async { Ok(()) }
    }

    /// Releases every resource; called once, also after a failure.
    fn close(&mut self) -> impl Future<Output = Result<()>> + Send {
        async { Ok(()) }
    }
}

/// Per source partition, the last offset made durable (see [`SourceTask::commit`]).
pub type CommittedOffsets = BTreeMap<SourcePartition, SourceOffset>;

/// For each queue, the offset of the next record to consume: everything before it was put.
pub type QueueOffsets = BTreeMap<QueueId, i64>;

/// The position after each queue's last record in `records`: what a sink that keeps its
/// positions stores with the data it writes for them (see [`SinkTask::stored_offsets`]).
///
/// ```
/// use connect_sdk::offsets_after;
/// use connect_sdk::record::SinkRecord;
///
/// let records = [SinkRecord::new("t", 0, 7, "a"), SinkRecord::new("t", 0, 8, "b"), SinkRecord::new("t", 1, 3, "c")];
/// let after = offsets_after(&records);
/// assert_eq!(after.values().copied().collect::<Vec<_>>(), [9, 4]);
/// ```
pub fn offsets_after(records: &[SinkRecord]) -> QueueOffsets {
    let mut after = QueueOffsets::new();
    for record in records {
        let next = record.position() + 1;
        let entry = after.entry(record.queue()).or_insert(next);
        *entry = (*entry).max(next);
    }
    after
}

/// Writes [`SinkRecord`]s to an external system.
///
/// Lifecycle: `open` → `stored_offsets` for the queues it is given → `put` batches → `flush`
/// (then the runtime commits the consumer offsets passed to it, or what
/// `committable_offsets` says of them, and only then) → `close`.
/// The runtime flushes after every batch it puts, so a record `put` but not flushed is
/// delivered again after a crash only if the crash came between the two: such sinks are
/// at-least-once, make writes idempotent where you can. A sink that stores its positions in
/// its destination, atomically with the data, is exactly-once (see
/// [`SinkTask::stored_offsets`]).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a sink task",
    note = "implement `connect_sdk::SinkTask` for `{Self}`, with `type Config` set to the connector struct"
)]
pub trait SinkTask: Send + Sized + 'static {
    /// The connector configuration this task is opened with.
    type Config;

    /// Opens the task.
    fn open(config: Self::Config, ctx: SinkContext) -> impl Future<Output = Result<Self>> + Send;

    /// Writes (or buffers) a batch of records.
    fn put(&mut self, records: Vec<SinkRecord>) -> impl Future<Output = Result<()>> + Send;

    /// Makes everything put so far durable; `offsets` are what will be committed afterwards
    /// (they may be ahead of the records put: records a transform dropped or the dead-letter
    /// queue took). A sink that keeps its positions stores them here, with the data.
    fn flush(&mut self, offsets: &QueueOffsets) -> impl Future<Output = Result<()>> + Send {
        let _ = offsets;
        async { Ok(()) }
    }

    /// The offsets the runtime commits after `flush(flushed)` (Kafka's `preCommit`): by default
    /// all of `flushed`. A sink that keeps records buffered across flushes (files rolled by
    /// record count) returns, per queue, the position of its first record not yet durable;
    /// the runtime commits that instead, so a restarted task reads those records again.
    /// Queues left out are not committed.
    fn committable_offsets(&mut self, flushed: &QueueOffsets) -> QueueOffsets {
        flushed.clone()
    }

    /// The positions this task stored in its destination for any of `queues` (the queues the
    /// runtime is about to read for it, asked again whenever they change): each queue named
    /// in the answer is read from that position instead of the offset last committed for it
    /// (Kafka's `SinkTaskContext.offset`). A sink that writes, in one atomic step with
    /// its data, the positions after the records written ([`offsets_after`]), and the
    /// offsets `flush` is given, delivers exactly once: a crash between its write and the
    /// runtime's commit repeats nothing. Asked mid-run (after a `flush`), the answer is what
    /// the destination holds now, not what an earlier sync left on disk: those positions are
    /// read from at once, and records after them are put again. The default stores nothing
    /// (at-least-once).
    fn stored_offsets(&mut self, queues: &[QueueId]) -> impl Future<Output = Result<QueueOffsets>> + Send {
        let _ = queues;
        async { Ok(QueueOffsets::new()) }
    }

    /// Releases every resource; called once, also after a failure.
    fn close(&mut self) -> impl Future<Output = Result<()>> + Send {
        async { Ok(()) }
    }
}
