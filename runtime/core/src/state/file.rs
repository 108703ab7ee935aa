//! A state log kept in the data directory: a snapshot (`<name>.json`, the live keys, as
//! [`write_json`] writes it) and a journal beside it (`<name>.journal`, one JSON line per
//! append, appended and fsynced).
//!
//! An append costs its own records, not the whole log: a worker of a thousand source tasks
//! commits some two hundred offset writes a second, and rewriting every key (twice fsynced)
//! for each of them was most of what such a worker did. Appends that arrive while one write
//! is with the disk go out together in the next (a group commit, one fsync for all), each
//! append's records consecutive and in order. Once the journal holds as many records as the
//! log has live keys (and at least [`COMPACT_AFTER`]), the snapshot is rewritten and the
//! journal emptied, so replay at start-up reads at most about twice the live keys.
//!
//! A crash leaves the old or the new snapshot (it is renamed into place), journal lines the
//! snapshot already holds (skipped by position when replayed), and at most one torn last line,
//! whose append was never acknowledged (dropped, and cut off before the next append).

use std::fs::File;
use std::io::{Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use tokio::sync::oneshot;

use super::log::write_json;
use super::view::{Change, Entries, LogCause, LogError, Merge, View};

/// The fewest journal records that make a new snapshot worth writing.
const COMPACT_AFTER: u64 = 1024;

/// The journal beside the snapshot at `path`.
pub(crate) fn journal_path(path: &Path) -> PathBuf {
    path.with_extension("journal")
}

/// The files a log at `path` keeps: its snapshot, the snapshot being written, its journal.
pub(crate) fn files(path: &Path) -> [PathBuf; 3] {
    [path.to_owned(), path.with_extension("json.tmp"), journal_path(path)]
}

/// One journal line: an append's records, the first at position `at`.
#[derive(Serialize)]
struct Line<'a> {
    at: u64,
    records: Vec<Record<'a>>,
}

/// One record of a line: a key and its value, or the key deleted.
#[derive(Serialize)]
struct Record<'a> {
    key: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<&'a Json>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    deleted: bool,
}

/// A journal line read back.
#[derive(Deserialize)]
struct ReadLine {
    at: u64,
    records: Vec<ReadRecord>,
}

#[derive(Deserialize)]
struct ReadRecord {
    key: String,
    #[serde(default)]
    value: Option<Json>,
    #[serde(default)]
    deleted: bool,
}

/// The writing side of a file log (its readers share the [`View`]).
pub(crate) struct FileLog {
    snapshot: PathBuf,
    journal: PathBuf,
    view: Arc<View>,
    queue: Mutex<Queue>,
    /// How long a writer lets appends gather before each write.
    gather: std::time::Duration,
    /// The open journal, used by one write at a time (the writer's), off the async threads.
    file: Arc<Mutex<Journal>>,
}

/// One append waiting for the next write: its changes, and where its first position goes.
type Waiting = (Vec<Change>, oneshot::Sender<Result<u64, LogError>>);

/// Appends waiting for the next write.
#[derive(Default)]
struct Queue {
    appends: Vec<Waiting>,
    /// Whether a writer is running (it takes what waits when its write is done).
    writing: bool,
}

/// The journal file and how many records it holds.
struct Journal {
    file: Option<File>,
    records: u64,
}

