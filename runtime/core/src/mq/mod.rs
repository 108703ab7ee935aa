//! Thin wrappers over the RocketMQ client: one client runtime per worker, producers that
//! send batches, and lite-pull consumers that commit explicitly.

mod groups;
mod ranges;

pub(crate) use ranges::RangeReader;

use std::collections::HashMap;
use std::sync::Arc;

use cheetah_string::CheetahString;
use connect_sdk::record::QueueId;
use rocketmq_client_rust::{AllocateMessageQueueStrategy, SendResult};
use rocketmq_client_rust::{
    ClientConfig, ClientRuntime, ClientRuntimeConfig, DefaultLitePullConsumer, DefaultMQAdminExt, DefaultMQProducer, TelemetryHandle,
    TopicAdmin,
};
use rocketmq_client_rust::{MQAdminReadExt, OffsetAdmin, OffsetStore, ReadOffsetType, RouteAdmin};
use rocketmq_model::common::config::TopicConfig;
use rocketmq_model::common::consumer::consume_from_where::ConsumeFromWhere;
use rocketmq_model::common::message::message_batch::MessageBatch;
use rocketmq_model::common::message::message_ext::MessageExt;
use rocketmq_model::common::message::message_queue::MessageQueue;
use rocketmq_model::common::message::message_single::Message;
use rocketmq_model::result::SendStatus;
use rocketmq_runtime::RuntimeContext;

use self::groups::{Groups, Slot, Starting};

/// A RocketMQ operation failed: what was being done, and why.
#[derive(Debug, thiserror::Error)]
#[error("{action}: {cause}")]
pub struct MqError {
    /// What was being done (`send to topic orders`).
    pub action: String,
    /// Why it failed (the client's error as the error's source; no client type is public).
    #[source]
    cause: MqCause,
}

