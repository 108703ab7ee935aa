//! `nats-source`: a JetStream stream into a topic through a durable pull consumer,
//! acknowledged only up to what the worker committed.

use std::collections::VecDeque;
use std::time::Duration;

use async_nats::jetstream::{self, AckKind, consumer};
use connect_sdk::config::ConfigErrors;
use connect_sdk::config::groups::{BatchSize, PollWait};
use connect_sdk::prelude::*;
use futures_util::StreamExt;

use crate::connection::NatsConnection;

/// Reads a JetStream stream (optionally one subject filter of it) into a RocketMQ topic
/// through a durable pull consumer. Messages are acknowledged (`AckAll`) only once RocketMQ
/// stored them and their offset was committed, so a crash redelivers rather than loses. The
/// offset is the stream sequence: a task opened after a restart re-creates the consumer to
/// start just after the committed sequence, so nothing committed is read twice and nothing
/// waits for the server's redelivery timeout. The value is the payload (bytes); the subject
/// and the message headers become record headers, `Nats-Msg-Id` the key.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, SourceConnector)]
#[connector(name = "nats-source", aliases = ["io.nats.kafka.connect.NatsSourceConnector", "NatsSourceConnector"],
            task = NatsSourceTask, split = NatsSource::one_reader, validate = NatsSource::check)]
pub struct NatsSource {
    /// `nats.url` and credentials.
    #[serde(flatten)]
    pub connection: NatsConnection,
    /// The JetStream stream to read.
    pub nats_stream: String,
    /// The durable consumer's name (default: `connect-` and the connector's name).
    #[serde(default)]
    pub nats_consumer: Option<String>,
    /// Only the stream's messages on this subject (wildcards allowed); default: all.
    #[serde(default)]
    pub nats_subject: Option<String>,
    /// Topic to write to.
    #[config(topic)]
    pub topic: String,
    /// `batch.size`.
    #[serde(flatten)]
    pub batch: BatchSize<500>,
    /// `poll.wait.ms`.
    #[serde(flatten)]
    pub poll_wait: PollWait<500>,
    /// Messages delivered and not yet acknowledged at most (the consumer's `max_ack_pending`).
    #[serde(default = "default_ack_pending")]
    #[schemars(range(min = 2, max = 1_000_000))]
    pub nats_max_ack_pending: i64,
}

fn default_ack_pending() -> i64 {
    20_000
}

impl NatsSource {
    /// A stream is one sequence: one reader.
    fn one_reader(&self, _max_tasks: usize) -> Vec<Self> {
        vec![self.clone()]
    }

    fn check(&self) -> Result<(), ConfigErrors> {
        let mut errors = ConfigErrors::new();
        let name_ok = |n: &str| !n.is_empty() && !n.contains(|c: char| c.is_whitespace() || matches!(c, '.' | '*' | '>' | '/' | '\\'));
        if !name_ok(&self.nats_stream) {
            errors.push("nats.stream", "a stream name without spaces, `.`, `*`, `>`, `/` or `\\`");
        }
        if let Some(consumer) = &self.nats_consumer
            && !name_ok(consumer)
        {
            errors.push("nats.consumer", "a consumer name without spaces, `.`, `*`, `>`, `/` or `\\`");
        }
        errors.into_result(())
    }
}

/// Fetches batches from the durable consumer and acknowledges up to each commit.
pub struct NatsSourceTask {
    config: NatsSource,
    ctx: SourceContext,
    consumer: consumer::PullConsumer,
    partition: SourcePartition,
    /// The last stream sequence emitted: a redelivery up to it is skipped.
    last_emitted: u64,
    /// Messages emitted and not yet acknowledged: their sequence and the handle to ack with.
    unacked: VecDeque<(u64, jetstream::Message)>,
}

/// `connect-` and the connector's name, made a valid consumer name.
fn default_consumer(connector: &str) -> String {
    let cleaned: String = connector.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect();
    format!("connect-{cleaned}")
}

impl SourceTask for NatsSourceTask {
    type Config = NatsSource;

