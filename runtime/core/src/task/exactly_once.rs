//! Exactly-once sources without broker transactions.
//!
//! Every record an exactly-once source sends carries a marker (the [`wire::SOURCE_POSITION`]
//! property: a 64-bit FNV-1a hash of its connector and source partition in 16 hex digits,
//! then its source offset as JSON; a few dozen bytes, whatever the partition's size). Each offset commit also
//! records, per queue, the position the committed records reach; a task's first send to a
//! queue records the queue's end before anything is sent. A task that starts (after a crash,
//! a rebalance, a failover) reads every queue its connector wrote to from those positions to
//! the end, collects the markers it finds, and then drops each re-polled record whose
//! partition and offset the broker already holds. It relies on what the compliance suite
//! asks of every source: polled again from the same offset, it returns the same records.
//!
//! The scan runs before the task opens, and the records it finds are commits too: a partition
//! the task asks the offset of ([`HeldOffsets`]) gets the offset of its latest record in the
//! broker when that is newer than the committed one (no commit covered it before the crash),
//! and the runner commits it. So a task that crashed before its first commit resumes after what
//! it sent instead of starting over (a change data capture source would snapshot again, and
//! the changes between the two snapshots would be lost).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use std::time::Duration;

use std::sync::{Mutex, PoisonError};

use connect_sdk::Error;
use connect_sdk::context::OffsetReader;
use connect_sdk::offsets::{SourceOffset, SourcePartition};
use connect_sdk::record::QueueId;
use rocketmq_model::common::message::message_queue::MessageQueue;

use crate::mq::{MqClient, RangeReader, queue_id, queue_of};
use crate::state::offsets::SourceOffsets;
use crate::wire;

/// Most markers a starting task keeps: a scan finding more fails the task rather than grow.
const MAX_STORED: usize = 4_000_000;
/// How long a scan waits for a queue to deliver more before it gives up.
const SCAN_IDLE: Duration = Duration::from_secs(30);

/// One source task's side of exactly-once delivery.
#[derive(Clone)]
pub struct ExactlyOnce {
    connector: String,
    task: u32,
    mq: MqClient,
    offsets: SourceOffsets,
}

impl ExactlyOnce {
    /// Exactly-once delivery for task `task` of `connector`.
    pub fn new(connector: &str, task: u32, mq: MqClient, offsets: SourceOffsets) -> ExactlyOnce {
        ExactlyOnce { connector: connector.to_owned(), task, mq, offsets }
    }

    /// What identifies `partition` (as JSON) of this connector in markers.
    pub fn partition_key(&self, partition: &str) -> u64 {
        wire::fnv1a([self.connector.as_bytes(), b"\n", partition.as_bytes()])
    }

    /// The marker of a record of the partition `key` at `offset` (as JSON).
    pub fn marker(&self, key: u64, offset: &str) -> String {
        let mut marker = String::with_capacity(16 + offset.len());
        let _ = write!(marker, "{key:016x}");
        marker.push_str(offset);
        marker
    }

    /// The queues this task recorded a position for, and the positions: it sends to them
    /// without asking again.
    pub fn recorded_queues(&self) -> HashMap<QueueId, i64> {
        self.offsets.task_queue_positions(&self.connector, self.task).into_iter().collect()
    }

    /// Records the end of `queue` as where this task's records in it start, before the first
    /// send to it: a crash after that send finds them. Returns that position.
    pub async fn record_queue(&self, queue: &MessageQueue) -> Result<i64, Error> {
        let end = self.mq.queue_end(queue).await.map_err(Error::from)?;
        self.record_positions(&BTreeMap::from([(queue_id(queue), end)])).await?;
        Ok(end)
    }

    /// Records positions reached without committing offsets.
    pub async fn record_positions(&self, positions: &BTreeMap<QueueId, i64>) -> Result<(), Error> {
        self.offsets
            .commit_with_positions(&self.connector, self.task, [], positions)
            .await
            .map_err(|e| Error::other(format!("recording queue positions: {e}")))
    }

