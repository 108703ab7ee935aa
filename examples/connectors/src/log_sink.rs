//! A log sink: one line per record, to standard error or to a file.
use std::io::Write;

use connect_sdk::prelude::*;

/// Writes each record as a line `<prefix><topic> <key> <value>`, to standard error or a file.
#[derive(Clone, Serialize, Deserialize, JsonSchema, SinkConnector)]
#[connector(task = LogTask)]
pub struct LogSink {
    /// Text put before each line.
    #[serde(default)]
    pub prefix: String,
    /// File to append to; standard error when unset.
    #[serde(default)]
    pub output: Option<String>,
}

/// Appends lines; `flush` makes them durable.
pub struct LogTask {
    prefix: String,
    out: Box<dyn Write + Send>,
    file: Option<std::fs::File>,
}

impl SinkTask for LogTask {
    type Config = LogSink;

    async fn open(config: LogSink, _ctx: SinkContext) -> Result<Self> {
        let file = match &config.output {
            Some(path) => Some(std::fs::OpenOptions::new().create(true).append(true).open(path)?),
            None => None,
        };
        let out: Box<dyn Write + Send> = match &file {
            Some(f) => Box::new(std::io::BufWriter::new(f.try_clone()?)),
            None => Box::new(std::io::stderr()),
        };
        Ok(LogTask { prefix: config.prefix, out, file })
    }

    async fn put(&mut self, records: Vec<SinkRecord>) -> Result<()> {
        for record in records {
            writeln!(self.out, "{}{} {} {}", self.prefix, record.topic, record.key, record.value)?;
        }
        Ok(())
    }

    async fn flush(&mut self, _offsets: &QueueOffsets) -> Result<()> {
        self.out.flush()?;
        if let Some(file) = &self.file {
            file.sync_data()?;
        }
        Ok(())
    }

    async fn close(&mut self) -> Result<()> {
        self.out.flush()?;
        Ok(())
    }
}
