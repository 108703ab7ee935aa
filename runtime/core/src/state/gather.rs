//! Appends to one state topic from concurrent writers, sent together (a group commit): while
//! one batch is with the broker, the appends that arrive wait and then go out as the next
//! batch. A thousand tasks committing their offsets at once send a few batches, not a thousand
//! one-record messages; a lone append is sent at once, as before.
//!
//! Each append's records stay together and in order, so an append's positions are consecutive.
//! When a gathered batch fails, each of its appends is sent again by its own writer, which then
//! gets its own error (retriable or not) rather than a copy of someone else's.

use std::sync::{Arc, Mutex, PoisonError};

use rocketmq_model::common::message::message_queue::MessageQueue;
use rocketmq_model::common::message::message_single::Message;
use tokio::sync::oneshot;

use crate::mq::{MqCause, MqError, Producer};

/// What a waiting append learns: the positions of its first and last record, or its records
/// back, to send itself.
type Outcome = Result<(u64, u64), Vec<Message>>;

/// The appends of one topic queue waiting for the next batch.
pub(crate) struct Gathering {
    topic: String,
    queue: MessageQueue,
    /// The most bytes of records in one batch.
    max_bytes: usize,
    waiting: Mutex<Waiting>,
    /// Batches sent (for the tests).
    #[cfg(test)]
    batches: std::sync::atomic::AtomicUsize,
}

#[derive(Default)]
struct Waiting {
    appends: Vec<Append>,
    /// Whether a batch is being sent (and the sender takes what waits when it is done).
    sending: bool,
}

struct Append {
    messages: Vec<Message>,
    bytes: usize,
    done: oneshot::Sender<Outcome>,
}

impl Gathering {
    /// Gathers appends to `queue` of `topic` into batches of at most `max_bytes`.
    pub(crate) fn new(topic: &str, queue: MessageQueue, max_bytes: usize) -> Arc<Gathering> {
        Arc::new(Gathering {
            topic: topic.to_owned(),
            queue,
            max_bytes,
            waiting: Mutex::default(),
            #[cfg(test)]
            batches: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    /// Sends `messages` (`bytes` of bodies, at most the batch limit) with whatever else is
    /// appended meanwhile; returns the positions of the first and the last.
    pub(crate) async fn send(
        self: &Arc<Self>,
        producer: &Arc<Producer>,
        messages: Vec<Message>,
        bytes: usize,
    ) -> Result<(u64, u64), MqError> {
        let (done, outcome) = oneshot::channel();
        let lead = {
            let mut waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
            waiting.appends.push(Append { messages, bytes, done });
            !std::mem::replace(&mut waiting.sending, true)
        };
        if lead {
            // On a task of its own: it sends until nothing waits, whichever writers come and go.
            tokio::spawn(self.clone().drain(producer.clone()));
        }
        match outcome.await {
            Ok(Ok(positions)) => Ok(positions),
            Ok(Err(messages)) => {
                let count = messages.len() as u64;
                let first = producer.send_batch_at(&self.topic, &self.queue, messages).await?;
                Ok((first, first + count - 1))
            }
            Err(_) => Err(MqError::new(format!("append to {}", self.topic), MqCause::Missing("the batch sender stopped"))),
        }
    }

    /// Sends what waits, batch after batch, until nothing does.
    async fn drain(self: Arc<Self>, producer: Arc<Producer>) {
        loop {
            let batch = {
                let mut waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
                if waiting.appends.is_empty() {
                    waiting.sending = false;
                    return;
                }
                let mut bytes = 0;
                let fitting = waiting
                    .appends
                    .iter()
                    .position(|append| {
                        bytes += append.bytes;
                        bytes > self.max_bytes
                    })
                    .map_or(waiting.appends.len(), |over| over.max(1));
                waiting.appends.drain(..fitting).collect::<Vec<Append>>()
            };
            let messages: Vec<Message> = batch.iter().flat_map(|append| append.messages.iter().cloned()).collect();
            #[cfg(test)]
            self.batches.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            match producer.send_batch_at(&self.topic, &self.queue, messages).await {
                Ok(first) => {
                    let mut next = first;
                    for append in batch {
                        let count = append.messages.len() as u64;
                        let _ = append.done.send(Ok((next, next + count - 1)));
                        next += count;
                    }
                }
                Err(error) => {
                    tracing::debug!(topic = %self.topic, appends = batch.len(), %error, "a gathered batch failed; each append is sent alone");
                    for append in batch {
                        let _ = append.done.send(Err(append.messages));
                    }
                }
            }
        }
    }
}

#[cfg(all(test, feature = "embedded"))]
mod tests {
    use super::*;
    use crate::embedded::{EmbeddedConfig, EmbeddedRocketMq};
    use crate::mq::MqClient;

    /// Three hundred writers appending at once share batches, and each append's records land
    /// together, in order, at the positions it is told.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_appends_go_out_in_shared_batches_each_kept_whole_and_in_order() {
        let dir = std::env::temp_dir().join(format!("connect-gather-{}", std::process::id()));
        let broker = EmbeddedRocketMq::start(&EmbeddedConfig::free_ports(&dir)).await.unwrap();
        let client = MqClient::new(broker.namesrv_addr(), "gather").unwrap();
        client.ensure_topic("gather-log", 1).await.unwrap();
        let producer = Arc::new(client.producer("gather-producer").await.unwrap());
        let queue = client.write_queues("gather-log").await.unwrap().remove(0);
        let gathering = Gathering::new("gather-log", queue, 512 * 1024);
        let writers = (0..300).map(|writer| {
            let (gathering, producer) = (gathering.clone(), producer.clone());
            tokio::spawn(async move {
                let messages = (0..2)
                    .map(|i| Message::builder().topic("gather-log").body_slice(format!("{writer}-{i}").as_bytes()).build_unchecked())
                    .collect();
                gathering.send(&producer, messages, 12).await.unwrap()
            })
        });
        let mut positions = Vec::new();
        for written in futures_util::future::join_all(writers).await {
            let (first, last) = written.unwrap();
            assert_eq!(last, first + 1, "an append's records are consecutive");
            positions.extend([first, last]);
        }
        positions.sort_unstable();
        let start = positions[0];
        assert_eq!(positions, (start..start + 600).collect::<Vec<_>>(), "every record has a position of its own");
        let batches = gathering.batches.load(std::sync::atomic::Ordering::Relaxed);
        assert!(batches < 150, "300 appends went out in {batches} batches");
        // What each append was told is where the broker holds its records.
        let consumer = client.consumer("gather-reader", &["gather-log".to_owned()], 256).await.unwrap();
        let queues = consumer.queues("gather-log").await.unwrap();
        consumer.assign(queues).await.unwrap();
        let mut read = std::collections::HashMap::new();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while read.len() < 600 && std::time::Instant::now() < deadline {
            for message in consumer.poll(500).await {
                let body = String::from_utf8(message.body().unwrap().to_vec()).unwrap();
                read.insert(body, message.queue_offset() as u64);
            }
        }
        assert_eq!(read.len(), 600);
        for writer in 0..300 {
            assert_eq!(read[&format!("{writer}-1")], read[&format!("{writer}-0")] + 1, "writer {writer}'s records are in order");
        }
        consumer.shutdown().await;
        Producer::shutdown_shared(producer).await;
        client.shutdown().await;
        broker.shutdown().await;
        let _ = std::fs::remove_dir_all(dir);
    }
}