    async fn open(config: NatsSource, ctx: SourceContext) -> Result<Self> {
        let client = config.connection.connect(&format!("connect-{}", ctx.connector_name())).await?;
        let jetstream = jetstream::new(client);
        let stream = jetstream
            .get_stream(&config.nats_stream)
            .await
            .map_err(|e| Error::other(format!("nats.stream {}: {e} (create the stream first)", config.nats_stream)))?;
        let name = config.nats_consumer.clone().unwrap_or_else(|| default_consumer(ctx.connector_name()));
        let partition = SourcePartition::new().with("stream", config.nats_stream.as_str());
        let committed = ctx.offset(&partition).and_then(|o| o.get_i64("seq")).map(|s| s as u64);
        let deliver_policy = match committed {
            // The worker's committed offset is what counts: start just after it.
            Some(seq) => {
                let _ = stream.delete_consumer(&name).await;
                consumer::DeliverPolicy::ByStartSequence { start_sequence: seq + 1 }
            }
            None => consumer::DeliverPolicy::All,
        };
        let consumer_config = consumer::pull::Config {
            durable_name: Some(name.clone()),
            ack_policy: consumer::AckPolicy::All,
            ack_wait: Duration::from_secs(60),
            deliver_policy,
            filter_subject: config.nats_subject.clone().unwrap_or_default(),
            max_ack_pending: config.nats_max_ack_pending,
            ..Default::default()
        };
        let consumer: consumer::PullConsumer = stream
            .get_or_create_consumer(&name, consumer_config)
            .await
            .map_err(|e| Error::retriable(format!("cannot open consumer {name} on stream {}: {e}", config.nats_stream)))?;
        connect_sdk::tracing::info!(connector = ctx.connector_name(), stream = config.nats_stream, consumer = name, committed = ?committed,
            "nats-source starts");
        Ok(NatsSourceTask { config, ctx, consumer, partition, last_emitted: committed.unwrap_or(0), unacked: VecDeque::new() })
    }

    async fn poll(&mut self) -> Result<Vec<SourceRecord>> {
        let mut batch = self
            .consumer
            .fetch()
            .max_messages(self.config.batch.batch_size)
            .expires(self.config.poll_wait.duration().max(Duration::from_millis(10)))
            .messages()
            .await
            .map_err(|e| Error::retriable(format!("cannot fetch from stream {}: {e}", self.config.nats_stream)))?;
        let mut records = Vec::new();
        while let Some(message) = batch.next().await {
            let mut message = message.map_err(|e| Error::retriable(format!("fetching from stream {}: {e}", self.config.nats_stream)))?;
            let (seq, published) = {
                let info = message.info().map_err(|e| Error::other(format!("a message without JetStream metadata: {e}")))?;
                (info.stream_sequence, (info.published.unix_timestamp_nanos() / 1_000_000) as i64)
            };
            if seq <= self.last_emitted {
                continue; // delivered again (its acknowledgement was late): already emitted
            }
            self.last_emitted = seq;
            let payload = std::mem::take(&mut message.message.payload);
            let offset = SourceOffset::new().with("seq", seq);
            let mut record = SourceRecord::new(self.partition.clone(), offset, &self.config.topic, Value::Bytes(payload.to_vec()))
                .with_header("nats.subject", message.message.subject.as_str())
                .with_timestamp(published);
            if let Some(headers) = message.message.headers.take() {
                for (name, values) in headers.iter() {
                    for value in values {
                        if name.to_string() == "Nats-Msg-Id" {
                            record = record.with_key(value.as_str());
                        }
                        record = record.with_header(name.to_string(), value.as_str());
                    }
                }
            }
            records.push(record);
            self.unacked.push_back((seq, message));
        }
        // Keep the consumer's window open: acknowledgements follow commits.
        if self.unacked.len() as i64 > self.config.nats_max_ack_pending / 2 {
            self.ctx.request_commit();
        }
        Ok(records)
    }

    /// Acknowledges every message up to the committed one (`AckAll`).
    async fn commit(&mut self, committed: &CommittedOffsets) -> Result<()> {
        let Some(seq) = committed.get(&self.partition).and_then(|o| o.get_i64("seq")).map(|s| s as u64) else { return Ok(()) };
        let mut last = None;
        while self.unacked.front().is_some_and(|(s, _)| *s <= seq) {
            last = self.unacked.pop_front();
        }
        if let Some((_, message)) = last {
            message.ack_with(AckKind::Ack).await.map_err(|e| Error::retriable(format!("cannot acknowledge to NATS: {e}")))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_consumer_is_named_after_the_connector() {
        assert_eq!(default_consumer("orders from nats.v1"), "connect-orders_from_nats_v1");
    }
}
