//! Replaying a sink's dead-letter topic once its config is fixed: each record the connector
//! dead-lettered goes back to the topic (and queue number) it was read from, as it was read
//! (key, value, headers; the `__connect.errors.*` headers dropped), so the connector reads it
//! again. Records other connectors dead-lettered to the same topic stay where they are.
//!
//! Exactly once, across crashes and repeated runs, with the machinery of exactly-once
//! sources ([`ExactlyOnce`]): the replay is task 0 of `<connector>/dlq-replay` (a name no
//! connector can have), its source partitions the dead-letter topic's queues and its offsets
//! their positions. Each batch sent carries markers; its dead-letter positions are committed
//! with the positions reached in the queues written to. A replay that stopped after a send
//! and before its commit finds the batch by its markers when it runs again and does not send
//! it twice. A replay reads up to where the dead-letter topic ended when it began: a record
//! that fails again is dead-lettered again, for a later replay.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use cheetah_string::CheetahString;
use connect_sdk::Error;
use connect_sdk::context::OffsetReader;
use connect_sdk::offsets::{SourceOffset, SourcePartition};
use connect_sdk::record::QueueId;
use rocketmq_model::common::message::message_ext::MessageExt;
use rocketmq_model::common::message::message_queue::MessageQueue;
use serde::Serialize;

use crate::mq::{MqClient, Producer, RangeReader, connector_group, queue_id, queue_of};
use crate::state::offsets::SourceOffsets;
use crate::task::exactly_once::{ExactlyOnce, HeldOffsets, Resume};
use crate::wire::{self, RawRecord};

/// The prefix of the headers the dead-letter queue adds.
const ERROR_HEADERS: &str = "__connect.errors.";
/// Records sent in one batch (and committed together).
const BATCH: usize = 64;
/// Records a report lists (the counts cover all of them).
const LISTED: usize = 100;
/// How long reading waits for the broker to deliver what it holds.
const READ_IDLE: Duration = Duration::from_secs(30);

/// What a replay did (or, on a dry run, would do).
#[derive(Clone, Debug, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ReplayReport {
    /// The dead-letter topic read.
    pub topic: String,
    /// Whether nothing was sent.
    pub dry_run: bool,
    /// Records sent back (a dry run: that would be).
    pub replayed: u64,
    /// Records a replay before this one sent and did not commit (it stopped between a send
    /// and its commit): found by their markers, not sent again.
    pub already_replayed: u64,
    /// Records of other connectors in the topic, left alone.
    pub other_connectors: u64,
    /// The first records replayed, with why they were dead-lettered.
    pub records: Vec<ReplayedRecord>,
}

/// One record sent back.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ReplayedRecord {
    /// The topic it goes back to.
    pub topic: String,
    /// The queue number it was read from.
    pub queue: i32,
    /// Its offset there, when it was dead-lettered.
    pub offset: i64,
    /// The stage that refused it (`VALUE_CONVERTER`, `TRANSFORMATION`, `TASK_PUT`...).
    pub stage: String,
    /// The error it was dead-lettered with.
    pub error: String,
}

/// The connectors whose replay runs on this worker: one at a time each.
static RUNNING: Mutex<Option<HashSet<String>>> = Mutex::new(None);

/// Holds `connector`'s replay slot on this worker until dropped.
struct Running(String);

impl Running {
    fn start(connector: &str) -> Result<Running, Error> {
        let mut running = RUNNING.lock().unwrap_or_else(PoisonError::into_inner);
        if !running.get_or_insert_with(HashSet::new).insert(connector.to_owned()) {
            return Err(Error::other(format!("a replay of {connector}'s dead-letter topic is already running on this worker")));
        }
        Ok(Running(connector.to_owned()))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(running) = RUNNING.lock().unwrap_or_else(PoisonError::into_inner).as_mut() {
            running.remove(&self.0);
        }
    }
}

/// Whether a replay of `connector` runs on this worker now.
pub fn is_running(connector: &str) -> bool {
    RUNNING.lock().unwrap_or_else(PoisonError::into_inner).as_ref().is_some_and(|r| r.contains(connector))
}