    /// Forgets where this task wrote, once it stopped cleanly (everything it sent acknowledged
    /// and committed) with no record found by its start-up scan left to poll again (a run that
    /// crashed before it may have sent records its committed offsets do not cover yet): a
    /// restart has nothing to look for there, and the connector's other tasks no longer read
    /// from this task's oldest position.
    pub async fn forget_positions(&self) -> Result<(), Error> {
        self.offsets
            .forget_task_positions(&self.connector, self.task)
            .await
            .map_err(|e| Error::other(format!("forgetting queue positions: {e}")))
    }

    /// Commits acknowledged offsets with the queue positions they reach, in one append.
    pub async fn commit(
        &self,
        offsets: impl IntoIterator<Item = (connect_sdk::offsets::SourcePartition, connect_sdk::offsets::SourceOffset)>,
        positions: &BTreeMap<QueueId, i64>,
    ) -> Result<(), crate::state::log::LogError> {
        self.offsets.commit_with_positions(&self.connector, self.task, offsets, positions).await
    }

    /// Reads every queue the connector's tasks wrote to, from its recorded position to its
    /// end: the markers of this connector's records found there, and the latest offset of each
    /// partition among them.
    pub async fn scan(&self) -> Result<Held, Error> {
        let mut held = Held::default();
        let positions = self.offsets.queue_positions(&self.connector);
        let mut pending: HashMap<QueueId, (i64, i64)> = HashMap::new();
        for (queue, from) in positions {
            let end = self.mq.queue_end(&queue_of(&queue)).await.map_err(Error::from)?;
            if end > from {
                pending.insert(queue.clone(), (from, end));
                held.ends.insert(queue, end);
            }
        }
        if pending.is_empty() {
            return Ok(held);
        }
        let total: i64 = pending.values().map(|(from, end)| end - from).sum();
        tracing::info!(connector = %self.connector, task = self.task, queues = pending.len(), messages = total, "looking for records the broker already holds");
        self.read_markers(pending, "scan", |_, position, born, marker| held.found(marker, (born, position))).await?;
        tracing::info!(connector = %self.connector, task = self.task, records = held.stored.remaining, partitions = held.latest.len(), "records already held found");
        Ok(held)
    }

    /// Where the broker stored a batch whose send failed, if it did: its position in `queue`
    /// at or after `from` (where this task's previous batch in the queue ended), found by its
    /// records' markers, in order. A batch is stored whole or not at all, so a send that failed
    /// after the broker stored it (the broker died before it answered, the answer timed out)
    /// is found here rather than sent twice.
    pub async fn find_batch(&self, queue: &MessageQueue, from: i64, markers: &[&str]) -> Result<Option<i64>, Error> {
        let end = self.mq.queue_end(queue).await.map_err(Error::from)?;
        if end - from < markers.len() as i64 || markers.is_empty() {
            return Ok(None);
        }
        let mut found: Vec<(i64, String)> = Vec::new();
        let range = HashMap::from([(queue_id(queue), (from, end))]);
        self.read_markers(range, "resend", |_, position, _, marker| {
            found.push((position, marker.to_owned()));
            Ok(())
        })
        .await?;
        Ok(stored_batch(&found, markers))
    }

    /// Reads each queue of `ranges` from its first position to its end (exclusive), handing
    /// every marker found to `found` with its queue, position and born timestamp.
    async fn read_markers(
        &self,
        ranges: HashMap<QueueId, (i64, i64)>,
        purpose: &str,
        mut found: impl FnMut(&QueueId, i64, i64, &str) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let group = crate::mq::connector_group(&self.connector, purpose);
        let mut reader = RangeReader::open(&self.mq, &group, ranges, SCAN_IDLE).await?;
        let result = async {
            while let Some(messages) = reader.next().await? {
                for (queue, message, _) in &messages {
                    if let Some(marker) = message.properties().get(wire::SOURCE_POSITION) {
                        found(queue, message.queue_offset(), message.born_timestamp(), marker.as_str())?;
                    }
                }
            }
            Ok::<(), Error>(())
        }
        .await;
        reader.close().await;
        result.map_err(|e| Error::other(format!("{e}; cannot tell which records the broker already holds")))
    }
}

