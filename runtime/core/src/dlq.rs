//! The dead-letter topic: a record that could not be processed is written there with its
//! original key, value and headers, plus `__connect.errors.*` properties saying why.

use std::sync::Arc;

use connect_sdk::record::{QueueId, SinkRecord};
use connect_sdk::{Error, context::BoxFuture, context::ErrantRecordReporter};

use crate::mq::Producer;
use crate::wire::{self, RawRecord};

/// Writes failed records of one connector task to its dead-letter topic.
pub struct DeadLetterQueue {
    /// The dead-letter topic.
    pub topic: String,
    /// Connector name.
    pub connector: String,
    /// Task id.
    pub task: u32,
    /// The worker's producer.
    pub producer: Arc<Producer>,
}

impl DeadLetterQueue {
    /// Sends the original `raw` record read from `queue` at `offset` with the error context.
    pub async fn send(&self, raw: &RawRecord, queue: &QueueId, offset: i64, error: &Error, stage: &str) -> Result<(), Error> {
        let mut record = RawRecord { topic: self.topic.clone(), ..raw.clone() };
        let context = [
            ("topic", queue.topic.clone()),
            ("partition", queue.queue_id.to_string()),
            ("offset", offset.to_string()),
            ("connector.name", self.connector.clone()),
            ("task.id", self.task.to_string()),
            ("stage", stage.to_owned()),
            ("exception.class.name", error_class(error).to_owned()),
            ("exception.message", error.to_string()),
            ("exception.stacktrace", error.trace()),
        ];
        record.headers.extend(context.into_iter().map(|(k, v)| (format!("__connect.errors.{k}"), v)));
        let message = wire::to_message(&record).map_err(Error::other)?;
        self.producer.send_batch(&self.topic, vec![message]).await.map_err(Error::from)
    }
}

fn error_class(error: &Error) -> &'static str {
    match error {
        Error::Config(_) => "ConfigException",
        Error::Data(_) => "DataException",
        Error::Retriable { .. } => "RetriableException",
        Error::Other { .. } => "ConnectException",
    }
}

impl ErrantRecordReporter for DeadLetterQueue {
    fn report<'a>(&'a self, record: &'a SinkRecord, error: &'a Error) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let raw = RawRecord {
                topic: record.topic.clone(),
                key: (!record.key.is_null()).then(|| record.key.to_string().into_bytes().into()),
                value: (!record.value.is_null()).then(|| record.value.to_string().into_bytes().into()),
                headers: wire::header_pairs(&record.headers),
                timestamp: record.timestamp,
                source_position: None,
            };
            self.send(&raw, &record.queue(), record.position(), error, "TASK_PUT").await
        })
    }
}
