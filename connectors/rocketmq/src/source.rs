//! The `rocketmq-source` config, its plan, and the task that copies its queues.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use cheetah_string::CheetahString;
use connect_sdk::config::ConfigErrors;
use connect_sdk::prelude::*;
use rocketmq_client_rust::{ClientRuntime, ClientRuntimeConfig, DefaultLitePullConsumer, TelemetryHandle};
use rocketmq_model::common::message::STRING_HASH_SET;
use rocketmq_model::common::message::message_ext::MessageExt;
use rocketmq_model::common::message::message_queue::MessageQueue;
use rocketmq_runtime::RuntimeContext;

/// Keeps client instance names unique within a process.
static INSTANCE: AtomicU64 = AtomicU64::new(0);

/// Where a queue without a committed offset starts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum StartFrom {
    /// At the first message still stored.
    #[default]
    Earliest,
    /// At the next message written.
    Latest,
}

/// Copies the messages of topics of another RocketMQ cluster (`source.namesrv`) into this
/// worker's, keeping each queue's order: the body as the value (bytes), the first of the
/// message's keys as the key, its user properties as headers, and `rocketmq.tags`,
/// `rocketmq.msg.id`, `rocketmq.source.topic`, `rocketmq.source.queue` and
/// `rocketmq.source.offset` headers. `topic` names the target (`${topic}`: the same name).
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, SourceConnector)]
#[connector(name = "rocketmq-source", aliases = ["org.apache.rocketmq.replicator.ReplicatorSourceConnector", "RocketMQSourceConnector"],
            task = RocketMqSourceTask, plan = RocketMqSource::plan, validate = RocketMqSource::check)]
pub struct RocketMqSource {
    /// Name server(s) of the source cluster, `host:9876` (`;`-separated for several).
    pub source_namesrv: String,
    /// Topics to copy, comma-separated.
    #[config(topic)]
    pub source_topics: Vec<String>,
    /// Target topic; `${topic}` is replaced by the source topic.
    #[serde(default = "default_topic")]
    pub topic: String,
    /// Where a queue without a committed offset starts: `earliest` or `latest`.
    #[serde(default)]
    pub source_start_from: StartFrom,
    /// Messages pulled per request.
    #[serde(default = "default_batch")]
    #[schemars(range(min = 1, max = 1_024))]
    pub batch_size: i32,
    /// Milliseconds a poll waits for messages.
    #[serde(default = "default_poll_ms")]
    #[schemars(range(max = 3_600_000))]
    pub poll_timeout_ms: u64,
    /// Milliseconds between two lookups of the source topics' queues.
    #[serde(default = "default_refresh_ms")]
    #[schemars(range(max = 604_800_000))]
    pub source_queue_refresh_ms: u64,
    /// The queues one task copies, `topic|broker|queue id` (set when the connector plans its tasks;
    /// users do not set it).
    #[serde(default)]
    #[config(task_only)]
    pub queues: Vec<String>,
}

fn default_topic() -> String {
    "${topic}".to_owned()
}
fn default_batch() -> i32 {
    64
}
fn default_poll_ms() -> u64 {
    200
}
fn default_refresh_ms() -> u64 {
    60_000
}

fn queue_name(queue: &MessageQueue) -> String {
    format!("{}|{}|{}", queue.topic_str(), queue.broker_name(), queue.queue_id())
}

fn parse_queue(name: &str) -> Option<MessageQueue> {
    let mut parts = name.rsplitn(3, '|');
    let id: i32 = parts.next()?.parse().ok()?;
    let broker = parts.next()?;
    let topic = parts.next()?;
    Some(MessageQueue::from_parts(CheetahString::from_string(topic.to_owned()), CheetahString::from_string(broker.to_owned()), id))
}

fn mq_error(doing: &str, error: impl std::fmt::Display) -> Error {
    Error::retriable(format!("{doing}: {error}"))
}

/// A client runtime and a lite-pull consumer on the source cluster.
struct SourceClient {
    runtime: Arc<ClientRuntime>,
    consumer: DefaultLitePullConsumer,
}

