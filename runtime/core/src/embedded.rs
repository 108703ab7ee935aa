//! An in-process RocketMQ name server and broker, so a worker (and the quickstart, and the
//! tests) needs nothing installed.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cheetah_string::CheetahString;
use rocketmq_broker::config::broker_config::BrokerConfig;
use rocketmq_broker::config::validated::ValidatedBrokerConfig;
use rocketmq_broker::{BrokerBootstrap, Running};
use rocketmq_model::common::message::message_single::Message;
use rocketmq_namesrv::NamesrvConfig;
use rocketmq_namesrv::bootstrap::Builder as NameServerBuilder;
use rocketmq_observability::{TelemetryHandle, TelemetryRuntimeGuard};
use rocketmq_runtime::RuntimeContext;
use rocketmq_store::MessageStoreConfig;
use rocketmq_transport::api::ServerConfig;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::mq::{MqCause, MqClient, MqError};

/// How many times the broker is started before giving up.
const BROKER_START_ATTEMPTS: u32 = 3;

/// The broker name of a broker started with its own name server (a worker's embedded one).
pub const DEFAULT_BROKER_NAME: &str = "connect-broker";
/// The RocketMQ cluster such a broker belongs to (RocketMQ's default).
pub const DEFAULT_CLUSTER_NAME: &str = "DefaultCluster";

/// Where the broker finds its name server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NameServer {
    /// Start one in this process, on this port (0 picks a free loopback port).
    Start {
        /// Its port.
        port: u16,
    },
    /// Register with a running one (`host:port`; several separated by `;`): this broker is one
    /// more broker of that name server's RocketMQ cluster.
    Join(String),
}

/// Where and on which ports the embedded servers run, and under which names the broker
/// registers.
#[derive(Clone, Debug)]
pub struct EmbeddedConfig {
    /// Root of the name server's and broker's files.
    pub data_dir: PathBuf,
    /// The name server to start or to join.
    pub namesrv: NameServer,
    /// Broker port (0 picks a free pair: the broker also binds `port - 2`).
    pub broker_port: u16,
    /// The broker's name: unique among the brokers of one name server (topics have queues on
    /// each, named by it).
    pub broker_name: String,
    /// The RocketMQ cluster the broker registers in.
    pub cluster_name: String,
}

impl EmbeddedConfig {
    /// The standard ports (9876 and 10911) under `data_dir`.
    pub fn standard(data_dir: impl Into<PathBuf>) -> EmbeddedConfig {
        EmbeddedConfig::new(data_dir, NameServer::Start { port: 9876 }, 10911)
    }

    /// Free loopback ports under `data_dir`, for tests that run side by side.
    pub fn free_ports(data_dir: impl Into<PathBuf>) -> EmbeddedConfig {
        EmbeddedConfig::new(data_dir, NameServer::Start { port: 0 }, 0)
    }

    /// A broker named [`DEFAULT_BROKER_NAME`] in [`DEFAULT_CLUSTER_NAME`].
    pub fn new(data_dir: impl Into<PathBuf>, namesrv: NameServer, broker_port: u16) -> EmbeddedConfig {
        EmbeddedConfig {
            data_dir: data_dir.into(),
            namesrv,
            broker_port,
            broker_name: DEFAULT_BROKER_NAME.to_owned(),
            cluster_name: DEFAULT_CLUSTER_NAME.to_owned(),
        }
    }
}

/// A message as a plain RocketMQ producer writes it: a body, and optionally RocketMQ's own
/// key and tag and properties of its own.
#[derive(Clone, Debug, Default)]
pub struct PlainMessage {
    /// The body.
    pub body: Vec<u8>,
    /// RocketMQ's `KEYS`.
    pub key: Option<String>,
    /// RocketMQ's `TAGS`.
    pub tags: Option<String>,
    /// User properties.
    pub properties: Vec<(String, String)>,
}

impl PlainMessage {
    /// A message of `body`.
    pub fn new(body: impl Into<Vec<u8>>) -> PlainMessage {
        PlainMessage { body: body.into(), ..PlainMessage::default() }
    }

