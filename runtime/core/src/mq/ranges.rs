//! Reading queues between two positions: what an exactly-once task's scan and a dead-letter
//! replay do.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use connect_sdk::Error;
use connect_sdk::record::QueueId;
use rocketmq_model::common::message::message_ext::MessageExt;

use super::{Consumer, MqClient, queue_of};

/// Reads each queue of its ranges from the first position to the end (exclusive).
pub(crate) struct RangeReader {
    consumer: Consumer,
    ranges: HashMap<QueueId, (i64, i64)>,
    /// How long the broker may deliver nothing before reading fails.
    idle: Duration,
}

/// A message read, its queue, and whether it is the last of its queue's range.
pub(crate) type InRange = (QueueId, MessageExt, bool);

impl RangeReader {
    /// A reader of `ranges` with a consumer of `group`.
    pub(crate) async fn open(
        mq: &MqClient,
        group: &str,
        ranges: HashMap<QueueId, (i64, i64)>,
        idle: Duration,
    ) -> Result<RangeReader, Error> {
        let topics: Vec<String> = ranges.keys().map(|q| q.topic.clone()).collect::<BTreeSet<_>>().into_iter().collect();
        let consumer = mq.consumer(group, &topics, 1_024).await?;
        let mut reader = RangeReader { consumer, ranges, idle };
        match reader.start(&topics).await {
            Ok(()) => Ok(reader),
            Err(error) => {
                reader.close().await;
                Err(error)
            }
        }
    }

    async fn start(&mut self, topics: &[String]) -> Result<(), Error> {
        if self.ranges.is_empty() {
            return Ok(());
        }
        for topic in topics {
            self.consumer.queues(topic).await?; // the client learns where the queues are
        }
        self.consumer.assign(self.ranges.keys().map(queue_of).collect()).await?;
        let mut gone = Vec::new();
        for (queue, (from, end)) in &self.ranges {
            // A range starting before what the broker still keeps starts at its first message
            // (and is read already when nothing of it is kept).
            let first = self.consumer.min_offset(&queue_of(queue)).await?;
            if first >= *end {
                gone.push(queue.clone());
                continue;
            }
            self.consumer.seek(&queue_of(queue), (*from).max(first)).await?;
        }
        for queue in gone {
            self.ranges.remove(&queue);
        }
        Ok(())
    }

    /// The next messages within the ranges, in queue order; `None` once every range was read.
    pub(crate) async fn next(&mut self) -> Result<Option<Vec<InRange>>, Error> {
        let started = Instant::now();
        while !self.ranges.is_empty() {
            let messages = self.consumer.poll(200).await;
            let mut read = Vec::with_capacity(messages.len());
            for message in messages {
                let queue = QueueId {
                    topic: message.topic().to_string(),
                    broker_name: message.broker_name().to_string(),
                    queue_id: message.queue_id(),
                };
                let Some(&(_, end)) = self.ranges.get(&queue) else { continue };
                if message.queue_offset() >= end {
                    continue;
                }
                let last = message.queue_offset() + 1 >= end;
                if last {
                    self.ranges.remove(&queue);
                }
                read.push((queue, message, last));
            }
            if !read.is_empty() {
                return Ok(Some(read));
            }
            if started.elapsed() > self.idle {
                let queues: Vec<String> = self.ranges.keys().map(|q| format!("{}/{}", q.topic, q.queue_id)).collect();
                return Err(Error::other(format!("the broker delivered nothing of {} for {:?}", queues.join(", "), self.idle)));
            }
        }
        Ok(None)
    }

    /// Stops its consumer.
    pub(crate) async fn close(self) {
        self.consumer.shutdown().await;
    }
}