impl SourceClient {
    async fn start(config: &RocketMqSource, group: &str) -> Result<SourceClient> {
        let context = RuntimeContext::from_current("rocketmq-source").service_context("client");
        let runtime = ClientRuntime::try_new(context, ClientRuntimeConfig::default(), TelemetryHandle::noop())
            .map_err(|e| Error::other(format!("cannot create a RocketMQ client runtime: {e}")))?;
        let consumer = DefaultLitePullConsumer::builder(runtime.clone())
            .consumer_group(group.to_owned())
            .name_server_addr(config.source_namesrv.clone())
            .instance_name(format!("{group}-{}-{}", std::process::id(), INSTANCE.fetch_add(1, Ordering::Relaxed)))
            .pull_batch_size(config.batch_size.max(1))
            .broker_suspend_max_time_millis(1_000)
            .consumer_timeout_millis_when_suspend(3_000)
            .auto_commit(false)
            .build()
            .map_err(|e| mq_error("cannot build a consumer of the source cluster", e))?;
        // The client learns a topic's route (and can read its queues' offsets) once declared.
        for topic in config.source_topics.iter().map(|t| t.trim()).filter(|t| !t.is_empty()) {
            consumer.set_sub_expression_for_assign(topic, "*").await.map_err(|e| mq_error(&format!("cannot declare {topic}"), e))?;
        }
        consumer.start().await.map_err(|e| mq_error(&format!("cannot connect to the source cluster at {}", config.source_namesrv), e))?;
        Ok(SourceClient { runtime, consumer })
    }

    async fn shutdown(self) {
        self.consumer.shutdown().await;
        let _ = self.runtime.shutdown().await;
    }
}

impl RocketMqSource {
    fn check(&self) -> Result<(), ConfigErrors> {
        let mut errors = ConfigErrors::new();
        if self.source_namesrv.trim().is_empty() || !self.source_namesrv.contains(':') {
            errors.push("source.namesrv", "use host:port of the source cluster's name server");
        }
        if self.source_topics.iter().all(|t| t.trim().is_empty()) {
            errors.push("source.topics", "name at least one topic");
        }
        if self.topic.trim().is_empty() {
            errors.push("topic", "cannot be empty");
        }
        if self.batch_size < 1 {
            errors.push("batch.size", "must be at least 1");
        }
        errors.into_result(())
    }

    /// The source topics' queues, spread round-robin over the tasks.
    async fn plan(&self, max_tasks: usize) -> Result<TaskPlan<Self>> {
        let client = SourceClient::start(self, "connect-rocketmq-source-planner").await?;
        let mut queues = Vec::new();
        let mut failure = None;
        for topic in self.source_topics.iter().map(|t| t.trim()).filter(|t| !t.is_empty()) {
            match client.consumer.fetch_message_queues(topic).await {
                Ok(found) => queues.extend(found.iter().map(queue_name)),
                Err(e) => failure = Some(mq_error(&format!("cannot find the queues of {topic} in the source cluster"), e)),
            }
        }
        client.shutdown().await;
        if let Some(failure) = failure {
            return Err(failure);
        }
        queues.sort();
        let count = max_tasks.max(1).min(queues.len());
        let tasks = (0..count)
            .map(|t| RocketMqSource { queues: queues.iter().skip(t).step_by(count).cloned().collect(), ..self.clone() })
            .collect();
        Ok(TaskPlan::new(tasks).replan_after(Duration::from_millis(self.source_queue_refresh_ms.max(1_000))))
    }
}

/// Copies its queues.
pub struct RocketMqSourceTask {
    config: RocketMqSource,
    client: Option<SourceClient>,
}

fn partition_of(queue: &MessageQueue) -> SourcePartition {
    SourcePartition::new().with("topic", queue.topic_str()).with("broker", queue.broker_name().as_str()).with("queue", queue.queue_id())
}

impl SourceTask for RocketMqSourceTask {
    type Config = RocketMqSource;

