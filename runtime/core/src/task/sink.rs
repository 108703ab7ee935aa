//! The sink task loop: consume → converters → transforms → `put` in batches → `flush` after
//! every batch → consumer offsets committed (while the next batch is polled), only after
//! `flush` succeeded. A task that stored its positions is read from them.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use connect_sdk::QueueOffsets;
use connect_sdk::config::TopicSelection;
use connect_sdk::converter::RecordConverters;
use connect_sdk::host::plugin::DynSinkTask;
use connect_sdk::record::{QueueId, SinkRecord};
use connect_sdk::transform::TransformChain;
use connect_sdk::{Error, SinkContext};
use rocketmq_model::common::message::message_ext::MessageExt;
use rocketmq_model::common::message::message_queue::MessageQueue;

use super::outage::BrokerWait;
use super::stage::Stage;
use super::{Control, StatusCell, TaskPipeline, wait_while_paused};
use crate::cluster::lease::TaskLease;
use crate::dlq::DeadLetterQueue;
use crate::metrics::{Counter, TaskGauge, TaskHistogram, TaskMetrics};
use crate::mq::{Consumer, MqClient, queue_id, queue_of};
use crate::wire::{self, RawRecord};

/// Everything a sink task needs to run.
pub struct SinkRunner {
    /// Pipeline, policy and metrics.
    pipeline: TaskPipeline,
    /// The opened task.
    task: Box<dyn DynSinkTask>,
    /// Its context (pause/resume and commit requests come through it).
    context: SinkContext,
    /// The consumer of the connector's group.
    consumer: Consumer,
    /// Where failed records go, when configured.
    dlq: Option<Arc<DeadLetterQueue>>,
    /// Topics to read: a list, or a regular expression matched against every topic.
    topics: TopicSelection,
    /// The client, to list topics for `topics.regex`.
    mq: MqClient,
    /// How many tasks share the topics' queues (this task reads every `task_count`-th queue).
    task_count: u32,
    /// Last known lag per queue.
    lags: HashMap<QueueId, i64>,
    /// The commit of consumer offsets in progress (one at a time, so they land in order).
    committing: Option<tokio::task::JoinHandle<Result<(), Error>>>,
}

impl SinkRunner {
    /// The runner of an opened sink task, reading with `consumer` its share of `topics` (one
    /// of `task_count` tasks), failed records to `dlq` when given.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        pipeline: TaskPipeline,
        task: Box<dyn DynSinkTask>,
        context: SinkContext,
        consumer: Consumer,
        dlq: Option<Arc<DeadLetterQueue>>,
        topics: TopicSelection,
        mq: MqClient,
        task_count: u32,
    ) -> SinkRunner {
        SinkRunner { pipeline, task, context, consumer, dlq, topics, mq, task_count, lags: HashMap::new(), committing: None }
    }
}

/// The property the broker sets on pulled messages: the queue's max offset at pull time.
const MAX_OFFSET: &str = "MAX_OFFSET";

/// How often a sink task looks for queues added to its topics (and for topics created late).
const ASSIGNMENT_REFRESH: Duration = Duration::from_secs(10);
/// How soon it looks again while a topic does not exist yet.
const MISSING_TOPIC_RETRY: Duration = Duration::from_secs(1);

impl SinkRunner {
    /// Runs until stopped (`Ok`) or failed (`Err`); flushes, commits and closes on the way out.
    pub async fn run(mut self, mut control: Control, status: StatusCell) -> Result<(), Error> {
        let mut offsets = QueueOffsets::new();
        let broker = BrokerWait::new(status.clone(), control.clone(), self.pipeline.metrics.clone());
        self.pipeline.calls.attach(&status);
        let result = self.run_loop(&mut control, &status, &broker, &mut offsets).await;
        // Nothing more is read: the pulls in flight come back while the task flushes.
        self.consumer.stop_delivery().await;
        let result = match result {
            Ok(()) => self.flush_and_commit(&broker, &offsets).await.map(drop),
            Err(e) => Err(e),
        };
        let closed = self.task.close().await;
        self.consumer.shutdown().await;
        result.and(closed)
    }

