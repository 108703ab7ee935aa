//! `rabbitmq-source`: messages of RabbitMQ queues into a topic, acknowledged to RabbitMQ only
//! once RocketMQ stored them.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use connect_sdk::config::ConfigErrors;
use connect_sdk::config::groups::{BatchSize, PollWait};
use connect_sdk::prelude::*;
use futures_util::StreamExt;
use futures_util::stream::SelectAll;
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicQosOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, Connection, ConnectionProperties, Consumer};

/// Moves the messages of RabbitMQ queues into a RocketMQ topic (a migration with no
/// downtime: producers keep publishing to RabbitMQ while consumers move to RocketMQ). A
/// message is acknowledged to RabbitMQ only after RocketMQ stored it and its offset was
/// committed, so a crash redelivers instead of losing anything. The value is the body (bytes),
/// the key the message id; routing key, exchange, content type, correlation id and the AMQP
/// headers become record headers. Queues are spread over `tasks.max` tasks.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, SourceConnector)]
#[connector(name = "rabbitmq-source", aliases = ["com.ibm.eventstreams.connect.rabbitmqsource.RabbitMQSourceConnector", "RabbitMQSourceConnector"],
            task = RabbitMqSourceTask, split = RabbitMqSource::split, validate = RabbitMqSource::check)]
pub struct RabbitMqSource {
    /// AMQP URI of the broker, `amqp://user:password@host:5672/vhost` (`%2f` is the default vhost).
    #[serde(default = "default_uri")]
    pub rabbitmq_uri: String,
    /// Queues to read, comma-separated.
    pub rabbitmq_queue: Vec<String>,
    /// Declare each queue (durable) if it does not exist, instead of failing.
    #[serde(default)]
    pub rabbitmq_queue_declare: bool,
    /// Messages RabbitMQ sends ahead of acknowledgements, per queue.
    #[serde(default = "default_prefetch")]
    pub rabbitmq_prefetch_count: u16,
    /// Topic to write to.
    #[config(topic)]
    pub topic: String,
    /// `batch.size`.
    #[serde(flatten)]
    pub batch: BatchSize<500>,
    /// `poll.wait.ms`.
    #[serde(flatten)]
    pub poll_wait: PollWait<200>,
}

/// The default broker URI (the local broker, default vhost, guest user).
pub(crate) fn default_uri() -> String {
    "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned()
}
fn default_prefetch() -> u16 {
    1_000
}

impl RabbitMqSource {
    fn split(&self, max_tasks: usize) -> Vec<Self> {
        let tasks = max_tasks.clamp(1, self.rabbitmq_queue.len().max(1));
        (0..tasks)
            .map(|t| RabbitMqSource {
                rabbitmq_queue: self.rabbitmq_queue.iter().skip(t).step_by(tasks).cloned().collect(),
                ..self.clone()
            })
            .collect()
    }

    fn check(&self) -> Result<(), ConfigErrors> {
        let mut errors = ConfigErrors::new();
        if self.rabbitmq_queue.iter().all(|q| q.trim().is_empty()) {
            errors.push("rabbitmq.queue", "name at least one queue");
        }
        if !self.rabbitmq_uri.starts_with("amqp://") && !self.rabbitmq_uri.starts_with("amqps://") {
            errors.push("rabbitmq.uri", "use amqp://user:password@host:port/vhost");
        }
        if self.rabbitmq_prefetch_count == 0 {
            errors.push("rabbitmq.prefetch.count", "must be at least 1 (0 would let RabbitMQ send without limit)");
        }
        errors.into_result(())
    }
}

/// Connects to the broker at `uri`.
pub(crate) async fn connect(uri: &str) -> Result<Connection> {
    Connection::connect(uri, ConnectionProperties::default())
        .await
        .map_err(|e| Error::Retriable { message: format!("cannot connect to RabbitMQ at {}: {e}", redact(uri)), source: Some(Box::new(e)) })
}

/// The URI without its password, for messages.
pub(crate) fn redact(uri: &str) -> String {
    match (uri.find("://"), uri.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => match uri[scheme + 3..at].split_once(':') {
            Some((user, _)) => format!("{}{user}:***{}", &uri[..scheme + 3], &uri[at..]),
            None => uri.to_owned(),
        },
        _ => uri.to_owned(),
    }
}

pub(crate) fn amqp_error(doing: &str, error: lapin::Error) -> Error {
    Error::Retriable { message: format!("{doing}: {error}"), source: Some(Box::new(error)) }
}

/// Reads its queues, each on its own channel (acknowledgements are per channel, so queues
/// never share one).
pub struct RabbitMqSourceTask {
    config: RabbitMqSource,
    ctx: SourceContext,
    connection: Connection,
    channels: BTreeMap<String, Channel>,
    deliveries: SelectAll<futures_util::stream::BoxStream<'static, (String, lapin::Result<Delivery>)>>,
}

impl SourceTask for RabbitMqSourceTask {
    type Config = RabbitMqSource;
    // RabbitMQ redelivers unacknowledged messages with new delivery tags (they restart
    // on every channel): a record cannot be found again by its offset.
    const REPEATABLE: bool = false;

