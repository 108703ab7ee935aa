//! The source task loop: poll → transforms → converters → batched, bounded sends → offsets
//! committed only for records the broker acknowledged.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use connect_sdk::host::plugin::DynSourceTask;
use connect_sdk::offsets::{SourceOffset, SourcePartition};
use connect_sdk::record::{QueueId, SourceRecord};
use connect_sdk::{Error, SourceContext};
use futures_util::stream::{self, StreamExt, TryStreamExt};
use tokio::sync::mpsc;

use super::outbox::{Coalesce, Outbox, Placed};

use super::exactly_once::{ExactlyOnce, Held, HeldOffsets, Resume, StoredRecords};
use super::outage::BrokerWait;
use super::{Control, RunnerSettings, StatusCell, TaskPipeline, stop_requested, wait_while_paused};
use crate::metrics::{Counter, TaskHistogram, TaskMetrics};
use crate::mq::{MqClient, Producer, queue_id};
use crate::state::configs::TargetState;
use crate::state::offsets::SourceOffsets;
use crate::wire::{self, RawRecord};
use cheetah_string::CheetahString;
use rocketmq_model::common::message::message_queue::MessageQueue;

/// Everything a source task needs to run.
pub struct SourceRunner {
    /// Pipeline, policy and metrics.
    pipeline: TaskPipeline,
    /// The opened task.
    task: Box<dyn DynSourceTask>,
    /// The worker's producer.
    producer: Arc<Producer>,
    /// Where offsets are committed.
    offsets: SourceOffsets,
    /// Queues of the topics written to.
    routes: Routes,
    /// The task's context (its early-commit requests).
    context: SourceContext,
    /// Exactly-once delivery, when the worker provides it: the scan made before the task opened.
    exactly_once: Option<Resume>,
}

impl SourceRunner {
    /// The runner of an opened source task: it sends with `producer` (to queues it looks up
    /// through `mq`), commits to `offsets`, and when `exactly_once` is given drops what that
    /// scan found already stored.
    pub fn new(
        pipeline: TaskPipeline,
        task: Box<dyn DynSourceTask>,
        producer: Arc<Producer>,
        offsets: SourceOffsets,
        mq: MqClient,
        context: SourceContext,
        exactly_once: Option<Resume>,
    ) -> SourceRunner {
        SourceRunner { pipeline, task, producer, offsets, routes: Routes::new(mq), context, exactly_once }
    }

    /// Runs until stopped (`Ok`) or failed (`Err`); closes the task either way.
    pub async fn run(self, mut control: Control, status: StatusCell) -> Result<(), Error> {
        let SourceRunner { pipeline, mut task, producer, offsets, routes, context, exactly_once } = self;
        pipeline.calls.attach(&status);
        let broker = BrokerWait::new(status.clone(), control.clone(), pipeline.metrics.clone());
        let result = async {
            let delivery = match exactly_once {
                Some(resume) => Some(Delivery::start(resume, &pipeline, &broker).await?),
                None => None,
            };
            let recorded = delivery.as_ref().map(|d| (d.eos.clone(), d.eos.recorded_queues()));
            let sender = Sender {
                broker: broker.clone(),
                metrics: pipeline.metrics.clone(),
                settings: pipeline.settings,
                producer,
                routes,
                recorded,
                lease: pipeline.lease.clone(),
            };
            run_loop(&pipeline, &mut task, &offsets, sender, delivery, &context, &mut control, &status).await
        }
        .await;
        let closed = task.close().await;
        result.and(closed)
    }
}

/// A task's exactly-once state: what the broker already held when it started, and how its
/// records are marked and its offsets committed.
struct Delivery {
    eos: ExactlyOnce,
    stored: StoredRecords,
    /// The offsets the task read, some from records no commit covered: committed with the next commit.
    given: Arc<HeldOffsets>,
}