    async fn run_loop(
        &mut self,
        control: &mut Control,
        status: &StatusCell,
        broker: &BrokerWait,
        offsets: &mut QueueOffsets,
    ) -> Result<(), Error> {
        let mut paused: BTreeSet<QueueId> = BTreeSet::new();
        let mut assigned: Vec<MessageQueue> = Vec::new();
        let mut next_assignment = Instant::now();
        // Offsets flushed to the task but not yet committed: committed while the next batch is polled.
        let mut flushed: Option<QueueOffsets> = None;
        let timeout = self.pipeline.settings.poll_timeout.as_millis() as u64;
        while wait_while_paused(control, status).await {
            if Instant::now() >= next_assignment {
                let (queues, complete) = self.my_queues(&assigned).await;
                if queues != assigned {
                    let committed = self.flush_and_commit(broker, offsets).await?;
                    flushed = None;
                    broker.run(|| self.consumer.assign(queues.clone())).await?;
                    self.resume(broker, &queues, &committed, offsets).await?;
                    tracing::debug!(connector = %self.pipeline.connector, task = self.pipeline.task, queues = queues.len(), "sink queues assigned");
                    assigned = queues;
                }
                next_assignment = Instant::now() + if complete { ASSIGNMENT_REFRESH } else { MISSING_TOPIC_RETRY };
            }
            if assigned.is_empty() {
                tokio::time::sleep(self.pipeline.settings.poll_timeout).await;
                continue;
            }
            self.apply_pauses(&mut paused).await;
            self.commit_in_background(broker, &mut flushed).await?;
            let messages = self.consumer.poll_shared(timeout).await;
            let mut advanced = false;
            if !messages.is_empty() {
                tracing::trace!(connector = %self.pipeline.connector, first = ?messages.first().map(|m| (m.queue_id(), m.queue_offset())),
                    last = ?messages.last().map(|m| (m.queue_id(), m.queue_offset())), count = messages.len(), "polled");
                self.pipeline.metrics.add(Counter::SinkRecordsRead, messages.len() as u64);
                let before = offsets.clone();
                let batch = self.convert(&messages, offsets).await?;
                self.put(batch).await?;
                advanced = *offsets != before;
            }
            // Every batch is flushed, and its offsets committed with the next poll: a crash
            // repeats at most the batch in flight (and nothing for a sink keeping its positions).
            if (advanced || self.context.take_commit_request()) && !offsets.is_empty() {
                self.flush(offsets).await?;
                flushed = Some(self.task.committable_offsets(offsets));
                self.commit_in_background(broker, &mut flushed).await?;
            }
        }
        Ok(())
    }

    /// Starts committing `flushed` on a tokio task of its own, unless a commit is still in
    /// progress (then they wait for the next call: one commit at a time, so they land in
    /// order); the task polls and puts meanwhile. A finished commit's failure is returned.
    async fn commit_in_background(&mut self, broker: &BrokerWait, flushed: &mut Option<QueueOffsets>) -> Result<(), Error> {
        if let Some(done) = self.committing.take_if(|commit| commit.is_finished()) {
            done.await.map_err(|e| Error::other(format!("committing offsets stopped: {e}")))??;
        }
        if self.committing.is_none()
            && let Some(offsets) = flushed.take().filter(|o| !o.is_empty())
        {
            let (consumer, broker) = (self.consumer.clone(), broker.clone());
            let (lease, metrics) = (self.pipeline.lease.clone(), self.pipeline.metrics.clone());
            self.committing = Some(tokio::spawn(async move { commit(&consumer, &lease, &metrics, &broker, offsets).await }));
        }
        Ok(())
    }

    /// Waits for the commit in progress, if any.
    async fn committed(&mut self) -> Result<(), Error> {
        match self.committing.take() {
            Some(commit) => commit.await.map_err(|e| Error::other(format!("committing offsets stopped: {e}")))?,
            None => Ok(()),
        }
    }

