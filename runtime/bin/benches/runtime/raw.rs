//! The baseline: rocketmq-client-rust used directly, the way the worker's source and sink
//! paths use it (batches of 256 to one queue per task, one batch in flight per task; lite-pull
//! consumers in assign mode, every n-th queue per task). It sends the messages the worker
//! sends for a datagen record: the body, the key as RocketMQ's `KEYS` (the broker indexes
//! it) and the record timestamp as a property, so both sides ask the same of the broker.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use rocketmq_client_rust::{ClientRuntime, ClientRuntimeConfig, DefaultLitePullConsumer, DefaultMQProducer, TelemetryHandle};
use rocketmq_model::common::consumer::consume_from_where::ConsumeFromWhere;
use rocketmq_model::common::message::message_ext::MessageExt;
use rocketmq_model::common::message::message_queue::MessageQueue;
use rocketmq_model::common::message::message_single::Message;
use rocketmq_runtime::RuntimeContext;

use connect_runtime::wire;
use connect_sdk::record::now_millis;

use crate::window::{Progress, Window};

/// Records per batch, as the worker's `max_batch_records`.
pub const BATCH: usize = 256;

/// One client runtime and one producer, as a worker has; cheap to clone.
#[derive(Clone)]
pub struct RawClient {
    runtime: Arc<ClientRuntime>,
    namesrv: String,
    producer: Arc<DefaultMQProducer>,
}

impl RawClient {
    pub async fn new(namesrv: &str) -> anyhow::Result<RawClient> {
        let context = RuntimeContext::from_current("bench").service_context("raw");
        let runtime = ClientRuntime::try_new(context, ClientRuntimeConfig::default(), TelemetryHandle::noop())?;
        let mut producer = DefaultMQProducer::builder(runtime.clone())
            .producer_group("bench-raw-producer".to_owned())
            .name_server_addr(namesrv.to_owned())
            .retry_times_when_send_failed(2)
            .build();
        producer.start().await?;
        Ok(RawClient { runtime, namesrv: namesrv.to_owned(), producer: Arc::new(producer) })
    }

    /// Sends `records` bodies of `size` bytes to `topic` from `tasks` senders, each a tokio
    /// task as a worker's source tasks are.
    pub async fn produce(&self, topic: &str, records: usize, size: usize, tasks: usize) -> anyhow::Result<Window> {
        let progress = Arc::new(Progress::new());
        let senders = (0..tasks).map(|_| {
            let (client, topic, progress) = (self.clone(), topic.to_owned(), progress.clone());
            tokio::spawn(async move { client.send_paced(&topic, records / tasks, &vec![b'x'; size], None, &progress).await })
        });
        for sender in futures_util::future::join_all(senders).await {
            sender??;
        }
        Ok(progress.window(Instant::now()))
    }

    /// One sender: `records` messages in batches to one queue (the one its first batch landed
    /// in); at most `rate` records per second when given. Each message's timestamp property is
    /// when it was due at that rate (as `datagen-source` stamps its records), else when its
    /// batch was built.
    pub async fn send_paced(&self, topic: &str, records: usize, body: &[u8], rate: Option<u64>, progress: &Progress) -> anyhow::Result<()> {
        let mut queue: Option<MessageQueue> = None;
        let started = Instant::now();
        let started_ms = now_millis();
        let mut sent = 0;
        while sent < records {
            let mut count = BATCH.min(records - sent);
            if let Some(rate) = rate {
                let due = (started.elapsed().as_secs_f64() * rate as f64) as usize;
                if due <= sent {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    continue;
                }
                count = count.min(due - sent);
            }
            let now = now_millis();
            let stamp = |index: usize| match rate {
                Some(rate) if rate > 0 => started_ms + (index as u128 * 1000 / u128::from(rate)) as i64,
                _ => now,
            };
            let batch: Vec<Message> = (sent..sent + count)
                .map(|index| {
                    let timestamp = stamp(index).to_string();
                    Message::builder().topic(topic).body_slice(body).key("0").raw_property(wire::TIMESTAMP, timestamp.as_str())?.build()
                })
                .collect::<Result<_, _>>()?;
            let result = match &queue {
                Some(queue) => self.producer.send_batch_to_queue(batch, queue.clone()).await,
                None => self.producer.send_batch(batch).await,
            }
            .with_context(|| format!("send to {topic}"))?;
            anyhow::ensure!(format!("{:?}", result.send_status) == "SendOk", "broker answered {:?}", result.send_status);
            queue = queue.or(result.message_queue);
            sent += count;
            progress.add(count as u64);
        }
        Ok(())
    }

    /// Sends one message of `body` to `topic` every second, for ever (each to the queue its
    /// first landed in): one slow source task's load, without the worker.
    pub async fn send_slowly(&self, topic: &str, body: &[u8]) -> anyhow::Result<()> {
        let mut queue: Option<MessageQueue> = None;
        let mut ticks = tokio::time::interval(Duration::from_secs(1));
        loop {
            ticks.tick().await;
            let timestamp = now_millis().to_string();
            let message =
                Message::builder().topic(topic).body_slice(body).key("0").raw_property(wire::TIMESTAMP, timestamp.as_str())?.build()?;
            let result = match &queue {
                Some(queue) => self.producer.send_batch_to_queue(vec![message], queue.clone()).await,
                None => self.producer.send_batch(vec![message]).await,
            }
            .with_context(|| format!("send to {topic}"))?;
            queue = queue.or(result.message_queue);
        }
    }