/// Replays what `connector` dead-lettered to `topic` (see the module's documentation); a dry
/// run reads and reports without sending or committing anything.
pub async fn replay(
    mq: &MqClient,
    producer: &Producer,
    offsets: &SourceOffsets,
    connector: &str,
    topic: &str,
    dry_run: bool,
) -> Result<ReplayReport, Error> {
    let _running = Running::start(connector)?;
    let id = format!("{connector}/dlq-replay");
    let mut report = ReplayReport { topic: topic.to_owned(), dry_run, ..ReplayReport::default() };
    if !mq.topics().await?.iter().any(|t| t == topic) {
        return Ok(report); // nothing was ever dead-lettered
    }
    let Resume { eos, held, given } = Resume::scan(ExactlyOnce::new(&id, 0, mq.clone(), offsets.clone()), offsets.reader(&id)).await?;
    let mut replay =
        Replay { mq, producer, eos: &eos, connector, recorded: eos.recorded_queues(), targets: HashMap::new(), pending: None, dry_run };
    // Each queue of the dead-letter topic, from where the last replay ended (or the markers
    // found say it got to) to where it ends now.
    let mut ranges = HashMap::new();
    for queue in mq.write_queues(topic).await? {
        report.already_replayed += held.stored.count_of(given.key(&partition(&queue))) as u64;
        let end = mq.queue_end(&queue).await?;
        let next = given.offset(&partition(&queue)).and_then(|o| o.get_i64("next")).unwrap_or(0);
        if next < end {
            ranges.insert(queue_id(&queue), (next, end));
        }
    }
    // What a replay cut short sent and did not commit (found by its markers) is committed now.
    let recovered = given.take_recovered();
    if !dry_run && !recovered.is_empty() {
        eos.commit(recovered, &BTreeMap::new()).await.map_err(|e| Error::other(format!("committing the replay's position: {e}")))?;
    }
    if ranges.is_empty() {
        if !dry_run {
            eos.forget_positions().await?;
        }
        return Ok(report);
    }
    let mut reader = RangeReader::open(mq, &connector_group(&id, "read"), ranges, READ_IDLE).await?;
    let result = async {
        while let Some(messages) = reader.next().await? {
            for (queue, message, last) in &messages {
                replay.take(message, queue, &given, &mut report).await?;
                if *last {
                    // The queue's end when the replay began: what follows its last record
                    // sent was other connectors'.
                    replay.flush().await?;
                    replay.commit_read(queue, message.queue_offset() + 1).await?;
                }
            }
        }
        replay.flush().await?;
        if !dry_run {
            // Everything sent is committed: the next replay has nothing to look for.
            eos.forget_positions().await?;
        }
        Ok::<(), Error>(())
    }
    .await;
    reader.close().await;
    result?;
    Ok(report)
}

/// The source partition of a dead-letter queue.
fn partition(queue: &MessageQueue) -> SourcePartition {
    SourcePartition::new().with("queue", format!("{}/{}", queue.broker_name(), queue.queue_id()))
}

/// A batch being gathered: the records for one target queue, and the dead-letter position
/// after the last of them.
struct Pending {
    target: MessageQueue,
    records: Vec<RawRecord>,
    dlq: QueueId,
    next: i64,
}

/// A replay in progress.
struct Replay<'a> {
    mq: &'a MqClient,
    producer: &'a Producer,
    eos: &'a ExactlyOnce,
    connector: &'a str,
    /// The queues written to and where the replay's records in them start (recorded before
    /// the first send to each).
    recorded: HashMap<QueueId, i64>,
    /// The write queues of each topic records go back to.
    targets: HashMap<String, Vec<MessageQueue>>,
    /// The batch being gathered.
    pending: Option<Pending>,
    dry_run: bool,
}