    async fn open(config: RocketMqSource, ctx: SourceContext) -> Result<Self> {
        let planned: Vec<MessageQueue> = config.queues.iter().filter_map(|q| parse_queue(q)).collect();
        let client = SourceClient::start(&config, &format!("connect-{}", ctx.connector_name())).await?;
        // Looking the queues up teaches the client where their brokers are.
        let mut topics: Vec<&str> = planned.iter().map(|q| q.topic_str()).collect();
        topics.dedup();
        let mut queues = Vec::with_capacity(planned.len());
        for topic in topics {
            let found = client
                .consumer
                .fetch_message_queues(topic)
                .await
                .map_err(|e| mq_error(&format!("cannot find the queues of {topic}"), e))?;
            queues.extend(found.into_iter().filter(|q| config.queues.contains(&queue_name(q))));
        }
        if !queues.is_empty() {
            client.consumer.assign(queues.clone()).await.map_err(|e| mq_error("cannot assign the source queues", e))?;
        }
        for queue in &queues {
            let committed = ctx.offset(&partition_of(queue)).and_then(|o| o.get_i64("offset"));
            let offset = match (committed, config.source_start_from) {
                (Some(next), _) => next,
                (None, StartFrom::Earliest) => {
                    client.consumer.min_offset(queue).await.map_err(|e| mq_error("cannot read a queue's first offset", e))?
                }
                (None, StartFrom::Latest) => {
                    client.consumer.max_offset(queue).await.map_err(|e| mq_error("cannot read a queue's last offset", e))?
                }
            };
            client
                .consumer
                .seek(queue, offset)
                .await
                .map_err(|e| mq_error(&format!("cannot seek {} to {offset}", queue_name(queue)), e))?;
        }
        Ok(RocketMqSourceTask { config, client: Some(client) })
    }

    async fn poll(&mut self) -> Result<Vec<SourceRecord>> {
        let Some(client) = &self.client else { return Ok(Vec::new()) };
        if self.config.queues.is_empty() {
            connect_sdk::tokio::time::sleep(Duration::from_millis(self.config.poll_timeout_ms)).await;
            return Ok(Vec::new());
        }
        let messages = client.consumer.poll_with_timeout(self.config.poll_timeout_ms).await;
        Ok(messages.iter().map(|m| self.record(m)).collect())
    }

    async fn close(&mut self) -> Result<()> {
        if let Some(client) = self.client.take() {
            client.shutdown().await;
        }
        Ok(())
    }
}

/// Properties the worker itself writes for records it produced (see the runtime's `wire`
/// module): their headers and key are read back as such, the rest left out.
const CONNECT_HEADER: &str = "__connect.h.";
const CONNECT_KEY: &str = "__connect.key";
const CONNECT_PREFIX: &str = "__connect.";

impl RocketMqSourceTask {
    fn record(&self, message: &MessageExt) -> SourceRecord {
        let source_topic = message.topic().as_str();
        let queue = MessageQueue::from_parts(
            message.topic().clone(),
            CheetahString::from_string(message.broker_name().to_owned()),
            message.queue_id(),
        );
        let offset = SourceOffset::new().with("offset", message.queue_offset() + 1);
        let topic = self.config.topic.replace("${topic}", source_topic);
        let body = message.body().map(|b| b.to_vec()).unwrap_or_default();
        let mut record = SourceRecord::new(partition_of(&queue), offset, topic, Value::Bytes(body))
            .with_timestamp(message.born_timestamp())
            .with_header("rocketmq.msg.id", message.msg_id().as_str())
            .with_header("rocketmq.source.topic", source_topic)
            .with_header("rocketmq.source.queue", message.queue_id())
            .with_header("rocketmq.source.offset", message.queue_offset());
        let properties = message.properties();
        let key = properties.get("KEYS").and_then(|keys| keys.as_str().split(' ').find(|k| !k.is_empty()).map(str::to_owned));
        if let Some(key) = properties.get(CONNECT_KEY).map(|k| k.to_string()).or(key) {
            record = record.with_key(key);
        }
        if let Some(tags) = message.get_tags() {
            record = record.with_header("rocketmq.tags", tags.as_str());
        }
        let mut user: Vec<(&CheetahString, &CheetahString)> = properties.iter().collect();
        user.sort();
        for (name, value) in user {
            let name = name.as_str();
            if let Some(header) = name.strip_prefix(CONNECT_HEADER) {
                record = record.with_header(header, value.as_str());
            } else if !name.starts_with(CONNECT_PREFIX) && !STRING_HASH_SET.contains(name) {
                record = record.with_header(name, value.as_str());
            }
        }
        record
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_names_round_trip() {
        let queue = MessageQueue::from_parts(CheetahString::from("orders|eu"), CheetahString::from("broker-a"), 3);
        let back = parse_queue(&queue_name(&queue)).unwrap();
        assert_eq!((back.topic_str(), back.broker_name().as_str(), back.queue_id()), ("orders|eu", "broker-a", 3));
        assert!(parse_queue("nonsense").is_none());
    }
}