    async fn open(config: RabbitMqSource, ctx: SourceContext) -> Result<Self> {
        let connection = connect(&config.rabbitmq_uri).await?;
        let mut channels = BTreeMap::new();
        let mut deliveries = SelectAll::new();
        for queue in config.rabbitmq_queue.iter().filter(|q| !q.trim().is_empty()) {
            let channel = connection.create_channel().await.map_err(|e| amqp_error("cannot open a channel", e))?;
            let options = QueueDeclareOptions { durable: true, passive: !config.rabbitmq_queue_declare, ..QueueDeclareOptions::default() };
            channel.queue_declare(queue.as_str().into(), options, FieldTable::default()).await.map_err(|e| {
                Error::with_source(format!("queue {queue:?} does not exist (set rabbitmq.queue.declare=true to create it)"), e)
            })?;
            channel
                .basic_qos(config.rabbitmq_prefetch_count, BasicQosOptions::default())
                .await
                .map_err(|e| amqp_error("cannot set the prefetch count", e))?;
            let tag = format!("{}-{}-{queue}", ctx.connector_name(), ctx.task_id());
            let consumer: Consumer = channel
                .basic_consume(queue.as_str().into(), tag.as_str().into(), BasicConsumeOptions::default(), FieldTable::default())
                .await
                .map_err(|e| amqp_error(&format!("cannot consume {queue}"), e))?;
            let name = queue.clone();
            deliveries.push(consumer.map(move |d| (name.clone(), d)).boxed());
            channels.insert(queue.clone(), channel);
        }
        Ok(RabbitMqSourceTask { config, ctx, connection, channels, deliveries })
    }

    async fn poll(&mut self) -> Result<Vec<SourceRecord>> {
        let deadline = Instant::now() + self.config.poll_wait.duration();
        let mut records = Vec::new();
        while records.len() < self.config.batch.batch_size {
            let wait = if records.is_empty() { deadline.saturating_duration_since(Instant::now()) } else { Duration::ZERO };
            let next = match connect_sdk::tokio::time::timeout(wait, self.deliveries.next()).await {
                Ok(next) => next,
                Err(_) => break,
            };
            match next {
                Some((queue, Ok(delivery))) => records.push(self.record(&queue, delivery)),
                Some((queue, Err(error))) => return Err(amqp_error(&format!("consuming {queue} failed"), error)),
                None => return Err(Error::retriable("RabbitMQ cancelled the consumers")),
            }
        }
        if !records.is_empty() {
            // RabbitMQ sends no more than the prefetch count until some are acknowledged.
            self.ctx.request_commit();
        }
        Ok(records)
    }

    /// Acknowledges, per queue, every delivery up to the committed one.
    async fn commit(&mut self, committed: &CommittedOffsets) -> Result<()> {
        for (partition, offset) in committed {
            let (Some(queue), Some(tag)) = (partition.get_str("queue"), offset.get_i64("delivery.tag")) else { continue };
            if let Some(channel) = self.channels.get(queue) {
                channel
                    .basic_ack(tag as u64, BasicAckOptions { multiple: true })
                    .await
                    .map_err(|e| amqp_error(&format!("cannot acknowledge {queue} up to {tag}"), e))?;
            }
        }
        Ok(())
    }

    async fn close(&mut self) -> Result<()> {
        // Unacknowledged deliveries go back to their queues.
        let _ = self.connection.close(200, "closing".into()).await;
        Ok(())
    }
}

impl RabbitMqSourceTask {
    fn record(&self, queue: &str, delivery: Delivery) -> SourceRecord {
        let partition = SourcePartition::new().with("queue", queue);
        let offset = SourceOffset::new().with("delivery.tag", delivery.delivery_tag);
        let properties = &delivery.properties;
        let mut record = SourceRecord::new(partition, offset, &self.config.topic, Value::Bytes(delivery.data))
            .with_header("rabbitmq.routing.key", delivery.routing_key.as_str())
            .with_header("rabbitmq.exchange", delivery.exchange.as_str());
        if let Some(id) = properties.message_id() {
            record = record.with_key(id.as_str());
        }
        if let Some(content_type) = properties.content_type() {
            record = record.with_header("rabbitmq.content.type", content_type.as_str());
        }
        if let Some(correlation) = properties.correlation_id() {
            record = record.with_header("rabbitmq.correlation.id", correlation.as_str());
        }
        if let Some(timestamp) = properties.timestamp() {
            record = record.with_timestamp(*timestamp as i64 * 1000);
        }
        if let Some(headers) = properties.headers() {
            for (name, value) in headers.inner() {
                if let Some(text) = header_text(value) {
                    record = record.with_header(name.as_str(), text);
                }
            }
        }
        record
    }
}

/// An AMQP header value as text (tables and arrays are left out).
fn header_text(value: &AMQPValue) -> Option<String> {
    Some(match value {
        AMQPValue::Boolean(b) => b.to_string(),
        AMQPValue::ShortShortInt(i) => i.to_string(),
        AMQPValue::ShortShortUInt(i) => i.to_string(),
        AMQPValue::ShortInt(i) => i.to_string(),
        AMQPValue::ShortUInt(i) => i.to_string(),
        AMQPValue::LongInt(i) => i.to_string(),
        AMQPValue::LongUInt(i) => i.to_string(),
        AMQPValue::LongLongInt(i) => i.to_string(),
        AMQPValue::Float(f) => f.to_string(),
        AMQPValue::Double(f) => f.to_string(),
        AMQPValue::ShortString(s) => s.as_str().to_owned(),
        AMQPValue::LongString(s) => String::from_utf8_lossy(s.as_bytes()).into_owned(),
        AMQPValue::Timestamp(t) => t.to_string(),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_stay_out_of_messages() {
        assert_eq!(redact("amqp://guest:secret@host:5672/%2f"), "amqp://guest:***@host:5672/%2f");
        assert_eq!(redact("amqp://host:5672"), "amqp://host:5672");
    }
}
