//! What a task can ask of the runtime: [`SourceContext`] (committed offsets, to resume) and
//! [`SinkContext`] (report errant records, request a commit, pause and resume queues).

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::error::{Error, Result};
use crate::lag::{SnapshotProgress, SourceLag};
use crate::offsets::{SourceOffset, SourcePartition};
use crate::record::{QueueId, SinkRecord};

/// A boxed, `Send` future: what erased tasks return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Reads committed source offsets; implemented by the runtime's offset stores and by the
/// test harness's in-memory store.
pub trait OffsetReader: Send + Sync {
    /// The last committed offset of `partition`, if any.
    fn offset(&self, partition: &SourcePartition) -> Option<SourceOffset>;
}

/// Given to [`SourceTask::open`](crate::SourceTask::open): who the task is and where each
/// source partition was committed, so a restarted task resumes where it stopped.
#[derive(Clone)]
pub struct SourceContext {
    connector: Arc<str>,
    task_id: u32,
    task_count: u32,
    offsets: Arc<dyn OffsetReader>,
    commit_requested: Arc<AtomicBool>,
    lag: Arc<Mutex<SourceLag>>,
}

impl SourceContext {
    /// A context for task `task_id` of `connector`, reading offsets from `offsets`.
    pub fn new(connector: &str, task_id: u32, offsets: Arc<dyn OffsetReader>) -> SourceContext {
        SourceContext {
            connector: connector.into(),
            task_id,
            task_count: 1,
            offsets,
            commit_requested: Arc::default(),
            lag: Arc::default(),
        }
    }

    /// Runtime side: the connector runs `count` tasks.
    pub fn with_task_count(mut self, count: u32) -> SourceContext {
        self.task_count = count.max(1);
        self
    }

    /// Asks the runtime to commit the offsets of what RocketMQ acknowledged soon, rather
    /// than at the next `offset.flush.interval.ms`: a source whose upstream holds back
    /// deliveries until they are acknowledged (a queue's prefetch, MQTT's in-flight window)
    /// calls it once it holds many, and gets [`SourceTask::commit`](crate::SourceTask::commit) early.
    pub fn request_commit(&self) {
        self.commit_requested.store(true, Ordering::Release);
    }

    /// Runtime side: whether a commit was asked for since the last [`SourceContext::commit_done`].
    pub fn commit_requested(&self) -> bool {
        self.commit_requested.load(Ordering::Acquire)
    }

    /// Runtime side: the requested commit happened.
    pub fn commit_done(&self) {
        self.commit_requested.store(false, Ordering::Release);
    }

    /// Reports how far behind its upstream the task is: `bytes` of its change log written and
    /// not read yet, `seconds` from the upstream writing the last change read to now (0 once
    /// everything was read); `None` for what the task cannot tell. The worker shows the last
    /// report in `/metrics` and on the dashboard (see [`crate::lag`]). Cheap: call it every poll.
    pub fn report_lag(&self, bytes: Option<u64>, seconds: Option<f64>) {
        let mut lag = self.lag.lock().unwrap_or_else(PoisonError::into_inner);
        (lag.bytes, lag.seconds) = (bytes, seconds);
    }

    /// Reports an initial snapshot's progress: `rows_done` of `rows_total` read (a total below
    /// the rows done counts as the rows done: an estimate may fall short). Shown in
    /// `/metrics`, and in the task's status trace until the snapshot is read.
    pub fn report_snapshot(&self, rows_done: u64, rows_total: u64) {
        let progress = SnapshotProgress { rows_done, rows_total: rows_total.max(rows_done) };
        self.lag.lock().unwrap_or_else(PoisonError::into_inner).snapshot = Some(progress);
    }

    /// What the task last reported with [`report_lag`](Self::report_lag) and
    /// [`report_snapshot`](Self::report_snapshot).
    pub fn lag(&self) -> SourceLag {
        *self.lag.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The committed offset of `partition`: resume after it. `None` means start from the beginning.
    pub fn offset(&self, partition: &SourcePartition) -> Option<SourceOffset> {
        self.offsets.offset(partition)
    }

    /// The connector's name.
    pub fn connector_name(&self) -> &str {
        &self.connector
    }

    /// This task's index, from 0.
    pub fn task_id(&self) -> u32 {
        self.task_id
    }

    /// How many tasks the connector runs (at least one): with [`task_id`](Self::task_id), a
    /// task of `split = identical` takes its share, e.g. the numbers `n % count == id`.
    pub fn task_count(&self) -> u32 {
        self.task_count
    }
}

/// Sends a record a sink task could not process to the dead-letter topic (Kafka's
/// `ErrantRecordReporter`). The runtime waits for outstanding reports before it commits.
pub trait ErrantRecordReporter: Send + Sync {
    /// Reports `record` as failed with `error`; resolves once the report is durable.
    fn report<'a>(&'a self, record: &'a SinkRecord, error: &'a Error) -> BoxFuture<'a, Result<()>>;
}

