//! `mqtt-source`: messages of MQTT topic filters into a RocketMQ topic, acknowledged to the
//! broker only once RocketMQ stored them.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use connect_sdk::config::ConfigErrors;
use connect_sdk::config::groups::{BatchSize, PollWait};
use connect_sdk::prelude::*;
use connect_sdk::tokio::sync::mpsc;
use connect_sdk::tokio::task::JoinHandle;
use rumqttc::{AsyncClient, Publish, QoS};

use crate::client::{Delivery, Session, client_error, parse_uri};

/// Subscribes to MQTT topic filters with QoS 1 in a persistent session and writes every
/// message to a RocketMQ topic. A message is acknowledged (PUBACK) only once RocketMQ stored
/// it and its offset was committed, so the broker keeps, and redelivers after a crash,
/// whatever was not yet safe. The value is the payload (bytes), the key the MQTT topic;
/// `mqtt.topic`, `mqtt.qos`, `mqtt.retained` and `mqtt.duplicate` are headers.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, SourceConnector)]
#[connector(name = "mqtt-source", aliases = ["io.confluent.connect.mqtt.MqttSourceConnector", "MqttSourceConnector"],
            task = MqttSourceTask, split = MqttSource::one_session, validate = MqttSource::check)]
pub struct MqttSource {
    /// The broker, `tcp://host:1883`.
    #[serde(default = "default_uri")]
    pub mqtt_server_uri: String,
    /// User name, if the broker wants one.
    #[serde(default)]
    pub mqtt_username: Option<String>,
    /// Password.
    #[serde(default)]
    pub mqtt_password: Option<String>,
    /// Client id of the session (default: `connect-<connector name>`); keep it stable so the
    /// broker keeps the session's messages while the task is away.
    #[serde(default)]
    pub mqtt_client_id: Option<String>,
    /// MQTT topic filters to subscribe to, comma-separated (`sensors/+/temperature`, `#`).
    pub mqtt_topics: Vec<String>,
    /// QoS of the subscriptions: 0 (at most once) or 1 (at least once).
    #[serde(default = "default_qos")]
    #[schemars(range(max = 2))]
    pub mqtt_qos: u8,
    /// Start a fresh session (the broker forgets what it kept for this client id).
    #[serde(default)]
    pub mqtt_clean_session: bool,
    /// Seconds between keep-alive pings.
    #[serde(default = "default_keep_alive")]
    #[schemars(range(max = 65_535))]
    pub mqtt_keepalive_interval: u64,
    /// RocketMQ topic to write to.
    #[config(topic)]
    pub topic: String,
    /// `batch.size`.
    #[serde(flatten)]
    pub batch: BatchSize<500>,
    /// `poll.wait.ms`.
    #[serde(flatten)]
    pub poll_wait: PollWait<200>,
}

/// The local broker.
pub(crate) fn default_uri() -> String {
    "tcp://127.0.0.1:1883".to_owned()
}
pub(crate) fn default_qos() -> u8 {
    1
}
pub(crate) fn default_keep_alive() -> u64 {
    30
}

/// The QoS of `n` (checked by validation).
pub(crate) fn qos(n: u8) -> QoS {
    if n == 0 { QoS::AtMostOnce } else { QoS::AtLeastOnce }
}

/// Checks the keys both connectors share.
pub(crate) fn check_common(uri: &str, qos: u8, errors: &mut ConfigErrors) {
    if parse_uri(uri).is_none() {
        errors.push("mqtt.server.uri", "use tcp://host:port");
    }
    if qos > 1 {
        errors.push("mqtt.qos", "use 0 or 1 (QoS 2 is not supported)");
    }
}

impl MqttSource {
    /// One session: a second client with the same filters would get every message twice.
    fn one_session(&self, _max_tasks: usize) -> Vec<Self> {
        vec![self.clone()]
    }

    fn check(&self) -> Result<(), ConfigErrors> {
        let mut errors = ConfigErrors::new();
        check_common(&self.mqtt_server_uri, self.mqtt_qos, &mut errors);
        if self.mqtt_topics.iter().all(|t| t.trim().is_empty()) {
            errors.push("mqtt.topics", "name at least one topic filter");
        }
        errors.into_result(())
    }
}