/// The position of the first of `markers` found in order at consecutive positions in `found`
/// (markers read from a queue, by position).
fn stored_batch(found: &[(i64, String)], markers: &[&str]) -> Option<i64> {
    let n = markers.len();
    found.windows(n).find_map(|window| {
        let consecutive = window.iter().enumerate().all(|(i, (position, _))| *position == window[0].0 + i as i64);
        let same = window.iter().zip(markers).all(|((_, marker), wanted)| marker == wanted);
        (consecutive && same).then_some(window[0].0)
    })
}

/// An exactly-once task's start: its scan of the broker, made before it opened, and the
/// offsets it was given (some from the broker's records).
pub struct Resume {
    /// The task's exactly-once delivery.
    pub eos: ExactlyOnce,
    /// What the scan found.
    pub held: Held,
    /// The offsets the task reads.
    pub given: std::sync::Arc<HeldOffsets>,
}

impl Resume {
    /// Scans the broker for the records of `eos`'s connector, and the offsets its task reads
    /// (`committed`, overlaid with what the scan found).
    pub async fn scan(eos: ExactlyOnce, committed: std::sync::Arc<dyn OffsetReader>) -> Result<Resume, Error> {
        let mut held = eos.scan().await?;
        let given = std::sync::Arc::new(HeldOffsets::new(committed, &eos, &mut held));
        Ok(Resume { eos, held, given })
    }
}

/// What a starting task's scan found in the broker.
#[derive(Default)]
pub struct Held {
    /// The markers, to drop the records polled again.
    pub stored: StoredRecords,
    /// Per partition key, the latest record's (born timestamp, queue position) and offset (JSON).
    latest: HashMap<u64, ((i64, i64), String)>,
    /// The end of every queue scanned.
    pub ends: BTreeMap<QueueId, i64>,
}

impl Held {
    /// Keeps a marker found at `at` (born timestamp, queue position): counted for dropping, and
    /// its offset kept when it is its partition's latest so far (records of a partition are sent
    /// in order: the later born, or further in its queue, is the newer).
    fn found(&mut self, marker: &str, at: (i64, i64)) -> Result<(), Error> {
        let Some((key, offset)) = split_marker(marker) else { return Ok(()) };
        match self.latest.get_mut(&key) {
            Some((seen, _)) if *seen > at => {}
            Some(latest) => *latest = (at, offset.to_owned()),
            None => {
                self.latest.insert(key, (at, offset.to_owned()));
            }
        }
        self.stored.count(key, offset)
    }
}

/// The partition key and the offset (JSON) of a marker: [`ExactlyOnce::marker`] read back.
fn split_marker(marker: &str) -> Option<(u64, &str)> {
    let (key, offset) = marker.split_at_checked(16)?;
    Some((u64::from_str_radix(key, 16).ok()?, offset))
}

/// The offsets a starting task reads: a partition with records in the broker that no commit
/// covered gets the offset of its latest one (it is newer than the committed one: the scan
/// starts where the last commits ended); every other partition its committed offset. The
/// offsets given out that way are committed by the runner ([`HeldOffsets::take_recovered`]).
pub struct HeldOffsets {
    committed: std::sync::Arc<dyn OffsetReader>,
    eos: ExactlyOnce,
    latest: HashMap<u64, SourceOffset>,
    recovered: Mutex<Vec<(SourcePartition, SourceOffset)>>,
}

impl HeldOffsets {
    /// `committed`, overlaid with the latest offsets `held` found.
    pub fn new(committed: std::sync::Arc<dyn OffsetReader>, eos: &ExactlyOnce, held: &mut Held) -> HeldOffsets {
        let latest = std::mem::take(&mut held.latest)
            .into_iter()
            .filter_map(|(key, (_, offset))| Some((key, serde_json::from_str::<SourceOffset>(&offset).ok()?)))
            .collect();
        HeldOffsets { committed, eos: eos.clone(), latest, recovered: Mutex::new(Vec::new()) }
    }

