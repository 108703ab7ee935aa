//! The RocketMQ backend of a state log (`StateLog::open_topic`): one queue of a topic (a
//! total order every worker reads alike), replayed at start-up and followed afterwards.
//!
//! RocketMQ does not compact topics by key the way Kafka does, so a state topic only grows
//! (and the broker deletes old commit-log files after its retention time). To keep start-up
//! bounded and to outlive retention, the log writes **snapshots**: the live keys as of a
//! position `covers`, in parts of bounded size, whenever enough was written since the last
//! one (at least as many records as there are live keys) and at least every `max_age`. A
//! reader looks for the latest complete snapshot in a window at the tail of the topic (the
//! window grows fourfold until one is found or the whole topic is read), loads it, and
//! applies the records from `covers` on. Start-up therefore reads about one snapshot plus the
//! records written since, however long the cluster has run.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use connect_sdk::record::now_millis;

use rocketmq_model::common::message::message_ext::MessageExt;
use rocketmq_model::common::message::message_queue::MessageQueue;
use rocketmq_model::common::message::message_single::Message;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use tokio::task::JoinHandle;

use super::gather::Gathering;
use super::view::{Change, Entries, Entry, LogCause, LogError, Merge, View};
use crate::mq::{Consumer, MqClient, Producer};

/// When a topic log writes snapshots.
#[derive(Clone, Copy, Debug)]
pub struct SnapshotPolicy {
    /// Records written since the last snapshot before the next (at least the number of live
    /// keys, so writing snapshots costs at most as much as the records themselves).
    pub min_records: u64,
    /// The longest time between snapshots, whatever was written: keep it well below the
    /// broker's file retention (`fileReservedTime`, 72 hours by default).
    pub max_age: Duration,
}

impl Default for SnapshotPolicy {
    fn default() -> SnapshotPolicy {
        SnapshotPolicy { min_records: 1_000, max_age: Duration::from_secs(3600) }
    }
}

/// One record of a state topic, as JSON in the message body.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Record {
    /// `key` now has `value`.
    Put { key: String, value: Json },
    /// `key` is gone.
    Delete { key: String },
    /// Part `part` of `parts` of the live keys as of position `covers` (records before it).
    Snapshot { covers: u64, part: u32, parts: u32, entries: Vec<(String, Entry)> },
}

/// Largest serialized snapshot part and append batch (the broker's default message limit is 4 MiB).
const MAX_MESSAGE_BYTES: usize = 512 * 1024;
/// The tail first searched for a snapshot at start-up.
const FIRST_WINDOW: u64 = 4_096;
/// How long opening a log waits for the broker holding it.
const HOME_WAIT: Duration = Duration::from_secs(120);
/// How long replay may go without receiving anything before it gives up.
const REPLAY_STALL: Duration = Duration::from_secs(30);
/// How long the follower's polls wait for new records (and so how soon it notices a stop).
const FOLLOW_POLL_MS: u64 = 500;

/// The last snapshot seen or written.
#[derive(Clone, Copy, Debug)]
struct SnapshotMark {
    covers: u64,
    /// When it was written (or, when there is none, when this worker started following).
    written_ms: i64,
}

/// A state log's topic: where it appends, and the follower keeping its view current.
pub(crate) struct TopicLog {
    topic: String,
    queue: MessageQueue,
    /// Taken at close, so the worker can stop the producer it shares.
    producer: Mutex<Option<Arc<Producer>>>,
    /// Appends waiting to go out together.
    gathering: Arc<Gathering>,
    consumer: Arc<Consumer>,
    policy: SnapshotPolicy,
    /// Records read at start-up.
    replayed: u64,
    mark: Arc<Mutex<SnapshotMark>>,
    stop: tokio::sync::watch::Sender<bool>,
    follower: tokio::sync::Mutex<Option<JoinHandle<()>>>,
}

/// Where a topic log is and who reads it.
pub struct TopicLogConfig<'a> {
    /// The log's name (in errors and logs).
    pub name: &'a str,
    /// The topic (created with one queue when missing).
    pub topic: &'a str,
    /// The consumer group the reader uses (assign mode: it never commits); one per log of a
    /// worker, as the readers share the worker's client instance.
    pub reader_group: &'a str,
    /// When to write snapshots.
    pub policy: SnapshotPolicy,
    /// How records apply ([`last_write_wins`](super::view::last_write_wins) for most logs).
    pub merge: Merge,
}