/// Holds the session and the messages not yet acknowledged.
pub struct MqttSourceTask {
    config: MqttSource,
    ctx: SourceContext,
    client: AsyncClient,
    deliveries: mpsc::Receiver<Delivery>,
    driver: JoinHandle<()>,
    partition: SourcePartition,
    /// Messages polled and not yet acknowledged, with their sequence numbers.
    unacknowledged: VecDeque<(i64, Publish)>,
    next_sequence: i64,
}

impl SourceTask for MqttSourceTask {
    type Config = MqttSource;
    // MQTT redelivers unacknowledged messages after a reconnect without an identity the
    // task could poll again by: sequence numbers are given on arrival.
    const REPEATABLE: bool = false;

    async fn open(config: MqttSource, ctx: SourceContext) -> Result<Self> {
        let (host, port) = parse_uri(&config.mqtt_server_uri).ok_or_else(|| Error::other("mqtt.server.uri is not tcp://host:port"))?;
        let client_id = config.mqtt_client_id.clone().unwrap_or_else(|| format!("connect-{}", ctx.connector_name()));
        let session = Session {
            host,
            port,
            client_id: client_id.clone(),
            credentials: config.mqtt_username.clone().map(|u| (u, config.mqtt_password.clone().unwrap_or_default())),
            keep_alive: Duration::from_secs(config.mqtt_keepalive_interval.max(5)),
        };
        let subscriptions =
            config.mqtt_topics.iter().filter(|t| !t.trim().is_empty()).map(|t| (t.trim().to_owned(), qos(config.mqtt_qos))).collect();
        let (client, deliveries, driver) = session.start(config.mqtt_clean_session, subscriptions);
        let partition = SourcePartition::new().with("mqtt.client.id", client_id);
        let next_sequence = ctx.offset(&partition).and_then(|o| o.get_i64("sequence")).unwrap_or(0);
        Ok(MqttSourceTask { config, ctx, client, deliveries, driver, partition, unacknowledged: VecDeque::new(), next_sequence })
    }

    async fn poll(&mut self) -> Result<Vec<SourceRecord>> {
        let deadline = Instant::now() + self.config.poll_wait.duration();
        let mut records = Vec::new();
        while records.len() < self.config.batch.batch_size {
            let wait = if records.is_empty() { deadline.saturating_duration_since(Instant::now()) } else { Duration::ZERO };
            match connect_sdk::tokio::time::timeout(wait, self.deliveries.recv()).await {
                Err(_) => break,
                Ok(None) => return Err(Error::retriable("the MQTT session ended")),
                Ok(Some(Delivery::Acknowledged)) => {}
                Ok(Some(Delivery::Message(publish))) => {
                    self.next_sequence += 1;
                    records.push(self.record(&publish));
                    self.unacknowledged.push_back((self.next_sequence, publish));
                }
            }
        }
        if !records.is_empty() {
            // The broker keeps only a few messages in flight until they are acknowledged.
            self.ctx.request_commit();
        }
        Ok(records)
    }

    /// Acknowledges every message up to the committed one.
    async fn commit(&mut self, committed: &CommittedOffsets) -> Result<()> {
        let Some(upto) = committed.get(&self.partition).and_then(|o| o.get_i64("sequence")) else { return Ok(()) };
        while self.unacknowledged.front().is_some_and(|(sequence, _)| *sequence <= upto) {
            let (_, publish) = self.unacknowledged.pop_front().expect("checked above");
            self.client.ack(&publish).await.map_err(|e| client_error("acknowledging a message failed", e))?;
        }
        Ok(())
    }

    async fn close(&mut self) -> Result<()> {
        // What was not acknowledged stays with the broker, for the next session.
        let _ = self.client.disconnect().await;
        connect_sdk::tokio::time::sleep(Duration::from_millis(50)).await;
        self.driver.abort();
        Ok(())
    }
}

impl MqttSourceTask {
    fn record(&self, publish: &Publish) -> SourceRecord {
        let offset = SourceOffset::new().with("sequence", self.next_sequence);
        SourceRecord::new(self.partition.clone(), offset, &self.config.topic, Value::Bytes(publish.payload.to_vec()))
            .with_key(publish.topic.as_str())
            .with_header("mqtt.topic", publish.topic.as_str())
            .with_header("mqtt.qos", publish.qos as i32)
            .with_header("mqtt.retained", publish.retain)
            .with_header("mqtt.duplicate", publish.dup)
    }
}