impl FileLog {
    /// Opens the log at `path`: its snapshot, then its journal's records after it, applied by
    /// `merge`; missing files are an empty log (created at the first append).
    pub(crate) fn open(name: &str, path: &Path, merge: Merge) -> Result<(Arc<View>, FileLog), LogError> {
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| LogError::new(name, LogCause::Io { path, source })
        };
        let mut entries = match std::fs::read(path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes).map_err(|source| LogError::new(name, LogCause::Corrupt { path: path.to_owned(), source }))?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Entries::default(),
            Err(source) => return Err(io(path)(source)),
        };
        let journal = journal_path(path);
        let (file, records) = match std::fs::OpenOptions::new().read(true).append(true).open(&journal) {
            Ok(file) => {
                let bytes = std::fs::read(&journal).map_err(io(&journal))?;
                let (records, complete) = replay(&bytes, &mut entries, merge)
                    .map_err(|source| LogError::new(name, LogCause::Corrupt { path: journal.clone(), source }))?;
                if complete < bytes.len() {
                    // A torn last line: its append was never acknowledged.
                    tracing::info!(log = name, journal = %journal.display(), bytes = bytes.len() - complete, "dropping the unfinished last line of the journal (a write cut off by a crash)");
                    file.set_len(complete as u64).map_err(io(&journal))?;
                }
                (Some(file), records)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (None, 0),
            Err(source) => return Err(io(&journal)(source)),
        };
        let view = View::new(name, entries, merge);
        let log = FileLog {
            snapshot: path.to_owned(),
            journal,
            view: view.clone(),
            queue: Mutex::default(),
            gather: std::time::Duration::ZERO,
            file: Arc::new(Mutex::new(Journal { file, records })),
        };
        Ok((view, log))
    }

    /// Lets appends gather for `gather` before each write (one write and one fsync for all
    /// of them): for a log whose appenders do not wait on the write, such as offset commits.
    pub(crate) fn gathering(self, gather: std::time::Duration) -> FileLog {
        FileLog { gather, ..self }
    }

    /// Appends `changes`; returns the position of the first once they are fsynced and applied.
    pub(crate) async fn append(self: &Arc<Self>, changes: Vec<Change>) -> Result<u64, LogError> {
        let (done, outcome) = oneshot::channel();
        let start_writer = {
            let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
            queue.appends.push((changes, done));
            !std::mem::replace(&mut queue.writing, true)
        };
        if start_writer {
            // On a task of its own: an appender that stops waiting cancels nobody's write.
            tokio::spawn(self.clone().write_queued());
        }
        outcome.await.map_err(|_| LogError::new(&self.view.name, LogCause::Closed))?
    }

    /// Writes what waits, one group at a time, until nothing does.
    async fn write_queued(self: Arc<Self>) {
        loop {
            if !self.gather.is_zero() {
                tokio::time::sleep(self.gather).await;
            }
            let appends = {
                let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
                if queue.appends.is_empty() {
                    queue.writing = false;
                    return;
                }
                std::mem::take(&mut queue.appends)
            };
            let (changes, waiting): (Vec<_>, Vec<_>) = appends.into_iter().unzip();
            match self.write(&changes).await {
                Ok(firsts) => {
                    for (done, first) in waiting.into_iter().zip(firsts) {
                        let _ = done.send(Ok(first));
                    }
                    self.compact_if_due().await;
                }
                Err(error) => {
                    for done in waiting {
                        let cause = match &error {
                            LogCause::Io { path, source } => {
                                LogCause::Io { path: path.clone(), source: std::io::Error::new(source.kind(), source.to_string()) }
                            }
                            _ => LogCause::Closed,
                        };
                        let _ = done.send(Err(LogError::new(&self.view.name, cause)));
                    }
                }
            }
        }
    }

    /// Journals `appends` as one write and applies them; returns each append's first position.
    async fn write(&self, appends: &[Vec<Change>]) -> Result<Vec<u64>, LogCause> {
        let first = self.view.read(|e| e.next);
        let mut lines = Vec::new();
        let mut firsts = Vec::with_capacity(appends.len());
        let mut at = first;
        for changes in appends {
            let records = changes.iter().map(|(key, value)| Record { key, value: value.as_ref(), deleted: value.is_none() }).collect();
            serde_json::to_writer(&mut lines, &Line { at, records }).map_err(LogCause::Encode)?;
            lines.push(b'\n');
            firsts.push(at);
            at += changes.len() as u64;
        }
        let (file, path, count) = (self.file.clone(), self.journal.clone(), at - first);
        let written = tokio::task::spawn_blocking(move || {
            let mut journal = file.lock().unwrap_or_else(PoisonError::into_inner);
            journal.append(&path, &lines, count)
        })
        .await;
        let io = |source| LogCause::Io { path: self.journal.clone(), source };
        written.map_err(|e| io(std::io::Error::other(e)))?.map_err(io)?;
        let records = appends.iter().flatten().zip(first..).map(|((key, value), offset)| (offset, key.clone(), value.clone()));
        self.view.apply(records, at);
        Ok(firsts)
    }

    /// Rewrites the snapshot and empties the journal once the journal holds as many records
    /// as there are live keys (and at least [`COMPACT_AFTER`]). A failure leaves the journal
    /// as it is (it is still right) and is tried again after the next write.
    async fn compact_if_due(&self) {
        let journaled = self.file.lock().unwrap_or_else(PoisonError::into_inner).records;
        if journaled < COMPACT_AFTER.max(self.view.read(|e| e.map.len() as u64)) {
            return;
        }
        let entries = self.view.read(Entries::clone);
        let (file, snapshot) = (self.file.clone(), self.snapshot.clone());
        let compacted = tokio::task::spawn_blocking(move || {
            // The snapshot first: until it is in place, the journal is what holds the records.
            write_json(&snapshot, &entries)?;
            file.lock().unwrap_or_else(PoisonError::into_inner).empty()
        })
        .await;
        if let Err(error) = compacted.map_err(std::io::Error::other).and_then(|r| r) {
            tracing::warn!(log = %self.view.name, snapshot = %self.snapshot.display(), %error, "could not rewrite the log's snapshot; its journal keeps growing until it can");
        }
    }
}

