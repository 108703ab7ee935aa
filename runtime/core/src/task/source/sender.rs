//! Sends a source task's batches in order, on a tokio task of its own, and reports each
//! batch's offsets once the broker acknowledged it.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use cheetah_string::CheetahString;
use connect_sdk::Error;
use connect_sdk::offsets::{SourceOffset, SourcePartition};
use connect_sdk::record::QueueId;
use futures_util::stream::{self, StreamExt, TryStreamExt};
use rocketmq_model::common::message::message_queue::MessageQueue;
use tokio::sync::mpsc;

use super::convert::Batch;
use super::routes::Routes;
use crate::metrics::{Counter, TaskHistogram, TaskMetrics};
use crate::mq::{Producer, queue_id};
use crate::task::RunnerSettings;
use crate::task::exactly_once::ExactlyOnce;
use crate::task::outage::BrokerWait;
use crate::task::outbox::Outbox;
use crate::wire::{self, RawRecord};

/// The offsets of one batch, reported once the broker acknowledged all of its records, with
/// the position after its last record in each queue.
pub(super) type Ack = Result<Acknowledged, Error>;

/// A batch's offsets and the queue positions its records reach.
pub(super) type Acknowledged = (Vec<(SourcePartition, SourceOffset)>, Vec<(QueueId, i64)>);

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
pub(super) struct Sender {
    /// Sends wait while the broker is unreachable.
    pub(super) broker: BrokerWait,
    pub(super) metrics: Arc<TaskMetrics>,
    pub(super) settings: RunnerSettings,
    pub(super) producer: Arc<Producer>,
    pub(super) routes: Routes,
    /// For an exactly-once source: the queues whose position this task recorded, and where
    /// its next batch in each can start at the earliest (after its last acknowledged one).
    pub(super) recorded: Option<(ExactlyOnce, HashMap<QueueId, i64>)>,
    /// Checked before each batch: a fenced task sends nothing.
    pub(super) lease: crate::cluster::lease::TaskLease,
}

impl Sender {
    /// Starts sending: batches go in through the outbox (one waits while another is sent,
    /// and what is handed over meanwhile is merged into it while it holds fewer than `limit`
    /// records), acknowledgements come out of the channel, one per send; the sender stops
    /// after a failed send or once the outbox is closed and emptied.
    pub(super) fn spawn(
        mut self,
        limit: usize,
        byte_limit: usize,
    ) -> (Arc<Outbox<Batch>>, mpsc::UnboundedReceiver<Ack>, tokio::task::JoinHandle<()>) {
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
        let Sender { broker, metrics, settings, producer, routes, recorded, lease } = self;
        let lease = &*lease;
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
                                    // A retry after a long wait (a paused process) may find the
                                    // task fenced meanwhile: it sends nothing then.
                                    lease.check()?;
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
        let used: Vec<Sent> = if sends.len() == 1 {
            // One queue, a task's usual case: awaited as it is.
            let send = sends.into_iter().next().expect("one send");
            vec![send.await?]
        } else {
            stream::iter(sends).buffer_unordered(settings.max_in_flight.max(1)).try_collect().await?
        };
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
