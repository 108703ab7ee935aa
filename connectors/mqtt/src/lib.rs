//! MQTT connectors (MQTT 3.1.1, QoS 0 and 1), for moving device traffic into RocketMQ and
//! back: `mqtt-source` keeps a persistent session and acknowledges a message only once
//! RocketMQ stored it (at least once: a crash redelivers what was not committed, and the
//! broker keeps what arrives while the task is away); `mqtt-sink` counts a batch as written
//! only once the broker acknowledged every message.

mod client;
mod sink;
mod source;

pub use sink::{MqttSink, MqttSinkTask};
pub use source::{MqttSource, MqttSourceTask};
