//! `file-sink`: one line per record value, exactly once into a regular file.

use std::io::Write;
use std::path::{Path, PathBuf};

use connect_sdk::prelude::*;
use connect_sdk::serde_json;

/// Appends each record's value as a line to a file (Kafka's FileStreamSink).
///
/// Into a regular file, delivery is exactly once: `flush` syncs the lines, then stores the
/// file's length and the queue positions it holds beside it (`<file>.positions`, replaced
/// atomically); a task opened after a crash cuts the file back to that length and resumes
/// from those positions, so lines written after the last flush are written again once, never
/// twice. A reader tailing the file may see such lines before they are cut.
///
/// Any other writable path works too, at least once and without that durability:
/// `/dev/null` (a null sink), a named pipe (the task waits for a reader to open it; what the
/// reader has not read when it stops is gone), a terminal. Such a target gets each batch
/// when `put` returns, and nothing is synced or cut.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, SinkConnector)]
#[connector(name = "file-sink", aliases = ["org.apache.kafka.connect.file.FileStreamSinkConnector", "FileStreamSink"], task = FileSinkTask,
            split = FileSink::one_writer)]
pub struct FileSink {
    /// File to append to (created if missing).
    #[config(path)]
    pub file: String,
}

impl FileSink {
    /// One task whatever `tasks.max` says: several writers would interleave partial lines.
    fn one_writer(&self, _max_tasks: usize) -> Vec<Self> {
        vec![self.clone()]
    }
}

/// Writes each batch of lines with one write call; syncs them and stores the positions on flush.
pub struct FileSinkTask {
    path: String,
    out: std::io::BufWriter<std::fs::File>,
    /// Where the positions of a regular file are kept; `None` for other files (devices,
    /// pipes), which cannot be synced or cut.
    positions: Option<PositionsFile>,
}

/// The state stored beside the file: how long the file was when the positions were stored.
#[derive(Default, Serialize, Deserialize)]
struct Stored {
    /// The file's length, in bytes, holding every record before `offsets`.
    length: u64,
    /// Per queue, the next record to write.
    offsets: Vec<(QueueId, i64)>,
}

/// `<file>.positions`: written to a temporary file, synced and renamed over the old one, so a
/// crash leaves either the old or the new positions, both consistent with the synced file.
struct PositionsFile {
    path: PathBuf,
    stored: Stored,
}

impl PositionsFile {
    fn beside(file: &str) -> PositionsFile {
        PositionsFile { path: PathBuf::from(format!("{file}.positions")), stored: Stored::default() }
    }

    /// Reads the stored positions, if any.
    fn load(&mut self) -> Result<Option<&Stored>> {
        let text = match std::fs::read(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::with_source(format!("cannot read {}", self.path.display()), e)),
        };
        self.stored = serde_json::from_slice(&text).map_err(|e| {
            Error::with_source(
                format!(
                    "{} is corrupt; delete it to resume from the committed offsets (the lines since may then be written twice)",
                    self.path.display()
                ),
                e,
            )
        })?;
        Ok(Some(&self.stored))
    }

    fn store(&mut self, length: u64, offsets: &QueueOffsets) -> Result<()> {
        let mut merged: QueueOffsets = self.stored.offsets.drain(..).collect();
        merged.extend(offsets.iter().map(|(queue, offset)| (queue.clone(), *offset)));
        self.stored = Stored { length, offsets: merged.into_iter().collect() };
        let text = serde_json::to_vec(&self.stored).map_err(Error::other)?;
        let temporary = self.path.with_extension("positions.tmp");
        write_synced(&temporary, &text).map_err(|e| Error::with_source(format!("cannot write {}", temporary.display()), e))?;
        std::fs::rename(&temporary, &self.path).map_err(|e| Error::with_source(format!("cannot replace {}", self.path.display()), e))
    }

    fn offsets(&self) -> QueueOffsets {
        self.stored.offsets.iter().cloned().collect()
    }
}

/// Makes the file's lines durable, then stores the positions they reach.
fn sync_and_store(path: &str, file: &std::fs::File, positions: &mut PositionsFile, offsets: &QueueOffsets) -> Result<()> {
    file.sync_data().map_err(|e| Error::with_source(format!("cannot sync {path}"), e))?;
    let length = file.metadata().map_err(|e| Error::with_source(format!("cannot inspect {path}"), e))?.len();
    positions.store(length, offsets)
}

fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = std::fs::File::create(path)?;
    file.write_all(bytes)?;
    file.sync_data()
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
        let metadata = file.metadata().map_err(|e| Error::with_source(format!("cannot inspect {}", config.file), e))?;
        let positions = if metadata.is_file() { Some(resume(&config.file, &file, metadata.len())?) } else { None };
        Ok(FileSinkTask { path: config.file, out: std::io::BufWriter::with_capacity(256 * 1024, file), positions })
    }

    async fn put(&mut self, records: Vec<SinkRecord>) -> Result<()> {
        for record in records {
            writeln!(self.out, "{}", record.value).map_err(|e| Error::with_source(format!("cannot write {}", self.path), e))?;
        }
        // Visible to readers of the file after every batch; durable only once flushed.
        self.out.flush().map_err(|e| Error::with_source(format!("cannot write {}", self.path), e))?;
        Ok(())
    }

    async fn flush(&mut self, offsets: &QueueOffsets) -> Result<()> {
        self.out.flush().map_err(|e| Error::with_source(format!("cannot write {}", self.path), e))?;
        let Some(mut positions) = self.positions.take() else { return Ok(()) };
        let file = self.out.get_ref().try_clone().map_err(|e| Error::with_source(format!("cannot sync {}", self.path), e))?;
        let (path, offsets) = (self.path.clone(), offsets.clone());
        // Two syncs: off the async threads, which other tasks share.
        let synced = connect_sdk::tokio::task::spawn_blocking(move || {
            let stored = sync_and_store(&path, &file, &mut positions, &offsets);
            (positions, stored)
        })
        .await;
        let (positions, stored) = synced.map_err(|e| Error::other(format!("syncing {} stopped: {e}", self.path)))?;
        self.positions = Some(positions);
        stored
    }

    async fn stored_offsets(&mut self, queues: &[QueueId]) -> Result<QueueOffsets> {
        let stored = self.positions.as_ref().map(PositionsFile::offsets).unwrap_or_default();
        Ok(stored.into_iter().filter(|(queue, _)| queues.contains(queue)).collect())
    }

    async fn close(&mut self) -> Result<()> {
        self.out.flush()?;
        Ok(())
    }
}

/// Reads the positions stored beside `path` and cuts the file back to the length they were
/// stored with: what lies beyond was written after the last flush and is delivered again.
fn resume(path: &str, file: &std::fs::File, length: u64) -> Result<PositionsFile> {
    let mut positions = PositionsFile::beside(path);
    let Some(stored) = positions.load()? else { return Ok(positions) };
    if length < stored.length {
        // The file was cut or replaced by someone else: its positions no longer describe it.
        connect_sdk::tracing::warn!(
            file = path,
            length,
            stored = stored.length,
            "the file is shorter than when its positions were stored; resuming from the committed offsets"
        );
        positions.stored = Stored::default();
    } else if length > stored.length {
        connect_sdk::tracing::info!(
            file = path,
            cut = length - stored.length,
            "cutting lines written after the last flush; they are delivered again"
        );
        file.set_len(stored.length).map_err(|e| Error::with_source(format!("cannot cut {} back to {} bytes", path, stored.length), e))?;
    }
    Ok(positions)
}