impl Delivery {
    /// Commits the offsets the task was given from the broker's records when it opened (it
    /// resumes after those records, so they are no longer looked for).
    async fn start(resume: Resume, pipeline: &TaskPipeline, broker: &BrokerWait) -> Result<Delivery, Error> {
        let Resume { eos, held: Held { mut stored, ends, .. }, given } = resume;
        let recovered = given.take_recovered();
        if !recovered.is_empty() {
            for (partition, _) in &recovered {
                stored.forget(given.key(partition));
            }
            pipeline.lease.check()?;
            tracing::info!(connector = %pipeline.connector, task = pipeline.task, partitions = recovered.len(),
                "resuming after records the broker holds that no commit covered: their offsets are committed");
            broker
                .run(|| async { eos.commit(recovered.clone(), &ends).await.map_err(|e| Error::other(format!("committing offsets: {e}"))) })
                .await?;
        }
        Ok(Delivery { eos, stored, given })
    }
}

/// Polls and converts batches and hands them to the [`Sender`], which sends them in order on
/// its own tokio task: the task's own work runs in parallel with the broker round trip of the
/// previous batch, and what is polled during one send goes out together in the next (an
/// [`Outbox`]). Offsets are committed as the sender reports batches acknowledged.
#[allow(clippy::too_many_arguments)]
async fn run_loop(
    pipeline: &TaskPipeline,
    task: &mut Box<dyn DynSourceTask>,
    offsets: &SourceOffsets,
    sender: Sender,
    mut delivery: Option<Delivery>,
    context: &SourceContext,
    control: &mut Control,
    status: &StatusCell,
) -> Result<(), Error> {
    let limit = pipeline.settings.max_batch_records.max(1);
    // As many bytes as the sends in flight carry at most: a task holds the batch being sent
    // and one more waiting, whatever the size of its records.
    let byte_limit = pipeline.settings.max_message_bytes.saturating_mul(pipeline.settings.max_in_flight.max(1));
    let (batches, mut acks, sending) = sender.spawn(limit, byte_limit);
    let mut acked = Acked::default();
    let mut last_commit = Instant::now();
    // Sends handed to the sender and not acknowledged yet (a batch merged into one waiting
    // is acknowledged with it).
    let mut in_flight = 0usize;
    // The offset write in progress: the loop polls on while it is written.
    let mut writing: Option<OffsetWrite> = None;
    let result: Result<(), Error> = async {
        loop {
            if *control.borrow() == TargetState::Paused && (in_flight > 0 || !acked.offsets.is_empty() || writing.is_some()) {
                // Pausing: what was sent is acknowledged and committed before the task idles.
                while in_flight > 0
                    && let Some(ack) = acks.recv().await
                {
                    in_flight -= 1;
                    acked.add(ack?);
                }
                if let Some(write) = writing.take() {
                    write.finish(pipeline, task).await?;
                }
                commit(pipeline, offsets, delivery.as_ref(), task, &mut acked).await?;
                last_commit = Instant::now();
            }
            if !wait_while_paused(control, status).await {
                break;
            }
            let polled_at = Instant::now();
            let records = {
                let _call = pipeline.calls.enter("poll");
                pipeline.retry.run_on(&pipeline.metrics, task, |task| task.poll()).await?
            };
            if records.is_empty() {
                // A poll that returned nothing at once is followed by a pause (a source that
                // never waits would spin); one that waited for its upstream is polled again now.
                if polled_at.elapsed() < EMPTY_POLL_PAUSE {
                    tokio::time::sleep(EMPTY_POLL_PAUSE).await;
                }
            } else {
                match batches.put(convert(pipeline, records, delivery.as_mut())?).await {
                    Ok(Placed::Alone) => in_flight += 1,
                    Ok(Placed::Merged) => {}
                    Err(_) => break, // the sender stopped on a failure, reported below
                }
            }
            while let Ok(ack) = acks.try_recv() {
                in_flight -= 1;
                acked.add(ack?);
            }
            if writing.as_ref().is_some_and(OffsetWrite::is_finished)
                && let Some(write) = writing.take()
            {
                write.finish(pipeline, task).await?;
            }
            let early = context.commit_requested() && !acked.offsets.is_empty();
            let due = early || last_commit.elapsed() >= pipeline.settings.offset_flush_interval || stop_requested(control);
            // One write at a time: what is acknowledged meanwhile goes with the next.
            if due && writing.is_none() {
                if early {
                    context.commit_done();
                }
                writing = OffsetWrite::start(pipeline, offsets, delivery.as_ref(), &mut acked)?;
                last_commit = Instant::now();
            }
        }
        Ok(())
    }
    .await;
    // The sender finishes the batches handed to it, then stops.
    batches.close();
    let _ = sending.await;
    let mut sent = Ok(());
    while let Some(ack) = acks.recv().await {
        match ack {
            Ok(ack) => acked.add(ack),
            Err(error) => sent = Err(error),
        }
    }
    // What the broker acknowledged is committed even after a failure: it is stored. The
    // write in progress lands first, so offsets are written in order.
    let written = match writing.take() {
        Some(write) => write.finish(pipeline, task).await,
        None => Ok(()),
    };
    let committed = commit(pipeline, offsets, delivery.as_ref(), task, &mut acked).await;
    result.and(sent).and(written).and(committed)?;
    match &delivery {
        // Stopped cleanly, with every record a previous run left uncommitted polled again:
        // everything this task's positions cover is committed, nothing to look for there.
        Some(delivery) if delivery.stored.is_empty() => {
            pipeline.lease.check()?;
            delivery.eos.forget_positions().await
        }
        _ => Ok(()),
    }
}

