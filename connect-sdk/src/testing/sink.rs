//! [`SinkHarness`]: drives a sink connector's task in-process over a simulated topic.

use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::Value as Json;

use super::Pipeline;
use crate::config::{ConfigMap, Tolerance};
use crate::connector::{QueueOffsets, SinkConnector};
use crate::context::{BoxFuture, ErrantRecordReporter, SinkContext};
use crate::data::Value;
use crate::error::{Error, Result};
use crate::host::plugin::{ConnectorFactory, DynSinkTask, SinkFactory, sink_factory};
use crate::record::{Headers, QueueId, Record, SinkRecord};

const BROKER: &str = "harness-broker";

/// A record a sink reported as errant, or that failed conversion with `errors.tolerance=all`.
#[derive(Clone, Debug, PartialEq)]
pub struct DeadLetter {
    /// Topic it was read from.
    pub topic: String,
    /// Its offset.
    pub offset: i64,
    /// The error's text.
    pub error: String,
}

#[derive(Default)]
struct DeadLetters(Mutex<Vec<DeadLetter>>);

impl ErrantRecordReporter for DeadLetters {
    fn report<'a>(&'a self, record: &'a SinkRecord, error: &'a Error) -> BoxFuture<'a, Result<()>> {
        let letter = DeadLetter { topic: record.topic.clone(), offset: record.position(), error: error.to_string() };
        self.0.lock().unwrap_or_else(PoisonError::into_inner).push(letter);
        Box::pin(async { Ok(()) })
    }
}

struct StoredMessage {
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    headers: Headers,
    timestamp: Option<i64>,
}

/// Runs the first task of sink connector `C` over simulated topics (one queue each): records
/// are serialized with the configured converters when sent, and read back, transformed and
/// put when delivered. Consumer offsets advance only on [`SinkHarness::flush`].
///
/// ```
/// # use connect_sdk::prelude::*;
/// # use std::sync::{Arc, Mutex};
/// # static OUT: Mutex<Vec<String>> = Mutex::new(Vec::new());
/// # #[derive(Clone, Serialize, Deserialize, JsonSchema, SinkConnector)]
/// # #[connector(task = T)] struct Collect {}
/// # struct T;
/// # impl SinkTask for T {
/// #     type Config = Collect;
/// #     async fn open(_: Collect, _: SinkContext) -> Result<Self> { Ok(T) }
/// #     async fn put(&mut self, records: Vec<SinkRecord>) -> Result<()> {
/// #         OUT.lock().unwrap().extend(records.iter().map(|r| r.value.to_string())); Ok(())
/// #     }
/// # }
/// use connect_sdk::testing::SinkHarness;
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let mut harness = SinkHarness::<Collect>::new(serde_json::json!({"topics": "in"})).await.unwrap();
/// harness.send("in", Value::Null, "a").unwrap();
/// harness.send("in", Value::Null, "b").unwrap();
/// assert_eq!(harness.deliver().await.unwrap(), 2);
/// harness.crash_and_restart().await.unwrap();     // nothing was flushed:
/// assert_eq!(harness.deliver().await.unwrap(), 2); // both are delivered again
/// harness.flush().await.unwrap();
/// assert_eq!(*OUT.lock().unwrap(), ["a", "b", "a", "b"]);
/// # }
/// ```
pub struct SinkHarness<C: SinkConnector> {
    pipeline: Pipeline,
    factory: SinkFactory,
    task_config: ConfigMap,
    task: Option<Box<dyn DynSinkTask>>,
    context: SinkContext,
    reporter: Arc<DeadLetters>,
    topics: BTreeMap<String, Vec<StoredMessage>>,
    delivered: QueueOffsets,
    committed: QueueOffsets,
    _connector: PhantomData<fn() -> C>,
}

