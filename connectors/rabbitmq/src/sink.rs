//! `rabbitmq-sink`: records published to a RabbitMQ exchange, persistent and confirmed.

use connect_sdk::config::ConfigErrors;
use connect_sdk::converter::payload_bytes;
use connect_sdk::prelude::*;
use lapin::Confirmation;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Channel, Connection};

use crate::source::{amqp_error, connect, default_uri};

/// Publishes each record's value to a RabbitMQ exchange (the reverse of a migration, or to
/// feed RabbitMQ consumers from RocketMQ). Messages are persistent and published with
/// publisher confirms: a batch counts as written only once RabbitMQ confirmed every message,
/// so the worker commits nothing RabbitMQ has not taken. The record key becomes the message
/// id, its headers AMQP headers.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, SinkConnector)]
#[connector(name = "rabbitmq-sink", aliases = ["com.ibm.eventstreams.connect.rabbitmqsink.RabbitMQSinkConnector", "RabbitMQSinkConnector"],
            task = RabbitMqSinkTask, validate = RabbitMqSink::check)]
pub struct RabbitMqSink {
    /// AMQP URI of the broker, `amqp://user:password@host:5672/vhost`.
    #[serde(default = "default_uri")]
    pub rabbitmq_uri: String,
    /// Exchange to publish to (`""`, the default exchange, routes by queue name).
    #[serde(default)]
    pub rabbitmq_exchange: String,
    /// Routing key; `${topic}` is replaced by the record's topic.
    #[serde(default = "default_routing_key")]
    pub rabbitmq_routing_key: String,
}

fn default_routing_key() -> String {
    "${topic}".to_owned()
}

impl RabbitMqSink {
    fn check(&self) -> Result<(), ConfigErrors> {
        let mut errors = ConfigErrors::new();
        if !self.rabbitmq_uri.starts_with("amqp://") && !self.rabbitmq_uri.starts_with("amqps://") {
            errors.push("rabbitmq.uri", "use amqp://user:password@host:port/vhost");
        }
        if self.rabbitmq_routing_key.is_empty() && self.rabbitmq_exchange.is_empty() {
            errors.push("rabbitmq.routing.key", "the default exchange needs a routing key (the queue name)");
        }
        errors.into_result(())
    }
}

/// Publishes on one confirming channel.
pub struct RabbitMqSinkTask {
    config: RabbitMqSink,
    connection: Option<(Connection, Channel)>,
}

impl RabbitMqSinkTask {
    async fn channel(&mut self) -> Result<&Channel> {
        if self.connection.is_none() {
            let connection = connect(&self.config.rabbitmq_uri).await?;
            let channel = connection.create_channel().await.map_err(|e| amqp_error("cannot open a channel", e))?;
            channel.confirm_select(ConfirmSelectOptions::default()).await.map_err(|e| amqp_error("cannot enable publisher confirms", e))?;
            self.connection = Some((connection, channel));
        }
        Ok(&self.connection.as_ref().expect("connected above").1)
    }
}

impl SinkTask for RabbitMqSinkTask {
    type Config = RabbitMqSink;

    async fn open(config: RabbitMqSink, _ctx: SinkContext) -> Result<Self> {
        let mut task = RabbitMqSinkTask { config, connection: None };
        task.channel().await?;
        Ok(task)
    }

    async fn put(&mut self, records: Vec<SinkRecord>) -> Result<()> {
        let exchange: ShortString = self.config.rabbitmq_exchange.as_str().into();
        let routing = self.config.rabbitmq_routing_key.clone();
        let mut messages = Vec::with_capacity(records.len());
        for record in &records {
            let body = payload_bytes(&record.value, record.value_schema.as_ref())?.unwrap_or_default();
            let mut properties = BasicProperties::default().with_delivery_mode(2);
            if let Some(key) = payload_bytes(&record.key, record.key_schema.as_ref())? {
                properties = properties.with_message_id(String::from_utf8_lossy(&key).as_ref().into());
            }
            if let Some(ts) = record.timestamp {
                properties = properties.with_timestamp((ts / 1000) as u64);
            }
            let mut headers = FieldTable::default();
            for header in &record.headers {
                let text = match &header.value {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                headers.insert(header.key.as_str().into(), AMQPValue::LongString(LongString::from(text)));
            }
            properties = properties.with_headers(headers);
            messages.push((routing.replace("${topic}", &record.topic), body, properties));
        }
        let result = self.publish(&exchange, messages).await;
        if result.as_ref().is_err_and(Error::is_retriable) {
            self.connection = None;
        }
        result
    }

    async fn close(&mut self) -> Result<()> {
        if let Some((connection, _)) = self.connection.take() {
            let _ = connection.close(200, "closing".into()).await;
        }
        Ok(())
    }
}

impl RabbitMqSinkTask {
    /// Publishes every message, then waits for all their confirms.
    async fn publish(&mut self, exchange: &ShortString, messages: Vec<(String, Vec<u8>, BasicProperties)>) -> Result<()> {
        let channel = self.channel().await?.clone();
        let mut confirms = Vec::with_capacity(messages.len());
        for (routing_key, body, properties) in messages {
            let confirm = channel
                .basic_publish(exchange.clone(), routing_key.as_str().into(), BasicPublishOptions::default(), &body, properties)
                .await
                .map_err(|e| amqp_error("publishing failed", e))?;
            confirms.push(confirm);
        }
        for confirm in confirms {
            match confirm.await.map_err(|e| amqp_error("waiting for a publisher confirm failed", e))? {
                Confirmation::Ack(_) => {}
                Confirmation::Nack(_) => return Err(Error::retriable("RabbitMQ refused a message (nack)")),
                Confirmation::NotRequested => return Err(Error::other("publisher confirms are not enabled on the channel")),
            }
        }
        Ok(())
    }
}
