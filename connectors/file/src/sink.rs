//! `file-sink`: one line per record value.

use std::io::Write;

use connect_sdk::prelude::*;

/// Appends each record's value as a line to a file (Kafka's FileStreamSink); `flush` makes
/// the lines durable (fsync) before the worker commits the consumer offsets. Any other
/// writable path works too, without that durability: `/dev/null` (a null sink), a named pipe
/// (the task waits for a reader to open it; what the reader has not read when it stops is
/// gone), a terminal. Such a target gets each batch when `put` returns, and nothing is synced.
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
    /// A regular file, which `flush` syncs; other files (devices, pipes) cannot be.
    regular: bool,
}

impl SinkTask for FileSinkTask {
    type Config = FileSink;

    async fn open(config: FileSink, _ctx: SinkContext) -> Result<Self> {
        // Opening a named pipe waits for its reader: off the async threads.
        let file = connect_sdk::tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&config.file)
            .await
            .map_err(|e| Error::with_source(format!("cannot open {}", config.file), e))?
            .into_std()
            .await;
        let regular = file.metadata().map_err(|e| Error::with_source(format!("cannot inspect {}", config.file), e))?.is_file();
        Ok(FileSinkTask { path: config.file, out: std::io::BufWriter::with_capacity(256 * 1024, file), regular })
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
        self.out.flush().map_err(|e| Error::with_source(format!("cannot write {}", self.path), e))?;
        if self.regular {
            self.out.get_ref().sync_data().map_err(|e| Error::with_source(format!("cannot sync {}", self.path), e))?;
        }
        Ok(())
    }

    async fn close(&mut self) -> Result<()> {
        self.out.flush()?;
        Ok(())
    }
}