impl Journal {
    /// Appends `lines` (holding `count` records) and fsyncs; a failed write is cut off again,
    /// so the next one starts on a line of its own.
    fn append(&mut self, path: &Path, lines: &[u8], count: u64) -> std::io::Result<()> {
        let file = match &mut self.file {
            Some(file) => file,
            None => {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                let file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
                if let Some(dir) = path.parent() {
                    File::open(dir)?.sync_all()?;
                }
                self.file.insert(file)
            }
        };
        let before = file.seek(std::io::SeekFrom::End(0))?;
        let written = file.write_all(lines).and_then(|()| file.sync_data());
        if written.is_err() {
            let _ = file.set_len(before);
        }
        written?;
        self.records += count;
        Ok(())
    }

    /// Empties the journal (its records are in the snapshot now).
    fn empty(&mut self) -> std::io::Result<()> {
        if let Some(file) = &self.file {
            file.set_len(0)?;
            file.sync_all()?;
        }
        self.records = 0;
        Ok(())
    }
}

/// Applies the journal `bytes` to `entries` (records the snapshot holds already skipped);
/// returns how many records it holds and how many of its bytes are complete lines.
fn replay(bytes: &[u8], entries: &mut Entries, merge: Merge) -> Result<(u64, usize), serde_json::Error> {
    let (mut records, mut complete) = (0, 0);
    while let Some(end) = bytes[complete..].iter().position(|&b| b == b'\n') {
        let line: ReadLine = serde_json::from_slice(&bytes[complete..complete + end])?;
        for (offset, record) in (line.at..).zip(line.records) {
            records += 1;
            if offset < entries.next {
                continue;
            }
            let value = if record.deleted { None } else { Some(record.value.unwrap_or(Json::Null)) };
            entries.apply(offset, record.key, value, merge);
        }
        complete += end + 1;
    }
    Ok((records, complete))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::state::view::{Entry, last_write_wins};

    fn put(key: &str, value: Json) -> Change {
        (key.to_owned(), Some(value))
    }

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("connect-file-log-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir.join("offsets.json")
    }

    fn open(path: &Path) -> (Arc<View>, Arc<FileLog>) {
        let (view, log) = FileLog::open("offsets", path, last_write_wins).unwrap();
        (view, Arc::new(log))
    }

    #[tokio::test]
    async fn appends_go_to_the_journal_and_come_back_after_a_reopen_null_and_deletes_included() {
        let path = temp("reopen");
        let (_, log) = open(&path);
        assert_eq!(log.append(vec![put("a", json!({"x": 1})), put("b", json!(2)), put("n", Json::Null)]).await.unwrap(), 0);
        assert_eq!(log.append(vec![("b".to_owned(), None)]).await.unwrap(), 3);
        assert!(!path.exists(), "no snapshot before the journal is long enough");
        let (view, _) = open(&path);
        view.read(|e| {
            assert_eq!(e.map.get("a"), Some(&Entry { value: json!({"x": 1}), offset: 0 }));
            assert_eq!(e.map.get("n"), Some(&Entry { value: Json::Null, offset: 2 }));
            assert!(!e.map.contains_key("b"));
            assert_eq!(e.next, 4);
        });
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    #[tokio::test]
    async fn concurrent_appends_share_writes_and_each_keeps_its_positions() {
        let path = temp("group");
        let (view, log) = open(&path);
        let appends: Vec<_> = (0..200)
            .map(|i| {
                let log = log.clone();
                tokio::spawn(async move { (i, log.append(vec![put(&format!("k{i}"), json!(i)), put(&format!("k{i}-b"), json!(i))]).await) })
            })
            .collect();
        let mut firsts = Vec::new();
        for append in appends {
            let (i, first) = append.await.unwrap();
            let first = first.unwrap();
            assert_eq!(view.read(|e| e.map[&format!("k{i}")].offset), first);
            assert_eq!(view.read(|e| e.map[&format!("k{i}-b")].offset), first + 1, "an append's records are consecutive");
            firsts.push(first);
        }
        firsts.sort();
        assert_eq!(firsts, (0..200).map(|i| i * 2).collect::<Vec<_>>());
        let lines = std::fs::read_to_string(journal_path(&path)).unwrap().lines().count();
        assert_eq!(lines, 200, "one line per append");
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    #[tokio::test]
    async fn a_long_journal_becomes_a_snapshot_and_replay_skips_what_the_snapshot_holds() {
        let path = temp("compact");
        let (_, log) = open(&path);
        for i in 0..COMPACT_AFTER + 10 {
            log.append(vec![put(&format!("k{}", i % 10), json!(i))]).await.unwrap();
        }
        assert!(path.exists(), "a snapshot was written");
        let journal = std::fs::read_to_string(journal_path(&path)).unwrap();
        assert!(journal.lines().count() < 20, "the journal was emptied: {} lines", journal.lines().count());
        // A crash between the snapshot and emptying the journal: the old lines come back.
        let stale = format!("{{\"at\":0,\"records\":[{{\"key\":\"k0\",\"value\":\"stale\"}}]}}\n{journal}");
        std::fs::write(journal_path(&path), stale).unwrap();
        let (view, _) = open(&path);
        view.read(|e| {
            assert_eq!(e.next, COMPACT_AFTER + 10);
            assert_eq!(e.map.len(), 10);
            assert_eq!(e.map["k3"].value, json!(COMPACT_AFTER + 9), "the last write of k3");
            assert_eq!(e.map["k0"].value, json!(COMPACT_AFTER + 6), "a line the snapshot holds is skipped");
        });
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    #[tokio::test]
    async fn a_torn_last_line_is_dropped_and_the_next_append_starts_a_line_of_its_own() {
        let path = temp("torn");
        let (_, log) = open(&path);
        log.append(vec![put("a", json!(1))]).await.unwrap();
        drop(log);
        let mut file = std::fs::OpenOptions::new().append(true).open(journal_path(&path)).unwrap();
        file.write_all(b"{\"at\":1,\"records\":[{\"key\":\"b\",\"va").unwrap();
        let (view, log) = open(&path);
        assert_eq!(view.read(|e| (e.next, e.map.len())), (1, 1));
        assert_eq!(log.append(vec![put("c", json!(3))]).await.unwrap(), 1);
        let (view, _) = open(&path);
        view.read(|e| assert_eq!(e.map.keys().collect::<Vec<_>>(), ["a", "c"]));
        // A broken line followed by others is not a torn write: the log says so.
        std::fs::write(journal_path(&path), "{broken\n{\"at\":5,\"records\":[]}\n").unwrap();
        let error = FileLog::open("offsets", &path, last_write_wins).err().unwrap();
        assert!(error.to_string().contains("corrupt"), "{error}");
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }
}
