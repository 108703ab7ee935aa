//! RabbitMQ connectors, for migrating from RabbitMQ to RocketMQ with no downtime and nothing
//! lost: `rabbitmq-source` acknowledges a message to RabbitMQ only once RocketMQ stored it
//! (at least once: a crash redelivers what was not yet committed), `rabbitmq-sink` publishes
//! persistent messages and counts a batch as written only once RabbitMQ confirmed it.

mod sink;
mod source;

pub use sink::{RabbitMqSink, RabbitMqSinkTask};
pub use source::{RabbitMqSource, RabbitMqSourceTask};