/// Opens a log kept in a topic: creates the topic if missing, replays it from its latest
/// snapshot, and follows it from then on; the view it keeps up to date, and the backend.
pub(crate) async fn open(mq: &MqClient, producer: Arc<Producer>, config: TopicLogConfig<'_>) -> Result<(Arc<View>, TopicLog), LogError> {
    let error = |cause: LogCause| LogError::new(config.name, cause);
    mq.ensure_topic(config.topic, 1).await.map_err(|e| error(e.into()))?;
    let consumer = mq.shared_consumer(config.reader_group, &[config.topic.to_owned()], 256).await.map_err(|e| error(e.into()))?;
    let queue = home_queue(mq, &consumer, config.topic, config.name).await?;
    consumer.assign(vec![queue.clone()]).await.map_err(|e| error(e.into()))?;
    let started = Instant::now();
    let (entries, mark, read) = replay(&consumer, &queue, config.merge).await.map_err(error)?;
    tracing::info!(
        log = config.name,
        topic = config.topic,
        keys = entries.map.len(),
        records_read = read,
        next = entries.next,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "state log replayed"
    );
    let view = View::new(config.name, entries, config.merge);
    let consumer = Arc::new(consumer);
    let mark = Arc::new(Mutex::new(mark.unwrap_or(SnapshotMark { covers: 0, written_ms: now_millis() })));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let follower = tokio::spawn(follow(consumer.clone(), view.clone(), mark.clone(), stopped));
    let topic = TopicLog {
        topic: config.topic.to_owned(),
        gathering: Gathering::new(config.topic, queue.clone(), MAX_MESSAGE_BYTES),
        queue,
        producer: Mutex::new(Some(producer)),
        consumer,
        policy: config.policy,
        replayed: read as u64,
        mark,
        stop,
        follower: tokio::sync::Mutex::new(Some(follower)),
    };
    Ok((view, topic))
}

/// The name-server setting recording which broker holds the log kept in `topic`.
fn home_setting(topic: &str) -> String {
    format!("state-log-broker.{topic}")
}