#[derive(Default)]
struct SinkTaskState {
    commit_requested: AtomicBool,
    paused: Mutex<BTreeSet<QueueId>>,
}

/// Given to [`SinkTask::open`](crate::SinkTask::open): report errant records, ask for an
/// early commit, pause and resume queues (back-pressure that does not drop anything).
#[derive(Clone)]
pub struct SinkContext {
    connector: Arc<str>,
    task_id: u32,
    task_count: u32,
    fencing_token: Option<u64>,
    state: Arc<SinkTaskState>,
    reporter: Option<Arc<dyn ErrantRecordReporter>>,
}

impl SinkContext {
    /// A context for task `task_id` of `connector`; `reporter` is `None` when no dead-letter
    /// topic or error tolerance is configured.
    pub fn new(connector: &str, task_id: u32, reporter: Option<Arc<dyn ErrantRecordReporter>>) -> SinkContext {
        SinkContext { connector: connector.into(), task_id, task_count: 1, fencing_token: None, state: Arc::default(), reporter }
    }

    /// Runtime side: the connector runs `count` tasks.
    pub fn with_task_count(mut self, count: u32) -> SinkContext {
        self.task_count = count.max(1);
        self
    }

    /// Runtime side: this run of the task holds `token` (see [`fencing_token`](Self::fencing_token)).
    pub fn with_fencing_token(mut self, token: u64) -> SinkContext {
        self.fencing_token = Some(token);
        self
    }

    /// In a cluster, a number that grows each time any worker starts this task (`None` on a
    /// standalone worker and in tests, where no other worker can). A sink that keeps state
    /// outside RocketMQ (a positions file, a table of offsets) stores its token with that
    /// state and refuses to replace state stored under a larger one: a task whose worker hung
    /// and was replaced then cannot undo its successor's work when it wakes up. (The runtime
    /// fences its own writes, and every call into the task, itself; this covers what a task
    /// does on threads of its own.)
    pub fn fencing_token(&self) -> Option<u64> {
        self.fencing_token
    }

    /// The connector's name.
    pub fn connector_name(&self) -> &str {
        &self.connector
    }

    /// This task's index, from 0.
    pub fn task_id(&self) -> u32 {
        self.task_id
    }

    /// How many tasks the connector runs (at least one).
    pub fn task_count(&self) -> u32 {
        self.task_count
    }

    /// The errant-record reporter, when the connector's error handling configures one.
    pub fn errant_record_reporter(&self) -> Option<&dyn ErrantRecordReporter> {
        self.reporter.as_deref()
    }

    /// Asks the runtime to flush and commit consumer offsets soon.
    pub fn request_commit(&self) {
        self.state.commit_requested.store(true, Ordering::Release);
    }

    /// Runtime side: whether a commit was requested since the last call (and clears it).
    pub fn take_commit_request(&self) -> bool {
        self.state.commit_requested.swap(false, Ordering::AcqRel)
    }

    /// Stops delivery from these queues until [`SinkContext::resume`]; nothing is skipped.
    pub fn pause(&self, queues: impl IntoIterator<Item = QueueId>) {
        self.paused().extend(queues);
    }

    /// Resumes delivery from these queues.
    pub fn resume(&self, queues: impl IntoIterator<Item = QueueId>) {
        let mut paused = self.paused();
        for queue in queues {
            paused.remove(&queue);
        }
    }

    /// Whether `queue` is paused.
    pub fn is_paused(&self, queue: &QueueId) -> bool {
        self.paused().contains(queue)
    }

    /// The paused queues.
    pub fn paused_queues(&self) -> Vec<QueueId> {
        self.paused().iter().cloned().collect()
    }

    fn paused(&self) -> std::sync::MutexGuard<'_, BTreeSet<QueueId>> {
        self.state.paused.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