/// Why a RocketMQ operation failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum MqCause {
    /// The client's error.
    #[error(transparent)]
    Client(#[from] rocketmq_client_rust::ClientError),
    /// The broker stored nothing and answered with this status.
    #[error("the broker answered {0}")]
    Status(String),
    /// Something the operation needs is not there (yet): a route, a broker, a store.
    #[error("{0}")]
    Missing(&'static str),
    /// A message could not be built (a property RocketMQ refuses).
    #[error(transparent)]
    Message(rocketmq_error::Error),
}

impl MqError {
    pub(crate) fn new(action: impl Into<String>, cause: impl Into<MqCause>) -> MqError {
        MqError { action: action.into(), cause: cause.into() }
    }

    /// Whether trying again later may succeed: the broker or a route is unavailable for now,
    /// a deadline passed, the broker was busy. An invalid request or a shut-down client is not.
    pub fn is_retriable(&self) -> bool {
        use rocketmq_error::{CanonicalCondition as C, RecoveryHint as H};
        match &self.cause {
            MqCause::Client(error) => {
                let descriptor = error.descriptor();
                matches!(descriptor.recovery_hint(), H::Backoff | H::RefreshRoute | H::RefreshLeader | H::SwitchBroker)
                    || matches!(descriptor.condition(), C::Unavailable | C::DeadlineExceeded | C::Aborted | C::ResourceExhausted)
            }
            MqCause::Status(_) | MqCause::Missing(_) => true,
            MqCause::Message(_) => false,
        }
    }
}

impl From<MqError> for connect_sdk::Error {
    /// A task's view of a RocketMQ failure: retried within `errors.retry.timeout` when retriable.
    fn from(error: MqError) -> connect_sdk::Error {
        if error.is_retriable() { connect_sdk::Error::retriable(error) } else { connect_sdk::Error::other(error) }
    }
}

fn mq_error(action: impl Into<String>) -> impl FnOnce(rocketmq_client_rust::ClientError) -> MqError {
    let action = action.into();
    move |e| MqError::new(action, e)
}

/// `result` when the broker stored the batch; an error naming `action` when it answered otherwise.
fn stored(result: SendResult, action: impl FnOnce() -> String) -> Result<SendResult, MqError> {
    if result.send_status != SendStatus::SendOk {
        return Err(MqError::new(action(), MqCause::Status(format!("{:?}", result.send_status))));
    }
    Ok(result)
}

/// The worker's connection settings to one RocketMQ cluster.
///
/// All the worker's clients (its producer, the admin client, the state logs' readers, the
/// membership consumer and every task's consumer) share one RocketMQ client instance, named
/// `instance`: one set of connections, and one request table (the client allocates 32 MiB of
/// it per instance, whatever the load). See [`groups`].
#[derive(Clone)]
pub struct MqClient {
    runtime: Arc<ClientRuntime>,
    namesrv_addr: String,
    /// The consumer groups open on the instance (whose client id is `<ip>@<instance>@STREAM`).
    groups: Arc<Groups>,
    admin: Arc<tokio::sync::Mutex<Option<DefaultMQAdminExt>>>,
}

impl MqClient {
    /// A client runtime for the name server at `namesrv_addr`; `instance` names the client
    /// instance the worker's clients share.
    pub fn new(namesrv_addr: &str, instance: &str) -> Result<MqClient, MqError> {
        let context = RuntimeContext::from_current("connect-worker").service_context("client");
        let runtime = ClientRuntime::try_new(context, ClientRuntimeConfig::default(), TelemetryHandle::noop())
            .map_err(mq_error("create the RocketMQ client runtime"))?;
        Ok(MqClient { runtime, namesrv_addr: namesrv_addr.to_owned(), groups: Groups::new(instance), admin: Arc::default() })
    }

    /// The name of the client instance the worker's own clients share.
    pub fn instance(&self) -> &str {
        self.groups.instance()
    }

    /// The client settings of the shared instance.
    fn shared_config(&self) -> ClientConfig {
        let mut config = ClientConfig::default();
        config.set_namesrv_addr(CheetahString::from_string(self.namesrv_addr.clone()));
        config.set_instance_name(CheetahString::from_string(self.instance().to_owned()));
        // Lite-pull consumers mark their client id as a stream client's (`<ip>@<instance>@STREAM`);
        // the mark does nothing else, and on the producer and admin it makes the ids one.
        config.set_enable_stream_request_type(true);
        config
    }

    /// Starts a producer in `group`, on the shared client instance.
    pub async fn producer(&self, group: &str) -> Result<Producer, MqError> {
        let mut producer = DefaultMQProducer::builder(self.runtime.clone())
            .client_config(self.shared_config())
            .producer_group(group.to_owned())
            .retry_times_when_send_failed(2)
            .build();
        producer.start().await.map_err(mq_error(format!("start producer {group}")))?;
        Ok(Producer { inner: Erased::new(producer) })
    }

    /// Starts a consumer in `group` in assign mode: the caller decides which queues it reads
    /// ([`Consumer::assign`], any topic; `topics` only pre-declares some); committed offsets
    /// are the group's, kept by the broker, and a queue without one is read from its first
    /// message. Several consumers of one group may be open at once (the tasks of one sink):
    /// each after the first registers under a pull group of its own and commits through the
    /// group's offset store (see [`groups`]).
    pub async fn consumer(&self, group: &str, topics: &[String], batch_size: i32) -> Result<Consumer, MqError> {
        let starting = self.groups.start(group).await;
        let (slot, store) = starting.take();
        self.lite_pull(&starting, slot, store, topics, batch_size).await
    }

    /// A [`consumer`](Self::consumer) registered under `group` itself, for a reader of the
    /// worker's that lives as long as it does (its group must be the worker's alone).
    pub async fn shared_consumer(&self, group: &str, topics: &[String], batch_size: i32) -> Result<Consumer, MqError> {
        let starting = self.groups.start(group).await;
        let slot = first_slot(&starting, group)?;
        self.lite_pull(&starting, slot, None, topics, batch_size).await
    }

    async fn lite_pull(
        &self,
        starting: &Starting,
        slot: Slot,
        store: Option<Arc<OffsetStore>>,
        topics: &[String],
        batch_size: i32,
    ) -> Result<Consumer, MqError> {
        let group = slot.registered_as();
        let started = async {
            let consumer = DefaultLitePullConsumer::builder(self.runtime.clone())
                .consumer_group(group.clone())
                .name_server_addr(self.namesrv_addr.clone())
                .instance_name(self.instance().to_owned())
                .consume_from_where(ConsumeFromWhere::ConsumeFromFirstOffset)
                .pull_batch_size(batch_size)
                .broker_suspend_max_time_millis(LONG_POLL_MILLIS)
                .consumer_timeout_millis_when_suspend(3 * LONG_POLL_MILLIS)
                .auto_commit(false)
                .build()
                .map_err(mq_error(format!("build consumer {group}")))?;
            if store.is_some() {
                consumer.set_offset_store(store).await.map_err(mq_error(format!("share the offset store with consumer {group}")))?;
            }
            for topic in topics {
                consumer.set_sub_expression_for_assign(topic, "*").await.map_err(mq_error(format!("subscribe {group} to {topic}")))?;
            }
            consumer.start().await.map_err(mq_error(format!("start consumer {group}")))?;
            if let Some(store) = consumer.offset_store().await {
                starting.keep_store(store);
            }
            Ok(consumer)
        };
        Consumer::started(slot, started).await
    }

    /// Starts a consumer of `group` on the worker's own client instance, subscribed to `topic`,
    /// whose queues `strategy` allocates (cluster membership listens to the group's rebalances
    /// this way).
    pub async fn group_member(
        &self,
        group: &str,
        topic: &str,
        strategy: Arc<dyn AllocateMessageQueueStrategy + Send + Sync>,
    ) -> Result<Consumer, MqError> {
        let starting = self.groups.start(group).await;
        let slot = first_slot(&starting, group)?;
        let started = async {
            let consumer = DefaultLitePullConsumer::builder(self.runtime.clone())
                .consumer_group(group.to_owned())
                .name_server_addr(self.namesrv_addr.clone())
                .instance_name(self.instance().to_owned())
                .allocate_message_queue_strategy(strategy)
                .broker_suspend_max_time_millis(LONG_POLL_MILLIS)
                .consumer_timeout_millis_when_suspend(3 * LONG_POLL_MILLIS)
                .auto_commit(false)
                .build()
                .map_err(mq_error(format!("build consumer {group}")))?;
            consumer.subscribe(topic).await.map_err(mq_error(format!("subscribe {group} to {topic}")))?;
            consumer.start().await.map_err(mq_error(format!("start consumer {group}")))?;
            Ok(consumer)
        };
        Consumer::started(slot, started).await
    }

    /// Every topic the name server knows (for `topics.regex`), without RocketMQ's system topics.
    pub async fn topics(&self) -> Result<Vec<String>, MqError> {
        let admin = self.admin().await?;
        let list = TopicAdmin::fetch_all_topic_list(admin.as_ref().expect("admin() starts it")).await.map_err(mq_error("list topics"))?;
        let mut topics: Vec<String> = list.topic_list.iter().map(|t| t.to_string()).filter(|t| !is_system_topic(t)).collect();
        topics.sort();
        Ok(topics)
    }

    /// The write queues of `topic` (empty while the topic does not exist).
    pub async fn write_queues(&self, topic: &str) -> Result<Vec<MessageQueue>, MqError> {
        let mut admin = self.admin().await?;
        let admin = admin.as_mut().expect("admin() starts it");
        // The name server's topic list first: the client warns of every route asked for a topic
        // that does not exist, and a source asks for one before it creates it.
        let list = TopicAdmin::fetch_all_topic_list(admin).await.map_err(mq_error("list topics"))?;
        if !list.topic_list.iter().any(|listed| listed.as_str() == topic) {
            return Ok(Vec::new());
        }
        let route = TopicAdmin::examine_topic_route_info(admin, CheetahString::from_string(topic.to_owned()))
            .await
            .map_err(mq_error(format!("find the route of {topic}")))?;
        let mut queues = Vec::new();
        if let Some(route) = route {
            let mut datas = route.queue_datas.clone();
            datas.sort_by(|a, b| a.broker_name.cmp(&b.broker_name));
            for data in datas {
                queues.extend(
                    (0..data.write_queue_nums).map(|id| MessageQueue::from_parts(topic.to_owned(), data.broker_name.clone(), id as i32)),
                );
            }
        }
        Ok(queues)
    }

    /// Creates `topic` with `queues` read and write queues on every master broker, unless it
    /// exists; waits until the name server routes it.
    pub async fn ensure_topic(&self, topic: &str, queues: u32) -> Result<(), MqError> {
        if self.write_queues(topic).await.is_ok_and(|q| !q.is_empty()) {
            return Ok(());
        }
        {
            let admin = self.admin().await?;
            let admin = admin.as_ref().expect("admin() starts it");
            let cluster = RouteAdmin::examine_broker_cluster_info(admin).await.map_err(mq_error("read the cluster's brokers"))?;
            let brokers = cluster.broker_addr_table.unwrap_or_default();
            if brokers.is_empty() {
                return Err(MqError::new(format!("create topic {topic}"), MqCause::Missing("no broker is registered")));
            }
            for broker in brokers.values() {
                if let Some(master) = broker.broker_addrs().get(&0) {
                    let config = TopicConfig::with_queues(topic, queues, queues);
                    TopicAdmin::create_and_update_topic_config(admin, master.clone(), config)
                        .await
                        .map_err(mq_error(format!("create topic {topic} on {master}")))?;
                }
            }
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            if self.write_queues(topic).await.is_ok_and(|q| !q.is_empty()) {
                return Ok(());
            }
            if std::time::Instant::now() > deadline {
                return Err(MqError::new(format!("create topic {topic}"), MqCause::Missing("the name server does not route it")));
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    /// The names of the brokers registered with the name server, sorted.
    pub async fn broker_names(&self) -> Result<Vec<String>, MqError> {
        let admin = self.admin().await?;
        let admin = admin.as_ref().expect("admin() starts it");
        let cluster = RouteAdmin::examine_broker_cluster_info(admin).await.map_err(mq_error("read the cluster's brokers"))?;
        let mut names: Vec<String> = cluster.broker_addr_table.unwrap_or_default().keys().map(ToString::to_string).collect();
        names.sort();
        Ok(names)
    }

    /// The value the workers keep under `key` in the name server (`None` while unset): settings
    /// that must outlive every worker and every broker but one (a state log's broker).
    pub async fn setting(&self, key: &str) -> Result<Option<String>, MqError> {
        let admin = self.admin().await?;
        let admin = admin.as_ref().expect("admin() starts it");
        let value = RouteAdmin::get_kv_config(
            admin,
            CheetahString::from_static_str(SETTINGS_NAMESPACE),
            CheetahString::from_string(key.to_owned()),
        )
        .await
        .map_err(mq_error(format!("read setting {key} from the name server")))?;
        Ok(Some(value.to_string()).filter(|v| !v.is_empty()))
    }

    /// Keeps `value` under `key` in the name server (see [`setting`](Self::setting)).
    pub async fn set_setting(&self, key: &str, value: &str) -> Result<(), MqError> {
        let admin = self.admin().await?;
        let admin = admin.as_ref().expect("admin() starts it");
        RouteAdmin::create_and_update_kv_config(
            admin,
            CheetahString::from_static_str(SETTINGS_NAMESPACE),
            CheetahString::from_string(key.to_owned()),
            CheetahString::from_string(value.to_owned()),
        )
        .await
        .map_err(mq_error(format!("write setting {key} to the name server")))
    }

    /// The offset the next message stored in `queue` gets (its end), asked of its master broker.
    pub async fn queue_end(&self, queue: &MessageQueue) -> Result<i64, MqError> {
        let mut admin = self.admin().await?;
        let admin = admin.as_mut().expect("admin() starts it");
        let broker = master_of(admin, queue.topic_str(), Some(queue.broker_name().as_str())).await?;
        OffsetAdmin::max_offset(&*admin, broker, queue.clone(), 3_000).await.map_err(mq_error(format!("find the end of {queue:?}")))
    }

    /// The client ids connected as consumers of `group`, as a broker holding `topic` sees them
    /// (`broker`, when named: one that restarted lists only the clients that reconnected).
    pub async fn group_client_ids(&self, group: &str, topic: &str, broker: Option<&str>) -> Result<Vec<String>, MqError> {
        let mut admin = self.admin().await?;
        let admin = admin.as_mut().expect("admin() starts it");
        let broker = master_of(admin, topic, broker).await?;
        let connection =
            MQAdminReadExt::examine_consumer_connection_info(admin, CheetahString::from_string(group.to_owned()), Some(broker))
                .await
                .map_err(mq_error(format!("list the consumers of {group}")))?;
        let mut ids: Vec<String> = connection.get_connection_set().iter().map(|c| c.get_client_id().to_string()).collect();
        ids.sort();
        Ok(ids)
    }

    /// The offsets `group` committed in the broker: (topic, broker, queue id, offset), sorted.
    pub async fn committed_offsets(&self, group: &str) -> Result<Vec<(String, String, i32, i64)>, MqError> {
        let admin = self.admin().await?;
        let admin = admin.as_ref().expect("admin() starts it");
        let stats = MQAdminReadExt::examine_consume_stats(admin, CheetahString::from_string(group.to_owned()), None, None, None, None)
            .await
            .map_err(mq_error(format!("read the offsets of {group}")))?;
        let mut offsets: Vec<(String, String, i32, i64)> = stats
            .get_offset_table()
            .iter()
            .filter(|(_, offset)| offset.get_consumer_offset() >= 0)
            .map(|(queue, offset)| {
                (queue.topic_str().to_owned(), queue.broker_name().to_string(), queue.queue_id(), offset.get_consumer_offset())
            })
            .collect();
        offsets.sort();
        Ok(offsets)
    }

    async fn admin(&self) -> Result<tokio::sync::MutexGuard<'_, Option<DefaultMQAdminExt>>, MqError> {
        let mut admin = self.admin.lock().await;
        if admin.is_none() {
            let mut started = DefaultMQAdminExt::new(self.runtime.clone());
            started.set_namesrv_addr(self.namesrv_addr.clone());
            *started.client_config_mut() = self.shared_config();
            started.start().await.map_err(mq_error("start the admin client"))?;
            *admin = Some(started);
        }
        Ok(admin)
    }

    /// Shuts the client runtime down (after its producers and consumers).
    pub async fn shutdown(self) {
        if let Some(mut admin) = self.admin.lock().await.take() {
            admin.shutdown().await;
        }
        let _ = self.runtime.shutdown().await;
    }
}

/// Slot 0 of the group `starting` starts a consumer of, or an error while another consumer
/// holds it.
fn first_slot(starting: &Starting, group: &str) -> Result<Slot, MqError> {
    let taken = MqCause::Missing("the worker's client instance already holds a consumer of this group");
    starting.take_first().ok_or_else(|| MqError::new(format!("start consumer {group}"), taken))
}

/// ` on broker <name>` for a send to a chosen queue (so an error names the broker that failed).
fn on_broker(queue: Option<&MessageQueue>) -> String {
    queue.map(|q| format!(" on broker {}", q.broker_name())).unwrap_or_default()
}

/// The name server's key-value namespace of the workers' settings.
const SETTINGS_NAMESPACE: &str = "rocketmq-connect";

/// The address of the master broker holding `topic` (the one named `broker_name`, or any).
async fn master_of(admin: &mut DefaultMQAdminExt, topic: &str, broker_name: Option<&str>) -> Result<CheetahString, MqError> {
    let route = TopicAdmin::examine_topic_route_info(admin, CheetahString::from_string(topic.to_owned()))
        .await
        .map_err(mq_error(format!("find the route of {topic}")))?
        .ok_or_else(|| MqError::new(format!("find the route of {topic}"), MqCause::Missing("no route")))?;
    route
        .broker_datas
        .iter()
        .filter(|b| broker_name.is_none_or(|name| b.broker_name().as_str() == name))
        .find_map(|b| b.broker_addrs().get(&0).cloned())
        .ok_or_else(|| MqError::new(format!("find the master broker of {topic}"), MqCause::Missing("no master broker")))
}

/// Sends batches to one topic at a time.
pub struct Producer {
    inner: Erased<DefaultMQProducer>,
}

impl Producer {
    /// Sends `messages` (all of one topic) as one batch; returns once the broker stored them.
    pub async fn send_batch(&self, topic: &str, messages: Vec<Message>) -> Result<(), MqError> {
        if messages.is_empty() {
            return Ok(());
        }
        self.send_batch_to(topic, None, messages).await.map(drop)
    }

    /// Sends a batch to one queue of `topic`, or to any queue when `queue` is `None`; returns
    /// the queue the broker stored it in.
    pub async fn send_batch_to(
        &self,
        topic: &str,
        queue: Option<MessageQueue>,
        messages: Vec<Message>,
    ) -> Result<Option<MessageQueue>, MqError> {
        self.send(topic, queue, messages).await.map(|result| result.message_queue)
    }

    /// Sends `records` records laid out as one batch by [`crate::wire::encode_batch`] to one
    /// queue of its topic, or to any queue when `queue` is `None`; returns the queue the broker
    /// stored it in and the queue offset of its first record (a batch is stored at consecutive
    /// offsets).
    pub async fn send_encoded(
        &self,
        queue: Option<MessageQueue>,
        batch: MessageBatch,
        records: usize,
    ) -> Result<(Option<MessageQueue>, u64), MqError> {
        let topic = batch.final_message.topic().clone();
        let timeout = u64::from(self.inner.send_msg_timeout());
        // Named only when something failed (a send that succeeds formats nothing).
        let named = queue.clone();
        let action = || format!("send {records} records to {topic}{}", on_broker(named.as_ref()));
        let sent = match queue {
            Some(queue) => self.inner.send_to_queue_with_timeout(batch, queue, timeout).await,
            None => self.inner.send_with_timeout(batch, timeout).await,
        }
        .map_err(|e| MqError::new(action(), e))?;
        let result = sent.ok_or_else(|| MqError::new(action(), MqCause::Missing("a send result")))?;
        stored(result, action).map(|result| (result.message_queue, result.queue_offset))
    }

    /// Sends a batch to `queue`; returns the queue offset of its first message (a batch is
    /// stored at consecutive offsets).
    pub async fn send_batch_at(&self, topic: &str, queue: &MessageQueue, messages: Vec<Message>) -> Result<u64, MqError> {
        self.send(topic, Some(queue.clone()), messages).await.map(|result| result.queue_offset)
    }

    async fn send(&self, topic: &str, queue: Option<MessageQueue>, messages: Vec<Message>) -> Result<SendResult, MqError> {
        let count = messages.len();
        let queue_name = on_broker(queue.as_ref());
        let action = || format!("send {count} records to {topic}{queue_name}");
        let result = match queue {
            Some(queue) => self.inner.send_batch_to_queue(messages, queue).await,
            None => self.inner.send_batch(messages).await,
        }
        .map_err(mq_error(action()))?;
        stored(result, action)
    }

    /// Stops the producer.
    pub async fn shutdown(mut self) {
        self.inner.shutdown().await;
    }

    /// Stops a shared producer once its last other user is gone; `false` if some remain.
    pub async fn shutdown_shared(producer: std::sync::Arc<Producer>) -> bool {
        match std::sync::Arc::try_unwrap(producer) {
            Ok(producer) => {
                producer.shutdown().await;
                true
            }
            Err(_) => false,
        }
    }
}

/// Pulls records and commits offsets explicitly (a clone is the same consumer).
#[derive(Clone)]
pub struct Consumer {
    inner: Arc<Erased<DefaultLitePullConsumer>>,
    /// Its place on a client instance, freed once it has shut down.
    slot: Arc<Slot>,
    /// When [`Consumer::stop_delivery`] paused its queues.
    stopped_at: Arc<std::sync::Mutex<Option<tokio::time::Instant>>>,
}

/// How long the broker holds a pull of an empty queue before it answers.
const LONG_POLL_MILLIS: u64 = 1_000;

impl Consumer {
    /// The consumer `starting` starts on `slot`; a consumer that did not start holds no place
    /// on the instance.
    async fn started(
        slot: Slot,
        starting: impl std::future::Future<Output = Result<DefaultLitePullConsumer, MqError>>,
    ) -> Result<Consumer, MqError> {
        let consumer = starting.await.inspect_err(|_| slot.release())?;
        Ok(Consumer { inner: Arc::new(Erased::new(consumer)), slot: Arc::new(slot), stopped_at: Default::default() })
    }

    /// The queues of `topic` (fails while the topic does not exist yet).
    pub async fn queues(&self, topic: &str) -> Result<Vec<MessageQueue>, MqError> {
        self.inner.fetch_message_queues(topic).await.map_err(mq_error(format!("find the queues of {topic}")))
    }

    /// The first offset still stored in `queue`.
    pub async fn min_offset(&self, queue: &MessageQueue) -> Result<i64, MqError> {
        self.inner.min_offset(queue).await.map_err(mq_error(format!("find the first offset of {queue:?}")))
    }

    /// The offset the next message stored in `queue` gets.
    pub async fn max_offset(&self, queue: &MessageQueue) -> Result<i64, MqError> {
        self.inner.max_offset(queue).await.map_err(mq_error(format!("find the last offset of {queue:?}")))
    }

    /// Reads `queue` from `offset` on.
    pub async fn seek(&self, queue: &MessageQueue, offset: i64) -> Result<(), MqError> {
        self.inner.seek(queue, offset).await.map_err(mq_error(format!("seek {queue:?} to {offset}")))
    }

    /// Reads exactly `queues` from now on.
    pub async fn assign(&self, queues: Vec<MessageQueue>) -> Result<(), MqError> {
        self.inner.assign(queues).await.map_err(mq_error("assign queues"))
    }

    /// Waits up to `timeout_ms` for records.
    pub async fn poll(&self, timeout_ms: u64) -> Vec<MessageExt> {
        self.inner.poll_with_timeout(timeout_ms).await
    }

    /// [`Consumer::poll`] without copying the messages: they are shared with the client's
    /// buffers (the sink's hot path reads them once).
    pub async fn poll_shared(&self, timeout_ms: u64) -> Vec<std::sync::Arc<MessageExt>> {
        self.inner.poll_with_timeout_zero_copy(timeout_ms).await
    }

    /// The offset the consumer's group committed for `queue`, read from the broker (`None`:
    /// the group has none). Reading it also replaces what the group's offset store remembered
    /// of `queue`, which a consumer assigned the queue next starts from.
    pub async fn committed(&self, queue: &MessageQueue) -> Result<Option<i64>, MqError> {
        let store = self.offset_store().await?;
        match store.read_offset(queue, ReadOffsetType::ReadFromStore).await {
            -1 => Ok(None),
            offset if offset >= 0 => Ok(Some(offset)),
            _ => Err(MqError::new(format!("read the committed offset of {queue:?}"), MqCause::Missing("the broker did not answer"))),
        }
    }

    async fn offset_store(&self) -> Result<Arc<OffsetStore>, MqError> {
        self.inner
            .offset_store()
            .await
            .ok_or_else(|| MqError::new("find the offset store", MqCause::Missing("the consumer has no offset store")))
    }

    /// Commits `offsets` (the next offset to consume, per queue) to the broker and waits for
    /// its answer, so a failed commit is an error rather than lost silently.
    pub async fn commit(&self, offsets: HashMap<MessageQueue, i64>) -> Result<(), MqError> {
        let store = self.offset_store().await?;
        for (queue, offset) in &offsets {
            store.update_offset(queue, *offset, false).await;
            // Boxed: the client's future is large, and inline it would make every future awaiting
            // this one as large, copied whole each time a sink spawns its commit (once a poll).
            Box::pin(store.update_consume_offset_to_broker(queue, *offset, false))
                .await
                .map_err(mq_error(format!("commit offset {offset} of {queue:?}")))?;
        }
        Ok(())
    }

    /// Stops delivery from `queues` (already fetched records stay buffered).
    pub async fn pause(&self, queues: Vec<MessageQueue>) {
        self.inner.pause(queues).await;
    }

    /// Resumes delivery from `queues`.
    pub async fn resume(&self, queues: Vec<MessageQueue>) {
        self.inner.resume(queues).await;
    }

    /// Stops fetching from every queue the consumer reads, ahead of a
    /// [`shutdown`](Self::shutdown) (which then waits less for the pulls in flight).
    pub async fn stop_delivery(&self) {
        let assigned: Vec<MessageQueue> = self.inner.assignment().await.map(|queues| queues.into_iter().collect()).unwrap_or_default();
        if !assigned.is_empty() {
            self.inner.pause(assigned).await;
            self.stopped_at.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get_or_insert_with(tokio::time::Instant::now);
        }
    }

    /// Stops the consumer. A pull the broker still holds when the consumer closes fails as it
    /// comes back, and the client logs an ERROR for each such queue: delivery is stopped first
    /// ([`stop_delivery`](Self::stop_delivery)) and the pulls in flight are let come back.
    pub async fn shutdown(&self) {
        self.stop_delivery().await;
        let stopped_at = *self.stopped_at.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(stopped_at) = stopped_at {
            tokio::time::sleep_until(stopped_at + std::time::Duration::from_millis(LONG_POLL_MILLIS + 200)).await;
        }
        self.inner.shutdown().await;
        self.slot.release();
    }
}

/// A client object behind `dyn Any + Send + Sync`: rustc proves it `Send` and `Sync` once,
/// in [`Erased::new`], instead of through its hundred nested types (the client instance, its
/// consumer tables, their locks) in every future of every crate that holds one; in an
/// embedding application that proof overflowed the recursion limit (E0275).
struct Erased<T> {
    value: Box<dyn std::any::Any + Send + Sync>,
    of: std::marker::PhantomData<fn() -> T>,
}

impl<T: Send + Sync + 'static> Erased<T> {
    fn new(value: T) -> Erased<T> {
        Erased { value: Box::new(value), of: std::marker::PhantomData }
    }
}

impl<T: 'static> std::ops::Deref for Erased<T> {
    type Target = T;

    fn deref(&self) -> &T {
        self.value.downcast_ref().expect("Erased::new stores a T")
    }
}

impl<T: 'static> std::ops::DerefMut for Erased<T> {
    fn deref_mut(&mut self) -> &mut T {
        self.value.downcast_mut().expect("Erased::new stores a T")
    }
}

