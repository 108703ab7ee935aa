//! The dead-letter topic: a record that could not be processed is written there with its
//! original key, value and headers, plus `__connect.errors.*` properties saying why.

mod replay;

pub use replay::{ReplayReport, ReplayedRecord};
pub(crate) use replay::{is_running, replay};

use std::sync::Arc;

use connect_sdk::record::{QueueId, SinkRecord};
use connect_sdk::{Error, context::BoxFuture, context::ErrantRecordReporter};

use crate::mq::Producer;
use crate::task::stage::Stage;
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
    /// Sends the original `raw` record read from `queue` at `offset` with the error context:
    /// which `stage` refused it (`class.name`: the transform's alias, for a transform).
    pub async fn send(&self, raw: &RawRecord, queue: &QueueId, offset: i64, error: &Error, stage: &Stage) -> Result<(), Error> {
        self.send_from(raw, queue, offset, error, stage.name(), stage.class()).await
    }

    async fn send_from(
        &self,
        raw: &RawRecord,
        queue: &QueueId,
        offset: i64,
        error: &Error,
        stage: &str,
        class: Option<&str>,
    ) -> Result<(), Error> {
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
        let class = class.map(|class| ("class.name", class.to_owned()));
        record.headers.extend(context.into_iter().chain(class).map(|(k, v)| (format!("__connect.errors.{k}"), v)));
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
            self.send_from(&raw, &record.queue(), record.position(), error, "TASK_PUT", None).await
        })
    }
}

#[cfg(all(test, feature = "embedded"))]
mod tests {
    use super::*;
    use crate::embedded::{EmbeddedConfig, EmbeddedRocketMq};
    use crate::mq::MqClient;

    /// A record a transform refused reaches the dead-letter topic as it was read, with the
    /// stage and the transform's alias among its `__connect.errors.*` headers.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_dead_lettered_record_names_the_stage_and_the_transform_that_refused_it() {
        let dir = std::env::temp_dir().join(format!("connect-dlq-{}", std::process::id()));
        let broker = EmbeddedRocketMq::start(&EmbeddedConfig::free_ports(&dir)).await.unwrap();
        let client = MqClient::new(broker.namesrv_addr(), "dlq").unwrap();
        client.ensure_topic("orders-dlq", 1).await.unwrap();
        let producer = Arc::new(client.producer("dlq-producer").await.unwrap());
        let dlq = DeadLetterQueue { topic: "orders-dlq".into(), connector: "orders-sink".into(), task: 2, producer: producer.clone() };
        let raw = RawRecord { topic: "orders".into(), value: Some(b"{\"id\": 7}".to_vec().into()), ..RawRecord::default() };
        let queue = QueueId { topic: "orders".into(), broker_name: "b".into(), queue_id: 3 };
        let refusal = Error::other("field ssn is missing");
        dlq.send(&raw, &queue, 41, &refusal, &Stage::Transformation("mask".into())).await.unwrap();

        let consumer = client.consumer("dlq-reader", &["orders-dlq".to_owned()], 16).await.unwrap();
        consumer.assign(consumer.queues("orders-dlq").await.unwrap()).await.unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let mut read = Vec::new();
        while read.is_empty() && std::time::Instant::now() < deadline {
            read = consumer.poll(500).await;
        }
        let record = wire::from_message(&read[0]);
        let header = |name: &str| record.headers.iter().find(|(k, _)| *k == format!("__connect.errors.{name}")).map(|(_, v)| v.as_str());
        assert_eq!(record.value.as_deref(), Some(&b"{\"id\": 7}"[..]), "the record as it was read");
        assert_eq!(header("stage"), Some("TRANSFORMATION"));
        assert_eq!(header("class.name"), Some("mask"));
        assert_eq!((header("topic"), header("partition"), header("offset")), (Some("orders"), Some("3"), Some("41")));
        assert_eq!(header("exception.message"), Some("field ssn is missing"));
        consumer.shutdown().await;
        Producer::shutdown_shared(producer).await;
        client.shutdown().await;
        broker.shutdown().await;
        let _ = std::fs::remove_dir_all(dir);
    }
}
