//! Workspace-level integration tests: several `test-worker` processes (this crate's binary:
//! the built-in connectors and [`ExclusiveSource`]) forming clusters on a real name server
//! and broker. The tests are in `tests/`.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use connect_sdk::prelude::*;

/// A source whose tasks each hold a lock file while open, so a test can prove that no task
/// ever runs on two workers at once: a task that finds its lock already taken writes an
/// `overlap-*` file next to it. It produces nothing.
///
/// With `tasks.file`, it plans as many tasks as that file says (at most `tasks.max`) and
/// plans again every 200 ms: a connector whose task count follows the external system.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, SourceConnector)]
#[connector(task = ExclusiveTask, plan = ExclusiveSource::plan)]
pub struct ExclusiveSource {
    /// Directory of the lock files.
    pub dir: String,
    /// Topic it would write to.
    pub topic: String,
    /// A file holding the number of tasks to run.
    #[serde(default)]
    pub tasks_file: Option<String>,
}

impl ExclusiveSource {
    async fn plan(&self, max_tasks: usize) -> Result<TaskPlan<Self>> {
        let Some(file) = &self.tasks_file else { return Ok(TaskPlan::new(vec![self.clone(); max_tasks.max(1)])) };
        let text = std::fs::read_to_string(file).map_err(|e| Error::with_source(format!("cannot read {file}"), e))?;
        let count: usize = text.trim().parse().map_err(|_| Error::other(format!("{file} does not hold a task count: {text:?}")))?;
        Ok(TaskPlan::new(vec![self.clone(); count.clamp(1, max_tasks)]).replan_after(Duration::from_millis(200)))
    }
}

/// Holds `task-<id>.lock` while open.
pub struct ExclusiveTask {
    lock: PathBuf,
    owned: bool,
}

impl SourceTask for ExclusiveTask {
    type Config = ExclusiveSource;

    async fn open(config: ExclusiveSource, ctx: SourceContext) -> Result<Self> {
        let dir = PathBuf::from(&config.dir);
        std::fs::create_dir_all(&dir).map_err(Error::other)?;
        let lock = dir.join(format!("task-{}.lock", ctx.task_id()));
        let owned = std::fs::OpenOptions::new().write(true).create_new(true).open(&lock).is_ok();
        if !owned {
            let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
            let overlap = dir.join(format!("overlap-{}-{}-{now}", ctx.task_id(), std::process::id()));
            std::fs::write(overlap, "opened while another instance held the lock").map_err(Error::other)?;
        }
        Ok(ExclusiveTask { lock, owned })
    }

    async fn poll(&mut self) -> Result<Vec<SourceRecord>> {
        connect_sdk::tokio::time::sleep(Duration::from_millis(100)).await;
        Ok(Vec::new())
    }

    async fn close(&mut self) -> Result<()> {
        if self.owned {
            std::fs::remove_file(&self.lock).map_err(Error::other)?;
        }
        Ok(())
    }
}

/// A source whose first poll waits `after.ms`, then blocks its thread for `block.ms` (what a
/// connector calling a synchronous client does), then polls nothing: enough of its tasks hold
/// every thread of the worker's runtime.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, SourceConnector)]
#[connector(task = BlockingTask, split = BlockingSource::copies)]
pub struct BlockingSource {
    /// How long the first poll of each task blocks its thread, in milliseconds.
    pub block_ms: u64,
    /// How long the first poll waits (without blocking) before it blocks, in milliseconds.
    #[serde(default)]
    pub after_ms: u64,
}

impl BlockingSource {
    /// `tasks.max` tasks, each blocking its own thread.
    fn copies(&self, max_tasks: usize) -> Vec<Self> {
        vec![self.clone(); max_tasks.max(1)]
    }
}

/// See [`BlockingSource`].
pub struct BlockingTask {
    /// (wait, then block), until the first poll.
    block: Option<(Duration, Duration)>,
}

impl SourceTask for BlockingTask {
    type Config = BlockingSource;

    async fn open(config: BlockingSource, _ctx: SourceContext) -> Result<Self> {
        Ok(BlockingTask { block: Some((Duration::from_millis(config.after_ms), Duration::from_millis(config.block_ms))) })
    }