/// How long the loop pauses after a poll that returned nothing without waiting.
const EMPTY_POLL_PAUSE: Duration = Duration::from_millis(1);

/// Offsets of acknowledged records not committed yet, and the queue positions they reach.
#[derive(Default)]
struct Acked {
    offsets: BTreeMap<SourcePartition, SourceOffset>,
    positions: BTreeMap<QueueId, i64>,
}

impl Acked {
    fn add(&mut self, (offsets, positions): Acknowledged) {
        self.offsets.extend(offsets);
        self.positions.extend(positions);
    }
}

/// Writes the acknowledged offsets to the offset log (with the queue positions they reach,
/// for an exactly-once source), then tells the task (`SourceTask::commit`).
async fn commit(
    pipeline: &TaskPipeline,
    offsets: &SourceOffsets,
    delivery: Option<&Delivery>,
    task: &mut Box<dyn DynSourceTask>,
    acked: &mut Acked,
) -> Result<(), Error> {
    match OffsetWrite::start(pipeline, offsets, delivery, acked)? {
        Some(write) => write.finish(pipeline, task).await,
        None => Ok(()),
    }
}

/// Acknowledged offsets being written to the offset log, on a tokio task of their own: an
/// offset log on disk syncs, one in a topic waits for the broker, and the source polls on
/// meanwhile. The task is told (`SourceTask::commit`) once they are written.
struct OffsetWrite {
    committed: BTreeMap<SourcePartition, SourceOffset>,
    started: Instant,
    write: tokio::task::JoinHandle<Result<(), crate::state::log::LogError>>,
}

impl OffsetWrite {
    /// Starts writing what `acked` holds (and empties it); `None` when there is nothing to write.
    fn start(
        pipeline: &TaskPipeline,
        offsets: &SourceOffsets,
        delivery: Option<&Delivery>,
        acked: &mut Acked,
    ) -> Result<Option<OffsetWrite>, Error> {
        if let Some(delivery) = delivery {
            // Offsets the task read from the broker's records since it started (a partition it
            // opened late), unless it has gone past them.
            for (partition, offset) in delivery.given.take_recovered() {
                acked.offsets.entry(partition).or_insert(offset);
            }
        }
        if acked.offsets.is_empty() {
            return Ok(None);
        }
        pipeline.lease.check()?;
        let Acked { offsets: committed, positions } = std::mem::take(acked);
        let entries: Vec<(SourcePartition, SourceOffset)> = committed.iter().map(|(p, o)| (p.clone(), o.clone())).collect();
        let write = match delivery {
            Some(delivery) => {
                let eos = delivery.eos.clone();
                tokio::spawn(async move { eos.commit(entries, &positions).await })
            }
            None => {
                let (offsets, connector) = (offsets.clone(), pipeline.connector.clone());
                tokio::spawn(async move { offsets.commit(&connector, entries).await })
            }
        };
        Ok(Some(OffsetWrite { committed, started: Instant::now(), write }))
    }

    fn is_finished(&self) -> bool {
        self.write.is_finished()
    }

