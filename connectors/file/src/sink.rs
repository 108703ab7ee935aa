//! `file-sink`: one line per record value, exactly once into a regular file.

use std::io::Write;
use std::path::{Path, PathBuf};

use connect_sdk::prelude::*;
use connect_sdk::serde_json;

/// Appends each record's value as a line to a file (Kafka's FileStreamSink).
///
/// Into a regular file, delivery is exactly once: a sync makes the lines durable, then stores
/// the file's length and the queue positions it holds beside it (`<file>.positions`, replaced
/// atomically); a task opened after a crash cuts the file back to that length and resumes
/// from those positions, so lines written after the last sync are written again once, never
/// twice. In a cluster the positions carry the task's fencing token: a task whose worker hung
/// and was replaced cannot store positions over its successor's when it wakes up. A reader
/// tailing the file may see such lines before they are cut. The syncs run on
/// a thread of the task's own, one at a time, while the task writes on: `flush` starts one
/// (or leaves its offsets to the next while one runs), and the offsets committed to the
/// broker are those of the last completed sync (`committable_offsets`).
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

/// Writes each batch of lines with one write call; syncs them and stores the positions beside
/// the task (a flush starts a sync).
pub struct FileSinkTask {
    path: String,
    out: std::io::BufWriter<std::fs::File>,
    /// Syncs a regular file and stores its positions; `None` for other files (devices,
    /// pipes), which cannot be synced or cut.
    syncer: Option<Syncer>,
    /// The positions file, read before each batch's lines become visible, in a cluster: a run
    /// of the task paused mid-batch and replaced meanwhile adds nothing to its successor's file.
    fence: Option<PositionsFile>,
    ctx: SinkContext,
}

/// The state stored beside the file: how long the file was when the positions were stored.
#[derive(Default, Serialize, Deserialize)]
struct Stored {
    /// The file's length, in bytes, holding every record before `offsets`.
    length: u64,
    /// Per queue, the next record to write.
    offsets: Vec<(QueueId, i64)>,
    /// The fencing token of the task run that stored them (cluster workers only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    token: Option<u64>,
}

/// `<file>.positions`: written to a temporary file, synced and renamed over the old one, so a
/// crash leaves either the old or the new positions, both consistent with the synced file.
/// Replaced under a lock (`<file>.positions.lock`), and never over positions a later run of
/// the task stored (a larger fencing token).
struct PositionsFile {
    path: PathBuf,
    stored: Stored,
    token: Option<u64>,
}

impl PositionsFile {
    fn beside(file: &str, token: Option<u64>) -> PositionsFile {
        PositionsFile { path: PathBuf::from(format!("{file}.positions")), stored: Stored::default(), token }
    }

    /// Reads the stored positions, if any.
    fn load(&mut self) -> Result<Option<&Stored>> {
        let Some(stored) = self.read()? else { return Ok(None) };
        self.stored = stored;
        Ok(Some(&self.stored))
    }

    /// The positions on disk, if any.
    fn read(&self) -> Result<Option<Stored>> {
        let text = match std::fs::read(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::with_source(format!("cannot read {}", self.path.display()), e)),
        };
        serde_json::from_slice(&text).map(Some).map_err(|e| {
            Error::with_source(
                format!(
                    "{} is corrupt; delete it to resume from the committed offsets (the lines since may then be written twice)",
                    self.path.display()
                ),
                e,
            )
        })
    }

    fn store(&mut self, length: u64, offsets: &QueueOffsets) -> Result<()> {
        let lock_path = self.path.with_extension("positions.lock");
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .and_then(|lock| lock.lock().map(|()| lock))
            .map_err(|e| Error::with_source(format!("cannot lock {}", lock_path.display()), e))?;
        self.check_not_replaced()?;
        let mut merged: QueueOffsets = self.stored.offsets.drain(..).collect();
        merged.extend(offsets.iter().map(|(queue, offset)| (queue.clone(), *offset)));
        self.stored = Stored { length, offsets: merged.into_iter().collect(), token: self.token };
        let text = serde_json::to_vec(&self.stored).map_err(Error::other)?;
        let temporary = self.path.with_extension("positions.tmp");
        write_synced(&temporary, &text).map_err(|e| Error::with_source(format!("cannot write {}", temporary.display()), e))?;
        let replaced =
            std::fs::rename(&temporary, &self.path).map_err(|e| Error::with_source(format!("cannot replace {}", self.path.display()), e));
        drop(lock);
        replaced
    }

    /// Fails when a later run of the task (a larger fencing token) stored the positions on disk.
    fn check_not_replaced(&self) -> Result<()> {
        let Some(mine) = self.token else { return Ok(()) };
        match self.read()?.and_then(|stored| stored.token) {
            Some(theirs) if theirs > mine => Err(Error::other(format!(
                "fenced: {} was stored by a later run of this task (fencing token {theirs} > {mine}): this task was replaced while it could not run, and stores nothing (if the cluster's status topic was recreated, delete the file)",
                self.path.display()
            ))),
            _ => Ok(()),
        }
    }

    fn offsets(&self) -> QueueOffsets {
        self.stored.offsets.iter().cloned().collect()
    }
}