impl<C: SinkConnector> SinkHarness<C> {
    /// Opens the first task of a connector configured by `config` (`name`,
    /// `connector.class` and `topics` may be left out).
    pub async fn new(config: Json) -> Result<SinkHarness<C>> {
        let factory = sink_factory::<C>();
        let plugin = super::harness_plugin(ConnectorFactory::Sink(factory), <C as crate::ConfigSchema>::config_schema);
        let every_topic: &[(&str, &str)] = &[("topics.regex", ".*")];
        let defaults = if config.as_object().is_some_and(super::names_topics) { &[] } else { every_topic };
        let pipeline = Pipeline::new(config, plugin, defaults)?;
        let task_config = pipeline
            .validated
            .plan_tasks()
            .await?
            .tasks
            .into_iter()
            .next()
            .ok_or_else(|| Error::other("the connector produced no task config"))?;
        let reporter = Arc::new(DeadLetters::default());
        let context = Self::new_context(&pipeline, &reporter);
        let mut harness = SinkHarness {
            pipeline,
            factory,
            task_config,
            task: None,
            context,
            reporter,
            topics: BTreeMap::new(),
            delivered: QueueOffsets::new(),
            committed: QueueOffsets::new(),
            _connector: PhantomData,
        };
        harness.open().await?;
        Ok(harness)
    }

    fn new_context(pipeline: &Pipeline, reporter: &Arc<DeadLetters>) -> SinkContext {
        let errors = &pipeline.validated.common().errors;
        let reports = errors.tolerance == Tolerance::All || errors.dead_letter_topic().is_some();
        SinkContext::new(pipeline.name(), 0, reports.then(|| reporter.clone() as Arc<dyn ErrantRecordReporter>))
    }

    async fn open(&mut self) -> Result<()> {
        self.context = Self::new_context(&self.pipeline, &self.reporter);
        self.task = Some((self.factory.open_task)(self.task_config.clone(), self.context.clone()).await?);
        self.resume().await
    }

    /// Delivery goes on, per queue, from the position the task says it stored, else from the
    /// committed offset (what the runtime does when it hands a task its queues).
    async fn resume(&mut self) -> Result<()> {
        let queues: Vec<QueueId> = self.topics.keys().map(|topic| Self::queue(topic)).collect();
        let stored = self.task_mut()?.stored_offsets(&queues).await?;
        self.delivered = self.committed.clone();
        self.delivered.extend(stored.into_iter().filter(|(queue, _)| queues.contains(queue)));
        Ok(())
    }

    fn queue(topic: &str) -> QueueId {
        QueueId { topic: topic.to_owned(), broker_name: BROKER.to_owned(), queue_id: 0 }
    }

    /// Appends a schemaless record to `topic`, serialized with the configured converters.
    pub fn send(&mut self, topic: &str, key: impl Into<Value>, value: impl Into<Value>) -> Result<()> {
        self.send_record(Record { key: key.into(), ..Record::new(topic, value) })
    }

    /// Appends `record` (with its schemas and headers) to its topic.
    pub fn send_record(&mut self, record: Record) -> Result<()> {
        let converters = &self.pipeline.converters;
        let key = converters.key.encode(&record.topic, record.key_schema.as_ref(), &record.key)?;
        let value = converters.value.encode(&record.topic, record.value_schema.as_ref(), &record.value)?;
        self.send_raw(&record.topic, key, value, record.headers, record.timestamp);
        Ok(())
    }

    /// Appends already serialized bytes (for example bytes the converter cannot read).
    pub fn send_raw(&mut self, topic: &str, key: Option<Vec<u8>>, value: Option<Vec<u8>>, headers: Headers, timestamp: Option<i64>) {
        self.topics.entry(topic.to_owned()).or_default().push(StoredMessage { key, value, headers, timestamp });
    }

