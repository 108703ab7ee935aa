//! [`SourceHarness`]: drives a source connector's tasks in-process.

use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value as Json;

use super::{InMemoryOffsetStore, Pipeline};
use crate::config::ConfigMap;
use crate::connector::SourceConnector;
use crate::context::SourceContext;
use crate::error::{Error, Result};
use crate::host::plugin::{ConnectorFactory, DynSourceTask, SourceFactory, source_factory};
use crate::offsets::{SourceOffset, SourcePartition};
use crate::record::{Headers, SourceRecord};

/// A record as the runtime would hand it to the producer: after transforms and converters.
#[derive(Clone, Debug, PartialEq)]
pub struct SentRecord {
    /// Destination topic.
    pub topic: String,
    /// Serialized key.
    pub key: Option<Vec<u8>>,
    /// Serialized value.
    pub value: Option<Vec<u8>>,
    /// Headers.
    pub headers: Headers,
    /// Where it came from.
    pub source_partition: SourcePartition,
    /// Offset to commit once it is durable.
    pub source_offset: SourceOffset,
    /// Which task produced it.
    pub task: usize,
}

/// Runs the tasks of source connector `C` without a broker.
///
/// ```
/// # use connect_sdk::prelude::*;
/// # #[derive(Clone, Serialize, Deserialize, JsonSchema, SourceConnector)]
/// # #[connector(task = T)] struct Numbers { topic: String }
/// # struct T { topic: String, next: i64 }
/// # impl SourceTask for T {
/// #     type Config = Numbers;
/// #     async fn open(c: Numbers, ctx: SourceContext) -> Result<Self> {
/// #         Ok(T { topic: c.topic, next: ctx.offset(&SourcePartition::new()).and_then(|o| o.get_i64("n")).unwrap_or(0) })
/// #     }
/// #     async fn poll(&mut self) -> Result<Vec<SourceRecord>> {
/// #         self.next += 1;
/// #         Ok(vec![SourceRecord::new(SourcePartition::new(), SourceOffset::new().with("n", self.next), &self.topic, self.next - 1)])
/// #     }
/// # }
/// use connect_sdk::testing::SourceHarness;
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let mut harness = SourceHarness::<Numbers>::new(serde_json::json!({"topic": "n"})).await.unwrap();
/// harness.poll_at_least(3).await.unwrap();
/// harness.commit().await.unwrap();
/// harness.restart().await.unwrap();             // reopens from the committed offset
/// let next = harness.poll().await.unwrap();
/// assert_eq!(next[0].value, Value::Int64(3));
/// # }
/// ```
pub struct SourceHarness<C: SourceConnector> {
    pipeline: Pipeline,
    factory: SourceFactory,
    task_configs: Vec<ConfigMap>,
    tasks: Vec<Box<dyn DynSourceTask>>,
    /// The open tasks' contexts (what each reported of its lag).
    contexts: Vec<SourceContext>,
    store: Arc<InMemoryOffsetStore>,
    pending: Vec<BTreeMap<SourcePartition, SourceOffset>>,
    sent: Vec<SentRecord>,
    next_task: usize,
    idle_timeout: Duration,
    _connector: PhantomData<fn() -> C>,
}

impl<C: SourceConnector> SourceHarness<C> {
    /// Opens the tasks of a connector configured by `config` (a flat JSON object; `name` and
    /// `connector.class` may be left out), with an empty offset store.
    pub async fn new(config: Json) -> Result<SourceHarness<C>> {
        SourceHarness::with_store(config, Arc::new(InMemoryOffsetStore::new())).await
    }

    /// Like [`SourceHarness::new`], resuming from the offsets in `store`.
    pub async fn with_store(config: Json, store: Arc<InMemoryOffsetStore>) -> Result<SourceHarness<C>> {
        let factory = source_factory::<C>();
        // What creating the connector checks, then what the worker running it plans.
        let plugin = super::harness_plugin(ConnectorFactory::Source(factory), <C as crate::ConfigSchema>::config_schema);
        let pipeline = Pipeline::new(config, plugin, &[])?;
        let task_configs = pipeline.validated.plan_tasks().await?.tasks;
        let mut harness = SourceHarness {
            pipeline,
            factory,
            task_configs,
            tasks: Vec::new(),
            contexts: Vec::new(),
            store,
            pending: Vec::new(),
            sent: Vec::new(),
            next_task: 0,
            idle_timeout: Duration::from_secs(5),
            _connector: PhantomData,
        };
        harness.open_tasks().await?;
        Ok(harness)
    }

