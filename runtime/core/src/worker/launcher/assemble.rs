//! Runner assembly: what a task of a checked connector revision runs in. A source task gets
//! the producer, the offset log and, on an exactly-once worker, the scan of what the broker
//! already holds (made before the task opens, so it resumes from there); a sink task gets its
//! consumer, its errant-record reporter (the dead-letter topic, or the log under
//! `errors.tolerance=all`) and its share of the topics' queues. Either is counted against the
//! memory budget when the worker has one.

use std::sync::{Arc, Mutex, PoisonError};

use connect_sdk::config::{ConfigMap, Tolerance};
use connect_sdk::context::{ErrantRecordReporter, OffsetReader};
use connect_sdk::host::assembly::ValidatedConfig;
use connect_sdk::host::plugin::ConnectorFactory;
use connect_sdk::{Error, SinkContext, SourceContext};

use crate::cluster::lease::{Lease, TaskLease};
use crate::dlq::DeadLetterQueue;
use crate::memory::MemoryBudget;
use crate::metrics::Metrics;
use crate::mq::{MqClient, Producer};
use crate::retry::RetryPolicy;
use crate::state::offsets::SourceOffsets;
use crate::task::exactly_once::{ExactlyOnce, Resume};
use crate::task::sink::SinkRunner;
use crate::task::source::SourceRunner;
use crate::task::{RunnerSettings, TaskPipeline, TaskRunner};
use crate::topics::TopicRules;
use crate::watchdog::Calls;

/// What task runners are made of on this worker.
pub(crate) struct RunnerAssembly {
    pub(crate) settings: RunnerSettings,
    pub(crate) mq: MqClient,
    /// The worker's producer, until it stops (`None`: no more tasks start).
    pub(crate) producer: Mutex<Option<Arc<Producer>>>,
    pub(crate) offsets: SourceOffsets,
    pub(crate) metrics: Arc<Metrics>,
    /// This worker's lease in its cluster (`None` standalone): every task checks it before it writes.
    pub(crate) lease: Option<Arc<Lease>>,
    /// Calls into tasks in progress, watched for those that do not return.
    pub(crate) calls: Calls,
    /// The worker's memory budget, counting every task's heap.
    pub(crate) memory: Option<MemoryBudget>,
    /// The topics connectors may use.
    pub(crate) topics: TopicRules,
}

/// One task to open: its connector, its id among `count` tasks, its checked revision and its
/// own config, resolved.
pub(crate) struct TaskToOpen<'a> {
    pub(crate) connector: &'a str,
    pub(crate) id: u32,
    pub(crate) count: u32,
    /// The claim this run of the task holds (its fencing token in a cluster).
    pub(crate) generation: u64,
    pub(crate) validated: &'a ValidatedConfig,
    pub(crate) config: ConfigMap,
}

impl RunnerAssembly {
    /// Opens the task and assembles the runner its loop is.
    pub(crate) async fn open(&self, task: TaskToOpen<'_>) -> Result<Box<dyn TaskRunner>, Error> {
        let TaskToOpen { connector, id, count, generation, validated, config } = task;
        let pipeline = self.pipeline(validated, connector, id);
        let producer = self.producer()?;
        let runner: Box<dyn TaskRunner> = match validated.plugin().factory {
            ConnectorFactory::Source(factory) => {
                // An exactly-once task looks at what the broker holds before it opens: records no
                // commit covered give it the offsets it resumes from.
                let resume = match self.settings.exactly_once_source && factory.repeatable {
                    true => {
                        let eos = ExactlyOnce::new(connector, id, self.mq.clone(), self.offsets.clone());
                        Some(Resume::scan(eos, self.offsets.reader(connector)).await?)
                    }
                    false => None,
                };
                let reader = resume.as_ref().map_or_else(|| self.offsets.reader(connector), |r| r.given.clone() as Arc<dyn OffsetReader>);
                let context = SourceContext::new(connector, id, reader).with_task_count(count);
                let task = (factory.open_task)(config, context.clone()).await?;
                Box::new(SourceRunner::new(pipeline, task, producer, self.offsets.clone(), self.mq.clone(), context, resume))
            }
            ConnectorFactory::Sink(factory) => {
                let errors = &validated.common().errors;
                let dlq = errors.dead_letter_topic().map(|topic| {
                    let producer = producer.clone();
                    Arc::new(DeadLetterQueue { topic: topic.to_owned(), connector: connector.to_owned(), task: id, producer })
                });
                let reporter = match (&dlq, errors.tolerance) {
                    (Some(dlq), _) => Some(dlq.clone() as Arc<dyn ErrantRecordReporter>),
                    (None, Tolerance::All) => Some(Arc::new(LoggingReporter) as Arc<dyn ErrantRecordReporter>),
                    (None, Tolerance::None) => None,
                };
                let mut context = SinkContext::new(connector, id, reporter).with_task_count(count);
                if self.lease.is_some() {
                    // A cluster's claims are positions in its status topic: they only grow.
                    context = context.with_fencing_token(generation);
                }
                let topics = validated
                    .common()
                    .topic_selection()
                    .cloned()
                    .ok_or_else(|| Error::other("a sink needs \"topics\" or \"topics.regex\""))?;
                let task = (factory.open_task)(config, context.clone()).await?;
                let group = sink_group(connector);
                let consumer = self.mq.consumer(&group, &[], self.settings.max_batch_records as i32).await?;
                Box::new(SinkRunner::new(pipeline, task, context, consumer, dlq, topics, self.mq.clone(), count))
            }
        };
        Ok(match &self.memory {
            Some(budget) => budget.count(connector, id, runner),
            None => runner,
        })
    }

    /// No more tasks start: the producer is handed back for the worker to stop.
    pub(crate) fn close(&self) -> Option<Arc<Producer>> {
        self.producer.lock().unwrap_or_else(PoisonError::into_inner).take()
    }

    pub(crate) fn producer(&self) -> Result<Arc<Producer>, Error> {
        self.producer.lock().unwrap_or_else(PoisonError::into_inner).clone().ok_or_else(|| Error::other("the worker is shutting down"))
    }

    fn pipeline(&self, config: &ValidatedConfig, connector: &str, task: u32) -> TaskPipeline {
        let errors = config.common().errors.clone();
        TaskPipeline {
            connector: connector.to_owned(),
            task,
            retry: RetryPolicy::from_config(&errors),
            errors,
            chain: config.chain(),
            converters: config.converters(),
            metrics: self.metrics.task(connector, task),
            settings: self.settings,
            lease: TaskLease::of(self.lease.as_ref()),
            calls: self.calls.of_task(connector, task),
            topics: self.topics.clone(),
        }
    }
}

/// The consumer group of a sink connector.
pub(crate) fn sink_group(connector: &str) -> String {
    crate::mq::connector_group(connector, "")
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
