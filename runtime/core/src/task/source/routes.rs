//! Which queue of a topic each source partition's records go to.

use std::collections::HashMap;

use rocketmq_model::common::message::message_queue::MessageQueue;

use crate::mq::MqClient;

/// Which queue each source partition's records go to. For a topic that exists, the partition's
/// hash picks one of its write queues; a topic the task creates gets all the task's records in
/// the queue its first batch landed in (its route is unknown until that send created it).
pub(super) struct Routes {
    mq: MqClient,
    queues: HashMap<String, Vec<MessageQueue>>,
    learned: HashMap<String, MessageQueue>,
    /// Topics found without a route during the current send (looked up once per send).
    pub(super) missing: std::collections::HashSet<String>,
}

/// Queues of a topic a source creates (RocketMQ's `defaultTopicQueueNums`).
const NEW_TOPIC_QUEUES: u32 = 4;

impl Routes {
    /// Routes looked up through `mq`.
    pub(super) fn new(mq: MqClient) -> Routes {
        Routes { mq, queues: HashMap::new(), learned: HashMap::new(), missing: Default::default() }
    }

    pub(super) async fn queue_for(&mut self, topic: &str, pin: u64) -> Option<MessageQueue> {
        if let Some(queue) = self.learned.get(topic) {
            return Some(queue.clone());
        }
        if !self.queues.contains_key(topic) {
            if self.missing.contains(topic) {
                return None;
            }
            // A new topic is created first (as the broker would create it on the first send), so
            // a partition is pinned to the same queue by this task and by any task after it.
            // `ensure_topic` leaves a topic that exists as it is.
            let created = match self.mq.ensure_topic(topic, NEW_TOPIC_QUEUES).await {
                Ok(()) => self.mq.write_queues(topic).await.map_err(|e| e.to_string()),
                Err(error) => Err(error.to_string()),
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

    pub(super) fn learn(&mut self, topic: String, queue: Option<MessageQueue>) {
        if let Some(queue) = queue
            && !self.queues.contains_key(&topic)
        {
            self.learned.entry(topic).or_insert(queue);
        }
    }
}