    /// Delivers every undelivered record of the subscribed, unpaused topics to `put`, in one
    /// batch. Returns how many were put. A record that fails conversion or a transform is
    /// dead-lettered with `errors.tolerance=all`, and fails the call otherwise.
    pub async fn deliver(&mut self) -> Result<usize> {
        let mut batch = Vec::new();
        let selection = self.pipeline.validated.common().topic_selection().cloned();
        for (topic, messages) in &self.topics {
            let queue = Self::queue(topic);
            if !selection.as_ref().is_none_or(|s| s.matches(topic)) || self.context.is_paused(&queue) {
                continue;
            }
            let start = self.delivered.get(&queue).copied().unwrap_or(0);
            for (offset, message) in messages.iter().enumerate().skip(usize::try_from(start).unwrap_or(0)) {
                let offset = offset as i64;
                match self.read(topic, offset, message) {
                    Ok(Some(record)) => batch.push(record),
                    Ok(None) => {}
                    Err(error) if self.pipeline.validated.common().errors.tolerance == Tolerance::All => {
                        let failed = SinkRecord::new(topic.clone(), 0, offset, Value::Null).with_broker(BROKER);
                        self.reporter.report(&failed, &error).await?;
                    }
                    Err(error) => return Err(error),
                }
                self.delivered.insert(queue.clone(), offset + 1);
            }
        }
        let count = batch.len();
        if count > 0 {
            self.task_mut()?.put(batch).await?;
        }
        Ok(count)
    }

    fn read(&self, topic: &str, offset: i64, message: &StoredMessage) -> Result<Option<SinkRecord>> {
        let converters = &self.pipeline.converters;
        let key = converters.key.decode(topic, message.key.as_deref())?;
        let value = converters.value.decode(topic, message.value.as_deref())?;
        let mut record = SinkRecord::new(topic, 0, offset, value.value).with_broker(BROKER);
        record.key = key.value;
        record.key_schema = key.schema;
        record.value_schema = value.schema;
        record.headers = message.headers.clone();
        record.timestamp = message.timestamp;
        let SinkRecord { broker_name, record } = record;
        let transformed = self.pipeline.chain.apply(record).map_err(Error::other)?;
        Ok(transformed.map(|record| SinkRecord { broker_name, record }))
    }

    /// Flushes the task with the delivered offsets, then commits them (or what the task's
    /// [`committable_offsets`](crate::SinkTask::committable_offsets) says of them).
    pub async fn flush(&mut self) -> Result<()> {
        let offsets = self.delivered.clone();
        let task = self.task_mut()?;
        task.flush(&offsets).await?;
        let committable = task.committable_offsets(&offsets);
        self.committed.extend(committable);
        Ok(())
    }

    /// Graceful restart: flush, close, reopen; delivery continues after the committed offsets.
    pub async fn restart(&mut self) -> Result<()> {
        self.flush().await?;
        self.close().await?;
        self.open().await
    }

    /// The queues handed to the running task again, as the runtime does when they change (a
    /// broker left or came back, a topic got more queues): a flush and commit, then delivery
    /// goes on from the positions the task returns from
    /// [`SinkTask::stored_offsets`](crate::SinkTask::stored_offsets) (what its destination
    /// holds now), else from the committed offsets. A sink whose stored positions lag what it
    /// wrote gets those records again.
    pub async fn reassign(&mut self) -> Result<()> {
        self.flush().await?;
        self.resume().await
    }

    /// Crash: the task is dropped without a flush or `close` (as a killed worker leaves it)
    /// and opened again; delivery continues after the positions it stored
    /// ([`SinkTask::stored_offsets`](crate::SinkTask::stored_offsets)), else after the
    /// committed offsets, so unflushed records are delivered again.
    pub async fn crash_and_restart(&mut self) -> Result<()> {
        drop(self.task.take());
        self.open().await
    }

    /// Where delivery continues for `topic`: the next record `deliver` hands to the task.
    pub fn next_offset(&self, topic: &str) -> i64 {
        self.delivered.get(&Self::queue(topic)).copied().unwrap_or(0)
    }

    /// Closes the task.
    pub async fn close(&mut self) -> Result<()> {
        match self.task.take() {
            Some(mut task) => task.close().await,
            None => Ok(()),
        }
    }

    /// Records reported as errant.
    pub fn dead_letters(&self) -> Vec<DeadLetter> {
        self.reporter.0.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The context the task was given (to check pauses and commit requests).
    pub fn context(&self) -> &SinkContext {
        &self.context
    }

    /// Committed consumer offsets.
    pub fn committed(&self) -> &QueueOffsets {
        &self.committed
    }

    fn task_mut(&mut self) -> Result<&mut Box<dyn DynSinkTask>> {
        self.task.as_mut().ok_or_else(|| Error::other("the harness has no open task; it was closed"))
    }
}
