//! `mqtt-sink`: records published to MQTT with QoS 1, each batch acknowledged by the broker.

use std::time::Duration;

use connect_sdk::config::ConfigErrors;
use connect_sdk::converter::payload_bytes;
use connect_sdk::prelude::*;
use connect_sdk::tokio::sync::mpsc;
use connect_sdk::tokio::task::JoinHandle;
use rumqttc::{AsyncClient, QoS};

use crate::client::{Delivery, Session, client_error, parse_uri};
use crate::source::{check_common, default_keep_alive, default_qos, default_uri, qos};

/// How long a batch may wait for the broker's acknowledgements.
const ACK_TIMEOUT: Duration = Duration::from_secs(30);

/// Publishes each record's value to an MQTT topic (`${topic}` is the record's topic, `${key}`
/// its key): commands to devices, or RocketMQ data for MQTT consumers. With QoS 1 a batch
/// counts as written only once the broker acknowledged every message.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, SinkConnector)]
#[connector(name = "mqtt-sink", aliases = ["io.confluent.connect.mqtt.MqttSinkConnector", "MqttSinkConnector"],
            task = MqttSinkTask, validate = MqttSink::check)]
pub struct MqttSink {
    /// The broker, `tcp://host:1883`.
    #[serde(default = "default_uri")]
    pub mqtt_server_uri: String,
    /// User name, if the broker wants one.
    #[serde(default)]
    pub mqtt_username: Option<String>,
    /// Password.
    #[serde(default)]
    pub mqtt_password: Option<String>,
    /// MQTT topic to publish to; `${topic}` and `${key}` are replaced.
    #[serde(default = "default_target")]
    pub mqtt_topic: String,
    /// QoS: 0 (fire and forget) or 1 (acknowledged).
    #[serde(default = "default_qos")]
    #[schemars(range(max = 2))]
    pub mqtt_qos: u8,
    /// Publish as retained messages.
    #[serde(default)]
    pub mqtt_retain: bool,
    /// Seconds between keep-alive pings.
    #[serde(default = "default_keep_alive")]
    #[schemars(range(max = 65_535))]
    pub mqtt_keepalive_interval: u64,
}

fn default_target() -> String {
    "${topic}".to_owned()
}

impl MqttSink {
    fn check(&self) -> Result<(), ConfigErrors> {
        let mut errors = ConfigErrors::new();
        check_common(&self.mqtt_server_uri, self.mqtt_qos, &mut errors);
        if self.mqtt_topic.contains(['+', '#']) {
            errors.push("mqtt.topic", "cannot publish to a topic filter (no + or #)");
        }
        errors.into_result(())
    }
}

/// Publishes and counts the broker's acknowledgements.
pub struct MqttSinkTask {
    config: MqttSink,
    client: AsyncClient,
    acknowledgements: mpsc::Receiver<Delivery>,
    driver: JoinHandle<()>,
}

impl SinkTask for MqttSinkTask {
    type Config = MqttSink;

    async fn open(config: MqttSink, ctx: SinkContext) -> Result<Self> {
        let (host, port) = parse_uri(&config.mqtt_server_uri).ok_or_else(|| Error::other("mqtt.server.uri is not tcp://host:port"))?;
        let session = Session {
            host,
            port,
            client_id: format!("connect-{}-{}-{}", ctx.connector_name(), ctx.task_id(), std::process::id()),
            credentials: config.mqtt_username.clone().map(|u| (u, config.mqtt_password.clone().unwrap_or_default())),
            keep_alive: Duration::from_secs(config.mqtt_keepalive_interval.max(5)),
        };
        let (client, acknowledgements, driver) = session.start(true, Vec::new());
        Ok(MqttSinkTask { config, client, acknowledgements, driver })
    }

    async fn put(&mut self, records: Vec<SinkRecord>) -> Result<()> {
        let qos = qos(self.config.mqtt_qos);
        // Acknowledgements of an earlier, failed batch are not this batch's.
        while self.acknowledgements.try_recv().is_ok() {}
        for record in &records {
            let payload = payload_bytes(&record.value, record.value_schema.as_ref())?.unwrap_or_default();
            let key = payload_bytes(&record.key, record.key_schema.as_ref())?
                .map(|k| String::from_utf8_lossy(&k).into_owned())
                .unwrap_or_default();
            let topic = self.config.mqtt_topic.replace("${topic}", &record.topic).replace("${key}", &key);
            self.client.publish(topic, qos, self.config.mqtt_retain, payload).await.map_err(|e| client_error("publishing failed", e))?;
        }
        if qos == QoS::AtMostOnce {
            return Ok(());
        }
        let mut acknowledged = 0;
        let deadline = connect_sdk::tokio::time::Instant::now() + ACK_TIMEOUT;
        while acknowledged < records.len() {
            match connect_sdk::tokio::time::timeout_at(deadline, self.acknowledgements.recv()).await {
                Ok(Some(Delivery::Acknowledged)) => acknowledged += 1,
                Ok(Some(Delivery::Message(_))) => {}
                Ok(None) => return Err(Error::retriable("the MQTT session ended")),
                Err(_) => {
                    return Err(Error::retriable(format!(
                        "the broker acknowledged {acknowledged} of {} messages within {ACK_TIMEOUT:?}",
                        records.len()
                    )));
                }
            }
        }
        Ok(())
    }

    async fn close(&mut self) -> Result<()> {
        let _ = self.client.disconnect().await;
        connect_sdk::tokio::time::sleep(Duration::from_millis(50)).await;
        self.driver.abort();
        Ok(())
    }
}