    /// Waits until the offsets are written, then tells the task.
    async fn finish(self, pipeline: &TaskPipeline, task: &mut Box<dyn DynSourceTask>) -> Result<(), Error> {
        let metrics = &pipeline.metrics;
        let written = match self.write.await {
            Ok(written) => written.map_err(|e| e.to_string()),
            Err(stopped) => Err(format!("the write stopped: {stopped}")),
        };
        match written {
            Ok(()) => {
                metrics.add(Counter::OffsetCommitSuccess, 1);
                metrics.add(Counter::OffsetCommitMicros, self.started.elapsed().as_micros() as u64);
                let _call = pipeline.calls.enter("commit");
                task.commit(&self.committed).await
            }
            Err(e) => {
                metrics.add(Counter::OffsetCommitFailure, 1);
                Err(Error::other(format!("committing offsets: {e}")))
            }
        }
    }
}

/// Converted records and the source offsets they carry (acknowledged once they are sent).
struct Batch {
    offsets: Vec<(SourcePartition, SourceOffset)>,
    records: Vec<(u64, RawRecord)>,
    /// The records' size on the wire.
    bytes: usize,
    /// When each poll merged into the batch returned, and how many records it gave.
    polls: Vec<(Instant, u64)>,
}

impl Coalesce for Batch {
    fn len(&self) -> usize {
        self.records.len()
    }

    fn bytes(&self) -> usize {
        self.bytes
    }

    fn append(&mut self, later: Batch) {
        // Offsets in poll order: a partition's later offset replaces its earlier one on commit.
        self.bytes += later.bytes;
        self.offsets.extend(later.offsets);
        self.records.extend(later.records);
        self.polls.extend(later.polls);
    }
}

/// Polled records through the transforms and converters; failed records follow `errors.tolerance`.
/// An exactly-once source's records are marked, and those the broker already holds dropped.
fn convert(pipeline: &TaskPipeline, records: Vec<SourceRecord>, mut delivery: Option<&mut Delivery>) -> Result<Batch, Error> {
    let polled = Instant::now();
    pipeline.metrics.add(Counter::SourceRecordsPolled, records.len() as u64);
    // Only the last offset of each run of records from one partition is kept: it covers the run.
    let mut offsets: Vec<(SourcePartition, SourceOffset)> = Vec::new();
    let mut pin = 0;
    let mut partition_key = 0;
    let mut out = Vec::with_capacity(records.len());
    let mut bytes = 0;
    let mut allowed_topic: Option<String> = None;
    for record in records {
        let SourceRecord { record, source_partition, source_offset } = record;
        let same_run = offsets.last().is_some_and(|(partition, _)| *partition == source_partition);
        if !same_run {
            // A new run: its partition's text pins its queue and, exactly once, keys its markers.
            let text = source_partition.to_json_string();
            pin = partition_hash(&text);
            if let Some(delivery) = &delivery {
                partition_key = delivery.eos.partition_key(&text);
            }
        }
        let marker = match delivery.as_deref_mut() {
            Some(delivery) => {
                let offset_json = source_offset.to_json_string();
                if !delivery.stored.is_empty() && delivery.stored.take(partition_key, &offset_json) {
                    pipeline.metrics.add(Counter::SourceRecordsDeduplicated, 1);
                    tracing::debug!(connector = %pipeline.connector, task = pipeline.task, offset = %offset_json, "polled again and held by the broker: not sent");
                    None
                } else {
                    Some(Some(CheetahString::from_string(delivery.eos.marker(partition_key, &offset_json))))
                }
            }
            None => Some(None),
        };
        match offsets.last_mut() {
            Some((_, offset)) if same_run => *offset = source_offset,
            _ => offsets.push((source_partition, source_offset)),
        }
        // Already in the broker: its offset counts, the record is not sent again.
        let Some(source_position) = marker else { continue };
        // Described up front only when errors are logged: the record moves into the chain.
        let errors = &pipeline.errors;
        let description = errors.log_enable.then(|| {
            let value = if errors.log_include_messages { record.value.to_string() } else { "<hidden>".to_owned() };
            let topic = record.topic.get(..record.topic.floor_char_boundary(200)).unwrap_or_default();
            format!("topic={topic} value={value}")
        });
        let transformed = match pipeline.chain.apply(record) {
            Ok(Some(r)) => r,
            Ok(None) => {
                pipeline.metrics.add(Counter::RecordsFiltered, 1);
                continue;
            }
            Err(e) => {
                pipeline.tolerate(Error::other(e), || description.unwrap_or_default())?;
                continue;
            }
        };
        // Checked once per run of records to one topic (a poll's records mostly share theirs).
        if allowed_topic.as_deref() != Some(transformed.topic.as_str()) {
            if let Some(refusal) = pipeline.topics.refusal(&transformed.topic) {
                pipeline.tolerate(Error::other(refusal), || description.unwrap_or_default())?;
                continue;
            }
            allowed_topic = Some(transformed.topic.clone());
        }
        let converters = &pipeline.converters;
        // The record is taken apart: its key and value move into the converters.
        let connect_sdk::record::Record { topic, key, key_schema, value, value_schema, headers, timestamp, .. } = transformed;
        let key = converters.key.encode_owned(&topic, key_schema.as_ref(), key);
        let value = converters.value.encode_owned(&topic, value_schema.as_ref(), value);
        match (key, value) {
            (Ok(key), Ok(value)) => {
                let raw = RawRecord {
                    topic,
                    key: key.map(Into::into),
                    value: value.map(Into::into),
                    headers: wire::header_pairs(&headers),
                    timestamp,
                    source_position,
                };
                let (size, limit) = (raw.wire_size(), pipeline.settings.max_message_bytes);
                if size > limit {
                    let error = format!(
                        "a record for {} of about {size} bytes is larger than the broker's message limit ({limit} bytes, its maxMessageSize)",
                        raw.topic
                    );
                    pipeline.tolerate(Error::other(error), || description.unwrap_or_default())?;
                    continue;
                }
                bytes += size;
                out.push((pin, raw));
            }
            (Err(e), _) | (_, Err(e)) => pipeline.tolerate(Error::Data(e), || description.unwrap_or_default())?,
        }
    }
    let count = out.len() as u64;
    Ok(Batch { offsets, records: out, bytes, polls: vec![(polled, count)] })
}