    /// Sends each of `bodies` as one message to `topic`, in batches to one queue (the one its
    /// first batch landed in), in order.
    pub async fn send_bodies(&self, topic: &str, bodies: &[&[u8]]) -> anyhow::Result<()> {
        let mut queue: Option<MessageQueue> = None;
        for chunk in bodies.chunks(BATCH) {
            let batch: Vec<Message> =
                chunk.iter().map(|body| Message::builder().topic(topic).body_slice(body).key("0").build()).collect::<Result<_, _>>()?;
            let result = match &queue {
                Some(queue) => self.producer.send_batch_to_queue(batch, queue.clone()).await,
                None => self.producer.send_batch(batch).await,
            }
            .with_context(|| format!("send to {topic}"))?;
            queue = queue.or(result.message_queue);
        }
        Ok(())
    }

    /// The file pipeline's shape without the worker: the lines of `input` sent in batches to
    /// one queue of `topic` while one consumer reads them and appends each as a line to
    /// `output`, synced at the end; the time from the first send to the synced copy.
    pub async fn file_pipeline(&self, input: &std::path::Path, output: &std::path::Path, topic: &str) -> anyhow::Result<Duration> {
        use std::io::Write;
        const CREATE: &[u8] = b"#create";
        let text = std::fs::read(input)?;
        let lines: Vec<&[u8]> = text.split(|b| *b == b'\n').filter(|line| !line.is_empty()).collect();
        // The topic exists before the timed run, so the reader is reading when the lines come.
        self.send_bodies(topic, &[CREATE]).await?;
        let mut out = std::io::BufWriter::new(std::fs::File::create(output)?);
        let mut failed = None;
        let started = Instant::now();
        let group = format!("{topic}-reader");
        let progress = Progress::new();
        let reader = self.read(topic, &group, (0, 1), lines.len() as u64 + 1, &progress, |message| {
            let body = message.body().unwrap_or_default();
            if body.as_ref() != CREATE
                && let Err(error) = out.write_all(&body).and_then(|()| out.write_all(b"\n"))
            {
                failed = Some(error);
            }
        });
        tokio::try_join!(reader, self.send_bodies(topic, &lines))?;
        if let Some(error) = failed {
            return Err(error.into());
        }
        out.into_inner().map_err(|e| e.into_error())?.sync_data()?;
        Ok(started.elapsed())
    }

    /// Reads `records` messages of `topic` with `tasks` consumers of a new group, each a tokio
    /// task as a worker's sink tasks are.
    pub async fn consume(&self, topic: &str, records: usize, tasks: usize) -> anyhow::Result<Window> {
        let group = format!("bench-raw-{topic}");
        let progress = Arc::new(Progress::new());
        let readers = (0..tasks).map(|task| {
            let (client, topic, group, progress) = (self.clone(), topic.to_owned(), group.clone(), progress.clone());
            tokio::spawn(async move { client.read(&topic, &group, (task, tasks), records as u64, &progress, |_| ()).await })
        });
        let mut finished = None;
        for reader in futures_util::future::join_all(readers).await {
            finished = finished.max(Some(reader??));
        }
        Ok(progress.window(finished.unwrap_or_else(Instant::now)))
    }

    /// One consumer of `group` reading its share of `topic`'s queues (every `tasks`-th queue
    /// from the `task`-th) from the start until `progress` reaches `records`; `each` sees every
    /// message. Returns when it saw the last one (shutting the consumer down is not part of
    /// the measurement).
    pub async fn read(
        &self,
        topic: &str,
        group: &str,
        (task, tasks): (usize, usize),
        records: u64,
        progress: &Progress,
        mut each: impl FnMut(&MessageExt),
    ) -> anyhow::Result<Instant> {
        let consumer = DefaultLitePullConsumer::builder(self.runtime.clone())
            .consumer_group(group.to_owned())
            .name_server_addr(self.namesrv.clone())
            .instance_name(format!("{group}-{task}"))
            .consume_from_where(ConsumeFromWhere::ConsumeFromFirstOffset)
            .pull_batch_size(BATCH as i32)
            .broker_suspend_max_time_millis(1_000)
            .consumer_timeout_millis_when_suspend(3_000)
            .auto_commit(false)
            .build()?;
        consumer.start().await?;
        // A topic the worker just created may not be routed by the name server yet.
        let routed_by = Instant::now() + Duration::from_secs(30);
        let mut queues = loop {
            match consumer.fetch_message_queues(topic).await {
                Ok(queues) if !queues.is_empty() => break queues,
                Err(error) if Instant::now() > routed_by => return Err(error.into()),
                _ if Instant::now() > routed_by => anyhow::bail!("{topic} has no queues"),
                _ => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        };
        queues.sort_by_key(|q| q.queue_id());
        let mine: Vec<MessageQueue> = queues.into_iter().enumerate().filter(|(i, _)| i % tasks == task).map(|(_, q)| q).collect();
        consumer.assign(mine).await?;
        let deadline = Instant::now() + Duration::from_secs(600);
        let mut finished = Instant::now();
        while progress.done() < records {
            anyhow::ensure!(Instant::now() < deadline, "{group} read {} of {records}", progress.done());
            // As the worker's sink reads: shared with the client's buffers, not copied.
            let messages = consumer.poll_with_timeout_zero_copy(200).await;
            messages.iter().for_each(|message| each(message));
            finished = Instant::now();
            progress.add(messages.len() as u64);
        }
        consumer.shutdown().await;
        Ok(finished)
    }

    pub async fn shutdown(self) {
        if let Ok(mut producer) = Arc::try_unwrap(self.producer) {
            producer.shutdown().await;
        }
        let _ = self.runtime.shutdown().await;
    }
}