/// A message queue from its parts.
pub fn message_queue(topic: &str, broker_name: &str, queue_id: i32) -> MessageQueue {
    MessageQueue::from_parts(CheetahString::from_string(topic.to_owned()), CheetahString::from_string(broker_name.to_owned()), queue_id)
}

/// The client's queue of the SDK's [`QueueId`].
pub fn queue_of(queue: &QueueId) -> MessageQueue {
    message_queue(&queue.topic, &queue.broker_name, queue.queue_id)
}

/// The SDK's name of a client's queue.
pub fn queue_id(queue: &MessageQueue) -> QueueId {
    QueueId { topic: queue.topic_str().to_owned(), broker_name: queue.broker_name().to_string(), queue_id: queue.queue_id() }
}

/// Longest consumer group name RocketMQ accepts.
const GROUP_MAX_LENGTH: usize = 120;

/// The consumer group of `connector` for `purpose` (empty: its sink group), valid whatever the
/// connector's name: `connect-<name>[-<purpose>]` when RocketMQ accepts that (at most 120 of
/// `0-9 A-Z a-z % - _ |`), else the name's accepted characters, cut short, then a hash of the
/// whole name (so two names never share a group). `purpose` holds accepted characters only.
pub fn connector_group(connector: &str, purpose: &str) -> String {
    let suffix = if purpose.is_empty() { String::new() } else { format!("-{purpose}") };
    let plain = format!("connect-{connector}{suffix}");
    let accepted = |c: char| c.is_ascii_alphanumeric() || "%-_|".contains(c);
    if plain.len() <= GROUP_MAX_LENGTH && plain.chars().all(accepted) {
        return plain;
    }
    let hash = format!("{:016x}", crate::wire::fnv1a([connector.as_bytes()]));
    let kept: String = connector.chars().filter(|&c| accepted(c)).collect();
    let room = GROUP_MAX_LENGTH - "connect--".len() - hash.len() - suffix.len();
    format!("connect-{}-{hash}{suffix}", &kept[..kept.len().min(room)])
}