/// The queue holding the log kept in `topic`: queue 0 of its broker, the one recorded in the
/// name server when the log was first opened ([`first_holding_records`] of the brokers
/// routing the topic then). A log never moves: the topic has a queue on every broker, and reading another's
/// would start an empty log beside the real one. While its broker is down this waits for it
/// (up to [`HOME_WAIT`]), naming it.
async fn home_queue(mq: &MqClient, consumer: &Consumer, topic: &str, log: &str) -> Result<MessageQueue, LogError> {
    let error = |cause: LogCause| LogError::new(log, cause);
    let key = home_setting(topic);
    let deadline = Instant::now() + HOME_WAIT;
    let mut waiting = false;
    loop {
        // The reader's own lookup: it also tells the reader where each broker is.
        let mut queues = consumer.queues(topic).await.unwrap_or_default();
        queues.sort_by(|a, b| (a.broker_name().as_str(), a.queue_id()).cmp(&(b.broker_name().as_str(), b.queue_id())));
        let home = match mq.setting(&key).await.map_err(|e| error(e.into()))? {
            Some(home) => home,
            None => {
                let first = first_holding_records(consumer, &queues).await.ok_or_else(|| error(LogCause::NoQueue(topic.to_owned())))?;
                mq.set_setting(&key, first.broker_name().as_str()).await.map_err(|e| error(e.into()))?;
                // Read back what is stored: two workers opening a new log at once both pick
                // the first broker by name, and agree unless they saw different routes.
                continue;
            }
        };
        if let Some(queue) = queues.into_iter().find(|q| q.broker_name().as_str() == home) {
            if waiting {
                tracing::info!(log, topic, broker = home, "the state log's broker is back");
            }
            return Ok(queue);
        }
        if Instant::now() > deadline {
            return Err(error(LogCause::BrokerAway { broker: home, waited: HOME_WAIT }));
        }
        if !waiting {
            tracing::warn!(log, topic, broker = home, "the broker holding this state log is not routed (down?); waiting for it");
            waiting = true;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Of `queues` (sorted by broker), the first holding records, or the first: a log opened for
/// the first time since the broker was recorded in the name server (a cluster from before
/// that) keeps the history it has.
async fn first_holding_records<'a>(consumer: &Consumer, queues: &'a [MessageQueue]) -> Option<&'a MessageQueue> {
    for queue in queues.iter().filter(|q| q.queue_id() == 0) {
        if consumer.max_offset(queue).await.is_ok_and(|end| end > 0) {
            return Some(queue);
        }
    }
    queues.first()
}

/// Reads the tail of the topic until a complete snapshot is found (or the start is reached);
/// returns the state at the end of what was read, the latest snapshot, and how many records
/// were read.
async fn replay(consumer: &Consumer, queue: &MessageQueue, merge: Merge) -> Result<(Entries, Option<SnapshotMark>, usize), LogCause> {
    let first = consumer.min_offset(queue).await?.max(0) as u64;
    let end = consumer.max_offset(queue).await?.max(0) as u64;
    if end <= first {
        consumer.seek(queue, end as i64).await?;
        return Ok((Entries { map: BTreeMap::new(), next: end }, None, 0));
    }
    let mut window = FIRST_WINDOW;
    loop {
        let start = end.saturating_sub(window).max(first);
        let records = read_range(consumer, queue, start, end).await?;
        let read = records.len();
        let next = records.last().map_or(end, |(offset, _, _)| offset + 1);
        let snapshot = latest_snapshot(&records, start);
        if snapshot.is_some() || start == first {
            let (mut entries, mark) = match snapshot {
                Some((mark, map)) => (Entries { map, next: mark.covers }, Some(mark)),
                None => (Entries::default(), None),
            };
            let from = mark.map_or(0, |m| m.covers);
            for (offset, _, record) in records.into_iter().filter(|(offset, _, _)| *offset >= from) {
                match record {
                    Some(Record::Put { key, value }) => entries.apply(offset, key, Some(value), merge),
                    Some(Record::Delete { key }) => entries.apply(offset, key, None, merge),
                    Some(Record::Snapshot { .. }) | None => {}
                }
            }
            entries.next = entries.next.max(next);
            return Ok((entries, mark, read));
        }
        window = window.saturating_mul(4);
    }
}

/// Every record from `start` until at least `end` (exclusive), with its store timestamp.
async fn read_range(consumer: &Consumer, queue: &MessageQueue, start: u64, end: u64) -> Result<Vec<(u64, i64, Option<Record>)>, LogCause> {
    consumer.seek(queue, start as i64).await?;
    let mut records = Vec::with_capacity((end - start) as usize);
    let mut last_progress = Instant::now();
    let mut next = start;
    while next < end {
        let messages = consumer.poll(FOLLOW_POLL_MS).await;
        if messages.is_empty() {
            if last_progress.elapsed() > REPLAY_STALL {
                return Err(LogCause::ReplayStalled { at: next, end });
            }
            continue;
        }
        last_progress = Instant::now();
        for message in &messages {
            let offset = message.queue_offset().max(0) as u64;
            if offset >= next {
                records.push((offset, message.store_timestamp(), decode(message)));
                next = offset + 1;
            }
        }
    }
    Ok(records)
}

/// The parts of one snapshot found while reading.
struct Parts<'a> {
    expected: u32,
    entries: BTreeMap<u32, &'a [(String, Entry)]>,
    written_ms: i64,
}

/// The latest snapshot all of whose parts were read and whose covered position is at or after
/// `start` (so every record after it was read too).
fn latest_snapshot(records: &[(u64, i64, Option<Record>)], start: u64) -> Option<(SnapshotMark, BTreeMap<String, Entry>)> {
    let mut found: BTreeMap<u64, Parts<'_>> = BTreeMap::new();
    for (_, stored_ms, record) in records {
        if let Some(Record::Snapshot { covers, part, parts, entries }) = record
            && *covers >= start
        {
            let slot = found.entry(*covers).or_insert_with(|| Parts { expected: *parts, entries: BTreeMap::new(), written_ms: *stored_ms });
            slot.entries.insert(*part, entries);
            slot.written_ms = slot.written_ms.max(*stored_ms);
        }
    }
    let (covers, parts) = found.into_iter().rev().find(|(_, parts)| parts.entries.len() as u32 == parts.expected)?;
    let map = parts.entries.into_values().flat_map(|entries| entries.iter().cloned()).collect();
    Some((SnapshotMark { covers, written_ms: parts.written_ms }, map))
}

fn decode(message: &MessageExt) -> Option<Record> {
    match serde_json::from_slice(message.body_slice()) {
        Ok(record) => Some(record),
        Err(error) => {
            tracing::warn!(topic = %message.topic(), offset = message.queue_offset(), %error, "skipping a record that is not a state record");
            None
        }
    }
}