    /// Reads each of `queues` from the position the task stored for it (a sink keeping its
    /// positions in its destination), else from `committed`, the offset this run just
    /// committed for it (a queue it kept across a change of its queues: the consumer's own
    /// position may be past records the task buffered and dropped, or behind what it wrote),
    /// else from the group's committed offset as the broker has it now (a queue new to this
    /// run: what the worker remembers of it may be older, when the queue's task ran here
    /// before; never before the queue's first record still stored), else from its first record.
    async fn resume(
        &mut self,
        broker: &BrokerWait,
        queues: &[MessageQueue],
        committed: &QueueOffsets,
        offsets: &mut QueueOffsets,
    ) -> Result<(), Error> {
        offsets.clear();
        let ids: Vec<QueueId> = queues.iter().map(queue_id).collect();
        let stored = self.task.stored_offsets(&ids).await?;
        for (queue, id) in queues.iter().zip(ids) {
            let position = match stored.get(&id).or_else(|| committed.get(&id)) {
                Some(&position) => position,
                None => match broker.run(|| self.consumer.committed(queue)).await? {
                    // Not below what the queue still holds: records past retention are gone,
                    // and a position before them would have the gap check rewind forever.
                    Some(position) => position.max(broker.run(|| self.consumer.min_offset(queue)).await?),
                    None => continue,
                },
            };
            broker.run(|| self.consumer.seek(queue, position)).await?;
            tracing::debug!(connector = %self.pipeline.connector, queue = ?queue, position, stored = stored.contains_key(&id), "resuming the queue");
            // Expected next: the gap check rewinds if the consumer reads from elsewhere.
            offsets.insert(id, position);
        }
        Ok(())
    }

    /// This task's share of the topics' queues: every `task_count`-th queue in a stable order.
    /// The flag is false while some topic does not exist yet. A topic that cannot be looked
    /// up (the broker away, or not created yet) keeps the queues of it in `assigned`.
    async fn my_queues(&mut self, assigned: &[MessageQueue]) -> (Vec<MessageQueue>, bool) {
        let mut all = Vec::new();
        let mut complete = true;
        let topics = match &self.topics {
            TopicSelection::List(topics) => topics.clone(),
            TopicSelection::Regex(regex) => match self.mq.topics().await {
                Ok(topics) => {
                    // Never the worker's own topics, nor RocketMQ's, whatever the pattern matches.
                    let rules = &self.pipeline.topics;
                    let matching: Vec<String> = topics.into_iter().filter(|t| regex.is_match(t) && rules.refusal(t).is_none()).collect();
                    // Look again soon while nothing matches: the topics may be about to appear.
                    complete = !matching.is_empty();
                    matching
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot list topics for topics.regex; the assigned queues are kept");
                    return (assigned.to_vec(), false);
                }
            },
        };
        let mut kept = Vec::new();
        for topic in &topics {
            match self.consumer.queues(topic).await {
                Ok(queues) => all.extend(queues),
                Err(error) => {
                    tracing::debug!(topic = %topic, %error, "topic not readable yet");
                    kept.extend(assigned.iter().filter(|q| q.topic_str() == topic.as_str()).cloned());
                    complete = false;
                }
            }
        }
        let order = |a: &MessageQueue, b: &MessageQueue| {
            (a.topic_str(), a.broker_name().as_str(), a.queue_id()).cmp(&(b.topic_str(), b.broker_name().as_str(), b.queue_id()))
        };
        all.sort_by(order);
        let mut mine: Vec<MessageQueue> =
            all.into_iter().enumerate().filter(|(i, _)| *i as u32 % self.task_count.max(1) == self.pipeline.task).map(|(_, q)| q).collect();
        mine.extend(kept);
        mine.sort_by(order);
        (mine, complete)
    }

    async fn apply_pauses(&mut self, applied: &mut BTreeSet<QueueId>) {
        let wanted: BTreeSet<QueueId> = self.context.paused_queues().into_iter().collect();
        if wanted == *applied {
            return;
        }
        self.consumer.pause(wanted.difference(applied).map(queue_of).collect()).await;
        self.consumer.resume(applied.difference(&wanted).map(queue_of).collect()).await;
        *applied = wanted;
    }