/// RocketMQ's own topics (retry, dead-letter, scheduling, tracing...), never matched by `topics.regex`.
fn is_system_topic(topic: &str) -> bool {
    topic.starts_with("%RETRY%")
        || topic.starts_with("%DLQ%")
        || topic.starts_with("rmq_sys_")
        || topic.starts_with("RMQ_SYS_")
        || topic.starts_with("SCHEDULE_TOPIC")
        || topic.starts_with("TRANS_")
        || topic.starts_with("RMQ_")
        || ["TBW102", "SELF_TEST_TOPIC", "OFFSET_MOVED_EVENT"].contains(&topic)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads `queues` with `consumer` until `count` records came, and commits what it read.
    async fn read_and_commit(consumer: &Consumer, queues: Vec<MessageQueue>, count: usize) -> usize {
        consumer.assign(queues).await.unwrap();
        let (mut seen, mut offsets) = (0, HashMap::new());
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
        while seen < count && tokio::time::Instant::now() < deadline {
            for message in consumer.poll(500).await {
                seen += 1;
                offsets.insert(message_queue(message.topic(), message.broker_name(), message.queue_id()), message.queue_offset() + 1);
            }
        }
        consumer.commit(offsets).await.unwrap();
        seen
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn consumers_of_one_group_share_the_worker_s_instance_and_commit_as_the_group() {
        let dir = std::env::temp_dir().join(format!("connect-groups-{}", std::process::id()));
        let broker = crate::embedded::EmbeddedRocketMq::start(&crate::embedded::EmbeddedConfig::free_ports(&dir)).await.unwrap();
        let client = MqClient::new(broker.namesrv_addr(), "groups").unwrap();
        let producer = client.producer("groups-producer").await.unwrap();
        let topic = "groups-topic";
        let send = |batch: usize| {
            let messages = (0..batch).map(|i| Message::builder().topic(topic).body_slice(format!("{i}").as_bytes()).build_unchecked());
            producer.send_batch(topic, messages.collect())
        };
        for _ in 0..8 {
            send(40).await.unwrap();
        }
        // Two consumers of the sink group at once (two tasks of one sink), each with half the queues.
        let (first, second) = (client.consumer("sink", &[], 32).await.unwrap(), client.consumer("sink", &[], 32).await.unwrap());
        let queues = first.queues(topic).await.unwrap();
        let (even, odd): (Vec<_>, Vec<_>) = queues.iter().cloned().partition(|q| q.queue_id() % 2 == 0);
        let ends: HashMap<i32, i64> = futures_util::future::join_all(queues.iter().map(|q| first.max_offset(q)))
            .await
            .into_iter()
            .zip(&queues)
            .map(|(end, q)| (q.queue_id(), end.unwrap()))
            .collect();
        let even_count = even.iter().map(|q| ends[&q.queue_id()] as usize).sum();
        let (read_even, read_odd) =
            tokio::join!(read_and_commit(&first, even, even_count), read_and_commit(&second, odd, 320 - even_count));
        assert_eq!(read_even + read_odd, 320);
        // Both on the client's one instance (one client id), the second registered under a pull
        // group of its own (the broker lists a group once its consumers' heartbeats came).
        let mut registered = (Vec::new(), Vec::new());
        for _ in 0..100 {
            let ids = |group| client.group_client_ids(group, topic, None);
            if let (Ok(sink), Ok(pulled)) = (ids("sink").await, ids("%1%sink").await) {
                registered = (sink, pulled);
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        assert_eq!(registered.0.len(), 1, "{registered:?}");
        assert_eq!(registered.0, registered.1);
        // What both committed is the group's, on the broker: a client of its own reads it there.
        let read: HashMap<i32, i64> = ends.iter().filter(|(_, end)| **end > 0).map(|(q, end)| (*q, *end)).collect();
        assert!(read.len() > 1, "the records are on more than one queue: {ends:?}");
        let other = MqClient::new(broker.namesrv_addr(), "groups-other").unwrap();
        let reader = other.consumer("sink", &[], 32).await.unwrap();
        for queue in &queues {
            assert_eq!(reader.committed(queue).await.unwrap(), read.get(&queue.queue_id()).copied(), "queue {}", queue.queue_id());
        }
        reader.shutdown().await;
        other.shutdown().await;
        first.shutdown().await;
        second.shutdown().await;
        // A consumer started after them starts where the group is, and reads only what is new.
        let next = client.consumer("sink", &[], 32).await.unwrap();
        for queue in &queues {
            assert_eq!(next.committed(queue).await.unwrap(), read.get(&queue.queue_id()).copied());
        }
        send(10).await.unwrap();
        assert_eq!(read_and_commit(&next, queues, 10).await, 10);
        assert!(next.poll(1_500).await.is_empty(), "nothing read twice");
        next.shutdown().await;
        producer.shutdown().await;
        client.shutdown().await;
        broker.shutdown().await;
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn every_connector_name_gets_a_group_rocketmq_accepts_and_plain_names_keep_theirs() {
        assert_eq!(connector_group("orders-sink", ""), "connect-orders-sink");
        assert_eq!(connector_group("orders", "scan"), "connect-orders-scan");
        for name in ["my.sink", "with space", "ünïcode", &"x".repeat(1_000), "a.b"] {
            let group = connector_group(name, "resend");
            assert!(group.len() <= GROUP_MAX_LENGTH, "{group}");
            assert!(!rocketmq_model::common::topic::TopicValidator::is_topic_or_group_illegal(&group), "{group}");
            assert!(group.ends_with("-resend"), "{group}");
        }
        assert_ne!(connector_group("a.b", ""), connector_group("a b", ""), "names differing only in refused characters");
    }
}