/// Applies new records to the view until told to stop.
async fn follow(consumer: Arc<Consumer>, view: Arc<View>, mark: Arc<Mutex<SnapshotMark>>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut next = view.read(|e| e.next);
    while !*stop.borrow_and_update() {
        let messages = consumer.poll(FOLLOW_POLL_MS).await;
        let mut changes = Vec::with_capacity(messages.len());
        for message in &messages {
            let offset = message.queue_offset().max(0) as u64;
            if offset < next {
                continue;
            }
            next = offset + 1;
            match decode(message) {
                Some(Record::Put { key, value }) => changes.push((offset, key, Some(value))),
                Some(Record::Delete { key }) => changes.push((offset, key, None)),
                Some(Record::Snapshot { covers, part: 0, .. }) => {
                    let mut mark = mark.lock().unwrap_or_else(PoisonError::into_inner);
                    if covers > mark.covers {
                        *mark = SnapshotMark { covers, written_ms: message.store_timestamp() };
                    }
                }
                Some(Record::Snapshot { .. }) | None => {}
            }
        }
        if !messages.is_empty() {
            view.apply(changes, next);
        }
    }
}

impl TopicLog {
    /// Appends `changes` in order; returns the positions of the first and the last. Appends
    /// made meanwhile by other writers go out in the same batch (see [`super::gather`]).
    pub(crate) async fn append(&self, changes: &[Change]) -> Result<(u64, u64), LogError> {
        let records = changes.iter().map(|(key, value)| {
            let record = match value {
                Some(value) => Record::Put { key: key.clone(), value: value.clone() },
                None => Record::Delete { key: key.clone() },
            };
            (Some(key.as_str()), record)
        });
        let mut batches = self.encode(records)?;
        if batches.len() == 1 {
            let (messages, bytes) = batches.pop().expect("one batch");
            let producer = self.producer()?;
            return self.gathering.send(&producer, messages, bytes).await.map_err(|e| LogError::new(&self.topic, e));
        }
        self.send_batches(batches).await
    }

    /// Sends records in batches of bounded size to the log's queue.
    async fn send<'a>(&self, records: impl Iterator<Item = (Option<&'a str>, Record)>) -> Result<(u64, u64), LogError> {
        let batches = self.encode(records)?;
        self.send_batches(batches).await
    }

    /// Records as messages, in batches of at most [`MAX_MESSAGE_BYTES`] (a larger record alone),
    /// each with the bytes of its bodies.
    fn encode<'a>(&self, records: impl Iterator<Item = (Option<&'a str>, Record)>) -> Result<Vec<(Vec<Message>, usize)>, LogError> {
        let error = |cause: LogCause| LogError::new(&self.topic, cause);
        let mut batches: Vec<(Vec<Message>, usize)> = vec![(Vec::new(), 0)];
        for (key, record) in records {
            let body = serde_json::to_vec(&record).map_err(|e| error(LogCause::Encode(e)))?;
            if batches.last().is_some_and(|(batch, bytes)| bytes + body.len() > MAX_MESSAGE_BYTES && !batch.is_empty()) {
                batches.push((Vec::new(), 0));
            }
            let (batch, bytes) = batches.last_mut().expect("one batch at least");
            *bytes += body.len();
            let mut builder = Message::builder().topic(self.topic.as_str()).body(body);
            if let Some(key) = key {
                builder = builder.key(key);
            }
            batch.push(builder.build().map_err(|e| error(LogCause::Message(e)))?);
        }
        batches.retain(|(batch, _)| !batch.is_empty());
        Ok(batches)
    }

    /// Sends `batches` one after another; returns the positions of the first and last record.
    async fn send_batches(&self, batches: Vec<(Vec<Message>, usize)>) -> Result<(u64, u64), LogError> {
        let error = |cause: LogCause| LogError::new(&self.topic, cause);
        let producer = self.producer()?;
        let mut positions = None;
        for (batch, _) in batches {
            let count = batch.len() as u64;
            let first = producer.send_batch_at(&self.topic, &self.queue, batch).await.map_err(|e| error(e.into()))?;
            positions = Some((positions.map_or(first, |(f, _)| f), first + count - 1));
        }
        positions.ok_or_else(|| error(LogCause::Closed))
    }

    /// The producer, until the log is closed.
    fn producer(&self) -> Result<Arc<Producer>, LogError> {
        self.producer.lock().unwrap_or_else(PoisonError::into_inner).clone().ok_or_else(|| LogError::new(&self.topic, LogCause::Closed))
    }

    /// The broker holding the log.
    pub(crate) fn broker(&self) -> &str {
        self.queue.broker_name().as_str()
    }

    /// How many records start-up read (one snapshot and what followed it, at most a window).
    pub(crate) fn replayed(&self) -> u64 {
        self.replayed
    }

    /// The position after the last record the broker holds.
    pub(crate) async fn end(&self) -> Result<u64, LogError> {
        self.consumer.max_offset(&self.queue).await.map(|end| end.max(0) as u64).map_err(|e| LogError::new(&self.topic, e))
    }

    /// Writes a snapshot of `view` when the policy says it is time.
    pub(crate) async fn snapshot_if_due(&self, view: &View) -> Result<bool, LogError> {
        let (keys, next) = view.read(|e| (e.map.len() as u64, e.next));
        let mark = *self.mark.lock().unwrap_or_else(PoisonError::into_inner);
        let written = next.saturating_sub(mark.covers);
        let old = now_millis().saturating_sub(mark.written_ms) >= self.policy.max_age.as_millis() as i64;
        if written < self.policy.min_records.max(keys) && !old {
            return Ok(false);
        }
        let (covers, map) = view.read(|e| (e.next, e.map.clone()));
        let parts = split_snapshot(map);
        let count = parts.len() as u32;
        let records = parts
            .into_iter()
            .enumerate()
            .map(|(part, entries)| (None, Record::Snapshot { covers, part: part as u32, parts: count, entries }));
        self.send(records).await?;
        *self.mark.lock().unwrap_or_else(PoisonError::into_inner) = SnapshotMark { covers, written_ms: now_millis() };
        tracing::debug!(topic = %self.topic, covers, parts = count, "snapshot written");
        Ok(true)
    }

    /// Stops the follower and the reader.
    pub(crate) async fn close(&self) {
        self.producer.lock().unwrap_or_else(PoisonError::into_inner).take();
        let _ = self.stop.send(true);
        if let Some(follower) = self.follower.lock().await.take() {
            let _ = follower.await;
        }
        self.consumer.shutdown().await;
    }
}