    async fn convert(&mut self, messages: &[Arc<MessageExt>], offsets: &mut QueueOffsets) -> Result<Vec<SinkRecord>, Error> {
        let mut batch = Vec::with_capacity(messages.len());
        let mut rewound: BTreeSet<QueueId> = BTreeSet::new();
        let mut run: Option<QueueRun> = None;
        for message in messages {
            let run = match &mut run {
                Some(current) if current.holds(message) => current,
                _ => {
                    if let Some(done) = run.take() {
                        self.end_run(done, offsets);
                    }
                    run.insert(QueueRun::start(message, offsets, &rewound))
                }
            };
            if run.rewound {
                continue;
            }
            let position = message.queue_offset();
            // `next` is the position after the last record read from the queue (since the last assignment).
            if let Some(expected) = run.next
                && position > expected
            {
                // The consumer skipped records: read them again rather than commit past them.
                let queue = &run.queue;
                tracing::warn!(topic = %queue.topic, queue = queue.queue_id, expected, got = position, "gap in consumed offsets; rewinding");
                self.pipeline.metrics.add(Counter::OffsetGaps, 1);
                self.consumer.seek(&queue_of(queue), expected).await.map_err(Error::from)?;
                rewound.insert(queue.clone());
                run.rewound = true;
                continue;
            }
            if run.next.is_some_and(|expected| position < expected) {
                continue; // already delivered in this batch window (a rewind re-reads)
            }
            let raw = wire::from_message(message);
            match self.to_sink_record(&raw, &run.queue, position) {
                Ok(Some(record)) => batch.push(record),
                Ok(None) => self.pipeline.metrics.add(Counter::RecordsFiltered, 1),
                Err((stage, error)) => {
                    let pipeline = &self.pipeline;
                    if let Some(dlq) = self.dlq.as_ref().filter(|_| pipeline.skips(&error)) {
                        dlq.send(&raw, &run.queue, position, &error, &stage).await?;
                        pipeline.metrics.add(Counter::DeadLettered, 1);
                    }
                    pipeline.tolerate(&stage, error, || format!("topic={} queue={} offset={position}", raw.topic, run.queue.queue_id))?;
                }
            }
            run.next = Some(position + 1);
            run.last_read = Some(message.as_ref());
        }
        if let Some(done) = run {
            self.end_run(done, offsets);
        }
        let lag = self.lags.values().copied().max().unwrap_or(0);
        self.pipeline.metrics.set(TaskGauge::SinkRecordLagMax, lag.unsigned_abs());
        Ok(batch)
    }

    /// Records where a run of one queue's messages left off: the position to commit, and the
    /// queue's lag as its last message read reports it.
    fn end_run(&mut self, run: QueueRun<'_>, offsets: &mut QueueOffsets) {
        if let Some(last) = run.last_read
            && let Some(max) = last.properties().get(MAX_OFFSET).and_then(|v| v.as_str().parse::<i64>().ok())
        {
            self.lags.insert(run.queue.clone(), (max - last.queue_offset() - 1).max(0));
        }
        if let Some(next) = run.next {
            offsets.insert(run.queue, next);
        }
    }

    /// The sink record of `raw` through the converters and transforms ([`to_sink_record`]).
    fn to_sink_record(&self, raw: &RawRecord, queue: &QueueId, position: i64) -> Result<Option<SinkRecord>, (Stage, Error)> {
        to_sink_record(&self.pipeline.converters, &self.pipeline.chain, raw, queue, position)
    }

    async fn put(&mut self, batch: Vec<SinkRecord>) -> Result<(), Error> {
        if batch.is_empty() {
            return Ok(());
        }
        self.pipeline.lease.check()?;
        let count = batch.len();
        let pipeline = &self.pipeline;
        observe_ages(&pipeline.metrics, &batch);
        let call = pipeline.calls.enter("put");
        pipeline.retry.run_on_with(&pipeline.metrics, &mut self.task, batch, |task, batch| task.put(batch)).await?;
        drop(call);
        pipeline.metrics.batch(count);
        pipeline.metrics.add(Counter::SinkRecordsPut, count as u64);
        Ok(())
    }

    /// Flushes the task with `offsets` and commits them (what the task says of them may be
    /// committed), waiting for the broker's answer; returns what was committed.
    async fn flush_and_commit(&mut self, broker: &BrokerWait, offsets: &QueueOffsets) -> Result<QueueOffsets, Error> {
        // The commit in progress lands first: offsets never go back.
        self.committed().await?;
        if offsets.is_empty() {
            return Ok(QueueOffsets::new());
        }
        // A flush makes what was put visible (a file sink writes its lines): a fenced task,
        // whose unit a new owner runs, flushes nothing.
        self.pipeline.lease.check()?;
        self.flush(offsets).await?;
        let committable = self.task.committable_offsets(offsets);
        let pipeline = &self.pipeline;
        commit(&self.consumer, &pipeline.lease, &pipeline.metrics, broker, committable.clone()).await?;
        Ok(committable)
    }