    /// The offsets handed out from the broker's records since the last call, with their
    /// partitions' keys: to be committed, and their markers no longer looked for.
    pub fn take_recovered(&self) -> Vec<(SourcePartition, SourceOffset)> {
        std::mem::take(&mut *self.recovered.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// The key of `partition` in markers.
    pub fn key(&self, partition: &SourcePartition) -> u64 {
        self.eos.partition_key(&partition.to_json_string())
    }
}

impl OffsetReader for HeldOffsets {
    fn offset(&self, partition: &SourcePartition) -> Option<SourceOffset> {
        let Some(offset) = self.latest.get(&self.key(partition)) else { return self.committed.offset(partition) };
        let mut recovered = self.recovered.lock().unwrap_or_else(PoisonError::into_inner);
        if !recovered.iter().any(|(p, _)| p == partition) {
            recovered.push((partition.clone(), offset.clone()));
        }
        Some(offset.clone())
    }
}

/// The records of a connector the broker already holds beyond its committed offsets: per
/// source partition (as JSON), how many records of each offset (as JSON; a source may give
/// several records one offset, as a table read by timestamp does). As many records of an
/// offset as were found are dropped when polled again, the first ones: a source polled again
/// returns the same records in the same order.
#[derive(Default)]
pub struct StoredRecords {
    partitions: HashMap<u64, HashMap<String, u32>>,
    remaining: usize,
}

impl StoredRecords {
    /// Keeps a marker found in a queue (the tests' way in; a scan goes through [`Held`]).
    #[cfg(test)]
    fn add(&mut self, marker: &str) -> Result<(), Error> {
        split_marker(marker).map_or(Ok(()), |(key, offset)| self.count(key, offset))
    }

    /// Counts a record of the partition `key` at `offset` (JSON) the broker holds. Markers of
    /// other connectors are kept too: their partition keys differ, so they are never matched.
    fn count(&mut self, key: u64, offset: &str) -> Result<(), Error> {
        *self.partitions.entry(key).or_default().entry(offset.to_owned()).or_default() += 1;
        self.remaining += 1;
        if self.remaining > MAX_STORED {
            return Err(Error::other(format!(
                "more than {MAX_STORED} records were sent but not committed; commit offsets more often (offset.flush.interval.ms)"
            )));
        }
        Ok(())
    }

    /// Stops looking for the records of the partition `key` (its task resumes after them).
    pub fn forget(&mut self, key: u64) {
        if let Some(offsets) = self.partitions.remove(&key) {
            self.remaining -= offsets.values().map(|n| *n as usize).sum::<usize>();
        }
    }

    /// How many records of the partition `key` are held.
    pub fn count_of(&self, key: u64) -> usize {
        self.partitions.get(&key).map_or(0, |offsets| offsets.values().map(|n| *n as usize).sum())
    }

    /// Whether nothing is left to drop (the common case: no lookup needed).
    pub fn is_empty(&self) -> bool {
        self.remaining == 0
    }

    /// Whether the record of the partition `key` at `offset` is already held; it is counted off then.
    pub fn take(&mut self, key: u64, offset: &str) -> bool {
        let Some(offsets) = self.partitions.get_mut(&key) else { return false };
        let Some(count) = offsets.get_mut(offset) else { return false };
        *count -= 1;
        if *count == 0 {
            offsets.remove(offset);
            if offsets.is_empty() {
                self.partitions.remove(&key);
            }
        }
        self.remaining -= 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marker(connector: &str, partition: &str, offset: &str) -> String {
        format!("{:016x}{offset}", wire::fnv1a([connector.as_bytes(), b"\n", partition.as_bytes()]))
    }

    #[test]
    fn a_stored_record_is_dropped_once_and_other_connectors_markers_never_match() {
        let key = wire::fnv1a([b"a".as_slice(), b"\n", b"{\"f\":1}"]);
        let mut stored = StoredRecords::default();
        stored.add(&marker("a", "{\"f\":1}", "{\"pos\":7}")).unwrap();
        stored.add(&marker("ab", "{\"f\":1}", "{\"pos\":8}")).unwrap();
        stored.add("not a marker").unwrap();
        assert!(!stored.take(key, "{\"pos\":8}"));
        assert!(stored.take(key, "{\"pos\":7}"));
        assert!(!stored.take(key, "{\"pos\":7}"), "only once");
    }

    #[test]
    fn records_sharing_an_offset_are_dropped_as_often_as_they_were_found() {
        let key = wire::fnv1a([b"a".as_slice(), b"\n", b"{}"]);
        let mut stored = StoredRecords::default();
        for _ in 0..2 {
            stored.add(&marker("a", "{}", "{\"ts\":5}")).unwrap();
        }
        assert!(stored.take(key, "{\"ts\":5}"));
        assert!(stored.take(key, "{\"ts\":5}"));
        assert!(!stored.take(key, "{\"ts\":5}"), "the third record of that offset is new");
        assert!(stored.is_empty());
    }

    #[test]
    fn a_stored_batch_is_found_by_its_markers_in_order_at_consecutive_positions() {
        let found: Vec<(i64, String)> =
            [(10, "k{1}"), (11, "x{1}"), (12, "k{2}"), (13, "k{3}"), (15, "k{4}")].map(|(p, m)| (p, m.to_owned())).into();
        assert_eq!(stored_batch(&found, &["k{2}", "k{3}"]), Some(12));
        assert_eq!(stored_batch(&found, &["k{1}", "k{2}"]), None, "another record between them");
        assert_eq!(stored_batch(&found, &["k{3}", "k{4}"]), None, "not consecutive");
        assert_eq!(stored_batch(&found, &["k{5}"]), None);
        assert_eq!(stored_batch(&found, &["k{4}"]), Some(15));
    }

    #[cfg(feature = "embedded")]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_batch_stored_before_its_send_failed_is_found_in_the_broker() {
        use crate::embedded::{EmbeddedConfig, EmbeddedRocketMq};
        use rocketmq_model::common::message::MessageTrait;
        use rocketmq_model::common::message::message_single::Message;

        let dir = std::env::temp_dir().join(format!("connect-eos-resend-{}", std::process::id()));
        let mq = EmbeddedRocketMq::start(&EmbeddedConfig::free_ports(&dir)).await.unwrap();
        let (topic, queue_id) = ("eos-resend", 1);
        mq.create_topic(topic, 2).await.unwrap();
        let client = MqClient::new(mq.namesrv_addr(), "eos-resend").unwrap();
        let eos = ExactlyOnce::new("c", 0, client.clone(), SourceOffsets::new(crate::state::log::StateLog::memory("offsets")));
        let key = eos.partition_key("{}");
        let markers: Vec<String> = (0..6).map(|i| eos.marker(key, &format!("{{\"n\":{i}}}"))).collect();
        let message = |marker: Option<&str>| {
            let mut message = Message::builder().topic(topic).body_slice(b"x").build_unchecked();
            if let Some(marker) = marker {
                message.put_property(wire::SOURCE_POSITION.into(), marker.into());
            }
            message
        };
        // Another writer's record, then this task's batches 0-1 and 2-3; 4-5 were never sent.
        mq.send_messages(topic, queue_id, vec![message(None)]).await.unwrap();
        mq.send_messages(topic, queue_id, markers[..2].iter().map(|m| message(Some(m))).collect()).await.unwrap();
        mq.send_messages(topic, queue_id, markers[2..4].iter().map(|m| message(Some(m))).collect()).await.unwrap();
        let queue = crate::mq::message_queue(topic, &mq_broker_name(&client, topic).await, queue_id);
        let refs = |range: std::ops::Range<usize>| markers[range].iter().map(String::as_str).collect::<Vec<_>>();
        assert_eq!(eos.find_batch(&queue, 0, &refs(2..4)).await.unwrap(), Some(3));
        assert_eq!(eos.find_batch(&queue, 1, &refs(0..2)).await.unwrap(), Some(1));
        assert_eq!(eos.find_batch(&queue, 3, &refs(0..2)).await.unwrap(), None, "before where the search starts");
        assert_eq!(eos.find_batch(&queue, 3, &refs(4..6)).await.unwrap(), None, "never stored");
        client.shutdown().await;
        mq.shutdown().await;
        let _ = std::fs::remove_dir_all(dir);
    }

    #[cfg(feature = "embedded")]
    async fn mq_broker_name(client: &MqClient, topic: &str) -> String {
        client.write_queues(topic).await.unwrap()[0].broker_name().to_string()
    }

    #[test]
    fn the_partition_hash_is_fnv1a_as_published() {
        // FNV-1a 64 of "a" (the reference value): markers written by one build are read by the next.
        assert_eq!(wire::fnv1a([b"a".as_slice()]), 0xaf63_dc4c_8601_ec8c);
    }
}