/// Splits the live keys into parts of at most [`MAX_MESSAGE_BYTES`] (always one part at least,
/// so an empty state is a snapshot too).
fn split_snapshot(map: BTreeMap<String, Entry>) -> Vec<Vec<(String, Entry)>> {
    let mut parts: Vec<Vec<(String, Entry)>> = vec![Vec::new()];
    let mut bytes = 0;
    for (key, entry) in map {
        let size = key.len() + entry.value.to_string().len() + 32;
        if bytes + size > MAX_MESSAGE_BYTES && !parts.last().is_some_and(Vec::is_empty) {
            parts.push(Vec::new());
            bytes = 0;
        }
        bytes += size;
        parts.last_mut().expect("one part at least").push((key, entry));
    }
    parts
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn snapshot(covers: u64, part: u32, parts: u32, keys: &[&str]) -> Option<Record> {
        let entries = keys.iter().map(|k| ((*k).to_owned(), Entry { value: json!(k), offset: 1 })).collect();
        Some(Record::Snapshot { covers, part, parts, entries })
    }

    #[test]
    fn only_complete_snapshots_inside_the_window_count() {
        let records = vec![
            (10, 0, snapshot(8, 0, 1, &["old"])),
            (20, 0, snapshot(15, 0, 2, &["a"])),
            (21, 0, snapshot(15, 1, 2, &["b"])),
            (30, 0, snapshot(25, 0, 2, &["partial"])),
        ];
        let (mark, map) = latest_snapshot(&records, 9).expect("a complete snapshot");
        assert_eq!(mark.covers, 15);
        assert_eq!(map.keys().collect::<Vec<_>>(), ["a", "b"]);
        // The one covering 8 starts before the window: records between 8 and 9 were not read.
        assert!(latest_snapshot(&records[..1], 9).is_none());
    }

    #[test]
    fn large_states_split_into_bounded_parts() {
        let value = json!("x".repeat(10_000));
        let map: BTreeMap<String, Entry> = (0..200).map(|i| (format!("k{i:03}"), Entry { value: value.clone(), offset: i })).collect();
        let parts = split_snapshot(map);
        assert!(parts.len() >= 4, "{} parts", parts.len());
        assert_eq!(parts.iter().map(Vec::len).sum::<usize>(), 200);
        assert_eq!(split_snapshot(BTreeMap::new()).len(), 1);
    }

    #[cfg(feature = "embedded")]
    use crate::embedded::{EmbeddedConfig, EmbeddedRocketMq};
    #[cfg(feature = "embedded")]
    use crate::state::log::{StateLog, last_write_wins};

    #[cfg(feature = "embedded")]
    async fn open(mq: &MqClient, topic: &str, instance: &str, policy: SnapshotPolicy) -> StateLog {
        let producer = Arc::new(mq.producer(&format!("producer-{instance}")).await.expect("a producer"));
        let config = TopicLogConfig { name: "test", topic, reader_group: &format!("readers-{instance}"), policy, merge: last_write_wins };
        StateLog::open_topic(mq, producer, config).await.expect("the log opens")
    }

    /// What one worker writes, every worker reads, in one order; a reopened log replays from its
    /// latest snapshot, not from the beginning.
    #[cfg(feature = "embedded")]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn what_one_worker_writes_every_worker_reads_and_replay_starts_at_the_latest_snapshot() {
        let dir = std::env::temp_dir().join(format!("connect-state-log-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let broker = EmbeddedRocketMq::start(&EmbeddedConfig::free_ports(dir.join("rocketmq"))).await.unwrap();
        let policy = SnapshotPolicy { min_records: 100, ..SnapshotPolicy::default() };
        let (a_client, b_client) = (MqClient::new(broker.namesrv_addr(), "a").unwrap(), MqClient::new(broker.namesrv_addr(), "b").unwrap());
        let a = open(&a_client, "test-configs", "a", policy).await;
        let b = open(&b_client, "test-configs", "b", policy).await;

        // A write is visible to its writer when append returns, and soon to the other reader.
        let first = a.append(vec![("k1".to_owned(), Some(json!({"v": 1}))), ("k2".to_owned(), Some(json!(2)))]).await.unwrap();
        assert_eq!(a.get("k1").map(|e| (e.value, e.offset)), Some((json!({"v": 1}), first)));
        b.catch_up().await.unwrap();
        assert_eq!(b.get("k2").map(|e| e.value), Some(json!(2)));
        b.append(vec![("k1".to_owned(), None)]).await.unwrap();
        a.catch_up().await.unwrap();
        assert_eq!(a.get("k1"), None, "a delete from B removes the key on A");

        // How long a write takes to be durable and read back by its writer, and seen by another reader.
        let mut round_trips = Vec::new();
        for i in 0..20 {
            let started = std::time::Instant::now();
            let at = a.append(vec![("timing".to_owned(), Some(json!(i)))]).await.unwrap();
            let written = started.elapsed();
            let mut changes = b.changes();
            while b.next() <= at {
                changes.changed().await.unwrap();
            }
            round_trips.push((written, started.elapsed()));
        }
        round_trips.sort();
        println!(
            "MEASURED state log: a write read back by its writer in {:?} (median), seen by another reader {:?}",
            round_trips[10].0, round_trips[10].1
        );

        // Ten thousand writes over 50 keys, a snapshot, and ten more writes.
        for round in 0..50 {
            let changes = (0..200).map(|i| (format!("key-{}", i % 50), Some(json!({"round": round, "i": i})))).collect();
            a.append(changes).await.unwrap();
        }
        assert!(a.snapshot_if_due().await.unwrap(), "10 000 records since the last snapshot: one is due");
        assert!(!a.snapshot_if_due().await.unwrap(), "and not again right after");
        a.append((0..10).map(|i| (format!("late-{i}"), Some(json!(i)))).collect()).await.unwrap();

        let c_client = MqClient::new(broker.namesrv_addr(), "c").unwrap();
        let c = open(&c_client, "test-configs", "c", policy).await;
        let replayed = c.replayed().unwrap();
        println!("MEASURED replay: {replayed} of {} records read to rebuild {} keys", a.next(), c.len());
        assert!(replayed < 4_200, "replay read {replayed} records, not a window from the latest snapshot");
        a.catch_up().await.unwrap();
        assert_eq!(c.len(), a.len());
        for key in ["k2", "key-7", "late-9"] {
            assert_eq!(c.get(key), a.get(key), "{key}");
        }
        assert_eq!(c.get("k1"), None);

        for log in [a, b, c] {
            log.close().await;
        }
        for client in [a_client, b_client, c_client] {
            client.shutdown().await;
        }
        broker.shutdown().await;
        let _ = std::fs::remove_dir_all(&dir);
    }
}