    async fn flush(&mut self, offsets: &QueueOffsets) -> Result<(), Error> {
        let call = self.pipeline.calls.enter("flush");
        let flushed = self.task.flush(offsets).await;
        drop(call);
        if let Err(error) = flushed {
            self.pipeline.metrics.add(Counter::OffsetCommitFailure, 1);
            return Err(error);
        }
        Ok(())
    }
}

/// Commits `offsets` (flushed by the task) to the broker, waiting while it is unreachable.
async fn commit(
    consumer: &Consumer,
    lease: &TaskLease,
    metrics: &TaskMetrics,
    broker: &BrokerWait,
    offsets: QueueOffsets,
) -> Result<(), Error> {
    if offsets.is_empty() {
        return Ok(());
    }
    lease.check()?;
    let started = Instant::now();
    let map: HashMap<_, _> = offsets.iter().map(|(q, o)| (queue_of(q), *o)).collect();
    if let Err(error) = broker.run(|| consumer.commit(map.clone())).await {
        metrics.add(Counter::OffsetCommitFailure, 1);
        return Err(error);
    }
    metrics.add(Counter::OffsetCommitSuccess, 1);
    metrics.add(Counter::OffsetCommitMicros, started.elapsed().as_micros() as u64);
    Ok(())
}

/// Consecutive messages of one queue within a poll (the usual shape of a poll): the queue is
/// named and looked up once per run rather than once per message.
struct QueueRun<'m> {
    queue: QueueId,
    /// The position after the last record read from the queue, once known.
    next: Option<i64>,
    /// The queue was rewound in this poll: the rest of its messages are read again later.
    rewound: bool,
    /// The run's last message read (its properties carry the queue's end, for the lag).
    last_read: Option<&'m MessageExt>,
}

impl<'m> QueueRun<'m> {
    fn start(message: &MessageExt, offsets: &QueueOffsets, rewound: &BTreeSet<QueueId>) -> QueueRun<'m> {
        let queue =
            QueueId { topic: message.topic().to_string(), broker_name: message.broker_name().to_owned(), queue_id: message.queue_id() };
        QueueRun { next: offsets.get(&queue).copied(), rewound: rewound.contains(&queue), queue, last_read: None }
    }

    fn holds(&self, message: &MessageExt) -> bool {
        self.queue.queue_id == message.queue_id()
            && self.queue.topic == message.topic().as_str()
            && self.queue.broker_name == message.broker_name()
    }
}

/// The age of each record of `batch` about to be put (now less its timestamp), in
/// `connect_sink_record_age_seconds`; a timestamp in the future counts as age 0.
fn observe_ages(metrics: &TaskMetrics, batch: &[SinkRecord]) {
    let now = connect_sdk::record::now_millis();
    for timestamp in batch.iter().filter_map(|r| r.record.timestamp) {
        let age = Duration::from_millis(now.saturating_sub(timestamp).max(0) as u64);
        metrics.observe(TaskHistogram::SinkRecordAge, age, 1);
    }
}

/// The sink record of `raw`, read from `queue` at `position`, through `converters` and `chain`
/// as a sink task gets it (`None`: a transform dropped it), or the stage that refused it.
/// `connect-worker test` reads fixture records with it.
pub fn to_sink_record(
    converters: &RecordConverters,
    chain: &TransformChain,
    raw: &RawRecord,
    queue: &QueueId,
    position: i64,
) -> Result<Option<SinkRecord>, (Stage, Error)> {
    let key = converters.key.decode(&raw.topic, raw.key.as_deref()).map_err(|e| (Stage::KeyConverter, Error::Data(e)))?;
    let value = converters.value.decode(&raw.topic, raw.value.as_deref()).map_err(|e| (Stage::ValueConverter, Error::Data(e)))?;
    let mut record = SinkRecord::new(raw.topic.clone(), queue.queue_id, position, value.value).with_broker(queue.broker_name.clone());
    record.key = key.value;
    record.key_schema = key.schema;
    record.value_schema = value.schema;
    record.timestamp = raw.timestamp;
    for (name, text) in &raw.headers {
        record.headers.add(name.clone(), text.as_str());
    }
    let SinkRecord { broker_name, record } = record;
    match chain.apply(record) {
        Ok(transformed) => Ok(transformed.map(|record| SinkRecord { broker_name, record })),
        Err(e) => Err((Stage::Transformation(e.alias), e.source)),
    }
}