impl Replay<'_> {
    /// Takes one dead-lettered message: sent back when it is the connector's and not sent
    /// before; its position is committed with the batch it joins either way.
    async fn take(&mut self, message: &MessageExt, dlq: &QueueId, given: &HeldOffsets, report: &mut ReplayReport) -> Result<(), Error> {
        let raw = wire::from_message(message);
        let error_header = |name: &str| raw.headers.iter().find(|(k, _)| k == &format!("{ERROR_HEADERS}{name}")).map(|(_, v)| v.clone());
        let next = message.queue_offset() + 1;
        if error_header("connector.name").as_deref() != Some(self.connector) {
            report.other_connectors += 1;
            return Ok(());
        }
        let Some(topic) = error_header("topic") else {
            report.other_connectors += 1;
            return Ok(());
        };
        let queue_number: i32 = error_header("partition").and_then(|p| p.parse().ok()).unwrap_or(0);
        let offset_json = SourceOffset::new().with("next", next).to_json_string();
        let key = given.key(&partition(&queue_of(dlq)));
        if report.records.len() < LISTED {
            report.records.push(ReplayedRecord {
                topic: topic.clone(),
                queue: queue_number,
                offset: error_header("offset").and_then(|o| o.parse().ok()).unwrap_or(-1),
                stage: error_header("stage").unwrap_or_default(),
                error: error_header("exception.message").unwrap_or_default(),
            });
        }
        report.replayed += 1;
        if self.dry_run {
            return Ok(());
        }
        let target = self.target(&topic, queue_number).await?;
        let headers = raw.headers.into_iter().filter(|(k, _)| !k.starts_with(ERROR_HEADERS)).collect();
        let record = RawRecord {
            topic,
            key: raw.key,
            value: raw.value,
            headers,
            timestamp: raw.timestamp,
            source_position: Some(CheetahString::from_string(self.eos.marker(key, &offset_json))),
        };
        if self.pending.as_ref().is_some_and(|p| p.target != target || p.dlq != *dlq || p.records.len() >= BATCH) {
            self.flush().await?;
        }
        let pending = self.pending.get_or_insert_with(|| Pending { target, records: Vec::new(), dlq: dlq.clone(), next });
        pending.records.push(record);
        pending.next = next;
        Ok(())
    }

    /// Queue number `number` of `topic` (the queue the record was read from, while the topic
    /// has it).
    async fn target(&mut self, topic: &str, number: i32) -> Result<MessageQueue, Error> {
        if !self.targets.contains_key(topic) {
            let queues = self.mq.write_queues(topic).await?;
            if queues.is_empty() {
                return Err(Error::other(format!("topic {topic} has no queue to replay into")));
            }
            self.targets.insert(topic.to_owned(), queues);
        }
        let queues = &self.targets[topic];
        let at = queues.iter().position(|q| q.queue_id() == number).unwrap_or(number.unsigned_abs() as usize % queues.len());
        Ok(queues[at].clone())
    }

    /// Sends the batch gathered, then commits its dead-letter position with the position it
    /// reaches in the queue written to (recorded before the first send there).
    async fn flush(&mut self) -> Result<(), Error> {
        let Some(Pending { target, records, dlq, next }) = self.pending.take() else { return Ok(()) };
        let written = queue_id(&target);
        if !self.recorded.contains_key(&written) {
            let start = self.eos.record_queue(&target).await?;
            self.recorded.insert(written.clone(), start);
        }
        let count = records.len();
        let batch = wire::encode_batch(CheetahString::from_string(target.topic_str().to_owned()), &records).map_err(Error::other)?;
        let (_, first) = self.producer.send_encoded(Some(target), batch, count).await?;
        let end = first as i64 + count as i64;
        self.recorded.insert(written.clone(), end);
        let offset = SourceOffset::new().with("next", next);
        self.eos
            .commit([(partition(&queue_of(&dlq)), offset)], &BTreeMap::from([(written, end)]))
            .await
            .map_err(|e| Error::other(format!("committing the replay's position: {e}")))?;
        tracing::info!(connector = self.connector, records = count, "dead-lettered records replayed");
        Ok(())
    }

    /// Commits that a dead-letter queue was read up to `end` (what follows the last record
    /// sent was other connectors').
    async fn commit_read(&self, dlq: &QueueId, end: i64) -> Result<(), Error> {
        if self.dry_run {
            return Ok(());
        }
        let offset = SourceOffset::new().with("next", end);
        self.eos
            .commit([(partition(&queue_of(dlq)), offset)], &BTreeMap::new())
            .await
            .map_err(|e| Error::other(format!("committing the replay's position: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::dlq::DeadLetterQueue;
    use crate::embedded::{EmbeddedConfig, EmbeddedRocketMq};
    use crate::state::log::StateLog;
    use crate::task::stage::Stage;

    /// A replay cut short between a send and its commit (the commit rewound here, as a kill
    /// leaves it) finds the batch by its markers when it runs again and sends nothing twice.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_batch_sent_and_not_committed_is_found_by_its_markers_and_not_sent_again() {
        let dir = std::env::temp_dir().join(format!("connect-dlq-replay-{}", std::process::id()));
        let broker = EmbeddedRocketMq::start(&EmbeddedConfig::free_ports(&dir)).await.unwrap();
        let client = MqClient::new(broker.namesrv_addr(), "replay").unwrap();
        client.ensure_topic("orders", 1).await.unwrap();
        client.ensure_topic("orders-dlq", 1).await.unwrap();
        let producer = Arc::new(client.producer("replay-producer").await.unwrap());
        for (connector, count) in [("orders-sink", 10), ("other-sink", 2)] {
            let dlq = DeadLetterQueue { topic: "orders-dlq".into(), connector: connector.into(), task: 0, producer: producer.clone() };
            for i in 0..count {
                let raw = RawRecord {
                    topic: "orders".into(),
                    value: Some(format!("{connector}-{i}").into_bytes().into()),
                    ..RawRecord::default()
                };
                let queue = QueueId { topic: "orders".into(), broker_name: "b".into(), queue_id: 0 };
                dlq.send(&raw, &queue, i, &Error::other("not JSON"), &Stage::ValueConverter).await.unwrap();
            }
        }
        let offsets = SourceOffsets::new(StateLog::memory("offsets"));
        let orders = client.write_queues("orders").await.unwrap().remove(0);
        let dlq_queue = client.write_queues("orders-dlq").await.unwrap().remove(0);

        let dry = replay(&client, &producer, &offsets, "orders-sink", "orders-dlq", true).await.unwrap();
        assert_eq!((dry.replayed, dry.other_connectors, dry.records.len()), (10, 2, 10));
        assert_eq!(client.queue_end(&orders).await.unwrap(), 0, "a dry run sends nothing");
        let done = replay(&client, &producer, &offsets, "orders-sink", "orders-dlq", false).await.unwrap();
        assert_eq!((done.replayed, done.already_replayed), (10, 0));
        assert_eq!(client.queue_end(&orders).await.unwrap(), 10);

        // Rewound to before the send: the position recorded before it, no offset committed.
        let id = "orders-sink/dlq-replay";
        let rewound = [(partition(&dlq_queue), SourceOffset::new().with("next", 0))];
        offsets.commit_with_positions(id, 0, rewound, &BTreeMap::from([(queue_id(&orders), 0)])).await.unwrap();
        let again = replay(&client, &producer, &offsets, "orders-sink", "orders-dlq", false).await.unwrap();
        assert_eq!((again.replayed, again.already_replayed), (0, 10), "{again:?}");
        assert_eq!(client.queue_end(&orders).await.unwrap(), 10, "nothing sent twice");
        let last = replay(&client, &producer, &offsets, "orders-sink", "orders-dlq", false).await.unwrap();
        assert_eq!((last.replayed, last.already_replayed), (0, 0), "committed: nothing to look for");

        Producer::shutdown_shared(producer).await;
        client.shutdown().await;
        broker.shutdown().await;
        let _ = std::fs::remove_dir_all(dir);
    }
}
