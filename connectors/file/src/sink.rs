//! `file-sink`: one line per record value.

use std::io::Write;

use connect_sdk::prelude::*;

/// Appends each record's value as a line to a file (Kafka's FileStreamSink); `flush` makes
/// the lines durable (fsync) before the worker commits the consumer offsets.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, SinkConnector)]
#[connector(name = "file-sink", aliases = ["org.apache.kafka.connect.file.FileStreamSinkConnector", "FileStreamSink"], task = FileSinkTask,
            split = FileSink::one_writer)]
pub struct FileSink {
    /// File to append to (created if missing).
    pub file: String,
}

impl FileSink {
    /// One task whatever `tasks.max` says: several writers would interleave partial lines.
    fn one_writer(&self, _max_tasks: usize) -> Vec<Self> {
        vec![self.clone()]
    }
}

/// Writes each batch of lines with one write call and syncs them on flush.
pub struct FileSinkTask {
    path: String,
    out: std::io::BufWriter<std::fs::File>,
}

impl SinkTask for FileSinkTask {
    type Config = FileSink;

    async fn open(config: FileSink, _ctx: SinkContext) -> Result<Self> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&config.file)
            .map_err(|e| Error::with_source(format!("cannot open {}", config.file), e))?;
        Ok(FileSinkTask { path: config.file, out: std::io::BufWriter::with_capacity(256 * 1024, file) })
    }

    async fn put(&mut self, records: Vec<SinkRecord>) -> Result<()> {
        for record in records {
            writeln!(self.out, "{}", record.value).map_err(|e| Error::with_source(format!("cannot write {}", self.path), e))?;
        }
        // Visible to readers of the file after every batch; durable only once flushed.
        self.out.flush().map_err(|e| Error::with_source(format!("cannot write {}", self.path), e))?;
        Ok(())
    }

    async fn flush(&mut self, _offsets: &QueueOffsets) -> Result<()> {
        self.out.flush()?;
        self.out.get_ref().sync_data()?;
        Ok(())
    }

    async fn close(&mut self) -> Result<()> {
        self.out.flush()?;
        Ok(())
    }
}