/// Makes the file's first `length` bytes durable, then stores the positions they reach.
fn sync_and_store(path: &str, file: &std::fs::File, positions: &mut PositionsFile, length: u64, offsets: &QueueOffsets) -> Result<()> {
    file.sync_data().map_err(|e| Error::with_source(format!("cannot sync {path}"), e))?;
    positions.store(length, offsets)
}

/// What one sync covers: the file's length when it was asked for, and the positions after the
/// lines within that length.
type SyncRequest = (u64, QueueOffsets);

/// Syncs a regular file and stores its positions on a thread of its own (a sync waits for the
/// disk; the task's loop writes the next batches meanwhile), one sync at a time, in order.
/// Dropping it waits for the sync in progress, so positions never land after the task is gone.
struct Syncer {
    requests: Option<std::sync::mpsc::Sender<SyncRequest>>,
    done: connect_sdk::tokio::sync::mpsc::UnboundedReceiver<Result<QueueOffsets>>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// A sync was asked for and has not reported yet.
    running: bool,
    /// The offsets of the last flush, when no sync covers them yet (started once the one
    /// running is done).
    behind: Option<SyncRequest>,
    /// The positions of the last completed sync: what may be committed.
    durable: QueueOffsets,
    /// The positions of the last flush: what the file holds now (synced or not), where the
    /// task's queues go on from when they are handed to it again mid-run.
    written: QueueOffsets,
}

impl Syncer {
    fn start(path: &str, file: std::fs::File, mut positions: PositionsFile) -> Result<Syncer> {
        let durable = positions.offsets();
        let (requests, received) = std::sync::mpsc::channel::<SyncRequest>();
        let (report, done) = connect_sdk::tokio::sync::mpsc::unbounded_channel();
        let path = path.to_owned();
        let thread = std::thread::Builder::new()
            .name("file-sink-sync".to_owned())
            .spawn(move || {
                for (length, offsets) in received {
                    let stored = sync_and_store(&path, &file, &mut positions, length, &offsets).map(|()| offsets);
                    if report.send(stored).is_err() {
                        break;
                    }
                }
            })
            .map_err(|e| Error::with_source("cannot start the file sink's sync thread", e))?;
        let written = durable.clone();
        Ok(Syncer { requests: Some(requests), done, thread: Some(thread), running: false, behind: None, durable, written })
    }

    /// Takes in the syncs that completed; the first failure is returned.
    fn collect(&mut self) -> Result<()> {
        while let Ok(stored) = self.done.try_recv() {
            self.running = false;
            self.durable.extend(stored?);
        }
        Ok(())
    }

    /// Asks for `request` to be synced: now when no sync runs, else after the one running.
    fn request(&mut self, request: SyncRequest) -> Result<()> {
        self.collect()?;
        self.written.extend(request.1.iter().map(|(queue, offset)| (queue.clone(), *offset)));
        if self.running {
            self.behind = Some(request);
            return Ok(());
        }
        self.behind = None;
        let requests = self.requests.as_ref().ok_or_else(thread_stopped)?;
        requests.send(request).map_err(|_| thread_stopped())?;
        self.running = true;
        Ok(())
    }

    /// Whether a sync runs or waits to run.
    fn pending(&self) -> bool {
        self.running || self.behind.is_some()
    }

    /// Waits until everything asked for is synced.
    async fn finish(&mut self) -> Result<()> {
        loop {
            if self.running {
                let stored = self.done.recv().await.ok_or_else(thread_stopped)?;
                self.running = false;
                self.durable.extend(stored?);
            }
            match self.behind.take() {
                Some(request) => self.request(request)?,
                None => return Ok(()),
            }
        }
    }
}

fn thread_stopped() -> Error {
    Error::other("the file sink's sync thread stopped")
}