    fn to_message(&self, topic: &str) -> Result<Message, MqError> {
        let invalid = |e| MqError::new(format!("a message for {topic}"), MqCause::Message(e));
        let mut builder = Message::builder().topic(topic).body_slice(&self.body);
        if let Some(key) = &self.key {
            builder = builder.key(key.as_str());
        }
        if let Some(tags) = &self.tags {
            builder = builder.tags(tags.as_str());
        }
        for (name, value) in &self.properties {
            builder = builder.raw_property(name.as_str(), value.as_str()).map_err(invalid)?;
        }
        builder.build().map_err(invalid)
    }
}

/// A running broker, and the name server it started (unless it joined one).
pub struct EmbeddedRocketMq {
    namesrv_addr: String,
    broker: Option<BrokerBootstrap<Running>>,
    namesrv_stop: Option<oneshot::Sender<()>>,
    namesrv_task: Option<JoinHandle<()>>,
}

/// Starting the embedded servers failed.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    /// A port asked for is taken.
    #[error("port {port}: the {what} port is in use; pick another or use --namesrv")]
    PortInUse {
        /// The port.
        port: u16,
        /// Which server wanted it.
        what: &'static str,
    },
    /// No free port could be found.
    #[error("no free port: {0}")]
    NoFreePort(#[source] std::io::Error),
    /// No free port `p` with a free `p - 2` (the broker's fast listener) was found.
    #[error("no free pair of broker ports (p and p - 2) after 100 tries")]
    NoFreeBrokerPorts,
    /// The name server did not start: nothing listened on its port in time.
    #[error("the embedded name server did not start: nothing listens on 127.0.0.1:{port} after {waited:?}")]
    NameServer {
        /// Its port.
        port: u16,
        /// How long was waited.
        waited: Duration,
    },
    /// The broker did not start.
    #[error("the embedded broker did not start: {0}")]
    Broker(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The broker did not start, and its disk is nearly full: the likely reason.
    #[error(
        "the embedded broker did not start: {error}; the disk of {} is {used_percent}% full ({free} free), and RocketMQ stops \
         using a disk {DISK_WARNING_PERCENT}% full: free space there or choose another --data-dir",
        path.display()
    )]
    DiskFull {
        /// Why the broker said it did not start.
        error: Box<EmbeddedError>,
        /// The store directory.
        path: PathBuf,
        /// How full its disk is, in percent.
        used_percent: u64,
        /// The space left, for people (`1.2 GiB`).
        free: String,
    },
    /// The name server to join did not answer.
    #[error("the name server {0} did not answer: {1}")]
    Join(String, #[source] MqError),
    /// A broker of this name is registered with the name server already.
    #[error("a broker named {name} is registered with {namesrv} already: pick another --broker-name")]
    BrokerNameTaken {
        /// The name.
        name: String,
        /// The name server.
        namesrv: String,
    },
    /// The data directory is unusable.
    #[error("data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

impl EmbeddedRocketMq {
    /// Starts a name server (unless the config joins one), then a broker registered with it,
    /// and waits until both serve.
    pub async fn start(config: &EmbeddedConfig) -> Result<EmbeddedRocketMq, EmbeddedError> {
        let namesrv_port = match &config.namesrv {
            NameServer::Start { port: 0 } => Some(free_port()?),
            NameServer::Start { port } => Some(*port),
            NameServer::Join(_) => None,
        };
        let mut broker_port = if config.broker_port == 0 { free_broker_port()? } else { config.broker_port };
        let mut ha_port = free_port()?;
        let wanted = namesrv_port.map(|port| (port, "name server")).into_iter();
        for (port, what) in wanted.chain([(broker_port, "broker"), (broker_port.saturating_sub(2), "broker fast listener")]) {
            if TcpListener::bind(("127.0.0.1", port)).is_err() {
                return Err(EmbeddedError::PortInUse { port, what });
            }
        }
        let root = &config.data_dir;
        let namesrv_dir = root.join("namesrv");
        let store_dir = root.join("store");
        let dirs = if namesrv_port.is_some() { vec![&namesrv_dir, &store_dir] } else { vec![&store_dir] };
        for dir in dirs {
            std::fs::create_dir_all(dir).map_err(|source| EmbeddedError::DataDir { path: dir.clone(), source })?;
        }
        let (namesrv_addr, namesrv_stop, namesrv_task) = match (&config.namesrv, namesrv_port) {
            (NameServer::Join(addr), _) => {
                // Boxed: the client's futures nest deep, and a worker's start-up awaits this one.
                let check: std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), EmbeddedError>> + Send + '_>> =
                    Box::pin(check_name_free(addr, &config.broker_name));
                check.await?;
                (addr.clone(), None, None)
            }
            (NameServer::Start { .. }, port) => {
                let port = port.expect("a port is picked for a name server to start");
                let (stop, task) = start_namesrv(root, &namesrv_dir, port);
                wait_for_port(port, Duration::from_secs(20)).await?;
                (format!("127.0.0.1:{port}"), Some(stop), Some(task))
            }
        };
        // A broker recovering the store of a killed process sometimes fails its first start-up
        // (it rolls back cleanly); a second attempt succeeds. Ports picked as free may have been
        // taken by another process meanwhile: a retry picks new ones.
        let mut attempt = 1;
        let broker = loop {
            match start_broker(&store_dir, config, &namesrv_addr, broker_port, ha_port).await {
                Ok(broker) => break broker,
                Err(error) if attempt < BROKER_START_ATTEMPTS => {
                    tracing::warn!(%error, attempt, "the embedded broker did not start; trying again");
                    attempt += 1;
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    if config.broker_port == 0 {
                        broker_port = free_broker_port()?;
                    }
                    ha_port = free_port()?;
                }
                Err(error) => return Err(with_disk_check(error, &store_dir)),
            }
        };
        Ok(EmbeddedRocketMq { namesrv_addr, broker: Some(broker), namesrv_stop, namesrv_task })
    }

    /// `host:port` of the name server.
    pub fn namesrv_addr(&self) -> &str {
        &self.namesrv_addr
    }

    /// Creates `topic` with `queues` queues, if missing, and waits until it is routed (for
    /// tests that read a topic before anyone writes to it).
    pub async fn create_topic(&self, topic: &str, queues: u32) -> Result<(), MqError> {
        with_client(&self.namesrv_addr, async |client| client.ensure_topic(topic, queues).await).await
    }

    /// The names of the brokers holding queues of `topic`, sorted (none while it does not
    /// exist).
    pub async fn topic_brokers(&self, topic: &str) -> Result<Vec<String>, MqError> {
        let queues = with_client(&self.namesrv_addr, async |client| client.write_queues(topic).await).await?;
        let mut brokers: Vec<String> = queues.iter().map(|q| q.broker_name().to_string()).collect();
        brokers.dedup();
        Ok(brokers)
    }

    /// Sends `messages` to queue `queue_id` of `topic` as a plain RocketMQ producer would, in
    /// batches, each acknowledged by the broker (for tests that seed a topic); returns once all
    /// are stored.
    pub async fn send(&self, topic: &str, queue_id: i32, messages: Vec<PlainMessage>) -> Result<(), MqError> {
        let messages = messages.into_iter().map(|m| m.to_message(topic)).collect::<Result<Vec<_>, _>>()?;
        self.send_messages(topic, queue_id, messages).await
    }

    /// [`send`](Self::send) of client messages.
    pub(crate) async fn send_messages(&self, topic: &str, queue_id: i32, messages: Vec<Message>) -> Result<(), MqError> {
        let client = MqClient::new(&self.namesrv_addr, "embedded-producer")?;
        let sent = async {
            let producer = client.producer("embedded-test-producer").await?;
            let queue = client.write_queues(topic).await?.into_iter().find(|q| q.queue_id() == queue_id);
            let mut messages = messages.into_iter().peekable();
            while messages.peek().is_some() {
                let batch: Vec<Message> = messages.by_ref().take(256).collect();
                producer.send_batch_to(topic, queue.clone(), batch).await?;
            }
            producer.shutdown().await;
            Ok(())
        }
        .await;
        client.shutdown().await;
        sent
    }

    /// Stops the broker, then the name server.
    pub async fn shutdown(mut self) {
        self.stop().await;
    }

    async fn stop(&mut self) {
        if let Some(broker) = self.broker.take() {
            broker.shutdown().await;
        }
        if let Some(stop) = self.namesrv_stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.namesrv_task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
    }
}