/// Where a source partition's records go (hashed from its JSON text): always the same queue
/// of a topic, so a sink reads them in the order the source produced them.
fn partition_hash(partition: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    partition.hash(&mut hasher);
    hasher.finish()
}

/// The offsets of one batch, reported once the broker acknowledged all of its records, with
/// the position after its last record in each queue.
type Ack = Result<Acknowledged, Error>;

/// A batch's offsets and the queue positions its records reach.
type Acknowledged = (Vec<(SourcePartition, SourceOffset)>, Vec<(QueueId, i64)>);

/// Where the records of one topic went in one send.
struct Sent {
    topic: String,
    /// The queue (learnt from the send when the topic had no route before).
    queue: Option<MessageQueue>,
    /// The positions of the last chunk stored.
    stored: Option<Stored>,
}

/// Where a group's chunks were stored: their queue, the first chunk's first position and the
/// position after the last chunk's last record.
struct Stored {
    queue: QueueId,
    first: i64,
    end: i64,
}

/// Sends a source task's converted batches, one after another, on a tokio task of its own.
struct Sender {
    /// Sends wait while the broker is unreachable.
    broker: BrokerWait,
    metrics: Arc<TaskMetrics>,
    settings: RunnerSettings,
    producer: Arc<Producer>,
    routes: Routes,
    /// For an exactly-once source: the queues whose position this task recorded, and where
    /// its next batch in each can start at the earliest (after its last acknowledged one).
    recorded: Option<(ExactlyOnce, HashMap<QueueId, i64>)>,
    /// Checked before each batch: a fenced task sends nothing.
    lease: crate::cluster::lease::TaskLease,
}

impl Sender {
    /// Starts sending: batches go in through the outbox (one waits while another is sent,
    /// and what is handed over meanwhile is merged into it while it holds fewer than `limit`
    /// records), acknowledgements come out of the channel, one per send; the sender stops
    /// after a failed send or once the outbox is closed and emptied.
    fn spawn(mut self, limit: usize, byte_limit: usize) -> (Arc<Outbox<Batch>>, mpsc::UnboundedReceiver<Ack>, tokio::task::JoinHandle<()>) {
        let outbox = Arc::new(Outbox::new(limit, byte_limit));
        let (ack_tx, ack_rx) = mpsc::unbounded_channel();
        let batches = outbox.clone();
        let handle = tokio::spawn(async move {
            while let Some(Batch { offsets, records, polls, .. }) = batches.take().await {
                let ack = self.send(records).await.map(|positions| (offsets, positions));
                if ack.is_ok() {
                    for (polled, count) in polls {
                        self.metrics.observe(TaskHistogram::SourceSend, polled.elapsed(), count);
                    }
                }
                let failed = ack.is_err();
                if ack_tx.send(ack).is_err() || failed {
                    break;
                }
            }
            batches.stop();
        });
        (outbox, ack_rx, handle)
    }

