//! `log-sink`: logs every record.

use connect_sdk::prelude::*;

/// Logs every record it receives (topic, queue, offset, key, value) at `info` level; for
/// debugging pipelines and as a null sink in benchmarks (`quiet`).
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, SinkConnector)]
#[connector(task = LogSinkTask)]
pub struct LogSink {
    /// Text put before each logged record.
    #[serde(default)]
    pub prefix: String,
    /// Count records without logging each one.
    #[serde(default)]
    pub quiet: bool,
}

/// Logs (or just counts) records.
pub struct LogSinkTask {
    config: LogSink,
    connector: String,
    seen: u64,
}

impl SinkTask for LogSinkTask {
    type Config = LogSink;

    async fn open(config: LogSink, ctx: SinkContext) -> Result<Self> {
        Ok(LogSinkTask { config, connector: ctx.connector_name().to_owned(), seen: 0 })
    }

    async fn put(&mut self, records: Vec<SinkRecord>) -> Result<()> {
        self.seen += records.len() as u64;
        if !self.config.quiet {
            for r in &records {
                tracing::info!(connector = %self.connector, topic = %r.topic, queue = r.queue().queue_id, offset = r.position(), key = %r.key, value = %r.value, "{}", self.config.prefix);
            }
        }
        Ok(())
    }

    async fn flush(&mut self, _offsets: &QueueOffsets) -> Result<()> {
        tracing::debug!(connector = %self.connector, records = self.seen, "log-sink flushed");
        Ok(())
    }
}