/// Refuses to register `broker_name` with the name server at `namesrv` when a broker of that
/// name is registered there already (it would replace that broker's address: topics, and the
/// state logs recorded by broker name, would point at this one), or when the name server
/// does not answer.
async fn check_name_free(namesrv: &str, broker_name: &str) -> Result<(), EmbeddedError> {
    let names =
        with_client(namesrv, async |client| client.broker_names().await).await.map_err(|e| EmbeddedError::Join(namesrv.to_owned(), e))?;
    if names.iter().any(|name| name == broker_name) {
        return Err(EmbeddedError::BrokerNameTaken { name: broker_name.to_owned(), namesrv: namesrv.to_owned() });
    }
    Ok(())
}

/// What `work` does with a client of the name server at `namesrv` opened for it alone (and
/// shut down after it).
async fn with_client<T>(namesrv: &str, work: impl AsyncFnOnce(&MqClient) -> Result<T, MqError>) -> Result<T, MqError> {
    let client = MqClient::new(namesrv, "embedded-admin")?;
    let done = work(&client).await;
    client.shutdown().await;
    done
}

fn start_namesrv(root: &Path, namesrv_dir: &Path, port: u16) -> (oneshot::Sender<()>, JoinHandle<()>) {
    let namesrv_config = NamesrvConfig {
        rocketmq_home: root.to_string_lossy().into_owned(),
        kv_config_path: namesrv_dir.join("kvConfig.json").to_string_lossy().into_owned(),
        config_store_path: namesrv_dir.join("namesrv.properties").to_string_lossy().into_owned(),
        ..NamesrvConfig::default()
    };
    let server_config = ServerConfig { bind_address: "127.0.0.1".to_owned(), listen_port: u32::from(port), ..ServerConfig::default() };
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let context = RuntimeContext::from_current("connect-embedded").service_context("namesrv");
    let task = tokio::spawn(async move {
        let result = NameServerBuilder::new(context, TelemetryHandle::noop())
            .set_name_server_config(namesrv_config)
            .set_server_config(server_config)
            .build()
            .boot_with_shutdown(async move {
                let _ = stop_rx.await;
            })
            .await;
        if let Err(error) = result {
            tracing::error!(%error, "embedded name server stopped with an error");
        }
    });
    (stop_tx, task)
}