    /// Sends records grouped by topic and queue (each source partition pinned to one queue),
    /// in batches of at most `max_batch_records` records and `max_message_bytes` bytes; the batches of one queue go in order, at
    /// most `max_in_flight` queues at a time. Returns once the broker acknowledged every record.
    async fn send(&mut self, records: Vec<(u64, RawRecord)>) -> Result<Vec<(QueueId, i64)>, Error> {
        self.lease.check()?;
        let Sender { broker, metrics, settings, producer, routes, recorded, lease: _ } = self;
        let (broker, metrics, producer) = (&*broker, &**metrics, &**producer);
        let (max, max_bytes) = (settings.max_batch_records.max(1), settings.max_message_bytes);
        routes.missing.clear();
        // (topic, queue, records) in order of first appearance; consecutive records of one topic
        // and partition (the usual case) reuse the previous record's group without a lookup.
        let mut groups: Vec<(String, Option<MessageQueue>, Vec<RawRecord>)> = Vec::new();
        let mut last: Option<(u64, usize)> = None;
        for (pin, record) in records {
            let group = match last {
                Some((last_pin, group)) if last_pin == pin && groups[group].0 == record.topic => group,
                _ => {
                    let queue = routes.queue_for(&record.topic, pin).await;
                    let group = match groups.iter().position(|(topic, q, _)| *topic == record.topic && *q == queue) {
                        Some(group) => group,
                        None => {
                            groups.push((record.topic.clone(), queue, Vec::new()));
                            groups.len() - 1
                        }
                    };
                    last = Some((pin, group));
                    group
                }
            };
            groups[group].2.push(record);
        }
        if let Some((eos, recorded)) = recorded.as_mut() {
            // Where this task's records start in a queue it never wrote to, before they are sent.
            for queue in groups.iter().filter_map(|(_, queue, _)| queue.as_ref()) {
                if let std::collections::hash_map::Entry::Vacant(entry) = recorded.entry(queue_id(queue)) {
                    entry.insert(broker.run(|| eos.record_queue(queue)).await?);
                }
            }
        }
        let sends: Vec<_> = groups
            .into_iter()
            .map(|(topic, queue, records)| {
                // Where a batch found stored after a failed send may start.
                let resend_check = recorded.as_ref().and_then(|(eos, recorded)| Some((eos, *recorded.get(&queue_id(queue.as_ref()?))?)));
                async move {
                    let shared_topic = CheetahString::from_string_shared(topic.clone());
                    let (mut queue, mut resend_check) = (queue, resend_check);
                    let mut stored = None;
                    for chunk in wire::batches(&records, max, max_bytes) {
                        let mut attempts = 0;
                        let (used, first) = broker
                            .run(|| {
                                attempts += 1;
                                // Laid out per attempt (each attempt's messages get ids of their own).
                                let batch = wire::encode_batch(shared_topic.clone(), chunk).map_err(Error::other);
                                let queue = queue.clone();
                                // A retry first looks whether the failed attempt was stored after all.
                                let check = resend_check.filter(|_| attempts > 1);
                                async move {
                                    if let (Some((eos, from)), Some(queue)) = (check, &queue)
                                        && let Some(first) = already_stored(eos, queue, from, chunk).await?
                                    {
                                        return Ok((Some(queue.clone()), first));
                                    }
                                    producer.send_encoded(queue, batch?, chunk.len()).await.map_err(Error::from)
                                }
                            })
                            .await?;
                        // Later batches of a new topic follow the first one into its queue.
                        queue = queue.or(used);
                        let (chunk_first, end) = (first as i64, first as i64 + chunk.len() as i64);
                        // Where the group's records start: its first chunk's position.
                        let first = stored.as_ref().map_or(chunk_first, |s: &Stored| s.first);
                        stored = queue.as_ref().map(|q| Stored { queue: queue_id(q), first, end });
                        if let Some((_, from)) = resend_check.as_mut() {
                            *from = end;
                        }
                        metrics.batch(chunk.len());
                        metrics.add(Counter::SourceRecordsWritten, chunk.len() as u64);
                        tracing::trace!(topic = %topic, queue = ?queue.as_ref().map(queue_id), first = chunk_first, records = chunk.len(), "batch stored");
                    }
                    Ok::<Sent, Error>(Sent { topic, queue, stored })
                }
            })
            .collect();
        let used: Vec<Sent> = stream::iter(sends).buffer_unordered(settings.max_in_flight.max(1)).try_collect().await?;
        let mut positions = Vec::with_capacity(used.len());
        for Sent { topic, queue, stored } in used {
            routes.learn(topic, queue);
            if let Some(Stored { queue, first, end }) = stored {
                if let Some((eos, recorded)) = recorded.as_mut() {
                    if !recorded.contains_key(&queue) {
                        // A topic created by this send: its route was unknown before.
                        let first = BTreeMap::from([(queue.clone(), first)]);
                        broker.run(|| eos.record_positions(&first)).await?;
                    }
                    recorded.insert(queue.clone(), end);
                }
                positions.push((queue, end));
            }
        }
        Ok(positions)
    }
}

