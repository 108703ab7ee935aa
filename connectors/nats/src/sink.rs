//! `nats-sink`: record values published to NATS subjects, through JetStream by default.

use async_nats::HeaderMap;
use async_nats::jetstream::{self, message::PublishMessage};
use bytes::Bytes;
use connect_sdk::config::ConfigErrors;
use connect_sdk::converter::payload_bytes;
use connect_sdk::prelude::*;

use crate::connection::NatsConnection;

/// Publishes each record's value to a subject (`${topic}` in `nats.subject` is the record's
/// topic): to JetStream by default, each publish acknowledged by the stream before the batch
/// counts as written, with the message id `<topic>-<broker>-<queue>-<offset>` (`Nats-Msg-Id`),
/// so a batch sent again after a crash is dropped by the stream's duplicate window; or, with
/// `nats.jetstream=false`, as plain NATS messages flushed per batch (at least once). The key
/// goes in the `Connect-Key` header, record headers become NATS headers.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, SinkConnector)]
#[connector(name = "nats-sink", aliases = ["io.nats.kafka.connect.NatsSinkConnector", "NatsSinkConnector"], task = NatsSinkTask,
            validate = NatsSink::check)]
pub struct NatsSink {
    /// `nats.url` and credentials.
    #[serde(flatten)]
    pub connection: NatsConnection,
    /// Subject to publish to; `${topic}` stands for the record's topic.
    pub nats_subject: String,
    /// Publish through JetStream (acknowledged and de-duplicated); `false`: plain subjects.
    #[serde(default = "yes")]
    pub nats_jetstream: bool,
}

fn yes() -> bool {
    true
}

impl NatsSink {
    fn check(&self) -> Result<(), ConfigErrors> {
        let mut errors = ConfigErrors::new();
        let subject = self.nats_subject.replace("${topic}", "t");
        if subject.is_empty() || subject.contains(char::is_whitespace) || subject.split('.').any(str::is_empty) {
            errors.push("nats.subject", "a subject is dot-separated tokens without spaces (`orders.created`, `cdc.${topic}`)");
        }
        errors.into_result(())
    }
}

/// Publishes each batch and waits for its acknowledgements.
pub struct NatsSinkTask {
    config: NatsSink,
    client: async_nats::Client,
    jetstream: jetstream::Context,
}

impl SinkTask for NatsSinkTask {
    type Config = NatsSink;

    async fn open(config: NatsSink, ctx: SinkContext) -> Result<Self> {
        let client = config.connection.connect(&format!("connect-{}", ctx.connector_name())).await?;
        let jetstream = jetstream::new(client.clone());
        Ok(NatsSinkTask { config, client, jetstream })
    }

    async fn put(&mut self, records: Vec<SinkRecord>) -> Result<()> {
        let mut acks = Vec::with_capacity(records.len());
        for record in &records {
            let subject = self.config.nats_subject.replace("${topic}", &record.topic);
            let payload = Bytes::from(payload_bytes(&record.value, record.value_schema.as_ref())?.unwrap_or_default());
            let headers = headers_of(record)?;
            if self.config.nats_jetstream {
                let queue = record.queue();
                let id = format!("{}-{}-{}-{}", queue.topic, queue.broker_name, queue.queue_id, record.position());
                let publish = PublishMessage::build().payload(payload).headers(headers).message_id(id);
                let ack = self.jetstream.send_publish(subject.clone(), publish).await.map_err(|e| publish_error(&subject, e))?;
                acks.push((subject, ack));
            } else {
                self.client.publish_with_headers(subject.clone(), headers, payload).await.map_err(|e| publish_error(&subject, e))?;
            }
        }
        for (subject, ack) in acks {
            ack.await.map_err(|e| publish_error(&subject, e))?;
        }
        if !self.config.nats_jetstream {
            self.client.flush().await.map_err(|e| Error::retriable(format!("cannot flush to NATS: {e}")))?;
        }
        Ok(())
    }
}

fn publish_error(subject: &str, error: impl std::fmt::Display) -> Error {
    let text = error.to_string();
    let message = format!("cannot publish to {subject}: {text}");
    // No stream listens on the subject: publishing again will not help.
    if text.contains("no responders") || text.contains("no stream found") {
        Error::other(format!("{message} (no JetStream stream captures this subject; create one, or set nats.jetstream=false)"))
    } else {
        Error::retriable(message)
    }
}

/// The record's headers, and its key as `Connect-Key`.
fn headers_of(record: &SinkRecord) -> Result<HeaderMap> {
    let mut headers = HeaderMap::new();
    for header in record.headers.iter() {
        if let Some(bytes) = payload_bytes(&header.value, None)? {
            headers.append(header.key.as_str(), String::from_utf8_lossy(&bytes).as_ref());
        }
    }
    if let Some(key) = payload_bytes(&record.key, record.key_schema.as_ref())? {
        headers.insert("Connect-Key", String::from_utf8_lossy(&key).as_ref());
    }
    Ok(headers)
}