async fn start_broker(
    store_dir: &Path,
    config: &EmbeddedConfig,
    namesrv_addr: &str,
    port: u16,
    ha_port: u16,
) -> Result<BrokerBootstrap<Running>, EmbeddedError> {
    let root = store_dir.to_string_lossy().into_owned();
    let mut broker_config = BrokerConfig {
        broker_ip1: "127.0.0.1".into(),
        listen_port: u32::from(port),
        store_path_root_dir: root.clone().into(),
        namesrv_addr: Some(CheetahString::from_string(namesrv_addr.to_owned())),
        auto_create_topic_enable: true,
        // Consumer offsets reach disk every second: fewer duplicates after a crash of the whole process.
        flush_consumer_offset_interval: 1_000,
        ..BrokerConfig::default()
    };
    broker_config.broker_identity.broker_name = CheetahString::from_string(config.broker_name.clone());
    broker_config.broker_identity.broker_cluster_name = CheetahString::from_string(config.cluster_name.clone());
    broker_config.broker_server_config.bind_address = "127.0.0.1".to_owned();
    broker_config.broker_server_config.listen_port = u32::from(port);
    // Every listener on loopback: the HA port serves the commit log to whoever connects.
    // Files a fifth the size of a production broker's (a 1 GiB commit log segment and a 400 MiB
    // index file, written out at start): an embedded broker is one per worker, per test, per
    // quickstart, and each held 1.4 GiB of disk before it stored a message.
    let store_config = MessageStoreConfig {
        store_path_root_dir: root.into(),
        ha_listen_address: std::net::IpAddr::from([127, 0, 0, 1]),
        ha_listen_port: usize::from(ha_port),
        mapped_file_size_commit_log: 256 * 1024 * 1024,
        max_hash_slot_num: 500_000,
        max_index_num: 2_000_000,
        // No wheel for RocketMQ 5 timer messages (delivery at a given time): the wheel holds
        // a slot per second of 7 days in memory, 38 MB, and nothing here sends one (delay
        // levels still work). An external broker has it.
        timer_wheel_enable: false,
        ..MessageStoreConfig::default()
    };
    let validated = ValidatedBrokerConfig::try_from_parts(broker_config, store_config).map_err(|e| EmbeddedError::Broker(e.into()))?;
    let context = RuntimeContext::from_current("connect-embedded").service_context("broker");
    let initialized = rocketmq_broker::Builder::new(context, TelemetryRuntimeGuard::noop())
        .with_validated_config(validated)
        .build()
        .initialize()
        .await
        .map_err(|e| EmbeddedError::Broker(e.into()))?;
    initialized.start().await.map_err(|e| EmbeddedError::Broker(e.into()))
}