/// Where the broker stored `chunk` at or after `from` in `queue`, if a failed send stored it
/// after all (found by the records' markers).
async fn already_stored(eos: &ExactlyOnce, queue: &MessageQueue, from: i64, chunk: &[RawRecord]) -> Result<Option<u64>, Error> {
    let markers: Option<Vec<&str>> = chunk.iter().map(|r| r.source_position.as_ref().map(|m| m.as_str())).collect();
    let Some(markers) = markers else { return Ok(None) };
    let found = eos.find_batch(queue, from, &markers).await?;
    if let Some(first) = found {
        tracing::info!(topic = %queue.topic_str(), queue = queue.queue_id(), first, records = chunk.len(), "a batch whose send failed was stored after all; not sent again");
    }
    Ok(found.map(|first| first as u64))
}

/// Which queue each source partition's records go to. For a topic that exists, the partition's
/// hash picks one of its write queues; a topic the task creates gets all the task's records in
/// the queue its first batch landed in (its route is unknown until that send created it).
pub struct Routes {
    mq: MqClient,
    queues: HashMap<String, Vec<MessageQueue>>,
    learned: HashMap<String, MessageQueue>,
    /// Topics found without a route during the current send (looked up once per send).
    missing: std::collections::HashSet<String>,
}

/// Queues of a topic a source creates (RocketMQ's `defaultTopicQueueNums`).
const NEW_TOPIC_QUEUES: u32 = 4;

impl Routes {
    /// Routes looked up through `mq`.
    pub fn new(mq: MqClient) -> Routes {
        Routes { mq, queues: HashMap::new(), learned: HashMap::new(), missing: Default::default() }
    }

    async fn queue_for(&mut self, topic: &str, pin: u64) -> Option<MessageQueue> {
        if let Some(queue) = self.learned.get(topic) {
            return Some(queue.clone());
        }
        if !self.queues.contains_key(topic) {
            if self.missing.contains(topic) {
                return None;
            }
            // A new topic is created first (as the broker would create it on the first send), so
            // a partition is pinned to the same queue by this task and by any task after it.
            let created = match self.mq.write_queues(topic).await {
                Ok(queues) if !queues.is_empty() => Ok(queues),
                _ => match self.mq.ensure_topic(topic, NEW_TOPIC_QUEUES).await {
                    Ok(()) => self.mq.write_queues(topic).await.map_err(|e| e.to_string()),
                    Err(error) => Err(error.to_string()),
                },
            };
            match created {
                Ok(queues) if !queues.is_empty() => {
                    self.queues.insert(topic.to_owned(), queues);
                }
                Ok(_) | Err(_) => {
                    tracing::debug!(topic, error = ?created.err(), "no route, and the topic could not be created: the broker creates it on the first send");
                    self.missing.insert(topic.to_owned());
                    return None;
                }
            }
        }
        let queues = self.queues.get(topic)?;
        Some(queues[(pin % queues.len() as u64) as usize].clone())
    }

    fn learn(&mut self, topic: String, queue: Option<MessageQueue>) {
        if let Some(queue) = queue
            && !self.queues.contains_key(&topic)
        {
            self.learned.entry(topic).or_insert(queue);
        }
    }
}