impl Drop for Syncer {
    fn drop(&mut self) {
        drop(self.requests.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = std::fs::File::create(path)?;
    file.write_all(bytes)?;
    file.sync_data()
}

impl SinkTask for FileSinkTask {
    type Config = FileSink;

    async fn open(config: FileSink, ctx: SinkContext) -> Result<Self> {
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
        let fence = (metadata.is_file() && ctx.fencing_token().is_some()).then(|| PositionsFile::beside(&config.file, ctx.fencing_token()));
        let syncer = if metadata.is_file() {
            let positions = resume(&config.file, &file, metadata.len(), ctx.fencing_token())?;
            let handle = file.try_clone().map_err(|e| Error::with_source(format!("cannot sync {}", config.file), e))?;
            Some(Syncer::start(&config.file, handle, positions)?)
        } else {
            None
        };
        Ok(FileSinkTask { path: config.file, out: std::io::BufWriter::with_capacity(256 * 1024, file), syncer, fence, ctx })
    }

    async fn put(&mut self, records: Vec<SinkRecord>) -> Result<()> {
        let cannot_write = |e| Error::with_source(format!("cannot write {}", self.path), e);
        let mut lines = Vec::new();
        for record in records {
            writeln!(lines, "{}", record.value).map_err(cannot_write)?;
        }
        if let Some(fence) = &self.fence {
            fence.check_not_replaced()?;
        }
        // Visible to readers of the file after every batch; durable only once flushed.
        self.out.write_all(&lines).and_then(|()| self.out.flush()).map_err(cannot_write)?;
        Ok(())
    }

    async fn flush(&mut self, offsets: &QueueOffsets) -> Result<()> {
        self.out.flush().map_err(|e| Error::with_source(format!("cannot write {}", self.path), e))?;
        let Some(syncer) = self.syncer.as_mut() else { return Ok(()) };
        // Everything written so far is in the file: the sync covers this length.
        let length = self.out.get_ref().metadata().map_err(|e| Error::with_source(format!("cannot inspect {}", self.path), e))?.len();
        syncer.request((length, offsets.clone()))?;
        if syncer.pending() {
            // Called again soon even if no record comes: to take in the sync's result and
            // start the one left behind, so the last lines become durable and committed.
            self.ctx.request_commit();
        }
        Ok(())
    }

    fn committable_offsets(&mut self, flushed: &QueueOffsets) -> QueueOffsets {
        match self.syncer.as_mut() {
            Some(syncer) => {
                // A failed sync is reported by the next flush.
                let _ = syncer.collect();
                syncer.durable.iter().filter(|(queue, _)| flushed.contains_key(*queue)).map(|(q, o)| (q.clone(), *o)).collect()
            }
            None => flushed.clone(),
        }
    }

    async fn stored_offsets(&mut self, queues: &[QueueId]) -> Result<QueueOffsets> {
        // What the file holds now: read from the last sync's positions instead, a queue handed
        // over again mid-run would have the lines written since put a second time.
        let stored = self.syncer.as_ref().map(|s| s.written.clone()).unwrap_or_default();
        Ok(stored.into_iter().filter(|(queue, _)| queues.contains(queue)).collect())
    }

    async fn close(&mut self) -> Result<()> {
        self.out.flush()?;
        match self.syncer.as_mut() {
            // What was flushed becomes durable before the task is gone.
            Some(syncer) => syncer.finish().await,
            None => Ok(()),
        }
    }
}

/// Reads the positions stored beside `path` and cuts the file back to the length they were
/// stored with: what lies beyond was written after the last flush and is delivered again.
fn resume(path: &str, file: &std::fs::File, length: u64, token: Option<u64>) -> Result<PositionsFile> {
    let mut positions = PositionsFile::beside(path, token);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replaced_run_cannot_store_positions_over_its_successors() {
        let dir = std::env::temp_dir().join(format!("connect-file-sink-fencing-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("out.txt").display().to_string();
        let queue = QueueId { topic: "t".into(), broker_name: "b".into(), queue_id: 0 };
        let offsets = |offset: i64| QueueOffsets::from([(queue.clone(), offset)]);

        let mut old = PositionsFile::beside(&file, Some(3));
        old.store(10, &offsets(1)).unwrap();
        let mut new = PositionsFile::beside(&file, Some(7));
        new.store(20, &offsets(2)).unwrap();
        let error = old.store(15, &offsets(9)).unwrap_err().to_string();
        assert!(error.contains("fenced") && error.contains("token 7 > 3"), "{error}");
        let mut reread = PositionsFile::beside(&file, Some(7));
        assert_eq!(reread.load().unwrap().map(|s| (s.length, s.token)), Some((20, Some(7))), "the successor's positions stand");
        assert!(PositionsFile::beside(&file, None).store(30, &offsets(3)).is_ok(), "a standalone worker has no token to compare");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