/// RocketMQ's `disk_space_warning_level_ratio`: the share of a disk past which its store
/// refuses to write.
const DISK_WARNING_PERCENT: u64 = 90;

/// `error`, or [`EmbeddedError::DiskFull`] when the disk of `store_dir` is nearly full (the
/// broker's own message does not say so).
fn with_disk_check(error: EmbeddedError, store_dir: &Path) -> EmbeddedError {
    let (Ok(total), Ok(free)) = (fs2::total_space(store_dir), fs2::available_space(store_dir)) else { return error };
    let used_percent = free.saturating_mul(100).checked_div(total).map_or(0, |free_percent| 100u64.saturating_sub(free_percent));
    if used_percent + 5 < DISK_WARNING_PERCENT {
        return error;
    }
    let free = crate::memory::human(usize::try_from(free).unwrap_or(usize::MAX));
    EmbeddedError::DiskFull { error: Box::new(error), path: store_dir.to_owned(), used_percent, free }
}

async fn wait_for_port(port: u16, timeout: Duration) -> Result<(), EmbeddedError> {
    let deadline = Instant::now() + timeout;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            return Err(EmbeddedError::NameServer { port, waited: timeout });
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

/// A free loopback port.
pub fn free_port() -> Result<u16, EmbeddedError> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(EmbeddedError::NoFreePort)?;
    listener.local_addr().map(|a| a.port()).map_err(EmbeddedError::NoFreePort)
}

/// A free loopback port `p` whose `p - 2` is free too (the broker's fast listener), for a
/// broker started on fixed ports (`connect-worker broker`, restarted on the same ones).
pub fn free_broker_port() -> Result<u16, EmbeddedError> {
    for _ in 0..100 {
        let normal = TcpListener::bind("127.0.0.1:0").map_err(EmbeddedError::NoFreePort)?;
        let port = normal.local_addr().map(|a| a.port()).map_err(EmbeddedError::NoFreePort)?;
        if port > 1026 && TcpListener::bind(("127.0.0.1", port - 2)).is_ok() {
            return Ok(port);
        }
    }
    Err(EmbeddedError::NoFreeBrokerPorts)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::mq::message_queue;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn the_embedded_broker_round_trips_batches_through_the_worker_s_client() {
        let dir = std::env::temp_dir().join(format!("connect-embedded-{}", std::process::id()));
        let mq = EmbeddedRocketMq::start(&EmbeddedConfig::free_ports(&dir)).await.unwrap();
        let client = MqClient::new(mq.namesrv_addr(), "test").unwrap();
        let producer = client.producer("smoke-producer").await.unwrap();
        let topic = "smoke-topic";
        for batch in 0..10 {
            let messages =
                (0..64).map(|i| Message::builder().topic(topic).body_slice(format!("{batch}-{i}").as_bytes()).build_unchecked()).collect();
            producer.send_batch(topic, messages).await.unwrap();
        }
        let consumer = client.consumer("smoke-consumer", &[topic.to_owned()], 32).await.unwrap();
        consumer.assign(consumer.queues(topic).await.unwrap()).await.unwrap();
        let mut seen = 0;
        let mut offsets = HashMap::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while seen < 640 && Instant::now() < deadline {
            for message in consumer.poll(500).await {
                seen += 1;
                offsets.insert(message_queue(topic, message.broker_name(), message.queue_id()), message.queue_offset() + 1);
            }
        }
        assert_eq!(seen, 640);
        consumer.commit(offsets).await.unwrap();
        consumer.shutdown().await;
        producer.shutdown().await;
        client.shutdown().await;
        mq.shutdown().await;
        let _ = std::fs::remove_dir_all(dir);
    }
}