    async fn poll(&mut self) -> Result<Vec<SourceRecord>> {
        if let Some((after, block)) = self.block.take() {
            connect_sdk::tokio::time::sleep(after).await;
            std::thread::sleep(block);
        }
        connect_sdk::tokio::time::sleep(Duration::from_millis(50)).await;
        Ok(Vec::new())
    }
}

/// A source that keeps what it allocates: every poll adds `mib.per.poll` MiB (written, so the
/// pages are real) to what it holds, and produces nothing. What a connector with an unbounded
/// buffer does; the worker's `--memory-limit` must stop it.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, SourceConnector)]
#[connector(task = HoardingTask)]
pub struct HoardingSource {
    /// MiB added at every poll.
    pub mib_per_poll: usize,
    /// Milliseconds between polls.
    #[serde(default = "HoardingSource::default_interval")]
    pub interval_ms: u64,
}

impl HoardingSource {
    fn default_interval() -> u64 {
        20
    }
}

/// See [`HoardingSource`].
pub struct HoardingTask {
    config: HoardingSource,
    held: Vec<Vec<u8>>,
}

impl SourceTask for HoardingTask {
    type Config = HoardingSource;

    async fn open(config: HoardingSource, _ctx: SourceContext) -> Result<Self> {
        Ok(HoardingTask { config, held: Vec::new() })
    }

    async fn poll(&mut self) -> Result<Vec<SourceRecord>> {
        self.held.push(vec![1_u8; self.config.mib_per_poll << 20]);
        connect_sdk::tokio::time::sleep(Duration::from_millis(self.config.interval_ms)).await;
        Ok(Vec::new())
    }
}

/// A source shaped like change data capture: with no offset it first emits a snapshot of
/// `snapshot.records` records whose offsets name the moment the snapshot was taken (a second
/// snapshot has other offsets, as a database's would), then one `stream-<n>` record every
/// `interval.ms` with offset `{"stream": n}`. A restart that snapshots again shows as a
/// second `snapshot-<moment>-*` generation in what it wrote.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, SourceConnector)]
#[connector(task = SnapshottingTask)]
pub struct SnapshottingSource {
    /// Topic to write to.
    pub topic: String,
    /// Records in the snapshot.
    #[serde(default = "SnapshottingSource::default_snapshot")]
    pub snapshot_records: u64,
    /// Milliseconds between streamed records.
    #[serde(default = "SnapshottingSource::default_interval")]
    pub interval_ms: u64,
}

impl SnapshottingSource {
    fn default_snapshot() -> u64 {
        10
    }

    fn default_interval() -> u64 {
        20
    }
}

/// See [`SnapshottingSource`].
pub struct SnapshottingTask {
    config: SnapshottingSource,
    partition: SourcePartition,
    /// The snapshot still to emit (its moment), or `None` once streaming.
    snapshot: Option<u128>,
    next: u64,
}

impl SourceTask for SnapshottingTask {
    type Config = SnapshottingSource;

    async fn open(config: SnapshottingSource, ctx: SourceContext) -> Result<Self> {
        let partition = SourcePartition::new().with("source", "snapshotting");
        let (snapshot, next) = match ctx.offset(&partition) {
            Some(offset) => match offset.get_i64("stream") {
                Some(n) => (None, n as u64 + 1),
                // Stopped inside the snapshot: it is taken again.
                None => (Some(SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos())), 0),
            },
            None => (Some(SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos())), 0),
        };
        Ok(SnapshottingTask { config, partition, snapshot, next })
    }

    async fn poll(&mut self) -> Result<Vec<SourceRecord>> {
        if let Some(moment) = self.snapshot.take() {
            let records = (0..self.config.snapshot_records)
                .map(|i| {
                    let offset = SourceOffset::new().with("snapshot_at", moment.to_string()).with("row", i);
                    SourceRecord::new(self.partition.clone(), offset, &self.config.topic, Value::String(format!("snapshot-{moment}-{i}")))
                })
                .collect();
            return Ok(records);
        }
        connect_sdk::tokio::time::sleep(Duration::from_millis(self.config.interval_ms)).await;
        let n = self.next;
        self.next += 1;
        let offset = SourceOffset::new().with("stream", n);
        Ok(vec![SourceRecord::new(self.partition.clone(), offset, &self.config.topic, Value::String(format!("stream-{n}")))])
    }
}