    async fn open_tasks(&mut self) -> Result<()> {
        for (id, config) in self.task_configs.iter().enumerate() {
            let count = u32::try_from(self.task_configs.len()).unwrap_or(u32::MAX);
            let ctx = SourceContext::new(self.pipeline.name(), id as u32, self.store.clone()).with_task_count(count);
            self.tasks.push((self.factory.open_task)(config.clone(), ctx.clone()).await?);
            self.contexts.push(ctx);
        }
        self.pending = vec![BTreeMap::new(); self.tasks.len()];
        Ok(())
    }

    /// Number of tasks the connector split into.
    pub fn task_count(&self) -> usize {
        self.task_configs.len()
    }

    /// What task `task` (from 0) last reported of its lag (see [`crate::lag`]); `None` when
    /// no such task is open.
    pub fn lag(&self, task: usize) -> Option<crate::lag::SourceLag> {
        self.contexts.get(task).map(SourceContext::lag)
    }

    /// The task configs, as the runtime would store them.
    pub fn task_configs(&self) -> &[ConfigMap] {
        &self.task_configs
    }

    /// Polls the next task once (tasks take turns) and returns its records after transforms;
    /// their serialized form is appended to [`SourceHarness::sent`].
    pub async fn poll(&mut self) -> Result<Vec<SourceRecord>> {
        if self.tasks.is_empty() {
            return Err(Error::other("the harness has no open task; it was closed"));
        }
        let task = self.next_task % self.tasks.len();
        self.next_task += 1;
        let polled = self.tasks[task].poll().await?;
        let mut out = Vec::with_capacity(polled.len());
        for record in polled {
            self.pending[task].insert(record.source_partition.clone(), record.source_offset.clone());
            let SourceRecord { source_partition, source_offset, record } = record;
            let Some(record) = self.pipeline.chain.apply(record).map_err(Error::other)? else { continue };
            let converters = &self.pipeline.converters;
            let key = converters.key.encode(&record.topic, record.key_schema.as_ref(), &record.key)?;
            let value = converters.value.encode(&record.topic, record.value_schema.as_ref(), &record.value)?;
            self.sent.push(SentRecord {
                topic: record.topic.clone(),
                key,
                value,
                headers: record.headers.clone(),
                source_partition: source_partition.clone(),
                source_offset: source_offset.clone(),
                task,
            });
            out.push(SourceRecord { source_partition, source_offset, record });
        }
        Ok(out)
    }

    /// How long [`poll_at_least`](SourceHarness::poll_at_least) waits without a new record
    /// before it gives up (default 5 s). Raise it for a source that pauses between records.
    pub fn set_idle_timeout(&mut self, timeout: Duration) {
        self.idle_timeout = timeout;
    }

    /// Polls until at least `count` records came out. Fails, saying how many came, once no
    /// record came for the idle timeout: a slow source never fails as long as it makes progress.
    pub async fn poll_at_least(&mut self, count: usize) -> Result<Vec<SourceRecord>> {
        let mut last_record = tokio::time::Instant::now();
        let mut records = Vec::new();
        while records.len() < count {
            if last_record.elapsed() > self.idle_timeout {
                return Err(Error::other(format!(
                    "{} of {count} records came, then none for {:?}: the source ran out of records or stalled",
                    records.len(),
                    self.idle_timeout
                )));
            }
            let batch = self.poll().await?;
            if batch.is_empty() {
                tokio::time::sleep(Duration::from_millis(5)).await;
            } else {
                last_record = tokio::time::Instant::now();
            }
            records.extend(batch);
        }
        Ok(records)
    }

    /// Commits the offsets of every record polled so far (as if the broker acknowledged them)
    /// and calls each task's `commit`.
    pub async fn commit(&mut self) -> Result<()> {
        for (task, pending) in self.tasks.iter_mut().zip(&mut self.pending) {
            let committed = std::mem::take(pending);
            for (partition, offset) in &committed {
                self.store.commit(partition.clone(), offset.clone());
            }
            task.commit(&committed).await?;
        }
        Ok(())
    }

    /// Graceful restart: commit, close every task, reopen them from the committed offsets.
    pub async fn restart(&mut self) -> Result<()> {
        self.commit().await?;
        self.close().await?;
        self.open_tasks().await
    }

    /// Crash: drop uncommitted offsets, close, reopen from what was committed before.
    pub async fn crash_and_restart(&mut self) -> Result<()> {
        self.pending.iter_mut().for_each(BTreeMap::clear);
        self.close().await?;
        self.open_tasks().await
    }

    /// Closes every task.
    pub async fn close(&mut self) -> Result<()> {
        let mut first_error = None;
        self.contexts.clear();
        for mut task in self.tasks.drain(..) {
            if let Err(e) = task.close().await {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Every record handed to the (simulated) producer so far.
    pub fn sent(&self) -> &[SentRecord] {
        &self.sent
    }

    /// The offset store.
    pub fn store(&self) -> &Arc<InMemoryOffsetStore> {
        &self.store
    }
}
